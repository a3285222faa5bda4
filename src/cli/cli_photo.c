/* geoloc photo info: what the decoder and the metadata reader make of photo
 * files (format, stored and displayed size, EXIF orientation, GPS position,
 * altitude, times; optionally a timed decode). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/cli_photos.h"
#include "cli/cli_util.h"
#include "cli/commands.h"
#include "geoloc/exif.h"
#include "geoloc/image.h"
#include "geoloc/io.h"

#define CMD "geoloc photo info"
#define MAX_FILE_BYTES (256u << 20)

static const char PHOTO_USAGE[] =
    "usage: geoloc photo <command> [options]\n"
    "\n"
    "commands:\n"
    "  info [--json] [--decode] FILE...  size, orientation, GPS and times of photos\n"
    "\n"
    "Run 'geoloc photo <command> --help' for a command's options.\n";

static const char INFO_USAGE[] =
    "usage: geoloc photo info [--json] [--decode] FILE...\n"
    "\n"
    "For each JPEG, PNG or WebP file (the format is found from the bytes, not the\n"
    "name): the stored pixel size from the image header, the EXIF orientation and\n"
    "the size the photo is displayed (and decoded) at, the GPS position (decimal\n"
    "degrees, negative south and west), altitude, GPS time (UTC) and\n"
    "DateTimeOriginal when the file has them.\n"
    "\n"
    "options:\n"
    "  --json      one JSON array with an object per file; absent values are null,\n"
    "              a file that cannot be read has an \"error\" member\n"
    "  --decode    also decode the pixels and report the decoded size and time\n"
    "  -h, --help  show this help\n"
    "\n"
    "Exit status: 0 when every file was read, 1 when one could not be (the others\n"
    "are still reported), 2 on a usage error.\n";

static uint8_t *read_all(const char *path, size_t *size, char *why, size_t why_size) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(why, why_size, "%s: cannot open", path);
        return NULL;
    }
    size_t cap = 1 << 16, n = 0;
    uint8_t *buf = malloc(cap);
    while (buf) {
        if (n == cap) {
            if (cap >= MAX_FILE_BYTES) {
                snprintf(why, why_size, "%s: larger than %u bytes", path, MAX_FILE_BYTES);
                free(buf);
                buf = NULL;
                break;
            }
            uint8_t *nb = realloc(buf, cap * 2);
            if (!nb) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = nb;
            cap *= 2;
        }
        size_t r = fread(buf + n, 1, cap - n, f);
        n += r;
        if (r == 0) {
            if (ferror(f)) {
                snprintf(why, why_size, "%s: read error", path);
                free(buf);
                buf = NULL;
            }
            break;
        }
    }
    if (!buf && !why[0]) snprintf(why, why_size, "%s: out of memory", path);
    fclose(f);
    *size = n;
    return buf;
}

static const char *format_name(geoloc_image_format f) {
    switch (f) {
    case GEOLOC_FORMAT_JPEG: return "JPEG";
    case GEOLOC_FORMAT_PNG: return "PNG";
    case GEOLOC_FORMAT_WEBP: return "WebP";
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
        struct timespec t0, t1;
        geoloc_image img;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        geoloc_status st = geoloc_image_decode(data, size, path, NULL, &img, &err);
        clock_gettime(CLOCK_MONOTONIC, &t1);
        if (st == GEOLOC_OK) {
            r->decoded = 1;
            r->dec_w = img.width;
            r->dec_h = img.height;
            r->dec_ms =
                1e3 * (double)(t1.tv_sec - t0.tv_sec) + 1e-6 * (double)(t1.tv_nsec - t0.tv_nsec);
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
    if (decode) printf(", \"decoded_width\": %d, \"decoded_height\": %d, \"decode_ms\": %.3f",
                       r->dec_w, r->dec_h, r->dec_ms);
    printf("}");
}

static int photo_info(int argc, char **argv) {
    int json = 0, decode = 0, n_files = 0, only_files = 0;
    char **files = malloc((size_t)argc * sizeof *files);
    if (!files) return 1;
    for (int k = 1; k < argc; k++) {
        const char *a = argv[k];
        if (only_files || a[0] != '-' || !a[1]) {
            files[n_files++] = argv[k];
        } else if (cli_is_help(a)) {
            fputs(INFO_USAGE, stdout);
            free(files);
            return 0;
        } else if (!strcmp(a, "--json")) {
            json = 1;
        } else if (!strcmp(a, "--decode")) {
            decode = 1;
        } else if (!strcmp(a, "--")) {
            only_files = 1;
        } else {
            fprintf(stderr, "%s: unknown option %s\n%s", CMD, a, INFO_USAGE);
            free(files);
            return 2;
        }
    }
    if (n_files == 0) {
        fprintf(stderr, "%s: no files given\n%s", CMD, INFO_USAGE);
        free(files);
        return 2;
    }
    int failed = 0;
    if (json) printf("[");
    for (int k = 0; k < n_files; k++) {
        photo_report r;
        inspect(files[k], decode, &r);
        if (!r.ok) {
            failed = 1;
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
    free(files);
    return failed ? 1 : 0;
}

int cli_photo(int argc, char **argv) {
    if (argc < 2 || cli_is_help(argv[1])) {
        fputs(PHOTO_USAGE, argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (!strcmp(argv[1], "info")) return photo_info(argc - 1, argv + 1);
    fprintf(stderr, "geoloc photo: unknown command '%s'\n%s", argv[1], PHOTO_USAGE);
    return 2;
}
