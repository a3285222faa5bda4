/* The server's HTTP layer on libmicrohttpd (see http.h).
 *
 * Threads: libmicrohttpd's listening thread and one thread per connection
 * (MHD_USE_THREAD_PER_CONNECTION), so a handler may block while the engine
 * answers; one watchdog thread for the whole-request time limit.
 *
 * Time limits: libmicrohttpd's own timeout (MHD_OPTION_CONNECTION_TIMEOUT) is
 * an idle limit. Each connection is tracked from MHD_OPTION_NOTIFY_CONNECTION
 * (its socket and when its current request began: when the connection opened,
 * then when the previous request completed); the watchdog shuts down
 * (shutdown(SHUT_RDWR), which makes libmicrohttpd close the connection) the
 * socket of a request older than request_timeout_s. The tracking entry leaves
 * the list, under the same lock, when libmicrohttpd reports the connection
 * closed, before its socket is closed, so a socket number is never shut after
 * it was reused.
 *
 * A request's life: the URI callback allocates its context (start time, raw
 * query string); the handler's first call checks route, method, rate, token
 * and the announced body size, and may answer at once (the body then is never
 * read); the next calls gather the body up to max_body; the last one answers.
 * The completed callback logs the request, counts it in the metrics and frees
 * the context. */
#include "server/http.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <microhttpd.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/error.h"
#include "server/routes.h"
#include "server/static_files.h"

/* A tracked connection (its socket_context). */
typedef struct tracked_conn {
    int fd;
    double start;  /* when its current request began */
    int cut;       /* already shut down by the watchdog */
    struct tracked_conn *prev, *next;
} tracked_conn;

struct serve_http {
    serve_http_config c;
    struct MHD_Daemon *daemon;
    atomic_int draining;
    pthread_mutex_t lock;       /* guards conns, in_flight, stopping */
    pthread_cond_t changed;     /* in_flight fell, or stopping was set */
    tracked_conn conns;         /* list head */
    int in_flight;              /* requests between their first call and completion */
    int stopping;
    pthread_t watchdog;
    int watchdog_started;
};

typedef enum route {
    ROUTE_NONE,    /* not an API path */
    ROUTE_LOCATE,  /* POST /v1/locate */
    ROUTE_MODEL,   /* GET /v1/model */
    ROUTE_CELL,    /* GET /v1/cells/{token} */
    ROUTE_HEALTH,  /* GET /healthz */
    ROUTE_METRICS, /* GET /metrics */
    ROUTE_STATIC   /* GET: one of the page's files */
} route;

/* One request (libmicrohttpd's con_cls). */
typedef struct request {
    double start;
    char *query;        /* raw query string ("" when none) */
    int started;        /* the handler has seen it */
    int counted;        /* in in_flight */
    route route;
    int status;         /* of the reply sent (0: none) */
    char method[12];    /* method and path as logged: truncated, unprintable bytes as '?' */
    char path[128];
    uint8_t *body;
    size_t size, cap;
} request;

static double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* ---- connections and the watchdog ------------------------------------------------ */

static void on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
                          enum MHD_ConnectionNotificationCode toe) {
    serve_http *h = cls;
    if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
        const union MHD_ConnectionInfo *info = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
        tracked_conn *t = info ? calloc(1, sizeof *t) : NULL;
        if (!t) return; /* untracked: only the idle limit applies */
        t->fd = info->connect_fd;
        t->start = now_seconds();
        pthread_mutex_lock(&h->lock);
        t->next = h->conns.next;
        t->prev = &h->conns;
        h->conns.next->prev = t;
        h->conns.next = t;
        pthread_mutex_unlock(&h->lock);
        *socket_context = t;
    } else if (*socket_context) {
        tracked_conn *t = *socket_context;
        pthread_mutex_lock(&h->lock);
        t->prev->next = t->next;
        t->next->prev = t->prev;
        pthread_mutex_unlock(&h->lock);
        free(t);
        *socket_context = NULL;
    }
}

/* Waits (h->lock held) for h->changed or at most ns nanoseconds. */
static void wait_changed(serve_http *h, long ns) {
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_nsec += ns;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    pthread_cond_timedwait(&h->changed, &h->lock, &until);
}

/* Shuts down the sockets of requests older than the limit, 4 times a second. */
static void *watchdog_main(void *arg) {
    serve_http *h = arg;
    pthread_mutex_lock(&h->lock);
    while (!h->stopping) {
        wait_changed(h, 250000000L);
        double now = now_seconds();
        for (tracked_conn *t = h->conns.next; t != &h->conns; t = t->next)
            if (!t->cut && now - t->start > h->c.request_timeout_s) {
                shutdown(t->fd, SHUT_RDWR);
                t->cut = 1;
            }
    }
    pthread_mutex_unlock(&h->lock);
    return NULL;
}

/* ---- request context -------------------------------------------------------------- */

/* libmicrohttpd's URI callback: a new request's context, with its raw query. */
static void *on_uri(void *cls, const char *uri, struct MHD_Connection *conn) {
    (void)cls;
    request *rq = calloc(1, sizeof *rq);
    if (!rq) return NULL;
    rq->start = now_seconds();
    const char *q = strchr(uri, '?');
    rq->query = strdup(q ? q + 1 : "");
    (void)conn;
    if (!rq->query) {
        free(rq);
        return NULL;
    }
    return rq;
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe) {
    serve_http *h = cls;
    request *rq = *con_cls;
    if (!rq) return;
    double seconds = now_seconds() - rq->start;
    const union MHD_ConnectionInfo *info = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    tracked_conn *t = info ? info->socket_context : NULL; /* NULL: untracked or closed */
    pthread_mutex_lock(&h->lock);
    int cut = t && t->cut;
    if (t) t->start = now_seconds(); /* the next request on this connection starts now */
    pthread_mutex_unlock(&h->lock);
    if (rq->started) {
        /* the access log: never the query, the body, the client or the token */
        if (rq->status)
            fprintf(stderr, "%s %s %d %.1f ms\n", rq->method, rq->path, rq->status, seconds * 1e3);
        else
            fprintf(stderr, "%s %s - %.1f ms (%s)\n", rq->method, rq->path, seconds * 1e3,
                    cut ? "cut off: request time limit"
                        : toe == MHD_REQUEST_TERMINATED_TIMEOUT_REACHED ? "idle time limit" : "connection closed");
        if (rq->status && h->c.metrics) serve_metrics_request(h->c.metrics, rq->status, seconds);
    }
    if (rq->counted) {
        pthread_mutex_lock(&h->lock);
        h->in_flight--;
        pthread_cond_broadcast(&h->changed);
        pthread_mutex_unlock(&h->lock);
    }
    free(rq->body);
    free(rq->query);
    free(rq);
    *con_cls = NULL;
}

/* ---- replies ---------------------------------------------------------------------- */

/* Queues reply r (its body given to libmicrohttpd, or static when is_static)
 * with an extra header (name NULL: none). */
static enum MHD_Result send_reply(struct MHD_Connection *conn, request *rq, serve_reply *r, int is_static,
                                  const char *header, const char *value) {
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(r->size, r->body, is_static ? MHD_RESPMEM_PERSISTENT : MHD_RESPMEM_MUST_FREE);
    if (!resp) {
        if (!is_static) serve_reply_free(r);
        return MHD_NO;
    }
    r->body = NULL; /* libmicrohttpd's now */
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
                            r->content_type ? r->content_type : "application/json");
    MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
    if (!is_static) MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    if (header) MHD_add_response_header(resp, header, value);
    enum MHD_Result ok = MHD_queue_response(conn, (unsigned)r->status, resp);
    MHD_destroy_response(resp);
    if (ok == MHD_YES) rq->status = r->status;
    return ok;
}

/* Queues the error {"error": message} with an extra header (NULL: none). */
static enum MHD_Result send_error(struct MHD_Connection *conn, request *rq, int status, const char *message,
                                  const char *header, const char *value) {
    serve_reply r = serve_reply_error(status, "%s", message);
    return send_reply(conn, rq, &r, 0, header, value);
}

/* ---- checks ----------------------------------------------------------------------- */

static route route_of(const char *url) {
    if (!strcmp(url, "/v1/locate")) return ROUTE_LOCATE;
    if (!strcmp(url, "/v1/model")) return ROUTE_MODEL;
    if (!strncmp(url, "/v1/cells/", 10) && url[10]) return ROUTE_CELL;
    if (!strcmp(url, "/healthz")) return ROUTE_HEALTH;
    if (!strcmp(url, "/metrics")) return ROUTE_METRICS;
    return ROUTE_NONE;
}

/* 1 when the given secret equals the token, in a time that depends only on
 * the token's length. */
static int same_secret(const char *given, const char *token) {
    size_t ng = strlen(given), nt = strlen(token);
    unsigned char diff = ng != nt;
    for (size_t i = 0; i < nt; i++) diff |= (unsigned char)((i < ng ? given[i] : 0) ^ token[i]);
    return diff == 0;
}

/* 1 when the request carries "Authorization: Bearer <the token>". */
static int authorized(const serve_http *h, struct MHD_Connection *conn) {
    const char *v = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
    if (!v || strncasecmp(v, "Bearer ", 7) != 0) return 0;
    v += 7;
    while (*v == ' ') v++;
    return same_secret(v, h->c.token);
}

static int is_get(const char *method) {
    return !strcmp(method, MHD_HTTP_METHOD_GET) || !strcmp(method, MHD_HTTP_METHOD_HEAD);
}

/* The first call of a request: answers it at once when it is refused
 * (draining, route, method, rate, token, announced size); MHD_YES with no
 * reply queued to go on and read its body. */
static enum MHD_Result first_call(serve_http *h, struct MHD_Connection *conn, request *rq, const char *url) {
    if (atomic_load(&h->draining))
        return send_error(conn, rq, 503, "the server is shutting down", MHD_HTTP_HEADER_RETRY_AFTER, "5");
    rq->route = route_of(url);
    if (rq->route == ROUTE_NONE) { /* one of the page's files, or nothing */
        static_file f;
        char why[256] = "";
        if (static_files_lookup(url, &f, why, sizeof why) != 0)
            return send_error(conn, rq, 404, why[0] ? why : "no such resource", NULL, NULL);
        rq->route = ROUTE_STATIC;
    }
    int post = rq->route == ROUTE_LOCATE;
    if (post ? strcmp(rq->method, MHD_HTTP_METHOD_POST) != 0 : !is_get(rq->method))
        return send_error(conn, rq, 405, post ? "method not allowed: POST only" : "method not allowed: GET only",
                          MHD_HTTP_HEADER_ALLOW, post ? "POST" : "GET, HEAD");
    int api = rq->route == ROUTE_LOCATE || rq->route == ROUTE_MODEL || rq->route == ROUTE_CELL ||
              rq->route == ROUTE_METRICS;
    if (api && h->c.rate) { /* before the token: guessing it is rate-limited too */
        const union MHD_ConnectionInfo *info = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
        if (info && !serve_rate_limit_allow(h->c.rate, info->client_addr, now_seconds()))
            return send_error(conn, rq, 429, "too many requests from this client: slow down",
                              MHD_HTTP_HEADER_RETRY_AFTER, "1");
    }
    if (api && h->c.token && !authorized(h, conn))
        return send_error(conn, rq, 401, "a bearer token is required (Authorization: Bearer TOKEN)",
                          MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer");
    if (!post) return MHD_YES;
    const char *length = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
    if (length) {
        errno = 0;
        char *end;
        unsigned long long n = strtoull(length, &end, 10);
        if (errno || end == length || n > h->c.max_body) {
            char msg[128];
            snprintf(msg, sizeof msg, "request body over the limit of %zu bytes", h->c.max_body);
            return send_error(conn, rq, 413, msg, MHD_HTTP_HEADER_CONNECTION, "close");
        }
        rq->cap = n ? (size_t)n : 1;
        rq->body = malloc(rq->cap);
        if (!rq->body) return send_error(conn, rq, 503, "out of memory for the request body", NULL, NULL);
    }
    return MHD_YES;
}

/* Appends a piece of the body; 0, or -1 when it would pass max_body or memory ran out. */
static int append_body(serve_http *h, request *rq, const char *data, size_t n) {
    if (n > h->c.max_body - rq->size) return -1;
    if (rq->size + n > rq->cap) {
        size_t cap = rq->cap ? rq->cap : 65536;
        while (cap < rq->size + n) cap *= 2;
        if (cap > h->c.max_body) cap = h->c.max_body;
        uint8_t *b = realloc(rq->body, cap);
        if (!b) return -1;
        rq->body = b;
        rq->cap = cap;
    }
    memcpy(rq->body + rq->size, data, n);
    rq->size += n;
    return 0;
}

/* The answer of a complete request. */
static enum MHD_Result answer(serve_http *h, struct MHD_Connection *conn, request *rq, const char *url) {
    serve_reply r;
    switch (rq->route) {
    case ROUTE_LOCATE: {
        serve_locate_query q;
        char why[256];
        if (serve_parse_locate_query(&h->c.locate_defaults, h->c.model, rq->query, &q, why, sizeof why) != 0)
            return send_error(conn, rq, 400, why, NULL, NULL);
        const char *type = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
        r = serve_engine_locate(h->c.engine, type, &q, rq->body, rq->size);
        free(rq->body); /* the photo's bytes are gone before the answer leaves */
        rq->body = NULL;
        break;
    }
    case ROUTE_MODEL: r = serve_route_model(h->c.model, h->c.precision); break;
    case ROUTE_CELL: r = serve_route_cell(url + strlen("/v1/cells/")); break;
    case ROUTE_HEALTH: r = serve_route_health(); break;
    case ROUTE_METRICS: r = serve_route_metrics(h->c.metrics); break;
    case ROUTE_STATIC: {
        static_file f;
        char why[256];
        if (static_files_lookup(url, &f, why, sizeof why) != 0) return send_error(conn, rq, 404, why, NULL, NULL);
        r = (serve_reply){.status = 200, .body = (char *)f.data, .size = f.size, .content_type = f.content_type};
        return send_reply(conn, rq, &r, 1, NULL, NULL);
    }
    default: return send_error(conn, rq, 404, "no such resource", NULL, NULL);
    }
    return send_reply(conn, rq, &r, 0, r.status == 503 ? MHD_HTTP_HEADER_RETRY_AFTER : NULL, "1");
}

/* src truncated to fit, its unprintable bytes as '?' (for the log). */
static void copy_printable(char *dst, size_t size, const char *src) {
    snprintf(dst, size, "%s", src);
    for (char *p = dst; *p; p++)
        if (!isprint((unsigned char)*p)) *p = '?';
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
                                  const char *version, const char *upload_data, size_t *upload_data_size,
                                  void **con_cls) {
    serve_http *h = cls;
    (void)version;
    request *rq = *con_cls;
    if (!rq) return MHD_NO; /* out of memory in on_uri */
    if (!rq->started) {
        rq->started = 1;
        copy_printable(rq->method, sizeof rq->method, method);
        copy_printable(rq->path, sizeof rq->path, url);
        pthread_mutex_lock(&h->lock);
        h->in_flight++;
        rq->counted = 1;
        pthread_mutex_unlock(&h->lock);
        return first_call(h, conn, rq, url);
    }
    if (rq->status) { /* answered already: what else arrives is dropped */
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (*upload_data_size) {
        /* a body without Content-Length (chunked) that passes the limit: the
         * connection is closed (libmicrohttpd cannot answer before the end of
         * a body it has started reading) */
        if (append_body(h, rq, upload_data, *upload_data_size) != 0) return MHD_NO;
        *upload_data_size = 0;
        return MHD_YES;
    }
    return answer(h, conn, rq, url);
}

/* ---- the daemon ------------------------------------------------------------------- */

static int address_port(const struct sockaddr *a) {
    return ntohs(a->sa_family == AF_INET6 ? ((const struct sockaddr_in6 *)a)->sin6_port
                                          : ((const struct sockaddr_in *)a)->sin_port);
}

static void on_mhd_log(void *cls, const char *fmt, va_list ap) {
    (void)cls;
    fputs("geoloc serve: libmicrohttpd: ", stderr);
    vfprintf(stderr, fmt, ap);
}

/* "127.0.0.1:8080" or "[::1]:8080". */
static void format_address(const struct sockaddr *a, char *out, size_t size) {
    char host[INET6_ADDRSTRLEN] = "?";
    int v6 = a->sa_family == AF_INET6;
    const void *ip = v6 ? (const void *)&((const struct sockaddr_in6 *)a)->sin6_addr
                        : (const void *)&((const struct sockaddr_in *)a)->sin_addr;
    inet_ntop(a->sa_family, ip, host, sizeof host);
    snprintf(out, size, v6 ? "[%s]:%d" : "%s:%d", host, address_port(a));
}

geoloc_status serve_http_start(const serve_http_config *c, serve_http **out, geoloc_error *err) {
    *out = NULL;
    int tls = c->tls_cert_pem && c->tls_key_pem;
    if (tls && MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES)
        return error_set(err, GEOLOC_E_IO, "this libmicrohttpd was built without TLS support");
    serve_http *h = calloc(1, sizeof *h);
    if (!h) return error_set(err, GEOLOC_E_NOMEM, "out of memory");
    h->c = *c;
    h->conns.next = h->conns.prev = &h->conns;
    pthread_mutex_init(&h->lock, NULL);
    pthread_cond_init(&h->changed, NULL);
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION | MHD_USE_ERROR_LOG;
    if (c->addr->sa_family == AF_INET6) flags |= MHD_USE_IPv6;
    if (tls) flags |= MHD_USE_TLS;
    h->daemon = MHD_start_daemon(
        flags, (uint16_t)address_port(c->addr), NULL, NULL, on_request, h,
        MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, h, /* first, so that every message goes there */
        MHD_OPTION_SOCK_ADDR, c->addr,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned)c->max_connections,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)c->idle_timeout_s,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)32768,
        MHD_OPTION_URI_LOG_CALLBACK, on_uri, h,
        MHD_OPTION_NOTIFY_COMPLETED, on_completed, h,
        MHD_OPTION_NOTIFY_CONNECTION, on_connection, h,
        /* the key and certificate only for HTTPS: else the option list ends here */
        tls ? MHD_OPTION_HTTPS_MEM_KEY : MHD_OPTION_END, c->tls_key_pem,
        MHD_OPTION_HTTPS_MEM_CERT, c->tls_cert_pem,
        MHD_OPTION_END);
    if (!h->daemon) {
        serve_http_stop(h);
        char where[INET6_ADDRSTRLEN + 16];
        format_address(c->addr, where, sizeof where);
        return error_set(err, GEOLOC_E_IO, "cannot listen on %s (the port in use, or not an address of this host)%s",
                         where, tls ? ", or the TLS certificate and key were refused" : "");
    }
    if (pthread_create(&h->watchdog, NULL, watchdog_main, h) != 0) {
        serve_http_stop(h);
        return error_set(err, GEOLOC_E_NOMEM, "cannot start the request watchdog thread");
    }
    h->watchdog_started = 1;
    *out = h;
    return GEOLOC_OK;
}

int serve_http_port(const serve_http *h) {
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(h->daemon, MHD_DAEMON_INFO_BIND_PORT);
    return info ? (int)info->port : -1;
}

void serve_http_drain(serve_http *h) { atomic_store(&h->draining, 1); }

int serve_http_wait_idle(serve_http *h, double timeout_s) {
    double until = now_seconds() + timeout_s;
    pthread_mutex_lock(&h->lock);
    while (h->in_flight > 0 && now_seconds() < until) {
        wait_changed(h, 100000000L);
    }
    int left = h->in_flight;
    pthread_mutex_unlock(&h->lock);
    return left > 0 ? -1 : 0;
}

void serve_http_stop(serve_http *h) {
    if (!h) return;
    if (h->daemon) MHD_stop_daemon(h->daemon); /* closes every connection, joins their threads */
    if (h->watchdog_started) {
        pthread_mutex_lock(&h->lock);
        h->stopping = 1;
        pthread_cond_broadcast(&h->changed);
        pthread_mutex_unlock(&h->lock);
        pthread_join(h->watchdog, NULL);
    }
    pthread_cond_destroy(&h->changed);
    pthread_mutex_destroy(&h->lock);
    free(h);
}
