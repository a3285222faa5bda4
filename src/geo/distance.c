/* Great-circle distances (haversine) and the distance-accuracy summary. */
#include "geoloc/distance.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"

const geoloc_threshold geoloc_thresholds[GEOLOC_N_THRESHOLDS] = {
    {1.0, "street", "1km"},
    {25.0, "city", "25km"},
    {200.0, "region", "200km"},
    {750.0, "country", "750km"},
    {2500.0, "continent", "2500km"},
};

#define DEG_TO_RAD (3.14159265358979323846 / 180.0)

double geoloc_haversine_km(double lat1, double lng1, double lat2, double lng2) {
    double phi1 = lat1 * DEG_TO_RAD, phi2 = lat2 * DEG_TO_RAD;
    /* Differences in degrees first: exact for nearby points (Sterbenz), so
     * short distances keep full relative precision. */
    double s_dphi = sin((lat2 - lat1) * DEG_TO_RAD * 0.5);
    double s_dlam = sin((lng2 - lng1) * DEG_TO_RAD * 0.5);
    double h = s_dphi * s_dphi + cos(phi1) * cos(phi2) * s_dlam * s_dlam;
    double s = sqrt(h);
    /* Rounding can push the argument just past 1 for antipodal points (and
     * cos() of +-90 degrees is not exactly 0); comparisons keep NaN as NaN. */
    if (s > 1.0) s = 1.0;
    if (s < 0.0) s = 0.0;
    return 2.0 * GEOLOC_EARTH_RADIUS_KM * asin(s);
}

/* ---- selection of the k-th smallest value ---- */

static uint64_t splitmix64(uint64_t *state) {
    uint64_t z = (*state += 0x9E3779B97F4A7C15u);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9u;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBu;
    return z ^ (z >> 31);
}

static double median3(double a, double b, double c) {
    if (a > b) { double t = a; a = b; b = t; }
    if (b > c) b = c;
    return a > b ? a : b;
}

static int cmp_double(const void *pa, const void *pb) {
    double a = *(const double *)pa, b = *(const double *)pb;
    return (a > b) - (a < b);
}

static void insertion_sort(double *a, size_t n) {
    for (size_t i = 1; i < n; i++) {
        double v = a[i];
        size_t j = i;
        while (j > 0 && a[j - 1] > v) {
            a[j] = a[j - 1];
            j--;
        }
        a[j] = v;
    }
}

/* Rearranges a[0..n) (no NaN) so that a[k] holds the k-th smallest value
 * (0-based) and every a[i], i < k, is <= a[k]. Expected O(n): quickselect
 * with a three-way partition (many equal values are cheap) around the median
 * of three pseudo-random samples; if the range stops shrinking (should never
 * happen in practice) the remainder is sorted, so the worst case is
 * O(n log n). */
static void select_kth(double *a, size_t n, size_t k) {
    size_t lo = 0, hi = n;
    uint64_t state = 0x2545F4914F6CDD1Du ^ (uint64_t)n;
    int budget = 32;
    for (size_t m = n; m > 1; m >>= 1) budget += 4;
    while (hi - lo > 16) {
        size_t len = hi - lo;
        if (budget-- == 0) {
            qsort(a + lo, len, sizeof *a, cmp_double);
            return;
        }
        double p = median3(a[lo + splitmix64(&state) % len], a[lo + splitmix64(&state) % len],
                           a[lo + splitmix64(&state) % len]);
        /* [lo,lt) < p, [lt,i) == p, [gt,hi) > p */
        size_t lt = lo, i = lo, gt = hi;
        while (i < gt) {
            double v = a[i];
            if (v < p) {
                a[i++] = a[lt];
                a[lt++] = v;
            } else if (v > p) {
                a[i] = a[--gt];
                a[gt] = v;
            } else {
                i++;
            }
        }
        if (k < lt)
            hi = lt;
        else if (k >= gt)
            lo = gt;
        else
            return; /* a[k] == p and the invariant holds */
    }
    insertion_sort(a + lo, hi - lo);
}

geoloc_status geoloc_distance_summarize(const double *km, size_t n,
                                        geoloc_distance_summary *out, geoloc_error *err) {
    if (out == NULL) return error_set(err, GEOLOC_E_ARG, "distance summary: no output given");
    memset(out, 0, sizeof *out);
    if (n == 0) return error_set(err, GEOLOC_E_EMPTY, "distance summary: no distances");
    if (km == NULL) return error_set(err, GEOLOC_E_ARG, "distance summary: no distances given");

    size_t count[GEOLOC_N_THRESHOLDS] = {0};
    double sum = 0.0, comp = 0.0; /* Neumaier compensated summation */
    for (size_t i = 0; i < n; i++) {
        double d = km[i];
        if (!(d >= 0.0) || !isfinite(d))
            return error_set(err, GEOLOC_E_ARG,
                             "distance summary: distance %zu is %g km (must be finite and >= 0)",
                             i, d);
        for (int t = 0; t < GEOLOC_N_THRESHOLDS; t++) count[t] += d <= geoloc_thresholds[t].km;
        double s = sum + d;
        comp += fabs(sum) >= d ? (sum - s) + d : (d - s) + sum;
        sum = s;
    }
    double mean = (sum + comp) / (double)n;
    if (!isfinite(mean)) { /* the sum overflowed: average scaled values */
        mean = 0.0;
        for (size_t i = 0; i < n; i++) mean += km[i] / (double)n;
    }

    if (n > SIZE_MAX / sizeof(double))
        return error_set(err, GEOLOC_E_NOMEM, "distance summary: %zu distances is too many", n);
    double *work = malloc(n * sizeof *work);
    if (work == NULL)
        return error_set(err, GEOLOC_E_NOMEM, "distance summary: out of memory for %zu distances",
                         n);
    memcpy(work, km, n * sizeof *work);
    size_t upper = n / 2;
    select_kth(work, n, upper);
    double median = work[upper];
    if (n % 2 == 0) {
        /* The lower middle value is the largest of the ones before `upper`. */
        double lower = work[0];
        for (size_t i = 1; i < upper; i++)
            if (work[i] > lower) lower = work[i];
        median = lower + (median - lower) * 0.5;
    }
    free(work);

    out->n = n;
    for (int t = 0; t < GEOLOC_N_THRESHOLDS; t++) out->accuracy[t] = (double)count[t] / (double)n;
    out->median_km = median;
    out->mean_km = mean;
    return GEOLOC_OK;
}
