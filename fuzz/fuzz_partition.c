/* libFuzzer target: the partition file reader (geoloc_partition_read). A file
 * it accepts must be a consistent partition, survive a write and read back
 * identically. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "geoloc/partition.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size) {
    int fd = memfd_create("fuzz_partition", 0);
    if (fd < 0 || write(fd, data, size) != (ssize_t)size) abort();
    char path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    geoloc_partition *p;
    geoloc_error err;
    if (geoloc_partition_read(path, &p, &err) == GEOLOC_OK) {
        for (size_t k = 0; k < p->n; k++)
            if (!geoloc_s2_is_valid(p->cell[k]) || geoloc_partition_find(p, p->cell[k]) != (long)k)
                abort();
        char out[] = "/tmp/fuzz_partition_XXXXXX";
        int ofd = mkstemp(out);
        if (ofd < 0) abort();
        close(ofd);
        geoloc_partition *q;
        if (geoloc_partition_write(p, out, &err) != GEOLOC_OK ||
            geoloc_partition_read(out, &q, &err) != GEOLOC_OK || q->n != p->n ||
            memcmp(q->cell, p->cell, p->n * sizeof *p->cell) ||
            memcmp(q->count, p->count, p->n * sizeof *p->count) ||
            memcmp(q->lat, p->lat, p->n * sizeof *p->lat) ||
            memcmp(q->lng, p->lng, p->n * sizeof *p->lng))
            abort();
        unlink(out);
        geoloc_partition_free(q);
        geoloc_partition_free(p);
    } else if (err.message[0] == '\0') {
        abort();
    }
    close(fd);
    return 0;
}
