/* Manifests: the photo lists of data sets as CSV (IMG_ID, LAT, LON, optional
 * AUTHOR, scene labels and probabilities, other columns kept as text),
 * compatible with the GeoEstimation meta files. Rows are parsed with the
 * shared CSV reader (io/csv.h); strings live in an append-only arena. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/error.h"
#include "dataset/arena.h"
#include "dataset/manifest_internal.h"
#include "geoloc/dataset.h"
#include "io/atomic_file.h"
#include "io/csv.h"

#define MAX_COLUMNS 1024
#define MAX_TEXT 4095 /* longest IMG_ID / AUTHOR */
#define PROB_SLACK 1e-4 /* probabilities may stray this far from [0, 1] */

typedef struct {
    arena strings;
    size_t cap;     /* rows allocated */
} store;

/* Column roles, in the order they are written. */
enum { ROLE_ID, ROLE_AUTHOR, ROLE_LAT, ROLE_LNG, ROLE_S3, ROLE_S16, ROLE_S365, ROLE_PIN, ROLE_PNA,
       ROLE_PUR, N_ROLES, ROLE_EXTRA = N_ROLES };

static const char *const CANONICAL[N_ROLES] = {"IMG_ID",     "AUTHOR",       "LAT",
                                               "LON",        "S3_Label",     "S16_Label",
                                               "S365_Label", "Prob_indoor",  "Prob_natural",
                                               "Prob_urban"};
static const char *const ID_NAMES[] = {"img_id", "id", "image_id", "photo_id", NULL};
static const char *const LAT_NAMES[] = {"lat", "latitude", NULL};
static const char *const LNG_NAMES[] = {"lon", "lng", "longitude", "long", NULL};
static const char *const AUTHOR_NAMES[] = {"author", NULL};
static const char *const S3_NAMES[] = {"s3_label", NULL};
static const char *const S16_NAMES[] = {"s16_label", NULL};
static const char *const S365_NAMES[] = {"s365_label", NULL};
static const char *const PIN_NAMES[] = {"prob_indoor", NULL};
static const char *const PNA_NAMES[] = {"prob_natural", NULL};
static const char *const PUR_NAMES[] = {"prob_urban", NULL};
static const char *const *const ROLE_NAMES[N_ROLES] = {
    ID_NAMES, AUTHOR_NAMES, LAT_NAMES, LNG_NAMES, S3_NAMES,
    S16_NAMES, S365_NAMES, PIN_NAMES, PNA_NAMES, PUR_NAMES};
static const unsigned ROLE_FLAG[N_ROLES] = {0, GEOLOC_COL_AUTHOR, 0, 0, GEOLOC_COL_S3,
                                           GEOLOC_COL_S16, GEOLOC_COL_S365,
                                           GEOLOC_COL_PROB_INDOOR, GEOLOC_COL_PROB_NATURAL,
                                           GEOLOC_COL_PROB_URBAN};
static const int LABEL_CLASSES[3] = {3, 16, 365};

/* ---- building ----------------------------------------------------------------- */

static store *store_of(const geoloc_manifest *m) { return m->internal; }

void geoloc_manifest_free(geoloc_manifest *m) {
    if (!m) return;
    store *s = store_of(m);
    if (s) {
        arena_free(&s->strings);
        free(s);
    }
    free(m->row);
    free(m->extra);
    free(m->extra_name);
    free(m);
}

geoloc_status geoloc_manifest_new(unsigned columns, const char *const *extra_names,
                                  size_t n_extra, geoloc_manifest **out, geoloc_error *err) {
    *out = NULL;
    if (n_extra > MAX_COLUMNS || (n_extra && !extra_names))
        return error_set(err, GEOLOC_E_ARG, "manifest: bad extra columns");
    geoloc_manifest *m = calloc(1, sizeof *m);
    store *s = calloc(1, sizeof *s);
    if (m) m->internal = s;
    if (m && n_extra) m->extra_name = calloc(n_extra, sizeof *m->extra_name);
    if (!m || !s || (n_extra && !m->extra_name)) {
        if (!m) free(s);
        geoloc_manifest_free(m);
        return error_set(err, GEOLOC_E_NOMEM, "manifest: out of memory");
    }
    m->columns = columns & (GEOLOC_COL_AUTHOR | GEOLOC_COL_S3 | GEOLOC_COL_S16 | GEOLOC_COL_S365 |
                            GEOLOC_COL_PROB_INDOOR | GEOLOC_COL_PROB_NATURAL |
                            GEOLOC_COL_PROB_URBAN);
    m->n_extra = n_extra;
    for (size_t j = 0; j < n_extra; j++) {
        const char *name = extra_names[j] ? extra_names[j] : "";
        if (!(m->extra_name[j] = arena_strndup(&s->strings, name, strlen(name)))) {
            geoloc_manifest_free(m);
            return error_set(err, GEOLOC_E_NOMEM, "manifest: out of memory");
        }
    }
    *out = m;
    return GEOLOC_OK;
}

static int grow(geoloc_manifest *m) {
    store *s = store_of(m);
    if (m->n < s->cap) return 0;
    size_t cap = s->cap ? s->cap * 2 : 1024;
    geoloc_manifest_row *row = realloc(m->row, cap * sizeof *row);
    if (!row) return -1;
    m->row = row;
    if (m->n_extra) {
        const char **extra = realloc(m->extra, cap * m->n_extra * sizeof *extra);
        if (!extra) return -1;
        m->extra = extra;
    }
    s->cap = cap;
    return 0;
}

geoloc_status geoloc_manifest_append(geoloc_manifest *m, const geoloc_manifest_row *row,
                                     const char *const *extra, geoloc_error *err) {
    store *s = store_of(m);
    if (!row->id) return error_set(err, GEOLOC_E_ARG, "manifest: row without IMG_ID");
    if (grow(m) != 0) return error_set(err, GEOLOC_E_NOMEM, "manifest: out of memory");
    geoloc_manifest_row r = *row;
    const char *author = row->author ? row->author : "";
    r.id = arena_strndup(&s->strings, row->id, strlen(row->id));
    r.author = *author ? arena_strndup(&s->strings, author, strlen(author)) : "";
    if (!r.id || !r.author) return error_set(err, GEOLOC_E_NOMEM, "manifest: out of memory");
    for (size_t j = 0; j < m->n_extra; j++) {
        const char *v = extra && extra[j] ? extra[j] : "";
        const char *copy = *v ? arena_strndup(&s->strings, v, strlen(v)) : "";
        if (!copy) return error_set(err, GEOLOC_E_NOMEM, "manifest: out of memory");
        m->extra[m->n * m->n_extra + j] = copy;
    }
    m->row[m->n++] = r;
    return GEOLOC_OK;
}

long geoloc_manifest_extra_column(const geoloc_manifest *m, const char *name) {
    for (size_t j = 0; j < m->n_extra; j++)
        if (!strcasecmp(m->extra_name[j], name)) return (long)j;
    return -1;
}

/* ---- reading ------------------------------------------------------------------ */

typedef struct {
    int role[MAX_COLUMNS];     /* per header column: ROLE_* or ROLE_EXTRA + j */
    int col[N_ROLES];          /* per role: header column or -1 */
    char name[N_ROLES][64];    /* header text of each role's column (messages) */
    size_t n_fields;
} layout;

static int name_is(csv_field f, const char *name) {
    return f.len == strlen(name) && strncasecmp(f.p, name, f.len) == 0;
}

/* Copy of a field for messages: printable, cut at 40 bytes. */
static void shown(csv_field f, char out[48]) {
    size_t n = 0;
    for (size_t k = 0; k < f.len && n < 40; k++) {
        unsigned char c = (unsigned char)f.p[k];
        out[n++] = c >= 0x20 && c < 0x7f ? (char)c : '?';
    }
    if (n < f.len) memcpy(out + n, "...", 3), n += 3;
    out[n] = '\0';
}

/* Checks a text field (IMG_ID, AUTHOR, extra): no NUL, bounded length. */
static int check_text(csv_field f, const char *name, size_t max, char *msg, size_t size) {
    if (memchr(f.p, '\0', f.len)) {
        snprintf(msg, size, "%s: contains a NUL byte", name);
        return -1;
    }
    if (f.len > max) {
        snprintf(msg, size, "%s: longer than %zu bytes", name, max);
        return -1;
    }
    return 0;
}

/* IMG_ID must name a file below the image root. */
static int check_id(csv_field f, const char *name, char *msg, size_t size) {
    char text[48];
    if (f.len == 0) {
        snprintf(msg, size, "%s: missing value", name);
        return -1;
    }
    if (check_text(f, name, MAX_TEXT, msg, size) != 0) return -1;
    shown(f, text);
    if (f.p[0] == '/') {
        snprintf(msg, size, "%s: '%s' is an absolute path (expected one relative to the image root)",
                 name, text);
        return -1;
    }
    for (size_t k = 0; k < f.len;) { /* each path component */
        const char *slash = memchr(f.p + k, '/', f.len - k);
        size_t end = slash ? (size_t)(slash - f.p) : f.len;
        if (end - k == 2 && f.p[k] == '.' && f.p[k + 1] == '.') {
            snprintf(msg, size, "%s: '%s' leaves the image root (has a '..' part)", name, text);
            return -1;
        }
        k = end + 1;
    }
    return 0;
}

static int parse_label(csv_field f, const char *name, int classes, int32_t *out, char *msg,
                       size_t size) {
    char text[48];
    unsigned long long v;
    if (f.len == 0) {
        *out = -1;
        return 0;
    }
    shown(f, text);
    if (csv_parse_uint(f.p, f.len, &v) != 0) {
        snprintf(msg, size, "%s: '%s' is not a non-negative integer", name, text);
        return -1;
    }
    if (v >= (unsigned long long)classes) {
        snprintf(msg, size, "%s: %s is outside [0, %d]", name, text, classes - 1);
        return -1;
    }
    *out = (int32_t)v;
    return 0;
}

static int parse_prob(csv_field f, const char *name, double *out, char *msg, size_t size) {
    char text[48];
    if (f.len == 0) {
        *out = NAN;
        return 0;
    }
    shown(f, text);
    if (csv_parse_double(f.p, f.len, out) != 0) {
        snprintf(msg, size, "%s: '%s' is not a number", name, text);
        return -1;
    }
    if (!(*out >= -PROB_SLACK && *out <= 1 + PROB_SLACK)) { /* float32 softmax rounding */
        snprintf(msg, size, "%s: %s is outside [0, 1]", name, text);
        return -1;
    }
    return 0;
}

/* Parses one data row into r (strings not yet copied: ids point into f). */
static int parse_row(const layout *L, const csv_field *f, size_t nf, int blank_position, geoloc_manifest_row *r,
                     char *msg, size_t size) {
    if (nf != L->n_fields) {
        snprintf(msg, size, "expected %zu fields (as in the header), found %zu", L->n_fields, nf);
        return -1;
    }
    if (check_id(f[L->col[ROLE_ID]], L->name[ROLE_ID], msg, size) != 0) return -1;
    csv_field lat = f[L->col[ROLE_LAT]], lng = f[L->col[ROLE_LNG]];
    if (blank_position && !lat.len && !lng.len) {
        r->lat = r->lng = NAN;
    } else if (csv_parse_coordinate(lat.p, lat.len, L->name[ROLE_LAT], 90, &r->lat, msg, size) != 0 ||
        csv_parse_coordinate(lng.p, lng.len, L->name[ROLE_LNG], 180, &r->lng, msg, size) != 0)
        return -1;
    if (L->col[ROLE_AUTHOR] >= 0 &&
        check_text(f[L->col[ROLE_AUTHOR]], L->name[ROLE_AUTHOR], MAX_TEXT, msg, size) != 0)
        return -1;
    for (int k = 0; k < 3; k++) {
        r->label[k] = -1;
        r->prob[k] = NAN;
        int lc = L->col[ROLE_S3 + k], pc = L->col[ROLE_PIN + k];
        if (lc >= 0 && parse_label(f[lc], L->name[ROLE_S3 + k], LABEL_CLASSES[k], &r->label[k],
                                   msg, size) != 0)
            return -1;
        if (pc >= 0 && parse_prob(f[pc], L->name[ROLE_PIN + k], &r->prob[k], msg, size) != 0)
            return -1;
    }
    for (size_t c = 0; c < nf; c++)
        if (L->role[c] >= ROLE_EXTRA && memchr(f[c].p, '\0', f[c].len)) {
            snprintf(msg, size, "field %zu: contains a NUL byte", c + 1);
            return -1;
        }
    return 0;
}

/* Reads the header into L and the manifest's column set. */
static geoloc_status read_header(csv_reader *r, layout *L, geoloc_manifest **out,
                                 geoloc_error *err) {
    const char *name = csv_name(r);
    csv_field f[MAX_COLUMNS];
    size_t nf;
    int rc = csv_next_row(r, f, MAX_COLUMNS, &nf, err);
    if (rc < 0) return GEOLOC_E_PARSE;
    if (rc == 0) return error_set(err, GEOLOC_E_EMPTY, "%s: empty file (no header)", name);
    if (nf > MAX_COLUMNS)
        return error_set(err, GEOLOC_E_PARSE, "%s:%ld: more than %d columns", name, csv_line(r),
                         MAX_COLUMNS);
    L->n_fields = nf;
    for (int k = 0; k < N_ROLES; k++) L->col[k] = -1;
    unsigned columns = 0;
    if (nf && f[0].len >= 3 && !memcmp(f[0].p, "\xEF\xBB\xBF", 3)) { /* UTF-8 byte order mark */
        f[0].p += 3;
        f[0].len -= 3;
    }
    for (size_t c = 0; c < nf; c++)
        if (memchr(f[c].p, '\0', f[c].len))
            return error_set(err, GEOLOC_E_PARSE, "%s:%ld: column %zu: name contains a NUL byte",
                             name, csv_line(r), c + 1);
    char **extra_names = malloc(MAX_COLUMNS * sizeof *extra_names);
    size_t n_extra = 0;
    if (!extra_names) return error_set(err, GEOLOC_E_NOMEM, "%s: out of memory", name);
    for (size_t c = 0; c < nf; c++) {
        int role = ROLE_EXTRA;
        for (int k = 0; k < N_ROLES && role == ROLE_EXTRA; k++)
            for (const char *const *nm = ROLE_NAMES[k]; *nm; nm++)
                if (L->col[k] < 0 && name_is(f[c], *nm)) {
                    role = k;
                    break;
                }
        if (role < N_ROLES) {
            L->col[role] = (int)c;
            L->role[c] = role;
            columns |= ROLE_FLAG[role];
            size_t len = f[c].len < 63 ? f[c].len : 63;
            memcpy(L->name[role], f[c].p, len);
            L->name[role][len] = '\0';
        } else {
            L->role[c] = ROLE_EXTRA + (int)n_extra;
            extra_names[n_extra++] = strndup(f[c].p, f[c].len);
        }
    }
    geoloc_status st = GEOLOC_OK;
    static const int required[] = {ROLE_ID, ROLE_LAT, ROLE_LNG};
    for (size_t k = 0; k < 3 && st == GEOLOC_OK; k++)
        if (L->col[required[k]] < 0)
            st = error_set(err, GEOLOC_E_PARSE,
                           "%s:%ld: no %s column in the header (expected IMG_ID, LAT, LON)", name,
                           csv_line(r), CANONICAL[required[k]]);
    for (size_t j = 0; j < n_extra && st == GEOLOC_OK; j++)
        if (!extra_names[j]) st = error_set(err, GEOLOC_E_NOMEM, "%s: out of memory", name);
    if (st == GEOLOC_OK)
        st = geoloc_manifest_new(columns, (const char *const *)extra_names, n_extra, out, err);
    for (size_t j = 0; j < n_extra; j++) free(extra_names[j]);
    free(extra_names);
    return st;
}

static geoloc_status read_rows(csv_reader *r, const geoloc_manifest_options *opt,
                               geoloc_manifest **out, geoloc_error *err) {
    static const geoloc_manifest_options defaults = {0};
    if (!opt) opt = &defaults;
    *out = NULL;
    layout *L = malloc(sizeof *L);
    csv_field *f = malloc(MAX_COLUMNS * sizeof *f);
    geoloc_manifest *m = NULL;
    geoloc_status st;
    if (!L || !f) {
        st = error_set(err, GEOLOC_E_NOMEM, "%s: out of memory", csv_name(r));
        goto done;
    }
    if ((st = read_header(r, L, &m, err)) != GEOLOC_OK) goto done;
    store *s = store_of(m);
    for (;;) {
        size_t nf;
        char reason[400], msg[1024];
        geoloc_error row_err;
        int rc = csv_next_row(r, f, MAX_COLUMNS, &nf, &row_err);
        if (rc == 0) break;
        geoloc_manifest_row row;
        if (rc < 0) {
            memcpy(msg, row_err.message, sizeof row_err.message);
        } else if (nf == 1 && f[0].len == 0) {
            continue; /* blank line */
        } else if (parse_row(L, f, nf, opt->blank_position, &row, reason, sizeof reason) == 0) {
            if (grow(m) != 0) goto nomem;
            csv_field id = f[L->col[ROLE_ID]];
            row.id = arena_strndup(&s->strings, id.p, id.len);
            row.author = "";
            if (L->col[ROLE_AUTHOR] >= 0 && f[L->col[ROLE_AUTHOR]].len) {
                csv_field a = f[L->col[ROLE_AUTHOR]];
                row.author = arena_strndup(&s->strings, a.p, a.len);
            }
            if (!row.id || !row.author) goto nomem;
            row.line = csv_line(r);
            for (size_t c = 0; c < nf; c++)
                if (L->role[c] >= ROLE_EXTRA) {
                    const char *v = f[c].len ? arena_strndup(&s->strings, f[c].p, f[c].len) : "";
                    if (!v) goto nomem;
                    m->extra[m->n * m->n_extra + (size_t)(L->role[c] - ROLE_EXTRA)] = v;
                }
            m->row[m->n++] = row;
            continue;
        } else if (snprintf(msg, sizeof msg, "%s:%ld: %s", csv_name(r), csv_line(r), reason) < 0) {
            msg[0] = '\0';
        }
        if (!opt->skip_invalid) {
            st = error_set(err, GEOLOC_E_PARSE, "%s", msg);
            goto done;
        }
        m->n_skipped++;
        if (opt->on_skip) opt->on_skip(opt->ctx, msg);
    }
    *out = m;
    m = NULL;
    st = GEOLOC_OK;
    goto done;
nomem:
    st = error_set(err, GEOLOC_E_NOMEM, "%s: out of memory", csv_name(r));
done:
    geoloc_manifest_free(m);
    free(L);
    free(f);
    return st;
}

geoloc_status geoloc_manifest_read(const char *path, const geoloc_manifest_options *opt,
                                   geoloc_manifest **out, geoloc_error *err) {
    *out = NULL;
    csv_reader *r = csv_open(path, err);
    if (!r) return err ? err->status : GEOLOC_E_IO;
    geoloc_status st = read_rows(r, opt, out, err);
    csv_close(r);
    return st;
}

geoloc_status geoloc_manifest_read_buffer(const char *data, size_t size, const char *name,
                                          const geoloc_manifest_options *opt,
                                          geoloc_manifest **out, geoloc_error *err) {
    *out = NULL;
    csv_reader *r = csv_open_buffer(data, size, name);
    if (!r) return error_set(err, GEOLOC_E_NOMEM, "%s: out of memory", name ? name : "(buffer)");
    geoloc_status st = read_rows(r, opt, out, err);
    csv_close(r);
    return st;
}

/* ---- writing ------------------------------------------------------------------- */

static int role_present(const geoloc_manifest *m, int role) {
    return role == ROLE_ID || role == ROLE_LAT || role == ROLE_LNG || (m->columns & ROLE_FLAG[role]);
}

/* csv_format_double(v), faster for the usual case: when %.15g reads back
 * as v it is already the shortest such decimal (a shorter one that reads
 * back would be within half a unit of the 15th digit of v, so %.15g, which
 * drops trailing zeros, would print it), and with a '.' and no exponent it
 * is the formatter's output as is. Other values take the formatter.
 * (tests/test_manifest.c compares the two on 200,000 values.) */
void manifest_format_double(double v, char out[32]) {
    int n = snprintf(out, 32, "%.15g", v);
    if (n > 0 && n < 32 && strchr(out, '.') && !strchr(out, 'e') && strtod(out, NULL) == v) return;
    csv_format_double(v, out);
}

static void write_row(FILE *fp, const geoloc_manifest *m, size_t k) {
    const geoloc_manifest_row *r = &m->row[k];
    char num[32];
    int first = 1;
    for (int role = 0; role < N_ROLES; role++) {
        if (!role_present(m, role)) continue;
        if (!first) fputc(',', fp);
        first = 0;
        switch (role) {
        case ROLE_ID: csv_write_field(fp, r->id); break;
        case ROLE_AUTHOR: csv_write_field(fp, r->author ? r->author : ""); break;
        case ROLE_LAT: manifest_format_double(r->lat, num); fputs(num, fp); break;
        case ROLE_LNG: manifest_format_double(r->lng, num); fputs(num, fp); break;
        case ROLE_S3: case ROLE_S16: case ROLE_S365:
            if (r->label[role - ROLE_S3] >= 0) fprintf(fp, "%d", (int)r->label[role - ROLE_S3]);
            break;
        default:
            if (!isnan(r->prob[role - ROLE_PIN])) {
                manifest_format_double(r->prob[role - ROLE_PIN], num);
                fputs(num, fp);
            }
        }
    }
    for (size_t j = 0; j < m->n_extra; j++) {
        fputc(',', fp);
        csv_write_field(fp, m->extra[k * m->n_extra + j]);
    }
    fputc('\n', fp);
}

geoloc_status geoloc_manifest_write_rows(const geoloc_manifest *m, const size_t *rows, size_t n,
                                         const char *path, geoloc_error *err) {
    for (size_t k = 0; rows && k < n; k++)
        if (rows[k] >= m->n)
            return error_set(err, GEOLOC_E_ARG, "%s: row %zu does not exist", path, rows[k]);
    atomic_file f;
    geoloc_status st = atomic_file_open(&f, path, err);
    if (st != GEOLOC_OK) return st;
    int first = 1;
    for (int role = 0; role < N_ROLES; role++)
        if (role_present(m, role)) {
            if (!first) fputc(',', f.fp);
            first = 0;
            fputs(CANONICAL[role], f.fp);
        }
    for (size_t j = 0; j < m->n_extra; j++) {
        fputc(',', f.fp);
        csv_write_field(f.fp, m->extra_name[j]);
    }
    fputc('\n', f.fp);
    for (size_t k = 0; k < n; k++) write_row(f.fp, m, rows ? rows[k] : k);
    return atomic_file_commit(&f, err);
}

geoloc_status geoloc_manifest_write(const geoloc_manifest *m, const char *path, geoloc_error *err) {
    return geoloc_manifest_write_rows(m, NULL, m->n, path, err);
}

const char *geoloc_s3_label_name(int label) {
    static const char *const NAMES[3] = {"indoor", "natural", "urban"};
    return label >= 0 && label < 3 ? NAMES[label] : NULL;
}
