/* The feature index: building it in memory, and its file.
 *
 * File layout (little-endian), every part right after the previous one:
 *   0  "GEOLOCIX" (8 bytes)
 *   8  u32 version (1), u32 precision (0 f16, 1 i8), u32 dim, u32 backbone length B
 *  24  u64 photos N, u64 id bytes I
 *  40  24 zero bytes (the header is 64 bytes)
 *  64  the backbone identity (B bytes, no NUL)
 *      the ids: N NUL-terminated strings (I bytes)
 *      the coordinates: N x (f64 lat, f64 lon)
 *      i8 only: N f32 scales
 *      the vectors: N x dim (u16 half floats or i8)
 *      u32 CRC-32C of every byte before it
 * A file whose size is not exactly what its header declares, whose checksum
 * differs, or whose fields are out of range is refused with its name. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "io/atomic_file.h"
#include "io/crc32c.h"
#include "io/mapped_file.h"
#include "model/retrieval_internal.h"

#define INDEX_MAGIC "GEOLOCIX"
#define INDEX_VERSION 1u
#define INDEX_HEADER 64u
#define INDEX_MAX_DIM 65536
#define INDEX_MAX_ID 4095

geoloc_status geoloc_index_create(int dim, geoloc_index_precision precision, const char *backbone,
                                  geoloc_index **out, geoloc_error *err) {
    *out = NULL;
    if (dim < 1 || dim > INDEX_MAX_DIM)
        return error_set(err, GEOLOC_E_ARG, "index: vector width %d outside 1..%d", dim, INDEX_MAX_DIM);
    if (precision != GEOLOC_INDEX_F16 && precision != GEOLOC_INDEX_I8)
        return error_set(err, GEOLOC_E_ARG, "index: unknown precision %d", (int)precision);
    size_t blen = backbone ? strlen(backbone) : 0;
    if (blen == 0 || blen > 255)
        return error_set(err, GEOLOC_E_ARG, "index: the backbone identity must have 1-255 characters");
    geoloc_index *ix = calloc(1, sizeof *ix);
    if (!ix) return error_set(err, GEOLOC_E_NOMEM, "index: out of memory");
    ix->dim = dim;
    ix->precision = precision;
    memcpy(ix->backbone, backbone, blen + 1);
    *out = ix;
    return GEOLOC_OK;
}

/* Grows *p (of *cap elements of size `size`) to hold `need`; 0 or -1. */
static int grow(void **p, size_t *cap, size_t need, size_t size, size_t align) {
    if (need <= *cap) return 0;
    size_t c = *cap ? *cap : 16;
    while (c < need) c *= 2;
    void *q;
    if (align) {
        size_t bytes = (c * size + align - 1) / align * align;
        q = aligned_alloc(align, bytes ? bytes : align);
        if (q && *p) memcpy(q, *p, *cap * size);
        if (q) free(*p);
    } else {
        q = realloc(*p, c * size);
    }
    if (!q) return -1;
    *p = q;
    *cap = c;
    return 0;
}

/* Room for n_more photos and id_bytes more id characters; 0 or -1 (out of memory). */
static int index_reserve(geoloc_index *ix, size_t n_more, size_t id_bytes) {
    size_t need = ix->n + (n_more ? n_more : 1), c[4] = {ix->cap, ix->cap, ix->cap, ix->cap};
    if (grow((void **)&ix->id_at, &c[0], need, sizeof *ix->id_at, 0) ||
        grow((void **)&ix->coords, &c[1], need, 2 * sizeof(double), 0) ||
        grow((void **)&ix->scale, &c[2], need, sizeof *ix->scale, 0) || grow(&ix->vec, &c[3], need, index_vec_bytes(ix), 64))
        return -1;
    ix->cap = c[3];
    return grow((void **)&ix->ids, &ix->ids_cap, ix->ids_bytes + (id_bytes ? id_bytes : 1), 1, 0);
}

/* Stores vec (dim values, norm `norm` > 0) as row r, divided by its norm. */
static void store_vector(geoloc_index *ix, size_t r, const float *vec, double norm) {
    size_t d = (size_t)ix->dim;
    if (ix->precision == GEOLOC_INDEX_F16) {
        uint16_t *dst = (uint16_t *)ix->vec + r * d;
        for (size_t j = 0; j < d; j++) dst[j] = half_from_double(vec[j] / norm);
        ix->scale[r] = 1.0f;
        return;
    }
    int8_t *dst = (int8_t *)ix->vec + r * d;
    double top = 0;
    for (size_t j = 0; j < d; j++) top = fmax(top, fabs(vec[j] / norm));
    double s = top / 127.0;
    double q2 = 0; /* the scale makes the stored vector a unit vector again */
    for (size_t j = 0; j < d; j++) {
        dst[j] = (int8_t)lrint(vec[j] / norm / s);
        q2 += (double)dst[j] * dst[j];
    }
    ix->scale[r] = (float)(1.0 / sqrt(q2));
}

void index_row_floats(const geoloc_index *ix, size_t i, float *out) {
    size_t d = (size_t)ix->dim;
    for (size_t j = 0; j < d; j++) {
        if (ix->precision == GEOLOC_INDEX_F16) {
            out[j] = half_to_float(((const uint16_t *)ix->vec)[i * d + j]);
        } else {
            out[j] = ((const int8_t *)ix->vec)[i * d + j] * ix->scale[i];
        }
    }
}

geoloc_status geoloc_index_add(geoloc_index *ix, const char *id, double lat, double lon, const float *vec,
                               geoloc_error *err) {
    size_t len = id ? strlen(id) : 0;
    if (len == 0 || len > INDEX_MAX_ID)
        return error_set(err, GEOLOC_E_ARG, "index: a photo id must have 1-%d characters", INDEX_MAX_ID);
    if (!(lat >= -90 && lat <= 90 && lon >= -180 && lon <= 180))
        return error_set(err, GEOLOC_E_RANGE, "index: %s: coordinates %g, %g out of range", id, lat, lon);
    double norm = 0;
    for (int j = 0; j < ix->dim; j++) norm += (double)vec[j] * vec[j];
    norm = sqrt(norm);
    if (!(norm > 0) || !isfinite(norm))
        return error_set(err, GEOLOC_E_RANGE, "index: %s: the embedding is zero or not finite", id);
    if (index_reserve(ix, 1, len + 1) != 0) return error_set(err, GEOLOC_E_NOMEM, "index: out of memory");
    ix->id_at[ix->n] = ix->ids_bytes;
    memcpy(ix->ids + ix->ids_bytes, id, len + 1);
    ix->ids_bytes += len + 1;
    ix->coords[2 * ix->n] = lat;
    ix->coords[2 * ix->n + 1] = lon;
    store_vector(ix, ix->n, vec, norm);
    ix->n++;
    return GEOLOC_OK;
}

void geoloc_index_free(geoloc_index *ix) {
    if (!ix) return;
    free(ix->ids);
    free(ix->id_at);
    free(ix->coords);
    free(ix->scale);
    free(ix->vec);
    free(ix);
}

size_t geoloc_index_count(const geoloc_index *ix) { return ix->n; }
int geoloc_index_dim(const geoloc_index *ix) { return ix->dim; }
geoloc_index_precision geoloc_index_precision_of(const geoloc_index *ix) { return ix->precision; }
const char *geoloc_index_backbone(const geoloc_index *ix) { return ix->backbone; }
const char *geoloc_index_id(const geoloc_index *ix, size_t i) { return ix->ids + ix->id_at[i]; }

void geoloc_index_coords(const geoloc_index *ix, size_t i, double *lat, double *lon) {
    *lat = ix->coords[2 * i];
    *lon = ix->coords[2 * i + 1];
}

void geoloc_index_backbone_of(const geoloc_model *m, const char *model_path, char *out, size_t size) {
    const char *arch = m->config.depth ? "resnet" : "net";
    if (m->backbone[0]) {
        const char *slash = strrchr(m->backbone, '/');
        snprintf(out, size, "%s%d:%s", arch, m->config.depth, slash ? slash + 1 : m->backbone);
    } else {
        const char *slash = model_path ? strrchr(model_path, '/') : NULL;
        snprintf(out, size, "%s%d:embedded:%s", arch, m->config.depth,
                 slash ? slash + 1 : model_path ? model_path : "?");
    }
}

geoloc_status geoloc_index_check_backbone(const geoloc_index *ix, const char *backbone, const char *name,
                                          geoloc_error *err) {
    if (!strcmp(ix->backbone, backbone)) return GEOLOC_OK;
    return error_set(err, GEOLOC_E_ARG,
                     "%s: built with backbone %s, but the model's is %s: rebuild the index with this model",
                     name ? name : "index", ix->backbone, backbone);
}

/* ---- the file ------------------------------------------------------------------ */

static void put_u32(unsigned char *p, uint32_t v) { memcpy(p, &v, 4); }
static void put_u64(unsigned char *p, uint64_t v) { memcpy(p, &v, 8); }
static uint32_t get_u32(const unsigned char *p) { uint32_t v; memcpy(&v, p, 4); return v; }
static uint64_t get_u64(const unsigned char *p) { uint64_t v; memcpy(&v, p, 8); return v; }

/* Writes n bytes to f, continuing the CRC. */
static void put(FILE *fp, const void *p, size_t n, uint32_t *crc) {
    fwrite(p, 1, n, fp);
    *crc = crc32c(*crc, p, n);
}

geoloc_status geoloc_index_save(const geoloc_index *ix, const char *path, geoloc_error *err) {
    unsigned char h[INDEX_HEADER] = {0};
    size_t blen = strlen(ix->backbone);
    memcpy(h, INDEX_MAGIC, 8);
    put_u32(h + 8, INDEX_VERSION);
    put_u32(h + 12, (uint32_t)ix->precision);
    put_u32(h + 16, (uint32_t)ix->dim);
    put_u32(h + 20, (uint32_t)blen);
    put_u64(h + 24, ix->n);
    put_u64(h + 32, ix->ids_bytes);
    atomic_file f;
    geoloc_status s = atomic_file_open(&f, path, err);
    if (s != GEOLOC_OK) return s;
    uint32_t crc = 0;
    put(f.fp, h, sizeof h, &crc);
    put(f.fp, ix->backbone, blen, &crc);
    put(f.fp, ix->ids, ix->ids_bytes, &crc);
    put(f.fp, ix->coords, ix->n * 2 * sizeof(double), &crc);
    if (ix->precision == GEOLOC_INDEX_I8) put(f.fp, ix->scale, ix->n * sizeof(float), &crc);
    put(f.fp, ix->vec, ix->n * index_vec_bytes(ix), &crc);
    unsigned char tail[4];
    put_u32(tail, crc);
    fwrite(tail, 1, 4, f.fp);
    return atomic_file_commit(&f, err);
}

/* Reads the ids section p[0..bytes) of n strings into ix; 0, or -1 when it
 * does not hold exactly n non-empty NUL-terminated ids of at most 4095 bytes. */
static int read_ids(geoloc_index *ix, const unsigned char *p, size_t bytes, size_t n) {
    memcpy(ix->ids, p, bytes);
    ix->ids_bytes = bytes;
    size_t at = 0;
    for (size_t i = 0; i < n; i++) {
        const char *end = memchr(ix->ids + at, '\0', bytes - at);
        if (at >= bytes || !end || end == ix->ids + at || (size_t)(end - (ix->ids + at)) > INDEX_MAX_ID) return -1;
        ix->id_at[i] = at;
        at = (size_t)(end - ix->ids) + 1;
    }
    return at == bytes ? 0 : -1;
}

geoloc_status geoloc_index_load_buffer(const void *data, size_t size, const char *name, geoloc_index **out,
                                       geoloc_error *err) {
    const unsigned char *p = data;
    *out = NULL;
    if (size < INDEX_HEADER + 4 || memcmp(p, INDEX_MAGIC, 8))
        return error_set(err, GEOLOC_E_PARSE, "%s: not a geoloc index file (no GEOLOCIX header)", name);
    uint32_t version = get_u32(p + 8), precision = get_u32(p + 12), dim = get_u32(p + 16), blen = get_u32(p + 20);
    uint64_t n = get_u64(p + 24), ids = get_u64(p + 32);
    if (version != INDEX_VERSION)
        return error_set(err, GEOLOC_E_PARSE, "%s: index format version %u (this geoloc reads %u)", name, version,
                         INDEX_VERSION);
    if (precision > 1 || dim < 1 || dim > INDEX_MAX_DIM || blen < 1 || blen > 255)
        return error_set(err, GEOLOC_E_PARSE, "%s: bad index header (precision %u, width %u, backbone length %u)",
                         name, precision, dim, blen);
    uint64_t row = 16 + (precision ? 4 : 0) + (uint64_t)dim * (precision ? 1 : 2);
    uint64_t body = size - 4 >= INDEX_HEADER + (uint64_t)blen ? size - 4 - INDEX_HEADER - blen : 0;
    if (size - 4 < INDEX_HEADER + (uint64_t)blen || ids > body || n > (body - ids) / row ||
        n * row + ids != body || ids < 2 * n)
        return error_set(err, GEOLOC_E_PARSE,
                         "%s: the file is %zu bytes, not what its header declares (%llu photos of width %u): "
                         "truncated or altered", name, size, (unsigned long long)n, dim);
    if (crc32c(0, p, size - 4) != get_u32(p + size - 4))
        return error_set(err, GEOLOC_E_PARSE, "%s: checksum mismatch: the index file is damaged or altered", name);
    char backbone[256];
    memcpy(backbone, p + INDEX_HEADER, blen);
    backbone[blen] = '\0';
    if (strlen(backbone) != blen) return error_set(err, GEOLOC_E_PARSE, "%s: a NUL in the backbone identity", name);
    geoloc_index *ix;
    geoloc_status s = geoloc_index_create((int)dim, (geoloc_index_precision)precision, backbone, &ix, err);
    if (s != GEOLOC_OK) return s;
    if (index_reserve(ix, n, ids) != 0) {
        geoloc_index_free(ix);
        return error_set(err, GEOLOC_E_NOMEM, "%s: out of memory for %llu photos", name, (unsigned long long)n);
    }
    const unsigned char *at = p + INDEX_HEADER + blen;
    if (read_ids(ix, at, ids, n) != 0) {
        geoloc_index_free(ix);
        return error_set(err, GEOLOC_E_PARSE, "%s: the photo ids are malformed", name);
    }
    at += ids;
    memcpy(ix->coords, at, n * 2 * sizeof(double));
    at += n * 2 * sizeof(double);
    for (size_t i = 0; i < n; i++)
        if (!(ix->coords[2 * i] >= -90 && ix->coords[2 * i] <= 90 && ix->coords[2 * i + 1] >= -180 &&
              ix->coords[2 * i + 1] <= 180)) {
            geoloc_index_free(ix);
            return error_set(err, GEOLOC_E_PARSE, "%s: photo %zu: coordinates out of range", name, i);
        }
    for (size_t i = 0; i < n; i++) ix->scale[i] = 1.0f;
    if (precision) {
        memcpy(ix->scale, at, n * sizeof(float));
        at += n * sizeof(float);
        for (size_t i = 0; i < n; i++)
            if (!(ix->scale[i] > 0) || !isfinite(ix->scale[i])) {
                geoloc_index_free(ix);
                return error_set(err, GEOLOC_E_PARSE, "%s: photo %zu: bad vector scale", name, i);
            }
    }
    ix->n = n;
    memcpy(ix->vec, at, n * index_vec_bytes(ix));
    *out = ix;
    return GEOLOC_OK;
}

geoloc_status geoloc_index_load(const char *path, geoloc_index **out, geoloc_error *err) {
    const void *data;
    size_t size;
    *out = NULL;
    geoloc_status s = mapped_file_open(path, &data, &size, err);
    if (s != GEOLOC_OK) return s;
    s = geoloc_index_load_buffer(data, size, path, out, err);
    mapped_file_close(data, size);
    return s;
}
