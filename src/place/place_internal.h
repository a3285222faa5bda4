/* The opened place file and its checked sections. Internal API. */
#ifndef GEOLOC_PLACE_INTERNAL_H
#define GEOLOC_PLACE_INTERNAL_H

#include <stddef.h>

#include "geoloc/place.h"
#include "place/place_format.h"

struct geoloc_place_db {
    const void *map; /* the mapping to release, or NULL when the buffer is the caller's */
    size_t map_size;
    const place_country *countries;
    uint32_t n_countries;
    const char *strings;
    uint64_t n_strings;
    const place_edge *edges;
    uint32_t n_edges;
    const place_cell *cells;
    uint32_t n_cells;
    const place_part *parts;
    uint32_t n_parts;
    const uint32_t *part_edges;
    uint64_t n_part_edges;
    const place_bucket *coast_index;
    uint32_t n_coast_buckets;
    const uint32_t *coast_edges;
    uint64_t n_coast_edges;
    const place_city *cities;
    uint32_t n_cities;
    double *city_xyz;       /* 3 per city: unit vectors (allocated by place_db_check) */
    uint32_t *subtree_max;  /* at each k-d median: the largest population of its subtree */
    float *subtree_box;     /* at each k-d median: its subtree's box, min xyz then max xyz */
};

/* Checks a whole place file held in [data, data+size) (8-byte aligned) and
 * fills db to read it in place (and its city search arrays, which
 * place_db_release frees); `name` prefixes the messages. db->map stays NULL:
 * the buffer remains the caller's. */
geoloc_status place_db_check(const void *data, size_t size, const char *name, geoloc_place_db *db,
                             geoloc_error *err);

/* Frees what place_db_check allocated. */
void place_db_release(geoloc_place_db *db);

/* 1 when segment (a, b) crosses segment (p, q), with the half-open rule of
 * the crossing number (a vertex on the line pq counts on one side only). */
int place_segments_cross(double ax, double ay, double bx, double by, double px, double py,
                         double qx, double qy);

#endif
