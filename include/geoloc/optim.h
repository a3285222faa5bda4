/* geoloc: the optimizer and learning-rate schedules of the CNN engine.
 *
 * SGD computes exactly what torch.optim.SGD (PyTorch 1.13) computes, in
 * float32, for every parameter w with gradient grad (hyperparameters are
 * doubles, rounded to float32 where they meet the data, as torch does):
 *
 *     g = grad * grad_scale          (grad_scale 1/k averages k accumulated micro-batches)
 *     if weight_decay != 0:  g = g + weight_decay * w
 *     if momentum != 0:
 *         buf = g                                  on the parameter's first (unfrozen) step
 *         buf = momentum * buf + (1 - dampening) * g   afterwards
 *         g = nesterov ? g + momentum * buf : buf
 *     w = w - lr * g
 *
 * torch's CPU kernels round `a + alpha * b` once (fused multiply-add) on
 * machines with FMA; geoloc does the same there (selected at run time), so
 * its weights agree with torch's to the bit. Without FMA both round twice.
 *
 * Parameter groups (torch's param_groups) carry a learning-rate multiplier,
 * their own weight decay or the optimizer's, and a frozen flag: a frozen
 * parameter is skipped entirely (no update, momentum buffer untouched), as
 * torch skips a parameter whose grad is None.
 *
 * Learning-rate schedules are closed forms of torch's schedulers stepped once
 * per unit of t (epoch or iteration, the caller's choice); see
 * geoloc_lr_schedule_parse for the text syntax. */
#ifndef GEOLOC_OPTIM_H
#define GEOLOC_OPTIM_H

#include <stddef.h>
#include <stdint.h>

#include "geoloc/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- SGD ---------------------------------------------------------------- */

/* Hyperparameters shared by all groups (torch.optim.SGD's arguments except lr). */
typedef struct geoloc_sgd_config {
    double momentum;     /* >= 0; 0: no momentum buffers */
    double dampening;    /* finite; must be 0 with nesterov */
    double weight_decay; /* >= 0; the default of groups that do not set their own */
    int nesterov;        /* nonzero: Nesterov momentum (needs momentum > 0, dampening 0) */
} geoloc_sgd_config;

/* geoloc_sgd_set_group's weight_decay meaning "the optimizer's weight decay". */
#define GEOLOC_SGD_INHERIT (-1.0)
/* Most parameter groups (groups are numbered 0 .. GEOLOC_SGD_MAX_GROUPS-1). */
#define GEOLOC_SGD_MAX_GROUPS 256

typedef struct geoloc_sgd geoloc_sgd;

/* Creates an optimizer with no parameters (cfg NULL: plain SGD); checks cfg as torch does. */
geoloc_status geoloc_sgd_create(const geoloc_sgd_config *cfg, geoloc_sgd **out, geoloc_error *err);

/* Releases the optimizer and its momentum buffers (NULL is allowed); never the weights. */
void geoloc_sgd_free(geoloc_sgd *opt);

/* Registers a parameter of n floats (w updated in place, grad read at each step; both
 * must stay valid and not overlap) in group `group`, allocating its momentum buffer
 * when momentum != 0; *index (may be NULL) gets its index, 0, 1, ... in order. */
geoloc_status geoloc_sgd_add(geoloc_sgd *opt, float *w, const float *grad, size_t n, int group,
                             size_t *index, geoloc_error *err);

/* Sets a group's lr multiplier (>= 0), weight decay (>= 0, or GEOLOC_SGD_INHERIT) and
 * frozen flag; a group not set has 1, GEOLOC_SGD_INHERIT, 0. May be called between steps. */
geoloc_status geoloc_sgd_set_group(geoloc_sgd *opt, int group, double lr_scale,
                                   double weight_decay, int frozen, geoloc_error *err);

/* One update of every unfrozen parameter with learning rate lr * (its group's lr_scale)
 * and gradients grad * grad_scale; lr and grad_scale must be finite. Never allocates. */
void geoloc_sgd_step(geoloc_sgd *opt, double lr, float grad_scale);

/* ---- SGD state, for checkpoints ------------------------------------------ */

/* Number of registered parameters. */
size_t geoloc_sgd_param_count(const geoloc_sgd *opt);

/* Number of floats of parameter i (0 when i is out of range). */
size_t geoloc_sgd_param_size(const geoloc_sgd *opt, size_t i);

/* Momentum buffer of parameter i (param_size floats, writable to restore a checkpoint);
 * NULL when momentum is 0, the size is 0 or i is out of range. Meaningful once started. */
float *geoloc_sgd_momentum(geoloc_sgd *opt, size_t i);

/* Whether parameter i's momentum buffer holds a value (it has had an unfrozen step
 * with momentum != 0; torch: 'momentum_buffer' in optimizer.state[p]). */
int geoloc_sgd_momentum_started(const geoloc_sgd *opt, size_t i);

/* Sets parameter i's started flag (restore it with the buffer's contents). */
geoloc_status geoloc_sgd_set_momentum_started(geoloc_sgd *opt, size_t i, int started,
                                              geoloc_error *err);

/* Number of geoloc_sgd_step calls so far (plus any count restored). */
int64_t geoloc_sgd_step_count(const geoloc_sgd *opt);

/* Sets the step count (restoring a checkpoint); it only counts, nothing depends on it. */
void geoloc_sgd_set_step_count(geoloc_sgd *opt, int64_t steps);

/* Whether steps round a + alpha*b once (fused multiply-add, as torch on FMA machines). */
int geoloc_sgd_fused(const geoloc_sgd *opt);

/* Chooses fused (nonzero) or twice-rounded multiply-adds; the default is fused exactly
 * when the CPU has FMA. Fused on a CPU without FMA is exact but slow (libm fmaf). */
void geoloc_sgd_set_fused(geoloc_sgd *opt, int fused);

/* ---- Learning-rate schedules -------------------------------------------- */

/* Main schedule, each the closed form of a torch.optim.lr_scheduler class. */
typedef enum geoloc_lr_kind {
    GEOLOC_LR_CONSTANT,  /* base_lr */
    GEOLOC_LR_STEP,      /* StepLR: base_lr * gamma^floor(t / step_size) */
    GEOLOC_LR_MULTISTEP, /* MultiStepLR: base_lr * gamma^(number of milestones <= t) */
    GEOLOC_LR_EXP,       /* ExponentialLR: base_lr * gamma^t */
    GEOLOC_LR_COSINE     /* CosineAnnealingLR:
                            eta_min + (base_lr - eta_min)(1 + cos(pi t / t_max)) / 2 */
} geoloc_lr_kind;

/* Most milestones of a multistep schedule. */
#define GEOLOC_LR_MAX_MILESTONES 64

/* A schedule; fill it with geoloc_lr_schedule_parse (or by hand, then check it with
 * geoloc_lr_schedule_check). Fields that do not apply to `kind` are ignored. */
typedef struct geoloc_lr_schedule {
    geoloc_lr_kind kind;
    double base_lr;     /* >= 0: torch's initial lr of the optimizer */
    long step_size;     /* STEP: > 0 */
    double gamma;       /* STEP, MULTISTEP, EXP: > 0 */
    int n_milestones;   /* MULTISTEP: 1 .. GEOLOC_LR_MAX_MILESTONES */
    long milestones[GEOLOC_LR_MAX_MILESTONES]; /* MULTISTEP: > 0, increasing */
    long t_max;         /* COSINE: > 0 (periodic beyond, as torch) */
    double eta_min;     /* COSINE: >= 0 */
    long warmup;        /* linear warm-up steps W, 0: none (COSINE: W <= t_max) */
    double warmup_start; /* warm-up start factor, in (0, 1] */
} geoloc_lr_schedule;

/* Learning rate at step t (t < 0 counts as 0): torch's lr after t scheduler steps of
 * ChainedScheduler([LinearLR(start_factor=warmup_start, total_iters=W), main]), or of
 * main alone when warmup is 0. For every schedule but cosine with eta_min > 0 that is
 * main(t) * (f + (1 - f) min(t, W) / W); for that one, torch's chained recursion is
 * followed for t <= W (O(W) work) and extended in closed form after. */
double geoloc_lr_at(const geoloc_lr_schedule *s, long t);

/* Parses a schedule for base learning rate base_lr. Syntax (no spaces):
 *     constant
 *     step:N[:GAMMA]                 every N steps lr *= GAMMA (default 0.1, as torch)
 *     multistep:M1,M2,...[:GAMMA]    at each milestone lr *= GAMMA (default 0.1)
 *     exp:GAMMA                      every step lr *= GAMMA
 *     cosine:T_MAX[:ETA_MIN]         cosine annealing to ETA_MIN (default 0) at T_MAX
 * optionally followed by
 *     +warmup:W[:START_FACTOR]       linear warm-up from START_FACTOR*lr (default 1/3, as
 *                                    torch's LinearLR) to lr over the first W steps
 * e.g. "step:5:0.5" (lr halved every 5 epochs), "cosine:100:1e-5+warmup:5:0.01".
 * `what` names the option in messages (NULL: "lr schedule"), e.g.
 * `--lr-schedule: "step:x": step size "x" is not a positive integer`. */
geoloc_status geoloc_lr_schedule_parse(const char *text, double base_lr, const char *what,
                                       geoloc_lr_schedule *out, geoloc_error *err);

/* Checks every field of a schedule filled by hand (messages name the field). */
geoloc_status geoloc_lr_schedule_check(const geoloc_lr_schedule *s, geoloc_error *err);

/* Writes s in the syntax of geoloc_lr_schedule_parse to buf (size bytes, '\0'-terminated,
 * numbers in the fewest digits that read back exactly); returns the length it needs
 * (excluding the '\0'), as snprintf. base_lr is not part of the text. */
size_t geoloc_lr_schedule_format(const geoloc_lr_schedule *s, char *buf, size_t size);

#ifdef __cplusplus
}
#endif
#endif
