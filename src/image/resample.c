/* Antialiased resampling (geoloc_image_resize) and the fused crop -> resample
 * -> flip -> normalise path.
 *
 * Filter: PIL's / torch's antialiased bilinear. For output pixel o of an axis
 * resized from `in` to `out` pixels, scale = in / out, the triangle filter is
 * stretched by max(scale, 1), centred at (o + 0.5) * scale, taps are input
 * pixels xmin <= x < xmax with xmin = (int)(center - support + 0.5) and
 * xmax = (int)(center + support + 0.5) clamped to the input, each weighted
 * tri((x - center + 0.5) / max(scale, 1)), and the weights normalised.
 *
 * Order: vertical pass first, one output row at a time: the tap rows of the
 * 8-bit source are summed (float) into one interleaved RGB row restricted to
 * the columns the horizontal taps need, then the horizontal pass sums
 * R,G,B together as a 4-float vector per tap, rounds to 8 bits (as PIL /
 * torchvision produce uint8 pixels), and writes the output through a
 * per-plane lookup table (normalisation) at the mirrored column if flipped.
 * Weights are computed once per call into the transformer's scratch and
 * reused when the geometry repeats; nothing is allocated per pixel. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "geoloc/transform.h"

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

typedef float v4f __attribute__((vector_size(16)));

/* Filter taps of one axis for outputs o0 .. o0+n-1. */
typedef struct axis_weights {
    int key[4];       /* in, out, o0, n of the cached weights (in = 0: none) */
    int n, kmax;      /* outputs, taps per output (stride of w) */
    int *start;       /* first input pixel of each output */
    int *count;       /* taps of each output */
    float *w;         /* n * kmax weights, zero after count */
    v4f *w4;          /* the same, each repeated in 4 lanes (horizontal pass) */
    size_t cap_n, cap_w, cap_w4;
    int lo, hi;       /* union of the taps: input pixels [lo, hi) */
    int w4_ready;     /* w4 holds the current weights */
} axis_weights;

struct geoloc_transformer {
    axis_weights h, v;
    float *row;       /* interleaved RGB row of the vertical pass (+ padding) */
    size_t row_cap;
    uint8_t *line;    /* one output row, 8-bit RGB */
    size_t line_cap;
    int lut_norm;     /* norm of lut (-1: none) */
    float lut[3][256];
};

geoloc_transformer *geoloc_transformer_create(void) {
    geoloc_transformer *t = calloc(1, sizeof *t);
    if (t) t->lut_norm = -1;
    return t;
}

static void axis_free(axis_weights *a) {
    free(a->start);
    free(a->count);
    free(a->w);
    free(a->w4);
}

void geoloc_transformer_destroy(geoloc_transformer *t) {
    if (!t) return;
    axis_free(&t->h);
    axis_free(&t->v);
    free(t->row);
    free(t->line);
    free(t);
}

static double triangle(double x) {
    if (x < 0) x = -x;
    return x < 1.0 ? 1.0 - x : 0.0;
}

/* Computes (or reuses) the weights resizing `in` pixels to `out`, outputs
 * o0 .. o0+n-1. Returns 0, or -1 when out of memory. */
static int axis_compute(axis_weights *a, int in, int out, int o0, int n) {
    if (a->key[0] == in && a->key[1] == out && a->key[2] == o0 && a->key[3] == n) return 0;
    a->key[0] = 0;
    double scale = (double)in / (double)out;
    double fscale = scale > 1.0 ? scale : 1.0;
    double support = fscale; /* triangle: support 1, stretched */
    int kmax = (int)ceil(support) * 2 + 1;
    if ((size_t)n > a->cap_n) {
        int *s = realloc(a->start, (size_t)n * sizeof *s);
        if (!s) return -1;
        a->start = s;
        int *c = realloc(a->count, (size_t)n * sizeof *c);
        if (!c) return -1;
        a->count = c;
        a->cap_n = (size_t)n;
    }
    size_t nw = (size_t)n * (size_t)kmax;
    if (nw > a->cap_w) {
        float *w = realloc(a->w, nw * sizeof *w);
        if (!w) return -1;
        a->w = w;
        a->cap_w = nw;
    }
    double tmp[4096 + 8];
    double *k = kmax <= 4096 ? tmp : malloc((size_t)(kmax + 1) * sizeof *k);
    if (!k) return -1;
    double ss = 1.0 / fscale;
    a->lo = in;
    a->hi = 0;
    for (int i = 0; i < n; i++) {
        double center = ((double)(o0 + i) + 0.5) * scale;
        int xmin = (int)(center - support + 0.5);
        if (xmin < 0) xmin = 0;
        int xmax = (int)(center + support + 0.5);
        if (xmax > in) xmax = in;
        int cnt = xmax - xmin;
        if (cnt > kmax) cnt = kmax; /* cannot happen; keeps writes in bounds */
        double total = 0;
        for (int j = 0; j < cnt; j++) {
            k[j] = triangle(((double)(j + xmin) - center + 0.5) * ss);
            total += k[j];
        }
        /* drop zero taps at both ends */
        int first = 0, last = cnt;
        while (first < last && k[first] == 0.0) first++;
        while (last > first && k[last - 1] == 0.0) last--;
        if (first == last) { /* degenerate: nearest pixel */
            int x = (int)center;
            if (x >= in) x = in - 1;
            xmin = x;
            first = 0;
            last = 1;
            k[0] = total = 1.0;
        }
        float *w = a->w + (size_t)i * (size_t)kmax;
        for (int j = first; j < last; j++) w[j - first] = (float)(k[j] / total);
        for (int j = last - first; j < kmax; j++) w[j] = 0.0f;
        a->start[i] = xmin + first;
        a->count[i] = last - first;
        if (a->start[i] < a->lo) a->lo = a->start[i];
        if (a->start[i] + a->count[i] > a->hi) a->hi = a->start[i] + a->count[i];
    }
    if (k != tmp) free(k);
    /* tighten the stride to the largest tap count */
    int used = 1;
    for (int i = 0; i < n; i++) used = a->count[i] > used ? a->count[i] : used;
    for (int i = 1; i < n && used < kmax; i++)
        memmove(a->w + (size_t)i * (size_t)used, a->w + (size_t)i * (size_t)kmax, (size_t)used * sizeof *a->w);
    a->w4_ready = 0;
    a->n = n;
    a->kmax = used;
    a->key[0] = in;
    a->key[1] = out;
    a->key[2] = o0;
    a->key[3] = n;
    return 0;
}

/* Fills a->w4 (horizontal axis only). Returns 0, or -1 when out of memory. */
static int axis_broadcast(axis_weights *a) {
    if (a->w4_ready) return 0;
    size_t nw = (size_t)a->n * (size_t)a->kmax;
    if (nw > a->cap_w4) {
        v4f *w4 = NULL;
        if (posix_memalign((void **)&w4, 64, nw * sizeof *w4) != 0) return -1;
        free(a->w4);
        a->w4 = w4;
        a->cap_w4 = nw;
    }
    for (size_t i = 0; i < nw; i++) a->w4[i] = (v4f){a->w[i], a->w[i], a->w[i], a->w[i]};
    a->w4_ready = 1;
    return 0;
}

/* acc[i] = sum over taps t of w[t] * rows[t * stride + i], i < len. */
static void vertical_pass(float *restrict acc, const uint8_t *restrict src, size_t stride,
                          const float *w, int taps, size_t len) {
    const uint8_t *r0 = src;
    if (taps == 1) {
        float w0 = w[0];
        for (size_t i = 0; i < len; i++) acc[i] = w0 * (float)r0[i];
        return;
    }
    const uint8_t *r1 = src + stride;
    float w0 = w[0], w1 = w[1];
    for (size_t i = 0; i < len; i++) acc[i] = w0 * (float)r0[i] + w1 * (float)r1[i];
    int t = 2;
    for (; t + 1 < taps; t += 2) {
        const uint8_t *ra = src + (size_t)t * stride, *rb = ra + stride;
        float wa = w[t], wb = w[t + 1];
        for (size_t i = 0; i < len; i++) acc[i] += wa * (float)ra[i] + wb * (float)rb[i];
    }
    if (t < taps) {
        const uint8_t *ra = src + (size_t)t * stride;
        float wa = w[t];
        for (size_t i = 0; i < len; i++) acc[i] += wa * (float)ra[i];
    }
}

static inline v4f load4(const float *p) {
    v4f v;
    memcpy(&v, p, sizeof v);
    return v;
}

typedef int v4i __attribute__((vector_size(16)));

/* Rounds R,G,B (lanes 0-2) to 8 bits into out[0..2]; out[3] is scratch
 * (the next pixel overwrites it). The weights are non-negative and sum to 1,
 * so the clamp only guards rounding noise. */
static inline void store_rgb8(v4f s, uint8_t *out) {
#if defined(__SSE2__)
    __m128i q = _mm_cvttps_epi32((__m128)(s + 0.5f));
    q = _mm_packs_epi32(q, q);  /* saturating: int32 -> int16 */
    q = _mm_packus_epi16(q, q); /* int16 -> uint8, clamped to 0..255 */
    uint32_t v = (uint32_t)_mm_cvtsi128_si32(q);
    memcpy(out, &v, 4);
#else
    v4i q = __builtin_convertvector(s + 0.5f, v4i);
    q &= (q > 0);
    v4i big = q > 255;
    q = (q & ~big) | (big & 255);
    out[0] = (uint8_t)q[0];
    out[1] = (uint8_t)q[1];
    out[2] = (uint8_t)q[2];
    out[3] = 0;
#endif
}

/* Horizontal pass of one row with K taps per output (K constant in each
 * instantiation so the tap loop unrolls; weights past an output's own taps
 * are 0 and the row is zero-padded). */
#define HORIZONTAL_ROW(K)                                                               \
    for (int j = 0; j < n; j++) {                                                       \
        const float *p = row + (size_t)(start[j] - lo) * 3;                             \
        const v4f *w = w4 + (size_t)j * (K);                                            \
        v4f s = load4(p) * w[0];                                                        \
        for (int t = 1; t < (K); t++) s += load4(p + 3 * t) * w[t];                     \
        store_rgb8(s, line + 3 * (size_t)j);                                            \
    }

/* The window's pixels of one row as 8-bit RGB in line[0 .. 3n). */
static void horizontal_row(const axis_weights *h, const float *row, uint8_t *line) {
    const int n = h->n, lo = h->lo, *start = h->start;
    const v4f *w4 = h->w4;
    switch (h->kmax) {
    case 1: HORIZONTAL_ROW(1) break;
    case 2: HORIZONTAL_ROW(2) break;
    case 3: HORIZONTAL_ROW(3) break;
    case 4: HORIZONTAL_ROW(4) break;
    case 5: HORIZONTAL_ROW(5) break;
    case 6: HORIZONTAL_ROW(6) break;
    case 7: HORIZONTAL_ROW(7) break;
    case 8: HORIZONTAL_ROW(8) break;
    default: {
        const int k = h->kmax;
        HORIZONTAL_ROW(k)
    }
    }
}

static geoloc_status check_spec(const geoloc_image *src, const geoloc_resample_spec *sp,
                                geoloc_error *err) {
    if (!src || !src->rgb || src->width <= 0 || src->height <= 0 || !sp)
        return error_set(err, GEOLOC_E_ARG, "transform: no image");
    geoloc_rect c = sp->crop, w = sp->window;
    if (c.width <= 0 || c.height <= 0 || c.x < 0 || c.y < 0 || c.x > src->width - c.width ||
        c.y > src->height - c.height)
        return error_set(err, GEOLOC_E_ARG, "transform: crop %dx%d+%d+%d outside the %dx%d image",
                         c.width, c.height, c.x, c.y, src->width, src->height);
    if (sp->resize_w <= 0 || sp->resize_h <= 0 || sp->resize_w > 1 << 20 || sp->resize_h > 1 << 20)
        return error_set(err, GEOLOC_E_ARG, "transform: bad resize %dx%d", sp->resize_w,
                         sp->resize_h);
    if (w.width <= 0 || w.height <= 0 || w.x < 0 || w.y < 0 || w.x > sp->resize_w - w.width ||
        w.y > sp->resize_h - w.height)
        return error_set(err, GEOLOC_E_ARG,
                         "transform: window %dx%d+%d+%d outside the %dx%d resized image", w.width,
                         w.height, w.x, w.y, sp->resize_w, sp->resize_h);
    return GEOLOC_OK;
}

/* Weights and the row buffer for a spec. */
static geoloc_status prepare(geoloc_transformer *t, const geoloc_resample_spec *sp,
                             geoloc_error *err) {
    if (axis_compute(&t->h, sp->crop.width, sp->resize_w, sp->window.x, sp->window.width) != 0 ||
        axis_compute(&t->v, sp->crop.height, sp->resize_h, sp->window.y, sp->window.height) != 0)
        return error_set(err, GEOLOC_E_NOMEM, "transform: out of memory");
    if (axis_broadcast(&t->h) != 0) return error_set(err, GEOLOC_E_NOMEM, "transform: out of memory");
    /* + padding: taps past an output's own (weight 0) and the 4th lane of the last pixel */
    size_t need = (size_t)(t->h.hi - t->h.lo + t->h.kmax) * 3 + 4;
    if (need > t->row_cap) {
        float *r = realloc(t->row, need * sizeof *r);
        if (!r) return error_set(err, GEOLOC_E_NOMEM, "transform: out of memory");
        t->row = r;
        t->row_cap = need;
    }
    size_t need_line = (size_t)sp->window.width * 3 + 1; /* + store_rgb8's 4th byte */
    if (need_line > t->line_cap) {
        uint8_t *l = realloc(t->line, need_line);
        if (!l) return error_set(err, GEOLOC_E_NOMEM, "transform: out of memory");
        t->line = l;
        t->line_cap = need_line;
    }
    memset(t->row, 0, need * sizeof *t->row);
    return GEOLOC_OK;
}

/* Vertical pass for output row i of the window into t->row. */
static void row_vertical(geoloc_transformer *t, const geoloc_image *src,
                         const geoloc_resample_spec *sp, int i) {
    size_t stride = (size_t)src->width * 3;
    const uint8_t *base = src->rgb + (size_t)(sp->crop.y + t->v.start[i]) * stride +
                          (size_t)(sp->crop.x + t->h.lo) * 3;
    vertical_pass(t->row, base, stride, t->v.w + (size_t)i * (size_t)t->v.kmax, t->v.count[i],
                  (size_t)(t->h.hi - t->h.lo) * 3);
}

geoloc_status geoloc_transform_chw(geoloc_transformer *t, const geoloc_image *src,
                                   const geoloc_resample_spec *sp, float *out_chw,
                                   geoloc_error *err) {
    if (!t || !out_chw) return error_set(err, GEOLOC_E_ARG, "transform: no output");
    geoloc_status st = check_spec(src, sp, err);
    if (st != GEOLOC_OK) return st;
    if (sp->norm != GEOLOC_NORM_IMAGENET && sp->norm != GEOLOC_NORM_CAFFE &&
        sp->norm != GEOLOC_NORM_NONE)
        return error_set(err, GEOLOC_E_ARG, "transform: unknown normalisation %d", (int)sp->norm);
    if ((st = prepare(t, sp, err)) != GEOLOC_OK) return st;
    if (t->lut_norm != (int)sp->norm) {
        for (int p = 0; p < 3; p++)
            for (int v = 0; v < 256; v++) t->lut[p][v] = geoloc_norm_value(sp->norm, p, v);
        t->lut_norm = (int)sp->norm;
    }
    const int ow = sp->window.width, oh = sp->window.height;
    const size_t plane = (size_t)ow * (size_t)oh;
    /* plane p takes channel ch[p] */
    const int bgr = sp->norm == GEOLOC_NORM_CAFFE;
    const float *lut0 = t->lut[0], *lut1 = t->lut[1], *lut2 = t->lut[2];
    const uint8_t *line = t->line;
    const int c0 = bgr ? 2 : 0, c2 = bgr ? 0 : 2;
    for (int i = 0; i < oh; i++) {
        row_vertical(t, src, sp, i);
        horizontal_row(&t->h, t->row, t->line);
        float *o0 = out_chw + (size_t)i * (size_t)ow, *o1 = o0 + plane, *o2 = o1 + plane;
        if (sp->flip) {
            for (int j = 0, x = ow - 1; j < ow; j++, x--) {
                o0[x] = lut0[line[3 * j + c0]];
                o1[x] = lut1[line[3 * j + 1]];
                o2[x] = lut2[line[3 * j + c2]];
            }
        } else {
            for (int j = 0; j < ow; j++) {
                o0[j] = lut0[line[3 * j + c0]];
                o1[j] = lut1[line[3 * j + 1]];
                o2[j] = lut2[line[3 * j + c2]];
            }
        }
    }
    return GEOLOC_OK;
}

geoloc_status geoloc_transform_image(geoloc_transformer *t, const geoloc_image *src,
                                     const geoloc_resample_spec *sp, geoloc_image *out,
                                     geoloc_error *err) {
    if (!t || !out) return error_set(err, GEOLOC_E_ARG, "transform: no output");
    geoloc_status st = check_spec(src, sp, err);
    if (st != GEOLOC_OK) return st;
    if ((st = prepare(t, sp, err)) != GEOLOC_OK) return st;
    const int ow = sp->window.width, oh = sp->window.height;
    uint8_t *px = malloc((size_t)ow * (size_t)oh * 3);
    if (!px) return error_set(err, GEOLOC_E_NOMEM, "transform: out of memory");
    for (int i = 0; i < oh; i++) {
        row_vertical(t, src, sp, i);
        uint8_t *o = px + (size_t)i * (size_t)ow * 3;
        horizontal_row(&t->h, t->row, t->line);
        memcpy(o, t->line, (size_t)ow * 3);
        if (sp->flip) {
            for (int j = 0, x = ow - 1; j < x; j++, x--) {
                for (int c = 0; c < 3; c++) {
                    uint8_t v = o[3 * j + c];
                    o[3 * j + c] = o[3 * x + c];
                    o[3 * x + c] = v;
                }
            }
        }
    }
    *out = (geoloc_image){.width = ow, .height = oh, .rgb = px}; /* no warnings */
    return GEOLOC_OK;
}

geoloc_status geoloc_image_resize(const geoloc_image *src, int width, int height,
                                  geoloc_image *out, geoloc_error *err) {
    if (!src || !src->rgb || src->width <= 0 || src->height <= 0 || !out)
        return error_set(err, GEOLOC_E_ARG, "resize: no image");
    geoloc_transformer *t = geoloc_transformer_create();
    if (!t) return error_set(err, GEOLOC_E_NOMEM, "resize: out of memory");
    geoloc_resample_spec spec = {
        .crop = {0, 0, src->width, src->height},
        .resize_w = width,
        .resize_h = height,
        .window = {0, 0, width, height},
    };
    geoloc_status st = geoloc_transform_image(t, src, &spec, out, err);
    geoloc_transformer_destroy(t);
    return st;
}
