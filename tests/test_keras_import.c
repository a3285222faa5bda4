/* Import of the Keras ResNet-50 (geoloc_keras_*): a synthetic tfjs folder
 * generated here (the real ResNet-50 topology and manifest shapes, shards of
 * the right total size filled with a known pattern) is imported and every
 * element of every tensor is checked at its torchvision position; then
 * hostile model.json texts, labels and shard sets, each refused with a
 * message naming the layer, weight, field or shard. Also the JSON reader's
 * documents, their bounds and errors (nn/json_doc.h). */
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>

#include "geoloc/keras.h"
#include "geoloc/safetensors.h"
#include "nn/json_doc.h"
#include "test_util.h"

/* ---- growing text --------------------------------------------------------------- */

typedef struct text {
    char *p;
    size_t n, cap;
} text;

static void put(text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(text *t, const char *fmt, ...) {
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int r = vsnprintf(t->p ? t->p + t->n : NULL, t->p ? t->cap - t->n : 0, fmt, ap);
        va_end(ap);
        if (t->p && (size_t)r < t->cap - t->n) {
            t->n += (size_t)r;
            return;
        }
        t->cap = (t->cap + (size_t)r + 1) * 2;
        t->p = realloc(t->p, t->cap);
        if (!t->p) exit(1);
    }
}

/* ---- the test's own picture of Keras ResNet-50 ---------------------------------- */

typedef struct wdesc {
    char keras[48], torch[48];
    int ndim;
    uint64_t shape[4]; /* Keras */
    uint64_t offset;   /* bytes in the stream, once the manifest is written */
} wdesc;

static wdesc W[1000]; /* ResNet-101 names: 626 */
static int n_w;

/* Generation of model.json, with one optional change of each kind. */
typedef struct mut {
    const char *layer, *field, *value;   /* config field of one layer: JSON text */
    const char *skip_layer, *dup_layer;
    const char *weight, *wfield, *wvalue; /* member of one manifest entry */
    const char *skip_weight, *dup_weight, *extra_weight;
    int stage4_blocks;                    /* 0: 6 (ResNet-50); 23: ResNet-101 names */
    const char *format;                   /* "format" member text */
    const char *path0;                    /* first shard path */
    int no_manifest;
} mut;

static const mut NONE = {0};

static void add_w(const char *layer, const char *role, const char *torch, const char *trole,
                  int ndim, uint64_t a, uint64_t b, uint64_t c, uint64_t d) {
    if (n_w == (int)(sizeof W / sizeof W[0])) exit(1);
    wdesc *w = &W[n_w++];
    snprintf(w->keras, sizeof w->keras, "%s/%s", layer, role);
    snprintf(w->torch, sizeof w->torch, "%s.%s", torch, trole);
    w->ndim = ndim;
    w->shape[0] = a, w->shape[1] = b, w->shape[2] = c, w->shape[3] = d;
}

/* One layer; fields are (key, JSON text) pairs, the mutation applied. */
static void layer(text *t, const mut *m, const char *name, const char *cls, int nf, ...) {
    if (m->skip_layer && !strcmp(m->skip_layer, name)) return;
    int times = m->dup_layer && !strcmp(m->dup_layer, name) ? 2 : 1;
    for (int r = 0; r < times; r++) {
        put(t, "%s{\"name\": \"%s\", \"class_name\": \"%s\", \"config\": {\"name\": \"%s\"",
            t->p[t->n - 1] == '[' ? "" : ", ", name, cls, name);
        int hit = m->layer && !strcmp(m->layer, name), done = 0;
        va_list ap;
        va_start(ap, nf);
        for (int k = 0; k < nf; k++) {
            const char *key = va_arg(ap, const char *), *val = va_arg(ap, const char *);
            if (hit && !strcmp(key, m->field)) {
                done = 1;
                if (!m->value) continue; /* removed */
                val = m->value;
            }
            put(t, ", \"%s\": %s", key, val);
        }
        va_end(ap);
        if (hit && !done && m->value) put(t, ", \"%s\": %s", m->field, m->value);
        put(t, "}, \"inbound_nodes\": []}");
    }
}

static void conv(text *t, const mut *m, const char *name, const char *torch, int k, int s, int f,
                 int in) {
    char ks[32], ss[32], fs[16];
    snprintf(ks, sizeof ks, "[%d, %d]", k, k);
    snprintf(ss, sizeof ss, "[%d, %d]", s, s);
    snprintf(fs, sizeof fs, "%d", f);
    layer(t, m, name, "Conv2D", 8, "filters", fs, "kernel_size", ks, "strides", ss, "padding",
          k == 3 ? "\"same\"" : "\"valid\"", "data_format", "\"channels_last\"", "dilation_rate",
          "[1, 1]", "activation", "\"linear\"", "use_bias", "true");
    add_w(name, "kernel", torch, "weight", 4, (uint64_t)k, (uint64_t)k, (uint64_t)in, (uint64_t)f);
    add_w(name, "bias", torch, "bias", 1, (uint64_t)f, 0, 0, 0);
}

static void bn(text *t, const mut *m, const char *name, const char *torch, int f) {
    layer(t, m, name, "BatchNormalization", 5, "axis", "[3]", "momentum", "0.99", "epsilon",
          "0.001", "center", "true", "scale", "true");
    static const char *const kr[] = {"gamma", "beta", "moving_mean", "moving_variance"};
    static const char *const tr[] = {"weight", "bias", "running_mean", "running_var"};
    for (int r = 0; r < 4; r++) add_w(name, kr[r], torch, tr[r], 1, (uint64_t)f, 0, 0, 0);
}

static int cmp_w_name(const void *a, const void *b) {
    return strcmp(((const wdesc *)a)->keras, ((const wdesc *)b)->keras);
}

/* model.json of Keras ResNet-50 with n_shards shard paths; fills W (in
 * torchvision order) with every weight's stream offset; *total gets the bytes. */
static char *gen_model(const mut *m, int n_shards, uint64_t *total) {
    text t = {0};
    n_w = 0;
    put(&t, "{\"format\": %s, \"generatedBy\": \"test\", \"modelTopology\": {\"keras_version\": "
            "\"2.2.4-tf\", \"model_config\": {\"class_name\": \"Model\", \"config\": {\"name\": "
            "\"resnet50\", \"layers\": [", m->format ? m->format : "\"layers-model\"");
    layer(&t, m, "input_1", "InputLayer", 1, "batch_input_shape", "[null, 224, 224, 3]");
    layer(&t, m, "conv1_pad", "ZeroPadding2D", 1, "padding", "[[3, 3], [3, 3]]");
    conv(&t, m, "conv1", "conv1", 7, 2, 64, 3);
    bn(&t, m, "bn_conv1", "bn1", 64);
    layer(&t, m, "activation", "Activation", 1, "activation", "\"relu\"");
    layer(&t, m, "max_pooling2d", "MaxPooling2D", 2, "pool_size", "[3, 3]", "strides", "[2, 2]");
    int in = 64, act = 1;
    for (int s = 2; s <= 5; s++) {
        int blocks = s == 2 ? 3 : s == 3 ? 4 : s == 4 ? (m->stage4_blocks ? m->stage4_blocks : 6) : 3;
        int w = 64 << (s - 2), out = 4 * w;
        for (int b = 0; b < blocks; b++) {
            char kn[32], bnn[32], tn[40], tb[40], an[32];
            int stride = b == 0 && s > 2 ? 2 : 1;
            for (int c = 0; c < 3; c++) {
                snprintf(kn, sizeof kn, "res%d%c_branch2%c", s, 'a' + b, 'a' + c);
                snprintf(bnn, sizeof bnn, "bn%d%c_branch2%c", s, 'a' + b, 'a' + c);
                snprintf(tn, sizeof tn, "layer%d.%d.conv%d", s - 1, b, c + 1);
                snprintf(tb, sizeof tb, "layer%d.%d.bn%d", s - 1, b, c + 1);
                conv(&t, m, kn, tn, c == 1 ? 3 : 1, c == 0 ? stride : 1, c == 2 ? out : w,
                     c == 0 ? (b == 0 ? in : out) : w);
                bn(&t, m, bnn, tb, c == 2 ? out : w);
                snprintf(an, sizeof an, "activation_%d", act++);
                if (c < 2) layer(&t, m, an, "Activation", 1, "activation", "\"relu\"");
            }
            if (b == 0) {
                snprintf(kn, sizeof kn, "res%da_branch1", s);
                snprintf(bnn, sizeof bnn, "bn%da_branch1", s);
                snprintf(tn, sizeof tn, "layer%d.0.downsample.0", s - 1);
                snprintf(tb, sizeof tb, "layer%d.0.downsample.1", s - 1);
                conv(&t, m, kn, tn, 1, stride, out, in);
                bn(&t, m, bnn, tb, out);
            }
            snprintf(an, sizeof an, "add_%d", act);
            layer(&t, m, an, "Add", 0);
            snprintf(an, sizeof an, "activation_%d", act++);
            layer(&t, m, an, "Activation", 1, "activation", "\"relu\"");
        }
        in = out;
    }
    layer(&t, m, "avg_pool", "GlobalAveragePooling2D", 1, "data_format", "\"channels_last\"");
    layer(&t, m, "fc1000", "Dense", 3, "units", "1000", "activation", "\"softmax\"", "use_bias", "true");
    add_w("fc1000", "kernel", "fc", "weight", 2, 2048, 1000, 0, 0);
    add_w("fc1000", "bias", "fc", "bias", 1, 1000, 0, 0, 0);
    put(&t, "], \"input_layers\": [[\"input_1\", 0, 0]], \"output_layers\": [[\"fc1000\", 0, 0]]}}}");
    if (m->no_manifest) {
        put(&t, "}");
        *total = 0;
        return t.p;
    }
    put(&t, ", \"weightsManifest\": [{\"paths\": [");
    for (int k = 0; k < n_shards; k++) {
        if (k == 0 && m->path0) put(&t, "\"%s\"", m->path0);
        else put(&t, "%s\"group1-shard%dof%d.bin\"", k ? ", " : "", k + 1, n_shards);
    }
    put(&t, "], \"weights\": [");
    /* the manifest lists the weights in name order (as the real one nearly does) */
    static wdesc sorted[1000];
    memcpy(sorted, W, (size_t)n_w * sizeof *W);
    qsort(sorted, (size_t)n_w, sizeof *sorted, cmp_w_name);
    uint64_t off = 0;
    int first = 1;
    for (int k = 0; k < n_w; k++) {
        wdesc *w = &sorted[k];
        for (int i = 0; i < n_w; i++)
            if (!strcmp(W[i].keras, w->keras)) W[i].offset = off;
        uint64_t n = 1;
        for (int d = 0; d < w->ndim; d++) n *= w->shape[d];
        if (m->skip_weight && !strcmp(m->skip_weight, w->keras)) continue;
        off += 4 * n;
        int times = m->dup_weight && !strcmp(m->dup_weight, w->keras) ? 2 : 1;
        for (int r = 0; r < times; r++) {
            int hit = m->weight && !strcmp(m->weight, w->keras);
            char shape[100] = "[";
            for (int d = 0; d < w->ndim; d++)
                snprintf(shape + strlen(shape), sizeof shape - strlen(shape), "%s%llu", d ? ", " : "",
                         (unsigned long long)w->shape[d]);
            strcat(shape, "]");
            const char *keys[3] = {"name", "shape", "dtype"};
            char name[64];
            snprintf(name, sizeof name, "\"%.48s\"", w->keras);
            const char *vals[3] = {name, shape, "\"float32\""};
            put(&t, "%s{", first ? "" : ", ");
            first = 0;
            int done = 0;
            for (int f = 0; f < 3; f++) {
                const char *v = vals[f];
                if (hit && !strcmp(m->wfield, keys[f])) {
                    done = 1;
                    if (!m->wvalue) continue;
                    v = m->wvalue;
                }
                put(&t, "%s\"%s\": %s", f && t.p[t.n - 1] != '{' ? ", " : "", keys[f], v);
            }
            if (hit && !done) put(&t, ", \"%s\": %s", m->wfield, m->wvalue);
            put(&t, "}");
        }
    }
    if (m->extra_weight)
        put(&t, ", {\"name\": \"%s\", \"shape\": [4], \"dtype\": \"float32\"}", m->extra_weight);
    put(&t, "]}]}");
    *total = off;
    return t.p;
}

/* ---- the JSON reader ------------------------------------------------------------ */

static void test_json(void) {
    char msg[300];
    const char *doc = " {\"a\": [1, -2.5, \"x\\u00e9\", true, false, null, {}, 9223372036854775807],"
                      " \"b\": {\"c\": []}, \"z\": 0} ";
    json_t *root = json_doc_parse(doc, strlen(doc), 8, 100, msg, sizeof msg);
    CHECK(root != NULL, "%s", msg);
    const json_t *a = json_object_get(root, "a");
    CHECK(json_array_size(a) == 8 && json_integer_value(json_array_get(a, 0)) == 1 &&
              json_is_real(json_array_get(a, 1)) && json_real_value(json_array_get(a, 1)) == -2.5 &&
              !strcmp(json_string_value(json_array_get(a, 2)), "x\xc3\xa9") && json_is_true(json_array_get(a, 3)) &&
              json_is_false(json_array_get(a, 4)) && json_is_null(json_array_get(a, 5)) &&
              json_object_size(json_array_get(a, 6)) == 0 && json_integer_value(json_array_get(a, 7)) == INT64_MAX,
          "tree");
    CHECK(json_object_get(json_object_get(root, "b"), "c") && !json_object_get(root, "y") &&
              !json_object_get(a, "a"), "get");
    const char *order[3] = {"a", "b", "z"}, *key;
    json_t *v;
    size_t k = 0;
    json_object_foreach(root, key, v) CHECK(k < 3 && !strcmp(key, order[k++]), "member order: %s", key);
    json_decref(root);
    /* the bounds hold exactly: 12 values, depth 8 */
    root = json_doc_parse("[1,2,3,4,5,6,7,8,9,10,11]", 25, 8, 12, msg, sizeof msg);
    CHECK(root != NULL, "%s", msg);
    json_decref(root);
    root = json_doc_parse("[[[[[[[[1]]]]]]]]", 17, 8, 12, msg, sizeof msg);
    CHECK(root != NULL, "%s", msg);
    json_decref(root);
    static const struct {
        const char *text, *msg;
    } bad[] = {
        {"{\"a\": 1, \"a\": 2}", "duplicate object key"},
        {"{\"k1\":1,\"k2\":1,\"k3\":{\"x\":[1]},\"k3\":2}", "duplicate object key near '\"k3\"'"},
        {"[1] x", "end of file expected"}, {"[1,]", "unexpected token"}, {"{\"a\" 1}", "':' expected"},
        {"[[[[[[[[[1]]]]]]]]]", "nested deeper than 8 at byte 8"},
        {"[1,2,3,4,5,6,7,8,9,10,11,12]", "more than 12 values"},
        {"[\"[[[[[[[[[[,,,,,,,,,,,,,,,,", "premature end of input"}, /* strings are not counted */
        {"", "end of file"}, {"\"abc", "premature end of input"}, {"{1: 2}", "string or '}' expected"},
        {"[tru]", "invalid token"}, {"[18446744073709551616]", "too big integer"}, {"[1e400]", "overflow"},
        {"[01]", "invalid token"}, {"[\"\\u0000\"]", "NUL"}, {"[\"\\ud800\"]", "invalid Unicode"},
        {"[\"\xc3\x28\"]", "unable to decode byte"}, {"[\"\xed\xa0\x80\"]", "unable to decode byte"},
        {"[NaN]", "invalid token"},
    };
    for (k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        msg[0] = '\0';
        root = json_doc_parse(bad[k].text, strlen(bad[k].text), 8, 12, msg, sizeof msg);
        CHECK(!root && strstr(msg, bad[k].msg), "%s: %s", bad[k].text, msg);
        json_decref(root);
    }
    CHECK(json_doc_valid_utf8("caf\xc3\xa9", 5) && !json_doc_valid_utf8("a\0b", 3) &&
              !json_doc_valid_utf8("\xc0\xaf", 2) && !json_doc_valid_utf8("\xed\xa0\x80", 3), "UTF-8 check");
}

/* ---- model.json --------------------------------------------------------------------- */

static void expect_model(const mut *m, const char *fragment, int line) {
    uint64_t total;
    char *js = gen_model(m, 25, &total);
    geoloc_keras_model *km = NULL;
    geoloc_error err = {0};
    geoloc_status s = geoloc_keras_model_parse(js, strlen(js), "x/model.json", &km, &err);
    CHECK(s != GEOLOC_OK && km == NULL, "line %d: accepted", line);
    CHECK(strstr(err.message, fragment) && !strncmp(err.message, "x/model.json: ", 14),
          "line %d: message \"%s\" lacks \"%s\"", line, err.message, fragment);
    geoloc_keras_model_free(km);
    free(js);
}
#define EXPECT_MODEL(frag, ...) expect_model(&(mut){__VA_ARGS__}, frag, __LINE__)

static void expect_text(const char *js, size_t len, const char *fragment, int line) {
    geoloc_keras_model *km = NULL;
    geoloc_error err = {0};
    char *copy = malloc(len ? len : 1); /* exactly len bytes: ASan sees reads past the end */
    memcpy(copy, js, len);
    geoloc_status s = geoloc_keras_model_parse(copy, len, "x/model.json", &km, &err);
    CHECK(s != GEOLOC_OK && km == NULL && strstr(err.message, fragment),
          "line %d: len %zu: \"%s\" lacks \"%s\"", line, len, err.message, fragment);
    free(copy);
}

static void test_model(void) {
    uint64_t total;
    char *js = gen_model(&NONE, 25, &total);
    geoloc_keras_model *km = NULL;
    geoloc_error err = {0};
    CHECK(geoloc_keras_model_parse(js, strlen(js), "x/model.json", &km, &err) == GEOLOC_OK, "%s",
          err.message);
    CHECK(n_w == GEOLOC_KERAS_RESNET50_WEIGHTS && total == 102546848, "%d weights, %llu bytes", n_w,
          (unsigned long long)total);
    if (km) {
        CHECK(geoloc_keras_model_weight_count(km) == 320 && geoloc_keras_model_group_count(km) == 1 &&
                  geoloc_keras_model_shard_count(km, 0) == 25 &&
                  !strcmp(geoloc_keras_model_shard(km, 0, 24), "group1-shard25of25.bin") &&
                  geoloc_keras_model_group_bytes(km, 0) == total && !geoloc_keras_model_shard(km, 0, 25) &&
                  !geoloc_keras_model_weight(km, 320),
              "model summary");
        for (int i = 0; i < n_w; i++) {
            const geoloc_keras_weight *w = geoloc_keras_model_weight(km, (size_t)i);
            int same = w && (int)w->ndim == W[i].ndim && !strcmp(w->keras_name, W[i].keras) &&
                       !strcmp(w->torch_name, W[i].torch) && w->offset == W[i].offset && w->group == 0;
            for (int d = 0; same && d < W[i].ndim; d++) same = w->shape[d] == W[i].shape[d];
            CHECK(same, "weight %d (%s): %s %s %llu", i, W[i].keras, w ? w->keras_name : "-",
                  w ? w->torch_name : "-", w ? (unsigned long long)w->offset : 0ULL);
        }
    }
    geoloc_keras_model_free(km);
    /* cut anywhere: an error, never a crash (ASan watches the exact-size copy) */
    size_t len = strlen(js);
    for (size_t cut = 0; cut < len; cut += 1 + cut / 3) expect_text(js, cut, "not valid JSON", __LINE__);
    expect_text(js, len - 1, "not valid JSON", __LINE__);
    free(js);
    expect_text("hello", 5, "not valid JSON", __LINE__);
    expect_text("[1, 2]", 6, "not a JSON object", __LINE__);
    expect_text("{}", 2, "no \"modelTopology\"", __LINE__);
    expect_text("{\"modelTopology\": {\"class_name\": \"Sequential\"}}", 47, "class_name \"Sequential\"",
                __LINE__);

    EXPECT_MODEL("layer res4c_branch2b missing from the topology", .skip_layer = "res4c_branch2b");
    EXPECT_MODEL("layer fc1000 missing", .skip_layer = "fc1000");
    EXPECT_MODEL("layer res3a_branch2a: strides [1,1], expected [2,2]", .layer = "res3a_branch2a",
                 .field = "strides", .value = "[1, 1]");
    EXPECT_MODEL("layer res3a_branch2b: strides [2,2], expected [1,1]", .layer = "res3a_branch2b",
                 .field = "strides", .value = "[2, 2]");
    EXPECT_MODEL("layer res4a_branch1: strides [1,1], expected [2,2]", .layer = "res4a_branch1",
                 .field = "strides", .value = "[1, 1]");
    EXPECT_MODEL("layer res2a_branch2b: kernel_size [1,1], expected [3,3]", .layer = "res2a_branch2b",
                 .field = "kernel_size", .value = "[1, 1]");
    EXPECT_MODEL("layer res5c_branch2c: filters 1024, expected 2048", .layer = "res5c_branch2c",
                 .field = "filters", .value = "1024");
    EXPECT_MODEL("layer conv1: use_bias false, expected true", .layer = "conv1", .field = "use_bias",
                 .value = "false");
    EXPECT_MODEL("layer conv1: no \"use_bias\"", .layer = "conv1", .field = "use_bias");
    EXPECT_MODEL("layer conv1: no \"strides\"", .layer = "conv1", .field = "strides");
    EXPECT_MODEL("layer res2b_branch2b: padding \"valid\", expected \"same\"", .layer = "res2b_branch2b",
                 .field = "padding", .value = "\"valid\"");
    EXPECT_MODEL("layer res2b_branch2b: dilation_rate [2,2], expected [1,1]", .layer = "res2b_branch2b",
                 .field = "dilation_rate", .value = "[2, 2]");
    EXPECT_MODEL("layer conv1: data_format \"channels_first\"", .layer = "conv1", .field = "data_format",
                 .value = "\"channels_first\"");
    EXPECT_MODEL("layer bn3a_branch2a: epsilon 1e-05, expected 0.001", .layer = "bn3a_branch2a",
                 .field = "epsilon", .value = "1e-05");
    EXPECT_MODEL("layer bn_conv1: axis [1], expected [3]", .layer = "bn_conv1", .field = "axis",
                 .value = "[1]");
    EXPECT_MODEL("layer bn_conv1: scale false, expected true", .layer = "bn_conv1", .field = "scale",
                 .value = "false");
    EXPECT_MODEL("layer fc1000: units 1001, expected 1000", .layer = "fc1000", .field = "units",
                 .value = "1001");
    EXPECT_MODEL("layer activation_1: activation \"tanh\", expected \"relu\"", .layer = "activation_1",
                 .field = "activation", .value = "\"tanh\"");
    EXPECT_MODEL("layer max_pooling2d: pool_size [2,2], expected [3,3]", .layer = "max_pooling2d",
                 .field = "pool_size", .value = "[2, 2]");
    EXPECT_MODEL("layer res2a_branch2a given twice", .dup_layer = "res2a_branch2a");
    EXPECT_MODEL("layer res4g_branch2a: a Conv2D layer that Keras ResNet-50 does not have",
                 .stage4_blocks = 23);
    EXPECT_MODEL("format \"graph-model\"", .format = "\"graph-model\"");
    EXPECT_MODEL("no \"weightsManifest\"", .no_manifest = 1);
    EXPECT_MODEL("weight res2a_branch2b/kernel: dtype \"int32\", only \"float32\"",
                 .weight = "res2a_branch2b/kernel", .wfield = "dtype", .wvalue = "\"int32\"");
    EXPECT_MODEL("weight fc1000/bias: dtype missing", .weight = "fc1000/bias", .wfield = "dtype");
    EXPECT_MODEL("weight fc1000/kernel: shape [4294967296,4294967296,16] has more than 2^64 elements",
                 .weight = "fc1000/kernel", .wfield = "shape", .wvalue = "[4294967296, 4294967296, 16]");
    EXPECT_MODEL("weight fc1000/kernel: shape [4611686018427387904] exceeds 2^64 bytes",
                 .weight = "fc1000/kernel", .wfield = "shape", .wvalue = "[4611686018427387904]");
    EXPECT_MODEL("weight fc1000/kernel: shape [-1,1000]: dimension 0 is not a non-negative integer",
                 .weight = "fc1000/kernel", .wfield = "shape", .wvalue = "[-1, 1000]");
    EXPECT_MODEL("weight fc1000/kernel: shape [1e+20]: dimension 0", .weight = "fc1000/kernel",
                 .wfield = "shape", .wvalue = "[1e20]");
    EXPECT_MODEL("weight res3a_branch2a/kernel: shape [1,1,256,64], expected [1,1,256,128]",
                 .weight = "res3a_branch2a/kernel", .wfield = "shape", .wvalue = "[1, 1, 256, 64]");
    EXPECT_MODEL("weight bn2a_branch1/gamma: quantized", .weight = "bn2a_branch1/gamma",
                 .wfield = "quantization", .wvalue = "{\"dtype\": \"uint8\"}");
    EXPECT_MODEL("weight res2a_branch2a/kernel given twice", .dup_weight = "res2a_branch2a/kernel");
    EXPECT_MODEL("weight bn5c_branch2c/moving_variance missing from the weightsManifest",
                 .skip_weight = "bn5c_branch2c/moving_variance");
    EXPECT_MODEL("weight res4g_branch2a/kernel: not a weight of Keras ResNet-50",
                 .extra_weight = "res4g_branch2a/kernel");
    EXPECT_MODEL("weight conv1/running_mean: not a weight", .extra_weight = "conv1/running_mean");
    EXPECT_MODEL("paths[0]: \"../secret.bin\" is not a relative path", .path0 = "../secret.bin");
    EXPECT_MODEL("paths[0]: \"/etc/passwd\" is not a relative path", .path0 = "/etc/passwd");
}

/* ---- the import ------------------------------------------------------------------ */

#define SHARD_BYTES (4u << 20)

static float pattern(uint64_t e) { return (float)(e & 0xFFFFFF); } /* exact, distinct per tensor */

static char dir[128], model_dir[192]; /* mkdtemp in /tmp: short */

static void shard_path(char *out, size_t cap, int k) {
    snprintf(out, cap, "%s/group1-shard%dof25.bin", model_dir, k);
}

/* Writes model.json (no change) and 25 shards of the pattern: 24 of 4 MiB and the rest. */
static void write_fixture(uint64_t *total) {
    char path[256];
    char *js = gen_model(&NONE, 25, total);
    snprintf(path, sizeof path, "%s/model.json", model_dir);
    test_write_text(path, js);
    free(js);
    float *buf = malloc(SHARD_BYTES);
    uint64_t e = 0;
    for (int k = 1; k <= 25; k++) {
        uint64_t n = *total - (uint64_t)(k - 1) * SHARD_BYTES;
        if (n > SHARD_BYTES) n = SHARD_BYTES;
        for (uint64_t i = 0; i < n / 4; i++) buf[i] = pattern(e++);
        shard_path(path, sizeof path, k);
        FILE *f = fopen(path, "wb");
        if (!f || fwrite(buf, 1, (size_t)n, f) != n || fclose(f) != 0) {
            perror(path);
            exit(1);
        }
    }
    free(buf);
}

/* Every element of every tensor at its torchvision place. */
static void check_output(const char *out, int with_classes) {
    geoloc_safetensors *st = NULL;
    geoloc_error err;
    if (geoloc_safetensors_open(out, &st, &err) != GEOLOC_OK) {
        CHECK(0, "%s", err.message);
        return;
    }
    CHECK(geoloc_safetensors_count(st) == 320, "%zu tensors", geoloc_safetensors_count(st));
    static const char *const meta[][2] = {
        {"geoloc.format", "geoloc-weights-1"}, {"geoloc.arch", "resnet50"},
        {"geoloc.stride_in_bottleneck", "conv1"}, {"geoloc.bn_eps", "0.001"},
        {"geoloc.conv_bias", "true"}, {"geoloc.input", "caffe_bgr"},
        {"geoloc.source", "keras fake_resnet@9.8.7"}};
    for (size_t k = 0; k < sizeof meta / sizeof meta[0]; k++) {
        const char *v = geoloc_safetensors_metadata_get(st, meta[k][0]);
        CHECK(v && !strcmp(v, meta[k][1]), "%s: %s", meta[k][0], v ? v : "(none)");
    }
    const char *classes = geoloc_safetensors_metadata_get(st, "geoloc.classes");
    if (with_classes)
        CHECK(classes && !strncmp(classes, "class_0\nclass_1\n", 16) &&
                  strlen(classes) == 10 * 8 + 90 * 9 + 900 * 10 - 1 && !strstr(classes, "\n\n"),
              "classes");
    else
        CHECK(!classes, "classes without labels");
    uint64_t prev_end = 0;
    size_t bad = 0;
    for (int i = 0; i < n_w; i++) {
        const wdesc *w = &W[i];
        const geoloc_tensor_info *t = geoloc_safetensors_find(st, w->torch);
        if (!t) {
            CHECK(0, "no %s", w->torch);
            continue;
        }
        CHECK(t->offset == prev_end, "%s not in state_dict order", w->torch); /* file order */
        prev_end = t->offset + t->n_bytes;
        uint64_t base = w->offset / 4;
        const float *d = t->data;
        if (w->ndim == 4) {
            uint64_t H = w->shape[0], Wd = w->shape[1], I = w->shape[2], O = w->shape[3];
            CHECK(t->ndim == 4 && t->shape[0] == O && t->shape[1] == I && t->shape[2] == H &&
                      t->shape[3] == Wd, "%s: OIHW shape", w->torch);
            for (uint64_t h = 0; h < H && t->ndim == 4; h++)
                for (uint64_t x = 0; x < Wd; x++)
                    for (uint64_t c = 0; c < I; c++)
                        for (uint64_t o = 0; o < O; o++)
                            bad += d[((o * I + c) * H + h) * Wd + x] !=
                                   pattern(base + ((h * Wd + x) * I + c) * O + o);
        } else if (w->ndim == 2) {
            uint64_t I = w->shape[0], O = w->shape[1];
            CHECK(t->ndim == 2 && t->shape[0] == O && t->shape[1] == I, "%s: [out,in]", w->torch);
            for (uint64_t c = 0; c < I && t->ndim == 2; c++)
                for (uint64_t o = 0; o < O; o++) bad += d[o * I + c] != pattern(base + c * O + o);
        } else {
            CHECK(t->ndim == 1 && t->shape[0] == w->shape[0], "%s: shape", w->torch);
            for (uint64_t k = 0; k < w->shape[0] && t->ndim == 1; k++) bad += d[k] != pattern(base + k);
        }
    }
    CHECK(bad == 0, "%zu elements differ", bad);
    /* a few by hand: res3a_branch2a/kernel [1,1,256,128] -> layer2.0.conv1.weight [128,256,1,1] */
    const geoloc_tensor_info *t = geoloc_safetensors_find(st, "layer2.0.conv1.weight");
    for (int i = 0; i < n_w && t; i++)
        if (!strcmp(W[i].keras, "res3a_branch2a/kernel"))
            CHECK(((const float *)t->data)[7 * 256 + 5] == pattern(W[i].offset / 4 + 5 * 128 + 7),
                  "res3a_branch2a/kernel[0,0,5,7]");
    geoloc_safetensors_close(st);
}

static void expect_import(const char *labels, const char *fragment, int line) {
    char out[256];
    snprintf(out, sizeof out, "%s/bad.safetensors", dir);
    geoloc_keras_import_options opt = {labels, NULL};
    geoloc_error err = {0};
    geoloc_status s = geoloc_keras_import(model_dir, out, &opt, NULL, &err);
    CHECK(s != GEOLOC_OK && strstr(err.message, fragment), "line %d: \"%s\" lacks \"%s\"", line,
          err.message, fragment);
    CHECK(access(out, F_OK) != 0, "line %d: output written", line);
}

static void truncate_to(const char *path, off_t size) {
    if (truncate(path, size) != 0) {
        perror(path);
        exit(1);
    }
}

static void test_import(void) {
    snprintf(dir, sizeof dir, "/tmp/geoloc_test_keras_XXXXXX");
    test_make_temp_dir(dir);
    char path[256], path2[300], labels[256], out[256];
    snprintf(path, sizeof path, "%s/pkg", dir);
    mkdir(path, 0755);
    snprintf(model_dir, sizeof model_dir, "%s/pkg/ResNet50", dir);
    mkdir(model_dir, 0755);
    snprintf(path, sizeof path, "%s/pkg/package.json", dir);
    test_write_text(path, "{\"name\": \"fake_resnet\", \"version\": \"9.8.7\", \"x\": [1, 2]}");
    uint64_t total;
    write_fixture(&total);
    text lt = {0};
    put(&lt, "{");
    for (int k = 999; k >= 0; k--) put(&lt, "\"%d\": \"class_%d\"%s", k, k, k ? ", " : "}");
    snprintf(labels, sizeof labels, "%s/labels.json", dir);
    test_write_text(labels, lt.p);
    free(lt.p);

    snprintf(out, sizeof out, "%s/out.safetensors", dir);
    geoloc_keras_import_options opt = {labels, NULL};
    geoloc_keras_import_result res;
    geoloc_error err = {0};
    CHECK(geoloc_keras_import(model_dir, out, &opt, &res, &err) == GEOLOC_OK, "%s", err.message);
    CHECK(res.n_tensors == 320 && res.n_parameters == total / 4 && res.n_shards == 25 &&
              res.shard_bytes == total && res.n_classes == 1000 &&
              !strcmp(res.source, "keras fake_resnet@9.8.7"),
          "result %zu %llu %zu %s", res.n_tensors, (unsigned long long)res.n_parameters, res.n_shards,
          res.source);
    check_output(out, 1);
    CHECK(geoloc_keras_import(model_dir, out, NULL, NULL, &err) == GEOLOC_OK, "%s", err.message);
    check_output(out, 0);

    /* shards: last too short / too long, one in the middle short, one missing */
    shard_path(path, sizeof path, 25);
    off_t last = (off_t)(total - 24 * (uint64_t)SHARD_BYTES);
    truncate_to(path, last - 4);
    expect_import(NULL, "group1-shard25of25.bin: 1883548 bytes, too short", __LINE__);
    truncate_to(path, last + 4);
    expect_import(NULL, "group1-shard25of25.bin: 1883556 bytes, too long", __LINE__);
    truncate_to(path, last);
    shard_path(path, sizeof path, 7);
    truncate_to(path, SHARD_BYTES - 100);
    expect_import(NULL, "group1-shard7of25.bin: 4194204 bytes, unlike the shards around it", __LINE__);
    truncate_to(path, SHARD_BYTES);
    shard_path(path, sizeof path, 1);
    truncate_to(path, 0);
    expect_import(NULL, "group1-shard1of25.bin: 0 bytes, unlike", __LINE__);
    shard_path(path, sizeof path, 3);
    snprintf(path2, sizeof path2, "%s.away", path);
    rename(path, path2);
    expect_import(NULL, "group1-shard3of25.bin: shard 3 of 25 missing or unreadable", __LINE__);
    rename(path2, path);
    write_fixture(&total);
    /* a NaN inside a weight: named with the element */
    FILE *f = fopen(path, "r+b"); /* shard 3: 2 * 4 MiB into the stream */
    float nan = NAN;
    for (int i = 0; i < n_w && f; i++) {
        uint64_t n = 1;
        for (int d = 0; d < W[i].ndim; d++) n *= W[i].shape[d];
        uint64_t at = 2 * (uint64_t)SHARD_BYTES + 40;
        if (W[i].offset <= at && at < W[i].offset + 4 * n) {
            fseek(f, 40, SEEK_SET);
            fwrite(&nan, 4, 1, f);
            fclose(f);
            f = NULL;
            char frag[120];
            snprintf(frag, sizeof frag, "weight %s: element %llu is nan", W[i].keras,
                     (unsigned long long)((at - W[i].offset) / 4));
            expect_import(NULL, frag, __LINE__);
        }
    }
    if (f) fclose(f);
    write_fixture(&total);
    /* labels */
    snprintf(path, sizeof path, "%s/l.json", dir);
    test_write_text(path, "{\"0\": \"a\"}");
    expect_import(path, "l.json: 1 class names, the model has 1000", __LINE__);
    expect_import("/nonexistent/labels.json", "/nonexistent/labels.json", __LINE__);
    snprintf(path2, sizeof path2, "%s/pkg/ResNet50/model.json", dir);
    test_write_text(path2, "{\"modelTopology\": ");
    expect_import(NULL, "pkg/ResNet50/model.json: not valid JSON", __LINE__);
    unlink(path2);
    expect_import(NULL, "pkg/ResNet50/model.json", __LINE__);
    test_remove_tree(dir);
}

static void expect_labels(const char *js, size_t n, const char *fragment, int line) {
    char *joined = NULL;
    geoloc_error err = {0};
    geoloc_status s = geoloc_keras_labels_parse(js, strlen(js), "lab.json", n, &joined, &err);
    if (!fragment) {
        CHECK(s == GEOLOC_OK && joined, "line %d: %s", line, err.message);
    } else {
        CHECK(s != GEOLOC_OK && !joined && strstr(err.message, fragment) &&
                  !strncmp(err.message, "lab.json: ", 10),
              "line %d: \"%s\" lacks \"%s\"", line, err.message, fragment);
    }
    if (joined && !fragment && n == 3) CHECK(!strcmp(joined, "x\ny\nz z"), "joined \"%s\"", joined);
    free(joined);
}

static void test_labels(void) {
    expect_labels("{\"2\": \"z z\", \"0\": \"x\", \"1\": \"y\"}", 3, NULL, __LINE__);
    expect_labels("{\"0\": \"x\", \"1\": \"y\"}", 3, "2 class names, the model has 3", __LINE__);
    expect_labels("{\"0\": \"x\", \"01\": \"y\", \"2\": \"z\"}", 3, "key \"01\" is not a class index",
                  __LINE__);
    expect_labels("{\"0\": \"x\", \"3\": \"y\", \"2\": \"z\"}", 3, "key \"3\"", __LINE__);
    expect_labels("{\"0\": \"x\", \"-1\": \"y\", \"2\": \"z\"}", 3, "key \"-1\"", __LINE__);
    expect_labels("{\"0\": \"x\", \"1\": \"a\\nb\", \"2\": \"z\"}", 3, "class 1: not a one-line", __LINE__);
    expect_labels("{\"0\": \"x\", \"1\": \"\", \"2\": \"z\"}", 3, "class 1", __LINE__);
    expect_labels("{\"0\": \"x\", \"1\": 5, \"2\": \"z\"}", 3, "class 1", __LINE__);
    expect_labels("{\"0\": \"x\", \"0\": \"y\", \"2\": \"z\"}", 3, "duplicate object key", __LINE__);
    expect_labels("[\"x\", \"y\", \"z\"]", 3, "not a JSON object", __LINE__);
    expect_labels("{\"0\": \"x\", ", 3, "not valid JSON", __LINE__);
}

int main(void) {
    test_json();
    test_model();
    test_labels();
    test_import();
    TEST_END();
}
