/* Reading a shard index (index.bin; format in src/dataset/shard.c). Every
 * field is checked when the index is opened: sizes against the file size,
 * each photo's bytes inside its shard and packed back to back, its strings
 * inside the text area and NUL-terminated, coordinates and labels in range,
 * reserved fields zero. Afterwards entries are read without further checks. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "io/mapped_file.h"
#include "dataset/shard_index_internal.h"

static const int LABEL_CLASSES[3] = {3, 16, 365};

/* A format error: "NAME: what (corrupted index)". */
__attribute__((format(printf, 3, 4)))
static geoloc_status bad(geoloc_error *err, const char *name, const char *fmt, ...) {
    char what[300];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    return error_set(err, GEOLOC_E_PARSE, "%s: %s (corrupted index)", name, what);
}

typedef unsigned long long ull;

static geoloc_status check_header(geoloc_shard_index *x, geoloc_error *err) {
    const uint8_t *h = x->data;
    const char *name = x->name;
    if (x->size < INDEX_HEADER_SIZE)
        return bad(err, name, "%llu bytes, shorter than the %u-byte header", (ull)x->size,
                   INDEX_HEADER_SIZE);
    if (memcmp(h + IH_MAGIC, INDEX_MAGIC, 8) != 0)
        return error_set(err, GEOLOC_E_PARSE, "%s: not a geoloc shard index (bad magic)", name);
    if (get32(h + IH_VERSION) != SHARD_VERSION)
        return error_set(err, GEOLOC_E_PARSE, "%s: format version %u, this build reads version %u",
                         name, get32(h + IH_VERSION), SHARD_VERSION);
    if (get32(h + IH_HEADER_SIZE) != INDEX_HEADER_SIZE)
        return bad(err, name, "header size %u, expected %u", get32(h + IH_HEADER_SIZE),
                   INDEX_HEADER_SIZE);
    if (get32(h + IH_RECORD_SIZE) != INDEX_RECORD_SIZE)
        return bad(err, name, "record size %u, expected %u", get32(h + IH_RECORD_SIZE),
                   INDEX_RECORD_SIZE);
    x->n_shards = get32(h + IH_N_SHARDS);
    x->n_photos = get64(h + IH_N_PHOTOS);
    x->text_size = get64(h + IH_TEXT_SIZE);
    x->set_id = get64(h + IH_SET_ID);
    x->columns = get32(h + IH_COLUMNS);
    x->shorter_side = (int32_t)get32(h + IH_SHORTER);
    x->quality = get32(h + IH_QUALITY);
    if (get32(h + IH_RESERVED) != 0) return bad(err, name, "reserved header field not zero");
    if (x->columns & ~(unsigned)SHARD_COLUMNS)
        return bad(err, name, "unknown column bits %#x", x->columns);
    if (x->shorter_side < -1 || x->shorter_side == 0 || x->shorter_side > (int32_t)SHARD_MAX_SIDE)
        return bad(err, name, "shorter side %d out of range", (int)x->shorter_side);
    if (x->quality > 100) return bad(err, name, "JPEG quality %u above 100", x->quality);
    if (x->n_shards > SHARD_MAX_SHARDS)
        return bad(err, name, "%u shards, more than the limit %u", x->n_shards, SHARD_MAX_SHARDS);
    if ((x->n_photos == 0) != (x->n_shards == 0))
        return bad(err, name, "%llu photos in %u shards", (ull)x->n_photos, x->n_shards);
    /* exact size: header + records + shard table + text, without overflow */
    uint64_t rest = x->size - INDEX_HEADER_SIZE;
    if (x->n_photos > rest / INDEX_RECORD_SIZE)
        return bad(err, name, "%llu bytes cannot hold the %llu photos of its header (truncated?)",
                   (ull)x->size, (ull)x->n_photos);
    rest -= x->n_photos * INDEX_RECORD_SIZE;
    if ((uint64_t)x->n_shards * INDEX_TABLE_ENTRY_SIZE > rest)
        return bad(err, name, "%llu bytes cannot hold the %u shards of its header (truncated?)",
                   (ull)x->size, x->n_shards);
    rest -= (uint64_t)x->n_shards * INDEX_TABLE_ENTRY_SIZE;
    if (x->text_size != rest)
        return bad(err, name, "%llu bytes of text follow the tables, the header says %llu (truncated?)",
                   (ull)rest, (ull)x->text_size);
    x->records = h + INDEX_HEADER_SIZE;
    x->table = x->records + x->n_photos * INDEX_RECORD_SIZE;
    x->text = (const char *)(x->table + (uint64_t)x->n_shards * INDEX_TABLE_ENTRY_SIZE);
    return GEOLOC_OK;
}

static geoloc_status check_record(const geoloc_shard_index *x, uint64_t k, uint64_t *next_text,
                                  geoloc_error *err) {
    const uint8_t *r = x->records + k * INDEX_RECORD_SIZE;
    const char *problem = NULL;
    uint64_t off = get64(r + IR_TEXT);
    uint32_t id_len = get16(r + IR_ID_LEN), author_len = get16(r + IR_AUTHOR_LEN);
    double lat = get_f64(r + IR_LAT), lng = get_f64(r + IR_LNG);
    uint32_t w = get32(r + IR_WIDTH), h = get32(r + IR_HEIGHT);
    if (off != *next_text) problem = "text offset out of sequence";
    else if (id_len == 0 || id_len > SHARD_MAX_TEXT || author_len > SHARD_MAX_TEXT)
        problem = "bad id or author length";
    else if ((uint64_t)id_len + author_len + 2 > x->text_size - off)
        problem = "strings beyond the text area";
    else if (x->text[off + id_len] != '\0' || x->text[off + id_len + 1 + author_len] != '\0' ||
             memchr(x->text + off, '\0', id_len) || memchr(x->text + off + id_len + 1, '\0', author_len))
        problem = "strings not NUL-terminated where their lengths say";
    else if (author_len && !(x->columns & GEOLOC_COL_AUTHOR)) problem = "author without the AUTHOR column";
    else if (!(lat >= -90 && lat <= 90) || !(lng >= -180 && lng <= 180)) problem = "coordinates out of range";
    else if (w == 0 || h == 0 || w > SHARD_MAX_SIDE || h > SHARD_MAX_SIDE) problem = "bad width or height";
    else if (get16(r + IR_RESERVED) != 0) problem = "reserved field not zero";
    for (int c = 0; c < 3 && !problem; c++) {
        int v = (int16_t)get16(r + IR_LABELS + 2 * c);
        if (v < -1 || v >= LABEL_CLASSES[c]) problem = "scene label out of range";
        else if (v >= 0 && !(x->columns & (GEOLOC_COL_S3 << c))) problem = "label of an absent column";
    }
    if (problem) return bad(err, x->name, "photo %llu: %s", (ull)k, problem);
    *next_text = off + id_len + author_len + 2;
    return GEOLOC_OK;
}

/* Photos must lie in their shard, back to back, shard after shard. */
static geoloc_status check_layout(geoloc_shard_index *x, geoloc_error *err) {
    uint64_t k = 0, next_text = 0;
    for (uint32_t s = 0; s < x->n_shards; s++) {
        const uint8_t *t = x->table + (uint64_t)s * INDEX_TABLE_ENTRY_SIZE;
        uint64_t bytes = get64(t + IT_BYTES), count = get64(t + IT_PHOTOS);
        uint64_t end = SHARD_HEADER_SIZE;
        if (count == 0 || count > x->n_photos - k)
            return bad(err, x->name, "shard %u: %llu photos, but %llu remain in the index", s,
                       (ull)count, (ull)(x->n_photos - k));
        if (bytes < SHARD_HEADER_SIZE)
            return bad(err, x->name, "shard %u: %llu bytes, less than its header", s, (ull)bytes);
        for (uint64_t c = 0; c < count; c++, k++) {
            const uint8_t *r = x->records + k * INDEX_RECORD_SIZE;
            uint64_t off = get64(r + IR_OFFSET);
            uint32_t size = get32(r + IR_SIZE);
            if (get32(r + IR_SHARD) != s)
                return bad(err, x->name, "photo %llu: in shard %u, expected %u", (ull)k,
                           get32(r + IR_SHARD), s);
            if (off != end)
                return bad(err, x->name, "photo %llu: at offset %llu of shard %u, expected %llu",
                           (ull)k, (ull)off, s, (ull)end);
            if (size == 0 || size > bytes - end)
                return bad(err, x->name, "photo %llu: %u bytes at offset %llu overrun shard %u "
                           "(%llu bytes)", (ull)k, size, (ull)off, s, (ull)bytes);
            end += size;
            geoloc_status st = check_record(x, k, &next_text, err);
            if (st != GEOLOC_OK) return st;
        }
        if (end != bytes)
            return bad(err, x->name, "shard %u: %llu bytes, its photos end at %llu", s,
                       (ull)bytes, (ull)end);
        x->total_bytes += bytes;
    }
    if (k != x->n_photos)
        return bad(err, x->name, "the shards hold %llu of %llu photos", (ull)k, (ull)x->n_photos);
    if (next_text != x->text_size)
        return bad(err, x->name, "text area of %llu bytes, strings end at %llu",
                   (ull)x->text_size, (ull)next_text);
    return GEOLOC_OK;
}

static geoloc_status validate(geoloc_shard_index *x, geoloc_error *err) {
    geoloc_status st = check_header(x, err);
    return st != GEOLOC_OK ? st : check_layout(x, err);
}

geoloc_status geoloc_shard_index_from_buffer(const uint8_t *data, size_t size, const char *name,
                                             geoloc_shard_index **out, geoloc_error *err) {
    *out = NULL;
    geoloc_shard_index *x = calloc(1, sizeof *x);
    if (!x || !(x->name = strdup(name ? name : "(index)"))) {
        free(x);
        return error_set(err, GEOLOC_E_NOMEM, "%s: out of memory", name ? name : "(index)");
    }
    x->data = data;
    x->size = size;
    geoloc_status st = validate(x, err);
    if (st != GEOLOC_OK) {
        geoloc_shard_index_close(x);
        return st;
    }
    *out = x;
    return GEOLOC_OK;
}

geoloc_status geoloc_shard_index_open(const char *dir, geoloc_shard_index **out,
                                      geoloc_error *err) {
    *out = NULL;
    char path[4096];
    if (snprintf(path, sizeof path, "%s/%s", dir, INDEX_FILE_NAME) >= (int)sizeof path)
        return error_set(err, GEOLOC_E_ARG, "%s: path too long", dir);
    const void *map;
    size_t size;
    geoloc_status s = mapped_file_open(path, &map, &size, err);
    if (s != GEOLOC_OK) return s;
    if (size < INDEX_HEADER_SIZE) {
        mapped_file_close(map, size);
        return bad(err, path, "%llu bytes, shorter than the %u-byte header", (ull)size,
                   INDEX_HEADER_SIZE);
    }
    s = geoloc_shard_index_from_buffer(map, size, path, out, err);
    if (s != GEOLOC_OK) {
        mapped_file_close(map, size);
        return s;
    }
    (*out)->mapped = 1;
    return GEOLOC_OK;
}

void geoloc_shard_index_close(geoloc_shard_index *x) {
    if (!x) return;
    if (x->mapped) mapped_file_close(x->data, x->size);
    free(x->name);
    free(x);
}

void geoloc_shard_index_info(const geoloc_shard_index *x, geoloc_shard_info *out) {
    *out = (geoloc_shard_info){SHARD_VERSION, x->n_photos,   x->n_shards,   x->set_id,
                               x->columns,    x->shorter_side, (int)x->quality, x->total_bytes};
}

void geoloc_shard_index_entry(const geoloc_shard_index *x, size_t k, geoloc_shard_entry *out) {
    const uint8_t *r = x->records + (uint64_t)k * INDEX_RECORD_SIZE;
    uint64_t off = get64(r + IR_TEXT);
    out->id = x->text + off;
    out->author = x->text + off + get16(r + IR_ID_LEN) + 1;
    out->lat = get_f64(r + IR_LAT);
    out->lng = get_f64(r + IR_LNG);
    for (int c = 0; c < 3; c++) out->label[c] = (int16_t)get16(r + IR_LABELS + 2 * c);
    out->shard = get32(r + IR_SHARD);
    out->offset = get64(r + IR_OFFSET);
    out->size = get32(r + IR_SIZE);
    out->crc32c = get32(r + IR_CRC);
    out->width = (int)get32(r + IR_WIDTH);
    out->height = (int)get32(r + IR_HEIGHT);
}
