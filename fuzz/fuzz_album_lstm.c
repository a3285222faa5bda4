/* libFuzzer target: the album LSTM file reader (geoloc_album_lstm_load_buffer)
 * for the tests' tiny model (tests/tiny_model.h). A file it accepts reads an
 * album of 3 photos of zero features: every photo's probabilities are finite
 * and sum to 1 in every partition. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#include "fuzz_util.h"
#include "geoloc/album_lstm.h"
#include "model/album_lstm_internal.h"
#include "tiny_model.h"

enum { PHOTOS = 3 };

static geoloc_model *model;

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size) {
    if (!model) model = tiny_model_create();
    geoloc_album_lstm *a = NULL;
    geoloc_error err = {0};
    if (geoloc_album_lstm_load_buffer(data, size, "fuzz.safetensors", model, &a, &err) != GEOLOC_OK) {
        REQUIRE(!a && err.message[0]);
        return 0;
    }
    float *features = calloc(PHOTOS * (size_t)a->dim, sizeof(float));
    float *probs[GEOLOC_MODEL_MAX_PARTITIONS] = {0};
    int ok = features != NULL;
    for (size_t f = 0; f < model->n_partitions; f++) ok &= (probs[f] = malloc(PHOTOS * a->classes[f] * sizeof(float))) != NULL;
    if (ok) {
        REQUIRE(geoloc_album_lstm_probs(a, features, PHOTOS, probs, &err) == GEOLOC_OK);
        for (size_t f = 0; f < model->n_partitions; f++)
            for (size_t i = 0; i < PHOTOS; i++) {
                double sum = 0;
                for (size_t k = 0; k < a->classes[f]; k++) {
                    float p = probs[f][i * a->classes[f] + k];
                    REQUIRE(isfinite(p) && p >= 0);
                    sum += p;
                }
                REQUIRE(fabs(sum - 1) < 1e-4);
            }
    }
    for (size_t f = 0; f < model->n_partitions; f++) free(probs[f]);
    free(features);
    geoloc_album_lstm_free(a);
    return 0;
}
