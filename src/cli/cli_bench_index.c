/* geoloc bench index: queries per second of the feature index's exact scan
 * on synthetic unit vectors (bench/index.sh runs it at 2k, 100k and 1M). */
#include <stdio.h>
#include <stdlib.h>

#include "cli/cli_options.h"
#include "cli/cli_util.h"
#include "cli/commands.h"
#include "geoloc/retrieval.h"

typedef struct bench_args {
    long n, dim, k, queries, batch;
    int precision;
    uint64_t seed;
} bench_args;

static const char *const PRECISIONS[] = {"f16", "i8", NULL};

static const cli_option OPTIONS[] = {
    CLI_OPTION("n", 0, CLI_INT, bench_args, n, "N", "vectors in the index", .min = 1, .max = 1e8),
    CLI_OPTION("dim", 0, CLI_INT, bench_args, dim, "D", "their width", .min = 1, .max = 65536),
    CLI_OPTION("k", 0, CLI_INT, bench_args, k, "K", "neighbours per query", .min = 1, .max = 4096),
    CLI_OPTION("queries", 0, CLI_INT, bench_args, queries, "Q", "queries timed", .min = 1, .max = 1e6),
    CLI_OPTION("batch", 0, CLI_INT, bench_args, batch, "B", "also time batches of B queries (0: not)", .min = 0,
               .max = 1e6),
    CLI_OPTION("precision", 0, CLI_ENUM, bench_args, precision, NULL, "how the vectors are stored",
               .choices = PRECISIONS),
    CLI_OPTION("seed", 0, CLI_UINT64, bench_args, seed, "S", "of the random vectors"),
    CLI_END};

static const cli_spec SPEC = {
    "geoloc bench index", NULL, 0, 0,
    "Fills an index with N random unit vectors (near-Gaussian, normalised) and times\n"
    "Q single queries (the scan splits the rows between the OpenMP threads) and,\n"
    "with --batch, batches of B queries (one pass over the rows per 8 queries).\n",
    OPTIONS, "output: one line: n, dim, precision, index MB, queries/s single, queries/s batch\n"};

/* An approximately standard normal draw (the sum of four uniform 16-bit
 * parts of one xorshift value, centred and scaled): cheap enough to fill a
 * million vectors of width 2048 in seconds. */
static float gauss(uint64_t *s) {
    *s ^= *s << 13, *s ^= *s >> 7, *s ^= *s << 17;
    uint64_t x = *s;
    double sum = (double)(x & 0xffff) + (double)((x >> 16) & 0xffff) + (double)((x >> 32) & 0xffff) + (double)(x >> 48);
    return (float)((sum - 2 * 65535.0) / (65535.0 * 0.5773502691896258));
}

int cli_bench_index(int argc, char **argv) {
    bench_args a = {.n = 100000, .dim = 2048, .k = 50, .queries = 20, .batch = 0, .seed = 1};
    int n_args, rc = cli_parse(&SPEC, &a, argc, argv, &n_args);
    if (rc != CLI_RUN) return rc;
    geoloc_index *ix;
    geoloc_error err = {0};
    size_t dim = (size_t)a.dim, nq = (size_t)(a.batch > a.queries ? a.batch : a.queries);
    float *v = malloc(dim * sizeof *v), *q = malloc(nq * dim * sizeof *q);
    geoloc_neighbour *nb = malloc(nq * (size_t)a.k * sizeof *nb);
    size_t *counts = malloc(nq * sizeof *counts), got;
    uint64_t s = a.seed * 2654435761u + 88172645463325252ull;
    if (!v || !q || !nb || !counts ||
        geoloc_index_create((int)a.dim, (geoloc_index_precision)a.precision, "bench", &ix, &err) != GEOLOC_OK) {
        fprintf(stderr, "%s: %s\n", SPEC.name, err.message[0] ? err.message : "out of memory");
        return 1;
    }
    double t0 = cli_now_seconds();
    for (long i = 0; i < a.n && rc == CLI_RUN; i++) {
        for (size_t j = 0; j < dim; j++) v[j] = gauss(&s);
        if (geoloc_index_add(ix, "x", 0, 0, v, &err) != GEOLOC_OK) rc = 1;
    }
    double built = cli_now_seconds() - t0;
    for (size_t j = 0; j < nq * dim; j++) q[j] = gauss(&s);
    t0 = cli_now_seconds();
    for (long i = 0; i < a.queries && rc == CLI_RUN; i++)
        if (geoloc_index_search(ix, q + (size_t)i * dim, (size_t)a.k, NULL, nb, &got, &err) != GEOLOC_OK) rc = 1;
    double single = (double)a.queries / (cli_now_seconds() - t0), batch = 0;
    if (a.batch && rc == CLI_RUN) {
        t0 = cli_now_seconds();
        if (geoloc_index_search_batch(ix, q, (size_t)a.batch, (size_t)a.k, nb, counts, &err) != GEOLOC_OK) rc = 1;
        batch = (double)a.batch / (cli_now_seconds() - t0);
    }
    if (rc == CLI_RUN) {
        double mb = (double)a.n * (double)dim * (a.precision ? 1 : 2) / 1e6;
        printf("n %ld  dim %ld  %s  %.0f MB  k %ld  single: %.1f queries/s (%.2f ms, %.1f GB/s)", a.n, a.dim,
               PRECISIONS[a.precision], mb, a.k, single, 1000 / single, mb * single / 1000);
        if (a.batch) printf("  batch of %ld: %.1f queries/s", a.batch, batch);
        printf("  (filled in %.1f s)\n", built);
        rc = 0;
    } else {
        fprintf(stderr, "%s: %s\n", SPEC.name, err.message);
    }
    geoloc_index_free(ix);
    free(v);
    free(q);
    free(nb);
    free(counts);
    return rc;
}
