/* Import of the Keras ImageNet ResNet-50 (TensorFlow.js layers-model folder)
 * into a safetensors file with torchvision's names and layouts: labels.json,
 * the shards, the layout conversion and the writing (model.json itself:
 * keras_model.c). */
#include "geoloc/keras.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/error.h"
#include "geoloc/safetensors.h"
#include "io/mapped_file.h"
#include "nn/json_doc.h"

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "tfjs shards are little-endian float32: only little-endian hosts are supported"
#endif

#define MAX_DEPTH 64

/* ---- labels ------------------------------------------------------------------- */

geoloc_status geoloc_keras_labels_parse(const char *text, size_t len, const char *name,
                                        size_t n_classes, char **joined, geoloc_error *err) {
    const char *file = name ? name : "labels.json";
    *joined = NULL;
    if ((!text && len) || n_classes == 0 || n_classes > 1000000)
        return error_set(err, GEOLOC_E_ARG, "%s: bad arguments", file);
    char msg[300];
    json_t *root = json_doc_parse(text ? text : "", len, 4, 2 * n_classes + 16, msg, sizeof msg);
    if (!root) return error_set(err, GEOLOC_E_PARSE, "%s: not valid JSON: %s", file, msg);
    geoloc_status s = GEOLOC_OK;
    const char **names = NULL;
    if (!json_is_object(root))
        s = error_set(err, GEOLOC_E_PARSE, "%s: not a JSON object of class names", file);
    else if (json_object_size(root) != n_classes)
        s = error_set(err, GEOLOC_E_RANGE, "%s: %zu class names, the model has %zu classes", file,
                      json_object_size(root), n_classes);
    else if (!(names = calloc(n_classes, sizeof *names)))
        s = error_set(err, GEOLOC_E_NOMEM, "%s: out of memory", file);
    size_t total = 0;
    const char *key;
    json_t *v;
    json_object_foreach(s == GEOLOC_OK ? root : NULL, key, v) {
        size_t idx = 0, d = 0;
        for (; key[d] >= '0' && key[d] <= '9' && d < 8; d++) idx = idx * 10 + (size_t)(key[d] - '0');
        if (d == 0 || key[d] || (key[0] == '0' && d > 1) || idx >= n_classes) {
            s = error_set(err, GEOLOC_E_PARSE, "%s: key \"%.40s\" is not a class index 0..%zu", file,
                          key, n_classes - 1);
            break;
        }
        if (!json_is_string(v) || json_string_length(v) == 0 || strpbrk(json_string_value(v), "\r\n")) {
            s = error_set(err, GEOLOC_E_PARSE, "%s: class %zu: not a one-line, non-empty name", file, idx);
            break;
        }
        names[idx] = json_string_value(v); /* keys are unique and canonical: each index once */
        total += json_string_length(v) + 1;
    }
    if (s == GEOLOC_OK) {
        char *buf = malloc(total);
        if (!buf) {
            s = error_set(err, GEOLOC_E_NOMEM, "%s: out of memory", file);
        } else {
            size_t n = 0;
            for (size_t k = 0; k < n_classes; k++) {
                size_t l = strlen(names[k]);
                memcpy(buf + n, names[k], l);
                n += l;
                buf[n++] = k + 1 < n_classes ? '\n' : '\0';
            }
            *joined = buf;
        }
    }
    free(names);
    json_decref(root);
    return s;
}

/* ---- import ------------------------------------------------------------------- */

static char *join_path(const char *a, const char *b) {
    size_t n = strlen(a) + strlen(b) + 2;
    char *p = malloc(n);
    if (p) snprintf(p, n, "%s/%s", a, b);
    return p;
}

/* Maps a JSON file of at most GEOLOC_KERAS_MAX_JSON bytes. */
static geoloc_status map_json(const char *path, const void **data, size_t *size, geoloc_error *err) {
    geoloc_status s = mapped_file_open(path, data, size, err);
    if (s == GEOLOC_OK && *size > GEOLOC_KERAS_MAX_JSON) {
        mapped_file_close(*data, *size);
        return error_set(err, GEOLOC_E_RANGE, "%s: %zu bytes, more than the limit of %u", path,
                         *size, GEOLOC_KERAS_MAX_JSON);
    }
    return s;
}

/* "keras NAME@VERSION" from dir/../package.json, else "keras". */
static void default_source(const char *dir, char *out, size_t cap) {
    snprintf(out, cap, "keras");
    char *path = join_path(dir, "../package.json");
    const void *data;
    size_t size;
    geoloc_error e;
    if (!path || map_json(path, &data, &size, &e) != GEOLOC_OK) {
        free(path);
        return;
    }
    char msg[300];
    json_t *root = json_doc_parse(data, size, MAX_DEPTH, 1000000, msg, sizeof msg);
    if (root) {
        const char *n = json_string_value(json_object_get(root, "name")),
                   *v = json_string_value(json_object_get(root, "version"));
        int ok = n && v && n[0] && v[0] && strlen(n) < 64 && strlen(v) < 64;
        for (size_t k = 0; ok && n[k]; k++) ok = n[k] > ' ' && n[k] < 127;
        for (size_t k = 0; ok && v[k]; k++) ok = v[k] > ' ' && v[k] < 127;
        if (ok) snprintf(out, cap, "keras %s@%s", n, v);
        json_decref(root);
    }
    mapped_file_close(data, size);
    free(path);
}

/* Reads the shards of group g, concatenated, into dst (exactly the group's bytes). */
static geoloc_status read_group(const char *dir, const geoloc_keras_model *m, size_t g,
                                unsigned char *dst, geoloc_keras_import_result *res,
                                geoloc_error *err) {
    size_t n = geoloc_keras_model_shard_count(m, g);
    uint64_t need = geoloc_keras_model_group_bytes(m, g);
    if (n == 0) return GEOLOC_OK; /* no weights either (checked when parsing) */
    uint64_t *sizes = calloc(n, sizeof *sizes);
    char **full = calloc(n, sizeof *full);
    geoloc_status s = GEOLOC_OK;
    if (!sizes || !full) s = error_set(err, GEOLOC_E_NOMEM, "%s: out of memory", dir);
    uint64_t sum = 0;
    for (size_t k = 0; k < n && s == GEOLOC_OK; k++) {
        struct stat st;
        if (!(full[k] = join_path(dir, geoloc_keras_model_shard(m, g, k))))
            s = error_set(err, GEOLOC_E_NOMEM, "%s: out of memory", dir);
        else if (stat(full[k], &st) != 0)
            s = error_set(err, GEOLOC_E_IO, "%s: shard %zu of %zu missing or unreadable: %s", full[k],
                          k + 1, n, strerror(errno));
        else if (!S_ISREG(st.st_mode))
            s = error_set(err, GEOLOC_E_IO, "%s: shard is not a regular file", full[k]);
        else if (__builtin_add_overflow(sum, (uint64_t)st.st_size, &sum))
            sum = UINT64_MAX;
        else
            sizes[k] = (uint64_t)st.st_size;
    }
    if (s == GEOLOC_OK && sum != need) {
        /* tfjs writes equal shards but the last: name the odd one, else the last */
        size_t odd = n - 1;
        if (n >= 4 && sizes[0] != sizes[1] && sizes[1] == sizes[2]) odd = 0;
        else
            for (size_t k = 1; k + 1 < n; k++)
                if (sizes[k] != sizes[0]) {
                    odd = k;
                    break;
                }
        const char *what = odd + 1 < n ? "unlike the shards around it"
                           : sum > need ? "too long" : "too short (truncated, or a shard missing?)";
        s = error_set(err, GEOLOC_E_RANGE,
                      "%s: %llu bytes, %s: the %zu shards of group %zu hold %llu bytes, its weights "
                      "need %llu", full[odd], (unsigned long long)sizes[odd], what, n, g + 1,
                      (unsigned long long)sum, (unsigned long long)need);
    }
    uint64_t pos = 0;
    for (size_t k = 0; k < n && s == GEOLOC_OK; k++) {
        FILE *f = fopen(full[k], "rb");
        if (!f) {
            s = error_set(err, GEOLOC_E_IO, "%s: cannot open shard: %s", full[k], strerror(errno));
            break;
        }
        size_t got = sizes[k] ? fread(dst + pos, 1, (size_t)sizes[k], f) : 0;
        if (got != sizes[k] || fgetc(f) != EOF)
            s = error_set(err, GEOLOC_E_IO, "%s: read error or the shard changed while reading", full[k]);
        fclose(f);
        pos += sizes[k];
    }
    if (s == GEOLOC_OK && res) {
        res->n_shards += n;
        res->shard_bytes += sum;
    }
    for (size_t k = 0; full && k < n; k++) free(full[k]);
    free(full);
    free(sizes);
    return s;
}

/* Converts weight w from src (Keras layout) to dst (torchvision layout) and
 * sets the torchvision shape; non-finite values (and negative variances) are errors. */
static geoloc_status convert(const char *dir, const geoloc_keras_weight *w, const unsigned char *src,
                             float *dst, uint64_t *shape, geoloc_error *err) {
    int variance = strstr(w->keras_name, "/moving_variance") != NULL;
    for (uint64_t e = 0; e < w->n_elements; e++) {
        float x;
        memcpy(&x, src + 4 * e, 4);
        if (!isfinite(x) || (variance && x < 0))
            return error_set(err, GEOLOC_E_RANGE, "%s: weight %s: element %llu is %g", dir,
                             w->keras_name, (unsigned long long)e, (double)x);
    }
    if (w->ndim == 4) { /* HWIO -> OIHW */
        uint64_t H = w->shape[0], W = w->shape[1], I = w->shape[2], O = w->shape[3];
        for (uint64_t h = 0; h < H; h++)
            for (uint64_t x = 0; x < W; x++)
                for (uint64_t i = 0; i < I; i++) {
                    const unsigned char *row = src + 4 * (((h * W + x) * I + i) * O);
                    for (uint64_t o = 0; o < O; o++)
                        memcpy(&dst[((o * I + i) * H + h) * W + x], row + 4 * o, 4);
                }
        shape[0] = O, shape[1] = I, shape[2] = H, shape[3] = W;
    } else if (w->ndim == 2) { /* [in, out] -> [out, in] */
        uint64_t I = w->shape[0], O = w->shape[1];
        for (uint64_t i = 0; i < I; i++)
            for (uint64_t o = 0; o < O; o++) memcpy(&dst[o * I + i], src + 4 * (i * O + o), 4);
        shape[0] = O, shape[1] = I;
    } else {
        memcpy(dst, src, (size_t)w->n_elements * 4);
        shape[0] = w->shape[0];
    }
    return GEOLOC_OK;
}

geoloc_status geoloc_keras_import(const char *dir, const char *out_path,
                                  const geoloc_keras_import_options *opt,
                                  geoloc_keras_import_result *res, geoloc_error *err) {
    geoloc_keras_import_result local;
    if (!res) res = &local;
    memset(res, 0, sizeof *res);
    if (!dir || !out_path) return error_set(err, GEOLOC_E_ARG, "keras import: NULL folder or output");
    char *model_path = join_path(dir, "model.json");
    if (!model_path) return error_set(err, GEOLOC_E_NOMEM, "%s: out of memory", dir);
    const void *text;
    size_t text_size;
    geoloc_keras_model *m = NULL;
    char *classes = NULL;
    unsigned char **data = NULL;
    float *outbuf = NULL;
    geoloc_status s = map_json(model_path, &text, &text_size, err);
    if (s == GEOLOC_OK) {
        s = geoloc_keras_model_parse(text, text_size, model_path, &m, err);
        mapped_file_close(text, text_size);
    }
    if (s == GEOLOC_OK && opt && opt->labels_path) {
        if ((s = map_json(opt->labels_path, &text, &text_size, err)) == GEOLOC_OK) {
            s = geoloc_keras_labels_parse(text, text_size, opt->labels_path,
                                          GEOLOC_KERAS_RESNET50_CLASSES, &classes, err);
            mapped_file_close(text, text_size);
        }
        if (s == GEOLOC_OK) res->n_classes = GEOLOC_KERAS_RESNET50_CLASSES;
    }
    size_t n_groups = m ? geoloc_keras_model_group_count(m) : 0;
    if (s == GEOLOC_OK && !(data = calloc(n_groups, sizeof *data)))
        s = error_set(err, GEOLOC_E_NOMEM, "%s: out of memory", dir);
    uint64_t total = 0;
    for (size_t g = 0; s == GEOLOC_OK && g < n_groups; g++) {
        uint64_t b = geoloc_keras_model_group_bytes(m, g);
        total += b; /* the weights are ResNet-50's, each once: about 100 MB in all */
        if (b > SIZE_MAX || !(data[g] = malloc(b ? (size_t)b : 1)))
            s = error_set(err, GEOLOC_E_NOMEM, "%s: out of memory for %llu bytes of weights", dir,
                          (unsigned long long)b);
        else
            s = read_group(dir, m, g, data[g], res, err);
    }
    if (s == GEOLOC_OK && !(outbuf = malloc((size_t)total)))
        s = error_set(err, GEOLOC_E_NOMEM, "%s: out of memory for %llu bytes", dir,
                      (unsigned long long)total);
    static const char *const KEYS[] = {"geoloc.format", "geoloc.arch", "geoloc.stride_in_bottleneck",
                                       "geoloc.bn_eps", "geoloc.conv_bias", "geoloc.input",
                                       "geoloc.source", "geoloc.classes"};
    if (s == GEOLOC_OK) {
        geoloc_tensor_desc desc[GEOLOC_KERAS_RESNET50_WEIGHTS];
        uint64_t shapes[GEOLOC_KERAS_RESNET50_WEIGHTS][4];
        uint64_t pos = 0;
        for (size_t i = 0; i < GEOLOC_KERAS_RESNET50_WEIGHTS && s == GEOLOC_OK; i++) {
            const geoloc_keras_weight *w = geoloc_keras_model_weight(m, i);
            s = convert(dir, w, data[w->group] + w->offset, outbuf + pos / 4, shapes[i], err);
            desc[i] = (geoloc_tensor_desc){w->torch_name, GEOLOC_DTYPE_F32, w->ndim, shapes[i],
                                           outbuf + pos / 4};
            pos += w->n_elements * 4;
            res->n_parameters += w->n_elements;
        }
        if (opt && opt->source) snprintf(res->source, sizeof res->source, "%s", opt->source);
        else default_source(dir, res->source, sizeof res->source);
        const char *values[] = {"geoloc-weights-1", "resnet50", "conv1", "0.001", "true",
                                "caffe_bgr", res->source, classes};
        if (s == GEOLOC_OK)
            s = geoloc_safetensors_write(out_path, desc, GEOLOC_KERAS_RESNET50_WEIGHTS, KEYS, values,
                                         classes ? 8 : 7, err);
        if (s == GEOLOC_OK) res->n_tensors = GEOLOC_KERAS_RESNET50_WEIGHTS;
    }
    for (size_t g = 0; data && g < n_groups; g++) free(data[g]);
    free(data);
    free(outbuf);
    free(classes);
    geoloc_keras_model_free(m);
    free(model_path);
    return s;
}
