/* Near-duplicate pairs between two photo sets, or within one: embedding
 * candidates from the feature index's top k, hash candidates from every
 * pair's Hamming distance, each pair then scored both ways. */
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "geoloc/dedup.h"
#include "model/retrieval_internal.h"

#define CHUNK 256 /* queries per batch search */

geoloc_dedup_options geoloc_dedup_options_default(void) { return (geoloc_dedup_options){0.92, 4, 20}; }

typedef struct pair_list {
    geoloc_dedup_pair *p;
    size_t n, cap;
} pair_list;

/* Appends (a, b), ordered a < b within one set; 0 or -1 (out of memory). */
static int push(pair_list *l, size_t a, size_t b, int within) {
    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 256;
        geoloc_dedup_pair *p = realloc(l->p, cap * sizeof *p);
        if (!p) return -1;
        l->p = p;
        l->cap = cap;
    }
    if (within && a > b) {
        size_t t = a;
        a = b;
        b = t;
    }
    l->p[l->n++] = (geoloc_dedup_pair){a, b, 0, -1};
    return 0;
}

static int by_pair(const void *x, const void *y) {
    const geoloc_dedup_pair *p = x, *q = y;
    if (p->a != q->a) return p->a < q->a ? -1 : 1;
    return (p->b > q->b) - (p->b < q->b);
}

/* The pairs whose embeddings are similar enough: each photo of a against b's top k. */
static geoloc_status embedding_pairs(const geoloc_index *a, const geoloc_index *b, int within,
                                     const geoloc_dedup_options *o, pair_list *l, geoloc_error *err) {
    size_t d = (size_t)a->dim, k = o->k + (within ? 1 : 0);
    float *q = malloc(CHUNK * d * sizeof *q);
    geoloc_neighbour *nb = malloc(CHUNK * k * sizeof *nb);
    size_t counts[CHUNK];
    geoloc_status s = q && nb ? GEOLOC_OK : error_set(err, GEOLOC_E_NOMEM, "dedup: out of memory");
    for (size_t first = 0; s == GEOLOC_OK && first < a->n; first += CHUNK) {
        size_t m = a->n - first < CHUNK ? a->n - first : CHUNK;
        for (size_t i = 0; i < m; i++) index_row_floats(a, first + i, q + i * d);
        s = geoloc_index_search_batch(b, q, m, k, nb, counts, err);
        for (size_t i = 0; s == GEOLOC_OK && i < m; i++)
            for (size_t t = 0; t < counts[i]; t++) {
                const geoloc_neighbour *c = &nb[i * k + t];
                if (c->sim < o->min_similarity || (within && c->row == first + i)) continue;
                if (push(l, first + i, c->row, within) != 0) s = error_set(err, GEOLOC_E_NOMEM, "dedup: out of memory");
            }
    }
    free(q);
    free(nb);
    return s;
}

geoloc_status geoloc_dedup_find(const geoloc_index *a, const uint64_t *ha, const geoloc_index *b,
                                const uint64_t *hb, const geoloc_dedup_options *opt, geoloc_dedup_pair **pairs,
                                size_t *n, geoloc_error *err) {
    geoloc_dedup_options o = opt ? *opt : geoloc_dedup_options_default();
    int within = b == NULL;
    if (within) b = a, hb = ha;
    *pairs = NULL;
    *n = 0;
    if (a->dim != b->dim || strcmp(a->backbone, b->backbone))
        return error_set(err, GEOLOC_E_ARG, "dedup: the indexes were built with different backbones (%s, %s)",
                         a->backbone, b->backbone);
    pair_list l = {0};
    geoloc_status s = o.min_similarity <= 1 && o.k > 0 ? embedding_pairs(a, b, within, &o, &l, err) : GEOLOC_OK;
    for (size_t i = 0; s == GEOLOC_OK && ha && hb && o.max_hamming >= 0 && i < a->n; i++)
        for (size_t j = within ? i + 1 : 0; j < b->n; j++)
            if (geoloc_hamming64(ha[i], hb[j]) <= o.max_hamming && push(&l, i, j, within) != 0) {
                s = error_set(err, GEOLOC_E_NOMEM, "dedup: out of memory");
                break;
            }
    float *x = malloc((size_t)a->dim * sizeof *x), *y = malloc((size_t)a->dim * sizeof *y);
    if (s == GEOLOC_OK && (!x || !y)) s = error_set(err, GEOLOC_E_NOMEM, "dedup: out of memory");
    size_t kept = 0;
    if (s == GEOLOC_OK && l.n) qsort(l.p, l.n, sizeof *l.p, by_pair);
    for (size_t t = 0; s == GEOLOC_OK && t < l.n; t++) {
        if (kept && !by_pair(&l.p[kept - 1], &l.p[t])) continue; /* found both ways */
        geoloc_dedup_pair p = l.p[t];
        index_row_floats(a, p.a, x);
        index_row_floats(b, p.b, y);
        double dot = 0;
        for (int j = 0; j < a->dim; j++) dot += (double)x[j] * y[j];
        p.similarity = (float)dot;
        p.hamming = ha && hb ? geoloc_hamming64(ha[p.a], hb[p.b]) : -1;
        l.p[kept++] = p;
    }
    free(x);
    free(y);
    if (s != GEOLOC_OK) {
        free(l.p);
        return s;
    }
    *pairs = l.p;
    *n = kept;
    return GEOLOC_OK;
}
