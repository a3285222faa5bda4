/* libFuzzer target: multipart/form-data parsing (src/server/multipart.c).
 * Input: a boundary on the first line, the body after it. Whatever is
 * accepted must be consistent: at least one part counted, the stored parts
 * inside the body, in order and not overlapping, names NUL-terminated, and
 * the same count and parts whatever the storage limit. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"
#include "server/multipart.h"

#define STORED 64

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size) {
    const unsigned char *nl = memchr(data, '\n', size < 71 ? size : 71);
    if (!nl || nl == data) return 0;
    char boundary[72];
    memcpy(boundary, data, (size_t)(nl - data));
    boundary[nl - data] = 0;
    if (strlen(boundary) != (size_t)(nl - data)) return 0;
    size_t body_size = size - (size_t)(nl + 1 - data);
    uint8_t *body = malloc(body_size ? body_size : 1); /* exactly the body: reads past it are caught */
    if (!body) return 0;
    memcpy(body, nl + 1, body_size);
    static multipart_part all[STORED], few[2];
    size_t n = 0, n_few = 0;
    char why[256] = "";
    int r = multipart_parse(body, body_size, boundary, all, STORED, &n, why, sizeof why);
    int r_few = multipart_parse(body, body_size, boundary, few, 2, &n_few, why, sizeof why);
    REQUIRE(r == r_few && n == n_few);
    if (r == 0) {
        REQUIRE(n >= 1);
        const uint8_t *prev_end = body;
        for (size_t k = 0; k < n && k < STORED; k++) {
            const multipart_part *p = &all[k];
            REQUIRE(p->data >= prev_end && p->data + p->size <= body + body_size);
            prev_end = p->data + p->size;
            REQUIRE(memchr(p->name, 0, sizeof p->name) && memchr(p->filename, 0, sizeof p->filename) &&
                    memchr(p->content_type, 0, sizeof p->content_type));
            if (k < 2) REQUIRE(!memcmp(p, &few[k], sizeof *p));
        }
    } else {
        REQUIRE(n == 0 && why[0]);
    }
    free(body);
    return 0;
}
