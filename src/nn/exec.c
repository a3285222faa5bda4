/* An execution of a network for one batch shape: decides the fusions and
 * which activations are kept, plans every layer forward (and backward when
 * training), allocates all buffers once, and runs the lists. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/error.h"
#include "nn/exec.h"

/* Output shapes of every node, consumer counts. */
static void infer_shapes(geoloc_exec *ex) {
    geoloc_net *net = ex->net;
    ex->values[0] = (nn_value){.c = net->value_channels[0], .h = ex->height, .w = ex->width};
    for (size_t k = 0; k < net->n_nodes; k++) {
        const nn_node *nd = &net->nodes[k];
        const nn_value *in = &ex->values[nd->in[0]];
        nn_value *out = &ex->values[nd->out];
        out->c = net->value_channels[nd->out];
        out->h = in->h, out->w = in->w;
        if (nd->op == NN_CONV || nd->op == NN_MAXPOOL) {
            out->h = (in->h + 2 * nd->pad - nd->kernel) / nd->stride + 1;
            out->w = (in->w + 2 * nd->pad - nd->kernel) / nd->stride + 1;
        } else if (nd->op == NN_GAP) {
            out->h = out->w = 1;
        }
        for (int i = 0; i < 2; i++)
            if (nd->in[i] >= 0) ex->values[nd->in[i]].consumers++;
    }
    for (int v = 0; v < net->n_values; v++) {
        nn_value *val = &ex->values[v];
        val->root = val->diff_root = v;
        val->buffer = val->diff_buffer = -1;
        val->last_use = -1;
    }
}

static int sole_consumer(const geoloc_exec *ex, int v) {
    if (ex->values[v].consumers != 1) return -1;
    for (size_t k = 0; k < ex->net->n_nodes; k++)
        if (ex->net->nodes[k].in[0] == v || ex->net->nodes[k].in[1] == v) return (int)k;
    return -1;
}

/* Fusions and storage: relu into its batch norm or add; in training the last batch
 * norm of a block writes into its add; at inference batch norm (and the add) fold into
 * the convolution. */
static geoloc_status decide_fusions(geoloc_exec *ex) {
    geoloc_net *net = ex->net;
    for (size_t k = 0; k < net->n_nodes; k++) ex->plan[k].fused_into = -1;
    for (size_t k = 0; k < net->n_nodes; k++) {
        const nn_node *nd = &net->nodes[k];
        if (nd->op != NN_RELU) continue;
        int p = nn_producer(net, nd->in[0]);
        if (p < 0 || (net->nodes[p].op != NN_BN && net->nodes[p].op != NN_ADD) ||
            ex->values[nd->in[0]].consumers != 1)
            return error_set(ex->err, GEOLOC_E_ARG, "node %zu: a ReLU must follow a batch norm or add", k);
        ex->plan[p].relu = 1;
        ex->plan[k].fused_into = p;
        ex->values[nd->out].root = ex->values[nd->out].diff_root = nd->in[0];
    }
    for (size_t k = 0; k < net->n_nodes; k++) {
        const nn_node *nd = &net->nodes[k];
        if (nd->op == NN_CONV) {
            int b = sole_consumer(ex, nd->out);
            if (b != (int)k + 1 || net->nodes[b].op != NN_BN)
                return error_set(ex->err, GEOLOC_E_ARG, "node %zu: a convolution must feed one batch norm", k);
            if (nn_inference(ex)) {
                ex->plan[b].fused_into = (int)k;
                int a = sole_consumer(ex, net->nodes[b].out);
                if (a >= 0 && net->nodes[a].op == NN_ADD && net->nodes[a].in[0] == net->nodes[b].out) {
                    ex->plan[a].fused_into = (int)k;
                    ex->values[net->nodes[a].out].root = net->nodes[a].in[1];
                }
            }
        } else if (nd->op == NN_ADD && ex->mode == GEOLOC_NN_TRAIN) {
            int b = nn_producer(net, nd->in[0]);
            if (b < 0 || net->nodes[b].op != NN_BN || ex->values[nd->in[0]].consumers != 1 ||
                ex->plan[b].relu)
                return error_set(ex->err, GEOLOC_E_ARG, "node %zu: an add must follow a batch norm", k);
            ex->values[nd->in[0]].root = nd->out;
        }
    }
    /* kept for backward: the input, convolution, add and pooling outputs */
    ex->values[0].saved = 1;
    for (size_t k = 0; k < net->n_nodes && ex->mode == GEOLOC_NN_TRAIN; k++) {
        nn_op op = net->nodes[k].op;
        if (op == NN_CONV || op == NN_ADD || op == NN_MAXPOOL || op == NN_GAP)
            ex->values[net->nodes[k].out].saved = 1;
    }
    /* not kept but computed again in backward, for little work: the stem's
     * convolution and the shortcuts' 1x1 convolutions */
    for (size_t k = 0; k < net->n_nodes && ex->mode == GEOLOC_NN_TRAIN; k++) {
        const nn_node *nd = &net->nodes[k];
        if (nd->op != NN_CONV) continue;
        int a = sole_consumer(ex, net->nodes[k + 1].out);
        if (nd->in[0] == 0 || (a >= 0 && net->nodes[a].op == NN_ADD && net->nodes[a].in[1] == net->nodes[k + 1].out))
            ex->values[nd->out].saved = 0;
    }
    for (size_t k = 0; k < net->n_nodes; k++)
        for (int i = 0; i < 2; i++) {
            int v = net->nodes[k].in[i];
            if (v < 0) continue;
            while (ex->values[v].root != v) v = ex->values[v].root;
            if (ex->values[v].last_use < (int)k) ex->values[v].last_use = (int)k;
        }
    return GEOLOC_OK;
}

/* A prefix's output: its last value as plain NCHW maps, in the features buffer. */
static void output_plan(geoloc_exec *ex) {
    int v = ex->net->n_values - 1;
    const nn_value *val = &ex->values[v];
    dnnl_memory_desc_t plain;
    dnnl_dims_t d = {ex->batch, val->c, val->h, val->w};
    dnnl_memory_desc_init_by_tag(&plain, 4, d, dnnl_f32, dnnl_nchw);
    ex->feature_dim = val->c * val->h * val->w;
    ex->features = nn_buffer_new(ex, 0);
    float scale = nn_value_scale(ex, v);
    nn_call_reorder_scaled(ex, &ex->forward, &val->md, nn_value_mem(ex, v), &plain, nn_mem(ex, &plain, ex->features),
                           0, 1, scale > 0 ? &scale : NULL);
}

static void plan_forward(geoloc_exec *ex) {
    geoloc_net *net = ex->net;
    for (size_t k = 0; k < net->n_nodes && !ex->failed; k++) {
        ex->plan_node = (int)k;
        switch (net->nodes[k].op) {
        case NN_CONV: conv_plan(ex, (int)k); break;
        case NN_BN: bn_plan(ex, (int)k); break;
        case NN_ADD: add_plan(ex, (int)k); break;
        case NN_MAXPOOL:
        case NN_GAP: pool_plan(ex, (int)k); break;
        case NN_RELU: /* fused into its producer: the same layout */
            ex->values[net->nodes[k].out].md = ex->values[net->nodes[k].in[0]].md;
            break;
        }
        nn_release_after(ex, (int)k);
    }
    ex->plan_node = -1;
    if (ex->failed) return;
    if (net->cfg.prefix_to) output_plan(ex);
    else heads_plan(ex);
}

static void plan_backward(geoloc_exec *ex) {
    geoloc_net *net = ex->net;
    ex->plan_node = -1;
    heads_plan_backward(ex);
    ex->recompute_node = ex->source_node = -1;
    ex->recompute = ex->source_slot = -1;
    for (size_t i = net->n_nodes; i-- > 0 && !ex->failed;) {
        int k = (int)i;
        ex->plan_node = k;
        switch (net->nodes[k].op) {
        case NN_CONV: conv_plan_backward(ex, k); break;
        case NN_BN: bn_plan_backward(ex, k); break;
        case NN_ADD: add_plan_backward(ex, k); break;
        case NN_MAXPOOL:
        case NN_GAP: pool_plan_backward(ex, k); break;
        case NN_RELU: continue;
        }
        nn_diff_release(ex, net->nodes[k].out);
    }
}

/* Allocates every buffer and binds the memory objects to them. */
static void allocate(geoloc_exec *ex) {
    for (size_t i = 0; i < ex->n_buffers && !ex->failed; i++) {
        size_t bytes = (ex->buffers[i].bytes + 63) / 64 * 64;
        if (bytes == 0) bytes = 64;
        ex->buffers[i].ptr = aligned_alloc(64, bytes);
        if (!ex->buffers[i].ptr) {
            error_set(ex->err, GEOLOC_E_NOMEM, "out of memory: %zu MiB of activations",
                      geoloc_exec_bytes(ex) >> 20);
            ex->failed = 1;
            return;
        }
        memset(ex->buffers[i].ptr, 0, bytes);
    }
    for (size_t i = 0; i < ex->n_bindings && !ex->failed; i++)
        nn_fail(ex, dnnl_memory_set_data_handle(ex->bindings[i].mem, nn_ptr(ex, ex->bindings[i].buffer)),
                "binding memory");
}

/* An execution, with batch norm synchronised over `replicas` by fn when fn is set. */
static geoloc_status build(geoloc_net *net, int batch, int height, int width, geoloc_nn_mode mode,
                           geoloc_exec_sum_fn fn, void *ctx, int replicas, geoloc_exec **out, geoloc_error *err) {
    *out = NULL;
    const int min_side = net->cfg.tail_from ? 1 : 32; /* a tail's input maps are small */
    if (batch < 1 || height < min_side || width < min_side || batch > 65536 || height > 8192 || width > 8192)
        return error_set(err, GEOLOC_E_ARG, "batch %d of %dx%d inputs: need batch >= 1 and sides in [%d, 8192]",
                         batch, width, height, min_side);
    if (mode == GEOLOC_NN_TRAIN && net->cfg.n_heads == 0)
        return error_set(err, GEOLOC_E_ARG, "training needs at least one head (a loss)");
    if (mode == GEOLOC_NN_INFER_INT8 && !net->int8_range)
        return error_set(err, GEOLOC_E_ARG, "int8 inference needs a calibrated network (int8 ranges: geoloc model "
                         "quantize, geoloc weights quantize)");
    if (mode == GEOLOC_NN_CALIBRATE && !net->int8_range && !(net->int8_range = calloc(net->n_nodes, sizeof(float))))
        return error_set(err, GEOLOC_E_NOMEM, "out of memory");
    geoloc_exec *ex = calloc(1, sizeof *ex);
    if (!ex) return error_set(err, GEOLOC_E_NOMEM, "out of memory");
    ex->net = net;
    ex->mode = mode;
    ex->batch = batch, ex->height = height, ex->width = width;
    ex->sum_fn = fn, ex->sum_ctx = ctx, ex->replicas = replicas;
    ex->err = err;
    ex->values = calloc((size_t)net->n_values, sizeof *ex->values);
    ex->plan = calloc(net->n_nodes, sizeof *ex->plan);
    geoloc_status s = GEOLOC_OK;
    if (!ex->values || !ex->plan) {
        s = error_set(err, GEOLOC_E_NOMEM, "out of memory");
        goto fail;
    }
    if (nn_fail(ex, dnnl_engine_create(&ex->engine, dnnl_cpu, 0), "engine") ||
        nn_fail(ex, dnnl_stream_create(&ex->stream, ex->engine, dnnl_stream_default_flags), "stream")) {
        s = err ? err->status : GEOLOC_E_ARG;
        goto fail;
    }
    infer_shapes(ex);
    if ((s = decide_fusions(ex)) != GEOLOC_OK) goto fail;
    ex->scratchpad = nn_buffer_new(ex, 0);
    ex->fold_tmp = nn_buffer_new(ex, 0);
    ex->grad_tmp = nn_buffer_new(ex, 0);
    ex->recompute_ws = nn_buffer_new(ex, 0);
    ex->sum_buf = fn ? nn_buffer_new(ex, 0) : -1;
    ex->plan_node = -1;
    plan_forward(ex);
    if (mode == GEOLOC_NN_TRAIN && !ex->failed) plan_backward(ex);
    allocate(ex);
    if (ex->failed) {
        s = err ? err->status : GEOLOC_E_ARG;
        goto fail;
    }
    ex->params_dirty = 1;
    ex->err = NULL;
    *out = ex;
    return GEOLOC_OK;
fail:
    geoloc_exec_free(ex);
    return s;
}

geoloc_status geoloc_exec_create(geoloc_net *net, int batch, int height, int width,
                                 geoloc_nn_mode mode, geoloc_exec **out, geoloc_error *err) {
    return build(net, batch, height, width, mode, NULL, NULL, 1, out, err);
}

geoloc_status geoloc_exec_set_batch_sum(geoloc_exec *ex, geoloc_exec_sum_fn fn, void *ctx, int replicas,
                                        geoloc_error *err) {
    if (ex->mode != GEOLOC_NN_TRAIN)
        return error_set(err, GEOLOC_E_ARG, "a batch sum needs an execution created for training");
    if (fn && replicas < 1) return error_set(err, GEOLOC_E_ARG, "batch sum over %d replicas: need at least 1", replicas);
    geoloc_exec *next;
    geoloc_status s = build(ex->net, ex->batch, ex->height, ex->width, ex->mode, fn, ctx, fn ? replicas : 1, &next, err);
    if (s != GEOLOC_OK) return s;
    geoloc_exec old = *ex;
    *ex = *next;
    *next = old;
    geoloc_exec_free(next);
    return GEOLOC_OK;
}

void geoloc_exec_free(geoloc_exec *ex) {
    if (!ex) return;
    for (size_t i = 0; i < ex->n_prims; i++) dnnl_primitive_destroy(ex->prims[i]);
    for (size_t i = 0; i < ex->n_pds; i++) dnnl_primitive_desc_destroy(ex->pds[i]);
    for (size_t i = 0; i < ex->n_mems; i++) dnnl_memory_destroy(ex->mems[i]);
    for (size_t i = 0; i < ex->n_buffers; i++) free(ex->buffers[i].ptr);
    if (ex->stream) dnnl_stream_destroy(ex->stream);
    if (ex->engine) dnnl_engine_destroy(ex->engine);
    free(ex->prims);
    free(ex->pds);
    free(ex->mems);
    free(ex->buffers);
    free(ex->bindings);
    free(ex->pool);
    free(ex->pool_busy);
    nn_list *lists[3] = {&ex->prepare, &ex->forward, &ex->backward};
    for (int i = 0; i < 3; i++) {
        free(lists[i]->v);
        free(lists[i]->seconds);
    }
    free(ex->values);
    free(ex->plan);
    free(ex);
}

void geoloc_exec_params_changed(geoloc_exec *ex) { ex->params_dirty = 1; }

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* Runs the calls of list; when profiling, adds each call's time (CPU primitives
 * run synchronously, so a call's time is its own). */
static geoloc_status run(geoloc_exec *ex, nn_list *list, geoloc_error *err) {
    ex->run_err = err;
    ex->run_status = GEOLOC_OK;
    double t = list->seconds ? now() : 0.0;
    for (size_t i = 0; i < list->n; i++) {
        const nn_call *c = &list->v[i];
        if (c->step) {
            c->step(ex, c);
            if (ex->run_status != GEOLOC_OK) return ex->run_status;
        } else {
            dnnl_status_t st = dnnl_primitive_execute(c->prim, ex->stream, c->nargs, c->args);
            if (st != dnnl_success)
                return error_set(err, GEOLOC_E_ARG, "oneDNN: executing call %zu failed (status %d)", i, (int)st);
        }
        if (list->seconds) {
            double t1 = now();
            list->seconds[i] += t1 - t;
            t = t1;
        }
    }
    if (list->seconds) list->runs++;
    dnnl_status_t st = dnnl_stream_wait(ex->stream);
    return st == dnnl_success ? GEOLOC_OK
                              : error_set(err, GEOLOC_E_ARG, "oneDNN: stream wait failed (status %d)", (int)st);
}

geoloc_status geoloc_exec_forward(geoloc_exec *ex, const float *input, geoloc_error *err) {
    if (ex->params_dirty) {
        geoloc_status s = run(ex, &ex->prepare, err);
        if (s != GEOLOC_OK) return s;
        ex->params_dirty = 0;
    }
    if (dnnl_memory_set_data_handle(ex->input_user, (void *)input) != dnnl_success)
        return error_set(err, GEOLOC_E_ARG, "oneDNN: cannot bind the input");
    return run(ex, &ex->forward, err);
}

geoloc_status geoloc_exec_backward(geoloc_exec *ex, const int32_t *const *labels,
                                   const float *head_weights, float *losses,
                                   geoloc_error *err) {
    if (ex->mode != GEOLOC_NN_TRAIN)
        return error_set(err, GEOLOC_E_ARG, "backward needs an execution created for training");
    for (size_t h = 0; h < ex->net->cfg.n_heads; h++)
        for (int i = 0; i < ex->batch; i++)
            if (labels[h][i] < -1 || labels[h][i] >= ex->net->cfg.heads[h].classes)
                return error_set(err, GEOLOC_E_RANGE, "head %s: label %d of photo %d is outside [-1, %d)",
                                 ex->net->cfg.heads[h].name, (int)labels[h][i], i,
                                 ex->net->cfg.heads[h].classes);
    ex->labels = labels;
    ex->head_weights = head_weights;
    geoloc_status s = run(ex, &ex->backward, err);
    if (losses)
        for (size_t h = 0; h < ex->net->cfg.n_heads; h++) losses[h] = ex->losses[h];
    return s;
}

const float *geoloc_exec_logits(const geoloc_exec *ex, size_t head) {
    return head < ex->net->cfg.n_heads ? nn_ptr(ex, ex->logits[head]) : NULL;
}

const float *geoloc_exec_features(const geoloc_exec *ex) { return nn_ptr(ex, ex->features); }

int geoloc_exec_feature_dim(const geoloc_exec *ex) { return ex->feature_dim; }

void geoloc_exec_output_shape(const geoloc_exec *ex, int *channels, int *height, int *width) {
    const nn_value *v = &ex->values[ex->net->cfg.prefix_to ? ex->net->n_values - 1 : ex->net->feature_value];
    *channels = v->c, *height = v->h, *width = v->w;
}

size_t geoloc_exec_bytes(const geoloc_exec *ex) {
    size_t total = 0;
    for (size_t i = 0; i < ex->n_buffers; i++) total += ex->buffers[i].bytes;
    return total;
}
