/* Whole files mapped read-only into memory. */
#include "io/mapped_file.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/error.h"

/* What a non-regular file is, for messages: "a FIFO", "a folder", ... */
static const char *file_kind(mode_t mode) {
    if (S_ISFIFO(mode)) return "a FIFO";
    if (S_ISDIR(mode)) return "a folder";
    if (S_ISCHR(mode)) return "a character device";
    if (S_ISBLK(mode)) return "a block device";
    if (S_ISSOCK(mode)) return "a socket";
    return "not a file";
}

geoloc_status mapped_file_open(const char *path, const void **data, size_t *size,
                               geoloc_error *err) {
    /* O_NONBLOCK: opening a FIFO without a writer must not wait for one
     * (it is refused just below); O_NOCTTY: a terminal never becomes ours */
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
    if (fd < 0) return error_set(err, GEOLOC_E_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int e = errno;
        close(fd);
        return error_set(err, GEOLOC_E_IO, "%s: cannot stat: %s", path, strerror(e));
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return error_set(err, GEOLOC_E_IO, "%s: not a regular file (%s)", path, file_kind(st.st_mode));
    }
    *size = (size_t)st.st_size;
    *data = "";
    if (st.st_size > 0) {
        void *m = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (m == MAP_FAILED) {
            int e = errno;
            close(fd);
            return error_set(err, GEOLOC_E_IO, "%s: cannot map: %s", path, strerror(e));
        }
        *data = m;
    }
    close(fd);
    return GEOLOC_OK;
}

void mapped_file_close(const void *data, size_t size) {
    if (size > 0) munmap((void *)data, size);
}
