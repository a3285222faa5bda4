/* geoloc index build|query|info: the feature index of a photo collection
 * (geoloc/retrieval.h) for knn and hybrid answers and near-duplicates. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli_dataset.h"
#include "cli/cli_photos.h"
#include "cli/cli_progress.h"
#include "cli/cli_retrieval.h"
#include "cli/cli_util.h"
#include "cli/commands.h"
#include "geoloc/retrieval.h"
#include "geoloc/io.h"
#include "geoloc/safetensors.h"

static const char *const PRECISIONS[] = {"f16", "i8", NULL}; /* geoloc_index_precision order */

/* ---- build -------------------------------------------------------------------- */

typedef struct build_args {
    cli_prediction_args pred;
    const char *meta, *images, *out, *features, *features_meta;
    int precision;
} build_args;

static const cli_option BUILD_OPTIONS[] = {
    CLI_OPTION("meta", 0, CLI_STRING, build_args, meta, "CSV", "the photos: IMG_ID, LAT, LON", .required = 1),
    CLI_OPTION("images", 0, CLI_STRING, build_args, images, "DIR", "the folder holding the photos DIR/IMG_ID"),
    CLI_OPTION("out", 0, CLI_STRING, build_args, out, "INDEX", "the index file (written atomically)", .required = 1),
    CLI_OPTION("features", 0, CLI_STRING, build_args, features, "CACHE",
               "take the embeddings from a features cache of `geoloc\n"
               "train` made on the same manifest (its rows are the\n"
               "manifest's rows): the mean of views 0-2, the three crops\n"
               "`predict` averages; photos it failed on are left out"),
    CLI_OPTION("features-meta", 0, CLI_STRING, build_args, features_meta, "CSV",
               "the manifest whose rows the --features cache holds, when\n"
               "--meta lists only some of them (found by IMG_ID)"),
    CLI_OPTION("precision", 0, CLI_ENUM, build_args, precision, NULL,
               "f16: half floats (4 KB per photo at width 2048); i8: int8\n"
               "with a scale per vector (2 KB)", .choices = PRECISIONS),
    CLI_PREDICTION_OPTIONS(build_args, pred),
    CLI_END};

static const cli_spec BUILD_SPEC = {
    "geoloc index build", NULL, 0, 0,
    "Stores the L2-normalised pooled backbone embedding of each photo of the\n"
    "manifest, with its IMG_ID and coordinates, in a feature index for `geoloc\n"
    "predict --answer knn|hybrid`. The embeddings come from the model's backbone\n"
    "run on DIR/IMG_ID (the same crops as predict), or from a features cache.\n"
    "The index names the backbone: queries with another one are refused.\n",
    BUILD_OPTIONS, "exit status: 0 done, 3 some photos unreadable (left out), 1 failure, 2 usage\n"};

typedef struct build_ctx {
    geoloc_index *ix;
    const geoloc_manifest *m;
    const geoloc_predictor *pred;
    float *feat;
    size_t failed;
    cli_progress progress;
    size_t done;
    geoloc_error err;
} build_ctx;

static int on_photo(void *ctx, const geoloc_photo_answer *a) {
    build_ctx *b = ctx;
    cli_progress_update(&b->progress, ++b->done);
    if (!a->pred) {
        cli_progress_clear(&b->progress);
        fprintf(stderr, "geoloc index build: %s (left out)\n", a->error);
        b->failed++;
        return 0;
    }
    const geoloc_manifest_row *row = &b->m->row[a->index];
    geoloc_predictor_features(b->pred, a->run_index, b->feat);
    return geoloc_index_add(b->ix, row->id, row->lat, row->lng, b->feat, &b->err) != GEOLOC_OK;
}

static const geoloc_manifest *sort_manifest; /* the rows compared by by_id */
static int by_id(const void *a, const void *b) {
    return strcmp(sort_manifest->row[*(const size_t *)a].id, sort_manifest->row[*(const size_t *)b].id);
}

/* row[i]: the row of `of` holding photo i of m (by IMG_ID); 0, or 1 after naming a photo it lacks. */
static int rows_in(const char *cmd, const geoloc_manifest *m, const geoloc_manifest *of, const char *of_path,
                   size_t *row) {
    size_t *order = malloc((of->n ? of->n : 1) * sizeof *order);
    if (!order) {
        fprintf(stderr, "%s: out of memory\n", cmd);
        return 1;
    }
    for (size_t i = 0; i < of->n; i++) order[i] = i;
    sort_manifest = of;
    qsort(order, of->n, sizeof *order, by_id);
    int rc = 0;
    for (size_t i = 0; !rc && i < m->n; i++) {
        size_t lo = 0, hi = of->n;
        while (lo < hi) {
            size_t mid = (lo + hi) / 2;
            if (strcmp(of->row[order[mid]].id, m->row[i].id) < 0) lo = mid + 1;
            else hi = mid;
        }
        if (lo < of->n && !strcmp(of->row[order[lo]].id, m->row[i].id)) row[i] = order[lo];
        else rc = fprintf(stderr, "%s: %s is not in %s\n", cmd, m->row[i].id, of_path) > 0;
    }
    free(order);
    return rc;
}

/* The embeddings of a features cache (rows x views x dim) into ix, photo i
 * of m from row[i] (NULL: row i); 0 or 1 after a message. */
static int add_from_cache(const char *cmd, const char *path, const geoloc_manifest *m, const size_t *row,
                          size_t rows, const geoloc_model *model, geoloc_index *ix, size_t *failed) {
    geoloc_safetensors *st;
    geoloc_error err = {0};
    if (geoloc_safetensors_open(path, &st, &err) != GEOLOC_OK) {
        fprintf(stderr, "%s: %s\n", cmd, err.message);
        return 1;
    }
    const geoloc_tensor_info *t = geoloc_safetensors_find(st, "features"), *ok = geoloc_safetensors_find(st, "ok");
    const char *bb = geoloc_safetensors_metadata_get(st, "geoloc.backbone");
    const char *slash = strrchr(model->backbone, '/');
    int dim = geoloc_index_dim(ix), rc = 0;
    const float *feat = NULL;
    if (!t || t->ndim != 3 || t->shape[0] != rows || t->shape[1] < 3 || t->shape[2] != (uint64_t)dim || !ok ||
        ok->dtype != GEOLOC_DTYPE_U8 || ok->n_elements != rows) {
        fprintf(stderr, "%s: %s: not a features cache of the manifest's %zu photos (width %d, 3 views or more)\n",
                cmd, path, rows, dim);
        rc = 1;
    } else if (!bb || strcmp(bb, slash ? slash + 1 : model->backbone)) {
        fprintf(stderr, "%s: %s: made with backbone %s, the model's is %s\n", cmd, path, bb ? bb : "(unnamed)",
                model->backbone[0] ? model->backbone : "(in the model file)");
        rc = 1;
    } else if (geoloc_safetensors_get_f32(st, "features", t->shape, 3, &feat, &err) != GEOLOC_OK) {
        fprintf(stderr, "%s: %s\n", cmd, err.message);
        rc = 1;
    }
    float *mean = rc ? NULL : malloc((size_t)dim * sizeof *mean);
    if (!rc && !mean) {
        fprintf(stderr, "%s: out of memory\n", cmd);
        rc = 1;
    }
    const uint8_t *flags = ok ? ok->data : NULL;
    for (size_t i = 0; !rc && i < m->n; i++) {
        size_t r = row ? row[i] : i;
        if (!flags[r]) {
            (*failed)++;
            continue;
        }
        const float *v = feat + r * t->shape[1] * (size_t)dim;
        for (int j = 0; j < dim; j++) mean[j] = (v[j] + v[dim + j] + v[2 * dim + j]) / 3;
        if (geoloc_index_add(ix, m->row[i].id, m->row[i].lat, m->row[i].lng, mean, &err) != GEOLOC_OK) {
            fprintf(stderr, "%s: %s\n", cmd, err.message);
            rc = 1;
        }
    }
    free(mean);
    geoloc_safetensors_close(st);
    return rc;
}

static int index_build(int argc, char **argv) {
    const char *cmd = BUILD_SPEC.name;
    build_args a = {.pred = cli_prediction_args_default()};
    int n_args, rc = cli_parse(&BUILD_SPEC, &a, argc, argv, &n_args);
    if (rc != CLI_RUN) return rc;
    if (!a.images == !a.features) return cli_usage_error(&BUILD_SPEC, "give --images DIR or --features CACHE");
    if (a.features_meta && !a.features) return cli_usage_error(&BUILD_SPEC, "--features-meta needs --features");
    geoloc_manifest *m = cli_read_manifest(cmd, a.meta, 0);
    if (!m) return 1;
    cli_runner c = {0};
    if ((rc = cli_runner_open(cmd, &a.pred, 1, a.features ? 1 : m->n, &c)) != 0) {
        geoloc_manifest_free(m);
        return rc;
    }
    char backbone[512];
    geoloc_index_backbone_of(c.model, c.path, backbone, sizeof backbone);
    build_ctx b = {.m = m, .pred = c.pred};
    b.feat = malloc((size_t)geoloc_predictor_feature_dim(c.pred) * sizeof *b.feat);
    geoloc_error err = {0};
    rc = !b.feat || geoloc_index_create(geoloc_predictor_feature_dim(c.pred), (geoloc_index_precision)a.precision,
                                        backbone, &b.ix, &err) != GEOLOC_OK;
    if (rc) fprintf(stderr, "%s: %s\n", cmd, err.message[0] ? err.message : "out of memory");
    double t0 = cli_now_seconds();
    if (!rc && a.features) {
        geoloc_manifest *of = a.features_meta ? cli_read_manifest(cmd, a.features_meta, 0) : NULL;
        size_t *row = of ? malloc((m->n ? m->n : 1) * sizeof *row) : NULL;
        rc = a.features_meta && (!row || rows_in(cmd, m, of, a.features_meta, row) != 0);
        if (!rc) rc = add_from_cache(cmd, a.features, m, row, of ? of->n : m->n, c.model, b.ix, &b.failed);
        free(row);
        geoloc_manifest_free(of);
    } else if (!rc) {
        char **paths = cli_manifest_photo_paths(cmd, m, a.images);
        geoloc_batch_stats st = {0};
        cli_progress_start(&b.progress, "index", "photos", m->n);
        rc = !paths || cli_predict_paths(cmd, &c, (const char *const *)paths, m->n, 0, 0, on_photo, &b, &st) != 0;
        cli_progress_clear(&b.progress);
        if (b.err.message[0]) fprintf(stderr, "%s: %s\n", cmd, b.err.message);
        rc = rc || b.err.message[0];
        for (size_t i = 0; paths && i < m->n; i++) free(paths[i]);
        free(paths);
    }
    if (!rc && geoloc_index_count(b.ix) == 0) {
        fprintf(stderr, "%s: no photo could be indexed\n", cmd);
        rc = 1;
    }
    if (!rc && geoloc_index_save(b.ix, a.out, &err) != GEOLOC_OK) {
        fprintf(stderr, "%s: %s\n", cmd, err.message);
        rc = 1;
    }
    if (!rc)
        fprintf(stderr, "%s: %zu photos (%zu left out), width %d, %s, backbone %s: %s (%.1f s)\n", cmd,
                geoloc_index_count(b.ix), b.failed, geoloc_index_dim(b.ix), PRECISIONS[a.precision], backbone, a.out,
                cli_now_seconds() - t0);
    geoloc_index_free(b.ix);
    free(b.feat);
    cli_runner_close(&c);
    geoloc_manifest_free(m);
    return rc ? 1 : b.failed ? 3 : 0;
}

/* ---- query -------------------------------------------------------------------- */

typedef struct query_args {
    cli_prediction_args pred;
    const char *index;
    long k;
} query_args;

static const cli_option QUERY_OPTIONS[] = {
    CLI_OPTION("index", 0, CLI_STRING, query_args, index, "INDEX", "the feature index", .required = 1),
    CLI_OPTION("k", 0, CLI_INT, query_args, k, "K", "neighbours listed", .min = 1, .max = 4096),
    CLI_PREDICTION_OPTIONS(query_args, pred),
    CLI_END};

static const cli_spec QUERY_SPEC = {
    "geoloc index query", "PHOTO...", 1, -1,
    "Lists the K photos of the index most similar to each photo (cosine\n"
    "similarity of the model's backbone embeddings), a photo of the index never\n"
    "being its own neighbour (same file name as the IMG_ID).\n",
    QUERY_OPTIONS, "output: PHOTO,RANK,IMG_ID,SIMILARITY,LAT,LON (CSV with a header)\n"};

typedef struct query_ctx {
    cli_retrieval *r;
    int failed;
} query_ctx;

static int on_query(void *ctx, const geoloc_photo_answer *a) {
    query_ctx *q = ctx;
    if (!a->pred) {
        fprintf(stderr, "geoloc index query: %s (skipped)\n", a->error);
        q->failed = 1;
        return 0;
    }
    size_t n;
    if (cli_retrieval_neighbours(QUERY_SPEC.name, q->r, a, NULL, &n) != 0) return 1;
    for (size_t j = 0; j < n; j++) {
        geoloc_csv_write_field(stdout, a->name);
        printf(",%zu,", j + 1);
        geoloc_csv_write_field(stdout, geoloc_index_id(q->r->index, q->r->nb[j].row));
        printf(",%.4f,%.6f,%.6f\n", (double)q->r->nb[j].sim, q->r->nb[j].lat, q->r->nb[j].lon);
    }
    return 0;
}

static int index_query(int argc, char **argv) {
    const char *cmd = QUERY_SPEC.name;
    query_args a = {.pred = cli_prediction_args_default(), .k = 5};
    int n_args, rc = cli_parse(&QUERY_SPEC, &a, argc, argv, &n_args);
    if (rc != CLI_RUN) return rc;
    cli_runner c = {0};
    query_ctx q = {0};
    if ((rc = cli_runner_open(cmd, &a.pred, 1, (size_t)n_args, &c)) == 0 &&
        (rc = cli_retrieval_open(cmd, GEOLOC_ANSWER_KNN, a.index, a.k, &c, &q.r)) == 0) {
        printf("photo,rank,img_id,similarity,lat,lon\n");
        geoloc_batch_stats st = {0};
        rc = cli_predict_paths(cmd, &c, (const char *const *)argv + 1, (size_t)n_args, 0, 0, on_query, &q, &st) != 0 ||
             st.stopped ? 1 : q.failed ? 3 : 0;
    }
    cli_retrieval_close(q.r);
    cli_runner_close(&c);
    return rc;
}

/* ---- info --------------------------------------------------------------------- */

typedef struct info_args {
    int unused;
} info_args;

static const cli_option INFO_OPTIONS[] = {CLI_END};

static const cli_spec INFO_SPEC = {"geoloc index info", "INDEX", 1, 1,
                                   "Checks an index file (its checksum) and says what it holds.\n", INFO_OPTIONS,
                                   NULL};

static int index_info(int argc, char **argv) {
    info_args a = {0};
    int n_args, rc = cli_parse(&INFO_SPEC, &a, argc, argv, &n_args);
    if (rc != CLI_RUN) return rc;
    geoloc_index *ix;
    geoloc_error err = {0};
    if (geoloc_index_load(argv[1], &ix, &err) != GEOLOC_OK) {
        fprintf(stderr, "%s: %s\n", INFO_SPEC.name, err.message);
        return 1;
    }
    printf("photos:    %zu\nwidth:     %d\nprecision: %s\nbackbone:  %s\n", geoloc_index_count(ix),
           geoloc_index_dim(ix), PRECISIONS[geoloc_index_precision_of(ix)], geoloc_index_backbone(ix));
    geoloc_index_free(ix);
    return 0;
}

const cli_command CLI_INDEX_COMMANDS[] = {
    {"build", index_build, NULL, "the feature index of a manifest's photos (knn and hybrid answers)"},
    {"query", index_query, NULL, "the photos of an index most similar to photos"},
    {"info", index_info, NULL, "check an index file and say what it holds"},
    {NULL}};
