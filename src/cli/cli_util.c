/* Small helpers shared by the CLI's subcommands. */
#include "cli/cli_util.h"

#include "cli/cli_options.h"
#include "geoloc/io.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

void cli_stem(const char *path, char *out, size_t size) {
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    const char *dot = strrchr(base, '.');
    size_t len = dot && dot != base ? (size_t)(dot - base) : strlen(base);
    if (len >= size) len = size - 1;
    memcpy(out, base, len);
    out[len] = '\0';
}

int cli_mkdir_p(const char *cmd, const char *dir) {
    char path[4096];
    if (strlen(dir) >= sizeof path) {
        fprintf(stderr, "%s: %s: path too long\n", cmd, dir);
        return -1;
    }
    strcpy(path, dir);
    for (char *p = path + 1;; p++) {
        if (*p == '/' || *p == '\0') {
            char c = *p;
            *p = '\0';
            if (mkdir(path, 0755) != 0 && errno != EEXIST) {
                fprintf(stderr, "%s: cannot create directory %s: %s\n", cmd, path, strerror(errno));
                return -1;
            }
            *p = c;
            if (c == '\0') break;
        }
    }
    struct stat st;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        fprintf(stderr, "%s: %s is not a directory\n", cmd, dir);
        return -1;
    }
    return 0;
}

static int is_dir(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

int cli_find_shared_data(char *out, size_t size) {
    const char *env = getenv("GEOLOC_SHARED_DATA");
    if (env && *env) {
        snprintf(out, size, "%s", env);
        return is_dir(out) ? 0 : -1;
    }
    const char *candidates[] = {"../shared/data", "shared/data"};
    for (size_t k = 0; k < sizeof candidates / sizeof candidates[0]; k++)
        if (is_dir(candidates[k])) {
            snprintf(out, size, "%s", candidates[k]);
            return 0;
        }
    char exe[4096];
    ssize_t len = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (len <= 0) return -1;
    exe[len] = '\0';
    for (int up = 0; up < 4; up++) { /* build/geoloc -> <checkout>/../shared/data */
        char *slash = strrchr(exe, '/');
        if (!slash) return -1;
        *slash = '\0';
        snprintf(out, size, "%s/../shared/data", exe);
        if (is_dir(out)) return 0;
    }
    return -1;
}

double cli_now_seconds(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

int cli_compare_doubles(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int cli_compare_strings(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* 1 when the file is standard input or output ("-"). */
static int is_std(const cli_file *f) { return f->path && !strcmp(f->path, "-"); }

/* 1 when two files of a command are one: "-" only meets "-" among outputs. */
static int same(const cli_file *a, int a_is_output, const cli_file *b) {
    if (!a->path || !b->path) return 0;
    int a_std = is_std(a), b_std = is_std(b);
    if (a_std || b_std) return a_std && b_std && a_is_output;
    return geoloc_same_file(a->path, b->path);
}

int cli_check_outputs(const char *cmd, const cli_file *inputs, int n_inputs, const cli_file *outputs,
                      int n_outputs) {
    for (int i = 0; i < n_inputs; i++)
        for (int j = 0; j < i; j++)
            if (is_std(&inputs[j]) && is_std(&inputs[i])) {
                fprintf(stderr, "%s: %s and %s are both '-': only one input can be standard input\n", cmd,
                        inputs[j].what, inputs[i].what);
                return CLI_EXIT_USAGE;
            }
    for (int o = 0; o < n_outputs; o++) {
        for (int i = 0; i < n_inputs; i++)
            if (same(&inputs[i], 0, &outputs[o])) {
                fprintf(stderr, "%s: the output %s '%s' is the input %s '%s'; refusing to overwrite it\n",
                        cmd, outputs[o].what, outputs[o].path, inputs[i].what, inputs[i].path);
                return CLI_EXIT_USAGE;
            }
        for (int p = 0; p < o; p++)
            if (same(&outputs[p], 1, &outputs[o])) {
                fprintf(stderr, "%s: the outputs %s '%s' and %s '%s' are the same file\n", cmd,
                        outputs[p].what, outputs[p].path, outputs[o].what, outputs[o].path);
                return CLI_EXIT_USAGE;
            }
    }
    return 0;
}

int cli_check_stdout(const char *cmd) {
    errno = 0;
    if (fflush(stdout) == 0 && !ferror(stdout)) return 0;
    if (errno == EPIPE) return 0; /* the reader left (SIGPIPE ignored): nothing to say */
    fprintf(stderr, "%s: cannot write the output: %s\n", cmd, strerror(errno ? errno : EIO));
    return 1;
}

int cli_finish_stdout(int rc) {
    int failed_before = ferror(stdout);
    errno = 0;
    int flush_failed = fflush(stdout) != 0;
    /* a command that failed has said why (the atomic writer reports its stdout errors) */
    if ((!failed_before && !flush_failed) || (rc != CLI_EXIT_OK && rc != CLI_EXIT_SKIPPED)) return rc;
    fprintf(stderr, "geoloc: standard output: %s\n", flush_failed && errno ? strerror(errno) : "write error");
    return CLI_EXIT_FAILURE;
}
