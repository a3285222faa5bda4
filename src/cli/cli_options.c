/* Table-driven option parsing, help generation and subcommand dispatch
 * (see cli_options.h). */
#include "cli/cli_options.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

/* Help column where option descriptions start. */
#define HELP_COLUMN 24

static void *field(void *args, const cli_option *o) { return (char *)args + o->offset; }

static int has_range(const cli_option *o) { return o->min < o->max; }

static int is_list(cli_kind k) { return k == CLI_STRINGS || k == CLI_UINT64S || k == CLI_DOUBLES; }

/* "an integer from 0 to 30", "a number", ... into buf (what a value must be). */
static const char *expected(const cli_option *o, char *buf, size_t size) {
    const char *what = "";
    switch (o->kind) {
    case CLI_INT: what = "an integer"; break;
    case CLI_UINT64: what = "a non-negative integer"; break;
    case CLI_DOUBLE: what = "a number"; break;
    case CLI_STRINGS: what = "a comma-separated list"; break;
    case CLI_UINT64S: what = "a comma-separated list of non-negative integers"; break;
    case CLI_DOUBLES: what = "a comma-separated list of numbers"; break;
    default: break;
    }
    int used = snprintf(buf, size, "%s", what);
    if (o->kind == CLI_ENUM) {
        used = snprintf(buf, size, "one of");
        for (int k = 0; o->choices[k] && used > 0 && (size_t)used < size; k++)
            used += snprintf(buf + used, size - (size_t)used, "%s %s", k ? "," : "", o->choices[k]);
    } else if (has_range(o) && used > 0 && (size_t)used < size) {
        snprintf(buf + used, size - (size_t)used, " from %.15g to %.15g", o->min, o->max);
    }
    return buf;
}

static void print_usage_line(const cli_spec *spec, FILE *out) {
    fprintf(out, "usage: %s", spec->name);
    int optional = 0;
    for (const cli_option *o = spec->options; o && o->name; o++) {
        if (!o->required) optional = 1;
        else if (o->kind == CLI_FLAG) fprintf(out, " --%s", o->name);
        else fprintf(out, " --%s %s", o->name, o->metavar ? o->metavar : "VALUE");
    }
    fprintf(out, "%s%s%s\n", optional ? " [options]" : "", spec->args ? " " : "",
            spec->args ? spec->args : "");
}

int cli_usage_error(const cli_spec *spec, const char *fmt, ...) {
    va_list ap;
    fprintf(stderr, "%s: ", spec->name);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    print_usage_line(spec, stderr);
    fprintf(stderr, "Run '%s --help' for the options.\n", spec->name);
    return CLI_EXIT_USAGE;
}

/* Strict number parsing: the whole text, no leading space, finite. */
static int parse_long(const char *s, long *v) {
    char *end;
    errno = 0;
    if (!(*s == '-' || *s == '+' || (*s >= '0' && *s <= '9'))) return -1;
    *v = strtol(s, &end, 10);
    return errno || end == s || *end ? -1 : 0;
}

static int parse_u64(const char *s, uint64_t *v) {
    char *end;
    errno = 0;
    if (!(*s >= '0' && *s <= '9')) return -1;
    *v = strtoull(s, &end, 10);
    return errno || end == s || *end ? -1 : 0;
}

static int parse_double(const char *s, double *v) {
    char *end;
    errno = 0;
    if (!*s || *s == ' ' || *s == '\t') return -1;
    *v = strtod(s, &end);
    return errno || end == s || *end || !isfinite(*v) ? -1 : 0;
}

static int in_range(const cli_option *o, double v) { return !has_range(o) || (v >= o->min && v <= o->max); }

/* Stores one list item; -1 when it is not of the list's kind or range. */
static int store_item(const cli_option *o, cli_list *l, char *item) {
    if (!*item) return -1;
    l->str[l->n] = item;
    if (o->kind == CLI_UINT64S)
        return parse_u64(item, &l->u64[l->n]) || !in_range(o, (double)l->u64[l->n]) ? -1 : 0;
    if (o->kind == CLI_DOUBLES) return parse_double(item, &l->num[l->n]) || !in_range(o, l->num[l->n]) ? -1 : 0;
    return 0;
}

/* Parses a list in place (the commas become NULs); 0, or -1 with *why. */
static int store_list(const cli_option *o, cli_list *l, char *text, const char **why) {
    int max = o->max_items > 0 && o->max_items < CLI_LIST_MAX ? o->max_items : CLI_LIST_MAX;
    l->n = 0;
    for (char *p = text, *next; p; p = next) {
        next = strchr(p, ',');
        if (next) *next++ = '\0';
        if (l->n == max) {
            *why = "too many items";
            return -1;
        }
        if (store_item(o, l, p) != 0) {
            *why = NULL;
            return -1;
        }
        l->n++;
    }
    return 0;
}

/* Stores value into o's destination; 0, or 2 after printing why not. */
static int store(const cli_spec *spec, const cli_option *o, void *args, char *value) {
    void *dst = field(args, o);
    char shown[64], want[256];
    snprintf(shown, sizeof shown, "%s", value);
    const char *why = NULL;
    int bad = 0;
    switch (o->kind) {
    case CLI_FLAG: *(int *)dst = 1; break;
    case CLI_STRING: *(const char **)dst = value; break;
    case CLI_INT: {
        long v;
        bad = parse_long(value, &v) || !in_range(o, (double)v);
        if (!bad) *(long *)dst = v;
        break;
    }
    case CLI_UINT64: {
        uint64_t v;
        bad = parse_u64(value, &v) || !in_range(o, (double)v);
        if (!bad) *(uint64_t *)dst = v;
        break;
    }
    case CLI_DOUBLE: {
        double v;
        bad = parse_double(value, &v) || !in_range(o, v);
        if (!bad) *(double *)dst = v;
        break;
    }
    case CLI_ENUM:
        bad = 1;
        for (int k = 0; o->choices[k] && bad; k++)
            if (!strcmp(o->choices[k], value)) *(int *)dst = k, bad = 0;
        break;
    default: bad = store_list(o, dst, value, &why) != 0; break;
    }
    if (!bad) return 0;
    if (why)
        return cli_usage_error(spec, "--%s: %s (at most %d)", o->name, why,
                               o->max_items > 0 ? o->max_items : CLI_LIST_MAX);
    return cli_usage_error(spec, "--%s must be %s, not '%s'", o->name, expected(o, want, sizeof want), shown);
}

static const cli_option *find_long(const cli_option *t, const char *name, size_t len) {
    for (; t && t->name; t++)
        if (strlen(t->name) == len && !strncmp(t->name, name, len)) return t;
    return NULL;
}

static const cli_option *find_short(const cli_option *t, char c) {
    for (; t && t->name; t++)
        if (t->short_name && t->short_name == c) return t;
    return NULL;
}

int cli_parse(const cli_spec *spec, void *args, int argc, char **argv, int *n_args) {
    char seen[256] = {0};
    int n = 0, only_args = 0;
    for (int k = 1; k < argc; k++) {
        char *a = argv[k], *value = NULL;
        if (only_args || a[0] != '-' || a[1] == '\0') {
            argv[1 + n++] = a;
            continue;
        }
        if (!strcmp(a, "--")) {
            only_args = 1;
            continue;
        }
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            cli_print_help(spec, args, stdout);
            return CLI_EXIT_OK;
        }
        const cli_option *o;
        if (a[1] == '-') {
            char *eq = strchr(a + 2, '=');
            o = find_long(spec->options, a + 2, eq ? (size_t)(eq - a - 2) : strlen(a + 2));
            if (eq) value = eq + 1;
            if (!o) return cli_usage_error(spec, "unknown option '%.*s'", (int)(eq ? eq - a : (long)strlen(a)), a);
        } else {
            o = find_short(spec->options, a[1]);
            if (!o) return cli_usage_error(spec, "unknown option '-%c'", a[1]);
            if (a[2]) value = a + 2;
        }
        if (o->kind == CLI_FLAG) {
            if (value) return cli_usage_error(spec, "--%s takes no value", o->name);
        } else if (!value) {
            char want[256];
            if (k + 1 >= argc)
                return cli_usage_error(spec, "--%s needs a value (%s)", o->name,
                                       o->kind == CLI_STRING ? o->metavar ? o->metavar : "VALUE"
                                                             : expected(o, want, sizeof want));
            value = argv[++k];
        }
        int rc = store(spec, o, args, value);
        if (rc) return rc;
        size_t index = (size_t)(o - spec->options);
        if (index < sizeof seen) seen[index] = 1;
    }
    for (const cli_option *o = spec->options; o && o->name; o++) {
        size_t index = (size_t)(o - spec->options);
        if (o->required && index < sizeof seen && !seen[index])
            return cli_usage_error(spec, "--%s is required", o->name);
    }
    if (n < spec->min_args)
        return cli_usage_error(spec, "missing %s", spec->args ? spec->args : "arguments");
    if (spec->max_args >= 0 && n > spec->max_args)
        return cli_usage_error(spec, "unexpected argument '%s'", argv[1 + spec->max_args]);
    *n_args = n;
    return CLI_RUN;
}

/* " (default X)" for a destination holding a value before parsing. */
static void print_default(const cli_option *o, const void *args, FILE *out) {
    const void *dst = (const char *)args + o->offset;
    switch (o->kind) {
    case CLI_STRING:
        if (*(const char *const *)dst) fprintf(out, " (default %s)", *(const char *const *)dst);
        break;
    case CLI_INT:
        if (*(const long *)dst) fprintf(out, " (default %ld)", *(const long *)dst);
        break;
    case CLI_UINT64:
        if (*(const uint64_t *)dst) fprintf(out, " (default %llu)", (unsigned long long)*(const uint64_t *)dst);
        break;
    case CLI_DOUBLE:
        if (*(const double *)dst != 0) fprintf(out, " (default %g)", *(const double *)dst);
        break;
    case CLI_ENUM: fprintf(out, " (default %s)", o->choices[*(const int *)dst]); break;
    default:
        if (is_list(o->kind) && ((const cli_list *)dst)->n) {
            const cli_list *l = dst;
            fprintf(out, " (default ");
            for (int k = 0; k < l->n; k++) fprintf(out, "%s%s", k ? "," : "", l->str[k]);
            fputc(')', out);
        }
        break;
    }
}

/* "-x, --name METAVAR" of an option, into buf. */
static int option_label(const cli_option *o, char *buf, size_t size) {
    char metavar[200] = "";
    if (o->kind == CLI_ENUM && !o->metavar) {
        int used = 0;
        for (int k = 0; o->choices[k] && (size_t)used < sizeof metavar; k++)
            used += snprintf(metavar + used, sizeof metavar - (size_t)used, "%s%s", k ? "|" : "", o->choices[k]);
    } else if (o->kind != CLI_FLAG) {
        snprintf(metavar, sizeof metavar, "%s", o->metavar ? o->metavar : "VALUE");
    }
    char shortname[8] = "";
    if (o->short_name) snprintf(shortname, sizeof shortname, "-%c, ", o->short_name);
    return snprintf(buf, size, "  %s--%s%s%s", shortname, o->name, *metavar ? " " : "", metavar);
}

void cli_print_help(const cli_spec *spec, const void *args, FILE *out) {
    print_usage_line(spec, out);
    if (spec->about) fprintf(out, "\n%s", spec->about);
    fprintf(out, "\noptions:\n");
    for (const cli_option *o = spec->options; o && o->name; o++) {
        char label[256];
        int len = option_label(o, label, sizeof label);
        fputs(label, out);
        if (len >= HELP_COLUMN) fprintf(out, "\n%*s", HELP_COLUMN, "");
        else fprintf(out, "%*s", HELP_COLUMN - len, "");
        for (const char *p = o->help; *p; p++) {
            fputc(*p, out);
            if (*p == '\n') fprintf(out, "%*s", HELP_COLUMN, "");
        }
        if (o->required) fprintf(out, " (required)");
        else print_default(o, args, out);
        fputc('\n', out);
    }
    fprintf(out, "  -h, --help%*sshow this help\n", HELP_COLUMN - 12, "");
    if (spec->notes) fprintf(out, "\n%s", spec->notes);
}

/* ---- subcommands ---------------------------------------------------------------- */

static void list_commands(const char *prefix, const cli_command *c, FILE *out) {
    for (; c->name; c++) {
        char path[128];
        if (snprintf(path, sizeof path, "%s%s%s", prefix, *prefix ? " " : "", c->name) >= (int)sizeof path) continue;
        if (c->run) fprintf(out, "  %-24s%s%s\n", path, strlen(path) < 24 ? " " : "  ", c->summary);
        if (c->sub) list_commands(path, c->sub, out);
    }
}

void cli_print_commands(const char *prog, const cli_command *commands, FILE *out) {
    fprintf(out, "usage: %s <command> [options]\n\ncommands:\n", prog);
    list_commands("", commands, out);
    fprintf(out, "\nRun '%s <command> --help' for a command's options.\n", prog);
}

int cli_dispatch(const char *prog, const cli_command *commands, int argc, char **argv) {
    if (argc < 2) {
        cli_print_commands(prog, commands, stderr);
        return CLI_EXIT_USAGE;
    }
    const char *name = argv[1];
    if (!strcmp(name, "--help") || !strcmp(name, "-h") || !strcmp(name, "help")) {
        cli_print_commands(prog, commands, stdout);
        return CLI_EXIT_OK;
    }
    for (const cli_command *c = commands; c->name; c++) {
        if (strcmp(c->name, name)) continue;
        if (c->run) return c->run(argc - 1, argv + 1);
        char sub_prog[128];
        if (snprintf(sub_prog, sizeof sub_prog, "%s %s", prog, name) >= (int)sizeof sub_prog) break;
        return cli_dispatch(sub_prog, c->sub, argc - 1, argv + 1);
    }
    fprintf(stderr, "%s: unknown command '%s'\n", prog, name);
    cli_print_commands(prog, commands, stderr);
    return CLI_EXIT_USAGE;
}
