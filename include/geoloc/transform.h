/* geoloc: photo transforms for the CNN: crops (center, five, the paper's
 * three along the longer side, random resized), antialiased resize,
 * horizontal flip, normalisation to NCHW float32, and a fused path that does
 * crop -> resample -> flip -> normalise in one pass into a batch slot.
 *
 * Rectangles and sizes follow torchvision (transforms v1, 0.14): crop
 * offsets use Python's round-half-to-even, the resize is the separable
 * triangle filter of PIL / torch's antialiased bilinear interpolation (its
 * support grows with the downscale factor), and resized pixels are rounded
 * to 8 bits before normalisation, as PIL -> ToTensor -> Normalize does. */
#ifndef GEOLOC_TRANSFORM_H
#define GEOLOC_TRANSFORM_H

#include <stddef.h>
#include <stdint.h>

#include "geoloc/image.h"
#include "geoloc/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A rectangle of pixels: left column x, top row y, width, height. */
typedef struct geoloc_rect {
    int x, y, width, height;
} geoloc_rect;

/* How float outputs are made from 8-bit RGB values v. */
typedef enum geoloc_norm {
    GEOLOC_NORM_IMAGENET = 0, /* RGB planes, (v/255 - mean) / std, mean [0.485,0.456,0.406],
                                 std [0.229,0.224,0.225] (torchvision ToTensor + Normalize) */
    GEOLOC_NORM_CAFFE,        /* BGR planes, v - [103.939,116.779,123.68] (Keras "caffe") */
    GEOLOC_NORM_NONE          /* RGB planes, v as float (0..255) */
} geoloc_norm;

/* ---- deterministic random numbers (splitmix64) ---- */

/* A small deterministic generator; copy it freely, never shared by threads. */
typedef struct geoloc_rng {
    uint64_t state;
} geoloc_rng;

/* Seeds a generator from a seed and two stream numbers (e.g. epoch, index):
 * different triples give independent-looking sequences. */
void geoloc_rng_seed(geoloc_rng *rng, uint64_t seed, uint64_t stream_a, uint64_t stream_b);

/* Next 64 random bits. */
uint64_t geoloc_rng_next(geoloc_rng *rng);

/* Uniform double in [0, 1) with 53 random bits. */
double geoloc_rng_uniform(geoloc_rng *rng);

/* Uniform integer in [0, n) (n > 0; unbiased). */
uint64_t geoloc_rng_below(geoloc_rng *rng, uint64_t n);

/* ---- crop rectangles and sizes ---- */

/* Size after resizing the shorter side to `shorter`, keeping the aspect
 * ratio as torchvision does (longer side = int(shorter * long / short)). */
geoloc_status geoloc_resize_shorter_size(int width, int height, int shorter, int *out_width,
                                         int *out_height);

/* torchvision center_crop: a crop_w x crop_h rectangle at
 * (round((width - crop_w) / 2), round((height - crop_h) / 2)), half to even.
 * A crop larger than the image is refused (GEOLOC_E_ARG), not padded. */
geoloc_status geoloc_center_crop_rect(int width, int height, int crop_w, int crop_h,
                                      geoloc_rect *out);

/* torchvision five_crop: top-left, top-right, bottom-left, bottom-right, center. */
geoloc_status geoloc_five_crop_rects(int width, int height, int crop_w, int crop_h,
                                     geoloc_rect out[5]);

/* The paper's three crops: squares of the shorter side at the start, the
 * center (center_crop rounding) and the end of the longer side (left, center,
 * right for landscape photos; top, middle, bottom for portrait ones). */
geoloc_status geoloc_three_crop_rects(int width, int height, geoloc_rect out[3]);

/* Area fraction and aspect-ratio (width/height) ranges of a random resized crop. */
typedef struct geoloc_rrc_params {
    double scale_min, scale_max; /* fraction of the image area, 0 < min <= max <= 1 */
    double ratio_min, ratio_max; /* 0 < min <= max; drawn log-uniformly */
} geoloc_rrc_params;

/* The parameters of the GeoEstimation reference code: scale 0.66-1, ratio 3/4-4/3. */
geoloc_rrc_params geoloc_rrc_default(void);

/* torchvision RandomResizedCrop.get_params with uniform [0,1) draws from
 * `uniform(ctx)`: up to 10 tries of area ~ U(scale) * W * H and log-ratio ~
 * U(log ratio), w = round(sqrt(area * r)), h = round(sqrt(area / r)), accepted
 * when it fits, then top = floor(u * (H - h + 1)), left = floor(u * (W - w + 1));
 * otherwise the central crop with the ratio clamped to the range. */
geoloc_status geoloc_random_resized_crop_rect_with(int width, int height,
                                                   const geoloc_rrc_params *params,
                                                   double (*uniform)(void *ctx), void *ctx,
                                                   geoloc_rect *out);

/* The same, drawing from a geoloc_rng. */
geoloc_status geoloc_random_resized_crop_rect(int width, int height, const geoloc_rrc_params *params,
                                              geoloc_rng *rng, geoloc_rect *out);

/* ---- operations on images ---- */

/* Copies a rectangle of src (which must lie inside it) into a new image. */
geoloc_status geoloc_image_crop(const geoloc_image *src, geoloc_rect rect, geoloc_image *out,
                                geoloc_error *err);

/* Antialiased resize to width x height (triangle filter scaled by the
 * downscale factor; bilinear when enlarging); result rounded to 8 bits. */
geoloc_status geoloc_image_resize(const geoloc_image *src, int width, int height,
                                  geoloc_image *out, geoloc_error *err);

/* Mirrors an image left-right in place. */
void geoloc_image_flip(geoloc_image *img);

/* Writes the 3 planes (C x H x W float32) of an image, normalised. */
geoloc_status geoloc_image_normalize(const geoloc_image *img, geoloc_norm norm, float *out_chw);

/* The float output for 8-bit value v in output plane 0-2 (exactly what
 * geoloc_image_normalize writes). */
float geoloc_norm_value(geoloc_norm norm, int plane, int v);

/* ---- the fused path ---- */

/* One fused transform: take rectangle `crop` of the source, resample it to
 * resize_w x resize_h, keep the part `window` of that (its size is the
 * output size; window = {0, 0, resize_w, resize_h} for all of it), mirror if
 * `flip`, normalise. Train: crop = random resized crop, resize = window =
 * output size. Eval: crop = whole image, resize = shorter side to 256,
 * window = a center crop of the resized size. */
typedef struct geoloc_resample_spec {
    geoloc_rect crop;
    int resize_w, resize_h;
    geoloc_rect window;
    int flip;
    geoloc_norm norm;
} geoloc_resample_spec;

/* Scratch space of the fused path (filter weights, one intermediate row),
 * grown on demand; one per thread. */
typedef struct geoloc_transformer geoloc_transformer;

/* Creates a transformer; NULL when out of memory. */
geoloc_transformer *geoloc_transformer_create(void);

/* Frees a transformer (NULL is fine). */
void geoloc_transformer_destroy(geoloc_transformer *t);

/* Runs the fused path: writes 3 x window.height x window.width floats (CHW)
 * to out_chw. Allocates only when the scratch must grow. */
geoloc_status geoloc_transform_chw(geoloc_transformer *t, const geoloc_image *src,
                                   const geoloc_resample_spec *spec, float *out_chw,
                                   geoloc_error *err);

/* The same with an 8-bit RGB result (spec->norm is ignored); out is allocated. */
geoloc_status geoloc_transform_image(geoloc_transformer *t, const geoloc_image *src,
                                     const geoloc_resample_spec *spec, geoloc_image *out,
                                     geoloc_error *err);

#ifdef __cplusplus
}
#endif
#endif
