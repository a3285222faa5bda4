/* libFuzzer target: POST /v1/locate (serve_engine_locate) on a tiny model
 * (tests/tiny_model.h). Input: byte 0 picks the Content-Type (a multipart
 * boundary "fz", a photo type, multipart without a boundary, text), byte 1
 * the query (crops, partition, top, distribution, exif); the rest is the
 * body. Every reply has one of the documented statuses and a valid JSON
 * body: an answer object (an array of them for multipart) or {"error"}. */
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"
#include "server/engine.h"
#include "tiny_model.h"

static serve_engine *engine;
static geoloc_model *model;

static void start(void) {
    model = tiny_model_create();
    serve_engine_options o = {.batch = 2, .batch_wait_ms = 0, .queue = 64, .max_files = 4, .max_pixels = 1 << 20};
    geoloc_error err = {0};
    REQUIRE(serve_engine_create(model, &o, NULL, &engine, &err) == GEOLOC_OK);
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size) {
    static const char *const types[4] = {"multipart/form-data; boundary=fz", "image/jpeg",
                                         "multipart/form-data", "text/plain"};
    static const char *const queries[8] = {"", "crops=center", "crops=five&partition=0", "top=1&distribution=1",
                                           "exif=1&partition=middle", "top=64&partition=fine", "crops=center&exif=1",
                                           "distribution=1&partition=hierarchical"};
    if (!engine) start();
    if (size < 2) return 0;
    serve_locate_query def = {5, GEOLOC_CROPS_THREE, -1, 0, 0}, q;
    char why[256];
    REQUIRE(serve_parse_locate_query(&def, model, queries[data[1] % 8], &q, why, sizeof why) == 0);
    uint8_t *body = malloc(size - 2 ? size - 2 : 1); /* exactly the body: reads past it are caught */
    if (!body) return 0;
    memcpy(body, data + 2, size - 2);
    int multipart = data[0] % 4 == 0;
    serve_reply r = serve_engine_locate(engine, types[data[0] % 4], &q, body, size - 2);
    REQUIRE(r.status == 200 || r.status == 400 || r.status == 413 || r.status == 415 || r.status == 422);
    REQUIRE(r.body && r.size == strlen(r.body));
    json_error_t je;
    json_t *j = json_loadb(r.body, r.size, 0, &je);
    REQUIRE(j);
    if (r.status != 200) REQUIRE(json_is_string(json_object_get(j, "error")));
    else if (multipart) REQUIRE(json_is_array(j) && json_array_size(j) >= 1 && json_array_size(j) <= 4);
    else REQUIRE(json_is_object(j) && json_is_string(json_object_get(j, "cell")));
    json_decref(j);
    serve_reply_free(&r);
    free(body);
    return 0;
}
