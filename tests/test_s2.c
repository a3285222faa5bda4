/* test_s2: geoloc's S2 cells against reference vectors computed by Google's
 * s2geometry (tests/data/s2_vectors.csv, written by tools/gen_s2_vectors),
 * bit for bit, and the properties of the cell hierarchy. Needs no libs2
 * (tests/s2/libs2_compare.cpp compares with it directly when present).
 * argv[2]: the test data folder. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "geoloc/s2.h"
#include "test_util.h"

#define N_FIELDS 15

static int same_double(double a, double b) { return memcmp(&a, &b, sizeof a) == 0; }

static int is_token(geoloc_cell cell, const char *token) {
    char buf[GEOLOC_S2_TOKEN_SIZE];
    geoloc_s2_to_token(cell, buf);
    return strcmp(buf, token) == 0;
}

/* Parses a whole field as a double; 0 on failure. */
static int parse_double(const char *s, double *out) {
    char *end;
    if (*s == '\0') return 0;
    *out = strtod(s, &end);
    return *end == '\0';
}

/* Splits line (modified in place) at commas; returns the field count. */
static int split(char *line, char **fields, int max) {
    int n = 0;
    line[strcspn(line, "\r\n")] = '\0';
    for (char *p = line;; p++) {
        if (n < max) fields[n] = p;
        n++;
        p = strchr(p, ',');
        if (p == NULL) break;
        *p = '\0';
    }
    return n;
}

/* Parent, children, ranges, neighbours and tokens of one valid cell agree
 * with each other. */
static void check_properties(geoloc_cell cell) {
    char tok[GEOLOC_S2_TOKEN_SIZE], upper[GEOLOC_S2_TOKEN_SIZE];
    geoloc_cell back = 0;
    int level = geoloc_s2_level(cell);
    CHECK(geoloc_s2_is_valid(cell), "0x%016llx", (unsigned long long)cell);
    CHECK(level >= 0 && level <= 30 && geoloc_s2_face(cell) >= 0 && geoloc_s2_face(cell) < 6, "0x%016llx",
          (unsigned long long)cell);

    size_t len = geoloc_s2_to_token(cell, tok);
    CHECK(len >= 1 && len <= 16 && len == strlen(tok) && tok[len - 1] != '0', "token %s", tok);
    CHECK(geoloc_s2_from_token(tok, len, &back) == GEOLOC_OK && back == cell, "token %s round trip", tok);
    for (size_t k = 0; k <= len; k++) upper[k] = (tok[k] >= 'a' && tok[k] <= 'f') ? (char)(tok[k] - 32) : tok[k];
    back = 0;
    CHECK(geoloc_s2_from_token(upper, len, &back) == GEOLOC_OK && back == cell, "token %s", upper);

    geoloc_cell min = geoloc_s2_range_min(cell), max = geoloc_s2_range_max(cell);
    CHECK(min <= cell && cell <= max && geoloc_s2_level(min) == 30 && geoloc_s2_level(max) == 30 &&
              geoloc_s2_contains(cell, min) && geoloc_s2_contains(cell, max) && geoloc_s2_contains(cell, cell),
          "range of %s", tok);
    CHECK(geoloc_s2_parent(cell, level) == cell && geoloc_s2_parent(min, level) == cell &&
              geoloc_s2_parent(max, level) == cell,
          "parent of the range of %s", tok);
    for (int l = 0; l < level; l++) {
        geoloc_cell p = geoloc_s2_parent(cell, l);
        CHECK(geoloc_s2_level(p) == l && geoloc_s2_contains(p, cell) && !geoloc_s2_contains(cell, p) &&
                  geoloc_s2_face(p) == geoloc_s2_face(cell),
              "parent(%d) of %s", l, tok);
    }
    CHECK(geoloc_s2_child_begin(cell, 30) == min && geoloc_s2_prev(geoloc_s2_child_end(cell, 30)) == max,
          "leaf children of %s", tok);
    if (level < 30) {
        geoloc_cell child[4];
        for (int k = 0; k < 4; k++) {
            child[k] = geoloc_s2_child(cell, k);
            CHECK(geoloc_s2_level(child[k]) == level + 1 && geoloc_s2_parent(child[k], level) == cell &&
                      geoloc_s2_contains(cell, child[k]) && !geoloc_s2_contains(child[k], cell),
                  "child(%d) of %s", k, tok);
            if (k > 0)
                CHECK(geoloc_s2_next(child[k - 1]) == child[k] && geoloc_s2_prev(child[k]) == child[k - 1] &&
                          geoloc_s2_range_max(child[k - 1]) + 2 == geoloc_s2_range_min(child[k]),
                      "children %d, %d of %s", k - 1, k, tok);
        }
        CHECK(geoloc_s2_child_begin(cell, level + 1) == child[0] &&
                  geoloc_s2_child_end(cell, level + 1) == geoloc_s2_next(child[3]) &&
                  geoloc_s2_range_min(child[0]) == min && geoloc_s2_range_max(child[3]) == max,
              "child range of %s", tok);
    }
    geoloc_cell next = geoloc_s2_next(cell);
    CHECK(geoloc_s2_prev(next) == cell && next > max, "next of %s", tok);
    if (geoloc_s2_is_valid(next))
        CHECK(geoloc_s2_level(next) == level && !geoloc_s2_contains(cell, next) && !geoloc_s2_contains(next, cell),
              "next of %s", tok);

    /* the center lies inside the cell */
    double lat, lng;
    geoloc_s2_center(cell, &lat, &lng);
    CHECK(geoloc_s2_parent(geoloc_s2_from_latlng(lat, lng), level) == cell, "center of %s: %.17g,%.17g", tok, lat,
          lng);
    for (int k = 0; k < 4; k++) {
        geoloc_s2_vertex(cell, k, &lat, &lng);
        CHECK(fabs(lat) <= 90 && fabs(lng) <= 180, "vertex %d of %s: %.17g,%.17g", k, tok, lat, lng);
    }
}

/* Compares a computed lat/lng pair with two fields of the file, bitwise. */
static int same_latlng(double lat, double lng, const char *flat, const char *flng) {
    double rlat, rlng;
    return parse_double(flat, &rlat) && parse_double(flng, &rlng) && same_double(lat, rlat) &&
           same_double(lng, rlng);
}

static void check_vectors(const char *dir) {
    char path[4096];
    snprintf(path, sizeof path, "%s/s2_vectors.csv", dir);
    FILE *f = fopen(path, "r");
    CHECK(f != NULL, "cannot open %s", path);
    if (f == NULL) return;
    char *line = NULL;
    size_t cap = 0;
    long line_no = 0, rows = 0, geometry_rows = 0, failures = 0;
    while (getline(&line, &cap, f) >= 0) {
        line_no++;
        if (line[0] == '#' || strncmp(line, "lat,", 4) == 0) continue;
        char *fld[N_FIELDS];
        int n = split(line, fld, N_FIELDS);
        CHECK(n == N_FIELDS, "%s:%ld: %d fields", path, line_no, n);
        if (n != N_FIELDS) continue;
        rows++;
        double lat, lng;
        int ok = parse_double(fld[0], &lat) && parse_double(fld[1], &lng);
        CHECK(ok, "%s:%ld: bad point", path, line_no);
        if (!ok) continue;
        int level = atoi(fld[3]);
        int before = test_failed;

        geoloc_cell leaf = geoloc_s2_from_latlng(lat, lng);
        CHECK(is_token(leaf, fld[2]), "%s:%ld: leaf of %.17g,%.17g (%a,%a) is 0x%016llx, libs2 says %s", path,
              line_no, lat, lng, lat, lng, (unsigned long long)leaf, fld[2]);
        geoloc_cell cell = geoloc_s2_from_latlng_level(lat, lng, level);
        CHECK(is_token(cell, fld[4]) && cell == geoloc_s2_parent(leaf, level),
              "%s:%ld: level %d cell of %.17g,%.17g is 0x%016llx, libs2 says %s", path, line_no, level, lat, lng,
              (unsigned long long)cell, fld[4]);
        geoloc_cell parsed = 0;
        CHECK(geoloc_s2_from_token(fld[4], strlen(fld[4]), &parsed) == GEOLOC_OK && parsed == cell,
              "%s:%ld: token %s", path, line_no, fld[4]);
        if (fld[5][0] != '\0') {
            geoloc_cell ref = parsed;
            double a, b;
            geometry_rows++;
            geoloc_s2_center(ref, &a, &b);
            CHECK(same_latlng(a, b, fld[5], fld[6]), "%s:%ld: center of %s: ours %.17g,%.17g (%a,%a), libs2 %s,%s",
                  path, line_no, fld[4], a, b, a, b, fld[5], fld[6]);
            for (int k = 0; k < 4; k++) {
                geoloc_s2_vertex(ref, k, &a, &b);
                CHECK(same_latlng(a, b, fld[7 + 2 * k], fld[8 + 2 * k]),
                      "%s:%ld: vertex %d of %s: ours %.17g,%.17g (%a,%a), libs2 %s,%s", path, line_no, k, fld[4],
                      a, b, a, b, fld[7 + 2 * k], fld[8 + 2 * k]);
            }
        }
        check_properties(cell);
        check_properties(leaf);
        if (test_failed != before && ++failures >= 20) {
            fprintf(stderr, "%s: stopping after %ld bad rows\n", path, failures);
            break;
        }
    }
    free(line);
    fclose(f);
    CHECK(rows >= 1000 && geometry_rows >= 500, "%s: only %ld rows (%ld with geometry)", path, rows,
          geometry_rows);
}

/* Faces, whole levels in Hilbert order, bad input. */
static void check_fixed(void) {
    static const struct {
        double lat, lng;
        const char *face;
    } faces[] = {{0, 0, "1"}, {0, 90, "3"}, {90, 0, "5"}, {0, 180, "7"}, {0, -90, "9"}, {-90, 0, "b"}};
    for (int k = 0; k < 6; k++) {
        geoloc_cell c = geoloc_s2_from_latlng_level(faces[k].lat, faces[k].lng, 0);
        CHECK(is_token(c, faces[k].face) && geoloc_s2_face(c) == k && geoloc_s2_level(c) == 0, "face %d", k);
    }
    for (int level = 0; level <= 3; level++) {
        long count = 0;
        geoloc_cell prev = 0, c;
        for (c = geoloc_s2_begin(level); c != geoloc_s2_end(level) && count <= 400; c = geoloc_s2_next(c)) {
            CHECK(geoloc_s2_is_valid(c) && geoloc_s2_level(c) == level && c > prev, "level %d cell %ld", level,
                  count);
            if (count > 0) CHECK(geoloc_s2_range_min(c) == geoloc_s2_range_max(prev) + 2, "level %d gap", level);
            prev = c;
            count++;
        }
        CHECK(count == 6L << (2 * level), "level %d has %ld cells", level, count);
        CHECK(geoloc_s2_prev(geoloc_s2_end(level)) == prev && geoloc_s2_range_max(prev) == 0xbfffffffffffffffULL,
              "level %d ends at the last leaf", level);
        CHECK(geoloc_s2_begin(level) == geoloc_s2_child_begin(geoloc_s2_begin(0), level) &&
                  geoloc_s2_range_min(geoloc_s2_begin(level)) == 1,
              "level %d begins at the first leaf", level);
    }
    CHECK(geoloc_s2_from_latlng(NAN, 0) == 0 && geoloc_s2_from_latlng(0, INFINITY) == 0 &&
              geoloc_s2_from_latlng(-INFINITY, NAN) == 0,
          "non-finite input");
    CHECK(geoloc_s2_from_latlng_level(10, 20, -1) == 0 && geoloc_s2_from_latlng_level(10, 20, 31) == 0 &&
              geoloc_s2_from_latlng_level(NAN, 20, 5) == 0,
          "bad level");
    char tok[GEOLOC_S2_TOKEN_SIZE];
    CHECK(geoloc_s2_to_token(0, tok) == 1 && strcmp(tok, "X") == 0, "token of 0: %s", tok);
    CHECK(!geoloc_s2_is_valid(0) && !geoloc_s2_is_valid(~0ULL) && !geoloc_s2_is_valid(0xd000000000000000ULL) &&
              !geoloc_s2_is_valid(0x2000000000000000ULL) && geoloc_s2_is_valid(0x1000000000000000ULL) &&
              geoloc_s2_is_valid(1),
          "is_valid");
}

static void check_bad_tokens(void) {
    static const struct {
        const char *text;
        size_t len;
        geoloc_status status;
    } bad[] = {
        {"", 0, GEOLOC_E_PARSE},
        {"89c259c000000000c", 17, GEOLOC_E_PARSE}, /* 17 digits */
        {"g", 1, GEOLOC_E_PARSE},
        {"89c25g", 6, GEOLOC_E_PARSE},
        {"X", 1, GEOLOC_E_PARSE}, /* the token of 0 is not a cell */
        {" 89c", 4, GEOLOC_E_PARSE},
        {"89c ", 4, GEOLOC_E_PARSE},
        {"-1", 2, GEOLOC_E_PARSE},
        {"0x89", 4, GEOLOC_E_PARSE},
        {"8\0", 2, GEOLOC_E_PARSE},
        {"d", 1, GEOLOC_E_RANGE},  /* face 6 */
        {"f", 1, GEOLOC_E_RANGE},  /* face 7 */
        {"d4", 2, GEOLOC_E_RANGE}, /* face 6, level 2 */
        {"0", 1, GEOLOC_E_RANGE},  /* id 0: no lsb */
        {"0000000000000000", 16, GEOLOC_E_RANGE},
        {"2", 1, GEOLOC_E_RANGE}, /* lsb at an odd bit: no level */
        {"89c2", 4, GEOLOC_E_RANGE},
        {"8000000000000002", 16, GEOLOC_E_RANGE},
    };
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        geoloc_cell out = 42;
        geoloc_status st = geoloc_s2_from_token(bad[k].text, bad[k].len, &out);
        CHECK(st == bad[k].status && out == 42, "token \"%.*s\": status %d, want %d", (int)bad[k].len, bad[k].text,
              (int)st, (int)bad[k].status);
    }
    geoloc_cell out = 42;
    CHECK(geoloc_s2_from_token(NULL, 3, &out) == GEOLOC_E_PARSE && out == 42, "NULL token");
    /* the length bounds the token: a longer buffer is fine */
    CHECK(geoloc_s2_from_token("89c25zzz", 5, &out) == GEOLOC_OK && is_token(out, "89c25"), "prefix of a buffer");
    CHECK(geoloc_s2_from_token("89C259", 6, &out) == GEOLOC_OK && is_token(out, "89c259"), "upper case");
    CHECK(geoloc_s2_from_token("1000000000000000", 16, &out) == GEOLOC_OK && out == 0x1000000000000000ULL,
          "trailing zeros");
    CHECK(geoloc_s2_from_token("0000000000000001", 16, &out) == GEOLOC_OK && out == 1, "first leaf");
}

int main(int argc, char **argv) {
    const char *data_dir = argc > 2 ? argv[2] : "tests/data";
    check_vectors(data_dir);
    check_fixed();
    check_bad_tokens();
    TEST_END();
}
