/* Shared body of the decoder fuzz targets (fuzz_decode_jpeg/png/webp/heif.c).
 *
 * One input goes through geoloc_photo_meta_read and geoloc_image_decode
 * (max_pixels 4M; full size, DCT-scaled, and without EXIF rotation).
 * Checked:
 * - errors are E_PARSE / E_RANGE / E_NOMEM with a message starting with
 *   the name, and leave the image empty;
 * - on success width, height > 0, width * height <= max_pixels, and every
 *   output byte was written: decoding again with the pixel buffers
 *   pre-filled with another byte (image_debug_fill) gives the same bytes;
 * - a decoded image's size agrees with the metadata reader: stored size
 *   (swapped for orientation 5-8), or for JPEG (and WebP) the reduced
 *   size the max_pixels (and for JPEG min_shorter_side) rules give; rotation keeps the pixels (a permutation
 *   of the unrotated decode, checked on a checksum of the pixel multiset);
 * - metadata: orientation 1-8, GPS finite within +-90/+-180, strings
 *   NUL-terminated.
 * Inputs are copied to an exact-size buffer so that ASan sees overreads. */
#ifndef GEOLOC_FUZZ_IMAGE_COMMON_H
#define GEOLOC_FUZZ_IMAGE_COMMON_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"
#include "geoloc/exif.h"
#include "geoloc/image.h"
#include "image/image_internal.h"

#define FUZZ_MAX_PIXELS (4u << 20)


static geoloc_status fuzz_decode(const uint8_t *buf, size_t size, const char *name,
                                 const geoloc_decode_options *o, geoloc_image *img) {
    geoloc_error err;
    memset(&err, 0, sizeof err);
    geoloc_status st = geoloc_image_decode(buf, size, name, o, img, &err);
    if (st != GEOLOC_OK) {
        REQUIRE(st == GEOLOC_E_PARSE || st == GEOLOC_E_RANGE || st == GEOLOC_E_NOMEM);
        REQUIRE(err.status == st);
        REQUIRE(strncmp(err.message, name, strlen(name)) == 0);
        REQUIRE(img->rgb == NULL && img->width == 0 && img->height == 0);
        return st;
    }
    REQUIRE(img->rgb != NULL && img->width > 0 && img->height > 0);
    REQUIRE((uint64_t)img->width * (uint64_t)img->height <= o->max_pixels);
    return st;
}

/* The JPEG DCT scaling (or WebP rescaling) denominator geoloc_image_decode
 * must choose: the smallest of 1, 2, 4, 8 whose size (sides rounded up)
 * fits max_pixels (0: none fits), raised while the shorter side stays
 * >= min_side. */
static int expected_denominator(int w, int h, uint64_t max_pixels, int min_side) {
    int d = 1;
    while (d <= 8 && (uint64_t)((w + d - 1) / d) * (uint64_t)((h + d - 1) / d) > max_pixels) d *= 2;
    if (d > 8) return 0;
    int shorter = w < h ? w : h;
    for (int k = 8; min_side > 0 && k > d; k /= 2)
        if ((shorter + k - 1) / k >= min_side) return k;
    return d;
}

/* Order-independent checksum of the pixels (a rotation permutes them). */
static uint64_t pixel_multiset(const geoloc_image *img) {
    uint64_t sum = 0, sq = 0;
    size_t n = (size_t)img->width * img->height;
    for (size_t k = 0; k < n; k++) {
        const uint8_t *p = img->rgb + 3 * k;
        uint64_t v = (uint64_t)p[0] << 16 | (uint64_t)p[1] << 8 | p[2];
        sum += v;
        sq += v * v * 0x9E3779B97F4A7C15ull;
    }
    return sum ^ (sq << 1);
}

static void fuzz_image_one(const uint8_t *data, size_t size, const char *name) {
    uint8_t *buf = malloc(size ? size : 1);
    if (!buf) return;
    if (size) memcpy(buf, data, size);

    geoloc_photo_meta m;
    geoloc_error err;
    geoloc_status mst = geoloc_photo_meta_read(buf, size, name, &m, &err);
    if (mst == GEOLOC_OK) {
        REQUIRE(m.orientation >= 1 && m.orientation <= 8);
        REQUIRE(m.width > 0 && m.height > 0);
        if (m.has_gps)
            REQUIRE(isfinite(m.lat) && isfinite(m.lng) && fabs(m.lat) <= 90 && fabs(m.lng) <= 180);
        if (m.has_altitude) REQUIRE(isfinite(m.altitude_m));
        REQUIRE(memchr(m.gps_time, '\0', sizeof m.gps_time) &&
                memchr(m.datetime, '\0', sizeof m.datetime));
        if (m.has_gps_time) REQUIRE(strlen(m.gps_time) == 20);
        if (m.has_time) REQUIRE(m.time >= -62135596800LL && m.time < 253402300800LL); /* years 1-9999 */
    } else {
        REQUIRE(mst == GEOLOC_E_PARSE && strncmp(err.message, name, strlen(name)) == 0);
    }

    geoloc_decode_options o;
    memset(&o, 0, sizeof o);
    o.max_pixels = FUZZ_MAX_PIXELS;
    geoloc_image img, again, raw;

    /* full size, twice with different fill bytes */
    image_debug_fill = 0x00;
    geoloc_status st = fuzz_decode(buf, size, name, &o, &img);
    image_debug_fill = 0xFF;
    geoloc_status st2 = fuzz_decode(buf, size, name, &o, &again);
    image_debug_fill = -1;
    REQUIRE(st == st2);
    if (st == GEOLOC_OK) {
        REQUIRE(img.width == again.width && img.height == again.height);
        REQUIRE(memcmp(img.rgb, again.rgb, (size_t)img.width * img.height * 3) == 0);
        REQUIRE(mst == GEOLOC_OK);
        int d = 1, sw = m.width, sh = m.height; /* the decoded stored size */
        geoloc_image_format f = geoloc_image_detect(buf, size);
        if (f == GEOLOC_FORMAT_JPEG || f == GEOLOC_FORMAT_WEBP) {
            d = expected_denominator(m.width, m.height, o.max_pixels, 0);
            REQUIRE(d > 0);
            sw = (m.width + d - 1) / d;
            sh = (m.height + d - 1) / d;
        }
        int swap = m.orientation >= 5;
        REQUIRE(img.width == (swap ? sh : sw));
        REQUIRE(img.height == (swap ? sw : sh));
        /* without rotation: the stored size, the same pixels */
        o.ignore_orientation = 1;
        REQUIRE(fuzz_decode(buf, size, name, &o, &raw) == GEOLOC_OK);
        REQUIRE(raw.width == sw && raw.height == sh);
        REQUIRE(pixel_multiset(&raw) == pixel_multiset(&img));
        if (m.orientation == 1)
            REQUIRE(!memcmp(raw.rgb, img.rgb, (size_t)img.width * img.height * 3));
        geoloc_image_free(&raw);
        o.ignore_orientation = 0;
    }
    geoloc_image_free(&img);
    geoloc_image_free(&again);

    /* DCT scaling (JPEG): the rule's size, or a failure like the full decode */
    if (geoloc_image_detect(buf, size) == GEOLOC_FORMAT_JPEG && mst == GEOLOC_OK) {
        o.min_shorter_side = 1 + (int)(size % 97);
        o.ignore_orientation = 1;
        geoloc_status s3 = fuzz_decode(buf, size, name, &o, &img);
        if (s3 == GEOLOC_OK) {
            int d = expected_denominator(m.width, m.height, o.max_pixels, o.min_shorter_side);
            REQUIRE(d > 0);
            REQUIRE(img.width == (m.width + d - 1) / d && img.height == (m.height + d - 1) / d);
        }
        geoloc_image_free(&img);
    }
    free(buf);
}

#endif
