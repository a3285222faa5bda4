/* Training learns, through geoloc_train: a fixture whose labels are separable
 * in feature space. Four sites (Paris, Rome, Tokyo, Osaka), each
 * photographed in its own colour (a solid colour with per-photo brightness
 * and pixel noise), with 8/6/5/5 training and 2 validation photos per site;
 * two partitions built on the training photos (tau_max 1000: the level-2
 * cells; tau_max 8: one cell per site) and a scene head whose label is a
 * function of the site. A random ResNet-18 is the backbone.
 *   heads mode (cached features, linear heads), 15 epochs: the last epoch's
 *     mean training loss (mean of the geo heads' cross-entropies plus the
 *     scene's) must be below 0.05 (untrained heads start near
 *     ln 4 + ln 3; this fixture ends at 0 in float), the first epoch's at
 *     least 10 times higher, and validation must place every photo within
 *     25 km, above the most-populated-cell prior (8 of 24 training photos in
 *     one site: 2 of 8 validation photos);
 *   full mode (the whole network, random resized crops), 4 epochs of 3
 *     steps at lr 0.01: the epoch loss must at least halve (measured 2.50 to
 *     1.07) and validation must beat the prior (measured 6 of 8).
 * A skipped optimizer update fails both.
 * Scene heads (heads mode, the same features cache):
 *   every level (S3, S16, S365; labels functions of the site) with ISN heads:
 *     the loss must fall 10-fold below 0.05, every level's validation
 *     accuracy be 1 and every photo placed within 25 km; the model file
 *     loads back with its 3 scene heads (S16 named from share/geoloc/scenes)
 *     and 3 x 2 ISN heads; a Tokyo photo is placed in Tokyo, but not when
 *     the S3 head is forced to natural (ISN 1: Rome's photos alone);
 *   a scene classifier (no partitions): the loss falls 10-fold, every
 *     level's accuracy is 1, no distances;
 *   label propagation: from a helper whose S16 head is crafted to answer
 *     class 7 for every photo, the photos without S16 labels get 7 (the
 *     trained S16 head then answers 7), and a geo model as helper is
 *     refused. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <png.h>

#include "geoloc/dataset.h"
#include "geoloc/distance.h"
#include "geoloc/model.h"
#include "geoloc/nn.h"
#include "geoloc/train.h"
#include "image_fixtures.h"
#include "nn_reference.h"
#include "test_util.h"

enum { SITES = 4, VAL_PER_SITE = 2, SIDE = 112, EPOCHS = 15, FULL_EPOCHS = 4 };

static const struct {
    const char *name;
    double lat, lng;
    unsigned char rgb[3];
    int n_train;
    int scene; /* S3: 0 indoor, 1 natural, 2 urban */
    int s16, s365;
} site[SITES] = {
    {"paris", 48.8566, 2.3522, {220, 40, 40}, 8, 2, 14, 300},
    {"rome", 41.9028, 12.4964, {40, 200, 60}, 6, 1, 8, 200},
    {"tokyo", 35.6762, 139.6503, {50, 70, 220}, 5, 0, 2, 20},
    {"osaka", 34.6937, 135.5023, {230, 220, 50}, 5, 2, 12, 364},
};

static char dir[64] = "/tmp/geoloc_test_learn_XXXXXX";

static const char *path_in(const char *name) {
    static char buf[16][1024];
    static int next;
    char *p = buf[next++ % 16];
    snprintf(p, 1024, "%s/%s", dir, name);
    return p;
}

/* Photo `k` of site s: the site's colour, brightness and pixel noise from stream 4000 + k. */
static int write_photo(int s, int k, const char *name) {
    static unsigned char rgb[SIDE * SIDE * 3];
    double shade = 15.0 * ref_u(4000 + (uint64_t)k, 0);
    for (size_t i = 0; i < sizeof rgb; i++) {
        double v = site[s].rgb[i % 3] + shade + 20.0 * ref_u(4000 + (uint64_t)k, i + 1);
        rgb[i] = (unsigned char)(v < 0 ? 0 : v > 255 ? 255 : v);
    }
    fx_buf b = {0};
    fx_png_opts po = {PNG_COLOR_TYPE_RGB, 8, 0, NULL, 0, NULL, 0, NULL, 0};
    int rc = fx_png(rgb, SIDE, SIDE, &po, &b) == 0 && fx_write_file(path_in(name), b.data, b.size) == 0 ? 0 : -1;
    fx_free(&b);
    return rc;
}

/* Adds n photos of site s (numbered from *k) to m, within about 1 km of the site. */
static void add_photos(geoloc_manifest *m, int s, int n, int *k) {
    geoloc_error err = {0};
    for (int j = 0; j < n; j++, (*k)++) {
        char id[64];
        snprintf(id, sizeof id, "%s_%02d.png", site[s].name, *k);
        CHECK(write_photo(s, *k, id) == 0, "writing %s", id);
        geoloc_manifest_row row = {.id = id,
                                   .lat = site[s].lat + 0.01 * ref_u(4100, (uint64_t)*k),
                                   .lng = site[s].lng + 0.01 * ref_u(4101, (uint64_t)*k),
                                   .author = "",
                                   .label = {site[s].scene, site[s].s16, site[s].s365},
                                   .prob = {NAN, NAN, NAN}};
        CHECK(geoloc_manifest_append(m, &row, NULL, &err) == GEOLOC_OK, "%s", err.message);
    }
}

typedef struct epochs_seen {
    int n;
    double loss[EPOCHS];
} epochs_seen;

static void on_event(void *ctx, const geoloc_train_event *ev) {
    epochs_seen *e = ctx;
    if (ev->kind == GEOLOC_TRAIN_EV_EPOCH && e->n < EPOCHS) e->loss[e->n++] = ev->loss;
}

/* Options shared by both modes: 2 partitions built on the training photos, the S3 scene head. */
static geoloc_train_options fixture_options(geoloc_train_mode mode, const geoloc_manifest *train,
                                            const geoloc_manifest *val, const char *out, epochs_seen *seen) {
    static const uint64_t tau_max[2] = {1000, 8};
    geoloc_train_options o = geoloc_train_options_default(mode);
    o.train = train;
    o.val = val;
    o.images_dir = dir;
    o.tau_min = 0;
    o.tau_max = tau_max;
    o.n_tau = 2;
    o.scene = GEOLOC_SCENE_S3;
    o.backbone = path_in("rand18.safetensors");
    o.image_size = 96; /* 64: the engine picks a slow reference kernel for 2x2 maps */
    o.lr_schedule = "constant";
    o.out = path_in(out);
    o.report = on_event;
    o.ctx = seen;
    return o;
}

/* Heads mode: near-zero loss, every validation photo placed. */
static void learn_heads(const geoloc_manifest *train, const geoloc_manifest *val) {
    epochs_seen seen = {0};
    geoloc_train_options o = fixture_options(GEOLOC_TRAIN_HEADS, train, val, "heads.safetensors", &seen);
    o.epochs = EPOCHS;
    o.batch = 16;
    o.lr = 0.1;
    o.baselines = 1;
    geoloc_train_result r;
    memset(&r, 0, sizeof r);
    geoloc_error err = {0};
    CHECK(geoloc_train(&o, &r, &err) == GEOLOC_OK, "heads: %s", err.message);
    CHECK(r.n_train == 24 && r.n_val == 8 && r.n_heads == 3, "%zu training, %zu validation photos, %zu heads",
          r.n_train, r.n_val, r.n_heads);
    CHECK(r.classes[1] == SITES && r.classes[2] == 3, "one fine cell per site (%d), 3 scenes (%d)", r.classes[1],
          r.classes[2]);
    CHECK(seen.n == EPOCHS, "%d epochs reported", seen.n);
    if (seen.n == EPOCHS) {
        printf("heads: training loss: epoch 1 %.4f, epoch %d %.2e\n", seen.loss[0], EPOCHS, seen.loss[EPOCHS - 1]);
        CHECK(seen.loss[EPOCHS - 1] < 0.05, "last epoch's training loss %.4f >= 0.05", seen.loss[EPOCHS - 1]);
        CHECK(seen.loss[0] > 10 * seen.loss[EPOCHS - 1], "loss falls from %.4f to %.4f", seen.loss[0],
              seen.loss[EPOCHS - 1]);
    }
    printf("heads: validation within 25 km: %.3f, most-populated-cell prior %.3f\n", r.val.accuracy[1],
           r.baseline_cell.accuracy[1]);
    CHECK(r.val.n == 8 && r.val.accuracy[1] == 1.0, "validation within 25 km: %.3f of %zu photos", r.val.accuracy[1],
          r.val.n);
    CHECK(r.baseline_cell.n == 8 && r.val.accuracy[1] > r.baseline_cell.accuracy[1],
          "above the most-populated-cell prior (%.3f)", r.baseline_cell.accuracy[1]);
}

/* Full mode (the whole network, random resized crops): FULL_EPOCHS epochs of 3 steps; the
 * loss must at least halve and validation must beat the prior. */
static void learn_full(const geoloc_manifest *train, const geoloc_manifest *val) {
    epochs_seen seen = {0};
    geoloc_train_options o = fixture_options(GEOLOC_TRAIN_FULL, train, val, "full.safetensors", &seen);
    o.epochs = FULL_EPOCHS;
    o.batch = 8;
    o.micro_batch = 8;
    o.lr = 0.01;
    geoloc_train_result r;
    memset(&r, 0, sizeof r);
    geoloc_error err = {0};
    CHECK(geoloc_train(&o, &r, &err) == GEOLOC_OK, "full: %s", err.message);
    CHECK(seen.n == FULL_EPOCHS && r.steps == 3 * FULL_EPOCHS, "%d epochs, %ld steps", seen.n, r.steps);
    if (seen.n == FULL_EPOCHS) {
        printf("full: training loss: epoch 1 %.4f, epoch %d %.4f; validation within 25 km %.3f\n", seen.loss[0],
               FULL_EPOCHS, seen.loss[FULL_EPOCHS - 1], r.val.accuracy[1]);
        CHECK(seen.loss[FULL_EPOCHS - 1] < 0.5 * seen.loss[0], "full: loss falls from %.4f to %.4f", seen.loss[0],
              seen.loss[FULL_EPOCHS - 1]);
    }
    CHECK(r.val.n == 8 && r.val.accuracy[1] > 0.25, "full: validation within 25 km %.3f, prior 0.25",
          r.val.accuracy[1]);
}

/* ---- scene heads ---- */

typedef struct heads_seen {
    int n;
    double loss[EPOCHS];
    double head_last[32];    /* the last epoch's per-head losses */
    size_t n_heads;
} heads_seen;

static void on_heads_event(void *ctx, const geoloc_train_event *ev) {
    heads_seen *e = ctx;
    if (ev->kind != GEOLOC_TRAIN_EV_EPOCH || e->n >= EPOCHS) return;
    e->loss[e->n++] = ev->loss;
    e->n_heads = ev->n_heads;
    for (size_t h = 0; h < ev->n_heads && h < 32; h++) e->head_last[h] = ev->head_loss[h];
}

static geoloc_train_options scene_options(const geoloc_manifest *train, const geoloc_manifest *val, const char *out,
                                          heads_seen *seen) {
    geoloc_train_options o = fixture_options(GEOLOC_TRAIN_HEADS, train, val, out, NULL);
    o.report = on_heads_event;
    o.ctx = seen;
    o.features = path_in("scene.features.safetensors"); /* one extraction for every run */
    o.epochs = EPOCHS;
    o.batch = 16;
    o.lr = 0.1;
    return o;
}

static void check_falls(const heads_seen *seen, const char *what) {
    CHECK(seen->n == EPOCHS, "%s: %d epochs reported", what, seen->n);
    if (seen->n != EPOCHS) return;
    printf("%s: training loss: epoch 1 %.4f, epoch %d %.2e\n", what, seen->loss[0], EPOCHS, seen->loss[EPOCHS - 1]);
    CHECK(seen->loss[EPOCHS - 1] < 0.05 && seen->loss[0] > 10 * seen->loss[EPOCHS - 1],
          "%s: loss falls from %.4f to %.4f", what, seen->loss[0], seen->loss[EPOCHS - 1]);
    for (size_t h = 0; h < seen->n_heads; h++)
        CHECK(seen->head_last[h] < 0.05, "%s: head %zu's last loss %.4f", what, h, seen->head_last[h]);
}

/* The answer (lat, lon) of the model for validation photo `id`, with the S3 head's bias
 * for class `force_s3` raised by 1000 when >= 0 (hard ISN routing). */
static int answer_of(geoloc_model *m, const char *id, int force_s3, double *lat, double *lon, int *s16) {
    if (force_s3 >= 0) {
        int h = geoloc_model_head(m, GEOLOC_HEAD_SCENE, GEOLOC_SCENE_LEVEL_S3);
        for (size_t i = 0; i < geoloc_net_param_count(m->net); i++) {
            geoloc_param *p = geoloc_net_param(m->net, i);
            if (p->head == h && p->kind == GEOLOC_PARAM_BIAS) p->data[force_s3] += 1000.0f;
        }
    }
    geoloc_predict_options po = geoloc_predict_options_default();
    po.isn = GEOLOC_ISN_HARD;
    geoloc_predictor *pred = NULL;
    geoloc_error err = {0};
    geoloc_image img = {0};
    geoloc_prediction out;
    int ok = geoloc_predictor_create(m, &po, &pred, &err) == GEOLOC_OK &&
             geoloc_image_load(path_in(id), NULL, &img, &err) == GEOLOC_OK &&
             geoloc_predict(pred, &img, 1, &out, NULL, &err) == GEOLOC_OK;
    CHECK(ok, "predicting %s: %s", id, err.message);
    geoloc_image_free(&img);
    geoloc_predictor_free(pred);
    if (ok) {
        *lat = out.lat;
        *lon = out.lon;
        *s16 = out.scene[GEOLOC_SCENE_LEVEL_S16];
    }
    return ok;
}

/* Every level and ISNs; the model file's heads. */
static void learn_levels_isn(const geoloc_manifest *train, const geoloc_manifest *val) {
    heads_seen seen = {0};
    geoloc_train_options o = scene_options(train, val, "mtn.safetensors", &seen);
    o.scene = GEOLOC_SCENE_S3 | GEOLOC_SCENE_S16 | GEOLOC_SCENE_S365;
    o.isn = 1;
    geoloc_train_result r;
    memset(&r, 0, sizeof r);
    geoloc_error err = {0};
    CHECK(geoloc_train(&o, &r, &err) == GEOLOC_OK, "levels + ISN: %s", err.message);
    CHECK(r.n_heads == 2 + 3 + 3 * 2 && r.classes[2] == 3 && r.classes[3] == 16 && r.classes[4] == 365 &&
              r.classes[5] == r.classes[0] && r.classes[10] == SITES,
          "heads: %zu (%d %d %d, ISN %d %d)", r.n_heads, r.classes[2], r.classes[3], r.classes[4], r.classes[5],
          r.classes[10]);
    check_falls(&seen, "levels + ISN");
    printf("levels + ISN: scene accuracy S3 %.3f S16 %.3f S365 %.3f; within 25 km %.3f\n", r.scene_acc[0],
           r.scene_acc[1], r.scene_acc[2], r.val.accuracy[1]);
    CHECK(r.scene_acc[0] == 1.0 && r.scene_acc[1] == 1.0 && r.scene_acc[2] == 1.0 && r.val.accuracy[1] == 1.0,
          "validation: scenes %.3f %.3f %.3f, 25 km %.3f", r.scene_acc[0], r.scene_acc[1], r.scene_acc[2],
          r.val.accuracy[1]);
    geoloc_model *m = NULL;
    CHECK(geoloc_model_load(o.out, &m, &err) == GEOLOC_OK, "load: %s", err.message);
    if (!m) return;
    CHECK(m->n_partitions == 2 && m->scene_classes[0] == 3 && m->scene_classes[1] == 16 &&
              m->scene_classes[2] == 365 && m->n_isn == 3,
          "model: %zu partitions, scenes %zu %zu %zu, ISN %zu", m->n_partitions, m->scene_classes[0],
          m->scene_classes[1], m->scene_classes[2], m->n_isn);
    for (size_t k = 0; k < 6; k++)
        CHECK(geoloc_model_head(m, GEOLOC_HEAD_ISN, k) == (int)(5 + k), "ISN head %zu at %d", k,
              geoloc_model_head(m, GEOLOC_HEAD_ISN, k));
    const char *n16 = geoloc_model_scene_name(m, GEOLOC_SCENE_LEVEL_S16, 0);
    const char *n3 = geoloc_model_scene_name(m, GEOLOC_SCENE_LEVEL_S3, 2);
    CHECK(n16 && !strcmp(n16, "indoor: shopping and dining") && n3 && !strcmp(n3, "urban"), "names: %s, %s",
          n16 ? n16 : "-", n3 ? n3 : "-");
    /* ISN 1 learnt Rome's photos alone: forced to it, a Tokyo photo is answered in Rome */
    double lat, lon;
    int s16;
    if (answer_of(m, "tokyo_23.png", -1, &lat, &lon, &s16))
        CHECK(geoloc_haversine_km(lat, lon, site[2].lat, site[2].lng) < 25, "Tokyo photo at %.3f, %.3f", lat, lon);
    if (answer_of(m, "tokyo_23.png", 1, &lat, &lon, &s16))
        CHECK(geoloc_haversine_km(lat, lon, site[2].lat, site[2].lng) > 25,
              "Tokyo photo through Rome's ISN at %.3f, %.3f: in Tokyo, which it never saw", lat, lon);
    geoloc_model_free(m);
}

/* A scene classifier, then label propagation from a crafted copy of it. */
static void learn_scene_only_and_helper(const geoloc_manifest *train, const geoloc_manifest *val) {
    heads_seen seen = {0};
    geoloc_train_options o = scene_options(train, val, "helper.safetensors", &seen);
    o.no_geo = 1;
    o.n_tau = 0;
    o.tau_max = NULL;
    o.scene = GEOLOC_SCENE_S3 | GEOLOC_SCENE_S16 | GEOLOC_SCENE_S365;
    geoloc_train_result r;
    memset(&r, 0, sizeof r);
    geoloc_error err = {0};
    CHECK(geoloc_train(&o, &r, &err) == GEOLOC_OK, "scene classifier: %s", err.message);
    CHECK(r.n_heads == 3 && r.val.n == 0, "scene classifier: %zu heads, %zu distances", r.n_heads, r.val.n);
    check_falls(&seen, "scene classifier");
    CHECK(r.scene_acc[0] == 1.0 && r.scene_acc[1] == 1.0 && r.scene_acc[2] == 1.0,
          "scene classifier: accuracy %.3f %.3f %.3f", r.scene_acc[0], r.scene_acc[1], r.scene_acc[2]);
    geoloc_model *m = NULL;
    CHECK(geoloc_model_load(o.out, &m, &err) == GEOLOC_OK, "load: %s", err.message);
    if (!m) return;
    CHECK(m->n_partitions == 0 && m->n_scenes == 3 + 16 + 365, "helper: %zu partitions, %zu scenes", m->n_partitions,
          m->n_scenes);
    /* crafted: the S16 head answers class 7 whatever the photo */
    int h = geoloc_model_head(m, GEOLOC_HEAD_SCENE, GEOLOC_SCENE_LEVEL_S16);
    for (size_t i = 0; i < geoloc_net_param_count(m->net); i++) {
        geoloc_param *p = geoloc_net_param(m->net, i);
        if (p->head != h) continue;
        memset(p->data, 0, p->n * sizeof *p->data);
        if (p->kind == GEOLOC_PARAM_BIAS) p->data[7] = 5.0f;
    }
    CHECK(geoloc_model_save(m, path_in("crafted.safetensors"), 1, NULL, &err) == GEOLOC_OK, "%s", err.message);
    geoloc_model_free(m);
    /* training photos without S16 labels: every one gets 7 from the helper */
    geoloc_manifest *bare = NULL;
    CHECK(geoloc_manifest_new(GEOLOC_COL_S3 | GEOLOC_COL_S16, NULL, 0, &bare, &err) == GEOLOC_OK, "%s", err.message);
    for (size_t k = 0; bare && k < train->n; k++) {
        geoloc_manifest_row row = train->row[k];
        row.label[1] = -1;
        CHECK(geoloc_manifest_append(bare, &row, NULL, &err) == GEOLOC_OK, "%s", err.message);
    }
    heads_seen seen2 = {0};
    o = scene_options(bare, val, "propagated.safetensors", &seen2);
    o.scene = GEOLOC_SCENE_S3 | GEOLOC_SCENE_S16;
    o.scene_labels = path_in("crafted.safetensors");
    memset(&r, 0, sizeof r);
    CHECK(bare && geoloc_train(&o, &r, &err) == GEOLOC_OK, "propagation: %s", err.message);
    CHECK(r.scene_labels_added[1] == train->n && r.scene_labels_added[0] == 0, "labels from the helper: S16 %zu of %zu, S3 %zu",
          r.scene_labels_added[1], train->n, r.scene_labels_added[0]);
    CHECK(r.scene_acc[1] == 0.0 && r.scene_acc[0] == 1.0, "S16 learnt the helper's 7 (accuracy %.3f on the true labels)",
          r.scene_acc[1]);
    m = NULL;
    double lat, lon;
    int s16 = -1;
    CHECK(geoloc_model_load(o.out, &m, &err) == GEOLOC_OK, "load: %s", err.message);
    if (m && answer_of(m, "paris_00.png", -1, &lat, &lon, &s16)) CHECK(s16 == 7, "S16 answer %d, the helper's 7", s16);
    geoloc_model_free(m);
    /* a geo model is no helper; nor one without the level */
    o.scene_labels = path_in("mtn.safetensors");
    CHECK(geoloc_train(&o, &r, &err) == GEOLOC_E_ARG && strstr(err.message, "not a scene classifier"), "%s",
          err.message);
    geoloc_manifest_free(bare);
}

/* Bad scene inputs: a level whose column is missing, a label out of range (file and line). */
static void scene_errors(const geoloc_manifest *val) {
    geoloc_error err = {0};
    geoloc_manifest *s3only = NULL;
    CHECK(geoloc_manifest_new(GEOLOC_COL_S3, NULL, 0, &s3only, &err) == GEOLOC_OK, "%s", err.message);
    for (size_t k = 0; s3only && k < val->n; k++)
        CHECK(geoloc_manifest_append(s3only, &val->row[k], NULL, &err) == GEOLOC_OK, "%s", err.message);
    heads_seen seen = {0};
    geoloc_train_options o = scene_options(s3only, NULL, "bad.safetensors", &seen);
    o.val_fraction = 0.3;
    o.scene = GEOLOC_SCENE_S3 | GEOLOC_SCENE_S365;
    geoloc_train_result r;
    CHECK(geoloc_train(&o, &r, &err) == GEOLOC_E_ARG && strstr(err.message, "S365_Label"), "missing column: %s",
          err.message);
    o.scene = GEOLOC_SCENE_S16;
    o.isn = 1;
    CHECK(geoloc_train(&o, &r, &err) == GEOLOC_E_ARG && strstr(err.message, "S365_Label") == NULL &&
              strstr(err.message, "S16_Label"), "%s", err.message);
    geoloc_manifest_free(s3only);
    FILE *f = fopen(path_in("bad.csv"), "w");
    if (f) {
        fputs("IMG_ID,LAT,LON,S3_Label,S16_Label\na.jpg,1,2,0,15\nb.jpg,1,2,2,16\n", f);
        fclose(f);
    }
    geoloc_manifest *m = NULL;
    CHECK(geoloc_manifest_read(path_in("bad.csv"), NULL, &m, &err) == GEOLOC_E_PARSE &&
              strstr(err.message, "bad.csv:3") && strstr(err.message, "S16_Label"), "label out of range: %s",
          err.message);
    geoloc_manifest_free(m);
}

static void learn_scenes(const geoloc_manifest *train, const geoloc_manifest *val) {
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    learn_levels_isn(train, val);
    learn_scene_only_and_helper(train, val);
    scene_errors(val);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    printf("scene heads: %.1f s\n", (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec));
}

int main(int argc, char **argv) {
    test_make_temp_dir(dir);
    /* the scene names (share/geoloc/scenes) where models look for data: in dir, with the backbone */
    char scenes[1024];
    snprintf(scenes, sizeof scenes, "%s/../../share/geoloc/scenes", argc > 2 ? argv[2] : "tests/data");
    CHECK(mkdir(path_in("scenes"), 0755) == 0 && symlink(scenes, path_in("scenes/src")) == 0, "scenes dir");
    CHECK(symlink("src/S16.txt", path_in("scenes/S16.txt")) == 0 && symlink("src/S365.txt", path_in("scenes/S365.txt")) == 0,
          "scene names linked");
    setenv("GEOLOC_DATA_DIR", dir, 1);
    geoloc_error err = {0};
    geoloc_manifest *train = NULL, *val = NULL;
    unsigned cols = GEOLOC_COL_S3 | GEOLOC_COL_S16 | GEOLOC_COL_S365;
    CHECK(geoloc_manifest_new(cols, NULL, 0, &train, &err) == GEOLOC_OK, "%s", err.message);
    CHECK(geoloc_manifest_new(cols, NULL, 0, &val, &err) == GEOLOC_OK, "%s", err.message);
    int k = 0;
    for (int s = 0; train && val && s < SITES; s++) {
        add_photos(train, s, site[s].n_train, &k);
        add_photos(val, s, VAL_PER_SITE, &k);
    }
    geoloc_resnet_config cfg;
    geoloc_resnet_config_default(&cfg, 18, 10);
    geoloc_net *net = NULL;
    CHECK(geoloc_net_create(&cfg, &net, &err) == GEOLOC_OK, "%s", err.message);
    if (net) {
        geoloc_net_init_random(net, 5);
        CHECK(geoloc_net_save(net, path_in("rand18.safetensors"), NULL, NULL, 0, &err) == GEOLOC_OK, "%s",
              err.message);
    }
    geoloc_net_free(net);

    if (train && val) {
        learn_heads(train, val);
        learn_full(train, val);
        learn_scenes(train, val);
    }
    geoloc_manifest_free(train);
    geoloc_manifest_free(val);
    if (!test_failed) test_remove_tree(dir);
    else fprintf(stderr, "files kept in %s\n", dir);
    TEST_END();
}
