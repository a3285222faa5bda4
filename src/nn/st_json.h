/* The small JSON reader of safetensors headers: whitespace, punctuation,
 * strings (escapes decoded, UTF-8 checked), non-negative integers, and
 * skipping any value. Internal API. */
#ifndef GEOLOC_NN_ST_JSON_H
#define GEOLOC_NN_ST_JSON_H

#include <stddef.h>
#include <stdint.h>

typedef struct st_json {
    const char *begin, *p, *end;
    char msg[200]; /* what went wrong, set by the first failing call */
} st_json;

/* Starts reading text[0..len). */
void stj_init(st_json *j, const char *text, size_t len);

/* Byte offset of the reading position in the text. */
size_t stj_offset(const st_json *j);

/* Skips whitespace and returns the next byte without consuming it, -1 at the end. */
int stj_peek(st_json *j);

/* Skips whitespace and consumes c; 0, or -1 with msg set. */
int stj_expect(st_json *j, char c);

/* Reads a string into a malloc'd, '\0'-terminated buffer (*len bytes, no NUL
 * inside, valid UTF-8); 0, -2 when longer than max_len bytes, -1 on other errors. */
int stj_string(st_json *j, char **out, size_t *len, size_t max_len);

/* 1 when s[0..n) is valid UTF-8 (no surrogates, no overlong forms). */
int stj_valid_utf8(const char *s, size_t n);

/* Reads a non-negative integer (no sign, fraction or exponent) that fits 64 bits. 0 or -1. */
int stj_uint(st_json *j, uint64_t *out);

/* Skips one value of any kind, nested at most 64 deep. 0 or -1. */
int stj_skip_value(st_json *j);

#endif
