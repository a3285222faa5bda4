/* safetensors weights files: the reference file (tests/data/ref.safetensors,
 * see tools/gen_safetensors_ref.py; written without a checksum, so it is also
 * the file-from-before-checksums case), write/read round trips, the data
 * checksum, and hostile inputs, each rejected with a message naming the file
 * and the problem. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "geoloc/safetensors.h"
#include "io/crc32c.h"
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
    CHECK(!geoloc_safetensors_has_checksum(st), "the reference file has no checksum");
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
     * the reference file byte for byte, plus the checksum entry at the end of
     * the metadata (the header re-padded to 8 bytes) */
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
    unsigned char *b1 = test_read_file(path, &s1), *b2 = test_read_file(out, &s2);
    size_t h1 = 0;
    for (int k = 7; b1 && k >= 0; k--) h1 = (h1 << 8) | b1[k];
    const char *meta_end = b1 ? memchr(b1 + 8, '}', h1) : NULL; /* no '}' in the metadata strings */
    size_t json_len = h1;
    while (b1 && json_len > 0 && b1[8 + json_len - 1] == ' ') json_len--;
    char entry[64];
    snprintf(entry, sizeof entry, ",\"geoloc.crc32c\":\"%08x\"",
             b1 ? (unsigned)crc32c(0, b1 + 8 + h1, s1 - 8 - h1) : 0u);
    size_t h_want = (json_len + strlen(entry) + 7) / 8 * 8, s_want = 8 + h_want + (s1 - 8 - h1);
    unsigned char *want_file = calloc(1, s_want);
    if (b1 && meta_end) {
        size_t pre = (size_t)((const unsigned char *)meta_end - b1);
        for (int k = 0; k < 8; k++) want_file[k] = (unsigned char)((uint64_t)h_want >> (8 * k));
        memcpy(want_file + 8, b1 + 8, pre - 8);
        memcpy(want_file + pre, entry, strlen(entry));
        memcpy(want_file + pre + strlen(entry), meta_end, 8 + json_len - pre);
        memset(want_file + 8 + json_len + strlen(entry), ' ', h_want - json_len - strlen(entry));
        memcpy(want_file + 8 + h_want, b1 + 8 + h1, s1 - 8 - h1);
    }
    CHECK(meta_end && b2 && s2 == s_want && !memcmp(b2, want_file, s2),
          "rewritten reference differs (%zu vs %zu bytes)", s2, s_want);
    free(want_file);

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

/* The header length a file's first 8 bytes give (little endian); 0 for NULL. */
static uint64_t header_size(const unsigned char *raw) {
    uint64_t h = 0;
    for (int k = 7; raw && k >= 0; k--) h = (h << 8) | raw[k];
    return h;
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
    uint64_t h = header_size(raw);
    CHECK(raw && h % 8 == 0 && size == 8 + h + 24 + 16 + 4, "layout: header %llu, size %zu",
          (unsigned long long)h, size);
    char head[300];
    uint32_t crc = crc32c(crc32c(crc32c(0, a, sizeof a), ids, sizeof ids), a, 4);
    snprintf(head, sizeof head, "{\"__metadata__\":{\"geoloc.crc32c\":\"%08x\"},"
                       "\"z.weight\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,24]},"
                       "\"a.ids\":{\"dtype\":\"I64\",\"shape\":[2],\"data_offsets\":[24,40]},",
             (unsigned)crc);
    CHECK(raw && !memcmp(raw + 8, head, strlen(head)), "header text");
    size_t last = raw && h ? 8 + h - 1 : 0;
    while (raw && last > 8 && raw[last] == ' ') last--;
    CHECK(raw && raw[last] == '}' && 8 + h - 1 - last < 8, "space padding");
    free(raw);
    geoloc_safetensors *st;
    if (geoloc_safetensors_open(path, &st, &err) != GEOLOC_OK) {
        CHECK(0, "%s", err.message);
    } else {
        CHECK(geoloc_safetensors_count(st) == 3 && geoloc_safetensors_metadata_count(st) == 1 &&
                  geoloc_safetensors_has_checksum(st), "count");
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

/* Opens path; 1 when that fails as a data checksum mismatch naming the file. */
static int damaged(const char *path) {
    geoloc_safetensors *st = NULL;
    geoloc_error err = {0};
    geoloc_status s = geoloc_safetensors_open(path, &st, &err);
    geoloc_safetensors_close(st);
    char want[600];
    snprintf(want, sizeof want, "%s: data checksum mismatch (file damaged or edited)", path);
    return s == GEOLOC_E_PARSE && st == NULL && strstr(err.message, want) != NULL;
}

static void flip_byte(const char *path, long at) {
    FILE *f = fopen(path, "r+b");
    int c = f && fseek(f, at, SEEK_SET) == 0 ? fgetc(f) : EOF;
    CHECK(c != EOF && fseek(f, at, SEEK_SET) == 0 && fputc(c ^ 0x10, f) != EOF, "flip byte %ld", at);
    if (f) fclose(f);
}

/* The data checksum: a model-like file written by the library loads verified; one
 * flipped bit anywhere in its tensors' data makes it fail naming the file; files
 * without the entry load unverified; a malformed entry is refused. */
static void test_checksum(void) {
    enum { C = 64 };
    static float conv[C * 3 * 3 * 3], bn[4][C], fc[10 * C], fcb[10];
    for (size_t k = 0; k < sizeof conv / sizeof *conv; k++) conv[k] = (float)k * 0.01f - 1.0f;
    for (int k = 0; k < C; k++) bn[0][k] = 1, bn[1][k] = 0.5f, bn[2][k] = 0.1f * k, bn[3][k] = 2;
    for (int k = 0; k < 10 * C; k++) fc[k] = (float)(k % 7) - 3;
    uint64_t sc[4] = {C, 3, 3, 3}, sb[1] = {C}, sf[2] = {10, C}, sfb[1] = {10};
    geoloc_tensor_desc t[7] = {
        {"conv1.weight", GEOLOC_DTYPE_F32, 4, sc, conv},   {"bn1.weight", GEOLOC_DTYPE_F32, 1, sb, bn[0]},
        {"bn1.bias", GEOLOC_DTYPE_F32, 1, sb, bn[1]},       {"bn1.running_mean", GEOLOC_DTYPE_F32, 1, sb, bn[2]},
        {"bn1.running_var", GEOLOC_DTYPE_F32, 1, sb, bn[3]}, {"fc.weight", GEOLOC_DTYPE_F32, 2, sf, fc},
        {"fc.bias", GEOLOC_DTYPE_F32, 1, sfb, fcb},
    };
    /* a stale checksum handed in by the caller (metadata copied from another file) is replaced */
    const char *keys[] = {"geoloc.arch", "geoloc.crc32c"}, *vals[] = {"resnet18", "00000000"};
    const char *path = test_temp_file("st_crc");
    geoloc_error err;
    CHECK(geoloc_safetensors_write(path, t, 7, keys, vals, 2, &err) == GEOLOC_OK, "%s", err.message);
    size_t size;
    unsigned char *raw = test_read_file(path, &size);
    uint64_t h = header_size(raw);
    geoloc_safetensors *st = NULL;
    CHECK(geoloc_safetensors_open(path, &st, &err) == GEOLOC_OK && geoloc_safetensors_has_checksum(st),
          "%s", err.message);
    if (st && raw) {
        char want[9];
        snprintf(want, sizeof want, "%08x", (unsigned)crc32c(0, raw + 8 + h, size - 8 - h));
        const char *got = geoloc_safetensors_metadata_get(st, "geoloc.crc32c");
        CHECK(got && !strcmp(got, want) && geoloc_safetensors_metadata_count(st) == 2, "checksum entry %s",
              got ? got : "(none)");
    }
    geoloc_safetensors_close(st);
    /* first byte of the data, a byte inside fc.weight, the very last byte */
    long at[3] = {(long)(8 + h), (long)(8 + h + sizeof conv + 4 * sizeof bn[0] + 123), (long)size - 1};
    for (int k = 0; k < 3 && raw; k++) {
        flip_byte(path, at[k]);
        CHECK(damaged(path), "flipped byte %ld not detected", at[k]);
        flip_byte(path, at[k]); /* back: loads again */
        CHECK(geoloc_safetensors_open(path, &st, &err) == GEOLOC_OK, "%s", err.message);
        geoloc_safetensors_close(st);
    }
    free(raw);
    unlink(path);

    /* by hand: a right checksum, a file without one, malformed entries */
    char json[200];
    const unsigned char data4[4] = {0, 1, 2, 3};
    snprintf(json, sizeof json, "{\"__metadata__\":{\"geoloc.crc32c\":\"%08x\"},"
             "\"t\":{\"dtype\":\"U8\",\"shape\":[4],\"data_offsets\":[0,4]}}",
             (unsigned)crc32c(0, data4, 4));
    EXPECT_OK(json, 4);
    const char *plain = "{\"t\":{\"dtype\":\"U8\",\"shape\":[4],\"data_offsets\":[0,4]}}";
    EXPECT_OK(plain, 4);
    size_t n;
    unsigned char *b = image(plain, 4, &n);
    CHECK(geoloc_safetensors_open_buffer(b, n, "old.st", &st, &err) == GEOLOC_OK &&
              !geoloc_safetensors_has_checksum(st), "a file without a checksum loads unverified");
    geoloc_safetensors_close(st);
    free(b);
    json[strlen("{\"__metadata__\":{\"geoloc.crc32c\":\"")] ^= 1; /* one hex digit changed */
    EXPECT_FAIL(json, 4, "data checksum mismatch (file damaged or edited)");
    EXPECT_FAIL("{\"__metadata__\":{\"geoloc.crc32c\":\"8B\"},"
                "\"t\":{\"dtype\":\"U8\",\"shape\":[4],\"data_offsets\":[0,4]}}",
                4, "is not 8 lowercase hex digits");
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
    EXPECT_FAIL("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}", 4, "'}' expected near end of file");
    EXPECT_FAIL("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},}", 4,
                "string or '}' expected");
    EXPECT_FAIL("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}} x", 4,
                "end of file expected near 'x'");
    EXPECT_FAIL("{\"a\" {}}", 0, "':' expected");
    EXPECT_FAIL("{\"a:{}}", 0, "premature end of input");
    EXPECT_FAIL("{\"a\\q\":{}}", 0, "invalid escape");
    EXPECT_FAIL("{\"a\\ud800\":{}}", 0, "invalid Unicode '\\uD800'");
    EXPECT_FAIL("{\"a\\u0000\":{}}", 0, "NUL byte in object key not supported");
    EXPECT_FAIL("{\"a\xc3\x28\":{}}", 0, "unable to decode byte 0xc3");
    EXPECT_FAIL("{\"a\x01\":{}}", 0, "control character");
    EXPECT_FAIL("{\"a\":{\"dtype\":\"F32\",\"x\":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["
                "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]"
                "]]]]]]]]]]]]]]]]]],\"shape\":[1],\"data_offsets\":[0,4]}}", 4, "nested deeper than 64");
    EXPECT_FAIL("{\"a\":{\"dtype\":\"F32\",\"x\":tru,\"shape\":[1],\"data_offsets\":[0,4]}}", 4,
                "invalid token near 'tru'");
    EXPECT_FAIL("{\"a\":[]}", 0, "tensor \"a\": an object expected");
    EXPECT_FAIL("{\"a\":{\"dtype\":\"F32\",\"shape\":[1]}}", 0, "tensor \"a\": no \"data_offsets\"");
    EXPECT_FAIL("{\"a\":{\"dtype\":\"F32\",\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4,
                "duplicate object key near '\"dtype\"'");
    EXPECT_FAIL("{\"a\":{\"dtype\":3,\"shape\":[1],\"data_offsets\":[0,4]}}", 4, "dtype is not a string");
    EXPECT_FAIL("{\"a\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]}}", 4,
                "tensor \"a\": shape: dimension 0: a non-negative integer expected");
    EXPECT_FAIL("{\"a\":{\"dtype\":\"F32\",\"shape\":[1.0],\"data_offsets\":[0,4]}}", 4,
                "non-negative integer expected");
    EXPECT_FAIL("{\"a\":{\"dtype\":\"F32\",\"shape\":[18446744073709551616],\"data_offsets\":[0,4]}}", 4,
                "too big integer");
    EXPECT_FAIL("{\"a\":{\"dtype\":\"F32\",\"shape\":1,\"data_offsets\":[0,4]}}", 4, "shape is not an array");
    EXPECT_FAIL("{\"a\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1],"
                "\"data_offsets\":[0,4]}}", 4, "more than 16 dimensions");
    EXPECT_FAIL("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4,8]}}", 4,
                "data_offsets is not a pair");
    EXPECT_FAIL("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0.5,4]}}", 4,
                "data_offsets is not a pair");
    EXPECT_FAIL("{\"__metadata__\":{\"k\":1}}", 0, "__metadata__ \"k\": a string value expected");
    EXPECT_FAIL("{\"__metadata__\":[]}", 0, "__metadata__ is not an object");
    EXPECT_FAIL("{\"__metadata__\":{\"k\":\"1\",\"k\":\"2\"}}", 0, "duplicate object key near '\"k\"'");
    EXPECT_FAIL("{\"__metadata__\":{},\"__metadata__\":{}}", 0, "duplicate object key near '\"__metadata__\"'");

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
    /* JSON integers are 64-bit signed (jansson): offsets up to 2^63 - 1 */
    EXPECT_FAIL("{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[9223372036854775804,"
                "9223372036854775807]}}", 4, "hold 3 bytes");
    EXPECT_FAIL("{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[9223372036854775803,"
                "9223372036854775807]}}", 4, "beyond the data area");
    EXPECT_FAIL("{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,9223372036854775808]}}", 4,
                "too big integer");
    /* a header of many values is refused before its tree is built */
    {
        size_t n = 4000010, len = 2 * n + 64;
        char *many = malloc(len);
        size_t at = (size_t)sprintf(many, "{\"a\":{\"dtype\":\"U8\",\"shape\":[0],\"data_offsets\":[0,0],\"x\":[");
        for (size_t k = 0; k < n; k++) many[at++] = '0', many[at++] = ',';
        strcpy(many + at - 1, "]}}");
        EXPECT_FAIL(many, 0, "more than 4000000 values");
        free(many);
    }
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
                "duplicate object key near '\"a\"'");
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
    test_checksum();
    test_hostile();
    TEST_END();
}
