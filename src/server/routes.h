/* The server's read-only endpoints: GET /v1/model, /v1/cells/{token},
 * /healthz and /metrics, each as a serve_reply (http.c routes to them).
 * Internal. */
#ifndef GEOLOC_SERVER_ROUTES_H
#define GEOLOC_SERVER_ROUTES_H

#include "geoloc/model.h"
#include "server/engine.h"
#include "server/metrics.h"

/* GET /v1/model: the model's description (geoloc_model_write_json). */
serve_reply serve_route_model(const geoloc_model *m, geoloc_precision precision);

/* GET /v1/cells/{token}: a GeoJSON Feature, the cell's boundary with its
 * token, level and center as properties; 404 for a token that is no cell. */
serve_reply serve_route_cell(const char *token);

/* GET /healthz: {"status":"ok"}. */
serve_reply serve_route_health(void);

/* GET /metrics: the Prometheus text of the counters (503 when out of memory). */
serve_reply serve_route_metrics(serve_metrics *metrics);

#endif
