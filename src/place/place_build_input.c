/* Reading the builder's two inputs (written by tools/places-convert.js). */
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "io/csv.h"
#include "io/mapped_file.h"
#include "place/place_build.h"

void *place_vec_push(place_vec *v, const void *rec) {
    if (v->n == v->cap) {
        size_t cap = v->cap ? 2 * v->cap : 64;
        void *d = realloc(v->data, cap * v->size);
        if (!d) return NULL;
        v->data = d;
        v->cap = cap;
    }
    void *slot = (char *)v->data + v->n++ * v->size;
    memcpy(slot, rec, v->size);
    return slot;
}

void place_vec_free(place_vec *v) {
    free(v->data);
    memset(v, 0, sizeof *v);
}

/* Appends [p, p+len) and a NUL to the string table; *at gets its offset. */
static int add_string(place_input *in, const char *p, size_t len, uint32_t *at) {
    *at = (uint32_t)in->strings.n;
    const char nul = '\0';
    for (size_t i = 0; i < len; i++)
        if (!place_vec_push(&in->strings, p[i] ? &p[i] : &nul)) return -1;
    return place_vec_push(&in->strings, &nul) ? 0 : -1;
}

/* Parses the ring on one "R" line into edges of country `country`. */
static int add_ring(place_input *in, const char *p, const char *end, uint32_t country) {
    float first[2], prev[2];
    size_t n = 0;
    while (p < end) {
        char *next;
        double lon = strtod(p, &next);
        if (next == p) break;
        double lat = strtod(next, &next);
        if (!(lon >= -180 && lon <= 180 && lat >= -90 && lat <= 90)) return -1;
        p = next;
        float pt[2] = {(float)lon, (float)lat};
        if (n == 0) memcpy(first, pt, sizeof pt);
        else if (pt[0] != prev[0] || pt[1] != prev[1]) {
            place_edge e = {prev[0], prev[1], pt[0], pt[1], country};
            if (!place_vec_push(&in->edges, &e)) return -1;
        }
        memcpy(prev, pt, sizeof pt);
        n++;
    }
    while (p < end && (*p == ' ' || *p == '\r')) p++;
    if (p != end || n < 3) return -1;
    if (first[0] != prev[0] || first[1] != prev[1]) {
        place_edge e = {prev[0], prev[1], first[0], first[1], country};
        if (!place_vec_push(&in->edges, &e)) return -1;
    }
    return 0;
}

static geoloc_status read_countries(const char *path, place_input *in, geoloc_error *err) {
    const void *data;
    size_t size;
    geoloc_status st = mapped_file_open(path, &data, &size, err);
    if (st != GEOLOC_OK) return st;
    const char *p = data, *end = p + size;
    long line = 0;
    while (p < end && st == GEOLOC_OK) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        if (!eol) eol = end;
        line++;
        if (eol - p >= 5 && p[0] == 'C' && p[1] == '\t' && (p[2] == '\t' || p[4] == '\t')) {
            place_country c = {0};
            const char *name = p[2] == '\t' ? p + 3 : p + 5;
            if (p[2] != '\t') memcpy(c.code, p + 2, 2);
            size_t len = (size_t)(eol - name);
            if (len && name[len - 1] == '\r') len--;
            if (add_string(in, name, len, &c.name) || !place_vec_push(&in->countries, &c))
                st = error_set(err, GEOLOC_E_NOMEM, "%s: out of memory", path);
        } else if (eol - p >= 2 && p[0] == 'R' && p[1] == '\t' && in->countries.n) {
            if (add_ring(in, p + 2, eol, (uint32_t)in->countries.n - 1))
                st = error_set(err, GEOLOC_E_PARSE, "%s:%ld: bad ring (lon lat pairs, at least 3)", path, line);
        } else if (eol != p) {
            st = error_set(err, GEOLOC_E_PARSE, "%s:%ld: expected a 'C' or 'R' line", path, line);
        }
        p = eol + 1;
    }
    mapped_file_close(data, size);
    if (st == GEOLOC_OK && (!in->countries.n || !in->edges.n))
        st = error_set(err, GEOLOC_E_EMPTY, "%s: no country outlines", path);
    return st;
}

static geoloc_status read_cities(const char *path, place_input *in, geoloc_error *err) {
    csv_reader *r = csv_open(path, err);
    if (!r) return err ? err->status : GEOLOC_E_IO;
    csv_field f[8];
    size_t n;
    geoloc_status st = GEOLOC_OK;
    int rc = csv_next_row(r, f, 8, &n, err); /* header */
    while (rc == 1 && (rc = csv_next_row(r, f, 8, &n, err)) == 1) {
        if (n == 1 && f[0].len == 0) continue;
        place_city c = {0};
        double lat, lon;
        unsigned long long pop;
        char msg[128];
        if (n != 6 || f[1].len != 2 || csv_parse_uint(f[3].p, f[3].len, &pop) || pop > UINT32_MAX ||
            csv_parse_coordinate(f[4].p, f[4].len, "lat", 90, &lat, msg, sizeof msg) ||
            csv_parse_coordinate(f[5].p, f[5].len, "lon", 180, &lon, msg, sizeof msg)) {
            st = error_set(err, GEOLOC_E_PARSE, "%s:%ld: expected name,country,admin1,population,lat,lon",
                           path, csv_line(r));
            break;
        }
        memcpy(c.country, f[1].p, 2);
        c.lat = (float)lat;
        c.lon = (float)lon;
        c.population = (uint32_t)pop;
        if (add_string(in, f[0].p, f[0].len, &c.name) || !place_vec_push(&in->cities, &c)) {
            st = error_set(err, GEOLOC_E_NOMEM, "%s: out of memory", path);
            break;
        }
    }
    if (rc < 0) st = err ? err->status : GEOLOC_E_PARSE;
    csv_close(r);
    if (st == GEOLOC_OK && !in->cities.n) st = error_set(err, GEOLOC_E_EMPTY, "%s: no cities", path);
    return st;
}

geoloc_status place_input_read(const char *countries, const char *cities, place_input *in,
                               geoloc_error *err) {
    memset(in, 0, sizeof *in);
    in->countries.size = sizeof(place_country);
    in->edges.size = sizeof(place_edge);
    in->cities.size = sizeof(place_city);
    in->strings.size = 1;
    geoloc_status st = read_countries(countries, in, err);
    if (st == GEOLOC_OK) st = read_cities(cities, in, err);
    if (st != GEOLOC_OK) place_input_free(in);
    return st;
}

void place_input_free(place_input *in) {
    place_vec_free(&in->countries);
    place_vec_free(&in->edges);
    place_vec_free(&in->cities);
    place_vec_free(&in->strings);
}
