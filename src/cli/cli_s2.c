/* geoloc s2: S2 cell tokens of points read from stdin ("token"), and the
 * level, face, center and vertices of cells given by token ("cell"). */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "geoloc/io.h"
#include "geoloc/s2.h"

static const char TOKEN_ABOUT[] =
    "Reads one point per line from FILE (standard input when absent or '-'),\n"
    "'lat,lng' in decimal degrees (lat in [-90, 90], lng in [-180, 180]), and\n"
    "prints the token of the S2 cell of level L that holds it, one per line.\n"
    "Spaces around the numbers and empty lines are ignored; a non-numeric first\n"
    "line (a header such as 'lat,lng') is skipped.\n";

typedef struct {
    long level;
    int skip_invalid;
} token_args;

static const cli_option TOKEN_OPTIONS[] = {
    CLI_OPTION("level", 'l', CLI_INT, token_args, level, "L",
               "cell level, 0 (cube face) to 30 (leaf, about 1 cm)", .min = 0, .max = GEOLOC_S2_MAX_LEVEL),
    CLI_OPTION("skip-invalid", 0, CLI_FLAG, token_args, skip_invalid, NULL,
               "skip bad lines instead of stopping at the first one, and\n"
               "report how many were skipped on stderr at the end"),
    CLI_END};

static const cli_spec TOKEN_SPEC = {
    "geoloc s2 token", "[FILE|-]", 0, 1, TOKEN_ABOUT, TOKEN_OPTIONS,
    "Exit status: 0 on success, 1 on a bad input line or an I/O error, 2 on a\n"
    "usage error.\n"};

typedef struct {
    int json;
} cell_args;

static const cli_option CELL_OPTIONS[] = {
    CLI_OPTION("json", 0, CLI_FLAG, cell_args, json, NULL,
               "a JSON array with one object per cell, its numbers exact\n"
               "(they read back to the same doubles)"),
    CLI_END};

static const cli_spec CELL_SPEC = {
    "geoloc s2 cell", "TOKEN...", 1, -1,
    "Prints, for each S2 cell token (1-16 hex digits, e.g. 89c259), the token,\n"
    "level, face, center and four vertices (counter-clockwise; lat, lng in\n"
    "degrees).\n",
    CELL_OPTIONS,
    "Exit status: 0 on success, 1 on a malformed token, 2 on a usage error.\n"};

/* ---- geoloc s2 token -------------------------------------------------- */

static int is_space(char c) { return c == ' ' || c == '\t' || c == '\r'; }

/* The field [*p, end) with spaces around removed, NUL-terminated in place
 * (the byte after the field is a ',' or the line's end, ours to clobber). */
static char *trim_field(char *begin, char *end) {
    while (begin < end && is_space(*begin)) begin++;
    while (end > begin && is_space(end[-1])) end--;
    *end = '\0';
    return begin;
}

/* 1 if strtod reads no number at all from s (a header word). */
static int non_numeric(const char *s) {
    char *end;
    (void)strtod(s, &end);
    return end == s;
}

/* One input line (NUL-terminated, newline removed). Returns 1 for a point,
 * 0 for a line to ignore (empty, or a header on line 1), -1 with why. */
static int parse_point(char *line, size_t len, long line_no, double *lat, double *lng, char *why,
                       size_t why_size) {
    char *end = line + len;
    if (memchr(line, '\0', len) != NULL) {
        snprintf(why, why_size, "the line holds a NUL byte");
        return -1;
    }
    size_t n_fields = 1;
    for (char *p = line; (p = memchr(p, ',', (size_t)(end - p))) != NULL; p++) n_fields++;
    if (n_fields == 1) {
        char *only = trim_field(line, end);
        if (*only == '\0') return 0;
    }
    if (n_fields != 2) {
        snprintf(why, why_size, "expected 2 fields (lat,lng), found %zu", n_fields);
        return -1;
    }
    char *comma = memchr(line, ',', len);
    char *a = trim_field(line, comma), *b = trim_field(comma + 1, end);
    if (line_no == 1 && *a && *b && non_numeric(a) && non_numeric(b)) return 0; /* header */
    if (geoloc_csv_parse_coordinate(a, strlen(a), "lat", 90, lat, why, why_size) != 0) return -1;
    if (geoloc_csv_parse_coordinate(b, strlen(b), "lng", 180, lng, why, why_size) != 0) return -1;
    return 1;
}

static int cmd_token(int argc, char **argv) {
    token_args a = {.level = GEOLOC_S2_MAX_LEVEL};
    int n_args;
    int parsed = cli_parse(&TOKEN_SPEC, &a, argc, argv, &n_args);
    if (parsed != CLI_RUN) return parsed;
    const char *path = n_args && strcmp(argv[1], "-") ? argv[1] : NULL, *name = path ? path : "<stdin>";
    FILE *in = path ? fopen(path, "r") : stdin;
    if (!in) {
        fprintf(stderr, "geoloc s2 token: %s: %s\n", path, strerror(errno));
        return 1;
    }
    int level = (int)a.level, skip_invalid = a.skip_invalid;
    static char out_buf[1 << 16];
    setvbuf(stdout, out_buf, _IOFBF, sizeof out_buf);
    char *line = NULL, why[160], first_why[200] = "";
    size_t cap = 0;
    long line_no = 0, skipped = 0;
    ssize_t got;
    int status = 0;
    while ((got = getline(&line, &cap, in)) >= 0 && !ferror(stdout)) {
        size_t len = (size_t)got;
        line_no++;
        if (len > 0 && line[len - 1] == '\n') line[--len] = '\0';
        char *text = line;
        if (line_no == 1 && len >= 3 && !memcmp(line, "\xEF\xBB\xBF", 3)) { /* UTF-8 byte order mark */
            text += 3;
            len -= 3;
        }
        double lat, lng;
        int r = parse_point(text, len, line_no, &lat, &lng, why, sizeof why);
        if (r == 0) continue;
        if (r < 0) {
            if (!skip_invalid) {
                fflush(stdout);
                fprintf(stderr, "geoloc s2 token: %s:%ld: %s\n", name, line_no, why);
                status = 1;
                break;
            }
            if (skipped++ == 0) snprintf(first_why, sizeof first_why, "%s:%ld: %s", name, line_no, why);
            continue;
        }
        char tok[GEOLOC_S2_TOKEN_SIZE];
        geoloc_s2_to_token(geoloc_s2_from_latlng_level(lat, lng, level), tok);
        fputs(tok, stdout);
        putchar('\n');
    }
    if (status == 0 && ferror(in)) {
        fprintf(stderr, "geoloc s2 token: %s: read error: %s\n", name, strerror(errno));
        status = 1;
    }
    free(line);
    if (path) fclose(in);
    if (skip_invalid && status == 0) {
        if (skipped)
            fprintf(stderr, "geoloc s2 token: skipped %ld invalid rows (first: %s)\n", skipped, first_why);
        else
            fprintf(stderr, "geoloc s2 token: skipped 0 invalid rows\n");
    }
    return status;
}

/* ---- geoloc s2 cell --------------------------------------------------- */

static void print_json_latlng(double lat, double lng) {
    char a[32], b[32];
    geoloc_csv_format_double(lat, a);
    geoloc_csv_format_double(lng, b);
    printf("{\"lat\": %s, \"lng\": %s}", a, b);
}

static int cmd_cell(int argc, char **argv) {
    cell_args a = {0};
    int n_tokens;
    int parsed = cli_parse(&CELL_SPEC, &a, argc, argv, &n_tokens);
    if (parsed != CLI_RUN) return parsed;
    int json = a.json;
    geoloc_cell *cells = calloc((size_t)n_tokens, sizeof *cells);
    if (cells == NULL) {
        fprintf(stderr, "geoloc s2 cell: out of memory\n");
        return 1;
    }
    /* every token is checked before anything is printed */
    int n = 0;
    for (int k = 1; k <= n_tokens; k++) {
        const char *arg = argv[k];
        geoloc_status st = geoloc_s2_from_token(arg, strlen(arg), &cells[n]);
        if (st != GEOLOC_OK) {
            if (st == GEOLOC_E_PARSE)
                fprintf(stderr, "geoloc s2 cell: '%.40s' is not an S2 token (1 to 16 hex digits)\n", arg);
            else
                fprintf(stderr,
                        "geoloc s2 cell: '%.40s' is not a valid S2 cell (no face 0-5 and level 0-30 "
                        "fit its bits)\n",
                        arg);
            free(cells);
            return 1;
        }
        n++;
    }

    if (json) fputs("[\n", stdout);
    for (int k = 0; k < n; k++) {
        geoloc_cell c = cells[k];
        char tok[GEOLOC_S2_TOKEN_SIZE];
        double lat, lng;
        geoloc_s2_to_token(c, tok);
        geoloc_s2_center(c, &lat, &lng);
        if (json) {
            printf("  {\"token\": \"%s\", \"level\": %d, \"face\": %d, \"center\": ", tok, geoloc_s2_level(c),
                   geoloc_s2_face(c));
            print_json_latlng(lat, lng);
            fputs(", \"vertices\": [", stdout);
            for (int v = 0; v < 4; v++) {
                geoloc_s2_vertex(c, v, &lat, &lng);
                if (v) fputs(", ", stdout);
                print_json_latlng(lat, lng);
            }
            printf("]}%s\n", k + 1 < n ? "," : "");
        } else {
            if (k) putchar('\n');
            printf("token:    %s\nlevel:    %d\nface:     %d\ncenter:   %.15g, %.15g\n", tok, geoloc_s2_level(c),
                   geoloc_s2_face(c), lat, lng);
            for (int v = 0; v < 4; v++) {
                geoloc_s2_vertex(c, v, &lat, &lng);
                printf("vertex %d: %.15g, %.15g\n", v, lat, lng);
            }
        }
    }
    if (json) fputs("]\n", stdout);
    free(cells);
    return 0;
}

const cli_command CLI_S2_COMMANDS[] = {
    {"token", cmd_token, NULL, "S2 cell tokens of lat,lng lines (a file or stdin)"},
    {"cell", cmd_cell, NULL, "level, face, center and vertices of cells"},
    {NULL}};
