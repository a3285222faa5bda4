/* Server metrics: exact counts and cumulative buckets after known
 * observations, concurrent updates, and text that follows the Prometheus
 * exposition format 0.0.4 line by line. */
#include <ctype.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/metrics.h"

static int failures;
#define CHECK(c)                                                                  \
    do {                                                                          \
        if (!(c)) {                                                               \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #c); \
            failures++;                                                           \
        }                                                                         \
    } while (0)

/* The value of the sample line that starts with `series` followed by a space
 * (e.g. "geoloc_batch_photos_bucket{le=\"4\"}"), NAN when absent. */
static double sample(const char *text, const char *series) {
    size_t n = strlen(series);
    for (const char *line = text; *line;) {
        if (!strncmp(line, series, n) && line[n] == ' ') return strtod(line + n + 1, NULL);
        const char *nl = strchr(line, '\n');
        if (!nl) break;
        line = nl + 1;
    }
    return NAN;
}

static int is_name_start(int c) { return isalpha(c) || c == '_' || c == ':'; }
static int is_name_char(int c) { return isalnum(c) || c == '_' || c == ':'; }

/* Parses a metric name at *p; its length (0: none). */
static size_t parse_name(const char *p) {
    size_t n = 0;
    if (!is_name_start((unsigned char)p[0])) return 0;
    while (is_name_char((unsigned char)p[n])) n++;
    return n;
}

/* 1 when s (to the end of the line) is a valid sample value. */
static int valid_value(const char *s, const char *end) {
    size_t n = (size_t)(end - s);
    if ((n == 4 && (!strncmp(s, "+Inf", 4) || !strncmp(s, "-Inf", 4))) || (n == 3 && !strncmp(s, "NaN", 3)))
        return 1;
    char *stop;
    strtod(s, &stop);
    return n > 0 && stop == end;
}

/* Checks every line of an exposition: comments are "# HELP name text" or
 * "# TYPE name counter|gauge|histogram"; samples are name[{label="value",...}]
 * value, where name is a family declared by a TYPE line before (histograms:
 * with _bucket, _sum or _count, buckets with an le label); returns the number
 * of sample lines, -1 at the first bad line. */
static int check_exposition(const char *text) {
    char families[32][64], types[32][16];
    int n_families = 0, samples = 0;
    const char *line = text;
    if (!*text || text[strlen(text) - 1] != '\n') return -1;
    while (*line) {
        const char *end = strchr(line, '\n');
        if (line[0] == '#') {
            char kind[8], name[64], rest[256];
            if (sscanf(line, "# %7s %63s %255[^\n]", kind, name, rest) != 3 ||
                parse_name(name) != strlen(name))
                goto bad;
            if (!strcmp(kind, "TYPE")) {
                if (strcmp(rest, "counter") && strcmp(rest, "gauge") && strcmp(rest, "histogram")) goto bad;
                for (int i = 0; i < n_families; i++)
                    if (!strcmp(families[i], name)) goto bad; /* declared twice */
                if (n_families == 32) goto bad;
                strcpy(families[n_families], name);
                strcpy(types[n_families++], rest);
            } else if (strcmp(kind, "HELP")) {
                goto bad;
            }
        } else {
            size_t n = parse_name(line);
            if (!n) goto bad;
            int family = -1;
            for (int i = 0; i < n_families; i++) {
                size_t f = strlen(families[i]);
                if (n < f || strncmp(line, families[i], f)) continue;
                const char *suffix = line + f;
                size_t sn = n - f;
                if (!strcmp(types[i], "histogram")
                        ? (sn == 7 && !strncmp(suffix, "_bucket", 7)) || (sn == 4 && !strncmp(suffix, "_sum", 4)) ||
                              (sn == 6 && !strncmp(suffix, "_count", 6))
                        : sn == 0)
                    family = i;
            }
            if (family < 0) goto bad;
            const char *p = line + n;
            int has_le = 0;
            if (*p == '{') {
                p++;
                while (*p != '}') {
                    size_t ln = parse_name(p);
                    if (!ln || p[ln] != '=' || p[ln + 1] != '"') goto bad;
                    if (ln == 2 && !strncmp(p, "le", 2)) has_le = 1;
                    p += ln + 2;
                    while (*p != '"') {
                        if (*p == '\n' || !*p) goto bad;
                        p += *p == '\\' ? 2 : 1;
                    }
                    p++;
                    if (*p == ',') p++;
                    else if (*p != '}') goto bad;
                }
                p++;
            }
            int is_bucket = n > 7 && !strncmp(line + n - 7, "_bucket", 7) && !strcmp(types[family], "histogram");
            if (has_le != is_bucket || *p != ' ' || !valid_value(p + 1, end)) goto bad;
            samples++;
        }
        line = end + 1;
        continue;
    bad:
        fprintf(stderr, "bad exposition line: %.*s\n", (int)(end - line), line);
        return -1;
    }
    return samples;
}

typedef struct {
    serve_metrics *m;
    int rounds;
} worker_arg;

static void *worker(void *p) {
    worker_arg *a = p;
    for (int i = 0; i < a->rounds; i++) {
        serve_metrics_request(a->m, i % 2 ? 200 : 429, 0.02);
        serve_metrics_batch(a->m, 3, 0.5);
    }
    return NULL;
}

int main(void) {
    serve_metrics *m = serve_metrics_create();
    CHECK(m);
    size_t size = 0;
    char *text = serve_metrics_render(m, &size);
    CHECK(text && size == strlen(text));
    CHECK(check_exposition(text) > 0);
    CHECK(sample(text, "geoloc_photos_total") == 0);
    CHECK(sample(text, "geoloc_request_duration_seconds_bucket{le=\"+Inf\"}") == 0);
    free(text);

    /* known observations */
    serve_metrics_request(m, 200, 0.005);  /* bucket 0.01 */
    serve_metrics_request(m, 200, 0.01);   /* le is inclusive: 0.01 */
    serve_metrics_request(m, 400, 0.3);    /* 0.5 */
    serve_metrics_request(m, 200, 2.0);    /* 2.5 */
    serve_metrics_request(m, 503, 100.0);  /* +Inf only */
    serve_metrics_batch(m, 1, 0.25);
    serve_metrics_batch(m, 3, 0.5);
    serve_metrics_batch(m, 64, 1.25);
    text = serve_metrics_render(m, &size);
    CHECK(text);
    printf("%s", text);
    CHECK(check_exposition(text) > 0);
    CHECK(sample(text, "geoloc_requests_total{code=\"200\"}") == 3);
    CHECK(sample(text, "geoloc_requests_total{code=\"400\"}") == 1);
    CHECK(sample(text, "geoloc_requests_total{code=\"503\"}") == 1);
    CHECK(isnan(sample(text, "geoloc_requests_total{code=\"404\"}")));
    CHECK(sample(text, "geoloc_request_duration_seconds_bucket{le=\"0.01\"}") == 2);
    CHECK(sample(text, "geoloc_request_duration_seconds_bucket{le=\"0.25\"}") == 2);
    CHECK(sample(text, "geoloc_request_duration_seconds_bucket{le=\"0.5\"}") == 3);
    CHECK(sample(text, "geoloc_request_duration_seconds_bucket{le=\"2.5\"}") == 4);
    CHECK(sample(text, "geoloc_request_duration_seconds_bucket{le=\"60\"}") == 4);
    CHECK(sample(text, "geoloc_request_duration_seconds_bucket{le=\"+Inf\"}") == 5);
    CHECK(sample(text, "geoloc_request_duration_seconds_count") == 5);
    CHECK(fabs(sample(text, "geoloc_request_duration_seconds_sum") - 102.315) < 1e-9);
    CHECK(sample(text, "geoloc_batch_photos_bucket{le=\"1\"}") == 1);
    CHECK(sample(text, "geoloc_batch_photos_bucket{le=\"2\"}") == 1);
    CHECK(sample(text, "geoloc_batch_photos_bucket{le=\"4\"}") == 2);
    CHECK(sample(text, "geoloc_batch_photos_bucket{le=\"32\"}") == 2);
    CHECK(sample(text, "geoloc_batch_photos_bucket{le=\"64\"}") == 3);
    CHECK(sample(text, "geoloc_batch_photos_bucket{le=\"+Inf\"}") == 3);
    CHECK(sample(text, "geoloc_batch_photos_sum") == 68);
    CHECK(sample(text, "geoloc_batch_photos_count") == 3);
    CHECK(sample(text, "geoloc_photos_total") == 68);
    CHECK(sample(text, "geoloc_network_seconds_total") == 2.0);
    CHECK(sample(text, "geoloc_photos_per_second") == 6.8); /* 68 photos in the 10 s window */
    CHECK(strstr(text, "# TYPE geoloc_photos_per_second gauge\n"));
    CHECK(strstr(text, "# HELP geoloc_requests_total "));
    free(text);

    /* the checker itself refuses what the format forbids */
    CHECK(check_exposition("# TYPE x counter\nx 1\n") == 1);
    CHECK(check_exposition("x 1\n") < 0);                           /* no TYPE */
    CHECK(check_exposition("# TYPE x counter\nx{a=1} 1\n") < 0);    /* unquoted label */
    CHECK(check_exposition("# TYPE x counter\nx one\n") < 0);       /* bad value */
    CHECK(check_exposition("# TYPE h histogram\nh_bucket 1\n") < 0); /* bucket without le */

    /* concurrent updates sum exactly */
    serve_metrics *c = serve_metrics_create();
    enum { THREADS = 4, ROUNDS = 20000 };
    pthread_t t[THREADS];
    worker_arg a = {c, ROUNDS};
    for (int i = 0; i < THREADS; i++) CHECK(!pthread_create(&t[i], NULL, worker, &a));
    for (int i = 0; i < THREADS; i++) pthread_join(t[i], NULL);
    text = serve_metrics_render(c, &size);
    CHECK(text && check_exposition(text) > 0);
    CHECK(sample(text, "geoloc_requests_total{code=\"200\"}") == THREADS * ROUNDS / 2);
    CHECK(sample(text, "geoloc_requests_total{code=\"429\"}") == THREADS * ROUNDS / 2);
    CHECK(sample(text, "geoloc_request_duration_seconds_count") == THREADS * ROUNDS);
    CHECK(sample(text, "geoloc_request_duration_seconds_bucket{le=\"0.025\"}") == THREADS * ROUNDS);
    CHECK(sample(text, "geoloc_request_duration_seconds_bucket{le=\"0.01\"}") == 0);
    CHECK(sample(text, "geoloc_batch_photos_bucket{le=\"2\"}") == 0);
    CHECK(sample(text, "geoloc_batch_photos_bucket{le=\"4\"}") == THREADS * ROUNDS);
    CHECK(sample(text, "geoloc_photos_total") == 3.0 * THREADS * ROUNDS);
    CHECK(sample(text, "geoloc_network_seconds_total") == 0.5 * THREADS * ROUNDS);
    free(text);
    serve_metrics_free(c);
    serve_metrics_free(m);
    serve_metrics_free(NULL);
    if (failures) fprintf(stderr, "%d check(s) failed\n", failures);
    return failures ? 1 : 0;
}
