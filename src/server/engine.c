/* The engine's micro-batching: request threads queue their decoded photos
 * (all of a request or none, within a bound), and one batching thread runs
 * them through the network. It takes the oldest photo and the queued photos
 * of the same crop mode, up to `batch`; when fewer are queued it waits for
 * more until the oldest has waited batch_wait_ms (never longer, and not at
 * all when draining). A full batch runs on a predictor of batch `batch`,
 * a partial one photo by photo on a predictor of batch 1. One
 * predictor pair per crop mode, made when first needed; the partition and
 * top of each photo's answer are its request's, computed from the network's
 * probabilities (geoloc_predictor_probs, geoloc_answer_from_probs), so every
 * partition and top shares the same batches. */
#include <omp.h>
#include <pthread.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "core/error.h"
#include "server/engine_internal.h"

#define N_CROP_MODES 3

/* The predictors of one crop mode: batch 1 and batch `batch` (NULL when batch is 1). */
typedef struct predictor_pair {
    geoloc_predictor *one, *many;
    int tried;               /* creation attempted (it is not retried) */
    char why[512];           /* why creation failed */
} predictor_pair;

struct serve_engine {
    const geoloc_model *m;
    serve_engine_options o;
    serve_metrics *metrics;
    predictor_pair pairs[N_CROP_MODES];
    int partition;           /* the predictors' own partition: -1, or 0 when the hierarchy is incomplete */
    char no_hierarchy[512];  /* why hierarchical answers are refused, "" when they are not */
    pthread_mutex_t lock;
    pthread_cond_t work;     /* photos queued, or stopping */
    pthread_cond_t answered; /* a batch answered */
    engine_job *head, *tail; /* the queue, oldest first */
    size_t queued;
    int draining, stopping;
    serve_engine_stats stats;
    pthread_t thread;
    int thread_started;
    geoloc_image *images;    /* the batch being run */
    geoloc_prediction *preds;
};

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

const geoloc_model *engine_model(const serve_engine *e) { return e->m; }

const serve_engine_options *engine_options(const serve_engine *e) { return &e->o; }

const char *engine_hierarchy_refusal(const serve_engine *e) { return e->no_hierarchy; }

int engine_draining(serve_engine *e) {
    pthread_mutex_lock(&e->lock);
    int d = e->draining;
    pthread_mutex_unlock(&e->lock);
    return d;
}

/* Creates the predictor pair of a crop mode (once); 0, or -1 with pair->why. */
static int pair_create(serve_engine *e, geoloc_crop_mode crops, geoloc_error *err) {
    predictor_pair *pp = &e->pairs[crops];
    if (pp->tried) return pp->one ? 0 : -1;
    pp->tried = 1;
    geoloc_predict_options po = geoloc_predict_options_default();
    po.crops = crops;
    po.partition = e->partition;
    po.top_k = 1; /* the predictor's own answer is not used */
    po.batch = 1;
    po.precision = e->o.precision;
    geoloc_status s = geoloc_predictor_create(e->m, &po, &pp->one, err);
    if (s == GEOLOC_OK && e->o.batch > 1) {
        po.batch = e->o.batch;
        s = geoloc_predictor_create(e->m, &po, &pp->many, err);
    }
    if (s == GEOLOC_OK) return 0;
    snprintf(pp->why, sizeof pp->why, "%s", err->message);
    geoloc_predictor_free(pp->one);
    pp->one = NULL;
    return -1;
}

/* How many queued photos of the oldest photo's crop mode could join its batch. */
static size_t batchable(const serve_engine *e) {
    size_t n = 0;
    for (const engine_job *j = e->head; j && n < (size_t)e->o.batch; j = j->next) n += j->crops == e->head->crops;
    return n;
}

/* Takes the next batch out of the queue into batch[] (locked); its size. */
static size_t take_batch(serve_engine *e, engine_job **batch) {
    geoloc_crop_mode crops = e->head->crops;
    size_t n = 0;
    engine_job **link = &e->head;
    while (*link && n < (size_t)e->o.batch) {
        engine_job *j = *link;
        if (j->crops == crops) {
            batch[n++] = j;
            *link = j->next;
        } else {
            link = &j->next;
        }
    }
    e->tail = NULL;
    for (engine_job *j = e->head; j; j = j->next) e->tail = j;
    e->queued -= n;
    return n;
}

static void fail_batch(engine_job **batch, size_t n, const char *why) {
    for (size_t i = 0; i < n; i++) {
        batch[i]->failed = 1;
        snprintf(batch[i]->error, sizeof batch[i]->error, "prediction failed: %s", why);
    }
}

/* Runs n photos through predictor p and answers each (unlocked). */
static void predict_and_answer(serve_engine *e, geoloc_predictor *p, engine_job **batch, size_t n) {
    geoloc_error err = {0};
    for (size_t i = 0; i < n; i++) e->images[i] = *batch[i]->img;
    if (geoloc_predict(p, e->images, n, e->preds, NULL, &err) != GEOLOC_OK) {
        fail_batch(batch, n, err.message);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        const float *geo[GEOLOC_MODEL_MAX_PARTITIONS] = {0}, *scene;
        int n_crops = geoloc_predictor_probs(p, i, geo, &scene);
        engine_job *j = batch[i];
        if (geoloc_answer_from_probs(e->m, geo, scene, (size_t)n_crops, j->partition, j->top, &j->pred,
                                     j->distribution, &err) != GEOLOC_OK)
            fail_batch(&batch[i], 1, err.message);
    }
}

/* Runs one batch through the network and answers each photo (unlocked): a
 * full batch on the predictor of batch `batch`, a partial one photo by photo
 * on the predictor of batch 1 (the big one would pad it to its full size; per
 * image the engine is as fast at batch 1, see the README's server figures). */
static void run_batch(serve_engine *e, engine_job **batch, size_t n) {
    geoloc_error err = {0};
    geoloc_crop_mode crops = batch[0]->crops;
    if (pair_create(e, crops, &err) != 0) {
        fail_batch(batch, n, e->pairs[crops].why);
        return;
    }
    double t0 = now_s();
    if (n == (size_t)e->o.batch && e->pairs[crops].many)
        predict_and_answer(e, e->pairs[crops].many, batch, n);
    else
        for (size_t i = 0; i < n; i++) predict_and_answer(e, e->pairs[crops].one, &batch[i], 1);
    if (e->metrics) serve_metrics_batch(e->metrics, (int)n, now_s() - t0);
}

/* Waits (locked) until the deadline in monotonic seconds or a signal. */
static void wait_until(serve_engine *e, double deadline) {
    struct timespec ts;
    ts.tv_sec = (time_t)deadline;
    ts.tv_nsec = (long)((deadline - (double)ts.tv_sec) * 1e9);
    if (ts.tv_nsec >= 1000000000L) ts.tv_nsec = 999999999L;
    pthread_cond_timedwait(&e->work, &e->lock, &ts);
}

static void *batching_thread(void *arg) {
    serve_engine *e = arg;
    if (e->o.threads > 0) omp_set_num_threads(e->o.threads); /* this thread's setting: the network runs here */
    engine_job **batch = malloc((size_t)e->o.batch * sizeof *batch);
    pthread_mutex_lock(&e->lock);
    for (;;) {
        while (!e->head && !e->stopping) pthread_cond_wait(&e->work, &e->lock);
        if (!e->head) break;
        double deadline = e->head->queued_at + e->o.batch_wait_ms * 1e-3;
        while (batchable(e) < (size_t)e->o.batch && !e->draining && !e->stopping && now_s() < deadline)
            wait_until(e, deadline);
        size_t n = batch ? take_batch(e, batch) : 0;
        pthread_mutex_unlock(&e->lock);
        if (n) run_batch(e, batch, n);
        pthread_mutex_lock(&e->lock);
        for (size_t i = 0; i < n; i++) --*batch[i]->pending;
        if (n) {
            e->stats.batches++;
            e->stats.photos += n;
            e->stats.single += n == 1;
            if ((int)n > e->stats.largest) e->stats.largest = (int)n;
        }
        if (!batch) { /* no memory for a batch: every queued photo fails */
            for (engine_job *j = e->head; j; j = j->next) {
                fail_batch(&j, 1, "out of memory");
                --*j->pending;
            }
            e->head = e->tail = NULL;
            e->queued = 0;
        }
        pthread_cond_broadcast(&e->answered);
    }
    pthread_mutex_unlock(&e->lock);
    free(batch);
    return NULL;
}

engine_refusal engine_run_jobs(serve_engine *e, engine_job *const *jobs, size_t n) {
    pthread_mutex_lock(&e->lock);
    if (e->draining) {
        pthread_mutex_unlock(&e->lock);
        return ENGINE_DRAINING;
    }
    if (n > (size_t)e->o.queue || e->queued > (size_t)e->o.queue - n) {
        pthread_mutex_unlock(&e->lock);
        return ENGINE_QUEUE_FULL;
    }
    size_t pending = n;
    double t = now_s();
    for (size_t i = 0; i < n; i++) {
        engine_job *j = jobs[i];
        j->next = NULL;
        j->queued_at = t;
        j->pending = &pending;
        if (e->tail) e->tail->next = j;
        else e->head = j;
        e->tail = j;
    }
    e->queued += n;
    pthread_cond_signal(&e->work);
    while (pending > 0) pthread_cond_wait(&e->answered, &e->lock);
    pthread_mutex_unlock(&e->lock);
    return ENGINE_ACCEPTED;
}

serve_engine_stats serve_engine_stats_get(serve_engine *e) {
    pthread_mutex_lock(&e->lock);
    serve_engine_stats st = e->stats;
    st.queued = e->queued;
    pthread_mutex_unlock(&e->lock);
    return st;
}

void serve_engine_drain(serve_engine *e) {
    pthread_mutex_lock(&e->lock);
    e->draining = 1;
    pthread_cond_signal(&e->work);
    pthread_mutex_unlock(&e->lock);
}

void serve_engine_free(serve_engine *e) {
    if (!e) return;
    if (e->thread_started) {
        pthread_mutex_lock(&e->lock);
        e->draining = e->stopping = 1;
        pthread_cond_signal(&e->work);
        pthread_mutex_unlock(&e->lock);
        pthread_join(e->thread, NULL);
    }
    for (int c = 0; c < N_CROP_MODES; c++) {
        geoloc_predictor_free(e->pairs[c].one);
        geoloc_predictor_free(e->pairs[c].many);
    }
    pthread_cond_destroy(&e->work);
    pthread_cond_destroy(&e->answered);
    pthread_mutex_destroy(&e->lock);
    free(e->images);
    free(e->preds);
    free(e);
}

geoloc_status serve_engine_create(const geoloc_model *m, const serve_engine_options *o,
                                  serve_metrics *metrics, serve_engine **out, geoloc_error *err) {
    *out = NULL;
    if (!m || !o || o->batch < 1 || o->batch > 1024 || o->batch_wait_ms < 0 || o->queue < 1 || o->max_files < 1)
        return error_set(err, GEOLOC_E_ARG, "server engine: batch 1-1024, batch wait >= 0 ms, queue and "
                         "max files >= 1 (batch %d, wait %d, queue %d, files %d)", o ? o->batch : 0,
                         o ? o->batch_wait_ms : 0, o ? o->queue : 0, o ? o->max_files : 0);
    serve_engine *e = calloc(1, sizeof *e);
    if (!e) return error_set(err, GEOLOC_E_NOMEM, "out of memory");
    e->m = m;
    e->o = *o;
    e->metrics = metrics;
    e->partition = -1;
    pthread_mutex_init(&e->lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&e->work, &ca);
    pthread_condattr_destroy(&ca);
    pthread_cond_init(&e->answered, NULL);
    e->images = calloc((size_t)o->batch, sizeof *e->images);
    e->preds = calloc((size_t)o->batch, sizeof *e->preds);
    if (!e->images || !e->preds) {
        serve_engine_free(e);
        return error_set(err, GEOLOC_E_NOMEM, "out of memory");
    }
    /* the default crop mode's predictors now: a model that cannot predict fails here */
    geoloc_error why = {0};
    if (pair_create(e, GEOLOC_CROPS_THREE, &why) != 0 && why.status == GEOLOC_E_ARG && m->n_partitions > 1) {
        /* an incomplete hierarchy: answer single partitions only, and say why not hierarchical */
        snprintf(e->no_hierarchy, sizeof e->no_hierarchy, "%s", why.message);
        e->partition = 0;
        e->pairs[GEOLOC_CROPS_THREE].tried = 0;
        pair_create(e, GEOLOC_CROPS_THREE, &why);
    }
    if (!e->pairs[GEOLOC_CROPS_THREE].one) {
        serve_engine_free(e);
        return error_set(err, why.status, "%s", why.message);
    }
    if (pthread_create(&e->thread, NULL, batching_thread, e) != 0) {
        serve_engine_free(e);
        return error_set(err, GEOLOC_E_NOMEM, "server engine: cannot start the batching thread");
    }
    e->thread_started = 1;
    *out = e;
    return GEOLOC_OK;
}
