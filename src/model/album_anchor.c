/* GPS anchors: photos of an album whose position is known weigh on the
 * album's fused distributions through a kernel-density prior over the cells
 * (exp(-d / scale) around each anchor, plus a floor), partition by
 * partition; the product is answered as any album. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "geoloc/album.h"
#include "geoloc/distance.h"
#include "geoloc/partition.h"

geoloc_anchor_options geoloc_anchor_options_default(void) {
    return (geoloc_anchor_options){GEOLOC_ANCHOR_SCALE_KM, GEOLOC_ANCHOR_FLOOR};
}

/* The prior of one cell at (lat, lng). */
static double anchor_prior(double lat, double lng, const geoloc_anchor *anchors, size_t n,
                           const geoloc_anchor_options *o) {
    double kde = 0;
    for (size_t a = 0; a < n; a++) kde += exp(-geoloc_haversine_km(lat, lng, anchors[a].lat, anchors[a].lon) / o->scale_km);
    return o->floor + kde / (double)n;
}

geoloc_status geoloc_album_anchor(const geoloc_model *m, const float *const *geo, const geoloc_anchor *anchors,
                                  size_t n_anchors, const geoloc_anchor_options *opt, float *const *out,
                                  geoloc_error *err) {
    geoloc_anchor_options o = opt ? *opt : geoloc_anchor_options_default();
    if (!m || !geo || !out || (n_anchors && !anchors))
        return error_set(err, GEOLOC_E_ARG, "anchors: bad arguments");
    if (!(o.scale_km > 0) || !isfinite(o.scale_km) || !(o.floor > 0) || !isfinite(o.floor))
        return error_set(err, GEOLOC_E_ARG, "anchors: scale %g km and floor %g must be positive", o.scale_km,
                         o.floor);
    for (size_t a = 0; a < n_anchors; a++)
        if (!(fabs(anchors[a].lat) <= 90) || !(fabs(anchors[a].lon) <= 180))
            return error_set(err, GEOLOC_E_RANGE, "anchor %zu: (%g, %g) is not a position", a, anchors[a].lat,
                             anchors[a].lon);
    for (size_t f = 0; f < m->n_partitions; f++) {
        const geoloc_partition *p = m->partitions[f];
        if (!n_anchors) {
            if (out[f] != geo[f]) memmove(out[f], geo[f], p->n * sizeof *out[f]);
            continue;
        }
        double *w = malloc(p->n * sizeof *w), total = 0;
        if (!w) return error_set(err, GEOLOC_E_NOMEM, "out of memory");
        for (size_t k = 0; k < p->n; k++)
            total += w[k] = (double)geo[f][k] * anchor_prior(p->lat[k], p->lng[k], anchors, n_anchors, &o);
        for (size_t k = 0; k < p->n; k++) out[f][k] = total > 0 ? (float)(w[k] / total) : geo[f][k];
        free(w);
    }
    return GEOLOC_OK;
}
