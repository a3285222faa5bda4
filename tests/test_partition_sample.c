/* geoloc_partition_sample_points: every point lies in a cell of the
 * partition, each class gets round(count * scale) points spread over its
 * whole cell, the order is shuffled, and the seed alone fixes the points. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "geoloc/partition.h"
#include "test_util.h"

static uint64_t rng = 11;
static double uniform(void) {
    rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
    return (double)(rng >> 11) / 9007199254740992.0;
}

/* Checks the points drawn from p with (seed, scale): per-class counts,
 * spread over the four children of every well-filled cell, shuffled order. */
static void check_sample(const geoloc_partition *p, uint64_t seed, double scale, const char *what) {
    geoloc_points *s;
    geoloc_error err;
    CHECK(geoloc_partition_sample_points(p, seed, scale, &s, &err) == GEOLOC_OK, "%s: %s", what, err.message);
    if (!s) return;
    CHECK(s->id == NULL && s->line == NULL, "%s: no ids or lines expected", what);
    uint64_t *found = calloc(p->n, sizeof *found);
    unsigned char *children = calloc(p->n, 1); /* bit k: child k of the cell got a point */
    size_t outside = 0, class_changes = 0;
    long previous = -1;
    for (size_t k = 0; k < s->n; k++) {
        long c = geoloc_partition_find_latlng(p, s->lat[k], s->lng[k]);
        if (c < 0) {
            outside++;
            continue;
        }
        found[c]++;
        class_changes += c != previous;
        previous = c;
        geoloc_cell leaf = geoloc_s2_from_latlng(s->lat[k], s->lng[k]);
        int level = geoloc_s2_level(p->cell[c]);
        if (level < 30)
            for (int child = 0; child < 4; child++)
                if (geoloc_s2_contains(geoloc_s2_child(p->cell[c], child), leaf)) children[c] |= 1 << child;
    }
    CHECK(outside == 0, "%s: %zu of %zu points fall in no cell", what, outside, s->n);
    size_t wrong = 0, unspread = 0, expected_total = 0;
    for (size_t c = 0; c < p->n; c++) {
        uint64_t want = (uint64_t)llround((double)p->count[c] * scale);
        expected_total += want;
        wrong += found[c] != want;
        /* 4 * (3/4)^100 < 1e-12: 100 uniform points miss no child */
        if (want >= 100 && geoloc_s2_level(p->cell[c]) < 30) unspread += children[c] != 15;
    }
    CHECK(s->n == expected_total, "%s: %zu points, expected %zu", what, s->n, expected_total);
    CHECK(wrong == 0, "%s: %zu classes with a count other than round(count * scale)", what, wrong);
    CHECK(unspread == 0, "%s: %zu cells with 100+ points leave a child empty", what, unspread);
    /* in class order there would be at most n class changes */
    CHECK(p->n < 2 || s->n < 100 || class_changes > 2 * p->n, "%s: %zu class changes, not shuffled", what,
          class_changes);
    free(found);
    free(children);

    /* the same seed gives the same points, another seed other points */
    geoloc_points *again, *other;
    CHECK(geoloc_partition_sample_points(p, seed, scale, &again, &err) == GEOLOC_OK, "%s", err.message);
    CHECK(geoloc_partition_sample_points(p, seed + 1, scale, &other, &err) == GEOLOC_OK, "%s", err.message);
    CHECK(again && again->n == s->n && memcmp(again->lat, s->lat, s->n * sizeof *s->lat) == 0 &&
              memcmp(again->lng, s->lng, s->n * sizeof *s->lng) == 0,
          "%s: the same seed gives other points", what);
    CHECK(other && other->n == s->n && s->n > 1 && memcmp(other->lat, s->lat, s->n * sizeof *s->lat) != 0,
          "%s: another seed gives the same points", what);
    geoloc_points_free(again);
    geoloc_points_free(other);
    geoloc_points_free(s);
}

/* A partition built from random photos, sampled at several scales. */
static void test_built(void) {
    enum { N = 20000 };
    double *lat = malloc(N * sizeof *lat), *lng = malloc(N * sizeof *lng);
    for (size_t k = 0; k < N; k++) {
        /* clusters around a few cities and some spread everywhere */
        static const double city[4][2] = {{48.85, 2.35}, {40.71, -74.0}, {-33.87, 151.2}, {35.68, 139.7}};
        if (k % 5) {
            const double *c = city[k % 4];
            lat[k] = c[0] + (uniform() - 0.5);
            lng[k] = c[1] + (uniform() - 0.5);
        } else {
            lat[k] = asin(2 * uniform() - 1) * 180 / M_PI;
            lng[k] = uniform() * 360 - 180;
        }
    }
    uint64_t tau_max = 500;
    geoloc_partition_params params = {5, &tau_max, 1, 2, 30, 1};
    geoloc_partition *p = NULL;
    geoloc_error err;
    CHECK(geoloc_partitions_build(lat, lng, N, &params, &p, &err) == GEOLOC_OK && p && p->n > 10, "%s",
          err.message);
    free(lat);
    free(lng);
    if (!p) return;
    check_sample(p, 1, 1.0, "built, scale 1");
    check_sample(p, 42, 0.37, "built, scale 0.37");
    check_sample(p, 3, 4.0, "built, scale 4");
    geoloc_points *s;
    CHECK(geoloc_partition_sample_points(p, 1, 0, &s, &err) == GEOLOC_OK && s && s->n == 0,
          "scale 0 gives no points");
    geoloc_points_free(s);
    CHECK(geoloc_partition_sample_points(p, 1, -1, &s, &err) == GEOLOC_E_ARG && s == NULL,
          "negative scale refused");
    CHECK(geoloc_partition_sample_points(p, 1, NAN, &s, &err) == GEOLOC_E_ARG && s == NULL, "NaN scale refused");
    geoloc_partition_free(p);
}

/* The published partition, as `geoloc cells sample --scale 0.01` draws it. */
static void test_published(const char *data) {
    char path[4200];
    snprintf(path, sizeof path, "%s/geoestimation/cells_50_5000.csv", data);
    geoloc_partition *p;
    geoloc_error err;
    CHECK(geoloc_partition_read(path, &p, &err) == GEOLOC_OK, "%s", err.message);
    if (!p) return;
    check_sample(p, 1, 0.01, "cells_50_5000, scale 0.01");
    geoloc_partition_free(p);
}

int main(int argc, char **argv) {
    test_built();
    if (argc > 1 && access(argv[1], R_OK) == 0) test_published(argv[1]);
    else printf("shared data not found: the published partition is not sampled\n");
    TEST_END();
}
