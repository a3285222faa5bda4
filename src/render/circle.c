/* Circles on the sphere (the confidence radii) and the cells of an answer in
 * order of probability. */
#define _GNU_SOURCE /* qsort_r */
#include <math.h>
#include <stdlib.h>

#include "geoloc/distance.h"
#include "render/render_internal.h"

#define DEG (M_PI / 180.0)

int render_circle_ring(double lat, double lon, double radius_km, double *lon_lat) {
    double d = radius_km / GEOLOC_EARTH_RADIUS_KM, phi = lat * DEG;
    for (int i = 0; i < RENDER_CIRCLE_POINTS; i++) {
        /* bearings decreasing from north: west, south, east: counter-clockwise */
        double theta = -2 * M_PI * i / RENDER_CIRCLE_POINTS;
        double s = sin(phi) * cos(d) + cos(phi) * sin(d) * cos(theta);
        double phi2 = asin(fmax(-1, fmin(1, s)));
        double dl = atan2(sin(theta) * sin(d) * cos(phi), cos(d) - sin(phi) * s);
        double l = remainder(lon + dl / DEG, 360.0);
        lon_lat[2 * i] = l == -180 ? 180 : l;
        lon_lat[2 * i + 1] = phi2 / DEG;
    }
    double to_north = (90 - lat) * DEG * GEOLOC_EARTH_RADIUS_KM, to_south = (lat + 90) * DEG * GEOLOC_EARTH_RADIUS_KM;
    return (radius_km > to_north) + (radius_km > to_south);
}

static int by_prob(const void *pa, const void *pb, void *ctx) {
    const float *p = ctx;
    size_t a = *(const size_t *)pa, b = *(const size_t *)pb;
    if (p[a] != p[b]) return p[a] > p[b] ? -1 : 1;
    return a < b ? -1 : a > b;
}

size_t *render_cells_by_prob(const geoloc_map_answer *a, double min_prob, size_t *n) {
    size_t *idx = malloc((a->part->n ? a->part->n : 1) * sizeof *idx);
    *n = 0;
    if (!idx) return NULL;
    for (size_t k = 0; k < a->part->n; k++)
        if (a->probs[k] >= min_prob) idx[(*n)++] = k;
    qsort_r(idx, *n, sizeof *idx, by_prob, (void *)a->probs);
    return idx;
}
