/* Model files of format 2 with scene heads at several levels (S3, S16, S365),
 * Individual Scene Networks and scene classifiers (no partitions): written and
 * read back head for head; files of format 1 (one head named "scene") still
 * load; ISN routing (soft, hard, none) and each level's scene answer checked
 * against a direct computation from crafted head biases; hostile files (an
 * ISN head missing, geoloc.isn without an S3 head, both scene keys) refused
 * with messages naming file and tensor or key. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "geoloc/model.h"
#include "geoloc/safetensors.h"
#include "model_file_edit.h"
#include "test_util.h"
#include "tiny_model.h"

static char dir[] = "/tmp/geoloc_test_model_scenes_XXXXXX";

static const char *path_of(const char *name, char *out, size_t size) {
    snprintf(out, size, "%s/%s", dir, name);
    return out;
}

/* n names "<prefix><k>" (freed with free_names). */
static char **make_names(const char *prefix, size_t n) {
    char **names = calloc(n, sizeof *names);
    for (size_t k = 0; k < n; k++) {
        names[k] = malloc(32);
        snprintf(names[k], 32, "%s%zu", prefix, k);
    }
    return names;
}

static void free_names(char **names, size_t n) {
    for (size_t k = 0; k < n; k++) free(names[k]);
    free(names);
}

/* A ResNet-18 model on the tiny model's partitions (n_partitions of them: 0
 * makes a scene classifier) with the scene levels of n[] and ISNs when isn. */
static geoloc_model *make_model(const geoloc_model *tiny, size_t n_partitions, const size_t n[3], int isn) {
    static const char *const names[3] = {"coarse", "middle", "fine"};
    char **level_names[3];
    geoloc_scene_heads sc = {.isn = isn};
    for (int l = 0; l < 3; l++) {
        level_names[l] = make_names(l == 0 ? "s3_" : l == 1 ? "s16_" : "s365_", n[l]);
        sc.names[l] = (const char *const *)level_names[l];
        sc.n[l] = n[l];
    }
    geoloc_resnet_config cfg;
    geoloc_resnet_config_default(&cfg, 18, 1);
    geoloc_model *m = NULL;
    geoloc_error err = {0};
    geoloc_status s = geoloc_model_create(&cfg, (const geoloc_partition *const *)tiny->partitions, names,
                                          n_partitions, &sc, 7, &m, &err);
    CHECK(s == GEOLOC_OK, "create: %s", err.message);
    for (int l = 0; l < 3; l++) free_names(level_names[l], n[l]);
    if (m) m->image_size = 64;
    return m;
}

/* Zero weights and biases bias(h, k) for every head: the heads' outputs are
 * the softmax of their biases whatever the photo. */
static double bias_of(size_t h, size_t k) { return 1.5 * sin(0.9 * (double)k + 1.3 * (double)h) + (k == h % 3); }

static void craft_heads(geoloc_model *m) {
    for (size_t h = 0; h < m->config.n_heads; h++) {
        char name[GEOLOC_NN_HEAD_NAME + 16];
        snprintf(name, sizeof name, "%s.weight", m->config.heads[h].name);
        geoloc_param *w = geoloc_net_find_param(m->net, name);
        memset(w->data, 0, w->n * sizeof(float));
        snprintf(name, sizeof name, "%s.bias", m->config.heads[h].name);
        geoloc_param *b = geoloc_net_find_param(m->net, name);
        for (size_t k = 0; k < b->n; k++) b->data[k] = (float)bias_of(h, k);
    }
}

static void softmax_of_head(const geoloc_model *m, int h, double *out) {
    size_t n = (size_t)m->config.heads[h].classes;
    double max = -1e300, sum = 0;
    for (size_t k = 0; k < n; k++) max = fmax(max, (double)(float)bias_of((size_t)h, k));
    for (size_t k = 0; k < n; k++) sum += out[k] = exp((double)(float)bias_of((size_t)h, k) - max);
    for (size_t k = 0; k < n; k++) out[k] /= sum;
}

/* ---- files ---- */

static void test_round_trip(const geoloc_model *tiny) {
    const size_t n[3] = {3, 16, 365};
    geoloc_model *m = make_model(tiny, 3, n, 1);
    if (!m) return;
    CHECK(m->config.n_heads == 3 + 3 + 9 && m->n_isn == 3 && m->n_scenes == 384, "heads %zu, isn %zu, scenes %zu",
          m->config.n_heads, m->n_isn, m->n_scenes);
    const char *want[] = {"geo0", "geo1", "geo2", "scene_S3", "scene_S16", "scene_S365", "isn0_geo0", "isn0_geo1",
                          "isn0_geo2", "isn1_geo0", "isn1_geo1", "isn1_geo2", "isn2_geo0", "isn2_geo1", "isn2_geo2"};
    for (size_t h = 0; h < m->config.n_heads && h < 15; h++)
        CHECK(!strcmp(m->config.heads[h].name, want[h]), "head %zu is %s, %s expected", h, m->config.heads[h].name, want[h]);
    CHECK(geoloc_model_head(m, GEOLOC_HEAD_SCENE, GEOLOC_SCENE_LEVEL_S16) == 4 &&
          geoloc_model_head(m, GEOLOC_HEAD_ISN, 2 * 3 + 1) == 13 && geoloc_model_head(m, GEOLOC_HEAD_ISN, 9) == -1,
          "heads by role");
    CHECK(!strcmp(geoloc_model_scene_name(m, 1, 15), "s16_15") && !geoloc_model_scene_name(m, 1, 16) &&
          !strcmp(geoloc_model_scene_name(m, 2, 0), "s365_0"), "scene names by level");
    craft_heads(m);
    char path[512];
    geoloc_error err = {0};
    CHECK(geoloc_model_save(m, path_of("isn.safetensors", path, sizeof path), 0, NULL, &err) == GEOLOC_OK, "save: %s",
          err.message);
    geoloc_model *back = NULL;
    CHECK(geoloc_model_load(path, &back, &err) == GEOLOC_OK, "load: %s", err.message);
    if (back) {
        int same = back->config.n_heads == m->config.n_heads && back->n_isn == 3 && !back->scene_legacy;
        for (int l = 0; l < 3; l++) same &= back->scene_classes[l] == n[l] && back->scene_offset[l] == m->scene_offset[l];
        for (size_t s = 0; same && s < m->n_scenes; s++) same = !strcmp(back->scene_names[s], m->scene_names[s]);
        for (size_t h = 0; same && h < m->config.n_heads; h++) {
            char name[GEOLOC_NN_HEAD_NAME + 16];
            snprintf(name, sizeof name, "%s.bias", m->config.heads[h].name);
            const geoloc_param *a = geoloc_net_find_param(m->net, name), *b = geoloc_net_find_param(back->net, name);
            same = b && b->n == a->n && !memcmp(a->data, b->data, a->n * sizeof(float));
        }
        CHECK(same, "the file holds every scene level, name and ISN head");
    }
    geoloc_model_free(back);
    geoloc_model_free(m);
}

/* The hierarchical distribution the answer module gives for geo rows g[f]. */
static void hierarchical(const geoloc_model *m, double *const g[3], double *out) {
    size_t n = m->partitions[2]->n;
    double total = 0;
    for (size_t k = 0; k < n; k++) {
        out[k] = g[2][k] * g[1][m->ancestor[2][1][k]] * g[0][m->ancestor[2][0][k]];
        total += out[k];
    }
    for (size_t k = 0; k < n; k++) out[k] /= total;
}

/* Soft, hard and no routing against the ISN heads' softmax mixed by hand;
 * each level's scene argmax against the biases. */
static void test_routing(const geoloc_model *tiny) {
    const size_t n[3] = {3, 16, 0};
    geoloc_model *m = make_model(tiny, 3, n, 1);
    if (!m) return;
    craft_heads(m);
    double s3[3], s16[16], g[3][3][3], base[3][3], mixed[3][3], want[3], got_best = 0;
    softmax_of_head(m, geoloc_model_head(m, GEOLOC_HEAD_SCENE, 0), s3);
    softmax_of_head(m, geoloc_model_head(m, GEOLOC_HEAD_SCENE, 1), s16);
    for (size_t s = 0; s < 3; s++)
        for (size_t f = 0; f < 3; f++) softmax_of_head(m, geoloc_model_head(m, GEOLOC_HEAD_ISN, s * 3 + f), g[s][f]);
    for (size_t f = 0; f < 3; f++) softmax_of_head(m, geoloc_model_head(m, GEOLOC_HEAD_GEO, f), base[f]);
    size_t best3 = 0, best16 = 0;
    for (size_t s = 1; s < 3; s++) best3 = s3[s] > s3[best3] ? s : best3;
    for (size_t s = 1; s < 16; s++) best16 = s16[s] > s16[best16] ? s : best16;
    geoloc_image img = {.width = 80, .height = 80, .rgb = calloc(80 * 80 * 3, 1)};
    for (int mode = GEOLOC_ISN_SOFT; mode <= GEOLOC_ISN_NONE; mode++) {
        for (size_t f = 0; f < 3; f++)
            for (size_t k = 0; k < m->partitions[f]->n; k++) {
                mixed[f][k] = 0;
                for (size_t s = 0; s < 3; s++)
                    mixed[f][k] += (mode == GEOLOC_ISN_SOFT ? s3[s] : s == best3) * g[s][f][k];
                if (mode == GEOLOC_ISN_NONE) mixed[f][k] = base[f][k];
            }
        hierarchical(m, (double *const[3]){mixed[0], mixed[1], mixed[2]}, want);
        geoloc_predict_options o = geoloc_predict_options_default();
        o.isn = (geoloc_isn_routing)mode;
        o.batch = 1;
        geoloc_predictor *p = NULL;
        geoloc_error err = {0};
        float dist[3];
        geoloc_prediction pred;
        CHECK(geoloc_predictor_create(m, &o, &p, &err) == GEOLOC_OK && geoloc_predict(p, &img, 1, &pred,
                                                                                      (float *[]){dist}, &err) ==
                                                                           GEOLOC_OK,
              "routing %d: %s", mode, err.message);
        double worst = 0;
        for (size_t k = 0; k < 3; k++) worst = fmax(worst, fabs(dist[k] - want[k]));
        CHECK(worst < 1e-5, "routing %d: the distribution is off by %g", mode, worst);
        CHECK(pred.scene[0] == (int)best3 && fabs(pred.scene_prob[0] - s3[best3]) < 1e-5 && pred.scene[1] == (int)best16 &&
              fabs(pred.scene_prob[1] - s16[best16]) < 1e-5 && pred.scene[2] == -1,
              "routing %d: scenes S3 %d (want %zu), S16 %d (want %zu)", mode, pred.scene[0], best3, pred.scene[1], best16);
        got_best += dist[0];
        geoloc_predictor_free(p);
    }
    CHECK(got_best > 0, "distributions");
    free(img.rgb);
    geoloc_model_free(m);
}

/* ---- format 1 and hostile files ---- */

static void test_format1(const geoloc_model *tiny) {
    const size_t n[3] = {0, 16, 0};
    geoloc_model *m = make_model(tiny, 3, n, 0);
    if (!m) return;
    craft_heads(m);
    char v2[512], step[512], v1[512];
    geoloc_error err = {0};
    CHECK(geoloc_model_save(m, path_of("s16.safetensors", v2, sizeof v2), 0, NULL, &err) == GEOLOC_OK, "%s",
          err.message);
    /* format 1: geoloc.scenes, a head "scene", geoloc.heads naming it */
    rewrite(v2, path_of("step1.safetensors", step, sizeof step),
            &(edit){.key = "geoloc.scenes.S16", .new_key = "geoloc.scenes", .prefix = "scene_S16", .new_prefix = "scene"});
    rewrite(step, path_of("step2.safetensors", v1, sizeof v1),
            &(edit){.key = "geoloc.heads", .value = "geo0:1,geo1:2,geo2:3,scene:16"});
    rewrite(v1, step, &(edit){.key = "geoloc.format", .value = "geoloc-model-1"});
    geoloc_model *old = NULL;
    CHECK(geoloc_model_load(step, &old, &err) == GEOLOC_OK, "format 1: %s", err.message);
    if (old) {
        CHECK(old->scene_legacy && old->scene_classes[1] == 16 && old->scene_classes[0] == 0 &&
                  geoloc_model_head(old, GEOLOC_HEAD_SCENE, 1) == 3 && !strcmp(old->config.heads[3].name, "scene"),
              "format 1: one S16 head named scene");
        geoloc_predictor *p = NULL;
        geoloc_image img = {.width = 64, .height = 64, .rgb = calloc(64 * 64 * 3, 1)};
        geoloc_prediction a, b;
        CHECK(geoloc_predictor_create(old, NULL, &p, &err) == GEOLOC_OK && geoloc_predict(p, &img, 1, &a, NULL, &err) ==
                                                                                GEOLOC_OK,
              "format 1 predicts: %s", err.message);
        geoloc_predictor_free(p);
        p = NULL;
        CHECK(geoloc_predictor_create(m, NULL, &p, &err) == GEOLOC_OK &&
                  geoloc_predict(p, &img, 1, &b, NULL, &err) == GEOLOC_OK,
              "%s", err.message);
        CHECK(a.scene[1] == b.scene[1] && a.scene_prob[1] == b.scene_prob[1] && a.lat == b.lat,
              "format 1 answers as format 2");
        geoloc_predictor_free(p);
        free(img.rgb);
        /* saved again, it stays one legacy head */
        CHECK(geoloc_model_save(old, v1, 0, NULL, &err) == GEOLOC_OK, "%s", err.message);
        geoloc_model_free(old);
        old = NULL;
        CHECK(geoloc_model_load(v1, &old, &err) == GEOLOC_OK && old->scene_legacy, "format 1 re-saved: %s",
              err.message);
    }
    geoloc_model_free(old);
    geoloc_model_free(m);
}

static void expect_refused(const char *path, const char *what, const char *m1, const char *m2) {
    geoloc_model *m = NULL;
    geoloc_error err = {0};
    geoloc_status s = geoloc_model_read_info(path, &m, &err);
    CHECK(s != GEOLOC_OK && !m && strstr(err.message, path) && strstr(err.message, m1) && (!m2 || strstr(err.message, m2)),
          "%s: status %d: %s", what, (int)s, err.message);
    geoloc_model_free(m);
}

static void test_hostile(const geoloc_model *tiny) {
    const size_t n[3] = {3, 0, 0};
    geoloc_model *m = make_model(tiny, 3, n, 1);
    if (!m) return;
    char src[512], dst[512];
    geoloc_error err = {0};
    CHECK(geoloc_model_save(m, path_of("isn3.safetensors", src, sizeof src), 0, NULL, &err) == GEOLOC_OK, "%s",
          err.message);
    path_of("hostile.safetensors", dst, sizeof dst);
    rewrite(src, dst, &(edit){.drop = "isn1_geo0.weight"});
    expect_refused(dst, "an ISN head missing", "isn1_geo0.weight", "no tensor");
    rewrite(src, dst, &(edit){.key = "geoloc.isn", .value = "S16"});
    expect_refused(dst, "geoloc.isn S16", "geoloc.isn", "S3");
    rewrite(src, dst, &(edit){.key = "geoloc.scenes", .value = "a\nb\nc"});
    expect_refused(dst, "both scene keys", "geoloc.scenes", "one or the other");
    rewrite(src, dst, &(edit){.key = "geoloc.scenes.S3", .value = "a\nb"});
    expect_refused(dst, "2 S3 names for 3 classes", "geoloc.heads", "expected");
    geoloc_model_free(m);
    /* creation: ISNs need an S3 head and partitions */
    geoloc_resnet_config cfg;
    geoloc_resnet_config_default(&cfg, 18, 1);
    static const char *const s16[2] = {"a", "b"};
    geoloc_model *bad = NULL;
    static const char *const names[1] = {"coarse"};
    CHECK(geoloc_model_create(&cfg, (const geoloc_partition *const *)tiny->partitions, names, 1,
                              &(geoloc_scene_heads){.names = {NULL, s16}, .n = {0, 2}, .isn = 1}, 0, &bad, &err) ==
                  GEOLOC_E_ARG && !bad && strstr(err.message, "S3"),
          "ISNs without S3: %s", err.message);
}

/* A scene classifier: no partitions, loads back, refused as a geo model. */
static void test_scene_only(const geoloc_model *tiny) {
    const size_t n[3] = {3, 16, 0};
    geoloc_model *m = make_model(tiny, 0, n, 0);
    if (!m) return;
    char path[512];
    geoloc_error err = {0};
    CHECK(geoloc_model_save(m, path_of("helper.safetensors", path, sizeof path), 0, NULL, &err) == GEOLOC_OK, "%s",
          err.message);
    geoloc_model *back = NULL;
    CHECK(geoloc_model_load(path, &back, &err) == GEOLOC_OK && back->n_partitions == 0 && back->config.n_heads == 2 &&
              back->scene_classes[1] == 16,
          "scene classifier: %s", err.message);
    geoloc_predictor *p = NULL;
    geoloc_image img = {.width = 64, .height = 64, .rgb = calloc(64 * 64 * 3, 1)};
    geoloc_prediction pred;
    CHECK(back && geoloc_predictor_create(back, NULL, &p, &err) == GEOLOC_OK &&
              geoloc_predict(p, &img, 1, &pred, NULL, &err) == GEOLOC_E_ARG && strstr(err.message, "scene classifier"),
          "a scene classifier answers no location: %s", err.message);
    geoloc_predictor_free(p);
    free(img.rgb);
    geoloc_model_free(back);
    geoloc_model_free(m);
    geoloc_resnet_config cfg;
    geoloc_resnet_config_default(&cfg, 18, 1);
    CHECK(geoloc_model_create(&cfg, NULL, NULL, 0, NULL, 0, &back, &err) == GEOLOC_E_ARG && !back,
          "no partitions and no scene: %s", err.message);
}

int main(void) {
    test_make_temp_dir(dir);
    geoloc_model *tiny = tiny_model_create();
    test_round_trip(tiny);
    test_routing(tiny);
    test_format1(tiny);
    test_hostile(tiny);
    test_scene_only(tiny);
    geoloc_model_free(tiny);
    test_remove_tree(dir);
    TEST_END();
}
