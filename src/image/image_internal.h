/* Internal API of the photo decoders and the metadata reader (src/image/):
 * container walking (probe.c), the per-format decoders, the EXIF
 * orientation transform and the pixel limits shared by all of them. */
#ifndef GEOLOC_IMAGE_INTERNAL_H
#define GEOLOC_IMAGE_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "geoloc/image.h"

/* Defaults of geoloc_decode_options (a zero field means "use these"). */
#define IMAGE_DEFAULT_MAX_PIXELS (100ull * 1000 * 1000)
#define IMAGE_DEFAULT_MAX_FILE_BYTES (256ull << 20)
/* Hard ceiling whatever the options say: keeps width * height * 3 and the
 * decoders' int sizes far from overflow. */
#define IMAGE_HARD_MAX_PIXELS (1ull << 30)

/* ---- probe.c: what the container says, without decoding pixels ---- */

/* The header facts of an encoded photo. Pointers point into the input. */
typedef struct image_probe_info {
    geoloc_image_format format;
    int width, height;        /* stored size (JPEG SOF, PNG IHDR, WebP VP8/VP8L/VP8X) */
    const uint8_t *exif;      /* EXIF payload (TIFF header onwards, maybe with a
                                 leading "Exif\0\0"), NULL when absent */
    size_t exif_size;         /* bytes available from exif (clipped to the input) */
    uint8_t *owned;           /* HEIF: the EXIF block as libheif copied it out
                                 (exif points into it); see image_probe_release */
} image_probe_info;

/* Reads the container structure of a JPEG, PNG, WebP or HEIF: stored size
 * and where the EXIF block is. Fails (E_PARSE, message naming `name`) when
 * the format is unknown or the size cannot be found. Release the result
 * with image_probe_release (HEIF's EXIF block is a copy). */
geoloc_status image_probe(const uint8_t *data, size_t size, const char *name,
                          image_probe_info *info, geoloc_error *err);

/* Frees what image_probe allocated (nothing for JPEG, PNG and WebP). */
void image_probe_release(image_probe_info *info);

/* JPEG marker segments before the first SOS, in file order. */
typedef struct jpeg_walker {
    const uint8_t *data;
    size_t size, pos;
} jpeg_walker;

/* Starts walking a JPEG (data must begin with SOI). */
void jpeg_walk_begin(jpeg_walker *w, const uint8_t *data, size_t size);

/* Next marker segment: 1 with its marker byte (0xE1 for APP1, ...) and
 * payload (after the length field; *truncated = 1 when the segment runs
 * past the input and the payload was clipped), 0 at SOS/EOI/end of input. */
int jpeg_walk_next(jpeg_walker *w, int *marker, const uint8_t **payload, size_t *len,
                   int *truncated);

/* ---- exif.c / flir.c ---- */

/* EXIF orientation (1-8) of an EXIF payload as image_probe found it; 1 when
 * absent or invalid. */
int image_exif_orientation(const uint8_t *exif, size_t size);

/* GPS position of a FLIR thermal camera JPEG (APP1 "FLIR" segments, FFF
 * GPS record), as exiftool reports it (see flir.c). Returns 1 and fills
 * lat/lng (and alt when *has_alt) when the record is present and valid. */
int image_flir_gps(const uint8_t *data, size_t size, double *lat, double *lng, double *alt,
                   int *has_alt);

/* ---- pixels.c: helpers shared by the decoders ---- */

/* Fails with E_RANGE (message naming `name`, the size and the limit) when
 * width x height is zero or exceeds opt->max_pixels; checked before any
 * pixel buffer is allocated. opt has its defaults resolved. */
geoloc_status image_check_pixels(uint64_t width, uint64_t height, const char *name,
                                 const geoloc_decode_options *opt, geoloc_error *err);

/* Allocates the w x h x 3 bytes of a decoded image (malloc; NULL on
 * failure). Every decoder and the orientation transform use it. */
uint8_t *image_alloc_pixels(size_t width, size_t height);

/* Records a decoder warning on img (printf-style text, cut to
 * GEOLOC_IMAGE_WARNING_SIZE): n_warnings counts every call, warnings[]
 * keeps the first GEOLOC_IMAGE_MAX_WARNINGS distinct texts. */
void image_add_warning(geoloc_image *img, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Test hook for the fuzz targets, not for production: when 0-255, every
 * buffer from image_alloc_pixels is first filled with that byte, so that
 * decoding the same input with two fill bytes exposes pixels a decoder
 * never wrote. -1 (the default) = off. Not thread-safe to change. */
extern int image_debug_fill;

/* Per-format decoders: stored pixel order (no orientation), 8-bit RGB,
 * opt resolved. On failure *out is left empty. */
geoloc_status image_decode_jpeg(const uint8_t *data, size_t size, const char *name,
                                const geoloc_decode_options *opt, geoloc_image *out,
                                geoloc_error *err);
geoloc_status image_decode_png(const uint8_t *data, size_t size, const char *name,
                               const geoloc_decode_options *opt, geoloc_image *out,
                               geoloc_error *err);
geoloc_status image_decode_webp(const uint8_t *data, size_t size, const char *name,
                                const geoloc_decode_options *opt, geoloc_image *out,
                                geoloc_error *err);

/* ---- heif.c (libheif) ---- */

/* HEIF's image_probe: the primary image's size as libheif presents it
 * (after the container's rotation/mirroring and crop) and a copy of its
 * Exif item (info->owned). */
geoloc_status image_heif_probe(const uint8_t *data, size_t size, const char *name,
                               image_probe_info *info, geoloc_error *err);

/* HEIF's decoder: the primary image, 8-bit RGB, with the container's
 * rotation/mirroring applied (HEIF's orientation; EXIF's is not). */
geoloc_status image_decode_heif(const uint8_t *data, size_t size, const char *name,
                                const geoloc_decode_options *opt, geoloc_image *out,
                                geoloc_error *err);

/* ---- orientation.c ---- */

/* Applies EXIF orientation 2-8 to img (width/height swap for 5-8); 1 and
 * invalid values leave it unchanged. Fails only on allocation. */
geoloc_status image_apply_orientation(geoloc_image *img, int orientation, const char *name,
                                      geoloc_error *err);

#endif
