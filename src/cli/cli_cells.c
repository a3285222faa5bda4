/* geoloc cells: build partitions, relate them (hierarchy), assign photos. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli_util.h"
#include "cli/cli_options.h"
#include "cli/commands.h"
#include "geoloc/io.h"
#include "geoloc/partition.h"
#include "geoloc/points.h"

#define MAX_PARTITIONS 16

static void print_skip(void *ctx, const char *message) {
    size_t *shown = ctx;
    if ((*shown)++ < 10) fprintf(stderr, "skipped: %s\n", message);
}

/* Reads points, reporting skipped rows; NULL after printing the error. */
static geoloc_points *read_points(const char *cmd, const char *path, int skip_invalid,
                                  int with_ids, long threads) {
    size_t shown = 0;
    geoloc_points_options opt = {with_ids, 0, skip_invalid, (int)threads, print_skip, &shown};
    geoloc_points *pts;
    geoloc_error err;
    if (geoloc_points_read_csv(path, &opt, &pts, &err) != GEOLOC_OK) {
        fprintf(stderr, "%s: %s\n", cmd, err.message);
        return NULL;
    }
    if (pts->n_skipped)
        fprintf(stderr, "%s: %s: skipped %zu invalid rows%s\n", cmd, path, pts->n_skipped,
                pts->n_skipped > 10 ? " (first 10 shown)" : "");
    return pts;
}

/* ---- build ---------------------------------------------------------------- */

typedef struct {
    long tau_min, level_min, level_max, threads;
    cli_list tau_max;
    const char *out_dir;
    int skip_invalid;
} build_args;

static const cli_option BUILD_OPTIONS[] = {
    CLI_OPTION("tau-min", 0, CLI_INT, build_args, tau_min, "N", "drop cells with at most N photos",
               .min = 0, .max = 1e15, .required = 1),
    CLI_OPTION("tau-max", 0, CLI_UINT64S, build_args, tau_max, "LIST",
               "comma-separated split thresholds, one partition each", .min = 1, .max = 1e15,
               .required = 1, .max_items = MAX_PARTITIONS),
    CLI_OPTION("out-dir", 'o', CLI_STRING, build_args, out_dir, "DIR", "output folder, created if missing",
               .required = 1),
    CLI_OPTION("level-min", 0, CLI_INT, build_args, level_min, "L", "starting level", .min = 0, .max = 30),
    CLI_OPTION("level-max", 0, CLI_INT, build_args, level_max, "L", "deepest level", .min = 0, .max = 30),
    CLI_OPTION("skip-invalid", 0, CLI_FLAG, build_args, skip_invalid, NULL,
               "skip and count bad rows instead of failing"),
    CLI_OPTION("threads", 'j', CLI_INT, build_args, threads, "N", "parser threads (0: one per core)",
               .min = 0, .max = 1024),
    CLI_END};

static const cli_spec BUILD_SPEC = {
    "geoloc cells build", "DATA.csv", 1, 1,
    "Builds one adaptive S2 partition per tau-max from the photos of DATA.csv\n"
    "(columns found by name: LAT/lat/latitude and LON/lng/lon/longitude), with the\n"
    "semantics of Mueller-Budack et al.'s reference: photos start in their level-2\n"
    "cell, cells with <= tau-min photos are dropped, cells with more than tau-max\n"
    "photos are split level by level, then cells with <= tau-min are dropped again.\n"
    "Writes DIR/cells_<tau-min>_<tau-max>.csv in the published format (classes in\n"
    "S2 cell-id order; mean location of each cell's photos).\n",
    BUILD_OPTIONS, NULL};

/* DIR/cells_<tau-min>_<tau-max>.csv of partition k. */
static void build_output_path(const build_args *a, int k, char *path, size_t size) {
    snprintf(path, size, "%s/cells_%ld_%" PRIu64 ".csv", a->out_dir, a->tau_min, a->tau_max.u64[k]);
}

static int cells_build(int argc, char **argv) {
    const char *cmd = BUILD_SPEC.name;
    build_args a = {.level_min = 2, .level_max = 30};
    int n_args;
    int parsed = cli_parse(&BUILD_SPEC, &a, argc, argv, &n_args);
    if (parsed != CLI_RUN) return parsed;
    const char *input = argv[1], *out_dir = a.out_dir;
    long tau_min = a.tau_min, threads = a.threads;
    const uint64_t *tau_max = a.tau_max.u64;
    int n_tau = a.tau_max.n, skip_invalid = a.skip_invalid;
    if (a.level_min > a.level_max)
        return cli_usage_error(&BUILD_SPEC, "levels must satisfy --level-min <= --level-max");
    for (int k = 0; k < n_tau; k++) {
        if (tau_max[k] <= (uint64_t)tau_min)
            return cli_usage_error(&BUILD_SPEC, "--tau-max %" PRIu64 " must be larger than --tau-min %ld",
                                   tau_max[k], tau_min);
        char path[4096];
        build_output_path(&a, k, path, sizeof path);
        cli_file in = {"DATA.csv", input}, out = {"file", path};
        if (cli_check_outputs(cmd, &in, 1, &out, 1) != 0) return CLI_EXIT_USAGE;
    }
    geoloc_points *pts = read_points(cmd, input, skip_invalid, 0, threads);
    if (!pts) return 1;
    if (cli_mkdir_p(cmd, out_dir) != 0) {
        geoloc_points_free(pts);
        return 1;
    }
    geoloc_partition *parts[MAX_PARTITIONS];
    geoloc_partition_params params = {(uint64_t)tau_min, tau_max, (size_t)n_tau, (int)a.level_min,
                                      (int)a.level_max, (int)threads};
    geoloc_error err;
    int rc = 0;
    if (geoloc_partitions_build(pts->lat, pts->lng, pts->n, &params, parts, &err) != GEOLOC_OK) {
        fprintf(stderr, "%s: %s: %s\n", cmd, input, err.message);
        geoloc_points_free(pts);
        return 1;
    }
    for (int k = 0; k < n_tau; k++) {
        char path[4096];
        build_output_path(&a, k, path, sizeof path);
        uint64_t kept = 0;
        for (size_t c = 0; c < parts[k]->n; c++) kept += parts[k]->count[c];
        if (rc == 0 && geoloc_partition_write(parts[k], path, &err) != GEOLOC_OK) {
            fprintf(stderr, "%s: %s\n", cmd, err.message);
            rc = 1;
        } else if (rc == 0) {
            fprintf(stderr, "%s: %zu cells, %" PRIu64 " of %zu photos kept\n", path, parts[k]->n,
                    kept, pts->n);
        }
        geoloc_partition_free(parts[k]);
    }
    geoloc_points_free(pts);
    return rc;
}

/* ---- reading several partitions ---------------------------------------------- */

/* Reads comma-separated (or repeated) partition files; returns the count or -1. */
static int read_partitions(const char *cmd, const char *const *files, int n_files, geoloc_partition **parts) {
    for (int k = 0; k < n_files; k++) {
        geoloc_error err;
        if (geoloc_partition_read(files[k], &parts[k], &err) != GEOLOC_OK) {
            fprintf(stderr, "%s: %s\n", cmd, err.message);
            while (k--) geoloc_partition_free(parts[k]);
            return -1;
        }
    }
    return n_files;
}

/* ---- hierarchy ----------------------------------------------------------------- */

typedef struct {
    const char *out;
} hierarchy_args;

static const cli_option HIERARCHY_OPTIONS[] = {
    CLI_OPTION("out", 'o', CLI_STRING, hierarchy_args, out, "FILE",
               "write here (atomically); '-': standard output"),
    CLI_END};

static const cli_spec HIERARCHY_SPEC = {
    "geoloc cells hierarchy", "COARSE.csv [MIDDLE.csv ...] FINE.csv", 2, MAX_PARTITIONS,
    "Maps every cell of the last (finest) partition to the class of its ancestor\n"
    "cell in each other partition, as the hierarchical classification needs.\n"
    "Writes CSV: class_label,hex_id,<one column per coarser partition, named by its\n"
    "file name>; an empty value where a cell has no ancestor (such cells are\n"
    "reported on stderr, and the exit code is then 3).\n",
    HIERARCHY_OPTIONS, NULL};

static int cells_hierarchy(int argc, char **argv) {
    const char *cmd = HIERARCHY_SPEC.name;
    hierarchy_args a = {.out = "-"};
    int n;
    int parsed = cli_parse(&HIERARCHY_SPEC, &a, argc, argv, &n);
    if (parsed != CLI_RUN) return parsed;
    const char *out = a.out;
    const char *const *files = (const char *const *)argv + 1;
    cli_file inputs[MAX_PARTITIONS], output = {"--out", out};
    for (int k = 0; k < n; k++) inputs[k] = (cli_file){"partition", files[k]};
    if (cli_check_outputs(cmd, inputs, n, &output, 1) != 0) return CLI_EXIT_USAGE;
    geoloc_partition *parts[MAX_PARTITIONS];
    if (read_partitions(cmd, files, n, parts) < 0) return 1;
    const geoloc_partition *fine = parts[n - 1];
    int32_t *anc = malloc((size_t)(n - 1) * (fine->n ? fine->n : 1) * sizeof *anc);
    geoloc_atomic_file f;
    geoloc_error err;
    int rc = 0;
    if (!anc || geoloc_atomic_file_open(&f, out, &err) != GEOLOC_OK) {
        fprintf(stderr, "%s: %s\n", cmd, anc ? err.message : "out of memory");
        rc = 1;
        goto done;
    }
    size_t orphans = 0;
    for (int p = 0; p < n - 1; p++) {
        size_t missing = geoloc_partition_ancestors(fine, parts[p], anc + (size_t)p * fine->n);
        orphans += missing;
        if (missing)
            fprintf(stderr, "%s: %zu cells of %s have no ancestor in %s\n", cmd, missing,
                    files[n - 1], files[p]);
    }
    fputs("class_label,hex_id", f.fp);
    for (int p = 0; p < n - 1; p++) {
        char stem[256];
        cli_stem(files[p], stem, sizeof stem);
        fprintf(f.fp, ",%s", stem);
    }
    fputc('\n', f.fp);
    for (size_t c = 0; c < fine->n; c++) {
        char token[GEOLOC_S2_TOKEN_SIZE];
        geoloc_s2_to_token(fine->cell[c], token);
        fprintf(f.fp, "%zu,%s", c, token);
        for (int p = 0; p < n - 1; p++) {
            int32_t ancestor = anc[(size_t)p * fine->n + c];
            if (ancestor >= 0) fprintf(f.fp, ",%d", ancestor);
            else fputc(',', f.fp);
            if (ancestor < 0 && orphans <= 20) fprintf(stderr, "%s: no ancestor in %s for cell %s (class %zu)\n", cmd, files[p], token, c);
        }
        fputc('\n', f.fp);
    }
    if (geoloc_atomic_file_commit(&f, &err) != GEOLOC_OK) {
        fprintf(stderr, "%s: %s\n", cmd, err.message);
        rc = 1;
    } else if (orphans) {
        rc = 3;
    }
done:
    free(anc);
    for (int p = 0; p < n; p++) geoloc_partition_free(parts[p]);
    return rc;
}

/* ---- assign ---------------------------------------------------------------------- */

typedef struct {
    cli_list cells;
    const char *out;
    int skip_invalid;
} assign_args;

static const cli_option ASSIGN_OPTIONS[] = {
    CLI_OPTION("cells", 'c', CLI_STRINGS, assign_args, cells, "LIST", "partition files, comma-separated",
               .required = 1, .max_items = MAX_PARTITIONS),
    CLI_OPTION("out", 'o', CLI_STRING, assign_args, out, "FILE",
               "write here (atomically); '-': standard output"),
    CLI_OPTION("skip-invalid", 0, CLI_FLAG, assign_args, skip_invalid, NULL,
               "skip and count bad rows instead of failing"),
    CLI_END};

static const cli_spec ASSIGN_SPEC = {
    "geoloc cells assign", "DATA.csv", 1, 1,
    "Labels each photo of DATA.csv with its class in each partition: the class of\n"
    "the partition cell that contains the photo's leaf cell (the reference's first\n"
    "ancestor level found; cells of a partition never overlap). Writes CSV:\n"
    "IMG_ID (when DATA.csv has an id column),LAT,LON,<one column per partition,\n"
    "named by its file name>; an empty value where no cell holds the photo.\n",
    ASSIGN_OPTIONS, NULL};

static int cells_assign(int argc, char **argv) {
    const char *cmd = ASSIGN_SPEC.name;
    assign_args a = {.out = "-"};
    int n_args;
    int parsed = cli_parse(&ASSIGN_SPEC, &a, argc, argv, &n_args);
    if (parsed != CLI_RUN) return parsed;
    const char *out = a.out, *input = argv[1];
    int skip_invalid = a.skip_invalid, n = a.cells.n;
    const char *const *files = a.cells.str;
    cli_file inputs[MAX_PARTITIONS + 1] = {{"DATA.csv", input}}, output = {"--out", out};
    for (int k = 0; k < n; k++) inputs[k + 1] = (cli_file){"--cells", files[k]};
    if (cli_check_outputs(cmd, inputs, n + 1, &output, 1) != 0) return CLI_EXIT_USAGE;
    geoloc_partition *parts[MAX_PARTITIONS];
    if (read_partitions(cmd, files, n, parts) < 0) return 1;
    geoloc_points *pts = read_points(cmd, input, skip_invalid, 1, 0);
    geoloc_atomic_file f;
    geoloc_error err;
    int rc = 0;
    if (!pts) {
        rc = 1;
    } else if (geoloc_atomic_file_open(&f, out, &err) != GEOLOC_OK) {
        fprintf(stderr, "%s: %s\n", cmd, err.message);
        rc = 1;
    } else {
        size_t unassigned[MAX_PARTITIONS] = {0};
        fputs(pts->id ? "IMG_ID,LAT,LON" : "LAT,LON", f.fp);
        for (int p = 0; p < n; p++) {
            char stem[256];
            cli_stem(files[p], stem, sizeof stem);
            fprintf(f.fp, ",%s", stem);
        }
        fputc('\n', f.fp);
        for (size_t i = 0; i < pts->n; i++) {
            char la[32], lo[32];
            geoloc_csv_format_double(pts->lat[i], la);
            geoloc_csv_format_double(pts->lng[i], lo);
            if (pts->id) {
                geoloc_csv_write_field(f.fp, pts->id[i]);
                fputc(',', f.fp);
            }
            fprintf(f.fp, "%s,%s", la, lo);
            geoloc_cell leaf = geoloc_s2_from_latlng(pts->lat[i], pts->lng[i]);
            for (int p = 0; p < n; p++) {
                long c = geoloc_partition_find(parts[p], leaf);
                if (c >= 0) fprintf(f.fp, ",%ld", c);
                else {
                    fputc(',', f.fp);
                    unassigned[p]++;
                }
            }
            fputc('\n', f.fp);
        }
        if (geoloc_atomic_file_commit(&f, &err) != GEOLOC_OK) {
            fprintf(stderr, "%s: %s\n", cmd, err.message);
            rc = 1;
        }
        for (int p = 0; rc == 0 && p < n; p++)
            if (unassigned[p])
                fprintf(stderr, "%s: %zu of %zu photos fall in no cell of %s\n", cmd,
                        unassigned[p], pts->n, files[p]);
    }
    geoloc_points_free(pts);
    for (int p = 0; p < n; p++) geoloc_partition_free(parts[p]);
    return rc;
}

const cli_command CLI_CELLS_COMMANDS[] = {
    {"build", cells_build, NULL, "adaptive partitions from a CSV of photo coordinates"},
    {"hierarchy", cells_hierarchy, NULL, "map the cells of the finest partition to their coarser ancestors"},
    {"assign", cells_assign, NULL, "label photos with their class in each partition"},
    {"sample", cli_cells_sample, NULL, "draw photo-like points inside the cells of a partition file"},
    {NULL}};
