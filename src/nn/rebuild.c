/* Training keeps few activations through backward: a batch norm's output (and
 * its ReLU mask) and, when that was not kept either, the convolution output
 * feeding it are computed again when backward needs them, from the kept
 * input, weights and batch statistics. Both layers' backward planning
 * (conv.c, batchnorm.c) come here; nothing here calls them. */
#include "nn/exec.h"

unsigned nn_bn_flags(const geoloc_exec *ex, int k) {
    return dnnl_use_scale | dnnl_use_shift | (ex->plan[k].relu ? dnnl_fuse_norm_relu : 0u);
}

/* Appends convolution k's forward again into a new slot (*slot); its output. */
static dnnl_memory_t rebuild_conv(geoloc_exec *ex, int k, int *slot) {
    const nn_node *nd = &ex->net->nodes[k];
    const nn_value *out = &ex->values[nd->out];
    *slot = nn_slot_acquire(ex, dnnl_memory_desc_get_size(&out->md));
    dnnl_memory_t dst = nn_mem(ex, &out->md, *slot), bias = NULL;
    if (nd->has_bias) {
        dnnl_memory_desc_t b_md;
        nn_vector_md(&b_md, out->c);
        bias = nn_mem_ptr(ex, &b_md, ex->net->params[nd->param + 1].data);
    }
    nn_call_prim(ex, &ex->backward, ex->plan[k].fwd_pd, 4, DNNL_ARG_SRC, nn_value_mem(ex, nd->in[0]),
                 DNNL_ARG_WEIGHTS, ex->plan[k].weights, DNNL_ARG_BIAS, bias, DNNL_ARG_DST, dst);
    return dst;
}

dnnl_memory_t nn_bn_source(geoloc_exec *ex, int k) {
    if (ex->source_node == k) return ex->source_mem;
    if (ex->source_slot >= 0) nn_slot_release(ex, ex->source_slot);
    int in = ex->net->nodes[k].in[0];
    ex->source_slot = -1;
    ex->source_node = k;
    if (ex->values[nn_root(ex, in)].saved)
        ex->source_mem = nn_value_mem(ex, in);
    else
        ex->source_mem = rebuild_conv(ex, nn_producer(ex->net, in), &ex->source_slot);
    return ex->source_mem;
}

void nn_bn_rebuild(geoloc_exec *ex, int k, dnnl_memory_t dst) {
    const geoloc_net *net = ex->net;
    const nn_node *nd = &net->nodes[k];
    const nn_value *in = &ex->values[nd->in[0]], *out = &ex->values[nd->out];
    dnnl_batch_normalization_desc_t desc;
    if (nn_fail(ex, dnnl_batch_normalization_forward_desc_init(&desc, dnnl_forward_training, &in->md, net->cfg.bn_eps,
                                                                nn_bn_flags(ex, k) | dnnl_use_global_stats),
                "batch norm (rebuild) descriptor"))
        return;
    dnnl_primitive_desc_t pd = nn_pd(ex, &desc, NULL, NULL, "batch norm rebuild");
    if (!pd) return;
    dnnl_memory_desc_t cmd;
    nn_vector_md(&cmd, in->c);
    const dnnl_memory_desc_t *wsmd = nn_query(pd, dnnl_query_workspace_md, 0);
    dnnl_memory_t ws = ex->plan[k].relu && wsmd ? nn_mem(ex, wsmd, ex->recompute_ws) : NULL;
    dnnl_memory_t src = nn_bn_source(ex, k);
    if (!dst) {
        if (ex->recompute >= 0) nn_slot_release(ex, ex->recompute);
        ex->recompute = nn_slot_acquire(ex, dnnl_memory_desc_get_size(&out->md));
        dst = nn_mem(ex, &out->md, ex->recompute);
    }
    nn_call_prim(ex, &ex->backward, pd, 7, DNNL_ARG_SRC, src, DNNL_ARG_DST, dst, DNNL_ARG_SCALE,
                 nn_param_mem(ex, nd->param, 0), DNNL_ARG_SHIFT, nn_param_mem(ex, nd->param + 1, 0),
                 DNNL_ARG_MEAN, nn_mem(ex, &cmd, ex->plan[k].mean), DNNL_ARG_VARIANCE,
                 nn_mem(ex, &cmd, ex->plan[k].var), DNNL_ARG_WORKSPACE, ws);
    ex->recompute_node = k;
}

dnnl_memory_t nn_conv_source(geoloc_exec *ex, int v) {
    int r = nn_root(ex, v);
    if (ex->values[r].saved) return nn_value_mem(ex, v);
    int k = nn_producer(ex->net, r);
    if (ex->recompute_node != k) nn_bn_rebuild(ex, k, NULL);
    return nn_mem(ex, &ex->values[v].md, ex->recompute);
}
