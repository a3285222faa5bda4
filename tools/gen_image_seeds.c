/* Writes the committed seed corpora of the decoder fuzz targets: tiny
 * generated images (no photo content) in fuzz/seeds/fuzz_decode_{jpeg,png,webp,heif}/.
 * Built with the tests (build/tools/gen_image_seeds); run by hand:
 *   build/tools/gen_image_seeds fuzz/seeds */
#include <errno.h>
#include <png.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "image_fixtures.h"

static int failures;

static void save(const char *dir, const char *target, const char *name, const fx_buf *b) {
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, target);
    if (mkdir(path, 0777) != 0 && errno != EEXIST) failures++;
    snprintf(path, sizeof path, "%s/%s/%s", dir, target, name);
    if (!b->size || fx_write_file(path, b->data, b->size) != 0) {
        fprintf(stderr, "gen_image_seeds: cannot write %s\n", path);
        failures++;
    }
}

static fx_exif gps_exif(int big, int orientation) {
    fx_exif x;
    memset(&x, 0, sizeof x);
    x.big_endian = big;
    x.orientation = orientation;
    x.gps = 1;
    x.lat_n = x.lng_n = 3;
    const uint32_t lat[3][2] = {{48, 1}, {51, 1}, {2950, 100}},
                   lng[3][2] = {{2, 1}, {17, 1}, {4020, 100}};
    memcpy(x.lat, lat, sizeof lat);
    memcpy(x.lng, lng, sizeof lng);
    x.lat_ref = 'N';
    x.lng_ref = big ? 'W' : 'E';
    x.has_alt = 1;
    x.alt[0] = 355;
    x.alt[1] = 10;
    x.alt_ref = 0;
    x.gps_date = "2019:07:14";
    x.has_time = 1;
    const uint32_t t[3][2] = {{12, 1}, {30, 1}, {15, 1}};
    memcpy(x.time, t, sizeof t);
    x.datetime_original = "2019:07:14 14:30:15";
    return x;
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: gen_image_seeds OUT_DIR (e.g. fuzz/seeds)\n");
        return 2;
    }
    const char *dir = argv[1];
    if (mkdir(dir, 0777) != 0 && errno != EEXIST) {
        fprintf(stderr, "gen_image_seeds: cannot create %s: %s\n", dir, strerror(errno));
        return 1;
    }
    enum { W = 24, H = 16 };
    static uint8_t rgb[W * H * 3], grey[W * H], cmyk[W * H * 4], rgba[W * H * 4], rows[W * H * 8];
    fx_pattern(rgb, W, H);
    for (int k = 0; k < W * H; k++) {
        grey[k] = rgb[3 * k];
        memcpy(cmyk + 4 * k, rgb + 3 * k, 3);
        cmyk[4 * k + 3] = (uint8_t)(255 - k);
        memcpy(rgba + 4 * k, rgb + 3 * k, 3);
        rgba[4 * k + 3] = (uint8_t)(k * 3);
    }
    fx_buf tiff_le = {0}, tiff_be = {0};
    fx_exif x = gps_exif(0, 6);
    fx_exif_tiff(&x, &tiff_le);
    x = gps_exif(1, 3);
    fx_exif_tiff(&x, &tiff_be);

    /* JPEG */
    static const struct {
        const char *name;
        fx_jpeg_opts o;
        int exif; /* 0 none, 1 LE, 2 BE */
    } jpegs[] = {
        {"baseline.jpg", {3, 75, 0, 0, 0, 0, 0}, 0},
        {"progressive.jpg", {3, 75, 1, 0, 0, 0, 0}, 0},
        {"restart.jpg", {3, 75, 0, 0, 1, 1, 0}, 0},
        {"grey.jpg", {1, 75, 0, 0, 0, 0, 0}, 0},
        {"grey-prog.jpg", {1, 75, 1, 0, 0, 0, 0}, 0},
        {"cmyk-adobe.jpg", {4, 75, 0, 0, 0, 0, 0}, 0},
        {"ycck.jpg", {4, 75, 0, 1, 0, 0, 0}, 0},
        {"cmyk-plain.jpg", {4, 75, 0, 0, 0, 0, 1}, 0},
        {"exif-le-o6.jpg", {3, 75, 0, 0, 0, 0, 0}, 1},
        {"exif-be-o3-prog.jpg", {3, 75, 1, 0, 1, 0, 0}, 2},
    };
    for (size_t k = 0; k < sizeof jpegs / sizeof jpegs[0]; k++) {
        const fx_jpeg_opts *o = &jpegs[k].o;
        const uint8_t *px = o->components == 1 ? grey : o->components == 4 ? cmyk : rgb;
        fx_buf j = {0}, jx = {0};
        fx_jpeg(px, W, H, o, &j);
        if (jpegs[k].exif) {
            const fx_buf *t = jpegs[k].exif == 1 ? &tiff_le : &tiff_be;
            fx_jpeg_with_exif(j.data, j.size, t->data, t->size, &jx);
            save(dir, "fuzz_decode_jpeg", jpegs[k].name, &jx);
        } else {
            save(dir, "fuzz_decode_jpeg", jpegs[k].name, &j);
        }
        fx_free(&j);
        fx_free(&jx);
    }

    /* PNG */
    uint8_t palette[16 * 3], trns[16];
    for (int i = 0; i < 16; i++) {
        palette[3 * i] = (uint8_t)(i * 16);
        palette[3 * i + 1] = (uint8_t)(255 - i * 16);
        palette[3 * i + 2] = (uint8_t)(i * 7);
        trns[i] = (uint8_t)(i * 17);
    }
    static const struct {
        const char *name;
        int type, depth, interlace, exif;
    } pngs[] = {
        {"rgb8.png", PNG_COLOR_TYPE_RGB, 8, 0, 0},
        {"rgb8-adam7-exif.png", PNG_COLOR_TYPE_RGB, 8, 1, 1},
        {"rgb16.png", PNG_COLOR_TYPE_RGB, 16, 0, 0},
        {"grey1.png", PNG_COLOR_TYPE_GRAY, 1, 0, 0},
        {"grey4-adam7.png", PNG_COLOR_TYPE_GRAY, 4, 1, 0},
        {"grey16.png", PNG_COLOR_TYPE_GRAY, 16, 0, 2},
        {"grey-alpha.png", PNG_COLOR_TYPE_GRAY_ALPHA, 8, 0, 0},
        {"rgba-adam7.png", PNG_COLOR_TYPE_RGB_ALPHA, 8, 1, 0},
        {"palette4-trns.png", PNG_COLOR_TYPE_PALETTE, 4, 0, 0},
    };
    for (size_t k = 0; k < sizeof pngs / sizeof pngs[0]; k++) {
        int ch = pngs[k].type == PNG_COLOR_TYPE_RGB         ? 3
                 : pngs[k].type == PNG_COLOR_TYPE_RGB_ALPHA ? 4
                 : pngs[k].type == PNG_COLOR_TYPE_GRAY_ALPHA ? 2
                                                             : 1;
        size_t bytes = ((size_t)W * ch * pngs[k].depth + 7) / 8 * H;
        for (size_t i = 0; i < bytes; i++) rows[i] = (uint8_t)(rgb[i % sizeof rgb] ^ (i >> 3));
        const fx_buf *t = pngs[k].exif == 1 ? &tiff_le : pngs[k].exif == 2 ? &tiff_be : NULL;
        fx_png_opts o = {pngs[k].type, pngs[k].depth, pngs[k].interlace,
                         pngs[k].type == PNG_COLOR_TYPE_PALETTE ? palette : NULL, 16,
                         pngs[k].type == PNG_COLOR_TYPE_PALETTE ? trns : NULL, 16,
                         t ? t->data : NULL, t ? t->size : 0};
        fx_buf b = {0};
        fx_png(rows, W, H, &o, &b);
        save(dir, "fuzz_decode_png", pngs[k].name, &b);
        fx_free(&b);
    }

    /* WebP */
    static const struct {
        const char *name;
        int channels, lossless, exif;
    } webps[] = {
        {"lossy.webp", 3, 0, 0},         {"lossless.webp", 3, 1, 0},
        {"lossy-alpha.webp", 4, 0, 0},   {"lossless-alpha.webp", 4, 1, 0},
        {"lossy-exif.webp", 3, 0, 1},    {"lossless-exif.webp", 3, 1, 2},
    };
    for (size_t k = 0; k < sizeof webps / sizeof webps[0]; k++) {
        const fx_buf *t = webps[k].exif == 1 ? &tiff_le : webps[k].exif == 2 ? &tiff_be : NULL;
        fx_buf b = {0};
        fx_webp(webps[k].channels == 4 ? rgba : rgb, W, H, webps[k].channels, webps[k].lossless,
                60, t ? t->data : NULL, t ? t->size : 0, &b);
        save(dir, "fuzz_decode_webp", webps[k].name, &b);
        fx_free(&b);
    }
    /* HEIC (libheif's x265 encoder): plain, with EXIF GPS, with the
     * container rotation of orientation 6 */
    static const struct {
        const char *name;
        int orientation, exif;
    } heifs[] = {{"plain.heic", 0, 0}, {"exif.heic", 0, 1}, {"irot.heic", 6, 2}};
    for (size_t k = 0; k < sizeof heifs / sizeof heifs[0]; k++) {
        const fx_buf *t = heifs[k].exif == 1 ? &tiff_le : heifs[k].exif == 2 ? &tiff_be : NULL;
        fx_buf b = {0};
        fx_heif(rgb, W, H, 50, heifs[k].orientation, t ? t->data : NULL, t ? t->size : 0, &b);
        save(dir, "fuzz_decode_heif", heifs[k].name, &b);
        fx_free(&b);
    }
    fx_free(&tiff_le);
    fx_free(&tiff_be);
    if (failures) return 1;
    printf("gen_image_seeds: wrote %zu JPEG, %zu PNG, %zu WebP, %zu HEIC seeds under %s\n",
           sizeof jpegs / sizeof jpegs[0], sizeof pngs / sizeof pngs[0],
           sizeof webps / sizeof webps[0], sizeof heifs / sizeof heifs[0], dir);
    return 0;
}
