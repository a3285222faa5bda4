/* geoloc: processes that work on one job together (MPI ranks), behind a small
 * interface of the project's own. Built without MPI, or started without a
 * launcher (mpirun, srun), a program is one process of rank 0 in a job of
 * size 1, and every call below is a cheap no-op; nothing else in geoloc
 * includes mpi.h.
 *
 * Every collective call must be made by all ranks in the same order. A
 * rank that dies ends the job (the launcher stops the others). A rank that
 * hangs stalls the others in their next collective call: with the
 * environment variable GEOLOC_DIST_TIMEOUT=SECONDS set, a rank that waits
 * longer than that names the call on stderr and aborts the whole job. */
#ifndef GEOLOC_DIST_H
#define GEOLOC_DIST_H

#include <stddef.h>
#include <stdint.h>

#include "geoloc/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Joins the job when a launcher started this process (else stays alone).
 * Call once, first thing in main; threads other than the caller never
 * communicate. */
geoloc_status geoloc_dist_init(int *argc, char ***argv, geoloc_error *err);

/* Leaves the job (after the last collective call); safe when alone. */
void geoloc_dist_finalize(void);

/* Ends every rank of the job at once with exit code `code` (alone: exit). */
void geoloc_dist_abort(int code);

/* 1 when this build can run as several ranks (built with MPI). */
int geoloc_dist_available(void);

/* This process's rank, 0..size-1. */
int geoloc_dist_rank(void);

/* Number of ranks in the job (1 when alone). */
int geoloc_dist_size(void);

/* data[i] = the sum over ranks of data[i], on every rank. */
geoloc_status geoloc_dist_sum_f32(float *data, size_t n, geoloc_error *err);

/* data[i] = the sum over ranks of data[i] (doubles), on every rank. */
geoloc_status geoloc_dist_sum_f64(double *data, size_t n, geoloc_error *err);

/* data[i] = the sum over ranks of data[i] (64-bit integers), on every rank. */
geoloc_status geoloc_dist_sum_i64(int64_t *data, size_t n, geoloc_error *err);

/* data[i] = the largest data[i] over ranks, on every rank. */
geoloc_status geoloc_dist_max_i64(int64_t *data, size_t n, geoloc_error *err);

/* Copies `bytes` bytes at data on rank root into data on every rank. */
geoloc_status geoloc_dist_broadcast(void *data, size_t bytes, int root, geoloc_error *err);

/* Waits until every rank has called it. */
geoloc_status geoloc_dist_barrier(geoloc_error *err);

/* Gathers every rank's `bytes` bytes (any size per rank) on rank root, in
 * rank order: there *out is a malloc'ed concatenation (free it) and
 * *out_bytes its size; elsewhere *out is NULL. `counts` (root, may be NULL)
 * receives each rank's byte count (size entries). */
geoloc_status geoloc_dist_gather(const void *data, size_t bytes, int root, void **out, size_t *out_bytes,
                                 size_t *counts, geoloc_error *err);

/* Status agreement: every rank passes its own status; returns GEOLOC_OK on
 * every rank when all passed GEOLOC_OK, else the first failing rank's status
 * with its message in err on every rank ("rank R: ..."). Lets all ranks stop
 * together when one of them cannot go on (a file missing on one node). */
geoloc_status geoloc_dist_agree(geoloc_status s, geoloc_error *err);

/* GEOLOC_OK on every rank when every rank passed the same bytes (compared by
 * CRC-32C), else GEOLOC_E_ARG with "`what` differs between ranks (rank R)". */
geoloc_status geoloc_dist_check_same(const void *data, size_t bytes, const char *what, geoloc_error *err);

/* The first rank and the count of items [*first, *first + *count) of n that this
 * rank takes when n items are split into size contiguous, nearly equal parts. */
void geoloc_dist_part(size_t n, int rank, int size, size_t *first, size_t *count);

#ifdef __cplusplus
}
#endif
#endif
