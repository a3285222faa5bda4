/* The shard index object, shared by the index reader and the shard source.
 * Internal API. */
#ifndef GEOLOC_DATASET_SHARD_INDEX_INTERNAL_H
#define GEOLOC_DATASET_SHARD_INDEX_INTERNAL_H

#include <stdint.h>

#include "dataset/shard_format.h"
#include "geoloc/dataset.h"

struct geoloc_shard_index {
    const uint8_t *data;     /* the whole index file */
    uint64_t size;
    int mapped;              /* data is an mmap to release */
    char *name;              /* path for messages */
    uint32_t n_shards;
    uint64_t n_photos, text_size, set_id, total_bytes;
    unsigned columns;
    int32_t shorter_side;
    uint32_t quality;
    const uint8_t *records;  /* n_photos * INDEX_RECORD_SIZE */
    const uint8_t *table;    /* n_shards * INDEX_TABLE_ENTRY_SIZE */
    const char *text;        /* text_size bytes */
};

#endif
