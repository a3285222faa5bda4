/* geoloc: great-circle distances and the distance-accuracy benchmark.
 *
 * Distances are on a sphere of radius GEOLOC_EARTH_RADIUS_KM (the convention
 * of Im2GPS, MP-16 and Müller-Budack et al., ECCV 2018), with the haversine
 * formula. Accuracy is the fraction of predictions within each benchmark
 * threshold: 1 km (street), 25 km (city), 200 km (region), 750 km (country),
 * 2500 km (continent); a distance equal to a threshold counts as within it. */
#ifndef GEOLOC_DISTANCE_H
#define GEOLOC_DISTANCE_H

#include <stddef.h>

#include "geoloc/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Mean Earth radius used by every distance in geoloc (kilometres). */
#define GEOLOC_EARTH_RADIUS_KM 6371.0

/* Number of benchmark thresholds (entries of geoloc_thresholds). */
#define GEOLOC_N_THRESHOLDS 5

/* One benchmark threshold. */
typedef struct geoloc_threshold {
    double km;        /* distance limit, inclusive */
    const char *name; /* "street", "city", "region", "country", "continent" */
    const char *key;  /* short machine key: "1km", "25km", ... "2500km" */
} geoloc_threshold;

/* The benchmark thresholds, ascending: 1, 25, 200, 750 and 2500 km. */
extern const geoloc_threshold geoloc_thresholds[GEOLOC_N_THRESHOLDS];

/* Summary of a set of prediction errors. */
typedef struct geoloc_distance_summary {
    size_t n;                                /* number of distances */
    double accuracy[GEOLOC_N_THRESHOLDS];    /* fraction <= geoloc_thresholds[k].km */
    double median_km;                        /* middle value; mean of the two middle ones for even n */
    double mean_km;                          /* arithmetic mean */
} geoloc_distance_summary;

/* Great-circle distance in km between two points given in degrees (haversine,
 * R = GEOLOC_EARTH_RADIUS_KM); any longitudes are fine; NaN in gives NaN out. */
double geoloc_haversine_km(double lat1, double lng1, double lat2, double lng2);

/* Summarizes n distances in km (finite, >= 0) into *out without modifying km[];
 * GEOLOC_E_EMPTY if n == 0, GEOLOC_E_ARG for a bad value, GEOLOC_E_NOMEM. */
geoloc_status geoloc_distance_summarize(const double *km, size_t n,
                                        geoloc_distance_summary *out, geoloc_error *err);

#ifdef __cplusplus
}
#endif
#endif
