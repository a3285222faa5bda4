/* Albums by capture time (geoloc/album.h) and the date-time parser
 * (geoloc_datetime_parse): the parser against libc's timegm over random
 * dates, its refusals; grouping and order on synthetic times (gaps, ties,
 * photos without a time alone or by folder); the capture times of the real
 * EXIF photos of ../shared/data/exif-photos against exiftool's answers
 * (DateTimeOriginal, else IFD0 DateTime); copies of dev photos given EXIF
 * times by libexif (exif_time_fixture), grouped and ordered; a manifest's
 * DATETIME column. */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "exif_time_fixture.h"
#include "geoloc/album.h"
#include "geoloc/exif.h"
#include "test_util.h"

static void test_parse(void) {
    unsigned seed = 11;
    for (int k = 0; k < 2000; k++) { /* random valid dates against timegm */
        struct tm tm = {0};
        tm.tm_year = 1 + rand_r(&seed) % 9999 - 1900;
        tm.tm_mon = rand_r(&seed) % 12;
        tm.tm_mday = 1 + rand_r(&seed) % 28;
        tm.tm_hour = rand_r(&seed) % 24;
        tm.tm_min = rand_r(&seed) % 60;
        tm.tm_sec = rand_r(&seed) % 60;
        time_t expect = timegm(&tm);
        char exif[64], iso[64];
        snprintf(exif, sizeof exif, "%04d:%02d:%02d %02d:%02d:%02d", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                 tm.tm_hour, tm.tm_min, tm.tm_sec);
        snprintf(iso, sizeof iso, "%04d-%02d-%02dT%02d:%02d:%02d", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                 tm.tm_hour, tm.tm_min, tm.tm_sec);
        int64_t a = -1, b = -1;
        CHECK(geoloc_datetime_parse(exif, &a) == 0 && a == (int64_t)expect, "%s: %lld, timegm %lld", exif,
              (long long)a, (long long)expect);
        CHECK(geoloc_datetime_parse(iso, &b) == 0 && b == (int64_t)expect, "%s: %lld", iso, (long long)b);
    }
    int64_t t = -1;
    CHECK(geoloc_datetime_parse("1970:01:01 00:00:00", &t) == 0 && t == 0, "epoch %lld", (long long)t);
    CHECK(geoloc_datetime_parse("2024:02:29 23:59:59", &t) == 0, "a leap day");
    CHECK(geoloc_datetime_parse("2000-02-29 12:00:00", &t) == 0, "ISO with a space, leap day of 2000");
    static const char *const bad[] = {"0000:00:00 00:00:00", "2023:02:29 10:00:00", "1900:02:29 10:00:00",
                                      "2020:13:01 10:00:00", "2020:04:31 10:00:00", "2020:01:01 24:00:00",
                                      "2020:01:01 10:60:00", "2020:01:01 10:00:60", "2020-01-01 10:00:0",
                                      "2020:01-01 10:00:00", "2020:01:01T10:00:00", "2020-01-01T10:00:00Z",
                                      "2020:01:01 10:00:00 ", "    :  :     :  :  ", "", "2020:1:01 10:00:000"};
    for (size_t k = 0; k < sizeof bad / sizeof *bad; k++)
        CHECK(geoloc_datetime_parse(bad[k], &t) == -1, "'%s' refused", bad[k]);
    CHECK(geoloc_datetime_parse(NULL, &t) == -1, "NULL refused");
}

static void test_group_synthetic(void) {
    /* photos 0..7: hours 10, 1, 2.5, untimed, 1 (tie with photo 1), 30, untimed, 3.4 */
    const double hours[8] = {10, 1, 2.5, 0, 1, 30, 0, 3.4};
    unsigned char has[8] = {1, 1, 1, 0, 1, 1, 0, 1};
    int64_t s[8];
    for (int i = 0; i < 8; i++) s[i] = 1700000000 + (int64_t)(hours[i] * 3600);
    size_t album_of[8], order[8], n_albums = 0, untimed = 0;
    geoloc_error err = {0};
    CHECK(geoloc_album_group_time(s, has, NULL, 8, 2.0, album_of, order, &n_albums, &untimed, &err) == GEOLOC_OK,
          "%s", err.message);
    /* chronological: {1, 4, 2, 7} (gaps 0, 1.5, 0.9 h), {0} (6.6 h later), {5}; then 3 and 6 alone */
    const size_t expect_order[8] = {1, 4, 2, 7, 0, 5, 3, 6};
    const size_t expect_album[8] = {1, 0, 0, 3, 0, 2, 4, 0};
    CHECK(n_albums == 5 && untimed == 2, "%zu albums, %zu untimed", n_albums, untimed);
    for (int i = 0; i < 8; i++) {
        CHECK(order[i] == expect_order[i], "order[%d] = %zu, expected %zu", i, order[i], expect_order[i]);
        CHECK(album_of[i] == expect_album[i], "album_of[%d] = %zu, expected %zu", i, album_of[i], expect_album[i]);
    }
    /* a gap of exactly the limit stays in the album; above it splits */
    CHECK(geoloc_album_group_time(s, has, NULL, 8, 1.5, album_of, order, &n_albums, NULL, &err) == GEOLOC_OK &&
              n_albums == 5 && album_of[2] == album_of[1],
          "gap 1.5 h equal to the limit: %zu albums", n_albums);
    CHECK(geoloc_album_group_time(s, has, NULL, 8, 1.49, album_of, order, &n_albums, NULL, &err) == GEOLOC_OK &&
              n_albums == 6 && album_of[2] != album_of[1],
          "gap 1.5 h above 1.49: %zu albums", n_albums);
    /* untimed photos by folder: 3 and 6 share "a" */
    const char *keys[8] = {"a", "b", "a", "a", "b", "a", "a", "b"};
    CHECK(geoloc_album_group_time(s, has, keys, 8, 2.0, album_of, order, &n_albums, &untimed, &err) == GEOLOC_OK &&
              n_albums == 4 && album_of[3] == 3 && album_of[6] == 3 && order[6] == 3 && order[7] == 6,
          "untimed by folder: %zu albums, album_of[3] %zu [6] %zu", n_albums, album_of[3], album_of[6]);
    CHECK(geoloc_album_group_time(s, has, NULL, 8, -1, album_of, order, &n_albums, NULL, &err) == GEOLOC_E_ARG,
          "a negative gap refused");
    CHECK(geoloc_album_group_time(s, has, NULL, 0, 1, album_of, order, &n_albums, NULL, &err) == GEOLOC_OK &&
              n_albums == 0,
          "no photos: no albums");
}

/* DateTimeOriginal, else IFD0 DateTime, of the shared EXIF photos as
 * exiftool 12.57 reads them (exiftool -DateTimeOriginal -IFD0:ModifyDate);
 * NULL: neither. */
static const struct {
    const char *file, *taken;
} EXIFTOOL_TIMES[] = {
    {"es-gps-DSCN0010.jpg", "2008:10:22 16:28:39"}, {"es-gps-DSCN0012.jpg", "2008:10:22 16:29:49"},
    {"es-gps-DSCN0021.jpg", "2008:10:22 16:38:20"}, {"es-gps-DSCN0025.jpg", "2008:10:22 16:43:21"},
    {"es-gps-DSCN0042.jpg", "2008:10:22 17:00:07"}, {"es-kodak-cx7530.jpg", "2005:08:13 09:47:23"},
    {"es-test-67-0-length-string.jpg", "2016:09:12 10:05:31"}, /* only IFD0 DateTime */
    {"mx-apple-iphone-6-plus.jpg", "2014:10:31 13:32:37"}, {"mx-htc-desire.webp", "2011:05:06 09:59:48"},
    {"mx-issue-173.jpg", NULL},
    {"mx-flir-iphone-device.jpg", NULL}, /* exiftool: only in the FLIR record (not EXIF, which geoloc reads) */
};

static void test_exif_photos(const char *shared) {
    char path[1024];
    size_t n = sizeof EXIFTOOL_TIMES / sizeof *EXIFTOOL_TIMES;
    int64_t s[16];
    unsigned char has[16];
    for (size_t k = 0; k < n; k++) {
        snprintf(path, sizeof path, "%s/exif-photos/%s", shared, EXIFTOOL_TIMES[k].file);
        geoloc_photo_meta m;
        geoloc_error err = {0};
        CHECK(geoloc_photo_meta_load(path, &m, &err) == GEOLOC_OK, "%s: %s", path, err.message);
        int64_t expect = 0;
        if (EXIFTOOL_TIMES[k].taken) geoloc_datetime_parse(EXIFTOOL_TIMES[k].taken, &expect);
        CHECK(m.has_time == (EXIFTOOL_TIMES[k].taken != NULL) && (!m.has_time || m.time == expect),
              "%s: has_time %d time %lld, exiftool %s", EXIFTOOL_TIMES[k].file, m.has_time, (long long)m.time,
              EXIFTOOL_TIMES[k].taken ? EXIFTOOL_TIMES[k].taken : "none");
        s[k] = m.time;
        has[k] = (unsigned char)m.has_time;
    }
    /* one hour apart at most: the five DSCN photos of one afternoon are one album, in time order */
    size_t album_of[16], order[16], n_albums, untimed;
    geoloc_error err = {0};
    CHECK(geoloc_album_group_time(s, has, NULL, n, 1.0, album_of, order, &n_albums, &untimed, &err) == GEOLOC_OK,
          "%s", err.message);
    CHECK(untimed == 2 && n_albums == 7, "%zu albums, %zu untimed", n_albums, untimed);
    for (size_t k = 1; k < 5; k++) CHECK(album_of[k] == album_of[0], "%s with DSCN0010", EXIFTOOL_TIMES[k].file);
    for (size_t k = 1; k < n; k++) /* albums in order, each chronological */
        CHECK(album_of[order[k]] > album_of[order[k - 1]] ||
                  (album_of[order[k]] == album_of[order[k - 1]] && s[order[k]] >= s[order[k - 1]]),
              "order at %zu", k);
}

/* Copies of four dev photos given times by libexif (two trips a day apart,
 * listed out of order, one copy without a time); grouped at 6 hours. */
static void test_fixture_photos(const char *shared) {
    char dir[] = "/tmp/geoloc_test_album_time_XXXXXX", src[1024], dst[1200];
    test_make_temp_dir(dir);
    static const char *const photos[5] = {"1000269685_e60e9cdfb4_1125_78841376@N00.jpg",
                                          "1000304467_1a75a200b1_1296_78841376@N00.jpg",
                                          "1001048550_8e4b47d165_1051_78841376@N00.jpg",
                                          "1000269685_e60e9cdfb4_1125_78841376@N00.jpg",
                                          "1000304467_1a75a200b1_1296_78841376@N00.jpg"};
    static const char *const times[5] = {"2019:07:02 09:00:00", "2019:07:01 18:30:00", NULL, "2019:07:01 14:00:00",
                                         "2019:07:02 08:15:00"};
    int64_t s[5];
    unsigned char has[5];
    for (int i = 0; i < 5; i++) {
        snprintf(src, sizeof src, "%s/im2gps3k-dev/images/%s", shared, photos[i]);
        snprintf(dst, sizeof dst, "%s/p%d.jpg", dir, i);
        CHECK(exif_time_fixture_write(src, dst, times[i], NULL) == 0, "fixture %s", dst);
        geoloc_photo_meta m;
        geoloc_error err = {0};
        CHECK(geoloc_photo_meta_load(dst, &m, &err) == GEOLOC_OK, "%s: %s", dst, err.message);
        int64_t expect = 0;
        if (times[i]) geoloc_datetime_parse(times[i], &expect);
        CHECK(m.has_time == (times[i] != NULL) && m.time == (times[i] ? expect : 0) && !m.has_gps,
              "p%d: has_time %d", i, m.has_time);
        s[i] = m.time;
        has[i] = (unsigned char)m.has_time;
    }
    size_t album_of[5], order[5], n_albums, untimed;
    geoloc_error err = {0};
    CHECK(geoloc_album_group_time(s, has, NULL, 5, 6.0, album_of, order, &n_albums, &untimed, &err) == GEOLOC_OK,
          "%s", err.message);
    const size_t expect_order[5] = {3, 1, 4, 0, 2}; /* 1st 14:00, 18:30 | 2nd 08:15, 09:00 | untimed */
    CHECK(n_albums == 3 && untimed == 1 && album_of[3] == 0 && album_of[1] == 0 && album_of[4] == 1 &&
              album_of[0] == 1 && album_of[2] == 2,
          "%zu albums: %zu %zu %zu %zu %zu", n_albums, album_of[0], album_of[1], album_of[2], album_of[3], album_of[4]);
    for (int k = 0; k < 5; k++) CHECK(order[k] == expect_order[k], "order[%d] = %zu", k, order[k]);
    test_remove_tree(dir);
}

static void test_manifest_times(void) {
    static const char csv[] = "IMG_ID,LAT,LON,DATETIME\n"
                              "a.jpg,1,2,2019:07:02 09:00:00\n"
                              "b.jpg,1,2,2019-07-01T18:30:00\n"
                              "c.jpg,1,2,\n"
                              "d.jpg,1,2,yesterday\n";
    geoloc_manifest *m = NULL;
    geoloc_error err = {0};
    CHECK(geoloc_manifest_read_buffer(csv, sizeof csv - 1, "t.csv", NULL, &m, &err) == GEOLOC_OK, "%s", err.message);
    int64_t s[4];
    unsigned char has[4];
    long timed = m ? geoloc_album_manifest_times(m, s, has, &err) : -2;
    int64_t a, b;
    geoloc_datetime_parse("2019:07:02 09:00:00", &a);
    geoloc_datetime_parse("2019:07:01 18:30:00", &b);
    CHECK(timed == 2 && has[0] && has[1] && !has[2] && !has[3] && s[0] == a && s[1] == b, "DATETIME: %ld timed",
          timed);
    geoloc_manifest_free(m);
    static const char none[] = "IMG_ID,LAT,LON\na.jpg,1,2\n";
    CHECK(geoloc_manifest_read_buffer(none, sizeof none - 1, "n.csv", NULL, &m, &err) == GEOLOC_OK, "%s",
          err.message);
    CHECK(geoloc_album_manifest_times(m, s, has, &err) == -1 && strstr(err.message, "DATETIME"),
          "no DATETIME column: %s", err.message);
    geoloc_manifest_free(m);
}

int main(int argc, char **argv) {
    test_parse();
    test_group_synthetic();
    test_manifest_times();
    char probe[1024];
    snprintf(probe, sizeof probe, "%s/exif-photos/truth.csv", argc > 1 ? argv[1] : "");
    if (argc < 2 || access(probe, R_OK) != 0) {
        printf("shared data absent (%s): EXIF photo tests skipped\n", probe);
        printf("%d passed, %d failed\n", test_passed, test_failed);
        return test_failed ? 1 : 77;
    }
    test_exif_photos(argv[1]);
    test_fixture_photos(argv[1]);
    TEST_END();
}
