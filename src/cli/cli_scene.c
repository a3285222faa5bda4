/* geoloc scene ...: the scene commands. scene train: a scene classifier (the
 * helper network of Mueller-Budack et al.), trained by geoloc_train with no
 * partitions (cli_train.c holds the options it shares with geoloc train);
 * scene label: a scene classifier (or a model with scene heads) fills the scene
 * columns of a manifest in GeoEstimation's meta format (S3_Label, S16_Label,
 * S365_Label, Prob_indoor, Prob_natural, Prob_urban), every other column kept
 * verbatim and in order. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "cli/cli_options.h"
#include "cli/cli_photos.h"
#include "cli/cli_progress.h"
#include "cli/cli_util.h"
#include "cli/commands.h"
#include "geoloc/io.h"

#define LABEL_CMD "geoloc scene label"
#define MAX_FIELDS 1024 /* the manifest reader's limit */

/* The scene columns: the labels of the three levels, then the S3 head's probabilities. */
static const char *const COLUMNS[6] = {"S3_Label", "S16_Label", "S365_Label",
                                       "Prob_indoor", "Prob_natural", "Prob_urban"};

typedef struct label_args {
    const char *model, *meta, *images, *out;
    int overwrite, crops;
    long batch;
} label_args;

static const cli_option LABEL_OPTIONS[] = {
    CLI_OPTION("model", 0, CLI_STRING, label_args, model, "FILE",
               "a scene classifier (or any model with scene heads)", .required = 1),
    CLI_OPTION("meta", 0, CLI_STRING, label_args, meta, "CSV", "the manifest: IMG_ID, LAT, LON, other columns",
               .required = 1),
    CLI_OPTION("images", 0, CLI_STRING, label_args, images, "DIR", "the folder holding the photos DIR/IMG_ID",
               .required = 1),
    CLI_OPTION("out", 0, CLI_STRING, label_args, out, "CSV", "the labelled manifest (written atomically; not --meta)",
               .required = 1),
    CLI_OPTION("overwrite", 0, CLI_FLAG, label_args, overwrite, NULL,
               "label every photo (default: only blank labels are filled)"),
    CLI_OPTION("crops", 0, CLI_ENUM, label_args, crops, NULL,
               "three squares along the longer side, five (corners and\ncenter) or center",
               .choices = cli_crops_choices),
    CLI_OPTION("batch", 0, CLI_INT, label_args, batch, "N", "photos per network call", .min = 1, .max = 256),
    CLI_END};

static const cli_spec LABEL_SPEC = {
    LABEL_CMD, NULL, 0, 0,
    "Writes the manifest --meta to --out with the scene labels of the model's levels\n"
    "(S3_Label, S16_Label, S365_Label) and the S3 head's probabilities (Prob_indoor,\n"
    "Prob_natural, Prob_urban) predicted from the photos DIR/IMG_ID, in\n"
    "GeoEstimation's meta format: every other column kept as it is and in its order,\n"
    "missing scene columns added at the end. By default only rows with a blank label\n"
    "are labelled (a level's label and, for S3, the probabilities); labels present are\n"
    "kept. Photos that cannot be read are named on stderr and their rows written\n"
    "unchanged. A summary line on stderr counts the rows labelled, kept and failed.\n",
    LABEL_OPTIONS,
    "exit status: 0, 3 when some photos could not be read (the others labelled),\n"
    "1 on bad input (a model without scene heads, a bad manifest, a busy --out),\n"
    "2 on bad usage\n"};

/* What the command works on. */
typedef struct label_job {
    const geoloc_model *model;
    const geoloc_manifest *m;
    int need[GEOLOC_SCENE_LEVELS];  /* the model has the level */
    unsigned char *todo;            /* by manifest row: to be labelled */
    unsigned char *done;            /* by manifest row: labelled */
    float *probs;                   /* by manifest row: n_scenes values */
    size_t *row_of;                 /* by prediction input: its manifest row */
    int overwrite;                  /* --overwrite: labels present replaced too */
    size_t labelled, failed, answered;
    cli_progress progress;
} label_job;

static int on_answer(void *ctx, const geoloc_photo_answer *a) {
    label_job *j = ctx;
    size_t k = j->row_of[a->index];
    if (a->pred && a->scenes) {
        memcpy(j->probs + k * j->model->n_scenes, a->scenes, j->model->n_scenes * sizeof(float));
        j->done[k] = 1;
        j->labelled++;
    } else {
        cli_progress_clear(&j->progress);
        fprintf(stderr, LABEL_CMD ": %s: %s (row kept unchanged)\n", a->name, a->error ? a->error : "no scenes");
        j->failed++;
    }
    cli_progress_update(&j->progress, ++j->answered);
    return 0;
}

/* Whether scene column c (0-2: a level's label, 3-5: the S3 probabilities)
 * of row k is written anew: a level of the model, blank or --overwrite. */
static int fills(const label_job *j, size_t k, int c) {
    int level = c < 3 ? c : GEOLOC_SCENE_LEVEL_S3;
    return j->done[k] && j->need[level] && (j->overwrite || j->m->row[k].label[level] < 0);
}

/* Writes the value of scene column c (0-5) for row k: its label or probability. */
static void write_scene_value(FILE *out, const label_job *j, size_t k, int c) {
    const float *p = j->probs + k * j->model->n_scenes;
    int level = c < 3 ? c : GEOLOC_SCENE_LEVEL_S3;
    p += j->model->scene_offset[level];
    if (c >= 3) {
        fprintf(out, "%.6g", (double)p[c - 3]);
        return;
    }
    size_t best = 0;
    for (size_t s = 1; s < j->model->scene_classes[level]; s++)
        if (p[s] > p[best]) best = s;
    fprintf(out, "%zu", best);
}

/* Writes one field as CSV (quoted when needed), f being [p, p + len). */
static int write_field(FILE *out, geoloc_csv_field f, char **buf, size_t *cap) {
    if (f.len + 1 > *cap) {
        char *grown = realloc(*buf, f.len + 1);
        if (!grown) return -1;
        *buf = grown;
        *cap = f.len + 1;
    }
    memcpy(*buf, f.p, f.len);
    (*buf)[f.len] = '\0';
    geoloc_csv_write_field(out, *buf);
    return 0;
}

static int is_column(geoloc_csv_field f, const char *name) {
    return f.len == strlen(name) && !strncasecmp(f.p, name, f.len);
}

/* Writes the manifest text[0..size) (the bytes j->m was read from) again to
 * out with the scene columns of the labelled rows; 0, or -1 with err. */
static int write_labelled(FILE *out, const char *text, size_t size, const char *meta, label_job *j,
                          geoloc_error *err) {
    geoloc_csv_reader *r = geoloc_csv_open_buffer(text, size, meta);
    geoloc_csv_field *f = malloc(MAX_FIELDS * sizeof *f);
    char *buf = NULL;
    size_t cap = 0, nf = 0, k = 0;
    int col[6], rc = r && f ? 0 : -1, more = 0;
    if (rc == 0 && (geoloc_csv_next_row(r, f, MAX_FIELDS, &nf, err) != 1 || nf > MAX_FIELDS)) rc = -1;
    for (int c = 0; rc == 0 && c < 6; c++) {
        col[c] = -1;
        for (size_t i = 0; i < nf && i < MAX_FIELDS; i++)
            if (is_column(f[i], COLUMNS[c])) col[c] = (int)i;
    }
    for (size_t i = 0; rc == 0 && i < nf; i++) {
        if (i) fputc(',', out);
        rc = write_field(out, f[i], &buf, &cap);
    }
    for (int c = 0; rc == 0 && c < 6; c++) /* the model's columns the file lacks */
        if (col[c] < 0 && j->need[c < 3 ? c : GEOLOC_SCENE_LEVEL_S3]) fprintf(out, ",%s", COLUMNS[c]);
    if (rc == 0) fputc('\n', out);
    while (rc == 0 && (more = geoloc_csv_next_row(r, f, MAX_FIELDS, &nf, err)) == 1) {
        if (nf == 1 && f[0].len == 0) continue; /* a blank line, as the manifest reader skips it */
        if (k >= j->m->n || nf > MAX_FIELDS) { /* the manifest reader read these bytes: never */
            rc = -1;
            break;
        }
        for (size_t i = 0; rc == 0 && i < nf; i++) {
            int c = 0;
            while (c < 6 && col[c] != (int)i) c++;
            if (i) fputc(',', out);
            if (c < 6 && fills(j, k, c)) write_scene_value(out, j, k, c);
            else rc = write_field(out, f[i], &buf, &cap);
        }
        for (int c = 0; rc == 0 && c < 6; c++)
            if (col[c] < 0 && j->need[c < 3 ? c : GEOLOC_SCENE_LEVEL_S3]) {
                fputc(',', out);
                if (fills(j, k, c)) write_scene_value(out, j, k, c);
            }
        fputc('\n', out);
        k++;
    }
    if (rc == 0 && (more < 0 || k != j->m->n)) rc = -1;
    if (rc != 0 && !err->message[0])
        snprintf(err->message, sizeof err->message, "%s: %s", meta, r && f ? "rows the manifest reader did not see"
                                                                             : "out of memory");
    free(buf);
    free(f);
    geoloc_csv_close(r);
    return rc;
}

/* Predicts the rows to label (the job's todo) from DIR/IMG_ID; 0, or 1 after a message. */
static int predict_rows(const label_args *a, label_job *j) {
    const geoloc_manifest *m = j->m;
    size_t n = 0;
    for (size_t k = 0; k < m->n; k++) n += j->todo[k];
    if (n == 0) return 0;
    geoloc_photo_input *in = calloc(n, sizeof *in);
    char **paths = calloc(n, sizeof *paths);
    j->row_of = malloc(n * sizeof *j->row_of);
    int rc = in && paths && j->row_of ? 0 : 1;
    for (size_t k = 0, i = 0; rc == 0 && k < m->n; k++) {
        if (!j->todo[k]) continue;
        size_t len = strlen(a->images) + strlen(m->row[k].id) + 2;
        if (!(paths[i] = malloc(len))) rc = 1;
        else snprintf(paths[i], len, "%s/%s", a->images, m->row[k].id);
        in[i] = (geoloc_photo_input){.path = paths[i], .name = paths[i]};
        j->row_of[i++] = k;
    }
    if (rc) fprintf(stderr, LABEL_CMD ": out of memory\n");
    geoloc_predict_options o = geoloc_predict_options_default();
    o.crops = (geoloc_crop_mode)a->crops;
    o.batch = (size_t)a->batch < n ? (int)a->batch : (int)n;
    geoloc_predictor *p = NULL;
    geoloc_error err = {0};
    geoloc_batch_stats st;
    if (rc == 0 && geoloc_predictor_create(j->model, &o, &p, &err) != GEOLOC_OK) rc = 1;
    if (rc == 0) cli_progress_start(&j->progress, "scene label", "photos", n);
    if (rc == 0 && geoloc_predict_photos(p, in, n, 0, on_answer, j, &st, &err) != GEOLOC_OK) rc = 1;
    cli_progress_clear(&j->progress);
    if (rc && err.message[0]) fprintf(stderr, LABEL_CMD ": %s: %s\n", a->model, err.message);
    geoloc_predictor_free(p);
    for (size_t i = 0; paths && i < n; i++) free(paths[i]);
    free(paths);
    free(in);
    return rc;
}

static int scene_label(int argc, char **argv) {
    label_args a = {.crops = GEOLOC_CROPS_THREE, .batch = 8};
    int n_args;
    int rc = cli_parse(&LABEL_SPEC, &a, argc, argv, &n_args);
    if (rc != CLI_RUN) return rc;
    cli_file inputs[2] = {{"--meta", a.meta}, {"--model", a.model}}, output = {"--out", a.out};
    if (cli_check_outputs(LABEL_CMD, inputs, 2, &output, 1) != 0) return CLI_EXIT_USAGE;
    if (!strcmp(a.out, "-")) return cli_usage_error(&LABEL_SPEC, "--out: a file (written atomically)");
    struct stat sb;
    if (stat(a.images, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
        fprintf(stderr, LABEL_CMD ": --images %s: not a folder\n", a.images);
        return 1;
    }
    geoloc_model *model = NULL;
    geoloc_manifest *m = NULL;
    geoloc_error err = {0};
    if (geoloc_model_load(a.model, &model, &err) != GEOLOC_OK) {
        fprintf(stderr, LABEL_CMD ": %s\n", err.message);
        return 1;
    }
    if (model->n_scenes == 0) {
        fprintf(stderr, LABEL_CMD ": %s: no scene head (a geolocation model without scenes): a scene classifier "
                "is needed\n", a.model);
        geoloc_model_free(model);
        return 1;
    }
    geoloc_manifest_options mo = {.blank_position = 1};
    geoloc_csv_reader *text = geoloc_csv_open(a.meta, &err); /* the bytes read once, parsed twice */
    size_t size = 0;
    const char *data = text ? geoloc_csv_data(text, &size) : NULL;
    if (!text || geoloc_manifest_read_buffer(data, size, a.meta, &mo, &m, &err) != GEOLOC_OK) {
        fprintf(stderr, LABEL_CMD ": %s\n", err.message);
        geoloc_csv_close(text);
        geoloc_model_free(model);
        return 1;
    }
    label_job j = {.model = model, .m = m, .overwrite = a.overwrite};
    size_t n = m->n ? m->n : 1;
    j.todo = calloc(n, 1);
    j.done = calloc(n, 1);
    j.probs = malloc(n * model->n_scenes * sizeof *j.probs);
    rc = j.todo && j.done && j.probs ? 0 : 1;
    if (rc) fprintf(stderr, LABEL_CMD ": out of memory\n");
    for (int l = 0; l < GEOLOC_SCENE_LEVELS; l++) j.need[l] = model->scene_classes[l] > 0;
    for (size_t k = 0; rc == 0 && k < m->n; k++)
        for (int l = 0; l < GEOLOC_SCENE_LEVELS; l++)
            if (j.need[l] && (a.overwrite || m->row[k].label[l] < 0)) j.todo[k] = 1;
    if (rc == 0) rc = predict_rows(&a, &j);
    geoloc_atomic_file f;
    if (rc == 0 && geoloc_atomic_file_open(&f, a.out, &err) != GEOLOC_OK) {
        fprintf(stderr, LABEL_CMD ": %s\n", err.message);
        rc = 1;
    } else if (rc == 0) {
        err.message[0] = '\0';
        if (write_labelled(f.fp, data, size, a.meta, &j, &err) != 0) {
            geoloc_atomic_file_abort(&f);
            fprintf(stderr, LABEL_CMD ": %s\n", err.message);
            rc = 1;
        } else if (geoloc_atomic_file_commit(&f, &err) != GEOLOC_OK) {
            fprintf(stderr, LABEL_CMD ": %s\n", err.message);
            rc = 1;
        }
    }
    if (rc == 0) {
        fprintf(stderr, LABEL_CMD ": %s: %zu rows labelled, %zu kept (already labelled), %zu failed (unreadable "
                "photos, rows unchanged)\n", a.out, j.labelled, m->n - j.labelled - j.failed, j.failed);
        rc = j.failed ? CLI_EXIT_SKIPPED : CLI_EXIT_OK;
    }
    free(j.todo);
    free(j.done);
    free(j.probs);
    free(j.row_of);
    geoloc_manifest_free(m);
    geoloc_csv_close(text);
    geoloc_model_free(model);
    return rc;
}

const cli_command CLI_SCENE_COMMANDS[] = {
    {"label", scene_label, NULL, "fill a manifest's scene labels and probabilities with a scene classifier"},
    {"train", cli_scene_train, NULL,
     "train a scene classifier (S3, S16, S365 heads, no geo heads): labels photos for geoloc train --scene-labels"},
    {NULL}};
