/* Photos for the commands that take photos and folders: photo lists, the
 * model and its predictor, batched prediction of files. */
#include "cli/cli_photos.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli/cli_util.h"
#include "geoloc/array.h"
#include "geoloc/image.h"
#include "geoloc/io.h"

#define MAX_DEPTH 64

int cli_is_photo_name(const char *name) {
    const char *dot = strrchr(name, '.');
    if (!dot) return 0;
    char ext[8];
    size_t n = strlen(dot + 1);
    if (n == 0 || n >= sizeof ext) return 0;
    for (size_t i = 0; i < n; i++) ext[i] = (char)tolower((unsigned char)dot[1 + i]);
    ext[n] = '\0';
    return !strcmp(ext, "jpg") || !strcmp(ext, "jpeg") || !strcmp(ext, "png") || !strcmp(ext, "webp");
}

void cli_json_string(FILE *out, const char *s) {
    fputc('"', out);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') fprintf(out, "\\%c", c);
        else if (c < 0x20) fprintf(out, "\\u%04x", c);
        else fputc(c, out);
    }
    fputc('"', out);
}

static int push(const char *cmd, cli_photo_list *l, const char *path) {
    if (geoloc_array_grow((void **)&l->paths, &l->cap, l->n + 1, sizeof *l->paths)) goto oom;
    if (!(l->paths[l->n] = strdup(path))) goto oom;
    l->n++;
    return 0;
oom:
    fprintf(stderr, "%s: out of memory listing photos\n", cmd);
    return -1;
}

/* Adds the photos under dir, sorted by name at every level. */
static int walk(const char *cmd, cli_photo_list *l, const char *dir, int depth) {
    DIR *d = opendir(dir);
    if (!d) {
        fprintf(stderr, "%s: cannot open folder %s: %s\n", cmd, dir, strerror(errno));
        return -1;
    }
    cli_photo_list names = {0};
    struct dirent *e;
    int rc = 0;
    while (rc == 0 && (e = readdir(d)))
        if (e->d_name[0] != '.') rc = push(cmd, &names, e->d_name);
    closedir(d);
    if (names.n) qsort(names.paths, names.n, sizeof *names.paths, cli_compare_strings);
    size_t len = strlen(dir);
    const char *sep = len && dir[len - 1] == '/' ? "" : "/";
    for (size_t k = 0; k < names.n && rc == 0; k++) {
        char *path = malloc(len + strlen(names.paths[k]) + 2);
        if (!path) {
            fprintf(stderr, "%s: out of memory listing photos\n", cmd);
            rc = -1;
            break;
        }
        sprintf(path, "%s%s%s", dir, sep, names.paths[k]);
        struct stat ls, st;
        if (lstat(path, &ls) == 0 && S_ISDIR(ls.st_mode)) {
            if (depth < MAX_DEPTH) rc = walk(cmd, l, path, depth + 1);
        } else if (stat(path, &st) == 0 && S_ISREG(st.st_mode) && cli_is_photo_name(names.paths[k])) {
            rc = push(cmd, l, path);
        }
        free(path);
    }
    cli_photo_list_free(&names);
    return rc;
}

int cli_photo_list_add(const char *cmd, cli_photo_list *l, const char *arg) {
    struct stat st;
    if (stat(arg, &st) == 0 && S_ISDIR(st.st_mode)) {
        size_t before = l->n;
        l->folders++;
        if (walk(cmd, l, arg, 0) != 0) return -1;
        if (l->n == before) fprintf(stderr, "%s: no photos (.jpg, .jpeg, .png, .webp) in %s\n", cmd, arg);
        return 0;
    }
    return push(cmd, l, arg); /* a missing file is reported when it is read */
}

void cli_photo_list_free(cli_photo_list *l) {
    for (size_t k = 0; k < l->n; k++) free(l->paths[k]);
    free(l->paths);
    memset(l, 0, sizeof *l);
}

/* ---- the model ------------------------------------------------------------------ */

int cli_parse_crops(const char *cmd, const char *text, geoloc_crop_mode *out) {
    const geoloc_crop_mode modes[3] = {GEOLOC_CROPS_THREE, GEOLOC_CROPS_FIVE, GEOLOC_CROPS_CENTER};
    for (int k = 0; k < 3; k++)
        if (!strcmp(text, cli_crops_name(modes[k]))) {
            *out = modes[k];
            return 0;
        }
    fprintf(stderr, "%s: --crops %s: expected three, five or center\n", cmd, text);
    return 2;
}

const char *cli_crops_name(geoloc_crop_mode crops) {
    return crops == GEOLOC_CROPS_FIVE ? "five" : crops == GEOLOC_CROPS_CENTER ? "center" : "three";
}

int cli_is_prediction_option(const char *name) {
    return !strcmp(name, "--model") || !strcmp(name, "--partition") || !strcmp(name, "--crops") ||
           !strcmp(name, "--batch");
}

int cli_set_prediction_option(const char *cmd, const char *name, const char *value, const char **model,
                              const char **partition, geoloc_predict_options *opt) {
    if (!strcmp(name, "--model")) *model = value;
    else if (!strcmp(name, "--partition")) *partition = value;
    else if (!strcmp(name, "--crops")) return cli_parse_crops(cmd, value, &opt->crops);
    else if (!strcmp(name, "--batch")) return cli_parse_batch(cmd, value, &opt->batch);
    return 0;
}

int cli_parse_batch(const char *cmd, const char *text, int *out) {
    long n;
    if (cli_parse_int(cmd, "--batch", text, &n) != 0) return 2;
    if (n < 1 || n > 256) {
        fprintf(stderr, "%s: --batch %ld: expected 1 to 256\n", cmd, n);
        return 2;
    }
    *out = (int)n;
    return 0;
}

/* The partition named by text (a name, an index, or "hierarchical"), or -2. */
static int find_partition(const geoloc_model *m, const char *text) {
    if (!text || !strcmp(text, "hierarchical")) return -1;
    for (size_t f = 0; f < m->n_partitions; f++)
        if (!strcmp(m->partition_names[f], text)) return (int)f;
    char *end;
    long v = strtol(text, &end, 10);
    return end != text && !*end && v >= 0 && v < (long)m->n_partitions ? (int)v : -2;
}

int cli_runner_open(const char *cmd, const char *model_arg, const char *partition,
                    const geoloc_predict_options *opt, size_t n_photos, cli_runner *c) {
    memset(c, 0, sizeof *c);
    double t0 = cli_now_seconds();
    geoloc_error err = {0};
    if (geoloc_model_resolve(model_arg, c->path, sizeof c->path, &err) != 0 ||
        geoloc_model_load(c->path, &c->model, &err) != GEOLOC_OK) {
        fprintf(stderr, "%s: %s\n", cmd, err.message);
        return 1;
    }
    c->opt = *opt;
    c->opt.partition = find_partition(c->model, partition);
    if (c->opt.partition == -2) {
        fprintf(stderr, "%s: --partition %s: the model's partitions are", cmd, partition);
        for (size_t f = 0; f < c->model->n_partitions; f++)
            fprintf(stderr, "%s %s (%zu)", f ? "," : "", c->model->partition_names[f], f);
        fprintf(stderr, "; or hierarchical\n");
        return 2;
    }
    if (n_photos < (size_t)c->opt.batch) c->opt.batch = n_photos ? (int)n_photos : 1;
    c->batch = c->opt.batch;
    if (geoloc_predictor_create(c->model, &c->opt, &c->pred, &err) != GEOLOC_OK) {
        fprintf(stderr, "%s: %s: %s\n", cmd, c->path, err.message);
        return 1;
    }
    c->load_seconds = cli_now_seconds() - t0;
    return 0;
}

void cli_runner_close(cli_runner *c) {
    geoloc_predictor_free(c->pred);
    geoloc_model_free(c->model);
    memset(c, 0, sizeof *c);
}

/* ---- prediction of files ----------------------------------------------------------- */

/* Buffers for one batch. */
typedef struct batch_bufs {
    geoloc_image *img;
    geoloc_prediction *pred;
    geoloc_photo_meta *meta;
    int *slot;             /* decoded image of each photo, -1: failed */
    char (*why)[512];
    float **dist;
} batch_bufs;

/* Reads, inspects and decodes one photo into *img; 0, or -1 with why. */
static int read_photo(const char *path, const geoloc_decode_options *dopt, geoloc_image *img,
                      geoloc_photo_meta *meta, char *why, size_t why_size) {
    const void *data;
    size_t size;
    geoloc_error err = {0};
    memset(meta, 0, sizeof *meta);
    if (geoloc_mapped_file_open(path, &data, &size, &err) != GEOLOC_OK) {
        snprintf(why, why_size, "%s", err.message);
        return -1;
    }
    if (geoloc_photo_meta_read(data, size, path, meta, &err) != GEOLOC_OK) memset(meta, 0, sizeof *meta);
    geoloc_status s = geoloc_image_decode(data, size, path, dopt, img, &err);
    geoloc_mapped_file_close(data, size);
    if (s != GEOLOC_OK) {
        snprintf(why, why_size, "%s", err.message);
        return -1;
    }
    return 0;
}

long cli_predict_files(const char *cmd, cli_runner *c, const char *const *paths, size_t n,
                       int want_distribution, void (*done)(void *ctx, const cli_photo_result *r),
                       void *ctx) {
    size_t B = (size_t)c->batch, classes = c->model->partitions[c->opt.partition >= 0
                                                                    ? (size_t)c->opt.partition
                                                                    : c->model->n_partitions - 1]->n;
    batch_bufs b = {calloc(B, sizeof *b.img), calloc(B, sizeof *b.pred), calloc(B, sizeof *b.meta),
                    calloc(B, sizeof *b.slot), calloc(B, sizeof *b.why), calloc(B, sizeof *b.dist)};
    long failed = 0;
    int ok = b.img && b.pred && b.meta && b.slot && b.why && b.dist;
    for (size_t i = 0; ok && want_distribution && i < B; i++) ok = (b.dist[i] = malloc(classes * sizeof(float))) != NULL;
    if (!ok) {
        fprintf(stderr, "%s: out of memory\n", cmd);
        failed = -1;
    }
    geoloc_decode_options dopt = {.min_shorter_side = geoloc_predict_min_side(c->model, c->opt.crops)};
    for (size_t start = 0; failed >= 0 && start < n; start += B) {
        size_t count = n - start < B ? n - start : B, decoded = 0;
        for (size_t i = 0; i < count; i++) {
            b.slot[i] = read_photo(paths[start + i], &dopt, &b.img[decoded], &b.meta[i], b.why[i],
                                   sizeof b.why[i]) == 0 ? (int)decoded++ : -1;
            failed += b.slot[i] < 0;
        }
        geoloc_error err = {0};
        if (decoded && geoloc_predict(c->pred, b.img, decoded, b.pred, want_distribution ? b.dist : NULL,
                                      &err) != GEOLOC_OK) {
            fprintf(stderr, "%s: %s\n", cmd, err.message);
            failed = -1;
        }
        for (size_t i = 0; failed >= 0 && i < count; i++) {
            int s = b.slot[i];
            cli_photo_result r = {start + i, paths[start + i], s >= 0 ? &b.pred[s] : NULL,
                                  s >= 0 && want_distribution ? b.dist[s] : NULL, &b.meta[i],
                                  s >= 0 ? NULL : b.why[i]};
            done(ctx, &r);
        }
        for (size_t i = 0; i < decoded; i++) geoloc_image_free(&b.img[i]);
    }
    for (size_t i = 0; b.dist && i < B; i++) free(b.dist[i]);
    free(b.img);
    free(b.pred);
    free(b.meta);
    free(b.slot);
    free(b.why);
    free(b.dist);
    return failed;
}
