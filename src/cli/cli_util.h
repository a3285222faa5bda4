/* Small helpers shared by the CLI's subcommands. */
#ifndef GEOLOC_CLI_UTIL_H
#define GEOLOC_CLI_UTIL_H

#include <stddef.h>

/* File name without directory and extension ("dir/cells_50_5000.csv" -> "cells_50_5000"). */
void cli_stem(const char *path, char *out, size_t size);

/* Creates a directory and its parents (like mkdir -p); 0 or -1 with message. */
int cli_mkdir_p(const char *cmd, const char *dir);

/* Finds the shared reference data folder: $GEOLOC_SHARED_DATA, else
 * ../shared/data from the current directory or from the executable's
 * build folder. Returns 0 and the path in out, or -1 when absent. */
int cli_find_shared_data(char *out, size_t size);

/* qsort comparator of doubles, ascending. */
int cli_compare_doubles(const void *a, const void *b);

/* qsort comparator of C strings (an array of char *), strcmp order. */
int cli_compare_strings(const void *a, const void *b);

/* A file a command reads or writes (path NULL: not given), for cli_check_outputs. */
typedef struct cli_file {
    const char *what; /* "--out", "DATA.csv" */
    const char *path;
} cli_file;

/* Refuses, before any work, an output that is one of the inputs or another
 * output (same name, or the same device and inode: io/same_file.h); "-" is
 * standard input as an input and standard output as an output; also refuses
 * "-" given as two inputs (standard input can be read once). 0 when all
 * differ, else 2 (usage) after a message naming both on stderr. */
int cli_check_outputs(const char *cmd, const cli_file *inputs, int n_inputs, const cli_file *outputs,
                      int n_outputs);

/* Flushes standard output; 0, or 1 after "CMD: cannot write the output: WHY"
 * on stderr (disk full, I/O error; nothing when the reader left). */
int cli_check_stdout(const char *cmd);

/* Flushes standard output and checks that everything written to it arrived:
 * on an error after a command that succeeded (rc 0 or 3) prints "geoloc:
 * standard output: REASON" and returns 1; otherwise returns rc (a command
 * that failed has reported why). */
int cli_finish_stdout(int rc);

/* Monotonic clock in seconds (for timing). */
double cli_now_seconds(void);

#endif
