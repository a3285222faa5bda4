/* The server's counters for GET /metrics (Prometheus text exposition format
 * 0.0.4): requests by status code, a request latency histogram, a batch size
 * histogram, photos answered and photos per second. Thread-safe. Internal. */
#ifndef GEOLOC_SERVER_METRICS_H
#define GEOLOC_SERVER_METRICS_H

#include <stddef.h>

typedef struct serve_metrics serve_metrics;

/* A new set of counters (NULL when out of memory). */
serve_metrics *serve_metrics_create(void);

/* Frees the counters (NULL allowed). */
void serve_metrics_free(serve_metrics *m);

/* Counts one finished request: its HTTP status and how long it took. */
void serve_metrics_request(serve_metrics *m, int status, double seconds);

/* Counts one network batch: the photos in it and how long the network ran. */
void serve_metrics_batch(serve_metrics *m, int photos, double seconds);

/* The exposition text (malloc'd, NUL-terminated, length in *size); NULL when
 * out of memory. */
char *serve_metrics_render(serve_metrics *m, size_t *size);

#endif
