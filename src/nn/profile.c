/* Profiles of an execution: run() (exec.c) adds each call's time to its list's
 * totals while profiling is on; here the totals are switched on and off and
 * each call is described (primitive kind, propagation, implementation,
 * shapes) for the caller's tables. */
#include <stdio.h>
#include <stdlib.h>

#include <dnnl_debug.h>

#include "core/error.h"
#include "nn/exec.h"

static const char *const LIST_NAMES[3] = {"prepare", "forward", "backward"};

static const nn_list *list_of(const geoloc_exec *ex, int i) {
    return i == 0 ? &ex->prepare : i == 1 ? &ex->forward : &ex->backward;
}

geoloc_status geoloc_exec_set_profile(geoloc_exec *ex, int on, geoloc_error *err) {
    nn_list *lists[3] = {&ex->prepare, &ex->forward, &ex->backward};
    for (int i = 0; i < 3; i++) {
        nn_list *l = lists[i];
        free(l->seconds);
        l->seconds = NULL;
        l->runs = 0;
        if (on && l->n > 0 && !(l->seconds = calloc(l->n, sizeof *l->seconds)))
            return error_set(err, GEOLOC_E_NOMEM, "profile: out of memory for %zu calls", l->n);
    }
    return GEOLOC_OK;
}

size_t geoloc_exec_call_count(const geoloc_exec *ex) {
    return ex->prepare.n + ex->forward.n + ex->backward.n;
}

/* Appends the dims of md ("AxBxC") to s at *at, space-separated; nothing for an empty md. */
static void put_dims(char *s, size_t cap, size_t *at, const dnnl_memory_desc_t *md) {
    if (!md || md->ndims == 0) return;
    for (int d = 0; d < md->ndims && *at + 1 < cap; d++) {
        int n = snprintf(s + *at, cap - *at, "%s%lld", d ? "x" : *at ? " " : "", (long long)md->dims[d]);
        if (n < 0) return;
        *at = *at + (size_t)n < cap ? *at + (size_t)n : cap - 1;
    }
}

/* The first non-empty md of pd among the queries q[0..n). */
static const dnnl_memory_desc_t *first_md(const_dnnl_primitive_desc_t pd, const dnnl_query_t *q, int n) {
    for (int i = 0; i < n; i++) {
        const dnnl_memory_desc_t *md = nn_query(pd, q[i], 0);
        if (md && md->ndims > 0) return md;
    }
    return NULL;
}

geoloc_status geoloc_exec_call_profile(const geoloc_exec *ex, size_t i, geoloc_exec_call_time *out,
                                       geoloc_error *err) {
    int li = 0;
    const nn_list *l = list_of(ex, 0);
    while (li < 2 && i >= l->n) i -= l->n, l = list_of(ex, ++li);
    if (i >= l->n) return error_set(err, GEOLOC_E_RANGE, "profile: call %zu of %zu", i, geoloc_exec_call_count(ex));
    const nn_call *c = &l->v[i];
    *out = (geoloc_exec_call_time){.list = LIST_NAMES[li], .node = c->node, .kind = "step", .what = c->name ? c->name : "",
                                   .impl = "c", .seconds = l->seconds ? l->seconds[i] : 0.0, .runs = l->runs};
    if (c->step) return GEOLOC_OK;
    const_dnnl_primitive_desc_t pd = NULL;
    dnnl_primitive_kind_t kind = dnnl_undefined_primitive;
    dnnl_prop_kind_t prop = dnnl_prop_kind_undef;
    const char *impl = NULL;
    if (dnnl_primitive_get_primitive_desc(c->prim, &pd) != dnnl_success ||
        dnnl_primitive_desc_query(pd, dnnl_query_primitive_kind, 0, &kind) != dnnl_success)
        return error_set(err, GEOLOC_E_ARG, "profile: call %zu: oneDNN cannot describe its primitive", i);
    out->kind = dnnl_prim_kind2str(kind);
    if (dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &impl) == dnnl_success && impl) out->impl = impl;
    if (!c->name && dnnl_primitive_desc_query(pd, dnnl_query_prop_kind, 0, &prop) == dnnl_success)
        out->what = dnnl_prop_kind2str(prop);
    static const dnnl_query_t src[] = {dnnl_query_src_md, dnnl_query_diff_src_md, dnnl_query_diff_dst_md};
    static const dnnl_query_t wei[] = {dnnl_query_weights_md, dnnl_query_diff_weights_md};
    size_t at = 0;
    out->shape[0] = '\0';
    put_dims(out->shape, sizeof out->shape, &at, first_md(pd, src, 3));
    if (kind != dnnl_batch_normalization) put_dims(out->shape, sizeof out->shape, &at, first_md(pd, wei, 2));
    return GEOLOC_OK;
}
