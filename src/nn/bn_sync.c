/* Synchronised batch norm: with a batch sum set (geoloc_exec_set_batch_sum),
 * training batch norm uses the statistics of the whole batch spread over
 * equal replicas. Forward: a C step computes this replica's per-channel mean
 * and variance, one batch sum makes them global (mean of the means; mean of
 * var + mean^2, minus the global mean^2), and oneDNN normalises with them as
 * given statistics. Backward: oneDNN's backward with given statistics leaves
 * dx = gamma/sigma dy and the local sums sum(dy xhat), sum(dy); one batch sum
 * of a copy of those makes them global, and a C step subtracts
 * gamma/sigma (sum(dy) + xhat sum(dy xhat)) / count from dx. The parameter
 * gradients stay local sums (the trainer sums them across replicas). */
#include <math.h>

#include "core/error.h"
#include "nn/exec.h"

enum { MAX_BLOCK = 64 };

/* A 4-D activation layout: element (n, c, p) with c = cb * ib + ci and p = h * w + x
 * is at n * sn + cb * scb + p * sp + ci. */
typedef struct {
    dnnl_dim_t n, cb, ib, c, p;
    dnnl_dim_t sn, scb, sp;
} bn_layout;

/* The layout of md, or 0 when it is not one this walks (plain or channel-blocked). */
static int layout_of(const dnnl_memory_desc_t *md, bn_layout *l) {
    const dnnl_blocking_desc_t *b = &md->format_desc.blocking;
    if (md->ndims != 4 || md->format_kind != dnnl_blocked || md->offset0 != 0 || md->data_type != dnnl_f32) return 0;
    if (b->inner_nblks > 1 || (b->inner_nblks == 1 && b->inner_idxs[0] != 1)) return 0;
    l->ib = b->inner_nblks ? b->inner_blks[0] : 1;
    if (l->ib > MAX_BLOCK || md->padded_dims[1] % l->ib || b->strides[2] != b->strides[3] * md->dims[3]) return 0;
    l->n = md->dims[0], l->c = md->dims[1], l->cb = md->padded_dims[1] / l->ib, l->p = md->dims[2] * md->dims[3];
    l->sn = b->strides[0], l->scb = b->strides[1], l->sp = b->strides[3];
    return 1;
}

static const float *mem_ptr(const nn_call *c, int i) {
    void *p = NULL;
    dnnl_memory_get_data_handle(c->args[i].memory, &p);
    return p;
}

static void mem_layout(const nn_call *c, int i, bn_layout *l) {
    const dnnl_memory_desc_t *md = NULL;
    dnnl_memory_get_memory_desc(c->args[i].memory, &md);
    layout_of(md, l);
}

/* Runs the batch sum on n floats at data (the first failure is kept for run()). */
static void batch_sum(geoloc_exec *ex, float *data, size_t n) {
    if (ex->run_status == GEOLOC_OK) ex->run_status = ex->sum_fn(ex->sum_ctx, data, n, ex->run_err);
}

/* Forward step: global batch mean (a) and biased variance (b) of args[0] over c->n channels. */
static void step_stats(geoloc_exec *ex, const nn_call *c) {
    bn_layout l;
    mem_layout(c, 0, &l);
    const float *x = mem_ptr(c, 0);
    float *sum = nn_ptr(ex, c->c), *mean = nn_ptr(ex, c->a), *var = nn_ptr(ex, c->b);
    const dnnl_dim_t C = l.c;
    const double count = (double)l.n * (double)l.p;
#pragma omp parallel for schedule(static)
    for (dnnl_dim_t cb = 0; cb < l.cb; cb++) {
        double s[MAX_BLOCK] = {0}, q[MAX_BLOCK] = {0};
        for (dnnl_dim_t n = 0; n < l.n; n++)
            for (dnnl_dim_t p = 0; p < l.p; p++) {
                const float *e = x + n * l.sn + cb * l.scb + p * l.sp;
                for (dnnl_dim_t i = 0; i < l.ib; i++) s[i] += e[i], q[i] += (double)e[i] * e[i];
            }
        for (dnnl_dim_t i = 0; i < l.ib && cb * l.ib + i < C; i++) {
            double m = s[i] / count;
            sum[cb * l.ib + i] = (float)m;
            sum[C + cb * l.ib + i] = (float)(q[i] / count);
        }
    }
    batch_sum(ex, sum, 2 * (size_t)C);
    for (dnnl_dim_t i = 0; i < C; i++) {
        double m = (double)sum[i] / ex->replicas, v = (double)sum[C + i] / ex->replicas - m * m;
        mean[i] = (float)m;
        var[i] = v > 0 ? (float)v : 0.0f;
    }
}

/* Backward step: dx (args[1]) of batch norm c->k corrected by the global sums of
 * diff scale (a) and diff shift (b), with its input x (args[0]). */
static void step_correct(geoloc_exec *ex, const nn_call *c) {
    const geoloc_net *net = ex->net;
    const int k = c->k;
    bn_layout l;
    mem_layout(c, 0, &l);
    const float *x = mem_ptr(c, 0);
    float *dx = (float *)mem_ptr(c, 1);
    const float *gamma = net->params[net->nodes[k].param].data;
    const float *mean = nn_ptr(ex, ex->plan[k].mean), *var = nn_ptr(ex, ex->plan[k].var);
    float *sum = nn_ptr(ex, c->c);
    const dnnl_dim_t C = l.c;
    for (dnnl_dim_t i = 0; i < C; i++) sum[i] = nn_ptr(ex, c->a)[i], sum[C + i] = nn_ptr(ex, c->b)[i];
    batch_sum(ex, sum, 2 * (size_t)C);
    /* dx -= a + b (x - mean), a = gamma/sigma sum(dy)/N, b = gamma/sigma^2 sum(dy xhat)/N */
    const double count = (double)ex->replicas * (double)l.n * (double)l.p;
    for (dnnl_dim_t i = 0; i < C; i++) {
        double inv = 1.0 / sqrt((double)var[i] + net->cfg.bn_eps), g = gamma[i] * inv / count;
        float a = (float)(g * sum[C + i]), b = (float)(g * inv * sum[i]);
        sum[i] = a, sum[C + i] = b;
    }
#pragma omp parallel for collapse(2) schedule(static)
    for (dnnl_dim_t n = 0; n < l.n; n++)
        for (dnnl_dim_t cb = 0; cb < l.cb; cb++) {
            float a[MAX_BLOCK] = {0}, b[MAX_BLOCK] = {0}, m[MAX_BLOCK] = {0};
            for (dnnl_dim_t i = 0; i < l.ib && cb * l.ib + i < C; i++)
                a[i] = sum[cb * l.ib + i], b[i] = sum[C + cb * l.ib + i], m[i] = mean[cb * l.ib + i];
            for (dnnl_dim_t p = 0; p < l.p; p++) {
                const dnnl_dim_t o = n * l.sn + cb * l.scb + p * l.sp;
                for (dnnl_dim_t i = 0; i < l.ib; i++) dx[o + i] -= a[i] + b[i] * (x[o + i] - m[i]);
            }
        }
}

/* A step of list reading the activations `mems` (their layouts checked now); NULL after a failure. */
static nn_call *layout_step(geoloc_exec *ex, nn_list *list, int k, nn_step step, int n, const dnnl_memory_t *mems) {
    for (int i = 0; i < n; i++) {
        const dnnl_memory_desc_t *md = NULL;
        bn_layout l;
        if (ex->failed || nn_fail(ex, dnnl_memory_get_memory_desc(mems[i], &md), "batch norm sync layout")) return NULL;
        if (!layout_of(md, &l)) {
            error_set(ex->err, GEOLOC_E_ARG, "node %d: batch norm sync cannot walk oneDNN's activation layout", k);
            ex->failed = 1;
            return NULL;
        }
    }
    nn_call *c = nn_call_step(ex, list, step);
    if (!c) return NULL;
    c->nargs = n;
    for (int i = 0; i < n; i++) c->args[i] = (dnnl_exec_arg_t){.arg = DNNL_ARG_SRC, .memory = mems[i]};
    c->k = k;
    c->c = ex->sum_buf;
    nn_buffer_need(ex, c->c, 2 * (size_t)ex->values[ex->net->nodes[k].in[0]].c * sizeof(float));
    return c;
}

void nn_bn_sync_forward(geoloc_exec *ex, int k, dnnl_memory_t src) {
    nn_call *c = layout_step(ex, &ex->forward, k, step_stats, 1, &src);
    if (c) c->a = ex->plan[k].mean, c->b = ex->plan[k].var;
}

void nn_bn_sync_backward(geoloc_exec *ex, int k, dnnl_memory_t src, dnnl_memory_t diff_src, int dscale,
                         int dshift) {
    dnnl_memory_t mems[2] = {src, diff_src};
    nn_call *c = layout_step(ex, &ex->backward, k, step_correct, 2, mems);
    if (c) c->a = dscale, c->b = dshift;
}
