/* Look-ups in an opened place file: the S2 covering cell of the point, the
 * parity of the outline edges its segment from the cell's reference point
 * crosses (per country), the coast rule for points in no country, and the
 * nearest populated place by a k-d tree search. */
#include <math.h>
#include <string.h>

#include "core/error.h"
#include "geoloc/distance.h"
#include "geoloc/s2.h"
#include "place/place_internal.h"

#define DEG_KM (GEOLOC_EARTH_RADIUS_KM * M_PI / 180.0)
#define MAX_PART_COUNTRIES 32

/* Sign of the turn p -> q -> r: > 0 left, < 0 right, 0 collinear. */
static double orient(double px, double py, double qx, double qy, double rx, double ry) {
    return (qx - px) * (ry - py) - (qy - py) * (rx - px);
}

int place_segments_cross(double ax, double ay, double bx, double by, double px, double py,
                         double qx, double qy) {
    /* a and b on strictly different sides of line pq, a vertex on it counting as the
     * right side (so a ring through it is counted once or twice, never once too many) */
    if ((orient(px, py, qx, qy, ax, ay) > 0) == (orient(px, py, qx, qy, bx, by) > 0)) return 0;
    double sp = orient(ax, ay, bx, by, px, py), sq = orient(ax, ay, bx, by, qx, qy);
    return (sp > 0 && sq <= 0) || (sp <= 0 && sq > 0);
}

/* The covering cell holding the leaf cell `leaf`, or NULL. */
static const place_cell *find_cell(const geoloc_place_db *db, geoloc_cell leaf) {
    uint32_t lo = 0, hi = db->n_cells; /* first cell whose range starts after leaf */
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (geoloc_s2_range_min(db->cells[mid].id) <= leaf) lo = mid + 1;
        else hi = mid;
    }
    if (lo == 0) return NULL;
    const place_cell *c = &db->cells[lo - 1];
    return leaf <= geoloc_s2_range_max(c->id) ? c : NULL;
}

/* The country holding (lat, lon) by the edge parity inside the cell part, or PLACE_NONE. */
static uint32_t part_country(const geoloc_place_db *db, const place_part *part, double lat, double lon) {
    uint32_t country[MAX_PART_COUNTRIES];
    int inside[MAX_PART_COUNTRIES], n = 0;
    if (part->ref_country != PLACE_NONE) {
        country[0] = part->ref_country;
        inside[0] = 1;
        n = 1;
    }
    const double rx = part->ref_lon, ry = part->ref_lat;
    const uint32_t *ids = db->part_edges + part->edge_begin;
    for (uint32_t i = 0; i < part->edge_count; i++) {
        const place_edge *e = &db->edges[ids[i]];
        if (!place_segments_cross(e->lon1, e->lat1, e->lon2, e->lat2, rx, ry, lon, lat)) continue;
        int k = 0;
        while (k < n && country[k] != e->country) k++;
        if (k == n) {
            if (n == MAX_PART_COUNTRIES) continue; /* the builder keeps fewer countries per part */
            country[n] = e->country;
            inside[n++] = 0;
        }
        inside[k] ^= 1;
    }
    for (int k = 0; k < n; k++)
        if (inside[k]) return country[k];
    return PLACE_NONE;
}

/* x - ref taken the short way round, in [-180, 180]. */
static double lon_diff(double x, double ref) {
    double d = x - ref;
    return d > 180 ? d - 360 : d < -180 ? d + 360 : d;
}

/* Distance (km) from (lat, lon) to an edge, on a local equirectangular
 * projection around the point (longitudes taken the short way round). */
static double edge_km(const place_edge *e, double lat, double lon) {
    double kx = DEG_KM * cos(lat * M_PI / 180.0), ky = DEG_KM;
    double ax = lon_diff(e->lon1, lon) * kx, ay = (e->lat1 - lat) * ky;
    double bx = lon_diff(e->lon2, lon) * kx, by = (e->lat2 - lat) * ky;
    double dx = bx - ax, dy = by - ay, len2 = dx * dx + dy * dy;
    double t = len2 > 0 ? -(ax * dx + ay * dy) / len2 : 0.0;
    if (t < 0) t = 0;
    if (t > 1) t = 1;
    double x = ax + t * dx, y = ay + t * dy;
    return sqrt(x * x + y * y);
}

/* The coast ids [*begin, *end) of grid square b; 0 when it has none. */
static int coast_bucket(const geoloc_place_db *db, uint32_t b, uint32_t *begin, uint32_t *end) {
    uint32_t lo = 0, hi = db->n_coast_buckets;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (db->coast_index[mid].bucket < b) lo = mid + 1;
        else hi = mid;
    }
    if (lo == db->n_coast_buckets || db->coast_index[lo].bucket != b) return 0;
    *begin = db->coast_index[lo].begin;
    *end = lo + 1 < db->n_coast_buckets ? db->coast_index[lo + 1].begin : (uint32_t)db->n_coast_edges;
    return 1;
}

/* The country of the nearest edge within GEOLOC_PLACE_COAST_KM, or PLACE_NONE. */
static uint32_t coast_country(const geoloc_place_db *db, double lat, double lon) {
    double dlat = GEOLOC_PLACE_COAST_KM / DEG_KM;
    double c = cos(fmin(fabs(lat) + dlat, 90.0) * M_PI / 180.0);
    double dlon = c * 360.0 > dlat ? dlat / c : 360.0;
    int r0 = (int)floor((lat - dlat + 90.0) / PLACE_COAST_DEG), r1 = (int)floor((lat + dlat + 90.0) / PLACE_COAST_DEG);
    int c0 = (int)floor((lon - dlon + 180.0) / PLACE_COAST_DEG), c1 = (int)floor((lon + dlon + 180.0) / PLACE_COAST_DEG);
    if (r0 < 0) r0 = 0;
    if (r1 >= PLACE_COAST_ROWS) r1 = PLACE_COAST_ROWS - 1;
    if (c1 - c0 >= PLACE_COAST_COLS) c0 = 0, c1 = PLACE_COAST_COLS - 1;
    double best = GEOLOC_PLACE_COAST_KM;
    uint32_t found = PLACE_NONE;
    for (int r = r0; r <= r1; r++)
        for (int col = c0; col <= c1; col++) {
            int wrapped = ((col % PLACE_COAST_COLS) + PLACE_COAST_COLS) % PLACE_COAST_COLS;
            uint32_t b = (uint32_t)(r * PLACE_COAST_COLS + wrapped);
            uint32_t i, end;
            if (!coast_bucket(db, b, &i, &end)) continue;
            for (; i < end; i++) {
                const place_edge *e = &db->edges[db->coast_edges[i]];
                double d = edge_km(e, lat, lon);
                if (d <= best) best = d, found = e->country;
            }
        }
    return found;
}

/* Squared distance from q to the box (min xyz, max xyz), slightly under. */
static double box_d2(const float *box, const double q[3]) {
    double d2 = 0;
    for (int j = 0; j < 3; j++) {
        double d = q[j] < box[j] ? box[j] - q[j] : q[j] > box[3 + j] ? q[j] - box[3 + j] : 0.0;
        d2 += d * d;
    }
    return d2 * (1 - 1e-6);
}

/* The nearest city of >= min_population in the k-d subtree [lo, hi) of
 * depth `depth`, by squared chord to q; subtrees whose largest population is
 * too small, or whose box is beyond the best so far, are skipped. */
static void nearest_in(const geoloc_place_db *db, uint32_t lo, uint32_t hi, int depth, const double q[3],
                       uint32_t min_population, uint32_t *best, double *best_d2) {
    while (lo < hi) {
        uint32_t m = lo + (hi - lo) / 2;
        if (db->subtree_max[m] < min_population || box_d2(db->subtree_box + 6 * (size_t)m, q) >= *best_d2) return;
        const double *p = db->city_xyz + 3 * (size_t)m;
        if (db->cities[m].population >= min_population) {
            double dx = p[0] - q[0], dy = p[1] - q[1], dz = p[2] - q[2], d2 = dx * dx + dy * dy + dz * dz;
            if (d2 < *best_d2) *best_d2 = d2, *best = m;
        }
        double diff = q[depth % 3] - p[depth % 3];
        uint32_t near_lo = diff < 0 ? lo : m + 1, near_hi = diff < 0 ? m : hi;
        uint32_t far_lo = diff < 0 ? m + 1 : lo, far_hi = diff < 0 ? hi : m;
        nearest_in(db, near_lo, near_hi, depth + 1, q, min_population, best, best_d2);
        if (diff * diff >= *best_d2) return;
        lo = far_lo, hi = far_hi;
        depth++;
    }
}

geoloc_status geoloc_place_lookup(const geoloc_place_db *db, double lat, double lon,
                                  uint32_t min_population, geoloc_place *out, geoloc_error *err) {
    memset(out, 0, sizeof *out);
    out->country = out->region = out->city = out->city_country = "";
    out->city_km = -1.0;
    if (!(lat >= -90.0 && lat <= 90.0) || !(lon >= -180.0 && lon <= 180.0))
        return error_set(err, GEOLOC_E_RANGE, "coordinate %g,%g out of range (lat in [-90, 90], lon in [-180, 180])",
                         lat, lon);
    /* the antimeridian and the poles lie on outlines (Natural Earth cuts there):
     * taken just inside, so that they belong to the country that reaches them */
    lon = lon >= 180.0 ? 180.0 - 1e-9 : lon <= -180.0 ? -180.0 + 1e-9 : lon;
    lat = lat >= 90.0 ? 90.0 - 1e-9 : lat <= -90.0 ? -90.0 + 1e-9 : lat;
    uint32_t country = PLACE_NONE;
    const place_cell *cell = find_cell(db, geoloc_s2_from_latlng(lat, lon));
    for (uint32_t k = 0; cell && k < cell->n_parts; k++) {
        const place_part *p = &db->parts[cell->part + k];
        if (lon < p->lon_min || lon > p->lon_max || lat < p->lat_min || lat > p->lat_max) continue;
        country = part_country(db, p, lat, lon);
        break;
    }
    out->in_country = country != PLACE_NONE;
    if (country == PLACE_NONE) country = coast_country(db, lat, lon);
    if (country != PLACE_NONE) {
        const place_country *c = &db->countries[country];
        memcpy(out->country_code, c->code, 3);
        out->country = db->strings + c->name;
    }
    double q[3], d2 = INFINITY;
    uint32_t nearest = PLACE_NONE;
    place_unit_vector(lat, lon, q);
    nearest_in(db, 0, db->n_cities, 0, q, min_population, &nearest, &d2);
    if (nearest != PLACE_NONE) {
        const place_city *city = &db->cities[nearest];
        out->city_km = geoloc_haversine_km(lat, lon, city->lat, city->lon);
        out->city = db->strings + city->name;
        out->city_country = city->country;
        out->city_population = city->population;
        out->city_lat = city->lat;
        out->city_lon = city->lon;
    }
    return GEOLOC_OK;
}
