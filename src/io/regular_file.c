/* Regular files opened without blocking: see regular_file.h. */
#include "io/regular_file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/error.h"

const char *regular_file_kind(mode_t mode) {
    if (S_ISREG(mode)) return "a regular file";
    if (S_ISDIR(mode)) return "a directory";
    if (S_ISFIFO(mode)) return "a FIFO";
    if (S_ISCHR(mode)) return "a character device";
    if (S_ISBLK(mode)) return "a block device";
    if (S_ISSOCK(mode)) return "a socket";
    if (S_ISLNK(mode)) return "a symbolic link";
    return "a special file";
}

geoloc_status regular_file_open(const char *path, int *fd, struct stat *st, geoloc_error *err) {
    *fd = -1;
    memset(st, 0, sizeof *st);
    int f = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
    if (f < 0) {
        int e = errno;
        error_set(err, GEOLOC_E_IO, "%s: cannot open: %s", path, strerror(e));
        errno = e;
        return GEOLOC_E_IO;
    }
    if (fstat(f, st) != 0) {
        int e = errno;
        close(f);
        memset(st, 0, sizeof *st);
        return error_set(err, GEOLOC_E_IO, "%s: cannot stat: %s", path, strerror(e));
    }
    if (!S_ISREG(st->st_mode)) {
        close(f);
        return error_set(err, GEOLOC_E_IO, "%s: not a regular file (%s)", path,
                         regular_file_kind(st->st_mode));
    }
    int flags = fcntl(f, F_GETFL);
    if (flags < 0 || fcntl(f, F_SETFL, flags & ~O_NONBLOCK) != 0) {
        int e = errno;
        close(f);
        memset(st, 0, sizeof *st);
        return error_set(err, GEOLOC_E_IO, "%s: cannot clear O_NONBLOCK: %s", path, strerror(e));
    }
    *fd = f;
    return GEOLOC_OK;
}

geoloc_status regular_file_read(const char *path, uint64_t max_bytes, const char *limit_name,
                                uint8_t **data, size_t *size, geoloc_error *err) {
    *data = NULL;
    *size = 0;
    int fd;
    struct stat st;
    geoloc_status status = regular_file_open(path, &fd, &st, err);
    if (status != GEOLOC_OK) return status;
    if ((uint64_t)st.st_size > max_bytes) {
        close(fd);
        return error_set(err, GEOLOC_E_RANGE, "%s: %lld bytes, over the limit of %llu bytes (%s)",
                         path, (long long)st.st_size, (unsigned long long)max_bytes, limit_name);
    }
    size_t want = (size_t)st.st_size, got = 0;
    uint8_t *buf = malloc(want + 1);
    if (!buf) {
        close(fd);
        return error_set(err, GEOLOC_E_NOMEM, "%s: out of memory reading %zu bytes", path, want);
    }
    while (got < want) {
        ssize_t r = read(fd, buf + got, want - got);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) {
            status = error_set(err, GEOLOC_E_IO, "%s: read failed: %s", path,
                               r == 0 ? "file shrank while reading" : strerror(errno));
            break;
        }
        got += (size_t)r;
    }
    close(fd);
    if (status != GEOLOC_OK) {
        free(buf);
        return status;
    }
    *data = buf;
    *size = got;
    return GEOLOC_OK;
}
