/* geoloc_dataset_split: no group on both sides, validation share close to
 * the fraction, the same seed gives the same split whatever the row order,
 * other seeds give other splits, rows without a group are groups of their
 * own, --group-column. On a synthetic manifest and on the real
 * im2gps3k_dev.csv (skipped with a message when the shared data is absent).
 * Args: SHARED_DATA TEST_DATA. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "geoloc/dataset.h"
#include "test_util.h"

/* Checks the invariants of a split; returns the validation share. */
static double check_split(const geoloc_manifest *m, const char *group_column, const uint8_t *is_val,
                          const geoloc_split_stats *s, const char *what) {
    long extra = group_column ? geoloc_manifest_extra_column(m, group_column) : -1;
    size_t n_val = 0, bad = 0;
    for (size_t k = 0; k < m->n; k++) {
        n_val += is_val[k];
        const char *g = extra >= 0 ? m->extra[k * m->n_extra + (size_t)extra] : m->row[k].author;
        if (!*g) continue;
        for (size_t j = k + 1; j < m->n; j++) { /* same group, same side */
            const char *h = extra >= 0 ? m->extra[j * m->n_extra + (size_t)extra] : m->row[j].author;
            if (!strcmp(g, h) && is_val[j] != is_val[k]) bad++;
        }
    }
    CHECK(bad == 0, "%s: %zu pairs of one group on both sides", what, bad);
    CHECK(s->n_val == n_val && s->n_train + s->n_val == m->n, "%s: stats %zu + %zu of %zu", what,
          s->n_train, s->n_val, m->n);
    return (double)n_val / (double)m->n;
}

static void test_synthetic(void) {
    geoloc_manifest *m, *rev;
    geoloc_error err;
    const char *extra_names[] = {"trip"};
    geoloc_manifest_new(GEOLOC_COL_AUTHOR, extra_names, 1, &m, &err);
    geoloc_manifest_new(GEOLOC_COL_AUTHOR, extra_names, 1, &rev, &err);
    /* 60 authors with 1..60 photos (1830), and 170 photos without an author */
    char id[64], author[32], trip[32];
    size_t n_no_author = 170;
    for (int a = 1; a <= 60; a++)
        for (int k = 0; k < a; k++) {
            snprintf(id, sizeof id, "a%d/%d.jpg", a, k);
            snprintf(author, sizeof author, "author%d", a);
            snprintf(trip, sizeof trip, "trip%d", (a * 7 + k / 5) % 40);
            geoloc_manifest_row row = {id, 0, 0, author, {-1, -1, -1}, {NAN, NAN, NAN}, 0};
            const char *ex[] = {trip};
            geoloc_manifest_append(m, &row, ex, &err);
        }
    for (size_t k = 0; k < n_no_author; k++) {
        snprintf(id, sizeof id, "loose/%zu.jpg", k);
        geoloc_manifest_row row = {id, 0, 0, "", {-1, -1, -1}, {NAN, NAN, NAN}, 0};
        geoloc_manifest_append(m, &row, NULL, &err);
    }
    for (size_t k = m->n; k-- > 0;) geoloc_manifest_append(rev, &m->row[k], &m->extra[k], &err);

    uint8_t *v1 = malloc(m->n), *v2 = malloc(m->n), *v3 = malloc(m->n);
    geoloc_split_stats s1, s2, s3;
    double fractions[] = {0.05, 0.2, 0.5, 0.8};
    for (size_t f = 0; f < 4; f++)
        for (uint64_t seed = 0; seed < 20; seed++) {
            geoloc_split_options opt = {fractions[f], seed, NULL};
            char what[64];
            snprintf(what, sizeof what, "fraction %.2f seed %llu", fractions[f], (unsigned long long)seed);
            CHECK(geoloc_dataset_split(m, &opt, v1, &s1, &err) == GEOLOC_OK, "%s", err.message);
            double share = check_split(m, NULL, v1, &s1, what);
            CHECK(fabs(share - fractions[f]) < 0.01, "%s: share %.4f", what, share);
            CHECK(s1.groups_train + s1.groups_val == 60 + n_no_author, "%s: %zu groups", what,
                  s1.groups_train + s1.groups_val);
            /* the same split from the reversed rows */
            CHECK(geoloc_dataset_split(rev, &opt, v2, &s2, &err) == GEOLOC_OK, "%s", err.message);
            size_t differ = 0;
            for (size_t k = 0; k < m->n; k++) differ += v1[k] != v2[m->n - 1 - k];
            CHECK(differ == 0 && s2.n_val == s1.n_val, "%s: row order changed %zu photos", what, differ);
            /* another seed, another split */
            opt.seed = seed + 1000;
            geoloc_dataset_split(m, &opt, v3, &s3, &err);
            differ = 0;
            for (size_t k = 0; k < m->n; k++) differ += v1[k] != v3[k];
            CHECK(differ > 0, "%s: seed %llu gives the same split", what, (unsigned long long)opt.seed);
        }
    /* grouped by the extra column "trip" */
    geoloc_split_options by_trip = {0.3, 7, "trip"};
    CHECK(geoloc_dataset_split(m, &by_trip, v1, &s1, &err) == GEOLOC_OK, "%s", err.message);
    double share = check_split(m, "trip", v1, &s1, "by trip");
    CHECK(fabs(share - 0.3) < 0.03 && s1.groups_train + s1.groups_val == 40 + n_no_author,
          "by trip: share %.4f, %zu groups", share, s1.groups_train + s1.groups_val);
    /* bad options */
    geoloc_split_options bad = {1.0, 0, NULL};
    CHECK(geoloc_dataset_split(m, &bad, v1, &s1, &err) == GEOLOC_E_ARG, "fraction 1 refused");
    bad.val_fraction = NAN;
    CHECK(geoloc_dataset_split(m, &bad, v1, &s1, &err) == GEOLOC_E_ARG, "fraction NaN refused");
    geoloc_split_options missing = {0.2, 0, "camera"};
    CHECK(geoloc_dataset_split(m, &missing, v1, &s1, &err) == GEOLOC_E_ARG &&
              strstr(err.message, "no column 'camera'"),
          "unknown group column: %s", err.message);
    free(v1);
    free(v2);
    free(v3);
    geoloc_manifest_free(m);
    geoloc_manifest_free(rev);
}

static void test_real(const char *shared) {
    char path[1024];
    snprintf(path, sizeof path, "%s/im2gps3k-dev/im2gps3k_dev.csv", shared);
    if (access(path, R_OK) != 0) {
        printf("SKIP part: %s not found (the real-data split checks did not run)\n", path);
        return;
    }
    geoloc_manifest *m;
    geoloc_error err;
    if (geoloc_manifest_read(path, NULL, &m, &err) != GEOLOC_OK) {
        CHECK(0, "%s", err.message);
        return;
    }
    uint8_t *v = malloc(m->n), *w = malloc(m->n);
    double worst = 0;
    double fractions[] = {0.1, 0.2, 0.3};
    for (size_t f = 0; f < 3; f++)
        for (uint64_t seed = 0; seed < 10; seed++) {
            geoloc_split_options opt = {fractions[f], seed, NULL};
            geoloc_split_stats s, s2;
            char what[80];
            snprintf(what, sizeof what, "im2gps3k fraction %.1f seed %llu", fractions[f], (unsigned long long)seed);
            CHECK(geoloc_dataset_split(m, &opt, v, &s, &err) == GEOLOC_OK, "%s", err.message);
            double share = check_split(m, NULL, v, &s, what);
            worst = fmax(worst, fabs(share - fractions[f]));
            /* 126 photographers, the largest with 235 of 1997 photos */
            CHECK(fabs(share - fractions[f]) < 0.02, "%s: share %.4f", what, share);
            CHECK(s.groups_val > 0 && s.groups_train > 0, "%s: both sides have groups", what);
            CHECK(geoloc_dataset_split(m, &opt, w, &s2, &err) == GEOLOC_OK && !memcmp(v, w, m->n),
                  "%s: deterministic", what);
        }
    printf("im2gps3k_dev.csv: largest distance of the validation share from the fraction: %.4f\n", worst);
    free(v);
    free(w);
    geoloc_manifest_free(m);
}

int main(int argc, char **argv) {
    test_synthetic();
    test_real(argc > 1 ? argv[1] : "../shared/data");
    TEST_END();
}
