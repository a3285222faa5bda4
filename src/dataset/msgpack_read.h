/* Reading GeoEstimation's msgpack shards (a plain concatenation of msgpack
 * maps with "id" and "image") record by record with msgpack-c's streaming
 * unpacker, in bounded memory: records up to 256 MiB whose maps and arrays
 * declare at most 2^20 elements (msgpack-c allocates a container's elements
 * when it reads its header, so the headers are checked before it sees
 * them). Internal API. */
#ifndef GEOLOC_DATASET_MSGPACK_READ_H
#define GEOLOC_DATASET_MSGPACK_READ_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <msgpack.h>

/* Largest record accepted, and most elements its maps and arrays may
 * declare in all (a record beyond either ends the shard's reading). */
#define MSGPACK_MAX_RECORD ((uint64_t)256 << 20)
#define MSGPACK_MAX_ELEMENTS ((uint64_t)1 << 20)

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

/* The container check: where the headers ahead of the unpacker stand. */
typedef struct msgpack_guard {
    uint64_t objects;  /* objects still to come in the current record (0: between records) */
    uint64_t skip;     /* payload bytes still to pass over */
    uint64_t elements; /* elements declared by the current record's maps and arrays */
    uint64_t record;   /* offset of the current record */
    uint8_t head[6];   /* the current header, which may straddle two reads */
    unsigned head_len, head_need;
} msgpack_guard;

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
    msgpack_guard guard;
    int refused;     /* the input stops at the guard's record: too many elements */
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
