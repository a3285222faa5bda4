/* geoloc: photo coordinates read from a CSV file. */
#ifndef GEOLOC_POINTS_H
#define GEOLOC_POINTS_H

#include <stddef.h>

#include "geoloc/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Coordinates of n photos in degrees, in file order, with optional ids. */
typedef struct geoloc_points {
    size_t n;
    double *lat;
    double *lng;
    const char **id;   /* n ids, or NULL when not requested / no id column */
    size_t n_skipped;  /* invalid rows skipped (with skip_invalid) */
    long *line;        /* n source line numbers, or NULL when not requested */
    char *id_pool;     /* storage of the ids (owned; internal) */
} geoloc_points;

/* How to read a points CSV. Zero-initialised = strict, no ids, all cores. */
typedef struct geoloc_points_options {
    int with_ids;      /* keep the id column (IMG_ID, img_id, id, ...) if present */
    int with_lines;    /* keep each photo's line number */
    int skip_invalid;  /* skip and count bad rows instead of failing */
    int threads;       /* parser threads; 0 = one per core */
    /* Called (in file order) with a "file:line: reason" message for each
     * skipped row; may be NULL. */
    void (*on_skip)(void *ctx, const char *message);
    void *ctx;
} geoloc_points_options;

/* Reads the latitude (LAT/lat/latitude) and longitude (LON/lng/lon/longitude)
 * columns of a CSV, found by name (case-insensitive) in its header. A row with a
 * missing, non-numeric or non-finite coordinate, a latitude outside [-90, 90]
 * or a longitude outside [-180, 180] fails the whole read with a message naming
 * file, line and field, unless skip_invalid. Blank lines are ignored. */
geoloc_status geoloc_points_read_csv(const char *path, const geoloc_points_options *opt,
                                     geoloc_points **out, geoloc_error *err);

/* Releases points from geoloc_points_read_csv (NULL is fine). */
void geoloc_points_free(geoloc_points *points);

#ifdef __cplusplus
}
#endif
#endif
