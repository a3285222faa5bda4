/* The perceptual hash (DCT pHash) of a photo. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "geoloc/dedup.h"
#include "geoloc/transform.h"

#define SIDE 32

static int by_value(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

geoloc_status geoloc_phash(const geoloc_image *img, uint64_t *out, geoloc_error *err) {
    geoloc_image small = {0};
    geoloc_status s = geoloc_image_resize(img, SIDE, SIDE, &small, err);
    if (s != GEOLOC_OK) return s;
    double grey[SIDE][SIDE], rows[SIDE][SIDE], cosine[SIDE][SIDE], low[64], sorted[64];
    for (int y = 0; y < SIDE; y++)
        for (int x = 0; x < SIDE; x++) {
            const uint8_t *p = small.rgb + 3 * (y * SIDE + x);
            grey[y][x] = 0.299 * p[0] + 0.587 * p[1] + 0.114 * p[2];
        }
    geoloc_image_free(&small);
    for (int u = 0; u < SIDE; u++)
        for (int x = 0; x < SIDE; x++) cosine[u][x] = cos(M_PI * (2 * x + 1) * u / (2.0 * SIDE));
    for (int y = 0; y < SIDE; y++) /* the DCT of each row, then of the columns (only the 9 lowest needed) */
        for (int u = 0; u <= 8; u++) {
            double acc = 0;
            for (int x = 0; x < SIDE; x++) acc += grey[y][x] * cosine[u][x];
            rows[y][u] = acc;
        }
    for (int v = 1; v <= 8; v++)
        for (int u = 1; u <= 8; u++) {
            double acc = 0;
            for (int y = 0; y < SIDE; y++) acc += rows[y][u] * cosine[v][y];
            low[8 * (v - 1) + (u - 1)] = acc;
        }
    memcpy(sorted, low, sizeof low);
    qsort(sorted, 64, sizeof *sorted, by_value);
    double median = (sorted[31] + sorted[32]) / 2;
    uint64_t h = 0;
    for (int i = 0; i < 64; i++)
        if (low[i] > median) h |= 1ull << i;
    *out = h;
    return GEOLOC_OK;
}

geoloc_status geoloc_phash_files(const char *const *paths, size_t n, uint64_t *out, geoloc_error *err) {
    size_t first_failed = n;
    geoloc_error first = {0};
#pragma omp parallel for schedule(dynamic)
    for (size_t i = 0; i < n; i++) {
        geoloc_decode_options opt = {.min_shorter_side = 4 * SIDE};
        geoloc_image img = {0};
        geoloc_error e = {0};
        geoloc_status s = geoloc_image_load(paths[i], &opt, &img, &e);
        if (s == GEOLOC_OK) s = geoloc_phash(&img, &out[i], &e);
        geoloc_image_free(&img);
        if (s != GEOLOC_OK) {
#pragma omp critical
            if (i < first_failed) {
                first_failed = i;
                first = e;
            }
        }
    }
    if (first_failed == n) return GEOLOC_OK;
    return error_set(err, first.status, "%s", first.message);
}

int geoloc_hamming64(uint64_t a, uint64_t b) { return __builtin_popcountll(a ^ b); }
