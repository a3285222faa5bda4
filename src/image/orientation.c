/* EXIF orientation applied to decoded pixels. Orientation k says how the
 * stored image must be transformed for display:
 *   1 as stored            2 mirrored left-right     3 rotated 180
 *   4 mirrored top-bottom  5 transposed (mirror + 90 counter-clockwise)
 *   6 rotated 90 clockwise 7 transversed (mirror + 90 clockwise)
 *   8 rotated 90 counter-clockwise
 * 2-4 keep the size and are done in place. 5-8 swap width and height: one
 * walk over the displayed image into a new buffer, reading the stored pixel
 * at start + x * dx + y * dy (in pixels), in 32x32 tiles so that the
 * column-wise side of the transposition stays in cache. */
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "image/image_internal.h"

#define TILE 32

static void swap_px(uint8_t *a, uint8_t *b) {
    uint8_t t0 = a[0], t1 = a[1], t2 = a[2];
    a[0] = b[0], a[1] = b[1], a[2] = b[2];
    b[0] = t0, b[1] = t1, b[2] = t2;
}

/* Orientations 2-4 keep the size: done in place, no second buffer. */
static void flip_in_place(geoloc_image *img, int orientation) {
    size_t w = (size_t)img->width, h = (size_t)img->height, stride = w * 3;
    uint8_t *p = img->rgb;
    if (orientation == 3) { /* 180 degrees: the pixel sequence reversed */
        for (size_t i = 0, j = w * h - 1; i < j; i++, j--) swap_px(p + 3 * i, p + 3 * j);
    } else if (orientation == 2) { /* each row reversed */
        for (size_t y = 0; y < h; y++) {
            uint8_t *row = p + y * stride;
            for (size_t i = 0, j = w - 1; i < j; i++, j--) swap_px(row + 3 * i, row + 3 * j);
        }
    } else { /* 4: rows swapped top to bottom */
        for (size_t y = 0; y < h / 2; y++) {
            uint8_t *a = p + y * stride, *b = p + (h - 1 - y) * stride;
            for (size_t k = 0; k < stride; k++) {
                uint8_t t = a[k];
                a[k] = b[k];
                b[k] = t;
            }
        }
    }
}

geoloc_status image_apply_orientation(geoloc_image *img, int orientation, const char *name,
                                      geoloc_error *err) {
    if (orientation < 2 || orientation > 8 || !img->rgb) return GEOLOC_OK;
    if (orientation <= 4) {
        flip_in_place(img, orientation);
        return GEOLOC_OK;
    }
    ptrdiff_t w = img->width, h = img->height;
    ptrdiff_t ow = h, oh = w; /* displayed size */
    ptrdiff_t start, dx, dy;  /* stored index of displayed (x, y) */
    switch (orientation) {
    case 5: start = 0; dx = w; dy = 1; break;
    case 6: start = (h - 1) * w; dx = -w; dy = 1; break;
    case 7: start = (h - 1) * w + w - 1; dx = -w; dy = -1; break;
    default: start = w - 1; dx = w; dy = -1; break; /* 8 */
    }
    uint8_t *dst = image_alloc_pixels((size_t)ow, (size_t)oh);
    if (!dst)
        return error_set(err, GEOLOC_E_NOMEM, "%s: out of memory applying EXIF orientation %d",
                         name, orientation);
    const uint8_t *src = img->rgb;
    for (ptrdiff_t ty = 0; ty < oh; ty += TILE) {
        ptrdiff_t yend = ty + TILE < oh ? ty + TILE : oh;
        for (ptrdiff_t tx = 0; tx < ow; tx += TILE) {
            ptrdiff_t xend = tx + TILE < ow ? tx + TILE : ow;
            for (ptrdiff_t y = ty; y < yend; y++) {
                uint8_t *d = dst + (y * ow + tx) * 3;
                ptrdiff_t i = start + tx * dx + y * dy;
                for (ptrdiff_t x = tx; x < xend; x++, d += 3, i += dx) {
                    const uint8_t *s = src + i * 3;
                    d[0] = s[0];
                    d[1] = s[1];
                    d[2] = s[2];
                }
            }
        }
    }
    free(img->rgb);
    img->rgb = dst;
    img->width = (int)ow;
    img->height = (int)oh;
    return GEOLOC_OK;
}
