/* max_pixels limits the DECODED size: a JPEG larger than the limit is
 * decoded at the smallest DCT reduction (1/2, 1/4, 1/8) that fits, pixel
 * for pixel what `djpeg -scale 1/N` gives (when djpeg is installed), and
 * refused only when even 1/8 is over; min_shorter_side may reduce further
 * but never past what max_pixels allows. A WebP is reduced the same way
 * (libwebp's rescaler); a PNG over the limit is refused (libpng cannot
 * scale). A generated 2000 x 1500 photo with
 * small limits exercises the path a 12000 x 9000 one takes at the default
 * 100 MP. */
#include <png.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "geoloc/image.h"
#include "image_fixtures.h"
#include "test_util.h"

enum { W = 2000, H = 1500 };

/* A photo-like pattern: gradients with some texture. */
static void photo(uint8_t *rgb, int w, int h) {
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            uint8_t *p = rgb + 3 * ((size_t)y * w + x);
            p[0] = (uint8_t)(x * 255 / (w - 1));
            p[1] = (uint8_t)(y * 255 / (h - 1) ^ ((x / 7 + y / 5) & 15));
            p[2] = (uint8_t)((x * y / 97) & 255);
        }
}

/* Loads path with max_pixels / min_shorter_side; expects the size
 * W/denom x H/denom (rounded up) and djpeg's pixels at 1/denom. */
static void expect_scaled(const char *path, uint64_t max_pixels, int min_side, int denom,
                          int have_djpeg) {
    geoloc_decode_options o = {0};
    o.max_pixels = max_pixels;
    o.min_shorter_side = min_side;
    geoloc_image img;
    geoloc_error e = {0};
    geoloc_status st = geoloc_image_load(path, &o, &img, &e);
    int ew = (W + denom - 1) / denom, eh = (H + denom - 1) / denom;
    CHECK(st == GEOLOC_OK && img.width == ew && img.height == eh && img.n_warnings == 0,
          "max_pixels %llu, min side %d: %s %dx%d, want %dx%d (1/%d)",
          (unsigned long long)max_pixels, min_side, e.message, img.width, img.height, ew, eh,
          denom);
    if (st == GEOLOC_OK && have_djpeg) {
        char scale[16];
        snprintf(scale, sizeof scale, "1/%d", denom);
        int dw = 0, dh = 0;
        uint8_t *ref = fx_djpeg(path, scale, &dw, &dh);
        CHECK(ref && dw == img.width && dh == img.height &&
                  !memcmp(ref, img.rgb, (size_t)dw * dh * 3),
              "1/%d: differs from djpeg -scale %s (%dx%d)", denom, scale, dw, dh);
        free(ref);
    }
    geoloc_image_free(&img);
}

int main(void) {
    char dir[] = "/tmp/geoloc_test_scale_XXXXXX";
    test_make_temp_dir(dir);
    uint8_t *rgb = malloc((size_t)W * H * 3);
    CHECK(rgb != NULL, "out of memory");
    if (!rgb) TEST_END();
    photo(rgb, W, H);
    char path[600];
    snprintf(path, sizeof path, "%s/big.jpg", dir);
    fx_buf jpg = {0};
    CHECK(fx_jpeg(rgb, W, H, NULL, &jpg) == 0 && fx_write_file(path, jpg.data, jpg.size) == 0,
          "writing %s", path);
    int have_djpeg = fx_have_djpeg();
    if (!have_djpeg) printf("djpeg not installed: sizes checked, pixels not compared\n");

    expect_scaled(path, (uint64_t)W * H, 0, 1, have_djpeg);        /* at the limit: full size */
    expect_scaled(path, 1000 * 1000, 0, 2, have_djpeg);            /* 3 MP over 1 MP: 1/2 */
    expect_scaled(path, 200 * 1000, 0, 4, have_djpeg);             /* 1/2 is 750k: 1/4 */
    expect_scaled(path, 250 * 188, 0, 8, have_djpeg);              /* exactly 1/8 */
    expect_scaled(path, 1000 * 1000, 100, 8, 0);                   /* min side allows more */
    expect_scaled(path, 1000 * 1000, 1000, 2, 0);                  /* max_pixels wins */

    geoloc_decode_options o = {0};
    o.max_pixels = 250 * 188 - 1; /* even 1/8 is over */
    geoloc_image img;
    geoloc_error e = {0};
    CHECK(geoloc_image_load(path, &o, &img, &e) == GEOLOC_E_RANGE &&
              strstr(e.message, "2000x1500") && strstr(e.message, "1/8") &&
              strstr(e.message, "max_pixels") && img.rgb == NULL,
          "over at 1/8: %s", e.message);

    /* PNG: refused over the limit, decoded at it (libpng cannot scale) */
    fx_buf png = {0}, webp = {0};
    fx_png_opts po = {PNG_COLOR_TYPE_RGB, 8, 0, NULL, 0, NULL, 0, NULL, 0};
    CHECK(fx_png(rgb, W, H, &po, &png) == 0, "PNG encode");
    o.max_pixels = (uint64_t)W * H - 1;
    CHECK(geoloc_image_decode(png.data, png.size, "big.png", &o, &img, &e) == GEOLOC_E_RANGE &&
              strstr(e.message, "2000x1500"),
          "PNG over the limit: %s", e.message);
    o.max_pixels = (uint64_t)W * H;
    CHECK(geoloc_image_decode(png.data, png.size, "big.png", &o, &img, &e) == GEOLOC_OK &&
              img.width == W && img.height == H,
          "PNG at the limit: %s", e.message);
    geoloc_image_free(&img);

    /* WebP: reduced like a JPEG by libwebp's rescaler (lossless, so the
     * result is close to the pattern's 2x2 / 4x4 block means), refused over
     * the limit at 1/8 */
    CHECK(fx_webp(rgb, W, H, 3, 1, 0, NULL, 0, &webp) == 0, "WebP encode");
    static const struct {
        uint64_t max_pixels;
        int denom;
    } wcases[] = {{(uint64_t)W * H, 1}, {1000 * 1000, 2}, {200 * 1000, 4}, {250 * 188, 8}};
    for (size_t k = 0; k < sizeof wcases / sizeof wcases[0]; k++) {
        int d = wcases[k].denom, ew = (W + d - 1) / d, eh = (H + d - 1) / d;
        o.max_pixels = wcases[k].max_pixels;
        geoloc_status st = geoloc_image_decode(webp.data, webp.size, "big.webp", &o, &img, &e);
        CHECK(st == GEOLOC_OK && img.width == ew && img.height == eh,
              "WebP max_pixels %llu: %s %dx%d, want %dx%d", (unsigned long long)o.max_pixels,
              e.message, img.width, img.height, ew, eh);
        if (st == GEOLOC_OK && d > 1) { /* against the block means of the source, away from edges */
            double sum = 0;
            long n = 0;
            for (int y = 1; y < eh - 1; y += 7)
                for (int x = 1; x < ew - 1; x += 7)
                    for (int c = 0; c < 3; c++) {
                        int mean = 0;
                        for (int dy = 0; dy < d; dy++)
                            for (int dx = 0; dx < d; dx++)
                                mean += rgb[3 * ((size_t)(y * d + dy) * W + x * d + dx) + c];
                        mean /= d * d;
                        sum += abs(mean - img.rgb[3 * ((size_t)y * ew + x) + c]);
                        n++;
                    }
            CHECK(sum / n < 12.0, "WebP at 1/%d: mean |difference| from block means %.2f", d,
                  sum / n);
        }
        geoloc_image_free(&img);
    }
    o.max_pixels = 250 * 188 - 1;
    CHECK(geoloc_image_decode(webp.data, webp.size, "big.webp", &o, &img, &e) == GEOLOC_E_RANGE &&
              strstr(e.message, "2000x1500") && strstr(e.message, "1/8"),
          "WebP over at 1/8: %s", e.message);
    fx_free(&png);
    fx_free(&webp);
    fx_free(&jpg);
    free(rgb);
    test_remove_tree(dir);
    TEST_END();
}
