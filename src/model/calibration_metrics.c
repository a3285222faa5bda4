/* The confidence figures of an evaluation (geoloc_confidence_summarize):
 * coverage and median of the radii, the constant radius they compete with, GeoScore, the share answered and the
 * accuracy of the answered photos. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "geoloc/calibration.h"

#define GEOSCORE_SCALE_KM 1492.7 /* OSV-5M's GeoScore: 5000 exp(-d / 1492.7) */

double geoloc_geoscore(double km) { return 5000.0 * exp(-km / GEOSCORE_SCALE_KM); }

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The median of v[0..n) (sorted in place; mean of the two middle ones for even n). */
static double median(double *v, size_t n) {
    if (!n) return NAN;
    qsort(v, n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

geoloc_status geoloc_confidence_summarize(const double *km, const double *r50, const double *r90,
                                          const unsigned char *unknown, size_t n,
                                          geoloc_confidence_summary *out, geoloc_error *err) {
    memset(out, 0, sizeof *out);
    if (n == 0) return error_set(err, GEOLOC_E_EMPTY, "confidence summary: no photos");
    double *buf = malloc(3 * n * sizeof *buf);
    if (!buf) return error_set(err, GEOLOC_E_NOMEM, "out of memory");
    double *a = buf, *b = buf + n, *c = buf + 2 * n;
    size_t covered[2] = {0, 0};
    out->n = n;
    memcpy(a, km, n * sizeof *a); /* the oracle: the ceil(0.9 n)-th smallest error */
    qsort(a, n, sizeof *a, cmp_double);
    out->constant_radius90_km = a[(size_t)ceil(0.9 * (double)n - 1e-9) - 1];
    for (size_t i = 0; i < n; i++) {
        a[i] = geoloc_geoscore(km[i]);
        if (r50 && r90 && !isnan(r50[i]) && !isnan(r90[i])) {
            covered[0] += km[i] <= r50[i];
            covered[1] += km[i] <= r90[i];
            b[out->n_radius] = r50[i];
            c[out->n_radius++] = r90[i];
        }
    }
    double sum = 0;
    for (size_t i = 0; i < n; i++) sum += a[i];
    out->geoscore_mean = sum / (double)n;
    out->geoscore_median = median(a, n);
    for (int k = 0; k < 2; k++) {
        out->coverage[k] = out->n_radius ? (double)covered[k] / (double)out->n_radius : NAN;
        out->median_radius_km[k] = median(k ? c : b, out->n_radius);
    }
    for (size_t i = 0; i < n; i++) /* the answered photos' errors */
        if (!unknown || !unknown[i]) a[out->n_answered++] = km[i];
    out->answered_share = (double)out->n_answered / (double)n;
    geoloc_status s = out->n_answered ? geoloc_distance_summarize(a, out->n_answered, &out->answered, err) : GEOLOC_OK;
    free(buf);
    return s;
}
