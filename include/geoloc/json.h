/* geoloc: a streaming JSON writer that only writes valid JSON (RFC 8259).
 * Numbers are written in the shortest form that reads back to the same value
 * (a non-finite number is refused: GEOLOC_E_RANGE); strings are escaped, and
 * bytes that are not part of valid UTF-8 are written as \u00XX, the code
 * point of their Latin-1 reading (0xFF -> \u00ff), so any C string gives valid
 * JSON. Commas and nesting are tracked by the writer; the first error is kept
 * and every later call does nothing. */
#ifndef GEOLOC_JSON_H
#define GEOLOC_JSON_H

#include <stdint.h>
#include <stdio.h>

#include "geoloc/status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define GEOLOC_JSON_MAX_DEPTH 32

typedef struct geoloc_json {
    FILE *fp;
    int depth;
    int pretty_depth;  /* items of arrays nested at most this deep go on lines of their own */
    unsigned char first[GEOLOC_JSON_MAX_DEPTH + 1];  /* next item is the first of its container */
    unsigned char is_array[GEOLOC_JSON_MAX_DEPTH + 1];
    int after_key;     /* a key was written, its value comes next */
    geoloc_error err;  /* the first error (status GEOLOC_OK: none) */
} geoloc_json;

/* Starts a document on fp; arrays at depth <= pretty_depth (1: the top level)
 * put each item on its own line (0: everything on one line). */
void geoloc_json_init(geoloc_json *w, FILE *fp, int pretty_depth);

/* Opens / closes an object or an array (as a value, or after a key). */
void geoloc_json_object_begin(geoloc_json *w);
void geoloc_json_object_end(geoloc_json *w);
void geoloc_json_array_begin(geoloc_json *w);
void geoloc_json_array_end(geoloc_json *w);

/* Writes a member's key inside an object; its value comes next. */
void geoloc_json_key(geoloc_json *w, const char *key);

/* Values. A NULL string writes null. */
void geoloc_json_string(geoloc_json *w, const char *s);
void geoloc_json_double(geoloc_json *w, double v);
void geoloc_json_float(geoloc_json *w, float v);
void geoloc_json_int(geoloc_json *w, int64_t v);
void geoloc_json_null(geoloc_json *w);
void geoloc_json_bool(geoloc_json *w, int v); /* true (v != 0) or false */

/* Ends the document (a newline after it): the first error, a container left
 * open, or a write error of fp (disk full: GEOLOC_E_IO). Flushes fp. */
geoloc_status geoloc_json_finish(geoloc_json *w, geoloc_error *err);

/* The shortest decimal form of v that reads back (strtod) to v; -1 when v
 * is not finite (out[0] = 0). out holds at least 32 bytes. */
int geoloc_json_format_double(double v, char *out);

/* The same for a float (read back with strtof). */
int geoloc_json_format_float(float v, char *out);

/* Writes s as a JSON string (quotes included) to fp with the escapes above;
 * 0, or -1 on a write error. */
int geoloc_json_write_string(FILE *fp, const char *s);

#ifdef __cplusplus
}
#endif
#endif
