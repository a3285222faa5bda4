/* The CNN engine's API contract: weights files round trip with their
 * architecture, name and shape mismatches are refused with messages naming
 * the tensor, bad shapes and labels are errors (never a crash), ignored
 * labels contribute nothing, several heads each get their own loss, and a
 * profile times every call. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "geoloc/nn.h"
#include "nn_reference.h"
#include "test_util.h"

static void test_bad_arguments(void) {
    geoloc_error err = {0};
    geoloc_resnet_config cfg;
    geoloc_resnet_config_default(&cfg, 20, 10);
    geoloc_net *net = NULL;
    CHECK(geoloc_net_create(&cfg, &net, &err) == GEOLOC_E_ARG && strstr(err.message, "depth 20"), "depth 20: %s",
          err.message);
    geoloc_resnet_config_default(&cfg, 18, 0);
    CHECK(geoloc_net_create(&cfg, &net, &err) == GEOLOC_E_ARG, "a head of 0 classes is refused");
    geoloc_resnet_config_default(&cfg, 18, 10);
    cfg.n_heads = 0;
    CHECK(geoloc_net_create(&cfg, &net, &err) == GEOLOC_OK, "a backbone without heads");
    geoloc_exec *ex = NULL;
    CHECK(geoloc_exec_create(net, 2, 64, 64, GEOLOC_NN_TRAIN, &ex, &err) == GEOLOC_E_ARG && !ex,
          "training without a head is refused");
    CHECK(geoloc_exec_create(net, 0, 64, 64, GEOLOC_NN_INFER, &ex, &err) == GEOLOC_E_ARG, "batch 0");
    CHECK(geoloc_exec_create(net, 1, 16, 64, GEOLOC_NN_INFER, &ex, &err) == GEOLOC_E_ARG, "16-pixel image");
    geoloc_net_free(net);
}

/* Two heads; labels out of range, ignored labels, per-head losses. */
static void test_heads_and_labels(void) {
    geoloc_error err = {0};
    geoloc_resnet_config cfg;
    geoloc_resnet_config_default(&cfg, 18, 4);
    cfg.n_heads = 2;
    snprintf(cfg.heads[1].name, sizeof cfg.heads[1].name, "scene");
    cfg.heads[1].classes = 3;
    geoloc_net *net = NULL;
    geoloc_exec *infer = NULL, *train = NULL;
    CHECK(geoloc_net_create(&cfg, &net, &err) == GEOLOC_OK, "%s", err.message);
    geoloc_net_init_random(net, 7);
    CHECK(geoloc_exec_create(net, 2, 32, 32, GEOLOC_NN_TRAIN, &train, &err) == GEOLOC_OK, "%s", err.message);
    CHECK(geoloc_exec_create(net, 2, 32, 32, GEOLOC_NN_INFER, &infer, &err) == GEOLOC_OK, "%s", err.message);
    if (!train || !infer) goto done;
    static float x[2 * 3 * 32 * 32];
    ref_fill(x, sizeof x / sizeof x[0], 5, 0.0, 1.0);
    int32_t geo[2] = {1, 3}, scene_bad[2] = {0, 3}, none[2] = {-1, -1};
    const int32_t *bad[2] = {geo, scene_bad}, *ignore_scene[2] = {geo, none};
    CHECK(geoloc_exec_backward(infer, bad, NULL, NULL, &err) == GEOLOC_E_ARG, "backward needs a training execution");
    CHECK(geoloc_exec_forward(train, x, &err) == GEOLOC_OK, "%s", err.message);
    CHECK(geoloc_exec_backward(train, bad, NULL, NULL, &err) == GEOLOC_E_RANGE && strstr(err.message, "scene"),
          "label 3 of a 3-class head: %s", err.message);
    geoloc_net_zero_grad(net);
    float losses[2] = {-1, -1};
    CHECK(geoloc_exec_backward(train, ignore_scene, NULL, losses, &err) == GEOLOC_OK, "%s", err.message);
    CHECK(losses[0] > 0 && losses[1] == 0, "losses %g %g: the ignored head gives 0", losses[0], losses[1]);
    geoloc_param *sw = geoloc_net_find_param(net, "scene.weight"), *fw = geoloc_net_find_param(net, "fc.weight");
    double s = 0, f = 0;
    for (size_t i = 0; sw && i < sw->n; i++) s += fabs(sw->grad[i]);
    for (size_t i = 0; fw && i < fw->n; i++) f += fabs(fw->grad[i]);
    CHECK(sw && fw && s == 0 && f > 0, "ignored labels give no gradient (scene %g, fc %g)", s, f);
    /* the loss equals the cross-entropy of the training logits */
    const float *logits = geoloc_exec_logits(train, 0);
    double ce = 0;
    for (int i = 0; i < 2; i++) {
        double z = 0;
        for (int j = 0; j < 4; j++) z += exp(logits[i * 4 + j]);
        ce += log(z) - logits[i * 4 + geo[i]];
    }
    CHECK(fabs(ce / 2 - losses[0]) < 1e-5, "loss %g vs %g from the logits", losses[0], ce / 2);
    CHECK(geoloc_exec_logits(train, 2) == NULL, "no third head");
    CHECK(geoloc_exec_feature_dim(train) == 512, "ResNet-18 features: 512");
done:
    geoloc_exec_free(train);
    geoloc_exec_free(infer);
    geoloc_net_free(net);
}

/* Save, read back with the architecture from the metadata; mismatches refused. */
static void test_weights_files(void) {
    geoloc_error err = {0};
    geoloc_resnet_config cfg;
    geoloc_resnet_config_default(&cfg, 50, 7);
    cfg.stride_on_conv1 = 1, cfg.conv_bias = 1, cfg.bn_eps = 1e-3f;
    geoloc_net *net = NULL, *back = NULL, *other = NULL;
    geoloc_safetensors *st = NULL;
    CHECK(geoloc_net_create(&cfg, &net, &err) == GEOLOC_OK, "%s", err.message);
    if (!net) return;
    ref_fill_params(net);
    const char *path = test_temp_file("weights.safetensors");
    const char *k[1] = {"note"}, *v[1] = {"hello"};
    CHECK(geoloc_net_save(net, path, k, v, 1, &err) == GEOLOC_OK, "%s", err.message);
    geoloc_resnet_config got;
    CHECK(geoloc_safetensors_open(path, &st, &err) == GEOLOC_OK, "%s", err.message);
    if (!st) goto done;
    CHECK(geoloc_resnet_config_from_weights(st, &got, &err) == GEOLOC_OK, "%s", err.message);
    CHECK(got.depth == 50 && got.stride_on_conv1 && got.conv_bias && got.bn_eps == 1e-3f && got.n_heads == 1 &&
              got.heads[0].classes == 7 && !strcmp(got.heads[0].name, "fc"),
          "architecture read back");
    CHECK(!strcmp(geoloc_safetensors_metadata_get(st, "note"), "hello"), "extra metadata kept");
    CHECK(geoloc_net_create(&got, &back, &err) == GEOLOC_OK && geoloc_net_load(back, st, 0, &err) == GEOLOC_OK,
          "%s", err.message);
    int same = back != NULL;
    for (size_t i = 0; same && i < geoloc_net_param_count(net); i++)
        same = !memcmp(geoloc_net_param(net, i)->data, geoloc_net_param(back, i)->data,
                       geoloc_net_param(net, i)->n * sizeof(float));
    CHECK(same, "every parameter read back bit for bit");
    /* a torchvision-layout ResNet-50 has no conv biases: the file's extra tensors are
     * ignored, and its own are all present; a 9-class head is a shape mismatch */
    geoloc_resnet_config_default(&cfg, 50, 9);
    CHECK(geoloc_net_create(&cfg, &other, &err) == GEOLOC_OK, "%s", err.message);
    CHECK(geoloc_net_load(other, st, 1, &err) == GEOLOC_OK, "backbone without heads: %s", err.message);
    CHECK(geoloc_net_load(other, st, 0, &err) == GEOLOC_E_ARG && strstr(err.message, "fc.weight") &&
              strstr(err.message, "[7,2048]") && strstr(err.message, "[9,2048]"),
          "head shape mismatch: %s", err.message);
    geoloc_net_free(other);
    other = NULL;
    geoloc_resnet_config_default(&cfg, 101, 7);
    CHECK(geoloc_net_create(&cfg, &other, &err) == GEOLOC_OK, "%s", err.message);
    CHECK(geoloc_net_load(other, st, 0, &err) == GEOLOC_E_ARG && strstr(err.message, "layer3.6.conv1.weight"),
          "a ResNet-101 from ResNet-50 weights: %s", err.message);
done:
    geoloc_safetensors_close(st);
    geoloc_net_free(net);
    geoloc_net_free(back);
    geoloc_net_free(other);
    remove(path);
}

/* Profiling: every call is described and timed once per run of its list while on;
 * off (the default) times nothing. */
static void test_profile(void) {
    geoloc_error err = {0};
    geoloc_resnet_config cfg;
    geoloc_resnet_config_default(&cfg, 18, 4);
    geoloc_net *net = NULL;
    geoloc_exec *ex = NULL;
    CHECK(geoloc_net_create(&cfg, &net, &err) == GEOLOC_OK, "%s", err.message);
    CHECK(geoloc_exec_create(net, 2, 32, 32, GEOLOC_NN_TRAIN, &ex, &err) == GEOLOC_OK, "%s", err.message);
    if (!ex) goto done;
    geoloc_net_init_random(net, 3);
    static float x[2 * 3 * 32 * 32];
    const int32_t labels[2] = {1, 3}, *sets[1] = {labels};
    CHECK(geoloc_exec_set_profile(ex, 1, &err) == GEOLOC_OK, "%s", err.message);
    CHECK(geoloc_exec_forward(ex, x, &err) == GEOLOC_OK && geoloc_exec_backward(ex, sets, NULL, NULL, &err) == GEOLOC_OK,
          "%s", err.message);
    size_t n = geoloc_exec_call_count(ex), conv_fwd = 0, conv_wgrad = 0, loss = 0, untimed = 0;
    double total = 0;
    for (size_t i = 0; i < n; i++) {
        geoloc_exec_call_time t;
        CHECK(geoloc_exec_call_profile(ex, i, &t, &err) == GEOLOC_OK, "%s", err.message);
        untimed += t.runs != 1;
        total += t.seconds;
        if (!strcmp(t.kind, "convolution") && !strcmp(t.list, "forward") && !strcmp(t.what, "forward_training")) {
            conv_fwd++;
            CHECK(t.node >= 0 && strchr(t.shape, 'x') && strlen(t.impl) > 0, "call %zu: %s %s", i, t.impl, t.shape);
        }
        if (!strcmp(t.kind, "convolution") && !strcmp(t.what, "backward_weights")) conv_wgrad++;
        if (!strcmp(t.kind, "step") && !strcmp(t.what, "step_loss")) {
            loss++;
            CHECK(t.node == -1, "the loss is the heads'");
        }
    }
    CHECK(untimed == 0 && total > 0, "%zu calls not run once while profiling; %g s in all", untimed, total);
    CHECK(conv_fwd == 20 && conv_wgrad == 20 && loss == 1, "ResNet-18: %zu forward convolutions, %zu weight gradients, "
          "%zu losses (want 20, 20, 1)", conv_fwd, conv_wgrad, loss);
    geoloc_exec_call_time t;
    CHECK(geoloc_exec_call_profile(ex, n, &t, &err) == GEOLOC_E_RANGE, "call past the end");
    CHECK(geoloc_exec_set_profile(ex, 0, &err) == GEOLOC_OK && geoloc_exec_forward(ex, x, &err) == GEOLOC_OK, "%s",
          err.message);
    CHECK(geoloc_exec_call_profile(ex, 0, &t, &err) == GEOLOC_OK && t.runs == 0 && t.seconds == 0,
          "profiling off: nothing timed");
done:
    geoloc_exec_free(ex);
    geoloc_net_free(net);
}

int main(void) {
    test_bad_arguments();
    test_heads_and_labels();
    test_weights_files();
    test_profile();
    TEST_END();
}
