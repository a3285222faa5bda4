/* Reading GeoEstimation's msgpack shards (a plain concatenation of msgpack
 * maps with "id" and "image") record by record with msgpack-c's streaming
 * unpacker: memory bounded by the largest record. Internal API. */
#ifndef GEOLOC_DATASET_MSGPACK_IMPORT_H
#define GEOLOC_DATASET_MSGPACK_IMPORT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <msgpack.h>

/* Largest record accepted (a longer one ends the shard's reading). */
#define MSGPACK_MAX_RECORD ((uint64_t)256 << 20)

/* One record: pointers into the reader's buffer, valid until the next
 * msgpack_reader_next; after msgpack_record_probe, the size of the photo
 * its header gives (EXIF orientation applied). */
typedef struct msgpack_record {
    const char *id;
    size_t id_len;
    const uint8_t *image;
    size_t image_size;
    int width, height;
} msgpack_record;

typedef enum msgpack_read_result {
    MSGPACK_READ_RECORD,    /* a map with an "id" and an "image" */
    MSGPACK_READ_BAD,       /* a whole msgpack object that is not a good record (why says what) */
    MSGPACK_READ_END,       /* the end of the input, after a whole object */
    MSGPACK_READ_TRUNCATED, /* the input ends inside an object */
    MSGPACK_READ_CORRUPT,   /* bytes that are not msgpack, or a record too large: nothing after is read */
    MSGPACK_READ_IO         /* the read function failed (errno in why) */
} msgpack_read_result;

/* Reads up to size bytes into buf: the count, 0 at the end, -1 on an error (errno set). */
typedef ssize_t (*msgpack_read_fn)(void *ctx, void *buf, size_t size);

typedef struct msgpack_reader {
    msgpack_unpacker u;
    msgpack_unpacked obj;
    msgpack_read_fn read;
    void *ctx;
    uint64_t fed;    /* bytes given to the unpacker */
    uint64_t end;    /* where the last whole object ended */
    uint64_t number; /* 1-based number of the last object (or of the incomplete one) */
    uint64_t start;  /* its byte offset */
    int eof;
} msgpack_reader;

/* Starts reading through `read`; -1 when memory runs out. */
int msgpack_reader_init(msgpack_reader *r, msgpack_read_fn read, void *ctx);

/* The next object: a record in *rec, or why it is not one (in why). r->number
 * and r->start name the object (or the bytes) concerned. */
msgpack_read_result msgpack_reader_next(msgpack_reader *r, msgpack_record *rec, char *why, size_t why_size);

void msgpack_reader_free(msgpack_reader *r);

/* Reads the photo header of rec->image (no pixel decoding) for its size;
 * 0, or -1 with why ("ID: not a readable photo (...)"). */
int msgpack_record_probe(msgpack_record *rec, char *why, size_t why_size);

#endif
