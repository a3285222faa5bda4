/* WebP decoding with libwebp (lossy VP8, lossless VP8L, extended VP8X
 * still images; alpha dropped). The canvas size is read with WebPGetInfo;
 * like a JPEG, a WebP over max_pixels is decoded reduced by the smallest of
 * 1/2, 1/4, 1/8 (sides rounded up) that fits, through libwebp's own
 * rescaler (decoder option use_scaling, an area-averaging filter), and
 * refused only when even 1/8 is over; the limit is checked before the
 * output buffer is allocated, and libwebp then decodes straight into it.
 * Animated WebPs (which need libwebpdemux) are refused with a clear
 * message. */
#include <stdlib.h>

#include <webp/decode.h>

#include "core/error.h"
#include "image/image_internal.h"

static const char *status_text(VP8StatusCode s) {
    switch (s) {
    case VP8_STATUS_OK: return "ok";
    case VP8_STATUS_OUT_OF_MEMORY: return "out of memory";
    case VP8_STATUS_INVALID_PARAM: return "invalid parameter";
    case VP8_STATUS_BITSTREAM_ERROR: return "corrupt bitstream";
    case VP8_STATUS_UNSUPPORTED_FEATURE: return "unsupported feature";
    case VP8_STATUS_SUSPENDED: return "suspended";
    case VP8_STATUS_USER_ABORT: return "aborted";
    case VP8_STATUS_NOT_ENOUGH_DATA: return "unexpected end of file (truncated)";
    }
    return "unknown error";
}

geoloc_status image_decode_webp(const uint8_t *data, size_t size, const char *name,
                                const geoloc_decode_options *opt, geoloc_image *out,
                                geoloc_error *err) {
    int w = 0, h = 0;
    if (!WebPGetInfo(data, size, &w, &h))
        return error_set(err, GEOLOC_E_PARSE, "%s: WebP: invalid or truncated header", name);
    int d = 1; /* reduction that brings the decoded size within max_pixels */
    while (d <= 8 && (uint64_t)((w + d - 1) / d) * (uint64_t)((h + d - 1) / d) > opt->max_pixels)
        d *= 2;
    if (d > 8)
        return error_set(err, GEOLOC_E_RANGE,
                         "%s: image is %dx%d pixels, over the limit of %llu pixels (decode "
                         "option max_pixels) even decoded at 1/8 scale",
                         name, w, h, (unsigned long long)opt->max_pixels);
    int ow = (w + d - 1) / d, oh = (h + d - 1) / d;
    geoloc_status st = image_check_pixels((uint64_t)ow, (uint64_t)oh, name, opt, err);
    if (st != GEOLOC_OK) return st;

    WebPDecoderConfig config;
    if (!WebPInitDecoderConfig(&config))
        return error_set(err, GEOLOC_E_ARG, "%s: WebP: library version mismatch", name);
    VP8StatusCode s = WebPGetFeatures(data, size, &config.input);
    if (s != VP8_STATUS_OK)
        return error_set(err, GEOLOC_E_PARSE, "%s: WebP: %s", name, status_text(s));
    if (config.input.has_animation)
        return error_set(err, GEOLOC_E_PARSE, "%s: WebP: animated images are not supported", name);
    if (config.input.width != w || config.input.height != h)
        return error_set(err, GEOLOC_E_PARSE, "%s: WebP: inconsistent size", name);

    size_t stride = (size_t)ow * 3, bytes = stride * (size_t)oh;
    uint8_t *pixels = image_alloc_pixels((size_t)ow, (size_t)oh);
    if (!pixels)
        return error_set(err, GEOLOC_E_NOMEM, "%s: out of memory for %dx%d pixels", name, ow, oh);
    if (d > 1) {
        config.options.use_scaling = 1;
        config.options.scaled_width = ow;
        config.options.scaled_height = oh;
    }
    config.output.colorspace = MODE_RGB;
    config.output.is_external_memory = 1;
    config.output.u.RGBA.rgba = pixels;
    config.output.u.RGBA.stride = (int)stride;
    config.output.u.RGBA.size = bytes;
    s = WebPDecode(data, size, &config);
    WebPFreeDecBuffer(&config.output);
    if (s != VP8_STATUS_OK) {
        free(pixels);
        return error_set(err, s == VP8_STATUS_OUT_OF_MEMORY ? GEOLOC_E_NOMEM : GEOLOC_E_PARSE,
                         "%s: WebP: %s", name, status_text(s));
    }
    out->width = ow;
    out->height = oh;
    out->rgb = pixels;
    return GEOLOC_OK;
}
