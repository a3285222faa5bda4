/* A tiny geolocation model built in memory for tests and fuzz targets (the
 * server's engine, fuzz_locate, test_model's model files): a
 * torch-initialised ResNet-18 fed 64-pixel crops, partitions of 1, 2 and 3
 * cells around Paris nested into a complete hierarchy, a scene head of 3
 * classes (or other scene heads, fewer partitions). Exits on failure. */
#ifndef GEOLOC_TEST_TINY_MODEL_H
#define GEOLOC_TEST_TINY_MODEL_H

#include <stdio.h>
#include <stdlib.h>

#include "geo/partition_internal.h"
#include "geoloc/model.h"
#include "geoloc/s2.h"

/* The tiny model with the given scene heads (NULL: none), the first
 * n_partitions of its partitions (0: a scene classifier) and seed (0: every
 * parameter zero, so each head's logits are its biases). */
static inline geoloc_model *tiny_model_create_with(const geoloc_scene_heads *scenes, size_t n_partitions,
                                                   uint64_t seed) {
    static const char *const names[3] = {"coarse", "middle", "fine"};
    geoloc_cell root = geoloc_s2_parent(geoloc_s2_from_latlng(48.86, 2.35), 2);
    geoloc_partition *p[3] = {partition_alloc(1), partition_alloc(2), partition_alloc(3)};
    geoloc_cell cells[3][3] = {{root},
                               {geoloc_s2_child(root, 0), geoloc_s2_child(root, 3)},
                               {geoloc_s2_child(geoloc_s2_child(root, 0), 1), geoloc_s2_child(geoloc_s2_child(root, 0), 2),
                                geoloc_s2_child(root, 3)}};
    for (int f = 0; f < 3; f++) {
        for (size_t k = 0; k < p[f]->n; k++) {
            p[f]->cell[k] = cells[f][k];
            p[f]->count[k] = 60 + k;
            geoloc_s2_center(cells[f][k], &p[f]->lat[k], &p[f]->lng[k]);
        }
        partition_index(p[f]);
        p[f]->num_images = 200;
    }
    geoloc_resnet_config cfg;
    geoloc_resnet_config_default(&cfg, 18, 1);
    geoloc_model *m = NULL;
    geoloc_error err = {0};
    if (geoloc_model_create(&cfg, (const geoloc_partition *const *)p, names, n_partitions, scenes, seed, &m, &err) !=
        GEOLOC_OK) {
        fprintf(stderr, "tiny model: %s\n", err.message);
        exit(1);
    }
    m->image_size = 64;
    for (int f = 0; f < 3; f++) geoloc_partition_free(p[f]);
    return m;
}

static inline geoloc_model *tiny_model_create(void) {
    static const char *const scenes[3] = {"indoor", "natural", "urban"};
    return tiny_model_create_with(&(geoloc_scene_heads){.names = {scenes}, .n = {3}}, 3, 5);
}

#endif
