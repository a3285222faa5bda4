/* XMP sidecars of geotagged photos: the sidecar's name (Adobe's IMG.xmp or
 * darktable's IMG.jpg.xmp), GPS coordinates in XMP's GPSCoordinate form
 * (XMP Specification Part 2, EXIF schema: "DDD,MM.mmk"), and the packet
 * itself written atomically, an existing sidecar kept unless asked. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "core/error.h"
#include "geoloc/geotag.h"
#include "io/atomic_file.h"

/* The namespace of geoloc's own properties. */
#define GEOLOC_XMP_NS "https://geoloc.invalid/ns/1.0/"

int geoloc_xmp_sidecar_path(const char *photo, int full, char *out, size_t size) {
    const char *slash = strrchr(photo, '/'), *name = slash ? slash + 1 : photo;
    if (!*name) return -1;
    const char *dot = full ? NULL : strrchr(name, '.');
    size_t keep = dot && dot != name ? (size_t)(dot - photo) : strlen(photo);
    int n = snprintf(out, size, "%.*s.xmp", (int)keep, photo);
    return n < 0 || (size_t)n >= size ? -1 : 0;
}

void geoloc_xmp_coordinate(double degrees, int latitude, char out[32]) {
    char hemisphere = latitude ? (degrees < 0 ? 'S' : 'N') : (degrees < 0 ? 'W' : 'E');
    long long micro_minutes = llround(fabs(degrees) * 60e6); /* whole: minutes never round up to 60 */
    snprintf(out, 32, "%lld,%02lld.%06lld%c", micro_minutes / 60000000, micro_minutes / 1000000 % 60,
             micro_minutes % 1000000, hemisphere);
}

/* The packet into fp. */
static void write_packet(FILE *fp, const geoloc_xmp_gps *g) {
    char lat[32], lon[32];
    geoloc_xmp_coordinate(g->lat, 1, lat);
    geoloc_xmp_coordinate(g->lon, 0, lon);
    fputs("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
          "<x:xmpmeta xmlns:x=\"adobe:ns:meta/\" x:xmptk=\"geoloc\">\n"
          " <rdf:RDF xmlns:rdf=\"http://www.w3.org/1999/02/22-rdf-syntax-ns#\">\n"
          "  <rdf:Description rdf:about=\"\"\n"
          "    xmlns:exif=\"http://ns.adobe.com/exif/1.0/\"\n"
          "    xmlns:geoloc=\"" GEOLOC_XMP_NS "\"\n"
          "    exif:GPSVersionID=\"2.3.0.0\"\n",
          fp);
    fprintf(fp, "    exif:GPSLatitude=\"%s\"\n    exif:GPSLongitude=\"%s\"\n    exif:GPSMapDatum=\"WGS-84\"", lat, lon);
    static const char *const RADIUS[2] = {"radius50", "radius90"};
    for (int r = 0; r < 2; r++)
        if (g->radius_km[r] > 0) fprintf(fp, "\n    geoloc:%s=\"%.1f\"", RADIUS[r], g->radius_km[r]);
    if (g->method) { /* a method name: letters only, nothing to escape; anything else left out */
        size_t len = strlen(g->method);
        if (len && strspn(g->method, "abcdefghijklmnopqrstuvwxyz") == len)
            fprintf(fp, "\n    geoloc:method=\"%s\"", g->method);
    }
    fputs("/>\n </rdf:RDF>\n</x:xmpmeta>\n", fp);
}

geoloc_status geoloc_xmp_write(const char *path, const geoloc_xmp_gps *g, int overwrite, geoloc_error *err) {
    if (!path || !g || !(fabs(g->lat) <= 90) || !(fabs(g->lon) <= 180))
        return error_set(err, GEOLOC_E_ARG, "%s: no position to write", path ? path : "(sidecar)");
    struct stat st;
    if (!overwrite && lstat(path, &st) == 0) return error_set(err, GEOLOC_E_IO, "%s: exists", path);
    atomic_file f;
    geoloc_status s = atomic_file_open(&f, path, err);
    if (s != GEOLOC_OK) return s;
    if (!overwrite && lstat(path, &st) == 0) { /* appeared meanwhile: still not ours to replace */
        atomic_file_abort(&f);
        return error_set(err, GEOLOC_E_IO, "%s: exists", path);
    }
    write_packet(f.fp, g);
    return atomic_file_commit(&f, err);
}
