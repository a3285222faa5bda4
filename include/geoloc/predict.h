/* geoloc: batch prediction of photos given as files or as bytes in memory
 * (the command line and a server call the same code), and the answer as
 * JSON (schema 1: docs/answer-schema.md). */
#ifndef GEOLOC_PREDICT_H
#define GEOLOC_PREDICT_H

#include <stddef.h>

#include "geoloc/exif.h"
#include "geoloc/json.h"
#include "geoloc/model.h"

#ifdef __cplusplus
extern "C" {
#endif

#define GEOLOC_ANSWER_SCHEMA 2 /* the "schema" of the answer JSON */

/* One photo to predict: the bytes data[0..size) when data is not NULL, else
 * the file at path. name labels it in answers and messages (NULL: path). */
typedef struct geoloc_photo_input {
    const char *path;
    const void *data;
    size_t size;
    const char *name;
} geoloc_photo_input;

/* What became of one photo. */
typedef struct geoloc_photo_answer {
    size_t index;                   /* in the inputs given */
    const char *name;
    const geoloc_prediction *pred;  /* NULL when the photo could not be read or decoded */
    const float *distribution;      /* the answering partition's, when asked (else NULL) */
    const geoloc_photo_meta *meta;  /* EXIF (printed beside, never used to predict); NULL: none */
    const char *error;              /* why pred is NULL */
    int n_warnings;                 /* decoder warnings (damaged but decodable data) */
    const char (*warnings)[GEOLOC_IMAGE_WARNING_SIZE]; /* the first few of them */
    const struct geoloc_place *place; /* the answer's country and city (geoloc/place.h); NULL: unknown */
    size_t run_index;               /* with pred: the photo's index in the predictor's last network
                                       run (geoloc_predictor_features, geoloc_predictor_probs) */
    const float *scenes;            /* with pred, by geoloc_predict_photos for a model with scene
                                       heads: the crop-averaged scene probabilities (m->n_scenes,
                                       levels side by side; a scene classifier's pred holds its
                                       scenes alone, n_top 0); else NULL */
} geoloc_photo_answer;

/* Receives each photo's answer in input order; 0 to go on, non-zero to stop. */
typedef int (*geoloc_answer_fn)(void *ctx, const geoloc_photo_answer *a);

/* Counts of a batch prediction. */
typedef struct geoloc_batch_stats {
    size_t predicted;  /* answers with a prediction */
    size_t failed;     /* photos that could not be read or decoded */
    int stopped;       /* the callback asked to stop */
} geoloc_batch_stats;

/* Predicts in[0..n) in batches of the predictor's batch size: each batch is
 * read and decoded in parallel (EXIF metadata read beside), run through the
 * network, and answered through fn in input order. An unreadable photo is an
 * answer with its error, not a failure. Answers carry the scene
 * probabilities (scenes) of a model with scene heads; a scene classifier's
 * carry nothing else (the split variant below refuses it). Fails only when prediction itself
 * fails (out of memory, a non-finite probability from the model: E_RANGE). */
geoloc_status geoloc_predict_photos(geoloc_predictor *p, const geoloc_photo_input *in, size_t n,
                                    int want_distribution, geoloc_answer_fn fn, void *ctx,
                                    geoloc_batch_stats *stats, geoloc_error *err);

/* geoloc_predict_photos with the photos split across the ranks of a job
 * (geoloc/dist.h; alone: geoloc_predict_photos itself): every rank must call
 * it with the same inputs; each predicts its parts, and fn is called on rank
 * 0 only, for every photo in input order (run_index is then meaningless:
 * the predictor's per-photo state, geoloc_predictor_features/probs, stays on
 * the rank that ran the photo). stats: the whole job's on rank 0. A failure
 * on one rank (out of memory) is every rank's, naming the rank. */
geoloc_status geoloc_predict_photos_split(geoloc_predictor *p, const geoloc_photo_input *in, size_t n,
                                          int want_distribution, geoloc_answer_fn fn, void *ctx,
                                          geoloc_batch_stats *stats, geoloc_error *err);

/* What geoloc_model_quantize did. */
typedef struct geoloc_quantize_result {
    size_t calibrated;           /* photos whose crops went through the network */
    size_t unreadable;           /* photos that could not be read or decoded: left out */
    char first_unreadable[512];  /* the first of them and why ("" when none) */
} geoloc_quantize_result;

/* Post-training int8 quantisation: forgets the model's int8 ranges and records new
 * ones, each convolution's largest |output|, over the n photo files predicted with
 * opt (crops, batch, max_pixels; NULL: the defaults; its precision is ignored), and
 * describes them in the metadata geoloc.int8.calibration ("N photos of SOURCE, C
 * crops, ...": source names the photos, NULL: left out); geoloc_model_save then
 * writes them with the model. Unreadable photos are counted and left out; E_ARG
 * when none could be read or a convolution's output stayed zero (the model is then
 * left without ranges). */
geoloc_status geoloc_model_quantize(geoloc_model *m, const char *const *paths, size_t n,
                                    const geoloc_predict_options *opt, const char *source,
                                    geoloc_quantize_result *res, geoloc_error *err);

/* Writes one photo's answer as a JSON object of schema 1 (the format of
 * docs/answer-schema.md) with w; returns w's status (the first error). */
geoloc_status geoloc_answer_write_json(geoloc_json *w, const geoloc_model *m, const geoloc_photo_answer *a);

/* Writes what a model is as a JSON object with w: {"schema", "version" (of
 * geoloc), "backbone": {"arch", "file" (its base name, when the model names
 * one)}, "image_size", "precision" (the arithmetic it answers in: "f32" or
 * "int8"), "partitions": [{"name", "cells", "min_level", "max_level"}],
 * "scene": {"names": [...]} or null}; returns w's status. */
geoloc_status geoloc_model_write_json(geoloc_json *w, const geoloc_model *m, geoloc_precision precision);

#ifdef __cplusplus
}
#endif
#endif
