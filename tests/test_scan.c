/* geoloc_dataset_scan on a folder tree built here: generated JPEGs with and
 * without EXIF GPS (both hemispheres, nested folders, a header longer than
 * the 64 KiB head), PNG and WebP with GPS, a text file named .jpg, an empty
 * file, a damaged JPEG, an unreadable file (skipped when running as root,
 * who can read it anyway), symbolic-link loops (to an ancestor, to itself,
 * a cycle of links), a second link to a folder and to a file, a broken link
 * and a fifo. Checks the photos, their order and positions, every skip
 * reason, the counts, the written manifest and report. Args: SHARED TEST_DATA. */
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "geoloc/dataset.h"
#include "image_fixtures.h"
#include "test_util.h"

static char root[] = "/tmp/test_scan_XXXXXX";

static void path_of(char *out, size_t size, const char *rel) { snprintf(out, size, "%s/%s", root, rel); }

static void mkdirs(const char *rel) {
    char p[512];
    path_of(p, sizeof p, rel);
    for (char *s = p + strlen(root) + 1;; s++) {
        if (*s == '/' || *s == '\0') {
            char c = *s;
            *s = '\0';
            mkdir(p, 0755);
            *s = c;
            if (!c) break;
        }
    }
}

static void put(const char *rel, const void *data, size_t size) {
    char p[512];
    path_of(p, sizeof p, rel);
    if (fx_write_file(p, data, size) != 0) {
        perror(p);
        exit(1);
    }
}

static void link_to(const char *target, const char *rel) {
    char p[512];
    path_of(p, sizeof p, rel);
    if (symlink(target, p) != 0) perror(p);
}

/* EXIF GPS of deg/min/sec (sec in hundredths) with N/S, E/W references. */
static void gps_exif(fx_buf *tiff, int lat_d, int lat_m, int lat_s100, char ns, int lng_d,
                     int lng_m, int lng_s100, char ew) {
    fx_exif e = {0};
    e.gps = 1;
    e.lat_n = e.lng_n = 3;
    e.lat[0][0] = (uint32_t)lat_d, e.lat[0][1] = 1;
    e.lat[1][0] = (uint32_t)lat_m, e.lat[1][1] = 1;
    e.lat[2][0] = (uint32_t)lat_s100, e.lat[2][1] = 100;
    e.lng[0][0] = (uint32_t)lng_d, e.lng[0][1] = 1;
    e.lng[1][0] = (uint32_t)lng_m, e.lng[1][1] = 1;
    e.lng[2][0] = (uint32_t)lng_s100, e.lng[2][1] = 100;
    e.lat_ref = ns;
    e.lng_ref = ew;
    e.alt_ref = -1;
    if (fx_exif_tiff(&e, tiff) != 0) exit(1);
}

static double dms(int d, int m, int s100) { return d + m / 60.0 + s100 / 100.0 / 3600.0; }

/* A w x h JPEG, with the given EXIF (or none). */
static void jpeg_file(const char *rel, int w, int h, const fx_buf *tiff) {
    uint8_t *px = malloc((size_t)w * h * 3);
    fx_pattern(px, w, h);
    fx_buf jpg = {0}, out = {0};
    if (fx_jpeg(px, w, h, NULL, &jpg) != 0) exit(1);
    if (tiff) {
        if (fx_jpeg_with_exif(jpg.data, jpg.size, tiff->data, tiff->size, &out) != 0) exit(1);
        put(rel, out.data, out.size);
    } else {
        put(rel, jpg.data, jpg.size);
    }
    fx_free(&jpg);
    fx_free(&out);
    free(px);
}

/* A JPEG whose EXIF is followed by two 60 KB APP2 segments before the frame:
 * its header does not fit in the 64 KiB head the scan reads first. */
static void long_header_jpeg(const char *rel, const fx_buf *tiff) {
    uint8_t px[16 * 16 * 3];
    fx_pattern(px, 16, 16);
    fx_buf jpg = {0}, with = {0}, out = {0};
    if (fx_jpeg(px, 16, 16, NULL, &jpg) || fx_jpeg_with_exif(jpg.data, jpg.size, tiff->data, tiff->size, &with))
        exit(1);
    size_t app1_end = 4 + ((size_t)with.data[4] << 8 | with.data[5]);
    fx_append(&out, with.data, app1_end);
    uint8_t *pad = calloc(60000, 1);
    for (int k = 0; k < 2; k++) {
        uint8_t seg[4] = {0xFF, 0xE2, (uint8_t)((60000 + 2) >> 8), (uint8_t)(60000 + 2)};
        fx_append(&out, seg, 4);
        fx_append(&out, pad, 60000);
    }
    fx_append(&out, with.data + app1_end, with.size - app1_end);
    put(rel, out.data, out.size);
    free(pad);
    fx_free(&jpg);
    fx_free(&with);
    fx_free(&out);
}

typedef struct {
    const char *path;
    geoloc_scan_reason reason;
} expected_skip;

/* As root, scans again as user nobody (fork + setuid) so that the
 * unreadable file and folder really are unreadable: 1 pass, 0 fail, -1 not
 * possible. */
static int scan_as_nobody(void) {
    pid_t pid = fork();
    if (pid < 0) return -1;
    if (pid == 0) {
        if (setgid(65534) != 0 || setuid(65534) != 0) _exit(3);
        geoloc_scan_result *r;
        geoloc_error err;
        if (geoloc_dataset_scan(root, NULL, &r, &err) != GEOLOC_OK) _exit(4);
        int file = 0, dir = 0;
        for (size_t k = 0; k < r->n_skipped; k++) {
            if (!strcmp(r->skipped[k].path, "locked.jpg"))
                file = r->skipped[k].reason == GEOLOC_SCAN_PERMISSION;
            if (!strcmp(r->skipped[k].path, "locked_dir/"))
                dir = r->skipped[k].reason == GEOLOC_SCAN_PERMISSION;
        }
        int photos_ok = r->photos->n == 5;
        geoloc_scan_result_free(r);
        _exit(file && dir && photos_ok ? 0 : 1);
    }
    int status;
    if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status)) return 0;
    if (WEXITSTATUS(status) == 3) return -1;
    return WEXITSTATUS(status) == 0;
}

static int progress_calls;
static size_t progress_last_done, progress_last_total;

static void on_progress(void *ctx, size_t done, size_t total) {
    (void)ctx;
    progress_calls++;
    progress_last_done = done;
    progress_last_total = total;
}

int main(int argc, char **argv) {
    (void)argc;
    (void)argv;
    test_make_temp_dir(root);
    fx_buf ne = {0}, sw = {0}, png_tiff = {0};
    gps_exif(&ne, 48, 51, 3024, 'N', 2, 17, 4020, 'E');
    gps_exif(&sw, 33, 51, 2448, 'S', 151, 12, 5508, 'W');
    gps_exif(&png_tiff, 10, 30, 0, 'N', 20, 15, 0, 'E');
    double ne_lat = dms(48, 51, 3024), ne_lng = dms(2, 17, 4020);
    double sw_lat = -dms(33, 51, 2448), sw_lng = -dms(151, 12, 5508);

    mkdirs("a/b/c");
    jpeg_file("a/gps_ne.jpg", 64, 48, &ne);
    jpeg_file("a/b/c/gps_sw.jpg", 40, 60, &sw);
    jpeg_file("a/b/nogps.jpg", 32, 32, NULL);
    fx_exif orient_only = {0};
    orient_only.orientation = 6;
    orient_only.alt_ref = -1;
    fx_buf orient = {0};
    fx_exif_tiff(&orient_only, &orient);
    jpeg_file("exif_nogps.jpg", 32, 24, &orient);
    long_header_jpeg("long_header.jpg", &ne);
    { /* PNG and WebP with GPS */
        uint8_t px[8 * 8 * 3];
        fx_pattern(px, 8, 8);
        fx_png_opts po = {0};
        po.color_type = 2; /* PNG_COLOR_TYPE_RGB */
        po.bit_depth = 8;
        po.exif = png_tiff.data;
        po.exif_size = png_tiff.size;
        fx_buf png = {0}, webp = {0};
        if (fx_png(px, 8, 8, &po, &png) || fx_webp(px, 8, 8, 3, 1, 90, png_tiff.data, png_tiff.size, &webp))
            return 1;
        put("gps.png", png.data, png.size);
        put("gps.webp", webp.data, webp.size);
        fx_free(&png);
        fx_free(&webp);
    }
    put("text.jpg", "hello, I am not a photo\n", 24);
    put("empty.jpg", "", 0);
    static const uint8_t damaged[] = {0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x10, 'J', 'F', 'I', 'F', 0, 1};
    put("damaged.jpg", damaged, sizeof damaged);
    jpeg_file("locked.jpg", 16, 16, &ne);
    char p[512];
    path_of(p, sizeof p, "locked.jpg");
    chmod(p, 0);
    int root_reads_anyway = access(p, R_OK) == 0;
    mkdirs("locked_dir");
    path_of(p, sizeof p, "locked_dir");
    chmod(p, 0);
    if (root_reads_anyway) printf("note: running as root: unreadable files are checked as user nobody\n");
    link_to("../..", "a/b/loop");         /* back to the root */
    link_to(".", "a/self");               /* back to a/ */
    link_to("cycle2", "cycle1");          /* links to each other */
    link_to("cycle1", "cycle2");
    link_to("a", "link_to_a");            /* a folder again */
    link_to("a/gps_ne.jpg", "same_photo.jpg");
    link_to("nowhere.jpg", "broken.jpg");
    path_of(p, sizeof p, "fifo");
    int have_fifo = mkfifo(p, 0644) == 0;

    geoloc_scan_options opt = {3, on_progress, NULL};
    geoloc_scan_result *r;
    geoloc_error err;
    geoloc_status st = geoloc_dataset_scan(root, &opt, &r, &err);
    CHECK(st == GEOLOC_OK, "scan: %s", err.message);
    if (st != GEOLOC_OK) TEST_END();

    /* photos with GPS, sorted by path */
    const char *want[] = {"a/b/c/gps_sw.jpg", "a/gps_ne.jpg", "gps.png", "gps.webp",
                          "locked.jpg", "long_header.jpg"};
    size_t n_want = 0;
    for (size_t k = 0; k < 6; k++)
        if (strcmp(want[k], "locked.jpg") || root_reads_anyway) want[n_want++] = want[k];
    CHECK(r->photos->n == n_want, "%zu photos with GPS, expected %zu", r->photos->n, n_want);
    for (size_t k = 0; k < r->photos->n && k < n_want; k++) {
        const geoloc_manifest_row *row = &r->photos->row[k];
        CHECK(!strcmp(row->id, want[k]), "photo %zu: %s, expected %s", k, row->id, want[k]);
        double lat = ne_lat, lng = ne_lng;
        if (strstr(row->id, "gps_sw")) lat = sw_lat, lng = sw_lng;
        if (strstr(row->id, "gps.")) lat = 10.5, lng = 20.25;
        CHECK(fabs(row->lat - lat) < 1e-9 && fabs(row->lng - lng) < 1e-9, "%s at %.9f,%.9f",
              row->id, row->lat, row->lng);
    }

    expected_skip skips[] = {
        {"a/b/loop/", GEOLOC_SCAN_SYMLINK_LOOP},   {"a/b/nogps.jpg", GEOLOC_SCAN_NO_GPS},
        {"a/self/", GEOLOC_SCAN_SYMLINK_LOOP},     {"broken.jpg", GEOLOC_SCAN_BROKEN_LINK},
        {"cycle1", GEOLOC_SCAN_SYMLINK_LOOP},      {"cycle2", GEOLOC_SCAN_SYMLINK_LOOP},
        {"damaged.jpg", GEOLOC_SCAN_UNREADABLE},   {"empty.jpg", GEOLOC_SCAN_NOT_IMAGE},
        {"exif_nogps.jpg", GEOLOC_SCAN_NO_GPS},    {"fifo", GEOLOC_SCAN_SPECIAL},
        {"link_to_a/", GEOLOC_SCAN_DUPLICATE},     {"locked.jpg", GEOLOC_SCAN_PERMISSION},
        {"same_photo.jpg", GEOLOC_SCAN_DUPLICATE}, {"text.jpg", GEOLOC_SCAN_NOT_IMAGE},
    };
    size_t n_skips = 0;
    size_t count[GEOLOC_SCAN_N_REASONS] = {0};
    for (size_t k = 0; k < sizeof skips / sizeof skips[0]; k++) {
        if (!strcmp(skips[k].path, "locked.jpg") && root_reads_anyway) continue;
        if (!strcmp(skips[k].path, "fifo") && !have_fifo) continue;
        skips[n_skips++] = skips[k];
        count[skips[k].reason]++;
    }
    CHECK(r->n_skipped == n_skips, "%zu skipped, expected %zu", r->n_skipped, n_skips);
    for (size_t k = 0; k < r->n_skipped && k < n_skips; k++)
        CHECK(!strcmp(r->skipped[k].path, skips[k].path) && r->skipped[k].reason == skips[k].reason,
              "skip %zu: %s (%s: %s), expected %s (%s)", k, r->skipped[k].path,
              geoloc_scan_reason_name(r->skipped[k].reason), r->skipped[k].detail, skips[k].path,
              geoloc_scan_reason_name(skips[k].reason));
    for (int k = 0; k < GEOLOC_SCAN_N_REASONS; k++)
        CHECK(r->count[k] == count[k], "count of %s: %zu, expected %zu",
              geoloc_scan_reason_name((geoloc_scan_reason)k), r->count[k], count[k]);
    for (size_t k = 0; k < r->n_skipped; k++) {
        if (!strcmp(r->skipped[k].path, "a/b/loop/"))
            CHECK(strstr(r->skipped[k].detail, "leads back to folder ./") != NULL, "%s", r->skipped[k].detail);
        if (!strcmp(r->skipped[k].path, "same_photo.jpg"))
            CHECK(strstr(r->skipped[k].detail, "same file as a/gps_ne.jpg") != NULL, "%s", r->skipped[k].detail);
        if (!strcmp(r->skipped[k].path, "link_to_a/"))
            CHECK(strstr(r->skipped[k].detail, "same folder as a/") != NULL, "%s", r->skipped[k].detail);
    }
    /* files examined: the regular files (links to files included) */
    size_t files = 12;
    CHECK(r->n_files == files, "%zu files examined, expected %zu", r->n_files, files);
    CHECK(progress_calls > 0 && progress_last_done == r->n_files && progress_last_total == r->n_files,
          "progress ends at %zu/%zu", progress_last_done, progress_last_total);

    /* outputs: the manifest reads back; the report has one row per skip */
    char manifest[512], report[512];
    snprintf(manifest, sizeof manifest, "%s.photos.csv", root);
    snprintf(report, sizeof report, "%s.skipped.csv", root);
    CHECK(geoloc_manifest_write(r->photos, manifest, &err) == GEOLOC_OK, "%s", err.message);
    CHECK(geoloc_scan_write_report(r, report, &err) == GEOLOC_OK, "%s", err.message);
    geoloc_manifest *back;
    if (geoloc_manifest_read(manifest, NULL, &back, &err) == GEOLOC_OK) {
        CHECK(back->n == r->photos->n && back->n && !strcmp(back->row[0].id, r->photos->row[0].id) &&
                  back->row[0].lat == r->photos->row[0].lat,
              "manifest read back");
        geoloc_manifest_free(back);
    } else {
        CHECK(0, "manifest read back: %s", err.message);
    }
    FILE *f = fopen(report, "r");
    char line[1024];
    int lines = 0, header_ok = 0;
    while (f && fgets(line, sizeof line, f)) {
        if (lines == 0) header_ok = !strcmp(line, "path,reason,detail\n");
        lines++;
    }
    if (f) fclose(f);
    CHECK(header_ok && lines == (int)n_skips + 1, "report: %d lines", lines);
    geoloc_scan_result_free(r);

    if (root_reads_anyway) {
        chmod(root, 0755);
        int as_nobody = scan_as_nobody();
        if (as_nobody < 0) printf("SKIP part: cannot become user nobody to test unreadable files\n");
        else CHECK(as_nobody == 1, "as user nobody: locked.jpg and locked_dir/ are permission_denied");
        chmod(root, 0700);
    }

    /* bad roots */
    CHECK(geoloc_dataset_scan("/nonexistent/folder", NULL, &r, &err) == GEOLOC_E_IO &&
              strstr(err.message, "/nonexistent/folder"),
          "missing root: %s", err.message);
    CHECK(geoloc_dataset_scan(manifest, NULL, &r, &err) == GEOLOC_E_IO && strstr(err.message, "not a folder"),
          "file as root: %s", err.message);

    unlink(manifest);
    unlink(report);
    path_of(p, sizeof p, "locked.jpg");
    chmod(p, 0644);
    path_of(p, sizeof p, "locked_dir");
    chmod(p, 0755);
    test_remove_tree(root);
    fx_free(&ne);
    fx_free(&sw);
    fx_free(&png_tiff);
    fx_free(&orient);
    TEST_END();
}
