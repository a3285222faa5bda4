/* Geotagging: each album's photos to place fused once, their answer weighed
 * by the album's anchors when it has some (and moved onto the nearest anchor
 * when close to one); every photo to place gets the
 * album's answer (or its own when it is the album's only one), with the
 * fusion without anchors and the photo alone beside it. */
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "geoloc/distance.h"
#include "geoloc/geotag.h"

const char *geoloc_geotag_method_name(geoloc_geotag_method method) {
    switch (method) {
    case GEOLOC_GEOTAG_ANCHOR: return "anchor";
    case GEOLOC_GEOTAG_ALBUM: return "album";
    case GEOLOC_GEOTAG_SINGLE: return "single";
    }
    return NULL;
}

/* Moves p to the anchor nearest it when that one is within km; 1 when moved. */
static int snap_to_anchor(geoloc_prediction *p, const geoloc_anchor *anchors, size_t n, double km) {
    size_t best = n;
    double best_km = km;
    for (size_t a = 0; a < n; a++) {
        double d = geoloc_haversine_km(p->lat, p->lon, anchors[a].lat, anchors[a].lon);
        if (d <= best_km) {
            best_km = d;
            best = a;
        }
    }
    if (best == n) return 0;
    p->lat = anchors[best].lat;
    p->lon = anchors[best].lon;
    return 1;
}

/* Album j's answers: its photos to place members[0..n) fused, answered
 * without (fused) and with its anchors (anchored). */
static geoloc_status answer_album(const geoloc_album_probs *a, const geoloc_model *m, const size_t *members,
                                  size_t n, const geoloc_anchor *anchors, size_t n_anchors,
                                  const geoloc_geotag_options *o, float *fused, geoloc_prediction *plain,
                                  geoloc_prediction *anchored, geoloc_error *err) {
    const float *geo[GEOLOC_MODEL_MAX_PARTITIONS], *scene;
    geoloc_status s = geoloc_album_fuse(a, members, n, o->fusion, fused, geo, &scene, err);
    if (s == GEOLOC_OK) s = geoloc_album_answer_probs(m, geo, scene, o->fusion, n, &o->predict, plain, NULL, err);
    if (s != GEOLOC_OK || !n_anchors) return s;
    float *weighed[GEOLOC_MODEL_MAX_PARTITIONS];
    for (size_t f = 0; f < m->n_partitions; f++) weighed[f] = (float *)geo[f]; /* in place: fused is ours */
    s = geoloc_album_anchor(m, geo, anchors, n_anchors, &o->anchor, weighed, err);
    if (s == GEOLOC_OK) s = geoloc_album_answer_probs(m, geo, scene, o->fusion, n, &o->predict, anchored, NULL, err);
    return s;
}

geoloc_status geoloc_geotag_place(const geoloc_album_probs *a, const unsigned char *predicted,
                                  const unsigned char *is_anchor, const geoloc_anchor *anchors,
                                  const size_t *album_of, size_t n, size_t n_albums, const geoloc_geotag_options *o,
                                  geoloc_geotag_result *out, geoloc_error *err) {
    if (!a || !predicted || !is_anchor || (!anchors && n) || !album_of || !o || !out)
        return error_set(err, GEOLOC_E_ARG, "geotag: bad arguments");
    const geoloc_model *m = geoloc_album_probs_model(a);
    for (size_t i = 0; i < n; i++) {
        if (album_of[i] >= n_albums)
            return error_set(err, GEOLOC_E_ARG, "geotag: photo %zu in album %zu of %zu", i, album_of[i], n_albums);
        memset(&out[i], 0, sizeof out[i]);
    }
    /* each album's photos to place, then its anchors, listed album by album */
    size_t *start = calloc(n_albums + 1, sizeof *start), *fill = calloc(n_albums + 1, sizeof *fill);
    size_t *members = malloc((n ? n : 1) * sizeof *members), *n_anchor = calloc(n_albums + 1, sizeof *n_anchor);
    geoloc_anchor *album_anchors = malloc((n ? n : 1) * sizeof *album_anchors);
    size_t *anchor_start = calloc(n_albums + 1, sizeof *anchor_start);
    float *fused = malloc(geoloc_album_width(a) * sizeof *fused);
    geoloc_status s = GEOLOC_OK;
    if (!start || !fill || !members || !n_anchor || !album_anchors || !anchor_start || !fused)
        s = error_set(err, GEOLOC_E_NOMEM, "out of memory");
    for (size_t i = 0; s == GEOLOC_OK && i < n; i++) {
        if (is_anchor[i]) anchor_start[album_of[i] + 1]++;
        else if (predicted[i]) start[album_of[i] + 1]++;
    }
    for (size_t j = 0; s == GEOLOC_OK && j < n_albums; j++) {
        start[j + 1] += start[j];
        anchor_start[j + 1] += anchor_start[j];
    }
    for (size_t i = 0; s == GEOLOC_OK && i < n; i++) {
        size_t j = album_of[i];
        if (is_anchor[i]) album_anchors[anchor_start[j] + n_anchor[j]++] = anchors[i];
        else if (predicted[i]) members[start[j] + fill[j]++] = i;
    }
    for (size_t j = 0; s == GEOLOC_OK && j < n_albums; j++) {
        if (!fill[j]) continue;
        geoloc_prediction plain, anchored;
        int snapped = 0;
        s = answer_album(a, m, members + start[j], fill[j], album_anchors + anchor_start[j], n_anchor[j], o,
                         fused, &plain, &anchored, err);
        if (s == GEOLOC_OK && n_anchor[j] && o->snap_km > 0)
            snapped = snap_to_anchor(&anchored, album_anchors + anchor_start[j], n_anchor[j], o->snap_km);
        for (size_t k = 0; s == GEOLOC_OK && k < fill[j]; k++) {
            geoloc_geotag_result *r = &out[members[start[j] + k]];
            r->placed = 1;
            r->album_size = fill[j];
            r->n_anchors = n_anchor[j];
            r->fused = plain;
            r->method = n_anchor[j] ? GEOLOC_GEOTAG_ANCHOR : fill[j] > 1 ? GEOLOC_GEOTAG_ALBUM : GEOLOC_GEOTAG_SINGLE;
            r->answer = n_anchor[j] ? anchored : plain;
            r->snapped = snapped;
            s = geoloc_album_answer(a, &members[start[j] + k], 1, o->fusion, &o->predict, &r->photo, NULL, err);
        }
    }
    free(start);
    free(fill);
    free(members);
    free(n_anchor);
    free(album_anchors);
    free(anchor_start);
    free(fused);
    return s;
}
