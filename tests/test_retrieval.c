/* The feature index and the retrieval answers: exact top-k against a
 * double-precision brute-force scan of the stored vectors, recall of f16 and
 * int8 against the original floats, the photo never its own neighbour, the
 * file round trip, the checksum and backbone refusals, the knn density mode
 * and the hybrid answer staying in the classifier's cell. */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "geoloc/distance.h"
#include "geoloc/retrieval.h"
#include "geoloc/s2.h"
#include "model/retrieval_internal.h"
#include "test_util.h"

#define N 600
#define DIM 200 /* not a multiple of 16 or 32: the SIMD tails are used */
#define K 10

static uint64_t rng = 88172645463325252ull;
static double gauss(void) {
    double u[2];
    for (int i = 0; i < 2; i++) {
        rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
        u[i] = ((double)(rng >> 11) + 0.5) / 9007199254740992.0;
    }
    return sqrt(-2 * log(u[0])) * cos(2 * M_PI * u[1]);
}

/* Stored row r as doubles (the index's own dequantised values). */
static void stored_row(const geoloc_index *ix, size_t r, double *out) {
    for (int j = 0; j < ix->dim; j++) {
        if (ix->precision == GEOLOC_INDEX_F16) {
            _Float16 h;
            memcpy(&h, (const uint16_t *)ix->vec + r * (size_t)ix->dim + j, 2);
            out[j] = (double)h;
        } else {
            out[j] = ((const int8_t *)ix->vec)[r * (size_t)ix->dim + j] * (double)ix->scale[r];
        }
    }
}

/* Brute force in double: the K best rows of `rows` (n x DIM) for q, best first. */
static void brute_top(const double *rows, size_t n, const float *q, size_t *best, double *best_sim) {
    double qn = 0;
    for (int j = 0; j < DIM; j++) qn += (double)q[j] * q[j];
    qn = sqrt(qn);
    for (int t = 0; t < K; t++) best_sim[t] = -INFINITY;
    for (size_t r = 0; r < n; r++) {
        double s = 0, rn = 0;
        for (int j = 0; j < DIM; j++) s += rows[r * DIM + j] * q[j], rn += rows[r * DIM + j] * rows[r * DIM + j];
        s /= qn * sqrt(rn);
        for (int t = 0; t < K; t++)
            if (s > best_sim[t]) {
                for (int u = K - 1; u > t; u--) best_sim[u] = best_sim[u - 1], best[u] = best[u - 1];
                best_sim[t] = s, best[t] = r;
                break;
            }
    }
}

static float *vectors, *queries;

static void check_precision(geoloc_index_precision prec, double min_recall) {
    geoloc_index *ix;
    geoloc_error err = {0};
    CHECK(geoloc_index_create(DIM, prec, "resnet50:test.safetensors", &ix, &err) == GEOLOC_OK, "%s", err.message);
    for (size_t r = 0; r < N; r++) {
        char id[32];
        snprintf(id, sizeof id, "photo%zu.jpg", r);
        CHECK(geoloc_index_add(ix, id, -60 + (double)r * 0.2, -170 + (double)r * 0.5, vectors + r * DIM, &err) ==
                  GEOLOC_OK, "%s", err.message);
    }
    double *stored = malloc(sizeof(double) * N * DIM), *orig = malloc(sizeof(double) * N * DIM);
    for (size_t r = 0; r < N; r++) stored_row(ix, r, stored + r * DIM);
    for (size_t i = 0; i < (size_t)N * DIM; i++) orig[i] = vectors[i];
    int exact_ok = 1;
    size_t found = 0;
    for (int qi = 0; qi < 20; qi++) {
        const float *q = queries + (size_t)qi * DIM;
        geoloc_neighbour nb[K];
        size_t n = 0, best[K], best_o[K];
        double sim[K], sim_o[K];
        CHECK(geoloc_index_search(ix, q, K, NULL, nb, &n, &err) == GEOLOC_OK && n == K, "%s", err.message);
        brute_top(stored, N, q, best, sim);
        for (int t = 0; t < K; t++) /* the same rows, unless two similarities tie to within rounding */
            if (nb[t].row != best[t] && fabs(sim[t] - nb[t].sim) > 2e-4) exact_ok = 0;
        for (int t = 0; t < K; t++)
            if (fabs(sim[t] - nb[t].sim) > 2e-4) exact_ok = 0;
        brute_top(orig, N, q, best_o, sim_o);
        for (int t = 0; t < K; t++)
            for (int u = 0; u < K; u++) found += nb[u].row == best_o[t];
    }
    CHECK(exact_ok, "precision %d: the scan's top %d differs from the brute force of the stored vectors", (int)prec, K);
    double recall = (double)found / (20.0 * K);
    CHECK(recall >= min_recall, "precision %d: recall@%d %.3f against the original floats (min %.2f)", (int)prec, K,
          recall, min_recall);
    printf("precision %s: recall@%d %.3f\n", prec == GEOLOC_INDEX_F16 ? "f16" : "i8", K, recall);

    /* a batch gives what single queries give */
    geoloc_neighbour batch[20 * K];
    size_t counts[20];
    CHECK(geoloc_index_search_batch(ix, queries, 20, K, batch, counts, &err) == GEOLOC_OK, "%s", err.message);
    for (int qi = 0; qi < 20; qi++) {
        geoloc_neighbour nb[K];
        size_t n;
        geoloc_index_search(ix, queries + (size_t)qi * DIM, K, NULL, nb, &n, &err);
        int same = counts[qi] == n;
        for (size_t t = 0; same && t < n; t++) same = nb[t].row == batch[qi * K + t].row;
        CHECK(same, "batch query %d differs from the single query", qi);
    }

    /* a photo of the index is its own best neighbour, and never with its id excluded */
    geoloc_neighbour nb[K];
    size_t n;
    geoloc_index_search(ix, vectors + 5 * DIM, K, NULL, nb, &n, &err);
    CHECK(n == K && nb[0].row == 5 && nb[0].sim > 0.99f, "row 5 is not its own best neighbour (%zu)", nb[0].row);
    geoloc_index_search(ix, vectors + 5 * DIM, K, "photo5.jpg", nb, &n, &err);
    int self = 0;
    for (size_t t = 0; t < n; t++) self |= nb[t].row == 5;
    CHECK(n == K && !self, "the excluded photo came back as its own neighbour");
    CHECK(nb[0].lat == -60 + nb[0].row * 0.2 && nb[0].lon == -170 + nb[0].row * 0.5, "neighbour coordinates");

    free(stored);
    free(orig);
    geoloc_index_free(ix);
}

static void check_file(void) {
    geoloc_index *ix, *back;
    geoloc_error err = {0};
    geoloc_index_create(DIM, GEOLOC_INDEX_I8, "resnet50:resnet50-imagenet.safetensors", &ix, &err);
    for (size_t r = 0; r < 50; r++) {
        char id[32];
        snprintf(id, sizeof id, "p%zu", r);
        geoloc_index_add(ix, id, 10 + (double)r, 20, vectors + r * DIM, &err);
    }
    const char *path = test_temp_file("index");
    CHECK(geoloc_index_save(ix, path, &err) == GEOLOC_OK, "%s", err.message);
    CHECK(geoloc_index_load(path, &back, &err) == GEOLOC_OK, "%s", err.message);
    if (back) {
        CHECK(geoloc_index_count(back) == 50 && geoloc_index_dim(back) == DIM &&
                  geoloc_index_precision_of(back) == GEOLOC_INDEX_I8 && !strcmp(geoloc_index_id(back, 49), "p49") &&
                  !memcmp(back->vec, ix->vec, 50 * DIM) && !memcmp(back->scale, ix->scale, 50 * sizeof(float)),
              "the index read back differs from the one written");
        double lat, lon;
        geoloc_index_coords(back, 7, &lat, &lon);
        CHECK(lat == 17 && lon == 20, "coordinates read back: %g %g", lat, lon);
        CHECK(geoloc_index_check_backbone(back, "resnet50:resnet50-imagenet.safetensors", path, &err) == GEOLOC_OK,
              "same backbone refused: %s", err.message);
        CHECK(geoloc_index_check_backbone(back, "resnet101:other.safetensors", path, &err) == GEOLOC_E_ARG &&
                  strstr(err.message, "other.safetensors") && strstr(err.message, path),
              "another backbone accepted: %s", err.message);
        geoloc_index_free(back);
    }
    size_t size;
    unsigned char *bytes = test_read_file(path, &size);
    bytes[size / 2] ^= 0x10; /* one bit of a vector */
    geoloc_status s = geoloc_index_load_buffer(bytes, size, "altered.idx", &back, &err);
    CHECK(s == GEOLOC_E_PARSE && strstr(err.message, "altered.idx") && strstr(err.message, "checksum"),
          "an altered index accepted or not named: %s", err.message);
    bytes[size / 2] ^= 0x10;
    s = geoloc_index_load_buffer(bytes, size - 100, "truncated.idx", &back, &err);
    CHECK(s == GEOLOC_E_PARSE && strstr(err.message, "truncated.idx"), "a truncated index accepted: %s", err.message);
    s = geoloc_index_load_buffer(bytes, size, "whole.idx", &back, &err);
    CHECK(s == GEOLOC_OK, "the restored bytes refused: %s", err.message);
    geoloc_index_free(back);
    free(bytes);
    unlink(path);
    geoloc_index_free(ix);
}

/* An index large enough (> 64 MB) that the scan splits its rows between
 * threads and merges their heaps: the same top k as a serial scan. */
static void check_parallel(void) {
    enum { BIG_N = 34000, BIG_DIM = 2048, BIG_K = 20 };
    geoloc_index *ix;
    geoloc_error err = {0};
    geoloc_index_create(BIG_DIM, GEOLOC_INDEX_I8, "b", &ix, &err);
    float *v = malloc(sizeof(float) * BIG_DIM);
    for (size_t r = 0; r < BIG_N; r++) {
        for (int j = 0; j < BIG_DIM; j++) v[j] = (float)gauss();
        geoloc_index_add(ix, r == 777 ? "twin" : "x", 0, 0, v, &err);
    }
    CHECK(geoloc_index_count(ix) == BIG_N, "%s", err.message);
    for (int j = 0; j < BIG_DIM; j++) v[j] = (float)gauss();
    geoloc_neighbour nb[BIG_K];
    size_t n;
    CHECK(geoloc_index_search(ix, v, BIG_K, NULL, nb, &n, &err) == GEOLOC_OK && n == BIG_K, "%s", err.message);
    /* serial reference: every row's similarity from the stored values */
    double *row = malloc(sizeof(double) * BIG_DIM), *sims = malloc(sizeof(double) * BIG_N), qn = 0;
    for (int j = 0; j < BIG_DIM; j++) qn += (double)v[j] * v[j];
    for (size_t r = 0; r < BIG_N; r++) {
        stored_row(ix, r, row);
        double s = 0;
        for (int j = 0; j < BIG_DIM; j++) s += row[j] * v[j];
        sims[r] = s / sqrt(qn);
    }
    int ok = 1;
    for (size_t t = 0; t < n; t++) { /* nb[t] is the t-th best: exactly t rows are clearly better */
        size_t better = 0;
        for (size_t r = 0; r < BIG_N; r++) better += sims[r] > nb[t].sim + 1e-4;
        if (better > t || fabs(sims[nb[t].row] - nb[t].sim) > 1e-4) ok = 0;
    }
    CHECK(ok, "the parallel scan's top %d differs from the serial reference", BIG_K);
    free(row);
    free(sims);
    free(v);
    geoloc_index_free(ix);
}

static geoloc_neighbour neighbour(double lat, double lon, float sim) { return (geoloc_neighbour){0, sim, lat, lon}; }

static void check_answers(void) {
    geoloc_knn_kernel kern = geoloc_knn_kernel_default();
    /* one lone neighbour (Tokyo) a little more similar than a cluster of three (Paris) */
    geoloc_neighbour nb[5] = {neighbour(35.68, 139.69, 0.62f), neighbour(48.85, 2.35, 0.60f),
                              neighbour(48.86, 2.30, 0.60f), neighbour(48.80, 2.40, 0.59f),
                              neighbour(41.90, 12.50, 0.50f)};
    int m = geoloc_knn_mode(nb, 5, NULL, kern);
    CHECK(m >= 1 && m <= 3, "the density mode is neighbour %d, not one of the Paris cluster", m);
    geoloc_prediction p = {0};
    p.lat = 45.0, p.lon = 9.0; /* the classifier: a point in northern Italy */
    p.top[0].cell = geoloc_s2_parent(geoloc_s2_from_latlng(41.9, 12.5), 6); /* Rome's level-6 cell */
    p.n_top = 1;
    geoloc_prediction h = p;
    CHECK(geoloc_answer_retrieval(GEOLOC_ANSWER_HYBRID, nb, 5, kern, &h) == 1 && h.lat == 41.90 && h.lon == 12.50,
          "hybrid left the cell: %g, %g", h.lat, h.lon);
    CHECK(geoloc_s2_contains(p.top[0].cell, geoloc_s2_from_latlng(h.lat, h.lon)), "hybrid answer outside the cell");
    geoloc_prediction k = p;
    CHECK(geoloc_answer_retrieval(GEOLOC_ANSWER_KNN, nb, 5, kern, &k) == 1 &&
              geoloc_haversine_km(k.lat, k.lon, 48.85, 2.35) < 10,
          "knn answered %g, %g instead of Paris", k.lat, k.lon);
    geoloc_prediction none = p;
    none.top[0].cell = geoloc_s2_parent(geoloc_s2_from_latlng(-33.9, 151.2), 6); /* Sydney: no neighbour */
    CHECK(geoloc_answer_retrieval(GEOLOC_ANSWER_HYBRID, nb, 5, kern, &none) == 0 && none.lat == 45.0 &&
              none.lon == 9.0, "hybrid without a neighbour in the cell moved the answer");
    geoloc_prediction cls = p;
    CHECK(geoloc_answer_retrieval(GEOLOC_ANSWER_CLASS, nb, 5, kern, &cls) == 0 && cls.lat == 45.0,
          "class answer changed");
}

int main(void) {
    vectors = malloc(sizeof(float) * N * DIM);
    queries = malloc(sizeof(float) * 20 * DIM);
    /* clustered vectors (so neighbours are meaningful): 30 centres, noise around them */
    float centres[30][DIM];
    for (int c = 0; c < 30; c++)
        for (int j = 0; j < DIM; j++) centres[c][j] = (float)gauss();
    for (size_t r = 0; r < N; r++)
        for (int j = 0; j < DIM; j++) vectors[r * DIM + j] = centres[r % 30][j] + 0.7f * (float)gauss();
    for (size_t q = 0; q < 20; q++)
        for (int j = 0; j < DIM; j++) queries[q * DIM + j] = centres[(q * 7) % 30][j] + 0.7f * (float)gauss();
    check_precision(GEOLOC_INDEX_F16, 0.97);
    check_precision(GEOLOC_INDEX_I8, 0.90);
    check_file();
    check_parallel();
    check_answers();
    geoloc_index *ix;
    geoloc_error err = {0};
    CHECK(geoloc_index_create(DIM, GEOLOC_INDEX_F16, "", &ix, &err) == GEOLOC_E_ARG, "an empty backbone accepted");
    CHECK(geoloc_index_create(DIM, GEOLOC_INDEX_F16, "b", &ix, &err) == GEOLOC_OK, "%s", err.message);
    float zero[DIM] = {0};
    CHECK(geoloc_index_add(ix, "z", 0, 0, zero, &err) == GEOLOC_E_RANGE, "a zero embedding accepted");
    geoloc_index_free(ix);
    free(vectors);
    free(queries);
    TEST_END();
}
