/* geoloc: photos in memory and their decoding (JPEG via libjpeg-turbo, PNG via
 * libpng, WebP via libwebp; the format is detected from the bytes). */
#ifndef GEOLOC_IMAGE_H
#define GEOLOC_IMAGE_H

#include <stddef.h>
#include <stdint.h>

#include "geoloc/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* An 8-bit RGB image, rows top to bottom, pixels interleaved R,G,B. */
typedef struct geoloc_image {
    int width;
    int height;
    uint8_t *rgb;      /* width * height * 3 bytes (owned) */
} geoloc_image;

/* Encoded formats recognised from their first bytes. */
typedef enum geoloc_image_format {
    GEOLOC_FORMAT_UNKNOWN = 0,
    GEOLOC_FORMAT_JPEG,
    GEOLOC_FORMAT_PNG,
    GEOLOC_FORMAT_WEBP
} geoloc_image_format;

/* Limits and options for decoding. Zero-initialised = defaults. The limits
 * are checked from the headers, before any pixel buffer is allocated. */
typedef struct geoloc_decode_options {
    uint64_t max_pixels;     /* refuse larger images (default 100 megapixels;
                                stored width x height; capped at 2^30) */
    uint64_t max_file_bytes; /* refuse larger files (default 256 MiB) */
    int min_shorter_side;    /* if > 0, JPEGs may be DCT-scaled down (1/2, 1/4,
                                1/8) as long as the shorter side stays >= this;
                                the largest such reduction is used */
    int ignore_orientation;  /* 1: keep the stored pixel order (no EXIF rotation) */
} geoloc_decode_options;

/* Format of an encoded image from its leading bytes. */
geoloc_image_format geoloc_image_detect(const uint8_t *data, size_t size);

/* Decodes an encoded image to RGB (grey, palette, 16-bit, alpha and CMYK are
 * converted; alpha is dropped), applying the EXIF orientation unless told
 * not to (orientations 5-8 swap width and height). `name` is used in
 * messages. Errors: E_PARSE (unknown format, corrupt or truncated data),
 * E_RANGE (over a limit), E_NOMEM; *out is empty on failure. */
geoloc_status geoloc_image_decode(const uint8_t *data, size_t size, const char *name,
                                  const geoloc_decode_options *opt, geoloc_image *out,
                                  geoloc_error *err);

/* Reads and decodes a file (E_IO when it cannot be read; messages name the path). */
geoloc_status geoloc_image_load(const char *path, const geoloc_decode_options *opt,
                                geoloc_image *out, geoloc_error *err);

/* Releases the pixels of an image (the struct itself is the caller's). */
void geoloc_image_free(geoloc_image *img);

#ifdef __cplusplus
}
#endif
#endif
