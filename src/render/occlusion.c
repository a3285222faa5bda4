/* The occlusion overlay (geoloc_explain_write_png): the explained view
 * enlarged to about 512 pixels on its shorter side, the drop grid
 * bilinearly interpolated between the grid cells' centres over the crop and
 * blended pixel by pixel in a diverging colour (red: drop, blue: rise;
 * opacity grows with |drop| / max_abs_drop), the view outside the crop
 * dimmed; then, with cairo, the crop's box outlined and a legend below (a bar
 * from -max to +max, the target cell and its unoccluded probability, what
 * the colours mean) in antialiased text; PNG out through the atomic writer. */
#include <cairo.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>

#include "core/error.h"
#include "geoloc/explain.h"
#include "render/cairo_png.h"

#define LEGEND_HEIGHT 64
#define MAX_ALPHA 0.75f
#define TEXT_SIZE 13 /* the legend's text, pixels */

static const uint8_t RED[3] = {215, 25, 28}, BLUE[3] = {44, 123, 230};

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

/* The photo part, pixel by pixel: shaded over the crop, dimmed outside;
 * photo is the view enlarged k times. */
static void shade_photo(const geoloc_explain_result *r, geoloc_image *photo, double k) {
    float scale = r->max_abs_drop > 0 ? 1.0f / r->max_abs_drop : 0.0f;
    for (int y = 0; y < photo->height; y++) {
        float v = (float)(((double)y + 0.5) / k) - (float)r->crop.y;
        for (int x = 0; x < photo->width; x++) {
            float u = (float)(((double)x + 0.5) / k) - (float)r->crop.x;
            uint8_t *px = photo->rgb + ((size_t)y * (size_t)photo->width + (size_t)x) * 3;
            if (u >= 0 && v >= 0 && u < (float)r->size && v < (float)r->size)
                shade(px, drop_at(r, u, v) * scale);
            else
                for (int c = 0; c < 3; c++) px[c] = (uint8_t)(px[c] * 45 / 100);
        }
    }
}

/* The crop's box: a 2-pixel white line just outside it. */
static void draw_crop_box(cairo_t *cr, const geoloc_explain_result *r, double k) {
    double bx = lround(r->crop.x * k), by = lround(r->crop.y * k), bs = lround(r->size * k);
    cairo_set_source_rgb(cr, 1, 1, 1);
    cairo_set_line_width(cr, 2);
    cairo_rectangle(cr, bx - 1, by - 1, bs + 2, bs + 2);
    cairo_stroke(cr);
}

/* Adds the stop at offset of mid-grey shaded by t to a gradient. */
static void add_shaded_grey(cairo_pattern_t *p, double offset, float t) {
    uint8_t px[3] = {128, 128, 128};
    shade(px, t);
    cairo_pattern_add_color_stop_rgb(p, offset, px[0] / 255.0, px[1] / 255.0, px[2] / 255.0);
}

/* text with its baseline at y, its left end at x - align * its width. */
static void show_text(cairo_t *cr, double x, double y, double align, const char *text) {
    cairo_text_extents_t e;
    cairo_text_extents(cr, text, &e);
    cairo_move_to(cr, round(x - align * e.x_advance), y);
    cairo_show_text(cr, text);
}

/* The legend below the photo (top: its first row; w: the width): a bar
 * from -max (blue) to +max (red) as it shades a mid-grey, its labels, the
 * target cell with p_full, and what the colours mean. */
static void draw_legend(cairo_t *cr, const geoloc_explain_result *r, int w, int top) {
    cairo_set_source_rgb(cr, 40 / 255.0, 40 / 255.0, 40 / 255.0);
    cairo_rectangle(cr, 0, top, w, LEGEND_HEIGHT);
    cairo_fill(cr);
    double x0 = w / 10, bar_w = w - 2 * x0, y0 = top + 6;
    cairo_pattern_t *bar = cairo_pattern_create_linear(x0, 0, x0 + bar_w, 0);
    add_shaded_grey(bar, 0, -1);
    add_shaded_grey(bar, 0.5, 0);
    add_shaded_grey(bar, 1, 1);
    cairo_set_source(cr, bar);
    cairo_rectangle(cr, x0, y0, bar_w, 14);
    cairo_fill(cr);
    cairo_pattern_destroy(bar);
    char lo[32], hi[32], cell[64], tok[GEOLOC_S2_TOKEN_SIZE];
    snprintf(lo, sizeof lo, "-%.3f", (double)r->max_abs_drop);
    snprintf(hi, sizeof hi, "+%.3f", (double)r->max_abs_drop);
    geoloc_s2_to_token(r->target, tok);
    snprintf(cell, sizeof cell, "cell %s p=%.3f", tok, (double)r->p_full);
    cairo_set_source_rgb(cr, 1, 1, 1);
    cairo_select_font_face(cr, RENDER_FONT, CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_NORMAL);
    cairo_set_font_size(cr, TEXT_SIZE);
    double labels = y0 + 14 + TEXT_SIZE + 2, bottom = top + LEGEND_HEIGHT - 8;
    show_text(cr, x0, labels, 0, lo);
    show_text(cr, x0 + bar_w / 2, labels, 0.5, "0");
    show_text(cr, x0 + bar_w, labels, 1, hi);
    show_text(cr, 8, bottom, 0, cell);
    show_text(cr, w - 8, bottom, 1, "hidden: red = p drops, blue = p rises");
}

geoloc_status geoloc_explain_write_png(const geoloc_explain_result *r, const char *path, geoloc_error *err) {
    if (!r || !r->drop || !r->view.rgb)
        return error_set(err, GEOLOC_E_ARG, "%s:%d: %s: no explanation to draw", __FILE__, __LINE__, path);
    int shorter = r->view.width < r->view.height ? r->view.width : r->view.height;
    double k = shorter >= 512 ? 1.0 : 512.0 / shorter;
    int w = (int)lround(r->view.width * k), photo_h = (int)lround(r->view.height * k);
    geoloc_image photo = {0};
    geoloc_status s = geoloc_image_resize(&r->view, w, photo_h, &photo, err);
    if (s != GEOLOC_OK) return s;
    shade_photo(r, &photo, k);
    cairo_surface_t *shaded = render_surface_from_image(&photo);
    geoloc_image_free(&photo);
    cairo_surface_t *canvas = cairo_image_surface_create(CAIRO_FORMAT_RGB24, w, photo_h + LEGEND_HEIGHT);
    cairo_t *cr = cairo_create(canvas);
    if (!shaded || cairo_status(cr) != CAIRO_STATUS_SUCCESS) {
        s = error_set(err, GEOLOC_E_NOMEM, "%s:%d: %s: cannot draw a %dx%d overlay", __FILE__, __LINE__, path, w,
                      photo_h + LEGEND_HEIGHT);
    } else {
        cairo_set_source_surface(cr, shaded, 0, 0);
        cairo_paint(cr);
        draw_crop_box(cr, r, k);
        draw_legend(cr, r, w, photo_h);
        s = cairo_status(cr) == CAIRO_STATUS_SUCCESS
                ? render_surface_write_png(canvas, path, err)
                : error_set(err, GEOLOC_E_NOMEM, "%s:%d: %s: drawing failed: %s", __FILE__, __LINE__, path,
                            cairo_status_to_string(cairo_status(cr)));
    }
    cairo_destroy(cr);
    cairo_surface_destroy(canvas);
    if (shaded) cairo_surface_destroy(shaded);
    return s;
}
