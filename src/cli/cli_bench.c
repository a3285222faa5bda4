/* geoloc bench cells: time partition building on an MP-16-sized point set. */
#include <inttypes.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli_util.h"
#include "cli/commands.h"
#include "cli/sample.h"
#include "geoloc/partition.h"

extern char **environ;

typedef struct {
    const char *cells, *tau_max, *threads;
    long runs;
} bench_args;

static const cli_option BENCH_OPTIONS[] = {
    CLI_OPTION("cells", 0, CLI_STRING, bench_args, cells, "FILE",
               "partition file to draw the points from\n(default: the shared cells_50_1000.csv)"),
    CLI_OPTION("runs", 0, CLI_INT, bench_args, runs, "N", "timed runs", .min = 1, .max = 100),
    CLI_OPTION("tau-max", 0, CLI_STRING, bench_args, tau_max, "LIST", "passed to cells build"),
    CLI_OPTION("threads", 'j', CLI_STRING, bench_args, threads, "N", "passed to cells build (default: one per core)"),
    CLI_END};

static const cli_spec BENCH_SPEC = {
    "geoloc bench cells", NULL, 0, 0,
    "Draws an MP-16-like set of points (each cell's imgs_per_cell points inside the\n"
    "cell; by default 4.7 million points), writes it as CSV, then times\n"
    "'geoloc cells build --tau-min 50 --tau-max LIST' on it (CSV parsing and output\n"
    "included) in a fresh process per run, and prints wall time and peak memory.\n"
    "Targets: <= 3 s and < 1 GiB for three partitions.\n",
    BENCH_OPTIONS, NULL};

/* Runs `geoloc cells build` in a child; wall seconds and peak RSS in MiB. */
static int timed_build(char **args, double *wall, double *rss_mib) {
    pid_t pid;
    double t0 = cli_now_seconds();
    if (posix_spawn(&pid, "/proc/self/exe", NULL, NULL, args, environ) != 0) return -1;
    int status;
    struct rusage ru;
    if (wait4(pid, &status, 0, &ru) != pid) return -1;
    *wall = cli_now_seconds() - t0;
    *rss_mib = (double)ru.ru_maxrss / 1024.0;
    return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}

static int bench_cells(int argc, char **argv) {
    const char *cmd = BENCH_SPEC.name;
    bench_args a = {.tau_max = "5000,2000,1000", .runs = 3};
    int n_args;
    int parsed = cli_parse(&BENCH_SPEC, &a, argc, argv, &n_args);
    if (parsed != CLI_RUN) return parsed;
    const char *cells = a.cells, *tau_max = a.tau_max, *threads = a.threads;
    long runs = a.runs;
    char shared[4096], default_cells[4200];
    if (!cells) {
        if (cli_find_shared_data(shared, sizeof shared) != 0) {
            fprintf(stderr, "%s: shared data not found; pass --cells FILE\n", cmd);
            return 1;
        }
        snprintf(default_cells, sizeof default_cells, "%s/geoestimation/cells_50_1000.csv", shared);
        cells = default_cells;
    }
    geoloc_partition *p;
    geoloc_error err;
    if (geoloc_partition_read(cells, &p, &err) != GEOLOC_OK) {
        fprintf(stderr, "%s: %s\n", cmd, err.message);
        return 1;
    }
    const char *tmp_root = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    char dir[4096], points[4200], out_dir[4200];
    snprintf(dir, sizeof dir, "%s/geoloc-bench-XXXXXX", tmp_root);
    if (!mkdtemp(dir)) {
        fprintf(stderr, "%s: cannot create a temporary folder in %s\n", cmd, tmp_root);
        geoloc_partition_free(p);
        return 1;
    }
    snprintf(points, sizeof points, "%s/points.csv", dir);
    snprintf(out_dir, sizeof out_dir, "%s/out", dir);
    long long n = sample_points_write(p, 1, 1.0, points);
    geoloc_partition_free(p);
    int rc = n < 0;
    double wall[100], rss[100];
    if (!rc) {
        printf("points: %lld drawn from %s\n", n, cells);
        printf("command: geoloc cells build --tau-min 50 --tau-max %s%s%s\n", tau_max,
               threads ? " --threads " : "", threads ? threads : "");
        char *args[16] = {"geoloc", "cells", "build", "--tau-min", "50", "--tau-max",
                          (char *)tau_max, "--out-dir", out_dir};
        int na = 9;
        if (threads) {
            args[na++] = "--threads";
            args[na++] = (char *)threads;
        }
        args[na++] = points;
        args[na] = NULL;
        for (long r = 0; r < runs && !rc; r++) {
            if (timed_build(args, &wall[r], &rss[r]) != 0) {
                fprintf(stderr, "%s: run %ld failed\n", cmd, r + 1);
                rc = 1;
            } else {
                printf("run %ld: %.3f s wall, %.0f MiB peak RSS\n", r + 1, wall[r], rss[r]);
            }
        }
    }
    if (!rc) {
        double peak = 0;
        for (long r = 0; r < runs; r++) peak = rss[r] > peak ? rss[r] : peak;
        qsort(wall, (size_t)runs, sizeof wall[0], cli_compare_doubles);
        printf("best %.3f s, median %.3f s, peak RSS %.0f MiB (%.1f M points/s)\n", wall[0],
               wall[runs / 2], peak, (double)n / wall[0] / 1e6);
        printf("targets: <= 3 s wall: %s; < 1024 MiB: %s\n", wall[runs / 2] <= 3.0 ? "met" : "NOT met",
               peak < 1024 ? "met" : "NOT met");
    }
    char rm[8500];
    snprintf(rm, sizeof rm, "rm -rf '%s'", dir);
    if (system(rm) != 0) fprintf(stderr, "%s: could not remove %s\n", cmd, dir);
    return rc;
}

const cli_command CLI_BENCH_COMMANDS[] = {
    {"cells", bench_cells, NULL, "time partition building on an MP-16-sized point set"},
    {"loader", cli_bench_loader, NULL, "photos per second through the batch loader"},
    {"nn", cli_bench_nn, NULL, "images per second of the CNN engine (inference or training)"},
    {"index", cli_bench_index, NULL, "queries per second of the feature index's exact scan"},
    {NULL}};
