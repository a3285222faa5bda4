/* GET /v1/model's JSON: the default model's description (read without its
 * backbone weights) parsed back with jansson and checked field by field
 * against the model struct; then the same model with fine-tuned stages over
 * its backbone file, and without scene head and with its backbone inside
 * (scene null, no backbone file). */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "geoloc/model.h"
#include "geoloc/predict.h"
#include "geoloc/s2.h"
#include "test_util.h"


static json_t *model_json(const geoloc_model *m, geoloc_precision precision) {
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    geoloc_json w;
    geoloc_json_init(&w, f, 0);
    geoloc_error err;
    CHECK(geoloc_model_write_json(&w, m, precision) == GEOLOC_OK, "write");
    CHECK(geoloc_json_finish(&w, &err) == GEOLOC_OK, "finish");
    fclose(f);
    json_error_t jerr;
    json_t *j = json_loads(text, 0, &jerr);
    CHECK(j && json_is_object(j), "not a JSON object: %s", text);
    free(text);
    return j;
}

static void check_common(json_t *j, const geoloc_model *m) {
    CHECK(json_integer_value(json_object_get(j, "schema")) == 2, "schema");
    CHECK(!strcmp(json_string_value(json_object_get(j, "version")), GEOLOC_VERSION), "version");
    json_t *bb = json_object_get(j, "backbone");
    char arch[32];
    snprintf(arch, sizeof arch, "resnet%d", m->config.depth);
    CHECK(json_is_object(bb) && !strcmp(json_string_value(json_object_get(bb, "arch")), arch), "arch");
    CHECK(json_integer_value(json_object_get(j, "image_size")) == m->image_size && m->image_size > 0, "image size");
    json_t *parts = json_object_get(j, "partitions");
    CHECK(json_array_size(parts) == m->n_partitions && m->n_partitions > 0, "partitions");
    for (size_t i = 0; i < m->n_partitions && i < json_array_size(parts); i++) {
        json_t *p = json_array_get(parts, i);
        const geoloc_partition *mp = m->partitions[i];
        int lo = 99, hi = -1;
        for (size_t k = 0; k < mp->n; k++) {
            int l = geoloc_s2_level(mp->cell[k]);
            lo = l < lo ? l : lo;
            hi = l > hi ? l : hi;
        }
        CHECK(!strcmp(json_string_value(json_object_get(p, "name")), m->partition_names[i]), "name %zu", i);
        CHECK((size_t)json_integer_value(json_object_get(p, "cells")) == mp->n, "cells %zu", i);
        CHECK(json_integer_value(json_object_get(p, "min_level")) == lo, "min level %zu", i);
        CHECK(json_integer_value(json_object_get(p, "max_level")) == hi, "max level %zu", i);
        CHECK(json_object_size(p) == 4, "partition fields");
    }
}

int main(int argc, char **argv) {
    char path[4096];
    geoloc_error err;
    /* argv[2]: tests/data of the source tree */
    snprintf(path, sizeof path, "%s/../../share/geoloc/geoloc-default.safetensors", argc > 2 ? argv[2] : "tests/data");
    geoloc_model *m = NULL;
    if (geoloc_model_read_info(path, &m, &err)) {
        printf("SKIP: the default model %s: %s\n", path, err.message);
        return 77;
    }
    json_t *j = model_json(m, GEOLOC_PRECISION_F32);
    check_common(j, m);
    CHECK(!strcmp(json_string_value(json_object_get(j, "precision")), "f32"), "precision f32");
    CHECK(m->backbone[0], "the default model names its backbone");
    const char *slash = strrchr(m->backbone, '/');
    const char *file = json_string_value(json_object_get(json_object_get(j, "backbone"), "file"));
    CHECK(file && !strcmp(file, slash ? slash + 1 : m->backbone) && !strchr(file, '/'), "backbone file %s", file);
    CHECK(!json_object_get(json_object_get(j, "backbone"), "tuned"), "no fine-tuned stages");
    json_t *names = json_object_get(json_object_get(j, "scene"), "S3");
    CHECK(m->scene_classes[0] > 0 && json_array_size(names) == m->scene_classes[0], "S3 scene names");
    for (size_t s = 0; s < m->scene_classes[0] && s < json_array_size(names); s++)
        CHECK(!strcmp(json_string_value(json_array_get(names, s)), m->scene_names[s]), "scene %zu", s);
    CHECK(json_is_false(json_object_get(json_object_get(j, "scene"), "isn")), "no ISNs");
    CHECK(json_object_size(j) == 7, "fields: schema version backbone image_size precision partitions scene");
    json_decref(j);

    /* fine-tuned stages over the backbone file */
    m->tuned_from = 3;
    j = model_json(m, GEOLOC_PRECISION_F32);
    json_t *tuned = json_object_get(json_object_get(j, "backbone"), "tuned");
    CHECK(json_array_size(tuned) == 2 && !strcmp(json_string_value(json_array_get(tuned, 0)), "layer3") &&
              !strcmp(json_string_value(json_array_get(tuned, 1)), "layer4"), "tuned stages");
    json_decref(j);
    m->tuned_from = 0;

    /* no scene head, backbone in the file */
    size_t n_scenes = m->n_scenes;
    m->n_scenes = 0;
    m->backbone[0] = 0;
    j = model_json(m, GEOLOC_PRECISION_INT8);
    check_common(j, m);
    CHECK(!strcmp(json_string_value(json_object_get(j, "precision")), "int8"), "precision int8");
    CHECK(json_is_null(json_object_get(j, "scene")), "scene null");
    CHECK(!json_object_get(json_object_get(j, "backbone"), "file"), "no backbone file");
    json_decref(j);
    m->n_scenes = n_scenes;
    geoloc_model_free(m);
    TEST_END();
}
