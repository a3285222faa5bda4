/* Copies of a model (safetensors) file with one change, for tests of hostile
 * or old files: a metadata value set, added, renamed or removed, a tensor
 * replaced, added, removed, or the tensors of one head renamed. Exits on
 * failure. */
#ifndef GEOLOC_TEST_MODEL_FILE_EDIT_H
#define GEOLOC_TEST_MODEL_FILE_EDIT_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "geoloc/model.h"
#include "geoloc/safetensors.h"
#include "test_util.h"

/* One change: metadata `key` set to `value` (added when absent; with new_key
 * renamed, keeping its value when value is NULL; NULL value and no new_key:
 * removed); tensor `tensor` replaced by (dtype, ndim, shape, data) or added;
 * tensor `drop` removed; tensors "<prefix>.*" renamed "<new_prefix>.*". */
typedef struct edit {
    const char *key, *value, *new_key;
    const char *tensor;
    geoloc_dtype dtype;
    size_t ndim;
    uint64_t shape[2];
    const void *data;
    const char *drop;
    const char *prefix, *new_prefix;
} edit;

/* Writes src with the change e to dst. */
static inline void rewrite(const char *src, const char *dst, const edit *e) {
    geoloc_error err = {0};
    geoloc_safetensors *st = NULL;
    if (geoloc_safetensors_open(src, &st, &err) != GEOLOC_OK) {
        fprintf(stderr, "rewrite: %s\n", err.message);
        exit(1);
    }
    size_t n = geoloc_safetensors_count(st), nm = geoloc_safetensors_metadata_count(st), k = 0, km = 0;
    geoloc_tensor_desc *t = calloc(n + 1, sizeof *t);
    char(*names)[128] = calloc(n + 1, sizeof *names);
    const char **keys = calloc(nm + 1, sizeof *keys), **values = calloc(nm + 1, sizeof *values);
    size_t lp = e->prefix ? strlen(e->prefix) : 0;
    int replaced = 0, set = 0;
    for (size_t i = 0; i < n; i++) {
        const geoloc_tensor_info *ti = geoloc_safetensors_tensor(st, i);
        if (e->drop && !strcmp(ti->name, e->drop)) continue;
        if (e->prefix && !strncmp(ti->name, e->prefix, lp) && ti->name[lp] == '.')
            snprintf(names[k], sizeof names[k], "%s%s", e->new_prefix, ti->name + lp);
        else
            snprintf(names[k], sizeof names[k], "%s", ti->name);
        t[k] = (geoloc_tensor_desc){names[k], ti->dtype, ti->ndim, ti->shape, ti->data};
        if (e->tensor && !strcmp(ti->name, e->tensor)) {
            t[k] = (geoloc_tensor_desc){e->tensor, e->dtype, e->ndim, e->shape, e->data};
            replaced = 1;
        }
        k++;
    }
    if (e->tensor && !replaced) t[k++] = (geoloc_tensor_desc){e->tensor, e->dtype, e->ndim, e->shape, e->data};
    for (size_t i = 0; i < nm; i++) {
        const char *key, *value;
        geoloc_safetensors_metadata_entry(st, i, &key, &value);
        if (e->key && !strcmp(key, e->key)) {
            set = 1;
            if (!e->value && !e->new_key) continue;
            if (e->value) value = e->value;
            if (e->new_key) key = e->new_key;
        }
        keys[km] = key;
        values[km++] = value;
    }
    if (e->key && e->value && !set) keys[km] = e->key, values[km++] = e->value;
    if (geoloc_safetensors_write(dst, t, k, keys, values, km, &err) != GEOLOC_OK) {
        fprintf(stderr, "rewrite: %s\n", err.message);
        exit(1);
    }
    geoloc_safetensors_close(st);
    free(t);
    free(names);
    free(keys);
    free(values);
}

/* Loading src with the change e (written to path) fails naming the file, m1 and m2;
 * reading its description fails naming m1 when info_too, and succeeds otherwise (only
 * the weights are wrong). */
static inline void expect_model_refused(const char *src, const char *path, const edit *e, const char *what,
                                        const char *m1, const char *m2, int info_too) {
    rewrite(src, path, e);
    geoloc_model *m = NULL;
    geoloc_error err = {0};
    geoloc_status s = geoloc_model_load(path, &m, &err);
    CHECK(s != GEOLOC_OK && !m && strstr(err.message, path) && strstr(err.message, m1) &&
              (!m2 || strstr(err.message, m2)), "%s: status %d, message: %s", what, (int)s, err.message);
    geoloc_model_free(m);
    m = NULL;
    s = geoloc_model_read_info(path, &m, &err);
    CHECK(info_too ? s != GEOLOC_OK && !m && strstr(err.message, m1) : s == GEOLOC_OK, "%s: read_info %d: %s", what,
          (int)s, err.message);
    geoloc_model_free(m);
}

#endif
