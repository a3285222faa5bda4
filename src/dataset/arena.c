/* Append-only string storage in chained blocks. */
#include "dataset/arena.h"

#include <stdlib.h>
#include <string.h>

#define FIRST_BLOCK (4u << 10)  /* blocks double from 4 KiB ... */
#define BLOCK_BYTES (1u << 20)  /* ... to 1 MiB */

struct arena_block {
    arena_block *prev;
    char data[];
};

char *arena_strndup(arena *a, const char *s, size_t len) {
    if (!a->head || a->cap - a->used < len + 1) {
        size_t cap = !a->head ? FIRST_BLOCK : a->cap < BLOCK_BYTES ? 2 * a->cap : BLOCK_BYTES;
        if (cap < len + 1) cap = len + 1;
        arena_block *b = malloc(sizeof *b + cap);
        if (!b) return NULL;
        b->prev = a->head;
        a->head = b;
        a->used = 0;
        a->cap = cap;
    }
    char *p = a->head->data + a->used;
    memcpy(p, s, len);
    p[len] = '\0';
    a->used += len + 1;
    return p;
}

void arena_free(arena *a) {
    arena_block *b = a->head;
    while (b) {
        arena_block *prev = b->prev;
        free(b);
        b = prev;
    }
    a->head = NULL;
    a->used = a->cap = 0;
}
