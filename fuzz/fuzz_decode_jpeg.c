/* libFuzzer target for JPEG decoding (src/image/decode_jpeg.c, libjpeg-turbo)
 * and metadata reading (probe.c, exif.c with libexif, flir.c) on the same
 * bytes. The checks are in fuzz_image_common.h. Seeds: fuzz/seeds/fuzz_decode_jpeg
 * (small generated JPEGs: baseline, progressive, restart markers, grey, CMYK,
 * YCCK, with EXIF GPS/orientation APP1; tools/gen_image_seeds.c) and the
 * heads of the shared EXIF photos (fuzz/run.sh). */
#include "fuzz_image_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fuzz_image_one(data, size, "fuzz.jpg");
    return 0;
}
