/* ResNet-18/34/50/101/152 as torchvision builds them (v1.5: a bottleneck's
 * stride on its 3x3 convolution) or as Keras does (v1: on its first 1x1),
 * with torchvision's parameter names. Nodes of a block are listed with the
 * shortcut first, so inference can fuse the residual add into the block's
 * last convolution. */
#include <stdio.h>
#include <string.h>

#include "core/error.h"
#include "nn/graph.h"

typedef struct builder {
    geoloc_net *net;
    int failed;
} builder;

/* Parameters of a convolution named `name` (weight [out, in, k, k], optional bias). */
static int conv_params(builder *b, const char *name, int in, int out, int k) {
    char n[128];
    snprintf(n, sizeof n, "%s.weight", name);
    uint64_t shape[4] = {(uint64_t)out, (uint64_t)in, (uint64_t)k, (uint64_t)k};
    int p = net_add_param(b->net, n, GEOLOC_PARAM_WEIGHT, -1, 4, shape);
    if (b->net->cfg.conv_bias) {
        snprintf(n, sizeof n, "%s.bias", name);
        if (net_add_param(b->net, n, GEOLOC_PARAM_BIAS, -1, 1, shape) < 0) p = -1;
    }
    if (p < 0) b->failed = 1;
    return p;
}

/* Parameters of a batch norm over c channels: weight, bias, running_mean, running_var. */
static int bn_params(builder *b, const char *name, int c) {
    static const struct {
        const char *suffix;
        geoloc_param_kind kind;
    } parts[4] = {{"weight", GEOLOC_PARAM_BN_WEIGHT},
                  {"bias", GEOLOC_PARAM_BN_BIAS},
                  {"running_mean", GEOLOC_PARAM_RUNNING_MEAN},
                  {"running_var", GEOLOC_PARAM_RUNNING_VAR}};
    uint64_t shape[1] = {(uint64_t)c};
    int first = -1;
    for (int i = 0; i < 4; i++) {
        char n[128];
        snprintf(n, sizeof n, "%s.%s", name, parts[i].suffix);
        int p = net_add_param(b->net, n, parts[i].kind, -1, 1, shape);
        if (p < 0) b->failed = 1;
        if (i == 0) first = p;
    }
    return first;
}

static int node(builder *b, nn_op op, int in0, int in1, int param, int kernel, int stride,
                int pad, int channels) {
    nn_node nd = {.op = op, .in = {in0, in1}, .param = param, .kernel = kernel,
                  .stride = stride, .pad = pad, .has_bias = op == NN_CONV && b->net->cfg.conv_bias};
    int v = net_add_node(b->net, &nd, channels);
    if (v < 0) b->failed = 1;
    return v;
}

static int conv(builder *b, int in, int param, int out, int k, int stride) {
    return node(b, NN_CONV, in, -1, param, k, stride, k / 2, out);
}

static int channels(builder *b, int v) { return v >= 0 ? b->net->value_channels[v] : 0; }

/* One residual block (basic when bottleneck is 0) of layer `layer`, index `index`. */
static int block(builder *b, int x, int layer, int index, int planes, int stride, int bottleneck) {
    char name[48], sub[64];
    snprintf(name, sizeof name, "layer%d.%d", layer, index);
    int in_ch = channels(b, x), out_ch = bottleneck ? planes * 4 : planes;
    int n_conv = bottleneck ? 3 : 2;
    int conv_p[3], bn_p[3];
    int k[3] = {bottleneck ? 1 : 3, 3, 1};
    int ch[3] = {planes, bottleneck ? planes : out_ch, out_ch};
    int st[3] = {stride, 1, 1};
    if (bottleneck && !b->net->cfg.stride_on_conv1) st[0] = 1, st[1] = stride;
    for (int i = 0; i < n_conv; i++) {
        snprintf(sub, sizeof sub, "%s.conv%d", name, i + 1);
        conv_p[i] = conv_params(b, sub, i == 0 ? in_ch : ch[i - 1], ch[i], k[i]);
        snprintf(sub, sizeof sub, "%s.bn%d", name, i + 1);
        bn_p[i] = bn_params(b, sub, ch[i]);
    }
    int shortcut = x;
    if (stride != 1 || in_ch != out_ch) {
        snprintf(sub, sizeof sub, "%s.downsample.0", name);
        int dp = conv_params(b, sub, in_ch, out_ch, 1);
        snprintf(sub, sizeof sub, "%s.downsample.1", name);
        int dbn = bn_params(b, sub, out_ch);
        int d = node(b, NN_CONV, x, -1, dp, 1, stride, 0, out_ch);
        shortcut = node(b, NN_BN, d, -1, dbn, 0, 0, 0, out_ch);
    }
    int y = x;
    for (int i = 0; i < n_conv; i++) {
        y = conv(b, y, conv_p[i], ch[i], k[i], st[i]);
        y = node(b, NN_BN, y, -1, bn_p[i], 0, 0, 0, ch[i]);
        if (i + 1 < n_conv) y = node(b, NN_RELU, y, -1, -1, 0, 0, 0, ch[i]);
    }
    y = node(b, NN_ADD, y, shortcut, -1, 0, 0, 0, out_ch);
    return node(b, NN_RELU, y, -1, -1, 0, 0, 0, out_ch);
}

geoloc_status resnet_build(geoloc_net *net, geoloc_error *err) {
    static const struct {
        int depth, bottleneck, blocks[4];
    } arch[] = {{18, 0, {2, 2, 2, 2}},  {34, 0, {3, 4, 6, 3}},  {50, 1, {3, 4, 6, 3}},
                {101, 1, {3, 4, 23, 3}}, {152, 1, {3, 8, 36, 3}}};
    int a = -1;
    for (size_t i = 0; i < sizeof arch / sizeof arch[0]; i++)
        if (arch[i].depth == net->cfg.depth) a = (int)i;
    if (a < 0)
        return error_set(err, GEOLOC_E_ARG, "ResNet depth %d: expected 18, 34, 50, 101 or 152",
                         net->cfg.depth);
    builder b = {.net = net};
    const int bottleneck = arch[a].bottleneck, first = net->cfg.tail_from ? net->cfg.tail_from : 1;
    const int last = net->cfg.prefix_to ? net->cfg.prefix_to - 1 : 4;
    /* the image, or a tail's input: the stem's 64 channels for layer 1, else the previous layer's output */
    if (!net->cfg.tail_from) net->value_channels[0] = 3;
    else if (first == 1) net->value_channels[0] = 64;
    else net->value_channels[0] = (64 << (first - 2)) * (bottleneck ? 4 : 1);
    net->n_values = 1;
    net->feature_value = -1;
    int x = 0;
    if (!net->cfg.tail_from) {
        int p = conv_params(&b, "conv1", 3, 64, 7);
        int pbn = bn_params(&b, "bn1", 64);
        x = node(&b, NN_CONV, 0, -1, p, 7, 2, 3, 64);
        x = node(&b, NN_BN, x, -1, pbn, 0, 0, 0, 64);
        x = node(&b, NN_RELU, x, -1, -1, 0, 0, 0, 64);
        x = node(&b, NN_MAXPOOL, x, -1, -1, 3, 2, 1, 64);
    }
    for (int layer = first - 1; layer < last; layer++) {
        int planes = 64 << layer;
        for (int i = 0; i < arch[a].blocks[layer]; i++)
            x = block(&b, x, layer + 1, i, planes, i == 0 && layer > 0 ? 2 : 1, bottleneck);
    }
    if (net->cfg.prefix_to) {
        if (b.failed) return error_set(err, GEOLOC_E_NOMEM, "out of memory building ResNet-%d", net->cfg.depth);
        return GEOLOC_OK;
    }
    net->feature_value = node(&b, NN_GAP, x, -1, -1, 0, 0, 0, channels(&b, x));
    int features = channels(&b, net->feature_value);
    for (size_t h = 0; h < net->cfg.n_heads; h++) {
        const geoloc_head_config *hc = &net->cfg.heads[h];
        char n[128];
        uint64_t ws[2] = {(uint64_t)hc->classes, (uint64_t)features};
        snprintf(n, sizeof n, "%s.weight", hc->name);
        net->head_param[h] = net_add_param(net, n, GEOLOC_PARAM_WEIGHT, (int)h, 2, ws);
        snprintf(n, sizeof n, "%s.bias", hc->name);
        if (net->head_param[h] < 0 || net_add_param(net, n, GEOLOC_PARAM_BIAS, (int)h, 1, ws) < 0)
            b.failed = 1;
    }
    if (b.failed) return error_set(err, GEOLOC_E_NOMEM, "out of memory building ResNet-%d", net->cfg.depth);
    return GEOLOC_OK;
}
