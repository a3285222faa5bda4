/* Files written whole or not at all: data goes to a temporary file next to
 * the target, which is flushed, fsynced and renamed over it on commit.
 * Internal API. */
#ifndef GEOLOC_IO_ATOMIC_FILE_H
#define GEOLOC_IO_ATOMIC_FILE_H

#include "geoloc/io.h"
#include "io/file_lock.h"

/* fp (write here), path, tmp_path and the writer lock: see geoloc/io.h,
 * whose geoloc_atomic_file_* wrap these functions (src/io/io_api.c). */
typedef geoloc_atomic_file atomic_file;

/* Takes the target's writer lock (GEOLOC_E_BUSY when another process holds
 * it) and creates the temporary file for `path`. "-" means standard output,
 * which is written directly. */
geoloc_status atomic_file_open(atomic_file *f, const char *path, geoloc_error *err);

/* Flushes, fsyncs, closes and renames into place; reports write errors
 * (disk full included). On failure the temporary file is removed. */
geoloc_status atomic_file_commit(atomic_file *f, geoloc_error *err);

/* Closes and removes the temporary file; the target is left untouched. */
void atomic_file_abort(atomic_file *f);

#endif
