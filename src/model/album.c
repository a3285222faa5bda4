/* Album fusion: each photo's per-partition probabilities (crops averaged) are
 * kept; an album's distributions are their average (MEAN) or their normalised
 * geometric mean (LOGSUM, with a floor), partition by partition and for the scene,
 * and the album is answered as one photo by geoloc_answer_from_probs (the
 * hierarchy, top-k, Class2GPS and calibration are that code's). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "geoloc/album.h"
#include "geoloc/calibration.h"
#include "model/model_internal.h"

struct geoloc_album_probs {
    const geoloc_model *m;
    size_t n_photos;
    size_t width;                                  /* floats per photo */
    size_t offset[GEOLOC_MODEL_MAX_PARTITIONS + 1]; /* partition f's (then the scene's) place in a photo's */
    float *probs;                                  /* n_photos x width */
    unsigned char *set;                            /* photo stored */
};

static const char *const METHOD_NAMES[] = {"mean", "logsum", "prior"}; /* by geoloc_album_method */

const char *geoloc_album_method_name(geoloc_album_method method) {
    return (unsigned)method < sizeof METHOD_NAMES / sizeof *METHOD_NAMES ? METHOD_NAMES[method] : NULL;
}

int geoloc_album_method_parse(const char *name) {
    for (size_t k = 0; name && k < sizeof METHOD_NAMES / sizeof *METHOD_NAMES; k++)
        if (!strcmp(name, METHOD_NAMES[k])) return (int)k;
    return -1;
}

void geoloc_album_probs_free(geoloc_album_probs *a) {
    if (!a) return;
    free(a->probs);
    free(a->set);
    free(a);
}

geoloc_status geoloc_album_probs_create(const geoloc_model *m, size_t n_photos, geoloc_album_probs **out,
                                        geoloc_error *err) {
    *out = NULL;
    if (!m || m->n_partitions < 1) return error_set(err, GEOLOC_E_ARG, "album: no model");
    geoloc_album_probs *a = calloc(1, sizeof *a);
    if (!a) return error_set(err, GEOLOC_E_NOMEM, "out of memory");
    a->m = m;
    a->n_photos = n_photos;
    for (size_t f = 0; f < m->n_partitions; f++) {
        a->offset[f] = a->width;
        a->width += m->partitions[f]->n;
    }
    a->offset[m->n_partitions] = a->width;
    a->width += m->n_scenes;
    size_t photos = n_photos ? n_photos : 1;
    if (a->width > SIZE_MAX / sizeof(float) / photos ||
        !(a->probs = malloc(photos * a->width * sizeof *a->probs)) || !(a->set = calloc(photos, 1))) {
        geoloc_album_probs_free(a);
        return error_set(err, GEOLOC_E_NOMEM, "out of memory for the probabilities of %zu photos", n_photos);
    }
    *out = a;
    return GEOLOC_OK;
}

/* The crop average of n_crops rows of `classes` probabilities into dst. */
static geoloc_status store_average(const float *rows, size_t n_crops, size_t classes, double *tmp, float *dst,
                                   const char *what, geoloc_error *err) {
    if (!rows || answer_average_crops(rows, n_crops, classes, tmp) != 0)
        return error_set(err, GEOLOC_E_RANGE, "album: %s: %s", what,
                         rows ? "a probability that is not a finite number in [0, 1]" : "no probabilities given");
    for (size_t k = 0; k < classes; k++) dst[k] = (float)tmp[k];
    return GEOLOC_OK;
}

geoloc_status geoloc_album_probs_set(geoloc_album_probs *a, size_t photo, const float *const *geo,
                                     const float *scene, size_t n_crops, geoloc_error *err) {
    const geoloc_model *m = a->m;
    if (photo >= a->n_photos || !geo || n_crops < 1 || (scene && m->n_scenes == 0) || (!scene && m->n_scenes))
        return error_set(err, GEOLOC_E_ARG, "album: bad arguments (photo %zu of %zu, %zu crops)", photo,
                         a->n_photos, n_crops);
    size_t most = m->n_scenes;
    for (size_t f = 0; f < m->n_partitions; f++)
        if (m->partitions[f]->n > most) most = m->partitions[f]->n;
    double *tmp = malloc(most * sizeof *tmp);
    if (!tmp) return error_set(err, GEOLOC_E_NOMEM, "out of memory");
    float *dst = a->probs + photo * a->width;
    geoloc_status s = GEOLOC_OK;
    for (size_t f = 0; s == GEOLOC_OK && f < m->n_partitions; f++)
        s = store_average(geo[f], n_crops, m->partitions[f]->n, tmp, dst + a->offset[f], m->partition_names[f], err);
    if (s == GEOLOC_OK && scene)
        s = store_average(scene, n_crops, m->n_scenes, tmp, dst + a->offset[m->n_partitions], "scene head", err);
    free(tmp);
    a->set[photo] = s == GEOLOC_OK;
    return s;
}

/* Fuses values [from, from + classes) of the photos' rows into out. */
static void fuse(const geoloc_album_probs *a, const size_t *photos, size_t n, geoloc_album_method method,
                 size_t from, size_t classes, double *acc, float *out) {
    for (size_t k = 0; k < classes; k++) acc[k] = 0;
    for (size_t i = 0; i < n; i++) {
        const float *row = a->probs + photos[i] * a->width + from;
        for (size_t k = 0; k < classes; k++)
            acc[k] += method == GEOLOC_ALBUM_MEAN ? (double)row[k]
                                                  : log(fmax((double)row[k], GEOLOC_ALBUM_LOG_FLOOR));
    }
    if (method == GEOLOC_ALBUM_MEAN) {
        for (size_t k = 0; k < classes; k++) out[k] = (float)(acc[k] / (double)n);
        return;
    }
    double top = acc[0], total = 0;
    for (size_t k = 1; k < classes; k++) top = fmax(top, acc[k]);
    for (size_t k = 0; k < classes; k++) total += (acc[k] = exp((acc[k] - top) / (double)n));
    for (size_t k = 0; k < classes; k++) out[k] = (float)(acc[k] / total);
}

/* The calibration of an album of n photos fused by method: c itself for one
 * photo (the photo's answer) or when c has none for the method, else a copy
 * of c in *buf with the method's temperature, quantiles and max radius. */
static const geoloc_calibration *album_calibration(const geoloc_calibration *c, geoloc_album_method method,
                                                   size_t n, geoloc_calibration *buf) {
    if (!c || n < 2 || (int)method >= GEOLOC_CALIBRATION_ALBUM_METHODS || !c->album[method].photos) return c;
    const geoloc_album_calibration *a = &c->album[method];
    *buf = *c;
    buf->temperature = a->temperature;
    buf->q50 = a->q50;
    buf->q90 = a->q90;
    buf->max_radius_km = a->max_radius_km;
    return buf;
}

size_t geoloc_album_width(const geoloc_album_probs *a) { return a->width; }

const geoloc_model *geoloc_album_probs_model(const geoloc_album_probs *a) { return a->m; }

geoloc_status geoloc_album_fuse(const geoloc_album_probs *a, const size_t *photos, size_t n,
                                geoloc_album_method method, float *fused, const float **geo, const float **scene,
                                geoloc_error *err) {
    if (!a || !photos || n < 1 || !fused || !geo || !scene || !geoloc_album_method_name(method) ||
        method == GEOLOC_ALBUM_PRIOR)
        return error_set(err, GEOLOC_E_ARG, "album: bad arguments (%zu photos, method %d%s)", n, (int)method,
                         method == GEOLOC_ALBUM_PRIOR ? ": prior answers per photo, geoloc_album_answer_photo" : "");
    for (size_t i = 0; i < n; i++)
        if (photos[i] >= a->n_photos || !a->set[photos[i]])
            return error_set(err, GEOLOC_E_ARG, "album: photo %zu has no stored probabilities", photos[i]);
    size_t parts = a->m->n_partitions;
    double *acc = malloc(a->width * sizeof *acc);
    if (!acc) return error_set(err, GEOLOC_E_NOMEM, "out of memory");
    for (size_t f = 0; f <= parts; f++) {
        size_t classes = (f < parts ? a->offset[f + 1] : a->width) - a->offset[f];
        if (classes) fuse(a, photos, n, method, a->offset[f], classes, acc, fused + a->offset[f]);
        if (f < parts) geo[f] = fused + a->offset[f];
    }
    *scene = a->m->n_scenes ? fused + a->offset[parts] : NULL;
    free(acc);
    return GEOLOC_OK;
}

geoloc_status geoloc_album_answer_probs(const geoloc_model *m, const float *const *geo, const float *scene,
                                        geoloc_album_method method, size_t n_photos,
                                        const geoloc_predict_options *opt, geoloc_prediction *out,
                                        float *distribution, geoloc_error *err) {
    geoloc_calibration album_cal; /* the model's, with the album method's numbers when fitted */
    const geoloc_calibration *cal = album_calibration(m->calibration, method, n_photos, &album_cal);
    geoloc_status s = answer_from_probs_calibrated(m, cal, geo, scene, 1, opt->partition, opt->top_k, out,
                                                   distribution, err);
    if (s == GEOLOC_OK && out->calibrated && opt->max_radius_km > 0)
        out->unknown = out->radius_km[0] > opt->max_radius_km;
    return s;
}

geoloc_status geoloc_album_answer(const geoloc_album_probs *a, const size_t *photos, size_t n,
                                  geoloc_album_method method, const geoloc_predict_options *opt,
                                  geoloc_prediction *out, float *distribution, geoloc_error *err) {
    if (!a || !opt || !out) return error_set(err, GEOLOC_E_ARG, "album: bad arguments");
    float *fused = malloc(a->width * sizeof *fused);
    if (!fused) return error_set(err, GEOLOC_E_NOMEM, "out of memory");
    const float *geo[GEOLOC_MODEL_MAX_PARTITIONS], *scene;
    geoloc_status s = geoloc_album_fuse(a, photos, n, method, fused, geo, &scene, err);
    if (s == GEOLOC_OK) s = geoloc_album_answer_probs(a->m, geo, scene, method, n, opt, out, distribution, err);
    free(fused);
    return s;
}

geoloc_status geoloc_album_answer_photo(const geoloc_album_probs *a, const size_t *photos, size_t n, size_t photo,
                                        const geoloc_predict_options *opt, geoloc_prediction *out,
                                        float *distribution, geoloc_error *err) {
    if (!a || !opt || !out || photo >= a->n_photos || !a->set[photo])
        return error_set(err, GEOLOC_E_ARG, "album: bad arguments (photo %zu)", photo);
    float *fused = malloc(a->width * sizeof *fused);
    size_t *others = malloc((n ? n : 1) * sizeof *others), n_others = 0;
    if (!fused || !others) {
        free(fused);
        free(others);
        return error_set(err, GEOLOC_E_NOMEM, "out of memory");
    }
    for (size_t i = 0; photos && i < n; i++)
        if (photos[i] != photo) others[n_others++] = photos[i];
    const float *geo[GEOLOC_MODEL_MAX_PARTITIONS], *scene;
    const float *own = a->probs + photo * a->width;
    geoloc_status s = GEOLOC_OK;
    if (n_others) s = geoloc_album_fuse(a, others, n_others, GEOLOC_ALBUM_MEAN, fused, geo, &scene, err);
    else memcpy(fused, own, a->width * sizeof *fused); /* alone: its own answer (kept below) */
    size_t parts = a->m->n_partitions;
    for (size_t f = 0; s == GEOLOC_OK && f <= parts; f++) { /* the other photos' average times the photo's */
        size_t from = a->offset[f], to = f < parts ? a->offset[f + 1] : a->width;
        double total = 0;
        for (size_t k = from; k < to; k++) total += (double)(fused[k] *= own[k]);
        for (size_t k = from; k < to && total > 0; k++) fused[k] = (float)(fused[k] / total);
        if (!(total > 0) || !n_others) memcpy(fused + from, own + from, (to - from) * sizeof *fused);
        if (f < parts) geo[f] = fused + from;
    }
    scene = a->m->n_scenes ? fused + a->offset[parts] : NULL;
    if (s == GEOLOC_OK)
        s = geoloc_album_answer_probs(a->m, geo, scene, GEOLOC_ALBUM_PRIOR, n, opt, out, distribution, err);
    free(fused);
    free(others);
    return s;
}

geoloc_status geoloc_album_answer_all(const geoloc_album_probs *a, const size_t *album_of, size_t n_albums,
                                      geoloc_album_method method, const geoloc_predict_options *opt,
                                      geoloc_prediction *out, size_t *size, float *const *distributions,
                                      geoloc_error *err) {
    size_t n = a->n_photos, *members = malloc((n ? n : 1) * sizeof *members), *start = calloc(n_albums + 1, sizeof *start);
    if (!members || !start) {
        free(members);
        free(start);
        return error_set(err, GEOLOC_E_NOMEM, "out of memory");
    }
    for (size_t i = 0; i < n; i++) /* photos listed album by album: counts, offsets, then the lists */
        if (a->set[i] && album_of[i] < n_albums) start[album_of[i] + 1]++;
    for (size_t j = 0; j < n_albums; j++) start[j + 1] += start[j];
    for (size_t j = 0; j < n_albums; j++) size[j] = 0;
    for (size_t i = 0; i < n; i++)
        if (a->set[i] && album_of[i] < n_albums) members[start[album_of[i]] + size[album_of[i]]++] = i;
    geoloc_status s = GEOLOC_OK;
    for (size_t j = 0; s == GEOLOC_OK && j < n_albums; j++) {
        memset(&out[j], 0, sizeof out[j]);
        if (size[j])
            s = geoloc_album_answer(a, members + start[j], size[j], method, opt, &out[j],
                                    distributions ? distributions[j] : NULL, err);
    }
    free(members);
    free(start);
    return s;
}
