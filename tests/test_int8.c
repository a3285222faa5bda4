/* int8 inference of the CNN engine on a ResNet-50 of seeded weights: without
 * calibration it is refused; a calibrating execution computes exactly what
 * float inference does while recording a positive range per convolution;
 * int8 then gives features and logits close to float (and not the float
 * ones); the ranges survive a weights file and a bad range is refused naming
 * the tensor. Registered twice: as the machine runs it and with oneDNN capped
 * at AVX2 (no VNNI: the u8 x s8 kernels without VNNI). The ImageNet top-1
 * check of int8 on real photos is in test_classify. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "geoloc/nn.h"
#include "nn/graph.h"
#include "nn_reference.h"
#include "test_util.h"

enum { N = 4, S = 64, CLASSES = 10 };

/* Cosine similarity of two vectors of n floats. */
static double cosine(const float *a, const float *b, size_t n) {
    double ab = 0, aa = 0, bb = 0;
    for (size_t i = 0; i < n; i++) ab += (double)a[i] * b[i], aa += (double)a[i] * a[i], bb += (double)b[i] * b[i];
    return aa > 0 && bb > 0 ? ab / sqrt(aa * bb) : 0;
}

/* Runs a fresh execution of mode on x; copies its features and logits. */
static int run(geoloc_net *net, geoloc_nn_mode mode, const float *x, float *features, float *logits) {
    geoloc_error err = {0};
    geoloc_exec *ex = NULL;
    CHECK(geoloc_exec_create(net, N, S, S, mode, &ex, &err) == GEOLOC_OK, "mode %d: %s", (int)mode, err.message);
    if (!ex) return 0;
    int ok = geoloc_exec_forward(ex, x, &err) == GEOLOC_OK;
    CHECK(ok, "forward: %s", err.message);
    if (ok) {
        memcpy(features, geoloc_exec_features(ex), N * 2048 * sizeof *features);
        memcpy(logits, geoloc_exec_logits(ex, 0), N * CLASSES * sizeof *logits);
    }
    geoloc_exec_free(ex);
    return ok;
}

int main(void) {
    geoloc_error err = {0};
    geoloc_resnet_config cfg;
    geoloc_resnet_config_default(&cfg, 50, CLASSES);
    geoloc_net *net = NULL, *back = NULL;
    CHECK(geoloc_net_create(&cfg, &net, &err) == GEOLOC_OK, "%s", err.message);
    if (!net) TEST_END();
    geoloc_net_init_random(net, 3);
    for (size_t i = 0; i < geoloc_net_param_count(net); i++) { /* batch norms that fold into real biases */
        geoloc_param *p = geoloc_net_param(net, i);
        if (p->kind == GEOLOC_PARAM_BN_BIAS || p->kind == GEOLOC_PARAM_RUNNING_MEAN) ref_fill(p->data, p->n, 100 + i, 0.0, 0.2);
        if (p->kind == GEOLOC_PARAM_RUNNING_VAR) ref_fill(p->data, p->n, 100 + i, 1.0, 0.5);
    }
    static float x[N * 3 * S * S], f32_feat[N * 2048], f32_logits[N * CLASSES], feat[N * 2048],
        logits[N * CLASSES], feat_back[N * 2048], logits_back[N * CLASSES];
    ref_fill(x, sizeof x / sizeof x[0], 11, 0.0, 2.0);

    geoloc_exec *ex = NULL;
    CHECK(geoloc_exec_create(net, N, S, S, GEOLOC_NN_INFER_INT8, &ex, &err) == GEOLOC_E_ARG && !ex &&
              strstr(err.message, "calibrated"),
          "int8 without calibration: %s", err.message);
    CHECK(!geoloc_net_has_int8_ranges(net), "a new network has no ranges");

    /* calibration is float inference that records */
    run(net, GEOLOC_NN_INFER, x, f32_feat, f32_logits);
    run(net, GEOLOC_NN_CALIBRATE, x, feat, logits);
    CHECK(!memcmp(feat, f32_feat, sizeof feat) && !memcmp(logits, f32_logits, sizeof logits),
          "calibrating changes the float answer");
    CHECK(geoloc_net_has_int8_ranges(net), "calibration leaves ranges");
    size_t convs = 0, positive = 0;
    for (size_t k = 0; k < net->n_nodes; k++)
        if (net->nodes[k].op == NN_CONV) convs++, positive += net->int8_range[k] > 0;
    CHECK(convs == 53 && positive == convs, "%zu of %zu convolutions have a positive range", positive, convs);

    /* int8: close to float, not float */
    run(net, GEOLOC_NN_INFER_INT8, x, feat, logits);
    double worst = 1;
    for (int i = 0; i < N; i++) {
        double c = cosine(feat + i * 2048, f32_feat + i * 2048, 2048);
        if (c < worst) worst = c;
    }
    double rel = ref_rel_l2(logits, f32_logits, N * CLASSES);
    printf("int8 vs float: worst feature cosine %.5f, logits relative L2 %.4f\n", worst, rel);
    CHECK(worst > 0.9995 && rel < 0.06, "int8 is far from float: cosine %.5f, relative L2 %.4f", worst, rel);
    CHECK(memcmp(feat, f32_feat, sizeof feat) != 0, "int8 features equal the float ones: not quantised");

    /* the ranges in a weights file */
    char path[] = "/tmp/geoloc_int8_XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0, "temporary file");
    if (fd >= 0) close(fd);
    geoloc_safetensors *st = NULL;
    CHECK(geoloc_net_save(net, path, NULL, NULL, 0, &err) == GEOLOC_OK, "%s", err.message);
    CHECK(geoloc_safetensors_open(path, &st, &err) == GEOLOC_OK, "%s", err.message);
    CHECK(geoloc_net_create(&cfg, &back, &err) == GEOLOC_OK, "%s", err.message);
    if (st && back) {
        CHECK(geoloc_net_load(back, st, 0, &err) == GEOLOC_OK && geoloc_net_has_int8_ranges(back), "reload: %s",
              err.message);
        run(back, GEOLOC_NN_INFER_INT8, x, feat_back, logits_back);
        CHECK(!memcmp(feat, feat_back, sizeof feat) && !memcmp(logits, logits_back, sizeof logits),
              "int8 differs after a save and load");
    }
    geoloc_safetensors_close(st);
    st = NULL;
    for (size_t k = 0; k < net->n_nodes; k++)
        if (net->nodes[k].op == NN_CONV) {
            net->int8_range[k] = 0; /* an impossible range */
            break;
        }
    CHECK(geoloc_net_save(net, path, NULL, NULL, 0, &err) == GEOLOC_OK, "%s", err.message);
    CHECK(geoloc_safetensors_open(path, &st, &err) == GEOLOC_OK, "%s", err.message);
    if (st && back)
        CHECK(geoloc_net_load(back, st, 0, &err) == GEOLOC_E_PARSE && strstr(err.message, "geoloc.int8_range"),
              "a zero range: %s", err.message);
    geoloc_safetensors_close(st);
    unlink(path);
    geoloc_net_clear_int8_ranges(net);
    CHECK(!geoloc_net_has_int8_ranges(net), "cleared");
    geoloc_net_free(back);
    geoloc_net_free(net);
    TEST_END();
}
