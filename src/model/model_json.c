/* What a model is, as JSON (GET /v1/model): geoloc's version, the backbone,
 * the crop size, the arithmetic it runs in, the partitions and the scene classes. */
#include <string.h>

#include "geoloc/predict.h"
#include "geoloc/s2.h"

#ifndef GEOLOC_VERSION
#define GEOLOC_VERSION "unknown"
#endif

#define MODEL_JSON_SCHEMA 2 /* the "schema" of this object */

/* Writes {"name", "cells", "min_level", "max_level"} of one partition. */
static void partition_json(geoloc_json *w, const char *name, const geoloc_partition *p) {
    int min_level = GEOLOC_S2_MAX_LEVEL, max_level = 0;
    for (size_t k = 0; k < p->n; k++) {
        int l = geoloc_s2_level(p->cell[k]);
        if (l < min_level) min_level = l;
        if (l > max_level) max_level = l;
    }
    geoloc_json_object_begin(w);
    geoloc_json_key(w, "name");
    geoloc_json_string(w, name);
    geoloc_json_key(w, "cells");
    geoloc_json_int(w, (int64_t)p->n);
    geoloc_json_key(w, "min_level");
    if (p->n) geoloc_json_int(w, min_level);
    else geoloc_json_null(w);
    geoloc_json_key(w, "max_level");
    if (p->n) geoloc_json_int(w, max_level);
    else geoloc_json_null(w);
    geoloc_json_object_end(w);
}

geoloc_status geoloc_model_write_json(geoloc_json *w, const geoloc_model *m, geoloc_precision precision) {
    char arch[32];
    snprintf(arch, sizeof arch, "resnet%d", m->config.depth);
    geoloc_json_object_begin(w);
    geoloc_json_key(w, "schema");
    geoloc_json_int(w, MODEL_JSON_SCHEMA);
    geoloc_json_key(w, "version");
    geoloc_json_string(w, GEOLOC_VERSION);
    geoloc_json_key(w, "backbone");
    geoloc_json_object_begin(w);
    geoloc_json_key(w, "arch");
    geoloc_json_string(w, arch);
    if (m->backbone[0]) {
        const char *slash = strrchr(m->backbone, '/');
        geoloc_json_key(w, "file");
        geoloc_json_string(w, slash ? slash + 1 : m->backbone);
    }
    if (m->tuned_from) { /* the stages the model file carries over the backbone file's */
        geoloc_json_key(w, "tuned");
        geoloc_json_array_begin(w);
        for (int k = m->tuned_from; k <= 4; k++) {
            char stage[24];
            snprintf(stage, sizeof stage, "layer%d", k);
            geoloc_json_string(w, stage);
        }
        geoloc_json_array_end(w);
    }
    geoloc_json_object_end(w);
    geoloc_json_key(w, "image_size");
    geoloc_json_int(w, m->image_size);
    geoloc_json_key(w, "precision");
    geoloc_json_string(w, geoloc_precision_name(precision));
    geoloc_json_key(w, "partitions");
    geoloc_json_array_begin(w);
    for (size_t i = 0; i < m->n_partitions; i++) partition_json(w, m->partition_names[i], m->partitions[i]);
    geoloc_json_array_end(w);
    geoloc_json_key(w, "scene");
    if (m->n_scenes) {
        geoloc_json_object_begin(w);
        for (int l = 0; l < GEOLOC_SCENE_LEVELS; l++) {
            if (!m->scene_classes[l]) continue;
            geoloc_json_key(w, geoloc_scene_level_name(l));
            geoloc_json_array_begin(w);
            for (size_t s = 0; s < m->scene_classes[l]; s++) geoloc_json_string(w, m->scene_names[m->scene_offset[l] + s]);
            geoloc_json_array_end(w);
        }
        geoloc_json_key(w, "isn");
        geoloc_json_bool(w, m->n_isn > 0);
        geoloc_json_object_end(w);
    } else {
        geoloc_json_null(w);
    }
    geoloc_json_object_end(w);
    return w->err.status;
}
