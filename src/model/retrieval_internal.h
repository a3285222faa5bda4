/* The in-memory feature index shared by its file code (retrieval_index.c)
 * and its scan (retrieval_scan.c). Internal API. */
#ifndef GEOLOC_MODEL_RETRIEVAL_INTERNAL_H
#define GEOLOC_MODEL_RETRIEVAL_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "geoloc/retrieval.h"

#ifndef __FLT16_MAX__
#include <math.h>
#endif

/* x rounded to a half float (IEEE binary16 bits, to nearest even): the compiler's
 * _Float16 where it has one (gcc 12, clang 15), else in C (clang 14: fuzz builds). */
static inline uint16_t index_half_from_double(double x) {
#ifdef __FLT16_MAX__
    _Float16 h = (_Float16)x;
    uint16_t bits;
    memcpy(&bits, &h, 2);
    return bits;
#else
    uint16_t sign = signbit(x) ? 0x8000 : 0;
    double a = fabs(x);
    if (!(a < 65520.0)) return sign | (isnan(x) ? 0x7e00 : 0x7c00); /* 65520 and above round to infinity */
    if (a < 0x1p-14) return sign | (uint16_t)nearbyint(a * 0x1p24); /* subnormal, in units of 2^-24 */
    int e;
    double r = nearbyint(frexp(a, &e) * 2048.0); /* a = r 2^(e - 11), r in [1024, 2048] */
    if (r == 2048.0) r = 1024.0, e++;
    return sign | (uint16_t)((e + 14) << 10) | (uint16_t)((int)r - 1024);
#endif
}

/* The half float of bits h as a float. */
static inline float index_half_to_float(uint16_t h) {
#ifdef __FLT16_MAX__
    _Float16 v;
    memcpy(&v, &h, 2);
    return (float)v;
#else
    int e = (h >> 10) & 31, f = h & 1023;
    float v = e == 0 ? ldexpf((float)f, -24) : e == 31 ? (f ? NAN : INFINITY) : ldexpf((float)(f | 1024), e - 25);
    return h & 0x8000 ? -v : v;
#endif
}

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
