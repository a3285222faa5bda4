/* An answer's probability map drawn with cairo (antialiased shapes and
 * text, PNG out): sea, land and borders, the cells shaded on a log scale,
 * the confidence circles, the answer's marker, caption, legend and the
 * photo's thumbnail. */
#include <cairo.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "geoloc/place.h"
#include "geoloc/s2.h"
#include "render/cairo_png.h"
#include "render/render_internal.h"

#define DEG (M_PI / 180.0)
#define DECADES 4           /* the colour scale spans at most max prob / 10^DECADES .. max prob */
#define TICKS 4             /* legend intervals */
#define EDGE_STEPS 8        /* straight pieces per drawn cell edge */
#define THUMB_SIZE 180      /* the thumbnail's longer side, pixels */
#define SMALL_CELL_PX 12    /* cells smaller than this also get a dot this wide */

typedef struct rgb {
    double r, g, b;
} rgb;

static rgb rgb_hex(unsigned v) { return (rgb){(v >> 16 & 255) / 255.0, (v >> 8 & 255) / 255.0, (v & 255) / 255.0}; }

/* Light yellow (improbable) to dark red (probable), t in [0, 1]. */
static rgb ramp(double t) {
    static const unsigned stops[] = {0xffffcc, 0xfed976, 0xfd8d3c, 0xe31a1c, 0x800026};
    const int n = sizeof stops / sizeof *stops;
    t = fmax(0, fmin(1, t)) * (n - 1);
    int k = (int)fmin(floor(t), n - 2);
    rgb a = rgb_hex(stops[k]), b = rgb_hex(stops[k + 1]);
    double f = t - k;
    return (rgb){a.r + f * (b.r - a.r), a.g + f * (b.g - a.g), a.b + f * (b.b - a.b)};
}

/* The view's pixels per degree. */
static void scales(const geoloc_map_view *v, double *sx, double *sy) {
    *sx = v->width / (v->east - v->west);
    *sy = v->height / (v->north - v->south);
}

/* Fills (fill) or strokes the ring of n positions (longitudes continuous
 * along it) at every copy 360 degrees apart that meets the view. */
static void draw_ring(cairo_t *cr, const geoloc_map_view *v, const double *lon_lat, size_t n, int fill) {
    double sx, sy, lo = INFINITY, hi = -INFINITY;
    scales(v, &sx, &sy);
    for (size_t i = 0; i < n; i++) {
        lo = fmin(lo, lon_lat[2 * i]);
        hi = fmax(hi, lon_lat[2 * i]);
    }
    for (int k = -1; k <= 2; k++) {
        double shift = 360.0 * k;
        if (hi + shift < v->west || lo + shift > v->east) continue;
        for (size_t i = 0; i < n; i++) {
            double x = (lon_lat[2 * i] + shift - v->west) * sx, y = (v->north - lon_lat[2 * i + 1]) * sy;
            if (i == 0) cairo_move_to(cr, x, y);
            else cairo_line_to(cr, x, y);
        }
        cairo_close_path(cr);
    }
    if (fill) cairo_fill(cr);
    else cairo_stroke(cr);
}

static void draw_borders(cairo_t *cr, const geoloc_map_view *v, const geoloc_borders *b) {
    for (int pass = 0; pass < 2; pass++) { /* land, then its outlines */
        if (pass == 0) cairo_set_source_rgb(cr, 0.95, 0.94, 0.91);
        else cairo_set_source_rgb(cr, 0.45, 0.45, 0.45);
        cairo_set_line_width(cr, 0.7);
        for (size_t r = 0; r < b->n_rings; r++)
            draw_ring(cr, v, b->lon_lat + 2 * b->ring_start[r], b->ring_start[r + 1] - b->ring_start[r], !pass);
    }
}

/* A cell's boundary, its edges as great-circle arcs of EDGE_STEPS pieces,
 * longitudes unwrapped; a ring round a pole closed along it. Returns the
 * positions written to lon_lat (room for 4 * EDGE_STEPS + 2). */
static size_t cell_ring(geoloc_cell cell, double *lon_lat) {
    double v[4][3];
    for (int k = 0; k < 4; k++) {
        double lat, lon;
        geoloc_s2_vertex(cell, k, &lat, &lon);
        v[k][0] = cos(lat * DEG) * cos(lon * DEG);
        v[k][1] = cos(lat * DEG) * sin(lon * DEG);
        v[k][2] = sin(lat * DEG);
    }
    size_t n = 0;
    for (int k = 0; k < 4; k++)
        for (int s = 0; s < EDGE_STEPS; s++, n++) {
            const double *a = v[k], *b = v[(k + 1) % 4];
            double t = (double)s / EDGE_STEPS, p[3], norm = 0;
            for (int c = 0; c < 3; c++) {
                p[c] = a[c] + t * (b[c] - a[c]);
                norm += p[c] * p[c];
            }
            norm = sqrt(norm);
            double lat = asin(p[2] / norm) / DEG, lon = atan2(p[1], p[0]) / DEG;
            if (n > 0) lon = lon_lat[2 * (n - 1)] + remainder(lon - lon_lat[2 * (n - 1)], 360.0);
            lon_lat[2 * n] = lon;
            lon_lat[2 * n + 1] = lat;
        }
    double turn = lon_lat[2 * (n - 1)] + remainder(lon_lat[0] - lon_lat[2 * (n - 1)], 360.0) - lon_lat[0];
    if (fabs(turn) > 180) { /* round a pole: north when longitudes grow */
        double pole = turn > 0 ? 90 : -90;
        lon_lat[2 * n] = lon_lat[2 * (n - 1)];
        lon_lat[2 * n + 1] = pole;
        lon_lat[2 * n + 2] = lon_lat[0];
        lon_lat[2 * n + 3] = pole;
        n += 2;
    }
    return n;
}

/* The colour scale, logarithmic from lo to lo 10^span: from the least to the
 * most probable cell, at most DECADES wide (a flat distribution, as a
 * calibrated model's often is, still shows its order). */
typedef struct color_scale {
    double lo, span;
} color_scale;

static color_scale scale_of(const geoloc_map_answer *a) {
    double top = 0, low = INFINITY;
    for (size_t k = 0; k < a->part->n; k++) top = fmax(top, a->probs[k]);
    for (size_t k = 0; k < a->part->n; k++)
        if (a->probs[k] > 0) low = fmin(low, a->probs[k]);
    if (!(top > 0)) return (color_scale){1e-12, DECADES};
    double lo = fmax(low, top * pow(10, -DECADES));
    return (color_scale){lo, fmax(log10(top / lo), 0.01)};
}

/* Where p falls on the scale, 0 (lo or less) to 1 (the top). */
static double scale_at(color_scale s, double p) { return fmin(log10(fmax(p, s.lo) / s.lo) / s.span, 1); }

/* 1 when a ring of n positions spans under SMALL_CELL_PX pixels both ways. */
static int too_small(const geoloc_map_view *v, const double *lon_lat, size_t n) {
    double sx, sy, x0 = INFINITY, x1 = -INFINITY, y0 = INFINITY, y1 = -INFINITY;
    scales(v, &sx, &sy);
    for (size_t i = 0; i < n; i++) {
        x0 = fmin(x0, lon_lat[2 * i]), x1 = fmax(x1, lon_lat[2 * i]);
        y0 = fmin(y0, lon_lat[2 * i + 1]), y1 = fmax(y1, lon_lat[2 * i + 1]);
    }
    return (x1 - x0) * sx < SMALL_CELL_PX && (y1 - y0) * sy < SMALL_CELL_PX;
}

/* Every cell in its colour, the most probable on top; cells too small to
 * see at the view's scale also as a dot, outlined. */
static void draw_cells(cairo_t *cr, const geoloc_map_view *v, const geoloc_map_answer *a, color_scale scale) {
    size_t n;
    size_t *order = render_cells_by_prob(a, 0, &n);
    double ring[2 * (4 * EDGE_STEPS + 2)];
    for (size_t i = n; order && i-- > 0;) {
        size_t k = order[i];
        double t = scale_at(scale, a->probs[k]);
        rgb c = ramp(t);
        cairo_set_source_rgba(cr, c.r, c.g, c.b, 0.2 + 0.65 * t);
        size_t m = cell_ring(a->part->cell[k], ring);
        draw_ring(cr, v, ring, m, 1);
        if (!too_small(v, ring, m)) continue;
        double lat, lon, x, y;
        geoloc_s2_center(a->part->cell[k], &lat, &lon);
        geoloc_map_project(v, lat, lon, &x, &y);
        cairo_arc(cr, x, y, SMALL_CELL_PX / 2.0, 0, 2 * M_PI);
        cairo_set_source_rgb(cr, c.r, c.g, c.b);
        cairo_fill_preserve(cr);
        cairo_set_source_rgba(cr, 0.3, 0.3, 0.3, 0.8);
        cairo_set_line_width(cr, 0.8);
        cairo_stroke(cr);
    }
    free(order);
}

static void draw_radii(cairo_t *cr, const geoloc_map_view *v, const geoloc_map_answer *a) {
    rgb m = rgb_hex(GEOLOC_MAP_MARKER_RGB);
    double ring[2 * RENDER_CIRCLE_POINTS], dash[] = {6, 4};
    for (int r = 0; r < a->n_radii && r < GEOLOC_RENDER_MAX_RADII; r++) {
        if (!(a->radius_km[r] > 0) || render_circle_ring(a->lat, a->lon, a->radius_km[r], ring) == 2) continue;
        for (int i = 1; i < RENDER_CIRCLE_POINTS; i++) /* continuous longitudes */
            ring[2 * i] = ring[2 * (i - 1)] + remainder(ring[2 * i] - ring[2 * (i - 1)], 360.0);
        cairo_set_source_rgb(cr, m.r, m.g, m.b);
        cairo_set_line_width(cr, 2);
        cairo_set_dash(cr, dash, r == 0 ? 0 : 2, 0);
        draw_ring(cr, v, ring, RENDER_CIRCLE_POINTS, 0);
    }
    cairo_set_dash(cr, NULL, 0, 0);
}

/* The answer: a ring round its point (the cell's colour shows inside) and a
 * dot on it, in the marker colour, outlined in white. */
static void draw_marker(cairo_t *cr, const geoloc_map_view *v, const geoloc_map_answer *a) {
    double x, y;
    geoloc_map_project(v, a->lat, a->lon, &x, &y);
    rgb m = rgb_hex(GEOLOC_MAP_MARKER_RGB);
    for (int pass = 0; pass < 2; pass++) {
        if (pass == 0) cairo_set_source_rgb(cr, 1, 1, 1);
        else cairo_set_source_rgb(cr, m.r, m.g, m.b);
        cairo_set_line_width(cr, pass == 0 ? 5 : 2.5);
        cairo_new_sub_path(cr);
        cairo_arc(cr, x, y, 11, 0, 2 * M_PI);
        cairo_stroke(cr);
        cairo_arc(cr, x, y, pass == 0 ? 3.5 : 2.5, 0, 2 * M_PI);
        cairo_fill(cr);
    }
}

/* A white translucent box. */
static void panel(cairo_t *cr, double x, double y, double w, double h) {
    cairo_set_source_rgba(cr, 1, 1, 1, 0.85);
    cairo_rectangle(cr, x, y, w, h);
    cairo_fill(cr);
}

/* The photo's name, place, coordinates and radii, top left; a name too wide
 * for the space left of the thumbnail is shown without its folder. */
static void draw_caption(cairo_t *cr, const geoloc_map_view *v, const geoloc_map_answer *a) {
    char lines[4][512];
    int n = 0;
    const char *name = a->photo ? a->photo : "", *base = strrchr(name, '/');
    cairo_select_font_face(cr, RENDER_FONT, CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_BOLD);
    cairo_set_font_size(cr, 15);
    cairo_text_extents_t e;
    cairo_text_extents(cr, name, &e);
    snprintf(lines[n++], sizeof lines[0], "%s", base && e.x_advance > v->width - THUMB_SIZE - 60 ? base + 1 : name);
    if (a->unknown) snprintf(lines[n++], sizeof lines[0], "unknown: the best guess is");
    if (a->place && geoloc_place_name(a->place, lines[n], sizeof lines[0]) > 0) n++;
    snprintf(lines[n++], sizeof lines[0], "%.4f, %.4f   p = %.3f", a->lat, a->lon, (double)a->prob);
    for (int r = 0; r < a->n_radii && r < 2; r++) /* the radii in words, two per line at most */
        snprintf(lines[n - 1] + strlen(lines[n - 1]), sizeof lines[0] - strlen(lines[n - 1]), "   %g %%: %.0f km",
                 100 * a->radius_conf[r], a->radius_km[r]);
    double w = 0;
    for (int k = 0; k < n; k++) {
        cairo_text_extents(cr, lines[k], &e);
        w = fmax(w, e.x_advance);
    }
    panel(cr, 8, 8, w + 20, 22.0 * n + 12);
    cairo_set_source_rgb(cr, 0.1, 0.1, 0.1);
    for (int k = 0; k < n; k++) {
        if (k == 1) cairo_select_font_face(cr, RENDER_FONT, CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_NORMAL);
        cairo_move_to(cr, 18, 30 + 22.0 * k);
        cairo_show_text(cr, lines[k]);
    }
}

/* The colour scale: a bar from its lowest to its highest probability, TICKS + 1 ticks. */
static void draw_legend(cairo_t *cr, const geoloc_map_view *v, color_scale scale) {
    const double bar_w = 240, bar_h = 14, x0 = 20, y0 = v->height - 42.0;
    panel(cr, 8, y0 - 30, bar_w + 34, 70);
    for (int i = 0; i < (int)bar_w; i++) {
        rgb c = ramp(i / (bar_w - 1));
        cairo_set_source_rgb(cr, c.r, c.g, c.b);
        cairo_rectangle(cr, x0 + i, y0, 1, bar_h);
        cairo_fill(cr);
    }
    cairo_set_source_rgb(cr, 0.1, 0.1, 0.1);
    cairo_select_font_face(cr, RENDER_FONT, CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_NORMAL);
    cairo_set_font_size(cr, 12);
    cairo_move_to(cr, x0, y0 - 8);
    cairo_show_text(cr, "cell probability (log scale)");
    cairo_set_line_width(cr, 1);
    for (int d = 0; d <= TICKS; d++) {
        double x = x0 + (bar_w - 1) * d / TICKS, p = scale.lo * pow(10, scale.span * d / TICKS);
        char label[32];
        snprintf(label, sizeof label, p >= 0.001 ? "%.2g" : "%.1e", p);
        cairo_move_to(cr, x, y0 + bar_h);
        cairo_line_to(cr, x, y0 + bar_h + 4);
        cairo_stroke(cr);
        cairo_text_extents_t e;
        cairo_text_extents(cr, label, &e);
        cairo_move_to(cr, fmin(fmax(x - e.x_advance / 2, 10), x0 + bar_w + 10 - e.x_advance), y0 + bar_h + 17);
        cairo_show_text(cr, label);
    }
}

static void draw_thumbnail(cairo_t *cr, const geoloc_map_view *v, const geoloc_image *img) {
    if (!img || img->width <= 0 || img->height <= 0) return;
    cairo_surface_t *s = render_surface_from_image(img);
    if (!s) return;
    double f = (double)THUMB_SIZE / (img->width > img->height ? img->width : img->height);
    double w = img->width * f, h = img->height * f, x = v->width - w - 12, y = 12;
    panel(cr, x - 4, y - 4, w + 8, h + 8);
    cairo_save(cr);
    cairo_translate(cr, x, y);
    cairo_scale(cr, f, f);
    cairo_set_source_surface(cr, s, 0, 0);
    cairo_pattern_set_filter(cairo_get_source(cr), CAIRO_FILTER_GOOD);
    cairo_paint(cr);
    cairo_restore(cr);
    cairo_surface_destroy(s);
}

geoloc_status geoloc_map_write_png(const geoloc_map_answer *a, const geoloc_map_options *opt, const char *path,
                                   geoloc_error *err) {
    const geoloc_map_view *v = &opt->view;
    if (!a->part || !a->probs || a->part->n == 0 || v->width < 1 || v->height < 1 || !(v->east > v->west) ||
        !(v->north > v->south))
        return error_set(err, GEOLOC_E_ARG, "%s:%d: %s: a map needs the answer's distribution and a view "
                         "(geoloc_map_view_fit)", __FILE__, __LINE__, path);
    cairo_surface_t *surface = cairo_image_surface_create(CAIRO_FORMAT_RGB24, v->width, v->height);
    cairo_t *cr = cairo_create(surface);
    if (cairo_status(cr) != CAIRO_STATUS_SUCCESS) {
        cairo_destroy(cr);
        cairo_surface_destroy(surface);
        return error_set(err, GEOLOC_E_NOMEM, "%s:%d: %s: cannot draw a %dx%d map", __FILE__, __LINE__, path,
                         v->width, v->height);
    }
    color_scale scale = scale_of(a);
    cairo_set_source_rgb(cr, 0.80, 0.88, 0.94); /* the sea */
    cairo_paint(cr);
    if (opt->borders) {
        cairo_set_line_join(cr, CAIRO_LINE_JOIN_ROUND);
        draw_borders(cr, v, opt->borders);
    }
    draw_cells(cr, v, a, scale);
    draw_radii(cr, v, a);
    draw_marker(cr, v, a);
    draw_caption(cr, v, a);
    draw_legend(cr, v, scale);
    draw_thumbnail(cr, v, opt->thumbnail);
    geoloc_status s = cairo_status(cr) == CAIRO_STATUS_SUCCESS
                          ? render_surface_write_png(surface, path, err)
                          : error_set(err, GEOLOC_E_NOMEM, "%s:%d: %s: drawing failed: %s", __FILE__, __LINE__, path,
                                      cairo_status_to_string(cairo_status(cr)));
    cairo_destroy(cr);
    cairo_surface_destroy(surface);
    return s;
}
