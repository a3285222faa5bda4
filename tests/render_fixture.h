/* A small partition with a probability per cell, for the render tests:
 * cells given by a point and a level, their mean location the point. */
#ifndef GEOLOC_TESTS_RENDER_FIXTURE_H
#define GEOLOC_TESTS_RENDER_FIXTURE_H

#include "geoloc/render.h"
#include "geoloc/s2.h"

#define FIXTURE_MAX 16

typedef struct fixture {
    geoloc_partition part;
    geoloc_cell cell[FIXTURE_MAX];
    uint64_t count[FIXTURE_MAX];
    double lat[FIXTURE_MAX], lng[FIXTURE_MAX];
    float prob[FIXTURE_MAX];
} fixture;

/* Adds the level-`level` cell holding (lat, lng) with probability p; its index. */
static inline size_t fixture_add(fixture *f, double lat, double lng, int level, float p) {
    size_t k = f->part.n++;
    f->cell[k] = geoloc_s2_from_latlng_level(lat, lng, level);
    f->count[k] = 1;
    f->lat[k] = lat;
    f->lng[k] = lng;
    f->prob[k] = p;
    f->part.cell = f->cell;
    f->part.count = f->count;
    f->part.lat = f->lat;
    f->part.lng = f->lng;
    return k;
}

/* An answer at (lat, lng) in cell k of f. */
static inline geoloc_map_answer fixture_answer(const fixture *f, const char *photo, double lat, double lng, size_t k) {
    geoloc_map_answer a = {.photo = photo, .part = &f->part, .probs = f->prob, .lat = lat, .lon = lng,
                           .cell = f->cell[k], .prob = f->prob[k]};
    return a;
}

#endif
