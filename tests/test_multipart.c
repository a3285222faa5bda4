/* multipart/form-data parsing (src/server/multipart.c): boundaries from the
 * Content-Type, RFC 2046's structure (preamble, delimiters, transport padding,
 * closing delimiter, epilogue), parts with and without filename, binary
 * content, data that merely starts like the boundary, malformed bodies, and a
 * body of 10,000 parts counted. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "server/multipart.h"
#include "test_util.h"

#define MAX 8

static multipart_part parts[MAX];
static size_t n_parts;
static char why[256];

static int parse(const char *body, size_t size, const char *boundary) {
    why[0] = 0;
    return multipart_parse((const uint8_t *)body, size, boundary, parts, MAX, &n_parts, why, sizeof why);
}

static int part_is(size_t k, const char *data, size_t size) {
    return parts[k].size == size && memcmp(parts[k].data, data, size) == 0;
}

static void test_boundary(void) {
    char b[71];
    CHECK(multipart_boundary("multipart/form-data; boundary=simple", b, sizeof b) == 0 && !strcmp(b, "simple"),
          "unquoted: %s", b);
    CHECK(multipart_boundary("Multipart/Form-Data;boundary=\"gc0p4Jq0M2Yt08jU534c0p\"", b, sizeof b) == 0 &&
              !strcmp(b, "gc0p4Jq0M2Yt08jU534c0p"),
          "quoted, case-insensitive type: %s", b);
    CHECK(multipart_boundary("multipart/form-data; charset=utf-8; boundary=\"with space'()+_,-./:=?\"", b, sizeof b) ==
              0 && !strcmp(b, "with space'()+_,-./:=?"),
          "every bchar, after another parameter: %s", b);
    CHECK(multipart_boundary("multipart/mixed; boundary=x", b, sizeof b) == -1, "not form-data");
    CHECK(multipart_boundary("image/jpeg", b, sizeof b) == -1, "not multipart");
    CHECK(multipart_boundary("multipart/form-data", b, sizeof b) == -1, "no boundary");
    CHECK(multipart_boundary("multipart/form-data; boundary=\"\"", b, sizeof b) == -1, "empty boundary");
    CHECK(multipart_boundary("multipart/form-data; boundary=\"ends with space \"", b, sizeof b) == -1,
          "trailing space");
    CHECK(multipart_boundary("multipart/form-data; boundary=\"a<b\"", b, sizeof b) == -1, "not a bchar");
    CHECK(multipart_boundary("multipart/form-data; boundary=\"unclosed", b, sizeof b) == -1, "unclosed quote");
    char long_type[200];
    snprintf(long_type, sizeof long_type, "multipart/form-data; boundary=%071d", 0);
    CHECK(multipart_boundary(long_type, b, sizeof b) == -1, "71 characters");
    snprintf(long_type, sizeof long_type, "multipart/form-data; boundary=%070d", 0);
    CHECK(multipart_boundary(long_type, b, sizeof b) == 0 && strlen(b) == 70, "70 characters");
}

/* RFC 2046 section 5.1.1's example, with a preamble and an epilogue. */
static void test_rfc_example(void) {
    static const char body[] =
        "This is the preamble.  It is to be ignored, though it\r\n"
        "is a handy place for composition agents to include an\r\n"
        "explanatory note to non-MIME conformant readers.\r\n"
        "\r\n"
        "--simple boundary\r\n"
        "\r\n"
        "This is implicitly typed plain US-ASCII text.\r\n"
        "It does NOT end with a linebreak.\r\n"
        "--simple boundary  \t\r\n"
        "Content-type: text/plain; charset=us-ascii\r\n"
        "\r\n"
        "This is explicitly typed plain US-ASCII text.\r\n"
        "It DOES end with a linebreak.\r\n"
        "\r\n"
        "--simple boundary--\r\n"
        "\r\n"
        "This is the epilogue.  It is also to be ignored.\r\n";
    CHECK(parse(body, sizeof body - 1, "simple boundary") == 0, "%s", why);
    CHECK(n_parts == 2, "%zu parts", n_parts);
    const char *t1 = "This is implicitly typed plain US-ASCII text.\r\nIt does NOT end with a linebreak.";
    const char *t2 = "This is explicitly typed plain US-ASCII text.\r\nIt DOES end with a linebreak.\r\n";
    CHECK(part_is(0, t1, strlen(t1)), "part 1: '%.*s'", (int)parts[0].size, parts[0].data);
    CHECK(part_is(1, t2, strlen(t2)), "part 2: '%.*s'", (int)parts[1].size, parts[1].data);
    CHECK(!strcmp(parts[1].content_type, "text/plain; charset=us-ascii"), "content type '%s'", parts[1].content_type);
    CHECK(parts[0].name[0] == 0 && parts[0].filename[0] == 0, "no disposition");
}

/* A browser's form: a field without filename, a file with binary bytes. */
static void test_form(void) {
    static const char data[] = "\x00\xff--\r\n--AaB0\r\n--AaB03xyz\r\n\r\n\r\n--AaB03x-not\r\n--";
    char body[1024];
    int n = snprintf(body, sizeof body,
                     "--AaB03x\r\n"
                     "Content-Disposition: form-data; name=\"field1\"\r\n"
                     "\r\n"
                     "Joe Blow\r\n"
                     "--AaB03x\r\n"
                     "content-disposition: form-data; name=\"pics\"; filename=\"a \\\"b\\\".jpg\"\r\n"
                     "Content-Type: image/jpeg\r\n"
                     "\r\n");
    memcpy(body + n, data, sizeof data - 1);
    n += (int)sizeof data - 1;
    n += snprintf(body + n, sizeof body - (size_t)n, "\r\n--AaB03x--");
    CHECK(parse(body, (size_t)n, "AaB03x") == 0, "%s", why);
    CHECK(n_parts == 2, "%zu parts", n_parts);
    CHECK(part_is(0, "Joe Blow", 8), "field");
    CHECK(!strcmp(parts[0].name, "field1") && parts[0].filename[0] == 0, "name '%s' filename '%s'", parts[0].name,
          parts[0].filename);
    CHECK(part_is(1, data, sizeof data - 1), "binary file of %zu bytes, got %zu", sizeof data - 1, parts[1].size);
    CHECK(!strcmp(parts[1].name, "pics") && !strcmp(parts[1].filename, "a \"b\".jpg"), "name '%s' filename '%s'",
          parts[1].name, parts[1].filename);
    CHECK(!strcmp(parts[1].content_type, "image/jpeg"), "type '%s'", parts[1].content_type);
}

static void test_limits_and_empty(void) {
    static const char body[] = "--b\r\n\r\n\r\n--b\r\n\r\nx\r\n--b\r\n\r\ny\r\n--b--";
    size_t n = 0;
    multipart_part one[1];
    CHECK(multipart_parse((const uint8_t *)body, sizeof body - 1, "b", one, 1, &n, why, sizeof why) == 0, "%s", why);
    CHECK(n == 3 && one[0].size == 0, "3 parts counted (1 stored), the first empty: %zu", n);
    CHECK(parse(body, sizeof body - 1, "b") == 0 && n_parts == 3 && part_is(1, "x", 1) && part_is(2, "y", 1),
          "parts x and y");
}

static void expect_malformed(const char *body, const char *boundary, const char *what, const char *message) {
    CHECK(parse(body, strlen(body), boundary) == -1, "%s: accepted", what);
    CHECK(strstr(why, message) != NULL, "%s: message '%s', expected '%s'", what, why, message);
}

static void test_malformed(void) {
    expect_malformed("--b\r\n\r\ndata\r\n--b\r\n\r\nmore", "b", "no closing delimiter", "no closing delimiter");
    expect_malformed("--b\r\n\r\ndata\r\n--bb--", "b", "closing delimiter of another boundary", "no closing");
    expect_malformed("--b\r\nContent-Type: text/plain\r\ndata\r\n--b--", "b", "no blank line after headers",
                     "no blank line");
    expect_malformed("just text", "b", "no delimiter", "no delimiter");
    expect_malformed("--b--", "b", "no parts", "no parts");
    expect_malformed("--b\r\nnot a header\r\n\r\nx\r\n--b--", "b", "header without colon", "no colon");
    expect_malformed("--b\r\nContent-Disposition: form-data; name=\"x\r\n\r\nx\r\n--b--", "b",
                     "unclosed quoted name", "Content-Disposition");
    size_t hsize = 9000;
    char *big = malloc(hsize + 64);
    int n = snprintf(big, hsize + 64, "--b\r\nX-Long: ");
    memset(big + n, 'a', hsize);
    snprintf(big + n + hsize, 64, "\r\n\r\nx\r\n--b--");
    expect_malformed(big, "b", "headers over 8 KiB", "over 8192 bytes");
    free(big);
}

/* 10,000 parts: counted (only MAX stored), in linear time. */
static void test_many_parts(void) {
    size_t count = 10000;
    size_t cap = count * 48 + 16, len = 0;
    char *body = malloc(cap);
    for (size_t k = 0; k < count; k++)
        len += (size_t)snprintf(body + len, cap - len, "--xyz\r\nContent-Type: a/b\r\n\r\n%05zu\r\n", k);
    len += (size_t)snprintf(body + len, cap - len, "--xyz--\r\n");
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int r = parse(body, len, "xyz");
    clock_gettime(CLOCK_MONOTONIC, &t1);
    CHECK(r == 0 && n_parts == count, "%zu parts counted (%s)", n_parts, why);
    CHECK(part_is(MAX - 1, "00007", 5), "part %d", MAX - 1);
    printf("10000 parts (%zu bytes) parsed in %.2f ms\n", len,
           (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) * 1e-6);
    free(body);
}

int main(void) {
    test_boundary();
    test_rfc_example();
    test_form();
    test_limits_and_empty();
    test_malformed();
    test_many_parts();
    TEST_END();
}
