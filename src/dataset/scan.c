/* Scanning a folder tree for photos with an EXIF GPS position.
 *
 * 1. The tree is walked depth first (each folder is listed and closed before
 *    its subfolders are entered, so deep trees do not use one descriptor per
 *    level). Symbolic links are followed; every folder is remembered by
 *    (device, inode): one that is among the folders being walked is a loop,
 *    one seen before elsewhere is a duplicate, and both are reported instead
 *    of entered.
 * 2. The regular files are sorted by path; the same file reached by several
 *    paths (links) is kept once, under its first path.
 * 3. Worker threads read each file's head: a JPEG's marker segments up to the
 *    start of scan hold its EXIF block and size, so usually only the first
 *    64 KiB are read; PNG, WebP and JPEGs with longer headers are read whole.
 *    geoloc_photo_meta_read does the parsing. */
#include <errno.h>
#include <fcntl.h>
#include <dirent.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/error.h"
#include "dataset/arena.h"
#include "dataset/scan_read.h"
#include "geoloc/dataset.h"
#include "io/atomic_file.h"
#include "io/csv.h"

#define MAX_THREADS 32
#define PATH_MAX_BYTES 4096

typedef struct {
    const char *rel;   /* path relative to the root */
    dev_t dev;
    ino_t ino;
    int reason;        /* -1: photo with GPS; else a geoloc_scan_reason */
    const char *detail;
    double lat, lng;
} file_entry;

typedef struct {
    dev_t dev;
    ino_t ino;
    const char *rel;   /* "" for the root */
    int active;        /* on the current walk path */
    int used;
} dir_slot;

typedef struct {
    arena strings;     /* paths and walk messages */
    arena worker[MAX_THREADS]; /* per-thread messages */
    file_entry *files;
    size_t n_files, cap_files;
} scan_store;

typedef struct {
    char root[PATH_MAX_BYTES];
    scan_store *st;
    geoloc_scan_skip *skips;
    size_t n_skips, cap_skips;
    dir_slot *dirs;    /* open-addressing hash of folders seen */
    size_t dir_cap, n_dirs;
    const geoloc_scan_options *opt;
    int nomem;
} walker;

const char *geoloc_scan_reason_name(geoloc_scan_reason reason) {
    static const char *const names[GEOLOC_SCAN_N_REASONS] = {
        "no_gps", "not_image", "unreadable", "permission_denied",
        "symlink_loop", "broken_link", "duplicate", "not_regular_file"};
    return (unsigned)reason < GEOLOC_SCAN_N_REASONS ? names[reason] : "unknown";
}

/* ---- walk ------------------------------------------------------------------- */

static const char *keep(walker *w, const char *s) {
    const char *p = arena_strndup(&w->st->strings, s, strlen(s));
    if (!p) w->nomem = 1;
    return p;
}

/* Records a skipped path; the detail is fmt with one string argument. */
__attribute__((format(printf, 4, 0)))
static void add_skip(walker *w, const char *rel, geoloc_scan_reason reason, const char *fmt,
                     const char *arg) {
    if (w->n_skips == w->cap_skips) {
        size_t cap = w->cap_skips ? w->cap_skips * 2 : 64;
        geoloc_scan_skip *s = realloc(w->skips, cap * sizeof *s);
        if (!s) {
            w->nomem = 1;
            return;
        }
        w->skips = s;
        w->cap_skips = cap;
    }
    char detail[PATH_MAX_BYTES + 128];
    if (snprintf(detail, sizeof detail, fmt, arg) < 0) detail[0] = '\0';
    const char *p = keep(w, rel), *d = keep(w, detail);
    if (p && d) w->skips[w->n_skips++] = (geoloc_scan_skip){p, reason, d};
}

static size_t dir_hash(dev_t dev, ino_t ino) {
    uint64_t h = (uint64_t)dev * 0x9E3779B97F4A7C15ull ^ (uint64_t)ino;
    h ^= h >> 31;
    h *= 0xBF58476D1CE4E5B9ull;
    return (size_t)(h ^ (h >> 29));
}

/* The slot of (dev, ino): found or the empty one where it belongs. */
static dir_slot *dir_find(walker *w, dev_t dev, ino_t ino) {
    size_t k = dir_hash(dev, ino) & (w->dir_cap - 1);
    while (w->dirs[k].used && (w->dirs[k].dev != dev || w->dirs[k].ino != ino))
        k = (k + 1) & (w->dir_cap - 1);
    return &w->dirs[k];
}

static dir_slot *dir_add(walker *w, dev_t dev, ino_t ino, const char *rel) {
    if (2 * (w->n_dirs + 1) > w->dir_cap) {
        size_t cap = w->dir_cap ? w->dir_cap * 2 : 256;
        dir_slot *old = w->dirs;
        size_t old_cap = w->dir_cap;
        if (!(w->dirs = calloc(cap, sizeof *w->dirs))) {
            w->dirs = old;
            w->nomem = 1;
            return NULL;
        }
        w->dir_cap = cap;
        for (size_t k = 0; k < old_cap; k++)
            if (old[k].used) *dir_find(w, old[k].dev, old[k].ino) = old[k];
        free(old);
    }
    dir_slot *s = dir_find(w, dev, ino);
    *s = (dir_slot){dev, ino, rel, 1, 1};
    w->n_dirs++;
    return s;
}

static void add_file(walker *w, const char *rel, const struct stat *st) {
    scan_store *s = w->st;
    if (s->n_files == s->cap_files) {
        size_t cap = s->cap_files ? s->cap_files * 2 : 1024;
        file_entry *f = realloc(s->files, cap * sizeof *f);
        if (!f) {
            w->nomem = 1;
            return;
        }
        s->files = f;
        s->cap_files = cap;
    }
    const char *p = keep(w, rel);
    if (p) s->files[s->n_files++] = (file_entry){p, st->st_dev, st->st_ino, -1, NULL, 0, 0};
    if (w->opt->progress && s->n_files % 4096 == 0) w->opt->progress(w->opt->ctx, s->n_files, 0);
}

/* out = a/b (or b when a is empty); 0, or -1 when it does not fit. */
static int join(char *out, const char *a, const char *b) {
    int n = snprintf(out, PATH_MAX_BYTES, "%s%s%s", a, *a ? "/" : "", b);
    return n < 0 || n >= PATH_MAX_BYTES ? -1 : 0;
}

static geoloc_scan_reason errno_reason(int e) {
    return e == EACCES || e == EPERM ? GEOLOC_SCAN_PERMISSION
           : e == ELOOP              ? GEOLOC_SCAN_SYMLINK_LOOP
                                     : GEOLOC_SCAN_UNREADABLE;
}

static int cmp_name(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Lists folder rel (its slot marked active) and walks what it holds; the
 * hash table may grow meanwhile, so slots are looked up again afterwards. */
static void walk_dir(walker *w, const char *rel) {
    char full[PATH_MAX_BYTES], child[PATH_MAX_BYTES], child_full[PATH_MAX_BYTES];
    char shown[PATH_MAX_BYTES + 2];
    memcpy(shown, rel, strlen(rel));
    memcpy(shown + strlen(rel), "/", 2);
    DIR *d = join(full, w->root, rel) == 0 ? opendir(full) : NULL;
    if (!d) {
        int e = errno;
        add_skip(w, shown, errno_reason(e), "cannot list folder: %s", strerror(e));
        return;
    }
    char **names = NULL;
    size_t n = 0, cap = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..")) continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 64;
            char **nn = realloc(names, cap * sizeof *nn);
            if (!nn) {
                w->nomem = 1;
                break;
            }
            names = nn;
        }
        if (!(names[n] = strdup(de->d_name))) {
            w->nomem = 1;
            break;
        }
        n++;
    }
    closedir(d);
    /* name order: which of two paths to one folder is walked does not
     * depend on the order the file system lists them in */
    if (n > 1) qsort(names, n, sizeof *names, cmp_name);
    for (size_t k = 0; k < n && !w->nomem; k++) {
        if (join(child, rel, names[k]) != 0 || join(child_full, w->root, child) != 0) {
            add_skip(w, shown, GEOLOC_SCAN_UNREADABLE, "path too long for %s", names[k]);
            continue;
        }
        struct stat lst, st;
        if (lstat(child_full, &lst) != 0) {
            int e = errno;
            add_skip(w, child, errno_reason(e), "cannot stat: %s", strerror(e));
            continue;
        }
        int is_link = S_ISLNK(lst.st_mode);
        if (!is_link) {
            st = lst;
        } else if (stat(child_full, &st) != 0) {
            int e = errno;
            if (e == ELOOP)
                add_skip(w, child, GEOLOC_SCAN_SYMLINK_LOOP, "%scycle of symbolic links", "");
            else if (e == ENOENT || e == ENOTDIR)
                add_skip(w, child, GEOLOC_SCAN_BROKEN_LINK, "%ssymbolic link to nothing", "");
            else
                add_skip(w, child, errno_reason(e), "cannot follow link: %s", strerror(e));
            continue;
        }
        if (S_ISDIR(st.st_mode)) {
            dir_slot *seen = dir_find(w, st.st_dev, st.st_ino);
            char sub[PATH_MAX_BYTES + 2];
            memcpy(sub, child, strlen(child));
            memcpy(sub + strlen(child), "/", 2);
            if (seen->used) {
                const char *other = seen->rel[0] ? seen->rel : ".";
                if (seen->active)
                    add_skip(w, sub, GEOLOC_SCAN_SYMLINK_LOOP, "leads back to folder %s/", other);
                else
                    add_skip(w, sub, GEOLOC_SCAN_DUPLICATE, "same folder as %s/", other);
                continue;
            }
            const char *kept = keep(w, child);
            dir_slot *slot = kept ? dir_add(w, st.st_dev, st.st_ino, kept) : NULL;
            if (!slot) break;
            walk_dir(w, kept);
            dir_find(w, st.st_dev, st.st_ino)->active = 0;
        } else if (S_ISREG(st.st_mode)) {
            add_file(w, child, &st);
        } else {
            add_skip(w, child, GEOLOC_SCAN_SPECIAL, "%snot a regular file", "");
        }
    }
    for (size_t k = 0; k < n; k++) free(names[k]);
    free(names);
}

/* ---- reading ---------------------------------------------------------------- */

typedef struct {
    walker *w;
    atomic_size_t next, done;
} job;

typedef struct {
    job *j;
    int id;
} worker_arg;

static void *read_worker(void *arg) {
    worker_arg *a = arg;
    job *j = a->j;
    scan_store *s = j->w->st;
    scan_buffer buf = {0};
    for (;;) {
        size_t k = atomic_fetch_add(&j->next, 1);
        if (k >= s->n_files) break;
        file_entry *f = &s->files[k];
        if (f->reason < 0) {
            char full[PATH_MAX_BYTES];
            char detail[600];
            scan_read_result r = {GEOLOC_SCAN_UNREADABLE, 0, 0};
            if (join(full, j->w->root, f->rel) == 0)
                r = scan_read_file(full, f->rel, &buf, detail, sizeof detail);
            else
                snprintf(detail, sizeof detail, "path too long");
            f->reason = r.reason;
            f->lat = r.lat;
            f->lng = r.lng;
            if (r.reason >= 0 && !(f->detail = arena_strndup(&s->worker[a->id], detail,
                                                             strlen(detail))))
                f->detail = "out of memory";
            if (buf.cap > ((size_t)16 << 20)) { /* do not keep a big file's buffer */
                free(buf.data);
                buf = (scan_buffer){0};
            }
        }
        atomic_fetch_add(&j->done, 1);
    }
    free(buf.data);
    return NULL;
}

static int cmp_entry_path(const void *a, const void *b) {
    return strcmp(((const file_entry *)a)->rel, ((const file_entry *)b)->rel);
}

static int cmp_skip_path(const void *a, const void *b) {
    return strcmp(((const geoloc_scan_skip *)a)->path, ((const geoloc_scan_skip *)b)->path);
}

static int cmp_inode(const void *a, const void *b) {
    const file_entry *x = *(const file_entry *const *)a, *y = *(const file_entry *const *)b;
    if (x->dev != y->dev) return x->dev < y->dev ? -1 : 1;
    if (x->ino != y->ino) return x->ino < y->ino ? -1 : 1;
    return x < y ? -1 : x > y;
}

/* Marks every file reached again (same device and inode) as a duplicate of
 * its first path. */
static int mark_duplicates(walker *w) {
    scan_store *s = w->st;
    file_entry **by = malloc((s->n_files ? s->n_files : 1) * sizeof *by);
    if (!by) return -1;
    for (size_t k = 0; k < s->n_files; k++) by[k] = &s->files[k];
    qsort(by, s->n_files, sizeof *by, cmp_inode);
    for (size_t k = 1; k < s->n_files; k++) {
        size_t first = k - 1;
        while (k < s->n_files && by[k]->dev == by[first]->dev && by[k]->ino == by[first]->ino) {
            char detail[PATH_MAX_BYTES + 32];
            snprintf(detail, sizeof detail, "same file as %s", by[first]->rel);
            by[k]->reason = GEOLOC_SCAN_DUPLICATE;
            if (!(by[k]->detail = keep(w, detail))) break;
            k++;
        }
    }
    free(by);
    return w->nomem ? -1 : 0;
}

static int thread_count(const geoloc_scan_options *opt) {
    long t = opt->threads > 0 ? opt->threads : 2 * sysconf(_SC_NPROCESSORS_ONLN);
    return t < 1 ? 1 : t > MAX_THREADS ? MAX_THREADS : (int)t;
}

/* Reads every file with a pool of threads; the calling thread reports progress. */
static void read_all(walker *w) {
    job j = {.w = w};
    atomic_init(&j.next, 0);
    atomic_init(&j.done, 0);
    int t = thread_count(w->opt);
    pthread_t tid[MAX_THREADS];
    worker_arg args[MAX_THREADS];
    int started = 0;
    for (int k = 0; k < t; k++) {
        args[k] = (worker_arg){&j, k};
        if (pthread_create(&tid[k], NULL, read_worker, &args[k]) != 0) break;
        started++;
    }
    if (started == 0) {
        args[0] = (worker_arg){&j, 0};
        read_worker(&args[0]);
    }
    while (w->opt->progress && atomic_load(&j.done) < w->st->n_files && started) {
        w->opt->progress(w->opt->ctx, atomic_load(&j.done), w->st->n_files);
        struct timespec ts = {0, 100 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    for (int k = 0; k < started; k++) pthread_join(tid[k], NULL);
    if (w->opt->progress) w->opt->progress(w->opt->ctx, w->st->n_files, w->st->n_files);
}

/* ---- result ------------------------------------------------------------------ */

void geoloc_scan_result_free(geoloc_scan_result *r) {
    if (!r) return;
    scan_store *s = r->internal;
    if (s) {
        arena_free(&s->strings);
        for (int k = 0; k < MAX_THREADS; k++) arena_free(&s->worker[k]);
        free(s->files);
        free(s);
    }
    geoloc_manifest_free(r->photos);
    free(r->skipped);
    free(r);
}

/* Moves the findings into the result: photos into the manifest, the rest
 * into the sorted skip list. */
static geoloc_status collect(walker *w, geoloc_scan_result *r, geoloc_error *err) {
    scan_store *s = w->st;
    geoloc_status st = geoloc_manifest_new(0, NULL, 0, &r->photos, err);
    if (st != GEOLOC_OK) return st;
    size_t total = w->n_skips;
    for (size_t k = 0; k < s->n_files; k++) total += s->files[k].reason >= 0;
    r->skipped = malloc((total ? total : 1) * sizeof *r->skipped);
    if (!r->skipped) return error_set(err, GEOLOC_E_NOMEM, "scan: out of memory");
    if (w->n_skips) memcpy(r->skipped, w->skips, w->n_skips * sizeof *w->skips);
    r->n_skipped = w->n_skips;
    r->n_files = s->n_files;
    for (size_t k = 0; k < s->n_files; k++) {
        const file_entry *f = &s->files[k];
        if (f->reason >= 0) {
            r->skipped[r->n_skipped++] =
                (geoloc_scan_skip){f->rel, (geoloc_scan_reason)f->reason, f->detail};
            continue;
        }
        geoloc_manifest_row row = {f->rel, f->lat, f->lng, "", {-1, -1, -1}, {0, 0, 0}, 0};
        if ((st = geoloc_manifest_append(r->photos, &row, NULL, err)) != GEOLOC_OK) return st;
    }
    qsort(r->skipped, r->n_skipped, sizeof *r->skipped, cmp_skip_path);
    for (size_t k = 0; k < r->n_skipped; k++) r->count[r->skipped[k].reason]++;
    return GEOLOC_OK;
}

geoloc_status geoloc_dataset_scan(const char *root, const geoloc_scan_options *opt,
                                  geoloc_scan_result **out, geoloc_error *err) {
    static const geoloc_scan_options defaults = {0};
    *out = NULL;
    if (!opt) opt = &defaults;
    size_t len = strlen(root);
    while (len > 1 && root[len - 1] == '/') len--;
    if (len == 0 || len >= PATH_MAX_BYTES - 256)
        return error_set(err, GEOLOC_E_ARG, "%s: bad folder name", root);
    struct stat st;
    if (stat(root, &st) != 0)
        return error_set(err, GEOLOC_E_IO, "%s: %s", root, strerror(errno));
    if (!S_ISDIR(st.st_mode)) return error_set(err, GEOLOC_E_IO, "%s: not a folder", root);
    if (access(root, R_OK | X_OK) != 0)
        return error_set(err, GEOLOC_E_IO, "%s: cannot list folder: %s", root, strerror(errno));

    geoloc_scan_result *r = calloc(1, sizeof *r);
    walker *w = calloc(1, sizeof *w);
    scan_store *s = calloc(1, sizeof *s);
    if (r) r->internal = s;
    if (!r || !w || !s) {
        if (!r) free(s);
        free(w);
        geoloc_scan_result_free(r);
        return error_set(err, GEOLOC_E_NOMEM, "scan: out of memory");
    }
    memcpy(w->root, root, len);
    w->root[len] = '\0';
    w->st = s;
    w->opt = opt;
    geoloc_status status = GEOLOC_OK;
    dir_slot *top = dir_add(w, st.st_dev, st.st_ino, "");
    if (top) walk_dir(w, "");
    if (!w->nomem) {
        if (s->n_files > 1) qsort(s->files, s->n_files, sizeof *s->files, cmp_entry_path);
        if (mark_duplicates(w) == 0) read_all(w);
    }
    if (w->nomem) status = error_set(err, GEOLOC_E_NOMEM, "%s: out of memory", root);
    else status = collect(w, r, err);
    free(w->skips);
    free(w->dirs);
    free(w);
    if (status != GEOLOC_OK) {
        geoloc_scan_result_free(r);
        return status;
    }
    *out = r;
    return GEOLOC_OK;
}

geoloc_status geoloc_scan_write_report(const geoloc_scan_result *r, const char *path,
                                       geoloc_error *err) {
    atomic_file f;
    geoloc_status st = atomic_file_open(&f, path, err);
    if (st != GEOLOC_OK) return st;
    fputs("path,reason,detail\n", f.fp);
    for (size_t k = 0; k < r->n_skipped; k++) {
        csv_write_field(f.fp, r->skipped[k].path);
        fprintf(f.fp, ",%s,", geoloc_scan_reason_name(r->skipped[k].reason));
        csv_write_field(f.fp, r->skipped[k].detail);
        fputc('\n', f.fp);
    }
    return atomic_file_commit(&f, err);
}
