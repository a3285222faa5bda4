/* geoloc_source over files in a folder: each read opens, reads whole and
 * closes its file into a buffer of its own, so reads from several threads
 * never share state. */
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "dataset/arena.h"
#include "geoloc/source.h"
#include "io/regular_file.h"

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
    uint8_t *buf;
    size_t got;
    geoloc_status status =
        regular_file_read(path, MAX_FILE_BYTES, "the photo size limit", &buf, &got, err);
    if (status != GEOLOC_OK) return status;
    if (got == 0) {
        free(buf);
        return error_set(err, GEOLOC_E_EMPTY, "%s: empty file", path);
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
