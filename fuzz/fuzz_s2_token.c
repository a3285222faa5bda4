/* libFuzzer target: geoloc_s2_from_token on arbitrary bytes. Whatever it
 * accepts must be a valid cell whose token reads back to the same id, and
 * whose parents, children and leaf range agree; it must refuse everything
 * else with GEOLOC_E_PARSE or GEOLOC_E_RANGE and leave *out alone. Any
 * violation abort()s. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "geoloc/s2.h"

static void require(int cond) {
    if (!cond) abort();
}

static int is_hex(uint8_t c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    /* a private copy with no terminator: reads past `size` get caught */
    char *token = malloc(size ? size : 1);
    if (token == NULL) return 0;
    if (size) memcpy(token, data, size);

    const geoloc_cell untouched = 0x0123456789abcdefULL;
    geoloc_cell cell = untouched;
    geoloc_status st = geoloc_s2_from_token(token, size, &cell);

    int all_hex = size >= 1 && size <= 16;
    for (size_t k = 0; k < size && all_hex; k++) all_hex = is_hex(data[k]);
    if (st != GEOLOC_OK) {
        require(cell == untouched);
        require(st == (all_hex ? GEOLOC_E_RANGE : GEOLOC_E_PARSE));
        free(token);
        return 0;
    }
    require(all_hex);
    require(geoloc_s2_is_valid(cell));
    int level = geoloc_s2_level(cell);
    require(level >= 0 && level <= GEOLOC_S2_MAX_LEVEL);
    require(geoloc_s2_face(cell) >= 0 && geoloc_s2_face(cell) < 6);

    /* token round trip: the same id, and the canonical spelling of the input
     * (lower case, trailing zeros dropped) */
    char out[GEOLOC_S2_TOKEN_SIZE];
    size_t len = geoloc_s2_to_token(cell, out);
    require(len >= 1 && len <= 16 && len == strlen(out) && len <= size);
    for (size_t k = 0; k < size; k++) {
        char c = token[k];
        if (c >= 'A' && c <= 'F') c = (char)(c - 'A' + 'a');
        require(k < len ? c == out[k] : c == '0');
    }
    geoloc_cell back = 0;
    require(geoloc_s2_from_token(out, len, &back) == GEOLOC_OK && back == cell);

    /* hierarchy */
    geoloc_cell min = geoloc_s2_range_min(cell), max = geoloc_s2_range_max(cell);
    require(min <= cell && cell <= max && geoloc_s2_contains(cell, cell));
    require(geoloc_s2_level(min) == GEOLOC_S2_MAX_LEVEL && geoloc_s2_parent(min, level) == cell);
    require(geoloc_s2_level(max) == GEOLOC_S2_MAX_LEVEL && geoloc_s2_parent(max, level) == cell);
    for (int l = 0; l <= level; l++) {
        geoloc_cell p = geoloc_s2_parent(cell, l);
        require(geoloc_s2_is_valid(p) && geoloc_s2_level(p) == l && geoloc_s2_contains(p, cell));
        require(l == level || !geoloc_s2_contains(cell, p));
    }
    if (level < GEOLOC_S2_MAX_LEVEL) {
        for (int k = 0; k < 4; k++) {
            geoloc_cell c = geoloc_s2_child(cell, k);
            require(geoloc_s2_is_valid(c) && geoloc_s2_level(c) == level + 1);
            require(geoloc_s2_parent(c, level) == cell && geoloc_s2_contains(cell, c));
            require(!geoloc_s2_contains(c, cell));
        }
        require(geoloc_s2_child_begin(cell, level + 1) == geoloc_s2_child(cell, 0));
        require(geoloc_s2_child_end(cell, level + 1) == geoloc_s2_next(geoloc_s2_child(cell, 3)));
    }
    require(geoloc_s2_prev(geoloc_s2_next(cell)) == cell);

    /* the center is finite, in range, and lies in the cell */
    double lat, lng;
    geoloc_s2_center(cell, &lat, &lng);
    require(lat >= -90 && lat <= 90 && lng >= -180 && lng <= 180);
    require(geoloc_s2_from_latlng_level(lat, lng, level) == cell);
    for (int k = 0; k < 4; k++) {
        geoloc_s2_vertex(cell, k, &lat, &lng);
        require(lat >= -90 && lat <= 90 && lng >= -180 && lng <= 180);
    }
    free(token);
    return 0;
}
