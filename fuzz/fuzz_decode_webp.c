/* libFuzzer target for WebP decoding (src/image/decode_webp.c, libwebp) and
 * metadata reading (VP8/VP8L/VP8X headers, EXIF chunk with libexif) on the
 * same bytes. The checks are in fuzz_image_common.h. When the input's last
 * byte is odd, the RIFF size field is first set to the input's size, so
 * that mutations past a stale size still reach the decoder. Seeds:
 * fuzz/seeds/fuzz_decode_webp (lossy, lossless, alpha, VP8X + EXIF;
 * tools/gen_image_seeds.c) and the shared mx-htc-desire.webp. */
#include "fuzz_image_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size >= 12 && (data[size - 1] & 1) && !memcmp(data, "RIFF", 4)) {
        uint8_t *fixed = malloc(size);
        if (!fixed) return 0;
        memcpy(fixed, data, size);
        uint32_t riff = (uint32_t)(size - 8);
        for (int k = 0; k < 4; k++) fixed[4 + k] = (uint8_t)(riff >> (8 * k));
        fuzz_image_one(fixed, size, "fuzz.webp");
        free(fixed);
        return 0;
    }
    fuzz_image_one(data, size, "fuzz.webp");
    return 0;
}
