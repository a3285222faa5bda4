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
 * WRITING: photos are encoded by worker threads a batch at a time and
 * written in manifest order by the calling thread: each shard to a temporary
 * file (shard-NNNNN.bin.tmp.XXXXXX), the index records and text to two more
 * temporary files. When every photo is done, the shards are fsynced and
 * renamed, the index is assembled, fsynced and renamed last; shard files of
 * an older, larger pack beyond the new count are removed. A failure removes
 * the temporary files and leaves the folder as it was. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/error.h"
#include "io/crc32c.h"
#include "dataset/shard_encode.h"
#include "dataset/shard_format.h"
#include "geoloc/dataset.h"

#define MAX_THREADS 64
#define PATH_BYTES 4200

typedef struct {
    char dir[PATH_BYTES];
    uint64_t set_id, limit;
    unsigned columns;
    int side, quality;
    FILE *shard;             /* current shard, or NULL */
    uint64_t shard_size, shard_count;
    char **tmp;              /* temporary name of each shard */
    uint64_t *bytes, *count; /* per shard */
    uint32_t n_shards, cap;
    FILE *index, *text;      /* temporary index (records) and text files */
    char index_tmp[PATH_BYTES], text_tmp[PATH_BYTES];
    uint64_t n_photos, text_size, photo_bytes;
} writer;

static uint64_t new_set_id(void) {
    uint64_t id = 0;
    if (getrandom(&id, sizeof id, 0) != (ssize_t)sizeof id || id == 0) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        id = ((uint64_t)ts.tv_sec * 1000000007u) ^ (uint64_t)ts.tv_nsec ^ ((uint64_t)getpid() << 40);
        id |= 1;
    }
    return id;
}

/* Creates a temporary file "base.tmp.XXXXXX"; name gets its path. */
static FILE *temp_file(const char *base, char *name, geoloc_error *err) {
    snprintf(name, PATH_BYTES, "%s.tmp.XXXXXX", base);
    int fd = mkstemp(name);
    if (fd < 0) {
        error_set(err, GEOLOC_E_IO, "%s: cannot create: %s", name, strerror(errno));
        name[0] = '\0';
        return NULL;
    }
    fchmod(fd, 0644);
    FILE *f = fdopen(fd, "w+b");
    if (!f) {
        error_set(err, GEOLOC_E_IO, "%s: cannot open: %s", name, strerror(errno));
        close(fd);
    }
    return f;
}

/* Flushes, fsyncs and closes; -1 on any write error. */
static int finish_file(FILE *f) {
    int bad = fflush(f) != 0 || ferror(f) || fsync(fileno(f)) != 0;
    return (fclose(f) != 0 || bad) ? -1 : 0;
}

static void writer_abort(writer *w) {
    if (w->shard) fclose(w->shard);
    w->shard = NULL;
    for (uint32_t k = 0; k < w->n_shards; k++) {
        if (w->tmp[k]) unlink(w->tmp[k]);
        free(w->tmp[k]);
    }
    free(w->tmp);
    free(w->bytes);
    free(w->count);
    if (w->index) fclose(w->index);
    if (w->text) fclose(w->text);
    if (w->index_tmp[0]) unlink(w->index_tmp);
    if (w->text_tmp[0]) unlink(w->text_tmp);
    memset(w, 0, sizeof *w);
}

static geoloc_status write_error(writer *w, const char *what, geoloc_error *err) {
    return error_set(err, GEOLOC_E_IO, "%s/%s: write failed: %s", w->dir, what,
                     strerror(errno ? errno : EIO));
}

static geoloc_status shard_begin(writer *w, geoloc_error *err) {
    if (w->n_shards == SHARD_MAX_SHARDS)
        return error_set(err, GEOLOC_E_RANGE, "%s: more than %u shards", w->dir, SHARD_MAX_SHARDS);
    if (w->n_shards == w->cap) {
        uint32_t cap = w->cap ? w->cap * 2 : 16;
        char **tmp = realloc(w->tmp, cap * sizeof *tmp);
        if (tmp) w->tmp = tmp;
        uint64_t *bytes = tmp ? realloc(w->bytes, cap * sizeof *bytes) : NULL;
        if (bytes) w->bytes = bytes;
        uint64_t *count = bytes ? realloc(w->count, cap * sizeof *count) : NULL;
        if (!count) return error_set(err, GEOLOC_E_NOMEM, "%s: out of memory", w->dir);
        w->count = count;
        w->cap = cap;
    }
    char base[PATH_BYTES], name[PATH_BYTES];
    shard_file_name(base, sizeof base, w->dir, w->n_shards);
    if (!(w->tmp[w->n_shards] = malloc(PATH_BYTES)))
        return error_set(err, GEOLOC_E_NOMEM, "%s: out of memory", w->dir);
    w->tmp[w->n_shards][0] = '\0';
    w->n_shards++;
    if (!(w->shard = temp_file(base, name, err))) return GEOLOC_E_IO;
    strcpy(w->tmp[w->n_shards - 1], name);
    uint8_t h[SHARD_HEADER_SIZE] = {0};
    memcpy(h + SH_MAGIC, SHARD_MAGIC, 8);
    put32(h + SH_VERSION, SHARD_VERSION);
    put32(h + SH_NUMBER, w->n_shards - 1);
    put64(h + SH_SET_ID, w->set_id);
    put32(h + SH_HEADER_SIZE, SHARD_HEADER_SIZE);
    if (fwrite(h, 1, sizeof h, w->shard) != sizeof h) return write_error(w, "shard", err);
    w->shard_size = SHARD_HEADER_SIZE;
    w->shard_count = 0;
    return GEOLOC_OK;
}

static geoloc_status shard_end(writer *w, geoloc_error *err) {
    if (!w->shard) return GEOLOC_OK;
    int bad = finish_file(w->shard);
    w->shard = NULL;
    if (bad) return write_error(w, "shard", err);
    w->bytes[w->n_shards - 1] = w->shard_size;
    w->count[w->n_shards - 1] = w->shard_count;
    return GEOLOC_OK;
}

static geoloc_status writer_open(writer *w, const char *dir, const geoloc_pack_options *opt,
                                 unsigned columns, geoloc_error *err) {
    memset(w, 0, sizeof *w);
    snprintf(w->dir, sizeof w->dir, "%s", dir);
    w->set_id = new_set_id();
    w->limit = opt->shard_bytes;
    w->columns = columns;
    w->side = opt->shorter_side;
    w->quality = opt->shorter_side < 0 ? 0 : opt->quality;
    char base[PATH_BYTES];
    snprintf(base, sizeof base, "%s/%s", dir, INDEX_FILE_NAME);
    if (!(w->index = temp_file(base, w->index_tmp, err))) return GEOLOC_E_IO;
    snprintf(base, sizeof base, "%s/%s.text", dir, INDEX_FILE_NAME);
    if (!(w->text = temp_file(base, w->text_tmp, err))) return GEOLOC_E_IO;
    uint8_t zero[INDEX_HEADER_SIZE] = {0}; /* the header is written last */
    if (fwrite(zero, 1, sizeof zero, w->index) != sizeof zero) return write_error(w, "index", err);
    return GEOLOC_OK;
}

static geoloc_status writer_add(writer *w, const geoloc_manifest_row *row, const shard_photo *p,
                                geoloc_error *err) {
    geoloc_status st;
    if (w->shard && w->shard_count > 0 && w->shard_size + p->size > w->limit &&
        (st = shard_end(w, err)) != GEOLOC_OK)
        return st;
    if (!w->shard && (st = shard_begin(w, err)) != GEOLOC_OK) return st;
    size_t id_len = strlen(row->id);
    size_t author_len = (w->columns & GEOLOC_COL_AUTHOR) && row->author ? strlen(row->author) : 0;
    if (id_len > SHARD_MAX_TEXT || author_len > SHARD_MAX_TEXT)
        return error_set(err, GEOLOC_E_RANGE, "%s: IMG_ID or AUTHOR longer than %u bytes", row->id,
                         SHARD_MAX_TEXT);
    uint8_t r[INDEX_RECORD_SIZE] = {0};
    put64(r + IR_OFFSET, w->shard_size);
    put32(r + IR_SIZE, (uint32_t)p->size);
    put32(r + IR_SHARD, w->n_shards - 1);
    put_f64(r + IR_LAT, row->lat);
    put_f64(r + IR_LNG, row->lng);
    put64(r + IR_TEXT, w->text_size);
    put16(r + IR_ID_LEN, (uint16_t)id_len);
    put16(r + IR_AUTHOR_LEN, (uint16_t)author_len);
    put32(r + IR_CRC, crc32c(0, p->data, p->size));
    put32(r + IR_WIDTH, (uint32_t)p->width);
    put32(r + IR_HEIGHT, (uint32_t)p->height);
    for (int c = 0; c < 3; c++) {
        int v = (w->columns & (GEOLOC_COL_S3 << c)) ? row->label[c] : -1;
        put16(r + IR_LABELS + 2 * c, (uint16_t)(int16_t)v);
    }
    if (fwrite(p->data, 1, p->size, w->shard) != p->size) return write_error(w, "shard", err);
    if (fwrite(r, 1, sizeof r, w->index) != sizeof r) return write_error(w, "index", err);
    if (fwrite(row->id, 1, id_len + 1, w->text) != id_len + 1 ||
        (author_len && fwrite(row->author, 1, author_len, w->text) != author_len) ||
        fputc('\0', w->text) == EOF)
        return write_error(w, "index", err);
    w->shard_size += p->size;
    w->shard_count++;
    w->n_photos++;
    w->text_size += id_len + author_len + 2;
    w->photo_bytes += p->size;
    return GEOLOC_OK;
}

/* Renames the shards, assembles and renames the index, removes stale shards. */
static geoloc_status writer_commit(writer *w, geoloc_error *err) {
    geoloc_status st = shard_end(w, err);
    if (st != GEOLOC_OK) return st;
    for (uint32_t k = 0; k < w->n_shards; k++) { /* shard table, then the text */
        uint8_t t[INDEX_TABLE_ENTRY_SIZE];
        put64(t + IT_BYTES, w->bytes[k]);
        put64(t + IT_PHOTOS, w->count[k]);
        if (fwrite(t, 1, sizeof t, w->index) != sizeof t) return write_error(w, "index", err);
    }
    if (fflush(w->text) != 0 || fseek(w->text, 0, SEEK_SET) != 0) return write_error(w, "index", err);
    char buf[1 << 16];
    size_t got;
    while ((got = fread(buf, 1, sizeof buf, w->text)) > 0)
        if (fwrite(buf, 1, got, w->index) != got) return write_error(w, "index", err);
    if (ferror(w->text)) return write_error(w, "index", err);
    uint8_t h[INDEX_HEADER_SIZE] = {0};
    memcpy(h + IH_MAGIC, INDEX_MAGIC, 8);
    put32(h + IH_VERSION, SHARD_VERSION);
    put32(h + IH_HEADER_SIZE, INDEX_HEADER_SIZE);
    put32(h + IH_RECORD_SIZE, INDEX_RECORD_SIZE);
    put32(h + IH_N_SHARDS, w->n_shards);
    put64(h + IH_N_PHOTOS, w->n_photos);
    put64(h + IH_TEXT_SIZE, w->text_size);
    put64(h + IH_SET_ID, w->set_id);
    put32(h + IH_COLUMNS, w->columns);
    put32(h + IH_SHORTER, (uint32_t)(w->side < 0 ? -1 : w->side));
    put32(h + IH_QUALITY, (uint32_t)w->quality);
    if (fseek(w->index, 0, SEEK_SET) != 0 || fwrite(h, 1, sizeof h, w->index) != sizeof h)
        return write_error(w, "index", err);
    int bad = finish_file(w->index);
    w->index = NULL;
    if (bad) return write_error(w, "index", err);
    for (uint32_t k = 0; k < w->n_shards; k++) {
        char name[PATH_BYTES];
        shard_file_name(name, sizeof name, w->dir, k);
        if (rename(w->tmp[k], name) != 0)
            return error_set(err, GEOLOC_E_IO, "%s: cannot rename: %s", name, strerror(errno));
        w->tmp[k][0] = '\0';
    }
    char name[PATH_BYTES];
    if (snprintf(name, sizeof name, "%s/%s", w->dir, INDEX_FILE_NAME) >= (int)sizeof name ||
        rename(w->index_tmp, name) != 0)
        return error_set(err, GEOLOC_E_IO, "%s: cannot rename: %s", name, strerror(errno));
    w->index_tmp[0] = '\0';
    int dfd = open(w->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        fsync(dfd);
        close(dfd);
    }
    for (uint32_t k = w->n_shards; k < SHARD_MAX_SHARDS; k++) { /* an older pack's extra shards */
        shard_file_name(name, sizeof name, w->dir, k);
        if (unlink(name) != 0) break;
    }
    return GEOLOC_OK;
}

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
    writer w;
    geoloc_status status = GEOLOC_OK;
    geoloc_pack_stats s = {0};
    if (!b.photo || !b.status || !b.err) {
        memset(&w, 0, sizeof w);
        status = error_set(err, GEOLOC_E_NOMEM, "pack: out of memory");
    } else {
        status = writer_open(&w, out_dir, &opt, m->columns & SHARD_COLUMNS, err);
    }
    for (size_t begin = 0; begin < m->n && status == GEOLOC_OK; begin += per_batch) {
        b.begin = begin;
        b.end = begin + per_batch < m->n ? begin + per_batch : m->n;
        encode_batch(&b, threads);
        for (size_t k = b.begin; k < b.end; k++) {
            size_t i = k - b.begin;
            if (status == GEOLOC_OK && b.status[i] == GEOLOC_OK) {
                status = writer_add(&w, &m->row[k], &b.photo[i], err);
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
    if (status == GEOLOC_OK) status = writer_commit(&w, err);
    s.n_packed = (size_t)w.n_photos;
    s.n_shards = w.n_shards;
    s.bytes = w.photo_bytes;
    writer_abort(&w); /* after a commit: only frees */
    free(b.photo);
    free(b.status);
    free(b.err);
    if (status == GEOLOC_OK && stats) *stats = s;
    return status;
}
