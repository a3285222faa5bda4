/* Heads mode: the pieces of training the model's linear heads (one per
 * partition, one per scene level, the ISNs') by SGD on cached backbone features (the
 * step itself is in step.c).
 *
 * A training sample is one view of one training photo. Each epoch visits
 * every sample once in an order drawn from (seed, epoch) alone, in batches;
 * a batch's loss is, per head, the mean softmax cross-entropy over its
 * labelled samples (-1: none), weighted as in full training (mean or sum of
 * the partitions' losses, plus each scene level's). The features are standardised
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
#include "train/internal.h"

void train_heads_free(train_heads *H) {
    free(H->mu);
    free(H->inv);
    free(H->sample);
    free(H->order);
    free(H->x);
    free(H->g);
    free(H->y);
    free(H->loss);
}

/* Finds each head's weight, bias and their gradients in the model's network. */
static geoloc_status find_params(train_heads *H, geoloc_model *model, const char **name, geoloc_error *err) {
    geoloc_net *net = model->net;
    for (size_t i = 0; i < geoloc_net_param_count(net); i++) {
        geoloc_param *p = geoloc_net_param(net, i);
        if (p->head < 0 || (size_t)p->head >= H->n_heads) continue;
        if (p->kind == GEOLOC_PARAM_WEIGHT) {
            H->w[p->head] = p->data;
            H->gw[p->head] = p->grad;
            name[2 * p->head] = p->name;
        } else if (p->kind == GEOLOC_PARAM_BIAS) {
            H->b[p->head] = p->data;
            H->gb[p->head] = p->grad;
            name[2 * p->head + 1] = p->name;
        }
    }
    for (size_t h = 0; h < H->n_heads; h++)
        if (!H->w[h] || !H->b[h] || !H->gw[h] || !H->gb[h])
            return error_set(err, GEOLOC_E_ARG, "model head %zu has no weight or bias", h);
    return GEOLOC_OK;
}

/* Mean and inverse deviation of every feature over the training samples. */
static void standardisation(train_heads *H) {
    size_t D = (size_t)H->dim;
    for (size_t d = 0; d < D; d++) {
        H->mu[d] = 0;
        H->inv[d] = 1;
    }
    if (!H->o->standardize || H->n_samples == 0) return;
    double *sum = calloc(D, sizeof *sum), *sq = calloc(D, sizeof *sq);
    if (!sum || !sq) {
        free(sum);
        free(sq);
        return; /* no standardisation: still correct */
    }
    for (size_t i = 0; i < H->n_samples; i++) {
        const float *f = H->f->feat + H->sample[i] * D;
        for (size_t d = 0; d < D; d++) sum[d] += f[d];
    }
    for (size_t d = 0; d < D; d++) H->mu[d] = (float)(sum[d] / (double)H->n_samples);
    for (size_t i = 0; i < H->n_samples; i++) {
        const float *f = H->f->feat + H->sample[i] * D;
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

static void load_x(const train_heads *H, size_t row, float *x) {
    const float *f = H->f->feat + row * (size_t)H->dim;
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

void train_heads_load_batch(train_heads *H, const size_t *rows, size_t nb) {
    for (size_t i = 0; i < nb; i++) load_x(H, rows[i], H->x + i * (size_t)H->dim);
}

double train_heads_forward_backward(train_heads *H, size_t h, const size_t *rows, size_t nb) {
    const train_data *c = H->d;
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

void train_heads_predict(const train_heads *H, size_t k, float *x, float *const *probs, float *tmp) {
    const train_data *c = H->d;
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

/* w' = w * inv, b' = b - sum w * inv * mu. */
void train_heads_fold(train_heads *H) {
    for (size_t h = 0; h < H->n_heads; h++)
        for (int k = 0; k < H->d->classes[h]; k++) {
            float *w = H->w[h] + (size_t)k * H->dim;
            double shift = 0;
            for (int d = 0; d < H->dim; d++) {
                w[d] *= H->inv[d];
                shift += (double)w[d] * H->mu[d];
            }
            H->b[h][k] = (float)((double)H->b[h][k] - shift);
        }
}

geoloc_status train_heads_setup(train_heads *H, const train_data *c, const train_features *f,
                                const geoloc_train_options *o, geoloc_model *model, train_optim *opt,
                                geoloc_error *err) {
    H->d = c;
    H->f = f;
    H->o = o;
    H->model = model;
    H->dim = f->dim;
    H->views = f->views;
    H->n_heads = c->n_heads;
    const char *name[2 * TRAIN_MAX_HEADS];
    geoloc_status s = find_params(H, model, name, err);
    if (s != GEOLOC_OK) return s;
    for (size_t h = 0; h < H->n_heads; h++)
        if (c->classes[h] > H->classes_max) H->classes_max = c->classes[h];
    size_t B = (size_t)o->batch, D = (size_t)H->dim;
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
        if (!f->ok[k]) continue;
        for (int v = 0; v < H->views; v++) H->sample[H->n_samples++] = k * (size_t)H->views + (size_t)v;
    }
    if (H->n_samples == 0) return error_set(err, GEOLOC_E_EMPTY, "no training photo could be read");
    standardisation(H);
    geoloc_sgd_config sc = {.momentum = o->momentum, .weight_decay = o->weight_decay, .nesterov = o->nesterov};
    if ((s = geoloc_sgd_create(&sc, &opt->sgd, err)) != GEOLOC_OK) return s;
    for (size_t h = 0; h < H->n_heads && s == GEOLOC_OK; h++) {
        size_t C = (size_t)c->classes[h];
        s = geoloc_sgd_add(opt->sgd, H->w[h], H->gw[h], C * D, 0, NULL, err);
        if (s == GEOLOC_OK) s = geoloc_sgd_add(opt->sgd, H->b[h], H->gb[h], C, 0, NULL, err);
        if (s == GEOLOC_OK) s = train_optim_add_tensor(opt, name[2 * h], H->w[h], H->gw[h], C * D, err);
        if (s == GEOLOC_OK) s = train_optim_add_tensor(opt, name[2 * h + 1], H->b[h], H->gb[h], C, err);
    }
    return s;
}

void train_heads_epoch_order(train_heads *H, int epoch) {
    memcpy(H->order, H->sample, H->n_samples * sizeof *H->order);
    geoloc_rng rng;
    geoloc_rng_seed(&rng, H->o->seed, (uint64_t)epoch, 0x6865616473ull);
    for (size_t i = H->n_samples; i > 1; i--) {
        size_t j = (size_t)geoloc_rng_below(&rng, i);
        size_t t = H->order[i - 1];
        H->order[i - 1] = H->order[j];
        H->order[j] = t;
    }
}
