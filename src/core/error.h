/* Filling a geoloc_error. Internal API. */
#ifndef GEOLOC_CORE_ERROR_H
#define GEOLOC_CORE_ERROR_H

#include "geoloc/status.h"

/* Sets err (if not NULL) to `status` with a printf-style message; returns
 * `status` so callers can write `return error_set(err, ...)`. */
geoloc_status error_set(geoloc_error *err, geoloc_status status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
