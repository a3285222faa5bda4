/* A network's description and parameters: creation, the parameter table,
 * torchvision's initialisation, and weights files (safetensors with the
 * architecture in the metadata). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/array.h"
#include "core/error.h"
#include "nn/graph.h"

void geoloc_resnet_config_default(geoloc_resnet_config *cfg, int depth, int classes) {
    memset(cfg, 0, sizeof *cfg);
    cfg->depth = depth;
    cfg->bn_eps = 1e-5f;
    cfg->bn_momentum = 0.1f;
    cfg->n_heads = 1;
    snprintf(cfg->heads[0].name, sizeof cfg->heads[0].name, "fc");
    cfg->heads[0].classes = classes;
}

geoloc_status geoloc_net_create(const geoloc_resnet_config *cfg, geoloc_net **out,
                                geoloc_error *err) {
    *out = NULL;
    if (cfg->n_heads > GEOLOC_NN_MAX_HEADS)
        return error_set(err, GEOLOC_E_ARG, "%zu heads: at most %d", cfg->n_heads,
                         GEOLOC_NN_MAX_HEADS);
    for (size_t h = 0; h < cfg->n_heads; h++)
        if (cfg->heads[h].classes < 1 || !cfg->heads[h].name[0])
            return error_set(err, GEOLOC_E_ARG, "head %zu: needs a name and at least one class", h);
    if (!(cfg->bn_eps > 0) || !(cfg->bn_momentum >= 0 && cfg->bn_momentum <= 1))
        return error_set(err, GEOLOC_E_ARG, "batch norm epsilon must be > 0 and momentum in [0, 1]");
    if (cfg->tail_from < 0 || cfg->tail_from > 4 || cfg->prefix_to < 0 || cfg->prefix_to > 4 ||
        (cfg->tail_from && cfg->prefix_to))
        return error_set(err, GEOLOC_E_ARG, "tail from layer %d, prefix to layer %d: each 0..4, not both",
                         cfg->tail_from, cfg->prefix_to);
    return net_build(cfg, NULL, out, err);
}

geoloc_status net_build(const geoloc_resnet_config *cfg, geoloc_net *shares, geoloc_net **out, geoloc_error *err) {
    *out = NULL;
    geoloc_net *net = calloc(1, sizeof *net);
    if (!net) return error_set(err, GEOLOC_E_NOMEM, "out of memory");
    net->cfg = *cfg;
    net->shares = shares;
    net->value_channels = calloc(1, sizeof(int));
    net->cap_values = 1;
    geoloc_status s = net->value_channels ? resnet_build(net, err)
                                          : error_set(err, GEOLOC_E_NOMEM, "out of memory");
    if (s != GEOLOC_OK) {
        geoloc_net_free(net);
        return s;
    }
    *out = net;
    return GEOLOC_OK;
}

geoloc_status geoloc_net_split(geoloc_net *net, int layer, geoloc_net **prefix, geoloc_net **tail,
                               geoloc_error *err) {
    *prefix = *tail = NULL;
    if (layer < 1 || layer > 4 || net->cfg.tail_from || net->cfg.prefix_to)
        return error_set(err, GEOLOC_E_ARG, "split at layer %d: need 1..4 and a whole network", layer);
    geoloc_resnet_config pc = net->cfg, tc = net->cfg;
    pc.prefix_to = layer;
    pc.n_heads = 0;
    tc.tail_from = layer;
    geoloc_status s = net_build(&pc, net, prefix, err);
    if (s == GEOLOC_OK) s = net_build(&tc, net, tail, err);
    if (s != GEOLOC_OK) {
        geoloc_net_free(*prefix);
        *prefix = NULL;
    }
    return s;
}

void geoloc_net_free(geoloc_net *net) {
    if (!net) return;
    for (size_t i = 0; i < net->n_params && !net->shares; i++) {
        free(net->params[i].data);
        free(net->params[i].grad);
    }
    free(net->params);
    free(net->nodes);
    free(net->value_channels);
    free(net->int8_range);
    free(net);
}

size_t net_conv_count(const geoloc_net *net) {
    size_t n = 0;
    for (size_t k = 0; k < net->n_nodes; k++) n += net->nodes[k].op == NN_CONV;
    return n;
}

geoloc_nn_mode geoloc_precision_mode(geoloc_precision p) {
    return p == GEOLOC_PRECISION_INT8 ? GEOLOC_NN_INFER_INT8 : p == GEOLOC_PRECISION_CALIBRATE ? GEOLOC_NN_CALIBRATE : GEOLOC_NN_INFER;
}

const char *geoloc_precision_name(geoloc_precision p) {
    return p == GEOLOC_PRECISION_INT8 ? "int8" : p == GEOLOC_PRECISION_CALIBRATE ? "calibrate" : "f32";
}

int geoloc_net_has_int8_ranges(const geoloc_net *net) { return net->int8_range != NULL; }

void geoloc_net_clear_int8_ranges(geoloc_net *net) {
    free(net->int8_range);
    net->int8_range = NULL;
}

const geoloc_resnet_config *geoloc_net_config(const geoloc_net *net) { return &net->cfg; }

size_t geoloc_net_param_count(const geoloc_net *net) { return net->n_params; }

geoloc_param *geoloc_net_param(geoloc_net *net, size_t i) {
    return i < net->n_params ? &net->params[i] : NULL;
}

geoloc_param *geoloc_net_find_param(geoloc_net *net, const char *name) {
    for (size_t i = 0; i < net->n_params; i++)
        if (strcmp(net->params[i].name, name) == 0) return &net->params[i];
    return NULL;
}

void geoloc_net_zero_grad(geoloc_net *net) {
    for (size_t i = 0; i < net->n_params; i++)
        if (net->params[i].grad) memset(net->params[i].grad, 0, net->params[i].n * sizeof(float));
}

/* splitmix64: a small, well-mixed generator for reproducible initialisation. */
static uint64_t next_u64(uint64_t *state) {
    uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static double uniform01(uint64_t *state) { return (double)(next_u64(state) >> 11) * 0x1p-53; }

void geoloc_net_init_random(geoloc_net *net, uint64_t seed) {
    uint64_t state = seed;
    for (size_t i = 0; i < net->n_params; i++) {
        geoloc_param *p = &net->params[i];
        /* a head's bias follows its weight [classes, features] */
        double in_features = (double)(p->ndim == 2 ? p->shape[1] : i > 0 ? net->params[i - 1].shape[1] : 1);
        double bound = 1.0 / sqrt(in_features);
        for (size_t j = 0; j < p->n; j++) {
            double v = 0.0;
            if (p->kind == GEOLOC_PARAM_BN_WEIGHT || p->kind == GEOLOC_PARAM_RUNNING_VAR) {
                v = 1.0;
            } else if (p->kind == GEOLOC_PARAM_WEIGHT && p->head < 0) {
                /* Kaiming normal, fan_out, gain sqrt(2): std = sqrt(2 / (out * kh * kw)) */
                double fan_out = (double)(p->n / p->shape[1]);
                double u1 = uniform01(&state), u2 = uniform01(&state);
                v = sqrt(-2.0 * log(1.0 - u1)) * cos(2.0 * M_PI * u2) * sqrt(2.0 / fan_out);
            } else if (p->head >= 0) {
                /* torch.nn.Linear: weight and bias uniform in +-1/sqrt(in_features) */
                v = (2.0 * uniform01(&state) - 1.0) * bound;
            }
            p->data[j] = (float)v;
        }
    }
}
