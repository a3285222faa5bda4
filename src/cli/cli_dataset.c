/* geoloc dataset: scan a photo folder, split a manifest by photographer,
 * describe a manifest or a pack (pack itself: cli_dataset_pack.c). */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli_dataset.h"
#include "cli/cli_progress.h"
#include "cli/cli_util.h"
#include "cli/commands.h"
#include "geoloc/album.h"
#include "geoloc/calibration.h"
#include "geoloc/dataset.h"

/* ---- shared helpers ------------------------------------------------------------ */

static void print_skip(void *ctx, const char *message) {
    size_t *shown = ctx;
    if ((*shown)++ < 10) fprintf(stderr, "skipped: %s\n", message);
}

geoloc_manifest *cli_read_manifest(const char *cmd, const char *path, int skip_invalid) {
    size_t shown = 0;
    geoloc_manifest_options opt = {skip_invalid, print_skip, &shown, 0};
    geoloc_manifest *m;
    geoloc_error err;
    if (geoloc_manifest_read(path, &opt, &m, &err) != GEOLOC_OK) {
        fprintf(stderr, "%s: %s\n", cmd, err.message);
        return NULL;
    }
    if (m->n_skipped)
        fprintf(stderr, "%s: %s: skipped %zu invalid rows%s\n", cmd, path, m->n_skipped,
                m->n_skipped > 10 ? " (first 10 shown)" : "");
    return m;
}

/* ---- scan ------------------------------------------------------------------------ */

typedef struct {
    const char *out, *report;
    long threads;
} scan_args;

static const cli_option SCAN_OPTIONS[] = {
    CLI_OPTION("out", 'o', CLI_STRING, scan_args, out, "FILE", "the manifest", .required = 1),
    CLI_OPTION("report", 0, CLI_STRING, scan_args, report, "FILE", "CSV of skipped files: path,reason,detail"),
    CLI_OPTION("threads", 'j', CLI_INT, scan_args, threads, "N", "reader threads (0: two per core)", .min = 0,
               .max = 1024),
    CLI_END};

static const cli_spec SCAN_SPEC = {
    "geoloc dataset scan", "DIR", 1, 1,
    "Walks the folder tree DIR (following symbolic links; loops and folders or files\n"
    "reached twice are reported, not followed), reads the EXIF GPS position of every\n"
    "photo (JPEG, PNG, WebP; for JPEGs only the file's head) and writes the photos\n"
    "that have one as a manifest: IMG_ID (path relative to DIR), LAT, LON, sorted by\n"
    "path. Every other file goes to the report with its reason: no_gps, not_image,\n"
    "unreadable, permission_denied, symlink_loop, broken_link, duplicate,\n"
    "not_regular_file. Outputs are written atomically; a summary goes to stderr.\n",
    SCAN_OPTIONS,
    "Exit status: 0 on success, 3 when some files could not be read (unreadable,\n"
    "permission_denied, broken_link; the manifest holds the others),\n"
    "1 on a failure, 2 on a usage error.\n"};

/* 1 for the reasons that are files that could not be read, rather than what
 * the folder holds (photos without GPS, other files, loops, duplicates). */
static int is_read_failure(geoloc_scan_reason r) {
    return r == GEOLOC_SCAN_UNREADABLE || r == GEOLOC_SCAN_PERMISSION || r == GEOLOC_SCAN_BROKEN_LINK;
}

static int dataset_scan(int argc, char **argv) {
    const char *cmd = SCAN_SPEC.name;
    scan_args a = {0};
    int n_args;
    int parsed = cli_parse(&SCAN_SPEC, &a, argc, argv, &n_args);
    if (parsed != CLI_RUN) return parsed;
    const char *dir = argv[1], *out = a.out, *report = a.report;
    cli_file outputs[2] = {{"--out", out}, {"--report", report}};
    if (cli_check_outputs(cmd, NULL, 0, outputs, 2) != 0) return CLI_EXIT_USAGE;
    double t0 = cli_now_seconds();
    cli_progress progress;
    cli_progress_start(&progress, "scan", NULL, 0);
    geoloc_scan_options opt = {(int)a.threads, cli_progress_callback, &progress};
    geoloc_scan_result *r;
    geoloc_error err;
    geoloc_status st = geoloc_dataset_scan(dir, &opt, &r, &err);
    cli_progress_clear(&progress);
    if (st != GEOLOC_OK) {
        fprintf(stderr, "%s: %s\n", cmd, err.message);
        return 1;
    }
    int rc = 0;
    if (geoloc_manifest_write(r->photos, out, &err) != GEOLOC_OK ||
        (report && geoloc_scan_write_report(r, report, &err) != GEOLOC_OK)) {
        fprintf(stderr, "%s: %s\n", cmd, err.message);
        rc = 1;
    } else {
        char counts[512] = "";
        size_t used = 0;
        for (int k = 0; k < GEOLOC_SCAN_N_REASONS && used < sizeof counts; k++)
            if (r->count[k])
                used += (size_t)snprintf(counts + used, sizeof counts - used, "%s%zu %s",
                                         used ? ", " : " (", r->count[k],
                                         geoloc_scan_reason_name((geoloc_scan_reason)k));
        fprintf(stderr, "%s: %zu files, %zu photos with GPS, %zu skipped%s%s in %.2f s\n", cmd,
                r->n_files, r->photos->n, r->n_skipped, counts, used ? ")" : "",
                cli_now_seconds() - t0);
        if (r->photos->n == 0) fprintf(stderr, "%s: warning: no photo in %s has a GPS position\n", cmd, dir);
        for (int k = 0; k < GEOLOC_SCAN_N_REASONS; k++)
            if (r->count[k] && is_read_failure((geoloc_scan_reason)k)) rc = CLI_EXIT_SKIPPED;
    }
    geoloc_scan_result_free(r);
    return rc;
}

/* ---- split ------------------------------------------------------------------------ */

typedef struct {
    double val_fraction;
    uint64_t seed;
    const char *train, *val, *group_column, *fold;
    int skip_invalid;
} split_args;

static const cli_option SPLIT_OPTIONS[] = {
    CLI_OPTION("val-fraction", 0, CLI_DOUBLE, split_args, val_fraction, "F",
               "share of photos for validation, 0 < F < 1", .min = 0, .max = 1),
    CLI_OPTION("fold", 0, CLI_STRING, split_args, fold, "K/N",
               "instead: validation = fold K (0..N-1) of N folds grouped by\n"
               "photographer, the folds of `geoloc train --val-fold K/N`\n"
               "with the same --seed (largest groups spread first)"),
    CLI_OPTION("seed", 0, CLI_UINT64, split_args, seed, "S", "non-negative integer (default 0)"),
    CLI_OPTION("out-train", 0, CLI_STRING, split_args, train, "FILE", "training manifest", .required = 1),
    CLI_OPTION("out-val", 0, CLI_STRING, split_args, val, "FILE", "validation manifest", .required = 1),
    CLI_OPTION("group-column", 0, CLI_STRING, split_args, group_column, "NAME",
               "group by this column instead of AUTHOR"),
    CLI_OPTION("skip-invalid", 0, CLI_FLAG, split_args, skip_invalid, NULL,
               "skip and count bad rows instead of failing"),
    CLI_END};

static const cli_spec SPLIT_SPEC = {
    "geoloc dataset split", "MANIFEST", 1, 1,
    "Splits the photos of MANIFEST into training and validation sets so that no\n"
    "photographer (AUTHOR, or the column given by --group-column) has photos in\n"
    "both; a row with an empty group value is a group of its own. The validation\n"
    "share is as close to F as whole groups allow; the split depends only on the\n"
    "seed and the rows (not their order). Both outputs keep every column.\n",
    SPLIT_OPTIONS, NULL};

static int by_string(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The groups (distinct values; an empty one is a group of its own) of the rows
 * k with is_val[k] == side. */
static size_t count_groups(const char **group, const uint8_t *is_val, size_t n, int side) {
    const char **named = malloc((n ? n : 1) * sizeof *named);
    size_t n_named = 0, groups = 0;
    for (size_t k = 0; k < n; k++)
        if (is_val[k] == side) {
            if (group[k] && group[k][0] && named) named[n_named++] = group[k];
            else groups++;
        }
    if (named) qsort(named, n_named, sizeof *named, by_string);
    for (size_t k = 0; k < n_named; k++) groups += k == 0 || strcmp(named[k], named[k - 1]) != 0;
    free(named);
    return groups;
}

/* is_val[k]: row k is in fold `fold` of `folds` folds grouped by the split's
 * column (geoloc_calibration_fold_rows: the folds of `geoloc train --val-fold`). */
static geoloc_status fold_split(const geoloc_manifest *m, const geoloc_split_options *opt, int fold, int folds,
                                uint8_t *is_val, geoloc_split_stats *s, geoloc_error *err) {
    const char **group = malloc((m->n ? m->n : 1) * sizeof *group);
    geoloc_status st = GEOLOC_OK;
    if (!group) {
        snprintf(err->message, sizeof err->message, "out of memory");
        st = err->status = GEOLOC_E_NOMEM;
    }
    if (st == GEOLOC_OK) st = geoloc_calibration_fold_rows(m, opt->group_column, fold, folds, opt->seed, is_val, err);
    if (st == GEOLOC_OK && opt->group_column) st = geoloc_album_manifest_keys(m, opt->group_column, group, err);
    for (size_t k = 0; st == GEOLOC_OK && !opt->group_column && k < m->n; k++) group[k] = m->row[k].author;
    if (st == GEOLOC_OK) {
        memset(s, 0, sizeof *s);
        for (size_t k = 0; k < m->n; k++) {
            if (is_val[k]) s->n_val++;
            else s->n_train++;
        }
        s->groups_val = count_groups(group, is_val, m->n, 1);
        s->groups_train = count_groups(group, is_val, m->n, 0);
    }
    free(group);
    return st;
}

static int dataset_split(int argc, char **argv) {
    const char *cmd = SPLIT_SPEC.name;
    split_args a = {.val_fraction = 0.2};
    int n_args;
    int parsed = cli_parse(&SPLIT_SPEC, &a, argc, argv, &n_args);
    if (parsed != CLI_RUN) return parsed;
    if (!(a.val_fraction > 0 && a.val_fraction < 1))
        return cli_usage_error(&SPLIT_SPEC, "--val-fraction must be a number between 0 and 1 (both excluded)");
    int fold = -1, folds = 0, end = 0;
    if (a.fold && (sscanf(a.fold, "%d/%d%n", &fold, &folds, &end) != 2 || a.fold[end] || folds < 2 || fold < 0 ||
                   fold >= folds))
        return cli_usage_error(&SPLIT_SPEC, "--fold must be K/N with 0 <= K < N and N >= 2");
    const char *input = argv[1], *train = a.train, *val = a.val;
    int skip_invalid = a.skip_invalid;
    geoloc_split_options opt = {a.val_fraction, a.seed, a.group_column};
    cli_file in = {"MANIFEST", input}, outputs[2] = {{"--out-train", train}, {"--out-val", val}};
    if (cli_check_outputs(cmd, &in, 1, outputs, 2) != 0) return CLI_EXIT_USAGE;
    geoloc_manifest *m = cli_read_manifest(cmd, input, skip_invalid);
    if (!m) return 1;
    int rc = 0;
    uint8_t *is_val = malloc(m->n ? m->n : 1);
    size_t *rows = malloc((m->n ? m->n : 1) * sizeof *rows);
    geoloc_split_stats s;
    geoloc_error err;
    if (!is_val || !rows) {
        fprintf(stderr, "%s: out of memory\n", cmd);
        rc = 1;
    } else if (m->n == 0) {
        fprintf(stderr, "%s: %s: no photos\n", cmd, input);
        rc = 1;
    } else if ((a.fold ? fold_split(m, &opt, fold, folds, is_val, &s, &err)
                       : geoloc_dataset_split(m, &opt, is_val, &s, &err)) != GEOLOC_OK) {
        fprintf(stderr, "%s: %s: %s\n", cmd, input, err.message);
        rc = 1;
    } else {
        if (!opt.group_column && !(m->columns & GEOLOC_COL_AUTHOR))
            fprintf(stderr, "%s: warning: %s has no AUTHOR column: every photo is a group of its "
                    "own\n", cmd, input);
        for (int side = 0; side < 2 && rc == 0; side++) {
            size_t n = 0;
            for (size_t k = 0; k < m->n; k++)
                if (is_val[k] == side) rows[n++] = k;
            if (geoloc_manifest_write_rows(m, rows, n, side ? val : train, &err) != GEOLOC_OK) {
                fprintf(stderr, "%s: %s\n", cmd, err.message);
                rc = 1;
            }
        }
        if (rc == 0)
            fprintf(stderr, "%s: train %zu photos (%zu groups), validation %zu photos (%zu groups), "
                    "validation share %.4f (asked %.4f)\n", cmd, s.n_train, s.groups_train,
                    s.n_val, s.groups_val, (double)s.n_val / (double)m->n,
                    a.fold ? 1.0 / folds : opt.val_fraction);
    }
    free(is_val);
    free(rows);
    geoloc_manifest_free(m);
    return rc;
}

/* ---- info --------------------------------------------------------------------------- */

typedef struct {
    int verify;
} info_args;

static const cli_option INFO_OPTIONS[] = {
    CLI_OPTION("verify", 0, CLI_FLAG, info_args, verify, NULL,
               "read every photo of a pack and check its CRC-32C"),
    CLI_END};

static const cli_spec INFO_SPEC = {"geoloc dataset info", "SHARDS_DIR|MANIFEST", 1, 1,
                                   "Describes a pack (a folder with index.bin) or a manifest CSV.\n",
                                   INFO_OPTIONS, NULL};

static int info_pack(const char *cmd, const char *dir, int verify) {
    geoloc_shard_index *x;
    geoloc_error err;
    if (geoloc_shard_index_open(dir, &x, &err) != GEOLOC_OK) {
        fprintf(stderr, "%s: %s\n", cmd, err.message);
        return 1;
    }
    geoloc_shard_info in;
    geoloc_shard_index_info(x, &in);
    geoloc_shard_index_close(x);
    printf("pack:          %s (format version %u, set id %016" PRIx64 ")\n", dir, in.version,
           in.set_id);
    printf("photos:        %" PRIu64 "\n", in.n_photos);
    printf("shards:        %u, %.1f MiB (%.1f KiB per photo)\n", in.n_shards,
           (double)in.bytes / 1048576.0, in.n_photos ? (double)in.bytes / 1024.0 / (double)in.n_photos : 0);
    if (in.shorter_side < 0) printf("photos stored: original files\n");
    else printf("photos stored: JPEG quality %d, shorter side %d px\n", in.quality, in.shorter_side);
    printf("columns:       IMG_ID,LAT,LON%s%s%s%s\n", in.columns & GEOLOC_COL_AUTHOR ? ",AUTHOR" : "",
           in.columns & GEOLOC_COL_S3 ? ",S3_Label" : "", in.columns & GEOLOC_COL_S16 ? ",S16_Label" : "",
           in.columns & GEOLOC_COL_S365 ? ",S365_Label" : "");
    if (!verify) return 0;
    geoloc_source src;
    if (geoloc_source_shards(dir, 1, &src, &err) != GEOLOC_OK) {
        fprintf(stderr, "%s: %s\n", cmd, err.message);
        return 1;
    }
    size_t bad = 0;
    for (size_t k = 0; k < src.n; k++) {
        const uint8_t *data;
        size_t size;
        const char *name;
        if (src.read(src.ctx, k, &data, &size, &name, &err) != GEOLOC_OK) {
            if (bad++ < 10) fprintf(stderr, "%s: %s\n", cmd, err.message);
        } else if (src.release) {
            src.release(src.ctx, data, size);
        }
    }
    geoloc_source_close(&src);
    printf("verified:      %zu photos, %zu with a bad checksum\n", (size_t)in.n_photos, bad);
    return bad ? 1 : 0;
}

static int info_manifest(const char *cmd, const char *path) {
    geoloc_manifest *m = cli_read_manifest(cmd, path, 0);
    if (!m) return 1;
    printf("manifest:  %s\n", path);
    printf("photos:    %zu\n", m->n);
    printf("columns:   IMG_ID,LAT,LON");
    static const char *const names[] = {"AUTHOR", "S3_Label", "S16_Label", "S365_Label",
                                        "Prob_indoor", "Prob_natural", "Prob_urban"};
    for (int k = 0; k < 7; k++)
        if (m->columns & (1u << k)) printf(",%s", names[k]);
    for (size_t j = 0; j < m->n_extra; j++) printf(",%s", m->extra_name[j]);
    printf("\n");
    geoloc_manifest_stats st;
    geoloc_error err;
    if (geoloc_manifest_summarize(m, &st, &err) != GEOLOC_OK) {
        fprintf(stderr, "%s: %s\n", cmd, err.message);
        geoloc_manifest_free(m);
        return 1;
    }
    if (st.n) {
        printf("latitude:  %.6f .. %.6f\nlongitude: %.6f .. %.6f\n", st.lat_min, st.lat_max, st.lng_min, st.lng_max);
        if (m->columns & GEOLOC_COL_AUTHOR)
            printf("authors:   %zu (%zu photos without one)\n", st.n_authors, st.n_without_author);
        if (m->columns & GEOLOC_COL_S3)
            printf("scenes:    %zu indoor, %zu natural, %zu urban (%zu photos without a label)\n", st.n_scene[0],
                   st.n_scene[1], st.n_scene[2], st.n_without_scene);
    }
    geoloc_manifest_free(m);
    return 0;
}

static int dataset_info(int argc, char **argv) {
    const char *cmd = INFO_SPEC.name;
    info_args a = {0};
    int n_args;
    int parsed = cli_parse(&INFO_SPEC, &a, argc, argv, &n_args);
    if (parsed != CLI_RUN) return parsed;
    const char *target = argv[1];
    int verify = a.verify;
    char index[4200];
    snprintf(index, sizeof index, "%s/index.bin", target);
    if (access(index, F_OK) == 0) return info_pack(cmd, target, verify);
    return info_manifest(cmd, target);
}

const cli_command CLI_DATASET_COMMANDS[] = {
    {"scan", dataset_scan, NULL, "find the photos with an EXIF GPS position in a folder tree (manifest)"},
    {"split", dataset_split, NULL, "train/validation split grouped by photographer"},
    {"pack", cli_dataset_pack, NULL, "resize and pack a manifest's photos into shards"},
    {"import-msgpack", cli_dataset_import, NULL, "GeoEstimation's msgpack shards into a pack (resumable)"},
    {"info", dataset_info, NULL, "describe a pack or a manifest"},
    {"dedup", cli_dataset_dedup, NULL, "near-duplicate photos within a set or between two (embeddings, pHash)"},
    {NULL}};
