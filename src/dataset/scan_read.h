/* Reading one file's metadata for a folder scan: as little of the file as
 * its format allows. Internal API. */
#ifndef GEOLOC_DATASET_SCAN_READ_H
#define GEOLOC_DATASET_SCAN_READ_H

#include <stddef.h>
#include <stdint.h>

/* A reusable read buffer (free data when done). */
typedef struct scan_buffer {
    uint8_t *data;
    size_t cap;
} scan_buffer;

/* What one file holds: reason -1 and a position, or a geoloc_scan_reason. */
typedef struct scan_read_result {
    int reason;
    double lat, lng;
} scan_read_result;

/* Length of a JPEG's header (its marker segments through the start-of-scan
 * segment) if all of it lies within data[0..size), else 0. */
size_t scan_jpeg_header_length(const uint8_t *data, size_t size);

/* Reads `path` (named `name` in messages) and its EXIF GPS position; when
 * the file is skipped, detail gets the reason in words. */
scan_read_result scan_read_file(const char *path, const char *name, scan_buffer *buf,
                                char *detail, size_t detail_size);

#endif
