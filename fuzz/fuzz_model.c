/* libFuzzer target: model-file validation (geoloc_model_read_info_buffer:
 * format version, metadata, partition tensors, hierarchy, heads, fine-tuned
 * backbone stages). Whatever it accepts must be consistent: valid, non-nested
 * cells with finite means, the stored hierarchy equal to the one the cells
 * give, one head per partition of its size (then the scene head), names and
 * sizes in range, fine-tuned stages only over a named backbone, F16 or F32. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"
#include "geoloc/model.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size) {
    unsigned char *copy = malloc(size ? size : 1); /* exactly the input's size: reads past it are caught */
    if (!copy) return 0;
    memcpy(copy, data, size);
    geoloc_model *m = NULL;
    geoloc_error err;
    err.message[0] = '\0';
    if (geoloc_model_read_info_buffer(copy, size, "fuzz.safetensors", &m, &err) == GEOLOC_OK) {
        REQUIRE(m && !m->net);
        REQUIRE(m->n_partitions >= 1 && m->n_partitions <= GEOLOC_MODEL_MAX_PARTITIONS);
        REQUIRE(m->config.n_heads == m->n_partitions + (m->n_scenes > 0));
        REQUIRE(m->image_size >= 32 && m->image_size <= 4096);
        REQUIRE(m->tuned_from == 0 || (m->backbone[0] && m->tuned_from >= 1 && m->tuned_from <= 4 &&
                                       (m->tuned_dtype == GEOLOC_DTYPE_F16 || m->tuned_dtype == GEOLOC_DTYPE_F32)));
        for (size_t f = 0; f < m->n_partitions; f++) {
            const geoloc_partition *p = m->partitions[f];
            REQUIRE(p && p->n >= 1 && (size_t)m->config.heads[f].classes == p->n);
            REQUIRE(strlen(m->partition_names[f]) >= 1);
            for (size_t k = 0; k < p->n; k++) {
                REQUIRE(geoloc_s2_is_valid(p->cell[k]));
                REQUIRE(fabs(p->lat[k]) <= 90 && fabs(p->lng[k]) <= 180);
                REQUIRE(geoloc_partition_find(p, p->cell[k]) == (long)k); /* no nesting, no repeats */
            }
            for (size_t c = 0; c < f; c++)
                for (size_t k = 0; k < p->n; k++)
                    REQUIRE(m->ancestor[f][c][k] == geoloc_partition_find(m->partitions[c], p->cell[k]));
        }
        if (m->n_scenes) REQUIRE((size_t)m->config.heads[m->n_partitions].classes == m->n_scenes);
        for (size_t s = 0; s < m->n_scenes; s++) REQUIRE(m->scene_names[s] && m->scene_names[s][0]);
        for (size_t k = 0; k < m->n_meta; k++) REQUIRE(geoloc_model_get_meta(m, m->meta_keys[k]) == m->meta_values[k]);
        geoloc_model_free(m);
    } else {
        REQUIRE(m == NULL && err.message[0] != '\0');
    }
    free(copy);
    return 0;
}
