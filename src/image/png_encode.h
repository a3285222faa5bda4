/* 8-bit RGB images written as PNG files with libpng, through the atomic
 * writer (whole or not at all). Internal API. */
#ifndef GEOLOC_IMAGE_PNG_ENCODE_H
#define GEOLOC_IMAGE_PNG_ENCODE_H

#include "geoloc/image.h"

/* Writes img to path as an 8-bit RGB PNG (temporary file, fsync, rename;
 * E_BUSY while another process writes it); `description`, when not NULL, goes
 * into a tEXt "Description" chunk. Nothing is left at path on failure. */
geoloc_status image_write_png(const geoloc_image *img, const char *path, const char *description,
                            geoloc_error *err);

#endif
