/* The command line's one progress line: \r-updated on stderr at most five
 * times a second when stderr is a terminal, nothing otherwise. */
#ifndef GEOLOC_CLI_PROGRESS_H
#define GEOLOC_CLI_PROGRESS_H

#include <stddef.h>

typedef struct cli_progress {
    const char *what;   /* label: "predict", "pack", ... */
    const char *unit;   /* "photos": "N/M photos, R photos/s"; NULL: "N/M (P%), R/s" */
    size_t total;       /* 0: unknown ("N found") */
    double start, last; /* seconds (cli_now_seconds) */
    int shown, tty;
} cli_progress;

/* Starts counting now: the rate and the time left count from here. */
void cli_progress_start(cli_progress *p, const char *what, const char *unit, size_t total);

/* Shows done of the total with the rate and the time left (mm:ss, or h:mm:ss). */
void cli_progress_update(cli_progress *p, size_t done);

/* A library progress callback (ctx: the cli_progress) that also takes the total. */
void cli_progress_callback(void *ctx, size_t done, size_t total);

/* Clears the line (if one is shown), e.g. before printing a message. */
void cli_progress_clear(cli_progress *p);

#endif
