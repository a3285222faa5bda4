/* Opening and reading files that must be regular files (photos), without
 * ever blocking on a FIFO, a terminal or a device. Internal API. */
#ifndef GEOLOC_IO_REGULAR_FILE_H
#define GEOLOC_IO_REGULAR_FILE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#include "geoloc/status.h"

/* Opens `path` read-only with O_NONBLOCK | O_NOCTTY (so opening a FIFO with
 * no writer or a tty returns at once), fstats it and refuses anything that
 * is not a regular file (E_IO, "path: not a regular file (a FIFO)", naming
 * the kind), then clears O_NONBLOCK. On success *fd is open (close-on-exec)
 * and *st describes it. On failure *fd is -1; st->st_mode is the refused
 * file's mode when it could be opened and 0 when the open itself failed
 * (then errno is open's error, e.g. for telling EACCES from ENOENT). */
geoloc_status regular_file_open(const char *path, int *fd, struct stat *st, geoloc_error *err);

/* The name of a file type for messages ("a FIFO", "a directory", ...). */
const char *regular_file_kind(mode_t mode);

/* Reads the whole regular file `path` into a malloc'd buffer (*data, one
 * spare byte after *size; empty files give a non-NULL buffer and size 0).
 * Refuses a file over max_bytes with E_RANGE, naming `limit_name` (e.g.
 * "decode option max_file_bytes"); a file that shrinks while being read is
 * an E_IO error. Messages name the path. */
geoloc_status regular_file_read(const char *path, uint64_t max_bytes, const char *limit_name,
                                uint8_t **data, size_t *size, geoloc_error *err);

#endif
