/* CSV reading (RFC 4180: comma separated, double-quoted fields with ""
 * escapes, LF or CRLF line ends) over a file held in memory. Internal API. */
#ifndef GEOLOC_IO_CSV_H
#define GEOLOC_IO_CSV_H

#include <stddef.h>
#include <stdio.h>

#include "geoloc/io.h"

/* One field: bytes [p, p+len), quotes removed and "" unescaped. The types
 * are the public ones of geoloc/io.h, whose geoloc_csv_* wrap these
 * functions (src/io/io_api.c). */
typedef geoloc_csv_field csv_field;

typedef geoloc_csv_reader csv_reader;

/* Opens and maps `path`; on failure returns NULL and fills `err`. */
csv_reader *csv_open(const char *path, geoloc_error *err);

/* Reader over a caller-owned buffer (fuzzing, tests); `name` is used in
 * messages. The buffer must outlive the reader. */
csv_reader *csv_open_buffer(const char *data, size_t size, const char *name);

/* Reads the next row into fields[0..max_fields); *n_fields gets the number
 * of fields the row has (may exceed max_fields: the extra ones are not
 * stored). Returns 1 for a row, 0 at end of file, -1 on a malformed row
 * (unterminated quote) with `err` filled. Fields stay valid until the next
 * call. A blank line is a row with one empty field. */
int csv_next_row(csv_reader *r, csv_field *fields, size_t max_fields, size_t *n_fields,
                 geoloc_error *err);

/* 1-based line number where the last row returned started. */
long csv_line(const csv_reader *r);

/* The name given at open (the path). */
const char *csv_name(const csv_reader *r);

/* The whole file contents and size (for callers that parse in bulk). */
const char *csv_data(const csv_reader *r, size_t *size);

/* Byte offset where the next row starts. */
size_t csv_offset(const csv_reader *r);

/* Releases the reader (NULL is fine). */
void csv_close(csv_reader *r);

/* 1 if field equals `name` exactly. */
int csv_field_is(csv_field f, const char *name);

/* Index of the first of `names` (NULL-terminated list, tried in order)
 * found among the header fields, or -1. */
int csv_find_column(const csv_field *header, size_t n, const char *const *names);

/* Parses a decimal number (optional sign, digits, optional fraction and
 * exponent; no spaces, no hex, no nan/inf) correctly rounded as strtod
 * would. Returns 0 on success, -1 if the field is not such a number. */
int csv_parse_double(const char *p, size_t len, double *out);

/* Writes the shortest decimal that reads back as exactly `v`, formatted like
 * Python's repr (so "100.0", "39.28162046949048", "1e-05") into out[32]. */
void csv_format_double(double v, char out[32]);

/* Writes `text` as one CSV field, quoted (with "" escapes) when it holds a
 * comma, quote, CR or LF. */
void csv_write_field(FILE *out, const char *text);

/* Parses a coordinate field: a decimal number within [-limit, limit] (90
 * for latitudes, 180 for longitudes). Returns 0, or -1 with a reason that
 * starts with `name` in msg: "LAT: missing value", "LAT: 'abc' is not a
 * number", "LAT: 'nan' is not a finite number", "LAT: 91 is outside
 * [-90, 90]" (the field's text is shown printable and cut at 40 bytes). */
int csv_parse_coordinate(const char *p, size_t len, const char *name, double limit, double *out,
                         char *msg, size_t msg_size);

/* Parses a non-negative decimal integer that fits in 63 bits. */
int csv_parse_uint(const char *p, size_t len, unsigned long long *out);

#endif
