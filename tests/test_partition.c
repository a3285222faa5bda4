/* Adaptive partitions: the published files read and written back byte for
 * byte, their hierarchy, the builder's defining properties on random data,
 * and bad partition files. (The bit-exact comparison with a libs2 rendition
 * of the reference algorithm is tests/cells_vs_reference.sh.) */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "geoloc/partition.h"
#include "test_util.h"

static void test_published(const char *data) {
    static const char *const names[3] = {"cells_50_5000", "cells_50_2000", "cells_50_1000"};
    static const size_t expected_cells[3] = {3298, 7202, 12893};
    geoloc_partition *p[3] = {0};
    for (int k = 0; k < 3; k++) {
        char path[4200];
        snprintf(path, sizeof path, "%s/geoestimation/%s.csv", data, names[k]);
        geoloc_error err;
        CHECK(geoloc_partition_read(path, &p[k], &err) == GEOLOC_OK, "%s", err.message);
        if (!p[k]) return;
        CHECK(p[k]->n == expected_cells[k] && p[k]->num_images == 4723695, "%s: %zu cells", names[k], p[k]->n);
        /* written back, the file is byte-identical to the published one */
        const char *out = test_temp_file("part");
        CHECK(geoloc_partition_write(p[k], out, &err) == GEOLOC_OK, "%s", err.message);
        size_t a_size, b_size;
        char *a = test_read_file(path, &a_size), *b = test_read_file(out, &b_size);
        CHECK(a && b && a_size == b_size && memcmp(a, b, a_size) == 0, "%s: rewrite differs (%zu vs %zu bytes)",
              names[k], a_size, b_size);
        free(a);
        free(b);
        unlink(out);
        /* every class is found from its own cell and from its mean location's leaf
         * when that lies inside the cell */
        int found = 1;
        for (size_t c = 0; c < p[k]->n; c++) found &= geoloc_partition_find(p[k], p[k]->cell[c]) == (long)c;
        CHECK(found, "%s: find(cell) != class", names[k]);
    }
    /* the hierarchy: every fine cell lies inside one middle and one coarse cell */
    int32_t *anc = malloc(p[2]->n * sizeof *anc);
    for (int k = 0; k < 2; k++) {
        size_t missing = geoloc_partition_ancestors(p[2], p[k], anc);
        CHECK(missing == 0, "%zu fine cells without ancestor in %s", missing, names[k]);
        int inside = 1;
        for (size_t c = 0; c < p[2]->n; c++)
            inside &= anc[c] >= 0 && geoloc_s2_contains(p[k]->cell[anc[c]], p[2]->cell[c]);
        CHECK(inside, "ancestor does not contain the fine cell");
    }
    free(anc);
    for (int k = 0; k < 3; k++) geoloc_partition_free(p[k]);
}

static uint64_t rng = 7;
static double uniform(void) {
    rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
    return (double)(rng >> 11) / 9007199254740992.0;
}

/* Photos of the input inside `cell`. */
static uint64_t count_inside(geoloc_cell cell, const geoloc_cell *leaf, size_t n) {
    uint64_t c = 0;
    for (size_t k = 0; k < n; k++) c += geoloc_s2_contains(cell, leaf[k]);
    return c;
}

/* The reference's result is characterised by: kept cells hold > tau_min
 * photos; a cell is final when it holds <= tau_max (or is at level_max);
 * a cell below level_min exists only because its parent held > tau_max;
 * a photo is dropped exactly when its final cell held <= tau_min. */
static void test_builder_properties(void) {
    size_t n = 20000;
    double *lat = malloc(n * sizeof *lat), *lng = malloc(n * sizeof *lng);
    geoloc_cell *leaf = malloc(n * sizeof *leaf);
    for (size_t k = 0; k < n; k++) {
        int cluster = (int)(uniform() * 6);
        double spread = cluster == 5 ? 90 : 0.5 / (1 + cluster * 20);
        double clat[6] = {48.85, -33.86, 40.69, 35.36, 89.9, 0}, clng[6] = {2.29, 151.2, -74.04, 179.99, 0, 0};
        lat[k] = clat[cluster] + (uniform() - 0.5) * spread;
        lng[k] = clng[cluster] + (uniform() - 0.5) * 2 * spread;
        if (k % 50 == 0 && k) { lat[k] = lat[k - 1]; lng[k] = lng[k - 1]; } /* exact duplicates */
        if (lat[k] > 90) lat[k] = 90;
        if (lng[k] > 180) lng[k] -= 360;
        leaf[k] = geoloc_s2_from_latlng(lat[k], lng[k]);
    }
    const uint64_t tau_max[3] = {400, 60, 8};
    geoloc_partition *p[3], *q[3];
    geoloc_partition_params params = {3, tau_max, 3, 2, 30, 1};
    geoloc_error err;
    CHECK(geoloc_partitions_build(lat, lng, n, &params, p, &err) == GEOLOC_OK, "%s", err.message);
    params.threads = 4;
    CHECK(geoloc_partitions_build(lat, lng, n, &params, q, &err) == GEOLOC_OK, "%s", err.message);
    for (int t = 0; t < 3; t++) {
        geoloc_partition *P = p[t];
        CHECK(P->n == q[t]->n && !memcmp(P->cell, q[t]->cell, P->n * sizeof *P->cell) &&
                  !memcmp(P->lat, q[t]->lat, P->n * sizeof *P->lat), "thread count changes the result");
        uint64_t kept = 0;
        int ok_count = 1, ok_final = 1, ok_split = 1, ok_order = 1, ok_mean = 1;
        for (size_t c = 0; c < P->n; c++) {
            uint64_t inside = count_inside(P->cell[c], leaf, n);
            ok_count &= inside == P->count[c] && inside > params.tau_min;
            ok_final &= inside <= tau_max[t] || geoloc_s2_level(P->cell[c]) == 30;
            int level = geoloc_s2_level(P->cell[c]);
            if (level > params.level_min)
                ok_split &= count_inside(geoloc_s2_parent(P->cell[c], level - 1), leaf, n) > tau_max[t];
            if (c) ok_order &= P->cell[c - 1] < P->cell[c];
            double slat = 0, slng = 0;
            for (size_t k = 0; k < n; k++)
                if (geoloc_s2_contains(P->cell[c], leaf[k])) slat += lat[k], slng += lng[k];
            ok_mean &= P->lat[c] == slat / (double)inside && P->lng[c] == slng / (double)inside;
            kept += P->count[c];
        }
        CHECK(ok_count, "tau %llu: counts wrong or <= tau_min", (unsigned long long)tau_max[t]);
        CHECK(ok_final, "tau %llu: a cell above tau_max was not split", (unsigned long long)tau_max[t]);
        CHECK(ok_split, "tau %llu: a cell split although its parent was not over tau_max", (unsigned long long)tau_max[t]);
        CHECK(ok_order, "classes not in cell-id order");
        CHECK(ok_mean, "means differ from the input-order sums");
        /* a dropped photo sits in a final-level cell holding <= tau_min photos */
        int ok_drop = 1;
        for (size_t k = 0; k < n; k++) {
            if (geoloc_partition_find(P, leaf[k]) >= 0) continue;
            geoloc_cell c = geoloc_s2_parent(leaf[k], params.level_min);
            while (count_inside(c, leaf, n) > tau_max[t] && geoloc_s2_level(c) < 30)
                c = geoloc_s2_parent(leaf[k], geoloc_s2_level(c) + 1);
            ok_drop &= count_inside(c, leaf, n) <= params.tau_min;
        }
        CHECK(ok_drop, "a photo was dropped from a cell holding more than tau_min");
        CHECK(P->num_images == n && kept <= n, "num_images");
        geoloc_partition_free(P);
        geoloc_partition_free(q[t]);
    }
    /* duplicates force level-30 cells when there are more than tau_max */
    for (size_t k = 0; k < 100; k++) lat[k] = 10.5, lng[k] = 20.5;
    const uint64_t small[1] = {10};
    geoloc_partition_params dup = {5, small, 1, 2, 30, 1};
    CHECK(geoloc_partitions_build(lat, lng, 100, &dup, p, &err) == GEOLOC_OK && p[0]->n == 1 &&
              geoloc_s2_level(p[0]->cell[0]) == 30 && p[0]->count[0] == 100, "duplicates");
    geoloc_partition_free(p[0]);
    free(lat);
    free(lng);
    free(leaf);
}

static void expect_read_error(const char *text, const char *expect) {
    const char *path = test_temp_file("part");
    test_write_text(path, text);
    geoloc_partition *p = NULL;
    geoloc_error err;
    geoloc_status st = geoloc_partition_read(path, &p, &err);
    CHECK(st != GEOLOC_OK && strstr(err.message, path) && strstr(err.message, expect),
          "got '%s', want '%s'", st == GEOLOC_OK ? "ok" : err.message, expect);
    geoloc_partition_free(p);
    unlink(path);
}

static void test_bad_files(void) {
    const char *h = "class_label,hex_id,imgs_per_cell,latitude_mean,longitude_mean\r\n";
    char buf[512];
#define BAD(rows, expect) (snprintf(buf, sizeof buf, "%s%s", h, rows), expect_read_error(buf, expect))
    BAD("0,8744,3376,39.2,-107.9\r\n0,364,2728,35.9,108.1\r\n", ":3: class_label 0 repeats line 2");
    BAD("0,8744,3376,39.2,-107.9\r\n5,364,2728,35.9,108.1\r\n", ":3: class_label 5 out of range");
    BAD("0,87zz,3376,39.2,-107.9\r\n", ":2: hex_id: not a valid S2 cell token: '87zz'");
    BAD("0,8744,-3,39.2,-107.9\r\n", ":2: imgs_per_cell: not a positive photo count");
    BAD("0,8744,3,95,-107.9\r\n", ":2: latitude_mean: not a latitude");
    BAD("0,8744,3,9,nan\r\n", ":2: longitude_mean: not a longitude");
    BAD("0,8744,3376\r\n", ":2: expected 5 fields, found 3");
    BAD("0,8744,3376,39.2,-107.9\r\n1,87444,2,1,1\r\n", ":3: cell 87444 overlaps cell 8744 of line 2");
    BAD("0,8744,3376,39.2,-107.9\r\n1,8744,2,1,1\r\n", "cell 8744 repeats cell 8744");
    BAD("", "no cells");
#undef BAD
    expect_read_error("", "no header");
    expect_read_error("hello\r\n", ":1: expected 'key: value' preamble lines or the header");
    expect_read_error("class_label,hex_id\r\n", ":1: header has no 'imgs_per_cell' column");
}

int main(int argc, char **argv) {
    test_builder_properties();
    test_bad_files();
    if (argc > 1 && access(argv[1], R_OK) == 0) test_published(argv[1]);
    else printf("SKIP: published partitions: shared data not found at %s\n", argc > 1 ? argv[1] : "(none)");
    TEST_END();
}
