/* Generated test images and crafted EXIF (see image_fixtures.h). */
#include "image_fixtures.h"

#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h>
#include <libheif/heif.h>
#include <png.h>
#include <webp/encode.h>

int fx_append(fx_buf *b, const void *p, size_t n) {
    if (b->size + n > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->size + n) cap *= 2;
        uint8_t *d = realloc(b->data, cap);
        if (!d) return -1;
        b->data = d;
        b->cap = cap;
    }
    if (n) memcpy(b->data + b->size, p, n);
    b->size += n;
    return 0;
}

void fx_free(fx_buf *b) {
    free(b->data);
    b->data = NULL;
    b->size = b->cap = 0;
}

int fx_write_file(const char *path, const void *data, size_t size) {
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    size_t n = size ? fwrite(data, 1, size, f) : 0;
    return (fclose(f) == 0 && n == size) ? 0 : -1;
}

void fx_pattern(uint8_t *rgb, int w, int h) {
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            uint8_t *p = rgb + ((size_t)y * w + x) * 3;
            p[0] = (uint8_t)(x * 31 + y * 17);
            p[1] = (uint8_t)x;
            p[2] = (uint8_t)y;
        }
}

/* ---- JPEG ---- */

typedef struct {
    struct jpeg_error_mgr pub;
    jmp_buf jump;
} fx_jerr;

static void fx_jpeg_error(j_common_ptr c) { longjmp(((fx_jerr *)c->err)->jump, 1); }

int fx_jpeg(const uint8_t *pixels, int w, int h, const fx_jpeg_opts *o, fx_buf *out) {
    static const fx_jpeg_opts defaults = {0};
    const fx_jpeg_opts opt = o ? *o : defaults;
    int comps = opt.components ? opt.components : 3;
    struct jpeg_compress_struct c;
    fx_jerr jerr;
    unsigned char *mem = NULL;
    unsigned long mem_size = 0;
    c.err = jpeg_std_error(&jerr.pub);
    jerr.pub.error_exit = fx_jpeg_error;
    if (setjmp(jerr.jump)) {
        jpeg_destroy_compress(&c);
        free(mem);
        return -1;
    }
    jpeg_create_compress(&c);
    jpeg_mem_dest(&c, &mem, &mem_size);
    c.image_width = (JDIMENSION)w;
    c.image_height = (JDIMENSION)h;
    c.input_components = comps;
    c.in_color_space = comps == 1 ? JCS_GRAYSCALE : comps == 4 ? JCS_CMYK : JCS_RGB;
    jpeg_set_defaults(&c);
    if (comps == 4 && opt.ycck) jpeg_set_colorspace(&c, JCS_YCCK);
    if (comps == 4 && opt.no_adobe) c.write_Adobe_marker = FALSE;
    jpeg_set_quality(&c, opt.quality ? opt.quality : 90, TRUE);
    if (opt.full_chroma && comps >= 3)
        c.comp_info[0].h_samp_factor = c.comp_info[0].v_samp_factor = 1;
    if (opt.progressive) jpeg_simple_progression(&c);
    c.restart_in_rows = opt.restart_rows;
    jpeg_start_compress(&c, TRUE);
    while (c.next_scanline < c.image_height) {
        JSAMPROW row = (JSAMPROW)(pixels + (size_t)c.next_scanline * w * comps);
        jpeg_write_scanlines(&c, &row, 1);
    }
    jpeg_finish_compress(&c);
    jpeg_destroy_compress(&c);
    int rc = fx_append(out, mem, mem_size);
    free(mem);
    return rc;
}

int fx_jpeg_with_exif(const uint8_t *jpeg, size_t jpeg_size, const uint8_t *tiff,
                      size_t tiff_size, fx_buf *out) {
    if (jpeg_size < 2 || tiff_size + 8 > 0xFFFF) return -1;
    size_t seg = tiff_size + 8; /* length field + "Exif\0\0" + tiff */
    uint8_t head[10] = {0xFF, 0xD8, 0xFF, 0xE1, (uint8_t)(seg >> 8), (uint8_t)seg,
                        'E',  'x',  'i',  'f'};
    static const uint8_t zeros[2] = {0, 0};
    if (fx_append(out, head, sizeof head) || fx_append(out, zeros, 2) ||
        fx_append(out, tiff, tiff_size) || fx_append(out, jpeg + 2, jpeg_size - 2))
        return -1;
    return 0;
}

/* ---- PNG ---- */

static void fx_png_write(png_structp png, png_bytep p, size_t n) {
    if (fx_append(png_get_io_ptr(png), p, n)) png_error(png, "out of memory");
}
static void fx_png_flush(png_structp png) { (void)png; }

int fx_png(const uint8_t *rows, int w, int h, const fx_png_opts *o, fx_buf *out) {
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    png_bytep *volatile ptrs = NULL;
    if (!info || setjmp(png_jmpbuf(png))) {
        png_destroy_write_struct(&png, &info);
        free(ptrs);
        return -1;
    }
    png_set_write_fn(png, out, fx_png_write, fx_png_flush);
    png_set_IHDR(png, info, (png_uint_32)w, (png_uint_32)h, o->bit_depth, o->color_type,
                 o->interlace ? PNG_INTERLACE_ADAM7 : PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    if (o->palette) png_set_PLTE(png, info, (png_const_colorp)o->palette, o->n_palette);
    if (o->trns) png_set_tRNS(png, info, o->trns, o->n_trns, NULL);
    if (o->exif) png_set_eXIf_1(png, info, (png_uint_32)o->exif_size, (png_bytep)o->exif);
    png_write_info(png, info);
    int channels = o->color_type == PNG_COLOR_TYPE_RGB         ? 3
                   : o->color_type == PNG_COLOR_TYPE_RGB_ALPHA ? 4
                   : o->color_type == PNG_COLOR_TYPE_GRAY_ALPHA ? 2
                                                                : 1;
    size_t stride = ((size_t)w * channels * o->bit_depth + 7) / 8;
    ptrs = malloc((size_t)h * sizeof *ptrs);
    if (!ptrs) png_error(png, "out of memory");
    for (int y = 0; y < h; y++) ptrs[y] = (png_bytep)(rows + (size_t)y * stride);
    if (o->interlace) (void)png_set_interlace_handling(png);
    png_write_image(png, ptrs);
    png_write_end(png, info);
    png_destroy_write_struct(&png, &info);
    free(ptrs);
    return 0;
}

/* ---- WebP ---- */

static void put_le32(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

int fx_webp(const uint8_t *pixels, int w, int h, int channels, int lossless, float quality,
            const uint8_t *exif, size_t exif_size, fx_buf *out) {
    uint8_t *enc = NULL;
    size_t n;
    if (channels == 4)
        n = lossless ? WebPEncodeLosslessRGBA(pixels, w, h, w * 4, &enc)
                     : WebPEncodeRGBA(pixels, w, h, w * 4, quality, &enc);
    else
        n = lossless ? WebPEncodeLosslessRGB(pixels, w, h, w * 3, &enc)
                     : WebPEncodeRGB(pixels, w, h, w * 3, quality, &enc);
    if (n == 0 || n < 20) {
        WebPFree(enc);
        return -1;
    }
    int rc = 0;
    if (!exif) {
        rc = fx_append(out, enc, n);
    } else {
        /* RIFF, WEBP, VP8X (EXIF flag), the encoder's chunks, EXIF */
        size_t start = out->size;
        uint8_t head[30] = {'R', 'I', 'F', 'F', 0, 0, 0, 0, 'W', 'E', 'B', 'P',
                            'V', 'P', '8', 'X', 10, 0, 0, 0};
        int already_x = memcmp(enc + 12, "VP8X", 4) == 0;
        head[20] = 0x08 | (already_x ? enc[20] : 0);
        uint32_t cw = (uint32_t)w - 1, ch = (uint32_t)h - 1;
        head[24] = (uint8_t)cw;
        head[25] = (uint8_t)(cw >> 8);
        head[26] = (uint8_t)(cw >> 16);
        head[27] = (uint8_t)ch;
        head[28] = (uint8_t)(ch >> 8);
        head[29] = (uint8_t)(ch >> 16);
        size_t body = already_x ? 30 : 12; /* skip the encoder's own header */
        uint8_t ehead[8] = {'E', 'X', 'I', 'F'};
        put_le32(ehead + 4, (uint32_t)exif_size);
        static const uint8_t pad = 0;
        rc = fx_append(out, head, sizeof head) || fx_append(out, enc + body, n - body) ||
             fx_append(out, ehead, 8) || fx_append(out, exif, exif_size) ||
             ((exif_size & 1) && fx_append(out, &pad, 1));
        if (!rc) put_le32(out->data + start + 4, (uint32_t)(out->size - start - 8));
        rc = rc ? -1 : 0;
    }
    WebPFree(enc);
    return rc;
}

/* ---- EXIF (TIFF) ---- */

typedef struct {
    uint16_t tag, type;
    uint32_t count;
    uint8_t value[64]; /* in file byte order */
    size_t size;
} fx_entry;

typedef struct {
    int big;
    fx_entry e[16];
    int n;
} fx_ifd;

static void put16(uint8_t *p, uint32_t v, int big) {
    if (big) {
        p[0] = (uint8_t)(v >> 8);
        p[1] = (uint8_t)v;
    } else {
        p[0] = (uint8_t)v;
        p[1] = (uint8_t)(v >> 8);
    }
}
static void put32(uint8_t *p, uint32_t v, int big) {
    if (big) {
        put16(p, v >> 16, 1);
        put16(p + 2, v & 0xFFFF, 1);
    } else {
        put16(p, v & 0xFFFF, 0);
        put16(p + 2, v >> 16, 0);
    }
}

static fx_entry *add(fx_ifd *d, uint16_t tag, uint16_t type, uint32_t count, size_t size) {
    fx_entry *e = &d->e[d->n++];
    memset(e, 0, sizeof *e);
    e->tag = tag;
    e->type = type;
    e->count = count;
    e->size = size;
    return e;
}
static void add_short(fx_ifd *d, uint16_t tag, uint32_t v) {
    put16(add(d, tag, 3, 1, 2)->value, v, d->big);
}
static void add_long(fx_ifd *d, uint16_t tag, uint32_t v) {
    put32(add(d, tag, 4, 1, 4)->value, v, d->big);
}
static void add_byte(fx_ifd *d, uint16_t tag, uint8_t v) { add(d, tag, 1, 1, 1)->value[0] = v; }
static void add_ascii(fx_ifd *d, uint16_t tag, const char *s) {
    size_t n = strlen(s) + 1;
    if (n > 64) n = 64;
    memcpy(add(d, tag, 2, (uint32_t)n, n)->value, s, n - 1);
}
static void add_rationals(fx_ifd *d, uint16_t tag, int n, const uint32_t (*r)[2]) {
    fx_entry *e = add(d, tag, 5, (uint32_t)n, (size_t)n * 8);
    for (int k = 0; k < n; k++) {
        put32(e->value + 8 * k, r[k][0], d->big);
        put32(e->value + 8 * k + 4, r[k][1], d->big);
    }
}

static size_t ifd_size(const fx_ifd *d) {
    size_t s = 2 + 12 * (size_t)d->n + 4;
    for (int k = 0; k < d->n; k++)
        if (d->e[k].size > 4) s += (d->e[k].size + 1) & ~(size_t)1;
    return s;
}

/* Appends an IFD; offsets count from the start of out (the TIFF header). */
static int write_ifd(const fx_ifd *d, fx_buf *out) {
    size_t extra = out->size + 2 + 12 * (size_t)d->n + 4;
    uint8_t b[12];
    put16(b, (uint32_t)d->n, d->big);
    if (fx_append(out, b, 2)) return -1;
    for (int k = 0; k < d->n; k++) {
        const fx_entry *e = &d->e[k];
        put16(b, e->tag, d->big);
        put16(b + 2, e->type, d->big);
        put32(b + 4, e->count, d->big);
        memset(b + 8, 0, 4);
        if (e->size <= 4) {
            memcpy(b + 8, e->value, e->size);
        } else {
            put32(b + 8, (uint32_t)extra, d->big);
            extra += (e->size + 1) & ~(size_t)1;
        }
        if (fx_append(out, b, 12)) return -1;
    }
    memset(b, 0, 4);
    if (fx_append(out, b, 4)) return -1;
    for (int k = 0; k < d->n; k++) {
        const fx_entry *e = &d->e[k];
        if (e->size <= 4) continue;
        if (fx_append(out, e->value, e->size) || ((e->size & 1) && fx_append(out, b, 1))) return -1;
    }
    return 0;
}

int fx_exif_tiff(const fx_exif *x, fx_buf *out) {
    int big = x->big_endian;
    fx_ifd ifd0 = {big, {{0}}, 0}, exif = {big, {{0}}, 0}, gps = {big, {{0}}, 0};
    if (x->datetime_original) add_ascii(&exif, 0x9003, x->datetime_original);
    if (x->gps) {
        static const uint8_t version[4] = {2, 3, 0, 0};
        memcpy(add(&gps, 0x0000, 1, 4, 4)->value, version, 4);
        char ref[2] = {0, 0};
        if (x->lat_ref) {
            ref[0] = x->lat_ref;
            add_ascii(&gps, 0x0001, ref);
        }
        if (x->lat_n) add_rationals(&gps, 0x0002, x->lat_n, x->lat);
        if (x->lng_ref) {
            ref[0] = x->lng_ref;
            add_ascii(&gps, 0x0003, ref);
        }
        if (x->lng_n) add_rationals(&gps, 0x0004, x->lng_n, x->lng);
        if (x->alt_ref >= 0 && x->has_alt) add_byte(&gps, 0x0005, (uint8_t)x->alt_ref);
        if (x->has_alt) add_rationals(&gps, 0x0006, 1, &x->alt);
        if (x->has_time) add_rationals(&gps, 0x0007, 3, x->time);
        if (x->gps_date) add_ascii(&gps, 0x001D, x->gps_date);
    }
    if (x->orientation) add_short(&ifd0, 0x0112, (uint32_t)x->orientation);
    /* sub-IFD pointers: IFD0 at 8, then the EXIF IFD, then the GPS IFD */
    int has_exif = exif.n > 0, has_gps = gps.n > 0;
    size_t ptrs = (size_t)has_exif + (size_t)has_gps;
    size_t ifd0_size = ifd_size(&ifd0) + 12 * ptrs;
    size_t exif_at = 8 + ifd0_size, gps_at = exif_at + (has_exif ? ifd_size(&exif) : 0);
    if (has_exif) add_long(&ifd0, 0x8769, (uint32_t)exif_at);
    if (has_gps) add_long(&ifd0, 0x8825, (uint32_t)gps_at);
    uint8_t head[8] = {big ? 'M' : 'I', big ? 'M' : 'I'};
    put16(head + 2, 42, big);
    put32(head + 4, 8, big);
    size_t start = out->size;
    if (start != 0) return -1; /* offsets are relative to the buffer start */
    if (fx_append(out, head, 8) || write_ifd(&ifd0, out)) return -1;
    if (has_exif && write_ifd(&exif, out)) return -1;
    if (has_gps && write_ifd(&gps, out)) return -1;
    return 0;
}

/* ---- djpeg ---- */

int fx_have_djpeg(void) { return system("djpeg -version >/dev/null 2>&1") == 0; }

/* PPM/PGM from djpeg, as RGB. NULL when djpeg fails. */
uint8_t *fx_djpeg(const char *path, const char *scale, int *w, int *h) {
    char cmd[2300];
    snprintf(cmd, sizeof cmd, "djpeg -scale %s '%s' 2>/dev/null", scale, path);
    FILE *f = popen(cmd, "r");
    if (!f) return NULL;
    char magic[3] = {0};
    int maxval = 0;
    uint8_t *rgb = NULL;
    if (fscanf(f, "%2s %d %d %d", magic, w, h, &maxval) == 4 && maxval == 255 &&
        (!strcmp(magic, "P6") || !strcmp(magic, "P5")) && *w > 0 && *h > 0) {
        fgetc(f);
        int ch = magic[1] == '6' ? 3 : 1;
        size_t n = (size_t)*w * *h;
        rgb = malloc(n * 3);
        if (rgb && fread(rgb, ch, n, f) == n) {
            if (ch == 1)
                for (size_t i = n; i-- > 0;) rgb[3 * i] = rgb[3 * i + 1] = rgb[3 * i + 2] = rgb[i];
        } else {
            free(rgb);
            rgb = NULL;
        }
    }
    pclose(f);
    return rgb;
}

int fx_have_heif_encoder(void) { return heif_have_encoder_for_format(heif_compression_HEVC); }

static struct heif_error heif_append(struct heif_context *ctx, const void *data, size_t size,
                                     void *user) {
    (void)ctx;
    struct heif_error ok = {heif_error_Ok, heif_suberror_Unspecified, "ok"};
    struct heif_error bad = {heif_error_Memory_allocation_error, heif_suberror_Unspecified, "oom"};
    return fx_append(user, data, size) == 0 ? ok : bad;
}

int fx_heif(const uint8_t *rgb, int w, int h, int quality, int orientation, const uint8_t *exif,
            size_t exif_size, fx_buf *out) {
    struct heif_context *ctx = heif_context_alloc();
    struct heif_encoder *enc = NULL;
    struct heif_image *img = NULL;
    struct heif_image_handle *handle = NULL;
    struct heif_encoding_options *eo = heif_encoding_options_alloc();
    int rc = -1;
    if (!ctx || !eo ||
        heif_context_get_encoder_for_format(ctx, heif_compression_HEVC, &enc).code ||
        heif_encoder_set_lossy_quality(enc, quality).code ||
        heif_image_create(w, h, heif_colorspace_RGB, heif_chroma_interleaved_RGB, &img).code ||
        heif_image_add_plane(img, heif_channel_interleaved, w, h, 8).code)
        goto done;
    int stride;
    uint8_t *plane = heif_image_get_plane(img, heif_channel_interleaved, &stride);
    for (int y = 0; y < h; y++) memcpy(plane + (size_t)y * stride, rgb + (size_t)y * w * 3, (size_t)w * 3);
    if (orientation >= 1 && orientation <= 8) eo->image_orientation = (enum heif_orientation)orientation;
    if (heif_context_encode_image(ctx, img, enc, eo, &handle).code) goto done;
    if (exif && heif_context_add_exif_metadata(ctx, handle, exif, (int)exif_size).code) goto done;
    struct heif_writer writer = {1, heif_append};
    rc = heif_context_write(ctx, &writer, out).code ? -1 : 0;
done:
    if (handle) heif_image_handle_release(handle);
    if (img) heif_image_release(img);
    if (enc) heif_encoder_release(enc);
    if (eo) heif_encoding_options_free(eo);
    if (ctx) heif_context_free(ctx);
    return rc;
}

void fx_smooth(uint8_t *rgb, int w, int h) {
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            uint8_t *p = rgb + 3 * ((size_t)y * w + x);
            p[0] = (uint8_t)(x * 255 / (w - 1));
            p[1] = (uint8_t)(y * 255 / (h - 1));
            p[2] = (uint8_t)(255 - (x + y) * 127 / (w + h));
        }
}
