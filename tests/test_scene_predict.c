/* Scene prediction and Individual Scene Network routing on tiny models built
 * in memory with every weight zero, so that each head's logits are its
 * biases and every answer is a softmax of crafted biases:
 * - a scene classifier (no partitions; S3 and S16 heads): accepted by
 *   geoloc_predictor_create, refused by geoloc_predict, and its
 *   geoloc_predict_scenes rows equal the softmax of each level's biases; it
 *   is written and read back; on a
 *   random model they equal the crop average of the network's rows; batch
 *   prediction of a file carries them in the answer;
 * - an ISN model: soft, hard and none routing and oracle re-routing
 *   (geoloc_predictor_route) give different distributions, each equal to its
 *   direct computation; bad routing weights are refused. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "geoloc/model.h"
#include "geoloc/predict.h"
#include "test_util.h"
#include "tiny_model.h"

static const char *const S3[3] = {"indoor", "natural", "urban"};
static const char *const S16[16] = {"a", "b", "c", "d", "e", "f", "g", "h",
                                    "i", "j", "k", "l", "m", "n", "o", "p"};

/* Sets the biases of the head with a role to v[0..n). */
static void set_bias(geoloc_model *m, geoloc_head_role role, size_t k, const float *v, size_t n) {
    int h = geoloc_model_head(m, role, k);
    CHECK(h >= 0, "head %d/%zu missing", (int)role, k);
    if (h < 0) exit(1);
    char name[GEOLOC_NN_HEAD_NAME + 16];
    snprintf(name, sizeof name, "%s.bias", m->config.heads[h].name);
    geoloc_param *b = geoloc_net_find_param(m->net, name);
    CHECK(b && b->n == n, "%s: %zu biases", name, b ? b->n : 0);
    memcpy(b->data, v, n * sizeof *v);
}

static void softmax_d(const float *bias, size_t n, double *out) {
    double max = bias[0], sum = 0;
    for (size_t k = 1; k < n; k++) max = bias[k] > max ? bias[k] : max;
    for (size_t k = 0; k < n; k++) sum += out[k] = exp(bias[k] - max);
    for (size_t k = 0; k < n; k++) out[k] /= sum;
}

static geoloc_image make_image(int w, int h, int seed) {
    geoloc_image img = {.width = w, .height = h, .rgb = malloc((size_t)w * (size_t)h * 3)};
    for (size_t k = 0; k < (size_t)w * (size_t)h * 3; k++) img.rgb[k] = (uint8_t)((k * 31 + (size_t)seed * 97) % 251);
    return img;
}

static geoloc_predictor *predictor(const geoloc_model *m, geoloc_crop_mode crops, int partition, int batch,
                                   geoloc_isn_routing isn) {
    geoloc_predict_options o = geoloc_predict_options_default();
    o.crops = crops, o.partition = partition, o.batch = batch, o.isn = isn;
    geoloc_predictor *p = NULL;
    geoloc_error err = {0};
    CHECK(geoloc_predictor_create(m, &o, &p, &err) == GEOLOC_OK, "predictor: %s", err.message);
    if (!p) exit(1);
    return p;
}

static geoloc_model *scene_classifier(uint64_t seed) {
    return tiny_model_create_with(&(geoloc_scene_heads){.names = {S3, S16}, .n = {3, 16}}, 0, seed);
}

static int answer_scenes(void *ctx, const geoloc_photo_answer *a) {
    float *out = ctx;
    CHECK(a->pred && a->scenes && a->pred->n_top == 0, "%s: %s", a->name, a->error ? a->error : "no scenes");
    if (a->scenes) memcpy(out, a->scenes, 19 * sizeof *out);
    if (a->pred) out[19] = (float)a->pred->scene[0], out[20] = (float)a->pred->scene[1];
    return 0;
}

/* A scene classifier's probabilities: the softmax of the biases per level. */
static void test_scene_classifier(const char *photo) {
    geoloc_model *m = scene_classifier(0);
    CHECK(m->n_partitions == 0 && m->n_scenes == 19 && m->scene_offset[1] == 3, "scene classifier: %zu scenes",
          m->n_scenes);
    float b3[3] = {0.5f, -1.0f, 1.5f}, b16[16];
    for (int k = 0; k < 16; k++) b16[k] = (float)sin(1.3 * k);
    set_bias(m, GEOLOC_HEAD_SCENE, GEOLOC_SCENE_LEVEL_S3, b3, 3);
    set_bias(m, GEOLOC_HEAD_SCENE, GEOLOC_SCENE_LEVEL_S16, b16, 16);
    double want[19];
    softmax_d(b3, 3, want);
    softmax_d(b16, 16, want + 3);
    char dir[] = "/tmp/geoloc_test_scene_XXXXXX", path[64];
    test_make_temp_dir(dir);
    snprintf(path, sizeof path, "%s/scene.safetensors", dir);
    geoloc_model *back = NULL;
    geoloc_error err = {0};
    CHECK(geoloc_model_save(m, path, 0, NULL, &err) == GEOLOC_OK && geoloc_model_load(path, &back, &err) == GEOLOC_OK,
          "scene classifier written and read back: %s", err.message);
    CHECK(back && back->n_partitions == 0 && back->n_scenes == 19 && !strcmp(back->scene_names[3], "a"),
          "scene classifier read back: %zu scenes", back ? back->n_scenes : 0);
    geoloc_model_free(back);
    test_remove_tree(dir);
    geoloc_image img[3] = {make_image(80, 64, 1), make_image(64, 100, 2), make_image(70, 70, 3)};
    float probs[3 * 19];
    geoloc_predictor *p = predictor(m, GEOLOC_CROPS_THREE, -1, 2, GEOLOC_ISN_SOFT);
    CHECK(geoloc_predict_scenes(p, img, 3, probs, &err) == GEOLOC_OK, "predict scenes: %s", err.message);
    double worst = 0;
    for (int i = 0; i < 3; i++)
        for (int k = 0; k < 19; k++) worst = fmax(worst, fabs(probs[i * 19 + k] - want[k]));
    CHECK(worst < 1e-6, "scene probabilities off by %g", worst);
    geoloc_prediction pred[3];
    err.message[0] = 0;
    CHECK(geoloc_predict(p, img, 3, pred, NULL, &err) == GEOLOC_E_ARG && strstr(err.message, "scene classifier"),
          "geoloc_predict refuses a scene classifier: '%s'", err.message);
    /* a file through batch prediction */
    float got[21] = {0};
    geoloc_photo_input in = {.path = photo};
    geoloc_batch_stats st;
    CHECK(geoloc_predict_photos(p, &in, 1, 0, answer_scenes, got, &st, &err) == GEOLOC_OK && st.predicted == 1,
          "predict photos: %s", err.message);
    worst = 0;
    for (int k = 0; k < 19; k++) worst = fmax(worst, fabs(got[k] - want[k]));
    CHECK(worst < 1e-6 && got[19] == 2 && got[20] == 6, "batch answer: off by %g, S3 %g, S16 %g", worst,
          (double)got[19], (double)got[20]);
    geoloc_predictor_free(p);
    /* a partition that a scene classifier does not have */
    geoloc_predict_options o = geoloc_predict_options_default();
    o.partition = 0;
    CHECK(geoloc_predictor_create(m, &o, &p, &err) == GEOLOC_E_ARG, "partition 0 of a scene classifier refused");
    geoloc_model_free(m);

    /* random weights: the crops' rows averaged, five crops */
    m = scene_classifier(7);
    p = predictor(m, GEOLOC_CROPS_FIVE, -1, 3, GEOLOC_ISN_SOFT);
    CHECK(geoloc_predict_scenes(p, img, 3, probs, &err) == GEOLOC_OK, "predict scenes: %s", err.message);
    worst = 0;
    double spread = 0;
    for (size_t i = 0; i < 3; i++) {
        const float *geo[GEOLOC_MODEL_MAX_PARTITIONS], *rows;
        int crops = geoloc_predictor_probs(p, i, geo, &rows);
        CHECK(crops == 5, "five crops: %d", crops);
        for (int k = 0; k < 19; k++) {
            double mean = 0;
            for (int c = 0; c < crops; c++) mean += rows[c * 19 + k] / crops;
            worst = fmax(worst, fabs(probs[i * 19 + k] - mean));
            spread = fmax(spread, fabs(rows[k] - mean));
        }
    }
    CHECK(worst < 1e-6 && spread > 1e-6, "crop average off by %g (crops differ by %g)", worst, spread);
    geoloc_predictor_free(p);
    geoloc_model_free(m);

    /* a geolocation model without a scene head */
    m = tiny_model_create_with(NULL, 2, 0);
    p = predictor(m, GEOLOC_CROPS_CENTER, -1, 1, GEOLOC_ISN_SOFT);
    CHECK(geoloc_predict_scenes(p, img, 1, probs, &err) == GEOLOC_E_ARG, "no scene head: refused");
    geoloc_predictor_free(p);
    geoloc_model_free(m);
    for (int i = 0; i < 3; i++) geoloc_image_free(&img[i]);
}

/* Partition 1 (2 cells) of an ISN model: none, soft, hard and oracle. */
static void test_isn(void) {
    geoloc_model *m = tiny_model_create_with(&(geoloc_scene_heads){.names = {S3}, .n = {3}, .isn = 1}, 2, 0);
    CHECK(m->n_isn == 3, "ISN sets: %zu", m->n_isn);
    float s3[3] = {0.2f, 1.1f, 0.6f}, geo[2] = {0.9f, -0.3f}, isn[3][2] = {{2.0f, 0.0f}, {-1.0f, 0.5f}, {0.1f, 1.7f}};
    float one = 0;
    set_bias(m, GEOLOC_HEAD_SCENE, GEOLOC_SCENE_LEVEL_S3, s3, 3);
    set_bias(m, GEOLOC_HEAD_GEO, 0, &one, 1);
    set_bias(m, GEOLOC_HEAD_GEO, 1, geo, 2);
    for (size_t s = 0; s < 3; s++) {
        set_bias(m, GEOLOC_HEAD_ISN, s * 2, &one, 1);
        set_bias(m, GEOLOC_HEAD_ISN, s * 2 + 1, isn[s], 2);
    }
    double w[3], want[4][2], per[3][2]; /* want: none, soft, hard, oracle (urban) */
    softmax_d(s3, 3, w);
    softmax_d(geo, 2, want[0]);
    for (int s = 0; s < 3; s++) softmax_d(isn[s], 2, per[s]);
    for (int k = 0; k < 2; k++) {
        want[1][k] = w[0] * per[0][k] + w[1] * per[1][k] + w[2] * per[2][k];
        want[2][k] = per[1][k]; /* natural is the most probable */
        want[3][k] = per[2][k];
    }
    for (int a = 0; a < 4; a++)
        for (int b = a + 1; b < 4; b++)
            CHECK(fabs(want[a][0] - want[b][0]) > 0.01, "routings %d and %d differ", a, b);
    geoloc_image img = make_image(64, 64, 4);
    const geoloc_isn_routing routing[3] = {GEOLOC_ISN_NONE, GEOLOC_ISN_SOFT, GEOLOC_ISN_HARD};
    geoloc_error err = {0};
    for (int r = 0; r < 3; r++) {
        geoloc_predictor *p = predictor(m, GEOLOC_CROPS_THREE, 1, 1, routing[r]);
        geoloc_prediction pred;
        float dist[2], *d = dist;
        CHECK(geoloc_predict(p, &img, 1, &pred, &d, &err) == GEOLOC_OK, "routing %d: %s", r, err.message);
        CHECK(fabs(dist[0] - want[r][0]) < 1e-6 && fabs(dist[1] - want[r][1]) < 1e-6,
              "routing %d: %g %g, want %g %g", r, (double)dist[0], (double)dist[1], want[r][0], want[r][1]);
        double urban[3] = {0, 0, 1};
        geoloc_status s = geoloc_predictor_route(p, 0, urban, &err);
        if (routing[r] == GEOLOC_ISN_NONE) {
            CHECK(s == GEOLOC_E_ARG, "routing none: re-routing refused");
        } else { /* oracle: the true scene's heads, through the one answer function */
            const float *rows[GEOLOC_MODEL_MAX_PARTITIONS], *scene;
            int crops = geoloc_predictor_probs(p, 0, rows, &scene);
            CHECK(s == GEOLOC_OK && geoloc_answer_from_probs(m, rows, scene, (size_t)crops, 1, 2, &pred, dist, &err) ==
                                        GEOLOC_OK, "oracle: %s", err.message);
            CHECK(fabs(dist[0] - want[3][0]) < 1e-6 && fabs(dist[1] - want[3][1]) < 1e-6,
                  "oracle after %d: %g %g, want %g %g", r, (double)dist[0], (double)dist[1], want[3][0], want[3][1]);
            double half[3] = {0.5, 0.6, 0}, neg[3] = {-0.5, 1.5, 0};
            CHECK(geoloc_predictor_route(p, 0, half, &err) == GEOLOC_E_ARG && strstr(err.message, "sum"),
                  "weights summing to 1.1 refused: %s", err.message);
            CHECK(geoloc_predictor_route(p, 0, neg, &err) == GEOLOC_E_ARG, "a negative weight refused");
            CHECK(geoloc_predictor_route(p, 1, urban, &err) == GEOLOC_E_ARG, "photo 1 of a batch of 1 refused");
        }
        geoloc_predictor_free(p);
    }
    geoloc_model_free(m);
    m = tiny_model_create_with(NULL, 2, 0);
    geoloc_predictor *p = predictor(m, GEOLOC_CROPS_CENTER, -1, 1, GEOLOC_ISN_SOFT);
    double urban[3] = {0, 0, 1};
    CHECK(geoloc_predictor_route(p, 0, urban, &err) == GEOLOC_E_ARG, "a model without ISNs: re-routing refused");
    geoloc_predictor_free(p);
    geoloc_model_free(m);
    geoloc_image_free(&img);
}

int main(int argc, char **argv) {
    char photo[4096];
    snprintf(photo, sizeof photo, "%s/../../share/geoloc/example.jpg", argc > 2 ? argv[2] : ".");
    test_scene_classifier(photo);
    test_isn();
    TEST_END();
}
