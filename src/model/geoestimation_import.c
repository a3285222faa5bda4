/* Import of GeoEstimation's released base(M, f*) checkpoint (PyTorch
 * Lightning, torchvision ResNet-50 in a Sequential + one Linear head per
 * partition) into a geoloc model: the partitions read, the model built, every
 * tensor copied by name with its shape checked, the file written. */
#include "geoloc/torch_ckpt.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "geoloc/model.h"

static const char *const PARTITIONS[GEOLOC_GEOESTIMATION_PARTITIONS] = {"cells_50_5000", "cells_50_2000",
                                                                        "cells_50_1000"};

/* The model the checkpoint fills: torchvision ResNet-50, one geo head per
 * partition (coarse to fine), no scene head, parameters zero. */
static geoloc_status create_model(geoloc_partition *const *parts, geoloc_model **m, geoloc_error *err) {
    geoloc_resnet_config cfg;
    geoloc_resnet_config_default(&cfg, 50, 1);
    return geoloc_model_create(&cfg, (const geoloc_partition *const *)parts, PARTITIONS,
                               GEOLOC_GEOESTIMATION_PARTITIONS, NULL, 0, m, err);
}

/* The checkpoint's name of a geoloc parameter: conv1/bn1 are model.0/model.1,
 * layer1-4 model.4-7, head geo<f> classifier.<f>; 0, or -1 for another name. */
static int checkpoint_name(const char *name, char *out, size_t size) {
    if (!strncmp(name, "conv1.", 6)) snprintf(out, size, "model.0.%s", name + 6);
    else if (!strncmp(name, "bn1.", 4)) snprintf(out, size, "model.1.%s", name + 4);
    else if (!strncmp(name, "layer", 5) && name[5] >= '1' && name[5] <= '4' && name[6] == '.')
        snprintf(out, size, "model.%d.%s", name[5] - '1' + 4, name + 7);
    else if (!strncmp(name, "geo", 3) && name[3] >= '0' && name[3] <= '2' && name[4] == '.')
        snprintf(out, size, "classifier.%c.%s", name[3], name + 5);
    else return -1;
    return 0;
}

static void shape_text(const uint64_t *shape, size_t ndim, char *out, size_t size) {
    size_t n = (size_t)snprintf(out, size, "[");
    for (size_t d = 0; d < ndim && n < size; d++)
        n += (size_t)snprintf(out + n, size - n, "%s%" PRIu64, d ? "," : "", shape[d]);
    if (n < size) snprintf(out + n, size - n, "]");
}

/* Copies every parameter of m from the checkpoint; used[k] marks tensor k. */
static geoloc_status copy_params(geoloc_model *m, const geoloc_torch_ckpt *c, const char *file,
                                 const char *dir, unsigned char *used, geoloc_geoestimation_import_result *res,
                                 geoloc_error *err) {
    for (size_t i = 0; i < geoloc_net_param_count(m->net); i++) {
        geoloc_param *p = geoloc_net_param(m->net, i);
        char name[128], want[96], got[96];
        if (checkpoint_name(p->name, name, sizeof name) != 0)
            return error_set(err, GEOLOC_E_ARG, "%s: internal: no checkpoint name for %s", file, p->name);
        const geoloc_torch_tensor *t = geoloc_torch_ckpt_find(c, name);
        if (!t)
            return error_set(err, GEOLOC_E_PARSE, "%s: state_dict has no tensor %s (%s of the ResNet-50 or its "
                             "heads)", file, name, p->name);
        if (!t->is_f32)
            return error_set(err, GEOLOC_E_PARSE, "%s: tensor %s is torch.%s, float32 expected", file, name,
                             t->storage_type);
        int same = t->ndim == p->ndim;
        for (size_t d = 0; same && d < p->ndim; d++) same = t->shape[d] == p->shape[d];
        if (!same) {
            shape_text(p->shape, p->ndim, want, sizeof want);
            shape_text(t->shape, t->ndim, got, sizeof got);
            if (p->head >= 0)
                return error_set(err, GEOLOC_E_RANGE, "%s: tensor %s has shape %s, %s expected: the partition "
                                 "%s/%s.csv has %d cells (the checkpoint's partitions differ)", file, name, got,
                                 want, dir, PARTITIONS[p->head], m->config.heads[p->head].classes);
            return error_set(err, GEOLOC_E_RANGE, "%s: tensor %s has shape %s, %s expected (ResNet-50)", file,
                             name, got, want);
        }
        memcpy(p->data, t->data, p->n * sizeof(float));
        used[t - geoloc_torch_ckpt_tensor(c, 0)] = 1;
        res->n_tensors++;
        res->n_parameters += p->n;
    }
    for (size_t k = 0; k < geoloc_torch_ckpt_count(c); k++) {
        const geoloc_torch_tensor *t = geoloc_torch_ckpt_tensor(c, k);
        size_t len = strlen(t->name);
        if (used[k]) continue;
        if (len >= 20 && !strcmp(t->name + len - 20, ".num_batches_tracked")) {
            res->n_ignored++;
            continue;
        }
        char got[96];
        shape_text(t->shape, t->ndim, got, sizeof got);
        return error_set(err, GEOLOC_E_PARSE, "%s: unexpected tensor %s %s in the state_dict (not part of "
                         "ResNet-50 with %d heads)", file, t->name, got, GEOLOC_GEOESTIMATION_PARTITIONS);
    }
    return GEOLOC_OK;
}

/* The model with the checkpoint's weights and metadata. */
static geoloc_status build(const char *ckpt_path, const char *dir, geoloc_partition *const *parts,
                           const geoloc_geoestimation_import_options *opt,
                           geoloc_geoestimation_import_result *res, geoloc_model **out, geoloc_error *err) {
    geoloc_torch_ckpt *c = NULL;
    geoloc_model *m = NULL;
    unsigned char *used = NULL;
    geoloc_status s = geoloc_torch_ckpt_open(ckpt_path, &c, err);
    if (s == GEOLOC_OK) s = create_model(parts, &m, err);
    if (s == GEOLOC_OK && !(used = calloc(geoloc_torch_ckpt_count(c), 1)))
        s = error_set(err, GEOLOC_E_NOMEM, "out of memory");
    if (s == GEOLOC_OK) s = copy_params(m, c, ckpt_path, dir, used, res, err);
    if (s == GEOLOC_OK && opt && opt->source) {
        snprintf(res->source, sizeof res->source, "%s", opt->source);
    } else if (s == GEOLOC_OK) {
        const char *base = strrchr(ckpt_path, '/');
        int64_t epoch, step;
        int n = snprintf(res->source, sizeof res->source, "GeoEstimation base(M, f*) %s", base ? base + 1 : ckpt_path);
        if (n > 0 && (size_t)n < sizeof res->source && geoloc_torch_ckpt_int(c, "epoch", &epoch) == 0 &&
            geoloc_torch_ckpt_int(c, "global_step", &step) == 0)
            snprintf(res->source + n, sizeof res->source - (size_t)n, " (epoch %" PRId64 ", step %" PRId64 ")",
                     epoch, step);
    }
    if (s == GEOLOC_OK) s = geoloc_model_set_meta(m, "geoloc.source", res->source, err);
    if (s == GEOLOC_OK) s = geoloc_model_set_meta(m, "geoloc.crops", "five", err);
    free(used);
    geoloc_torch_ckpt_close(c);
    if (s != GEOLOC_OK) {
        geoloc_model_free(m);
        return s;
    }
    *out = m;
    return GEOLOC_OK;
}

geoloc_status geoloc_geoestimation_import(const char *ckpt_path, const char *partitions_dir,
                                          const char *out_path,
                                          const geoloc_geoestimation_import_options *opt,
                                          geoloc_geoestimation_import_result *res, geoloc_error *err) {
    geoloc_geoestimation_import_result local;
    if (!res) res = &local;
    memset(res, 0, sizeof *res);
    if (!ckpt_path || !partitions_dir || !out_path)
        return error_set(err, GEOLOC_E_ARG, "geoestimation import: NULL path");
    geoloc_partition *parts[GEOLOC_GEOESTIMATION_PARTITIONS] = {0};
    geoloc_status s = GEOLOC_OK;
    for (size_t f = 0; f < GEOLOC_GEOESTIMATION_PARTITIONS && s == GEOLOC_OK; f++) {
        char path[4200];
        snprintf(path, sizeof path, "%s/%s.csv", partitions_dir, PARTITIONS[f]);
        s = geoloc_partition_read(path, &parts[f], err);
        if (s == GEOLOC_OK) res->classes[f] = parts[f]->n;
    }
    geoloc_model *m = NULL;
    if (s == GEOLOC_OK) s = build(ckpt_path, partitions_dir, parts, opt, res, &m, err);
    if (s == GEOLOC_OK) s = geoloc_model_save(m, out_path, 0, NULL, err);
    geoloc_model_free(m);
    for (size_t f = 0; f < GEOLOC_GEOESTIMATION_PARTITIONS; f++) geoloc_partition_free(parts[f]);
    return s;
}
