/* Shared by the partition builder and the partition file code. Internal. */
#ifndef GEOLOC_GEO_PARTITION_INTERNAL_H
#define GEOLOC_GEO_PARTITION_INTERNAL_H

#include "geoloc/partition.h"

/* A partition with room for n classes (fields uninitialised); NULL if out of memory. */
geoloc_partition *partition_alloc(size_t n);

/* Builds the id-ordered lookup index; 0 on success, -1 out of memory. */
int partition_index(geoloc_partition *p);

#endif
