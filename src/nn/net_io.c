/* Weights files of a network: safetensors whose metadata records the
 * architecture (geoloc.arch, geoloc.bn_eps, ...), so a file alone says how to
 * rebuild the network it holds. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "nn/graph.h"
#include "nn/net_io.h"

#define WEIGHTS_FORMAT "geoloc-weights-1"

/* Parses "name:classes,name:classes" into cfg's heads. */
static geoloc_status parse_heads(const char *text, geoloc_resnet_config *cfg, const char *file,
                                 geoloc_error *err) {
    cfg->n_heads = 0;
    const char *p = text;
    while (*p) {
        const char *colon = strchr(p, ':');
        size_t len = colon ? (size_t)(colon - p) : 0;
        if (!colon || len == 0 || len >= GEOLOC_NN_HEAD_NAME || cfg->n_heads == GEOLOC_NN_MAX_HEADS)
            return error_set(err, GEOLOC_E_PARSE, "%s: metadata geoloc.heads \"%s\": expected name:classes,...", file, text);
        char *end;
        long classes = strtol(colon + 1, &end, 10);
        if (end == colon + 1 || classes < 1 || classes > 100000000 || (*end && *end != ','))
            return error_set(err, GEOLOC_E_PARSE, "%s: metadata geoloc.heads \"%s\": bad class count", file, text);
        geoloc_head_config *h = &cfg->heads[cfg->n_heads++];
        memcpy(h->name, p, len);
        h->name[len] = '\0';
        h->classes = (int)classes;
        p = *end ? end + 1 : end;
    }
    return GEOLOC_OK;
}

geoloc_status net_config_from_metadata(const geoloc_safetensors *st, const char *file,
                                      geoloc_resnet_config *cfg, geoloc_error *err) {
    const char *arch = geoloc_safetensors_metadata_get(st, "geoloc.arch");
    int depth = 0;
    if (!arch || sscanf(arch, "resnet%d", &depth) != 1)
        return error_set(err, GEOLOC_E_PARSE,
                         "%s: no geoloc.arch \"resnetN\" in the metadata: not a geoloc weights file",
                         file);
    geoloc_resnet_config_default(cfg, depth, 1);
    const char *stride = geoloc_safetensors_metadata_get(st, "geoloc.stride_in_bottleneck");
    cfg->stride_on_conv1 = stride && strcmp(stride, "conv1") == 0;
    const char *bias = geoloc_safetensors_metadata_get(st, "geoloc.conv_bias");
    cfg->conv_bias = bias && strcmp(bias, "true") == 0;
    const char *eps = geoloc_safetensors_metadata_get(st, "geoloc.bn_eps");
    if (eps) {
        char *end;
        cfg->bn_eps = strtof(eps, &end);
        if (end == eps || *end || !(cfg->bn_eps > 0))
            return error_set(err, GEOLOC_E_PARSE, "%s: metadata geoloc.bn_eps \"%s\" is not a positive number", file, eps);
    }
    const char *heads = geoloc_safetensors_metadata_get(st, "geoloc.heads");
    if (heads) return parse_heads(heads, cfg, file, err);
    const geoloc_tensor_info *fc = geoloc_safetensors_find(st, "fc.weight");
    if (fc && fc->ndim == 2 && fc->shape[0] >= 1 && fc->shape[0] <= 100000000) {
        cfg->heads[0].classes = (int)fc->shape[0];
    } else {
        cfg->n_heads = 0;
    }
    return GEOLOC_OK;
}

geoloc_status geoloc_resnet_config_from_weights(const geoloc_safetensors *st,
                                                geoloc_resnet_config *cfg, geoloc_error *err) {
    return net_config_from_metadata(st, "weights", cfg, err);
}

void net_arch_metadata(const geoloc_resnet_config *c, net_arch_meta *out) {
    snprintf(out->arch, sizeof out->arch, "resnet%d", c->depth);
    snprintf(out->eps, sizeof out->eps, "%.9g", (double)c->bn_eps);
    out->heads[0] = '\0';
    for (size_t h = 0; h < c->n_heads; h++) {
        size_t len = strlen(out->heads);
        snprintf(out->heads + len, sizeof out->heads - len, "%s%s:%d", h ? "," : "",
                 c->heads[h].name, c->heads[h].classes);
    }
    const char *keys[NET_ARCH_KEYS] = {"geoloc.arch", "geoloc.stride_in_bottleneck", "geoloc.bn_eps",
                                       "geoloc.conv_bias", "geoloc.heads"};
    const char *values[NET_ARCH_KEYS] = {out->arch, c->stride_on_conv1 ? "conv1" : "conv2", out->eps,
                                         c->conv_bias ? "true" : "false", out->heads};
    memcpy(out->keys, keys, sizeof keys);
    memcpy(out->values, values, sizeof values);
}

float *net_int8_ranges(const geoloc_net *net, uint64_t *n) {
    *n = 0;
    if (!net->int8_range) return NULL;
    *n = net_conv_count(net);
    float *r = malloc(*n * sizeof *r);
    if (!r) return NULL;
    for (size_t k = 0, i = 0; k < net->n_nodes; k++)
        if (net->nodes[k].op == NN_CONV) r[i++] = net->int8_range[k];
    return r;
}

geoloc_status net_int8_ranges_load(geoloc_net *net, const geoloc_safetensors *st, const char *file,
                                   geoloc_error *err) {
    if (!geoloc_safetensors_find(st, NET_INT8_RANGE_TENSOR)) return GEOLOC_OK;
    uint64_t n = net_conv_count(net);
    const float *r;
    geoloc_status s = geoloc_safetensors_get_f32(st, NET_INT8_RANGE_TENSOR, &n, 1, &r, err);
    if (s != GEOLOC_OK) return s; /* names the file, the tensor and the shape expected (one per convolution) */
    for (uint64_t i = 0; i < n; i++)
        if (!(r[i] > 0 && r[i] < 1e30f))
            return error_set(err, GEOLOC_E_PARSE, "%s: tensor %s: range %llu is %g, not a positive number",
                             file, NET_INT8_RANGE_TENSOR, (unsigned long long)i, (double)r[i]);
    float *range = calloc(net->n_nodes, sizeof *range);
    if (!range) return error_set(err, GEOLOC_E_NOMEM, "%s: out of memory", file);
    for (size_t k = 0, i = 0; k < net->n_nodes; k++)
        if (net->nodes[k].op == NN_CONV) range[k] = r[i++];
    free(net->int8_range);
    net->int8_range = range;
    return GEOLOC_OK;
}

geoloc_status geoloc_net_load(geoloc_net *net, const geoloc_safetensors *st, int skip_heads,
                              geoloc_error *err) {
    for (size_t i = 0; i < net->n_params; i++) {
        geoloc_param *p = &net->params[i];
        if (skip_heads && p->head >= 0) continue;
        const float *src;
        geoloc_status s = geoloc_safetensors_get_f32(st, p->name, p->shape, p->ndim, &src, err);
        if (s != GEOLOC_OK) return s;
        memcpy(p->data, src, p->n * sizeof(float));
    }
    return net_int8_ranges_load(net, st, geoloc_safetensors_name(st), err);
}

geoloc_status geoloc_net_save(const geoloc_net *net, const char *path,
                              const char *const *extra_keys, const char *const *extra_values,
                              size_t n_extra, geoloc_error *err) {
    if (net->cfg.tail_from || net->cfg.prefix_to)
        return error_set(err, GEOLOC_E_ARG, "%s: a part of a split network is not saved alone: save the whole", path);
    net_arch_meta am;
    net_arch_metadata(&net->cfg, &am);
    const char *own_keys[1 + NET_ARCH_KEYS] = {"geoloc.format"};
    const char *own_values[1 + NET_ARCH_KEYS] = {WEIGHTS_FORMAT};
    memcpy(own_keys + 1, am.keys, sizeof am.keys);
    memcpy(own_values + 1, am.values, sizeof am.values);
    size_t n_own = sizeof own_keys / sizeof own_keys[0], n_meta = n_own;
    const char **keys = malloc((n_own + n_extra) * sizeof *keys);
    const char **values = malloc((n_own + n_extra) * sizeof *values);
    geoloc_tensor_desc *t = malloc((net->n_params + 1) * sizeof *t);
    uint64_t n_conv;
    float *ranges = net_int8_ranges(net, &n_conv);
    geoloc_status s = GEOLOC_OK;
    if (!keys || !values || !t || (n_conv && !ranges)) {
        s = error_set(err, GEOLOC_E_NOMEM, "%s: out of memory", path);
        goto done;
    }
    memcpy(keys, own_keys, sizeof own_keys);
    memcpy(values, own_values, sizeof own_values);
    for (size_t i = 0; i < n_extra; i++) {
        size_t k = 0;
        while (k < n_own && strcmp(keys[k], extra_keys[i]) != 0) k++;
        if (k == n_own) k = n_meta++;
        keys[k] = extra_keys[i];
        values[k] = extra_values[i];
    }
    for (size_t i = 0; i < net->n_params; i++)
        t[i] = (geoloc_tensor_desc){.name = net->params[i].name, .dtype = GEOLOC_DTYPE_F32,
                                    .ndim = net->params[i].ndim, .shape = net->params[i].shape,
                                    .data = net->params[i].data};
    size_t n_tensors = net->n_params;
    if (ranges) /* the int8 calibration: one range per convolution, in node order */
        t[n_tensors++] = (geoloc_tensor_desc){.name = NET_INT8_RANGE_TENSOR, .dtype = GEOLOC_DTYPE_F32,
                                              .ndim = 1, .shape = &n_conv, .data = ranges};
    s = geoloc_safetensors_write(path, t, n_tensors, keys, values, n_meta, err);
done:
    free(ranges);
    free(keys);
    free(values);
    free(t);
    return s;
}
