/* Damaged but decodable JPEGs get an answer: a photo with its last 30 % cut
 * off, and one with bytes flipped in its entropy-coded data, decode with at
 * least one warning ("JPEG: ..." from libjpeg), pixel for pixel what djpeg
 * renders of them (when djpeg is installed: djpeg must render them too),
 * and are refused with E_PARSE when strict. The clean originals decode with
 * no warning. Photos: a generated one, and the first Im2GPS3k dev photo when
 * the shared data is there. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "geoloc/image.h"
#include "image_fixtures.h"
#include "test_util.h"

static int have_djpeg;

/* Where the entropy-coded data of the first scan starts (after SOS). */
static size_t scan_start(const uint8_t *d, size_t size) {
    size_t pos = 2;
    while (pos + 4 < size && d[pos] == 0xFF && d[pos + 1] != 0xDA)
        pos += 2 + ((size_t)d[pos + 2] << 8 | d[pos + 3]);
    if (pos + 4 >= size) return 0;
    return pos + 2 + ((size_t)d[pos + 2] << 8 | d[pos + 3]);
}

/* Decodes path: OK with >= 1 warning and djpeg's pixels; E_PARSE when strict. */
static void expect_rendered(const char *path, const char *what) {
    geoloc_decode_options o = {0};
    o.ignore_orientation = 1; /* djpeg does not rotate */
    geoloc_image img;
    geoloc_error e = {0};
    geoloc_status st = geoloc_image_load(path, &o, &img, &e);
    CHECK(st == GEOLOC_OK && img.n_warnings >= 1 && !strncmp(img.warnings[0], "JPEG: ", 6) &&
              memchr(img.warnings[0], '\0', GEOLOC_IMAGE_WARNING_SIZE),
          "%s: %s, %d warnings", what, e.message, st == GEOLOC_OK ? img.n_warnings : -1);
    if (st == GEOLOC_OK)
        printf("%s: %d warnings, first: %s\n", what, img.n_warnings, img.warnings[0]);
    if (st == GEOLOC_OK && have_djpeg) {
        int dw = 0, dh = 0;
        uint8_t *ref = fx_djpeg(path, "1/1", &dw, &dh);
        CHECK(ref != NULL, "%s: djpeg does not render it", what);
        CHECK(ref && dw == img.width && dh == img.height &&
                  !memcmp(ref, img.rgb, (size_t)dw * dh * 3),
              "%s: differs from djpeg's rendering", what);
        free(ref);
    }
    geoloc_image_free(&img);
    o.strict = 1;
    st = geoloc_image_load(path, &o, &img, &e);
    CHECK(st == GEOLOC_E_PARSE && strstr(e.message, path) && strstr(e.message, "strict") &&
              img.rgb == NULL,
          "%s, strict: %d %s", what, st, e.message);
}

static void check_photo(const uint8_t *jpg, size_t size, const char *dir, const char *tag) {
    char path[700], what[200];
    /* the clean photo: no warning */
    snprintf(path, sizeof path, "%s/%s_clean.jpg", dir, tag);
    fx_write_file(path, jpg, size);
    geoloc_image img;
    geoloc_error e = {0};
    CHECK(geoloc_image_load(path, NULL, &img, &e) == GEOLOC_OK && img.n_warnings == 0 &&
              img.warnings[0][0] == '\0',
          "%s clean: %s, %d warnings (%s)", tag, e.message, img.n_warnings, img.warnings[0]);
    geoloc_image_free(&img);

    /* the last 30 % cut off */
    snprintf(path, sizeof path, "%s/%s_cut.jpg", dir, tag);
    snprintf(what, sizeof what, "%s cut to 70%%", tag);
    fx_write_file(path, jpg, size * 7 / 10);
    expect_rendered(path, what);

    /* bytes flipped in the entropy-coded data (never making or breaking a
     * 0xFF there), and two of them set to a restart marker (FF D5) in a
     * photo without restart intervals: flipped Huffman bits alone often
     * still decode as valid codes, with nothing a decoder could notice */
    size_t start = scan_start(jpg, size);
    CHECK(start > 0 && start < size / 2, "%s: no scan data found", tag);
    uint8_t *bad = malloc(size);
    memcpy(bad, jpg, size);
    int flipped = 0;
    size_t step = (size - start) / 20;
    for (size_t k = start + (size - start) / 3; k < size - 2 && flipped < 8; k += step) {
        if (bad[k] == 0xFF || bad[k - 1] == 0xFF || (bad[k] ^ 0x24) == 0xFF) continue;
        bad[k] ^= 0x24;
        flipped++;
    }
    size_t mid = start + (size - start) / 2;
    while (bad[mid - 1] == 0xFF) mid++;
    bad[mid] = 0xFF;
    bad[mid + 1] = 0xD5;
    snprintf(path, sizeof path, "%s/%s_flipped.jpg", dir, tag);
    snprintf(what, sizeof what, "%s with %d flipped bytes", tag, flipped);
    fx_write_file(path, bad, size);
    expect_rendered(path, what);
    free(bad);
}

int main(int argc, char **argv) {
    have_djpeg = fx_have_djpeg();
    if (!have_djpeg) printf("djpeg not installed: its renderings are not compared\n");
    char dir[] = "/tmp/geoloc_test_damaged_XXXXXX";
    test_make_temp_dir(dir);

    enum { W = 640, H = 480 };
    uint8_t *rgb = malloc((size_t)W * H * 3);
    fx_pattern(rgb, W, H);
    fx_buf jpg = {0};
    CHECK(fx_jpeg(rgb, W, H, NULL, &jpg) == 0, "JPEG encode");
    check_photo(jpg.data, jpg.size, dir, "generated");
    fx_free(&jpg);
    free(rgb);

    /* a real photo from the shared data, when present */
    const char *shared = argc > 1 ? argv[1] : "../shared/data";
    char images[1024];
    snprintf(images, sizeof images, "%s/im2gps3k-dev/images", shared);
    DIR *d = opendir(images);
    if (d) {
        char first[256] = "";
        struct dirent *ent;
        while ((ent = readdir(d)))
            if (strstr(ent->d_name, ".jpg") && (!first[0] || strcmp(ent->d_name, first) < 0))
                snprintf(first, sizeof first, "%s", ent->d_name);
        closedir(d);
        char path[1400];
        snprintf(path, sizeof path, "%s/%s", images, first);
        size_t size;
        uint8_t *data = test_read_file(path, &size);
        CHECK(data != NULL, "cannot read %s", path);
        if (data) check_photo(data, size, dir, "im2gps3k");
        free(data);
    } else {
        printf("shared data not found at %s: the real photo is not checked\n", images);
    }
    test_remove_tree(dir);
    TEST_END();
}
