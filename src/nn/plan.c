/* Planning helpers of an execution: buffers whose sizes are settled after
 * planning, memory objects bound to them, primitives and their descriptors
 * kept for release, calls appended to lists, the pool of activation slots
 * shared by values that are not needed at the same time, and gradients
 * that are written fresh or added to. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/array.h"
#include "core/error.h"
#include "nn/exec.h"

/* ---- bookkeeping ---------------------------------------------------------------- */

int nn_fail(geoloc_exec *ex, dnnl_status_t st, const char *what) {
    if (st == dnnl_success) return 0;
    if (!ex->failed)
        error_set(ex->err, st == dnnl_out_of_memory ? GEOLOC_E_NOMEM : GEOLOC_E_ARG,
                  "oneDNN: %s failed (status %d)", what, (int)st);
    ex->failed = 1;
    return 1;
}

static void oom(geoloc_exec *ex) {
    if (!ex->failed) error_set(ex->err, GEOLOC_E_NOMEM, "out of memory planning the network");
    ex->failed = 1;
}

int nn_buffer_new(geoloc_exec *ex, size_t bytes) {
    if (array_grow((void **)&ex->buffers, &ex->cap_buffers, ex->n_buffers + 1, sizeof *ex->buffers)) {
        oom(ex);
        return 0;
    }
    ex->buffers[ex->n_buffers] = (nn_buffer){.bytes = bytes};
    return (int)ex->n_buffers++;
}

void nn_buffer_need(geoloc_exec *ex, int id, size_t bytes) {
    if (ex->buffers[id].bytes < bytes) ex->buffers[id].bytes = bytes;
}

float *nn_ptr(const geoloc_exec *ex, int id) { return ex->buffers[id].ptr; }

static dnnl_memory_t keep_mem(geoloc_exec *ex, dnnl_memory_t m) {
    if (array_grow((void **)&ex->mems, &ex->cap_mems, ex->n_mems + 1, sizeof *ex->mems)) {
        dnnl_memory_destroy(m);
        oom(ex);
        return NULL;
    }
    return ex->mems[ex->n_mems++] = m;
}

dnnl_memory_t nn_mem(geoloc_exec *ex, const dnnl_memory_desc_t *md, int id) {
    dnnl_memory_t m = NULL;
    if (ex->failed || nn_fail(ex, dnnl_memory_create(&m, md, ex->engine, DNNL_MEMORY_NONE), "memory"))
        return NULL;
    if (!keep_mem(ex, m)) return NULL;
    nn_buffer_need(ex, id, dnnl_memory_desc_get_size(md));
    if (array_grow((void **)&ex->bindings, &ex->cap_bindings, ex->n_bindings + 1, sizeof *ex->bindings)) {
        oom(ex);
        return NULL;
    }
    ex->bindings[ex->n_bindings++] = (nn_binding){.mem = m, .buffer = id};
    return m;
}

dnnl_memory_t nn_mem_ptr(geoloc_exec *ex, const dnnl_memory_desc_t *md, void *ptr) {
    dnnl_memory_t m = NULL;
    if (ex->failed || nn_fail(ex, dnnl_memory_create(&m, md, ex->engine, ptr), "memory"))
        return NULL;
    return keep_mem(ex, m);
}

dnnl_primitive_t nn_prim(geoloc_exec *ex, dnnl_primitive_desc_t pd) {
    dnnl_primitive_t p = NULL;
    if (ex->failed || !pd || nn_fail(ex, dnnl_primitive_create(&p, pd), "primitive creation"))
        return NULL;
    if (array_grow((void **)&ex->prims, &ex->cap_prims, ex->n_prims + 1, sizeof *ex->prims)) {
        dnnl_primitive_destroy(p);
        oom(ex);
        return NULL;
    }
    return ex->prims[ex->n_prims++] = p;
}

/* A primitive descriptor with the user scratchpad, post-ops and output scales when given. */
static dnnl_primitive_desc_t make_pd(geoloc_exec *ex, const void *op_desc, const dnnl_post_ops_t post_ops,
                                     int mask, int n_scales, const float *scales,
                                     const_dnnl_primitive_desc_t hint, const char *what) {
    if (ex->failed) return NULL;
    dnnl_primitive_attr_t attr = NULL;
    dnnl_primitive_desc_t pd = NULL;
    if (nn_fail(ex, dnnl_primitive_attr_create(&attr), what)) return NULL;
    dnnl_status_t st = dnnl_primitive_attr_set_scratchpad_mode(attr, dnnl_scratchpad_mode_user);
    if (st == dnnl_success && post_ops) st = dnnl_primitive_attr_set_post_ops(attr, post_ops);
    if (st == dnnl_success && scales) st = dnnl_primitive_attr_set_output_scales(attr, n_scales, mask, scales);
    if (st == dnnl_success) st = dnnl_primitive_desc_create(&pd, op_desc, attr, ex->engine, hint);
    dnnl_primitive_attr_destroy(attr);
    if (nn_fail(ex, st, what)) return NULL;
    if (array_grow((void **)&ex->pds, &ex->cap_pds, ex->n_pds + 1, sizeof *ex->pds)) {
        dnnl_primitive_desc_destroy(pd);
        oom(ex);
        return NULL;
    }
    return ex->pds[ex->n_pds++] = pd;
}

dnnl_primitive_desc_t nn_pd(geoloc_exec *ex, const void *op_desc, const dnnl_post_ops_t post_ops,
                            const_dnnl_primitive_desc_t hint, const char *what) {
    return make_pd(ex, op_desc, post_ops, 0, 0, NULL, hint, what);
}

dnnl_primitive_desc_t nn_pd_scaled(geoloc_exec *ex, const void *op_desc, const dnnl_post_ops_t post_ops,
                                   int mask, int n_scales, const float *scales, const char *what) {
    return make_pd(ex, op_desc, post_ops, mask, n_scales, scales, NULL, what);
}

const dnnl_memory_desc_t *nn_query(const_dnnl_primitive_desc_t pd, dnnl_query_t what, int index) {
    return dnnl_primitive_desc_query_md(pd, what, index);
}

static nn_call *append(geoloc_exec *ex, nn_list *list) {
    if (array_grow((void **)&list->v, &list->cap, list->n + 1, sizeof *list->v)) {
        oom(ex);
        return NULL;
    }
    nn_call *c = &list->v[list->n++];
    memset(c, 0, sizeof *c);
    c->a = c->b = c->c = -1;
    c->node = ex->plan_node;
    return c;
}

void nn_call_prim(geoloc_exec *ex, nn_list *list, dnnl_primitive_desc_t pd, int n, ...) {
    dnnl_primitive_t prim = nn_prim(ex, pd);
    nn_call *c = prim ? append(ex, list) : NULL;
    if (!c) return;
    c->prim = prim;
    va_list ap;
    va_start(ap, n);
    for (int i = 0; i < n; i++) {
        int arg = va_arg(ap, int);
        dnnl_memory_t m = va_arg(ap, dnnl_memory_t);
        if (m) c->args[c->nargs++] = (dnnl_exec_arg_t){.arg = arg, .memory = m};
    }
    va_end(ap);
    const dnnl_memory_desc_t *sp = nn_query(pd, dnnl_query_scratchpad_md, 0);
    if (sp && dnnl_memory_desc_get_size(sp) > 0)
        c->args[c->nargs++] = (dnnl_exec_arg_t){DNNL_ARG_SCRATCHPAD, nn_mem(ex, sp, ex->scratchpad)};
}

nn_call *nn_call_step_named(geoloc_exec *ex, nn_list *list, nn_step step, const char *name) {
    nn_call *c = ex->failed ? NULL : append(ex, list);
    if (c) c->step = step, c->name = name;
    return c;
}

/* A reorder with an optional sum post-op (accumulate) and optional output scales. */
static void reorder(geoloc_exec *ex, nn_list *list, const dnnl_memory_desc_t *src_md, dnnl_memory_t src,
                    const dnnl_memory_desc_t *dst_md, dnnl_memory_t dst, int accumulate, int mask, int n_scales,
                    const float *scales) {
    if (ex->failed) return;
    dnnl_primitive_attr_t attr = NULL;
    dnnl_post_ops_t po = NULL;
    dnnl_primitive_desc_t pd = NULL;
    dnnl_status_t st = dnnl_primitive_attr_create(&attr);
    if (st == dnnl_success) st = dnnl_primitive_attr_set_scratchpad_mode(attr, dnnl_scratchpad_mode_user);
    if (st == dnnl_success && scales) st = dnnl_primitive_attr_set_output_scales(attr, n_scales, mask, scales);
    if (st == dnnl_success && accumulate) {
        st = dnnl_post_ops_create(&po);
        if (st == dnnl_success) st = dnnl_post_ops_append_sum(po, 1.0f);
        if (st == dnnl_success) st = dnnl_primitive_attr_set_post_ops(attr, po);
    }
    if (st == dnnl_success)
        st = dnnl_reorder_primitive_desc_create(&pd, src_md, ex->engine, dst_md, ex->engine, attr);
    if (po) dnnl_post_ops_destroy(po);
    if (attr) dnnl_primitive_attr_destroy(attr);
    if (nn_fail(ex, st, "reorder")) return;
    if (array_grow((void **)&ex->pds, &ex->cap_pds, ex->n_pds + 1, sizeof *ex->pds)) {
        dnnl_primitive_desc_destroy(pd);
        oom(ex);
        return;
    }
    ex->pds[ex->n_pds++] = pd;
    size_t n = list->n;
    nn_call_prim(ex, list, pd, 2, DNNL_ARG_FROM, src, DNNL_ARG_TO, dst);
    if (list->n > n)
        list->v[n].name = list == &ex->prepare ? "weights"
                          : accumulate          ? "weight gradient"
                          : list == &ex->backward ? "gradient"
                                                  : "activation";
}

void nn_call_reorder(geoloc_exec *ex, nn_list *list, const dnnl_memory_desc_t *src_md,
                     dnnl_memory_t src, const dnnl_memory_desc_t *dst_md, dnnl_memory_t dst,
                     int accumulate) {
    reorder(ex, list, src_md, src, dst_md, dst, accumulate, 0, 0, NULL);
}

void nn_call_reorder_scaled(geoloc_exec *ex, nn_list *list, const dnnl_memory_desc_t *src_md,
                            dnnl_memory_t src, const dnnl_memory_desc_t *dst_md, dnnl_memory_t dst,
                            int mask, int n, const float *scales) {
    reorder(ex, list, src_md, src, dst_md, dst, 0, mask, n, scales);
}

void nn_param_md(const geoloc_param *p, dnnl_memory_desc_t *md) {
    dnnl_dims_t dims;
    for (size_t k = 0; k < p->ndim; k++) dims[k] = (dnnl_dim_t)p->shape[k];
    static const dnnl_format_tag_t tags[5] = {dnnl_format_tag_undef, dnnl_a, dnnl_ab, dnnl_abc,
                                              dnnl_abcd};
    dnnl_memory_desc_init_by_tag(md, (int)p->ndim, dims, dnnl_f32, tags[p->ndim]);
}

void nn_vector_md(dnnl_memory_desc_t *md, int n) {
    dnnl_dims_t d = {n};
    dnnl_memory_desc_init_by_tag(md, 1, d, dnnl_f32, dnnl_a);
}

dnnl_memory_t nn_param_mem(geoloc_exec *ex, int index, int grad) {
    geoloc_param *p = &ex->net->params[index];
    dnnl_memory_desc_t md;
    nn_param_md(p, &md);
    return nn_mem_ptr(ex, &md, grad ? p->grad : p->data);
}

/* ---- activation storage ------------------------------------------------------------ */

int nn_slot_acquire(geoloc_exec *ex, size_t bytes) {
    /* best fit: the smallest free slot that is large enough, else the largest
     * free one (grown), else a new one */
    int fit = -1, largest = -1;
    for (size_t i = 0; i < ex->n_pool; i++) {
        if (ex->pool_busy[i]) continue;
        size_t have = ex->buffers[ex->pool[i]].bytes;
        if (have >= bytes && (fit < 0 || have < ex->buffers[ex->pool[fit]].bytes)) fit = (int)i;
        if (largest < 0 || have > ex->buffers[ex->pool[largest]].bytes) largest = (int)i;
    }
    int pick = fit >= 0 ? fit : largest;
    if (pick >= 0) {
        ex->pool_busy[pick] = 1;
        nn_buffer_need(ex, ex->pool[pick], bytes);
        return ex->pool[pick];
    }
    size_t cap = ex->n_pool;
    int *p = realloc(ex->pool, (cap + 1) * sizeof *p), *b = p ? realloc(ex->pool_busy, (cap + 1) * sizeof *b) : NULL;
    if (p) ex->pool = p;
    if (b) ex->pool_busy = b;
    if (!p || !b) {
        oom(ex);
        return 0;
    }
    ex->pool[ex->n_pool] = nn_buffer_new(ex, bytes);
    ex->pool_busy[ex->n_pool] = 1;
    return ex->pool[ex->n_pool++];
}

void nn_slot_release(geoloc_exec *ex, int buffer) {
    for (size_t i = 0; i < ex->n_pool; i++)
        if (ex->pool[i] == buffer && ex->pool_busy[i] > 0) ex->pool_busy[i]--;
}

/* One more holder of a busy slot (released once per holder). */
static void slot_share(geoloc_exec *ex, int buffer) {
    for (size_t i = 0; i < ex->n_pool; i++)
        if (ex->pool[i] == buffer) ex->pool_busy[i]++;
}

float nn_value_scale(const geoloc_exec *ex, int v) {
    while (ex->values[v].scale == 0 && ex->values[v].root != v) v = ex->values[v].root;
    return ex->values[v].scale;
}

int nn_root(const geoloc_exec *ex, int v) {
    while (ex->values[v].root != v) v = ex->values[v].root;
    return v;
}

dnnl_memory_t nn_value_mem(geoloc_exec *ex, int v) {
    nn_value *val = &ex->values[v];
    if (val->mem || ex->failed) return val->mem;
    nn_value *r = &ex->values[nn_root(ex, v)];
    size_t bytes = dnnl_memory_desc_get_size(&val->md);
    if (r->buffer < 0) r->buffer = r->saved ? nn_buffer_new(ex, bytes) : nn_slot_acquire(ex, bytes);
    val->mem = nn_mem(ex, &val->md, r->buffer);
    return val->mem;
}

void nn_release_after(geoloc_exec *ex, int k) {
    for (int v = 0; v < ex->net->n_values; v++) {
        nn_value *r = &ex->values[v];
        if (r->root == v && !r->saved && !r->released && r->buffer >= 0 && r->last_use <= k) {
            nn_slot_release(ex, r->buffer);
            r->released = 1;
        }
    }
}

static int diff_root_of(const geoloc_exec *ex, int v) {
    while (ex->values[v].diff_root != v) v = ex->values[v].diff_root;
    return v;
}

dnnl_memory_t nn_diff_mem(geoloc_exec *ex, int v) {
    nn_value *r = &ex->values[diff_root_of(ex, v)];
    if (r->diff_buffer < 0 && !ex->failed) {
        error_set(ex->err, GEOLOC_E_ARG, "internal: value %d has no gradient", v);
        ex->failed = 1;
    }
    return r->diff_mem;
}

dnnl_memory_t nn_diff_target(geoloc_exec *ex, int v, int *tmp) {
    nn_value *r = &ex->values[diff_root_of(ex, v)];
    size_t bytes = dnnl_memory_desc_get_size(&r->md);
    *tmp = -1;
    if (r->diff_buffer < 0) {
        r->diff_buffer = nn_slot_acquire(ex, bytes);
        r->diff_mem = nn_mem(ex, &r->md, r->diff_buffer);
        return r->diff_mem;
    }
    *tmp = nn_slot_acquire(ex, bytes);
    return nn_mem(ex, &r->md, *tmp);
}

void nn_step_accumulate(geoloc_exec *ex, const nn_call *c) {
    float *restrict a = c->a >= 0 ? nn_ptr(ex, c->a) : c->pa;
    const float *restrict b = c->b >= 0 ? nn_ptr(ex, c->b) : c->pb;
    size_t n = c->n;
    /* a batch norm's few channels: one thread, no fork and join */
#pragma omp parallel for simd schedule(static) if (n >= ((size_t)1 << 15))
    for (size_t i = 0; i < n; i++) a[i] += b[i];
}

/* Whether call c reads or writes buffer id (through a step operand or a bound memory). */
static int call_uses(const geoloc_exec *ex, const nn_call *c, int id) {
    if (c->step) return c->a == id || c->b == id || c->c == id;
    for (int i = 0; i < c->nargs; i++)
        for (size_t j = 0; j < ex->n_bindings; j++)
            if (ex->bindings[j].mem == c->args[i].memory && ex->bindings[j].buffer == id) return 1;
    return 0;
}

nn_call *nn_diff_last_sum(geoloc_exec *ex, nn_list *list, int v) {
    int id = ex->values[diff_root_of(ex, v)].diff_buffer;
    for (size_t i = list->n; i-- > 0 && id >= 0;) {
        nn_call *c = &list->v[i];
        if (c->step == nn_step_accumulate && c->a == id) return c;
        if (call_uses(ex, c, id)) return NULL;
    }
    return NULL;
}

void nn_diff_commit(geoloc_exec *ex, int v, int tmp) {
    if (tmp < 0) return;
    nn_value *r = &ex->values[diff_root_of(ex, v)];
    nn_call *c = nn_call_step(ex, &ex->backward, nn_step_accumulate);
    if (c) {
        c->a = r->diff_buffer;
        c->b = tmp;
        c->n = dnnl_memory_desc_get_size(&r->md) / sizeof(float);
    }
    nn_slot_release(ex, tmp);
}

void nn_diff_share(geoloc_exec *ex, int v, int from) {
    nn_value *r = &ex->values[diff_root_of(ex, v)], *f = &ex->values[diff_root_of(ex, from)];
    if (r->diff_buffer < 0 && dnnl_memory_desc_equal(&r->md, &f->md)) {
        r->diff_buffer = f->diff_buffer;
        r->diff_mem = f->diff_mem;
        slot_share(ex, f->diff_buffer);
        return;
    }
    int tmp;
    dnnl_memory_t to = nn_diff_target(ex, v, &tmp);
    nn_call_reorder(ex, &ex->backward, &f->md, f->diff_mem, &r->md, to, 0);
    nn_diff_commit(ex, v, tmp);
}

void nn_diff_release(geoloc_exec *ex, int v) {
    nn_value *r = &ex->values[diff_root_of(ex, v)];
    if (r->diff_buffer >= 0) nn_slot_release(ex, r->diff_buffer);
}

int nn_producer(const geoloc_net *net, int v) {
    for (size_t k = 0; k < net->n_nodes; k++)
        if (net->nodes[k].out == v) return (int)k;
    return -1;
}
