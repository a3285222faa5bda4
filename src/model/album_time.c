/* Albums by capture time: the photos with a time sorted chronologically and
 * cut where consecutive photos are more than the gap apart; the photos
 * without one alone, or grouped by a fallback key (geoloc_album_group); the
 * photos' order inside each album (the order an album's sequence model reads
 * them in); the capture times of a manifest's DATETIME column. */
#include <stdlib.h>

#include "core/error.h"
#include "geoloc/album.h"
#include "geoloc/exif.h"

typedef struct timed {
    int64_t t;
    size_t index;
} timed;

/* By time, then by input order. */
static int compare_timed(const void *x, const void *y) {
    const timed *a = x, *b = y;
    if (a->t != b->t) return a->t < b->t ? -1 : 1;
    return a->index < b->index ? -1 : a->index > b->index;
}

/* The untimed photos' albums (numbered from *n_albums on, in input order),
 * appended to order album by album. */
static geoloc_status group_untimed(const unsigned char *has_time, const char *const *fallback_keys, size_t n,
                                   size_t *album_of, size_t *order, size_t *placed, size_t *n_albums,
                                   geoloc_error *err) {
    const char **keys = malloc(n * sizeof *keys);
    size_t *local = malloc(n * sizeof *local), *untimed = malloc(n * sizeof *untimed), m = 0, groups = 0;
    geoloc_status s = GEOLOC_OK;
    if (!keys || !local || !untimed) s = error_set(err, GEOLOC_E_NOMEM, "out of memory");
    for (size_t i = 0; s == GEOLOC_OK && i < n; i++)
        if (!has_time[i]) {
            keys[m] = fallback_keys ? fallback_keys[i] : NULL;
            untimed[m++] = i;
        }
    if (s == GEOLOC_OK && m) s = geoloc_album_group(keys, m, local, &groups, err);
    size_t *next = s == GEOLOC_OK ? calloc(groups + 1, sizeof *next) : NULL; /* each album's next place in order */
    if (s == GEOLOC_OK && !next) s = error_set(err, GEOLOC_E_NOMEM, "out of memory");
    for (size_t k = 0; s == GEOLOC_OK && k < m; k++) next[local[k] + 1]++;
    for (size_t g = 0; s == GEOLOC_OK && g < groups; g++) next[g + 1] += next[g];
    for (size_t k = 0; s == GEOLOC_OK && k < m; k++) { /* in input order inside each album */
        album_of[untimed[k]] = *n_albums + local[k];
        order[*placed + next[local[k]]++] = untimed[k];
    }
    if (s == GEOLOC_OK) *placed += m;
    free(next);
    if (s == GEOLOC_OK) *n_albums += groups;
    free(keys);
    free(local);
    free(untimed);
    return s;
}

geoloc_status geoloc_album_group_time(const int64_t *seconds, const unsigned char *has_time,
                                      const char *const *fallback_keys, size_t n, double gap_hours,
                                      size_t *album_of, size_t *order, size_t *n_albums, size_t *n_untimed,
                                      geoloc_error *err) {
    *n_albums = 0;
    if (n_untimed) *n_untimed = 0;
    if (n == 0) return GEOLOC_OK;
    if (!seconds || !has_time || !album_of || !order || !(gap_hours >= 0))
        return error_set(err, GEOLOC_E_ARG, "album grouping by time: bad arguments");
    timed *sorted = malloc(n * sizeof *sorted);
    if (!sorted) return error_set(err, GEOLOC_E_NOMEM, "out of memory");
    size_t m = 0, placed = 0;
    for (size_t i = 0; i < n; i++)
        if (has_time[i]) sorted[m++] = (timed){seconds[i], i};
    qsort(sorted, m, sizeof *sorted, compare_timed);
    double gap = gap_hours * 3600.0;
    for (size_t k = 0; k < m; k++) {
        if (k == 0 || (double)(sorted[k].t - sorted[k - 1].t) > gap) (*n_albums)++;
        album_of[sorted[k].index] = *n_albums - 1;
        order[placed++] = sorted[k].index;
    }
    free(sorted);
    if (n_untimed) *n_untimed = n - m;
    return group_untimed(has_time, fallback_keys, n, album_of, order, &placed, n_albums, err);
}

long geoloc_album_manifest_times(const geoloc_manifest *m, int64_t *seconds, unsigned char *has_time,
                                 geoloc_error *err) {
    long column = geoloc_manifest_extra_column(m, "DATETIME");
    if (column < 0) {
        error_set(err, GEOLOC_E_ARG, "the manifest has no column DATETIME");
        return -1;
    }
    long timed_rows = 0;
    for (size_t k = 0; k < m->n; k++) {
        const char *v = m->extra[k * m->n_extra + (size_t)column];
        has_time[k] = v && geoloc_datetime_parse(v, &seconds[k]) == 0;
        timed_rows += has_time[k];
    }
    return timed_rows;
}
