/* Train/validation split grouped by photographer (or any group column).
 *
 * Each group gets a 64-bit key: a hash of the seed and the group's text (a
 * row with an empty group value is a group of its own, hashed from its
 * IMG_ID). Groups are visited in key order, a pseudo-random order that
 * depends only on the seed and the values, never on the row order: first
 * every group that still fits under the target val_fraction * n goes to
 * validation, then, in a second visit, any group that brings the count
 * closer to the target. So no group is on both sides, the same seed gives
 * the same split, and the validation count misses the target by less than
 * half the smallest training group. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/error.h"
#include "geoloc/dataset.h"

typedef struct {
    uint64_t key;
    const char *text; /* group value, or the IMG_ID of a row of its own */
    int own;
    size_t row;
} member;

static uint64_t mix64(uint64_t x) {
    x ^= x >> 30;
    x *= 0xBF58476D1CE4E5B9ull;
    x ^= x >> 27;
    x *= 0x94D049BB133111EBull;
    return x ^ (x >> 31);
}

/* FNV-1a over the text, started from the seed, then mixed. */
static uint64_t group_key(uint64_t seed, const char *text, int own) {
    uint64_t h = 0xCBF29CE484222325ull ^ mix64(seed + 0x9E3779B97F4A7C15ull * (uint64_t)(own + 1));
    for (const unsigned char *p = (const unsigned char *)text; *p; p++) {
        h ^= *p;
        h *= 0x100000001B3ull;
    }
    return mix64(h);
}

static int cmp_member(const void *a, const void *b) {
    const member *x = a, *y = b;
    if (x->key != y->key) return x->key < y->key ? -1 : 1;
    if (x->own != y->own) return x->own - y->own;
    int c = strcmp(x->text, y->text);
    if (c) return c;
    return (x->row > y->row) - (x->row < y->row);
}

static int same_group(const member *x, const member *y) {
    return x->key == y->key && x->own == y->own && !strcmp(x->text, y->text);
}

geoloc_status geoloc_dataset_split(const geoloc_manifest *m, const geoloc_split_options *opt,
                                   uint8_t *is_val, geoloc_split_stats *stats, geoloc_error *err) {
    if (!(opt->val_fraction > 0 && opt->val_fraction < 1))
        return error_set(err, GEOLOC_E_ARG, "split: the validation fraction must be in (0, 1), got %g",
                         opt->val_fraction);
    long extra = -1;
    int by_author = !opt->group_column || !strcasecmp(opt->group_column, "AUTHOR");
    if (!by_author && (extra = geoloc_manifest_extra_column(m, opt->group_column)) < 0)
        return error_set(err, GEOLOC_E_ARG, "split: the manifest has no column '%s'",
                         opt->group_column);
    member *mem = malloc((m->n ? m->n : 1) * sizeof *mem);
    if (!mem) return error_set(err, GEOLOC_E_NOMEM, "split: out of memory");
    for (size_t k = 0; k < m->n; k++) {
        const char *g = by_author ? m->row[k].author : m->extra[k * m->n_extra + (size_t)extra];
        int own = !g || !*g;
        const char *text = own ? m->row[k].id : g;
        mem[k] = (member){group_key(opt->seed, text, own), text, own, k};
    }
    qsort(mem, m->n, sizeof *mem, cmp_member);
    /* groups: runs of equal keys; start of each in mem */
    size_t n_groups = 0;
    size_t *start = malloc((m->n + 1) * sizeof *start);
    uint8_t *side = calloc(m->n ? m->n : 1, 1);
    if (!start || !side) {
        free(mem);
        free(start);
        free(side);
        return error_set(err, GEOLOC_E_NOMEM, "split: out of memory");
    }
    for (size_t a = 0; a < m->n; a++)
        if (a == 0 || !same_group(&mem[a - 1], &mem[a])) start[n_groups++] = a;
    start[n_groups] = m->n;
    /* pass 1: groups that fit under the target; pass 2: groups that bring
     * the count closer to it (the gap left is smaller than any of them) */
    double target = opt->val_fraction * (double)m->n;
    size_t n_val = 0;
    for (int pass = 0; pass < 2; pass++)
        for (size_t g = 0; g < n_groups; g++) {
            size_t size = start[g + 1] - start[g];
            if (side[g]) continue;
            int take = pass == 0 ? (double)(n_val + size) <= target
                                 : fabs((double)(n_val + size) - target) < fabs((double)n_val - target);
            if (take) {
                side[g] = 1;
                n_val += size;
            }
        }
    geoloc_split_stats s = {0};
    for (size_t g = 0; g < n_groups; g++) {
        size_t size = start[g + 1] - start[g];
        for (size_t k = start[g]; k < start[g + 1]; k++) is_val[mem[k].row] = side[g];
        if (side[g]) s.n_val += size, s.groups_val++;
        else s.n_train += size, s.groups_train++;
    }
    free(start);
    free(side);
    free(mem);
    if (stats) *stats = s;
    return GEOLOC_OK;
}
