/* The residual add of a block, with the block's final ReLU, forward and
 * backward (training; inference fuses it into the block's last convolution).
 * The last batch norm of the block wrote straight into the add's output, so
 * the add runs in place; backward masks the gradient by the ReLU in place
 * and hands the same storage to both branches. */
#include <stdint.h>
#include <string.h>

#include "nn/exec.h"

void add_plan(geoloc_exec *ex, int k) {
    if (ex->plan[k].fused_into >= 0) return;
    const nn_node *nd = &ex->net->nodes[k];
    nn_value *a = &ex->values[nd->in[0]], *b = &ex->values[nd->in[1]], *out = &ex->values[nd->out];
    dnnl_binary_desc_t desc;
    if (nn_fail(ex, dnnl_binary_desc_init(&desc, dnnl_binary_add, &a->md, &b->md, &a->md), "add descriptor"))
        return;
    dnnl_post_ops_t po = NULL;
    if (ex->plan[k].relu) {
        dnnl_post_ops_create(&po);
        dnnl_post_ops_append_eltwise(po, 1.0f, dnnl_eltwise_relu, 0.0f, 0.0f);
    }
    dnnl_primitive_desc_t pd = nn_pd(ex, &desc, po, NULL, "add");
    if (po) dnnl_post_ops_destroy(po);
    if (!pd) return;
    out->md = a->md;
    nn_call_prim(ex, &ex->forward, pd, 3, DNNL_ARG_SRC_0, nn_value_mem(ex, nd->in[0]), DNNL_ARG_SRC_1,
                 nn_value_mem(ex, nd->in[1]), DNNL_ARG_DST, nn_value_mem(ex, nd->out));
}

/* Step: gradient a = (a + b) where the ReLU output c is positive, else 0 (n floats):
 * the sum completing a gradient and the ReLU's backward in one pass. */
static void step_sum_relu(geoloc_exec *ex, const nn_call *c) {
    float *restrict a = nn_ptr(ex, c->a);
    const float *restrict b = nn_ptr(ex, c->b), *restrict y = nn_ptr(ex, c->c);
    size_t n = c->n;
    /* y > 0 on the bits (+0 and NaN excluded, as the float comparison): integer
     * compare and mask vectorise where a float comparison (it may trap) does not */
#pragma omp parallel for simd schedule(static)
    for (size_t i = 0; i < n; i++) {
        float sum = a[i] + b[i];
        uint32_t bits, out;
        memcpy(&bits, &y[i], sizeof bits);
        memcpy(&out, &sum, sizeof out);
        out &= bits - 1u < 0x7f800000u ? 0xffffffffu : 0u;
        memcpy(&a[i], &out, sizeof out);
    }
}

/* Joins the ReLU mask of add k to the sum that completed its output's gradient; 0 when
 * there is none (or the layouts differ). */
static int join_relu(geoloc_exec *ex, int k) {
    const nn_node *nd = &ex->net->nodes[k];
    nn_call *c = nn_diff_last_sum(ex, &ex->backward, nd->out);
    const dnnl_memory_desc_t *gmd = NULL;
    dnnl_memory_t d_out = nn_diff_mem(ex, nd->out);
    if (!c || !d_out || dnnl_memory_get_memory_desc(d_out, &gmd) != dnnl_success ||
        !dnnl_memory_desc_equal(gmd, &ex->values[nd->out].md))
        return 0;
    nn_value_mem(ex, nd->out);
    c->step = step_sum_relu;
    c->name = "step_sum_relu";
    c->c = ex->values[nn_root(ex, nd->out)].buffer;
    return 1;
}

void add_plan_backward(geoloc_exec *ex, int k) {
    const nn_node *nd = &ex->net->nodes[k];
    const nn_value *out = &ex->values[nd->out];
    if (ex->plan[k].relu && !join_relu(ex, k)) { /* the ReLU mask, in place on the output's gradient */
        dnnl_eltwise_desc_t desc, fdesc;
        if (nn_fail(ex, dnnl_eltwise_backward_desc_init(&desc, dnnl_eltwise_relu_use_dst_for_bwd, &out->md,
                                                        &out->md, 0.0f, 0.0f),
                    "relu backward descriptor") ||
            nn_fail(ex, dnnl_eltwise_forward_desc_init(&fdesc, dnnl_forward_training, dnnl_eltwise_relu_use_dst_for_bwd,
                                                       &out->md, 0.0f, 0.0f),
                    "relu descriptor"))
            return;
        /* the forward descriptor is the hint oneDNN requires */
        dnnl_primitive_desc_t hint = nn_pd(ex, &fdesc, NULL, NULL, "relu");
        dnnl_primitive_desc_t pd = hint ? nn_pd(ex, &desc, NULL, hint, "relu backward") : NULL;
        if (!pd) return;
        dnnl_memory_t d_out = nn_diff_mem(ex, nd->out);
        nn_call_prim(ex, &ex->backward, pd, 3, DNNL_ARG_DIFF_DST, d_out, DNNL_ARG_DST, nn_value_mem(ex, nd->out),
                     DNNL_ARG_DIFF_SRC, d_out);
    }
    /* both branches get the same gradient: shared storage */
    nn_diff_share(ex, nd->in[0], nd->out);
#ifdef GEOLOC_MUTANT_CUT_GRADIENT
    /* a deliberately broken build for the learning tests: identity shortcuts
     * pass no gradient back (a downsampling shortcut still needs one) */
    if (nn_producer(ex->net, nd->in[1]) >= 0 && ex->net->nodes[nn_producer(ex->net, nd->in[1])].op == NN_BN)
#endif
    nn_diff_share(ex, nd->in[1], nd->out);
}
