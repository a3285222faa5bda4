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
 * A skipped optimizer update fails both. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <png.h>

#include "geoloc/dataset.h"
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
} site[SITES] = {
    {"paris", 48.8566, 2.3522, {220, 40, 40}, 8, 2},
    {"rome", 41.9028, 12.4964, {40, 200, 60}, 6, 1},
    {"tokyo", 35.6762, 139.6503, {50, 70, 220}, 5, 0},
    {"osaka", 34.6937, 135.5023, {230, 220, 50}, 5, 2},
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
                                   .label = {site[s].scene, -1, -1},
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

int main(void) {
    test_make_temp_dir(dir);
    geoloc_error err = {0};
    geoloc_manifest *train = NULL, *val = NULL;
    CHECK(geoloc_manifest_new(GEOLOC_COL_S3, NULL, 0, &train, &err) == GEOLOC_OK, "%s", err.message);
    CHECK(geoloc_manifest_new(GEOLOC_COL_S3, NULL, 0, &val, &err) == GEOLOC_OK, "%s", err.message);
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
    }
    geoloc_manifest_free(train);
    geoloc_manifest_free(val);
    if (!test_failed) test_remove_tree(dir);
    else fprintf(stderr, "files kept in %s\n", dir);
    TEST_END();
}
