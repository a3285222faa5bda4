/* geoloc: status codes and error reports shared by every library call. */
#ifndef GEOLOC_STATUS_H
#define GEOLOC_STATUS_H

#ifdef __cplusplus
extern "C" {
#endif

/* Result of a library call: GEOLOC_OK or the kind of failure. */
typedef enum geoloc_status {
    GEOLOC_OK = 0,
    GEOLOC_E_ARG,    /* an argument is out of its documented domain */
    GEOLOC_E_IO,     /* a file could not be opened, read or written */
    GEOLOC_E_PARSE,  /* malformed input (bad number, token, header, row) */
    GEOLOC_E_RANGE,  /* a value is outside its valid range */
    GEOLOC_E_EMPTY,  /* the input holds no usable data */
    GEOLOC_E_NOMEM,  /* an allocation failed */
    GEOLOC_E_BUSY    /* another process is writing the same file */
} geoloc_status;

/* Human-readable detail of a failure: the status and a message that names
 * the file, line and field where one applies ("data.csv:12: LAT ..."). */
typedef struct geoloc_error {
    geoloc_status status;
    char message[512];
} geoloc_error;

/* Short English name of a status code ("parse error", ...). */
const char *geoloc_status_name(geoloc_status status);

#ifdef __cplusplus
}
#endif
#endif
