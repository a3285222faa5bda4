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

static int skip_number(st_json *j) {
    size_t at = stj_offset(j);
    if (*j->p == '-') j->p++;
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
