/* Progress reports (the options' callback; rank 0's when several ranks train) and the run's clock. */
#include <stdarg.h>
#include <stdio.h>
#include <time.h>

#include "geoloc/dist.h"
#include "train/internal.h"

double train_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void train_report(const train_run *r, const geoloc_train_event *ev) {
    /* several ranks: rank 0 speaks for the job; every rank's warnings (a photo skipped) are its own */
    if (geoloc_dist_rank() != 0 && ev->kind != GEOLOC_TRAIN_EV_WARNING) return;
    if (r->o->report) r->o->report(r->o->ctx, ev);
}

static void report_text(const train_run *r, geoloc_train_event_kind kind, const char *fmt, va_list ap) {
    char text[1024];
    vsnprintf(text, sizeof text, fmt, ap);
    geoloc_train_event ev = {.kind = kind, .message = text};
    train_report(r, &ev);
}

void train_info(const train_run *r, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    report_text(r, GEOLOC_TRAIN_EV_INFO, fmt, ap);
    va_end(ap);
}

void train_warn(const train_run *r, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    report_text(r, GEOLOC_TRAIN_EV_WARNING, fmt, ap);
    va_end(ap);
}

void train_run_start(train_run *r, const train_state *s) {
    r->run_t0 = train_now();
    r->elapsed0 = s->elapsed;
    r->step0 = s->step;
    r->run_images = 0;
}

double train_elapsed(const train_run *r) { return r->elapsed0 + (train_now() - r->run_t0); }

double train_images_per_s(const train_run *r) {
    double run = train_now() - r->run_t0;
    return run > 0 ? (double)r->run_images / run : 0;
}
