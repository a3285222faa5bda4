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

#define GEOLOC_MODEL_FORMAT "geoloc-model-2" /* metadata geoloc.format of model files (1 still loads) */
#define GEOLOC_MODEL_FORMAT_TUNED "geoloc-model-3" /* ... of files with fine-tuned backbone stages */
#define GEOLOC_MODEL_MAX_PARTITIONS 6
#define GEOLOC_MODEL_MAX_TOP 64
#define GEOLOC_SCENE_LEVELS 3

/* The scene levels of Places365 as GeoEstimation uses them, each its own head:
 * S3 (indoor / natural / urban), S16 and S365 (the categories). */
typedef enum geoloc_scene_level {
    GEOLOC_SCENE_LEVEL_S3 = 0,
    GEOLOC_SCENE_LEVEL_S16 = 1,
    GEOLOC_SCENE_LEVEL_S365 = 2
} geoloc_scene_level;

/* A model's scene heads: per level its class names (n[level] 0: no head of that
 * level), and whether it has Individual Scene Networks: a set of geo heads per
 * S3 scene (needs the S3 head). */
typedef struct geoloc_scene_heads {
    const char *const *names[GEOLOC_SCENE_LEVELS];
    size_t n[GEOLOC_SCENE_LEVELS];
    int isn;
} geoloc_scene_heads;

/* "S3", "S16" or "S365"; NULL for another level. */
const char *geoloc_scene_level_name(int level);

/* The level a name ("S3", "S16", "S365", any case) stands for, or -1. */
int geoloc_scene_level_parse(const char *name);

/* A loaded (or newly built) model. The network's heads are found by name
 * (geoloc_model_head): "geo<k>" per partition (coarse to fine), "scene_S3",
 * "scene_S16", "scene_S365" per scene level ("scene" in files of format 1),
 * "isn<s>_geo<k>" per S3 scene s and partition k in models with ISNs. A model
 * without partitions is a scene classifier (the helper network). */
typedef struct geoloc_model {
    geoloc_net *net;
    size_t n_partitions;                                 /* coarse to fine */
    geoloc_partition *partitions[GEOLOC_MODEL_MAX_PARTITIONS];
    char partition_names[GEOLOC_MODEL_MAX_PARTITIONS][64]; /* e.g. cells_50_5000 */
    int32_t *ancestor[GEOLOC_MODEL_MAX_PARTITIONS][GEOLOC_MODEL_MAX_PARTITIONS];
        /* ancestor[f][c][k]: class of partition c (coarser, c < f) containing class k of f */
    size_t n_scenes;       /* scene classes of all levels together (0: no scene head) */
    char **scene_names;    /* their names, level by level (S3, then S16, then S365) */
    size_t scene_classes[GEOLOC_SCENE_LEVELS]; /* per level (0: no head of that level) */
    size_t scene_offset[GEOLOC_SCENE_LEVELS];  /* where a level's classes start in scene_names
                                                  and in rows of scene probabilities */
    size_t n_isn;          /* sets of ISN geo heads: scene_classes[S3] or 0 */
    int scene_legacy;      /* read from a format-1 file: one head named "scene" */
    geoloc_norm norm;                                    /* input normalisation */
    int image_size;                                      /* crop side fed to the network (224) */
    char backbone[256];                                  /* "" when the file holds the backbone */
    int tuned_from;               /* 1..4: the file carries the stages layer<tuned_from>..layer4 over the
                                     backbone file (geoloc.tuned), and heads-only saves keep them; 0: none */
    geoloc_dtype tuned_dtype;     /* their dtype in the file (GEOLOC_DTYPE_F16 or GEOLOC_DTYPE_F32) */
    geoloc_resnet_config config;  /* the network's architecture and heads (also when net is NULL) */
    size_t n_meta;                /* extra metadata saved with the model (training summary, ...) */
    char **meta_keys, **meta_values;
    struct geoloc_calibration *calibration; /* confidence radii and abstention
                                     (geoloc/calibration.h); NULL: uncalibrated */
    char notice[1024];            /* after geoloc_model_load: the files read without a data
                                     checksum to verify (written before checksums), "" if none */
} geoloc_model;

/* Builds a model: a ResNet of `backbone` (its heads replaced) with one head per
 * partition (copied; none for a scene classifier), the scene heads of `scenes`
 * (NULL: none) and their ISN geo heads. seed 0: every
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
                                  const geoloc_scene_heads *scenes,
                                  uint64_t seed, geoloc_model **out, geoloc_error *err);

/* Writes the model atomically; with heads_only the backbone tensors are left out
 * and `backbone_name` (a weights file name, e.g. resnet50-imagenet.safetensors,
 * looked up with geoloc_model_find_data; NULL: m->backbone) is recorded instead,
 * except the fine-tuned stages m carries (m->tuned_from, kept in m->tuned_dtype).
 * The extra metadata (geoloc_model_set_meta) is written too. */
geoloc_status geoloc_model_save(const geoloc_model *m, const char *path, int heads_only,
                                const char *backbone_name, geoloc_error *err);

/* Saves m as a heads-only model naming backbone_name (as geoloc_model_save) plus the
 * backbone parameters of the stages layer<from_layer>..layer4 (from_layer 1..4;
 * torchvision's "layerK.*", batch-norm running statistics included) stored as dtype
 * (GEOLOC_DTYPE_F16, rounded to nearest even, or GEOLOC_DTYPE_F32); loading puts them
 * over the backbone file's. A value beyond the F16 range is refused (E_RANGE naming
 * the tensor). The file is of format GEOLOC_MODEL_FORMAT_TUNED. */
geoloc_status geoloc_model_save_tuned(const geoloc_model *m, const char *path, const char *backbone_name,
                                      int from_layer, geoloc_dtype dtype, geoloc_error *err);

/* Reads a model file, checks its format version and that partitions, heads and
 * hierarchy agree; loads the backbone from the file or from the named backbone file
 * (its absence is an error that says which command fetches it), then the file's
 * fine-tuned stages over it (each must be a parameter of those stages, of its shape). */
geoloc_status geoloc_model_load(const char *path, geoloc_model **out, geoloc_error *err);

/* Reads and validates everything of a model file except the network weights
 * (m->net is NULL; the backbone file is not opened; fine-tuned stages: their names
 * and dtype, not their shapes): for inspecting a model. */
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
    GEOLOC_HEAD_GEO = 0, /* the classifier over partition k's cells */
    GEOLOC_HEAD_SCENE,   /* the scene classifier of level k (geoloc_scene_level) */
    GEOLOC_HEAD_ISN      /* partition k % n_partitions of the ISN of S3 scene k / n_partitions */
} geoloc_head_role;

/* The index among the network's heads of the head with a role, found by its
 * name, or -1 when the model has no such head. */
int geoloc_model_head(const geoloc_model *m, geoloc_head_role role, size_t k);

/* The name of scene class k of a level, or NULL. */
const char *geoloc_model_scene_name(const geoloc_model *m, int level, int k);

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
/* Which geo heads answer in a model with Individual Scene Networks. */
typedef enum geoloc_isn_routing {
    GEOLOC_ISN_SOFT = 0, /* every scene's heads, mixed by the S3 head's probabilities */
    GEOLOC_ISN_HARD,     /* the heads of the most probable S3 scene (the paper's) */
    GEOLOC_ISN_NONE      /* the model's common geo heads */
} geoloc_isn_routing;

typedef struct geoloc_predict_options {
    geoloc_crop_mode crops;
    geoloc_isn_routing isn; /* models with ISNs (default soft) */
    int partition;  /* -1: hierarchical over all partitions (default), else that partition only */
    int top_k;      /* cells reported (default 5, at most GEOLOC_MODEL_MAX_TOP) */
    int batch;      /* images per network call (default 8) */
    uint64_t max_pixels; /* photos by geoloc_predict_photos: decoded-size limit (0: the
                            decoder's default; JPEG and WebP are reduced to fit) */
    int strict;     /* geoloc_predict_photos: refuse photos with decoder warnings */
    double max_radius_km; /* calibrated models: unknown when r50 is larger (0: the model's) */
    geoloc_precision precision; /* the network's arithmetic (default f32); int8 needs a model with
                                   int8 ranges (geoloc_model_quantize); calibrate records them */
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
    int scene[GEOLOC_SCENE_LEVELS];        /* per level the most probable class, -1 without
                                              that level's head */
    float scene_prob[GEOLOC_SCENE_LEVELS];
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
 * image_size (geoloc_three_crop_rects / five / center). A scene classifier
 * (no partitions) is accepted for geoloc_predict_scenes. Hierarchical
 * prediction needs every cell of the finest partition inside a cell of each
 * coarser one (else E_ARG naming the partitions). m must outlive the predictor. */
geoloc_status geoloc_predictor_create(const geoloc_model *m, const geoloc_predict_options *opt,
                                      geoloc_predictor **out, geoloc_error *err);

/* Tells the predictor that the model's parameters changed (e.g. training
 * between validations): the next prediction uses the new values. */
void geoloc_predictor_params_changed(geoloc_predictor *p);

/* Releases a predictor (NULL allowed). */
void geoloc_predictor_free(geoloc_predictor *p);

/* Predicts n photos (any n; E_ARG for a scene classifier: geoloc_predict_scenes): crops' probabilities averaged, then the partition's or
 * the hierarchical scores. When distributions is not NULL, distributions[i] receives
 * photo i's full distribution over the answering partition's classes. Photos are
 * 8-bit RGB (geoloc_image_load); the photo's metadata is never used. */
geoloc_status geoloc_predict(geoloc_predictor *p, const geoloc_image *images, size_t n,
                             geoloc_prediction *out, float *const *distributions,
                             geoloc_error *err);

/* The scene probabilities of n photos (any n; the model's scene heads, scene
 * classifiers included): probs[i * m->n_scenes + k] receives photo i's
 * crop-averaged probability of class k, every level side by side
 * (m->scene_offset). E_ARG without a scene head; E_RANGE for a non-finite
 * probability. */
geoloc_status geoloc_predict_scenes(geoloc_predictor *p, const geoloc_image *images, size_t n, float *probs,
                                    geoloc_error *err);

/* The heads' softmax outputs for photo i (below the batch size) of the last
 * network run of geoloc_predict, as geoloc_answer_from_probs takes them (to
 * answer again with another partition or top): geo[f] receives partition f's
 * rows (one per crop) for every partition (with ISNs: as routed), *scene the
 * scene heads' (every level's classes side by side, m->n_scenes per row; NULL
 * without one); returns the number of crops. */
int geoloc_predictor_probs(const geoloc_predictor *p, size_t i, const float **geo, const float **scene);

/* Routes photo i (below the batch size) of the last network run again with
 * the given S3 scene weights (m->n_isn values in [0, 1] summing to 1, as
 * geoloc_isn_mix takes them; e.g. oracle routing: 1 on the photo's true
 * scene): geoloc_predictor_probs then returns the geo rows so routed. E_ARG
 * for a model without ISNs, a predictor routing none, or bad weights. */
geoloc_status geoloc_predictor_route(geoloc_predictor *p, size_t i, const double *weight, geoloc_error *err);

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
 * rows of the scene heads' (every level side by side, m->n_scenes values;
 * NULL: no scene). Crops are averaged; partition -1
 * scores each cell k of the finest partition p_fine(k) times the probabilities
 * of its ancestor cells in the coarser partitions (a cell without an ancestor
 * in one: that factor left out), normalised over the fine cells; otherwise that
 * partition's averaged probabilities. Fills the top top_k (1 to
 * GEOLOC_MODEL_MAX_TOP) cells with their Class2GPS locations, each level's scene argmax,
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

/* The ISN routing of one photo: geo[f] (n_crops rows of partition f's
 * probabilities, for every partition) = sum over S3 scenes s of weight[s] times
 * the rows of scene s's ISN heads, isn[s * n_partitions + f]. weight holds
 * m->n_isn non-negative values summing to 1 (hard routing: one 1; oracle:
 * the true scene's). */
void geoloc_isn_mix(const geoloc_model *m, const float *const *isn, const double *weight,
                    size_t n_crops, float *const *geo);

/* The scene weights of a routing from one photo's crop-averaged S3
 * probabilities (m->n_isn values): soft copies them, hard puts 1 on the
 * largest. */
void geoloc_isn_weights(geoloc_isn_routing routing, const double *s3_probs, size_t n, double *weight);

#ifdef __cplusplus
}
#endif
#endif
