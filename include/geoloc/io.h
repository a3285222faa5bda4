/* geoloc: the file building blocks the library itself uses, for programs
 * built on it (the geoloc command among them):
 *
 * - atomic output files: written to a temporary name next to the target,
 *   flushed, fsynced and renamed over it on commit, so a failed run never
 *   leaves half a file; an exclusive writer lock (flock on a hidden sidecar
 *   ".<name>.lock") makes a second writer of the same target fail with
 *   GEOLOC_E_BUSY instead of interleaving;
 * - CSV reading (RFC 4180: comma separated, double-quoted fields with ""
 *   escapes, LF or CRLF line ends) over a mapped file, coordinate parsing and
 *   the shortest round-trip formatting of doubles;
 * - whole regular files mapped read-only (FIFOs, devices and folders are
 *   refused by name, never waited on). */
#ifndef GEOLOC_IO_H
#define GEOLOC_IO_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "geoloc/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* An output file being written; write to `fp` between open and commit or
 * abort. The other fields belong to the library. */
typedef struct geoloc_atomic_file {
    FILE *fp;         /* write here */
    char *path;       /* final name */
    char *tmp_path;   /* temporary name in the same directory */
    struct geoloc_file_lock {
        int fd;       /* the locked sidecar; -1 when not held */
        char *path;   /* the sidecar's name */
    } lock;           /* held from open to commit or abort: one writer per target */
} geoloc_atomic_file;

/* Takes the target's writer lock (GEOLOC_E_BUSY when another process holds
 * it) and creates the temporary file for `path`; "-" is standard output,
 * written directly. */
geoloc_status geoloc_atomic_file_open(geoloc_atomic_file *f, const char *path, geoloc_error *err);

/* Flushes, fsyncs, closes and renames into place; on any failure (disk full
 * included) the error names the file, the temporary file is removed, the
 * target keeps its previous content and the lock is released. */
geoloc_status geoloc_atomic_file_commit(geoloc_atomic_file *f, geoloc_error *err);

/* Closes and removes the temporary file and releases the lock; the target is
 * left untouched. */
void geoloc_atomic_file_abort(geoloc_atomic_file *f);

/* One CSV field: bytes [p, p+len), quotes removed and "" unescaped. */
typedef struct geoloc_csv_field {
    const char *p;
    size_t len;
} geoloc_csv_field;

/* A CSV reader (opaque). */
typedef struct geoloc_csv_reader geoloc_csv_reader;

/* Opens and maps the regular file `path`; NULL with `err` filled on failure. */
geoloc_csv_reader *geoloc_csv_open(const char *path, geoloc_error *err);

/* A reader over a caller-owned buffer that must outlive it; `name` is used in
 * messages. NULL when out of memory. */
geoloc_csv_reader *geoloc_csv_open_buffer(const char *data, size_t size, const char *name);

/* Reads the next row into fields[0..max_fields); *n_fields gets the row's
 * field count (which may exceed max_fields). 1 for a row, 0 at the end, -1
 * on a malformed row with `err` filled. Fields last until the next call. */
int geoloc_csv_next_row(geoloc_csv_reader *r, geoloc_csv_field *fields, size_t max_fields,
                        size_t *n_fields, geoloc_error *err);

/* 1-based line number where the last row returned started. */
long geoloc_csv_line(const geoloc_csv_reader *r);

/* The whole file contents and its size. */
const char *geoloc_csv_data(const geoloc_csv_reader *r, size_t *size);

/* Releases the reader (NULL is fine). */
void geoloc_csv_close(geoloc_csv_reader *r);

/* 1 if the field equals `name` exactly. */
int geoloc_csv_field_is(geoloc_csv_field f, const char *name);

/* Index of the first of `names` (NULL-terminated, tried in order) among the
 * header fields, or -1. */
int geoloc_csv_find_column(const geoloc_csv_field *header, size_t n, const char *const *names);

/* Parses a coordinate: a decimal within [-limit, limit]; 0, or -1 with a
 * reason starting with `name` in msg ("LAT: 91 is outside [-90, 90]"). */
int geoloc_csv_parse_coordinate(const char *p, size_t len, const char *name, double limit,
                                double *out, char *msg, size_t msg_size);

/* The shortest decimal that reads back as exactly `v`, formatted like
 * Python's repr ("100.0", "1e-05"), into out[32]. */
void geoloc_csv_format_double(double v, char out[32]);

/* Byte offset in the file where the reader's next row starts. */
size_t geoloc_csv_offset(const geoloc_csv_reader *r);

/* Writes `text` as one CSV field, quoted when it holds a comma, quote, CR or LF. */
void geoloc_csv_write_field(FILE *out, const char *text);

/* Maps the regular file `path` read-only into *data, *size (an empty file
 * gives a non-NULL empty buffer). Errors name the file: cannot open, "not a
 * regular file (a FIFO)" and the like, cannot map. "-" is standard input,
 * read to its end. */
geoloc_status geoloc_mapped_file_open(const char *path, const void **data, size_t *size,
                                      geoloc_error *err);

/* Unmaps what geoloc_mapped_file_open returned. */
void geoloc_mapped_file_close(const void *data, size_t size);

/* Reads the whole regular file `path` (never waits on a FIFO or device) into
 * a malloc'd *data of *size bytes; over max_bytes: E_RANGE naming limit_name. */
geoloc_status geoloc_file_read(const char *path, uint64_t max_bytes, const char *limit_name,
                               uint8_t **data, size_t *size, geoloc_error *err);

/* 1 when a and b are the same path or both exist and are the same file
 * (device and inode: hard and symbolic links, "./x" and "x"); else 0. "-"
 * (standard input or output) is never the same as anything. For refusing an
 * output that would overwrite an input. */
int geoloc_same_file(const char *a, const char *b);

#ifdef __cplusplus
}
#endif
#endif
