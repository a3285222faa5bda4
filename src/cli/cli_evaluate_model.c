/* geoloc evaluate --meta CSV --images DIR: a model's accuracy on a manifest's
 * photos (overall and per scene label), with the per-photo results written in
 * the GeoEstimation results format. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli/cli_accuracy.h"
#include "cli/cli_dataset.h"
#include "cli/cli_dist.h"
#include "cli/cli_evaluate.h"
#include "cli/cli_options.h"
#include "cli/cli_photos.h"
#include "cli/cli_progress.h"
#include "cli/cli_retrieval.h"
#include "cli/cli_util.h"
#include "geoloc/album.h"
#include "geoloc/album_lstm.h"
#include "geoloc/dist.h"
#include "geoloc/io.h"

#define CMD "geoloc evaluate"
#define MAX_METHODS 8 /* --album-method: at most this many methods */
#define ALBUM_LSTM 100 /* --album-method lstm: the album LSTM of --album-lstm */


typedef struct eval_args {
    cli_prediction_args pred;
    const char *meta, *images, *out;
    int json, skip_invalid;
    const char *album_by;     /* --album-by column:NAME */
    const char *album_method; /* --album-method: a comma-separated list of methods */
    int methods[MAX_METHODS]; /* parsed from album_method: a geoloc_album_method or ALBUM_LSTM */
    int n_methods;
    const char *album_lstm;   /* --album-lstm FILE: the album LSTM of the method lstm */
    int answer;           /* --answer: a geoloc_answer_kind */
    const char *index;    /* --index FILE */
    long k;               /* --k K */
} eval_args;

static const cli_option OPTIONS[] = {
    CLI_OPTION("meta", 0, CLI_STRING, eval_args, meta, "CSV", "the manifest: IMG_ID, LAT, LON (optional S3_Label)",
               .required = 1),
    CLI_OPTION("images", 0, CLI_STRING, eval_args, images, "DIR", "the folder holding the photos DIR/IMG_ID",
               .required = 1),
    CLI_PREDICTION_OPTIONS(eval_args, pred),
    CLI_ISN_OPTION(eval_args, pred, cli_isn_oracle_choices,
                   ",\nor those of the photo's true scene (oracle: the manifest's\nS3_Label; without one: soft, counted)"),
    CLI_OPTION("out", 0, CLI_STRING, eval_args, out, "FILE",
               "per-photo results in the GeoEstimation format (img_id,\n"
               "gt_lat,predicted_lat,gt_long,predicted_long,\n"
               "great_circle_distance; CRLF; a blank line and the summary\n"
               "row), written atomically"),
    CLI_OPTION("json", 0, CLI_FLAG, eval_args, json, NULL,
               "print one JSON object (n, accuracy, median_km, mean_km,\n"
               "radius_km, geoscore, answered, skipped,\n"
               "images_per_second, scenes, scene_agreement)"),
    CLI_OPTION("skip-invalid", 0, CLI_FLAG, eval_args, skip_invalid, NULL,
               "skip bad manifest rows instead of stopping"),
    CLI_OPTION("album-by", 0, CLI_STRING, eval_args, album_by, "column:NAME",
               "also the accuracy of album-fused answers, albums being the\n"
               "photos of one value of the manifest's column NAME (e.g.\n"
               "column:AUTHOR; an empty value: alone); --out then holds\n"
               "the fused answers"),
    CLI_OPTION("album-method", 0, CLI_STRING, eval_args, album_method, "M[,M...]",
               "how an album's photos are fused: mean (average of their\n"
               "distributions), logsum (their normalised geometric mean),\n"
               "prior (each photo's distribution times the average of its\n"
               "album's others); a\n"
               "list (mean,logsum) prints each, from one pass over the\n"
               "photos, and --out holds the first; lstm: the album LSTM\n"
               "of --album-lstm reading each album in manifest order"),
    CLI_OPTION("album-lstm", 0, CLI_STRING, eval_args, album_lstm, "FILE",
               "the album LSTM (geoloc album train) of the method lstm"),
    CLI_RETRIEVAL_OPTIONS(eval_args, answer, index, k),
    CLI_END};

static const cli_spec SPEC = {
    CMD, NULL, 0, 0,
    "Predicts every photo the manifest CSV lists (IMG_ID, LAT, LON; optional S3_Label)\n"
    "from DIR/IMG_ID with the model (default: $GEOLOC_MODEL, else the default model)\n"
    "and prints the accuracy at 1/25/200/750/2500 km, the median and mean error,\n"
    "GeoScore (5000 exp(-d / 1492.7), mean and median), with a calibrated model the\n"
    "share of photos whose truth lies within the 50 % and 90 % radii and the radii's\n"
    "medians, the share answered (not unknown; unknown answers count with their best\n"
    "guess everywhere else) and the accuracy of the answered ones, the same per scene\n"
    "(S3_Label: 0 indoor, 1 natural, 2 urban) when the manifest has the column, with\n"
    "a model with scene heads the share of photos whose predicted scene equals the\n"
    "manifest's label per level (S3_Label, S16_Label, S365_Label) and the S3 confusion\n"
    "matrix (rows: the label, columns: the prediction), and\n"
    "images/s. A photo listed but missing from DIR or an empty\n"
    "manifest stops the command before anything is predicted or written; photos\n"
    "that cannot be decoded are named on stderr, counted and left out.\n",
    OPTIONS,
    "exit status: 0 when every photo was evaluated, 3 when some could not be read\n"
    "(each is named on stderr; the others are evaluated), 1 on bad input or when\n"
    "none could be read, 2 on bad usage\n"};

/* The defaults shown by the help and taken before parsing. */
static eval_args defaults(void) { return (eval_args){.pred = cli_prediction_args_default(), .album_method = "mean"}; }

void cli_evaluate_model_help(FILE *out) {
    eval_args a = defaults();
    cli_print_help(&SPEC, &a, out);
}

/* Parses the options and refuses an --out that is an input; CLI_RUN, or the
 * exit code (2 usage, 0 after --help). */
static int parse(int argc, char **argv, eval_args *a) {
    *a = defaults();
    int n;
    int rc = cli_parse(&SPEC, a, argc, argv, &n);
    if (rc != CLI_RUN) return rc;
    if (a->album_by && (strncmp(a->album_by, "column:", 7) || !a->album_by[7]))
        return cli_usage_error(&SPEC, "--album-by %s: column:NAME (a column of --meta)", a->album_by);
    char list[256];
    snprintf(list, sizeof list, "%s", a->album_method);
    a->n_methods = 0;
    for (char *save = NULL, *name = strtok_r(list, ",", &save); name; name = strtok_r(NULL, ",", &save)) {
        int method = strcmp(name, "lstm") ? geoloc_album_method_parse(name) : ALBUM_LSTM;
        if (method < 0 || a->n_methods == MAX_METHODS)
            return cli_usage_error(&SPEC, "--album-method %s: a list of at most %d of mean, logsum, prior, lstm",
                                   a->album_method, MAX_METHODS);
        if (method == ALBUM_LSTM && !a->album_lstm)
            return cli_usage_error(&SPEC, "--album-method lstm needs --album-lstm FILE");
        a->methods[a->n_methods++] = method;
    }
    if (a->n_methods == 0) return cli_usage_error(&SPEC, "--album-method: no method named");
    if (a->album_by && a->answer) return cli_usage_error(&SPEC, "--answer knn|hybrid: not with --album-by");
    cli_file inputs[2] = {{"--meta", a->meta}, {"--model", a->pred.model}}, out = {"--out", a->out};
    return cli_check_outputs(CMD, inputs, 2, &out, 1) != 0 ? CLI_EXIT_USAGE : CLI_RUN;
}

/* Per-photo outcome, in manifest order. */
typedef struct eval_ctx {
    const geoloc_manifest *m;
    double *pred_lat, *pred_lon, *km;
    double *r50, *r90;       /* NaN without a calibrated answer */
    unsigned char *ok, *unknown;
    int *scene;                /* by photo and level: the predicted scene class (-1: none) */
    size_t done, failed;
    cli_progress progress;
    geoloc_predictor *pred;
    int oracle;                /* --isn oracle: photos re-routed by their S3_Label */
    size_t oracle_soft;        /* of them, photos without one (left soft) */
    geoloc_album_probs *probs; /* --album-by: each photo's probabilities (NULL: not kept) */
    int probs_failed;          /* they could not be stored (message printed) */
    float *features;           /* --album-method lstm: each photo's pooled features (NULL: not kept) */
    size_t dim;
    cli_retrieval *retrieval;  /* --answer knn|hybrid (NULL: class) */
} eval_ctx;

/* Room for the outcome of m's photos; 0, or -1 when out of memory. */
static int eval_ctx_alloc(eval_ctx *e, const geoloc_manifest *m) {
    memset(e, 0, sizeof *e);
    e->m = m;
    e->pred_lat = malloc(m->n * sizeof(double));
    e->pred_lon = malloc(m->n * sizeof(double));
    e->km = malloc(m->n * sizeof(double));
    e->r50 = malloc(m->n * sizeof(double));
    e->r90 = malloc(m->n * sizeof(double));
    e->ok = calloc(m->n, 1);
    e->unknown = calloc(m->n, 1);
    e->scene = malloc(m->n * GEOLOC_SCENE_LEVELS * sizeof *e->scene);
    return e->pred_lat && e->pred_lon && e->km && e->r50 && e->r90 && e->ok && e->unknown && e->scene ? 0 : -1;
}

static void eval_ctx_free(eval_ctx *e) {
    free(e->pred_lat);
    free(e->pred_lon);
    free(e->km);
    free(e->r50);
    free(e->r90);
    free(e->ok);
    free(e->unknown);
    free(e->scene);
    geoloc_album_probs_free(e->probs);
    free(e->features);
}

/* --isn oracle: photo a's answer with its geo heads routed by its manifest
 * S3_Label (none: the soft answer, counted) into *out; 0, or 1 after a message.
 * A calibrated answer's unknown then rests on the model's radius alone. */
static int route_oracle(eval_ctx *e, const geoloc_photo_answer *a, geoloc_prediction *out) {
    const geoloc_model *model = geoloc_predictor_model(e->pred);
    int label = e->m->row[a->index].label[GEOLOC_SCENE_LEVEL_S3];
    *out = *a->pred;
    if (label < 0 || (size_t)label >= model->n_isn) {
        e->oracle_soft++;
        return 0;
    }
    double weight[GEOLOC_NN_MAX_HEADS] = {0};
    weight[label] = 1;
    const float *geo[GEOLOC_MODEL_MAX_PARTITIONS], *scene;
    geoloc_predict_options o = geoloc_predictor_options(e->pred);
    geoloc_error err = {0};
    geoloc_status s = geoloc_predictor_route(e->pred, a->run_index, weight, &err);
    if (s == GEOLOC_OK) {
        int crops = geoloc_predictor_probs(e->pred, a->run_index, geo, &scene);
        s = geoloc_answer_from_probs(model, geo, scene, (size_t)crops, o.partition, o.top_k, out, NULL, &err);
    }
    if (s != GEOLOC_OK) fprintf(stderr, CMD ": %s: %s\n", a->name, err.message);
    return s != GEOLOC_OK;
}

static int on_result(void *ctx, const geoloc_photo_answer *given) {
    eval_ctx *e = ctx;
    geoloc_prediction routed;
    geoloc_photo_answer by_scene;
    if (e->oracle && given->pred) {
        if (route_oracle(e, given, &routed) != 0) return 1;
        by_scene = *given;
        by_scene.pred = &routed;
        given = &by_scene;
    }
    for (int l = 0; given->pred && l < GEOLOC_SCENE_LEVELS; l++)
        e->scene[given->index * GEOLOC_SCENE_LEVELS + (size_t)l] = given->pred->scene[l];
    geoloc_photo_answer moved; /* --answer knn|hybrid: by the neighbours other than the photo itself */
    const geoloc_photo_answer *r = &moved;
    if (cli_retrieval_apply(CMD, e->retrieval, given, e->m->row[given->index].id, &moved) != 0) return 1;
    if (r->pred) {
        const geoloc_manifest_row *row = &e->m->row[r->index];
        e->ok[r->index] = 1;
        e->pred_lat[r->index] = r->pred->lat;
        e->pred_lon[r->index] = r->pred->lon;
        e->km[r->index] = geoloc_haversine_km(row->lat, row->lng, r->pred->lat, r->pred->lon);
        e->r50[r->index] = r->pred->calibrated ? r->pred->radius_km[0] : NAN;
        e->r90[r->index] = r->pred->calibrated ? r->pred->radius_km[1] : NAN;
        e->unknown[r->index] = r->pred->calibrated && r->pred->unknown;
        const float *geo[GEOLOC_MODEL_MAX_PARTITIONS], *scene;
        geoloc_error err = {0};
        int crops = e->probs ? geoloc_predictor_probs(e->pred, r->run_index, geo, &scene) : 0;
        if (e->probs && geoloc_album_probs_set(e->probs, r->index, geo, scene, (size_t)crops, &err) != GEOLOC_OK) {
            fprintf(stderr, CMD ": %s: %s\n", r->name, err.message);
            e->probs_failed = 1;
            return 1;
        }
        if (e->features) geoloc_predictor_features(e->pred, r->run_index, e->features + r->index * e->dim);
    } else {
        e->failed++;
        cli_progress_clear(&e->progress);
        fprintf(stderr, CMD ": %s (skipped)\n", r->error);
    }
    cli_progress_update(&e->progress, ++e->done);
    return 0;
}

/* Python's repr of round(v, 6) for values in [0, 1]: "0.43038", "1.0". */
static void format_fraction(double v, char out[32]) {
    snprintf(out, 32, "%.6f", v);
    size_t n = strlen(out);
    while (n > 2 && out[n - 1] == '0' && out[n - 2] != '.') out[--n] = '\0';
}

static int write_results(const char *path, const eval_ctx *e, const geoloc_distance_summary *s) {
    geoloc_atomic_file f;
    geoloc_error err = {0};
    if (geoloc_atomic_file_open(&f, path, &err) != GEOLOC_OK) {
        fprintf(stderr, CMD ": %s\n", err.message);
        return 1;
    }
    fputs("img_id,gt_lat,predicted_lat,gt_long,predicted_long,great_circle_distance\r\n", f.fp);
    for (size_t k = 0; k < e->m->n; k++) {
        if (!e->ok[k]) continue;
        const geoloc_manifest_row *row = &e->m->row[k];
        char lat[32], lon[32];
        geoloc_csv_format_double(row->lat, lat);
        geoloc_csv_format_double(row->lng, lon);
        geoloc_csv_write_field(f.fp, row->id);
        fprintf(f.fp, ",%s,%.6f,%s,%.6f,%.2f\r\n", lat, e->pred_lat[k], lon, e->pred_lon[k], e->km[k]);
    }
    fputs("\r\nstreet acc (1km),city acc (25km),region acc (200km),country acc (750km),"
          "continent acc (2500km),mean deviation (km)\r\n", f.fp);
    for (int t = 0; t < GEOLOC_N_THRESHOLDS; t++) {
        char v[32];
        format_fraction(s->accuracy[t], v);
        fprintf(f.fp, "%s,", v);
    }
    fprintf(f.fp, "%.2f\r\n", s->mean_km);
    if (geoloc_atomic_file_commit(&f, &err) != GEOLOC_OK) {
        fprintf(stderr, CMD ": %s\n", err.message);
        return 1;
    }
    return 0;
}

/* Summary of the photos whose S3 label is `label` (-1: all); n 0 when none. */
static void summarize(const eval_ctx *e, int label, double *buf, geoloc_distance_summary *s) {
    size_t n = 0;
    for (size_t k = 0; k < e->m->n; k++)
        if (e->ok[k] && (label < 0 || e->m->row[k].label[0] == label)) buf[n++] = e->km[k];
    memset(s, 0, sizeof *s);
    geoloc_error err;
    if (n) geoloc_distance_summarize(buf, n, s, &err);
}

/* The confidence figures of the photos whose S3 label is `label` (-1: all); n 0 when none. */
static void summarize_confidence(const eval_ctx *e, int label, geoloc_confidence_summary *s) {
    size_t n = 0, total = e->m->n;
    double *km = malloc(3 * total * sizeof *km);
    unsigned char *unknown = malloc(total);
    memset(s, 0, sizeof *s);
    if (!km || !unknown) goto done;
    for (size_t k = 0; k < total; k++)
        if (e->ok[k] && (label < 0 || e->m->row[k].label[0] == label)) {
            km[n] = e->km[k];
            km[total + n] = e->r50[k];
            km[2 * total + n] = e->r90[k];
            unknown[n++] = e->unknown[k];
        }
    geoloc_error err;
    if (n) geoloc_confidence_summarize(km, km + total, km + 2 * total, unknown, n, s, &err);
done:
    free(km);
    free(unknown);
}

/* The country accuracy of the photos whose S3 label is `label` (-1: all). */
static cli_country summarize_country(const eval_ctx *e, const geoloc_place_db *db, int label) {
    cli_country c = {0};
    for (size_t k = 0; k < e->m->n; k++)
        if (e->ok[k] && (label < 0 || e->m->row[k].label[0] == label))
            cli_country_add(&c, db, e->pred_lat[k], e->pred_lon[k], e->m->row[k].lat, e->m->row[k].lng);
    return c;
}

/* Prints the figures of e's answers: text tables, or JSON members (no braces). */
static void print_figures(const eval_args *a, const cli_runner *c, const eval_ctx *e, double *buf) {
    geoloc_distance_summary all, scene[3];
    geoloc_confidence_summary conf_all, conf[3];
    cli_country country_all = summarize_country(e, c->places, -1), country[3];
    summarize(e, -1, buf, &all);
    summarize_confidence(e, -1, &conf_all);
    int scenes = (e->m->columns & GEOLOC_COL_S3) != 0;
    for (int l = 0; scenes && l < 3; l++) {
        summarize(e, l, buf, &scene[l]);
        summarize_confidence(e, l, &conf[l]);
        country[l] = summarize_country(e, c->places, l);
    }
    if (a->json) {
        cli_print_accuracy_json(&all);
        cli_print_confidence_json(&conf_all);
        cli_print_country_json(&country_all);
        printf(", \"scenes\": ");
        if (!scenes) printf("null");
        for (int l = 0; scenes && l < 3; l++) {
            printf("%s\"%s\": {", l ? ", " : "{", geoloc_s3_label_name(l));
            cli_print_accuracy_json(&scene[l]);
            cli_print_confidence_json(&conf[l]);
            cli_print_country_json(&country[l]);
            putchar('}');
        }
        printf("%s", scenes ? "}" : "");
        return;
    }
    printf("photos:      %zu (%zu listed, %zu skipped: unreadable)\n", all.n, e->m->n, e->failed);
    cli_print_accuracy(&all);
    cli_print_confidence(&conf_all);
    cli_print_country(&country_all);
    if (scenes) {
        printf("by scene (S3_Label):  photos");
        for (int t = 0; t < GEOLOC_N_THRESHOLDS; t++) printf(" %7s", geoloc_thresholds[t].key);
        printf("  median km\n");
        for (int l = 0; l < 3; l++) {
            printf("  %-18s %7zu", geoloc_s3_label_name(l), scene[l].n);
            for (int t = 0; t < GEOLOC_N_THRESHOLDS; t++) printf(" %6.2f%%", 100.0 * scene[l].accuracy[t]);
            printf("  %9.2f\n", scene[l].median_km);
        }
        printf("by scene: confidence  photos  cover50  cover90  median r50  median r90  GeoScore  answered  "
               "2500km answered  country\n");
        for (int l = 0; l < 3; l++)
            printf("  %-18s %7zu %7.2f%% %7.2f%% %8.0f km %8.0f km %9.1f %8.2f%% %8.2f%%        %6.2f%%\n",
                   geoloc_s3_label_name(l), conf[l].n, 100.0 * conf[l].coverage[0], 100.0 * conf[l].coverage[1],
                   conf[l].median_radius_km[0], conf[l].median_radius_km[1], conf[l].geoscore_mean,
                   100.0 * conf[l].answered_share, 100.0 * conf[l].answered.accuracy[GEOLOC_N_THRESHOLDS - 1],
                   country[l].counted ? 100.0 * (double)country[l].same / (double)country[l].counted : 0.0);
    }
}

/* Prints how often the predicted scene of each level the model and the
 * manifest both have equals the manifest's label, and the S3 confusion matrix
 * (rows: the label, columns: the prediction): text, or a JSON member. */
static void print_scene_agreement(const eval_args *a, const geoloc_model *model, const eval_ctx *e) {
    static const unsigned COLUMN[GEOLOC_SCENE_LEVELS] = {GEOLOC_COL_S3, GEOLOC_COL_S16, GEOLOC_COL_S365};
    size_t n[GEOLOC_SCENE_LEVELS] = {0}, same[GEOLOC_SCENE_LEVELS] = {0}, confusion[3][3] = {{0}};
    int any = 0, levels[GEOLOC_SCENE_LEVELS];
    for (int l = 0; l < GEOLOC_SCENE_LEVELS; l++) {
        levels[l] = model->scene_classes[l] && (e->m->columns & COLUMN[l]);
        any |= levels[l];
        for (size_t k = 0; levels[l] && k < e->m->n; k++) {
            int label = e->m->row[k].label[l], got = e->scene[k * GEOLOC_SCENE_LEVELS + (size_t)l];
            if (!e->ok[k] || label < 0) continue;
            n[l]++;
            same[l] += got == label;
            if (l == GEOLOC_SCENE_LEVEL_S3 && label < 3 && got >= 0 && got < 3) confusion[label][got]++;
        }
    }
    int s3 = levels[GEOLOC_SCENE_LEVEL_S3] && model->scene_classes[GEOLOC_SCENE_LEVEL_S3] == 3;
    if (a->json) {
        printf(", \"scene_agreement\": %s", any ? "{" : "null");
        for (int l = 0, first = 1; l < GEOLOC_SCENE_LEVELS; l++) {
            if (!levels[l]) continue;
            printf("%s\"%s\": {\"photos\": %zu, \"agreement\": %.6f", first ? "" : ", ",
                   geoloc_scene_level_name(l), n[l], n[l] ? (double)same[l] / (double)n[l] : 0.0);
            for (int i = 0; s3 && l == GEOLOC_SCENE_LEVEL_S3 && i < 3; i++)
                printf("%s[%zu, %zu, %zu]%s", i ? ", " : ", \"confusion\": [", confusion[i][0], confusion[i][1],
                       confusion[i][2], i == 2 ? "]" : "");
            putchar('}');
            first = 0;
        }
        printf("%s", any ? "}" : "");
        return;
    }
    if (!any) return;
    printf("scene agreement (predicted = manifest label):\n");
    for (int l = 0; l < GEOLOC_SCENE_LEVELS; l++)
        if (levels[l])
            printf("  %-5s %7zu photos %7.2f%%\n", geoloc_scene_level_name(l), n[l],
                   n[l] ? 100.0 * (double)same[l] / (double)n[l] : 0.0);
    if (!s3) return;
    printf("S3 confusion (rows: S3_Label, columns: predicted):\n  %-8s", "");
    for (int j = 0; j < 3; j++) printf(" %8s", geoloc_model_scene_name(model, GEOLOC_SCENE_LEVEL_S3, j));
    for (int i = 0; i < 3; i++) {
        printf("\n  %-8s", geoloc_s3_label_name(i));
        for (int j = 0; j < 3; j++) printf(" %8zu", confusion[i][j]);
    }
    putchar('\n');
}

/* The name of method i: the fusion's, or lstm / blstm. */
static const char *method_label(const eval_args *a, int i, const geoloc_album_lstm *lstm) {
    if (a->methods[i] != ALBUM_LSTM) return geoloc_album_method_name((geoloc_album_method)a->methods[i]);
    return lstm && geoloc_album_lstm_bidirectional(lstm) ? "blstm" : "lstm";
}

/* Prints the single-photo figures, then (album: not NULL) the album-fused
 * ones, album[i] by a->methods[i] (lstm: the album LSTM). */
static void print_results(const eval_args *a, const cli_runner *c, const eval_ctx *e, const eval_ctx *album,
                          const geoloc_album_lstm *lstm, size_t n_albums, double seconds, double *buf) {
    double speed = seconds > 0 ? (double)(e->m->n - e->failed) / seconds : 0.0;
    if (a->json) {
        putchar('{');
        print_figures(a, c, e, buf);
        print_scene_agreement(a, c->model, e);
        printf(", \"skipped\": %zu, \"images_per_second\": %.3f, \"model\": ", e->failed, speed);
        cli_json_string(stdout, c->path);
        for (int i = 0; album && i < a->n_methods; i++) {
            printf(i ? ", {\"by\": " : ", \"albums\": [{\"by\": ");
            cli_json_string(stdout, a->album_by);
            printf(", \"method\": \"%s\", \"albums\": %zu, ", method_label(a, i, lstm), n_albums);
            print_figures(a, c, &album[i], buf);
            printf(i + 1 == a->n_methods ? "}]" : "}");
        }
        printf("}\n");
        return;
    }
    printf("model:       %s%s\n", c->path, c->opt.precision == GEOLOC_PRECISION_INT8 ? " (int8)" : "");
    print_figures(a, c, e, buf);
    print_scene_agreement(a, c->model, e);
    for (int i = 0; album && i < a->n_methods; i++) {
        printf("\nalbum-fused answers (--album-by %s, %s: %zu albums; no true position used):\n", a->album_by,
               method_label(a, i, lstm), n_albums);
        print_figures(a, c, &album[i], buf);
        printf("\n");
    }
    printf("speed:       %.2f images/s (%zu photos in %.1f s; model loaded in %.2f s)\n", speed,
           e->m->n - e->failed, seconds, c->load_seconds);
}

/* The album-fused answers: e's photos grouped by the rows' keys, their stored
 * probabilities fused by method (ALBUM_LSTM: each photo's answer by the album
 * LSTM reading its album in manifest order) into out (ok, pred_lat, ... as
 * e's; the arrays given). 0, or 1 after a message. */
static int fuse_albums(int method, geoloc_album_lstm *lstm, const eval_ctx *e, const char *const *keys,
                       eval_ctx *out, size_t *n_albums, const cli_runner *c) {
    size_t n = e->m->n, *album_of = malloc(n * sizeof *album_of), *size = malloc(n * sizeof *size);
    geoloc_prediction *pred = malloc(n * sizeof *pred);
    geoloc_album_set set = {0};
    geoloc_error err = {0};
    int rc = !album_of || !size || !pred;
    if (!rc) rc = geoloc_album_group(keys, n, album_of, n_albums, &err) != GEOLOC_OK;
    int per_photo = method == ALBUM_LSTM || method == GEOLOC_ALBUM_PRIOR; /* pred[k]: photo k's answer */
    if (!rc && per_photo) rc = geoloc_album_set_build(keys, e->ok, n, &set, &err) != GEOLOC_OK;
    if (!rc && method == ALBUM_LSTM)
        rc = geoloc_album_lstm_answers(lstm, e->features, &set, &c->opt, pred, &err) != GEOLOC_OK;
    for (size_t j = 0; !rc && method == GEOLOC_ALBUM_PRIOR && j < set.n_albums; j++) {
        const size_t *rows = set.rows + set.start[j], len = set.start[j + 1] - set.start[j];
        for (size_t i = 0; !rc && i < len; i++)
            rc = geoloc_album_answer_photo(e->probs, rows, len, rows[i], &c->opt, &pred[rows[i]], NULL, &err) !=
                 GEOLOC_OK;
    }
    if (!rc && !per_photo)
        rc = geoloc_album_answer_all(e->probs, album_of, *n_albums, (geoloc_album_method)method, &c->opt,
                                     pred, size, NULL, &err) != GEOLOC_OK;
    if (rc) fprintf(stderr, CMD ": %s\n", err.message[0] ? err.message : "out of memory");
    for (size_t k = 0; !rc && k < n; k++) {
        out->ok[k] = e->ok[k];
        if (!e->ok[k]) continue;
        const geoloc_prediction *p = &pred[per_photo ? k : album_of[k]];
        const geoloc_manifest_row *row = &e->m->row[k];
        out->pred_lat[k] = p->lat;
        out->pred_lon[k] = p->lon;
        out->km[k] = geoloc_haversine_km(row->lat, row->lng, p->lat, p->lon);
        out->r50[k] = p->calibrated ? p->radius_km[0] : NAN;
        out->r90[k] = p->calibrated ? p->radius_km[1] : NAN;
        out->unknown[k] = p->calibrated && p->unknown;
    }
    out->failed = e->failed;
    geoloc_album_set_free(&set);
    free(album_of);
    free(size);
    free(pred);
    return rc;
}

/* Loads the album LSTM of path for c's model and makes room for e's photos'
 * features; 0, or 1 after a message. */
static int open_lstm(const char *path, const cli_runner *c, eval_ctx *e, geoloc_album_lstm **out) {
    geoloc_error err = {0};
    if (geoloc_album_lstm_load(path, c->model, out, &err) != GEOLOC_OK) {
        fprintf(stderr, CMD ": --album-lstm %s\n", err.message);
        return 1;
    }
    e->dim = (size_t)geoloc_predictor_feature_dim(c->pred);
    if (!(e->features = malloc(e->m->n * e->dim * sizeof *e->features))) {
        fprintf(stderr, CMD ": out of memory\n");
        return 1;
    }
    return 0;
}

int cli_evaluate_model(int argc, char **argv) {
    eval_args a;
    int rc = parse(argc, argv, &a);
    if (rc != CLI_RUN) return rc;
    /* several ranks split the photos; album fusion and --answer knn|hybrid need every photo's
       network state (probabilities, features) in one process: rank 0 alone runs them */
    int split = !a.album_by && !a.answer && a.pred.isn != CLI_ISN_ORACLE, root = geoloc_dist_rank() == 0;
    if (!split && !root) return 0;
    struct stat st;
    char why[4200] = "";
    if (stat(a.images, &st) != 0 || !S_ISDIR(st.st_mode)) {
        snprintf(why, sizeof why, "--images %s: not a folder", a.images);
        fprintf(stderr, CMD ": %s\n", why);
    }
    geoloc_manifest *m = why[0] ? NULL : cli_read_manifest(CMD, a.meta, a.skip_invalid);
    if (m && m->n == 0) {
        fprintf(stderr, CMD ": %s: no photos listed\n", a.meta);
        geoloc_manifest_free(m);
        m = NULL;
    }
    if ((split ? cli_dist_agree(CMD, !m, why[0] ? why : NULL) : !m) != 0) {
        geoloc_manifest_free(m);
        return 1;
    }
    const char **keys = a.album_by ? malloc(m->n * sizeof *keys) : NULL;
    geoloc_error err = {0};
    if (a.album_by && keys && geoloc_album_manifest_keys(m, a.album_by + 7, keys, &err) != GEOLOC_OK) {
        free(keys);
        geoloc_manifest_free(m);
        return cli_usage_error(&SPEC, "--album-by %s: %s: %s", a.album_by, a.meta, err.message);
    }
    char **paths = cli_manifest_photo_paths(CMD, m, a.images);
    eval_ctx e, fused[MAX_METHODS] = {0}; /* fused[i]: the album answers by a.methods[i] */
    int no_memory = eval_ctx_alloc(&e, m) != 0;
    for (int i = 0; a.album_by && i < a.n_methods; i++)
        if (!keys || eval_ctx_alloc(&fused[i], m) != 0) no_memory = 1;
    double *buf = malloc(m->n * sizeof *buf);
    cli_runner c = {0};
    rc = !paths || no_memory || !buf ? 1 : 0;
    if (paths && rc) fprintf(stderr, CMD ": out of memory\n");
    if (rc == 0) rc = cli_runner_open(CMD, &a.pred, 1, m->n, &c);
    if (rc == 0) rc = cli_retrieval_open(CMD, a.answer, a.index, a.k, &c, &e.retrieval);
    if (rc == 0 && a.album_by && geoloc_album_probs_create(c.model, m->n, &e.probs, &err) != GEOLOC_OK) {
        fprintf(stderr, CMD ": %s\n", err.message);
        rc = 1;
    }
    e.pred = c.pred;
    e.oracle = a.pred.isn == CLI_ISN_ORACLE;
    geoloc_album_lstm *lstm = NULL;
    for (int i = 0; rc == 0 && a.album_by && i < a.n_methods; i++)
        if (a.methods[i] == ALBUM_LSTM && !lstm) rc = open_lstm(a.album_lstm, &c, &e, &lstm);
    if (split) rc = cli_dist_same_photos(CMD, rc, (const char *const *)paths, paths ? m->n : 0);
    if (rc == 0) {
        double t0 = cli_now_seconds();
        geoloc_batch_stats stats;
        if (root) cli_progress_start(&e.progress, "evaluate", "photos", m->n);
        int failed = cli_predict_paths(CMD, &c, (const char *const *)paths, m->n, 0, split, on_result, &e, &stats);
        double seconds = cli_now_seconds() - t0;
        cli_progress_clear(&e.progress);
        size_t n_albums = 0;
        if (failed || e.probs_failed) {
            rc = 1;
        } else if (!root) { /* rank 0 has every answer: the figures and --out are its */
        } else if (stats.failed == m->n) {
            fprintf(stderr, CMD ": none of the %zu photos could be read\n", m->n);
            rc = 1;
        } else {
            for (int i = 0; rc == 0 && a.album_by && i < a.n_methods; i++)
                rc = fuse_albums(a.methods[i], lstm, &e, keys, &fused[i], &n_albums, &c);
            const eval_ctx *written = a.album_by ? &fused[0] : &e;
            geoloc_distance_summary all;
            summarize(written, -1, buf, &all);
            if (rc == 0 && a.out) rc = write_results(a.out, written, &all);
            if (rc == 0) print_results(&a, &c, &e, a.album_by ? fused : NULL, lstm, n_albums, seconds, buf);
            if (rc == 0 && e.failed) {
                fprintf(stderr, CMD ": %zu of %zu photos skipped (unreadable)\n", e.failed, m->n);
                rc = CLI_EXIT_SKIPPED;
            }
        }
    }
    if (e.oracle && (rc == 0 || rc == CLI_EXIT_SKIPPED))
        fprintf(stderr, CMD ": --isn oracle: %zu photos routed by their S3_Label, %zu without one routed soft\n",
                e.done - e.failed - e.oracle_soft, e.oracle_soft);
    if (e.retrieval && (rc == 0 || rc == CLI_EXIT_SKIPPED))
        fprintf(stderr, CMD ": --answer %s: %zu answers placed by the neighbours, the others by the classifier\n",
                cli_answer_choices[a.answer], e.retrieval->moved_count);
    cli_retrieval_close(e.retrieval);
    geoloc_album_lstm_free(lstm);
    cli_runner_close(&c);
    for (size_t k = 0; paths && k < m->n; k++) free(paths[k]);
    free(paths);
    eval_ctx_free(&e);
    for (int i = 0; i < MAX_METHODS; i++) eval_ctx_free(&fused[i]);
    free(keys);
    free(buf);
    geoloc_manifest_free(m);
    if (rc != CLI_EXIT_OK && rc != CLI_EXIT_SKIPPED) return rc;
    return cli_check_stdout(CMD) != 0 ? CLI_EXIT_FAILURE : rc;
}
