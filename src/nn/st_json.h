/* The small strict JSON reader (RFC 8259) of safetensors headers and Keras
 * model files: whitespace, punctuation, strings (escapes decoded, UTF-8
 * checked), non-negative integers, numbers, skipping any value, and a whole
 * document as a tree (stj_parse) with bounded depth and size. Internal API. */
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

/* Reads a number (JSON syntax, finite as a double, at most 300 characters)
 * into *out; *is_int is 1 when it is written without fraction or exponent and
 * fits int64_t (then *ival holds it exactly). is_int and ival may be NULL. 0 or -1. */
int stj_number(st_json *j, double *out, int *is_int, int64_t *ival);

/* Kinds of JSON values. */
typedef enum stj_kind {
    STJ_NULL,
    STJ_BOOL,
    STJ_NUMBER,
    STJ_STRING,
    STJ_ARRAY,
    STJ_OBJECT
} stj_kind;

/* A value of a parsed document; the tree is owned by its root (stj_free). */
typedef struct stj_value {
    stj_kind kind;
    size_t offset;            /* byte offset of the value in the text */
    int boolean;              /* STJ_BOOL */
    double number;            /* STJ_NUMBER */
    int is_int;               /* STJ_NUMBER: an integer literal that fits int64_t */
    int64_t integer;          /* its value when is_int */
    char *string;             /* STJ_STRING: '\0'-terminated, no NUL inside, UTF-8 */
    size_t len;               /* its length in bytes */
    size_t n;                 /* STJ_ARRAY, STJ_OBJECT: number of items */
    struct stj_value *items;  /* the elements, or the members' values */
    char **keys;              /* STJ_OBJECT: keys[k] is the key of items[k] */
} stj_value;

/* Parses the rest of the text as exactly one value (only whitespace after
 * it) into *root: nested at most max_depth deep, at most max_values values in
 * all, object keys unique. 0, or -1 with msg set (and *root empty). */
int stj_parse(st_json *j, stj_value *root, int max_depth, size_t max_values);

/* Frees the tree below v (not v itself) and leaves v a null value. */
void stj_free(stj_value *v);

/* The member key of object v, or NULL when v is not an object or has none. */
const stj_value *stj_get(const stj_value *v, const char *key);

#endif
