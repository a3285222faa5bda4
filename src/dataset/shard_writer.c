/* Writing shard packs (format in src/dataset/shard.c). Photos go to a
 * temporary shard file (shard-NNNNN.bin.tmp.XXXXXX), their records and
 * strings to two more temporary files. A commit fsyncs and renames the
 * shards, then writes the index (header, records, shard table, text) under a
 * temporary name, fsyncs and renames it last: as dir/index.bin for a whole
 * pack, or as a part file that shard_index_assemble later turns into the
 * index together with the other parts. A failure removes the temporary
 * files and leaves the folder as it was. */
#include "dataset/shard_writer.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/error.h"
#include "dataset/shard_format.h"
#include "io/crc32c.h"

#define PATH_BYTES SHARD_PATH_BYTES

uint64_t shard_new_set_id(void) {
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

static void sync_dir(const char *dir) {
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        fsync(dfd);
        close(dfd);
    }
}

void shard_writer_abort(shard_writer *w) {
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

static geoloc_status write_error(const char *dir, const char *what, geoloc_error *err) {
    return error_set(err, GEOLOC_E_IO, "%s/%s: write failed: %s", dir, what, strerror(errno ? errno : EIO));
}

static geoloc_status shard_begin(shard_writer *w, geoloc_error *err) {
    if (w->p.first_shard + w->n_shards >= SHARD_MAX_SHARDS)
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
    uint32_t number = w->p.first_shard + w->n_shards;
    char base[PATH_BYTES], name[PATH_BYTES];
    shard_file_name(base, sizeof base, w->dir, number);
    if (!(w->tmp[w->n_shards] = malloc(PATH_BYTES)))
        return error_set(err, GEOLOC_E_NOMEM, "%s: out of memory", w->dir);
    w->tmp[w->n_shards][0] = '\0';
    w->n_shards++;
    if (!(w->shard = temp_file(base, name, err))) return GEOLOC_E_IO;
    strcpy(w->tmp[w->n_shards - 1], name);
    uint8_t h[SHARD_HEADER_SIZE] = {0};
    memcpy(h + SH_MAGIC, SHARD_MAGIC, 8);
    put32(h + SH_VERSION, SHARD_VERSION);
    put32(h + SH_NUMBER, number);
    put64(h + SH_SET_ID, w->p.set_id);
    put32(h + SH_HEADER_SIZE, SHARD_HEADER_SIZE);
    if (fwrite(h, 1, sizeof h, w->shard) != sizeof h) return write_error(w->dir, "shard", err);
    w->shard_size = SHARD_HEADER_SIZE;
    w->shard_count = 0;
    return GEOLOC_OK;
}

static geoloc_status shard_end(shard_writer *w, geoloc_error *err) {
    if (!w->shard) return GEOLOC_OK;
    int bad = finish_file(w->shard);
    w->shard = NULL;
    if (bad) return write_error(w->dir, "shard", err);
    w->bytes[w->n_shards - 1] = w->shard_size;
    w->count[w->n_shards - 1] = w->shard_count;
    return GEOLOC_OK;
}

geoloc_status shard_writer_open(shard_writer *w, const char *dir, const shard_writer_params *p,
                                geoloc_error *err) {
    memset(w, 0, sizeof *w);
    if (strlen(dir) >= sizeof w->dir) return error_set(err, GEOLOC_E_ARG, "%s: path too long", dir);
    snprintf(w->dir, sizeof w->dir, "%s", dir);
    w->p = *p;
    char base[PATH_BYTES];
    snprintf(base, sizeof base, "%s/%s", dir, INDEX_FILE_NAME);
    if (!(w->index = temp_file(base, w->index_tmp, err))) return GEOLOC_E_IO;
    snprintf(base, sizeof base, "%s/%s.text", dir, INDEX_FILE_NAME);
    if (!(w->text = temp_file(base, w->text_tmp, err))) return GEOLOC_E_IO;
    uint8_t zero[INDEX_HEADER_SIZE] = {0}; /* the header is written last */
    if (fwrite(zero, 1, sizeof zero, w->index) != sizeof zero) return write_error(w->dir, "index", err);
    return GEOLOC_OK;
}

geoloc_status shard_writer_add(shard_writer *w, const geoloc_manifest_row *row, const shard_photo *p,
                               geoloc_error *err) {
    geoloc_status st;
    if (w->shard && w->shard_count > 0 && w->shard_size + p->size > w->p.limit &&
        (st = shard_end(w, err)) != GEOLOC_OK)
        return st;
    if (!w->shard && (st = shard_begin(w, err)) != GEOLOC_OK) return st;
    size_t id_len = strlen(row->id);
    size_t author_len = (w->p.columns & GEOLOC_COL_AUTHOR) && row->author ? strlen(row->author) : 0;
    if (id_len > SHARD_MAX_TEXT || author_len > SHARD_MAX_TEXT)
        return error_set(err, GEOLOC_E_RANGE, "%s: IMG_ID or AUTHOR longer than %u bytes", row->id,
                         SHARD_MAX_TEXT);
    uint8_t r[INDEX_RECORD_SIZE] = {0};
    put64(r + IR_OFFSET, w->shard_size);
    put32(r + IR_SIZE, (uint32_t)p->size);
    put32(r + IR_SHARD, w->p.first_shard + w->n_shards - 1);
    put_f64(r + IR_LAT, row->lat);
    put_f64(r + IR_LNG, row->lng);
    put64(r + IR_TEXT, w->text_size);
    put16(r + IR_ID_LEN, (uint16_t)id_len);
    put16(r + IR_AUTHOR_LEN, (uint16_t)author_len);
    put32(r + IR_CRC, crc32c(0, p->data, p->size));
    put32(r + IR_WIDTH, (uint32_t)p->width);
    put32(r + IR_HEIGHT, (uint32_t)p->height);
    for (int c = 0; c < 3; c++) {
        int v = (w->p.columns & (GEOLOC_COL_S3 << c)) ? row->label[c] : -1;
        put16(r + IR_LABELS + 2 * c, (uint16_t)(int16_t)v);
    }
    if (fwrite(p->data, 1, p->size, w->shard) != p->size) return write_error(w->dir, "shard", err);
    if (fwrite(r, 1, sizeof r, w->index) != sizeof r) return write_error(w->dir, "index", err);
    if (fwrite(row->id, 1, id_len + 1, w->text) != id_len + 1 ||
        (author_len && fwrite(row->author, 1, author_len, w->text) != author_len) ||
        fputc('\0', w->text) == EOF)
        return write_error(w->dir, "index", err);
    w->shard_size += p->size;
    w->shard_count++;
    w->n_photos++;
    w->text_size += id_len + author_len + 2;
    w->photo_bytes += p->size;
    return GEOLOC_OK;
}

/* Copies `size` bytes from the current position of `in` to `out`. */
static int copy_bytes(FILE *in, FILE *out, uint64_t size) {
    char buf[1 << 16];
    while (size > 0) {
        size_t want = size < sizeof buf ? (size_t)size : sizeof buf;
        if (fread(buf, 1, want, in) != want || fwrite(buf, 1, want, out) != want) return -1;
        size -= want;
    }
    return 0;
}

/* The 64-byte index (or part) header. */
static void put_header(uint8_t *h, const char *magic, const shard_part *p) {
    memset(h, 0, INDEX_HEADER_SIZE);
    memcpy(h + IH_MAGIC, magic, 8);
    put32(h + IH_VERSION, SHARD_VERSION);
    put32(h + IH_HEADER_SIZE, INDEX_HEADER_SIZE);
    put32(h + IH_RECORD_SIZE, INDEX_RECORD_SIZE);
    put32(h + IH_N_SHARDS, p->n_shards);
    put64(h + IH_N_PHOTOS, p->n_photos);
    put64(h + IH_TEXT_SIZE, p->text_size);
    put64(h + IH_SET_ID, p->set_id);
    put32(h + IH_COLUMNS, p->columns);
    put32(h + IH_SHORTER, (uint32_t)(p->side < 0 ? -1 : p->side));
    put32(h + IH_QUALITY, (uint32_t)(p->side < 0 ? 0 : p->quality));
    put32(h + IH_RESERVED, p->first_shard);
}

/* Renames the finished shards into place. */
static geoloc_status rename_shards(shard_writer *w, geoloc_error *err) {
    for (uint32_t k = 0; k < w->n_shards; k++) {
        char name[PATH_BYTES];
        shard_file_name(name, sizeof name, w->dir, w->p.first_shard + k);
        if (rename(w->tmp[k], name) != 0)
            return error_set(err, GEOLOC_E_IO, "%s: cannot rename: %s", name, strerror(errno));
        w->tmp[k][0] = '\0';
    }
    return GEOLOC_OK;
}

/* Completes the temporary index file (table, text, header with `magic`),
 * renames the shards, then the index to `path`. */
static geoloc_status commit_as(shard_writer *w, const char *magic, const char *path, geoloc_error *err) {
    geoloc_status st = shard_end(w, err);
    if (st != GEOLOC_OK) return st;
    for (uint32_t k = 0; k < w->n_shards; k++) { /* shard table, then the text */
        uint8_t t[INDEX_TABLE_ENTRY_SIZE];
        put64(t + IT_BYTES, w->bytes[k]);
        put64(t + IT_PHOTOS, w->count[k]);
        if (fwrite(t, 1, sizeof t, w->index) != sizeof t) return write_error(w->dir, "index", err);
    }
    if (fflush(w->text) != 0 || fseek(w->text, 0, SEEK_SET) != 0 || copy_bytes(w->text, w->index, w->text_size))
        return write_error(w->dir, "index", err);
    uint8_t h[INDEX_HEADER_SIZE];
    shard_part p = {w->p.set_id, w->n_photos, w->text_size, 0, w->n_shards, w->p.columns, w->p.side,
                    w->p.quality};
    if (strcmp(magic, PART_MAGIC) == 0) p.first_shard = w->p.first_shard;
    put_header(h, magic, &p);
    if (fseek(w->index, 0, SEEK_SET) != 0 || fwrite(h, 1, sizeof h, w->index) != sizeof h)
        return write_error(w->dir, "index", err);
    int bad = finish_file(w->index);
    w->index = NULL;
    if (bad) return write_error(w->dir, "index", err);
    if ((st = rename_shards(w, err)) != GEOLOC_OK) return st;
    if (w->n_shards) sync_dir(w->dir);
    if (rename(w->index_tmp, path) != 0)
        return error_set(err, GEOLOC_E_IO, "%s: cannot rename: %s", path, strerror(errno));
    w->index_tmp[0] = '\0';
    return GEOLOC_OK;
}

geoloc_status shard_writer_commit(shard_writer *w, geoloc_error *err) {
    char name[PATH_BYTES];
    snprintf(name, sizeof name, "%s/%s", w->dir, INDEX_FILE_NAME);
    geoloc_status st = commit_as(w, INDEX_MAGIC, name, err);
    if (st != GEOLOC_OK) return st;
    sync_dir(w->dir);
    for (uint32_t k = w->n_shards; k < SHARD_MAX_SHARDS; k++) { /* an older pack's extra shards */
        shard_file_name(name, sizeof name, w->dir, k);
        if (unlink(name) != 0) break;
    }
    return GEOLOC_OK;
}

geoloc_status shard_writer_commit_part(shard_writer *w, const char *part_path, geoloc_error *err) {
    geoloc_status st = commit_as(w, PART_MAGIC, part_path, err);
    if (st != GEOLOC_OK) return st;
    char dir[PATH_BYTES];
    snprintf(dir, sizeof dir, "%s", part_path);
    char *slash = strrchr(dir, '/');
    if (slash) *slash = '\0';
    sync_dir(slash ? dir : ".");
    return GEOLOC_OK;
}

/* ---- parts -------------------------------------------------------------------- */

static geoloc_status bad_part(const char *path, const char *what, geoloc_error *err) {
    return error_set(err, GEOLOC_E_PARSE, "%s: %s (corrupted import state; remove the file to import "
                     "its shard again)", path, what);
}

geoloc_status shard_part_read(const char *path, shard_part *p, char **text, geoloc_error *err) {
    FILE *f = fopen(path, "rb");
    if (!f) return error_set(err, GEOLOC_E_IO, "%s: cannot open: %s", path, strerror(errno));
    uint8_t h[INDEX_HEADER_SIZE];
    geoloc_status st = GEOLOC_OK;
    struct stat sb;
    if (fread(h, 1, sizeof h, f) != sizeof h || memcmp(h + IH_MAGIC, PART_MAGIC, 8) != 0 ||
        get32(h + IH_VERSION) != SHARD_VERSION || get32(h + IH_HEADER_SIZE) != INDEX_HEADER_SIZE ||
        get32(h + IH_RECORD_SIZE) != INDEX_RECORD_SIZE) {
        st = bad_part(path, "not a part file of this version", err);
    } else {
        *p = (shard_part){get64(h + IH_SET_ID), get64(h + IH_N_PHOTOS), get64(h + IH_TEXT_SIZE),
                          get32(h + IH_RESERVED), get32(h + IH_N_SHARDS), get32(h + IH_COLUMNS),
                          (int32_t)get32(h + IH_SHORTER), (int)get32(h + IH_QUALITY)};
        uint64_t want = INDEX_HEADER_SIZE;
        int fits = p->n_photos < ((uint64_t)1 << 40) && p->n_shards <= SHARD_MAX_SHARDS &&
                   p->text_size < ((uint64_t)1 << 48);
        if (fits)
            want += p->n_photos * INDEX_RECORD_SIZE + (uint64_t)p->n_shards * INDEX_TABLE_ENTRY_SIZE + p->text_size;
        if (!fits || fstat(fileno(f), &sb) != 0 || (uint64_t)sb.st_size != want)
            st = bad_part(path, "size does not match its header", err);
    }
    if (st == GEOLOC_OK && text) {
        *text = malloc(p->text_size ? p->text_size : 1);
        if (!*text) st = error_set(err, GEOLOC_E_NOMEM, "%s: out of memory", path);
        else if (fseeko(f, (off_t)(sb.st_size - (off_t)p->text_size), SEEK_SET) != 0 ||
                 fread(*text, 1, p->text_size, f) != p->text_size ||
                 (p->text_size && (*text)[p->text_size - 1] != '\0')) {
            free(*text);
            *text = NULL;
            st = bad_part(path, "cannot read its text", err);
        }
    }
    fclose(f);
    return st;
}

geoloc_status shard_index_assemble(const char *dir, char *const *parts, size_t n, geoloc_error *err) {
    shard_part *p = calloc(n ? n : 1, sizeof *p);
    FILE **in = calloc(n ? n : 1, sizeof *in);
    if (!p || !in) {
        free(p);
        free(in);
        return error_set(err, GEOLOC_E_NOMEM, "%s: out of memory", dir);
    }
    shard_part all = {0};
    geoloc_status st = GEOLOC_OK;
    for (size_t k = 0; k < n && st == GEOLOC_OK; k++) {
        if ((st = shard_part_read(parts[k], &p[k], NULL, err)) != GEOLOC_OK) break;
        if (k == 0) all = (shard_part){p[0].set_id, 0, 0, 0, 0, p[0].columns, p[0].side, p[0].quality};
        if (p[k].set_id != all.set_id || p[k].columns != all.columns || p[k].side != all.side ||
            p[k].quality != all.quality)
            st = bad_part(parts[k], "from another pack (set id, columns or photo kind differ)", err);
        else if (p[k].n_shards && p[k].first_shard != all.n_shards)
            st = bad_part(parts[k], "its shard numbers leave a gap or overlap another part's", err);
        else if (!(in[k] = fopen(parts[k], "rb")))
            st = error_set(err, GEOLOC_E_IO, "%s: cannot open: %s", parts[k], strerror(errno));
        all.n_shards += p[k].n_shards;
        all.n_photos += p[k].n_photos;
        all.text_size += p[k].text_size;
    }
    char base[PATH_BYTES], tmp[PATH_BYTES] = "", name[PATH_BYTES];
    snprintf(base, sizeof base, "%s/%s", dir, INDEX_FILE_NAME);
    FILE *out = st == GEOLOC_OK ? temp_file(base, tmp, err) : NULL;
    if (st == GEOLOC_OK && !out) st = GEOLOC_E_IO;
    uint8_t h[INDEX_HEADER_SIZE];
    put_header(h, INDEX_MAGIC, &all);
    if (st == GEOLOC_OK && fwrite(h, 1, sizeof h, out) != sizeof h) st = write_error(dir, "index", err);
    uint64_t text_base = 0; /* records, their text offsets moved past the earlier parts' text */
    for (size_t k = 0; k < n && st == GEOLOC_OK; k++) {
        if (fseeko(in[k], INDEX_HEADER_SIZE, SEEK_SET) != 0) st = write_error(dir, "index", err);
        for (uint64_t r = 0; r < p[k].n_photos && st == GEOLOC_OK; r++) {
            uint8_t rec[INDEX_RECORD_SIZE];
            if (fread(rec, 1, sizeof rec, in[k]) != sizeof rec) {
                st = bad_part(parts[k], "cannot read its records", err);
                break;
            }
            put64(rec + IR_TEXT, get64(rec + IR_TEXT) + text_base);
            if (fwrite(rec, 1, sizeof rec, out) != sizeof rec) st = write_error(dir, "index", err);
        }
        text_base += p[k].text_size;
    }
    for (size_t k = 0; k < n && st == GEOLOC_OK; k++) /* shard tables, then texts, in order */
        if (copy_bytes(in[k], out, (uint64_t)p[k].n_shards * INDEX_TABLE_ENTRY_SIZE))
            st = write_error(dir, "index", err);
    for (size_t k = 0; k < n && st == GEOLOC_OK; k++)
        if (copy_bytes(in[k], out, p[k].text_size)) st = write_error(dir, "index", err);
    for (size_t k = 0; k < n; k++)
        if (in[k]) fclose(in[k]);
    if (out && finish_file(out) != 0 && st == GEOLOC_OK) st = write_error(dir, "index", err);
    snprintf(name, sizeof name, "%s/%s", dir, INDEX_FILE_NAME);
    if (st == GEOLOC_OK && rename(tmp, name) != 0)
        st = error_set(err, GEOLOC_E_IO, "%s: cannot rename: %s", name, strerror(errno));
    if (st != GEOLOC_OK && tmp[0]) unlink(tmp);
    if (st == GEOLOC_OK) sync_dir(dir);
    free(p);
    free(in);
    return st;
}
