/* Reading GeoEstimation's msgpack shards record by record: bytes are read
 * 1 MiB at a time into msgpack-c's streaming unpacker, after a scan of the
 * object headers they hold (the guard) that stops the input at a record
 * whose maps and arrays declare too many elements. A record is a map with
 * "id" (str or bin: the IMG_ID) and "image" (bin or str, as older msgpack
 * wrote bytes: the photo), other keys ignored. */
#include "dataset/msgpack_read.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "dataset/shard_format.h"
#include "geoloc/exif.h"

#define CHUNK (1u << 20)

/* ---- the guard ------------------------------------------------------------------ */

/* Header bytes after the first byte b: a length, an ext's length and type,
 * or a fixext's type. */
static unsigned head_extra(uint8_t b) {
    switch (b) {
    case 0xc4: case 0xd9: return 1;                               /* bin8, str8 */
    case 0xc5: case 0xda: case 0xdc: case 0xde: return 2;         /* bin16, str16, array16, map16 */
    case 0xc6: case 0xdb: case 0xdd: case 0xdf: return 4;         /* bin32, str32, array32, map32 */
    case 0xc7: return 2;                                          /* ext8 */
    case 0xc8: return 3;                                          /* ext16 */
    case 0xc9: return 5;                                          /* ext32 */
    case 0xd4: case 0xd5: case 0xd6: case 0xd7: case 0xd8: return 1; /* fixext */
    default: return 0;
    }
}

static uint64_t big_endian(const uint8_t *p, unsigned n) {
    uint64_t v = 0;
    for (unsigned k = 0; k < n; k++) v = v << 8 | p[k];
    return v;
}

/* Accounts for a complete header: its children and payload. */
static void guard_header(msgpack_guard *g) {
    const uint8_t *h = g->head;
    uint8_t b = h[0];
    uint64_t children = 0, pairs = 0;
    static const uint8_t FIXED[] = {4, 8, 1, 2, 4, 8, 1, 2, 4, 8}; /* 0xca..0xd3 */
    static const uint8_t FIXEXT[] = {1, 2, 4, 8, 16};              /* 0xd4..0xd8 */
    if (b >= 0x80 && b <= 0x8f) pairs = b & 0x0f;
    else if (b >= 0x90 && b <= 0x9f) children = b & 0x0f;
    else if (b >= 0xa0 && b <= 0xbf) g->skip = b & 0x1f;
    else if (b == 0xdc || b == 0xdd) children = big_endian(h + 1, b == 0xdc ? 2 : 4);
    else if (b == 0xde || b == 0xdf) pairs = big_endian(h + 1, b == 0xde ? 2 : 4);
    else if (b == 0xc4 || b == 0xc5 || b == 0xc6) g->skip = big_endian(h + 1, 1u << (b - 0xc4));
    else if (b == 0xd9 || b == 0xda || b == 0xdb) g->skip = big_endian(h + 1, 1u << (b - 0xd9));
    else if (b == 0xc7 || b == 0xc8 || b == 0xc9) g->skip = big_endian(h + 1, 1u << (b - 0xc7));
    else if (b >= 0xca && b <= 0xd3) g->skip = FIXED[b - 0xca];
    else if (b >= 0xd4 && b <= 0xd8) g->skip = FIXEXT[b - 0xd4];
    g->objects += children + 2 * pairs;
    g->elements += children + pairs;
}

/* Scans n bytes at offset `at` of the input; at + n, or the offset of the
 * start of a record declaring too many elements (which may be before at). */
static uint64_t guard_scan(msgpack_guard *g, const uint8_t *p, size_t n, uint64_t at) {
    size_t i = 0;
    while (i < n) {
        if (g->skip) {
            size_t take = g->skip < n - i ? (size_t)g->skip : n - i;
            g->skip -= take;
            i += take;
            continue;
        }
        if (g->head_len == 0) {
            if (g->objects == 0) { /* a new record */
                g->objects = 1;
                g->elements = 0;
                g->record = at + i;
            }
            g->head_need = 1 + head_extra(p[i]);
        }
        g->head[g->head_len++] = p[i++];
        if (g->head_len < g->head_need) continue;
        g->head_len = 0;
        g->objects--;
        guard_header(g);
        if (g->elements > MSGPACK_MAX_ELEMENTS) return g->record;
    }
    return at + n;
}

/* ---- records ----------------------------------------------------------------------- */

int msgpack_reader_init(msgpack_reader *r, msgpack_read_fn read, void *ctx) {
    memset(r, 0, sizeof *r);
    r->read = read;
    r->ctx = ctx;
    if (!msgpack_unpacker_init(&r->u, CHUNK)) return -1;
    msgpack_unpacked_init(&r->obj);
    return 0;
}

void msgpack_reader_free(msgpack_reader *r) {
    msgpack_unpacked_destroy(&r->obj);
    msgpack_unpacker_destroy(&r->u);
}
static const char *const TYPE_NAMES[] = {"nil", "boolean", "integer", "integer", "float", "str",
                                         "array", "map", "bin", "ext"};

static const char *type_name(msgpack_object_type t) {
    return (unsigned)t < sizeof TYPE_NAMES / sizeof *TYPE_NAMES ? TYPE_NAMES[t] : "float";
}

/* The bytes of a str or bin object; 0 for other types. */
static int bytes_of(const msgpack_object *o, const char **p, size_t *n) {
    if (o->type == MSGPACK_OBJECT_STR) *p = o->via.str.ptr, *n = o->via.str.size;
    else if (o->type == MSGPACK_OBJECT_BIN) *p = o->via.bin.ptr, *n = o->via.bin.size;
    else return 0;
    return 1;
}

/* Fills rec's id and image from a map with "id" and "image"; 0, or -1 with why. */
static int parse_record(const msgpack_object *o, msgpack_record *rec, char *why, size_t why_size) {
    if (o->type != MSGPACK_OBJECT_MAP) {
        snprintf(why, why_size, "not a map (a msgpack %s)", type_name(o->type));
        return -1;
    }
    const msgpack_object *id = NULL, *image = NULL;
    for (uint32_t k = 0; k < o->via.map.size; k++) {
        const char *key;
        size_t len;
        if (!bytes_of(&o->via.map.ptr[k].key, &key, &len)) continue;
        if (len == 2 && memcmp(key, "id", 2) == 0) id = &o->via.map.ptr[k].val;
        else if (len == 5 && memcmp(key, "image", 5) == 0) image = &o->via.map.ptr[k].val;
    }
    const char *image_bytes;
    if (!id || !image) {
        snprintf(why, why_size, "no \"%s\" key", id ? "image" : "id");
        return -1;
    }
    if (!bytes_of(id, &rec->id, &rec->id_len) || rec->id_len == 0 || rec->id_len > SHARD_MAX_TEXT ||
        memchr(rec->id, '\0', rec->id_len)) {
        snprintf(why, why_size, "\"id\" is not a string of 1 to %u bytes without NULs", SHARD_MAX_TEXT);
        return -1;
    }
    if (!bytes_of(image, &image_bytes, &rec->image_size) || rec->image_size == 0) {
        snprintf(why, why_size, "\"image\" is not a non-empty byte string");
        return -1;
    }
    rec->image = (const uint8_t *)image_bytes;
    return 0;
}

int msgpack_record_probe(msgpack_record *rec, char *why, size_t why_size) {
    geoloc_photo_meta meta;
    geoloc_error err;
    if (geoloc_photo_meta_read(rec->image, rec->image_size, "image", &meta, &err) != GEOLOC_OK ||
        meta.width <= 0 || meta.height <= 0) {
        snprintf(why, why_size, "%.*s: not a readable photo (%s)", (int)(rec->id_len < 200 ? rec->id_len : 200),
                 rec->id, err.message);
        return -1;
    }
    int swap = meta.orientation >= 5 && meta.orientation <= 8;
    rec->width = swap ? meta.height : meta.width;
    rec->height = swap ? meta.width : meta.height;
    return 0;
}

msgpack_read_result msgpack_reader_next(msgpack_reader *r, msgpack_record *rec, char *why, size_t why_size) {
    for (;;) {
        msgpack_unpack_return ret = msgpack_unpacker_next(&r->u, &r->obj);
        if (ret == MSGPACK_UNPACK_SUCCESS) {
            r->number++;
            r->start = r->end;
            r->end = r->fed - (r->u.used - r->u.off);
            return parse_record(&r->obj.data, rec, why, why_size) ? MSGPACK_READ_BAD : MSGPACK_READ_RECORD;
        }
        uint64_t pending = r->fed - r->end;
        if (ret != MSGPACK_UNPACK_CONTINUE || pending > MSGPACK_MAX_RECORD) {
            r->number++;
            r->start = r->end;
            snprintf(why, why_size, "%s", ret == MSGPACK_UNPACK_PARSE_ERROR ? "not msgpack"
                                          : ret == MSGPACK_UNPACK_CONTINUE ? "a record larger than 256 MiB"
                                                                           : "out of memory");
            return MSGPACK_READ_CORRUPT;
        }
        if (r->refused) { /* every whole record before the refused one has been returned */
            r->number++;
            r->start = r->end;
            snprintf(why, why_size, "a record whose maps and arrays declare more than %llu elements",
                     (unsigned long long)MSGPACK_MAX_ELEMENTS);
            return MSGPACK_READ_CORRUPT;
        }
        if (r->eof) {
            if (pending == 0) return MSGPACK_READ_END;
            r->number++;
            r->start = r->end;
            snprintf(why, why_size, "cut off: the last %llu bytes are an incomplete record",
                     (unsigned long long)pending);
            return MSGPACK_READ_TRUNCATED;
        }
        if (msgpack_unpacker_buffer_capacity(&r->u) < CHUNK / 16 && !msgpack_unpacker_reserve_buffer(&r->u, CHUNK)) {
            snprintf(why, why_size, "out of memory");
            return MSGPACK_READ_CORRUPT;
        }
        ssize_t got = r->read(r->ctx, msgpack_unpacker_buffer(&r->u), msgpack_unpacker_buffer_capacity(&r->u));
        if (got < 0) {
            snprintf(why, why_size, "%s", strerror(errno));
            return MSGPACK_READ_IO;
        }
        uint64_t upto = guard_scan(&r->guard, (const uint8_t *)msgpack_unpacker_buffer(&r->u), (size_t)got, r->fed);
        if (upto < r->fed + (uint64_t)got) r->refused = r->eof = 1;
        if (upto < r->fed) upto = r->fed; /* the refused record began in an earlier read */
        if (got == 0) r->eof = 1;
        msgpack_unpacker_buffer_consumed(&r->u, (size_t)(upto - r->fed));
        r->fed = upto;
    }
}

