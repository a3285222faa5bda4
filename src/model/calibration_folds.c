/* Author-grouped folds for cross-fitted calibration (geoloc/calibration.h):
 * the photos of one author always land in the same fold, so a fold's
 * out-of-fold predictions come from heads that never saw its photographers. */
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "geoloc/album.h"
#include "geoloc/calibration.h"

typedef struct group {
    size_t first, count; /* its photos: sorted[first .. first + count) */
    uint64_t tie;        /* the order among groups of one size, drawn from the seed */
} group;

typedef struct photo {
    const char *author;
    size_t index;
} photo;

static int by_author(const void *a, const void *b) {
    const photo *x = a, *y = b;
    int c = strcmp(x->author, y->author);
    return c ? c : (x->index > y->index) - (x->index < y->index);
}

static int largest_first(const void *a, const void *b) {
    const group *x = a, *y = b;
    if (x->count != y->count) return x->count < y->count ? 1 : -1;
    return (x->tie > y->tie) - (x->tie < y->tie);
}

/* FNV-1a of the author, mixed with the seed (splitmix64's finaliser). */
static uint64_t tie_key(const char *author, uint64_t seed) {
    uint64_t h = 0xcbf29ce484222325ull;
    for (const unsigned char *p = (const unsigned char *)author; *p; p++) h = (h ^ *p) * 0x100000001b3ull;
    h ^= seed + 0x9e3779b97f4a7c15ull;
    h = (h ^ (h >> 30)) * 0xbf58476d1ce4e5b9ull;
    h = (h ^ (h >> 27)) * 0x94d049bb133111ebull;
    return h ^ (h >> 31);
}

geoloc_status geoloc_calibration_folds(const char *const *author, size_t n, int k, uint64_t seed, int *fold,
                                       geoloc_error *err) {
    if (!author || !fold || k < 2 || (size_t)k > n)
        return error_set(err, GEOLOC_E_ARG, "calibration folds: %d folds of %zu photos", k, n);
    photo *sorted = malloc(n * sizeof *sorted);
    size_t *filled = calloc((size_t)k, sizeof *filled), ng = 0;
    group *g = malloc(n * sizeof *g);
    if (!sorted || !filled || !g) {
        free(sorted);
        free(filled);
        free(g);
        return error_set(err, GEOLOC_E_NOMEM, "out of memory");
    }
    for (size_t i = 0; i < n; i++) sorted[i] = (photo){author[i] ? author[i] : "", i};
    qsort(sorted, n, sizeof *sorted, by_author);
    for (size_t i = 0; i < n; i++) { /* a run of one author is a group; no author: a group of one */
        const char *a = sorted[i].author;
        if (i > 0 && a[0] && !strcmp(a, sorted[i - 1].author)) {
            g[ng - 1].count++;
            continue;
        }
        g[ng++] = (group){.first = i, .count = 1, .tie = tie_key(a, seed ^ (a[0] ? 0 : sorted[i].index + 1))};
    }
    qsort(g, ng, sizeof *g, largest_first);
    for (size_t j = 0; j < ng; j++) { /* each group into the emptiest fold (lowest index on a tie) */
        int best = 0;
        for (int f = 1; f < k; f++)
            if (filled[f] < filled[best]) best = f;
        filled[best] += g[j].count;
        for (size_t i = 0; i < g[j].count; i++) fold[sorted[g[j].first + i].index] = best;
    }
    free(sorted);
    free(filled);
    free(g);
    return GEOLOC_OK;
}

geoloc_status geoloc_calibration_fold_rows(const geoloc_manifest *m, const char *group_column, int k, int folds,
                                           uint64_t seed, uint8_t *is_val, geoloc_error *err) {
    if (!m || !is_val || k < 0 || k >= folds)
        return error_set(err, GEOLOC_E_ARG, "validation fold %d is not in [0, %d)", k, folds);
    const char **key = calloc(m->n ? m->n : 1, sizeof *key);
    int *fold = malloc((m->n ? m->n : 1) * sizeof *fold);
    geoloc_status s = key && fold ? GEOLOC_OK : error_set(err, GEOLOC_E_NOMEM, "out of memory");
    if (s == GEOLOC_OK && group_column) s = geoloc_album_manifest_keys(m, group_column, key, err);
    for (size_t i = 0; s == GEOLOC_OK && !group_column && i < m->n; i++) key[i] = m->row[i].author;
    if (s == GEOLOC_OK) s = geoloc_calibration_folds(key, m->n, folds, seed, fold, err);
    for (size_t i = 0; s == GEOLOC_OK && i < m->n; i++) is_val[i] = fold[i] == k;
    free(key);
    free(fold);
    return s;
}
