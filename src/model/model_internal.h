/* Shared by the model files (creation, files, prediction). Internal API. */
#ifndef GEOLOC_MODEL_INTERNAL_H
#define GEOLOC_MODEL_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "geoloc/calibration.h"
#include "geoloc/model.h"
#include "geoloc/safetensors.h"

#define MODEL_SCENE_HEAD "scene"
#define MODEL_DEFAULT_FILE "geoloc-default.safetensors"

/* A zeroed model (norm ImageNet, image size 224); NULL when out of memory. */
geoloc_model *model_alloc(void);

/* Width of the pooled features of a ResNet depth, 0 for an unknown depth. */
int model_feature_dim(int depth);

/* 1 for the metadata keys the format itself writes (not settable as extra). */
int model_reserved_key(const char *key);

/* Checks a partition or scene name: 1-63 bytes, no control characters and not
 * `forbidden` (',' for partitions, 0 for none); 0 when fine. */
int model_check_name(const char *name, char forbidden);

/* Allocates and fills m->ancestor[f][c] (c < f) with geoloc_partition_ancestors. */
geoloc_status model_compute_hierarchy(geoloc_model *m, geoloc_error *err);

/* The configuration of m's network: `base`'s backbone, heads geo0.., the scene
 * levels' and the ISNs' (as geoloc_model_head finds them). */
void model_set_heads(geoloc_model *m, const geoloc_resnet_config *base);

/* The network name of the head with a role (geoloc_model_head's k). */
void model_head_name(const geoloc_model *m, geoloc_head_role role, size_t k, char *out, size_t size);

/* Heads of a model with these partitions, scene levels and ISN sets. */
size_t model_head_count(size_t n_partitions, const size_t *scene_classes, size_t n_isn);

/* Copies the scene levels' names into m (scene_names, offsets, n_isn), checking
 * them and the number of heads. */
geoloc_status model_set_scenes(geoloc_model *m, const geoloc_scene_heads *sc, geoloc_error *err);

/* geoloc_model_find_data for folder/name (folder NULL: name alone); neither
 * may hold a '/'. 0 and the path in out, or -1. */
int model_find_data_in(const char *folder, const char *name, char *out, size_t size);

/* Writes "A, B and C" (the folders geoloc_model_find_data looks in) to out. */
void model_search_text(char *out, size_t size);

/* geoloc_model_input_name (kept for the training code). */
const char *model_norm_name(geoloc_norm norm);

/* The normalisation named in geoloc.input; 0, or -1 when unknown. */
int model_norm_parse(const char *text, geoloc_norm *out);

#define MODEL_TUNED_KEY "geoloc.tuned"

/* The ResNet stage (1..4) of a parameter name ("layer<K>.*"), 0 for another. */
int model_param_stage(const char *name);

/* The geoloc.tuned text of the stages layer<from>..layer4: "layer3,layer4" ("" for from 0). */
void model_tuned_text(int from, char *out, size_t size);

/* The first stage of a geoloc.tuned text, 0 when it is not one model_tuned_text writes. */
int model_tuned_parse(const char *text);

/* src[0..n) rounded to half floats (to nearest even) into dst; E_RANGE naming file,
 * tensor name and element for a value beyond the F16 range. */
geoloc_status model_half_from_floats(const float *src, size_t n, uint16_t *dst, const char *file, const char *name,
                                     geoloc_error *err);

/* Sets parameter p from the F16 or F32 tensor of its name in st (a fine-tuned stage's);
 * a missing tensor, another shape or a non-finite value is an error naming file and tensor. */
geoloc_status model_tuned_load_param(geoloc_param *p, const geoloc_safetensors *st, const char *file,
                                     geoloc_error *err);

#define MODEL_CALIBRATION_KEY "geoloc.calibration"
#define MODEL_CALIBRATION_TENSOR "calibration.ood"

/* The metadata text of a calibration (calibration_io.c). */
void model_calibration_text(const geoloc_calibration *c, char *out, size_t size);

/* Reads the calibration of a model file into m->calibration (left NULL when
 * the file has none). */
geoloc_status model_calibration_read(const geoloc_safetensors *st, const char *file, geoloc_model *m,
                                     geoloc_error *err);

/* geoloc_answer_from_probs with the given calibration (NULL: none) in place
 * of the model's. */
geoloc_status answer_from_probs_calibrated(const geoloc_model *m, const geoloc_calibration *calibration,
                                           const float *const *geo_probs, const float *scene_probs, size_t n_crops,
                                           int partition, int top_k, geoloc_prediction *out, float *distribution,
                                           geoloc_error *err);

/* The average over n_crops rows (crop-major) of `classes` probabilities into
 * mean (answer.c); 0, or -1 when a value is not a finite number in [0, 1]. */

int answer_average_crops(const float *rows, size_t n_crops, size_t classes, double *mean);

#endif
