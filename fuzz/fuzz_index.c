/* libFuzzer target: the feature index reader (geoloc_index_load_buffer).
 * Whatever it accepts must be consistent: ids non-empty, coordinates in
 * range, and a search over it answering within its size. Inputs whose first
 * byte is odd are read as they are; the others get their last 4 bytes set to
 * the right checksum first, so that mutations reach the fields behind it. */
#include <stdlib.h>
#include <string.h>

#include "geoloc/retrieval.h"
#include "io/crc32c.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size) {
    unsigned char *copy = malloc(size ? size : 1);
    if (!copy) return 0;
    memcpy(copy, data, size);
    if (size >= 4 && !(copy[0] & 1)) {
        uint32_t crc = crc32c(0, copy, size - 4);
        memcpy(copy + size - 4, &crc, 4);
    }
    geoloc_index *ix;
    geoloc_error err;
    err.message[0] = '\0';
    if (geoloc_index_load_buffer(copy, size, "fuzz-index", &ix, &err) == GEOLOC_OK) {
        size_t n = geoloc_index_count(ix);
        int dim = geoloc_index_dim(ix);
        for (size_t i = 0; i < n; i++) {
            double lat, lon;
            geoloc_index_coords(ix, i, &lat, &lon);
            if (!geoloc_index_id(ix, i)[0] || !(lat >= -90 && lat <= 90) || !(lon >= -180 && lon <= 180)) abort();
        }
        float *q = calloc((size_t)dim, sizeof *q);
        geoloc_neighbour nb[4];
        size_t got = 99;
        if (!q) abort();
        q[0] = 1;
        if (geoloc_index_search(ix, q, 4, NULL, nb, &got, &err) != GEOLOC_OK || got > 4 || got > n) abort();
        for (size_t j = 0; j < got; j++)
            if (nb[j].row >= n) abort();
        free(q);
        geoloc_index_free(ix);
    } else if (err.message[0] == '\0') {
        abort();
    }
    free(copy);
    return 0;
}
