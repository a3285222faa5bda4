/* Writing photo-like points drawn inside the cells of a partition.
 * Coordinates are written with 6 decimals (about 10 cm), as photo-sharing
 * sites give them. */
#include "cli/sample.h"

#include <stdio.h>

#include "geoloc/io.h"

long long sample_points_write(const geoloc_partition *p, uint64_t seed, double scale,
                              const char *path) {
    geoloc_points *pts;
    geoloc_error err;
    if (geoloc_partition_sample_points(p, seed, scale, &pts, &err) != GEOLOC_OK) {
        fprintf(stderr, "sample: %s\n", err.message);
        return -1;
    }
    geoloc_atomic_file f;
    if (geoloc_atomic_file_open(&f, path, &err) != GEOLOC_OK) {
        fprintf(stderr, "sample: %s\n", err.message);
        geoloc_points_free(pts);
        return -1;
    }
    fputs("IMG_ID,LAT,LON\n", f.fp);
    for (size_t k = 0; k < pts->n; k++) fprintf(f.fp, "p%zu,%.6f,%.6f\n", k, pts->lat[k], pts->lng[k]);
    long long n = (long long)pts->n;
    geoloc_points_free(pts);
    if (geoloc_atomic_file_commit(&f, &err) != GEOLOC_OK) {
        fprintf(stderr, "sample: %s\n", err.message);
        return -1;
    }
    return n;
}
