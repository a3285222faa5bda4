/* geoloc_train on a dozen Im2GPS3k photos with a random ResNet-18 at 96x96:
 * heads mode (features cache reused, baselines, the saved model predicts
 * what validation measured), full mode, and resuming after interruptions
 * (GEOLOC_TRAIN_STOP_AFTER's option: stop as if killed) ends with the same
 * weights, bit for bit, and the same log as an uninterrupted run; so does a
 * feature extraction stopped after a chunk; a diverging run (lr 1e30) stops
 * with GEOLOC_E_RANGE, writes no model and keeps a finite checkpoint; tuning
 * from layer 4 writes layer 4 and the heads over the backbone and leaves the
 * layers before as they were; bad
 * inputs are refused with clear messages and leave nothing behind. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "geoloc/model.h"
#include "geoloc/nn.h"
#include "geoloc/safetensors.h"
#include "geoloc/train.h"
#include "test_util.h"

static char dir[64] = "/tmp/geoloc_test_train_XXXXXX";
static char images[1024];

static const char *path_in(const char *name) {
    static char buf[256][1024];
    static int next;
    char *p = buf[next++ % 256];
    snprintf(p, 1024, "%s/%s", dir, name);
    return p;
}

static int exists(const char *path) {
    struct stat st;
    return stat(path, &st) == 0;
}

/* Number of tensors that differ between two safetensors files (-1: unreadable). */
static int tensor_diffs(const char *a, const char *b) {
    geoloc_safetensors *sa = NULL, *sb = NULL;
    geoloc_error err = {0};
    int diffs = -1;
    if (geoloc_safetensors_open(a, &sa, &err) == GEOLOC_OK && geoloc_safetensors_open(b, &sb, &err) == GEOLOC_OK) {
        diffs = geoloc_safetensors_count(sa) == geoloc_safetensors_count(sb) ? 0 : 1;
        for (size_t i = 0; i < geoloc_safetensors_count(sa); i++) {
            const geoloc_tensor_info *ta = geoloc_safetensors_tensor(sa, i);
            const geoloc_tensor_info *tb = geoloc_safetensors_find(sb, ta->name);
            if (!tb || tb->n_bytes != ta->n_bytes || memcmp(ta->data, tb->data, ta->n_bytes)) {
                if (diffs < 3) fprintf(stderr, "  tensor %s differs\n", ta->name);
                diffs++;
            }
        }
    } else {
        fprintf(stderr, "  %s\n", err.message);
    }
    geoloc_safetensors_close(sa);
    geoloc_safetensors_close(sb);
    return diffs;
}

/* 1 when tensor `name` of a model file equals the backbone's (rand18), 0 when it differs, -1: missing. */
static int same_tensor(const char *model, const char *name) {
    geoloc_safetensors *a = NULL, *b = NULL;
    geoloc_error err = {0};
    int same = -1;
    if (geoloc_safetensors_open(model, &a, &err) == GEOLOC_OK &&
        geoloc_safetensors_open(path_in("rand18.safetensors"), &b, &err) == GEOLOC_OK) {
        const geoloc_tensor_info *x = geoloc_safetensors_find(a, name), *y = geoloc_safetensors_find(b, name);
        if (x && y) same = x->n_bytes == y->n_bytes && !memcmp(x->data, y->data, x->n_bytes);
    }
    geoloc_safetensors_close(a);
    geoloc_safetensors_close(b);
    return same;
}

/* 1 when every F32 tensor of a safetensors file is finite. */
static int all_finite(const char *path) {
    geoloc_safetensors *st = NULL;
    geoloc_error err = {0};
    if (geoloc_safetensors_open(path, &st, &err) != GEOLOC_OK) return 0;
    int finite = 1;
    for (size_t i = 0; i < geoloc_safetensors_count(st); i++) {
        const geoloc_tensor_info *t = geoloc_safetensors_tensor(st, i);
        if (t->dtype != GEOLOC_DTYPE_F32) continue;
        for (size_t k = 0; k < t->n_bytes / 4; k++) {
            float v;
            memcpy(&v, (const char *)t->data + 4 * k, 4);
            finite &= isfinite(v) != 0;
        }
    }
    geoloc_safetensors_close(st);
    return finite;
}

/* The log without its last two columns (images/s and elapsed time). */
static char *log_core(const char *path) {
    size_t size;
    char *text = test_read_text(path, &size);
    if (!text) return NULL;
    char *out = malloc(size + 1), *o = out;
    for (char *line = text, *next; line && *line; line = next) {
        next = strchr(line, '\n');
        if (next) *next++ = '\0';
        char *cut = strrchr(line, ',');
        if (cut) *cut = '\0';
        cut = strrchr(line, ',');
        if (cut) *cut = '\0';
        o += sprintf(o, "%s\n", line);
    }
    *o = '\0';
    free(text);
    return out;
}

static int same_log(const char *a, const char *b) {
    char *x = log_core(a), *y = log_core(b);
    int same = x && y && !strcmp(x, y);
    if (!same) fprintf(stderr, "--- %s\n%s--- %s\n%s", a, x ? x : "", b, y ? y : "");
    free(x);
    free(y);
    return same;
}

static geoloc_train_options base_options(geoloc_train_mode mode, const geoloc_manifest *m, const char *out) {
    static const uint64_t tau_max[2] = {6, 3};
    geoloc_train_options o = geoloc_train_options_default(mode);
    o.train = m;
    o.val_fraction = 0.34;
    o.images_dir = images;
    o.tau_min = 0;
    o.tau_max = tau_max;
    o.n_tau = 2;
    o.backbone = path_in("rand18.safetensors");
    o.image_size = 96; /* 64: the engine picks a slow reference kernel for 2x2 maps */
    o.out = out;
    if (mode == GEOLOC_TRAIN_HEADS) {
        o.epochs = 3;
        o.batch = 8;
        o.features = path_in("features.safetensors");
    } else {
        o.epochs = 2;
        o.batch = 4;
        o.micro_batch = 2;
        o.lr = 0.05;
    }
    return o;
}

/* Heads mode: a straight run, then the same interrupted twice and resumed. */
static void test_heads(const geoloc_manifest *m) {
    geoloc_error err = {0};
    geoloc_train_result r;
    geoloc_train_options o = base_options(GEOLOC_TRAIN_HEADS, m, path_in("h1.safetensors"));
    o.baselines = 1;
    CHECK(geoloc_train(&o, &r, &err) == GEOLOC_OK, "heads: %s", err.message);
    CHECK(!r.features_cached && r.n_train + r.n_val == m->n && r.n_val > 0, "%zu + %zu photos", r.n_train, r.n_val);
    CHECK(r.epochs_done == 3 && r.val.n == r.n_val && r.steps > 0, "epochs %d val %zu", r.epochs_done, r.val.n);
    CHECK(r.baseline_cell.n == r.n_val && r.baseline_nn.n == r.n_val, "baselines on %zu, %zu photos",
          r.baseline_cell.n, r.baseline_nn.n);
    CHECK(exists(path_in("h1.cells_0_6.csv")) && exists(path_in("h1.cells_0_3.csv")), "partitions written");
    CHECK(exists(path_in("h1.log.csv")) && exists(path_in("h1.ckpt.safetensors")), "log and checkpoint");
    long steps = r.steps;
    geoloc_distance_summary val = r.val;

    /* the saved heads (standardisation folded in) answer as validation did */
    setenv("GEOLOC_DATA_DIR", dir, 1);
    geoloc_model *model = NULL;
    CHECK(geoloc_model_load(path_in("h1.safetensors"), &model, &err) == GEOLOC_OK, "load: %s", err.message);
    if (model) {
        CHECK(model->n_partitions == 2 && model->n_scenes == 3 && model->image_size == 96, "model shape");
        CHECK(!strcmp(model->backbone, "rand18.safetensors"), "heads only, backbone named: %s", model->backbone);
        geoloc_predict_options po = geoloc_predict_options_default();
        geoloc_predictor *pred = NULL;
        CHECK(geoloc_predictor_create(model, &po, &pred, &err) == GEOLOC_OK, "predictor: %s", err.message);
        geoloc_manifest *vm = NULL;
        CHECK(geoloc_manifest_read(path_in("val_check.csv"), NULL, &vm, &err) == GEOLOC_OK, "%s", err.message);
        size_t done = 0, n = vm ? vm->n : 0;
        double km[12];
        geoloc_decode_options dec = {.min_shorter_side = geoloc_predict_min_side(model, GEOLOC_CROPS_THREE)};
        for (size_t i = 0; pred && i < n && i < 12; i++) {
            char p[2048];
            snprintf(p, sizeof p, "%s/%s", images, vm->row[i].id);
            geoloc_image img = {0};
            geoloc_prediction out;
            if (geoloc_image_load(p, &dec, &img, &err) == GEOLOC_OK &&
                geoloc_predict(pred, &img, 1, &out, NULL, &err) == GEOLOC_OK)
                km[done++] = geoloc_haversine_km(vm->row[i].lat, vm->row[i].lng, out.lat, out.lon);
            geoloc_image_free(&img);
        }
        geoloc_distance_summary ps = {0};
        CHECK(done == n && geoloc_distance_summarize(km, done, &ps, &err) == GEOLOC_OK, "predicted %zu of %zu: %s",
              done, n, err.message);
        CHECK(fabs(ps.median_km - val.median_km) < 1e-6 && ps.accuracy[3] == val.accuracy[3],
              "the saved model's answers (median %.3f km) are validation's (%.3f km)", ps.median_km, val.median_km);
        geoloc_manifest_free(vm);
        geoloc_predictor_free(pred);
        /* a model with a NaN weight is never saved */
        geoloc_param *head = geoloc_net_param(model->net, geoloc_net_param_count(model->net) - 1);
        head->data[0] = NAN;
        CHECK(geoloc_model_save(model, path_in("nan.safetensors"), 1, NULL, &err) == GEOLOC_E_RANGE &&
                  strstr(err.message, "non-finite") && !exists(path_in("nan.safetensors")),
              "NaN model refused: %s", err.message);
        geoloc_model_free(model);
    }

    /* the same, stopped mid-epoch and at an epoch's end, resumed each time */
    o = base_options(GEOLOC_TRAIN_HEADS, m, path_in("h2.safetensors"));
    long stops[2] = {steps / 3 + 1, 2 * steps / 3};
    for (int k = 0; k < 3; k++) {
        o.stop_after = k < 2 ? stops[k] : 0;
        o.resume = k > 0;
        memset(&r, 0, sizeof r);
        CHECK(geoloc_train(&o, &r, &err) == GEOLOC_OK, "heads part %d: %s", k, err.message);
        CHECK(r.features_cached, "features from the cache");
        CHECK(r.stopped == (k < 2), "part %d stopped: %d", k, r.stopped);
        CHECK(exists(path_in("h2.safetensors")) == (k == 2), "model written only at the end");
    }
    CHECK(r.val.median_km == val.median_km && r.val.accuracy[4] == val.accuracy[4], "same validation");
    CHECK(tensor_diffs(path_in("h1.safetensors"), path_in("h2.safetensors")) == 0, "resumed heads differ");
    CHECK(same_log(path_in("h1.log.csv"), path_in("h2.log.csv")), "same log");

    /* a resume with other settings is refused */
    o.lr = 0.5;
    o.resume = 1;
    CHECK(geoloc_train(&o, &r, &err) == GEOLOC_E_ARG && strstr(err.message, "other settings"), "%s", err.message);
    /* a diverging run: stopped with a clear error, no model, the last checkpoint finite */
    o = base_options(GEOLOC_TRAIN_HEADS, m, path_in("hd.safetensors"));
    o.lr = 1e30;
    o.checkpoint_every = 1;
    CHECK(geoloc_train(&o, &r, &err) == GEOLOC_E_RANGE && strstr(err.message, "training diverged at epoch 1") &&
              strstr(err.message, "last good checkpoint kept") && strstr(err.message, "try a lower --lr"),
          "divergence: %s", err.message);
    CHECK(!exists(path_in("hd.safetensors")), "no model written after a divergence");
    CHECK(exists(path_in("hd.ckpt.safetensors")) && all_finite(path_in("hd.ckpt.safetensors")),
          "the kept checkpoint is finite");
    /* feature extraction stopped after one chunk of 5 photos, resumed: the same bits */
    for (int k = 0; k < 2; k++) {
        o = base_options(GEOLOC_TRAIN_HEADS, m, path_in("hc.safetensors"));
        o.epochs = 1;
        o.features = path_in("features_chunked.safetensors");
        o.features_chunk = 5;
        o.stop_after_chunks = k == 0;
        memset(&r, 0, sizeof r);
        CHECK(geoloc_train(&o, &r, &err) == GEOLOC_OK, "chunked features %d: %s", k, err.message);
        CHECK(r.stopped == (k == 0) && exists(path_in("features_chunked.safetensors.chunk0")) == (k == 0),
              "part %d: stopped %d", k, r.stopped);
    }
    CHECK(tensor_diffs(path_in("features.safetensors"), path_in("features_chunked.safetensors")) == 0,
          "resumed feature extraction differs");
    /* random views: a different features key */
    o = base_options(GEOLOC_TRAIN_HEADS, m, path_in("h3.safetensors"));
    o.views = 8;
    o.epochs = 1;
    o.features = path_in("features8.safetensors");
    CHECK(geoloc_train(&o, &r, &err) == GEOLOC_OK && !r.features_cached, "8 views: %s", err.message);
}

/* Full mode: 2 epochs of 2 steps of 2 micro-batches; interrupted after steps 1 and 3. */
static void test_full(const geoloc_manifest *m) {
    geoloc_error err = {0};
    geoloc_train_result r;
    geoloc_train_options o = base_options(GEOLOC_TRAIN_FULL, m, path_in("f1.safetensors"));
    CHECK(geoloc_train(&o, &r, &err) == GEOLOC_OK, "full: %s", err.message);
    CHECK(r.steps == 4 && r.epochs_done == 2 && r.val.n == r.n_val, "steps %ld", r.steps);
    o = base_options(GEOLOC_TRAIN_FULL, m, path_in("f2.safetensors"));
    o.checkpoint_every = 1;
    long stops[3] = {1, 3, 0};
    for (int k = 0; k < 3; k++) {
        o.stop_after = stops[k];
        o.resume = k > 0;
        CHECK(geoloc_train(&o, &r, &err) == GEOLOC_OK, "full part %d: %s", k, err.message);
        CHECK(r.stopped == (k < 2), "part %d stopped: %d", k, r.stopped);
    }
    CHECK(tensor_diffs(path_in("f1.safetensors"), path_in("f2.safetensors")) == 0, "resumed full training differs");
    CHECK(same_log(path_in("f1.log.csv"), path_in("f2.log.csv")), "same log");
    /* full mode diverging: stopped by the step's check, nothing written */
    o = base_options(GEOLOC_TRAIN_FULL, m, path_in("fd.safetensors"));
    o.lr = 1e30;
    o.epochs = 1;
    CHECK(geoloc_train(&o, &r, &err) == GEOLOC_E_RANGE && strstr(err.message, "training diverged at epoch 1 step") &&
              strstr(err.message, "no checkpoint written yet"), "full divergence: %s", err.message);
    CHECK(!exists(path_in("fd.safetensors")) && !exists(path_in("fd.ckpt.safetensors")), "nothing written");
    /* frozen backbone: only the heads and batch-norm statistics move */
    o = base_options(GEOLOC_TRAIN_FULL, m, path_in("f3.safetensors"));
    o.freeze_backbone = 1;
    o.epochs = 1;
    CHECK(geoloc_train(&o, &r, &err) == GEOLOC_OK, "frozen: %s", err.message);
    CHECK(same_tensor(path_in("f3.safetensors"), "layer1.0.conv1.weight") == 1, "frozen conv unchanged");
    /* only layer 4 and the heads tuned: the file holds them (layer 4 in float16) over the
     * backbone file; loaded, the layers before, batch-norm statistics included, are the
     * backbone's; layer 4's weights and statistics moved */
    o = base_options(GEOLOC_TRAIN_FULL, m, path_in("f4.safetensors"));
    o.tune_from = 4;
    o.epochs = 1;
    CHECK(geoloc_train(&o, &r, &err) == GEOLOC_OK && r.val.n == r.n_val, "tune from layer 4: %s", err.message);
    CHECK(same_tensor(path_in("f4.safetensors"), "layer3.1.conv2.weight") == -1, "the frozen layers are not in the file");
    setenv("GEOLOC_DATA_DIR", dir, 1);
    geoloc_model *tm = NULL;
    geoloc_safetensors *bb = NULL;
    CHECK(geoloc_model_load(path_in("f4.safetensors"), &tm, &err) == GEOLOC_OK && tm->tuned_from == 4 &&
              tm->tuned_dtype == GEOLOC_DTYPE_F16, "tuned model: %s", err.message);
    CHECK(geoloc_safetensors_open(path_in("rand18.safetensors"), &bb, &err) == GEOLOC_OK, "%s", err.message);
    static const char *const names[] = {"conv1.weight", "bn1.running_mean", "layer3.1.conv2.weight",
                                        "layer3.1.bn2.running_var", "layer3.1.bn2.weight", "layer4.0.conv1.weight",
                                        "layer4.1.bn2.running_mean", "layer4.1.bn2.bias"};
    for (size_t k = 0; tm && bb && k < sizeof names / sizeof names[0]; k++) {
        const geoloc_param *p = geoloc_net_find_param(tm->net, names[k]);
        const geoloc_tensor_info *t = geoloc_safetensors_find(bb, names[k]);
        int same = p && t && t->n_bytes == p->n * sizeof(float) && !memcmp(t->data, p->data, t->n_bytes);
        CHECK(same == !strstr(names[k], "layer4"), "tune from 4: %s %s", names[k], same ? "unchanged" : "changed");
    }
    geoloc_safetensors_close(bb);
    geoloc_model_free(tm);
}

static void test_errors(const geoloc_manifest *m) {
    geoloc_error err = {0};
    geoloc_train_result r;
    geoloc_manifest *empty = NULL, *missing = NULL;
    geoloc_train_options o = base_options(GEOLOC_TRAIN_HEADS, m, path_in("e.safetensors"));
    o.features = path_in("e.features.safetensors");
    CHECK(geoloc_manifest_new(m->columns, NULL, 0, &empty, &err) == GEOLOC_OK, "%s", err.message);
    o.train = empty;
    CHECK(geoloc_train(&o, &r, &err) == GEOLOC_E_EMPTY && strstr(err.message, "no photos"), "empty: %s", err.message);
    /* a missing photo: named, nothing written */
    CHECK(geoloc_manifest_new(m->columns, NULL, 0, &missing, &err) == GEOLOC_OK, "%s", err.message);
    for (size_t k = 0; k < m->n; k++) geoloc_manifest_append(missing, &m->row[k], NULL, &err);
    geoloc_manifest_row extra = m->row[0];
    extra.id = "no_such_photo.jpg";
    geoloc_manifest_append(missing, &extra, NULL, &err);
    o.train = missing;
    CHECK(geoloc_train(&o, &r, &err) == GEOLOC_E_IO && strstr(err.message, "no_such_photo.jpg") &&
              strstr(err.message, "1 of the"), "missing: %s", err.message);
    CHECK(!exists(path_in("e.safetensors")) && !exists(path_in("e.log.csv")) &&
              !exists(path_in("e.features.safetensors")) && !exists(path_in("e.cells_0_6.csv")), "nothing written");
    /* partitions that hold none of the photos */
    double lat[2] = {-80, -80.001}, lng[2] = {10, 10.001};
    uint64_t tau = 1;
    geoloc_partition_params pp = {0, &tau, 1, 2, 30, 1};
    geoloc_partition *far = NULL;
    CHECK(geoloc_partitions_build(lat, lng, 2, &pp, &far, &err) == GEOLOC_OK, "%s", err.message);
    const geoloc_partition *parts[1] = {far};
    const char *names[1] = {"far"};
    o.train = m;
    o.partitions = parts;
    o.partition_names = names;
    o.n_partitions = 1;
    CHECK(geoloc_train(&o, &r, &err) == GEOLOC_E_RANGE && strstr(err.message, "none of the"), "no cell: %s",
          err.message);
    geoloc_partition_free(far);
    /* the default backbone missing: the message says how to get it */
    o = base_options(GEOLOC_TRAIN_HEADS, m, path_in("e.safetensors"));
    o.backbone = NULL;
    setenv("GEOLOC_DATA_DIR", "/nonexistent", 1);
    CHECK(geoloc_train(&o, &r, &err) == GEOLOC_E_IO && strstr(err.message, "fetch-backbone"), "%s", err.message);
    o.backbone = path_in("none.safetensors");
    CHECK(geoloc_train(&o, &r, &err) == GEOLOC_E_IO && strstr(err.message, "none.safetensors"), "%s", err.message);
    /* resume without a checkpoint; a scene column that is not there; bad batch */
    o = base_options(GEOLOC_TRAIN_HEADS, m, path_in("e.safetensors"));
    o.resume = 1;
    CHECK(geoloc_train(&o, &r, &err) == GEOLOC_E_IO && strstr(err.message, "no checkpoint"), "%s", err.message);
    o.resume = 0;
    o.scene = GEOLOC_SCENE_S365;
    o.train = empty; /* checked first */
    CHECK(geoloc_train(&o, &r, &err) != GEOLOC_OK, "empty again");
    o = base_options(GEOLOC_TRAIN_FULL, m, path_in("e.safetensors"));
    o.micro_batch = 3;
    CHECK(geoloc_train(&o, &r, &err) == GEOLOC_E_ARG && strstr(err.message, "multiple"), "%s", err.message);
    o.micro_batch = 2;
    o.tune_from = 5;
    CHECK(geoloc_train(&o, &r, &err) == GEOLOC_E_ARG && strstr(err.message, "tune from layer 5"), "%s", err.message);
    o = base_options(GEOLOC_TRAIN_HEADS, m, path_in("e.safetensors"));
    o.tune_from = 4;
    CHECK(geoloc_train(&o, &r, &err) == GEOLOC_E_ARG && strstr(err.message, "full mode only"), "%s", err.message);
    geoloc_manifest_free(empty);
    geoloc_manifest_free(missing);
}

int main(int argc, char **argv) {
    const char *shared = argc > 1 ? argv[1] : "../shared/data";
    char csv[1024];
    snprintf(csv, sizeof csv, "%s/im2gps3k-dev/im2gps3k_dev.csv", shared);
    snprintf(images, sizeof images, "%s/im2gps3k-dev/images", shared);
    require_shared_data(csv);
    test_make_temp_dir(dir);
    geoloc_error err = {0};
    geoloc_manifest *all = NULL, *m = NULL;
    if (geoloc_manifest_read(csv, NULL, &all, &err) != GEOLOC_OK) {
        fprintf(stderr, "%s\n", err.message);
        return 1;
    }
    /* a dozen photos from all over the list (different photographers and places) */
    size_t rows[12];
    for (size_t k = 0; k < 12; k++) rows[k] = k * (all->n / 12);
    CHECK(geoloc_manifest_write_rows(all, rows, 12, path_in("train.csv"), &err) == GEOLOC_OK, "%s", err.message);
    CHECK(geoloc_manifest_read(path_in("train.csv"), NULL, &m, &err) == GEOLOC_OK, "%s", err.message);
    /* a random ResNet-18 as the "ImageNet" backbone */
    geoloc_resnet_config cfg;
    geoloc_resnet_config_default(&cfg, 18, 10);
    geoloc_net *net = NULL;
    CHECK(geoloc_net_create(&cfg, &net, &err) == GEOLOC_OK, "%s", err.message);
    if (net) {
        geoloc_net_init_random(net, 3);
        CHECK(geoloc_net_save(net, path_in("rand18.safetensors"), NULL, NULL, 0, &err) == GEOLOC_OK, "%s",
              err.message);
    }
    geoloc_net_free(net);
    if (m && m->n == 12) {
        /* the validation photos of the default split, for the prediction check */
        geoloc_split_options so = {.val_fraction = 0.34, .seed = 1};
        uint8_t is_val[12];
        size_t vrows[12], nv = 0;
        geoloc_split_stats stats;
        if (geoloc_dataset_split(m, &so, is_val, &stats, &err) == GEOLOC_OK)
            for (size_t k = 0; k < 12; k++)
                if (is_val[k]) vrows[nv++] = k;
        CHECK(nv > 0 && geoloc_manifest_write_rows(m, vrows, nv, path_in("val_check.csv"), &err) == GEOLOC_OK,
              "val rows");
        test_heads(m);
        test_full(m);
        test_errors(m);
    }
    geoloc_manifest_free(m);
    geoloc_manifest_free(all);
    if (!test_failed) test_remove_tree(dir);
    else fprintf(stderr, "files kept in %s\n", dir);
    TEST_END();
}
