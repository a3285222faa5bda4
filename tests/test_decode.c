/* geoloc_image_decode / geoloc_image_load on generated images (written here
 * with the encoders of libjpeg, libpng and libwebp): colours of solid JPEGs
 * (RGB, grey, Adobe-inverted and plain CMYK, YCCK), exact pixels of PNGs
 * of every colour type and depth (grey 1-16 bit, 16-bit RGB, palette with
 * tRNS, alpha, Adam7) and of lossless WebP, EXIF orientation 1-8, DCT
 * scaling, the pixel and file-size limits (headers claiming 60000x60000),
 * truncated files at many lengths, empty/text/missing files. Every error
 * must name the file. (test_decode_shared.c covers the shared photos.) */
#include <png.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "geoloc/exif.h"
#include "geoloc/image.h"
#include "image_fixtures.h"
#include "test_util.h"

static int px_diff(const uint8_t *a, const uint8_t *b) {
    int m = 0;
    for (int k = 0; k < 3; k++) {
        int d = abs((int)a[k] - (int)b[k]);
        if (d > m) m = d;
    }
    return m;
}

/* Decodes buf; on failure checks the message names `name`. */
static geoloc_status dec(const fx_buf *b, const char *name, const geoloc_decode_options *o,
                         geoloc_image *img, geoloc_error *e) {
    memset(e, 0, sizeof *e);
    geoloc_status st = geoloc_image_decode(b->data, b->size, name, o, img, e);
    if (st != GEOLOC_OK) {
        CHECK(strstr(e->message, name) != NULL, "error without the file name: %s", e->message);
        CHECK(img->rgb == NULL && img->width == 0, "failed decode left pixels");
    }
    return st;
}

/* ---- JPEG colours ---- */

static void test_jpeg_colours(void) {
    static const uint8_t colours[][3] = {{255, 0, 0},   {0, 255, 0},     {0, 0, 255},
                                         {128, 64, 200}, {255, 255, 255}, {0, 0, 0},
                                         {17, 230, 99}};
    enum { W = 40, H = 24 };
    static uint8_t rgb[W * H * 3], grey[W * H], cmyk[W * H * 4];
    for (size_t c = 0; c < sizeof colours / sizeof colours[0]; c++) {
        const uint8_t *col = colours[c];
        for (int k = 0; k < W * H; k++) memcpy(rgb + 3 * k, col, 3);
        for (int chroma = 0; chroma < 2; chroma++) {
            fx_jpeg_opts o = {3, 95, chroma, 0, chroma, 0, 0};
            fx_buf b = {0};
            fx_jpeg(rgb, W, H, &o, &b);
            geoloc_image img;
            geoloc_error e;
            CHECK(dec(&b, "solid.jpg", NULL, &img, &e) == GEOLOC_OK, "%s", e.message);
            int worst = 0;
            for (int k = 0; k < img.width * img.height; k++) {
                int d = px_diff(img.rgb + 3 * k, col);
                if (d > worst) worst = d;
            }
            CHECK(img.width == W && img.height == H && worst <= 3,
                  "solid JPEG %d,%d,%d: %dx%d, max error %d", col[0], col[1], col[2], img.width,
                  img.height, worst);
            geoloc_image_free(&img);
            fx_free(&b);
        }
        /* CMYK of the same colour (ink = 255 - RGB, no black): Adobe-inverted
         * values, plain values, and YCCK. */
        for (int mode = 0; mode < 3; mode++) {
            int inverted = mode != 1;
            for (int k = 0; k < W * H; k++) {
                for (int i = 0; i < 3; i++) {
                    int ink = 255 - col[i];
                    cmyk[4 * k + i] = (uint8_t)(inverted ? 255 - ink : ink);
                }
                cmyk[4 * k + 3] = inverted ? 255 : 0;
            }
            fx_jpeg_opts o = {4, 95, 0, mode == 2, 1, 0, mode == 1};
            fx_buf b = {0};
            CHECK(fx_jpeg(cmyk, W, H, &o, &b) == 0, "CMYK encode");
            geoloc_image img;
            geoloc_error e;
            CHECK(dec(&b, "cmyk.jpg", NULL, &img, &e) == GEOLOC_OK, "%s", e.message);
            int worst = img.rgb ? px_diff(img.rgb + 3 * (W * H / 2), col) : 999;
            CHECK(worst <= 3, "%s JPEG of %d,%d,%d: max error %d",
                  mode == 0 ? "Adobe CMYK" : mode == 1 ? "plain CMYK" : "YCCK", col[0], col[1],
                  col[2], worst);
            geoloc_image_free(&img);
            fx_free(&b);
        }
    }
    /* grey: replicated to R = G = B */
    for (int k = 0; k < W * H; k++) grey[k] = (uint8_t)(k % W * 6);
    fx_jpeg_opts o = {1, 100, 0, 0, 0, 0, 0};
    fx_buf b = {0};
    fx_jpeg(grey, W, H, &o, &b);
    geoloc_image img;
    geoloc_error e;
    CHECK(dec(&b, "grey.jpg", NULL, &img, &e) == GEOLOC_OK, "%s", e.message);
    int ok = img.rgb != NULL, worst = 0;
    for (int k = 0; ok && k < W * H; k++) {
        const uint8_t *p = img.rgb + 3 * k;
        ok = p[0] == p[1] && p[1] == p[2];
        if (abs(p[0] - grey[k]) > worst) worst = abs(p[0] - grey[k]);
    }
    CHECK(ok && worst <= 2, "grey JPEG: R=G=B %d, max error %d", ok, worst);
    geoloc_image_free(&img);
    fx_free(&b);
}

/* ---- JPEG structure: progressive, restarts, truncation ---- */

static void test_jpeg_truncated(void) {
    enum { W = 64, H = 48 };
    static uint8_t rgb[W * H * 3];
    fx_smooth(rgb, W, H);
    for (int variant = 0; variant < 3; variant++) {
        fx_jpeg_opts o = {3, 90, variant == 1, 0, 0, variant == 2 ? 1 : 0, 0};
        fx_buf b = {0};
        fx_jpeg(rgb, W, H, &o, &b);
        geoloc_image img;
        geoloc_error e;
        CHECK(dec(&b, "whole.jpg", NULL, &img, &e) == GEOLOC_OK && img.width == W &&
                  img.height == H,
              "variant %d: %s", variant, e.message);
        int close = 1;
        for (int k = 0; img.rgb && k < W * H; k++)
            close &= px_diff(img.rgb + 3 * k, rgb + 3 * k) < 12;
        CHECK(close, "variant %d: pixels far from the pattern", variant);
        geoloc_image_free(&img);
        /* every cut: no crash, no overread (exact-size copies); an error
         * naming the file, or (once the scan data has begun) the image with
         * a warning, even when only the final EOI is missing; with strict
         * always an error */
        size_t sos = 2; /* the end of the first scan header (SOS) */
        while (sos + 4 < b.size && b.data[sos + 1] != 0xDA)
            sos += 2 + ((size_t)b.data[sos + 2] << 8 | b.data[sos + 3]);
        sos += 2 + ((size_t)b.data[sos + 2] << 8 | b.data[sos + 3]);
        int wrong = 0, rendered = 0, strict_wrong = 0;
        geoloc_decode_options strict = {0};
        strict.strict = 1;
        for (size_t n = 0; n < b.size; n++) {
            fx_buf cut = {0};
            fx_append(&cut, b.data, n);
            geoloc_status st = dec(&cut, "cut.jpg", NULL, &img, &e);
            if (st == GEOLOC_OK) {
                rendered += n >= sos;
                if (img.n_warnings < 1 || img.width != W || img.height != H ||
                    strncmp(img.warnings[0], "JPEG: ", 6) != 0)
                    wrong++;
            } else if (st != GEOLOC_E_PARSE || strncmp(e.message, "cut.jpg: ", 9) != 0) {
                wrong++;
            }
            geoloc_image_free(&img);
            if (dec(&cut, "cut.jpg", &strict, &img, &e) != GEOLOC_E_PARSE) strict_wrong++;
            geoloc_image_free(&img);
            fx_free(&cut);
        }
        CHECK(wrong == 0, "variant %d: %d truncated JPEGs wrong", variant, wrong);
        /* a sequential JPEG cut anywhere in its scan data renders (libjpeg
         * fills the rest, as djpeg does); a progressive one can also be cut
         * inside a later scan's tables, which libjpeg refuses */
        if (variant != 1)
            CHECK(rendered == (int)(b.size - sos), "variant %d: %d cuts rendered, %zu past SOS",
                  variant, rendered, b.size - sos);
        else
            CHECK(rendered > (int)(b.size - sos) / 2, "progressive: %d cuts rendered of %zu",
                  rendered, b.size - sos);
        CHECK(strict_wrong == 0, "variant %d: %d truncated JPEGs decoded when strict", variant,
              strict_wrong);
        fx_free(&b);
    }
}

/* ---- PNG ---- */

static geoloc_image png_decode(const uint8_t *rows, int w, int h, const fx_png_opts *o,
                               const char *what) {
    fx_buf b = {0};
    geoloc_image img = {0};
    geoloc_error e;
    CHECK(fx_png(rows, w, h, o, &b) == 0, "%s: encode", what);
    CHECK(dec(&b, what, NULL, &img, &e) == GEOLOC_OK && img.width == w && img.height == h,
          "%s: %s (%dx%d)", what, e.message, img.width, img.height);
    /* truncated copies fail, down to a missing IEND */
    int wrong = 0;
    for (size_t n = 0; n < b.size; n += n + 20 < b.size ? 1 + b.size / 40 : 1) {
        fx_buf cut = {0};
        geoloc_image t;
        fx_append(&cut, b.data, n);
        if (dec(&cut, what, NULL, &t, &e) != GEOLOC_E_PARSE) wrong++;
        geoloc_image_free(&t);
        fx_free(&cut);
    }
    CHECK(!wrong, "%s: %d truncated copies decoded", what, wrong);
    fx_free(&b);
    return img;
}

static void test_png(void) {
    enum { W = 33, H = 17 };
    static uint8_t rows[W * H * 8], rgb[W * H * 3];
    fx_pattern(rgb, W, H);
    geoloc_image img;
    int bad;

    /* RGB 8-bit, plain and interlaced: exact */
    for (int il = 0; il < 2; il++) {
        fx_png_opts o = {PNG_COLOR_TYPE_RGB, 8, il, NULL, 0, NULL, 0, NULL, 0};
        img = png_decode(rgb, W, H, &o, il ? "rgb8-adam7.png" : "rgb8.png");
        CHECK(img.rgb && !memcmp(img.rgb, rgb, sizeof rgb), "RGB%s pixels differ",
              il ? " interlaced" : "");
        geoloc_image_free(&img);
    }
    /* grey at 1, 2, 4, 8 bits: v * 255 / (2^depth - 1) */
    for (int depth = 1; depth <= 8; depth *= 2) {
        memset(rows, 0, sizeof rows);
        size_t stride = ((size_t)W * depth + 7) / 8;
        int maxv = (1 << depth) - 1;
        for (int y = 0; y < H; y++)
            for (int x = 0; x < W; x++) {
                int v = (x + y) % (maxv + 1);
                size_t bit = (size_t)x * depth;
                rows[y * stride + bit / 8] |= (uint8_t)(v << (8 - depth - bit % 8));
            }
        fx_png_opts o = {PNG_COLOR_TYPE_GRAY, depth, depth == 4, NULL, 0, NULL, 0, NULL, 0};
        char what[32];
        snprintf(what, sizeof what, "grey%d.png", depth);
        img = png_decode(rows, W, H, &o, what);
        bad = 0;
        for (int y = 0; img.rgb && y < H; y++)
            for (int x = 0; x < W; x++) {
                int v = (x + y) % (maxv + 1) * 255 / maxv;
                const uint8_t *p = img.rgb + 3 * (y * W + x);
                bad += p[0] != v || p[1] != v || p[2] != v;
            }
        CHECK(img.rgb && !bad, "%s: %d wrong pixels", what, bad);
        geoloc_image_free(&img);
    }
    /* 16-bit RGB and grey (interlaced): round(v * 255 / 65535) */
    for (int grey = 0; grey < 2; grey++) {
        int ch = grey ? 1 : 3;
        for (int k = 0; k < W * H * ch; k++) {
            unsigned v = (unsigned)(k * 2654435761u) >> 16;
            rows[2 * k] = (uint8_t)(v >> 8);
            rows[2 * k + 1] = (uint8_t)v;
        }
        fx_png_opts o = {grey ? PNG_COLOR_TYPE_GRAY : PNG_COLOR_TYPE_RGB, 16, grey, NULL, 0, NULL,
                         0, NULL, 0};
        img = png_decode(rows, W, H, &o, grey ? "grey16.png" : "rgb16.png");
        bad = 0;
        for (int k = 0; img.rgb && k < W * H * 3; k++) {
            int s = grey ? k / 3 : k;
            unsigned v = (unsigned)rows[2 * s] << 8 | rows[2 * s + 1];
            bad += img.rgb[k] != (v * 255 + 32767) / 65535;
        }
        CHECK(img.rgb && !bad, "16-bit %s: %d wrong samples", grey ? "grey" : "RGB", bad);
        geoloc_image_free(&img);
    }
    /* palette (4-bit) with tRNS: colours kept, transparency dropped */
    uint8_t palette[16 * 3], trns[16];
    for (int i = 0; i < 16; i++) {
        palette[3 * i] = (uint8_t)(i * 16);
        palette[3 * i + 1] = (uint8_t)(255 - i * 9);
        palette[3 * i + 2] = (uint8_t)(i * i);
        trns[i] = (uint8_t)(i * 17);
    }
    memset(rows, 0, sizeof rows);
    size_t stride = (W * 4 + 7) / 8;
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++)
            rows[y * stride + x / 2] |= (uint8_t)(((x * 3 + y) % 16) << (x % 2 ? 0 : 4));
    fx_png_opts po = {PNG_COLOR_TYPE_PALETTE, 4, 0, palette, 16, trns, 16, NULL, 0};
    img = png_decode(rows, W, H, &po, "palette-trns.png");
    bad = 0;
    for (int y = 0; img.rgb && y < H; y++)
        for (int x = 0; x < W; x++)
            bad += memcmp(img.rgb + 3 * (y * W + x), palette + 3 * ((x * 3 + y) % 16), 3) != 0;
    CHECK(img.rgb && !bad, "palette+tRNS: %d wrong pixels", bad);
    geoloc_image_free(&img);
    /* grey+alpha and RGBA: colour kept, alpha dropped */
    for (int k = 0; k < W * H; k++) {
        rows[2 * k] = rgb[3 * k];
        rows[2 * k + 1] = (uint8_t)(k * 7);
    }
    fx_png_opts ga = {PNG_COLOR_TYPE_GRAY_ALPHA, 8, 0, NULL, 0, NULL, 0, NULL, 0};
    img = png_decode(rows, W, H, &ga, "grey-alpha.png");
    bad = 0;
    for (int k = 0; img.rgb && k < W * H; k++)
        bad += img.rgb[3 * k] != rgb[3 * k] || img.rgb[3 * k + 2] != rgb[3 * k];
    CHECK(img.rgb && !bad, "grey+alpha: %d wrong pixels", bad);
    geoloc_image_free(&img);
    for (int k = 0; k < W * H; k++) {
        memcpy(rows + 4 * k, rgb + 3 * k, 3);
        rows[4 * k + 3] = (uint8_t)(k * 5);
    }
    fx_png_opts ra = {PNG_COLOR_TYPE_RGB_ALPHA, 8, 1, NULL, 0, NULL, 0, NULL, 0};
    img = png_decode(rows, W, H, &ra, "rgba-adam7.png");
    CHECK(img.rgb && !memcmp(img.rgb, rgb, sizeof rgb), "RGBA: colours differ");
    geoloc_image_free(&img);
}

/* ---- WebP ---- */

static void test_webp(void) {
    enum { W = 30, H = 20 };
    static uint8_t rgb[W * H * 3], rgba[W * H * 4];
    fx_smooth(rgb, W, H);
    for (int k = 0; k < W * H; k++) {
        memcpy(rgba + 4 * k, rgb + 3 * k, 3);
        rgba[4 * k + 3] = k % 3 ? 255 : 0;
    }
    geoloc_image img;
    geoloc_error e;
    for (int v = 0; v < 4; v++) { /* lossless RGB, lossless RGBA, lossy RGB, lossy RGBA */
        fx_buf b = {0};
        int lossless = v < 2, ch = v % 2 ? 4 : 3;
        CHECK(fx_webp(ch == 4 ? rgba : rgb, W, H, ch, lossless, 90, NULL, 0, &b) == 0, "encode");
        CHECK(dec(&b, "x.webp", NULL, &img, &e) == GEOLOC_OK && img.width == W && img.height == H,
              "WebP %d: %s", v, e.message);
        long err_sum = 0;
        int exact = 1, n = 0;
        for (int k = 0; img.rgb && k < W * H; k++) {
            if (ch == 4 && rgba[4 * k + 3] == 0) continue; /* hidden colour is the encoder's */
            exact &= px_diff(img.rgb + 3 * k, rgb + 3 * k) == 0;
            for (int i = 0; i < 3; i++) err_sum += abs(img.rgb[3 * k + i] - rgb[3 * k + i]);
            n++;
        }
        if (lossless) CHECK(img.rgb && exact, "lossless WebP %d: pixels differ", v);
        else CHECK(img.rgb && err_sum < 4L * n * 3, "lossy WebP %d: mean error %.1f", v,
                   (double)err_sum / (3.0 * n));
        geoloc_image_free(&img);
        int wrong = 0;
        for (size_t cut = 0; cut + 1 < b.size; cut += 1 + b.size / 50) {
            fx_buf t = {0};
            fx_append(&t, b.data, cut);
            if (dec(&t, "cut.webp", NULL, &img, &e) != GEOLOC_E_PARSE) wrong++;
            geoloc_image_free(&img);
            fx_free(&t);
        }
        CHECK(!wrong, "WebP %d: %d truncated copies decoded", v, wrong);
        fx_free(&b);
    }
    /* animated flag in VP8X: refused with a message */
    fx_exif x = {0};
    x.orientation = 1;
    fx_buf tiff = {0}, b = {0};
    fx_exif_tiff(&x, &tiff);
    fx_webp(rgb, W, H, 3, 1, 90, tiff.data, tiff.size, &b);
    b.data[20] |= 0x02;
    CHECK(dec(&b, "anim.webp", NULL, &img, &e) == GEOLOC_E_PARSE, "animated WebP decoded");
    fx_free(&b);
    fx_free(&tiff);
}

/* ---- EXIF orientation ---- */

/* Where stored pixel (sx, sy) of a w x h image is displayed. */
static void displayed_at(int o, int w, int h, int sx, int sy, int *x, int *y) {
    switch (o) {
    case 2: *x = w - 1 - sx, *y = sy; break;
    case 3: *x = w - 1 - sx, *y = h - 1 - sy; break;
    case 4: *x = sx, *y = h - 1 - sy; break;
    case 5: *x = sy, *y = sx; break;                 /* transpose */
    case 6: *x = h - 1 - sy, *y = sx; break;         /* 90 clockwise */
    case 7: *x = h - 1 - sy, *y = w - 1 - sx; break; /* transverse */
    case 8: *x = sy, *y = w - 1 - sx; break;         /* 90 counter-clockwise */
    default: *x = sx, *y = sy; break;
    }
}

static void test_orientation(void) {
    enum { W = 20, H = 10 };
    static uint8_t rgb[W * H * 3];
    fx_pattern(rgb, W, H); /* G = x, B = y */
    /* where the stored top-left / top-right corners must end up:
     * 0 TL, 1 TR, 2 BR, 3 BL (EXIF 2.32, tag 0x0112) */
    static const int tl[9] = {0, 0, 1, 2, 3, 0, 1, 2, 3}, tr[9] = {0, 1, 0, 3, 2, 3, 2, 1, 0};
    for (int o = 1; o <= 8; o++) {
        fx_exif x = {0};
        x.orientation = o;
        x.big_endian = o & 1;
        fx_buf tiff = {0}, b = {0};
        fx_exif_tiff(&x, &tiff);
        fx_png_opts po = {PNG_COLOR_TYPE_RGB, 8, 0, NULL, 0, NULL, 0, tiff.data, tiff.size};
        fx_png(rgb, W, H, &po, &b);
        geoloc_image img, ref = {0};
        geoloc_error e;
        CHECK(dec(&b, "o.png", NULL, &ref, &e) == GEOLOC_OK, "%s", e.message);
        int ow = o >= 5 ? H : W, oh = o >= 5 ? W : H;
        CHECK(ref.width == ow && ref.height == oh, "orientation %d: %dx%d", o, ref.width,
              ref.height);
        if (ref.width == ow && ref.height == oh) {
            int bad = 0;
            for (int sy = 0; sy < H; sy++)
                for (int sx = 0; sx < W; sx++) {
                    int dx, dy;
                    displayed_at(o, W, H, sx, sy, &dx, &dy);
                    bad += memcmp(ref.rgb + 3 * (dy * ow + dx), rgb + 3 * (sy * W + sx), 3) != 0;
                }
            CHECK(!bad, "orientation %d: %d misplaced pixels", o, bad);
            const int cx[4] = {0, ow - 1, ow - 1, 0}, cy[4] = {0, 0, oh - 1, oh - 1};
            const uint8_t *p = ref.rgb + 3 * (cy[tl[o]] * ow + cx[tl[o]]);
            CHECK(p[1] == 0 && p[2] == 0, "orientation %d: stored top-left not at corner %d", o,
                  tl[o]);
            p = ref.rgb + 3 * (cy[tr[o]] * ow + cx[tr[o]]);
            CHECK(p[1] == W - 1 && p[2] == 0, "orientation %d: stored top-right not at corner %d",
                  o, tr[o]);
        }
        geoloc_decode_options keep = {0};
        keep.ignore_orientation = 1;
        CHECK(dec(&b, "o.png", &keep, &img, &e) == GEOLOC_OK && img.width == W &&
                  !memcmp(img.rgb, rgb, sizeof rgb),
              "ignore_orientation %d", o);
        geoloc_image_free(&img);
        /* the same in JPEG APP1 (size swapped) and in a lossless WebP's EXIF
         * chunk (same pixels as the PNG) */
        fx_buf j = {0}, jx = {0}, wb = {0};
        fx_jpeg(rgb, W, H, NULL, &j);
        fx_jpeg_with_exif(j.data, j.size, tiff.data, tiff.size, &jx);
        fx_webp(rgb, W, H, 3, 1, 90, tiff.data, tiff.size, &wb);
        CHECK(dec(&jx, "o.jpg", NULL, &img, &e) == GEOLOC_OK && img.width == ow && img.height == oh,
              "JPEG orientation %d: %dx%d", o, img.width, img.height);
        geoloc_image_free(&img);
        CHECK(dec(&wb, "o.webp", NULL, &img, &e) == GEOLOC_OK && img.width == ow &&
                  img.height == oh && ref.rgb && !memcmp(img.rgb, ref.rgb, (size_t)ow * oh * 3),
              "WebP orientation %d: %dx%d", o, img.width, img.height);
        geoloc_image_free(&ref);
        geoloc_image_free(&img);
        fx_free(&j);
        fx_free(&jx);
        fx_free(&wb);
        fx_free(&b);
        fx_free(&tiff);
    }
}

/* ---- DCT scaling ---- */

static void test_scaling(void) {
    enum { W = 427, H = 320 };
    static uint8_t rgb[W * H * 3];
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) {
            uint8_t *p = rgb + 3 * (y * W + x);
            p[0] = (uint8_t)(x * 255 / (W - 1));
            p[1] = (uint8_t)(y * 255 / (H - 1));
            p[2] = (uint8_t)((x + y) % 128 + 64);
        }
    fx_buf b = {0};
    fx_jpeg(rgb, W, H, NULL, &b);
    /* min_shorter_side -> expected size: the largest reduction among 1/2,
     * 1/4, 1/8 whose shorter side (rounded up) stays >= the minimum */
    static const struct { int min, w, h; } cases[] = {
        {0, 427, 320},  {1, 54, 40},    {40, 54, 40},    {41, 107, 80}, {80, 107, 80},
        {81, 214, 160}, {100, 214, 160}, {160, 214, 160}, {161, 427, 320}, {320, 427, 320},
        {5000, 427, 320}};
    geoloc_image full, img;
    geoloc_error e;
    CHECK(dec(&b, "scale.jpg", NULL, &full, &e) == GEOLOC_OK, "%s", e.message);
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        geoloc_decode_options o = {0};
        o.min_shorter_side = cases[k].min;
        CHECK(dec(&b, "scale.jpg", &o, &img, &e) == GEOLOC_OK && img.width == cases[k].w &&
                  img.height == cases[k].h,
              "min_shorter_side %d: %dx%d, expected %dx%d", cases[k].min, img.width, img.height,
              cases[k].w, cases[k].h);
        int shorter = img.width < img.height ? img.width : img.height;
        CHECK(shorter >= cases[k].min || img.width == W, "min_shorter_side %d: shorter side %d",
              cases[k].min, shorter);
        /* the scaled image is close to a box average of the full one */
        int f = W / img.width + (W % img.width != 0);
        long diff = 0, n = 0;
        for (int y = 0; img.rgb && full.rgb && y + 1 < img.height; y++)
            for (int x = 0; x + 1 < img.width; x++)
                for (int c = 0; c < 3; c++) {
                    long sum = 0;
                    for (int dy = 0; dy < f; dy++)
                        for (int dx = 0; dx < f; dx++)
                            sum += full.rgb[3 * ((y * f + dy) * W + x * f + dx) + c];
                    diff += labs(sum / (f * f) - img.rgb[3 * (y * img.width + x) + c]);
                    n++;
                }
        CHECK(n == 0 || diff < 4 * n, "scale 1/%d: mean difference to box average %.2f", f,
              (double)diff / (double)n);
        geoloc_image_free(&img);
    }
    geoloc_image_free(&full);
    /* with orientation 6: scaled, then rotated */
    fx_exif x = {0};
    x.orientation = 6;
    fx_buf tiff = {0}, bx = {0};
    fx_exif_tiff(&x, &tiff);
    fx_jpeg_with_exif(b.data, b.size, tiff.data, tiff.size, &bx);
    geoloc_decode_options o = {0};
    o.min_shorter_side = 100;
    CHECK(dec(&bx, "scale6.jpg", &o, &img, &e) == GEOLOC_OK && img.width == 160 &&
              img.height == 214,
          "orientation 6 scaled: %dx%d", img.width, img.height);
    geoloc_image_free(&img);
    /* PNG and WebP are never scaled */
    fx_buf p = {0};
    fx_png_opts po = {PNG_COLOR_TYPE_RGB, 8, 0, NULL, 0, NULL, 0, NULL, 0};
    fx_png(rgb, W, H, &po, &p);
    CHECK(dec(&p, "scale.png", &o, &img, &e) == GEOLOC_OK && img.width == W, "PNG scaled");
    geoloc_image_free(&img);
    fx_free(&p);
    fx_free(&tiff);
    fx_free(&bx);
    fx_free(&b);
}

/* ---- limits ---- */

static uint32_t crc32_png(const uint8_t *p, size_t n) {
    uint32_t c = 0xFFFFFFFFu;
    for (size_t i = 0; i < n; i++) {
        c ^= p[i];
        for (int k = 0; k < 8; k++) c = c & 1 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
    }
    return c ^ 0xFFFFFFFFu;
}

static void test_limits(void) {
    enum { W = 16, H = 16 };
    static uint8_t rgb[W * H * 3];
    fx_pattern(rgb, W, H);
    geoloc_image img;
    geoloc_error e;

    /* JPEG whose frame header claims 60000 x 60000 */
    for (int prog = 0; prog < 2; prog++) {
        fx_jpeg_opts jo = {3, 90, prog, 0, 0, 0, 0};
        fx_buf b = {0};
        fx_jpeg(rgb, W, H, &jo, &b);
        size_t pos = 2;
        while (pos + 4 < b.size && !(b.data[pos + 1] == 0xC0 || b.data[pos + 1] == 0xC2))
            pos += 2 + ((size_t)b.data[pos + 2] << 8 | b.data[pos + 3]);
        CHECK(pos + 9 < b.size, "SOF not found");
        b.data[pos + 5] = b.data[pos + 7] = 60000 >> 8;
        b.data[pos + 6] = b.data[pos + 8] = 60000 & 0xFF;
        /* max_pixels applies to the decoded size: refused only when even
         * 1/8 (7500 x 7500) is over the limit */
        geoloc_decode_options lim = {0};
        lim.max_pixels = 7500 * 7500 - 1;
        CHECK(dec(&b, "huge.jpg", &lim, &img, &e) == GEOLOC_E_RANGE &&
                  strstr(e.message, "60000x60000") && strstr(e.message, "1/8"),
              "60000x60000 JPEG: %s", e.message);
        fx_free(&b);
    }
    /* PNG: IHDR says 60000 x 60000 (CRC fixed) */
    fx_buf p = {0};
    fx_png_opts po = {PNG_COLOR_TYPE_RGB, 8, 0, NULL, 0, NULL, 0, NULL, 0};
    fx_png(rgb, W, H, &po, &p);
    for (int k = 16; k < 24; k += 4) {
        p.data[k] = 0;
        p.data[k + 1] = 0;
        p.data[k + 2] = 60000 >> 8;
        p.data[k + 3] = 60000 & 0xFF;
    }
    uint32_t crc = crc32_png(p.data + 12, 17);
    for (int k = 0; k < 4; k++) p.data[29 + k] = (uint8_t)(crc >> (24 - 8 * k));
    CHECK(dec(&p, "huge.png", NULL, &img, &e) == GEOLOC_E_RANGE && strstr(e.message, "60000x60000"),
          "60000x60000 PNG: %s", e.message);
    geoloc_decode_options big = {0};
    big.max_pixels = UINT64_MAX; /* capped at 2^30 */
    CHECK(dec(&p, "huge.png", &big, &img, &e) == GEOLOC_E_RANGE, "cap: %s", e.message);
    p.data[29] ^= 1; /* and with a bad CRC: a parse error */
    CHECK(dec(&p, "huge.png", NULL, &img, &e) == GEOLOC_E_PARSE, "bad CRC: %s", e.message);
    fx_free(&p);
    /* WebP: VP8L header claiming 16384 x 16384 */
    fx_buf w = {0};
    fx_webp(rgb, W, H, 3, 1, 90, NULL, 0, &w);
    CHECK(w.size > 25 && !memcmp(w.data + 12, "VP8L", 4), "VP8L expected");
    uint32_t bits = (uint32_t)w.data[21] | (uint32_t)w.data[22] << 8 | (uint32_t)w.data[23] << 16 |
                    (uint32_t)w.data[24] << 24;
    bits = (bits & 0xF0000000u) | 16383u | 16383u << 14;
    for (int k = 0; k < 4; k++) w.data[21 + k] = (uint8_t)(bits >> (8 * k));
    geoloc_decode_options wlim = {0}; /* 1/8 is 2048 x 2048: over this */
    wlim.max_pixels = 2048 * 2048 - 1;
    CHECK(dec(&w, "huge.webp", &wlim, &img, &e) == GEOLOC_E_RANGE &&
              strstr(e.message, "16384x16384") && strstr(e.message, "1/8"),
          "16384x16384 WebP: %s", e.message);
    fx_free(&w);

    /* configurable limits: max_pixels just below / at the size, max_file_bytes */
    fx_buf b = {0};
    fx_jpeg(rgb, W, H, NULL, &b);
    geoloc_decode_options o = {0};
    o.max_pixels = W * H - 1; /* JPEG: decoded at 1/2 */
    CHECK(dec(&b, "small.jpg", &o, &img, &e) == GEOLOC_OK && img.width == W / 2 &&
              img.height == H / 2,
          "max_pixels - 1: %s %dx%d", e.message, img.width, img.height);
    geoloc_image_free(&img);
    o.max_pixels = (W / 8) * (H / 8) - 1; /* over even at 1/8 */
    CHECK(dec(&b, "small.jpg", &o, &img, &e) == GEOLOC_E_RANGE, "max_pixels at 1/8: %s",
          e.message);
    o.max_pixels = W * H;
    CHECK(dec(&b, "small.jpg", &o, &img, &e) == GEOLOC_OK, "max_pixels exact: %s", e.message);
    geoloc_image_free(&img);
    o.max_file_bytes = b.size - 1;
    CHECK(dec(&b, "small.jpg", &o, &img, &e) == GEOLOC_E_RANGE &&
              strstr(e.message, "max_file_bytes"),
          "max_file_bytes: %s", e.message);
    o.max_file_bytes = b.size;
    CHECK(dec(&b, "small.jpg", &o, &img, &e) == GEOLOC_OK, "max_file_bytes exact: %s", e.message);
    geoloc_image_free(&img);
    fx_free(&b);
}

/* ---- files, detection, arguments ---- */

static void test_files(void) {
    char dir[] = "/tmp/geoloc_test_decode_XXXXXX";
    if (!mkdtemp(dir)) {
        CHECK(0, "mkdtemp failed");
        return;
    }
    char empty[64], text[64], good[64], missing[64];
    snprintf(empty, sizeof empty, "%s/empty.jpg", dir);
    snprintf(text, sizeof text, "%s/text.jpg", dir);
    snprintf(good, sizeof good, "%s/named.txt", dir);
    snprintf(missing, sizeof missing, "%s/missing.jpg", dir);
    static const char note[] = "this is a text file, not a JPEG\n";
    fx_write_file(empty, "", 0);
    fx_write_file(text, note, sizeof note - 1);
    uint8_t rgb[8 * 8 * 3];
    fx_pattern(rgb, 8, 8);
    fx_buf p = {0};
    fx_png_opts po = {PNG_COLOR_TYPE_RGB, 8, 0, NULL, 0, NULL, 0, NULL, 0};
    fx_png(rgb, 8, 8, &po, &p);
    fx_write_file(good, p.data, p.size); /* a PNG named .txt: format from the bytes */

    geoloc_image img;
    geoloc_error e = {0};
    CHECK(geoloc_image_load(empty, NULL, &img, &e) == GEOLOC_E_PARSE && strstr(e.message, empty) &&
              strstr(e.message, "empty"),
          "empty: %s", e.message);
    CHECK(geoloc_image_load(text, NULL, &img, &e) == GEOLOC_E_PARSE && strstr(e.message, text) &&
              strstr(e.message, "not a JPEG, PNG, WebP or HEIF"),
          "text: %s", e.message);
    CHECK(geoloc_image_load(missing, NULL, &img, &e) == GEOLOC_E_IO && strstr(e.message, missing),
          "missing: %s", e.message);
    CHECK(geoloc_image_load(dir, NULL, &img, &e) == GEOLOC_E_IO && strstr(e.message, dir),
          "directory: %s", e.message);
    CHECK(geoloc_image_load(good, NULL, &img, &e) == GEOLOC_OK && img.width == 8 &&
              !memcmp(img.rgb, rgb, sizeof rgb),
          "PNG named .txt: %s", e.message);
    geoloc_image_free(&img);
    geoloc_decode_options o = {0};
    o.max_file_bytes = p.size - 1;
    CHECK(geoloc_image_load(good, &o, &img, &e) == GEOLOC_E_RANGE && strstr(e.message, good),
          "load over max_file_bytes: %s", e.message);
    remove(empty);
    remove(text);
    remove(good);
    rmdir(dir);

    CHECK(geoloc_image_detect(p.data, p.size) == GEOLOC_FORMAT_PNG, "detect PNG");
    CHECK(geoloc_image_detect(p.data, 7) == GEOLOC_FORMAT_UNKNOWN, "detect short PNG");
    CHECK(geoloc_image_detect((const uint8_t *)"\xFF\xD8\xFF", 3) == GEOLOC_FORMAT_JPEG,
          "detect JPEG");
    CHECK(geoloc_image_detect((const uint8_t *)"RIFF\0\0\0\0WEBP", 12) == GEOLOC_FORMAT_WEBP,
          "detect WebP");
    CHECK(geoloc_image_detect((const uint8_t *)"RIFF\0\0\0\0WAVE", 12) == GEOLOC_FORMAT_UNKNOWN,
          "detect WAVE");
    CHECK(geoloc_image_detect(NULL, 0) == GEOLOC_FORMAT_UNKNOWN, "detect NULL");
    CHECK(geoloc_image_decode(NULL, 10, "x", NULL, &img, &e) == GEOLOC_E_ARG, "NULL data");
    CHECK(geoloc_image_decode(p.data, p.size, "x", NULL, NULL, &e) == GEOLOC_E_ARG, "NULL out");
    CHECK(geoloc_image_decode(p.data, p.size, NULL, NULL, &img, NULL) == GEOLOC_OK,
          "NULL name/err");
    geoloc_image_free(&img);
    geoloc_image_free(NULL);
    fx_free(&p);
}

/* ---- the decoders and the metadata reader agree (fuzzer findings) ---- */

static void check_agree(const fx_buf *b, const char *what) {
    geoloc_image img;
    geoloc_error e;
    geoloc_photo_meta m;
    geoloc_status st = dec(b, what, NULL, &img, &e);
    geoloc_status ms = geoloc_photo_meta_read(b->data, b->size, what, &m, &e);
    CHECK(st == GEOLOC_OK && ms == GEOLOC_OK && img.width == m.width && img.height == m.height,
          "%s: decode %d %dx%d, metadata %d %dx%d", what, st, img.width, img.height, ms, m.width,
          m.height);
    geoloc_image_free(&img);
}

static void test_meta_agrees(void) {
    uint8_t rgb[6 * 4 * 3];
    fx_pattern(rgb, 6, 4);
    /* a JPEG segment with a bogus length 0: libjpeg goes on after the field */
    fx_buf j = {0}, j0 = {0};
    fx_jpeg(rgb, 6, 4, NULL, &j);
    static const uint8_t app0_len0[4] = {0xFF, 0xE0, 0x00, 0x00};
    fx_append(&j0, j.data, 2);
    fx_append(&j0, app0_len0, 4);
    fx_append(&j0, j.data + 2, j.size - 2);
    check_agree(&j0, "app0-length-0.jpg");
    /* a bare VP8L / VP8 bitstream right after "WEBP" (no chunk header) */
    static const uint8_t raw_vp8l[21] = {'R', 'I', 'F', 'F', 13, 0, 0, 0, 'W', 'E', 'B',
                                         'P', 0x2F, 0x01, 0, 0, 0, 0xC8, 0xC8, 0xC8, 0x69};
    fx_buf w = {0};
    fx_append(&w, raw_vp8l, sizeof raw_vp8l);
    check_agree(&w, "raw-vp8l.webp");
    fx_free(&w);
    /* a VP8L chunk whose size field says 0: libwebp reads on regardless */
    static const uint8_t vp8l_size0[62] = {
        0x52, 0x49, 0x46, 0x46, 0x36, 0x00, 0x00, 0x00, 0x57, 0x45, 0x42, 0x50,
        0x56, 0x50, 0x38, 0x4C, 0x00, 0x00, 0x00, 0x00, 0x2F, 0x17, 0xC0, 0x03,
        0x00, 0x09, 0x80, 0x48, 0xDA, 0x1F, 0x7B, 0x89, 0x88, 0xFE, 0xA7, 0x16,
        0x03, 0x3F, 0x02, 0xD1, 0xFF, 0x18, 0x06, 0x08, 0x09, 0x08, 0xFE, 0x1F,
        0x17, 0x45, 0x81, 0x40, 0x8A, 0x53, 0x98, 0xE0, 0x88, 0x09, 0x80, 0xD7,
        0xB4, 0x19};
    fx_append(&w, vp8l_size0, sizeof vp8l_size0);
    check_agree(&w, "vp8l-size-0.webp");
    fx_free(&w);
    fx_webp(rgb, 6, 4, 3, 0, 80, NULL, 0, &w);
    CHECK(w.size > 20 && !memcmp(w.data + 12, "VP8 ", 4), "lossy WebP layout");
    fx_buf raw = {0};
    fx_append(&raw, w.data, 12);
    fx_append(&raw, w.data + 20, w.size - 20);
    uint32_t riff = (uint32_t)raw.size - 8;
    for (int k = 0; k < 4; k++) raw.data[4 + k] = (uint8_t)(riff >> (8 * k));
    check_agree(&raw, "raw-vp8.webp");
    fx_free(&raw);
    fx_free(&w);
    fx_free(&j);
    fx_free(&j0);
}

/* ---- against djpeg (libjpeg-turbo-progs), when installed ---- */

/* Our decode of a file at min_shorter_side against djpeg -scale. */
static void compare_djpeg(const char *path, int min_side, const char *scale) {
    int dw = 0, dh = 0;
    uint8_t *ref = fx_djpeg(path, scale, &dw, &dh);
    CHECK(ref != NULL, "djpeg %s failed", path);
    if (!ref) return;
    geoloc_decode_options o = {0};
    o.min_shorter_side = min_side;
    geoloc_image img;
    geoloc_error e = {0};
    CHECK(geoloc_image_load(path, &o, &img, &e) == GEOLOC_OK, "%s", e.message);
    CHECK(img.width == dw && img.height == dh && !memcmp(img.rgb, ref, (size_t)dw * dh * 3),
          "%s at %s: %dx%d differs from djpeg's %dx%d", path, scale, img.width, img.height, dw, dh);
    geoloc_image_free(&img);
    free(ref);
}

/* Baseline, progressive and greyscale JPEGs, full size and scaled. */
static void test_vs_djpeg(void) {
    if (!fx_have_djpeg()) {
        printf("note: djpeg not installed (Debian libjpeg-turbo-progs): no pixel comparison\n");
        return;
    }
    char dir[] = "/tmp/geoloc_test_decode_XXXXXX";
    if (!mkdtemp(dir)) return;
    enum { W = 123, H = 77 };
    static uint8_t rgb[W * H * 3];
    fx_pattern(rgb, W, H);
    for (int v = 0; v < 4; v++) {
        fx_jpeg_opts o = {v == 2 ? 1 : 3, 85, v >= 1, 0, v == 3, v == 3, 0};
        fx_buf b = {0};
        fx_jpeg(rgb, W, H, &o, &b);
        char path[128];
        snprintf(path, sizeof path, "%s/g%d.jpg", dir, v);
        fx_write_file(path, b.data, b.size);
        compare_djpeg(path, 0, "1/1");
        compare_djpeg(path, 30, "1/2");
        compare_djpeg(path, 10, "1/8");
        remove(path);
        fx_free(&b);
    }
    rmdir(dir);
}

int main(int argc, char **argv) {
    (void)argc;
    (void)argv;
    test_jpeg_colours();
    test_jpeg_truncated();
    test_png();
    test_webp();
    test_orientation();
    test_scaling();
    test_limits();
    test_files();
    test_vs_djpeg();
    test_meta_agrees();
    TEST_END();
}
