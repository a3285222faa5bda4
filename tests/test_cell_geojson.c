/* GeoJSON of S2 cells, parsed back with jansson, for random cells at every
 * level, all cells of levels 0-2, cells on the antimeridian and at both
 * poles: the RFC 7946 shape (type, closed rings of >= 4 positions, ranges,
 * counter-clockwise exterior rings, no segment across the antimeridian), the
 * densification (points along each true edge within max_error_km of the
 * written boundary) and the area (the written polygons' area on the sphere
 * against the cell's exact area, within the densification's allowance). */
#include <jansson.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "geoloc/distance.h"
#include "geoloc/geojson.h"
#include "geoloc/s2.h"

#define DEG (M_PI / 180.0)
#define R GEOLOC_EARTH_RADIUS_KM

static int failures, cells_checked, multipolygons;
#define FAIL(...)                                  \
    do {                                           \
        fprintf(stderr, "%s:%d: ", __FILE__, __LINE__); \
        fprintf(stderr, __VA_ARGS__);              \
        fputc('\n', stderr);                       \
        failures++;                                \
    } while (0)

typedef struct vec3 {
    double x, y, z;
} vec3;

static vec3 vec_of(double lon, double lat) {
    return (vec3){cos(lat * DEG) * cos(lon * DEG), cos(lat * DEG) * sin(lon * DEG), sin(lat * DEG)};
}
static double dot(vec3 a, vec3 b) { return a.x * b.x + a.y * b.y + a.z * b.z; }
static vec3 cross(vec3 a, vec3 b) { return (vec3){a.y * b.z - a.z * b.y, a.z * b.x - a.x * b.z, a.x * b.y - a.y * b.x}; }
static vec3 sub(vec3 a, vec3 b) { return (vec3){a.x - b.x, a.y - b.y, a.z - b.z}; }
static double norm(vec3 a) { return sqrt(dot(a, a)); }
static double angle(vec3 a, vec3 b) { return atan2(norm(cross(a, b)), dot(a, b)); }

/* Point at fraction t of the great-circle arc a-b (slerp). */
static vec3 slerp(vec3 a, vec3 b, double t) {
    double w = angle(a, b);
    if (w == 0) return a;
    double sa = sin((1 - t) * w) / sin(w), sb = sin(t * w) / sin(w);
    return (vec3){sa * a.x + sb * b.x, sa * a.y + sb * b.y, sa * a.z + sb * b.z};
}

/* Spherical excess of triangle abc (unit vectors, counter-clockwise). */
static double triangle_area(vec3 a, vec3 b, vec3 c) {
    double det = dot(a, cross(sub(b, a), sub(c, a)));
    return 2 * atan2(det, 1 + dot(a, b) + dot(b, c) + dot(c, a));
}

typedef struct ring {
    double (*p)[2]; /* lon, lat; closed */
    vec3 *v;        /* the positions on the sphere */
    size_t n;
} ring;

/* Distance (radians) from q to the curve that the straight lon/lat segment
 * a-b traces on the sphere, if less than best (else best). */
static double segment_distance(vec3 q, const double *a, vec3 va, const double *b, double best) {
    double dlon = b[0] - a[0], dlat = b[1] - a[1];
    double len = sqrt(dlon * dlon + dlat * dlat) * DEG; /* bounds the curve's length */
    if (norm(sub(q, va)) - len > best) return best;  /* the chord bounds the angle from below */
    enum { N = 8 };
    double bt = 0, bd = INFINITY;
    for (int i = 0; i <= N; i++) {
        double t = (double)i / N, d = angle(q, vec_of(a[0] + t * dlon, a[1] + t * dlat));
        if (d < bd) bd = d, bt = t;
    }
    double lo = fmax(0, bt - 1.0 / N), hi = fmin(1, bt + 1.0 / N);
    for (int it = 0; it < 25; it++) { /* golden section around the best sample */
        double m1 = lo + (hi - lo) * 0.381966, m2 = lo + (hi - lo) * 0.618034;
        double d1 = angle(q, vec_of(a[0] + m1 * dlon, a[1] + m1 * dlat));
        double d2 = angle(q, vec_of(a[0] + m2 * dlon, a[1] + m2 * dlat));
        if (d1 < d2) hi = m2;
        else lo = m1;
        bd = fmin(bd, fmin(d1, d2));
    }
    return fmin(bd, best);
}

/* Area (km^2) on the sphere of the region a closed lon/lat ring bounds
 * counter-clockwise, its edges straight in lon/lat: -R^2 * sum of the
 * integral of sin(lat) dlon over each segment (Green's theorem). */
static double ring_sphere_area(const ring *r) {
    /* a ring that does not wind round a pole has sum(dlon) = 0: the integrand
     * sin(lat) - sin(lat of its first point) keeps the precision of small
     * cells near the poles */
    double total_dlon = 0;
    for (size_t i = 0; i + 1 < r->n; i++) total_dlon += r->p[i + 1][0] - r->p[i][0];
    double ref = fabs(total_dlon) < 180 ? r->p[0][1] * DEG : 0;
    double s = 0;
    for (size_t i = 0; i + 1 < r->n; i++) {
        double l1 = r->p[i][1] * DEG, l2 = r->p[i + 1][1] * DEG, h = (l2 - l1) / 2, mid = (l1 + l2) / 2;
        double sinc_m1 = fabs(h) < 1e-4 ? -h * h / 6 * (1 - h * h / 20) : sin(h) / h - 1; /* sinc(h) - 1 */
        /* mean of sin(lat) - sin(ref) over the segment */
        double f = 2 * cos((mid + ref) / 2) * sin((mid - ref) / 2) + sin(mid) * sinc_m1;
        s += (r->p[i + 1][0] - r->p[i][0]) * DEG * f;
    }
    return -s * R * R;
}

/* The written geometry's rings (each polygon must have exactly one, the
 * exterior); 0 when the JSON is not a Polygon / MultiPolygon of such. */
static size_t read_rings(json_t *geom, ring *rings, size_t max, int *is_multi) {
    const char *type = json_string_value(json_object_get(geom, "type"));
    json_t *coords = json_object_get(geom, "coordinates");
    if (!type || !json_is_array(coords) || json_object_size(geom) != 2) return 0;
    *is_multi = !strcmp(type, "MultiPolygon");
    if (!*is_multi && strcmp(type, "Polygon")) return 0;
    size_t n_polys = *is_multi ? json_array_size(coords) : 1;
    if (n_polys == 0 || n_polys > max || (*is_multi && n_polys < 2)) return 0;
    for (size_t k = 0; k < n_polys; k++) {
        json_t *poly = *is_multi ? json_array_get(coords, k) : coords;
        if (json_array_size(poly) != 1) return 0;
        json_t *pos = json_array_get(poly, 0);
        size_t n = json_array_size(pos);
        rings[k].n = n;
        rings[k].p = malloc((n ? n : 1) * sizeof *rings[k].p);
        rings[k].v = malloc((n ? n : 1) * sizeof *rings[k].v);
        for (size_t i = 0; i < n; i++) {
            json_t *xy = json_array_get(pos, i);
            if (json_array_size(xy) != 2 || !json_is_number(json_array_get(xy, 0)) ||
                !json_is_number(json_array_get(xy, 1)))
                return 0;
            rings[k].p[i][0] = json_number_value(json_array_get(xy, 0));
            rings[k].p[i][1] = json_number_value(json_array_get(xy, 1));
            rings[k].v[i] = vec_of(rings[k].p[i][0], rings[k].p[i][1]);
        }
    }
    return n_polys;
}

/* Writes and checks one cell; returns the number of polygons written. */
static size_t check_cell(geoloc_cell cell, double max_err_km) {
    char tok[GEOLOC_S2_TOKEN_SIZE];
    geoloc_s2_to_token(cell, tok);
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    geoloc_json w;
    geoloc_json_init(&w, f, 0);
    geoloc_error err;
    geoloc_status s = geoloc_cell_geojson_write(&w, cell, max_err_km, &err);
    if (!s) s = geoloc_json_finish(&w, &err);
    fclose(f);
    cells_checked++;
    if (s) {
        FAIL("cell %s: %s", tok, err.message);
        free(text);
        return 0;
    }
    json_error_t jerr;
    json_t *geom = json_loads(text, 0, &jerr);
    ring rings[3] = {{0}};
    int is_multi = 0;
    size_t n_rings = geom ? read_rings(geom, rings, 3, &is_multi) : 0;
    if (!n_rings) {
        FAIL("cell %s: not a Polygon / MultiPolygon of one ring each: %.300s", tok, text);
        for (int k = 0; k < 3; k++) {
            free(rings[k].p);
            free(rings[k].v);
        }
        free(text);
        json_decref(geom);
        return 0;
    }
    multipolygons += is_multi;
    double area = 0, planar_bad = 0;
    for (size_t k = 0; k < n_rings; k++) {
        ring *r = &rings[k];
        if (r->n < 4) FAIL("cell %s: ring of %zu positions", tok, r->n);
        else if (r->p[0][0] != r->p[r->n - 1][0] || r->p[0][1] != r->p[r->n - 1][1])
            FAIL("cell %s: ring not closed", tok);
        double a2 = 0;
        for (size_t i = 0; i < r->n; i++) {
            double lon = r->p[i][0], lat = r->p[i][1];
            if (!(lon >= -180 && lon <= 180 && lat >= -90 && lat <= 90))
                FAIL("cell %s: position %g, %g out of range", tok, lon, lat);
            if (i + 1 < r->n) {
                if (fabs(r->p[i + 1][0] - lon) > 180) FAIL("cell %s: a segment crosses the antimeridian", tok);
                a2 += (lon - r->p[0][0]) * (r->p[i + 1][1] - r->p[0][1]) -
                      (r->p[i + 1][0] - r->p[0][0]) * (lat - r->p[0][1]);
            }
        }
        if (!(a2 > 0)) planar_bad = a2;
        area += ring_sphere_area(r);
    }
    if (planar_bad) FAIL("cell %s: exterior ring not counter-clockwise (area %g)", tok, planar_bad / 2);

    /* densification: points along each true edge near the written boundary */
    vec3 v[4];
    double perimeter = 0;
    for (int k = 0; k < 4; k++) {
        double lat, lon;
        geoloc_s2_vertex(cell, k, &lat, &lon);
        v[k] = vec_of(lon, lat);
    }
    double worst = 0;
    for (int k = 0; k < 4; k++) {
        perimeter += angle(v[k], v[(k + 1) % 4]) * R;
        for (int i = 0; i <= 24; i++) {
            vec3 q = slerp(v[k], v[(k + 1) % 4], i / 24.0);
            /* the segments at the nearest position first, so that the others are pruned */
            double best = INFINITY, nearest = INFINITY;
            size_t nr = 0, nj = 0;
            for (size_t rr = 0; rr < n_rings; rr++)
                for (size_t j = 0; j + 1 < rings[rr].n; j++) {
                    double chord = norm(sub(q, rings[rr].v[j]));
                    if (chord < nearest) nearest = chord, nr = rr, nj = j;
                }
            const ring *rn = &rings[nr];
            best = segment_distance(q, rn->p[nj], rn->v[nj], rn->p[nj + 1], best);
            size_t before = nj ? nj - 1 : rn->n - 2;
            best = segment_distance(q, rn->p[before], rn->v[before], rn->p[before + 1], best);
            for (size_t rr = 0; rr < n_rings; rr++)
                for (size_t j = 0; j + 1 < rings[rr].n; j++)
                    best = segment_distance(q, rings[rr].p[j], rings[rr].v[j], rings[rr].p[j + 1], best);
            worst = fmax(worst, best * R);
        }
    }
    if (worst > max_err_km * 1.02 + 1e-8)
        FAIL("cell %s (level %d): the true edge strays %.6g km from the written boundary (max %.6g)", tok,
             geoloc_s2_level(cell), worst, max_err_km);

    /* area: the exact cell against the written polygons */
    double exact = (triangle_area(v[0], v[1], v[2]) + triangle_area(v[0], v[2], v[3])) * R * R;
    double allowance = perimeter * max_err_km * 1.05 + exact * 1e-6 + 1e-12;
    if (!(fabs(area - exact) <= allowance))
        FAIL("cell %s (level %d): area %.12g km2, the cell's %.12g (allowance %.3g)", tok, geoloc_s2_level(cell),
             area, exact, allowance);
    for (size_t k = 0; k < n_rings; k++) {
        free(rings[k].p);
        free(rings[k].v);
    }
    json_decref(geom);
    free(text);
    return n_rings;
}

static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;
static double uniform(void) { /* [0, 1) */
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (double)(rng_state >> 11) / 9007199254740992.0;
}

/* An allowed error for a cell: 0.05% to 50% of its edge, at least 1 mm. */
static double random_error(geoloc_cell cell) {
    double lat0, lon0, lat1, lon1;
    geoloc_s2_vertex(cell, 0, &lat0, &lon0);
    geoloc_s2_vertex(cell, 1, &lat1, &lon1);
    double edge = angle(vec_of(lon0, lat0), vec_of(lon1, lat1)) * R;
    return fmax(1e-6, edge * pow(10, -0.3 - 3 * uniform()));
}

int main(void) {
    /* refusals */
    geoloc_json w;
    geoloc_error err;
    FILE *null = fopen("/dev/null", "w");
    geoloc_json_init(&w, null, 0);
    if (geoloc_cell_geojson_write(&w, 0, 1, &err) != GEOLOC_E_ARG) FAIL("cell 0 accepted");
    if (geoloc_cell_geojson_write(&w, geoloc_s2_begin(5), 0, &err) != GEOLOC_E_ARG) FAIL("max error 0 accepted");
    if (geoloc_cell_geojson_write(&w, geoloc_s2_begin(5), NAN, &err) != GEOLOC_E_ARG) FAIL("max error NaN accepted");
    fclose(null);

    /* levels 0-2 whole, with a coarse and a fine error */
    for (int level = 0; level <= 2; level++)
        for (geoloc_cell c = geoloc_s2_begin(level); c != geoloc_s2_end(level); c = geoloc_s2_next(c)) {
            check_cell(c, 100.0);
            check_cell(c, 10.0);
        }
    /* the face cells holding the poles: one polygon up to the pole */
    geoloc_cell north = geoloc_s2_from_latlng_level(90, 0, 0), south = geoloc_s2_from_latlng_level(-90, 0, 0);
    if (check_cell(north, 1.0) != 1 || check_cell(south, 1.0) != 1) FAIL("a pole face is not one polygon");

    /* random cells at every level */
    for (int level = 0; level <= GEOLOC_S2_MAX_LEVEL; level++)
        for (int i = 0; i < 25; i++) {
            double lat = asin(2 * uniform() - 1) / DEG, lon = 360 * uniform() - 180;
            geoloc_cell c = geoloc_s2_from_latlng_level(lat, lon, level);
            check_cell(c, random_error(c));
        }

    /* the antimeridian: cells straddling it are two polygons */
    int before = multipolygons;
    for (int level = 0; level <= GEOLOC_S2_MAX_LEVEL; level++)
        for (int i = 0; i < 6; i++) {
            double lat = asin(2 * uniform() - 1) / DEG * 0.99;
            double lon = i % 3 == 0 ? 180.0 : i % 3 == 1 ? 180 - 1e-12 : -180 + 1e-12;
            geoloc_cell c = geoloc_s2_from_latlng_level(lat, lon, level);
            check_cell(c, random_error(c));
        }
    if (multipolygons == before) FAIL("no antimeridian cell was written as a MultiPolygon");

    /* the poles: cells around them at every level (the pole is a vertex from level 1) */
    for (int level = 0; level <= GEOLOC_S2_MAX_LEVEL; level++)
        for (int i = 0; i < 8; i++) {
            double lat = (i < 4 ? 1 : -1) * (i % 2 ? 90.0 : 90 - 1e-7 * uniform());
            double lon = -135 + 90 * (i % 4) + (i % 2 ? 0 : 40 * uniform() - 20);
            geoloc_cell c = geoloc_s2_from_latlng_level(lat, lon, level);
            check_cell(c, random_error(c));
            check_cell(c, 0.5);
        }
    printf("%d cells checked, %d MultiPolygons\n", cells_checked, multipolygons);
    if (failures) fprintf(stderr, "%d check(s) failed\n", failures);
    return failures ? 1 : 0;
}
