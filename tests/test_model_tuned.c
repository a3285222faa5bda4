/* Model files with fine-tuned backbone stages (geoloc_model_save_tuned): a
 * random ResNet-18 model saved with layer4 as F16 over a backbone file found
 * through GEOLOC_DATA_DIR and loaded back: layer4 equals the model's values
 * rounded to half floats (against an independent rounding, itself checked by
 * brute force over every half float on known values: 1/3, 65504, ties,
 * subnormals), the stages before it the backbone file's, heads and partitions
 * the model's; layer3 and layer4 as F32 exactly; heads-only saves of a loaded
 * tuned model keep its stages; the model's own int8 ranges still load; a value
 * beyond the F16 range refused at save;
 * hostile files (wrong shape, unknown or misplaced tensor, missing tensor,
 * other dtypes, bad geoloc.tuned or format) refused naming file and tensor.
 *
 * With $GEOLOC_CLI naming the geoloc binary it checks `geoloc model info` on
 * a tuned file too. With a path as third argument (after the data folders) it
 * writes the small tuned file the fuzz seed
 * fuzz/seeds/fuzz_model/tiny-tuned.safetensors is. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "geoloc/model.h"
#include "geoloc/safetensors.h"
#include "model_file_edit.h"
#include "test_util.h"
#include "tiny_model.h"

static char dir[] = "/tmp/geoloc_test_model_tuned_XXXXXX";

static const char *tmp_path(const char *name) { return test_path_in(dir, name); }

/* The stage (1..4) of a parameter name, 0 for the stem and the heads. */
static int stage(const char *name) {
    int k;
    return sscanf(name, "layer%d.", &k) == 1 ? k : 0;
}

/* ---- half floats, independently ---------------------------------------------- */

/* x rounded to the nearest half float (ties to an even significand), as a double;
 * infinity beyond the largest (65504). */
static double ref_half(double x) {
    double a = fabs(x);
    int e = a >= 0x1p-14 ? ilogb(a) : -14; /* subnormals share the smallest exponent */
    double ulp = ldexp(1.0, e - 10), q = a / ulp, r = floor(q);
    if (q - r > 0.5 || (q - r == 0.5 && fmod(r, 2.0) == 1.0)) r += 1;
    double v = r * ulp;
    return copysign(v > 65504 ? INFINITY : v, x);
}

/* The same by brute force: the nearest of every finite half float (decoded from
 * its bits), on a tie the one with even bits. */
static double brute_half(double x) {
    double best = 0, dist = INFINITY;
    unsigned best_bits = 0;
    for (unsigned h = 0; h < 0x7c00; h++) {
        unsigned e = h >> 10, f = h & 1023;
        double v = e ? ldexp(1024 + f, (int)e - 25) : ldexp(f, -24), d = fabs(fabs(x) - v);
        if (d < dist || (d == dist && (h & 1) == 0 && (best_bits & 1))) best = v, dist = d, best_bits = h;
    }
    return fabs(x) >= 65520 ? INFINITY : copysign(best, x); /* 65520 ties to 65536: infinity */
}

/* Known values and what they become. */
static const float KNOWN[] = {1.0f / 3, -1.0f / 3, 65504, 65519, 1e-8f, 0x1p-25f, 0x3p-25f, 1e-5f,
                              1 + 0x1p-11f, 1 + 0x3p-11f, 0, -0.0f};
static const double KNOWN_HALF[] = {0.333251953125, -0.333251953125, 65504, 65504, 0, 0, 0x1p-23, 168 * 0x1p-24,
                                    1, 1 + 0x1p-9, 0, 0};
#define N_KNOWN (sizeof KNOWN / sizeof KNOWN[0])

static void test_reference(void) {
    for (size_t k = 0; k < N_KNOWN; k++) {
        CHECK(ref_half(KNOWN[k]) == KNOWN_HALF[k] && brute_half(KNOWN[k]) == KNOWN_HALF[k],
              "%.9g: %.12g (reference), %.12g (brute force), %.12g expected", (double)KNOWN[k], ref_half(KNOWN[k]),
              brute_half(KNOWN[k]), KNOWN_HALF[k]);
    }
    CHECK(isinf(ref_half(65520)) && isinf(brute_half(65520)), "65520 rounds to infinity");
}

/* ---- comparing ---------------------------------------------------------------- */

static int same_partition(const geoloc_partition *a, const geoloc_partition *b) {
    return a->n == b->n && !memcmp(a->cell, b->cell, a->n * sizeof *a->cell) &&
           !memcmp(a->count, b->count, a->n * sizeof *a->count) && !memcmp(a->lat, b->lat, a->n * sizeof *a->lat);
}

/* back holds m's heads and partitions, the backbone file's stages before
 * `from`, and from `from` on m's values (rounded to half floats when half). */
static void check_loaded(const geoloc_model *m, const geoloc_model *back, const char *backbone, int from, int half,
                         const char *what) {
    geoloc_error err = {0};
    geoloc_safetensors *bb = NULL;
    CHECK(geoloc_safetensors_open(backbone, &bb, &err) == GEOLOC_OK, "%s", err.message);
    CHECK(back->n_partitions == m->n_partitions && back->tuned_from == from &&
              back->tuned_dtype == (half ? GEOLOC_DTYPE_F16 : GEOLOC_DTYPE_F32), "%s: tuned from %d, dtype %d", what,
          back->tuned_from, (int)back->tuned_dtype);
    for (size_t f = 0; f < m->n_partitions && f < back->n_partitions; f++)
        CHECK(same_partition(m->partitions[f], back->partitions[f]), "%s: partition %zu", what, f);
    size_t n = geoloc_net_param_count(m->net), bad_heads = 0, bad_below = 0, bad_tuned = 0, tuned = 0;
    for (size_t i = 0; bb && i < n; i++) {
        const geoloc_param *p = geoloc_net_param(m->net, i), *q = geoloc_net_param(back->net, i);
        if (p->head >= 0) {
            bad_heads += memcmp(p->data, q->data, p->n * sizeof(float)) != 0;
        } else if (stage(p->name) < from) {
            const float *file;
            CHECK(geoloc_safetensors_get_f32(bb, p->name, p->shape, p->ndim, &file, &err) == GEOLOC_OK, "%s",
                  err.message);
            bad_below += file && memcmp(file, q->data, p->n * sizeof(float)) != 0;
        } else {
            tuned++;
            for (size_t k = 0; k < p->n; k++)
                if (q->data[k] != (half ? (float)ref_half(p->data[k]) : p->data[k])) {
                    bad_tuned++;
                    fprintf(stderr, "%s: %s[%zu] %.9g, from %.9g\n", what, p->name, k, (double)q->data[k],
                            (double)p->data[k]);
                    break;
                }
        }
    }
    CHECK(bad_heads == 0 && bad_below == 0 && bad_tuned == 0 && tuned > 10,
          "%s: %zu heads, %zu tensors before layer%d, %zu of %zu tuned tensors differ", what, bad_heads, bad_below,
          from, bad_tuned, tuned);
    geoloc_safetensors_close(bb);
}

/* ---- refused files -------------------------------------------------------------- */

static void expect_refused(const char *src, const edit *e, const char *what, const char *m1, const char *m2,
                           int info_too) {
    expect_model_refused(src, tmp_path("edited.safetensors"), e, what, m1, m2, info_too);
}

static void test_hostile(const char *tuned) {
    uint16_t h[6] = {0x3c00, 0x3c00, 0x3c00, 0x3c00, 0x3c00, 0x3c00};
    edit e = {.tensor = "layer4.0.conv1.weight", .dtype = GEOLOC_DTYPE_F16, .ndim = 2, .shape = {2, 3}, .data = h};
    expect_refused(tuned, &e, "wrong shape", "layer4.0.conv1.weight", "shape [2,3], [512,256,3,3] expected", 0);
    e = (edit){.tensor = "layer4.7.conv1.weight", .dtype = GEOLOC_DTYPE_F16, .ndim = 1, .shape = {6}, .data = h};
    expect_refused(tuned, &e, "unknown tensor", "layer4.7.conv1.weight", "not a parameter of resnet18", 0);
    e.tensor = "layer3.0.conv1.weight";
    expect_refused(tuned, &e, "a stage not tuned", "layer3.0.conv1.weight", "outside the fine-tuned stages", 1);
    e.tensor = "conv1.weight";
    expect_refused(tuned, &e, "the stem", "conv1.weight", "geoloc.tuned layer4", 1);
    e = (edit){.drop = "layer4.1.bn2.running_mean"};
    expect_refused(tuned, &e, "missing tensor", "layer4.1.bn2.running_mean", "missing", 0);
    float f[512] = {0};
    e = (edit){.tensor = "layer4.1.bn2.running_mean", .dtype = GEOLOC_DTYPE_F32, .ndim = 1, .shape = {512}, .data = f};
    expect_refused(tuned, &e, "mixed dtypes", "dtype", "F16", 1);
    e.dtype = GEOLOC_DTYPE_BF16;
    expect_refused(tuned, &e, "BF16", "layer4.1.bn2.running_mean", "F16 or F32 expected", 1);
    uint16_t nan[512] = {0};
    nan[9] = 0x7e00;
    e = (edit){.tensor = "layer4.1.bn2.running_mean", .dtype = GEOLOC_DTYPE_F16, .ndim = 1, .shape = {512},
               .data = nan};
    expect_refused(tuned, &e, "NaN", "layer4.1.bn2.running_mean", "element 9 is nan", 0);
    e = (edit){.key = "geoloc.tuned", .value = NULL};
    expect_refused(tuned, &e, "no geoloc.tuned", "a backbone tensor", "no fine-tuned stages", 1);
    e = (edit){.key = "geoloc.tuned", .value = "layer2,layer4"};
    expect_refused(tuned, &e, "bad geoloc.tuned", "geoloc.tuned \"layer2,layer4\"", "expected the stages", 1);
    e.value = "layer3,layer4";
    expect_refused(tuned, &e, "stages without their tensors", "layer3.0.conv1.weight", "missing", 0);
    e = (edit){.key = "geoloc.format", .value = "geoloc-model-2"};
    expect_refused(tuned, &e, "format 2", "geoloc.tuned in a file of format geoloc-model-2", "geoloc-model-3", 1);
    e.value = "geoloc-model-4";
    expect_refused(tuned, &e, "format 4", "different version", "geoloc-model-1 to geoloc-model-3", 1);
    e = (edit){.key = "geoloc.backbone", .value = NULL};
    expect_refused(tuned, &e, "no backbone", "geoloc.tuned", "without geoloc.backbone", 1);
}

/* ---- the command line ------------------------------------------------------------ */

/* `geoloc model info [--json] path` prints want. */
static void check_info(const char *geoloc, const char *opt, const char *path, const char *want) {
    char cmd[1024], out[16384];
    snprintf(cmd, sizeof cmd, "'%s' model info %s '%s'", geoloc, opt, path);
    FILE *p = popen(cmd, "r");
    size_t n = p ? fread(out, 1, sizeof out - 1, p) : 0;
    out[n] = '\0';
    int rc = p ? pclose(p) : -1;
    CHECK(rc == 0 && strstr(out, want), "model info %s: %d, \"%s\" not in:\n%s", opt, rc, want, out);
}

/* ---- the fuzz seed ---------------------------------------------------------------- */

/* The tiny heads-only model with geoloc.tuned layer4 and one layer4 tensor in F16
 * (~22 KB; its description reads, loading it would miss the others). */
static void write_seed(const char *path) {
    geoloc_model *m = tiny_model_create();
    geoloc_error err = {0};
    CHECK(geoloc_model_save(m, tmp_path("seed0.safetensors"), 1, "resnet18-backbone.safetensors", &err) ==
              GEOLOC_OK, "%s", err.message);
    rewrite(tmp_path("seed0.safetensors"), tmp_path("seed1.safetensors"),
            &(edit){.key = "geoloc.format", .value = GEOLOC_MODEL_FORMAT_TUNED});
    rewrite(tmp_path("seed1.safetensors"), tmp_path("seed2.safetensors"),
            &(edit){.key = "geoloc.tuned", .value = "layer4"});
    uint16_t h[512];
    for (size_t k = 0; k < 512; k++) h[k] = (uint16_t)(0x3c00 + k);
    rewrite(tmp_path("seed2.safetensors"), path, &(edit){.tensor = "layer4.1.bn2.running_mean",
            .dtype = GEOLOC_DTYPE_F16, .ndim = 1, .shape = {512}, .data = h});
    geoloc_model *back = NULL;
    CHECK(geoloc_model_read_info(path, &back, &err) == GEOLOC_OK && back->tuned_from == 4 &&
              back->tuned_dtype == GEOLOC_DTYPE_F16, "seed: %s", err.message);
    geoloc_model_free(back);
    geoloc_model_free(m);
}

/* ---- files ---------------------------------------------------------------------- */

static void test_files(const char *geoloc) {
    geoloc_error err = {0};
    geoloc_model *m = tiny_model_create(), *back = NULL;
    char backbone[256], tuned[256], tuned32[256];
    snprintf(backbone, sizeof backbone, "%s", tmp_path("backbone.safetensors"));
    snprintf(tuned, sizeof tuned, "%s", tmp_path("tuned.safetensors"));
    snprintf(tuned32, sizeof tuned32, "%s", tmp_path("tuned32.safetensors"));
    CHECK(geoloc_net_save(m->net, backbone, NULL, NULL, 0, &err) == GEOLOC_OK, "%s", err.message);
    setenv("GEOLOC_DATA_DIR", dir, 1);
    /* the model moves away from the backbone file; known values in layer4 */
    for (size_t i = 0; i < geoloc_net_param_count(m->net); i++) {
        geoloc_param *p = geoloc_net_param(m->net, i);
        for (size_t k = 0; p->head < 0 && k < p->n; k++) p->data[k] = p->data[k] * 0.75f + 0.01f;
    }
    geoloc_param *w = geoloc_net_find_param(m->net, "layer4.0.conv1.weight");
    memcpy(w->data, KNOWN, sizeof KNOWN);

    CHECK(geoloc_model_save_tuned(m, tuned, "backbone.safetensors", 4, GEOLOC_DTYPE_F16, &err) == GEOLOC_OK,
          "save tuned: %s", err.message);
    size_t n4 = 0;
    for (size_t i = 0; i < geoloc_net_param_count(m->net); i++)
        n4 += stage(geoloc_net_param(m->net, i)->name) == 4 ? geoloc_net_param(m->net, i)->n : 0;
    struct stat st;
    CHECK(stat(tuned, &st) == 0 && (size_t)st.st_size > 2 * n4 && (size_t)st.st_size < 2 * n4 + 100000,
          "layer4 in F16: %lld bytes for %zu parameters", (long long)st.st_size, n4);
    CHECK(geoloc_model_load(tuned, &back, &err) == GEOLOC_OK, "load tuned: %s", err.message);
    if (back) {
        check_loaded(m, back, backbone, 4, 1, "F16 layer4");
        const geoloc_param *q = geoloc_net_find_param(back->net, "layer4.0.conv1.weight");
        for (size_t k = 0; k < N_KNOWN; k++)
            CHECK(q->data[k] == (float)KNOWN_HALF[k], "%.9g loaded as %.9g, %.9g expected", (double)KNOWN[k],
                  (double)q->data[k], KNOWN_HALF[k]);
        /* a heads-only save of the loaded model keeps its stages, losslessly */
        geoloc_model *again = NULL;
        CHECK(geoloc_model_save(back, tmp_path("again.safetensors"), 1, NULL, &err) == GEOLOC_OK, "%s", err.message);
        CHECK(geoloc_model_load(tmp_path("again.safetensors"), &again, &err) == GEOLOC_OK, "again: %s", err.message);
        if (again) check_loaded(m, again, backbone, 4, 1, "saved again");
        geoloc_model_free(again);
        again = NULL;
        CHECK(geoloc_model_save(back, tmp_path("whole.safetensors"), 0, NULL, &err) == GEOLOC_OK, "%s", err.message);
        CHECK(geoloc_model_read_info(tmp_path("whole.safetensors"), &again, &err) == GEOLOC_OK &&
                  again->tuned_from == 0 && !again->backbone[0], "whole file: %s", err.message);
        geoloc_model_free(again);
    }
    geoloc_model_free(back);
    back = NULL;
    CHECK(geoloc_model_read_info(tuned, &back, &err) == GEOLOC_OK && back->tuned_from == 4 &&
              back->tuned_dtype == GEOLOC_DTYPE_F16 && !back->net, "info: %s", err.message);
    geoloc_model_free(back);
    back = NULL;
    /* the model's own int8 ranges (none in the backbone file) load with the tuned stages */
    float ranges[20];
    for (size_t k = 0; k < 20; k++) ranges[k] = 2.0f + (float)k;
    edit e = {.tensor = "geoloc.int8_range", .dtype = GEOLOC_DTYPE_F32, .ndim = 1, .shape = {20}, .data = ranges};
    rewrite(tuned, tmp_path("ranges.safetensors"), &e);
    CHECK(geoloc_model_load(tmp_path("ranges.safetensors"), &back, &err) == GEOLOC_OK &&
              geoloc_net_has_int8_ranges(back->net), "int8 ranges: %s", err.message);
    if (back) check_loaded(m, back, backbone, 4, 1, "with int8 ranges");
    geoloc_model_free(back);
    back = NULL;
    e.shape[0] = 19;
    expect_refused(tuned, &e, "int8 ranges of another size", "geoloc.int8_range", "shape", 0);
    if (geoloc) {
        check_info(geoloc, "", tuned, "fine-tuned:  layer4 in the file (F16), over the backbone file's");
        check_info(geoloc, "", tuned, "(geoloc-model-3)");
        check_info(geoloc, "--json", tuned, "\"tuned\": {\"stages\": [\"layer4\"], \"dtype\": \"F16\"}");
    }

    /* F32 from layer3: exact, beyond the F16 range too */
    w->data[0] = 70000;
    CHECK(geoloc_model_save_tuned(m, tuned32, "backbone.safetensors", 3, GEOLOC_DTYPE_F32, &err) == GEOLOC_OK,
          "save F32: %s", err.message);
    CHECK(geoloc_model_load(tuned32, &back, &err) == GEOLOC_OK, "load F32: %s", err.message);
    if (back) check_loaded(m, back, backbone, 3, 0, "F32 layer3");
    geoloc_model_free(back);
    back = NULL;

    /* refused at save: beyond F16, other stages or dtypes */
    geoloc_param *var = geoloc_net_find_param(m->net, "layer4.1.bn2.running_var");
    var->data[3] = 70000;
    w->data[0] = 1;
    const char *beyond = tmp_path("beyond.safetensors");
    CHECK(geoloc_model_save_tuned(m, beyond, "backbone.safetensors", 4, GEOLOC_DTYPE_F16, &err) == GEOLOC_E_RANGE &&
              strstr(err.message, beyond) && strstr(err.message, "layer4.1.bn2.running_var[3] is 70000") &&
              strstr(err.message, "F16") && access(beyond, F_OK) != 0, "beyond F16: %s", err.message);
    var->data[3] = 1;
    CHECK(geoloc_model_save_tuned(m, beyond, "backbone.safetensors", 5, GEOLOC_DTYPE_F16, &err) == GEOLOC_E_ARG &&
              strstr(err.message, "layer5"), "from layer5: %s", err.message);
    CHECK(geoloc_model_save_tuned(m, beyond, "backbone.safetensors", 0, GEOLOC_DTYPE_F16, &err) == GEOLOC_E_ARG,
          "from layer0: %s", err.message);
    CHECK(geoloc_model_save_tuned(m, beyond, "backbone.safetensors", 4, GEOLOC_DTYPE_BF16, &err) == GEOLOC_E_ARG &&
              strstr(err.message, "BF16"), "BF16: %s", err.message);
    CHECK(geoloc_model_save_tuned(m, beyond, NULL, 4, GEOLOC_DTYPE_F16, &err) == GEOLOC_E_ARG,
          "no backbone name: %s", err.message);

    test_hostile(tuned);
    geoloc_model_free(m);
}

int main(int argc, char **argv) {
    test_make_temp_dir(dir);
    test_reference();
    test_files(getenv("GEOLOC_CLI"));
    write_seed(argc > 3 ? argv[3] : tmp_path("tiny-tuned.safetensors"));
    test_remove_tree(dir);
    TEST_END();
}
