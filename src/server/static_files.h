/* The page's static files: the page itself (share/geoloc/web: index.html,
 * app.js, style.css, embedded in the binary at build time) and the npm files
 * it uses (Leaflet, the country outlines), read from the data directory
 * (geoloc_model_find_data). Only the files of a fixed list are ever served:
 * no path from a request reaches the file system. Internal. */
#ifndef GEOLOC_SERVER_STATIC_FILES_H
#define GEOLOC_SERVER_STATIC_FILES_H

#include <stddef.h>

/* One file to send. */
typedef struct static_file {
    const unsigned char *data;
    size_t size;
    const char *content_type;
} static_file;

/* Loads the files of the fixed list (the npm ones read once into memory;
 * missing ones are reported by static_files_lookup as absent). 0 or -1. */
int static_files_load(void);

/* The file served at a URL path ("/", "/app.js", "/static/leaflet.js", ...);
 * 0 and *out, or -1 when the path is not one of the list (answer 404; why
 * left empty) or its data is missing (the message in why names the setup
 * command). */
int static_files_lookup(const char *url, static_file *out, char *why, size_t why_size);

/* Frees what static_files_load read. */
void static_files_free(void);

#endif
