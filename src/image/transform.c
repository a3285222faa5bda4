/* Photo transforms: random numbers, crop rectangles as torchvision defines
 * them, crop / flip / normalise on images. The resampling itself (the
 * resize and the fused path) is in resample.c, which uses this file's
 * normalisation values (never the other way round). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "geoloc/transform.h"

/* ---- splitmix64 ---- */

static uint64_t mix64(uint64_t z) {
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

#define GOLDEN_GAMMA 0x9e3779b97f4a7c15ULL

void geoloc_rng_seed(geoloc_rng *rng, uint64_t seed, uint64_t stream_a, uint64_t stream_b) {
    uint64_t s = mix64(seed + GOLDEN_GAMMA);
    s = mix64(s ^ (stream_a + 0x6a09e667f3bcc909ULL));
    s = mix64(s ^ (stream_b + 0xbb67ae8584caa73bULL));
    rng->state = s;
}

uint64_t geoloc_rng_next(geoloc_rng *rng) {
    rng->state += GOLDEN_GAMMA;
    return mix64(rng->state);
}

double geoloc_rng_uniform(geoloc_rng *rng) {
    return (double)(geoloc_rng_next(rng) >> 11) * 0x1.0p-53;
}

uint64_t geoloc_rng_below(geoloc_rng *rng, uint64_t n) {
    if (n == 0) return 0;
    uint64_t limit = -n % n; /* 2^64 mod n: values below it would bias */
    for (;;) {
        uint64_t x = geoloc_rng_next(rng);
        if (x >= limit) return x % n;
    }
}

/* ---- rectangles ---- */

/* Python's round() of a non-negative half-integer or integer quotient
 * a / 2 (half to even). */
static int round_half_even_div2(int a) {
    int q = a / 2;
    if (a % 2 != 0 && q % 2 != 0) q++; /* q + 0.5 rounds to the even neighbour */
    return q;
}

geoloc_status geoloc_resize_shorter_size(int width, int height, int shorter, int *out_width,
                                         int *out_height) {
    if (width <= 0 || height <= 0 || shorter <= 0) return GEOLOC_E_ARG;
    int s = width <= height ? width : height, l = width <= height ? height : width;
    double nl = (double)((int64_t)shorter * l) / (double)s; /* exact product, one rounding */
    if (nl >= 1e9) return GEOLOC_E_RANGE;
    int new_long = (int)nl;
    if (new_long < 1) new_long = 1;
    *out_width = width <= height ? shorter : new_long;
    *out_height = width <= height ? new_long : shorter;
    return GEOLOC_OK;
}

geoloc_status geoloc_center_crop_rect(int width, int height, int crop_w, int crop_h,
                                      geoloc_rect *out) {
    if (width <= 0 || height <= 0 || crop_w <= 0 || crop_h <= 0 || crop_w > width ||
        crop_h > height)
        return GEOLOC_E_ARG;
    out->x = round_half_even_div2(width - crop_w);
    out->y = round_half_even_div2(height - crop_h);
    out->width = crop_w;
    out->height = crop_h;
    return GEOLOC_OK;
}

geoloc_status geoloc_five_crop_rects(int width, int height, int crop_w, int crop_h,
                                     geoloc_rect out[5]) {
    geoloc_status st = geoloc_center_crop_rect(width, height, crop_w, crop_h, &out[4]);
    if (st != GEOLOC_OK) return st;
    out[0] = (geoloc_rect){0, 0, crop_w, crop_h};
    out[1] = (geoloc_rect){width - crop_w, 0, crop_w, crop_h};
    out[2] = (geoloc_rect){0, height - crop_h, crop_w, crop_h};
    out[3] = (geoloc_rect){width - crop_w, height - crop_h, crop_w, crop_h};
    return GEOLOC_OK;
}

geoloc_status geoloc_three_crop_rects(int width, int height, geoloc_rect out[3]) {
    if (width <= 0 || height <= 0) return GEOLOC_E_ARG;
    int s = width < height ? width : height;
    geoloc_rect mid;
    geoloc_center_crop_rect(width, height, s, s, &mid);
    out[1] = mid;
    if (width >= height) {
        out[0] = (geoloc_rect){0, 0, s, s};
        out[2] = (geoloc_rect){width - s, 0, s, s};
    } else {
        out[0] = (geoloc_rect){0, 0, s, s};
        out[2] = (geoloc_rect){0, height - s, s, s};
    }
    return GEOLOC_OK;
}

geoloc_rrc_params geoloc_rrc_default(void) {
    return (geoloc_rrc_params){0.66, 1.0, 3.0 / 4.0, 4.0 / 3.0};
}

/* Python's int(round(x)) for x >= 0 (half to even). */
static long round_even(double x) {
    double r = floor(x), f = x - r;
    if (f > 0.5 || (f == 0.5 && fmod(r, 2.0) != 0.0)) r += 1.0;
    return (long)r;
}

geoloc_status geoloc_random_resized_crop_rect_with(int width, int height,
                                                   const geoloc_rrc_params *p,
                                                   double (*uniform)(void *ctx), void *ctx,
                                                   geoloc_rect *out) {
    if (width <= 0 || height <= 0 || !p || !uniform || !out) return GEOLOC_E_ARG;
    if (!(p->scale_min > 0 && p->scale_min <= p->scale_max && p->ratio_min > 0 &&
          p->ratio_min <= p->ratio_max) || !isfinite(p->scale_max) || !isfinite(p->ratio_max))
        return GEOLOC_E_ARG;
    double area = (double)width * (double)height;
    double lr0 = log(p->ratio_min), lr1 = log(p->ratio_max);
    for (int attempt = 0; attempt < 10; attempt++) {
        double target = area * (p->scale_min + (p->scale_max - p->scale_min) * uniform(ctx));
        double ratio = exp(lr0 + (lr1 - lr0) * uniform(ctx));
        long w = round_even(sqrt(target * ratio)), h = round_even(sqrt(target / ratio));
        if (w > 0 && w <= width && h > 0 && h <= height) {
            long top = (long)floor(uniform(ctx) * (double)(height - h + 1));
            long left = (long)floor(uniform(ctx) * (double)(width - w + 1));
            if (top > height - h) top = height - h;
            if (left > width - w) left = width - w;
            *out = (geoloc_rect){(int)left, (int)top, (int)w, (int)h};
            return GEOLOC_OK;
        }
    }
    /* fallback: central crop, ratio clamped to the range */
    double in_ratio = (double)width / (double)height;
    long w = width, h = height;
    if (in_ratio < p->ratio_min) {
        h = round_even((double)w / p->ratio_min);
    } else if (in_ratio > p->ratio_max) {
        w = round_even((double)h * p->ratio_max);
    }
    if (w < 1) w = 1;
    if (h < 1) h = 1;
    if (w > width) w = width;
    if (h > height) h = height;
    *out = (geoloc_rect){(int)((width - w) / 2), (int)((height - h) / 2), (int)w, (int)h};
    return GEOLOC_OK;
}

static double rng_uniform_cb(void *ctx) { return geoloc_rng_uniform((geoloc_rng *)ctx); }

geoloc_status geoloc_random_resized_crop_rect(int width, int height, const geoloc_rrc_params *params,
                                              geoloc_rng *rng, geoloc_rect *out) {
    if (!rng) return GEOLOC_E_ARG;
    return geoloc_random_resized_crop_rect_with(width, height, params, rng_uniform_cb, rng, out);
}

/* ---- images ---- */

static int image_ok(const geoloc_image *img) {
    return img && img->rgb && img->width > 0 && img->height > 0;
}

geoloc_status geoloc_image_crop(const geoloc_image *src, geoloc_rect r, geoloc_image *out,
                                geoloc_error *err) {
    if (!image_ok(src) || !out) return error_set(err, GEOLOC_E_ARG, "crop: no image");
    if (r.width <= 0 || r.height <= 0 || r.x < 0 || r.y < 0 || r.x > src->width - r.width ||
        r.y > src->height - r.height)
        return error_set(err, GEOLOC_E_ARG, "crop: rectangle %dx%d+%d+%d outside the %dx%d image",
                         r.width, r.height, r.x, r.y, src->width, src->height);
    uint8_t *px = malloc((size_t)r.width * (size_t)r.height * 3);
    if (!px) return error_set(err, GEOLOC_E_NOMEM, "crop: out of memory");
    for (int y = 0; y < r.height; y++)
        memcpy(px + (size_t)y * r.width * 3,
               src->rgb + ((size_t)(r.y + y) * src->width + (size_t)r.x) * 3, (size_t)r.width * 3);
    *out = (geoloc_image){.width = r.width, .height = r.height, .rgb = px}; /* no warnings */
    return GEOLOC_OK;
}

void geoloc_image_flip(geoloc_image *img) {
    if (!image_ok(img)) return;
    for (int y = 0; y < img->height; y++) {
        uint8_t *a = img->rgb + (size_t)y * img->width * 3, *b = a + (size_t)(img->width - 1) * 3;
        for (; a < b; a += 3, b -= 3) {
            for (int c = 0; c < 3; c++) {
                uint8_t t = a[c];
                a[c] = b[c];
                b[c] = t;
            }
        }
    }
}

static const float IMAGENET_MEAN[3] = {0.485f, 0.456f, 0.406f};
static const float IMAGENET_STD[3] = {0.229f, 0.224f, 0.225f};
static const float CAFFE_MEAN_BGR[3] = {103.939f, 116.779f, 123.68f};

float geoloc_norm_value(geoloc_norm norm, int plane, int v) {
    if (plane < 0 || plane > 2) return 0.0f;
    if (v < 0) v = 0;
    if (v > 255) v = 255;
    switch (norm) {
    case GEOLOC_NORM_IMAGENET: {
        /* float32 as torchvision: ToTensor divides by 255, Normalize subtracts
         * then divides (no fused multiply-add: -ffp-contract=off) */
        float x = (float)v / 255.0f;
        float d = x - IMAGENET_MEAN[plane];
        return d / IMAGENET_STD[plane];
    }
    case GEOLOC_NORM_CAFFE: return (float)v - CAFFE_MEAN_BGR[plane];
    case GEOLOC_NORM_NONE: return (float)v;
    }
    return 0.0f;
}

geoloc_status geoloc_image_normalize(const geoloc_image *img, geoloc_norm norm, float *out_chw) {
    if (!image_ok(img) || !out_chw) return GEOLOC_E_ARG;
    if (norm != GEOLOC_NORM_IMAGENET && norm != GEOLOC_NORM_CAFFE && norm != GEOLOC_NORM_NONE)
        return GEOLOC_E_ARG;
    float lut[3][256];
    for (int p = 0; p < 3; p++)
        for (int v = 0; v < 256; v++) lut[p][v] = geoloc_norm_value(norm, p, v);
    size_t hw = (size_t)img->width * (size_t)img->height;
    int swap = norm == GEOLOC_NORM_CAFFE; /* BGR planes */
    for (size_t i = 0; i < hw; i++) {
        const uint8_t *px = img->rgb + 3 * i;
        for (int p = 0; p < 3; p++) out_chw[(size_t)p * hw + i] = lut[p][px[swap ? 2 - p : p]];
    }
    return GEOLOC_OK;
}
