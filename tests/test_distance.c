/* Tests of great-circle distances and the accuracy summary.
 * argv[1]: shared data folder, argv[2]: tests/data.
 *
 * - geoloc_haversine_km against tests/data/haversine_ref.csv, written by
 *   tools/haversine_ref.py from an 80-digit decimal evaluation;
 * - properties (symmetry, zero, NaN, antipodes, wrapped longitudes);
 * - geoloc_distance_summarize on hand-checked arrays, bad input, and its
 *   median against a sorted copy on adversarial and large arrays;
 * - shared data: every row of the six GeoEstimation Im2GPS results files
 *   (recomputed distance vs their great_circle_distance column) and each
 *   file's summary row (accuracies and mean, to two decimals). */
#include <dirent.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "geoloc/distance.h"
#include "io/csv.h"
#include "test_util.h"

#define R_KM GEOLOC_EARTH_RADIUS_KM
#define PI 3.14159265358979323846

/* ---- reference values ---- */

static void test_reference(const char *test_data) {
    char path[4096];
    snprintf(path, sizeof path, "%s/haversine_ref.csv", test_data);
    FILE *fp = fopen(path, "r");
    CHECK(fp != NULL, "cannot open %s", path);
    if (!fp) return;
    char line[512];
    int n = 0;
    double max_abs = 0, max_rel = 0, max_antipodal = 0;
    CHECK(fgets(line, sizeof line, fp) && !strncmp(line, "lat1,lng1,lat2,lng2,km", 22),
          "bad header in %s", path);
    while (fgets(line, sizeof line, fp)) {
        double v[5];
        char *p = line, *end;
        int k = 0;
        for (; k < 5; k++) {
            v[k] = strtod(p, &end);
            if (end == p) break;
            p = end + (*end == ',');
        }
        CHECK(k == 5, "bad line %d of %s", n + 2, path);
        if (k != 5) continue;
        n++;
        double got = geoloc_haversine_km(v[0], v[1], v[2], v[3]);
        double diff = fabs(got - v[4]);
        /* Near antipodes asin() is ill-conditioned at its argument 1: an
         * error of one ulp in h moves the angle by up to ~2 sqrt(2^-53) rad,
         * 2e-4 km. Elsewhere the error is a few ulps: 10 nm + 1e-13 relative. */
        if (v[4] > 20000.0) {
            if (diff > max_antipodal) max_antipodal = diff;
            CHECK(diff <= 5e-4, "(%.17g,%.17g)-(%.17g,%.17g): %.17g km, reference %.17g", v[0],
                  v[1], v[2], v[3], got, v[4]);
            continue;
        }
        if (diff > max_abs) max_abs = diff;
        if (v[4] > 1e-12 && diff / v[4] > max_rel) max_rel = diff / v[4];
        CHECK(diff <= 1e-11 + 1e-13 * v[4], "(%.17g,%.17g)-(%.17g,%.17g): %.17g km, reference %.17g",
              v[0], v[1], v[2], v[3], got, v[4]);
    }
    fclose(fp);
    CHECK(n >= 200, "only %d reference pairs in %s", n, path);
    printf("haversine: %d reference pairs, max abs error %.3g km, max rel error %.3g, "
           "near antipodes max %.3g km\n", n, max_abs, max_rel, max_antipodal);
}

/* ---- properties ---- */

static void test_properties(void) {
    const double one_degree = R_KM * PI / 180.0;
    CHECK(geoloc_haversine_km(0, 0, 0, 0) == 0.0, "same point");
    CHECK(geoloc_haversine_km(12.5, -33.25, 12.5, -33.25) == 0.0, "same point");
    CHECK(fabs(geoloc_haversine_km(0, 0, 0, 1) - one_degree) < 1e-12, "1 degree of longitude");
    CHECK(fabs(geoloc_haversine_km(0, 0, 1, 0) - one_degree) < 1e-12, "1 degree of latitude");
    CHECK(fabs(geoloc_haversine_km(10, 20, 11, 20) - one_degree) < 1e-11, "meridian");
    double half = geoloc_haversine_km(0, 0, 0, 180);
    CHECK(fabs(half - PI * R_KM) < 1e-9, "antipodes: %.17g", half);
    CHECK(geoloc_haversine_km(90, 0, -90, 0) <= PI * R_KM, "pole to pole within pi R");
    CHECK(fabs(geoloc_haversine_km(90, 0, -90, 0) - PI * R_KM) < 1e-9, "pole to pole");
    CHECK(geoloc_haversine_km(90, 0, 90, 77) < 1e-9, "pole, two longitudes");
    CHECK(geoloc_haversine_km(0, -180, 0, 180) < 1e-9, "-180 and 180");
    CHECK(fabs(geoloc_haversine_km(5, 190, 5, -170)) < 1e-9, "wrapped longitude");
    CHECK(fabs(geoloc_haversine_km(5, 179.5, 5, -179.5) - geoloc_haversine_km(5, -0.5, 5, 0.5)) <
              1e-9, "across the date line");
    CHECK(isnan(geoloc_haversine_km(NAN, 0, 0, 0)), "NaN latitude gives NaN");
    CHECK(isnan(geoloc_haversine_km(0, 0, 0, NAN)), "NaN longitude gives NaN");
    /* Symmetry and the triangle inequality on a grid. */
    int asym = 0, tri = 0, range = 0;
    for (int a = -90; a <= 90; a += 15)
        for (int b = -180; b <= 180; b += 40)
            for (int c = -90; c <= 90; c += 30)
                for (int d = -180; d <= 180; d += 50) {
                    double x = geoloc_haversine_km(a, b, c, d), y = geoloc_haversine_km(c, d, a, b);
                    asym += fabs(x - y) > 1e-9;
                    range += !(x >= 0 && x <= PI * R_KM);
                    double via = geoloc_haversine_km(a, b, 10, 10) + geoloc_haversine_km(10, 10, c, d);
                    tri += x > via + 1e-6;
                }
    CHECK(asym == 0, "%d asymmetric pairs", asym);
    CHECK(range == 0, "%d distances outside [0, pi R]", range);
    CHECK(tri == 0, "%d triangle-inequality violations", tri);
}

/* ---- summary ---- */

static void test_thresholds(void) {
    static const double km[] = {1, 25, 200, 750, 2500};
    static const char *const names[] = {"street", "city", "region", "country", "continent"};
    static const char *const keys[] = {"1km", "25km", "200km", "750km", "2500km"};
    for (int t = 0; t < GEOLOC_N_THRESHOLDS; t++) {
        CHECK(geoloc_thresholds[t].km == km[t], "threshold %d", t);
        CHECK(!strcmp(geoloc_thresholds[t].name, names[t]), "threshold %d name", t);
        CHECK(!strcmp(geoloc_thresholds[t].key, keys[t]), "threshold %d key", t);
    }
}

static void test_summary_small(void) {
    geoloc_distance_summary s;
    geoloc_error err = {0};
    /* Ten values, deliberately unsorted, with values on the thresholds. */
    double d[10] = {2500.1, 1.0, 10000, 25, 0.5, 750, 24.9, 2500, 199, 1.0000001};
    double copy[10];
    memcpy(copy, d, sizeof d);
    CHECK(geoloc_distance_summarize(d, 10, &s, &err) == GEOLOC_OK, "%s", err.message);
    CHECK(!memcmp(d, copy, sizeof d), "input array modified");
    CHECK(s.n == 10, "n %zu", s.n);
    /* <=1: 0.5 1.0 | <=25: +1.0000001 24.9 25 | <=200: +199 | <=750: +750 | <=2500: +2500 */
    const double want[5] = {0.2, 0.5, 0.6, 0.7, 0.8};
    for (int t = 0; t < 5; t++)
        CHECK(s.accuracy[t] == want[t], "accuracy %d: %.17g, want %g", t, s.accuracy[t], want[t]);
    CHECK(s.median_km == 112.0, "median %.17g, want (25 + 199) / 2", s.median_km);
    double sum = 2500.1 + 1.0 + 10000 + 25 + 0.5 + 750 + 24.9 + 2500 + 199 + 1.0000001;
    CHECK(fabs(s.mean_km - sum / 10) < 1e-9, "mean %.17g, want %.17g", s.mean_km, sum / 10);

    double odd[5] = {30, 10, 50, 20, 40};
    CHECK(geoloc_distance_summarize(odd, 5, &s, &err) == GEOLOC_OK, "odd");
    CHECK(s.median_km == 30 && s.mean_km == 30, "odd median %g mean %g", s.median_km, s.mean_km);
    CHECK(s.accuracy[0] == 0 && s.accuracy[1] == 0.4 && s.accuracy[2] == 1, "odd accuracy");

    double one = 3.5;
    CHECK(geoloc_distance_summarize(&one, 1, &s, &err) == GEOLOC_OK, "one");
    CHECK(s.median_km == 3.5 && s.mean_km == 3.5 && s.accuracy[0] == 0 && s.accuracy[1] == 1,
          "one value");
    double two[2] = {7, 3};
    CHECK(geoloc_distance_summarize(two, 2, &s, &err) == GEOLOC_OK, "two");
    CHECK(s.median_km == 5 && s.mean_km == 5, "two values: median %g", s.median_km);
    double zeros[4] = {0, 0, 0, 0};
    CHECK(geoloc_distance_summarize(zeros, 4, &s, &err) == GEOLOC_OK, "zeros");
    CHECK(s.median_km == 0 && s.mean_km == 0 && s.accuracy[0] == 1, "zeros");

    /* Bad input. */
    CHECK(geoloc_distance_summarize(d, 0, &s, &err) == GEOLOC_E_EMPTY, "n == 0");
    CHECK(err.status == GEOLOC_E_EMPTY && err.message[0], "n == 0 message");
    CHECK(geoloc_distance_summarize(NULL, 0, &s, NULL) == GEOLOC_E_EMPTY, "NULL, 0");
    CHECK(geoloc_distance_summarize(d, 10, NULL, NULL) == GEOLOC_E_ARG, "no output");
    double bad[3] = {1, NAN, 2};
    CHECK(geoloc_distance_summarize(bad, 3, &s, &err) == GEOLOC_E_ARG, "NaN");
    bad[1] = -1;
    CHECK(geoloc_distance_summarize(bad, 3, &s, &err) == GEOLOC_E_ARG, "negative");
    bad[1] = INFINITY;
    CHECK(geoloc_distance_summarize(bad, 3, &s, &err) == GEOLOC_E_ARG, "infinite");
    CHECK(strstr(err.message, "distance 1") != NULL, "message names the index: %s", err.message);
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static uint64_t rng_state = 88172645463325252u;
static uint64_t rng(void) {
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

/* Median of a[0..n) by sorting a copy. */
static double sorted_median(const double *a, size_t n) {
    double *c = malloc(n * sizeof *c);
    memcpy(c, a, n * sizeof *c);
    qsort(c, n, sizeof *c, cmp_double);
    double m = n % 2 ? c[n / 2] : c[n / 2 - 1] + (c[n / 2] - c[n / 2 - 1]) * 0.5;
    free(c);
    return m;
}

static void check_median(const double *a, size_t n, const char *what) {
    geoloc_distance_summary s;
    geoloc_error err = {0};
    double *before = malloc(n * sizeof *before);
    memcpy(before, a, n * sizeof *before);
    geoloc_status st = geoloc_distance_summarize(a, n, &s, &err);
    CHECK(st == GEOLOC_OK, "%s n=%zu: %s", what, n, err.message);
    double want = sorted_median(a, n);
    CHECK(s.median_km == want, "%s n=%zu: median %.17g, want %.17g", what, n, s.median_km, want);
    CHECK(!memcmp(before, a, n * sizeof *a), "%s n=%zu: input modified", what, n);
    free(before);
}

static void test_median_patterns(void) {
    enum { PATTERNS = 7 };
    static const char *const names[PATTERNS] = {"random",   "sorted",     "reversed", "equal",
                                                "two values", "organ pipe", "few distinct"};
    size_t sizes[] = {1, 2, 3, 4, 5, 16, 17, 18, 33, 100, 1001, 4096, 100000, 1000001};
    for (size_t si = 0; si < sizeof sizes / sizeof sizes[0]; si++) {
        size_t n = sizes[si];
        double *a = malloc(n * sizeof *a);
        for (int p = 0; p < PATTERNS; p++) {
            for (size_t i = 0; i < n; i++) {
                switch (p) {
                case 0: a[i] = (double)(rng() >> 11) * 0x1p-53 * 20000.0; break;
                case 1: a[i] = (double)i; break;
                case 2: a[i] = (double)(n - i); break;
                case 3: a[i] = 42.0; break;
                case 4: a[i] = (i & 1) ? 1.0 : 2.0; break;
                case 5: a[i] = (double)(i < n / 2 ? i : n - i); break;
                default: a[i] = (double)(rng() % 5); break;
                }
            }
            check_median(a, n, names[p]);
        }
        free(a);
    }
    /* Accuracy and mean on a large array against a direct count. */
    size_t n = 2000003;
    double *a = malloc(n * sizeof *a);
    size_t count[5] = {0};
    double sum = 0;
    for (size_t i = 0; i < n; i++) {
        a[i] = (double)(rng() % 3000000) / 1000.0; /* 0 .. 2999.999 km, thresholds hit */
        for (int t = 0; t < 5; t++) count[t] += a[i] <= geoloc_thresholds[t].km;
        sum += a[i];
    }
    geoloc_distance_summary s;
    CHECK(geoloc_distance_summarize(a, n, &s, NULL) == GEOLOC_OK, "large");
    for (int t = 0; t < 5; t++)
        CHECK(s.accuracy[t] == (double)count[t] / (double)n, "large accuracy %d", t);
    CHECK(fabs(s.mean_km - sum / (double)n) < 1e-6, "large mean %.17g vs %.17g", s.mean_km,
          sum / (double)n);
    CHECK(s.median_km == sorted_median(a, n), "large median");
    free(a);
}

/* ---- shared data: GeoEstimation Im2GPS results ---- */

/* Round-half-up of x * scale to an integer (x >= 0). */
static long long scaled(double x, double scale) { return (long long)floor(x * scale + 0.5); }

/* Checks one results file; returns the number of prediction rows. */
static size_t check_results_file(const char *path, double *max_diff) {
    geoloc_error err = {0};
    csv_reader *r = csv_open(path, &err);
    CHECK(r != NULL, "%s", err.message);
    if (!r) return 0;
    csv_field f[16];
    size_t nf = 0;
    CHECK(csv_next_row(r, f, 16, &nf, &err) == 1, "%s: no header", path);
    static const char *const c_glat[] = {"gt_lat", NULL}, *const c_glng[] = {"gt_long", NULL},
                             *const c_plat[] = {"predicted_lat", NULL},
                             *const c_plng[] = {"predicted_long", NULL},
                             *const c_dist[] = {"great_circle_distance", NULL};
    int col[5] = {csv_find_column(f, nf, c_glat), csv_find_column(f, nf, c_glng),
                  csv_find_column(f, nf, c_plat), csv_find_column(f, nf, c_plng),
                  csv_find_column(f, nf, c_dist)};
    for (int k = 0; k < 5; k++) CHECK(col[k] >= 0, "%s: column %d missing", path, k);
    if (col[0] < 0 || col[1] < 0 || col[2] < 0 || col[3] < 0 || col[4] < 0) {
        csv_close(r);
        return 0;
    }
    double *dist = NULL;
    size_t n = 0, cap = 0;
    int rc;
    /* The column is rounded to 0.01 km (error <= 0.005) from coordinates
     * printed with 6 decimals (<= 5e-7 degrees each: the two points move by
     * at most 2 * sqrt(2) * 5e-7 * 111.195 km = 0.000157 km). */
    const double tol = 0.005 + 0.0002;
    while ((rc = csv_next_row(r, f, 16, &nf, &err)) == 1) {
        if (nf == 1 && f[0].len == 0) break;
        double v[5];
        int ok = nf == 6;
        for (int k = 0; ok && k < 5; k++) ok = csv_parse_double(f[col[k]].p, f[col[k]].len, &v[k]) == 0;
        CHECK(ok, "%s:%ld: bad row", path, csv_line(r));
        if (!ok) continue;
        double d = geoloc_haversine_km(v[0], v[1], v[2], v[3]);
        double diff = fabs(d - v[4]);
        if (diff > *max_diff) *max_diff = diff;
        CHECK(diff <= tol, "%s:%ld: %.6f km recomputed, file says %.2f", path, csv_line(r), d,
              v[4]);
        if (n == cap) {
            cap = cap ? 2 * cap : 256;
            dist = realloc(dist, cap * sizeof *dist);
        }
        dist[n++] = d;
    }
    CHECK(rc == 1, "%s: no blank line before the summary", path);
    /* Summary header and row. */
    CHECK(csv_next_row(r, f, 16, &nf, &err) == 1 && nf == 6 &&
              csv_field_is(f[0], "street acc (1km)"), "%s: no summary header", path);
    double want[6];
    int ok = csv_next_row(r, f, 16, &nf, &err) == 1 && nf == 6;
    for (int k = 0; ok && k < 6; k++) ok = csv_parse_double(f[k].p, f[k].len, &want[k]) == 0;
    CHECK(ok, "%s: bad summary row", path);
    geoloc_distance_summary s;
    if (ok && n > 0 && geoloc_distance_summarize(dist, n, &s, &err) == GEOLOC_OK) {
        printf("%s: n=%zu", strrchr(path, '/') + 1, n);
        for (int t = 0; t < 5; t++) {
            /* Percentages to two decimals; the summary's fractions have six
             * decimals, so scale them as integers (0.64135 -> 64.14). */
            long long got = scaled(s.accuracy[t], 1e4);
            long long exp = (scaled(want[t], 1e6) + 50) / 100;
            CHECK(got == exp, "%s: accuracy at %g km %.2f%%, summary %.2f%%", path,
                  geoloc_thresholds[t].km, got / 100.0, exp / 100.0);
            CHECK(fabs(s.accuracy[t] - want[t]) <= 5e-7 + 1e-12, "%s: fraction %.9f vs %g", path,
                  s.accuracy[t], want[t]);
            printf(" %.2f%%", 100.0 * s.accuracy[t]);
        }
        CHECK(scaled(s.mean_km, 100) == scaled(want[5], 100), "%s: mean %.4f km, summary %.2f",
              path, s.mean_km, want[5]);
        printf(" mean %.2f km (summary %.2f)\n", s.mean_km, want[5]);
    }
    free(dist);
    csv_close(r);
    return n;
}

static void test_results_files(const char *shared) {
    char dir_path[4096];
    snprintf(dir_path, sizeof dir_path, "%s/geoestimation/results-im2gps", shared);
    DIR *dir = opendir(dir_path);
    CHECK(dir != NULL, "cannot open %s", dir_path);
    if (!dir) return;
    int files = 0;
    double max_diff = 0;
    struct dirent *e;
    while ((e = readdir(dir)) != NULL) {
        size_t len = strlen(e->d_name);
        if (len < 5 || strcmp(e->d_name + len - 4, ".csv")) continue;
        char path[8192];
        snprintf(path, sizeof path, "%s/%s", dir_path, e->d_name);
        size_t rows = check_results_file(path, &max_diff);
        CHECK(rows == 237, "%s: %zu rows, Im2GPS has 237", path, rows);
        files++;
    }
    closedir(dir);
    CHECK(files == 6, "%d results files in %s, expected 6", files, dir_path);
    printf("results files: %d, max |recomputed - great_circle_distance| = %.6f km\n", files,
           max_diff);
}

int main(int argc, char **argv) {
    const char *shared = argc > 1 ? argv[1] : NULL;
    const char *test_data = argc > 2 ? argv[2] : "tests/data";
    test_reference(test_data);
    test_properties();
    test_thresholds();
    test_summary_small();
    test_median_patterns();
    if (shared == NULL || access(shared, R_OK) != 0) {
        if (test_failed) TEST_END();
        printf("%d passed, %d failed before the shared-data part\n", test_passed, test_failed);
        require_shared_data(shared);
    }
    test_results_files(shared);
    TEST_END();
}
