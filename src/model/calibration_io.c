/* A model's calibration in its file: the metadata "geoloc.calibration"
 * ("temperature=T q50=A q90=B max_radius_km=R ood_threshold=O photos=N",
 * then for each album method fitted " album_mean=T,A,B,R,N" / " album_logsum=..." / " album_prior=...")
 * and, with an OOD test, the tensor "calibration.ood" (F32, dim: the
 * calibration photos' mean feature vector). A file without them is an uncalibrated model. */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "geoloc/calibration.h"
#include "model/model_internal.h"

/* The names of the album calibrations in the text, by geoloc_album_method. */
static const char *const ALBUM_KEYS[GEOLOC_CALIBRATION_ALBUM_METHODS] = {"album_mean", "album_logsum",
                                                                          "album_prior"};

void model_calibration_text(const geoloc_calibration *c, char *out, size_t size) {
    int n = snprintf(out, size, "temperature=%.9g q50=%.9g q90=%.9g max_radius_km=%.9g ood_threshold=%.9g photos=%zu",
                     c->temperature, c->q50, c->q90, c->max_radius_km, c->ood_threshold, c->photos);
    for (int k = 0; k < GEOLOC_CALIBRATION_ALBUM_METHODS; k++) {
        const geoloc_album_calibration *a = &c->album[k];
        if (a->photos && n >= 0 && (size_t)n < size)
            n += snprintf(out + n, size - (size_t)n, " %s=%.9g,%.9g,%.9g,%.9g,%zu", ALBUM_KEYS[k], a->temperature,
                          a->q50, a->q90, a->max_radius_km, a->photos);
    }
}

/* Parses the album calibrations " album_NAME=T,q50,q90,R,N" that may follow
 * the photos' numbers (each at most once); 0, or -1 on anything else. */
static int read_albums(const char *v, geoloc_calibration *c) {
    while (*v) {
        int k = 0, used = 0;
        while (k < GEOLOC_CALIBRATION_ALBUM_METHODS &&
               (v[0] != ' ' || strncmp(v + 1, ALBUM_KEYS[k], strlen(ALBUM_KEYS[k])) ||
                v[1 + strlen(ALBUM_KEYS[k])] != '='))
            k++;
        if (k == GEOLOC_CALIBRATION_ALBUM_METHODS || c->album[k].photos) return -1;
        geoloc_album_calibration *a = &c->album[k];
        v += 2 + strlen(ALBUM_KEYS[k]);
        if (sscanf(v, "%lf,%lf,%lf,%lf,%zu%n", &a->temperature, &a->q50, &a->q90, &a->max_radius_km, &a->photos,
                   &used) != 5 || !(a->temperature > 0) || !isfinite(a->temperature) || !(a->q50 >= 0) ||
            !(a->q90 >= a->q50) || !(a->q90 <= 1) || !(a->max_radius_km >= 0) || a->photos == 0)
            return -1;
        v += used;
    }
    return 0;
}

geoloc_status model_calibration_read(const geoloc_safetensors *st, const char *file, geoloc_model *m,
                                     geoloc_error *err) {
    const char *v = geoloc_safetensors_metadata_get(st, MODEL_CALIBRATION_KEY);
    const geoloc_tensor_info *t = geoloc_safetensors_find(st, MODEL_CALIBRATION_TENSOR);
    if (!v) {
        if (t) return error_set(err, GEOLOC_E_PARSE, "%s: tensor %s without %s", file, MODEL_CALIBRATION_TENSOR,
                                MODEL_CALIBRATION_KEY);
        return GEOLOC_OK;
    }
    geoloc_calibration *c = calloc(1, sizeof *c);
    if (!c) return error_set(err, GEOLOC_E_NOMEM, "%s: out of memory", file);
    int used = 0;
    int got = sscanf(v, "temperature=%lf q50=%lf q90=%lf max_radius_km=%lf ood_threshold=%lf photos=%zu%n",
                     &c->temperature, &c->q50, &c->q90, &c->max_radius_km, &c->ood_threshold, &c->photos, &used);
    geoloc_status s = GEOLOC_OK;
    if (got != 6 || read_albums(v + used, c) != 0 || !(c->temperature > 0) || !isfinite(c->temperature) || !(c->q50 >= 0) ||
        !(c->q90 >= c->q50) || !(c->q90 <= 1) || !(c->max_radius_km >= 0) || !(c->ood_threshold >= 0) || !(c->ood_threshold <= 2))
        s = error_set(err, GEOLOC_E_PARSE, "%s: %s \"%.200s\": expected temperature=T (> 0) q50=A q90=B "
                      "(0 <= A <= B <= 1) max_radius_km=R ood_threshold=O (0 to 2) photos=N, then optional "
                      "album_mean=, album_logsum=, album_prior=T,A,B,R,N", file, MODEL_CALIBRATION_KEY, v);
    if (s == GEOLOC_OK && t) {
        if (t->ndim != 1 || t->shape[0] < 1 || t->shape[0] > 65536)
            s = error_set(err, GEOLOC_E_PARSE, "%s: tensor %s: expected one dimension of 1 to 65536", file,
                          MODEL_CALIBRATION_TENSOR);
        const float *data = NULL;
        uint64_t shape[1] = {t->shape[0]};
        if (s == GEOLOC_OK) s = geoloc_safetensors_get_f32(st, MODEL_CALIBRATION_TENSOR, shape, 1, &data, err);
        if (s == GEOLOC_OK) {
            c->dim = (int)t->shape[0];
            if (!(c->ood_mean = malloc((size_t)c->dim * sizeof *c->ood_mean)))
                s = error_set(err, GEOLOC_E_NOMEM, "%s: out of memory", file);
        }
        for (int j = 0; s == GEOLOC_OK && j < c->dim; j++)
            if (!isfinite(c->ood_mean[j] = data[j]))
                s = error_set(err, GEOLOC_E_PARSE, "%s: tensor %s: value %d is not finite", file,
                              MODEL_CALIBRATION_TENSOR, j);
    }
    if (s != GEOLOC_OK) {
        geoloc_calibration_free(c);
        return s;
    }
    geoloc_calibration_free(m->calibration);
    m->calibration = c;
    return GEOLOC_OK;
}
