/* geoloc album train: PlaNet's LSTM over albums (geoloc/album_lstm.h),
 * trained on the authors' photos of a features cache, with the held-out
 * authors' accuracy of the single photo and of the LSTM. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli_util.h"
#include "cli/commands.h"
#include "geoloc/album.h"
#include "geoloc/album_lstm.h"
#include "geoloc/calibration.h"
#include "geoloc/dataset.h"

#define CMD "geoloc album train"

typedef struct {
    const char *model, *features, *meta, *val_fold, *out;
    double val_fraction, lr, head_dropout;
    uint64_t seed;
    int bidirectional;
    long hidden, epochs, max_len, albums, batch;
} album_train_args;

static const cli_option TRAIN_OPTIONS[] = {
    CLI_OPTION("model", 0, CLI_STRING, album_train_args, model, "FILE", "geo model (heads frozen)", .required = 1),
    CLI_OPTION("features", 0, CLI_STRING, album_train_args, features, "FILE",
               "features cache of the manifest's photos (geoloc train --features)", .required = 1),
    CLI_OPTION("meta", 0, CLI_STRING, album_train_args, meta, "FILE",
               "manifest the cache was made from (AUTHOR: the albums)", .required = 1),
    CLI_OPTION("val-fold", 0, CLI_STRING, album_train_args, val_fold, "K/N",
               "hold out fold K of N author-grouped folds (as geoloc train)"),
    CLI_OPTION("val-fraction", 0, CLI_DOUBLE, album_train_args, val_fraction, "F",
               "hold out this share of the photos, split by author", .min = 0, .max = 1),
    CLI_OPTION("seed", 0, CLI_UINT64, album_train_args, seed, "N", "split, initialisation, sub-albums"),
    CLI_OPTION("bidirectional", 0, CLI_FLAG, album_train_args, bidirectional, NULL, "read albums both ways (BLSTM)"),
    CLI_OPTION("hidden", 0, CLI_INT, album_train_args, hidden, "H", "LSTM units per direction", .min = 1,
               .max = 4096),
    CLI_OPTION("epochs", 0, CLI_INT, album_train_args, epochs, "E", "training epochs", .min = 1, .max = 100000),
    CLI_OPTION("albums", 0, CLI_INT, album_train_args, albums, "N", "random sub-albums per epoch", .min = 1,
               .max = 100000000),
    CLI_OPTION("max-len", 0, CLI_INT, album_train_args, max_len, "L", "longest sub-album (2..L photos)", .min = 2,
               .max = 10000),
    CLI_OPTION("batch", 0, CLI_INT, album_train_args, batch, "B", "sub-albums per step", .min = 1, .max = 4096),
    CLI_OPTION("lr", 0, CLI_DOUBLE, album_train_args, lr, "LR", "SGD learning rate (cosine to 0)", .min = 1e-9,
               .max = 100),
    CLI_OPTION("head-dropout", 0, CLI_DOUBLE, album_train_args, head_dropout, "P",
               "hide the heads' answer of this share of training photos", .min = 0, .max = 0.99),
    CLI_OPTION("out", 'o', CLI_STRING, album_train_args, out, "FILE", "the album LSTM (safetensors)",
               .required = 1),
    CLI_END};

static const cli_spec TRAIN_SPEC = {
    CMD, NULL, 0, 0,
    "Trains PlaNet's LSTM over albums: the photos of one AUTHOR of the manifest\n"
    "are an album (in manifest order); training draws random sub-albums of 2..L\n"
    "photos of the training authors. Per photo, the logits over every partition's\n"
    "cells are the geo model's own heads plus W h_t (W starts at zero: untrained,\n"
    "the answer is the single photo's). With a held-out split, prints the held-out\n"
    "photos' accuracy of the single photo, of album fusion (mean, logsum: geoloc\n"
    "predict --album-method) and of the LSTM reading each held-out author's whole\n"
    "album.\n",
    TRAIN_OPTIONS, NULL};

static void on_epoch(void *ctx, int epoch, double loss) {
    (void)ctx;
    fprintf(stderr, "epoch %d: loss %.4f\n", epoch, loss);
}

/* is_val from --val-fold K/N or --val-fraction (author-grouped, as geoloc train). */
static int split(const album_train_args *a, const geoloc_manifest *m, uint8_t *is_val, geoloc_error *err) {
    int k = 0, n = 0, end = 0;
    if (a->val_fold) {
        sscanf(a->val_fold, "%d/%d%n", &k, &n, &end);
        return geoloc_calibration_fold_rows(m, NULL, k, n, a->seed, is_val, err) == GEOLOC_OK ? 0 : -1;
    }
    if (a->val_fraction > 0) {
        geoloc_split_options so = {.val_fraction = a->val_fraction, .seed = a->seed};
        geoloc_split_stats stats;
        return geoloc_dataset_split(m, &so, is_val, &stats, err) == GEOLOC_OK ? 0 : -1;
    }
    memset(is_val, 0, m->n);
    return 0;
}

static void print_accuracy(const char *name, const double *km, size_t n) {
    static const double T[5] = {1, 25, 200, 750, 2500};
    printf("%-14s", name);
    for (int t = 0; t < 5; t++) {
        size_t c = 0;
        for (size_t i = 0; i < n; i++) c += km[i] <= T[t];
        printf("  %6.1f %%", n ? 100.0 * (double)c / (double)n : 0.0);
    }
    printf("\n");
}

/* The held-out albums' accuracy: single photo, album fusion (mean, logsum), LSTM. */
static int report(geoloc_album_lstm *lstm, const float *feat, const double *lat, const double *lng,
                  const geoloc_album_set *val, geoloc_error *err) {
    size_t n = val->start[val->n_albums];
    double *single = malloc((n ? n : 1) * sizeof *single), *album = malloc((n ? n : 1) * sizeof *album);
    double *fused = malloc((n ? n : 1) * sizeof *fused);
    int rc = !single || !album || !fused ||
             geoloc_album_lstm_errors(lstm, feat, lat, lng, val, single, album, err) != GEOLOC_OK;
    if (!rc) {
        printf("held-out: %zu photos in %zu albums (authors)\n", n, val->n_albums);
        printf("%-14s  %8s  %8s  %8s  %8s  %8s\n", "", "1 km", "25 km", "200 km", "750 km", "2500 km");
        print_accuracy("single photo", single, n);
        for (int method = GEOLOC_ALBUM_MEAN; !rc && method <= GEOLOC_ALBUM_LOGSUM; method++) {
            rc = geoloc_album_lstm_fusion_errors(lstm, feat, lat, lng, val, method, fused, err) != GEOLOC_OK;
            if (!rc) print_accuracy(geoloc_album_method_name((geoloc_album_method)method), fused, n);
        }
        if (!rc) print_accuracy(geoloc_album_lstm_bidirectional(lstm) ? "BLSTM" : "LSTM", album, n);
    }
    free(fused);
    free(single);
    free(album);
    return rc;
}

static int album_train(int argc, char **argv) {
    album_train_args a = {.hidden = 64, .epochs = 5, .albums = 2000, .max_len = 8, .batch = 8, .lr = 0.02,
                          .head_dropout = 0.5, .seed = 1};
    int n_args, k = 0, n = 0, end = 0;
    int parsed = cli_parse(&TRAIN_SPEC, &a, argc, argv, &n_args);
    if (parsed != CLI_RUN) return parsed;
    if (a.val_fold && (sscanf(a.val_fold, "%d/%d%n", &k, &n, &end) != 2 || a.val_fold[end] || n < 2 || k < 0 ||
                       k >= n))
        return cli_usage_error(&TRAIN_SPEC, "--val-fold must be K/N with 0 <= K < N and N >= 2");
    if (a.val_fold && a.val_fraction > 0) return cli_usage_error(&TRAIN_SPEC, "--val-fold excludes --val-fraction");
    cli_file inputs[3] = {{"--model", a.model}, {"--features", a.features}, {"--meta", a.meta}},
             out = {"--out", a.out};
    if (cli_check_outputs(CMD, inputs, 3, &out, 1) != 0) return CLI_EXIT_USAGE;

    geoloc_error err = {0};
    geoloc_manifest *m = NULL;
    geoloc_model *geo = NULL;
    geoloc_album_lstm *lstm = NULL;
    float *feat = NULL;
    uint8_t *ok = NULL, *is_val = NULL, *use = NULL;
    double *lat = NULL, *lng = NULL;
    const char **keys = NULL;
    geoloc_album_set train = {0}, val = {0};
    geoloc_manifest_options mo = {0};
    int rc = 1;
    if (geoloc_manifest_read(a.meta, &mo, &m, &err) != GEOLOC_OK || geoloc_model_load(a.model, &geo, &err) ||
        geoloc_album_lstm_create(geo, (int)a.hidden, a.bidirectional, a.seed, &lstm, &err) ||
        geoloc_album_lstm_read_features(a.features, lstm, m->n, &feat, &ok, &err))
        goto done;
    is_val = malloc(m->n + 1), use = malloc(m->n + 1), keys = malloc((m->n + 1) * sizeof *keys);
    lat = malloc((m->n + 1) * sizeof *lat), lng = malloc((m->n + 1) * sizeof *lng);
    if (!is_val || !use || !keys || !lat || !lng) {
        snprintf(err.message, sizeof err.message, "out of memory");
        goto done;
    }
    if (split(&a, m, is_val, &err) != 0 || geoloc_album_manifest_keys(m, "AUTHOR", keys, &err) != GEOLOC_OK) goto done;
    for (size_t i = 0; i < m->n; i++) {
        lat[i] = m->row[i].lat, lng[i] = m->row[i].lng;
        use[i] = ok[i] && !is_val[i];
    }
    if (geoloc_album_set_build(keys, use, m->n, &train, &err) != GEOLOC_OK) goto done;
    for (size_t i = 0; i < m->n; i++) use[i] = ok[i] && is_val[i];
    if (geoloc_album_set_build(keys, use, m->n, &val, &err) != GEOLOC_OK) goto done;
    fprintf(stderr, "%s: %zu training photos in %zu albums, %zu held-out photos in %zu albums\n", CMD,
            train.start[train.n_albums], train.n_albums, val.start[val.n_albums], val.n_albums);
    geoloc_album_lstm_train_options to = geoloc_album_lstm_train_defaults();
    to.epochs = (int)a.epochs, to.albums_per_epoch = (size_t)a.albums, to.max_len = (int)a.max_len;
    to.batch = (int)a.batch, to.lr = a.lr, to.seed = a.seed, to.on_epoch = on_epoch;
    to.head_dropout = a.head_dropout;
    if (geoloc_album_lstm_train(lstm, feat, m->n, lat, lng, &train, &to, NULL, &err) != GEOLOC_OK ||
        geoloc_album_lstm_save(lstm, a.out, &err) != GEOLOC_OK)
        goto done;
    printf("%s: %s LSTM, %d units per direction\n", a.out, a.bidirectional ? "bidirectional" : "unidirectional",
           (int)a.hidden);
    if (val.n_albums > 0 && report(lstm, feat, lat, lng, &val, &err) != 0) goto done;
    rc = 0;
done:
    if (rc) fprintf(stderr, "%s: %s\n", CMD, err.message);
    geoloc_album_set_free(&train);
    geoloc_album_set_free(&val);
    geoloc_album_lstm_free(lstm);
    geoloc_model_free(geo);
    geoloc_manifest_free(m);
    free(feat);
    free(ok);
    free(is_val);
    free(use);
    free(keys);
    free(lat);
    free(lng);
    return rc;
}

const cli_command CLI_ALBUM_COMMANDS[] = {
    {"train", album_train, NULL, "train PlaNet's LSTM over albums on a features cache (albums by AUTHOR)"},
    {NULL}};
