/* geoloc_train: sets a training run up (photos, split, partitions, labels,
 * backbone, model, output files), runs the chosen mode (train_heads.c,
 * train_full.c) and saves the model. Also the pieces both modes share:
 * progress reports, the schedule, step and epoch bookkeeping. */
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/error.h"
#include "io/mapped_file.h"
#include "model/model_internal.h"
#include "model/train_internal.h"

#define DEFAULT_BACKBONE "resnet50-imagenet.safetensors"

geoloc_train_options geoloc_train_options_default(geoloc_train_mode mode) {
    geoloc_train_options o;
    memset(&o, 0, sizeof o);
    o.mode = mode;
    o.loader_threads = 1;
    o.scene = GEOLOC_SCENE_AUTO;
    o.image_size = 224;
    o.lr = 0.01;
    o.momentum = 0.9;
    o.weight_decay = 1e-4;
    o.lr_schedule = "step:5:0.5";
    o.backbone_lr_scale = 1.0;
    o.seed = 1;
    o.heads_only = -1;
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
    }
    return o;
}

/* ---- small shared helpers ---- */

double train_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

uint64_t train_mix(uint64_t x) {
    x += 0x9E3779B97F4A7C15ull;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    return x ^ (x >> 31);
}

uint64_t train_hash_bytes(uint64_t h, const void *data, size_t n) {
    const unsigned char *p = data;
    size_t k = 0;
    for (; k + 8 <= n; k += 8) {
        uint64_t w;
        memcpy(&w, p + k, 8);
        h = (h ^ w) * 0x100000001B3ull;
        h ^= h >> 29;
    }
    for (; k < n; k++) h = (h ^ p[k]) * 0x100000001B3ull;
    return train_mix(h ^ n);
}

void train_report(train_ctx *c, const geoloc_train_event *ev) {
    if (c->o->report) c->o->report(c->o->ctx, ev);
}

static void report_text(train_ctx *c, geoloc_train_event_kind kind, const char *fmt, va_list ap) {
    char text[1024];
    vsnprintf(text, sizeof text, fmt, ap);
    geoloc_train_event ev = {.kind = kind, .message = text};
    train_report(c, &ev);
}

void train_info(train_ctx *c, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    report_text(c, GEOLOC_TRAIN_EV_INFO, fmt, ap);
    va_end(ap);
}

void train_warn(train_ctx *c, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    report_text(c, GEOLOC_TRAIN_EV_WARNING, fmt, ap);
    va_end(ap);
}

geoloc_status train_schedule(const train_ctx *c, geoloc_lr_schedule *s, geoloc_error *err) {
    return geoloc_lr_schedule_parse(c->o->lr_schedule ? c->o->lr_schedule : "constant", c->o->lr,
                                    "lr schedule", s, err);
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

static geoloc_status open_backbone(train_ctx *c, geoloc_error *err) {
    const char *path = c->o->backbone;
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
        const char *names3[] = {"indoor", "natural", "urban"};
        char **names = NULL;
        size_t n_scenes = c->scene_kind == GEOLOC_SCENE_NONE ? 0 : (size_t)c->classes[c->n_parts];
        if (n_scenes && !(names = calloc(n_scenes, sizeof *names))) s = error_set(err, GEOLOC_E_NOMEM, "out of memory");
        for (size_t k = 0; s == GEOLOC_OK && k < n_scenes; k++) {
            char buf[32];
            if (c->scene_kind == GEOLOC_SCENE_S3) snprintf(buf, sizeof buf, "%s", names3[k]);
            else snprintf(buf, sizeof buf, "%s_%zu", c->scene_kind == GEOLOC_SCENE_S16 ? "s16" : "s365", k);
            if (!(names[k] = strdup(buf))) s = error_set(err, GEOLOC_E_NOMEM, "out of memory");
        }
        const char *pn[TRAIN_MAX_PARTS];
        for (size_t p = 0; p < c->n_parts; p++) pn[p] = c->part_name[p];
        /* heads mode: heads start at zero (a convex problem); full: torch's initialisation */
        uint64_t seed = c->o->mode == GEOLOC_TRAIN_FULL ? train_mix(c->o->seed) | 1 : 0;
        if (s == GEOLOC_OK)
            s = geoloc_model_create(&c->backbone_cfg, c->part, pn, c->n_parts, (const char *const *)names, n_scenes,
                                    seed, &c->model, err);
        for (size_t k = 0; names && k < n_scenes; k++) free(names[k]);
        free(names);
    }
    if (s == GEOLOC_OK) {
        c->model->norm = c->norm;
        c->model->image_size = c->o->image_size;
        s = geoloc_net_load(c->model->net, st, 1, err);
    }
    geoloc_safetensors_close(st);
    if (s == GEOLOC_OK)
        train_info(c, "backbone %s: ResNet-%d, input %s", c->backbone_path, c->backbone_cfg.depth,
                   model_norm_name(c->norm));
    return s;
}

static void set_paths(train_ctx *c) {
    char prefix[TRAIN_PATH];
    prefix_of(c->o->out, prefix, sizeof prefix);
    const geoloc_train_options *o = c->o;
    if (o->features) snprintf(c->features_path, sizeof c->features_path, "%s", o->features);
    else snprintf(c->features_path, sizeof c->features_path, "%.1000s.features.safetensors", prefix);
    if (o->checkpoint) snprintf(c->ckpt_path, sizeof c->ckpt_path, "%s", o->checkpoint);
    else snprintf(c->ckpt_path, sizeof c->ckpt_path, "%.1000s.ckpt.safetensors", prefix);
    if (o->log) snprintf(c->log_path, sizeof c->log_path, "%s", o->log);
    else snprintf(c->log_path, sizeof c->log_path, "%.1000s.log.csv", prefix);
    snprintf(c->options_text, sizeof c->options_text,
             "mode=%s size=%d lr=%.17g schedule=%s momentum=%.17g wd=%.17g nesterov=%d batch=%d "
             "micro=%d loss=%s freeze=%d bblr=%.17g seed=%" PRIu64 " views=%d std=%d backbone=%016" PRIx64,
             o->mode == GEOLOC_TRAIN_FULL ? "full" : "heads", o->image_size, o->lr,
             o->lr_schedule ? o->lr_schedule : "constant", o->momentum, o->weight_decay, o->nesterov, o->batch,
             o->mode == GEOLOC_TRAIN_FULL ? o->micro_batch : 0, o->loss_sum ? "sum" : "mean",
             o->freeze_backbone, o->backbone_lr_scale, o->seed,
             o->mode == GEOLOC_TRAIN_HEADS ? o->views : 0, o->mode == GEOLOC_TRAIN_HEADS ? o->standardize : 0,
             c->backbone_hash);
}

/* Writes built partitions next to the model: <prefix>.<name>.csv. */
static geoloc_status write_partitions(train_ctx *c, geoloc_error *err) {
    char prefix[TRAIN_PATH], path[TRAIN_PATH + 96];
    prefix_of(c->o->out, prefix, sizeof prefix);
    for (size_t p = 0; p < c->n_parts; p++) {
        if (!c->owned[p]) continue;
        snprintf(path, sizeof path, "%s.%s.csv", prefix, c->part_name[p]);
        geoloc_status s = geoloc_partition_write(c->part[p], path, err);
        if (s != GEOLOC_OK) return s;
        train_info(c, "wrote %s", path);
    }
    return GEOLOC_OK;
}

static geoloc_status save_model(train_ctx *c, geoloc_error *err) {
    const geoloc_train_options *o = c->o;
    int heads_only = o->heads_only < 0 ? o->mode == GEOLOC_TRAIN_HEADS : o->heads_only;
    char v[64];
    const char *mode = o->mode == GEOLOC_TRAIN_FULL ? "full" : "heads";
    geoloc_status s = geoloc_model_set_meta(c->model, "geoloc.train.mode", mode, err);
    snprintf(v, sizeof v, "%d", c->res->epochs_done);
    if (s == GEOLOC_OK) s = geoloc_model_set_meta(c->model, "geoloc.train.epochs", v, err);
    snprintf(v, sizeof v, "%zu", c->n_train);
    if (s == GEOLOC_OK) s = geoloc_model_set_meta(c->model, "geoloc.train.photos", v, err);
    if (s == GEOLOC_OK && c->n_val && c->res->val.n) {
        const geoloc_distance_summary *d = &c->res->val;
        char acc[160];
        snprintf(acc, sizeof acc, "n=%zu 1km=%.4f 25km=%.4f 200km=%.4f 750km=%.4f 2500km=%.4f median_km=%.1f", d->n,
                 d->accuracy[0], d->accuracy[1], d->accuracy[2], d->accuracy[3], d->accuracy[4], d->median_km);
        s = geoloc_model_set_meta(c->model, "geoloc.train.val", acc, err);
    }
    if (s == GEOLOC_OK) s = geoloc_model_set_meta(c->model, "geoloc.train.options", c->options_text, err);
    if (s == GEOLOC_OK) s = geoloc_model_save(c->model, o->out, heads_only, heads_only ? c->backbone_name : NULL, err);
    if (s != GEOLOC_OK) return s;
    train_info(c, "wrote %s%s", o->out, heads_only ? " (heads only)" : "");
    if (heads_only) {
        char found[TRAIN_PATH];
        if (geoloc_model_find_data(c->backbone_name, found, sizeof found) != 0)
            train_warn(c, "the model names its backbone %s, which is not where models look for it "
                       "(models/, share/geoloc or $GEOLOC_DATA_DIR)", c->backbone_name);
    }
    return GEOLOC_OK;
}

/* ---- step and epoch bookkeeping ---- */

void train_run_start(train_ctx *c, const train_state *s) {
    c->run_t0 = train_now();
    c->elapsed0 = s->elapsed;
    c->step0 = s->step;
    c->run_images = 0;
}

double train_elapsed(const train_ctx *c) { return c->elapsed0 + (train_now() - c->run_t0); }

static double images_per_s(const train_ctx *c) {
    double run = train_now() - c->run_t0;
    return run > 0 ? (double)c->run_images / run : 0;
}

geoloc_status train_after_step(train_ctx *c, train_state *s, double lr, const double *step_loss,
                               double step_total, long steps_in_epoch, long step_in_epoch,
                               geoloc_error *err) {
    float hl[TRAIN_MAX_HEADS];
    for (size_t h = 0; h < c->n_heads; h++) hl[h] = (float)step_loss[h];
    geoloc_train_event ev = {.kind = GEOLOC_TRAIN_EV_STEP, .done = (size_t)step_in_epoch,
                             .total = (size_t)steps_in_epoch, .epoch = s->epoch, .epochs = c->o->epochs,
                             .step = s->step, .lr = lr, .loss = step_total, .n_heads = c->n_heads,
                             .head_loss = hl, .elapsed_s = train_elapsed(c), .images_per_s = images_per_s(c)};
    long done_here = s->step - c->step0;
    long remaining = (long)(c->o->epochs - s->epoch - 1) * steps_in_epoch + (steps_in_epoch - step_in_epoch);
    double run = train_now() - c->run_t0;
    ev.eta_s = done_here > 0 && remaining > 0 ? run / (double)done_here * (double)remaining : 0;
    train_report(c, &ev);
    if (c->o->log_every > 0 && s->step % c->o->log_every == 0)
        return train_log_row(c, s, 0, lr, step_total, step_loss, NULL, ev.images_per_s, &s->log_bytes, err);
    return GEOLOC_OK;
}

geoloc_status train_end_epoch(train_ctx *c, train_state *s, double lr, const geoloc_distance_summary *val,
                              const train_tensor *t, size_t nt, geoloc_sgd *opt, int *stop, geoloc_error *err) {
    *stop = 0;
    double mean[TRAIN_MAX_HEADS];
    float hl[TRAIN_MAX_HEADS];
    for (size_t h = 0; h < c->n_heads; h++) {
        mean[h] = s->loss_n ? s->loss_sum[h] / (double)s->loss_n : 0;
        hl[h] = (float)mean[h];
    }
    double loss = s->loss_n ? s->loss_total / (double)s->loss_n : 0;
    geoloc_train_event ev = {.kind = GEOLOC_TRAIN_EV_EPOCH, .epoch = s->epoch, .epochs = c->o->epochs,
                             .step = s->step, .lr = lr, .loss = loss, .n_heads = c->n_heads, .head_loss = hl,
                             .elapsed_s = train_elapsed(c), .images_per_s = images_per_s(c), .val = val};
    train_report(c, &ev);
    geoloc_status st = train_log_row(c, s, 1, lr, loss, mean, val, ev.images_per_s, &s->log_bytes, err);
    if (st != GEOLOC_OK) return st;
    if (val) c->res->val = *val;
    s->epoch++;
    s->batch_in_epoch = 0;
    memset(s->loss_sum, 0, sizeof s->loss_sum);
    s->loss_total = 0;
    s->loss_n = 0;
    s->images = 0;
    c->res->epochs_done = s->epoch;
    if ((st = train_ckpt_write(c, t, nt, opt, s, err)) != GEOLOC_OK) return st;
    if (c->o->stop_after > 0 && s->step >= c->o->stop_after && s->epoch < c->o->epochs)
        *stop = c->res->stopped = 1;
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
    train_ctx c;
    memset(&c, 0, sizeof c);
    c.o = opt;
    c.res = res;
    c.t0 = train_now();
    c.log_fd = -1;
    c.scene_kind = GEOLOC_SCENE_NONE;
    geoloc_lr_schedule sched;
    if ((s = train_schedule(&c, &sched, err)) != GEOLOC_OK) goto done;
    if ((s = train_data_setup(&c, err)) != GEOLOC_OK) goto done;
    if ((s = train_labels_setup(&c, err)) != GEOLOC_OK) goto done;
    if ((s = open_backbone(&c, err)) != GEOLOC_OK) goto done;
    set_paths(&c);
    res->n_train = c.n_train;
    res->n_val = c.n_val;
    res->n_heads = c.n_heads;
    for (size_t h = 0; h < c.n_heads && h < 8; h++) res->classes[h] = c.classes[h];
    if ((s = write_partitions(&c, err)) != GEOLOC_OK) goto done;
    if (opt->mode == GEOLOC_TRAIN_HEADS || opt->baselines) {
        int views = opt->mode == GEOLOC_TRAIN_HEADS ? opt->views : 3;
        if ((s = train_features(&c, views, err)) != GEOLOC_OK) goto done;
    }
    if (opt->baselines && (s = train_baselines(&c, err)) != GEOLOC_OK) goto done;
    if (opt->epochs == 0) {
        train_info(&c, "0 epochs: no model written");
        goto done;
    }
    double t_train = train_now();
    s = opt->mode == GEOLOC_TRAIN_HEADS ? train_heads_run(&c, err) : train_full_run(&c, err);
    res->train_seconds = train_now() - t_train;
    if (s == GEOLOC_OK && !res->stopped) s = save_model(&c, err);
done:
    train_log_close(&c);
    train_features_free(&c);
    geoloc_model_free(c.model);
    train_data_free(&c);
    return s;
}
