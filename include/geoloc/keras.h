/* geoloc: import of the Keras ImageNet ResNet-50 (v1, Keras 2.2 layer names)
 * from a TensorFlow.js "layers-model" folder (model.json: the Keras topology
 * and a weightsManifest; float32 shard files that, concatenated in the order
 * of each group's "paths", hold the group's weights in manifest order) into a
 * safetensors file with torchvision's ResNet-50 state_dict names and layouts
 * (conv kernels OIHW, fc weight [out, in]), keeping the Keras conv biases.
 * Everything is validated: the topology must be Keras ResNet-50 exactly
 * (names, kernel sizes, strides, filters, biases, BatchNormalization epsilon
 * and axis, Dense units), every weight float32 with its expected shape, and
 * the shards must hold exactly the weights' bytes. Errors name the file, the
 * layer or weight and the field. */
#ifndef GEOLOC_KERAS_H
#define GEOLOC_KERAS_H

#include <stddef.h>
#include <stdint.h>

#include "geoloc/status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define GEOLOC_KERAS_RESNET50_WEIGHTS 320   /* Keras arrays = tensors written */
#define GEOLOC_KERAS_RESNET50_CLASSES 1000  /* ImageNet classes of fc1000 */
#define GEOLOC_KERAS_MAX_JSON (16u << 20)   /* largest model.json / labels.json read */

/* One weight of a parsed model, in torchvision state_dict order. */
typedef struct geoloc_keras_weight {
    const char *keras_name;  /* "res3a_branch2a/kernel" */
    const char *torch_name;  /* "layer2.0.conv1.weight" */
    size_t ndim;
    uint64_t shape[4];       /* Keras shape (conv kernels HWIO, dense [in, out]) */
    uint64_t n_elements;
    size_t group;            /* its weightsManifest group */
    uint64_t offset;         /* byte offset in the group's concatenated shards */
} geoloc_keras_weight;

typedef struct geoloc_keras_model geoloc_keras_model;

/* Parses and validates a model.json text (topology and weightsManifest); name is used in messages. */
geoloc_status geoloc_keras_model_parse(const char *text, size_t len, const char *name,
                                       geoloc_keras_model **out, geoloc_error *err);

/* Releases a parsed model (NULL is allowed). */
void geoloc_keras_model_free(geoloc_keras_model *m);

/* Number of weights (GEOLOC_KERAS_RESNET50_WEIGHTS). */
size_t geoloc_keras_model_weight_count(const geoloc_keras_model *m);

/* Weight i in torchvision state_dict order, or NULL when i is out of range. */
const geoloc_keras_weight *geoloc_keras_model_weight(const geoloc_keras_model *m, size_t i);

/* Number of weightsManifest groups. */
size_t geoloc_keras_model_group_count(const geoloc_keras_model *m);

/* Number of shard files of group g (0 when g is out of range). */
size_t geoloc_keras_model_shard_count(const geoloc_keras_model *m, size_t g);

/* Path (relative to the model folder) of shard i of group g, or NULL. */
const char *geoloc_keras_model_shard(const geoloc_keras_model *m, size_t g, size_t i);

/* Bytes the weights of group g need: the size of its concatenated shards. */
uint64_t geoloc_keras_model_group_bytes(const geoloc_keras_model *m, size_t g);

/* Parses a labels.json ({"0": "tench", ..., "999": "toilet_tissue"}): exactly
 * n_classes members with the keys 0..n_classes-1, each a one-line name;
 * *joined (malloc'd) gets the names in index order separated by '\n'. */
geoloc_status geoloc_keras_labels_parse(const char *text, size_t len, const char *name,
                                        size_t n_classes, char **joined, geoloc_error *err);

/* What to import besides the weights. */
typedef struct geoloc_keras_import_options {
    const char *labels_path; /* labels.json for geoloc.classes, or NULL for none */
    const char *source;      /* geoloc.source, or NULL: "keras NAME@VERSION" from the
                                folder's ../package.json, else "keras" */
} geoloc_keras_import_options;

/* What an import wrote. */
typedef struct geoloc_keras_import_result {
    size_t n_tensors;
    uint64_t n_parameters;
    size_t n_shards;
    uint64_t shard_bytes;
    size_t n_classes;        /* 0 without labels */
    char source[160];        /* the geoloc.source written */
} geoloc_keras_import_result;

/* Imports the model folder dir (model.json and its shards) into the safetensors
 * file out_path (written atomically) with the geoloc.* metadata; opt and res may be NULL. */
geoloc_status geoloc_keras_import(const char *dir, const char *out_path,
                                  const geoloc_keras_import_options *opt,
                                  geoloc_keras_import_result *res, geoloc_error *err);

#ifdef __cplusplus
}
#endif
#endif
