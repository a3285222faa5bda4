/* libFuzzer target for the CSV reader (src/io/csv.c).
 *
 * The input is read as a CSV buffer with several max_fields values; every
 * stored field goes through csv_parse_double and csv_parse_uint. Checked:
 * - fields lie inside the input buffer, or (fields unescaped from "")
 *   inside one region no larger than the input (the reader's unescape area),
 *   and such fields contain a quote; no slot at or past max_fields is written;
 * - each call makes progress (the offset grows, stays <= size), line numbers
 *   of successive rows strictly increase and never exceed 1 + newlines;
 *   after the end, the reader keeps returning 0;
 * - errors are parse errors whose message starts with "NAME:LINE:";
 * - the sequence of (result, n_fields, line, offset) and the first field do
 *   not depend on max_fields;
 * - csv_parse_double accepts exactly [+-](digits[.digits*]|.digits)[(e|E)[+-]digits]
 *   and returns the same double as strtod; csv_parse_uint accepts exactly
 *   digit strings below 2^63 and agrees with strtoull.
 *
 * Build (from the project root):
 *   clang -std=c17 -g -O1 -fsanitize=fuzzer,address,undefined -ffp-contract=off \
 *     -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE -Iinclude -Isrc \
 *     fuzz/fuzz_csv.c src/io/csv.c src/core/status.c -o fuzz_csv
 *   ./fuzz_csv -max_total_time=30 CORPUS_DIR */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"
#include "io/csv.h"

#define NAME "fuzz.csv"
#define SLOTS 70


static int is_digit(char c) { return c >= '0' && c <= '9'; }

/* 1 if [p, p+len) is a number csv_parse_double must accept. */
static int decimal_grammar(const char *p, size_t len) {
    size_t i = 0, int_digits = 0, frac_digits = 0;
    if (i < len && (p[i] == '+' || p[i] == '-')) i++;
    while (i < len && is_digit(p[i])) i++, int_digits++;
    if (i < len && p[i] == '.') {
        i++;
        while (i < len && is_digit(p[i])) i++, frac_digits++;
    }
    if (int_digits + frac_digits == 0) return 0;
    if (i < len && (p[i] == 'e' || p[i] == 'E')) {
        i++;
        if (i < len && (p[i] == '+' || p[i] == '-')) i++;
        size_t exp_digits = 0;
        while (i < len && is_digit(p[i])) i++, exp_digits++;
        if (exp_digits == 0) return 0;
    }
    return i == len;
}

static void check_numbers(const char *p, size_t len) {
    char *z = malloc(len + 1);
    REQUIRE(z != NULL);
    if (len) memcpy(z, p, len);
    z[len] = '\0';

    double x;
    int grammar = decimal_grammar(p, len);
    int rc = csv_parse_double(p, len, &x);
    REQUIRE(rc == 0 || rc == -1);
    if (rc == 0) {
        REQUIRE(grammar);
        char *end;
        double y = strtod(z, &end);
        REQUIRE(end == z + len);
        REQUIRE(memcmp(&x, &y, sizeof x) == 0);
    } else {
        REQUIRE(!grammar);
    }

    unsigned long long u;
    int digits_only = len > 0;
    for (size_t k = 0; k < len; k++) digits_only &= is_digit(p[k]);
    rc = csv_parse_uint(p, len, &u);
    REQUIRE(rc == 0 || rc == -1);
    if (digits_only) {
        errno = 0;
        unsigned long long v = strtoull(z, NULL, 10);
        int fits = errno != ERANGE && v < (1ull << 63);
        REQUIRE(rc == (fits ? 0 : -1));
        if (fits) REQUIRE(u == v);
    } else {
        REQUIRE(rc == -1);
    }
    free(z);
}

typedef struct {
    uint64_t rows; /* hash of (rc, n_fields, line, offset) per call */
    uint64_t first;      /* hash of the first field of each row */
} run_trace;

static uint64_t mix(uint64_t h, uint64_t v) {
    h ^= v + 0x9E3779B97F4A7C15u + (h << 6) + (h >> 2);
    return h * 0xFF51AFD7ED558CCDu;
}

static void run(const char *buf, size_t size, size_t max_fields, int check_fields,
                run_trace *trace) {
    trace->rows = trace->first = 0;
    csv_reader *r = csv_open_buffer(buf, size, NAME);
    if (!r) return; /* out of memory */
    size_t dsize;
    REQUIRE(csv_data(r, &dsize) == buf && dsize == size);
    REQUIRE(strcmp(csv_name(r), NAME) == 0);
    REQUIRE(csv_offset(r) == 0);

    long newlines = 0;
    for (size_t k = 0; k < size; k++) newlines += buf[k] == '\n';

    static const csv_field canary = {(const char *)&canary, 0x5eed};
    csv_field fields[SLOTS];
    long prev_line = 0;
    size_t prev_off = 0;
    const char *ue_lo = NULL, *ue_hi = NULL;
    for (int calls = 0;; calls++) {
        for (size_t k = 0; k < SLOTS; k++) fields[k] = canary;
        size_t nf = (size_t)-1;
        geoloc_error err;
        memset(&err, 0, sizeof err);
        int rc = csv_next_row(r, fields, max_fields, &nf, &err);
        size_t off = csv_offset(r);
        REQUIRE(off <= size);
        for (size_t k = max_fields; k < SLOTS; k++)
            REQUIRE(fields[k].p == canary.p && fields[k].len == canary.len);
        if (rc == 0) {
            REQUIRE(off == size);
            REQUIRE(calls > 0 || size == 0);
            trace->rows = mix(trace->rows, 0);
            break;
        }
        REQUIRE(rc == 1 || rc == -1);
        REQUIRE(off > prev_off);
        prev_off = off;
        long line = csv_line(r);
        REQUIRE(line > prev_line && line >= 1 && line <= 1 + newlines);
        prev_line = line;
        if (rc < 0) {
            char prefix[64];
            snprintf(prefix, sizeof prefix, "%s:%ld:", NAME, line);
            REQUIRE(err.status == GEOLOC_E_PARSE);
            REQUIRE(strncmp(err.message, prefix, strlen(prefix)) == 0);
            trace->rows = mix(mix(mix(trace->rows, 2), (uint64_t)line), off);
            continue;
        }
        REQUIRE(nf >= 1 && nf != (size_t)-1);
        trace->rows = mix(mix(mix(mix(trace->rows, 1), nf), (uint64_t)line), off);
        size_t stored = nf < max_fields ? nf : max_fields;
        for (size_t k = 0; k < stored; k++) {
            csv_field f = fields[k];
            REQUIRE(f.len <= size);
            if (f.len > 0) REQUIRE(f.p != NULL);
            if (f.p >= buf && f.p <= buf + size) {
                REQUIRE(f.len <= (size_t)(buf + size - f.p));
            } else {
                /* Unescaped copy: it held at least one "" pair. */
                REQUIRE(f.len > 0 && memchr(f.p, '"', f.len) != NULL);
                if (!ue_lo || f.p < ue_lo) ue_lo = f.p;
                if (!ue_hi || f.p + f.len > ue_hi) ue_hi = f.p + f.len;
                REQUIRE((size_t)(ue_hi - ue_lo) <= size);
            }
            if (check_fields) check_numbers(f.p, f.len);
        }
        if (stored > 0) {
            uint64_t h = fields[0].len;
            for (size_t k = 0; k < fields[0].len; k++) h = mix(h, (unsigned char)fields[0].p[k]);
            trace->first = mix(trace->first, h);
        }
    }
    size_t nf = 0;
    REQUIRE(csv_next_row(r, fields, max_fields, &nf, NULL) == 0);
    REQUIRE(csv_offset(r) == size);
    csv_close(r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    /* An exact-size copy, so that reading past the end is caught. */
    char *buf = malloc(size ? size : 1);
    if (!buf) return 0;
    if (size) memcpy(buf, data, size);
    static const size_t max_fields[] = {64, 0, 1, 3};
    run_trace first, t;
    run(buf, size, max_fields[0], 1, &first);
    for (size_t i = 1; i < sizeof max_fields / sizeof max_fields[0]; i++) {
        run(buf, size, max_fields[i], 0, &t);
        REQUIRE(t.rows == first.rows);
        if (max_fields[i] > 0) REQUIRE(t.first == first.first);
    }
    /* Numbers directly on the whole input too (no CSV structure). */
    check_numbers(buf, size);
    free(buf);
    return 0;
}
