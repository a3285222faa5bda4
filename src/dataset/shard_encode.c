/* Turning one photo file into the bytes a shard stores, as the reference
 * implementation stores its photos: decode (JPEGs with libjpeg's DCT scaling
 * down to no less than the target size), resize so the shorter side is the
 * target and the longer int(side * long / short) with the antialiased
 * triangle filter of geoloc/transform.h (PIL's BILINEAR), never enlarging,
 * and re-encode as baseline JPEG with libjpeg-turbo. */
#include "dataset/shard_encode.h"

#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h>
#include <jerror.h>

#include "core/error.h"
#include "geoloc/exif.h"
#include "geoloc/transform.h"
#include "io/regular_file.h"

#define MAX_FILE_BYTES ((uint64_t)256 << 20)

void shard_target_size(int w, int h, int side, int *out_w, int *out_h) {
    *out_w = w;
    *out_h = h;
    if (side <= 0 || (w < h ? w : h) <= side) return; /* never enlarge */
    if (geoloc_resize_shorter_size(w, h, side, out_w, out_h) != GEOLOC_OK) {
        *out_w = w;
        *out_h = h;
    }
}

/* ---- JPEG encoding ---------------------------------------------------------- */

typedef struct {
    struct jpeg_error_mgr pub;
    jmp_buf jump;
    char message[JMSG_LENGTH_MAX];
} jpeg_failure;

static void on_jpeg_error(j_common_ptr c) {
    jpeg_failure *f = (jpeg_failure *)c->err;
    c->err->format_message(c, f->message);
    longjmp(f->jump, 1);
}

/* Destination growing a malloc'd buffer (libjpeg's own memory destination
 * can leave a stale pointer behind when encoding fails half-way). */
typedef struct {
    struct jpeg_destination_mgr pub;
    uint8_t *buf;
    size_t cap;
} grow_dest;

static void dest_init(j_compress_ptr c) {
    grow_dest *d = (grow_dest *)c->dest;
    d->pub.next_output_byte = d->buf;
    d->pub.free_in_buffer = d->cap;
}

static boolean dest_grow(j_compress_ptr c) {
    grow_dest *d = (grow_dest *)c->dest;
    size_t used = d->cap; /* libjpeg calls this only when the buffer is full */
    uint8_t *p = realloc(d->buf, d->cap * 2);
    if (!p) ERREXIT(c, JERR_OUT_OF_MEMORY);
    d->buf = p;
    d->cap *= 2;
    d->pub.next_output_byte = d->buf + used;
    d->pub.free_in_buffer = d->cap - used;
    return TRUE;
}

static void dest_term(j_compress_ptr c) { (void)c; }

typedef struct {
    struct jpeg_compress_struct c;
    jpeg_failure fail;
    grow_dest dest;
} jpeg_job;

geoloc_status shard_encode_jpeg(const geoloc_image *img, int quality, uint8_t **data,
                                size_t *size, geoloc_error *err) {
    *data = NULL;
    *size = 0;
    jpeg_job *j = calloc(1, sizeof *j); /* on the heap: nothing to lose across longjmp */
    if (!j || !(j->dest.buf = malloc(j->dest.cap = 64 * 1024))) {
        free(j);
        return error_set(err, GEOLOC_E_NOMEM, "jpeg: out of memory");
    }
    j->c.err = jpeg_std_error(&j->fail.pub);
    j->fail.pub.error_exit = on_jpeg_error;
    if (setjmp(j->fail.jump)) {
        geoloc_status st = error_set(err, GEOLOC_E_IO, "jpeg encoding failed: %s", j->fail.message);
        jpeg_destroy_compress(&j->c);
        free(j->dest.buf);
        free(j);
        return st;
    }
    jpeg_create_compress(&j->c);
    j->dest.pub.init_destination = dest_init;
    j->dest.pub.empty_output_buffer = dest_grow;
    j->dest.pub.term_destination = dest_term;
    j->c.dest = &j->dest.pub;
    j->c.image_width = (JDIMENSION)img->width;
    j->c.image_height = (JDIMENSION)img->height;
    j->c.input_components = 3;
    j->c.in_color_space = JCS_RGB;
    jpeg_set_defaults(&j->c);
    jpeg_set_quality(&j->c, quality, TRUE);
    /* no optimize_coding: 2% smaller files for twice the encoding time */
    jpeg_start_compress(&j->c, TRUE);
    while (j->c.next_scanline < j->c.image_height) {
        JSAMPROW row = (JSAMPROW)(img->rgb + (size_t)j->c.next_scanline * (size_t)img->width * 3);
        jpeg_write_scanlines(&j->c, &row, 1);
    }
    jpeg_finish_compress(&j->c);
    *size = j->dest.cap - j->dest.pub.free_in_buffer;
    *data = j->dest.buf;
    jpeg_destroy_compress(&j->c);
    free(j);
    return GEOLOC_OK;
}

/* ---- one photo ------------------------------------------------------------------ */

static geoloc_status read_file(const char *path, uint8_t **data, size_t *size, geoloc_error *err) {
    geoloc_status st =
        regular_file_read(path, MAX_FILE_BYTES, "the photo size limit", data, size, err);
    if (st == GEOLOC_OK && *size == 0) {
        free(*data);
        *data = NULL;
        return error_set(err, GEOLOC_E_RANGE, "%s: empty file", path);
    }
    return st;
}

/* 1 if a w x h decode is the full_w x full_h image DCT-scaled by 1, 1/2, 1/4
 * or 1/8 (sides rounded up, as libjpeg does). */
static int is_scaled_from(int full_w, int full_h, int w, int h) {
    for (int s = 1; s <= 8 && full_w > 0 && full_h > 0; s *= 2)
        if ((full_w + s - 1) / s == w && (full_h + s - 1) / s == h) return 1;
    return 0;
}

geoloc_status shard_encode_photo(const char *path, int side, int quality, shard_photo *out,
                                 geoloc_error *err) {
    memset(out, 0, sizeof *out);
    geoloc_image img = {0};
    geoloc_status st;
    if (side < 0) { /* keep the file, once it is known to decode */
        if ((st = read_file(path, &out->data, &out->size, err)) != GEOLOC_OK) return st;
        st = geoloc_image_decode(out->data, out->size, path, NULL, &img, err);
        if (st != GEOLOC_OK) {
            free(out->data);
            out->data = NULL;
            return st;
        }
        out->width = img.width;
        out->height = img.height;
        geoloc_image_free(&img);
        return GEOLOC_OK;
    }
    /* the target size from the full size in the header (as the reference
     * computes it), not from the DCT-scaled decode, whose sides are rounded */
    uint8_t *file;
    size_t file_size;
    if ((st = read_file(path, &file, &file_size, err)) != GEOLOC_OK) return st;
    geoloc_photo_meta meta;
    geoloc_error meta_err;
    int full_w = 0, full_h = 0;
    if (geoloc_photo_meta_read(file, file_size, path, &meta, &meta_err) == GEOLOC_OK) {
        int swap = meta.orientation >= 5 && meta.orientation <= 8;
        full_w = swap ? meta.height : meta.width;
        full_h = swap ? meta.width : meta.height;
    }
    geoloc_decode_options opt = {0};
    opt.min_shorter_side = side;
    st = geoloc_image_decode(file, file_size, path, &opt, &img, err);
    free(file);
    if (st != GEOLOC_OK) return st;
    if (!is_scaled_from(full_w, full_h, img.width, img.height)) full_w = img.width, full_h = img.height;
    int w, h;
    shard_target_size(full_w, full_h, side, &w, &h);
    if (w != img.width || h != img.height) {
        geoloc_image small;
        st = geoloc_image_resize(&img, w, h, &small, err);
        geoloc_image_free(&img);
        if (st != GEOLOC_OK) return st;
        img = small;
    }
    st = shard_encode_jpeg(&img, quality, &out->data, &out->size, err);
    out->width = img.width;
    out->height = img.height;
    geoloc_image_free(&img);
    return st;
}
