/* geoloc: geolocation models (Müller-Budack et al., ECCV 2018; PlaNet). A
 * model is a ResNet backbone with one classification head per partition of
 * the Earth into S2 cells (coarse / middle / fine) and an optional scene head
 * (indoor / natural / urban, ...), plus everything needed to use it: the
 * partitions (cells, training-photo counts and mean locations), the
 * hierarchy between them, the preprocessing and the class names. One
 * safetensors file holds it all; a file may leave out the backbone and name
 * a backbone weights file instead (the default model: the ImageNet ResNet-50
 * installed by the setup plus small geo heads). */
#ifndef GEOLOC_MODEL_H
#define GEOLOC_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "geoloc/image.h"
#include "geoloc/nn.h"
#include "geoloc/partition.h"
#include "geoloc/status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define GEOLOC_MODEL_FORMAT "geoloc-model-1" /* metadata geoloc.format of model files */
#define GEOLOC_MODEL_MAX_PARTITIONS 6
#define GEOLOC_MODEL_MAX_TOP 64

/* A loaded (or newly built) model. The network's heads are, in order, one per
 * partition ("geo0", "geo1", ... coarse to fine) then "scene" when present. */
typedef struct geoloc_model {
    geoloc_net *net;
    size_t n_partitions;                                 /* coarse to fine */
    geoloc_partition *partitions[GEOLOC_MODEL_MAX_PARTITIONS];
    char partition_names[GEOLOC_MODEL_MAX_PARTITIONS][64]; /* e.g. cells_50_5000 */
    int32_t *ancestor[GEOLOC_MODEL_MAX_PARTITIONS][GEOLOC_MODEL_MAX_PARTITIONS];
        /* ancestor[f][c][k]: class of partition c (coarser, c < f) containing class k of f */
    size_t n_scenes;                                     /* 0: no scene head */
    char **scene_names;
    geoloc_norm norm;                                    /* input normalisation */
    int image_size;                                      /* crop side fed to the network (224) */
    char backbone[256];                                  /* "" when the file holds the backbone */
} geoloc_model;

/* Builds a model: a ResNet of `backbone` (its heads replaced) with one head per
 * partition (copied) and a scene head of n_scenes classes (0: none); heads zeroed
 * or torch-initialised from seed. Computes the hierarchy. */
geoloc_status geoloc_model_create(const geoloc_resnet_config *backbone,
                                  const geoloc_partition *const *partitions,
                                  const char *const *partition_names, size_t n_partitions,
                                  const char *const *scene_names, size_t n_scenes,
                                  uint64_t seed, geoloc_model **out, geoloc_error *err);

/* Writes the model atomically; with heads_only the backbone tensors are left out
 * and `backbone_name` (a weights file name, e.g. resnet50-imagenet.safetensors,
 * looked up with geoloc_model_find_data) is recorded instead. */
geoloc_status geoloc_model_save(const geoloc_model *m, const char *path, int heads_only,
                                const char *backbone_name, geoloc_error *err);

/* Reads a model file, checks its format version and that partitions, heads and
 * hierarchy agree; loads the backbone from the file or from the named backbone file
 * (its absence is an error that says which command fetches it). */
geoloc_status geoloc_model_load(const char *path, geoloc_model **out, geoloc_error *err);

/* Releases a model (NULL allowed). */
void geoloc_model_free(geoloc_model *m);

/* Finds a data file (default model, backbone weights) by name: $GEOLOC_DATA_DIR,
 * then <executable dir>/../share/geoloc, then <executable dir>/../models. Writes the
 * path to out; 0 when found, -1 when not. */
int geoloc_model_find_data(const char *name, char *out, size_t size);

/* The model to use: path when not NULL, else $GEOLOC_MODEL, else the default model
 * (geoloc-default.safetensors via geoloc_model_find_data). Writes the path; 0 or -1
 * with err naming what was looked for. */
int geoloc_model_resolve(const char *path, char *out, size_t size, geoloc_error *err);

/* ---- prediction ---------------------------------------------------------------- */

typedef enum geoloc_crop_mode {
    GEOLOC_CROPS_THREE = 0, /* the paper's three crops along the longer side (default) */
    GEOLOC_CROPS_FIVE,      /* corners and center */
    GEOLOC_CROPS_CENTER     /* one center crop */
} geoloc_crop_mode;

typedef struct geoloc_predict_options {
    geoloc_crop_mode crops;
    int partition;  /* -1: hierarchical over all partitions (default), else that partition only */
    int top_k;      /* cells reported (default 5, at most GEOLOC_MODEL_MAX_TOP) */
    int batch;      /* images per network call (default 8) */
} geoloc_predict_options;

/* One candidate cell. */
typedef struct geoloc_cell_guess {
    int cls;          /* class in the answering partition */
    uint64_t cell;    /* S2 cell id */
    double lat, lon;  /* mean location of the cell's training photos (Class2GPS) */
    float prob;       /* probability (hierarchical: normalised product over the levels) */
} geoloc_cell_guess;

/* The answer for one photo: the best cell's mean location, and the top k. */
typedef struct geoloc_prediction {
    double lat, lon;
    int partition;    /* partition that answered (the finest for hierarchical) */
    int n_top;
    geoloc_cell_guess top[GEOLOC_MODEL_MAX_TOP];
    int scene;        /* most probable scene class, -1 without a scene head */
    float scene_prob;
} geoloc_prediction;

typedef struct geoloc_predictor geoloc_predictor;

/* Prepares prediction (the network for batch x crops images). */
geoloc_status geoloc_predictor_create(const geoloc_model *m, const geoloc_predict_options *opt,
                                      geoloc_predictor **out, geoloc_error *err);

/* Releases a predictor (NULL allowed). */
void geoloc_predictor_free(geoloc_predictor *p);

/* Predicts n photos (any n): crops' probabilities averaged, then the partition's or
 * the hierarchical scores. When distributions is not NULL, distributions[i] receives
 * photo i's full distribution over the answering partition's classes. */
geoloc_status geoloc_predict(geoloc_predictor *p, const geoloc_image *images, size_t n,
                             geoloc_prediction *out, float *const *distributions,
                             geoloc_error *err);

#ifdef __cplusplus
}
#endif
#endif
