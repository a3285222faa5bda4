/* PNG decoding with libpng: every colour type and bit depth to 8-bit RGB
 * through libpng's transforms (palette and low-bit grey expanded, 16-bit
 * scaled with rounding, grey replicated, alpha and tRNS transparency
 * dropped: the stored colour is kept, as PIL's convert("RGB") does; no
 * gamma correction), interlaced images through libpng's pass handling.
 * libpng reports errors through a callback that longjmps back here, and
 * warnings (e.g. a bad ancillary chunk it skips) are recorded on the image; the
 * input is read from memory with bounds checks, so a truncated file is an
 * error ("truncated") rather than a read past the end, also when only
 * the final IEND chunk is missing (the file is read to IEND, as for JPEG
 * to EOI). The pixel limit is checked after the header (png_read_info)
 * and before any pixel buffer exists; libpng cannot decode at a reduced
 * scale, so a PNG over max_pixels is refused. */
#include <png.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "image/image_internal.h"

/* Cap on ancillary chunks libpng keeps in memory (iCCP, text, ...). */
#define PNG_CHUNK_MALLOC_MAX (16u << 20)

typedef struct {
    const uint8_t *data;
    size_t size, pos;
    char message[256];
    geoloc_image *out; /* receives the warnings */
} png_ctx;

static void on_read(png_structp png, png_bytep out, size_t n) {
    png_ctx *c = png_get_io_ptr(png);
    if (n > c->size - c->pos) png_error(png, "unexpected end of file (truncated)");
    memcpy(out, c->data + c->pos, n);
    c->pos += n;
}

static void on_error(png_structp png, png_const_charp msg) {
    png_ctx *c = png_get_error_ptr(png);
    snprintf(c->message, sizeof c->message, "%s", msg ? msg : "error");
    png_longjmp(png, 1);
}

static void on_warning(png_structp png, png_const_charp msg) {
    png_ctx *c = png_get_error_ptr(png);
    image_add_warning(c->out, "PNG: %s", msg ? msg : "warning");
}

geoloc_status image_decode_png(const uint8_t *data, size_t size, const char *name,
                               const geoloc_decode_options *opt, geoloc_image *out,
                               geoloc_error *err) {
    png_ctx ctx = {data, size, 0, "", out};
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &ctx, on_error, on_warning);
    if (!png) return error_set(err, GEOLOC_E_NOMEM, "%s: PNG: out of memory", name);
    png_infop info = png_create_info_struct(png);
    if (!info) {
        png_destroy_read_struct(&png, NULL, NULL);
        return error_set(err, GEOLOC_E_NOMEM, "%s: PNG: out of memory", name);
    }
    uint8_t *volatile pixels = NULL;
    png_bytep *volatile rows = NULL;
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_read_struct(&png, &info, NULL);
        free(pixels);
        free(rows);
        return error_set(err, GEOLOC_E_PARSE, "%s: PNG: %s", name, ctx.message);
    }
    png_set_read_fn(png, &ctx, on_read);
    png_set_chunk_malloc_max(png, PNG_CHUNK_MALLOC_MAX);
    png_read_info(png, info);

    png_uint_32 w, h;
    int depth, color, interlace;
    png_get_IHDR(png, info, &w, &h, &depth, &color, &interlace, NULL, NULL);
    geoloc_status st = image_check_pixels(w, h, name, opt, err);
    if (st != GEOLOC_OK) {
        png_destroy_read_struct(&png, &info, NULL);
        return st;
    }
    png_set_expand(png);          /* palette -> RGB, grey 1/2/4 -> 8 bits, tRNS -> alpha */
    png_set_scale_16(png);        /* 16 -> 8 bits, v * 255 / 65535 rounded */
    png_set_strip_alpha(png);
    png_set_gray_to_rgb(png);
    (void)png_set_interlace_handling(png);
    png_read_update_info(png, info);
    if (png_get_channels(png, info) != 3 || png_get_bit_depth(png, info) != 8 ||
        png_get_rowbytes(png, info) != (size_t)w * 3) {
        png_destroy_read_struct(&png, &info, NULL);
        return error_set(err, GEOLOC_E_PARSE, "%s: PNG: unsupported pixel layout", name);
    }
    pixels = image_alloc_pixels(w, h);
    rows = malloc((size_t)h * sizeof *rows);
    if (!pixels || !rows) {
        png_destroy_read_struct(&png, &info, NULL);
        free(pixels);
        free(rows);
        return error_set(err, GEOLOC_E_NOMEM, "%s: out of memory for %ux%u pixels", name,
                         (unsigned)w, (unsigned)h);
    }
    for (png_uint_32 y = 0; y < h; y++) rows[y] = pixels + (size_t)y * w * 3;
    png_read_image(png, rows);
    png_read_end(png, NULL); /* the rest up to IEND: a cut file is an error */
    png_destroy_read_struct(&png, &info, NULL);
    free(rows);
    out->width = (int)w;
    out->height = (int)h;
    out->rgb = pixels;
    return GEOLOC_OK;
}
