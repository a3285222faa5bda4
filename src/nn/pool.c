/* Max pooling and global average pooling, forward and backward. Training
 * keeps max pooling's indices (a workspace) for backward. Global average
 * pooling also writes the pooled features as a plain batch x channels
 * matrix, the input of the heads; its backward takes the heads' gradient
 * from the same plain layout. int8 inference pools in float: the stem's
 * max pooling is quantised after, the last block's output made float before. */
#include "nn/exec.h"

/* Descriptor of pooling node k in either direction. */
static int pool_desc(geoloc_exec *ex, int k, int backward, dnnl_pooling_v2_desc_t *desc,
                     const dnnl_memory_desc_t *src_md, const dnnl_memory_desc_t *dst_md) {
    const nn_node *nd = &ex->net->nodes[k];
    const nn_value *in = &ex->values[nd->in[0]];
    int gap = nd->op == NN_GAP;
    dnnl_dims_t kernel = {gap ? in->h : nd->kernel, gap ? in->w : nd->kernel};
    dnnl_dims_t strides = {gap ? 1 : nd->stride, gap ? 1 : nd->stride};
    dnnl_dims_t pad = {gap ? 0 : nd->pad, gap ? 0 : nd->pad}, dil = {0, 0};
    dnnl_alg_kind_t alg = gap ? dnnl_pooling_avg_exclude_padding : dnnl_pooling_max;
    dnnl_status_t st =
        backward ? dnnl_pooling_v2_backward_desc_init(desc, alg, src_md, dst_md, strides, kernel, dil, pad, pad)
                 : dnnl_pooling_v2_forward_desc_init(desc, ex->mode == GEOLOC_NN_TRAIN ? dnnl_forward_training
                                                                                     : dnnl_forward_inference,
                                                     alg, src_md, dst_md, strides, kernel, dil, pad, pad);
    return !nn_fail(ex, st, "pooling descriptor");
}

static void plain_features_md(const geoloc_exec *ex, int c, dnnl_memory_desc_t *md) {
    dnnl_dims_t d = {ex->batch, c, 1, 1};
    dnnl_memory_desc_init_by_tag(md, 4, d, dnnl_f32, dnnl_nchw);
}

/* int8: the value v (u8) in float, into a slot held until the caller releases it. */
static dnnl_memory_t dequantised(geoloc_exec *ex, int v, dnnl_memory_desc_t *md, int *slot) {
    const nn_value *val = &ex->values[v];
    *md = val->md;
    md->data_type = dnnl_f32;
    *slot = nn_slot_acquire(ex, dnnl_memory_desc_get_size(md));
    dnnl_memory_t m = nn_mem(ex, md, *slot);
    float scale = nn_value_scale(ex, v);
    nn_call_reorder_scaled(ex, &ex->forward, &val->md, nn_value_mem(ex, v), md, m, 0, 1, &scale);
    return m;
}

void pool_plan(geoloc_exec *ex, int k) {
    const nn_node *nd = &ex->net->nodes[k];
    nn_value *in = &ex->values[nd->in[0]], *out = &ex->values[nd->out];
    /* int8: max pooling of the float stem, quantised after; global pooling of the
     * last block's u8 output, made float first */
    const int quantise = ex->mode == GEOLOC_NN_INFER_INT8 && nd->op == NN_MAXPOOL;
    const int dequantise = ex->mode == GEOLOC_NN_INFER_INT8 && nd->op == NN_GAP;
    int in_slot = -1, out_slot = -1;
    dnnl_memory_desc_t in_md = in->md, dst_md;
    dnnl_memory_t src = dequantise ? dequantised(ex, nd->in[0], &in_md, &in_slot) : nn_value_mem(ex, nd->in[0]);
    dnnl_dims_t dd = {ex->batch, out->c, out->h, out->w};
    dnnl_memory_desc_init_by_tag(&dst_md, 4, dd, dnnl_f32, dnnl_format_tag_any);
    dnnl_pooling_v2_desc_t desc;
    if (!pool_desc(ex, k, 0, &desc, &in_md, &dst_md)) return;
    dnnl_primitive_desc_t pd = nn_pd(ex, &desc, NULL, NULL, "pooling");
    if (!pd) return;
    ex->plan[k].fwd_pd = pd;
    const dnnl_memory_desc_t *pooled_md = nn_query(pd, dnnl_query_dst_md, 0);
    dnnl_memory_t dst;
    if (quantise) {
        out_slot = nn_slot_acquire(ex, dnnl_memory_desc_get_size(pooled_md));
        dst = nn_mem(ex, pooled_md, out_slot);
        /* the stem's ReLU output is its batch norm's, folded into the convolution before it */
        int bn = nn_producer(ex->net, nn_root(ex, nd->in[0]));
        out->scale = ex->net->int8_range[bn - 1] / 255.0f;
        dnnl_memory_desc_init_by_tag(&out->md, 4, dd, dnnl_u8, dnnl_nhwc);
    } else {
        out->md = *pooled_md;
        dst = nn_value_mem(ex, nd->out);
    }
    const dnnl_memory_desc_t *wsmd = nn_query(pd, dnnl_query_workspace_md, 0);
    dnnl_memory_t ws = NULL;
    if (wsmd && dnnl_memory_desc_get_size(wsmd) > 0) {
        ex->plan[k].workspace = nn_buffer_new(ex, 0);
        ws = nn_mem(ex, wsmd, ex->plan[k].workspace);
    }
    nn_call_prim(ex, &ex->forward, pd, 3, DNNL_ARG_SRC, src, DNNL_ARG_DST, dst, DNNL_ARG_WORKSPACE, ws);
    if (quantise) {
        float inv = 1.0f / out->scale;
        nn_call_reorder_scaled(ex, &ex->forward, pooled_md, dst, &out->md, nn_value_mem(ex, nd->out), 0, 1, &inv);
        nn_slot_release(ex, out_slot);
    }
    if (in_slot >= 0) nn_slot_release(ex, in_slot);
    if (nd->op == NN_GAP) {
        dnnl_memory_desc_t plain;
        plain_features_md(ex, out->c, &plain);
        ex->feature_dim = out->c;
        ex->features = nn_buffer_new(ex, 0);
        nn_call_reorder(ex, &ex->forward, &out->md, nn_value_mem(ex, nd->out), &plain,
                        nn_mem(ex, &plain, ex->features), 0);
    }
}

void pool_plan_backward(geoloc_exec *ex, int k) {
    const nn_node *nd = &ex->net->nodes[k];
    const nn_value *in = &ex->values[nd->in[0]], *out = &ex->values[nd->out];
    if (nd->op == NN_GAP) { /* the heads' gradient, plain, into the pooling's layout */
        dnnl_memory_desc_t plain;
        plain_features_md(ex, out->c, &plain);
        int tmp;
        dnnl_memory_t d = nn_diff_target(ex, nd->out, &tmp);
        nn_call_reorder(ex, &ex->backward, &plain, nn_mem(ex, &plain, ex->dfeatures), &out->md, d, 0);
    }
    dnnl_pooling_v2_desc_t desc;
    if (!pool_desc(ex, k, 1, &desc, &in->md, &out->md)) return;
    dnnl_primitive_desc_t pd = nn_pd(ex, &desc, NULL, ex->plan[k].fwd_pd, "pooling backward");
    if (!pd) return;
    const dnnl_memory_desc_t *wsmd = nn_query(pd, dnnl_query_workspace_md, 0);
    dnnl_memory_t ws = wsmd && dnnl_memory_desc_get_size(wsmd) > 0 ? nn_mem(ex, wsmd, ex->plan[k].workspace) : NULL;
    int tmp;
    dnnl_memory_t diff_dst = nn_diff_mem(ex, nd->out);
    dnnl_memory_t diff_src = nn_diff_target(ex, nd->in[0], &tmp);
    nn_call_prim(ex, &ex->backward, pd, 3, DNNL_ARG_DIFF_DST, diff_dst, DNNL_ARG_WORKSPACE, ws,
                 DNNL_ARG_DIFF_SRC, diff_src);
    nn_diff_commit(ex, nd->in[0], tmp);
}
