/* Partition files (the published GeoEstimation format), lookup of photos
 * and cells, and the hierarchy between partitions. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "geo/partition_internal.h"
#include "geoloc/partition.h"
#include "io/atomic_file.h"
#include "io/csv.h"

geoloc_partition *partition_alloc(size_t n) {
    geoloc_partition *p = calloc(1, sizeof *p);
    if (!p) return NULL;
    size_t m = n ? n : 1;
    p->n = n;
    p->cell = malloc(m * sizeof *p->cell);
    p->count = malloc(m * sizeof *p->count);
    p->lat = malloc(m * sizeof *p->lat);
    p->lng = malloc(m * sizeof *p->lng);
    if (!p->cell || !p->count || !p->lat || !p->lng) {
        geoloc_partition_free(p);
        return NULL;
    }
    return p;
}

void geoloc_partition_free(geoloc_partition *p) {
    if (!p) return;
    free(p->cell);
    free(p->count);
    free(p->lat);
    free(p->lng);
    free(p->sorted_cell);
    free(p->sorted_class);
    free(p);
}

typedef struct {
    geoloc_cell cell;
    uint32_t cls;
} cell_class;

static int cmp_cell_class(const void *a, const void *b) {
    geoloc_cell x = ((const cell_class *)a)->cell, y = ((const cell_class *)b)->cell;
    return (x > y) - (x < y);
}

int partition_index(geoloc_partition *p) {
    size_t m = p->n ? p->n : 1;
    cell_class *cc = malloc(m * sizeof *cc);
    free(p->sorted_cell);
    free(p->sorted_class);
    p->sorted_cell = malloc(m * sizeof *p->sorted_cell);
    p->sorted_class = malloc(m * sizeof *p->sorted_class);
    if (!cc || !p->sorted_cell || !p->sorted_class) {
        free(cc);
        return -1;
    }
    for (size_t k = 0; k < p->n; k++) cc[k] = (cell_class){p->cell[k], (uint32_t)k};
    qsort(cc, p->n, sizeof *cc, cmp_cell_class);
    for (size_t k = 0; k < p->n; k++) {
        p->sorted_cell[k] = cc[k].cell;
        p->sorted_class[k] = cc[k].cls;
    }
    free(cc);
    return 0;
}

/* Position of the first sorted cell whose range ends at or after `cell`. */
static size_t first_ending_after(const geoloc_partition *p, geoloc_cell cell) {
    size_t lo = 0, hi = p->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (geoloc_s2_range_max(p->sorted_cell[mid]) < cell) lo = mid + 1;
        else hi = mid;
    }
    return lo;
}

long geoloc_partition_find(const geoloc_partition *p, geoloc_cell cell) {
    size_t k = first_ending_after(p, cell);
    if (k < p->n && geoloc_s2_contains(p->sorted_cell[k], cell)) return (long)p->sorted_class[k];
    return -1;
}

long geoloc_partition_find_latlng(const geoloc_partition *p, double lat, double lng) {
    geoloc_cell leaf = geoloc_s2_from_latlng(lat, lng);
    return leaf ? geoloc_partition_find(p, leaf) : -1;
}

size_t geoloc_partition_ancestors(const geoloc_partition *fine, const geoloc_partition *coarse,
                                  int32_t *ancestor) {
    size_t missing = 0;
    for (size_t k = 0; k < fine->n; k++) {
        ancestor[k] = (int32_t)geoloc_partition_find(coarse, fine->cell[k]);
        missing += ancestor[k] < 0;
    }
    return missing;
}

/* ---- reading ------------------------------------------------------------ */

static const char *const COL_CLASS[] = {"class_label", "CLASS", NULL};
static const char *const COL_HEX[] = {"hex_id", "HEX ID", NULL};
static const char *const COL_COUNT[] = {"imgs_per_cell", "IMAGES PER CELL", NULL};
static const char *const COL_LAT[] = {"latitude_mean", "MEAN LATITUDE", NULL};
static const char *const COL_LNG[] = {"longitude_mean", "MEAN LONGITUDE", NULL};

typedef struct {
    size_t n, cap;
    uint64_t *label;
    long *line;
    geoloc_cell *cell;
    uint64_t *count;
    double *lat, *lng;
} rows;

static int rows_push(rows *r, uint64_t label, long line, geoloc_cell cell, uint64_t count,
                     double lat, double lng) {
    if (r->n == r->cap) {
        size_t cap = r->cap ? r->cap * 2 : 4096;
        void *a = realloc(r->label, cap * sizeof *r->label);
        if (a) r->label = a;
        void *b = realloc(r->line, cap * sizeof *r->line);
        if (b) r->line = b;
        void *c = realloc(r->cell, cap * sizeof *r->cell);
        if (c) r->cell = c;
        void *d = realloc(r->count, cap * sizeof *r->count);
        if (d) r->count = d;
        void *e = realloc(r->lat, cap * sizeof *r->lat);
        if (e) r->lat = e;
        void *f = realloc(r->lng, cap * sizeof *r->lng);
        if (f) r->lng = f;
        if (!a || !b || !c || !d || !e || !f) return -1;
        r->cap = cap;
    }
    r->label[r->n] = label;
    r->line[r->n] = line;
    r->cell[r->n] = cell;
    r->count[r->n] = count;
    r->lat[r->n] = lat;
    r->lng[r->n] = lng;
    r->n++;
    return 0;
}

static void rows_free(rows *r) {
    free(r->label);
    free(r->line);
    free(r->cell);
    free(r->count);
    free(r->lat);
    free(r->lng);
}

/* Parses one data row into `r`; returns GEOLOC_OK or an error naming the field. */
static geoloc_status parse_cell_row(const csv_field *f, size_t nf, const int *col, rows *r,
                                    const char *path, long line, geoloc_error *err) {
    static const char *const names[5] = {"class_label", "hex_id", "imgs_per_cell",
                                         "latitude_mean", "longitude_mean"};
    size_t needed = 0;
    for (int k = 0; k < 5; k++)
        if ((size_t)col[k] + 1 > needed) needed = (size_t)col[k] + 1;
    if (nf < needed)
        return error_set(err, GEOLOC_E_PARSE, "%s:%ld: expected %zu fields, found %zu", path, line,
                         needed, nf);
    unsigned long long label, count;
    geoloc_cell cell;
    double lat, lng;
    csv_field c = f[col[0]], h = f[col[1]], n = f[col[2]], la = f[col[3]], lo = f[col[4]];
#define FIELD_ERROR(k, field, what)                                                         \
    error_set(err, GEOLOC_E_PARSE, "%s:%ld: %s: %s: '%.*s'", path, line, names[k], what, \
              (int)((field).len > 40 ? 40 : (field).len), (field).p)
    if (csv_parse_uint(c.p, c.len, &label) != 0 || label > UINT32_MAX)
        return FIELD_ERROR(0, c, "not a class number");
    geoloc_status st = geoloc_s2_from_token(h.p, h.len, &cell);
    if (st != GEOLOC_OK) return FIELD_ERROR(1, h, "not a valid S2 cell token");
    if (csv_parse_uint(n.p, n.len, &count) != 0 || count == 0)
        return FIELD_ERROR(2, n, "not a positive photo count");
    if (csv_parse_double(la.p, la.len, &lat) != 0 || !isfinite(lat) || lat < -90 || lat > 90)
        return FIELD_ERROR(3, la, "not a latitude in [-90, 90]");
    if (csv_parse_double(lo.p, lo.len, &lng) != 0 || !isfinite(lng) || lng < -180 || lng > 180)
        return FIELD_ERROR(4, lo, "not a longitude in [-180, 180]");
#undef FIELD_ERROR
    if (rows_push(r, label, line, cell, count, lat, lng) != 0)
        return error_set(err, GEOLOC_E_NOMEM, "%s: out of memory", path);
    return GEOLOC_OK;
}

/* Turns the rows into a partition ordered by class label, checking labels
 * and cells. */
static geoloc_status rows_to_partition(const rows *r, uint64_t num_images, const char *path,
                                       geoloc_partition **out, geoloc_error *err) {
    geoloc_partition *p = partition_alloc(r->n);
    long *line_of = malloc((r->n ? r->n : 1) * sizeof *line_of);
    if (!p || !line_of) {
        geoloc_partition_free(p);
        free(line_of);
        return error_set(err, GEOLOC_E_NOMEM, "%s: out of memory", path);
    }
    for (size_t k = 0; k < r->n; k++) line_of[k] = 0;
    geoloc_status st = GEOLOC_OK;
    uint64_t total = 0;
    for (size_t k = 0; k < r->n && st == GEOLOC_OK; k++) {
        uint64_t c = r->label[k];
        if (c >= r->n)
            st = error_set(err, GEOLOC_E_PARSE,
                           "%s:%ld: class_label %llu out of range (the file has %zu classes: "
                           "labels must be 0..%zu)", path, r->line[k], (unsigned long long)c, r->n,
                           r->n - 1);
        else if (line_of[c])
            st = error_set(err, GEOLOC_E_PARSE, "%s:%ld: class_label %llu repeats line %ld", path,
                           r->line[k], (unsigned long long)c, line_of[c]);
        else {
            line_of[c] = r->line[k];
            p->cell[c] = r->cell[k];
            p->count[c] = r->count[k];
            p->lat[c] = r->lat[k];
            p->lng[c] = r->lng[k];
            total += r->count[k];
        }
    }
    if (st == GEOLOC_OK && partition_index(p) != 0)
        st = error_set(err, GEOLOC_E_NOMEM, "%s: out of memory", path);
    for (size_t k = 1; st == GEOLOC_OK && k < p->n; k++) {
        geoloc_cell a = p->sorted_cell[k - 1], b = p->sorted_cell[k];
        if (geoloc_s2_range_max(a) >= geoloc_s2_range_min(b)) {
            char ta[GEOLOC_S2_TOKEN_SIZE], tb[GEOLOC_S2_TOKEN_SIZE];
            geoloc_s2_to_token(a, ta);
            geoloc_s2_to_token(b, tb);
            st = error_set(err, GEOLOC_E_PARSE, "%s:%ld: cell %s %s cell %s of line %ld", path,
                           line_of[p->sorted_class[k]], tb, a == b ? "repeats" : "overlaps", ta,
                           line_of[p->sorted_class[k - 1]]);
        }
    }
    free(line_of);
    if (st != GEOLOC_OK) {
        geoloc_partition_free(p);
        return st;
    }
    p->num_images = num_images ? num_images : total;
    *out = p;
    return GEOLOC_OK;
}

geoloc_status geoloc_partition_read(const char *path, geoloc_partition **out, geoloc_error *err) {
    geoloc_error local;
    if (!err) err = &local;
    *out = NULL;
    csv_reader *r = csv_open(path, err);
    if (!r) return err->status;
    csv_field f[64];
    size_t nf;
    int col[5] = {-1, -1, -1, -1, -1}, have_header = 0, rc;
    uint64_t num_images = 0;
    rows data = {0};
    geoloc_status st = GEOLOC_OK;
    while (st == GEOLOC_OK && (rc = csv_next_row(r, f, 64, &nf, err)) != 0) {
        long line = csv_line(r);
        if (rc < 0) {
            st = err->status;
        } else if (nf == 1 && f[0].len == 0) {
            continue; /* blank line */
        } else if (have_header) {
            st = parse_cell_row(f, nf, col, &data, path, line, err);
        } else if ((col[0] = csv_find_column(f, nf < 64 ? nf : 64, COL_CLASS)) >= 0) {
            const char *const *names[5] = {COL_CLASS, COL_HEX, COL_COUNT, COL_LAT, COL_LNG};
            for (int k = 1; k < 5 && st == GEOLOC_OK; k++)
                if ((col[k] = csv_find_column(f, nf < 64 ? nf : 64, names[k])) < 0)
                    st = error_set(err, GEOLOC_E_PARSE, "%s:%ld: header has no '%s' column", path,
                                   line, names[k][0]);
            have_header = 1;
        } else if (nf == 1 && memchr(f[0].p, ':', f[0].len)) {
            const char *colon = memchr(f[0].p, ':', f[0].len);
            size_t key = (size_t)(colon - f[0].p), vlen = f[0].len - key - 1;
            const char *v = colon + 1;
            while (vlen && *v == ' ') v++, vlen--;
            unsigned long long value;
            if (key == 10 && !memcmp(f[0].p, "num_images", 10) &&
                csv_parse_uint(v, vlen, &value) != 0)
                st = error_set(err, GEOLOC_E_PARSE, "%s:%ld: num_images: not a count", path, line);
            else if (key == 10 && !memcmp(f[0].p, "num_images", 10))
                num_images = value;
        } else {
            st = error_set(err, GEOLOC_E_PARSE,
                           "%s:%ld: expected 'key: value' preamble lines or the header "
                           "class_label,hex_id,imgs_per_cell,latitude_mean,longitude_mean",
                           path, line);
        }
    }
    if (st == GEOLOC_OK && !have_header)
        st = error_set(err, GEOLOC_E_EMPTY, "%s: no header line class_label,hex_id,...", path);
    if (st == GEOLOC_OK && data.n == 0)
        st = error_set(err, GEOLOC_E_EMPTY, "%s: no cells", path);
    if (st == GEOLOC_OK) st = rows_to_partition(&data, num_images, path, out, err);
    rows_free(&data);
    csv_close(r);
    return st;
}

/* ---- writing ------------------------------------------------------------ */

geoloc_status geoloc_partition_write(const geoloc_partition *p, const char *path,
                                     geoloc_error *err) {
    atomic_file f;
    geoloc_status st = atomic_file_open(&f, path, err);
    if (st != GEOLOC_OK) return st;
    fprintf(f.fp, "num_images: %llu\r\nmin_concept_probability: ---\r\n",
            (unsigned long long)p->num_images);
    fputs("class_label,hex_id,imgs_per_cell,latitude_mean,longitude_mean\r\n", f.fp);
    for (size_t k = 0; k < p->n; k++) {
        char token[GEOLOC_S2_TOKEN_SIZE], la[32], lo[32];
        geoloc_s2_to_token(p->cell[k], token);
        csv_format_double(p->lat[k], la);
        csv_format_double(p->lng[k], lo);
        fprintf(f.fp, "%zu,%s,%llu,%s,%s\r\n", k, token, (unsigned long long)p->count[k], la, lo);
    }
    return atomic_file_commit(&f, err);
}
