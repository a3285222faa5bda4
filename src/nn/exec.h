/* Execution of a network on oneDNN: planning turns the graph into three
 * lists of calls (prepare weights, forward, backward), each a primitive with
 * its arguments bound once, or a small C step. Every buffer is a numbered
 * record whose size is known after planning; memory objects are bound to
 * them then, so running a list allocates nothing. Internal API. */
#ifndef GEOLOC_NN_EXEC_H
#define GEOLOC_NN_EXEC_H

#include <dnnl.h>

#include "nn/graph.h"

typedef struct nn_call nn_call;
typedef void (*nn_step)(geoloc_exec *ex, const nn_call *c);

/* One call of a list: a primitive, or a C step with its operands. */
struct nn_call {
    dnnl_primitive_t prim;
    int nargs;
    dnnl_exec_arg_t args[12];
    nn_step step;
    int a, b, c;      /* buffer ids of the step's operands (-1: none) */
    float *pa, *pb;   /* parameter arrays of the step */
    float *pc, *pd;
    size_t n;         /* element count */
    int k;            /* channels, node or head index */
    float f, g;
    int node;         /* graph node being planned when the call was made (-1: none) */
    const char *name; /* a C step's function, a reorder's role (for profiles) */
};

typedef struct nn_list {
    nn_call *v;
    size_t n, cap;
    double *seconds; /* profiling: time per call summed over the runs (NULL: off) */
    long runs;
} nn_list;

/* A buffer: its size grows while planning; allocated once afterwards. */
typedef struct nn_buffer {
    size_t bytes;
    float *ptr;
} nn_buffer;

/* Per value of the graph. */
typedef struct nn_value {
    int c, h, w;
    dnnl_memory_desc_t md; /* layout chosen by the producing primitive */
    int root;              /* value whose storage this one shares (itself if none) */
    int buffer;            /* storage of a root (-1 until assigned) */
    dnnl_memory_t mem;     /* the value in its buffer */
    int consumers, last_use;
    int saved;             /* root: dedicated storage that lives through backward */
    int released;
    int diff_root;         /* value whose gradient this one's is (fused relu) */
    int diff_buffer;       /* gradient storage of a diff root (-1: none yet) */
    dnnl_memory_t diff_mem;
    float scale;           /* int8 inference: the real value of one step of the u8/s8 data (0: float) */
} nn_value;

/* Per node: what planning decided and what backward needs. */
typedef struct nn_plan_node {
    int fused_into;         /* infer: the conv this bn/add/relu was fused into, else -1 */
    int relu;               /* bn/add: a following relu is fused */
    dnnl_primitive_desc_t fwd_pd;
    int mean, var;          /* bn, train: saved batch statistics (buffer ids) */
    int workspace;          /* maxpool, train: saved indices (buffer id) */
    dnnl_memory_t weights;  /* conv: weights in the forward primitive's layout */
    int folded_bias;        /* conv, infer: bias after folding (buffer id) */
} nn_plan_node;

typedef struct nn_binding {
    dnnl_memory_t mem;
    int buffer;
} nn_binding;

struct geoloc_exec {
    geoloc_net *net;
    geoloc_nn_mode mode;
    int batch, height, width;
    dnnl_engine_t engine;
    dnnl_stream_t stream;
    nn_value *values;
    nn_plan_node *plan;
    nn_list prepare, forward, backward;
    int params_dirty;
    nn_buffer *buffers;
    size_t n_buffers, cap_buffers;
    nn_binding *bindings;
    size_t n_bindings, cap_bindings;
    dnnl_memory_t *mems; /* every memory object, for release */
    size_t n_mems, cap_mems;
    dnnl_primitive_t *prims;
    size_t n_prims, cap_prims;
    dnnl_primitive_desc_t *pds;
    size_t n_pds, cap_pds;
    int *pool;           /* buffer ids of the shared activation slots */
    int *pool_busy;      /* holders of each slot (0: free) */
    size_t n_pool;
    int scratchpad;      /* shared primitive scratchpad buffer */
    int recompute, recompute_ws, recompute_node; /* train: batch-norm output rebuilt in backward (slot) */
    int source_node, source_slot;                /* train: batch-norm input rebuilt in backward */
    dnnl_memory_t source_mem;
    int fold_tmp;        /* infer: folded weights before their reorder */
    int grad_tmp;        /* train: a parameter gradient before it is added to the parameter's */
    dnnl_memory_t input_user; /* the caller's NCHW input, bound at each forward */
    int features;        /* plain batch x C pooled features */
    int feature_dim;
    int logits[GEOLOC_NN_MAX_HEADS], dlogits[GEOLOC_NN_MAX_HEADS];
    dnnl_primitive_desc_t head_pd[GEOLOC_NN_MAX_HEADS];
    int dfeatures, dfeatures_tmp;
    const int32_t *const *labels; /* set by backward for the loss step */
    const float *head_weights;
    float losses[GEOLOC_NN_MAX_HEADS];
    geoloc_error *err;   /* where planning reports */
    int failed;
    geoloc_exec_sum_fn sum_fn; /* train: synchronised batch norm over `replicas` (NULL: off) */
    void *sum_ctx;
    int replicas;
    int sum_buf;         /* the vectors handed to sum_fn */
    int plan_node;       /* the node being planned (recorded in each call) */
    geoloc_error *run_err;     /* where steps of the running list report */
    geoloc_status run_status;  /* the first failure of a step */
};

/* ---- planning helpers (exec.c) ---- */

/* Whether ex runs inference (float, int8 or calibrating), with batch norm folded. */
static inline int nn_inference(const geoloc_exec *ex) { return ex->mode != GEOLOC_NN_TRAIN; }

/* The int8 step size of value v (following shared storage to the value that set it); 0: float. */
float nn_value_scale(const geoloc_exec *ex, int v);

/* Records a oneDNN failure (first one wins); returns 1 when st is an error. */
int nn_fail(geoloc_exec *ex, dnnl_status_t st, const char *what);

/* A new buffer of at least `bytes`; its id. */
int nn_buffer_new(geoloc_exec *ex, size_t bytes);

/* Grows buffer id to at least bytes. */
void nn_buffer_need(geoloc_exec *ex, int id, size_t bytes);

/* The buffer's memory at run time. */
float *nn_ptr(const geoloc_exec *ex, int id);

/* A memory object for md in buffer id (bound after planning). */
dnnl_memory_t nn_mem(geoloc_exec *ex, const dnnl_memory_desc_t *md, int id);

/* A memory object for md over external memory (a parameter array). */
dnnl_memory_t nn_mem_ptr(geoloc_exec *ex, const dnnl_memory_desc_t *md, void *ptr);

/* A primitive from pd (kept for release); NULL after a failure. The pd is kept too. */
dnnl_primitive_t nn_prim(geoloc_exec *ex, dnnl_primitive_desc_t pd);

/* Creates a primitive descriptor with the user scratchpad; NULL after a failure. */
dnnl_primitive_desc_t nn_pd(geoloc_exec *ex, const void *op_desc, const dnnl_post_ops_t post_ops,
                            const_dnnl_primitive_desc_t hint, const char *what);

/* As nn_pd, with output scales: one for all (mask 0) or one per output channel (mask 2). */
dnnl_primitive_desc_t nn_pd_scaled(geoloc_exec *ex, const void *op_desc, const dnnl_post_ops_t post_ops,
                                   int mask, int n_scales, const float *scales, const char *what);

/* The memory descriptor `what` (dnnl_query_*_md) of pd. */
const dnnl_memory_desc_t *nn_query(const_dnnl_primitive_desc_t pd, dnnl_query_t what, int index);

/* Appends a primitive call with n (arg, memory) pairs, plus the scratchpad of pd. */
void nn_call_prim(geoloc_exec *ex, nn_list *list, dnnl_primitive_desc_t pd, int n, ...);

/* Appends a C step named `name`. */
nn_call *nn_call_step_named(geoloc_exec *ex, nn_list *list, nn_step step, const char *name);

/* Appends a C step, named by its function. */
#define nn_call_step(ex, list, step) nn_call_step_named(ex, list, step, #step)

/* Appends a reorder of src into dst (adding to dst when accumulate). */
void nn_call_reorder(geoloc_exec *ex, nn_list *list, const dnnl_memory_desc_t *src_md,
                     dnnl_memory_t src, const dnnl_memory_desc_t *dst_md, dnnl_memory_t dst,
                     int accumulate);

/* Appends a reorder of src into dst that multiplies by scales: one for all (mask 0, n 1)
 * or one per index of dimension 0 (mask 1, n of them): for quantising. */
void nn_call_reorder_scaled(geoloc_exec *ex, nn_list *list, const dnnl_memory_desc_t *src_md,
                            dnnl_memory_t src, const dnnl_memory_desc_t *dst_md, dnnl_memory_t dst,
                            int mask, int n, const float *scales);

/* The memory descriptor of a parameter in its plain (torchvision) layout. */
void nn_param_md(const geoloc_param *p, dnnl_memory_desc_t *md);

/* The value whose storage v shares (v itself when none). */
int nn_root(const geoloc_exec *ex, int v);

/* The node producing value v, or -1 for the input. */
int nn_producer(const geoloc_net *net, int v);

/* Forward storage of value v (allocated on first use); its memory object for md. */
dnnl_memory_t nn_value_mem(geoloc_exec *ex, int v);

/* The gradient of value v (which must exist: a later node produced it). */
dnnl_memory_t nn_diff_mem(geoloc_exec *ex, int v);

/* Where a primitive should write a gradient for value v: v's new gradient storage, or
 * (when v already has one) a temporary slot *tmp that nn_diff_commit adds to it. */
dnnl_memory_t nn_diff_target(geoloc_exec *ex, int v, int *tmp);

/* Completes nn_diff_target: adds the temporary slot to v's gradient and frees it. */
void nn_diff_commit(geoloc_exec *ex, int v, int tmp);

/* The step of list that last added into v's gradient, when no call used that gradient
 * since (a later element-wise pass may join it); else NULL. */
nn_call *nn_diff_last_sum(geoloc_exec *ex, nn_list *list, int v);

/* Makes v's gradient the same storage as from's (or adds from's to v's existing one):
 * for a gradient that flows unchanged to several values. */
void nn_diff_share(geoloc_exec *ex, int v, int from);

/* Frees the gradient storage of value v (its producer's backward is planned). */
void nn_diff_release(geoloc_exec *ex, int v);

/* A free activation slot of the pool (grown to bytes); its buffer id. */
int nn_slot_acquire(geoloc_exec *ex, size_t bytes);

/* Returns a slot to the pool. */
void nn_slot_release(geoloc_exec *ex, int buffer);

/* Releases the forward storage of values whose last use is node k. */
void nn_release_after(geoloc_exec *ex, int k);

/* Step adding buffer b to buffer a over n floats. */
void nn_step_accumulate(geoloc_exec *ex, const nn_call *c);

/* The memory descriptor of a plain vector of n floats. */
void nn_vector_md(dnnl_memory_desc_t *md, int n);

/* A memory object over parameter `index`'s data (or its gradient when grad). */
dnnl_memory_t nn_param_mem(geoloc_exec *ex, int index, int grad);

/* ---- values rebuilt in backward (rebuild.c) ---- */

/* oneDNN flags of batch norm k (scale, shift, the fused ReLU). */
unsigned nn_bn_flags(const geoloc_exec *ex, int k);

/* The input of batch norm k in backward: the kept convolution output, or that
 * output computed again (into a slot held until the next batch norm's). */
dnnl_memory_t nn_bn_source(geoloc_exec *ex, int k);

/* Appends batch norm k's forward again (batch statistics kept from the forward) into
 * dst, or into the rebuild slot when dst is NULL: its output and ReLU mask. */
void nn_bn_rebuild(geoloc_exec *ex, int k, dnnl_memory_t dst);

/* Value v as a convolution's input in backward: kept, or the batch norm output
 * rebuilt from its input (once per batch norm). */
dnnl_memory_t nn_conv_source(geoloc_exec *ex, int v);

/* ---- synchronised batch norm (bn_sync.c) ---- */

/* Appends the step making batch norm k's saved statistics those of the whole batch,
 * from its input src (before its forward with these as given statistics). */
void nn_bn_sync_forward(geoloc_exec *ex, int k, dnnl_memory_t src);

/* Appends the step completing batch norm k's backward (run with given statistics):
 * diff_src gets the terms of the global batch statistics, from itself and the input src. */
void nn_bn_sync_backward(geoloc_exec *ex, int k, dnnl_memory_t src, dnnl_memory_t diff_src);

/* ---- layers: forward and backward planning of each kind of node ---- */

void conv_plan(geoloc_exec *ex, int k);
void conv_plan_backward(geoloc_exec *ex, int k);
void bn_plan(geoloc_exec *ex, int k);
void bn_plan_backward(geoloc_exec *ex, int k);
void pool_plan(geoloc_exec *ex, int k);
void pool_plan_backward(geoloc_exec *ex, int k);
void add_plan(geoloc_exec *ex, int k);
void add_plan_backward(geoloc_exec *ex, int k);
void heads_plan(geoloc_exec *ex);
void heads_plan_backward(geoloc_exec *ex);

#endif
