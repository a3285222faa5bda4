/* libFuzzer target: the safetensors reader (geoloc_safetensors_open_buffer).
 * Whatever it accepts must be consistent: names sorted and unique, every
 * tensor's bytes inside the buffer with n_bytes = product of the shape *
 * element size, the tensors covering the data area exactly, and a data
 * checksum entry only in files whose data matched it. */
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"
#include "geoloc/safetensors.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size) {
    /* a private copy of exactly the input's size: the reader points into it */
    unsigned char *copy = malloc(size ? size : 1);
    if (!copy) return 0;
    memcpy(copy, data, size);
    geoloc_safetensors *st = NULL;
    geoloc_error err;
    err.message[0] = '\0';
    if (geoloc_safetensors_open_buffer(copy, size, "fuzz.safetensors", &st, &err) == GEOLOC_OK) {
        REQUIRE(size >= 8);
        uint64_t hlen = 0;
        for (int k = 7; k >= 0; k--) hlen = (hlen << 8) | copy[k];
        REQUIRE(hlen <= size - 8);
        const unsigned char *area = copy + 8 + hlen;
        uint64_t covered = 0;
        size_t n = geoloc_safetensors_count(st);
        for (size_t k = 0; k < n; k++) {
            const geoloc_tensor_info *t = geoloc_safetensors_tensor(st, k);
            REQUIRE(t && t->name && strlen(t->name) <= GEOLOC_ST_MAX_NAME);
            if (k) REQUIRE(strcmp(geoloc_safetensors_tensor(st, k - 1)->name, t->name) < 0);
            REQUIRE(geoloc_safetensors_find(st, t->name) == t);
            REQUIRE(t->ndim <= GEOLOC_ST_MAX_DIMS);
            uint64_t count = 1;
            for (size_t d = 0; d < t->ndim; d++) count *= t->shape[d]; /* checked on read */
            REQUIRE(count == t->n_elements);
            REQUIRE(t->n_bytes == count * geoloc_dtype_size(t->dtype));
            REQUIRE(geoloc_dtype_size(t->dtype) > 0);
            REQUIRE((const unsigned char *)t->data == area + t->offset);
            REQUIRE(t->offset <= size - 8 - hlen && t->n_bytes <= size - 8 - hlen - t->offset);
            /* touch the first and last byte: ASan reports reads outside the copy */
            if (t->n_bytes) {
                volatile unsigned char x = ((const unsigned char *)t->data)[0];
                x = ((const unsigned char *)t->data)[t->n_bytes - 1];
                (void)x;
            }
            covered += t->n_bytes;
        }
        REQUIRE(covered == size - 8 - hlen); /* no holes, no overlaps */
        /* a checksum entry in an accepted file means its data matched it */
        REQUIRE(geoloc_safetensors_has_checksum(st) ==
                (geoloc_safetensors_metadata_get(st, GEOLOC_ST_CHECKSUM_KEY) != NULL));
        for (size_t k = 0; k < geoloc_safetensors_metadata_count(st); k++) {
            const char *key, *value;
            geoloc_safetensors_metadata_entry(st, k, &key, &value);
            REQUIRE(key && value && geoloc_safetensors_metadata_get(st, key) == value);
        }
        geoloc_safetensors_close(st);
    } else {
        REQUIRE(st == NULL && err.message[0] != '\0');
    }
    free(copy);
    return 0;
}
