/* The distributed interface on MPI (OpenMPI, MPICH): the only file that
 * includes mpi.h. A process joins the job only when a launcher started it
 * (its environment says so); otherwise it is rank 0 of 1 and MPI is never
 * initialised, so a plain `geoloc predict` starts as fast as without MPI.
 *
 * Collective calls are made non-blocking and then waited for, so that a
 * wait can end: with GEOLOC_DIST_TIMEOUT=SECONDS a rank that waits longer
 * names the call and aborts the job (a rank that hangs instead of dying). */
#include <limits.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/error.h"
#include "geoloc/dist.h"

static int joined, rank_, size_ = 1;
static double timeout_s;

/* 1 when a launcher (mpirun/mpiexec of OpenMPI or MPICH, srun with PMI/PMIx) started us. */
static int launched(void) {
    static const char *vars[] = {"OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_RANK", "PMI_SIZE", "MPI_LOCALNRANKS"};
    for (size_t i = 0; i < sizeof vars / sizeof *vars; i++)
        if (getenv(vars[i])) return 1;
    return 0;
}

static geoloc_status mpi_error(geoloc_error *err, int rc, const char *what) {
    char msg[MPI_MAX_ERROR_STRING];
    int len = 0;
    if (MPI_Error_string(rc, msg, &len) != MPI_SUCCESS) snprintf(msg, sizeof msg, "MPI error %d", rc);
    return error_set(err, GEOLOC_E_IO, "rank %d: %s failed: %s", rank_, what, msg);
}

geoloc_status geoloc_dist_init(int *argc, char ***argv, geoloc_error *err) {
    if (joined || !launched()) return GEOLOC_OK;
    int provided = 0;
    int rc = MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided);
    if (rc != MPI_SUCCESS) return error_set(err, GEOLOC_E_IO, "MPI could not start (MPI_Init_thread: %d)", rc);
    joined = 1;
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
    MPI_Comm_size(MPI_COMM_WORLD, &size_);
    const char *t = getenv("GEOLOC_DIST_TIMEOUT");
    timeout_s = t ? atof(t) : 0;
    return GEOLOC_OK;
}

void geoloc_dist_finalize(void) {
    if (joined) MPI_Finalize();
    joined = 0;
    rank_ = 0;
    size_ = 1;
}

void geoloc_dist_abort(int code) {
    if (joined) MPI_Abort(MPI_COMM_WORLD, code);
    exit(code);
}

int geoloc_dist_available(void) { return 1; }

int geoloc_dist_rank(void) { return rank_; }

int geoloc_dist_size(void) { return size_; }

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Waits for a request: spins briefly, then polls every 50 us; aborts the job after the timeout. */
static geoloc_status wait_for(MPI_Request *req, const char *what, geoloc_error *err) {
    double t0 = now_s();
    for (long polls = 0;; polls++) {
        int done = 0;
        int rc = MPI_Test(req, &done, MPI_STATUS_IGNORE);
        if (rc != MPI_SUCCESS) return mpi_error(err, rc, what);
        if (done) return GEOLOC_OK;
        if (polls < 20000) continue;
        struct timespec pause = {0, 50000};
        nanosleep(&pause, NULL);
        if (timeout_s > 0 && now_s() - t0 > timeout_s) {
            fprintf(stderr, "geoloc: rank %d of %d waited %.0f s in %s for the other ranks "
                            "(GEOLOC_DIST_TIMEOUT): one of them hangs; stopping the job\n",
                    rank_, size_, now_s() - t0, what);
            MPI_Abort(MPI_COMM_WORLD, 3);
        }
    }
}

/* In-place all-reduce of n elements in chunks of at most INT_MAX / 2. */
static geoloc_status reduce(void *data, size_t n, size_t elem, MPI_Datatype type, MPI_Op op, const char *what,
                            geoloc_error *err) {
    if (size_ == 1) return GEOLOC_OK;
    char *p = data;
    for (size_t done = 0; done < n;) {
        int m = n - done > (size_t)(INT_MAX / 2) ? INT_MAX / 2 : (int)(n - done);
        MPI_Request req;
        int rc = MPI_Iallreduce(MPI_IN_PLACE, p + done * elem, m, type, op, MPI_COMM_WORLD, &req);
        if (rc != MPI_SUCCESS) return mpi_error(err, rc, what);
        geoloc_status s = wait_for(&req, what, err);
        if (s != GEOLOC_OK) return s;
        done += (size_t)m;
    }
    return GEOLOC_OK;
}

geoloc_status geoloc_dist_sum_f32(float *data, size_t n, geoloc_error *err) {
    return reduce(data, n, sizeof *data, MPI_FLOAT, MPI_SUM, "a sum of floats", err);
}

geoloc_status geoloc_dist_sum_f64(double *data, size_t n, geoloc_error *err) {
    return reduce(data, n, sizeof *data, MPI_DOUBLE, MPI_SUM, "a sum of doubles", err);
}

geoloc_status geoloc_dist_sum_i64(int64_t *data, size_t n, geoloc_error *err) {
    return reduce(data, n, sizeof *data, MPI_INT64_T, MPI_SUM, "a sum of integers", err);
}

geoloc_status geoloc_dist_max_i64(int64_t *data, size_t n, geoloc_error *err) {
    return reduce(data, n, sizeof *data, MPI_INT64_T, MPI_MAX, "a maximum", err);
}

geoloc_status geoloc_dist_broadcast(void *data, size_t bytes, int root, geoloc_error *err) {
    if (root < 0 || root >= size_) return error_set(err, GEOLOC_E_ARG, "broadcast from rank %d of %d", root, size_);
    if (size_ == 1) return GEOLOC_OK;
    char *p = data;
    for (size_t done = 0; done < bytes;) {
        int m = bytes - done > (size_t)(INT_MAX / 2) ? INT_MAX / 2 : (int)(bytes - done);
        MPI_Request req;
        int rc = MPI_Ibcast(p + done, m, MPI_BYTE, root, MPI_COMM_WORLD, &req);
        if (rc != MPI_SUCCESS) return mpi_error(err, rc, "a broadcast");
        geoloc_status s = wait_for(&req, "a broadcast", err);
        if (s != GEOLOC_OK) return s;
        done += (size_t)m;
    }
    return GEOLOC_OK;
}

geoloc_status geoloc_dist_barrier(geoloc_error *err) {
    if (size_ == 1) return GEOLOC_OK;
    MPI_Request req;
    int rc = MPI_Ibarrier(MPI_COMM_WORLD, &req);
    if (rc != MPI_SUCCESS) return mpi_error(err, rc, "a barrier");
    return wait_for(&req, "a barrier", err);
}

geoloc_status geoloc_dist_gather(const void *data, size_t bytes, int root, void **out, size_t *out_bytes,
                                 size_t *counts, geoloc_error *err) {
    *out = NULL;
    *out_bytes = 0;
    if (root < 0 || root >= size_) return error_set(err, GEOLOC_E_ARG, "gather to rank %d of %d", root, size_);
    int64_t mine = (int64_t)bytes, *all = calloc((size_t)size_, sizeof *all);
    int *cnt = calloc((size_t)size_, sizeof *cnt), *disp = calloc((size_t)size_, sizeof *disp);
    geoloc_status s = GEOLOC_OK;
    MPI_Request req;
    if (!all || !cnt || !disp) s = error_set(err, GEOLOC_E_NOMEM, "out of memory");
    int rc = s == GEOLOC_OK ? MPI_Igather(&mine, 1, MPI_INT64_T, all, 1, MPI_INT64_T, root, MPI_COMM_WORLD, &req)
                            : MPI_SUCCESS;
    if (s == GEOLOC_OK && rc != MPI_SUCCESS) s = mpi_error(err, rc, "a gather of sizes");
    if (s == GEOLOC_OK) s = wait_for(&req, "a gather of sizes", err);
    size_t total = 0;
    if (s == GEOLOC_OK && rank_ == root) {
        for (int r = 0; r < size_; r++) {
            if (total + (size_t)all[r] > (size_t)INT_MAX) {
                s = error_set(err, GEOLOC_E_RANGE, "a gather of more than 2 GB: use more, smaller gathers");
                break;
            }
            disp[r] = (int)total;
            cnt[r] = (int)all[r];
            total += (size_t)all[r];
            if (counts) counts[r] = (size_t)all[r];
        }
        if (s == GEOLOC_OK && !(*out = malloc(total ? total : 1))) s = error_set(err, GEOLOC_E_NOMEM, "out of memory");
    }
    /* the root's failure must not leave the others waiting: every rank still takes part */
    if (rank_ == root && s != GEOLOC_OK) memset(cnt, 0, (size_t)size_ * sizeof *cnt);
    if (mine > INT_MAX) mine = 0;
    rc = MPI_Igatherv(data, (int)mine, MPI_BYTE, *out, cnt, disp, MPI_BYTE, root, MPI_COMM_WORLD, &req);
    geoloc_status g = rc != MPI_SUCCESS ? mpi_error(err, rc, "a gather") : wait_for(&req, "a gather", err);
    if (s == GEOLOC_OK) s = g;
    if (s == GEOLOC_OK) *out_bytes = total;
    else {
        free(*out);
        *out = NULL;
    }
    free(all);
    free(cnt);
    free(disp);
    return s;
}
