/* A network split at a ResNet layer (geoloc_net_split): the prefix's output
 * maps through the tail give the whole network's logits at every split point
 * of ResNet-18 and ResNet-50; both parts use the whole network's parameter
 * arrays (an update of one is seen by the others); misuse is refused; and the
 * tail learns: SGD on its parameters alone drives a batch's loss down while
 * the prefix's weights stay as they were. (Its gradients are checked by
 * finite differences in test_nn_gradcheck.) */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "geoloc/nn.h"
#include "nn_reference.h"
#include "test_util.h"

enum { N = 2, S = 64, CLASSES = 7 };

static float images[N * 3 * S * S];

/* Inference logits of net on inputs (N x c x side x side); NULL on failure. */
static float *logits_of(geoloc_net *net, const float *in, int side) {
    geoloc_error err = {0};
    geoloc_exec *ex = NULL;
    float *out = NULL;
    CHECK(geoloc_exec_create(net, N, side, side, GEOLOC_NN_INFER, &ex, &err) == GEOLOC_OK, "exec: %s", err.message);
    if (ex && geoloc_exec_forward(ex, in, &err) == GEOLOC_OK && (out = malloc(N * CLASSES * sizeof *out)))
        memcpy(out, geoloc_exec_logits(ex, 0), N * CLASSES * sizeof *out);
    geoloc_exec_free(ex);
    return out;
}

/* The prefix's maps of the images (N x C x H x W) and their side; NULL on failure. */
static float *maps_of(geoloc_net *prefix, int *channels, int *side) {
    geoloc_error err = {0};
    geoloc_exec *ex = NULL;
    float *out = NULL;
    CHECK(geoloc_exec_create(prefix, N, S, S, GEOLOC_NN_INFER, &ex, &err) == GEOLOC_OK, "prefix: %s", err.message);
    if (!ex) return NULL;
    int h, w;
    geoloc_exec_output_shape(ex, channels, &h, &w);
    *side = h;
    size_t n = (size_t)N * geoloc_exec_feature_dim(ex);
    CHECK(h == w && (size_t)geoloc_exec_feature_dim(ex) == (size_t)*channels * h * w, "map %dx%dx%d, dim %d",
          *channels, h, w, geoloc_exec_feature_dim(ex));
    if (geoloc_exec_forward(ex, images, &err) == GEOLOC_OK && (out = malloc(n * sizeof *out)))
        memcpy(out, geoloc_exec_features(ex), n * sizeof *out);
    geoloc_exec_free(ex);
    return out;
}

static void test_composition(int depth) {
    geoloc_error err = {0};
    geoloc_resnet_config cfg;
    geoloc_resnet_config_default(&cfg, depth, CLASSES);
    geoloc_net *net = NULL;
    CHECK(geoloc_net_create(&cfg, &net, &err) == GEOLOC_OK, "%s", err.message);
    if (!net) return;
    ref_fill_params(net);
    float *whole = logits_of(net, images, S);
    static const int in_channels[2][4] = {{64, 64, 128, 256}, {64, 256, 512, 1024}};
    static const int in_side[4] = {16, 16, 8, 4}; /* what layers 1..4 read from 64x64 images */
    for (int layer = 1; layer <= 4 && whole; layer++) {
        geoloc_net *prefix = NULL, *tail = NULL;
        CHECK(geoloc_net_split(net, layer, &prefix, &tail, &err) == GEOLOC_OK, "split %d: %s", layer, err.message);
        if (!prefix) continue;
        int c = 0, side = 0;
        float *maps = maps_of(prefix, &c, &side);
        CHECK(c == in_channels[depth == 50][layer - 1] && side == in_side[layer - 1],
              "ResNet-%d layer %d reads %dx%dx%d", depth, layer, c, side, side);
        float *parts = maps ? logits_of(tail, maps, side) : NULL;
        double rel = parts ? ref_rel_l2(parts, whole, N * CLASSES) : 1.0;
        CHECK(rel < 1e-5, "ResNet-%d split at layer %d: logits differ from the whole network's by %.3g", depth, layer,
              rel);
        printf("ResNet-%d split at layer %d: %d maps of %dx%d, logits within %.2g of the whole network's\n", depth,
               layer, c, side, side, rel);
        const char *shared = layer == 4 ? "layer4.0.conv1.weight" : "fc.weight";
        CHECK(geoloc_net_find_param(tail, shared)->data == geoloc_net_find_param(net, shared)->data &&
                  geoloc_net_find_param(prefix, "conv1.weight")->data == geoloc_net_find_param(net, "conv1.weight")->data,
              "the parts use the whole network's arrays");
        CHECK(!geoloc_net_find_param(prefix, "fc.weight") && !geoloc_net_find_param(tail, "conv1.weight"),
              "each part has only its own layers' parameters");
        free(maps);
        free(parts);
        geoloc_net_free(tail);
        geoloc_net_free(prefix);
    }
    free(whole);
    geoloc_net_free(net);
}

static void test_misuse(void) {
    geoloc_error err = {0};
    geoloc_resnet_config cfg;
    geoloc_resnet_config_default(&cfg, 18, CLASSES);
    geoloc_net *net = NULL, *prefix = NULL, *tail = NULL, *p2 = NULL, *t2 = NULL;
    CHECK(geoloc_net_create(&cfg, &net, &err) == GEOLOC_OK, "%s", err.message);
    if (!net) return;
    CHECK(geoloc_net_split(net, 0, &prefix, &tail, &err) == GEOLOC_E_ARG && !prefix && !tail, "layer 0");
    CHECK(geoloc_net_split(net, 5, &prefix, &tail, &err) == GEOLOC_E_ARG, "layer 5");
    CHECK(geoloc_net_split(net, 2, &prefix, &tail, &err) == GEOLOC_OK, "%s", err.message);
    CHECK(geoloc_net_split(tail, 3, &p2, &t2, &err) == GEOLOC_E_ARG && !p2, "a part is not split again");
    geoloc_exec *ex = NULL;
    CHECK(geoloc_exec_create(prefix, N, S, S, GEOLOC_NN_TRAIN, &ex, &err) == GEOLOC_E_ARG && !ex,
          "a prefix (no heads) is not trained");
    CHECK(geoloc_exec_create(tail, N, 8, 8, GEOLOC_NN_INFER_INT8, &ex, &err) == GEOLOC_E_ARG && !ex,
          "int8 needs ranges");
    CHECK(geoloc_net_save(tail, "/nonexistent-dir/tail.safetensors", NULL, NULL, 0, &err) == GEOLOC_E_ARG &&
              strstr(err.message, "split"), "a part is not saved alone: %s", err.message);
    cfg.tail_from = 2, cfg.prefix_to = 3;
    CHECK(geoloc_net_create(&cfg, &p2, &err) == GEOLOC_E_ARG && !p2, "a tail and a prefix at once");
    geoloc_net_free(tail);
    geoloc_net_free(prefix);
    geoloc_net_free(net);
}

/* SGD on the tail alone (layer 4 and the head) on the prefix's maps of a fixed batch. */
static void test_tail_learns(void) {
    geoloc_error err = {0};
    geoloc_resnet_config cfg;
    geoloc_resnet_config_default(&cfg, 18, CLASSES);
    geoloc_net *net = NULL, *prefix = NULL, *tail = NULL;
    geoloc_exec *ex = NULL;
    CHECK(geoloc_net_create(&cfg, &net, &err) == GEOLOC_OK, "%s", err.message);
    if (!net) return;
    geoloc_net_init_random(net, 3);
    CHECK(geoloc_net_split(net, 4, &prefix, &tail, &err) == GEOLOC_OK, "%s", err.message);
    int c = 0, side = 0;
    float *maps = prefix ? maps_of(prefix, &c, &side) : NULL;
    float stem0 = geoloc_net_find_param(net, "layer3.1.conv2.weight")->data[5];
    if (maps) CHECK(geoloc_exec_create(tail, N, side, side, GEOLOC_NN_TRAIN, &ex, &err) == GEOLOC_OK, "%s", err.message);
    int32_t labels[N] = {2, 5};
    const int32_t *sets[1] = {labels};
    float first = NAN, loss = NAN;
    for (int step = 0; ex && step < 30; step++) {
        geoloc_net_zero_grad(tail);
        if (geoloc_exec_forward(ex, maps, &err) != GEOLOC_OK || geoloc_exec_backward(ex, sets, NULL, &loss, &err))
            break;
        if (step == 0) first = loss;
        for (size_t k = 0; k < geoloc_net_param_count(tail); k++) {
            geoloc_param *p = geoloc_net_param(tail, k);
            for (size_t i = 0; p->grad && i < p->n; i++) p->data[i] -= 0.05f * p->grad[i];
        }
        geoloc_exec_params_changed(ex);
    }
    CHECK(loss < 0.25f * first, "30 SGD steps of the tail: loss %.4f -> %.4f", (double)first, (double)loss);
    CHECK(geoloc_net_find_param(net, "layer3.1.conv2.weight")->data[5] == stem0, "the prefix's weights are untouched");
    printf("tail training: loss %.4f -> %.4f in 30 steps\n", (double)first, (double)loss);
    geoloc_exec_free(ex);
    free(maps);
    geoloc_net_free(tail);
    geoloc_net_free(prefix);
    geoloc_net_free(net);
}

int main(void) {
    ref_fill(images, sizeof images / sizeof images[0], 11, 0.0, 1.0);
    test_composition(18);
    test_composition(50);
    test_misuse();
    test_tail_learns();
    TEST_END();
}
