/* Whole files mapped read-only into memory. */
#include "io/mapped_file.h"

#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/error.h"
#include "io/regular_file.h"

geoloc_status mapped_file_open(const char *path, const void **data, size_t *size,
                               geoloc_error *err) {
    int fd;
    struct stat st;
    geoloc_status status = regular_file_open(path, &fd, &st, err); /* never blocks on a FIFO */
    if (status != GEOLOC_OK) return status;
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
