/* Training internals shared by src/model/train*.c. Internal API. */
#ifndef GEOLOC_MODEL_TRAIN_INTERNAL_H
#define GEOLOC_MODEL_TRAIN_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "geoloc/model.h"
#include "geoloc/nn.h"
#include "geoloc/optim.h"
#include "geoloc/source.h"
#include "geoloc/train.h"
#include "geoloc/transform.h"

#define TRAIN_MAX_PARTS GEOLOC_MODEL_MAX_PARTITIONS
#define TRAIN_MAX_HEADS (GEOLOC_MODEL_MAX_PARTITIONS + 1)
#define TRAIN_PATH 1024

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
} train_state;

/* A tensor saved in checkpoints. */
typedef struct train_tensor {
    const char *name;
    float *data;
    size_t n;
} train_tensor;

typedef struct train_ctx {
    const geoloc_train_options *o;
    geoloc_train_result *res;
    double t0;                       /* start of this run (monotonic seconds) */
    /* photos: the training manifest's rows, then the validation manifest's */
    size_t n;
    const geoloc_manifest_row **row;
    size_t *train, *val;             /* table indices */
    size_t n_train, n_val;
    /* the photos' bytes: base source and each table photo's index in it */
    geoloc_source base;
    int has_base;
    size_t *base_index;
    /* partitions (coarse to fine), heads and labels */
    size_t n_parts;
    const geoloc_partition *part[TRAIN_MAX_PARTS];
    geoloc_partition *owned[TRAIN_MAX_PARTS];
    char part_name[TRAIN_MAX_PARTS][64];
    int32_t *anc[TRAIN_MAX_PARTS];   /* anc[c][k]: class of partition c holding finest class k */
    size_t n_heads;                  /* partitions + scene */
    int scene_kind;                  /* GEOLOC_SCENE_S3.. or NONE */
    int classes[TRAIN_MAX_HEADS];
    float head_weight[TRAIN_MAX_HEADS];
    int32_t *label[TRAIN_MAX_HEADS]; /* per head, per table photo (-1: none) */
    /* model */
    geoloc_model *model;
    geoloc_resnet_config backbone_cfg;
    geoloc_norm norm;
    char backbone_path[TRAIN_PATH];
    char backbone_name[256];
    uint64_t backbone_hash;
    /* files and identities */
    char features_path[TRAIN_PATH], ckpt_path[TRAIN_PATH], log_path[TRAIN_PATH];
    uint64_t photos_hash;            /* IMG_IDs in table order */
    uint64_t data_hash;              /* photos, split, labels, partitions */
    char options_text[512];          /* hyperparameters that must not change on resume */
    int log_fd;
    /* this run: start, training time and steps before it (resumed), images so far */
    double run_t0, elapsed0;
    long step0;
    uint64_t run_images;
    /* cached backbone features (heads mode, baselines): n x views x dim */
    const float *feat;
    const uint8_t *feat_ok;
    int feat_views, feat_dim;
    void *feat_owner;                /* the cache file (geoloc_safetensors) when read from it */
    float *feat_alloc;
    uint8_t *ok_alloc;
} train_ctx;

/* ---- train.c ---- */
/* Passes a progress report to the options' callback (if any). */
void train_report(train_ctx *c, const geoloc_train_event *ev);
/* Reports an INFO / a WARNING message. */
void train_info(train_ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void train_warn(train_ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Monotonic clock in seconds. */
double train_now(void);
/* Hash of n bytes continuing from h (identities of files and data, not cryptographic). */
uint64_t train_hash_bytes(uint64_t h, const void *data, size_t n);
/* splitmix64 finaliser (seeds from seeds). */
uint64_t train_mix(uint64_t x);

/* ---- train_data.c ---- */
/* Photo table, split, preflight of the images, the base source. */
geoloc_status train_data_setup(train_ctx *c, geoloc_error *err);
/* Partitions (given or built), labels, hierarchy, data hash. */
geoloc_status train_labels_setup(train_ctx *c, geoloc_error *err);
/* A source over table photos list[0..n) of the base source (ctx must outlive it). */
typedef struct train_subset {
    const geoloc_source *base;
    const size_t *base_index;
    const size_t *list;
    size_t n;
} train_subset;
geoloc_source train_subset_source(train_subset *s);
/* Releases the table, source, partitions and labels. */
void train_data_free(train_ctx *c);

/* ---- train_views.c ---- */
/* Called for each photo list[k] whose views are in the execution's slots
 * first..first+views-1 (view order: three crops, flipped three crops, random). */
typedef void (*train_view_fn)(void *ctx, size_t k, int view0, int views, const geoloc_exec *ex,
                              int first);
/* Runs the network (INFER execution of photos_per_batch * views images, views 3..6)
 * over the three crops (and flips) of photos list[0..n); failed[k] set for photos
 * that cannot be read (may be NULL). */
geoloc_status train_run_three(train_ctx *c, geoloc_exec *ex, int photos_per_batch, int views,
                              const size_t *list, size_t n, train_view_fn fn, void *ctx,
                              uint8_t *failed, size_t *progress_done, size_t progress_total,
                              geoloc_error *err);
/* The features of every table photo: from the cache when it matches, else computed
 * (views: as geoloc_train_options.views) and cached. */
geoloc_status train_features(train_ctx *c, int views, geoloc_error *err);
/* Releases the features (closes the cache file). */
void train_features_free(train_ctx *c);

/* ---- train_eval.c ---- */
/* The hierarchical Class2GPS answer from each geo head's class probabilities. */
void train_answer(const train_ctx *c, const float *const *probs, double *lat, double *lng);
/* Summary of the great-circle errors of answers for the validation photos. */
geoloc_status train_val_summary(const train_ctx *c, const double *lat, const double *lng,
                                const uint8_t *skip, geoloc_distance_summary *out,
                                geoloc_error *err);
/* The two baselines on the cached features. */
geoloc_status train_baselines(train_ctx *c, geoloc_error *err);

/* ---- train_heads.c / train_full.c ---- */
/* Trains the heads on the cached features (resuming when asked); leaves them in the model. */
geoloc_status train_heads_run(train_ctx *c, geoloc_error *err);
/* Trains the whole network on the photos (resuming when asked). */
geoloc_status train_full_run(train_ctx *c, geoloc_error *err);

/* ---- train_ckpt.c ---- */
/* Writes a checkpoint atomically: tensors, optimizer state, position, run identity. */
geoloc_status train_ckpt_write(train_ctx *c, const train_tensor *t, size_t nt, geoloc_sgd *opt,
                               const train_state *s, geoloc_error *err);
/* Restores tensors, optimizer state and *s; E_IO with a message when absent. */
geoloc_status train_ckpt_read(train_ctx *c, const train_tensor *t, size_t nt, geoloc_sgd *opt,
                              train_state *s, geoloc_error *err);
/* Opens the log: new (header written) or, resuming, cut back to keep_bytes; *size
 * receives its size. */
geoloc_status train_log_open(train_ctx *c, int resume, uint64_t keep_bytes, uint64_t *size,
                             geoloc_error *err);
/* Appends one row (an epoch's, or a step's; val NULL: empty columns) and syncs it;
 * returns the log's size in *size. */
geoloc_status train_log_row(train_ctx *c, const train_state *s, int epoch_row, double lr, double loss,
                            const double *head_loss, const geoloc_distance_summary *val,
                            double images_per_s, uint64_t *size, geoloc_error *err);
/* Closes the log (if open). */
void train_log_close(train_ctx *c);

/* ---- shared loop pieces (train.c) ---- */
/* Parses the schedule of the options. */
geoloc_status train_schedule(const train_ctx *c, geoloc_lr_schedule *s, geoloc_error *err);
/* Marks the start of the loop at state s (fresh or restored). */
void train_run_start(train_ctx *c, const train_state *s);
/* Training seconds so far, earlier runs included. */
double train_elapsed(const train_ctx *c);
/* Reports a step (s->step already counted) and logs it every log_every steps. */
geoloc_status train_after_step(train_ctx *c, train_state *s, double lr, const double *step_loss,
                               double step_total, long steps_in_epoch, long step_in_epoch,
                               geoloc_error *err);
/* Closes an epoch: report, log row with the validation, reset the epoch's sums, next
 * epoch, checkpoint of the nt tensors t and the optimizer; *stop is set (and the result
 * marked stopped) when the stop-after step count is reached before the last epoch. */
geoloc_status train_end_epoch(train_ctx *c, train_state *s, double lr, const geoloc_distance_summary *val,
                              const train_tensor *t, size_t nt, geoloc_sgd *opt, int *stop, geoloc_error *err);

#endif
