/* safetensors weights files: the reference file (tests/data/ref.safetensors,
 * see tools/gen_safetensors_ref.py), write/read round trips, and hostile
 * inputs, each rejected with a message naming the file and the problem. */
#include <stdint.h>
#include <string.h>

#include "geoloc/safetensors.h"
#include "test_util.h"

/* A safetensors image: header length, the JSON text, data_len bytes of data (k & 0xff). */
static unsigned char *image(const char *json, size_t data_len, size_t *size) {
    size_t h = strlen(json);
    *size = 8 + h + data_len;
    unsigned char *b = malloc(*size);
    for (int k = 0; k < 8; k++) b[k] = (unsigned char)((uint64_t)h >> (8 * k));
    memcpy(b + 8, json, h);
    for (size_t k = 0; k < data_len; k++) b[8 + h + k] = (unsigned char)k;
    return b;
}

/* Opens the image of json + data_len bytes; checks that it fails with a
 * message containing fragment (and the buffer's name) or, with fragment
 * NULL, that it opens. */
static void expect(const char *json, size_t data_len, const char *fragment, int line) {
    size_t size;
    unsigned char *b = image(json, data_len, &size);
    geoloc_safetensors *st = NULL;
    geoloc_error err = {0};
    geoloc_status s = geoloc_safetensors_open_buffer(b, size, "hostile.st", &st, &err);
    if (!fragment) {
        CHECK(s == GEOLOC_OK, "line %d: %s", line, err.message);
    } else {
        CHECK(s != GEOLOC_OK && st == NULL, "line %d: accepted: %s", line, json);
        CHECK(strstr(err.message, fragment) && strstr(err.message, "hostile.st"),
              "line %d: message \"%s\" lacks \"%s\"", line, err.message, fragment);
    }
    geoloc_safetensors_close(st);
    free(b);
}
#define EXPECT_FAIL(json, n, frag) expect(json, n, frag, __LINE__)
#define EXPECT_OK(json, n) expect(json, n, NULL, __LINE__)

static uint16_t u16(const void *p, size_t k) {
    uint16_t v;
    memcpy(&v, (const unsigned char *)p + 2 * k, 2);
    return v;
}

static void test_reference(const char *path) {
    geoloc_safetensors *st;
    geoloc_error err;
    if (geoloc_safetensors_open(path, &st, &err) != GEOLOC_OK) {
        CHECK(0, "%s", err.message);
        return;
    }
    CHECK(geoloc_safetensors_count(st) == 12, "%zu tensors", geoloc_safetensors_count(st));
    for (size_t k = 1; k < geoloc_safetensors_count(st); k++)
        CHECK(strcmp(geoloc_safetensors_tensor(st, k - 1)->name,
                     geoloc_safetensors_tensor(st, k)->name) < 0, "not in name order at %zu", k);
    CHECK(geoloc_safetensors_metadata_count(st) == 2, "metadata");
    const char *fmt = geoloc_safetensors_metadata_get(st, "format");
    const char *note = geoloc_safetensors_metadata_get(st, "note");
    CHECK(fmt && !strcmp(fmt, "pt"), "format");
    CHECK(note && !strcmp(note, "geoloc reference, caf\xc3\xa9"), "note %s", note ? note : "");
    CHECK(!geoloc_safetensors_metadata_get(st, "nope"), "absent key");

    const float *w;
    uint64_t want[4] = {2, 3, 1, 1};
    CHECK(geoloc_safetensors_get_f32(st, "layer1.0.conv1.weight", want, 4, &w, &err) == GEOLOC_OK,
          "%s", err.message);
    for (int k = 0; w && k < 6; k++) CHECK(w[k] == k * 0.5f - 1.0f, "w[%d] %g", k, w[k]);
    uint64_t wrong[4] = {2, 3, 3, 3};
    CHECK(geoloc_safetensors_get_f32(st, "layer1.0.conv1.weight", wrong, 4, &w, &err) == GEOLOC_E_ARG &&
              w == NULL && strstr(err.message, "layer1.0.conv1.weight: shape [2,3,1,1] in file, "
                                                "[2,3,3,3] expected"), "%s", err.message);
    CHECK(geoloc_safetensors_get_f32(st, "layer1.0.conv1.weight", want, 3, &w, &err) == GEOLOC_E_ARG &&
              strstr(err.message, "[2,3,1] expected"), "%s", err.message);
    CHECK(geoloc_safetensors_get_f32(st, "nope", want, 4, &w, &err) == GEOLOC_E_ARG &&
              strstr(err.message, "no tensor \"nope\""), "%s", err.message);
    CHECK(geoloc_safetensors_get_f32(st, "idx", want, 2, &w, &err) == GEOLOC_E_ARG &&
              strstr(err.message, "idx: dtype I64 in file, F32 expected"), "%s", err.message);
    CHECK(geoloc_safetensors_get_f32(st, "scalar", NULL, 0, &w, &err) == GEOLOC_OK && w && *w == 3.25f,
          "scalar: %s", err.message);

    const geoloc_tensor_info *t = geoloc_safetensors_find(st, "bn.running_var");
    CHECK(t && t->dtype == GEOLOC_DTYPE_F64 && t->ndim == 1 && t->shape[0] == 3 && t->offset == 0 &&
              t->n_bytes == 24, "bn.running_var");
    if (t) {
        double d[3];
        memcpy(d, t->data, sizeof d);
        CHECK(d[0] == 0.1 && d[1] == 0.2 && d[2] == 1e300, "F64 values");
    }
    t = geoloc_safetensors_find(st, "idx");
    if (t) {
        int64_t q[4];
        memcpy(q, t->data, sizeof q);
        CHECK(t->dtype == GEOLOC_DTYPE_I64 && q[0] == 1 && q[1] == -2 && q[3] == -(INT64_C(1) << 62),
              "I64");
    }
    t = geoloc_safetensors_find(st, "counts");
    if (t) {
        int32_t q[3];
        memcpy(q, t->data, sizeof q);
        CHECK(t->dtype == GEOLOC_DTYPE_I32 && q[1] == -8 && q[2] == INT32_MAX, "I32");
    }
    t = geoloc_safetensors_find(st, "fc.bias");
    CHECK(t && t->dtype == GEOLOC_DTYPE_F16 && u16(t->data, 0) == 0x3C00 && u16(t->data, 1) == 0xC000,
          "F16");
    t = geoloc_safetensors_find(st, "emb");
    CHECK(t && t->dtype == GEOLOC_DTYPE_BF16 && u16(t->data, 0) == 0x3F80 && u16(t->data, 1) == 0x3F00,
          "BF16");
    t = geoloc_safetensors_find(st, "small");
    CHECK(t && t->dtype == GEOLOC_DTYPE_I16 && (int16_t)u16(t->data, 0) == -300, "I16");
    t = geoloc_safetensors_find(st, "tiny");
    CHECK(t && t->dtype == GEOLOC_DTYPE_I8 && ((const int8_t *)t->data)[0] == -1 &&
              ((const int8_t *)t->data)[2] == 127, "I8");
    t = geoloc_safetensors_find(st, "mask");
    CHECK(t && t->dtype == GEOLOC_DTYPE_BOOL && !memcmp(t->data, "\1\0\1\1", 4), "BOOL");
    t = geoloc_safetensors_find(st, "empty");
    CHECK(t && t->dtype == GEOLOC_DTYPE_U8 && t->ndim == 2 && t->n_elements == 0 && t->n_bytes == 0,
          "empty");
    t = geoloc_safetensors_find(st, "pixels");
    CHECK(t && ((const unsigned char *)t->data)[1] == 255, "U8");
    CHECK(!geoloc_safetensors_find(st, "layer1"), "prefix is not a name");
    CHECK(geoloc_dtype_size(GEOLOC_DTYPE_BF16) == 2 && !strcmp(geoloc_dtype_name(GEOLOC_DTYPE_BOOL), "BOOL"),
          "dtype table");

    /* writing the same tensors in the order of the reference's serializer
     * (element size descending, then name), with the file's metadata, gives
     * the reference file byte for byte */
    size_t n = geoloc_safetensors_count(st);
    geoloc_tensor_desc *d = calloc(n, sizeof *d);
    for (size_t k = 0; k < n; k++) {
        const geoloc_tensor_info *x = geoloc_safetensors_tensor(st, k);
        d[k] = (geoloc_tensor_desc){x->name, x->dtype, x->ndim, x->shape, x->data};
    }
    for (size_t a = 0; a < n; a++)
        for (size_t b = a + 1; b < n; b++) {
            size_t sa = geoloc_dtype_size(d[a].dtype), sb = geoloc_dtype_size(d[b].dtype);
            if (sb > sa || (sb == sa && strcmp(d[b].name, d[a].name) < 0)) {
                geoloc_tensor_desc tmp = d[a];
                d[a] = d[b];
                d[b] = tmp;
            }
        }
    const char *keys[] = {"format", "note"}, *vals[] = {fmt, note};
    const char *out = test_temp_file("st_ref");
    CHECK(geoloc_safetensors_write(out, d, n, keys, vals, 2, &err) == GEOLOC_OK, "%s", err.message);
    size_t s1, s2;
    void *b1 = test_read_file(path, &s1), *b2 = test_read_file(out, &s2);
    CHECK(b1 && b2 && s1 == s2 && !memcmp(b1, b2, s1), "rewritten reference differs (%zu vs %zu bytes)",
          s1, s2);

    /* truncated at every length: always an error with a message */
    for (size_t len = 0; b1 && len < s1; len++) {
        unsigned char *c = malloc(len ? len : 1);
        memcpy(c, b1, len);
        geoloc_safetensors *x = NULL;
        err.message[0] = '\0';
        geoloc_status s = geoloc_safetensors_open_buffer(c, len, "cut.st", &x, &err);
        CHECK(s != GEOLOC_OK && x == NULL && strstr(err.message, "cut.st"), "truncated to %zu: %s", len,
              err.message);
        free(c);
    }
    free(b1);
    free(b2);
    free(d);
    unlink(out);
    geoloc_safetensors_close(st);
}

static void test_round_trip(void) {
    float a[6] = {1, 2, 3, 4, 5, 6};
    int64_t ids[2] = {-1, 1};
    uint64_t sa[2] = {2, 3}, si[1] = {2};
    const char *weird = "we\"ird\\name\n\xe2\x82\xac";
    geoloc_tensor_desc t[3] = {
        {"z.weight", GEOLOC_DTYPE_F32, 2, sa, a},
        {"a.ids", GEOLOC_DTYPE_I64, 1, si, ids},
        {weird, GEOLOC_DTYPE_F32, 0, NULL, a},
    };
    const char *path = test_temp_file("st_rt");
    geoloc_error err;
    CHECK(geoloc_safetensors_write(path, t, 3, NULL, NULL, 0, &err) == GEOLOC_OK, "%s", err.message);
    size_t size;
    unsigned char *raw = test_read_file(path, &size);
    uint64_t h = 0;
    for (int k = 7; raw && k >= 0; k--) h = (h << 8) | raw[k];
    CHECK(raw && h % 8 == 0 && size == 8 + h + 24 + 16 + 4, "layout: header %llu, size %zu",
          (unsigned long long)h, size);
    const char *head = "{\"z.weight\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,24]},"
                       "\"a.ids\":{\"dtype\":\"I64\",\"shape\":[2],\"data_offsets\":[24,40]},";
    CHECK(raw && !memcmp(raw + 8, head, strlen(head)), "header text");
    size_t last = raw && h ? 8 + h - 1 : 0;
    while (raw && last > 8 && raw[last] == ' ') last--;
    CHECK(raw && raw[last] == '}' && 8 + h - 1 - last < 8, "space padding");
    free(raw);
    geoloc_safetensors *st;
    if (geoloc_safetensors_open(path, &st, &err) != GEOLOC_OK) {
        CHECK(0, "%s", err.message);
    } else {
        CHECK(geoloc_safetensors_count(st) == 3 && geoloc_safetensors_metadata_count(st) == 0, "count");
        const float *w;
        CHECK(geoloc_safetensors_get_f32(st, "z.weight", sa, 2, &w, &err) == GEOLOC_OK &&
                  !memcmp(w, a, sizeof a), "z.weight");
        const geoloc_tensor_info *x = geoloc_safetensors_find(st, "a.ids");
        CHECK(x && x->offset == 24 && !memcmp(x->data, ids, sizeof ids), "a.ids");
        x = geoloc_safetensors_find(st, weird);
        CHECK(x && x->ndim == 0 && x->n_elements == 1 && !memcmp(x->data, a, 4), "escaped name");
        geoloc_safetensors_close(st);
    }
    /* bad requests leave the previous file in place */
    geoloc_tensor_desc dup[2] = {t[0], t[0]};
    CHECK(geoloc_safetensors_write(path, dup, 2, NULL, NULL, 0, &err) == GEOLOC_E_ARG &&
              strstr(err.message, "\"z.weight\" given twice"), "%s", err.message);
    geoloc_tensor_desc res = {"__metadata__", GEOLOC_DTYPE_F32, 0, NULL, a};
    CHECK(geoloc_safetensors_write(path, &res, 1, NULL, NULL, 0, &err) == GEOLOC_E_ARG, "reserved");
    geoloc_tensor_desc bad = {"x\xff", GEOLOC_DTYPE_F32, 0, NULL, a};
    CHECK(geoloc_safetensors_write(path, &bad, 1, NULL, NULL, 0, &err) == GEOLOC_E_ARG, "bad UTF-8");
    CHECK(geoloc_safetensors_open(path, &st, &err) == GEOLOC_OK, "old file intact: %s", err.message);
    if (st) geoloc_safetensors_close(st);
    /* empty file set */
    CHECK(geoloc_safetensors_write(path, NULL, 0, NULL, NULL, 0, &err) == GEOLOC_OK, "%s", err.message);
    CHECK(geoloc_safetensors_open(path, &st, &err) == GEOLOC_OK && geoloc_safetensors_count(st) == 0,
          "empty: %s", err.message);
    if (st) geoloc_safetensors_close(st);
    unlink(path);
    CHECK(geoloc_safetensors_open("/nonexistent/w.safetensors", &st, &err) == GEOLOC_E_IO &&
              strstr(err.message, "/nonexistent/w.safetensors"), "%s", err.message);
}

static void test_hostile(void) {
    /* header length */
    static const unsigned char huge[16] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, '{', '}'};
    geoloc_safetensors *st;
    geoloc_error err;
    CHECK(geoloc_safetensors_open_buffer(huge, 16, "hostile.st", &st, &err) == GEOLOC_E_RANGE &&
              strstr(err.message, "header length 18446744073709551615 exceeds the limit"), "%s",
          err.message);
    static const unsigned char beyond[12] = {0xe8, 0x03, 0, 0, 0, 0, 0, 0, '{', '}', ' ', ' '};
    CHECK(geoloc_safetensors_open_buffer(beyond, 12, "hostile.st", &st, &err) == GEOLOC_E_PARSE &&
              strstr(err.message, "header length 1000 goes beyond the end of the file (12 bytes)"),
          "%s", err.message);
    CHECK(geoloc_safetensors_open_buffer(beyond, 5, "hostile.st", &st, &err) == GEOLOC_E_PARSE &&
              strstr(err.message, "too short"), "%s", err.message);

    EXPECT_OK("{}", 0);
    EXPECT_OK("{}        ", 0);
    EXPECT_OK("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4);
    /* offsets in any order, unknown fields skipped, zero-size tensors anywhere */
    EXPECT_OK("{\"b\":{\"shape\":[1],\"data_offsets\":[4,8],\"dtype\":\"I32\"},"
              "\"z\":{\"dtype\":\"U8\",\"shape\":[0],\"data_offsets\":[4,4]},"
              "\"a\":{\"dtype\":\"F32\",\"x\":[1,{\"y\":null,\"w\":-1.5e3}],\"shape\":[1],"
              "\"data_offsets\":[0,4]}}", 8);
    EXPECT_OK("{\"a\\u00e9\\ud83d\\ude00\":{\"dtype\":\"BOOL\",\"shape\":[],\"data_offsets\":[0,1]}}", 1);

    /* JSON syntax */
    EXPECT_FAIL("[]", 0, "JSON object expected");
    EXPECT_FAIL("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}", 4, "JSON ends");
    EXPECT_FAIL("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},}", 4,
                "tensor name (a string) expected");
    EXPECT_FAIL("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}} x", 4,
                "unexpected text after the JSON object");
    EXPECT_FAIL("{\"a\" {}}", 0, "':' expected");
    EXPECT_FAIL("{\"a:{}}", 0, "unterminated string");
    EXPECT_FAIL("{\"a\\q\":{}}", 0, "bad escape");
    EXPECT_FAIL("{\"a\\ud800\":{}}", 0, "unpaired surrogate");
    EXPECT_FAIL("{\"a\\u0000\":{}}", 0, "NUL character");
    EXPECT_FAIL("{\"a\xc3\x28\":{}}", 0, "invalid UTF-8");
    EXPECT_FAIL("{\"a\x01\":{}}", 0, "control character");
    EXPECT_FAIL("{\"a\":{\"dtype\":\"F32\",\"x\":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["
                "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]"
                "]]]]]]]]]]]]]]]]]],\"shape\":[1],\"data_offsets\":[0,4]}}", 4, "nested deeper than 64");
    EXPECT_FAIL("{\"a\":{\"dtype\":\"F32\",\"x\":tru,\"shape\":[1],\"data_offsets\":[0,4]}}", 4,
                "value expected");
    EXPECT_FAIL("{\"a\":[]}", 0, "tensor \"a\": an object expected");
    EXPECT_FAIL("{\"a\":{\"dtype\":\"F32\",\"shape\":[1]}}", 0, "tensor \"a\": no \"data_offsets\"");
    EXPECT_FAIL("{\"a\":{\"dtype\":\"F32\",\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4,
                "\"dtype\" given twice");
    EXPECT_FAIL("{\"a\":{\"dtype\":3,\"shape\":[1],\"data_offsets\":[0,4]}}", 4, "dtype is not a string");
    EXPECT_FAIL("{\"a\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]}}", 4,
                "tensor \"a\": shape: JSON: non-negative integer expected");
    EXPECT_FAIL("{\"a\":{\"dtype\":\"F32\",\"shape\":[1.0],\"data_offsets\":[0,4]}}", 4,
                "non-negative integer expected");
    EXPECT_FAIL("{\"a\":{\"dtype\":\"F32\",\"shape\":[18446744073709551616],\"data_offsets\":[0,4]}}", 4,
                "exceeds 64 bits");
    EXPECT_FAIL("{\"a\":{\"dtype\":\"F32\",\"shape\":1,\"data_offsets\":[0,4]}}", 4, "shape is not an array");
    EXPECT_FAIL("{\"a\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1],"
                "\"data_offsets\":[0,4]}}", 4, "more than 16 dimensions");
    EXPECT_FAIL("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4,8]}}", 4,
                "data_offsets is not a pair");
    EXPECT_FAIL("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0.5,4]}}", 4,
                "data_offsets is not a pair");
    EXPECT_FAIL("{\"__metadata__\":{\"k\":1}}", 0, "__metadata__ \"k\": a string value expected");
    EXPECT_FAIL("{\"__metadata__\":[]}", 0, "__metadata__ is not an object");
    EXPECT_FAIL("{\"__metadata__\":{\"k\":\"1\",\"k\":\"2\"}}", 0, "key \"k\" given twice");
    EXPECT_FAIL("{\"__metadata__\":{},\"__metadata__\":{}}", 0, "__metadata__ given twice");

    /* dtypes and shapes */
    EXPECT_FAIL("{\"w\":{\"dtype\":\"F8_E4M3\",\"shape\":[1],\"data_offsets\":[0,1]}}", 1,
                "tensor \"w\": unknown or unsupported dtype \"F8_E4M3\"");
    EXPECT_FAIL("{\"w\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296],\"data_offsets\":[0,4]}}", 4,
                "tensor \"w\": shape [4294967296,4294967296] has more than 2^64 elements");
    EXPECT_FAIL("{\"w\":{\"dtype\":\"F32\",\"shape\":[4611686018427387904],\"data_offsets\":[0,4]}}", 4,
                "exceeds 2^64 bytes");
    EXPECT_FAIL("{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,4]}}", 4,
                "tensor \"w\": data_offsets [0,4] hold 4 bytes, shape [2] of F32 needs 8");

    /* ranges */
    EXPECT_FAIL("{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 4,
                "tensor \"w\": data_offsets [0,8] beyond the data area (4 bytes)");
    EXPECT_FAIL("{\"w\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[4,0]}}", 4,
                "data_offsets [4,0] end before begin");
    EXPECT_FAIL("{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[18446744073709551612,"
                "18446744073709551615]}}", 4, "hold 3 bytes");
    EXPECT_FAIL("{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[18446744073709551611,"
                "18446744073709551615]}}", 4, "beyond the data area");
    EXPECT_FAIL("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", 12,
                "tensor \"b\": data_offsets [4,12] overlap tensor \"a\"");
    EXPECT_FAIL("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8, "overlap");
    EXPECT_FAIL("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,12]}}", 12,
                "tensor \"b\": data_offsets [8,12] leave a hole of 4 bytes");
    EXPECT_FAIL("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 8,
                "cover 4 bytes of the data area, the file holds 8");
    EXPECT_FAIL("{}", 3, "no tensors but 3 bytes of data");

    /* names */
    EXPECT_FAIL("{\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]},"
                "\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[1,2]}}", 2,
                "tensor \"a\" given twice");
    char *long_name = malloc(2200);
    strcpy(long_name, "{\"");
    memset(long_name + 2, 'n', 2000);
    strcpy(long_name + 2002, "\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]}}");
    EXPECT_FAIL(long_name, 1, "longer than 1024 bytes");
    free(long_name);
}

int main(int argc, char **argv) {
    const char *data = argc > 2 ? argv[2] : "tests/data";
    char ref[1024];
    snprintf(ref, sizeof ref, "%s/ref.safetensors", data);
    test_reference(ref);
    test_round_trip();
    test_hostile();
    TEST_END();
}
