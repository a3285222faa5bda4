/* geoloc_serve_run: checks the options, loads the model, starts the metrics,
 * rate limiter, engine and HTTP layer, waits for SIGTERM or SIGINT, then
 * stops gracefully: new requests get 503, requests in flight (already
 * received or being received) are answered, then the engine is drained and
 * everything is freed.
 *
 * Signals: handlers that only write a byte to a pipe (async-signal-safe),
 * whichever thread receives the signal; the calling thread waits on the pipe.
 * The previous handlers are restored after the first signal (a second one
 * then acts as before: by default it ends the process at once) and on return. One server per process at a
 * time (the pipe is the process's). SIGPIPE is ignored while serving (a client
 * leaving mid-answer must not end the server). */
#include "geoloc/serve.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <omp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/error.h"
#include "geoloc/io.h"
#include "geoloc/model.h"
#include "geoloc/place.h"
#include "io/regular_file.h"
#include "server/engine.h"
#include "server/http.h"
#include "server/metrics.h"
#include "server/rate_limit.h"
#include "server/static_files.h"

#define TOKEN_FILE_MAX 4096     /* bytes read of a token file */
#define PEM_FILE_MAX (1 << 20)  /* a TLS certificate or key file */
#define RATE_CLIENTS 4096       /* client addresses the rate limiter remembers */

geoloc_serve_options geoloc_serve_options_default(void) {
    return (geoloc_serve_options){
        .bind = "127.0.0.1", .port = 8080, .threads = 0, .max_connections = 64,
        .max_body = 20u << 20, .max_files = 64, .queue = 256, .batch = 8, .batch_wait_ms = 5,
        .max_pixels = 40000000u, .idle_timeout_s = 15, .request_timeout_s = 60,
        .rate_per_s = 0, .rate_burst = 20, .min_population = 15000};
}

/* ---- options ----------------------------------------------------------------------- */

static int is_loopback(const struct sockaddr *a) {
    if (a->sa_family == AF_INET)
        return (ntohl(((const struct sockaddr_in *)a)->sin_addr.s_addr) >> 24) == 127;
    const struct in6_addr *v6 = &((const struct sockaddr_in6 *)a)->sin6_addr;
    if (IN6_IS_ADDR_LOOPBACK(v6)) return 1;
    return IN6_IS_ADDR_V4MAPPED(v6) && v6->s6_addr[12] == 127;
}

/* The address to listen on (bind, port) into *addr; E_ARG when it is none. */
static geoloc_status resolve_bind(const geoloc_serve_options *o, struct sockaddr_storage *addr, geoloc_error *err) {
    /* numeric addresses only (no name lookup), and localhost */
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICHOST};
    struct addrinfo *res = NULL;
    int rc = getaddrinfo(strcmp(o->bind, "localhost") ? o->bind : "127.0.0.1", NULL, &hints, &res);
    if (rc != 0 || !res)
        return error_set(err, GEOLOC_E_ARG, "--bind %s: not an address (an IPv4 or IPv6 address, or localhost)",
                         o->bind);
    memcpy(addr, res->ai_addr, res->ai_addrlen);
    freeaddrinfo(res);
    if (addr->ss_family == AF_INET) ((struct sockaddr_in *)addr)->sin_port = htons((uint16_t)o->port);
    else ((struct sockaddr_in6 *)addr)->sin6_port = htons((uint16_t)o->port);
    return GEOLOC_OK;
}

/* Checks the options' ranges and combinations. */
static geoloc_status check_options(const geoloc_serve_options *o, geoloc_error *err) {
    struct {
        const char *name;
        double value, min, max;
    } ranges[] = {
        {"port", o->port, 0, 65535},
        {"threads", o->threads, 0, 1024},
        {"max_connections", o->max_connections, 1, 65536},
        {"max_body", (double)o->max_body, 1, 4.0 * (1u << 30)},
        {"max_files", o->max_files, 1, 1024},
        {"queue", o->queue, 1, 1 << 20},
        {"batch", o->batch, 1, 256},
        {"batch_wait_ms", o->batch_wait_ms, 0, 10000},
        {"precision", o->precision, GEOLOC_PRECISION_F32, GEOLOC_PRECISION_INT8},
        {"max_pixels", (double)o->max_pixels, 1, 1e12},
        {"idle_timeout_s", o->idle_timeout_s, 1, 86400},
        {"request_timeout_s", o->request_timeout_s, 1, 86400},
        {"rate_per_s", o->rate_per_s, 0, 1e9},
        {"rate_burst", o->rate_burst, 1, 1e9},
    };
    for (size_t k = 0; k < sizeof ranges / sizeof ranges[0]; k++)
        if (!(ranges[k].value >= ranges[k].min && ranges[k].value <= ranges[k].max))
            return error_set(err, GEOLOC_E_ARG, "%s must be from %g to %g, not %g", ranges[k].name, ranges[k].min,
                             ranges[k].max, ranges[k].value);
    if (!o->tls_cert != !o->tls_key)
        return error_set(err, GEOLOC_E_ARG, "HTTPS needs both a certificate and a key (--tls-cert and --tls-key)");
    if (!o->bind || !o->bind[0]) return error_set(err, GEOLOC_E_ARG, "no address to bind to");
    return GEOLOC_OK;
}

/* Reads a whole small regular file (never blocking on a FIFO) as a
 * NUL-terminated string (malloc'd into *out); messages name the option. */
static geoloc_status read_small_file(const char *what, const char *path, size_t max, char **out, geoloc_error *err) {
    uint8_t *data = NULL;
    size_t size = 0;
    *out = NULL;
    geoloc_status s = regular_file_read(path, max, "its size limit", &data, &size, err);
    if (s != GEOLOC_OK) {
        char why[sizeof err->message];
        snprintf(why, sizeof why, "%s", err->message);
        return error_set(err, s, "%s %s", what, why);
    }
    data[size] = 0; /* the spare byte */
    *out = (char *)data;
    return GEOLOC_OK;
}

/* The token: the first line of the file, without its line end; not empty. */
static geoloc_status read_token(const char *path, char **out, geoloc_error *err) {
    geoloc_status s = read_small_file("--token-file", path, TOKEN_FILE_MAX, out, err);
    if (s != GEOLOC_OK) return s;
    (*out)[strcspn(*out, "\r\n")] = 0;
    if (!(*out)[0] || strchr(*out, ' ') || strchr(*out, '\t')) {
        free(*out);
        *out = NULL;
        return error_set(err, GEOLOC_E_ARG, "--token-file %s: the first line must be the token (no spaces)", path);
    }
    return GEOLOC_OK;
}

/* ---- signals ----------------------------------------------------------------------- */

static int signal_pipe[2] = {-1, -1};

static void on_signal(int sig) {
    int saved = errno;
    char c = (char)sig;
    ssize_t unused = write(signal_pipe[1], &c, 1);
    (void)unused;
    errno = saved;
}

typedef struct signals_saved {
    struct sigaction term, intr, pipe;
} signals_saved;

static geoloc_status signals_catch(signals_saved *saved, geoloc_error *err) {
    if (pipe(signal_pipe) != 0) return error_set(err, GEOLOC_E_IO, "pipe: %s", strerror(errno));
    for (int k = 0; k < 2; k++) {
        fcntl(signal_pipe[k], F_SETFD, FD_CLOEXEC);
        fcntl(signal_pipe[k], F_SETFL, O_NONBLOCK);
    }
    struct sigaction sa = {.sa_handler = on_signal};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, &saved->term);
    sigaction(SIGINT, &sa, &saved->intr);
    struct sigaction ignore = {.sa_handler = SIG_IGN};
    sigemptyset(&ignore.sa_mask);
    sigaction(SIGPIPE, &ignore, &saved->pipe);
    return GEOLOC_OK;
}

static void signals_restore(const signals_saved *saved) {
    sigaction(SIGTERM, &saved->term, NULL);
    sigaction(SIGINT, &saved->intr, NULL);
    sigaction(SIGPIPE, &saved->pipe, NULL);
    close(signal_pipe[0]);
    close(signal_pipe[1]);
    signal_pipe[0] = signal_pipe[1] = -1;
}

/* Blocks until SIGTERM or SIGINT has arrived; returns which. */
static int wait_for_signal(void) {
    struct pollfd p = {.fd = signal_pipe[0], .events = POLLIN};
    for (;;) {
        if (poll(&p, 1, -1) < 0 && errno != EINTR) return 0;
        char c;
        if (read(signal_pipe[0], &c, 1) == 1) return c;
    }
}

/* ---- the run ----------------------------------------------------------------------- */

/* What a run holds, freed by serve_free. */
typedef struct server {
    char *token, *cert, *key;
    geoloc_model *model;
    geoloc_place_db *places;
    serve_metrics *metrics;
    serve_rate_limit *rate;
    int static_loaded;
    serve_engine *engine;
    serve_http *http;
} server;

static void serve_free(server *s) {
    serve_http_stop(s->http);
    if (s->engine) serve_engine_free(s->engine);
    if (s->static_loaded) static_files_free();
    serve_rate_limit_free(s->rate);
    serve_metrics_free(s->metrics);
    geoloc_model_free(s->model);
    geoloc_place_close(s->places);
    free(s->token);
    free(s->cert);
    free(s->key);
}

static geoloc_status write_ready_file(const char *path, int port, geoloc_error *err) {
    geoloc_atomic_file f;
    geoloc_status s = geoloc_atomic_file_open(&f, path, err);
    if (s != GEOLOC_OK) return s;
    fprintf(f.fp, "%d\n", port);
    return geoloc_atomic_file_commit(&f, err);
}

/* Loads and starts everything up to listening. */
static geoloc_status serve_start(const geoloc_serve_options *o, const struct sockaddr *addr, server *s,
                                 geoloc_error *err) {
    geoloc_status st;
    if (o->token_file && (st = read_token(o->token_file, &s->token, err)) != GEOLOC_OK) return st;
    if (o->tls_cert && ((st = read_small_file("--tls-cert", o->tls_cert, PEM_FILE_MAX, &s->cert, err)) != GEOLOC_OK ||
                        (st = read_small_file("--tls-key", o->tls_key, PEM_FILE_MAX, &s->key, err)) != GEOLOC_OK))
        return st;
    char path[4096];
    geoloc_error resolve_err;
    if (geoloc_model_resolve(o->model, path, sizeof path, &resolve_err) != 0) {
        if (err) *err = resolve_err;
        return resolve_err.status;
    }
    if ((st = geoloc_model_load(path, &s->model, err)) != GEOLOC_OK) return st;
    if (s->model->notice[0]) fprintf(stderr, "geoloc serve: notice: %s\n", s->model->notice);
    if (o->precision == GEOLOC_PRECISION_INT8 && !geoloc_net_has_int8_ranges(s->model->net))
        return error_set(err, GEOLOC_E_ARG, "%s: precision int8: the model has no int8 calibration; geoloc model "
                         "quantize makes a model that has it", path);
    if ((st = geoloc_place_open_optional(o->places, &s->places, err)) != GEOLOC_OK) return st;
    if (!s->places)
        fprintf(stderr, "geoloc serve: notice: no place names: %s is not in the data folders "
                "(tools/fetch-places.sh fetches it)\n", GEOLOC_PLACE_FILE);
    s->metrics = serve_metrics_create();
    s->rate = o->rate_per_s > 0 ? serve_rate_limit_create(o->rate_per_s, o->rate_burst, RATE_CLIENTS) : NULL;
    if (!s->metrics || (o->rate_per_s > 0 && !s->rate)) return error_set(err, GEOLOC_E_NOMEM, "out of memory");
    if (static_files_load() != 0) return error_set(err, GEOLOC_E_NOMEM, "cannot load the page's files");
    s->static_loaded = 1;
    serve_engine_options eo = {.batch = o->batch, .batch_wait_ms = o->batch_wait_ms, .queue = o->queue,
                               .max_files = o->max_files, .threads = o->threads, .max_pixels = o->max_pixels,
                               .places = s->places, .min_population = o->min_population,
                               .precision = o->precision};
    /* oneDNN plans its primitives for the threads of the thread creating them
     * (here) and the engine's batching thread runs them with its own setting */
    int threads_before = omp_get_max_threads();
    if (o->threads > 0) omp_set_num_threads(o->threads);
    st = serve_engine_create(s->model, &eo, s->metrics, &s->engine, err);
    omp_set_num_threads(threads_before);
    if (st != GEOLOC_OK) return st;
    geoloc_predict_options po = geoloc_predict_options_default();
    serve_http_config hc = {
        .addr = addr, .max_connections = o->max_connections,
        .idle_timeout_s = o->idle_timeout_s, .request_timeout_s = o->request_timeout_s, .max_body = o->max_body,
        .token = s->token, .tls_cert_pem = s->cert, .tls_key_pem = s->key, .model = s->model,
        .precision = o->precision,
        .engine = s->engine, .metrics = s->metrics, .rate = s->rate,
        .locate_defaults = {.top = po.top_k, .crops = (int)po.crops, .partition = -1}};
    return serve_http_start(&hc, &s->http, err);
}

geoloc_status geoloc_serve_run(const geoloc_serve_options *opt, geoloc_error *err) {
    struct sockaddr_storage addr;
    geoloc_status st = check_options(opt, err);
    if (st == GEOLOC_OK) st = resolve_bind(opt, &addr, err);
    if (st != GEOLOC_OK) return st;
    if (!is_loopback((const struct sockaddr *)&addr) && !opt->token_file)
        return error_set(err, GEOLOC_E_ARG,
                         "--bind %s reaches beyond this machine: give a --token-file so that only clients "
                         "with the token are answered (or bind to 127.0.0.1, ::1 or localhost)",
                         opt->bind);
    signals_saved saved;
    if ((st = signals_catch(&saved, err)) != GEOLOC_OK) return st;
    server s = {0};
    st = serve_start(opt, (const struct sockaddr *)&addr, &s, err);
    int port = st == GEOLOC_OK ? serve_http_port(s.http) : 0;
    if (st == GEOLOC_OK && opt->ready_file) st = write_ready_file(opt->ready_file, port, err);
    if (st == GEOLOC_OK) {
        int v6 = strchr(opt->bind, ':') != NULL;
        fprintf(stderr, "geoloc serve: listening on %s://%s%s%s:%d/ (Ctrl-C or SIGTERM stops)\n",
                s.cert ? "https" : "http", v6 ? "[" : "", opt->bind, v6 ? "]" : "", port);
        int sig = wait_for_signal();
        /* a second signal acts as it did before the server (by default: ends the process at once) */
        sigaction(SIGTERM, &saved.term, NULL);
        sigaction(SIGINT, &saved.intr, NULL);
        fprintf(stderr, "geoloc serve: %s: finishing the requests in flight (a second signal stops at once)\n",
                sig == SIGINT ? "SIGINT" : "SIGTERM");
        /* new requests get 503; those already received (an upload in
         * progress included) run to their end, the engine still answering;
         * the watchdog bounds how long that takes */
        serve_http_drain(s.http);
        if (serve_http_wait_idle(s.http, opt->request_timeout_s + 1.0) != 0)
            fprintf(stderr, "geoloc serve: requests still running after the time limit: closed\n");
        serve_engine_drain(s.engine);
        fprintf(stderr, "geoloc serve: stopped\n");
    }
    serve_free(&s);
    signals_restore(&saved);
    return st;
}
