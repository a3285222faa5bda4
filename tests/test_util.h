/* Minimal test helpers: CHECK records a failure and goes on; tests end with
 * TEST_END() which prints "N passed, M failed" and returns the exit code. */
#ifndef GEOLOC_TEST_UTIL_H
#define GEOLOC_TEST_UTIL_H

#include <stdio.h>
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

#endif
