/* Per-client rate limit: a burst then refusal, refill over time, clients
 * independent (IPv4, IPv6, IPv4-mapped IPv6), the table bound (the least
 * recently seen client forgotten first), and concurrent use. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "server/rate_limit.h"

static int failures;
#define CHECK(c)                                                                  \
    do {                                                                          \
        if (!(c)) {                                                               \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #c); \
            failures++;                                                           \
        }                                                                         \
    } while (0)

static struct sockaddr_in v4(const char *text) {
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons(1234);
    inet_pton(AF_INET, text, &a.sin_addr);
    return a;
}

static struct sockaddr_in6 v6(const char *text) {
    struct sockaddr_in6 a;
    memset(&a, 0, sizeof a);
    a.sin6_family = AF_INET6;
    inet_pton(AF_INET6, text, &a.sin6_addr);
    return a;
}

#define SA(x) ((const struct sockaddr *)&(x))

/* Requests allowed in a row at time now (stops at the first refusal, at most limit). */
static int allowed_in_a_row(serve_rate_limit *r, const struct sockaddr *a, double now, int limit) {
    int n = 0;
    while (n < limit && serve_rate_limit_allow(r, a, now)) n++;
    return n;
}

typedef struct {
    serve_rate_limit *r;
    int id;
    int allowed;
} worker_arg;

static void *worker(void *p) {
    worker_arg *w = p;
    char text[32];
    snprintf(text, sizeof text, "10.0.0.%d", w->id);
    struct sockaddr_in a = v4(text), shared = v4("192.168.1.1");
    for (int i = 0; i < 1000; i++) {
        w->allowed += serve_rate_limit_allow(w->r, SA(shared), 5.0);
        serve_rate_limit_allow(w->r, SA(a), 5.0 + i * 0.001);
    }
    return NULL;
}

int main(void) {
    CHECK(!serve_rate_limit_create(0, 5, 10));
    CHECK(!serve_rate_limit_create(1, 0.5, 10));

    /* burst then refusal; refill at rate */
    serve_rate_limit *r = serve_rate_limit_create(2.0, 5.0, 100);
    CHECK(r);
    struct sockaddr_in a = v4("203.0.113.7"), a_other_port = v4("203.0.113.7"), b = v4("203.0.113.8");
    a_other_port.sin_port = htons(999);
    CHECK(allowed_in_a_row(r, SA(a), 100.0, 50) == 5);
    CHECK(!serve_rate_limit_allow(r, SA(a_other_port), 100.0)); /* same address, other port */
    CHECK(!serve_rate_limit_allow(r, SA(a), 100.4));            /* 0.8 token */
    CHECK(serve_rate_limit_allow(r, SA(a), 100.5));             /* 1 token after 0.5 s at 2/s */
    CHECK(!serve_rate_limit_allow(r, SA(a), 100.5));
    CHECK(allowed_in_a_row(r, SA(a), 102.0, 50) == 3);          /* 1.5 s: 3 tokens */
    CHECK(allowed_in_a_row(r, SA(a), 1000.0, 50) == 5);         /* refill capped at the burst */
    CHECK(!serve_rate_limit_allow(r, SA(a), 999.0));            /* a clock going back adds nothing */

    /* clients are independent; IPv4-mapped IPv6 is the IPv4 client */
    CHECK(allowed_in_a_row(r, SA(b), 1000.0, 50) == 5);
    struct sockaddr_in6 c6 = v6("2001:db8::1"), d6 = v6("2001:db8::2"), mapped = v6("::ffff:203.0.113.9");
    struct sockaddr_in plain9 = v4("203.0.113.9");
    CHECK(allowed_in_a_row(r, SA(c6), 1000.0, 50) == 5);
    CHECK(allowed_in_a_row(r, SA(d6), 1000.0, 50) == 5);
    CHECK(allowed_in_a_row(r, SA(mapped), 1000.0, 50) == 5);
    CHECK(!serve_rate_limit_allow(r, SA(plain9), 1000.0));
    serve_rate_limit_free(r);

    /* the table holds max_clients: the least recently seen is forgotten (and
     * gets a full bucket again), the others keep their state */
    r = serve_rate_limit_create(0.001, 2.0, 3);
    struct sockaddr_in c[4] = {v4("10.1.0.1"), v4("10.1.0.2"), v4("10.1.0.3"), v4("10.1.0.4")};
    for (int i = 0; i < 3; i++) CHECK(allowed_in_a_row(r, SA(c[i]), 0.0, 10) == 2);
    CHECK(!serve_rate_limit_allow(r, SA(c[0]), 0.0)); /* c0 seen again: c1 is now the oldest */
    CHECK(allowed_in_a_row(r, SA(c[3]), 0.0, 10) == 2); /* forgets c1 */
    CHECK(!serve_rate_limit_allow(r, SA(c[0]), 0.0));   /* remembered */
    CHECK(!serve_rate_limit_allow(r, SA(c[2]), 0.0));   /* remembered */
    CHECK(!serve_rate_limit_allow(r, SA(c[3]), 0.0));   /* remembered */
    CHECK(allowed_in_a_row(r, SA(c[1]), 0.0, 10) == 2); /* forgotten: new bucket (forgets c0) */
    CHECK(allowed_in_a_row(r, SA(c[0]), 0.0, 10) == 2); /* forgotten in turn */
    serve_rate_limit_free(r);

    /* many clients through a small table: never more than its bound, lookups stay right */
    r = serve_rate_limit_create(0.001, 1.0, 64);
    for (int round = 0; round < 2; round++)
        for (int i = 0; i < 1000; i++) {
            char text[32];
            snprintf(text, sizeof text, "10.2.%d.%d", i / 256, i % 256);
            struct sockaddr_in x = v4(text);
            /* round 0: each new client gets its token; round 1: all forgotten again */
            CHECK(serve_rate_limit_allow(r, SA(x), 0.0));
            CHECK(!serve_rate_limit_allow(r, SA(x), 0.0));
        }
    serve_rate_limit_free(r);

    /* threads: a shared client gets exactly its burst, whatever the interleaving */
    r = serve_rate_limit_create(1e-9, 100.0, 8);
    enum { THREADS = 4 };
    pthread_t t[THREADS];
    worker_arg w[THREADS];
    for (int i = 0; i < THREADS; i++) {
        w[i] = (worker_arg){r, i + 1, 0};
        CHECK(!pthread_create(&t[i], NULL, worker, &w[i]));
    }
    int total = 0;
    for (int i = 0; i < THREADS; i++) {
        pthread_join(t[i], NULL);
        total += w[i].allowed;
    }
    CHECK(total == 100);
    serve_rate_limit_free(r);
    serve_rate_limit_free(NULL);
    if (failures) fprintf(stderr, "%d check(s) failed\n", failures);
    return failures ? 1 : 0;
}
