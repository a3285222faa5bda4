/* max_pixels limits the DECODED size: a JPEG larger than the limit is
 * decoded at the smallest DCT reduction (1/2, 1/4, 1/8) that fits, pixel
 * for pixel what `djpeg -scale 1/N` gives (when djpeg is installed), and
 * refused only when even 1/8 is over; min_shorter_side may reduce further
 * but never past what max_pixels allows; PNG and WebP over the limit are
 * refused (their decoders cannot scale). A generated 2000 x 1500 photo with
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
        char scale[8];
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

    /* PNG and WebP: refused over the limit, decoded at it */
    fx_buf png = {0}, webp = {0};
    fx_png_opts po = {PNG_COLOR_TYPE_RGB, 8, 0, NULL, 0, NULL, 0, NULL, 0};
    CHECK(fx_png(rgb, W, H, &po, &png) == 0, "PNG encode");
    CHECK(fx_webp(rgb, W, H, 3, 0, 50, NULL, 0, &webp) == 0, "WebP encode");
    const fx_buf *others[2] = {&png, &webp};
    const char *names[2] = {"big.png", "big.webp"};
    for (int k = 0; k < 2; k++) {
        o.max_pixels = (uint64_t)W * H - 1;
        CHECK(geoloc_image_decode(others[k]->data, others[k]->size, names[k], &o, &img, &e) ==
                      GEOLOC_E_RANGE &&
                  strstr(e.message, "2000x1500"),
              "%s over the limit: %s", names[k], e.message);
        o.max_pixels = (uint64_t)W * H;
        CHECK(geoloc_image_decode(others[k]->data, others[k]->size, names[k], &o, &img, &e) ==
                      GEOLOC_OK &&
                  img.width == W && img.height == H,
              "%s at the limit: %s", names[k], e.message);
        geoloc_image_free(&img);
    }
    fx_free(&png);
    fx_free(&webp);
    fx_free(&jpg);
    free(rgb);
    test_remove_tree(dir);
    TEST_END();
}
