/* The JSON writer: shortest round-trip numbers, non-finite numbers refused,
 * string escapes, bytes that are not UTF-8 written as \u00XX of their Latin-1
 * reading (valid sequences of 2-4 bytes kept as they are), nesting and
 * commas, write errors reported. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "geoloc/json.h"
#include "test_util.h"

/* s written as a JSON string, in a static buffer. */
static const char *quoted(const char *s) {
    static char buf[512];
    FILE *f = fmemopen(buf, sizeof buf, "w");
    geoloc_json_write_string(f, s);
    fclose(f);
    return buf;
}

static void test_strings(void) {
    CHECK(!strcmp(quoted("plain"), "\"plain\""), "plain");
    CHECK(!strcmp(quoted("a\"b\\c"), "\"a\\\"b\\\\c\""), "quote and backslash");
    CHECK(!strcmp(quoted("\n\t\r\x01\x1f\x7f"), "\"\\n\\t\\u000d\\u0001\\u001f\\u007f\""), "controls: %s",
          quoted("\n\t\r\x01\x1f\x7f"));
    CHECK(!strcmp(quoted("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x8c\x8d"), "\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x8c\x8d\""),
          "valid UTF-8 of 2, 3 and 4 bytes kept");
    CHECK(!strcmp(quoted("photo\xff.jpg"), "\"photo\\u00ff.jpg\""), "0xFF: %s", quoted("photo\xff.jpg"));
    CHECK(!strcmp(quoted("\xc3"), "\"\\u00c3\""), "a truncated sequence at the end");
    CHECK(!strcmp(quoted("\xc3(x"), "\"\\u00c3(x\""), "a lead byte without its continuation");
    CHECK(!strcmp(quoted("\x80\xbf"), "\"\\u0080\\u00bf\""), "lone continuation bytes");
    CHECK(!strcmp(quoted("\xc0\xaf"), "\"\\u00c0\\u00af\""), "an overlong '/' (C0 AF)");
    CHECK(!strcmp(quoted("\xe0\x80\xaf"), "\"\\u00e0\\u0080\\u00af\""), "an overlong 3-byte form");
    CHECK(!strcmp(quoted("\xed\xa0\x80"), "\"\\u00ed\\u00a0\\u0080\""), "a UTF-16 surrogate (ED A0 80)");
    CHECK(!strcmp(quoted("\xf4\x90\x80\x80"), "\"\\u00f4\\u0090\\u0080\\u0080\""), "above U+10FFFF");
    CHECK(!strcmp(quoted("\xf4\x8f\xbf\xbf"), "\"\xf4\x8f\xbf\xbf\""), "U+10FFFF itself kept");
    CHECK(!strcmp(quoted("\xf5\x80"), "\"\\u00f5\\u0080\""), "F5 never starts UTF-8");
}

static void test_numbers(void) {
    char buf[32];
    const double values[] = {0.1, 1.0 / 3, 48.867571, -2.5e-300, 1e21, 123456789012345678.0, 5e-324, -0.0};
    for (size_t k = 0; k < sizeof values / sizeof values[0]; k++) {
        CHECK(geoloc_json_format_double(values[k], buf) == 0 && strtod(buf, NULL) == values[k] &&
              strlen(buf) <= 24, "%.17g -> %s reads back", values[k], buf);
    }
    geoloc_json_format_double(0.1, buf);
    CHECK(!strcmp(buf, "0.1"), "shortest form: 0.1 (%s)", buf);
    geoloc_json_format_float(0.8766f, buf);
    CHECK(!strcmp(buf, "0.8766"), "shortest float: %s", buf);
    CHECK(strtof(buf, NULL) == 0.8766f, "the float reads back");
    CHECK(geoloc_json_format_double(NAN, buf) == -1 && buf[0] == '\0', "NaN refused");
    CHECK(geoloc_json_format_double(-INFINITY, buf) == -1, "-inf refused");
    CHECK(geoloc_json_format_float(NAN, buf) == -1, "float NaN refused");
}

/* A document with every kind of value, then a non-finite number. */
static void test_writer(void) {
    char *text = NULL;
    size_t size = 0;
    FILE *f = open_memstream(&text, &size);
    geoloc_json w;
    geoloc_json_init(&w, f, 1);
    geoloc_json_object_begin(&w);
    geoloc_json_key(&w, "a");
    geoloc_json_array_begin(&w);
    geoloc_json_int(&w, -3);
    geoloc_json_double(&w, 0.25);
    geoloc_json_string(&w, NULL);
    geoloc_json_object_begin(&w);
    geoloc_json_object_end(&w);
    geoloc_json_array_end(&w);
    geoloc_json_key(&w, "b\xff");
    geoloc_json_float(&w, 1.5f);
    geoloc_json_object_end(&w);
    geoloc_error err = {0};
    CHECK(geoloc_json_finish(&w, &err) == GEOLOC_OK, "%s", err.message);
    fclose(f);
    CHECK(text && !strcmp(text, "{\"a\": [-3, 0.25, null, {}], \"b\\u00ff\": 1.5}\n"), "document: %s", text);
    free(text);

    f = open_memstream(&text, &size);
    geoloc_json_init(&w, f, 0);
    geoloc_json_array_begin(&w);
    geoloc_json_double(&w, 1);
    geoloc_json_double(&w, NAN);
    geoloc_json_double(&w, 2);
    geoloc_json_array_end(&w);
    CHECK(geoloc_json_finish(&w, &err) == GEOLOC_E_RANGE, "a NaN value makes the document fail");
    fclose(f);
    CHECK(text && !strstr(text, "nan") && !strstr(text, "2"), "nothing written after the NaN: %s", text);
    free(text);

    f = open_memstream(&text, &size);
    geoloc_json_init(&w, f, 0);
    geoloc_json_object_begin(&w);
    geoloc_json_int(&w, 1); /* a value without a key */
    CHECK(geoloc_json_finish(&w, &err) == GEOLOC_E_ARG, "a member without a key refused");
    geoloc_json_init(&w, f, 0);
    geoloc_json_array_begin(&w);
    CHECK(geoloc_json_finish(&w, &err) == GEOLOC_E_ARG, "an array left open refused");
    fclose(f);
    free(text);

    FILE *full = fopen("/dev/full", "w");
    if (full) {
        geoloc_json_init(&w, full, 0);
        geoloc_json_string(&w, "x");
        CHECK(geoloc_json_finish(&w, &err) == GEOLOC_E_IO, "a full disk is an error");
        fclose(full);
    }
}

int main(void) {
    test_strings();
    test_numbers();
    test_writer();
    TEST_END();
}
