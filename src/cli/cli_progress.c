/* The progress line of folder prediction, evaluation, scans and packing. */
#include "cli/cli_progress.h"

#include <stdio.h>
#include <unistd.h>

#include "cli/cli_util.h"

void cli_progress_start(cli_progress *p, const char *what, const char *unit, size_t total) {
    *p = (cli_progress){what, unit, total, cli_now_seconds(), 0, 0, isatty(STDERR_FILENO)};
}

/* Seconds as mm:ss, or h:mm:ss from an hour on. */
static void format_duration(double seconds, char *out, size_t size) {
    long s = seconds < 0 ? 0 : seconds > 1e7 ? 9999999 : (long)(seconds + 0.5);
    if (s >= 3600) snprintf(out, size, "%ld:%02ld:%02ld", s / 3600, s / 60 % 60, s % 60);
    else snprintf(out, size, "%02ld:%02ld", s / 60, s % 60);
}

void cli_progress_update(cli_progress *p, size_t done) {
    double now = cli_now_seconds();
    if (!p->tty || (p->shown && now - p->last < 0.2 && done < p->total)) return;
    p->last = now;
    p->shown = 1;
    if (!p->total) {
        fprintf(stderr, "\r%s: %zu found\033[K", p->what, done);
        return;
    }
    double rate = now > p->start ? (double)done / (now - p->start) : 0;
    char eta[32] = "--:--";
    if (rate > 0) format_duration((double)(p->total - done) / rate, eta, sizeof eta);
    if (p->unit)
        fprintf(stderr, "\r%s: %zu/%zu %s, %.1f %s/s, ETA %s\033[K", p->what, done, p->total, p->unit, rate,
                p->unit, eta);
    else
        fprintf(stderr, "\r%s: %zu/%zu (%.0f%%), %.1f/s, ETA %s\033[K", p->what, done, p->total,
                100.0 * (double)done / (double)p->total, rate, eta);
}

void cli_progress_callback(void *ctx, size_t done, size_t total) {
    cli_progress *p = ctx;
    p->total = total;
    cli_progress_update(p, done);
}

void cli_progress_clear(cli_progress *p) {
    if (p->shown) fputs("\r\033[K", stderr);
    p->shown = 0;
}
