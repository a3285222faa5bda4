/* geoloc: GeoJSON (RFC 7946) geometry of S2 cells. */
#ifndef GEOLOC_GEOJSON_H
#define GEOLOC_GEOJSON_H

#include <stdint.h>

#include "geoloc/json.h"
#include "geoloc/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Writes an S2 cell's boundary as a GeoJSON geometry object with w: a Polygon,
 * or a MultiPolygon when the cell crosses the antimeridian (split there; a cell
 * holding a pole closes along the pole's latitude), exterior rings
 * counter-clockwise (the right-hand rule), the first position repeated last.
 * Each edge (a great-circle arc) is densified so that straight lines between
 * consecutive positions in longitude/latitude lie within max_error_km of the
 * true edge. E_ARG for an invalid cell id or max_error_km <= 0. */
geoloc_status geoloc_cell_geojson_write(geoloc_json *w, uint64_t cell, double max_error_km,
                                        geoloc_error *err);

#ifdef __cplusplus
}
#endif
#endif
