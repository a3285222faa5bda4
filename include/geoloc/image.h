/* geoloc: photos in memory and their decoding (JPEG via libjpeg-turbo, PNG via
 * libpng, WebP via libwebp, HEIF/HEIC via libheif; the format is detected
 * from the bytes). */
#ifndef GEOLOC_IMAGE_H
#define GEOLOC_IMAGE_H

#include <stddef.h>
#include <stdint.h>

#include "geoloc/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Decoder warnings kept per image, and the size of each (NUL-terminated). */
#define GEOLOC_IMAGE_MAX_WARNINGS 4
#define GEOLOC_IMAGE_WARNING_SIZE 160

/* An 8-bit RGB image, rows top to bottom, pixels interleaved R,G,B. */
typedef struct geoloc_image {
    int width;
    int height;
    uint8_t *rgb;      /* width * height * 3 bytes (owned) */
    /* What the decoder reported about damaged but decodable data (corrupt
     * entropy-coded data, premature end of file, extraneous bytes, ...):
     * n_warnings counts them all, warnings[] keeps the first
     * GEOLOC_IMAGE_MAX_WARNINGS distinct texts, e.g. "JPEG: Premature end of
     * JPEG file". 0 for a clean file and for images not made by a decoder. */
    int n_warnings;
    char warnings[GEOLOC_IMAGE_MAX_WARNINGS][GEOLOC_IMAGE_WARNING_SIZE];
} geoloc_image;

/* Encoded formats recognised from their first bytes. */
typedef enum geoloc_image_format {
    GEOLOC_FORMAT_UNKNOWN = 0,
    GEOLOC_FORMAT_JPEG,
    GEOLOC_FORMAT_PNG,
    GEOLOC_FORMAT_WEBP,
    GEOLOC_FORMAT_HEIF       /* HEIF container (ftyp brand heic, heix, mif1, msf1, ...) */
} geoloc_image_format;

/* Limits and options for decoding. Zero-initialised = defaults. The limits
 * are checked from the headers, before any pixel buffer is allocated. */
typedef struct geoloc_decode_options {
    uint64_t max_pixels;     /* limit on the DECODED width x height (default 100
                                megapixels, capped at 2^30). A larger JPEG or
                                WebP is decoded at the smallest reduction (1/2,
                                1/4, 1/8; JPEG by DCT scaling, WebP by libwebp's
                                rescaler) that fits, and refused only when even
                                1/8 is over; PNG and HEIF larger than this are
                                refused (their decoders cannot scale) */
    uint64_t max_file_bytes; /* refuse larger files (default 256 MiB) */
    int min_shorter_side;    /* if > 0, JPEGs may be DCT-scaled down (1/2, 1/4,
                                1/8) as long as the shorter side stays >= this;
                                the largest such reduction is used (max_pixels
                                wins when both cannot be met) */
    int ignore_orientation;  /* 1: keep the stored pixel order (no EXIF rotation) */
    int strict;              /* 1: any decoder warning (damaged data, see
                                geoloc_image.warnings) is an error (E_PARSE) */
} geoloc_decode_options;

/* Format of an encoded image from its leading bytes. */
geoloc_image_format geoloc_image_detect(const uint8_t *data, size_t size);

/* Decodes an encoded image to RGB (grey, palette, 16-bit, alpha and CMYK are
 * converted; alpha is dropped), applying the EXIF orientation unless told
 * not to (orientations 5-8 swap width and height). HEIF images come out as
 * libheif presents them, with the container's own rotation and mirroring
 * (irot/imir) applied whatever ignore_orientation says, and their EXIF
 * orientation never applied on top (in HEIF it is informative only).
 * `name` is used in messages. Damaged data the decoder can still render (a truncated or
 * corrupt JPEG, as djpeg renders it) gives the image with out->warnings,
 * unless opt->strict. Errors: E_PARSE (unknown format, unreadable header,
 * undecodable data, any warning when strict), E_RANGE (over a limit),
 * E_NOMEM; *out is empty on failure. */
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
