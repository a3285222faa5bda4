/* Batch prediction split across the ranks of a job: the photos go by rounds
 * of (batch x ranks); in each round rank r predicts the round's batch r (its
 * contiguous part: none when the round is short), packs each answer into a
 * record, and rank 0 gathers the records and hands the answers to the caller
 * in input order. Rounds keep rank 0's memory to one round and its output
 * streaming; parts cut at batch boundaries give every rank exactly the
 * batches a single process runs, so the answers are the same bits (the
 * network's sums depend slightly on a batch's size). */
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "geoloc/dist.h"
#include "geoloc/predict.h"

/* One answer's record: this header, the EXIF metadata, then with a
 * prediction: the prediction, n_kept warnings and (asked for) the
 * distribution; without: the error's text (error_len bytes). */
typedef struct record_head {
    uint32_t has_pred;
    int32_t n_warnings;
    uint32_t n_kept;    /* warnings stored */
    uint32_t error_len;
} record_head;

/* A growing byte buffer of one round's records. */
typedef struct round_buf {
    char *data;
    size_t used, cap;
    size_t classes; /* floats of a distribution (0: none asked for) */
    int failed;     /* out of memory */
} round_buf;

static void put(round_buf *b, const void *p, size_t n) {
    if (b->failed) return;
    if (b->used + n > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->used + n) cap *= 2;
        char *d = realloc(b->data, cap);
        if (!d) {
            b->failed = 1;
            return;
        }
        b->data = d;
        b->cap = cap;
    }
    memcpy(b->data + b->used, p, n);
    b->used += n;
}

/* n rounded up to 8: the records after an error's text stay aligned for the distribution. */
static size_t padded(size_t n) { return (n + 7) / 8 * 8; }

static int pack(void *ctx, const geoloc_photo_answer *a) {
    round_buf *b = ctx;
    record_head h = {a->pred != NULL, a->n_warnings, 0, 0};
    if (a->pred) h.n_kept = a->n_warnings < GEOLOC_IMAGE_MAX_WARNINGS ? (uint32_t)a->n_warnings : GEOLOC_IMAGE_MAX_WARNINGS;
    else h.error_len = (uint32_t)strlen(a->error ? a->error : "");
    geoloc_photo_meta none = {0};
    put(b, &h, sizeof h);
    put(b, a->meta ? a->meta : &none, sizeof none);
    if (a->pred) {
        put(b, a->pred, sizeof *a->pred);
        if (h.n_kept) put(b, a->warnings, h.n_kept * (size_t)GEOLOC_IMAGE_WARNING_SIZE);
        if (b->classes) put(b, a->distribution, b->classes * sizeof(float));
    } else {
        static const char zeros[8];
        put(b, a->error ? a->error : "", h.error_len);
        put(b, zeros, padded(h.error_len) - h.error_len);
    }
    return b->failed;
}

/* Reads the record at *p (moved past it) into a, with the storage it points to. */
static void unpack(const char **p, const round_buf *b, geoloc_photo_answer *a, geoloc_photo_meta *meta,
                   geoloc_prediction *pred, char warnings[][GEOLOC_IMAGE_WARNING_SIZE], char *error, size_t error_size) {
    record_head h;
    memcpy(&h, *p, sizeof h);
    *p += sizeof h;
    memcpy(meta, *p, sizeof *meta);
    *p += sizeof *meta;
    a->meta = meta;
    a->n_warnings = h.n_warnings;
    if (h.has_pred) {
        memcpy(pred, *p, sizeof *pred);
        *p += sizeof *pred;
        memcpy(warnings, *p, h.n_kept * (size_t)GEOLOC_IMAGE_WARNING_SIZE);
        *p += h.n_kept * (size_t)GEOLOC_IMAGE_WARNING_SIZE;
        a->pred = pred;
        a->warnings = (const char(*)[GEOLOC_IMAGE_WARNING_SIZE])warnings;
        a->distribution = b->classes ? (const float *)(const void *)*p : NULL;
        *p += b->classes * sizeof(float);
    } else {
        size_t n = h.error_len < error_size ? h.error_len : error_size - 1;
        memcpy(error, *p, n);
        error[n] = 0;
        *p += padded(h.error_len);
        a->error = error;
    }
}

/* Rank 0: hands the round's gathered records (photos first.. of in) to fn; 1 when fn asks to stop. */
static int hand_over(const char *data, size_t count, size_t first, const geoloc_photo_input *in, round_buf *b,
                     geoloc_answer_fn fn, void *ctx, geoloc_batch_stats *st) {
    const char *p = data;
    char warnings[GEOLOC_IMAGE_MAX_WARNINGS][GEOLOC_IMAGE_WARNING_SIZE], error[512];
    for (size_t i = 0; i < count; i++) {
        geoloc_photo_meta meta;
        geoloc_prediction pred;
        const geoloc_photo_input *x = &in[first + i];
        geoloc_photo_answer a = {.index = first + i, .name = x->name ? x->name : x->path ? x->path : "(photo)"};
        unpack(&p, b, &a, &meta, &pred, warnings, error, sizeof error);
        if (a.pred) st->predicted++;
        else st->failed++;
        if (fn(ctx, &a) != 0) return 1;
    }
    return 0;
}

geoloc_status geoloc_predict_photos_split(geoloc_predictor *p, const geoloc_photo_input *in, size_t n,
                                          int want_distribution, geoloc_answer_fn fn, void *ctx,
                                          geoloc_batch_stats *stats, geoloc_error *err) {
    int rank = geoloc_dist_rank(), size = geoloc_dist_size();
    if (size == 1) return geoloc_predict_photos(p, in, n, want_distribution, fn, ctx, stats, err);
    if (geoloc_predictor_model(p)->n_partitions == 0)
        return error_set(err, GEOLOC_E_ARG, "a scene classifier: predicted in one process only");
    size_t batch = (size_t)geoloc_predictor_options(p).batch, round = batch * (size_t)size;
    round_buf b = {.classes = want_distribution ? geoloc_predictor_classes(p) : 0};
    geoloc_batch_stats st = {0};
    geoloc_status s = GEOLOC_OK;
    for (size_t start = 0; s == GEOLOC_OK && start < n; start += round) {
        size_t count = n - start < round ? n - start : round, first = batch * (size_t)rank, mine = 0;
        if (first < count) mine = count - first < batch ? count - first : batch;
        else first = count;
        b.used = 0;
        geoloc_batch_stats local;
        s = geoloc_predict_photos(p, in + start + first, mine, want_distribution, pack, &b, &local, err);
        if (s == GEOLOC_OK && b.failed) s = error_set(err, GEOLOC_E_NOMEM, "out of memory for the answers");
        if ((s = geoloc_dist_agree(s, err)) != GEOLOC_OK) break;
        void *all = NULL;
        size_t bytes;
        if ((s = geoloc_dist_gather(b.data, b.used, 0, &all, &bytes, NULL, err)) != GEOLOC_OK) break;
        int64_t stop = rank == 0 && hand_over(all, count, start, in, &b, fn, ctx, &st);
        free(all);
        if ((s = geoloc_dist_broadcast(&stop, sizeof stop, 0, err)) != GEOLOC_OK) break;
        st.stopped = (int)stop;
        if (stop) break;
    }
    free(b.data);
    if (stats) *stats = st;
    return s;
}
