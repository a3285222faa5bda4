/* geoloc serve: the geolocation server (geoloc_serve_run, docs/serve.md). */
#include <stdio.h>

#include "cli/cli_options.h"
#include "cli/cli_photos.h"
#include "cli/commands.h"
#include "geoloc/serve.h"

#define CMD "geoloc serve"

typedef struct args {
    const char *model, *bind, *token_file, *tls_cert, *tls_key, *ready_file, *places;
    long min_population, port, threads, max_connections, max_files, queue, batch, batch_wait, idle_timeout, request_timeout;
    uint64_t max_body, max_pixels;
    double rate, burst;
    int precision;
} args;

static const cli_option OPTIONS[] = {
    CLI_OPTION("model", 'm', CLI_STRING, args, model, "FILE",
               "model file (default: $GEOLOC_MODEL, else the default model)"),
    CLI_OPTION("bind", 0, CLI_STRING, args, bind, "ADDR",
               "address to listen on; beyond 127.0.0.1, ::1 and localhost\n"
               "only with --token-file"),
    CLI_OPTION("port", 'p', CLI_INT, args, port, "N", "TCP port (0: any free port, see --ready-file)",
               .min = 0, .max = 65535),
    CLI_OPTION("token-file", 0, CLI_STRING, args, token_file, "FILE",
               "require \"Authorization: Bearer TOKEN\" on /v1/ and /metrics,\n"
               "TOKEN being the file's first line"),
    CLI_OPTION("tls-cert", 0, CLI_STRING, args, tls_cert, "FILE", "PEM certificate: HTTPS (with --tls-key)"),
    CLI_OPTION("tls-key", 0, CLI_STRING, args, tls_key, "FILE", "PEM private key of --tls-cert"),
    CLI_OPTION("threads", 0, CLI_INT, args, threads, "N",
               "threads of the network (0: OMP_NUM_THREADS, else all cores)", .min = 0, .max = 1024),
    CLI_OPTION("batch", 0, CLI_INT, args, batch, "N", "photos per network call at most (micro-batching)",
               .min = 1, .max = 256),
    CLI_PRECISION_OPTION(args, precision),
    CLI_OPTION("batch-wait", 0, CLI_INT, args, batch_wait, "MS",
               "how long a partial batch waits for more photos", .min = 0, .max = 10000),
    CLI_OPTION("queue", 0, CLI_INT, args, queue, "N", "photos waiting for the network at most (then 503)",
               .min = 1, .max = 1 << 20),
    CLI_OPTION("max-connections", 0, CLI_INT, args, max_connections, "N", "open connections at once",
               .min = 1, .max = 65536),
    CLI_OPTION("max-body", 0, CLI_UINT64, args, max_body, "BYTES", "request body limit (then 413)", .min = 1,
               .max = 4294967296.0),
    CLI_OPTION("max-files", 0, CLI_INT, args, max_files, "N", "photos in one multipart request (then 413)",
               .min = 1, .max = 1024),
    CLI_OPTION("max-pixels", 0, CLI_UINT64, args, max_pixels, "N", "decoded size limit of a photo (then 422)",
               .min = 1, .max = 1e12),
    CLI_OPTION("idle-timeout", 0, CLI_INT, args, idle_timeout, "S", "a connection idle this long is closed",
               .min = 1, .max = 86400),
    CLI_OPTION("request-timeout", 0, CLI_INT, args, request_timeout, "S",
               "a request not complete after this long is cut off", .min = 1, .max = 86400),
    CLI_OPTION("rate", 0, CLI_DOUBLE, args, rate, "R",
               "requests per second per client address on /v1/ and\n"
               "/metrics (0: no limit; then 429)",
               .min = 0, .max = 1e9),
    CLI_OPTION("burst", 0, CLI_DOUBLE, args, burst, "N", "requests a client may make at once under --rate",
               .min = 1, .max = 1e9),
    CLI_OPTION("places", 0, CLI_STRING, args, places, "FILE",
               "the place file naming countries and cities (default:\nplaces.bin in the data folders; "
               "none there: no\nplace names)"),
    CLI_OPTION("min-population", 0, CLI_INT, args, min_population, "N",
               "answers name the nearest city of at least N inhabitants", .min = 0, .max = 4e9),
    CLI_OPTION("ready-file", 0, CLI_STRING, args, ready_file, "FILE",
               "write the port listened on to FILE (atomically) once\n"
               "listening"),
    CLI_END};

static const cli_spec SPEC = {
    CMD, NULL, 0, 0,
    "Serves the model over HTTP until SIGTERM or SIGINT (Ctrl-C): POST /v1/locate\n"
    "(one photo, or multipart/form-data with several), GET /v1/model,\n"
    "/v1/cells/TOKEN, /healthz, /metrics and the map page at /. Concurrent\n"
    "requests' photos share network batches. Photos are never written to disk nor\n"
    "logged; a line per request (method, path, status, time) goes to stderr.\n",
    OPTIONS,
    "API and examples: docs/serve.md. On SIGTERM or SIGINT the requests in flight\n"
    "are answered, new ones get 503, then the server exits 0. Exit status: 0 after\n"
    "a signal, 1 when the model cannot be loaded or the address cannot be bound,\n"
    "2 on a usage error (a --bind beyond loopback without --token-file included).\n"};

int cli_serve(int argc, char **argv) {
    geoloc_serve_options o = geoloc_serve_options_default();
    args a = {.bind = o.bind, .port = o.port, .threads = o.threads, .max_connections = o.max_connections,
              .max_files = o.max_files, .queue = o.queue, .batch = o.batch, .batch_wait = o.batch_wait_ms,
              .idle_timeout = o.idle_timeout_s, .request_timeout = o.request_timeout_s, .max_body = o.max_body,
              .max_pixels = o.max_pixels, .rate = o.rate_per_s, .burst = o.rate_burst,
              .min_population = o.min_population};
    int n;
    int rc = cli_parse(&SPEC, &a, argc, argv, &n);
    if (rc != CLI_RUN) return rc;
    if (!a.tls_cert != !a.tls_key) return cli_usage_error(&SPEC, "--tls-cert and --tls-key go together");
    o.model = a.model;
    o.bind = a.bind;
    o.port = (int)a.port;
    o.threads = (int)a.threads;
    o.max_connections = (int)a.max_connections;
    o.max_body = (size_t)a.max_body;
    o.max_files = (int)a.max_files;
    o.queue = (int)a.queue;
    o.batch = (int)a.batch;
    o.batch_wait_ms = (int)a.batch_wait;
    o.max_pixels = a.max_pixels;
    o.idle_timeout_s = (int)a.idle_timeout;
    o.request_timeout_s = (int)a.request_timeout;
    o.rate_per_s = a.rate;
    o.rate_burst = a.burst;
    o.token_file = a.token_file;
    o.tls_cert = a.tls_cert;
    o.tls_key = a.tls_key;
    o.ready_file = a.ready_file;
    o.places = a.places;
    o.min_population = (uint32_t)a.min_population;
    o.precision = (geoloc_precision)a.precision;
    geoloc_error err;
    geoloc_status s = geoloc_serve_run(&o, &err);
    if (s == GEOLOC_OK) return CLI_EXIT_OK;
    fprintf(stderr, CMD ": %s\n", err.message);
    return s == GEOLOC_E_ARG ? CLI_EXIT_USAGE : CLI_EXIT_FAILURE;
}
