/* Reading photo coordinates from CSV, in parallel when the file allows it.
 *
 * A file without any double quote has one row per line, so its body is cut
 * at line ends into one chunk per thread; every line gets a slot (blank or
 * invalid lines are flagged) and the slots are compacted in file order
 * afterwards, so the result and the messages do not depend on the thread
 * count. A file with quotes is read row by row by the general CSV reader. */
#include "geoloc/points.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "core/error.h"
#include "io/csv.h"

#define MAX_HEADER_FIELDS 1024
#define MAX_THREADS 16
#define MIN_CHUNK (1 << 20)

enum { SLOT_OK = 0, SLOT_BLANK = 1, SLOT_BAD = 2 };

typedef struct {
    int lat, lng, id; /* column indexes; id = -1 when absent or not wanted */
    size_t needed;    /* fields a row must have */
    char lat_name[64], lng_name[64];
} columns;

static const char *const LAT_NAMES[] = {"lat", "latitude", NULL};
static const char *const LNG_NAMES[] = {"lon", "lng", "longitude", "long", NULL};
static const char *const ID_NAMES[] = {"img_id", "id", "image_id", "photo_id", "img_path",
                                       "image", NULL};

static int find_column_nocase(const csv_field *h, size_t n, const char *const *names) {
    for (const char *const *name = names; *name; name++)
        for (size_t k = 0; k < n; k++)
            if (h[k].len == strlen(*name) && strncasecmp(h[k].p, *name, h[k].len) == 0)
                return (int)k;
    return -1;
}

static void field_name(csv_field f, char *out, size_t size) {
    size_t len = f.len < size - 1 ? f.len : size - 1;
    memcpy(out, f.p, len);
    out[len] = '\0';
}

/* Checks a row's fields; returns 0 and the coordinates, or -1 with msg. */
static int parse_row(const csv_field *f, size_t nf, const columns *c, double *lat, double *lng,
                     char *msg, size_t msg_size) {
    if (nf < c->needed) {
        if (msg) snprintf(msg, msg_size, "expected at least %zu fields, found %zu", c->needed, nf);
        return -1;
    }
    if (csv_parse_coordinate(f[c->lat].p, f[c->lat].len, c->lat_name, 90, lat, msg, msg_size) != 0)
        return -1;
    return csv_parse_coordinate(f[c->lng].p, f[c->lng].len, c->lng_name, 180, lng, msg, msg_size);
}

/* Splits an unquoted line [p, end) at commas into up to max fields; returns
 * the field count (all of them, even beyond max). */
static size_t split_line(const char *p, const char *end, csv_field *f, size_t max) {
    size_t n = 0;
    for (;;) {
        const char *comma = memchr(p, ',', (size_t)(end - p));
        const char *stop = comma ? comma : end;
        if (n < max) f[n] = (csv_field){p, (size_t)(stop - p)};
        n++;
        if (!comma) return n;
        p = comma + 1;
    }
}

/* ---- growable id pool -------------------------------------------------- */

typedef struct {
    char *data;
    size_t len, cap;
} pool;

static int64_t pool_add(pool *pl, const char *s, size_t len) {
    if (pl->len + len + 1 > pl->cap) {
        size_t cap = pl->cap ? pl->cap * 2 : 1 << 16;
        while (cap < pl->len + len + 1) cap *= 2;
        char *d = realloc(pl->data, cap);
        if (!d) return -1;
        pl->data = d;
        pl->cap = cap;
    }
    memcpy(pl->data + pl->len, s, len);
    pl->data[pl->len + len] = '\0';
    pl->len += len + 1;
    return (int64_t)(pl->len - len - 1);
}

/* ---- per-slot results shared by both paths ------------------------------ */

typedef struct {
    size_t n_slots;
    double *lat, *lng;
    uint8_t *state;
    int64_t *id_off;  /* offset in the pool of the slot's chunk, or NULL */
    size_t *offset;   /* byte offset of each slot's line start (for messages) */
    long *line;       /* line number of each slot */
} slots;

typedef struct {
    const char *data;
    size_t begin, end;
    size_t slot0;
    long line0;
    const columns *cols;
    slots *s;
    pool ids;
    int failed; /* allocation failure */
} chunk;

static void *parse_chunk(void *arg) {
    chunk *ch = arg;
    const columns *c = ch->cols;
    slots *s = ch->s;
    const char *p = ch->data + ch->begin, *end = ch->data + ch->end;
    size_t slot = ch->slot0;
    long line = ch->line0;
    csv_field f[MAX_HEADER_FIELDS];
    size_t max = c->needed < MAX_HEADER_FIELDS ? c->needed : MAX_HEADER_FIELDS;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *stop = nl ? nl : end;
        const char *next = nl ? nl + 1 : end;
        if (stop > p && stop[-1] == '\r') stop--;
        s->offset[slot] = (size_t)(p - ch->data);
        s->line[slot] = line;
        if (stop == p) {
            s->state[slot] = SLOT_BLANK;
        } else {
            size_t nf = split_line(p, stop, f, max);
            if (parse_row(f, nf, c, &s->lat[slot], &s->lng[slot], NULL, 0) != 0) {
                s->state[slot] = SLOT_BAD;
            } else {
                s->state[slot] = SLOT_OK;
                if (s->id_off) {
                    s->id_off[slot] = pool_add(&ch->ids, f[c->id].p, f[c->id].len);
                    if (s->id_off[slot] < 0) ch->failed = 1;
                }
            }
        }
        slot++;
        line++;
        p = next;
    }
    return NULL;
}

static size_t count_lines(const char *p, size_t len) {
    size_t n = 0;
    const char *end = p + len;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        n++;
        if (!nl) break;
        p = nl + 1;
    }
    return n;
}

static void slots_free(slots *s) {
    free(s->lat);
    free(s->lng);
    free(s->state);
    free(s->id_off);
    free(s->offset);
    free(s->line);
}

static int slots_alloc(slots *s, size_t n, int with_ids) {
    memset(s, 0, sizeof *s);
    size_t m = n ? n : 1;
    s->n_slots = n;
    s->lat = malloc(m * sizeof *s->lat);
    s->lng = malloc(m * sizeof *s->lng);
    s->state = malloc(m);
    s->offset = malloc(m * sizeof *s->offset);
    s->line = malloc(m * sizeof *s->line);
    if (with_ids) s->id_off = malloc(m * sizeof *s->id_off);
    return s->lat && s->lng && s->state && s->offset && s->line && (!with_ids || s->id_off);
}

static int thread_count(const geoloc_points_options *opt, size_t bytes) {
    long t = opt->threads > 0 ? opt->threads : sysconf(_SC_NPROCESSORS_ONLN);
    if (t < 1) t = 1;
    if (t > MAX_THREADS) t = MAX_THREADS;
    if ((size_t)t > bytes / MIN_CHUNK + 1) t = (long)(bytes / MIN_CHUNK + 1);
    return (int)t;
}

/* Fills slots from an unquoted body in parallel. */
static geoloc_status parse_parallel(const char *data, size_t body, size_t size, long line0,
                                    const columns *c, const geoloc_points_options *opt, slots *s,
                                    chunk *chunks, int *n_chunks, geoloc_error *err,
                                    const char *path) {
    int t = thread_count(opt, size - body);
    size_t bounds[MAX_THREADS + 1];
    bounds[0] = body;
    for (int k = 1; k < t; k++) {
        size_t b = body + (size - body) / (size_t)t * (size_t)k;
        if (b < bounds[k - 1]) b = bounds[k - 1];
        const char *nl = memchr(data + b, '\n', size - b);
        bounds[k] = nl ? (size_t)(nl - data) + 1 : size;
    }
    bounds[t] = size;
    size_t n_lines[MAX_THREADS], total = 0;
    for (int k = 0; k < t; k++) {
        n_lines[k] = count_lines(data + bounds[k], bounds[k + 1] - bounds[k]);
        total += n_lines[k];
    }
    if (!slots_alloc(s, total, c->id >= 0))
        return error_set(err, GEOLOC_E_NOMEM, "%s: out of memory", path);
    pthread_t tid[MAX_THREADS];
    size_t slot = 0;
    long line = line0;
    for (int k = 0; k < t; k++) {
        chunks[k] = (chunk){data, bounds[k], bounds[k + 1], slot, line, c, s, {0}, 0};
        slot += n_lines[k];
        line += (long)n_lines[k];
    }
    int started = 0;
    for (int k = 1; k < t; k++)
        if (pthread_create(&tid[k], NULL, parse_chunk, &chunks[k]) == 0) started = k;
        else break;
    parse_chunk(&chunks[0]);
    for (int k = 1; k <= started; k++) pthread_join(tid[k], NULL);
    for (int k = started + 1; k < t; k++) parse_chunk(&chunks[k]);
    *n_chunks = t;
    for (int k = 0; k < t; k++)
        if (chunks[k].failed) return error_set(err, GEOLOC_E_NOMEM, "%s: out of memory", path);
    return GEOLOC_OK;
}

/* Fills slots row by row with the general reader (files with quotes). */
static geoloc_status parse_serial(csv_reader *r, const columns *c, const char *data, size_t size,
                                  slots *s, chunk *ch, geoloc_error *err, const char *path) {
    size_t body = csv_offset(r);
    if (!slots_alloc(s, count_lines(data + body, size - body), c->id >= 0))
        return error_set(err, GEOLOC_E_NOMEM, "%s: out of memory", path);
    *ch = (chunk){data, body, size, 0, 0, c, s, {0}, 0};
    csv_field f[MAX_HEADER_FIELDS];
    size_t nf, slot = 0;
    for (;;) {
        size_t at = csv_offset(r);
        int rc = csv_next_row(r, f, MAX_HEADER_FIELDS, &nf, err);
        if (rc == 0) break;
        if (rc < 0) return err->status;
        s->offset[slot] = at;
        s->line[slot] = csv_line(r);
        if (nf == 1 && f[0].len == 0) {
            s->state[slot] = SLOT_BLANK;
        } else if (parse_row(f, nf, c, &s->lat[slot], &s->lng[slot], NULL, 0) != 0) {
            s->state[slot] = SLOT_BAD;
        } else {
            s->state[slot] = SLOT_OK;
            if (s->id_off) {
                s->id_off[slot] = pool_add(&ch->ids, f[c->id].p, f[c->id].len);
                if (s->id_off[slot] < 0) return error_set(err, GEOLOC_E_NOMEM, "%s: out of memory", path);
            }
        }
        slot++;
    }
    s->n_slots = slot;
    return GEOLOC_OK;
}

/* Message for a bad slot: re-reads its row with the general reader. */
static void bad_row_message(const char *data, size_t size, size_t offset, long line,
                            const columns *c, const char *path, char *out, size_t out_size) {
    csv_reader *r = csv_open_buffer(data + offset, size - offset, path);
    csv_field f[MAX_HEADER_FIELDS];
    size_t nf = 0;
    geoloc_error e;
    char msg[400];
    double lat, lng;
    if (!r || csv_next_row(r, f, MAX_HEADER_FIELDS, &nf, &e) < 0)
        snprintf(msg, sizeof msg, "malformed row");
    else
        parse_row(f, nf, c, &lat, &lng, msg, sizeof msg);
    csv_close(r);
    snprintf(out, out_size, "%s:%ld: %s", path, line, msg);
}

geoloc_status geoloc_points_read_csv(const char *path, const geoloc_points_options *options,
                                     geoloc_points **out, geoloc_error *err) {
    geoloc_points_options defaults = {0};
    const geoloc_points_options *opt = options ? options : &defaults;
    geoloc_error local;
    if (!err) err = &local;
    *out = NULL;
    csv_reader *r = csv_open(path, err);
    if (!r) return err->status;
    size_t size;
    const char *data = csv_data(r, &size);
    csv_field h[MAX_HEADER_FIELDS];
    size_t nh = 0;
    geoloc_status st = GEOLOC_OK;
    int rc = csv_next_row(r, h, MAX_HEADER_FIELDS, &nh, err);
    if (rc <= 0) {
        csv_close(r);
        if (rc == 0) return error_set(err, GEOLOC_E_EMPTY, "%s: empty file (no header line)", path);
        return err->status;
    }
    if (nh > MAX_HEADER_FIELDS) {
        csv_close(r);
        return error_set(err, GEOLOC_E_PARSE, "%s:1: more than %d columns", path, MAX_HEADER_FIELDS);
    }
    columns c = {find_column_nocase(h, nh, LAT_NAMES), find_column_nocase(h, nh, LNG_NAMES), -1, 0, "", ""};
    if (c.lat < 0 || c.lng < 0) {
        csv_close(r);
        return error_set(err, GEOLOC_E_PARSE,
                         "%s:1: no %s column in the header (expected LAT/lat/latitude and "
                         "LON/lng/lon/longitude)", path, c.lat < 0 ? "latitude" : "longitude");
    }
    if (opt->with_ids) c.id = find_column_nocase(h, nh, ID_NAMES);
    field_name(h[c.lat], c.lat_name, sizeof c.lat_name);
    field_name(h[c.lng], c.lng_name, sizeof c.lng_name);
    c.needed = (size_t)(c.lat > c.lng ? c.lat : c.lng) + 1;
    if (c.id >= 0 && (size_t)c.id + 1 > c.needed) c.needed = (size_t)c.id + 1;

    slots s;
    memset(&s, 0, sizeof s);
    chunk chunks[MAX_THREADS];
    int n_chunks = 1;
    memset(chunks, 0, sizeof chunks);
    size_t body = csv_offset(r);
    if (memchr(data + body, '"', size - body) == NULL)
        st = parse_parallel(data, body, size, csv_line(r) + 1, &c, opt, &s, chunks, &n_chunks, err, path);
    else
        st = parse_serial(r, &c, data, size, &s, &chunks[0], err, path);

    geoloc_points *p = NULL;
    if (st == GEOLOC_OK) {
        p = calloc(1, sizeof *p);
        size_t m = s.n_slots ? s.n_slots : 1;
        if (p) {
            p->lat = malloc(m * sizeof *p->lat);
            p->lng = malloc(m * sizeof *p->lng);
            if (opt->with_lines) p->line = malloc(m * sizeof *p->line);
            if (c.id >= 0) p->id = malloc(m * sizeof *p->id);
        }
        if (!p || !p->lat || !p->lng || (opt->with_lines && !p->line) || (c.id >= 0 && !p->id))
            st = error_set(err, GEOLOC_E_NOMEM, "%s: out of memory", path);
    }
    /* Compact in file order; merge the chunks' id pools into one. */
    char *ids = NULL;
    if (st == GEOLOC_OK && c.id >= 0) {
        size_t total = 0;
        for (int k = 0; k < n_chunks; k++) total += chunks[k].ids.len;
        ids = malloc(total ? total : 1);
        if (!ids) st = error_set(err, GEOLOC_E_NOMEM, "%s: out of memory", path);
        size_t base = 0;
        for (int k = 0; ids && k < n_chunks; k++) {
            if (chunks[k].ids.len) memcpy(ids + base, chunks[k].ids.data, chunks[k].ids.len);
            size_t len = chunks[k].ids.len;
            chunks[k].ids.len = base; /* from here on: where this chunk's ids start */
            base += len;
        }
    }
    if (st == GEOLOC_OK) {
        int chunk_k = 0;
        size_t n = 0;
        for (size_t k = 0; k < s.n_slots && st == GEOLOC_OK; k++) {
            while (chunk_k + 1 < n_chunks && k >= chunks[chunk_k + 1].slot0) chunk_k++;
            if (s.state[k] == SLOT_BLANK) continue;
            if (s.state[k] == SLOT_BAD) {
                char msg[512];
                bad_row_message(data, size, s.offset[k], s.line[k], &c, path, msg, sizeof msg);
                if (!opt->skip_invalid) {
                    st = error_set(err, GEOLOC_E_PARSE, "%s", msg);
                    break;
                }
                p->n_skipped++;
                if (opt->on_skip) opt->on_skip(opt->ctx, msg);
                continue;
            }
            p->lat[n] = s.lat[k];
            p->lng[n] = s.lng[k];
            if (p->line) p->line[n] = s.line[k];
            if (p->id) p->id[n] = ids + chunks[chunk_k].ids.len + (size_t)s.id_off[k];
            n++;
        }
        p->n = n;
        if (st == GEOLOC_OK && n == 0)
            st = error_set(err, GEOLOC_E_EMPTY, "%s: no valid rows%s", path,
                           p->n_skipped ? " (all were skipped as invalid)" : "");
    }
    for (int k = 0; k < n_chunks; k++) free(chunks[k].ids.data);
    slots_free(&s);
    csv_close(r);
    if (st != GEOLOC_OK) {
        free(ids);
        if (p) p->id_pool = NULL;
        geoloc_points_free(p);
        return st;
    }
    if (p->id) p->id_pool = ids;
    else free(ids);
    *out = p;
    return GEOLOC_OK;
}

void geoloc_points_free(geoloc_points *points) {
    if (!points) return;
    free(points->lat);
    free(points->lng);
    free(points->line);
    free(points->id);
    free(points->id_pool);
    free(points);
}
