/* Writer locks: flock on a sidecar file, checked to still be the file at
 * that name after locking (a releasing holder unlinks it). */
#include "io/file_lock.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/error.h"

static char *sidecar_name(const char *target) {
    const char *slash = strrchr(target, '/');
    size_t dir = slash ? (size_t)(slash - target) + 1 : 0;
    size_t len = strlen(target);
    char *p = malloc(len + 8);
    if (!p) return NULL;
    memcpy(p, target, dir);
    p[dir] = '.';
    memcpy(p + dir + 1, target + dir, len - dir);
    memcpy(p + len + 1, ".lock", 6);
    return p;
}

geoloc_status file_lock_acquire(file_lock *l, const char *target, geoloc_error *err) {
    l->fd = -1;
    l->path = sidecar_name(target);
    if (!l->path) return error_set(err, GEOLOC_E_NOMEM, "%s: out of memory", target);
    for (int attempt = 0; attempt < 100; attempt++) {
        int fd = open(l->path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
        if (fd < 0) {
            geoloc_status st = error_set(err, GEOLOC_E_IO, "%s: cannot create the lock file %s: %s",
                                         target, l->path, strerror(errno));
            file_lock_release(l);
            return st;
        }
        if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
            int busy = errno == EWOULDBLOCK;
            int saved = errno;
            close(fd);
            geoloc_status st =
                busy ? error_set(err, GEOLOC_E_BUSY,
                                 "%s: another process is writing it (lock %s held); not touching it",
                                 target, l->path)
                     : error_set(err, GEOLOC_E_IO, "%s: cannot lock %s: %s", target, l->path,
                                 strerror(saved));
            free(l->path);
            l->path = NULL;
            return st;
        }
        struct stat held, named;
        if (fstat(fd, &held) == 0 && stat(l->path, &named) == 0 && held.st_dev == named.st_dev &&
            held.st_ino == named.st_ino) {
            l->fd = fd;
            return GEOLOC_OK;
        }
        close(fd); /* the previous holder removed it meanwhile: lock the new one */
    }
    geoloc_status st = error_set(err, GEOLOC_E_BUSY, "%s: lock %s keeps changing", target, l->path);
    free(l->path);
    l->path = NULL;
    return st;
}

void file_lock_release(file_lock *l) {
    if (l->fd >= 0) {
        unlink(l->path); /* while still held: a waiter re-checks the name */
        close(l->fd);
    }
    l->fd = -1;
    free(l->path);
    l->path = NULL;
}
