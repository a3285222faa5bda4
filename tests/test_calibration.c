/* Calibrated confidence (geoloc/calibration.h): the temperature fit against
 * a brute-force NLL minimum, the conformal quantile, the coverage of the
 * fitted radii on fresh synthetic photos drawn from a known model, the model
 * file round trip (with and without a calibration), the calibrated answer,
 * evaluate's confidence figures on a tiny known set, and the author-grouped
 * folds of cross-fitted calibration. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "geoloc/calibration.h"
#include "geoloc/distance.h"
#include "geoloc/model.h"
#include "geoloc/transform.h"
#include "test_util.h"

static geoloc_rng rng;

/* A standard normal draw (Box-Muller). */
static double normal(void) {
    double u = geoloc_rng_uniform(&rng), v = geoloc_rng_uniform(&rng);
    return sqrt(-2 * log(u + 1e-300)) * cos(2 * M_PI * v);
}

/* Rows of softmax(logits) and true classes drawn from softmax(logits / t0). */
static void synthetic_classes(size_t n, size_t classes, double t0, float *dist, long *truth) {
    double *z = malloc(classes * sizeof *z);
    for (size_t i = 0; i < n; i++) {
        double top = -1e300, sum = 0, sum0 = 0;
        for (size_t k = 0; k < classes; k++) {
            z[k] = 3.0 * normal();
            if (z[k] > top) top = z[k];
        }
        for (size_t k = 0; k < classes; k++) sum += exp(z[k] - top), sum0 += exp((z[k] - top) / t0);
        for (size_t k = 0; k < classes; k++) dist[i * classes + k] = (float)(exp(z[k] - top) / sum);
        double u = geoloc_rng_uniform(&rng) * sum0, acc = 0;
        truth[i] = (long)classes - 1;
        for (size_t k = 0; k < classes; k++)
            if ((acc += exp((z[k] - top) / t0)) >= u) {
                truth[i] = (long)k;
                break;
            }
    }
    free(z);
}

static void test_temperature(void) {
    size_t n = 400, classes = 12;
    float *dist = malloc(n * classes * sizeof *dist);
    long *truth = malloc(n * sizeof *truth);
    synthetic_classes(n, classes, 2.5, dist, truth);
    double t = geoloc_calibration_fit_temperature(dist, n, classes, truth);
    double best_t = 0, best = INFINITY;
    for (double lt = log(0.05); lt <= log(20.0); lt += 0.0005) { /* brute force */
        double v = geoloc_calibration_nll(dist, n, classes, truth, exp(lt));
        if (v < best) best = v, best_t = exp(lt);
    }
    CHECK(fabs(t - best_t) / best_t < 0.002, "fitted temperature %.5f, brute-force minimum at %.5f", t, best_t);
    CHECK(geoloc_calibration_nll(dist, n, classes, truth, t) <= best + 1e-7, "NLL at the fit above the grid's");
    CHECK(t > 1.5 && t < 4, "an overconfident model (truth drawn at t0 = 2.5) gets t %.3f", t);
    long none[3] = {-1, -1, -1};
    CHECK(geoloc_calibration_fit_temperature(dist, 3, classes, none) == 1.0, "no true class: temperature 1");
    float row[3] = {0.7f, 0.2f, 0.1f};
    geoloc_calibration_temper(row, 3, 2.0);
    double e = sqrt(0.7) + sqrt(0.2) + sqrt(0.1);
    CHECK(fabs(row[0] - sqrt(0.7) / e) < 1e-6 && fabs(row[2] - sqrt(0.1) / e) < 1e-6, "tempered row %g %g %g",
          row[0], row[1], row[2]);
    free(dist);
    free(truth);
}

static void test_quantile(void) {
    double s[10] = {0.9, 0.1, 0.5, 0.3, 0.7, 0.2, 1.0, 0.4, 0.8, 0.6};
    CHECK(geoloc_conformal_quantile(s, 10, 0.5) == 0.6, "ceil(11 * 0.5) = 6th smallest: %g",
          geoloc_conformal_quantile(s, 10, 0.5));
    CHECK(geoloc_conformal_quantile(s, 10, 0.9) == 1.0, "ceil(11 * 0.9) = 10th: %g",
          geoloc_conformal_quantile(s, 10, 0.9));
    CHECK(geoloc_conformal_quantile(s, 10, 0.95) == 1.0, "beyond n: the largest");
}

/* A partition of cells around a few cities. */
static geoloc_partition *make_partition(void) {
    const double centers[5][2] = {{48.86, 2.35}, {40.71, -74.0}, {35.68, 139.69}, {-33.87, 151.21}, {-23.5, -46.6}};
    size_t n = 5000;
    double *lat = malloc(n * sizeof *lat), *lng = malloc(n * sizeof *lng);
    for (size_t k = 0; k < n; k++) {
        double spread = 0.05 + 8.0 * geoloc_rng_uniform(&rng) * geoloc_rng_uniform(&rng);
        lat[k] = centers[k % 5][0] + spread * (2 * geoloc_rng_uniform(&rng) - 1);
        lng[k] = centers[k % 5][1] + spread * (2 * geoloc_rng_uniform(&rng) - 1);
    }
    const uint64_t tau_max[1] = {200};
    geoloc_partition_params params = {.tau_min = 5, .tau_max = tau_max, .n_partitions = 1, .level_min = 2,
                                      .level_max = 30, .threads = 1};
    geoloc_partition *p = NULL;
    geoloc_error err = {0};
    if (geoloc_partitions_build(lat, lng, n, &params, &p, &err) != GEOLOC_OK) {
        fprintf(stderr, "partition: %s\n", err.message);
        exit(1);
    }
    free(lat);
    free(lng);
    return p;
}

/* n photos of a known generative model: the distribution is softmax of random
 * logits, the truth a cell drawn at temperature 2 and a point within 0.3 degrees
 * of its centre. */
static void synthetic_photos(const geoloc_partition *p, size_t n, float *dist, double *lat, double *lon) {
    long *cls = malloc(n * sizeof *cls);
    synthetic_classes(n, p->n, 2.0, dist, cls);
    for (size_t i = 0; i < n; i++) {
        lat[i] = p->lat[cls[i]] + 0.3 * (2 * geoloc_rng_uniform(&rng) - 1);
        lon[i] = p->lng[cls[i]] + 0.3 * (2 * geoloc_rng_uniform(&rng) - 1);
    }
    free(cls);
}

static void test_coverage(const geoloc_partition *p) {
    size_t n = 1500, m = 3000;
    float *dist = malloc((n + m) * p->n * sizeof *dist);
    double *lat = malloc((n + m) * sizeof *lat), *lon = malloc((n + m) * sizeof *lon);
    synthetic_photos(p, n + m, dist, lat, lon);
    geoloc_calibration_data d = {.part = p, .dist = dist, .lat = lat, .lon = lon, .n = n, .classes = p->n};
    geoloc_calibration *c = NULL;
    geoloc_error err = {0};
    CHECK(geoloc_calibration_fit(&d, &c, &err) == GEOLOC_OK, "fit: %s", err.message);
    if (!c) return;
    CHECK(c->temperature > 1.5 && c->temperature < 2.6, "temperature %.3f (truth drawn at 2)", c->temperature);
    CHECK(c->q50 > 0 && c->q50 <= c->q90 && c->q90 <= 1, "quantiles %g %g", c->q50, c->q90);
    size_t in50 = 0, in90 = 0;
    double sum90 = 0;
    float *row = malloc(p->n * sizeof *row);
    for (size_t i = n; i < n + m; i++) { /* fresh photos of the same model */
        memcpy(row, dist + i * p->n, p->n * sizeof *row);
        geoloc_calibration_temper(row, p->n, c->temperature);
        size_t best = 0;
        for (size_t k = 1; k < p->n; k++)
            if (row[k] > row[best]) best = k;
        double r50 = geoloc_calibration_radius(p, row, p->lat[best], p->lng[best], c->q50);
        double r90 = geoloc_calibration_radius(p, row, p->lat[best], p->lng[best], c->q90);
        double km = geoloc_haversine_km(lat[i], lon[i], p->lat[best], p->lng[best]);
        CHECK(r50 <= r90, "r50 %g > r90 %g", r50, r90);
        in50 += km <= r50;
        in90 += km <= r90;
        sum90 += r90;
    }
    double c50 = (double)in50 / (double)m, c90 = (double)in90 / (double)m;
    CHECK(fabs(c50 - 0.5) < 0.03, "coverage of r50 on fresh photos: %.4f", c50);
    CHECK(fabs(c90 - 0.9) < 0.02, "coverage of r90 on fresh photos: %.4f", c90);
    printf("synthetic: temperature %.3f, coverage %.4f (50 %%), %.4f (90 %%), mean r90 %.0f km\n", c->temperature,
           c50, c90, sum90 / (double)m);
    /* the mass function: all of it far away, none of it at radius 0 of a far point */
    memcpy(row, dist + n * p->n, p->n * sizeof *row);
    CHECK(fabs(geoloc_calibration_mass_within(p, row, 0, 0, 30000) - 1) < 1e-5, "all the mass within 30000 km");
    CHECK(geoloc_calibration_mass_within(p, row, -80, 0, 0) == 0, "no mass within 0 km of Antarctica");
    free(row);
    geoloc_calibration_free(c);
    d.n = 5;
    CHECK(geoloc_calibration_fit(&d, &c, &err) == GEOLOC_E_ARG, "5 photos refused");
    free(dist);
    free(lat);
    free(lon);
}

static geoloc_model *make_model(geoloc_partition *p) {
    geoloc_resnet_config cfg;
    geoloc_resnet_config_default(&cfg, 18, 1);
    geoloc_model *m = NULL;
    geoloc_error err = {0};
    const char *names[1] = {"cells"};
    if (geoloc_model_create(&cfg, (const geoloc_partition *const *)&p, names, 1, NULL, 7, &m, &err) != GEOLOC_OK) {
        fprintf(stderr, "create: %s\n", err.message);
        exit(1);
    }
    return m;
}

static void test_model_file(geoloc_partition *p) {
    geoloc_model *m = make_model(p);
    geoloc_error err = {0};
    const char *plain = test_temp_file("cal_plain");
    char plain_path[128];
    snprintf(plain_path, sizeof plain_path, "%s", plain);
    CHECK(geoloc_model_save(m, plain_path, 0, NULL, &err) == GEOLOC_OK, "save: %s", err.message);
    geoloc_model *back = NULL;
    CHECK(geoloc_model_load(plain_path, &back, &err) == GEOLOC_OK, "uncalibrated file: %s", err.message);
    CHECK(back && back->calibration == NULL, "an uncalibrated file loads without a calibration");
    /* an uncalibrated answer: no radius, never unknown */
    float *probs = malloc(p->n * sizeof *probs);
    for (size_t k = 0; k < p->n; k++) probs[k] = (float)(k == 0 ? 0.5 : 0.5 / (double)(p->n - 1));
    const float *geo[1] = {probs};
    geoloc_prediction pred;
    CHECK(back && geoloc_answer_from_probs(back, geo, NULL, 1, -1, 3, &pred, NULL, &err) == GEOLOC_OK, "answer");
    CHECK(!pred.calibrated && !pred.unknown, "uncalibrated answer");
    CHECK(fabs(pred.top[0].prob - 0.5) < 1e-6, "untempered probability %g", pred.top[0].prob);
    geoloc_model_free(back);

    geoloc_calibration *c = calloc(1, sizeof *c);
    *c = (geoloc_calibration){.temperature = 2.0, .q50 = 0.4, .q90 = 0.85, .max_radius_km = 3000,
                              .ood_threshold = 0.75, .photos = 321, .dim = 512};
    c->ood_mean = malloc(512 * sizeof(float));
    for (int j = 0; j < 512; j++) c->ood_mean[j] = (float)j / 7.0f;
    c->album[1] = (geoloc_album_calibration){.temperature = 9.5, .q50 = 0.25, .q90 = 0.75, .max_radius_km = 4000,
                                             .photos = 77}; /* logsum; mean left unfitted */
    m->calibration = c;
    const char *cal = test_temp_file("cal_model");
    char cal_path[128];
    snprintf(cal_path, sizeof cal_path, "%s", cal);
    CHECK(geoloc_model_save(m, cal_path, 0, NULL, &err) == GEOLOC_OK, "save calibrated: %s", err.message);
    CHECK(geoloc_model_load(cal_path, &back, &err) == GEOLOC_OK, "load calibrated: %s", err.message);
    const geoloc_calibration *b = back ? back->calibration : NULL;
    CHECK(b && b->temperature == 2.0 && b->q50 == 0.4 && b->q90 == 0.85 && b->max_radius_km == 3000 &&
              b->ood_threshold == 0.75 && b->photos == 321 && b->dim == 512,
          "calibration read back");
    CHECK(b && b->album[0].photos == 0 && b->album[1].temperature == 9.5 && b->album[1].q50 == 0.25 &&
              b->album[1].q90 == 0.75 && b->album[1].max_radius_km == 4000 && b->album[1].photos == 77,
          "album calibration read back (logsum fitted, mean not)");
    CHECK(b && !memcmp(b->ood_mean, c->ood_mean, 512 * sizeof(float)), "OOD statistics read back");
    float same[512], opposite[512];
    for (int j = 0; j < 512; j++) same[j] = 3 * c->ood_mean[j], opposite[j] = -c->ood_mean[j];
    CHECK(b && fabs(geoloc_calibration_ood_score(b, same)) < 1e-6 &&
              fabs(geoloc_calibration_ood_score(b, opposite) - 2) < 1e-6,
          "cosine distance: 0 along the mean, 2 against it");
    CHECK(back && geoloc_model_get_meta(back, "geoloc.calibration") == NULL, "the format's key is not extra metadata");
    /* the calibrated answer: tempered, radii ordered, unknown by the radius */
    CHECK(back && geoloc_answer_from_probs(back, geo, NULL, 1, -1, 3, &pred, NULL, &err) == GEOLOC_OK, "answer");
    double e = sqrt(0.5) + (double)(p->n - 1) * sqrt(0.5 / (double)(p->n - 1));
    CHECK(pred.calibrated && fabs(pred.top[0].prob - sqrt(0.5) / e) < 1e-5, "tempered probability %g vs %g",
          pred.top[0].prob, sqrt(0.5) / e);
    CHECK(pred.radius_km[0] <= pred.radius_km[1] && pred.radius_km[0] >= 0, "radii %g %g", pred.radius_km[0],
          pred.radius_km[1]);
    CHECK(pred.unknown == (pred.radius_km[0] > 3000), "unknown by the radius");
    geoloc_model_free(back);
    back = NULL;
    /* an album calibration out of range (a negative temperature) is refused, naming the key */
    FILE *fp = fopen(cal_path, "r+b");
    char head[8192];
    size_t got = fp ? fread(head, 1, sizeof head, fp) : 0;
    char *at = NULL;
    for (size_t i = 0; !at && i + 17 <= got; i++)
        if (!memcmp(head + i, "album_logsum=9.5,", 17)) at = head + i;
    CHECK(at != NULL, "the album calibration is in the file's metadata");
    if (fp && at) {
        fseek(fp, (long)(at - head) + 13, SEEK_SET);
        fputc('-', fp);
    }
    if (fp) fclose(fp);
    CHECK(geoloc_model_load(cal_path, &back, &err) == GEOLOC_E_PARSE && strstr(err.message, "album_logsum"),
          "a negative album temperature refused: %s", err.message);
    geoloc_model_free(back);
    free(probs);
    geoloc_model_free(m);
    unlink(plain_path);
    unlink(cal_path);
}

static void test_summary(void) {
    double km[4] = {0, 100, 1000, 5000}, r50[4] = {50, 50, 2000, NAN}, r90[4] = {200, 150, 2000, NAN};
    unsigned char unknown[4] = {0, 1, 0, 0};
    geoloc_confidence_summary s;
    geoloc_error err = {0};
    CHECK(geoloc_confidence_summarize(km, r50, r90, unknown, 4, &s, &err) == GEOLOC_OK, "summary: %s", err.message);
    CHECK(s.n == 4 && s.n_radius == 3, "n %zu, with radii %zu", s.n, s.n_radius);
    CHECK(fabs(s.coverage[0] - 2.0 / 3.0) < 1e-12 && s.coverage[1] == 1.0, "coverage %g %g", s.coverage[0],
          s.coverage[1]);
    CHECK(s.median_radius_km[0] == 50 && s.median_radius_km[1] == 200, "median radii %g %g", s.median_radius_km[0],
          s.median_radius_km[1]);
    double g[4] = {5000, 5000 * exp(-100 / 1492.7), 5000 * exp(-1000 / 1492.7), 5000 * exp(-5000 / 1492.7)};
    CHECK(fabs(s.geoscore_mean - (g[0] + g[1] + g[2] + g[3]) / 4) < 1e-9, "GeoScore mean %g", s.geoscore_mean);
    CHECK(fabs(s.geoscore_median - (g[1] + g[2]) / 2) < 1e-9, "GeoScore median %g", s.geoscore_median);
    CHECK(fabs(geoloc_geoscore(1492.7) - 5000 / M_E) < 1e-9, "GeoScore at the scale: 5000/e");
    CHECK(s.constant_radius90_km == 5000, "constant radius of 90 %% of 4 photos: the 4th error, %g",
          s.constant_radius90_km);
    CHECK(s.n_answered == 3 && fabs(s.answered_share - 0.75) < 1e-12, "answered %zu", s.n_answered);
    CHECK(s.answered.n == 3 && fabs(s.answered.accuracy[0] - 1.0 / 3.0) < 1e-12 &&
              fabs(s.answered.accuracy[4] - 2.0 / 3.0) < 1e-12 && s.answered.median_km == 1000,
          "accuracy of the answered: 1 km %g, 2500 km %g, median %g", s.answered.accuracy[0], s.answered.accuracy[4],
          s.answered.median_km);
    CHECK(geoloc_confidence_summarize(km, NULL, NULL, NULL, 4, &s, &err) == GEOLOC_OK && s.n_radius == 0 &&
              s.n_answered == 4,
          "no radii, all answered");
    CHECK(geoloc_confidence_summarize(km, r50, r90, unknown, 0, &s, &err) == GEOLOC_E_EMPTY, "empty");
}

/* Author-grouped folds: every photo in exactly one fold, an author's photos never split,
 * the folds as even as the groups allow, the same folds for the same seed. */
static void test_folds(void) {
    enum { N = 400, K = 5, AUTHORS = 40 };
    static char name[AUTHORS][16];
    const char *author[N];
    int fold[N], again[N], other[N];
    size_t per_author[AUTHORS] = {0};
    for (int a = 0; a < AUTHORS; a++) snprintf(name[a], sizeof name[a], "author%d", a);
    for (int i = 0; i < N; i++) { /* one big author, a few middling, many small, some without */
        int a = i < 120 ? 0 : i < 200 ? 1 + i % 4 : 5 + i % (AUTHORS - 5);
        author[i] = i % 37 == 0 ? "" : name[a];
        fold[i] = again[i] = other[i] = -1;
        if (author[i][0]) per_author[a]++;
    }
    geoloc_error err = {0};
    CHECK(geoloc_calibration_folds(author, N, K, 1, fold, &err) == GEOLOC_OK, "folds: %s", err.message);
    size_t size[K] = {0}, largest_author = 0, bad = 0;
    for (int i = 0; i < N; i++) {
        if (fold[i] < 0 || fold[i] >= K) bad++;
        else size[fold[i]]++;
    }
    CHECK(bad == 0, "%zu photos in no fold", bad);
    size_t total = 0;
    for (int k = 0; k < K; k++) total += size[k];
    CHECK(total == N, "every photo once: %zu of %d", total, N);
    for (int i = 0; i < N; i++)
        for (int j = i + 1; j < N; j++)
            if (author[i][0] && !strcmp(author[i], author[j]) && fold[i] != fold[j]) bad++;
    CHECK(bad == 0, "%zu pairs of one author's photos in two folds", bad);
    for (int a = 0; a < AUTHORS; a++)
        if (per_author[a] > largest_author) largest_author = per_author[a];
    for (int k = 0; k < K; k++) /* the big author's fold holds it alone; the others share the rest evenly */
        CHECK(size[k] >= (N - largest_author) / (K - 1) - 12 && size[k] <= largest_author + 12,
              "fold %d holds %zu photos", k, size[k]);
    CHECK(geoloc_calibration_folds(author, N, K, 1, again, &err) == GEOLOC_OK &&
              !memcmp(fold, again, sizeof fold),
          "the same seed, the same folds");
    CHECK(geoloc_calibration_folds(author, N, K, 2, other, &err) == GEOLOC_OK && memcmp(fold, other, sizeof fold),
          "another seed, other folds");
    CHECK(geoloc_calibration_folds(author, N, 1, 1, fold, &err) == GEOLOC_E_ARG, "one fold refused");
    CHECK(geoloc_calibration_folds(author, 3, 4, 1, fold, &err) == GEOLOC_E_ARG, "more folds than photos refused");
}

int main(void) {
    geoloc_rng_seed(&rng, 2026, 12, 0);
    test_temperature();
    test_quantile();
    geoloc_partition *p = make_partition();
    test_coverage(p);
    test_model_file(p);
    geoloc_partition_free(p);
    test_summary();
    test_folds();
    TEST_END();
}
