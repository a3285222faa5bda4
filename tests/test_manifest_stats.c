/* geoloc_manifest_summarize: bounding box, distinct authors, photos per S3
 * scene, on a small manifest with known answers and on the shared
 * im2gps3k_dev.csv against a direct count. Args: SHARED_DATA TEST_DATA. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "geoloc/dataset.h"
#include "test_util.h"

static void test_small(void) {
    const char *text =
        "IMG_ID,LAT,LON,AUTHOR,S3_Label\n"
        "a.jpg,10.5,-20,ann,0\n"
        "b.jpg,-45.25,170,bob,2\n"
        "c.jpg,0,-179.5,ann,2\n"
        "d.jpg,89,3,,\n"
        "e.jpg,1,1,Ann,1\n";
    geoloc_manifest *m;
    geoloc_error err;
    CHECK(geoloc_manifest_read_buffer(text, strlen(text), "small.csv", NULL, &m, &err) == GEOLOC_OK, "%s",
          err.message);
    if (!m) return;
    geoloc_manifest_stats st;
    CHECK(geoloc_manifest_summarize(m, &st, &err) == GEOLOC_OK, "%s", err.message);
    CHECK(st.n == 5, "%zu photos", st.n);
    CHECK(st.lat_min == -45.25 && st.lat_max == 89 && st.lng_min == -179.5 && st.lng_max == 170,
          "box %g..%g %g..%g", st.lat_min, st.lat_max, st.lng_min, st.lng_max);
    /* ann, bob, Ann: names are case-sensitive */
    CHECK(st.n_authors == 3 && st.n_without_author == 1, "%zu authors, %zu without", st.n_authors,
          st.n_without_author);
    CHECK(st.n_scene[0] == 1 && st.n_scene[1] == 1 && st.n_scene[2] == 2 && st.n_without_scene == 1,
          "scenes %zu %zu %zu, %zu without", st.n_scene[0], st.n_scene[1], st.n_scene[2], st.n_without_scene);
    geoloc_manifest_free(m);

    /* no AUTHOR or S3_Label column: every photo lacks both; empty manifest: zeros */
    const char *bare = "IMG_ID,LAT,LON\nx.jpg,5,6\ny.jpg,-5,7\n";
    CHECK(geoloc_manifest_read_buffer(bare, strlen(bare), "bare.csv", NULL, &m, &err) == GEOLOC_OK, "%s",
          err.message);
    CHECK(geoloc_manifest_summarize(m, &st, &err) == GEOLOC_OK && st.n_authors == 0 && st.n_without_author == 2 &&
              st.n_without_scene == 2 && st.lat_min == -5 && st.lng_max == 7,
          "bare manifest");
    geoloc_manifest_free(m);
    const char *empty = "IMG_ID,LAT,LON\n";
    CHECK(geoloc_manifest_read_buffer(empty, strlen(empty), "empty.csv", NULL, &m, &err) == GEOLOC_OK, "%s",
          err.message);
    CHECK(geoloc_manifest_summarize(m, &st, &err) == GEOLOC_OK && st.n == 0 && st.lat_min == 0 && st.lat_max == 0,
          "empty manifest");
    geoloc_manifest_free(m);
    CHECK(geoloc_manifest_summarize(NULL, &st, &err) == GEOLOC_E_ARG, "NULL manifest refused");
}

/* The shared im2gps3k_dev.csv: the summary against a quadratic direct count. */
static void test_real(const char *data) {
    char path[4200];
    snprintf(path, sizeof path, "%s/im2gps3k-dev/im2gps3k_dev.csv", data);
    if (access(path, R_OK) != 0) {
        printf("shared data not found: %s not summarised\n", path);
        return;
    }
    geoloc_manifest *m;
    geoloc_error err;
    CHECK(geoloc_manifest_read(path, NULL, &m, &err) == GEOLOC_OK, "%s", err.message);
    if (!m) return;
    geoloc_manifest_stats st;
    CHECK(geoloc_manifest_summarize(m, &st, &err) == GEOLOC_OK, "%s", err.message);
    size_t distinct = 0, inside = 0, on_edge[4] = {0};
    for (size_t k = 0; k < m->n; k++) {
        const geoloc_manifest_row *r = &m->row[k];
        size_t j = 0;
        while (j < k && strcmp(m->row[j].author, r->author)) j++;
        distinct += *r->author && j == k;
        inside += r->lat >= st.lat_min && r->lat <= st.lat_max && r->lng >= st.lng_min && r->lng <= st.lng_max;
        on_edge[0] += r->lat == st.lat_min, on_edge[1] += r->lat == st.lat_max;
        on_edge[2] += r->lng == st.lng_min, on_edge[3] += r->lng == st.lng_max;
    }
    CHECK(st.n == m->n && st.n_authors == distinct, "%zu authors, direct count %zu", st.n_authors, distinct);
    CHECK(inside == m->n && on_edge[0] && on_edge[1] && on_edge[2] && on_edge[3], "not the tightest box");
    geoloc_manifest_free(m);
}

int main(int argc, char **argv) {
    test_small();
    test_real(argc > 1 ? argv[1] : "../shared/data");
    TEST_END();
}
