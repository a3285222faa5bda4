/* Geolocation models: a small model (ResNet-18, three partitions built from
 * synthetic photos) saved whole and heads-only and loaded back tensor for
 * tensor; hostile files refused with messages naming file and field;
 * prediction checked against direct computations (hierarchical scores,
 * three-crop averaging, batching, top-k, Class2GPS); the scores -> answer
 * module on crafted probabilities (heads found by role, non-finite values
 * refused, a NaN model refused); batch prediction of files and memory
 * buffers; model files found.
 *
 * With a path as third argument (after the data folders) it also writes the
 * tiny heads-only model the fuzz seed fuzz/seeds/fuzz_model/tiny.safetensors is. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "geo/partition_internal.h"
#include "geoloc/model.h"
#include "geoloc/predict.h"
#include "geoloc/safetensors.h"
#include "model_file_edit.h"
#include "test_util.h"
#include "tiny_model.h"

static char dir[] = "/tmp/geoloc_test_model_XXXXXX";

static const char *tmp_path(const char *name) { return test_path_in(dir, name); }

/* ---- building models --------------------------------------------------------- */

/* Three partitions (tau_max 1500, 500, 150) of 6000 photos around four cities. */
static void make_partitions(geoloc_partition *p[3]) {
    const double centers[4][2] = {{48.86, 2.35}, {40.71, -74.0}, {35.68, 139.69}, {-33.87, 151.21}};
    size_t n = 6000;
    double *lat = malloc(n * sizeof *lat), *lng = malloc(n * sizeof *lng);
    geoloc_rng rng;
    geoloc_rng_seed(&rng, 42, 0, 0);
    for (size_t k = 0; k < n; k++) {
        const double *c = centers[k % 4];
        double spread = 0.02 + 3.0 * geoloc_rng_uniform(&rng) * geoloc_rng_uniform(&rng);
        lat[k] = c[0] + spread * (2 * geoloc_rng_uniform(&rng) - 1);
        lng[k] = c[1] + spread * (2 * geoloc_rng_uniform(&rng) - 1);
    }
    const uint64_t tau_max[3] = {1500, 500, 150};
    geoloc_partition_params params = {.tau_min = 10, .tau_max = tau_max, .n_partitions = 3,
                                      .level_min = 2, .level_max = 30, .threads = 1};
    geoloc_error err = {0};
    if (geoloc_partitions_build(lat, lng, n, &params, p, &err) != GEOLOC_OK) {
        fprintf(stderr, "partitions: %s\n", err.message);
        exit(1);
    }
    free(lat);
    free(lng);
}

static const char *const NAMES[3] = {"coarse", "middle", "fine"};
static const char *const SCENES[3] = {"indoor", "natural", "urban"};

static geoloc_model *make_model(geoloc_partition *const p[3], uint64_t seed) {
    geoloc_resnet_config cfg;
    geoloc_resnet_config_default(&cfg, 18, 1);
    geoloc_model *m = NULL;
    geoloc_error err = {0};
    if (geoloc_model_create(&cfg, (const geoloc_partition *const *)p, NAMES, 3,
                            &(geoloc_scene_heads){.names = {SCENES}, .n = {3}}, seed, &m, &err) !=
        GEOLOC_OK) {
        fprintf(stderr, "create: %s\n", err.message);
        exit(1);
    }
    m->image_size = 64; /* small crops keep the prediction tests fast */
    return m;
}

/* ---- comparing ---------------------------------------------------------------- */

static int same_partition(const geoloc_partition *a, const geoloc_partition *b) {
    return a->n == b->n && a->num_images == b->num_images && !memcmp(a->cell, b->cell, a->n * sizeof *a->cell) &&
           !memcmp(a->count, b->count, a->n * sizeof *a->count) && !memcmp(a->lat, b->lat, a->n * sizeof *a->lat) &&
           !memcmp(a->lng, b->lng, a->n * sizeof *a->lng);
}

/* Everything of b equals a (the network too when both have one). */
static void compare_models(const geoloc_model *a, const geoloc_model *b, const char *what) {
    CHECK(a->n_partitions == b->n_partitions && a->n_scenes == b->n_scenes, "%s: sizes", what);
    if (a->n_partitions != b->n_partitions || a->n_scenes != b->n_scenes) return;
    for (size_t f = 0; f < a->n_partitions; f++) {
        CHECK(same_partition(a->partitions[f], b->partitions[f]), "%s: partition %zu", what, f);
        CHECK(!strcmp(a->partition_names[f], b->partition_names[f]), "%s: name %zu", what, f);
        for (size_t c = 0; c < f; c++)
            CHECK(!memcmp(a->ancestor[f][c], b->ancestor[f][c], a->partitions[f]->n * sizeof(int32_t)),
                  "%s: ancestors %zu/%zu", what, f, c);
    }
    for (size_t s = 0; s < a->n_scenes; s++) CHECK(!strcmp(a->scene_names[s], b->scene_names[s]), "%s: scene", what);
    CHECK(a->norm == b->norm && a->image_size == b->image_size, "%s: preprocessing", what);
    CHECK(a->config.depth == b->config.depth && a->config.n_heads == b->config.n_heads &&
              a->config.bn_eps == b->config.bn_eps, "%s: configuration", what);
    if (!a->net || !b->net) return;
    size_t n = geoloc_net_param_count(a->net), same = 0;
    CHECK(n == geoloc_net_param_count(b->net), "%s: parameter count", what);
    for (size_t i = 0; i < n && n == geoloc_net_param_count(b->net); i++) {
        const geoloc_param *x = geoloc_net_param(a->net, i), *y = geoloc_net_param(b->net, i);
        same += !strcmp(x->name, y->name) && x->n == y->n && !memcmp(x->data, y->data, x->n * sizeof(float));
    }
    CHECK(same == n, "%s: %zu of %zu tensors equal", what, same, n);
}

/* ---- editing files ------------------------------------------------------------ */

static void expect_refused_at(const char *src, const edit *e, const char *what, const char *m1, const char *m2,
                              int info_too) {
    expect_model_refused(src, tmp_path("edited.safetensors"), e, what, m1, m2, info_too);
}

static void expect_refused(const char *src, const edit *e, const char *what, const char *m1, const char *m2) {
    expect_refused_at(src, e, what, m1, m2, 1);
}

/* ---- files ---------------------------------------------------------------------- */

static void test_files(geoloc_partition *const p[3]) {
    geoloc_error err = {0};
    geoloc_model *m = make_model(p, 7), *back = NULL;
    m->norm = GEOLOC_NORM_CAFFE;
    CHECK(geoloc_model_set_meta(m, "geoloc.train.epochs", "3", &err) == GEOLOC_OK, "%s", err.message);
    CHECK(geoloc_model_set_meta(m, "geoloc.partitions", "x", &err) == GEOLOC_E_ARG, "a format key is refused");
    char full[256], heads[256];
    snprintf(full, sizeof full, "%s", tmp_path("full.safetensors"));
    snprintf(heads, sizeof heads, "%s", tmp_path("heads.safetensors"));
    CHECK(geoloc_model_save(m, full, 0, NULL, &err) == GEOLOC_OK, "save: %s", err.message);
    CHECK(geoloc_model_load(full, &back, &err) == GEOLOC_OK, "load: %s", err.message);
    if (back) {
        compare_models(m, back, "full file");
        const char *v = geoloc_model_get_meta(back, "geoloc.train.epochs");
        CHECK(v && !strcmp(v, "3"), "extra metadata kept");
        CHECK(geoloc_model_get_meta(back, "geoloc.created_by") != NULL, "created_by written");
        CHECK(back->backbone[0] == '\0', "a full file names no backbone");
    }
    geoloc_model_free(back);

    /* heads only, with the backbone in a weights file found through GEOLOC_DATA_DIR */
    CHECK(geoloc_net_save(m->net, tmp_path("backbone.safetensors"), NULL, NULL, 0, &err) == GEOLOC_OK, "%s",
          err.message);
    setenv("GEOLOC_DATA_DIR", dir, 1);
    CHECK(geoloc_model_save(m, heads, 1, "../backbone.safetensors", &err) == GEOLOC_E_ARG, "a path is no file name");
    CHECK(geoloc_model_save(m, heads, 1, "backbone.safetensors", &err) == GEOLOC_OK, "save heads: %s", err.message);
    struct stat sf, sh;
    CHECK(stat(full, &sf) == 0 && stat(heads, &sh) == 0 && sh.st_size * 20 < sf.st_size,
          "heads-only file is small (%lld vs %lld bytes)", (long long)sh.st_size, (long long)sf.st_size);
    back = NULL;
    CHECK(geoloc_model_load(heads, &back, &err) == GEOLOC_OK, "load heads: %s", err.message);
    if (back) {
        compare_models(m, back, "heads-only file");
        CHECK(!strcmp(back->backbone, "backbone.safetensors"), "backbone name: %s", back->backbone);
    }
    geoloc_model_free(back);
    back = NULL;
    CHECK(geoloc_model_read_info(heads, &back, &err) == GEOLOC_OK && back && !back->net, "info: %s", err.message);
    if (back) compare_models(m, back, "info");
    geoloc_model_free(back);

    /* hostile files */
    edit e = {.key = "geoloc.format", .value = "geoloc-model-4"};
    expect_refused(full, &e, "other version", "different version", "geoloc.format");
    e = (edit){.key = "geoloc.format", .value = NULL};
    expect_refused(full, &e, "no format", "geoloc.format", "not a geoloc model");
    size_t k2 = p[2]->n, k1 = p[1]->n;
    int32_t *anc = malloc(k2 * sizeof *anc);
    memcpy(anc, m->ancestor[2][1], k2 * sizeof *anc);
    anc[k2 / 2] = (anc[k2 / 2] + 1) % (int32_t)k1;
    e = (edit){.tensor = "partition2.ancestor1", .dtype = GEOLOC_DTYPE_I32, .ndim = 1, .shape = {k2}, .data = anc};
    expect_refused(full, &e, "tampered hierarchy", "inconsistent partitions", "partition2.ancestor1");
    free(anc);
    float *w = calloc((k1 + 1) * 512, sizeof *w);
    e = (edit){.tensor = "geo1.weight", .dtype = GEOLOC_DTYPE_F32, .ndim = 2, .shape = {k1 + 1, 512}, .data = w};
    expect_refused(full, &e, "head of the wrong size", "geo1.weight", "shape");
    free(w);
    char heads_meta[128];
    snprintf(heads_meta, sizeof heads_meta, "geo0:%zu,geo1:%zu,geo2:%zu,scene:3", p[0]->n, k1 + 1, k2);
    e = (edit){.key = "geoloc.heads", .value = heads_meta};
    expect_refused(full, &e, "heads metadata of the wrong size", "geoloc.heads", "geo1");
    geoloc_cell *cells = malloc(p[0]->n * sizeof *cells);
    memcpy(cells, p[0]->cell, p[0]->n * sizeof *cells);
    cells[1] = geoloc_s2_child(cells[0], 2);
    e = (edit){.tensor = "partition0.cells", .dtype = GEOLOC_DTYPE_I64, .ndim = 1, .shape = {p[0]->n}, .data = cells};
    expect_refused(full, &e, "nested cells", "partition0.cells", "nest");
    cells[1] = 0;
    expect_refused(full, &e, "invalid cell", "partition0.cells[1]", "not a valid S2 cell");
    free(cells);
    double *mean = malloc(2 * k1 * sizeof *mean);
    for (size_t k = 0; k < k1; k++) mean[2 * k] = p[1]->lat[k], mean[2 * k + 1] = p[1]->lng[k];
    mean[1] = NAN;
    e = (edit){.tensor = "partition1.mean", .dtype = GEOLOC_DTYPE_F64, .ndim = 2, .shape = {k1, 2}, .data = mean};
    expect_refused(full, &e, "NaN mean", "partition1.mean[0]", NULL);
    free(mean);
    int64_t one = 1;
    e = (edit){.tensor = "partition3.cells", .dtype = GEOLOC_DTYPE_I64, .ndim = 1, .shape = {1}, .data = &one};
    expect_refused(full, &e, "unknown partition tensor", "partition3.cells", "unexpected");
    e = (edit){.drop = "partition1.count"};
    expect_refused(full, &e, "missing count", "partition1.count", "missing");
    e = (edit){.drop = "layer2.0.bn1.running_var"};
    expect_refused_at(full, &e, "missing backbone tensor", "layer2.0.bn1.running_var", NULL, 0);
    float f1 = 1;
    e = (edit){.tensor = "conv1.weight", .dtype = GEOLOC_DTYPE_F32, .ndim = 1, .shape = {1}, .data = &f1};
    expect_refused(heads, &e, "backbone tensor in a heads-only file", "conv1.weight", "geoloc.backbone");
    e = (edit){.key = "geoloc.input", .value = "bgr"};
    expect_refused(full, &e, "unknown input", "geoloc.input", NULL);

    geoloc_model *none = NULL;
    CHECK(geoloc_model_load(tmp_path("backbone.safetensors"), &none, &err) != GEOLOC_OK &&
              strstr(err.message, "network weights, not a model"), "weights file: %s", err.message);
    /* a backbone of another architecture, then none at all */
    geoloc_resnet_config other;
    geoloc_resnet_config_default(&other, 18, 10);
    other.bn_eps = 1e-3f;
    geoloc_net *net = NULL;
    CHECK(geoloc_net_create(&other, &net, &err) == GEOLOC_OK, "%s", err.message);
    CHECK(geoloc_net_save(net, tmp_path("backbone.safetensors"), NULL, NULL, 0, &err) == GEOLOC_OK, "%s", err.message);
    geoloc_net_free(net);
    CHECK(geoloc_model_load(heads, &none, &err) != GEOLOC_OK && strstr(err.message, "architecture") &&
              strstr(err.message, heads), "other backbone: %s", err.message);
    unlink(tmp_path("backbone.safetensors"));
    CHECK(geoloc_model_load(heads, &none, &err) == GEOLOC_E_IO && strstr(err.message, "fetch-backbone.sh") &&
              strstr(err.message, "backbone.safetensors") && strstr(err.message, "geoloc.backbone") &&
              strstr(err.message, heads), "missing backbone: %s", err.message);
    geoloc_model_free(m);
}

/* ---- finding files -------------------------------------------------------------- */

static void test_resolve(void) {
    geoloc_error err = {0};
    char out[4096];
    setenv("GEOLOC_DATA_DIR", dir, 1);
    unsetenv("GEOLOC_MODEL");
    CHECK(geoloc_model_resolve(NULL, out, sizeof out, &err) == -1 && strstr(err.message, "./setup.sh") &&
              strstr(err.message, dir) && strstr(err.message, "geoloc-default.safetensors"),
          "no default model: %s", err.message);
    test_write_text(tmp_path("geoloc-default.safetensors"), "x");
    CHECK(geoloc_model_resolve(NULL, out, sizeof out, &err) == 0 && !strcmp(out, tmp_path("geoloc-default.safetensors")),
          "default model: %s", out);
    setenv("GEOLOC_MODEL", "/env/model.safetensors", 1);
    CHECK(geoloc_model_resolve(NULL, out, sizeof out, &err) == 0 && !strcmp(out, "/env/model.safetensors"),
          "$GEOLOC_MODEL: %s", out);
    CHECK(geoloc_model_resolve("given.safetensors", out, sizeof out, &err) == 0 && !strcmp(out, "given.safetensors"),
          "explicit path: %s", out);
    unsetenv("GEOLOC_MODEL");
    CHECK(geoloc_model_find_data("geoloc-default.safetensors", out, sizeof out) == 0, "find_data");
    CHECK(geoloc_model_find_data("../x", out, sizeof out) == -1, "no paths in names");
    unlink(tmp_path("geoloc-default.safetensors"));
}

/* ---- prediction ----------------------------------------------------------------- */

/* A smooth colour pattern with some texture, different for each seed. */
static geoloc_image make_image(int w, int h, int seed) {
    geoloc_image img = {.width = w, .height = h, .rgb = malloc((size_t)w * (size_t)h * 3)};
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
            for (int c = 0; c < 3; c++)
                img.rgb[((size_t)y * (size_t)w + (size_t)x) * 3 + (size_t)c] =
                    (uint8_t)(127 + 100 * sin(0.05 * (x + 1) * (c + 1) + 0.07 * y * (seed + 1) + seed) +
                              20 * (((x * 7 + y * 13 + c * 5 + seed) % 11) - 5) / 5.0);
    return img;
}

static void softmax_d(const float *bias, size_t n, double *out) {
    double max = bias[0], sum = 0;
    for (size_t k = 1; k < n; k++) max = bias[k] > max ? bias[k] : max;
    for (size_t k = 0; k < n; k++) sum += out[k] = exp(bias[k] - max);
    for (size_t k = 0; k < n; k++) out[k] /= sum;
}

static geoloc_predictor *predictor(const geoloc_model *m, geoloc_crop_mode crops, int partition, int top, int batch) {
    geoloc_predict_options o = geoloc_predict_options_default();
    o.crops = crops, o.partition = partition, o.top_k = top, o.batch = batch;
    geoloc_predictor *p = NULL;
    geoloc_error err = {0};
    if (geoloc_predictor_create(m, &o, &p, &err) != GEOLOC_OK) {
        fprintf(stderr, "predictor: %s\n", err.message);
        exit(1);
    }
    return p;
}

/* Heads with zero weights: the logits are the biases, whatever the photo. */
static void test_crafted_heads(geoloc_partition *const p[3]) {
    geoloc_model *m = make_model(p, 3);
    geoloc_net *net = m->net;
    float *bias[4];
    for (size_t h = 0; h < 4; h++) {
        char name[GEOLOC_NN_HEAD_NAME + 16];
        snprintf(name, sizeof name, "%s.weight", m->config.heads[h].name);
        geoloc_param *w = geoloc_net_find_param(net, name);
        memset(w->data, 0, w->n * sizeof(float));
        snprintf(name, sizeof name, "%s.bias", m->config.heads[h].name);
        geoloc_param *b = geoloc_net_find_param(net, name);
        for (size_t k = 0; k < b->n; k++) b->data[k] = (float)(2.0 * sin(1.7 * (double)k + (double)h));
        if (h == 3) b->data[2] = 5.0f; /* urban */
        bias[h] = b->data;
    }
    size_t nf = p[2]->n;
    double *pc[3], *want = malloc(nf * sizeof *want), total = 0;
    for (size_t h = 0; h < 3; h++) {
        pc[h] = malloc(p[h]->n * sizeof *pc[h]);
        softmax_d(bias[h], p[h]->n, pc[h]);
    }
    for (size_t k = 0; k < nf; k++) {
        want[k] = pc[2][k] * pc[1][m->ancestor[2][1][k]] * pc[0][m->ancestor[2][0][k]];
        total += want[k];
    }
    for (size_t k = 0; k < nf; k++) want[k] /= total;
    geoloc_image img[3] = {make_image(90, 64, 1), make_image(64, 200, 2), make_image(64, 64, 3)};
    geoloc_prediction pred[3];
    float *dist[3];
    for (int i = 0; i < 3; i++) dist[i] = malloc(nf * sizeof(float));
    geoloc_error err = {0};
    geoloc_predictor *pr = predictor(m, GEOLOC_CROPS_THREE, -1, 7, 2);
    CHECK(geoloc_predict(pr, img, 3, pred, dist, &err) == GEOLOC_OK, "%s", err.message);
    for (int i = 0; i < 3; i++) {
        double worst = 0;
        for (size_t k = 0; k < nf; k++) worst = fmax(worst, fabs(dist[i][k] - want[k]));
        CHECK(worst < 1e-6, "photo %d: hierarchical distribution off by %g", i, worst);
        CHECK(pred[i].n_top == 7 && pred[i].partition == 2, "photo %d: top %d", i, pred[i].n_top);
        int order = 1, values = 1, gps = 1;
        for (int r = 0; r < pred[i].n_top; r++) {
            const geoloc_cell_guess *g = &pred[i].top[r];
            for (size_t k = 0; k < nf; k++)  /* nothing outside the top beats it */
                if (want[k] > want[g->cls] + 1e-12 && (r == 0 || want[k] < want[pred[i].top[r - 1].cls] - 1e-12))
                    order = 0;
            if (r && g->prob > pred[i].top[r - 1].prob) order = 0;
            values &= fabs(g->prob - want[g->cls]) < 1e-6;
            gps &= g->lat == p[2]->lat[g->cls] && g->lon == p[2]->lng[g->cls] && g->cell == p[2]->cell[g->cls];
        }
        CHECK(order && values && gps, "photo %d: top-k order %d, values %d, Class2GPS %d", i, order, values, gps);
        CHECK(pred[i].lat == pred[i].top[0].lat && pred[i].lon == pred[i].top[0].lon, "photo %d: answer", i);
        CHECK(pred[i].scene[0] == 2 && pred[i].scene_prob[0] > 0.9f && pred[i].scene[1] == -1, "photo %d: scene %d (%g)",
              i, pred[i].scene[0], (double)pred[i].scene_prob[0]);
    }
    geoloc_predictor_free(pr);
    /* one partition: its own softmax */
    pr = predictor(m, GEOLOC_CROPS_CENTER, 1, 3, 1);
    CHECK(geoloc_predict(pr, img, 1, pred, dist, &err) == GEOLOC_OK, "%s", err.message);
    double worst = 0;
    for (size_t k = 0; k < p[1]->n; k++) worst = fmax(worst, fabs(dist[0][k] - pc[1][k]));
    CHECK(worst < 1e-6 && pred[0].partition == 1, "partition 1 alone: off by %g", worst);
    geoloc_predictor_free(pr);
    for (int i = 0; i < 3; i++) {
        geoloc_image_free(&img[i]);
        free(dist[i]);
    }
    for (int h = 0; h < 3; h++) free(pc[h]);
    free(want);
    geoloc_model_free(m);
}

/* The three-crop answer is the average of the crops' answers; batches of any
 * size give the photos' own answers. */
static void test_crops_and_batches(geoloc_partition *const p[3]) {
    geoloc_model *m = make_model(p, 11);
    for (size_t i = 0; i < geoloc_net_param_count(m->net); i++) { /* heads that tell photos apart */
        geoloc_param *q = geoloc_net_param(m->net, i);
        for (size_t k = 0; q->head >= 0 && k < q->n; k++) q->data[k] *= 40.0f;
    }
    geoloc_error err = {0};
    geoloc_image whole = make_image(128, 64, 5), crop[3];
    geoloc_rect r[3];
    geoloc_three_crop_rects(128, 64, r);
    for (int c = 0; c < 3; c++) geoloc_image_crop(&whole, r[c], &crop[c], &err);
    size_t nf = p[2]->n;
    double *avg[3], *hier = calloc(nf, sizeof *hier), total = 0;
    float *d = malloc(nf * sizeof *d);
    for (int f = 0; f < 3; f++) {
        geoloc_predictor *pr = predictor(m, GEOLOC_CROPS_THREE, f, 1, 1);
        geoloc_prediction pred;
        size_t n = p[f]->n;
        avg[f] = calloc(n, sizeof *avg[f]);
        for (int c = 0; c < 3; c++) { /* a square photo's three crops are the photo */
            CHECK(geoloc_predict(pr, &crop[c], 1, &pred, &d, &err) == GEOLOC_OK, "%s", err.message);
            for (size_t k = 0; k < n; k++) avg[f][k] += d[k] / 3.0;
        }
        CHECK(geoloc_predict(pr, &whole, 1, &pred, &d, &err) == GEOLOC_OK, "%s", err.message);
        double worst = 0, spread = 0;
        for (size_t k = 0; k < n; k++) worst = fmax(worst, fabs(d[k] - avg[f][k])), spread = fmax(spread, d[k]);
        CHECK(worst < 2e-5, "partition %d: three-crop average off by %g", f, worst);
        CHECK(spread > 2.0 / (double)n, "partition %d: the heads tell nothing apart (max %g)", f, spread);
        geoloc_predictor_free(pr);
    }
    for (size_t k = 0; k < nf; k++)
        total += hier[k] = avg[2][k] * avg[1][m->ancestor[2][1][k]] * avg[0][m->ancestor[2][0][k]];
    geoloc_predictor *pr = predictor(m, GEOLOC_CROPS_THREE, -1, 5, 1);
    geoloc_prediction pred;
    CHECK(geoloc_predict(pr, &whole, 1, &pred, &d, &err) == GEOLOC_OK, "%s", err.message);
    double worst = 0;
    for (size_t k = 0; k < nf; k++) worst = fmax(worst, fabs(d[k] - hier[k] / total));
    CHECK(worst < 2e-5, "hierarchical from the averaged heads: off by %g", worst);
    geoloc_predictor_free(pr);

    /* five photos in batches of 2 (the last one padded) = one at a time */
    geoloc_image five[5] = {make_image(128, 64, 1), make_image(64, 128, 2), make_image(100, 100, 3),
                            make_image(300, 70, 4), make_image(64, 64, 5)};
    geoloc_prediction one[5], batched[5];
    geoloc_predictor *p1 = predictor(m, GEOLOC_CROPS_FIVE, -1, 5, 1), *p2 = predictor(m, GEOLOC_CROPS_FIVE, -1, 5, 2);
    for (int i = 0; i < 5; i++) CHECK(geoloc_predict(p1, &five[i], 1, &one[i], NULL, &err) == GEOLOC_OK, "%s", err.message);
    CHECK(geoloc_predict(p2, five, 5, batched, NULL, &err) == GEOLOC_OK, "%s", err.message);
    int same = 0;
    for (int i = 0; i < 5; i++) same += one[i].top[0].cls == batched[i].top[0].cls &&
                                        fabsf(one[i].top[0].prob - batched[i].top[0].prob) < 1e-4f;
    CHECK(same == 5, "batches of 2: %d of 5 photos as alone", same);
    /* the parameters change: the predictor follows */
    geoloc_param *b = geoloc_net_find_param(m->net, "geo2.bias");
    b->data[0] += 1000.0f;
    geoloc_predictor_params_changed(p2);
    CHECK(geoloc_predict(p2, five, 1, batched, NULL, &err) == GEOLOC_OK && batched[0].top[0].cls == 0,
          "after params_changed: class %d", batched[0].top[0].cls);
    geoloc_image bad = {0};
    CHECK(geoloc_predict(p2, &bad, 1, batched, NULL, &err) == GEOLOC_E_ARG, "an empty photo is refused");
    geoloc_predictor_free(p1);
    geoloc_predictor_free(p2);

    /* bad options */
    geoloc_predict_options o = geoloc_predict_options_default();
    geoloc_predictor *none = NULL;
    o.partition = 3;
    CHECK(geoloc_predictor_create(m, &o, &none, &err) == GEOLOC_E_ARG && !none, "partition 3");
    o = geoloc_predict_options_default();
    o.top_k = 0;
    CHECK(geoloc_predictor_create(m, &o, &none, &err) == GEOLOC_E_ARG && !none, "top 0");
    for (int i = 0; i < 5; i++) geoloc_image_free(&five[i]);
    for (int c = 0; c < 3; c++) geoloc_image_free(&crop[c]);
    geoloc_image_free(&whole);
    for (int f = 0; f < 3; f++) free(avg[f]);
    free(hier);
    free(d);
    geoloc_model_free(m);

    /* fine before coarse: the hierarchy has holes, hierarchical prediction is refused */
    geoloc_partition *rev[3] = {p[2], p[1], p[0]};
    geoloc_model *r2 = make_model(rev, 0);
    CHECK(geoloc_predictor_create(r2, NULL, &none, &err) == GEOLOC_E_ARG && strstr(err.message, "one partition"),
          "reversed partitions: %s", err.message);
    geoloc_model_free(r2);
}

/* ---- the fuzz seed ------------------------------------------------------------- */

/* ---- scores -> answer ------------------------------------------------------------ */

/* Crafted probabilities: two crops per partition, each a normalised pattern. */
static float *crafted_probs(size_t classes, int seed) {
    float *p = malloc(2 * classes * sizeof *p);
    for (int c = 0; c < 2; c++) {
        double sum = 0;
        for (size_t k = 0; k < classes; k++) sum += p[c * classes + k] = (float)(1.1 + sin(0.9 * (double)k * (seed + 1) + c * 2.3));
        for (size_t k = 0; k < classes; k++) p[c * classes + k] = (float)(p[c * classes + k] / sum);
    }
    return p;
}

static void test_answer(geoloc_partition *const p[3]) {
    geoloc_model *m = make_model(p, 0);
    /* heads by role, by name whatever their position */
    CHECK(geoloc_model_head(m, GEOLOC_HEAD_GEO, 0) == 0 && geoloc_model_head(m, GEOLOC_HEAD_GEO, 2) == 2 &&
          geoloc_model_head(m, GEOLOC_HEAD_SCENE, 0) == 3 && geoloc_model_head(m, GEOLOC_HEAD_GEO, 3) == -1,
          "heads by role");
    geoloc_head_config saved = m->config.heads[0];
    m->config.heads[0] = m->config.heads[3];
    m->config.heads[3] = saved;
    CHECK(geoloc_model_head(m, GEOLOC_HEAD_SCENE, 0) == 0 && geoloc_model_head(m, GEOLOC_HEAD_GEO, 0) == 3,
          "heads found by name, not position");
    m->config.heads[3] = m->config.heads[0];
    m->config.heads[0] = saved;
    CHECK(geoloc_model_find_partition(m, "middle") == 1 && geoloc_model_find_partition(m, "2") == 2 &&
          geoloc_model_find_partition(m, NULL) == -1 && geoloc_model_find_partition(m, "hierarchical") == -1 &&
          geoloc_model_find_partition(m, "3") == -2 && geoloc_model_find_partition(m, "x") == -2, "find partition");

    float *geo[3], scene[6] = {0.2f, 0.3f, 0.5f, 0.1f, 0.7f, 0.2f}; /* natural on average */
    for (int f = 0; f < 3; f++) geo[f] = crafted_probs(p[f]->n, f);
    size_t nf = p[2]->n;
    double *mean[3], *want = malloc(nf * sizeof *want), total = 0;
    for (int f = 0; f < 3; f++) {
        mean[f] = malloc(p[f]->n * sizeof *mean[f]);
        for (size_t k = 0; k < p[f]->n; k++) mean[f][k] = ((double)geo[f][k] + geo[f][p[f]->n + k]) / 2;
    }
    for (size_t k = 0; k < nf; k++)
        total += want[k] = mean[2][k] * mean[1][m->ancestor[2][1][k]] * mean[0][m->ancestor[2][0][k]];
    for (size_t k = 0; k < nf; k++) want[k] /= total;
    geoloc_prediction pred;
    float *dist = malloc(nf * sizeof *dist);
    geoloc_error err = {0};
    CHECK(geoloc_answer_from_probs(m, (const float *const *)geo, scene, 2, -1, 5, &pred, dist, &err) == GEOLOC_OK,
          "answer: %s", err.message);
    double worst = 0;
    for (size_t k = 0; k < nf; k++) worst = fmax(worst, fabs(dist[k] - want[k]));
    CHECK(worst < 1e-6, "answer: hierarchical scores of the crops' average off by %g", worst);
    int best = 0;
    for (size_t k = 1; k < nf; k++) best = want[k] > want[best] ? (int)k : best;
    CHECK(pred.n_top == 5 && pred.top[0].cls == best && pred.lat == p[2]->lat[best] && pred.lon == p[2]->lng[best] &&
          pred.partition == 2, "answer: best cell %d (want %d) at its Class2GPS location", pred.top[0].cls, best);
    CHECK(pred.scene[0] == 1 && fabs(pred.scene_prob[0] - 0.5) < 1e-6 &&
          !strcmp(geoloc_model_scene_name(m, 0, pred.scene[0]), "natural"), "answer: scene %d (%g)", pred.scene[0],
          (double)pred.scene_prob[0]);
    /* one partition: its averaged probabilities */
    CHECK(geoloc_answer_from_probs(m, (const float *const *)geo, NULL, 2, 1, 3, &pred, dist, &err) == GEOLOC_OK &&
          pred.scene[0] == -1, "answer, partition 1: %s", err.message);
    worst = 0;
    for (size_t k = 0; k < p[1]->n; k++) worst = fmax(worst, fabs(dist[k] - mean[1][k]));
    CHECK(worst < 1e-6 && pred.partition == 1, "answer, partition 1: off by %g", worst);
    /* non-finite or impossible probabilities are refused, never answered */
    const float bad[3] = {NAN, INFINITY, 1.5f};
    for (int b = 0; b < 3; b++) {
        float keep = geo[0][p[0]->n + 1];
        geo[0][p[0]->n + 1] = bad[b]; /* second crop */
        CHECK(geoloc_answer_from_probs(m, (const float *const *)geo, scene, 2, -1, 5, &pred, dist, &err) ==
              GEOLOC_E_RANGE && strstr(err.message, "coarse"), "answer: %g refused (%s)", (double)bad[b], err.message);
        geo[0][p[0]->n + 1] = keep;
    }
    scene[4] = NAN;
    CHECK(geoloc_answer_from_probs(m, (const float *const *)geo, scene, 2, -1, 5, &pred, dist, &err) == GEOLOC_E_RANGE,
          "answer: a NaN scene probability refused");
    for (int f = 0; f < 3; f++) {
        free(geo[f]);
        free(mean[f]);
    }
    free(want);
    free(dist);
    geoloc_model_free(m);
}

/* A model whose head weights are NaN: prediction fails, nothing is answered. */
static void test_nan_model(geoloc_partition *const p[3]) {
    geoloc_model *m = make_model(p, 3);
    geoloc_param *w = geoloc_net_find_param(m->net, "geo1.bias");
    for (size_t k = 0; k < w->n; k++) w->data[k] = NAN;
    geoloc_predictor *pr = predictor(m, GEOLOC_CROPS_CENTER, -1, 3, 1);
    geoloc_image img = make_image(80, 64, 4);
    geoloc_prediction pred;
    geoloc_error err = {0};
    CHECK(geoloc_predict(pr, &img, 1, &pred, NULL, &err) == GEOLOC_E_RANGE && strstr(err.message, "finite"),
          "a NaN model is refused: %s", err.message);
    geoloc_image_free(&img);
    geoloc_predictor_free(pr);
    geoloc_model_free(m);
}

typedef struct batch_seen {
    size_t calls, order_ok;
    int warnings[4];
    char json[4][2048];
    geoloc_prediction pred[4];
    int has[4];
    char error[4][512];
    const geoloc_model *model; /* answers also written as JSON when set */
} batch_seen;

static int batch_collect(void *ctx, const geoloc_photo_answer *a) {
    batch_seen *b = ctx;
    b->order_ok += a->index == b->calls;
    if (a->index < 4) {
        b->has[a->index] = a->pred != NULL;
        if (a->pred) b->pred[a->index] = *a->pred;
        snprintf(b->error[a->index], sizeof b->error[0], "%s", a->error ? a->error : "");
        b->warnings[a->index] = a->n_warnings;
        FILE *f = fmemopen(b->json[a->index], sizeof b->json[0] - 1, "w");
        geoloc_json w;
        geoloc_json_init(&w, f, 0);
        if (b->model) geoloc_answer_write_json(&w, b->model, a);
        fclose(f);
    }
    b->calls++;
    return 0;
}

/* Batch prediction over a file and the same bytes in memory, with an
 * unreadable buffer and a missing file among them. */
static void test_batch(geoloc_partition *const p[3], const char *photo) {
    size_t size;
    void *bytes = test_read_file(photo, &size);
    geoloc_model *m = make_model(p, 3);
    geoloc_predictor *pr = predictor(m, GEOLOC_CROPS_THREE, -1, 5, 3);
    geoloc_photo_input in[4] = {{photo, NULL, 0, NULL}, {NULL, "garbage", 7, "garbage.jpg"},
                                {NULL, bytes, size, "memory.jpg"}, {tmp_path("missing.jpg"), NULL, 0, NULL}};
    batch_seen seen = {0};
    geoloc_batch_stats st;
    geoloc_error err = {0};
    CHECK(geoloc_predict_photos(pr, in, 4, 0, batch_collect, &seen, &st, &err) == GEOLOC_OK, "%s", err.message);
    CHECK(seen.calls == 4 && seen.order_ok == 4 && st.predicted == 2 && st.failed == 2 && !st.stopped,
          "batch: %zu answers in order, %zu predicted, %zu failed", seen.calls, st.predicted, st.failed);
    CHECK(seen.has[0] && seen.has[2] && !seen.has[1] && !seen.has[3] && strstr(seen.error[1], "garbage.jpg") &&
          strstr(seen.error[3], "missing.jpg"), "batch: unreadable photos answered with their error");
    CHECK(!memcmp(&seen.pred[0], &seen.pred[2], sizeof seen.pred[0]), "batch: a file and its bytes in memory agree");
    free(bytes);
    geoloc_predictor_free(pr);
    geoloc_model_free(m);
}

/* A damaged photo (its last 30 % cut off) is answered with the decoder's
 * warnings, in the JSON too; strict refuses it; a small max_pixels reduces the
 * photo instead of refusing it. */
static void test_damaged(geoloc_partition *const p[3], const char *photo) {
    size_t size;
    void *bytes = test_read_file(photo, &size);
    geoloc_model *m = make_model(p, 3);
    geoloc_photo_input in[2] = {{NULL, bytes, size * 7 / 10, "cut.jpg"}, {NULL, bytes, size, "whole.jpg"}};
    for (int strict = 0; strict < 2; strict++) {
        geoloc_predict_options o = geoloc_predict_options_default();
        o.batch = 6;
        o.strict = strict;
        o.max_pixels = 40000; /* the 427x320 photo is decoded at 1/2 or 1/4 */
        geoloc_predictor *pr = NULL;
        geoloc_error err = {0};
        CHECK(geoloc_predictor_create(m, &o, &pr, &err) == GEOLOC_OK, "%s", err.message);
        batch_seen seen = {.model = m};
        geoloc_batch_stats st;
        CHECK(geoloc_predict_photos(pr, in, 2, 0, batch_collect, &seen, &st, &err) == GEOLOC_OK, "%s", err.message);
        CHECK(seen.has[1] && seen.warnings[1] == 0 && !strstr(seen.json[1], "\"warnings\""),
              "strict %d: the whole photo answered without warnings under max_pixels: %s", strict, seen.error[1]);
        if (!strict)
            CHECK(seen.has[0] && seen.warnings[0] > 0 && strstr(seen.json[0], "\"warnings\": [\"JPEG: "),
                  "a cut photo is answered with warnings: %s", seen.json[0]);
        else
            CHECK(!seen.has[0] && strstr(seen.error[0], "cut.jpg") && strstr(seen.error[0], "strict"),
                  "strict refuses a cut photo: %s", seen.error[0]);
        geoloc_predictor_free(pr);
    }
    free(bytes);
    geoloc_model_free(m);
}

/* The tiny heads-only ResNet-18 model (tiny_model.h: partitions of 1, 2 and 3
 * cells and a scene head, ~20 KB) written and read back. */
static void write_tiny_model(const char *path) {
    geoloc_model *m = tiny_model_create();
    geoloc_error err = {0};
    CHECK(geoloc_model_save(m, path, 1, "resnet18-backbone.safetensors", &err) == GEOLOC_OK, "%s", err.message);
    geoloc_model *back = NULL;
    CHECK(geoloc_model_read_info(path, &back, &err) == GEOLOC_OK, "tiny model: %s", err.message);
    geoloc_model_free(back);
    geoloc_model_free(m);
}

int main(int argc, char **argv) {
    test_make_temp_dir(dir);
    geoloc_partition *p[3];
    make_partitions(p);
    CHECK(p[0]->n >= 4 && p[1]->n > p[0]->n && p[2]->n > p[1]->n, "partition sizes %zu %zu %zu", p[0]->n, p[1]->n,
          p[2]->n);
    test_files(p);
    test_resolve();
    test_crafted_heads(p);
    test_crops_and_batches(p);
    test_answer(p);
    test_nan_model(p);
    char photo[4096];
    snprintf(photo, sizeof photo, "%s/../../share/geoloc/example.jpg", argv[2]);
    test_batch(p, photo);
    test_damaged(p, photo);
    write_tiny_model(argc > 3 ? argv[3] : tmp_path("tiny.safetensors"));
    for (int f = 0; f < 3; f++) geoloc_partition_free(p[f]);
    test_remove_tree(dir);
    TEST_END();
}
