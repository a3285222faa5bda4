/* GeoJSON (RFC 7946) geometry of an S2 cell. The four vertices (counter-
 * clockwise on the sphere, hence in longitude/latitude too) are joined by
 * their great-circle edges, each densified by halving the arc until straight
 * longitude/latitude segments stay within the allowed error (measured at a
 * segment's quarter points, carried back to the sphere, against the arc).
 * Longitudes are then unwrapped along the ring: a ring that winds once round
 * (a face cell holding a pole) is cut at the antimeridian and closed along
 * the pole's latitude; any other ring reaching past +-180 is clipped to the
 * strips [-540,-180], [-180,180], [180,540] and the pieces shifted back (a
 * MultiPolygon when two pieces remain). A pole that is a cell vertex (face
 * centers of faces 2 and 5) becomes two positions on the pole's latitude, at
 * the longitudes of its two meridian edges. */
#include <math.h>
#include <stdlib.h>

#include "core/error.h"
#include "geoloc/distance.h"
#include "geoloc/geojson.h"
#include "geoloc/s2.h"
#include "geo/ring_geojson.h"

#define DEG (M_PI / 180.0)
#define POLE_EPS 1e-9          /* degrees: a vertex this close to +-90 is the pole */
#define ANTIMERIDIAN_SNAP 1e-10 /* degrees: unwrapped longitudes this close to +-180 (mod 360) are put on it */
#define MIN_ARC 1e-10          /* radians: arcs shorter than this are not split */
#define MAX_DEPTH 40           /* halvings of one edge at most */
#define MAX_POINTS (1u << 20)  /* positions of one boundary at most */

typedef struct vec3 {
    double x, y, z;
} vec3;

typedef struct point {
    double lon, lat; /* degrees */
} point;

typedef struct ring {
    point *p;
    size_t n, cap;
} ring;

/* A point of an edge: on the sphere and in (unwrapped) longitude/latitude. */
typedef struct node {
    vec3 v;
    double lon, lat;
} node;

static vec3 vsub(vec3 a, vec3 b) { return (vec3){a.x - b.x, a.y - b.y, a.z - b.z}; }
static vec3 vadd(vec3 a, vec3 b) { return (vec3){a.x + b.x, a.y + b.y, a.z + b.z}; }
static double vdot(vec3 a, vec3 b) { return a.x * b.x + a.y * b.y + a.z * b.z; }
static vec3 vcross(vec3 a, vec3 b) {
    return (vec3){a.y * b.z - a.z * b.y, a.z * b.x - a.x * b.z, a.x * b.y - a.y * b.x};
}
static double vnorm(vec3 a) { return sqrt(vdot(a, a)); }
static vec3 vscale(vec3 a, double s) { return (vec3){a.x * s, a.y * s, a.z * s}; }

/* The unit vector of a longitude/latitude in degrees. */
static vec3 vec_of(double lon, double lat) {
    return (vec3){cos(lat * DEG) * cos(lon * DEG), cos(lat * DEG) * sin(lon * DEG), sin(lat * DEG)};
}

/* The angle between two unit vectors (radians), accurate for small angles. */
static double angle(vec3 a, vec3 b) { return atan2(vnorm(vcross(a, b)), vdot(a, b)); }

/* d in (-180, 180]. */
static double wrap180(double d) {
    d = fmod(d, 360.0);
    if (d > 180) d -= 360;
    else if (d <= -180) d += 360;
    return d;
}

/* The angular distance (radians) from q to the shorter great-circle arc a-b. */
static double arc_distance(vec3 q, vec3 a, vec3 b) {
    vec3 n = vcross(vsub(a, b), vadd(a, b)); /* 2 a x b, better conditioned */
    double nn = vnorm(n);
    double ends = fmin(angle(q, a), angle(q, b));
    if (nn == 0) return ends;
    n = vscale(n, 1 / nn);
    double s = vdot(q, n);
    vec3 proj = vsub(q, vscale(n, s));
    if (vdot(vcross(a, proj), n) >= 0 && vdot(vcross(proj, b), n) >= 0) return asin(fmin(1.0, fabs(s)));
    return ends;
}

/* Appends a position (E_RANGE past MAX_POINTS). */
static geoloc_status ring_push(ring *r, double lon, double lat, geoloc_error *err) {
    if (r->n == r->cap) {
        size_t cap = r->cap ? 2 * r->cap : 64;
        if (cap > MAX_POINTS)
            return error_set(err, GEOLOC_E_RANGE, "%s:%d: cell boundary: over %u positions (max_error_km too small)",
                             __FILE__, __LINE__, MAX_POINTS);
        point *p = realloc(r->p, cap * sizeof *p);
        if (!p) return error_set(err, GEOLOC_E_NOMEM, "%s:%d: out of memory", __FILE__, __LINE__);
        r->p = p;
        r->cap = cap;
    }
    r->p[r->n++] = (point){lon, lat};
    return GEOLOC_OK;
}

/* 1 when the straight longitude/latitude segment a-b strays from the arc a-b
 * by more than max_rad at its quarter points. */
static int strays(const node *a, const node *b, double max_rad) {
    for (int i = 1; i <= 3; i++) {
        double t = i / 4.0;
        vec3 q = vec_of(a->lon + t * (b->lon - a->lon), a->lat + t * (b->lat - a->lat));
        if (arc_distance(q, a->v, b->v) > max_rad) return 1;
    }
    return 0;
}

/* Appends the points strictly between a and b that bring the segments within max_rad. */
static geoloc_status densify(ring *r, const node *a, const node *b, double max_rad, int depth,
                             geoloc_error *err) {
    if (depth >= MAX_DEPTH || angle(a->v, b->v) < MIN_ARC || !strays(a, b, max_rad)) return GEOLOC_OK;
    node m;
    m.v = vadd(a->v, b->v);
    m.v = vscale(m.v, 1 / vnorm(m.v));
    m.lat = atan2(m.v.z, hypot(m.v.x, m.v.y)) / DEG;
    m.lon = a->lon + wrap180(atan2(m.v.y, m.v.x) / DEG - a->lon);
    geoloc_status s = densify(r, a, &m, max_rad, depth + 1, err);
    if (!s) s = ring_push(r, m.lon, m.lat, err);
    if (!s) s = densify(r, &m, b, max_rad, depth + 1, err);
    return s;
}

/* 1 when a vertex latitude is a pole's. */
static int is_pole(double lat) { return fabs(lat) > 90 - POLE_EPS; }

/* The densified boundary, counter-clockwise, longitudes in (-180, 180] (not
 * yet unwrapped), a pole vertex as two positions. */
static geoloc_status boundary(uint64_t cell, double max_rad, ring *r, geoloc_error *err) {
    double lat[4], lon[4];
    for (int k = 0; k < 4; k++) geoloc_s2_vertex(cell, k, &lat[k], &lon[k]);
    geoloc_status s = GEOLOC_OK;
    for (int k = 0; k < 4 && !s; k++) {
        int prev = (k + 3) % 4, next = (k + 1) % 4;
        node a = {vec_of(lon[k], lat[k]), lon[k], lat[k]};
        node b = {vec_of(lon[next], lat[next]), lon[next], lat[next]};
        if (is_pole(lat[k])) {
            /* the edges at a pole are meridians: the pole takes their longitudes */
            a.lat = lat[k] > 0 ? 90 : -90;
            s = ring_push(r, lon[prev], a.lat, err);
            a.lon = lon[next];
        }
        if (is_pole(lat[next])) b.lon = a.lon;
        b.lon = a.lon + wrap180(b.lon - a.lon);
        if (!s) s = ring_push(r, a.lon, a.lat, err);
        if (!s) s = densify(r, &a, &b, max_rad, 0, err);
    }
    return s;
}

/* Makes longitudes continuous along the ring; returns the turns round the
 * pole axis the closed ring makes (+1: round the north pole, -1: south, 0). */
static int unwrap(ring *r) {
    for (size_t i = 1; i < r->n; i++) r->p[i].lon = r->p[i - 1].lon + wrap180(r->p[i].lon - r->p[i - 1].lon);
    double total = r->p[r->n - 1].lon + wrap180(r->p[0].lon - r->p[r->n - 1].lon) - r->p[0].lon;
    for (size_t i = 0; i < r->n; i++) {
        double k = round((r->p[i].lon - 180) / 360);
        if (fabs(r->p[i].lon - (180 + 360 * k)) < ANTIMERIDIAN_SNAP) r->p[i].lon = 180 + 360 * k;
    }
    return (int)round(total / 360);
}

/* The ring of a cell holding a pole (turns = +-1): cut where it crosses the
 * antimeridian, shifted into [-180, 180], closed along the pole's latitude in
 * steps of at most 90 degrees. */
static geoloc_status polar_ring(const ring *in, int turns, ring *out, geoloc_error *err) {
    size_t n = in->n;
    double x_cut = 180.0 * turns, total = 360.0 * turns, pole = 90.0 * turns;
    size_t i = 0;
    for (; i < n; i++) {
        double x0 = in->p[i].lon, x1 = i + 1 < n ? in->p[i + 1].lon : in->p[0].lon + total;
        if (turns > 0 ? x0 <= x_cut && x_cut < x1 : x0 >= x_cut && x_cut > x1) break;
    }
    if (i == n) i = 0; /* the ring starts past the cut: cannot happen for x0 in (-180, 180] */
    point a = in->p[i], b = i + 1 < n ? in->p[i + 1] : (point){in->p[0].lon + total, in->p[0].lat};
    double t = b.lon == a.lon ? 0 : (x_cut - a.lon) / (b.lon - a.lon);
    double cut_lat = a.lat + t * (b.lat - a.lat), shift = -total;
    geoloc_status s = ring_push(out, x_cut + shift, cut_lat, err);
    for (size_t k = i + 1; k < n && !s; k++) s = ring_push(out, in->p[k].lon + shift, in->p[k].lat, err);
    for (size_t k = 0; k <= i && !s; k++) s = ring_push(out, in->p[k].lon + total + shift, in->p[k].lat, err);
    if (!s) s = ring_push(out, x_cut, cut_lat, err);
    for (int step = 0; step <= 4 && !s; step++) /* along the pole: x_cut to -x_cut */
        s = ring_push(out, x_cut - step * 90.0 * turns, pole, err);
    return s;
}

/* Clips the closed ring in (last point not repeated) to x >= bound (keep_above)
 * or x <= bound (Sutherland-Hodgman), appending to out. */
static geoloc_status clip(const ring *in, double bound, int keep_above, ring *out, geoloc_error *err) {
    geoloc_status s = GEOLOC_OK;
    for (size_t i = 0; i < in->n && !s; i++) {
        point cur = in->p[i], prev = in->p[(i + in->n - 1) % in->n];
        int cur_in = keep_above ? cur.lon >= bound : cur.lon <= bound;
        int prev_in = keep_above ? prev.lon >= bound : prev.lon <= bound;
        if (cur_in != prev_in) {
            double t = (bound - prev.lon) / (cur.lon - prev.lon);
            s = ring_push(out, bound, prev.lat + t * (cur.lat - prev.lat), err);
        }
        if (cur_in && !s) s = ring_push(out, cur.lon, cur.lat, err);
    }
    return s;
}

/* Twice the signed planar area of a closed ring (last point not repeated),
 * about its first point. */
static double planar_area2(const ring *r) {
    double a = 0;
    for (size_t i = 1; i + 1 < r->n; i++) {
        double x1 = r->p[i].lon - r->p[0].lon, y1 = r->p[i].lat - r->p[0].lat;
        double x2 = r->p[i + 1].lon - r->p[0].lon, y2 = r->p[i + 1].lat - r->p[0].lat;
        a += x1 * y2 - x2 * y1;
    }
    return a;
}

/* Writes a ring as an array of positions, dropping repeated positions and
 * closing it. */
static void write_ring(geoloc_json *w, const ring *r) {
    geoloc_json_array_begin(w);
    for (size_t i = 0; i <= r->n; i++) {
        point p = r->p[i % r->n];
        point prev = r->p[(i + r->n - 1) % r->n];
        if (i > 0 && i < r->n && p.lon == prev.lon && p.lat == prev.lat) continue;
        geoloc_json_array_begin(w);
        geoloc_json_double(w, p.lon);
        geoloc_json_double(w, p.lat);
        geoloc_json_array_end(w);
    }
    geoloc_json_array_end(w);
}

/* Writes the closed ring all (counter-clockwise, longitudes in (-180, 180],
 * last point not repeated) as a Polygon or MultiPolygon: see the top comment. */
static geoloc_status write_boundary(geoloc_json *w, ring *all, geoloc_error *err) {
    ring pieces[3] = {{0}}, half = {0};
    size_t n_pieces = 0;
    geoloc_status s = GEOLOC_OK;
    int turns = unwrap(all);
    if (turns) {
        s = polar_ring(all, turns, &pieces[0], err);
        n_pieces = 1;
    } else {
        /* the strips [-540,-180], [-180,180], [180,540], shifted back */
        for (int k = -1; k <= 1 && !s; k++) {
            ring *piece = &pieces[n_pieces];
            half.n = 0;
            s = clip(all, -180 + 360.0 * k, 1, &half, err);
            if (!s && half.n) s = clip(&half, 180 + 360.0 * k, 0, piece, err);
            if (s || piece->n < 3 || planar_area2(piece) <= 0) {
                piece->n = 0;
                continue;
            }
            for (size_t i = 0; i < piece->n; i++) piece->p[i].lon -= 360.0 * k;
            n_pieces++;
        }
    }
    if (!s && !n_pieces) s = error_set(err, GEOLOC_E_RANGE, "%s:%d: empty boundary", __FILE__, __LINE__);
    if (!s) {
        geoloc_json_object_begin(w);
        geoloc_json_key(w, "type");
        geoloc_json_string(w, n_pieces > 1 ? "MultiPolygon" : "Polygon");
        geoloc_json_key(w, "coordinates");
        if (n_pieces > 1) geoloc_json_array_begin(w);
        for (size_t k = 0; k < n_pieces; k++) {
            geoloc_json_array_begin(w);
            write_ring(w, &pieces[k]);
            geoloc_json_array_end(w);
        }
        if (n_pieces > 1) geoloc_json_array_end(w);
        geoloc_json_object_end(w);
        s = w->err.status;
        if (s && err) *err = w->err;
    }
    free(half.p);
    for (int k = 0; k < 3; k++) free(pieces[k].p);
    return s;
}

geoloc_status geo_ring_geojson_write(geoloc_json *w, const double *lon_lat, size_t n, geoloc_error *err) {
    if (n < 3) return error_set(err, GEOLOC_E_ARG, "%s:%d: a ring of %zu positions", __FILE__, __LINE__, n);
    ring all = {0};
    geoloc_status s = GEOLOC_OK;
    for (size_t i = 0; i < n && !s; i++) s = ring_push(&all, lon_lat[2 * i], lon_lat[2 * i + 1], err);
    if (!s) s = write_boundary(w, &all, err);
    free(all.p);
    return s;
}

geoloc_status geoloc_cell_geojson_write(geoloc_json *w, uint64_t cell, double max_error_km, geoloc_error *err) {
    if (!geoloc_s2_is_valid(cell))
        return error_set(err, GEOLOC_E_ARG, "%s:%d: %016llx is not a valid S2 cell", __FILE__, __LINE__,
                         (unsigned long long)cell);
    if (!(max_error_km > 0) || isinf(max_error_km))
        return error_set(err, GEOLOC_E_ARG, "%s:%d: max_error_km %g: must be positive and finite", __FILE__,
                         __LINE__, max_error_km);
    ring all = {0};
    geoloc_status s = boundary(cell, max_error_km / GEOLOC_EARTH_RADIUS_KM, &all, err);
    if (!s) s = write_boundary(w, &all, err);
    free(all.p);
    return s;
}
