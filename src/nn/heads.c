/* The classification heads: one fully connected layer per head on the plain
 * pooled features, forward and backward (with the loss step). The heads'
 * input gradients are summed into the features' gradient. */
#include "nn/exec.h"
#include "nn/loss.h"

static void md2(dnnl_memory_desc_t *md, int rows, int cols) {
    dnnl_dims_t d = {rows, cols};
    dnnl_memory_desc_init_by_tag(md, 2, d, dnnl_f32, dnnl_ab);
}

void heads_plan(geoloc_exec *ex) {
    const geoloc_net *net = ex->net;
    dnnl_memory_desc_t src;
    md2(&src, ex->batch, ex->feature_dim);
    dnnl_memory_t features = nn_mem(ex, &src, ex->features);
    for (size_t h = 0; h < net->cfg.n_heads; h++) {
        geoloc_param *w = &net->params[net->head_param[h]], *b = w + 1;
        int classes = net->cfg.heads[h].classes;
        dnnl_memory_desc_t wmd, bmd, dmd;
        md2(&wmd, classes, ex->feature_dim);
        nn_vector_md(&bmd, classes);
        md2(&dmd, ex->batch, classes);
        dnnl_inner_product_desc_t desc;
        if (nn_fail(ex, dnnl_inner_product_forward_desc_init(&desc, ex->mode == GEOLOC_NN_TRAIN ? dnnl_forward_training
                                                                                             : dnnl_forward_inference,
                                                             &src, &wmd, &bmd, &dmd),
                    "head descriptor"))
            return;
        dnnl_primitive_desc_t pd = nn_pd(ex, &desc, NULL, NULL, "head");
        if (!pd) return;
        ex->head_pd[h] = pd;
        ex->logits[h] = nn_buffer_new(ex, 0);
        nn_call_prim(ex, &ex->forward, pd, 4, DNNL_ARG_SRC, features, DNNL_ARG_WEIGHTS, nn_mem_ptr(ex, &wmd, w->data),
                     DNNL_ARG_BIAS, nn_mem_ptr(ex, &bmd, b->data), DNNL_ARG_DST, nn_mem(ex, &dmd, ex->logits[h]));
    }
}

/* Loss step of head c->k: mean cross-entropy and the logits' gradient. */
static void step_loss(geoloc_exec *ex, const nn_call *c) {
    size_t h = (size_t)c->k;
    float weight = ex->head_weights ? ex->head_weights[h] : 1.0f;
    ex->losses[h] = (float)nn_cross_entropy(nn_ptr(ex, ex->logits[h]), ex->labels[h], (size_t)ex->batch,
                                            (size_t)ex->net->cfg.heads[h].classes, weight,
                                            nn_ptr(ex, ex->dlogits[h]));
}

/* Step: bias gradient += column sums of the logits' gradient (c->k rows of c->n). */
static void step_bias_grad(geoloc_exec *ex, const nn_call *c) {
    const float *d = nn_ptr(ex, c->b);
    for (int r = 0; r < c->k; r++)
        for (size_t j = 0; j < c->n; j++) c->pa[j] += d[(size_t)r * c->n + j];
}

void heads_plan_backward(geoloc_exec *ex) {
    const geoloc_net *net = ex->net;
    dnnl_memory_desc_t src;
    md2(&src, ex->batch, ex->feature_dim);
    ex->dfeatures = nn_buffer_new(ex, 0);
    ex->dfeatures_tmp = nn_buffer_new(ex, 0);
    for (size_t h = 0; h < net->cfg.n_heads; h++) {
        geoloc_param *w = &net->params[net->head_param[h]], *b = w + 1;
        int classes = net->cfg.heads[h].classes;
        dnnl_memory_desc_t wmd, dmd;
        md2(&wmd, classes, ex->feature_dim);
        md2(&dmd, ex->batch, classes);
        ex->dlogits[h] = nn_buffer_new(ex, 0);
        dnnl_memory_t dlogits = nn_mem(ex, &dmd, ex->dlogits[h]);
        nn_call *loss = nn_call_step(ex, &ex->backward, step_loss);
        if (loss) loss->k = (int)h;

        dnnl_inner_product_desc_t desc;
        if (nn_fail(ex, dnnl_inner_product_backward_data_desc_init(&desc, &src, &wmd, &dmd), "head backward data"))
            return;
        dnnl_primitive_desc_t pd = nn_pd(ex, &desc, NULL, ex->head_pd[h], "head backward data");
        int into = h == 0 ? ex->dfeatures : ex->dfeatures_tmp;
        nn_call_prim(ex, &ex->backward, pd, 3, DNNL_ARG_DIFF_DST, dlogits, DNNL_ARG_WEIGHTS,
                     nn_mem_ptr(ex, &wmd, w->data), DNNL_ARG_DIFF_SRC, nn_mem(ex, &src, into));
        nn_call *acc = h > 0 ? nn_call_step(ex, &ex->backward, nn_step_accumulate) : NULL;
        if (acc) acc->a = ex->dfeatures, acc->b = ex->dfeatures_tmp, acc->n = (size_t)ex->batch * ex->feature_dim;

        /* weight gradient += dlogits^T features: a matmul with a sum post-op, so
         * the gradient is added in place (no temporary of the head's size) */
        dnnl_dims_t at = {classes, ex->batch}, a_strides = {1, classes};
        dnnl_memory_desc_t a_md;
        dnnl_memory_desc_init_by_strides(&a_md, 2, at, dnnl_f32, a_strides);
        dnnl_matmul_desc_t mdesc;
        if (nn_fail(ex, dnnl_matmul_desc_init(&mdesc, &a_md, &src, NULL, &wmd), "head weight gradient"))
            return;
        dnnl_post_ops_t po = NULL;
        dnnl_post_ops_create(&po);
        dnnl_post_ops_append_sum(po, 1.0f);
        pd = nn_pd(ex, &mdesc, po, NULL, "head weight gradient");
        dnnl_post_ops_destroy(po);
        nn_call_prim(ex, &ex->backward, pd, 3, DNNL_ARG_SRC, nn_mem(ex, &a_md, ex->dlogits[h]), DNNL_ARG_WEIGHTS,
                     nn_mem(ex, &src, ex->features), DNNL_ARG_DST, nn_mem_ptr(ex, &wmd, w->grad));
        nn_call *c = nn_call_step(ex, &ex->backward, step_bias_grad);
        if (c) c->pa = b->grad, c->b = ex->dlogits[h], c->n = (size_t)classes, c->k = ex->batch;
    }
}
