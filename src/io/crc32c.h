/* CRC-32C (Castagnoli), as used by iSCSI, ext4 and many storage formats: the
 * shard index's per-photo check and the weights files' data check.
 * Internal API. */
#ifndef GEOLOC_IO_CRC32C_H
#define GEOLOC_IO_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/* CRC of data[0..n) continuing from crc (start with 0); crc32c(0, "123456789", 9)
 * is 0xE3069283. Thread-safe. */
uint32_t crc32c(uint32_t crc, const void *data, size_t n);

#endif
