/* geoloc: growing arrays, as the library grows its own. */
#ifndef GEOLOC_ARRAY_H
#define GEOLOC_ARRAY_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Makes the array *p of elem-byte items hold at least `need` items (capacity
 * *cap, doubled as needed); 0, or -1 when out of memory (the array is kept). */
int geoloc_array_grow(void **p, size_t *cap, size_t need, size_t elem);

#ifdef __cplusplus
}
#endif
#endif
