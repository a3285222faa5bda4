/* Drawing photo-like points inside the cells of a partition (for benchmarks
 * and tests): uniformly drawn leaf cells, in a seeded random order. */
#include <math.h>
#include <stdlib.h>

#include "core/error.h"
#include "geoloc/partition.h"

/* splitmix64: small, fast, good enough for drawing test points. */
static uint64_t next_random(uint64_t *state) {
    uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

geoloc_status geoloc_partition_sample_points(const geoloc_partition *p, uint64_t seed, double scale,
                                             geoloc_points **out, geoloc_error *err) {
    if (!p || !out) return error_set(err, GEOLOC_E_ARG, "partition sample: missing argument");
    *out = NULL;
    if (!(scale >= 0 && scale <= 1e6))
        return error_set(err, GEOLOC_E_ARG, "partition sample: scale %g is outside [0, 1e6]", scale);
    size_t total = 0;
    for (size_t c = 0; c < p->n; c++) total += (size_t)llround((double)p->count[c] * scale);
    geoloc_points *pts = calloc(1, sizeof *pts);
    geoloc_cell *leaf = malloc((total ? total : 1) * sizeof *leaf);
    if (pts) {
        pts->lat = malloc((total ? total : 1) * sizeof *pts->lat);
        pts->lng = malloc((total ? total : 1) * sizeof *pts->lng);
    }
    if (!pts || !leaf || !pts->lat || !pts->lng) {
        geoloc_points_free(pts);
        free(leaf);
        return error_set(err, GEOLOC_E_NOMEM, "partition sample: out of memory for %zu points", total);
    }
    uint64_t state = seed;
    size_t n = 0;
    for (size_t c = 0; c < p->n; c++) {
        size_t m = (size_t)llround((double)p->count[c] * scale);
        geoloc_cell first = geoloc_s2_range_min(p->cell[c]);
        uint64_t leaves = (geoloc_s2_range_max(p->cell[c]) - first) / 2 + 1;
        for (size_t k = 0; k < m; k++) leaf[n++] = first + 2 * (next_random(&state) % leaves);
    }
    for (size_t k = n; k > 1; k--) { /* Fisher-Yates: photos come in no cell order */
        size_t j = next_random(&state) % k;
        geoloc_cell t = leaf[k - 1];
        leaf[k - 1] = leaf[j];
        leaf[j] = t;
    }
    for (size_t k = 0; k < n; k++) geoloc_s2_center(leaf[k], &pts->lat[k], &pts->lng[k]);
    free(leaf);
    pts->n = n;
    *out = pts;
    return GEOLOC_OK;
}
