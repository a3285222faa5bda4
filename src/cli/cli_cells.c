/* geoloc cells: build partitions, relate them (hierarchy), assign photos. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli_util.h"
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

static const char BUILD_USAGE[] =
    "usage: geoloc cells build --tau-min N --tau-max M[,M...] --out-dir DIR [options] DATA.csv\n"
    "\n"
    "Builds one adaptive S2 partition per tau-max from the photos of DATA.csv\n"
    "(columns found by name: LAT/lat/latitude and LON/lng/lon/longitude), with the\n"
    "semantics of Mueller-Budack et al.'s reference: photos start in their level-2\n"
    "cell, cells with <= tau-min photos are dropped, cells with more than tau-max\n"
    "photos are split level by level, then cells with <= tau-min are dropped again.\n"
    "Writes DIR/cells_<tau-min>_<tau-max>.csv in the published format (classes in\n"
    "S2 cell-id order; mean location of each cell's photos).\n"
    "\n"
    "options:\n"
    "  --tau-min N         drop cells with at most N photos (required)\n"
    "  --tau-max LIST      comma-separated split thresholds, one partition each (required)\n"
    "  --out-dir DIR       output folder, created if missing (required)\n"
    "  --level-min L       starting level (default 2)\n"
    "  --level-max L       deepest level (default 30)\n"
    "  --skip-invalid      skip and count bad rows instead of failing\n"
    "  --threads N         parser threads (default: one per core)\n";

static int cells_build(int argc, char **argv) {
    const char *cmd = "geoloc cells build";
    const char *out_dir = NULL, *input = NULL;
    uint64_t tau_max[MAX_PARTITIONS];
    int n_tau = 0, skip_invalid = 0;
    long tau_min = -1, level_min = 2, level_max = 30, threads = 0;
    for (int k = 1; k < argc; k++) {
        const char *a = argv[k], *v;
        if (cli_is_help(a)) {
            fputs(BUILD_USAGE, stdout);
            return 0;
        } else if (!strcmp(a, "--skip-invalid")) {
            skip_invalid = 1;
        } else if (!strcmp(a, "--tau-min") || !strcmp(a, "--level-min") ||
                   !strcmp(a, "--level-max") || !strcmp(a, "--threads")) {
            if (!(v = cli_option_value(cmd, argc, argv, &k))) return 2;
            long *dst = !strcmp(a, "--tau-min") ? &tau_min
                        : !strcmp(a, "--level-min") ? &level_min
                        : !strcmp(a, "--level-max") ? &level_max : &threads;
            if (cli_parse_int(cmd, a, v, dst) != 0) return 2;
        } else if (!strcmp(a, "--tau-max")) {
            if (!(v = cli_option_value(cmd, argc, argv, &k))) return 2;
            if ((n_tau = cli_parse_uint_list(cmd, a, v, tau_max, MAX_PARTITIONS)) < 0) return 2;
        } else if (!strcmp(a, "--out-dir")) {
            if (!(out_dir = cli_option_value(cmd, argc, argv, &k))) return 2;
        } else if (cli_single_argument(cmd, BUILD_USAGE, "input file", a, &input) != 0) {
            return 2;
        }
    }
    if (!input || tau_min < 0 || n_tau == 0 || !out_dir) {
        fprintf(stderr, "%s: DATA.csv, --tau-min, --tau-max and --out-dir are required\n%s", cmd,
                BUILD_USAGE);
        return 2;
    }
    if (level_min > 30 || level_max > 30 || level_min > level_max) {
        fprintf(stderr, "%s: levels must satisfy 0 <= --level-min <= --level-max <= 30\n", cmd);
        return 2;
    }
    for (int k = 0; k < n_tau; k++)
        if (tau_max[k] <= (uint64_t)tau_min) {
            fprintf(stderr, "%s: --tau-max %" PRIu64 " must be larger than --tau-min %ld\n", cmd,
                    tau_max[k], tau_min);
            return 2;
        }
    geoloc_points *pts = read_points(cmd, input, skip_invalid, 0, threads);
    if (!pts) return 1;
    if (cli_mkdir_p(cmd, out_dir) != 0) {
        geoloc_points_free(pts);
        return 1;
    }
    geoloc_partition *parts[MAX_PARTITIONS];
    geoloc_partition_params params = {(uint64_t)tau_min, tau_max, (size_t)n_tau, (int)level_min,
                                      (int)level_max, (int)threads};
    geoloc_error err;
    int rc = 0;
    if (geoloc_partitions_build(pts->lat, pts->lng, pts->n, &params, parts, &err) != GEOLOC_OK) {
        fprintf(stderr, "%s: %s: %s\n", cmd, input, err.message);
        geoloc_points_free(pts);
        return 1;
    }
    for (int k = 0; k < n_tau; k++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/cells_%ld_%" PRIu64 ".csv", out_dir, tau_min, tau_max[k]);
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
static int read_partitions(const char *cmd, char **files, int n_files, geoloc_partition **parts) {
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

static const char HIERARCHY_USAGE[] =
    "usage: geoloc cells hierarchy [--out FILE] COARSE.csv [MIDDLE.csv ...] FINE.csv\n"
    "\n"
    "Maps every cell of the last (finest) partition to the class of its ancestor\n"
    "cell in each other partition, as the hierarchical classification needs.\n"
    "Writes CSV: class_label,hex_id,<one column per coarser partition, named by its\n"
    "file name>; an empty value where a cell has no ancestor (such cells are\n"
    "reported on stderr, and the exit code is then 3).\n"
    "\n"
    "options:\n"
    "  --out FILE   write here (atomically) instead of standard output\n";

static int cells_hierarchy(int argc, char **argv) {
    const char *cmd = "geoloc cells hierarchy", *out = "-";
    char *files[MAX_PARTITIONS];
    int n = 0;
    for (int k = 1; k < argc; k++) {
        if (cli_is_help(argv[k])) {
            fputs(HIERARCHY_USAGE, stdout);
            return 0;
        } else if (!strcmp(argv[k], "--out")) {
            if (!(out = cli_option_value(cmd, argc, argv, &k))) return 2;
        } else if (argv[k][0] == '-' && argv[k][1]) {
            fprintf(stderr, "%s: unknown option %s\n%s", cmd, argv[k], HIERARCHY_USAGE);
            return 2;
        } else if (n == MAX_PARTITIONS) {
            fprintf(stderr, "%s: at most %d partitions\n", cmd, MAX_PARTITIONS);
            return 2;
        } else {
            files[n++] = argv[k];
        }
    }
    if (n < 2) {
        fprintf(stderr, "%s: give at least two partition files\n%s", cmd, HIERARCHY_USAGE);
        return 2;
    }
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
            int32_t a = anc[(size_t)p * fine->n + c];
            if (a >= 0) fprintf(f.fp, ",%d", a);
            else fputc(',', f.fp);
            if (a < 0 && orphans <= 20) fprintf(stderr, "%s: no ancestor in %s for cell %s (class %zu)\n", cmd, files[p], token, c);
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

static const char ASSIGN_USAGE[] =
    "usage: geoloc cells assign --cells P1.csv[,P2.csv...] [--out FILE] [options] DATA.csv\n"
    "\n"
    "Labels each photo of DATA.csv with its class in each partition: the class of\n"
    "the partition cell that contains the photo's leaf cell (the reference's first\n"
    "ancestor level found; cells of a partition never overlap). Writes CSV:\n"
    "IMG_ID (when DATA.csv has an id column),LAT,LON,<one column per partition,\n"
    "named by its file name>; an empty value where no cell holds the photo.\n"
    "\n"
    "options:\n"
    "  --cells LIST      partition files, comma-separated (required)\n"
    "  --out FILE        write here (atomically) instead of standard output\n"
    "  --skip-invalid    skip and count bad rows instead of failing\n";

static int split_list(char *text, char **items, int max) {
    int n = 0;
    for (char *tok = strtok(text, ","); tok; tok = strtok(NULL, ",")) {
        if (n == max) return -1;
        items[n++] = tok;
    }
    return n;
}

static int cells_assign(int argc, char **argv) {
    const char *cmd = "geoloc cells assign", *out = "-", *input = NULL;
    char *cells_arg = NULL;
    int skip_invalid = 0;
    for (int k = 1; k < argc; k++) {
        const char *a = argv[k];
        if (cli_is_help(a)) {
            fputs(ASSIGN_USAGE, stdout);
            return 0;
        } else if (!strcmp(a, "--skip-invalid")) {
            skip_invalid = 1;
        } else if (!strcmp(a, "--out")) {
            if (!(out = cli_option_value(cmd, argc, argv, &k))) return 2;
        } else if (!strcmp(a, "--cells")) {
            if (!(cells_arg = (char *)cli_option_value(cmd, argc, argv, &k))) return 2;
        } else if (cli_single_argument(cmd, ASSIGN_USAGE, "input file", a, &input) != 0) {
            return 2;
        }
    }
    char *files[MAX_PARTITIONS];
    int n = cells_arg ? split_list(cells_arg, files, MAX_PARTITIONS) : 0;
    if (!input || n <= 0) {
        fprintf(stderr, "%s: DATA.csv and --cells are required (at most %d files)\n%s", cmd,
                MAX_PARTITIONS, ASSIGN_USAGE);
        return 2;
    }
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

/* ---- dispatch ------------------------------------------------------------------------- */

static const char CELLS_USAGE[] =
    "usage: geoloc cells <build|hierarchy|assign|sample> [options]\n"
    "\n"
    "  build       adaptive partitions from a CSV of photo coordinates\n"
    "  hierarchy   map the cells of the finest partition to their coarser ancestors\n"
    "  assign      label photos with their class in each partition\n"
    "  sample      draw photo-like points inside the cells of a partition file\n"
    "\n"
    "Run 'geoloc cells <command> --help' for its options.\n";

int cli_cells(int argc, char **argv) {
    if (argc < 2) {
        fputs(CELLS_USAGE, stderr);
        return 2;
    }
    if (cli_is_help(argv[1])) {
        fputs(CELLS_USAGE, stdout);
        return 0;
    }
    if (!strcmp(argv[1], "build")) return cells_build(argc - 1, argv + 1);
    if (!strcmp(argv[1], "hierarchy")) return cells_hierarchy(argc - 1, argv + 1);
    if (!strcmp(argv[1], "assign")) return cells_assign(argc - 1, argv + 1);
    if (!strcmp(argv[1], "sample")) return cli_cells_sample(argc - 1, argv + 1);
    fprintf(stderr, "geoloc cells: unknown command '%s'\n%s", argv[1], CELLS_USAGE);
    return 2;
}
