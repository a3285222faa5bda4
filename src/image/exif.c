/* geoloc_photo_meta_read: a photo's size (from its image header), EXIF
 * orientation, GPS position, altitude and times, read with libexif.
 *
 * Values follow exiftool's reading of the same tags:
 * - Orientation: tag 0x0112 of IFD0, else of IFD1 (the thumbnail's: what
 *   exiftool reports when IFD0 has none); values outside 1-8 count as absent.
 * - GPSLatitude/GPSLongitude: 1-3 rationals d [m [s]], degrees =
 *   d + m/60 + s/3600, negated when GPSLatitudeRef/GPSLongitudeRef starts
 *   with 'S'/'W' (a missing reference counts as N/E). A zero denominator in
 *   any used component (exiftool: "undef"/"inf"), a non-finite result,
 *   |lat| > 90 or |lng| > 180 leaves has_gps 0.
 * - GPSAltitude, negated when GPSAltitudeRef is 1 (below sea level).
 * - GPSDateStamp + GPSTimeStamp as "YYYY-MM-DDTHH:MM:SSZ" (seconds
 *   truncated); an impossible date such as "0000:00:00" leaves it unset.
 * - DateTimeOriginal (EXIF IFD, else IFD0) as written; the capture time
 *   parsed from it, else from IFD0's DateTime (geoloc_datetime_parse).
 * - FLIR thermal camera JPEGs keep their GPS in the FLIR APP1 record rather
 *   than in EXIF; it is used when EXIF has no position (see flir.c).
 *
 * libexif only parses an EXIF block that starts with "Exif\0\0"; PNG eXIf
 * and WebP EXIF chunks hold the bare TIFF structure (some WebP writers add
 * the "Exif\0\0" anyway), so the block is checked for a TIFF header here and
 * given to libexif behind a "Exif\0\0" prefix. libexif's spec "fixing"
 * (which would add default tags) is switched off so only what the file
 * holds is reported.
 *
 * HEIF (HEIC) photos: libheif finds the Exif item (heif.c), read here like
 * the others; width/height are the size as displayed (libheif applies the
 * container's irot/imir rotation and mirroring) and the orientation is 1,
 * whatever an EXIF Orientation tag in it says (HEIF makes it informative:
 * applying it too would rotate twice). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libexif/exif-data.h>

#include "core/error.h"
#include "geoloc/exif.h"
#include "image/image_internal.h"
#include "io/regular_file.h"

/* libexif reads at most 64 KiB of EXIF (a JPEG APP1 segment); copying more
 * of a PNG/WebP block would only cost time. */
#define EXIF_COPY_MAX (64u << 10)

/* The TIFF structure inside an EXIF payload, or NULL. */
static const uint8_t *find_tiff(const uint8_t *exif, size_t size, size_t *tiff_size) {
    if (!exif) return NULL;
    if (size >= 6 && memcmp(exif, "Exif\0", 5) == 0) {
        exif += 6;
        size -= 6;
    }
    if (size < 8) return NULL;
    if (memcmp(exif, "II*\0", 4) != 0 && memcmp(exif, "MM\0*", 4) != 0) return NULL;
    *tiff_size = size;
    return exif;
}

/* Parses an EXIF payload with libexif; NULL when absent or unreadable. */
static ExifData *exif_load(const uint8_t *exif, size_t size) {
    size_t n;
    const uint8_t *tiff = find_tiff(exif, size, &n);
    if (!tiff) return NULL;
    if (n > EXIF_COPY_MAX) n = EXIF_COPY_MAX;
    uint8_t *buf = malloc(n + 6);
    if (!buf) return NULL;
    memcpy(buf, "Exif\0\0", 6);
    memcpy(buf + 6, tiff, n);
    ExifData *ed = exif_data_new();
    if (ed) {
        exif_data_unset_option(ed, EXIF_DATA_OPTION_FOLLOW_SPECIFICATION);
        exif_data_load_data(ed, buf, (unsigned int)(n + 6));
    }
    free(buf);
    return ed;
}

static double get_float(const unsigned char *b, ExifByteOrder o, int is_double) {
    unsigned char t[8];
    size_t n = is_double ? 8 : 4;
    int little_host = 1;
    little_host = *(unsigned char *)&little_host == 1;
    int swap = (o == EXIF_BYTE_ORDER_INTEL) != little_host;
    for (size_t k = 0; k < n; k++) t[k] = b[swap ? n - 1 - k : k];
    if (is_double) {
        double d;
        memcpy(&d, t, 8);
        return d;
    }
    float f;
    memcpy(&f, t, 4);
    return f;
}

/* Component k of a numeric entry as a double: 0, or -1 when absent, of a
 * non-numeric format, short of data or with a zero denominator. */
static int entry_number(const ExifEntry *e, ExifByteOrder o, unsigned long k, double *out) {
    if (!e || !e->data || k >= e->components) return -1;
    size_t fs = exif_format_get_size(e->format);
    if (fs == 0 || (k + 1) * fs > e->size) return -1;
    const unsigned char *b = e->data + k * fs;
    switch (e->format) {
    case EXIF_FORMAT_RATIONAL: {
        ExifRational r = exif_get_rational(b, o);
        if (r.denominator == 0) return -1;
        *out = (double)r.numerator / (double)r.denominator;
        return 0;
    }
    case EXIF_FORMAT_SRATIONAL: {
        ExifSRational r = exif_get_srational(b, o);
        if (r.denominator == 0) return -1;
        *out = (double)r.numerator / (double)r.denominator;
        return 0;
    }
    case EXIF_FORMAT_BYTE: *out = b[0]; return 0;
    case EXIF_FORMAT_SBYTE: *out = (signed char)b[0]; return 0;
    case EXIF_FORMAT_SHORT: *out = exif_get_short(b, o); return 0;
    case EXIF_FORMAT_SSHORT: *out = exif_get_sshort(b, o); return 0;
    case EXIF_FORMAT_LONG: *out = exif_get_long(b, o); return 0;
    case EXIF_FORMAT_SLONG: *out = exif_get_slong(b, o); return 0;
    case EXIF_FORMAT_FLOAT: *out = get_float(b, o, 0); return 0;
    case EXIF_FORMAT_DOUBLE: *out = get_float(b, o, 1); return 0;
    default: return -1;
    }
}

/* An ASCII (or UNDEFINED) entry as a C string without trailing NULs and
 * blanks; non-printable bytes become '?'. 0 when absent or empty. */
static int entry_text(const ExifEntry *e, char *out, size_t out_size) {
    out[0] = '\0';
    if (!e || !e->data || (e->format != EXIF_FORMAT_ASCII && e->format != EXIF_FORMAT_UNDEFINED))
        return 0;
    size_t n = e->size < e->components ? e->size : e->components;
    const unsigned char *s = e->data;
    size_t len = 0;
    while (len < n && s[len] != '\0') len++;
    while (len > 0 && s[len - 1] == ' ') len--;
    if (len >= out_size) len = out_size - 1;
    for (size_t k = 0; k < len; k++) out[k] = (s[k] >= 0x20 && s[k] < 0x7F) ? (char)s[k] : '?';
    out[len] = '\0';
    return len > 0;
}

static ExifEntry *entry(ExifData *ed, ExifIfd ifd, ExifTag tag) {
    return ed->ifd[ifd] ? exif_content_get_entry(ed->ifd[ifd], tag) : NULL;
}

/* d [m [s]] of a GPS coordinate in degrees: 0, or -1 (absent, bad). */
static int gps_degrees(const ExifEntry *e, ExifByteOrder o, double *out) {
    if (!e || e->components < 1) return -1;
    static const double unit[3] = {1.0, 60.0, 3600.0};
    double deg = 0.0;
    unsigned long n = e->components < 3 ? e->components : 3;
    for (unsigned long k = 0; k < n; k++) {
        double v;
        if (entry_number(e, o, k, &v) != 0) return -1;
        deg += v / unit[k];
    }
    if (!isfinite(deg)) return -1;
    *out = deg;
    return 0;
}

/* 1 when the first letter of a GPS reference entry is `negative` (S or W). */
static int ref_is(const ExifEntry *e, char negative) {
    char ref[8];
    if (!entry_text(e, ref, sizeof ref)) return 0;
    return ref[0] == negative || ref[0] == negative + ('a' - 'A');
}

static void read_gps(ExifData *ed, ExifByteOrder o, geoloc_photo_meta *m) {
    double lat, lng;
    if (gps_degrees(entry(ed, EXIF_IFD_GPS, EXIF_TAG_GPS_LATITUDE), o, &lat) == 0 &&
        gps_degrees(entry(ed, EXIF_IFD_GPS, EXIF_TAG_GPS_LONGITUDE), o, &lng) == 0) {
        if (ref_is(entry(ed, EXIF_IFD_GPS, EXIF_TAG_GPS_LATITUDE_REF), 'S')) lat = -lat;
        if (ref_is(entry(ed, EXIF_IFD_GPS, EXIF_TAG_GPS_LONGITUDE_REF), 'W')) lng = -lng;
        if (fabs(lat) <= 90.0 && fabs(lng) <= 180.0) {
            m->has_gps = 1;
            m->lat = lat;
            m->lng = lng;
        }
    }

    double alt, ref = 0.0;
    if (entry_number(entry(ed, EXIF_IFD_GPS, EXIF_TAG_GPS_ALTITUDE), o, 0, &alt) == 0 &&
        isfinite(alt)) {
        (void)entry_number(entry(ed, EXIF_IFD_GPS, EXIF_TAG_GPS_ALTITUDE_REF), o, 0, &ref);
        m->has_altitude = 1;
        m->altitude_m = ref == 1.0 ? -alt : alt;
    }

    char date[16];
    double hms[3];
    ExifEntry *t = entry(ed, EXIF_IFD_GPS, EXIF_TAG_GPS_TIME_STAMP);
    int y, mo, d;
    if (entry_text(entry(ed, EXIF_IFD_GPS, EXIF_TAG_GPS_DATE_STAMP), date, sizeof date) &&
        strlen(date) == 10 && date[4] == ':' && date[7] == ':' &&
        sscanf(date, "%4d:%2d:%2d", &y, &mo, &d) == 3 && y >= 1 && mo >= 1 && mo <= 12 &&
        d >= 1 && d <= 31 && t && t->components >= 3 && entry_number(t, o, 0, &hms[0]) == 0 &&
        entry_number(t, o, 1, &hms[1]) == 0 && entry_number(t, o, 2, &hms[2]) == 0 &&
        hms[0] >= 0 && hms[0] < 24 && hms[1] >= 0 && hms[1] < 60 && hms[2] >= 0 && hms[2] < 61) {
        snprintf(m->gps_time, sizeof m->gps_time, "%04d-%02d-%02dT%02d:%02d:%02dZ", y, mo, d,
                 (int)hms[0], (int)hms[1], (int)hms[2]);
        m->has_gps_time = 1;
    }
}

/* Orientation: 1-8, or 0 when absent or invalid. From IFD0, else from IFD1
 * (the thumbnail's, which cameras write like the main image's; some, e.g.
 * the Nikon D5000, only write that one, and exiftool reports it). */
static int read_orientation(ExifData *ed, ExifByteOrder o) {
    double v;
    if (entry_number(entry(ed, EXIF_IFD_0, EXIF_TAG_ORIENTATION), o, 0, &v) != 0 &&
        entry_number(entry(ed, EXIF_IFD_1, EXIF_TAG_ORIENTATION), o, 0, &v) != 0)
        return 0;
    return v >= 1 && v <= 8 ? (int)v : 0;
}

int image_exif_orientation(const uint8_t *exif, size_t size) {
    ExifData *ed = exif_load(exif, size);
    if (!ed) return 1;
    int orientation = read_orientation(ed, exif_data_get_byte_order(ed));
    exif_data_unref(ed);
    return orientation ? orientation : 1;
}

geoloc_status geoloc_photo_meta_read(const uint8_t *data, size_t size, const char *name,
                                     geoloc_photo_meta *out, geoloc_error *err) {
    if (!out) return error_set(err, GEOLOC_E_ARG, "%s: no output", name ? name : "(image)");
    memset(out, 0, sizeof *out);
    out->orientation = 1;
    image_probe_info info;
    geoloc_status st = image_probe(data, size, name, &info, err);
    if (st != GEOLOC_OK) return st;
    out->width = info.width;
    out->height = info.height;

    ExifData *ed = exif_load(info.exif, info.exif_size);
    image_probe_release(&info);
    if (ed) {
        ExifByteOrder o = exif_data_get_byte_order(ed);
        /* HEIF: the size is as displayed, the container's rotation applied;
         * an EXIF orientation there is informative and never applied */
        int orientation = info.format == GEOLOC_FORMAT_HEIF ? 0 : read_orientation(ed, o);
        if (orientation) {
            out->orientation = orientation;
            out->has_orientation = 1;
        }
        read_gps(ed, o, out);
        if (entry_text(entry(ed, EXIF_IFD_EXIF, EXIF_TAG_DATE_TIME_ORIGINAL), out->datetime,
                       sizeof out->datetime) ||
            entry_text(entry(ed, EXIF_IFD_0, EXIF_TAG_DATE_TIME_ORIGINAL), out->datetime,
                       sizeof out->datetime))
            out->has_datetime = 1;
        char taken[32];
        const char *time_text = out->has_datetime ? out->datetime
                                : entry_text(entry(ed, EXIF_IFD_0, EXIF_TAG_DATE_TIME), taken, sizeof taken) ? taken
                                                                                                        : NULL;
        out->has_time = time_text && geoloc_datetime_parse(time_text, &out->time) == 0;
        exif_data_unref(ed);
    }

    if (!out->has_gps && info.format == GEOLOC_FORMAT_JPEG) {
        double lat, lng, alt;
        int has_alt = 0;
        if (image_flir_gps(data, size, &lat, &lng, &alt, &has_alt)) {
            out->has_gps = 1;
            out->lat = lat;
            out->lng = lng;
            if (has_alt && !out->has_altitude) {
                out->has_altitude = 1;
                out->altitude_m = alt;
            }
        }
    }
    return GEOLOC_OK;
}

geoloc_status geoloc_photo_meta_load(const char *path, geoloc_photo_meta *out, geoloc_error *err) {
    if (!path || !out)
        return error_set(err, GEOLOC_E_ARG, "geoloc_photo_meta_load: no path or output");
    memset(out, 0, sizeof *out);
    uint8_t *data;
    size_t size;
    geoloc_status st = regular_file_read(path, IMAGE_DEFAULT_MAX_FILE_BYTES,
                                         "the photo size limit", &data, &size, err);
    if (st != GEOLOC_OK) return st;
    st = geoloc_photo_meta_read(data, size, path, out, err);
    free(data);
    return st;
}
