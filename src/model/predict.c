/* Prediction with a geolocation model: each photo's crops (the paper's three
 * squares along the longer side, five crops or the center) go through the
 * network in one batch, the softmax of every head is averaged over the crops,
 * and the answer is one partition's distribution or the hierarchical one
 * (fine class k scores p_fine(k) times the probabilities of its ancestor cells
 * in the coarser partitions, normalised over the fine classes); a cell's
 * location is the mean of its training photos (Class2GPS). */
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "geoloc/model.h"
#include "geoloc/transform.h"

struct geoloc_predictor {
    const geoloc_model *m;
    geoloc_predict_options opt;
    int crops, batch, size, resize_side;
    int answer;                         /* partition answering */
    geoloc_exec *ex;
    geoloc_transformer *tf;
    float *input;                       /* batch x crops x 3 x size x size */
    size_t n_heads;
    float *probs[GEOLOC_NN_MAX_HEADS];  /* batch x crops x classes */
    double *mean[GEOLOC_NN_MAX_HEADS];  /* one photo's average over its crops */
    double *score;                      /* the answering partition's distribution */
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
    for (size_t h = 0; h < p->n_heads; h++) {
        free(p->probs[h]);
        free(p->mean[h]);
    }
    free(p->score);
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
    if (o.crops != GEOLOC_CROPS_THREE && o.crops != GEOLOC_CROPS_FIVE && o.crops != GEOLOC_CROPS_CENTER)
        return error_set(err, GEOLOC_E_ARG, "unknown crop mode %d", (int)o.crops);
    if (o.partition < -1 || o.partition >= (int)m->n_partitions)
        return error_set(err, GEOLOC_E_ARG, "partition %d: the model has %zu (0-%zu, or -1: hierarchical)",
                         o.partition, m->n_partitions, m->n_partitions - 1);
    if (o.top_k < 1 || o.top_k > GEOLOC_MODEL_MAX_TOP)
        return error_set(err, GEOLOC_E_ARG, "top %d: 1 to %d cells", o.top_k, GEOLOC_MODEL_MAX_TOP);
    if (o.batch < 1 || o.batch > 1024) return error_set(err, GEOLOC_E_ARG, "batch %d: 1 to 1024", o.batch);
    geoloc_status s = o.partition < 0 && m->n_partitions > 1 ? check_hierarchy(m, err) : GEOLOC_OK;
    if (s != GEOLOC_OK) return s;
    const geoloc_resnet_config *cfg = geoloc_net_config(m->net);
    if (cfg->n_heads != m->n_partitions + (m->n_scenes > 0))
        return error_set(err, GEOLOC_E_ARG, "the network has %zu heads for %zu partitions and %zu scenes",
                         cfg->n_heads, m->n_partitions, m->n_scenes);
    geoloc_predictor *p = calloc(1, sizeof *p);
    if (!p) return error_set(err, GEOLOC_E_NOMEM, "out of memory");
    p->m = m;
    p->opt = o;
    p->crops = geoloc_predict_crop_count(o.crops);
    p->batch = o.batch;
    p->size = m->image_size;
    p->resize_side = geoloc_predict_min_side(m, o.crops);
    p->answer = o.partition >= 0 ? o.partition : (int)m->n_partitions - 1;
    p->n_heads = cfg->n_heads;
    size_t images = (size_t)p->batch * (size_t)p->crops;
    s = geoloc_exec_create(m->net, (int)images, p->size, p->size, GEOLOC_NN_INFER, &p->ex, err);
    if (s != GEOLOC_OK) {
        geoloc_predictor_free(p);
        return s;
    }
    p->tf = geoloc_transformer_create();
    p->input = malloc(images * 3 * (size_t)p->size * (size_t)p->size * sizeof *p->input);
    int ok = p->tf && p->input;
    for (size_t h = 0; h < p->n_heads && ok; h++) {
        size_t classes = (size_t)cfg->heads[h].classes;
        p->probs[h] = malloc(images * classes * sizeof *p->probs[h]);
        p->mean[h] = malloc(classes * sizeof *p->mean[h]);
        ok = p->probs[h] && p->mean[h];
    }
    p->score = ok ? malloc(m->partitions[p->answer]->n * sizeof *p->score) : NULL;
    if (!p->score) {
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

/* The answer for photo i of the batch just run. */
static void answer(geoloc_predictor *p, size_t i, geoloc_prediction *out, float *distribution) {
    const geoloc_model *m = p->m;
    const geoloc_resnet_config *cfg = geoloc_net_config(m->net);
    for (size_t h = 0; h < p->n_heads; h++) {
        size_t classes = (size_t)cfg->heads[h].classes;
        const float *pr = p->probs[h] + i * (size_t)p->crops * classes;
        for (size_t k = 0; k < classes; k++) {
            double sum = 0;
            for (int c = 0; c < p->crops; c++) sum += pr[(size_t)c * classes + k];
            p->mean[h][k] = sum / p->crops;
        }
    }
    size_t f = (size_t)p->answer, n = m->partitions[f]->n;
    double total = 0;
    for (size_t k = 0; k < n; k++) {
        double v = p->mean[f][k];
        for (size_t c = 0; p->opt.partition < 0 && c < f; c++) v *= p->mean[c][m->ancestor[f][c][k]];
        p->score[k] = v;
        total += v;
    }
    if (total > 0)
        for (size_t k = 0; k < n; k++) p->score[k] /= total;
    else
        for (size_t k = 0; k < n; k++) p->score[k] = p->mean[f][k];
    int top[GEOLOC_MODEL_MAX_TOP], n_top = 0, want = p->opt.top_k < (int)n ? p->opt.top_k : (int)n;
    double val[GEOLOC_MODEL_MAX_TOP];
    for (size_t k = 0; k < n; k++) top_insert(top, val, &n_top, want, (int)k, p->score[k]);
    memset(out, 0, sizeof *out);
    out->partition = p->answer;
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
    out->scene = -1;
    if (m->n_scenes > 0) {
        const double *sc = p->mean[m->n_partitions];
        out->scene = 0;
        for (size_t k = 1; k < m->n_scenes; k++)
            if (sc[k] > sc[out->scene]) out->scene = (int)k;
        out->scene_prob = (float)sc[out->scene];
    }
    if (distribution)
        for (size_t k = 0; k < n; k++) distribution[k] = (float)p->score[k];
}

geoloc_status geoloc_predict(geoloc_predictor *p, const geoloc_image *images, size_t n,
                             geoloc_prediction *out, float *const *distributions,
                             geoloc_error *err) {
    const geoloc_resnet_config *cfg = geoloc_net_config(p->m->net);
    size_t per_photo = (size_t)p->crops * 3 * (size_t)p->size * (size_t)p->size;
    for (size_t start = 0; start < n; start += (size_t)p->batch) {
        size_t count = n - start < (size_t)p->batch ? n - start : (size_t)p->batch;
        for (size_t i = 0; i < count; i++) {
            geoloc_status s = write_crops(p, &images[start + i], start + i, p->input + i * per_photo, err);
            if (s != GEOLOC_OK) return s;
        }
        if (count < (size_t)p->batch) /* a last, partial batch: the rest is padding */
            memset(p->input + count * per_photo, 0, ((size_t)p->batch - count) * per_photo * sizeof(float));
        geoloc_status s = geoloc_exec_forward(p->ex, p->input, err);
        if (s != GEOLOC_OK) return s;
        for (size_t h = 0; h < p->n_heads; h++)
            geoloc_softmax(geoloc_exec_logits(p->ex, h), count * (size_t)p->crops,
                           (size_t)cfg->heads[h].classes, p->probs[h]);
        for (size_t i = 0; i < count; i++)
            answer(p, i, &out[start + i], distributions ? distributions[start + i] : NULL);
    }
    return GEOLOC_OK;
}
