/* Tests of the map page's static files (src/server/static_files.c).
 * argv[2]: tests/data (the page's sources are at ../../share/geoloc/web).
 *
 * - "/", "/index.html", "/app.js", "/style.css": the bytes of
 *   share/geoloc/web/ as embedded at build time, with their content types;
 * - the npm files read from $GEOLOC_DATA_DIR/web/ (a temporary folder with
 *   made-up contents): served after static_files_load with their types, not
 *   before it nor after static_files_free; an absent one (or a folder in its
 *   place, or one over the size limit) is missing with a message naming
 *   tools/fetch-web.sh;
 * - paths that are not in the list are not found (no message: the server
 *   answers its plain 404), whatever files exist:
 *   traversals, URL-encoded forms, near misses, other files of web/. */
#include <string.h>
#include <sys/stat.h>

#include "server/static_files.h"
#include "test_util.h"

/* 1 when url is served with exactly these bytes and this content type. */
static int served_as(const char *url, const void *bytes, size_t size, const char *type) {
    static_file f = {0};
    char why[256];
    if (static_files_lookup(url, &f, why, sizeof why) != 0) {
        fprintf(stderr, "%s: not served: %s\n", url, why);
        return 0;
    }
    return f.size == size && (size == 0 || memcmp(f.data, bytes, size) == 0) && strcmp(f.content_type, type) == 0;
}

/* 1 when url is a listed file whose data is missing: refused with a
 * message (in why). */
static int missing(const char *url, char *why, size_t why_size) {
    static_file f = {0};
    char local[256];
    if (!why) {
        why = local;
        why_size = sizeof local;
    }
    return static_files_lookup(url, &f, why, why_size) == -1 && why[0] != '\0';
}

/* 1 when url is not in the list: refused, the message left empty. */
static int not_listed(const char *url) {
    static_file f = {0};
    char why[256] = "x";
    return static_files_lookup(url, &f, why, sizeof why) == -1 && why[0] == '\0';
}

static void test_embedded(const char *test_data) {
    static const struct { const char *url, *file, *type; } pages[] = {
        {"/", "index.html", "text/html; charset=utf-8"},
        {"/index.html", "index.html", "text/html; charset=utf-8"},
        {"/app.js", "app.js", "text/javascript; charset=utf-8"},
        {"/style.css", "style.css", "text/css; charset=utf-8"},
    };
    for (size_t i = 0; i < sizeof pages / sizeof pages[0]; i++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/../../share/geoloc/web/%s", test_data, pages[i].file);
        size_t size;
        void *bytes = test_read_file(path, &size);
        CHECK(bytes && size > 0, "cannot read %s", path);
        if (bytes) CHECK(served_as(pages[i].url, bytes, size, pages[i].type), "%s is not %s", pages[i].url, path);
        free(bytes);
    }
}

static void write_file(const char *dir, const char *name, const char *text) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    test_write_text(path, text);
}

static const char *const never_served[] = {
    "", "index.html", "//", "/index.htm", "/index.html/", "/INDEX.HTML", "/app.js?x=1", "/static/",
    "/static", "/static/secret.txt", "/web/leaflet.js", "/leaflet.js", "/static/leaflet.js/..",
    "/static/leaflet.js/", "/static//leaflet.js", "/static/./leaflet.js", "/static/../static/leaflet.js",
    "/../etc/passwd", "/static/../../x", "/static/../../../../etc/passwd", "/static/..%2f..%2fetc/passwd",
    "/%2e%2e/etc/passwd", "/static/%6ceaflet.js", "/static/leaflet%2ejs", "/%2fetc%2fpasswd",
    "/static/leaflet.js%00", "/static/countries.geojson.tmp", "/etc/passwd", "/passwd", "/static/passwd",
};

static void test_npm_files(void) {
    char dir[] = "/tmp/geoloc_test_static_XXXXXX";
    test_make_temp_dir(dir);
    char web[4200];
    snprintf(web, sizeof web, "%s/web", dir);
    CHECK(mkdir(web, 0700) == 0, "mkdir %s", web);
    const char *js = "/* leaflet stand-in */ var L = {};\n", *css = ".leaflet-container { }\n";
    write_file(web, "leaflet.js", js);
    write_file(web, "leaflet.css", css);
    write_file(web, "secret.txt", "not listed\n");
    write_file(dir, "passwd", "not listed either\n");
    setenv("GEOLOC_DATA_DIR", dir, 1);

    char why[256];
    CHECK(missing("/static/leaflet.js", why, sizeof why) && strstr(why, "tools/fetch-web.sh"),
          "served before static_files_load: %s", why);

    CHECK(static_files_load() == 0, "static_files_load");
    CHECK(served_as("/static/leaflet.js", js, strlen(js), "text/javascript; charset=utf-8"), "leaflet.js");
    CHECK(served_as("/static/leaflet.css", css, strlen(css), "text/css; charset=utf-8"), "leaflet.css");
    CHECK(missing("/static/countries.geojson", why, sizeof why) && strstr(why, "countries.geojson") &&
              strstr(why, "tools/fetch-web.sh"),
          "absent countries.geojson: %s", why);
    for (size_t i = 0; i < sizeof never_served / sizeof never_served[0]; i++)
        CHECK(not_listed(never_served[i]), "\"%s\" was served or said missing", never_served[i]);
    CHECK(not_listed(NULL), "NULL url was served");
    static_file f;
    CHECK(static_files_lookup("/nope", &f, NULL, 0) == -1, "no message buffer");

    /* a folder where a file should be is missing, not served */
    char geojson_dir[4300];
    snprintf(geojson_dir, sizeof geojson_dir, "%s/countries.geojson", web);
    CHECK(mkdir(geojson_dir, 0700) == 0, "mkdir %s", geojson_dir);
    CHECK(static_files_load() == 0, "static_files_load again");
    CHECK(missing("/static/countries.geojson", NULL, 0), "a folder served as countries.geojson");
    rmdir(geojson_dir);

    /* a file over the size limit (16 MB) is missing, and the load goes on */
    char big[4300];
    snprintf(big, sizeof big, "%s/countries.geojson", web);
    write_file(web, "countries.geojson", "");
    CHECK(truncate(big, 17 << 20) == 0, "truncate %s", big);
    CHECK(static_files_load() == 0, "static_files_load with a file over the limit");
    CHECK(missing("/static/countries.geojson", NULL, 0), "a file over the limit served");
    CHECK(served_as("/static/leaflet.js", js, strlen(js), "text/javascript; charset=utf-8"), "leaflet.js beside it");
    unlink(big);

    /* the files are read once, at load: a later change is not seen until the next load */
    const char *geojson = "{\"type\":\"FeatureCollection\",\"features\":[]}";
    write_file(web, "countries.geojson", geojson);
    CHECK(missing("/static/countries.geojson", NULL, 0), "countries.geojson served before a new load");
    CHECK(static_files_load() == 0, "static_files_load after the fetch");
    CHECK(served_as("/static/countries.geojson", geojson, strlen(geojson), "application/geo+json"),
          "countries.geojson");

    static_files_free();
    CHECK(missing("/static/leaflet.js", NULL, 0), "served after static_files_free");
    CHECK(missing("/static/countries.geojson", NULL, 0), "served after static_files_free");
    unsetenv("GEOLOC_DATA_DIR");
    test_remove_tree(dir);
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: test_static_files SHARED_DATA TEST_DATA\n");
        return 2;
    }
    test_embedded(argv[2]);
    test_npm_files();
    test_embedded(argv[2]); /* the embedded page does not depend on the data folder */
    TEST_END();
}
