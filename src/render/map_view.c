/* A map's window on the Earth: the whole of it, a given box, or where an
 * answer's probability mass is (the smallest longitude arc and latitude band
 * holding the most probable cells that sum to MASS, the answer and its
 * radii, padded), widened to the picture's aspect ratio. */
#define _GNU_SOURCE /* qsort_r */
#include <math.h>
#include <stdlib.h>

#include "core/error.h"
#include "geoloc/distance.h"
#include "geoloc/s2.h"
#include "render/render_internal.h"

#define DEG (M_PI / 180.0)
#define MASS 0.9            /* auto: the cells holding this much probability */
#define MAX_CELLS 500       /* auto: at most this many of them */
#define PAD 0.15            /* auto: margin on each side, share of the span */
#define MIN_SPAN_DEG 6.0    /* auto: the smallest latitude span shown */
#define MAX_RADIUS_KM 3000  /* auto: wider radii do not widen the view */
#define WORLD_SHARE 0.6     /* auto: a view wider than this share of 360 degrees becomes the world */
#define MIN_PIXELS 64

/* The x scale of a view: cos of its centre latitude (0 for the world). */
static double lon_factor(const geoloc_map_view *v) {
    double mid = (v->north + v->south) / 2;
    return (v->east - v->west) >= 360 ? 1.0 : fmax(0.2, cos(mid * DEG));
}

void geoloc_map_project(const geoloc_map_view *v, double lat, double lon, double *x, double *y) {
    double centre = (v->west + v->east) / 2;
    double l = centre + remainder(lon - centre, 360.0);
    *x = (l - v->west) / (v->east - v->west) * v->width;
    *y = (v->north - lat) / (v->north - v->south) * v->height;
}

/* Widens the box to the pixels' aspect ratio round its centre, within the
 * poles and 360 degrees of longitude. */
static void fit_aspect(geoloc_map_view *v) {
    for (int pass = 0; pass < 2; pass++) { /* again once the latitude was clamped */
        double want = (double)v->width / v->height; /* (lon span * factor) / lat span */
        double lon_span = v->east - v->west, lat_span = v->north - v->south, f = lon_factor(v);
        if (lon_span * f / lat_span < want) {
            double grow = lat_span * want / f - lon_span;
            v->west -= grow / 2;
            v->east += grow / 2;
        } else {
            double grow = lon_span * f / want - lat_span;
            v->south -= grow / 2;
            v->north += grow / 2;
        }
        if (v->east - v->west > 360) {
            double c = (v->west + v->east) / 2;
            v->west = c - 180;
            v->east = c + 180;
        }
        if (v->north - v->south > 180) {
            v->south = -90;
            v->north = 90;
        } else if (v->north > 90) {
            v->south -= v->north - 90;
            v->north = 90;
        } else if (v->south < -90) {
            v->north += -90 - v->south;
            v->south = -90;
        }
    }
}

static int by_value(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The points the auto view must show: vertices of the cells holding MASS,
 * the answer, points of its radii; lon[], lat[] of *n. -1 out of memory. */
static int mass_points(const geoloc_map_answer *a, double **lon, double **lat, size_t *n) {
    size_t n_cells, cap;
    size_t *order = render_cells_by_prob(a, 0, &n_cells);
    if (!order) return -1;
    cap = 4 * (n_cells < MAX_CELLS ? n_cells : MAX_CELLS) + 1 + GEOLOC_RENDER_MAX_RADII * RENDER_CIRCLE_POINTS;
    *lon = malloc(cap * sizeof **lon);
    *lat = malloc(cap * sizeof **lat);
    *n = 0;
    if (!*lon || !*lat) {
        free(order);
        return -1;
    }
    double sum = 0;
    for (size_t i = 0; i < n_cells && i < MAX_CELLS && sum < MASS; i++) {
        for (int k = 0; k < 4; k++, (*n)++) geoloc_s2_vertex(a->part->cell[order[i]], k, &(*lat)[*n], &(*lon)[*n]);
        sum += a->probs[order[i]];
    }
    free(order);
    (*lat)[*n] = a->lat;
    (*lon)[(*n)++] = a->lon;
    double ring[2 * RENDER_CIRCLE_POINTS];
    for (int r = 0; r < a->n_radii && r < GEOLOC_RENDER_MAX_RADII; r++) {
        if (!(a->radius_km[r] > 0 && a->radius_km[r] <= MAX_RADIUS_KM)) continue;
        render_circle_ring(a->lat, a->lon, a->radius_km[r], ring);
        for (int k = 0; k < RENDER_CIRCLE_POINTS; k++, (*n)++) {
            (*lon)[*n] = ring[2 * k];
            (*lat)[*n] = ring[2 * k + 1];
        }
    }
    return 0;
}

/* The shortest longitude arc holding every lon[0..n): [*west, *east]. */
static void shortest_arc(double *lon, size_t n, double *west, double *east) {
    qsort(lon, n, sizeof *lon, by_value);
    size_t gap = n - 1; /* the widest gap between neighbours, the wrap-around one first */
    double widest = lon[0] + 360 - lon[n - 1];
    for (size_t i = 0; i + 1 < n; i++)
        if (lon[i + 1] - lon[i] > widest) {
            widest = lon[i + 1] - lon[i];
            gap = i;
        }
    *west = lon[(gap + 1) % n];
    *east = gap == n - 1 ? lon[n - 1] : lon[gap] + 360;
}

static geoloc_status fit_auto(const geoloc_map_answer *a, geoloc_map_view *v, geoloc_error *err) {
    if (!a || !a->part || !a->probs || a->part->n == 0)
        return error_set(err, GEOLOC_E_ARG, "%s:%d: the automatic extent needs the answer's distribution",
                         __FILE__, __LINE__);
    double *lon = NULL, *lat = NULL;
    size_t n = 0;
    if (mass_points(a, &lon, &lat, &n) != 0) {
        free(lon);
        free(lat);
        return error_set(err, GEOLOC_E_NOMEM, "%s:%d: out of memory", __FILE__, __LINE__);
    }
    shortest_arc(lon, n, &v->west, &v->east);
    v->south = 90;
    v->north = -90;
    for (size_t i = 0; i < n; i++) {
        v->south = fmin(v->south, lat[i]);
        v->north = fmax(v->north, lat[i]);
    }
    free(lon);
    free(lat);
    double lat_pad = fmax(PAD * (v->north - v->south), (MIN_SPAN_DEG - (v->north - v->south)) / 2);
    double lon_pad = fmax(PAD * (v->east - v->west), 0);
    v->south -= lat_pad;
    v->north += lat_pad;
    v->west -= lon_pad;
    v->east += lon_pad;
    if (v->west < -180) { /* keep the window's west edge in [-180, 180) */
        v->west += 360;
        v->east += 360;
    }
    fit_aspect(v);
    if (v->east - v->west > WORLD_SHARE * 360) {
        v->west = -180;
        v->east = 180;
        v->south = -90;
        v->north = 90;
        fit_aspect(v);
    }
    return GEOLOC_OK;
}

geoloc_status geoloc_map_view_fit(const geoloc_map_answer *a, geoloc_map_extent extent, const double box[4],
                                  int width, int height, geoloc_map_view *v, geoloc_error *err) {
    if (width < MIN_PIXELS || height < MIN_PIXELS)
        return error_set(err, GEOLOC_E_ARG, "%s:%d: a map of %dx%d pixels: at least %dx%d", __FILE__, __LINE__,
                         width, height, MIN_PIXELS, MIN_PIXELS);
    *v = (geoloc_map_view){.west = -180, .east = 180, .south = -90, .north = 90, .width = width, .height = height};
    if (extent == GEOLOC_MAP_AUTO) return fit_auto(a, v, err);
    if (extent == GEOLOC_MAP_BOX) {
        double s = box[0], w = box[1], n = box[2], e = box[3];
        if (!(s >= -90 && n <= 90 && w >= -180 && w <= 180 && e >= -180 && e <= 180))
            return error_set(err, GEOLOC_E_ARG, "%s:%d: map extent %g,%g,%g,%g: latitudes must lie in [-90, 90] "
                             "and longitudes in [-180, 180]", __FILE__, __LINE__, s, w, n, e);
        if (!(s < n) || w == e)
            return error_set(err, GEOLOC_E_ARG, "%s:%d: map extent %g,%g,%g,%g is empty (SOUTH,WEST,NORTH,EAST: "
                             "SOUTH < NORTH and WEST != EAST)", __FILE__, __LINE__, s, w, n, e);
        *v = (geoloc_map_view){.west = w, .east = e < w ? e + 360 : e, .south = s, .north = n,
                               .width = width, .height = height};
    } else if (extent != GEOLOC_MAP_WORLD) {
        return error_set(err, GEOLOC_E_ARG, "%s:%d: unknown map extent %d", __FILE__, __LINE__, (int)extent);
    }
    fit_aspect(v);
    return GEOLOC_OK;
}
