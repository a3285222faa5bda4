/* Album fusion (geoloc/album.h) on the tiny model (tiny_model.h: partitions
 * of 1, 2 and 3 cells nested into a complete hierarchy, a scene head of 3):
 * synthetic per-crop probabilities of a few photos, the album answers checked
 * against a direct computation (photo averages, their mean or normalised
 * floored geometric mean per partition, the hierarchical product over ancestors);
 * a one-photo album against the photo's own answer, the order of the photos,
 * the calibration, bad input, and grouping by keys. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "geoloc/album.h"
#include "geoloc/calibration.h"
#include "test_util.h"
#include "tiny_model.h"

#define PHOTOS 4
#define CROPS 3

static geoloc_model *model;
static float *geo[PHOTOS][3];   /* CROPS rows of partition f's classes */
static float *scene[PHOTOS];    /* CROPS rows of 3 scenes */

/* A random distribution of n values into row (some near zero, one exactly zero when zero_at < n). */
static void random_row(float *row, size_t n, unsigned *seed, size_t zero_at) {
    double total = 0;
    for (size_t k = 0; k < n; k++) total += row[k] = k == zero_at ? 0.0f : (float)(0.01 + rand_r(seed) % 1000);
    for (size_t k = 0; k < n; k++) row[k] = (float)(row[k] / total);
}

static void make_photos(void) {
    unsigned seed = 7;
    for (int i = 0; i < PHOTOS; i++) {
        for (int f = 0; f < 3; f++) {
            size_t n = model->partitions[f]->n;
            geo[i][f] = malloc(CROPS * n * sizeof(float));
            for (int c = 0; c < CROPS; c++)
                random_row(geo[i][f] + c * n, n, &seed, i == 2 && f == 2 ? 1 : (size_t)-1); /* photo 2 rules out a cell */
        }
        scene[i] = malloc(CROPS * 3 * sizeof(float));
        for (int c = 0; c < CROPS; c++) random_row(scene[i] + c * 3, 3, &seed, (size_t)-1);
    }
}

/* Photo i's crop average of partition f (or of the scene, f = 3), class k. */
static double photo_mean(int i, int f, size_t k) {
    size_t n = f < 3 ? model->partitions[f]->n : 3;
    const float *rows = f < 3 ? geo[i][f] : scene[i];
    double s = 0;
    for (int c = 0; c < CROPS; c++) s += rows[c * n + k];
    return s / CROPS;
}

/* The direct fusion of photos[0..n) for partition f, class k (unnormalised
 * for logsum: the geometric mean of the floored probabilities). */
static double fused_direct(const size_t *photos, size_t n, geoloc_album_method method, int f, size_t k) {
    double v = method == GEOLOC_ALBUM_MEAN ? 0 : 1;
    for (size_t i = 0; i < n; i++) {
        double p = photo_mean((int)photos[i], f, k);
        if (method == GEOLOC_ALBUM_MEAN) v += p / (double)n;
        else v *= p > GEOLOC_ALBUM_LOG_FLOOR ? p : GEOLOC_ALBUM_LOG_FLOOR;
    }
    return method == GEOLOC_ALBUM_MEAN ? v : pow(v, 1.0 / (double)n);
}

/* The direct hierarchical distribution over the fine cells: each fused
 * partition normalised, the fine cell's value times its ancestors', normalised. */
static void direct_answer(const size_t *photos, size_t n, geoloc_album_method method, double *fine) {
    double part[3][3], total;
    for (int f = 0; f < 3; f++) {
        size_t classes = model->partitions[f]->n;
        total = 0;
        for (size_t k = 0; k < classes; k++) total += part[f][k] = fused_direct(photos, n, method, f, k);
        for (size_t k = 0; k < classes; k++) part[f][k] /= total;
    }
    total = 0;
    for (size_t k = 0; k < 3; k++) {
        fine[k] = part[2][k];
        for (int c = 0; c < 2; c++) fine[k] *= part[c][model->ancestor[2][c][k]];
        total += fine[k];
    }
    for (size_t k = 0; k < 3; k++) fine[k] /= total;
}

static geoloc_album_probs *stored(void) {
    geoloc_album_probs *a = NULL;
    geoloc_error err = {0};
    CHECK(geoloc_album_probs_create(model, PHOTOS, &a, &err) == GEOLOC_OK, "%s", err.message);
    for (int i = 0; a && i < PHOTOS; i++) {
        const float *rows[3] = {geo[i][0], geo[i][1], geo[i][2]};
        CHECK(geoloc_album_probs_set(a, (size_t)i, rows, scene[i], CROPS, &err) == GEOLOC_OK, "%s", err.message);
    }
    return a;
}

static void check_fusion(geoloc_album_probs *a, geoloc_album_method method) {
    const char *name = geoloc_album_method_name(method);
    size_t photos[PHOTOS] = {0, 1, 2, 3};
    geoloc_predict_options opt = geoloc_predict_options_default();
    opt.top_k = 3;
    geoloc_prediction got;
    float dist[3];
    double want[3];
    geoloc_error err = {0};
    CHECK(geoloc_album_answer(a, photos, PHOTOS, method, &opt, &got, dist, &err) == GEOLOC_OK, "%s", err.message);
    direct_answer(photos, PHOTOS, method, want);
    int best = 0;
    for (int k = 0; k < 3; k++) {
        CHECK(fabs(dist[k] - want[k]) < 1e-5, "%s: cell %d: %g, directly %g", name, k, (double)dist[k], want[k]);
        if (want[k] > want[best]) best = k;
    }
    CHECK(got.top[0].cls == best && got.n_top == 3, "%s: best cell %d, directly %d", name, got.top[0].cls, best);
    CHECK(got.lat == model->partitions[2]->lat[best] && got.lon == model->partitions[2]->lng[best],
          "%s: Class2GPS of the best cell", name);
    CHECK(fabs(got.top[0].prob - want[best]) < 1e-5, "%s: top probability", name);
    int scene_best = 0;
    for (size_t k = 1; k < 3; k++)
        if (fused_direct(photos, PHOTOS, method, 3, k) > fused_direct(photos, PHOTOS, method, 3, (size_t)scene_best))
            scene_best = (int)k;
    CHECK(got.scene[0] == scene_best, "%s: scene %d, directly %d", name, got.scene[0], scene_best);

    /* one partition: its fused distribution itself */
    opt.partition = 1;
    float dist1[2];
    CHECK(geoloc_album_answer(a, photos, PHOTOS, method, &opt, &got, dist1, &err) == GEOLOC_OK, "%s", err.message);
    double d0 = fused_direct(photos, PHOTOS, method, 1, 0), d1 = fused_direct(photos, PHOTOS, method, 1, 1);
    CHECK(got.partition == 1 && fabs(dist1[0] - d0 / (d0 + d1)) < 1e-5, "%s: partition 1: %g, directly %g", name,
          (double)dist1[0], d0 / (d0 + d1));

    /* the order of the photos does not matter */
    opt.partition = -1;
    size_t shuffled[PHOTOS] = {2, 0, 3, 1};
    geoloc_prediction again;
    float dist2[3];
    CHECK(geoloc_album_answer(a, shuffled, PHOTOS, method, &opt, &again, dist2, &err) == GEOLOC_OK, "%s", err.message);
    for (int k = 0; k < 3; k++)
        CHECK(fabs(dist2[k] - dist[k]) < 1e-6, "%s: order changes cell %d: %g vs %g", name, k, (double)dist2[k],
              (double)dist[k]);
}

/* PRIOR: a photo's answer is its own distribution times the mean of the
 * album's other photos, per partition, then the hierarchy; alone, itself. */
static void check_prior(geoloc_album_probs *a) {
    size_t photos[PHOTOS] = {0, 1, 2, 3}, others[PHOTOS - 1];
    geoloc_predict_options opt = geoloc_predict_options_default();
    opt.top_k = 3;
    geoloc_error err = {0};
    for (size_t p = 0; p < PHOTOS; p++) {
        size_t n = 0;
        for (size_t i = 0; i < PHOTOS; i++)
            if (i != p) others[n++] = i;
        double part[3][3], fine[3], total = 0;
        for (int f = 0; f < 3; f++) {
            double sum = 0;
            for (size_t k = 0; k < model->partitions[f]->n; k++)
                sum += part[f][k] = photo_mean((int)p, f, k) * fused_direct(others, n, GEOLOC_ALBUM_MEAN, f, k);
            for (size_t k = 0; k < model->partitions[f]->n; k++) part[f][k] /= sum;
        }
        for (size_t k = 0; k < 3; k++) {
            fine[k] = part[2][k];
            for (int c = 0; c < 2; c++) fine[k] *= part[c][model->ancestor[2][c][k]];
            total += fine[k];
        }
        geoloc_prediction got, alone;
        float dist[3];
        CHECK(geoloc_album_answer_photo(a, photos, PHOTOS, p, &opt, &got, dist, &err) == GEOLOC_OK, "%s",
              err.message);
        for (int k = 0; k < 3; k++)
            CHECK(fabs(dist[k] - fine[k] / total) < 1e-5, "prior: photo %zu, cell %d: %g, directly %g", p, k,
                  (double)dist[k], fine[k] / total);
        CHECK(geoloc_album_answer_photo(a, &p, 1, p, &opt, &got, NULL, &err) == GEOLOC_OK &&
                  geoloc_album_answer(a, &p, 1, GEOLOC_ALBUM_MEAN, &opt, &alone, NULL, &err) == GEOLOC_OK,
              "%s", err.message);
        CHECK(got.top[0].cls == alone.top[0].cls && fabs(got.top[0].prob - alone.top[0].prob) < 1e-6,
              "prior: photo %zu alone answers as itself", p);
    }
    geoloc_prediction got;
    CHECK(geoloc_album_answer(a, photos, PHOTOS, GEOLOC_ALBUM_PRIOR, &opt, &got, NULL, &err) == GEOLOC_E_ARG,
          "prior refused as one answer for the album");
}

/* A one-photo album answers as the photo alone (geoloc_answer_from_probs on its crops). */
static void check_one_photo(geoloc_album_probs *a, geoloc_album_method method) {
    geoloc_predict_options opt = geoloc_predict_options_default();
    opt.top_k = 3;
    geoloc_error err = {0};
    for (size_t i = 0; i < PHOTOS; i++) {
        geoloc_prediction alone, album;
        const float *rows[3] = {geo[i][0], geo[i][1], geo[i][2]};
        CHECK(geoloc_answer_from_probs(model, rows, scene[i], CROPS, -1, 3, &alone, NULL, &err) == GEOLOC_OK, "%s",
              err.message);
        CHECK(geoloc_album_answer(a, &i, 1, method, &opt, &album, NULL, &err) == GEOLOC_OK, "%s", err.message);
        CHECK(album.lat == alone.lat && album.lon == alone.lon && album.n_top == alone.n_top &&
              album.scene[0] == alone.scene[0] && album.calibrated == alone.calibrated,
              "%s: photo %zu alone and as an album differ", geoloc_album_method_name(method), i);
        for (int k = 0; k < alone.n_top; k++) {
            /* logsum floors a zero: the ruled-out cell keeps a tiny value */
            double tol = method == GEOLOC_ALBUM_LOGSUM && i == 2 ? 1e-4 : 1e-5;
            CHECK(album.top[k].cls == alone.top[k].cls && fabs(album.top[k].prob - alone.top[k].prob) < tol,
                  "%s: photo %zu: top %d: %d %g vs %d %g", geoloc_album_method_name(method), i, k, album.top[k].cls,
                  (double)album.top[k].prob, alone.top[k].cls, (double)alone.top[k].prob);
        }
        if (alone.calibrated)
            CHECK(fabs(album.radius_km[0] - alone.radius_km[0]) < 1e-3 * alone.radius_km[0] &&
                  fabs(album.radius_km[1] - alone.radius_km[1]) < 1e-3 * alone.radius_km[1],
                  "photo %zu: radii %g/%g vs %g/%g", i, album.radius_km[0], album.radius_km[1], alone.radius_km[0],
                  alone.radius_km[1]);
    }
}

/* The floor: a cell one photo gives 0 keeps a (small) probability under logsum. */
static void check_floor(geoloc_album_probs *a) {
    size_t photos[2] = {1, 2};
    geoloc_predict_options opt = geoloc_predict_options_default();
    opt.partition = 2;
    float dist[3];
    geoloc_prediction got;
    geoloc_error err = {0};
    CHECK(photo_mean(2, 2, 1) == 0, "photo 2 gives cell 1 no probability");
    CHECK(geoloc_album_answer(a, photos, 2, GEOLOC_ALBUM_LOGSUM, &opt, &got, dist, &err) == GEOLOC_OK, "%s",
          err.message);
    CHECK(dist[1] > 0, "logsum: the floor keeps cell 1 (%g)", (double)dist[1]);
}

static void check_bad_input(geoloc_album_probs *full) {
    geoloc_album_probs *a = NULL;
    geoloc_error err = {0};
    geoloc_predict_options opt = geoloc_predict_options_default();
    geoloc_prediction got;
    CHECK(geoloc_album_probs_create(model, 2, &a, &err) == GEOLOC_OK, "%s", err.message);
    size_t photos[2] = {0, 1};
    const float *rows[3] = {geo[0][0], geo[0][1], geo[0][2]};
    CHECK(geoloc_album_probs_set(a, 0, rows, scene[0], CROPS, &err) == GEOLOC_OK, "%s", err.message);
    CHECK(geoloc_album_answer(a, photos, 2, GEOLOC_ALBUM_MEAN, &opt, &got, NULL, &err) == GEOLOC_E_ARG,
          "a photo without probabilities is refused");
    CHECK(geoloc_album_probs_set(a, 2, rows, scene[0], CROPS, &err) == GEOLOC_E_ARG, "photo out of range");
    float *nan_rows = malloc(CROPS * 3 * sizeof(float));
    memcpy(nan_rows, geo[1][2], CROPS * 3 * sizeof(float));
    nan_rows[4] = NAN;
    const float *bad[3] = {geo[1][0], geo[1][1], nan_rows};
    CHECK(geoloc_album_probs_set(a, 1, bad, scene[1], CROPS, &err) == GEOLOC_E_RANGE, "NaN refused");
    CHECK(geoloc_album_answer(a, photos, 2, GEOLOC_ALBUM_MEAN, &opt, &got, NULL, &err) == GEOLOC_E_ARG,
          "the refused photo has no probabilities");
    CHECK(geoloc_album_answer(full, photos, 0, GEOLOC_ALBUM_MEAN, &opt, &got, NULL, &err) == GEOLOC_E_ARG,
          "an empty album is refused");
    CHECK(geoloc_album_answer(full, photos, 2, (geoloc_album_method)7, &opt, &got, NULL, &err) == GEOLOC_E_ARG,
          "an unknown method is refused");
    CHECK(geoloc_album_method_parse("mean") == GEOLOC_ALBUM_MEAN &&
          geoloc_album_method_parse("logsum") == GEOLOC_ALBUM_LOGSUM && geoloc_album_method_parse("lstm") == -1,
          "method names");
    free(nan_rows);
    geoloc_album_probs_free(a);
}

/* All albums at once: each as geoloc_album_answer gives it. */
static void check_answer_all(geoloc_album_probs *a) {
    size_t album_of[PHOTOS] = {1, 0, 1, 3}, size[4], first[2] = {0, 2};
    geoloc_prediction out[4], one;
    float d0[3], d1[3], d2[3], d3[3], want[3];
    float *dists[4] = {d0, d1, d2, d3};
    geoloc_predict_options opt = geoloc_predict_options_default();
    geoloc_error err = {0};
    CHECK(geoloc_album_answer_all(a, album_of, 4, GEOLOC_ALBUM_LOGSUM, &opt, out, size, dists, &err) == GEOLOC_OK,
          "%s", err.message);
    CHECK(size[0] == 1 && size[1] == 2 && size[2] == 0 && size[3] == 1, "sizes %zu %zu %zu %zu", size[0], size[1],
          size[2], size[3]);
    CHECK(geoloc_album_answer(a, first, 2, GEOLOC_ALBUM_LOGSUM, &opt, &one, want, &err) == GEOLOC_OK, "%s",
          err.message);
    CHECK(out[1].top[0].cls == one.top[0].cls && !memcmp(d1, want, sizeof want), "album 1 = photos 0 and 2");
    CHECK(out[2].n_top == 0, "an album without photos has no answer");
}

/* Keys of a manifest's rows: AUTHOR or an extra column, empty values alone. */
static void check_manifest_keys(void) {
    const char *extra_names[1] = {"TRIP"};
    geoloc_manifest *m = NULL;
    geoloc_error err = {0};
    CHECK(geoloc_manifest_new(GEOLOC_COL_AUTHOR, extra_names, 1, &m, &err) == GEOLOC_OK, "%s", err.message);
    const char *authors[3] = {"ann", "", "bob"}, *trips[3] = {"rome", "rome", NULL};
    for (int k = 0; m && k < 3; k++) {
        geoloc_manifest_row row = {.id = "x.jpg", .lat = 1, .lng = 2, .author = authors[k], .label = {-1, -1, -1}};
        CHECK(geoloc_manifest_append(m, &row, &trips[k], &err) == GEOLOC_OK, "%s", err.message);
    }
    const char *keys[3];
    CHECK(geoloc_album_manifest_keys(m, "author", keys, &err) == GEOLOC_OK, "%s", err.message);
    CHECK(keys[0] && !strcmp(keys[0], "ann") && !keys[1] && keys[2] && !strcmp(keys[2], "bob"), "AUTHOR keys");
    CHECK(geoloc_album_manifest_keys(m, "TRIP", keys, &err) == GEOLOC_OK, "%s", err.message);
    CHECK(keys[0] && keys[1] && !strcmp(keys[0], keys[1]) && !keys[2], "TRIP keys");
    CHECK(geoloc_album_manifest_keys(m, "DAY", keys, &err) == GEOLOC_E_ARG && strstr(err.message, "DAY"),
          "an unknown column is refused by name");
    geoloc_manifest_free(m);
}

static void check_group(void) {
    const char *keys[7] = {"b", "a", NULL, "b", NULL, "a", "c"};
    size_t album[7], n = 99, want[7] = {0, 1, 2, 0, 3, 1, 4};
    geoloc_error err = {0};
    CHECK(geoloc_album_group(keys, 7, album, &n, &err) == GEOLOC_OK, "%s", err.message);
    CHECK(n == 5, "5 albums, got %zu", n);
    for (int i = 0; i < 7; i++) CHECK(album[i] == want[i], "photo %d: album %zu, want %zu", i, album[i], want[i]);
    CHECK(geoloc_album_group(keys, 0, album, &n, &err) == GEOLOC_OK && n == 0, "no photos: no albums");
}

/* The answer of an album of the 4 photos (n 4) or of photo 0 alone (n 1). */
static geoloc_prediction answer_of(const geoloc_album_probs *a, size_t n, geoloc_album_method method) {
    size_t photos[PHOTOS] = {0, 1, 2, 3};
    geoloc_predict_options opt = geoloc_predict_options_default();
    opt.max_radius_km = 0;
    geoloc_prediction got;
    geoloc_error err = {0};
    CHECK(geoloc_album_answer(a, photos, n, method, &opt, &got, NULL, &err) == GEOLOC_OK, "%s", err.message);
    return got;
}

static int same_answer(const geoloc_prediction *x, const geoloc_prediction *y) {
    return x->calibrated && y->calibrated && x->top[0].cls == y->top[0].cls &&
           fabs(x->top[0].prob - y->top[0].prob) < 1e-6 && fabs(x->radius_km[0] - y->radius_km[0]) < 1e-6 &&
           fabs(x->radius_km[1] - y->radius_km[1]) < 1e-6 && x->unknown == y->unknown;
}

/* An album calibration of a method is used for that method's albums of 2 or
 * more photos exactly as if it were the model's calibration; other methods and
 * one-photo albums keep the model's. cal is the model's calibration. */
static void check_album_calibration(const geoloc_album_probs *a, geoloc_calibration *cal) {
    geoloc_calibration photo = *cal, album = *cal;
    geoloc_prediction mean = answer_of(a, PHOTOS, GEOLOC_ALBUM_MEAN), one = answer_of(a, 1, GEOLOC_ALBUM_LOGSUM);
    album.temperature = 7.0;
    album.q50 = 0.3;
    album.q90 = 0.8;
    album.max_radius_km = 50;
    *cal = album;
    geoloc_prediction as_model = answer_of(a, PHOTOS, GEOLOC_ALBUM_LOGSUM);
    *cal = photo;
    cal->album[GEOLOC_ALBUM_LOGSUM] = (geoloc_album_calibration){7.0, 0.3, 0.8, 50, 40};
    geoloc_prediction fitted = answer_of(a, PHOTOS, GEOLOC_ALBUM_LOGSUM);
    geoloc_prediction mean2 = answer_of(a, PHOTOS, GEOLOC_ALBUM_MEAN), one2 = answer_of(a, 1, GEOLOC_ALBUM_LOGSUM);
    CHECK(same_answer(&fitted, &as_model), "logsum album: its calibration (p %g, r50 %g) as the model's (p %g, r50 %g)",
          fitted.top[0].prob, fitted.radius_km[0], as_model.top[0].prob, as_model.radius_km[0]);
    CHECK(fitted.unknown == (fitted.radius_km[0] > 50), "logsum album: unknown by its own max radius");
    CHECK(same_answer(&mean, &mean2), "mean album: the model's calibration (no mean album calibration)");
    CHECK(same_answer(&one, &one2), "one-photo album: the photo's calibration");
    *cal = photo;
    geoloc_prediction plain = answer_of(a, PHOTOS, GEOLOC_ALBUM_LOGSUM);
    CHECK(fabs(fitted.top[0].prob - plain.top[0].prob) > 1e-4, "the album's temperature changes its probability "
          "(%g with it, %g with the photos')", fitted.top[0].prob, plain.top[0].prob);
}

int main(void) {
    model = tiny_model_create();
    make_photos();
    geoloc_album_probs *a = stored();
    check_fusion(a, GEOLOC_ALBUM_MEAN);
    check_fusion(a, GEOLOC_ALBUM_LOGSUM);
    check_one_photo(a, GEOLOC_ALBUM_MEAN);
    check_one_photo(a, GEOLOC_ALBUM_LOGSUM);
    check_floor(a);
    check_prior(a);
    check_bad_input(a);
    check_group();
    check_answer_all(a);
    check_manifest_keys();

    /* calibrated: tempered scores and radii, the same for a photo and its one-photo album */
    geoloc_calibration *cal = calloc(1, sizeof *cal);
    *cal = (geoloc_calibration){.temperature = 2.0, .q50 = 0.5, .q90 = 0.9, .max_radius_km = 1e9};
    model->calibration = cal;
    check_one_photo(a, GEOLOC_ALBUM_MEAN);
    size_t photos[PHOTOS] = {0, 1, 2, 3};
    geoloc_predict_options opt = geoloc_predict_options_default();
    opt.max_radius_km = 1e-3;
    geoloc_prediction got;
    geoloc_error err = {0};
    CHECK(geoloc_album_answer(a, photos, PHOTOS, GEOLOC_ALBUM_MEAN, &opt, &got, NULL, &err) == GEOLOC_OK, "%s",
          err.message);
    CHECK(got.calibrated && got.radius_km[0] > 0 && got.unknown, "calibrated album: radii, unknown by max radius");
    check_album_calibration(a, cal);

    geoloc_album_probs_free(a);
    for (int i = 0; i < PHOTOS; i++) {
        for (int f = 0; f < 3; f++) free(geo[i][f]);
        free(scene[i]);
    }
    geoloc_model_free(model);
    TEST_END();
}
