/* libFuzzer target: the PyTorch checkpoint reader (geoloc_torch_ckpt_open_buffer).
 * The first byte chooses what the rest is: even, a whole torch.save zip file;
 * odd, a data.pkl that the target stores (with its CRC) in a zip beside the
 * storages a/data/0..3 of 24, 8, 16 and 64 bytes, so the pickle machine and
 * the state_dict checks are reached. Whatever is accepted must be consistent:
 * at least one tensor, names unique and found, shapes multiplying to the
 * element count, float32 data inside the file image. */
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"
#include "geoloc/torch_ckpt.h"
#include "nn/torch_internal.h"

static void put16(unsigned char *p, unsigned v) { p[0] = (unsigned char)v, p[1] = (unsigned char)(v >> 8); }
static void put32(unsigned char *p, uint32_t v) { put16(p, v & 0xffff), put16(p + 2, v >> 16); }

/* A zip of stored entries names[k] with bytes data[k][0..len[k]) into out; its size. */
static size_t make_zip(unsigned char *out, const char *const *names, const unsigned char *const *data,
                       const size_t *len, int n) {
    size_t at = 0, local[8];
    for (int k = 0; k < n; k++) {
        size_t nl = strlen(names[k]);
        local[k] = at;
        memset(out + at, 0, 30);
        put32(out + at, 0x04034b50u);
        put32(out + at + 14, tzip_crc32(data[k], len[k]));
        put32(out + at + 18, (uint32_t)len[k]), put32(out + at + 22, (uint32_t)len[k]);
        put16(out + at + 26, (unsigned)nl);
        memcpy(out + at + 30, names[k], nl);
        if (len[k]) memcpy(out + at + 30 + nl, data[k], len[k]);
        at += 30 + nl + len[k];
    }
    size_t cd = at;
    for (int k = 0; k < n; k++) {
        size_t nl = strlen(names[k]);
        memset(out + at, 0, 46);
        put32(out + at, 0x02014b50u);
        put32(out + at + 16, tzip_crc32(data[k], len[k]));
        put32(out + at + 20, (uint32_t)len[k]), put32(out + at + 24, (uint32_t)len[k]);
        put16(out + at + 28, (unsigned)nl);
        put32(out + at + 42, (uint32_t)local[k]);
        memcpy(out + at + 46, names[k], nl);
        at += 46 + nl;
    }
    memset(out + at, 0, 22);
    put32(out + at, 0x06054b50u);
    put16(out + at + 8, (unsigned)n), put16(out + at + 10, (unsigned)n);
    put32(out + at + 12, (uint32_t)(at - cd)), put32(out + at + 16, (uint32_t)cd);
    return at + 22;
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size) {
    if (size < 1 || size > (1u << 20)) return 0;
    static const unsigned char zeros[64];
    const char *names[5] = {"a/data.pkl", "a/data/0", "a/data/1", "a/data/2", "a/data/3"};
    const unsigned char *parts[5] = {data + 1, zeros, zeros, zeros, zeros};
    size_t lens[5] = {size - 1, 24, 8, 16, 64};
    /* a private buffer of exactly the image's size: ASan sees reads past its end */
    size_t cap = (data[0] & 1) ? size + 1024 : size - 1;
    unsigned char *img = malloc(cap ? cap : 1);
    if (!img) return 0;
    size_t n = (data[0] & 1) ? make_zip(img, names, parts, lens, 5) : size - 1;
    if (!(data[0] & 1) && n) memcpy(img, data + 1, n);
    unsigned char *copy = malloc(n ? n : 1);
    if (!copy) return free(img), 0;
    if (n) memcpy(copy, img, n);
    free(img);
    geoloc_torch_ckpt *c = NULL;
    geoloc_error err;
    err.message[0] = '\0';
    if (geoloc_torch_ckpt_open_buffer(copy, n, "fuzz.ckpt", &c, &err) == GEOLOC_OK) {
        size_t count = geoloc_torch_ckpt_count(c);
        REQUIRE(count >= 1 && geoloc_torch_ckpt_tensor(c, count) == NULL);
        for (size_t k = 0; k < count; k++) {
            const geoloc_torch_tensor *t = geoloc_torch_ckpt_tensor(c, k);
            REQUIRE(t && t->name && t->name[0] && t->storage_type);
            REQUIRE(geoloc_torch_ckpt_find(c, t->name) == t);
            REQUIRE(t->ndim <= GEOLOC_TORCH_MAX_DIMS);
            uint64_t count_el = 1;
            for (size_t d = 0; d < t->ndim; d++) count_el *= t->shape[d];
            REQUIRE(count_el == t->n_elements);
            REQUIRE(t->is_f32 == !strcmp(t->storage_type, "FloatStorage"));
            if (t->is_f32) {
                const unsigned char *p = t->data;
                REQUIRE(p >= copy && t->file_offset == (uint64_t)(p - copy));
                REQUIRE(t->n_elements * 4 <= n - t->file_offset);
            } else {
                REQUIRE(t->data == NULL);
            }
        }
        int64_t v;
        (void)geoloc_torch_ckpt_int(c, "epoch", &v);
        geoloc_torch_ckpt_close(c);
    } else {
        REQUIRE(c == NULL && err.message[0] != '\0');
    }
    free(copy);
    return 0;
}
