/* Per-client request rate limit: a token bucket per client address (rate
 * tokens per second, up to burst), kept for at most max_clients addresses
 * (the least recently seen forgotten first). Thread-safe. Internal. */
#ifndef GEOLOC_SERVER_RATE_LIMIT_H
#define GEOLOC_SERVER_RATE_LIMIT_H

#include <stddef.h>
#include <sys/socket.h>

typedef struct serve_rate_limit serve_rate_limit;

/* A limiter (NULL when out of memory); rate > 0, burst >= 1. */
serve_rate_limit *serve_rate_limit_create(double rate, double burst, size_t max_clients);

/* Frees a limiter (NULL allowed). */
void serve_rate_limit_free(serve_rate_limit *r);

/* 1 when the client at addr may make a request at time now (seconds, any
 * monotonic clock), taking a token; 0 when it must wait (answer 429). */
int serve_rate_limit_allow(serve_rate_limit *r, const struct sockaddr *addr, double now);

#endif
