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
#include "geoloc/transform.h"

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
    geoloc_resnet_config config;  /* the network's architecture and heads (also when net is NULL) */
    size_t n_meta;                /* extra metadata saved with the model (training summary, ...) */
    char **meta_keys, **meta_values;
    struct geoloc_calibration *calibration; /* confidence radii and abstention
                                     (geoloc/calibration.h); NULL: uncalibrated */
    char notice[1024];            /* after geoloc_model_load: the files read without a data
                                     checksum to verify (written before checksums), "" if none */
} geoloc_model;

/* Builds a model: a ResNet of `backbone` (its heads replaced) with one head per
 * partition (copied) and a scene head of n_scenes classes (0: none). seed 0: every
 * parameter zero (running variances 1), for a backbone loaded next with geoloc_net_load
 * (skip_heads) and heads that start at zero; otherwise the whole network is
 * torch-initialised from seed (geoloc_net_init_random). Computes the hierarchy
 * (ancestor[f][c]; -1 where a cell has none). norm = GEOLOC_NORM_IMAGENET,
 * image_size = 224: set them for another backbone (Keras: GEOLOC_NORM_CAFFE).
 * Partition names: 1-63 characters without ',' or control characters; scene names
 * likewise without newlines. */
geoloc_status geoloc_model_create(const geoloc_resnet_config *backbone,
                                  const geoloc_partition *const *partitions,
                                  const char *const *partition_names, size_t n_partitions,
                                  const char *const *scene_names, size_t n_scenes,
                                  uint64_t seed, geoloc_model **out, geoloc_error *err);

/* Writes the model atomically; with heads_only the backbone tensors are left out
 * and `backbone_name` (a weights file name, e.g. resnet50-imagenet.safetensors,
 * looked up with geoloc_model_find_data; NULL: m->backbone) is recorded instead.
 * The extra metadata (geoloc_model_set_meta) is written too. */
geoloc_status geoloc_model_save(const geoloc_model *m, const char *path, int heads_only,
                                const char *backbone_name, geoloc_error *err);

/* Reads a model file, checks its format version and that partitions, heads and
 * hierarchy agree; loads the backbone from the file or from the named backbone file
 * (its absence is an error that says which command fetches it). */
geoloc_status geoloc_model_load(const char *path, geoloc_model **out, geoloc_error *err);

/* Reads and validates everything of a model file except the network weights
 * (m->net is NULL; the backbone file is not opened): for inspecting a model. */
geoloc_status geoloc_model_read_info(const char *path, geoloc_model **out, geoloc_error *err);

/* The same from a file image in memory (name is used in messages). */
geoloc_status geoloc_model_read_info_buffer(const void *data, size_t size, const char *name,
                                            geoloc_model **out, geoloc_error *err);

/* Adds or replaces an extra metadata pair saved with the model (e.g. a training
 * summary: "geoloc.train.epochs"); the format's own keys (geoloc.format,
 * geoloc.partitions, ...) are refused. geoloc.created_by may be overridden. */
geoloc_status geoloc_model_set_meta(geoloc_model *m, const char *key, const char *value,
                                    geoloc_error *err);

/* The value of an extra metadata key, or NULL. */
const char *geoloc_model_get_meta(const geoloc_model *m, const char *key);

/* The geoloc.input name of a normalisation: "imagenet", "caffe_bgr" or "none". */
const char *geoloc_model_input_name(geoloc_norm norm);

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

/* The roles of a model's network heads. */
typedef enum geoloc_head_role {
    GEOLOC_HEAD_GEO = 0, /* the classifier over one partition's cells */
    GEOLOC_HEAD_SCENE    /* the scene classifier (names: m->scene_names) */
} geoloc_head_role;

/* The index among the network's heads of the head with a role, found by its
 * name ("geo<k>" for partition k, "scene"; k is ignored for the scene), or -1
 * when the model has no such head. */
int geoloc_model_head(const geoloc_model *m, geoloc_head_role role, size_t k);

/* The partition a text names: a partition name or number; NULL or
 * "hierarchical" give -1 (all partitions); -2 when it names none. */
int geoloc_model_find_partition(const geoloc_model *m, const char *text);

/* ---- prediction ---------------------------------------------------------------- */

typedef enum geoloc_crop_mode {
    GEOLOC_CROPS_THREE = 0, /* the paper's three crops along the longer side (default) */
    GEOLOC_CROPS_FIVE,      /* corners and center */
    GEOLOC_CROPS_CENTER     /* one center crop */
} geoloc_crop_mode;

/* Options; start from geoloc_predict_options_default() (a zeroed struct means
 * partition 0, not hierarchical). */
typedef struct geoloc_predict_options {
    geoloc_crop_mode crops;
    int partition;  /* -1: hierarchical over all partitions (default), else that partition only */
    int top_k;      /* cells reported (default 5, at most GEOLOC_MODEL_MAX_TOP) */
    int batch;      /* images per network call (default 8) */
    uint64_t max_pixels; /* photos by geoloc_predict_photos: decoded-size limit (0: the
                            decoder's default; JPEG and WebP are reduced to fit) */
    int strict;     /* geoloc_predict_photos: refuse photos with decoder warnings */
    double max_radius_km; /* calibrated models: unknown when r50 is larger (0: the model's) */
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
    int calibrated;        /* the model's calibration answered (hierarchical answers only):
                              top probabilities tempered, radii and unknown set */
    double radius_km[2];   /* calibrated: the 50 % and 90 % radii around (lat, lon) */
    double ood_score;      /* calibrated, by geoloc_predict: the features' unlikeness */
    int unknown;           /* calibrated, by geoloc_predict: r50 > max radius or ood_score
                              above the model's threshold (the answer is the best guess) */
} geoloc_prediction;

typedef struct geoloc_predictor geoloc_predictor;

/* The defaults: three crops, hierarchical, top 5, batch 8. */
geoloc_predict_options geoloc_predict_options_default(void);

/* Images per photo of a crop mode (3, 5 or 1). */
int geoloc_predict_crop_count(geoloc_crop_mode crops);

/* The shorter side a photo needs to keep full resolution in every crop (for
 * geoloc_decode_options.min_shorter_side): image_size for three crops, the
 * resize side (image_size * 256 / 224) for five and center. */
int geoloc_predict_min_side(const geoloc_model *m, geoloc_crop_mode crops);

/* Prepares prediction (the network for batch x crops images; opt NULL: the
 * defaults). Crops as the loader's evaluation modes: the shorter side resized
 * to image_size (three) or image_size * 256 / 224 (five, center), then windows of
 * image_size (geoloc_three_crop_rects / five / center). Hierarchical
 * prediction needs every cell of the finest partition inside a cell of each
 * coarser one (else E_ARG naming the partitions). m must outlive the predictor. */
geoloc_status geoloc_predictor_create(const geoloc_model *m, const geoloc_predict_options *opt,
                                      geoloc_predictor **out, geoloc_error *err);

/* Tells the predictor that the model's parameters changed (e.g. training
 * between validations): the next prediction uses the new values. */
void geoloc_predictor_params_changed(geoloc_predictor *p);

/* Releases a predictor (NULL allowed). */
void geoloc_predictor_free(geoloc_predictor *p);

/* Predicts n photos (any n): crops' probabilities averaged, then the partition's or
 * the hierarchical scores. When distributions is not NULL, distributions[i] receives
 * photo i's full distribution over the answering partition's classes. Photos are
 * 8-bit RGB (geoloc_image_load); the photo's metadata is never used. */
geoloc_status geoloc_predict(geoloc_predictor *p, const geoloc_image *images, size_t n,
                             geoloc_prediction *out, float *const *distributions,
                             geoloc_error *err);

/* The heads' softmax outputs for photo i (below the batch size) of the last
 * network run of geoloc_predict, as geoloc_answer_from_probs takes them (to
 * answer again with another partition or top): geo[f] receives partition f's
 * rows (one per crop) for every partition, *scene the scene head's (NULL
 * without one); returns the number of crops. */
int geoloc_predictor_probs(const geoloc_predictor *p, size_t i, const float **geo, const float **scene);

/* The pooled backbone features of photo i of the last network run, averaged
 * over its crops, into out (geoloc_predictor_feature_dim values). */
void geoloc_predictor_features(const geoloc_predictor *p, size_t i, float *out);
/* The width of the pooled backbone features. */
int geoloc_predictor_feature_dim(const geoloc_predictor *p);
/* The size of the distributions geoloc_predict writes: the answering
 * partition's number of cells. */
size_t geoloc_predictor_classes(const geoloc_predictor *p);

/* The model a predictor was made for. */
const geoloc_model *geoloc_predictor_model(const geoloc_predictor *p);

/* The options in force (partition -1: hierarchical; batch as created). */
geoloc_predict_options geoloc_predictor_options(const geoloc_predictor *p);

/* ---- scores -> answer ------------------------------------------------------------ */

/* One photo's answer from its heads' softmax outputs: geo_probs[f] holds
 * n_crops rows (crop-major) of partition f's probabilities, for every
 * partition (hierarchical) or at least the answering one; scene_probs n_crops
 * rows of the scene head's (NULL: no scene). Crops are averaged; partition -1
 * scores each cell k of the finest partition p_fine(k) times the probabilities
 * of its ancestor cells in the coarser partitions (a cell without an ancestor
 * in one: that factor left out), normalised over the fine cells; otherwise that
 * partition's averaged probabilities. Fills the top top_k (1 to
 * GEOLOC_MODEL_MAX_TOP) cells with their Class2GPS locations, the scene argmax,
 * and distribution (when not NULL: one value per cell of the answering
 * partition). A probability that is not a finite number in [0, 1] (a model with
 * NaN weights, ...) is refused with GEOLOC_E_RANGE. With a calibrated model
 * (hierarchical answers, or a one-partition model) the scores are tempered and
 * the radii set, unknown by the model's max radius alone (geoloc_predict adds
 * the feature test and the options' max radius). */
geoloc_status geoloc_answer_from_probs(const geoloc_model *m, const float *const *geo_probs,
                                       const float *scene_probs, size_t n_crops, int partition,
                                       int top_k, geoloc_prediction *out, float *distribution,
                                       geoloc_error *err);

#ifdef __cplusplus
}
#endif
#endif
