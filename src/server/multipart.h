/* multipart/form-data bodies (RFC 7578, RFC 2046 section 5.1): the parts'
 * byte ranges inside the body, without copying. Internal. */
#ifndef GEOLOC_SERVER_MULTIPART_H
#define GEOLOC_SERVER_MULTIPART_H

#include <stddef.h>
#include <stdint.h>

/* One part: its content bytes, and the name and filename of its
 * Content-Disposition (NUL-terminated, truncated to fit; empty when absent). */
typedef struct multipart_part {
    const uint8_t *data;
    size_t size;
    char name[128];
    char filename[256];
    char content_type[128];
} multipart_part;

/* The boundary of a Content-Type header value ("multipart/form-data;
 * boundary=..."), quoted or not, into out (1..70 characters); 0, or -1 when
 * the header is not multipart/form-data or has no valid boundary. */
int multipart_boundary(const char *content_type, char *out, size_t size);

/* Splits body into its parts: at most max_parts are stored in parts; *n_parts
 * receives how many the body holds (which may be more: the caller refuses).
 * 0, or -1 with a message in why for a malformed body (no closing delimiter,
 * a part without headers, headers over 8 KiB...). */
int multipart_parse(const uint8_t *body, size_t size, const char *boundary, multipart_part *parts,
                    size_t max_parts, size_t *n_parts, char *why, size_t why_size);

#endif
