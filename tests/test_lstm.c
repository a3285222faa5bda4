/* The LSTM layer against PyTorch's nn.LSTM: tests/data/lstm_ref.safetensors
 * (tools/gen_lstm_ref.py) holds, for a unidirectional and a bidirectional
 * LSTM (input 16, hidden 8, 5 steps, batch 2), the inputs, PyTorch's
 * parameters (two biases per gate), the outputs and the gradients of
 * sum(out * R) with respect to the input and every parameter. Checked
 * (relative L2 error <= 1e-5): the training and the inference forward, the
 * input gradient, the weight gradients, and each PyTorch bias's gradient
 * against the folded bias's; each sequence run alone (batch 1) gives the
 * batch's rows; a second backward adds to the gradients. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "geoloc/lstm.h"
#include "geoloc/safetensors.h"
#include "nn_reference.h"
#include "test_util.h"

enum { INPUT = 16, HIDDEN = 8, STEPS = 5, BATCH = 2 };

static const geoloc_safetensors *ref;

static const float *get(const char *prefix, const char *name, size_t n) {
    char full[128];
    snprintf(full, sizeof full, "%s%s", prefix, name);
    const geoloc_tensor_info *t = geoloc_safetensors_find(ref, full);
    CHECK(t && t->n_elements == n, "reference %s: missing or not %zu values", full, n);
    return t && t->n_elements == n ? t->data : NULL;
}

static void compare(const char *prefix, const char *name, const float *ours, size_t n, double tol) {
    const float *want = get(prefix, name, n);
    if (!want) return;
    double e = ref_rel_l2(ours, want, n);
    CHECK(e <= tol, "%s%s: relative error %.3g > %.3g", prefix, name, e, tol);
}

static void check_case(const char *prefix, int bidirectional) {
    geoloc_error err;
    geoloc_lstm *l = NULL;
    CHECK(geoloc_lstm_create(INPUT, HIDDEN, bidirectional, &l, &err) == GEOLOC_OK, "%s", err.message);
    if (!l) return;
    int dirs = l->dirs;
    size_t G = 4 * HIDDEN, nx = (size_t)STEPS * BATCH * INPUT, ny = (size_t)STEPS * BATCH * dirs * HIDDEN;
    const char *suffix[2] = {"", "_reverse"};
    for (int d = 0; d < dirs; d++) {
        char n1[64], n2[64], n3[64], n4[64];
        snprintf(n1, sizeof n1, "weight_ih_l0%s", suffix[d]);
        snprintf(n2, sizeof n2, "weight_hh_l0%s", suffix[d]);
        snprintf(n3, sizeof n3, "bias_ih_l0%s", suffix[d]);
        snprintf(n4, sizeof n4, "bias_hh_l0%s", suffix[d]);
        const float *a = get(prefix, n1, G * INPUT), *b = get(prefix, n2, G * HIDDEN), *c = get(prefix, n3, G),
                    *e = get(prefix, n4, G);
        if (!a || !b || !c || !e) goto done;
        geoloc_lstm_set_torch(l, d, a, b, c, e);
    }
    const float *x = get(prefix, "x", nx), *r = get(prefix, "R", ny);
    if (!x || !r) goto done;
    float *y = calloc(ny, sizeof *y), *dx = calloc(nx, sizeof *dx), *y1 = calloc(ny, sizeof *y1);
    geoloc_lstm_exec *train = NULL, *infer = NULL, *single = NULL;
    CHECK(geoloc_lstm_exec_create(l, STEPS, BATCH, 1, &train, &err) == GEOLOC_OK, "%s", err.message);
    CHECK(geoloc_lstm_exec_create(l, STEPS, BATCH, 0, &infer, &err) == GEOLOC_OK, "%s", err.message);
    CHECK(geoloc_lstm_exec_create(l, STEPS, 1, 0, &single, &err) == GEOLOC_OK, "%s", err.message);
    if (!train || !infer || !single) goto free_exec;
    CHECK(geoloc_lstm_backward(train, r, dx, &err) == GEOLOC_E_ARG, "backward before a forward is refused");

    /* training forward and backward */
    geoloc_lstm_zero_grad(l);
    CHECK(geoloc_lstm_forward(train, x, y, &err) == GEOLOC_OK, "%s", err.message);
    compare(prefix, "out", y, ny, 1e-5);
    CHECK(geoloc_lstm_backward(train, r, dx, &err) == GEOLOC_OK, "%s", err.message);
    compare(prefix, "grad/x", dx, nx, 1e-5);
    for (int d = 0; d < dirs; d++) {
        char name[64];
        snprintf(name, sizeof name, "grad/weight_ih_l0%s", suffix[d]);
        compare(prefix, name, l->g_layer + (size_t)d * G * INPUT, G * INPUT, 1e-5);
        snprintf(name, sizeof name, "grad/weight_hh_l0%s", suffix[d]);
        compare(prefix, name, l->g_iter + (size_t)d * G * HIDDEN, G * HIDDEN, 1e-5);
        snprintf(name, sizeof name, "grad/bias_ih_l0%s", suffix[d]);
        compare(prefix, name, l->g_bias + (size_t)d * G, G, 1e-5);
        snprintf(name, sizeof name, "grad/bias_hh_l0%s", suffix[d]);
        compare(prefix, name, l->g_bias + (size_t)d * G, G, 1e-5);
    }

    /* a second backward adds the same gradients again */
    float *twice = calloc(G * HIDDEN * (size_t)dirs, sizeof *twice);
    CHECK(geoloc_lstm_backward(train, r, NULL, &err) == GEOLOC_OK, "%s", err.message);
    for (size_t i = 0; twice && i < G * HIDDEN * (size_t)dirs; i++) twice[i] = l->g_iter[i] / 2;
    if (twice) {
        char name[64];
        snprintf(name, sizeof name, "grad/weight_hh_l0");
        compare(prefix, name, twice, G * HIDDEN, 1e-5);
    }
    free(twice);

    /* inference forward */
    memset(y, 0, ny * sizeof *y);
    CHECK(geoloc_lstm_forward(infer, x, y, &err) == GEOLOC_OK, "%s", err.message);
    compare(prefix, "out", y, ny, 1e-5);

    /* each sequence alone: the batch's rows (nothing leaks between sequences) */
    size_t w = (size_t)dirs * HIDDEN;
    for (int b = 0; b < BATCH; b++) {
        float xs[STEPS * INPUT], ys[STEPS * 2 * HIDDEN];
        for (int t = 0; t < STEPS; t++) memcpy(xs + t * INPUT, x + ((size_t)t * BATCH + b) * INPUT, INPUT * sizeof(float));
        CHECK(geoloc_lstm_forward(single, xs, ys, &err) == GEOLOC_OK, "%s", err.message);
        for (int t = 0; t < STEPS; t++) memcpy(y1 + ((size_t)t * BATCH + b) * w, ys + t * w, w * sizeof(float));
    }
    compare(prefix, "out", y1, ny, 1e-5);
free_exec:
    geoloc_lstm_exec_free(train);
    geoloc_lstm_exec_free(infer);
    geoloc_lstm_exec_free(single);
    free(y);
    free(y1);
    free(dx);
done:
    geoloc_lstm_free(l);
}

int main(int argc, char **argv) {
    char path[1024];
    snprintf(path, sizeof path, "%s/lstm_ref.safetensors", argc > 2 ? argv[2] : "tests/data");
    geoloc_safetensors *st = NULL;
    geoloc_error err;
    if (geoloc_safetensors_open(path, &st, &err) != GEOLOC_OK) {
        fprintf(stderr, "%s\n", err.message);
        return 1;
    }
    ref = st;
    check_case("uni/", 0);
    check_case("bi/", 1);
    geoloc_lstm *l = NULL;
    CHECK(geoloc_lstm_create(0, 8, 0, &l, &err) == GEOLOC_E_ARG && !l, "input 0 is refused");
    geoloc_safetensors_close(st);
    TEST_END();
}
