/* Growing arrays. Internal API. */
#ifndef GEOLOC_CORE_ARRAY_H
#define GEOLOC_CORE_ARRAY_H

#include <stddef.h>

/* Makes the array *p of elem-byte items hold at least `need` items (capacity
 * *cap, doubled as needed); 0, or -1 when out of memory (the array is kept). */
int array_grow(void **p, size_t *cap, size_t need, size_t elem);

#endif
