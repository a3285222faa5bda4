/* libFuzzer target: the msgpack shard record reader (msgpack_reader_next,
 * msgpack_record_probe) of geoloc dataset import-msgpack. The first byte
 * sets the size of the chunks the bytes are fed in (1..256), so records
 * split at every place are tried. Whatever it returns must be consistent:
 * records numbered 1, 2, ... at non-decreasing offsets inside the input,
 * ids of 1..4095 bytes without NULs, non-empty images, a reason for every
 * rejection, sizes > 0 for a photo that probes, and an end only after the
 * last byte. */
#include <string.h>

#include "dataset/msgpack_read.h"
#include "fuzz_util.h"

typedef struct {
    const uint8_t *data;
    size_t size, at, chunk;
} feed;

static ssize_t feed_read(void *ctx, void *buf, size_t size) {
    feed *f = ctx;
    size_t n = f->size - f->at;
    if (n > f->chunk) n = f->chunk;
    if (n > size) n = size;
    memcpy(buf, f->data + f->at, n);
    f->at += n;
    return (ssize_t)n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size == 0) return 0;
    feed f = {data + 1, size - 1, 0, (size_t)data[0] + 1};
    msgpack_reader r;
    if (msgpack_reader_init(&r, feed_read, &f) != 0) return 0;
    uint64_t number = 0, start = 0;
    for (;;) {
        msgpack_record rec;
        char why[600] = "";
        msgpack_read_result res = msgpack_reader_next(&r, &rec, why, sizeof why);
        if (res == MSGPACK_READ_END) {
            REQUIRE(f.at == f.size && r.end == f.size);
            break;
        }
        REQUIRE(res != MSGPACK_READ_IO);
        REQUIRE(r.number == number + 1 && r.start >= start && r.start <= f.size && r.fed <= f.size);
        number = r.number;
        start = r.start;
        if (res == MSGPACK_READ_RECORD) {
            REQUIRE(rec.id_len >= 1 && rec.id_len <= 4095 && !memchr(rec.id, '\0', rec.id_len));
            REQUIRE(rec.image_size > 0 && r.end <= f.size);
            why[0] = '\0';
            if (msgpack_record_probe(&rec, why, sizeof why) == 0) REQUIRE(rec.width > 0 && rec.height > 0);
            else REQUIRE(why[0] != '\0');
            continue;
        }
        REQUIRE(why[0] != '\0');
        if (res != MSGPACK_READ_BAD) break;
    }
    msgpack_reader_free(&r);
    return 0;
}
