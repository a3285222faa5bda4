/* geoloc predict's albums: every photo predicted and kept (its answer, its
 * probabilities or, for the album LSTM, its pooled features), the albums
 * made, then each photo answered with its album's answer. */
#include "cli/cli_predict_album.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli_album_by.h"
#include "cli/cli_options.h"

/* What a photo's answer was, kept until its album is answered. */
typedef struct kept_answer {
    char *name, *error;         /* error: why it has no prediction (NULL: predicted) */
    int predicted;
    geoloc_prediction pred;     /* the photo alone */
    geoloc_photo_meta meta;
    int n_warnings;
    char warnings[GEOLOC_IMAGE_MAX_WARNINGS][GEOLOC_IMAGE_WARNING_SIZE];
} kept_answer;

typedef struct album_run {
    const char *cmd;
    const cli_predict_album_args *a;
    const cli_runner *c;
    geoloc_album_probs *probs;  /* fusion: each photo's probabilities, every partition (NULL: lstm) */
    float *features;            /* lstm: each photo's pooled features, dim floats a row (NULL: fusion) */
    size_t dim;
    kept_answer *kept;
    int failed;                 /* out of memory, or refused probabilities (message printed) */
} album_run;

int cli_predict_album_open_lstm(const char *cmd, const char *path, const cli_runner *c, geoloc_album_lstm **out) {
    *out = NULL;
    if (!path) return 0;
    geoloc_error err = {0};
    if (geoloc_album_lstm_load(path, c->model, out, &err) == GEOLOC_OK) return 0;
    fprintf(stderr, "%s: --album-lstm %s\n", cmd, err.message);
    return err.status == GEOLOC_E_ARG ? CLI_EXIT_USAGE : CLI_EXIT_FAILURE;
}

/* The name of an album method as the answers give it: mean, logsum, or
 * lstm / blstm (the album LSTM's directions). */
static const char *method_name(int method, const geoloc_album_lstm *lstm) {
    if (method != CLI_ALBUM_METHOD_LSTM) return geoloc_album_method_name((geoloc_album_method)method);
    return geoloc_album_lstm_bidirectional(lstm) ? "blstm" : "lstm";
}

/* Keeps a photo's answer and probabilities or features (the album answers come later). */
static int on_album_photo(void *ctx, const geoloc_photo_answer *a) {
    album_run *r = ctx;
    kept_answer *k = &r->kept[a->index];
    k->name = strdup(a->name);
    k->error = a->pred ? NULL : strdup(a->error ? a->error : "unreadable");
    if (!k->name || (!a->pred && !k->error)) {
        fprintf(stderr, "%s: out of memory\n", r->cmd);
        return r->failed = 1;
    }
    if (a->meta) k->meta = *a->meta;
    k->n_warnings = a->n_warnings;
    for (int w = 0; w < a->n_warnings && w < GEOLOC_IMAGE_MAX_WARNINGS; w++)
        memcpy(k->warnings[w], a->warnings[w], sizeof k->warnings[w]);
    if (a->pred) {
        k->predicted = 1;
        k->pred = *a->pred;
        if (r->features) geoloc_predictor_features(r->c->pred, a->run_index, r->features + a->index * r->dim);
        const float *geo[GEOLOC_MODEL_MAX_PARTITIONS], *scene;
        int crops = r->probs ? geoloc_predictor_probs(r->c->pred, a->run_index, geo, &scene) : 0;
        geoloc_error err = {0};
        if (r->probs && geoloc_album_probs_set(r->probs, a->index, geo, scene, (size_t)crops, &err) != GEOLOC_OK) {
            fprintf(stderr, "%s: %s: %s\n", r->cmd, a->name, err.message);
            return r->failed = 1;
        }
    }
    cli_progress_update(r->a->progress, ++*r->a->done);
    return 0;
}

/* The last path component of path. */
static const char *base_name(const char *path) {
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}

/* Each photo's album key: "all", its folder (written to folders[i], to free),
 * or its manifest row's value of the column (a photo not listed: NULL,
 * alone). Counts the photos not listed. */
static size_t album_keys(const cli_predict_album_args *a, char *const *paths, size_t n, char **folders,
                         const char **keys) {
    const geoloc_manifest *meta = a->manifest;
    size_t unlisted = 0;
    for (size_t i = 0; i < n; i++) {
        if (a->album) {
            keys[i] = "all";
        } else if (!meta) {
            const char *slash = strrchr(paths[i], '/');
            folders[i] = slash ? strndup(paths[i], (size_t)(slash - paths[i]) + (slash == paths[i])) : strdup(".");
            keys[i] = folders[i];
        } else {
            keys[i] = NULL;
            size_t k = 0;
            while (k < meta->n && strcmp(base_name(meta->row[k].id), base_name(paths[i]))) k++;
            if (k < meta->n) keys[i] = a->row_keys[k];
            else unlisted++;
        }
    }
    return unlisted;
}

/* Albums by the photos' EXIF capture times (cli_album_by_group: album_of,
 * order, names); 0, or 1 after a message. */
static int time_albums(const cli_album_by *by, const album_run *r, char *const *paths, size_t n, size_t *album_of,
                       size_t *order, size_t *n_albums, char ***ids) {
    int64_t *seconds = malloc(n * sizeof *seconds);
    unsigned char *has_time = malloc(n);
    int failed = !seconds || !has_time;
    for (size_t i = 0; !failed && i < n; i++) {
        seconds[i] = r->kept[i].meta.time;
        has_time[i] = (unsigned char)r->kept[i].meta.has_time;
    }
    if (failed) fprintf(stderr, "%s: out of memory\n", r->cmd);
    else failed = cli_album_by_group(r->cmd, by, n, (const char *const *)paths, NULL, seconds, has_time, album_of,
                                     order, n_albums, ids) != 0;
    free(seconds);
    free(has_time);
    return failed;
}

/* The albums read photo by photo (prior, lstm): those of album_of with a predicted photo, each its
 * predicted photos in the order they come in order[0..n) (start and rows
 * malloc'd into set); size[j]: album j's predicted photos. 0, or -1 when out
 * of memory. */
static int album_set(const album_run *r, const size_t *album_of, const size_t *order, size_t n, size_t n_albums,
                       size_t *size, geoloc_album_set *set) {
    size_t *start = calloc(n_albums + 1, sizeof *start), *rows = malloc((n ? n : 1) * sizeof *rows);
    size_t *next = calloc(n_albums ? n_albums : 1, sizeof *next); /* album j's next row in rows */
    if (!start || !rows || !next) {
        free(start);
        free(rows);
        free(next);
        return -1;
    }
    memset(size, 0, n_albums * sizeof *size);
    for (size_t i = 0; i < n; i++) size[album_of[i]] += r->kept[i].predicted;
    size_t used = 0, placed = 0;
    for (size_t j = 0; j < n_albums; j++)
        if (size[j]) {
            next[j] = placed;
            placed += size[j];
            start[++used] = placed;
        }
    for (size_t k = 0; k < n; k++)
        if (r->kept[order[k]].predicted) rows[next[album_of[order[k]]]++] = order[k];
    free(next);
    *set = (geoloc_album_set){used, start, rows};
    return 0;
}

/* The answers of the albums into pred (fusion: album j's at j, its
 * distribution in dists[j]; prior and lstm: photo i's at i, prior's
 * distribution in dists[i]) and size[j] (album j's photos answered); order:
 * the photos album by album in reading order. GEOLOC_OK, or the error in err. */
static geoloc_status answer_albums(const album_run *r, const size_t *album_of, const size_t *order, size_t n,
                                   size_t n_albums, geoloc_prediction *pred, size_t *size, float **dists,
                                   geoloc_error *err) {
    const cli_predict_album_args *a = r->a;
    if (a->method != CLI_ALBUM_METHOD_LSTM && a->method != GEOLOC_ALBUM_PRIOR)
        return geoloc_album_answer_all(r->probs, album_of, n_albums, (geoloc_album_method)a->method, &r->c->opt,
                                       pred, size, dists, err);
    geoloc_album_set set;
    if (album_set(r, album_of, order, n, n_albums, size, &set) != 0) return GEOLOC_E_NOMEM;
    geoloc_status s = GEOLOC_OK;
    if (a->method == CLI_ALBUM_METHOD_LSTM) s = geoloc_album_lstm_answers(a->lstm, r->features, &set, &r->c->opt, pred, err);
    for (size_t j = 0; a->method == GEOLOC_ALBUM_PRIOR && s == GEOLOC_OK && j < set.n_albums; j++) {
        const size_t *rows = set.rows + set.start[j], len = set.start[j + 1] - set.start[j];
        for (size_t i = 0; s == GEOLOC_OK && i < len; i++)
            s = geoloc_album_answer_photo(r->probs, rows, len, rows[i], &r->c->opt, &pred[rows[i]],
                                          dists ? dists[rows[i]] : NULL, err);
    }
    free((void *)set.start);
    free((void *)set.rows);
    return s;
}

int cli_predict_albums(const char *cmd, const cli_predict_album_args *a, cli_runner *c, char **paths, size_t n,
                       geoloc_batch_stats *st) {
    int lstm = a->method == CLI_ALBUM_METHOD_LSTM, per_photo = lstm || a->method == GEOLOC_ALBUM_PRIOR;
    album_run r = {cmd, a, c, NULL, NULL, lstm ? (size_t)geoloc_predictor_feature_dim(c->pred) : 0,
                   calloc(n, sizeof *r.kept), 0};
    const char **keys = calloc(n, sizeof *keys);
    char **folders = calloc(n, sizeof *folders);
    size_t *album_of = malloc(n * sizeof *album_of), *order = malloc(n * sizeof *order), n_albums = 0;
    size_t classes = c->model->partitions[a->answer]->n, answers = 0;
    geoloc_prediction *pred = NULL;
    size_t *size = NULL;
    float *dist = NULL, **dists = NULL;
    geoloc_error err = {0};
    int failed = !r.kept || !keys || !folders || !album_of || !order;
    if (!failed && lstm) failed = !(r.features = malloc(n * r.dim * sizeof *r.features));
    else if (!failed) failed = geoloc_album_probs_create(c->model, n, &r.probs, &err) != GEOLOC_OK;
    if (!failed) failed = cli_predict_paths(cmd, c, (const char *const *)paths, n, 0, 0, on_album_photo, &r, st) || r.failed;
    cli_progress_clear(a->progress);
    size_t unlisted = failed ? 0 : album_keys(a, paths, n, folders, keys);
    if (unlisted)
        fprintf(stderr, "%s: %zu photo%s not in %s: each an album of its own\n", cmd, unlisted,
                unlisted == 1 ? "" : "s", a->meta);
    for (size_t i = 0; order && i < n; i++) order[i] = i; /* input order, unless by time */
    cli_album_by by;
    char **time_ids = NULL; /* --album-by time:HOURS: the albums' names */
    if (!failed && a->album_by && cli_album_by_parse(a->album_by, &by) == 0 && by.kind == CLI_ALBUM_TIME)
        failed = time_albums(&by, &r, paths, n, album_of, order, &n_albums, &time_ids);
    else if (!failed)
        failed = geoloc_album_group(keys, n, album_of, &n_albums, &err) != GEOLOC_OK;
    if (!failed) {
        answers = per_photo ? n : n_albums; /* prior, lstm: one answer a photo */
        pred = malloc((answers ? answers : 1) * sizeof *pred);
        size = malloc((n_albums ? n_albums : 1) * sizeof *size);
        dist = lstm ? NULL : malloc((answers ? answers : 1) * classes * sizeof *dist);
        dists = lstm ? NULL : malloc((answers ? answers : 1) * sizeof *dists);
        failed = !pred || !size || (!lstm && (!dist || !dists));
        for (size_t j = 0; !failed && !lstm && j < answers; j++) dists[j] = dist + j * classes;
    }
    if (!failed) failed = answer_albums(&r, album_of, order, n, n_albums, pred, size, dists, &err) != GEOLOC_OK;
    if (failed && !r.failed) fprintf(stderr, "%s: %s\n", cmd, err.message[0] ? err.message : "out of memory");
    for (size_t i = 0; !failed && i < n; i++) {
        const kept_answer *k = &r.kept[i];
        size_t j = album_of[i];
        geoloc_album_info info = {time_ids ? time_ids[j] : keys[i] ? keys[i] : base_name(k->name), size[j],
                                  lstm ? GEOLOC_ALBUM_MEAN : (geoloc_album_method)a->method, &k->pred, NULL,
                                  method_name(a->method, a->lstm)};
        geoloc_photo_answer ans = {i, k->name, k->predicted ? &pred[per_photo ? i : j] : NULL,
                                   k->predicted && dists ? dists[per_photo ? i : j] : NULL, &k->meta, k->error, k->n_warnings,
                                   k->warnings, NULL, 0, NULL};
        if (a->write(a->ctx, &ans, &info) != 0) break;
    }
    for (size_t i = 0; i < n; i++) {
        if (r.kept) {
            free(r.kept[i].name);
            free(r.kept[i].error);
        }
        if (folders) free(folders[i]);
    }
    geoloc_album_probs_free(r.probs);
    cli_album_ids_free(time_ids, n_albums);
    free(r.features);
    free(r.kept);
    free(keys);
    free(folders);
    free(album_of);
    free(order);
    free(pred);
    free(size);
    free(dist);
    free(dists);
    return failed;
}
