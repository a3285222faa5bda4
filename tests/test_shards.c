/* Shards: pack generated photos (JPEG, PNG, WebP, an EXIF-rotated JPEG, a
 * text file and a missing file among them) into small shards and read them
 * back through the shard source: the same bytes as an independent encode of
 * each photo, pixels close to an independent decode + resize of the
 * original, the manifest fields in the index, the same pack for any thread
 * count, original files stored byte for byte, stale shards removed. Then
 * truncated and corrupted index and shard files (every truncation, every
 * byte flipped) must give clear errors, never a crash; a failed pack leaves
 * nothing behind. Also the files source, read from several threads.
 * Args: SHARED_DATA TEST_DATA. */
#include <dirent.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io/crc32c.h"
#include "dataset/shard_encode.h"
#include "geoloc/dataset.h"
#include "geoloc/image.h"
#include "geoloc/transform.h"
#include "image_fixtures.h"
#include "test_util.h"

#define SIDE 96
#define N_PHOTOS 14

static char tmp[] = "/tmp/test_shards_XXXXXX";
static char images[300];

static void put(const char *dir, const char *name, const void *data, size_t size) {
    char p[600];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    if (fx_write_file(p, data, size) != 0) {
        perror(p);
        exit(1);
    }
}

/* Smooth colours (JPEG keeps them well, so pixel comparisons are tight). */
static void smooth(uint8_t *rgb, int w, int h) {
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            uint8_t *p = rgb + ((size_t)y * w + x) * 3;
            p[0] = (uint8_t)(128 + 100 * sin(12.566 * x / w)); /* two periods */
            p[1] = (uint8_t)(y * 255 / h);
            p[2] = (uint8_t)((x + y) * 255 / (w + h));
        }
}

typedef struct {
    const char *id;
    int w, h;
    char kind; /* j: JPEG, p: PNG, w: WebP, o: JPEG with orientation 6, t: text, m: missing */
} photo_spec;

static const photo_spec PHOTOS[N_PHOTOS] = {
    {"p00.jpg", 640, 480, 'j'}, {"p01.jpg", 300, 500, 'j'}, {"p02.jpg", 100, 60, 'j'},
    {"p03.jpg", 1000, 250, 'j'}, {"p04.png", 200, 150, 'p'}, {"bad.jpg", 0, 0, 't'},
    {"p05.webp", 160, 120, 'w'}, {"sub/p06.jpg", 97, 400, 'j'}, {"orient.jpg", 128, 64, 'o'},
    {"missing.jpg", 0, 0, 'm'},  {"p07.jpg", 130, 96, 'j'},  {"p08.jpg", 96, 96, 'j'},
    {"sub/p09.jpg", 333, 222, 'j'}, {"p10.jpg", 2000, 1500, 'j'},
};

static void make_photos(geoloc_manifest **out) {
    snprintf(images, sizeof images, "%s/images", tmp);
    mkdir(images, 0755);
    char sub[400];
    snprintf(sub, sizeof sub, "%s/sub", images);
    mkdir(sub, 0755);
    geoloc_error err;
    geoloc_manifest_new(GEOLOC_COL_AUTHOR | GEOLOC_COL_S3 | GEOLOC_COL_PROB_URBAN, NULL, 0, out, &err);
    for (int k = 0; k < N_PHOTOS; k++) {
        const photo_spec *p = &PHOTOS[k];
        fx_buf b = {0}, b2 = {0};
        uint8_t *px = p->w ? malloc((size_t)p->w * p->h * 3) : NULL;
        if (px) smooth(px, p->w, p->h);
        if (p->kind == 'j' || p->kind == 'o') {
            fx_jpeg(px, p->w, p->h, NULL, &b);
            if (p->kind == 'o') {
                fx_exif e = {0};
                e.orientation = 6;
                e.alt_ref = -1;
                fx_buf tiff = {0};
                fx_exif_tiff(&e, &tiff);
                fx_jpeg_with_exif(b.data, b.size, tiff.data, tiff.size, &b2);
                fx_free(&tiff);
                put(images, p->id, b2.data, b2.size);
            } else {
                put(images, p->id, b.data, b.size);
            }
        } else if (p->kind == 'p') {
            fx_png_opts o = {0};
            o.color_type = 2;
            o.bit_depth = 8;
            fx_png(px, p->w, p->h, &o, &b);
            put(images, p->id, b.data, b.size);
        } else if (p->kind == 'w') {
            fx_webp(px, p->w, p->h, 3, 0, 90, NULL, 0, &b);
            put(images, p->id, b.data, b.size);
        } else if (p->kind == 't') {
            put(images, p->id, "not a photo", 11);
        }
        fx_free(&b);
        fx_free(&b2);
        free(px);
        char author[32];
        snprintf(author, sizeof author, "author%d", k % 3);
        geoloc_manifest_row row = {p->id, k * 5.5 - 40, k * 11.25 - 90, k % 4 ? author : "",
                                   {k % 3, -1, -1}, {NAN, NAN, 0.5}, 0};
        geoloc_manifest_append(*out, &row, NULL, &err);
    }
}

typedef struct {
    int calls;
    char ids[4][64];
} skip_log;

static void on_skip(void *ctx, const char *id, const char *message) {
    skip_log *s = ctx;
    if (s->calls < 4) snprintf(s->ids[s->calls], sizeof s->ids[0], "%s", id);
    s->calls++;
    (void)message;
}

static geoloc_status pack(const geoloc_manifest *m, const char *dir, int side, uint64_t shard_bytes,
                          int threads, geoloc_pack_stats *stats, skip_log *log, geoloc_error *err) {
    mkdir(dir, 0755);
    geoloc_pack_options opt = {side, 85, shard_bytes, threads, on_skip, NULL, log};
    return geoloc_dataset_pack(m, images, dir, &opt, stats, err);
}

static int count_files(const char *dir) {
    DIR *d = opendir(dir);
    int n = 0;
    struct dirent *e;
    while (d && (e = readdir(d)))
        if (e->d_name[0] != '.') n++;
    if (d) closedir(d);
    return n;
}

/* Mean absolute difference of two images of the same size. */
static double mean_diff(const geoloc_image *a, const geoloc_image *b) {
    double sum = 0;
    size_t n = (size_t)a->width * a->height * 3;
    for (size_t k = 0; k < n; k++) sum += abs((int)a->rgb[k] - (int)b->rgb[k]);
    return sum / (double)n;
}

static void check_pack(const geoloc_manifest *m, const char *dir) {
    geoloc_shard_index *x;
    geoloc_error err;
    if (geoloc_shard_index_open(dir, &x, &err) != GEOLOC_OK) {
        CHECK(0, "index: %s", err.message);
        return;
    }
    geoloc_shard_info info;
    geoloc_shard_index_info(x, &info);
    CHECK(info.n_photos == N_PHOTOS - 2 && info.n_shards > 3 && info.shorter_side == SIDE &&
              info.quality == 85 && info.columns == (GEOLOC_COL_AUTHOR | GEOLOC_COL_S3) && info.set_id,
          "info: %llu photos, %u shards, side %d, quality %d, columns %#x",
          (unsigned long long)info.n_photos, info.n_shards, info.shorter_side, info.quality, info.columns);
    geoloc_source src;
    if (geoloc_source_shards(dir, 1, &src, &err) != GEOLOC_OK) {
        CHECK(0, "source: %s", err.message);
        geoloc_shard_index_close(x);
        return;
    }
    CHECK(src.n == info.n_photos, "source holds %zu photos", src.n);
    size_t k = 0;
    for (size_t r = 0; r < m->n && k < src.n; r++) {
        const geoloc_manifest_row *row = &m->row[r];
        if (PHOTOS[r].kind == 't' || PHOTOS[r].kind == 'm') continue;
        geoloc_shard_entry e;
        geoloc_shard_index_entry(x, k, &e);
        CHECK(!strcmp(e.id, row->id) && !strcmp(e.author, row->author) && e.lat == row->lat &&
                  e.lng == row->lng && e.label[0] == row->label[0] && e.label[1] == -1,
              "photo %zu (%s): manifest fields", k, e.id);
        const uint8_t *data;
        size_t size;
        const char *name;
        if (src.read(src.ctx, k, &data, &size, &name, &err) != GEOLOC_OK) {
            CHECK(0, "read %zu: %s", k, err.message);
            k++;
            continue;
        }
        CHECK(!strcmp(name, row->id) && size == e.size && crc32c(0, data, size) == e.crc32c,
              "photo %zu: name %s, %zu bytes", k, name, size);
        /* independent encode of the photo: the same bytes */
        char path[600];
        snprintf(path, sizeof path, "%s/%s", images, row->id);
        shard_photo again;
        if (shard_encode_photo(path, SIDE, 85, &again, &err) == GEOLOC_OK) {
            CHECK(again.size == size && !memcmp(again.data, data, size), "%s: bytes differ from an independent encode", row->id);
            free(again.data);
        } else {
            CHECK(0, "%s: %s", row->id, err.message);
        }
        /* decoded: the recorded size, close to the original resized independently */
        geoloc_image got, orig, resized;
        if (geoloc_image_decode(data, size, name, NULL, &got, &err) == GEOLOC_OK &&
            geoloc_image_load(path, NULL, &orig, &err) == GEOLOC_OK) {
            int w = orig.width, h = orig.height;
            if ((w < h ? w : h) > SIDE) geoloc_resize_shorter_size(orig.width, orig.height, SIDE, &w, &h);
            CHECK(got.width == e.width && got.height == e.height && got.width == w && got.height == h,
                  "%s: %dx%d stored, index %dx%d, expected %dx%d", row->id, got.width, got.height,
                  e.width, e.height, w, h);
            if (got.width == w && got.height == h &&
                geoloc_image_resize(&orig, w, h, &resized, &err) == GEOLOC_OK) {
                double d = mean_diff(&got, &resized);
                CHECK(d < 4.0, "%s: mean pixel difference %.2f from an independent resize", row->id, d);
                geoloc_image_free(&resized);
            }
            if (PHOTOS[r].kind == 'o') CHECK(got.width == 64 && got.height == 128, "orientation applied");
            geoloc_image_free(&got);
            geoloc_image_free(&orig);
        } else {
            CHECK(0, "decode %s: %s", row->id, err.message);
        }
        if (src.release) src.release(src.ctx, data, size);
        k++;
    }
    CHECK(k == src.n, "all photos compared");
    const uint8_t *data;
    size_t size;
    const char *name;
    CHECK(src.read(src.ctx, src.n, &data, &size, &name, &err) == GEOLOC_E_ARG, "index past the end refused");
    geoloc_source_close(&src);
    geoloc_shard_index_close(x);
}

/* Writes bytes as dir/name. */
static void put_bytes(const char *dir, const char *name, const uint8_t *d, size_t n) { put(dir, name, d, n); }

static void expect_open_error(const char *dir, const char *what, const char *part1, const char *part2) {
    geoloc_source src;
    geoloc_error err = {0};
    geoloc_status st = geoloc_source_shards(dir, 1, &src, &err);
    CHECK(st != GEOLOC_OK && strstr(err.message, part1) && strstr(err.message, part2),
          "%s: status %d, message '%s'", what, st, err.message);
    if (st == GEOLOC_OK) geoloc_source_close(&src);
}

static void test_corruption(const char *dir) {
    char path[600];
    snprintf(path, sizeof path, "%s/index.bin", dir);
    size_t size;
    uint8_t *index = test_read_file(path, &size), *copy = malloc(size);
    geoloc_shard_index *x;
    geoloc_error err;
    /* every truncation of the index */
    size_t truncated_ok = 0;
    for (size_t n = 0; n < size; n++) {
        memcpy(copy, index, n);
        err.message[0] = '\0';
        if (geoloc_shard_index_from_buffer(copy, n, "index.bin", &x, &err) == GEOLOC_OK) {
            truncated_ok++;
            geoloc_shard_index_close(x);
        } else if (!strstr(err.message, "index.bin")) {
            CHECK(0, "truncated at %zu: message '%s'", n, err.message);
        }
    }
    CHECK(truncated_ok == 0, "%zu truncated indexes accepted", truncated_ok);
    /* every byte flipped: errors or a still-valid index, never a crash */
    size_t rejected = 0;
    for (size_t k = 0; k < size; k++) {
        memcpy(copy, index, size);
        copy[k] ^= 0xFF;
        if (geoloc_shard_index_from_buffer(copy, size, "index.bin", &x, &err) == GEOLOC_OK) {
            geoloc_shard_info info;
            geoloc_shard_index_info(x, &info);
            for (size_t j = 0; j < info.n_photos; j++) { /* entries stay within bounds */
                geoloc_shard_entry e;
                geoloc_shard_index_entry(x, j, &e);
                CHECK(e.shard < info.n_shards && e.size > 0 && strlen(e.id) > 0, "flip %zu: entry %zu", k, j);
            }
            geoloc_shard_index_close(x);
        } else {
            rejected++;
        }
    }
    printf("index of %zu bytes: %zu of %zu single-byte corruptions rejected\n", size, rejected, size);
    size_t header_fields[] = {0, 8, 12, 16, 20, 24, 32, 48, 55, 59, 60};
    for (size_t k = 0; k < sizeof header_fields / sizeof header_fields[0]; k++) {
        memcpy(copy, index, size);
        copy[header_fields[k]] ^= 0x40;
        CHECK(geoloc_shard_index_from_buffer(copy, size, "index.bin", &x, &err) != GEOLOC_OK,
              "header byte %zu corrupted but accepted", header_fields[k]);
    }
    /* on disk: a truncated index, then shards truncated, foreign, damaged, missing */
    put_bytes(dir, "index.bin", index, size - 5);
    expect_open_error(dir, "truncated index", "index.bin", "truncated");
    put_bytes(dir, "index.bin", index, 0);
    expect_open_error(dir, "empty index", "index.bin", "shorter than the 64-byte header");
    put_bytes(dir, "index.bin", index, size);

    char shard[600];
    snprintf(shard, sizeof shard, "%s/shard-00001.bin", dir);
    size_t ssize;
    uint8_t *sdata = test_read_file(shard, &ssize);
    put_bytes(dir, "shard-00001.bin", sdata, ssize - 1);
    expect_open_error(dir, "truncated shard", "shard-00001.bin", "the index says");
    uint8_t *bad = malloc(ssize);
    memcpy(bad, sdata, ssize);
    bad[20] ^= 1; /* set id */
    put_bytes(dir, "shard-00001.bin", bad, ssize);
    expect_open_error(dir, "shard of another pack", "shard-00001.bin", "belongs to another pack");
    memcpy(bad, sdata, ssize);
    bad[0] = 'X';
    put_bytes(dir, "shard-00001.bin", bad, ssize);
    expect_open_error(dir, "shard magic", "shard-00001.bin", "not a geoloc shard");
    memcpy(bad, sdata, ssize);
    bad[12] ^= 3; /* shard number */
    put_bytes(dir, "shard-00001.bin", bad, ssize);
    expect_open_error(dir, "shard number", "shard-00001.bin", "holds shard number");
    unlink(shard);
    expect_open_error(dir, "missing shard", "shard-00001.bin", "cannot open");
    /* a damaged photo: caught by its checksum when reading with verification */
    memcpy(bad, sdata, ssize);
    bad[ssize - 10] ^= 0x55;
    put_bytes(dir, "shard-00001.bin", bad, ssize);
    geoloc_source src;
    if (geoloc_source_shards(dir, 1, &src, &err) == GEOLOC_OK) {
        size_t mismatches = 0;
        for (size_t k = 0; k < src.n; k++) {
            const uint8_t *d;
            size_t n;
            const char *name;
            if (src.read(src.ctx, k, &d, &n, &name, &err) != GEOLOC_OK) {
                mismatches++;
                CHECK(strstr(err.message, "shard-00001.bin") && strstr(err.message, "checksum mismatch"),
                      "%s", err.message);
            }
        }
        CHECK(mismatches == 1, "%zu checksum mismatches", mismatches);
        geoloc_source_close(&src);
    } else {
        CHECK(0, "open with a damaged photo: %s", err.message);
    }
    if (geoloc_source_shards(dir, 0, &src, &err) == GEOLOC_OK) {
        size_t failures = 0;
        for (size_t k = 0; k < src.n; k++) {
            const uint8_t *d;
            size_t n;
            const char *name;
            failures += src.read(src.ctx, k, &d, &n, &name, &err) != GEOLOC_OK;
        }
        CHECK(failures == 0, "without verification every read succeeds");
        geoloc_source_close(&src);
    }
    put_bytes(dir, "shard-00001.bin", sdata, ssize);
    CHECK(geoloc_source_shards(dir, 1, &src, &err) == GEOLOC_OK, "restored pack: %s", err.message);
    geoloc_source_close(&src);
    free(bad);
    free(sdata);
    free(index);
    free(copy);
}

/* ---- files source, from several threads ---------------------------------------- */

typedef struct {
    geoloc_source *src;
    const geoloc_manifest *m;
    int bad;
} reader_arg;

static void *read_all_files(void *arg) {
    reader_arg *a = arg;
    for (int round = 0; round < 5; round++)
        for (size_t k = 0; k < a->src->n; k++) {
            const uint8_t *d;
            size_t n;
            const char *name;
            geoloc_error err;
            int missing = PHOTOS[k].kind == 'm';
            if (a->src->read(a->src->ctx, k, &d, &n, &name, &err) != GEOLOC_OK) {
                if (!missing || !strstr(err.message, "missing.jpg")) a->bad++;
                continue;
            }
            char path[600];
            snprintf(path, sizeof path, "%s/%s", images, a->m->row[k].id);
            size_t fn;
            uint8_t *f = test_read_file(path, &fn);
            if (missing || !f || fn != n || memcmp(f, d, n) || strcmp(name, path)) a->bad++;
            free(f);
            a->src->release(a->src->ctx, d, n);
        }
    return NULL;
}

static void test_files_source(const geoloc_manifest *m) {
    const char *paths[N_PHOTOS];
    for (size_t k = 0; k < m->n; k++) paths[k] = m->row[k].id;
    geoloc_source src;
    geoloc_error err;
    if (geoloc_source_files(images, paths, m->n, &src, &err) != GEOLOC_OK) {
        CHECK(0, "%s", err.message);
        return;
    }
    pthread_t t[4];
    reader_arg args[4];
    for (int k = 0; k < 4; k++) {
        args[k] = (reader_arg){&src, m, 0};
        pthread_create(&t[k], NULL, read_all_files, &args[k]);
    }
    int bad = 0;
    for (int k = 0; k < 4; k++) {
        pthread_join(t[k], NULL);
        bad += args[k].bad;
    }
    CHECK(bad == 0, "files source: %d wrong reads from 4 threads", bad);
    geoloc_source_close(&src);
    CHECK(src.ctx == NULL && src.n == 0, "closed source is cleared");
}

int main(int argc, char **argv) {
    (void)argc;
    (void)argv;
    test_make_temp_dir(tmp);
    CHECK(crc32c(0, "123456789", 9) == 0xE3069283u && crc32c(crc32c(0, "1234", 4), "56789", 5) == 0xE3069283u,
          "CRC-32C check value");
    geoloc_manifest *m;
    make_photos(&m);
    char d1[400], d2[400], d3[400], d4[400], d5[400];
    snprintf(d1, sizeof d1, "%s/pack1", tmp);
    snprintf(d2, sizeof d2, "%s/pack2", tmp);
    snprintf(d3, sizeof d3, "%s/originals", tmp);
    snprintf(d4, sizeof d4, "%s/empty", tmp);
    snprintf(d5, sizeof d5, "%s/nonexistent/deeper", tmp);
    geoloc_pack_stats s, s2;
    geoloc_error err;
    skip_log log = {0};
    geoloc_status st = pack(m, d1, SIDE, 6000, 3, &s, &log, &err);
    CHECK(st == GEOLOC_OK, "pack: %s", err.message);
    CHECK(s.n_packed == N_PHOTOS - 2 && s.n_skipped == 2 && log.calls == 2 &&
              !strcmp(log.ids[0], "bad.jpg") && !strcmp(log.ids[1], "missing.jpg"),
          "packed %zu, skipped %zu (%s, %s)", s.n_packed, s.n_skipped, log.ids[0], log.ids[1]);
    CHECK(count_files(d1) == (int)s.n_shards + 1, "only shards and the index in the pack folder");
    check_pack(m, d1);

    /* one thread: the same shards and index (the set id aside) */
    skip_log log2 = {0};
    CHECK(pack(m, d2, SIDE, 6000, 1, &s2, &log2, &err) == GEOLOC_OK, "%s", err.message);
    CHECK(s2.n_shards == s.n_shards && s2.bytes == s.bytes, "same shards with one thread");
    for (uint32_t k = 0; k < s.n_shards; k++) {
        char a[600], b[600];
        snprintf(a, sizeof a, "%s/shard-%05u.bin", d1, k);
        snprintf(b, sizeof b, "%s/shard-%05u.bin", d2, k);
        size_t na, nb;
        uint8_t *x = test_read_file(a, &na), *y = test_read_file(b, &nb);
        CHECK(x && y && na == nb && !memcmp(x + 32, y + 32, na - 32) && !memcmp(x, y, 16),
              "shard %u differs between thread counts", k);
        free(x);
        free(y);
    }
    {
        char a[600], b[600];
        snprintf(a, sizeof a, "%s/index.bin", d1);
        snprintf(b, sizeof b, "%s/index.bin", d2);
        size_t na, nb;
        uint8_t *x = test_read_file(a, &na), *y = test_read_file(b, &nb);
        CHECK(x && y && na == nb && !memcmp(x, y, 40) && !memcmp(x + 48, y + 48, na - 48),
              "index differs between thread counts");
        free(x);
        free(y);
    }

    /* original files, byte for byte */
    skip_log log3 = {0};
    CHECK(pack(m, d3, -1, 0, 2, &s2, &log3, &err) == GEOLOC_OK, "%s", err.message);
    geoloc_source src;
    if (geoloc_source_shards(d3, 1, &src, &err) == GEOLOC_OK) {
        size_t same = 0;
        for (size_t k = 0; k < src.n; k++) {
            const uint8_t *data;
            size_t size, fn;
            const char *name;
            char path[600];
            if (src.read(src.ctx, k, &data, &size, &name, &err) != GEOLOC_OK) continue;
            snprintf(path, sizeof path, "%s/%s", images, name);
            uint8_t *f = test_read_file(path, &fn);
            same += f && fn == size && !memcmp(f, data, size);
            free(f);
        }
        CHECK(same == N_PHOTOS - 2 && src.n == N_PHOTOS - 2 && s2.n_shards == 1,
              "originals stored byte for byte (%zu of %zu)", same, src.n);
        geoloc_source_close(&src);
    } else {
        CHECK(0, "%s", err.message);
    }

    /* packing again over pack1 with one big shard removes the old extra shards */
    skip_log log4 = {0};
    CHECK(pack(m, d1, SIDE, 0, 2, &s2, &log4, &err) == GEOLOC_OK && s2.n_shards == 1, "%s", err.message);
    CHECK(count_files(d1) == 2, "stale shards removed: %d files", count_files(d1));

    /* a pack that cannot pack anything leaves nothing behind */
    geoloc_manifest *none;
    geoloc_manifest_new(0, NULL, 0, &none, &err);
    geoloc_manifest_row row = {"missing.jpg", 1, 2, "", {-1, -1, -1}, {NAN, NAN, NAN}, 0};
    geoloc_manifest_append(none, &row, NULL, &err);
    skip_log log5 = {0};
    CHECK(pack(none, d4, SIDE, 0, 1, &s2, &log5, &err) == GEOLOC_E_EMPTY && count_files(d4) == 0,
          "failed pack: %s, %d files left", err.message, count_files(d4));
    geoloc_pack_options opt = {0};
    CHECK(geoloc_dataset_pack(m, images, d5, &opt, &s2, &err) == GEOLOC_E_IO, "missing out dir refused");
    geoloc_manifest_free(none);

    test_corruption(d2);
    test_files_source(m);
    geoloc_manifest_free(m);
    test_remove_tree(tmp);
    TEST_END();
}
