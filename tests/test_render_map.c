/* Maps: the view (geoloc_map_view_fit, geoloc_map_project: world, boxes,
 * across the antimeridian, the automatic extent round the probability mass,
 * the aspect ratio, empty and invalid extents refused), the borders loader,
 * and the pixels of a drawn map read back from its PNG: the answer's marker
 * in the marker colour, the radius circles, a probable cell darker than an
 * improbable one, the legend's colour bar, the thumbnail, land and borders
 * (across the antimeridian, round the south pole); a map in a missing
 * folder fails with nothing written. */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "geoloc/distance.h"
#include "geoloc/place.h"
#include "render_fixture.h"
#include "test_util.h"

#define W 1200
#define H 600

static double view_aspect(const geoloc_map_view *v) {
    double mid = (v->north + v->south) / 2, f = v->east - v->west >= 360 ? 1 : fmax(0.2, cos(mid * M_PI / 180));
    return (v->east - v->west) * f / (v->north - v->south);
}

static void test_views(void) {
    geoloc_map_view v;
    geoloc_error err = {0};
    CHECK(geoloc_map_view_fit(NULL, GEOLOC_MAP_WORLD, NULL, W, H, &v, &err) == GEOLOC_OK, "world: %s", err.message);
    double x, y;
    geoloc_map_project(&v, 0, 0, &x, &y);
    CHECK(fabs(x - W / 2) < 1e-9 && fabs(y - H / 2) < 1e-9, "world: (0, 0) at %g, %g", x, y);
    geoloc_map_project(&v, 90, -180, &x, &y);
    CHECK(fabs(x) < 1e-9 && fabs(y) < 1e-9, "world: (90, -180) at %g, %g", x, y);
    geoloc_map_project(&v, -45, 90, &x, &y);
    CHECK(fabs(x - 0.75 * W) < 1e-9 && fabs(y - 0.75 * H) < 1e-9, "world: (-45, 90) at %g, %g", x, y);

    /* a box across the antimeridian: 170E to 170W, widened to 2:1 round its centre */
    double box[4] = {-30, 170, -10, -170};
    CHECK(geoloc_map_view_fit(NULL, GEOLOC_MAP_BOX, box, W, H, &v, &err) == GEOLOC_OK, "box: %s", err.message);
    geoloc_map_project(&v, -20, 180, &x, &y);
    CHECK(fabs(x - W / 2) < 1e-6 && fabs(y - H / 2) < 1e-6, "box: its centre (-20, 180) at %g, %g", x, y);
    double xe, xw;
    geoloc_map_project(&v, -20, -175, &xe, &y);
    geoloc_map_project(&v, -20, 175, &xw, &y);
    CHECK(xe > W / 2 && xe < W && xw < W / 2 && xw > 0, "box: 175W east of the centre (%g), 175E west (%g)", xe, xw);
    CHECK(fabs(view_aspect(&v) - 2.0) < 1e-6, "box: aspect %g", view_aspect(&v));

    double empty[4] = {10, 20, 10, 30}, flat[4] = {10, 20, 20, 20}, bad[4] = {-95, 0, 10, 10};
    CHECK(geoloc_map_view_fit(NULL, GEOLOC_MAP_BOX, empty, W, H, &v, &err) == GEOLOC_E_ARG &&
          strstr(err.message, "empty"), "south == north refused: %s", err.message);
    CHECK(geoloc_map_view_fit(NULL, GEOLOC_MAP_BOX, flat, W, H, &v, &err) == GEOLOC_E_ARG &&
          strstr(err.message, "empty"), "west == east refused: %s", err.message);
    CHECK(geoloc_map_view_fit(NULL, GEOLOC_MAP_BOX, bad, W, H, &v, &err) == GEOLOC_E_ARG, "latitude -95 refused");
    CHECK(geoloc_map_view_fit(NULL, GEOLOC_MAP_WORLD, NULL, 10, H, &v, &err) == GEOLOC_E_ARG, "10 pixels refused");
    CHECK(geoloc_map_view_fit(NULL, GEOLOC_MAP_AUTO, NULL, W, H, &v, &err) == GEOLOC_E_ARG, "auto without cells");

    /* auto: the mass in France shows France, not the world */
    fixture f = {0};
    size_t k = fixture_add(&f, 46.5, 2.5, 5, 0.95f);
    fixture_add(&f, -33.9, 151.2, 5, 0.05f);
    geoloc_map_answer a = fixture_answer(&f, "a", 46.5, 2.5, k);
    CHECK(geoloc_map_view_fit(&a, GEOLOC_MAP_AUTO, NULL, W, H, &v, &err) == GEOLOC_OK, "auto: %s", err.message);
    geoloc_map_project(&v, 46.5, 2.5, &x, &y);
    CHECK(x > 0 && x < W && y > 0 && y < H, "auto: the answer inside (%g, %g)", x, y);
    CHECK(v.north - v.south < 30 && v.east - v.west < 60, "auto: %g..%g, %g..%g is not zoomed on France", v.south,
          v.north, v.west, v.east);
    CHECK(fabs(view_aspect(&v) - 2.0) < 1e-6, "auto: aspect %g", view_aspect(&v));
    geoloc_map_project(&v, -33.9, 151.2, &x, &y);
    CHECK(x < 0 || x > W || y > H, "auto: Sydney (5 %%) is outside (%g, %g)", x, y);

    /* a radius widens it */
    a.n_radii = 1, a.radius_km[0] = 1500, a.radius_conf[0] = 0.9;
    geoloc_map_view wide;
    CHECK(geoloc_map_view_fit(&a, GEOLOC_MAP_AUTO, NULL, W, H, &wide, &err) == GEOLOC_OK, "auto: %s", err.message);
    CHECK(wide.north - wide.south > v.north - v.south + 20, "auto: a 1500 km radius widens %g to %g",
          v.north - v.south, wide.north - wide.south);

    /* auto across the antimeridian: the short way round */
    fixture g = {0};
    k = fixture_add(&g, -17, 179, 6, 0.5f);
    fixture_add(&g, -17, -179, 6, 0.5f);
    a = fixture_answer(&g, "b", -17, 179, k);
    CHECK(geoloc_map_view_fit(&a, GEOLOC_MAP_AUTO, NULL, W, H, &v, &err) == GEOLOC_OK, "auto: %s", err.message);
    double x1, x2;
    geoloc_map_project(&v, -17, 179, &x1, &y);
    geoloc_map_project(&v, -17, -179, &x2, &y);
    CHECK(v.east - v.west < 40 && x1 > 0 && x1 < x2 && x2 < W, "auto across 180: %g..%g, x %g and %g", v.west,
          v.east, x1, x2);

    /* mass all over: the world */
    fixture h = {0};
    for (int i = 0; i < 8; i++) fixture_add(&h, -60 + 17.0 * i, -170 + 45.0 * i, 3, 0.125f);
    a = fixture_answer(&h, "c", h.lat[0], h.lng[0], 0);
    CHECK(geoloc_map_view_fit(&a, GEOLOC_MAP_AUTO, NULL, W, H, &v, &err) == GEOLOC_OK &&
          v.east - v.west == 360 && v.north - v.south == 180, "auto, mass everywhere: the world (%g..%g)", v.west,
          v.east);
}

/* The pixel (x, y) of an RGB image as 0xRRGGBB. */
static unsigned pixel(const geoloc_image *img, double x, double y) {
    const uint8_t *p = img->rgb + ((size_t)(int)y * img->width + (size_t)(int)x) * 3;
    return (unsigned)p[0] << 16 | (unsigned)p[1] << 8 | p[2];
}

static int near(unsigned a, unsigned b, int tol) {
    for (int s = 0; s < 24; s += 8)
        if (abs((int)(a >> s & 255) - (int)(b >> s & 255)) > tol) return 0;
    return 1;
}

static double luminance(unsigned c) { return 0.299 * (c >> 16 & 255) + 0.587 * (c >> 8 & 255) + 0.114 * (c & 255); }

static void test_pixels(const char *dir) {
    /* borders: a square in the Sahara, one across the antimeridian (180 then
     * -180, as Natural Earth's Fiji and Russia), a ring round the south pole */
    char borders_path[512], png[512];
    snprintf(borders_path, sizeof borders_path, "%s/borders.geojson", dir);
    FILE *fp = fopen(borders_path, "w");
    fputs("{\"type\": \"FeatureCollection\", \"features\": [{\"type\": \"Feature\", \"properties\": {}, "
          "\"geometry\": {\"type\": \"MultiPolygon\", \"coordinates\": [[[[0, 20], [20, 20], [20, 30], [0, 30], [0, 20]]], "
          "[[[170, -20], [180, -20], [-170, -20], [-170, -10], [180, -10], [170, -10], [170, -20]]], "
          "[[[-180, -70], [-90, -70], [0, -70], [90, -70], [180, -70], [180, -90], [-180, -90], [-180, -70]]]]}}]}",
          fp);
    fclose(fp);
    geoloc_borders *b = NULL;
    geoloc_error err = {0};
    CHECK(geoloc_borders_load(borders_path, &b, &err) == GEOLOC_OK, "borders: %s", err.message);

    fixture f = {0};
    size_t paris = fixture_add(&f, 48.86, 2.35, 6, 0.3f);
    size_t brazil = fixture_add(&f, -10, -50, 3, 0.5f);
    size_t sydney = fixture_add(&f, -25, 125, 3, 0.0005f);
    geoloc_map_answer a = fixture_answer(&f, "photo.jpg", 48.86, 2.35, paris);
    geoloc_place paris_place = {.country_code = "FR", .country = "France", .region = "", .in_country = 1,
                                .city = "Paris", .city_country = "FR", .city_km = 0.4};
    a.place = &paris_place;
    a.n_radii = 2;
    a.radius_km[0] = 1000, a.radius_conf[0] = 0.5;
    a.radius_km[1] = 2500, a.radius_conf[1] = 0.9;
    uint8_t green[40 * 30 * 3];
    for (size_t i = 0; i < sizeof green; i += 3) green[i] = 0, green[i + 1] = 255, green[i + 2] = 0;
    geoloc_image thumb = {.width = 40, .height = 30, .rgb = green};
    geoloc_map_options opt = {.borders = b, .thumbnail = &thumb};
    CHECK(geoloc_map_view_fit(&a, GEOLOC_MAP_WORLD, NULL, W, H, &opt.view, &err) == GEOLOC_OK, "%s", err.message);
    snprintf(png, sizeof png, "%s/map.png", dir);
    CHECK(geoloc_map_write_png(&a, &opt, png, &err) == GEOLOC_OK, "write: %s", err.message);
    geoloc_image img = {0};
    CHECK(geoloc_image_load(png, NULL, &img, &err) == GEOLOC_OK && img.width == W && img.height == H,
          "the PNG reads back at %dx%d: %s", img.width, img.height, err.message);
    if (img.rgb) {
        double x, y;
        geoloc_map_project(&opt.view, a.lat, a.lon, &x, &y);
        CHECK(near(pixel(&img, x, y), GEOLOC_MAP_MARKER_RGB, 2), "marker pixel %06x", pixel(&img, x, y));
        for (int r = 0; r < 2; r++) { /* the circles: marker-coloured pixels due south of the answer */
            double dlat = a.radius_km[r] / (GEOLOC_EARTH_RADIUS_KM * M_PI / 180), best = 1e9;
            geoloc_map_project(&opt.view, a.lat - dlat, a.lon, &x, &y);
            for (int dy = -2; dy <= 2; dy++)
                for (int dx = -8; dx <= 8; dx++) { /* the 90 % circle is dashed */
                    unsigned c = pixel(&img, x + dx, y + dy), m = GEOLOC_MAP_MARKER_RGB;
                    double d = fabs((double)(c >> 16) - (m >> 16)) + fabs((double)(c >> 8 & 255) - (m >> 8 & 255)) +
                               fabs((double)(c & 255) - (m & 255));
                    best = fmin(best, d);
                }
            CHECK(best < 60, "the %g km circle drawn %g km south of the answer (colour distance %g)",
                  a.radius_km[r], a.radius_km[r], best);
        }
        double xb, yb, xs, ys;
        geoloc_map_project(&opt.view, f.lat[brazil], f.lng[brazil], &xb, &yb);
        geoloc_map_project(&opt.view, f.lat[sydney], f.lng[sydney], &xs, &ys);
        double xo, yo;
        geoloc_map_project(&opt.view, 0, -30, &xo, &yo); /* the Atlantic: no cell, no land */
        unsigned cb = pixel(&img, xb, yb), cs = pixel(&img, xs, ys), sea = pixel(&img, xo, yo);
        CHECK(luminance(cb) + 60 < luminance(cs), "p 0.5 (%06x) darker than p 0.0005 (%06x)", cb, cs);
        CHECK(cs != sea, "the improbable cell is shaded too (%06x, sea %06x)", cs, sea);
        int dark = 0, light = 0; /* the legend's bar, bottom left: both ends of the scale */
        for (int yy = H - 80; yy < H; yy++)
            for (int xx = 0; xx < 300; xx++) {
                dark += near(pixel(&img, xx, yy), 0x800026, 3);
                light += near(pixel(&img, xx, yy), 0xffffcc, 3);
            }
        CHECK(dark >= 10 && light >= 10, "legend: %d dark and %d light pixels", dark, light);
        int thumb_green = 0;
        for (int yy = 0; yy < 200; yy++)
            for (int xx = W - 200; xx < W; xx++) thumb_green += near(pixel(&img, xx, yy), 0x00ff00, 8);
        CHECK(thumb_green > 180 * 100, "thumbnail: %d green pixels", thumb_green);
        double land_lat_lon[3][2] = {{-15, 175}, {-15, -175}, {-80, 0}}, sea_lat_lon[3][2] = {{-10.5, 0}, {-19.5, 90}, {60, -30}};
        for (int i = 0; i < 3; i++) {
            geoloc_map_project(&opt.view, land_lat_lon[i][0], land_lat_lon[i][1], &x, &y);
            unsigned c = pixel(&img, x, y);
            CHECK(c != sea && luminance(c) > 200, "land at %g, %g: %06x", land_lat_lon[i][0], land_lat_lon[i][1], c);
            geoloc_map_project(&opt.view, sea_lat_lon[i][0], sea_lat_lon[i][1], &x, &y);
            c = pixel(&img, x, y);
            CHECK(c == sea, "sea at %g, %g: %06x (no stray border)", sea_lat_lon[i][0], sea_lat_lon[i][1], c);
        }
        geoloc_map_project(&opt.view, 25, 0, &x, &y); /* the square's west edge: a grey outline */
        unsigned edge = pixel(&img, x - 1, y);
        for (int dx = 0; dx <= 1; dx++)
            if (luminance(pixel(&img, x + dx, y)) < luminance(edge)) edge = pixel(&img, x + dx, y);
        unsigned land = pixel(&img, x + 10, y);
        CHECK(land != sea && luminance(land) > 200, "land %06x inside the border, sea %06x", land, sea);
        CHECK(luminance(edge) + 25 < fmin(luminance(sea), luminance(land)), "border pixel %06x darker than sea "
              "and land", edge);
        geoloc_image_free(&img);
    }
    char missing[512];
    snprintf(missing, sizeof missing, "%s/no-such-folder/map.png", dir);
    CHECK(geoloc_map_write_png(&a, &opt, missing, &err) == GEOLOC_E_IO, "missing folder: %s", err.message);
    struct stat st;
    CHECK(stat(missing, &st) != 0, "nothing written in a missing folder");
    geoloc_borders_free(b);

    CHECK(geoloc_borders_load("/nonexistent/countries.geojson", &b, &err) != GEOLOC_OK && b == NULL,
          "missing borders file refused");
    fp = fopen(borders_path, "w");
    fputs("{\"type\": \"FeatureCollection\"", fp);
    fclose(fp);
    CHECK(geoloc_borders_load(borders_path, &b, &err) == GEOLOC_E_PARSE, "truncated borders refused");
}

int main(void) {
    test_views();
    char dir[] = "/tmp/geoloc-render-XXXXXX";
    test_make_temp_dir(dir);
    test_pixels(dir);
    if (!getenv("KEEP")) test_remove_tree(dir);
    else printf("kept %s\n", dir);
    TEST_END();
}
