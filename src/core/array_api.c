/* The public growing-array helper (geoloc/array.h): core/array.c's under its
 * geoloc_ name. */
#include "geoloc/array.h"

#include "core/array.h"

int geoloc_array_grow(void **p, size_t *cap, size_t need, size_t elem) {
    return array_grow(p, cap, need, elem);
}
