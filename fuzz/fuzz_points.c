/* libFuzzer target: the photo-coordinates CSV loader (geoloc_points_read_csv),
 * fed through an in-memory file, strict and with skip_invalid. */
#define _GNU_SOURCE
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "geoloc/points.h"

static void count_skip(void *ctx, const char *message) {
    (void)message;
    (*(size_t *)ctx)++;
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size) {
    int fd = memfd_create("fuzz_points", 0);
    if (fd < 0 || write(fd, data, size) != (ssize_t)size) abort();
    char path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    for (int skip = 0; skip < 2; skip++) {
        size_t skipped = 0;
        geoloc_points_options opt = {1, 1, skip, 2, count_skip, &skipped};
        geoloc_points *p;
        geoloc_error err;
        if (geoloc_points_read_csv(path, &opt, &p, &err) == GEOLOC_OK) {
            if (p->n == 0 || p->n_skipped != skipped || (!skip && skipped)) abort();
            for (size_t k = 0; k < p->n; k++)
                if (!(fabs(p->lat[k]) <= 90 && fabs(p->lng[k]) <= 180) ||
                    (k && p->line[k] <= p->line[k - 1]))
                    abort();
            geoloc_points_free(p);
        } else if (err.message[0] == '\0') {
            abort(); /* every failure explains itself */
        }
    }
    close(fd);
    return 0;
}
