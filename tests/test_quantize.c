/* Post-training int8 quantisation of models (geoloc_model_quantize) on the
 * tiny model (tiny_model.h) and the example photo: unreadable calibration
 * photos counted, the ranges saved in the model file (heads-only: beside the
 * backbone file's, which they override; whole) and read back so that int8
 * answers are bit for bit those of the model in memory; int8 close to
 * float32; int8 without ranges refused; hostile range tensors refused naming
 * the file and the tensor. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "geoloc/model.h"
#include "geoloc/predict.h"
#include "model_file_edit.h"
#include "test_util.h"
#include "tiny_model.h"

static char dir[] = "/tmp/geoloc_test_quantize_XXXXXX";

static const char *tmp_path(const char *name) { return test_path_in(dir, name); }

/* The answer of m in precision p to the photo (crops three). */
static geoloc_prediction answer(const geoloc_model *m, geoloc_precision p, const char *photo, geoloc_status *status,
                                geoloc_error *err) {
    geoloc_predict_options o = geoloc_predict_options_default();
    o.precision = p;
    o.batch = 1;
    geoloc_prediction out;
    memset(&out, 0, sizeof out);
    geoloc_predictor *pr = NULL;
    geoloc_image img = {0};
    *status = geoloc_predictor_create(m, &o, &pr, err);
    if (*status == GEOLOC_OK) *status = geoloc_image_load(photo, NULL, &img, err);
    if (*status == GEOLOC_OK) *status = geoloc_predict(pr, &img, 1, &out, NULL, err);
    geoloc_image_free(&img);
    geoloc_predictor_free(pr);
    return out;
}

/* Whether two answers have the same cells with the same probabilities, bit for bit. */
static int same_answer(const geoloc_prediction *a, const geoloc_prediction *b) {
    if (a->n_top != b->n_top || a->n_top < 1) return 0;
    for (int k = 0; k < a->n_top; k++)
        if (a->top[k].cell != b->top[k].cell || a->top[k].prob != b->top[k].prob) return 0;
    return 1;
}

/* m's int8 answer to the photo (checked to succeed). */
static geoloc_prediction int8_answer(const geoloc_model *m, const char *photo, const char *what) {
    geoloc_status s;
    geoloc_error err = {0};
    geoloc_prediction p = answer(m, GEOLOC_PRECISION_INT8, photo, &s, &err);
    CHECK(s == GEOLOC_OK, "%s: int8 prediction: %s", what, err.message);
    return p;
}

static geoloc_model *load(const char *path) {
    geoloc_model *m = NULL;
    geoloc_error err = {0};
    CHECK(geoloc_model_load(path, &m, &err) == GEOLOC_OK, "load %s: %s", path, err.message);
    if (!m) exit(1);
    return m;
}

/* Quantises m on the photos with crops; checks success. */
static void quantize(geoloc_model *m, const char *const *photos, size_t n, geoloc_crop_mode crops,
                     geoloc_quantize_result *res) {
    geoloc_predict_options o = geoloc_predict_options_default();
    o.crops = crops;
    geoloc_error err = {0};
    CHECK(geoloc_model_quantize(m, photos, n, &o, "test", res, &err) == GEOLOC_OK, "quantize: %s", err.message);
}

static void expect_refused(const char *src, const edit *e, const char *what, const char *m1) {
    const char *path = tmp_path("edited.safetensors");
    rewrite(src, path, e);
    geoloc_model *m = NULL;
    geoloc_error err = {0};
    geoloc_status s = geoloc_model_load(path, &m, &err);
    CHECK(s != GEOLOC_OK && !m && strstr(err.message, path) && strstr(err.message, "geoloc.int8_range") &&
              strstr(err.message, m1), "%s: status %d, message: %s", what, (int)s, err.message);
    geoloc_model_free(m);
}

int main(int argc, char **argv) {
    if (argc < 3) return 2;
    test_make_temp_dir(dir);
    setenv("GEOLOC_DATA_DIR", dir, 1);
    char photo[4096], missing[4096];
    snprintf(photo, sizeof photo, "%s/../../share/geoloc/example.jpg", argv[2]);
    snprintf(missing, sizeof missing, "%s/missing.jpg", dir);
    geoloc_error err = {0};
    geoloc_status s;

    /* int8 without ranges is refused, saying how to get them */
    geoloc_model *m = tiny_model_create();
    answer(m, GEOLOC_PRECISION_INT8, photo, &s, &err);
    CHECK(s == GEOLOC_E_ARG && strstr(err.message, "geoloc model quantize"), "int8 unquantised: %s", err.message);
    CHECK(geoloc_net_save(m->net, tmp_path("plain-backbone.safetensors"), NULL, NULL, 0, &err) == GEOLOC_OK, "%s",
          err.message);

    /* calibration: the unreadable photo counted and named, not fatal */
    const char *photos[3] = {photo, missing, photo};
    geoloc_quantize_result res;
    quantize(m, photos, 3, GEOLOC_CROPS_THREE, &res);
    CHECK(res.calibrated == 2 && res.unreadable == 1 && strstr(res.first_unreadable, "missing.jpg"),
          "counts: %zu calibrated, %zu unreadable (%s)", res.calibrated, res.unreadable, res.first_unreadable);
    const char *text = geoloc_model_get_meta(m, GEOLOC_INT8_CALIBRATION_KEY);
    CHECK(text && strstr(text, "2 photos of test, 3 crops"), "calibration text: %s", text ? text : "(none)");
    geoloc_prediction f32 = answer(m, GEOLOC_PRECISION_F32, photo, &s, &err);
    geoloc_prediction mem = int8_answer(m, photo, "in memory");
    CHECK(f32.top[0].cell == mem.top[0].cell && fabsf(f32.top[0].prob - mem.top[0].prob) < 0.02f,
          "int8 close to f32: cell %llx p %.4f vs %llx p %.4f", (unsigned long long)mem.top[0].cell,
          (double)mem.top[0].prob, (unsigned long long)f32.top[0].cell, (double)f32.top[0].prob);

    /* whole file and heads-only file (its backbone file without ranges) read back the same ranges */
    CHECK(geoloc_model_save(m, tmp_path("whole.safetensors"), 0, NULL, &err) == GEOLOC_OK, "%s", err.message);
    CHECK(geoloc_model_save(m, tmp_path("heads.safetensors"), 1, "plain-backbone.safetensors", &err) == GEOLOC_OK,
          "%s", err.message);
    const char *files[2] = {"whole.safetensors", "heads.safetensors"};
    for (int f = 0; f < 2; f++) {
        geoloc_model *back = load(tmp_path(files[f]));
        geoloc_prediction p = int8_answer(back, photo, files[f]);
        CHECK(same_answer(&p, &mem), "%s: int8 answer as in memory", files[f]);
        const char *t = geoloc_model_get_meta(back, GEOLOC_INT8_CALIBRATION_KEY);
        CHECK(t && !strcmp(t, text), "%s: calibration text kept", files[f]);
        geoloc_model_free(back);
    }

    /* a backbone file with other ranges (center crops): the model file's win; without them, the backbone's */
    geoloc_model *other = tiny_model_create();
    quantize(other, photos, 1, GEOLOC_CROPS_CENTER, &res);
    geoloc_prediction center = int8_answer(other, photo, "center-calibrated");
    CHECK(!same_answer(&center, &mem), "other calibration photos, other int8 answer");
    CHECK(geoloc_net_save(other->net, tmp_path("ranged-backbone.safetensors"), NULL, NULL, 0, &err) == GEOLOC_OK,
          "%s", err.message);
    CHECK(geoloc_model_save(m, tmp_path("heads.safetensors"), 1, "ranged-backbone.safetensors", &err) == GEOLOC_OK,
          "%s", err.message);
    geoloc_model *back = load(tmp_path("heads.safetensors"));
    geoloc_prediction p = int8_answer(back, photo, "over a ranged backbone");
    CHECK(same_answer(&p, &mem), "the model file's ranges override the backbone file's");
    geoloc_model_free(back);
    geoloc_model *plain = tiny_model_create();
    CHECK(geoloc_model_save(plain, tmp_path("plain-heads.safetensors"), 1, "ranged-backbone.safetensors", &err) ==
              GEOLOC_OK, "%s", err.message);
    back = load(tmp_path("plain-heads.safetensors"));
    p = int8_answer(back, photo, "backbone's ranges");
    CHECK(same_answer(&p, &center), "a model file without ranges uses the backbone file's");
    geoloc_model_free(back);

    /* no readable photo: refused, and the model keeps no ranges */
    const char *none[1] = {missing};
    CHECK(geoloc_model_quantize(plain, none, 1, NULL, NULL, &res, &err) == GEOLOC_E_ARG &&
              strstr(err.message, "missing.jpg") && !geoloc_net_has_int8_ranges(plain->net),
          "no readable photo: %s", err.message);

    /* hostile range tensors */
    uint64_t n_conv = 0;
    geoloc_safetensors *st = NULL;
    CHECK(geoloc_safetensors_open(tmp_path("whole.safetensors"), &st, &err) == GEOLOC_OK, "%s", err.message);
    const geoloc_tensor_info *ti = st ? geoloc_safetensors_find(st, "geoloc.int8_range") : NULL;
    if (ti) n_conv = ti->shape[0];
    geoloc_safetensors_close(st);
    CHECK(n_conv == 20, "a ResNet-18 has 20 convolutions: %llu ranges", (unsigned long long)n_conv);
    float r[21];
    for (int k = 0; k < 21; k++) r[k] = 1.0f;
    edit e = {.tensor = "geoloc.int8_range", .dtype = GEOLOC_DTYPE_F32, .ndim = 1, .shape = {21}, .data = r};
    expect_refused(tmp_path("whole.safetensors"), &e, "one range too many", "[20]");
    expect_refused(tmp_path("heads.safetensors"), &e, "heads-only: one range too many", "[20]");
    e.shape[0] = 20;
    r[3] = 0.0f;
    expect_refused(tmp_path("whole.safetensors"), &e, "a zero range", "range 3");
    r[3] = NAN;
    expect_refused(tmp_path("heads.safetensors"), &e, "a NaN range", "range 3");

    geoloc_model_free(plain);
    geoloc_model_free(other);
    geoloc_model_free(m);
    test_remove_tree(dir);
    TEST_END();
}
