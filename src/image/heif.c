/* HEIF / HEIC photos through libheif (Debian libheif-dev): the primary
 * image of the file, decoded by libheif's HEVC (or AV1) plugin to 8-bit
 * interleaved RGB (deeper images converted to 8 bits, alpha dropped).
 *
 * - Orientation: HEIF stores rotation and mirroring as container
 *   transformations (irot, imir) which libheif applies while decoding, as
 *   every HEIF viewer does; the size reported for the file (probe) is the
 *   size after them. An EXIF Orientation tag in a HEIF is informative only
 *   and is not applied again (decode.c, exif.c).
 * - Limits: max_pixels is checked on the image's size, and on its coded
 *   (ispe) size, before libheif decodes anything; libheif cannot decode at
 *   a reduced scale, so a larger HEIF is refused, as a PNG is. The longest
 *   side is limited to 2 x sqrt(max_pixels) as well (a grid's canvas, see
 *   image_decode_heif). libheif's own limit on a side is 65535 pixels while
 *   the container is parsed.
 * - Threads: tiles are decoded on the calling thread (the batch loader
 *   already decodes several photos in parallel); libheif is initialised
 *   once (heif_init, under pthread_once) before the first use.
 * - Warnings: libheif's decoding warnings (non-strict decoding) are
 *   recorded on the image as "HEIF: ...".
 * - EXIF: the Exif item's payload starts with a 4-byte offset to the TIFF
 *   header; the bytes from there are handed to the EXIF reader. */
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <libheif/heif.h>

#include "core/error.h"
#include "image/image_internal.h"

#define HEIF_MAX_SIDE 65535
/* the side limit while decoding small images (their tiles may be larger) */
#define HEIF_MIN_SIDE_LIMIT 4096u
/* EXIF blocks beyond this are not read (libexif reads at most 64 KiB). */
#define HEIF_MAX_EXIF (1u << 20)

/* An open HEIF file: its context and primary image handle. */
typedef struct {
    struct heif_context *ctx;
    struct heif_image_handle *primary;
} heif_file;

static void heif_file_close(heif_file *f) {
    if (f->primary) heif_image_handle_release(f->primary);
    if (f->ctx) heif_context_free(f->ctx);
    f->primary = NULL;
    f->ctx = NULL;
}

/* A libheif error as E_NOMEM (a failed allocation) or E_PARSE (anything
 * else, including libheif's security limits on crafted sizes, which it
 * reports as allocation errors), "name: HEIF: message". */
static geoloc_status heif_failure(struct heif_error he, const char *name, const char *fallback,
                                  geoloc_error *err) {
    int oom = he.code == heif_error_Memory_allocation_error &&
              he.subcode != heif_suberror_Security_limit_exceeded;
    return error_set(err, oom ? GEOLOC_E_NOMEM : GEOLOC_E_PARSE, "%s: HEIF: %s", name,
                     he.message ? he.message : fallback);
}

/* libheif's plugins are registered once, before any thread uses them (the
 * library stays initialised for the life of the process). */
static pthread_once_t heif_once = PTHREAD_ONCE_INIT;
static void heif_start(void) { (void)heif_init(NULL); }

/* Parses the container (no pixel decoding) and finds the primary image. */
static geoloc_status heif_file_open(const uint8_t *data, size_t size, const char *name,
                                    heif_file *f, geoloc_error *err) {
    memset(f, 0, sizeof *f);
    pthread_once(&heif_once, heif_start);
    f->ctx = heif_context_alloc();
    if (!f->ctx) return error_set(err, GEOLOC_E_NOMEM, "%s: HEIF: out of memory", name);
    heif_context_set_maximum_image_size_limit(f->ctx, HEIF_MAX_SIDE);
    heif_context_set_max_decoding_threads(f->ctx, 0);
    struct heif_error he = heif_context_read_from_memory_without_copy(f->ctx, data, size, NULL);
    if (he.code == heif_error_Ok) he = heif_context_get_primary_image_handle(f->ctx, &f->primary);
    if (he.code != heif_error_Ok) {
        /* the message belongs to the context: formatted before it is freed */
        geoloc_status st = heif_failure(he, name, "unreadable file", err);
        heif_file_close(f);
        return st;
    }
    return GEOLOC_OK;
}

geoloc_status image_heif_probe(const uint8_t *data, size_t size, const char *name,
                               image_probe_info *info, geoloc_error *err) {
    heif_file f;
    geoloc_status st = heif_file_open(data, size, name, &f, err);
    if (st != GEOLOC_OK) return st;
    info->width = heif_image_handle_get_width(f.primary);
    info->height = heif_image_handle_get_height(f.primary);
    if (info->width <= 0 || info->height <= 0) {
        heif_file_close(&f);
        return error_set(err, GEOLOC_E_PARSE, "%s: HEIF image has an empty size %dx%d", name,
                         info->width, info->height);
    }
    heif_item_id id;
    if (heif_image_handle_get_list_of_metadata_block_IDs(f.primary, "Exif", &id, 1) == 1) {
        size_t n = heif_image_handle_get_metadata_size(f.primary, id);
        uint8_t *block = n >= 4 && n <= HEIF_MAX_EXIF ? malloc(n) : NULL;
        if (block && heif_image_handle_get_metadata(f.primary, id, block).code == heif_error_Ok) {
            size_t offset = (size_t)block[0] << 24 | (size_t)block[1] << 16 |
                            (size_t)block[2] << 8 | block[3];
            if (offset <= n - 4) {
                info->owned = block;
                info->exif = block + 4 + offset;
                info->exif_size = n - 4 - offset;
                block = NULL;
            }
        }
        free(block);
    }
    heif_file_close(&f);
    return GEOLOC_OK;
}

/* The decoded image's interleaved RGB plane into out (w x h expected), with
 * libheif's decoding warnings. */
static geoloc_status copy_rgb(struct heif_image *img, int w, int h, const char *name,
                              geoloc_image *out, geoloc_error *err) {
    int stride = 0;
    const uint8_t *plane = heif_image_get_plane_readonly(img, heif_channel_interleaved, &stride);
    if (!plane || heif_image_get_width(img, heif_channel_interleaved) != w ||
        heif_image_get_height(img, heif_channel_interleaved) != h || stride < w * 3 ||
        heif_image_get_bits_per_pixel_range(img, heif_channel_interleaved) != 8)
        return error_set(err, GEOLOC_E_PARSE, "%s: HEIF: decoded image is not %dx%d 8-bit RGB",
                         name, w, h);
    uint8_t *pixels = image_alloc_pixels((size_t)w, (size_t)h);
    if (!pixels)
        return error_set(err, GEOLOC_E_NOMEM, "%s: out of memory for %dx%d pixels", name, w, h);
    for (int y = 0; y < h; y++)
        memcpy(pixels + (size_t)y * w * 3, plane + (size_t)y * stride, (size_t)w * 3);
    struct heif_error warning;
    for (int k = 0; heif_image_get_decoding_warnings(img, k, &warning, 1) == 1; k++)
        image_add_warning(out, "HEIF: %s", warning.message ? warning.message : "warning");
    out->width = w;
    out->height = h;
    out->rgb = pixels;
    return GEOLOC_OK;
}

geoloc_status image_decode_heif(const uint8_t *data, size_t size, const char *name,
                                const geoloc_decode_options *opt, geoloc_image *out,
                                geoloc_error *err) {
    heif_file f;
    geoloc_status st = heif_file_open(data, size, name, &f, err);
    if (st != GEOLOC_OK) return st;
    int w = heif_image_handle_get_width(f.primary), h = heif_image_handle_get_height(f.primary);
    int cw = heif_image_handle_get_ispe_width(f.primary);
    int ch = heif_image_handle_get_ispe_height(f.primary);
    st = image_check_pixels(w > 0 ? (uint64_t)w : 0, h > 0 ? (uint64_t)h : 0, name, opt, err);
    if (st == GEOLOC_OK && cw > 0 && ch > 0) /* the coded size, before a crop */
        st = image_check_pixels((uint64_t)cw, (uint64_t)ch, name, opt, err);
    if (st != GEOLOC_OK) {
        heif_file_close(&f);
        return st;
    }
    /* A grid (or overlay) image's canvas is sized by its own descriptor, which
     * libheif 1.15 does not expose and which may claim far more than the
     * checked size. libheif's side limit, which it applies at decoding to the
     * canvas and to each tile (refusing sides >= the limit), becomes the
     * checked longest side + 1, or 4097 for smaller images, whose edge tiles
     * may be larger than the image. A canvas of side x side must stay within
     * 4 x max_pixels, so the longest side of a HEIF is at most
     * 2 x sqrt(max_pixels) (20000 pixels at the default 100 million). */
    uint64_t side = (uint64_t)(w > h ? w : h);
    if ((uint64_t)cw > side) side = (uint64_t)cw;
    if ((uint64_t)ch > side) side = (uint64_t)ch;
    if (side * side > 4 * opt->max_pixels) {
        heif_file_close(&f);
        return error_set(err, GEOLOC_E_RANGE,
                         "%s: HEIF image side of %llu pixels is over the limit of %.0f "
                         "(2 x sqrt(max_pixels): libheif sizes a grid canvas up to side x side)",
                         name, (unsigned long long)side, floor(2 * sqrt((double)opt->max_pixels)));
    }
    heif_context_set_maximum_image_size_limit(
        f.ctx, (int)(side > HEIF_MIN_SIDE_LIMIT ? side : HEIF_MIN_SIDE_LIMIT) + 1);
    struct heif_decoding_options *dopt = heif_decoding_options_alloc();
    if (!dopt) {
        heif_file_close(&f);
        return error_set(err, GEOLOC_E_NOMEM, "%s: HEIF: out of memory", name);
    }
    dopt->convert_hdr_to_8bit = 1;
    struct heif_image *img = NULL;
    struct heif_error he = heif_decode_image(f.primary, &img, heif_colorspace_RGB,
                                             heif_chroma_interleaved_RGB, dopt);
    heif_decoding_options_free(dopt);
    st = he.code == heif_error_Ok ? copy_rgb(img, w, h, name, out, err)
                                  : heif_failure(he, name, "cannot decode", err);
    if (img) heif_image_release(img);
    heif_file_close(&f);
    return st;
}
