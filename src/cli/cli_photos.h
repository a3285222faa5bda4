/* Photos for the commands that take photos and folders (predict, evaluate):
 * lists of photo files with folders walked (the skipped entries printed), the options they share (model,
 * crops, partition, batch) as option-table rows, a loaded model with its
 * predictor, prediction of files through the library's batch prediction,
 * progress with an ETA. */
#ifndef GEOLOC_CLI_PHOTOS_H
#define GEOLOC_CLI_PHOTOS_H

#include <stddef.h>
#include <stdio.h>

#include "cli/cli_options.h"
#include "geoloc/dataset.h"
#include "geoloc/model.h"
#include "geoloc/place.h"
#include "geoloc/predict.h"

/* Adds a file or a folder's photos (geoloc_photo_paths_add), naming each
 * entry left out on stderr ("CMD: skipped PATH: why") and a folder without
 * photos; 0, or -1 after a message on stderr (out of memory). */
int cli_photo_paths_add(const char *cmd, geoloc_photo_paths *l, const char *arg);

/* Writes s as a JSON string (geoloc_json_write_string: escapes, bytes that
 * are not UTF-8 as \u00XX). */
void cli_json_string(FILE *out, const char *s);

/* The options predict and evaluate share, as parsed from their tables. */
typedef struct cli_prediction_args {
    const char *model;     /* --model FILE (NULL: $GEOLOC_MODEL, else the default model) */
    const char *partition; /* --partition NAME|N (NULL: hierarchical) */
    int crops;             /* --crops: a geoloc_crop_mode, the index in cli_crops_choices */
    long batch;            /* --batch N */
    uint64_t max_pixels;   /* --max-pixels N (0: the decoder's default) */
    int strict;            /* --strict: refuse photos that decode with warnings */
    const char *places;    /* --places FILE (NULL: places.bin in the data folders, if there) */
    double max_radius;     /* --max-radius KM (0: the calibrated model's) */
    int isn;               /* --isn: a geoloc_isn_routing, or CLI_ISN_ORACLE (the caller routes) */
    int precision;         /* --precision: a geoloc_precision, the index in cli_precision_choices */
} cli_prediction_args;

/* --isn oracle (evaluate): each photo routed by its true scene; the predictor routes soft. */
#define CLI_ISN_ORACLE (GEOLOC_ISN_NONE + 1)

/* The --isn values in geoloc_isn_routing order (then oracle: cli_isn_oracle_choices), NULL-terminated. */
extern const char *const cli_isn_choices[];
extern const char *const cli_isn_oracle_choices[];

/* The table row of --isn into TYPE's FIELD (a cli_prediction_args' isn) with CHOICES. */
#define CLI_ISN_OPTION(type_, field_, choices_, help_)                                                        \
    CLI_OPTION("isn", 0, CLI_ENUM, type_, field_.isn, NULL,                                                   \
               "models with Individual Scene Networks: the geo heads of\nevery S3 scene mixed by the scene " \
               "head's probabilities\n(soft), those of the most probable scene (hard), or the\nmodel's common " \
               "geo heads (none)" help_, .choices = (choices_))

/* The --precision values (f32, int8) in geoloc_precision order, NULL-terminated. */
extern const char *const cli_precision_choices[];

/* The table row of --precision into TYPE's int FIELD. */
#define CLI_PRECISION_OPTION(type_, field_)                                                                  \
    CLI_OPTION("precision", 0, CLI_ENUM, type_, field_, NULL,                                                \
               "the network's arithmetic: float32, or int8 (u8/s8\nconvolutions; needs a model made by " \
               "geoloc model\nquantize)", .choices = cli_precision_choices)

/* The --crops values in geoloc_crop_mode order, NULL-terminated. */
extern const char *const cli_crops_choices[];

/* The table rows (cli_options.h) of the shared options, for an argument
 * struct TYPE whose member FIELD is a cli_prediction_args. */
#define CLI_PREDICTION_OPTIONS(type_, field_)                                                                  \
    CLI_OPTION("model", 0, CLI_STRING, type_, field_.model, "FILE",                                          \
               "the model (default: $GEOLOC_MODEL, else\ngeoloc-default.safetensors in "       \
               "$GEOLOC_DATA_DIR,\n<bin>/../share/geoloc or <bin>/../models)"),                               \
    CLI_OPTION("crops", 0, CLI_ENUM, type_, field_.crops, NULL,                                               \
               "three squares along the longer side (the paper's),\nfive (corners and center) or center",   \
               .choices = cli_crops_choices),                                                                 \
    CLI_OPTION("partition", 0, CLI_STRING, type_, field_.partition, "NAME|N",                                 \
               "answer with one partition (its name or number) instead of\nthe hierarchical "                \
               "combination of all of them (default;\nalso 'hierarchical')"),                                \
    CLI_OPTION("batch", 0, CLI_INT, type_, field_.batch, "N", "photos per network call", .min = 1, .max = 256),    \
    CLI_OPTION("max-pixels", 0, CLI_UINT64, type_, field_.max_pixels, "N",                                     \
               "limit on a photo's decoded width x height (default\n100000000); larger JPEG and WebP photos are " \
               "decoded\nat 1/2 to 1/8 scale to fit, others are skipped"),                                       \
    CLI_OPTION("strict", 0, CLI_FLAG, type_, field_.strict, NULL,                                            \
               "skip damaged photos that decode with warnings\n(default: answer them, with the warnings)"),        \
    CLI_OPTION("places", 0, CLI_STRING, type_, field_.places, "FILE",                                          \
               "the place file naming countries and cities (default:\nplaces.bin in the data folders; "       \
               "none there: no\nplace names)"),                                                \
    CLI_OPTION("max-radius", 0, CLI_DOUBLE, type_, field_.max_radius, "KM",                                   \
               "calibrated models: unknown when the 50 % radius is larger\n(default: the model's, fitted on "  \
               "validation)", .min = 0, .max = 40000),                                                      \
    CLI_PRECISION_OPTION(type_, field_.precision)

/* The library's defaults (crops, batch), before parsing. */
cli_prediction_args cli_prediction_args_default(void);

/* The --crops name of a crop mode. */
const char *cli_crops_name(geoloc_crop_mode crops);

/* A model ready to predict. */
typedef struct cli_runner {
    geoloc_model *model;
    geoloc_predictor *pred;
    geoloc_predict_options opt;
    char path[4096];
    double load_seconds;   /* resolving, loading and preparing */
    geoloc_place_db *places; /* NULL: no place names */
} cli_runner;

/* Resolves the model (args->model, $GEOLOC_MODEL or the default), loads it
 * and prepares a predictor reporting top_k cells, for batches of
 * min(args->batch, n_photos) photos with args->crops and the partition
 * args->partition (a name, an index; NULL or "hierarchical": all), and
 * opens the place file (args->places; else the data folders' one, when
 * there: without it a notice says how to fetch it). 0, or after a message
 * on stderr 1 (cannot load the model or a given place file) or 2 (no such
 * partition: a usage error). */
int cli_runner_open(const char *cmd, const cli_prediction_args *args, int top_k, size_t n_photos,
                    cli_runner *out);

/* The place of (lat, lon) into *buf (nearest city of >= min_population),
 * or NULL without a place file. */
const geoloc_place *cli_runner_place(const cli_runner *c, double lat, double lon, uint32_t min_population,
                                     geoloc_place *buf);

/* The paths DIR/IMG_ID of a manifest's photos (free each and the array); NULL
 * after naming the missing ones (the first 5) on stderr. */
char **cli_manifest_photo_paths(const char *cmd, const geoloc_manifest *m, const char *dir);

/* Releases what cli_runner_open made. */
void cli_runner_close(cli_runner *c);

/* Predicts the files paths[0..n) (geoloc_predict_photos; split: split
 * across the job's ranks, geoloc_predict_photos_split, done() then called
 * on rank 0 only) and calls done() for each, in order (failures included).
 * 0, or -1 after a message on stderr when prediction itself failed. */
int cli_predict_paths(const char *cmd, cli_runner *c, const char *const *paths, size_t n, int want_distribution,
                      int split, geoloc_answer_fn done, void *ctx, geoloc_batch_stats *stats);

#endif
