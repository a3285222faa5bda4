/* Calibration at the end of heads training (geoloc/calibration.h): the
 * validation photos' hierarchical distributions from the trained heads on
 * the cached features of their three crops, their truth and their crops'
 * mean raw features, fitted into the model's calibration before it is saved. */
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "geoloc/calibration.h"
#include "train/internal.h"

geoloc_status train_calibrate_heads(const train_heads *H, geoloc_model *model, geoloc_error *err) {
    const train_data *c = H->d;
    size_t f = model->n_partitions - 1, classes = model->partitions[f]->n, total = 0, n = 0;
    for (size_t h = 0; h < H->n_heads; h++) total += (size_t)c->classes[h];
    float *buf = malloc((total + (size_t)H->classes_max + (size_t)H->dim) * sizeof *buf);
    float *dist = malloc(c->n_val * classes * sizeof *dist);
    float *feat = malloc(c->n_val * (size_t)H->dim * sizeof *feat);
    double *lat = malloc(c->n_val * sizeof *lat), *lon = malloc(c->n_val * sizeof *lon);
    geoloc_status s = GEOLOC_OK;
    if (!buf || !dist || !feat || !lat || !lon) s = error_set(err, GEOLOC_E_NOMEM, "out of memory");
    float *probs[TRAIN_MAX_HEADS];
    for (size_t h = 0, off = 0; s == GEOLOC_OK && h < H->n_heads; off += (size_t)c->classes[h], h++)
        probs[h] = buf + off;
    for (size_t i = 0; s == GEOLOC_OK && i < c->n_val; i++) {
        size_t k = c->val[i];
        if (!H->f->ok[k]) continue;
        train_heads_predict(H, k, buf + total + H->classes_max, probs, buf + total);
        const float *geo[TRAIN_MAX_PARTS];
        for (size_t p = 0; p < c->n_parts; p++) geo[p] = probs[train_head(c, TRAIN_HEAD_GEO, p)];
        geoloc_prediction pred;
        s = geoloc_answer_from_probs(model, geo, NULL, 1, -1, 1, &pred, dist + n * classes, err);
        const float *x = H->f->feat + k * (size_t)H->f->views * (size_t)H->dim;
        for (int j = 0; j < H->dim; j++) /* the three crops' mean, as prediction averages them */
            feat[n * (size_t)H->dim + (size_t)j] = (x[j] + x[H->dim + j] + x[2 * H->dim + j]) / 3.0f;
        lat[n] = c->row[k]->lat;
        lon[n] = c->row[k]->lng;
        n++;
    }
    geoloc_calibration *cal = NULL;
    geoloc_calibration_data cd = {.part = model->partitions[f], .dist = dist, .lat = lat, .lon = lon,
                                  .features = feat, .n = n, .classes = classes, .dim = H->dim};
    if (s == GEOLOC_OK) s = geoloc_calibration_fit(&cd, &cal, err);
    if (s == GEOLOC_OK) {
        geoloc_calibration_free(model->calibration);
        model->calibration = cal;
    }
    free(buf);
    free(dist);
    free(feat);
    free(lat);
    free(lon);
    return s;
}
