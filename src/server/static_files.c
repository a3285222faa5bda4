/* The page's static files: a fixed table from URL paths to the page's own
 * files (embedded at build time by cmake/embed_files.cmake) and to the npm
 * files of tools/fetch-web.sh (read once from the data directory's web/
 * folder). A request path is only ever compared with the table's paths. */
#include "server/static_files.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/regular_file.h"
#include "model/model_internal.h"

extern const unsigned char embedded_index_html[], embedded_app_js[], embedded_style_css[];
extern const size_t embedded_index_html_size, embedded_app_js_size, embedded_style_css_size;

#define STATIC_MAX_BYTES (16u << 20) /* the npm files are well under this */
#define STATIC_DATA_FOLDER "web"

/* One served path: an embedded file (data set at build time) or an npm
 * file of the data folder (npm_name, loaded by static_files_load). */
typedef struct static_entry {
    const char *url;
    const char *content_type;
    const unsigned char *embedded;
    const size_t *embedded_size;
    const char *npm_name;
} static_entry;

static const static_entry entries[] = {
    {"/", "text/html; charset=utf-8", embedded_index_html, &embedded_index_html_size, NULL},
    {"/index.html", "text/html; charset=utf-8", embedded_index_html, &embedded_index_html_size, NULL},
    {"/app.js", "text/javascript; charset=utf-8", embedded_app_js, &embedded_app_js_size, NULL},
    {"/style.css", "text/css; charset=utf-8", embedded_style_css, &embedded_style_css_size, NULL},
    {"/static/leaflet.js", "text/javascript; charset=utf-8", NULL, NULL, "leaflet.js"},
    {"/static/leaflet.css", "text/css; charset=utf-8", NULL, NULL, "leaflet.css"},
    {"/static/countries.geojson", "application/geo+json", NULL, NULL, "countries.geojson"},
};
#define N_ENTRIES (sizeof entries / sizeof entries[0])

/* The npm files' bytes, by entry index (NULL: not loaded or missing). */
static uint8_t *loaded[N_ENTRIES];
static size_t loaded_size[N_ENTRIES];

int static_files_load(void) {
    static_files_free();
    int status = 0;
    for (size_t i = 0; i < N_ENTRIES; i++) {
        if (!entries[i].npm_name) continue;
        char path[4200];
        if (model_find_data_in(STATIC_DATA_FOLDER, entries[i].npm_name, path, sizeof path) != 0) continue;
        geoloc_error err = {0};
        /* a file found but unreadable is served as missing; only memory is fatal */
        if (regular_file_read(path, STATIC_MAX_BYTES, "the page's file size limit", &loaded[i],
                              &loaded_size[i], &err) == GEOLOC_E_NOMEM)
            status = -1;
    }
    return status;
}

int static_files_lookup(const char *url, static_file *out, char *why, size_t why_size) {
    if (why_size) why[0] = '\0';
    for (size_t i = 0; url && i < N_ENTRIES; i++) {
        const static_entry *e = &entries[i];
        if (strcmp(url, e->url) != 0) continue;
        if (e->embedded) {
            *out = (static_file){e->embedded, *e->embedded_size, e->content_type};
            return 0;
        }
        if (!loaded[i]) {
            snprintf(why, why_size, "%s is not installed: tools/fetch-web.sh fetches it into models/web",
                     e->npm_name);
            return -1;
        }
        *out = (static_file){loaded[i], loaded_size[i], e->content_type};
        return 0;
    }
    return -1; /* not in the list: why stays empty */
}

void static_files_free(void) {
    for (size_t i = 0; i < N_ENTRIES; i++) {
        free(loaded[i]);
        loaded[i] = NULL;
        loaded_size[i] = 0;
    }
}
