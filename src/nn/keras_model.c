/* model.json of the Keras ImageNet ResNet-50 (TensorFlow.js layers-model):
 * parsing and validation (the import itself: keras_import.c).
 *
 * The expected network is built as a table in torchvision state_dict order
 * (conv1, bn1, layer1.0.conv1, layer1.0.bn1, ..., layer1.0.downsample.0/1,
 * ..., fc). model.json is read as a tree; every layer of the topology is
 * checked against the table, every manifest weight gets its group and byte
 * offset, then completeness is checked (so that every check can be reached
 * by small inputs, as the fuzzer's). */
#include "geoloc/keras.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "nn/json_doc.h"

#define MAX_DEPTH 64
#define MAX_VALUES 1000000 /* values in a model.json (the real one has 7,160): at most ~96 MB of tree */
#define N_LAYERS 107       /* 53 Conv2D + 53 BatchNormalization + 1 Dense */
#define NAME_CAP 48

enum { K_CONV, K_BN, K_DENSE };

typedef struct layer_spec {
    char name[24];  /* Keras layer name */
    char torch[32]; /* torchvision module */
    int kind;
    int k, stride, filters, in; /* conv: kernel, stride, filters, input channels;
                                   BN: filters = channels; Dense: filters = units */
} layer_spec;

typedef struct group {
    size_t n_paths;
    char **paths;
    uint64_t bytes;
} group;

struct geoloc_keras_model {
    layer_spec layers[N_LAYERS];
    const layer_spec *by_name[N_LAYERS]; /* sorted by Keras name */
    int layer_seen[N_LAYERS];
    geoloc_keras_weight w[GEOLOC_KERAS_RESNET50_WEIGHTS];
    char keras_names[GEOLOC_KERAS_RESNET50_WEIGHTS][NAME_CAP];
    char torch_names[GEOLOC_KERAS_RESNET50_WEIGHTS][NAME_CAP];
    int weight_seen[GEOLOC_KERAS_RESNET50_WEIGHTS];
    int first_weight[N_LAYERS]; /* index in w of each layer's first weight */
    size_t n_groups;
    group *groups;
};

/* roles of a layer's weights: Keras suffix -> torchvision suffix */
static const char *const CONV_KERAS[] = {"kernel", "bias"};
static const char *const CONV_TORCH[] = {"weight", "bias"};
static const char *const BN_KERAS[] = {"gamma", "beta", "moving_mean", "moving_variance"};
static const char *const BN_TORCH[] = {"weight", "bias", "running_mean", "running_var"};

static int n_roles(int kind) { return kind == K_BN ? 4 : 2; }

static void add_layer(geoloc_keras_model *m, size_t *n, const char *name, const char *torch,
                      int kind, int k, int stride, int filters, int in) {
    layer_spec *l = &m->layers[(*n)++];
    snprintf(l->name, sizeof l->name, "%s", name);
    snprintf(l->torch, sizeof l->torch, "%s", torch);
    l->kind = kind;
    l->k = k;
    l->stride = stride;
    l->filters = filters;
    l->in = in;
}

static int cmp_spec_name(const void *a, const void *b) {
    return strcmp((*(const layer_spec *const *)a)->name, (*(const layer_spec *const *)b)->name);
}

/* The Keras ResNet-50 v1: stride 2 on the first 1x1 conv (branch2a) and on
 * branch1 of the first block of stages 3, 4, 5. Fills layers and weights. */
static void build_tables(geoloc_keras_model *m) {
    static const int blocks[4] = {3, 4, 6, 3};
    size_t n = 0;
    add_layer(m, &n, "conv1", "conv1", K_CONV, 7, 2, 64, 3);
    add_layer(m, &n, "bn_conv1", "bn1", K_BN, 0, 0, 64, 0);
    int in = 64;
    for (int s = 2; s <= 5; s++) {
        int w = 64 << (s - 2), out = 4 * w;
        for (int b = 0; b < blocks[s - 2]; b++) {
            int stride = b == 0 && s > 2 ? 2 : 1, bin = b == 0 ? in : out;
            char kn[24], bn[24], tn[32], tb[32];
            static const char *const br[3] = {"2a", "2b", "2c"};
            for (int c = 0; c < 3; c++) {
                snprintf(kn, sizeof kn, "res%d%c_branch%s", s, 'a' + b, br[c]);
                snprintf(bn, sizeof bn, "bn%d%c_branch%s", s, 'a' + b, br[c]);
                snprintf(tn, sizeof tn, "layer%d.%d.conv%d", s - 1, b, c + 1);
                snprintf(tb, sizeof tb, "layer%d.%d.bn%d", s - 1, b, c + 1);
                int f = c == 2 ? out : w;
                add_layer(m, &n, kn, tn, K_CONV, c == 1 ? 3 : 1, c == 0 ? stride : 1, f,
                          c == 0 ? bin : w);
                add_layer(m, &n, bn, tb, K_BN, 0, 0, f, 0);
            }
            if (b == 0) {
                snprintf(kn, sizeof kn, "res%da_branch1", s);
                snprintf(bn, sizeof bn, "bn%da_branch1", s);
                snprintf(tn, sizeof tn, "layer%d.0.downsample.0", s - 1);
                snprintf(tb, sizeof tb, "layer%d.0.downsample.1", s - 1);
                add_layer(m, &n, kn, tn, K_CONV, 1, stride, out, in);
                add_layer(m, &n, bn, tb, K_BN, 0, 0, out, 0);
            }
        }
        in = out;
    }
    add_layer(m, &n, "fc1000", "fc", K_DENSE, 0, 0, GEOLOC_KERAS_RESNET50_CLASSES, in);
    size_t nw = 0;
    for (size_t i = 0; i < N_LAYERS; i++) {
        const layer_spec *l = &m->layers[i];
        m->by_name[i] = l;
        m->first_weight[i] = (int)nw;
        for (int r = 0; r < n_roles(l->kind); r++, nw++) {
            geoloc_keras_weight *w = &m->w[nw];
            snprintf(m->keras_names[nw], NAME_CAP, "%s/%s", l->name,
                     l->kind == K_BN ? BN_KERAS[r] : CONV_KERAS[r]);
            snprintf(m->torch_names[nw], NAME_CAP, "%s.%s", l->torch,
                     l->kind == K_BN ? BN_TORCH[r] : CONV_TORCH[r]);
            w->keras_name = m->keras_names[nw];
            w->torch_name = m->torch_names[nw];
            if (l->kind == K_CONV && r == 0) {
                w->ndim = 4;
                w->shape[0] = w->shape[1] = (uint64_t)l->k;
                w->shape[2] = (uint64_t)l->in;
                w->shape[3] = (uint64_t)l->filters;
            } else if (l->kind == K_DENSE && r == 0) {
                w->ndim = 2;
                w->shape[0] = (uint64_t)l->in;
                w->shape[1] = (uint64_t)l->filters;
            } else {
                w->ndim = 1;
                w->shape[0] = (uint64_t)l->filters;
            }
            w->n_elements = 1;
            for (size_t d = 0; d < w->ndim; d++) w->n_elements *= w->shape[d];
        }
    }
    qsort(m->by_name, N_LAYERS, sizeof m->by_name[0], cmp_spec_name);
}

/* Index of the expected layer called name, or -1. */
static int find_layer(const geoloc_keras_model *m, const char *name) {
    size_t lo = 0, hi = N_LAYERS;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(m->by_name[mid]->name, name);
        if (c == 0) return (int)(m->by_name[mid] - m->layers);
        if (c < 0) lo = mid + 1;
        else hi = mid;
    }
    return -1;
}

/* Index in m->w of the expected weight called name ("layer/role"), or -1. */
static int find_weight(const geoloc_keras_model *m, const char *name) {
    const char *slash = strrchr(name, '/');
    if (!slash || (size_t)(slash - name) >= sizeof m->layers[0].name) return -1;
    char lname[sizeof m->layers[0].name];
    memcpy(lname, name, (size_t)(slash - name));
    lname[slash - name] = '\0';
    int l = find_layer(m, lname);
    if (l < 0) return -1;
    int kind = m->layers[l].kind;
    for (int r = 0; r < n_roles(kind); r++)
        if (!strcmp(slash + 1, kind == K_BN ? BN_KERAS[r] : CONV_KERAS[r]))
            return m->first_weight[l] + r;
    return -1;
}

/* ---- rendering values for messages ------------------------------------------- */

typedef struct textbuf {
    char *p;
    size_t cap, n;
} textbuf;

static void tb_add(textbuf *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void tb_add(textbuf *t, const char *fmt, ...) {
    if (t->n + 1 >= t->cap) return;
    va_list ap;
    va_start(ap, fmt);
    int r = vsnprintf(t->p + t->n, t->cap - t->n, fmt, ap);
    va_end(ap);
    if (r > 0) t->n = (size_t)r >= t->cap - t->n ? t->cap - 1 : t->n + (size_t)r;
}

static void render(textbuf *t, const json_t *v, int depth) {
    switch (json_typeof(v)) {
    case JSON_NULL: tb_add(t, "null"); break;
    case JSON_TRUE: tb_add(t, "true"); break;
    case JSON_FALSE: tb_add(t, "false"); break;
    case JSON_INTEGER: tb_add(t, "%lld", (long long)json_integer_value(v)); break;
    case JSON_REAL: tb_add(t, "%.9g", json_real_value(v)); break;
    case JSON_STRING:
        tb_add(t, "\"%.60s%s\"", json_string_value(v), json_string_length(v) > 60 ? "..." : "");
        break;
    case JSON_ARRAY:
    case JSON_OBJECT: {
        int array = json_is_array(v);
        size_t n = array ? json_array_size(v) : json_object_size(v), k = 0;
        tb_add(t, array ? "[" : "{");
        for (void *it = array ? NULL : json_object_iter((json_t *)v); k < n && depth < 3; k++) {
            if (k == 8) {
                tb_add(t, ",...");
                break;
            }
            if (k) tb_add(t, ",");
            if (array) {
                render(t, json_array_get(v, k), depth + 1);
            } else {
                tb_add(t, "\"%.30s\":", json_object_iter_key(it));
                render(t, json_object_iter_value(it), depth + 1);
                it = json_object_iter_next((json_t *)v, it);
            }
        }
        if (depth >= 3 && n) tb_add(t, "...");
        tb_add(t, array ? "]" : "}");
        break;
    }
    }
}

/* A short text of v ("[1,1]", "\"same\"") in buf. */
static const char *value_text(const json_t *v, char *buf, size_t cap) {
    textbuf t = {buf, cap, 0};
    buf[0] = '\0';
    render(&t, v, 0);
    return buf;
}

static const char *shape_text(char *buf, size_t cap, const uint64_t *shape, size_t ndim) {
    textbuf t = {buf, cap, 0};
    buf[0] = '\0';
    tb_add(&t, "[");
    for (size_t k = 0; k < ndim; k++) tb_add(&t, "%s%llu", k ? "," : "", (unsigned long long)shape[k]);
    tb_add(&t, "]");
    return buf;
}

/* ---- topology ----------------------------------------------------------------- */

typedef struct ctx {
    const char *file;
    const char *layer;
    geoloc_error *err;
} ctx;

#define LAYER_ERR(c, status, fmt, ...) \
    error_set((c)->err, status, "%s: layer %s: " fmt, (c)->file, (c)->layer, __VA_ARGS__)

/* config[key] must be a pair of integers (a, b) ("kernel_size [3,3]"). */
static geoloc_status check_pair(const ctx *c, const json_t *cfg, const char *key, int a, int b,
                                int optional) {
    const json_t *v = json_object_get(cfg, key);
    if (!v) return optional ? GEOLOC_OK : LAYER_ERR(c, GEOLOC_E_PARSE, "no \"%s\"", key);
    const json_t *x = json_array_get(v, 0), *y = json_array_get(v, 1);
    if (json_array_size(v) != 2 || !json_is_integer(x) || !json_is_integer(y) || json_integer_value(x) != a ||
        json_integer_value(y) != b) {
        char buf[200];
        return LAYER_ERR(c, json_is_array(v) ? GEOLOC_E_RANGE : GEOLOC_E_PARSE,
                         "%s %s, expected [%d,%d]", key, value_text(v, buf, sizeof buf), a, b);
    }
    return GEOLOC_OK;
}

/* config[key] must be the integer want. */
static geoloc_status check_int(const ctx *c, const json_t *cfg, const char *key, int want,
                               int optional) {
    const json_t *v = json_object_get(cfg, key);
    if (!v) return optional ? GEOLOC_OK : LAYER_ERR(c, GEOLOC_E_PARSE, "no \"%s\"", key);
    if (!json_is_integer(v) || json_integer_value(v) != want) {
        char buf[200];
        return LAYER_ERR(c, GEOLOC_E_RANGE, "%s %s, expected %d", key,
                         value_text(v, buf, sizeof buf), want);
    }
    return GEOLOC_OK;
}

/* config[key], when given, must be true (the default). */
static geoloc_status check_true(const ctx *c, const json_t *cfg, const char *key) {
    const json_t *v = json_object_get(cfg, key);
    if (v && !json_is_true(v)) {
        char buf[200];
        return LAYER_ERR(c, GEOLOC_E_RANGE, "%s %s, expected true", key,
                         value_text(v, buf, sizeof buf));
    }
    return GEOLOC_OK;
}

/* config[key] must be one of the strings a, b (b may be NULL). */
static geoloc_status check_str(const ctx *c, const json_t *cfg, const char *key, const char *a,
                               const char *b, int optional) {
    const json_t *v = json_object_get(cfg, key);
    if (!v) return optional ? GEOLOC_OK : LAYER_ERR(c, GEOLOC_E_PARSE, "no \"%s\"", key);
    const char *text = json_string_value(v);
    if (!text || (strcmp(text, a) != 0 && (!b || strcmp(text, b) != 0))) {
        char buf[200];
        return LAYER_ERR(c, GEOLOC_E_RANGE, "%s %s, expected \"%s\"%s%s%s", key,
                         value_text(v, buf, sizeof buf), a, b ? " or \"" : "", b ? b : "",
                         b ? "\"" : "");
    }
    return GEOLOC_OK;
}

#define TRY(x)                                   \
    do {                                         \
        geoloc_status s_ = (x);                  \
        if (s_ != GEOLOC_OK) return s_;          \
    } while (0)

static geoloc_status check_conv(const ctx *c, const layer_spec *l, const json_t *cfg) {
    TRY(check_int(c, cfg, "filters", l->filters, 0));
    TRY(check_pair(c, cfg, "kernel_size", l->k, l->k, 0));
    TRY(check_pair(c, cfg, "strides", l->stride, l->stride, 0));
    /* 3x3: "same" (torch padding 1); conv1: "valid" after a ZeroPadding2D of 3;
       1x1: no padding either way */
    if (l->k == 3) TRY(check_str(c, cfg, "padding", "same", NULL, 0));
    else if (l->k == 7) TRY(check_str(c, cfg, "padding", "valid", NULL, 0));
    else TRY(check_str(c, cfg, "padding", "valid", "same", 0));
    TRY(check_pair(c, cfg, "dilation_rate", 1, 1, 1));
    TRY(check_int(c, cfg, "groups", 1, 1));
    TRY(check_str(c, cfg, "data_format", "channels_last", NULL, 1));
    TRY(check_str(c, cfg, "activation", "linear", NULL, 1));
    const json_t *b = json_object_get(cfg, "use_bias");
    if (!b || !json_is_true(b)) {
        char buf[200];
        if (!b) return LAYER_ERR(c, GEOLOC_E_PARSE, "no \"%s\"", "use_bias");
        return LAYER_ERR(c, GEOLOC_E_RANGE, "use_bias %s, expected true (Keras ResNet-50 convs have biases)",
                         value_text(b, buf, sizeof buf));
    }
    return GEOLOC_OK;
}

static geoloc_status check_bn(const ctx *c, const json_t *cfg) {
    const json_t *a = json_object_get(cfg, "axis");
    if (!a) return LAYER_ERR(c, GEOLOC_E_PARSE, "no \"%s\"", "axis");
    const json_t *one = json_is_array(a) && json_array_size(a) == 1 ? json_array_get(a, 0) : a;
    if (!json_is_integer(one) || (json_integer_value(one) != 3 && json_integer_value(one) != -1)) {
        char buf[200];
        return LAYER_ERR(c, GEOLOC_E_RANGE, "axis %s, expected [3] (channels last)",
                         value_text(a, buf, sizeof buf));
    }
    const json_t *e = json_object_get(cfg, "epsilon");
    if (!e) return LAYER_ERR(c, GEOLOC_E_PARSE, "no \"%s\"", "epsilon");
    if (!json_is_number(e) || fabs(json_number_value(e) - 1e-3) > 1e-12) {
        char buf[200];
        return LAYER_ERR(c, GEOLOC_E_RANGE, "epsilon %s, expected 0.001",
                         value_text(e, buf, sizeof buf));
    }
    TRY(check_true(c, cfg, "center"));
    return check_true(c, cfg, "scale");
}

static geoloc_status check_dense(const ctx *c, const layer_spec *l, const json_t *cfg) {
    TRY(check_int(c, cfg, "units", l->filters, 0));
    TRY(check_true(c, cfg, "use_bias"));
    return check_str(c, cfg, "activation", "softmax", "linear", 1);
}

/* Layers without weights that the network may hold (the rest is refused). */
static const char *const PLAIN_CLASSES[] = {"InputLayer", "ZeroPadding2D", "Activation",
                                            "MaxPooling2D", "Add", "GlobalAveragePooling2D",
                                            "AveragePooling2D", "Flatten"};

static geoloc_status check_layer(geoloc_keras_model *m, const char *file, size_t index,
                                 const json_t *lv, geoloc_error *err) {
    char where[48];
    snprintf(where, sizeof where, "#%zu", index);
    ctx c = {file, where, err};
    if (!json_is_object(lv))
        return LAYER_ERR(&c, GEOLOC_E_PARSE, "%s", "not a JSON object");
    const json_t *name = json_object_get(lv, "name"), *cls = json_object_get(lv, "class_name"),
                 *cfg = json_object_get(lv, "config");
    if (!name || !json_is_string(name)) return LAYER_ERR(&c, GEOLOC_E_PARSE, "%s", "no \"name\" string");
    c.layer = json_string_value(name);
    const char *class_name = json_string_value(cls);
    if (!class_name)
        return LAYER_ERR(&c, GEOLOC_E_PARSE, "%s", "no \"class_name\" string");
    if (!cfg || !json_is_object(cfg))
        return LAYER_ERR(&c, GEOLOC_E_PARSE, "%s", "no \"config\" object");
    int li = find_layer(m, c.layer);
    const char *kind_class[] = {"Conv2D", "BatchNormalization", "Dense"};
    if (li < 0) {
        for (size_t k = 0; k < sizeof PLAIN_CLASSES / sizeof PLAIN_CLASSES[0]; k++) {
            if (strcmp(class_name, PLAIN_CLASSES[k]) != 0) continue;
            if (!strcmp(class_name, "Activation"))
                return check_str(&c, cfg, "activation", "relu", NULL, 0);
            if (!strcmp(class_name, "MaxPooling2D")) {
                TRY(check_pair(&c, cfg, "pool_size", 3, 3, 0));
                return check_pair(&c, cfg, "strides", 2, 2, 0);
            }
            return GEOLOC_OK;
        }
        for (int k = 0; k < 3; k++)
            if (!strcmp(class_name, kind_class[k]))
                return error_set(err, GEOLOC_E_RANGE,
                                 "%s: layer %s: a %.40s layer that Keras ResNet-50 does not have "
                                 "(ResNet-101/152 or another model?)", file, c.layer,
                                 class_name);
        return error_set(err, GEOLOC_E_RANGE,
                         "%s: layer %s: class %.60s is not part of Keras ResNet-50", file,
                         c.layer, class_name);
    }
    const layer_spec *l = &m->layers[li];
    if (strcmp(class_name, kind_class[l->kind]) != 0)
        return error_set(err, GEOLOC_E_RANGE, "%s: layer %s: class %.60s, expected %s", file,
                         l->name, class_name, kind_class[l->kind]);
    if (m->layer_seen[li]++)
        return error_set(err, GEOLOC_E_PARSE, "%s: layer %s given twice", file, l->name);
    return l->kind == K_CONV ? check_conv(&c, l, cfg)
           : l->kind == K_BN ? check_bn(&c, cfg)
                             : check_dense(&c, l, cfg);
}

static geoloc_status check_topology(geoloc_keras_model *m, const char *file,
                                    const json_t *root, geoloc_error *err) {
    const json_t *fmt = json_object_get(root, "format");
    if (fmt && (!json_is_string(fmt) || strcmp(json_string_value(fmt), "layers-model") != 0)) {
        char buf[200];
        return error_set(err, GEOLOC_E_RANGE,
                         "%s: format %s: only a Keras \"layers-model\" can be imported", file,
                         value_text(fmt, buf, sizeof buf));
    }
    const json_t *topo = json_object_get(root, "modelTopology");
    if (!topo || !json_is_object(topo))
        return error_set(err, GEOLOC_E_PARSE, "%s: no \"modelTopology\" object", file);
    const json_t *mc = json_object_get(topo, "model_config");
    if (!mc) mc = topo;
    const json_t *cls = json_object_get(mc, "class_name");
    if (!cls || !json_is_string(cls) ||
        (strcmp(json_string_value(cls), "Model") != 0 && strcmp(json_string_value(cls), "Functional") != 0)) {
        char buf[200];
        return error_set(err, GEOLOC_E_PARSE,
                         "%s: modelTopology: class_name %s, expected \"Model\" (a functional Keras model)",
                         file, cls ? value_text(cls, buf, sizeof buf) : "missing");
    }
    const json_t *cfg = json_object_get(mc, "config");
    const json_t *layers = json_object_get(cfg, "layers");
    if (!layers || !json_is_array(layers))
        return error_set(err, GEOLOC_E_PARSE, "%s: modelTopology: no \"config\".\"layers\" array", file);
    for (size_t k = 0; k < json_array_size(layers); k++)
        TRY(check_layer(m, file, k, json_array_get(layers, k), err));
    return GEOLOC_OK;
}

/* ---- weights manifest --------------------------------------------------------- */

/* A shard path must stay inside the model folder. */
static int safe_path(const char *p) {
    if (!p[0] || p[0] == '/') return 0;
    for (const char *s = p; *s;) {
        size_t n = strcspn(s, "/");
        if (n == 2 && s[0] == '.' && s[1] == '.') return 0;
        s += n;
        if (*s) s++;
    }
    return 1;
}

static geoloc_status check_weight(geoloc_keras_model *m, const char *file, size_t g, size_t k,
                                  const json_t *wv, uint64_t *offset, geoloc_error *err) {
    if (!json_is_object(wv))
        return error_set(err, GEOLOC_E_PARSE, "%s: weightsManifest[%zu].weights[%zu]: not a JSON object",
                         file, g, k);
    const json_t *name = json_object_get(wv, "name"), *dtype = json_object_get(wv, "dtype"),
                    *shape = json_object_get(wv, "shape");
    if (!name || !json_is_string(name))
        return error_set(err, GEOLOC_E_PARSE, "%s: weightsManifest[%zu].weights[%zu]: no \"name\" string",
                         file, g, k);
    const char *wn = json_string_value(name);
    if (!shape || !json_is_array(shape))
        return error_set(err, GEOLOC_E_PARSE, "%s: weight %.80s: no \"shape\" array", file, wn);
    uint64_t dims[4] = {0}, count = 1;
    char buf[200];
    for (size_t d = 0; d < json_array_size(shape); d++) {
        const json_t *x = json_array_get(shape, d);
        if (!json_is_integer(x) || json_integer_value(x) < 0)
            return error_set(err, GEOLOC_E_PARSE,
                             "%s: weight %.80s: shape %s: dimension %zu is not a non-negative integer",
                             file, wn, value_text(shape, buf, sizeof buf), d);
        if (__builtin_mul_overflow(count, (uint64_t)json_integer_value(x), &count))
            return error_set(err, GEOLOC_E_RANGE, "%s: weight %.80s: shape %s has more than 2^64 elements",
                             file, wn, value_text(shape, buf, sizeof buf));
        if (d < 4) dims[d] = (uint64_t)json_integer_value(x);
    }
    uint64_t bytes;
    if (__builtin_mul_overflow(count, (uint64_t)4, &bytes))
        return error_set(err, GEOLOC_E_RANGE, "%s: weight %.80s: shape %s exceeds 2^64 bytes", file,
                         wn, value_text(shape, buf, sizeof buf));
    if (!dtype || !json_is_string(dtype) || strcmp(json_string_value(dtype), "float32") != 0)
        return error_set(err, GEOLOC_E_RANGE, "%s: weight %.80s: dtype %s, only \"float32\" is supported",
                         file, wn, dtype ? value_text(dtype, buf, sizeof buf) : "missing");
    if (json_object_get(wv, "quantization"))
        return error_set(err, GEOLOC_E_RANGE, "%s: weight %.80s: quantized weights are not supported",
                         file, wn);
    int i = find_weight(m, wn);
    if (i < 0)
        return error_set(err, GEOLOC_E_RANGE, "%s: weight %.80s: not a weight of Keras ResNet-50", file, wn);
    geoloc_keras_weight *w = &m->w[i];
    if (m->weight_seen[i]++)
        return error_set(err, GEOLOC_E_PARSE, "%s: weight %s given twice in the weightsManifest",
                         file, w->keras_name);
    int same = json_array_size(shape) == w->ndim;
    for (size_t d = 0; same && d < w->ndim; d++) same = dims[d] == w->shape[d];
    if (!same) {
        char want[100];
        return error_set(err, GEOLOC_E_RANGE, "%s: weight %s: shape %s, expected %s", file,
                         w->keras_name, value_text(shape, buf, sizeof buf),
                         shape_text(want, sizeof want, w->shape, w->ndim));
    }
    w->group = g;
    w->offset = *offset;
    if (__builtin_add_overflow(*offset, bytes, offset))
        return error_set(err, GEOLOC_E_RANGE, "%s: weightsManifest[%zu]: more than 2^64 bytes", file, g);
    return GEOLOC_OK;
}

static geoloc_status check_manifest(geoloc_keras_model *m, const char *file,
                                    const json_t *root, geoloc_error *err) {
    const json_t *wm = json_object_get(root, "weightsManifest");
    if (!wm || !json_is_array(wm) || json_array_size(wm) == 0)
        return error_set(err, GEOLOC_E_PARSE, "%s: no \"weightsManifest\" array of groups", file);
    m->groups = calloc(json_array_size(wm), sizeof *m->groups);
    if (!m->groups) return error_set(err, GEOLOC_E_NOMEM, "%s: out of memory", file);
    m->n_groups = json_array_size(wm);
    for (size_t g = 0; g < json_array_size(wm); g++) {
        const json_t *gv = json_array_get(wm, g);
        const json_t *paths = json_object_get(gv, "paths"), *weights = json_object_get(gv, "weights");
        if (!paths || !json_is_array(paths) || !weights || !json_is_array(weights))
            return error_set(err, GEOLOC_E_PARSE,
                             "%s: weightsManifest[%zu]: no \"paths\" and \"weights\" arrays", file, g);
        group *gr = &m->groups[g];
        gr->paths = calloc(json_array_size(paths) ? json_array_size(paths) : 1, sizeof *gr->paths);
        if (!gr->paths) return error_set(err, GEOLOC_E_NOMEM, "%s: out of memory", file);
        for (size_t k = 0; k < json_array_size(paths); k++) {
            const json_t *p = json_array_get(paths, k);
            if (!json_is_string(p) || !safe_path(json_string_value(p))) {
                char buf[200];
                return error_set(err, GEOLOC_E_PARSE,
                                 "%s: weightsManifest[%zu].paths[%zu]: %s is not a relative path "
                                 "inside the model folder", file, g, k, value_text(p, buf, sizeof buf));
            }
            if (!(gr->paths[k] = strdup(json_string_value(p))))
                return error_set(err, GEOLOC_E_NOMEM, "%s: out of memory", file);
            gr->n_paths++;
        }
        for (size_t k = 0; k < json_array_size(weights); k++)
            TRY(check_weight(m, file, g, k, json_array_get(weights, k), &gr->bytes, err));
        if (gr->bytes && !gr->n_paths)
            return error_set(err, GEOLOC_E_PARSE, "%s: weightsManifest[%zu]: weights but no shard paths",
                             file, g);
    }
    return GEOLOC_OK;
}

geoloc_status geoloc_keras_model_parse(const char *text, size_t len, const char *name,
                                       geoloc_keras_model **out, geoloc_error *err) {
    const char *file = name ? name : "model.json";
    *out = NULL;
    if (!text && len) return error_set(err, GEOLOC_E_ARG, "%s: NULL text", file);
    geoloc_keras_model *m = calloc(1, sizeof *m);
    if (!m) return error_set(err, GEOLOC_E_NOMEM, "%s: out of memory", file);
    build_tables(m);
    char msg[300];
    json_t *root = json_doc_parse(text ? text : "", len, MAX_DEPTH, MAX_VALUES, msg, sizeof msg);
    if (!root) {
        geoloc_keras_model_free(m);
        return error_set(err, GEOLOC_E_PARSE, "%s: not valid JSON: %s", file, msg);
    }
    geoloc_status s = GEOLOC_OK;
    if (!json_is_object(root))
        s = error_set(err, GEOLOC_E_PARSE, "%s: not a JSON object", file);
    if (s == GEOLOC_OK) s = check_topology(m, file, root, err);
    if (s == GEOLOC_OK) s = check_manifest(m, file, root, err);
    for (size_t i = 0; i < N_LAYERS && s == GEOLOC_OK; i++)
        if (!m->layer_seen[i])
            s = error_set(err, GEOLOC_E_RANGE, "%s: layer %s missing from the topology (not a Keras "
                          "ResNet-50?)", file, m->layers[i].name);
    for (size_t i = 0; i < GEOLOC_KERAS_RESNET50_WEIGHTS && s == GEOLOC_OK; i++)
        if (!m->weight_seen[i])
            s = error_set(err, GEOLOC_E_RANGE, "%s: weight %s missing from the weightsManifest", file,
                          m->w[i].keras_name);
    json_decref(root);
    if (s != GEOLOC_OK) {
        geoloc_keras_model_free(m);
        return s;
    }
    *out = m;
    return GEOLOC_OK;
}

void geoloc_keras_model_free(geoloc_keras_model *m) {
    if (!m) return;
    for (size_t g = 0; g < m->n_groups; g++) {
        for (size_t k = 0; k < m->groups[g].n_paths; k++) free(m->groups[g].paths[k]);
        free(m->groups[g].paths);
    }
    free(m->groups);
    free(m);
}

size_t geoloc_keras_model_weight_count(const geoloc_keras_model *m) {
    (void)m;
    return GEOLOC_KERAS_RESNET50_WEIGHTS;
}

const geoloc_keras_weight *geoloc_keras_model_weight(const geoloc_keras_model *m, size_t i) {
    return i < GEOLOC_KERAS_RESNET50_WEIGHTS ? &m->w[i] : NULL;
}

size_t geoloc_keras_model_group_count(const geoloc_keras_model *m) { return m->n_groups; }

size_t geoloc_keras_model_shard_count(const geoloc_keras_model *m, size_t g) {
    return g < m->n_groups ? m->groups[g].n_paths : 0;
}

const char *geoloc_keras_model_shard(const geoloc_keras_model *m, size_t g, size_t i) {
    return g < m->n_groups && i < m->groups[g].n_paths ? m->groups[g].paths[i] : NULL;
}

uint64_t geoloc_keras_model_group_bytes(const geoloc_keras_model *m, size_t g) {
    return g < m->n_groups ? m->groups[g].bytes : 0;
}

