/* The streaming JSON writer (geoloc/json.h): shortest round-trip numbers,
 * escaped strings with invalid UTF-8 bytes as \u00XX, commas and nesting
 * tracked, the first error kept. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "geoloc/json.h"

void geoloc_json_init(geoloc_json *w, FILE *fp, int pretty_depth) {
    memset(w, 0, sizeof *w);
    w->fp = fp;
    w->pretty_depth = pretty_depth;
    w->first[0] = 1;
}

static int failed(const geoloc_json *w) { return w->err.status != GEOLOC_OK; }

/* Writes what comes before a value: a comma and the line break of pretty arrays. */
static void before_value(geoloc_json *w) {
    if (w->after_key) {
        w->after_key = 0;
        return;
    }
    int d = w->depth;
    if (d > 0 && !w->is_array[d]) {
        error_set(&w->err, GEOLOC_E_ARG, "json: a value inside an object needs a key");
        return;
    }
    if (!w->first[d]) fputc(',', w->fp);
    if (d > 0 && d <= w->pretty_depth) fprintf(w->fp, "\n%*s", 2 * d, "");
    else if (!w->first[d]) fputc(' ', w->fp);
    w->first[d] = 0;
}

static void open_container(geoloc_json *w, char c, int array) {
    if (failed(w)) return;
    before_value(w);
    if (w->depth == GEOLOC_JSON_MAX_DEPTH) {
        error_set(&w->err, GEOLOC_E_ARG, "json: nested more than %d deep", GEOLOC_JSON_MAX_DEPTH);
        return;
    }
    fputc(c, w->fp);
    w->depth++;
    w->first[w->depth] = 1;
    w->is_array[w->depth] = (unsigned char)array;
}

static void close_container(geoloc_json *w, char c, int array) {
    if (failed(w)) return;
    if (w->depth == 0 || w->is_array[w->depth] != array || w->after_key) {
        error_set(&w->err, GEOLOC_E_ARG, "json: '%c' closes nothing open", c);
        return;
    }
    int d = w->depth--;
    if (array && d <= w->pretty_depth && !w->first[d]) fprintf(w->fp, "\n%*s", 2 * w->depth, "");
    fputc(c, w->fp);
}

void geoloc_json_object_begin(geoloc_json *w) { open_container(w, '{', 0); }
void geoloc_json_object_end(geoloc_json *w) { close_container(w, '}', 0); }
void geoloc_json_array_begin(geoloc_json *w) { open_container(w, '[', 1); }
void geoloc_json_array_end(geoloc_json *w) { close_container(w, ']', 1); }

void geoloc_json_key(geoloc_json *w, const char *key) {
    if (failed(w)) return;
    if (w->depth == 0 || w->is_array[w->depth] || w->after_key || !key) {
        error_set(&w->err, GEOLOC_E_ARG, "json: a key outside an object");
        return;
    }
    if (!w->first[w->depth]) fputs(", ", w->fp);
    w->first[w->depth] = 0;
    geoloc_json_write_string(w->fp, key);
    fputs(": ", w->fp);
    w->after_key = 1;
}

/* Length of the valid UTF-8 sequence at s (1-4), or 0 when s[0] starts none. */
static size_t utf8_length(const unsigned char *s) {
    unsigned char c = s[0];
    if (c < 0x80) return 1;
    size_t n;
    unsigned char lo = 0x80, hi = 0xBF; /* range of the second byte */
    if (c >= 0xC2 && c <= 0xDF) n = 2;
    else if (c == 0xE0) n = 3, lo = 0xA0;         /* no overlong forms */
    else if (c == 0xED) n = 3, hi = 0x9F;         /* no surrogates */
    else if (c >= 0xE1 && c <= 0xEF) n = 3;
    else if (c == 0xF0) n = 4, lo = 0x90;
    else if (c >= 0xF1 && c <= 0xF3) n = 4;
    else if (c == 0xF4) n = 4, hi = 0x8F;         /* at most U+10FFFF */
    else return 0;
    if (s[1] < lo || s[1] > hi) return 0;
    for (size_t k = 2; k < n; k++)
        if (s[k] < 0x80 || s[k] > 0xBF) return 0; /* also stops at the terminating 0 */
    return n;
}

int geoloc_json_write_string(FILE *fp, const char *s) {
    const unsigned char *p = (const unsigned char *)s;
    fputc('"', fp);
    while (*p) {
        size_t n = utf8_length(p);
        if (n == 0) {
            fprintf(fp, "\\u%04x", *p++); /* not UTF-8: its Latin-1 reading */
        } else if (n > 1) {
            fwrite(p, 1, n, fp);
            p += n;
        } else if (*p == '"' || *p == '\\') {
            fputc('\\', fp);
            fputc(*p++, fp);
        } else if (*p == '\n') {
            fputs("\\n", fp), p++;
        } else if (*p == '\t') {
            fputs("\\t", fp), p++;
        } else if (*p < 0x20 || *p == 0x7f) {
            fprintf(fp, "\\u%04x", *p++);
        } else {
            fputc(*p++, fp);
        }
    }
    fputc('"', fp);
    return ferror(fp) ? -1 : 0;
}

int geoloc_json_format_double(double v, char *out) {
    out[0] = '\0';
    if (!isfinite(v)) return -1;
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(out, 32, "%.*g", prec, v);
        if (strtod(out, NULL) == v) break;
    }
    return 0;
}

int geoloc_json_format_float(float v, char *out) {
    out[0] = '\0';
    if (!isfinite(v)) return -1;
    for (int prec = 1; prec <= 9; prec++) {
        snprintf(out, 32, "%.*g", prec, (double)v);
        if (strtof(out, NULL) == v) break;
    }
    return 0;
}

/* Writes a formatted number, or records the non-finite value as the error. */
static void number(geoloc_json *w, int rc, const char *text, double v) {
    if (failed(w)) return;
    if (rc != 0) {
        error_set(&w->err, GEOLOC_E_RANGE, "json: %g is not a number JSON can hold", v);
        return;
    }
    before_value(w);
    fputs(text, w->fp);
}

void geoloc_json_double(geoloc_json *w, double v) {
    char buf[32];
    number(w, geoloc_json_format_double(v, buf), buf, v);
}

void geoloc_json_float(geoloc_json *w, float v) {
    char buf[32];
    number(w, geoloc_json_format_float(v, buf), buf, (double)v);
}

void geoloc_json_int(geoloc_json *w, int64_t v) {
    char buf[32];
    snprintf(buf, sizeof buf, "%lld", (long long)v);
    number(w, 0, buf, 0);
}

void geoloc_json_null(geoloc_json *w) { number(w, 0, "null", 0); }

void geoloc_json_bool(geoloc_json *w, int v) { number(w, 0, v ? "true" : "false", 0); }

void geoloc_json_string(geoloc_json *w, const char *s) {
    if (!s) {
        geoloc_json_null(w);
        return;
    }
    if (failed(w)) return;
    before_value(w);
    geoloc_json_write_string(w->fp, s);
}

geoloc_status geoloc_json_finish(geoloc_json *w, geoloc_error *err) {
    if (!failed(w) && (w->depth != 0 || w->after_key))
        error_set(&w->err, GEOLOC_E_ARG, "json: %d container%s left open", w->depth, w->depth == 1 ? "" : "s");
    if (!failed(w)) {
        fputc('\n', w->fp);
        if (fflush(w->fp) != 0 || ferror(w->fp)) error_set(&w->err, GEOLOC_E_IO, "json: cannot write the output");
    }
    if (failed(w)) return error_set(err, w->err.status, "%s", w->err.message);
    return GEOLOC_OK;
}
