/* The deterministic values of tools/gen_resnet_ref.py (PyTorch side): stream
 * k, element i -> u in [-1, 1) from splitmix64((k << 32) | i), so a test
 * rebuilds the reference's weights and inputs without storing them. */
#ifndef GEOLOC_TESTS_NN_REFERENCE_H
#define GEOLOC_TESTS_NN_REFERENCE_H

#include <math.h>
#include <stdint.h>
#include <string.h>

#include "geoloc/nn.h"

static inline uint64_t ref_splitmix64(uint64_t x) {
    uint64_t z = x + 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* u(k, i) in [-1, 1), as a double. */
static inline double ref_u(uint64_t k, uint64_t i) {
    return (double)(ref_splitmix64((k << 32) | i) >> 11) * 0x1p-53 * 2.0 - 1.0;
}

/* ||a - b|| / ||b|| over n floats (b from the reference; ||a - b|| when b is 0). */
static inline double ref_rel_l2(const float *a, const float *b, size_t n) {
    double d = 0, r = 0;
    for (size_t i = 0; i < n; i++) {
        d += ((double)a[i] - b[i]) * ((double)a[i] - b[i]);
        r += (double)b[i] * b[i];
    }
    return r > 0 ? sqrt(d / r) : sqrt(d);
}

/* Fills n floats with offset + scale * u(k, i), rounded once to float. */
static inline void ref_fill(float *x, size_t n, uint64_t k, double offset, double scale) {
    for (size_t i = 0; i < n; i++) x[i] = (float)(offset + scale * ref_u(k, i));
}

/* The reference's weights: parameter k of the state_dict order gets stream k. */
static inline void ref_fill_params(geoloc_net *net) {
    for (size_t k = 0; k < geoloc_net_param_count(net); k++) {
        geoloc_param *p = geoloc_net_param(net, k);
        switch (p->kind) {
        case GEOLOC_PARAM_WEIGHT: ref_fill(p->data, p->n, k, 0.0, sqrt(6.0 / (double)(p->n / p->shape[0]))); break;
        case GEOLOC_PARAM_BIAS: ref_fill(p->data, p->n, k, 0.0, 0.1); break;
        case GEOLOC_PARAM_BN_WEIGHT: ref_fill(p->data, p->n, k, 1.0, 0.2); break;
        case GEOLOC_PARAM_BN_BIAS: ref_fill(p->data, p->n, k, 0.0, 0.1); break;
        case GEOLOC_PARAM_RUNNING_MEAN: ref_fill(p->data, p->n, k, 0.0, 0.1); break;
        case GEOLOC_PARAM_RUNNING_VAR: ref_fill(p->data, p->n, k, 1.0, 0.5); break;
        }
    }
}

#endif
