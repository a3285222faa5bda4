/* Whole files (or standard input) mapped read-only into memory. Internal API. */
#ifndef GEOLOC_IO_MAPPED_FILE_H
#define GEOLOC_IO_MAPPED_FILE_H

#include <stddef.h>

#include "geoloc/status.h"

/* Maps the regular file `path` read-only: *data and *size cover it (an empty
 * file gives a non-NULL empty buffer that needs no unmapping). Never waits:
 * a FIFO, device, socket or folder is refused ("PATH: not a regular file (a
 * FIFO)"). Errors name the file: cannot open, not a regular file, cannot map.
 * "-" is standard input, read to its end (it may be a pipe or a terminal:
 * this waits for its end) into a read-only anonymous mapping. */
geoloc_status mapped_file_open(const char *path, const void **data, size_t *size,
                               geoloc_error *err);

/* Unmaps what mapped_file_open returned (a file or standard input). */
void mapped_file_close(const void *data, size_t size);

#endif
