/* Declarative command-line options: each command describes its options in one
 * static table, and one function parses argv from it and prints the usage and
 * the help generated from that same table (so the help cannot drift from the
 * options). One dispatcher serves every command that has subcommands.
 *
 * Converting a command (e.g. predict):
 *
 *     typedef struct { const char *model; long top; int json; int format; } predict_args;
 *     static const char *const FORMATS[] = {"text", "csv", "json", NULL};
 *     static const cli_option PREDICT_OPTIONS[] = {
 *         CLI_OPTION("model", 'm', CLI_STRING, predict_args, model, "FILE", "model file"),
 *         CLI_OPTION("top", 0, CLI_INT, predict_args, top, "K", "classes shown", .min = 1, .max = 100),
 *         CLI_OPTION("format", 0, CLI_ENUM, predict_args, format, NULL, "output format",
 *                    .choices = FORMATS),
 *         CLI_END};
 *     static const cli_spec PREDICT = {"geoloc predict", "PHOTO...", 1, -1,
 *         "Where photos were taken.\n", PREDICT_OPTIONS, "Exit status: ...\n"};
 *
 *     int cli_predict(int argc, char **argv) {
 *         predict_args a = {.top = 5};                      // defaults (shown by --help)
 *         int n;
 *         int rc = cli_parse(&PREDICT, &a, argc, argv, &n);
 *         if (rc != CLI_RUN) return rc;                     // 0 after --help, 2 on a usage error
 *         ... the positionals are argv[1] .. argv[n] ...
 *     }
 *
 * Accepted forms: --name VALUE, --name=VALUE, -x VALUE, -xVALUE, flags alone,
 * "--" ends the options, "-" alone is a positional (standard input/output).
 * Errors (exit 2, first line "NAME: ..."): unknown option, missing value, a
 * value out of its kind or range (the message names the option), a missing
 * required option, too few or too many positionals. A subcommand table is a
 * cli_command array ending with {NULL}; cli_dispatch runs it (main.c: the
 * top level, whose --help lists every command and subcommand). Internal to the
 * CLI. */
#ifndef GEOLOC_CLI_OPTIONS_H
#define GEOLOC_CLI_OPTIONS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* The CLI's exit codes. */
enum {
    CLI_EXIT_OK = 0,      /* success */
    CLI_EXIT_FAILURE = 1, /* the command failed */
    CLI_EXIT_USAGE = 2,   /* unknown option, bad value, missing argument */
    CLI_EXIT_SKIPPED = 3  /* done, but some of many inputs were skipped */
};

/* cli_parse's answer when the command should run. */
#define CLI_RUN (-1)

/* The most items a list option holds. */
#define CLI_LIST_MAX 64

typedef enum cli_kind {
    CLI_FLAG,    /* int: set to 1 */
    CLI_STRING,  /* const char *: the value as given */
    CLI_INT,     /* long */
    CLI_UINT64,  /* uint64_t (no sign accepted) */
    CLI_DOUBLE,  /* double, finite */
    CLI_ENUM,    /* int: index of the value in .choices */
    CLI_STRINGS, /* cli_list, .str: comma-separated non-empty items */
    CLI_UINT64S, /* cli_list, .u64: comma-separated unsigned integers */
    CLI_DOUBLES  /* cli_list, .num: comma-separated numbers */
} cli_kind;

/* The value of a list option. */
typedef struct cli_list {
    int n;
    const char *str[CLI_LIST_MAX];
    uint64_t u64[CLI_LIST_MAX];
    double num[CLI_LIST_MAX];
} cli_list;

/* One option. Numbers (and every list item) must lie in [min, max] when
 * min < max. --help shows the destination's value before parsing as the
 * default (numbers when non-zero, strings when set, enums always). */
typedef struct cli_option {
    const char *name;            /* long name without "--"; NULL ends a table */
    char short_name;             /* 'x' for -x, or 0 */
    cli_kind kind;
    size_t offset;               /* of the destination in the command's argument struct */
    const char *metavar;         /* the value's name in the help; enums: NULL lists the choices */
    const char *help;            /* help text; '\n' starts a continuation line */
    double min, max;             /* allowed range when min < max */
    const char *const *choices;  /* CLI_ENUM: allowed values, NULL-terminated */
    int required;                /* 1: the command cannot run without it */
    int max_items;               /* lists: at most this many items (0: CLI_LIST_MAX) */
} cli_option;

/* A table row: the option --NAME (-SHORT, or 0) of KIND into TYPE's FIELD,
 * its value shown as METAVAR, HELP; then optional designated fields
 * (.min = 0, .max = 30, .choices = ..., .required = 1, .max_items = 16). */
#define CLI_OPTION(name_, short_, kind_, type_, field_, metavar_, help_, ...)                       \
    {.name = (name_), .short_name = (short_), .kind = (kind_), .offset = offsetof(type_, field_), \
     .metavar = (metavar_), .help = (help_), __VA_ARGS__}

/* The row ending a table. */
#define CLI_END {.name = NULL}

/* A command: its name, positionals, texts and option table. */
typedef struct cli_spec {
    const char *name;          /* "geoloc cells build": usage and message prefix */
    const char *args;          /* positionals in the usage line ("DATA.csv"), or NULL */
    int min_args, max_args;    /* how many positionals; max_args -1: no limit */
    const char *about;         /* what the command does (after the usage line), or NULL */
    const cli_option *options; /* the table, ending with {NULL} */
    const char *notes;         /* after the options (exit status...), or NULL */
} cli_spec;

/* Parses argv[1..argc) into the fields of *args following spec's table and
 * moves the positionals to argv[1..*n_args]. Returns CLI_RUN, or the exit
 * code the command must return: 0 after printing the help (--help, -h),
 * CLI_EXIT_USAGE after printing the error and the usage line on stderr. */
int cli_parse(const cli_spec *spec, void *args, int argc, char **argv, int *n_args);

/* Prints spec's help (usage line, about, options with defaults, notes);
 * `args` holds the defaults. */
void cli_print_help(const cli_spec *spec, const void *args, FILE *out);

/* Prints "NAME: message" and the usage hint on stderr; returns CLI_EXIT_USAGE
 * (for checks between options that a table cannot express). */
int cli_usage_error(const cli_spec *spec, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* A command or a group of subcommands. */
typedef struct cli_command {
    const char *name;                 /* NULL ends a table */
    int (*run)(int argc, char **argv); /* a command (argv[0] is its name), or NULL */
    const struct cli_command *sub;    /* a group: its subcommands, or NULL */
    const char *summary;              /* one line */
} cli_command;

/* Runs the command named by argv[1] from the table (recursively into groups):
 * `prog` is the words so far ("geoloc", "geoloc cells"). No name: usage on
 * stderr, exit 2; --help/-h/help: every command below, on stdout, exit 0;
 * an unknown name: "PROG: unknown command 'NAME'", exit 2. */
int cli_dispatch(const char *prog, const cli_command *commands, int argc, char **argv);

/* Prints "usage: PROG <command> [options]" and every command and subcommand
 * under `commands` with its summary. */
void cli_print_commands(const char *prog, const cli_command *commands, FILE *out);

#endif
