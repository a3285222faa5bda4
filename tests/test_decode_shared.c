/* geoloc_image_decode on the shared photos (skipped with a message when
 * ../shared/data is absent):
 * - every exif-photos file: decoded size = the JPEG/WebP header's size
 *   (geoloc_photo_meta_read), DCT-scaled by the expected factor, width and
 *   height swapped for EXIF orientations 5-8; es-corrupted.jpg (damaged
 *   entropy data) decodes with libjpeg's warning, and is refused with a
 *   message naming it when strict;
 * - a sample of ~100 Im2GPS3k dev photos (every 20th): full-size decode,
 *   size = header size, shorter side <= 320 as the data README says; the
 *   mean decode time is printed;
 * - pixel for pixel against libjpeg-turbo's own djpeg (when installed,
 *   Debian libjpeg-turbo-progs) at full size and at scales 1/2, 1/4, 1/8,
 *   (test_decode compares generated JPEGs with djpeg too). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "geoloc/exif.h"
#include "geoloc/image.h"
#include "image_fixtures.h"
#include "test_util.h"

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* Expected DCT-scaled size (the test's own statement of the rule). */
static void expected_size(int w, int h, int min_side, int *ew, int *eh) {
    int d = 1, shorter = w < h ? w : h;
    if (min_side > 0)
        for (int k = 8; k > 1; k /= 2)
            if ((shorter + k - 1) / k >= min_side) {
                d = k;
                break;
            }
    *ew = (w + d - 1) / d;
    *eh = (h + d - 1) / d;
}

static void test_exif_photos(const char *shared) {
    static const char *files[] = {
        "es-corrupted.jpg", "es-gps-DSCN0010.jpg", "es-gps-DSCN0012.jpg", "es-gps-DSCN0021.jpg",
        "es-gps-DSCN0025.jpg", "es-gps-DSCN0027.jpg", "es-gps-DSCN0029.jpg", "es-gps-DSCN0038.jpg",
        "es-gps-DSCN0040.jpg", "es-gps-DSCN0042.jpg", "es-kodak-cx7530.jpg",
        "es-test-67-0-length-string.jpg", "es-test-87-oserror.jpg", "mx-apple-iphone-4.jpg",
        "mx-apple-iphone-5.jpg", "mx-apple-iphone-6-plus.jpg", "mx-flir-iphone-device.jpg",
        "mx-fujifilm-finepix-s2pro.jpg", "mx-htc-desire.jpg", "mx-issue-173.jpg",
        "mx-issue-508-1x1.jpg", "mx-leica-t-no-gps.jpg", "mx-nexus-4.jpg",
        "mx-nikon-d5000-no-gps.jpg", "mx-nokia-lumia-800.jpg", "mx-olympus-fe230.jpg",
        "mx-oppo-r7-plus.jpg", "mx-panasonic-lx3.jpg", "mx-sony-hx5v.jpg", "mx-htc-desire.webp"};
    int decoded = 0;
    for (size_t k = 0; k < sizeof files / sizeof files[0]; k++) {
        char path[2048];
        snprintf(path, sizeof path, "%s/exif-photos/%s", shared, files[k]);
        size_t size;
        uint8_t *data = test_read_file(path, &size);
        if (!data) {
            CHECK(0, "%s: cannot read", path);
            continue;
        }
        geoloc_photo_meta m;
        geoloc_error e = {0};
        CHECK(geoloc_photo_meta_read(data, size, files[k], &m, &e) == GEOLOC_OK, "%s", e.message);
        /* the big ones DCT-scaled (fast also under sanitizers), one at full size */
        int full = strcmp(files[k], "mx-apple-iphone-5.jpg") == 0;
        geoloc_decode_options o = {0};
        o.min_shorter_side = full ? 0 : 300;
        geoloc_image img;
        geoloc_status st = geoloc_image_decode(data, size, files[k], &o, &img, &e);
        if (!strcmp(files[k], "es-corrupted.jpg")) {
            /* damaged but decodable: the image and libjpeg's warning; refused when strict */
            int warned = 0;
            for (int w = 0; st == GEOLOC_OK && w < GEOLOC_IMAGE_MAX_WARNINGS; w++)
                warned |= strstr(img.warnings[w], "premature end of data segment") != NULL;
            CHECK(st == GEOLOC_OK && img.n_warnings >= 1 && warned,
                  "damaged JPEG: %d %s, %d warnings", st, e.message, img.n_warnings);
            geoloc_image_free(&img);
            o.strict = 1;
            st = geoloc_image_decode(data, size, files[k], &o, &img, &e);
            CHECK(st == GEOLOC_E_PARSE && strstr(e.message, files[k]) &&
                      strstr(e.message, "premature end of data segment") &&
                      strstr(e.message, "strict"),
                  "damaged JPEG, strict: %d %s", st, e.message);
        } else {
            int ew, eh;
            int webp = strstr(files[k], ".webp") != NULL;
            expected_size(m.width, m.height, webp ? 0 : o.min_shorter_side, &ew, &eh);
            if (m.orientation >= 5) {
                int t = ew;
                ew = eh;
                eh = t;
            }
            CHECK(st == GEOLOC_OK && img.width == ew && img.height == eh,
                  "%s: %s %dx%d, header %dx%d orientation %d -> expected %dx%d", files[k],
                  e.message, img.width, img.height, m.width, m.height, m.orientation, ew, eh);
            decoded += st == GEOLOC_OK;
        }
        geoloc_image_free(&img);
        free(data);
    }
    printf("exif-photos: %d of 29 decodable files decoded with the expected size\n", decoded);
}

/* Our decode at min_shorter_side (no rotation) against djpeg -scale. */
static void compare_djpeg(const char *path, const char *name, int min_side, const char *scale) {
    int dw = 0, dh = 0;
    uint8_t *ref = fx_djpeg(path, scale, &dw, &dh);
    CHECK(ref != NULL, "djpeg %s failed", path);
    if (!ref) return;
    geoloc_decode_options o = {0};
    o.min_shorter_side = min_side;
    o.ignore_orientation = 1;
    geoloc_image img;
    geoloc_error e = {0};
    CHECK(geoloc_image_load(path, &o, &img, &e) == GEOLOC_OK, "%s", e.message);
    CHECK(img.width == dw && img.height == dh && !memcmp(img.rgb, ref, (size_t)dw * dh * 3),
          "%s at %s: %dx%d differs from djpeg's %dx%d", name, scale, img.width, img.height, dw, dh);
    geoloc_image_free(&img);
    free(ref);
}

static void test_im2gps(const char *shared, int djpeg_ok) {
    char list[2048];
    snprintf(list, sizeof list, "%s/im2gps3k-dev/im2gps3k_dev.csv", shared);
    FILE *f = fopen(list, "r");
    if (!f) {
        printf("SKIP (Im2GPS3k part): %s not found\n", list);
        return;
    }
    char line[4096];
    int row = 0, n = 0, ok = 0;
    double seconds = 0;
    size_t pixels = 0;
    while (fgets(line, sizeof line, f)) {
        if (row++ == 0 || (row - 2) % 20 != 0) continue;
        line[strcspn(line, ",\r\n")] = '\0';
        char path[6000];
        snprintf(path, sizeof path, "%s/im2gps3k-dev/images/%s", shared, line);
        size_t size;
        uint8_t *data = test_read_file(path, &size);
        if (!data) {
            CHECK(0, "%s: cannot read", path);
            continue;
        }
        n++;
        geoloc_photo_meta m;
        geoloc_image img;
        geoloc_error e = {0};
        CHECK(geoloc_photo_meta_read(data, size, line, &m, &e) == GEOLOC_OK, "%s", e.message);
        double t0 = now_s();
        geoloc_status st = geoloc_image_decode(data, size, line, NULL, &img, &e);
        seconds += now_s() - t0;
        int shorter = img.width < img.height ? img.width : img.height;
        CHECK(st == GEOLOC_OK && img.width == m.width && img.height == m.height && shorter <= 320,
              "%s: %s %dx%d, header %dx%d", line, e.message, img.width, img.height, m.width,
              m.height);
        ok += st == GEOLOC_OK;
        pixels += (size_t)img.width * img.height;
        geoloc_image_free(&img);
        free(data);
        if (djpeg_ok && n <= 5) {
            compare_djpeg(path, line, 0, "1/1");
            compare_djpeg(path, line, 100, "1/2");
            compare_djpeg(path, line, 80, "1/4");
            compare_djpeg(path, line, 1, "1/8");
        }
    }
    fclose(f);
    CHECK(n >= 90, "only %d Im2GPS3k photos sampled", n);
    printf("Im2GPS3k: %d of %d sampled photos decoded; %.3f ms per photo (%.1f Mpixel/s)\n", ok, n,
           n ? 1e3 * seconds / n : 0.0, seconds > 0 ? (double)pixels / seconds / 1e6 : 0.0);
}

int main(int argc, char **argv) {
    const char *shared = argc > 1 ? argv[1] : "../shared/data";
    if (access(shared, R_OK) != 0) {
        printf("SKIP: shared data not found at %s (photos are not in the repository)\n", shared);
        return 77;
    }
    int djpeg_ok = fx_have_djpeg();
    if (!djpeg_ok) printf("note: djpeg not installed (libjpeg-turbo-progs): no pixel comparison\n");
    test_exif_photos(shared);
    test_im2gps(shared, djpeg_ok);
    if (djpeg_ok) {
        char path[2048];
        snprintf(path, sizeof path, "%s/exif-photos/mx-sony-hx5v.jpg", shared);
        compare_djpeg(path, "mx-sony-hx5v.jpg", 0, "1/1");
        snprintf(path, sizeof path, "%s/exif-photos/es-kodak-cx7530.jpg", shared);
        compare_djpeg(path, "es-kodak-cx7530.jpg", 0, "1/1");
    }
    TEST_END();
}
