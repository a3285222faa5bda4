/* JSON documents of the weights files' headers and the Keras model files,
 * read by jansson (strict RFC 8259: UTF-8 checked, escapes decoded, no NUL in
 * strings, duplicate object keys refused) after a scan of the text that bounds
 * the tree jansson would build: nesting depth and number of values, so a
 * hostile text cannot make it allocate far more than the text. Object members
 * keep their order in the text. Internal API. */
#ifndef GEOLOC_NN_JSON_DOC_H
#define GEOLOC_NN_JSON_DOC_H

#include <jansson.h>
#include <stddef.h>

/* Parses text[0..len) as exactly one value (whitespace around it only), nested at
 * most max_depth deep and holding at most max_values values; the tree (json_decref
 * it), or NULL with what went wrong (and its byte offset) in msg[0..cap). */
json_t *json_doc_parse(const char *text, size_t len, int max_depth, size_t max_values, char *msg,
                       size_t cap);

/* 1 when s[0..n) is valid UTF-8 without NUL (no surrogates, no overlong forms). */
int json_doc_valid_utf8(const char *s, size_t n);

#endif
