/* The album LSTM: its parts, file, and the per-photo probabilities of an
 * album (training is in album_lstm_train.c). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "geoloc/safetensors.h"
#include "model/album_lstm_internal.h"

/* Finds the geo model's head of each partition and sizes everything from them. */
static geoloc_status bind_heads(geoloc_album_lstm *a, const geoloc_model *m, geoloc_error *err) {
    if (!m || !m->net) return error_set(err, GEOLOC_E_ARG, "album lstm: the geo model's heads are not loaded");
    a->m = m;
    a->n_parts = m->n_partitions;
    a->offset[0] = 0;
    for (size_t f = 0; f < m->n_partitions; f++) {
        int h = geoloc_model_head(m, GEOLOC_HEAD_GEO, f);
        geoloc_param *w = NULL, *b = NULL;
        for (size_t i = 0; h >= 0 && i < geoloc_net_param_count(m->net); i++) {
            geoloc_param *p = geoloc_net_param(m->net, i);
            if (p->head != h) continue;
            if (p->kind == GEOLOC_PARAM_WEIGHT) w = p;
            if (p->kind == GEOLOC_PARAM_BIAS) b = p;
        }
        if (!w || !b || w->ndim != 2 || w->shape[0] != m->partitions[f]->n)
            return error_set(err, GEOLOC_E_ARG, "album lstm: the geo model has no head for partition %s",
                             m->partition_names[f]);
        if (f > 0 && (int)w->shape[1] != a->dim)
            return error_set(err, GEOLOC_E_ARG, "album lstm: the geo model's heads read different features");
        a->dim = (int)w->shape[1];
        a->head_w[f] = w->data, a->head_b[f] = b->data;
        a->classes[f] = (size_t)w->shape[0];
        a->offset[f + 1] = a->offset[f] + a->classes[f];
    }
    if (a->n_parts == 0) return error_set(err, GEOLOC_E_ARG, "album lstm: the geo model has no partition");
    return GEOLOC_OK;
}

geoloc_status geoloc_album_lstm_create(const geoloc_model *m, int hidden, int bidirectional, uint64_t seed,
                                       geoloc_album_lstm **out, geoloc_error *err) {
    *out = NULL;
    geoloc_album_lstm *a = calloc(1, sizeof *a);
    if (!a) return error_set(err, GEOLOC_E_NOMEM, "album lstm: out of memory");
    geoloc_status s = bind_heads(a, m, err);
    if (s == GEOLOC_OK) s = geoloc_lstm_create(a->dim, hidden, bidirectional, &a->lstm, err);
    if (s == GEOLOC_OK) {
        size_t C = alstm_classes(a), W = (size_t)alstm_out_width(a);
        a->mean = calloc((size_t)a->dim, sizeof(float));
        a->inv = malloc((size_t)a->dim * sizeof(float));
        a->w_out = calloc(C * W, sizeof(float));
        a->g_w_out = calloc(C * W, sizeof(float));
        a->b_out = calloc(C, sizeof(float));
        a->g_b_out = calloc(C, sizeof(float));
        if (!a->mean || !a->inv || !a->w_out || !a->g_w_out || !a->b_out || !a->g_b_out)
            s = error_set(err, GEOLOC_E_NOMEM, "album lstm: out of memory");
    }
    if (s != GEOLOC_OK) {
        geoloc_album_lstm_free(a);
        return s;
    }
    for (int d = 0; d < a->dim; d++) a->inv[d] = 1.0f;
    geoloc_lstm_init_random(a->lstm, seed);
    *out = a;
    return GEOLOC_OK;
}

void alstm_execs_clear(alstm_execs *c) {
    for (size_t k = 0; k < c->n; k++) geoloc_lstm_exec_free(c->by_len[k]);
    free(c->by_len);
    c->by_len = NULL;
    c->n = 0;
}

void geoloc_album_lstm_free(geoloc_album_lstm *a) {
    if (!a) return;
    alstm_execs_clear(&a->infer);
    alstm_execs_clear(&a->train);
    geoloc_lstm_free(a->lstm);
    free(a->mean);
    free(a->inv);
    free(a->w_out);
    free(a->g_w_out);
    free(a->b_out);
    free(a->g_b_out);
    free(a);
}

int geoloc_album_lstm_hidden(const geoloc_album_lstm *a) { return a->lstm->hidden; }

int geoloc_album_lstm_bidirectional(const geoloc_album_lstm *a) { return a->lstm->dirs == 2; }

geoloc_status alstm_exec(geoloc_album_lstm *a, alstm_execs *c, size_t len, geoloc_lstm_exec **out, geoloc_error *err) {
    if (len >= c->n) {
        size_t n = len + 1;
        geoloc_lstm_exec **v = realloc(c->by_len, n * sizeof *v);
        if (!v) return error_set(err, GEOLOC_E_NOMEM, "album lstm: out of memory");
        for (size_t k = c->n; k < n; k++) v[k] = NULL;
        c->by_len = v;
        c->n = n;
    }
    if (!c->by_len[len]) {
        if (!c->training) /* inference keeps one length: albums come one at a time, in any sizes */
            for (size_t k = 0; k < c->n; k++) {
                geoloc_lstm_exec_free(c->by_len[k]);
                c->by_len[k] = NULL;
            }
        geoloc_status s = geoloc_lstm_exec_create(a->lstm, (int)len, c->batch, c->training, &c->by_len[len], err);
        if (s != GEOLOC_OK) return s;
    }
    *out = c->by_len[len];
    return GEOLOC_OK;
}

void alstm_head_logits(const geoloc_album_lstm *a, const float *f, float *out) {
    for (size_t p = 0; p < a->n_parts; p++)
        for (size_t k = 0; k < a->classes[p]; k++) {
            const float *w = a->head_w[p] + k * (size_t)a->dim;
            float s = 0;
#pragma omp simd reduction(+ : s)
            for (int d = 0; d < a->dim; d++) s += w[d] * f[d];
            out[a->offset[p] + k] = s + a->head_b[p][k];
        }
}

void alstm_standardise(const geoloc_album_lstm *a, const float *f, float *x) {
    for (int d = 0; d < a->dim; d++) x[d] = (f[d] - a->mean[d]) * a->inv[d];
}

geoloc_status alstm_forward(geoloc_album_lstm *a, geoloc_lstm_exec *e, const float *x, size_t n, float *h,
                            float *logits, geoloc_error *err) {
    geoloc_status s = geoloc_lstm_forward(e, x, h, err);
    if (s != GEOLOC_OK) return s;
    size_t C = alstm_classes(a), W = (size_t)alstm_out_width(a);
    for (size_t i = 0; i < n; i++) {
        const float *hi = h + i * W;
        float *z = logits + i * C;
        for (size_t c = 0; c < C; c++) {
            const float *w = a->w_out + c * W;
            float acc = a->b_out[c];
            for (size_t j = 0; j < W; j++) acc += w[j] * hi[j];
            z[c] += acc;
        }
    }
    return GEOLOC_OK;
}

double alstm_softmax_loss(const geoloc_album_lstm *a, float *logits, const long *label, float scale, float *grad) {
    double loss = 0;
    for (size_t p = 0; p < a->n_parts; p++) {
        float *z = logits + a->offset[p];
        size_t n = a->classes[p];
        float mx = z[0];
        for (size_t k = 1; k < n; k++) mx = z[k] > mx ? z[k] : mx;
        double sum = 0;
        for (size_t k = 0; k < n; k++) sum += exp((double)(z[k] - mx));
        double lse = mx + log(sum);
        if (label && label[p] >= 0) loss += lse - z[label[p]];
        for (size_t k = 0; k < n; k++) z[k] = (float)exp((double)z[k] - lse);
        if (!grad) continue;
        float *g = grad + a->offset[p];
        for (size_t k = 0; k < n; k++) g[k] = label && label[p] >= 0 ? z[k] * scale : 0.0f;
        if (label && label[p] >= 0) g[label[p]] -= scale;
    }
    return loss;
}

geoloc_status alstm_labels(const geoloc_album_lstm *a, const double *lat, const double *lng, size_t rows,
                           long **labels, geoloc_error *err) {
    *labels = malloc((rows ? rows : 1) * a->n_parts * sizeof **labels);
    if (!*labels) return error_set(err, GEOLOC_E_NOMEM, "album lstm: out of memory");
    for (size_t r = 0; r < rows; r++)
        for (size_t p = 0; p < a->n_parts; p++)
            (*labels)[r * a->n_parts + p] = geoloc_partition_find_latlng(a->m->partitions[p], lat[r], lng[r]);
    return GEOLOC_OK;
}

/* Copies photo i's probabilities (C values) into the callers' per-partition rows. */
static void scatter(const geoloc_album_lstm *a, const float *z, size_t i, float *const *probs) {
    for (size_t p = 0; p < a->n_parts; p++)
        memcpy(probs[p] + i * a->classes[p], z + a->offset[p], a->classes[p] * sizeof(float));
}

geoloc_status geoloc_album_lstm_probs(geoloc_album_lstm *a, const float *features, size_t n, float *const *probs,
                                      geoloc_error *err) {
    if (n == 0) return error_set(err, GEOLOC_E_EMPTY, "album lstm: an empty album");
    size_t C = alstm_classes(a), W = (size_t)alstm_out_width(a);
    float *x = malloc(n * (size_t)a->dim * sizeof *x), *h = malloc(n * W * sizeof *h),
          *z = malloc(n * C * sizeof *z);
    geoloc_lstm_exec *e = NULL;
    geoloc_status s = !x || !h || !z ? error_set(err, GEOLOC_E_NOMEM, "album lstm: out of memory") : GEOLOC_OK;
    a->infer.batch = 1, a->infer.training = 0;
    if (s == GEOLOC_OK) s = alstm_exec(a, &a->infer, n, &e, err);
    for (size_t i = 0; s == GEOLOC_OK && i < n; i++) {
        alstm_standardise(a, features + i * (size_t)a->dim, x + i * (size_t)a->dim);
        alstm_head_logits(a, features + i * (size_t)a->dim, z + i * C);
    }
    if (s == GEOLOC_OK) s = alstm_forward(a, e, x, n, h, z, err);
    for (size_t i = 0; s == GEOLOC_OK && i < n; i++) {
        alstm_softmax_loss(a, z + i * C, NULL, 0, NULL);
        scatter(a, z + i * C, i, probs);
    }
    free(x);
    free(h);
    free(z);
    return s;
}

geoloc_status geoloc_album_lstm_single_probs(const geoloc_album_lstm *a, const float *features, size_t n,
                                             float *const *probs, geoloc_error *err) {
    float *z = malloc(alstm_classes(a) * sizeof *z);
    if (!z) return error_set(err, GEOLOC_E_NOMEM, "album lstm: out of memory");
    for (size_t i = 0; i < n; i++) {
        alstm_head_logits(a, features + i * (size_t)a->dim, z);
        alstm_softmax_loss(a, z, NULL, 0, NULL);
        scatter(a, z, i, probs);
    }
    free(z);
    return GEOLOC_OK;
}

/* ---- file ---- */

enum { T_W_LAYER, T_W_ITER, T_BIAS, T_W_OUT, T_B_OUT, T_MEAN, T_INV, N_TENSORS };
static const char *const TENSOR_NAME[N_TENSORS] = {"lstm.weight_layer", "lstm.weight_iter", "lstm.bias",
                                                   "out.weight", "out.bias", "standardise.mean",
                                                   "standardise.inv_std"};

/* Each tensor's pointer and 2-D shape. */
static void tensors(const geoloc_album_lstm *a, float *ptr[N_TENSORS], uint64_t shape[N_TENSORS][2]) {
    const geoloc_lstm *l = a->lstm;
    uint64_t G = (uint64_t)l->dirs * 4 * (uint64_t)l->hidden, C = alstm_classes(a), W = alstm_out_width(a);
    ptr[T_W_LAYER] = l->w_layer, shape[T_W_LAYER][0] = G, shape[T_W_LAYER][1] = (uint64_t)l->input;
    ptr[T_W_ITER] = l->w_iter, shape[T_W_ITER][0] = G, shape[T_W_ITER][1] = (uint64_t)l->hidden;
    ptr[T_BIAS] = l->bias, shape[T_BIAS][0] = G, shape[T_BIAS][1] = 1;
    ptr[T_W_OUT] = a->w_out, shape[T_W_OUT][0] = C, shape[T_W_OUT][1] = W;
    ptr[T_B_OUT] = a->b_out, shape[T_B_OUT][0] = C, shape[T_B_OUT][1] = 1;
    ptr[T_MEAN] = a->mean, shape[T_MEAN][0] = (uint64_t)a->dim, shape[T_MEAN][1] = 1;
    ptr[T_INV] = a->inv, shape[T_INV][0] = (uint64_t)a->dim, shape[T_INV][1] = 1;
}

/* "name:cells,name:cells,..." of the geo model's partitions. */
static void partitions_text(const geoloc_album_lstm *a, char *buf, size_t size) {
    size_t used = 0;
    buf[0] = '\0';
    for (size_t p = 0; p < a->n_parts && used < size; p++)
        used += (size_t)snprintf(buf + used, size - used, "%s%s:%zu", p ? "," : "", a->m->partition_names[p],
                                 a->classes[p]);
}

geoloc_status geoloc_album_lstm_save(const geoloc_album_lstm *a, const char *path, geoloc_error *err) {
    float *ptr[N_TENSORS];
    uint64_t shape[N_TENSORS][2];
    tensors(a, ptr, shape);
    geoloc_tensor_desc t[N_TENSORS];
    for (int k = 0; k < N_TENSORS; k++)
        t[k] = (geoloc_tensor_desc){TENSOR_NAME[k], GEOLOC_DTYPE_F32, shape[k][1] == 1 ? 1 : 2, shape[k], ptr[k]};
    char parts[GEOLOC_MODEL_MAX_PARTITIONS * 96], hidden[32], dirs[8], dim[32];
    partitions_text(a, parts, sizeof parts);
    snprintf(hidden, sizeof hidden, "%d", a->lstm->hidden);
    snprintf(dirs, sizeof dirs, "%d", a->lstm->dirs);
    snprintf(dim, sizeof dim, "%d", a->dim);
    const char *keys[] = {"geoloc.format", "geoloc.partitions", "geoloc.hidden", "geoloc.directions",
                          "geoloc.feature_dim"};
    const char *values[] = {GEOLOC_ALBUM_LSTM_FORMAT, parts, hidden, dirs, dim};
    return geoloc_safetensors_write(path, t, N_TENSORS, keys, values, 5, err);
}

geoloc_status geoloc_album_lstm_load(const char *path, const geoloc_model *m, geoloc_album_lstm **out,
                                     geoloc_error *err) {
    *out = NULL;
    geoloc_safetensors *st = NULL;
    geoloc_status s = geoloc_safetensors_open(path, &st, err);
    if (s != GEOLOC_OK) return s;
    const char *format = geoloc_safetensors_metadata_get(st, "geoloc.format");
    const char *parts = geoloc_safetensors_metadata_get(st, "geoloc.partitions");
    const char *hidden = geoloc_safetensors_metadata_get(st, "geoloc.hidden");
    const char *dirs = geoloc_safetensors_metadata_get(st, "geoloc.directions");
    geoloc_album_lstm *a = NULL;
    if (!format || strcmp(format, GEOLOC_ALBUM_LSTM_FORMAT) != 0 || !parts || !hidden || !dirs)
        s = error_set(err, GEOLOC_E_PARSE, "%s: not an album LSTM file (%s)", path, GEOLOC_ALBUM_LSTM_FORMAT);
    else if (strcmp(dirs, "1") != 0 && strcmp(dirs, "2") != 0)
        s = error_set(err, GEOLOC_E_PARSE, "%s: geoloc.directions \"%s\" is not 1 or 2", path, dirs);
    else
        s = geoloc_album_lstm_create(m, atoi(hidden), dirs[0] == '2', 0, &a, err);
    if (s == GEOLOC_OK) {
        char want[GEOLOC_MODEL_MAX_PARTITIONS * 96];
        partitions_text(a, want, sizeof want);
        if (strcmp(want, parts) != 0)
            s = error_set(err, GEOLOC_E_ARG, "%s: made for partitions %s, the geo model has %s", path, parts, want);
    }
    if (s == GEOLOC_OK) {
        float *ptr[N_TENSORS];
        uint64_t shape[N_TENSORS][2];
        tensors(a, ptr, shape);
        for (int k = 0; s == GEOLOC_OK && k < N_TENSORS; k++) {
            const float *src = NULL;
            s = geoloc_safetensors_get_f32(st, TENSOR_NAME[k], shape[k], shape[k][1] == 1 ? 1 : 2, &src, err);
            if (s == GEOLOC_OK) memcpy(ptr[k], src, shape[k][0] * shape[k][1] * sizeof(float));
        }
    }
    geoloc_safetensors_close(st);
    if (s != GEOLOC_OK) {
        geoloc_album_lstm_free(a);
        return s;
    }
    *out = a;
    return GEOLOC_OK;
}
