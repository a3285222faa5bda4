/* The LSTM layer's description: sizes and parameters in PyTorch's layouts
 * (the execution on oneDNN is in lstm_exec.c). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "geoloc/lstm.h"
#include "geoloc/transform.h"

void geoloc_lstm_param_sizes(const geoloc_lstm *l, size_t sizes[3]) {
    size_t gates = (size_t)l->dirs * 4 * (size_t)l->hidden;
    sizes[0] = gates * (size_t)l->input;
    sizes[1] = gates * (size_t)l->hidden;
    sizes[2] = gates;
}

geoloc_status geoloc_lstm_create(int input, int hidden, int bidirectional, geoloc_lstm **out, geoloc_error *err) {
    *out = NULL;
    if (input < 1 || hidden < 1 || input > (1 << 20) || hidden > (1 << 16))
        return error_set(err, GEOLOC_E_ARG, "lstm: input %d and hidden %d must be positive (input <= 2^20, hidden <= 2^16)",
                         input, hidden);
    geoloc_lstm *l = calloc(1, sizeof *l);
    if (!l) return error_set(err, GEOLOC_E_NOMEM, "lstm: out of memory");
    l->input = input, l->hidden = hidden, l->dirs = bidirectional ? 2 : 1;
    size_t n[3];
    geoloc_lstm_param_sizes(l, n);
    float **p[6] = {&l->w_layer, &l->w_iter, &l->bias, &l->g_layer, &l->g_iter, &l->g_bias};
    for (int i = 0; i < 6; i++)
        if (!(*p[i] = calloc(n[i % 3], sizeof(float)))) {
            geoloc_lstm_free(l);
            return error_set(err, GEOLOC_E_NOMEM, "lstm: out of memory for %zu parameters", n[i % 3]);
        }
    *out = l;
    return GEOLOC_OK;
}

void geoloc_lstm_free(geoloc_lstm *l) {
    if (!l) return;
    free(l->w_layer);
    free(l->w_iter);
    free(l->bias);
    free(l->g_layer);
    free(l->g_iter);
    free(l->g_bias);
    free(l);
}

void geoloc_lstm_init_random(geoloc_lstm *l, uint64_t seed) {
    size_t n[3];
    geoloc_lstm_param_sizes(l, n);
    float *p[3] = {l->w_layer, l->w_iter, l->bias};
    double bound = 1.0 / sqrt((double)l->hidden);
    for (int k = 0; k < 3; k++) {
        geoloc_rng rng;
        geoloc_rng_seed(&rng, seed, 0x4c53544dull, (uint64_t)k);
        for (size_t i = 0; i < n[k]; i++) p[k][i] = (float)((2.0 * geoloc_rng_uniform(&rng) - 1.0) * bound);
    }
}

void geoloc_lstm_set_torch(geoloc_lstm *l, int d, const float *w_ih, const float *w_hh, const float *b_ih,
                           const float *b_hh) {
    size_t gates = 4 * (size_t)l->hidden;
    memcpy(l->w_layer + (size_t)d * gates * (size_t)l->input, w_ih, gates * (size_t)l->input * sizeof(float));
    memcpy(l->w_iter + (size_t)d * gates * (size_t)l->hidden, w_hh, gates * (size_t)l->hidden * sizeof(float));
    float *b = l->bias + (size_t)d * gates;
    for (size_t i = 0; i < gates; i++) b[i] = b_ih[i] + b_hh[i];
}

void geoloc_lstm_zero_grad(geoloc_lstm *l) {
    size_t n[3];
    geoloc_lstm_param_sizes(l, n);
    memset(l->g_layer, 0, n[0] * sizeof(float));
    memset(l->g_iter, 0, n[1] * sizeof(float));
    memset(l->g_bias, 0, n[2] * sizeof(float));
}
