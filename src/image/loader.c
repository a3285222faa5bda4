/* The batch loader: worker threads take photos one at a time, in batch
 * order, read and decode them and run the fused transform straight into
 * their slot of a preallocated batch buffer. prefetch + 1 buffers form a
 * ring: batch g lives in buffer g % (prefetch + 1); workers may start batch
 * g once every batch before g - prefetch has been handed out and given back
 * (by the next call of geoloc_loader_next). One mutex guards the claiming
 * and the completion counts; the pixel work runs outside it.
 *
 * Determinism: the epoch's order is a Fisher-Yates shuffle seeded by
 * (seed, epoch); a photo's crop and flip draw from a generator seeded by
 * (seed, epoch, photo index). Which thread does what never matters. */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/error.h"
#include "geoloc/dist.h"
#include "geoloc/loader.h"

#define PERM_STREAM 0xfeedULL /* stream_b of the shuffle generator (photo streams use the index) */
#define MAX_THREADS 256

typedef struct slot {
    uint64_t g;                 /* global batch number held (UINT64_MAX: none yet) */
    unsigned epoch;
    size_t number;
    int last;
    size_t n_items, n_done;
    size_t *indices;
    uint8_t *flipped;
    uint8_t *ok;
    geoloc_batch_failure *fail; /* per item; compacted to the failed ones on delivery */
    float *data;
} slot;

typedef struct worker {
    struct geoloc_loader *L;
    pthread_t thread;
    int started;
    geoloc_transformer *t;
} worker;

struct geoloc_loader {
    geoloc_loader_config cfg;
    const geoloc_source *src;
    geoloc_decode_options dopt;
    size_t n, per_epoch, nb;
    uint64_t total;             /* batches to deliver (UINT64_MAX: endless) */
    int crops;
    size_t item_floats;         /* floats per photo: crops * 3 * S * S */
    int nslots;
    slot *slots;
    size_t *perm;
    unsigned perm_epoch;
    int perm_valid;

    pthread_mutex_t mu;
    pthread_cond_t work_cv, done_cv;
    uint64_t claim_batch;       /* batch of the next photo to hand out */
    size_t claim_item;
    uint64_t released;          /* batches below this are delivered and given back */
    uint64_t next_return;       /* next batch for the consumer */
    int stop;
    int nworkers;
    worker *workers;
};

geoloc_loader_config geoloc_loader_config_default(void) {
    geoloc_loader_config c;
    memset(&c, 0, sizeof c);
    c.batch_size = 32;
    c.threads = 0;
    c.prefetch = 2;
    c.seed = 0;
    c.shuffle = 1;
    c.drop_last = 0;
    c.epochs = 1;
    c.mode = GEOLOC_LOADER_TRAIN;
    c.out_size = 224;
    c.resize_size = 0;
    c.rrc = geoloc_rrc_default();
    c.flip_prob = 0.5;
    c.norm = GEOLOC_NORM_IMAGENET;
    c.dct_scaling = 1;
    c.part = 0;
    c.parts = 1;
    return c;
}

size_t geoloc_loader_batches_per_epoch(const geoloc_loader_config *cfg, size_t n) {
    if (!cfg || cfg->batch_size == 0) return 0;
    return cfg->drop_last ? n / cfg->batch_size : (n + cfg->batch_size - 1) / cfg->batch_size;
}

static int mode_crops(geoloc_loader_mode m) {
    switch (m) {
    case GEOLOC_LOADER_TRAIN:
    case GEOLOC_LOADER_EVAL_CENTER: return 1;
    case GEOLOC_LOADER_EVAL_FIVE: return 5;
    case GEOLOC_LOADER_EVAL_THREE: return 3;
    }
    return 0;
}

/* Smallest decoded shorter side that still gives every crop at least the
 * output's resolution (0: no DCT scaling). */
static int min_decode_side(const geoloc_loader_config *c) {
    if (!c->dct_scaling) return 0;
    switch (c->mode) {
    case GEOLOC_LOADER_TRAIN: {
        /* a crop's shorter side is >= sqrt(scale_min * min(ratio_min, 1/ratio_max)) times
         * the photo's shorter side (the central fallback keeps more) */
        double r = c->rrc.ratio_min < 1.0 / c->rrc.ratio_max ? c->rrc.ratio_min : 1.0 / c->rrc.ratio_max;
        if (r > 1.0) r = 1.0;
        double f = sqrt(c->rrc.scale_min * r);
        return (int)ceil(c->out_size / f) + 1; /* + 1: the crop's size is rounded */
    }
    case GEOLOC_LOADER_EVAL_CENTER:
    case GEOLOC_LOADER_EVAL_FIVE: return c->resize_size;
    case GEOLOC_LOADER_EVAL_THREE: return c->out_size;
    }
    return 0;
}

static geoloc_status check_config(geoloc_loader_config *c, geoloc_error *err) {
    if (c->batch_size == 0 || c->batch_size > (1u << 20))
        return error_set(err, GEOLOC_E_ARG, "loader: batch size %zu out of 1..1048576", c->batch_size);
    if (c->threads < 0 || c->threads > MAX_THREADS)
        return error_set(err, GEOLOC_E_ARG, "loader: %d threads out of 0..%d", c->threads, MAX_THREADS);
    if (c->prefetch < 0 || c->prefetch > 64)
        return error_set(err, GEOLOC_E_ARG, "loader: prefetch %d out of 0..64", c->prefetch);
    if (mode_crops(c->mode) == 0) return error_set(err, GEOLOC_E_ARG, "loader: unknown mode %d", (int)c->mode);
    if (c->out_size < 1 || c->out_size > 4096)
        return error_set(err, GEOLOC_E_ARG, "loader: output size %d out of 1..4096", c->out_size);
    if (c->resize_size == 0) c->resize_size = (int)((long)c->out_size * 256 / 224);
    if (c->resize_size < c->out_size || c->resize_size > 16384)
        return error_set(err, GEOLOC_E_ARG, "loader: resize size %d below the output size %d",
                         c->resize_size, c->out_size);
    const geoloc_rrc_params *p = &c->rrc;
    if (!(p->scale_min > 0 && p->scale_min <= p->scale_max && p->scale_max <= 1 && p->ratio_min > 0 &&
          p->ratio_min <= p->ratio_max && isfinite(p->ratio_max)))
        return error_set(err, GEOLOC_E_ARG, "loader: bad crop ranges (scale %g-%g, ratio %g-%g)",
                         p->scale_min, p->scale_max, p->ratio_min, p->ratio_max);
    if (!(c->flip_prob >= 0 && c->flip_prob <= 1))
        return error_set(err, GEOLOC_E_ARG, "loader: flip probability %g out of 0..1", c->flip_prob);
    if (c->norm != GEOLOC_NORM_IMAGENET && c->norm != GEOLOC_NORM_CAFFE && c->norm != GEOLOC_NORM_NONE)
        return error_set(err, GEOLOC_E_ARG, "loader: unknown normalisation %d", (int)c->norm);
    if (c->parts < 0 || c->part < 0 || (c->part > 0 && c->part >= c->parts))
        return error_set(err, GEOLOC_E_ARG, "loader: part %d of %d", c->part, c->parts);
    if (c->threads == 0) {
        long cores = sysconf(_SC_NPROCESSORS_ONLN);
        c->threads = cores < 1 ? 1 : cores > MAX_THREADS ? MAX_THREADS : (int)cores;
    }
    return GEOLOC_OK;
}

/* ---- one photo ---- */

static void record_failure(slot *s, size_t item, geoloc_status st, const char *name,
                           const char *message) {
    geoloc_batch_failure *f = &s->fail[item];
    f->index = s->indices[item];
    f->status = st;
    if (name && !strstr(message, name))
        snprintf(f->message, sizeof f->message, "%s: %s", name, message);
    else
        snprintf(f->message, sizeof f->message, "%s", message);
    s->ok[item] = 0;
}

/* The crops of one decoded photo into dst (crops consecutive images). */
static geoloc_status transform_photo(geoloc_loader *L, worker *w, const geoloc_image *img,
                                     uint64_t epoch, size_t index, float *dst, uint8_t *flipped,
                                     geoloc_error *err) {
    const geoloc_loader_config *c = &L->cfg;
    const int S = c->out_size;
    const size_t image_floats = (size_t)3 * (size_t)S * (size_t)S;
    geoloc_resample_spec sp = {.norm = c->norm};
    *flipped = 0;
    if (c->mode == GEOLOC_LOADER_TRAIN) {
        geoloc_rng rng;
        geoloc_rng_seed(&rng, c->seed, epoch, index);
        if (geoloc_random_resized_crop_rect(img->width, img->height, &c->rrc, &rng, &sp.crop) != GEOLOC_OK)
            return error_set(err, GEOLOC_E_ARG, "random crop failed");
        sp.flip = geoloc_rng_uniform(&rng) < c->flip_prob;
        *flipped = (uint8_t)sp.flip;
        sp.resize_w = sp.resize_h = S;
        sp.window = (geoloc_rect){0, 0, S, S};
        return geoloc_transform_chw(w->t, img, &sp, dst, err);
    }
    int side = c->mode == GEOLOC_LOADER_EVAL_THREE ? S : c->resize_size;
    sp.crop = (geoloc_rect){0, 0, img->width, img->height};
    if (geoloc_resize_shorter_size(img->width, img->height, side, &sp.resize_w, &sp.resize_h) != GEOLOC_OK)
        return error_set(err, GEOLOC_E_RANGE, "cannot resize %dx%d", img->width, img->height);
    geoloc_rect win[5];
    geoloc_status st;
    if (c->mode == GEOLOC_LOADER_EVAL_CENTER)
        st = geoloc_center_crop_rect(sp.resize_w, sp.resize_h, S, S, win);
    else if (c->mode == GEOLOC_LOADER_EVAL_FIVE)
        st = geoloc_five_crop_rects(sp.resize_w, sp.resize_h, S, S, win);
    else
        st = geoloc_three_crop_rects(sp.resize_w, sp.resize_h, win);
    if (st != GEOLOC_OK) return error_set(err, st, "no %dx%d crop in %dx%d", S, S, sp.resize_w, sp.resize_h);
    for (int k = 0; k < L->crops; k++) {
        sp.window = win[k];
        if ((st = geoloc_transform_chw(w->t, img, &sp, dst + (size_t)k * image_floats, err)) != GEOLOC_OK)
            return st;
    }
    return GEOLOC_OK;
}

static void process_item(geoloc_loader *L, worker *w, slot *s, size_t item) {
    const geoloc_source *src = L->src;
    size_t index = s->indices[item];
    const uint8_t *data = NULL;
    size_t size = 0;
    const char *name = NULL;
    geoloc_error err = {GEOLOC_OK, ""};
    geoloc_status st = src->read(src->ctx, index, &data, &size, &name, &err);
    if (st != GEOLOC_OK) {
        record_failure(s, item, st, name, err.message[0] ? err.message : geoloc_status_name(st));
        return;
    }
    char label[64];
    if (!name) {
        snprintf(label, sizeof label, "photo %zu", index);
        name = label;
    }
    geoloc_image img = {0};
    st = geoloc_image_decode(data, size, name, &L->dopt, &img, &err);
    if (st == GEOLOC_OK)
        st = transform_photo(L, w, &img, s->epoch, index, s->data + item * L->item_floats,
                             &s->flipped[item], &err);
    /* name may point into the source's buffers: record before releasing */
    if (st != GEOLOC_OK) record_failure(s, item, st, name, err.message[0] ? err.message : geoloc_status_name(st));
    else s->ok[item] = 1;
    geoloc_image_free(&img);
    if (src->release) src->release(src->ctx, data, size);
}

/* ---- claiming ---- */

static void shuffle_epoch(geoloc_loader *L, unsigned epoch) {
    for (size_t i = 0; i < L->n; i++) L->perm[i] = i;
    if (L->cfg.shuffle) {
        geoloc_rng rng;
        geoloc_rng_seed(&rng, L->cfg.seed, epoch, PERM_STREAM);
        for (size_t i = L->n; i > 1; i--) {
            size_t j = (size_t)geoloc_rng_below(&rng, i);
            size_t t = L->perm[i - 1];
            L->perm[i - 1] = L->perm[j];
            L->perm[j] = t;
        }
    }
    L->perm_epoch = epoch;
    L->perm_valid = 1;
}

/* Sets up the slot of batch g (called with the lock held). */
static void start_batch(geoloc_loader *L, uint64_t g) {
    slot *s = &L->slots[g % (uint64_t)L->nslots];
    unsigned epoch = (unsigned)(g / L->nb);
    size_t b = (size_t)(g % L->nb);
    if (!L->perm_valid || L->perm_epoch != epoch) shuffle_epoch(L, epoch);
    size_t first = b * L->cfg.batch_size, end = first + L->cfg.batch_size;
    if (end > L->per_epoch) end = L->per_epoch;
    size_t lo, count;
    geoloc_dist_part(end - first, L->cfg.part, L->cfg.parts, &lo, &count);
    first += lo;
    end = first + count;
    s->g = g;
    s->epoch = epoch;
    s->number = b;
    s->last = b + 1 == L->nb;
    s->n_items = end - first;
    s->n_done = 0;
    memcpy(s->indices, L->perm + first, s->n_items * sizeof *s->indices);
}

static void *worker_main(void *arg) {
    worker *w = arg;
    geoloc_loader *L = w->L;
    pthread_mutex_lock(&L->mu);
    for (;;) {
        while (!L->stop && !(L->claim_batch < L->total &&
                             L->claim_batch < L->released + (uint64_t)L->nslots))
            pthread_cond_wait(&L->work_cv, &L->mu);
        if (L->stop) break;
        if (L->claim_item == 0) start_batch(L, L->claim_batch);
        slot *s = &L->slots[L->claim_batch % (uint64_t)L->nslots];
        if (s->n_items == 0) { /* this part of a short batch is empty */
            L->claim_batch++;
            pthread_cond_broadcast(&L->done_cv);
            continue;
        }
        size_t item = L->claim_item++;
        if (L->claim_item == s->n_items) {
            L->claim_batch++;
            L->claim_item = 0;
        }
        pthread_mutex_unlock(&L->mu);
        process_item(L, w, s, item);
        pthread_mutex_lock(&L->mu);
        if (++s->n_done == s->n_items) pthread_cond_broadcast(&L->done_cv);
    }
    pthread_mutex_unlock(&L->mu);
    return NULL;
}

/* ---- life cycle ---- */

static void free_slots(geoloc_loader *L) {
    for (int i = 0; L->slots && i < L->nslots; i++) {
        slot *s = &L->slots[i];
        free(s->indices);
        free(s->flipped);
        free(s->ok);
        free(s->fail);
        free(s->data);
    }
    free(L->slots);
}

void geoloc_loader_destroy(geoloc_loader *L) {
    if (!L) return;
    pthread_mutex_lock(&L->mu);
    L->stop = 1;
    pthread_cond_broadcast(&L->work_cv);
    pthread_mutex_unlock(&L->mu);
    for (int i = 0; i < L->nworkers; i++) {
        if (L->workers[i].started) pthread_join(L->workers[i].thread, NULL);
        geoloc_transformer_destroy(L->workers[i].t);
    }
    free(L->workers);
    free_slots(L);
    free(L->perm);
    pthread_mutex_destroy(&L->mu);
    pthread_cond_destroy(&L->work_cv);
    pthread_cond_destroy(&L->done_cv);
    free(L);
}

geoloc_status geoloc_loader_create(const geoloc_loader_config *cfg_in, const geoloc_source *src,
                                   geoloc_loader **out, geoloc_error *err) {
    if (!cfg_in || !src || !out || !src->read) return error_set(err, GEOLOC_E_ARG, "loader: missing argument");
    *out = NULL;
    geoloc_loader_config cfg = *cfg_in;
    geoloc_status st = check_config(&cfg, err);
    if (st != GEOLOC_OK) return st;
    if (src->n == 0) return error_set(err, GEOLOC_E_EMPTY, "loader: the source has no photos");
    size_t nb = geoloc_loader_batches_per_epoch(&cfg, src->n);
    if (nb == 0)
        return error_set(err, GEOLOC_E_EMPTY, "loader: %zu photos make no full batch of %zu",
                         src->n, cfg.batch_size);
    geoloc_loader *L = calloc(1, sizeof *L);
    if (!L) return error_set(err, GEOLOC_E_NOMEM, "loader: out of memory");
    L->cfg = cfg;
    L->src = src;
    L->n = src->n;
    L->nb = nb;
    L->per_epoch = cfg.drop_last ? nb * cfg.batch_size : src->n;
    L->total = cfg.epochs == 0 ? UINT64_MAX : (uint64_t)cfg.epochs * nb;
    L->crops = mode_crops(cfg.mode);
    L->item_floats = (size_t)L->crops * 3 * (size_t)cfg.out_size * (size_t)cfg.out_size;
    L->dopt = cfg.decode;
    if (L->dopt.min_shorter_side == 0) L->dopt.min_shorter_side = min_decode_side(&cfg);
    L->nslots = cfg.prefetch + 1;
    pthread_mutex_init(&L->mu, NULL);
    pthread_cond_init(&L->work_cv, NULL);
    pthread_cond_init(&L->done_cv, NULL);
    size_t B = cfg.batch_size;
    int ok = (L->perm = malloc(L->n * sizeof *L->perm)) != NULL &&
             (L->slots = calloc((size_t)L->nslots, sizeof *L->slots)) != NULL &&
             (L->workers = calloc((size_t)cfg.threads, sizeof *L->workers)) != NULL;
    if (ok && B * L->item_floats / B != L->item_floats) ok = 0; /* overflow */
    for (int i = 0; ok && i < L->nslots; i++) {
        slot *s = &L->slots[i];
        s->g = UINT64_MAX;
        ok = (s->indices = malloc(B * sizeof *s->indices)) && (s->flipped = calloc(B, 1)) &&
             (s->ok = calloc(B, 1)) && (s->fail = calloc(B, sizeof *s->fail)) &&
             (s->data = malloc(B * L->item_floats * sizeof *s->data));
    }
    for (int i = 0; ok && i < cfg.threads; i++) {
        L->workers[i].L = L;
        ok = (L->workers[i].t = geoloc_transformer_create()) != NULL;
    }
    if (!ok) {
        L->nworkers = L->workers ? cfg.threads : 0;
        geoloc_loader_destroy(L);
        return error_set(err, GEOLOC_E_NOMEM, "loader: out of memory for %d batches of %zu x %d x 3 x %d x %d floats",
                         cfg.prefetch + 1, B, L->crops, cfg.out_size, cfg.out_size);
    }
    L->nworkers = cfg.threads;
    for (int i = 0; i < cfg.threads; i++) {
        if (pthread_create(&L->workers[i].thread, NULL, worker_main, &L->workers[i]) != 0) {
            geoloc_loader_destroy(L);
            return error_set(err, GEOLOC_E_NOMEM, "loader: cannot start worker thread %d", i + 1);
        }
        L->workers[i].started = 1;
    }
    *out = L;
    return GEOLOC_OK;
}

geoloc_status geoloc_loader_next(geoloc_loader *L, geoloc_batch *out, geoloc_error *err) {
    if (!L || !out) return error_set(err, GEOLOC_E_ARG, "loader: missing argument");
    pthread_mutex_lock(&L->mu);
    /* the batch handed out last time is given back */
    L->released = L->next_return;
    pthread_cond_broadcast(&L->work_cv);
    uint64_t g = L->next_return;
    if (g >= L->total) {
        pthread_mutex_unlock(&L->mu);
        return error_set(err, GEOLOC_E_EMPTY, "loader: all %u epochs delivered", L->cfg.epochs);
    }
    slot *s = &L->slots[g % (uint64_t)L->nslots];
    while (!(s->g == g && s->n_done == s->n_items)) pthread_cond_wait(&L->done_cv, &L->mu);
    L->next_return = g + 1;
    pthread_mutex_unlock(&L->mu);

    /* move the photos that made it to the front, the failures to fail[] */
    size_t k = 0, m = 0;
    for (size_t i = 0; i < s->n_items; i++) {
        if (s->ok[i]) {
            if (k != i) {
                memmove(s->data + k * L->item_floats, s->data + i * L->item_floats,
                        L->item_floats * sizeof *s->data);
                s->indices[k] = s->indices[i];
                s->flipped[k] = s->flipped[i];
            }
            k++;
        } else {
            if (m != i) s->fail[m] = s->fail[i];
            m++;
        }
    }
    memset(out, 0, sizeof *out);
    out->count = k;
    out->crops = L->crops;
    out->channels = 3;
    out->height = out->width = L->cfg.out_size;
    out->data = s->data;
    out->indices = s->indices;
    out->flipped = s->flipped;
    out->n_failed = m;
    out->failed = s->fail;
    out->epoch = s->epoch;
    out->number = s->number;
    out->last_in_epoch = s->last;
    return GEOLOC_OK;
}
