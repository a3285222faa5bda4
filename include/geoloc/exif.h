/* geoloc: what a photo's metadata says (EXIF via libexif): size,
 * orientation, GPS position, altitude and time. */
#ifndef GEOLOC_EXIF_H
#define GEOLOC_EXIF_H

#include <stddef.h>
#include <stdint.h>

#include "geoloc/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Metadata of one photo. Fields are valid when their has_ flag is set.
 *
 * width/height are the STORED pixel size from the image header (JPEG SOF,
 * PNG IHDR, WebP VP8/VP8L/VP8X), before any EXIF rotation: what exiftool
 * calls ImageWidth/ImageHeight. A photo with orientation 5-8 is displayed
 * (and decoded by geoloc_image_decode) as height x width. EXIF's own
 * ExifImageWidth/Height tags are not used: editors often leave them stale.
 * HEIF photos report the size as displayed (and decoded): libheif applies
 * the container's rotation/mirroring, so orientation is 1 for them. */
typedef struct geoloc_photo_meta {
    int width, height;       /* stored pixel size from the file's header */
    int orientation;         /* EXIF orientation 1-8 (1 when absent or invalid) */
    int has_orientation;     /* an Orientation tag with a value in 1-8 is present */
    int has_gps;             /* latitude/longitude present and valid */
    double lat, lng;         /* degrees, signed by the N/S and E/W references */
    int has_altitude;
    double altitude_m;       /* metres, negative below sea level */
    int has_gps_time;
    char gps_time[32];       /* "YYYY-MM-DDTHH:MM:SSZ" from GPSDateStamp/GPSTimeStamp */
    int has_datetime;
    char datetime[32];       /* DateTimeOriginal as written, "YYYY:MM:DD HH:MM:SS" */
    int has_time;            /* a valid capture time: DateTimeOriginal, else IFD0's DateTime */
    int64_t time;            /* that time, geoloc_datetime_parse's seconds (as written, no zone) */
} geoloc_photo_meta;

/* Reads the metadata of an encoded photo (JPEG, PNG, WebP or HEIF bytes). A file
 * without EXIF is fine (flags 0); GPS values that are out of range or have
 * a zero denominator leave has_gps 0. Fails only when the bytes are not a
 * readable image header. */
geoloc_status geoloc_photo_meta_read(const uint8_t *data, size_t size, const char *name,
                                     geoloc_photo_meta *out, geoloc_error *err);

/* Reads the metadata of the photo file `path` (at most 256 MiB). Anything
 * but a regular file (a FIFO, a directory, a device) is refused at once with
 * E_IO ("path: not a regular file (a FIFO)"), never waited on. */
geoloc_status geoloc_photo_meta_load(const char *path, geoloc_photo_meta *out, geoloc_error *err);

/* Parses a capture time, EXIF's "YYYY:MM:DD HH:MM:SS" or ISO 8601's
 * "YYYY-MM-DDTHH:MM:SS" ('T' or a space), into *seconds since 1970-01-01
 * 00:00:00 of the same clock (the time as written; no zone). 0, or -1 for
 * any other text or an impossible date or time ("0000:00:00 00:00:00"). */
int geoloc_datetime_parse(const char *text, int64_t *seconds);

#ifdef __cplusplus
}
#endif
#endif
