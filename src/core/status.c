/* Names of status codes and filling error reports. */
#include "geoloc/status.h"

const char *geoloc_status_name(geoloc_status status) {
    switch (status) {
    case GEOLOC_OK: return "ok";
    case GEOLOC_E_ARG: return "invalid argument";
    case GEOLOC_E_IO: return "i/o error";
    case GEOLOC_E_PARSE: return "parse error";
    case GEOLOC_E_RANGE: return "value out of range";
    case GEOLOC_E_EMPTY: return "no data";
    case GEOLOC_E_NOMEM: return "out of memory";
    case GEOLOC_E_BUSY: return "busy";
    }
    return "unknown error";
}

#include <stdarg.h>
#include <stdio.h>

#include "core/error.h"

geoloc_status error_set(geoloc_error *err, geoloc_status status, const char *fmt, ...) {
    if (err) {
        err->status = status;
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->message, sizeof err->message, fmt, ap);
        va_end(ap);
    }
    return status;
}
