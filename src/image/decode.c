/* geoloc_image_decode / geoloc_image_load: the format from the bytes (never
 * the file name), the size limits, dispatch to the JPEG/PNG/WebP decoder,
 * the strict option (decoder warnings refused), then the EXIF orientation
 * applied to the pixels. */
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "image/image_internal.h"
#include "io/regular_file.h"

static void resolve_options(const geoloc_decode_options *in, geoloc_decode_options *o) {
    if (in) {
        *o = *in;
    } else {
        memset(o, 0, sizeof *o);
    }
    if (o->max_pixels == 0) o->max_pixels = IMAGE_DEFAULT_MAX_PIXELS;
    if (o->max_pixels > IMAGE_HARD_MAX_PIXELS) o->max_pixels = IMAGE_HARD_MAX_PIXELS;
    if (o->max_file_bytes == 0) o->max_file_bytes = IMAGE_DEFAULT_MAX_FILE_BYTES;
    if (o->min_shorter_side < 0) o->min_shorter_side = 0;
}

geoloc_status geoloc_image_decode(const uint8_t *data, size_t size, const char *name,
                                  const geoloc_decode_options *opt, geoloc_image *out,
                                  geoloc_error *err) {
    if (!name) name = "(image)";
    if (!out) return error_set(err, GEOLOC_E_ARG, "%s: no output image", name);
    memset(out, 0, sizeof *out);
    if (!data && size) return error_set(err, GEOLOC_E_ARG, "%s: no data", name);
    geoloc_decode_options o;
    resolve_options(opt, &o);
    if (size == 0) return error_set(err, GEOLOC_E_PARSE, "%s: empty file (0 bytes)", name);
    if ((uint64_t)size > o.max_file_bytes)
        return error_set(
            err, GEOLOC_E_RANGE,
            "%s: %zu bytes, over the limit of %llu bytes (decode option max_file_bytes)", name,
            size, (unsigned long long)o.max_file_bytes);

    geoloc_status st;
    switch (geoloc_image_detect(data, size)) {
    case GEOLOC_FORMAT_JPEG: st = image_decode_jpeg(data, size, name, &o, out, err); break;
    case GEOLOC_FORMAT_PNG: st = image_decode_png(data, size, name, &o, out, err); break;
    case GEOLOC_FORMAT_WEBP: st = image_decode_webp(data, size, name, &o, out, err); break;
    case GEOLOC_FORMAT_HEIF: st = image_decode_heif(data, size, name, &o, out, err); break;
    default:
        return error_set(err, GEOLOC_E_PARSE,
                         "%s: not a JPEG, PNG, WebP or HEIF image (unrecognised first bytes)",
                         name);
    }
    if (st == GEOLOC_OK && o.strict && out->n_warnings > 0) {
        st = error_set(err, GEOLOC_E_PARSE, "%s: %s (refused: decode option strict)", name,
                       out->warnings[0]);
        geoloc_image_free(out);
    }
    if (st != GEOLOC_OK) {
        memset(out, 0, sizeof *out);
        return st;
    }
    /* HEIF: libheif applied the container's rotation; EXIF's is informative */
    if (!o.ignore_orientation && geoloc_image_detect(data, size) != GEOLOC_FORMAT_HEIF) {
        image_probe_info info;
        geoloc_error ignored;
        if (image_probe(data, size, name, &info, &ignored) == GEOLOC_OK && info.exif) {
            st = image_apply_orientation(out, image_exif_orientation(info.exif, info.exif_size),
                                         name, err);
            if (st != GEOLOC_OK) geoloc_image_free(out);
        }
        image_probe_release(&info);
    }
    return st;
}

geoloc_status geoloc_image_load(const char *path, const geoloc_decode_options *opt,
                                geoloc_image *out, geoloc_error *err) {
    if (out) memset(out, 0, sizeof *out);
    if (!path || !out) return error_set(err, GEOLOC_E_ARG, "geoloc_image_load: no path or output");
    geoloc_decode_options o;
    resolve_options(opt, &o);
    uint8_t *data;
    size_t size;
    geoloc_status st = regular_file_read(path, o.max_file_bytes, "decode option max_file_bytes",
                                         &data, &size, err);
    if (st != GEOLOC_OK) return st;
    st = geoloc_image_decode(data, size, path, &o, out, err);
    free(data);
    return st;
}

void geoloc_image_free(geoloc_image *img) {
    if (!img) return;
    free(img->rgb);
    img->rgb = NULL;
    img->width = img->height = 0;
}
