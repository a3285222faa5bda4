/* geoloc model calibrate --meta CSV --images DIR --out NEW: fits a model's
 * calibration (geoloc/calibration.h) on the photos of a manifest that the
 * model was not trained on, and writes the model with it to a new file (the
 * model file itself is never rewritten). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli_calibrate.h"
#include "cli/cli_dataset.h"
#include "cli/cli_options.h"
#include "cli/cli_photos.h"
#include "cli/cli_util.h"
#include "geoloc/calibration.h"

#define CMD "geoloc model calibrate"

typedef struct calibrate_args {
    const char *model, *meta, *images, *out;
    long batch;
} calibrate_args;

static const cli_option OPTIONS[] = {
    CLI_OPTION("model", 0, CLI_STRING, calibrate_args, model, "FILE",
               "the model (default: $GEOLOC_MODEL, else the default model)"),
    CLI_OPTION("meta", 0, CLI_STRING, calibrate_args, meta, "CSV",
               "the calibration photos: IMG_ID, LAT, LON (photos the\nmodel was not trained on)", .required = 1),
    CLI_OPTION("images", 0, CLI_STRING, calibrate_args, images, "DIR", "the folder holding the photos DIR/IMG_ID",
               .required = 1),
    CLI_OPTION("out", 'o', CLI_STRING, calibrate_args, out, "FILE", "the calibrated model (a new file)",
               .required = 1),
    CLI_OPTION("batch", 0, CLI_INT, calibrate_args, batch, "N", "photos per network call", .min = 1, .max = 256),
    CLI_END};

static const cli_spec SPEC = {
    CMD, NULL, 0, 0,
    "Predicts the manifest's photos (three crops, hierarchical answer) and fits the\n"
    "model's calibration on them: the temperature, the 50 % and 90 % confidence\n"
    "radii (split conformal), the maximum radius and the statistics of the\n"
    "backbone features that tell photos unlike them (\"unknown\"). Writes the model\n"
    "with its new calibration to --out, atomically; --out may not be the model.\n",
    OPTIONS, "Exit status: 0, 1 when a file cannot be read or written or a photo cannot be\ndecoded, 2 on a usage error.\n"};

/* The calibration photos' distributions, features and truth, in manifest order. */
typedef struct collect {
    const geoloc_manifest *m;
    geoloc_predictor *pred;
    float *dist, *feat;
    size_t classes;
    int dim, failed;
} collect;

static int on_answer(void *ctx, const geoloc_photo_answer *a) {
    collect *c = ctx;
    if (!a->pred) {
        fprintf(stderr, CMD ": %s: %s\n", a->name, a->error);
        c->failed = 1;
        return 1;
    }
    memcpy(c->dist + a->index * c->classes, a->distribution, c->classes * sizeof *c->dist);
    geoloc_predictor_features(c->pred, a->run_index, c->feat + a->index * (size_t)c->dim);
    return 0;
}

int cli_model_calibrate(int argc, char **argv) {
    calibrate_args a = {.batch = geoloc_predict_options_default().batch};
    int n_args;
    int rc = cli_parse(&SPEC, &a, argc, argv, &n_args);
    if (rc != CLI_RUN) return rc;
    char model_path[4096];
    geoloc_error err = {0};
    if (geoloc_model_resolve(a.model, model_path, sizeof model_path, &err) != 0) {
        fprintf(stderr, CMD ": %s\n", err.message);
        return 1;
    }
    cli_file inputs[2] = {{"--meta", a.meta}, {"--model", model_path}}, out = {"--out", a.out};
    if (cli_check_outputs(CMD, inputs, 2, &out, 1) != 0) return CLI_EXIT_USAGE;
    geoloc_manifest *m = cli_read_manifest(CMD, a.meta, 0);
    if (!m) return 1;
    char **paths = cli_manifest_photo_paths(CMD, m, a.images);
    cli_prediction_args pa = cli_prediction_args_default();
    pa.model = model_path;
    pa.batch = a.batch;
    cli_runner run;
    rc = paths ? cli_runner_open(CMD, &pa, 1, m->n, &run) : 1;
    collect c = {m, NULL, NULL, NULL, 0, 0, 0};
    if (rc == 0) {
        /* the raw scores: a calibration already in the model is replaced, not compounded */
        geoloc_calibration_free(run.model->calibration);
        run.model->calibration = NULL;
        c.pred = run.pred;
        c.classes = geoloc_predictor_classes(run.pred);
        c.dim = geoloc_predictor_feature_dim(run.pred);
        c.dist = malloc(m->n * c.classes * sizeof *c.dist);
        c.feat = malloc(m->n * (size_t)c.dim * sizeof *c.feat);
        double *lat = malloc(m->n * sizeof *lat), *lon = malloc(m->n * sizeof *lon);
        geoloc_batch_stats stats;
        if (!c.dist || !c.feat || !lat || !lon) {
            fprintf(stderr, CMD ": out of memory\n");
            rc = 1;
        } else if (cli_predict_paths(CMD, &run, (const char *const *)paths, m->n, 1, 0, on_answer, &c, &stats) != 0 ||
                   c.failed) {
            rc = 1;
        }
        for (size_t k = 0; rc == 0 && k < m->n; k++) lat[k] = m->row[k].lat, lon[k] = m->row[k].lng;
        geoloc_calibration_data d = {.part = run.model->partitions[run.model->n_partitions - 1], .dist = c.dist,
                                     .lat = lat, .lon = lon, .features = c.feat, .n = m->n,
                                     .classes = c.classes, .dim = c.dim};
        geoloc_calibration *cal = NULL;
        geoloc_status s = rc == 0 ? geoloc_calibration_fit(&d, &cal, &err) : GEOLOC_OK;
        run.model->calibration = cal; /* freed with the model */
        if (rc == 0 && s == GEOLOC_OK)
            s = geoloc_model_save(run.model, a.out, run.model->backbone[0] != 0,
                                  run.model->backbone[0] ? run.model->backbone : NULL, &err);
        if (s != GEOLOC_OK) {
            fprintf(stderr, CMD ": %s\n", err.message);
            rc = 1;
        }
        if (rc == 0)
            printf("%s: calibrated on %zu photos: temperature %.4f, mass quantiles %.4f (50 %%) and %.4f (90 %%), "
                   "max radius %.1f km, feature threshold %.3f\n", a.out, cal->photos, cal->temperature, cal->q50,
                   cal->q90, cal->max_radius_km, cal->ood_threshold);
        free(lat);
        free(lon);
        cli_runner_close(&run);
    }
    free(c.dist);
    free(c.feat);
    for (size_t k = 0; paths && k < m->n; k++) free(paths[k]);
    free(paths);
    geoloc_manifest_free(m);
    return rc;
}
