/* Drawing photo-like points inside the cells of a partition. Coordinates
 * are written with 6 decimals (about 10 cm), as photo-sharing sites give them. */
#include "cli/sample.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "geoloc/io.h"

/* splitmix64: small, fast, good enough for drawing test points. */
static uint64_t next_random(uint64_t *state) {
    uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

long long sample_points_write(const geoloc_partition *p, uint64_t seed, double scale,
                              const char *path) {
    size_t total = 0;
    for (size_t c = 0; c < p->n; c++) total += (size_t)llround((double)p->count[c] * scale);
    geoloc_cell *leaf = malloc((total ? total : 1) * sizeof *leaf);
    if (!leaf) {
        fprintf(stderr, "sample: out of memory for %zu points\n", total);
        return -1;
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
    geoloc_atomic_file f;
    geoloc_error err;
    if (geoloc_atomic_file_open(&f, path, &err) != GEOLOC_OK) {
        fprintf(stderr, "sample: %s\n", err.message);
        free(leaf);
        return -1;
    }
    fputs("IMG_ID,LAT,LON\n", f.fp);
    for (size_t k = 0; k < n; k++) {
        double lat, lng;
        geoloc_s2_center(leaf[k], &lat, &lng);
        fprintf(f.fp, "p%zu,%.6f,%.6f\n", k, lat, lng);
    }
    free(leaf);
    if (geoloc_atomic_file_commit(&f, &err) != GEOLOC_OK) {
        fprintf(stderr, "sample: %s\n", err.message);
        return -1;
    }
    return (long long)n;
}
