/* Albums from keys: photos with equal keys share an album, numbered in the
 * order of their first photo (a sort of the keys, then one pass); the keys
 * of a manifest's rows from one of its columns; album sets (the rows listed
 * album by album). */
#include <stdlib.h>
#include <strings.h>
#include <string.h>

#include "core/error.h"
#include "geoloc/album.h"

typedef struct keyed {
    const char *key;
    size_t index;
} keyed;

/* By key, then by index (NULL keys last, each apart). */
static int compare_keyed(const void *x, const void *y) {
    const keyed *a = x, *b = y;
    if (a->key && b->key) {
        int c = strcmp(a->key, b->key);
        if (c) return c;
    } else if (a->key || b->key) {
        return a->key ? -1 : 1;
    }
    return a->index < b->index ? -1 : a->index > b->index;
}

geoloc_status geoloc_album_group(const char *const *keys, size_t n, size_t *album_of, size_t *n_albums,
                                 geoloc_error *err) {
    *n_albums = 0;
    if (n == 0) return GEOLOC_OK;
    if (!keys || !album_of) return error_set(err, GEOLOC_E_ARG, "album grouping: bad arguments");
    keyed *sorted = malloc(n * sizeof *sorted);
    size_t *first = malloc(n * sizeof *first); /* the first photo of each run of equal keys */
    if (!sorted || !first) {
        free(sorted);
        free(first);
        return error_set(err, GEOLOC_E_NOMEM, "out of memory");
    }
    for (size_t i = 0; i < n; i++) sorted[i] = (keyed){keys[i], i};
    qsort(sorted, n, sizeof *sorted, compare_keyed);
    for (size_t i = 0; i < n; i++) { /* each photo's album named, for now, by its first photo */
        int same = i > 0 && sorted[i].key && sorted[i - 1].key && !strcmp(sorted[i].key, sorted[i - 1].key);
        size_t head = same ? first[sorted[i - 1].index] : sorted[i].index;
        first[sorted[i].index] = head;
    }
    for (size_t i = 0; i < n; i++) /* numbered in the order of their first photos */
        album_of[i] = first[i] == i ? (*n_albums)++ : album_of[first[i]];
    free(sorted);
    free(first);
    return GEOLOC_OK;
}

geoloc_status geoloc_album_manifest_keys(const geoloc_manifest *m, const char *column, const char **keys,
                                         geoloc_error *err) {
    int author = !strcasecmp(column, "AUTHOR");
    long extra = author ? -1 : geoloc_manifest_extra_column(m, column);
    if ((author && !(m->columns & GEOLOC_COL_AUTHOR)) || (!author && extra < 0))
        return error_set(err, GEOLOC_E_ARG, "the manifest has no column %s", column);
    for (size_t k = 0; k < m->n; k++) {
        const char *v = author ? m->row[k].author : m->extra[k * m->n_extra + (size_t)extra];
        keys[k] = v && v[0] ? v : NULL;
    }
    return GEOLOC_OK;
}

geoloc_status geoloc_album_set_build(const char *const *keys, const uint8_t *use, size_t n, geoloc_album_set *out,
                                     geoloc_error *err) {
    memset(out, 0, sizeof *out);
    size_t m = 0;
    for (size_t i = 0; i < n; i++) m += !use || use[i];
    const char **sub = malloc((m ? m : 1) * sizeof *sub);
    size_t *idx = malloc((m ? m : 1) * sizeof *idx), *album_of = malloc((m ? m : 1) * sizeof *album_of);
    size_t *start = NULL, *rows = malloc((m ? m : 1) * sizeof *rows), n_albums = 0;
    geoloc_status s = !sub || !idx || !album_of || !rows ? error_set(err, GEOLOC_E_NOMEM, "out of memory") : GEOLOC_OK;
    for (size_t i = 0, k = 0; s == GEOLOC_OK && i < n; i++)
        if (!use || use[i]) sub[k] = keys[i], idx[k++] = i;
    if (s == GEOLOC_OK) s = geoloc_album_group(sub, m, album_of, &n_albums, err);
    if (s == GEOLOC_OK && !(start = calloc(n_albums + 1, sizeof *start)))
        s = error_set(err, GEOLOC_E_NOMEM, "out of memory");
    if (s == GEOLOC_OK) {
        for (size_t k = 0; k < m; k++) start[album_of[k] + 1]++;
        for (size_t j = 0; j < n_albums; j++) start[j + 1] += start[j];
        size_t *fill = album_of; /* reused: photos placed so far per album (counting sort, stable) */
        size_t *next = calloc(n_albums ? n_albums : 1, sizeof *next);
        if (!next) {
            s = error_set(err, GEOLOC_E_NOMEM, "out of memory");
        } else {
            for (size_t k = 0; k < m; k++) rows[start[fill[k]] + next[fill[k]]++] = idx[k];
            free(next);
        }
    }
    free(sub);
    free(idx);
    free(album_of);
    if (s != GEOLOC_OK) {
        free(start);
        free(rows);
        return s;
    }
    out->n_albums = n_albums, out->start = start, out->rows = rows;
    return GEOLOC_OK;
}

void geoloc_album_set_free(geoloc_album_set *s) {
    free((void *)s->start);
    free((void *)s->rows);
    memset(s, 0, sizeof *s);
}
