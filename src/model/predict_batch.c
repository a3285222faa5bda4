/* Batch prediction of photos from files or memory: each batch is read and
 * decoded in parallel, run through the predictor, and answered in order;
 * unreadable photos are answers with an error. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "geoloc/predict.h"
#include "io/mapped_file.h"

/* Buffers for one batch. */
typedef struct batch_bufs {
    geoloc_image *img;       /* decoded photos, in slot order */
    geoloc_prediction *pred; /* by slot */
    geoloc_photo_meta *meta; /* by photo */
    int *ok;                 /* photo decoded */
    char (*why)[512];        /* by photo */
    float **dist;            /* by slot */
    float *scenes;           /* scene classifiers: by slot, n_scenes each */
    size_t n;
} batch_bufs;

static void bufs_free(batch_bufs *b) {
    for (size_t i = 0; b->dist && i < b->n; i++) free(b->dist[i]);
    free(b->img);
    free(b->pred);
    free(b->meta);
    free(b->ok);
    free(b->why);
    free(b->dist);
    free(b->scenes);
}

static int bufs_alloc(batch_bufs *b, size_t n, size_t classes, int want_distribution, size_t scenes) {
    *b = (batch_bufs){calloc(n, sizeof *b->img), calloc(n, sizeof *b->pred), calloc(n, sizeof *b->meta),
                      calloc(n, sizeof *b->ok), calloc(n, sizeof *b->why), calloc(n, sizeof *b->dist),
                      scenes ? calloc(n * scenes, sizeof *b->scenes) : NULL, n};
    int ok = b->img && b->pred && b->meta && b->ok && b->why && b->dist && (!scenes || b->scenes);
    for (size_t i = 0; ok && want_distribution && i < n; i++)
        ok = (b->dist[i] = malloc(classes * sizeof(float))) != NULL;
    return ok ? 0 : -1;
}

/* Reads the EXIF metadata and decodes one photo into *img; 0, or -1 with why. */
static int read_photo(const geoloc_photo_input *in, const char *name, const geoloc_decode_options *dopt,
                      geoloc_image *img, geoloc_photo_meta *meta, char *why, size_t why_size) {
    const void *data = in->data;
    size_t size = in->size;
    geoloc_error err = {0};
    memset(meta, 0, sizeof *meta);
    if (!data && (!in->path || mapped_file_open(in->path, &data, &size, &err) != GEOLOC_OK)) {
        snprintf(why, why_size, "%s", in->path ? err.message : "no path and no bytes given");
        return -1;
    }
    if (geoloc_photo_meta_read(data, size, name, meta, &err) != GEOLOC_OK) memset(meta, 0, sizeof *meta);
    geoloc_status s = geoloc_image_decode(data, size, name, dopt, img, &err);
    if (!in->data) mapped_file_close(data, size);
    if (s != GEOLOC_OK) {
        snprintf(why, why_size, "%s", err.message);
        return -1;
    }
    return 0;
}

/* The scene probabilities of photos [0, n) of images into scenes: a scene
 * classifier's by geoloc_predict_scenes, each level's most probable class into
 * pred; a geolocation model's from its last run (pred already answered). */
static geoloc_status predict_scenes(geoloc_predictor *p, const geoloc_image *images, size_t n, float *scenes,
                                    geoloc_prediction *pred, geoloc_error *err) {
    const geoloc_model *m = geoloc_predictor_model(p);
    if (m->n_partitions) {
        for (size_t i = 0; i < n; i++) {
            const float *geo[GEOLOC_MODEL_MAX_PARTITIONS], *rows;
            int crops = geoloc_predictor_probs(p, i, geo, &rows);
            for (size_t k = 0; k < m->n_scenes; k++) {
                double sum = 0;
                for (int c = 0; c < crops; c++) sum += rows[(size_t)c * m->n_scenes + k];
                scenes[i * m->n_scenes + k] = (float)(sum / crops);
            }
        }
        return GEOLOC_OK;
    }
    geoloc_status s = geoloc_predict_scenes(p, images, n, scenes, err);
    for (size_t i = 0; s == GEOLOC_OK && i < n; i++) {
        memset(&pred[i], 0, sizeof pred[i]);
        for (int l = 0; l < GEOLOC_SCENE_LEVELS; l++) {
            const float *row = scenes + i * m->n_scenes + m->scene_offset[l];
            pred[i].scene[l] = -1;
            for (size_t k = 0; k < m->scene_classes[l]; k++)
                if (k == 0 || row[k] > row[pred[i].scene[l]]) pred[i].scene[l] = (int)k;
            if (pred[i].scene[l] >= 0) pred[i].scene_prob[l] = row[pred[i].scene[l]];
        }
    }
    return s;
}

static const char *input_name(const geoloc_photo_input *in) {
    return in->name ? in->name : in->path ? in->path : "(photo)";
}

geoloc_status geoloc_predict_photos(geoloc_predictor *p, const geoloc_photo_input *in, size_t n,
                                    int want_distribution, geoloc_answer_fn fn, void *ctx,
                                    geoloc_batch_stats *stats, geoloc_error *err) {
    geoloc_batch_stats st = {0};
    geoloc_predict_options opt = geoloc_predictor_options(p);
    const geoloc_model *m = geoloc_predictor_model(p);
    size_t B = (size_t)opt.batch, scenes = m->n_scenes, classify = m->n_partitions == 0;
    batch_bufs b;
    geoloc_status s = GEOLOC_OK;
    if (bufs_alloc(&b, B, geoloc_predictor_classes(p), want_distribution && !classify, scenes) != 0)
        s = error_set(err, GEOLOC_E_NOMEM, "out of memory for a batch of %zu photos", B);
    geoloc_decode_options dopt = {.min_shorter_side = geoloc_predict_min_side(m, opt.crops),
                                  .max_pixels = opt.max_pixels, .strict = opt.strict};
    for (size_t start = 0; s == GEOLOC_OK && !st.stopped && start < n; start += B) {
        size_t count = n - start < B ? n - start : B, decoded = 0;
        geoloc_image *tmp = calloc(count, sizeof *tmp);
        if (!tmp) {
            s = error_set(err, GEOLOC_E_NOMEM, "out of memory");
            break;
        }
#pragma omp parallel for schedule(dynamic)
        for (size_t i = 0; i < count; i++)
            b.ok[i] = read_photo(&in[start + i], input_name(&in[start + i]), &dopt, &tmp[i], &b.meta[i], b.why[i],
                                 sizeof b.why[i]) == 0;
        for (size_t i = 0; i < count; i++) /* decoded photos side by side for the network */
            if (b.ok[i]) b.img[decoded++] = tmp[i];
        free(tmp);
        if (decoded && !classify) s = geoloc_predict(p, b.img, decoded, b.pred, want_distribution ? b.dist : NULL, err);
        if (decoded && scenes && s == GEOLOC_OK) s = predict_scenes(p, b.img, decoded, b.scenes, b.pred, err);
        for (size_t i = 0, slot = 0; s == GEOLOC_OK && !st.stopped && i < count; i++) {
            geoloc_photo_answer a = {start + i, input_name(&in[start + i]), NULL, NULL, &b.meta[i], NULL, 0, NULL, NULL, 0, NULL};
            if (b.ok[i]) {
                a.pred = &b.pred[slot];
                a.n_warnings = b.img[slot].n_warnings;
                a.warnings = (const char(*)[GEOLOC_IMAGE_WARNING_SIZE])b.img[slot].warnings;
                a.distribution = want_distribution && !classify ? b.dist[slot] : NULL;
                a.scenes = scenes ? b.scenes + slot * scenes : NULL;
                a.run_index = slot;
                slot++;
                st.predicted++;
            } else {
                a.error = b.why[i];
                st.failed++;
            }
            st.stopped = fn(ctx, &a) != 0;
        }
        for (size_t i = 0; i < decoded; i++) geoloc_image_free(&b.img[i]);
    }
    bufs_free(&b);
    if (stats) *stats = st;
    return s;
}
