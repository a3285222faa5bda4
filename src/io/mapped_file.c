/* Whole files mapped read-only into memory; standard input ("-") read whole
 * into an anonymous mapping so that one close serves both. */
#include "io/mapped_file.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/error.h"
#include "io/regular_file.h"

/* Reads standard input to its end into a malloc'd buffer (*buf, *n bytes). */
static geoloc_status read_all_stdin(char **buf, size_t *n, geoloc_error *err) {
    size_t cap = 1 << 16;
    *n = 0;
    *buf = malloc(cap);
    for (;;) {
        if (!*buf) return error_set(err, GEOLOC_E_NOMEM, "standard input: out of memory");
        ssize_t got = read(STDIN_FILENO, *buf + *n, cap - *n);
        if (got == 0) return GEOLOC_OK;
        if (got < 0) {
            if (errno == EINTR) continue;
            return error_set(err, GEOLOC_E_IO, "standard input: cannot read: %s", strerror(errno));
        }
        *n += (size_t)got;
        if (*n == cap) {
            char *grown = cap <= SIZE_MAX / 2 ? realloc(*buf, cap * 2) : NULL;
            if (!grown) free(*buf);
            *buf = grown;
            cap *= 2;
        }
    }
}

/* Standard input, whole, in a read-only anonymous mapping of *size bytes. */
static geoloc_status map_stdin(const void **data, size_t *size, geoloc_error *err) {
    char *buf;
    size_t n;
    geoloc_status status = read_all_stdin(&buf, &n, err);
    if (status != GEOLOC_OK) {
        free(buf);
        return status;
    }
    *data = "";
    *size = n;
    if (n > 0) {
        void *m = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (m == MAP_FAILED) {
            int e = errno;
            free(buf);
            return error_set(err, GEOLOC_E_NOMEM, "standard input: cannot map %zu bytes: %s", n, strerror(e));
        }
        memcpy(m, buf, n);
        mprotect(m, n, PROT_READ);
        *data = m;
    }
    free(buf);
    return GEOLOC_OK;
}

geoloc_status mapped_file_open(const char *path, const void **data, size_t *size,
                               geoloc_error *err) {
    if (!strcmp(path, "-")) return map_stdin(data, size, err);
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
