/* Calibrated confidence (include/geoloc/calibration.h): temperature scaling
 * of the answer's scores, split-conformal radii on the mass score M(d), the
 * abstention radius and the feature statistics of the out-of-distribution
 * test. Pure arithmetic on distributions: no network here. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "geoloc/calibration.h"
#include "geoloc/distance.h"
#include "geoloc/s2.h"

#define MIN_PHOTOS 20
#define T_LOW 0.02        /* temperature search range */
#define T_HIGH 50.0
#define MAX_RADIUS_LEVEL 0.9 /* max_radius_km: this quantile of the calibration photos' r50 */
#define OOD_LEVEL 0.99       /* ood_threshold: this quantile of the calibration photos' scores, */
#define OOD_MARGIN 0.25      /* plus this share of its distance to 1 */
#define EARTH_HALF_KM 20037.6 /* half the great circle: no distance is larger */

double geoloc_calibration_nll(const float *dist, size_t n, size_t classes, const long *truth, double t) {
    double total = 0;
    size_t used = 0;
    for (size_t i = 0; i < n; i++) {
        if (truth[i] < 0) continue;
        const float *row = dist + i * classes;
        /* log of p_y^(1/t) / sum_k p_k^(1/t), in logs for tiny probabilities */
        double top = -INFINITY;
        for (size_t k = 0; k < classes; k++)
            if (row[k] > 0 && log(row[k]) / t > top) top = log(row[k]) / t;
        double sum = 0;
        for (size_t k = 0; k < classes; k++)
            if (row[k] > 0) sum += exp(log(row[k]) / t - top);
        double py = row[truth[i]] > 0 ? log(row[truth[i]]) / t : log(1e-30) / t;
        total += -(py - top - log(sum));
        used++;
    }
    return used ? total / (double)used : 0;
}

double geoloc_calibration_fit_temperature(const float *dist, size_t n, size_t classes, const long *truth) {
    size_t used = 0;
    for (size_t i = 0; i < n; i++) used += truth[i] >= 0;
    if (!used) return 1.0;
    /* golden-section search on log t: the NLL of temperature scaling is convex in 1/t */
    double a = log(T_LOW), b = log(T_HIGH), g = (sqrt(5.0) - 1) / 2;
    double x1 = b - g * (b - a), x2 = a + g * (b - a);
    double f1 = geoloc_calibration_nll(dist, n, classes, truth, exp(x1));
    double f2 = geoloc_calibration_nll(dist, n, classes, truth, exp(x2));
    while (b - a > 1e-6) {
        if (f1 <= f2) {
            b = x2, x2 = x1, f2 = f1;
            x1 = b - g * (b - a);
            f1 = geoloc_calibration_nll(dist, n, classes, truth, exp(x1));
        } else {
            a = x1, x1 = x2, f1 = f2;
            x2 = a + g * (b - a);
            f2 = geoloc_calibration_nll(dist, n, classes, truth, exp(x2));
        }
    }
    return exp((a + b) / 2);
}

void geoloc_calibration_temper(float *dist, size_t classes, double t) {
    double top = -INFINITY, sum = 0;
    for (size_t k = 0; k < classes; k++)
        if (dist[k] > 0 && log(dist[k]) / t > top) top = log(dist[k]) / t;
    for (size_t k = 0; k < classes; k++) {
        double v = dist[k] > 0 ? exp(log(dist[k]) / t - top) : 0;
        dist[k] = (float)v;
        sum += v;
    }
    for (size_t k = 0; sum > 0 && k < classes; k++) dist[k] = (float)(dist[k] / sum);
}

/* The radius of a cell of an S2 level: that of a disc of the level's mean area. */
static double cell_radius_km(geoloc_cell cell) {
    return 5202.0 / (double)(1u << geoloc_s2_level(cell)); /* 6371 * sqrt(2/3) / 2^level */
}

double geoloc_calibration_mass_within(const geoloc_partition *part, const float *dist, double lat, double lon,
                                      double r_km) {
    double mass = 0;
    for (size_t k = 0; k < part->n; k++) {
        if (!(dist[k] > 0)) continue;
        double d = geoloc_haversine_km(lat, lon, part->lat[k], part->lng[k]), rho = cell_radius_km(part->cell[k]);
        double share = (r_km - (d - rho)) / (2 * rho); /* the cell's mass spread over [d - rho, d + rho] */
        mass += dist[k] * (share <= 0 ? 0 : share >= 1 ? 1 : share);
    }
    return mass;
}

double geoloc_calibration_radius(const geoloc_partition *part, const float *dist, double lat, double lon, double q) {
    double lo = 0, hi = EARTH_HALF_KM + 6000; /* + the widest cell's radius: all the mass */
    if (geoloc_calibration_mass_within(part, dist, lat, lon, lo) >= q) return 0;
    if (geoloc_calibration_mass_within(part, dist, lat, lon, hi) < q) return hi;
    while (hi - lo > 0.01) {
        double mid = (lo + hi) / 2;
        if (geoloc_calibration_mass_within(part, dist, lat, lon, mid) >= q) hi = mid;
        else lo = mid;
    }
    return hi;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

double geoloc_conformal_quantile(const double *scores, size_t n, double a) {
    if (n == 0) return 1.0;
    double *s = malloc(n * sizeof *s);
    if (!s) return NAN;
    memcpy(s, scores, n * sizeof *s);
    qsort(s, n, sizeof *s, cmp_double);
    size_t k = (size_t)ceil((double)(n + 1) * a);
    double q = s[(k < 1 ? 1 : k > n ? n : k) - 1];
    free(s);
    return q;
}

double geoloc_calibration_ood_score(const geoloc_calibration *c, const float *features) {
    double dot = 0, ff = 0, mm = 0;
    for (int j = 0; j < c->dim; j++) {
        dot += (double)features[j] * c->ood_mean[j];
        ff += (double)features[j] * features[j];
        mm += (double)c->ood_mean[j] * c->ood_mean[j];
    }
    return ff > 0 && mm > 0 ? 1 - dot / sqrt(ff * mm) : 1;
}

/* The mean feature vector, then the threshold above nearly every photo's score. */
static geoloc_status fit_ood(const geoloc_calibration_data *d, geoloc_calibration *c, geoloc_error *err) {
    c->dim = d->dim;
    c->ood_mean = calloc((size_t)d->dim, sizeof *c->ood_mean);
    double *score = malloc(d->n * sizeof *score);
    if (!c->ood_mean || !score) {
        free(score);
        return error_set(err, GEOLOC_E_NOMEM, "out of memory");
    }
    for (int j = 0; j < d->dim; j++) {
        double s = 0;
        for (size_t i = 0; i < d->n; i++) s += d->features[i * (size_t)d->dim + (size_t)j];
        c->ood_mean[j] = (float)(s / (double)d->n);
    }
    for (size_t i = 0; i < d->n; i++) score[i] = geoloc_calibration_ood_score(c, d->features + i * (size_t)d->dim);
    qsort(score, d->n, sizeof *score, cmp_double);
    double q = score[(size_t)floor(OOD_LEVEL * (double)(d->n - 1))];
    c->ood_threshold = q + OOD_MARGIN * (1 - q);
    free(score);
    return GEOLOC_OK;
}

geoloc_status geoloc_calibration_fit(const geoloc_calibration_data *d, geoloc_calibration **out,
                                     geoloc_error *err) {
    *out = NULL;
    if (!d || !d->part || !d->dist || !d->lat || !d->lon || d->classes != d->part->n)
        return error_set(err, GEOLOC_E_ARG, "calibration: bad arguments");
    if (d->n < MIN_PHOTOS)
        return error_set(err, GEOLOC_E_ARG, "calibration: %zu photos, at least %d needed", d->n, MIN_PHOTOS);
    geoloc_calibration *c = calloc(1, sizeof *c);
    long *truth = malloc(d->n * sizeof *truth);
    float *row = malloc(d->classes * sizeof *row);
    double *s50 = malloc(d->n * sizeof *s50), *r50 = malloc(d->n * sizeof *r50);
    geoloc_status s = GEOLOC_OK;
    if (!c || !truth || !row || !s50 || !r50) {
        s = error_set(err, GEOLOC_E_NOMEM, "out of memory");
        goto done;
    }
    for (size_t i = 0; i < d->n; i++) truth[i] = geoloc_partition_find_latlng(d->part, d->lat[i], d->lon[i]);
    c->photos = d->n;
    c->temperature = geoloc_calibration_fit_temperature(d->dist, d->n, d->classes, truth);
    for (size_t i = 0; i < d->n; i++) { /* the score: tempered mass within the truth's distance */
        memcpy(row, d->dist + i * d->classes, d->classes * sizeof *row);
        geoloc_calibration_temper(row, d->classes, c->temperature);
        size_t best = 0;
        for (size_t k = 1; k < d->classes; k++)
            if (row[k] > row[best]) best = k;
        double lat = d->part->lat[best], lon = d->part->lng[best];
        s50[i] = geoloc_calibration_mass_within(d->part, row, lat, lon,
                                                geoloc_haversine_km(lat, lon, d->lat[i], d->lon[i]));
    }
    c->q50 = geoloc_conformal_quantile(s50, d->n, 0.5);
    c->q90 = geoloc_conformal_quantile(s50, d->n, 0.9);
    for (size_t i = 0; i < d->n; i++) {
        memcpy(row, d->dist + i * d->classes, d->classes * sizeof *row);
        geoloc_calibration_temper(row, d->classes, c->temperature);
        size_t best = 0;
        for (size_t k = 1; k < d->classes; k++)
            if (row[k] > row[best]) best = k;
        r50[i] = geoloc_calibration_radius(d->part, row, d->part->lat[best], d->part->lng[best], c->q50);
    }
    qsort(r50, d->n, sizeof *r50, cmp_double);
    c->max_radius_km = r50[(size_t)floor(MAX_RADIUS_LEVEL * (double)(d->n - 1))];
    if (d->features && d->dim > 0) s = fit_ood(d, c, err);
done:
    free(truth);
    free(row);
    free(s50);
    free(r50);
    if (s != GEOLOC_OK) geoloc_calibration_free(c);
    else *out = c;
    return s;
}

void geoloc_calibration_free(geoloc_calibration *c) {
    if (!c) return;
    free(c->ood_mean);
    free(c);
}
