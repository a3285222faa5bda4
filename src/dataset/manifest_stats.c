/* The summary of a manifest that `geoloc dataset info` prints: bounding box,
 * distinct authors, photos per S3 scene. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "geoloc/dataset.h"

static int compare_strings(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

geoloc_status geoloc_manifest_summarize(const geoloc_manifest *m, geoloc_manifest_stats *out,
                                        geoloc_error *err) {
    if (!m || !out) return error_set(err, GEOLOC_E_ARG, "manifest summary: missing argument");
    memset(out, 0, sizeof *out);
    out->n = m->n;
    if (!m->n) return GEOLOC_OK;
    const char **authors = malloc(m->n * sizeof *authors);
    if (!authors) return error_set(err, GEOLOC_E_NOMEM, "manifest summary: out of memory for %zu authors", m->n);
    out->lat_min = 90, out->lat_max = -90, out->lng_min = 180, out->lng_max = -180;
    size_t n_auth = 0;
    for (size_t k = 0; k < m->n; k++) {
        const geoloc_manifest_row *r = &m->row[k];
        out->lat_min = fmin(out->lat_min, r->lat), out->lat_max = fmax(out->lat_max, r->lat);
        out->lng_min = fmin(out->lng_min, r->lng), out->lng_max = fmax(out->lng_max, r->lng);
        if (*r->author) authors[n_auth++] = r->author;
        else out->n_without_author++;
        if (r->label[0] >= 0 && r->label[0] < 3) out->n_scene[r->label[0]]++;
        else out->n_without_scene++;
    }
    qsort(authors, n_auth, sizeof *authors, compare_strings);
    for (size_t k = 0; k < n_auth; k++) out->n_authors += k == 0 || strcmp(authors[k], authors[k - 1]);
    free(authors);
    return GEOLOC_OK;
}
