/* Exclusive locks that keep a second geoloc process from writing the same
 * file: an flock(2) on a hidden sidecar ".<name>.lock" next to the target,
 * released when the holder closes it or dies (kill -9 included), so a stale
 * sidecar never blocks anyone. Internal API. */
#ifndef GEOLOC_IO_FILE_LOCK_H
#define GEOLOC_IO_FILE_LOCK_H

#include "geoloc/io.h"

/* fd: the locked sidecar (-1 when not held); path: the sidecar's name. The
 * struct is public as part of geoloc_atomic_file (geoloc/io.h). */
typedef struct geoloc_file_lock file_lock;

/* Takes the exclusive lock on writing `target` without waiting; GEOLOC_E_BUSY
 * naming the target when another process holds it. */
geoloc_status file_lock_acquire(file_lock *l, const char *target, geoloc_error *err);

/* Releases the lock and removes the sidecar (a held-or-not lock is fine). */
void file_lock_release(file_lock *l);

#endif
