/* geoloc explain: occlusion sensitivity of one photo's answer (geoloc/explain.h),
 * as an overlay PNG and optionally the grid as CSV. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli/cli_options.h"
#include "cli/cli_util.h"
#include "cli/commands.h"
#include "geoloc/explain.h"
#include "geoloc/io.h"

#define CMD "geoloc explain"

typedef struct {
    const char *model, *cell, *partition, *out, *csv;
    long patch, stride, batch;
} explain_args;

static const cli_option EXPLAIN_OPTIONS[] = {
    CLI_OPTION("model", 'm', CLI_STRING, explain_args, model, "FILE",
               "model file (default: $GEOLOC_MODEL, else the installed default model)"),
    CLI_OPTION("out", 'o', CLI_STRING, explain_args, out, "OUT.png", "the overlay (written whole or not at all)",
               .required = 1),
    CLI_OPTION("csv", 0, CLI_STRING, explain_args, csv, "GRID.csv",
               "also the grid: row,col and the patch (x,y,width,height in crop\npixels) with its drop"),
    CLI_OPTION("patch", 0, CLI_INT, explain_args, patch, "PX",
               "side of the grey square in crop pixels (default: 1/7 of the\nmodel's input size)", .min = 1,
               .max = 4096),
    CLI_OPTION("stride", 0, CLI_INT, explain_args, stride, "PX",
               "grid step in crop pixels (default: a 14x14 grid)", .min = 1, .max = 4096),
    CLI_OPTION("cell", 0, CLI_STRING, explain_args, cell, "TOKEN",
               "explain this cell of the answering partition instead of the\nanswer's"),
    CLI_OPTION("partition", 0, CLI_STRING, explain_args, partition, "NAME",
               "answer with one partition (name or number) instead of\nhierarchically"),
    CLI_OPTION("batch", 'b', CLI_INT, explain_args, batch, "N", "occluded copies per network call", .min = 1,
               .max = 1024),
    CLI_END};

static const cli_spec EXPLAIN_SPEC = {
    CMD, "PHOTO", 1, 1,
    "Occlusion sensitivity (PlaNet): slides a grey square (the normalisation's mean:\n"
    "no information) over the photo's center crop, runs every occluded copy through\n"
    "the network, and draws how much the answer's probability drops when each part\n"
    "is hidden: red where hiding it lowers the probability (the answer rests on it),\n"
    "blue where it raises it. The crop is prediction's center crop (--crops center):\n"
    "the shorter side resized to input * 256 / 224, then the central square.\n",
    EXPLAIN_OPTIONS,
    "Exit status: 0 on success, 1 on failure (unreadable photo or model, output\n"
    "not writable), 2 on a usage error (bad option, a --cell that is not a cell of\n"
    "the answering partition, an output folder that does not exist).\n"};

/* 0 when path's folder exists, else 2 after a message naming the option. */
static int check_folder(const char *what, const char *path) {
    if (!path || !strcmp(path, "-")) return 0;
    const char *slash = strrchr(path, '/');
    if (!slash) return 0;
    char dir[4096];
    snprintf(dir, sizeof dir, "%.*s", slash == path ? 1 : (int)(slash - path), path);
    struct stat st;
    if (stat(dir, &st) == 0 && S_ISDIR(st.st_mode)) return 0;
    fprintf(stderr, "%s: %s %s: the folder %s does not exist\n", CMD, what, path, dir);
    return CLI_EXIT_USAGE;
}

/* Writes the grid as CSV through the atomic writer; 0 or 1 after a message. */
static int write_csv(const geoloc_explain_result *r, const char *path) {
    geoloc_atomic_file f;
    geoloc_error err = {0};
    if (geoloc_atomic_file_open(&f, path, &err) != GEOLOC_OK) {
        fprintf(stderr, "%s: %s\n", CMD, err.message);
        return 1;
    }
    fprintf(f.fp, "row,col,x,y,width,height,drop\n");
    for (int row = 0; row < r->rows; row++)
        for (int col = 0; col < r->cols; col++) {
            int x, y, w, h;
            geoloc_explain_patch_span(r->size, r->patch, r->stride, col, &x, &w);
            geoloc_explain_patch_span(r->size, r->patch, r->stride, row, &y, &h);
            fprintf(f.fp, "%d,%d,%d,%d,%d,%d,%.7g\n", row, col, x, y, w, h, (double)r->drop[row * r->cols + col]);
        }
    if (geoloc_atomic_file_commit(&f, &err) != GEOLOC_OK) {
        fprintf(stderr, "%s: %s\n", CMD, err.message);
        return 1;
    }
    return 0;
}

/* Prints what was explained, where it matters most, and the cost. */
static void print_summary(const char *photo, const geoloc_model *m, const geoloc_explain_result *r,
                          const char *out, double seconds) {
    char tok[GEOLOC_S2_TOKEN_SIZE];
    geoloc_s2_to_token(r->target, tok);
    int best = 0;
    for (int k = 1; k < r->rows * r->cols; k++)
        if (r->drop[k] > r->drop[best]) best = k;
    printf("%s: cell %s (%s) p=%.4f on the center crop; %dx%d grid, patch %d px, stride %d px of %d; "
           "largest drop %.4f at row %d col %d\n",
           photo, tok, m->partition_names[r->partition], (double)r->p_full, r->rows, r->cols, r->patch, r->stride,
           r->size, (double)r->drop[best], best / r->cols, best % r->cols);
    printf("%zu network images in %zu batch%s, %.2f s (%.1f images/s) -> %s\n", r->images, r->batches,
           r->batches == 1 ? "" : "es", seconds,
           seconds > 0 ? (double)r->images / seconds : 0.0, out);
}

/* The options as the library takes them; 0, or 2 after a usage message. */
static int make_options(const explain_args *a, const geoloc_model *m, geoloc_explain_options *o) {
    *o = geoloc_explain_options_default();
    o->patch = (int)a->patch;
    o->stride = (int)a->stride;
    if (a->batch) o->batch = (int)a->batch;
    o->partition = geoloc_model_find_partition(m, a->partition);
    if (o->partition == -2) return cli_usage_error(&EXPLAIN_SPEC, "--partition %s: no such partition", a->partition);
    if (a->cell) {
        if (geoloc_s2_from_token(a->cell, strlen(a->cell), &o->cell) != GEOLOC_OK)
            return cli_usage_error(&EXPLAIN_SPEC, "--cell %s: not an S2 cell token", a->cell);
        o->has_cell = 1;
    }
    return 0;
}

int cli_explain(int argc, char **argv) {
    explain_args a = {0};
    int n;
    int rc = cli_parse(&EXPLAIN_SPEC, &a, argc, argv, &n);
    if (rc != CLI_RUN) return rc;
    const char *photo_path = argv[1];
    cli_file in[] = {{"PHOTO", photo_path}}, outs[] = {{"--out", a.out}, {"--csv", a.csv}};
    if ((rc = cli_check_outputs(CMD, in, 1, outs, a.csv ? 2 : 1)) != 0) return rc;
    if ((rc = check_folder("--out", a.out)) != 0 || (rc = check_folder("--csv", a.csv)) != 0) return rc;
    double t0 = cli_now_seconds();
    char model_path[4096];
    geoloc_error err = {0};
    geoloc_model *m = NULL;
    if (geoloc_model_resolve(a.model, model_path, sizeof model_path, &err) != 0 ||
        geoloc_model_load(model_path, &m, &err) != GEOLOC_OK) {
        fprintf(stderr, "%s: %s\n", CMD, err.message);
        return CLI_EXIT_FAILURE;
    }
    if (m->notice[0]) fprintf(stderr, "%s: notice: %s\n", CMD, m->notice);
    geoloc_explain_options o;
    geoloc_explain_result r = {0};
    geoloc_image photo = {0};
    geoloc_decode_options dec = {.min_shorter_side = geoloc_predict_min_side(m, GEOLOC_CROPS_CENTER)};
    rc = make_options(&a, m, &o);
    if (rc == 0 && geoloc_image_load(photo_path, &dec, &photo, &err) != GEOLOC_OK) rc = CLI_EXIT_FAILURE;
    double t1 = cli_now_seconds();
    if (rc == 0) {
        geoloc_status s = geoloc_explain(m, &photo, &o, &r, &err);
        rc = s == GEOLOC_OK ? 0 : s == GEOLOC_E_ARG ? CLI_EXIT_USAGE : CLI_EXIT_FAILURE;
    }
    double t2 = cli_now_seconds();
    if (rc == 0 && geoloc_explain_write_png(&r, a.out, &err) != GEOLOC_OK) rc = CLI_EXIT_FAILURE;
    if (rc && err.message[0]) fprintf(stderr, "%s: %s\n", CMD, err.message);
    if (rc == 0 && a.csv) rc = write_csv(&r, a.csv);
    if (rc == 0) {
        print_summary(photo_path, m, &r, a.out, t2 - t1);
        printf("total %.2f s (model loading and the photo included)\n", cli_now_seconds() - t0);
    }
    geoloc_explain_free(&r);
    geoloc_image_free(&photo);
    geoloc_model_free(m);
    return rc;
}
