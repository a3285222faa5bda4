/* JSON documents through jansson, with the tree bounded before it is built. */
#include "nn/json_doc.h"

#include <stdio.h>
#include <string.h>

/* Nesting depth and an upper bound of the number of values of a text, from its
 * brackets and commas outside strings: for any text jansson accepts (and for any
 * prefix of it that jansson reads before failing) the bound holds, since both
 * see the same string boundaries. 0, or -1 with msg set. */
static int bound_tree(const char *text, size_t len, int max_depth, size_t max_values, char *msg,
                      size_t cap) {
    size_t values = 1;
    int depth = 0, in_string = 0;
    for (size_t k = 0; k < len; k++) {
        char c = text[k];
        if (in_string) {
            if (c == '\\') k++;
            else if (c == '"') in_string = 0;
        } else if (c == '"') {
            in_string = 1;
        } else if (c == '[' || c == '{') {
            if (++depth > max_depth) {
                snprintf(msg, cap, "JSON: nested deeper than %d at byte %zu", max_depth, k);
                return -1;
            }
            values++;
        } else if (c == ']' || c == '}') {
            depth--;
        } else if (c == ',') {
            values++;
        }
        if (values > max_values) {
            snprintf(msg, cap, "JSON: more than %zu values (byte %zu)", max_values, k);
            return -1;
        }
    }
    return 0;
}

json_t *json_doc_parse(const char *text, size_t len, int max_depth, size_t max_values, char *msg,
                       size_t cap) {
    if (bound_tree(text, len, max_depth, max_values, msg, cap) != 0) return NULL;
    json_error_t e;
    json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &e);
    if (!root) snprintf(msg, cap, "JSON: %s at byte %d", e.text, e.position);
    return root;
}

int json_doc_valid_utf8(const char *s, size_t n) {
    if (memchr(s, '\0', n)) return 0;
    json_t *v = json_stringn(s, n); /* NULL when not UTF-8 */
    int ok = v != NULL;
    json_decref(v);
    return ok;
}
