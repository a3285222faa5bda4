/* geoloc_source over packed shards: the index and every shard file are
 * validated (size as the index records it; header magic, version, number
 * and the pack's set id) and memory-mapped once; a read is a pointer into a
 * map, so any number of threads may read at once. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "io/mapped_file.h"
#include "io/crc32c.h"
#include "dataset/shard_index_internal.h"

typedef struct {
    geoloc_shard_index *index;
    const uint8_t **map; /* n_shards maps */
    uint64_t *map_size;
    int verify;
    char dir[4096];
} shard_source;

static void shard_source_close(void *ctx) {
    shard_source *s = ctx;
    if (!s) return;
    for (uint32_t k = 0; s->map && k < s->index->n_shards; k++)
        if (s->map[k]) mapped_file_close(s->map[k], s->map_size[k]);
    free(s->map);
    free(s->map_size);
    geoloc_shard_index_close(s->index);
    free(s);
}

static geoloc_status shard_read(void *ctx, size_t k, const uint8_t **data, size_t *size,
                                const char **name, geoloc_error *err) {
    shard_source *s = ctx;
    if (k >= s->index->n_photos)
        return error_set(err, GEOLOC_E_ARG, "%s: photo %zu of %llu does not exist", s->dir, k,
                         (unsigned long long)s->index->n_photos);
    geoloc_shard_entry e;
    geoloc_shard_index_entry(s->index, k, &e);
    *data = s->map[e.shard] + e.offset;
    *size = e.size;
    *name = e.id;
    if (s->verify && crc32c(0, *data, e.size) != e.crc32c) {
        char file[4200];
        shard_file_name(file, sizeof file, s->dir, e.shard);
        return error_set(err, GEOLOC_E_PARSE,
                         "%s: photo %zu (%s) at offset %llu: checksum mismatch (corrupted shard)",
                         file, k, e.id, (unsigned long long)e.offset);
    }
    return GEOLOC_OK;
}

/* Maps shard k after checking it against the index. */
static geoloc_status map_shard(shard_source *s, uint32_t k, geoloc_error *err) {
    char path[4200];
    shard_file_name(path, sizeof path, s->dir, k);
    uint64_t expect = get64(s->index->table + (uint64_t)k * INDEX_TABLE_ENTRY_SIZE + IT_BYTES);
    const void *m;
    size_t size;
    geoloc_status st = mapped_file_open(path, &m, &size, err);
    if (st != GEOLOC_OK) return st;
    if ((uint64_t)size != expect) {
        mapped_file_close(m, size);
        return error_set(err, GEOLOC_E_PARSE, "%s: %llu bytes, the index says %llu (truncated or "
                         "from another pack)", path, (unsigned long long)size,
                         (unsigned long long)expect);
    }
    s->map[k] = m;
    s->map_size[k] = expect;
    const uint8_t *h = m;
    if (memcmp(h + SH_MAGIC, SHARD_MAGIC, 8) != 0)
        return error_set(err, GEOLOC_E_PARSE, "%s: not a geoloc shard (bad magic)", path);
    if (get32(h + SH_VERSION) != SHARD_VERSION || get32(h + SH_HEADER_SIZE) != SHARD_HEADER_SIZE ||
        get32(h + SH_RESERVED) != 0)
        return error_set(err, GEOLOC_E_PARSE, "%s: unsupported version or bad header (corrupted shard)",
                         path);
    if (get32(h + SH_NUMBER) != k)
        return error_set(err, GEOLOC_E_PARSE, "%s: holds shard number %u (renamed or corrupted)", path,
                         get32(h + SH_NUMBER));
    if (get64(h + SH_SET_ID) != s->index->set_id)
        return error_set(err, GEOLOC_E_PARSE, "%s: belongs to another pack than %s/" INDEX_FILE_NAME
                         " (set id %016llx, expected %016llx)", path, s->dir,
                         (unsigned long long)get64(h + SH_SET_ID),
                         (unsigned long long)s->index->set_id);
    return GEOLOC_OK;
}

geoloc_status geoloc_source_shards(const char *dir, int verify_checksums, geoloc_source *out,
                                   geoloc_error *err) {
    memset(out, 0, sizeof *out);
    shard_source *s = calloc(1, sizeof *s);
    if (!s) return error_set(err, GEOLOC_E_NOMEM, "%s: out of memory", dir);
    if (strlen(dir) >= sizeof s->dir - 32) {
        free(s);
        return error_set(err, GEOLOC_E_ARG, "%s: path too long", dir);
    }
    strcpy(s->dir, dir);
    s->verify = verify_checksums;
    geoloc_status st = geoloc_shard_index_open(dir, &s->index, err);
    if (st != GEOLOC_OK) {
        free(s);
        return st;
    }
    uint32_t n = s->index->n_shards;
    s->map = calloc(n ? n : 1, sizeof *s->map);
    s->map_size = calloc(n ? n : 1, sizeof *s->map_size);
    if (!s->map || !s->map_size) st = error_set(err, GEOLOC_E_NOMEM, "%s: out of memory", dir);
    for (uint32_t k = 0; k < n && st == GEOLOC_OK; k++) st = map_shard(s, k, err);
    if (st != GEOLOC_OK) {
        shard_source_close(s);
        return st;
    }
    *out = (geoloc_source){(size_t)s->index->n_photos, shard_read, NULL, shard_source_close, s};
    return GEOLOC_OK;
}
