/* Atomic file replacement: temporary file, fsync, rename, fsync directory. */
#include "io/atomic_file.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <sys/stat.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/error.h"

geoloc_status atomic_file_open(atomic_file *f, const char *path, geoloc_error *err) {
    memset(f, 0, sizeof *f);
    f->lock.fd = -1;
    if (!strcmp(path, "-")) {
        f->fp = stdout;
        return GEOLOC_OK;
    }
    geoloc_status locked = file_lock_acquire(&f->lock, path, err);
    if (locked != GEOLOC_OK) return locked;
    size_t len = strlen(path);
    f->path = strdup(path);
    f->tmp_path = malloc(len + 16);
    if (!f->path || !f->tmp_path) {
        atomic_file_abort(f);
        return error_set(err, GEOLOC_E_NOMEM, "%s: out of memory", path);
    }
    memcpy(f->tmp_path, path, len);
    memcpy(f->tmp_path + len, ".tmp.XXXXXX", 12);
    int fd = mkstemp(f->tmp_path);
    if (fd < 0) {
        geoloc_status st = error_set(err, GEOLOC_E_IO, "%s: cannot create temporary file: %s",
                                     path, strerror(errno));
        free(f->tmp_path);
        f->tmp_path = NULL;
        atomic_file_abort(f);
        return st;
    }
    fchmod(fd, 0644);
    f->fp = fdopen(fd, "w");
    if (!f->fp) {
        geoloc_status st = error_set(err, GEOLOC_E_IO, "%s: cannot open: %s", path, strerror(errno));
        close(fd);
        atomic_file_abort(f);
        return st;
    }
    return GEOLOC_OK;
}

static void fsync_parent_dir(const char *path) {
    char *copy = strdup(path);
    if (!copy) return;
    int fd = open(dirname(copy), O_RDONLY | O_DIRECTORY);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
    free(copy);
}

/* Flushes, fsyncs and closes fp; 0, or the errno of the first step that
 * failed (EIO for an earlier write error whose errno is gone). */
static int flush_sync_close(FILE *fp) {
    int failure = 0;
    if (fflush(fp) != 0) failure = errno ? errno : EIO;
    else if (ferror(fp)) failure = EIO;
    else if (fsync(fileno(fp)) != 0) failure = errno;
    if (fclose(fp) != 0 && !failure) failure = errno ? errno : EIO;
    return failure;
}

geoloc_status atomic_file_commit(atomic_file *f, geoloc_error *err) {
    if (f->fp == stdout) {
        if (fflush(stdout) != 0 || ferror(stdout))
            return error_set(err, GEOLOC_E_IO, "standard output: write failed: %s", strerror(errno));
        f->fp = NULL;
        return GEOLOC_OK;
    }
    int failure = flush_sync_close(f->fp);
    f->fp = NULL;
    if (!failure && rename(f->tmp_path, f->path) != 0) failure = errno;
    if (failure) {
        geoloc_status st = error_set(err, GEOLOC_E_IO, "%s: write failed: %s", f->path,
                                     strerror(failure));
        atomic_file_abort(f);
        return st;
    }
    fsync_parent_dir(f->path);
    file_lock_release(&f->lock);
    free(f->tmp_path);
    free(f->path);
    f->tmp_path = f->path = NULL;
    return GEOLOC_OK;
}

void atomic_file_abort(atomic_file *f) {
    if (f->fp && f->fp != stdout) fclose(f->fp);
    f->fp = NULL;
    if (f->tmp_path) unlink(f->tmp_path);
    file_lock_release(&f->lock);
    free(f->tmp_path);
    free(f->path);
    f->tmp_path = f->path = NULL;
}
