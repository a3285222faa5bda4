/* geoloc photo info: what the decoder and the metadata reader make of photo
 * files (format, stored and displayed size, EXIF orientation, GPS position,
 * altitude, times; optionally a timed decode). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli_photos.h"
#include "cli/cli_util.h"
#include "cli/commands.h"
#include "geoloc/exif.h"
#include "geoloc/io.h"
#include "geoloc/image.h"

#define CMD "geoloc photo info"
#define MAX_FILE_BYTES (256u << 20)

typedef struct {
    int json, decode;
} info_args;

static const cli_option INFO_OPTIONS[] = {
    CLI_OPTION("json", 0, CLI_FLAG, info_args, json, NULL,
               "one JSON array with an object per file; absent values are null,\n"
               "a file that cannot be read has an \"error\" member"),
    CLI_OPTION("decode", 0, CLI_FLAG, info_args, decode, NULL,
               "also decode the pixels and report the decoded size and time"),
    CLI_END};

static const cli_spec INFO_SPEC = {
    CMD, "FILE...", 1, -1,
    "For each JPEG, PNG, WebP or HEIF file (the format is found from the bytes, not\n"
    "the name): the stored pixel size from the image header, the EXIF orientation and\n"
    "the size the photo is displayed (and decoded) at, the GPS position (decimal\n"
    "degrees, negative south and west), altitude, GPS time (UTC) and\n"
    "DateTimeOriginal when the file has them.\n",
    INFO_OPTIONS,
    "Exit status: 0 when every file was read, 3 when some could not be (the others\n"
    "are still reported), 1 when none could be, 2 on a usage error.\n"};

static uint8_t *read_all(const char *path, size_t *size, char *why, size_t why_size) {
    uint8_t *data;
    geoloc_error err;
    if (geoloc_file_read(path, MAX_FILE_BYTES, "the photo size limit", &data, size, &err) !=
        GEOLOC_OK) {
        snprintf(why, why_size, "%s", err.message);
        return NULL;
    }
    return data;
}

static const char *format_name(geoloc_image_format f) {
    switch (f) {
    case GEOLOC_FORMAT_JPEG: return "JPEG";
    case GEOLOC_FORMAT_PNG: return "PNG";
    case GEOLOC_FORMAT_WEBP: return "WebP";
    case GEOLOC_FORMAT_HEIF: return "HEIF";
    default: return "unknown";
    }
}

typedef struct {
    int ok, decoded;
    char error[600];
    geoloc_image_format format;
    geoloc_photo_meta meta;
    int dec_w, dec_h;
    double dec_ms;
    int n_warnings; /* the decoder's, with the first texts */
    char warnings[GEOLOC_IMAGE_MAX_WARNINGS][GEOLOC_IMAGE_WARNING_SIZE];
} photo_report;

static void inspect(const char *path, int decode, photo_report *r) {
    memset(r, 0, sizeof *r);
    size_t size;
    uint8_t *data = read_all(path, &size, r->error, sizeof r->error);
    if (!data) return;
    r->format = geoloc_image_detect(data, size);
    geoloc_error err = {0};
    if (geoloc_photo_meta_read(data, size, path, &r->meta, &err) != GEOLOC_OK) {
        snprintf(r->error, sizeof r->error, "%s", err.message);
        free(data);
        return;
    }
    r->ok = 1;
    if (decode) {
        geoloc_image img;
        double t0 = cli_now_seconds();
        geoloc_status st = geoloc_image_decode(data, size, path, NULL, &img, &err);
        double t1 = cli_now_seconds();
        if (st == GEOLOC_OK) {
            r->decoded = 1;
            r->dec_w = img.width;
            r->dec_h = img.height;
            r->n_warnings = img.n_warnings;
            memcpy(r->warnings, img.warnings, sizeof r->warnings);
            r->dec_ms = 1e3 * (t1 - t0);
            geoloc_image_free(&img);
        } else {
            r->ok = 0;
            snprintf(r->error, sizeof r->error, "%s", err.message);
        }
    }
    free(data);
}

static void print_text(const char *path, const photo_report *r, int decode) {
    const geoloc_photo_meta *m = &r->meta;
    int swap = m->orientation >= 5;
    printf("%s: %s %dx%d", path, format_name(r->format), m->width, m->height);
    if (m->has_orientation) printf(", orientation %d", m->orientation);
    if (swap) printf(" (displayed %dx%d)", m->height, m->width);
    if (decode && r->decoded) printf(", decoded %dx%d in %.2f ms", r->dec_w, r->dec_h, r->dec_ms);
    printf("\n");
    if (m->has_gps) printf("  GPS %.7f, %.7f\n", m->lat, m->lng);
    if (m->has_altitude) printf("  altitude %.1f m\n", m->altitude_m);
    if (m->has_gps_time) printf("  GPS time %s\n", m->gps_time);
    if (m->has_datetime) printf("  taken %s\n", m->datetime);
    for (int k = 0; k < GEOLOC_IMAGE_MAX_WARNINGS && r->warnings[k][0]; k++)
        printf("  decoder warning: %s\n", r->warnings[k]);
}

static void print_number_or_null(int has, double v) {
    if (!has) {
        printf("null");
        return;
    }
    char buf[32];
    geoloc_csv_format_double(v, buf);
    printf("%s", buf);
}

static void print_json(const char *path, const photo_report *r, int decode) {
    const geoloc_photo_meta *m = &r->meta;
    printf("{\"file\": ");
    cli_json_string(stdout, path);
    if (!r->ok) {
        printf(", \"error\": ");
        cli_json_string(stdout, r->error);
        printf("}");
        return;
    }
    int swap = m->orientation >= 5;
    printf(", \"format\": \"%s\", \"width\": %d, \"height\": %d, \"orientation\": %d, "
           "\"display_width\": %d, \"display_height\": %d, \"lat\": ",
           format_name(r->format), m->width, m->height, m->orientation, swap ? m->height : m->width,
           swap ? m->width : m->height);
    print_number_or_null(m->has_gps, m->lat);
    printf(", \"lng\": ");
    print_number_or_null(m->has_gps, m->lng);
    printf(", \"altitude_m\": ");
    print_number_or_null(m->has_altitude, m->altitude_m);
    printf(", \"gps_time\": ");
    if (m->has_gps_time) cli_json_string(stdout, m->gps_time);
    else printf("null");
    printf(", \"datetime_original\": ");
    if (m->has_datetime) cli_json_string(stdout, m->datetime);
    else printf("null");
    if (decode) {
        printf(", \"decoded_width\": %d, \"decoded_height\": %d, \"decode_ms\": %.3f, "
               "\"warnings\": [",
               r->dec_w, r->dec_h, r->dec_ms);
        for (int k = 0; k < GEOLOC_IMAGE_MAX_WARNINGS && r->warnings[k][0]; k++) {
            if (k) printf(", ");
            cli_json_string(stdout, r->warnings[k]);
        }
        printf("]");
    }
    printf("}");
}

static int photo_info(int argc, char **argv) {
    info_args a = {0};
    int n_files;
    int parsed = cli_parse(&INFO_SPEC, &a, argc, argv, &n_files);
    if (parsed != CLI_RUN) return parsed;
    char **files = argv + 1;
    int json = a.json, decode = a.decode;
    int failed = 0;
    if (json) printf("[");
    for (int k = 0; k < n_files && !ferror(stdout); k++) {
        photo_report r;
        inspect(files[k], decode, &r);
        if (!r.ok) {
            failed++;
            fprintf(stderr, "%s: %s\n", CMD, r.error);
        }
        if (json) {
            printf("%s\n  ", k ? "," : "");
            print_json(files[k], &r, decode);
        } else if (r.ok) {
            print_text(files[k], &r, decode);
        }
    }
    if (json) printf("\n]\n");
    return failed == 0 ? CLI_EXIT_OK : failed < n_files ? CLI_EXIT_SKIPPED : CLI_EXIT_FAILURE;
}

const cli_command CLI_PHOTO_COMMANDS[] = {
    {"info", photo_info, NULL, "size, orientation, GPS and times of photos"},
    {NULL}};
