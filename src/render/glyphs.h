/* A 3x5-pixel bitmap font (digits, capital letters, ". - + = : , ( ) _ /"
 * and space; lower-case letters are drawn as capitals), drawn scaled into
 * 8-bit RGB images. Internal API. */
#ifndef GEOLOC_RENDER_GLYPHS_H
#define GEOLOC_RENDER_GLYPHS_H

#include <stdint.h>

#include "geoloc/image.h"

/* Width in pixels of text drawn at `scale` (4 * scale per character, spacing included). */
int glyphs_width(const char *text, int scale);

/* Draws text with its top-left corner at (x, y), each font pixel a scale x
 * scale square of colour rgb; pixels outside img and characters the font
 * lacks are skipped (a blank of their width). */
void glyphs_draw(geoloc_image *img, int x, int y, int scale, const char *text, const uint8_t rgb[3]);

#endif
