/* IEEE binary16 (half float) conversions, shared by the feature index's f16
 * vectors and the fine-tuned stages of model files. Internal API. */
#ifndef GEOLOC_CORE_HALF_H
#define GEOLOC_CORE_HALF_H

#include <stdint.h>
#include <string.h>

#ifndef __FLT16_MAX__
#include <math.h>
#endif

#define HALF_EXP_MASK 0x7c00u /* all exponent bits set: infinity or NaN */

/* x rounded to a half float (IEEE binary16 bits, to nearest even; 65520 and above
 * in magnitude become infinity): the compiler's _Float16 where it has one (gcc 12,
 * clang 15), else in C (clang 14: fuzz builds). */
static inline uint16_t half_from_double(double x) {
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
static inline float half_to_float(uint16_t h) {
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

#endif
