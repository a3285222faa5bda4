/* cairo image surfaces in and out: from 8-bit RGB images (cairo's RGB24 is
 * a native-endian 32-bit xRGB word per pixel, rows `stride` bytes apart) and
 * to PNG files with cairo's encoder through the atomic writer. */
#include <stdint.h>
#include <stdio.h>

#include "io/atomic_file.h"
#include "render/cairo_png.h"

cairo_surface_t *render_surface_from_image(const geoloc_image *img) {
    cairo_surface_t *s = cairo_image_surface_create(CAIRO_FORMAT_RGB24, img->width, img->height);
    if (cairo_surface_status(s) != CAIRO_STATUS_SUCCESS) {
        cairo_surface_destroy(s);
        return NULL;
    }
    cairo_surface_flush(s);
    unsigned char *data = cairo_image_surface_get_data(s);
    int stride = cairo_image_surface_get_stride(s);
    for (int y = 0; y < img->height; y++) {
        uint32_t *row = (uint32_t *)(data + (size_t)y * (size_t)stride);
        const uint8_t *in = img->rgb + (size_t)y * (size_t)img->width * 3;
        for (int x = 0; x < img->width; x++)
            row[x] = (uint32_t)in[3 * x] << 16 | (uint32_t)in[3 * x + 1] << 8 | in[3 * x + 2];
    }
    cairo_surface_mark_dirty(s);
    return s;
}

static cairo_status_t write_to_file(void *closure, const unsigned char *data, unsigned int length) {
    return fwrite(data, 1, length, closure) == length ? CAIRO_STATUS_SUCCESS : CAIRO_STATUS_WRITE_ERROR;
}

geoloc_status render_surface_write_png(cairo_surface_t *surface, const char *path, geoloc_error *err) {
    cairo_surface_flush(surface);
    cairo_status_t cs = cairo_surface_status(surface);
    if (cs != CAIRO_STATUS_SUCCESS)
        return error_set(err, GEOLOC_E_NOMEM, "%s:%d: %s: drawing failed: %s", __FILE__, __LINE__, path,
                         cairo_status_to_string(cs));
    atomic_file f;
    geoloc_status s = atomic_file_open(&f, path, err);
    if (s != GEOLOC_OK) return s;
    cs = cairo_surface_write_to_png_stream(surface, write_to_file, f.fp);
    if (cs != CAIRO_STATUS_SUCCESS) {
        atomic_file_abort(&f);
        return error_set(err, GEOLOC_E_IO, "%s:%d: %s: cannot write the PNG: %s", __FILE__, __LINE__, path,
                         cairo_status_to_string(cs));
    }
    return atomic_file_commit(&f, err);
}
