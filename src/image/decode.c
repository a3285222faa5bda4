/* geoloc_image_decode / geoloc_image_load: the format from the bytes (never
 * the file name), the size limits, dispatch to the JPEG/PNG/WebP decoder,
 * then the EXIF orientation applied to the pixels. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/error.h"
#include "image/image_internal.h"

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
    default:
        return error_set(err, GEOLOC_E_PARSE,
                         "%s: not a JPEG, PNG or WebP image (unrecognised first bytes)", name);
    }
    if (st != GEOLOC_OK) {
        memset(out, 0, sizeof *out);
        return st;
    }
    if (!o.ignore_orientation) {
        image_probe_info info;
        geoloc_error ignored;
        if (image_probe(data, size, name, &info, &ignored) == GEOLOC_OK && info.exif) {
            st = image_apply_orientation(out, image_exif_orientation(info.exif, info.exif_size),
                                         name, err);
            if (st != GEOLOC_OK) geoloc_image_free(out);
        }
    }
    return st;
}

/* Reads a whole file into memory, refusing more than max_bytes. */
static geoloc_status read_file(const char *path, uint64_t max_bytes, uint8_t **data, size_t *size,
                               geoloc_error *err) {
    *data = NULL;
    *size = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return error_set(err, GEOLOC_E_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int e = errno;
        close(fd);
        return error_set(err, GEOLOC_E_IO, "%s: cannot stat: %s", path, strerror(e));
    }
    if (S_ISDIR(st.st_mode)) {
        close(fd);
        return error_set(err, GEOLOC_E_IO, "%s: is a directory, not an image file", path);
    }
    /* Regular files are read in one piece; pipes and devices grow a buffer. */
    size_t cap = S_ISREG(st.st_mode) ? (size_t)st.st_size : 1u << 16;
    if (S_ISREG(st.st_mode) && (uint64_t)st.st_size > max_bytes) {
        close(fd);
        return error_set(err, GEOLOC_E_RANGE,
                         "%s: %lld bytes, over the limit of %llu bytes (decode option "
                         "max_file_bytes)",
                         path, (long long)st.st_size, (unsigned long long)max_bytes);
    }
    uint8_t *buf = malloc(cap + 1);
    if (!buf) {
        close(fd);
        return error_set(err, GEOLOC_E_NOMEM, "%s: out of memory reading %zu bytes", path, cap);
    }
    size_t n = 0;
    for (;;) {
        if (n == cap + 1 || (n == cap && !S_ISREG(st.st_mode))) {
            if ((uint64_t)n > max_bytes) break;
            size_t ncap = cap * 2;
            uint8_t *nb = realloc(buf, ncap + 1);
            if (!nb) {
                free(buf);
                close(fd);
                return error_set(err, GEOLOC_E_NOMEM, "%s: out of memory reading", path);
            }
            buf = nb;
            cap = ncap;
        }
        ssize_t r = read(fd, buf + n, cap + 1 - n);
        if (r < 0) {
            if (errno == EINTR) continue;
            int e = errno;
            free(buf);
            close(fd);
            return error_set(err, GEOLOC_E_IO, "%s: read error: %s", path, strerror(e));
        }
        if (r == 0) break;
        n += (size_t)r;
    }
    close(fd);
    if ((uint64_t)n > max_bytes) {
        free(buf);
        return error_set(err, GEOLOC_E_RANGE,
                         "%s: over the limit of %llu bytes (decode option max_file_bytes)", path,
                         (unsigned long long)max_bytes);
    }
    *data = buf;
    *size = n;
    return GEOLOC_OK;
}

geoloc_status geoloc_image_load(const char *path, const geoloc_decode_options *opt,
                                geoloc_image *out, geoloc_error *err) {
    if (out) memset(out, 0, sizeof *out);
    if (!path || !out) return error_set(err, GEOLOC_E_ARG, "geoloc_image_load: no path or output");
    geoloc_decode_options o;
    resolve_options(opt, &o);
    uint8_t *data;
    size_t size;
    geoloc_status st = read_file(path, o.max_file_bytes, &data, &size, err);
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
