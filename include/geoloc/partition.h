/* geoloc: adaptive partitions of the Earth into S2 cells (the geo-classes of
 * PlaNet and Müller-Budack et al., ECCV 2018), their files, hierarchy and the
 * assignment of photos to classes. */
#ifndef GEOLOC_PARTITION_H
#define GEOLOC_PARTITION_H

#include <stddef.h>
#include <stdint.h>

#include "geoloc/points.h"
#include "geoloc/s2.h"
#include "geoloc/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* One partition: class k is S2 cell cell[k] holding count[k] training photos
 * whose mean location is (lat[k], lng[k]) degrees. No cell contains another. */
typedef struct geoloc_partition {
    size_t n;               /* number of classes */
    geoloc_cell *cell;
    uint64_t *count;
    double *lat;
    double *lng;
    uint64_t num_images;    /* photos the partition was built from */
    /* lookup index (internal): cells in id order and their classes */
    geoloc_cell *sorted_cell;
    uint32_t *sorted_class;
} geoloc_partition;

/* Parameters of geoloc_partitions_build. */
typedef struct geoloc_partition_params {
    uint64_t tau_min;           /* cells with <= tau_min photos are dropped */
    const uint64_t *tau_max;    /* one partition per value: split cells above it */
    size_t n_partitions;
    int level_min;              /* starting level (reference: 2) */
    int level_max;              /* deepest level (reference: 30) */
    int threads;                /* 0 = one per core */
} geoloc_partition_params;

/* Builds one partition per tau_max from n photo coordinates (degrees, valid
 * ranges), with the semantics of the reference implementation: every photo
 * starts in its level_min cell; cells with <= tau_min photos are dropped;
 * while a cell holds more than tau_max photos and the level is below
 * level_max, its photos move to their child cells one level down; finally
 * cells with <= tau_min photos are dropped again. Classes are numbered in
 * S2 cell-id (Hilbert curve) order; the mean location is the arithmetic mean
 * of the photos' degrees summed in input order. out[k] receives partition k. */
geoloc_status geoloc_partitions_build(const double *lat, const double *lng, size_t n,
                                      const geoloc_partition_params *params,
                                      geoloc_partition **out, geoloc_error *err);

/* Reads a partition file in the published format (optional "key: value"
 * preamble lines such as "num_images: N", then the header
 * class_label,hex_id,imgs_per_cell,latitude_mean,longitude_mean and one row
 * per class; LF or CRLF). Class labels must be 0..n-1, each once; cells must
 * be valid, distinct and not nested. */
geoloc_status geoloc_partition_read(const char *path, geoloc_partition **out, geoloc_error *err);

/* Writes a partition in the published format (CRLF, like the reference),
 * atomically: temporary file, fsync, rename. */
geoloc_status geoloc_partition_write(const geoloc_partition *p, const char *path,
                                     geoloc_error *err);

/* Class whose cell contains `cell` (a leaf or any descendant), or -1. */
long geoloc_partition_find(const geoloc_partition *p, geoloc_cell cell);

/* Class of the photo at (lat, lng) degrees, or -1 when no cell holds it. */
long geoloc_partition_find_latlng(const geoloc_partition *p, double lat, double lng);

/* For each class k of `fine`, ancestor[k] = the class of `coarse` whose cell
 * contains (or equals) fine's cell k, or -1. Returns how many have none. */
size_t geoloc_partition_ancestors(const geoloc_partition *fine, const geoloc_partition *coarse,
                                  int32_t *ancestor);

/* Photo-like points drawn inside p's cells (for benchmarks and tests): for
 * each class, round(count * scale) points at the centres of leaf cells drawn
 * uniformly inside its cell, all shuffled; the same seed gives the same
 * points. *out (no ids, no lines) is released with geoloc_points_free. */
geoloc_status geoloc_partition_sample_points(const geoloc_partition *p, uint64_t seed, double scale,
                                             geoloc_points **out, geoloc_error *err);

/* Releases a partition (NULL is fine). */
void geoloc_partition_free(geoloc_partition *p);

#ifdef __cplusplus
}
#endif
#endif
