/* safetensors weights files: validating reader and atomic writer. */
#include "geoloc/safetensors.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "io/atomic_file.h"
#include "io/crc32c.h"
#include "io/mapped_file.h"
#include "nn/json_doc.h"

/* Most values in a header: 20 a tensor leaves room for 200,000 tensors (the largest
 * models have a few thousand), and bounds the parsed tree to a few hundred MB. */
#define MAX_HEADER_VALUES 4000000
#define MAX_HEADER_DEPTH 64 /* nesting of unknown members (the format itself needs 3) */

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "safetensors data is little-endian: only little-endian hosts are supported"
#endif

typedef struct meta_entry {
    char *key, *value;
} meta_entry;

struct geoloc_safetensors {
    char *name;               /* file name for messages */
    const void *map;          /* mapped file, or NULL for a buffer */
    size_t map_size;
    size_t n;
    geoloc_tensor_info *t;    /* sorted by name */
    size_t n_meta;
    meta_entry *meta;         /* sorted by key */
    int has_checksum;         /* the data matched its GEOLOC_ST_CHECKSUM_KEY entry */
};

static const struct {
    const char *name;
    size_t size;
} dtypes[] = {
    [GEOLOC_DTYPE_F32] = {"F32", 4}, [GEOLOC_DTYPE_F16] = {"F16", 2},
    [GEOLOC_DTYPE_BF16] = {"BF16", 2}, [GEOLOC_DTYPE_F64] = {"F64", 8},
    [GEOLOC_DTYPE_I64] = {"I64", 8}, [GEOLOC_DTYPE_I32] = {"I32", 4},
    [GEOLOC_DTYPE_I16] = {"I16", 2}, [GEOLOC_DTYPE_I8] = {"I8", 1},
    [GEOLOC_DTYPE_U8] = {"U8", 1}, [GEOLOC_DTYPE_BOOL] = {"BOOL", 1},
};
#define N_DTYPES (sizeof dtypes / sizeof dtypes[0])

const char *geoloc_dtype_name(geoloc_dtype dtype) {
    return (unsigned)dtype < N_DTYPES ? dtypes[dtype].name : "?";
}

size_t geoloc_dtype_size(geoloc_dtype dtype) {
    return (unsigned)dtype < N_DTYPES ? dtypes[dtype].size : 0;
}

/* "[64,3,7,7]" into buf. */
static const char *shape_text(char *buf, size_t cap, const uint64_t *shape, size_t ndim) {
    size_t n = 0;
    buf[n++] = '[';
    for (size_t k = 0; k < ndim && n < cap; k++)
        n += (size_t)snprintf(buf + n, cap - n, "%s%llu", k ? "," : "",
                              (unsigned long long)shape[k]);
    if (n < cap - 1) {
        buf[n++] = ']';
        buf[n] = '\0';
    } else {
        buf[cap - 1] = '\0';
    }
    return buf;
}

/* ---- reading ---------------------------------------------------------------- */

void geoloc_safetensors_close(geoloc_safetensors *st) {
    if (!st) return;
    for (size_t k = 0; k < st->n; k++) free((char *)st->t[k].name);
    for (size_t k = 0; k < st->n_meta; k++) {
        free(st->meta[k].key);
        free(st->meta[k].value);
    }
    free(st->t);
    free(st->meta);
    if (st->map) mapped_file_close(st->map, st->map_size);
    free(st->name);
    free(st);
}

static int cmp_info_name(const void *a, const void *b) {
    return strcmp(((const geoloc_tensor_info *)a)->name, ((const geoloc_tensor_info *)b)->name);
}

static int cmp_meta_key(const void *a, const void *b) {
    return strcmp(((const meta_entry *)a)->key, ((const meta_entry *)b)->key);
}

static int cmp_ptr_offset(const void *a, const void *b) {
    const geoloc_tensor_info *x = *(const geoloc_tensor_info *const *)a;
    const geoloc_tensor_info *y = *(const geoloc_tensor_info *const *)b;
    if (x->offset != y->offset) return x->offset < y->offset ? -1 : 1;
    if (x->n_bytes != y->n_bytes) return x->n_bytes < y->n_bytes ? -1 : 1;
    return 0;
}

/* A non-negative JSON integer (jansson's integers are 64-bit signed). */
static int get_uint(const json_t *v, uint64_t *out) {
    if (!json_is_integer(v) || json_integer_value(v) < 0) return -1;
    *out = (uint64_t)json_integer_value(v);
    return 0;
}

/* Reads one tensor's {"dtype":..,"shape":..,"data_offsets":..} into t (name set);
 * other members are ignored. */
static geoloc_status parse_tensor(const json_t *obj, const char *file, geoloc_tensor_info *t,
                                  uint64_t *end, geoloc_error *err) {
    const char *tn = t->name;
    if (!json_is_object(obj))
        return error_set(err, GEOLOC_E_PARSE, "%s: tensor \"%s\": an object expected", file, tn);
    const json_t *dtype = json_object_get(obj, "dtype"), *shape = json_object_get(obj, "shape"),
                 *offsets = json_object_get(obj, "data_offsets");
    int have_dtype = dtype != NULL, have_shape = shape != NULL, have_off = offsets != NULL;
    if (dtype) {
        if (!json_is_string(dtype))
            return error_set(err, GEOLOC_E_PARSE, "%s: tensor \"%s\": dtype is not a string", file, tn);
        const char *dt = json_string_value(dtype);
        size_t d = 0;
        while (d < N_DTYPES && strcmp(dtypes[d].name, dt) != 0) d++;
        if (d == N_DTYPES)
            return error_set(err, GEOLOC_E_PARSE,
                             "%s: tensor \"%s\": unknown or unsupported dtype \"%.64s\" (supported: F32 F16 "
                             "BF16 F64 I64 I32 I16 I8 U8 BOOL)", file, tn, dt);
        t->dtype = (geoloc_dtype)d;
    }
    if (shape) {
        if (!json_is_array(shape))
            return error_set(err, GEOLOC_E_PARSE, "%s: tensor \"%s\": shape is not an array", file, tn);
        if (json_array_size(shape) > GEOLOC_ST_MAX_DIMS)
            return error_set(err, GEOLOC_E_RANGE, "%s: tensor \"%s\": more than %d dimensions", file, tn,
                             GEOLOC_ST_MAX_DIMS);
        t->ndim = json_array_size(shape);
        for (size_t k = 0; k < t->ndim; k++)
            if (get_uint(json_array_get(shape, k), &t->shape[k]) != 0)
                return error_set(err, GEOLOC_E_PARSE,
                                 "%s: tensor \"%s\": shape: dimension %zu: a non-negative integer expected",
                                 file, tn, k);
    }
    if (offsets) {
        uint64_t b, e;
        if (!json_is_array(offsets) || json_array_size(offsets) != 2 ||
            get_uint(json_array_get(offsets, 0), &b) != 0 || get_uint(json_array_get(offsets, 1), &e) != 0)
            return error_set(err, GEOLOC_E_PARSE,
                             "%s: tensor \"%s\": data_offsets is not a pair of non-negative integers", file,
                             tn);
        if (e < b)
            return error_set(err, GEOLOC_E_RANGE,
                             "%s: tensor \"%s\": data_offsets [%llu,%llu] end before begin", file, tn, (unsigned long long)b, (unsigned long long)e);
        t->offset = b;
        *end = e;
    }
    if (!have_dtype || !have_shape || !have_off)
        return error_set(err, GEOLOC_E_PARSE, "%s: tensor \"%s\": no \"%s\"", file, tn,
                         !have_dtype ? "dtype" : !have_shape ? "shape" : "data_offsets");
    uint64_t count = 1;
    for (size_t k = 0; k < t->ndim; k++) {
        if (__builtin_mul_overflow(count, t->shape[k], &count)) {
            char sb[200];
            return error_set(err, GEOLOC_E_RANGE,
                             "%s: tensor \"%s\": shape %s has more than 2^64 elements", file, tn,
                             shape_text(sb, sizeof sb, t->shape, t->ndim));
        }
    }
    t->n_elements = count;
    if (__builtin_mul_overflow(count, (uint64_t)dtypes[t->dtype].size, &t->n_bytes)) {
        char sb[200];
        return error_set(err, GEOLOC_E_RANGE, "%s: tensor \"%s\": shape %s of %s exceeds 2^64 bytes",
                         file, tn, shape_text(sb, sizeof sb, t->shape, t->ndim),
                         dtypes[t->dtype].name);
    }
    if (*end - t->offset != t->n_bytes) {
        char sb[200];
        return error_set(err, GEOLOC_E_RANGE,
                         "%s: tensor \"%s\": data_offsets [%llu,%llu] hold %llu bytes, shape %s of "
                         "%s needs %llu", file, tn, (unsigned long long)t->offset,
                         (unsigned long long)*end, (unsigned long long)(*end - t->offset),
                         shape_text(sb, sizeof sb, t->shape, t->ndim), dtypes[t->dtype].name,
                         (unsigned long long)t->n_bytes);
    }
    return GEOLOC_OK;
}

static geoloc_status parse_metadata(const json_t *obj, geoloc_safetensors *st, const char *file,
                                    geoloc_error *err) {
    if (!json_is_object(obj))
        return error_set(err, GEOLOC_E_PARSE, "%s: header: __metadata__ is not an object", file);
    st->meta = calloc(json_object_size(obj) + 1, sizeof *st->meta);
    if (!st->meta) return error_set(err, GEOLOC_E_NOMEM, "%s: out of memory", file);
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)obj, key, v) {
        if (strlen(key) > GEOLOC_ST_MAX_NAME)
            return error_set(err, GEOLOC_E_RANGE,
                             "%s: header: __metadata__ key \"%.40s...\" longer than %d bytes", file, key,
                             GEOLOC_ST_MAX_NAME);
        if (!json_is_string(v))
            return error_set(err, GEOLOC_E_PARSE, "%s: header: __metadata__ \"%s\": a string value expected",
                             file, key);
        meta_entry *m = &st->meta[st->n_meta];
        m->key = strdup(key);
        m->value = strdup(json_string_value(v));
        if (!m->key || !m->value) {
            free(m->key);
            free(m->value);
            return error_set(err, GEOLOC_E_NOMEM, "%s: out of memory", file);
        }
        st->n_meta++;
    }
    qsort(st->meta, st->n_meta, sizeof *st->meta, cmp_meta_key);
    return GEOLOC_OK;
}

static geoloc_status parse(geoloc_safetensors *st, const unsigned char *data, size_t size,
                           geoloc_error *err) {
    const char *file = st->name;
    if (size < 8)
        return error_set(err, GEOLOC_E_PARSE,
                         "%s: %zu bytes: too short for a safetensors file (8-byte header length)",
                         file, size);
    uint64_t hlen = 0;
    for (int k = 7; k >= 0; k--) hlen = (hlen << 8) | data[k];
    if (hlen > GEOLOC_ST_MAX_HEADER)
        return error_set(err, GEOLOC_E_RANGE, "%s: header length %llu exceeds the limit of %d bytes",
                         file, (unsigned long long)hlen, GEOLOC_ST_MAX_HEADER);
    if (hlen > size - 8)
        return error_set(err, GEOLOC_E_PARSE,
                         "%s: header length %llu goes beyond the end of the file (%zu bytes)", file,
                         (unsigned long long)hlen, size);
    if (hlen < 2)
        return error_set(err, GEOLOC_E_PARSE, "%s: header length %llu: too short for a JSON object",
                         file, (unsigned long long)hlen);
    const unsigned char *area = data + 8 + hlen;
    uint64_t area_size = size - 8 - hlen;

    char msg[300];
    json_t *root = json_doc_parse((const char *)data + 8, (size_t)hlen, MAX_HEADER_DEPTH, MAX_HEADER_VALUES, msg,
                                  sizeof msg);
    if (!root) return error_set(err, GEOLOC_E_PARSE, "%s: header: %s", file, msg);
    uint64_t *ends = NULL;
    geoloc_status s = GEOLOC_OK;
    if (!json_is_object(root)) {
        s = error_set(err, GEOLOC_E_PARSE, "%s: header: JSON object expected at byte 0", file);
        goto out;
    }
    const json_t *meta = json_object_get(root, "__metadata__");
    if (meta && (s = parse_metadata(meta, st, file, err)) != GEOLOC_OK) goto out;
    size_t n = json_object_size(root) - (meta != NULL);
    st->t = calloc(n + 1, sizeof *st->t);
    ends = calloc(n + 1, sizeof *ends);
    if (!st->t || !ends) {
        s = error_set(err, GEOLOC_E_NOMEM, "%s: out of memory", file);
        goto out;
    }
    const char *name;
    json_t *value;
    json_object_foreach(root, name, value) {
        if (value == meta) continue;
        if (strlen(name) > GEOLOC_ST_MAX_NAME) {
            s = error_set(err, GEOLOC_E_RANGE, "%s: header: tensor name \"%.40s...\" longer than %d bytes",
                          file, name, GEOLOC_ST_MAX_NAME);
            goto out;
        }
        geoloc_tensor_info *t = &st->t[st->n];
        if (!(t->name = strdup(name))) {
            s = error_set(err, GEOLOC_E_NOMEM, "%s: out of memory", file);
            goto out;
        }
        st->n++;
        if ((s = parse_tensor(value, file, t, &ends[st->n - 1], err)) != GEOLOC_OK) goto out;
    }

    /* ranges: sorted by begin, they must tile [0, area_size) exactly */
    if (st->n > 0) {
        const geoloc_tensor_info **by_off = malloc(st->n * sizeof *by_off);
        if (!by_off) {
            s = error_set(err, GEOLOC_E_NOMEM, "%s: out of memory", file);
            goto out;
        }
        for (size_t k = 0; k < st->n; k++) by_off[k] = &st->t[k];
        qsort(by_off, st->n, sizeof *by_off, cmp_ptr_offset);
        uint64_t pos = 0;
        const geoloc_tensor_info *prev = NULL;
        for (size_t k = 0; k < st->n && s == GEOLOC_OK; k++) {
            const geoloc_tensor_info *t = by_off[k];
            uint64_t e = t->offset + t->n_bytes;
            if (e > area_size)
                s = error_set(err, GEOLOC_E_RANGE,
                              "%s: tensor \"%s\": data_offsets [%llu,%llu] beyond the data area "
                              "(%llu bytes)", file, t->name, (unsigned long long)t->offset,
                              (unsigned long long)e, (unsigned long long)area_size);
            else if (t->offset < pos)
                s = error_set(err, GEOLOC_E_RANGE,
                              "%s: tensor \"%s\": data_offsets [%llu,%llu] overlap tensor \"%s\"",
                              file, t->name, (unsigned long long)t->offset, (unsigned long long)e,
                              prev ? prev->name : "?");
            else if (t->offset > pos)
                s = error_set(err, GEOLOC_E_RANGE,
                              "%s: tensor \"%s\": data_offsets [%llu,%llu] leave a hole of %llu "
                              "bytes before them", file, t->name, (unsigned long long)t->offset,
                              (unsigned long long)e, (unsigned long long)(t->offset - pos));
            pos = e;
            prev = t;
        }
        free(by_off);
        if (s != GEOLOC_OK) goto out;
        if (pos != area_size) {
            s = error_set(err, GEOLOC_E_RANGE,
                          "%s: the tensors cover %llu bytes of the data area, the file holds %llu",
                          file, (unsigned long long)pos, (unsigned long long)area_size);
            goto out;
        }
    } else if (area_size != 0) {
        s = error_set(err, GEOLOC_E_RANGE, "%s: no tensors but %llu bytes of data", file,
                      (unsigned long long)area_size);
        goto out;
    }
    for (size_t k = 0; k < st->n; k++) st->t[k].data = area + st->t[k].offset;
    if (st->n > 1) qsort(st->t, st->n, sizeof *st->t, cmp_info_name);
out:
    free(ends);
    json_decref(root);
    return s;
}

/* The data area (after the header parse validated its length) against the
 * checksum entry, when there is one. */
static geoloc_status verify_checksum(geoloc_safetensors *st, const unsigned char *data, size_t size,
                                     geoloc_error *err) {
    const char *want = geoloc_safetensors_metadata_get(st, GEOLOC_ST_CHECKSUM_KEY);
    if (!want) return GEOLOC_OK;
    uint64_t hlen = 0;
    for (int k = 7; k >= 0; k--) hlen = (hlen << 8) | data[k];
    char got[9];
    snprintf(got, sizeof got, "%08x", (unsigned)crc32c(0, data + 8 + hlen, size - 8 - (size_t)hlen));
    if (strlen(want) != 8 || strspn(want, "0123456789abcdef") != 8)
        return error_set(err, GEOLOC_E_PARSE, "%s: header: __metadata__ \"%s\": \"%.40s\" is not 8 "
                         "lowercase hex digits", st->name, GEOLOC_ST_CHECKSUM_KEY, want);
    if (strcmp(want, got) != 0)
        return error_set(err, GEOLOC_E_PARSE, "%s: data checksum mismatch (file damaged or edited): "
                         "crc32c %s in the header, %s of the data", st->name, want, got);
    st->has_checksum = 1;
    return GEOLOC_OK;
}

static geoloc_status open_impl(const void *data, size_t size, const void *map, const char *name,
                               geoloc_safetensors **out, geoloc_error *err) {
    *out = NULL;
    geoloc_safetensors *st = calloc(1, sizeof *st);
    if (st) st->name = strdup(name ? name : "(buffer)");
    if (!st || !st->name) {
        free(st);
        if (map) mapped_file_close(map, size);
        return error_set(err, GEOLOC_E_NOMEM, "%s: out of memory", name ? name : "(buffer)");
    }
    st->map = map;
    st->map_size = size;
    geoloc_status s = parse(st, data, size, err);
    if (s == GEOLOC_OK) s = verify_checksum(st, data, size, err);
    if (s != GEOLOC_OK) {
        geoloc_safetensors_close(st);
        return s;
    }
    *out = st;
    return GEOLOC_OK;
}

geoloc_status geoloc_safetensors_open(const char *path, geoloc_safetensors **out,
                                      geoloc_error *err) {
    const void *data;
    size_t size;
    *out = NULL;
    geoloc_status s = mapped_file_open(path, &data, &size, err);
    if (s != GEOLOC_OK) return s;
    return open_impl(data, size, size > 0 ? data : NULL, path, out, err);
}

geoloc_status geoloc_safetensors_open_buffer(const void *data, size_t size, const char *name,
                                             geoloc_safetensors **out, geoloc_error *err) {
    if (!data && size) {
        *out = NULL;
        return error_set(err, GEOLOC_E_ARG, "%s: NULL buffer", name ? name : "(buffer)");
    }
    return open_impl(data ? data : "", size, NULL, name, out, err);
}

const char *geoloc_safetensors_name(const geoloc_safetensors *st) { return st->name; }

size_t geoloc_safetensors_count(const geoloc_safetensors *st) { return st->n; }

int geoloc_safetensors_has_checksum(const geoloc_safetensors *st) { return st->has_checksum; }

const geoloc_tensor_info *geoloc_safetensors_tensor(const geoloc_safetensors *st, size_t i) {
    return i < st->n ? &st->t[i] : NULL;
}

const geoloc_tensor_info *geoloc_safetensors_find(const geoloc_safetensors *st, const char *name) {
    size_t lo = 0, hi = st->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(st->t[mid].name, name);
        if (c == 0) return &st->t[mid];
        if (c < 0) lo = mid + 1;
        else hi = mid;
    }
    return NULL;
}

size_t geoloc_safetensors_metadata_count(const geoloc_safetensors *st) { return st->n_meta; }

void geoloc_safetensors_metadata_entry(const geoloc_safetensors *st, size_t i, const char **key,
                                       const char **value) {
    *key = i < st->n_meta ? st->meta[i].key : NULL;
    *value = i < st->n_meta ? st->meta[i].value : NULL;
}

const char *geoloc_safetensors_metadata_get(const geoloc_safetensors *st, const char *key) {
    size_t lo = 0, hi = st->n_meta;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(st->meta[mid].key, key);
        if (c == 0) return st->meta[mid].value;
        if (c < 0) lo = mid + 1;
        else hi = mid;
    }
    return NULL;
}

geoloc_status geoloc_safetensors_get_f32(const geoloc_safetensors *st, const char *name,
                                         const uint64_t *expected, size_t ndim,
                                         const float **out, geoloc_error *err) {
    *out = NULL;
    const geoloc_tensor_info *t = geoloc_safetensors_find(st, name);
    if (!t)
        return error_set(err, GEOLOC_E_ARG, "%s: no tensor \"%s\" in the file", st->name, name);
    if (t->dtype != GEOLOC_DTYPE_F32)
        return error_set(err, GEOLOC_E_ARG, "%s: %s: dtype %s in file, F32 expected", st->name,
                         name, dtypes[t->dtype].name);
    int same = t->ndim == ndim;
    for (size_t k = 0; same && k < ndim; k++) same = t->shape[k] == expected[k];
    if (!same) {
        char a[200], b[200];
        return error_set(err, GEOLOC_E_ARG, "%s: %s: shape %s in file, %s expected", st->name, name,
                         shape_text(a, sizeof a, t->shape, t->ndim),
                         shape_text(b, sizeof b, expected, ndim));
    }
    if ((uintptr_t)t->data % _Alignof(float) != 0)
        return error_set(err, GEOLOC_E_ARG,
                         "%s: %s: data at offset %llu is not aligned to 4 bytes in memory",
                         st->name, name, (unsigned long long)t->offset);
    *out = t->data;
    return GEOLOC_OK;
}

/* ---- writing ---------------------------------------------------------------- */

typedef struct strbuf {
    char *p;
    size_t n, cap;
    int oom;
} strbuf;

static void sb_put(strbuf *b, const char *s, size_t n) {
    if (b->oom) return;
    if (b->n + n + 1 > b->cap) {
        size_t nc = b->cap ? b->cap : 256;
        while (nc < b->n + n + 1) nc *= 2;
        char *p = realloc(b->p, nc);
        if (!p) {
            b->oom = 1;
            return;
        }
        b->p = p;
        b->cap = nc;
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = '\0';
}

static void sb_str(strbuf *b, const char *s) { sb_put(b, s, strlen(s)); }

/* A JSON string literal of s (valid UTF-8, checked by the caller). */
static void sb_json_string(strbuf *b, const char *s) {
    sb_put(b, "\"", 1);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        char esc[8];
        if (c == '"' || c == '\\') {
            esc[0] = '\\';
            esc[1] = (char)c;
            sb_put(b, esc, 2);
        } else if (c < 0x20) {
            snprintf(esc, sizeof esc, "\\u%04x", c);
            sb_put(b, esc, 6);
        } else {
            sb_put(b, (const char *)&c, 1);
        }
    }
    sb_put(b, "\"", 1);
}

/* 1 when s is valid UTF-8 of at most max bytes. */
static int valid_text(const char *s, size_t max) {
    size_t n = strlen(s);
    return n <= max && json_doc_valid_utf8(s, n);
}

static int cmp_str_ptr(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

geoloc_status geoloc_safetensors_write(const char *path, const geoloc_tensor_desc *tensors,
                                       size_t n, const char *const *meta_keys,
                                       const char *const *meta_values, size_t n_meta,
                                       geoloc_error *err) {
    if ((n && !tensors) || (n_meta && (!meta_keys || !meta_values)))
        return error_set(err, GEOLOC_E_ARG, "%s: NULL tensor or metadata array", path);
    uint64_t *bytes = calloc(n ? n : 1, sizeof *bytes);
    if (!bytes) return error_set(err, GEOLOC_E_NOMEM, "%s: out of memory", path);
    strbuf b = {0};
    geoloc_status s = GEOLOC_OK;
    /* validate (a caller's checksum entry is replaced by the one computed here) */
    for (size_t k = 0; k < n_meta && s == GEOLOC_OK; k++) {
        if (!meta_keys[k] || !meta_values[k] || !valid_text(meta_keys[k], GEOLOC_ST_MAX_NAME) ||
            !valid_text(meta_values[k], GEOLOC_ST_MAX_HEADER))
            s = error_set(err, GEOLOC_E_ARG, "%s: metadata entry %zu: missing, too long or not UTF-8",
                          path, k);
        for (size_t i = 0; i < k && s == GEOLOC_OK; i++)
            if (!strcmp(meta_keys[i], meta_keys[k]))
                s = error_set(err, GEOLOC_E_ARG, "%s: metadata key \"%s\" given twice", path,
                              meta_keys[k]);
    }
    for (size_t k = 0; k < n && s == GEOLOC_OK; k++) {
        const geoloc_tensor_desc *t = &tensors[k];
        if (!t->name || !valid_text(t->name, GEOLOC_ST_MAX_NAME) || !strcmp(t->name, "__metadata__")) {
            s = error_set(err, GEOLOC_E_ARG, "%s: tensor %zu: name missing, reserved, longer than "
                          "%d bytes or not UTF-8", path, k, GEOLOC_ST_MAX_NAME);
            break;
        }
        if ((unsigned)t->dtype >= N_DTYPES || t->ndim > GEOLOC_ST_MAX_DIMS || (t->ndim && !t->shape)) {
            s = error_set(err, GEOLOC_E_ARG, "%s: tensor \"%s\": bad dtype or shape", path, t->name);
            break;
        }
        uint64_t c = dtypes[t->dtype].size;
        for (size_t d = 0; d < t->ndim; d++)
            if (__builtin_mul_overflow(c, t->shape[d], &c)) c = UINT64_MAX;
        if (c == UINT64_MAX || c > SIZE_MAX) {
            s = error_set(err, GEOLOC_E_ARG, "%s: tensor \"%s\": too large", path, t->name);
            break;
        }
        if (c && !t->data) {
            s = error_set(err, GEOLOC_E_ARG, "%s: tensor \"%s\": no data", path, t->name);
            break;
        }
        bytes[k] = c;
    }
    /* duplicate names: n is small in practice, but sort to stay O(n log n) */
    if (s == GEOLOC_OK && n > 1) {
        const char **names = malloc(n * sizeof *names);
        if (!names) {
            s = error_set(err, GEOLOC_E_NOMEM, "%s: out of memory", path);
        } else {
            for (size_t k = 0; k < n; k++) names[k] = tensors[k].name;
            qsort(names, n, sizeof *names, cmp_str_ptr);
            for (size_t k = 1; k < n && s == GEOLOC_OK; k++)
                if (!strcmp(names[k - 1], names[k]))
                    s = error_set(err, GEOLOC_E_ARG, "%s: tensor \"%s\" given twice", path, names[k]);
            free(names);
        }
    }
    if (s != GEOLOC_OK) {
        free(bytes);
        return s;
    }
    /* header: the metadata, then the checksum of the data in writing order */
    uint32_t crc = 0;
    for (size_t k = 0; k < n; k++)
        if (bytes[k]) crc = crc32c(crc, tensors[k].data, (size_t)bytes[k]);
    char crc_hex[9];
    snprintf(crc_hex, sizeof crc_hex, "%08x", (unsigned)crc);
    sb_str(&b, "{\"__metadata__\":{");
    for (size_t k = 0; k < n_meta; k++) {
        if (!strcmp(meta_keys[k], GEOLOC_ST_CHECKSUM_KEY)) continue;
        sb_json_string(&b, meta_keys[k]);
        sb_str(&b, ":");
        sb_json_string(&b, meta_values[k]);
        sb_str(&b, ",");
    }
    sb_json_string(&b, GEOLOC_ST_CHECKSUM_KEY);
    sb_str(&b, ":");
    sb_json_string(&b, crc_hex);
    sb_str(&b, "}");
    uint64_t off = 0;
    for (size_t k = 0; k < n; k++) {
        const geoloc_tensor_desc *t = &tensors[k];
        char num[64];
        sb_str(&b, ",");
        sb_json_string(&b, t->name);
        sb_str(&b, ":{\"dtype\":\"");
        sb_str(&b, dtypes[t->dtype].name);
        sb_str(&b, "\",\"shape\":[");
        for (size_t d = 0; d < t->ndim; d++) {
            snprintf(num, sizeof num, "%s%llu", d ? "," : "", (unsigned long long)t->shape[d]);
            sb_str(&b, num);
        }
        snprintf(num, sizeof num, "],\"data_offsets\":[%llu,%llu]}", (unsigned long long)off,
                 (unsigned long long)(off + bytes[k]));
        sb_str(&b, num);
        off += bytes[k];
    }
    sb_str(&b, "}");
    while (!b.oom && b.n % 8 != 0) sb_str(&b, " ");
    if (b.oom || b.n > GEOLOC_ST_MAX_HEADER) {
        s = b.oom ? error_set(err, GEOLOC_E_NOMEM, "%s: out of memory", path)
                  : error_set(err, GEOLOC_E_RANGE, "%s: header of %zu bytes exceeds the limit", path, b.n);
        free(b.p);
        free(bytes);
        return s;
    }
    atomic_file f;
    s = atomic_file_open(&f, path, err);
    if (s == GEOLOC_OK) {
        unsigned char len8[8];
        for (int k = 0; k < 8; k++) len8[k] = (unsigned char)((uint64_t)b.n >> (8 * k));
        int ok = fwrite(len8, 1, 8, f.fp) == 8 && fwrite(b.p, 1, b.n, f.fp) == b.n;
        for (size_t k = 0; k < n && ok; k++)
            if (bytes[k]) ok = fwrite(tensors[k].data, 1, (size_t)bytes[k], f.fp) == bytes[k];
        if (!ok) {
            atomic_file_abort(&f);
            s = error_set(err, GEOLOC_E_IO, "%s: write error", path);
        } else {
            s = atomic_file_commit(&f, err);
        }
    }
    free(b.p);
    free(bytes);
    return s;
}
