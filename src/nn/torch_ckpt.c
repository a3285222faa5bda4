/* PyTorch checkpoints: the zip (torch_zip.c), data.pkl run by the pickle
 * machine (torch_pickle.c), and the state_dict's tensors checked against their
 * storages (contiguous, inside the entry data/<key>). */
#include "geoloc/torch_ckpt.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "io/mapped_file.h"
#include "nn/torch_internal.h"

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "torch.save storages are little-endian: only little-endian hosts are supported"
#endif

#define MAX_PICKLE (256u << 20)
#define MAX_PREFIX 256

struct geoloc_torch_ckpt {
    const void *map;     /* the mapped file, or NULL for a caller's buffer */
    size_t map_size;
    char file[512];
    char prefix[MAX_PREFIX];
    tzip zip;
    pk_result pk;
    geoloc_torch_tensor *tensors;
    size_t n;
};

/* The one entry <prefix>/data.pkl: sets c->prefix. */
static tzip_entry *find_pickle(geoloc_torch_ckpt *c, geoloc_error *err) {
    tzip_entry *found = NULL;
    for (size_t k = 0; k < c->zip.n; k++) {
        tzip_entry *e = &c->zip.entries[k];
        const char *slash = memchr(e->name, '/', e->name_len);
        size_t plen = slash ? (size_t)(slash - e->name) : 0;
        if (!slash || plen == 0 || plen >= MAX_PREFIX || e->name_len != plen + 9 || memcmp(slash, "/data.pkl", 9))
            continue;
        if (found) {
            error_set(err, GEOLOC_E_PARSE, "%s: two data.pkl entries: not one torch.save checkpoint", c->file);
            return NULL;
        }
        found = e;
        memcpy(c->prefix, e->name, plen);
        c->prefix[plen] = '\0';
    }
    if (!found)
        error_set(err, GEOLOC_E_PARSE, "%s: no <name>/data.pkl entry: a zip file, but not a torch.save checkpoint",
                  c->file);
    return found;
}

/* The storage types known here (the element types of geoloc/safetensors.h). */
static const char *const STORAGE_TYPES[] = {"FloatStorage", "DoubleStorage", "HalfStorage", "BFloat16Storage",
                                            "LongStorage", "IntStorage", "ShortStorage", "CharStorage",
                                            "ByteStorage", "BoolStorage"};

/* The NUL-terminated name of a torch.<T>Storage type, or NULL for a type not known here. */
static const char *storage_type(const char *type, size_t len) {
    for (size_t k = 0; k < sizeof STORAGE_TYPES / sizeof STORAGE_TYPES[0]; k++)
        if (strlen(STORAGE_TYPES[k]) == len && !memcmp(STORAGE_TYPES[k], type, len)) return STORAGE_TYPES[k];
    return NULL;
}

/* Checks a float32 tensor against its storage entry and sets its data. */
static geoloc_status bind_f32(geoloc_torch_ckpt *c, geoloc_torch_tensor *t, const pk_tensor *pt,
                              const pk_storage *ps, geoloc_error *err) {
    char entry[MAX_PREFIX + 80];
    snprintf(entry, sizeof entry, "%s/data/%.*s", c->prefix, (int)ps->key_len, ps->key);
    tzip_entry *e = tzip_find(&c->zip, entry);
    if (!e)
        return error_set(err, GEOLOC_E_PARSE, "%s: tensor %s: its storage entry %s is missing", c->file, t->name, entry);
    if ((uint64_t)ps->numel > e->size / 4 || e->size != (uint64_t)ps->numel * 4)
        return error_set(err, GEOLOC_E_PARSE, "%s: tensor %s: storage %s holds %llu bytes, %lld floats (%lld "
                         "bytes) expected", c->file, t->name, entry, (unsigned long long)e->size,
                         (long long)ps->numel, (long long)ps->numel * 4);
    int64_t want = 1; /* at most 2^40: the product of the sizes is (an empty tensor has no strides to check) */
    for (size_t k = t->n_elements ? t->ndim : 0; k-- > 0;) {
        if (pt->shape[k] != 1 && pt->stride[k] != want) {
            char buf[200];
            size_t n = 0;
            for (size_t i = 0; i < t->ndim && n < sizeof buf - 24; i++)
                n += (size_t)snprintf(buf + n, sizeof buf - n, "%s%lld", i ? "," : "", (long long)pt->stride[i]);
            return error_set(err, GEOLOC_E_PARSE, "%s: tensor %s: strides (%s) are not contiguous (e.g. "
                             "channels_last): only contiguous tensors are read (save .contiguous() ones)",
                             c->file, t->name, buf);
        }
        want *= pt->shape[k];
    }
    if ((uint64_t)pt->offset > (uint64_t)ps->numel || t->n_elements > (uint64_t)(ps->numel - pt->offset))
        return error_set(err, GEOLOC_E_PARSE, "%s: tensor %s: elements %lld..%lld outside its storage %s of %lld",
                         c->file, t->name, (long long)pt->offset, (long long)(pt->offset + (int64_t)t->n_elements),
                         entry, (long long)ps->numel);
    geoloc_status s = tzip_check_crc(e, c->file, err);
    if (s != GEOLOC_OK) return s;
    t->data = e->data + pt->offset * 4;
    t->file_offset = e->file_offset + (uint64_t)pt->offset * 4;
    t->is_f32 = 1;
    return GEOLOC_OK;
}

/* Fills tensor k from the state_dict item (key, value). */
static geoloc_status read_tensor(geoloc_torch_ckpt *c, size_t k, uint32_t key, uint32_t value,
                                 geoloc_error *err) {
    const pk_obj *ko = &c->pk.obj[key], *vo = &c->pk.obj[value];
    if (ko->type != PK_STR || ko->len == 0 || ko->len >= GEOLOC_ST_MAX_NAME || memchr(ko->s, '\0', ko->len))
        return error_set(err, GEOLOC_E_PARSE, "%s: state_dict entry %zu (pickle byte %zu): the key is not a name",
                         c->file, k, ko->at);
    geoloc_torch_tensor *t = &c->tensors[k];
    char *name = malloc(ko->len + 1);
    if (!name) return error_set(err, GEOLOC_E_NOMEM, "%s: out of memory", c->file);
    memcpy(name, ko->s, ko->len);
    name[ko->len] = '\0';
    t->name = name;
    c->n = k + 1; /* the name is freed with the table from now on */
    if (vo->type != PK_TENSOR)
        return error_set(err, GEOLOC_E_PARSE, "%s: state_dict entry %s (pickle byte %zu) is not a tensor",
                         c->file, name, vo->at);
    for (size_t j = 0; j < k; j++)
        if (!strcmp(c->tensors[j].name, name))
            return error_set(err, GEOLOC_E_PARSE, "%s: state_dict entry %s appears twice", c->file, name);
    const pk_tensor *pt = &c->pk.tensors[vo->i];
    const pk_storage *ps = &c->pk.storages[pt->storage];
    t->ndim = pt->ndim;
    t->n_elements = 1;
    for (size_t d = 0; d < pt->ndim; d++) {
        t->shape[d] = (uint64_t)pt->shape[d];
        if (t->shape[d] && t->n_elements > (1ull << 40) / t->shape[d])
            return error_set(err, GEOLOC_E_RANGE, "%s: tensor %s: more than 2^40 elements", c->file, name);
        t->n_elements *= t->shape[d];
    }
    if (!(t->storage_type = storage_type(ps->type, ps->type_len)))
        return error_set(err, GEOLOC_E_PARSE, "%s: tensor %s: storage type torch.%.*s is not supported", c->file,
                         name, (int)(ps->type_len > 60 ? 60 : ps->type_len), ps->type);
    return strcmp(t->storage_type, "FloatStorage") ? GEOLOC_OK : bind_f32(c, t, pt, ps, err);
}

static geoloc_status read_state_dict(geoloc_torch_ckpt *c, geoloc_error *err) {
    const pk_obj *root = &c->pk.obj[c->pk.root];
    if (root->type != PK_DICT)
        return error_set(err, GEOLOC_E_PARSE, "%s: the checkpoint is not a dict", c->file);
    int64_t sd = pk_dict_get(&c->pk, c->pk.root, "state_dict");
    const pk_obj *d = sd >= 0 ? &c->pk.obj[sd] : root;
    if (d->type != PK_DICT) return error_set(err, GEOLOC_E_PARSE, "%s: state_dict is not a dict", c->file);
    size_t n = d->n / 2;
    if (n == 0) return error_set(err, GEOLOC_E_EMPTY, "%s: the state_dict holds no tensors", c->file);
    if (!(c->tensors = calloc(n, sizeof *c->tensors)))
        return error_set(err, GEOLOC_E_NOMEM, "%s: out of memory", c->file);
    for (size_t k = 0; k < n; k++) {
        geoloc_status s = read_tensor(c, k, d->items[2 * k], d->items[2 * k + 1], err);
        if (s != GEOLOC_OK) return s;
    }
    return GEOLOC_OK;
}

static geoloc_status open_image(geoloc_torch_ckpt *c, const uint8_t *data, size_t size, geoloc_error *err) {
    geoloc_status s = tzip_open(data, size, c->file, &c->zip, err);
    if (s != GEOLOC_OK) return s;
    tzip_entry *pkl = find_pickle(c, err);
    if (!pkl) return err ? err->status : GEOLOC_E_PARSE;
    char name[MAX_PREFIX + 16];
    snprintf(name, sizeof name, "%s/byteorder", c->prefix);
    const tzip_entry *order = tzip_find(&c->zip, name);
    if (order && !(order->size == 6 && !memcmp(order->data, "little", 6)))
        return error_set(err, GEOLOC_E_PARSE, "%s: %s: only little-endian checkpoints are read", c->file, name);
    if (pkl->size > MAX_PICKLE)
        return error_set(err, GEOLOC_E_RANGE, "%s: %s/data.pkl: %llu bytes (at most %u)", c->file, c->prefix,
                         (unsigned long long)pkl->size, MAX_PICKLE);
    if ((s = tzip_check_crc(pkl, c->file, err)) != GEOLOC_OK) return s;
    char where[sizeof c->file + MAX_PREFIX + 16];
    snprintf(where, sizeof where, "%s: %s/data.pkl", c->file, c->prefix);
    if ((s = pk_run(pkl->data, (size_t)pkl->size, where, &c->pk, err)) != GEOLOC_OK) return s;
    return read_state_dict(c, err);
}

geoloc_status geoloc_torch_ckpt_open_buffer(const void *data, size_t size, const char *name,
                                            geoloc_torch_ckpt **out, geoloc_error *err) {
    *out = NULL;
    if (!data && size) return error_set(err, GEOLOC_E_ARG, "torch checkpoint: NULL data");
    geoloc_torch_ckpt *c = calloc(1, sizeof *c);
    if (!c) return error_set(err, GEOLOC_E_NOMEM, "out of memory");
    snprintf(c->file, sizeof c->file, "%s", name ? name : "checkpoint");
    geoloc_status s = open_image(c, data ? data : "", size, err);
    if (s != GEOLOC_OK) {
        geoloc_torch_ckpt_close(c);
        return s;
    }
    *out = c;
    return GEOLOC_OK;
}

geoloc_status geoloc_torch_ckpt_open(const char *path, geoloc_torch_ckpt **out, geoloc_error *err) {
    const void *data;
    size_t size;
    *out = NULL;
    geoloc_status s = mapped_file_open(path, &data, &size, err);
    if (s != GEOLOC_OK) return s;
    if ((s = geoloc_torch_ckpt_open_buffer(data, size, path, out, err)) != GEOLOC_OK) {
        mapped_file_close(data, size);
        return s;
    }
    (*out)->map = data;
    (*out)->map_size = size;
    return GEOLOC_OK;
}

void geoloc_torch_ckpt_close(geoloc_torch_ckpt *c) {
    if (!c) return;
    for (size_t k = 0; k < c->n; k++) free((char *)c->tensors[k].name);
    free(c->tensors);
    pk_free(&c->pk);
    tzip_free(&c->zip);
    if (c->map) mapped_file_close(c->map, c->map_size);
    free(c);
}

size_t geoloc_torch_ckpt_count(const geoloc_torch_ckpt *c) { return c->n; }

const geoloc_torch_tensor *geoloc_torch_ckpt_tensor(const geoloc_torch_ckpt *c, size_t i) {
    return i < c->n ? &c->tensors[i] : NULL;
}

const geoloc_torch_tensor *geoloc_torch_ckpt_find(const geoloc_torch_ckpt *c, const char *name) {
    for (size_t k = 0; k < c->n; k++)
        if (!strcmp(c->tensors[k].name, name)) return &c->tensors[k];
    return NULL;
}

int geoloc_torch_ckpt_int(const geoloc_torch_ckpt *c, const char *key, int64_t *out) {
    int64_t v = pk_dict_get(&c->pk, c->pk.root, key);
    if (v < 0 || c->pk.obj[v].type != PK_INT) return -1;
    *out = c->pk.obj[v].i;
    return 0;
}
