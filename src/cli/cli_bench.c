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

static const char BENCH_USAGE[] =
    "usage: geoloc bench cells [--cells FILE] [--runs N] [--tau-max LIST] [--threads N]\n"
    "\n"
    "Draws an MP-16-like set of points (each cell's imgs_per_cell points inside the\n"
    "cell; default FILE: the shared cells_50_1000.csv, 4.7 million points), writes\n"
    "it as CSV, then times 'geoloc cells build --tau-min 50 --tau-max LIST' on it\n"
    "(CSV parsing and output included) in a fresh process per run, and prints\n"
    "wall time and peak memory. Targets: <= 3 s and < 1 GiB for three partitions.\n"
    "\n"
    "options:\n"
    "  --cells FILE    partition file to draw the points from\n"
    "  --runs N        timed runs (default 3)\n"
    "  --tau-max LIST  default 5000,2000,1000\n"
    "  --threads N     passed to cells build (default: one per core)\n";

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
    const char *cmd = "geoloc bench cells", *cells = NULL, *tau_max = "5000,2000,1000";
    const char *threads = NULL;
    long runs = 3;
    char shared[4096], default_cells[4200];
    for (int k = 1; k < argc; k++) {
        const char *a = argv[k], *v;
        if (cli_is_help(a)) {
            fputs(BENCH_USAGE, stdout);
            return 0;
        } else if (!strcmp(a, "--cells")) {
            if (!(cells = cli_option_value(cmd, argc, argv, &k))) return 2;
        } else if (!strcmp(a, "--tau-max")) {
            if (!(tau_max = cli_option_value(cmd, argc, argv, &k))) return 2;
        } else if (!strcmp(a, "--threads")) {
            if (!(threads = cli_option_value(cmd, argc, argv, &k))) return 2;
        } else if (!strcmp(a, "--runs")) {
            if (!(v = cli_option_value(cmd, argc, argv, &k)) || cli_parse_int(cmd, a, v, &runs)) return 2;
            if (runs < 1 || runs > 100) runs = 3;
        } else {
            fprintf(stderr, "%s: unexpected argument %s\n%s", cmd, a, BENCH_USAGE);
            return 2;
        }
    }
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

/* geoloc bench loader (src/cli/cli_bench_loader.c) */
int cli_bench_loader(int argc, char **argv);
/* geoloc bench nn (src/cli/cli_bench_nn.c) */
int cli_bench_nn(int argc, char **argv);

int cli_bench(int argc, char **argv) {
    if (argc >= 2 && !strcmp(argv[1], "cells")) return bench_cells(argc - 1, argv + 1);
    if (argc >= 2 && !strcmp(argv[1], "loader")) return cli_bench_loader(argc - 1, argv + 1);
    if (argc >= 2 && !strcmp(argv[1], "nn")) return cli_bench_nn(argc - 1, argv + 1);
    if (argc >= 2 && cli_is_help(argv[1])) {
        printf("usage: geoloc bench cells [options]   (see 'geoloc bench cells --help')\n"
               "       geoloc bench loader DIR [options]   (see 'geoloc bench loader --help')\n"
               "       geoloc bench nn [options]   (see 'geoloc bench nn --help')\n");
        return 0;
    }
    fprintf(stderr, "usage: geoloc bench cells|loader|nn ... (see 'geoloc bench --help')\n");
    return 2;
}
