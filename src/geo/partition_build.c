/* Building adaptive S2 partitions.
 *
 * The reference implementation walks all photos once per level, moving the
 * photos of every over-full cell one level down. The same result falls out
 * of one sort: with the photos' leaf cells in id order, the photos of any
 * cell at any level are one contiguous run, so a cell's count is a
 * difference of two positions and splitting it is four binary searches.
 * A cell at level L is split exactly when the reference would split it: it
 * holds more than tau_max photos and L < level_max (the level loop only
 * moves photos of cells above tau_max, and such cells always sit at the
 * deepest level reached so far). One sort serves every tau_max. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/error.h"
#include "geo/partition_internal.h"
#include "geoloc/partition.h"

typedef struct {
    geoloc_cell leaf;
    uint32_t index; /* position of the photo in the input */
} photo_key;

/* ---- leaf cells, in parallel -------------------------------------------- */

typedef struct {
    const double *lat, *lng;
    photo_key *keys;
    size_t begin, end;
} leaf_job;

static void *leaf_worker(void *arg) {
    leaf_job *job = arg;
    for (size_t k = job->begin; k < job->end; k++) {
        job->keys[k].leaf = geoloc_s2_from_latlng(job->lat[k], job->lng[k]);
        job->keys[k].index = (uint32_t)k;
    }
    return NULL;
}

static void compute_leaves(const double *lat, const double *lng, size_t n, photo_key *keys,
                           int threads) {
    enum { MAX_T = 64 };
    if (threads > MAX_T) threads = MAX_T;
    if ((size_t)threads > n / 4096 + 1) threads = (int)(n / 4096 + 1);
    leaf_job jobs[MAX_T];
    pthread_t tid[MAX_T];
    int started[MAX_T] = {0};
    for (int t = 0; t < threads; t++) {
        jobs[t] = (leaf_job){lat, lng, keys, n * (size_t)t / (size_t)threads,
                             n * (size_t)(t + 1) / (size_t)threads};
        if (t > 0) started[t] = pthread_create(&tid[t], NULL, leaf_worker, &jobs[t]) == 0;
    }
    leaf_worker(&jobs[0]);
    for (int t = 1; t < threads; t++) {
        if (started[t]) pthread_join(tid[t], NULL);
        else leaf_worker(&jobs[t]);
    }
}

/* ---- LSD radix sort on the leaf id (stable) ----------------------------- */

#define RADIX_BITS 11
#define RADIX_SIZE (1 << RADIX_BITS)

static int radix_sort(photo_key *keys, size_t n) {
    photo_key *tmp = malloc((n ? n : 1) * sizeof *tmp);
    size_t *count = malloc((size_t)RADIX_SIZE * 6 * sizeof *count);
    if (!tmp || !count) {
        free(tmp);
        free(count);
        return -1;
    }
    memset(count, 0, (size_t)RADIX_SIZE * 6 * sizeof *count);
    for (size_t k = 0; k < n; k++)
        for (int pass = 0; pass < 6; pass++)
            count[pass * RADIX_SIZE + ((keys[k].leaf >> (pass * RADIX_BITS)) & (RADIX_SIZE - 1))]++;
    photo_key *src = keys, *dst = tmp;
    for (int pass = 0; pass < 6; pass++) {
        size_t *c = count + pass * RADIX_SIZE;
        int trivial = 0;
        for (int d = 0; d < RADIX_SIZE; d++)
            if (c[d] == n) trivial = 1; /* every key has this digit: nothing to do */
        if (trivial) continue;
        size_t sum = 0;
        for (int d = 0; d < RADIX_SIZE; d++) {
            size_t v = c[d];
            c[d] = sum;
            sum += v;
        }
        int shift = pass * RADIX_BITS;
        for (size_t k = 0; k < n; k++) dst[c[(src[k].leaf >> shift) & (RADIX_SIZE - 1)]++] = src[k];
        photo_key *t = src;
        src = dst;
        dst = t;
    }
    if (src != keys) memcpy(keys, src, n * sizeof *keys);
    free(tmp);
    free(count);
    return 0;
}

/* ---- the descent ---------------------------------------------------------- */

typedef struct {
    geoloc_cell cell;
    size_t begin, end; /* run of sorted photos */
} final_cell;

typedef struct {
    final_cell *cells;
    size_t n, cap;
} cell_list;

static int list_push(cell_list *l, geoloc_cell cell, size_t begin, size_t end) {
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 1024;
        final_cell *c = realloc(l->cells, cap * sizeof *c);
        if (!c) return -1;
        l->cells = c;
        l->cap = cap;
    }
    l->cells[l->n++] = (final_cell){cell, begin, end};
    return 0;
}

/* First position in [lo, hi) whose leaf is > `limit`. */
static size_t upper_bound(const photo_key *keys, size_t lo, size_t hi, geoloc_cell limit) {
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (keys[mid].leaf <= limit) lo = mid + 1;
        else hi = mid;
    }
    return lo;
}

typedef struct {
    const photo_key *keys;
    uint64_t tau_min, tau_max;
    int level_max;
    cell_list out;
} descent;

/* Splits `cell` (level `level`, photos [begin, end)) while over tau_max;
 * keeps the resulting cells that hold more than tau_min photos. */
static int descend(descent *d, geoloc_cell cell, int level, size_t begin, size_t end) {
    uint64_t count = end - begin;
    if (count > d->tau_max && level < d->level_max) {
        size_t lo = begin;
        for (int k = 0; k < 4; k++) {
            geoloc_cell child = geoloc_s2_child(cell, k);
            size_t hi = upper_bound(d->keys, lo, end, geoloc_s2_range_max(child));
            if (hi > lo && descend(d, child, level + 1, lo, hi) != 0) return -1;
            lo = hi;
        }
        return 0;
    }
    if (count <= d->tau_min) return 0;
    return list_push(&d->out, cell, begin, end);
}

/* Builds one partition from the sorted keys. */
static geoloc_status build_one(const photo_key *keys, size_t n, const double *lat,
                               const double *lng, const geoloc_partition_params *pp,
                               uint64_t tau_max, uint32_t *label, geoloc_partition **out,
                               geoloc_error *err) {
    descent d = {keys, pp->tau_min, tau_max, pp->level_max, {0}};
    size_t begin = 0;
    while (begin < n) { /* the level_min cells, in order */
        geoloc_cell start = geoloc_s2_parent(keys[begin].leaf, pp->level_min);
        size_t end = upper_bound(keys, begin, n, geoloc_s2_range_max(start));
        /* cells at level_min with <= tau_min photos are dropped before any split */
        if (end - begin > pp->tau_min && descend(&d, start, pp->level_min, begin, end) != 0) {
            free(d.out.cells);
            return error_set(err, GEOLOC_E_NOMEM, "out of memory building cells");
        }
        begin = end;
    }
    geoloc_partition *p = partition_alloc(d.out.n);
    if (!p) {
        free(d.out.cells);
        return error_set(err, GEOLOC_E_NOMEM, "out of memory building cells");
    }
    const uint32_t none = UINT32_MAX;
    for (size_t k = 0; k < n; k++) label[k] = none;
    for (size_t c = 0; c < d.out.n; c++) {
        const final_cell *fc = &d.out.cells[c];
        p->cell[c] = fc->cell;
        p->count[c] = fc->end - fc->begin;
        p->lat[c] = p->lng[c] = 0;
        for (size_t k = fc->begin; k < fc->end; k++) label[keys[k].index] = (uint32_t)c;
    }
    /* Sum in input order, as the reference does, so the means agree bitwise. */
    for (size_t k = 0; k < n; k++) {
        uint32_t c = label[k];
        if (c == none) continue;
        p->lat[c] += lat[k];
        p->lng[c] += lng[k];
    }
    for (size_t c = 0; c < d.out.n; c++) {
        p->lat[c] /= (double)p->count[c];
        p->lng[c] /= (double)p->count[c];
    }
    p->num_images = n;
    free(d.out.cells);
    if (partition_index(p) != 0) {
        geoloc_partition_free(p);
        return error_set(err, GEOLOC_E_NOMEM, "out of memory building cells");
    }
    *out = p;
    return GEOLOC_OK;
}

geoloc_status geoloc_partitions_build(const double *lat, const double *lng, size_t n,
                                      const geoloc_partition_params *params,
                                      geoloc_partition **out, geoloc_error *err) {
    const geoloc_partition_params *pp = params;
    if (!pp || !pp->tau_max || pp->n_partitions == 0 || (n && (!lat || !lng)))
        return error_set(err, GEOLOC_E_ARG, "partition build: missing argument");
    if (pp->level_min < 0 || pp->level_max > GEOLOC_S2_MAX_LEVEL || pp->level_min > pp->level_max)
        return error_set(err, GEOLOC_E_ARG, "partition build: levels must satisfy 0 <= min <= max <= 30");
    for (size_t k = 0; k < pp->n_partitions; k++) {
        out[k] = NULL;
        if (pp->tau_max[k] <= pp->tau_min)
            return error_set(err, GEOLOC_E_ARG, "tau_max %llu must be larger than tau_min %llu",
                             (unsigned long long)pp->tau_max[k], (unsigned long long)pp->tau_min);
    }
    if (n == 0) return error_set(err, GEOLOC_E_EMPTY, "no photos to partition");
    if (n > UINT32_MAX - 1) return error_set(err, GEOLOC_E_ARG, "too many photos (max 4294967294)");
    for (size_t k = 0; k < n; k++)
        if (!(lat[k] >= -90 && lat[k] <= 90 && lng[k] >= -180 && lng[k] <= 180))
            return error_set(err, GEOLOC_E_RANGE, "photo %zu: coordinates (%g, %g) out of range", k,
                             lat[k], lng[k]);
    photo_key *keys = malloc(n * sizeof *keys);
    uint32_t *label = malloc(n * sizeof *label);
    if (!keys || !label) {
        free(keys);
        free(label);
        return error_set(err, GEOLOC_E_NOMEM, "out of memory for %zu photos", n);
    }
    long threads = pp->threads > 0 ? pp->threads : sysconf(_SC_NPROCESSORS_ONLN);
    compute_leaves(lat, lng, n, keys, threads > 0 ? (int)threads : 1);
    geoloc_status st = radix_sort(keys, n) == 0
                           ? GEOLOC_OK
                           : error_set(err, GEOLOC_E_NOMEM, "out of memory sorting %zu photos", n);
    for (size_t k = 0; st == GEOLOC_OK && k < pp->n_partitions; k++)
        st = build_one(keys, n, lat, lng, pp, pp->tau_max[k], label, &out[k], err);
    if (st != GEOLOC_OK)
        for (size_t k = 0; k < pp->n_partitions; k++) {
            geoloc_partition_free(out[k]);
            out[k] = NULL;
        }
    free(keys);
    free(label);
    return st;
}
