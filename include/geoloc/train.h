/* geoloc: training geolocation models (Müller-Budack et al., ECCV 2018;
 * PlaNet). A model (geoloc/model.h) is a ResNet initialised from ImageNet
 * weights with one classification head per partition of the Earth (coarse
 * to fine), scene heads (S3, S16, S365: multi-task learning) and optionally
 * Individual Scene Networks (geo heads per S3 scene), trained with the
 * paper's recipe: SGD (lr 0.01, momentum 0.9, weight decay 1e-4, lr halved
 * every 5 epochs), batches of 128 photos, random resized crops and flips, and
 * a loss that is the mean of the partitions' cross-entropies plus the scene
 * cross-entropies (each weighted). Without partitions it trains a scene
 * classifier (the helper network), whose answers can label the photos that
 * lack scene labels (scene_labels).
 *
 * Two modes:
 *   full   fine-tunes the whole network on photos from the loader;
 *   heads  runs the (frozen) backbone once over K views of every photo,
 *          caches the pooled features in a file and trains only the linear
 *          heads on them (seconds per epoch).
 * Every epoch ends with a validation (three crops per photo, the
 * hierarchical Class2GPS answer, accuracy at 1/25/200/750/2500 km).
 * Checkpoints hold everything needed to continue exactly: the weights, the
 * SGD momentum buffers, the counters and the data position, so a resumed
 * run computes the same weights, bit for bit, as an uninterrupted one. */
#ifndef GEOLOC_TRAIN_H
#define GEOLOC_TRAIN_H

#include <stddef.h>
#include <stdint.h>

#include "geoloc/dataset.h"
#include "geoloc/distance.h"
#include "geoloc/partition.h"
#include "geoloc/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum geoloc_train_mode {
    GEOLOC_TRAIN_HEADS = 0, /* cached backbone features, linear heads only */
    GEOLOC_TRAIN_FULL       /* the whole network */
} geoloc_train_mode;

/* Scene heads: a set of levels (any of S3, S16, S365 or'ed together), one head
 * per level, each trained on the manifest's S3_Label, S16_Label or S365_Label
 * column (photos without a label left out of that head's loss). */
typedef enum geoloc_train_scene {
    GEOLOC_SCENE_AUTO = -1, /* S3 when the training manifest has S3_Label, else none */
    GEOLOC_SCENE_NONE = 0,
    GEOLOC_SCENE_S3 = 1 << 0,  /* 1 << GEOLOC_SCENE_LEVEL_S3 */
    GEOLOC_SCENE_S16 = 1 << 1, /* 1 << GEOLOC_SCENE_LEVEL_S16 */
    GEOLOC_SCENE_S365 = 1 << 2 /* 1 << GEOLOC_SCENE_LEVEL_S365 */
} geoloc_train_scene;

/* What a progress report is about. */
typedef enum geoloc_train_event_kind {
    GEOLOC_TRAIN_EV_INFO,     /* message: a setup fact (sizes, files, cache use) */
    GEOLOC_TRAIN_EV_WARNING,  /* message: something skipped or suspicious */
    GEOLOC_TRAIN_EV_FEATURES, /* done/total photos of the feature extraction */
    GEOLOC_TRAIN_EV_STEP,     /* an optimizer step (heads mode: a few per second at most) */
    GEOLOC_TRAIN_EV_EPOCH,    /* an epoch ended: mean loss and the validation summary */
    GEOLOC_TRAIN_EV_BASELINE  /* name: a baseline's validation summary */
} geoloc_train_event_kind;

/* A progress report (valid during the callback only). */
typedef struct geoloc_train_event {
    geoloc_train_event_kind kind;
    const char *message;          /* INFO, WARNING; BASELINE: the baseline's name */
    size_t done, total;           /* FEATURES: photos; STEP: steps of this epoch */
    int epoch, epochs;            /* 0-based epoch and the number of epochs */
    long step;                    /* optimizer steps since the start */
    double lr, loss;              /* STEP: the step's; EPOCH: the epoch's mean loss */
    size_t n_heads;
    const float *head_loss;       /* per head, in the model's order (geo0.., scene levels, ISNs) */
    double images_per_s;          /* images through the network per second (this run) */
    double elapsed_s, eta_s;      /* since the start (resumed runs included); ETA of the run */
    const geoloc_distance_summary *val; /* EPOCH, BASELINE (EPOCH without partitions: n = 0) */
    const double *scene_acc;      /* EPOCH with validation: per scene level (S3, S16, S365) the share
                                     of labelled validation photos whose most probable class is
                                     their label; NaN without that head or labelled photos */
} geoloc_train_event;

/* Everything a training run needs; start from geoloc_train_options_default(mode). */
typedef struct geoloc_train_options {
    geoloc_train_mode mode;
    /* data */
    const geoloc_manifest *train;  /* training photos */
    const geoloc_manifest *val;    /* validation photos; NULL: split train by AUTHOR */
    double val_fraction;           /* share of train held out when val is NULL, in (0, 1) */
    int val_folds, val_fold;       /* or, when val_folds >= 2: fold val_fold of val_folds folds of
                                      train grouped by AUTHOR (geoloc_calibration_folds, by seed) */
    const char *images_dir;        /* photos at images_dir/IMG_ID, or */
    const char *shards_dir;        /* in packed shards (geoloc dataset pack), found by IMG_ID */
    int loader_threads;            /* decoding threads; 0 = one per core */
    /* partitions: given (coarse to fine) or built on the training photos */
    const geoloc_partition *const *partitions;
    const char *const *partition_names;
    size_t n_partitions;
    uint64_t tau_min;              /* when partitions is NULL: geoloc_partitions_build */
    const uint64_t *tau_max;       /* one partition per value, coarse to fine (decreasing) */
    size_t n_tau;
    int scene;                     /* geoloc_train_scene: a set of levels, AUTO or NONE */
    double scene_weight[3];        /* loss weight of each level's head (S3, S16, S365; default 1) */
    double geo_weight;             /* loss weight of the geo heads together (default 1; each
                                      partition's share as --loss mean / sum says) */
    int isn;                       /* Individual Scene Networks: per S3 scene s and partition f a
                                      head isn<s>_geo<f> trained on the photos of scene s alone
                                      (needs the S3 head); full mode shares the backbone */
    int no_geo;                    /* a scene classifier (the helper network): no partitions, no
                                      geo heads; needs scene levels; validation reports scene
                                      accuracy only */
    const char *scene_labels;      /* a scene classifier model (e.g. from no_geo): photos lacking a
                                      level's label get its most probable class of that level */
    /* network */
    const char *backbone;          /* ImageNet weights (safetensors with geoloc metadata) */
    int image_size;                /* crop side fed to the network (224) */
    /* optimisation */
    int epochs;
    double lr, momentum, weight_decay;
    int nesterov;
    const char *lr_schedule;       /* geoloc_lr_schedule_parse syntax, stepped per epoch */
    int batch;                     /* photos (heads: views) per optimizer step */
    int micro_batch;               /* full: photos per network call; batch must be a multiple */
    int loss_sum;                  /* 1: sum of the partitions' losses instead of their mean */
    int freeze_backbone;           /* full: backbone parameters not updated */
    double backbone_lr_scale;      /* full: lr multiplier of the backbone (1) */
    int tune_from;                 /* full: 0 fine-tunes the whole network; 1..4 only ResNet layer
                                      tune_from onward and the heads, the layers before frozen (their
                                      batch norms with running statistics, run in inference) */
    uint64_t seed;                 /* split, heads' initialisation, shuffling, augmentation */
    /* heads mode */
    int views;                     /* views per training photo: 3 = three crops, 6 = and their
                                      flips, more = and random resized crops (+ flips) */
    int standardize;               /* heads: train on standardised features (folded into the
                                      saved heads) */
    int calibration_folds;         /* heads: calibration on out-of-fold answers of the training
                                      photos, K author-grouped folds (0: on the validation photos) */
    /* outputs */
    const char *out;               /* the model file */
    int heads_only;                /* -1: default (heads mode: backbone left out, its file named) */
    const char *features;          /* features cache; NULL: <out without .safetensors>.features.safetensors */
    const char *checkpoint;        /* NULL: <out stem>.ckpt.safetensors */
    const char *log;               /* CSV log; NULL: <out stem>.log.csv */
    long checkpoint_every;         /* also checkpoint every N steps (0: at epoch ends only) */
    long log_every;                /* also log every N steps (0: epochs only) */
    int resume;                    /* continue from the checkpoint */
    int baselines;                 /* report the most-populated-cell and 1-NN baselines */
    long stop_after;               /* testing: stop after this many steps as if killed (0: never) */
    /* several ranks (geoloc_dist_size() > 1, full mode): each runs micro_batch / ranks photos
     * of every micro-batch and the gradients are summed; rank 0 alone writes files */
    int sync_bn;                   /* batch-norm statistics of the whole micro-batch, not each rank's */
    long check_every;              /* compare the ranks' weights every N steps (0: at checkpoints only) */
    /* progress (may be NULL) */
    void (*report)(void *ctx, const geoloc_train_event *ev);
    void *ctx;
    /* feature extraction in chunks, each saved next to the cache (<features>.chunkN) so
     * that an interrupted extraction resumes at the last complete chunk */
    size_t features_chunk;         /* photos per chunk (0: 256) */
    long stop_after_chunks;        /* testing: stop after this many new chunks as if killed (0: never) */
} geoloc_train_options;

/* What a run did. */
typedef struct geoloc_train_result {
    size_t n_train, n_val;           /* photos */
    size_t n_heads;
    int classes[32];                 /* per head (GEOLOC_NN_MAX_HEADS) */
    long steps;                      /* optimizer steps in total */
    int epochs_done;
    int stopped;                     /* stop_after (or stop_after_chunks) reached: nothing but the
                                        checkpoint (or the features' chunks) written */
    int features_cached;             /* heads: features read from the cache */
    double features_seconds;         /* heads: feature extraction (0 when cached) */
    double train_seconds;            /* optimisation and validation of this run */
    geoloc_distance_summary val;     /* after the last epoch */
    double scene_acc[3];             /* after the last epoch: per scene level (NaN: none) */
    size_t scene_labels_added[3];    /* per level, labels from the scene_labels model */
    geoloc_distance_summary baseline_cell, baseline_nn; /* with baselines */
    int epochs_before;               /* epochs finished before this run (a resume) */
    int nothing_to_do;               /* resumed a finished run whose model exists: left untouched */
    int ranks;                       /* processes that trained together */
    double sum_seconds;              /* full mode, several ranks: time spent summing gradients */
    uint64_t sum_bytes;              /* and the gradient bytes each rank contributed per step */
} geoloc_train_result;

/* Defaults of a mode: the paper's recipe (lr 0.01, momentum 0.9, weight decay 1e-4,
 * step:5:0.5, batch 128 of micro-batches 32, 15 epochs) for full; heads: batch 256,
 * 30 epochs, 6 views, standardised features. */
geoloc_train_options geoloc_train_options_default(geoloc_train_mode mode);

/* Trains a model and writes it (with the partitions built, the log, the checkpoints
 * and the features cache); on failure nothing but complete files is left (checkpoints
 * and a complete features cache are kept for a resume). The run holds an exclusive
 * lock on its outputs (GEOLOC_E_BUSY for a second run on them); a NaN or infinite
 * loss, gradient or weight stops it (GEOLOC_E_RANGE) without writing anything
 * non-finite. */
geoloc_status geoloc_train(const geoloc_train_options *opt, geoloc_train_result *result,
                           geoloc_error *err);

#ifdef __cplusplus
}
#endif
#endif
