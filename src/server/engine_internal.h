/* Between the engine's batching (engine.c) and the /v1/locate requests
 * (locate.c): photos already decoded go in as jobs, answers come out.
 * Internal. */
#ifndef GEOLOC_SERVER_ENGINE_INTERNAL_H
#define GEOLOC_SERVER_ENGINE_INTERNAL_H

#include <stddef.h>

#include "geoloc/model.h"
#include "server/engine.h"

/* One decoded photo to predict, and its answer. */
typedef struct engine_job {
    struct engine_job *next;    /* the engine's queue */
    const geoloc_image *img;
    geoloc_crop_mode crops;
    int partition, top;         /* how to answer: -1 hierarchical or a partition; top cells */
    float *distribution;        /* receives the distribution when not NULL */
    geoloc_prediction pred;     /* the answer, unless failed */
    int failed;
    char error[600];            /* why it failed */
    double queued_at;           /* monotonic seconds */
    size_t *pending;            /* its request's count of jobs not yet answered */
} engine_job;

/* Why engine_run_jobs refused jobs. */
typedef enum engine_refusal {
    ENGINE_ACCEPTED = 0,
    ENGINE_QUEUE_FULL,
    ENGINE_DRAINING
} engine_refusal;

/* Queues *jobs[0..n) (all of them or none) and waits until every one is
 * answered (pred, or failed with error). */
engine_refusal engine_run_jobs(serve_engine *e, engine_job *const *jobs, size_t n);

/* The model, the settings, whether drain was called. */
const geoloc_model *engine_model(const serve_engine *e);
const serve_engine_options *engine_options(const serve_engine *e);
int engine_draining(serve_engine *e);

/* Why the model cannot answer hierarchically ("" when it can). */
const char *engine_hierarchy_refusal(const serve_engine *e);

#endif
