/* The place file's layout (models/places.bin), version 1. Internal API.
 *
 * Little-endian. A header, then sections of fixed-size records, each at an
 * 8-byte aligned offset the header gives with its record count:
 *   COUNTRIES    place_country: name (offset in STRINGS), ISO alpha-2 code or ""
 *   STRINGS      char: NUL-terminated names (countries, cities)
 *   EDGES        place_edge: one outline edge (lon/lat, degrees) and its country
 *   CELLS        place_cell: the S2 covering, sorted by cell id, disjoint, whole sphere
 *   PARTS        place_part: a lon/lat rectangle holding (part of) a cell, with a
 *                reference point, its country and the edges crossing the rectangle
 *                (two parts for a cell across the antimeridian, else one)
 *   PART_EDGES   uint32: edge indices, referenced by the parts
 *   COAST_INDEX  place_bucket: the non-empty 0.25-degree lon/lat squares of
 *                the COAST_ROWS x COAST_COLS grid (row-major, from the south
 *                and -180), sorted, each with the start of its ids in
 *                COAST_EDGES (it ends where the next starts)
 *   COAST_EDGES  uint32: edge indices of each bucket (every edge whose box meets it)
 *   CITIES       place_city: in the order of an implicit k-d tree on their unit
 *                vectors (the median of [lo, hi) at (lo + hi) / 2 splits axis
 *                depth % 3: x, y, z), built by place_build.c */
#ifndef GEOLOC_PLACE_FORMAT_H
#define GEOLOC_PLACE_FORMAT_H

#include <math.h>
#include <stdint.h>

#define PLACE_MAGIC "GEOPLACE"
#define PLACE_VERSION 1u
#define PLACE_NONE UINT32_MAX /* no country */

#define PLACE_COAST_DEG 0.25
#define PLACE_COAST_ROWS 720
#define PLACE_COAST_COLS 1440

enum {
    PLACE_COUNTRIES,
    PLACE_STRINGS,
    PLACE_EDGES,
    PLACE_CELLS,
    PLACE_PARTS,
    PLACE_PART_EDGES,
    PLACE_COAST_INDEX,
    PLACE_COAST_EDGES,
    PLACE_CITIES,
    PLACE_N_SECTIONS
};

typedef struct place_section {
    uint64_t offset, count;
} place_section;

typedef struct place_header {
    char magic[8];
    uint32_t version;
    uint32_t n_sections;
    uint64_t file_size;
    place_section sections[PLACE_N_SECTIONS];
} place_header;

typedef struct place_bucket {
    uint32_t bucket, begin;
} place_bucket;

typedef struct place_country {
    uint32_t name;
    char code[4];
} place_country;

typedef struct place_edge {
    float lon1, lat1, lon2, lat2;
    uint32_t country;
} place_edge;

typedef struct place_cell {
    uint64_t id;
    uint32_t part, n_parts;
} place_cell;

typedef struct place_part {
    float lon_min, lon_max, lat_min, lat_max;
    float ref_lon, ref_lat;
    uint32_t ref_country; /* PLACE_NONE: the reference point is in no country */
    uint32_t edge_begin, edge_count;
} place_part;

typedef struct place_city {
    float lat, lon;
    uint32_t population;
    uint32_t name;
    char country[4];
} place_city;

/* Record size of each section. */
extern const uint32_t PLACE_RECORD_SIZE[PLACE_N_SECTIONS];

/* The unit vector of a coordinate (degrees). */
static inline void place_unit_vector(double lat, double lon, double p[3]) {
    double la = lat * 0.017453292519943295, lo = lon * 0.017453292519943295;
    p[0] = cos(la) * cos(lo), p[1] = cos(la) * sin(lo), p[2] = sin(la);
}

#endif
