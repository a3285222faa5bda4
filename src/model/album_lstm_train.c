/* Training the album LSTM on random sub-albums (SGD with momentum, cosine
 * learning rate), and its loss on whole albums. The geo model's heads stay
 * frozen: their logits are computed once per photo. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "geoloc/optim.h"
#include "geoloc/transform.h"
#include "model/album_lstm_internal.h"

geoloc_album_lstm_train_options geoloc_album_lstm_train_defaults(void) {
    geoloc_album_lstm_train_options o = {.epochs = 5, .albums_per_epoch = 2000, .max_len = 8, .batch = 8,
                                         .lr = 0.02, .momentum = 0.9, .weight_decay = 1e-4, .head_dropout = 0.5,
                                         .seed = 1};
    return o;
}

/* Mean and inverse deviation of every feature over the albums' photos (a
 * deviation below 1e-3 of the mean deviation is raised to it, as the heads'). */
static void set_standardisation(geoloc_album_lstm *a, const float *features, const geoloc_album_set *s) {
    size_t D = (size_t)a->dim, n = s->start[s->n_albums];
    double *sum = calloc(D, sizeof *sum), *sq = calloc(D, sizeof *sq);
    if (sum && sq && n > 0) {
        for (size_t i = 0; i < n; i++)
            for (size_t d = 0; d < D; d++) sum[d] += features[s->rows[i] * D + d];
        for (size_t d = 0; d < D; d++) a->mean[d] = (float)(sum[d] / (double)n);
        for (size_t i = 0; i < n; i++)
            for (size_t d = 0; d < D; d++) {
                double v = (double)features[s->rows[i] * D + d] - a->mean[d];
                sq[d] += v * v;
            }
        double mean_sd = 0;
        for (size_t d = 0; d < D; d++) mean_sd += (sq[d] = sqrt(sq[d] / (double)n)) / (double)D;
        double floor_sd = 1e-3 * mean_sd + 1e-12;
        for (size_t d = 0; d < D; d++) a->inv[d] = (float)(1.0 / (sq[d] > floor_sd ? sq[d] : floor_sd));
    }
    free(sum);
    free(sq);
}

/* The album of the photo at position pos of the concatenated rows. */
static size_t album_at(const geoloc_album_set *s, size_t pos) {
    size_t lo = 0, hi = s->n_albums;
    while (hi - lo > 1) {
        size_t mid = (lo + hi) / 2;
        if (s->start[mid] <= pos) lo = mid;
        else hi = mid;
    }
    return lo;
}

/* The buffers of one training step (T steps x B albums). */
typedef struct step_buffers {
    float *x, *h, *z, *dz, *dh;
    long *label;
    size_t *pick, *perm;
} step_buffers;

static void step_buffers_free(step_buffers *b) {
    free(b->x);
    free(b->h);
    free(b->z);
    free(b->dz);
    free(b->dh);
    free(b->label);
    free(b->pick);
    free(b->perm);
}

/* Output layer backward: its gradients, and the LSTM outputs' gradient dh. */
static void output_backward(geoloc_album_lstm *a, const float *h, const float *dz, size_t n, float *dh) {
    size_t C = alstm_classes(a), W = (size_t)alstm_out_width(a);
    memset(dh, 0, n * W * sizeof *dh);
    for (size_t i = 0; i < n; i++) {
        const float *hi = h + i * W, *di = dz + i * C;
        float *dhi = dh + i * W;
        for (size_t c = 0; c < C; c++) {
            float g = di[c];
            if (g == 0.0f) continue;
            float *gw = a->g_w_out + c * W;
            const float *w = a->w_out + c * W;
            for (size_t j = 0; j < W; j++) {
                gw[j] += g * hi[j];
                dhi[j] += g * w[j];
            }
            a->g_b_out[c] += g;
        }
    }
}

/* Draws `batch` sub-albums of L photos (rows into pick, time-major [t][b]). */
static void draw(const geoloc_album_set *s, size_t L, int batch, geoloc_rng *rng, size_t *pick, size_t *perm) {
    size_t total = s->start[s->n_albums];
    for (int b = 0; b < batch; b++) {
        size_t j;
        do j = album_at(s, (size_t)geoloc_rng_below(rng, total));
        while (s->start[j + 1] - s->start[j] < L);
        size_t n = s->start[j + 1] - s->start[j];
        for (size_t k = 0; k < n; k++) perm[k] = k;
        for (size_t k = 0; k < L; k++) { /* partial Fisher-Yates, then album order */
            size_t r = k + (size_t)geoloc_rng_below(rng, n - k), t = perm[k];
            perm[k] = perm[r], perm[r] = t;
        }
        for (size_t k = 1; k < L; k++)
            for (size_t q = k; q > 0 && perm[q - 1] > perm[q]; q--) {
                size_t t = perm[q];
                perm[q] = perm[q - 1], perm[q - 1] = t;
            }
        for (size_t t = 0; t < L; t++) pick[t * (size_t)batch + (size_t)b] = s->rows[s->start[j] + perm[t]];
    }
}

/* One step on the sub-albums in pick: forward, loss, backward (gradients added). */
static geoloc_status train_step(geoloc_album_lstm *a, const float *xs, const float *z0, const long *labels,
                                size_t L, int batch, double head_dropout, geoloc_rng *rng, step_buffers *b,
                                double *loss, geoloc_error *err) {
    size_t n = L * (size_t)batch, C = alstm_classes(a), D = (size_t)a->dim;
    geoloc_lstm_exec *e = NULL;
    geoloc_status s = alstm_exec(a, &a->train, L, &e, err);
    if (s != GEOLOC_OK) return s;
    for (size_t i = 0; i < n; i++) {
        memcpy(b->x + i * D, xs + b->pick[i] * D, D * sizeof(float));
        if (head_dropout > 0 && geoloc_rng_uniform(rng) < head_dropout)
            memset(b->z + i * C, 0, C * sizeof(float)); /* the heads' answer hidden: the album must place it */
        else
            memcpy(b->z + i * C, z0 + b->pick[i] * C, C * sizeof(float));
    }
    if ((s = alstm_forward(a, e, b->x, n, b->h, b->z, err)) != GEOLOC_OK) return s;
    float scale = 1.0f / (float)n;
    for (size_t i = 0; i < n; i++)
        *loss += alstm_softmax_loss(a, b->z + i * C, labels + b->pick[i] * a->n_parts, scale, b->dz + i * C);
    output_backward(a, b->h, b->dz, n, b->dh);
    return geoloc_lstm_backward(e, b->dh, NULL, err);
}

/* Registers every trained parameter with the optimizer. */
static geoloc_status add_params(geoloc_album_lstm *a, geoloc_sgd *opt, geoloc_error *err) {
    size_t n[3], C = alstm_classes(a), W = (size_t)alstm_out_width(a);
    geoloc_lstm_param_sizes(a->lstm, n);
    geoloc_lstm *l = a->lstm;
    geoloc_status s = geoloc_sgd_add(opt, l->w_layer, l->g_layer, n[0], 0, NULL, err);
    if (s == GEOLOC_OK) s = geoloc_sgd_add(opt, l->w_iter, l->g_iter, n[1], 0, NULL, err);
    if (s == GEOLOC_OK) s = geoloc_sgd_add(opt, l->bias, l->g_bias, n[2], 0, NULL, err);
    if (s == GEOLOC_OK) s = geoloc_sgd_add(opt, a->w_out, a->g_w_out, C * W, 0, NULL, err);
    if (s == GEOLOC_OK) s = geoloc_sgd_add(opt, a->b_out, a->g_b_out, C, 0, NULL, err);
    return s;
}

static void zero_grads(geoloc_album_lstm *a) {
    geoloc_lstm_zero_grad(a->lstm);
    memset(a->g_w_out, 0, alstm_classes(a) * (size_t)alstm_out_width(a) * sizeof(float));
    memset(a->g_b_out, 0, alstm_classes(a) * sizeof(float));
}

geoloc_status geoloc_album_lstm_train(geoloc_album_lstm *a, const float *features, size_t rows, const double *lat,
                                      const double *lng, const geoloc_album_set *albums,
                                      const geoloc_album_lstm_train_options *opt, double *final_loss,
                                      geoloc_error *err) {
    const geoloc_album_lstm_train_options o = opt ? *opt : geoloc_album_lstm_train_defaults();
    if (o.epochs < 1 || o.albums_per_epoch < 1 || o.max_len < 2 || o.batch < 1 || !(o.lr > 0) ||
        !(o.head_dropout >= 0 && o.head_dropout < 1))
        return error_set(err, GEOLOC_E_ARG,
                         "album lstm training: epochs, albums, batch >= 1, max_len >= 2, lr > 0, head dropout in [0, 1)");
    size_t longest = 0;
    for (size_t j = 0; j < albums->n_albums; j++) {
        size_t n = albums->start[j + 1] - albums->start[j];
        longest = n > longest ? n : longest;
    }
    if (longest < 2) return error_set(err, GEOLOC_E_EMPTY, "album lstm training: no album has two photos");
    size_t max_len = (size_t)o.max_len < longest ? (size_t)o.max_len : longest;
    size_t C = alstm_classes(a), D = (size_t)a->dim, W = (size_t)alstm_out_width(a);
    size_t nb = max_len * (size_t)o.batch;

    set_standardisation(a, features, albums);
    long *labels = NULL;
    geoloc_status s = alstm_labels(a, lat, lng, rows, &labels, err);
    float *xs = malloc(rows * D * sizeof *xs), *z0 = malloc(rows * C * sizeof *z0);
    step_buffers b = {malloc(nb * D * sizeof(float)), malloc(nb * W * sizeof(float)), malloc(nb * C * sizeof(float)),
                      malloc(nb * C * sizeof(float)),  malloc(nb * W * sizeof(float)), NULL,
                      malloc(nb * sizeof(size_t)),     malloc(longest * sizeof(size_t))};
    if (s == GEOLOC_OK && (!xs || !z0 || !b.x || !b.h || !b.z || !b.dz || !b.dh || !b.pick || !b.perm))
        s = error_set(err, GEOLOC_E_NOMEM, "album lstm training: out of memory");
    for (size_t i = 0; s == GEOLOC_OK && i < albums->start[albums->n_albums]; i++) {
        size_t r = albums->rows[i];
        alstm_standardise(a, features + r * D, xs + r * D);
        alstm_head_logits(a, features + r * D, z0 + r * C);
    }
    geoloc_sgd *sgd = NULL;
    geoloc_sgd_config cfg = {.momentum = o.momentum, .weight_decay = o.weight_decay};
    if (s == GEOLOC_OK) s = geoloc_sgd_create(&cfg, &sgd, err);
    if (s == GEOLOC_OK) s = add_params(a, sgd, err);
    alstm_execs_clear(&a->train);
    a->train.batch = o.batch, a->train.training = 1;
    long steps = (long)((o.albums_per_epoch + (size_t)o.batch - 1) / (size_t)o.batch), total = steps * o.epochs;
    geoloc_lr_schedule sched = {.kind = GEOLOC_LR_COSINE, .base_lr = o.lr, .t_max = total};
    zero_grads(a);
    for (int ep = 0; s == GEOLOC_OK && ep < o.epochs; ep++) {
        double loss = 0;
        size_t photos = 0;
        for (long k = 0; s == GEOLOC_OK && k < steps; k++) {
            geoloc_rng rng;
            geoloc_rng_seed(&rng, o.seed, (uint64_t)ep, (uint64_t)k);
            size_t L = 2 + (size_t)geoloc_rng_below(&rng, max_len - 1);
            draw(albums, L, o.batch, &rng, b.pick, b.perm);
            s = train_step(a, xs, z0, labels, L, o.batch, o.head_dropout, &rng, &b, &loss, err);
            if (s != GEOLOC_OK) break;
            photos += L * (size_t)o.batch;
            geoloc_sgd_step(sgd, geoloc_lr_at(&sched, (long)ep * steps + k), 1.0f); /* dz is already a mean */
            zero_grads(a);
        }
        if (s != GEOLOC_OK) break;
        if (!isfinite(loss)) s = error_set(err, GEOLOC_E_RANGE, "album lstm training diverged at epoch %d", ep + 1);
        if (final_loss) *final_loss = loss / (double)photos;
        if (s == GEOLOC_OK && o.on_epoch) o.on_epoch(o.ctx, ep + 1, loss / (double)photos);
    }
    alstm_execs_clear(&a->train);
    geoloc_sgd_free(sgd);
    step_buffers_free(&b);
    free(labels);
    free(xs);
    free(z0);
    return s;
}

geoloc_status geoloc_album_lstm_loss(geoloc_album_lstm *a, const float *features, const double *lat,
                                     const double *lng, const geoloc_album_set *albums, double *loss,
                                     geoloc_error *err) {
    size_t C = alstm_classes(a), longest = 0, rows = 0;
    for (size_t j = 0; j < albums->n_albums; j++) {
        size_t n = albums->start[j + 1] - albums->start[j];
        longest = n > longest ? n : longest;
    }
    for (size_t i = 0; i < albums->start[albums->n_albums]; i++)
        rows = albums->rows[i] + 1 > rows ? albums->rows[i] + 1 : rows;
    long *labels = NULL;
    geoloc_status s = alstm_labels(a, lat, lng, rows, &labels, err);
    float *z = malloc((longest ? longest : 1) * C * sizeof *z);
    float *f = malloc((longest ? longest : 1) * (size_t)a->dim * sizeof *f);
    float *probs[GEOLOC_MODEL_MAX_PARTITIONS];
    if (s == GEOLOC_OK && (!z || !f)) s = error_set(err, GEOLOC_E_NOMEM, "album lstm: out of memory");
    double sum = 0;
    size_t photos = 0;
    for (size_t j = 0; s == GEOLOC_OK && j < albums->n_albums; j++) {
        size_t n = albums->start[j + 1] - albums->start[j];
        const size_t *r = albums->rows + albums->start[j];
        for (size_t i = 0; i < n; i++)
            memcpy(f + i * (size_t)a->dim, features + r[i] * (size_t)a->dim, (size_t)a->dim * sizeof(float));
        for (size_t p = 0; p < a->n_parts; p++) probs[p] = z + a->offset[p] * n;
        s = geoloc_album_lstm_probs(a, f, n, probs, err);
        for (size_t i = 0; s == GEOLOC_OK && i < n; i++)
            for (size_t p = 0; p < a->n_parts; p++) {
                long c = labels[r[i] * a->n_parts + p];
                if (c >= 0) sum -= log(fmax((double)probs[p][i * a->classes[p] + (size_t)c], 1e-30));
            }
        photos += n;
    }
    if (loss) *loss = photos ? sum / (double)photos : 0;
    free(labels);
    free(z);
    free(f);
    return s;
}
