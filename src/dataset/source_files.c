/* geoloc_source over files in a folder: each read opens, reads whole and
 * closes its file into a buffer of its own, so reads from several threads
 * never share state. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/error.h"
#include "dataset/arena.h"
#include "geoloc/source.h"

#define MAX_FILE_BYTES ((uint64_t)256 << 20)

typedef struct {
    arena strings;
    const char **path; /* n full paths */
} files_source;

static void files_close(void *ctx) {
    files_source *f = ctx;
    if (!f) return;
    arena_free(&f->strings);
    free(f->path);
    free(f);
}

static void files_release(void *ctx, const uint8_t *data, size_t size) {
    (void)ctx;
    (void)size;
    free((void *)data);
}

static geoloc_status files_read(void *ctx, size_t k, const uint8_t **data, size_t *size,
                                const char **name, geoloc_error *err) {
    files_source *f = ctx;
    const char *path = f->path[k];
    *name = path;
    *data = NULL;
    *size = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) return error_set(err, GEOLOC_E_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    geoloc_status status = GEOLOC_OK;
    uint8_t *buf = NULL;
    size_t got = 0;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        status = error_set(err, GEOLOC_E_IO, "%s: not a regular file", path);
    } else if ((uint64_t)st.st_size > MAX_FILE_BYTES) {
        status = error_set(err, GEOLOC_E_RANGE, "%s: larger than 256 MiB", path);
    } else if (st.st_size == 0) {
        status = error_set(err, GEOLOC_E_EMPTY, "%s: empty file", path);
    } else if (!(buf = malloc((size_t)st.st_size))) {
        status = error_set(err, GEOLOC_E_NOMEM, "%s: out of memory", path);
    } else {
        while (got < (size_t)st.st_size) {
            ssize_t r = read(fd, buf + got, (size_t)st.st_size - got);
            if (r < 0 && errno == EINTR) continue;
            if (r <= 0) {
                status = error_set(err, GEOLOC_E_IO, "%s: read failed: %s", path,
                                   r == 0 ? "file shrank while reading" : strerror(errno));
                break;
            }
            got += (size_t)r;
        }
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

geoloc_status geoloc_source_files(const char *root, const char *const *paths, size_t n,
                                  geoloc_source *out, geoloc_error *err) {
    memset(out, 0, sizeof *out);
    files_source *f = calloc(1, sizeof *f);
    if (!f || !(f->path = malloc((n ? n : 1) * sizeof *f->path))) {
        free(f);
        return error_set(err, GEOLOC_E_NOMEM, "files source: out of memory");
    }
    size_t root_len = root ? strlen(root) : 0;
    while (root_len > 1 && root[root_len - 1] == '/') root_len--;
    for (size_t k = 0; k < n; k++) {
        const char *p = paths[k];
        if (!p || !*p) {
            files_close(f);
            return error_set(err, GEOLOC_E_ARG, "files source: path %zu is empty", k);
        }
        size_t len = strlen(p);
        char *full = NULL;
        if (root_len && p[0] != '/') {
            char *tmp = malloc(root_len + len + 2);
            if (tmp) {
                memcpy(tmp, root, root_len);
                tmp[root_len] = '/';
                memcpy(tmp + root_len + 1, p, len + 1);
                full = arena_strndup(&f->strings, tmp, root_len + 1 + len);
                free(tmp);
            }
        } else {
            full = arena_strndup(&f->strings, p, len);
        }
        if (!full) {
            files_close(f);
            return error_set(err, GEOLOC_E_NOMEM, "files source: out of memory");
        }
        f->path[k] = full;
    }
    *out = (geoloc_source){n, files_read, files_release, files_close, f};
    return GEOLOC_OK;
}

void geoloc_source_close(geoloc_source *src) {
    if (!src) return;
    if (src->close) src->close(src->ctx);
    memset(src, 0, sizeof *src);
}
