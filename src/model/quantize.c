/* Post-training int8 quantisation of a model: calibration photos go through
 * the prediction path (decoding, crops) with the network recording every
 * convolution's largest |output| (GEOLOC_NN_CALIBRATE); int8 inference then
 * quantises activations with those ranges and weights per output channel. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "geoloc/predict.h"
#include "nn/net_io.h"

/* Counts the unreadable photos, keeping the first's name and error. */
static int count_photo(void *ctx, const geoloc_photo_answer *a) {
    geoloc_quantize_result *r = ctx;
    if (a->pred) {
        r->calibrated++;
    } else if (r->unreadable++ == 0) {
        snprintf(r->first_unreadable, sizeof r->first_unreadable, "%s: %s", a->name ? a->name : "?",
                 a->error ? a->error : "unreadable");
    }
    return 0;
}

/* E_ARG when a convolution's recorded range is not positive (its output stayed zero). */
static geoloc_status check_ranges(const geoloc_net *net, geoloc_error *err) {
    uint64_t n;
    float *r = net_int8_ranges(net, &n);
    if (!r) return error_set(err, GEOLOC_E_NOMEM, "out of memory");
    geoloc_status s = GEOLOC_OK;
    for (uint64_t i = 0; i < n && s == GEOLOC_OK; i++)
        if (!(r[i] > 0 && r[i] < 1e30f))
            s = error_set(err, GEOLOC_E_ARG, "calibration: convolution %llu's output range is %g on every "
                          "photo: no int8 scale can be set", (unsigned long long)i, (double)r[i]);
    free(r);
    return s;
}

geoloc_status geoloc_model_quantize(geoloc_model *m, const char *const *paths, size_t n,
                                    const geoloc_predict_options *opt, const char *source,
                                    geoloc_quantize_result *res, geoloc_error *err) {
    geoloc_quantize_result local;
    geoloc_quantize_result *r = res ? res : &local;
    memset(r, 0, sizeof *r);
    if (!m || !m->net) return error_set(err, GEOLOC_E_ARG, "quantisation needs a model with its network");
    if (n == 0) return error_set(err, GEOLOC_E_ARG, "quantisation needs calibration photos: none given");
    geoloc_predict_options o = opt ? *opt : geoloc_predict_options_default();
    o.precision = GEOLOC_PRECISION_CALIBRATE;
    if ((size_t)o.batch > n) o.batch = (int)n;
    geoloc_photo_input *in = calloc(n, sizeof *in);
    if (!in) return error_set(err, GEOLOC_E_NOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) in[i].path = paths[i];
    geoloc_net_clear_int8_ranges(m->net);
    geoloc_predictor *p = NULL;
    geoloc_status s = geoloc_predictor_create(m, &o, &p, err);
    if (s == GEOLOC_OK) s = geoloc_predict_photos(p, in, n, 0, count_photo, r, NULL, err);
    geoloc_predictor_free(p);
    free(in);
    if (s == GEOLOC_OK && r->calibrated == 0)
        s = error_set(err, GEOLOC_E_ARG, "calibration: none of the %zu photos could be read (%s)", n,
                      r->first_unreadable);
    if (s == GEOLOC_OK) s = check_ranges(m->net, err);
    char text[512];
    int crops = geoloc_predict_crop_count(o.crops);
    snprintf(text, sizeof text, "%zu photos%s%.300s, %d crop%s each, largest |output| per convolution",
             r->calibrated, source ? " of " : "", source ? source : "", crops, crops == 1 ? "" : "s");
    if (s == GEOLOC_OK) s = geoloc_model_set_meta(m, GEOLOC_INT8_CALIBRATION_KEY, text, err);
    if (s != GEOLOC_OK) geoloc_net_clear_int8_ranges(m->net);
    return s;
}
