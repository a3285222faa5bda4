/* Heads mode: the model's linear heads (one per partition, and the scene
 * head) trained by SGD on cached backbone features.
 *
 * A training sample is one view of one training photo. Each epoch visits
 * every sample once in an order drawn from (seed, epoch) alone, in batches;
 * a batch's loss is, per head, the mean softmax cross-entropy over its
 * labelled samples (-1: none), weighted as in full training (mean or sum of
 * the partitions' losses, plus the scene's). The features are standardised
 * with the training samples' mean and deviation (optional), which the saved
 * heads absorb, so the model applies them to raw backbone features. Every
 * loop is split over classes or samples, each sum always in the same order:
 * the result does not depend on the number of threads, and a resumed run
 * (the position is the epoch and the batch in it) matches an uninterrupted
 * one bit for bit. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "model/train_internal.h"

typedef struct heads {
    train_ctx *c;
    int dim, views;
    size_t n_heads;
    float *w[TRAIN_MAX_HEADS], *b[TRAIN_MAX_HEADS], *gw[TRAIN_MAX_HEADS], *gb[TRAIN_MAX_HEADS];
    train_tensor t[2 * TRAIN_MAX_HEADS];
    int classes_max;
    float *mu, *inv;        /* standardisation: x' = (x - mu) * inv */
    size_t *sample, n_samples, *order;
    float *x, *g;           /* batch features (batch x dim), per-class gradients (batch x classes) */
    int32_t *y;
    double *loss;           /* per sample of the batch */
    geoloc_sgd *opt;
} heads;

static void heads_free(heads *H) {
    free(H->mu);
    free(H->inv);
    free(H->sample);
    free(H->order);
    free(H->x);
    free(H->g);
    free(H->y);
    free(H->loss);
    geoloc_sgd_free(H->opt);
}

/* Finds each head's weight and bias in the model's network. */
static geoloc_status find_params(heads *H, geoloc_error *err) {
    geoloc_net *net = H->c->model->net;
    for (size_t i = 0; i < geoloc_net_param_count(net); i++) {
        geoloc_param *p = geoloc_net_param(net, i);
        if (p->head < 0 || (size_t)p->head >= H->n_heads) continue;
        if (p->kind == GEOLOC_PARAM_WEIGHT) {
            H->w[p->head] = p->data;
            H->gw[p->head] = p->grad;
            H->t[2 * p->head] = (train_tensor){p->name, p->data, p->n};
        } else if (p->kind == GEOLOC_PARAM_BIAS) {
            H->b[p->head] = p->data;
            H->gb[p->head] = p->grad;
            H->t[2 * p->head + 1] = (train_tensor){p->name, p->data, p->n};
        }
    }
    for (size_t h = 0; h < H->n_heads; h++)
        if (!H->w[h] || !H->b[h] || !H->gw[h] || !H->gb[h])
            return error_set(err, GEOLOC_E_ARG, "model head %zu has no weight or bias", h);
    return GEOLOC_OK;
}

/* Mean and inverse deviation of every feature over the training samples. */
static void standardisation(heads *H) {
    size_t D = (size_t)H->dim;
    const train_ctx *c = H->c;
    for (size_t d = 0; d < D; d++) {
        H->mu[d] = 0;
        H->inv[d] = 1;
    }
    if (!c->o->standardize || H->n_samples == 0) return;
    double *sum = calloc(D, sizeof *sum), *sq = calloc(D, sizeof *sq);
    if (!sum || !sq) {
        free(sum);
        free(sq);
        return; /* no standardisation: still correct */
    }
    for (size_t i = 0; i < H->n_samples; i++) {
        const float *f = c->feat + H->sample[i] * D;
        for (size_t d = 0; d < D; d++) sum[d] += f[d];
    }
    for (size_t d = 0; d < D; d++) H->mu[d] = (float)(sum[d] / (double)H->n_samples);
    for (size_t i = 0; i < H->n_samples; i++) {
        const float *f = c->feat + H->sample[i] * D;
        for (size_t d = 0; d < D; d++) {
            double v = (double)f[d] - H->mu[d];
            sq[d] += v * v;
        }
    }
    double mean_sd = 0;
    for (size_t d = 0; d < D; d++) {
        sq[d] = sqrt(sq[d] / (double)H->n_samples);
        mean_sd += sq[d] / (double)D;
    }
    double floor_sd = 1e-3 * mean_sd + 1e-12;
    for (size_t d = 0; d < D; d++) H->inv[d] = (float)(1.0 / (sq[d] > floor_sd ? sq[d] : floor_sd));
    free(sum);
    free(sq);
}

static void load_x(const heads *H, size_t row, float *x) {
    const float *f = H->c->feat + row * (size_t)H->dim;
    for (int d = 0; d < H->dim; d++) x[d] = (f[d] - H->mu[d]) * H->inv[d];
}

static float dot(const float *a, const float *b, int n) {
    float s = 0;
#pragma omp simd reduction(+ : s)
    for (int d = 0; d < n; d++) s += a[d] * b[d];
    return s;
}

/* Softmax of logits in place; returns log(sum exp(l - max)) + max (the log-normaliser). */
static float softmax_row(float *l, int n) {
    float m = l[0];
    for (int k = 1; k < n; k++) m = l[k] > m ? l[k] : m;
    double sum = 0;
    for (int k = 0; k < n; k++) sum += exp((double)(l[k] - m));
    float lse = m + (float)log(sum);
    for (int k = 0; k < n; k++) l[k] = (float)exp((double)(l[k] - lse));
    return lse;
}

/* One head on the batch of samples rows[0..nb) (features in H->x): its loss (mean over
 * the labelled samples) and gradients. */
static double head_step(heads *H, size_t h, const size_t *rows, size_t nb) {
    const train_ctx *c = H->c;
    int C = c->classes[h], D = H->dim;
    const float *w = H->w[h], *b = H->b[h];
    double loss = 0;
    long labelled = 0;
    for (size_t i = 0; i < nb; i++) {
        H->y[i] = c->label[h][rows[i] / (size_t)H->views];
        labelled += H->y[i] >= 0;
    }
    if (labelled == 0) {
        memset(H->gw[h], 0, (size_t)C * D * sizeof(float));
        memset(H->gb[h], 0, (size_t)C * sizeof(float));
        return 0;
    }
    float scale = c->head_weight[h] / (float)labelled;
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < nb; i++) {
        float *g = H->g + i * (size_t)C;
        const float *x = H->x + i * (size_t)D;
        H->loss[i] = 0;
        if (H->y[i] < 0) {
            memset(g, 0, (size_t)C * sizeof *g);
            continue;
        }
        for (int k = 0; k < C; k++) g[k] = b[k] + dot(x, w + (size_t)k * D, D);
        float logit_y = g[H->y[i]];
        H->loss[i] = (double)(softmax_row(g, C) - logit_y);
        g[H->y[i]] -= 1.0f;
        for (int k = 0; k < C; k++) g[k] *= scale;
    }
#pragma omp parallel for schedule(static)
    for (int k = 0; k < C; k++) {
        float *gw = H->gw[h] + (size_t)k * D;
        float gb = 0;
        memset(gw, 0, (size_t)D * sizeof *gw);
        for (size_t i = 0; i < nb; i++) {
            float gi = H->g[i * (size_t)C + k];
            if (gi == 0.0f) continue;
            const float *x = H->x + i * (size_t)D;
            gb += gi;
            for (int d = 0; d < D; d++) gw[d] += gi * x[d];
        }
        H->gb[h][k] = gb;
    }
    for (size_t i = 0; i < nb; i++) loss += H->loss[i];
    return loss / (double)labelled;
}

/* Class probabilities of every head, averaged over views 0-2 of table photo k. */
static void predict_photo(const heads *H, size_t k, float *x, float *const *probs, float *tmp) {
    const train_ctx *c = H->c;
    for (size_t h = 0; h < H->n_heads; h++) memset(probs[h], 0, (size_t)c->classes[h] * sizeof(float));
    for (int v = 0; v < 3; v++) {
        load_x(H, k * (size_t)H->views + (size_t)v, x);
        for (size_t h = 0; h < H->n_heads; h++) {
            int C = c->classes[h];
            for (int j = 0; j < C; j++) tmp[j] = H->b[h][j] + dot(x, H->w[h] + (size_t)j * H->dim, H->dim);
            softmax_row(tmp, C);
            for (int j = 0; j < C; j++) probs[h][j] += tmp[j] / 3.0f;
        }
    }
}

static geoloc_status validate(heads *H, geoloc_distance_summary *out, geoloc_error *err) {
    train_ctx *c = H->c;
    double *lat = malloc(c->n_val * sizeof *lat), *lng = malloc(c->n_val * sizeof *lng);
    uint8_t *skip = malloc(c->n_val);
    int failed = !lat || !lng || !skip;
    if (!failed) {
#pragma omp parallel reduction(| : failed)
        {
            size_t total = 0;
            for (size_t h = 0; h < H->n_heads; h++) total += (size_t)c->classes[h];
            float *buf = malloc((total + (size_t)H->classes_max + (size_t)H->dim) * sizeof *buf);
            float *probs[TRAIN_MAX_HEADS];
            if (!buf) failed = 1;
            for (size_t h = 0, off = 0; buf && h < H->n_heads; off += (size_t)c->classes[h], h++) probs[h] = buf + off;
#pragma omp for schedule(static)
            for (size_t i = 0; i < c->n_val; i++) {
                size_t k = c->val[i];
                skip[i] = !c->feat_ok[k];
                if (!buf || skip[i]) continue;
                predict_photo(H, k, buf + total + H->classes_max, probs, buf + total);
                train_answer(c, (const float *const *)probs, &lat[i], &lng[i]);
            }
            free(buf);
        }
    }
    geoloc_status s = failed ? error_set(err, GEOLOC_E_NOMEM, "out of memory")
                             : train_val_summary(c, lat, lng, skip, out, err);
    free(lat);
    free(lng);
    free(skip);
    return s;
}

/* Folds the standardisation into the heads: w' = w * inv, b' = b - sum w * inv * mu. */
static void fold(heads *H) {
    for (size_t h = 0; h < H->n_heads; h++)
        for (int k = 0; k < H->c->classes[h]; k++) {
            float *w = H->w[h] + (size_t)k * H->dim;
            double shift = 0;
            for (int d = 0; d < H->dim; d++) {
                w[d] *= H->inv[d];
                shift += (double)w[d] * H->mu[d];
            }
            H->b[h][k] = (float)((double)H->b[h][k] - shift);
        }
}

static geoloc_status setup(heads *H, train_ctx *c, geoloc_error *err) {
    H->c = c;
    H->dim = c->feat_dim;
    H->views = c->feat_views;
    H->n_heads = c->n_heads;
    geoloc_status s = find_params(H, err);
    if (s != GEOLOC_OK) return s;
    for (size_t h = 0; h < H->n_heads; h++)
        if (c->classes[h] > H->classes_max) H->classes_max = c->classes[h];
    size_t B = (size_t)c->o->batch, D = (size_t)H->dim;
    H->sample = malloc(c->n_train * (size_t)H->views * sizeof *H->sample);
    H->order = malloc(c->n_train * (size_t)H->views * sizeof *H->order);
    H->mu = malloc(D * sizeof *H->mu);
    H->inv = malloc(D * sizeof *H->inv);
    H->x = malloc(B * D * sizeof *H->x);
    H->g = malloc(B * (size_t)H->classes_max * sizeof *H->g);
    H->y = malloc(B * sizeof *H->y);
    H->loss = malloc(B * sizeof *H->loss);
    if (!H->sample || !H->order || !H->mu || !H->inv || !H->x || !H->g || !H->y || !H->loss)
        return error_set(err, GEOLOC_E_NOMEM, "out of memory");
    for (size_t i = 0; i < c->n_train; i++) {
        size_t k = c->train[i];
        if (!c->feat_ok[k]) continue;
        for (int v = 0; v < H->views; v++) H->sample[H->n_samples++] = k * (size_t)H->views + (size_t)v;
    }
    if (H->n_samples == 0) return error_set(err, GEOLOC_E_EMPTY, "no training photo could be read");
    standardisation(H);
    geoloc_sgd_config sc = {.momentum = c->o->momentum, .weight_decay = c->o->weight_decay,
                            .nesterov = c->o->nesterov};
    if ((s = geoloc_sgd_create(&sc, &H->opt, err)) != GEOLOC_OK) return s;
    for (size_t h = 0; h < H->n_heads && s == GEOLOC_OK; h++) {
        s = geoloc_sgd_add(H->opt, H->w[h], H->gw[h], (size_t)c->classes[h] * D, 0, NULL, err);
        if (s == GEOLOC_OK) s = geoloc_sgd_add(H->opt, H->b[h], H->gb[h], (size_t)c->classes[h], 0, NULL, err);
    }
    return s;
}

/* The epoch's order of the samples: a Fisher-Yates shuffle seeded by (seed, epoch). */
static void epoch_order(heads *H, int epoch) {
    memcpy(H->order, H->sample, H->n_samples * sizeof *H->order);
    geoloc_rng rng;
    geoloc_rng_seed(&rng, H->c->o->seed, (uint64_t)epoch, 0x6865616473ull);
    for (size_t i = H->n_samples; i > 1; i--) {
        size_t j = (size_t)geoloc_rng_below(&rng, i);
        size_t t = H->order[i - 1];
        H->order[i - 1] = H->order[j];
        H->order[j] = t;
    }
}

geoloc_status train_heads_run(train_ctx *c, geoloc_error *err) {
    heads H;
    memset(&H, 0, sizeof H);
    train_state st;
    memset(&st, 0, sizeof st);
    geoloc_lr_schedule sched;
    geoloc_status s = setup(&H, c, err);
    if (s == GEOLOC_OK) s = train_schedule(c, &sched, err);
    if (s == GEOLOC_OK && c->o->resume) s = train_ckpt_read(c, H.t, 2 * H.n_heads, H.opt, &st, err);
    if (s == GEOLOC_OK) s = train_log_open(c, c->o->resume, st.log_bytes, &st.log_bytes, err);
    if (s != GEOLOC_OK) goto done;
    if (c->o->resume) train_info(c, "resumed from %s: epoch %d, step %ld", c->ckpt_path, st.epoch + 1, st.step);
    train_info(c, "heads: %zu samples (%zu photos x %d views), batch %d, %d epochs", H.n_samples,
               H.n_samples / (size_t)H.views, H.views, c->o->batch, c->o->epochs);
    train_run_start(c, &st);
    size_t B = (size_t)c->o->batch;
    long steps_per_epoch = (long)((H.n_samples + B - 1) / B);
    double step_loss[TRAIN_MAX_HEADS];
    while (st.epoch < c->o->epochs) {
        double lr = geoloc_lr_at(&sched, st.epoch);
        epoch_order(&H, st.epoch);
        for (long bi = st.batch_in_epoch; bi < steps_per_epoch; bi++) {
            size_t first = (size_t)bi * B, nb = H.n_samples - first < B ? H.n_samples - first : B;
            size_t *rows = H.order + first;
            for (size_t i = 0; i < nb; i++) load_x(&H, rows[i], H.x + i * (size_t)H.dim);
            double total = 0;
            for (size_t h = 0; h < H.n_heads; h++) {
                step_loss[h] = head_step(&H, h, rows, nb);
                total += c->head_weight[h] * step_loss[h];
                st.loss_sum[h] += step_loss[h];
            }
            geoloc_sgd_step(H.opt, lr, 1.0f);
            st.loss_total += total;
            st.loss_n++;
            st.images += nb;
            c->run_images += nb;
            st.step++;
            st.batch_in_epoch = bi + 1;
            if ((s = train_after_step(c, &st, lr, step_loss, total, steps_per_epoch, bi + 1, err)) != GEOLOC_OK) goto done;
            int stop = c->o->stop_after > 0 && st.step >= c->o->stop_after;
            if (bi + 1 < steps_per_epoch && (stop || (c->o->checkpoint_every > 0 && st.step % c->o->checkpoint_every == 0)))
                if ((s = train_ckpt_write(c, H.t, 2 * H.n_heads, H.opt, &st, err)) != GEOLOC_OK) goto done;
            if (stop && bi + 1 < steps_per_epoch) {
                c->res->stopped = 1;
                goto done;
            }
        }
        geoloc_distance_summary val, *pv = NULL;
        if (c->n_val) {
            if ((s = validate(&H, &val, err)) != GEOLOC_OK) goto done;
            pv = &val;
        }
        int stop;
        if ((s = train_end_epoch(c, &st, lr, pv, H.t, 2 * H.n_heads, H.opt, &stop, err)) != GEOLOC_OK || stop) goto done;
    }
    c->res->steps = st.step;
    c->res->epochs_done = st.epoch;
    fold(&H);
done:
    heads_free(&H);
    return s;
}
