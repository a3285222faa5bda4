/* The distributed interface of a build without MPI: one process, rank 0 of 1;
 * every collective call returns at once with the data as it is. */
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "geoloc/dist.h"

geoloc_status geoloc_dist_init(int *argc, char ***argv, geoloc_error *err) {
    (void)argc, (void)argv, (void)err;
    return GEOLOC_OK;
}

void geoloc_dist_finalize(void) {}

void geoloc_dist_abort(int code) { exit(code); }

int geoloc_dist_available(void) { return 0; }

int geoloc_dist_rank(void) { return 0; }

int geoloc_dist_size(void) { return 1; }

geoloc_status geoloc_dist_sum_f32(float *data, size_t n, geoloc_error *err) {
    (void)data, (void)n, (void)err;
    return GEOLOC_OK;
}

geoloc_status geoloc_dist_sum_f64(double *data, size_t n, geoloc_error *err) {
    (void)data, (void)n, (void)err;
    return GEOLOC_OK;
}

geoloc_status geoloc_dist_sum_i64(int64_t *data, size_t n, geoloc_error *err) {
    (void)data, (void)n, (void)err;
    return GEOLOC_OK;
}

geoloc_status geoloc_dist_max_i64(int64_t *data, size_t n, geoloc_error *err) {
    (void)data, (void)n, (void)err;
    return GEOLOC_OK;
}

geoloc_status geoloc_dist_broadcast(void *data, size_t bytes, int root, geoloc_error *err) {
    (void)data, (void)bytes;
    return root == 0 ? GEOLOC_OK : error_set(err, GEOLOC_E_ARG, "broadcast from rank %d of 1", root);
}

geoloc_status geoloc_dist_barrier(geoloc_error *err) {
    (void)err;
    return GEOLOC_OK;
}

geoloc_status geoloc_dist_gather(const void *data, size_t bytes, int root, void **out, size_t *out_bytes,
                                 size_t *counts, geoloc_error *err) {
    if (root != 0) return error_set(err, GEOLOC_E_ARG, "gather to rank %d of 1", root);
    *out = malloc(bytes ? bytes : 1);
    if (!*out) return error_set(err, GEOLOC_E_NOMEM, "out of memory");
    if (bytes) memcpy(*out, data, bytes);
    *out_bytes = bytes;
    if (counts) counts[0] = bytes;
    return GEOLOC_OK;
}
