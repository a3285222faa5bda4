/* The server's engine (src/server/engine.c, locate.c) on a tiny model built
 * in memory (tiny_model.h): its answers equal geoloc_predict_photos' JSON for the same photo and
 * options; concurrent requests share batches larger than one while a lone
 * request runs at batch 1; the error statuses (400, 413, 415, 422, 503); a
 * multipart request with a bad part; EXIF echoed only when asked; drain;
 * the query string. */
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "geoloc/predict.h"
#include "image_fixtures.h"
#include "server/engine.h"
#include "test_util.h"
#include "tiny_model.h"

static geoloc_model *model;

/* A JPEG of w x h pixels, different for each seed. */
static fx_buf make_jpeg(int w, int h, int seed) {
    uint8_t *rgb = malloc((size_t)w * h * 3);
    fx_pattern(rgb, w, h);
    for (size_t k = 0; k < (size_t)w * h * 3; k++) rgb[k] = (uint8_t)(rgb[k] + seed * 37 * (k % 3 + 1));
    fx_buf b = {0};
    CHECK(fx_jpeg(rgb, w, h, NULL, &b) == 0, "jpeg");
    free(rgb);
    return b;
}

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static serve_engine_options options(int batch, int wait_ms, int queue, int max_files) {
    return (serve_engine_options){batch, wait_ms, queue, max_files, 1000000, 0, NULL, 0, GEOLOC_PRECISION_F32};
}

static serve_engine *engine(serve_engine_options o) {
    serve_engine *e = NULL;
    geoloc_error err = {0};
    CHECK(serve_engine_create(model, &o, NULL, &e, &err) == GEOLOC_OK, "engine: %s", err.message);
    if (!e) exit(1);
    return e;
}

static serve_locate_query query(const char *text) {
    serve_locate_query def = {5, GEOLOC_CROPS_THREE, -1, 0, 0}, q;
    char why[256];
    CHECK(serve_parse_locate_query(&def, model, text, &q, why, sizeof why) == 0, "%s: %s", text, why);
    return q;
}

static serve_reply locate(serve_engine *e, const char *type, const char *q, const void *body, size_t size) {
    serve_locate_query lq = query(q);
    return serve_engine_locate(e, type, &lq, body, size);
}

/* What `geoloc predict --format json` writes for the bytes (one line). */
typedef struct expected {
    const geoloc_model *m;
    FILE *out;
    geoloc_json w;
} expected;

static int write_answer(void *ctx, const geoloc_photo_answer *a) {
    expected *x = ctx;
    geoloc_answer_write_json(&x->w, x->m, a);
    return 0;
}

static char *predict_json(const void *data, size_t size, const char *q, int batch) {
    serve_locate_query lq = query(q);
    geoloc_predict_options po = geoloc_predict_options_default();
    po.crops = (geoloc_crop_mode)lq.crops;
    po.partition = lq.partition;
    po.top_k = lq.top;
    po.batch = batch;
    po.max_pixels = 1000000;
    geoloc_predictor *p = NULL;
    geoloc_error err = {0};
    CHECK(geoloc_predictor_create(model, &po, &p, &err) == GEOLOC_OK, "%s", err.message);
    char *text = NULL;
    size_t len = 0;
    expected x = {model, open_memstream(&text, &len), {0}};
    geoloc_json_init(&x.w, x.out, 0);
    geoloc_photo_input in = {.data = data, .size = size, .name = "photo"};
    CHECK(geoloc_predict_photos(p, &in, 1, lq.distribution, write_answer, &x, NULL, &err) == GEOLOC_OK, "%s",
          err.message);
    geoloc_json_finish(&x.w, &err);
    fclose(x.out);
    geoloc_predictor_free(p);
    return text;
}

static json_t *parse_json(const serve_reply *r) {
    json_error_t je;
    json_t *j = r->body ? json_loadb(r->body, r->size, 0, &je) : NULL;
    CHECK(j != NULL, "reply (status %d) is not JSON: %.*s", r->status, (int)r->size, r->body ? r->body : "");
    return j;
}

/* A reply of status with {"error": "...<needle>..."}. */
static void expect_error(serve_reply r, int status, const char *needle, const char *what) {
    CHECK(r.status == status, "%s: status %d, expected %d: %.*s", what, r.status, status, (int)r.size, r.body);
    json_t *j = parse_json(&r);
    const char *msg = json_string_value(json_object_get(j, "error"));
    CHECK(msg && strstr(msg, needle), "%s: error '%s' lacks '%s'", what, msg ? msg : "(none)", needle);
    json_decref(j);
    serve_reply_free(&r);
}

/* ---- answers ------------------------------------------------------------------ */

static void test_same_as_predict(void) {
    serve_engine *e = engine(options(4, 5, 16, 4));
    fx_buf jpg = make_jpeg(120, 90, 1);
    const char *queries[] = {"", "crops=center&partition=middle&top=2&distribution=1", "crops=five&partition=0",
                             "top=64&partition=hierarchical&distribution=1"};
    for (size_t k = 0; k < sizeof queries / sizeof *queries; k++) {
        serve_engine_stats before = serve_engine_stats_get(e);
        serve_reply r = locate(e, "image/jpeg", queries[k], jpg.data, jpg.size);
        serve_engine_stats after = serve_engine_stats_get(e);
        char *want = predict_json(jpg.data, jpg.size, queries[k], 1);
        CHECK(r.status == 200 && r.body && want && !strcmp(r.body, want), "'%s': engine\n%s\npredict\n%s", queries[k], r.body, want);
        CHECK(after.batches == before.batches + 1 && after.single == before.single + 1, "a lone photo runs at batch 1");
        serve_reply_free(&r);
        free(want);
    }
    fx_free(&jpg);
    serve_engine_free(e);
}

typedef struct client {
    serve_engine *e;
    fx_buf photo;
    serve_reply reply;
} client;

static void *client_run(void *arg) {
    client *c = arg;
    serve_locate_query q = {5, GEOLOC_CROPS_THREE, -1, 0, 0};
    c->reply = serve_engine_locate(c->e, "application/octet-stream", &q, c->photo.data, c->photo.size);
    return NULL;
}

/* 8 concurrent clients: each gets its own photo's answer, in batches over 1. */
static void test_concurrent(void) {
    enum { N = 8 };
    serve_engine *e = engine(options(4, 300, 64, 4));
    client c[N];
    pthread_t t[N];
    for (int i = 0; i < N; i++) {
        c[i] = (client){e, make_jpeg(100 + 8 * i, 80, 10 + i), {0}};
        pthread_create(&t[i], NULL, client_run, &c[i]);
    }
    for (int i = 0; i < N; i++) pthread_join(t[i], NULL);
    serve_engine_stats st = serve_engine_stats_get(e);
    CHECK(st.photos == N && st.largest > 1 && st.largest <= 4 && st.batches < N,
          "%llu photos in %llu batches, largest %d", (unsigned long long)st.photos, (unsigned long long)st.batches,
          st.largest);
    for (int i = 0; i < N; i++) {
        char *want = predict_json(c[i].photo.data, c[i].photo.size, "", 4);
        CHECK(c[i].reply.status == 200 && c[i].reply.body && want && !strcmp(c[i].reply.body, want), "client %d:\n%s\nexpected\n%s", i,
              c[i].reply.body, want);
        free(want);
        serve_reply_free(&c[i].reply);
        fx_free(&c[i].photo);
    }
    serve_engine_free(e);
}

/* ---- refusals ----------------------------------------------------------------- */

static uint32_t crc32_png(const uint8_t *p, size_t n) {
    uint32_t c = 0xffffffffu;
    for (size_t i = 0; i < n; i++) {
        c ^= p[i];
        for (int k = 0; k < 8; k++) c = c & 1 ? (c >> 1) ^ 0xedb88320u : c >> 1;
    }
    return ~c;
}

/* A small PNG whose IHDR claims w x h (CRC fixed, so only the size is wrong). */
static fx_buf png_claiming(uint32_t w, uint32_t h) {
    uint8_t rows[8 * 8 * 3] = {0};
    fx_png_opts po = {.color_type = 2, .bit_depth = 8};
    fx_buf b = {0};
    CHECK(fx_png(rows, 8, 8, &po, &b) == 0, "png");
    uint8_t *ihdr = b.data + 12; /* "IHDR" then 13 bytes of data, then the CRC */
    for (int k = 0; k < 4; k++) {
        ihdr[4 + k] = (uint8_t)(w >> (24 - 8 * k));
        ihdr[8 + k] = (uint8_t)(h >> (24 - 8 * k));
    }
    uint32_t crc = crc32_png(ihdr, 17);
    for (int k = 0; k < 4; k++) ihdr[17 + k] = (uint8_t)(crc >> (24 - 8 * k));
    return b;
}

/* A multipart body of the given files (NULL data: an empty part). */
static fx_buf multipart(const fx_buf *files, int n) {
    fx_buf b = {0};
    char head[256];
    for (int i = 0; i < n; i++) {
        int len = snprintf(head, sizeof head,
                           "--XyZ\r\nContent-Disposition: form-data; name=\"photo\"; filename=\"p%d.jpg\"\r\n"
                           "Content-Type: image/jpeg\r\n\r\n", i);
        fx_append(&b, head, (size_t)len);
        fx_append(&b, files[i].data, files[i].size);
        fx_append(&b, "\r\n", 2);
    }
    fx_append(&b, "--XyZ--\r\n", 9);
    return b;
}

static const char *MP = "multipart/form-data; boundary=XyZ";

static void test_refusals(void) {
    serve_engine *e = engine(options(4, 5, 3, 2));
    fx_buf jpg = make_jpeg(96, 72, 2);
    expect_error(locate(e, "image/jpeg", "", "", 0), 400, "empty body", "empty");
    expect_error(locate(e, "text/plain", "", "hello, world", 12), 415, "not a JPEG", "text");
    expect_error(locate(e, "image/jpeg", "", jpg.data, 200), 400, "photo", "truncated JPEG");
    fx_buf bomb = png_claiming(20000, 20000);
    expect_error(locate(e, "image/png", "", bomb.data, bomb.size), 422, "", "PNG bomb");
    fx_buf three[3] = {jpg, jpg, jpg};
    fx_buf body = multipart(three, 3);
    expect_error(locate(e, MP, "", body.data, body.size), 413, "3 files", "three files, two allowed");
    fx_free(&body);
    expect_error(locate(e, "multipart/form-data", "", "x", 1), 400, "boundary", "no boundary");
    expect_error(locate(e, MP, "", "--XyZ\r\n\r\nabc", 12), 400, "closing", "broken multipart");
    /* one good file and one that is not a photo: both answered, in order */
    fx_buf mixed[2] = {jpg, {(uint8_t *)"not a photo", 11, 0}};
    body = multipart(mixed, 2);
    serve_reply r = locate(e, MP, "", body.data, body.size);
    json_t *j = parse_json(&r);
    CHECK(r.status == 200 && json_is_array(j) && json_array_size(j) == 2, "mixed: %d %.*s", r.status, (int)r.size,
          r.body);
    CHECK(json_is_string(json_object_get(json_array_get(j, 0), "cell")) &&
              !strcmp(json_string_value(json_object_get(json_array_get(j, 0), "file")), "p0.jpg"),
          "first part answered");
    CHECK(json_is_string(json_object_get(json_array_get(j, 1), "error")) &&
              !json_object_get(json_array_get(j, 1), "cell"),
          "second part: its error");
    json_decref(j);
    serve_reply_free(&r);
    fx_free(&body);
    body = multipart(mixed + 1, 1);
    expect_error(locate(e, MP, "", body.data, body.size), 400, "no file could be decoded", "no good part");
    fx_free(&body);
    fx_free(&bomb);
    fx_free(&jpg);
    serve_engine_free(e);
}

/* Queue full: a request over the free places is refused whole, nothing queued. */
static void test_queue_full(void) {
    serve_engine *e = engine(options(4, 5, 1, 4));
    fx_buf jpg = make_jpeg(96, 72, 3);
    fx_buf two[2] = {jpg, jpg};
    fx_buf body = multipart(two, 2);
    expect_error(locate(e, MP, "", body.data, body.size), 503, "queue", "two photos, a queue of one");
    serve_engine_stats st = serve_engine_stats_get(e);
    CHECK(st.queued == 0 && st.photos == 0, "nothing half-queued: %zu queued, %llu run", st.queued,
          (unsigned long long)st.photos);
    serve_reply r = locate(e, "image/jpeg", "", jpg.data, jpg.size);
    CHECK(r.status == 200, "then one photo fits: %d", r.status);
    serve_reply_free(&r);
    fx_free(&body);
    serve_engine_free(e);
    /* a batcher waiting for more photos holds the queue: a long batch wait, two places */
    e = engine(options(8, 5000, 2, 4));
    client c = {e, jpg, {0}};
    pthread_t t;
    pthread_create(&t, NULL, client_run, &c);
    for (int k = 0; k < 5000 && serve_engine_stats_get(e).queued < 1; k++) usleep(1000);
    body = multipart(two, 2);
    expect_error(locate(e, MP, "", body.data, body.size), 503, "queue", "two photos, one place left");
    /* drain: the queued photo is answered at once, new requests get 503 */
    double t0 = now_s();
    serve_engine_drain(e);
    expect_error(locate(e, "image/jpeg", "", jpg.data, jpg.size), 503, "shutting down", "after drain");
    pthread_join(t, NULL);
    CHECK(c.reply.status == 200, "the photo queued before drain answered: %d", c.reply.status);
    CHECK(now_s() - t0 < 4.0, "drain does not wait out the batch wait");
    serve_reply_free(&c.reply);
    fx_free(&body);
    fx_free(&jpg);
    serve_engine_free(e);
}

/* ---- EXIF ----------------------------------------------------------------------- */

static void test_exif(void) {
    serve_engine *e = engine(options(4, 5, 8, 4));
    fx_buf jpg = make_jpeg(96, 72, 4), tiff = {0}, with = {0};
    fx_exif ex = {.gps = 1, .lat_n = 3, .lng_n = 3, .lat = {{48, 1}, {51, 1}, {0, 1}}, .lng = {{2, 1}, {21, 1}, {0, 1}},
                  .lat_ref = 'N', .lng_ref = 'E', .alt_ref = -1};
    CHECK(fx_exif_tiff(&ex, &tiff) == 0 && fx_jpeg_with_exif(jpg.data, jpg.size, tiff.data, tiff.size, &with) == 0,
          "exif jpeg");
    serve_reply r = locate(e, "image/jpeg", "exif=1", with.data, with.size);
    json_t *j = parse_json(&r), *gps = json_object_get(j, "exif");
    CHECK(r.status == 200 && json_is_object(gps), "exif=1: %.*s", (int)r.size, r.body);
    CHECK(json_real_value(json_object_get(gps, "lat")) > 48.84 && json_real_value(json_object_get(gps, "lat")) < 48.86 &&
              json_real_value(json_object_get(gps, "lon")) > 2.34 && json_real_value(json_object_get(gps, "lon")) < 2.36,
          "the photo's GPS echoed");
    json_decref(j);
    serve_reply_free(&r);
    r = locate(e, "image/jpeg", "", with.data, with.size);
    j = parse_json(&r);
    CHECK(r.status == 200 && json_is_null(json_object_get(j, "exif")) && !strstr(r.body, "48.85"),
          "without exif=1 the position is not echoed: %.*s", (int)r.size, r.body);
    json_decref(j);
    serve_reply_free(&r);
    fx_free(&jpg);
    fx_free(&tiff);
    fx_free(&with);
    serve_engine_free(e);
}

/* ---- the query string --------------------------------------------------------- */

static void expect_query_refused(const char *text, const char *needle) {
    serve_locate_query def = {5, GEOLOC_CROPS_THREE, -1, 0, 0}, q;
    char why[256] = "";
    CHECK(serve_parse_locate_query(&def, model, text, &q, why, sizeof why) == -1 && strstr(why, needle),
          "'%s': refused with '%s', expected '%s'", text, why, needle);
}

static void test_query(void) {
    serve_locate_query q = query("top=64&crops=five&partition=fine&distribution=1&exif=1");
    CHECK(q.top == 64 && q.crops == GEOLOC_CROPS_FIVE && q.partition == 2 && q.distribution && q.exif, "all set");
    q = query("partition=%6Didd%6ce&crops=%63enter&album=0&&");
    CHECK(q.partition == 1 && q.crops == GEOLOC_CROPS_CENTER && q.top == 5 && !q.exif, "URL-decoded, defaults kept");
    q = query("partition=1&partition=hierarchical");
    CHECK(q.partition == -1, "the last value wins");
    CHECK(query(NULL).top == 5 && query("").crops == GEOLOC_CROPS_THREE, "no query: the defaults");
    expect_query_refused("top=0", "top=0");
    expect_query_refused("top=65", "1 to 64");
    expect_query_refused("top=3x", "top=3x");
    expect_query_refused("crops=six", "three, five or center");
    expect_query_refused("partition=finest", "partition=finest");
    expect_query_refused("partition=3", "partition=3");
    expect_query_refused("distribution=yes", "0 or 1");
    expect_query_refused("exif=2", "0 or 1");
    expect_query_refused("album=1", "album=1: albums are not available in this version");
    expect_query_refused("colour=red", "unknown query parameter 'colour'");
    expect_query_refused("top", "key=value");
    expect_query_refused("top=%zz", "key=value");
}

int main(void) {
    model = tiny_model_create();
    test_query();
    test_same_as_predict();
    test_concurrent();
    test_refusals();
    test_queue_full();
    test_exif();
    geoloc_model_free(model);
    TEST_END();
}
