/* geoloc_place_build: the S2-cell covering of the country outlines (cells of
 * levels PLACE_MIN_LEVEL..PLACE_MAX_LEVEL, split while more than
 * PLACE_MAX_EDGES edges cross them), the coast grid, the cities' k-d order, and
 * the place file written atomically. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "geoloc/s2.h"
#include "io/atomic_file.h"
#include "place/place_build.h"
#include "place/place_internal.h"

#define PLACE_MIN_LEVEL 3
#define PLACE_MAX_LEVEL 14
#define PLACE_MAX_EDGES 16
#define BAND_ROWS 1800 /* 0.1-degree latitude bands of the build-time ray casting */
#define BOUNDARY_SAMPLES 16

typedef struct rect {
    double lon_min, lon_max, lat_min, lat_max;
} rect;

typedef struct builder {
    const place_input *in;
    const place_edge *edges;
    uint32_t *band_start, *band_edges; /* edges meeting each latitude band */
    uint8_t *parity;                   /* per country, for ray casting */
    place_vec cells, parts, part_edges;
} builder;

static int band_of(double lat) {
    int b = (int)floor((lat + 90.0) * 10.0);
    return b < 0 ? 0 : b >= BAND_ROWS ? BAND_ROWS - 1 : b;
}

/* Buckets the edges by latitude band (counting sort). */
static int build_bands(builder *b) {
    size_t n = b->in->edges.n;
    b->band_start = calloc(BAND_ROWS + 1, sizeof *b->band_start);
    size_t total = 0;
    for (int pass = 0; pass < 2 && b->band_start; pass++) {
        uint32_t *fill = pass ? calloc(BAND_ROWS, sizeof *fill) : NULL;
        if (pass && (!fill || !(b->band_edges = malloc((total ? total : 1) * sizeof *b->band_edges)))) {
            free(fill);
            return -1;
        }
        for (size_t i = 0; i < n; i++) {
            const place_edge *e = &b->edges[i];
            int lo = band_of(fmin(e->lat1, e->lat2)), hi = band_of(fmax(e->lat1, e->lat2));
            for (int k = lo; k <= hi; k++)
                if (pass) b->band_edges[b->band_start[k] + fill[k]++] = (uint32_t)i;
                else b->band_start[k + 1]++, total++;
        }
        if (!pass)
            for (int k = 0; k < BAND_ROWS; k++) b->band_start[k + 1] += b->band_start[k];
        free(fill);
    }
    return b->band_start ? 0 : -1;
}

/* The country holding (lon, lat) by a ray cast eastwards, or PLACE_NONE. */
static uint32_t ray_country(builder *b, double lon, double lat) {
    int k = band_of(lat);
    uint32_t hit = PLACE_NONE;
    memset(b->parity, 0, b->in->countries.n);
    for (uint32_t i = b->band_start[k]; i < b->band_start[k + 1]; i++) {
        const place_edge *e = &b->edges[b->band_edges[i]];
        if ((e->lat1 > lat) == (e->lat2 > lat)) continue;
        double x = e->lon1 + (lat - e->lat1) * (e->lon2 - e->lon1) / (e->lat2 - e->lat1);
        if (x > lon) b->parity[e->country] ^= 1;
    }
    for (uint32_t c = 0; c < b->in->countries.n && hit == PLACE_NONE; c++)
        if (b->parity[c]) hit = c;
    return hit;
}

static void to_xyz(double lat, double lon, double p[3]) {
    double la = lat * M_PI / 180.0, lo = lon * M_PI / 180.0;
    p[0] = cos(la) * cos(lo), p[1] = cos(la) * sin(lo), p[2] = sin(la);
}

/* The lon/lat rectangles holding `cell` (its edges are geodesics, sampled and
 * padded): one, or two for a cell across the antimeridian. Returns how many. */
static int cell_rects(geoloc_cell cell, rect out[2]) {
    double lat_min = 90, lat_max = -90, east_min = 180, east_max = -180, west_min = 180, west_max = -180;
    int pole = 0;
    for (int k = 0; k < 4; k++) {
        double a[3], c[3], lat, lon;
        geoloc_s2_vertex(cell, k, &lat, &lon);
        to_xyz(lat, lon, a);
        if (fabs(lat) > 89.999) pole = 1;
        geoloc_s2_vertex(cell, (k + 1) % 4, &lat, &lon);
        to_xyz(lat, lon, c);
        for (int s = 0; s < BOUNDARY_SAMPLES; s++) {
            double t = (double)s / BOUNDARY_SAMPLES, p[3];
            for (int j = 0; j < 3; j++) p[j] = (1 - t) * a[j] + t * c[j];
            double la = atan2(p[2], hypot(p[0], p[1])) * 180.0 / M_PI, lo = atan2(p[1], p[0]) * 180.0 / M_PI;
            lat_min = fmin(lat_min, la), lat_max = fmax(lat_max, la);
            if (lo >= 0) east_min = fmin(east_min, lo), east_max = fmax(east_max, lo);
            else west_min = fmin(west_min, lo), west_max = fmax(west_max, lo);
        }
    }
    if (geoloc_s2_from_latlng_level(90, 0, geoloc_s2_level(cell)) == cell) pole = 1, lat_max = 90;
    if (geoloc_s2_from_latlng_level(-90, 0, geoloc_s2_level(cell)) == cell) pole = 1, lat_min = -90;
    double pad = 0.02 * (lat_max - lat_min) + 1e-4;
    lat_min = fmax(-90, lat_min - pad), lat_max = fmin(90, lat_max + pad);
    int n = 1;
    if (pole) {
        out[0] = (rect){-180, 180, lat_min, lat_max};
    } else if (east_max >= east_min && west_max >= west_min && east_min - west_max > 180) {
        /* across the antimeridian: [east_min, 180] and [-180, west_max] */
        out[0] = (rect){fmax(-180, east_min - pad * 2 - 1e-4), 180, lat_min, lat_max};
        out[1] = (rect){-180, fmin(180, west_max + pad * 2 + 1e-4), lat_min, lat_max};
        n = 2;
    } else {
        double lo = fmin(east_min, west_min), hi = fmax(east_max, west_max);
        double lpad = 0.02 * (hi - lo) + 1e-4 + pad / fmax(cos(fmax(fabs(lat_min), fabs(lat_max)) * M_PI / 180.0), 0.01);
        out[0] = (rect){fmax(-180, lo - lpad), fmin(180, hi + lpad), lat_min, lat_max};
    }
    return n;
}

static int edge_meets(const place_edge *e, const rect *r) {
    return fmax(e->lon1, e->lon2) >= r->lon_min && fmin(e->lon1, e->lon2) <= r->lon_max &&
           fmax(e->lat1, e->lat2) >= r->lat_min && fmin(e->lat1, e->lat2) <= r->lat_max;
}

/* Edges of `ids` meeting any of the rects, into a new array (*n_out). */
static uint32_t *filter_edges(const builder *b, const uint32_t *ids, size_t n, const rect *r, int n_rects,
                              size_t *n_out) {
    uint32_t *out = malloc((n ? n : 1) * sizeof *out);
    if (!out) return NULL;
    size_t m = 0;
    for (size_t i = 0; i < n; i++)
        for (int k = 0; k < n_rects; k++)
            if (edge_meets(&b->edges[ids[i]], &r[k])) {
                out[m++] = ids[i];
                break;
            }
    *n_out = m;
    return out;
}

/* Countries among the edges (at most `limit` counted). */
static int count_countries(const builder *b, const uint32_t *ids, size_t n, int limit) {
    uint32_t seen[64];
    int k = 0;
    for (size_t i = 0; i < n && k <= limit; i++) {
        uint32_t c = b->edges[ids[i]].country;
        int j = 0;
        while (j < k && seen[j] != c) j++;
        if (j == k && k < 64) seen[k++] = c;
    }
    return k;
}

/* Emits the covering cell `cell` with its parts. */
static int emit_leaf(builder *b, geoloc_cell cell, const rect *r, int n_rects, const uint32_t *ids, size_t n) {
    place_cell c = {cell, (uint32_t)b->parts.n, (uint32_t)n_rects};
    if (!place_vec_push(&b->cells, &c)) return -1;
    for (int k = 0; k < n_rects; k++) {
        size_t m;
        uint32_t *mine = filter_edges(b, ids, n, &r[k], 1, &m);
        if (!mine) return -1;
        place_part p = {(float)r[k].lon_min, (float)r[k].lon_max, (float)r[k].lat_min, (float)r[k].lat_max,
                        0, 0, 0, (uint32_t)b->part_edges.n, (uint32_t)m};
        p.ref_lon = (float)(0.5 * (r[k].lon_min + r[k].lon_max));
        p.ref_lat = (float)(0.5 * (r[k].lat_min + r[k].lat_max));
        p.ref_country = ray_country(b, p.ref_lon, p.ref_lat);
        int ok = place_vec_push(&b->parts, &p) != NULL;
        for (size_t i = 0; i < m && ok; i++) ok = place_vec_push(&b->part_edges, &mine[i]) != NULL;
        free(mine);
        if (!ok) return -1;
    }
    return 0;
}

/* Covers `cell`, given the edges that may meet it: a leaf, or its four children. */
static int cover(builder *b, geoloc_cell cell, const uint32_t *ids, size_t n) {
    int level = geoloc_s2_level(cell);
    rect r[2];
    int n_rects = cell_rects(cell, r);
    size_t m = n;
    uint32_t *mine = level < PLACE_MIN_LEVEL ? NULL : filter_edges(b, ids, n, r, n_rects, &m);
    if (level >= PLACE_MIN_LEVEL && !mine) return -1;
    const uint32_t *use = mine ? mine : ids;
    int rc;
    int split = level < PLACE_MIN_LEVEL ||
                (level < PLACE_MAX_LEVEL &&
                 (m > PLACE_MAX_EDGES || count_countries(b, use, m, 8) > 8));
    if (!split) {
        rc = emit_leaf(b, cell, r, n_rects, use, m);
    } else {
        rc = 0;
        for (int k = 0; k < 4 && rc == 0; k++) rc = cover(b, geoloc_s2_child(cell, k), use, m);
    }
    free(mine);
    return rc;
}

/* Buckets every edge into the 0.25-degree coast grid (index + ids). */
static int build_coast(const place_input *in, place_vec *index, place_vec *ids) {
    const place_edge *edges = in->edges.data;
    size_t n_buckets = (size_t)PLACE_COAST_ROWS * PLACE_COAST_COLS;
    uint32_t *count = calloc(n_buckets + 1, sizeof *count);
    if (!count) return -1;
    for (int pass = 0; pass < 2; pass++) {
        for (size_t i = 0; i < in->edges.n; i++) {
            const place_edge *e = &edges[i];
            int r0 = (int)floor((fmin(e->lat1, e->lat2) + 90) / PLACE_COAST_DEG);
            int r1 = (int)floor((fmax(e->lat1, e->lat2) + 90) / PLACE_COAST_DEG);
            int c0 = (int)floor((fmin(e->lon1, e->lon2) + 180) / PLACE_COAST_DEG);
            int c1 = (int)floor((fmax(e->lon1, e->lon2) + 180) / PLACE_COAST_DEG);
            r1 = r1 >= PLACE_COAST_ROWS ? PLACE_COAST_ROWS - 1 : r1;
            c1 = c1 >= PLACE_COAST_COLS ? PLACE_COAST_COLS - 1 : c1;
            r0 = r0 > r1 ? r1 : r0, c0 = c0 > c1 ? c1 : c0;
            for (int r = r0; r <= r1; r++)
                for (int c = c0; c <= c1; c++) {
                    size_t bkt = (size_t)r * PLACE_COAST_COLS + (size_t)c;
                    if (pass) ((uint32_t *)ids->data)[count[bkt]++] = (uint32_t)i;
                    else count[bkt + 1]++;
                }
        }
        if (pass) break;
        for (size_t k = 0; k < n_buckets; k++) {
            place_bucket nb = {(uint32_t)k, count[k]}; /* count[k]: the start of bucket k */
            if (count[k + 1] && !place_vec_push(index, &nb)) {
                free(count);
                return -1;
            }
            count[k + 1] += count[k];
        }
        if (!(ids->data = malloc((count[n_buckets] + 1) * sizeof(uint32_t)))) {
            free(count);
            return -1;
        }
        ids->n = count[n_buckets];
    }
    free(count);
    return 0;
}

static int kd_axis; /* the axis city_order compares (the build is single-threaded) */

static int city_order(const void *pa, const void *pb) {
    const place_city *a = pa, *b = pb;
    double u[3], v[3];
    place_unit_vector(a->lat, a->lon, u);
    place_unit_vector(b->lat, b->lon, v);
    return u[kd_axis] < v[kd_axis] ? -1 : u[kd_axis] > v[kd_axis];
}

/* Orders cities [lo, hi) as an implicit k-d tree (place_format.h). */
static void kd_order(place_city *c, size_t lo, size_t hi, int depth) {
    if (hi - lo < 2) return;
    kd_axis = depth % 3;
    qsort(c + lo, hi - lo, sizeof *c, city_order);
    size_t m = lo + (hi - lo) / 2;
    kd_order(c, lo, m, depth + 1);
    kd_order(c, m + 1, hi, depth + 1);
}

/* Writes the header and the sections (8-byte aligned) to `path`. */
static geoloc_status write_file(const char *path, const place_vec *sec[PLACE_N_SECTIONS], geoloc_error *err) {
    place_header h = {0};
    memcpy(h.magic, PLACE_MAGIC, 8);
    h.version = PLACE_VERSION;
    h.n_sections = PLACE_N_SECTIONS;
    uint64_t at = sizeof h;
    for (int s = 0; s < PLACE_N_SECTIONS; s++) {
        at = (at + 7) & ~(uint64_t)7;
        h.sections[s] = (place_section){at, sec[s]->n};
        at += sec[s]->n * PLACE_RECORD_SIZE[s];
    }
    h.file_size = at;
    atomic_file f;
    geoloc_status st = atomic_file_open(&f, path, err);
    if (st != GEOLOC_OK) return st;
    static const char zeros[8];
    uint64_t pos = sizeof h;
    int ok = fwrite(&h, sizeof h, 1, f.fp) == 1;
    for (int s = 0; s < PLACE_N_SECTIONS && ok; s++) {
        size_t gap = (size_t)(h.sections[s].offset - pos);
        size_t bytes = sec[s]->n * PLACE_RECORD_SIZE[s];
        ok = (!gap || fwrite(zeros, 1, gap, f.fp) == gap) && (!bytes || fwrite(sec[s]->data, 1, bytes, f.fp) == bytes);
        pos = h.sections[s].offset + bytes;
    }
    if (!ok) {
        atomic_file_abort(&f);
        return error_set(err, GEOLOC_E_IO, "%s: write failed", path);
    }
    return atomic_file_commit(&f, err);
}

geoloc_status geoloc_place_build(const char *countries, const char *cities, const char *out,
                                 geoloc_error *err) {
    place_input in;
    geoloc_status st = place_input_read(countries, cities, &in, err);
    if (st != GEOLOC_OK) return st;
    builder b = {.in = &in, .edges = in.edges.data};
    b.cells.size = sizeof(place_cell);
    b.parts.size = sizeof(place_part);
    b.part_edges.size = sizeof(uint32_t);
    place_vec coast_index = {.size = sizeof(place_bucket)}, coast_edges = {.size = 4};
    uint32_t *all = malloc((in.edges.n ? in.edges.n : 1) * sizeof *all);
    b.parity = malloc(in.countries.n);
    int rc = all && b.parity ? build_bands(&b) : -1;
    for (size_t i = 0; rc == 0 && i < in.edges.n; i++) all[i] = (uint32_t)i;
    geoloc_cell face = geoloc_s2_begin(0);
    for (int k = 0; k < 6 && rc == 0; k++, face = geoloc_s2_next(face)) rc = cover(&b, face, all, in.edges.n);
    if (rc == 0) rc = build_coast(&in, &coast_index, &coast_edges);
    if (rc == 0) kd_order(in.cities.data, 0, in.cities.n, 0);
    if (rc == 0) {
        const place_vec *sec[PLACE_N_SECTIONS] = {
            [PLACE_COUNTRIES] = &in.countries, [PLACE_STRINGS] = &in.strings, [PLACE_EDGES] = &in.edges,
            [PLACE_CELLS] = &b.cells,          [PLACE_PARTS] = &b.parts,      [PLACE_PART_EDGES] = &b.part_edges,
            [PLACE_COAST_INDEX] = &coast_index, [PLACE_COAST_EDGES] = &coast_edges,
            [PLACE_CITIES] = &in.cities};
        st = write_file(out, sec, err);
    } else {
        st = error_set(err, GEOLOC_E_NOMEM, "%s: out of memory while building the place index", out);
    }
    free(all);
    free(b.parity);
    free(b.band_start);
    free(b.band_edges);
    place_vec_free(&b.cells);
    place_vec_free(&b.parts);
    place_vec_free(&b.part_edges);
    place_vec_free(&coast_index);
    place_vec_free(&coast_edges);
    place_input_free(&in);
    return st;
}
