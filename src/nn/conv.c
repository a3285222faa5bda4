/* 2-D convolution, forward and backward. Training: the convolution alone
 * (its batch norm follows as a node of its own); backward gives the input
 * gradient and the weight (and bias) gradients, added to the parameters'.
 * Inference: the following batch norm is folded into the weights and bias,
 * and a following residual add (into the shortcut's buffer) and ReLU run as
 * post-ops of the same primitive. */
#include <math.h>
#include <string.h>

#include "nn/exec.h"

static void dims4(dnnl_dims_t d, int n, int c, int h, int w) {
    d[0] = n, d[1] = c, d[2] = h, d[3] = w;
}

/* Prepare step: folded weights (into buffer a) and bias (buffer b) of conv node k. */
static void step_fold(geoloc_exec *ex, const nn_call *c) {
    const geoloc_net *net = ex->net;
    const nn_node *conv = &net->nodes[c->k];
    const geoloc_param *w = &net->params[conv->param];
    const float *bias = conv->has_bias ? net->params[conv->param + 1].data : NULL;
    const nn_node *bn = &net->nodes[c->k + 1];
    const float *gamma = net->params[bn->param].data, *beta = net->params[bn->param + 1].data;
    const float *mean = net->params[bn->param + 2].data, *var = net->params[bn->param + 3].data;
    float *fw = nn_ptr(ex, c->a), *fb = nn_ptr(ex, c->b);
    size_t out = w->shape[0], per = w->n / out;
    for (size_t o = 0; o < out; o++) {
        float scale = gamma[o] / sqrtf(var[o] + net->cfg.bn_eps);
        for (size_t i = 0; i < per; i++) fw[o * per + i] = w->data[o * per + i] * scale;
        fb[o] = ((bias ? bias[o] : 0.0f) - mean[o]) * scale + beta[o];
    }
}

/* The node after conv k is its batch norm (the builder's order); in inference also
 * the value the fused chain produces and its post-ops. */
static int fused_target(geoloc_exec *ex, int k, int *sum, int *relu) {
    const geoloc_net *net = ex->net;
    int bn = k + 1;
    *sum = 0;
    *relu = ex->plan[bn].relu;
    int target = net->nodes[bn].out;
    for (size_t a = (size_t)bn + 1; a < net->n_nodes; a++)
        if (net->nodes[a].op == NN_ADD && ex->plan[a].fused_into == k) {
            *sum = 1;
            *relu = ex->plan[a].relu;
            target = net->nodes[a].out;
        }
    return target;
}

void conv_plan(geoloc_exec *ex, int k) {
    const geoloc_net *net = ex->net;
    const nn_node *nd = &net->nodes[k];
    nn_value *in = &ex->values[nd->in[0]];
    const int infer = ex->mode == GEOLOC_NN_INFER;
    int sum = 0, relu = 0;
    int target = infer ? fused_target(ex, k, &sum, &relu) : nd->out;
    nn_value *out = &ex->values[target];
    geoloc_param *w = &net->params[nd->param];
    const int has_bias = infer || nd->has_bias;

    dnnl_dims_t sd, wd, dd, bd = {(dnnl_dim_t)w->shape[0]};
    dims4(sd, ex->batch, in->c, in->h, in->w);
    dims4(wd, (int)w->shape[0], (int)w->shape[1], nd->kernel, nd->kernel);
    dims4(dd, ex->batch, out->c, out->h, out->w);
    dnnl_memory_desc_t src_md, w_md, b_md, dst_md;
    if (nd->in[0] == 0)
        dnnl_memory_desc_init_by_tag(&src_md, 4, sd, dnnl_f32, dnnl_format_tag_any);
    else
        src_md = in->md;
    dnnl_memory_desc_init_by_tag(&w_md, 4, wd, dnnl_f32, dnnl_format_tag_any);
    dnnl_memory_desc_init_by_tag(&b_md, 1, bd, dnnl_f32, dnnl_a);
    if (sum)
        dst_md = ex->values[nn_root(ex, target)].md;
    else
        dnnl_memory_desc_init_by_tag(&dst_md, 4, dd, dnnl_f32, dnnl_format_tag_any);
    dnnl_dims_t strides = {nd->stride, nd->stride}, pad = {nd->pad, nd->pad};
    dnnl_convolution_desc_t desc;
    if (nn_fail(ex, dnnl_convolution_forward_desc_init(&desc, infer ? dnnl_forward_inference : dnnl_forward_training,
                                                       dnnl_convolution_direct, &src_md, &w_md,
                                                       has_bias ? &b_md : NULL, &dst_md, strides, pad, pad),
                "convolution descriptor"))
        return;
    dnnl_post_ops_t po = NULL;
    if (sum || relu) {
        dnnl_post_ops_create(&po);
        if (sum) dnnl_post_ops_append_sum(po, 1.0f);
        if (relu) dnnl_post_ops_append_eltwise(po, 1.0f, dnnl_eltwise_relu, 0.0f, 0.0f);
    }
    dnnl_primitive_desc_t pd = nn_pd(ex, &desc, po, NULL, "convolution");
    if (po) dnnl_post_ops_destroy(po);
    if (!pd) return;
    ex->plan[k].fwd_pd = pd;
    if (nd->in[0] == 0) {
        in->md = *nn_query(pd, dnnl_query_src_md, 0);
        dnnl_memory_desc_t user_md;
        dnnl_memory_desc_init_by_tag(&user_md, 4, sd, dnnl_f32, dnnl_nchw);
        ex->input_user = nn_mem_ptr(ex, &user_md, NULL);
        nn_call_reorder(ex, &ex->forward, &user_md, ex->input_user, &in->md, nn_value_mem(ex, 0), 0);
    }
    out->md = *nn_query(pd, dnnl_query_dst_md, 0);

    /* weights in the primitive's layout, refreshed by the prepare list */
    dnnl_memory_desc_t plain_md;
    nn_param_md(w, &plain_md);
    const dnnl_memory_desc_t *pw = nn_query(pd, dnnl_query_weights_md, 0);
    dnnl_memory_t wmem, bmem = NULL;
    if (infer) {
        nn_call *fold = nn_call_step(ex, &ex->prepare, step_fold);
        ex->plan[k].folded_bias = nn_buffer_new(ex, w->shape[0] * sizeof(float));
        nn_buffer_need(ex, ex->fold_tmp, w->n * sizeof(float));
        if (fold) fold->k = k, fold->a = ex->fold_tmp, fold->b = ex->plan[k].folded_bias;
        wmem = nn_mem(ex, pw, nn_buffer_new(ex, 0));
        nn_call_reorder(ex, &ex->prepare, &plain_md, nn_mem(ex, &plain_md, ex->fold_tmp), pw, wmem, 0);
        bmem = nn_mem(ex, &b_md, ex->plan[k].folded_bias);
    } else {
        dnnl_memory_t plain = nn_mem_ptr(ex, &plain_md, w->data);
        if (dnnl_memory_desc_equal(pw, &plain_md)) {
            wmem = plain;
        } else {
            wmem = nn_mem(ex, pw, nn_buffer_new(ex, 0));
            nn_call_reorder(ex, &ex->prepare, &plain_md, plain, pw, wmem, 0);
        }
        if (has_bias) bmem = nn_mem_ptr(ex, &b_md, net->params[nd->param + 1].data);
    }
    ex->plan[k].weights = wmem;
    nn_call_prim(ex, &ex->forward, pd, 4, DNNL_ARG_SRC, nn_value_mem(ex, nd->in[0]), DNNL_ARG_WEIGHTS, wmem,
                 DNNL_ARG_BIAS, bmem, DNNL_ARG_DST, nn_value_mem(ex, target));
}

void conv_plan_backward(geoloc_exec *ex, int k) {
    const geoloc_net *net = ex->net;
    const nn_node *nd = &net->nodes[k];
    const nn_value *in = &ex->values[nd->in[0]], *out = &ex->values[nd->out];
    geoloc_param *w = &net->params[nd->param];
    dnnl_dims_t wd, bd = {(dnnl_dim_t)w->shape[0]};
    dims4(wd, (int)w->shape[0], (int)w->shape[1], nd->kernel, nd->kernel);
    dnnl_memory_desc_t w_md, b_md, plain_md;
    dnnl_memory_desc_init_by_tag(&w_md, 4, wd, dnnl_f32, dnnl_format_tag_any);
    dnnl_memory_desc_init_by_tag(&b_md, 1, bd, dnnl_f32, dnnl_a);
    nn_param_md(w, &plain_md);
    dnnl_dims_t strides = {nd->stride, nd->stride}, pad = {nd->pad, nd->pad};
    dnnl_memory_t diff_dst = nn_diff_mem(ex, nd->out);

    if (nd->in[0] != 0) { /* the gradient of the input image is not needed */
        dnnl_convolution_desc_t desc;
        if (nn_fail(ex, dnnl_convolution_backward_data_desc_init(&desc, dnnl_convolution_direct, &in->md, &w_md,
                                                                 &out->md, strides, pad, pad),
                    "convolution backward-data descriptor"))
            return;
        dnnl_primitive_desc_t pd = nn_pd(ex, &desc, NULL, ex->plan[k].fwd_pd, "convolution backward data");
        if (!pd) return;
        const dnnl_memory_desc_t *pw = nn_query(pd, dnnl_query_weights_md, 0);
        dnnl_memory_t wmem = ex->plan[k].weights;
        if (!dnnl_memory_desc_equal(pw, nn_query(ex->plan[k].fwd_pd, dnnl_query_weights_md, 0))) {
            wmem = nn_mem(ex, pw, nn_buffer_new(ex, 0));
            nn_call_reorder(ex, &ex->prepare, &plain_md, nn_mem_ptr(ex, &plain_md, w->data), pw, wmem, 0);
        }
        int tmp;
        dnnl_memory_t diff_src = nn_diff_target(ex, nd->in[0], &tmp);
        nn_call_prim(ex, &ex->backward, pd, 3, DNNL_ARG_DIFF_DST, diff_dst, DNNL_ARG_WEIGHTS, wmem,
                     DNNL_ARG_DIFF_SRC, diff_src);
        nn_diff_commit(ex, nd->in[0], tmp);
    }

    dnnl_convolution_desc_t desc;
    if (nn_fail(ex, dnnl_convolution_backward_weights_desc_init(&desc, dnnl_convolution_direct, &in->md, &w_md,
                                                                nd->has_bias ? &b_md : NULL, &out->md,
                                                                strides, pad, pad),
                "convolution backward-weights descriptor"))
        return;
    dnnl_primitive_desc_t pd = nn_pd(ex, &desc, NULL, ex->plan[k].fwd_pd, "convolution backward weights");
    if (!pd) return;
    const dnnl_memory_desc_t *pdw = nn_query(pd, dnnl_query_diff_weights_md, 0);
    dnnl_memory_t dw = nn_mem(ex, pdw, ex->grad_tmp), db = NULL;
    int bias_tmp = -1;
    if (nd->has_bias) {
        bias_tmp = nn_buffer_new(ex, w->shape[0] * sizeof(float));
        db = nn_mem(ex, &b_md, bias_tmp);
    }
    nn_call_prim(ex, &ex->backward, pd, 4, DNNL_ARG_SRC, nn_conv_source(ex, nd->in[0]),
                 DNNL_ARG_DIFF_DST, diff_dst, DNNL_ARG_DIFF_WEIGHTS, dw, DNNL_ARG_DIFF_BIAS, db);
    nn_call_reorder(ex, &ex->backward, pdw, dw, &plain_md, nn_mem_ptr(ex, &plain_md, w->grad), 1);
    if (nd->has_bias) {
        nn_call *c = nn_call_step(ex, &ex->backward, nn_step_accumulate);
        if (c) c->pa = net->params[nd->param + 1].grad, c->b = bias_tmp, c->n = w->shape[0];
    }
}
