/* The GeoJSON of answers (geoloc_geojson_*), parsed back with jansson: the
 * RFC 7946 rules (a FeatureCollection of Features; Polygon and MultiPolygon
 * rings closed, of >= 4 positions, exterior rings counter-clockwise (the
 * right-hand rule), longitudes in [-180, 180] and latitudes in [-90, 90],
 * no segment crossing the antimeridian), the cells sorted by probability
 * and cut by min_prob, the answer's properties (place, radii, members added
 * by the caller), and the radius circles: on the circle, split at the
 * antimeridian, closed along a pole they hold, the whole Earth when they
 * hold both poles. */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "geoloc/distance.h"
#include "geoloc/place.h"
#include "render_fixture.h"
#include "test_util.h"

static int rings_checked, multipolygons;

/* Twice the signed planar area of a closed ring (counter-clockwise: > 0). */
static double ring_area2(json_t *ring) {
    double a = 0;
    size_t n = json_array_size(ring);
    for (size_t i = 0; i + 1 < n; i++) {
        json_t *p = json_array_get(ring, i), *q = json_array_get(ring, i + 1);
        a += json_number_value(json_array_get(p, 0)) * json_number_value(json_array_get(q, 1)) -
             json_number_value(json_array_get(q, 0)) * json_number_value(json_array_get(p, 1));
    }
    return a;
}

/* The RFC 7946 rules of one ring; when radius_km > 0, every position off the
 * antimeridian and the poles lies on the circle of that radius round (lat, lon). */
static void check_ring(json_t *ring, const char *what, double lat, double lon, double radius_km) {
    size_t n = json_array_size(ring);
    CHECK(n >= 4, "%s: a ring of %zu positions", what, n);
    if (n < 4) return;
    json_t *first = json_array_get(ring, 0), *last = json_array_get(ring, n - 1);
    CHECK(json_equal(first, last), "%s: ring not closed", what);
    CHECK(ring_area2(ring) > 0, "%s: exterior ring not counter-clockwise (area2 %g)", what, ring_area2(ring));
    for (size_t i = 0; i < n; i++) {
        json_t *p = json_array_get(ring, i);
        double x = json_number_value(json_array_get(p, 0)), y = json_number_value(json_array_get(p, 1));
        CHECK(json_array_size(p) == 2 && x >= -180 && x <= 180 && y >= -90 && y <= 90, "%s: position %g, %g",
              what, x, y);
        if (i > 0) {
            double px = json_number_value(json_array_get(json_array_get(ring, i - 1), 0));
            CHECK(fabs(x - px) <= 180, "%s: a segment across the antimeridian (%g to %g)", what, px, x);
        }
        if (radius_km > 0 && fabs(x) != 180 && fabs(y) != 90) {
            double d = geoloc_haversine_km(lat, lon, y, x);
            CHECK(fabs(d - radius_km) < 0.002 * radius_km + 0.01, "%s: position %g, %g is %g km from the centre, "
                  "not %g", what, x, y, d, radius_km);
        }
    }
    rings_checked++;
}

/* The rules of a Polygon or MultiPolygon (a Point: its position). */
static void check_geometry(json_t *g, const char *what, double lat, double lon, double radius_km) {
    const char *type = json_string_value(json_object_get(g, "type"));
    json_t *coords = json_object_get(g, "coordinates");
    CHECK(type != NULL && json_is_array(coords), "%s: geometry without type or coordinates", what);
    if (!type || !json_is_array(coords)) return;
    if (!strcmp(type, "Point")) {
        double x = json_number_value(json_array_get(coords, 0)), y = json_number_value(json_array_get(coords, 1));
        CHECK(x >= -180 && x <= 180 && y >= -90 && y <= 90, "%s: point %g, %g", what, x, y);
        return;
    }
    int multi = !strcmp(type, "MultiPolygon");
    CHECK(multi || !strcmp(type, "Polygon"), "%s: geometry type %s", what, type);
    multipolygons += multi;
    size_t i;
    json_t *poly;
    json_array_foreach(coords, i, poly) {
        json_t *rings = multi ? poly : coords;
        CHECK(json_array_size(rings) == 1, "%s: %zu rings in a polygon (no holes expected)", what,
              json_array_size(rings));
        check_ring(json_array_get(rings, 0), what, lat, lon, radius_km);
        if (!multi) break;
    }
}

static void add_member(void *ctx, geoloc_json *w, const geoloc_map_answer *a) {
    (void)a;
    geoloc_json_key(w, "test_member");
    geoloc_json_int(w, *(int *)ctx);
}

/* Writes the answers' FeatureCollection to a string and parses it. */
static json_t *write_doc(const geoloc_map_answer *a, int n, const geoloc_geojson_options *opt) {
    char *buf = NULL;
    size_t size = 0;
    FILE *mem = open_memstream(&buf, &size);
    geoloc_json w;
    geoloc_json_init(&w, mem, 1);
    geoloc_geojson_begin(&w);
    geoloc_error err = {0};
    for (int k = 0; k < n; k++)
        CHECK(geoloc_geojson_photo(&w, &a[k], opt, &err) == GEOLOC_OK, "answer %d: %s", k, err.message);
    geoloc_geojson_end(&w);
    CHECK(geoloc_json_finish(&w, &err) == GEOLOC_OK, "finish: %s", err.message);
    fclose(mem);
    json_error_t jerr;
    json_t *doc = json_loads(buf, 0, &jerr);
    CHECK(doc != NULL, "not JSON: %s", jerr.text);
    free(buf);
    return doc;
}

int main(void) {
    fixture f = {0};
    size_t paris = fixture_add(&f, 48.86, 2.35, 6, 0.5f);
    fixture_add(&f, -33.9, 151.2, 3, 0.05f);
    fixture_add(&f, -17.0, 179.99, 2, 0.2f);   /* on the antimeridian */
    fixture_add(&f, 89.5, 45.0, 1, 0.001f);    /* a pole is its vertex */
    fixture_add(&f, 12.0, -30.0, 4, 0.0001f);
    fixture_add(&f, -89.9, 0.0, 0, 0.0005f);   /* face 5: holds the south pole */
    geoloc_map_answer a[3];
    a[0] = fixture_answer(&f, "paris.jpg", 48.86, 2.35, paris);
    geoloc_place paris_place = {.country_code = "FR", .country = "France", .region = "", .in_country = 1,
                                .city = "Paris", .city_country = "FR", .city_km = 0.4};
    a[0].place = &paris_place;
    a[0].n_radii = 2;
    a[0].radius_km[0] = 300, a[0].radius_conf[0] = 0.5;
    a[0].radius_km[1] = 17000, a[0].radius_conf[1] = 0.9; /* holds both poles */
    a[1] = fixture_answer(&f, "fiji.jpg", -17.0, 179.5, 2);
    a[1].n_radii = 1;
    a[1].unknown = 1; /* an abstention: its best guess */
    a[1].radius_km[0] = 800, a[1].radius_conf[0] = 0.5;   /* across the antimeridian */
    a[2] = fixture_answer(&f, "svalbard.jpg", 80.0, 10.0, 3);
    a[2].n_radii = 1;
    a[2].radius_km[0] = 1500, a[2].radius_conf[0] = 0.9;  /* holds the north pole */
    int member = 42;
    geoloc_geojson_options opt = {.answer_props = add_member, .ctx = &member};

    json_t *doc = write_doc(a, 3, &opt);
    CHECK(!strcmp(json_string_value(json_object_get(doc, "type")), "FeatureCollection"), "type");
    json_t *features = json_object_get(doc, "features");
    CHECK(json_array_size(features) == 3 * (1 + f.part.n) + 4, "%zu features", json_array_size(features));
    size_t i;
    json_t *feat;
    int answers = 0, radii = 0, whole = 0, cells = 0;
    double last_prob = 2;
    const char *last_photo = "";
    json_array_foreach(features, i, feat) {
        json_t *props = json_object_get(feat, "properties"), *g = json_object_get(feat, "geometry");
        const char *kind = json_string_value(json_object_get(props, "kind"));
        const char *photo = json_string_value(json_object_get(props, "photo"));
        CHECK(!strcmp(json_string_value(json_object_get(feat, "type")), "Feature") && kind && photo,
              "feature %zu: type, kind or photo missing", i);
        if (!kind || !photo) continue;
        int who = !strcmp(photo, "paris.jpg") ? 0 : !strcmp(photo, "fiji.jpg") ? 1 : 2;
        char what[96];
        snprintf(what, sizeof what, "feature %zu (%s, %s)", i, photo, kind);
        if (strcmp(photo, last_photo)) last_prob = 2;
        last_photo = photo;
        if (!strcmp(kind, "answer")) {
            answers++;
            CHECK(json_integer_value(json_object_get(props, "test_member")) == 42, "%s: the caller's member", what);
            CHECK(json_number_value(json_object_get(props, "lat")) == a[who].lat, "%s: lat", what);
            CHECK(json_is_boolean(json_object_get(props, "unknown")) &&
                  json_is_true(json_object_get(props, "unknown")) == (who == 1), "%s: unknown", what);
            CHECK(!strcmp(json_string_value(json_object_get(g, "type")), "Point"), "%s: a Point", what);
            if (who == 0) {
                json_t *pl = json_object_get(props, "place");
                CHECK(!strcmp(json_string_value(json_object_get(pl, "name")), "Paris, France") &&
                      !strcmp(json_string_value(json_object_get(pl, "country_code")), "FR") &&
                      !strcmp(json_string_value(json_object_get(pl, "city")), "Paris") &&
                      json_number_value(json_object_get(pl, "city_km")) == 0.4, "%s: place", what);
                json_t *r = json_object_get(props, "radius_km");
                CHECK(json_number_value(json_object_get(r, "50")) == 300 &&
                      json_number_value(json_object_get(r, "90")) == 17000, "%s: radius_km", what);
            }
            check_geometry(g, what, 0, 0, 0);
        } else if (!strcmp(kind, "radius")) {
            radii++;
            double r = json_number_value(json_object_get(props, "radius_km"));
            if (json_object_get(props, "whole_earth")) {
                whole++;
                CHECK(who == 0 && r == 17000, "%s: only the 17000 km circle holds both poles", what);
                check_geometry(g, what, 0, 0, 0);
            } else {
                check_geometry(g, what, a[who].lat, a[who].lon, r);
            }
            if (who == 1) CHECK(!strcmp(json_string_value(json_object_get(g, "type")), "MultiPolygon"),
                                "%s: split at the antimeridian", what);
            if (who == 2) { /* closed along the north pole */
                json_t *ring = json_array_get(json_object_get(g, "coordinates"), 0);
                double top = -90;
                size_t k;
                json_t *p;
                json_array_foreach(ring, k, p) top = fmax(top, json_number_value(json_array_get(p, 1)));
                CHECK(!strcmp(json_string_value(json_object_get(g, "type")), "Polygon") && top == 90,
                      "%s: a Polygon reaching the pole (max lat %g)", what, top);
            }
        } else {
            cells++;
            double p = json_number_value(json_object_get(props, "prob"));
            CHECK(p <= last_prob, "%s: prob %g after %g: not sorted", what, p, last_prob);
            last_prob = p;
            const char *tok = json_string_value(json_object_get(props, "token"));
            geoloc_cell c = 0;
            CHECK(tok && geoloc_s2_from_token(tok, strlen(tok), &c) == GEOLOC_OK &&
                  json_integer_value(json_object_get(props, "level")) == geoloc_s2_level(c) &&
                  json_object_get(props, "lat") && json_object_get(props, "lon"),
                  "%s: token, level, lat, lon", what);
            check_geometry(g, what, 0, 0, 0);
        }
    }
    CHECK(answers == 3 && radii == 4 && whole == 1 && cells == 3 * (int)f.part.n,
          "%d answers, %d radii (%d whole Earth), %d cells", answers, radii, whole, cells);
    CHECK(multipolygons >= 1, "%d MultiPolygons (the Fiji circle at least)", multipolygons);
    json_decref(doc);

    /* min_prob cuts the tail: cells of 0.05, 0.2 and 0.5 remain */
    opt.min_prob = 0.01;
    doc = write_doc(a, 1, &opt);
    features = json_object_get(doc, "features");
    CHECK(json_array_size(features) == 1 + 2 + 3, "min_prob 0.01: %zu features", json_array_size(features));
    json_decref(doc);

    geoloc_error err = {0};
    geoloc_json w;
    FILE *null = fopen("/dev/null", "w");
    geoloc_json_init(&w, null, 0);
    opt.min_prob = 1.5;
    CHECK(geoloc_geojson_photo(&w, &a[0], &opt, &err) == GEOLOC_E_ARG, "min_prob 1.5 refused");
    geoloc_map_answer empty = a[0];
    empty.part = NULL;
    CHECK(geoloc_geojson_photo(&w, &empty, NULL, &err) == GEOLOC_E_ARG, "an answer without cells refused");
    fclose(null);
    printf("%d rings checked\n", rings_checked);
    TEST_END();
}
