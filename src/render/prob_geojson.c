/* An answer as GeoJSON features (RFC 7946): the answered point, its
 * confidence circles and the probability of every cell. */
#include <math.h>
#include <stdlib.h>

#include "core/error.h"
#include "geo/ring_geojson.h"
#include "geoloc/geojson.h"
#include "geoloc/place.h"
#include "geoloc/s2.h"
#include "render/render_internal.h"

#define DEFAULT_MAX_ERROR_KM 1.0

void geoloc_map_answer_init(geoloc_map_answer *a, const char *photo, const geoloc_partition *part,
                            const float *probs, const geoloc_prediction *p) {
    *a = (geoloc_map_answer){.photo = photo, .part = part, .probs = probs, .lat = p->lat, .lon = p->lon,
                             .cell = p->top[0].cell, .prob = p->top[0].prob,
                             .unknown = p->calibrated && p->unknown};
    if (p->calibrated) /* the calibrated radii holding the truth for 50 % and 90 % of photos */
        for (int k = 0; k < 2; k++) {
            a->radius_km[a->n_radii] = p->radius_km[k];
            a->radius_conf[a->n_radii++] = k ? 0.9 : 0.5;
        }
}

void geoloc_geojson_begin(geoloc_json *w) {
    geoloc_json_object_begin(w);
    geoloc_json_key(w, "type");
    geoloc_json_string(w, "FeatureCollection");
    geoloc_json_key(w, "features");
    geoloc_json_array_begin(w);
}

void geoloc_geojson_end(geoloc_json *w) {
    geoloc_json_array_end(w);
    geoloc_json_object_end(w);
}

/* Opens a Feature and its properties with "photo" and "kind". */
static void feature_begin(geoloc_json *w, const geoloc_map_answer *a, const char *kind) {
    geoloc_json_object_begin(w);
    geoloc_json_key(w, "type");
    geoloc_json_string(w, "Feature");
    geoloc_json_key(w, "properties");
    geoloc_json_object_begin(w);
    geoloc_json_key(w, "photo");
    geoloc_json_string(w, a->photo);
    geoloc_json_key(w, "kind");
    geoloc_json_string(w, kind);
}

static void token_member(geoloc_json *w, const char *key, geoloc_cell cell) {
    char tok[GEOLOC_S2_TOKEN_SIZE];
    geoloc_s2_to_token(cell, tok);
    geoloc_json_key(w, key);
    geoloc_json_string(w, tok);
}

/* Writes a [lon, lat] position. */
static void position(geoloc_json *w, double lon, double lat) {
    geoloc_json_array_begin(w);
    geoloc_json_double(w, lon);
    geoloc_json_double(w, lat);
    geoloc_json_array_end(w);
}

static void answer_feature(geoloc_json *w, const geoloc_map_answer *a, const geoloc_geojson_options *opt) {
    feature_begin(w, a, "answer");
    geoloc_json_key(w, "lat");
    geoloc_json_double(w, a->lat);
    geoloc_json_key(w, "lon");
    geoloc_json_double(w, a->lon);
    token_member(w, "cell", a->cell);
    geoloc_json_key(w, "prob");
    geoloc_json_float(w, a->prob);
    geoloc_json_key(w, "unknown");
    geoloc_json_bool(w, a->unknown);
    if (a->place) {
        geoloc_json_key(w, "place");
        geoloc_place_write_json(w, a->place);
    }
    if (a->n_radii > 0) {
        char key[32];
        geoloc_json_key(w, "radius_km");
        geoloc_json_object_begin(w);
        for (int k = 0; k < a->n_radii; k++) {
            snprintf(key, sizeof key, "%g", 100 * a->radius_conf[k]);
            geoloc_json_key(w, key);
            geoloc_json_double(w, a->radius_km[k]);
        }
        geoloc_json_object_end(w);
    }
    if (opt->answer_props) opt->answer_props(opt->ctx, w, a);
    geoloc_json_object_end(w);
    geoloc_json_key(w, "geometry");
    geoloc_json_object_begin(w);
    geoloc_json_key(w, "type");
    geoloc_json_string(w, "Point");
    geoloc_json_key(w, "coordinates");
    position(w, a->lon, a->lat);
    geoloc_json_object_end(w);
    geoloc_json_object_end(w);
}

/* The whole Earth as one Polygon (counter-clockwise; along the poles in
 * steps of 90 degrees, as geoloc_cell_geojson_write closes polar cells). */
static void whole_earth(geoloc_json *w) {
    geoloc_json_object_begin(w);
    geoloc_json_key(w, "type");
    geoloc_json_string(w, "Polygon");
    geoloc_json_key(w, "coordinates");
    geoloc_json_array_begin(w);
    geoloc_json_array_begin(w);
    for (int k = 0; k <= 4; k++) position(w, -180 + 90.0 * k, -90);
    for (int k = 0; k <= 4; k++) position(w, 180 - 90.0 * k, 90);
    position(w, -180, -90);
    geoloc_json_array_end(w);
    geoloc_json_array_end(w);
    geoloc_json_object_end(w);
}

static geoloc_status radius_feature(geoloc_json *w, const geoloc_map_answer *a, int k, geoloc_error *err) {
    double ring[2 * RENDER_CIRCLE_POINTS];
    int poles = render_circle_ring(a->lat, a->lon, a->radius_km[k], ring);
    feature_begin(w, a, "radius");
    geoloc_json_key(w, "confidence");
    geoloc_json_double(w, a->radius_conf[k]);
    geoloc_json_key(w, "radius_km");
    geoloc_json_double(w, a->radius_km[k]);
    if (poles == 2) {
        geoloc_json_key(w, "whole_earth");
        geoloc_json_int(w, 1);
    }
    geoloc_json_object_end(w);
    geoloc_json_key(w, "geometry");
    geoloc_status s = GEOLOC_OK;
    if (poles == 2) whole_earth(w);
    else s = geo_ring_geojson_write(w, ring, RENDER_CIRCLE_POINTS, err);
    geoloc_json_object_end(w);
    return s;
}

static geoloc_status cell_feature(geoloc_json *w, const geoloc_map_answer *a, size_t k, double max_error_km,
                                  geoloc_error *err) {
    geoloc_cell cell = a->part->cell[k];
    feature_begin(w, a, "cell");
    geoloc_json_key(w, "prob");
    geoloc_json_float(w, a->probs[k]);
    token_member(w, "token", cell);
    geoloc_json_key(w, "level");
    geoloc_json_int(w, geoloc_s2_level(cell));
    geoloc_json_key(w, "lat");
    geoloc_json_double(w, a->part->lat[k]);
    geoloc_json_key(w, "lon");
    geoloc_json_double(w, a->part->lng[k]);
    geoloc_json_object_end(w);
    geoloc_json_key(w, "geometry");
    geoloc_status s = geoloc_cell_geojson_write(w, cell, max_error_km, err);
    geoloc_json_object_end(w);
    return s;
}

geoloc_status geoloc_geojson_photo(geoloc_json *w, const geoloc_map_answer *a, const geoloc_geojson_options *opt,
                                   geoloc_error *err) {
    geoloc_geojson_options o = opt ? *opt : (geoloc_geojson_options){0};
    if (!(o.max_error_km >= 0) || !(o.min_prob >= 0) || o.min_prob > 1)
        return error_set(err, GEOLOC_E_ARG, "%s:%d: min_prob %g (0..1) or max_error_km %g (>= 0) out of range",
                         __FILE__, __LINE__, o.min_prob, o.max_error_km);
    if (!a->part || !a->probs || a->part->n == 0 || a->n_radii < 0 || a->n_radii > GEOLOC_RENDER_MAX_RADII)
        return error_set(err, GEOLOC_E_ARG, "%s:%d: %s: an answer without cells or with %d radii", __FILE__,
                         __LINE__, a->photo ? a->photo : "photo", a->n_radii);
    if (o.max_error_km == 0) o.max_error_km = DEFAULT_MAX_ERROR_KM;
    size_t n;
    size_t *order = render_cells_by_prob(a, o.min_prob, &n);
    if (!order) return error_set(err, GEOLOC_E_NOMEM, "%s:%d: out of memory", __FILE__, __LINE__);
    answer_feature(w, a, &o);
    geoloc_status s = GEOLOC_OK;
    for (int k = 0; k < a->n_radii && !s; k++) s = radius_feature(w, a, k, err);
    for (size_t i = 0; i < n && !s; i++) s = cell_feature(w, a, order[i], o.max_error_km, err);
    free(order);
    if (!s && w->err.status) {
        s = w->err.status;
        if (err) *err = w->err;
    }
    return s;
}
