/* Photos for the commands that take photos and folders: photo lists, progress,
 * the model and its predictor, prediction of files. */
#include "cli/cli_photos.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli/cli_util.h"
#include "geoloc/dist.h"
#include "geoloc/image.h"

#define MAX_LISTED_MISSING 5 /* missing photos named before the count */

void cli_json_string(FILE *out, const char *s) { geoloc_json_write_string(out, s); }

/* Names an entry the walk left out on stderr (several ranks: rank 0 alone). */
static void report_skip(void *cmd, const char *path, const char *why, int errnum) {
    if (geoloc_dist_rank() != 0) return;
    fprintf(stderr, "%s: skipped %s: %s%s%s\n", (const char *)cmd, path, why, errnum ? ": " : "",
            errnum ? strerror(errnum) : "");
}

int cli_photo_paths_add(const char *cmd, geoloc_photo_paths *l, const char *arg) {
    size_t folders = l->folders, before = l->n, skipped = l->skipped;
    geoloc_error err = {0};
    if (geoloc_photo_paths_add(l, arg, report_skip, (void *)cmd, &err) != GEOLOC_OK) {
        fprintf(stderr, "%s: %s\n", cmd, err.message);
        return -1;
    }
    if (l->folders > folders && l->n == before && l->skipped == skipped)
        fprintf(stderr, "%s: no photos (.jpg, .jpeg, .png, .webp) in %s\n", cmd, arg);
    return 0;
}

/* ---- progress ------------------------------------------------------------------- */

/* ---- the model ------------------------------------------------------------------ */

const char *const cli_crops_choices[] = {"three", "five", "center", NULL};
const char *const cli_precision_choices[] = {"f32", "int8", NULL};
const char *const cli_isn_choices[] = {"soft", "hard", "none", NULL};
const char *const cli_isn_oracle_choices[] = {"soft", "hard", "none", "oracle", NULL};

const char *cli_crops_name(geoloc_crop_mode crops) {
    return (unsigned)crops <= GEOLOC_CROPS_CENTER ? cli_crops_choices[crops] : "three";
}

cli_prediction_args cli_prediction_args_default(void) {
    geoloc_predict_options d = geoloc_predict_options_default();
    return (cli_prediction_args){.crops = (int)d.crops, .batch = d.batch};
}

/* The place file: `path`, or the data folders' places.bin when there. 0, or
 * 1 after a message (a given file that cannot be opened). */
static int open_places(const char *cmd, const char *path, geoloc_place_db **out) {
    geoloc_error err = {0};
    if (geoloc_place_open_optional(path, out, &err) != GEOLOC_OK) {
        fprintf(stderr, "%s: %s\n", cmd, err.message);
        return 1;
    }
    if (!*out)
        fprintf(stderr, "%s: notice: no place names: %s is not in the data folders (tools/fetch-places.sh "
                "fetches it)\n", cmd, GEOLOC_PLACE_FILE);
    return 0;
}

int cli_runner_open(const char *cmd, const cli_prediction_args *args, int top_k, size_t n_photos,
                    cli_runner *c) {
    memset(c, 0, sizeof *c);
    double t0 = cli_now_seconds();
    geoloc_error err = {0};
    if (geoloc_model_resolve(args->model, c->path, sizeof c->path, &err) != 0 ||
        geoloc_model_load(c->path, &c->model, &err) != GEOLOC_OK) {
        fprintf(stderr, "%s: %s\n", cmd, err.message);
        return 1;
    }
    if (c->model->notice[0]) fprintf(stderr, "%s: notice: %s\n", cmd, c->model->notice);
    if (c->model->n_partitions == 0) {
        fprintf(stderr, "%s: %s: a scene classifier (no partitions) answers no location: geoloc scene label "
                "uses it\n", cmd, c->path);
        return 1;
    }
    const char *partition = args->partition;
    c->opt = geoloc_predict_options_default();
    c->opt.crops = (geoloc_crop_mode)args->crops;
    c->opt.batch = (int)args->batch;
    c->opt.max_pixels = args->max_pixels;
    c->opt.strict = args->strict;
    c->opt.max_radius_km = args->max_radius;
    c->opt.precision = (geoloc_precision)args->precision;
    c->opt.isn = args->isn == CLI_ISN_ORACLE ? GEOLOC_ISN_SOFT : (geoloc_isn_routing)args->isn;
    if (args->isn == CLI_ISN_ORACLE && !c->model->n_isn) {
        fprintf(stderr, "%s: --isn oracle: %s has no Individual Scene Networks\n", cmd, c->path);
        return 1;
    }
    c->opt.top_k = top_k;
    c->opt.partition = geoloc_model_find_partition(c->model, partition);
    if (c->opt.partition == -2) {
        fprintf(stderr, "%s: --partition %s: the model's partitions are", cmd, partition);
        for (size_t f = 0; f < c->model->n_partitions; f++)
            fprintf(stderr, "%s %s (%zu)", f ? "," : "", c->model->partition_names[f], f);
        fprintf(stderr, "; or hierarchical\n");
        return 2;
    }
    if (n_photos < (size_t)c->opt.batch) c->opt.batch = n_photos ? (int)n_photos : 1;
    if (geoloc_predictor_create(c->model, &c->opt, &c->pred, &err) != GEOLOC_OK) {
        fprintf(stderr, "%s: %s: %s\n", cmd, c->path, err.message);
        return 1;
    }
    if (open_places(cmd, args->places, &c->places) != 0) return 1;
    c->load_seconds = cli_now_seconds() - t0;
    return 0;
}

const geoloc_place *cli_runner_place(const cli_runner *c, double lat, double lon, uint32_t min_population,
                                     geoloc_place *buf) {
    geoloc_error err = {0};
    if (!c->places || geoloc_place_lookup(c->places, lat, lon, min_population, buf, &err) != GEOLOC_OK) return NULL;
    return buf;
}

void cli_runner_close(cli_runner *c) {
    geoloc_place_close(c->places);
    geoloc_predictor_free(c->pred);
    geoloc_model_free(c->model);
    memset(c, 0, sizeof *c);
}

/* ---- prediction of files ----------------------------------------------------------- */

int cli_predict_paths(const char *cmd, cli_runner *c, const char *const *paths, size_t n, int want_distribution,
                      int split, geoloc_answer_fn done, void *ctx, geoloc_batch_stats *stats) {
    geoloc_photo_input *in = calloc(n ? n : 1, sizeof *in);
    if (!in) {
        fprintf(stderr, "%s: out of memory\n", cmd);
        return -1;
    }
    for (size_t i = 0; i < n; i++) in[i].path = paths[i];
    geoloc_error err = {0};
    geoloc_status s = (split ? geoloc_predict_photos_split : geoloc_predict_photos)(c->pred, in, n, want_distribution,
                                                                                  done, ctx, stats, &err);
    free(in);
    if (s != GEOLOC_OK) {
        fprintf(stderr, "%s: %s: %s\n", cmd, c->path, err.message);
        return -1;
    }
    return 0;
}

char **cli_manifest_photo_paths(const char *cmd, const geoloc_manifest *m, const char *dir) {
    char **paths = calloc(m->n, sizeof *paths);
    size_t missing = 0;
    for (size_t k = 0; paths && k < m->n; k++) {
        size_t len = strlen(dir) + strlen(m->row[k].id) + 2;
        if (!(paths[k] = malloc(len))) {
            fprintf(stderr, "%s: out of memory\n", cmd);
            missing = m->n + 1;
            break;
        }
        snprintf(paths[k], len, "%s/%s", dir, m->row[k].id);
        struct stat st;
        if (stat(paths[k], &st) != 0 || !S_ISREG(st.st_mode)) {
            if (++missing <= MAX_LISTED_MISSING)
                fprintf(stderr, "%s: %s (line %ld of the manifest): no such photo\n", cmd, paths[k],
                        m->row[k].line);
        }
    }
    if (paths && !missing) return paths;
    if (paths && missing <= m->n)
        fprintf(stderr, "%s: %zu of the %zu photos listed are missing from %s%s; nothing done\n", cmd, missing,
                m->n, dir, missing > MAX_LISTED_MISSING ? " (first 5 shown)" : "");
    for (size_t k = 0; paths && k < m->n; k++) free(paths[k]);
    free(paths);
    return NULL;
}
