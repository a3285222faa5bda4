/* POST /v1/locate: the request's body becomes photos (one photo, or the
 * files of a multipart/form-data body), each decoded in the request's own
 * thread (so decoding runs in parallel across requests), queued on the
 * engine as one unit, and answered with geoloc_answer_write_json; also the
 * query string's options and the JSON error replies. */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "geoloc/predict.h"
#include "server/engine_internal.h"
#include "server/multipart.h"

/* ---- replies ------------------------------------------------------------------- */

/* A reply holding what a JSON writer wrote to the memory stream mem (closed
 * here: *buf and *size are final then), or a 500. */
static serve_reply json_reply(int status, geoloc_json *w, FILE *mem, char **buf, size_t *size) {
    geoloc_error err = {0};
    geoloc_status s = geoloc_json_finish(w, &err);
    fclose(mem);
    if (s == GEOLOC_OK) return (serve_reply){status, *buf, *size, "application/json"};
    free(*buf);
    return status == 500 ? (serve_reply){500, NULL, 0, "application/json"}
                         : serve_reply_error(500, "the answer could not be written: %s", err.message);
}

serve_reply serve_reply_error(int status, const char *fmt, ...) {
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    char *buf = NULL;
    size_t size = 0;
    FILE *mem = open_memstream(&buf, &size);
    if (!mem) return (serve_reply){status, NULL, 0, "application/json"};
    geoloc_json w;
    geoloc_json_init(&w, mem, 0);
    geoloc_json_object_begin(&w);
    geoloc_json_key(&w, "error");
    geoloc_json_string(&w, msg);
    geoloc_json_object_end(&w);
    return json_reply(status, &w, mem, &buf, &size);
}

void serve_reply_free(serve_reply *r) {
    free(r->body);
    r->body = NULL;
    r->size = 0;
}

/* ---- the query string ---------------------------------------------------------- */

static int hex_digit(int c) {
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* URL-decodes [s, end) ('+' is a space, %XX a byte) into out (truncated to
 * fit); -1 for a bad escape or a NUL byte. */
static int url_decode(const char *s, const char *end, char *out, size_t size) {
    size_t n = 0;
    for (; s < end; s++) {
        int c = (unsigned char)*s;
        if (c == '+') {
            c = ' ';
        } else if (c == '%') {
            if (end - s < 3 || hex_digit(s[1]) < 0 || hex_digit(s[2]) < 0) return -1;
            c = hex_digit(s[1]) * 16 + hex_digit(s[2]);
            s += 2;
        }
        if (c == 0) return -1;
        if (n + 1 < size) out[n++] = (char)c;
    }
    out[n] = 0;
    return 0;
}

/* "0" or "1" into *flag; -1 otherwise. */
static int parse_flag(const char *v, int *flag) {
    if (strcmp(v, "0") != 0 && strcmp(v, "1") != 0) return -1;
    *flag = v[0] == '1';
    return 0;
}

/* Applies key=value to q; 0, or -1 with why. */
static int apply_param(const geoloc_model *m, const char *key, const char *v, serve_locate_query *q, char *why,
                       size_t why_size) {
    if (!strcmp(key, "top")) {
        char *end;
        long t = strtol(v, &end, 10);
        if (end == v || *end || t < 1 || t > GEOLOC_MODEL_MAX_TOP) {
            snprintf(why, why_size, "top=%.40s: a whole number from 1 to %d", v, GEOLOC_MODEL_MAX_TOP);
            return -1;
        }
        q->top = (int)t;
    } else if (!strcmp(key, "crops")) {
        if (!strcmp(v, "three")) q->crops = GEOLOC_CROPS_THREE;
        else if (!strcmp(v, "five")) q->crops = GEOLOC_CROPS_FIVE;
        else if (!strcmp(v, "center")) q->crops = GEOLOC_CROPS_CENTER;
        else {
            snprintf(why, why_size, "crops=%.40s: three, five or center", v);
            return -1;
        }
    } else if (!strcmp(key, "partition")) {
        int f = geoloc_model_find_partition(m, v);
        if (f < -1) {
            snprintf(why, why_size, "partition=%.40s: a partition name or number (0-%zu) of the model, or "
                     "hierarchical", v, m->n_partitions - 1);
            return -1;
        }
        q->partition = f;
    } else if (!strcmp(key, "distribution") || !strcmp(key, "exif")) {
        if (parse_flag(v, !strcmp(key, "exif") ? &q->exif : &q->distribution) != 0) {
            snprintf(why, why_size, "%s=%.40s: 0 or 1", key, v);
            return -1;
        }
    } else if (!strcmp(key, "album")) {
        int album;
        if (parse_flag(v, &album) != 0 || album) {
            snprintf(why, why_size, "album=%.40s: albums are not available in this version", v);
            return -1;
        }
    } else {
        snprintf(why, why_size, "unknown query parameter '%.40s' (top, crops, partition, distribution, exif)", key);
        return -1;
    }
    return 0;
}

int serve_parse_locate_query(const serve_locate_query *defaults, const geoloc_model *m,
                             const char *query, serve_locate_query *out, char *why, size_t why_size) {
    *out = *defaults;
    for (const char *s = query; s && *s;) {
        const char *amp = strchr(s, '&'), *end = amp ? amp : s + strlen(s), *eq = memchr(s, '=', (size_t)(end - s));
        if (end > s) {
            char key[64], value[256];
            if (!eq || url_decode(s, eq, key, sizeof key) != 0 || url_decode(eq + 1, end, value, sizeof value) != 0) {
                snprintf(why, why_size, "query parameter '%.*s': expected key=value with valid %%XX escapes",
                         (int)(end - s < 40 ? end - s : 40), s);
                return -1;
            }
            if (apply_param(m, key, value, out, why, why_size) != 0) return -1;
        }
        s = amp ? amp + 1 : end;
    }
    return 0;
}

/* ---- photos ------------------------------------------------------------------ */

/* One photo of a request: its bytes, what decoding gave, its job. */
typedef struct photo {
    const uint8_t *data;
    size_t size;
    char name[256];
    geoloc_image img;
    geoloc_photo_meta meta;
    int status;            /* 0 decoded, else the HTTP status of its failure (400, 422) */
    char why[512];
    engine_job job;
} photo;

/* Decodes a photo (and reads its EXIF when asked). */
static void decode_photo(const serve_engine *e, const serve_locate_query *q, photo *ph) {
    const serve_engine_options *o = engine_options(e);
    geoloc_decode_options dopt = {.max_pixels = o->max_pixels,
                                  .min_shorter_side = geoloc_predict_min_side(engine_model(e), q->crops)};
    geoloc_error err = {0};
    if (q->exif && geoloc_photo_meta_read(ph->data, ph->size, ph->name, &ph->meta, &err) != GEOLOC_OK)
        memset(&ph->meta, 0, sizeof ph->meta);
    geoloc_status s = ph->size == 0 ? GEOLOC_E_EMPTY : geoloc_image_decode(ph->data, ph->size, ph->name, &dopt,
                                                                            &ph->img, &err);
    if (s == GEOLOC_OK) return;
    ph->status = s == GEOLOC_E_RANGE ? 422 : 400;
    snprintf(ph->why, sizeof ph->why, "%s", s == GEOLOC_E_EMPTY ? "an empty file" : err.message);
}

/* The JSON reply: one answer, or an array of them (multipart). */
static serve_reply answers_reply(const serve_engine *e, const serve_locate_query *q, photo *ph, size_t n,
                                 int as_array) {
    char *buf = NULL;
    size_t size = 0;
    FILE *mem = open_memstream(&buf, &size);
    if (!mem) return serve_reply_error(500, "out of memory");
    geoloc_json w;
    geoloc_json_init(&w, mem, 0);
    if (as_array) geoloc_json_array_begin(&w);
    for (size_t i = 0; i < n; i++) {
        const engine_job *j = &ph[i].job;
        int ok = ph[i].status == 0 && !j->failed;
        const serve_engine_options *o = engine_options(e);
        geoloc_place place;
        geoloc_error err = {0};
        int placed = ok && o->places && geoloc_place_lookup(o->places, j->pred.lat, j->pred.lon, o->min_population,
                                                            &place, &err) == GEOLOC_OK;
        geoloc_photo_answer a = {i, ph[i].name, ok ? &j->pred : NULL, ok ? j->distribution : NULL,
                                 q->exif ? &ph[i].meta : NULL,
                                 ph[i].status ? ph[i].why : j->failed ? j->error : NULL,
                                 ok ? ph[i].img.n_warnings : 0,
                                 (const char(*)[GEOLOC_IMAGE_WARNING_SIZE])ph[i].img.warnings,
                                 placed ? &place : NULL, 0, NULL};
        geoloc_answer_write_json(&w, engine_model(e), &a);
    }
    if (as_array) geoloc_json_array_end(&w);
    return json_reply(200, &w, mem, &buf, &size);
}

/* The photos of a multipart body into *out (n in *n); a reply when refused. */
static int split_multipart(const serve_engine *e, const char *boundary, const uint8_t *body, size_t size,
                           photo **out, size_t *n, serve_reply *refusal) {
    int max_files = engine_options(e)->max_files;
    multipart_part *parts = calloc((size_t)max_files, sizeof *parts);
    char why[256];
    if (!parts) {
        *refusal = serve_reply_error(500, "out of memory");
        return -1;
    }
    if (multipart_parse(body, size, boundary, parts, (size_t)max_files, n, why, sizeof why) != 0) {
        *refusal = serve_reply_error(400, "%s", why);
    } else if (*n > (size_t)max_files) {
        *refusal = serve_reply_error(413, "%zu files in one request: at most %d", *n, max_files);
    } else if (!(*out = calloc(*n, sizeof **out))) {
        *refusal = serve_reply_error(500, "out of memory");
    } else {
        for (size_t i = 0; i < *n; i++) {
            photo *ph = &(*out)[i];
            ph->data = parts[i].data;
            ph->size = parts[i].size;
            snprintf(ph->name, sizeof ph->name, "%s", parts[i].filename[0] ? parts[i].filename
                                                      : parts[i].name[0] ? parts[i].name : "photo");
        }
        free(parts);
        return 0;
    }
    free(parts);
    return -1;
}

/* The whole request once its photos are known: decode, queue, answer. */
static serve_reply locate_photos(serve_engine *e, const serve_locate_query *q, photo *ph, size_t n, int multipart) {
    const geoloc_model *m = engine_model(e);
    size_t decoded = 0, over_limit = 0;
    for (size_t i = 0; i < n; i++) {
        decode_photo(e, q, &ph[i]);
        decoded += ph[i].status == 0;
        over_limit += ph[i].status == 422;
    }
    if (decoded == 0) /* nothing to answer: the reason of the first failure */
        return serve_reply_error(over_limit == n ? 422 : 400, "%s%s", multipart ? "no file could be decoded: " : "",
                                 ph[0].why);
    engine_job **jobs = calloc(decoded, sizeof *jobs);
    size_t classes = m->partitions[q->partition < 0 ? m->n_partitions - 1 : (size_t)q->partition]->n;
    int ok = jobs != NULL;
    for (size_t i = 0, k = 0; ok && i < n; i++) {
        if (ph[i].status) continue;
        ph[i].job = (engine_job){.img = &ph[i].img, .crops = (geoloc_crop_mode)q->crops, .partition = q->partition,
                                 .top = q->top};
        if (q->distribution) ok = (ph[i].job.distribution = malloc(classes * sizeof(float))) != NULL;
        jobs[k++] = &ph[i].job;
    }
    engine_refusal r = ok ? engine_run_jobs(e, jobs, decoded) : ENGINE_ACCEPTED;
    free(jobs);
    if (!ok) return serve_reply_error(500, "out of memory");
    if (r == ENGINE_DRAINING) return serve_reply_error(503, "the server is shutting down");
    if (r == ENGINE_QUEUE_FULL)
        return serve_reply_error(503, "the server is busy (its queue of %d photos is full): try again later",
                                 engine_options(e)->queue);
    if (!multipart && ph[0].job.failed) return serve_reply_error(500, "%s", ph[0].job.error);
    return answers_reply(e, q, ph, n, multipart);
}

/* 1 when a Content-Type names a multipart type. */
static int is_multipart_type(const char *content_type) {
    const char *s = content_type;
    while (s && (*s == ' ' || *s == '\t')) s++;
    return s && !strncasecmp(s, "multipart/", 10);
}

serve_reply serve_engine_locate(serve_engine *e, const char *content_type, const serve_locate_query *q,
                                const uint8_t *body, size_t size) {
    if (engine_draining(e)) return serve_reply_error(503, "the server is shutting down");
    if (q->partition < 0 && engine_hierarchy_refusal(e)[0])
        return serve_reply_error(400, "partition=hierarchical: %s", engine_hierarchy_refusal(e));
    if (!body || size == 0) return serve_reply_error(400, "empty body: send a photo or multipart/form-data files");
    photo *ph = NULL;
    size_t n = 1;
    int multipart = is_multipart_type(content_type);
    serve_reply reply;
    if (multipart) {
        char boundary[71];
        if (multipart_boundary(content_type, boundary, sizeof boundary) != 0)
            return serve_reply_error(400, "a multipart body needs multipart/form-data with a valid boundary");
        if (split_multipart(e, boundary, body, size, &ph, &n, &reply) != 0) return reply;
    } else {
        if (geoloc_image_detect(body, size) == GEOLOC_FORMAT_UNKNOWN)
            return serve_reply_error(415, "the body is not a JPEG, PNG, WebP or HEIF photo, nor multipart/form-data");
        if (!(ph = calloc(1, sizeof *ph))) return serve_reply_error(500, "out of memory");
        *ph = (photo){.data = body, .size = size, .name = "photo"};
    }
    reply = locate_photos(e, q, ph, n, multipart);
    for (size_t i = 0; i < n; i++) {
        geoloc_image_free(&ph[i].img);
        free(ph[i].job.distribution);
    }
    free(ph);
    return reply;
}
