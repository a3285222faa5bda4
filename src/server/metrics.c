/* The server's Prometheus counters (text exposition format 0.0.4), behind one
 * mutex. photos_per_second is the photos of the batches finished in the last
 * ten seconds (ten one-second slots of CLOCK_MONOTONIC) divided by ten. */
#include "server/metrics.h"

#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "geoloc/json.h"

#define STATUS_CODES 600 /* HTTP statuses 100-599; others are counted as 0 */
#define RATE_WINDOW 10   /* seconds of the photos-per-second window */

static const double DURATION_BOUNDS[] = {0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60};
#define N_DURATION (sizeof DURATION_BOUNDS / sizeof DURATION_BOUNDS[0])
static const double BATCH_BOUNDS[] = {1, 2, 4, 8, 16, 32, 64};
#define N_BATCH (sizeof BATCH_BOUNDS / sizeof BATCH_BOUNDS[0])

/* A histogram: per-bucket (not yet cumulative) counts, the last one for +Inf. */
typedef struct histogram {
    uint64_t bucket[N_DURATION + 1];
    uint64_t count;
    double sum;
} histogram;

struct serve_metrics {
    pthread_mutex_t lock;
    uint64_t requests[STATUS_CODES];
    histogram duration, batch;
    uint64_t photos;
    double network_seconds;
    int64_t slot_second[RATE_WINDOW]; /* the monotonic second each slot counts */
    uint64_t slot_photos[RATE_WINDOW];
};

serve_metrics *serve_metrics_create(void) {
    serve_metrics *m = calloc(1, sizeof *m);
    if (!m) return NULL;
    if (pthread_mutex_init(&m->lock, NULL)) {
        free(m);
        return NULL;
    }
    for (int i = 0; i < RATE_WINDOW; i++) m->slot_second[i] = -1;
    return m;
}

void serve_metrics_free(serve_metrics *m) {
    if (!m) return;
    pthread_mutex_destroy(&m->lock);
    free(m);
}

/* The current second of CLOCK_MONOTONIC. */
static int64_t monotonic_second(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec;
}

/* Adds v to h, whose upper bounds are bounds[0..n-1]. */
static void histogram_observe(histogram *h, const double *bounds, size_t n, double v) {
    size_t b = 0;
    while (b < n && v > bounds[b]) b++;
    h->bucket[b]++;
    h->count++;
    h->sum += v;
}

void serve_metrics_request(serve_metrics *m, int status, double seconds) {
    if (!m) return;
    if (!(seconds >= 0)) seconds = 0;
    pthread_mutex_lock(&m->lock);
    m->requests[status >= 100 && status < STATUS_CODES ? status : 0]++;
    histogram_observe(&m->duration, DURATION_BOUNDS, N_DURATION, seconds);
    pthread_mutex_unlock(&m->lock);
}

void serve_metrics_batch(serve_metrics *m, int photos, double seconds) {
    if (!m || photos < 0) return;
    if (!(seconds >= 0)) seconds = 0;
    int64_t now = monotonic_second();
    int slot = (int)(now % RATE_WINDOW);
    pthread_mutex_lock(&m->lock);
    histogram_observe(&m->batch, BATCH_BOUNDS, N_BATCH, photos);
    m->photos += (uint64_t)photos;
    m->network_seconds += seconds;
    if (m->slot_second[slot] != now) {
        m->slot_second[slot] = now;
        m->slot_photos[slot] = 0;
    }
    m->slot_photos[slot] += (uint64_t)photos;
    pthread_mutex_unlock(&m->lock);
}

/* Writes a number as Prometheus reads it: whole numbers as integers, others
 * in the shortest form that reads back. */
static void put_number(FILE *f, double v) {
    char s[32];
    if (v == floor(v) && fabs(v) < 1e15) fprintf(f, "%.0f", v);
    else if (geoloc_json_format_double(v, s) < 0) fputs(v > 0 ? "+Inf" : v < 0 ? "-Inf" : "NaN", f);
    else fputs(s, f);
}

/* Writes a family's # HELP and # TYPE lines. */
static void put_header(FILE *f, const char *name, const char *type, const char *help) {
    fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* Writes a histogram family: cumulative _bucket lines, +Inf, _sum and _count. */
static void put_histogram(FILE *f, const char *name, const char *help, const histogram *h,
                          const double *bounds, size_t n) {
    put_header(f, name, "histogram", help);
    uint64_t cumulative = 0;
    for (size_t b = 0; b < n; b++) {
        cumulative += h->bucket[b];
        fprintf(f, "%s_bucket{le=\"", name);
        put_number(f, bounds[b]);
        fprintf(f, "\"} %llu\n", (unsigned long long)cumulative);
    }
    fprintf(f, "%s_bucket{le=\"+Inf\"} %llu\n", name, (unsigned long long)h->count);
    fprintf(f, "%s_sum ", name);
    put_number(f, h->sum);
    fprintf(f, "\n%s_count %llu\n", name, (unsigned long long)h->count);
}

char *serve_metrics_render(serve_metrics *m, size_t *size) {
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (!f) return NULL;
    int64_t now = monotonic_second();
    pthread_mutex_lock(&m->lock);
    put_header(f, "geoloc_requests_total", "counter", "HTTP requests answered, by status code.");
    for (int code = 0; code < STATUS_CODES; code++)
        if (m->requests[code])
            fprintf(f, "geoloc_requests_total{code=\"%d\"} %llu\n", code,
                    (unsigned long long)m->requests[code]);
    put_histogram(f, "geoloc_request_duration_seconds", "Time from a request's arrival to its answer.",
                  &m->duration, DURATION_BOUNDS, N_DURATION);
    put_histogram(f, "geoloc_batch_photos", "Photos per network batch.", &m->batch, BATCH_BOUNDS,
                  N_BATCH);
    put_header(f, "geoloc_photos_total", "counter", "Photos run through the network.");
    fprintf(f, "geoloc_photos_total %llu\n", (unsigned long long)m->photos);
    put_header(f, "geoloc_network_seconds_total", "counter", "Seconds spent running network batches.");
    fputs("geoloc_network_seconds_total ", f);
    put_number(f, m->network_seconds);
    fputc('\n', f);
    uint64_t recent = 0;
    for (int i = 0; i < RATE_WINDOW; i++)
        if (m->slot_second[i] > now - RATE_WINDOW && m->slot_second[i] <= now) recent += m->slot_photos[i];
    pthread_mutex_unlock(&m->lock);
    put_header(f, "geoloc_photos_per_second", "gauge",
               "Photos of the batches finished in the last 10 seconds, divided by 10.");
    fputs("geoloc_photos_per_second ", f);
    put_number(f, (double)recent / RATE_WINDOW);
    fputc('\n', f);
    if (fclose(f) || !text) {
        free(text);
        return NULL;
    }
    if (size) *size = len;
    return text;
}
