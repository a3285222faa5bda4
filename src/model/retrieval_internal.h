/* The in-memory feature index shared by its file code (retrieval_index.c)
 * and its scan (retrieval_scan.c). Internal API. */
#ifndef GEOLOC_MODEL_RETRIEVAL_INTERNAL_H
#define GEOLOC_MODEL_RETRIEVAL_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "core/half.h"
#include "geoloc/retrieval.h"

struct geoloc_index {
    int dim;
    geoloc_index_precision precision;
    char backbone[256];
    size_t n, cap;          /* photos held, room for */
    char *ids;              /* n NUL-terminated ids, back to back */
    size_t ids_bytes, ids_cap;
    size_t *id_at;          /* photo i's id starts at ids + id_at[i] */
    double *coords;         /* lat, lon of each photo */
    float *scale;           /* int8: each vector's scale (x = q * scale) */
    void *vec;              /* n x dim: uint16_t half floats, or int8_t; 64-byte aligned */
};

/* The bytes of one stored vector. */
static inline size_t index_vec_bytes(const struct geoloc_index *ix) {
    return (size_t)ix->dim * (ix->precision == GEOLOC_INDEX_F16 ? 2u : 1u);
}

/* Photo i's stored vector as floats (dim values, a unit vector up to rounding). */
void index_row_floats(const struct geoloc_index *ix, size_t i, float *out);

#endif
