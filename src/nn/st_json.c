/* The small JSON reader of safetensors headers (RFC 8259 syntax). */
#include "nn/st_json.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int fail(st_json *j, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(st_json *j, const char *fmt, ...) {
    if (!j->msg[0]) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(j->msg, sizeof j->msg, fmt, ap);
        va_end(ap);
    }
    return -1;
}

void stj_init(st_json *j, const char *text, size_t len) {
    j->begin = j->p = text;
    j->end = text + len;
    j->msg[0] = '\0';
}

size_t stj_offset(const st_json *j) { return (size_t)(j->p - j->begin); }

int stj_peek(st_json *j) {
    while (j->p < j->end && (*j->p == ' ' || *j->p == '\t' || *j->p == '\n' || *j->p == '\r'))
        j->p++;
    return j->p < j->end ? (unsigned char)*j->p : -1;
}

int stj_expect(st_json *j, char c) {
    int n = stj_peek(j);
    if (n == c) {
        j->p++;
        return 0;
    }
    if (n < 0) return fail(j, "JSON ends where '%c' is expected", c);
    return fail(j, "JSON: '%c' expected at byte %zu", c, stj_offset(j));
}

static int hex4(const char *s, unsigned *v) {
    *v = 0;
    for (int k = 0; k < 4; k++) {
        char c = s[k];
        unsigned d;
        if (c >= '0' && c <= '9') d = (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f') d = (unsigned)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F') d = (unsigned)(c - 'A' + 10);
        else return -1;
        *v = *v * 16 + d;
    }
    return 0;
}

/* Length of the valid UTF-8 sequence at s[0..n), 0 when invalid. */
static size_t utf8_len(const unsigned char *s, size_t n) {
    unsigned c = s[0];
    if (c < 0x80) return 1;
    size_t len;
    unsigned cp, min;
    if ((c & 0xE0) == 0xC0) len = 2, cp = c & 0x1F, min = 0x80;
    else if ((c & 0xF0) == 0xE0) len = 3, cp = c & 0x0F, min = 0x800;
    else if ((c & 0xF8) == 0xF0) len = 4, cp = c & 0x07, min = 0x10000;
    else return 0;
    if (len > n) return 0;
    for (size_t k = 1; k < len; k++) {
        if ((s[k] & 0xC0) != 0x80) return 0;
        cp = (cp << 6) | (s[k] & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
    return len;
}

static size_t put_utf8(char *o, unsigned cp) {
    if (cp < 0x80) {
        o[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (char)(0xC0 | (cp >> 6));
        o[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (char)(0xE0 | (cp >> 12));
        o[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        o[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    o[0] = (char)(0xF0 | (cp >> 18));
    o[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    o[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    o[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* Parses the string at j->p; with out == NULL only checks and skips it. */
static int string_impl(st_json *j, char **out, size_t *len, size_t max_len) {
    if (stj_expect(j, '"') != 0) return fail(j, "JSON: string expected at byte %zu", stj_offset(j));
    size_t start = stj_offset(j) - 1;
    /* the decoded text is never longer than the raw text */
    const char *q = j->p;
    while (q < j->end && *q != '"') q += (*q == '\\' && q + 1 < j->end) ? 2 : 1;
    if (q >= j->end) return fail(j, "JSON: unterminated string at byte %zu", start);
    size_t raw = (size_t)(q - j->p);
    char *buf = NULL;
    if (out) {
        buf = malloc(raw + 1);
        if (!buf) return fail(j, "out of memory");
    }
    size_t n = 0;
    while (*j->p != '"') {
        unsigned char c = (unsigned char)*j->p;
        char tmp[4];
        size_t k;
        if (c < 0x20) {
            free(buf);
            return fail(j, "JSON: control character in string at byte %zu", stj_offset(j));
        } else if (c == '\\') {
            char e = j->p[1];
            unsigned cp = 0;
            j->p += 2;
            switch (e) {
            case '"': cp = '"'; break;
            case '\\': cp = '\\'; break;
            case '/': cp = '/'; break;
            case 'b': cp = '\b'; break;
            case 'f': cp = '\f'; break;
            case 'n': cp = '\n'; break;
            case 'r': cp = '\r'; break;
            case 't': cp = '\t'; break;
            case 'u':
                if (j->end - j->p < 4 || hex4(j->p, &cp) != 0) {
                    free(buf);
                    return fail(j, "JSON: bad \\u escape at byte %zu", stj_offset(j) - 2);
                }
                j->p += 4;
                if (cp >= 0xD800 && cp <= 0xDBFF) {
                    unsigned lo;
                    if (j->end - j->p < 6 || j->p[0] != '\\' || j->p[1] != 'u' ||
                        hex4(j->p + 2, &lo) != 0 || lo < 0xDC00 || lo > 0xDFFF) {
                        free(buf);
                        return fail(j, "JSON: unpaired surrogate at byte %zu", stj_offset(j) - 6);
                    }
                    j->p += 6;
                    cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
                    free(buf);
                    return fail(j, "JSON: unpaired surrogate at byte %zu", stj_offset(j) - 6);
                }
                break;
            default:
                free(buf);
                return fail(j, "JSON: bad escape at byte %zu", stj_offset(j) - 2);
            }
            if (cp == 0) {
                free(buf);
                return fail(j, "JSON: string with a NUL character at byte %zu", start);
            }
            k = put_utf8(tmp, cp);
        } else {
            k = utf8_len((const unsigned char *)j->p, (size_t)(j->end - j->p));
            if (k == 0) {
                free(buf);
                return fail(j, "JSON: invalid UTF-8 at byte %zu", stj_offset(j));
            }
            memcpy(tmp, j->p, k);
            j->p += k;
        }
        if (buf) memcpy(buf + n, tmp, k);
        n += k;
        if (n > max_len) {
            free(buf);
            fail(j, "JSON: string at byte %zu longer than %zu bytes", start, max_len);
            return -2;
        }
    }
    j->p++;
    if (buf) {
        buf[n] = '\0';
        *out = buf;
    }
    if (len) *len = n;
    return 0;
}

int stj_valid_utf8(const char *s, size_t n) {
    for (size_t k = 0; k < n;) {
        size_t l = utf8_len((const unsigned char *)s + k, n - k);
        if (l == 0) return 0;
        k += l;
    }
    return 1;
}

int stj_string(st_json *j, char **out, size_t *len, size_t max_len) {
    return string_impl(j, out, len, max_len);
}

int stj_uint(st_json *j, uint64_t *out) {
    int c = stj_peek(j);
    size_t at = stj_offset(j);
    if (c < '0' || c > '9') return fail(j, "JSON: non-negative integer expected at byte %zu", at);
    uint64_t v = 0;
    if (c == '0' && j->p + 1 < j->end && j->p[1] >= '0' && j->p[1] <= '9')
        return fail(j, "JSON: number with a leading zero at byte %zu", at);
    while (j->p < j->end && *j->p >= '0' && *j->p <= '9') {
        unsigned d = (unsigned)(*j->p - '0');
        if (v > (UINT64_MAX - d) / 10) return fail(j, "JSON: integer at byte %zu exceeds 64 bits", at);
        v = v * 10 + d;
        j->p++;
    }
    if (j->p < j->end && (*j->p == '.' || *j->p == 'e' || *j->p == 'E'))
        return fail(j, "JSON: non-negative integer expected at byte %zu", at);
    *out = v;
    return 0;
}

/* Moves past a number in JSON syntax; 0 or -1. */
static int skip_number(st_json *j) {
    size_t at = stj_offset(j);
    if (j->p < j->end && *j->p == '-') j->p++;
    const char *d = j->p;
    while (j->p < j->end && *j->p >= '0' && *j->p <= '9') j->p++;
    if (j->p == d || (*d == '0' && j->p - d > 1)) return fail(j, "JSON: bad number at byte %zu", at);
    if (j->p < j->end && *j->p == '.') {
        d = ++j->p;
        while (j->p < j->end && *j->p >= '0' && *j->p <= '9') j->p++;
        if (j->p == d) return fail(j, "JSON: bad number at byte %zu", at);
    }
    if (j->p < j->end && (*j->p == 'e' || *j->p == 'E')) {
        j->p++;
        if (j->p < j->end && (*j->p == '+' || *j->p == '-')) j->p++;
        d = j->p;
        while (j->p < j->end && *j->p >= '0' && *j->p <= '9') j->p++;
        if (j->p == d) return fail(j, "JSON: bad number at byte %zu", at);
    }
    return 0;
}

int stj_number(st_json *j, double *out, int *is_int, int64_t *ival) {
    int c = stj_peek(j);
    size_t at = stj_offset(j);
    if (c != '-' && (c < '0' || c > '9')) return fail(j, "JSON: number expected at byte %zu", at);
    const char *s = j->p;
    if (skip_number(j) != 0) return -1;
    size_t n = (size_t)(j->p - s);
    char buf[301];
    if (n >= sizeof buf) return fail(j, "JSON: number at byte %zu longer than 300 characters", at);
    memcpy(buf, s, n);
    buf[n] = '\0';
    char *e;
    double v = strtod(buf, &e);
    if (e != buf + n || !(v - v == 0)) return fail(j, "JSON: number at byte %zu out of range", at);
    int integral = strcspn(buf, ".eE") == n;
    int64_t iv = 0;
    if (integral) { /* exact value, or not an integer when it does not fit */
        int neg = buf[0] == '-';
        uint64_t mag = 0, lim = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
        for (size_t k = (size_t)neg; k < n && integral; k++) {
            unsigned dg = (unsigned)(buf[k] - '0');
            if (mag > (lim - dg) / 10) integral = 0;
            else mag = mag * 10 + dg;
        }
        if (integral) iv = neg ? (mag ? -(int64_t)(mag - 1) - 1 : 0) : (int64_t)mag;
    }
    *out = v;
    if (is_int) *is_int = integral;
    if (ival) *ival = integral ? iv : 0;
    return 0;
}

static int skip_value(st_json *j, int depth) {
    if (depth > 64) return fail(j, "JSON: nested deeper than 64 at byte %zu", stj_offset(j));
    int c = stj_peek(j);
    if (c < 0) return fail(j, "JSON ends where a value is expected");
    if (c == '"') return string_impl(j, NULL, NULL, SIZE_MAX);
    if (c == '{' || c == '[') {
        char close = c == '{' ? '}' : ']';
        j->p++;
        if (stj_peek(j) == close) {
            j->p++;
            return 0;
        }
        for (;;) {
            if (c == '{') {
                if (string_impl(j, NULL, NULL, SIZE_MAX) != 0 || stj_expect(j, ':') != 0) return -1;
            }
            if (skip_value(j, depth + 1) != 0) return -1;
            int n = stj_peek(j);
            if (n == ',') {
                j->p++;
                continue;
            }
            return stj_expect(j, close);
        }
    }
    if (c == '-' || (c >= '0' && c <= '9')) return skip_number(j);
    static const char *const words[] = {"true", "false", "null"};
    for (int k = 0; k < 3; k++) {
        size_t n = strlen(words[k]);
        if ((size_t)(j->end - j->p) >= n && !memcmp(j->p, words[k], n)) {
            j->p += n;
            return 0;
        }
    }
    return fail(j, "JSON: value expected at byte %zu", stj_offset(j));
}

int stj_skip_value(st_json *j) { return skip_value(j, 0); }

/* ---- documents as trees ------------------------------------------------------- */

typedef struct parse_ctx {
    int max_depth;
    size_t left; /* values still allowed */
} parse_ctx;

static int cmp_key_ptr(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* 0 when the n keys are distinct, else -1 with msg naming a repeated one. */
static int unique_keys(st_json *j, const stj_value *v) {
    if (v->n < 2) return 0;
    if (v->n <= 8) {
        for (size_t a = 1; a < v->n; a++)
            for (size_t b = 0; b < a; b++)
                if (!strcmp(v->keys[a], v->keys[b]))
                    return fail(j, "JSON: key \"%.80s\" given twice in the object at byte %zu",
                                v->keys[a], v->offset);
        return 0;
    }
    char **sorted = malloc(v->n * sizeof *sorted);
    if (!sorted) return fail(j, "out of memory");
    memcpy(sorted, v->keys, v->n * sizeof *sorted);
    qsort(sorted, v->n, sizeof *sorted, cmp_key_ptr);
    int r = 0;
    for (size_t k = 1; k < v->n && r == 0; k++)
        if (!strcmp(sorted[k - 1], sorted[k]))
            r = fail(j, "JSON: key \"%.80s\" given twice in the object at byte %zu", sorted[k],
                     v->offset);
    free(sorted);
    return r;
}

/* Parses one value into v (zeroed first); on failure v stays freeable. */
static int parse_into(st_json *j, stj_value *v, int depth, parse_ctx *pc) {
    memset(v, 0, sizeof *v);
    if (depth > pc->max_depth)
        return fail(j, "JSON: nested deeper than %d at byte %zu", pc->max_depth, stj_offset(j));
    int c = stj_peek(j);
    if (c < 0) return fail(j, "JSON ends where a value is expected");
    v->offset = stj_offset(j);
    if (pc->left == 0) return fail(j, "JSON: too many values (limit reached at byte %zu)", v->offset);
    pc->left--;
    if (c == '"') {
        if (string_impl(j, &v->string, &v->len, SIZE_MAX) != 0) return -1;
        v->kind = STJ_STRING;
        return 0;
    }
    if (c == '{' || c == '[') {
        int obj = c == '{';
        char close = obj ? '}' : ']';
        size_t cap = 0;
        v->kind = obj ? STJ_OBJECT : STJ_ARRAY;
        j->p++;
        if (stj_peek(j) == close) {
            j->p++;
            return 0;
        }
        for (;;) {
            char *key = NULL;
            if (obj) {
                if (stj_peek(j) != '"')
                    return fail(j, "JSON: member name (a string) expected at byte %zu", stj_offset(j));
                if (string_impl(j, &key, NULL, SIZE_MAX) != 0) return -1;
                if (stj_expect(j, ':') != 0) {
                    free(key);
                    return -1;
                }
            }
            if (v->n == cap) {
                size_t nc = cap ? cap * 2 : 4;
                stj_value *items = realloc(v->items, nc * sizeof *items);
                if (items) v->items = items;
                char **keys = obj && items ? realloc(v->keys, nc * sizeof *keys) : NULL;
                if (keys) v->keys = keys;
                if (!items || (obj && !keys)) {
                    free(key);
                    return fail(j, "out of memory");
                }
                cap = nc;
            }
            if (obj) v->keys[v->n] = key;
            if (parse_into(j, &v->items[v->n++], depth + 1, pc) != 0) return -1;
            int n = stj_peek(j);
            if (n == ',') {
                j->p++;
                continue;
            }
            if (stj_expect(j, close) != 0) return -1;
            break;
        }
        return obj ? unique_keys(j, v) : 0;
    }
    if (c == '-' || (c >= '0' && c <= '9')) {
        if (stj_number(j, &v->number, &v->is_int, &v->integer) != 0) return -1;
        v->kind = STJ_NUMBER;
        return 0;
    }
    static const char *const words[] = {"true", "false", "null"};
    for (int k = 0; k < 3; k++) {
        size_t n = strlen(words[k]);
        if ((size_t)(j->end - j->p) >= n && !memcmp(j->p, words[k], n)) {
            j->p += n;
            v->kind = k == 2 ? STJ_NULL : STJ_BOOL;
            v->boolean = k == 0;
            return 0;
        }
    }
    return fail(j, "JSON: value expected at byte %zu", stj_offset(j));
}

int stj_parse(st_json *j, stj_value *root, int max_depth, size_t max_values) {
    parse_ctx pc = {max_depth, max_values};
    if (parse_into(j, root, 0, &pc) != 0) {
        stj_free(root);
        return -1;
    }
    if (stj_peek(j) >= 0) {
        stj_free(root);
        return fail(j, "JSON: unexpected text after the value at byte %zu", stj_offset(j));
    }
    return 0;
}

void stj_free(stj_value *v) {
    if (!v) return;
    for (size_t k = 0; k < v->n; k++) {
        stj_free(&v->items[k]);
        if (v->keys) free(v->keys[k]);
    }
    free(v->items);
    free(v->keys);
    free(v->string);
    memset(v, 0, sizeof *v);
}

const stj_value *stj_get(const stj_value *v, const char *key) {
    if (!v || v->kind != STJ_OBJECT) return NULL;
    for (size_t k = 0; k < v->n; k++)
        if (!strcmp(v->keys[k], key)) return &v->items[k];
    return NULL;
}
