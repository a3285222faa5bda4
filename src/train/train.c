/* geoloc_train: sets a training run up (the run's exclusive lock on its
 * outputs, photos, split, partitions, labels, backbone, model), extracts or
 * reads the features (heads mode, baselines), runs the training loop
 * (loop.c) and saves the model, refusing to save anything non-finite.
 * Several ranks (geoloc_dist_size() > 1): every rank sets up the same data
 * and network; full mode trains data-parallel on all of them, heads mode on
 * rank 0; rank 0 alone locks and writes the outputs. */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/error.h"
#include "geoloc/dist.h"
#include "geoloc/scene.h"
#include "io/mapped_file.h"
#include "model/model_internal.h"
#include "train/internal.h"

#define DEFAULT_BACKBONE "resnet50-imagenet.safetensors"

geoloc_train_options geoloc_train_options_default(geoloc_train_mode mode) {
    geoloc_train_options o;
    memset(&o, 0, sizeof o);
    o.mode = mode;
    o.loader_threads = 1;
    o.scene = GEOLOC_SCENE_AUTO;
    for (int l = 0; l < 3; l++) o.scene_weight[l] = 1.0;
    o.geo_weight = 1.0;
    o.image_size = 224;
    o.lr = 0.01;
    o.momentum = 0.9;
    o.weight_decay = 1e-4;
    o.lr_schedule = "step:5:0.5";
    o.backbone_lr_scale = 1.0;
    o.seed = 1;
    o.heads_only = -1;
    o.check_every = 50;
    if (mode == GEOLOC_TRAIN_FULL) {
        o.epochs = 15;
        o.batch = 128;
        o.micro_batch = 32;
        o.views = 3;
        o.log_every = 1;
    } else {
        o.epochs = 30;
        o.batch = 256;
        o.micro_batch = 256;
        o.views = 6;
        o.standardize = 1;
        o.calibration_folds = 5;
    }
    return o;
}

/* ---- options, backbone, model, files ---- */

static geoloc_status check_options(const geoloc_train_options *o, geoloc_error *err) {
    if (o->mode != GEOLOC_TRAIN_HEADS && o->mode != GEOLOC_TRAIN_FULL)
        return error_set(err, GEOLOC_E_ARG, "unknown training mode %d", (int)o->mode);
    if (!o->out || !*o->out) return error_set(err, GEOLOC_E_ARG, "no output model file");
    if (o->epochs < 0) return error_set(err, GEOLOC_E_ARG, "epochs must be >= 0");
    if (o->image_size < 32 || o->image_size > 4096)
        return error_set(err, GEOLOC_E_ARG, "image size %d: 32 to 4096 expected", o->image_size);
    if (o->batch < 1) return error_set(err, GEOLOC_E_ARG, "batch must be positive");
    if (o->mode == GEOLOC_TRAIN_FULL && (o->micro_batch < 1 || o->batch % o->micro_batch))
        return error_set(err, GEOLOC_E_ARG, "batch %d is not a multiple of the micro-batch %d", o->batch,
                         o->micro_batch);
    if (!(o->lr >= 0) || !isfinite(o->lr)) return error_set(err, GEOLOC_E_ARG, "lr must be a finite number >= 0");
    if (!(o->backbone_lr_scale >= 0) || !isfinite(o->backbone_lr_scale))
        return error_set(err, GEOLOC_E_ARG, "backbone lr scale must be >= 0");
    if (o->views < 3 || o->views > 64) return error_set(err, GEOLOC_E_ARG, "views %d: 3 to 64 expected", o->views);
    if (o->checkpoint_every < 0 || o->log_every < 0 || o->stop_after < 0)
        return error_set(err, GEOLOC_E_ARG, "negative step counts");
    if (o->tune_from < 0 || o->tune_from > 4 || (o->tune_from && (o->mode != GEOLOC_TRAIN_FULL || o->freeze_backbone)))
        return error_set(err, GEOLOC_E_ARG, "tune from layer %d: full mode only, 1..4 (0: the whole network), "
                         "not with a frozen backbone", o->tune_from);
    if (o->mode == GEOLOC_TRAIN_FULL && o->heads_only == 1)
        return error_set(err, GEOLOC_E_ARG, "full training changes the backbone (batch-norm statistics "
                                            "included): the model must hold it (no heads-only)");
    return GEOLOC_OK;
}

static void prefix_of(const char *out, char *prefix, size_t size) {
    snprintf(prefix, size, "%s", out);
    size_t n = strlen(prefix);
    const char *ext = ".safetensors";
    size_t e = strlen(ext);
    if (n > e && !strcmp(prefix + n - e, ext)) prefix[n - e] = '\0';
}

/* The model on the backbone with the data's heads: S3 named indoor / natural /
 * urban, S16 and S365 by share/geoloc/scenes. */
static geoloc_status create_model(train_model *c, const train_run *r, const train_data *d, geoloc_error *err) {
    char **names[GEOLOC_SCENE_LEVELS] = {NULL};
    const char *s3[3];
    geoloc_scene_heads scenes = {.isn = d->n_isn > 0};
    geoloc_status s = GEOLOC_OK;
    for (int l = 0; l < GEOLOC_SCENE_LEVELS && s == GEOLOC_OK; l++) {
        if (d->scene_head[l] < 0) continue;
        scenes.n[l] = geoloc_scene_level_classes(l);
        if (l == GEOLOC_SCENE_LEVEL_S3) {
            for (int k = 0; k < 3; k++) s3[k] = geoloc_s3_label_name(k);
            scenes.names[l] = s3;
        } else if ((s = geoloc_scene_names_load(l, &names[l], err)) == GEOLOC_OK) {
            scenes.names[l] = (const char *const *)names[l];
        }
    }
    const char *pn[TRAIN_MAX_PARTS];
    for (size_t p = 0; p < d->n_parts; p++) pn[p] = d->part_name[train_head(d, TRAIN_HEAD_GEO, p)];
    /* heads mode: heads start at zero (a convex problem); full: torch's initialisation */
    uint64_t seed = r->o->mode == GEOLOC_TRAIN_FULL ? train_mix(r->o->seed) | 1 : 0;
    if (s == GEOLOC_OK)
        s = geoloc_model_create(&c->backbone_cfg, d->part, pn, d->n_parts, &scenes, seed, &c->model, err);
    for (int l = 0; l < GEOLOC_SCENE_LEVELS; l++) geoloc_scene_names_free(names[l], l);
    if (s != GEOLOC_OK) return s;
    for (size_t h = 0; h < d->n_heads; h++) { /* the data's head order is the model's */
        const char *want = c->model->config.heads[h].name, *have = d->head_name[h];
        if (h >= d->n_parts && strcmp(want, have))
            return error_set(err, GEOLOC_E_ARG, "internal: head %zu is %s in the model, %s in the data", h, want, have);
    }
    return GEOLOC_OK;
}

/* The backbone file, its identity, and the model built on it with the data's heads. */
static geoloc_status open_backbone(train_model *c, const train_run *r, const train_data *d, geoloc_error *err) {
    const char *path = r->o->backbone;
    if (!path) {
        if (geoloc_model_find_data(DEFAULT_BACKBONE, c->backbone_path, sizeof c->backbone_path) != 0) {
            char where[512];
            model_search_text(where, sizeof where);
            return error_set(err, GEOLOC_E_IO,
                             "no backbone weights: %s not found in %s; run tools/fetch-backbone.sh "
                             "(or give --backbone FILE)", DEFAULT_BACKBONE, where);
        }
    } else {
        snprintf(c->backbone_path, sizeof c->backbone_path, "%s", path);
    }
    const char *slash = strrchr(c->backbone_path, '/');
    snprintf(c->backbone_name, sizeof c->backbone_name, "%.255s", slash ? slash + 1 : c->backbone_path);
    const void *data;
    size_t size;
    geoloc_status s = mapped_file_open(c->backbone_path, &data, &size, err);
    if (s != GEOLOC_OK) {
        if (!path) return s;
        size_t len = strlen(err->message);
        snprintf(err->message + len, sizeof err->message - len, " (the ImageNet ResNet-50: tools/fetch-backbone.sh)");
        return s;
    }
    c->backbone_hash = train_hash_bytes(0x42, data, size);
    mapped_file_close(data, size);
    geoloc_safetensors *st = NULL;
    if ((s = geoloc_safetensors_open(c->backbone_path, &st, err)) != GEOLOC_OK) return s;
    s = geoloc_resnet_config_from_weights(st, &c->backbone_cfg, err);
    const char *input = geoloc_safetensors_metadata_get(st, "geoloc.input");
    c->norm = GEOLOC_NORM_IMAGENET;
    if (s == GEOLOC_OK && input && model_norm_parse(input, &c->norm) != 0)
        s = error_set(err, GEOLOC_E_PARSE, "%s: unknown geoloc.input \"%s\"", c->backbone_path, input);
    if (s == GEOLOC_OK) {
        s = create_model(c, r, d, err);
    }
    if (s == GEOLOC_OK) {
        c->model->norm = c->norm;
        c->model->image_size = r->o->image_size;
        s = geoloc_net_load(c->model->net, st, 1, err);
    }
    geoloc_safetensors_close(st);
    if (s == GEOLOC_OK)
        train_info(r, "backbone %s: ResNet-%d, input %s", c->backbone_path, c->backbone_cfg.depth,
                   model_norm_name(c->norm));
    return s;
}

/* The output files' names (the run's options text comes with the backbone). */
static void set_paths(train_run *r) {
    char prefix[TRAIN_PATH];
    prefix_of(r->o->out, prefix, sizeof prefix);
    const geoloc_train_options *o = r->o;
    if (o->features) snprintf(r->features_path, sizeof r->features_path, "%s", o->features);
    else snprintf(r->features_path, sizeof r->features_path, "%.1000s.features.safetensors", prefix);
    if (o->checkpoint) snprintf(r->ckpt_path, sizeof r->ckpt_path, "%s", o->checkpoint);
    else snprintf(r->ckpt_path, sizeof r->ckpt_path, "%.1000s.ckpt.safetensors", prefix);
    if (o->log) snprintf(r->log_path, sizeof r->log_path, "%s", o->log);
    else snprintf(r->log_path, sizeof r->log_path, "%.1000s.log.csv", prefix);
}

/* The hyperparameters a resume must match. */
static void set_options_text(train_run *r, const train_model *m) {
    const geoloc_train_options *o = r->o;
    snprintf(r->options_text, sizeof r->options_text,
             "mode=%s size=%d lr=%.17g schedule=%s momentum=%.17g wd=%.17g nesterov=%d batch=%d "
             "micro=%d loss=%s freeze=%d tune=%d bblr=%.17g seed=%" PRIu64 " views=%d std=%d backbone=%016" PRIx64
             " geo=%.17g scene=%.17g,%.17g,%.17g",
             o->mode == GEOLOC_TRAIN_FULL ? "full" : "heads", o->image_size, o->lr,
             o->lr_schedule ? o->lr_schedule : "constant", o->momentum, o->weight_decay, o->nesterov, o->batch,
             o->mode == GEOLOC_TRAIN_FULL ? o->micro_batch : 0, o->loss_sum ? "sum" : "mean",
             o->freeze_backbone, o->tune_from, o->backbone_lr_scale, o->seed,
             o->mode == GEOLOC_TRAIN_HEADS ? o->views : 0, o->mode == GEOLOC_TRAIN_HEADS ? o->standardize : 0,
             m->backbone_hash, o->geo_weight, o->scene_weight[0], o->scene_weight[1], o->scene_weight[2]);
}

/* The run's exclusive lock on each of its outputs (a sidecar of <output>.run, so the
 * atomic writer's own lock on the output stays free for this very run). */
static geoloc_status lock_outputs(train_run *r, geoloc_error *err) {
    const char *outputs[TRAIN_N_LOCKS] = {r->o->out, r->ckpt_path, r->log_path, r->features_path};
    char name[TRAIN_PATH + 8];
    for (int k = 0; k < TRAIN_N_LOCKS; k++) r->lock[k].fd = -1;
    if (geoloc_dist_rank() != 0) return GEOLOC_OK; /* rank 0 writes for the job */
    for (int k = 0; k < TRAIN_N_LOCKS; k++) {
        int seen = 0;
        for (int j = 0; j < k; j++) seen |= !strcmp(outputs[j], outputs[k]);
        if (seen) continue;
        snprintf(name, sizeof name, "%.1000s.run", outputs[k]);
        geoloc_status s = file_lock_acquire(&r->lock[k], name, err);
        if (s == GEOLOC_E_BUSY)
            return error_set(err, GEOLOC_E_BUSY, "%s is in use by another geoloc train run: wait for it to "
                             "finish or choose other outputs", outputs[k]);
        if (s != GEOLOC_OK) return s;
    }
    return GEOLOC_OK;
}

static void unlock_outputs(train_run *r) {
    for (int k = 0; k < TRAIN_N_LOCKS; k++) file_lock_release(&r->lock[k]);
}

/* Writes built partitions next to the model: <prefix>.<name>.csv. */
static geoloc_status write_partitions(const train_run *r, const train_data *d, geoloc_error *err) {
    char prefix[TRAIN_PATH], path[TRAIN_PATH + 96];
    if (geoloc_dist_rank() != 0) return GEOLOC_OK;
    prefix_of(r->o->out, prefix, sizeof prefix);
    for (size_t p = 0; p < d->n_parts; p++) {
        if (!d->owned[p]) continue;
        snprintf(path, sizeof path, "%s.%s.csv", prefix, d->part_name[p]);
        geoloc_status s = geoloc_partition_write(d->part[p], path, err);
        if (s != GEOLOC_OK) return s;
        train_info(r, "wrote %s", path);
    }
    return GEOLOC_OK;
}

/* The model with the run's metadata; a non-finite weight is a divergence, never saved. */
static geoloc_status save_model(train_run *r, const train_data *dt, train_model *m, geoloc_error *err) {
    const geoloc_train_options *o = r->o;
    geoloc_net *net = m->model->net;
    for (size_t i = 0; i < geoloc_net_param_count(net); i++) {
        const geoloc_param *p = geoloc_net_param(net, i);
        if (train_first_nonfinite(p->data, p->n) < p->n) {
            char what[128];
            snprintf(what, sizeof what, "weight %.64s is not finite", p->name);
            return train_diverged(r, r->res->epochs_done, r->res->steps, what, err);
        }
    }
    int heads_only = o->heads_only < 0 ? o->mode == GEOLOC_TRAIN_HEADS : o->heads_only;
    if (o->mode == GEOLOC_TRAIN_FULL) geoloc_net_clear_int8_ranges(net); /* the backbone file's no longer fit */
    char v[64];
    const char *mode = o->mode == GEOLOC_TRAIN_FULL ? "full" : "heads";
    geoloc_status s = geoloc_model_set_meta(m->model, "geoloc.train.mode", mode, err);
    snprintf(v, sizeof v, "%d", r->res->epochs_done);
    if (s == GEOLOC_OK) s = geoloc_model_set_meta(m->model, "geoloc.train.epochs", v, err);
    snprintf(v, sizeof v, "%zu", dt->n_train);
    if (s == GEOLOC_OK) s = geoloc_model_set_meta(m->model, "geoloc.train.photos", v, err);
    if (s == GEOLOC_OK && dt->n_val && r->res->val.n) {
        const geoloc_distance_summary *d = &r->res->val;
        char acc[160];
        snprintf(acc, sizeof acc, "n=%zu 1km=%.4f 25km=%.4f 200km=%.4f 750km=%.4f 2500km=%.4f median_km=%.1f", d->n,
                 d->accuracy[0], d->accuracy[1], d->accuracy[2], d->accuracy[3], d->accuracy[4], d->median_km);
        s = geoloc_model_set_meta(m->model, "geoloc.train.val", acc, err);
    }
    if (s == GEOLOC_OK) s = geoloc_model_set_meta(m->model, "geoloc.train.options", r->options_text, err);
    /* --tune-from: the heads and the tuned layers in float16 over the backbone file, unless --with-backbone */
    int tuned = o->tune_from && o->heads_only < 0;
    if (s == GEOLOC_OK && tuned)
        s = geoloc_model_save_tuned(m->model, o->out, m->backbone_name, o->tune_from, GEOLOC_DTYPE_F16, err);
    else if (s == GEOLOC_OK)
        s = geoloc_model_save(m->model, o->out, heads_only, heads_only ? m->backbone_name : NULL, err);
    if (s != GEOLOC_OK) return s;
    train_info(r, "wrote %s%s", o->out, tuned ? " (heads and the tuned layers in float16)" : heads_only ? " (heads only)" : "");
    if (heads_only || tuned) {
        char found[TRAIN_PATH];
        if (geoloc_model_find_data(m->backbone_name, found, sizeof found) != 0)
            train_warn(r, "the model names its backbone %s, which is not where models look for it "
                       "(models/, share/geoloc or $GEOLOC_DATA_DIR)", m->backbone_name);
    }
    return GEOLOC_OK;
}

/* ---- the run ---- */

geoloc_status geoloc_train(const geoloc_train_options *opt, geoloc_train_result *result,
                           geoloc_error *err) {
    geoloc_train_result local;
    geoloc_train_result *res = result ? result : &local;
    memset(res, 0, sizeof *res);
    geoloc_error scratch = {0};
    if (!err) err = &scratch;
    if (!opt) return error_set(err, GEOLOC_E_ARG, "no options");
    geoloc_status s = check_options(opt, err);
    if (s != GEOLOC_OK) return s;
    train_run r;
    train_data d;
    train_model m;
    train_features f;
    memset(&r, 0, sizeof r);
    memset(&d, 0, sizeof d);
    memset(&m, 0, sizeof m);
    memset(&f, 0, sizeof f);
    r.o = opt;
    r.res = res;
    r.t0 = train_now();
    r.log_fd = -1;
    for (int k = 0; k < TRAIN_N_LOCKS; k++) r.lock[k].fd = -1;
    for (int l = 0; l < GEOLOC_SCENE_LEVELS; l++) {
        d.scene_head[l] = -1;
        res->scene_acc[l] = NAN;
    }
    geoloc_lr_schedule sched;
    set_paths(&r);
    res->ranks = geoloc_dist_size();
    /* several ranks: rank 0 holds the outputs and decides; a failure on any rank stops all */
    s = geoloc_dist_agree(lock_outputs(&r, err), err);
    if (s != GEOLOC_OK) goto done;
    int found[2] = {access(r.ckpt_path, F_OK) == 0,
                    (opt->mode == GEOLOC_TRAIN_HEADS || opt->baselines) && train_features_started(&r)};
    if ((s = geoloc_dist_broadcast(found, sizeof found, 0, err)) != GEOLOC_OK) goto done;
    r.resume = opt->resume && found[0];
    int extracting = found[1];
    if (opt->resume && !r.resume && opt->epochs > 0 && !extracting) {
        s = error_set(err, GEOLOC_E_IO, "--resume: no checkpoint at %s", r.ckpt_path);
        goto done;
    }
    if ((s = geoloc_lr_schedule_parse(opt->lr_schedule ? opt->lr_schedule : "constant", opt->lr, "lr schedule",
                                      &sched, err)) != GEOLOC_OK)
        goto done;
    if ((s = geoloc_dist_agree(train_data_setup(&d, &r, err), err)) != GEOLOC_OK) goto done;
    if ((s = geoloc_dist_agree(train_scene_labels_setup(&r, &d, err), err)) != GEOLOC_OK) goto done;
    if ((s = geoloc_dist_agree(train_labels_setup(&d, &r, err), err)) != GEOLOC_OK) goto done;
    if ((s = geoloc_dist_agree(open_backbone(&m, &r, &d, err), err)) != GEOLOC_OK) goto done;
    set_options_text(&r, &m);
    res->n_train = d.n_train;
    res->n_val = d.n_val;
    res->n_heads = d.n_heads;
    for (size_t h = 0; h < d.n_heads && h < sizeof res->classes / sizeof res->classes[0]; h++) res->classes[h] = d.classes[h];
    if ((s = write_partitions(&r, &d, err)) != GEOLOC_OK) goto done;
    if (opt->mode == GEOLOC_TRAIN_HEADS || opt->baselines) {
        int views = opt->mode == GEOLOC_TRAIN_HEADS ? opt->views : 3;
        if ((s = train_features_get(&f, &r, &d, &m, views, err)) != GEOLOC_OK || res->stopped) goto done;
    }
    if (opt->baselines && geoloc_dist_rank() == 0 && (s = train_baselines(&r, &d, &f, err)) != GEOLOC_OK) goto done;
    if (opt->epochs == 0) {
        train_info(&r, "0 epochs: no model written");
        goto done;
    }
    /* heads mode trains on rank 0 alone: a step on cached features takes milliseconds,
     * less than summing its gradients across ranks would */
    if (opt->mode == GEOLOC_TRAIN_HEADS && geoloc_dist_rank() != 0) goto done;
    double t_train = train_now();
    s = train_loop(&r, &d, &m, &f, &sched, err);
    res->train_seconds = train_now() - t_train;
    if (s != GEOLOC_OK || res->stopped) goto done;
    if (res->epochs_before >= opt->epochs && access(opt->out, F_OK) == 0) {
        res->nothing_to_do = 1;
        train_info(&r, "nothing to do: training finished at epoch %d; %s left as it is", res->epochs_done, opt->out);
        goto done;
    }
    if (geoloc_dist_rank() == 0) s = save_model(&r, &d, &m, err);
done:
    /* the others wait for rank 0's last file (a failure there ends the job) */
    if (s == GEOLOC_OK) s = geoloc_dist_barrier(err);
    train_log_close(&r);
    train_features_free(&f);
    geoloc_model_free(m.model);
    train_data_free(&d);
    unlock_outputs(&r);
    return s;
}
