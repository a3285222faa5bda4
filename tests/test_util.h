/* Minimal test helpers: CHECK records a failure and goes on; tests end with
 * TEST_END() which prints "N passed, M failed" and returns the exit code.
 * Also whole-file reads and temporary files and folders. */
#ifndef GEOLOC_TEST_UTIL_H
#define GEOLOC_TEST_UTIL_H

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static int test_passed, test_failed;

#define CHECK(cond, ...)                                                    \
    do {                                                                    \
        if (cond) {                                                         \
            test_passed++;                                                  \
        } else {                                                            \
            test_failed++;                                                  \
            fprintf(stderr, "%s:%d: check failed: %s: ", __FILE__, __LINE__, #cond); \
            fprintf(stderr, __VA_ARGS__);                                   \
            fputc('\n', stderr);                                            \
        }                                                                   \
    } while (0)

#define TEST_END()                                                          \
    do {                                                                    \
        printf("%d passed, %d failed\n", test_passed, test_failed);        \
        return test_failed ? 1 : 0;                                         \
    } while (0)

/* Exits with the skip code 77 when the shared data folder is missing. */
static inline void require_shared_data(const char *dir) {
    if (dir == NULL || access(dir, R_OK) != 0) {
        printf("SKIP: shared data not found at %s (see README: Reference data)\n", dir ? dir : "(none)");
        fflush(stdout);
        _exit(77);
    }
}

/* Reads the whole file at path into a malloc'd buffer of (at least) its size
 * plus pad bytes, the pad bytes zero; sets *size to the file's size. Returns
 * NULL (and *size 0) when the file cannot be opened or read. */
static inline void *test_read_file_padded(const char *path, size_t *size, size_t pad) {
    *size = 0;
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    unsigned char *d = NULL;
    long n = -1;
    if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0) {
        size_t alloc = (size_t)n + pad;
        d = malloc(alloc > 0 ? alloc : 1);
        if (d && fread(d, 1, (size_t)n, f) != (size_t)n) {
            free(d);
            d = NULL;
        }
    }
    fclose(f);
    if (!d) return NULL;
    for (size_t k = 0; k < pad; k++) d[(size_t)n + k] = 0;
    *size = (size_t)n;
    return d;
}

/* The bytes of a file in a buffer of exactly its size (so AddressSanitizer
 * sees any read past the end); NULL and *size 0 when it cannot be read. */
static inline void *test_read_file(const char *path, size_t *size) {
    return test_read_file_padded(path, size, 0);
}

/* The text of a file, '\0'-terminated (*size excludes the '\0'); NULL and
 * *size 0 when it cannot be read. */
static inline char *test_read_text(const char *path, size_t *size) {
    return test_read_file_padded(path, size, 1);
}

/* Writes text (without its '\0') to path; exits 1 with a message when it
 * cannot. */
static inline void test_write_text(const char *path, const char *text) {
    FILE *f = fopen(path, "wb");
    if (!f) {
        perror(path);
        exit(1);
    }
    fputs(text, f);
    if (fclose(f) != 0) {
        perror(path);
        exit(1);
    }
}

/* Creates a new empty file /tmp/geoloc_test_<tag>_XXXXXX and returns its
 * path (a static buffer, overwritten by the next call); exits 1 when it
 * cannot. The caller unlinks it. */
static inline const char *test_temp_file(const char *tag) {
    static char path[128];
    snprintf(path, sizeof path, "/tmp/geoloc_test_%s_XXXXXX", tag);
    int fd = mkstemp(path);
    if (fd < 0) {
        perror(path);
        exit(1);
    }
    close(fd);
    return path;
}

/* dir/name in a static buffer (one of 8 used in turn: keep a copy for longer). */
static inline const char *test_path_in(const char *dir, const char *name) {
    static char paths[8][1024];
    static int next;
    char *p = paths[next++ % 8];
    snprintf(p, sizeof paths[0], "%s/%s", dir, name);
    return p;
}

/* Creates the folder named by template (ending in XXXXXX, replaced in
 * place) with mkdtemp; exits 1 with a message when it cannot. */
static inline void test_make_temp_dir(char *template_path) {
    if (!mkdtemp(template_path)) {
        perror("mkdtemp");
        exit(1);
    }
}

/* Removes the folder dir and everything in it (rm -rf); a failure is
 * reported on stderr, not counted. */
static inline void test_remove_tree(const char *dir) {
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
}

#endif
