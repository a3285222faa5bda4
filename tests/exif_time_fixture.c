/* EXIF segments made with libexif (exif_data_save_data) and spliced into a
 * copy of a JPEG right after its SOI marker; also a command for the shell
 * tests when built with EXIF_TIME_FIXTURE_MAIN:
 *   exif_time_fixture IN.jpg OUT.jpg DATETIME|- [LAT LON] */
#include "exif_time_fixture.h"

#include <libexif/exif-data.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A new entry of `components` values of fmt in ifd (data zeroed). */
static ExifEntry *add_entry(ExifData *ed, ExifIfd ifd, ExifTag tag, ExifFormat fmt, unsigned long components) {
    ExifMem *mem = exif_mem_new_default();
    ExifEntry *e = exif_entry_new_mem(mem);
    e->size = exif_format_get_size(fmt) * (unsigned)components;
    e->data = exif_mem_alloc(mem, e->size);
    e->tag = tag;
    e->format = fmt;
    e->components = components;
    exif_content_add_entry(ed->ifd[ifd], e);
    exif_mem_unref(mem);
    exif_entry_unref(e);
    return e;
}

/* A GPS coordinate as degrees, minutes and seconds (1/10000) with its reference letter. */
static void add_coordinate(ExifData *ed, ExifTag ref_tag, ExifTag tag, double v, const char *refs) {
    ExifByteOrder o = exif_data_get_byte_order(ed);
    ExifEntry *ref = add_entry(ed, EXIF_IFD_GPS, ref_tag, EXIF_FORMAT_ASCII, 2);
    ref->data[0] = (unsigned char)refs[v < 0];
    ExifEntry *e = add_entry(ed, EXIF_IFD_GPS, tag, EXIF_FORMAT_RATIONAL, 3);
    double a = fabs(v);
    ExifRational dms[3] = {{(ExifLong)floor(a), 1}, {(ExifLong)floor(fmod(a * 60, 60)), 1},
                           {(ExifLong)llround(fmod(a * 3600, 60) * 10000), 10000}};
    for (int k = 0; k < 3; k++) exif_set_rational(e->data + 8 * k, o, dms[k]);
}

int exif_time_fixture_write(const char *src, const char *dst, const char *datetime, const double *latlon) {
    FILE *in = fopen(src, "rb");
    if (!in) {
        perror(src);
        return -1;
    }
    fseek(in, 0, SEEK_END);
    long size = ftell(in);
    rewind(in);
    unsigned char *jpeg = size > 2 ? malloc((size_t)size) : NULL;
    int ok = jpeg && fread(jpeg, 1, (size_t)size, in) == (size_t)size && jpeg[0] == 0xFF && jpeg[1] == 0xD8;
    fclose(in);
    if (!ok) {
        fprintf(stderr, "%s: not a JPEG\n", src);
        free(jpeg);
        return -1;
    }
    ExifData *ed = exif_data_new();
    exif_data_set_byte_order(ed, EXIF_BYTE_ORDER_INTEL);
    if (datetime) {
        ExifEntry *e = add_entry(ed, EXIF_IFD_EXIF, EXIF_TAG_DATE_TIME_ORIGINAL, EXIF_FORMAT_ASCII, 20);
        snprintf((char *)e->data, 20, "%s", datetime);
    }
    if (latlon) {
        add_coordinate(ed, EXIF_TAG_GPS_LATITUDE_REF, EXIF_TAG_GPS_LATITUDE, latlon[0], "NS");
        add_coordinate(ed, EXIF_TAG_GPS_LONGITUDE_REF, EXIF_TAG_GPS_LONGITUDE, latlon[1], "EW");
    }
    unsigned char *exif = NULL;
    unsigned int exif_size = 0;
    exif_data_save_data(ed, &exif, &exif_size);
    exif_data_unref(ed);
    FILE *out = exif && exif_size + 2 <= 0xFFFF ? fopen(dst, "wb") : NULL;
    unsigned char app1[4] = {0xFF, 0xE1, (unsigned char)((exif_size + 2) >> 8), (unsigned char)(exif_size + 2)};
    ok = out && fwrite(jpeg, 1, 2, out) == 2 && fwrite(app1, 1, 4, out) == 4 &&
         fwrite(exif, 1, exif_size, out) == exif_size &&
         fwrite(jpeg + 2, 1, (size_t)size - 2, out) == (size_t)size - 2;
    if (out && fclose(out) != 0) ok = 0;
    if (!ok) fprintf(stderr, "%s: cannot write the copy\n", dst);
    free(exif);
    free(jpeg);
    return ok ? 0 : -1;
}

#ifdef EXIF_TIME_FIXTURE_MAIN
int main(int argc, char **argv) {
    if (argc != 4 && argc != 6) {
        fprintf(stderr, "usage: exif_time_fixture IN.jpg OUT.jpg DATETIME|- [LAT LON]\n");
        return 2;
    }
    double latlon[2] = {argc == 6 ? atof(argv[4]) : 0, argc == 6 ? atof(argv[5]) : 0};
    return exif_time_fixture_write(argv[1], argv[2], strcmp(argv[3], "-") ? argv[3] : NULL,
                                   argc == 6 ? latlon : NULL) ? 1 : 0;
}
#endif
