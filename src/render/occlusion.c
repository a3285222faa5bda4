/* The occlusion overlay (geoloc_explain_write_png): the explained view
 * enlarged to about 512 pixels on its shorter side, the drop grid
 * bilinearly interpolated between the grid cells' centres over the crop and
 * blended in a diverging colour (red: drop, blue: rise; opacity grows with
 * |drop| / max_abs_drop), the view outside the crop dimmed, the crop's box
 * outlined, and a legend bar below (-max, 0, +max; the target's unoccluded
 * probability) in the 3x5 font. Drawn with our own loops into an 8-bit RGB
 * image, written with libpng through the atomic writer. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "geoloc/explain.h"
#include "image/png_encode.h"
#include "render/glyphs.h"

#define LEGEND_HEIGHT 64
#define MAX_ALPHA 0.75f

static const uint8_t RED[3] = {215, 25, 28}, BLUE[3] = {44, 123, 230}, WHITE[3] = {255, 255, 255},
                     BACKGROUND[3] = {40, 40, 40};

/* Crop-pixel coordinate of the centre of grid cell i. */
static float cell_centre(const geoloc_explain_result *r, int i) {
    int lo = i * r->stride, hi = lo + r->stride < r->size ? lo + r->stride : r->size;
    return 0.5f * (float)(lo + hi);
}

/* Grid cells i0, i1 = i0 or i0 + 1 and weight t of i1 for crop coordinate u. */
static void interp_axis(const geoloc_explain_result *r, int n, float u, int *i0, int *i1, float *t) {
    int i = 0;
    while (i + 1 < n && cell_centre(r, i + 1) <= u) i++;
    float a = cell_centre(r, i);
    if (u <= a || i + 1 >= n) { /* before the first centre or after the last: clamp */
        *i0 = *i1 = i;
        *t = 0;
        return;
    }
    *i0 = i;
    *i1 = i + 1;
    *t = (u - a) / (cell_centre(r, i + 1) - a);
}

/* The interpolated drop at crop coordinates (u, v). */
static float drop_at(const geoloc_explain_result *r, float u, float v) {
    int x0, x1, y0, y1;
    float tx, ty;
    interp_axis(r, r->cols, u, &x0, &x1, &tx);
    interp_axis(r, r->rows, v, &y0, &y1, &ty);
    const float *d = r->drop;
    float top = d[y0 * r->cols + x0] * (1 - tx) + d[y0 * r->cols + x1] * tx;
    float bottom = d[y1 * r->cols + x0] * (1 - tx) + d[y1 * r->cols + x1] * tx;
    return top * (1 - ty) + bottom * ty;
}

/* Blends the diverging colour of t in [-1, 1] over pixel px. */
static void shade(uint8_t *px, float t) {
    const uint8_t *c = t >= 0 ? RED : BLUE;
    float a = MAX_ALPHA * (t < 0 ? -t : t);
    if (a > MAX_ALPHA) a = MAX_ALPHA;
    for (int k = 0; k < 3; k++) px[k] = (uint8_t)lrintf((float)px[k] * (1 - a) + (float)c[k] * a);
}

static void fill_rect(geoloc_image *img, int x, int y, int w, int h, const uint8_t rgb[3]) {
    for (int j = y; j < y + h; j++)
        for (int i = x; i < x + w; i++)
            if (i >= 0 && j >= 0 && i < img->width && j < img->height)
                memcpy(img->rgb + ((size_t)j * (size_t)img->width + (size_t)i) * 3, rgb, 3);
}

/* The photo part: the enlarged view, shaded over the crop, dimmed outside. */
static void draw_photo(const geoloc_explain_result *r, geoloc_image *canvas, int photo_h, double k) {
    float scale = r->max_abs_drop > 0 ? 1.0f / r->max_abs_drop : 0.0f;
    for (int y = 0; y < photo_h; y++) {
        float v = (float)(((double)y + 0.5) / k) - (float)r->crop.y;
        for (int x = 0; x < canvas->width; x++) {
            float u = (float)(((double)x + 0.5) / k) - (float)r->crop.x;
            uint8_t *px = canvas->rgb + ((size_t)y * (size_t)canvas->width + (size_t)x) * 3;
            if (u >= 0 && v >= 0 && u < (float)r->size && v < (float)r->size)
                shade(px, drop_at(r, u, v) * scale);
            else
                for (int c = 0; c < 3; c++) px[c] = (uint8_t)(px[c] * 45 / 100);
        }
    }
    int bx = (int)lround(r->crop.x * k), by = (int)lround(r->crop.y * k), bs = (int)lround(r->size * k);
    fill_rect(canvas, bx - 2, by - 2, bs + 4, 2, WHITE);
    fill_rect(canvas, bx - 2, by + bs, bs + 4, 2, WHITE);
    fill_rect(canvas, bx - 2, by, 2, bs, WHITE);
    fill_rect(canvas, bx + bs, by, 2, bs, WHITE);
}

/* The legend below the photo: a bar from -max (blue) to +max (red) as it
 * shades a mid-grey, its labels, the target cell with p_full, and what the
 * colours mean. */
static void draw_legend(const geoloc_explain_result *r, geoloc_image *canvas, int top) {
    fill_rect(canvas, 0, top, canvas->width, LEGEND_HEIGHT, BACKGROUND);
    int x0 = canvas->width / 10, w = canvas->width - 2 * x0, y0 = top + 6;
    for (int x = 0; x < w; x++) {
        uint8_t px[3] = {128, 128, 128};
        shade(px, 2.0f * ((float)x + 0.5f) / (float)w - 1.0f);
        fill_rect(canvas, x0 + x, y0, 1, 14, px);
    }
    char lo[32], hi[32], cell[64], tok[GEOLOC_S2_TOKEN_SIZE];
    snprintf(lo, sizeof lo, "-%.3f", (double)r->max_abs_drop);
    snprintf(hi, sizeof hi, "+%.3f", (double)r->max_abs_drop);
    geoloc_s2_to_token(r->target, tok);
    snprintf(cell, sizeof cell, "cell %s p=%.3f", tok, (double)r->p_full);
    const char *meaning = "hidden: red = p drops, blue = p rises";
    int s = 2, ty = y0 + 20, by = top + LEGEND_HEIGHT - 5 * s - 6;
    glyphs_draw(canvas, x0, ty, s, lo, WHITE);
    glyphs_draw(canvas, x0 + w / 2 - glyphs_width("0", s) / 2, ty, s, "0", WHITE);
    glyphs_draw(canvas, x0 + w - glyphs_width(hi, s), ty, s, hi, WHITE);
    glyphs_draw(canvas, 6, by, s, cell, WHITE);
    glyphs_draw(canvas, canvas->width - 6 - glyphs_width(meaning, s), by, s, meaning, WHITE);
}

geoloc_status geoloc_explain_write_png(const geoloc_explain_result *r, const char *path, geoloc_error *err) {
    if (!r || !r->drop || !r->view.rgb) return error_set(err, GEOLOC_E_ARG, "%s: no explanation to draw", path);
    int shorter = r->view.width < r->view.height ? r->view.width : r->view.height;
    double k = shorter >= 512 ? 1.0 : 512.0 / shorter;
    int w = (int)lround(r->view.width * k), photo_h = (int)lround(r->view.height * k);
    geoloc_image photo = {0}, canvas = {0};
    geoloc_status s = geoloc_image_resize(&r->view, w, photo_h, &photo, err);
    if (s != GEOLOC_OK) return s;
    canvas = (geoloc_image){.width = w, .height = photo_h + LEGEND_HEIGHT,
                            .rgb = malloc((size_t)w * (size_t)(photo_h + LEGEND_HEIGHT) * 3)};
    if (!canvas.rgb) {
        geoloc_image_free(&photo);
        return error_set(err, GEOLOC_E_NOMEM, "%s: out of memory", path);
    }
    memcpy(canvas.rgb, photo.rgb, (size_t)w * (size_t)photo_h * 3);
    geoloc_image_free(&photo);
    draw_photo(r, &canvas, photo_h, k);
    draw_legend(r, &canvas, photo_h);
    char tok[GEOLOC_S2_TOKEN_SIZE], desc[256];
    geoloc_s2_to_token(r->target, tok);
    snprintf(desc, sizeof desc,
             "geoloc explain: drop of p(cell %s) = %.6f when a %d px grey patch hides each of %dx%d "
             "positions of the %dx%d center crop; red: drop, blue: rise, full colour at %.6f",
             tok, (double)r->p_full, r->patch, r->rows, r->cols, r->size, r->size, (double)r->max_abs_drop);
    s = image_write_png(&canvas, path, desc, err);
    geoloc_image_free(&canvas);
    return s;
}
