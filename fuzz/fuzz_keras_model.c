/* libFuzzer target: the Keras ResNet-50 import's readers on the same bytes:
 * model.json (geoloc_keras_model_parse: JSON, topology, weightsManifest) and
 * labels.json (geoloc_keras_labels_parse, 3 classes so small inputs can pass).
 * Whatever they accept must be consistent: 320 weights in torchvision order,
 * each inside its group's bytes, the group's weights tiling it exactly; the
 * labels joined into 3 lines. */
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"
#include "geoloc/keras.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size) {
    /* a private copy of exactly the input's size: ASan sees reads past its end */
    char *copy = malloc(size ? size : 1);
    if (!copy) return 0;
    memcpy(copy, data, size);
    geoloc_keras_model *m = NULL;
    geoloc_error err;
    err.message[0] = '\0';
    if (geoloc_keras_model_parse(copy, size, "fuzz/model.json", &m, &err) == GEOLOC_OK) {
        REQUIRE(m && geoloc_keras_model_weight_count(m) == GEOLOC_KERAS_RESNET50_WEIGHTS);
        size_t groups = geoloc_keras_model_group_count(m);
        REQUIRE(groups >= 1);
        for (size_t g = 0; g < groups; g++) {
            uint64_t covered = 0;
            for (size_t i = 0; i < geoloc_keras_model_weight_count(m); i++) {
                const geoloc_keras_weight *w = geoloc_keras_model_weight(m, i);
                REQUIRE(w && w->group < groups && w->ndim >= 1 && w->ndim <= 4);
                if (w->group != g) continue;
                REQUIRE(w->offset + 4 * w->n_elements <= geoloc_keras_model_group_bytes(m, g));
                covered += 4 * w->n_elements;
            }
            REQUIRE(covered == geoloc_keras_model_group_bytes(m, g));
            for (size_t k = 0; k < geoloc_keras_model_shard_count(m, g); k++) {
                const char *p = geoloc_keras_model_shard(m, g, k);
                REQUIRE(p && p[0] && p[0] != '/');
            }
        }
        geoloc_keras_model_free(m);
    } else {
        REQUIRE(m == NULL && err.message[0] != '\0');
    }
    char *joined = NULL;
    err.message[0] = '\0';
    if (geoloc_keras_labels_parse(copy, size, "fuzz/labels.json", 3, &joined, &err) == GEOLOC_OK) {
        REQUIRE(joined);
        size_t lines = 1;
        for (const char *p = joined; *p; p++) lines += *p == '\n';
        REQUIRE(lines == 3);
        free(joined);
    } else {
        REQUIRE(joined == NULL && err.message[0] != '\0');
    }
    free(copy);
    return 0;
}
