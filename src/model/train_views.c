/* Running the network over fixed views of photos, and the features cache.
 *
 * Views of a photo, in order: the paper's three crops along the longer side
 * (0-2), the same three mirrored (3-5), then random resized crops with a
 * random flip drawn from a fixed seed (6 and up; view 6 + e is the loader's
 * epoch e over the photos in source order, so the same for every run).
 *
 * The features cache is a safetensors file: "features" (F32, photos x views x
 * dim, the pooled backbone features of every photo of the table), "ok" (U8,
 * photos: 0 for a photo that could not be read) and in its metadata a key
 * hashed from everything the features depend on: the backbone file's bytes,
 * the photos' IMG_IDs in order, where they are read from, the views, the
 * image size and the normalisation. A cache whose key differs is recomputed. */
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/error.h"
#include "geoloc/loader.h"
#include "model/model_internal.h"
#include "model/train_internal.h"

#define FEATURES_FORMAT "geoloc-features-1"
#define EXEC_IMAGES 24 /* images per network call while extracting */

static void note_failures(train_ctx *c, const geoloc_batch *b, uint8_t *failed) {
    for (size_t j = 0; j < b->n_failed; j++) {
        if (failed) {
            if (failed[b->failed[j].index]) continue;
            failed[b->failed[j].index] = 1;
        }
        train_warn(c, "skipped: %s", b->failed[j].message);
    }
}

static void progress(train_ctx *c, size_t *done, size_t add, size_t total) {
    if (!done) return;
    *done += add;
    geoloc_train_event ev = {.kind = GEOLOC_TRAIN_EV_FEATURES, .done = *done, .total = total,
                             .elapsed_s = train_now() - c->t0};
    train_report(c, &ev);
}

/* Mirrors each row of a C x S x S image from src into dst. */
static void flip_chw(const float *src, float *dst, int side) {
    for (int ch = 0; ch < 3; ch++)
        for (int y = 0; y < side; y++) {
            const float *s = src + ((size_t)ch * side + y) * side;
            float *d = dst + ((size_t)ch * side + y) * side;
            for (int x = 0; x < side; x++) d[x] = s[side - 1 - x];
        }
}

static geoloc_loader_config loader_config(const train_ctx *c, geoloc_loader_mode mode, size_t batch) {
    geoloc_loader_config lc = geoloc_loader_config_default();
    lc.batch_size = batch;
    lc.threads = c->o->loader_threads;
    lc.shuffle = 0;
    lc.epochs = 1;
    lc.mode = mode;
    lc.out_size = c->o->image_size;
    lc.norm = c->norm;
    return lc;
}

geoloc_status train_run_three(train_ctx *c, geoloc_exec *ex, int photos_per_batch, int views,
                              const size_t *list, size_t n, train_view_fn fn, void *ctx,
                              uint8_t *failed, size_t *progress_done, size_t progress_total,
                              geoloc_error *err) {
    int side = c->o->image_size;
    size_t image = (size_t)3 * side * side;
    train_subset sub = {&c->base, c->base_index, list, n};
    geoloc_source src = train_subset_source(&sub);
    geoloc_loader_config lc = loader_config(c, GEOLOC_LOADER_EVAL_THREE, (size_t)photos_per_batch);
    geoloc_loader *L = NULL;
    float *input = calloc((size_t)photos_per_batch * (size_t)views * image, sizeof *input);
    if (!input) return error_set(err, GEOLOC_E_NOMEM, "out of memory");
    geoloc_status s = geoloc_loader_create(&lc, &src, &L, err);
    geoloc_batch b;
    while (s == GEOLOC_OK && (s = geoloc_loader_next(L, &b, err)) == GEOLOC_OK) {
        note_failures(c, &b, failed);
        for (size_t p = 0; p < b.count; p++) {
            float *dst = input + p * (size_t)views * image;
            memcpy(dst, b.data + p * 3 * image, 3 * image * sizeof *dst);
            for (int v = 3; v < views; v++) flip_chw(dst + (size_t)(v - 3) * image, dst + (size_t)v * image, side);
        }
        if (b.count) {
            if ((s = geoloc_exec_forward(ex, input, err)) != GEOLOC_OK) break;
            for (size_t p = 0; p < b.count; p++) fn(ctx, b.indices[p], 0, views, ex, (int)p * views);
            c->run_images += b.count * (size_t)views;
        }
        progress(c, progress_done, b.count + b.n_failed, progress_total);
    }
    if (s == GEOLOC_E_EMPTY) s = GEOLOC_OK;
    geoloc_loader_destroy(L);
    free(input);
    return s;
}

/* Views first_view.. of photos list[0..n): random resized crops from a fixed seed. */
static geoloc_status run_random(train_ctx *c, geoloc_exec *ex, int batch, int n_views, int first_view,
                                const size_t *list, size_t n, train_view_fn fn, void *ctx, uint8_t *failed,
                                size_t *progress_done, size_t progress_total, geoloc_error *err) {
    train_subset sub = {&c->base, c->base_index, list, n};
    geoloc_source src = train_subset_source(&sub);
    geoloc_loader_config lc = loader_config(c, GEOLOC_LOADER_TRAIN, (size_t)batch);
    lc.epochs = (unsigned)n_views;
    lc.seed = train_mix(c->o->seed ^ 0x7669657773ull);
    geoloc_loader *L = NULL;
    geoloc_status s = geoloc_loader_create(&lc, &src, &L, err);
    geoloc_batch b;
    while (s == GEOLOC_OK && (s = geoloc_loader_next(L, &b, err)) == GEOLOC_OK) {
        note_failures(c, &b, failed);
        if (b.count) {
            if ((s = geoloc_exec_forward(ex, b.data, err)) != GEOLOC_OK) break;
            for (size_t p = 0; p < b.count; p++) fn(ctx, b.indices[p], first_view + (int)b.epoch, 1, ex, (int)p);
            c->run_images += b.count;
        }
        progress(c, progress_done, b.count + b.n_failed, progress_total);
    }
    if (s == GEOLOC_E_EMPTY) s = GEOLOC_OK;
    geoloc_loader_destroy(L);
    return s;
}

/* ---- the cache ---- */

typedef struct {
    float *feat;
    int views, dim;
} feat_sink;

static void store_features(void *ctx, size_t k, int view0, int views, const geoloc_exec *ex, int first) {
    feat_sink *f = ctx;
    const float *src = geoloc_exec_features(ex) + (size_t)first * f->dim;
    memcpy(f->feat + ((size_t)k * f->views + view0) * f->dim, src, (size_t)views * f->dim * sizeof *src);
}

static uint64_t features_key(const train_ctx *c, int views) {
    char where[PATH_MAX + 16];
    const char *dir = c->o->images_dir ? c->o->images_dir : c->o->shards_dir;
    char resolved[PATH_MAX];
    snprintf(where, sizeof where, "%s:%s", c->o->images_dir ? "images" : "shards",
             realpath(dir, resolved) ? resolved : dir);
    uint64_t h = train_hash_bytes(c->photos_hash, where, strlen(where));
    int64_t fields[6] = {views, c->o->image_size, c->norm, c->backbone_cfg.depth,
                         views > 6 ? (int64_t)c->o->seed : 0, (int64_t)c->n};
    h = train_hash_bytes(h, fields, sizeof fields);
    return train_hash_bytes(h ^ c->backbone_hash, FEATURES_FORMAT, sizeof FEATURES_FORMAT);
}

/* Uses the cache file when its key matches; 1 when used. */
static int try_cache(train_ctx *c, const char *key, int views, int dim) {
    if (access(c->features_path, R_OK) != 0) return 0;
    geoloc_safetensors *st = NULL;
    geoloc_error e = {0};
    if (geoloc_safetensors_open(c->features_path, &st, &e) != GEOLOC_OK) {
        train_warn(c, "features cache unusable, computed again: %s", e.message);
        return 0;
    }
    const char *format = geoloc_safetensors_metadata_get(st, "geoloc.format");
    const char *k = geoloc_safetensors_metadata_get(st, "geoloc.features_key");
    uint64_t shape[3] = {c->n, (uint64_t)views, (uint64_t)dim};
    const float *feat = NULL;
    const geoloc_tensor_info *ok = geoloc_safetensors_find(st, "ok");
    if (!format || strcmp(format, FEATURES_FORMAT) || !k || strcmp(k, key) || !ok || ok->dtype != GEOLOC_DTYPE_U8 ||
        ok->ndim != 1 || ok->shape[0] != c->n || geoloc_safetensors_get_f32(st, "features", shape, 3, &feat, &e)) {
        train_info(c, "features cache %s is for other photos, views or backbone: computed again", c->features_path);
        geoloc_safetensors_close(st);
        return 0;
    }
    c->feat = feat;
    c->feat_ok = ok->data;
    c->feat_owner = st;
    return 1;
}

geoloc_status train_features(train_ctx *c, int views, geoloc_error *err) {
    int dim = model_feature_dim(c->backbone_cfg.depth);
    char key[24];
    snprintf(key, sizeof key, "%016" PRIx64, features_key(c, views));
    c->feat_views = views;
    c->feat_dim = dim;
    if (try_cache(c, key, views, dim)) {
        c->res->features_cached = 1;
        train_info(c, "features: cache %s (%zu photos x %d views)", c->features_path, c->n, views);
        return GEOLOC_OK;
    }
    double t0 = train_now();
    int fixed = views < 6 ? views : 6, ppb = EXEC_IMAGES / fixed;
    geoloc_exec *ex = NULL;
    geoloc_status s = geoloc_exec_create(c->model->net, ppb * fixed, c->o->image_size, c->o->image_size,
                                         GEOLOC_NN_INFER, &ex, err);
    size_t *list = malloc(c->n * sizeof *list);
    c->feat_alloc = malloc(c->n * (size_t)views * (size_t)dim * sizeof *c->feat_alloc);
    c->ok_alloc = calloc(c->n, 1);
    if (s == GEOLOC_OK && (!list || !c->feat_alloc || !c->ok_alloc)) s = error_set(err, GEOLOC_E_NOMEM, "out of memory");
    if (s == GEOLOC_OK && geoloc_exec_feature_dim(ex) != dim)
        s = error_set(err, GEOLOC_E_ARG, "backbone features of width %d, expected %d", geoloc_exec_feature_dim(ex), dim);
    if (s == GEOLOC_OK) {
        for (size_t k = 0; k < c->n; k++) list[k] = k;
        memset(c->feat_alloc, 0, c->n * (size_t)views * (size_t)dim * sizeof *c->feat_alloc);
        train_info(c, "features: %zu photos x %d views through ResNet-%d (cache %s)", c->n, views,
                   c->backbone_cfg.depth, c->features_path);
        feat_sink sink = {c->feat_alloc, views, dim};
        size_t done = 0, total = c->n * (size_t)(1 + (views > 6 ? views - 6 : 0));
        uint8_t *failed = c->ok_alloc; /* holds "failed" until the end, flipped below */
        s = train_run_three(c, ex, ppb, fixed, list, c->n, store_features, &sink, failed, &done, total, err);
        if (s == GEOLOC_OK && views > 6)
            s = run_random(c, ex, ppb * fixed, views - 6, 6, list, c->n, store_features, &sink, failed, &done,
                           total, err);
        size_t n_failed = 0;
        for (size_t k = 0; k < c->n; k++) {
            n_failed += failed[k];
            c->ok_alloc[k] = !failed[k];
        }
        if (s == GEOLOC_OK && n_failed == c->n)
            s = error_set(err, GEOLOC_E_EMPTY, "none of the %zu photos could be read", c->n);
    }
    geoloc_exec_free(ex);
    free(list);
    if (s != GEOLOC_OK) return s;
    c->feat = c->feat_alloc;
    c->feat_ok = c->ok_alloc;
    c->res->features_seconds = train_now() - t0;
    train_info(c, "features: %.1f s (%.1f images/s)", c->res->features_seconds,
               (double)c->run_images / (c->res->features_seconds > 0 ? c->res->features_seconds : 1));
    uint64_t shape[3] = {c->n, (uint64_t)views, (uint64_t)dim}, ok_shape = c->n;
    geoloc_tensor_desc t[2] = {{"features", GEOLOC_DTYPE_F32, 3, shape, c->feat_alloc},
                               {"ok", GEOLOC_DTYPE_U8, 1, &ok_shape, c->ok_alloc}};
    char v_views[16], v_n[24], v_size[16];
    snprintf(v_views, sizeof v_views, "%d", views);
    snprintf(v_n, sizeof v_n, "%zu", c->n);
    snprintf(v_size, sizeof v_size, "%d", c->o->image_size);
    const char *keys[] = {"geoloc.format", "geoloc.features_key", "geoloc.views", "geoloc.photos",
                          "geoloc.image_size", "geoloc.backbone"};
    const char *vals[] = {FEATURES_FORMAT, key, v_views, v_n, v_size, c->backbone_name};
    geoloc_error e = {0};
    if (geoloc_safetensors_write(c->features_path, t, 2, keys, vals, 6, &e) != GEOLOC_OK)
        train_warn(c, "features not cached: %s", e.message);
    return GEOLOC_OK;
}

void train_features_free(train_ctx *c) {
    if (c->feat_owner) geoloc_safetensors_close(c->feat_owner);
    free(c->feat_alloc);
    free(c->ok_alloc);
    c->feat_owner = NULL;
    c->feat_alloc = NULL;
    c->ok_alloc = NULL;
    c->feat = NULL;
    c->feat_ok = NULL;
}
