/* Per-client token buckets: a fixed pool of max_clients entries, found by a
 * chained hash of the address bytes (IPv4 as 4 bytes, an IPv4-mapped IPv6
 * address as its IPv4 address, IPv6 as 16 bytes, any other family as one
 * shared client) and kept in a least-recently-seen list; a new client takes
 * the least recently seen entry once the pool is full. One mutex. */
#include "server/rate_limit.h"

#include <netinet/in.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* A client's address: family tag and up to 16 bytes. */
typedef struct client_key {
    unsigned char family; /* 4, 6 or 0 (other) */
    unsigned char bytes[16];
} client_key;

typedef struct client {
    client_key key;
    double tokens, last;
    struct client *next_in_bucket;
    struct client *newer, *older; /* the recency list */
} client;

struct serve_rate_limit {
    pthread_mutex_t lock;
    double rate, burst;
    size_t max_clients, n_used;
    client *pool;
    client **buckets;
    size_t bucket_mask;
    client *newest, *oldest;
};

serve_rate_limit *serve_rate_limit_create(double rate, double burst, size_t max_clients) {
    if (!(rate > 0) || !(burst >= 1)) return NULL;
    if (max_clients < 1) max_clients = 1;
    size_t n_buckets = 16;
    while (n_buckets < 2 * max_clients) n_buckets *= 2;
    serve_rate_limit *r = calloc(1, sizeof *r);
    if (!r) return NULL;
    r->pool = calloc(max_clients, sizeof *r->pool);
    r->buckets = calloc(n_buckets, sizeof *r->buckets);
    if (!r->pool || !r->buckets || pthread_mutex_init(&r->lock, NULL)) {
        free(r->pool);
        free(r->buckets);
        free(r);
        return NULL;
    }
    r->rate = rate;
    r->burst = burst;
    r->max_clients = max_clients;
    r->bucket_mask = n_buckets - 1;
    return r;
}

void serve_rate_limit_free(serve_rate_limit *r) {
    if (!r) return;
    pthread_mutex_destroy(&r->lock);
    free(r->pool);
    free(r->buckets);
    free(r);
}

/* The client an address stands for. */
static client_key key_of(const struct sockaddr *addr) {
    client_key k;
    memset(&k, 0, sizeof k);
    if (addr && addr->sa_family == AF_INET) {
        k.family = 4;
        memcpy(k.bytes, &((const struct sockaddr_in *)(const void *)addr)->sin_addr, 4);
    } else if (addr && addr->sa_family == AF_INET6) {
        const struct in6_addr *a = &((const struct sockaddr_in6 *)(const void *)addr)->sin6_addr;
        if (IN6_IS_ADDR_V4MAPPED(a)) {
            k.family = 4;
            memcpy(k.bytes, a->s6_addr + 12, 4);
        } else {
            k.family = 6;
            memcpy(k.bytes, a->s6_addr, 16);
        }
    }
    return k;
}

/* FNV-1a over the key. */
static size_t key_hash(const client_key *k) {
    uint64_t h = 1469598103934665603ULL ^ k->family;
    for (int i = 0; i < 16; i++) h = (h ^ k->bytes[i]) * 1099511628211ULL;
    return (size_t)(h ^ (h >> 29));
}

/* Takes c out of the recency list. */
static void list_unlink(serve_rate_limit *r, client *c) {
    if (c->newer) c->newer->older = c->older;
    else r->newest = c->older;
    if (c->older) c->older->newer = c->newer;
    else r->oldest = c->newer;
    c->newer = c->older = NULL;
}

/* Puts c first in the recency list. */
static void list_push_newest(serve_rate_limit *r, client *c) {
    c->older = r->newest;
    c->newer = NULL;
    if (r->newest) r->newest->newer = c;
    r->newest = c;
    if (!r->oldest) r->oldest = c;
}

/* Removes c from its hash chain. */
static void bucket_remove(serve_rate_limit *r, client *c) {
    client **p = &r->buckets[key_hash(&c->key) & r->bucket_mask];
    while (*p != c) p = &(*p)->next_in_bucket;
    *p = c->next_in_bucket;
}

/* The entry of key, new (a full bucket) or reused from the least recently seen
 * client when the pool is full; made the most recently seen. */
static client *find_or_add(serve_rate_limit *r, const client_key *key, double now) {
    size_t b = key_hash(key) & r->bucket_mask;
    for (client *c = r->buckets[b]; c; c = c->next_in_bucket)
        if (!memcmp(&c->key, key, sizeof *key)) {
            list_unlink(r, c);
            list_push_newest(r, c);
            return c;
        }
    client *c;
    if (r->n_used < r->max_clients) {
        c = &r->pool[r->n_used++];
    } else {
        c = r->oldest;
        list_unlink(r, c);
        bucket_remove(r, c);
    }
    c->key = *key;
    c->tokens = r->burst;
    c->last = now;
    c->next_in_bucket = r->buckets[b];
    r->buckets[b] = c;
    list_push_newest(r, c);
    return c;
}

int serve_rate_limit_allow(serve_rate_limit *r, const struct sockaddr *addr, double now) {
    client_key key = key_of(addr);
    pthread_mutex_lock(&r->lock);
    client *c = find_or_add(r, &key, now);
    if (now > c->last) {
        c->tokens += (now - c->last) * r->rate;
        if (c->tokens > r->burst) c->tokens = r->burst;
        c->last = now;
    }
    int allowed = c->tokens >= 1;
    if (allowed) c->tokens -= 1;
    pthread_mutex_unlock(&r->lock);
    return allowed;
}
