/* The album LSTM: its parts, file, and the per-photo probabilities of an
 * album (training is in album_lstm_train.c). */
#include <limits.h>
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

/* Largest magnitude of a value read from a file: trained values are far below, and
 * it keeps the LSTM's and output layer's sums finite. */
#define ALSTM_MAX_VALUE 1e6f

/* Each tensor's 2-D shape for `dirs` LSTMs of `hidden` units over dim features and C classes. */
static void tensor_shapes(int hidden, int dirs, int dim, size_t C, uint64_t shape[N_TENSORS][2]) {
    uint64_t G = (uint64_t)dirs * 4 * (uint64_t)hidden, W = (uint64_t)dirs * (uint64_t)hidden;
    shape[T_W_LAYER][0] = G, shape[T_W_LAYER][1] = (uint64_t)dim;
    shape[T_W_ITER][0] = G, shape[T_W_ITER][1] = (uint64_t)hidden;
    shape[T_BIAS][0] = G, shape[T_BIAS][1] = 1;
    shape[T_W_OUT][0] = C, shape[T_W_OUT][1] = W;
    shape[T_B_OUT][0] = C, shape[T_B_OUT][1] = 1;
    shape[T_MEAN][0] = (uint64_t)dim, shape[T_MEAN][1] = 1;
    shape[T_INV][0] = (uint64_t)dim, shape[T_INV][1] = 1;
}

/* Dimensions a shape is written with (a second dimension of 1 is left out). */
static size_t tensor_ndim(const uint64_t shape[2]) { return shape[1] == 1 ? 1 : 2; }

/* Each tensor's values in a. */
static void tensor_data(const geoloc_album_lstm *a, float *ptr[N_TENSORS]) {
    ptr[T_W_LAYER] = a->lstm->w_layer, ptr[T_W_ITER] = a->lstm->w_iter, ptr[T_BIAS] = a->lstm->bias;
    ptr[T_W_OUT] = a->w_out, ptr[T_B_OUT] = a->b_out, ptr[T_MEAN] = a->mean, ptr[T_INV] = a->inv;
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
    tensor_shapes(a->lstm->hidden, a->lstm->dirs, a->dim, alstm_classes(a), shape);
    tensor_data(a, ptr);
    geoloc_tensor_desc t[N_TENSORS];
    for (int k = 0; k < N_TENSORS; k++)
        t[k] = (geoloc_tensor_desc){TENSOR_NAME[k], GEOLOC_DTYPE_F32, tensor_ndim(shape[k]), shape[k], ptr[k]};
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


/* The decimal digits text[0..len) (no sign, no spaces) as a number in [1, max] into *v; 0 when it is not one. */
static int parse_count(const char *text, size_t len, long max, long *v) {
    long x = 0;
    if (len == 0) return 0;
    for (size_t i = 0; i < len; i++) {
        long digit = text[i] - '0';
        if (text[i] < '0' || text[i] > '9' || digit > max || x > (max - digit) / 10) return 0;
        x = x * 10 + digit;
    }
    *v = x;
    return x >= 1;
}

/* Metadata key of st as a whole number in [1, max]. */
static geoloc_status meta_count(const geoloc_safetensors *st, const char *file, const char *key, long max, long *v,
                                geoloc_error *err) {
    const char *text = geoloc_safetensors_metadata_get(st, key);
    if (!text) return error_set(err, GEOLOC_E_PARSE, "%s: metadata %s is missing (an album LSTM file has it)", file, key);
    if (!parse_count(text, strlen(text), max, v))
        return error_set(err, GEOLOC_E_PARSE, "%s: metadata %s \"%.40s\" is not a whole number from 1 to %ld", file,
                         key, text, max);
    return GEOLOC_OK;
}

/* Checks metadata geoloc.partitions ("name:cells,...") against the geo model's partitions bound in a. */
static geoloc_status check_partitions(const geoloc_album_lstm *a, const char *file, const char *text,
                                      geoloc_error *err) {
    char want[GEOLOC_MODEL_MAX_PARTITIONS * 96];
    partitions_text(a, want, sizeof want);
    size_t f = 0;
    for (const char *p = text;; f++) {
        size_t len = strcspn(p, ",");
        size_t name_len = len; /* up to the last ':' */
        while (name_len > 0 && p[name_len - 1] != ':') name_len--;
        long cells = 0;
        if (name_len < 2 || !parse_count(p + name_len, len - name_len, LONG_MAX, &cells))
            return error_set(err, GEOLOC_E_PARSE, "%s: metadata geoloc.partitions \"%.100s\": item %zu \"%.*s\" is "
                             "not name:cells", file, text, f + 1, (int)(len < 100 ? len : 100), p);
        name_len--;
        if (f < a->n_parts && (strlen(a->m->partition_names[f]) != name_len ||
                               memcmp(a->m->partition_names[f], p, name_len) != 0 || (size_t)cells != a->classes[f]))
            return error_set(err, GEOLOC_E_ARG, "%s: metadata geoloc.partitions: partition %zu is %.*s, the geo "
                             "model's is %s:%zu (made for partitions %.100s, the geo model has %.100s)", file, f + 1,
                             (int)(len < 100 ? len : 100), p, a->m->partition_names[f], a->classes[f], text, want);
        if (p[len] == '\0') break;
        p += len + 1;
    }
    if (f + 1 != a->n_parts)
        return error_set(err, GEOLOC_E_ARG, "%s: metadata geoloc.partitions: made for %zu partitions (%.100s), the "
                         "geo model has %zu (%.100s)", file, f + 1, text, a->n_parts, want);
    return GEOLOC_OK;
}

/* Refuses tensor k's values v[0..n) when one is not finite, above ALSTM_MAX_VALUE in
 * magnitude or, for the inverse deviations, not positive. */
static geoloc_status check_values(const float *v, size_t n, int k, const char *file, geoloc_error *err) {
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(v[i]))
            return error_set(err, GEOLOC_E_PARSE, "%s: tensor %s[%zu] is %g, not a finite number", file,
                             TENSOR_NAME[k], i, (double)v[i]);
        if (fabsf(v[i]) > ALSTM_MAX_VALUE || (k == T_INV && !(v[i] > 0)))
            return error_set(err, GEOLOC_E_PARSE, "%s: tensor %s[%zu] is %g, out of range (%s)", file,
                             TENSOR_NAME[k], i, (double)v[i],
                             k == T_INV ? "an inverse deviation is positive, at most 1e6" : "at most 1e6 in magnitude");
    }
    return GEOLOC_OK;
}

/* An album LSTM for m from the open file st (called file in messages): every field
 * is checked before anything is sized from it. */
static geoloc_status read_album_lstm(const geoloc_safetensors *st, const char *file, const geoloc_model *m,
                                     geoloc_album_lstm **out, geoloc_error *err) {
    const char *format = geoloc_safetensors_metadata_get(st, "geoloc.format");
    if (!format || strcmp(format, GEOLOC_ALBUM_LSTM_FORMAT) != 0)
        return error_set(err, GEOLOC_E_PARSE, "%s: not an album LSTM file (metadata geoloc.format is not %s)", file,
                         GEOLOC_ALBUM_LSTM_FORMAT);
    geoloc_album_lstm probe = {0}; /* the geo model's sizes, nothing allocated */
    long hidden = 0, dirs = 0, dim = 0;
    geoloc_status s = bind_heads(&probe, m, err);
    if (s == GEOLOC_OK) s = meta_count(st, file, "geoloc.hidden", 1 << 16, &hidden, err);
    if (s == GEOLOC_OK) s = meta_count(st, file, "geoloc.directions", 2, &dirs, err);
    if (s == GEOLOC_OK) s = meta_count(st, file, "geoloc.feature_dim", 1 << 20, &dim, err);
    if (s == GEOLOC_OK && dim != probe.dim)
        s = error_set(err, GEOLOC_E_ARG, "%s: metadata geoloc.feature_dim: made for features of width %ld, the geo "
                      "model's heads read %d", file, dim, probe.dim);
    const char *parts = geoloc_safetensors_metadata_get(st, "geoloc.partitions");
    if (s == GEOLOC_OK && !parts)
        s = error_set(err, GEOLOC_E_PARSE, "%s: metadata geoloc.partitions is missing (an album LSTM file has it)",
                      file);
    if (s == GEOLOC_OK) s = check_partitions(&probe, file, parts, err);
    uint64_t shape[N_TENSORS][2];
    const float *src[N_TENSORS] = {0};
    tensor_shapes((int)hidden, (int)dirs, probe.dim, alstm_classes(&probe), shape);
    for (int k = 0; s == GEOLOC_OK && k < N_TENSORS; k++) {
        s = geoloc_safetensors_get_f32(st, TENSOR_NAME[k], shape[k], tensor_ndim(shape[k]), &src[k], err);
        if (s == GEOLOC_OK) s = check_values(src[k], shape[k][0] * shape[k][1], k, file, err);
    }
    if (s == GEOLOC_OK) s = geoloc_album_lstm_create(m, (int)hidden, dirs == 2, 0, out, err);
    if (s != GEOLOC_OK) return s;
    float *dst[N_TENSORS];
    tensor_data(*out, dst);
    for (int k = 0; k < N_TENSORS; k++) memcpy(dst[k], src[k], shape[k][0] * shape[k][1] * sizeof(float));
    return GEOLOC_OK;
}

geoloc_status geoloc_album_lstm_load_buffer(const void *data, size_t size, const char *name, const geoloc_model *m,
                                            geoloc_album_lstm **out, geoloc_error *err) {
    *out = NULL;
    geoloc_safetensors *st = NULL;
    geoloc_status s = geoloc_safetensors_open_buffer(data, size, name, &st, err);
    if (s == GEOLOC_OK) s = read_album_lstm(st, name, m, out, err);
    geoloc_safetensors_close(st);
    return s;
}

geoloc_status geoloc_album_lstm_load(const char *path, const geoloc_model *m, geoloc_album_lstm **out,
                                     geoloc_error *err) {
    *out = NULL;
    geoloc_safetensors *st = NULL;
    geoloc_status s = geoloc_safetensors_open(path, &st, err);
    if (s == GEOLOC_OK) s = read_album_lstm(st, path, m, out, err);
    geoloc_safetensors_close(st);
    return s;
}
