/* Shared by the fuzz targets. */
#ifndef GEOLOC_FUZZ_UTIL_H
#define GEOLOC_FUZZ_UTIL_H

#include <stdio.h>
#include <stdlib.h>

/* Aborts (a finding for libFuzzer) with the place and the condition when an
 * invariant does not hold. */
#define REQUIRE(cond)                                                              \
    do {                                                                           \
        if (!(cond)) {                                                             \
            fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__, __LINE__, #cond); \
            abort();                                                               \
        }                                                                          \
    } while (0)

#endif
