/* Exact search of the feature index: every stored vector's dot product with
 * the query (cosine similarity: both are unit vectors), the k best kept in a
 * min-heap. The dot products use AVX2 and FMA when the CPU has them (half
 * floats widened with F16C; int8 rows against the query quantised to int16,
 * multiplied and summed in pairs with vpmaddwd), else plain C. One query
 * splits the rows between the OpenMP threads (each keeps its own heap, then
 * they are merged); a batch of queries runs QBLOCK queries per pass over the
 * rows, so each row is read from memory once per block. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cpuid.h>
#include <immintrin.h>
#include <omp.h>

#include "core/error.h"
#include "model/retrieval_internal.h"

#define QBLOCK 8
#define PARALLEL_BYTES (64u << 20) /* smaller indexes are scanned by one thread: starting */
                                   /* the others costs more than it saves */

/* A query prepared for the scan: unit floats, and for int8 indexes int16
 * values q16 with q = q16 * qscale. */
typedef struct prepared {
    float *f;
    int16_t *q16;
    float qscale;
} prepared;

/* ---- dot products ------------------------------------------------------------ */

static float dot_f16_c(const uint16_t *row, const float *q, size_t d) {
    float s = 0;
    for (size_t j = 0; j < d; j++) s += half_to_float(row[j]) * q[j];
    return s;
}

static int32_t dot_i8_c(const int8_t *row, const int16_t *q, size_t d) {
    int32_t s = 0;
    for (size_t j = 0; j < d; j++) s += (int32_t)row[j] * q[j];
    return s;
}

__attribute__((target("avx2,fma"))) static float hsum256(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_shuffle_ps(s, s, 1));
    return _mm_cvtss_f32(s);
}

__attribute__((target("avx2,fma,f16c"))) static float dot_f16_avx2(const uint16_t *row, const float *q, size_t d) {
    __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps();
    size_t j = 0;
    for (; j + 16 <= d; j += 16) {
        __m256 r0 = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(row + j)));
        __m256 r1 = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(row + j + 8)));
        a0 = _mm256_fmadd_ps(r0, _mm256_loadu_ps(q + j), a0);
        a1 = _mm256_fmadd_ps(r1, _mm256_loadu_ps(q + j + 8), a1);
    }
    return hsum256(_mm256_add_ps(a0, a1)) + dot_f16_c(row + j, q + j, d - j);
}

__attribute__((target("avx2"))) static int32_t dot_i8_avx2(const int8_t *row, const int16_t *q, size_t d) {
    __m256i a0 = _mm256_setzero_si256(), a1 = _mm256_setzero_si256();
    size_t j = 0;
    for (; j + 32 <= d; j += 32) {
        __m256i r0 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(row + j)));
        __m256i r1 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(row + j + 16)));
        a0 = _mm256_add_epi32(a0, _mm256_madd_epi16(r0, _mm256_loadu_si256((const __m256i *)(q + j))));
        a1 = _mm256_add_epi32(a1, _mm256_madd_epi16(r1, _mm256_loadu_si256((const __m256i *)(q + j + 16))));
    }
    __m256i a = _mm256_add_epi32(a0, a1);
    __m128i s = _mm_add_epi32(_mm256_castsi256_si128(a), _mm256_extracti128_si256(a, 1));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4e));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xb1));
    return _mm_cvtsi128_si32(s) + dot_i8_c(row + j, q + j, d - j);
}

/* F16C, from CPUID leaf 1 (clang 14's __builtin_cpu_supports does not know "f16c"). */
static int have_f16c(void) {
    unsigned a, b, c, d;
    return __get_cpuid(1, &a, &b, &c, &d) && (c & bit_F16C);
}

static int have_avx2(void) {
    static int known = -1;
    if (known < 0)
        known = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && have_f16c();
    return known;
}

/* Row r's similarity with the prepared query q. */
static float similarity(const geoloc_index *ix, size_t r, const prepared *q, int simd) {
    size_t d = (size_t)ix->dim;
    if (ix->precision == GEOLOC_INDEX_F16) {
        const uint16_t *row = (const uint16_t *)ix->vec + r * d;
        return simd ? dot_f16_avx2(row, q->f, d) : dot_f16_c(row, q->f, d);
    }
    const int8_t *row = (const int8_t *)ix->vec + r * d;
    int32_t s = simd ? dot_i8_avx2(row, q->q16, d) : dot_i8_c(row, q->q16, d);
    return (float)s * ix->scale[r] * q->qscale;
}

/* ---- the top-k heap (a min-heap on similarity; ties: the lower row wins) -------- */

typedef struct heap {
    geoloc_neighbour *h;
    size_t n, k;
} heap;

static int worse(const geoloc_neighbour *a, const geoloc_neighbour *b) {
    return a->sim < b->sim || (a->sim == b->sim && a->row > b->row);
}

static void sift_down(heap *hp, size_t i) {
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < hp->n && worse(&hp->h[l], &hp->h[m])) m = l;
        if (r < hp->n && worse(&hp->h[r], &hp->h[m])) m = r;
        if (m == i) return;
        geoloc_neighbour t = hp->h[i];
        hp->h[i] = hp->h[m];
        hp->h[m] = t;
        i = m;
    }
}

/* Offers row r of similarity sim; the excluded id is checked only for rows that would enter. */
static void offer(heap *hp, const geoloc_index *ix, size_t r, float sim, const char *exclude) {
    geoloc_neighbour c = {r, sim, 0, 0};
    if (hp->n == hp->k && !worse(&hp->h[0], &c)) return;
    if (exclude && !strcmp(geoloc_index_id(ix, r), exclude)) return;
    if (hp->n < hp->k) {
        size_t i = hp->n++;
        hp->h[i] = c;
        while (i > 0 && worse(&hp->h[i], &hp->h[(i - 1) / 2])) {
            geoloc_neighbour t = hp->h[i];
            hp->h[i] = hp->h[(i - 1) / 2];
            hp->h[(i - 1) / 2] = t;
            i = (i - 1) / 2;
        }
        return;
    }
    hp->h[0] = c;
    sift_down(hp, 0);
}

static int by_rank(const void *a, const void *b) {
    const geoloc_neighbour *x = a, *y = b;
    return worse(x, y) ? 1 : worse(y, x) ? -1 : 0;
}

/* Sorts the heap's content best first into out and fills the coordinates. */
static size_t finish(const geoloc_index *ix, heap *hp, geoloc_neighbour *out) {
    qsort(hp->h, hp->n, sizeof *hp->h, by_rank);
    for (size_t i = 0; i < hp->n; i++) {
        out[i] = hp->h[i];
        geoloc_index_coords(ix, out[i].row, &out[i].lat, &out[i].lon);
    }
    return hp->n;
}

/* ---- queries ------------------------------------------------------------------ */

/* Normalises query into q (room for dim values each); E_RANGE for a zero or non-finite one. */
static geoloc_status prepare(const geoloc_index *ix, const float *query, prepared *q, geoloc_error *err) {
    size_t d = (size_t)ix->dim;
    double norm = 0, top = 0;
    for (size_t j = 0; j < d; j++) norm += (double)query[j] * query[j];
    norm = sqrt(norm);
    if (!(norm > 0) || !isfinite(norm)) return error_set(err, GEOLOC_E_RANGE, "index search: the query is zero or not finite");
    for (size_t j = 0; j < d; j++) {
        q->f[j] = (float)(query[j] / norm);
        top = fmax(top, fabs(q->f[j]));
    }
    q->qscale = (float)(top / 32767.0);
    for (size_t j = 0; j < d; j++) q->q16[j] = (int16_t)lrint(q->f[j] / q->qscale);
    return GEOLOC_OK;
}

static int prepared_alloc(prepared *q, size_t d) {
    q->f = malloc(d * sizeof *q->f);
    q->q16 = malloc(d * sizeof *q->q16);
    return q->f && q->q16 ? 0 : -1;
}

static void prepared_free(prepared *q) {
    free(q->f);
    free(q->q16);
}

geoloc_status geoloc_index_search(const geoloc_index *ix, const float *query, size_t k, const char *exclude_id,
                                  geoloc_neighbour *out, size_t *n_out, geoloc_error *err) {
    *n_out = 0;
    if (k == 0 || ix->n == 0) return GEOLOC_OK;
    int threads = omp_get_max_threads();
    prepared q = {0};
    geoloc_neighbour *all = malloc((size_t)threads * k * sizeof *all);
    size_t *counts = calloc((size_t)threads, sizeof *counts);
    if (prepared_alloc(&q, (size_t)ix->dim) != 0 || !all || !counts) {
        prepared_free(&q);
        free(all);
        free(counts);
        return error_set(err, GEOLOC_E_NOMEM, "index search: out of memory");
    }
    geoloc_status s = prepare(ix, query, &q, err);
    int simd = have_avx2();
    if (s == GEOLOC_OK) {
#pragma omp parallel num_threads(threads) if (ix->n * index_vec_bytes(ix) >= PARALLEL_BYTES)
        {
            int t = omp_get_thread_num(), nt = omp_get_num_threads();
            heap hp = {all + (size_t)t * k, 0, k};
            size_t lo = ix->n * (size_t)t / (size_t)nt, hi = ix->n * (size_t)(t + 1) / (size_t)nt;
            for (size_t r = lo; r < hi; r++) offer(&hp, ix, r, similarity(ix, r, &q, simd), exclude_id);
            counts[t] = hp.n;
        }
        heap merged = {all, counts[0], k}; /* the others' candidates offered to thread 0's heap */
        for (int t = 1; t < threads; t++)
            for (size_t i = 0; i < counts[t]; i++) {
                geoloc_neighbour c = all[(size_t)t * k + i];
                offer(&merged, ix, c.row, c.sim, NULL);
            }
        *n_out = finish(ix, &merged, out);
    }
    prepared_free(&q);
    free(all);
    free(counts);
    return s;
}

geoloc_status geoloc_index_search_batch(const geoloc_index *ix, const float *queries, size_t n, size_t k,
                                        geoloc_neighbour *out, size_t *n_out, geoloc_error *err) {
    size_t d = (size_t)ix->dim, blocks = (n + QBLOCK - 1) / QBLOCK;
    for (size_t i = 0; i < n; i++) n_out[i] = 0;
    if (k == 0 || ix->n == 0 || n == 0) return GEOLOC_OK;
    int simd = have_avx2(), failed = 0;
    geoloc_status first = GEOLOC_OK;
#pragma omp parallel for schedule(dynamic) reduction(| : failed)
    for (size_t b = 0; b < blocks; b++) {
        prepared q[QBLOCK] = {{0}};
        heap hp[QBLOCK];
        size_t m = n - b * QBLOCK < QBLOCK ? n - b * QBLOCK : QBLOCK, ok = 0;
        geoloc_error e = {0};
        for (size_t i = 0; i < m; i++) {
            hp[i] = (heap){out + (b * QBLOCK + i) * k, 0, k};
            if (prepared_alloc(&q[i], d) == 0 && prepare(ix, queries + (b * QBLOCK + i) * d, &q[i], &e) == GEOLOC_OK)
                ok++;
        }
        if (ok == m) {
            for (size_t r = 0; r < ix->n; r++) /* the row stays in cache for the block's queries */
                for (size_t i = 0; i < m; i++) offer(&hp[i], ix, r, similarity(ix, r, &q[i], simd), NULL);
            for (size_t i = 0; i < m; i++) n_out[b * QBLOCK + i] = finish(ix, &hp[i], hp[i].h);
        } else {
            failed = 1;
#pragma omp critical
            if (first == GEOLOC_OK) first = error_set(err, e.status ? e.status : GEOLOC_E_NOMEM, "%s",
                                                      e.message[0] ? e.message : "index search: out of memory");
        }
        for (size_t i = 0; i < m; i++) prepared_free(&q[i]);
    }
    return failed ? first : GEOLOC_OK;
}
