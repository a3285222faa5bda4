/* Manifests: round trips (every column, quoting, extra columns, the real
 * im2gps3k_dev.csv byte for byte), column names found by name, and bad
 * manifests failing with file:line: field messages or skipped and counted.
 * Args: SHARED_DATA TEST_DATA. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dataset/manifest_internal.h"
#include "geoloc/dataset.h"
#include "io/csv.h"
#include "test_util.h"

static char tmp_dir[] = "/tmp/test_manifest_XXXXXX";

static int same_prob(double a, double b) { return (isnan(a) && isnan(b)) || a == b; }

static int same_manifest(const geoloc_manifest *a, const geoloc_manifest *b) {
    if (a->n != b->n || a->columns != b->columns || a->n_extra != b->n_extra) return 0;
    for (size_t j = 0; j < a->n_extra; j++)
        if (strcmp(a->extra_name[j], b->extra_name[j])) return 0;
    for (size_t k = 0; k < a->n; k++) {
        const geoloc_manifest_row *x = &a->row[k], *y = &b->row[k];
        if (strcmp(x->id, y->id) || strcmp(x->author, y->author) || x->lat != y->lat ||
            x->lng != y->lng)
            return 0;
        for (int c = 0; c < 3; c++)
            if (x->label[c] != y->label[c] || !same_prob(x->prob[c], y->prob[c])) return 0;
        for (size_t j = 0; j < a->n_extra; j++)
            if (strcmp(a->extra[k * a->n_extra + j], b->extra[k * b->n_extra + j])) return 0;
    }
    return 1;
}

static void test_round_trip(void) {
    const char *text =
        "trip,img_id,Latitude,longitude,Author,S3_Label,S16_Label,S365_Label,Prob_indoor,"
        "Prob_natural,Prob_urban,\"note, with comma\"\r\n"
        "t1,a/b/1.jpg,48.8584,2.2945,\"Smith, J.\",2,12,353,0.1,0.2,0.7,\"said \"\"hi\"\"\"\r\n"
        "t1,a/2.jpg,-33.8568,151.2153,,0,0,0,1e-05,0.5,0.49999,\r\n"
        "\r\n"
        "t2,3.jpg,90,-180,x@N00,,,,,,,plain\r\n";
    char path[256], path2[256];
    snprintf(path, sizeof path, "%s/rt.csv", tmp_dir);
    snprintf(path2, sizeof path2, "%s/rt2.csv", tmp_dir);
    geoloc_manifest *m, *m2, *m3;
    geoloc_error err;
    geoloc_status st = geoloc_manifest_read_buffer(text, strlen(text), "rt.csv", NULL, &m, &err);
    CHECK(st == GEOLOC_OK, "read: %s", err.message);
    if (st != GEOLOC_OK) return;
    CHECK(m->n == 3, "rows %zu (blank line ignored)", m->n);
    CHECK(m->columns == (GEOLOC_COL_AUTHOR | GEOLOC_COL_S3 | GEOLOC_COL_S16 | GEOLOC_COL_S365 |
                         GEOLOC_COL_PROB_INDOOR | GEOLOC_COL_PROB_NATURAL | GEOLOC_COL_PROB_URBAN),
          "columns %#x", m->columns);
    CHECK(m->n_extra == 2 && !strcmp(m->extra_name[0], "trip") &&
              !strcmp(m->extra_name[1], "note, with comma"),
          "extra columns");
    CHECK(!strcmp(m->row[0].id, "a/b/1.jpg") && !strcmp(m->row[0].author, "Smith, J.") &&
              m->row[0].lat == 48.8584 && m->row[0].lng == 2.2945 && m->row[0].label[2] == 353 &&
              m->row[0].prob[2] == 0.7 && m->row[0].line == 2,
          "row 0");
    CHECK(!strcmp(m->extra[1], "said \"hi\""), "quoted extra '%s'", m->extra[1]);
    CHECK(m->row[1].author[0] == '\0' && m->row[1].prob[0] == 1e-05, "row 1");
    CHECK(m->row[2].label[0] == -1 && isnan(m->row[2].prob[1]) && m->row[2].line == 5,
          "empty optional fields are absent (line %ld)", m->row[2].line);
    st = geoloc_manifest_write(m, path, &err);
    CHECK(st == GEOLOC_OK, "write: %s", err.message);
    size_t size;
    char *written = test_read_text(path, &size);
    const char *expect =
        "IMG_ID,AUTHOR,LAT,LON,S3_Label,S16_Label,S365_Label,Prob_indoor,Prob_natural,Prob_urban,"
        "trip,\"note, with comma\"\n"
        "a/b/1.jpg,\"Smith, J.\",48.8584,2.2945,2,12,353,0.1,0.2,0.7,t1,\"said \"\"hi\"\"\"\n"
        "a/2.jpg,,-33.8568,151.2153,0,0,0,1e-05,0.5,0.49999,t1,\n"
        "3.jpg,x@N00,90.0,-180.0,,,,,,,t2,plain\n";
    CHECK(written && !strcmp(written, expect), "written text:\n%s", written ? written : "(none)");
    st = geoloc_manifest_read(path, NULL, &m2, &err);
    CHECK(st == GEOLOC_OK && same_manifest(m, m2), "read back: %s", err.message);
    if (st == GEOLOC_OK) {
        CHECK(geoloc_manifest_write(m2, path2, &err) == GEOLOC_OK, "write 2: %s", err.message);
        size_t size2;
        char *again = test_read_text(path2, &size2);
        CHECK(again && size2 == size && !memcmp(again, written, size), "second write identical");
        free(again);
        geoloc_manifest_free(m2);
    }
    /* subsets, in the order given */
    size_t rows[2] = {2, 0};
    CHECK(geoloc_manifest_write_rows(m, rows, 2, path2, &err) == GEOLOC_OK, "%s", err.message);
    if (geoloc_manifest_read(path2, NULL, &m3, &err) == GEOLOC_OK) {
        CHECK(m3->n == 2 && !strcmp(m3->row[0].id, "3.jpg") && !strcmp(m3->row[1].id, "a/b/1.jpg"),
              "subset rows");
        geoloc_manifest_free(m3);
    } else {
        CHECK(0, "subset read: %s", err.message);
    }
    size_t bad_row = 7;
    CHECK(geoloc_manifest_write_rows(m, &bad_row, 1, path2, &err) == GEOLOC_E_ARG,
          "missing row refused");
    free(written);
    geoloc_manifest_free(m);
}

static void test_build(void) {
    geoloc_manifest *m;
    geoloc_error err;
    const char *extra_names[] = {"camera"};
    CHECK(geoloc_manifest_new(GEOLOC_COL_AUTHOR | GEOLOC_COL_S3, extra_names, 1, &m, &err) ==
              GEOLOC_OK,
          "new: %s", err.message);
    char id[32];
    for (int k = 0; k < 3000; k++) { /* several arena blocks and row reallocations */
        snprintf(id, sizeof id, "dir%d/photo%d.jpg", k % 7, k);
        geoloc_manifest_row row = {id, k * 0.01 - 15, -k * 0.05, k % 2 ? "someone" : NULL,
                                   {k % 3, -1, -1}, {NAN, NAN, NAN}, 0};
        const char *extra[] = {k % 5 ? "cam" : NULL};
        CHECK(geoloc_manifest_append(m, &row, extra, &err) == GEOLOC_OK, "append: %s",
              err.message);
    }
    CHECK(m->n == 3000 && !strcmp(m->row[2999].id, "dir3/photo2999.jpg") &&
              !strcmp(m->row[1].author, "someone") && !strcmp(m->row[0].author, "") &&
              !strcmp(m->extra[1], "cam") && !strcmp(m->extra[5], ""),
          "appended rows kept their values");
    CHECK(geoloc_manifest_extra_column(m, "CAMERA") == 0 &&
              geoloc_manifest_extra_column(m, "lens") == -1,
          "extra column lookup");
    char path[256];
    snprintf(path, sizeof path, "%s/built.csv", tmp_dir);
    geoloc_manifest *back;
    CHECK(geoloc_manifest_write(m, path, &err) == GEOLOC_OK, "%s", err.message);
    CHECK(geoloc_manifest_read(path, NULL, &back, &err) == GEOLOC_OK && same_manifest(m, back),
          "built manifest round trip: %s", err.message);
    geoloc_manifest_free(back);
    geoloc_manifest_free(m);
}

typedef struct {
    const char *what, *text, *expect;
    geoloc_status status;
} bad_case;

static void test_bad(void) {
    static const bad_case cases[] = {
        {"missing coordinate", "IMG_ID,LAT,LON\na.jpg,1,2\nb.jpg,,3\n", "bad.csv:3: LAT: missing value", GEOLOC_E_PARSE},
        {"latitude range", "IMG_ID,LAT,LON\na.jpg,91,2\n", "bad.csv:2: LAT: 91 is outside [-90, 90]", GEOLOC_E_PARSE},
        {"longitude text", "IMG_ID,LAT,LON\na.jpg,1,abc\n", "bad.csv:2: LON: 'abc' is not a number", GEOLOC_E_PARSE},
        {"nan", "IMG_ID,lat,lon\na.jpg,nan,2\n", "bad.csv:2: lat: 'nan' is not a finite number", GEOLOC_E_PARSE},
        {"field count", "IMG_ID,LAT,LON\na.jpg,1,2\nb.jpg,1\n", "bad.csv:3: expected 3 fields (as in the header), found 2", GEOLOC_E_PARSE},
        {"empty id", "IMG_ID,LAT,LON\n,1,2\n", "bad.csv:2: IMG_ID: missing value", GEOLOC_E_PARSE},
        {"absolute id", "IMG_ID,LAT,LON\n/etc/passwd,1,2\n", "bad.csv:2: IMG_ID: '/etc/passwd' is an absolute path", GEOLOC_E_PARSE},
        {"dotdot id", "IMG_ID,LAT,LON\na/../../x.jpg,1,2\n", "bad.csv:2: IMG_ID: 'a/../../x.jpg' leaves the image root", GEOLOC_E_PARSE},
        {"S3 range", "IMG_ID,LAT,LON,S3_Label\na.jpg,1,2,3\n", "bad.csv:2: S3_Label: 3 is outside [0, 2]", GEOLOC_E_PARSE},
        {"S365 negative", "IMG_ID,LAT,LON,S365_Label\na.jpg,1,2,-1\n", "bad.csv:2: S365_Label: '-1' is not a non-negative integer", GEOLOC_E_PARSE},
        {"probability", "IMG_ID,LAT,LON,Prob_urban\na.jpg,1,2,1.5\n", "bad.csv:2: Prob_urban: 1.5 is outside [0, 1]", GEOLOC_E_PARSE},
        {"no LAT column", "IMG_ID,LON\na.jpg,2\n", "bad.csv:1: no LAT column", GEOLOC_E_PARSE},
        {"no IMG_ID column", "path,LAT,LON\na.jpg,1,2\n", "bad.csv:1: no IMG_ID column", GEOLOC_E_PARSE},
        {"empty file", "", "bad.csv: empty file", GEOLOC_E_EMPTY},
        {"unterminated quote", "IMG_ID,LAT,LON\n\"a.jpg,1,2\n", "bad.csv:2: field 1: unterminated quote", GEOLOC_E_PARSE},
        {"NUL byte", "IMG_ID,LAT,LON\na\0b.jpg,1,2\n", "bad.csv:2: IMG_ID: contains a NUL byte", GEOLOC_E_PARSE},
        {"NUL in header", "IMG_ID,LAT,LON,x\0y\na.jpg,1,2,3\n", "bad.csv:1: column 4: name contains a NUL byte", GEOLOC_E_PARSE},
    };
    char path[256];
    snprintf(path, sizeof path, "%s/bad.csv", tmp_dir);
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        const bad_case *c = &cases[k];
        FILE *f = fopen(path, "wb");
        size_t len = strlen(c->text);
        if (!strcmp(c->what, "NUL byte")) len = sizeof "IMG_ID,LAT,LON\na\0b.jpg,1,2\n" - 1;
        if (!strcmp(c->what, "NUL in header")) len = sizeof "IMG_ID,LAT,LON,x\0y\na.jpg,1,2,3\n" - 1;
        fwrite(c->text, 1, len, f);
        fclose(f);
        geoloc_manifest *m = NULL;
        geoloc_error err = {0};
        geoloc_status st = geoloc_manifest_read(path, NULL, &m, &err);
        CHECK(st == c->status && m == NULL && strstr(err.message, c->expect) &&
                  strstr(err.message, path),
              "%s: status %d, message '%s', expected '%s'", c->what, st, err.message, c->expect);
        geoloc_manifest_free(m);
    }
    geoloc_manifest *m;
    geoloc_error err;
    CHECK(geoloc_manifest_read("/nonexistent/x.csv", NULL, &m, &err) == GEOLOC_E_IO &&
              strstr(err.message, "/nonexistent/x.csv"),
          "missing file: %s", err.message);
    test_write_text(path, "\xEF\xBB\xBFIMG_ID,LAT,LON\r\nx.jpg,1,2\r\n");
    CHECK(geoloc_manifest_read(path, NULL, &m, &err) == GEOLOC_OK && m->n == 1 &&
              !strcmp(m->row[0].id, "x.jpg"),
          "a UTF-8 byte order mark before the header is ignored: %s", err.message);
    geoloc_manifest_free(m);
    test_write_text(path, "IMG_ID,LAT,LON\n");
    CHECK(geoloc_manifest_read(path, NULL, &m, &err) == GEOLOC_OK && m->n == 0,
          "header only is an empty manifest");
    geoloc_manifest_free(m);
}

typedef struct {
    int calls;
    char last[512];
} skips;

static void on_skip(void *ctx, const char *message) {
    skips *s = ctx;
    s->calls++;
    snprintf(s->last, sizeof s->last, "%s", message);
}

static void test_skip_invalid(void) {
    const char *text = "IMG_ID,LAT,LON\na.jpg,1,2\nb.jpg,100,2\nc.jpg,1\n\"d.jpg,1,2\n";
    skips s = {0};
    geoloc_manifest_options opt = {1, on_skip, &s, 0};
    geoloc_manifest *m;
    geoloc_error err;
    geoloc_status st = geoloc_manifest_read_buffer(text, strlen(text), "skip.csv", &opt, &m, &err);
    CHECK(st == GEOLOC_OK, "%s", err.message);
    if (st != GEOLOC_OK) return;
    CHECK(m->n == 1 && m->n_skipped == 3 && s.calls == 3, "kept %zu skipped %zu calls %d", m->n,
          m->n_skipped, s.calls);
    CHECK(strstr(s.last, "skip.csv:5: field 1: unterminated quote") != NULL, "last: %s", s.last);
    geoloc_manifest_free(m);
}

/* The real GeoEstimation-style meta file reads and writes back byte for byte. */
static void test_real(const char *shared) {
    char path[1024], out[256];
    snprintf(path, sizeof path, "%s/im2gps3k-dev/im2gps3k_dev.csv", shared);
    if (access(path, R_OK) != 0) {
        printf("SKIP part: %s not found\n", path);
        return;
    }
    snprintf(out, sizeof out, "%s/im2gps.csv", tmp_dir);
    geoloc_manifest *m;
    geoloc_error err;
    geoloc_status st = geoloc_manifest_read(path, NULL, &m, &err);
    CHECK(st == GEOLOC_OK, "%s", err.message);
    if (st != GEOLOC_OK) return;
    CHECK(m->n == 1997 && (m->columns & GEOLOC_COL_AUTHOR) && m->n_extra == 0, "rows %zu", m->n);
    CHECK(geoloc_manifest_write(m, out, &err) == GEOLOC_OK, "%s", err.message);
    size_t a, b;
    char *orig = test_read_text(path, &a), *copy = test_read_text(out, &b);
    CHECK(orig && copy && a == b && !memcmp(orig, copy, a), "im2gps3k_dev.csv written back byte for byte");
    free(orig);
    free(copy);
    geoloc_manifest_free(m);
}

/* The writer's fast number formatting gives exactly csv_format_double's text. */
static void test_format(void) {
    uint64_t x = 0x9E3779B97F4A7C15ull;
    size_t differ = 0, n = 0;
    for (int k = 0; k < 200000; k++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        double u = (double)(x >> 11) / 9007199254740992.0, v;
        switch (k % 6) {
        case 0: v = round((u * 180 - 90) * 1e6) / 1e6; break;   /* 6-decimal latitudes */
        case 1: v = round((u * 360 - 180) * 1e4) / 1e4; break;  /* 4-decimal longitudes */
        case 2: v = u; break;                                   /* probabilities */
        case 3: v = u * 1e-5; break;                            /* tiny ones (exponent form) */
        case 4: v = round(u * 200 - 100); break;                /* whole numbers ("90.0") */
        default: { uint64_t bits = x; memcpy(&v, &bits, 8); if (!isfinite(v)) v = 1.5; }
        }
        char a[32], b[32];
        manifest_format_double(v, a);
        csv_format_double(v, b);
        n++;
        if (strcmp(a, b) && differ++ < 5) fprintf(stderr, "%.17g: '%s' vs '%s'\n", v, a, b);
    }
    CHECK(differ == 0, "fast formatting differs for %zu of %zu values", differ, n);
}

int main(int argc, char **argv) {
    test_make_temp_dir(tmp_dir);
    test_format();
    test_round_trip();
    test_build();
    test_bad();
    test_skip_invalid();
    CHECK(!strcmp(geoloc_s3_label_name(0), "indoor") && !strcmp(geoloc_s3_label_name(1), "natural") &&
              !strcmp(geoloc_s3_label_name(2), "urban") && !geoloc_s3_label_name(3) && !geoloc_s3_label_name(-1),
          "S3 label names as GeoEstimation defines them");
    test_real(argc > 1 ? argv[1] : "../shared/data");
    test_remove_tree(tmp_dir);
    TEST_END();
}
