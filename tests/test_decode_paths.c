/* Photos opened by path never block: a FIFO (with no writer) or a folder
 * given to geoloc_image_load, geoloc_photo_meta_load and the files source is
 * refused at once with a message naming the path and the kind of file. Each
 * call runs under alarm(): a call that hangs kills the test (SIGALRM). */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "geoloc/exif.h"
#include "geoloc/image.h"
#include "geoloc/source.h"
#include "image_fixtures.h"
#include "test_util.h"

#define GUARD_SECONDS 10

/* The error of a refused special file: E_IO, "path: not a regular file (kind)". */
static void expect_refused(geoloc_status st, const geoloc_error *e, const char *path,
                           const char *kind, const char *what) {
    char want[512];
    snprintf(want, sizeof want, "%s: not a regular file (%s)", path, kind);
    CHECK(st == GEOLOC_E_IO, "%s on %s: status %d", what, kind, (int)st);
    CHECK(strstr(e->message, want) != NULL, "%s: message '%s' lacks '%s'", what, e->message,
          want);
}

static void check_special(const char *path, const char *kind) {
    geoloc_error e;
    geoloc_image img;
    alarm(GUARD_SECONDS);
    memset(&e, 0, sizeof e);
    expect_refused(geoloc_image_load(path, NULL, &img, &e), &e, path, kind, "geoloc_image_load");
    CHECK(img.rgb == NULL && img.width == 0, "image left empty");

    geoloc_photo_meta m;
    memset(&e, 0, sizeof e);
    expect_refused(geoloc_photo_meta_load(path, &m, &e), &e, path, kind, "geoloc_photo_meta_load");

    geoloc_source src;
    const char *paths[1] = {path};
    CHECK(geoloc_source_files(NULL, paths, 1, &src, &e) == GEOLOC_OK, "files source: %s",
          e.message);
    const uint8_t *data;
    size_t size;
    const char *name;
    memset(&e, 0, sizeof e);
    expect_refused(src.read(src.ctx, 0, &data, &size, &name, &e), &e, path, kind, "files source");
    geoloc_source_close(&src);
    alarm(0);
}

int main(void) {
    char dir[] = "/tmp/geoloc_test_paths_XXXXXX";
    test_make_temp_dir(dir);
    char fifo[600], sub[600], photo[600];
    snprintf(fifo, sizeof fifo, "%s/x.jpg", dir);
    snprintf(sub, sizeof sub, "%s/folder.jpg", dir);
    snprintf(photo, sizeof photo, "%s/real.jpg", dir);
    CHECK(mkfifo(fifo, 0600) == 0, "mkfifo %s", fifo);
    CHECK(mkdir(sub, 0700) == 0, "mkdir %s", sub);

    check_special(fifo, "a FIFO");
    check_special(sub, "a directory");

    /* the same calls on a real photo succeed (the guard is not the cause) */
    uint8_t rgb[16 * 12 * 3];
    fx_pattern(rgb, 16, 12);
    fx_buf jpg = {0};
    CHECK(fx_jpeg(rgb, 16, 12, NULL, &jpg) == 0 && fx_write_file(photo, jpg.data, jpg.size) == 0,
          "writing %s", photo);
    geoloc_error e = {0};
    geoloc_image img;
    geoloc_photo_meta m;
    alarm(GUARD_SECONDS);
    CHECK(geoloc_image_load(photo, NULL, &img, &e) == GEOLOC_OK && img.width == 16 &&
              img.height == 12,
          "real photo: %s", e.message);
    geoloc_image_free(&img);
    CHECK(geoloc_photo_meta_load(photo, &m, &e) == GEOLOC_OK && m.width == 16 && m.height == 12,
          "real photo metadata: %s", e.message);
    alarm(0);
    fx_free(&jpg);
    test_remove_tree(dir);
    TEST_END();
}
