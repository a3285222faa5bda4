/* Model files: one safetensors file with the network's parameters (named as
 * the network names them; only the heads when the file names a backbone
 * weights file in geoloc.backbone, plus, with geoloc.tuned "layer<K>,...,layer4",
 * those stages' parameters as F16 or F32: model_tuned.c) and, per partition i
 * (coarse to fine),
 *   partition<i>.cells       I64 [K]     S2 cell ids (their 64 bits)
 *   partition<i>.count       I64 [K]     training photos per cell
 *   partition<i>.mean        F64 [K, 2]  mean latitude, longitude of those photos
 *   partition<i>.ancestor<j> I32 [K]     class of partition j < i holding each cell
 *   geoloc.int8_range        F32 [C]     int8 calibration, one per convolution (optional;
 *                                        overrides the backbone file's)
 * with the metadata geoloc.format (geoloc-model-2; 3 with fine-tuned stages), the architecture
 * (geoloc.arch, geoloc.stride_in_bottleneck, geoloc.bn_eps, geoloc.conv_bias,
 * geoloc.heads), geoloc.partitions (names, comma-separated), geoloc.num_images
 * (per partition, comma-separated), geoloc.scenes (newline-separated),
 * geoloc.input (imagenet | caffe_bgr), geoloc.image_size, geoloc.backbone,
 * geoloc.tuned, geoloc.created_by and any extra pairs (training summaries). Reading checks
 * all of it: every error names the file and the field. */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "geo/partition_internal.h"
#include "model/model_internal.h"
#include "geoloc/scene.h"
#include "nn/net_io.h"

#ifndef GEOLOC_VERSION
#define GEOLOC_VERSION "unknown"
#endif

#define MAX_CLASSES 100000000u
#define PARTITION_TENSORS(n) ((n) * 3 + (n) * ((n) - 1) / 2)

/* The metadata keys of the scene levels' names (format 2; format 1 had one
 * level, in geoloc.scenes). */
static const char *const SCENE_KEYS[GEOLOC_SCENE_LEVELS] = {"geoloc.scenes.S3", "geoloc.scenes.S16",
                                                             "geoloc.scenes.S365"};

/* ---- writing ------------------------------------------------------------------ */

typedef struct tensor_list {
    geoloc_tensor_desc *t;
    char (*names)[64];
    uint64_t (*shapes)[2];
    size_t n;
} tensor_list;

static void add_tensor(tensor_list *l, const char *name, geoloc_dtype dtype, size_t ndim,
                       uint64_t d0, uint64_t d1, const void *data) {
    size_t k = l->n++;
    snprintf(l->names[k], sizeof l->names[k], "%s", name);
    l->shapes[k][0] = d0;
    l->shapes[k][1] = d1;
    l->t[k] = (geoloc_tensor_desc){.name = l->names[k], .dtype = dtype, .ndim = ndim,
                                   .shape = l->shapes[k], .data = data};
}

/* The n strings joined by sep, in a new buffer (NULL: out of memory). */
static char *join(const char *const *items, size_t n, char sep) {
    size_t len = 1;
    for (size_t k = 0; k < n; k++) len += strlen(items[k]) + 1;
    char *out = malloc(len), *p = out;
    if (!out) return NULL;
    *p = '\0';
    for (size_t k = 0; k < n; k++) {
        if (k) *p++ = sep;
        size_t sl = strlen(items[k]);
        memcpy(p, items[k], sl + 1);
        p += sl;
    }
    return out;
}

/* The fine-tuned stages' F16 copies: one buffer, parameter i's at half + at[i]. */
typedef struct half_params {
    uint16_t *half;
    size_t *at;
} half_params;

/* geoloc_model_save and geoloc_model_save_tuned: with heads_only, the backbone
 * parameters of the stages layer<tuned_from>.. (0: none) are kept, as dtype. */
static geoloc_status save_model(const geoloc_model *m, const char *path, int heads_only, const char *backbone_name,
                                int tuned_from, geoloc_dtype dtype, geoloc_error *err) {
    if (!m || !m->net) return error_set(err, GEOLOC_E_ARG, "%s: the model has no network to save", path);
    const char *bb = backbone_name ? backbone_name : m->backbone;
    if (heads_only && (!bb || !*bb || strchr(bb, '/') || strlen(bb) >= sizeof m->backbone))
        return error_set(err, GEOLOC_E_ARG, "%s: a heads-only model needs a backbone file name "
                         "(without folders, found with geoloc_model_find_data)", path);
    geoloc_net *net = m->net;
    size_t n_params = geoloc_net_param_count(net), np = m->n_partitions;
    for (size_t i = 0; i < n_params; i++) { /* a NaN or infinite weight is never saved */
        const geoloc_param *p = geoloc_net_param(net, i);
        for (size_t k = 0; k < p->n; k++)
            if (!isfinite(p->data[k]))
                return error_set(err, GEOLOC_E_RANGE, "%s: %s[%zu] is %s: a model with non-finite weights is "
                                 "not saved", path, p->name, k, isnan(p->data[k]) ? "nan" : "inf");
    }
    if (!heads_only) tuned_from = 0;
    if (tuned_from < 0 || tuned_from > 4 || (tuned_from && dtype != GEOLOC_DTYPE_F16 && dtype != GEOLOC_DTYPE_F32))
        return error_set(err, GEOLOC_E_ARG, "%s: fine-tuned stages from layer%d as %s: expected layer1 to layer4, "
                         "as F16 or F32", path, tuned_from, geoloc_dtype_name(dtype));
    size_t cap = PARTITION_TENSORS(np) + n_params + 2, n_half = 0;
    for (size_t i = 0; i < n_params && tuned_from && dtype == GEOLOC_DTYPE_F16; i++)
        if (model_param_stage(geoloc_net_param(net, i)->name) >= tuned_from) n_half += geoloc_net_param(net, i)->n;
    half_params hp = {malloc(n_half * sizeof *hp.half + 1), calloc(n_params, sizeof *hp.at)};
    tensor_list l = {calloc(cap, sizeof *l.t), calloc(cap, sizeof *l.names),
                     calloc(cap, sizeof *l.shapes), 0};
    double *means[GEOLOC_MODEL_MAX_PARTITIONS] = {0};
    char *partitions = NULL, *scenes[GEOLOC_SCENE_LEVELS] = {0}, num_images[GEOLOC_MODEL_MAX_PARTITIONS * 24] = "";
    /* the format's own keys: geoloc.format, the architecture's, partitions, num_images,
     * one per scene level, isn, input, image_size, backbone, tuned, calibration, created_by */
    size_t max_meta = 10 + NET_ARCH_KEYS + GEOLOC_SCENE_LEVELS + m->n_meta;
    const char **keys = calloc(max_meta, sizeof *keys);
    const char **values = calloc(max_meta, sizeof *values);
    uint64_t n_ranges;
    float *ranges = net_int8_ranges(net, &n_ranges);
    geoloc_status s = GEOLOC_OK;
    if (!l.t || !l.names || !l.shapes || !keys || !values || (n_ranges && !ranges) || !hp.half || !hp.at) {
        s = error_set(err, GEOLOC_E_NOMEM, "%s: out of memory", path);
        goto done;
    }
    /* 8-byte elements first, then 4-byte ones, then 2-byte ones: every tensor stays aligned in the file */
    char name[64];
    for (size_t i = 0; i < np; i++) {
        const geoloc_partition *p = m->partitions[i];
        if (!(means[i] = malloc(2 * p->n * sizeof(double)))) {
            s = error_set(err, GEOLOC_E_NOMEM, "%s: out of memory", path);
            goto done;
        }
        for (size_t k = 0; k < p->n; k++) means[i][2 * k] = p->lat[k], means[i][2 * k + 1] = p->lng[k];
        snprintf(name, sizeof name, "partition%zu.cells", i);
        add_tensor(&l, name, GEOLOC_DTYPE_I64, 1, p->n, 0, p->cell);
        snprintf(name, sizeof name, "partition%zu.count", i);
        add_tensor(&l, name, GEOLOC_DTYPE_I64, 1, p->n, 0, p->count);
        snprintf(name, sizeof name, "partition%zu.mean", i);
        add_tensor(&l, name, GEOLOC_DTYPE_F64, 2, p->n, 2, means[i]);
        size_t len = strlen(num_images);
        snprintf(num_images + len, sizeof num_images - len, "%s%" PRIu64, i ? "," : "",
                 p->num_images);
    }
    for (size_t i = 0, at = 0; i < n_params; i++) {
        const geoloc_param *p = geoloc_net_param(net, i);
        int tuned = p->head < 0 && tuned_from && model_param_stage(p->name) >= tuned_from;
        if (heads_only && p->head < 0 && !tuned) continue;
        if (tuned && dtype == GEOLOC_DTYPE_F16) { /* written last */
            hp.at[i] = at;
            if ((s = model_half_from_floats(p->data, p->n, hp.half + at, path, p->name, err)) != GEOLOC_OK) goto done;
            at += p->n;
            continue;
        }
        l.t[l.n++] = (geoloc_tensor_desc){.name = p->name, .dtype = GEOLOC_DTYPE_F32,
                                          .ndim = p->ndim, .shape = p->shape, .data = p->data};
    }
    for (size_t i = 1; i < np; i++)
        for (size_t j = 0; j < i; j++) {
            snprintf(name, sizeof name, "partition%zu.ancestor%zu", i, j);
            add_tensor(&l, name, GEOLOC_DTYPE_I32, 1, m->partitions[i]->n, 0, m->ancestor[i][j]);
        }
    if (ranges) add_tensor(&l, NET_INT8_RANGE_TENSOR, GEOLOC_DTYPE_F32, 1, n_ranges, 0, ranges);
    const geoloc_calibration *cal = m->calibration;
    if (cal && cal->dim)
        add_tensor(&l, MODEL_CALIBRATION_TENSOR, GEOLOC_DTYPE_F32, 1, (uint64_t)cal->dim, 0, cal->ood_mean);
    for (size_t i = 0; i < n_params && n_half; i++) {
        const geoloc_param *p = geoloc_net_param(net, i);
        if (p->head < 0 && model_param_stage(p->name) >= tuned_from)
            l.t[l.n++] = (geoloc_tensor_desc){.name = p->name, .dtype = GEOLOC_DTYPE_F16,
                                              .ndim = p->ndim, .shape = p->shape, .data = hp.half + hp.at[i]};
    }
    char cal_text[512];
    if (cal) model_calibration_text(cal, cal_text, sizeof cal_text);
    const char *rows[GEOLOC_MODEL_MAX_PARTITIONS];
    for (size_t i = 0; i < np; i++) rows[i] = m->partition_names[i];
    partitions = join(rows, np, ',');
    for (size_t v = 0; v < GEOLOC_SCENE_LEVELS; v++)
        if (m->scene_classes[v] &&
            !(scenes[v] = join((const char *const *)m->scene_names + m->scene_offset[v], m->scene_classes[v], '\n'))) {
            s = error_set(err, GEOLOC_E_NOMEM, "%s: out of memory", path);
            goto done;
        }
    if (!partitions) {
        s = error_set(err, GEOLOC_E_NOMEM, "%s: out of memory", path);
        goto done;
    }
    net_arch_meta am;
    net_arch_metadata(geoloc_net_config(net), &am);
    char image_size[16];
    snprintf(image_size, sizeof image_size, "%d", m->image_size);
    char tuned[32];
    model_tuned_text(tuned_from, tuned, sizeof tuned);
    size_t n_meta = 0;
#define META(k, v) (keys[n_meta] = (k), values[n_meta++] = (v))
    META("geoloc.format", tuned_from ? GEOLOC_MODEL_FORMAT_TUNED : GEOLOC_MODEL_FORMAT);
    for (size_t k = 0; k < NET_ARCH_KEYS; k++) META(am.keys[k], am.values[k]);
    META("geoloc.partitions", partitions);
    META("geoloc.num_images", num_images);
    for (size_t v = 0; v < GEOLOC_SCENE_LEVELS; v++)
        if (scenes[v]) META(m->scene_legacy ? "geoloc.scenes" : SCENE_KEYS[v], scenes[v]);
    if (m->n_isn) META("geoloc.isn", "S3");
    META("geoloc.input", geoloc_model_input_name(m->norm));
    META("geoloc.image_size", image_size);
    if (heads_only) META("geoloc.backbone", bb);
    if (tuned_from) META(MODEL_TUNED_KEY, tuned);
    if (cal) META(MODEL_CALIBRATION_KEY, cal_text);
    if (!geoloc_model_get_meta(m, "geoloc.created_by")) META("geoloc.created_by", "geoloc " GEOLOC_VERSION);
    for (size_t k = 0; k < m->n_meta; k++)
        if (!model_reserved_key(m->meta_keys[k])) META(m->meta_keys[k], m->meta_values[k]);
#undef META
    s = geoloc_safetensors_write(path, l.t, l.n, keys, values, n_meta, err);
done:
    free(hp.half);
    free(hp.at);
    free(ranges);
    for (size_t i = 0; i < np; i++) free(means[i]);
    free(partitions);
    for (size_t v = 0; v < GEOLOC_SCENE_LEVELS; v++) free(scenes[v]);
    free(keys);
    free(values);
    free(l.t);
    free(l.names);
    free(l.shapes);
    return s;
}

geoloc_status geoloc_model_save(const geoloc_model *m, const char *path, int heads_only,
                                const char *backbone_name, geoloc_error *err) {
    return save_model(m, path, heads_only, backbone_name, m ? m->tuned_from : 0, m ? m->tuned_dtype : GEOLOC_DTYPE_F32,
                      err);
}

geoloc_status geoloc_model_save_tuned(const geoloc_model *m, const char *path, const char *backbone_name,
                                      int from_layer, geoloc_dtype dtype, geoloc_error *err) {
    if (from_layer < 1)
        return error_set(err, GEOLOC_E_ARG, "%s: fine-tuned stages from layer%d: expected layer1 to layer4", path,
                         from_layer);
    return save_model(m, path, 1, backbone_name, from_layer, dtype, err);
}

/* ---- reading ------------------------------------------------------------------ */

static geoloc_status check_format(const geoloc_safetensors *st, const char *file,
                                  geoloc_error *err) {
    const char *f = geoloc_safetensors_metadata_get(st, "geoloc.format");
    if (!f)
        return error_set(err, GEOLOC_E_PARSE, "%s: geoloc.format: missing: not a geoloc model file", file);
    if (!strcmp(f, GEOLOC_MODEL_FORMAT_TUNED) || !strcmp(f, GEOLOC_MODEL_FORMAT) || !strcmp(f, "geoloc-model-1"))
        return GEOLOC_OK;
    if (!strncmp(f, "geoloc-weights-", 15))
        return error_set(err, GEOLOC_E_PARSE, "%s: geoloc.format \"%s\": network weights, not a model "
                         "(no partitions); geoloc model init makes a model from weights", file, f);
    if (!strncmp(f, "geoloc-model-", 13))
        return error_set(err, GEOLOC_E_PARSE, "%s: geoloc.format \"%s\": a model file from a different "
                         "version of geoloc (this version reads geoloc-model-1 to %s); refused", file, f,
                         GEOLOC_MODEL_FORMAT_TUNED);
    return error_set(err, GEOLOC_E_PARSE, "%s: geoloc.format \"%.64s\": not a geoloc model file", file, f);
}

/* Tensor `name` of `dtype` and shape [d0] (ndim 1) or [d0, d1]; d0 == 0 accepts any
 * first dimension in 1..MAX_CLASSES. */
static geoloc_status get_tensor(const geoloc_safetensors *st, const char *file, const char *name,
                                geoloc_dtype dtype, size_t ndim, uint64_t d0, uint64_t d1,
                                const geoloc_tensor_info **out, geoloc_error *err) {
    const geoloc_tensor_info *t = geoloc_safetensors_find(st, name);
    *out = NULL;
    if (!t) return error_set(err, GEOLOC_E_PARSE, "%s: %s: missing", file, name);
    if (t->dtype != dtype)
        return error_set(err, GEOLOC_E_PARSE, "%s: %s: dtype %s, %s expected", file, name,
                         geoloc_dtype_name(t->dtype), geoloc_dtype_name(dtype));
    int ok = t->ndim == ndim && (d0 ? t->shape[0] == d0 : t->shape[0] >= 1 && t->shape[0] <= MAX_CLASSES) &&
             (ndim < 2 || t->shape[1] == d1);
    if (!ok) {
        if (d0) return error_set(err, GEOLOC_E_PARSE, "%s: %s: shape of %zu dimensions, [%" PRIu64 "%s] expected",
                                 file, name, t->ndim, d0, ndim == 2 ? ",2" : "");
        return error_set(err, GEOLOC_E_PARSE, "%s: %s: shape of %zu dimensions, [K] with K in 1..%u expected",
                         file, name, t->ndim, MAX_CLASSES);
    }
    *out = t;
    return GEOLOC_OK;
}

/* Reads partition i's cells, counts and means and checks them. */
static geoloc_status read_partition(const geoloc_safetensors *st, const char *file, size_t i,
                                    geoloc_partition **out, geoloc_error *err) {
    char name[3][64];
    snprintf(name[0], sizeof name[0], "partition%zu.cells", i);
    snprintf(name[1], sizeof name[1], "partition%zu.count", i);
    snprintf(name[2], sizeof name[2], "partition%zu.mean", i);
    const geoloc_tensor_info *cells, *count, *mean;
    geoloc_status s = get_tensor(st, file, name[0], GEOLOC_DTYPE_I64, 1, 0, 0, &cells, err);
    if (s != GEOLOC_OK) return s;
    size_t n = (size_t)cells->shape[0];
    if ((s = get_tensor(st, file, name[1], GEOLOC_DTYPE_I64, 1, n, 0, &count, err)) != GEOLOC_OK ||
        (s = get_tensor(st, file, name[2], GEOLOC_DTYPE_F64, 2, n, 2, &mean, err)) != GEOLOC_OK)
        return s;
    geoloc_partition *p = partition_alloc(n);
    if (!p) return error_set(err, GEOLOC_E_NOMEM, "%s: out of memory", file);
    const unsigned char *cb = cells->data, *nb = count->data, *mb = mean->data;
    uint64_t total = 0;
    for (size_t k = 0; k < n && s == GEOLOC_OK; k++) {
        int64_t c;
        memcpy(&p->cell[k], cb + 8 * k, 8);
        memcpy(&c, nb + 8 * k, 8);
        memcpy(&p->lat[k], mb + 16 * k, 8);
        memcpy(&p->lng[k], mb + 16 * k + 8, 8);
        p->count[k] = (uint64_t)c;
        total += (uint64_t)c;
        if (!geoloc_s2_is_valid(p->cell[k]))
            s = error_set(err, GEOLOC_E_PARSE, "%s: %s[%zu]: 0x%016" PRIx64 " is not a valid S2 cell id",
                          file, name[0], k, p->cell[k]);
        else if (c < 0)
            s = error_set(err, GEOLOC_E_PARSE, "%s: %s[%zu]: negative count %" PRId64, file, name[1], k, c);
        else if (!(fabs(p->lat[k]) <= 90.0) || !(fabs(p->lng[k]) <= 180.0))
            s = error_set(err, GEOLOC_E_PARSE, "%s: %s[%zu]: (%g, %g) is not a latitude, longitude in degrees",
                          file, name[2], k, p->lat[k], p->lng[k]);
    }
    if (s == GEOLOC_OK && partition_index(p) != 0) s = error_set(err, GEOLOC_E_NOMEM, "%s: out of memory", file);
    for (size_t k = 1; s == GEOLOC_OK && k < n; k++) {
        geoloc_cell a = p->sorted_cell[k - 1], b = p->sorted_cell[k];
        if (geoloc_s2_range_max(a) >= geoloc_s2_range_min(b)) {
            char ta[GEOLOC_S2_TOKEN_SIZE], tb[GEOLOC_S2_TOKEN_SIZE];
            geoloc_s2_to_token(a, ta);
            geoloc_s2_to_token(b, tb);
            s = error_set(err, GEOLOC_E_PARSE, "%s: %s: cell %s (class %u) %s cell %s (class %u): "
                          "cells of a partition may not nest", file, name[0], tb, p->sorted_class[k],
                          a == b ? "repeats" : "overlaps", ta, p->sorted_class[k - 1]);
        }
    }
    if (s != GEOLOC_OK) {
        geoloc_partition_free(p);
        return s;
    }
    p->num_images = total;
    *out = p;
    return GEOLOC_OK;
}

/* The stored hierarchy must be the one the cells give. */
static geoloc_status check_hierarchy(const geoloc_safetensors *st, const char *file,
                                     const geoloc_model *m, geoloc_error *err) {
    for (size_t i = 1; i < m->n_partitions; i++)
        for (size_t j = 0; j < i; j++) {
            char name[64];
            snprintf(name, sizeof name, "partition%zu.ancestor%zu", i, j);
            const geoloc_tensor_info *t;
            size_t n = m->partitions[i]->n;
            geoloc_status s = get_tensor(st, file, name, GEOLOC_DTYPE_I32, 1, n, 0, &t, err);
            if (s != GEOLOC_OK) return s;
            for (size_t k = 0; k < n; k++) {
                int32_t v;
                memcpy(&v, (const unsigned char *)t->data + 4 * k, 4);
                if (v != m->ancestor[i][j][k])
                    return error_set(err, GEOLOC_E_PARSE, "%s: %s[%zu] is %d but the cells give %d: "
                                     "inconsistent partitions (%s is not the hierarchy of %s over %s)",
                                     file, name, k, (int)v, (int)m->ancestor[i][j][k], name,
                                     m->partition_names[i], m->partition_names[j]);
            }
        }
    return GEOLOC_OK;
}

/* Splits text at sep into at most max names checked with model_check_name
 * (forbidden = sep); calls put(ctx, k, name) for each; the count, or -1. */
static long split_names(const char *text, char sep, size_t max, char *name, size_t name_size,
                        int (*put)(void *ctx, size_t k, const char *name), void *ctx) {
    size_t k = 0;
    for (const char *p = text;; k++) {
        const char *end = strchr(p, sep);
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (k == max || len >= name_size) return -1;
        memcpy(name, p, len);
        name[len] = '\0';
        if (model_check_name(name, sep) != 0 || put(ctx, k, name) != 0) return -1;
        if (!end) return (long)k + 1;
        p = end + 1;
    }
}

static int put_partition_name(void *ctx, size_t k, const char *name) {
    geoloc_model *m = ctx;
    for (size_t j = 0; j < k; j++)
        if (!strcmp(m->partition_names[j], name)) return -1;
    snprintf(m->partition_names[k], sizeof m->partition_names[k], "%s", name);
    return 0;
}

static int put_scene_name(void *ctx, size_t k, const char *name) {
    geoloc_model *m = ctx;
    char **names = realloc(m->scene_names, (m->n_scenes + 1) * sizeof *names);
    if (!names) return -1;
    m->scene_names = names;
    if (!(names[m->n_scenes] = strdup(name))) return -1;
    m->n_scenes++;
    (void)k;
    return 0;
}

/* The scene levels' names: geoloc.scenes.S3 / .S16 / .S365 or (format 1) one
 * level in geoloc.scenes, known by its size (3, 16, 365; another size: S3's
 * place, as format 1 treated any scene head); geoloc.isn. */
static geoloc_status read_scenes(const geoloc_safetensors *st, const char *file, geoloc_model *m,
                                 geoloc_error *err) {
    char name[64];
    const char *legacy = geoloc_safetensors_metadata_get(st, "geoloc.scenes");
    for (size_t l = 0; l < GEOLOC_SCENE_LEVELS; l++) {
        const char *key = SCENE_KEYS[l], *v = geoloc_safetensors_metadata_get(st, key);
        if (legacy && v)
            return error_set(err, GEOLOC_E_PARSE, "%s: geoloc.scenes and %s: one or the other", file, key);
        if (legacy && l == 0) v = legacy, key = "geoloc.scenes";
        if (!v) continue;
        size_t before = m->n_scenes;
        m->scene_offset[l] = before;
        if (split_names(v, '\n', 100000, name, sizeof name, put_scene_name, m) < 1)
            return error_set(err, GEOLOC_E_PARSE, "%s: %s \"%.100s\": expected names (1-63 "
                             "characters) separated by newlines", file, key, v);
        m->scene_classes[l] = m->n_scenes - before;
    }
    if (legacy) {
        m->scene_legacy = 1;
        size_t n = m->scene_classes[0];
        int l = geoloc_scene_level_of_classes(n);
        m->scene_classes[0] = 0;
        m->scene_classes[l] = n;
    }
    for (size_t l = 0, at = 0; l < GEOLOC_SCENE_LEVELS; at += m->scene_classes[l], l++) m->scene_offset[l] = at;
    const char *isn = geoloc_safetensors_metadata_get(st, "geoloc.isn");
    if (isn && (strcmp(isn, "S3") != 0 || m->scene_classes[0] < 2 || m->n_partitions == 0))
        return error_set(err, GEOLOC_E_PARSE, "%s: geoloc.isn \"%.32s\": expected S3, with an S3 scene head "
                         "(geoloc.scenes.S3) and partitions", file, isn);
    m->n_isn = isn ? m->scene_classes[0] : 0;
    if (model_head_count(m->n_partitions, m->scene_classes, m->n_isn) > GEOLOC_NN_MAX_HEADS)
        return error_set(err, GEOLOC_E_PARSE, "%s: more than %d heads", file, GEOLOC_NN_MAX_HEADS);
    return GEOLOC_OK;
}

/* geoloc.partitions, geoloc.num_images, geoloc.scenes, geoloc.input,
 * geoloc.image_size, geoloc.backbone, geoloc.tuned and the extra pairs. */
static geoloc_status read_metadata(const geoloc_safetensors *st, const char *file, geoloc_model *m,
                                   geoloc_error *err) {
    char name[64];
    const char *v = geoloc_safetensors_metadata_get(st, "geoloc.partitions");
    if (!v) return error_set(err, GEOLOC_E_PARSE, "%s: geoloc.partitions: missing", file);
    long n = *v ? split_names(v, ',', GEOLOC_MODEL_MAX_PARTITIONS, name, sizeof name, put_partition_name, m) : 0;
    if (n < 0 || (n == 0 && *v))
        return error_set(err, GEOLOC_E_PARSE, "%s: geoloc.partitions \"%.100s\": expected 1 to %d distinct "
                         "names (1-63 characters) separated by commas", file, v, GEOLOC_MODEL_MAX_PARTITIONS);
    m->n_partitions = (size_t)n;
    geoloc_status s = read_scenes(st, file, m, err);
    if (s != GEOLOC_OK) return s;
    if (m->n_partitions == 0 && m->n_scenes == 0)
        return error_set(err, GEOLOC_E_PARSE, "%s: geoloc.partitions: empty, and no scene head: a model "
                         "needs partitions or scene heads", file);
    if (!(v = geoloc_safetensors_metadata_get(st, "geoloc.input")))
        return error_set(err, GEOLOC_E_PARSE, "%s: geoloc.input: missing", file);
    if (model_norm_parse(v, &m->norm) != 0)
        return error_set(err, GEOLOC_E_PARSE, "%s: geoloc.input \"%.64s\": expected imagenet, caffe_bgr "
                         "or none", file, v);
    if (!(v = geoloc_safetensors_metadata_get(st, "geoloc.image_size")))
        return error_set(err, GEOLOC_E_PARSE, "%s: geoloc.image_size: missing", file);
    char *end;
    long size = strtol(v, &end, 10);
    if (end == v || *end || size < 32 || size > 4096)
        return error_set(err, GEOLOC_E_PARSE, "%s: geoloc.image_size \"%.64s\": expected 32 to 4096",
                         file, v);
    m->image_size = (int)size;
    if ((v = geoloc_safetensors_metadata_get(st, "geoloc.backbone"))) {
        size_t len = strlen(v);
        int bad = len == 0 || len >= sizeof m->backbone || strchr(v, '/') || !strcmp(v, "..");
        for (size_t k = 0; k < len && !bad; k++) bad = (unsigned char)v[k] < 0x20;
        if (bad)
            return error_set(err, GEOLOC_E_PARSE, "%s: geoloc.backbone \"%.100s\": expected a file name "
                             "without folders", file, v);
        memcpy(m->backbone, v, len + 1);
    }
    if ((v = geoloc_safetensors_metadata_get(st, MODEL_TUNED_KEY))) {
        const char *format = geoloc_safetensors_metadata_get(st, "geoloc.format");
        if (!m->backbone[0])
            return error_set(err, GEOLOC_E_PARSE, "%s: " MODEL_TUNED_KEY " \"%.64s\" without geoloc.backbone: "
                             "fine-tuned stages go over a backbone file", file, v);
        if (strcmp(format, GEOLOC_MODEL_FORMAT_TUNED) != 0)
            return error_set(err, GEOLOC_E_PARSE, "%s: " MODEL_TUNED_KEY " in a file of format %s: fine-tuned "
                             "stages need %s (geoloc.format)", file, format, GEOLOC_MODEL_FORMAT_TUNED);
        if (!(m->tuned_from = model_tuned_parse(v)))
            return error_set(err, GEOLOC_E_PARSE, "%s: " MODEL_TUNED_KEY " \"%.64s\": expected the stages "
                             "layer<K> to layer4, comma-separated (e.g. layer4 or layer3,layer4)", file, v);
    }
    for (size_t k = 0; k < geoloc_safetensors_metadata_count(st); k++) {
        const char *key, *value;
        geoloc_safetensors_metadata_entry(st, k, &key, &value);
        if (!model_reserved_key(key) && geoloc_model_set_meta(m, key, value, err) != GEOLOC_OK)
            return error_set(err, GEOLOC_E_NOMEM, "%s: out of memory", file);
    }
    return GEOLOC_OK;
}

/* geoloc.num_images: one count per partition (absent: the sums of the counts). */
static geoloc_status read_num_images(const geoloc_safetensors *st, const char *file, geoloc_model *m,
                                     geoloc_error *err) {
    const char *v = geoloc_safetensors_metadata_get(st, "geoloc.num_images"), *p = v;
    for (size_t i = 0; v && i < m->n_partitions; i++) {
        char *end;
        if (*p < '0' || *p > '9') break;
        unsigned long long n = strtoull(p, &end, 10);
        if (*end != (i + 1 < m->n_partitions ? ',' : '\0')) break;
        m->partitions[i]->num_images = n;
        if (i + 1 == m->n_partitions) return GEOLOC_OK;
        p = end + 1;
    }
    if (!v || (m->n_partitions == 0 && !*v)) return GEOLOC_OK;
    return error_set(err, GEOLOC_E_PARSE, "%s: geoloc.num_images \"%.100s\": expected %zu counts "
                     "separated by commas", file, v, m->n_partitions);
}

/* The heads named in geoloc.heads must be geo0.. (one per partition, its size),
 * the scene levels' and the ISNs', in that order. */
static geoloc_status read_config(const geoloc_safetensors *st, const char *file, geoloc_model *m,
                                 geoloc_error *err) {
    geoloc_resnet_config cfg;
    geoloc_status s = net_config_from_metadata(st, file, &cfg, err);
    if (s != GEOLOC_OK) return s;
    if (!model_feature_dim(cfg.depth))
        return error_set(err, GEOLOC_E_PARSE, "%s: geoloc.arch: ResNet depth %d: expected 18, 34, 50, "
                         "101 or 152", file, cfg.depth);
    if (!geoloc_safetensors_metadata_get(st, "geoloc.heads"))
        return error_set(err, GEOLOC_E_PARSE, "%s: geoloc.heads: missing", file);
    model_set_heads(m, &cfg);
    if (cfg.n_heads != m->config.n_heads)
        return error_set(err, GEOLOC_E_PARSE, "%s: geoloc.heads: %zu heads for %zu partitions, %zu scene "
                         "heads and %zu ISNs: %zu expected", file, cfg.n_heads, m->n_partitions,
                         (size_t)(m->scene_classes[0] > 0) + (m->scene_classes[1] > 0) + (m->scene_classes[2] > 0),
                         m->n_isn, m->config.n_heads);
    for (size_t h = 0; h < cfg.n_heads; h++) {
        const geoloc_head_config *want = &m->config.heads[h], *got = &cfg.heads[h];
        if (strcmp(want->name, got->name) != 0)
            return error_set(err, GEOLOC_E_PARSE, "%s: geoloc.heads: head %zu is \"%s\", \"%s\" expected",
                             file, h, got->name, want->name);
        if (want->classes != got->classes)
            return error_set(err, GEOLOC_E_PARSE, "%s: geoloc.heads: head %s has %d classes, %d expected "
                             "(its partition's cells or scene level's names)", file, got->name, got->classes,
                             want->classes);
    }
    uint64_t feat = (uint64_t)model_feature_dim(cfg.depth);
    for (size_t h = 0; h < cfg.n_heads; h++) {
        char name[GEOLOC_NN_HEAD_NAME + 16];
        uint64_t shape[2] = {(uint64_t)cfg.heads[h].classes, feat};
        const float *data;
        snprintf(name, sizeof name, "%s.weight", cfg.heads[h].name);
        if ((s = geoloc_safetensors_get_f32(st, name, shape, 2, &data, err)) != GEOLOC_OK) return s;
        snprintf(name, sizeof name, "%s.bias", cfg.heads[h].name);
        if ((s = geoloc_safetensors_get_f32(st, name, shape, 1, &data, err)) != GEOLOC_OK) return s;
    }
    return GEOLOC_OK;
}

/* 1 when name is one of the partition tensors of n partitions. */
static int is_partition_tensor(const char *name, size_t n) {
    char want[64];
    for (size_t i = 0; i < n; i++) {
        const char *kinds[] = {"cells", "count", "mean"};
        for (size_t k = 0; k < 3; k++) {
            snprintf(want, sizeof want, "partition%zu.%s", i, kinds[k]);
            if (!strcmp(name, want)) return 1;
        }
        for (size_t j = 0; j < i; j++) {
            snprintf(want, sizeof want, "partition%zu.ancestor%zu", i, j);
            if (!strcmp(name, want)) return 1;
        }
    }
    return 0;
}

/* 1 when name is a parameter of one of the heads. */
static int is_head_tensor(const char *name, const geoloc_resnet_config *cfg) {
    for (size_t h = 0; h < cfg->n_heads; h++) {
        size_t len = strlen(cfg->heads[h].name);
        if (!strncmp(name, cfg->heads[h].name, len) &&
            (!strcmp(name + len, ".weight") || !strcmp(name + len, ".bias")))
            return 1;
    }
    return 0;
}

/* 1 when name is a partition, head, calibration or int8 range tensor. */
static int is_model_tensor(const char *name, const geoloc_model *m) {
    return is_partition_tensor(name, m->n_partitions) || is_head_tensor(name, &m->config) ||
           !strcmp(name, MODEL_CALIBRATION_TENSOR) || !strcmp(name, NET_INT8_RANGE_TENSOR);
}

/* A backbone tensor of a file naming a backbone file: one of the fine-tuned
 * stages (geoloc.tuned), F16 or F32, of the same dtype as the others (sets
 * m->tuned_dtype from the first). */
static geoloc_status check_tuned_tensor(const geoloc_tensor_info *t, const char *file, geoloc_model *m,
                                        size_t n_before, geoloc_error *err) {
    char tuned[32];
    model_tuned_text(m->tuned_from, tuned, sizeof tuned);
    if (!m->tuned_from)
        return error_set(err, GEOLOC_E_PARSE, "%s: tensor \"%.100s\": a backbone tensor in a model whose "
                         "backbone is the file %s (geoloc.backbone) and that has no fine-tuned stages "
                         "(" MODEL_TUNED_KEY ")", file, t->name, m->backbone);
    if (model_param_stage(t->name) < m->tuned_from)
        return error_set(err, GEOLOC_E_PARSE, "%s: tensor \"%.100s\": a backbone tensor outside the fine-tuned "
                         "stages (" MODEL_TUNED_KEY " %s) in a model whose backbone is the file %s (geoloc.backbone)",
                         file, t->name, tuned, m->backbone);
    if (t->dtype != GEOLOC_DTYPE_F16 && t->dtype != GEOLOC_DTYPE_F32)
        return error_set(err, GEOLOC_E_PARSE, "%s: tensor \"%.100s\": dtype %s, F16 or F32 expected", file, t->name,
                         geoloc_dtype_name(t->dtype));
    if (n_before && t->dtype != m->tuned_dtype)
        return error_set(err, GEOLOC_E_PARSE, "%s: tensor \"%.100s\": dtype %s, but the other tensors of the "
                         "fine-tuned stages are %s", file, t->name, geoloc_dtype_name(t->dtype),
                         geoloc_dtype_name(m->tuned_dtype));
    m->tuned_dtype = t->dtype;
    return GEOLOC_OK;
}

/* Every tensor must be a model tensor (is_model_tensor), a backbone tensor without
 * geoloc.backbone or one of the fine-tuned stages' with it; the backbone ones are
 * counted into *n_backbone. */
static geoloc_status check_tensor_names(const geoloc_safetensors *st, const char *file,
                                        geoloc_model *m, size_t *n_backbone, geoloc_error *err) {
    *n_backbone = 0;
    for (size_t k = 0; k < geoloc_safetensors_count(st); k++) {
        const geoloc_tensor_info *t = geoloc_safetensors_tensor(st, k);
        if (is_model_tensor(t->name, m)) continue;
        if (!strncmp(t->name, "partition", 9))
            return error_set(err, GEOLOC_E_PARSE, "%s: tensor \"%.100s\": unexpected (the model has %zu "
                             "partitions)", file, t->name, m->n_partitions);
        geoloc_status s = m->backbone[0] ? check_tuned_tensor(t, file, m, *n_backbone, err) : GEOLOC_OK;
        if (s != GEOLOC_OK) return s;
        ++*n_backbone;
    }
    if (!m->backbone[0] && *n_backbone == 0)
        return error_set(err, GEOLOC_E_PARSE, "%s: no backbone tensors and no geoloc.backbone naming a "
                         "backbone file", file);
    if (m->tuned_from && *n_backbone == 0)
        return error_set(err, GEOLOC_E_PARSE, "%s: " MODEL_TUNED_KEY " %s: none of their tensors is in the file",
                         file, geoloc_safetensors_metadata_get(st, MODEL_TUNED_KEY));
    return GEOLOC_OK;
}

/* Everything but the network weights. */
static geoloc_status read_model(const geoloc_safetensors *st, const char *file, geoloc_model **out,
                                size_t *n_backbone, geoloc_error *err) {
    *out = NULL;
    geoloc_model *m = model_alloc();
    if (!m) return error_set(err, GEOLOC_E_NOMEM, "%s: out of memory", file);
    geoloc_status s = check_format(st, file, err);
    if (s == GEOLOC_OK) s = read_metadata(st, file, m, err);
    for (size_t i = 0; s == GEOLOC_OK && i < m->n_partitions; i++)
        s = read_partition(st, file, i, &m->partitions[i], err);
    if (s == GEOLOC_OK) s = read_num_images(st, file, m, err);
    if (s == GEOLOC_OK && model_compute_hierarchy(m, err) != GEOLOC_OK)
        s = error_set(err, GEOLOC_E_NOMEM, "%s: out of memory", file);
    if (s == GEOLOC_OK) s = check_hierarchy(st, file, m, err);
    if (s == GEOLOC_OK) s = read_config(st, file, m, err);
    if (s == GEOLOC_OK) s = check_tensor_names(st, file, m, n_backbone, err);
    if (s == GEOLOC_OK) s = model_calibration_read(st, file, m, err);
    if (s != GEOLOC_OK) {
        geoloc_model_free(m);
        return s;
    }
    *out = m;
    return GEOLOC_OK;
}

geoloc_status geoloc_model_read_info_buffer(const void *data, size_t size, const char *name,
                                            geoloc_model **out, geoloc_error *err) {
    geoloc_safetensors *st = NULL;
    *out = NULL;
    geoloc_status s = geoloc_safetensors_open_buffer(data, size, name, &st, err);
    size_t n_backbone;
    if (s == GEOLOC_OK) s = read_model(st, name, out, &n_backbone, err);
    geoloc_safetensors_close(st);
    return s;
}

geoloc_status geoloc_model_read_info(const char *path, geoloc_model **out, geoloc_error *err) {
    geoloc_safetensors *st = NULL;
    *out = NULL;
    geoloc_status s = geoloc_safetensors_open(path, &st, err);
    size_t n_backbone;
    if (s == GEOLOC_OK) s = read_model(st, path, out, &n_backbone, err);
    geoloc_safetensors_close(st);
    return s;
}

/* Copies the heads' parameters and those of the fine-tuned stages from st. */
static geoloc_status load_heads(geoloc_model *m, const geoloc_safetensors *st, const char *file, geoloc_error *err) {
    for (size_t i = 0; i < geoloc_net_param_count(m->net); i++) {
        geoloc_param *p = geoloc_net_param(m->net, i);
        geoloc_status s = GEOLOC_OK;
        if (p->head >= 0) {
            const float *src;
            s = geoloc_safetensors_get_f32(st, p->name, p->shape, p->ndim, &src, err);
            if (s == GEOLOC_OK) memcpy(p->data, src, p->n * sizeof(float));
        } else if (m->tuned_from && model_param_stage(p->name) >= m->tuned_from) {
            s = model_tuned_load_param(p, st, file, err);
        }
        if (s != GEOLOC_OK) return s;
    }
    return GEOLOC_OK;
}

/* The file's n_backbone backbone tensors must all have been loaded (want of
 * them): else one is no parameter of the network, named in the error. */
static geoloc_status check_all_loaded(const geoloc_model *m, const geoloc_safetensors *st, const char *file,
                                      size_t want, size_t n_backbone, geoloc_error *err) {
    for (size_t k = 0; want != n_backbone && k < geoloc_safetensors_count(st); k++) {
        const char *name = geoloc_safetensors_tensor(st, k)->name;
        if (!is_model_tensor(name, m) && !geoloc_net_find_param(m->net, name))
            return error_set(err, GEOLOC_E_PARSE, "%s: tensor \"%.100s\": not a parameter of resnet%d", file, name,
                             m->config.depth);
    }
    return GEOLOC_OK;
}

/* Adds path to m->notice when st had no data checksum (a file from before checksums). */
static void note_unverified(geoloc_model *m, const geoloc_safetensors *st, const char *path) {
    if (geoloc_safetensors_has_checksum(st)) return;
    size_t len = strlen(m->notice);
    snprintf(m->notice + len, sizeof m->notice - len, "%s%s: written before checksums; not verified",
             len ? "; " : "", path);
}

/* The backbone from the file m->backbone names (found with geoloc_model_find_data). */
static geoloc_status load_backbone(geoloc_model *m, const char *file, geoloc_error *err) {
    char path[4096];
    if (geoloc_model_find_data(m->backbone, path, sizeof path) != 0) {
        char searched[3 * 4200];
        model_search_text(searched, sizeof searched);
        return error_set(err, GEOLOC_E_IO, "%s: geoloc.backbone: the backbone weights %s are not in %s; "
                         "tools/fetch-backbone.sh (run by ./setup.sh) fetches them", file, m->backbone,
                         searched);
    }
    geoloc_safetensors *st = NULL;
    geoloc_resnet_config cfg;
    geoloc_status s = geoloc_safetensors_open(path, &st, err);
    if (s == GEOLOC_OK) s = net_config_from_metadata(st, path, &cfg, err);
    const geoloc_resnet_config *want = &m->config;
    if (s == GEOLOC_OK && (cfg.depth != want->depth || cfg.stride_on_conv1 != want->stride_on_conv1 ||
                           cfg.conv_bias != want->conv_bias || cfg.bn_eps != want->bn_eps))
        s = error_set(err, GEOLOC_E_PARSE, "%s: geoloc.backbone %s: its architecture (resnet%d, stride on "
                      "%s, conv bias %s, bn eps %g) is not the model's (resnet%d, %s, %s, %g)", file, path,
                      cfg.depth, cfg.stride_on_conv1 ? "conv1" : "conv2", cfg.conv_bias ? "yes" : "no",
                      (double)cfg.bn_eps, want->depth, want->stride_on_conv1 ? "conv1" : "conv2",
                      want->conv_bias ? "yes" : "no", (double)want->bn_eps);
    if (s == GEOLOC_OK) s = geoloc_net_load(m->net, st, 1, err);
    if (s == GEOLOC_OK) note_unverified(m, st, path);
    geoloc_safetensors_close(st);
    return s;
}

geoloc_status geoloc_model_load(const char *path, geoloc_model **out, geoloc_error *err) {
    geoloc_safetensors *st = NULL;
    geoloc_model *m = NULL;
    size_t n_backbone = 0;
    *out = NULL;
    geoloc_status s = geoloc_safetensors_open(path, &st, err);
    if (s == GEOLOC_OK) s = read_model(st, path, &m, &n_backbone, err);
    if (s == GEOLOC_OK) note_unverified(m, st, path);
    if (s == GEOLOC_OK) s = geoloc_net_create(&m->config, &m->net, err);
    if (s == GEOLOC_OK && m->backbone[0]) {
        s = load_backbone(m, path, err);
        if (s == GEOLOC_OK) s = load_heads(m, st, path, err);
        if (s == GEOLOC_OK) s = net_int8_ranges_load(m->net, st, path, err); /* the model's own, if any */
    } else if (s == GEOLOC_OK) {
        s = geoloc_net_load(m->net, st, 0, err);
    }
    size_t want = 0; /* the backbone parameters read from the file */
    for (size_t i = 0; s == GEOLOC_OK && i < geoloc_net_param_count(m->net); i++) {
        const geoloc_param *p = geoloc_net_param(m->net, i);
        want += p->head < 0 && (!m->backbone[0] || (m->tuned_from && model_param_stage(p->name) >= m->tuned_from));
    }
    if (s == GEOLOC_OK) s = check_all_loaded(m, st, path, want, n_backbone, err);
    geoloc_safetensors_close(st);
    if (s != GEOLOC_OK) {
        geoloc_model_free(m);
        return s;
    }
    *out = m;
    return GEOLOC_OK;
}
