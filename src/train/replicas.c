/* Data-parallel training across the ranks of a job (include/geoloc/dist.h).
 * Every rank holds the whole network and runs its slice of each global
 * micro-batch; after the step's last micro-batch the gradients are summed
 * across ranks, so the optimizer, run on every rank, makes the same update
 * everywhere. Small tensors are packed into buckets (one sum per bucket,
 * not one per bias vector), large ones are summed where they are, in a
 * fixed order. Rank 0 is the reference: it sends the starting weights and
 * a resumed checkpoint to the others, and a checksum of the weights every
 * few steps proves that they stayed equal. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "geoloc/dist.h"
#include "io/crc32c.h"
#include "train/internal.h"

#define BUCKET_FLOATS ((size_t)1 << 22) /* 16 MB */
#define SMALL_TENSOR ((size_t)1 << 16)  /* floats: below, packed into a bucket */

geoloc_status train_replicas_setup(train_replicas *R, geoloc_net *net, geoloc_error *err) {
    memset(R, 0, sizeof *R);
    R->rank = geoloc_dist_rank();
    R->size = geoloc_dist_size();
    if (R->size == 1) return GEOLOC_OK;
    size_t np = geoloc_net_param_count(net);
    R->grad = malloc(np * sizeof *R->grad);
    R->n = malloc(np * sizeof *R->n);
    R->bucket = malloc(BUCKET_FLOATS * sizeof *R->bucket);
    if (!R->grad || !R->n || !R->bucket) return error_set(err, GEOLOC_E_NOMEM, "out of memory");
    for (size_t i = 0; i < np; i++) {
        geoloc_param *p = geoloc_net_param(net, i);
        if (!p->grad) continue;
        R->grad[R->ng] = p->grad;
        R->n[R->ng++] = p->n;
        R->floats += p->n;
    }
    return GEOLOC_OK;
}

void train_replicas_free(train_replicas *R) {
    free(R->grad);
    free(R->n);
    free(R->bucket);
    memset(R, 0, sizeof *R);
}

/* Sums the bucket's first n floats across ranks and puts them back into the small tensors [from, to). */
static geoloc_status flush(train_replicas *R, size_t from, size_t to, size_t n, geoloc_error *err) {
    geoloc_status s = geoloc_dist_sum_f32(R->bucket, n, err);
    for (size_t k = from, at = 0; s == GEOLOC_OK && k < to; k++)
        if (R->n[k] < SMALL_TENSOR) {
            memcpy(R->grad[k], R->bucket + at, R->n[k] * sizeof *R->bucket);
            at += R->n[k];
        }
    return s;
}

geoloc_status train_replicas_sum_grads(train_replicas *R, geoloc_error *err) {
    if (R->size == 1) return GEOLOC_OK;
    double t0 = train_now();
    geoloc_status s = GEOLOC_OK;
    size_t used = 0, first = 0;
    for (size_t k = 0; s == GEOLOC_OK && k < R->ng; k++) {
        if (R->n[k] >= SMALL_TENSOR) {
            s = geoloc_dist_sum_f32(R->grad[k], R->n[k], err);
            continue;
        }
        if (used + R->n[k] > BUCKET_FLOATS) {
            s = flush(R, first, k, used, err);
            used = 0;
            first = k;
        }
        memcpy(R->bucket + used, R->grad[k], R->n[k] * sizeof *R->bucket);
        used += R->n[k];
    }
    if (s == GEOLOC_OK && used) s = flush(R, first, R->ng, used, err);
    R->seconds += train_now() - t0;
    R->sums++;
    return s;
}

geoloc_status train_replicas_share(const train_optim *opt, int buffers_only, geoloc_error *err) {
    if (geoloc_dist_size() == 1) return GEOLOC_OK;
    geoloc_status s = GEOLOC_OK;
    for (size_t k = 0; s == GEOLOC_OK && k < opt->nt; k++)
        if (!buffers_only || !opt->t[k].grad) s = geoloc_dist_broadcast(opt->t[k].data, opt->t[k].n * sizeof(float), 0, err);
    return s;
}

geoloc_status train_replicas_share_state(train_optim *opt, train_state *st, geoloc_error *err) {
    if (geoloc_dist_size() == 1) return GEOLOC_OK;
    geoloc_status s = train_replicas_share(opt, 0, err);
    if (s == GEOLOC_OK) s = geoloc_dist_broadcast(st, sizeof *st, 0, err);
    size_t np = geoloc_sgd_param_count(opt->sgd);
    int64_t steps = geoloc_sgd_step_count(opt->sgd);
    if (s == GEOLOC_OK) s = geoloc_dist_broadcast(&steps, sizeof steps, 0, err);
    if (s == GEOLOC_OK) geoloc_sgd_set_step_count(opt->sgd, steps);
    for (size_t i = 0; s == GEOLOC_OK && i < np; i++) {
        uint8_t started = (uint8_t)geoloc_sgd_momentum_started(opt->sgd, i);
        float *m = geoloc_sgd_momentum(opt->sgd, i);
        s = geoloc_dist_broadcast(&started, 1, 0, err);
        if (s == GEOLOC_OK && started && m)
            s = geoloc_dist_broadcast(m, geoloc_sgd_param_size(opt->sgd, i) * sizeof *m, 0, err);
        if (s == GEOLOC_OK) s = geoloc_sgd_set_momentum_started(opt->sgd, i, started && m, err);
    }
    return s;
}

geoloc_status train_replicas_check(const train_optim *opt, long step, geoloc_error *err) {
    if (geoloc_dist_size() == 1) return GEOLOC_OK;
    uint32_t crc = 0;
    for (size_t k = 0; k < opt->nt; k++) crc = crc32c(crc, opt->t[k].data, opt->t[k].n * sizeof(float));
    char what[96];
    snprintf(what, sizeof what, "the weights after step %ld", step);
    geoloc_status s = geoloc_dist_check_same(&crc, sizeof crc, what, err);
    if (s == GEOLOC_E_ARG) {
        size_t len = strlen(err->message);
        snprintf(err->message + len, sizeof err->message - len,
                 ": the ranks no longer train the same network; stopping (the last checkpoint is intact)");
        err->status = s = GEOLOC_E_RANGE;
    }
    return s;
}
