/* Gradient checks by finite differences, layer by layer: for parameters of
 * every kind of layer (stem and block convolutions, their biases, batch
 * norms, the downsample shortcut, the head), the central difference
 * (L(w + h) - L(w - h)) / 2h of the training loss matches the gradient the
 * engine computed (see check_param). Two small networks: ResNet-18 (basic blocks) and the
 * Keras variant of ResNet-50 (bottlenecks strided on their first 1x1
 * convolution, convolution biases, batch-norm epsilon 1e-3). float32
 * arithmetic: a step that moves the loss by about 2e-3, a tolerance of 3 %;
 * the bottleneck net gets small last batch-norm scales in each block (as
 * torchvision's zero_init_residual, not zero) to be well-conditioned. Two
 * images of 64x64, so the last batch norms still see 8 values per channel.
 * The tails of split networks (geoloc_net_split: the last layers trained on
 * the maps a frozen prefix gives) are checked the same way on input maps of
 * 8x8 and 4x4: two readers of the input, no gradient flowing out of it. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "geoloc/nn.h"
#include "nn_reference.h"
#include "test_util.h"

enum { N = 2, S = 64, CLASSES = 5 };

static float *input; /* N images or maps of the network being checked */
static int32_t labels[N] = {1, 4};

/* Forward and backward: the engine's loss, gradients added to the parameters'. */
static void backward(geoloc_exec *ex) {
    geoloc_error err = {0};
    const int32_t *sets[1] = {labels};
    geoloc_exec_params_changed(ex);
    if (geoloc_exec_forward(ex, input, &err) != GEOLOC_OK ||
        geoloc_exec_backward(ex, sets, NULL, NULL, &err) != GEOLOC_OK)
        fprintf(stderr, "%s\n", err.message);
}

/* Forward only: the mean cross-entropy of the logits, in double. */
static double loss_of(geoloc_exec *ex) {
    geoloc_error err = {0};
    geoloc_exec_params_changed(ex);
    if (geoloc_exec_forward(ex, input, &err) != GEOLOC_OK) {
        fprintf(stderr, "%s\n", err.message);
        return NAN;
    }
    const float *logits = geoloc_exec_logits(ex, 0);
    double loss = 0;
    for (int i = 0; i < N; i++) {
        double sum = 0;
        for (int j = 0; j < CLASSES; j++) sum += exp((double)logits[i * CLASSES + j]);
        loss += log(sum) - logits[i * CLASSES + labels[i]];
    }
    return loss / N;
}

/* Directional derivative of the loss along the computed gradient g of one
 * parameter tensor: (L(w + t g/|g|) - L(w - t g/|g|)) / 2t must equal |g| (and it
 * would be smaller for a wrong g, since it is <g_true, g> / |g|). A parameter
 * whose gradient is 0 in theory (a convolution bias before batch norm) must
 * leave the loss unchanged along its own coordinates. */
static void check_param(geoloc_net *net, geoloc_exec *ex, const char *name) {
    geoloc_param *p = geoloc_net_find_param(net, name);
    CHECK(p && p->grad, "no trained parameter %s", name);
    if (!p || !p->grad) return;
    double gnorm = 0, wnorm = 0;
    for (size_t i = 0; i < p->n; i++) gnorm += (double)p->grad[i] * p->grad[i], wnorm += (double)p->data[i] * p->data[i];
    gnorm = sqrt(gnorm), wnorm = sqrt(wnorm);
    int before_bn = gnorm < 1e-4;
    float *w0 = malloc(p->n * sizeof *w0);
    memcpy(w0, p->data, p->n * sizeof *w0);
    double t = before_bn ? 1e-2 * wnorm : 2e-3 / gnorm, loss[2];
    for (int side = 0; side < 2; side++) {
        for (size_t i = 0; i < p->n; i++) {
            double d = before_bn ? 1.0 / sqrt((double)p->n) : p->grad[i] / gnorm;
            p->data[i] = (float)(w0[i] + (side ? -t : t) * d);
        }
        loss[side] = loss_of(ex);
    }
    memcpy(p->data, w0, p->n * sizeof *w0);
    free(w0);
    double fd = (loss[0] - loss[1]) / (2 * t);
    if (before_bn)
        CHECK(fabs(fd) <= 1e-3, "%s: gradient %.3g ~ 0, but the loss moves at %.3g", name, gnorm, fd);
    else
        CHECK(fabs(fd - gnorm) <= 0.03 * gnorm, "%s: directional derivative %.6g, |gradient| %.6g", name, fd, gnorm);
    printf("%-32s |g| %-12.6g finite difference %.6g\n", name, gnorm, fd);
}

/* Checks the named parameters of a network of cfg on N inputs of c x side x side. */
static void run(const geoloc_resnet_config *cfg, int c, int side, const char *const *names, size_t n_names) {
    geoloc_error err = {0};
    size_t n_in = (size_t)N * c * side * side;
    input = malloc(n_in * sizeof *input);
    if (!input) return;
    ref_fill(input, n_in, 77, 0.0, 1.0);
    geoloc_net *net = NULL;
    geoloc_exec *ex = NULL;
    CHECK(geoloc_net_create(cfg, &net, &err) == GEOLOC_OK, "create: %s", err.message);
    if (!net) return;
    ref_fill_params(net);
    for (size_t k = 0; k < geoloc_net_param_count(net); k++) { /* small last gammas: a well-conditioned net */
        geoloc_param *p = geoloc_net_param(net, k);
        if (cfg->depth == 50 && strstr(p->name, ".bn3.weight"))
            for (size_t i = 0; i < p->n; i++) p->data[i] *= 0.1f;
    }
    CHECK(geoloc_exec_create(net, N, side, side, GEOLOC_NN_TRAIN, &ex, &err) == GEOLOC_OK, "exec: %s", err.message);
    if (ex) {
        geoloc_net_zero_grad(net);
        backward(ex);
        for (size_t i = 0; i < n_names; i++) check_param(net, ex, names[i]);
    }
    geoloc_exec_free(ex);
    geoloc_net_free(net);
    free(input);
}

int main(void) {
    geoloc_resnet_config cfg;
    geoloc_resnet_config_default(&cfg, 18, CLASSES);
    static const char *const basic[] = {"conv1.weight", "bn1.weight", "bn1.bias", "layer1.0.conv2.weight",
                                        "layer2.0.downsample.0.weight", "layer2.0.downsample.1.weight",
                                        "layer3.1.bn1.bias", "layer4.1.conv2.weight", "fc.weight", "fc.bias"};
    run(&cfg, 3, S, basic, sizeof basic / sizeof basic[0]);
    cfg.tail_from = 3; /* 128 maps of 8x8, as layer 3 of this net reads from 64x64 images */
    static const char *const tail3[] = {"layer3.0.conv1.weight", "layer3.0.downsample.0.weight",
                                        "layer3.0.downsample.1.bias", "layer4.1.bn2.weight", "fc.weight"};
    run(&cfg, 128, 8, tail3, sizeof tail3 / sizeof tail3[0]);
    geoloc_resnet_config_default(&cfg, 50, CLASSES);
    cfg.tail_from = 4; /* torchvision's bottlenecks: 1024 maps of 4x4 */
    static const char *const tail4[] = {"layer4.0.conv1.weight", "layer4.0.conv2.weight", "layer4.0.downsample.0.weight",
                                        "layer4.2.bn3.weight", "fc.bias"};
    run(&cfg, 1024, 4, tail4, sizeof tail4 / sizeof tail4[0]);
    geoloc_resnet_config_default(&cfg, 50, CLASSES);
    cfg.stride_on_conv1 = 1;
    cfg.conv_bias = 1;
    cfg.bn_eps = 1e-3f;
    static const char *const bottleneck[] = {"conv1.bias", "layer1.0.conv3.weight", "layer1.0.conv3.bias",
                                             "layer2.0.conv1.weight", "layer2.0.downsample.0.bias",
                                             "layer3.2.bn3.weight", "layer4.0.conv2.weight", "fc.weight", "fc.bias"};
    run(&cfg, 3, S, bottleneck, sizeof bottleneck / sizeof bottleneck[0]);
    TEST_END();
}
