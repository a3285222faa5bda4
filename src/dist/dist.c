/* The parts of the distributed interface that need no MPI of their own:
 * splitting work into per-rank parts and agreeing on a status. */
#include <stdio.h>
#include <string.h>

#include "core/error.h"
#include "geoloc/dist.h"
#include "io/crc32c.h"

void geoloc_dist_part(size_t n, int rank, int size, size_t *first, size_t *count) {
    size_t r = (size_t)rank, s = size > 0 ? (size_t)size : 1;
    size_t lo = n / s * r + (r < n % s ? r : n % s);
    *first = lo;
    *count = n / s + (r < n % s);
}

geoloc_status geoloc_dist_agree(geoloc_status s, geoloc_error *err) {
    int size = geoloc_dist_size(), rank = geoloc_dist_rank();
    if (size == 1) return s;
    /* the lowest failing rank: the largest (size - rank) over failing ranks */
    int64_t key = s != GEOLOC_OK ? (int64_t)(size - rank) : 0;
    geoloc_error local = {0};
    if (s != GEOLOC_OK && err) local = *err;
    geoloc_status c = geoloc_dist_max_i64(&key, 1, err);
    if (c != GEOLOC_OK) return c;
    if (key == 0) return GEOLOC_OK;
    int root = size - (int)key;
    geoloc_error shared = local;
    if (rank == root) {
        shared.status = s;
        if (!shared.message[0]) snprintf(shared.message, sizeof shared.message, "%s", geoloc_status_name(s));
    }
    if ((c = geoloc_dist_broadcast(&shared, sizeof shared, root, err)) != GEOLOC_OK) return c;
    shared.message[sizeof shared.message - 1] = 0;
    return error_set(err, shared.status, "rank %d: %s", root, shared.message);
}

geoloc_status geoloc_dist_check_same(const void *data, size_t bytes, const char *what, geoloc_error *err) {
    if (geoloc_dist_size() == 1) return GEOLOC_OK;
    int64_t v[2];
    v[0] = (int64_t)crc32c(0, data, bytes) << 20 | (int64_t)(bytes & 0xFFFFF);
    v[1] = -v[0];
    geoloc_status s = geoloc_dist_max_i64(v, 2, err);
    if (s != GEOLOC_OK) return s;
    if (v[0] == -v[1]) return GEOLOC_OK;
    /* name a rank that differs from rank 0 */
    int64_t mine = (int64_t)crc32c(0, data, bytes) << 20 | (int64_t)(bytes & 0xFFFFF), first = mine;
    if ((s = geoloc_dist_broadcast(&first, sizeof first, 0, err)) != GEOLOC_OK) return s;
    int64_t odd = mine != first ? geoloc_dist_size() - geoloc_dist_rank() : 0;
    if ((s = geoloc_dist_max_i64(&odd, 1, err)) != GEOLOC_OK) return s;
    return error_set(err, GEOLOC_E_ARG, "%s differs between ranks (rank %d has other values than rank 0)", what,
                     geoloc_dist_size() - (int)odd);
}
