/* PNG encoding with libpng into an atomic file. libpng reports errors
 * through a callback that longjmps back here; the temporary file is then
 * removed and the target left as it was. */
#include <png.h>
#include <stdio.h>
#include <string.h>

#include "core/error.h"
#include "image/png_encode.h"
#include "io/atomic_file.h"

typedef struct {
    char message[256];
} encode_ctx;

static void on_error(png_structp png, png_const_charp msg) {
    encode_ctx *c = png_get_error_ptr(png);
    snprintf(c->message, sizeof c->message, "%s", msg ? msg : "error");
    png_longjmp(png, 1);
}

static void on_warning(png_structp png, png_const_charp msg) {
    (void)png;
    (void)msg; /* the encoder's warnings concern ancillary data we do not write */
}

/* Encodes img into fp; 0, or -1 with ctx->message set. */
static int encode(FILE *fp, const geoloc_image *img, const char *description, encode_ctx *ctx) {
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, ctx, on_error, on_warning);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    if (!info) {
        png_destroy_write_struct(&png, NULL);
        snprintf(ctx->message, sizeof ctx->message, "out of memory");
        return -1;
    }
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_write_struct(&png, &info);
        return -1;
    }
    png_init_io(png, fp);
    png_set_IHDR(png, info, (png_uint_32)img->width, (png_uint_32)img->height, 8, PNG_COLOR_TYPE_RGB,
                 PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_text text = {.compression = PNG_TEXT_COMPRESSION_NONE, .key = "Description",
                     .text = (char *)description};
    if (description) png_set_text(png, info, &text, 1);
    png_write_info(png, info);
    for (int y = 0; y < img->height; y++)
        png_write_row(png, img->rgb + (size_t)y * (size_t)img->width * 3);
    png_write_end(png, info);
    png_destroy_write_struct(&png, &info);
    return 0;
}

geoloc_status image_write_png(const geoloc_image *img, const char *path, const char *description,
                            geoloc_error *err) {
    if (!img || !img->rgb || img->width < 1 || img->height < 1)
        return error_set(err, GEOLOC_E_ARG, "%s: no pixels to write", path);
    atomic_file f;
    geoloc_status s = atomic_file_open(&f, path, err);
    if (s != GEOLOC_OK) return s;
    encode_ctx ctx = {""};
    if (encode(f.fp, img, description, &ctx) != 0) {
        atomic_file_abort(&f);
        return error_set(err, GEOLOC_E_IO, "%s: PNG: %s", path, ctx.message);
    }
    return atomic_file_commit(&f, err);
}
