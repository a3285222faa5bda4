/* Validation: the hierarchical Class2GPS answer of the answer module (the
 * finest partition's class k scored p_fine(k) * prod_c p_c(ancestor_c(k)),
 * answered with the mean location of its training photos), the distance summary over the
 * validation photos in either mode (heads: the cached features of the three
 * crops; full: the three crops through the network in inference mode, their
 * probabilities averaged), and the two baselines on the cached features: the
 * training photos' most populated finest cell, and the nearest training
 * photo in feature space (cosine of the three crops' mean features). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "geoloc/distance.h"
#include "geoloc/dist.h"
#include "train/internal.h"


void train_geo_probs(const geoloc_model *m, const train_data *d, const float *const *probs, const float **geo,
                     float *mix) {
    for (size_t p = 0; p < d->n_parts; p++) geo[p] = probs[train_head(d, TRAIN_HEAD_GEO, p)];
    if (!d->n_isn) return;
    const float *isn[TRAIN_MAX_HEADS];
    float *rows[TRAIN_MAX_PARTS];
    double s3[TRAIN_MAX_HEADS], weight[TRAIN_MAX_HEADS];
    for (size_t p = 0, off = 0; p < d->n_parts; off += (size_t)d->classes[p], p++) rows[p] = mix + off;
    for (size_t k = 0; k < d->n_isn * d->n_parts; k++) isn[k] = probs[train_head(d, TRAIN_HEAD_ISN, k)];
    const float *p3 = probs[train_head(d, TRAIN_HEAD_SCENE, GEOLOC_SCENE_LEVEL_S3)];
    for (size_t k = 0; k < d->n_isn; k++) s3[k] = p3[k];
    geoloc_isn_weights(GEOLOC_ISN_SOFT, s3, d->n_isn, weight);
    geoloc_isn_mix(m, isn, weight, 1, rows);
    for (size_t p = 0; p < d->n_parts; p++) geo[p] = rows[p];
}

size_t train_geo_mix_size(const train_data *d) {
    size_t total = 0;
    for (size_t p = 0; d->n_isn && p < d->n_parts; p++) total += (size_t)d->classes[p];
    return total;
}

/* The one place where class probabilities become an answer during training:
 * the same module as prediction, on one view of averaged probabilities. */
geoloc_status train_answer(const geoloc_model *m, const train_data *d, const float *const *probs, double *lat,
                           double *lng, geoloc_error *err) {
    const float *geo[TRAIN_MAX_PARTS];
    float *mix = d->n_isn ? malloc(train_geo_mix_size(d) * sizeof *mix) : NULL;
    if (d->n_isn && !mix) return error_set(err, GEOLOC_E_NOMEM, "out of memory");
    train_geo_probs(m, d, probs, geo, mix);
    geoloc_prediction pred;
    geoloc_status s = geoloc_answer_from_probs(m, geo, NULL, 1, -1, 1, &pred, NULL, err);
    free(mix);
    if (s != GEOLOC_OK) return s;
    *lat = pred.lat;
    *lng = pred.lon;
    return GEOLOC_OK;
}

/* Adds validation photo i's scene answers (argmax of each level's probabilities) to
 * hit / seen (per level). */
static void count_scenes(const train_data *c, size_t k, const float *const *probs, long *hit, long *seen) {
    for (int l = 0; l < GEOLOC_SCENE_LEVELS; l++) {
        int h = c->scene_head[l];
        if (h < 0 || c->label[h][k] < 0) continue;
        int best = 0;
        for (int j = 1; j < c->classes[h]; j++)
            if (probs[h][j] > probs[h][best]) best = j;
        seen[l]++;
        hit[l] += best == c->label[h][k];
    }
}

static void scene_accuracy(const long *hit, const long *seen, double *acc) {
    for (int l = 0; l < GEOLOC_SCENE_LEVELS; l++) acc[l] = seen[l] ? (double)hit[l] / (double)seen[l] : NAN;
}

/* Summary of the great-circle errors of answers for the validation photos. */
static geoloc_status val_summary(const train_data *c, const double *lat, const double *lng, const uint8_t *skip,
                                 geoloc_distance_summary *out, geoloc_error *err) {
    if (c->n_parts == 0) { /* a scene classifier: no distances */
        memset(out, 0, sizeof *out);
        return GEOLOC_OK;
    }
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

/* ---- validation of either mode ---- */

geoloc_status train_validate_heads(const train_heads *H, geoloc_distance_summary *out, double *scene_acc,
                                   geoloc_error *err) {
    const train_data *c = H->d;
    double *lat = malloc(c->n_val * sizeof *lat), *lng = malloc(c->n_val * sizeof *lng);
    uint8_t *skip = malloc(c->n_val);
    int failed = !lat || !lng || !skip, refused = 0;
    long hit0 = 0, hit1 = 0, hit2 = 0, seen0 = 0, seen1 = 0, seen2 = 0;
    geoloc_error answer_err = {0};
    if (!failed) {
#pragma omp parallel reduction(| : failed, refused) reduction(+ : hit0, hit1, hit2, seen0, seen1, seen2)
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
                skip[i] = !H->f->ok[k];
                if (!buf || skip[i]) continue;
                train_heads_predict(H, k, buf + total + H->classes_max, probs, buf + total);
                long hit[GEOLOC_SCENE_LEVELS] = {0}, seen[GEOLOC_SCENE_LEVELS] = {0};
                count_scenes(c, k, (const float *const *)probs, hit, seen);
                hit0 += hit[0], hit1 += hit[1], hit2 += hit[2], seen0 += seen[0], seen1 += seen[1], seen2 += seen[2];
                geoloc_error e;
                if (c->n_parts && train_answer(H->model, c, (const float *const *)probs, &lat[i], &lng[i], &e) != GEOLOC_OK) {
                    refused = 1;
#pragma omp critical
                    answer_err = e;
                }
            }
            free(buf);
        }
    }
    geoloc_status s = failed    ? error_set(err, GEOLOC_E_NOMEM, "out of memory")
                      : refused ? error_set(err, answer_err.status, "validation: %s", answer_err.message)
                                : val_summary(c, lat, lng, skip, out, err);
    long hit[GEOLOC_SCENE_LEVELS] = {hit0, hit1, hit2}, seen[GEOLOC_SCENE_LEVELS] = {seen0, seen1, seen2};
    scene_accuracy(hit, seen, scene_acc);
    free(lat);
    free(lng);
    free(skip);
    return s;
}

static void answer_photo(void *ctx, size_t k, int view0, int views, const geoloc_exec *ex, int first) {
    train_full *F = ctx;
    const train_data *c = F->d;
    (void)view0;
    for (size_t h = 0; h < c->n_heads; h++) {
        int C = c->classes[h];
        memset(F->probs[h], 0, (size_t)C * sizeof(float));
        for (int v = 0; v < views; v++) {
            geoloc_softmax(geoloc_exec_logits(ex, h) + (size_t)(first + v) * C, 1, (size_t)C, F->tmp);
            for (int j = 0; j < C; j++) F->probs[h][j] += F->tmp[j] / (float)views;
        }
    }
    geoloc_error e;
    count_scenes(c, c->val[F->val_first + k], (const float *const *)F->probs, F->scene_hit, F->scene_seen);
    k += F->val_first;
    if (c->n_parts && train_answer(F->m->model, c, (const float *const *)F->probs, &F->lat[k], &F->lng[k], &e) != GEOLOC_OK &&
        F->answer_err.status == GEOLOC_OK)
        F->answer_err = e;
}

geoloc_status train_validate_full(train_full *F, geoloc_distance_summary *out, double *scene_acc,
                                  geoloc_error *err) {
    const train_data *c = F->d;
    size_t n;
    geoloc_dist_part(c->n_val, geoloc_dist_rank(), geoloc_dist_size(), &F->val_first, &n);
    memset(F->failed, 0, c->n_val);
    memset(F->lat, 0, c->n_val * sizeof *F->lat);
    memset(F->lng, 0, c->n_val * sizeof *F->lng);
    F->answer_err = (geoloc_error){0};
    memset(F->scene_hit, 0, sizeof F->scene_hit);
    memset(F->scene_seen, 0, sizeof F->scene_seen);
    geoloc_exec_params_changed(F->infer_ex);
    uint64_t images = F->r->run_images;
    geoloc_status s = train_run_three(F->r, c, F->m->norm, F->infer_ex, TRAIN_VAL_PHOTOS, 3, c->val + F->val_first,
                                      n, answer_photo, F, F->failed + F->val_first, NULL, 0, err);
    F->r->run_images = images; /* images/s counts training images */
    if (s == GEOLOC_OK && F->answer_err.status != GEOLOC_OK)
        s = error_set(err, F->answer_err.status, "validation: %s", F->answer_err.message);
    if ((s = geoloc_dist_agree(s, err)) != GEOLOC_OK) return s;
    if (geoloc_dist_size() > 1) { /* each rank answered its part: the others' entries are zero */
        for (size_t i = 0; i < c->n_val; i++) F->val_flag[i] = F->failed[i];
        if ((s = geoloc_dist_sum_f64(F->lat, c->n_val, err)) != GEOLOC_OK ||
            (s = geoloc_dist_sum_f64(F->lng, c->n_val, err)) != GEOLOC_OK ||
            (s = geoloc_dist_sum_f64(F->val_flag, c->n_val, err)) != GEOLOC_OK)
            return s;
        for (size_t i = 0; i < c->n_val; i++) F->failed[i] = F->val_flag[i] != 0;
        double counts[2 * GEOLOC_SCENE_LEVELS];
        for (int l = 0; l < GEOLOC_SCENE_LEVELS; l++) {
            counts[l] = (double)F->scene_hit[l];
            counts[GEOLOC_SCENE_LEVELS + l] = (double)F->scene_seen[l];
        }
        if ((s = geoloc_dist_sum_f64(counts, 2 * GEOLOC_SCENE_LEVELS, err)) != GEOLOC_OK) return s;
        for (int l = 0; l < GEOLOC_SCENE_LEVELS; l++) {
            F->scene_hit[l] = (long)counts[l];
            F->scene_seen[l] = (long)counts[GEOLOC_SCENE_LEVELS + l];
        }
    }
    scene_accuracy(F->scene_hit, F->scene_seen, scene_acc);
    return val_summary(c, F->lat, F->lng, F->failed, out, err);
}

/* ---- the baselines ---- */

/* Mean of views 0-2 of photo k, scaled to unit length, into out. */
static void mean_unit(const train_features *ft, size_t k, float *out) {
    int dim = ft->dim;
    const float *f = ft->feat + (size_t)k * ft->views * dim;
    double norm = 0;
    for (int d = 0; d < dim; d++) {
        out[d] = (f[d] + f[dim + d] + f[2 * dim + d]) / 3.0f;
        norm += (double)out[d] * out[d];
    }
    float inv = norm > 0 ? (float)(1.0 / sqrt(norm)) : 0.0f;
    for (int d = 0; d < dim; d++) out[d] *= inv;
}

static void report_baseline(const train_run *c, const char *name, const geoloc_distance_summary *sum) {
    geoloc_train_event ev = {.kind = GEOLOC_TRAIN_EV_BASELINE, .message = name, .val = sum};
    train_report(c, &ev);
}

geoloc_status train_baselines(train_run *r, const train_data *c, const train_features *ft, geoloc_error *err) {
    if (c->n_val == 0) return error_set(err, GEOLOC_E_ARG, "baselines need validation photos");
    size_t f = c->n_parts - 1, dim = (size_t)ft->dim;
    int finest_head = train_head(c, TRAIN_HEAD_GEO, f);
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
    for (size_t i = 0; i < c->n_val; i++) skip[i] = !ft->ok[c->val[i]];
    /* (a) the most populated finest cell of the training photos */
    for (size_t i = 0; i < c->n_train; i++) {
        int32_t l = c->label[finest_head][c->train[i]];
        if (l >= 0) count[l]++;
    }
    size_t top = 0;
    for (size_t k = 1; k < fine->n; k++)
        if (count[k] > count[top]) top = k;
    for (size_t i = 0; i < c->n_val; i++) {
        lat[i] = fine->lat[top];
        lng[i] = fine->lng[top];
    }
    if ((s = val_summary(c, lat, lng, skip, &r->res->baseline_cell, err)) != GEOLOC_OK) goto done;
    report_baseline(r, "most populated cell", &r->res->baseline_cell);
    /* (b) the nearest training photo (cosine similarity of mean three-crop features) */
    size_t nt = 0;
    for (size_t i = 0; i < c->n_train; i++) {
        if (!ft->ok[c->train[i]]) continue;
        mean_unit(ft, c->train[i], train + nt * dim);
        train_k[nt++] = c->train[i];
    }
    if (nt == 0) {
        s = error_set(err, GEOLOC_E_EMPTY, "no training photo could be read");
        goto done;
    }
    for (size_t i = 0; i < c->n_val; i++) {
        if (skip[i]) continue;
        mean_unit(ft, c->val[i], q);
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
    if ((s = val_summary(c, lat, lng, skip, &r->res->baseline_nn, err)) != GEOLOC_OK) goto done;
    report_baseline(r, "nearest training photo (1-NN, cosine)", &r->res->baseline_nn);
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
