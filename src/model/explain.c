/* Occlusion sensitivity (geoloc/explain.h): the photo is resized once as
 * prediction's center mode does, and the unoccluded view and its occluded
 * copies (8-bit, grey square painted into the center crop) go through a
 * center-crop predictor in batches; the predictor's resize of the view is then
 * the identity (the triangle filter at scale 1), so each copy's network input
 * is exactly the view's crop with the patch in it. */
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "geoloc/explain.h"

geoloc_explain_options geoloc_explain_options_default(void) {
    return (geoloc_explain_options){.partition = -1, .batch = 16};
}

int geoloc_explain_grid_cells(int size, int stride) { return (size + stride - 1) / stride; }

void geoloc_explain_patch_span(int size, int patch, int stride, int i, int *start, int *length) {
    int lo = i * stride, hi = lo + stride < size ? lo + stride : size;
    int twice = lo + hi - patch;
    int s = twice >= 0 ? twice / 2 : -((1 - twice) / 2); /* floor(twice / 2) */
    int e = s + patch;
    if (s < 0) s = 0;
    if (e > size) e = size;
    *start = s;
    *length = e > s ? e - s : 0;
}

void geoloc_explain_free(geoloc_explain_result *r) {
    if (!r) return;
    free(r->drop);
    geoloc_image_free(&r->view);
    memset(r, 0, sizeof *r);
}

/* Per RGB channel, the 8-bit value whose normalised input is closest to 0. */
static void grey_of(geoloc_norm norm, uint8_t grey[3]) {
    for (int c = 0; c < 3; c++) {
        int plane = norm == GEOLOC_NORM_CAFFE ? 2 - c : c; /* caffe planes are B, G, R */
        int best = 0;
        for (int v = 1; v < 256; v++) {
            float a = geoloc_norm_value(norm, plane, v), b = geoloc_norm_value(norm, plane, best);
            if ((a < 0 ? -a : a) < (b < 0 ? -b : b)) best = v;
        }
        grey[c] = (uint8_t)best;
    }
}

/* The photo resized as center-mode prediction resizes it, and its center crop. */
static geoloc_status make_view(const geoloc_model *m, const geoloc_image *photo, geoloc_image *view,
                               geoloc_rect *crop, geoloc_error *err) {
    if (!photo || !photo->rgb || photo->width < 1 || photo->height < 1)
        return error_set(err, GEOLOC_E_ARG, "explain: the photo has no pixels");
    geoloc_resample_spec sp = {.crop = {0, 0, photo->width, photo->height}, .norm = m->norm};
    geoloc_status s = geoloc_resize_shorter_size(photo->width, photo->height,
                                                 geoloc_predict_min_side(m, GEOLOC_CROPS_CENTER),
                                                 &sp.resize_w, &sp.resize_h);
    if (s == GEOLOC_OK)
        s = geoloc_center_crop_rect(sp.resize_w, sp.resize_h, m->image_size, m->image_size, crop);
    if (s != GEOLOC_OK)
        return error_set(err, s, "explain: no %dx%d crop in %dx%d pixels", m->image_size, m->image_size,
                         photo->width, photo->height);
    sp.window = (geoloc_rect){0, 0, sp.resize_w, sp.resize_h};
    geoloc_transformer *t = geoloc_transformer_create();
    if (!t) return error_set(err, GEOLOC_E_NOMEM, "explain: out of memory");
    s = geoloc_transform_image(t, photo, &sp, view, err);
    geoloc_transformer_destroy(t);
    return s;
}

/* The class of cell in partition p, or -1. */
static int class_of(const geoloc_partition *p, geoloc_cell cell) {
    for (size_t k = 0; k < p->n; k++)
        if (p->cell[k] == cell) return (int)k;
    return -1;
}

/* Checks the options and fills the result's geometry and target (when given). */
static geoloc_status setup(const geoloc_model *m, const geoloc_explain_options *o, geoloc_explain_result *r,
                           geoloc_error *err) {
    int S = m->image_size;
    r->size = S;
    r->patch = o->patch ? o->patch : S / 7;
    r->stride = o->stride ? o->stride : (S + 13) / 14;
    if (r->patch < 1 || r->patch > S)
        return error_set(err, GEOLOC_E_ARG, "explain: patch %d pixels: 1 to %d (the model's input size)", r->patch, S);
    if (r->stride < 1 || r->stride > S)
        return error_set(err, GEOLOC_E_ARG, "explain: stride %d pixels: 1 to %d (the model's input size)", r->stride, S);
    if (o->partition < -1 || o->partition >= (int)m->n_partitions)
        return error_set(err, GEOLOC_E_ARG, "explain: partition %d: the model has %zu", o->partition, m->n_partitions);
    if (o->batch < 1 || o->batch > 1024) return error_set(err, GEOLOC_E_ARG, "explain: batch %d: 1 to 1024", o->batch);
    r->partition = o->partition >= 0 ? o->partition : (int)m->n_partitions - 1;
    r->rows = r->cols = geoloc_explain_grid_cells(S, r->stride);
    r->target_class = -1;
    if (o->has_cell) {
        r->target = o->cell;
        r->target_class = class_of(m->partitions[r->partition], o->cell);
        if (r->target_class < 0) {
            char tok[GEOLOC_S2_TOKEN_SIZE];
            geoloc_s2_to_token(o->cell, tok);
            return error_set(err, GEOLOC_E_ARG, "explain: cell %s is not a cell of partition %s (%zu cells)", tok,
                             m->partition_names[r->partition], m->partitions[r->partition]->n);
        }
    }
    return GEOLOC_OK;
}

/* Copy `index` of the run into img: the view, and for index > 0 the grey
 * patch of grid cell index - 1 painted into the crop. */
static void paint_copy(const geoloc_explain_result *r, const uint8_t grey[3], size_t index, geoloc_image *img) {
    memcpy(img->rgb, r->view.rgb, (size_t)r->view.width * (size_t)r->view.height * 3);
    if (index == 0) return;
    int cell = (int)index - 1, x0, w, y0, h;
    geoloc_explain_patch_span(r->size, r->patch, r->stride, cell % r->cols, &x0, &w);
    geoloc_explain_patch_span(r->size, r->patch, r->stride, cell / r->cols, &y0, &h);
    for (int y = 0; y < h; y++) {
        uint8_t *px = img->rgb + ((size_t)(r->crop.y + y0 + y) * (size_t)img->width + (size_t)(r->crop.x + x0)) * 3;
        for (int x = 0; x < w; x++, px += 3) memcpy(px, grey, 3);
    }
}

/* Runs the view and its copies through the predictor and fills the grid. */
static geoloc_status run(geoloc_predictor *p, geoloc_explain_result *r, geoloc_image *copies,
                         geoloc_prediction *preds, float *const *dists, int batch, geoloc_error *err) {
    uint8_t grey[3];
    grey_of(geoloc_predictor_model(p)->norm, grey);
    size_t total = 1 + (size_t)r->rows * (size_t)r->cols;
    for (size_t start = 0; start < total; start += (size_t)batch) {
        size_t count = total - start < (size_t)batch ? total - start : (size_t)batch;
        for (size_t i = 0; i < count; i++) paint_copy(r, grey, start + i, &copies[i]);
        geoloc_status s = geoloc_predict(p, copies, count, preds, dists, err);
        if (s != GEOLOC_OK) return s;
        r->batches++;
        r->images += count;
        for (size_t i = 0; i < count; i++) {
            if (start + i == 0) { /* the unoccluded view comes first */
                r->answer = preds[0];
                if (r->target_class < 0) {
                    r->target_class = preds[0].top[0].cls;
                    r->target = preds[0].top[0].cell;
                }
                r->p_full = dists[0][r->target_class];
                continue;
            }
            float d = r->p_full - dists[i][r->target_class];
            r->drop[start + i - 1] = d;
            if ((d < 0 ? -d : d) > r->max_abs_drop) r->max_abs_drop = d < 0 ? -d : d;
        }
    }
    return GEOLOC_OK;
}

geoloc_status geoloc_explain(const geoloc_model *m, const geoloc_image *photo, const geoloc_explain_options *opt,
                             geoloc_explain_result *out, geoloc_error *err) {
    memset(out, 0, sizeof *out);
    geoloc_explain_options o = opt ? *opt : geoloc_explain_options_default();
    if (!m || !m->net) return error_set(err, GEOLOC_E_ARG, "explain needs a model with its network");
    geoloc_status s = setup(m, &o, out, err);
    if (s == GEOLOC_OK) s = make_view(m, photo, &out->view, &out->crop, err);
    if (s != GEOLOC_OK) {
        geoloc_explain_free(out);
        return s;
    }
    geoloc_predict_options po = geoloc_predict_options_default();
    po.crops = GEOLOC_CROPS_CENTER;
    po.partition = o.partition;
    po.batch = o.batch;
    geoloc_predictor *p = NULL;
    s = geoloc_predictor_create(m, &po, &p, err);
    size_t classes = p ? geoloc_predictor_classes(p) : 0, bytes = (size_t)out->view.width * out->view.height * 3;
    geoloc_image *copies = calloc((size_t)o.batch, sizeof *copies);
    geoloc_prediction *preds = malloc((size_t)o.batch * sizeof *preds);
    float *dist = malloc((size_t)o.batch * (classes ? classes : 1) * sizeof *dist);
    float **dists = malloc((size_t)o.batch * sizeof *dists);
    out->drop = calloc((size_t)out->rows * (size_t)out->cols, sizeof *out->drop);
    int ok = copies && preds && dist && dists && out->drop;
    for (int i = 0; ok && i < o.batch; i++) {
        copies[i] = (geoloc_image){.width = out->view.width, .height = out->view.height, .rgb = malloc(bytes)};
        dists[i] = dist + (size_t)i * classes;
        ok = copies[i].rgb != NULL;
    }
    if (s == GEOLOC_OK && !ok) s = error_set(err, GEOLOC_E_NOMEM, "explain: out of memory for %d copies", o.batch);
    if (s == GEOLOC_OK) s = run(p, out, copies, preds, dists, o.batch, err);
    for (int i = 0; copies && i < o.batch; i++) free(copies[i].rgb);
    free(copies);
    free(preds);
    free(dist);
    free(dists);
    geoloc_predictor_free(p);
    if (s != GEOLOC_OK) geoloc_explain_free(out);
    return s;
}
