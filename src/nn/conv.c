/* 2-D convolution, forward and backward. Training: the convolution alone
 * (its batch norm follows as a node of its own); backward gives the input
 * gradient and the weight (and bias) gradients, added to the parameters'.
 * Inference: the following batch norm is folded into the weights and bias,
 * and a following residual add (into the shortcut's buffer) and ReLU run as
 * post-ops of the same primitive. int8 inference (every convolution after the
 * stem): u8 activations and s8 weights, one weight step per output channel and
 * one activation step per tensor from the calibrated ranges; calibration
 * records each fused output's largest |value|. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"

#include "nn/exec.h"

static void dims4(dnnl_dims_t d, int n, int c, int h, int w) {
    d[0] = n, d[1] = c, d[2] = h, d[3] = w;
}

/* Conv node k's weights and bias with its batch norm folded in: fw (w->n floats), fb. */
static void fold(const geoloc_net *net, int k, float *fw, float *fb) {
    const nn_node *conv = &net->nodes[k];
    const geoloc_param *w = &net->params[conv->param];
    const float *bias = conv->has_bias ? net->params[conv->param + 1].data : NULL;
    const nn_node *bn = &net->nodes[k + 1];
    const float *gamma = net->params[bn->param].data, *beta = net->params[bn->param + 1].data;
    const float *mean = net->params[bn->param + 2].data, *var = net->params[bn->param + 3].data;
    size_t out = w->shape[0], per = w->n / out;
    for (size_t o = 0; o < out; o++) {
        float scale = gamma[o] / sqrtf(var[o] + net->cfg.bn_eps);
        for (size_t i = 0; i < per; i++) fw[o * per + i] = w->data[o * per + i] * scale;
        fb[o] = ((bias ? bias[o] : 0.0f) - mean[o]) * scale + beta[o];
    }
}

/* int8: the step of one output channel's s8 weights, largest |w| / 127 (1 when all zero). */
static float weight_step(const float *w, size_t n) {
    float m = 0.0f;
    for (size_t i = 0; i < n; i++) m = fmaxf(m, fabsf(w[i]));
    return m > 0.0f ? m / 127.0f : 1.0f;
}

/* Prepare step: folded weights (into buffer a) and bias (buffer b) of conv node c->k; for
 * int8 (c->f: the input's step) the bias in units of the s32 accumulator. */
static void step_fold(geoloc_exec *ex, const nn_call *c) {
    const geoloc_param *w = &ex->net->params[ex->net->nodes[c->k].param];
    float *fw = nn_ptr(ex, c->a), *fb = nn_ptr(ex, c->b);
    fold(ex->net, c->k, fw, fb);
    size_t out = w->shape[0], per = w->n / out;
    if (c->f > 0)
        for (size_t o = 0; o < out; o++) fb[o] /= c->f * weight_step(fw + o * per, per);
}

/* Calibration step after conv c->k: its output's largest |value| (c->n floats of
 * buffer a) raises the network's range. */
static void step_observe(geoloc_exec *ex, const nn_call *c) {
    const float *x = nn_ptr(ex, c->a);
    float m = 0.0f;
#pragma omp parallel for simd reduction(max : m) schedule(static)
    for (size_t i = 0; i < c->n; i++) m = fmaxf(m, fabsf(x[i]));
    float *range = &ex->net->int8_range[c->k];
    if (m > *range) *range = m;
}

/* The node after conv k is its batch norm (the builder's order); in inference also
 * the value the fused chain produces, its post-ops and the shortcut the sum adds. */
static int fused_target(geoloc_exec *ex, int k, int *sum, int *relu, int *shortcut) {
    const geoloc_net *net = ex->net;
    int bn = k + 1;
    *sum = 0;
    *relu = ex->plan[bn].relu;
    *shortcut = -1;
    int target = net->nodes[bn].out;
    for (size_t a = (size_t)bn + 1; a < net->n_nodes; a++)
        if (net->nodes[a].op == NN_ADD && ex->plan[a].fused_into == k) {
            *sum = 1;
            *relu = ex->plan[a].relu;
            *shortcut = net->nodes[a].in[1];
            target = net->nodes[a].out;
        }
    return target;
}

/* int8 convolution k: u8 input of step s_in, s8 weights with one step per output channel,
 * output u8 (after a ReLU) or s8 of step s_out = range / 255 or 127; the residual sum
 * reads the shortcut in its own type and step. Sets the output scales and post-ops. */
typedef struct int8_plan {
    float s_in, s_out;
    float *out_scales, *weight_scales; /* per output channel: s_in w / s_out, 1 / w */
} int8_plan;

static int int8_prepare(geoloc_exec *ex, int k, int relu, int8_plan *q) {
    const geoloc_net *net = ex->net;
    const geoloc_param *w = &net->params[net->nodes[k].param];
    size_t out = w->shape[0], per = w->n / out;
    q->s_in = nn_value_scale(ex, net->nodes[k].in[0]);
    q->s_out = net->int8_range[k] / (relu ? 255.0f : 127.0f);
    float *fw = malloc(w->n * sizeof *fw), *fb = malloc(out * sizeof *fb);
    q->out_scales = malloc(out * sizeof *q->out_scales);
    q->weight_scales = malloc(out * sizeof *q->weight_scales);
    int ok = fw && fb && q->out_scales && q->weight_scales && q->s_in > 0;
    if (ok) {
        fold(net, k, fw, fb);
        for (size_t o = 0; o < out; o++) {
            float step = weight_step(fw + o * per, per);
            q->out_scales[o] = q->s_in * step / q->s_out;
            q->weight_scales[o] = 1.0f / step;
        }
    } else if (!ex->failed) {
        error_set(ex->err, q->s_in > 0 ? GEOLOC_E_NOMEM : GEOLOC_E_ARG,
                  q->s_in > 0 ? "out of memory" : "node %d: an int8 convolution needs a quantised input", k);
        ex->failed = 1;
    }
    free(fw);
    free(fb);
    return ok;
}

/* The md with another data type (same dims and layout). */
static dnnl_memory_desc_t with_type(const dnnl_memory_desc_t *md, dnnl_data_type_t dt) {
    dnnl_memory_desc_t r = *md;
    r.data_type = dt;
    return r;
}

void conv_plan(geoloc_exec *ex, int k) {
    const geoloc_net *net = ex->net;
    const nn_node *nd = &net->nodes[k];
    nn_value *in = &ex->values[nd->in[0]];
    const int infer = nn_inference(ex);
    const int int8 = ex->mode == GEOLOC_NN_INFER_INT8 && nd->in[0] != 0;
    int sum = 0, relu = 0, shortcut = -1;
    int target = infer ? fused_target(ex, k, &sum, &relu, &shortcut) : nd->out;
    nn_value *out = &ex->values[target];
    geoloc_param *w = &net->params[nd->param];
    const int has_bias = infer || nd->has_bias;
    int8_plan q = {0};
    if (int8 && !int8_prepare(ex, k, relu, &q)) goto done;
    dnnl_data_type_t dst_dt = int8 ? (relu ? dnnl_u8 : dnnl_s8) : dnnl_f32;

    dnnl_dims_t sd, wd, dd, bd = {(dnnl_dim_t)w->shape[0]};
    dims4(sd, ex->batch, in->c, in->h, in->w);
    dims4(wd, (int)w->shape[0], (int)w->shape[1], nd->kernel, nd->kernel);
    dims4(dd, ex->batch, out->c, out->h, out->w);
    dnnl_memory_desc_t src_md, w_md, b_md, dst_md;
    /* the input's layout is the first convolution's choice (a tail's input has two readers) */
    const int first_reader = nd->in[0] == 0 && !ex->input_user;
    if (first_reader)
        dnnl_memory_desc_init_by_tag(&src_md, 4, sd, dnnl_f32, dnnl_format_tag_any);
    else
        src_md = in->md;
    dnnl_memory_desc_init_by_tag(&w_md, 4, wd, int8 ? dnnl_s8 : dnnl_f32, dnnl_format_tag_any);
    dnnl_memory_desc_init_by_tag(&b_md, 1, bd, dnnl_f32, dnnl_a);
    if (sum)
        dst_md = with_type(&ex->values[nn_root(ex, target)].md, dst_dt);
    else
        dnnl_memory_desc_init_by_tag(&dst_md, 4, dd, dst_dt, dnnl_format_tag_any);
    dnnl_dims_t strides = {nd->stride, nd->stride}, pad = {nd->pad, nd->pad};
    dnnl_convolution_desc_t desc;
    if (nn_fail(ex, dnnl_convolution_forward_desc_init(&desc, infer ? dnnl_forward_inference : dnnl_forward_training,
                                                       dnnl_convolution_direct, &src_md, &w_md,
                                                       has_bias ? &b_md : NULL, &dst_md, strides, pad, pad),
                "convolution descriptor"))
        goto done;
    dnnl_post_ops_t po = NULL;
    if (sum || relu) {
        dnnl_post_ops_create(&po);
        if (sum && int8)
            dnnl_post_ops_append_sum_v2(po, nn_value_scale(ex, shortcut) / q.s_out,
                                        ex->values[shortcut].md.data_type);
        else if (sum)
            dnnl_post_ops_append_sum(po, 1.0f);
        if (relu) dnnl_post_ops_append_eltwise(po, 1.0f, dnnl_eltwise_relu, 0.0f, 0.0f);
    }
    dnnl_primitive_desc_t pd = int8 ? nn_pd_scaled(ex, &desc, po, 2, (int)w->shape[0], q.out_scales, "int8 convolution")
                                    : nn_pd(ex, &desc, po, NULL, "convolution");
    if (po) dnnl_post_ops_destroy(po);
    if (!pd) goto done;
    ex->plan[k].fwd_pd = pd;
    if (first_reader) {
        in->md = *nn_query(pd, dnnl_query_src_md, 0);
        dnnl_memory_desc_t user_md;
        dnnl_memory_desc_init_by_tag(&user_md, 4, sd, dnnl_f32, dnnl_nchw);
        ex->input_user = nn_mem_ptr(ex, &user_md, NULL);
        nn_call_reorder(ex, &ex->forward, &user_md, ex->input_user, &in->md, nn_value_mem(ex, 0), 0);
    }
    out->md = *nn_query(pd, dnnl_query_dst_md, 0);
    out->scale = q.s_out;

    /* weights in the primitive's layout, refreshed by the prepare list */
    dnnl_memory_desc_t plain_md;
    nn_param_md(w, &plain_md);
    const dnnl_memory_desc_t *pw = nn_query(pd, dnnl_query_weights_md, 0);
    dnnl_memory_t wmem, bmem = NULL;
    if (infer) {
        nn_call *fold_call = nn_call_step(ex, &ex->prepare, step_fold);
        ex->plan[k].folded_bias = nn_buffer_new(ex, w->shape[0] * sizeof(float));
        nn_buffer_need(ex, ex->fold_tmp, w->n * sizeof(float));
        if (fold_call) fold_call->k = k, fold_call->a = ex->fold_tmp, fold_call->b = ex->plan[k].folded_bias, fold_call->f = q.s_in;
        wmem = nn_mem(ex, pw, nn_buffer_new(ex, 0));
        dnnl_memory_t folded = nn_mem(ex, &plain_md, ex->fold_tmp);
        if (int8)
            nn_call_reorder_scaled(ex, &ex->prepare, &plain_md, folded, pw, wmem, 1, (int)w->shape[0], q.weight_scales);
        else
            nn_call_reorder(ex, &ex->prepare, &plain_md, folded, pw, wmem, 0);
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
    if (ex->mode == GEOLOC_NN_CALIBRATE) {
        nn_call *obs = nn_call_step(ex, &ex->forward, step_observe);
        if (obs) {
            obs->k = k;
            obs->a = ex->values[nn_root(ex, target)].buffer;
            obs->n = dnnl_memory_desc_get_size(&out->md) / sizeof(float);
        }
    }
done:
    free(q.out_scales);
    free(q.weight_scales);
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
