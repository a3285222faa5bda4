/* HEIF/HEIC photos (libheif). Fixtures are encoded here with libheif's
 * HEVC encoder (x265, in Debian's libheif1; the test skips with exit 77
 * when it is missing): a known image with an Exif item holding a GPS
 * position and an EXIF orientation 6, and the same image stored with the
 * container rotation irot/imir for orientation 6. Checked:
 * - the format is recognised from the bytes, metadata reads the GPS
 *   position exactly, the size as displayed and orientation 1;
 * - decoded pixels are the known image within a lossy tolerance, NOT
 *   rotated by the EXIF orientation; the container rotation is applied
 *   (pixels = the image turned 90 degrees clockwise);
 * - pixel for pixel what libheif's heif-convert writes (when installed);
 * - max_pixels and max_file_bytes, cut files (errors name the file),
 *   geoloc_image_load / geoloc_photo_meta_load by path. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "geoloc/exif.h"
#include "geoloc/image.h"
#include "image_fixtures.h"
#include "test_util.h"

enum { W = 96, H = 64 };

/* Mean and max absolute difference of two RGB images of n pixels. */
static void diff(const uint8_t *a, const uint8_t *b, size_t n, double *mean, int *max) {
    double sum = 0;
    *max = 0;
    for (size_t k = 0; k < n * 3; k++) {
        int d = abs((int)a[k] - (int)b[k]);
        sum += d;
        if (d > *max) *max = d;
    }
    *mean = sum / (double)(n * 3);
}

/* The byte offset just after the k-th (0-based) occurrence of a 4-byte box
 * type in a file, or 0. */
static size_t after_box_type(const uint8_t *bytes, size_t size, const char *type, int k) {
    for (size_t at = 0; at + 4 <= size; at++)
        if (!memcmp(bytes + at, type, 4) && k-- == 0) return at + 4;
    return 0;
}

static void put_be(uint8_t *p, uint32_t v, int n) {
    for (int k = 0; k < n; k++) p[k] = (uint8_t)(v >> (8 * (n - 1 - k)));
}

/* Decodes a HEIF held in memory with the default options. */
static geoloc_status decode_bytes(const uint8_t *bytes, size_t size, const char *name,
                                  geoloc_image *img, geoloc_error *err) {
    memset(img, 0, sizeof *img);
    memset(err, 0, sizeof *err);
    return geoloc_image_decode(bytes, size, name, NULL, img, err);
}

/* A 1 KB file whose grid descriptor (in idat) claims a 28009x28005 canvas
 * behind a 16x24 image, one 64x64 tile (found by fuzz_decode_heif: 4.6 GB
 * and a minute before the fix): refused at once by the size limit, nothing
 * allocated for it. Two variants made from its bytes:
 * - the grid item's ispe changed to 1x28672 (4 thousand pixels, so the
 *   area passes, while libheif would size the canvas by the longest side:
 *   another fuzz find, 1.5 GB): refused by the side limit;
 * - the descriptor made to agree with the image (16x24, as in every real
 *   grid HEIC, e.g. an iPhone's) and its rotation removed: decoded to
 *   16x24, not refused by the limit that guards the canvas. */
static void grid_bombs(const char *test_data) {
    char path[4096];
    snprintf(path, sizeof path, "%s/heif_grid_bomb.heic", test_data);
    size_t size;
    uint8_t *bytes = test_read_file(path, &size);
    geoloc_image img;
    geoloc_error err;
    geoloc_status st = decode_bytes(bytes, size, "bomb.heic", &img, &err);
    CHECK(st != GEOLOC_OK && strstr(err.message, "bomb.heic") && strstr(err.message, "28009x28005"),
          "a grid claiming 28009x28005 is refused: %s", st == GEOLOC_OK ? "decoded" : err.message);

    size_t grid_ispe = after_box_type(bytes, size, "ispe", 1),
           idat = after_box_type(bytes, size, "idat", 0);
    CHECK(grid_ispe && idat && grid_ispe + 12 <= size && idat + 8 <= size, "fixture boxes found");
    uint8_t *thin = malloc(size);
    memcpy(thin, bytes, size);
    put_be(thin + grid_ispe + 4, 1, 4);
    put_be(thin + grid_ispe + 8, 28672, 4);
    st = decode_bytes(thin, size, "thin.heic", &img, &err);
    CHECK(st == GEOLOC_E_RANGE && strstr(err.message, "thin.heic") &&
              strstr(err.message, "side of 28672 pixels"),
          "a 1x28672 grid image is refused by the side limit: %s",
          st == GEOLOC_OK ? "decoded" : err.message);
    free(thin);

    put_be(bytes + idat + 4, 16, 2); /* output width, height (16-bit fields) */
    put_be(bytes + idat + 6, 24, 2);
    size_t irot = after_box_type(bytes, size, "irot", 0);
    CHECK(irot && irot < size, "fixture irot found");
    bytes[irot] = 0; /* no rotation (listed before ispe, libheif 1.15 would not turn the size) */
    st = decode_bytes(bytes, size, "grid.heic", &img, &err);
    CHECK(st == GEOLOC_OK && img.width == 16 && img.height == 24,
          "a grid whose canvas is its image size decodes: %s (%dx%d)",
          st == GEOLOC_OK ? "ok" : err.message, img.width, img.height);
    geoloc_image_free(&img);
    free(bytes);
}

int main(int argc, char **argv) {
    if (argc > 2) grid_bombs(argv[2]);
    if (!fx_have_heif_encoder()) {
        printf("SKIP: libheif has no HEVC encoder here (Debian's libheif1 brings x265)\n");
        return 77;
    }
    static uint8_t rgb[W * H * 3], turned[W * H * 3];
    fx_smooth(rgb, W, H);
    /* orientation 6 (90 degrees clockwise): displayed (x, y) = stored (y, H-1-x) */
    for (int y = 0; y < W; y++)
        for (int x = 0; x < H; x++)
            memcpy(turned + 3 * ((size_t)y * H + x), rgb + 3 * ((size_t)(H - 1 - x) * W + y), 3);

    fx_exif ex = {0};
    ex.orientation = 6; /* informative in HEIF: must not be applied */
    ex.gps = 1;
    ex.lat_n = ex.lng_n = 3;
    uint32_t lat[3][2] = {{48, 1}, {51, 1}, {2988, 100}}, lng[3][2] = {{2, 1}, {17, 1}, {402, 10}};
    memcpy(ex.lat, lat, sizeof lat);
    memcpy(ex.lng, lng, sizeof lng);
    ex.lat_ref = 'N';
    ex.lng_ref = 'W';
    ex.alt_ref = -1;
    ex.datetime_original = "2024:05:06 07:08:09";
    fx_buf tiff = {0}, plain = {0}, rotated = {0};
    CHECK(fx_exif_tiff(&ex, &tiff) == 0, "EXIF");
    CHECK(fx_heif(rgb, W, H, 90, 0, tiff.data, tiff.size, &plain) == 0, "HEIC encode");
    CHECK(fx_heif(rgb, W, H, 90, 6, NULL, 0, &rotated) == 0, "HEIC encode (irot)");
    if (!plain.size || !rotated.size) TEST_END();

    /* format and metadata */
    CHECK(geoloc_image_detect(plain.data, plain.size) == GEOLOC_FORMAT_HEIF, "not detected");
    geoloc_photo_meta m;
    geoloc_error e = {0};
    CHECK(geoloc_photo_meta_read(plain.data, plain.size, "p.heic", &m, &e) == GEOLOC_OK,
          "metadata: %s", e.message);
    double want_lat = 48.0 + 51.0 / 60.0 + (2988.0 / 100.0) / 3600.0;
    double want_lng = -(2.0 + 17.0 / 60.0 + (402.0 / 10.0) / 3600.0);
    CHECK(m.width == W && m.height == H && m.orientation == 1 && !m.has_orientation,
          "size %dx%d orientation %d", m.width, m.height, m.orientation);
    CHECK(m.has_gps && m.lat == want_lat && m.lng == want_lng, "GPS %d %.9f %.9f", m.has_gps,
          m.lat, m.lng);
    CHECK(m.has_datetime && !strcmp(m.datetime, "2024:05:06 07:08:09"), "datetime '%s'",
          m.datetime);
    CHECK(geoloc_photo_meta_read(rotated.data, rotated.size, "r.heic", &m, &e) == GEOLOC_OK &&
              m.width == H && m.height == W && m.orientation == 1 && !m.has_gps,
          "rotated metadata: %s %dx%d", e.message, m.width, m.height);

    /* pixels: lossy, close to the known image; EXIF orientation not applied */
    geoloc_image img;
    double mean;
    int max;
    CHECK(geoloc_image_decode(plain.data, plain.size, "p.heic", NULL, &img, &e) == GEOLOC_OK &&
              img.width == W && img.height == H && img.n_warnings == 0,
          "decode: %s %dx%d", e.message, img.width, img.height);
    if (img.rgb) {
        diff(img.rgb, rgb, (size_t)W * H, &mean, &max);
        CHECK(mean < 3.0 && max < 40, "pixels: mean error %.2f, max %d", mean, max);
        printf("HEIC q90 %dx%d: mean |error| %.2f, max %d\n", W, H, mean, max);
    }
    geoloc_image_free(&img);
    /* the container's rotation is applied, also with ignore_orientation */
    for (int ignore = 0; ignore < 2; ignore++) {
        geoloc_decode_options o = {0};
        o.ignore_orientation = ignore;
        CHECK(geoloc_image_decode(rotated.data, rotated.size, "r.heic", &o, &img, &e) ==
                      GEOLOC_OK &&
                  img.width == H && img.height == W,
              "rotated decode: %s %dx%d", e.message, img.width, img.height);
        if (img.rgb) {
            diff(img.rgb, turned, (size_t)W * H, &mean, &max);
            CHECK(mean < 3.0 && max < 40, "rotated pixels: mean error %.2f, max %d", mean, max);
        }
        geoloc_image_free(&img);
    }

    /* by path, and against libheif's own heif-convert */
    char dir[] = "/tmp/geoloc_test_heif_XXXXXX";
    test_make_temp_dir(dir);
    char path[600], png[600], cmd[1400];
    snprintf(path, sizeof path, "%s/photo.heic", dir);
    snprintf(png, sizeof png, "%s/ref.png", dir);
    fx_write_file(path, plain.data, plain.size);
    CHECK(geoloc_photo_meta_load(path, &m, &e) == GEOLOC_OK && m.has_gps && m.lat == want_lat,
          "meta load: %s", e.message);
    CHECK(geoloc_image_load(path, NULL, &img, &e) == GEOLOC_OK && img.width == W, "load: %s",
          e.message);
    snprintf(cmd, sizeof cmd, "heif-convert '%s' '%s' >/dev/null 2>&1", path, png);
    if (system("heif-convert --help >/dev/null 2>&1") != 127 && system(cmd) == 0) {
        geoloc_image ref;
        geoloc_decode_options as_stored = {0}; /* heif-convert copies the EXIF (orientation 6) */
        as_stored.ignore_orientation = 1;
        CHECK(geoloc_image_load(png, &as_stored, &ref, &e) == GEOLOC_OK && ref.width == W &&
                  ref.height == H && img.rgb,
              "heif-convert's decode: %s %dx%d", e.message, ref.width, ref.height);
        if (ref.rgb && img.rgb) {
            diff(img.rgb, ref.rgb, (size_t)W * H, &mean, &max);
            printf("against heif-convert: mean |difference| %.3f, max %d\n", mean, max);
            CHECK(max == 0, "differs from heif-convert's decode: mean %.3f, max %d", mean, max);
        }
        geoloc_image_free(&ref);
    } else {
        printf("heif-convert not installed (libheif-examples): not compared with it\n");
    }
    geoloc_image_free(&img);
    test_remove_tree(dir);

    /* limits */
    geoloc_decode_options o = {0};
    o.max_pixels = W * H - 1;
    CHECK(geoloc_image_decode(plain.data, plain.size, "p.heic", &o, &img, &e) == GEOLOC_E_RANGE &&
              strstr(e.message, "p.heic") && strstr(e.message, "max_pixels"),
          "max_pixels: %s", e.message);
    o.max_pixels = W * H;
    o.max_file_bytes = plain.size - 1;
    CHECK(geoloc_image_decode(plain.data, plain.size, "p.heic", &o, &img, &e) == GEOLOC_E_RANGE &&
              strstr(e.message, "max_file_bytes"),
          "max_file_bytes: %s", e.message);

    /* cut files: an error naming the file, or an image (never a crash) */
    int wrong = 0, refused = 0;
    for (size_t n = 0; n < plain.size; n += 13) {
        fx_buf cut = {0};
        fx_append(&cut, plain.data, n);
        geoloc_status st = geoloc_image_decode(cut.data, cut.size, "cut.heic", NULL, &img, &e);
        if (st != GEOLOC_OK) {
            refused++;
            if (st != GEOLOC_E_PARSE || strncmp(e.message, "cut.heic: ", 10) != 0) wrong++;
        }
        geoloc_image_free(&img);
        fx_free(&cut);
    }
    CHECK(wrong == 0 && refused > 0, "cut HEIC files: %d wrong, %d refused", wrong, refused);
    fx_free(&tiff);
    fx_free(&plain);
    fx_free(&rotated);
    TEST_END();
}
