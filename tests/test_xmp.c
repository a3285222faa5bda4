/* XMP sidecars (geoloc/geotag.h): names (Adobe's IMG.xmp, darktable's
 * IMG.jpg.xmp), GPSCoordinate strings against the XMP specification's
 * "DDD,MM.mmk" form (read back to the degrees, rounding carried into the
 * degrees, hemispheres), the packet's elements, an existing sidecar kept
 * unless overwrite, and a read-only folder: an error naming the file and no
 * file left behind (as an unprivileged user when run as root). */
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "geoloc/geotag.h"
#include "test_util.h"

static void test_names(void) {
    char out[64];
    CHECK(geoloc_xmp_sidecar_path("dir/IMG_1.JPG", 0, out, sizeof out) == 0 && !strcmp(out, "dir/IMG_1.xmp"), "%s", out);
    CHECK(geoloc_xmp_sidecar_path("dir/IMG_1.JPG", 1, out, sizeof out) == 0 && !strcmp(out, "dir/IMG_1.JPG.xmp"), "%s", out);
    CHECK(geoloc_xmp_sidecar_path("a.b/photo", 0, out, sizeof out) == 0 && !strcmp(out, "a.b/photo.xmp"), "%s", out);
    CHECK(geoloc_xmp_sidecar_path(".hidden", 0, out, sizeof out) == 0 && !strcmp(out, ".hidden.xmp"), "%s", out);
    CHECK(geoloc_xmp_sidecar_path("x.tar.jpg", 0, out, sizeof out) == 0 && !strcmp(out, "x.tar.xmp"), "%s", out);
    CHECK(geoloc_xmp_sidecar_path("dir/", 0, out, sizeof out) == -1, "no file name");
    CHECK(geoloc_xmp_sidecar_path("dir/IMG_1.JPG", 0, out, 13) == -1, "too long for the buffer");
}

/* The degrees a "DDD,MM.mmmmmmk" string says, or NAN when it is not one. */
static double read_coordinate(const char *s, int latitude) {
    char *end;
    long deg = strtol(s, &end, 10);
    if (end == s || *end != ',') return NAN;
    const char *min_text = end + 1;
    double min = strtod(min_text, &end);
    const char *ok = latitude ? "NS" : "EW";
    if (end == min_text || min < 0 || min >= 60 || (*end != ok[0] && *end != ok[1]) || end[1]) return NAN;
    return (*end == ok[1] ? -1 : 1) * ((double)deg + min / 60);
}

static void test_coordinates(void) {
    char out[32];
    geoloc_xmp_coordinate(43.46744833333, 1, out);
    CHECK(!strcmp(out, "43,28.046900N"), "%s", out);
    geoloc_xmp_coordinate(-0.5, 0, out);
    CHECK(!strcmp(out, "0,30.000000W"), "%s", out);
    geoloc_xmp_coordinate(59.999999999999, 1, out);
    CHECK(!strcmp(out, "60,00.000000N"), "rounding carried into the degrees: %s", out);
    geoloc_xmp_coordinate(-180, 0, out);
    CHECK(!strcmp(out, "180,00.000000W"), "%s", out);
    unsigned seed = 3;
    for (int k = 0; k < 5000; k++) {
        int lat = k % 2;
        double v = (rand_r(&seed) / (double)RAND_MAX * 2 - 1) * (lat ? 90 : 180);
        geoloc_xmp_coordinate(v, lat, out);
        double back = read_coordinate(out, lat);
        CHECK(fabs(back - v) <= 1e-8 + 1e-12, "%.10f -> %s -> %.10f", v, out, back);
    }
}

/* The whole file, or NULL. */
static char *slurp(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    char *buf = calloc(1, 8192);
    if (buf) fread(buf, 1, 8191, f);
    fclose(f);
    return buf;
}

/* Entries of dir besides . and .. */
static int count_entries(const char *dir) {
    DIR *d = opendir(dir);
    int n = 0;
    struct dirent *e;
    while (d && (e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) n++;
    if (d) closedir(d);
    return n;
}

static void test_write(void) {
    char dir[] = "/tmp/geoloc_test_xmp_XXXXXX", path[256];
    test_make_temp_dir(dir);
    snprintf(path, sizeof path, "%s/IMG_1.xmp", dir);
    geoloc_xmp_gps g = {-33.8568, 151.2153, {12.5, 340.25}, "anchor"};
    geoloc_error err = {0};
    CHECK(geoloc_xmp_write(path, &g, 0, &err) == GEOLOC_OK, "%s", err.message);
    char *text = slurp(path);
    static const char *const want[] = {"<x:xmpmeta xmlns:x=\"adobe:ns:meta/\"", "<rdf:RDF xmlns:rdf=\"http://www.w3.org/1999/02/22-rdf-syntax-ns#\">",
                                       "<rdf:Description rdf:about=\"\"", "xmlns:exif=\"http://ns.adobe.com/exif/1.0/\"",
                                       "xmlns:geoloc=\"https://geoloc.invalid/ns/1.0/\"", "exif:GPSVersionID=\"2.3.0.0\"",
                                       "exif:GPSLatitude=\"33,51.408000S\"", "exif:GPSLongitude=\"151,12.918000E\"",
                                       "geoloc:radius50=\"12.5\"", "geoloc:radius90=\"340.2\"", "geoloc:method=\"anchor\"",
                                       "</rdf:RDF>\n</x:xmpmeta>\n"};
    for (size_t k = 0; k < sizeof want / sizeof *want; k++)
        CHECK(text && strstr(text, want[k]), "the sidecar has %s:\n%s", want[k], text ? text : "(none)");
    CHECK(count_entries(dir) == 1, "only the sidecar (no temporary or lock file): %d entries", count_entries(dir));

    /* an existing sidecar is kept unless overwrite */
    geoloc_xmp_gps other = {10, 20, {0, NAN}, NULL};
    CHECK(geoloc_xmp_write(path, &other, 0, &err) == GEOLOC_E_IO && strstr(err.message, path) &&
              strstr(err.message, "exists"),
          "existing: %s", err.message);
    char *again = slurp(path);
    CHECK(text && again && !strcmp(text, again), "the existing sidecar unchanged");
    CHECK(geoloc_xmp_write(path, &other, 1, &err) == GEOLOC_OK, "overwrite: %s", err.message);
    free(again);
    again = slurp(path);
    CHECK(again && strstr(again, "exif:GPSLatitude=\"10,00.000000N\"") && !strstr(again, "geoloc:radius") &&
              !strstr(again, "geoloc:method"),
          "overwritten, no radius or method:\n%s", again ? again : "(none)");
    free(text);
    free(again);
    geoloc_xmp_gps nowhere = {NAN, 0, {0, 0}, NULL};
    CHECK(geoloc_xmp_write(path, &nowhere, 1, &err) == GEOLOC_E_ARG, "no position refused");

    /* a read-only folder: the error names the file, nothing is left behind */
    char ro[160];
    snprintf(ro, sizeof ro, "%s/ro", dir);
    mkdir(ro, 0755);
    chmod(ro, 0555);
    chmod(dir, 0755);
    snprintf(path, sizeof path, "%s/IMG_2.xmp", ro);
    pid_t pid = fork();
    if (pid == 0) { /* root ignores permissions: the unprivileged nobody writes instead */
        if (geteuid() == 0 && (setgid(65534) != 0 || setuid(65534) != 0)) _exit(2);
        geoloc_error e = {0};
        geoloc_status s = geoloc_xmp_write(path, &g, 0, &e);
        _exit(s == GEOLOC_E_IO && strstr(e.message, path) ? 0 : 1);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "read-only folder: an E_IO naming the file (exit %d)",
          WIFEXITED(status) ? WEXITSTATUS(status) : -1);
    CHECK(count_entries(ro) == 0, "read-only folder: nothing written");
    chmod(ro, 0755);
    test_remove_tree(dir);
}

int main(void) {
    test_names();
    test_coordinates();
    test_write();
    TEST_END();
}
