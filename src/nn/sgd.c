/* SGD with momentum, dampening, weight decay and Nesterov momentum, as
 * torch.optim.SGD (PyTorch 1.13, float32): see include/geoloc/optim.h.
 *
 * Rounding. torch computes `d_p.add(param, alpha=wd)`, `buf.add_(d_p,
 * alpha=1-dampening)`, `d_p.add(buf, alpha=momentum)` and `param.add_(d_p,
 * alpha=-lr)` with its ufunc kernel `self + alpha * other`, which is
 * vec::fmadd (one rounding) in the AVX2/AVX512/NEON builds and, compiled with
 * -mfma and GCC's default contraction, in their scalar tails too; the
 * multiplications (grad * scale, buf * momentum) are plain. Each alpha is a
 * double rounded to float32 (torch's Scalar.to<float>()). The library is
 * compiled with -ffp-contract=off, so `a * b + c` below rounds twice and
 * fmaf() once: sgd_loop is instantiated with fused multiply-adds in a
 * function compiled for AVX2+FMA (chosen at run time on x86-64), with libm's
 * fmaf elsewhere, and twice-rounded for CPUs without FMA (as torch's DEFAULT
 * kernels). The loops are branch-free per element and vectorise. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "geoloc/optim.h"

typedef struct sgd_param {
    float *w;
    const float *grad;
    float *buf;  /* n floats when momentum != 0 (and n > 0), else NULL */
    size_t n;
    int group;
    int started; /* buf holds a value */
} sgd_param;

typedef struct sgd_group {
    double lr_scale;
    double weight_decay; /* < 0: the optimizer's */
    int frozen;
} sgd_group;

/* A piece of one parameter's update: the step runs the pieces on all threads. */
typedef struct sgd_chunk {
    size_t param, start, n;
} sgd_chunk;

/* Floats per chunk: a few hundred chunks for a ResNet-50, each long enough to stream. */
#define SGD_CHUNK ((size_t)1 << 18)

struct geoloc_sgd {
    geoloc_sgd_config cfg;
    sgd_param *params;
    size_t n_params, cap_params;
    sgd_chunk *chunks;
    size_t n_chunks, cap_chunks;
    sgd_group groups[GEOLOC_SGD_MAX_GROUPS];
    int64_t steps;
    int fused;  /* fused multiply-adds */
    int hw_fma; /* the CPU has FMA (x86-64: and AVX2) */
};

/* ---- the update loops ---------------------------------------------------- */

/* Arguments of one parameter's update, the hyperparameters as float32. */
typedef struct sgd_args {
    float *w;
    const float *grad;
    float *buf;
    size_t n;
    float grad_scale, weight_decay, momentum, one_minus_dampening, neg_lr;
    int use_wd;   /* weight_decay != 0 */
    int mode;     /* 0: no momentum; 1: first momentum step (buf = g); 2: later steps */
    int nesterov;
} sgd_args;

#define SGD_INLINE static inline __attribute__((always_inline))

/* a * b + c, rounded once when fused. */
SGD_INLINE float sgd_madd(int fused, float a, float b, float c) {
    return fused ? fmaf(a, b, c) : a * b + c;
}

/* The update of one parameter; called with constant flags, so each call site
 * compiles to its own branch-free loop. */
SGD_INLINE void sgd_loop(const sgd_args *a, int fused, int use_wd, int mode, int nesterov) {
    float *restrict w = a->w;
    const float *restrict grad = a->grad;
    float *restrict buf = a->buf;
    const size_t n = a->n;
    const float scale = a->grad_scale, wd = a->weight_decay, m = a->momentum;
    const float damp = a->one_minus_dampening, neg_lr = a->neg_lr;
    for (size_t i = 0; i < n; i++) {
        float g = grad[i] * scale;
        if (use_wd) g = sgd_madd(fused, w[i], wd, g);
        if (mode != 0) {
            float b = mode == 1 ? g : sgd_madd(fused, g, damp, buf[i] * m);
            buf[i] = b;
            g = nesterov ? sgd_madd(fused, b, m, g) : b;
        }
        /* GEOLOC_MUTANT_NO_UPDATE (tools/mutants.sh): a deliberately broken build
         * for the learning tests (the momentum still moves, the parameters never do) */
#ifndef GEOLOC_MUTANT_NO_UPDATE
        w[i] = sgd_madd(fused, g, neg_lr, w[i]);
#endif
    }
}

/* Picks the loop for a's flags. */
SGD_INLINE void sgd_dispatch(const sgd_args *a, int fused) {
    if (a->mode == 0) {
        if (a->use_wd) sgd_loop(a, fused, 1, 0, 0);
        else sgd_loop(a, fused, 0, 0, 0);
    } else if (a->nesterov) {
        if (a->use_wd) {
            if (a->mode == 1) sgd_loop(a, fused, 1, 1, 1);
            else sgd_loop(a, fused, 1, 2, 1);
        } else {
            if (a->mode == 1) sgd_loop(a, fused, 0, 1, 1);
            else sgd_loop(a, fused, 0, 2, 1);
        }
    } else {
        if (a->use_wd) {
            if (a->mode == 1) sgd_loop(a, fused, 1, 1, 0);
            else sgd_loop(a, fused, 1, 2, 0);
        } else {
            if (a->mode == 1) sgd_loop(a, fused, 0, 1, 0);
            else sgd_loop(a, fused, 0, 2, 0);
        }
    }
}

/* Twice-rounded multiply-adds (CPUs without FMA, or on request). */
static void sgd_run_plain(const sgd_args *a) {
    sgd_dispatch(a, 0);
}

/* Fused through fmaf (inline where the compiler targets FMA, libm otherwise). */
static void sgd_run_fmaf(const sgd_args *a) {
    sgd_dispatch(a, 1);
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__)) && !defined(__FMA__)
#define SGD_X86_DISPATCH 1
/* Fused, compiled for AVX2+FMA (8 floats a vector, as torch's AVX2 kernels). */
__attribute__((target("avx2,fma"))) static void sgd_run_avx2(const sgd_args *a) {
    sgd_dispatch(a, 1);
}
#endif

/* Whether the CPU does fused multiply-adds in hardware. */
static int sgd_cpu_has_fma(void) {
#if defined(__FMA__) || defined(__aarch64__) || defined(__ARM_FEATURE_FMA)
    return 1;
#elif defined(SGD_X86_DISPATCH)
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#else
    return 0;
#endif
}

/* Runs the update of one parameter: fused or not, with AVX2+FMA when hw_fma. */
static void sgd_run(const sgd_args *a, int fused, int hw_fma) {
    if (!fused) {
        sgd_run_plain(a);
        return;
    }
#ifdef SGD_X86_DISPATCH
    if (hw_fma) {
        sgd_run_avx2(a);
        return;
    }
#else
    (void)hw_fma;
#endif
    sgd_run_fmaf(a);
}

/* ---- the optimizer ------------------------------------------------------- */

geoloc_status geoloc_sgd_create(const geoloc_sgd_config *cfg, geoloc_sgd **out, geoloc_error *err) {
    if (!out) return error_set(err, GEOLOC_E_ARG, "sgd: no output pointer");
    *out = NULL;
    geoloc_sgd_config c = {0};
    if (cfg) c = *cfg;
    if (!isfinite(c.momentum) || c.momentum < 0)
        return error_set(err, GEOLOC_E_RANGE, "sgd: invalid momentum %g (must be a finite number >= 0)",
                         c.momentum);
    if (!isfinite(c.dampening))
        return error_set(err, GEOLOC_E_RANGE, "sgd: invalid dampening %g (must be finite)", c.dampening);
    if (!isfinite(c.weight_decay) || c.weight_decay < 0)
        return error_set(err, GEOLOC_E_RANGE,
                         "sgd: invalid weight decay %g (must be a finite number >= 0)", c.weight_decay);
    if (c.nesterov && (c.momentum <= 0 || c.dampening != 0))
        return error_set(err, GEOLOC_E_ARG,
                         "sgd: Nesterov momentum requires a momentum > 0 and zero dampening");
    c.nesterov = c.nesterov != 0;
    geoloc_sgd *opt = calloc(1, sizeof *opt);
    if (!opt) return error_set(err, GEOLOC_E_NOMEM, "sgd: out of memory");
    opt->cfg = c;
    for (int k = 0; k < GEOLOC_SGD_MAX_GROUPS; k++)
        opt->groups[k] = (sgd_group){1.0, GEOLOC_SGD_INHERIT, 0};
    opt->hw_fma = sgd_cpu_has_fma();
    opt->fused = opt->hw_fma;
    *out = opt;
    return GEOLOC_OK;
}

void geoloc_sgd_free(geoloc_sgd *opt) {
    if (!opt) return;
    for (size_t i = 0; i < opt->n_params; i++) free(opt->params[i].buf);
    free(opt->params);
    free(opt->chunks);
    free(opt);
}

geoloc_status geoloc_sgd_add(geoloc_sgd *opt, float *w, const float *grad, size_t n, int group,
                             size_t *index, geoloc_error *err) {
    if (!opt) return error_set(err, GEOLOC_E_ARG, "sgd: no optimizer");
    if (n > 0 && (!w || !grad))
        return error_set(err, GEOLOC_E_ARG, "sgd: parameter %zu: no %s", opt->n_params,
                         w ? "gradient" : "weights");
    if (group < 0 || group >= GEOLOC_SGD_MAX_GROUPS)
        return error_set(err, GEOLOC_E_RANGE, "sgd: parameter %zu: group %d outside 0..%d",
                         opt->n_params, group, GEOLOC_SGD_MAX_GROUPS - 1);
    if (n > SIZE_MAX / sizeof(float) - 64)
        return error_set(err, GEOLOC_E_RANGE, "sgd: parameter %zu: %zu floats is too many",
                         opt->n_params, n);
    if (opt->n_params == opt->cap_params) {
        size_t cap = opt->cap_params ? 2 * opt->cap_params : 16;
        sgd_param *p = realloc(opt->params, cap * sizeof *p);
        if (!p) return error_set(err, GEOLOC_E_NOMEM, "sgd: out of memory");
        opt->params = p;
        opt->cap_params = cap;
    }
    size_t pieces = (n + SGD_CHUNK - 1) / SGD_CHUNK;
    if (opt->n_chunks + pieces > opt->cap_chunks) {
        size_t cap = 2 * (opt->n_chunks + pieces);
        sgd_chunk *c = realloc(opt->chunks, cap * sizeof *c);
        if (!c) return error_set(err, GEOLOC_E_NOMEM, "sgd: out of memory");
        opt->chunks = c;
        opt->cap_chunks = cap;
    }
    float *buf = NULL;
    if (opt->cfg.momentum != 0 && n > 0) {
        size_t bytes = (n * sizeof(float) + 63) / 64 * 64; /* aligned_alloc: a multiple of 64 */
        buf = aligned_alloc(64, bytes);
        if (!buf)
            return error_set(err, GEOLOC_E_NOMEM,
                             "sgd: parameter %zu: no memory for %zu floats of momentum",
                             opt->n_params, n);
        memset(buf, 0, bytes);
    }
    opt->params[opt->n_params] = (sgd_param){w, grad, buf, n, group, 0};
    for (size_t k = 0; k < pieces; k++) {
        size_t start = k * SGD_CHUNK;
        opt->chunks[opt->n_chunks++] = (sgd_chunk){opt->n_params, start, n - start < SGD_CHUNK ? n - start : SGD_CHUNK};
    }
    if (index) *index = opt->n_params;
    opt->n_params++;
    return GEOLOC_OK;
}

geoloc_status geoloc_sgd_set_group(geoloc_sgd *opt, int group, double lr_scale,
                                   double weight_decay, int frozen, geoloc_error *err) {
    if (!opt) return error_set(err, GEOLOC_E_ARG, "sgd: no optimizer");
    if (group < 0 || group >= GEOLOC_SGD_MAX_GROUPS)
        return error_set(err, GEOLOC_E_RANGE, "sgd: group %d outside 0..%d", group,
                         GEOLOC_SGD_MAX_GROUPS - 1);
    if (!isfinite(lr_scale) || lr_scale < 0)
        return error_set(err, GEOLOC_E_RANGE,
                         "sgd: group %d: invalid lr scale %g (must be a finite number >= 0)",
                         group, lr_scale);
    if (!(weight_decay == GEOLOC_SGD_INHERIT || (isfinite(weight_decay) && weight_decay >= 0)))
        return error_set(err, GEOLOC_E_RANGE,
                         "sgd: group %d: invalid weight decay %g "
                         "(must be a finite number >= 0 or GEOLOC_SGD_INHERIT)",
                         group, weight_decay);
    opt->groups[group] = (sgd_group){lr_scale, weight_decay, frozen != 0};
    return GEOLOC_OK;
}

/* The arguments of chunk ch's update; 0 when its group is frozen. */
static int chunk_args(const geoloc_sgd *opt, const sgd_chunk *ch, double lr, float grad_scale, sgd_args *a) {
    const geoloc_sgd_config *c = &opt->cfg;
    const sgd_param *p = &opt->params[ch->param];
    const sgd_group *g = &opt->groups[p->group];
    if (g->frozen) return 0;
    double wd = g->weight_decay < 0 ? c->weight_decay : g->weight_decay;
    double group_lr = lr * g->lr_scale; /* torch: param_groups[k]['lr'] */
    *a = (sgd_args){
        .w = p->w + ch->start,
        .grad = p->grad + ch->start,
        .buf = p->buf ? p->buf + ch->start : NULL,
        .n = ch->n,
        .grad_scale = grad_scale,
        .weight_decay = (float)wd,
        .momentum = (float)c->momentum,
        .one_minus_dampening = (float)(1.0 - c->dampening),
        .neg_lr = (float)(-group_lr),
        .use_wd = wd != 0,
        .mode = c->momentum == 0 ? 0 : p->started ? 2 : 1,
        .nesterov = c->nesterov,
    };
    return 1;
}

void geoloc_sgd_step(geoloc_sgd *opt, double lr, float grad_scale) {
    if (!opt) return;
    /* element-wise: the pieces run on any thread in any order with the same result */
#pragma omp parallel for schedule(dynamic, 1)
    for (size_t i = 0; i < opt->n_chunks; i++) {
        sgd_args a;
        if (chunk_args(opt, &opt->chunks[i], lr, grad_scale, &a)) sgd_run(&a, opt->fused, opt->hw_fma);
    }
    for (size_t i = 0; i < opt->n_params; i++)
        if (!opt->groups[opt->params[i].group].frozen && opt->cfg.momentum != 0) opt->params[i].started = 1;
    opt->steps++;
}

size_t geoloc_sgd_param_count(const geoloc_sgd *opt) {
    return opt ? opt->n_params : 0;
}

size_t geoloc_sgd_param_size(const geoloc_sgd *opt, size_t i) {
    return opt && i < opt->n_params ? opt->params[i].n : 0;
}

float *geoloc_sgd_momentum(geoloc_sgd *opt, size_t i) {
    return opt && i < opt->n_params ? opt->params[i].buf : NULL;
}

int geoloc_sgd_momentum_started(const geoloc_sgd *opt, size_t i) {
    return opt && i < opt->n_params ? opt->params[i].started : 0;
}

geoloc_status geoloc_sgd_set_momentum_started(geoloc_sgd *opt, size_t i, int started,
                                              geoloc_error *err) {
    if (!opt) return error_set(err, GEOLOC_E_ARG, "sgd: no optimizer");
    if (i >= opt->n_params)
        return error_set(err, GEOLOC_E_RANGE, "sgd: parameter %zu of %zu", i, opt->n_params);
    if (started && opt->cfg.momentum == 0)
        return error_set(err, GEOLOC_E_ARG, "sgd: parameter %zu: no momentum buffer (momentum is 0)", i);
    opt->params[i].started = started != 0;
    return GEOLOC_OK;
}

int64_t geoloc_sgd_step_count(const geoloc_sgd *opt) {
    return opt ? opt->steps : 0;
}

void geoloc_sgd_set_step_count(geoloc_sgd *opt, int64_t steps) {
    if (opt) opt->steps = steps;
}

int geoloc_sgd_fused(const geoloc_sgd *opt) {
    return opt ? opt->fused : 0;
}

void geoloc_sgd_set_fused(geoloc_sgd *opt, int fused) {
    if (opt) opt->fused = fused != 0;
}
