/* Photos for the commands that take photos and folders (predict, evaluate):
 * lists of photo files with folders walked, a loaded model with its
 * predictor, prediction of files through the library's batch prediction,
 * progress with an ETA. */
#ifndef GEOLOC_CLI_PHOTOS_H
#define GEOLOC_CLI_PHOTOS_H

#include <stddef.h>
#include <stdio.h>

#include "geoloc/model.h"
#include "geoloc/predict.h"

/* Photo paths in the order given; folders contribute their photos (.jpg,
 * .jpeg, .png, .webp, any case; hidden entries left out) walked recursively
 * in sorted order. What a walk cannot take is named on stderr ("skipped: ...")
 * and counted: folders that cannot be opened, entries that cannot be
 * inspected (broken links, no permission), links to folders (not followed)
 * and photo names that are not regular files. */
typedef struct cli_photo_list {
    char **paths;
    size_t n, cap;
    size_t folders;  /* folders walked */
    size_t skipped;  /* entries named and left out */
} cli_photo_list;

/* Adds a file (whatever its name) or a folder's photos; 0, or -1 after a
 * message on stderr (out of memory). */
int cli_photo_list_add(const char *cmd, cli_photo_list *l, const char *arg);

/* Releases the list's paths. */
void cli_photo_list_free(cli_photo_list *l);

/* 1 when a file name ends in .jpg, .jpeg, .png or .webp (any case). */
int cli_is_photo_name(const char *name);

/* Writes s as a JSON string (geoloc_json_write_string: escapes, bytes that
 * are not UTF-8 as \u00XX). */
void cli_json_string(FILE *out, const char *s);

/* Progress of a long run on a terminal: a line on stderr updated in place,
 * "WHAT: N/M photos, X photos/s, ETA mm:ss"; nothing when stderr is not a
 * terminal. */
typedef struct cli_eta {
    const char *what;
    size_t total;
    double start, last;  /* seconds */
    int shown, tty;
} cli_eta;

/* Starts counting (total photos to do). */
void cli_eta_start(cli_eta *e, const char *what, size_t total);

/* Shows done of total (at most a few times a second). */
void cli_eta_update(cli_eta *e, size_t done);

/* Clears the line (before other messages and at the end). */
void cli_eta_clear(cli_eta *e);

/* Parses a --crops value (three, five, center); 0, or 2 after a message. */
int cli_parse_crops(const char *cmd, const char *text, geoloc_crop_mode *out);

/* The --crops name of a crop mode. */
const char *cli_crops_name(geoloc_crop_mode crops);

/* Parses a --batch value (1-256); 0, or 2 after a message. */
int cli_parse_batch(const char *cmd, const char *text, int *out);

/* 1 when name is one of the options predict and evaluate share: --model,
 * --partition, --crops, --batch. */
int cli_is_prediction_option(const char *name);

/* Stores the value of such an option (model and partition point at value);
 * 0, or 2 after a message on stderr. */
int cli_set_prediction_option(const char *cmd, const char *name, const char *value, const char **model,
                              const char **partition, geoloc_predict_options *opt);

/* A model ready to predict. */
typedef struct cli_runner {
    geoloc_model *model;
    geoloc_predictor *pred;
    geoloc_predict_options opt;
    char path[4096];
    double load_seconds;   /* resolving, loading and preparing */
} cli_runner;

/* Resolves the model (model_arg, $GEOLOC_MODEL or the default), loads it and
 * prepares a predictor for batches of min(opt->batch, n_photos) photos with
 * the partition named `partition` (a name, an index; NULL or "hierarchical":
 * all). 0, or after a message on stderr 1 (cannot load) or 2 (no such
 * partition: a usage error). */
int cli_runner_open(const char *cmd, const char *model_arg, const char *partition,
                    const geoloc_predict_options *opt, size_t n_photos, cli_runner *out);

/* Releases what cli_runner_open made. */
void cli_runner_close(cli_runner *c);

/* Predicts the files paths[0..n) (geoloc_predict_photos) and calls done()
 * for each, in order (failures included). 0, or -1 after a message on stderr
 * when prediction itself failed. */
int cli_predict_paths(const char *cmd, cli_runner *c, const char *const *paths, size_t n, int want_distribution,
                      geoloc_answer_fn done, void *ctx, geoloc_batch_stats *stats);

#endif
