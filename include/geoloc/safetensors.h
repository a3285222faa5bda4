/* geoloc: safetensors weights files (the format of Hugging Face's
 * `safetensors` library): an 8-byte little-endian header length N, N bytes of
 * UTF-8 JSON naming every tensor with its dtype, shape and byte range, then
 * the raw little-endian data. Reading validates the whole header (syntax,
 * dtypes, shapes, ranges that cover the data area exactly, names) and gives
 * pointers into the mapped file; writing is atomic. Files geoloc writes carry
 * the CRC-32C of their data area in the metadata (GEOLOC_ST_CHECKSUM_KEY, 8
 * lowercase hex digits), which reading verifies: a changed byte anywhere in the
 * data is an error naming the file. Files without it (other writers, geoloc
 * before checksums) are read unverified. */
#ifndef GEOLOC_SAFETENSORS_H
#define GEOLOC_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

#include "geoloc/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Element types read and written. */
typedef enum geoloc_dtype {
    GEOLOC_DTYPE_F32,
    GEOLOC_DTYPE_F16,
    GEOLOC_DTYPE_BF16,
    GEOLOC_DTYPE_F64,
    GEOLOC_DTYPE_I64,
    GEOLOC_DTYPE_I32,
    GEOLOC_DTYPE_I16,
    GEOLOC_DTYPE_I8,
    GEOLOC_DTYPE_U8,
    GEOLOC_DTYPE_BOOL
} geoloc_dtype;

#define GEOLOC_ST_MAX_DIMS 16          /* most dimensions of a tensor */
#define GEOLOC_ST_MAX_NAME 1024        /* longest tensor name or metadata key, bytes */
#define GEOLOC_ST_MAX_HEADER 100000000 /* largest JSON header (as the reference library) */
#define GEOLOC_ST_CHECKSUM_KEY "geoloc.crc32c" /* metadata key of the data area's CRC-32C */

/* One tensor of an open file. Pointers are owned by the file. */
typedef struct geoloc_tensor_info {
    const char *name;
    geoloc_dtype dtype;
    size_t ndim;                        /* 0 for a scalar */
    uint64_t shape[GEOLOC_ST_MAX_DIMS];
    uint64_t n_elements;                /* product of the shape (1 for a scalar) */
    uint64_t offset;                    /* begin of the data, relative to the data area */
    uint64_t n_bytes;                   /* n_elements * element size */
    const void *data;                   /* n_bytes bytes in the file (little-endian) */
} geoloc_tensor_info;

/* A tensor to write: n_elements (product of shape) * element size bytes at data. */
typedef struct geoloc_tensor_desc {
    const char *name;
    geoloc_dtype dtype;
    size_t ndim;
    const uint64_t *shape;
    const void *data;
} geoloc_tensor_desc;

typedef struct geoloc_safetensors geoloc_safetensors;

/* The format's name of a dtype ("F32", "BF16", ...). */
const char *geoloc_dtype_name(geoloc_dtype dtype);

/* Bytes per element of a dtype (BOOL: 1). */
size_t geoloc_dtype_size(geoloc_dtype dtype);

/* Maps and validates the safetensors file at path; errors name the file and tensor. */
geoloc_status geoloc_safetensors_open(const char *path, geoloc_safetensors **out,
                                      geoloc_error *err);

/* Validates a safetensors image in memory (not copied: it must outlive *out); name is used in messages. */
geoloc_status geoloc_safetensors_open_buffer(const void *data, size_t size, const char *name,
                                             geoloc_safetensors **out, geoloc_error *err);

/* Releases an open file (NULL is allowed). */
void geoloc_safetensors_close(geoloc_safetensors *st);

/* 1 when the file carried a checksum of its data (verified when it was opened), 0 when
 * it had none (written before checksums or by another program: not verified). */
int geoloc_safetensors_has_checksum(const geoloc_safetensors *st);

/* The name the file was opened with (its path, or the buffer's name). */
const char *geoloc_safetensors_name(const geoloc_safetensors *st);

/* Number of tensors. */
size_t geoloc_safetensors_count(const geoloc_safetensors *st);

/* Tensor i (0 <= i < count), in name (strcmp) order. */
const geoloc_tensor_info *geoloc_safetensors_tensor(const geoloc_safetensors *st, size_t i);

/* The tensor called name, or NULL. */
const geoloc_tensor_info *geoloc_safetensors_find(const geoloc_safetensors *st, const char *name);

/* Number of "__metadata__" entries. */
size_t geoloc_safetensors_metadata_count(const geoloc_safetensors *st);

/* Metadata entry i (in key order): sets *key and *value. */
void geoloc_safetensors_metadata_entry(const geoloc_safetensors *st, size_t i, const char **key,
                                       const char **value);

/* The metadata value of key, or NULL. */
const char *geoloc_safetensors_metadata_get(const geoloc_safetensors *st, const char *key);

/* The F32 tensor name with exactly the shape expected[0..ndim): sets *out into the
 * file; a missing name, other dtype, other shape or unaligned data is an error. */
geoloc_status geoloc_safetensors_get_f32(const geoloc_safetensors *st, const char *name,
                                         const uint64_t *expected, size_t ndim,
                                         const float **out, geoloc_error *err);

/* Writes tensors[0..n) in that order, with n_meta metadata pairs and the data's
 * checksum (GEOLOC_ST_CHECKSUM_KEY: a caller's entry of that key is replaced), atomically
 * to path. */
geoloc_status geoloc_safetensors_write(const char *path, const geoloc_tensor_desc *tensors,
                                       size_t n, const char *const *meta_keys,
                                       const char *const *meta_values, size_t n_meta,
                                       geoloc_error *err);

#ifdef __cplusplus
}
#endif
#endif
