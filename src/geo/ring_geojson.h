/* GeoJSON geometry of any closed ring on the sphere given in longitude/
 * latitude (the machinery of geoloc_cell_geojson_write, src/geo/cell_geojson.c).
 * Internal API. */
#ifndef GEOLOC_GEO_RING_GEOJSON_H
#define GEOLOC_GEO_RING_GEOJSON_H

#include <stddef.h>

#include "geoloc/json.h"

/* Writes the ring lon_lat[2*i], lon_lat[2*i+1] (i < n; counter-clockwise,
 * densified by the caller, longitudes in (-180, 180], the first position not
 * repeated) as a Polygon, or a MultiPolygon when it crosses the antimeridian
 * (split there); a ring winding round a pole is closed along the pole's
 * latitude. E_ARG when n < 3, E_RANGE for an empty result. */
geoloc_status geo_ring_geojson_write(geoloc_json *w, const double *lon_lat, size_t n, geoloc_error *err);

#endif
