/* Packing a data set into shards.
 *
 * FORMAT (version 1; all integers little-endian, doubles IEEE-754 binary64)
 *
 * A pack is a folder with shard files shard-00000.bin, shard-00001.bin, ...
 * (about --shard-mb each) and one index.bin.
 *
 * shard-NNNNN.bin: a 32-byte header, then the photos' encoded bytes (JPEG
 * files, complete, one after the other, no padding):
 *     0  char[8] magic "GEOLOCSH"
 *     8  u32 version (1)
 *    12  u32 shard number (NNNNN)
 *    16  u64 set id (random; the same in the index and all its shards)
 *    24  u32 header size (32)
 *    28  u32 reserved (0)
 *
 * index.bin: a 64-byte header, n_photos 64-byte records, n_shards 16-byte
 * shard entries, then the text area:
 *   header
 *     0  char[8] magic "GEOLOCIX"
 *     8  u32 version (1)
 *    12  u32 header size (64)
 *    16  u32 record size (64)
 *    20  u32 n_shards
 *    24  u64 n_photos
 *    32  u64 text size (bytes)
 *    40  u64 set id
 *    48  u32 columns present (GEOLOC_COL_AUTHOR | S3 | S16 | S365 bits)
 *    52  i32 shorter side of the stored photos (-1: original files stored)
 *    56  u32 JPEG quality (0 for original files)
 *    60  u32 reserved (0)
 *   record (one per photo, in shard order then offset order)
 *     0  u64 offset of the photo's bytes in its shard file
 *     8  u32 size in bytes (> 0)
 *    12  u32 shard number
 *    16  f64 latitude (degrees)
 *    24  f64 longitude (degrees)
 *    32  u64 offset of its strings in the text area
 *    40  u16 IMG_ID length (1..4095)
 *    42  u16 AUTHOR length (0..4095; 0 = none)
 *    44  u32 CRC-32C of the photo's bytes
 *    48  u32 width, 52 u32 height (decoded, EXIF orientation applied)
 *    56  i16 S3_Label, 58 i16 S16_Label, 60 i16 S365_Label (-1 = absent)
 *    62  u16 reserved (0)
 *   shard entry (one per shard)
 *     0  u64 shard file size in bytes (header included)
 *     8  u64 photos in the shard (> 0)
 *   text area: per photo, IMG_ID bytes, NUL, AUTHOR bytes, NUL.
 *
 * Invariants checked on read (src/dataset/shard_index.c): the file size is
 * exactly header + records + table + text; photos of shard k follow each
 * other from offset 32 to the shard's size; strings follow each other and
 * end in NULs; coordinates and labels in range; reserved fields zero; each
 * shard's size, header, number and set id match the index.
 *
 * WRITING (src/dataset/shard_writer.c): photos are encoded by worker
 * threads a batch at a time and written in manifest order by the calling
 * thread: each shard to a temporary
 * file (shard-NNNNN.bin.tmp.XXXXXX), the index records and text to two more
 * temporary files. When every photo is done, the shards are fsynced and
 * renamed, the index is assembled, fsynced and renamed last; shard files of
 * an older, larger pack beyond the new count are removed. A failure removes
 * the temporary files and leaves the folder as it was. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/error.h"
#include "dataset/shard_encode.h"
#include "dataset/shard_format.h"
#include "dataset/shard_writer.h"
#include "geoloc/dataset.h"

#define MAX_THREADS 64
#define PATH_BYTES SHARD_PATH_BYTES

/* ---- parallel encoding -------------------------------------------------------- */

typedef struct {
    const geoloc_manifest *m;
    const char *root;
    int side, quality;
    size_t begin, end;
    atomic_size_t next;
    shard_photo *photo;
    geoloc_status *status;
    geoloc_error *err;
} batch;

static void *encode_worker(void *arg) {
    batch *b = arg;
    for (;;) {
        size_t k = atomic_fetch_add(&b->next, 1);
        if (k >= b->end) break;
        size_t s = k - b->begin;
        char path[PATH_BYTES];
        if (snprintf(path, sizeof path, "%s/%s", b->root, b->m->row[k].id) >= (int)sizeof path) {
            b->status[s] = error_set(&b->err[s], GEOLOC_E_ARG, "%s: path too long", b->m->row[k].id);
            continue;
        }
        b->status[s] = shard_encode_photo(path, b->side, b->quality, &b->photo[s], &b->err[s]);
    }
    return NULL;
}

static void encode_batch(batch *b, int threads) {
    pthread_t tid[MAX_THREADS];
    int started = 0;
    atomic_store(&b->next, b->begin);
    for (int k = 1; k < threads; k++) {
        if (pthread_create(&tid[started], NULL, encode_worker, b) != 0) break;
        started++;
    }
    encode_worker(b);
    for (int k = 0; k < started; k++) pthread_join(tid[k], NULL);
}

geoloc_status geoloc_dataset_pack(const geoloc_manifest *m, const char *image_root,
                                  const char *out_dir, const geoloc_pack_options *options,
                                  geoloc_pack_stats *stats, geoloc_error *err) {
    geoloc_pack_options opt = options ? *options : (geoloc_pack_options){0};
    if (opt.shorter_side == 0) opt.shorter_side = 320;
    if (opt.quality == 0) opt.quality = 90;
    if (opt.shard_bytes == 0) opt.shard_bytes = (uint64_t)256 << 20;
    if (opt.shorter_side < -1 || opt.shorter_side > (int)SHARD_MAX_SIDE || opt.quality < 1 ||
        opt.quality > 100)
        return error_set(err, GEOLOC_E_ARG, "pack: shorter side %d or quality %d out of range",
                         opt.shorter_side, opt.quality);
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    int threads = opt.threads > 0 ? opt.threads : cores > 0 ? (int)cores : 1;
    if (threads > MAX_THREADS) threads = MAX_THREADS;
    struct stat st;
    if (stat(out_dir, &st) != 0 || !S_ISDIR(st.st_mode))
        return error_set(err, GEOLOC_E_IO, "%s: not a folder", out_dir);
    if (strlen(out_dir) > PATH_BYTES - 64 || strlen(image_root) > PATH_BYTES - 64)
        return error_set(err, GEOLOC_E_ARG, "%s: path too long", out_dir);

    size_t per_batch = (size_t)threads * (opt.shorter_side < 0 ? 4 : 32);
    batch b = {m, image_root, opt.shorter_side, opt.quality, 0, 0, 0, NULL, NULL, NULL};
    b.photo = calloc(per_batch, sizeof *b.photo);
    b.status = calloc(per_batch, sizeof *b.status);
    b.err = calloc(per_batch, sizeof *b.err);
    shard_writer w;
    geoloc_status status = GEOLOC_OK;
    geoloc_pack_stats s = {0};
    if (!b.photo || !b.status || !b.err) {
        memset(&w, 0, sizeof w);
        status = error_set(err, GEOLOC_E_NOMEM, "pack: out of memory");
    } else {
        shard_writer_params p = {shard_new_set_id(), 0, opt.shard_bytes, m->columns & SHARD_COLUMNS,
                                 opt.shorter_side, opt.quality};
        status = shard_writer_open(&w, out_dir, &p, err);
    }
    for (size_t begin = 0; begin < m->n && status == GEOLOC_OK; begin += per_batch) {
        b.begin = begin;
        b.end = begin + per_batch < m->n ? begin + per_batch : m->n;
        encode_batch(&b, threads);
        for (size_t k = b.begin; k < b.end; k++) {
            size_t i = k - b.begin;
            if (status == GEOLOC_OK && b.status[i] == GEOLOC_OK) {
                status = shard_writer_add(&w, &m->row[k], &b.photo[i], err);
            } else if (status == GEOLOC_OK) {
                s.n_skipped++;
                if (opt.on_skip) opt.on_skip(opt.ctx, m->row[k].id, b.err[i].message);
            }
            free(b.photo[i].data);
            b.photo[i].data = NULL;
        }
        if (opt.progress) opt.progress(opt.ctx, b.end, m->n);
    }
    if (status == GEOLOC_OK && w.n_photos == 0)
        status = error_set(err, GEOLOC_E_EMPTY, "%s: no photo could be packed (%zu skipped)",
                           out_dir, s.n_skipped);
    if (status == GEOLOC_OK) status = shard_writer_commit(&w, err);
    s.n_packed = (size_t)w.n_photos;
    s.n_shards = w.n_shards;
    s.bytes = w.photo_bytes;
    shard_writer_abort(&w); /* after a commit: only frees */
    free(b.photo);
    free(b.status);
    free(b.err);
    if (status == GEOLOC_OK && stats) *stats = s;
    return status;
}
