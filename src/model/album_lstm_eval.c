/* The album LSTM's answers, their distance errors next to the single-photo
 * ones and the fused ones, and reading a features cache. */
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "geoloc/album.h"
#include "geoloc/distance.h"
#include "geoloc/safetensors.h"
#include "model/album_lstm_internal.h"

/* What is done with one photo's probabilities: geo[f] its rows for every
 * partition; row its table row, at its place in the albums' listing. */
typedef geoloc_status (*photo_fn)(void *ctx, const geoloc_album_lstm *a, const float *const *geo, size_t row,
                                  size_t at, geoloc_error *err);

/* Calls visit for every photo of the albums with its per-partition
 * probabilities: the LSTM's reading the photo's album in order, or (single)
 * the geo model's heads alone. */
static geoloc_status each_photo(geoloc_album_lstm *a, const float *features, const geoloc_album_set *albums,
                                int single, photo_fn visit, void *ctx, geoloc_error *err) {
    size_t longest = 0, D = (size_t)a->dim;
    for (size_t j = 0; j < albums->n_albums; j++) {
        size_t n = albums->start[j + 1] - albums->start[j];
        longest = n > longest ? n : longest;
    }
    if (longest == 0) return GEOLOC_OK;
    float *f = malloc(longest * D * sizeof *f), *z = malloc(longest * alstm_classes(a) * sizeof *z);
    geoloc_status s = !f || !z ? error_set(err, GEOLOC_E_NOMEM, "album lstm: out of memory") : GEOLOC_OK;
    float *probs[GEOLOC_MODEL_MAX_PARTITIONS];
    for (size_t j = 0; s == GEOLOC_OK && j < albums->n_albums; j++) {
        size_t n = albums->start[j + 1] - albums->start[j], at = albums->start[j];
        const size_t *r = albums->rows + at;
        for (size_t i = 0; i < n; i++) memcpy(f + i * D, features + r[i] * D, D * sizeof(float));
        for (size_t p = 0; p < a->n_parts; p++) probs[p] = z + a->offset[p] * n;
        s = single ? geoloc_album_lstm_single_probs(a, f, n, probs, err)
                   : geoloc_album_lstm_probs(a, f, n, probs, err);
        for (size_t i = 0; s == GEOLOC_OK && i < n; i++) {
            const float *geo[GEOLOC_MODEL_MAX_PARTITIONS];
            for (size_t p = 0; p < a->n_parts; p++) geo[p] = probs[p] + i * a->classes[p];
            s = visit(ctx, a, geo, r[i], at + i, err);
        }
    }
    free(f);
    free(z);
    return s;
}

typedef struct answers_ctx {
    const geoloc_predict_options *opt;
    geoloc_prediction *out;
} answers_ctx;

/* out[row]: the photo's answer with opt's partition, top_k and max radius. */
static geoloc_status answer_photo(void *ctx, const geoloc_album_lstm *a, const float *const *geo, size_t row,
                                  size_t at, geoloc_error *err) {
    (void)at;
    const answers_ctx *c = ctx;
    geoloc_prediction *o = &c->out[row];
    geoloc_status s = geoloc_answer_from_probs(a->m, geo, NULL, 1, c->opt->partition, c->opt->top_k, o, NULL, err);
    if (s == GEOLOC_OK && o->calibrated && c->opt->max_radius_km > 0)
        o->unknown = o->radius_km[0] > c->opt->max_radius_km;
    return s;
}

geoloc_status geoloc_album_lstm_answers(geoloc_album_lstm *a, const float *features, const geoloc_album_set *albums,
                                        const geoloc_predict_options *opt, geoloc_prediction *out,
                                        geoloc_error *err) {
    answers_ctx c = {opt, out};
    return each_photo(a, features, albums, 0, answer_photo, &c, err);
}

typedef struct errors_ctx {
    const double *lat, *lng;
    double *km;
} errors_ctx;

/* km[at]: the distance of the photo's hierarchical answer to its truth. */
static geoloc_status error_km(void *ctx, const geoloc_album_lstm *a, const float *const *geo, size_t row,
                              size_t at, geoloc_error *err) {
    const errors_ctx *c = ctx;
    geoloc_prediction pred;
    geoloc_status s = geoloc_answer_from_probs(a->m, geo, NULL, 1, -1, 1, &pred, NULL, err);
    if (s == GEOLOC_OK) c->km[at] = geoloc_haversine_km(pred.lat, pred.lon, c->lat[row], c->lng[row]);
    return s;
}

geoloc_status geoloc_album_lstm_errors(geoloc_album_lstm *a, const float *features, const double *lat,
                                       const double *lng, const geoloc_album_set *albums, double *km_single,
                                       double *km_album, geoloc_error *err) {
    errors_ctx single = {lat, lng, km_single}, album = {lat, lng, km_album};
    geoloc_status s = km_single ? each_photo(a, features, albums, 1, error_km, &single, err) : GEOLOC_OK;
    if (s == GEOLOC_OK && km_album) s = each_photo(a, features, albums, 0, error_km, &album, err);
    return s;
}

geoloc_status geoloc_album_lstm_read_features(const char *path, const geoloc_album_lstm *a, size_t photos,
                                              float **features, uint8_t **ok, geoloc_error *err) {
    *features = NULL, *ok = NULL;
    geoloc_safetensors *st = NULL;
    geoloc_status s = geoloc_safetensors_open(path, &st, err);
    if (s != GEOLOC_OK) return s;
    const geoloc_tensor_info *t = geoloc_safetensors_find(st, "features");
    const geoloc_tensor_info *o = geoloc_safetensors_find(st, "ok");
    size_t D = (size_t)a->dim;
    if (!t || t->dtype != GEOLOC_DTYPE_F32 || t->ndim != 3 || t->shape[0] != photos || t->shape[1] < 1 ||
        t->shape[2] != D || !o || o->dtype != GEOLOC_DTYPE_U8 || o->n_elements != photos)
        s = error_set(err, GEOLOC_E_ARG,
                      "%s: not a features cache of %zu photos x views x %zu (tensors \"features\" F32, \"ok\" U8)",
                      path, photos, D);
    if (s == GEOLOC_OK && (!(*features = malloc((photos ? photos : 1) * D * sizeof(float))) ||
                           !(*ok = malloc(photos ? photos : 1))))
        s = error_set(err, GEOLOC_E_NOMEM, "%s: out of memory", path);
    if (s == GEOLOC_OK) {
        size_t views = (size_t)t->shape[1], use = views < 3 ? views : 3;
        const float *src = t->data;
        memcpy(*ok, o->data, photos);
        for (size_t i = 0; i < photos; i++) {
            float *f = *features + i * D;
            for (size_t d = 0; d < D; d++) {
                float sum = 0;
                for (size_t v = 0; v < use; v++) sum += src[(i * views + v) * D + d];
                f[d] = sum / (float)use;
            }
        }
    }
    geoloc_safetensors_close(st);
    if (s != GEOLOC_OK) {
        free(*features);
        free(*ok);
        *features = NULL, *ok = NULL;
    }
    return s;
}

geoloc_status geoloc_album_lstm_fusion_errors(const geoloc_album_lstm *a, const float *features, const double *lat,
                                              const double *lng, const geoloc_album_set *albums, int method,
                                              double *km, geoloc_error *err) {
    size_t n = albums->start[albums->n_albums], D = (size_t)a->dim;
    geoloc_album_probs *store = NULL;
    float *z = malloc(alstm_classes(a) * sizeof *z);
    size_t *idx = malloc((n ? n : 1) * sizeof *idx), scenes = a->m->n_scenes;
    /* the scene does not move the position: a uniform scene row where the model has a scene head */
    float *scene = scenes ? malloc(scenes * sizeof *scene) : NULL;
    for (size_t k = 0; scene && k < scenes; k++) scene[k] = 1.0f / (float)scenes;
    geoloc_status s = !z || !idx || (scenes && !scene) ? error_set(err, GEOLOC_E_NOMEM, "album lstm: out of memory") : GEOLOC_OK;
    if (s == GEOLOC_OK) s = geoloc_album_probs_create(a->m, n ? n : 1, &store, err);
    for (size_t i = 0; s == GEOLOC_OK && i < n; i++) {
        float *probs[GEOLOC_MODEL_MAX_PARTITIONS];
        const float *geo[GEOLOC_MODEL_MAX_PARTITIONS];
        for (size_t p = 0; p < a->n_parts; p++) probs[p] = z + a->offset[p], geo[p] = probs[p];
        s = geoloc_album_lstm_single_probs(a, features + albums->rows[i] * D, 1, probs, err);
        if (s == GEOLOC_OK) s = geoloc_album_probs_set(store, i, geo, scene, 1, err);
        idx[i] = i;
    }
    geoloc_predict_options opt = geoloc_predict_options_default();
    opt.top_k = 1;
    for (size_t j = 0; s == GEOLOC_OK && j < albums->n_albums; j++) {
        size_t at = albums->start[j], len = albums->start[j + 1] - at;
        geoloc_prediction pred;
        s = geoloc_album_answer(store, idx + at, len, (geoloc_album_method)method, &opt, &pred, NULL, err);
        for (size_t i = 0; s == GEOLOC_OK && i < len; i++)
            km[at + i] = geoloc_haversine_km(pred.lat, pred.lon, lat[albums->rows[at + i]], lng[albums->rows[at + i]]);
    }
    geoloc_album_probs_free(store);
    free(scene);
    free(z);
    free(idx);
    return s;
}
