/* The helpers every decoder and the orientation transform share: the size
 * limit checked from an image header, the allocation of a decoded RGB
 * buffer (with the fuzz targets' fill hook) and the warnings list. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "image/image_internal.h"

int image_debug_fill = -1;

uint8_t *image_alloc_pixels(size_t width, size_t height) {
    size_t bytes = width * height * 3;
    uint8_t *p = malloc(bytes ? bytes : 1);
    if (p && image_debug_fill >= 0) memset(p, image_debug_fill, bytes);
    return p;
}

geoloc_status image_check_pixels(uint64_t width, uint64_t height, const char *name,
                                 const geoloc_decode_options *opt, geoloc_error *err) {
    if (width == 0 || height == 0)
        return error_set(err, GEOLOC_E_PARSE, "%s: image header gives an empty size %llux%llu",
                         name, (unsigned long long)width, (unsigned long long)height);
    /* width, height < 2^32: the product cannot overflow */
    if (width > UINT32_MAX || height > UINT32_MAX || width * height > opt->max_pixels)
        return error_set(err, GEOLOC_E_RANGE,
                         "%s: image is %llux%llu pixels, over the limit of %llu pixels "
                         "(decode option max_pixels)",
                         name, (unsigned long long)width, (unsigned long long)height,
                         (unsigned long long)opt->max_pixels);
    return GEOLOC_OK;
}

void image_add_warning(geoloc_image *img, const char *fmt, ...) {
    char text[GEOLOC_IMAGE_WARNING_SIZE];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    img->n_warnings++;
    for (int k = 0; k < GEOLOC_IMAGE_MAX_WARNINGS; k++) {
        if (strcmp(img->warnings[k], text) == 0) return; /* the same text again */
        if (img->warnings[k][0] == '\0') {
            memcpy(img->warnings[k], text, sizeof text);
            return;
        }
    }
}
