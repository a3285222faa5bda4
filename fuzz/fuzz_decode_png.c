/* libFuzzer target for PNG decoding (src/image/decode_png.c, libpng) and
 * metadata reading (IHDR, eXIf with libexif) on the same bytes. The checks
 * are in fuzz_image_common.h.
 *
 * libpng rejects a chunk whose CRC does not match, which would stop most
 * mutations at the first check; so the target also runs a copy of the input
 * with every complete chunk's CRC recomputed (the library itself always
 * checks CRCs). Seeds: fuzz/seeds/fuzz_decode_png (grey 1-16 bit, RGB,
 * 16-bit, palette + tRNS, alpha, Adam7, eXIf; tools/gen_image_seeds.c). */
#include "fuzz_image_common.h"

static uint32_t crc_table[256];

static void crc_init(void) {
    for (uint32_t n = 0; n < 256; n++) {
        uint32_t c = n;
        for (int k = 0; k < 8; k++) c = c & 1 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
        crc_table[n] = c;
    }
}

static uint32_t crc32_of(const uint8_t *p, size_t n) {
    uint32_t c = 0xFFFFFFFFu;
    for (size_t i = 0; i < n; i++) c = crc_table[(c ^ p[i]) & 0xFF] ^ (c >> 8);
    return c ^ 0xFFFFFFFFu;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (!crc_table[1]) crc_init();
    fuzz_image_one(data, size, "fuzz.png");
    if (size < 8 + 12) return 0;
    uint8_t *fixed = malloc(size);
    if (!fixed) return 0;
    memcpy(fixed, data, size);
    size_t pos = 8;
    while (size - pos >= 12) {
        uint32_t len = (uint32_t)fixed[pos] << 24 | (uint32_t)fixed[pos + 1] << 16 |
                       (uint32_t)fixed[pos + 2] << 8 | fixed[pos + 3];
        if (len > size - pos - 12) break;
        uint32_t crc = crc32_of(fixed + pos + 4, 4 + (size_t)len);
        for (int k = 0; k < 4; k++) fixed[pos + 8 + len + k] = (uint8_t)(crc >> (24 - 8 * k));
        pos += 12 + (size_t)len;
    }
    fuzz_image_one(fixed, size, "fuzz.png");
    free(fixed);
    return 0;
}
