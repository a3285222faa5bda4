/* geoloc place: country and nearest populated place of coordinates (CSV out);
 * geoloc place build: the place file from tools/fetch-places.sh's text files;
 * geoloc place bench: look-ups per second on one core. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli_util.h"
#include "cli/commands.h"
#include "geoloc/io.h"
#include "geoloc/place.h"
#include "geoloc/points.h"

typedef struct {
    long min_population;
    const char *out;
    const char *data;
} place_args;

static const cli_option PLACE_OPTIONS[] = {
    CLI_OPTION("min-population", 'p', CLI_INT, place_args, min_population, "N",
               "the city column names the nearest place of at least N inhabitants", .min = 0,
               .max = 4e9),
    CLI_OPTION("out", 'o', CLI_STRING, place_args, out, "FILE",
               "write the CSV to FILE (whole or not at all) instead of standard output"),
    CLI_OPTION("data", 0, CLI_STRING, place_args, data, "FILE",
               "the place file (default: places.bin in the data folders)"),
    CLI_END};

static const cli_spec PLACE_SPEC = {
    "geoloc place", "[LAT,LON...]", 0, -1,
    "Country and nearest populated place of coordinates, offline. Reads one\n"
    "'lat,lon' per line from standard input (or takes LAT,LON arguments) and\n"
    "writes CSV: lat,lon,country_code,country,region,city,city_population,city_km,\n"
    "one row per input line, in order (empty fields where unknown). A first line\n"
    "'lat,lon' (not numbers) is a header and skipped. Countries: Natural Earth\n"
    "1:10m; a point in the sea within 25 km of a country gets that country;\n"
    "features without an ISO code (Kosovo, N. Cyprus...) have an empty code.\n"
    "Cities: GeoNames (CC BY 4.0). region is always empty.\n"
    "Also: 'geoloc place build' (the place file) and 'geoloc place bench'.\n",
    PLACE_OPTIONS,
    "The place file comes from tools/fetch-places.sh.\n"
    "Exit status: 0 on success, 1 on a bad line (out of range, NaN, empty: named\n"
    "by its line number; nothing is written to --out) or a missing place file,\n"
    "2 on a usage error.\n"};

/* ---- the look-up -------------------------------------------------------- */

/* Parses "lat,lon" (spaces around the numbers allowed). 0, or -1 with why. */
static int parse_latlon(char *text, double *lat, double *lon, char *why, size_t why_size) {
    char *comma = strchr(text, ',');
    if (!*text || strspn(text, " \t\r") == strlen(text)) {
        snprintf(why, why_size, "empty line (expected lat,lon)");
        return -1;
    }
    if (!comma || strchr(comma + 1, ',')) {
        snprintf(why, why_size, "expected 2 fields (lat,lon)");
        return -1;
    }
    *comma = '\0';
    char *a = text + strspn(text, " \t"), *b = comma + 1 + strspn(comma + 1, " \t");
    size_t la = strcspn(a, " \t\r"), lb = strcspn(b, " \t\r");
    if (geoloc_csv_parse_coordinate(a, la, "lat", 90, lat, why, why_size)) return -1;
    return geoloc_csv_parse_coordinate(b, lb, "lon", 180, lon, why, why_size) ? -1 : 0;
}

static const char HEADER[] = "lat,lon,country_code,country,region,city,city_population,city_km\n";

static void write_row(FILE *out, double lat, double lon, const geoloc_place *p) {
    char a[32], b[32];
    geoloc_csv_format_double(lat, a);
    geoloc_csv_format_double(lon, b);
    fprintf(out, "%s,%s,%s,", a, b, p->country_code);
    geoloc_csv_write_field(out, p->country);
    fputc(',', out);
    geoloc_csv_write_field(out, p->region);
    fputc(',', out);
    geoloc_csv_write_field(out, p->city);
    if (p->city_km >= 0) fprintf(out, ",%u,%.1f\n", p->city_population, p->city_km);
    else fputs(",,\n", out);
}

/* Looks up one line's text; 0, or 1 after naming the line on stderr. */
static int place_line(const geoloc_place_db *db, uint32_t min_pop, char *text, const char *name, long line_no,
                      FILE *out) {
    double lat, lon;
    char why[200];
    geoloc_place p;
    geoloc_error err = {0};
    if (parse_latlon(text, &lat, &lon, why, sizeof why) == 0 &&
        geoloc_place_lookup(db, lat, lon, min_pop, &p, &err) == GEOLOC_OK) {
        write_row(out, lat, lon, &p);
        return 0;
    }
    fprintf(stderr, "geoloc place: %s:%ld: %s\n", name, line_no, err.status ? err.message : why);
    return 1;
}

/* The rows of every stdin line (a non-numeric first line is a header). */
static int place_stdin(const geoloc_place_db *db, uint32_t min_pop, FILE *out) {
    char *line = NULL;
    size_t cap = 0;
    long line_no = 0;
    ssize_t got;
    int status = 0;
    while (status == 0 && (got = getline(&line, &cap, stdin)) >= 0) {
        line_no++;
        if (got > 0 && line[got - 1] == '\n') line[--got] = '\0';
        if (memchr(line, '\0', (size_t)got)) {
            fprintf(stderr, "geoloc place: <stdin>:%ld: the line holds a NUL byte\n", line_no);
            status = 1;
            break;
        }
        char *text = line;
        if (line_no == 1 && got >= 3 && !memcmp(line, "\xEF\xBB\xBF", 3)) text += 3;
        if (line_no == 1 && strpbrk(text, "0123456789") == NULL && strchr(text, ',')) continue; /* header */
        status = place_line(db, min_pop, text, "<stdin>", line_no, out);
    }
    if (status == 0 && ferror(stdin)) {
        fprintf(stderr, "geoloc place: <stdin>: read error: %s\n", strerror(errno));
        status = 1;
    }
    free(line);
    return status;
}

static int place_build(int argc, char **argv);
static int place_bench(int argc, char **argv);

int cli_place(int argc, char **argv) {
    if (argc > 1 && !strcmp(argv[1], "build")) return place_build(argc - 1, argv + 1);
    if (argc > 1 && !strcmp(argv[1], "bench")) return place_bench(argc - 1, argv + 1);
    place_args a = {.min_population = 15000};
    int n_args;
    int parsed = cli_parse(&PLACE_SPEC, &a, argc, argv, &n_args);
    if (parsed != CLI_RUN) return parsed;
    geoloc_error err = {0};
    geoloc_place_db *db;
    if (geoloc_place_open(a.data, &db, &err) != GEOLOC_OK) {
        fprintf(stderr, "geoloc place: %s\n", err.message);
        return 1;
    }
    geoloc_atomic_file f = {.fp = stdout};
    if (a.out && geoloc_atomic_file_open(&f, a.out, &err) != GEOLOC_OK) {
        fprintf(stderr, "geoloc place: %s\n", err.message);
        geoloc_place_close(db);
        return 1;
    }
    uint32_t min_pop = (uint32_t)a.min_population;
    fputs(HEADER, f.fp);
    int status = 0;
    for (int k = 1; k <= n_args && status == 0; k++) {
        char text[256];
        snprintf(text, sizeof text, "%s", argv[k]);
        status = place_line(db, min_pop, text, "argument", k, f.fp);
    }
    if (n_args == 0) status = place_stdin(db, min_pop, f.fp);
    geoloc_place_close(db);
    if (!a.out) return status;
    if (status) {
        geoloc_atomic_file_abort(&f);
        return status;
    }
    if (geoloc_atomic_file_commit(&f, &err) != GEOLOC_OK) {
        fprintf(stderr, "geoloc place: %s\n", err.message);
        return 1;
    }
    return 0;
}

/* ---- geoloc place build ------------------------------------------------ */

typedef struct {
    const char *countries, *cities, *out;
} build_args;

static const cli_option BUILD_OPTIONS[] = {
    CLI_OPTION("countries", 0, CLI_STRING, build_args, countries, "FILE",
               "country outlines (countries.txt of tools/places-convert.js)", .required = 1),
    CLI_OPTION("cities", 0, CLI_STRING, build_args, cities, "FILE",
               "cities CSV name,country,admin1,population,lat,lon", .required = 1),
    CLI_OPTION("out", 'o', CLI_STRING, build_args, out, "FILE", "the place file to write", .required = 1),
    CLI_END};

static const cli_spec BUILD_SPEC = {
    "geoloc place build", NULL, 0, 0,
    "Builds the place file (countries, their S2-cell index, coast grid, cities)\n"
    "from the text files tools/places-convert.js writes; tools/fetch-places.sh\n"
    "runs it. The file is written whole or not at all.\n",
    BUILD_OPTIONS, "Exit status: 0 on success, 1 on a bad input or a write error, 2 on a usage error.\n"};

static int place_build(int argc, char **argv) {
    build_args a = {0};
    int n_args;
    int parsed = cli_parse(&BUILD_SPEC, &a, argc, argv, &n_args);
    if (parsed != CLI_RUN) return parsed;
    geoloc_error err = {0};
    if (geoloc_place_build(a.countries, a.cities, a.out, &err) != GEOLOC_OK) {
        fprintf(stderr, "geoloc place build: %s\n", err.message);
        return 1;
    }
    geoloc_place_db *db;
    if (geoloc_place_open(a.out, &db, &err) != GEOLOC_OK) {
        fprintf(stderr, "geoloc place build: %s\n", err.message);
        return 1;
    }
    uint32_t nc, ncity;
    geoloc_place_counts(db, &nc, &ncity);
    geoloc_place_close(db);
    printf("%s: %u countries, %u populated places\n", a.out, nc, ncity);
    return 0;
}

/* ---- geoloc place bench ------------------------------------------------ */

typedef struct {
    long n, min_population;
    const char *meta, *data;
} bench_args;

static const cli_option BENCH_OPTIONS[] = {
    CLI_OPTION("n", 'n', CLI_INT, bench_args, n, "N", "look-ups per run", .min = 1, .max = 1e8),
    CLI_OPTION("min-population", 'p', CLI_INT, bench_args, min_population, "N",
               "minimum population of the nearest city", .min = 0, .max = 4e9),
    CLI_OPTION("meta", 0, CLI_STRING, bench_args, meta, "CSV",
               "also time the coordinates of this manifest (LAT, LON columns), cycled"),
    CLI_OPTION("data", 0, CLI_STRING, bench_args, data, "FILE", "the place file"),
    CLI_END};

static const cli_spec BENCH_SPEC = {
    "geoloc place bench", NULL, 0, 0,
    "Look-ups per second of geoloc_place_lookup on one core (country and\n"
    "nearest city): points uniform on the sphere (fixed seed), then a manifest's.\n",
    BENCH_OPTIONS, NULL};

/* Times n look-ups cycling through the points; prints the rate. */
static int bench_run(const geoloc_place_db *db, const char *what, const double *lat, const double *lon,
                     size_t n_points, long n, uint32_t min_pop) {
    geoloc_place p;
    geoloc_error err = {0};
    size_t countries = 0;
    double t0 = cli_now_seconds();
    for (long i = 0; i < n; i++) {
        size_t k = (size_t)i % n_points;
        if (geoloc_place_lookup(db, lat[k], lon[k], min_pop, &p, &err) != GEOLOC_OK) {
            fprintf(stderr, "geoloc place bench: %s\n", err.message);
            return 1;
        }
        countries += p.country[0] != '\0';
    }
    double s = cli_now_seconds() - t0;
    printf("%-8s %ld look-ups in %.3f s: %.0f look-ups/s (%.1f %% in or near a country)\n", what, n, s,
           n / s, 100.0 * (double)countries / (double)n);
    return 0;
}

static int place_bench(int argc, char **argv) {
    bench_args a = {.n = 1000000, .min_population = 15000};
    int n_args;
    int parsed = cli_parse(&BENCH_SPEC, &a, argc, argv, &n_args);
    if (parsed != CLI_RUN) return parsed;
    geoloc_error err = {0};
    geoloc_place_db *db;
    if (geoloc_place_open(a.data, &db, &err) != GEOLOC_OK) {
        fprintf(stderr, "geoloc place bench: %s\n", err.message);
        return 1;
    }
    size_t n_random = 100000;
    double *lat = malloc(n_random * sizeof *lat), *lon = malloc(n_random * sizeof *lon);
    int status = !lat || !lon;
    uint64_t s = 0x9E3779B97F4A7C15u;
    for (size_t i = 0; !status && i < n_random; i++) { /* xorshift64*, uniform on the sphere */
        double u[2];
        for (int j = 0; j < 2; j++) {
            s ^= s >> 12, s ^= s << 25, s ^= s >> 27;
            u[j] = (double)((s * 2685821657736338717u) >> 11) / 9007199254740992.0;
        }
        lat[i] = asin(2 * u[0] - 1) * 180 / M_PI;
        lon[i] = 360 * u[1] - 180;
    }
    uint32_t min_pop = (uint32_t)a.min_population;
    if (!status) status = bench_run(db, "random", lat, lon, n_random, a.n, min_pop);
    if (!status && a.meta) {
        geoloc_points *pts;
        geoloc_points_options opt = {.threads = 1};
        if (geoloc_points_read_csv(a.meta, &opt, &pts, &err) != GEOLOC_OK) {
            fprintf(stderr, "geoloc place bench: %s\n", err.message);
            status = 1;
        } else {
            status = pts->n ? bench_run(db, "manifest", pts->lat, pts->lng, pts->n, a.n, min_pop) : 1;
            geoloc_points_free(pts);
        }
    }
    free(lat);
    free(lon);
    geoloc_place_close(db);
    return status;
}
