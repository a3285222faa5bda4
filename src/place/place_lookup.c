/* Look-ups in an opened place file: the S2 covering cell of the point, the
 * parity of the outline edges its segment from the cell's reference point
 * crosses (per country), the coast rule for points in no country, and the
 * nearest populated place by rings of 1-degree buckets. */
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
            for (uint32_t i = db->coast_index[b]; i < db->coast_index[b + 1]; i++) {
                const place_edge *e = &db->edges[db->coast_edges[i]];
                double d = edge_km(e, lat, lon);
                if (d <= best) best = d, found = e->country;
            }
        }
    return found;
}

/* Lower bound (km) of the great-circle distance between two points dlat
 * degrees apart in latitude, dlon in longitude, both within max_lat of the
 * equator: the chord is at least 2 cos(max_lat) sin(dlon / 2). */
static double gap_km(double dlat, double dlon, double max_lat) {
    double s = cos(fmin(max_lat, 90.0) * M_PI / 180.0) * sin(fmin(dlon, 180.0) * M_PI / 360.0);
    double along = 2.0 * asin(fmin(s, 1.0)) * 180.0 / M_PI;
    return DEG_KM * fmax(dlat, along) * 0.999;
}

/* Lower bound (km) of the distance from (lat, lon) to city bucket (row, col). */
static double bucket_km(double lat, double lon, int row, int col) {
    double south = row - 90.0;
    double dlat = lat < south ? south - lat : lat > south + 1 ? lat - south - 1 : 0.0;
    double dlon = fabs(lon_diff(col - 180.0 + 0.5, lon)) - 0.5;
    double max_lat = fmax(fabs(lat), fmax(fabs(south), fabs(south + 1)));
    return gap_km(dlat, dlon < 0 ? 0 : dlon, max_lat);
}

/* The nearest city of >= min_population: rings of buckets around the point's
 * bucket until no bucket of the next ring can be nearer than the best. */
static const place_city *nearest_city(const geoloc_place_db *db, double lat, double lon,
                                      uint32_t min_population, double *km) {
    const place_city *best = NULL;
    double best_km = INFINITY;
    uint32_t home = place_city_bucket(lat, lon);
    int row0 = (int)(home / PLACE_CITY_COLS), col0 = (int)(home % PLACE_CITY_COLS);
    for (int ring = 0; ring <= PLACE_CITY_COLS / 2; ring++) {
        if (ring > 0 && best) {
            /* every bucket of this ring is >= ring-1 degrees away in latitude or in
             * longitude (at latitudes up to those of its rows) */
            double max_lat = fmax(fabs(row0 - ring - 90.0), fabs(row0 + ring + 1 - 90.0));
            if (gap_km(ring - 1, ring - 1, max_lat) >= best_km) break;
        }
        for (int row = row0 - ring; row <= row0 + ring; row++) {
            if (row < 0 || row >= PLACE_CITY_ROWS) continue;
            int full_row = row == row0 - ring || row == row0 + ring;
            int step = full_row || ring == 0 ? 1 : 2 * ring;
            for (int dc = -ring; dc <= ring; dc += step) {
                int col = ((col0 + dc) % PLACE_CITY_COLS + PLACE_CITY_COLS) % PLACE_CITY_COLS;
                uint32_t b = (uint32_t)(row * PLACE_CITY_COLS + col);
                uint32_t i = db->city_index[b], end = db->city_index[b + 1];
                if (i == end || db->cities[i].population < min_population) continue;
                if (best && bucket_km(lat, lon, row, col) >= best_km) continue;
                for (; i < end; i++) {
                    const place_city *c = &db->cities[i];
                    if (c->population < min_population) break; /* largest first */
                    double d = geoloc_haversine_km(lat, lon, c->lat, c->lon);
                    if (d < best_km) best_km = d, best = c;
                }
            }
        }
    }
    *km = best ? best_km : -1.0;
    return best;
}

geoloc_status geoloc_place_lookup(const geoloc_place_db *db, double lat, double lon,
                                  uint32_t min_population, geoloc_place *out, geoloc_error *err) {
    memset(out, 0, sizeof *out);
    out->country = out->region = out->city = out->city_country = "";
    out->city_km = -1.0;
    if (!(lat >= -90.0 && lat <= 90.0) || !(lon >= -180.0 && lon <= 180.0))
        return error_set(err, GEOLOC_E_RANGE, "coordinate %g,%g out of range (lat in [-90, 90], lon in [-180, 180])",
                         lat, lon);
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
    const place_city *city = nearest_city(db, lat, lon, min_population, &out->city_km);
    if (city) {
        out->city = db->strings + city->name;
        out->city_country = city->country;
        out->city_population = city->population;
        out->city_lat = city->lat;
        out->city_lon = city->lon;
    }
    return GEOLOC_OK;
}
