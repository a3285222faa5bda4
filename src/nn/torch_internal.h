/* PyTorch checkpoints (torch.save's zip format): the zip container
 * (torch_zip.c) and the pickle machine that reads data.pkl (torch_pickle.c).
 * Internal API; the public reader is geoloc/torch_ckpt.h (torch_ckpt.c). */
#ifndef GEOLOC_NN_TORCH_INTERNAL_H
#define GEOLOC_NN_TORCH_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "geoloc/safetensors.h"
#include "geoloc/status.h"

/* ---- zip ------------------------------------------------------------------------ */

/* One stored (uncompressed) entry of a zip file in memory. */
typedef struct tzip_entry {
    const char *name;   /* not NUL-terminated: name_len bytes */
    size_t name_len;
    const uint8_t *data; /* size bytes inside the file image */
    uint64_t size;
    uint64_t file_offset; /* of data, in the file */
    uint32_t crc;        /* CRC-32 of the data, as recorded */
    int crc_checked;     /* tzip_check_crc already verified it */
} tzip_entry;

typedef struct tzip {
    tzip_entry *entries;
    size_t n;
} tzip;

/* Reads the central directory of the zip image data[0..size) (zip64 too); every
 * entry must be stored (method 0), unencrypted, inside the file. file names the
 * file in messages. */
geoloc_status tzip_open(const uint8_t *data, size_t size, const char *file, tzip *z,
                        geoloc_error *err);

/* The entry called name (NUL-terminated), or NULL. */
tzip_entry *tzip_find(const tzip *z, const char *name);

/* Verifies the entry's CRC-32 once (later calls return at once). */
geoloc_status tzip_check_crc(tzip_entry *e, const char *file, geoloc_error *err);

/* Releases the entry table. */
void tzip_free(tzip *z);

/* CRC-32 as zip records it (reflected polynomial 0xedb88320) of p[0..n). */
uint32_t tzip_crc32(const uint8_t *p, uint64_t n);

/* ---- pickle --------------------------------------------------------------------- */

#define PK_MAX_DIMS 8

typedef enum pk_type {
    PK_NONE, PK_BOOL, PK_INT, PK_FLOAT, PK_STR, PK_BYTES, PK_TUPLE, PK_LIST, PK_DICT,
    PK_GLOBAL, PK_OBJECT, PK_STORAGE, PK_TENSOR
} pk_type;

/* One value. Containers hold object indices (dict: key, value, key, value...);
 * strings point into the pickle bytes. */
typedef struct pk_obj {
    uint8_t type;
    uint32_t n, cap;      /* items of a container */
    uint32_t *items;
    int64_t i;            /* int, bool; storage or tensor: index in their table */
    double f;
    const char *s, *s2;   /* str / bytes (s); global: module (s) and name (s2) */
    uint32_t len, len2;
    size_t at;            /* byte offset in the pickle where it was made */
} pk_obj;

/* A storage named by a persistent id ('storage', type, key, location, numel). */
typedef struct pk_storage {
    const char *type; uint32_t type_len; /* e.g. "FloatStorage" */
    const char *key; uint32_t key_len;   /* the entry data/<key> */
    int64_t numel;
} pk_storage;

/* A tensor rebuilt by torch._utils._rebuild_tensor_v2. */
typedef struct pk_tensor {
    uint32_t storage;
    int64_t offset;
    size_t ndim;
    int64_t shape[PK_MAX_DIMS], stride[PK_MAX_DIMS];
} pk_tensor;

typedef struct pk_result {
    pk_obj *obj;
    size_t n_obj;
    pk_storage *storages;
    size_t n_storages;
    pk_tensor *tensors;
    size_t n_tensors;
    uint32_t root;
} pk_result;

/* Runs the pickle data[0..size) (the opcodes torch.save emits, protocols 2-4);
 * unknown globals become opaque objects. where names the pickle in messages
 * ("FILE: ENTRY"). */
geoloc_status pk_run(const uint8_t *data, size_t size, const char *where, pk_result *out,
                     geoloc_error *err);

/* The value of a dict for a str key, or -1. */
int64_t pk_dict_get(const pk_result *r, uint32_t dict, const char *key);

/* Releases what pk_run made. */
void pk_free(pk_result *r);

#endif
