/* The fine-tuned backbone stages of model files (format 3): a heads-only file
 * may carry the parameters of the ResNet stages layer<K>..layer4 (geoloc.tuned
 * "layer<K>,...,layer4"), as F16 or F32, which loading puts over the backbone
 * file's. Here: stage names, the metadata text, the F16 conversion that refuses
 * values beyond its range, and reading one such tensor back into a parameter. */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/error.h"
#include "core/half.h"
#include "model/model_internal.h"

int model_param_stage(const char *name) {
    return !strncmp(name, "layer", 5) && name[5] >= '1' && name[5] <= '4' && name[6] == '.' ? name[5] - '0' : 0;
}

void model_tuned_text(int from, char *out, size_t size) {
    size_t len = 0;
    out[0] = '\0';
    for (int k = from; k >= 1 && k <= 4 && len < size; k++)
        len += (size_t)snprintf(out + len, size - len, "%slayer%d", k > from ? "," : "", k);
}

int model_tuned_parse(const char *text) {
    char want[32];
    for (int from = 1; from <= 4; from++) {
        model_tuned_text(from, want, sizeof want);
        if (!strcmp(text, want)) return from;
    }
    return 0;
}

geoloc_status model_half_from_floats(const float *src, size_t n, uint16_t *dst, const char *file, const char *name,
                                     geoloc_error *err) {
    for (size_t k = 0; k < n; k++) {
        dst[k] = half_from_double(src[k]);
        if ((dst[k] & HALF_EXP_MASK) == HALF_EXP_MASK)
            return error_set(err, GEOLOC_E_RANGE, "%s: %s[%zu] is %g: beyond the F16 range (65504); save it as F32",
                             file, name, k, (double)src[k]);
    }
    return GEOLOC_OK;
}

/* "[a,b,...]" of a shape. */
static void shape_text(char *out, size_t size, const uint64_t *shape, size_t ndim) {
    size_t len = (size_t)snprintf(out, size, "[");
    for (size_t d = 0; d < ndim && len < size; d++)
        len += (size_t)snprintf(out + len, size - len, "%s%" PRIu64, d ? "," : "", shape[d]);
    if (len < size) snprintf(out + len, size - len, "]");
}

geoloc_status model_tuned_load_param(geoloc_param *p, const geoloc_safetensors *st, const char *file,
                                     geoloc_error *err) {
    const geoloc_tensor_info *t = geoloc_safetensors_find(st, p->name);
    if (!t)
        return error_set(err, GEOLOC_E_PARSE, "%s: tensor \"%s\": missing (geoloc.tuned: the file holds every "
                         "parameter of its fine-tuned stages)", file, p->name);
    int same = t->ndim == p->ndim;
    for (size_t d = 0; same && d < p->ndim; d++) same = t->shape[d] == p->shape[d];
    if (!same) {
        char a[128], b[128];
        shape_text(a, sizeof a, t->shape, t->ndim);
        shape_text(b, sizeof b, p->shape, p->ndim);
        return error_set(err, GEOLOC_E_PARSE, "%s: tensor \"%s\": shape %s, %s expected", file, p->name, a, b);
    }
    for (size_t k = 0; k < p->n; k++) {
        float v;
        if (t->dtype == GEOLOC_DTYPE_F16) {
            uint16_t h;
            memcpy(&h, (const unsigned char *)t->data + 2 * k, 2);
            v = half_to_float(h);
        } else {
            memcpy(&v, (const unsigned char *)t->data + 4 * k, 4);
        }
        if (!isfinite(v))
            return error_set(err, GEOLOC_E_PARSE, "%s: tensor \"%s\": element %zu is %s, not a finite number", file,
                             p->name, k, isnan(v) ? "nan" : "inf");
        p->data[k] = v;
    }
    return GEOLOC_OK;
}
