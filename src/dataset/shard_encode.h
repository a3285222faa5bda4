/* Turning one photo file into the bytes a shard stores. Internal API. */
#ifndef GEOLOC_DATASET_SHARD_ENCODE_H
#define GEOLOC_DATASET_SHARD_ENCODE_H

#include <stddef.h>
#include <stdint.h>

#include "geoloc/image.h"
#include "geoloc/status.h"

/* Encoded bytes (malloc'd) and the decoded size of a photo. */
typedef struct shard_photo {
    uint8_t *data;
    size_t size;
    int width, height;
} shard_photo;

/* Size of a w x h image whose shorter side becomes `side`: the longer side
 * is int(side * long / short) as in torchvision and the reference; an image
 * whose shorter side is already <= side keeps its size (never enlarged). */
void shard_target_size(int w, int h, int side, int *out_w, int *out_h);

/* Encodes RGB pixels as a baseline JPEG of the given quality (1-100). */
geoloc_status shard_encode_jpeg(const geoloc_image *img, int quality, uint8_t **data,
                                size_t *size, geoloc_error *err);

/* The shard bytes of the photo file at path: side > 0 decodes it (DCT-scaled
 * when possible), resizes it so the shorter side is `side` and re-encodes it
 * as JPEG; side < 0 keeps the file's bytes after checking that they decode.
 * Deterministic: the same file gives the same bytes. */
geoloc_status shard_encode_photo(const char *path, int side, int quality, shard_photo *out,
                                 geoloc_error *err);

#endif
