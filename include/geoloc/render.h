/* geoloc: what an answer looks like. The probability over the answering
 * partition's cells as GeoJSON (RFC 7946) features, and as a PNG world map
 * drawn with cairo (equirectangular: longitude and latitude linear, with
 * the centre latitude as standard parallel when zoomed). */
#ifndef GEOLOC_RENDER_H
#define GEOLOC_RENDER_H

#include <stdint.h>

#include "geoloc/image.h"
#include "geoloc/json.h"
#include "geoloc/model.h"
#include "geoloc/status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define GEOLOC_RENDER_MAX_RADII 4

/* One photo's answer as the renderers see it. */
typedef struct geoloc_map_answer {
    const char *photo;              /* the photo's name */
    const geoloc_partition *part;   /* the answering partition */
    const float *probs;             /* its part->n cell probabilities */
    double lat, lon;                /* the answered point */
    geoloc_cell cell;               /* the answered cell */
    float prob;                     /* its probability */
    int unknown;                    /* the model abstains: the answer is its best guess */
    const struct geoloc_place *place; /* its country and city (geoloc/place.h); NULL: none */
    int n_radii;                    /* confidence circles round the answer */
    double radius_km[GEOLOC_RENDER_MAX_RADII];
    double radius_conf[GEOLOC_RENDER_MAX_RADII]; /* the chance each holds the truth (0.5, 0.9) */
} geoloc_map_answer;

/* Fills a from a prediction, its answering partition and that partition's
 * distribution, with the 50 % and 90 % radii of a calibrated prediction (no
 * place: the caller adds it). */
void geoloc_map_answer_init(geoloc_map_answer *a, const char *photo, const geoloc_partition *part,
                            const float *probs, const geoloc_prediction *p);

/* ---- GeoJSON ------------------------------------------------------------------- */

/* Writes extra members (key, value pairs) into the properties of the answer's
 * Point feature. */
typedef void (*geoloc_geojson_props_fn)(void *ctx, geoloc_json *w, const geoloc_map_answer *a);

/* What a photo's features hold. Zero-initialised = defaults. */
typedef struct geoloc_geojson_options {
    double min_prob;                   /* cells below this probability are left out (0: none) */
    double max_error_km;               /* cell edges within this of the true S2 edge (0: 1 km) */
    geoloc_geojson_props_fn answer_props; /* NULL: none */
    void *ctx;
} geoloc_geojson_options;

/* Opens a FeatureCollection: {"type": "FeatureCollection", "features": [ */
void geoloc_geojson_begin(geoloc_json *w);

/* Writes one photo's Features into an open FeatureCollection, each with the
 * property "photo" and "kind": the answer ("answer": a Point with lat, lon,
 * cell, prob, unknown, place and radius_km when given, then answer_props' members),
 * its confidence circles ("radius": Polygons with confidence and radius_km;
 * split at the antimeridian, closed along a pole they hold; one holding both
 * poles is the whole Earth, marked "whole_earth": 1), and every cell of
 * the partition with at least min_prob ("cell": prob, token, level, lat, lon
 * of its mean photo location; geometry by geoloc_cell_geojson_write), most
 * probable first. E_ARG for bad options or an answer without cells. */
geoloc_status geoloc_geojson_photo(geoloc_json *w, const geoloc_map_answer *a, const geoloc_geojson_options *opt,
                                   geoloc_error *err);

/* Closes the FeatureCollection. */
void geoloc_geojson_end(geoloc_json *w);

/* ---- maps ---------------------------------------------------------------------- */

/* Which part of the Earth a map shows. */
typedef enum geoloc_map_extent {
    GEOLOC_MAP_WORLD = 0, /* the whole Earth */
    GEOLOC_MAP_AUTO,      /* where the mass is: the most probable cells holding 90 %, the answer, its radii */
    GEOLOC_MAP_BOX        /* a given box */
} geoloc_map_extent;

/* A map's window on the Earth and its size: pixel (x, y) of a point is
 * ((lon' - west) * scale_x, (north - lat) * scale_y), lon' the longitude
 * shifted by a multiple of 360 nearest the window's centre. */
typedef struct geoloc_map_view {
    double west, east;   /* degrees, west < east <= west + 360 (east may pass 180) */
    double south, north; /* degrees, -90 <= south < north <= 90 */
    int width, height;   /* pixels */
} geoloc_map_view;

/* The view of width x height pixels showing: the whole Earth (WORLD), the
 * mass of a's distribution (AUTO), or box = {south, west, north, east}
 * (BOX; east < west crosses the antimeridian); widened to the pixels'
 * aspect ratio (a degree of longitude is cos(centre latitude) of a degree
 * of latitude) and kept within the poles. E_ARG for an empty or invalid box
 * (south >= north, west == east, out of range) or a size under 64 pixels. */
geoloc_status geoloc_map_view_fit(const geoloc_map_answer *a, geoloc_map_extent extent, const double box[4],
                                  int width, int height, geoloc_map_view *v, geoloc_error *err);

/* The pixel position of a point in a view (may lie outside it). */
void geoloc_map_project(const geoloc_map_view *v, double lat, double lon, double *x, double *y);

/* Country borders and coastlines: rings of longitude/latitude positions. */
typedef struct geoloc_borders geoloc_borders;

/* Reads the Polygons and MultiPolygons of a GeoJSON file (e.g. Natural
 * Earth's countries). path NULL: countries.geojson of the data folders'
 * web/ (tools/fetch-web.sh fetches it). E_IO (naming the setup command),
 * E_PARSE. */
geoloc_status geoloc_borders_load(const char *path, geoloc_borders **out, geoloc_error *err);

/* Releases borders (NULL allowed). */
void geoloc_borders_free(geoloc_borders *b);

/* How a map looks. */
typedef struct geoloc_map_options {
    geoloc_map_view view;          /* from geoloc_map_view_fit */
    const geoloc_borders *borders; /* NULL: none drawn */
    const geoloc_image *thumbnail; /* the photo, drawn in a corner; NULL: none */
} geoloc_map_options;

/* The colour of the answer's marker (its centre pixel), 0xRRGGBB. */
#define GEOLOC_MAP_MARKER_RGB 0x005aff

/* Draws a's map: sea, land and borders, every cell shaded by probability on
 * a log scale (darker: more probable) with its legend, the confidence
 * circles, the answer's marker, a caption (photo, place, coordinates) and
 * the thumbnail. Writes a PNG at path atomically (whole or not at all; the
 * folder must exist: E_IO). */
geoloc_status geoloc_map_write_png(const geoloc_map_answer *a, const geoloc_map_options *opt, const char *path,
                                   geoloc_error *err);

#ifdef __cplusplus
}
#endif
#endif
