/* GPS position of FLIR thermal camera JPEGs. FLIR cameras (and the FLIR ONE
 * phone attachment) write no EXIF GPS; their position is in the FLIR "FFF"
 * block, split over APP1 segments that start with "FLIR\0", 0x01, the
 * segment index and the last index. The block starts with
 *   "FFF\0", creator[16], u32 version (100-199, which gives the byte order),
 *   u32 directory offset, u32 directory entries,
 * and each 32-byte directory entry is
 *   u16 record type, u16 subtype, u32 version, u32 id, u32 offset, u32 length, ...
 * Record type 0x2b holds the GPS data:
 *   0x00 u32 GPSValid, 0x08 char[2] GPSLatitudeRef, 0x0a char[2] GPSLongitudeRef,
 *   0x10 double latitude, 0x18 double longitude, 0x20 float altitude,
 * in its own byte order (little-endian in the files seen, under a
 * big-endian header); GPSValid (1) tells which.
 *
 * The coordinates are reported as stored, without applying the N/S and E/W
 * letters: that is what exiftool reports (its GPSPosition from the FLIR
 * record) and so what this project's reference values hold. The one FLIR
 * sample (mx-flir-iphone-device.jpg) stores 118.25 with "W": the letter
 * suggests the photo was taken at -118.25 (Los Angeles), the number alone
 * says eastern China. Applying the letters would be the one-line change
 * below (negate when 'S'/'W'), at the price of disagreeing with exiftool. */
#include <math.h>
#include <string.h>

#include "image/image_internal.h"

#define FLIR_MAX_SEGMENTS 256
#define FLIR_GPS_RECORD 0x2B

/* The FFF block as a list of segment payloads (no copy). */
typedef struct {
    const uint8_t *part[FLIR_MAX_SEGMENTS];
    size_t len[FLIR_MAX_SEGMENTS];
    int n;
    size_t total;
} fff_block;

/* Copies n bytes at offset off of the block into dst: 0, or -1 if outside. */
static int fff_read(const fff_block *b, size_t off, size_t n, uint8_t *dst) {
    if (off > b->total || n > b->total - off) return -1;
    for (int k = 0; k < b->n && n > 0; k++) {
        if (off >= b->len[k]) {
            off -= b->len[k];
            continue;
        }
        size_t take = b->len[k] - off < n ? b->len[k] - off : n;
        memcpy(dst, b->part[k] + off, take);
        dst += take;
        n -= take;
        off = 0;
    }
    return n == 0 ? 0 : -1;
}

static uint32_t get_u32(const uint8_t *p, int big) {
    return big ? (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]
               : (uint32_t)p[3] << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[1] << 8 | p[0];
}
static uint32_t get_u16(const uint8_t *p, int big) {
    return big ? (uint32_t)p[0] << 8 | p[1] : (uint32_t)p[1] << 8 | p[0];
}
static uint64_t get_u64(const uint8_t *p, int big) {
    uint64_t hi = get_u32(p, big), lo = get_u32(p + 4, big);
    return big ? hi << 32 | lo : lo << 32 | hi;
}
static double get_double(const uint8_t *p, int big) {
    uint64_t bits = get_u64(p, big);
    double d;
    memcpy(&d, &bits, sizeof d);
    return d;
}
static float get_float(const uint8_t *p, int big) {
    uint32_t bits = get_u32(p, big);
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

/* Gathers the FLIR segments 0, 1, ..., last in file order. */
static int collect(const uint8_t *data, size_t size, fff_block *b) {
    jpeg_walker w;
    jpeg_walk_begin(&w, data, size);
    int m, truncated, last = -1;
    const uint8_t *p;
    size_t len;
    b->n = 0;
    b->total = 0;
    while (jpeg_walk_next(&w, &m, &p, &len, &truncated)) {
        if (m != 0xE1 || len < 8 || memcmp(p, "FLIR\0", 5) != 0) continue;
        int index = p[6];
        if (b->n == 0) last = p[7];
        if (index != b->n || p[7] != last || b->n >= FLIR_MAX_SEGMENTS) break;
        b->part[b->n] = p + 8;
        b->len[b->n] = len - 8;
        b->total += len - 8;
        b->n++;
        if (index == last || truncated) break;
    }
    return b->n > 0;
}

int image_flir_gps(const uint8_t *data, size_t size, double *lat, double *lng, double *alt,
                   int *has_alt) {
    *has_alt = 0;
    if (geoloc_image_detect(data, size) != GEOLOC_FORMAT_JPEG) return 0;
    fff_block b;
    if (!collect(data, size, &b)) return 0;
    uint8_t h[32];
    if (fff_read(&b, 0, sizeof h, h) != 0) return 0;
    if (memcmp(h, "FFF\0", 4) != 0 && memcmp(h, "AFF\0", 4) != 0) return 0;
    int big;
    if (get_u32(h + 0x14, 1) >= 100 && get_u32(h + 0x14, 1) < 200) big = 1;
    else if (get_u32(h + 0x14, 0) >= 100 && get_u32(h + 0x14, 0) < 200) big = 0;
    else return 0;
    uint32_t dir = get_u32(h + 0x18, big), entries = get_u32(h + 0x1C, big);
    if (entries > 4096) return 0;
    for (uint32_t k = 0; k < entries; k++) {
        uint8_t e[32];
        if (fff_read(&b, (size_t)dir + 32u * k, sizeof e, e) != 0) return 0;
        if (get_u16(e, big) != FLIR_GPS_RECORD) continue;
        uint32_t off = get_u32(e + 12, big), len = get_u32(e + 16, big);
        uint8_t g[0x24];
        if (len < sizeof g || fff_read(&b, off, sizeof g, g) != 0) return 0;
        /* GPSValid is 1 in the record's byte order. */
        int gbig;
        if (get_u32(g, big) == 1) gbig = big;
        else if (get_u32(g, !big) == 1) gbig = !big;
        else return 0;
        double la = get_double(g + 0x10, gbig), lo = get_double(g + 0x18, gbig);
        if (!isfinite(la) || !isfinite(lo) || fabs(la) > 90.0 || fabs(lo) > 180.0) return 0;
        *lat = la;
        *lng = lo;
        float a = get_float(g + 0x20, gbig);
        if (isfinite(a)) {
            *alt = a;
            *has_alt = 1;
        }
        return 1;
    }
    return 0;
}
