/* Importing GeoEstimation's msgpack shards into a pack.
 *
 * READING (src/dataset/msgpack_read.c): each input is streamed through
 * msgpack-c's unpacker. Any object that is not a map with an "id" and an
 * "image" is corrupt, and so is a record to import (its id in the meta, not
 * imported yet) whose photo header (size and EXIF orientation, no pixel
 * decoding) cannot be read; both are named and skipped. An input that ends
 * inside an object, or holds bytes that are not msgpack, or an oversized
 * record, is reported and the rest of it is skipped.
 *
 * WRITING (src/dataset/shard_writer.c): input k becomes one shard file
 * (none when nothing of it is imported) and the part file
 * import-state/<hash of its real path and size>.part with its index records,
 * renamed into place once the whole input is read. A later run skips the
 * inputs whose part exists, so an interrupted import continues with the
 * input it was reading; index.bin is assembled from every part at the end
 * (left alone when nothing changed). Stale temporary files of a killed run
 * are removed at the start, under the import's lock
 * (out_dir/.import-state.lock). */
#define _GNU_SOURCE /* qsort_r */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/error.h"
#include "dataset/msgpack_read.h"
#include "dataset/shard_format.h"
#include "dataset/shard_writer.h"
#include "io/file_lock.h"

#define STATE_DIR "import-state"
#define PATH_BYTES SHARD_PATH_BYTES

/* ---- the meta manifest, sorted by id ------------------------------------------------ */

typedef struct {
    const geoloc_manifest *m;
    size_t *order; /* row indices sorted by IMG_ID */
    uint8_t *seen; /* per row: imported */
} meta_index;

static int by_id(const void *a, const void *b, void *m) {
    const geoloc_manifest *meta = m;
    return strcmp(meta->row[*(const size_t *)a].id, meta->row[*(const size_t *)b].id);
}

/* The row whose IMG_ID is id[0..len), or -1. */
static long meta_find(const meta_index *x, const char *id, size_t len) {
    size_t lo = 0, hi = x->m->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const char *s = x->m->row[x->order[mid]].id;
        int c = strncmp(s, id, len);
        if (c == 0) c = s[len] != '\0';
        if (c == 0) return (long)x->order[mid];
        if (c < 0) lo = mid + 1;
        else hi = mid;
    }
    return -1;
}

/* ---- the import --------------------------------------------------------------------- */

typedef struct {
    const char *out_dir;
    char state[PATH_BYTES - 300]; /* out_dir/import-state, with room for file names */
    meta_index meta;
    shard_writer_params params;
    const geoloc_msgpack_import_options *opt;
    geoloc_msgpack_import_stats s;
} import_job;

static void problem(import_job *j, const char *fmt, const char *shard, uint64_t number, uint64_t at,
                    const char *why) {
    char msg[1024];
    snprintf(msg, sizeof msg, fmt, shard, (unsigned long long)number, (unsigned long long)at, why);
    if (j->opt->on_problem) j->opt->on_problem(j->opt->ctx, msg);
}

static ssize_t read_fd(void *ctx, void *buf, size_t size) {
    ssize_t got;
    do got = read(*(int *)ctx, buf, size);
    while (got < 0 && errno == EINTR);
    return got;
}

/* Reads one input shard into a new shard file and its part file. */
static geoloc_status import_shard(import_job *j, const char *path, const char *part, geoloc_error *err) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return error_set(err, GEOLOC_E_IO, "%s: cannot open: %s", path, strerror(errno));
    msgpack_reader r;
    shard_writer w;
    memset(&w, 0, sizeof w);
    geoloc_status st = GEOLOC_OK;
    if (msgpack_reader_init(&r, read_fd, &fd) != 0) {
        close(fd);
        return error_set(err, GEOLOC_E_NOMEM, "%s: out of memory", path);
    }
    st = shard_writer_open(&w, j->out_dir, &j->params, err);
    char why[600];
    msgpack_record rec;
    for (int more = 1; more && st == GEOLOC_OK;) {
        switch (msgpack_reader_next(&r, &rec, why, sizeof why)) {
        case MSGPACK_READ_RECORD: {
            long row = meta_find(&j->meta, rec.id, rec.id_len);
            if (row < 0) {
                j->s.n_not_in_meta++;
            } else if (j->meta.seen[row]) {
                j->s.n_duplicates++;
            } else if (msgpack_record_probe(&rec, why, sizeof why) != 0) {
                j->s.n_corrupt++;
                problem(j, "%s: record %llu at byte %llu: %s", path, r.number, r.start, why);
            } else {
                shard_photo p = {(uint8_t *)(uintptr_t)rec.image, rec.image_size, rec.width, rec.height};
                st = shard_writer_add(&w, &j->meta.m->row[row], &p, err);
                j->meta.seen[row] = 1;
                j->s.n_imported++;
            }
            break;
        }
        case MSGPACK_READ_BAD:
            j->s.n_corrupt++;
            problem(j, "%s: record %llu at byte %llu: %s", path, r.number, r.start, why);
            break;
        case MSGPACK_READ_TRUNCATED:
        case MSGPACK_READ_CORRUPT:
            j->s.n_truncated++;
            problem(j, "%s: record %llu at byte %llu: %s; the rest of the shard is skipped", path, r.number,
                    r.start, why);
            more = 0;
            break;
        case MSGPACK_READ_END:
            more = 0;
            break;
        case MSGPACK_READ_IO:
            st = error_set(err, GEOLOC_E_IO, "%s: read failed at byte %llu: %s", path,
                           (unsigned long long)r.fed, why);
            break;
        }
    }
    msgpack_reader_free(&r);
    close(fd);
    if (st == GEOLOC_OK) st = shard_writer_commit_part(&w, part, err);
    if (st == GEOLOC_OK) j->params.first_shard += w.n_shards;
    shard_writer_abort(&w);
    return st;
}

/* dir/import-state/<FNV-1a of the input's real path and size>.part */
static geoloc_status part_name(const import_job *j, const char *input, char *out, geoloc_error *err) {
    char real[PATH_MAX];
    struct stat sb;
    if (!realpath(input, real) || stat(real, &sb) != 0)
        return error_set(err, GEOLOC_E_IO, "%s: cannot open: %s", input, strerror(errno));
    uint64_t h = 0xcbf29ce484222325ull;
    for (const char *p = real; *p; p++) h = (h ^ (uint8_t)*p) * 0x100000001b3ull;
    for (int k = 0; k < 8; k++) h = (h ^ (uint8_t)((uint64_t)sb.st_size >> (8 * k))) * 0x100000001b3ull;
    snprintf(out, PATH_BYTES, "%s/%016llx.part", j->state, (unsigned long long)h);
    return GEOLOC_OK;
}

typedef struct {
    char *path;
    shard_part part;
} part_file;

typedef struct {
    part_file *f;
    size_t n;
} part_list;

static void part_list_free(part_list *l) {
    for (size_t k = 0; k < l->n; k++) free(l->f[k].path);
    free(l->f);
    memset(l, 0, sizeof *l);
}

static int by_first_shard(const void *a, const void *b) {
    const shard_part *x = &((const part_file *)a)->part, *y = &((const part_file *)b)->part;
    if (x->first_shard != y->first_shard) return x->first_shard < y->first_shard ? -1 : 1;
    return (x->n_shards > 0) - (y->n_shards > 0);
}

/* Marks the ids of a part's text (IMG_ID NUL AUTHOR NUL per photo) as seen. */
static void mark_seen(meta_index *x, const char *text, const shard_part *p) {
    for (uint64_t k = 0, at = 0; k < p->n_photos && at < p->text_size; k++) {
        const char *id = text + at;
        long row = meta_find(x, id, strlen(id));
        if (row >= 0) x->seen[row] = 1;
        at += strlen(id) + 1;
        if (at < p->text_size) at += strlen(text + at) + 1;
    }
}

/* The parts in the state folder, sorted by first shard (leftover temporary
 * files removed); with mark, their ids are marked as seen. */
static geoloc_status list_parts(import_job *j, int mark, part_list *l, geoloc_error *err) {
    memset(l, 0, sizeof *l);
    DIR *d = opendir(j->state);
    if (!d) return error_set(err, GEOLOC_E_IO, "%s: cannot open: %s", j->state, strerror(errno));
    geoloc_status st = GEOLOC_OK;
    size_t cap = 0;
    struct dirent *e;
    while (st == GEOLOC_OK && (e = readdir(d))) {
        size_t len = strlen(e->d_name);
        char path[PATH_BYTES];
        snprintf(path, sizeof path, "%s/%s", j->state, e->d_name);
        if (strstr(e->d_name, ".tmp.")) {
            unlink(path);
            continue;
        }
        if (len < 6 || strcmp(e->d_name + len - 5, ".part") != 0) continue;
        if (l->n == cap) {
            part_file *f = realloc(l->f, (cap = cap ? 2 * cap : 64) * sizeof *f);
            if (!f) {
                st = error_set(err, GEOLOC_E_NOMEM, "%s: out of memory", j->state);
                break;
            }
            l->f = f;
        }
        char *text = NULL;
        part_file *f = &l->f[l->n];
        if (!(f->path = strdup(path))) {
            st = error_set(err, GEOLOC_E_NOMEM, "%s: out of memory", path);
        } else if ((st = shard_part_read(path, &f->part, mark ? &text : NULL, err)) != GEOLOC_OK) {
            free(f->path);
        } else {
            l->n++;
            if (text) mark_seen(&j->meta, text, &f->part);
        }
        free(text);
    }
    closedir(d);
    if (st != GEOLOC_OK) part_list_free(l);
    else if (l->n) qsort(l->f, l->n, sizeof *l->f, by_first_shard);
    return st;
}

/* Removes a killed run's temporary shard and index files from dir. */
static void remove_temporaries(const char *dir) {
    DIR *d = opendir(dir);
    struct dirent *e;
    while (d && (e = readdir(d)))
        if (strstr(e->d_name, ".tmp.") &&
            (strncmp(e->d_name, "shard-", 6) == 0 || strncmp(e->d_name, INDEX_FILE_NAME, 9) == 0)) {
            char path[PATH_BYTES];
            snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
            unlink(path);
        }
    if (d) closedir(d);
}

/* 1 when path names a file. */
static int exists(const char *dir, const char *name) {
    char path[PATH_BYTES];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return access(path, F_OK) == 0;
}

/* Checks out_dir and the inputs, creates the state folder and sorts the meta. */
static geoloc_status prepare(import_job *j, const char *const *shards, size_t n, geoloc_error *err) {
    struct stat sb;
    char real_out[PATH_MAX];
    if (stat(j->out_dir, &sb) != 0 || !S_ISDIR(sb.st_mode) || !realpath(j->out_dir, real_out))
        return error_set(err, GEOLOC_E_IO, "%s: not a folder", j->out_dir);
    if (strlen(j->out_dir) + sizeof STATE_DIR + 1 > sizeof j->state)
        return error_set(err, GEOLOC_E_ARG, "%s: path too long", j->out_dir);
    snprintf(j->state, sizeof j->state, "%s/%s", j->out_dir, STATE_DIR);
    if (stat(j->state, &sb) != 0) {
        if (exists(j->out_dir, INDEX_FILE_NAME) || exists(j->out_dir, "shard-00000.bin"))
            return error_set(err, GEOLOC_E_ARG, "%s: holds a pack that import-msgpack did not write (no %s/): "
                             "give a new folder", j->out_dir, STATE_DIR);
        if (mkdir(j->state, 0755) != 0 && errno != EEXIST)
            return error_set(err, GEOLOC_E_IO, "%s: cannot create: %s", j->state, strerror(errno));
    }
    size_t out_len = strlen(real_out);
    for (size_t k = 0; k < n; k++) {
        char real[PATH_MAX];
        if (!realpath(shards[k], real) || stat(real, &sb) != 0)
            return error_set(err, GEOLOC_E_IO, "%s: cannot open: %s", shards[k], strerror(errno));
        if (S_ISDIR(sb.st_mode)) return error_set(err, GEOLOC_E_ARG, "%s: a folder, not a msgpack shard", shards[k]);
        if (strncmp(real, real_out, out_len) == 0 && (real[out_len] == '/' || real[out_len] == '\0'))
            return error_set(err, GEOLOC_E_ARG, "%s: inside the output folder %s (it could be overwritten)",
                             shards[k], j->out_dir);
    }
    const geoloc_manifest *m = j->meta.m;
    j->meta.order = malloc((m->n ? m->n : 1) * sizeof *j->meta.order);
    j->meta.seen = calloc(m->n ? m->n : 1, 1);
    if (!j->meta.order || !j->meta.seen) return error_set(err, GEOLOC_E_NOMEM, "import: out of memory");
    for (size_t k = 0; k < m->n; k++) j->meta.order[k] = k;
    qsort_r(j->meta.order, m->n, sizeof *j->meta.order, by_id, (void *)m);
    return GEOLOC_OK;
}

/* Writes index.bin from the parts unless it already describes them all. */
static geoloc_status update_index(import_job *j, geoloc_error *err) {
    part_list l;
    geoloc_status st = list_parts(j, 0, &l, err);
    if (st != GEOLOC_OK) return st;
    for (size_t k = 0; k < l.n; k++) {
        j->s.pack_photos += l.f[k].part.n_photos;
        j->s.pack_shards += l.f[k].part.n_shards;
    }
    geoloc_shard_index *x;
    geoloc_error ignored;
    geoloc_shard_info in = {0};
    if (exists(j->out_dir, INDEX_FILE_NAME) && geoloc_shard_index_open(j->out_dir, &x, &ignored) == GEOLOC_OK) {
        geoloc_shard_index_info(x, &in);
        geoloc_shard_index_close(x);
    }
    char **paths = malloc((l.n ? l.n : 1) * sizeof *paths);
    if (!paths) st = error_set(err, GEOLOC_E_NOMEM, "import: out of memory");
    else if (j->s.pack_photos == 0)
        st = error_set(err, GEOLOC_E_EMPTY, "%s: no photo imported (none of the records is in the meta)",
                       j->out_dir);
    else if (in.set_id != j->params.set_id || in.n_photos != j->s.pack_photos || in.n_shards != j->s.pack_shards) {
        for (size_t k = 0; k < l.n; k++) paths[k] = l.f[k].path;
        st = shard_index_assemble(j->out_dir, paths, l.n, err);
    }
    free(paths);
    part_list_free(&l);
    return st;
}

geoloc_status geoloc_dataset_import_msgpack(const char *const *shards, size_t n_shards,
                                            const geoloc_manifest *meta, const char *out_dir,
                                            const geoloc_msgpack_import_options *options,
                                            geoloc_msgpack_import_stats *stats, geoloc_error *err) {
    geoloc_msgpack_import_options none = {0};
    import_job j = {.out_dir = out_dir, .opt = options ? options : &none};
    j.meta.m = meta;
    j.params = (shard_writer_params){0, 0, UINT64_MAX, meta->columns & SHARD_COLUMNS, -1, 0};
    file_lock lock = {-1, NULL};
    part_list l = {0};
    geoloc_status st = prepare(&j, shards, n_shards, err);
    if (st == GEOLOC_OK) st = file_lock_acquire(&lock, j.state, err);
    if (st == GEOLOC_OK) st = list_parts(&j, 1, &l, err);
    j.params.set_id = l.n ? l.f[0].part.set_id : shard_new_set_id();
    for (size_t k = 0; k < l.n; k++) {
        const shard_part *p = &l.f[k].part;
        if (st == GEOLOC_OK && (p->set_id != j.params.set_id || p->columns != j.params.columns || p->side != -1))
            st = error_set(err, GEOLOC_E_ARG, "%s: imported with another meta file (its columns differ) or "
                           "into another pack", l.f[k].path);
        if (p->first_shard + p->n_shards > j.params.first_shard) j.params.first_shard = p->first_shard + p->n_shards;
    }
    part_list_free(&l);
    if (st == GEOLOC_OK) remove_temporaries(out_dir);
    for (size_t k = 0; k < n_shards && st == GEOLOC_OK; k++) {
        char part[PATH_BYTES];
        if ((st = part_name(&j, shards[k], part, err)) != GEOLOC_OK) break;
        if (access(part, F_OK) == 0) {
            j.s.n_shards_done++;
        } else {
            st = import_shard(&j, shards[k], part, err);
            j.s.n_shards_read++;
        }
        if (st == GEOLOC_OK && j.opt->progress) j.opt->progress(j.opt->ctx, k + 1, n_shards);
    }
    if (st == GEOLOC_OK) st = update_index(&j, err);
    file_lock_release(&lock);
    free(j.meta.order);
    free(j.meta.seen);
    if (st == GEOLOC_OK && stats) *stats = j.s;
    return st;
}
