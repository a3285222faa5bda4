/* Generated test images: in-memory JPEG (libjpeg), PNG (libpng), WebP
 * (libwebp) and HEIC (libheif) encoders, a small EXIF (TIFF) writer for
 * crafted metadata, and ways to put that EXIF into each container. Used by test_decode,
 * test_exif and tools/gen_image_seeds.c. Functions return 0 or -1. */
#ifndef GEOLOC_TEST_IMAGE_FIXTURES_H
#define GEOLOC_TEST_IMAGE_FIXTURES_H

#include <stddef.h>
#include <stdint.h>

/* Fills a smooth w x h RGB gradient (what lossy codecs keep well). */
void fx_smooth(uint8_t *rgb, int w, int h);

/* A growable byte buffer (zero-initialise; release with fx_free). */
typedef struct fx_buf {
    uint8_t *data;
    size_t size, cap;
} fx_buf;

/* Appends n bytes. */
int fx_append(fx_buf *b, const void *p, size_t n);
/* Releases the bytes. */
void fx_free(fx_buf *b);
/* Writes the buffer to a file. */
int fx_write_file(const char *path, const void *data, size_t size);

/* JPEG encoding options (zero = baseline, quality 90, 4:2:0 for colour). */
typedef struct fx_jpeg_opts {
    int components;     /* 1 grey, 3 RGB (default), 4 CMYK (as given: Adobe-inverted
                           values are the caller's business) */
    int quality;        /* 1-100, 0 = 90 */
    int progressive;
    int ycck;           /* components 4: store as YCCK instead of CMYK */
    int full_chroma;    /* 4:4:4 instead of 4:2:0 */
    int restart_rows;   /* restart interval in MCU rows (0 none) */
    int no_adobe;       /* components 4: no Adobe marker (plain, non-inverted CMYK) */
} fx_jpeg_opts;

/* Encodes w x h pixels of o->components bytes each. */
int fx_jpeg(const uint8_t *pixels, int w, int h, const fx_jpeg_opts *o, fx_buf *out);

/* PNG encoding options; rows are given in PNG's own sample layout
 * (16-bit samples big-endian), w * channels * depth / 8 bytes each. */
typedef struct fx_png_opts {
    int color_type;           /* PNG_COLOR_TYPE_* */
    int bit_depth;            /* 1, 2, 4, 8, 16 */
    int interlace;            /* 1: Adam7 */
    const uint8_t *palette;   /* n_palette RGB triples */
    int n_palette;
    const uint8_t *trns;      /* palette alphas */
    int n_trns;
    const uint8_t *exif;      /* eXIf chunk (bare TIFF), NULL for none */
    size_t exif_size;
} fx_png_opts;

/* Encodes a PNG. */
int fx_png(const uint8_t *rows, int w, int h, const fx_png_opts *o, fx_buf *out);

/* Encodes a WebP: lossless or lossy (quality); channels 3 (RGB) or 4 (RGBA).
 * With exif, the result is an extended (VP8X) file with an EXIF chunk. */
int fx_webp(const uint8_t *pixels, int w, int h, int channels, int lossless, float quality,
            const uint8_t *exif, size_t exif_size, fx_buf *out);

/* Crafted EXIF contents. Rational pairs are {numerator, denominator}. */
typedef struct fx_exif {
    int big_endian;
    int orientation;             /* 0: no Orientation tag */
    int gps;                     /* 1: write a GPS IFD with the fields below */
    int lat_n, lng_n;            /* components of GPSLatitude/Longitude (0: tag absent) */
    uint32_t lat[3][2], lng[3][2];
    char lat_ref, lng_ref;       /* 0: tag absent */
    int has_alt;
    uint32_t alt[2];
    int alt_ref;                 /* -1: tag absent */
    const char *gps_date;        /* "YYYY:MM:DD" or NULL */
    int has_time;
    uint32_t time[3][2];
    const char *datetime_original; /* in the EXIF IFD, or NULL */
} fx_exif;

/* Writes the TIFF structure (what PNG eXIf / WebP EXIF hold) into an empty out. */
int fx_exif_tiff(const fx_exif *e, fx_buf *out);

/* A copy of a JPEG with an APP1 "Exif\0\0" + tiff segment right after SOI. */
int fx_jpeg_with_exif(const uint8_t *jpeg, size_t jpeg_size, const uint8_t *tiff,
                      size_t tiff_size, fx_buf *out);

/* Deterministic test pattern: w x h RGB, distinct corners and gradients. */
void fx_pattern(uint8_t *rgb, int w, int h);

/* 1 when libheif can encode HEVC (Debian's libheif1 has the x265 plugin). */
int fx_have_heif_encoder(void);
/* Encodes w x h RGB pixels as HEIC (libheif's HEVC encoder, quality 1-100),
 * with `orientation` 2-8 stored as the container's irot/imir (what a
 * viewer applies; 0 or 1 for none) and an Exif item holding the TIFF
 * structure `exif` (NULL for none). -1 on failure (no encoder). */
int fx_heif(const uint8_t *rgb, int w, int h, int quality, int orientation, const uint8_t *exif,
            size_t exif_size, fx_buf *out);

/* 1 when libjpeg-turbo's djpeg (Debian libjpeg-turbo-progs) can be run. */
int fx_have_djpeg(void);
/* djpeg -scale `scale` of a file as RGB (grey replicated), malloc'd; NULL on failure. */
uint8_t *fx_djpeg(const char *path, const char *scale, int *w, int *h);

#endif
