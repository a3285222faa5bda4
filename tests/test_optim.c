/* SGD and learning-rate schedules against PyTorch 1.13 (tests/data/optim_ref.bin
 * and optim_ref.csv, written by tools/gen_optim_ref.py), the schedule parser,
 * gradient accumulation with grad_scale, checkpoint/resume, frozen groups.
 *
 * Tolerances (errors of a parameter or momentum tensor are norm-wise: the largest
 * |ours - torch| in units of FLT_EPSILON * the tensor's largest magnitude, "eps"):
 *  - SGD with fused multiply-adds (what torch's AVX2 kernels do, the default on
 *    FMA machines): bit-exact, 0, for every weight and momentum value.
 *  - SGD with twice-rounded multiply-adds: <= SGD_TOL_EPS eps (measured 1.05
 *    after 5 steps); element-wise errors are larger where a + b * c cancels.
 *  - accumulating k micro-batches with grad_scale 1/k vs one step with the
 *    mean: bit-exact for k = 2, 4 (1/k exact), <= 1 eps for k = 3.
 *  - schedules: relative difference <= 1e-12 from torch's recursive schedulers
 *    (measured 4.7e-15 over 40 steps). */
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "geoloc/optim.h"
#include "test_util.h"

#define SGD_TOL_EPS 4.0
#define LR_TOL_REL 1e-12

/* ---- reading the reference file ------------------------------------------ */

typedef struct reader {
    const unsigned char *p, *end;
    int bad;
} reader;

/* n bytes from the file, or NULL (and r->bad) past its end. */
static const unsigned char *take(reader *r, size_t n) {
    if (r->bad || (size_t)(r->end - r->p) < n) {
        r->bad = 1;
        return NULL;
    }
    const unsigned char *q = r->p;
    r->p += n;
    return q;
}

static uint64_t le(const unsigned char *q, int n) {
    uint64_t v = 0;
    for (int k = n - 1; k >= 0; k--) v = v << 8 | q[k];
    return v;
}

static uint32_t get_u32(reader *r) {
    const unsigned char *q = take(r, 4);
    return q ? (uint32_t)le(q, 4) : 0;
}

static double get_f64(reader *r) {
    const unsigned char *q = take(r, 8);
    uint64_t v = q ? le(q, 8) : 0;
    double d;
    memcpy(&d, &v, 8);
    return d;
}

static void get_f32s(reader *r, float *out, size_t n) {
    for (size_t k = 0; k < n; k++) {
        const unsigned char *q = take(r, 4);
        uint32_t v = q ? (uint32_t)le(q, 4) : 0;
        memcpy(&out[k], &v, 4);
    }
}

/* Largest |ours - ref| over n values, in units of FLT_EPSILON times the largest
 * magnitude of ref and before (NULL: ref only): a norm-wise error, as the
 * rounding of a + b * c is relative to its operands, not to a result that
 * cancels. 0 means bit-exact. */
static double block_error(const float *ours, const float *ref, const float *before, size_t n) {
    double diff = 0, mag = 0;
    for (size_t i = 0; i < n; i++) {
        if (ours[i] != ref[i]) diff = fmax(diff, fabs((double)ours[i] - (double)ref[i]));
        if (isnan(ours[i]) != isnan(ref[i])) diff = INFINITY;
        mag = fmax(mag, fabs((double)ref[i]));
        if (before) mag = fmax(mag, fabs((double)before[i]));
    }
    if (diff == 0) return 0;
    return diff / (FLT_EPSILON * fmax(mag, FLT_MIN));
}

#define MAX_PARAMS 4
#define MAX_STEPS 8

/* The reference's inputs. */
typedef struct sgd_ref {
    uint32_t n_params, n_steps, n_configs;
    size_t size[MAX_PARAMS], offset[MAX_PARAMS], total;
    float *w0, *grads; /* grads: n_steps * total */
    double lr[MAX_STEPS];
} sgd_ref;

/* Replays one configuration with fused or twice-rounded multiply-adds; returns the
 * largest block_error of a parameter or momentum buffer (0: bit-exact) and checks
 * the started flags. */
static double replay_config(reader *r, const sgd_ref *ref, int config, int fused) {
    geoloc_sgd_config cfg;
    cfg.momentum = get_f64(r);
    cfg.dampening = get_f64(r);
    cfg.weight_decay = get_f64(r);
    cfg.nesterov = (int)get_u32(r);
    double lr_scale[MAX_PARAMS], wd[MAX_PARAMS];
    for (uint32_t k = 0; k < ref->n_params; k++) {
        lr_scale[k] = get_f64(r);
        wd[k] = get_f64(r);
    }
    float scale[MAX_STEPS];
    get_f32s(r, scale, ref->n_steps);
    uint32_t frozen[MAX_STEPS][MAX_PARAMS];
    for (uint32_t t = 0; t < ref->n_steps; t++)
        for (uint32_t k = 0; k < ref->n_params; k++) frozen[t][k] = get_u32(r);
    if (r->bad) return INFINITY;

    float *w = malloc(ref->total * sizeof *w), *grad = malloc(ref->total * sizeof *grad);
    float *want = malloc(ref->total * sizeof *want), *before = malloc(ref->total * sizeof *before);
    memcpy(w, ref->w0, ref->total * sizeof *w);
    geoloc_sgd *opt = NULL;
    geoloc_error err = {0};
    CHECK(geoloc_sgd_create(&cfg, &opt, &err) == GEOLOC_OK, "config %d: %s", config, err.message);
    geoloc_sgd_set_fused(opt, fused);
    CHECK(geoloc_sgd_fused(opt) == fused, "config %d", config);
    for (uint32_t k = 0; k < ref->n_params; k++) {
        size_t index = 99;
        size_t o = ref->offset[k];
        CHECK(geoloc_sgd_add(opt, w + o, grad + o, ref->size[k], (int)k, &index, &err) == GEOLOC_OK &&
                  index == k,
              "config %d: %s", config, err.message);
    }
    double worst = 0;
    for (uint32_t t = 0; t < ref->n_steps; t++) {
        for (uint32_t k = 0; k < ref->n_params; k++)
            CHECK(geoloc_sgd_set_group(opt, (int)k, lr_scale[k], wd[k] < 0 ? GEOLOC_SGD_INHERIT : wd[k],
                                       (int)frozen[t][k], &err) == GEOLOC_OK,
                  "config %d: %s", config, err.message);
        memcpy(grad, ref->grads + t * ref->total, ref->total * sizeof *grad);
        memcpy(before, w, ref->total * sizeof *w);
        geoloc_sgd_step(opt, ref->lr[t], scale[t]);
        get_f32s(r, want, ref->total);
        for (uint32_t k = 0; k < ref->n_params; k++) {
            size_t o = ref->offset[k];
            worst = fmax(worst, block_error(w + o, want + o, before + o, ref->size[k]));
        }
        if (cfg.momentum != 0) {
            get_f32s(r, want, ref->total);
            for (uint32_t k = 0; k < ref->n_params; k++) {
                uint32_t started = get_u32(r);
                if (r->bad) break;
                CHECK(geoloc_sgd_momentum_started(opt, k) == (int)started, "config %d step %u param %u",
                      config, t, k);
                const float *buf = geoloc_sgd_momentum(opt, k);
                CHECK(buf != NULL, "config %d param %u: no momentum buffer", config, k);
                if (buf && started)
                    worst = fmax(worst, block_error(buf, want + ref->offset[k], NULL, ref->size[k]));
            }
        } else {
            CHECK(geoloc_sgd_momentum(opt, 0) == NULL, "config %d: a buffer without momentum", config);
        }
    }
    CHECK(geoloc_sgd_step_count(opt) == (int64_t)ref->n_steps, "config %d", config);
    geoloc_sgd_free(opt);
    free(w);
    free(grad);
    free(want);
    free(before);
    return r->bad ? INFINITY : worst;
}

/* Replays every configuration of optim_ref.bin, fused and not. */
static void test_sgd_reference(const char *data_dir) {
    char path[1024];
    snprintf(path, sizeof path, "%s/optim_ref.bin", data_dir);
    size_t size;
    unsigned char *file = test_read_file(path, &size);
    CHECK(file != NULL, "cannot read %s", path);
    if (!file) return;
    for (int fused = 1; fused >= 0; fused--) {
        reader r = {file, file + size, 0};
        const unsigned char *magic = take(&r, 8);
        CHECK(magic && memcmp(magic, "GLOPTRF1", 8) == 0, "%s: not a reference file", path);
        sgd_ref ref = {0};
        ref.n_params = get_u32(&r);
        ref.n_steps = get_u32(&r);
        ref.n_configs = get_u32(&r);
        int shape_ok = !r.bad && ref.n_params >= 1 && ref.n_params <= MAX_PARAMS && ref.n_steps >= 1 &&
                       ref.n_steps <= MAX_STEPS;
        CHECK(shape_ok, "%s: %u params, %u steps", path, ref.n_params, ref.n_steps);
        if (!shape_ok) break;
        for (uint32_t k = 0; k < ref.n_params; k++) {
            ref.size[k] = get_u32(&r);
            ref.offset[k] = ref.total;
            ref.total += ref.size[k];
        }
        ref.w0 = malloc(ref.total * sizeof(float));
        ref.grads = malloc(ref.n_steps * ref.total * sizeof(float));
        get_f32s(&r, ref.w0, ref.total);
        get_f32s(&r, ref.grads, ref.n_steps * ref.total);
        for (uint32_t t = 0; t < ref.n_steps; t++) ref.lr[t] = get_f64(&r);
        double worst = 0;
        for (uint32_t c = 0; c < ref.n_configs && !r.bad; c++) {
            double e = replay_config(&r, &ref, (int)c, fused);
            if (fused) CHECK(e == 0, "config %u: fused SGD differs from torch by %.3g eps", c, e);
            else CHECK(e <= SGD_TOL_EPS, "config %u: unfused SGD differs from torch by %.3g eps", c, e);
            if (e > worst) worst = e;
        }
        CHECK(!r.bad && r.p == r.end, "%s: truncated or trailing bytes", path);
        printf("SGD vs torch (%u configs x %u steps, %zu floats): %s multiply-adds: "
               "max error %.3g eps\n",
               ref.n_configs, ref.n_steps, ref.total, fused ? "fused" : "twice-rounded", worst);
        free(ref.w0);
        free(ref.grads);
    }
    free(file);
}

/* ---- SGD semantics --------------------------------------------------------- */

/* A small pseudo-random float in [-1, 1) (xorshift). */
static float rnd(uint64_t *s) {
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return (float)((double)(*s >> 40) / (double)(1 << 23) - 1.0);
}

/* k micro-batches accumulated and stepped with grad_scale 1/k equal one step with the mean. */
static void test_grad_scale(void) {
    enum { N = 1003 };
    for (int k = 2; k <= 4; k++) {
        static float w_acc[N], w_mean[N], acc[N], mean[N];
        uint64_t s = 7;
        for (int i = 0; i < N; i++) w_acc[i] = w_mean[i] = rnd(&s);
        geoloc_sgd_config cfg = {0.9, 0, 1e-4, 1};
        geoloc_sgd *a = NULL, *b = NULL;
        CHECK(geoloc_sgd_create(&cfg, &a, NULL) == GEOLOC_OK, "create");
        CHECK(geoloc_sgd_create(&cfg, &b, NULL) == GEOLOC_OK, "create");
        geoloc_sgd_add(a, w_acc, acc, N, 0, NULL, NULL);
        geoloc_sgd_add(b, w_mean, mean, N, 0, NULL, NULL);
        double worst = 0;
        for (int step = 0; step < 3; step++) {
            for (int i = 0; i < N; i++) acc[i] = 0;
            for (int m = 0; m < k; m++)
                for (int i = 0; i < N; i++) acc[i] += rnd(&s);
            for (int i = 0; i < N; i++) mean[i] = acc[i] / (float)k;
            geoloc_sgd_step(a, 0.05, 1.0f / (float)k);
            geoloc_sgd_step(b, 0.05, 1.0f);
            worst = fmax(worst, block_error(w_acc, w_mean, NULL, N));
        }
        /* k = 2, 4: 1/k is exact, so sum * (1/k) == sum / k to the bit; k = 3: the
         * two gradients differ by an ulp here and there, which reaches the weights
         * scaled by lr */
        if (k == 3) CHECK(worst <= 1, "k = %d: accumulated and mean differ by %.3g eps", k, worst);
        else CHECK(worst == 0, "k = %d: accumulated and mean differ by %.3g eps", k, worst);
        printf("grad_scale 1/%d vs the mean gradient: max error %.3g eps\n", k, worst);
        geoloc_sgd_free(a);
        geoloc_sgd_free(b);
    }
}

/* The step runs large parameters in pieces on several threads: one parameter of
 * 3.2 M floats gives the same weights and momentum, to the bit, as the same values
 * in parameters of 1000 floats; a frozen group's parameter is left alone. */
static void test_pieces(void) {
    enum { N = 3 * (1 << 20) + 7, PART = 1000 };
    float *w = malloc(N * sizeof *w), *g = malloc(N * sizeof *g), *w2 = malloc(N * sizeof *w2);
    float frozen[PART], frozen_grad[PART];
    geoloc_sgd_config cfg = {0.9, 0, 1e-4, 0};
    geoloc_sgd *one = NULL, *parts = NULL;
    CHECK(w && g && w2, "out of memory");
    if (!w || !g || !w2) goto done;
    uint64_t s = 11;
    for (size_t i = 0; i < N; i++) w[i] = w2[i] = rnd(&s), g[i] = rnd(&s);
    for (int i = 0; i < PART; i++) frozen[i] = 1.0f, frozen_grad[i] = 1.0f;
    CHECK(geoloc_sgd_create(&cfg, &one, NULL) == GEOLOC_OK && geoloc_sgd_create(&cfg, &parts, NULL) == GEOLOC_OK,
          "create");
    geoloc_sgd_add(one, w, g, N, 0, NULL, NULL);
    geoloc_sgd_add(one, frozen, frozen_grad, PART, 1, NULL, NULL);
    geoloc_sgd_set_group(one, 1, 1.0, GEOLOC_SGD_INHERIT, 1, NULL);
    for (size_t at = 0; at < N; at += PART)
        geoloc_sgd_add(parts, w2 + at, g + at, N - at < PART ? N - at : PART, 0, NULL, NULL);
    for (int step = 0; step < 3; step++) {
        geoloc_sgd_step(one, 0.05, 1.0f);
        geoloc_sgd_step(parts, 0.05, 1.0f);
    }
    size_t diff = 0, moved = 0;
    for (size_t i = 0; i < N; i++) diff += memcmp(&w[i], &w2[i], sizeof *w) != 0;
    const float *m1 = geoloc_sgd_momentum(one, 0);
    for (size_t at = 0, p = 0; at < N; at += PART, p++)
        diff += memcmp(m1 + at, geoloc_sgd_momentum(parts, p), (N - at < PART ? N - at : PART) * sizeof *m1) != 0;
    for (int i = 0; i < PART; i++) moved += frozen[i] != 1.0f;
    CHECK(diff == 0, "%zu weights or momentum blocks differ between one parameter and its pieces", diff);
    CHECK(moved == 0 && !geoloc_sgd_momentum_started(one, 1), "a frozen parameter moved (%zu)", moved);
done:
    geoloc_sgd_free(one);
    geoloc_sgd_free(parts);
    free(w);
    free(g);
    free(w2);
}

/* Stopping after 3 steps, restoring buffers, started flags and the count in a new
 * optimizer and going on gives the same weights as 6 steps in one go. */
static void test_checkpoint(void) {
    enum { N = 37, M = 5 };
    float w1[N], w2[N], g[N], v1[M], v2[M], h[M];
    uint64_t s = 11;
    for (int i = 0; i < N; i++) w1[i] = w2[i] = rnd(&s);
    for (int i = 0; i < M; i++) v1[i] = v2[i] = rnd(&s);
    geoloc_sgd_config cfg = {0.9, 0.1, 1e-4, 0};
    geoloc_sgd *a = NULL, *b = NULL, *c = NULL;
    geoloc_sgd_create(&cfg, &a, NULL);
    geoloc_sgd_create(&cfg, &b, NULL);
    geoloc_sgd_add(a, w1, g, N, 0, NULL, NULL);
    geoloc_sgd_add(a, v1, h, M, 1, NULL, NULL);
    geoloc_sgd_add(b, w2, g, N, 0, NULL, NULL);
    geoloc_sgd_add(b, v2, h, M, 1, NULL, NULL);
    geoloc_sgd_set_group(a, 1, 1, GEOLOC_SGD_INHERIT, 1, NULL); /* v frozen for the first steps */
    geoloc_sgd_set_group(b, 1, 1, GEOLOC_SGD_INHERIT, 1, NULL);
    for (int step = 0; step < 6; step++) {
        if (step == 2) {
            geoloc_sgd_set_group(a, 1, 0.5, 0, 0, NULL);
            geoloc_sgd_set_group(b, 1, 0.5, 0, 0, NULL);
        }
        if (step == 3) { /* checkpoint b, resume it as c */
            geoloc_sgd_create(&cfg, &c, NULL);
            geoloc_sgd_add(c, w2, g, N, 0, NULL, NULL);
            geoloc_sgd_add(c, v2, h, M, 1, NULL, NULL);
            geoloc_sgd_set_group(c, 1, 0.5, 0, 0, NULL);
            for (size_t i = 0; i < 2; i++) {
                CHECK(geoloc_sgd_param_size(c, i) == geoloc_sgd_param_size(b, i), "size %zu", i);
                size_t bytes = geoloc_sgd_param_size(b, i) * sizeof(float);
                memcpy(geoloc_sgd_momentum(c, i), geoloc_sgd_momentum(b, i), bytes);
                int started = geoloc_sgd_momentum_started(b, i);
                CHECK(geoloc_sgd_set_momentum_started(c, i, started, NULL) == GEOLOC_OK,
                      "started %zu", i);
            }
            geoloc_sgd_set_step_count(c, geoloc_sgd_step_count(b));
            geoloc_sgd_free(b);
            b = c;
        }
        for (int i = 0; i < N; i++) g[i] = rnd(&s);
        for (int i = 0; i < M; i++) h[i] = rnd(&s);
        if (step < 2) {
            float v_before = v1[0];
            geoloc_sgd_step(a, 0.1 / (step + 1), 1.0f);
            CHECK(v1[0] == v_before && !geoloc_sgd_momentum_started(a, 1), "frozen parameter changed");
        } else {
            geoloc_sgd_step(a, 0.1 / (step + 1), 1.0f);
        }
        geoloc_sgd_step(b, 0.1 / (step + 1), 1.0f);
    }
    CHECK(memcmp(w1, w2, sizeof w1) == 0 && memcmp(v1, v2, sizeof v1) == 0, "resumed run differs");
    CHECK(geoloc_sgd_step_count(b) == 6, "step count %lld", (long long)geoloc_sgd_step_count(b));
    CHECK(geoloc_sgd_param_count(b) == 2 && geoloc_sgd_param_size(b, 2) == 0, "counts");
    geoloc_sgd_free(a);
    geoloc_sgd_free(b);
}

/* Argument checks, plain SGD by hand, no momentum buffers without momentum. */
static void test_sgd_api(void) {
    geoloc_sgd *opt = NULL;
    geoloc_error err = {0};
    geoloc_sgd_config nest = {0.9, 0.1, 0, 1};
    CHECK(geoloc_sgd_create(&nest, &opt, &err) == GEOLOC_E_ARG && !opt, "%s", err.message);
    CHECK(strstr(err.message, "Nesterov") != NULL, "%s", err.message);
    geoloc_sgd_config neg = {-0.5, 0, 0, 0};
    CHECK(geoloc_sgd_create(&neg, &opt, &err) == GEOLOC_E_RANGE && strstr(err.message, "momentum"), "%s",
          err.message);
    geoloc_sgd_config nan_wd = {0, 0, NAN, 0};
    CHECK(geoloc_sgd_create(&nan_wd, &opt, &err) == GEOLOC_E_RANGE, "%s", err.message);
    CHECK(geoloc_sgd_create(NULL, &opt, &err) == GEOLOC_OK, "%s", err.message);
    float w[3] = {1, 2, 3}, g[3] = {0.5f, -1, 2};
    CHECK(geoloc_sgd_add(opt, w, g, 3, GEOLOC_SGD_MAX_GROUPS, NULL, &err) == GEOLOC_E_RANGE, "group");
    CHECK(geoloc_sgd_add(opt, w, NULL, 3, 0, NULL, &err) == GEOLOC_E_ARG, "no gradient");
    CHECK(strstr(err.message, "gradient") != NULL, "%s", err.message);
    CHECK(geoloc_sgd_set_group(opt, -1, 1, 0, 0, &err) == GEOLOC_E_RANGE, "group -1");
    CHECK(geoloc_sgd_set_group(opt, 0, -1, 0, 0, &err) == GEOLOC_E_RANGE, "lr scale");
    CHECK(geoloc_sgd_set_group(opt, 0, 1, -0.5, 0, &err) == GEOLOC_E_RANGE, "weight decay");
    CHECK(geoloc_sgd_add(opt, NULL, NULL, 0, 3, NULL, &err) == GEOLOC_OK, "empty parameter");
    CHECK(geoloc_sgd_add(opt, w, g, 3, 0, NULL, &err) == GEOLOC_OK, "%s", err.message);
    geoloc_sgd_step(opt, 0.5, 2.0f); /* w -= 0.5 * 2 * g */
    CHECK(w[0] == 0.5f && w[1] == 3 && w[2] == 1, "%g %g %g", w[0], w[1], w[2]);
    CHECK(geoloc_sgd_momentum(opt, 1) == NULL && !geoloc_sgd_momentum_started(opt, 1), "no momentum");
    CHECK(geoloc_sgd_set_momentum_started(opt, 1, 1, &err) == GEOLOC_E_ARG, "started without momentum");
    CHECK(geoloc_sgd_set_momentum_started(opt, 2, 0, &err) == GEOLOC_E_RANGE, "index");
    geoloc_sgd_free(opt);
    geoloc_sgd_free(NULL);
}

/* ---- schedules ------------------------------------------------------------- */

/* Every schedule of optim_ref.csv at t = 0..39 against torch's recursive schedulers. */
static void test_schedule_reference(const char *data_dir) {
    char path[1024];
    snprintf(path, sizeof path, "%s/optim_ref.csv", data_dir);
    size_t size;
    char *text = test_read_text(path, &size);
    CHECK(text != NULL, "cannot read %s", path);
    if (!text) return;
    int rows = 0;
    double worst = 0;
    char *line = strchr(text, '\n'); /* skip the header */
    while (line && *++line) {
        char *next = strchr(line, '\n');
        if (next) *next = '\0';
        char sched[256];
        double base, want;
        long t;
        int used = 0;
        if (sscanf(line, "%255[^,],%lf,%ld,%lf%n", sched, &base, &t, &want, &used) != 4 || line[used]) {
            CHECK(0, "%s: bad row \"%s\"", path, line);
            break;
        }
        for (char *c = sched; *c; c++)
            if (*c == ';') *c = ',';
        geoloc_lr_schedule s;
        geoloc_error err = {0};
        if (geoloc_lr_schedule_parse(sched, base, "--lr-schedule", &s, &err) != GEOLOC_OK) {
            CHECK(0, "%s", err.message);
        } else {
            double got = geoloc_lr_at(&s, t);
            double rel = got == want ? 0 : fabs(got - want) / fmax(fabs(want), fabs(got));
            CHECK(rel <= LR_TOL_REL, "%s at t = %ld: %.17g, torch %.17g", sched, t, got, want);
            if (rel > worst) worst = rel;
        }
        rows++;
        line = next;
    }
    CHECK(rows >= 400, "%s: %d rows", path, rows);
    printf("schedules vs torch (%d rows): max relative difference %.3g\n", rows, worst);
    free(text);
}

/* Parses text with base lr 0.01; checks the result or the message. */
static void expect_parse(const char *text, const char *fragment, int line) {
    geoloc_lr_schedule s;
    geoloc_error err = {0};
    geoloc_status st = geoloc_lr_schedule_parse(text, 0.01, "--lr-schedule", &s, &err);
    if (!fragment) {
        CHECK(st == GEOLOC_OK, "line %d: \"%s\": %s", line, text, err.message);
        if (st != GEOLOC_OK) return;
        char buf[256], buf2[256];
        geoloc_lr_schedule back;
        size_t n = geoloc_lr_schedule_format(&s, buf, sizeof buf);
        CHECK(n == strlen(buf) && geoloc_lr_schedule_parse(buf, 0.01, NULL, &back, &err) == GEOLOC_OK,
              "line %d: \"%s\" formats as \"%s\": %s", line, text, buf, err.message);
        geoloc_lr_schedule_format(&back, buf2, sizeof buf2);
        CHECK(strcmp(buf, buf2) == 0, "line %d: \"%s\" then \"%s\"", line, buf, buf2);
        for (long t = 0; t < 50; t++)
            CHECK(geoloc_lr_at(&s, t) == geoloc_lr_at(&back, t), "line %d: \"%s\" at %ld", line, buf, t);
        CHECK(geoloc_lr_schedule_check(&s, &err) == GEOLOC_OK, "line %d: %s", line, err.message);
    } else {
        CHECK(st != GEOLOC_OK, "line %d: \"%s\" accepted", line, text);
        CHECK(strstr(err.message, fragment) != NULL, "line %d: message \"%s\" lacks \"%s\"", line,
              err.message, fragment);
        CHECK(strncmp(err.message, "--lr-schedule: \"", 16) == 0, "line %d: message \"%s\"", line,
              err.message);
    }
}
#define GOOD(text) expect_parse(text, NULL, __LINE__)
#define BAD(text, fragment) expect_parse(text, fragment, __LINE__)

static void test_parser(void) {
    GOOD("constant");
    GOOD("step:5:0.5");
    GOOD("step:5");
    GOOD("multistep:30,60,90:0.1");
    GOOD("multistep:30");
    GOOD("exp:0.95");
    GOOD("cosine:100");
    GOOD("cosine:100:1e-5");
    GOOD("cosine:100:1e+0+warmup:100");
    GOOD("step:5:0.5+warmup:3");
    GOOD("exp:1.5+warmup:2:1");
    GOOD("constant+warmup:10:0.001");
    GOOD("cosine:100:1e-5+warmup:5:0.01");
    BAD("step:x", "--lr-schedule: \"step:x\": step size \"x\" is not a positive integer");
    BAD("", "empty schedule");
    BAD("linear:5", "unknown schedule \"linear\"");
    BAD("Step:5", "unknown schedule \"Step\"");
    BAD("step", "\"step\" needs its parameters (step:N[:GAMMA])");
    BAD("step:0:0.5", "step size \"0\" is not a positive integer");
    BAD("step:-5:0.5", "step size \"-5\" is not a positive integer");
    BAD("step:5.5", "step size \"5.5\" is not a positive integer");
    BAD("step:5:0", "gamma \"0\" must be > 0");
    BAD("step:5:abc", "gamma \"abc\" is not a number");
    BAD("step:5: 0.5", "gamma \" 0.5\" is not a number");
    BAD("step:5:0.5:1", "too many parameters for \"step\"");
    BAD("step:5:inf", "gamma \"inf\" is not a number");
    BAD("exp", "needs its parameters (exp:GAMMA)");
    BAD("exp:0.9:2", "too many parameters for \"exp\" (exp:GAMMA)");
    BAD("exp:nan", "gamma \"nan\" is not a number");
    BAD("constant:1", "too many parameters for \"constant\"");
    BAD("multistep:30,x:0.1", "milestone \"x\" is not a positive integer");
    BAD("multistep:30,,60", "milestone \"\" is not a positive integer");
    BAD("multistep:60,30:0.1", "milestones must increase: 30 after 60");
    BAD("multistep:30,30", "milestones must increase: 30 after 30");
    BAD("cosine:0", "T_max \"0\" is not a positive integer");
    BAD("cosine:100:-1e-5", "eta_min \"-1e-5\" must be >= 0");
    BAD("cosine:10+warmup:11", "warm-up of 11 steps longer than the cosine's T_max 10");
    BAD("step:5+warmup", "\"+warmup\" is not +warmup:W[:START_FACTOR]");
    BAD("step:5+warmup:0", "warm-up steps \"0\" is not a positive integer");
    BAD("step:5+warmup:3:0", "warm-up start factor \"0\" must be in (0, 1]");
    BAD("step:5+warmup:3:1.5", "warm-up start factor \"1.5\" must be in (0, 1]");
    BAD("step:5+warmup:3:x", "warm-up start factor \"x\" is not a number");
    BAD("step:5+warmup:3:0.1:2", "is not +warmup:W[:START_FACTOR]");
    BAD("step:5+cool:3", "unknown suffix \"+cool:3\"");
    BAD("step:5+warmup:3+warmup:2", "more than one +suffix");
    BAD("step:5,warmup:3", "step size \"5,warmup\" is not a positive integer");
    char many[512] = "multistep:";
    for (int k = 1; k <= GEOLOC_LR_MAX_MILESTONES + 1; k++)
        snprintf(many + strlen(many), sizeof many - strlen(many), "%s%d", k > 1 ? "," : "", k);
    BAD(many, "more than 64 milestones");

    geoloc_lr_schedule s;
    geoloc_error err = {0};
    CHECK(geoloc_lr_schedule_parse("step:5:0.5", -1, NULL, &s, &err) == GEOLOC_E_RANGE &&
              strstr(err.message, "lr schedule: \"step:5:0.5\": base learning rate"),
          "%s", err.message);
    /* the paper's recipe: lr 0.01 halved every 5 epochs */
    CHECK(geoloc_lr_schedule_parse("step:5:0.5", 0.01, NULL, &s, &err) == GEOLOC_OK, "%s", err.message);
    CHECK(geoloc_lr_at(&s, 0) == 0.01 && geoloc_lr_at(&s, 4) == 0.01 && geoloc_lr_at(&s, 5) == 0.005 &&
              geoloc_lr_at(&s, 9) == 0.005 && geoloc_lr_at(&s, 10) == 0.0025,
          "paper recipe");
    CHECK(geoloc_lr_at(&s, -3) == 0.01, "t < 0");
    /* hand-filled schedules are checked field by field */
    geoloc_lr_schedule h = {.kind = GEOLOC_LR_MULTISTEP, .base_lr = 0.1, .gamma = 0.1, .n_milestones = 2,
                            .milestones = {5, 5}};
    CHECK(geoloc_lr_schedule_check(&h, &err) == GEOLOC_E_RANGE && strstr(err.message, "increase"), "%s",
          err.message);
    h = (geoloc_lr_schedule){.kind = GEOLOC_LR_COSINE, .base_lr = 0.1, .t_max = 0};
    CHECK(geoloc_lr_schedule_check(&h, &err) == GEOLOC_E_RANGE && strstr(err.message, "T_max"), "%s",
          err.message);
    h = (geoloc_lr_schedule){.kind = GEOLOC_LR_EXP, .base_lr = 0.1, .gamma = 0.9, .warmup = 3};
    CHECK(geoloc_lr_schedule_check(&h, &err) == GEOLOC_E_RANGE && strstr(err.message, "start factor"),
          "%s", err.message);
    /* a short buffer gets a terminated prefix and the full length */
    const char *long_text = "multistep:30,60,90:0.1+warmup:5:0.1";
    CHECK(geoloc_lr_schedule_parse(long_text, 0.01, NULL, &s, &err) == GEOLOC_OK, "%s", err.message);
    char small[8];
    size_t need = geoloc_lr_schedule_format(&s, small, sizeof small);
    CHECK(need == strlen(long_text) && strcmp(small, "multist") == 0, "%zu %s", need, small);
}

int main(int argc, char **argv) {
    const char *data_dir = argc > 2 ? argv[2] : "tests/data";
    test_sgd_reference(data_dir);
    test_grad_scale();
    test_pieces();
    test_checkpoint();
    test_sgd_api();
    test_schedule_reference(data_dir);
    test_parser();
    TEST_END();
}
