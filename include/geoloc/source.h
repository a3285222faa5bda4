/* geoloc: where a data set's encoded photos come from (a folder of files or
 * packed shards), as seen by the loader. */
#ifndef GEOLOC_SOURCE_H
#define GEOLOC_SOURCE_H

#include <stddef.h>
#include <stdint.h>

#include "geoloc/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* n photos readable by index; read() may be called from several threads at
 * once. It fills *data and *size with the encoded bytes (release with release(),
 * which may be NULL when nothing needs freeing) and a name for messages. */
typedef struct geoloc_source {
    size_t n;
    geoloc_status (*read)(void *ctx, size_t index, const uint8_t **data, size_t *size,
                          const char **name, geoloc_error *err);
    void (*release)(void *ctx, const uint8_t *data, size_t size);
    void (*close)(void *ctx);
    void *ctx;
} geoloc_source;

/* Source over files: root/relative_path[k] for k < n. */
geoloc_status geoloc_source_files(const char *root, const char *const *paths, size_t n,
                                  geoloc_source *out, geoloc_error *err);

/* Releases a source (calls its close). */
void geoloc_source_close(geoloc_source *src);

#ifdef __cplusplus
}
#endif
#endif
