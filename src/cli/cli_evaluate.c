/* geoloc evaluate: distance accuracy of a predictions CSV. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli_accuracy.h"
#include "cli/cli_dataset.h"
#include "cli/cli_evaluate.h"
#include "cli/cli_options.h"
#include "cli/cli_util.h"
#include "cli/commands.h"
#include "geoloc/array.h"
#include "geoloc/io.h"
#include "geoloc/distance.h"

#define CMD "geoloc evaluate"
/* Per-row problems printed under --skip-invalid before only counting. */
#define MAX_REPORTED_SKIPS 10

typedef struct file_args {
    const char *truth;
    int json, skip_invalid;
} file_args;

static const cli_option OPTIONS[] = {
    CLI_OPTION("truth", 0, CLI_STRING, file_args, truth, "CSV", "the true positions, from a manifest (see above)"),
    CLI_OPTION("json", 0, CLI_FLAG, file_args, json, NULL,
               "print one JSON object: n, accuracy {\"1km\": fraction,\n"
               "...}, median_km, mean_km, skipped"),
    CLI_OPTION("skip-invalid", 0, CLI_FLAG, file_args, skip_invalid, NULL,
               "skip rows with a missing, non-numeric or out-of-range\n"
               "coordinate (and malformed rows), count them and go on;\n"
               "without it the first such row is an error"),
    CLI_END};

static const cli_spec SPEC = {
    CMD, "FILE.csv", 1, 1,
    "(The other form, geoloc evaluate --meta CSV --images DIR [options], evaluates\n"
    "a model on a manifest's photos: see below.)\n"
    "\n"
    "Great-circle (haversine, R = 6371 km) error of each prediction in FILE.csv\n"
    "and the benchmark summary: the share of photos within 1 km (street),\n"
    "25 km (city), 200 km (region), 750 km (country) and 2500 km (continent)\n"
    "of the truth, and the median and mean error in km.\n"
    "\n"
    "FILE.csv has a header row; columns are found by name, in any order,\n"
    "other columns are ignored. Either naming works:\n"
    "  img_id,gt_lat,predicted_lat,gt_long,predicted_long[,great_circle_distance]\n"
    "      (GeoEstimation results; a great_circle_distance column is ignored,\n"
    "      distances are recomputed from the coordinates)\n"
    "  IMG_ID,LAT,LON,PRED_LAT,PRED_LON\n"
    "With --truth, FILE.csv holds predictions only (the CSV of geoloc predict:\n"
    "file,lat,lon,...; or img_id/IMG_ID with predicted_lat/PRED_LAT and\n"
    "predicted_long/PRED_LON) and the truth comes from the manifest\n"
    "(IMG_ID,LAT,LON): a prediction's file is joined to the IMG_ID it equals\n"
    "or ends with after a '/' (photos/a/b.jpg -> a/b.jpg); photos missing on\n"
    "either side are counted and reported.\n"
    "Coordinates are decimal degrees: latitude in [-90, 90], longitude in\n"
    "[-180, 180]. LF or CRLF line ends. Reading stops at the first blank line\n"
    "(GeoEstimation files put a summary after one); the rows after it are\n"
    "counted and named in a warning.\n",
    OPTIONS,
    "exit status: 0 on success, 1 on bad or unreadable input, 2 on bad usage\n\n"};

/* One coordinate column: accepted header names, the one found, its index. */
typedef struct {
    const char *what;          /* for messages */
    const char *const *names;  /* NULL-terminated, GeoEstimation name first */
    double limit;              /* valid range [-limit, limit] */
    const char *found;         /* matching name */
    int col;
} coord_col;

static const char *const GT_LAT[] = {"gt_lat", "LAT", NULL};
static const char *const GT_LNG[] = {"gt_long", "LON", NULL};
static const char *const PRED_LAT[] = {"predicted_lat", "PRED_LAT", NULL};
static const char *const PRED_LNG[] = {"predicted_long", "PRED_LON", NULL};
/* With --truth: the prediction's photo and position (geoloc predict's CSV too). */
static const char *const PRED_KEY[] = {"file", "img_id", "IMG_ID", NULL};
static const char *const PRED_LAT_ONLY[] = {"predicted_lat", "PRED_LAT", "lat", NULL};
static const char *const PRED_LNG_ONLY[] = {"predicted_long", "PRED_LON", "lon", NULL};

/* Parses coordinate c of a row; on a problem writes "FIELD: ..." to msg
 * and returns -1. */
static int parse_coord(const coord_col *c, const geoloc_csv_field *f, size_t n_fields, double *out,
                       char *msg, size_t msg_size) {
    if ((size_t)c->col >= n_fields) {
        snprintf(msg, msg_size, "%s: missing (the row has %zu field%s, the column is number %d)",
                 c->found, n_fields, n_fields == 1 ? "" : "s", c->col + 1);
        return -1;
    }
    return geoloc_csv_parse_coordinate(f[c->col].p, f[c->col].len, c->found, c->limit, out, msg, msg_size);
}

typedef struct {
    double *km;
    size_t n, cap;
} dist_vec;

static int dist_push(dist_vec *v, double d) {
    if (geoloc_array_grow((void **)&v->km, &v->cap, v->n + 1, sizeof *v->km)) return -1;
    v->km[v->n++] = d;
    return 0;
}

/* Reads the header, filling cols[].col and .found; returns 0, or 1 after an
 * error message. */
static int read_header(geoloc_csv_reader *r, const char *path, coord_col *cols, size_t n_cols) {
    geoloc_error err = {0};
    size_t cap = 64, n = 0;
    geoloc_csv_reader *again = NULL;
    geoloc_csv_field *h = malloc(cap * sizeof *h);
    if (!h) {
        fprintf(stderr, CMD ": out of memory\n");
        return 1;
    }
    int rc = geoloc_csv_next_row(r, h, cap, &n, &err);
    if (rc == 1 && n > cap) {
        /* A wide header: read it again, whole, from the same bytes (kept
         * open until the end: quoted fields may point into its memory). */
        size_t size, n2 = 0;
        const char *data = geoloc_csv_data(r, &size);
        again = geoloc_csv_open_buffer(data, size, path);
        geoloc_csv_field *wide = again ? malloc(n * sizeof *wide) : NULL;
        if (!wide || geoloc_csv_next_row(again, wide, n, &n2, &err) != 1 || n2 != n) {
            fprintf(stderr, CMD ": out of memory\n");
            free(wide);
            geoloc_csv_close(again);
            free(h);
            return 1;
        }
        free(h);
        h = wide;
    }
    int status = 0;
    if (rc == 0) {
        fprintf(stderr, CMD ": %s:1: empty file (expected a header row naming gt_lat, "
                "gt_long, predicted_lat, predicted_long or LAT, LON, PRED_LAT, PRED_LON)\n", path);
        status = 1;
    } else if (rc < 0) {
        fprintf(stderr, CMD ": %s (in the header)\n", err.message);
        status = 1;
    } else {
        /* A UTF-8 byte order mark is not part of the first name. */
        if (n > 0 && h[0].len >= 3 && memcmp(h[0].p, "\xEF\xBB\xBF", 3) == 0) {
            h[0].p += 3;
            h[0].len -= 3;
        }
        char missing[400] = "";
        size_t used = 0;
        for (size_t c = 0; c < n_cols; c++) {
            cols[c].col = geoloc_csv_find_column(h, n, cols[c].names);
            if (cols[c].col < 0) {
                int k = snprintf(missing + used, sizeof missing - used, "%s%s (%s or %s)",
                                 used ? ", " : "", cols[c].what, cols[c].names[0],
                                 cols[c].names[1]);
                if (k > 0 && (size_t)k < sizeof missing - used) used += (size_t)k;
                continue;
            }
            for (const char *const *name = cols[c].names; *name; name++)
                if (geoloc_csv_field_is(h[cols[c].col], *name)) {
                    cols[c].found = *name;
                    break;
                }
        }
        if (used > 0) {
            fprintf(stderr, CMD ": %s:%ld: header: no column for the %s; see "
                    "'geoloc evaluate --help'\n", path, geoloc_csv_line(r), missing);
            status = 1;
        }
    }
    free(h);
    geoloc_csv_close(again);
    return status;
}

static void print_table(const char *path, const geoloc_distance_summary *s, size_t skipped,
                        int skip_invalid) {
    printf("predictions: %s\n", path);
    printf("photos:      %zu\n", s->n);
    if (skip_invalid) printf("skipped:     %zu invalid row%s\n", skipped, skipped == 1 ? "" : "s");
    cli_print_accuracy(s);
}

static void print_json(const geoloc_distance_summary *s, size_t skipped) {
    putchar('{');
    cli_print_accuracy_json(s);
    printf(", \"skipped\": %zu}\n", skipped);
}

/* ---- --truth: the true positions from a manifest ------------------------------------ */

typedef struct truth_index {
    geoloc_manifest *m;
    const geoloc_manifest_row **by_id;  /* sorted by IMG_ID */
    unsigned char *used;                /* by position in by_id */
    size_t unmatched;                   /* predictions without a truth */
} truth_index;

static int compare_row_ids(const void *a, const void *b) {
    return strcmp((*(const geoloc_manifest_row *const *)a)->id, (*(const geoloc_manifest_row *const *)b)->id);
}

/* Reads the manifest and sorts it by IMG_ID; 0, or 1 after a message. */
static int truth_open(truth_index *t, const char *path, int skip_invalid) {
    memset(t, 0, sizeof *t);
    if (!(t->m = cli_read_manifest(CMD, path, skip_invalid))) return 1;
    t->by_id = malloc((t->m->n ? t->m->n : 1) * sizeof *t->by_id);
    t->used = calloc(t->m->n ? t->m->n : 1, 1);
    if (!t->by_id || !t->used) {
        fprintf(stderr, CMD ": out of memory\n");
        return 1;
    }
    for (size_t k = 0; k < t->m->n; k++) t->by_id[k] = &t->m->row[k];
    qsort(t->by_id, t->m->n, sizeof *t->by_id, compare_row_ids);
    return 0;
}

static void truth_close(truth_index *t) {
    geoloc_manifest_free(t->m);
    free(t->by_id);
    free(t->used);
}

/* The truth of a prediction's photo: the IMG_ID equal to it or to its tail
 * after a '/'; its position in by_id, or -1. */
static long truth_find(const truth_index *t, const char *file) {
    for (const char *p = file; p; p = strchr(p, '/')) {
        if (*p == '/') p++;
        geoloc_manifest_row key = {.id = p};
        const geoloc_manifest_row *kp = &key;
        const geoloc_manifest_row **hit = bsearch(&kp, t->by_id, t->m->n, sizeof *t->by_id, compare_row_ids);
        if (hit) return (long)(hit - t->by_id);
    }
    return -1;
}

/* Counts and names (the first few) the manifest's photos no prediction had. */
static void truth_report(const truth_index *t, const char *path, const char *truth_path) {
    size_t missing = 0;
    for (size_t k = 0; k < t->m->n; k++)
        if (!t->used[k] && ++missing <= MAX_REPORTED_SKIPS)
            fprintf(stderr, CMD ": %s (line %ld of %s): no prediction in %s\n", t->by_id[k]->id, t->by_id[k]->line,
                    truth_path, path);
    if (missing)
        fprintf(stderr, CMD ": %zu of the %zu photos of %s have no prediction in %s\n", missing, t->m->n,
                truth_path, path);
    if (t->unmatched)
        fprintf(stderr, CMD ": %zu prediction%s of %s %s no truth in %s\n", t->unmatched,
                t->unmatched == 1 ? "" : "s", path, t->unmatched == 1 ? "has" : "have", truth_path);
}

/* ---- reading the predictions ------------------------------------------------------- */

/* Rows after the blank line that ends the predictions: counted, a few named. */
typedef struct ignored_rows {
    long blank_line;   /* 0: no blank line yet */
    size_t n;
    long lines[5];
} ignored_rows;

static void warn_ignored(const ignored_rows *ig, const char *path) {
    if (!ig->n) return;
    fprintf(stderr, CMD ": warning: %s: reading stopped at the blank line %ld; %zu row%s after it ignored (line",
            path, ig->blank_line, ig->n, ig->n == 1 ? "" : "s");
    size_t shown = ig->n < 5 ? ig->n : 5;
    for (size_t k = 0; k < shown; k++) fprintf(stderr, "%s %ld", k ? "," : (shown > 1 ? "s" : ""), ig->lines[k]);
    fprintf(stderr, "%s)\n", ig->n > shown ? ", ..." : "");
}

/* One prediction row's distance: its truth from the row (4 coordinates) or
 * from the manifest (cols[2] the photo). 0, 1 when the photo has no truth,
 * -1 with msg for a bad row. */
static int row_distance(const coord_col *cols, truth_index *truth, const geoloc_csv_field *f, size_t n_fields, double *km,
                        char *msg, size_t msg_size) {
    double v[4];
    int first = truth ? 2 : 0;
    for (int c = 0; c < (truth ? 2 : 4); c++)
        if (parse_coord(&cols[c], f, n_fields, &v[first + c], msg, msg_size) != 0) return -1;
    if (truth) {
        if ((size_t)cols[2].col >= n_fields || f[cols[2].col].len == 0) {
            snprintf(msg, msg_size, "%s: missing", cols[2].found);
            return -1;
        }
        char name[4096];
        snprintf(name, sizeof name, "%.*s", (int)f[cols[2].col].len, f[cols[2].col].p);
        long t = truth_find(truth, name);
        if (t < 0) {
            truth->unmatched++;
            return 1;
        }
        truth->used[t] = 1;
        v[0] = truth->by_id[t]->lat;
        v[1] = truth->by_id[t]->lng;
    }
    *km = geoloc_haversine_km(v[0], v[1], v[2], v[3]);
    return 0;
}

/* 1 when argv names an option of the model mode (--model, --meta, --images,
 * also as --name=VALUE) before any "--". */
static int wants_model_mode(int argc, char **argv) {
    static const char *const NAMES[] = {"--model", "--meta", "--images"};
    for (int i = 1; i < argc && strcmp(argv[i], "--"); i++)
        for (size_t k = 0; k < sizeof NAMES / sizeof *NAMES; k++) {
            size_t len = strlen(NAMES[k]);
            if (!strncmp(argv[i], NAMES[k], len) && (argv[i][len] == '\0' || argv[i][len] == '=')) return 1;
        }
    return 0;
}

int cli_evaluate(int argc, char **argv) {
    if (wants_model_mode(argc, argv)) return cli_evaluate_model(argc, argv);
    file_args a = {0};
    int n;
    int parsed = cli_parse(&SPEC, &a, argc, argv, &n);
    if (parsed == CLI_EXIT_OK) cli_evaluate_model_help(stdout); /* --help: both forms */
    if (parsed != CLI_RUN) return parsed;
    const char *path = argv[1], *truth_path = a.truth;
    int json = a.json, skip_invalid = a.skip_invalid;
    cli_file inputs[2] = {{"FILE.csv", path}, {"--truth", truth_path}};
    if (cli_check_outputs(CMD, inputs, 2, NULL, 0) != 0) return CLI_EXIT_USAGE;

    geoloc_error err = {0};
    truth_index truth_store, *truth = truth_path ? &truth_store : NULL;
    if (truth && truth_open(truth, truth_path, skip_invalid) != 0) {
        truth_close(truth);
        return 1;
    }
    geoloc_csv_reader *r = geoloc_csv_open(path, &err);
    if (!r) {
        fprintf(stderr, CMD ": %s\n", err.message);
        if (truth) truth_close(truth);
        return 1;
    }
    coord_col cols[4] = {
        {"true latitude", GT_LAT, 90.0, NULL, -1},
        {"true longitude", GT_LNG, 180.0, NULL, -1},
        {"predicted latitude", PRED_LAT, 90.0, NULL, -1},
        {"predicted longitude", PRED_LNG, 180.0, NULL, -1},
    };
    if (truth) {
        cols[0] = (coord_col){"predicted latitude", PRED_LAT_ONLY, 90.0, NULL, -1};
        cols[1] = (coord_col){"predicted longitude", PRED_LNG_ONLY, 180.0, NULL, -1};
        cols[2] = (coord_col){"photo", PRED_KEY, 0, NULL, -1};
    }
    size_t n_cols = truth ? 3 : 4;
    if (read_header(r, path, cols, n_cols) != 0) {
        geoloc_csv_close(r);
        if (truth) truth_close(truth);
        return 1;
    }
    size_t need = 0;
    for (size_t c = 0; c < n_cols; c++)
        if ((size_t)cols[c].col + 1 > need) need = (size_t)cols[c].col + 1;
    geoloc_csv_field *f = malloc(need * sizeof *f);
    dist_vec dist = {0};
    ignored_rows ignored = {0};
    size_t skipped = 0;
    int status = 0;
    if (!f) {
        fprintf(stderr, CMD ": out of memory\n");
        status = 1;
    }
    while (status == 0) {
        size_t n_fields = 0;
        char msg[sizeof err.message + 128];
        int rc = geoloc_csv_next_row(r, f, need, &n_fields, &err);
        if (rc == 0) break;
        int blank = rc == 1 && n_fields == 1 && f[0].len == 0;
        if (ignored.blank_line || blank) { /* the predictions ended at a blank line */
            if (!ignored.blank_line) ignored.blank_line = geoloc_csv_line(r);
            else if (!blank && ignored.n++ < 5) ignored.lines[ignored.n - 1] = geoloc_csv_line(r);
            continue;
        }
        if (rc < 0) {
            snprintf(msg, sizeof msg, "%s", err.message);
        } else {
            char detail[300];
            double km;
            int got = row_distance(cols, truth, f, n_fields, &km, detail, sizeof detail);
            if (got == 0 && dist_push(&dist, km) != 0) {
                fprintf(stderr, CMD ": %s: out of memory after %zu rows\n", path, dist.n);
                status = 1;
            }
            if (got >= 0) continue;
            snprintf(msg, sizeof msg, "%s:%ld: %s", path, geoloc_csv_line(r), detail);
        }
        if (!skip_invalid) {
            fprintf(stderr, CMD ": %s\n", msg);
            fprintf(stderr, CMD ": (use --skip-invalid to skip such rows)\n");
            status = 1;
        } else if (++skipped <= MAX_REPORTED_SKIPS) {
            fprintf(stderr, CMD ": %s (row skipped)\n", msg);
        }
    }
    free(f);
    geoloc_csv_close(r);
    if (status == 0) warn_ignored(&ignored, path);
    if (status == 0 && truth) truth_report(truth, path, truth_path);
    if (truth) truth_close(truth);
    if (status == 0 && skipped > 0)
        fprintf(stderr, CMD ": %s: skipped %zu invalid row%s\n", path, skipped,
                skipped == 1 ? "" : "s");
    if (status == 0 && dist.n == 0) {
        fprintf(stderr, CMD ": %s: no %sprediction rows after the header%s\n", path,
                skipped ? "valid " : "", truth ? " with a truth" : "");
        status = 1;
    }
    geoloc_distance_summary s;
    if (status == 0 && geoloc_distance_summarize(dist.km, dist.n, &s, &err) != GEOLOC_OK) {
        fprintf(stderr, CMD ": %s: %s\n", path, err.message);
        status = 1;
    }
    free(dist.km);
    if (status != 0) return status;

    if (json)
        print_json(&s, skipped);
    else
        print_table(path, &s, skipped, skip_invalid);
    return cli_check_stdout(CMD);
}
