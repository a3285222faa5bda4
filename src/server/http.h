/* The server's HTTP layer on libmicrohttpd: one thread per connection (a
 * handler may block in serve_engine_locate), routing of the REST API and the
 * page's files, bearer-token check, per-client rate limit, request body limit,
 * idle and whole-request time limits (a watchdog thread shuts the sockets of
 * requests running too long), a one-line access log on stderr per request,
 * and a drain mode for a graceful stop. Internal. */
#ifndef GEOLOC_SERVER_HTTP_H
#define GEOLOC_SERVER_HTTP_H

#include <stddef.h>
#include <sys/socket.h>

#include "geoloc/model.h"
#include "geoloc/status.h"
#include "server/engine.h"
#include "server/metrics.h"
#include "server/rate_limit.h"

typedef struct serve_http serve_http;

/* What the HTTP layer serves and its limits; the pointers must outlive it. */
typedef struct serve_http_config {
    const struct sockaddr *addr;  /* address to listen on (port included): IPv4 or IPv6 */
    int max_connections;
    int idle_timeout_s, request_timeout_s;
    size_t max_body;
    const char *token;            /* bearer token required by /v1/ and /metrics (NULL: none) */
    const char *tls_cert_pem;     /* both set: HTTPS */
    const char *tls_key_pem;
    const geoloc_model *model;
    geoloc_precision precision;   /* the network's arithmetic, for /v1/model */
    serve_engine *engine;
    serve_metrics *metrics;       /* NULL: not counted */
    serve_rate_limit *rate;       /* NULL: no limit */
    serve_locate_query locate_defaults;
} serve_http_config;

/* Starts listening; GEOLOC_E_IO when the address cannot be bound or TLS is
 * not available. */
geoloc_status serve_http_start(const serve_http_config *c, serve_http **out, geoloc_error *err);

/* The TCP port listened on. */
int serve_http_port(const serve_http *h);

/* From now on every new request is answered 503 (requests already running go on). */
void serve_http_drain(serve_http *h);

/* Waits until no request is running, at most timeout_s seconds; 0 when none is
 * left, -1 on timeout. */
int serve_http_wait_idle(serve_http *h, double timeout_s);

/* Closes every connection, stops the threads and frees (NULL allowed). */
void serve_http_stop(serve_http *h);

#endif
