/* Country borders and coastlines from a GeoJSON file (Natural Earth's
 * countries from world-atlas, as tools/fetch-web.sh leaves them in
 * models/web/countries.geojson): every ring of its Polygons and
 * MultiPolygons, as flat longitude/latitude arrays. */
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "model/model_internal.h"
#include "render/render_internal.h"

static geoloc_status push_point(geoloc_borders *b, double lon, double lat, geoloc_error *err) {
    if (b->n_points == b->cap_points) {
        size_t cap = b->cap_points ? 2 * b->cap_points : 4096;
        double *p = realloc(b->lon_lat, 2 * cap * sizeof *p);
        if (!p) return error_set(err, GEOLOC_E_NOMEM, "%s:%d: out of memory", __FILE__, __LINE__);
        b->lon_lat = p;
        b->cap_points = cap;
    }
    b->lon_lat[2 * b->n_points] = lon;
    b->lon_lat[2 * b->n_points + 1] = lat;
    b->n_points++;
    return GEOLOC_OK;
}

/* Makes the longitudes of the ring just added continuous (a ring along the
 * antimeridian, 180 then -180, is drawn whole) and closes one that winds
 * round a pole (Antarctica) along the pole's latitude. */
static geoloc_status close_ring(geoloc_borders *b, geoloc_error *err) {
    size_t first = b->ring_start[b->n_rings], n = b->n_points - first;
    double *p = b->lon_lat + 2 * first;
    for (size_t i = 1; i < n; i++) p[2 * i] = p[2 * (i - 1)] + remainder(p[2 * i] - p[2 * (i - 1)], 360.0);
    double turn = n ? p[2 * (n - 1)] + remainder(p[0] - p[2 * (n - 1)], 360.0) - p[0] : 0;
    geoloc_status s = GEOLOC_OK;
    if (fabs(turn) > 180) { /* round the pole on the ring's side of the equator */
        double mean = 0;
        for (size_t i = 0; i < n; i++) mean += p[2 * i + 1] / n;
        double pole = mean > 0 ? 90 : -90, end = p[2 * (n - 1)], start = p[0];
        s = push_point(b, end, pole, err);
        if (!s) s = push_point(b, start, pole, err);
    }
    if (!s) b->ring_start[++b->n_rings] = b->n_points;
    return s;
}

/* Appends one ring (an array of [lon, lat] positions). */
static geoloc_status add_ring(geoloc_borders *b, json_t *ring, const char *path, geoloc_error *err) {
    if (!json_is_array(ring)) return error_set(err, GEOLOC_E_PARSE, "%s: a ring is not an array", path);
    if (b->n_rings == b->cap_rings) {
        size_t cap = b->cap_rings ? 2 * b->cap_rings : 256;
        size_t *r = realloc(b->ring_start, (cap + 1) * sizeof *r);
        if (!r) return error_set(err, GEOLOC_E_NOMEM, "%s:%d: out of memory", __FILE__, __LINE__);
        b->ring_start = r;
        b->cap_rings = cap;
    }
    b->ring_start[b->n_rings] = b->n_points;
    size_t i;
    json_t *pos;
    json_array_foreach(ring, i, pos) {
        json_t *x = json_array_get(pos, 0), *y = json_array_get(pos, 1);
        if (!json_is_number(x) || !json_is_number(y))
            return error_set(err, GEOLOC_E_PARSE, "%s: a position is not [lon, lat]", path);
        geoloc_status s = push_point(b, json_number_value(x), json_number_value(y), err);
        if (s) return s;
    }
    return close_ring(b, err);
}

/* Appends the rings of a geometry (other types are ignored). */
static geoloc_status add_geometry(geoloc_borders *b, json_t *g, const char *path, geoloc_error *err) {
    const char *type = json_string_value(json_object_get(g, "type"));
    json_t *coords = json_object_get(g, "coordinates");
    int multi = type && !strcmp(type, "MultiPolygon");
    if (!type || (!multi && strcmp(type, "Polygon"))) return GEOLOC_OK;
    size_t i, j;
    json_t *poly, *ring;
    geoloc_status s = GEOLOC_OK;
    if (!multi) {
        json_array_foreach(coords, j, ring) if (!s) s = add_ring(b, ring, path, err);
        return s;
    }
    json_array_foreach(coords, i, poly) {
        json_array_foreach(poly, j, ring) if (!s) s = add_ring(b, ring, path, err);
    }
    return s;
}

geoloc_status geoloc_borders_load(const char *path, geoloc_borders **out, geoloc_error *err) {
    char found[4096];
    *out = NULL;
    if (!path) {
        if (model_find_data_in("web", "countries.geojson", found, sizeof found) != 0)
            return error_set(err, GEOLOC_E_IO, "country outlines web/countries.geojson not found in the data "
                             "folders: tools/fetch-web.sh fetches them into models/web");
        path = found;
    }
    json_error_t jerr;
    json_t *doc = json_load_file(path, 0, &jerr);
    if (!doc) return error_set(err, GEOLOC_E_PARSE, "%s:%d: %s", path, jerr.line, jerr.text);
    geoloc_borders *b = calloc(1, sizeof *b);
    geoloc_status s = b ? GEOLOC_OK : error_set(err, GEOLOC_E_NOMEM, "%s:%d: out of memory", __FILE__, __LINE__);
    json_t *features = json_object_get(doc, "features");
    if (!s && !json_is_array(features))
        s = error_set(err, GEOLOC_E_PARSE, "%s: not a GeoJSON FeatureCollection", path);
    size_t i;
    json_t *f;
    if (!s) json_array_foreach(features, i, f) {
        if (!s) s = add_geometry(b, json_object_get(f, "geometry"), path, err);
    }
    json_decref(doc);
    if (s) {
        geoloc_borders_free(b);
        return s;
    }
    *out = b;
    return GEOLOC_OK;
}

void geoloc_borders_free(geoloc_borders *b) {
    if (!b) return;
    free(b->lon_lat);
    free(b->ring_start);
    free(b);
}
