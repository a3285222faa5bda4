/* geoloc: the geolocation server (libmicrohttpd): a REST API over the same
 * prediction and answer JSON as `geoloc predict`, micro-batching of
 * concurrent requests, a map page (docs/serve.md). */
#ifndef GEOLOC_SERVE_H
#define GEOLOC_SERVE_H

#include <stddef.h>
#include <stdint.h>

#include "geoloc/nn.h"
#include "geoloc/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Server settings; start from geoloc_serve_options_default(). */
typedef struct geoloc_serve_options {
    const char *model;        /* model file (NULL: geoloc_model_resolve's default) */
    const char *bind;         /* address to listen on (default "127.0.0.1") */
    int port;                 /* TCP port (default 8080; 0: any free port) */
    int threads;              /* oneDNN/OpenMP threads of the engine (0: all cores) */
    int max_connections;      /* open connections at once (default 64) */
    size_t max_body;          /* request body limit in bytes (default 20 MB) */
    int max_files;            /* photos in one request (default 64) */
    int queue;                /* photos waiting for the network at most (default 256) */
    int batch;                /* photos per network call at most (default 8) */
    int batch_wait_ms;        /* how long a partial batch waits for more photos (default 5) */
    uint64_t max_pixels;      /* decoded-size limit of a photo (default 40 million) */
    int idle_timeout_s;       /* a connection idle this long is closed (default 15) */
    int request_timeout_s;    /* a request not complete after this long is cut off (default 60) */
    double rate_per_s;        /* requests per second per client address (0: no limit) */
    double rate_burst;        /* requests a client may make at once (default 20) */
    const char *token_file;   /* bearer token required when set (first line of the file) */
    const char *tls_cert;     /* PEM certificate and key: HTTPS (both or neither) */
    const char *tls_key;
    const char *ready_file;   /* written (atomically) with the port once listening (tests) */
    const char *places;       /* place file naming the answers' places (NULL: places.bin in the
                                 data folders; none there: answers without places) */
    uint32_t min_population;  /* the city named: nearest of at least this many inhabitants (15000) */
    geoloc_precision precision; /* the network's arithmetic (default f32; int8: a quantised model) */
} geoloc_serve_options;

/* The defaults above. */
geoloc_serve_options geoloc_serve_options_default(void);

/* Loads the model, listens, and serves until SIGTERM or SIGINT (requests in
 * flight are finished, new ones get 503), then returns GEOLOC_OK. Refuses to
 * bind beyond the loopback interface without a token file (GEOLOC_E_ARG). */
geoloc_status geoloc_serve_run(const geoloc_serve_options *opt, geoloc_error *err);

#ifdef __cplusplus
}
#endif
#endif
