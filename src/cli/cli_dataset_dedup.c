/* geoloc dataset dedup: near-duplicate photos within one set or between two
 * (training vs test), by embedding similarity and perceptual hash. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli_dataset.h"
#include "cli/cli_options.h"
#include "cli/cli_util.h"
#include "cli/commands.h"
#include "geoloc/dedup.h"
#include "geoloc/distance.h"
#include "geoloc/io.h"

typedef struct dedup_args {
    const char *index, *index2, *images, *images2, *out;
    double min_similarity;
    long max_hamming, k;
} dedup_args;

static const cli_option OPTIONS[] = {
    CLI_OPTION("index", 0, CLI_STRING, dedup_args, index, "A.idx",
               "the feature index of the (first) photo set (geoloc index\nbuild)", .required = 1),
    CLI_OPTION("index2", 0, CLI_STRING, dedup_args, index2, "B.idx",
               "the second set: pairs between the two (default: pairs\nwithin the first)"),
    CLI_OPTION("images", 0, CLI_STRING, dedup_args, images, "DIR",
               "the photos of the first set, DIR/IMG_ID, for their\nperceptual hashes (default: embeddings only)"),
    CLI_OPTION("images2", 0, CLI_STRING, dedup_args, images2, "DIR", "the photos of the second set (default: --images)"),
    CLI_OPTION("out", 0, CLI_STRING, dedup_args, out, "PAIRS.csv", "the pairs (written atomically)", .required = 1),
    CLI_OPTION("min-similarity", 0, CLI_DOUBLE, dedup_args, min_similarity, "S",
               "a pair when the embeddings' cosine similarity is at least S", .min = -1, .max = 2),
    CLI_OPTION("max-hamming", 0, CLI_INT, dedup_args, max_hamming, "H",
               "a pair when the 64-bit pHashes differ in at most H bits\n(-1: hashes not used for finding pairs)",
               .min = -1, .max = 64),
    CLI_OPTION("k", 0, CLI_INT, dedup_args, k, "K", "embedding candidates per photo", .min = 1, .max = 4096),
    CLI_END};

static const cli_spec SPEC = {
    "geoloc dataset dedup", NULL, 0, 0,
    "Finds near-duplicate photos: pairs whose backbone embeddings are similar\n"
    "(cosine >= S among each photo's K nearest) or whose perceptual hashes (DCT\n"
    "pHash of the 32x32 grey image) differ in at most H bits, within one set or\n"
    "between two (e.g. training vs test photos, for `geoloc train --exclude-near`).\n",
    OPTIONS,
    "output: a_id,b_id,similarity,hamming,km (hamming -1 without --images; km\n"
    "between the two photos' coordinates)\n"};

/* The pHashes of an index's photos DIR/IMG_ID (malloc'd); NULL after a message. */
static uint64_t *hashes_of(const char *cmd, const geoloc_index *ix, const char *dir) {
    size_t n = geoloc_index_count(ix);
    char **paths = calloc(n ? n : 1, sizeof *paths);
    uint64_t *h = malloc((n ? n : 1) * sizeof *h);
    int ok = paths && h;
    for (size_t i = 0; ok && i < n; i++) {
        size_t len = strlen(dir) + strlen(geoloc_index_id(ix, i)) + 2;
        if ((paths[i] = malloc(len))) snprintf(paths[i], len, "%s/%s", dir, geoloc_index_id(ix, i));
        else ok = 0;
    }
    geoloc_error err = {0};
    if (!ok) fprintf(stderr, "%s: out of memory\n", cmd);
    else if (geoloc_phash_files((const char *const *)paths, n, h, &err) != GEOLOC_OK) {
        fprintf(stderr, "%s: %s\n", cmd, err.message);
        ok = 0;
    }
    for (size_t i = 0; paths && i < n; i++) free(paths[i]);
    free(paths);
    if (!ok) {
        free(h);
        return NULL;
    }
    return h;
}

/* Writes the pairs as CSV; 0 or 1 after a message. */
static int write_pairs(const char *cmd, const char *path, const geoloc_index *a, const geoloc_index *b,
                       const geoloc_dedup_pair *p, size_t n) {
    geoloc_atomic_file f;
    geoloc_error err = {0};
    if (geoloc_atomic_file_open(&f, path, &err) != GEOLOC_OK) {
        fprintf(stderr, "%s: %s\n", cmd, err.message);
        return 1;
    }
    fputs("a_id,b_id,similarity,hamming,km\n", f.fp);
    for (size_t t = 0; t < n; t++) {
        double lat1, lon1, lat2, lon2;
        geoloc_index_coords(a, p[t].a, &lat1, &lon1);
        geoloc_index_coords(b, p[t].b, &lat2, &lon2);
        geoloc_csv_write_field(f.fp, geoloc_index_id(a, p[t].a));
        fputc(',', f.fp);
        geoloc_csv_write_field(f.fp, geoloc_index_id(b, p[t].b));
        fprintf(f.fp, ",%.4f,%d,%.1f\n", (double)p[t].similarity, p[t].hamming,
                geoloc_haversine_km(lat1, lon1, lat2, lon2));
    }
    if (geoloc_atomic_file_commit(&f, &err) != GEOLOC_OK) {
        fprintf(stderr, "%s: %s\n", cmd, err.message);
        return 1;
    }
    return 0;
}

int cli_dataset_dedup(int argc, char **argv) {
    const char *cmd = SPEC.name;
    geoloc_dedup_options o = geoloc_dedup_options_default();
    dedup_args a = {.min_similarity = o.min_similarity, .max_hamming = o.max_hamming, .k = (long)o.k};
    int n_args, rc = cli_parse(&SPEC, &a, argc, argv, &n_args);
    if (rc != CLI_RUN) return rc;
    if (a.images2 && !a.index2) return cli_usage_error(&SPEC, "--images2 needs --index2");
    o = (geoloc_dedup_options){a.min_similarity, (int)a.max_hamming, (size_t)a.k};
    geoloc_index *ia = NULL, *ib = NULL;
    uint64_t *ha = NULL, *hb = NULL;
    geoloc_dedup_pair *pairs = NULL;
    size_t n = 0;
    geoloc_error err = {0};
    double t0 = cli_now_seconds();
    rc = geoloc_index_load(a.index, &ia, &err) != GEOLOC_OK ||
         (a.index2 && geoloc_index_load(a.index2, &ib, &err) != GEOLOC_OK);
    if (rc) fprintf(stderr, "%s: %s\n", cmd, err.message);
    if (!rc && a.images && (!(ha = hashes_of(cmd, ia, a.images)) ||
                            (ib && !(hb = hashes_of(cmd, ib, a.images2 ? a.images2 : a.images)))))
        rc = 1;
    double hashed = cli_now_seconds() - t0;
    if (!rc && geoloc_dedup_find(ia, ha, ib, hb, &o, &pairs, &n, &err) != GEOLOC_OK) {
        fprintf(stderr, "%s: %s\n", cmd, err.message);
        rc = 1;
    }
    if (!rc) rc = write_pairs(cmd, a.out, ia, ib ? ib : ia, pairs, n);
    if (!rc) {
        size_t by_emb = 0, by_hash = 0;
        for (size_t t = 0; t < n; t++) {
            by_emb += pairs[t].similarity >= o.min_similarity;
            by_hash += pairs[t].hamming >= 0 && pairs[t].hamming <= o.max_hamming;
        }
        char sets[64];
        if (ib) snprintf(sets, sizeof sets, "between %zu and %zu", geoloc_index_count(ia), geoloc_index_count(ib));
        else snprintf(sets, sizeof sets, "among %zu", geoloc_index_count(ia));
        fprintf(stderr, "%s: %zu pairs %s photos (%zu by embedding >= %.2f, %zu by hash <= %d bits); "
                "hashes %.1f s, search %.1f s: %s\n", cmd, n, sets, by_emb, o.min_similarity, by_hash, o.max_hamming,
                hashed, cli_now_seconds() - t0 - hashed, a.out);
    }
    free(pairs);
    free(ha);
    free(hb);
    geoloc_index_free(ia);
    geoloc_index_free(ib);
    return rc;
}

/* Whether id is among the sorted ids[0..n). */
static int listed(char *const *ids, size_t n, const char *id) {
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int c = strcmp(ids[mid], id);
        if (!c) return 1;
        if (c < 0) lo = mid + 1;
        else hi = mid;
    }
    return 0;
}

static int by_string(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

int cli_exclude_near(const char *cmd, const char *pairs_path, geoloc_manifest **train) {
    geoloc_error err = {0};
    geoloc_csv_reader *r = geoloc_csv_open(pairs_path, &err);
    if (!r) {
        fprintf(stderr, "%s: %s\n", cmd, err.message);
        return 1;
    }
    geoloc_csv_field f[8];
    size_t nf, n = 0, cap = 0;
    char **ids = NULL;
    int got, rc = 0, header = 1;
    while (!rc && (got = geoloc_csv_next_row(r, f, 8, &nf, &err)) == 1) {
        if (header) { /* the pairs file of geoloc dataset dedup: a_id first */
            if (nf < 2 || f[0].len != 4 || memcmp(f[0].p, "a_id", 4)) {
                fprintf(stderr, "%s: %s: not a pairs file of geoloc dataset dedup (a_id,b_id,...)\n", cmd, pairs_path);
                rc = 1;
            }
            header = 0;
            continue;
        }
        if (n == cap) {
            char **grown = realloc(ids, (cap = cap ? 2 * cap : 64) * sizeof *ids);
            if (!grown) break;
            ids = grown;
        }
        if (!(ids[n] = strndup(f[0].p, f[0].len))) break;
        n++;
    }
    if (!rc && got < 0) {
        fprintf(stderr, "%s: %s\n", cmd, err.message);
        rc = 1;
    } else if (!rc && got > 0) {
        fprintf(stderr, "%s: out of memory\n", cmd);
        rc = 1;
    }
    geoloc_csv_close(r);
    if (n) qsort(ids, n, sizeof *ids, by_string);
    geoloc_manifest *m = *train, *kept = NULL;
    size_t dropped = 0;
    if (!rc && geoloc_manifest_new(m->columns, (const char *const *)m->extra_name, m->n_extra, &kept, &err) != GEOLOC_OK)
        rc = 1;
    for (size_t i = 0; !rc && i < m->n; i++) {
        if (listed(ids, n, m->row[i].id)) dropped++;
        else if (geoloc_manifest_append(kept, &m->row[i], m->n_extra ? m->extra + i * m->n_extra : NULL, &err) !=
                 GEOLOC_OK)
            rc = 1;
    }
    if (rc && err.message[0]) fprintf(stderr, "%s: %s\n", cmd, err.message);
    for (size_t i = 0; i < n; i++) free(ids[i]);
    free(ids);
    if (rc) {
        geoloc_manifest_free(kept);
        return 1;
    }
    fprintf(stderr, "%s: --exclude-near %s: %zu of %zu training photos dropped (near-duplicates of test photos)\n",
            cmd, pairs_path, dropped, m->n);
    geoloc_manifest_free(m);
    *train = kept;
    return 0;
}
