/* Writing photo-like points drawn inside the cells of a partition (for
 * benchmarks and tests) as a points CSV. Internal to the CLI. */
#ifndef GEOLOC_CLI_SAMPLE_H
#define GEOLOC_CLI_SAMPLE_H

#include <stdint.h>

#include "geoloc/partition.h"

/* Writes the points of geoloc_partition_sample_points(p, seed, scale) as
 * IMG_ID,LAT,LON rows (ids p0, p1, ...; 6 decimals) atomically to `path`.
 * Returns the number of points, or -1 with a message on stderr. */
long long sample_points_write(const geoloc_partition *p, uint64_t seed, double scale,
                              const char *path);

#endif
