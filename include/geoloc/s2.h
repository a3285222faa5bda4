/* geoloc: Google's S2 cell system (cell ids, tokens, hierarchy, geometry).
 *
 * Cells are 64-bit ids exactly as in Google's s2geometry (S2CellId): three
 * face bits, then the Hilbert-curve position, then a trailing 1 bit whose
 * place gives the level (0 = cube face ... 30 = leaf). Every function here
 * agrees bit for bit with the reference library (see tests/s2). */
#ifndef GEOLOC_S2_H
#define GEOLOC_S2_H

#include <stddef.h>
#include <stdint.h>

#include "geoloc/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* An S2 cell id; 0 is never a valid cell. */
typedef uint64_t geoloc_cell;

#define GEOLOC_S2_MAX_LEVEL 30
/* Buffer size for a token: 16 hex digits and the terminating NUL. */
#define GEOLOC_S2_TOKEN_SIZE 17

/* Leaf cell (level 30) containing the point; 0 if lat/lng are not finite. */
geoloc_cell geoloc_s2_from_latlng(double lat_deg, double lng_deg);

/* Cell at `level` (0-30) containing the point; 0 on bad input. */
geoloc_cell geoloc_s2_from_latlng_level(double lat_deg, double lng_deg, int level);

/* 1 if `cell` is a valid S2 cell id, else 0. */
int geoloc_s2_is_valid(geoloc_cell cell);

/* Level of a valid cell: 0 (face) to 30 (leaf). */
int geoloc_s2_level(geoloc_cell cell);

/* Cube face (0-5) of a valid cell. */
int geoloc_s2_face(geoloc_cell cell);

/* Ancestor of a valid cell at `level` (0 <= level <= geoloc_s2_level(cell)). */
geoloc_cell geoloc_s2_parent(geoloc_cell cell, int level);

/* Child k (0-3, Hilbert order) of a valid non-leaf cell. */
geoloc_cell geoloc_s2_child(geoloc_cell cell, int k);

/* First descendant of `cell` at `level` (>= its level), in Hilbert order. */
geoloc_cell geoloc_s2_child_begin(geoloc_cell cell, int level);

/* One past the last descendant at `level`: stop value for geoloc_s2_next. */
geoloc_cell geoloc_s2_child_end(geoloc_cell cell, int level);

/* First cell of `level` on the whole sphere (face 0), in Hilbert order. */
geoloc_cell geoloc_s2_begin(int level);

/* Stop value after the last cell of `level` on the sphere. */
geoloc_cell geoloc_s2_end(int level);

/* Next cell of the same level in Hilbert order (may step to the end value). */
geoloc_cell geoloc_s2_next(geoloc_cell cell);

/* Previous cell of the same level in Hilbert order. */
geoloc_cell geoloc_s2_prev(geoloc_cell cell);

/* Smallest leaf id inside `cell`. */
geoloc_cell geoloc_s2_range_min(geoloc_cell cell);

/* Largest leaf id inside `cell`. */
geoloc_cell geoloc_s2_range_max(geoloc_cell cell);

/* 1 if `cell` contains `other` (or equals it), else 0. */
int geoloc_s2_contains(geoloc_cell cell, geoloc_cell other);

/* Writes the token (lower-case hex, trailing zeros stripped; "X" for 0) into
 * out[GEOLOC_S2_TOKEN_SIZE]; returns its length. */
size_t geoloc_s2_to_token(geoloc_cell cell, char out[GEOLOC_S2_TOKEN_SIZE]);

/* Parses a token of `len` bytes (1-16 hex digits, either case) into a valid
 * cell. GEOLOC_E_PARSE for bad characters or length, GEOLOC_E_RANGE when the
 * digits do not form a valid cell id. */
geoloc_status geoloc_s2_from_token(const char *token, size_t len, geoloc_cell *out);

/* Center of the cell in degrees (S2CellId::ToLatLng). */
void geoloc_s2_center(geoloc_cell cell, double *lat_deg, double *lng_deg);

/* Vertex k (0-3, counter-clockwise, S2Cell::GetVertex) in degrees. */
void geoloc_s2_vertex(geoloc_cell cell, int k, double *lat_deg, double *lng_deg);

#ifdef __cplusplus
}
#endif
#endif
