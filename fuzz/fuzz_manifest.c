/* libFuzzer target: the manifest reader (geoloc_manifest_read_buffer), which
 * validates rows on top of the CSV reader. A manifest it accepts must write
 * out and read back identically. */
#define _GNU_SOURCE
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "geoloc/dataset.h"

static int same(const geoloc_manifest *a, const geoloc_manifest *b) {
    if (a->n != b->n || a->columns != b->columns || a->n_extra != b->n_extra) return 0;
    for (size_t k = 0; k < a->n; k++) {
        const geoloc_manifest_row *x = &a->row[k], *y = &b->row[k];
        if (strcmp(x->id, y->id) || strcmp(x->author, y->author) || x->lat != y->lat ||
            x->lng != y->lng)
            return 0;
        for (int c = 0; c < 3; c++)
            if (x->label[c] != y->label[c] ||
                !((isnan(x->prob[c]) && isnan(y->prob[c])) || x->prob[c] == y->prob[c]))
                return 0;
    }
    for (size_t k = 0; k < a->n * a->n_extra; k++)
        if (strcmp(a->extra[k], b->extra[k])) return 0;
    return 1;
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size) {
    geoloc_manifest *m;
    geoloc_error err;
    err.message[0] = '\0';
    geoloc_manifest_options opt = {(int)(size & 1), NULL, NULL, 0}; /* strict and skipping */
    if (geoloc_manifest_read_buffer((const char *)data, size, "fuzz.csv", &opt, &m, &err) != GEOLOC_OK) {
        if (err.message[0] == '\0') abort();
        return 0;
    }
    char path[] = "/dev/shm/fuzz_manifest_XXXXXX"; /* tmpfs: the writer's fsync is cheap */
    int fd = mkstemp(path);
    if (fd < 0) {
        memcpy(path, "/tmp/fuzz_manifest_XXXXXX", sizeof "/tmp/fuzz_manifest_XXXXXX");
        if ((fd = mkstemp(path)) < 0) abort();
    }
    close(fd);
    geoloc_manifest *back;
    if (geoloc_manifest_write(m, path, &err) != GEOLOC_OK ||
        geoloc_manifest_read(path, NULL, &back, &err) != GEOLOC_OK)
        abort();
    /* header names that are empty or duplicated may map to other roles: only
     * compare when the columns survived as they were */
    if (back->n_extra == m->n_extra && back->columns == m->columns && !same(m, back)) abort();
    unlink(path);
    geoloc_manifest_free(back);
    geoloc_manifest_free(m);
    return 0;
}
