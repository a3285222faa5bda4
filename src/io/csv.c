/* CSV reader over a memory-mapped file, and exact decimal number parsing. */
#include "io/csv.h"

#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>

#include "core/error.h"
#include "io/mapped_file.h"

struct geoloc_csv_reader {
    const char *data;
    size_t size;
    size_t pos;        /* start of the next row */
    long line;         /* line number at pos */
    long row_line;     /* line where the last row started */
    int mapped;        /* data is an mmap of the file */
    char *name;
    char *unescaped;   /* room for fields with "" escapes (file-sized, lazy) */
    size_t unescaped_used;
};

static csv_reader *reader_new(const char *data, size_t size, const char *name, int mapped) {
    csv_reader *r = calloc(1, sizeof *r);
    if (!r) return NULL;
    r->name = strdup(name ? name : "(buffer)");
    if (!r->name) {
        free(r);
        return NULL;
    }
    r->data = data;
    r->size = size;
    r->line = 1;
    r->mapped = mapped;
    return r;
}

csv_reader *csv_open(const char *path, geoloc_error *err) {
    const void *data;
    size_t size;
    if (mapped_file_open(path, &data, &size, err) != GEOLOC_OK) return NULL;
    if (size > 0) madvise((void *)data, size, MADV_SEQUENTIAL | MADV_WILLNEED);
    csv_reader *r = reader_new(data, size, strcmp(path, "-") ? path : "(standard input)", size > 0);
    if (!r) {
        mapped_file_close(data, size);
        error_set(err, GEOLOC_E_NOMEM, "%s: out of memory", path);
    }
    return r;
}

csv_reader *csv_open_buffer(const char *data, size_t size, const char *name) {
    return reader_new(data, size, name, 0);
}

void csv_close(csv_reader *r) {
    if (!r) return;
    if (r->mapped) mapped_file_close(r->data, r->size);
    free(r->unescaped);
    free(r->name);
    free(r);
}

long csv_line(const csv_reader *r) { return r->row_line; }

const char *csv_name(const csv_reader *r) { return r->name; }

const char *csv_data(const csv_reader *r, size_t *size) {
    *size = r->size;
    return r->data;
}

size_t csv_offset(const csv_reader *r) { return r->pos; }

/* Reads a quoted field starting at the opening quote; returns the position
 * after the closing quote or SIZE_MAX if the quote never closes. */
static size_t read_quoted(csv_reader *r, size_t pos, csv_field *f) {
    const char *d = r->data;
    size_t start = ++pos, out = 0;
    int escaped = 0;
    char *dst = NULL;
    for (;;) {
        const char *q = memchr(d + pos, '"', r->size - pos);
        if (!q) return SIZE_MAX;
        size_t qpos = (size_t)(q - d);
        for (size_t k = pos; k < qpos; k++)
            if (d[k] == '\n') r->line++;
        if (qpos + 1 < r->size && d[qpos + 1] == '"') {
            if (!escaped) { /* first escape: switch to the unescape area */
                if (!r->unescaped) {
                    r->unescaped = malloc(r->size);
                    if (!r->unescaped) return SIZE_MAX;
                }
                dst = r->unescaped + r->unescaped_used;
                escaped = 1;
            }
            memcpy(dst + out, d + pos, qpos + 1 - pos); /* the text and one quote */
            out += qpos + 1 - pos;
            pos = qpos + 2;
            continue;
        }
        if (escaped) {
            memcpy(dst + out, d + pos, qpos - pos);
            out += qpos - pos;
            f->p = dst;
            f->len = out;
            r->unescaped_used += out;
        } else {
            f->p = d + start;
            f->len = qpos - start;
        }
        return qpos + 1;
    }
}

int csv_next_row(csv_reader *r, csv_field *fields, size_t max_fields, size_t *n_fields,
                 geoloc_error *err) {
    const char *d = r->data;
    size_t pos = r->pos, n = 0;
    if (pos >= r->size) return 0;
    r->row_line = r->line;
    r->unescaped_used = 0;
    for (;;) {
        csv_field f;
        if (d[pos] == '"') {
            pos = read_quoted(r, pos, &f);
            if (pos == SIZE_MAX) {
                error_set(err, GEOLOC_E_PARSE, "%s:%ld: field %zu: unterminated quote", r->name,
                          r->row_line, n + 1);
                r->pos = r->size;
                return -1;
            }
            if (pos < r->size && d[pos] == '\r' && pos + 1 < r->size && d[pos + 1] == '\n') pos++;
            if (pos < r->size && d[pos] != ',' && d[pos] != '\n') {
                error_set(err, GEOLOC_E_PARSE, "%s:%ld: field %zu: text after closing quote",
                          r->name, r->row_line, n + 1);
                const char *nl = memchr(d + pos, '\n', r->size - pos);
                r->pos = nl ? (size_t)(nl - d) + 1 : r->size;
                r->line++;
                return -1;
            }
        } else {
            size_t start = pos;
            while (pos < r->size && d[pos] != ',' && d[pos] != '\n') pos++;
            size_t end = pos;
            if (end > start && d[end - 1] == '\r' && (pos == r->size || d[pos] == '\n')) end--;
            f.p = d + start;
            f.len = end - start;
        }
        if (n < max_fields) fields[n] = f;
        n++;
        if (pos >= r->size) break;
        if (d[pos] == '\n') {
            pos++;
            r->line++;
            break;
        }
        pos++; /* the comma */
        if (pos == r->size) { /* trailing comma at end of file: one more empty field */
            if (n < max_fields) fields[n] = (csv_field){d + pos, 0};
            n++;
            break;
        }
    }
    r->pos = pos;
    *n_fields = n;
    return 1;
}

int csv_field_is(csv_field f, const char *name) {
    size_t len = strlen(name);
    return f.len == len && memcmp(f.p, name, len) == 0;
}

int csv_find_column(const csv_field *header, size_t n, const char *const *names) {
    for (const char *const *name = names; *name; name++)
        for (size_t k = 0; k < n; k++)
            if (csv_field_is(header[k], *name)) return (int)k;
    return -1;
}

static const double POW10[23] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                 1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

static inline int is_digit(char c) { return c >= '0' && c <= '9'; }

int csv_parse_double(const char *p, size_t len, double *out) {
    const char *s = p, *e = p + len;
    if (s == e) return -1;
    int neg = 0;
    if (*s == '+' || *s == '-') neg = *s++ == '-';
    uint64_t mant = 0;
    int ndigits = 0, any = 0, inexact = 0;
    long exp10 = 0;
    for (; s < e && is_digit(*s); s++) {
        any = 1;
        if (mant == 0 && *s == '0') continue;
        if (ndigits < 19) {
            mant = mant * 10 + (uint64_t)(*s - '0');
            ndigits++;
        } else {
            exp10++;
            inexact |= *s != '0';
        }
    }
    if (s < e && *s == '.') {
        for (s++; s < e && is_digit(*s); s++) {
            any = 1;
            if (mant == 0 && *s == '0') {
                exp10--;
            } else if (ndigits < 19) {
                mant = mant * 10 + (uint64_t)(*s - '0');
                ndigits++;
                exp10--;
            } else {
                inexact |= *s != '0';
            }
        }
    }
    if (!any) return -1;
    if (s < e && (*s == 'e' || *s == 'E')) {
        s++;
        int eneg = 0;
        if (s < e && (*s == '+' || *s == '-')) eneg = *s++ == '-';
        if (s == e || !is_digit(*s)) return -1;
        long ev = 0;
        for (; s < e && is_digit(*s); s++)
            if (ev < 100000) ev = ev * 10 + (*s - '0');
        exp10 += eneg ? -ev : ev;
    }
    if (s != e) return -1;
    if (!inexact && mant <= ((uint64_t)1 << 53) && exp10 >= -22 && exp10 <= 22) {
        /* Clinger's fast path: both operands exact, one rounding. */
        double v = (double)mant;
        v = exp10 < 0 ? v / POW10[-exp10] : v * POW10[exp10];
        *out = neg ? -v : v;
        return 0;
    }
    char small[128];
    char *buf = len < sizeof small ? small : malloc(len + 1);
    if (!buf) return -1;
    memcpy(buf, p, len);
    buf[len] = '\0';
    *out = strtod(buf, NULL);
    if (buf != small) free(buf);
    return 0;
}

int csv_parse_uint(const char *p, size_t len, unsigned long long *out) {
    if (len == 0) return -1;
    unsigned long long v = 0;
    for (size_t k = 0; k < len; k++) {
        if (!is_digit(p[k])) return -1;
        if (v > (UINT64_MAX >> 1) / 10) return -1;
        v = v * 10 + (unsigned long long)(p[k] - '0');
        if (v > (UINT64_MAX >> 1)) return -1;
    }
    *out = v;
    return 0;
}

void csv_format_double(double v, char out[32]) {
    if (!isfinite(v)) {
        snprintf(out, 32, "%s", isnan(v) ? "nan" : (v < 0 ? "-inf" : "inf"));
        return;
    }
    /* %g drops trailing zeros, so for a normal double whose 15 significant
     * digits read back, that text is already the shortest; otherwise 16 or
     * 17 are needed. Subnormals carry fewer bits and may need fewer digits. */
    int precision = 15;
    for (; precision <= 17; precision++) {
        snprintf(out, 32, "%.*g", precision, v);
        if (strtod(out, NULL) == v) break;
    }
    if (fabs(v) < DBL_MIN) {
        char shorter[32];
        while (--precision >= 1) {
            snprintf(shorter, sizeof shorter, "%.*g", precision, v);
            if (strtod(shorter, NULL) != v) break;
            memcpy(out, shorter, sizeof shorter);
        }
    }
    /* Python keeps fixed notation up to 1e16 where %g switches earlier. */
    int exp10 = v == 0 ? 0 : (int)floor(log10(fabs(v)));
    if (strchr(out, 'e') && exp10 >= -4 && exp10 < 16) {
        char digits[32];
        snprintf(digits, sizeof digits, "%.0f", v);
        snprintf(out, 32, "%s", digits);
    }
    if (!strpbrk(out, ".e")) strcat(out, ".0");
}

void csv_write_field(FILE *out, const char *text) {
    if (!strpbrk(text, ",\"\r\n")) {
        fputs(text, out);
        return;
    }
    fputc('"', out);
    for (const char *c = text; *c; c++) {
        if (*c == '"') fputc('"', out);
        fputc(*c, out);
    }
    fputc('"', out);
}

/* Printable copy of a field for messages, cut at 40 bytes. */
static const char *printable(const char *p, size_t len, char buf[48]) {
    size_t n = 0;
    for (size_t k = 0; k < len && n < 40; k++) {
        unsigned char c = (unsigned char)p[k];
        buf[n++] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
    }
    if (n < len) {
        memcpy(buf + n, "...", 3);
        n += 3;
    }
    buf[n] = '\0';
    return buf;
}

/* 1 for the words strtod would read as non-finite: [+-]nan, inf, infinity. */
static int is_nonfinite_word(const char *p, size_t n) {
    if (n && (*p == '+' || *p == '-')) p++, n--;
    static const char *const words[] = {"nan", "inf", "infinity"};
    for (size_t w = 0; w < 3; w++)
        if (n == strlen(words[w]) && strncasecmp(p, words[w], n) == 0) return 1;
    return 0;
}

int csv_parse_coordinate(const char *p, size_t len, const char *name, double limit, double *out,
                         char *msg, size_t msg_size) {
    char text[48];
    double x;
    if (len == 0) {
        if (msg) snprintf(msg, msg_size, "%s: missing value", name);
        return -1;
    }
    if (csv_parse_double(p, len, &x) != 0) {
        if (msg)
            snprintf(msg, msg_size, "%s: '%s' is not a %snumber", name, printable(p, len, text),
                     is_nonfinite_word(p, len) ? "finite " : "");
        return -1;
    }
    if (!(x >= -limit && x <= limit)) { /* decimals too large for a double included */
        if (msg)
            snprintf(msg, msg_size, "%s: %s is outside [-%g, %g]", name, printable(p, len, text),
                     limit, limit);
        return -1;
    }
    *out = x;
    return 0;
}
