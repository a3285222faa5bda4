/* Scores -> answer: from the softmax outputs of a model's heads for one
 * photo's crops to its answer. The crops' probabilities are averaged; the
 * hierarchical score of a cell of the finest partition is its probability
 * times the probabilities of its ancestor cells in the coarser partitions,
 * normalised over the fine cells (Müller-Budack et al., ECCV 2018); the
 * single-partition score is that partition's averaged probability. The top
 * cells carry their training photos' mean location (Class2GPS); the scene is
 * the scene head's argmax. Heads are found by role (geoloc_model_head), never
 * by position. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "geoloc/calibration.h"
#include "geoloc/model.h"
#include "model/model_internal.h"

int geoloc_model_head(const geoloc_model *m, geoloc_head_role role, size_t k) {
    char name[GEOLOC_NN_HEAD_NAME];
    if (role == GEOLOC_HEAD_GEO ? k >= m->n_partitions
        : role == GEOLOC_HEAD_SCENE ? k >= GEOLOC_SCENE_LEVELS || !m->scene_classes[k]
        : role == GEOLOC_HEAD_ISN ? k >= m->n_isn * m->n_partitions : 1)
        return -1;
    model_head_name(m, role, k, name, sizeof name);
    for (size_t h = 0; h < m->config.n_heads; h++)
        if (!strcmp(m->config.heads[h].name, name)) return (int)h;
    return -1;
}

int geoloc_model_find_partition(const geoloc_model *m, const char *text) {
    if (!text || !strcmp(text, "hierarchical")) return -1;
    for (size_t f = 0; f < m->n_partitions; f++)
        if (!strcmp(m->partition_names[f], text)) return (int)f;
    char *end;
    long v = strtol(text, &end, 10);
    return end != text && !*end && v >= 0 && v < (long)m->n_partitions ? (int)v : -2;
}

int answer_average_crops(const float *rows, size_t n_crops, size_t classes, double *mean) {
    size_t used = n_crops;
#ifdef GEOLOC_MUTANT_ONE_CROP
    used = 1; /* mutant for the learning tests: crop averaging sees only the first crop */
#endif
    for (size_t k = 0; k < classes; k++) {
        double sum = 0;
        for (size_t c = 0; c < used; c++) {
            double v = rows[c * classes + k];
            if (!(v >= 0 && v <= 1)) return -1; /* also NaN */
            sum += v;
        }
        mean[k] = sum / (double)used;
    }
    return 0;
}

/* Keeps top[0..*n) sorted by descending score (ties: lower class first). */
static void top_insert(int *top, double *val, int *n, int k, int cls, double v) {
    if (*n == k && !(v > val[k - 1])) return;
    int j = *n < k ? (*n)++ : k - 1;
    while (j > 0 && v > val[j - 1]) {
        top[j] = top[j - 1];
        val[j] = val[j - 1];
        j--;
    }
    top[j] = cls;
    val[j] = v;
}

/* score[k] for the answering partition f: p_f(k), times the ancestors' when
 * hierarchical, normalised. mean[c]: partition c's averaged probabilities. */
static void scores(const geoloc_model *m, double *const *mean, size_t f, int hierarchical, double *score) {
    size_t n = m->partitions[f]->n;
    double total = 0;
    for (size_t k = 0; k < n; k++) {
        double v = mean[f][k];
#ifndef GEOLOC_MUTANT_NO_ANCESTORS /* mutant for the learning tests: the finest probability alone */
        for (size_t c = 0; hierarchical && c < f; c++) {
            int32_t a = m->ancestor[f][c][k];
            if (a >= 0) v *= mean[c][a];
        }
#else
        (void)hierarchical;
#endif
        score[k] = v;
        total += v;
    }
    if (total > 0)
        for (size_t k = 0; k < n; k++) score[k] /= total;
    else /* every product underflowed: the fine partition's own probabilities */
        for (size_t k = 0; k < n; k++) score[k] = mean[f][k];
}

geoloc_status geoloc_answer_from_probs(const geoloc_model *m, const float *const *geo_probs,
                                       const float *scene_probs, size_t n_crops, int partition,
                                       int top_k, geoloc_prediction *out, float *distribution,
                                       geoloc_error *err) {
    return answer_from_probs_calibrated(m, m ? m->calibration : NULL, geo_probs, scene_probs, n_crops, partition,
                                        top_k, out, distribution, err);
}

geoloc_status answer_from_probs_calibrated(const geoloc_model *m, const geoloc_calibration *calibration,
                                           const float *const *geo_probs, const float *scene_probs, size_t n_crops,
                                           int partition, int top_k, geoloc_prediction *out, float *distribution,
                                           geoloc_error *err) {
    if (!m || !geo_probs || !out || n_crops < 1 || partition < -1 || partition >= (int)m->n_partitions ||
        top_k < 1 || top_k > GEOLOC_MODEL_MAX_TOP || (scene_probs && m->n_scenes == 0))
        return error_set(err, GEOLOC_E_ARG, "answer: bad arguments (partition %d of %zu, top %d, %zu crops)",
                         partition, m ? m->n_partitions : 0, top_k, n_crops);
    int hierarchical = partition < 0;
    size_t f = hierarchical ? m->n_partitions - 1 : (size_t)partition, total = 0;
    size_t first = hierarchical ? 0 : f;
    for (size_t c = first; c <= f; c++) total += m->partitions[c]->n;
    size_t n = m->partitions[f]->n, tail = n > m->n_scenes ? n : m->n_scenes;
    double *buf = malloc((total + tail) * sizeof *buf), *mean[GEOLOC_MODEL_MAX_PARTITIONS] = {0};
    if (!buf) return error_set(err, GEOLOC_E_NOMEM, "out of memory");
    double *next = buf;
    for (size_t c = first; c <= f; c++) {
        mean[c] = next;
        next += m->partitions[c]->n;
        if (!geo_probs[c] || answer_average_crops(geo_probs[c], n_crops, m->partitions[c]->n, mean[c]) != 0) {
            free(buf);
            return error_set(err, GEOLOC_E_RANGE, "partition %s: %s", m->partition_names[c],
                             geo_probs[c] ? "a probability that is not a finite number in [0, 1] (are the "
                                            "model's weights finite?)" : "no probabilities given");
        }
    }
    double *score = next;
    scores(m, mean, f, hierarchical, score);
    const geoloc_calibration *cal = hierarchical || m->n_partitions == 1 ? calibration : NULL;
    float *tempered = cal ? malloc(n * sizeof *tempered) : NULL;
    if (cal && !tempered) {
        free(buf);
        return error_set(err, GEOLOC_E_NOMEM, "out of memory");
    }
    if (cal) { /* the calibrated scores: tempered */
        for (size_t k = 0; k < n; k++) tempered[k] = (float)score[k];
        geoloc_calibration_temper(tempered, n, cal->temperature);
        for (size_t k = 0; k < n; k++) score[k] = tempered[k];
    }
    int top[GEOLOC_MODEL_MAX_TOP], n_top = 0, want = top_k < (int)n ? top_k : (int)n;
    double val[GEOLOC_MODEL_MAX_TOP];
    for (size_t k = 0; k < n; k++) top_insert(top, val, &n_top, want, (int)k, score[k]);
    memset(out, 0, sizeof *out);
    out->partition = (int)f;
    out->n_top = n_top;
    for (int r = 0; r < n_top; r++) {
        geoloc_cell_guess *g = &out->top[r];
        g->cls = top[r];
        g->cell = m->partitions[f]->cell[top[r]];
        g->lat = m->partitions[f]->lat[top[r]];
        g->lon = m->partitions[f]->lng[top[r]];
        g->prob = (float)val[r];
    }
    out->lat = out->top[0].lat;
    out->lon = out->top[0].lon;
    for (size_t l = 0; l < GEOLOC_SCENE_LEVELS; l++) out->scene[l] = -1;
    if (cal) {
        out->calibrated = 1;
        out->radius_km[0] = geoloc_calibration_radius(m->partitions[f], tempered, out->lat, out->lon, cal->q50);
        out->radius_km[1] = geoloc_calibration_radius(m->partitions[f], tempered, out->lat, out->lon, cal->q90);
        out->unknown = out->radius_km[0] > cal->max_radius_km;
        free(tempered);
    }
    if (distribution)
        for (size_t k = 0; k < n; k++) distribution[k] = (float)score[k];
    geoloc_status s = GEOLOC_OK;
    if (scene_probs) { /* the scene's average reuses the score buffer */
        if (answer_average_crops(scene_probs, n_crops, m->n_scenes, score) != 0)
            s = error_set(err, GEOLOC_E_RANGE, "scene head: a probability that is not a finite number in "
                          "[0, 1] (are the model's weights finite?)");
        for (size_t l = 0; s == GEOLOC_OK && l < GEOLOC_SCENE_LEVELS; l++) {
            const double *level = score + m->scene_offset[l];
            for (size_t k = 0; k < m->scene_classes[l]; k++)
                if (k == 0 || level[k] > level[out->scene[l]]) out->scene[l] = (int)k;
            if (out->scene[l] >= 0) out->scene_prob[l] = (float)level[out->scene[l]];
        }
    }
    free(buf);
    return s;
}

void geoloc_isn_weights(geoloc_isn_routing routing, const double *s3_probs, size_t n, double *weight) {
    size_t best = 0;
    for (size_t s = 0; s < n; s++) {
        weight[s] = routing == GEOLOC_ISN_HARD ? 0 : s3_probs[s];
        if (s3_probs[s] > s3_probs[best]) best = s;
    }
    if (routing == GEOLOC_ISN_HARD && n) weight[best] = 1;
}

void geoloc_isn_mix(const geoloc_model *m, const float *const *isn, const double *weight, size_t n_crops,
                    float *const *geo) {
    for (size_t f = 0; f < m->n_partitions; f++) {
        size_t n = n_crops * m->partitions[f]->n;
        for (size_t k = 0; k < n; k++) {
            double sum = 0;
            for (size_t s = 0; s < m->n_isn; s++)
                if (weight[s] != 0) sum += weight[s] * isn[s * m->n_partitions + f][k];
            geo[f][k] = (float)sum;
        }
    }
}
