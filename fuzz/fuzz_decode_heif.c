/* libFuzzer target for HEIF/HEIC decoding (src/image/heif.c, libheif with
 * its libde265 HEVC decoder) and metadata reading (the Exif item through
 * libexif) on the same bytes. The checks are in fuzz_image_common.h (a
 * HEIF's decoded size is the size its metadata reports, orientation 1).
 * Seeds: fuzz/seeds/fuzz_decode_heif (small generated HEICs: plain, with
 * EXIF GPS, with an irot/imir rotation; tools/gen_image_seeds.c). */
#include "fuzz_image_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fuzz_image_one(data, size, "fuzz.heic");
    return 0;
}
