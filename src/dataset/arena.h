/* Append-only string storage whose strings never move (so pointers to them
 * stay valid while more are added). Internal API. */
#ifndef GEOLOC_DATASET_ARENA_H
#define GEOLOC_DATASET_ARENA_H

#include <stddef.h>

typedef struct arena_block arena_block;

typedef struct arena {
    arena_block *head; /* newest block */
    size_t used, cap;  /* of the newest block */
} arena;

/* Copies s[0..len) plus a terminating NUL; NULL when out of memory. */
char *arena_strndup(arena *a, const char *s, size_t len);

/* Releases every block; the arena is empty afterwards. */
void arena_free(arena *a);

#endif
