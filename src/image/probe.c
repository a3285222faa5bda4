/* Container structure of JPEG, PNG and WebP files: the format from the
 * leading bytes, the stored pixel size from the image header and where the
 * EXIF block is, without decoding any pixels. Every read is bounds-checked
 * against the input; a truncated container yields what was readable. HEIF
 * is recognised here from its ftyp box; its boxes are read by libheif
 * (heif.c). */
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "image/image_internal.h"

static uint32_t be16(const uint8_t *p) { return (uint32_t)p[0] << 8 | p[1]; }
static uint32_t be32(const uint8_t *p) {
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}
static uint32_t le16(const uint8_t *p) { return (uint32_t)p[1] << 8 | p[0]; }
static uint32_t le24(const uint8_t *p) { return (uint32_t)p[2] << 16 | (uint32_t)p[1] << 8 | p[0]; }
static uint32_t le32(const uint8_t *p) { return le24(p) | (uint32_t)p[3] << 24; }

static const uint8_t PNG_SIGNATURE[8] = {0x89, 'P', 'N', 'G', 0x0D, 0x0A, 0x1A, 0x0A};

/* Brands of still-image HEIF files (HEVC, generic image, AV1). */
static int heif_brand(const uint8_t *b) {
    static const char brands[][5] = {"heic", "heix", "heim", "heis", "hevc",
                                     "hevx", "mif1", "msf1", "avif", "avis"};
    for (size_t k = 0; k < sizeof brands / sizeof brands[0]; k++)
        if (memcmp(b, brands[k], 4) == 0) return 1;
    return 0;
}

/* A leading ISO-BMFF ftyp box whose major or a compatible brand is HEIF's. */
static int is_heif(const uint8_t *data, size_t size) {
    if (size < 16 || memcmp(data + 4, "ftyp", 4) != 0) return 0;
    size_t box = be32(data);
    if (box < 16) return 0;
    if (box > size) box = size;
    if (heif_brand(data + 8)) return 1;
    for (size_t pos = 16; pos + 4 <= box; pos += 4) /* after major brand + minor version */
        if (heif_brand(data + pos)) return 1;
    return 0;
}

geoloc_image_format geoloc_image_detect(const uint8_t *data, size_t size) {
    if (!data) return GEOLOC_FORMAT_UNKNOWN;
    if (size >= 3 && data[0] == 0xFF && data[1] == 0xD8 && data[2] == 0xFF)
        return GEOLOC_FORMAT_JPEG;
    if (size >= 8 && memcmp(data, PNG_SIGNATURE, 8) == 0) return GEOLOC_FORMAT_PNG;
    if (size >= 12 && memcmp(data, "RIFF", 4) == 0 && memcmp(data + 8, "WEBP", 4) == 0)
        return GEOLOC_FORMAT_WEBP;
    if (is_heif(data, size)) return GEOLOC_FORMAT_HEIF;
    return GEOLOC_FORMAT_UNKNOWN;
}

/* ---- JPEG ---- */

void jpeg_walk_begin(jpeg_walker *w, const uint8_t *data, size_t size) {
    w->data = data;
    w->size = size;
    w->pos = size >= 2 ? 2 : size; /* after SOI */
}

int jpeg_walk_next(jpeg_walker *w, int *marker, const uint8_t **payload, size_t *len,
                   int *truncated) {
    const uint8_t *d = w->data;
    size_t n = w->size, p = w->pos;
    for (;;) {
        /* Like libjpeg, skip stray bytes before a marker, then fill bytes. */
        while (p < n && d[p] != 0xFF) p++;
        while (p < n && d[p] == 0xFF) p++;
        if (p >= n) break;
        int m = d[p++];
        if (m == 0xDA || m == 0xD9) break;                   /* SOS, EOI: header over */
        if (m == 0x00 || m == 0x01 || (m >= 0xD0 && m <= 0xD8)) continue; /* no length */
        if (n - p < 2) break;
        size_t seg = be16(d + p);
        if (seg < 2) { /* bogus length: like libjpeg, go on after the field */
            p += 2;
            continue;
        }
        size_t avail = n - p - 2, plen = seg - 2;
        *marker = m;
        *payload = d + p + 2;
        *truncated = plen > avail;
        *len = *truncated ? avail : plen;
        w->pos = *truncated ? n : p + seg;
        return 1;
    }
    w->pos = n;
    return 0;
}

/* SOF0-3, 5-7, 9-11, 13-15 (not DHT C4, JPG C8, DAC CC). */
static int is_sof(int m) { return m >= 0xC0 && m <= 0xCF && m != 0xC4 && m != 0xC8 && m != 0xCC; }

static geoloc_status probe_jpeg(const uint8_t *data, size_t size, const char *name,
                                image_probe_info *info, geoloc_error *err) {
    jpeg_walker w;
    jpeg_walk_begin(&w, data, size);
    int m, truncated, have_sof = 0;
    const uint8_t *p;
    size_t len;
    while (jpeg_walk_next(&w, &m, &p, &len, &truncated)) {
        if (is_sof(m) && !have_sof) {
            if (len < 5) break;
            info->height = (int)be16(p + 1);
            info->width = (int)be16(p + 3);
            have_sof = 1;
        } else if (m == 0xE1 && !info->exif && len >= 6 && memcmp(p, "Exif\0", 5) == 0) {
            info->exif = p;
            info->exif_size = len;
        }
    }
    if (!have_sof)
        return error_set(err, GEOLOC_E_PARSE, "%s: JPEG without a readable frame header (SOF)%s",
                         name, w.pos >= size ? " (truncated?)" : "");
    if (info->width == 0 || info->height == 0)
        return error_set(err, GEOLOC_E_PARSE, "%s: JPEG frame header gives an empty size %dx%d",
                         name, info->width, info->height);
    return GEOLOC_OK;
}

/* ---- PNG ---- */

static geoloc_status probe_png(const uint8_t *data, size_t size, const char *name,
                               image_probe_info *info, geoloc_error *err) {
    /* signature, IHDR length + type + 13 bytes of data */
    if (size < 8 + 8 + 13 || be32(data + 8) != 13 || memcmp(data + 12, "IHDR", 4) != 0)
        return error_set(err, GEOLOC_E_PARSE, "%s: PNG without a readable IHDR header%s", name,
                         size < 8 + 8 + 13 ? " (truncated)" : "");
    uint32_t w = be32(data + 16), h = be32(data + 20);
    if (w == 0 || h == 0 || w > 0x7FFFFFFFu || h > 0x7FFFFFFFu)
        return error_set(err, GEOLOC_E_PARSE, "%s: PNG header gives an invalid size %ux%u", name,
                         (unsigned)w, (unsigned)h);
    info->width = (int)w;
    info->height = (int)h;
    /* eXIf may come before or after the image data: walk every chunk. */
    size_t pos = 8;
    while (size - pos >= 8) {
        uint32_t clen = be32(data + pos);
        if (clen > 0x7FFFFFFFu) break;
        const uint8_t *type = data + pos + 4;
        size_t avail = size - pos - 8;
        if (memcmp(type, "eXIf", 4) == 0 && !info->exif) {
            info->exif = data + pos + 8;
            info->exif_size = clen < avail ? clen : avail;
        }
        if (memcmp(type, "IEND", 4) == 0 || avail < (size_t)clen + 4) break;
        pos += 12 + (size_t)clen;
    }
    return GEOLOC_OK;
}

/* ---- WebP ---- */

static geoloc_status probe_webp(const uint8_t *data, size_t size, const char *name,
                                image_probe_info *info, geoloc_error *err) {
    size_t pos = 12;
    int have_size = 0, first = 1;
    while (size - pos >= 8) {
        const uint8_t *fourcc = data + pos, *c = data + pos + 8;
        uint32_t clen = le32(data + pos + 4);
        size_t avail = size - pos - 8, n = clen < avail ? clen : avail;
        if (first) {
            /* The first chunk says which kind of WebP this is and its size.
             * Like libwebp, read a VP8/VP8L header from the bytes present
             * whatever the chunk's size field says. */
            if (memcmp(fourcc, "VP8 ", 4) == 0 && avail >= 10 && c[3] == 0x9D && c[4] == 0x01 &&
                c[5] == 0x2A) {
                info->width = (int)(le16(c + 6) & 0x3FFF);
                info->height = (int)(le16(c + 8) & 0x3FFF);
                have_size = 1;
            } else if (memcmp(fourcc, "VP8L", 4) == 0 && avail >= 5 && c[0] == 0x2F) {
                uint32_t bits = le32(c + 1);
                info->width = (int)(bits & 0x3FFF) + 1;
                info->height = (int)((bits >> 14) & 0x3FFF) + 1;
                have_size = 1;
            } else if (memcmp(fourcc, "VP8X", 4) == 0 && n >= 10) {
                info->width = (int)le24(c + 4) + 1;
                info->height = (int)le24(c + 7) + 1;
                have_size = 1;
            }
            first = 0;
            if (!have_size) break; /* maybe a raw bitstream, below */
        } else if (memcmp(fourcc, "EXIF", 4) == 0 && !info->exif) {
            info->exif = c;
            info->exif_size = n;
        }
        if (clen > avail) break;
        pos += 8 + (size_t)clen + (clen & 1);
        if (pos > size) break;
    }
    if (!have_size && size >= 12 + 5) {
        /* libwebp also takes a bare VP8 or VP8L bitstream right after
         * "WEBP" (no chunk header); so does this reader, to agree with it */
        const uint8_t *c = data + 12;
        if (size >= 12 + 10 && c[3] == 0x9D && c[4] == 0x01 && c[5] == 0x2A) {
            info->width = (int)(le16(c + 6) & 0x3FFF);
            info->height = (int)(le16(c + 8) & 0x3FFF);
            have_size = 1;
        } else if (c[0] == 0x2F) {
            uint32_t bits = le32(c + 1);
            info->width = (int)(bits & 0x3FFF) + 1;
            info->height = (int)((bits >> 14) & 0x3FFF) + 1;
            have_size = 1;
        }
    }
    if (!have_size || info->width == 0 || info->height == 0)
        return error_set(err, GEOLOC_E_PARSE, "%s: WebP without a readable VP8/VP8L/VP8X header%s",
                         name, have_size ? " (empty size)" : "");
    return GEOLOC_OK;
}

geoloc_status image_probe(const uint8_t *data, size_t size, const char *name,
                          image_probe_info *info, geoloc_error *err) {
    memset(info, 0, sizeof *info);
    if (!name) name = "(image)";
    if (!data && size) return error_set(err, GEOLOC_E_ARG, "%s: no data", name);
    info->format = geoloc_image_detect(data, size);
    switch (info->format) {
    case GEOLOC_FORMAT_JPEG: return probe_jpeg(data, size, name, info, err);
    case GEOLOC_FORMAT_PNG: return probe_png(data, size, name, info, err);
    case GEOLOC_FORMAT_WEBP: return probe_webp(data, size, name, info, err);
    case GEOLOC_FORMAT_HEIF: return image_heif_probe(data, size, name, info, err);
    case GEOLOC_FORMAT_UNKNOWN: break;
    }
    if (size == 0) return error_set(err, GEOLOC_E_PARSE, "%s: empty file (0 bytes)", name);
    return error_set(err, GEOLOC_E_PARSE,
                     "%s: not a JPEG, PNG, WebP or HEIF image (unrecognised first bytes)", name);
}

void image_probe_release(image_probe_info *info) {
    free(info->owned);
    info->owned = NULL;
    info->exif = NULL;
    info->exif_size = 0;
}
