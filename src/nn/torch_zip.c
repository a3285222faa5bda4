/* The zip container of torch.save files: the end of central directory (zip64
 * too), the central directory and each entry's local header, for stored
 * (uncompressed) entries as PyTorch writes them. */
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "nn/torch_internal.h"

#define SIG_EOCD 0x06054b50u
#define SIG_EOCD64 0x06064b50u
#define SIG_LOC64 0x07064b50u
#define SIG_CENTRAL 0x02014b50u
#define SIG_LOCAL 0x04034b50u
#define MAX_ENTRIES (1u << 20)

static uint16_t rd16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }
static uint32_t rd32(const uint8_t *p) { return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24; }
static uint64_t rd64(const uint8_t *p) { return rd32(p) | (uint64_t)rd32(p + 4) << 32; }

/* The zip64 end of central directory (located just before the classic one at eocd):
 * fills *count, *cd_size, *cd_offset. */
static geoloc_status read_eocd64(const uint8_t *data, size_t size, size_t eocd, const char *file,
                                 uint64_t *count, uint64_t *cd_size, uint64_t *cd_offset,
                                 geoloc_error *err) {
    if (eocd < 20 || rd32(data + eocd - 20) != SIG_LOC64)
        return error_set(err, GEOLOC_E_PARSE, "%s: zip: the end of central directory at byte %zu "
                         "needs a zip64 record, which is missing", file, eocd);
    uint64_t at = rd64(data + eocd - 12);
    if (size < 56 || at > size - 56 || at + 56 > eocd - 20 || rd32(data + at) != SIG_EOCD64)
        return error_set(err, GEOLOC_E_PARSE, "%s: zip: bad zip64 end of central directory offset %llu",
                         file, (unsigned long long)at);
    *count = rd64(data + at + 32);
    *cd_size = rd64(data + at + 40);
    *cd_offset = rd64(data + at + 48);
    return GEOLOC_OK;
}

/* Reads the zip64 extra field of a central entry: the values that are 0xffffffff. */
static int zip64_extra(const uint8_t *x, size_t len, uint64_t *usize, uint64_t *csize, uint64_t *offset) {
    while (len >= 4) {
        uint16_t id = rd16(x), n = rd16(x + 2);
        if ((size_t)n + 4 > len) return -1;
        if (id == 1) {
            const uint8_t *p = x + 4, *end = x + 4 + n;
            uint64_t *want[3] = {usize, csize, offset};
            for (int k = 0; k < 3; k++) {
                if (*want[k] != 0xffffffffu) continue;
                if (end - p < 8) return -1;
                *want[k] = rd64(p);
                p += 8;
            }
            return 0;
        }
        x += 4 + n;
        len -= 4 + (size_t)n;
    }
    return 0;
}

/* Fills e from the central entry at c (fixed part checked by the caller). */
static geoloc_status read_entry(const uint8_t *data, size_t size, const uint8_t *c, size_t at,
                                const char *file, tzip_entry *e, geoloc_error *err) {
    uint16_t flags = rd16(c + 8), method = rd16(c + 10), name_len = rd16(c + 28), extra_len = rd16(c + 30);
    uint64_t csize = rd32(c + 20), usize = rd32(c + 24), local = rd32(c + 42);
    e->name = (const char *)c + 46;
    e->name_len = name_len;
    e->crc = rd32(c + 16);
    int nl = name_len > 200 ? 200 : name_len;
    if (zip64_extra(c + 46 + name_len, extra_len, &usize, &csize, &local) != 0)
        return error_set(err, GEOLOC_E_PARSE, "%s: zip entry %.*s (central directory byte %zu): bad zip64 field",
                         file, nl, e->name, at);
    if (flags & 1)
        return error_set(err, GEOLOC_E_PARSE, "%s: zip entry %.*s is encrypted", file, nl, e->name);
    if (method != 0)
        return error_set(err, GEOLOC_E_PARSE, "%s: zip entry %.*s is compressed (method %u): only stored "
                         "entries are read, as torch.save writes them (re-save the checkpoint with torch.save)",
                         file, nl, e->name, method);
    if (csize != usize)
        return error_set(err, GEOLOC_E_PARSE, "%s: zip entry %.*s: stored with sizes %llu and %llu",
                         file, nl, e->name, (unsigned long long)csize, (unsigned long long)usize);
    if (local > size || size - local < 30 || rd32(data + local) != SIG_LOCAL)
        return error_set(err, GEOLOC_E_PARSE, "%s: zip entry %.*s: no local header at byte %llu",
                         file, nl, e->name, (unsigned long long)local);
    uint64_t begin = local + 30 + (uint64_t)rd16(data + local + 26) + rd16(data + local + 28);
    if (begin > size || size - begin < usize)
        return error_set(err, GEOLOC_E_PARSE, "%s: zip entry %.*s: its %llu bytes at byte %llu run past "
                         "the end of the file (%zu bytes): truncated?", file, nl, e->name,
                         (unsigned long long)usize, (unsigned long long)begin, size);
    e->data = data + begin;
    e->size = usize;
    e->file_offset = begin;
    return GEOLOC_OK;
}

geoloc_status tzip_open(const uint8_t *data, size_t size, const char *file, tzip *z, geoloc_error *err) {
    memset(z, 0, sizeof *z);
    if (size < 22)
        return error_set(err, GEOLOC_E_PARSE, "%s: %zu bytes: not a zip file (truncated?)", file, size);
    size_t eocd = size - 22, stop = size > 22 + 65535 ? size - 22 - 65535 : 0;
    while (rd32(data + eocd) != SIG_EOCD) {
        if (eocd == stop)
            return error_set(err, GEOLOC_E_PARSE, "%s: no zip end of central directory: not a zip file, "
                             "or truncated%s", file, size >= 2 && data[0] == 0x80 && data[1] <= 5
                             ? " (this looks like torch.save's legacy format of PyTorch < 1.6: "
                               "re-save it with a newer torch)" : "");
        eocd--;
    }
    uint64_t count = rd16(data + eocd + 10), cd_size = rd32(data + eocd + 12), cd_offset = rd32(data + eocd + 16);
    geoloc_status s = GEOLOC_OK;
    if (count == 0xffff || cd_size == 0xffffffffu || cd_offset == 0xffffffffu)
        s = read_eocd64(data, size, eocd, file, &count, &cd_size, &cd_offset, err);
    if (s != GEOLOC_OK) return s;
    if (cd_offset > eocd || cd_size > eocd - cd_offset)
        return error_set(err, GEOLOC_E_PARSE, "%s: zip central directory (%llu bytes at byte %llu) "
                         "outside the file", file, (unsigned long long)cd_size, (unsigned long long)cd_offset);
    if (count == 0 || count > MAX_ENTRIES || count > cd_size / 46)
        return error_set(err, GEOLOC_E_PARSE, "%s: zip: %llu entries in a %llu-byte central directory",
                         file, (unsigned long long)count, (unsigned long long)cd_size);
    if (!(z->entries = calloc((size_t)count, sizeof *z->entries)))
        return error_set(err, GEOLOC_E_NOMEM, "%s: out of memory", file);
    size_t at = (size_t)cd_offset, end = (size_t)(cd_offset + cd_size);
    for (uint64_t k = 0; k < count && s == GEOLOC_OK; k++) {
        const uint8_t *c = data + at;
        if (end - at < 46 || rd32(c) != SIG_CENTRAL) {
            s = error_set(err, GEOLOC_E_PARSE, "%s: zip central directory entry %llu at byte %zu: bad header",
                          file, (unsigned long long)k, at);
            break;
        }
        size_t len = 46 + (size_t)rd16(c + 28) + rd16(c + 30) + rd16(c + 32);
        if (end - at < len) {
            s = error_set(err, GEOLOC_E_PARSE, "%s: zip central directory entry %llu at byte %zu runs past "
                          "its end", file, (unsigned long long)k, at);
            break;
        }
        s = read_entry(data, size, c, at, file, &z->entries[z->n], err);
        if (s == GEOLOC_OK) z->n++;
        at += len;
    }
    if (s != GEOLOC_OK) tzip_free(z);
    return s;
}

tzip_entry *tzip_find(const tzip *z, const char *name) {
    size_t len = strlen(name);
    for (size_t k = 0; k < z->n; k++)
        if (z->entries[k].name_len == len && !memcmp(z->entries[k].name, name, len)) return &z->entries[k];
    return NULL;
}

uint32_t tzip_crc32(const uint8_t *p, uint64_t n) {
    uint32_t table[256];
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++) c = c & 1 ? 0xedb88320u ^ (c >> 1) : c >> 1;
        table[i] = c;
    }
    uint32_t c = 0xffffffffu;
    for (uint64_t i = 0; i < n; i++) c = table[(c ^ p[i]) & 0xff] ^ (c >> 8);
    return c ^ 0xffffffffu;
}

geoloc_status tzip_check_crc(tzip_entry *e, const char *file, geoloc_error *err) {
    if (e->crc_checked) return GEOLOC_OK;
    if (tzip_crc32(e->data, e->size) != e->crc)
        return error_set(err, GEOLOC_E_PARSE, "%s: zip entry %.*s (%llu bytes at byte %llu): CRC-32 mismatch "
                         "(file damaged)", file, e->name_len > 200 ? 200 : (int)e->name_len, e->name,
                         (unsigned long long)e->size, (unsigned long long)e->file_offset);
    e->crc_checked = 1;
    return GEOLOC_OK;
}

void tzip_free(tzip *z) {
    free(z->entries);
    memset(z, 0, sizeof *z);
}
