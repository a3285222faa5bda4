/* The server's read-only endpoints (see routes.h). */
#include "server/routes.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "geoloc/geojson.h"
#include "geoloc/predict.h"
#include "geoloc/s2.h"

/* Largest distance between a cell's drawn boundary and its true edges. */
#define CELL_MAX_ERROR_KM 0.5

/* A JSON document being written to memory. */
typedef struct json_doc {
    char *buf;
    size_t size;
    FILE *fp;
    geoloc_json w;
} json_doc;

static int doc_open(json_doc *d) {
    d->buf = NULL;
    d->size = 0;
    d->fp = open_memstream(&d->buf, &d->size);
    if (!d->fp) return -1;
    geoloc_json_init(&d->w, d->fp, 0);
    return 0;
}

/* Finishes the document into a 200 reply of the content type (500 when it
 * could not be written). */
static serve_reply doc_reply(json_doc *d, const char *content_type) {
    geoloc_error err;
    geoloc_status s = geoloc_json_finish(&d->w, &err);
    fclose(d->fp);
    if (s != GEOLOC_OK) {
        free(d->buf);
        return serve_reply_error(500, "the answer could not be written");
    }
    return (serve_reply){.status = 200, .body = d->buf, .size = d->size, .content_type = content_type};
}

serve_reply serve_route_model(const geoloc_model *m, geoloc_precision precision) {
    json_doc d;
    if (doc_open(&d) != 0) return serve_reply_error(503, "out of memory");
    geoloc_model_write_json(&d.w, m, precision);
    return doc_reply(&d, "application/json");
}

serve_reply serve_route_cell(const char *token) {
    geoloc_cell cell;
    if (geoloc_s2_from_token(token, strlen(token), &cell) != GEOLOC_OK)
        return serve_reply_error(404, "not an S2 cell token");
    json_doc d;
    if (doc_open(&d) != 0) return serve_reply_error(503, "out of memory");
    char canonical[GEOLOC_S2_TOKEN_SIZE];
    geoloc_s2_to_token(cell, canonical);
    double lat, lon;
    geoloc_s2_center(cell, &lat, &lon);
    geoloc_json_object_begin(&d.w);
    geoloc_json_key(&d.w, "type");
    geoloc_json_string(&d.w, "Feature");
    geoloc_json_key(&d.w, "geometry");
    geoloc_error err;
    if (geoloc_cell_geojson_write(&d.w, cell, CELL_MAX_ERROR_KM, &err) != GEOLOC_OK) {
        fclose(d.fp);
        free(d.buf);
        return serve_reply_error(500, "the cell's geometry could not be written");
    }
    geoloc_json_key(&d.w, "properties");
    geoloc_json_object_begin(&d.w);
    geoloc_json_key(&d.w, "token");
    geoloc_json_string(&d.w, canonical);
    geoloc_json_key(&d.w, "level");
    geoloc_json_int(&d.w, geoloc_s2_level(cell));
    geoloc_json_key(&d.w, "lat");
    geoloc_json_double(&d.w, lat);
    geoloc_json_key(&d.w, "lon");
    geoloc_json_double(&d.w, lon);
    geoloc_json_object_end(&d.w);
    geoloc_json_object_end(&d.w);
    return doc_reply(&d, "application/geo+json");
}

serve_reply serve_route_health(void) {
    static const char OK[] = "{\"status\":\"ok\"}\n";
    char *body = malloc(sizeof OK);
    if (!body) return serve_reply_error(503, "out of memory");
    memcpy(body, OK, sizeof OK);
    return (serve_reply){.status = 200, .body = body, .size = sizeof OK - 1, .content_type = "application/json"};
}

serve_reply serve_route_metrics(serve_metrics *metrics) {
    size_t size = 0;
    char *text = serve_metrics_render(metrics, &size);
    if (!text) return serve_reply_error(503, "out of memory");
    return (serve_reply){.status = 200, .body = text, .size = size,
                         .content_type = "text/plain; version=0.0.4; charset=utf-8"};
}
