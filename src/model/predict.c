/* Prediction with a geolocation model: each photo's crops (the paper's three
 * squares along the longer side, five crops or the center) go through the
 * network in one batch, and the softmax of every head goes to the answer
 * module (answer.c: crop averaging, hierarchical or single-partition scores,
 * top-k, Class2GPS, scene). The scene levels' outputs are put side by side
 * in one row per crop; a model with Individual Scene Networks has its geo
 * outputs routed first (geoloc_isn_mix). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "geoloc/calibration.h"
#include "geoloc/model.h"
#include "geoloc/transform.h"
#include "model/model_internal.h"

struct geoloc_predictor {
    const geoloc_model *m;
    geoloc_predict_options opt;
    int crops, batch, size, resize_side;
    int answer;                         /* partition answering */
    geoloc_exec *ex;
    geoloc_transformer *tf;
    float *input;                       /* batch x crops x 3 x size x size */
    size_t n_heads;
    float *probs[GEOLOC_NN_MAX_HEADS];  /* batch x crops x classes, by network head */
    int geo_head[GEOLOC_MODEL_MAX_PARTITIONS];     /* network head of each role */
    int scene_head[GEOLOC_SCENE_LEVELS];
    int isn_head[GEOLOC_NN_MAX_HEADS];  /* ISN scene s, partition f: k = s * n_partitions + f */
    float *scene;                       /* batch x crops x m->n_scenes: every level side by side */
    float *routed[GEOLOC_MODEL_MAX_PARTITIONS]; /* ISN models: batch x crops x classes, as routed */
};

geoloc_predict_options geoloc_predict_options_default(void) {
    return (geoloc_predict_options){.crops = GEOLOC_CROPS_THREE, .partition = -1, .top_k = 5, .batch = 8};
}

int geoloc_predict_crop_count(geoloc_crop_mode crops) {
    return crops == GEOLOC_CROPS_FIVE ? 5 : crops == GEOLOC_CROPS_CENTER ? 1 : 3;
}

int geoloc_predict_min_side(const geoloc_model *m, geoloc_crop_mode crops) {
    return crops == GEOLOC_CROPS_THREE ? m->image_size : m->image_size * 256 / 224;
}

void geoloc_predictor_params_changed(geoloc_predictor *p) { geoloc_exec_params_changed(p->ex); }

void geoloc_predictor_free(geoloc_predictor *p) {
    if (!p) return;
    geoloc_exec_free(p->ex);
    geoloc_transformer_destroy(p->tf);
    free(p->input);
    for (size_t h = 0; h < p->n_heads; h++) free(p->probs[h]);
    free(p->scene);
    for (size_t f = 0; f < GEOLOC_MODEL_MAX_PARTITIONS; f++) free(p->routed[f]);
    free(p);
}

/* Hierarchical prediction needs an ancestor for every fine cell at every level. */
static geoloc_status check_hierarchy(const geoloc_model *m, geoloc_error *err) {
    size_t f = m->n_partitions - 1;
    for (size_t c = 0; c < f; c++) {
        size_t orphans = 0;
        for (size_t k = 0; k < m->partitions[f]->n; k++) orphans += m->ancestor[f][c][k] < 0;
        if (orphans)
            return error_set(err, GEOLOC_E_ARG, "hierarchical prediction: %zu cell%s of %s lie%s in no cell "
                             "of %s; predict with one partition instead", orphans, orphans == 1 ? "" : "s",
                             m->partition_names[f], orphans == 1 ? "s" : "", m->partition_names[c]);
    }
    return GEOLOC_OK;
}

geoloc_status geoloc_predictor_create(const geoloc_model *m, const geoloc_predict_options *opt,
                                      geoloc_predictor **out, geoloc_error *err) {
    *out = NULL;
    geoloc_predict_options o = opt ? *opt : geoloc_predict_options_default();
    if (!m || !m->net)
        return error_set(err, GEOLOC_E_ARG, "prediction needs a model with its network (geoloc_model_load)");
    if (m->n_partitions == 0 && m->n_scenes == 0)
        return error_set(err, GEOLOC_E_ARG, "the model has neither partitions nor scene heads");
    if ((unsigned)o.isn > GEOLOC_ISN_NONE) return error_set(err, GEOLOC_E_ARG, "unknown ISN routing %d", (int)o.isn);
    if (o.crops != GEOLOC_CROPS_THREE && o.crops != GEOLOC_CROPS_FIVE && o.crops != GEOLOC_CROPS_CENTER)
        return error_set(err, GEOLOC_E_ARG, "unknown crop mode %d", (int)o.crops);
    if (o.partition < -1 || (m->n_partitions && o.partition >= (int)m->n_partitions))
        return error_set(err, GEOLOC_E_ARG, "partition %d: the model has %zu (0-%zu, or -1: hierarchical)",
                         o.partition, m->n_partitions, m->n_partitions - 1);
    if (o.top_k < 1 || o.top_k > GEOLOC_MODEL_MAX_TOP)
        return error_set(err, GEOLOC_E_ARG, "top %d: 1 to %d cells", o.top_k, GEOLOC_MODEL_MAX_TOP);
    if (o.batch < 1 || o.batch > 1024) return error_set(err, GEOLOC_E_ARG, "batch %d: 1 to 1024", o.batch);
    if ((unsigned)o.precision > GEOLOC_PRECISION_CALIBRATE)
        return error_set(err, GEOLOC_E_ARG, "unknown precision %d", (int)o.precision);
    if (o.precision == GEOLOC_PRECISION_INT8 && !geoloc_net_has_int8_ranges(m->net))
        return error_set(err, GEOLOC_E_ARG, "precision int8: the model has no int8 calibration; "
                         "geoloc model quantize makes a model that has it");
    if (o.partition >= 0 && m->n_partitions == 0)
        return error_set(err, GEOLOC_E_ARG, "partition %d: a scene classifier has no partitions", o.partition);
    geoloc_status s = o.partition < 0 && m->n_partitions > 1 ? check_hierarchy(m, err) : GEOLOC_OK;
    if (s != GEOLOC_OK) return s;
    const geoloc_resnet_config *cfg = geoloc_net_config(m->net);
    int geo_head[GEOLOC_MODEL_MAX_PARTITIONS], scene_head[GEOLOC_SCENE_LEVELS];
    for (size_t f = 0; f < m->n_partitions; f++) {
        geo_head[f] = geoloc_model_head(m, GEOLOC_HEAD_GEO, f);
        if (geo_head[f] < 0 || cfg->heads[geo_head[f]].classes != (int)m->partitions[f]->n)
            return error_set(err, GEOLOC_E_ARG, "the network has no head of %zu classes for partition %s",
                             m->partitions[f]->n, m->partition_names[f]);
    }
    for (int l = 0; l < GEOLOC_SCENE_LEVELS; l++) {
        scene_head[l] = geoloc_model_head(m, GEOLOC_HEAD_SCENE, (size_t)l);
        if (m->scene_classes[l] && (scene_head[l] < 0 || cfg->heads[scene_head[l]].classes != (int)m->scene_classes[l]))
            return error_set(err, GEOLOC_E_ARG, "the network has no %s scene head of %zu classes",
                             geoloc_scene_level_name(l), m->scene_classes[l]);
    }
    int isn_head[GEOLOC_NN_MAX_HEADS];
    for (size_t k = 0; k < m->n_isn * m->n_partitions; k++) {
        int h = isn_head[k] = geoloc_model_head(m, GEOLOC_HEAD_ISN, k);
        if (h < 0 || cfg->heads[h].classes != (int)m->partitions[k % m->n_partitions]->n)
            return error_set(err, GEOLOC_E_ARG, "the network has no ISN head for scene %zu, partition %s",
                             k / m->n_partitions, m->partition_names[k % m->n_partitions]);
    }
    geoloc_predictor *p = calloc(1, sizeof *p);
    if (!p) return error_set(err, GEOLOC_E_NOMEM, "out of memory");
    memcpy(p->geo_head, geo_head, sizeof geo_head);
    memcpy(p->scene_head, scene_head, sizeof scene_head);
    memcpy(p->isn_head, isn_head, m->n_isn * m->n_partitions * sizeof *isn_head);
    p->m = m;
    p->opt = o;
    p->crops = geoloc_predict_crop_count(o.crops);
    p->batch = o.batch;
    p->size = m->image_size;
    p->resize_side = geoloc_predict_min_side(m, o.crops);
    p->answer = o.partition >= 0 ? o.partition : (int)m->n_partitions - 1;
    p->n_heads = cfg->n_heads;
    size_t images = (size_t)p->batch * (size_t)p->crops;
    s = geoloc_exec_create(m->net, (int)images, p->size, p->size, geoloc_precision_mode(o.precision), &p->ex, err);
    if (s != GEOLOC_OK) {
        geoloc_predictor_free(p);
        return s;
    }
    p->tf = geoloc_transformer_create();
    p->input = malloc(images * 3 * (size_t)p->size * (size_t)p->size * sizeof *p->input);
    int ok = p->tf && p->input;
    for (size_t h = 0; h < p->n_heads && ok; h++)
        ok = (p->probs[h] = malloc(images * (size_t)cfg->heads[h].classes * sizeof *p->probs[h])) != NULL;
    if (ok && m->n_scenes) ok = (p->scene = malloc(images * m->n_scenes * sizeof *p->scene)) != NULL;
    for (size_t f = 0; ok && m->n_isn && f < m->n_partitions; f++)
        ok = (p->routed[f] = malloc(images * m->partitions[f]->n * sizeof *p->routed[f])) != NULL;
    if (!ok) {
        geoloc_predictor_free(p);
        return error_set(err, GEOLOC_E_NOMEM, "out of memory for prediction");
    }
    *out = p;
    return GEOLOC_OK;
}

/* Writes the crops of one photo (crops x 3 x size x size floats) to dst. */
static geoloc_status write_crops(geoloc_predictor *p, const geoloc_image *img, size_t index, float *dst,
                                 geoloc_error *err) {
    if (!img->rgb || img->width < 1 || img->height < 1)
        return error_set(err, GEOLOC_E_ARG, "photo %zu: no pixels", index);
    geoloc_resample_spec sp = {.crop = {0, 0, img->width, img->height}, .norm = p->m->norm};
    geoloc_rect win[5];
    int S = p->size;
    geoloc_status s = geoloc_resize_shorter_size(img->width, img->height, p->resize_side, &sp.resize_w,
                                                 &sp.resize_h);
    if (s == GEOLOC_OK) {
        if (p->opt.crops == GEOLOC_CROPS_THREE) s = geoloc_three_crop_rects(sp.resize_w, sp.resize_h, win);
        else if (p->opt.crops == GEOLOC_CROPS_FIVE) s = geoloc_five_crop_rects(sp.resize_w, sp.resize_h, S, S, win);
        else s = geoloc_center_crop_rect(sp.resize_w, sp.resize_h, S, S, win);
    }
    if (s != GEOLOC_OK)
        return error_set(err, s, "photo %zu: no %dx%d crops in %dx%d pixels", index, S, S, img->width,
                         img->height);
    size_t floats = 3 * (size_t)S * (size_t)S;
    for (int k = 0; k < p->crops; k++) {
        sp.window = win[k];
        if ((s = geoloc_transform_chw(p->tf, img, &sp, dst + (size_t)k * floats, err)) != GEOLOC_OK) return s;
    }
    return GEOLOC_OK;
}

/* Mixes photo i's ISN outputs of the batch just run into its routed rows. */
static void route_photo(geoloc_predictor *p, size_t i, const double *weight) {
    const geoloc_model *m = p->m;
    size_t crops = (size_t)p->crops;
    const float *isn[GEOLOC_NN_MAX_HEADS];
    float *geo[GEOLOC_MODEL_MAX_PARTITIONS];
    for (size_t k = 0; k < m->n_isn * m->n_partitions; k++)
        isn[k] = p->probs[p->isn_head[k]] + i * crops * m->partitions[k % m->n_partitions]->n;
    for (size_t f = 0; f < m->n_partitions; f++) geo[f] = p->routed[f] + i * crops * m->partitions[f]->n;
    geoloc_isn_mix(m, isn, weight, crops, geo);
}

/* Puts the scene levels' rows side by side and, with ISNs, routes the geo
 * outputs of photos [0, count) of the batch just run. */
static void gather_heads(geoloc_predictor *p, size_t count) {
    const geoloc_model *m = p->m;
    size_t rows = count * (size_t)p->crops;
    for (int l = 0; l < GEOLOC_SCENE_LEVELS; l++) {
        size_t nc = m->scene_classes[l];
        for (size_t r = 0; nc && r < rows; r++)
            memcpy(p->scene + r * m->n_scenes + m->scene_offset[l], p->probs[p->scene_head[l]] + r * nc,
                   nc * sizeof(float));
    }
    if (!m->n_isn || p->opt.isn == GEOLOC_ISN_NONE) return;
    size_t n_isn = m->n_isn, crops = (size_t)p->crops;
    double s3[GEOLOC_NN_MAX_HEADS], weight[GEOLOC_NN_MAX_HEADS];
    for (size_t i = 0; i < count; i++) {
        for (size_t s = 0; s < n_isn; s++) s3[s] = 0;
        for (size_t c = 0; c < crops; c++)
            for (size_t s = 0; s < n_isn; s++)
                s3[s] += p->scene[(i * crops + c) * m->n_scenes + m->scene_offset[GEOLOC_SCENE_LEVEL_S3] + s] / (double)crops;
        geoloc_isn_weights(p->opt.isn, s3, n_isn, weight);
        route_photo(p, i, weight);
    }
}

geoloc_status geoloc_predictor_route(geoloc_predictor *p, size_t i, const double *weight, geoloc_error *err) {
    const geoloc_model *m = p->m;
    if (!m->n_isn || p->opt.isn == GEOLOC_ISN_NONE)
        return error_set(err, GEOLOC_E_ARG, "routing: %s", m->n_isn ? "the predictor's routing is none"
                                                                     : "the model has no Individual Scene Networks");
    if (i >= (size_t)p->batch) return error_set(err, GEOLOC_E_ARG, "routing: photo %zu of a batch of %d", i, p->batch);
    double total = 0;
    for (size_t s = 0; s < m->n_isn; s++) {
        if (!(weight[s] >= 0 && weight[s] <= 1))
            return error_set(err, GEOLOC_E_ARG, "routing: weight %zu is not in [0, 1]", s);
        total += weight[s];
    }
    if (!(total > 1 - 1e-6 && total < 1 + 1e-6))
        return error_set(err, GEOLOC_E_ARG, "routing: the weights sum to %g, not 1", total);
    route_photo(p, i, weight);
    return GEOLOC_OK;
}

int geoloc_predictor_probs(const geoloc_predictor *p, size_t i, const float **geo, const float **scene) {
    const geoloc_resnet_config *cfg = geoloc_net_config(p->m->net);
    size_t rows = i * (size_t)p->crops;
    int routed = p->m->n_isn && p->opt.isn != GEOLOC_ISN_NONE;
    for (size_t f = 0; f < p->m->n_partitions; f++)
        geo[f] = routed ? p->routed[f] + rows * p->m->partitions[f]->n
                        : p->probs[p->geo_head[f]] + rows * (size_t)cfg->heads[p->geo_head[f]].classes;
    *scene = p->m->n_scenes ? p->scene + rows * p->m->n_scenes : NULL;
    return p->crops;
}

void geoloc_predictor_features(const geoloc_predictor *p, size_t i, float *out) {
    int dim = geoloc_exec_feature_dim(p->ex);
    const float *f = geoloc_exec_features(p->ex) + i * (size_t)p->crops * (size_t)dim;
    for (int j = 0; j < dim; j++) {
        double sum = 0;
        for (int c = 0; c < p->crops; c++) sum += f[(size_t)c * (size_t)dim + (size_t)j];
        out[j] = (float)(sum / p->crops);
    }
}

int geoloc_predictor_feature_dim(const geoloc_predictor *p) { return geoloc_exec_feature_dim(p->ex); }

/* A calibrated answer's abstention: r50 above the max radius (the options', else
 * the model's) or features unlike the calibration photos'. */
static geoloc_status abstain(geoloc_predictor *p, size_t i, geoloc_prediction *out, geoloc_error *err) {
    const geoloc_calibration *cal = p->m->calibration;
    double max_r = p->opt.max_radius_km > 0 ? p->opt.max_radius_km : cal->max_radius_km;
    out->unknown = out->radius_km[0] > max_r;
    if (cal->dim > 0 && cal->dim == geoloc_predictor_feature_dim(p)) {
        float *feat = malloc((size_t)cal->dim * sizeof *feat);
        if (!feat) return error_set(err, GEOLOC_E_NOMEM, "out of memory");
        geoloc_predictor_features(p, i, feat);
        out->ood_score = geoloc_calibration_ood_score(cal, feat);
        free(feat);
        if (out->ood_score > cal->ood_threshold) out->unknown = 1;
    }
    return GEOLOC_OK;
}

/* The answer for photo i of the batch just run. */
static geoloc_status answer(geoloc_predictor *p, size_t i, size_t index, geoloc_prediction *out,
                            float *distribution, geoloc_error *err) {
    const float *geo[GEOLOC_MODEL_MAX_PARTITIONS] = {0}, *scene;
    int crops = geoloc_predictor_probs(p, i, geo, &scene);
    geoloc_status s = geoloc_answer_from_probs(p->m, geo, scene, (size_t)crops, p->opt.partition, p->opt.top_k,
                                               out, distribution, err);
    if (s == GEOLOC_OK && out->calibrated) s = abstain(p, i, out, err);
    if (s != GEOLOC_OK && err) {
        char why[sizeof err->message];
        snprintf(why, sizeof why, "%s", err->message);
        error_set(err, s, "photo %zu: %s", index, why);
    }
    return s;
}

size_t geoloc_predictor_classes(const geoloc_predictor *p) {
    return p->m->n_partitions ? p->m->partitions[p->answer]->n : 0;
}

const geoloc_model *geoloc_predictor_model(const geoloc_predictor *p) { return p->m; }

geoloc_predict_options geoloc_predictor_options(const geoloc_predictor *p) { return p->opt; }

/* Runs photos [start, start + count) of images (count at most the batch)
 * through the network: every head's softmax, the scene rows and the routing. */
static geoloc_status run_batch(geoloc_predictor *p, const geoloc_image *images, size_t start, size_t count,
                               geoloc_error *err) {
    const geoloc_resnet_config *cfg = geoloc_net_config(p->m->net);
    size_t per_photo = (size_t)p->crops * 3 * (size_t)p->size * (size_t)p->size;
    for (size_t i = 0; i < count; i++) {
        geoloc_status s = write_crops(p, &images[start + i], start + i, p->input + i * per_photo, err);
        if (s != GEOLOC_OK) return s;
    }
    if (count < (size_t)p->batch) /* a last, partial batch: the rest is padding */
        memset(p->input + count * per_photo, 0, ((size_t)p->batch - count) * per_photo * sizeof(float));
    geoloc_status s = geoloc_exec_forward(p->ex, p->input, err);
    if (s != GEOLOC_OK) return s;
    for (size_t h = 0; h < p->n_heads; h++)
        geoloc_softmax(geoloc_exec_logits(p->ex, h), count * (size_t)p->crops, (size_t)cfg->heads[h].classes,
                       p->probs[h]);
    gather_heads(p, count);
    return GEOLOC_OK;
}

geoloc_status geoloc_predict(geoloc_predictor *p, const geoloc_image *images, size_t n,
                             geoloc_prediction *out, float *const *distributions,
                             geoloc_error *err) {
    if (p->m->n_partitions == 0)
        return error_set(err, GEOLOC_E_ARG, "a scene classifier (no partitions) answers no location: "
                         "geoloc_predict_scenes (geoloc scene label) uses it");
    for (size_t start = 0; start < n; start += (size_t)p->batch) {
        size_t count = n - start < (size_t)p->batch ? n - start : (size_t)p->batch;
        geoloc_status s = run_batch(p, images, start, count, err);
        for (size_t i = 0; s == GEOLOC_OK && i < count; i++)
            s = answer(p, i, start + i, &out[start + i], distributions ? distributions[start + i] : NULL, err);
        if (s != GEOLOC_OK) return s;
    }
    return GEOLOC_OK;
}

geoloc_status geoloc_predict_scenes(geoloc_predictor *p, const geoloc_image *images, size_t n, float *probs,
                                    geoloc_error *err) {
    size_t ns = p->m->n_scenes;
    if (ns == 0) return error_set(err, GEOLOC_E_ARG, "the model has no scene head");
    double *mean = malloc(ns * sizeof *mean);
    if (!mean) return error_set(err, GEOLOC_E_NOMEM, "out of memory");
    geoloc_status s = GEOLOC_OK;
    for (size_t start = 0; s == GEOLOC_OK && start < n; start += (size_t)p->batch) {
        size_t count = n - start < (size_t)p->batch ? n - start : (size_t)p->batch;
        s = run_batch(p, images, start, count, err);
        for (size_t i = 0; s == GEOLOC_OK && i < count; i++) {
            if (answer_average_crops(p->scene + i * (size_t)p->crops * ns, (size_t)p->crops, ns, mean) != 0)
                s = error_set(err, GEOLOC_E_RANGE, "photo %zu: a scene probability that is not a finite number "
                              "in [0, 1] (are the model's weights finite?)", start + i);
            for (size_t k = 0; s == GEOLOC_OK && k < ns; k++) probs[(start + i) * ns + k] = (float)mean[k];
        }
    }
    free(mean);
    return s;
}
