/* Validation: the hierarchical Class2GPS answer (the finest partition's
 * class k scored p_fine(k) * prod_c p_c(ancestor_c(k)), answered with the
 * mean location of its training photos), the distance summary over the
 * validation photos, and the two baselines on the cached features: the
 * training photos' most populated finest cell, and the nearest training
 * photo in feature space (cosine of the three crops' mean features). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "geoloc/distance.h"
#include "model/train_internal.h"

void train_answer(const train_ctx *c, const float *const *probs, double *lat, double *lng) {
    size_t f = c->n_parts - 1;
    const geoloc_partition *fine = c->part[f];
    size_t best = 0;
    double best_score = -1;
    for (size_t k = 0; k < fine->n; k++) {
        double score = probs[f][k];
        for (size_t p = 0; p < f; p++) {
            int32_t a = c->anc[p][k];
            if (a >= 0) score *= probs[p][a];
        }
        if (score > best_score) {
            best_score = score;
            best = k;
        }
    }
    *lat = fine->lat[best];
    *lng = fine->lng[best];
}

geoloc_status train_val_summary(const train_ctx *c, const double *lat, const double *lng,
                                const uint8_t *skip, geoloc_distance_summary *out,
                                geoloc_error *err) {
    double *km = malloc((c->n_val ? c->n_val : 1) * sizeof *km);
    if (!km) return error_set(err, GEOLOC_E_NOMEM, "out of memory");
    size_t n = 0;
    for (size_t i = 0; i < c->n_val; i++) {
        if (skip && skip[i]) continue;
        const geoloc_manifest_row *r = c->row[c->val[i]];
        km[n++] = geoloc_haversine_km(r->lat, r->lng, lat[i], lng[i]);
    }
    geoloc_status s = geoloc_distance_summarize(km, n, out, err);
    free(km);
    return s;
}

/* Mean of views 0-2 of photo k, scaled to unit length, into out. */
static void mean_unit(const train_ctx *c, size_t k, float *out) {
    int dim = c->feat_dim;
    const float *f = c->feat + (size_t)k * c->feat_views * dim;
    double norm = 0;
    for (int d = 0; d < dim; d++) {
        out[d] = (f[d] + f[dim + d] + f[2 * dim + d]) / 3.0f;
        norm += (double)out[d] * out[d];
    }
    float inv = norm > 0 ? (float)(1.0 / sqrt(norm)) : 0.0f;
    for (int d = 0; d < dim; d++) out[d] *= inv;
}

static void report_baseline(train_ctx *c, const char *name, const geoloc_distance_summary *sum) {
    geoloc_train_event ev = {.kind = GEOLOC_TRAIN_EV_BASELINE, .message = name, .val = sum};
    train_report(c, &ev);
}

geoloc_status train_baselines(train_ctx *c, geoloc_error *err) {
    if (c->n_val == 0) return error_set(err, GEOLOC_E_ARG, "baselines need validation photos");
    size_t f = c->n_parts - 1, dim = (size_t)c->feat_dim;
    const geoloc_partition *fine = c->part[f];
    double *lat = malloc(c->n_val * sizeof *lat), *lng = malloc(c->n_val * sizeof *lng);
    uint64_t *count = calloc(fine->n, sizeof *count);
    uint8_t *skip = calloc(c->n_val, 1);
    float *train = malloc(c->n_train * dim * sizeof *train), *q = malloc(dim * sizeof *q);
    size_t *train_k = malloc(c->n_train * sizeof *train_k);
    geoloc_status s = GEOLOC_OK;
    if (!lat || !lng || !count || !skip || !train || !q || !train_k) {
        s = error_set(err, GEOLOC_E_NOMEM, "out of memory");
        goto done;
    }
    for (size_t i = 0; i < c->n_val; i++) skip[i] = !c->feat_ok[c->val[i]];
    /* (a) the most populated finest cell of the training photos */
    for (size_t i = 0; i < c->n_train; i++) {
        int32_t l = c->label[f][c->train[i]];
        if (l >= 0) count[l]++;
    }
    size_t top = 0;
    for (size_t k = 1; k < fine->n; k++)
        if (count[k] > count[top]) top = k;
    for (size_t i = 0; i < c->n_val; i++) {
        lat[i] = fine->lat[top];
        lng[i] = fine->lng[top];
    }
    if ((s = train_val_summary(c, lat, lng, skip, &c->res->baseline_cell, err)) != GEOLOC_OK) goto done;
    report_baseline(c, "most populated cell", &c->res->baseline_cell);
    /* (b) the nearest training photo (cosine similarity of mean three-crop features) */
    size_t nt = 0;
    for (size_t i = 0; i < c->n_train; i++) {
        if (!c->feat_ok[c->train[i]]) continue;
        mean_unit(c, c->train[i], train + nt * dim);
        train_k[nt++] = c->train[i];
    }
    if (nt == 0) {
        s = error_set(err, GEOLOC_E_EMPTY, "no training photo could be read");
        goto done;
    }
    for (size_t i = 0; i < c->n_val; i++) {
        if (skip[i]) continue;
        mean_unit(c, c->val[i], q);
        size_t best = 0;
        float best_sim = -2;
        for (size_t j = 0; j < nt; j++) {
            const float *t = train + j * dim;
            float sim = 0;
#pragma omp simd reduction(+ : sim)
            for (size_t d = 0; d < dim; d++) sim += q[d] * t[d];
            if (sim > best_sim) {
                best_sim = sim;
                best = j;
            }
        }
        lat[i] = c->row[train_k[best]]->lat;
        lng[i] = c->row[train_k[best]]->lng;
    }
    if ((s = train_val_summary(c, lat, lng, skip, &c->res->baseline_nn, err)) != GEOLOC_OK) goto done;
    report_baseline(c, "nearest training photo (1-NN, cosine)", &c->res->baseline_nn);
done:
    free(lat);
    free(lng);
    free(count);
    free(skip);
    free(train);
    free(q);
    free(train_k);
    return s;
}
