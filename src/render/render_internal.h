/* Helpers shared by the GeoJSON writer and the map renderer. Internal API. */
#ifndef GEOLOC_RENDER_INTERNAL_H
#define GEOLOC_RENDER_INTERNAL_H

#include <stddef.h>

#include "geoloc/render.h"

/* Rings of longitude/latitude positions: ring r is positions
 * ring_start[r] .. ring_start[r + 1] - 1 of lon_lat (two doubles each). */
struct geoloc_borders {
    double *lon_lat;
    size_t n_points, cap_points;
    size_t *ring_start; /* n_rings + 1 entries */
    size_t n_rings, cap_rings;
};

/* Positions on a circle's ring (render_circle_ring). */
#define RENDER_CIRCLE_POINTS 256

/* The circle of radius_km round (lat, lon) as RENDER_CIRCLE_POINTS positions
 * lon_lat[2*i], lon_lat[2*i+1], counter-clockwise seen from above, longitudes
 * in (-180, 180]. Returns how many poles it holds (0, 1 or 2). */
int render_circle_ring(double lat, double lon, double radius_km, double *lon_lat);

/* The indices of a's cells with probability >= min_prob, most probable first
 * (ties: in class order); *n their count. NULL when out of memory. */
size_t *render_cells_by_prob(const geoloc_map_answer *a, double min_prob, size_t *n);

#endif
