/* The server's engine: one model in memory, a bounded queue of decoded
 * photos, and one batching thread that gathers concurrent requests' photos
 * into network batches (up to `batch` photos, or what arrived within
 * `batch_wait_ms`; a lone photo runs at batch 1), then answers each request
 * with the answer JSON of geoloc_answer_write_json. Internal to the library. */
#ifndef GEOLOC_SERVER_ENGINE_H
#define GEOLOC_SERVER_ENGINE_H

#include <stddef.h>
#include <stdint.h>

#include "geoloc/model.h"
#include "geoloc/place.h"
#include "server/metrics.h"

typedef struct serve_engine serve_engine;

/* Engine settings (from geoloc_serve_options). */
typedef struct serve_engine_options {
    int batch, batch_wait_ms, queue, max_files;
    uint64_t max_pixels;
    int threads;  /* OpenMP threads of the network (0: OMP_NUM_THREADS, else all cores) */
    const geoloc_place_db *places; /* names the answers' places (NULL: none) */
    uint32_t min_population;       /* the city named: nearest of at least this many inhabitants */
    geoloc_precision precision;    /* the network's arithmetic */
} serve_engine_options;

/* The options of one /v1/locate request, from its query string. */
typedef struct serve_locate_query {
    int top;            /* 1..GEOLOC_MODEL_MAX_TOP (default 5) */
    int crops;          /* geoloc_crop_mode (default three) */
    int partition;      /* -1 hierarchical (default) or a partition index */
    int distribution;   /* include the distribution */
    int exif;           /* echo the photo's EXIF metadata (GPS, times); off by default */
} serve_locate_query;

/* An HTTP answer: status code and a malloc'd body (JSON unless said). */
typedef struct serve_reply {
    int status;
    char *body;
    size_t size;
    const char *content_type;  /* static string */
} serve_reply;

/* Parses a query string ("top=3&crops=center&partition=0&distribution=1&exif=1";
 * unknown keys refused); 0, or -1 with a message in why. */
int serve_parse_locate_query(const serve_locate_query *defaults, const geoloc_model *m,
                             const char *query, serve_locate_query *out, char *why, size_t why_size);

/* Starts the engine for a loaded model (predictors for batch 1 and `batch`,
 * the batching thread); metrics may be NULL. */
geoloc_status serve_engine_create(const geoloc_model *m, const serve_engine_options *o,
                                  serve_metrics *metrics, serve_engine **out, geoloc_error *err);

/* Answers POST /v1/locate: body is one photo (JPEG, PNG, WebP, HEIF) or
 * multipart/form-data (content_type's boundary) with 1..max_files files.
 * Blocks until every photo is answered. Statuses: 200 (a JSON array of
 * answers when the request is multipart, else one answer object), 400 (an
 * empty or undecodable body, a broken multipart), 413 (too many files), 415
 * (not a photo type), 422 (a photo over max_pixels), 503 (queue full, or
 * the engine stopping). Errors are {"error": "..."} naming the reason, never
 * a path. */
serve_reply serve_engine_locate(serve_engine *e, const char *content_type,
                                const serve_locate_query *q, const uint8_t *body, size_t size);

/* What the engine has done so far: network batches run, photos in them, the
 * largest batch, batches of one photo, and photos waiting now. */
typedef struct serve_engine_stats {
    uint64_t batches, photos, single;
    int largest;
    size_t queued;
} serve_engine_stats;

/* A snapshot of the engine's counts (for tests and logs). */
serve_engine_stats serve_engine_stats_get(serve_engine *e);

/* New requests get 503 from now on; photos already queued are answered. */
void serve_engine_drain(serve_engine *e);

/* Stops the batching thread (after draining) and frees the engine. */
void serve_engine_free(serve_engine *e);

/* A reply {"error": msg} with a status. */
serve_reply serve_reply_error(int status, const char *fmt, ...);

/* Frees a reply's body. */
void serve_reply_free(serve_reply *r);

#endif
