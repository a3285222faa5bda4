/* multipart/form-data bodies (RFC 7578; RFC 2046 section 5.1.1): a preamble,
 * then parts each opened by a delimiter line "--boundary" (transport padding
 * allowed before its CRLF), the last closed by "--boundary--", then an
 * epilogue. A delimiter is recognised only at the body's start or after a
 * CRLF, and only when "--" or a line end follows the boundary, so data that
 * merely starts like the boundary stays data. One pass over the body: each
 * search starts where the previous one ended, and a part's headers are looked
 * for only inside that part (at most 8 KiB), so the work is linear in the body
 * even for thousands of parts. */
#define _GNU_SOURCE
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "server/multipart.h"

#define MAX_HEADER_BYTES 8192

/* RFC 2046's bchars (space allowed, but not last). */
static int is_bchar(int c) {
    return isalnum(c) || (c && strchr("'()+_,-./:=? ", c));
}

static int is_tspecial(int c) { return c && strchr("()<>@,;:\\\"/[]?=", c); }

static int is_token_char(int c) { return c > 32 && c < 127 && !is_tspecial(c); }

static const char *skip_space(const char *s, const char *end) {
    while (s < end && (*s == ' ' || *s == '\t')) s++;
    return s;
}

/* Reads the parameter value at *s (a token or a quoted string with backslash
 * escapes) into out (truncated to fit), advancing *s; 0, or -1 when there is
 * none or a quoted string is not closed. */
static int param_value(const char **s, const char *end, char *out, size_t size) {
    const char *p = *s;
    size_t n = 0;
    if (p < end && *p == '"') {
        for (p++; p < end && *p != '"'; p++) {
            if (*p == '\\' && p + 1 < end) p++;
            if (n + 1 < size) out[n++] = *p;
        }
        if (p >= end) return -1;
        p++;
    } else {
        for (; p < end && is_token_char((unsigned char)*p); p++)
            if (n + 1 < size) out[n++] = *p;
        if (p == *s) return -1;
    }
    if (size) out[n] = 0;
    *s = p;
    return 0;
}

/* Finds parameter `name` among the "; key=value" list in [s, end) into out
 * (left empty when absent); 0, or -1 when the list is malformed. */
static int find_param(const char *s, const char *end, const char *name, char *out, size_t size) {
    if (size) out[0] = 0;
    char value[512];
    for (;;) {
        s = skip_space(s, end);
        if (s >= end) return 0;
        if (*s != ';') return -1;
        s = skip_space(s + 1, end);
        const char *key = s;
        while (s < end && is_token_char((unsigned char)*s)) s++;
        size_t key_len = (size_t)(s - key);
        s = skip_space(s, end);
        if (key_len == 0 || s >= end || *s != '=') return -1;
        s = skip_space(s + 1, end);
        int wanted = key_len == strlen(name) && !strncasecmp(key, name, key_len);
        if (param_value(&s, end, wanted ? out : value, wanted ? size : sizeof value) != 0) return -1;
    }
}

int multipart_boundary(const char *content_type, char *out, size_t size) {
    static const char type[] = "multipart/form-data";
    if (!content_type || size < 71) return -1;
    const char *end = content_type + strlen(content_type), *s = skip_space(content_type, end);
    if (strncasecmp(s, type, sizeof type - 1) != 0) return -1;
    s += sizeof type - 1;
    char b[128];
    if (find_param(s, end, "boundary", b, sizeof b) != 0) return -1;
    size_t n = strlen(b);
    if (n < 1 || n > 70 || b[n - 1] == ' ') return -1;
    for (size_t k = 0; k < n; k++)
        if (!is_bchar((unsigned char)b[k])) return -1;
    memcpy(out, b, n + 1);
    return 0;
}

/* The parser's position and the delimiter it looks for. */
typedef struct scan {
    const uint8_t *body, *end;
    const char *boundary;
    size_t blen;
} scan;

/* When "--boundary" starts at p: the position after its line (past the CRLF)
 * with *closing 0, or after "--boundary--" with *closing 1; NULL when p holds
 * no delimiter line. */
static const uint8_t *delimiter_at(const scan *sc, const uint8_t *p, int *closing) {
    if ((size_t)(sc->end - p) < 2 + sc->blen || p[0] != '-' || p[1] != '-' ||
        memcmp(p + 2, sc->boundary, sc->blen) != 0)
        return NULL;
    p += 2 + sc->blen;
    if (sc->end - p >= 2 && p[0] == '-' && p[1] == '-') {
        *closing = 1;
        return p + 2;
    }
    while (p < sc->end && (*p == ' ' || *p == '\t')) p++;
    if (sc->end - p < 2 || p[0] != '\r' || p[1] != '\n') return NULL;
    *closing = 0;
    return p + 2;
}

/* The next delimiter at or after `from` (at the body's start, or after a
 * CRLF: *at points at that CRLF, the end of the previous part); the position
 * after it, or NULL when there is none. */
static const uint8_t *next_delimiter(const scan *sc, const uint8_t *from, const uint8_t **at, int *closing) {
    if (from == sc->body) {
        const uint8_t *after = delimiter_at(sc, from, closing);
        if (after) {
            *at = from;
            return after;
        }
    }
    while (from < sc->end) {
        const uint8_t *crlf = memmem(from, (size_t)(sc->end - from), "\r\n--", 4);
        if (!crlf) return NULL;
        const uint8_t *after = delimiter_at(sc, crlf + 2, closing);
        if (after) {
            *at = crlf;
            return after;
        }
        from = crlf + 2;
    }
    return NULL;
}

/* Copies a header's value (trimmed) into out, truncated to fit. */
static void copy_trimmed(const char *s, const char *end, char *out, size_t size) {
    s = skip_space(s, end);
    while (end > s && (end[-1] == ' ' || end[-1] == '\t')) end--;
    size_t n = (size_t)(end - s) < size - 1 ? (size_t)(end - s) : size - 1;
    memcpy(out, s, n);
    out[n] = 0;
}

/* Reads the header lines [h, end) of a part (each ends with CRLF) into part;
 * 0, or -1 with why. */
static int parse_headers(const char *h, const char *end, multipart_part *part, char *why, size_t why_size) {
    static const char disposition[] = "content-disposition", ctype[] = "content-type";
    while (h < end) {
        const char *eol = memchr(h, '\r', (size_t)(end - h)), *colon;
        if (!eol || eol + 1 >= end || eol[1] != '\n') eol = end;
        if (h[0] == ' ' || h[0] == '\t') { /* a folded continuation line: part of the previous header */
            h = eol + 2;
            continue;
        }
        colon = memchr(h, ':', (size_t)(eol - h));
        if (!colon) {
            snprintf(why, why_size, "a part's header line has no colon");
            return -1;
        }
        size_t name_len = (size_t)(colon - h);
        if (name_len == sizeof disposition - 1 && !strncasecmp(h, disposition, name_len)) {
            const char *v = skip_space(colon + 1, eol), *t = v;
            while (t < eol && is_token_char((unsigned char)*t)) t++;
            if (t == v || find_param(t, eol, "name", part->name, sizeof part->name) != 0 ||
                find_param(t, eol, "filename", part->filename, sizeof part->filename) != 0) {
                snprintf(why, why_size, "a part's Content-Disposition is malformed");
                return -1;
            }
        } else if (name_len == sizeof ctype - 1 && !strncasecmp(h, ctype, name_len)) {
            copy_trimmed(colon + 1, eol, part->content_type, sizeof part->content_type);
        }
        h = eol + 2;
    }
    return 0;
}

/* Splits the part [p, end) into headers and content; 0, or -1 with why. */
static int read_part(const uint8_t *p, const uint8_t *end, multipart_part *part, char *why, size_t why_size) {
    memset(part, 0, sizeof *part);
    const uint8_t *content;
    if (end - p >= 2 && p[0] == '\r' && p[1] == '\n') { /* no header lines at all */
        content = p + 2;
    } else {
        size_t span = (size_t)(end - p) < MAX_HEADER_BYTES + 4 ? (size_t)(end - p) : MAX_HEADER_BYTES + 4;
        const uint8_t *blank = memmem(p, span, "\r\n\r\n", 4);
        if (!blank) {
            snprintf(why, why_size, span > MAX_HEADER_BYTES ? "a part's headers are over %d bytes"
                                                            : "a part has no blank line after its headers",
                     MAX_HEADER_BYTES);
            return -1;
        }
        if (parse_headers((const char *)p, (const char *)blank + 2, part, why, why_size) != 0) return -1;
        content = blank + 4;
    }
    part->data = content;
    part->size = (size_t)(end - content);
    return 0;
}

int multipart_parse(const uint8_t *body, size_t size, const char *boundary, multipart_part *parts,
                    size_t max_parts, size_t *n_parts, char *why, size_t why_size) {
    *n_parts = 0;
    scan sc = {body, body + size, boundary, strlen(boundary)};
    const uint8_t *at, *p;
    int closing = 0;
    if (!body || sc.blen == 0 || !(p = next_delimiter(&sc, body, &at, &closing))) {
        snprintf(why, why_size, "the multipart body has no delimiter line of its boundary");
        return -1;
    }
    size_t n = 0;
    multipart_part scratch;
    while (!closing) {
        const uint8_t *start = p;
        if (!(p = next_delimiter(&sc, start, &at, &closing))) {
            snprintf(why, why_size, "the multipart body has no closing delimiter");
            return -1;
        }
        if (read_part(start, at, n < max_parts ? &parts[n] : &scratch, why, why_size) != 0) return -1;
        n++;
    }
    if (n == 0) {
        snprintf(why, why_size, "the multipart body has no parts");
        return -1;
    }
    *n_parts = n;
    return 0;
}
