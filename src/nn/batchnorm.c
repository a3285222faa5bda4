/* Batch normalization, forward and backward, with a following ReLU fused.
 * Training normalises with the batch's statistics, keeps them for backward
 * and updates the running averages as torch does (momentum, unbiased
 * variance); with a batch sum set, statistics and backward are those of the
 * whole batch over the replicas (bn_sync.c). Its output is not kept: backward
 * rebuilds it (and the ReLU mask) from the kept convolution output and
 * statistics (rebuild.c), which saves a third of the activation memory for
 * one cheap pass. Inference uses the running statistics, normally folded
 * into the convolution (conv.c). */
#include "nn/exec.h"

/* Step after a training forward: running = (1 - m) running + m batch (variance unbiased). */
static void step_running_stats(geoloc_exec *ex, const nn_call *c) {
    const geoloc_net *net = ex->net;
    const nn_node *nd = &net->nodes[c->k];
    float *rm = net->params[nd->param + 2].data, *rv = net->params[nd->param + 3].data;
    const float *mean = nn_ptr(ex, c->a), *var = nn_ptr(ex, c->b);
    float m = net->cfg.bn_momentum, unbias = c->f;
    for (size_t i = 0; i < c->n; i++) {
        rm[i] = (1.0f - m) * rm[i] + m * mean[i];
        rv[i] = (1.0f - m) * rv[i] + m * var[i] * unbias;
    }
}

void bn_plan(geoloc_exec *ex, int k) {
    if (ex->plan[k].fused_into >= 0) return;
    const geoloc_net *net = ex->net;
    const nn_node *nd = &net->nodes[k];
    nn_value *in = &ex->values[nd->in[0]], *out = &ex->values[nd->out];
    const int train = ex->mode == GEOLOC_NN_TRAIN;
    unsigned flags = nn_bn_flags(ex, k) | (train && !ex->sum_fn ? 0u : dnnl_use_global_stats);
    dnnl_batch_normalization_desc_t desc;
    if (nn_fail(ex, dnnl_batch_normalization_forward_desc_init(&desc, train ? dnnl_forward_training : dnnl_forward_inference,
                                                                &in->md, net->cfg.bn_eps, flags),
                "batch norm descriptor"))
        return;
    dnnl_primitive_desc_t pd = nn_pd(ex, &desc, NULL, NULL, "batch norm");
    if (!pd) return;
    ex->plan[k].fwd_pd = pd;
    out->md = *nn_query(pd, dnnl_query_dst_md, 0);
    dnnl_memory_desc_t cmd;
    nn_vector_md(&cmd, in->c);
    dnnl_memory_t mean, var, ws = NULL;
    if (train) {
        ex->plan[k].mean = nn_buffer_new(ex, 0);
        ex->plan[k].var = nn_buffer_new(ex, 0);
        mean = nn_mem(ex, &cmd, ex->plan[k].mean);
        var = nn_mem(ex, &cmd, ex->plan[k].var);
        const dnnl_memory_desc_t *wsmd = nn_query(pd, dnnl_query_workspace_md, 0);
        if (ex->plan[k].relu && wsmd) ws = nn_mem(ex, wsmd, ex->recompute_ws);
        if (ex->sum_fn) nn_bn_sync_forward(ex, k, nn_value_mem(ex, nd->in[0]));
    } else {
        mean = nn_param_mem(ex, nd->param + 2, 0);
        var = nn_param_mem(ex, nd->param + 3, 0);
    }
    nn_call_prim(ex, &ex->forward, pd, 7, DNNL_ARG_SRC, nn_value_mem(ex, nd->in[0]), DNNL_ARG_DST,
                 nn_value_mem(ex, nd->out), DNNL_ARG_SCALE, nn_param_mem(ex, nd->param, 0), DNNL_ARG_SHIFT,
                 nn_param_mem(ex, nd->param + 1, 0), DNNL_ARG_MEAN, mean, DNNL_ARG_VARIANCE, var,
                 DNNL_ARG_WORKSPACE, ws);
    if (train) {
        nn_call *c = nn_call_step(ex, &ex->forward, step_running_stats);
        double n = (double)(ex->sum_fn ? ex->replicas : 1) * ex->batch * in->h * in->w;
        if (c) {
            c->k = k, c->a = ex->plan[k].mean, c->b = ex->plan[k].var, c->n = (size_t)in->c;
            c->f = n > 1 ? (float)(n / (n - 1)) : 1.0f;
        }
    }
}

void bn_plan_backward(geoloc_exec *ex, int k) {
    const geoloc_net *net = ex->net;
    const nn_node *nd = &net->nodes[k];
    const nn_value *in = &ex->values[nd->in[0]];
    dnnl_batch_normalization_desc_t desc;
    if (nn_fail(ex, dnnl_batch_normalization_backward_desc_init(&desc, dnnl_backward, &in->md, &in->md,
                                                                 net->cfg.bn_eps,
                                                                 nn_bn_flags(ex, k) | (ex->sum_fn ? dnnl_use_global_stats : 0u)),
                "batch norm backward descriptor"))
        return;
    dnnl_primitive_desc_t pd = nn_pd(ex, &desc, NULL, ex->plan[k].fwd_pd, "batch norm backward");
    if (!pd) return;
    dnnl_memory_desc_t cmd;
    nn_vector_md(&cmd, in->c);
    const dnnl_memory_desc_t *wsmd = nn_query(pd, dnnl_query_workspace_md, 0);
    dnnl_memory_t ws = ex->plan[k].relu && wsmd ? nn_mem(ex, wsmd, ex->recompute_ws) : NULL;
    int dscale = nn_buffer_new(ex, 0), dshift = nn_buffer_new(ex, 0), tmp;
    dnnl_memory_t src = nn_bn_source(ex, k);
    dnnl_memory_t diff_dst = nn_diff_mem(ex, nd->out);
    dnnl_memory_t diff_src = nn_diff_target(ex, nd->in[0], &tmp);
    /* the ReLU mask, when no consumer rebuilt it: the output goes where the
     * input gradient is about to be written */
    if (ex->plan[k].relu && ex->recompute_node != k) nn_bn_rebuild(ex, k, diff_src);
    nn_call_prim(ex, &ex->backward, pd, 10, DNNL_ARG_SRC, src, DNNL_ARG_MEAN,
                 nn_mem(ex, &cmd, ex->plan[k].mean), DNNL_ARG_VARIANCE, nn_mem(ex, &cmd, ex->plan[k].var),
                 DNNL_ARG_SCALE, nn_param_mem(ex, nd->param, 0), DNNL_ARG_SHIFT, nn_param_mem(ex, nd->param + 1, 0),
                 DNNL_ARG_WORKSPACE, ws, DNNL_ARG_DIFF_DST, diff_dst, DNNL_ARG_DIFF_SRC, diff_src,
                 DNNL_ARG_DIFF_SCALE, nn_mem(ex, &cmd, dscale), DNNL_ARG_DIFF_SHIFT, nn_mem(ex, &cmd, dshift));
    if (ex->sum_fn) nn_bn_sync_backward(ex, k, src, diff_src);
    nn_diff_commit(ex, nd->in[0], tmp);
    for (int i = 0; i < 2; i++) {
        nn_call *c = nn_call_step(ex, &ex->backward, nn_step_accumulate);
        if (c) c->pa = net->params[nd->param + i].grad, c->b = i ? dshift : dscale, c->n = (size_t)in->c;
    }
}
