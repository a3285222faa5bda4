/* Reading one file's metadata for a folder scan. A JPEG keeps its EXIF
 * block and frame header in the marker segments before the first scan, so
 * its first 64 KiB are usually enough; other formats (and JPEGs whose
 * header is longer, or that the metadata reader rejects from the head
 * alone) are read whole. */
#include "dataset/scan_read.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "geoloc/dataset.h"
#include "geoloc/exif.h"
#include "geoloc/image.h"
#include "io/regular_file.h"

#define HEAD_BYTES (64u * 1024)
#define MAX_FILE_BYTES ((uint64_t)256 << 20)

size_t scan_jpeg_header_length(const uint8_t *d, size_t size) {
    if (size < 4 || d[0] != 0xFF || d[1] != 0xD8) return 0;
    size_t pos = 2;
    for (;;) {
        if (pos >= size || d[pos] != 0xFF) return 0;
        while (pos < size && d[pos] == 0xFF) pos++; /* fill bytes */
        if (pos >= size) return 0;
        uint8_t m = d[pos++];
        if (m == 0x01 || (m >= 0xD0 && m <= 0xD8)) continue; /* no length */
        if (m == 0xD9 || pos + 2 > size) return 0;
        size_t len = (size_t)d[pos] << 8 | d[pos + 1];
        if (len < 2 || len > size - pos) return 0;
        pos += len;
        if (m == 0xDA) return pos; /* start of scan: the header is complete */
    }
}

static int reserve(scan_buffer *b, size_t n) {
    if (n <= b->cap) return 0;
    uint8_t *p = realloc(b->data, n);
    if (!p) return -1;
    b->data = p;
    b->cap = n;
    return 0;
}

/* Reads data[from, to) of fd; 0, or -1 with errno (EIO at an early end). */
static int read_range(int fd, uint8_t *data, size_t from, size_t to) {
    while (from < to) {
        ssize_t got = pread(fd, data + from, to - from, (off_t)from);
        if (got < 0 && errno == EINTR) continue;
        if (got <= 0) {
            if (got == 0) errno = EIO;
            return -1;
        }
        from += (size_t)got;
    }
    return 0;
}

static scan_read_result skip(int reason, char *detail, size_t size, const char *fmt,
                             const char *arg) {
    snprintf(detail, size, fmt, arg);
    return (scan_read_result){reason, 0, 0};
}

static scan_read_result read_open(int fd, const struct stat *st, const char *name,
                                  scan_buffer *buf, char *detail, size_t detail_size) {
    if (st->st_size == 0)
        return skip(GEOLOC_SCAN_NOT_IMAGE, detail, detail_size, "%sempty file", "");
    if ((uint64_t)st->st_size > MAX_FILE_BYTES)
        return skip(GEOLOC_SCAN_UNREADABLE, detail, detail_size, "%slarger than 256 MiB", "");
    size_t size = (size_t)st->st_size, have = size < HEAD_BYTES ? size : HEAD_BYTES;
    if (reserve(buf, have) != 0 || read_range(fd, buf->data, 0, have) != 0)
        return skip(GEOLOC_SCAN_UNREADABLE, detail, detail_size, "read error: %s",
                    strerror(errno));
    geoloc_image_format fmt = geoloc_image_detect(buf->data, have);
    if (fmt == GEOLOC_FORMAT_UNKNOWN)
        return skip(GEOLOC_SCAN_NOT_IMAGE, detail, detail_size,
                    "%snot a JPEG, PNG, WebP or HEIF file", "");
    size_t use = fmt == GEOLOC_FORMAT_JPEG ? scan_jpeg_header_length(buf->data, have) : 0;
    geoloc_photo_meta meta;
    geoloc_error err;
    geoloc_status st2 = GEOLOC_E_PARSE;
    if (use) st2 = geoloc_photo_meta_read(buf->data, use, name, &meta, &err);
    if (st2 != GEOLOC_OK) { /* the whole file */
        if (reserve(buf, size) != 0 || read_range(fd, buf->data, have, size) != 0)
            return skip(GEOLOC_SCAN_UNREADABLE, detail, detail_size, "read error: %s",
                        strerror(errno));
        st2 = geoloc_photo_meta_read(buf->data, size, name, &meta, &err);
    }
    if (st2 != GEOLOC_OK)
        return skip(GEOLOC_SCAN_UNREADABLE, detail, detail_size, "%s", err.message);
    if (!meta.has_gps)
        return skip(GEOLOC_SCAN_NO_GPS, detail, detail_size, "%sno EXIF GPS position", "");
    return (scan_read_result){-1, meta.lat, meta.lng};
}

scan_read_result scan_read_file(const char *path, const char *name, scan_buffer *buf,
                                char *detail, size_t detail_size) {
    /* never blocks: a FIFO put in place since the walk is refused at once */
    int fd;
    struct stat st;
    geoloc_error err;
    if (regular_file_open(path, &fd, &st, &err) != GEOLOC_OK) {
        if (st.st_mode != 0)
            return skip(GEOLOC_SCAN_SPECIAL, detail, detail_size, "not a regular file (%s)",
                        regular_file_kind(st.st_mode));
        int e = errno;
        int reason = e == EACCES || e == EPERM ? GEOLOC_SCAN_PERMISSION
                     : e == ELOOP              ? GEOLOC_SCAN_SYMLINK_LOOP
                                               : GEOLOC_SCAN_UNREADABLE;
        return skip(reason, detail, detail_size, "cannot open: %s", strerror(e));
    }
    scan_read_result r = read_open(fd, &st, name, buf, detail, detail_size);
    close(fd);
    return r;
}
