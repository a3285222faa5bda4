/* Execution of an LSTM layer on oneDNN's RNN primitives (one layer, zero
 * initial states, unidirectional or bidirectional with concatenated
 * outputs). The parameters stay in their plain PyTorch layouts (ldgoi for
 * the weights, ldgo for the bias); reorders bring them into the layouts the
 * primitives choose before each forward and backward, and bring the
 * primitive's weight gradients back, added to the layer's. */
#include <stdlib.h>
#include <string.h>

#include <dnnl.h>

#include "core/error.h"
#include "geoloc/lstm.h"

enum { W_LAYER, W_ITER, BIAS, N_PARAMS };

/* The states around the sequence, each its own zeroed memory: zero initial states
 * (explicit: without them oneDNN 2.6's unidirectional backward pairs each step's
 * gate gradients with h_t instead of h_{t-1} in diff_weights_iter), the final
 * states, their zero gradients, the initial states' gradients (not reported). */
enum { ZERO_H, ZERO_C, LAST_H, LAST_C, DIFF_LAST_H, DIFF_LAST_C, DIFF_FIRST_H, DIFF_FIRST_C, N_STATES };

/* A reorder between two memories, built once. */
typedef struct reorder {
    dnnl_primitive_t prim;
    dnnl_memory_t src, dst;
} reorder;

/* A primitive and the arguments bound to it. */
typedef struct bound {
    dnnl_primitive_t prim;
    int nargs;
    dnnl_exec_arg_t args[24]; /* the backward binds 19 */
} bound;

struct geoloc_lstm_exec {
    geoloc_lstm *l;
    int steps, batch, training;
    dnnl_engine_t engine;
    dnnl_stream_t stream;
    dnnl_primitive_desc_t fwd_pd, bwd_pd;
    bound fwd, bwd;
    reorder to_fwd[N_PARAMS], to_bwd[N_PARAMS], grad_out[N_PARAMS];
    dnnl_memory_t mems[48];     /* every memory object, for release (29 when training) */
    int n_mems;
    void *bufs[32];             /* storage of the memories the execution owns */
    int n_bufs;
    float *src, *dst, *diff_src, *diff_dst; /* plain activations [steps][batch][...] */
    float *grad_tmp[N_PARAMS];  /* a weight gradient in the plain layout before it is added */
    size_t n_params[N_PARAMS];
    dnnl_memory_t state[N_STATES]; /* hidden and cell states around the sequence (below) */
    int ran_forward;
};

static geoloc_status fail(geoloc_error *err, dnnl_status_t st, const char *what) {
    return error_set(err, GEOLOC_E_ARG, "lstm: oneDNN %s failed (status %d)", what, (int)st);
}

/* A memory object for md: over ptr, or over new storage owned by e when ptr is NULL. */
static dnnl_memory_t mem_for(geoloc_lstm_exec *e, const dnnl_memory_desc_t *md, void *ptr) {
    if (e->n_mems == (int)(sizeof e->mems / sizeof e->mems[0])) return NULL;
    if (!ptr) {
        size_t bytes = dnnl_memory_desc_get_size(md);
        if (e->n_bufs == (int)(sizeof e->bufs / sizeof e->bufs[0])) return NULL;
        ptr = calloc(bytes ? bytes : 1, 1);
        if (!ptr) return NULL;
        e->bufs[e->n_bufs++] = ptr;
    }
    dnnl_memory_t m = NULL;
    if (dnnl_memory_create(&m, md, e->engine, ptr) != dnnl_success) return NULL;
    e->mems[e->n_mems++] = m;
    return m;
}

static const dnnl_memory_desc_t *query(const_dnnl_primitive_desc_t pd, dnnl_query_t what, int index) {
    return dnnl_primitive_desc_query_md(pd, what, index);
}

static geoloc_status make_reorder(geoloc_lstm_exec *e, dnnl_memory_t src, dnnl_memory_t dst, reorder *r,
                                  geoloc_error *err) {
    const dnnl_memory_desc_t *smd, *dmd;
    dnnl_memory_get_memory_desc(src, &smd);
    dnnl_memory_get_memory_desc(dst, &dmd);
    dnnl_primitive_desc_t pd = NULL;
    dnnl_status_t st = dnnl_reorder_primitive_desc_create(&pd, smd, e->engine, dmd, e->engine, NULL);
    if (st != dnnl_success) return fail(err, st, "reorder");
    st = dnnl_primitive_create(&r->prim, pd);
    dnnl_primitive_desc_destroy(pd);
    if (st != dnnl_success) return fail(err, st, "reorder primitive");
    r->src = src, r->dst = dst;
    return GEOLOC_OK;
}

static dnnl_status_t run_reorder(geoloc_lstm_exec *e, const reorder *r) {
    dnnl_exec_arg_t args[2] = {{DNNL_ARG_FROM, r->src}, {DNNL_ARG_TO, r->dst}};
    return dnnl_primitive_execute(r->prim, e->stream, 2, args);
}

static void bind(bound *b, int arg, dnnl_memory_t m) {
    b->args[b->nargs].arg = arg;
    b->args[b->nargs].memory = m;
    b->nargs++;
}

/* The plain descriptors: activations tnc, weights ldgoi, bias ldgo. */
static void plain_mds(const geoloc_lstm_exec *e, dnnl_memory_desc_t *src, dnnl_memory_desc_t *dst,
                      dnnl_memory_desc_t param[N_PARAMS], dnnl_format_tag_t weights_tag, dnnl_memory_desc_t *state) {
    const geoloc_lstm *l = e->l;
    dnnl_dims_t sd = {e->steps, e->batch, l->input}, dd = {e->steps, e->batch, (dnnl_dim_t)l->dirs * l->hidden};
    dnnl_dims_t wl = {1, l->dirs, l->input, 4, l->hidden}, wi = {1, l->dirs, l->hidden, 4, l->hidden};
    dnnl_dims_t bd = {1, l->dirs, 4, l->hidden};
    dnnl_memory_desc_init_by_tag(src, 3, sd, dnnl_f32, dnnl_tnc);
    dnnl_memory_desc_init_by_tag(dst, 3, dd, dnnl_f32, dnnl_tnc);
    dnnl_dims_t st = {1, l->dirs, e->batch, l->hidden};
    dnnl_memory_desc_init_by_tag(state, 4, st, dnnl_f32, dnnl_ldnc);
    dnnl_memory_desc_init_by_tag(&param[W_LAYER], 5, wl, dnnl_f32, weights_tag);
    dnnl_memory_desc_init_by_tag(&param[W_ITER], 5, wi, dnnl_f32, weights_tag);
    dnnl_memory_desc_init_by_tag(&param[BIAS], 4, bd, dnnl_f32, weights_tag == dnnl_format_tag_any ? dnnl_format_tag_any : dnnl_ldgo);
}

static dnnl_rnn_direction_t direction(const geoloc_lstm *l) {
    return l->dirs == 2 ? dnnl_bidirectional_concat : dnnl_unidirectional_left2right;
}

static const dnnl_query_t param_query[N_PARAMS] = {dnnl_query_weights_md, dnnl_query_weights_md,
                                                   dnnl_query_weights_md};
static const int param_index[N_PARAMS] = {0, 1, 2};
static const int param_arg[N_PARAMS] = {DNNL_ARG_WEIGHTS_LAYER, DNNL_ARG_WEIGHTS_ITER, DNNL_ARG_BIAS};
static const int diff_param_arg[N_PARAMS] = {DNNL_ARG_DIFF_WEIGHTS_LAYER, DNNL_ARG_DIFF_WEIGHTS_ITER,
                                             DNNL_ARG_DIFF_BIAS};

static geoloc_status plan_forward(geoloc_lstm_exec *e, dnnl_memory_t plain[N_PARAMS], dnnl_memory_t *src,
                                  dnnl_memory_t *dst, geoloc_error *err) {
    dnnl_memory_desc_t smd, dmd, imd, any[N_PARAMS], plain_md[N_PARAMS];
    plain_mds(e, &smd, &dmd, any, dnnl_format_tag_any, &imd);
    plain_mds(e, &smd, &dmd, plain_md, dnnl_ldgoi, &imd);
    dnnl_rnn_desc_t desc;
    dnnl_status_t st = dnnl_lstm_forward_desc_init(&desc, e->training ? dnnl_forward_training : dnnl_forward_inference,
                                                   direction(e->l), &smd, &imd, &imd, &any[W_LAYER], &any[W_ITER],
                                                   &any[BIAS], &dmd, &imd, &imd, 0);
    if (st != dnnl_success) return fail(err, st, "lstm forward descriptor");
    if ((st = dnnl_primitive_desc_create(&e->fwd_pd, &desc, NULL, e->engine, NULL)) != dnnl_success)
        return fail(err, st, "lstm forward primitive descriptor");
    if ((st = dnnl_primitive_create(&e->fwd.prim, e->fwd_pd)) != dnnl_success) return fail(err, st, "lstm forward");
    *src = mem_for(e, &smd, e->src);
    *dst = mem_for(e, &dmd, e->dst);
    if (!*src || !*dst) return error_set(err, GEOLOC_E_NOMEM, "lstm: out of memory");
    bind(&e->fwd, DNNL_ARG_SRC_LAYER, *src);
    bind(&e->fwd, DNNL_ARG_DST_LAYER, *dst);
    for (int k = 0; k < N_STATES; k++)
        if (!(e->state[k] = mem_for(e, &imd, NULL))) return error_set(err, GEOLOC_E_NOMEM, "lstm: out of memory");
    bind(&e->fwd, DNNL_ARG_SRC_ITER, e->state[ZERO_H]);
    bind(&e->fwd, DNNL_ARG_SRC_ITER_C, e->state[ZERO_C]);
    bind(&e->fwd, DNNL_ARG_DST_ITER, e->state[LAST_H]);
    bind(&e->fwd, DNNL_ARG_DST_ITER_C, e->state[LAST_C]);
    float *data[N_PARAMS] = {e->l->w_layer, e->l->w_iter, e->l->bias};
    for (int k = 0; k < N_PARAMS; k++) {
        plain[k] = mem_for(e, &plain_md[k], data[k]);
        dnnl_memory_t w = mem_for(e, query(e->fwd_pd, param_query[k], param_index[k]), NULL);
        if (!plain[k] || !w) return error_set(err, GEOLOC_E_NOMEM, "lstm: out of memory");
        geoloc_status s = make_reorder(e, plain[k], w, &e->to_fwd[k], err);
        if (s != GEOLOC_OK) return s;
        bind(&e->fwd, param_arg[k], w);
    }
    if (e->training) {
        dnnl_memory_t ws = mem_for(e, query(e->fwd_pd, dnnl_query_workspace_md, 0), NULL);
        if (!ws) return error_set(err, GEOLOC_E_NOMEM, "lstm: out of memory for the workspace");
        bind(&e->fwd, DNNL_ARG_WORKSPACE, ws);
    }
    return GEOLOC_OK;
}

static geoloc_status plan_backward(geoloc_lstm_exec *e, dnnl_memory_t plain[N_PARAMS], dnnl_memory_t src,
                                   dnnl_memory_t dst, geoloc_error *err) {
    dnnl_memory_desc_t smd, dmd, imd, any[N_PARAMS], plain_md[N_PARAMS];
    plain_mds(e, &smd, &dmd, any, dnnl_format_tag_any, &imd);
    plain_mds(e, &smd, &dmd, plain_md, dnnl_ldgoi, &imd);
    dnnl_rnn_desc_t desc;
    dnnl_status_t st = dnnl_lstm_backward_desc_init(
        &desc, dnnl_backward, direction(e->l), &smd, &imd, &imd, &any[W_LAYER], &any[W_ITER], &any[BIAS], &dmd,
        &imd, &imd, &smd, &imd, &imd, &any[W_LAYER], &any[W_ITER], &any[BIAS], &dmd, &imd, &imd, 0);
    if (st != dnnl_success) return fail(err, st, "lstm backward descriptor");
    if ((st = dnnl_primitive_desc_create(&e->bwd_pd, &desc, NULL, e->engine, e->fwd_pd)) != dnnl_success)
        return fail(err, st, "lstm backward primitive descriptor");
    if ((st = dnnl_primitive_create(&e->bwd.prim, e->bwd_pd)) != dnnl_success) return fail(err, st, "lstm backward");
    dnnl_memory_t dsrc = mem_for(e, &smd, e->diff_src), ddst = mem_for(e, &dmd, e->diff_dst);
    if (!dsrc || !ddst) return error_set(err, GEOLOC_E_NOMEM, "lstm: out of memory");
    bind(&e->bwd, DNNL_ARG_SRC_LAYER, src);
    bind(&e->bwd, DNNL_ARG_DST_LAYER, dst);
    bind(&e->bwd, DNNL_ARG_DIFF_SRC_LAYER, dsrc);
    bind(&e->bwd, DNNL_ARG_DIFF_DST_LAYER, ddst);
    static const int state_arg[N_STATES] = {DNNL_ARG_SRC_ITER, DNNL_ARG_SRC_ITER_C, DNNL_ARG_DST_ITER,
                                            DNNL_ARG_DST_ITER_C, DNNL_ARG_DIFF_DST_ITER, DNNL_ARG_DIFF_DST_ITER_C,
                                            DNNL_ARG_DIFF_SRC_ITER, DNNL_ARG_DIFF_SRC_ITER_C};
    for (int k = 0; k < N_STATES; k++) bind(&e->bwd, state_arg[k], e->state[k]);
    /* the forward's workspace (same descriptor: the backward was hinted by the forward) */
    for (int a = 0; a < e->fwd.nargs; a++)
        if (e->fwd.args[a].arg == DNNL_ARG_WORKSPACE) bind(&e->bwd, DNNL_ARG_WORKSPACE, e->fwd.args[a].memory);
    for (int k = 0; k < N_PARAMS; k++) {
        dnnl_memory_t w = mem_for(e, query(e->bwd_pd, param_query[k], param_index[k]), NULL);
        dnnl_memory_t g = mem_for(e, query(e->bwd_pd, dnnl_query_diff_weights_md, param_index[k]), NULL);
        dnnl_memory_t gp = mem_for(e, &plain_md[k], e->grad_tmp[k]);
        if (!w || !g || !gp) return error_set(err, GEOLOC_E_NOMEM, "lstm: out of memory");
        geoloc_status s = make_reorder(e, plain[k], w, &e->to_bwd[k], err);
        if (s == GEOLOC_OK) s = make_reorder(e, g, gp, &e->grad_out[k], err);
        if (s != GEOLOC_OK) return s;
        bind(&e->bwd, param_arg[k], w);
        bind(&e->bwd, diff_param_arg[k], g);
    }
    return GEOLOC_OK;
}

geoloc_status geoloc_lstm_exec_create(geoloc_lstm *l, int steps, int batch, int training, geoloc_lstm_exec **out,
                                      geoloc_error *err) {
    *out = NULL;
    if (!l || steps < 1 || batch < 1 || steps > (1 << 20) || batch > (1 << 20))
        return error_set(err, GEOLOC_E_ARG, "lstm: %d steps and batch %d must be positive", steps, batch);
    geoloc_lstm_exec *e = calloc(1, sizeof *e);
    if (!e) return error_set(err, GEOLOC_E_NOMEM, "lstm: out of memory");
    e->l = l, e->steps = steps, e->batch = batch, e->training = training != 0;
    geoloc_lstm_param_sizes(l, e->n_params);
    size_t rows = (size_t)steps * (size_t)batch, out_w = (size_t)l->dirs * (size_t)l->hidden;
    e->src = calloc(rows * (size_t)l->input, sizeof(float));
    e->dst = calloc(rows * out_w, sizeof(float));
    int ok = e->src && e->dst;
    if (e->training) {
        e->diff_src = calloc(rows * (size_t)l->input, sizeof(float));
        e->diff_dst = calloc(rows * out_w, sizeof(float));
        ok = ok && e->diff_src && e->diff_dst;
        for (int k = 0; k < N_PARAMS; k++) ok = ok && (e->grad_tmp[k] = calloc(e->n_params[k], sizeof(float)));
    }
    geoloc_status s = GEOLOC_OK;
    dnnl_status_t st;
    if (!ok) {
        s = error_set(err, GEOLOC_E_NOMEM, "lstm: out of memory for %d steps of batch %d", steps, batch);
    } else if ((st = dnnl_engine_create(&e->engine, dnnl_cpu, 0)) != dnnl_success ||
               (st = dnnl_stream_create(&e->stream, e->engine, dnnl_stream_default_flags)) != dnnl_success) {
        s = fail(err, st, "engine");
    } else {
        dnnl_memory_t plain[N_PARAMS], src, dst;
        s = plan_forward(e, plain, &src, &dst, err);
        if (s == GEOLOC_OK && e->training) s = plan_backward(e, plain, src, dst, err);
    }
    if (s != GEOLOC_OK) {
        geoloc_lstm_exec_free(e);
        return s;
    }
    *out = e;
    return GEOLOC_OK;
}

void geoloc_lstm_exec_free(geoloc_lstm_exec *e) {
    if (!e) return;
    for (int k = 0; k < N_PARAMS; k++) {
        dnnl_primitive_destroy(e->to_fwd[k].prim);
        dnnl_primitive_destroy(e->to_bwd[k].prim);
        dnnl_primitive_destroy(e->grad_out[k].prim);
        free(e->grad_tmp[k]);
    }
    dnnl_primitive_destroy(e->fwd.prim);
    dnnl_primitive_destroy(e->bwd.prim);
    dnnl_primitive_desc_destroy(e->fwd_pd);
    dnnl_primitive_desc_destroy(e->bwd_pd);
    for (int i = 0; i < e->n_mems; i++) dnnl_memory_destroy(e->mems[i]);
    for (int i = 0; i < e->n_bufs; i++) free(e->bufs[i]);
    if (e->stream) dnnl_stream_destroy(e->stream);
    if (e->engine) dnnl_engine_destroy(e->engine);
    free(e->src);
    free(e->dst);
    free(e->diff_src);
    free(e->diff_dst);
    free(e);
}

geoloc_status geoloc_lstm_forward(geoloc_lstm_exec *e, const float *x, float *y, geoloc_error *err) {
    const geoloc_lstm *l = e->l;
    size_t rows = (size_t)e->steps * (size_t)e->batch;
    memcpy(e->src, x, rows * (size_t)l->input * sizeof(float));
    dnnl_status_t st = dnnl_success;
    for (int k = 0; k < N_PARAMS && st == dnnl_success; k++) st = run_reorder(e, &e->to_fwd[k]);
    if (st == dnnl_success) st = dnnl_primitive_execute(e->fwd.prim, e->stream, e->fwd.nargs, e->fwd.args);
    if (st == dnnl_success) st = dnnl_stream_wait(e->stream);
    if (st != dnnl_success) return fail(err, st, "lstm forward run");
    memcpy(y, e->dst, rows * (size_t)l->dirs * (size_t)l->hidden * sizeof(float));
    e->ran_forward = 1;
    return GEOLOC_OK;
}

geoloc_status geoloc_lstm_backward(geoloc_lstm_exec *e, const float *dy, float *dx, geoloc_error *err) {
    if (!e->training || !e->ran_forward)
        return error_set(err, GEOLOC_E_ARG, "lstm: backward needs a training execution after a forward");
    const geoloc_lstm *l = e->l;
    size_t rows = (size_t)e->steps * (size_t)e->batch;
    memcpy(e->diff_dst, dy, rows * (size_t)l->dirs * (size_t)l->hidden * sizeof(float));
    dnnl_status_t st = dnnl_success;
    for (int k = 0; k < N_PARAMS && st == dnnl_success; k++) {
        /* the primitive adds into its weight gradients: start them at zero */
        void *h = NULL;
        const dnnl_memory_desc_t *md;
        dnnl_memory_get_data_handle(e->grad_out[k].src, &h);
        dnnl_memory_get_memory_desc(e->grad_out[k].src, &md);
        memset(h, 0, dnnl_memory_desc_get_size(md));
        st = run_reorder(e, &e->to_bwd[k]);
    }
    if (st == dnnl_success) st = dnnl_primitive_execute(e->bwd.prim, e->stream, e->bwd.nargs, e->bwd.args);
    for (int k = 0; k < N_PARAMS && st == dnnl_success; k++) st = run_reorder(e, &e->grad_out[k]);
    if (st == dnnl_success) st = dnnl_stream_wait(e->stream);
    if (st != dnnl_success) return fail(err, st, "lstm backward run");
    float *grad[N_PARAMS] = {e->l->g_layer, e->l->g_iter, e->l->g_bias};
    for (int k = 0; k < N_PARAMS; k++)
        for (size_t i = 0; i < e->n_params[k]; i++) grad[k][i] += e->grad_tmp[k][i];
    if (dx) memcpy(dx, e->diff_src, rows * (size_t)l->input * sizeof(float));
    return GEOLOC_OK;
}
