/* Byte layout of shard packs (documented in src/dataset/shard.c): sizes,
 * offsets and little-endian field access. Internal API. */
#ifndef GEOLOC_DATASET_SHARD_FORMAT_H
#define GEOLOC_DATASET_SHARD_FORMAT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define SHARD_VERSION 1u
#define INDEX_MAGIC "GEOLOCIX"  /* 8 bytes, no NUL */
#define SHARD_MAGIC "GEOLOCSH"
#define INDEX_FILE_NAME "index.bin"
#define INDEX_HEADER_SIZE 64u
#define INDEX_RECORD_SIZE 64u
#define INDEX_TABLE_ENTRY_SIZE 16u
#define SHARD_HEADER_SIZE 32u
#define SHARD_MAX_SHARDS (1u << 20)
#define SHARD_MAX_PHOTO_BYTES 0xFFFFFFFFu
#define SHARD_MAX_TEXT 4095u    /* longest id or author */
#define SHARD_MAX_SIDE (1u << 20)
/* index columns (GEOLOC_COL_* bits the index can hold) */
#define SHARD_COLUMNS (GEOLOC_COL_AUTHOR | GEOLOC_COL_S3 | GEOLOC_COL_S16 | GEOLOC_COL_S365)

/* index header fields */
enum { IH_MAGIC = 0, IH_VERSION = 8, IH_HEADER_SIZE = 12, IH_RECORD_SIZE = 16, IH_N_SHARDS = 20,
       IH_N_PHOTOS = 24, IH_TEXT_SIZE = 32, IH_SET_ID = 40, IH_COLUMNS = 48, IH_SHORTER = 52,
       IH_QUALITY = 56, IH_RESERVED = 60 };
/* index record fields */
enum { IR_OFFSET = 0, IR_SIZE = 8, IR_SHARD = 12, IR_LAT = 16, IR_LNG = 24, IR_TEXT = 32,
       IR_ID_LEN = 40, IR_AUTHOR_LEN = 42, IR_CRC = 44, IR_WIDTH = 48, IR_HEIGHT = 52,
       IR_LABELS = 56, IR_RESERVED = 62 };
/* shard table entry fields */
enum { IT_BYTES = 0, IT_PHOTOS = 8 };
/* shard header fields */
enum { SH_MAGIC = 0, SH_VERSION = 8, SH_NUMBER = 12, SH_SET_ID = 16, SH_HEADER_SIZE = 24,
       SH_RESERVED = 28 };

static inline void put16(uint8_t *p, uint16_t v) {
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}
static inline void put32(uint8_t *p, uint32_t v) {
    for (int k = 0; k < 4; k++) p[k] = (uint8_t)(v >> (8 * k));
}
static inline void put64(uint8_t *p, uint64_t v) {
    for (int k = 0; k < 8; k++) p[k] = (uint8_t)(v >> (8 * k));
}
static inline void put_f64(uint8_t *p, double d) {
    uint64_t v;
    memcpy(&v, &d, 8);
    put64(p, v);
}
static inline uint16_t get16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }
static inline uint32_t get32(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static inline uint64_t get64(const uint8_t *p) { return get32(p) | (uint64_t)get32(p + 4) << 32; }
static inline double get_f64(const uint8_t *p) {
    uint64_t v = get64(p);
    double d;
    memcpy(&d, &v, 8);
    return d;
}

/* dir/shard-NNNNN.bin; -1 (and an empty name) when it does not fit. */
static inline int shard_file_name(char *out, size_t size, const char *dir, uint32_t k) {
    int n = snprintf(out, size, "%s/shard-%05u.bin", dir, (unsigned)k);
    if (n < 0 || (size_t)n >= size) {
        out[0] = '\0';
        return -1;
    }
    return 0;
}

#endif
