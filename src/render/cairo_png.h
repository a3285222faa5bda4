/* cairo image surfaces shared by the probability map and the occlusion
 * overlay: made from 8-bit RGB pixels, written as PNG files. Internal API. */
#ifndef GEOLOC_RENDER_CAIRO_PNG_H
#define GEOLOC_RENDER_CAIRO_PNG_H

#include <cairo.h>

#include "core/error.h"
#include "geoloc/image.h"

/* The font of the drawings' text (cairo's toy text API, found by fontconfig). */
#define RENDER_FONT "DejaVu Sans"

/* A new RGB24 surface holding img's pixels (NULL when out of memory);
 * the caller destroys it. */
cairo_surface_t *render_surface_from_image(const geoloc_image *img);

/* Writes surface to path as a PNG through the atomic writer (temporary
 * file, fsync, rename; E_BUSY while another process writes it): E_NOMEM if
 * the surface's drawing failed, E_IO naming path if the file cannot be
 * written; nothing is left at path on failure. */
geoloc_status render_surface_write_png(cairo_surface_t *surface, const char *path, geoloc_error *err);

#endif
