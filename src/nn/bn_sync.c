/* Synchronised batch norm: with a batch sum set (geoloc_exec_set_batch_sum),
 * training batch norm uses the statistics of the whole batch spread over
 * equal replicas. Forward: a C step sums this replica's activations per
 * channel, a batch sum gives the global mean, then the squared deviations
 * from it are summed the same way (two passes: one pass of E[x^2] - mean^2
 * loses channels whose spread is small next to their mean), and oneDNN
 * normalises with these as given statistics. Backward: oneDNN's backward
 * with given statistics leaves dx = gamma/sigma dy; a C step sums dx and
 * dx (x - mean) per channel over the whole batch and removes the batch's
 * own share from dx. Every sum is accumulated in double and sent as two
 * floats (value, remainder), so N replicas compute what one replica of the
 * whole batch computes to nearly double precision: this matters because
 * batch norm's backward cancels most of dx, so a rounding difference in its
 * sums becomes a large relative difference in the gradients. The parameter
 * gradients stay local sums (the trainer sums them across replicas). */

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

/* Sums local[0..n) (doubles) over the replicas into global[0..n): each value travels as
 * a float and the float of its remainder (hi, lo in buf[0..2n)), so a sum keeps nearly
 * double precision, and N replicas sum what one replica of the whole batch would. The
 * first failure is kept for run(). */
static void batch_sum(geoloc_exec *ex, const double *local, double *global, size_t n, float *buf) {
    for (size_t i = 0; i < n; i++) {
        buf[i] = (float)local[i];
        buf[n + i] = (float)(local[i] - (double)buf[i]);
    }
    if (ex->run_status == GEOLOC_OK) ex->run_status = ex->sum_fn(ex->sum_ctx, buf, 2 * n, ex->run_err);
    for (size_t i = 0; i < n; i++) global[i] = (double)buf[i] + (double)buf[n + i];
}

/* The sum buffer of a step over C channels: 4C floats to send, then 4C doubles. */
static float *send_part(geoloc_exec *ex, const nn_call *c) { return nn_ptr(ex, c->c); }
static double *double_part(geoloc_exec *ex, const nn_call *c, dnnl_dim_t C) {
    return (double *)(void *)(nn_ptr(ex, c->c) + 4 * (size_t)C);
}

/* Per-channel sums over this replica's part (layout l), in double, into out[0..C)
 * (and out[C..2C) when y is given):
 *   y NULL, mean NULL: sum of x;    y NULL: sum of (x - mean)^2;
 *   y given: sum of y and sum of y (x - mean). */
static void channel_sums(const bn_layout *l, const float *x, const float *y, const float *mean, double *out) {
#pragma omp parallel for schedule(static)
    for (dnnl_dim_t cb = 0; cb < l->cb; cb++) {
        double s[MAX_BLOCK] = {0}, t[MAX_BLOCK] = {0};
        double m[MAX_BLOCK] = {0};
        for (dnnl_dim_t i = 0; mean && i < l->ib && cb * l->ib + i < l->c; i++) m[i] = mean[cb * l->ib + i];
        for (dnnl_dim_t n = 0; n < l->n; n++)
            for (dnnl_dim_t p = 0; p < l->p; p++) {
                const dnnl_dim_t o = n * l->sn + cb * l->scb + p * l->sp;
                const float *e = x + o;
                if (y)
                    for (dnnl_dim_t i = 0; i < l->ib; i++) s[i] += y[o + i], t[i] += y[o + i] * ((double)e[i] - m[i]);
                else if (mean)
                    for (dnnl_dim_t i = 0; i < l->ib; i++) s[i] += ((double)e[i] - m[i]) * ((double)e[i] - m[i]);
                else
                    for (dnnl_dim_t i = 0; i < l->ib; i++) s[i] += e[i];
            }
        for (dnnl_dim_t i = 0; i < l->ib && cb * l->ib + i < l->c; i++) {
            out[cb * l->ib + i] = s[i];
            if (y) out[l->c + cb * l->ib + i] = t[i];
        }
    }
}

/* Forward step: global batch mean (a) and biased variance (b) of args[0], in two passes
 * (the sum, then the squared deviations from the global mean): one pass of
 * E[x^2] - mean^2 loses channels whose spread is small next to their mean. */
static void step_stats(geoloc_exec *ex, const nn_call *c) {
    bn_layout l;
    mem_layout(c, 0, &l);
    const float *x = mem_ptr(c, 0);
    float *mean = nn_ptr(ex, c->a), *var = nn_ptr(ex, c->b), *buf = send_part(ex, c);
    const dnnl_dim_t C = l.c;
    double *local = double_part(ex, c, C), *global = local + C;
    const double count = (double)ex->replicas * (double)l.n * (double)l.p;
    channel_sums(&l, x, NULL, NULL, local);
    batch_sum(ex, local, global, (size_t)C, buf);
    for (dnnl_dim_t i = 0; i < C; i++) mean[i] = (float)(global[i] / count);
    channel_sums(&l, x, NULL, mean, local);
    batch_sum(ex, local, global, (size_t)C, buf);
    for (dnnl_dim_t i = 0; i < C; i++) var[i] = (float)(global[i] / count);
}

/* Backward step: oneDNN's dx (args[1]) with the statistics taken as given is
 * gamma/sigma dy; the batch's own share is removed as
 *   dx -= mean(dx) + (x - mean) mean(dx (x - mean)) / sigma^2
 * with the means over the whole batch (gamma/sigma cancels), x = args[0]. */
static void step_correct(geoloc_exec *ex, const nn_call *c) {
    const int k = c->k;
    bn_layout l;
    mem_layout(c, 0, &l);
    const float *x = mem_ptr(c, 0);
    float *dx = (float *)mem_ptr(c, 1), *buf = send_part(ex, c);
    const float *mean = nn_ptr(ex, ex->plan[k].mean), *var = nn_ptr(ex, ex->plan[k].var);
    const dnnl_dim_t C = l.c;
    double *local = double_part(ex, c, C), *global = local + 2 * C;
    channel_sums(&l, x, dx, mean, local);
    batch_sum(ex, local, global, 2 * (size_t)C, buf);
    const double count = (double)ex->replicas * (double)l.n * (double)l.p;
    for (dnnl_dim_t i = 0; i < C; i++) {
        buf[i] = (float)(global[i] / count);
        buf[C + i] = (float)(global[C + i] / count / ((double)var[i] + ex->net->cfg.bn_eps));
    }
#pragma omp parallel for collapse(2) schedule(static)
    for (dnnl_dim_t n = 0; n < l.n; n++)
        for (dnnl_dim_t cb = 0; cb < l.cb; cb++) {
            float a[MAX_BLOCK] = {0}, b[MAX_BLOCK] = {0}, m[MAX_BLOCK] = {0};
            for (dnnl_dim_t i = 0; i < l.ib && cb * l.ib + i < C; i++)
                a[i] = buf[cb * l.ib + i], b[i] = buf[C + cb * l.ib + i], m[i] = mean[cb * l.ib + i];
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
    nn_call *c = nn_call_step_named(ex, list, step, "bn_sync");
    if (!c) return NULL;
    c->nargs = n;
    for (int i = 0; i < n; i++) c->args[i] = (dnnl_exec_arg_t){.arg = DNNL_ARG_SRC, .memory = mems[i]};
    c->k = k;
    c->c = ex->sum_buf;
    /* 4C floats sent, 4C doubles: the local sums and their global totals */
    nn_buffer_need(ex, c->c, 4 * (size_t)ex->values[ex->net->nodes[k].in[0]].c * (sizeof(float) + sizeof(double)));
    return c;
}

void nn_bn_sync_forward(geoloc_exec *ex, int k, dnnl_memory_t src) {
    nn_call *c = layout_step(ex, &ex->forward, k, step_stats, 1, &src);
    if (c) c->a = ex->plan[k].mean, c->b = ex->plan[k].var;
}

void nn_bn_sync_backward(geoloc_exec *ex, int k, dnnl_memory_t src, dnnl_memory_t diff_src) {
    dnnl_memory_t mems[2] = {src, diff_src};
    layout_step(ex, &ex->backward, k, step_correct, 2, mems);
}
