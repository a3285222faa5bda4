/* Opening and checking the place file (place_format.h): the version, every
 * section's bounds and every index in it, so that look-ups read it unchecked. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "geoloc/model.h"
#include "geoloc/s2.h"
#include "io/mapped_file.h"
#include "model/model_internal.h"
#include "place/place_internal.h"

const uint32_t PLACE_RECORD_SIZE[PLACE_N_SECTIONS] = {
    [PLACE_COUNTRIES] = sizeof(place_country), [PLACE_STRINGS] = 1,
    [PLACE_EDGES] = sizeof(place_edge),        [PLACE_CELLS] = sizeof(place_cell),
    [PLACE_PARTS] = sizeof(place_part),        [PLACE_PART_EDGES] = 4,
    [PLACE_COAST_INDEX] = sizeof(place_bucket), [PLACE_COAST_EDGES] = 4,
    [PLACE_CITIES] = sizeof(place_city),
};

static const char *const SECTION_NAMES[PLACE_N_SECTIONS] = {
    "countries", "strings", "edges", "cells", "parts", "part edges",
    "coast index", "coast edges", "cities"};

static int is_lat(double v) { return isfinite(v) && v >= -90.0 && v <= 90.0; }
static int is_lon(double v) { return isfinite(v) && v >= -180.0 && v <= 180.0; }

/* A country code: "" or two capital letters, NUL-padded to 4 bytes. */
static int is_code(const char c[4]) {
    if (c[2] || c[3]) return 0;
    if (!c[0]) return !c[1];
    return c[0] >= 'A' && c[0] <= 'Z' && c[1] >= 'A' && c[1] <= 'Z';
}

static int sections_fit(const place_header *h, size_t size, const char **bad) {
    for (int s = 0; s < PLACE_N_SECTIONS; s++) {
        const place_section *sec = &h->sections[s];
        *bad = SECTION_NAMES[s];
        if (sec->offset % 8 || sec->offset < sizeof *h || sec->offset > size) return 0;
        if (sec->count > (size - sec->offset) / PLACE_RECORD_SIZE[s]) return 0;
        if (s != PLACE_STRINGS && s != PLACE_PART_EDGES && s != PLACE_COAST_EDGES &&
            sec->count >= UINT32_MAX)
            return 0;
    }
    return 1;
}

static const char *check_geometry(const geoloc_place_db *db) {
    for (uint32_t i = 0; i < db->n_countries; i++)
        if (db->countries[i].name >= db->n_strings || !is_code(db->countries[i].code))
            return "a country's name or code";
    for (uint32_t i = 0; i < db->n_edges; i++) {
        const place_edge *e = &db->edges[i];
        if (!is_lon(e->lon1) || !is_lon(e->lon2) || !is_lat(e->lat1) || !is_lat(e->lat2) ||
            e->country >= db->n_countries)
            return "an edge";
    }
    if (db->n_cells == 0) return "the cell covering (empty)";
    for (uint32_t i = 0; i < db->n_cells; i++) {
        const place_cell *c = &db->cells[i];
        if (!geoloc_s2_is_valid(c->id) || c->n_parts < 1 || c->n_parts > 2 ||
            c->part > db->n_parts || c->n_parts > db->n_parts - c->part)
            return "a cell";
        if (i && geoloc_s2_range_min(c->id) <= geoloc_s2_range_max(db->cells[i - 1].id))
            return "the cell order";
    }
    for (uint32_t i = 0; i < db->n_parts; i++) {
        const place_part *p = &db->parts[i];
        if (!is_lon(p->lon_min) || !is_lon(p->lon_max) || !is_lat(p->lat_min) ||
            !is_lat(p->lat_max) || p->lon_min > p->lon_max || p->lat_min > p->lat_max ||
            !is_lon(p->ref_lon) || !is_lat(p->ref_lat) ||
            (p->ref_country != PLACE_NONE && p->ref_country >= db->n_countries) ||
            p->edge_begin > db->n_part_edges || p->edge_count > db->n_part_edges - p->edge_begin)
            return "a cell part";
    }
    for (uint64_t i = 0; i < db->n_part_edges; i++)
        if (db->part_edges[i] >= db->n_edges) return "a cell part's edge";
    for (uint32_t i = 0; i < db->n_coast_buckets; i++) {
        const place_bucket *b = &db->coast_index[i];
        if (b->bucket >= PLACE_COAST_ROWS * PLACE_COAST_COLS || b->begin > db->n_coast_edges ||
            (i == 0 ? b->begin != 0 : b->bucket <= b[-1].bucket || b->begin < b[-1].begin))
            return "the coast index";
    }
    for (uint64_t i = 0; i < db->n_coast_edges; i++)
        if (db->coast_edges[i] >= db->n_edges) return "a coast edge";
    return NULL;
}

static const char *check_cities(const geoloc_place_db *db) {
    for (uint32_t i = 0; i < db->n_cities; i++) {
        const place_city *c = &db->cities[i];
        if (!is_lat(c->lat) || !is_lon(c->lon) || c->name >= db->n_strings || c->country[2] || c->country[3])
            return "a city";
    }
    return NULL;
}

/* The largest population and the box of the k-d subtree [lo, hi), stored at
 * its median m (returned, or UINT32_MAX when empty). */
static uint32_t index_subtree(geoloc_place_db *db, uint32_t lo, uint32_t hi) {
    if (lo >= hi) return UINT32_MAX;
    uint32_t m = lo + (hi - lo) / 2, kids[2] = {index_subtree(db, lo, m), index_subtree(db, m + 1, hi)};
    float *box = db->subtree_box + 6 * (size_t)m;
    const double *p = db->city_xyz + 3 * (size_t)m;
    db->subtree_max[m] = db->cities[m].population;
    for (int j = 0; j < 3; j++) box[j] = box[3 + j] = (float)p[j];
    for (int k = 0; k < 2; k++) {
        if (kids[k] == UINT32_MAX) continue;
        const float *kb = db->subtree_box + 6 * (size_t)kids[k];
        for (int j = 0; j < 3; j++) box[j] = fminf(box[j], kb[j]), box[3 + j] = fmaxf(box[3 + j], kb[3 + j]);
        if (db->subtree_max[kids[k]] > db->subtree_max[m]) db->subtree_max[m] = db->subtree_max[kids[k]];
    }
    return m;
}

/* The city search arrays: unit vectors, subtree maxima and boxes. */
static int index_cities(geoloc_place_db *db) {
    size_t n = db->n_cities ? db->n_cities : 1;
    db->city_xyz = malloc(3 * n * sizeof *db->city_xyz);
    db->subtree_max = malloc(n * sizeof *db->subtree_max);
    db->subtree_box = malloc(6 * n * sizeof *db->subtree_box);
    if (!db->city_xyz || !db->subtree_max || !db->subtree_box) return -1;
    for (uint32_t i = 0; i < db->n_cities; i++)
        place_unit_vector(db->cities[i].lat, db->cities[i].lon, db->city_xyz + 3 * (size_t)i);
    index_subtree(db, 0, db->n_cities);
    return 0;
}

void place_db_release(geoloc_place_db *db) {
    free(db->city_xyz);
    free(db->subtree_max);
    free(db->subtree_box);
    db->city_xyz = NULL;
    db->subtree_max = NULL;
    db->subtree_box = NULL;
}

geoloc_status place_db_check(const void *data, size_t size, const char *name, geoloc_place_db *db,
                             geoloc_error *err) {
    memset(db, 0, sizeof *db);
    place_header h;
    if (size < sizeof h) return error_set(err, GEOLOC_E_PARSE, "%s: not a place file (too short)", name);
    memcpy(&h, data, sizeof h);
    if (memcmp(h.magic, PLACE_MAGIC, 8))
        return error_set(err, GEOLOC_E_PARSE, "%s: not a place file (no %s header)", name, PLACE_MAGIC);
    if (h.version != PLACE_VERSION)
        return error_set(err, GEOLOC_E_PARSE,
                         "%s: place file version %u, this geoloc reads version %u: "
                         "run tools/fetch-places.sh again", name, h.version, PLACE_VERSION);
    const char *bad = "header";
    if (h.n_sections != PLACE_N_SECTIONS || h.file_size != size || !sections_fit(&h, size, &bad))
        return error_set(err, GEOLOC_E_PARSE, "%s: damaged place file (%s out of bounds)", name, bad);
    const char *base = data;
#define SECTION(s) ((const void *)(base + h.sections[s].offset))
    db->countries = SECTION(PLACE_COUNTRIES);
    db->n_countries = (uint32_t)h.sections[PLACE_COUNTRIES].count;
    db->strings = SECTION(PLACE_STRINGS);
    db->n_strings = h.sections[PLACE_STRINGS].count;
    db->edges = SECTION(PLACE_EDGES);
    db->n_edges = (uint32_t)h.sections[PLACE_EDGES].count;
    db->cells = SECTION(PLACE_CELLS);
    db->n_cells = (uint32_t)h.sections[PLACE_CELLS].count;
    db->parts = SECTION(PLACE_PARTS);
    db->n_parts = (uint32_t)h.sections[PLACE_PARTS].count;
    db->part_edges = SECTION(PLACE_PART_EDGES);
    db->n_part_edges = h.sections[PLACE_PART_EDGES].count;
    db->coast_index = SECTION(PLACE_COAST_INDEX);
    db->n_coast_buckets = (uint32_t)h.sections[PLACE_COAST_INDEX].count;
    db->coast_edges = SECTION(PLACE_COAST_EDGES);
    db->n_coast_edges = h.sections[PLACE_COAST_EDGES].count;
    db->cities = SECTION(PLACE_CITIES);
    db->n_cities = (uint32_t)h.sections[PLACE_CITIES].count;
#undef SECTION
    const char *what = NULL;
    if (db->n_strings == 0 || db->strings[db->n_strings - 1] != '\0') what = "the string table";
    if (!what) what = check_geometry(db);
    if (!what) what = check_cities(db);
    if (what) return error_set(err, GEOLOC_E_PARSE, "%s: damaged place file (%s)", name, what);
    if (index_cities(db)) {
        place_db_release(db);
        return error_set(err, GEOLOC_E_NOMEM, "%s: out of memory", name);
    }
    return GEOLOC_OK;
}

geoloc_status geoloc_place_open_optional(const char *path, geoloc_place_db **out, geoloc_error *err) {
    char found[4096];
    *out = NULL;
    if (!path && geoloc_model_find_data(GEOLOC_PLACE_FILE, found, sizeof found) != 0) return GEOLOC_OK;
    return geoloc_place_open(path, out, err);
}

geoloc_status geoloc_place_open(const char *path, geoloc_place_db **out, geoloc_error *err) {
    *out = NULL;
    char found[4096];
    if (!path) {
        if (geoloc_model_find_data(GEOLOC_PLACE_FILE, found, sizeof found) != 0) {
            char where[3 * 4200];
            model_search_text(where, sizeof where);
            return error_set(err, GEOLOC_E_IO, "place data %s not found in %s: run tools/fetch-places.sh",
                             GEOLOC_PLACE_FILE, where);
        }
        path = found;
    }
    geoloc_place_db *db = calloc(1, sizeof *db);
    if (!db) return error_set(err, GEOLOC_E_NOMEM, "%s: out of memory", path);
    const void *data;
    size_t size;
    geoloc_status st = mapped_file_open(path, &data, &size, err);
    if (st == GEOLOC_OK) {
        st = place_db_check(data, size, path, db, err);
        if (st != GEOLOC_OK) mapped_file_close(data, size);
    }
    if (st != GEOLOC_OK) {
        if (st == GEOLOC_E_IO && err)
            snprintf(err->message + strlen(err->message), sizeof err->message - strlen(err->message),
                     " (run tools/fetch-places.sh)");
        free(db);
        return st;
    }
    db->map = data;
    db->map_size = size;
    *out = db;
    return GEOLOC_OK;
}

void geoloc_place_close(geoloc_place_db *db) {
    if (!db) return;
    if (db->map) mapped_file_close(db->map, db->map_size);
    place_db_release(db);
    free(db);
}

void geoloc_place_counts(const geoloc_place_db *db, uint32_t *countries, uint32_t *cities) {
    if (countries) *countries = db->n_countries;
    if (cities) *cities = db->n_cities;
}
