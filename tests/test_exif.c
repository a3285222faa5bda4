/* geoloc_photo_meta_read: every row of the shared exif-photos/truth.csv
 * (exiftool's reading: stored size, orientation, GPS to 1e-6 degree), more
 * exiftool values for a few of those files (altitude, GPS time, date), and
 * crafted EXIF in JPEG APP1, PNG eXIf and WebP EXIF: valid positions in
 * both byte orders and every reference letter, latitude 91, longitude 181,
 * zero denominators, missing references, orientation values, broken and
 * truncated containers. The shared part skips with a message when the data
 * is absent; the rest always runs. */
#include <math.h>
#include <png.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "geoloc/exif.h"
#include "image_fixtures.h"
#include "test_util.h"

/* ---- shared data: truth.csv ---- */

/* Splits a CSV line (no quoting in truth.csv) into at most max fields. */
static int split(char *line, char **f, int max) {
    int n = 0;
    line[strcspn(line, "\r\n")] = '\0';
    for (char *p = line; n < max;) {
        f[n++] = p;
        char *c = strchr(p, ',');
        if (!c) break;
        *c = '\0';
        p = c + 1;
    }
    return n;
}

static int meta_of(const char *dir, const char *file, geoloc_photo_meta *m, geoloc_error *e) {
    char path[2048];
    snprintf(path, sizeof path, "%s/%s", dir, file);
    size_t size;
    uint8_t *d = test_read_file(path, &size);
    if (!d) return -1;
    geoloc_status st = geoloc_photo_meta_read(d, size, file, m, e);
    free(d);
    return st == GEOLOC_OK ? 0 : -1;
}

static void test_truth(const char *shared) {
    char dir[1024], path[1100];
    snprintf(dir, sizeof dir, "%s/exif-photos", shared);
    snprintf(path, sizeof path, "%s/truth.csv", dir);
    FILE *f = fopen(path, "r");
    if (!f) {
        printf("SKIP (truth.csv part): %s not found; crafted EXIF tests still run\n", path);
        return;
    }
    char line[1024];
    char *h[8];
    CHECK(fgets(line, sizeof line, f) && split(line, h, 8) == 6 && !strcmp(h[0], "file") &&
              !strcmp(h[3], "orientation") && !strcmp(h[5], "gps_lon"),
          "truth.csv header: file,width,height,orientation,gps_lat,gps_lon");
    int rows = 0, matched = 0;
    while (fgets(line, sizeof line, f)) {
        char *v[8];
        if (split(line, v, 8) != 6) continue;
        rows++;
        geoloc_photo_meta m;
        geoloc_error e = {0};
        int before = test_failed;
        if (meta_of(dir, v[0], &m, &e) != 0) {
            CHECK(0, "%s: %s", v[0], e.message);
            continue;
        }
        CHECK(m.width == atoi(v[1]) && m.height == atoi(v[2]), "%s: size %dx%d, exiftool %sx%s",
              v[0], m.width, m.height, v[1], v[2]);
        if (*v[3]) {
            CHECK(m.has_orientation && m.orientation == atoi(v[3]),
                  "%s: orientation %d (has %d), exiftool %s", v[0], m.orientation,
                  m.has_orientation, v[3]);
        } else {
            CHECK(!m.has_orientation && m.orientation == 1,
                  "%s: orientation %d (has %d), exiftool: none", v[0], m.orientation,
                  m.has_orientation);
        }
        if (*v[4]) {
            double lat = atof(v[4]), lng = atof(v[5]);
            CHECK(m.has_gps && fabs(m.lat - lat) <= 1e-6 && fabs(m.lng - lng) <= 1e-6,
                  "%s: GPS %d %.10f,%.10f, exiftool %s,%s", v[0], m.has_gps, m.lat, m.lng, v[4],
                  v[5]);
        } else {
            CHECK(!m.has_gps, "%s: GPS %.10f,%.10f, exiftool: none", v[0], m.lat, m.lng);
        }
        if (test_failed == before) matched++;
    }
    fclose(f);
    CHECK(rows == 30, "truth.csv rows: %d", rows);
    printf("exif truth: %d of %d files match exiftool (size, orientation, GPS)\n", matched, rows);

    /* More of exiftool's values (exiftool -n) for a few files. */
    static const struct {
        const char *file;
        int has_alt;
        double alt;
        const char *gps_time, *datetime;
    } more[] = {
        {"es-gps-DSCN0010.jpg", 0, 0, "2008-10-23T14:27:07Z", "2008:10:22 16:28:39"},
        {"mx-apple-iphone-6-plus.jpg", 1, -166.3090129, "2014-10-31T13:32:37Z",
         "2014:10:31 13:32:37"},
        {"mx-apple-iphone-5.jpg", 1, 3.984466589, NULL, "2012:09:29 16:11:25"},
        {"mx-issue-173.jpg", 1, -848, NULL, NULL}, /* GPSDateStamp 0000:00:00 */
        {"mx-olympus-fe230.jpg", 1, 1875.255981, "2008-12-07T17:35:52Z", "2008:12:07 10:28:52"},
        {"mx-htc-desire.webp", 1, 217, "2011-05-06T07:59:48Z", "2011:05:06 09:59:48"},
        {"mx-flir-iphone-device.jpg", 1, 139.343841552734, NULL, NULL},
        {"es-test-67-0-length-string.jpg", 1, 340, NULL, NULL},
        {"mx-nikon-d5000-no-gps.jpg", 1, 324.145, NULL, "2011:03:12 15:36:11"},
    };
    for (size_t k = 0; k < sizeof more / sizeof more[0]; k++) {
        geoloc_photo_meta m;
        geoloc_error e = {0};
        if (meta_of(dir, more[k].file, &m, &e) != 0) {
            CHECK(0, "%s: %s", more[k].file, e.message);
            continue;
        }
        CHECK(m.has_altitude == more[k].has_alt &&
                  (!m.has_altitude || fabs(m.altitude_m - more[k].alt) < 1e-6),
              "%s: altitude %d %.9f", more[k].file, m.has_altitude, m.altitude_m);
        CHECK(more[k].gps_time ? (m.has_gps_time && !strcmp(m.gps_time, more[k].gps_time))
                               : !m.has_gps_time,
              "%s: GPS time %d '%s'", more[k].file, m.has_gps_time, m.gps_time);
        CHECK(more[k].datetime ? (m.has_datetime && !strcmp(m.datetime, more[k].datetime))
                               : !m.has_datetime,
              "%s: DateTimeOriginal %d '%s'", more[k].file, m.has_datetime, m.datetime);
    }
}

/* Every prefix of the first 4 KB and a spread of longer prefixes of each
 * shared photo: no crash, no read past the end (ASan), and either success
 * or a parse error naming the file. */
static void test_truncated_shared(const char *shared) {
    char dir[1024];
    snprintf(dir, sizeof dir, "%s/exif-photos", shared);
    static const char *files[] = {"es-test-67-0-length-string.jpg", "es-test-87-oserror.jpg",
                                  "mx-flir-iphone-device.jpg",    "mx-htc-desire.webp",
                                  "mx-issue-508-1x1.jpg",          "es-corrupted.jpg"};
    for (size_t k = 0; k < sizeof files / sizeof files[0]; k++) {
        char path[1100];
        snprintf(path, sizeof path, "%s/%s", dir, files[k]);
        size_t size;
        uint8_t *all = test_read_file(path, &size);
        if (!all) continue;
        int bad = 0;
        for (size_t n = 0; n <= size && !bad; n += n < 4096 ? 1 : 1 + size / 64) {
            uint8_t *d = malloc(n ? n : 1); /* exact size: ASan sees overreads */
            memcpy(d, all, n);
            geoloc_photo_meta m;
            geoloc_error e = {0};
            geoloc_status st = geoloc_photo_meta_read(d, n, files[k], &m, &e);
            if (st != GEOLOC_OK && (st != GEOLOC_E_PARSE || !strstr(e.message, files[k]))) bad = 1;
            free(d);
        }
        CHECK(!bad, "%s: truncated copies read cleanly", files[k]);
        free(all);
    }
}

/* ---- crafted EXIF ---- */

static fx_exif gps_exif(int big, double lat, double lng) {
    fx_exif x;
    memset(&x, 0, sizeof x);
    x.big_endian = big;
    x.gps = 1;
    x.alt_ref = -1;
    double a[2] = {fabs(lat), fabs(lng)};
    uint32_t(*dst[2])[2] = {x.lat, x.lng};
    for (int i = 0; i < 2; i++) {
        double deg = floor(a[i]), min = floor((a[i] - deg) * 60);
        double sec = ((a[i] - deg) * 60 - min) * 60;
        dst[i][0][0] = (uint32_t)deg;
        dst[i][0][1] = 1;
        dst[i][1][0] = (uint32_t)min;
        dst[i][1][1] = 1;
        dst[i][2][0] = (uint32_t)llround(sec * 10000);
        dst[i][2][1] = 10000;
    }
    x.lat_n = x.lng_n = 3;
    x.lat_ref = lat < 0 ? 'S' : 'N';
    x.lng_ref = lng < 0 ? 'W' : 'E';
    return x;
}

static fx_buf small_jpeg(void) {
    uint8_t px[16 * 8 * 3];
    fx_pattern(px, 16, 8);
    fx_buf j = {0};
    fx_jpeg(px, 16, 8, NULL, &j);
    return j;
}

/* Metadata of a 16x8 JPEG carrying x as APP1. */
static geoloc_status jpeg_meta(const fx_exif *x, geoloc_photo_meta *m, geoloc_error *e) {
    fx_buf jpg = small_jpeg(), tiff = {0}, both = {0};
    fx_exif_tiff(x, &tiff);
    fx_jpeg_with_exif(jpg.data, jpg.size, tiff.data, tiff.size, &both);
    geoloc_status st = geoloc_photo_meta_read(both.data, both.size, "crafted.jpg", m, e);
    fx_free(&jpg);
    fx_free(&tiff);
    fx_free(&both);
    return st;
}

static void test_crafted_gps(void) {
    static const double places[][2] = {
        {48.858222, 2.2945},    {-33.856784, 151.215297}, {40.689247, -74.044502},
        {-22.951916, -43.210487}, {0, 0},                 {90, 180},
        {-90, -180},            {89.9999999, 179.9999999}};
    for (int big = 0; big < 2; big++)
        for (size_t k = 0; k < sizeof places / sizeof places[0]; k++) {
            fx_exif x = gps_exif(big, places[k][0], places[k][1]);
            geoloc_photo_meta m;
            geoloc_error e = {0};
            CHECK(jpeg_meta(&x, &m, &e) == GEOLOC_OK, "%s", e.message);
            CHECK(m.has_gps && fabs(m.lat - places[k][0]) < 1e-7 &&
                      fabs(m.lng - places[k][1]) < 1e-7,
                  "%s-endian %.7f,%.7f read as %d %.9f,%.9f", big ? "big" : "little",
                  places[k][0], places[k][1], m.has_gps, m.lat, m.lng);
            CHECK(m.width == 16 && m.height == 8 && m.orientation == 1 && !m.has_orientation,
                  "size %dx%d orientation %d", m.width, m.height, m.orientation);
        }

    geoloc_photo_meta m;
    geoloc_error e = {0};
    fx_exif x = gps_exif(0, 91, 10); /* latitude 91 */
    CHECK(jpeg_meta(&x, &m, &e) == GEOLOC_OK && !m.has_gps, "latitude 91 accepted: %f", m.lat);
    x = gps_exif(1, -90.5, 10);
    CHECK(jpeg_meta(&x, &m, &e) == GEOLOC_OK && !m.has_gps, "latitude -90.5 accepted");
    x = gps_exif(0, 10, 181);
    CHECK(jpeg_meta(&x, &m, &e) == GEOLOC_OK && !m.has_gps, "longitude 181 accepted");
    x = gps_exif(0, 45, 7);
    x.lat[0][0] = 91; /* 91 degrees 0 minutes: still > 90 */
    CHECK(jpeg_meta(&x, &m, &e) == GEOLOC_OK && !m.has_gps, "latitude 91 deg accepted");
    x = gps_exif(0, 45, 7);
    x.lat[1][0] = 3600; /* 45 deg + 3600 minutes = 105 */
    CHECK(jpeg_meta(&x, &m, &e) == GEOLOC_OK && !m.has_gps, "latitude via minutes > 90 accepted");

    for (int part = 0; part < 3; part++) {
        x = gps_exif(part & 1, 45.5, 7.25);
        x.lat[part][1] = 0; /* zero denominator */
        CHECK(jpeg_meta(&x, &m, &e) == GEOLOC_OK && !m.has_gps,
              "zero denominator in latitude component %d accepted", part);
        x = gps_exif(part & 1, 45.5, 7.25);
        x.lng[part][0] = 0;
        x.lng[part][1] = 0; /* 0/0 (exiftool: undef) */
        CHECK(jpeg_meta(&x, &m, &e) == GEOLOC_OK && !m.has_gps,
              "0/0 in longitude component %d accepted", part);
    }

    x = gps_exif(0, 45.5, 7.25);
    x.lat_ref = x.lng_ref = 0; /* no references: N/E */
    CHECK(jpeg_meta(&x, &m, &e) == GEOLOC_OK && m.has_gps && m.lat == 45.5 && m.lng == 7.25,
          "no refs: %d %f %f", m.has_gps, m.lat, m.lng);
    x.lat_ref = 's';
    x.lng_ref = 'w';
    CHECK(jpeg_meta(&x, &m, &e) == GEOLOC_OK && m.has_gps && m.lat == -45.5 && m.lng == -7.25,
          "lower-case refs: %f %f", m.lat, m.lng);
    x = gps_exif(0, 45.5, 7.25);
    x.lng_n = 0; /* latitude without longitude */
    CHECK(jpeg_meta(&x, &m, &e) == GEOLOC_OK && !m.has_gps, "latitude alone accepted");
    x = gps_exif(1, 0, 0);
    x.lat_n = x.lng_n = 1; /* decimal degrees in one rational */
    x.lat[0][0] = 4346744;
    x.lat[0][1] = 100000;
    x.lng[0][0] = 1188513;
    x.lng[0][1] = 100000;
    x.lng_ref = 'W';
    CHECK(jpeg_meta(&x, &m, &e) == GEOLOC_OK && m.has_gps && fabs(m.lat - 43.46744) < 1e-12 &&
              fabs(m.lng + 11.88513) < 1e-12,
          "one-component degrees: %f %f", m.lat, m.lng);

    /* altitude, times */
    x = gps_exif(0, 1, 2);
    x.has_alt = 1;
    x.alt[0] = 12345;
    x.alt[1] = 10;
    x.alt_ref = 1;
    x.gps_date = "2020:02:29";
    x.has_time = 1;
    x.time[0][0] = 23, x.time[0][1] = 1;
    x.time[1][0] = 59, x.time[1][1] = 1;
    x.time[2][0] = 5999, x.time[2][1] = 100;
    x.datetime_original = "2020:03:01 01:02:03";
    CHECK(jpeg_meta(&x, &m, &e) == GEOLOC_OK && m.has_altitude && m.altitude_m == -1234.5,
          "altitude below sea level: %d %f", m.has_altitude, m.altitude_m);
    CHECK(m.has_gps_time && !strcmp(m.gps_time, "2020-02-29T23:59:59Z"), "gps time '%s'",
          m.gps_time);
    CHECK(m.has_datetime && !strcmp(m.datetime, "2020:03:01 01:02:03"), "datetime '%s'",
          m.datetime);
    x.alt_ref = 0;
    x.alt[1] = 0; /* zero denominator */
    x.gps_date = "0000:00:00";
    CHECK(jpeg_meta(&x, &m, &e) == GEOLOC_OK && !m.has_altitude && !m.has_gps_time && m.has_gps,
          "bad altitude/date accepted: %d %d", m.has_altitude, m.has_gps_time);
}

static void test_crafted_orientation(void) {
    for (int o = 0; o <= 10; o++) {
        fx_exif x;
        memset(&x, 0, sizeof x);
        x.big_endian = o & 1;
        x.orientation = o;
        geoloc_photo_meta m;
        geoloc_error e = {0};
        CHECK(jpeg_meta(&x, &m, &e) == GEOLOC_OK, "%s", e.message);
        int valid = o >= 1 && o <= 8;
        CHECK(m.orientation == (valid ? o : 1) && m.has_orientation == valid,
              "orientation tag %d read as %d (has %d)", o, m.orientation, m.has_orientation);
        CHECK(!m.has_gps && !m.has_altitude && !m.has_gps_time && !m.has_datetime,
              "flags without GPS");
    }
}

/* The same EXIF in PNG eXIf and WebP EXIF (bare TIFF, and with "Exif\0\0"). */
static void test_containers(void) {
    fx_exif x = gps_exif(1, -12.5, 130.75);
    x.orientation = 6;
    fx_buf tiff = {0};
    fx_exif_tiff(&x, &tiff);
    uint8_t px[20 * 10 * 3];
    fx_pattern(px, 20, 10);

    fx_buf png = {0};
    fx_png_opts po = {PNG_COLOR_TYPE_RGB, 8, 0, NULL, 0, NULL, 0, tiff.data, tiff.size};
    CHECK(fx_png(px, 20, 10, &po, &png) == 0, "png encode");
    geoloc_photo_meta m;
    geoloc_error e = {0};
    CHECK(geoloc_photo_meta_read(png.data, png.size, "x.png", &m, &e) == GEOLOC_OK, "%s",
          e.message);
    CHECK(m.width == 20 && m.height == 10 && m.orientation == 6 && m.has_gps &&
              fabs(m.lat + 12.5) < 1e-9 && fabs(m.lng - 130.75) < 1e-9,
          "PNG eXIf: %dx%d o%d gps %d %f %f", m.width, m.height, m.orientation, m.has_gps, m.lat,
          m.lng);

    fx_buf prefixed = {0};
    fx_append(&prefixed, "Exif\0\0", 6);
    fx_append(&prefixed, tiff.data, tiff.size);
    for (int variant = 0; variant < 4; variant++) {
        fx_buf webp = {0};
        const fx_buf *ex = variant & 1 ? &prefixed : &tiff;
        CHECK(fx_webp(px, 20, 10, 3, variant < 2, 80, ex->data, ex->size, &webp) == 0, "webp");
        memset(&m, 0, sizeof m);
        CHECK(geoloc_photo_meta_read(webp.data, webp.size, "x.webp", &m, &e) == GEOLOC_OK, "%s",
              e.message);
        CHECK(m.width == 20 && m.height == 10 && m.orientation == 6 && m.has_gps &&
                  fabs(m.lat + 12.5) < 1e-9,
              "WebP EXIF variant %d: %dx%d o%d gps %d", variant, m.width, m.height,
              m.orientation, m.has_gps);
        fx_free(&webp);
    }
    /* plain lossy / lossless WebP (VP8 / VP8L headers), no EXIF */
    for (int lossless = 0; lossless < 2; lossless++) {
        fx_buf webp = {0};
        fx_webp(px, 20, 10, 3, lossless, 80, NULL, 0, &webp);
        CHECK(geoloc_photo_meta_read(webp.data, webp.size, "x.webp", &m, &e) == GEOLOC_OK &&
                  m.width == 20 && m.height == 10 && !m.has_gps && m.orientation == 1,
              "WebP %s header: %dx%d", lossless ? "VP8L" : "VP8", m.width, m.height);
        fx_free(&webp);
    }
    fx_free(&png);
    fx_free(&prefixed);
    fx_free(&tiff);
}

/* Broken inputs: errors name the file; hostile EXIF is survived. */
static void test_hostile(void) {
    geoloc_photo_meta m;
    geoloc_error e = {0};
    CHECK(geoloc_photo_meta_read((const uint8_t *)"hello", 5, "note.jpg", &m, &e) ==
                  GEOLOC_E_PARSE && strstr(e.message, "note.jpg"),
          "text: %s", e.message);
    CHECK(geoloc_photo_meta_read(NULL, 0, "empty.jpg", &m, &e) == GEOLOC_E_PARSE &&
              strstr(e.message, "empty.jpg"),
          "empty: %s", e.message);
    static const uint8_t soi_only[] = {0xFF, 0xD8, 0xFF, 0xE0, 0x00};
    CHECK(geoloc_photo_meta_read(soi_only, sizeof soi_only, "cut.jpg", &m, &e) == GEOLOC_E_PARSE &&
              strstr(e.message, "cut.jpg"),
          "cut JPEG: %s", e.message);

    /* EXIF with IFD offsets pointing everywhere, and every truncation of a
     * JPEG with GPS EXIF. */
    fx_exif x = gps_exif(0, 45, 7);
    x.orientation = 3;
    x.datetime_original = "2001:01:01 00:00:00";
    fx_buf tiff = {0}, jpg = small_jpeg(), both = {0};
    fx_exif_tiff(&x, &tiff);
    fx_jpeg_with_exif(jpg.data, jpg.size, tiff.data, tiff.size, &both);
    int bad = 0;
    for (size_t n = 0; n <= both.size; n++) {
        uint8_t *d = malloc(n ? n : 1);
        memcpy(d, both.data, n);
        geoloc_status st = geoloc_photo_meta_read(d, n, "t.jpg", &m, &e);
        if (st != GEOLOC_OK && (st != GEOLOC_E_PARSE || !strstr(e.message, "t.jpg"))) bad++;
        free(d);
    }
    CHECK(!bad, "%d truncations failed badly", bad);
    /* every byte of the TIFF structure set to 0xFF, one at a time */
    bad = 0;
    for (size_t k = 12; k < 12 + tiff.size; k++) {
        uint8_t keep = both.data[k];
        both.data[k] = 0xFF;
        if (geoloc_photo_meta_read(both.data, both.size, "t.jpg", &m, &e) != GEOLOC_OK) bad++;
        if (m.has_gps && (fabs(m.lat) > 90 || fabs(m.lng) > 180)) bad++;
        both.data[k] = keep;
    }
    CHECK(!bad, "%d corrupted EXIF bytes failed", bad);
    fx_free(&tiff);
    fx_free(&jpg);
    fx_free(&both);
}

int main(int argc, char **argv) {
    const char *shared = argc > 1 ? argv[1] : "../shared/data";
    if (access(shared, R_OK) == 0) {
        test_truth(shared);
        test_truncated_shared(shared);
    } else {
        printf("SKIP (truth.csv part): shared data not found at %s; crafted EXIF tests still run\n",
               shared);
    }
    test_crafted_gps();
    test_crafted_orientation();
    test_containers();
    test_hostile();
    TEST_END();
}
