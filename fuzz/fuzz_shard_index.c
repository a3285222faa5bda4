/* libFuzzer target: the shard index reader (geoloc_shard_index_from_buffer).
 * Whatever it accepts must be consistent: every entry's strings, shard
 * number, offset and size inside the bounds the index declares. */
#include <stdlib.h>
#include <string.h>

#include "geoloc/dataset.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size) {
    /* a private copy: the index points into the buffer */
    unsigned char *copy = malloc(size ? size : 1);
    if (!copy) return 0;
    memcpy(copy, data, size);
    geoloc_shard_index *x;
    geoloc_error err;
    err.message[0] = '\0';
    if (geoloc_shard_index_from_buffer(copy, size, "fuzz-index", &x, &err) == GEOLOC_OK) {
        geoloc_shard_info info;
        geoloc_shard_index_info(x, &info);
        uint64_t bytes = 0;
        for (uint64_t k = 0; k < info.n_photos; k++) {
            geoloc_shard_entry e;
            geoloc_shard_index_entry(x, (size_t)k, &e);
            if (e.shard >= info.n_shards || e.size == 0 || e.offset < 32 || !e.id[0] ||
                strlen(e.id) > 4095 || strlen(e.author) > 4095 || !(e.lat >= -90 && e.lat <= 90) ||
                !(e.lng >= -180 && e.lng <= 180) || e.width < 1 || e.height < 1)
                abort();
            bytes += e.size;
        }
        if (bytes + 32ull * info.n_shards != info.bytes) abort();
        geoloc_shard_index_close(x);
    } else if (err.message[0] == '\0') {
        abort();
    }
    free(copy);
    return 0;
}
