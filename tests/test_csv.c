/* CSV reader, exact number parsing and formatting, points loader. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "geoloc/points.h"
#include "io/csv.h"
#include "test_util.h"

static uint64_t rng_state = 42;
static uint64_t next_u64(void) {
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* csv_parse_double must agree bitwise with glibc's correctly rounded strtod. */
static void test_parse_double(void) {
    static const char *valid[] = {"0", "-0", "+1", "1.", ".5", "00012.5000", "39.28162046949048",
                                  "-107.94343695171831", "1e-05", "1E5", "179.99999999999999999",
                                  "9007199254740993", "0.1", "123456789012345678901234567890",
                                  "4.9e-324", "1e400", "90", "-180.000000"};
    for (size_t k = 0; k < sizeof valid / sizeof valid[0]; k++) {
        double got, want = strtod(valid[k], NULL);
        int rc = csv_parse_double(valid[k], strlen(valid[k]), &got);
        CHECK(rc == 0 && memcmp(&got, &want, sizeof got) == 0, "'%s': got %a want %a", valid[k], got, want);
    }
    static const char *invalid[] = {"", "-", "+", ".", "e5", "1e", "1e+", "nan", "inf", "0x10",
                                    " 1", "1 ", "1,5", "1.2.3", "--1", "1e5x"};
    for (size_t k = 0; k < sizeof invalid / sizeof invalid[0]; k++) {
        double got;
        CHECK(csv_parse_double(invalid[k], strlen(invalid[k]), &got) != 0, "'%s' accepted", invalid[k]);
    }
    /* a million random decimal strings of coordinate-like and extreme shapes */
    int mismatches = 0;
    for (int k = 0; k < 1000000; k++) {
        char buf[64];
        uint64_t r = next_u64();
        int digits = 1 + (int)(r % 20);
        int len = snprintf(buf, sizeof buf, "%s%.*f", (r >> 8) & 1 ? "-" : "", digits,
                           (double)(next_u64() % 1000000000000ULL) / 1e9 * (double)((r >> 16) % 200));
        if ((r >> 24) % 10 == 0) len += snprintf(buf + len, sizeof buf - (size_t)len, "e%d", (int)((r >> 32) % 40) - 20);
        double got, want = strtod(buf, NULL);
        if (csv_parse_double(buf, (size_t)len, &got) != 0 || memcmp(&got, &want, sizeof got) != 0) {
            if (mismatches++ < 5) fprintf(stderr, "'%s': got %a want %a\n", buf, got, want);
        }
    }
    CHECK(mismatches == 0, "%d random strings differ from strtod", mismatches);
}

/* csv_format_double gives the shortest round-trip text, Python-repr style. */
static void test_format_double(void) {
    static const struct { double v; const char *text; } cases[] = {
        {39.28162046949048, "39.28162046949048"}, {100.0, "100.0"}, {-0.0, "-0.0"},
        {1e-05, "1e-05"}, {0.1, "0.1"}, {-107.94343695171831, "-107.94343695171831"},
        {0.0001, "0.0001"}, {123456789.0, "123456789.0"}, {5e-324, "5e-324"},
        {1e-310, "1e-310"}, {2.2250738585072014e-308, "2.2250738585072014e-308"}};
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        char out[32];
        csv_format_double(cases[k].v, out);
        CHECK(!strcmp(out, cases[k].text), "%a: got '%s' want '%s'", cases[k].v, out, cases[k].text);
    }
    int bad = 0, longer = 0;
    for (int k = 0; k < 200000; k++) {
        double v = ((double)(next_u64() >> 11) / 9007199254740992.0 - 0.5) * 360;
        char out[32], digits[32], shorter[400];
        csv_format_double(v, out);
        if (strtod(out, NULL) != v) bad++;
        size_t nd = 0; /* significant digits written */
        for (const char *c = out; *c && *c != 'e'; c++)
            if (*c >= '0' && *c <= '9' && (nd || *c != '0')) digits[nd++] = *c;
        while (nd > 1 && digits[nd - 1] == '0') nd--;
        snprintf(shorter, sizeof shorter, "%.*g", (int)nd - 1, v);
        if (nd > 1 && strtod(shorter, NULL) == v) longer++;
    }
    CHECK(bad == 0, "%d values do not round-trip", bad);
    CHECK(longer == 0, "%d values written with more digits than needed", longer);
}

static void test_reader(void) {
    const char text[] = "a,\"b,1\",\"say \"\"hi\"\"\"\r\n\r\nx,,\"multi\nline\"\n,last";
    csv_reader *r = csv_open_buffer(text, sizeof text - 1, "mem.csv");
    csv_field f[8];
    size_t n;
    geoloc_error err;
    CHECK(csv_next_row(r, f, 8, &n, &err) == 1 && n == 3, "row 1: %zu fields", n);
    CHECK(csv_field_is(f[0], "a") && csv_field_is(f[1], "b,1") && csv_field_is(f[2], "say \"hi\""),
          "row 1 fields");
    CHECK(csv_line(r) == 1, "row 1 line %ld", csv_line(r));
    CHECK(csv_next_row(r, f, 8, &n, &err) == 1 && n == 1 && f[0].len == 0, "blank line");
    CHECK(csv_next_row(r, f, 8, &n, &err) == 1 && n == 3 && f[1].len == 0 &&
              csv_field_is(f[2], "multi\nline") && csv_line(r) == 3, "row 3");
    CHECK(csv_next_row(r, f, 8, &n, &err) == 1 && n == 2 && csv_field_is(f[1], "last") &&
              csv_line(r) == 5, "row 4 line %ld", csv_line(r));
    CHECK(csv_next_row(r, f, 8, &n, &err) == 0, "end");
    csv_close(r);

    const char bad[] = "a,\"open\n";
    r = csv_open_buffer(bad, sizeof bad - 1, "bad.csv");
    CHECK(csv_next_row(r, f, 8, &n, &err) == -1 && strstr(err.message, "bad.csv:1") &&
              strstr(err.message, "unterminated"), "unterminated quote: %s", err.message);
    csv_close(r);
}

static const char *write_temp(const char *text) {
    const char *path = test_temp_file("csv");
    test_write_text(path, text);
    return path;
}

/* The loader gives the same points, in order, with any thread count, with
 * and without quotes in the file. */
static void test_points(void) {
    size_t n = 300000, len = 0;
    char *text = malloc(n * 64 + 64);
    len += (size_t)sprintf(text, "IMG_ID,Latitude,LON\n");
    for (size_t k = 0; k < n; k++)
        len += (size_t)sprintf(text + len, "img%zu,%.6f,%.6f%s\n", k, (double)(k % 180000) / 1000 - 90,
                               (double)(k % 360000) / 1000 - 180, k % 1000 == 7 ? "\r" : "");
    const char *path = write_temp(text);
    geoloc_points *p1 = NULL, *p2 = NULL;
    geoloc_error err;
    geoloc_points_options o1 = {.with_ids = 1, .with_lines = 1, .threads = 1};
    geoloc_points_options o2 = {.with_ids = 1, .with_lines = 1, .threads = 7};
    CHECK(geoloc_points_read_csv(path, &o1, &p1, &err) == GEOLOC_OK, "%s", err.message);
    CHECK(geoloc_points_read_csv(path, &o2, &p2, &err) == GEOLOC_OK, "%s", err.message);
    if (p1 && p2) {
        CHECK(p1->n == n && p2->n == n, "n %zu %zu", p1->n, p2->n);
        int same = 1;
        for (size_t k = 0; k < n && same; k++)
            same = p1->lat[k] == p2->lat[k] && p1->lng[k] == p2->lng[k] &&
                   !strcmp(p1->id[k], p2->id[k]) && p2->line[k] == (long)k + 2;
        CHECK(same, "thread counts disagree");
        CHECK(!strcmp(p2->id[12345], "img12345") && p2->lat[12345] == -77.655, "row 12345: %s %.17g",
              p2->id[12345], p2->lat[12345]);
    }
    geoloc_points_free(p1);
    geoloc_points_free(p2);
    unlink(path);
    free(text);

    /* quoted ids go through the general reader */
    path = write_temp("id,lat,lng\n\"a,b\",1.5,2.5\n\"c\"\"d\",-3,4\n");
    CHECK(geoloc_points_read_csv(path, &o1, &p1, &err) == GEOLOC_OK && p1->n == 2 &&
              !strcmp(p1->id[0], "a,b") && !strcmp(p1->id[1], "c\"d") && p1->lng[1] == 4,
          "quoted ids");
    geoloc_points_free(p1);
    unlink(path);

    /* bad rows: message names file, line and field */
    static const struct { const char *text, *expect; } bad[] = {
        {"LAT,LON\n1,2\n91,0\n", ":3: LAT: 91 is outside [-90, 90]"},
        {"LAT,LON\n1,2\n0,-180.5\n", ":3: LON: -180.5 is outside [-180, 180]"},
        {"LAT,LON\n1,abc\n", ":2: LON: 'abc' is not a number"},
        {"LAT,LON\n,2\n", ":2: LAT: missing value"},
        {"LAT,LON\nnan,2\n", ":2: LAT: 'nan' is not a finite number"},
        {"LAT,LON\n1e999,2\n", ":2: LAT: 1e999 is outside [-90, 90]"},
        {"LAT,LON\n1\n", ":2: expected at least 2 fields, found 1"},
        {"x,y\n1,2\n", ":1: no latitude column"},
        {"", "empty file"},
        {"LAT,LON\n", "no valid rows"},
    };
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        path = write_temp(bad[k].text);
        p1 = NULL;
        geoloc_status st = geoloc_points_read_csv(path, &o1, &p1, &err);
        CHECK(st != GEOLOC_OK && strstr(err.message, path) && strstr(err.message, bad[k].expect),
              "case %zu: got '%s', want '%s'", k, st == GEOLOC_OK ? "ok" : err.message, bad[k].expect);
        geoloc_points_free(p1);
        unlink(path);
    }
    /* skip_invalid counts and goes on */
    path = write_temp("LAT,LON\n1,2\n91,0\n\n3,4\nx,1\n");
    geoloc_points_options skip = {.skip_invalid = 1};
    CHECK(geoloc_points_read_csv(path, &skip, &p1, &err) == GEOLOC_OK && p1->n == 2 &&
              p1->n_skipped == 2 && p1->lat[1] == 3, "skip_invalid");
    geoloc_points_free(p1);
    unlink(path);
}

/* Inputs that are not regular files are refused by name at once, never
 * waited on: a FIFO without a writer used to block open() forever (the
 * alarm turns a hang into a failure). */
static void test_non_regular_inputs(void) {
    char dir[] = "/tmp/geoloc_test_fifo_XXXXXX";
    test_make_temp_dir(dir);
    char fifo[64];
    snprintf(fifo, sizeof fifo, "%s/points.csv", dir);
    CHECK(mkfifo(fifo, 0600) == 0, "mkfifo %s", fifo);
    static const struct { const char *path, *kind; } inputs[] = {
        {NULL, "a FIFO"}, {"/tmp", "a directory"}, {"/dev/null", "a character device"}};
    alarm(20);
    for (size_t k = 0; k < sizeof inputs / sizeof inputs[0]; k++) {
        const char *path = inputs[k].path ? inputs[k].path : fifo;
        char want[128];
        snprintf(want, sizeof want, "%s: not a regular file (%s)", path, inputs[k].kind);
        geoloc_error err = {0};
        csv_reader *r = csv_open(path, &err);
        CHECK(!r && err.status == GEOLOC_E_IO && strstr(err.message, want), "csv_open %s: '%s'", path,
              r ? "opened" : err.message);
        csv_close(r);
        geoloc_points *p = NULL;
        geoloc_points_options o = {.threads = 1};
        geoloc_status st = geoloc_points_read_csv(path, &o, &p, &err);
        CHECK(st == GEOLOC_E_IO && strstr(err.message, want), "points from %s: '%s'", path,
              st == GEOLOC_OK ? "read" : err.message);
        geoloc_points_free(p);
    }
    alarm(0);
    unlink(fifo);
    rmdir(dir);
}

int main(void) {
    test_non_regular_inputs();
    test_parse_double();
    test_format_double();
    test_reader();
    test_points();
    TEST_END();
}
