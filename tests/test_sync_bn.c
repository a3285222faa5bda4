/* Synchronised batch norm (geoloc_exec_set_batch_sum) against one process on
 * the whole batch: a ResNet-18 trained one step on 4 images, and the same
 * net as two replicas on 2 images each, run in two threads whose batch sum
 * adds the two threads' vectors (a barrier and a shared table). With the sum,
 * every replica's logits are the full batch's rows, the running statistics
 * the full batch's, and the mean of the replicas' parameter gradients the
 * full batch's gradient (each replica's loss is averaged over its own 2
 * images, the full one over 4). Without it, statistics and gradients
 * differ (per-replica batch norm), so the comparison can fail. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "geoloc/nn.h"
#include "nn_reference.h"
#include "test_util.h"

enum { R = 2, B = 2, S = 64, CLASSES = 5 };

static float input[R * B * 3 * S * S];
static const int32_t labels[R * B] = {1, 4, 0, 2};

/* The two threads' batch sum. */
typedef struct {
    pthread_barrier_t barrier;
    float *data[R];
    int calls[R];
} shared_sum;

typedef struct {
    shared_sum *sh;
    int rank;
    geoloc_net *net;
    geoloc_exec *ex;
    geoloc_status status;
    geoloc_error err;
} replica;

static geoloc_status thread_sum(void *ctx, float *data, size_t n, geoloc_error *err) {
    (void)err;
    replica *r = ctx;
    shared_sum *sh = r->sh;
    float *sum = malloc(n * sizeof *sum);
    sh->data[r->rank] = data;
    sh->calls[r->rank]++;
    pthread_barrier_wait(&sh->barrier);
    for (size_t i = 0; i < n; i++) {
        sum[i] = 0;
        for (int j = 0; j < R; j++) sum[i] += sh->data[j][i];
    }
    pthread_barrier_wait(&sh->barrier); /* everyone has read before anyone writes */
    memcpy(data, sum, n * sizeof *sum);
    free(sum);
    return GEOLOC_OK;
}

/* One training step (forward, backward) of ex on n images from first. */
static geoloc_status step(geoloc_exec *ex, int first, geoloc_error *err) {
    const int32_t *sets[1] = {labels + first};
    geoloc_status s = geoloc_exec_forward(ex, input + (size_t)first * 3 * S * S, err);
    return s != GEOLOC_OK ? s : geoloc_exec_backward(ex, sets, NULL, NULL, err);
}

static void *replica_main(void *arg) {
    replica *r = arg;
    r->status = step(r->ex, r->rank * B, &r->err);
    return NULL;
}

static geoloc_net *new_net(void) {
    geoloc_resnet_config cfg;
    geoloc_resnet_config_default(&cfg, 18, CLASSES);
    geoloc_net *net = NULL;
    geoloc_error err = {0};
    CHECK(geoloc_net_create(&cfg, &net, &err) == GEOLOC_OK, "net: %s", err.message);
    if (!net) exit(1);
    ref_fill_params(net);
    geoloc_net_zero_grad(net);
    return net;
}

/* Worst relative L2 difference over the parameters of the (mean) replica gradients /
 * running statistics and the full batch's; also checks the replicas' logits. */
static double compare(geoloc_net *full, geoloc_exec *full_ex, replica *rep, int grads, const char **worst) {
    double max = 0;
    *worst = "";
    for (size_t k = 0; k < geoloc_net_param_count(full); k++) {
        geoloc_param *p = geoloc_net_param(full, k);
        int stats = p->kind == GEOLOC_PARAM_RUNNING_MEAN || p->kind == GEOLOC_PARAM_RUNNING_VAR;
        if (grads ? !p->grad : !stats) continue;
        float *mean = malloc(p->n * sizeof *mean);
        for (size_t i = 0; i < p->n; i++) {
            double s = 0;
            for (int j = 0; j < R; j++) {
                const geoloc_param *q = geoloc_net_param(rep[j].net, k);
                s += grads ? q->grad[i] : q->data[i];
            }
            mean[i] = (float)(s / R);
        }
        double d = ref_rel_l2(mean, grads ? p->grad : p->data, p->n);
        if (d > max) max = d, *worst = p->name;
        free(mean);
    }
    if (!grads)
        for (int j = 0; j < R; j++) {
            double d = ref_rel_l2(geoloc_exec_logits(rep[j].ex, 0), geoloc_exec_logits(full_ex, 0) + j * B * CLASSES,
                                  B * CLASSES);
            if (d > max) max = d, *worst = "logits";
        }
    return max;
}

/* Two replicas on the halves, synchronised or not; the worst differences from the full batch. */
static void run_replicas(int sync, geoloc_net *full, geoloc_exec *full_ex, double *dgrad, double *dstats) {
    shared_sum sh = {0};
    replica rep[R];
    pthread_barrier_init(&sh.barrier, NULL, R);
    for (int j = 0; j < R; j++) {
        rep[j] = (replica){.sh = &sh, .rank = j, .net = new_net()};
        CHECK(geoloc_exec_create(rep[j].net, B, S, S, GEOLOC_NN_TRAIN, &rep[j].ex, &rep[j].err) == GEOLOC_OK,
              "replica exec: %s", rep[j].err.message);
        if (sync)
            CHECK(geoloc_exec_set_batch_sum(rep[j].ex, thread_sum, &rep[j], R, &rep[j].err) == GEOLOC_OK,
                  "batch sum: %s", rep[j].err.message);
    }
    pthread_t th[R];
    for (int j = 0; j < R; j++) pthread_create(&th[j], NULL, replica_main, &rep[j]);
    for (int j = 0; j < R; j++) pthread_join(th[j], NULL);
    for (int j = 0; j < R; j++) CHECK(rep[j].status == GEOLOC_OK, "replica %d: %s", j, rep[j].err.message);
    /* two sums per batch norm forward (mean, then variance) and one backward: 20 batch norms in ResNet-18 */
    CHECK(sh.calls[0] == (sync ? 60 : 0) && sh.calls[1] == sh.calls[0], "batch sums: %d and %d", sh.calls[0],
          sh.calls[1]);
    const char *wg, *ws;
    *dgrad = compare(full, full_ex, rep, 1, &wg);
    *dstats = compare(full, full_ex, rep, 0, &ws);
    printf("%s: gradients differ by %.3g (worst %s), running statistics and logits by %.3g (worst %s)\n",
           sync ? "sync-bn" : "per-replica bn", *dgrad, wg, *dstats, ws);
    for (int j = 0; j < R; j++) {
        geoloc_exec_free(rep[j].ex);
        geoloc_net_free(rep[j].net);
    }
    pthread_barrier_destroy(&sh.barrier);
}

int main(void) {
    ref_fill(input, sizeof input / sizeof input[0], 77, 0.0, 1.0);
    geoloc_net *full = new_net();
    geoloc_exec *full_ex = NULL;
    geoloc_error err = {0};
    CHECK(geoloc_exec_create(full, R * B, S, S, GEOLOC_NN_TRAIN, &full_ex, &err) == GEOLOC_OK, "exec: %s",
          err.message);
    if (!full_ex) TEST_END();
    CHECK(step(full_ex, 0, &err) == GEOLOC_OK, "full batch: %s", err.message);
    double dgrad, dstats;
    run_replicas(1, full, full_ex, &dgrad, &dstats);
    CHECK(dgrad < 1e-5, "sync-bn gradients differ from the full batch's by %.3g", dgrad);
    CHECK(dstats < 1e-5, "sync-bn running statistics or logits differ from the full batch's by %.3g", dstats);
    run_replicas(0, full, full_ex, &dgrad, &dstats);
    CHECK(dgrad > 1e-2, "per-replica batch norm: gradients should differ, by %.3g only", dgrad);
    CHECK(dstats > 1e-3, "per-replica batch norm: statistics should differ, by %.3g only", dstats);
    /* inference executions refuse a batch sum */
    geoloc_exec *infer = NULL;
    CHECK(geoloc_exec_create(full, B, S, S, GEOLOC_NN_INFER, &infer, &err) == GEOLOC_OK, "infer: %s", err.message);
    if (infer)
        CHECK(geoloc_exec_set_batch_sum(infer, thread_sum, NULL, R, &err) == GEOLOC_E_ARG, "inference took a sum");
    geoloc_exec_free(infer);
    geoloc_exec_free(full_ex);
    geoloc_net_free(full);
    TEST_END();
}
