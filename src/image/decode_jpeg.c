/* JPEG decoding with libjpeg-turbo.
 *
 * - Errors: a custom error manager formats libjpeg's message into the
 *   geoloc_error and longjmps back here (libjpeg's default would exit()).
 * - Warnings: damaged but decodable data (premature end of file or of a
 *   data segment, bad Huffman/arithmetic codes, lost restart sync,
 *   extraneous bytes, ...) is decoded as djpeg decodes it (libjpeg fills
 *   what is missing) and each warning is recorded on the image
 *   ("JPEG: <libjpeg's text>"); geoloc_image_decode refuses them when
 *   strict. The file is read on to EOI (a missing EOI is a warning too);
 *   data after EOI is ignored.
 * - Limits: max_pixels applies to the decoded size. A larger image is
 *   decoded at the smallest DCT reduction (1/2, 1/4, 1/8) that brings it
 *   within max_pixels, and refused (before libjpeg allocates anything for
 *   the frame) only when even 1/8 is over. libjpeg's own memory is capped
 *   (max_memory_to_use, proportional to max_pixels: a progressive JPEG
 *   holds all its DCT coefficients at the stored size, ~3 bytes per stored
 *   pixel for 4:2:0, so the default 100 MP allows ~280 MP progressive and
 *   any size of baseline JPEG) and a progress hook refuses more than
 *   JPEG_MAX_SCANS scans (a crafted progressive file can hold thousands of
 *   tiny scans, each a pass over the whole coefficient buffer).
 * - DCT scaling: with min_shorter_side > 0, the largest of 1/8, 1/4, 1/2
 *   that keeps the shorter side >= min_shorter_side is decoded directly
 *   (libjpeg's reduced-size inverse DCTs, SIMD-accelerated for these
 *   three; libjpeg-turbo also has 3/8, 5/8, ... which are plain C); when
 *   max_pixels needs a larger reduction, max_pixels wins.
 * - Colour: YCbCr and RGB come out as RGB, greyscale is replicated to RGB by
 *   libjpeg; CMYK and YCCK are read as CMYK and converted here, as inverted
 *   CMYK (what Adobe applications write) when the Adobe marker is present.
 * - Speed: JDCT_ISLOW (accurate integer IDCT) with fancy (triangle-filter)
 *   chroma upsampling: libjpeg's defaults, what djpeg and PIL use, and the
 *   output is byte-identical to djpeg's (tests/test_decode*.c). Measured
 *   on the 1,997 Im2GPS3k dev photos (427x320-ish, 4:2:0, q90; libjpeg-
 *   turbo 2.1.5 with AVX2, 2-core Zen 4, one pinned core, best of 21
 *   passes), error against JDCT_FLOAT:
 *     ISLOW + fancy    0.64 ms/photo   mean |error| 0.03, max 3
 *     IFAST + fancy    0.59 (-9%)      mean |error| 0.99, max 9
 *     ISLOW + merged   0.59 (-8%)      mean |error| 0.63, max 81 (chroma edges)
 *     IFAST + merged   0.56 (-12%)
 *   (run-to-run noise on this shared machine is about 5%). IFAST's 50 us
 *   per photo is ~4 CPU-minutes over all 4.7M MP-16 photos, small next to
 *   the CNN, and it would make our pixels differ from the PIL/djpeg
 *   decodes the reference models were trained on; so ISLOW + fancy. */
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h>
/* after jpeglib.h: its message list depends on jconfig.h */
#include <jerror.h>

#include "core/error.h"
#include "image/image_internal.h"

#define JPEG_MAX_SCANS 256
#define JPEG_ROWS_PER_CALL 16

typedef struct {
    struct jpeg_error_mgr pub;
    jmp_buf jump;
    char message[JMSG_LENGTH_MAX + 64];
    geoloc_image *out; /* receives the warnings */
} jpeg_error_ctx;

static void on_error_exit(j_common_ptr cinfo) {
    jpeg_error_ctx *e = (jpeg_error_ctx *)cinfo->err;
    cinfo->err->format_message(cinfo, e->message);
    longjmp(e->jump, 1);
}

static void on_emit_message(j_common_ptr cinfo, int level) {
    if (level >= 0) return; /* trace messages */
    jpeg_error_ctx *e = (jpeg_error_ctx *)cinfo->err;
    char text[JMSG_LENGTH_MAX];
    cinfo->err->num_warnings++;
    cinfo->err->format_message(cinfo, text);
    image_add_warning(e->out, "JPEG: %s", text);
}

static void on_output_message(j_common_ptr cinfo) { (void)cinfo; }

static void on_progress(j_common_ptr cinfo) {
    if (!cinfo->is_decompressor) return;
    j_decompress_ptr d = (j_decompress_ptr)cinfo;
    if (d->input_scan_number > JPEG_MAX_SCANS) {
        jpeg_error_ctx *e = (jpeg_error_ctx *)cinfo->err;
        snprintf(e->message, sizeof e->message, "more than %d progressive scans", JPEG_MAX_SCANS);
        cinfo->err->msg_code = 0;
        longjmp(e->jump, 1);
    }
}

/* Sets the DCT scaling (1/1, 1/2, 1/4 or 1/8) and the output size: the
 * smallest reduction that brings the decoded size within max_pixels, made
 * larger while the shorter side stays >= min_shorter_side. 0 when even 1/8
 * is over max_pixels. */
static int choose_scale(j_decompress_ptr cinfo, const geoloc_decode_options *opt) {
    unsigned d = 1;
    for (;; d *= 2) {
        if (d > 8) return 0;
        cinfo->scale_denom = d;
        jpeg_calc_output_dimensions(cinfo);
        if ((uint64_t)cinfo->output_width * cinfo->output_height <= opt->max_pixels) break;
    }
    if (opt->min_shorter_side > 0) {
        unsigned shorter = cinfo->image_width < cinfo->image_height ? cinfo->image_width
                                                                    : cinfo->image_height;
        unsigned side = 8; /* the largest reduction keeping the shorter side (rounded up) */
        while (side > 1 && (shorter + side - 1) / side < (unsigned)opt->min_shorter_side)
            side /= 2;
        if (side > d) {
            d = side;
            cinfo->scale_denom = d;
            jpeg_calc_output_dimensions(cinfo);
        }
    }
    return 1;
}

/* CMYK row to RGB: inverted (Adobe) values give R = C*K/255, plain ones
 * R = (255-C)(255-K)/255. */
static void cmyk_to_rgb(const JSAMPLE *in, uint8_t *out, unsigned width, int inverted) {
    for (unsigned x = 0; x < width; x++, in += 4, out += 3) {
        unsigned c = in[0], m = in[1], y = in[2], k = in[3];
        if (!inverted) {
            c = 255 - c;
            m = 255 - m;
            y = 255 - y;
            k = 255 - k;
        }
        out[0] = (uint8_t)((c * k + 127) / 255);
        out[1] = (uint8_t)((m * k + 127) / 255);
        out[2] = (uint8_t)((y * k + 127) / 255);
    }
}

geoloc_status image_decode_jpeg(const uint8_t *data, size_t size, const char *name,
                                const geoloc_decode_options *opt, geoloc_image *out,
                                geoloc_error *err) {
    struct jpeg_decompress_struct cinfo;
    jpeg_error_ctx jerr;
    struct jpeg_progress_mgr progress;
    uint8_t *volatile pixels = NULL;

    memset(&cinfo, 0, sizeof cinfo);
    cinfo.err = jpeg_std_error(&jerr.pub);
    jerr.pub.error_exit = on_error_exit;
    jerr.pub.emit_message = on_emit_message;
    jerr.pub.output_message = on_output_message;
    jerr.message[0] = '\0';
    jerr.out = out;
    if (setjmp(jerr.jump)) {
        int code = jerr.pub.msg_code;
        jpeg_destroy_decompress(&cinfo);
        free(pixels);
        if (code == JERR_OUT_OF_MEMORY)
            return error_set(err, GEOLOC_E_NOMEM, "%s: JPEG: %s", name, jerr.message);
        if (code == JERR_NO_BACKING_STORE)
            return error_set(err, GEOLOC_E_RANGE,
                             "%s: JPEG: needs more decoder memory than the limit derived from "
                             "max_pixels",
                             name);
        return error_set(err, GEOLOC_E_PARSE, "%s: JPEG: %s", name, jerr.message);
    }
    jpeg_create_decompress(&cinfo);
    /* Coefficient buffers of a progressive JPEG take up to 8 bytes per
     * pixel (4 components); sample rows and tables are small. */
    cinfo.mem->max_memory_to_use = (long)(opt->max_pixels * 8 + (64l << 20));
    progress.progress_monitor = on_progress;
    cinfo.progress = &progress;
    jpeg_mem_src(&cinfo, data, (unsigned long)size);
    (void)jpeg_read_header(&cinfo, TRUE);

    int cmyk = cinfo.jpeg_color_space == JCS_CMYK || cinfo.jpeg_color_space == JCS_YCCK;
    cinfo.out_color_space = cmyk ? JCS_CMYK : JCS_RGB;
    cinfo.dct_method = JDCT_ISLOW;
    cinfo.do_fancy_upsampling = TRUE;
    cinfo.scale_num = 1;
    if (cinfo.image_width > 0 && cinfo.image_height > 0 && !choose_scale(&cinfo, opt)) {
        jpeg_destroy_decompress(&cinfo);
        return error_set(err, GEOLOC_E_RANGE,
                         "%s: image is %ux%u pixels, over the limit of %llu pixels (decode "
                         "option max_pixels) even decoded at 1/8 scale",
                         name, (unsigned)cinfo.image_width, (unsigned)cinfo.image_height,
                         (unsigned long long)opt->max_pixels);
    }
    geoloc_status st =
        image_check_pixels(cinfo.output_width, cinfo.output_height, name, opt, err);
    if (st != GEOLOC_OK) {
        jpeg_destroy_decompress(&cinfo);
        return st;
    }
    (void)jpeg_start_decompress(&cinfo);

    unsigned w = cinfo.output_width, h = cinfo.output_height;
    if ((int)cinfo.output_components != (cmyk ? 4 : 3) || w == 0 || h == 0) {
        jpeg_destroy_decompress(&cinfo);
        return error_set(err, GEOLOC_E_PARSE, "%s: JPEG: unexpected output (%d components)", name,
                         cinfo.output_components);
    }
    pixels = image_alloc_pixels(w, h);
    if (!pixels) {
        jpeg_destroy_decompress(&cinfo);
        return error_set(err, GEOLOC_E_NOMEM, "%s: out of memory for %ux%u pixels", name, w, h);
    }
    JSAMPARRAY cmyk_row = NULL;
    if (cmyk)
        cmyk_row = (*cinfo.mem->alloc_sarray)((j_common_ptr)&cinfo, JPOOL_IMAGE, w * 4, 1);
    int inverted = cinfo.saw_Adobe_marker;
    while (cinfo.output_scanline < h) {
        unsigned y = cinfo.output_scanline;
        if (cmyk) {
            if (jpeg_read_scanlines(&cinfo, cmyk_row, 1) != 1) break;
            cmyk_to_rgb(cmyk_row[0], pixels + (size_t)y * w * 3, w, inverted);
            continue;
        }
        JSAMPROW rows[JPEG_ROWS_PER_CALL];
        unsigned n = h - y < JPEG_ROWS_PER_CALL ? h - y : JPEG_ROWS_PER_CALL;
        for (unsigned k = 0; k < n; k++) rows[k] = pixels + (size_t)(y + k) * w * 3;
        if (jpeg_read_scanlines(&cinfo, rows, n) == 0) break;
    }
    int complete = cinfo.output_scanline == h;
    if (complete) (void)jpeg_finish_decompress(&cinfo); /* reads on to EOI */
    jpeg_destroy_decompress(&cinfo);
    if (!complete) {
        free(pixels);
        return error_set(err, GEOLOC_E_PARSE, "%s: JPEG: decoder stopped before the last row",
                         name);
    }
    out->width = (int)w;
    out->height = (int)h;
    out->rgb = pixels;
    return GEOLOC_OK;
}
