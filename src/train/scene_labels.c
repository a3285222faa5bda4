/* Label propagation: photos lacking a scene level's label get the most
 * probable class of that level from a scene classifier (the helper network,
 * e.g. trained with geoloc scene train), run as prediction runs a model: the
 * three crops of the photo through its network, the level's softmax
 * averaged over them. */
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "geoloc/nn.h"
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

/* The photos to label and their answers. */
typedef struct fill_ctx {
    const size_t *list;   /* table photos */
    int head, classes;
    int32_t *label;
    float *tmp, *mean;
} fill_ctx;

/* Photo list[k]'s label: the argmax of the head's softmax averaged over its three crops. */
static void label_photo(void *ctx, size_t k, int view0, int views, const geoloc_exec *ex, int first) {
    fill_ctx *c = ctx;
    (void)view0;
    memset(c->mean, 0, (size_t)c->classes * sizeof *c->mean);
    for (int v = 0; v < views; v++) {
        geoloc_softmax(geoloc_exec_logits(ex, (size_t)c->head) + (size_t)(first + v) * (size_t)c->classes, 1,
                       (size_t)c->classes, c->tmp);
        for (int j = 0; j < c->classes; j++) c->mean[j] += c->tmp[j] / (float)views;
    }
    int best = 0;
    for (int j = 1; j < c->classes; j++)
        if (c->mean[j] > c->mean[best]) best = j;
    c->label[c->list[k]] = best;
}

/* Photos lacking a label of `level` (label[k] < 0) get the classifier's; counted in *added. */
static geoloc_status fill_level(train_run *r, const train_data *d, int level, int32_t *label, size_t *added,
                                geoloc_error *err) {
    size_t missing = 0;
    *added = 0;
    size_t *list = malloc((d->n ? d->n : 1) * sizeof *list);
    uint8_t *failed = calloc(d->n ? d->n : 1, 1);
    if (!list || !failed) {
        free(list);
        free(failed);
        return error_set(err, GEOLOC_E_NOMEM, "out of memory");
    }
    for (size_t k = 0; k < d->n; k++)
        if (label[k] < 0) list[missing++] = k;
    geoloc_model *m = NULL;
    geoloc_exec *ex = NULL;
    fill_ctx c = {.list = list, .label = label};
    geoloc_status s = missing ? open_helper(r->o->scene_labels, level, &m, err) : GEOLOC_OK;
    if (s == GEOLOC_OK && m && m->image_size != r->o->image_size)
        s = error_set(err, GEOLOC_E_ARG, "--scene-labels %s: the scene classifier takes %d-pixel crops, the "
                      "training %d", r->o->scene_labels, m->image_size, r->o->image_size);
    if (s == GEOLOC_OK && m) {
        c.head = geoloc_model_head(m, GEOLOC_HEAD_SCENE, (size_t)level);
        c.classes = (int)m->scene_classes[level];
        c.tmp = malloc(2 * (size_t)c.classes * sizeof *c.tmp);
        c.mean = c.tmp + c.classes;
        if (!c.tmp) s = error_set(err, GEOLOC_E_NOMEM, "out of memory");
    }
    if (s == GEOLOC_OK && m)
        s = geoloc_exec_create(m->net, TRAIN_VAL_PHOTOS * 3, m->image_size, m->image_size, GEOLOC_NN_INFER, &ex, err);
    if (s == GEOLOC_OK && m) {
        uint64_t images = r->run_images;
        s = train_run_three(r, d, m->norm, ex, TRAIN_VAL_PHOTOS, 3, list, missing, label_photo, &c, failed, NULL, 0,
                            err);
        r->run_images = images;
    }
    for (size_t i = 0; s == GEOLOC_OK && i < missing; i++) *added += !failed[i];
    if (s == GEOLOC_OK && missing)
        train_info(r, "scene labels %s: %zu of %zu unlabelled photos labelled by %s (three crops)%s",
                   geoloc_scene_level_name(level), *added, missing, r->o->scene_labels,
                   *added < missing ? "; the others cannot be read" : "");
    geoloc_exec_free(ex);
    geoloc_model_free(m);
    free(c.tmp);
    free(list);
    free(failed);
    return s;
}

geoloc_status train_scene_labels_setup(train_run *r, train_data *d, geoloc_error *err) {
    int set = train_scene_set(r->o);
    if (!r->o->scene_labels || set < 0) return GEOLOC_OK;
    for (int l = 0; l < GEOLOC_SCENE_LEVELS; l++) {
        if (!(set & (1 << l))) continue;
        if (!(d->scene_label[l] = malloc((d->n ? d->n : 1) * sizeof *d->scene_label[l])))
            return error_set(err, GEOLOC_E_NOMEM, "out of memory");
        for (size_t k = 0; k < d->n; k++) d->scene_label[l][k] = d->row[k]->label[l];
        geoloc_status s = fill_level(r, d, l, d->scene_label[l], &r->res->scene_labels_added[l], err);
        if (s != GEOLOC_OK) return s;
    }
    return GEOLOC_OK;
}
