/* Training internals shared by the files of src/train. Internal API.
 *
 * Files call downwards only:
 *   train.c (geoloc_train: setup, the run's locks, saving the model)
 *     -> loop.c (epochs, resume, end-of-step and end-of-epoch bookkeeping)
 *       -> step.c (one optimizer step of either mode, top to bottom)
 *         -> heads.c, full.c (the two modes' pieces)
 *       -> eval.c (validation, baselines) -> features.c (views, cache)
 *       -> checkpoint.c, log.c -> data.c -> report.c (at the bottom).
 *
 * The state is split by concern: train_run (options, result, files, log,
 * timing), train_data (photos, split, source, partitions, labels, heads),
 * train_model (network, backbone identity), train_features (the cached
 * backbone features) and train_optim (SGD, schedule, saved tensors); each
 * function takes only the parts it needs. */
#ifndef GEOLOC_TRAIN_INTERNAL_H
#define GEOLOC_TRAIN_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "geoloc/loader.h"
#include "geoloc/model.h"
#include "geoloc/nn.h"
#include "geoloc/optim.h"
#include "geoloc/source.h"
#include "geoloc/train.h"
#include "geoloc/transform.h"
#include "io/file_lock.h"

#define TRAIN_MAX_PARTS GEOLOC_MODEL_MAX_PARTITIONS
#define TRAIN_MAX_HEADS GEOLOC_NN_MAX_HEADS
#define TRAIN_PATH 1024
#define TRAIN_N_LOCKS 4 /* model, checkpoint, log, features cache */
#define TRAIN_VAL_PHOTOS 8 /* full mode: validation photos per network call (x 3 crops) */

/* ---- the parts of a run ---- */

/* Table photos list[0..n) of a base source. */
typedef struct train_subset {
    const geoloc_source *base;
    const size_t *base_index;
    const size_t *list;
    size_t n;
} train_subset;

/* The run: options, result, output files, log, timing. */
typedef struct train_run {
    const geoloc_train_options *o;
    geoloc_train_result *res;
    double t0;                       /* start of this run (monotonic seconds) */
    char features_path[TRAIN_PATH], ckpt_path[TRAIN_PATH], log_path[TRAIN_PATH];
    char options_text[512];          /* hyperparameters that must not change on resume */
    file_lock lock[TRAIN_N_LOCKS];   /* held for the whole run on <output>.run */
    int resume;                      /* continue from the checkpoint (resuming with none is
                                        allowed only after an interrupted feature extraction) */
    int log_fd;
    /* this run: start, training time and steps before it (resumed), images so far */
    double run_t0, elapsed0;
    long step0;
    uint64_t run_images;
} train_run;

/* What a head predicts. */
typedef enum train_head_role {
    TRAIN_HEAD_GEO,   /* k: partition */
    TRAIN_HEAD_SCENE, /* k: scene level (geoloc_scene_level) */
    TRAIN_HEAD_ISN    /* k: s * n_parts + f, partition f of S3 scene s's ISN */
} train_head_role;

/* The photos, their split and source, the partitions and every photo's labels. */
typedef struct train_data {
    /* photos: the training manifest's rows, then the validation manifest's */
    size_t n;
    const geoloc_manifest_row **row;
    size_t *train, *val;             /* table indices */
    size_t n_train, n_val;
    /* the photos' bytes: base source and each table photo's index in it */
    geoloc_source base;
    int has_base;
    size_t *base_index;
    /* partitions (coarse to fine) */
    size_t n_parts;
    const geoloc_partition *part[TRAIN_MAX_PARTS];
    geoloc_partition *owned[TRAIN_MAX_PARTS];
    char part_name[TRAIN_MAX_PARTS][64];
    /* heads in the model's order: one per partition, one per scene level (S3, S16,
     * S365), then the ISN heads (S3 scene-major); see train_head() */
    size_t n_heads;
    int scene_head[GEOLOC_SCENE_LEVELS]; /* head of each level, -1: none */
    int32_t *scene_label[GEOLOC_SCENE_LEVELS]; /* with a scene classifier (--scene-labels): each table
                                                  photo's label of a level, the manifest's or its own */
    size_t n_isn;                    /* S3 scenes with ISN heads (0: none) */
    char head_name[TRAIN_MAX_HEADS][GEOLOC_NN_HEAD_NAME]; /* the model's head names (geo0, scene_S3, isn0_geo1, ...) */
    int classes[TRAIN_MAX_HEADS];
    float head_weight[TRAIN_MAX_HEADS];
    int32_t *label[TRAIN_MAX_HEADS]; /* per head, per table photo (-1: none) */
    uint64_t photos_hash;            /* IMG_IDs in table order */
    uint64_t data_hash;              /* photos, split, labels, partitions */
} train_data;

/* The network being trained and the backbone it started from. */
typedef struct train_model {
    geoloc_model *model;
    geoloc_resnet_config backbone_cfg;
    geoloc_norm norm;
    char backbone_path[TRAIN_PATH];
    char backbone_name[256];
    uint64_t backbone_hash;
} train_model;

/* Cached backbone features (heads mode, baselines): n x views x dim. */
typedef struct train_features {
    const float *feat;
    const uint8_t *ok;
    int views, dim;
    void *owner;                     /* the cache file (geoloc_safetensors) when read from it */
    float *feat_alloc;
    uint8_t *ok_alloc;
} train_features;

/* A tensor saved in checkpoints, and its gradient (NULL: not trained). */
typedef struct train_tensor {
    const char *name;
    float *data;
    const float *grad;
    size_t n;
} train_tensor;

/* The optimizer, its schedule and the tensors a checkpoint saves. */
typedef struct train_optim {
    geoloc_sgd *sgd;
    geoloc_lr_schedule sched;
    train_tensor *t;
    size_t nt, cap;
} train_optim;

/* Where training stands; saved in checkpoints. */
typedef struct train_state {
    int epoch;              /* current epoch (0-based) */
    long batch_in_epoch;    /* data batches of this epoch already used */
    long step;              /* optimizer steps since the start */
    double elapsed;         /* seconds of training so far (all runs) */
    double loss_sum[TRAIN_MAX_HEADS]; /* this epoch's per-head losses so far (sum over batches) */
    double loss_total;      /* this epoch's weighted losses so far */
    long loss_n;            /* batches summed */
    uint64_t images;        /* images through the network this epoch */
    uint64_t log_bytes;     /* size of the log when the state was saved */
    geoloc_distance_summary val; /* the last finished epoch's validation (n = 0: none) */
} train_state;

/* ---- the two modes' state ---- */

/* Heads mode: linear heads on the cached features. */
typedef struct train_heads {
    const train_data *d;
    const train_features *f;
    const geoloc_train_options *o;
    const geoloc_model *model; /* partitions and hierarchy for the validation's answers */
    int dim, views;
    size_t n_heads;
    float *w[TRAIN_MAX_HEADS], *b[TRAIN_MAX_HEADS], *gw[TRAIN_MAX_HEADS], *gb[TRAIN_MAX_HEADS];
    int classes_max;
    float *mu, *inv;        /* standardisation: x' = (x - mu) * inv */
    size_t *sample, n_samples, *order;
    float *x, *g;           /* batch features (batch x dim), per-class gradients (batch x classes) */
    int32_t *y;
    double *loss;           /* per sample of the batch */
} train_heads;

/* Data-parallel training: the gradients summed across the ranks (replicas.c). */
typedef struct train_replicas {
    int rank, size;
    float **grad;           /* every trained tensor's gradient, in a fixed order */
    size_t *n, ng, floats;
    float *bucket;          /* small tensors' gradients packed for one sum */
    double seconds;         /* spent summing gradients */
    long sums;              /* gradient sums so far (steps) */
} train_replicas;

/* Full mode: the whole network on photos from a loader. */
typedef struct train_full {
    train_run *r;
    const train_data *d;
    const train_model *m;
    geoloc_net *net;
    geoloc_net *prefix, *tail; /* --tune-from: the frozen layers and the trained ones (views of net) */
    geoloc_net *trained;    /* the network whose gradients a step computes: net or tail */
    geoloc_exec *prefix_ex; /* --tune-from: the frozen layers in inference, their maps the tail's input */
    geoloc_exec *train_ex, *infer_ex;
    train_replicas rep;     /* several ranks: the gradient sums */
    int local_batch;        /* photos of a micro-batch on this rank (micro_batch / ranks) */
    float *input;
    int32_t *lab[TRAIN_MAX_HEADS];
    geoloc_loader *loader;  /* the current epoch's */
    train_subset sub;       /* the training photos it reads */
    geoloc_source src;      /* through this source */
    /* validation */
    double *lat, *lng;
    uint8_t *failed;
    double *val_flag;       /* several ranks: the failed flags as numbers to sum */
    size_t val_first;       /* this rank's first validation photo */
    float *probs[TRAIN_MAX_HEADS], *tmp;
    geoloc_error answer_err; /* validation: the first answer refused (non-finite probabilities) */
    long scene_hit[GEOLOC_SCENE_LEVELS], scene_seen[GEOLOC_SCENE_LEVELS]; /* validation's scene answers */
} train_full;

/* ---- report.c: progress reports and the clock ---- */
/* Passes a progress report to the options' callback (if any). */
void train_report(const train_run *r, const geoloc_train_event *ev);
/* Reports an INFO / a WARNING message. */
void train_info(const train_run *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void train_warn(const train_run *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Monotonic clock in seconds. */
double train_now(void);
/* Marks the start of the training loop at state s (fresh or restored). */
void train_run_start(train_run *r, const train_state *s);
/* Training seconds so far, earlier runs included. */
double train_elapsed(const train_run *r);
/* Training images per second of this run. */
double train_images_per_s(const train_run *r);

/* ---- log.c: the CSV log ---- */
/* Opens the log: new (header written) or, resuming, cut back to keep_bytes; *size
 * receives its size. */
geoloc_status train_log_open(train_run *r, const train_data *d, int resume, uint64_t keep_bytes,
                             uint64_t *size, geoloc_error *err);
/* Appends one row (an epoch's, or a step's; val NULL: empty columns) and syncs it;
 * returns the log's size in *size. */
geoloc_status train_log_row(train_run *r, const train_data *d, const train_state *s, int epoch_row, double lr,
                            double loss, const double *head_loss, const geoloc_distance_summary *val,
                            const double *scene_acc, uint64_t *size, geoloc_error *err);
/* Closes the log (if open). */
void train_log_close(train_run *r);

/* ---- data.c ---- */
/* Hash of n bytes continuing from h (identities of files and data, not cryptographic). */
uint64_t train_hash_bytes(uint64_t h, const void *data, size_t n);
/* splitmix64 finaliser (seeds from seeds). */
uint64_t train_mix(uint64_t x);
/* Photo table, split, preflight of the images, the base source. */
geoloc_status train_data_setup(train_data *d, const train_run *r, geoloc_error *err);
/* Partitions (given or built), labels, hierarchy, scene heads (labels completed by
 * the scene_labels model: scene_labels.c), ISN heads, data hash. */
geoloc_status train_labels_setup(train_data *d, train_run *r, geoloc_error *err);
/* The head of a role (train_head_role says what k is); -1 if none. */
int train_head(const train_data *d, train_head_role role, size_t k);
/* A head's name in logs: its partition's, or the model's (scene_S16, isn0_geo1, ...). */
const char *train_head_name(const train_data *d, size_t h);

/* The scene levels a run trains (GEOLOC_SCENE_S3 | ...; AUTO resolved by the manifest's columns). */
int train_scene_set(const geoloc_train_options *o);

/* ---- scene_labels.c ---- */
/* With a scene classifier (o->scene_labels): d->scene_label[l] of every level the run
 * trains, the manifest's labels, and for photos lacking one the most probable class of
 * the classifier's head of that level (its probabilities averaged over the photo's three
 * crops, through its network), counted in the result's scene_labels_added. Before
 * train_labels_setup, which uses them. */
geoloc_status train_scene_labels_setup(train_run *r, train_data *d, geoloc_error *err);
/* A source over the subset's photos (s must outlive it). */
geoloc_source train_subset_source(train_subset *s);
/* Releases the table, source, partitions and labels. */
void train_data_free(train_data *d);

/* ---- checkpoint.c ---- */
/* Writes a checkpoint atomically: tensors, optimizer state, position, run identity;
 * refuses (divergence error) when a tensor or momentum holds a non-finite value. */
geoloc_status train_ckpt_write(train_run *r, const train_data *d, const train_optim *opt, const train_state *s,
                               geoloc_error *err);
/* Restores tensors, optimizer state and *s. */
geoloc_status train_ckpt_read(train_run *r, const train_data *d, train_optim *opt, train_state *s,
                              geoloc_error *err);
/* The divergence error: "training diverged at epoch E step S: WHAT; last good checkpoint ..."
 * (E, S: 1-based). */
geoloc_status train_diverged(const train_run *r, int epoch, long step, const char *what, geoloc_error *err);
/* Index of the first non-finite value of x[0..n), or n. */
size_t train_first_nonfinite(const float *x, size_t n);
/* Adds a tensor to those a checkpoint saves. */
geoloc_status train_optim_add_tensor(train_optim *opt, const char *name, float *data, const float *grad, size_t n,
                                     geoloc_error *err);
/* Releases the optimizer and the tensor list. */
void train_optim_free(train_optim *opt);

/* ---- replicas.c: data-parallel training across ranks ---- */
/* Lists the network's gradients to sum (nothing to do with one rank). */
geoloc_status train_replicas_setup(train_replicas *R, geoloc_net *net, geoloc_error *err);
/* Releases the lists and the bucket. */
void train_replicas_free(train_replicas *R);
/* Replaces every gradient by its sum over the ranks (buckets of small tensors). */
geoloc_status train_replicas_sum_grads(train_replicas *R, geoloc_error *err);
/* Copies rank 0's tensors to every rank (buffers_only: those without a gradient, the
 * batch-norm running statistics). */
geoloc_status train_replicas_share(const train_optim *opt, int buffers_only, geoloc_error *err);
/* Copies rank 0's tensors, optimizer state and *st (read from its checkpoint) to every rank. */
geoloc_status train_replicas_share_state(train_optim *opt, train_state *st, geoloc_error *err);
/* Stops (GEOLOC_E_RANGE, naming a rank) when the ranks' weights are no longer equal. */
geoloc_status train_replicas_check(const train_optim *opt, long step, geoloc_error *err);

/* ---- features.c ---- */
/* Called for each photo list[k] whose views are in the execution's slots
 * first..first+views-1 (view order: three crops, flipped three crops, random). */
typedef void (*train_view_fn)(void *ctx, size_t k, int view0, int views, const geoloc_exec *ex, int first);
/* Runs the network (INFER execution of photos_per_batch * views images, views 3..6)
 * over the three crops (and flips) of photos list[0..n); failed[k] set for photos
 * that cannot be read (may be NULL). */
geoloc_status train_run_three(train_run *r, const train_data *d, geoloc_norm norm, geoloc_exec *ex,
                              int photos_per_batch, int views, const size_t *list, size_t n, train_view_fn fn,
                              void *ctx, uint8_t *failed, size_t *progress_done, size_t progress_total,
                              geoloc_error *err);
/* The features of every table photo: from the cache when it matches, else computed
 * chunk by chunk (each chunk saved, so an interrupted extraction resumes) and cached. */
geoloc_status train_features_get(train_features *f, train_run *r, const train_data *d, const train_model *m,
                                 int views, geoloc_error *err);
/* 1 when an interrupted extraction left chunks of the features. */
int train_features_started(const train_run *r);
/* Releases the features (closes the cache file). */
void train_features_free(train_features *f);

/* ---- heads.c ---- */
/* Finds the heads in the model, lists the training samples, standardises, and
 * registers the heads' weights with the optimizer. */
geoloc_status train_heads_setup(train_heads *H, const train_data *d, const train_features *f,
                                const geoloc_train_options *o, geoloc_model *model, train_optim *opt,
                                geoloc_error *err);
/* The epoch's order of the samples: a Fisher-Yates shuffle seeded by (seed, epoch). */
void train_heads_epoch_order(train_heads *H, int epoch);
/* Loads the standardised features of samples rows[0..nb) into the batch. */
void train_heads_load_batch(train_heads *H, const size_t *rows, size_t nb);
/* Forward, loss and backward of head h on the loaded batch: returns its loss (mean over
 * the labelled samples) and leaves its gradients. */
double train_heads_forward_backward(train_heads *H, size_t h, const size_t *rows, size_t nb);
/* Class probabilities of every head, averaged over views 0-2 of table photo k
 * (x: dim floats, tmp: classes_max floats of scratch). */
void train_heads_predict(const train_heads *H, size_t k, float *x, float *const *probs, float *tmp);
/* Folds the standardisation into the heads (before saving). */
void train_heads_fold(train_heads *H);
void train_heads_free(train_heads *H);

/* ---- calibrate.c ---- */
#define TRAIN_CALIBRATION_MIN 20 /* photos needed for a calibration */
struct train_trainer;
/* Fits model->calibration after heads training (before train_heads_fold): on the
 * training photos' out-of-fold answers (o->calibration_folds >= 2; then measured on
 * the validation photos) or on the validation photos' answers. */
geoloc_status train_calibrate_heads(train_run *r, const struct train_trainer *final, train_model *m,
                                    const train_features *f, const geoloc_lr_schedule *sched, geoloc_error *err);

/* ---- full.c ---- */
/* Executions, buffers and optimizer parameters (every network parameter) of full training. */
geoloc_status train_full_setup(train_full *F, train_run *r, const train_data *d, const train_model *m,
                               train_optim *opt, geoloc_error *err);
/* Micro-batches per epoch. */
long train_full_micro_batches(const train_full *F);
/* Starts the epoch's loader and skips the first `skip` micro-batches (a resume). */
geoloc_status train_full_epoch_begin(train_full *F, int epoch, long skip, geoloc_error *err);
/* The next micro-batch of the epoch's loader. */
geoloc_status train_full_next(train_full *F, geoloc_batch *b, geoloc_error *err);
/* Sets the labels of this rank's slice of a micro-batch (-1: no photo) and counts its
 * labelled photos per head into labelled[0..n_heads). */
void train_full_labels(train_full *F, const geoloc_batch *b, int64_t *labelled);
/* Forward and backward of this rank's slice (gradients added), the heads' losses weighted
 * by head_weight; its per-head mean losses. */
geoloc_status train_full_forward_backward(train_full *F, const geoloc_batch *b, const float *head_weight,
                                          float *losses, geoloc_error *err);
/* Ends the epoch's loader. */
void train_full_epoch_end(train_full *F);
void train_full_free(train_full *F);

/* ---- eval.c ---- */
/* Each partition's probabilities from every head's (probs, in head order) into geo: the
 * geo heads', or with ISN heads their mix weighted by the S3 head (prediction's default
 * soft routing) written to mix (train_geo_mix_size floats). */
void train_geo_probs(const geoloc_model *m, const train_data *d, const float *const *probs, const float **geo,
                     float *mix);
/* The floats train_geo_probs' mix needs (0 without ISN heads). */
size_t train_geo_mix_size(const train_data *d);
/* The hierarchical Class2GPS answer from each head's class probabilities,
 * by the prediction's answer module (geoloc_answer_from_probs). */
geoloc_status train_answer(const geoloc_model *m, const train_data *d, const float *const *probs, double *lat,
                           double *lng, geoloc_error *err);
/* Heads mode validation on the cached features; scene_acc: per level (NaN: no head). */
geoloc_status train_validate_heads(const train_heads *H, geoloc_distance_summary *out, double *scene_acc,
                                   geoloc_error *err);
/* Full mode validation: the three crops through the network. */
geoloc_status train_validate_full(train_full *F, geoloc_distance_summary *out, double *scene_acc,
                                  geoloc_error *err);
/* The two baselines on the cached features. */
geoloc_status train_baselines(train_run *r, const train_data *d, const train_features *f, geoloc_error *err);

/* ---- step.c ---- */
/* Either mode's trainer: its state, the optimizer and the epoch's shape. */
typedef struct train_trainer {
    geoloc_train_mode mode;
    train_run *r;
    const train_data *d;
    train_optim opt;
    train_heads heads;
    train_full full;
    long epoch_batches;     /* data batches per epoch (heads: steps; full: micro-batches) */
    long per_step;          /* data batches per optimizer step */
} train_trainer;
/* Sets the trainer of the run's mode up (the heads on the features, or the whole model). */
geoloc_status train_trainer_setup(train_trainer *T, train_run *r, const train_data *d, train_model *m,
                                  const train_features *f, const geoloc_lr_schedule *sched, geoloc_error *err);
/* Starts an epoch at st's position. */
geoloc_status train_epoch_begin(train_trainer *T, const train_state *st, geoloc_error *err);
/* One optimizer step: batch -> forward -> loss -> backward -> divergence check -> SGD
 * update -> bookkeeping of st; per-head losses and their weighted total. */
geoloc_status train_step(train_trainer *T, train_state *st, double lr, double *step_loss, double *total,
                         geoloc_error *err);
/* Ends the epoch (releases its loader). */
void train_epoch_end(train_trainer *T);
/* The validation of the trainer's mode: distances (none without partitions) and per
 * level scene accuracy (NaN: no head). */
geoloc_status train_validate(train_trainer *T, geoloc_distance_summary *out, double *scene_acc, geoloc_error *err);
/* Leaves the trained weights in the model as they are saved (heads: standardisation folded). */
void train_trainer_finish(train_trainer *T);
void train_trainer_free(train_trainer *T);

/* ---- loop.c ---- */
/* The epochs from the start or the checkpoint: steps, checkpoints, the log, validation. */
geoloc_status train_loop(train_run *r, const train_data *d, train_model *m, const train_features *f,
                         const geoloc_lr_schedule *sched, geoloc_error *err);

#endif
