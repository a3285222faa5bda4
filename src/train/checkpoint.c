/* Training checkpoints, the optimizer's tensor list and the divergence error.
 *
 * A checkpoint is a safetensors file (written atomically) holding the
 * trained tensors ("param/<name>"), the SGD momentum buffers
 * ("momentum/<i>") with their started flags ("started", U8), and in its
 * metadata the position (epoch, data batches used in it, optimizer steps),
 * the epoch's loss sums so far, the training time, the log's size, and the
 * identity of the run (options and data) that a resume must match, and the
 * last finished epoch's validation (a finished run's resume keeps it).
 * Nothing non-finite is ever written: a NaN or infinite tensor is a
 * divergence, reported with the last good checkpoint left in place.
 * Several ranks: rank 0 alone writes and reads; loop.c sends what it read to
 * the others, so a checkpoint resumes on any number of ranks (its position
 * counts whole micro-batches, whatever the ranks that ran them). */
#include <errno.h>
#include <dirent.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/error.h"
#include "geoloc/dist.h"
#include "train/internal.h"

#define CKPT_FORMAT "geoloc-train-checkpoint-1"

enum { META_FORMAT, META_OPTIONS, META_DATA, META_EPOCH, META_BATCH, META_STEP, META_ELAPSED,
       META_LOSSES, META_LOSS_TOTAL, META_LOSS_N, META_IMAGES, META_LOG_BYTES, META_SGD_STEPS, META_VAL, N_META };

static const char *const META_KEYS[N_META] = {
    "geoloc.format", "geoloc.train.options", "geoloc.train.data", "geoloc.train.epoch",
    "geoloc.train.batch_in_epoch", "geoloc.train.step", "geoloc.train.elapsed",
    "geoloc.train.epoch_losses", "geoloc.train.epoch_loss", "geoloc.train.epoch_batches",
    "geoloc.train.epoch_images", "geoloc.train.log_bytes", "geoloc.train.sgd_steps", "geoloc.train.last_val"};

size_t train_first_nonfinite(const float *x, size_t n) {
    for (size_t k = 0; k < n; k++)
        if (!isfinite(x[k])) return k;
    return n;
}

geoloc_status train_diverged(const train_run *r, int epoch, long step, const char *what, geoloc_error *err) {
    char kept[TRAIN_PATH + 48];
    if (access(r->ckpt_path, F_OK) == 0) snprintf(kept, sizeof kept, "last good checkpoint kept: %s", r->ckpt_path);
    else snprintf(kept, sizeof kept, "no checkpoint written yet");
    return error_set(err, GEOLOC_E_RANGE, "training diverged at epoch %d step %ld: %s; %s; try a lower --lr", epoch,
                     step, what, kept);
}

geoloc_status train_optim_add_tensor(train_optim *opt, const char *name, float *data, const float *grad, size_t n,
                                     geoloc_error *err) {
    if (opt->nt == opt->cap) {
        size_t cap = opt->cap ? 2 * opt->cap : 64;
        train_tensor *t = realloc(opt->t, cap * sizeof *t);
        if (!t) return error_set(err, GEOLOC_E_NOMEM, "out of memory");
        opt->t = t;
        opt->cap = cap;
    }
    opt->t[opt->nt++] = (train_tensor){name, data, grad, n};
    return GEOLOC_OK;
}

void train_optim_free(train_optim *opt) {
    geoloc_sgd_free(opt->sgd);
    free(opt->t);
    memset(opt, 0, sizeof *opt);
}

/* The divergence error when a saved tensor or momentum buffer holds a NaN or an infinity
 * (s: the state after its last step; at an epoch's start that step ended the previous epoch). */
static geoloc_status check_finite(const train_run *r, const train_optim *opt, const train_state *s,
                                  geoloc_error *err) {
    char what[160];
    int epoch = s->batch_in_epoch == 0 ? s->epoch : s->epoch + 1;
    for (size_t k = 0; k < opt->nt; k++)
        if (train_first_nonfinite(opt->t[k].data, opt->t[k].n) < opt->t[k].n) {
            snprintf(what, sizeof what, "weight %.100s is not finite", opt->t[k].name);
            return train_diverged(r, epoch, s->step, what, err);
        }
    size_t np = geoloc_sgd_param_count(opt->sgd);
    for (size_t i = 0; i < np; i++) {
        const float *m = geoloc_sgd_momentum(opt->sgd, i);
        size_t n = geoloc_sgd_param_size(opt->sgd, i);
        if (m && geoloc_sgd_momentum_started(opt->sgd, i) && train_first_nonfinite(m, n) < n) {
            snprintf(what, sizeof what, "momentum %zu is not finite", i);
            return train_diverged(r, epoch, s->step, what, err);
        }
    }
    return GEOLOC_OK;
}

/* The summary as metadata text ("" for none), and back. */
static void val_text(const geoloc_distance_summary *v, char *out, size_t size) {
    if (!v->n) {
        *out = '\0';
        return;
    }
    snprintf(out, size, "%zu %.17g %.17g %.17g %.17g %.17g %.17g %.17g", v->n, v->accuracy[0], v->accuracy[1],
             v->accuracy[2], v->accuracy[3], v->accuracy[4], v->median_km, v->mean_km);
}

static int val_parse(const char *text, geoloc_distance_summary *v) {
    memset(v, 0, sizeof *v);
    if (!text || !*text) return 0;
    return sscanf(text, "%zu %lg %lg %lg %lg %lg %lg %lg", &v->n, &v->accuracy[0], &v->accuracy[1], &v->accuracy[2],
                  &v->accuracy[3], &v->accuracy[4], &v->median_km, &v->mean_km) == 8 ? 0 : -1;
}

geoloc_status train_ckpt_write(train_run *r, const train_data *dt, const train_optim *opt, const train_state *s,
                               geoloc_error *err) {
    geoloc_status st = check_finite(r, opt, s, err);
    if (st != GEOLOC_OK || geoloc_dist_rank() != 0) return st; /* rank 0 alone writes */
    const train_tensor *t = opt->t;
    size_t nt = opt->nt;
    size_t np = geoloc_sgd_param_count(opt->sgd);
    size_t cap = nt + np + 1;
    geoloc_tensor_desc *d = calloc(cap, sizeof *d);
    uint64_t *shapes = calloc(cap, sizeof *shapes);
    char **names = calloc(cap, sizeof *names);
    uint8_t *started = malloc(np ? np : 1);
    size_t n = 0;
    if (!d || !shapes || !names || !started) {
        st = error_set(err, GEOLOC_E_NOMEM, "out of memory");
        goto done;
    }
    for (size_t k = 0; k < nt; k++, n++) {
        size_t len = strlen(t[k].name) + 8;
        if (!(names[n] = malloc(len))) {
            st = error_set(err, GEOLOC_E_NOMEM, "out of memory");
            goto done;
        }
        snprintf(names[n], len, "param/%s", t[k].name);
        shapes[n] = t[k].n;
        d[n] = (geoloc_tensor_desc){names[n], GEOLOC_DTYPE_F32, 1, &shapes[n], t[k].data};
    }
    for (size_t i = 0; i < np; i++) {
        started[i] = (uint8_t)geoloc_sgd_momentum_started(opt->sgd, i);
        float *m = geoloc_sgd_momentum(opt->sgd, i);
        if (!m || !started[i]) continue;
        if (!(names[n] = malloc(32))) {
            st = error_set(err, GEOLOC_E_NOMEM, "out of memory");
            goto done;
        }
        snprintf(names[n], 32, "momentum/%zu", i);
        shapes[n] = geoloc_sgd_param_size(opt->sgd, i);
        d[n] = (geoloc_tensor_desc){names[n], GEOLOC_DTYPE_F32, 1, &shapes[n], m};
        n++;
    }
    shapes[n] = np;
    d[n] = (geoloc_tensor_desc){"started", GEOLOC_DTYPE_U8, 1, &shapes[n], started};
    n++;
    char vals[N_META][200], data[24], losses[TRAIN_MAX_HEADS * 26 + 1] = "";
    const char *values[N_META];
    for (size_t h = 0; h < dt->n_heads; h++) {
        size_t len = strlen(losses);
        snprintf(losses + len, sizeof losses - len, "%s%.17g", h ? "," : "", s->loss_sum[h]);
    }
    snprintf(data, sizeof data, "%016" PRIx64, dt->data_hash);
    snprintf(vals[META_EPOCH], sizeof vals[0], "%d", s->epoch);
    snprintf(vals[META_BATCH], sizeof vals[0], "%ld", s->batch_in_epoch);
    snprintf(vals[META_STEP], sizeof vals[0], "%ld", s->step);
    snprintf(vals[META_ELAPSED], sizeof vals[0], "%.17g", train_elapsed(r));
    snprintf(vals[META_LOSS_TOTAL], sizeof vals[0], "%.17g", s->loss_total);
    snprintf(vals[META_LOSS_N], sizeof vals[0], "%ld", s->loss_n);
    snprintf(vals[META_IMAGES], sizeof vals[0], "%" PRIu64, s->images);
    snprintf(vals[META_LOG_BYTES], sizeof vals[0], "%" PRIu64, s->log_bytes);
    snprintf(vals[META_SGD_STEPS], sizeof vals[0], "%" PRId64, geoloc_sgd_step_count(opt->sgd));
    val_text(&s->val, vals[META_VAL], sizeof vals[META_VAL]);
    for (int k = 0; k < N_META; k++) values[k] = vals[k];
    values[META_FORMAT] = CKPT_FORMAT;
    values[META_OPTIONS] = r->options_text;
    values[META_DATA] = data;
    values[META_LOSSES] = losses;
    st = geoloc_safetensors_write(r->ckpt_path, d, n, META_KEYS, values, N_META, err);
done:
    for (size_t k = 0; names && k < cap; k++) free(names[k]);
    free(names);
    free(d);
    free(shapes);
    free(started);
    return st;
}

static int meta_long(const geoloc_safetensors *st, int key, long *out) {
    const char *v = geoloc_safetensors_metadata_get(st, META_KEYS[key]);
    char *end;
    if (!v) return -1;
    errno = 0;
    long long x = strtoll(v, &end, 10);
    if (errno || end == v || *end || x < 0) return -1;
    *out = (long)x;
    return 0;
}

static int meta_double(const geoloc_safetensors *st, int key, double *out) {
    const char *v = geoloc_safetensors_metadata_get(st, META_KEYS[key]);
    char *end;
    if (!v) return -1;
    *out = strtod(v, &end);
    return end == v || *end ? -1 : 0;
}

static geoloc_status read_state(const train_run *r, const train_data *d, const geoloc_safetensors *st, train_state *s, long *sgd_steps,
                                geoloc_error *err) {
    long epoch, log_bytes, images;
    const char *losses = geoloc_safetensors_metadata_get(st, META_KEYS[META_LOSSES]);
    if (meta_long(st, META_EPOCH, &epoch) || meta_long(st, META_BATCH, &s->batch_in_epoch) ||
        meta_long(st, META_STEP, &s->step) || meta_double(st, META_ELAPSED, &s->elapsed) ||
        meta_double(st, META_LOSS_TOTAL, &s->loss_total) || meta_long(st, META_LOSS_N, &s->loss_n) ||
        meta_long(st, META_IMAGES, &images) || meta_long(st, META_LOG_BYTES, &log_bytes) ||
        meta_long(st, META_SGD_STEPS, sgd_steps) || !losses ||
        val_parse(geoloc_safetensors_metadata_get(st, META_KEYS[META_VAL]), &s->val))
        return error_set(err, GEOLOC_E_PARSE, "%s: missing or bad training position in the metadata", r->ckpt_path);
    s->epoch = (int)epoch;
    s->images = (uint64_t)images;
    s->log_bytes = (uint64_t)log_bytes;
    const char *p = losses;
    for (size_t h = 0; h < d->n_heads; h++) {
        char *end;
        s->loss_sum[h] = strtod(p, &end);
        if (end == p || (*end != ',' && *end != '\0') || (*end == '\0' && h + 1 < d->n_heads))
            return error_set(err, GEOLOC_E_PARSE, "%s: bad %s", r->ckpt_path, META_KEYS[META_LOSSES]);
        p = *end ? end + 1 : end;
    }
    return GEOLOC_OK;
}

/* Removes the temporary files an interrupted checkpoint write left (<checkpoint>.tmp.*). */
static void remove_stale_temporaries(const train_run *run) {
    char dir[TRAIN_PATH], prefix[TRAIN_PATH + 8], path[2 * TRAIN_PATH + 300];
    const char *slash = strrchr(run->ckpt_path, '/');
    if (slash) snprintf(dir, sizeof dir, "%.*s", (int)(slash - run->ckpt_path), run->ckpt_path);
    else snprintf(dir, sizeof dir, ".");
    snprintf(prefix, sizeof prefix, "%s.tmp.", slash ? slash + 1 : run->ckpt_path);
    DIR *d = opendir(*dir ? dir : "/");
    if (!d) return;
    for (struct dirent *e; (e = readdir(d));) {
        if (strncmp(e->d_name, prefix, strlen(prefix))) continue;
        snprintf(path, sizeof path, "%s/%s", *dir ? dir : "", e->d_name);
        if (unlink(path) == 0) train_info(run, "removed %s (left by an interrupted checkpoint)", path);
    }
    closedir(d);
}

geoloc_status train_ckpt_read(train_run *run, const train_data *dt, train_optim *o, train_state *s,
                              geoloc_error *err) {
    const train_tensor *t = o->t;
    size_t nt = o->nt;
    geoloc_sgd *opt = o->sgd;
    remove_stale_temporaries(run);
    if (access(run->ckpt_path, F_OK) != 0)
        return error_set(err, GEOLOC_E_IO, "--resume: no checkpoint at %s", run->ckpt_path);
    geoloc_safetensors *st = NULL;
    geoloc_status r = geoloc_safetensors_open(run->ckpt_path, &st, err);
    if (r != GEOLOC_OK) return r;
    const char *format = geoloc_safetensors_metadata_get(st, META_KEYS[META_FORMAT]);
    const char *options = geoloc_safetensors_metadata_get(st, META_KEYS[META_OPTIONS]);
    const char *data = geoloc_safetensors_metadata_get(st, META_KEYS[META_DATA]);
    char want[24];
    snprintf(want, sizeof want, "%016" PRIx64, dt->data_hash);
    long sgd_steps = 0;
    if (!format || strcmp(format, CKPT_FORMAT)) {
        r = error_set(err, GEOLOC_E_PARSE, "%s: not a geoloc training checkpoint", run->ckpt_path);
    } else if (!options || strcmp(options, run->options_text)) {
        r = error_set(err, GEOLOC_E_ARG, "%s: written with other settings (%s), not %s", run->ckpt_path,
                      options ? options : "none", run->options_text);
    } else if (!data || strcmp(data, want)) {
        r = error_set(err, GEOLOC_E_ARG, "%s: written for other photos, split or partitions", run->ckpt_path);
    } else {
        r = read_state(run, dt, st, s, &sgd_steps, err);
    }
    for (size_t k = 0; r == GEOLOC_OK && k < nt; k++) {
        char name[128];
        snprintf(name, sizeof name, "param/%s", t[k].name);
        uint64_t shape = t[k].n;
        const float *src;
        if ((r = geoloc_safetensors_get_f32(st, name, &shape, 1, &src, err)) == GEOLOC_OK)
            memcpy(t[k].data, src, t[k].n * sizeof *src);
    }
    size_t np = geoloc_sgd_param_count(opt);
    const geoloc_tensor_info *ti = r == GEOLOC_OK ? geoloc_safetensors_find(st, "started") : NULL;
    if (r == GEOLOC_OK && (!ti || ti->dtype != GEOLOC_DTYPE_U8 || ti->ndim != 1 || ti->shape[0] != np))
        r = error_set(err, GEOLOC_E_PARSE, "%s: no \"started\" flags for %zu parameters", run->ckpt_path, np);
    for (size_t i = 0; r == GEOLOC_OK && i < np; i++) {
        int started = ((const uint8_t *)ti->data)[i] != 0;
        float *m = geoloc_sgd_momentum(opt, i);
        if (started && m) {
            char name[32];
            snprintf(name, sizeof name, "momentum/%zu", i);
            uint64_t shape = geoloc_sgd_param_size(opt, i);
            const float *src;
            if ((r = geoloc_safetensors_get_f32(st, name, &shape, 1, &src, err)) != GEOLOC_OK) break;
            memcpy(m, src, shape * sizeof *src);
        }
        r = geoloc_sgd_set_momentum_started(opt, i, started && m, err);
    }
    if (r == GEOLOC_OK) geoloc_sgd_set_step_count(opt, sgd_steps);
    geoloc_safetensors_close(st);
    return r;
}

