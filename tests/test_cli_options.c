/* The CLI's option tables (src/cli/cli_options.c): every kind of value, both
 * --opt value and --opt=value, short options, "--" and "-", ranges, lists,
 * required options, positional counts, the exit codes, the help made from the
 * table. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli_options.h"
#include "test_util.h"

typedef struct {
    int flag, mode;
    const char *name;
    long count;
    uint64_t seed;
    double ratio;
    cli_list files, sizes, weights;
} args_t;

static const char *const MODES[] = {"fast", "exact", NULL};

static const cli_option OPTIONS[] = {
    CLI_OPTION("flag", 'f', CLI_FLAG, args_t, flag, NULL, "a flag"),
    CLI_OPTION("name", 'n', CLI_STRING, args_t, name, "NAME", "a name", .required = 1),
    CLI_OPTION("count", 'c', CLI_INT, args_t, count, "N", "a count", .min = -5, .max = 30),
    CLI_OPTION("seed", 0, CLI_UINT64, args_t, seed, "S", "a seed"),
    CLI_OPTION("ratio", 0, CLI_DOUBLE, args_t, ratio, "F", "a ratio", .min = 0, .max = 1),
    CLI_OPTION("mode", 0, CLI_ENUM, args_t, mode, NULL, "a mode", .choices = MODES),
    CLI_OPTION("files", 0, CLI_STRINGS, args_t, files, "LIST", "files", .max_items = 3),
    CLI_OPTION("sizes", 0, CLI_UINT64S, args_t, sizes, "LIST", "sizes", .min = 1, .max = 1000),
    CLI_OPTION("weights", 0, CLI_DOUBLES, args_t, weights, "LIST", "weights\nsecond line"),
    CLI_END};

static const cli_spec SPEC = {"geoloc test", "IN [OUT]", 1, 2, "About the test.\n", OPTIONS, "Notes.\n"};

/* Parses the words of `line` (copied: the parser writes into argv's strings);
 * returns cli_parse's answer, stderr silenced. */
static int parse(const char *line, args_t *a, int *n, char words[][64], char **argv) {
    int argc = 0;
    char copy[1024];
    snprintf(copy, sizeof copy, "geoloc-test %s", line);
    for (char *w = strtok(copy, " "); w; w = strtok(NULL, " ")) {
        snprintf(words[argc], 64, "%s", strcmp(w, "''") ? w : "");
        argv[argc] = words[argc];
        argc++;
    }
    memset(a, 0, sizeof *a);
    a->count = 7;
    fflush(stderr);
    int saved = dup(2);
    FILE *null = freopen("/dev/null", "w", stderr);
    int rc = cli_parse(&SPEC, a, argc, argv, n);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    (void)null;
    return rc;
}

int main(void) {
    char words[32][64], *argv[32];
    args_t a;
    int n = -1;

    /* every kind, both forms, short options, positionals compacted */
    int rc = parse("in.csv --flag --name=x -c 12 --seed 18446744073709551615 --ratio=0.25 --mode exact "
                   "--files a,b,c --sizes=1,1000 --weights -1.5,2e3 out.csv", &a, &n, words, argv);
    CHECK(rc == CLI_RUN, "rc %d", rc);
    CHECK(a.flag == 1 && !strcmp(a.name, "x") && a.count == 12, "flag %d name %s count %ld", a.flag, a.name, a.count);
    CHECK(a.seed == UINT64_MAX, "seed %llu", (unsigned long long)a.seed);
    CHECK(a.ratio == 0.25 && a.mode == 1, "ratio %g mode %d", a.ratio, a.mode);
    CHECK(a.files.n == 3 && !strcmp(a.files.str[0], "a") && !strcmp(a.files.str[2], "c"), "files %d", a.files.n);
    CHECK(a.sizes.n == 2 && a.sizes.u64[0] == 1 && a.sizes.u64[1] == 1000, "sizes %d", a.sizes.n);
    CHECK(a.weights.n == 2 && a.weights.num[0] == -1.5 && a.weights.num[1] == 2000, "weights %d", a.weights.n);
    CHECK(n == 2 && !strcmp(argv[1], "in.csv") && !strcmp(argv[2], "out.csv"), "n %d", n);

    rc = parse("-nY -c-5 -f - --name z", &a, &n, words, argv);
    CHECK(rc == CLI_RUN && !strcmp(a.name, "z") && a.count == -5 && a.flag, "attached short values: rc %d", rc);
    CHECK(n == 1 && !strcmp(argv[1], "-"), "'-' is a positional: n %d", n);
    rc = parse("--name x -- --flag", &a, &n, words, argv);
    CHECK(rc == CLI_RUN && n == 1 && !strcmp(argv[1], "--flag") && !a.flag, "-- ends the options: rc %d", rc);
    rc = parse("--name=x in", &a, &n, words, argv);
    CHECK(rc == CLI_RUN && a.count == 7 && a.mode == 0, "defaults kept: count %ld", a.count);
    rc = parse("--name= in", &a, &n, words, argv);
    CHECK(rc == CLI_RUN && a.name && !*a.name, "an empty string value");

    /* usage errors: exit 2 */
    static const char *const BAD[] = {
        "--name x in --bogus",           /* unknown long option */
        "--name x in -q",                /* unknown short option */
        "--name x in --flag=1",          /* a flag with a value */
        "in --name",                     /* missing value */
        "--name x in --count 31",        /* above the range */
        "--name x in --count -6",        /* below the range */
        "--name x in --count 1.5",       /* not an integer */
        "--name x in --count ''",        /* empty */
        "--name x in --count 99999999999999999999", /* overflow */
        "--name x in --seed -1",         /* a sign on an unsigned value */
        "--name x in --seed 18446744073709551616",  /* overflow */
        "--name x in --ratio nan",       /* not finite */
        "--name x in --ratio 1.01",      /* above the range */
        "--name x in --ratio 0.5x",      /* trailing characters */
        "--name x in --mode slow",       /* not a choice */
        "--name x in --files a,,b",      /* empty item */
        "--name x in --files a,b,c,d",   /* too many items */
        "--name x in --sizes 1,0",       /* item out of range */
        "--name x in --sizes 1,x",       /* item not a number */
        "--name x in --weights 1,",      /* empty last item */
        "in",                            /* missing required option */
        "--name x",                      /* missing positional */
        "--name x a b c",                /* extra positional */
    };
    for (size_t k = 0; k < sizeof BAD / sizeof BAD[0]; k++) {
        rc = parse(BAD[k], &a, &n, words, argv);
        CHECK(rc == CLI_EXIT_USAGE, "'%s': rc %d, expected 2", BAD[k], rc);
    }

    /* the help comes from the table, with defaults and required marks */
    char help[4096] = "";
    FILE *out = fmemopen(help, sizeof help - 1, "w");
    args_t d = {.count = 7, .ratio = 0.5, .mode = 1};
    cli_print_help(&SPEC, &d, out);
    fclose(out);
    CHECK(strstr(help, "usage: geoloc test --name NAME [options] IN [OUT]\n") == help, "usage line: %s", help);
    CHECK(strstr(help, "  -c, --count N         a count (default 7)\n") != NULL, "count line: %s", help);
    CHECK(strstr(help, "  -n, --name NAME       a name (required)\n") != NULL, "name line: %s", help);
    CHECK(strstr(help, "  --mode fast|exact     a mode (default exact)\n") != NULL, "mode line: %s", help);
    CHECK(strstr(help, "  --weights LIST        weights\n                        second line\n") != NULL,
          "continuation line: %s", help);
    CHECK(strstr(help, "  -h, --help            show this help\n\nNotes.\n") != NULL, "help and notes: %s", help);
    for (const cli_option *o = OPTIONS; o->name; o++) {
        char want[64];
        snprintf(want, sizeof want, "--%s", o->name);
        CHECK(strstr(help, want) != NULL, "%s in the help", want);
    }

    TEST_END();
}
