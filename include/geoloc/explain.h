/* geoloc: occlusion sensitivity (PlaNet, Weyand et al. 2016, after Zeiler and
 * Fergus 2014): a grey square slides over the crop the network sees, every
 * occluded copy goes through the network, and the drop of one cell's
 * probability at each position shows which parts of the photo the answer
 * rests on.
 *
 * The crop explained is the center crop of prediction's "center" mode: the
 * photo's shorter side resized to image_size * 256 / 224, then the central
 * image_size square (one crop per occluded copy, so a patch is never averaged
 * away by crops that do not contain it). The grey is, per channel, the 8-bit
 * value whose normalised input is closest to 0 (the normalisation's mean:
 * 124,116,104 for ImageNet), i.e. "no information" to the network.
 *
 * The grid: cell i of an axis covers crop pixels [i*stride, min((i+1)*stride,
 * size)), ceil(size / stride) cells; its patch is a patch x patch square
 * centred on the cell (start floor((lo + hi - patch) / 2)), clipped to the
 * crop, so edge cells get clipped patches and a stride that does not divide
 * the size gives a narrower last cell. */
#ifndef GEOLOC_EXPLAIN_H
#define GEOLOC_EXPLAIN_H

#include <stddef.h>

#include "geoloc/image.h"
#include "geoloc/model.h"
#include "geoloc/s2.h"
#include "geoloc/status.h"
#include "geoloc/transform.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Options; start from geoloc_explain_options_default(). */
typedef struct geoloc_explain_options {
    int patch;          /* side of the grey square, crop pixels (0: image_size / 7) */
    int stride;         /* grid step, crop pixels (0: ceil(image_size / 14), a 14x14 grid) */
    int partition;      /* -1: hierarchical answer (default), else that partition only */
    int has_cell;       /* 1: explain `cell` (a cell of the answering partition) */
    geoloc_cell cell;   /* instead of the answer's cell */
    int batch;          /* occluded copies per network call (default 16) */
} geoloc_explain_options;

/* What geoloc_explain found. Free with geoloc_explain_free. */
typedef struct geoloc_explain_result {
    int rows, cols;           /* the grid */
    float *drop;              /* rows x cols, row-major: p_full - p_occluded of the target */
    float p_full;             /* the target's probability on the unoccluded crop */
    float max_abs_drop;       /* largest |drop| (0 for a flat grid) */
    int size, patch, stride;  /* crop side and the grid's geometry, crop pixels */
    geoloc_cell target;       /* the cell explained */
    int target_class;         /* its class in the answering partition */
    int partition;            /* the answering partition (the finest for hierarchical) */
    geoloc_prediction answer; /* the answer on the unoccluded crop */
    geoloc_image view;        /* the resized photo; the network saw its part `crop` */
    geoloc_rect crop;         /* the explained crop in `view` */
    size_t images;            /* images run through the network (the full crop + occluded copies) */
    size_t batches;           /* network calls */
} geoloc_explain_result;

/* The defaults: patch and stride from the model's input size, hierarchical, batch 16. */
geoloc_explain_options geoloc_explain_options_default(void);

/* Number of grid cells along an axis of `size` pixels: ceil(size / stride). */
int geoloc_explain_grid_cells(int size, int stride);

/* The patch of grid cell i along an axis (see the grid above): its first
 * pixel and its length after clipping to [0, size). */
void geoloc_explain_patch_span(int size, int patch, int stride, int i, int *start, int *length);

/* Explains one decoded photo: runs the unoccluded crop and every occluded
 * copy through m's network in batches (center crop, opt's answering mode) and
 * fills *out with the grid of the target cell's probability drops. The target
 * is the answer's cell, or opt->cell (E_ARG naming it when it is not a cell
 * of the answering partition). E_ARG for a patch or stride outside 1 ..
 * image_size; *out is empty on failure. */
geoloc_status geoloc_explain(const geoloc_model *m, const geoloc_image *photo,
                             const geoloc_explain_options *opt, geoloc_explain_result *out,
                             geoloc_error *err);

/* Writes the overlay PNG atomically: the explained view with the drops,
 * bilinearly upsampled from the grid cells' centres, shaded over the crop
 * (red: the probability drops when that part is hidden; blue: it rises;
 * scaled to max_abs_drop), the crop's box outlined, the rest of the view
 * dimmed, and a legend bar below with its scale. */
geoloc_status geoloc_explain_write_png(const geoloc_explain_result *r, const char *path,
                                       geoloc_error *err);

/* Releases what a result holds (the struct itself is the caller's). */
void geoloc_explain_free(geoloc_explain_result *r);

#ifdef __cplusplus
}
#endif
#endif
