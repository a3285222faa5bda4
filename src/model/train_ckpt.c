/* Training checkpoints and the CSV log.
 *
 * A checkpoint is a safetensors file (written atomically) holding the
 * trained tensors ("param/<name>"), the SGD momentum buffers
 * ("momentum/<i>") with their started flags ("started", U8), and in its
 * metadata the position (epoch, data batches used in it, optimizer steps),
 * the epoch's loss sums so far, the training time, the log's size, and the
 * identity of the run (options and data) that a resume must match.
 *
 * The log gets one line per epoch (and per log_every steps), appended and
 * fsynced; a resume cuts it back to its size at the checkpoint, so a run
 * interrupted and resumed leaves the same lines as an uninterrupted one. */
#include <errno.h>
#include <fcntl.h>
#include <dirent.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/error.h"
#include "model/train_internal.h"

#define CKPT_FORMAT "geoloc-train-checkpoint-1"

enum { META_FORMAT, META_OPTIONS, META_DATA, META_EPOCH, META_BATCH, META_STEP, META_ELAPSED,
       META_LOSSES, META_LOSS_TOTAL, META_LOSS_N, META_IMAGES, META_LOG_BYTES, META_SGD_STEPS, N_META };

static const char *const META_KEYS[N_META] = {
    "geoloc.format", "geoloc.train.options", "geoloc.train.data", "geoloc.train.epoch",
    "geoloc.train.batch_in_epoch", "geoloc.train.step", "geoloc.train.elapsed",
    "geoloc.train.epoch_losses", "geoloc.train.epoch_loss", "geoloc.train.epoch_batches",
    "geoloc.train.epoch_images", "geoloc.train.log_bytes", "geoloc.train.sgd_steps"};

geoloc_status train_ckpt_write(train_ctx *c, const train_tensor *t, size_t nt, geoloc_sgd *opt,
                               const train_state *s, geoloc_error *err) {
    size_t np = opt ? geoloc_sgd_param_count(opt) : 0;
    size_t cap = nt + np + 1;
    geoloc_tensor_desc *d = calloc(cap, sizeof *d);
    uint64_t *shapes = calloc(cap, sizeof *shapes);
    char **names = calloc(cap, sizeof *names);
    uint8_t *started = malloc(np ? np : 1);
    geoloc_status st = GEOLOC_OK;
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
        started[i] = (uint8_t)geoloc_sgd_momentum_started(opt, i);
        float *m = geoloc_sgd_momentum(opt, i);
        if (!m || !started[i]) continue;
        if (!(names[n] = malloc(32))) {
            st = error_set(err, GEOLOC_E_NOMEM, "out of memory");
            goto done;
        }
        snprintf(names[n], 32, "momentum/%zu", i);
        shapes[n] = geoloc_sgd_param_size(opt, i);
        d[n] = (geoloc_tensor_desc){names[n], GEOLOC_DTYPE_F32, 1, &shapes[n], m};
        n++;
    }
    shapes[n] = np;
    d[n] = (geoloc_tensor_desc){"started", GEOLOC_DTYPE_U8, 1, &shapes[n], started};
    n++;
    char vals[N_META][40], data[24], losses[TRAIN_MAX_HEADS * 26 + 1] = "";
    const char *values[N_META];
    for (size_t h = 0; h < c->n_heads; h++) {
        size_t len = strlen(losses);
        snprintf(losses + len, sizeof losses - len, "%s%.17g", h ? "," : "", s->loss_sum[h]);
    }
    snprintf(data, sizeof data, "%016" PRIx64, c->data_hash);
    snprintf(vals[META_EPOCH], 40, "%d", s->epoch);
    snprintf(vals[META_BATCH], 40, "%ld", s->batch_in_epoch);
    snprintf(vals[META_STEP], 40, "%ld", s->step);
    snprintf(vals[META_ELAPSED], 40, "%.17g", train_elapsed(c));
    snprintf(vals[META_LOSS_TOTAL], 40, "%.17g", s->loss_total);
    snprintf(vals[META_LOSS_N], 40, "%ld", s->loss_n);
    snprintf(vals[META_IMAGES], 40, "%" PRIu64, s->images);
    snprintf(vals[META_LOG_BYTES], 40, "%" PRIu64, s->log_bytes);
    snprintf(vals[META_SGD_STEPS], 40, "%" PRId64, opt ? geoloc_sgd_step_count(opt) : (int64_t)0);
    for (int k = 0; k < N_META; k++) values[k] = vals[k];
    values[META_FORMAT] = CKPT_FORMAT;
    values[META_OPTIONS] = c->options_text;
    values[META_DATA] = data;
    values[META_LOSSES] = losses;
    st = geoloc_safetensors_write(c->ckpt_path, d, n, META_KEYS, values, N_META, err);
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

static geoloc_status read_state(train_ctx *c, const geoloc_safetensors *st, train_state *s, long *sgd_steps,
                                geoloc_error *err) {
    long epoch, log_bytes, images;
    const char *losses = geoloc_safetensors_metadata_get(st, META_KEYS[META_LOSSES]);
    if (meta_long(st, META_EPOCH, &epoch) || meta_long(st, META_BATCH, &s->batch_in_epoch) ||
        meta_long(st, META_STEP, &s->step) || meta_double(st, META_ELAPSED, &s->elapsed) ||
        meta_double(st, META_LOSS_TOTAL, &s->loss_total) || meta_long(st, META_LOSS_N, &s->loss_n) ||
        meta_long(st, META_IMAGES, &images) || meta_long(st, META_LOG_BYTES, &log_bytes) ||
        meta_long(st, META_SGD_STEPS, sgd_steps) || !losses)
        return error_set(err, GEOLOC_E_PARSE, "%s: missing or bad training position in the metadata", c->ckpt_path);
    s->epoch = (int)epoch;
    s->images = (uint64_t)images;
    s->log_bytes = (uint64_t)log_bytes;
    const char *p = losses;
    for (size_t h = 0; h < c->n_heads; h++) {
        char *end;
        s->loss_sum[h] = strtod(p, &end);
        if (end == p || (*end != ',' && *end != '\0') || (*end == '\0' && h + 1 < c->n_heads))
            return error_set(err, GEOLOC_E_PARSE, "%s: bad %s", c->ckpt_path, META_KEYS[META_LOSSES]);
        p = *end ? end + 1 : end;
    }
    return GEOLOC_OK;
}

/* Removes the temporary files an interrupted checkpoint write left (<checkpoint>.tmp.*). */
static void remove_stale_temporaries(train_ctx *c) {
    char dir[TRAIN_PATH], prefix[TRAIN_PATH + 8], path[2 * TRAIN_PATH + 300];
    const char *slash = strrchr(c->ckpt_path, '/');
    if (slash) snprintf(dir, sizeof dir, "%.*s", (int)(slash - c->ckpt_path), c->ckpt_path);
    else snprintf(dir, sizeof dir, ".");
    snprintf(prefix, sizeof prefix, "%s.tmp.", slash ? slash + 1 : c->ckpt_path);
    DIR *d = opendir(*dir ? dir : "/");
    if (!d) return;
    for (struct dirent *e; (e = readdir(d));) {
        if (strncmp(e->d_name, prefix, strlen(prefix))) continue;
        snprintf(path, sizeof path, "%s/%s", *dir ? dir : "", e->d_name);
        if (unlink(path) == 0) train_info(c, "removed %s (left by an interrupted checkpoint)", path);
    }
    closedir(d);
}

geoloc_status train_ckpt_read(train_ctx *c, const train_tensor *t, size_t nt, geoloc_sgd *opt,
                              train_state *s, geoloc_error *err) {
    remove_stale_temporaries(c);
    if (access(c->ckpt_path, F_OK) != 0)
        return error_set(err, GEOLOC_E_IO, "%s: no checkpoint to resume from", c->ckpt_path);
    geoloc_safetensors *st = NULL;
    geoloc_status r = geoloc_safetensors_open(c->ckpt_path, &st, err);
    if (r != GEOLOC_OK) return r;
    const char *format = geoloc_safetensors_metadata_get(st, META_KEYS[META_FORMAT]);
    const char *options = geoloc_safetensors_metadata_get(st, META_KEYS[META_OPTIONS]);
    const char *data = geoloc_safetensors_metadata_get(st, META_KEYS[META_DATA]);
    char want[24];
    snprintf(want, sizeof want, "%016" PRIx64, c->data_hash);
    long sgd_steps = 0;
    if (!format || strcmp(format, CKPT_FORMAT)) {
        r = error_set(err, GEOLOC_E_PARSE, "%s: not a geoloc training checkpoint", c->ckpt_path);
    } else if (!options || strcmp(options, c->options_text)) {
        r = error_set(err, GEOLOC_E_ARG, "%s: written with other settings (%s), not %s", c->ckpt_path,
                      options ? options : "none", c->options_text);
    } else if (!data || strcmp(data, want)) {
        r = error_set(err, GEOLOC_E_ARG, "%s: written for other photos, split or partitions", c->ckpt_path);
    } else {
        r = read_state(c, st, s, &sgd_steps, err);
    }
    for (size_t k = 0; r == GEOLOC_OK && k < nt; k++) {
        char name[128];
        snprintf(name, sizeof name, "param/%s", t[k].name);
        uint64_t shape = t[k].n;
        const float *src;
        if ((r = geoloc_safetensors_get_f32(st, name, &shape, 1, &src, err)) == GEOLOC_OK)
            memcpy(t[k].data, src, t[k].n * sizeof *src);
    }
    size_t np = opt ? geoloc_sgd_param_count(opt) : 0;
    const geoloc_tensor_info *ti = r == GEOLOC_OK ? geoloc_safetensors_find(st, "started") : NULL;
    if (r == GEOLOC_OK && (!ti || ti->dtype != GEOLOC_DTYPE_U8 || ti->ndim != 1 || ti->shape[0] != np))
        r = error_set(err, GEOLOC_E_PARSE, "%s: no \"started\" flags for %zu parameters", c->ckpt_path, np);
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
    if (r == GEOLOC_OK && opt) geoloc_sgd_set_step_count(opt, sgd_steps);
    geoloc_safetensors_close(st);
    return r;
}

/* ---- the log ---- */

static geoloc_status write_all(train_ctx *c, const char *text, geoloc_error *err) {
    size_t len = strlen(text), done = 0;
    while (done < len) {
        ssize_t w = write(c->log_fd, text + done, len - done);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return error_set(err, GEOLOC_E_IO, "%s: write failed: %s", c->log_path, strerror(errno));
        done += (size_t)w;
    }
    if (fsync(c->log_fd) != 0)
        return error_set(err, GEOLOC_E_IO, "%s: fsync failed: %s", c->log_path, strerror(errno));
    return GEOLOC_OK;
}

geoloc_status train_log_open(train_ctx *c, int resume, uint64_t keep_bytes, uint64_t *size,
                             geoloc_error *err) {
    struct stat sb;
    int keep = resume && stat(c->log_path, &sb) == 0 && (uint64_t)sb.st_size >= keep_bytes && keep_bytes > 0;
    c->log_fd = open(c->log_path, O_WRONLY | O_CREAT | O_CLOEXEC | (keep ? 0 : O_TRUNC), 0644);
    if (c->log_fd < 0) return error_set(err, GEOLOC_E_IO, "%s: cannot open: %s", c->log_path, strerror(errno));
    if (keep) {
        if (ftruncate(c->log_fd, (off_t)keep_bytes) != 0 || lseek(c->log_fd, 0, SEEK_END) < 0)
            return error_set(err, GEOLOC_E_IO, "%s: cannot cut back: %s", c->log_path, strerror(errno));
        *size = keep_bytes;
        return GEOLOC_OK;
    }
    if (resume) train_warn(c, "%s: missing or shorter than at the checkpoint: started again", c->log_path);
    char header[2048] = "kind,epoch,step,lr,loss";
    for (size_t h = 0; h < c->n_heads; h++) {
        size_t len = strlen(header);
        snprintf(header + len, sizeof header - len, ",loss_%s", h < c->n_parts ? c->part_name[h] : "scene");
    }
    size_t len = strlen(header);
    snprintf(header + len, sizeof header - len,
             ",val_n,acc_1km,acc_25km,acc_200km,acc_750km,acc_2500km,median_km,images_per_s,elapsed_s\n");
    *size = strlen(header);
    return write_all(c, header, err);
}

geoloc_status train_log_row(train_ctx *c, const train_state *s, int epoch_row, double lr, double loss,
                            const double *head_loss, const geoloc_distance_summary *val,
                            double images_per_s, uint64_t *size, geoloc_error *err) {
    if (c->log_fd < 0) return GEOLOC_OK;
    char line[2048];
    int n = snprintf(line, sizeof line, "%s,%d,%ld,%.6g,%.6f", epoch_row ? "epoch" : "step", s->epoch + 1, s->step,
                     lr, loss);
    for (size_t h = 0; h < c->n_heads; h++) n += snprintf(line + n, sizeof line - (size_t)n, ",%.6f", head_loss[h]);
    if (val)
        n += snprintf(line + n, sizeof line - (size_t)n, ",%zu,%.4f,%.4f,%.4f,%.4f,%.4f,%.1f", val->n,
                      val->accuracy[0], val->accuracy[1], val->accuracy[2], val->accuracy[3], val->accuracy[4],
                      val->median_km);
    else
        n += snprintf(line + n, sizeof line - (size_t)n, ",,,,,,,");
    snprintf(line + n, sizeof line - (size_t)n, ",%.2f,%.1f\n", images_per_s, train_elapsed(c));
    geoloc_status st = write_all(c, line, err);
    if (st != GEOLOC_OK) return st;
    off_t end = lseek(c->log_fd, 0, SEEK_END);
    if (end >= 0) *size = (uint64_t)end;
    return GEOLOC_OK;
}

void train_log_close(train_ctx *c) {
    if (c->log_fd >= 0) close(c->log_fd);
    c->log_fd = -1;
}
