/* geoloc model quantize and geoloc weights quantize: post-training int8
 * quantisation. Calibration photos go through the network in float32 while
 * every convolution's largest |output| is recorded; the new file is the input
 * file with those ranges (tensor geoloc.int8_range, metadata
 * geoloc.int8.calibration), its float weights unchanged: --precision int8
 * quantises them when the network is prepared. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli/cli_calibrate.h"
#include "cli/cli_dataset.h"
#include "cli/cli_photos.h"
#include "cli/cli_util.h"
#include "geoloc/classify.h"
#include "geoloc/predict.h"

#define CMD_MODEL "geoloc model quantize"
#define CMD_WEIGHTS "geoloc weights quantize"
#define DEFAULT_PHOTOS 256

typedef struct quantize_args {
    const char *model, *calib, *images, *out;
    long photos, batch;
    int crops, overwrite;
} quantize_args;

#define PHOTO_OPTIONS(calib_required_, calib_help_)                                                          \
    CLI_OPTION("calib", 0, CLI_STRING, quantize_args, calib, "CSV", calib_help_, .required = calib_required_), \
    CLI_OPTION("images", 0, CLI_STRING, quantize_args, images, "DIR", "the folder of the calibration photos",  \
               .required = 1),                                                                               \
    CLI_OPTION("photos", 0, CLI_INT, quantize_args, photos, "N",                                              \
               "calibrate on the first N photos", .min = 1, .max = 1000000),                    \
    CLI_OPTION("out", 'o', CLI_STRING, quantize_args, out, "FILE", "the quantised file (a new file)", .required = 1), \
    CLI_OPTION("overwrite", 0, CLI_FLAG, quantize_args, overwrite, NULL, "replace --out when it exists")

static const cli_option MODEL_OPTIONS[] = {
    CLI_OPTION("model", 0, CLI_STRING, quantize_args, model, "FILE",
               "the model (default: $GEOLOC_MODEL, else the default model)"),
    PHOTO_OPTIONS(1, "the calibration photos: a manifest (IMG_ID, LAT, LON) of\nphotos in DIR, in its row order; "
                     "photos the model's\naccuracy is not measured on"),
    CLI_OPTION("crops", 0, CLI_ENUM, quantize_args, crops, NULL,
               "the crops each photo is calibrated with (as predict's)", .choices = cli_crops_choices),
    CLI_OPTION("batch", 0, CLI_INT, quantize_args, batch, "N", "photos per network call", .min = 1, .max = 256),
    CLI_END};

static const cli_spec MODEL_SPEC = {
    CMD_MODEL, NULL, 0, 0,
    "Post-training int8 quantisation of a model: the first N photos of the manifest\n"
    "go through the model (decoding and crops as in predict, float32) while every\n"
    "convolution's largest |output| is recorded. Writes the model with those ranges\n"
    "to --out, atomically (a heads-only model keeps naming its backbone file: the\n"
    "ranges go into the model file, a few hundred bytes); its weights are unchanged.\n"
    "predict, evaluate and serve then run it with --precision int8 (u8/s8\n"
    "convolutions after the stem, weights quantised per output channel).\n",
    MODEL_OPTIONS,
    "Photos that cannot be read are counted and left out. Exit status: 0, 1 when a\n"
    "file cannot be read or written or no photo could be read, 2 on a usage error\n"
    "(--out is the model or the manifest, or exists without --overwrite).\n"};

static const cli_option WEIGHTS_OPTIONS[] = {
    PHOTO_OPTIONS(0, "a manifest (IMG_ID, LAT, LON) naming the photos of DIR,\nin its row order (default: every photo "
                     "of DIR, in\nname order)"),
    CLI_END};

static const cli_spec WEIGHTS_SPEC = {
    CMD_WEIGHTS, "WEIGHTS", 1, 1,
    "Post-training int8 quantisation of a network weights file (e.g. the ImageNet\n"
    "classifier models/resnet50-imagenet.safetensors): the first N photos go\n"
    "through it as classify-imagenet sees them (central square, 224x224, float32)\n"
    "while every convolution's largest |output| is recorded. Writes the weights with\n"
    "those ranges to --out, atomically (the same tensors and metadata): geoloc\n"
    "classify-imagenet --precision int8 --weights OUT runs it in int8.\n",
    WEIGHTS_OPTIONS,
    "Photos that cannot be read are counted and left out. Exit status: 0, 1 when a\n"
    "file cannot be read or written or no photo could be read, 2 on a usage error.\n"};

/* Refuses an --out that is an input or exists without --overwrite; 0 or CLI_EXIT_USAGE after a message. */
static int check_out(const char *cmd, const cli_file *inputs, int n_inputs, const quantize_args *a) {
    cli_file out = {"--out", a->out};
    if (cli_check_outputs(cmd, inputs, n_inputs, &out, 1) != 0) return CLI_EXIT_USAGE;
    struct stat st;
    if (!a->overwrite && stat(a->out, &st) == 0) {
        fprintf(stderr, "%s: --out %s exists; give --overwrite to replace it\n", cmd, a->out);
        return CLI_EXIT_USAGE;
    }
    return 0;
}

/* The calibration photos: DIR/IMG_ID of the manifest's first rows, or DIR's photos
 * (folders walked); at most a->photos of them. NULL after a message. */
static char **calibration_paths(const char *cmd, const quantize_args *a, size_t *n) {
    geoloc_photo_paths l = {0};
    geoloc_manifest *m = NULL;
    char **paths = NULL;
    *n = 0;
    if (a->calib) {
        if (!(m = cli_read_manifest(cmd, a->calib, 0))) return NULL;
        *n = m->n < (size_t)a->photos ? m->n : (size_t)a->photos;
        paths = calloc(*n ? *n : 1, sizeof *paths);
        for (size_t k = 0; paths && k < *n; k++) {
            size_t len = strlen(a->images) + strlen(m->row[k].id) + 2;
            if ((paths[k] = malloc(len))) {
                snprintf(paths[k], len, "%s/%s", a->images, m->row[k].id);
            } else {
                for (size_t j = 0; j < k; j++) free(paths[j]);
                free(paths);
                paths = NULL;
            }
        }
        geoloc_manifest_free(m);
        if (!paths) fprintf(stderr, "%s: out of memory\n", cmd);
    } else if (cli_photo_paths_add(cmd, &l, a->images) == 0) {
        *n = l.n < (size_t)a->photos ? l.n : (size_t)a->photos;
        for (size_t k = *n; k < l.n; k++) free(l.paths[k]);
        paths = l.paths;
    }
    if (paths && *n == 0) {
        fprintf(stderr, "%s: no calibration photos in %s\n", cmd, a->calib ? a->calib : a->images);
        free(paths);
        paths = NULL;
    }
    return paths;
}

static void free_paths(char **paths, size_t n) {
    for (size_t k = 0; paths && k < n; k++) free(paths[k]);
    free(paths);
}

/* "PATH's base name", for the calibration text. */
static const char *base_name(const char *path) {
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}

int cli_model_quantize(int argc, char **argv) {
    geoloc_predict_options po = geoloc_predict_options_default();
    quantize_args a = {.photos = DEFAULT_PHOTOS, .batch = po.batch, .crops = (int)po.crops};
    int n_args;
    int rc = cli_parse(&MODEL_SPEC, &a, argc, argv, &n_args);
    if (rc != CLI_RUN) return rc;
    char model_path[4096];
    geoloc_error err = {0};
    if (geoloc_model_resolve(a.model, model_path, sizeof model_path, &err) != 0) {
        fprintf(stderr, CMD_MODEL ": %s\n", err.message);
        return 1;
    }
    cli_file inputs[2] = {{"--calib", a.calib}, {"--model", model_path}};
    if ((rc = check_out(CMD_MODEL, inputs, 2, &a)) != 0) return rc;
    size_t n = 0;
    char **paths = calibration_paths(CMD_MODEL, &a, &n);
    if (!paths) return 1;
    geoloc_model *m = NULL;
    po.crops = (geoloc_crop_mode)a.crops;
    po.batch = (int)a.batch;
    geoloc_quantize_result res;
    if (geoloc_model_load(model_path, &m, &err) != GEOLOC_OK ||
        geoloc_model_quantize(m, (const char *const *)paths, n, &po, base_name(a.calib), &res, &err) != GEOLOC_OK ||
        geoloc_model_save(m, a.out, m->backbone[0] != 0, m->backbone[0] ? m->backbone : NULL, &err) != GEOLOC_OK) {
        fprintf(stderr, CMD_MODEL ": %s\n", err.message);
        rc = 1;
    }
    if (rc == 0 && res.unreadable)
        fprintf(stderr, CMD_MODEL ": %zu of %zu photos could not be read and were left out (first: %s)\n",
                res.unreadable, n, res.first_unreadable);
    if (rc == 0)
        printf("%s: %s with int8 ranges: %s\n", a.out, model_path, geoloc_model_get_meta(m, GEOLOC_INT8_CALIBRATION_KEY));
    geoloc_model_free(m);
    free_paths(paths, n);
    return rc;
}

int cli_weights_quantize(int argc, char **argv) {
    quantize_args a = {.photos = DEFAULT_PHOTOS};
    int n_args;
    int rc = cli_parse(&WEIGHTS_SPEC, &a, argc, argv, &n_args);
    if (rc != CLI_RUN) return rc;
    cli_file inputs[2] = {{"--calib", a.calib}, {"WEIGHTS", argv[1]}};
    if ((rc = check_out(CMD_WEIGHTS, inputs, 2, &a)) != 0) return rc;
    size_t n = 0;
    char **paths = calibration_paths(CMD_WEIGHTS, &a, &n);
    if (!paths) return 1;
    geoloc_classifier *c = NULL;
    geoloc_error err = {0};
    size_t unreadable = 0;
    if (geoloc_classifier_open(argv[1], &c, &err) != GEOLOC_OK ||
        geoloc_classifier_set_precision(c, GEOLOC_PRECISION_CALIBRATE, &err) != GEOLOC_OK) {
        fprintf(stderr, CMD_WEIGHTS ": %s\n", err.message);
        rc = 1;
    }
    for (size_t k = 0; rc == 0 && k < n; k++) {
        geoloc_class_score top;
        size_t got;
        if (geoloc_classify_top(c, paths[k], 1, &top, &got, &err) != GEOLOC_OK && unreadable++ == 0)
            fprintf(stderr, CMD_WEIGHTS ": left out %s\n", err.message);
    }
    char text[512];
    snprintf(text, sizeof text, "%zu photos of %.300s, central square, largest |output| per convolution",
             n - unreadable, base_name(a.calib ? a.calib : a.images));
    if (rc == 0 && unreadable == n) {
        fprintf(stderr, CMD_WEIGHTS ": none of the %zu photos could be read\n", n);
        rc = 1;
    } else if (rc == 0 && geoloc_classifier_save(c, a.out, text, &err) != GEOLOC_OK) {
        fprintf(stderr, CMD_WEIGHTS ": %s\n", err.message);
        rc = 1;
    }
    if (rc == 0 && unreadable)
        fprintf(stderr, CMD_WEIGHTS ": %zu of %zu photos could not be read and were left out\n", unreadable, n);
    if (rc == 0) printf("%s: %s with int8 ranges: %s\n", a.out, argv[1], text);
    geoloc_classifier_free(c);
    free_paths(paths, n);
    return rc;
}
