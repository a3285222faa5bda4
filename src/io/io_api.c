/* The public file building blocks (geoloc/io.h): the library's internal
 * atomic writer, CSV reader and mapped files under their geoloc_ names. */
#include "geoloc/io.h"

#include "io/atomic_file.h"
#include "io/csv.h"
#include "io/mapped_file.h"
#include "io/regular_file.h"

geoloc_status geoloc_atomic_file_open(geoloc_atomic_file *f, const char *path, geoloc_error *err) {
    return atomic_file_open(f, path, err);
}

geoloc_status geoloc_atomic_file_commit(geoloc_atomic_file *f, geoloc_error *err) {
    return atomic_file_commit(f, err);
}

void geoloc_atomic_file_abort(geoloc_atomic_file *f) { atomic_file_abort(f); }

geoloc_csv_reader *geoloc_csv_open(const char *path, geoloc_error *err) {
    return csv_open(path, err);
}

geoloc_csv_reader *geoloc_csv_open_buffer(const char *data, size_t size, const char *name) {
    return csv_open_buffer(data, size, name);
}

int geoloc_csv_next_row(geoloc_csv_reader *r, geoloc_csv_field *fields, size_t max_fields,
                        size_t *n_fields, geoloc_error *err) {
    return csv_next_row(r, fields, max_fields, n_fields, err);
}

long geoloc_csv_line(const geoloc_csv_reader *r) { return csv_line(r); }

const char *geoloc_csv_data(const geoloc_csv_reader *r, size_t *size) { return csv_data(r, size); }

void geoloc_csv_close(geoloc_csv_reader *r) { csv_close(r); }

int geoloc_csv_field_is(geoloc_csv_field f, const char *name) { return csv_field_is(f, name); }

int geoloc_csv_find_column(const geoloc_csv_field *header, size_t n, const char *const *names) {
    return csv_find_column(header, n, names);
}

int geoloc_csv_parse_coordinate(const char *p, size_t len, const char *name, double limit,
                                double *out, char *msg, size_t msg_size) {
    return csv_parse_coordinate(p, len, name, limit, out, msg, msg_size);
}

void geoloc_csv_format_double(double v, char out[32]) { csv_format_double(v, out); }

void geoloc_csv_write_field(FILE *out, const char *text) { csv_write_field(out, text); }

geoloc_status geoloc_mapped_file_open(const char *path, const void **data, size_t *size,
                                      geoloc_error *err) {
    return mapped_file_open(path, data, size, err);
}

void geoloc_mapped_file_close(const void *data, size_t size) { mapped_file_close(data, size); }

geoloc_status geoloc_file_read(const char *path, uint64_t max_bytes, const char *limit_name,
                               uint8_t **data, size_t *size, geoloc_error *err) {
    return regular_file_read(path, max_bytes, limit_name, data, size, err);
}

size_t geoloc_csv_offset(const geoloc_csv_reader *r) { return csv_offset(r); }
