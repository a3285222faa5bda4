/* Drawing photo-like points inside the cells of a partition (for benchmarks
 * and tests). Internal to the CLI. */
#ifndef GEOLOC_CLI_SAMPLE_H
#define GEOLOC_CLI_SAMPLE_H

#include <stdint.h>

#include "geoloc/partition.h"

/* Writes IMG_ID,LAT,LON rows (atomically) to `path`: for each cell,
 * round(count * scale) points at uniformly drawn leaf cells inside it, in a
 * seeded random order. Returns the number of points, or -1 with a message
 * on stderr. */
long long sample_points_write(const geoloc_partition *p, uint64_t seed, double scale,
                              const char *path);

#endif
