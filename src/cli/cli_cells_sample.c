/* geoloc cells sample: photo-like points drawn inside a partition's cells. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli_util.h"
#include "cli/commands.h"
#include "cli/sample.h"

static const char SAMPLE_USAGE[] =
    "usage: geoloc cells sample --from CELLS.csv --out DATA.csv [--seed S] [--scale F]\n"
    "\n"
    "Writes IMG_ID,LAT,LON rows: for every cell of CELLS.csv, imgs_per_cell x F\n"
    "points drawn uniformly among the cell's leaf cells, shuffled. With the\n"
    "published cells_50_1000.csv this gives an MP-16-sized set (4.7 million points).\n"
    "\n"
    "options:\n"
    "  --from FILE   partition file to draw from (required)\n"
    "  --out FILE    output CSV, written atomically ('-' = standard output) (required)\n"
    "  --seed S      random seed (default 1)\n"
    "  --scale F     points per photo of the cell (default 1)\n";

int cli_cells_sample(int argc, char **argv) {
    const char *cmd = "geoloc cells sample", *from = NULL, *out = NULL;
    long seed = 1;
    double scale = 1;
    for (int k = 1; k < argc; k++) {
        const char *a = argv[k], *v;
        if (cli_is_help(a)) {
            fputs(SAMPLE_USAGE, stdout);
            return 0;
        } else if (!strcmp(a, "--from")) {
            if (!(from = cli_option_value(cmd, argc, argv, &k))) return 2;
        } else if (!strcmp(a, "--out")) {
            if (!(out = cli_option_value(cmd, argc, argv, &k))) return 2;
        } else if (!strcmp(a, "--seed")) {
            if (!(v = cli_option_value(cmd, argc, argv, &k)) || cli_parse_int(cmd, a, v, &seed)) return 2;
        } else if (!strcmp(a, "--scale")) {
            char *end;
            if (!(v = cli_option_value(cmd, argc, argv, &k))) return 2;
            scale = strtod(v, &end);
            if (*end || !(scale > 0 && scale <= 100)) {
                fprintf(stderr, "%s: --scale: expected a number in (0, 100], got '%s'\n", cmd, v);
                return 2;
            }
        } else {
            fprintf(stderr, "%s: unexpected argument %s\n%s", cmd, a, SAMPLE_USAGE);
            return 2;
        }
    }
    if (!from || !out) {
        fprintf(stderr, "%s: --from and --out are required\n%s", cmd, SAMPLE_USAGE);
        return 2;
    }
    geoloc_partition *p;
    geoloc_error err;
    if (geoloc_partition_read(from, &p, &err) != GEOLOC_OK) {
        fprintf(stderr, "%s: %s\n", cmd, err.message);
        return 1;
    }
    long long n = sample_points_write(p, (uint64_t)seed, scale, out);
    geoloc_partition_free(p);
    if (n < 0) return 1;
    fprintf(stderr, "%s: %lld points written to %s\n", cmd, n, out);
    return 0;
}
