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
 * image size and the normalisation. A cache whose key differs is recomputed.
 *
 * The extraction goes chunk by chunk (features_chunk photos); each finished
 * chunk is saved atomically as <cache>.chunkN (its features, failures, the
 * key and its place), so a run killed during the extraction continues at the
 * first missing chunk with the same bits as an uninterrupted one; the chunks
 * are removed once the whole cache is written. Random views (views > 6) are
 * drawn per chunk, so the chunk size is part of their key.
 *
 * Several ranks (geoloc/dist.h): rank 0 alone reads and writes the cache and
 * the chunks; each chunk's whole loader batches are split among the ranks,
 * gathered on rank 0 in photo order, and at the end every rank receives the
 * table by broadcast. The bits are those of one process: a rank runs the
 * very batches one process would. Random views depend on a photo's place in
 * its chunk: with them rank 0 extracts alone and the others wait. */
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/error.h"
#include "geoloc/dist.h"
#include "geoloc/loader.h"
#include "model/model_internal.h"
#include "train/internal.h"

#define FEATURES_FORMAT "geoloc-features-1"
#define EXEC_IMAGES 24 /* images per network call while extracting */
#define DEFAULT_CHUNK 256 /* photos per saved chunk of the extraction */

static void note_failures(const train_run *c, const geoloc_batch *b, uint8_t *failed) {
    for (size_t j = 0; j < b->n_failed; j++) {
        if (failed) {
            if (failed[b->failed[j].index]) continue;
            failed[b->failed[j].index] = 1;
        }
        train_warn(c, "skipped: %s", b->failed[j].message);
    }
}

static void progress(const train_run *c, size_t *done, size_t add, size_t total) {
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

static geoloc_loader_config loader_config(const train_run *c, geoloc_norm norm, geoloc_loader_mode mode,
                                          size_t batch) {
    geoloc_loader_config lc = geoloc_loader_config_default();
    lc.batch_size = batch;
    lc.threads = c->o->loader_threads;
    lc.shuffle = 0;
    lc.epochs = 1;
    lc.mode = mode;
    lc.out_size = c->o->image_size;
    lc.norm = norm;
    return lc;
}

geoloc_status train_run_three(train_run *c, const train_data *d, geoloc_norm norm, geoloc_exec *ex,
                              int photos_per_batch, int views, const size_t *list, size_t n, train_view_fn fn,
                              void *ctx, uint8_t *failed, size_t *progress_done, size_t progress_total,
                              geoloc_error *err) {
    int side = c->o->image_size;
    size_t image = (size_t)3 * side * side;
    train_subset sub = {&d->base, d->base_index, list, n};
    geoloc_source src = train_subset_source(&sub);
    geoloc_loader_config lc = loader_config(c, norm, GEOLOC_LOADER_EVAL_THREE, (size_t)photos_per_batch);
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
static geoloc_status run_random(train_run *c, const train_data *d, geoloc_norm norm, geoloc_exec *ex, int batch,
                                int n_views, int first_view, const size_t *list, size_t n, train_view_fn fn,
                                void *ctx, uint8_t *failed, size_t *progress_done, size_t progress_total,
                                geoloc_error *err) {
    train_subset sub = {&d->base, d->base_index, list, n};
    geoloc_source src = train_subset_source(&sub);
    geoloc_loader_config lc = loader_config(c, norm, GEOLOC_LOADER_TRAIN, (size_t)batch);
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

/* Where a chunk's features go: rows [first, first + n) of the table. */
typedef struct {
    float *feat;
    uint8_t *failed;
    size_t first;
    int views, dim;
} feat_sink;

static void store_features(void *ctx, size_t k, int view0, int views, const geoloc_exec *ex, int first) {
    feat_sink *f = ctx;
    const float *src = geoloc_exec_features(ex) + (size_t)first * f->dim;
    memcpy(f->feat + ((f->first + k) * f->views + view0) * f->dim, src, (size_t)views * f->dim * sizeof *src);
}

static uint64_t features_key(const train_run *r, const train_data *d, const train_model *m, int views,
                             size_t chunk) {
    char where[PATH_MAX + 16];
    const char *dir = r->o->images_dir ? r->o->images_dir : r->o->shards_dir;
    char resolved[PATH_MAX];
    snprintf(where, sizeof where, "%s:%s", r->o->images_dir ? "images" : "shards",
             realpath(dir, resolved) ? resolved : dir);
    uint64_t h = train_hash_bytes(d->photos_hash, where, strlen(where));
    int64_t fields[6] = {views, r->o->image_size, m->norm, m->backbone_cfg.depth,
                         views > 6 ? (int64_t)r->o->seed : 0, (int64_t)d->n};
    h = train_hash_bytes(h, fields, sizeof fields);
    if (views > 6) h = train_hash_bytes(h, &chunk, sizeof chunk); /* random views are drawn per chunk */
    return train_hash_bytes(h ^ m->backbone_hash, FEATURES_FORMAT, sizeof FEATURES_FORMAT);
}

/* Opens a features file (the cache or a chunk) whose key and shape match: its features
 * (n x views x dim) and U8 flags; NULL when absent or different. */
static geoloc_safetensors *open_matching(const char *path, const char *key, size_t n, int views, int dim,
                                         const char *flags, const float **feat, const uint8_t **ok) {
    if (access(path, R_OK) != 0) return NULL;
    geoloc_safetensors *st = NULL;
    geoloc_error e = {0};
    if (geoloc_safetensors_open(path, &st, &e) != GEOLOC_OK) return NULL;
    const char *format = geoloc_safetensors_metadata_get(st, "geoloc.format");
    const char *k = geoloc_safetensors_metadata_get(st, "geoloc.features_key");
    uint64_t shape[3] = {n, (uint64_t)views, (uint64_t)dim};
    const geoloc_tensor_info *t = geoloc_safetensors_find(st, flags);
    if (!format || strcmp(format, FEATURES_FORMAT) || !k || strcmp(k, key) || !t || t->dtype != GEOLOC_DTYPE_U8 ||
        t->ndim != 1 || t->shape[0] != n || geoloc_safetensors_get_f32(st, "features", shape, 3, feat, &e)) {
        geoloc_safetensors_close(st);
        return NULL;
    }
    *ok = t->data;
    return st;
}

/* Writes n rows of features (with their U8 flags) from row `first` as a features file. */
static geoloc_status write_features(const char *path, const char *key, const float *feat, const uint8_t *flags,
                                    const char *flags_name, size_t first, size_t n, int views, int dim,
                                    const char *backbone, int image_size, geoloc_error *err) {
    uint64_t shape[3] = {n, (uint64_t)views, (uint64_t)dim}, flag_shape = n;
    geoloc_tensor_desc t[2] = {{"features", GEOLOC_DTYPE_F32, 3, shape, feat + first * (size_t)views * dim},
                               {flags_name, GEOLOC_DTYPE_U8, 1, &flag_shape, flags + first}};
    char v_views[16], v_n[24], v_size[16], v_first[24];
    snprintf(v_views, sizeof v_views, "%d", views);
    snprintf(v_n, sizeof v_n, "%zu", n);
    snprintf(v_size, sizeof v_size, "%d", image_size);
    snprintf(v_first, sizeof v_first, "%zu", first);
    const char *keys[] = {"geoloc.format", "geoloc.features_key", "geoloc.views", "geoloc.photos",
                          "geoloc.image_size", "geoloc.backbone", "geoloc.first_photo"};
    const char *vals[] = {FEATURES_FORMAT, key, v_views, v_n, v_size, backbone, v_first};
    return geoloc_safetensors_write(path, t, 2, keys, vals, 7, err);
}

static void chunk_path(const train_run *r, size_t index, char *out, size_t size) {
    snprintf(out, size, "%.1000s.chunk%zu", r->features_path, index);
}

int train_features_started(const train_run *r) {
    char path[TRAIN_PATH + 32];
    chunk_path(r, 0, path, sizeof path);
    return access(path, F_OK) == 0;
}

/* Loads the chunks already extracted (in order, until the first missing one); returns
 * the number of photos they hold. */
static size_t load_chunks(const train_run *r, size_t n, size_t chunk, const char *key, train_features *f) {
    size_t done = 0;
    char path[TRAIN_PATH + 32];
    for (size_t i = 0; done < n; i++) {
        size_t count = n - done < chunk ? n - done : chunk;
        const float *feat;
        const uint8_t *failed;
        chunk_path(r, i, path, sizeof path);
        geoloc_safetensors *st = open_matching(path, key, count, f->views, f->dim, "failed", &feat, &failed);
        if (!st) break;
        memcpy(f->feat_alloc + done * (size_t)f->views * f->dim, feat, count * (size_t)f->views * f->dim * sizeof *feat);
        memcpy(f->ok_alloc + done, failed, count);
        geoloc_safetensors_close(st);
        done += count;
    }
    return done;
}

static void remove_chunks(const train_run *r, size_t n, size_t chunk) {
    char path[TRAIN_PATH + 32];
    for (size_t i = 0; i * chunk < n; i++) {
        chunk_path(r, i, path, sizeof path);
        unlink(path);
    }
}

/* Runs the network over photos [first, first + count) of the table into f (ok_alloc
 * holds "failed" flags until the end). */
static geoloc_status extract_chunk(train_run *r, const train_data *d, const train_model *m, geoloc_exec *ex,
                                   int ppb, size_t *list, size_t first, size_t count, train_features *f,
                                   size_t *done, size_t total, geoloc_error *err) {
    int fixed = f->views < 6 ? f->views : 6;
    feat_sink sink = {f->feat_alloc, f->ok_alloc, first, f->views, f->dim};
    for (size_t k = 0; k < count; k++) list[k] = first + k;
    geoloc_status s = train_run_three(r, d, m->norm, ex, ppb, fixed, list, count, store_features, &sink,
                                      f->ok_alloc + first, done, total, err);
    if (s == GEOLOC_OK && f->views > 6)
        s = run_random(r, d, m->norm, ex, ppb * fixed, f->views - 6, 6, list, count, store_features, &sink,
                       f->ok_alloc + first, done, total, err);
    return s;
}

/* The part [*first, *first + *n) of a chunk's count photos that this rank extracts:
 * whole loader batches of ppb photos (alone: all). */
static void chunk_part(size_t count, int ppb, size_t *first, size_t *n) {
    size_t b0, nb, batch = (size_t)ppb;
    geoloc_dist_part((count + batch - 1) / batch, geoloc_dist_rank(), geoloc_dist_size(), &b0, &nb);
    size_t end = (b0 + nb) * batch < count ? (b0 + nb) * batch : count;
    *first = b0 * batch < count ? b0 * batch : count;
    *n = end - *first;
}

/* Several ranks: gathers the rows [first, first + count) of f (features and
 * failure flags), each rank holding its part [part, part + part_n), on rank 0. */
static geoloc_status gather_chunk(train_features *f, size_t first, size_t part, size_t part_n,
                                  geoloc_error *err) {
    size_t row = (size_t)f->views * (size_t)f->dim, bytes;
    void *all = NULL;
    geoloc_status s = geoloc_dist_gather(f->feat_alloc + (first + part) * row, part_n * row * sizeof(float), 0, &all,
                                         &bytes, NULL, err);
    if (s == GEOLOC_OK && all) memcpy(f->feat_alloc + first * row, all, bytes);
    free(all);
    all = NULL;
    if (s == GEOLOC_OK) s = geoloc_dist_gather(f->ok_alloc + first + part, part_n, 0, &all, &bytes, NULL, err);
    if (s == GEOLOC_OK && all) memcpy(f->ok_alloc + first, all, bytes);
    free(all);
    return s;
}

/* Computes the features chunk by chunk, continuing after the chunks already saved;
 * *stopped when stop_after_chunks new chunks are done. split: the ranks share
 * each chunk (every rank calls), else rank 0 alone calls. */
static geoloc_status extract(train_features *f, train_run *r, const train_data *d, const train_model *m,
                             const char *key, size_t chunk, int split, int *stopped, geoloc_error *err) {
    int fixed = f->views < 6 ? f->views : 6, ppb = EXEC_IMAGES / fixed, root = geoloc_dist_rank() == 0;
    geoloc_exec *ex = NULL;
    geoloc_status s = geoloc_exec_create(m->model->net, ppb * fixed, r->o->image_size, r->o->image_size,
                                         GEOLOC_NN_INFER, &ex, err);
    size_t *list = malloc(chunk * sizeof *list);
    if (s == GEOLOC_OK && !list) s = error_set(err, GEOLOC_E_NOMEM, "out of memory");
    if (s == GEOLOC_OK && geoloc_exec_feature_dim(ex) != f->dim)
        s = error_set(err, GEOLOC_E_ARG, "backbone features of width %d, expected %d", geoloc_exec_feature_dim(ex),
                      f->dim);
    int64_t first = s == GEOLOC_OK && root ? (int64_t)load_chunks(r, d->n, chunk, key, f) : 0;
    if (split && (s = geoloc_dist_agree(s, err)) == GEOLOC_OK)
        s = geoloc_dist_broadcast(&first, sizeof first, 0, err);
    if (first > 0 && root) train_info(r, "resuming feature extraction at photo %zu of %zu", (size_t)first, d->n);
    size_t passes = (size_t)(1 + (f->views > 6 ? f->views - 6 : 0)), done = (size_t)first * passes,
           total = d->n * passes;
    char path[TRAIN_PATH + 32];
    long new_chunks = 0;
    *stopped = 0;
    for (size_t at = (size_t)first; s == GEOLOC_OK && at < d->n && !*stopped;) {
        size_t count = d->n - at < chunk ? d->n - at : chunk, part = 0, part_n = count;
        if (split) chunk_part(count, ppb, &part, &part_n);
        if (part_n)
            s = extract_chunk(r, d, m, ex, ppb, list, at + part, part_n, f, root ? &done : NULL, total, err);
        if (split && (s = geoloc_dist_agree(s, err)) == GEOLOC_OK) {
            s = gather_chunk(f, at, part, part_n, err);
            if (root) progress(r, &done, (count - part_n) * passes, total);
        }
        chunk_path(r, at / chunk, path, sizeof path);
        if (s == GEOLOC_OK && root)
            s = write_features(path, key, f->feat_alloc, f->ok_alloc, "failed", at, count, f->views, f->dim,
                               m->backbone_name, r->o->image_size, err);
        if (split) s = geoloc_dist_agree(s, err);
        at += count;
        *stopped = r->o->stop_after_chunks > 0 && ++new_chunks >= r->o->stop_after_chunks && at < d->n;
    }
    geoloc_exec_free(ex);
    free(list);
    return s;
}

/* Several ranks: every rank's f->feat_alloc and f->ok_alloc (allocated for n
 * photos) receive rank 0's feat and flags. */
static geoloc_status share(train_features *f, size_t n, const float *feat, const uint8_t *flags, geoloc_error *err) {
    if (geoloc_dist_size() == 1) return GEOLOC_OK;
    int root = geoloc_dist_rank() == 0;
    geoloc_status s = geoloc_dist_broadcast(root ? (void *)feat : f->feat_alloc,
                                            n * (size_t)f->views * (size_t)f->dim * sizeof *feat, 0, err);
    if (s == GEOLOC_OK) s = geoloc_dist_broadcast(root ? (void *)flags : f->ok_alloc, n, 0, err);
    return s;
}

geoloc_status train_features_get(train_features *f, train_run *r, const train_data *d, const train_model *m,
                                 int views, geoloc_error *err) {
    size_t chunk = r->o->features_chunk ? r->o->features_chunk : DEFAULT_CHUNK;
    int root = geoloc_dist_rank() == 0, several = geoloc_dist_size() > 1;
    char key[24];
    snprintf(key, sizeof key, "%016" PRIx64, features_key(r, d, m, views, chunk));
    f->views = views;
    f->dim = model_feature_dim(m->backbone_cfg.depth);
    int64_t cached = root && (f->owner = open_matching(r->features_path, key, d->n, views, f->dim, "ok", &f->feat,
                                                       &f->ok)) != NULL;
    geoloc_status s = geoloc_dist_broadcast(&cached, sizeof cached, 0, err);
    if (s != GEOLOC_OK) return s;
    if (!cached && root && access(r->features_path, F_OK) == 0)
        train_info(r, "features cache %s is for other photos, views or backbone: computed again", r->features_path);
    if (!root || !cached) {
        f->feat_alloc = calloc(d->n * (size_t)views * (size_t)f->dim, sizeof *f->feat_alloc);
        f->ok_alloc = calloc(d->n, 1);
        if (!f->feat_alloc || !f->ok_alloc) s = error_set(err, GEOLOC_E_NOMEM, "out of memory");
    }
    if (several && (s = geoloc_dist_agree(s, err)) != GEOLOC_OK) return s;
    if (s != GEOLOC_OK) return s;
    if (cached) {
        r->res->features_cached = 1;
        if ((s = share(f, d->n, f->feat, f->ok, err)) != GEOLOC_OK) return s;
        if (!root) {
            f->feat = f->feat_alloc;
            f->ok = f->ok_alloc;
            return GEOLOC_OK;
        }
        remove_chunks(r, d->n, chunk); /* left when killed between writing the cache and removing them */
        train_info(r, "features: cache %s (%zu photos x %d views)", r->features_path, d->n, views);
        return GEOLOC_OK;
    }
    double t0 = train_now();
    if (root)
        train_info(r, "features: %zu photos x %d views through ResNet-%d (cache %s)", d->n, views,
                   m->backbone_cfg.depth, r->features_path);
    int split = several && views <= 6, stopped = 0;
    if (split || root) s = extract(f, r, d, m, key, chunk, split, &stopped, err);
    if (several && !split) { /* rank 0 extracted alone: its outcome is every rank's */
        int64_t stop = stopped;
        if ((s = geoloc_dist_agree(s, err)) == GEOLOC_OK) s = geoloc_dist_broadcast(&stop, sizeof stop, 0, err);
        stopped = (int)stop;
    }
    if (s != GEOLOC_OK) return s;
    if (stopped) {
        r->res->stopped = 1;
        return GEOLOC_OK;
    }
    if ((s = share(f, d->n, f->feat_alloc, f->ok_alloc, err)) != GEOLOC_OK) return s;
    uint8_t *failed = f->ok_alloc; /* flipped into "ok" flags */
    size_t n_failed = 0;
    for (size_t k = 0; k < d->n; k++) {
        n_failed += failed[k];
        f->ok_alloc[k] = !failed[k];
    }
    if (n_failed == d->n) return error_set(err, GEOLOC_E_EMPTY, "none of the %zu photos could be read", d->n);
    f->feat = f->feat_alloc;
    f->ok = f->ok_alloc;
    r->res->features_seconds = train_now() - t0;
    int64_t images = (int64_t)r->run_images; /* every rank's */
    if (split && (s = geoloc_dist_sum_i64(&images, 1, err)) != GEOLOC_OK) return s;
    if (!root) return GEOLOC_OK;
    train_info(r, "features: %.1f s (%.1f images/s)", r->res->features_seconds,
               (double)images / (r->res->features_seconds > 0 ? r->res->features_seconds : 1));
    geoloc_error e = {0};
    if (write_features(r->features_path, key, f->feat_alloc, f->ok_alloc, "ok", 0, d->n, views, f->dim,
                       m->backbone_name, r->o->image_size, &e) != GEOLOC_OK)
        train_warn(r, "features not cached: %s", e.message);
    else
        remove_chunks(r, d->n, chunk);
    return GEOLOC_OK;
}

void train_features_free(train_features *f) {
    if (f->owner) geoloc_safetensors_close(f->owner);
    free(f->feat_alloc);
    free(f->ok_alloc);
    memset(f, 0, sizeof *f);
}
