/* geoloc: calibrated confidence. A model may carry a calibration fitted on
 * answers about photos the heads giving them were not trained on (at the end
 * of `geoloc train`: the out-of-fold answers of the training photos, heads
 * trained on the other author-grouped folds answering each fold, or the
 * validation split; or a manifest given to `geoloc model calibrate`), for its
 * hierarchical answer:
 *   - a temperature T: the answer's scores s_k become s_k^(1/T), normalised
 *     (temperature scaling of the log-scores), T fitted by minimising the
 *     negative log-likelihood of the true cell;
 *   - confidence radii by split conformal prediction: the score of a photo is
 *     M(d), the tempered mass lying within the distance d of its truth from the
 *     answer, where M(r) counts each cell's mass spread uniformly along its
 *     own radius around its centre (so M is continuous and increasing); q50
 *     and q90 are the conformal quantiles of M(d) over the calibration
 *     photos, and a new photo's radius r_a is the smallest r with
 *     M(r) >= q_a: the truth lies within r_a for a share a of exchangeable
 *     photos, and the radius is small when the mass is concentrated;
 *   - abstention: "unknown" when r50 exceeds max_radius_km (the 90th
 *     percentile of the calibration photos' r50) or when the photo's backbone
 *     features are unlike the calibration photos': the cosine distance
 *     (1 - cosine similarity) of the pooled features, averaged over the
 *     crops, to the calibration photos' mean feature vector, above
 *     ood_threshold (fitted as the calibration photos' 99th percentile plus
 *     a quarter of its gap to 1: flat grey, black and noise pictures have a
 *     similarity of about 0.14-0.22 where photos have 0.5-0.7).
 * Stored in the model file: metadata "geoloc.calibration" (the numbers) and
 * the tensor "calibration.ood" (F32, dim: the mean feature vector). */
#ifndef GEOLOC_CALIBRATION_H
#define GEOLOC_CALIBRATION_H

#include <stddef.h>
#include <stdint.h>

#include "geoloc/dataset.h"
#include "geoloc/distance.h"
#include "geoloc/partition.h"
#include "geoloc/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The calibration of album answers fused by one method (geoloc/album.h):
 * fitted like the photos' (temperature, conformal quantiles, max radius) on
 * the out-of-fold answers of the training photos fused by photographer
 * (albums of at least 2 photos); photos 0: not fitted. */
typedef struct geoloc_album_calibration {
    double temperature, q50, q90, max_radius_km;
    size_t photos;
} geoloc_album_calibration;

/* Album methods a calibration may hold (indexed by geoloc_album_method). */
#define GEOLOC_CALIBRATION_ALBUM_METHODS 3

/* A model's calibration (geoloc_model.calibration; NULL: none). */
typedef struct geoloc_calibration {
    double temperature;    /* > 0; 1 leaves the scores as they are */
    double q50, q90;       /* conformal quantiles of the mass score, in [0, 1] */
    double max_radius_km;  /* abstain when r50 is larger */
    double ood_threshold;  /* abstain when the feature score is larger */
    size_t photos;         /* calibration photos */
    int dim;               /* width of the OOD statistics (0: no OOD test) */
    float *ood_mean;       /* dim values: the calibration photos' mean features */
    geoloc_album_calibration album[GEOLOC_CALIBRATION_ALBUM_METHODS]; /* album answers, by method */
} geoloc_calibration;

/* Photos a calibration is fitted on: n rows of the answering partition's
 * untempered distribution (classes values each), the truth, and the pooled
 * backbone features (dim values each, the crops' mean; NULL: no OOD test). */
typedef struct geoloc_calibration_data {
    const geoloc_partition *part;
    const float *dist;
    const double *lat, *lon;
    const float *features;
    size_t n, classes;
    int dim;
} geoloc_calibration_data;

/* Fits temperature, conformal quantiles, max radius and OOD statistics on d
 * (at least 20 photos); *out is allocated (free with geoloc_calibration_free). */
geoloc_status geoloc_calibration_fit(const geoloc_calibration_data *d, geoloc_calibration **out,
                                     geoloc_error *err);

/* The temperature minimising the mean negative log-likelihood of the true
 * classes truth[i] (rows with truth < 0 are left out) of n rows of
 * probabilities; 1 when no row has a true class. */
double geoloc_calibration_fit_temperature(const float *dist, size_t n, size_t classes, const long *truth);

/* Mean negative log-likelihood of the true classes at temperature t. */
double geoloc_calibration_nll(const float *dist, size_t n, size_t classes, const long *truth, double t);

/* Tempers a distribution in place: p_k^(1/t), normalised. */
void geoloc_calibration_temper(float *dist, size_t classes, double t);

/* M(r): the mass of dist (over part's cells) within r km of (lat, lon), each
 * cell's mass spread uniformly along its radius around its Class2GPS centre. */
double geoloc_calibration_mass_within(const geoloc_partition *part, const float *dist, double lat, double lon,
                                      double r_km);

/* The smallest radius r (km, to 0.01 km) with M(r) >= q around (lat, lon). */
double geoloc_calibration_radius(const geoloc_partition *part, const float *dist, double lat, double lon, double q);

/* The split-conformal quantile of level a of scores[0..n): the
 * ceil((n + 1) a)-th smallest (the largest when that exceeds n). */
double geoloc_conformal_quantile(const double *scores, size_t n, double a);

/* The OOD score of pooled features (dim values): their cosine distance to
 * the mean (1 when either vector is zero). */
double geoloc_calibration_ood_score(const geoloc_calibration *c, const float *features);

/* What evaluate reports about confidence, over n photos. */
typedef struct geoloc_confidence_summary {
    size_t n;                   /* photos */
    size_t n_radius;            /* photos with radii (a calibrated answer) */
    double coverage[2];         /* share of n_radius whose error is <= r50, r90 */
    double median_radius_km[2]; /* median r50, r90 over n_radius */
    double constant_radius90_km; /* the smallest constant radius holding the truth of 90 % of
                                    the n photos (an oracle: their errors' 90th percentile) */
    double geoscore_mean, geoscore_median; /* 5000 exp(-d / 1492.7) (OSV-5M), best guesses included */
    size_t n_answered;          /* photos not unknown */
    double answered_share;      /* n_answered / n */
    geoloc_distance_summary answered; /* accuracy of the answered photos (n 0: none) */
} geoloc_confidence_summary;

/* GeoScore of an error: 5000 exp(-km / 1492.7). */
double geoloc_geoscore(double km);

/* Summarises n photos' errors km, radii r50 and r90 (NaN: no radius) and
 * unknown flags (NULL: all answered); E_EMPTY when n is 0. */
geoloc_status geoloc_confidence_summarize(const double *km, const double *r50, const double *r90,
                                          const unsigned char *unknown, size_t n,
                                          geoloc_confidence_summary *out, geoloc_error *err);

/* Assigns n photos to k >= 2 folds (fold[i] in [0, k)) grouped by author:
 * the photos of one author (author[i]; "" or NULL: none, the photo is its own
 * group) share a fold. The groups, largest first (ties in an order drawn from
 * seed), each go to the fold with the fewest photos so far, so the folds are
 * as even as the groups allow. E_ARG when k < 2 or k > n. */
geoloc_status geoloc_calibration_folds(const char *const *author, size_t n, int k, uint64_t seed, int *fold,
                                       geoloc_error *err);

/* is_val[i] = 1 for the rows of m in fold k of `folds` folds grouped by AUTHOR
 * (or by the column group_column when not NULL), drawn by
 * geoloc_calibration_folds from seed: the folds of `geoloc train --val-fold`.
 * E_ARG when k is not in [0, folds), folds exceeds the rows, or m has no
 * column group_column. */
geoloc_status geoloc_calibration_fold_rows(const geoloc_manifest *m, const char *group_column, int k, int folds,
                                           uint64_t seed, uint8_t *is_val, geoloc_error *err);

/* Releases a calibration (NULL allowed). */
void geoloc_calibration_free(geoloc_calibration *c);

#ifdef __cplusplus
}
#endif
#endif
