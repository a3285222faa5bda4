/* Label propagation: photos lacking a scene level's label get the most
 * probable class of that level from a scene classifier (the helper network,
 * e.g. trained with geoloc scene train), run as prediction runs it: three
 * crops, their probabilities averaged (geoloc_predict). */
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "geoloc/image.h"
#include "train/internal.h"

/* The helper model, checked: a scene classifier with a head of `level`. */
static geoloc_status open_helper(const char *path, int level, geoloc_model **out, geoloc_error *err) {
    geoloc_model *m = NULL;
    geoloc_status s = geoloc_model_load(path, &m, err);
    if (s != GEOLOC_OK) return s;
    if (m->n_partitions)
        s = error_set(err, GEOLOC_E_ARG, "--scene-labels %s: a geolocation model (%zu partitions), not a scene "
                      "classifier (train one with geoloc scene train)", path, m->n_partitions);
    else if (!m->scene_classes[level])
        s = error_set(err, GEOLOC_E_ARG, "--scene-labels %s: the scene classifier has no %s head", path,
                      geoloc_scene_level_name(level));
    if (s != GEOLOC_OK) {
        geoloc_model_free(m);
        return s;
    }
    *out = m;
    return GEOLOC_OK;
}

/* Photo k decoded from the training source. */
static geoloc_status read_photo(const train_data *d, size_t k, const geoloc_model *m, geoloc_image *img,
                                geoloc_error *err) {
    const uint8_t *data;
    size_t size;
    const char *name = NULL;
    size_t b = d->base_index ? d->base_index[k] : k;
    geoloc_status s = d->base.read(d->base.ctx, b, &data, &size, &name, err);
    if (s != GEOLOC_OK) return s;
    geoloc_decode_options dec = {.min_shorter_side = geoloc_predict_min_side(m, GEOLOC_CROPS_THREE)};
    s = geoloc_image_decode(data, size, name ? name : d->row[k]->id, &dec, img, err);
    if (d->base.release) d->base.release(d->base.ctx, data, size);
    return s;
}

geoloc_status train_scene_labels_fill(const train_run *r, const train_data *d, int level, int32_t *label,
                                      size_t *added, geoloc_error *err) {
    size_t missing = 0;
    for (size_t k = 0; k < d->n; k++) missing += label[k] < 0;
    *added = 0;
    if (missing == 0) return GEOLOC_OK;
    geoloc_model *m = NULL;
    geoloc_predictor *p = NULL;
    geoloc_predict_options po = geoloc_predict_options_default();
    po.batch = 1;
    geoloc_status s = open_helper(r->o->scene_labels, level, &m, err);
    if (s == GEOLOC_OK) s = geoloc_predictor_create(m, &po, &p, err);
    size_t unreadable = 0;
    for (size_t k = 0; s == GEOLOC_OK && k < d->n; k++) {
        if (label[k] >= 0) continue;
        geoloc_image img = {0};
        geoloc_prediction pred;
        geoloc_error e = {0};
        if (read_photo(d, k, m, &img, &e) != GEOLOC_OK) {
            unreadable++; /* the features' extraction reports it */
            continue;
        }
        s = geoloc_predict(p, &img, 1, &pred, NULL, err);
        geoloc_image_free(&img);
        if (s == GEOLOC_OK && pred.scene[level] >= 0) {
            label[k] = pred.scene[level];
            (*added)++;
        }
    }
    if (s == GEOLOC_OK)
        train_info(r, "scene labels %s: %zu of %zu photos labelled by %s%s", geoloc_scene_level_name(level), *added,
                   missing, r->o->scene_labels, unreadable ? " (the others cannot be read)" : "");
    geoloc_predictor_free(p);
    geoloc_model_free(m);
    return s;
}
