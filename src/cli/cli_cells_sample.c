/* geoloc cells sample: photo-like points drawn inside a partition's cells. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli_util.h"
#include "cli/commands.h"
#include "cli/sample.h"

typedef struct {
    const char *from, *out;
    uint64_t seed;
    double scale;
} sample_args;

static const cli_option SAMPLE_OPTIONS[] = {
    CLI_OPTION("from", 0, CLI_STRING, sample_args, from, "FILE", "partition file to draw from", .required = 1),
    CLI_OPTION("out", 'o', CLI_STRING, sample_args, out, "FILE",
               "output CSV, written atomically ('-': standard output)", .required = 1),
    CLI_OPTION("seed", 0, CLI_UINT64, sample_args, seed, "S", "random seed"),
    CLI_OPTION("scale", 0, CLI_DOUBLE, sample_args, scale, "F", "points per photo of the cell, in (0, 100]",
               .min = 0, .max = 100),
    CLI_END};

static const cli_spec SAMPLE_SPEC = {
    "geoloc cells sample", NULL, 0, 0,
    "Writes IMG_ID,LAT,LON rows: for every cell of CELLS.csv, imgs_per_cell x F\n"
    "points drawn uniformly among the cell's leaf cells, shuffled. With the\n"
    "published cells_50_1000.csv this gives an MP-16-sized set (4.7 million points).\n",
    SAMPLE_OPTIONS, NULL};

int cli_cells_sample(int argc, char **argv) {
    const char *cmd = SAMPLE_SPEC.name;
    sample_args a = {.seed = 1, .scale = 1};
    int n_args;
    int parsed = cli_parse(&SAMPLE_SPEC, &a, argc, argv, &n_args);
    if (parsed != CLI_RUN) return parsed;
    if (a.scale == 0) return cli_usage_error(&SAMPLE_SPEC, "--scale must be larger than 0");
    const char *from = a.from, *out = a.out;
    cli_file in = {"--from", from}, output = {"--out", out};
    if (cli_check_outputs(cmd, &in, 1, &output, 1) != 0) return CLI_EXIT_USAGE;
    geoloc_partition *p;
    geoloc_error err;
    if (geoloc_partition_read(from, &p, &err) != GEOLOC_OK) {
        fprintf(stderr, "%s: %s\n", cmd, err.message);
        return 1;
    }
    long long n = sample_points_write(p, a.seed, a.scale, out);
    geoloc_partition_free(p);
    if (n < 0) return 1;
    fprintf(stderr, "%s: %lld points written to %s\n", cmd, n, out);
    return 0;
}
