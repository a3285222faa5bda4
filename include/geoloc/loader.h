/* geoloc: a multi-threaded, prefetching batch loader over a photo source:
 * read -> decode -> crop / resize / flip / normalise -> NCHW float32 batches.
 *
 * Results never depend on the number of threads: the order of an epoch is a
 * permutation drawn from (seed, epoch), and each photo's random crop and flip
 * from (seed, epoch, photo index). A photo that cannot be read or decoded is
 * SKIPPED: it is left out of its batch (which then holds fewer photos) and
 * listed in the batch's `failed` entries with a message naming it; the
 * loader goes on. */
#ifndef GEOLOC_LOADER_H
#define GEOLOC_LOADER_H

#include <stddef.h>
#include <stdint.h>

#include "geoloc/image.h"
#include "geoloc/source.h"
#include "geoloc/status.h"
#include "geoloc/transform.h"

#ifdef __cplusplus
extern "C" {
#endif

/* What each photo becomes. */
typedef enum geoloc_loader_mode {
    GEOLOC_LOADER_TRAIN = 0,   /* random resized crop to out_size, random flip (1 crop) */
    GEOLOC_LOADER_EVAL_CENTER, /* shorter side to resize_size, center crop out_size (1) */
    GEOLOC_LOADER_EVAL_FIVE,   /* shorter side to resize_size, five crops of out_size (5) */
    GEOLOC_LOADER_EVAL_THREE   /* shorter side to out_size, the three crops along the
                                  longer side (3) */
} geoloc_loader_mode;

/* Loader settings; start from geoloc_loader_config_default(). */
typedef struct geoloc_loader_config {
    size_t batch_size;          /* photos per batch (default 32) */
    int threads;                /* worker threads; 0 = one per online core (default) */
    int prefetch;               /* batches prepared ahead of the one being used (default 2) */
    uint64_t seed;              /* order and augmentation (default 0) */
    int shuffle;                /* 1: a new order every epoch (default 1); 0: source order */
    int drop_last;              /* 1: leave out an epoch's last, incomplete batch (default 0) */
    unsigned epochs;            /* epochs to deliver; 0 = without end (default 1) */
    geoloc_loader_mode mode;    /* default GEOLOC_LOADER_TRAIN */
    int out_size;               /* output side in pixels (default 224) */
    int resize_size;            /* eval center/five: shorter side before cropping
                                   (default out_size * 256 / 224) */
    geoloc_rrc_params rrc;      /* train crops (default geoloc_rrc_default(): 0.66-1, 3/4-4/3) */
    double flip_prob;           /* train: probability of a horizontal flip (default 0.5) */
    geoloc_norm norm;           /* default GEOLOC_NORM_IMAGENET */
    geoloc_decode_options decode; /* limits; min_shorter_side 0 = chosen by the loader */
    int dct_scaling;            /* 1: let JPEGs decode at 1/2, 1/4, 1/8 when the output
                                   keeps at least its resolution (default 1) */
    int part, parts;            /* of every batch, only the part-th of `parts` contiguous,
                                   nearly equal slices (geoloc_dist_part), so that ranks
                                   of data-parallel training each read theirs of the
                                   same batches (default 0 of 1: the whole batch) */
} geoloc_loader_config;

/* A photo of a batch that was skipped. */
typedef struct geoloc_batch_failure {
    size_t index;               /* photo index in the source */
    geoloc_status status;
    char message[512];          /* names the photo */
} geoloc_batch_failure;

/* A batch: count photos x crops images of 3 x height x width floats (NCHW;
 * a photo's crops are consecutive). Owned by the loader, valid until the
 * next geoloc_loader_next or geoloc_loader_destroy. */
typedef struct geoloc_batch {
    size_t count;               /* photos in data (<= batch_size) */
    int crops;                  /* images per photo: 1, 3 or 5 */
    int channels, height, width;
    float *data;                /* count * crops * channels * height * width */
    const size_t *indices;      /* source index of each photo in data */
    const uint8_t *flipped;     /* train: 1 if the photo was mirrored */
    size_t n_failed;            /* photos of this batch left out */
    const geoloc_batch_failure *failed;
    unsigned epoch;             /* 0-based */
    size_t number;              /* batch number within the epoch, 0-based */
    int last_in_epoch;          /* 1 for an epoch's final batch */
} geoloc_batch;

typedef struct geoloc_loader geoloc_loader;

/* The default configuration (see the field comments). */
geoloc_loader_config geoloc_loader_config_default(void);

/* Batches per epoch for n photos under a configuration. */
size_t geoloc_loader_batches_per_epoch(const geoloc_loader_config *cfg, size_t n);

/* Starts a loader over a source (which must outlive it), preallocating every
 * batch buffer and starting the workers. E_ARG for a bad configuration,
 * E_EMPTY when the source has no photos (or drop_last leaves no batch). */
geoloc_status geoloc_loader_create(const geoloc_loader_config *cfg, const geoloc_source *src,
                                   geoloc_loader **out, geoloc_error *err);

/* Waits for the next batch. GEOLOC_OK with *out filled, or GEOLOC_E_EMPTY
 * after the configured epochs. Unreadable photos never fail this call. */
geoloc_status geoloc_loader_next(geoloc_loader *loader, geoloc_batch *out, geoloc_error *err);

/* Stops the workers and frees everything (NULL is fine). */
void geoloc_loader_destroy(geoloc_loader *loader);

#ifdef __cplusplus
}
#endif
#endif
