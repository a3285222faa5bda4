/* The CNN engine against PyTorch, the way llm.c checks C against a PyTorch
 * dump: tests/data/resnet18_ref.safetensors (tools/gen_resnet_ref.py) holds,
 * for torchvision's ResNet-18 (10 classes) on 4 images of 64x64 with
 * weights from a deterministic generator, the training-mode logits, pooled
 * features, loss, every parameter's gradient (full, or a sample plus sum
 * and sum of squares for the large ones), the running statistics after the
 * step, and the eval-mode logits. Tolerances (relative, L2 over a tensor):
 * logits, features, loss 1e-4; gradients 2e-3 (oneDNN and PyTorch sum in
 * different orders through 18 layers); running statistics 1e-5; eval
 * logits 1e-4. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "geoloc/nn.h"
#include "nn/loss.h"
#include "nn_reference.h"
#include "test_util.h"

static const geoloc_safetensors *ref;

static const geoloc_tensor_info *get(const char *name) {
    const geoloc_tensor_info *t = geoloc_safetensors_find(ref, name);
    if (!t) fprintf(stderr, "reference lacks %s\n", name);
    return t;
}

static void compare(const char *what, const float *ours, const char *name, size_t n, double tol) {
    const geoloc_tensor_info *t = get(name);
    CHECK(t && t->n_elements == n, "%s: reference %s has %llu values, %zu expected", what, name,
          t ? (unsigned long long)t->n_elements : 0ull, n);
    if (!t || t->n_elements != n) return;
    double e = ref_rel_l2(ours, t->data, n);
    CHECK(e <= tol, "%s: relative error %.3g > %.3g", what, e, tol);
}

static void compare_gradients(geoloc_net *net) {
    double worst = 0;
    const char *worst_name = "";
    for (size_t k = 0; k < geoloc_net_param_count(net); k++) {
        geoloc_param *p = geoloc_net_param(net, k);
        if (!p->grad) continue;
        char name[128];
        double e;
        if (p->n <= 65536) {
            snprintf(name, sizeof name, "grad/%s", p->name);
            const geoloc_tensor_info *t = get(name);
            CHECK(t && t->n_elements == p->n, "%s: no full gradient in the reference", p->name);
            if (!t || t->n_elements != p->n) continue;
            e = ref_rel_l2(p->grad, t->data, p->n);
        } else {
            snprintf(name, sizeof name, "grad_sample/%s", p->name);
            const geoloc_tensor_info *t = get(name);
            CHECK(t && t->n_elements == 4096, "%s: no gradient sample", p->name);
            if (!t || t->n_elements != 4096) continue;
            float sample[4096];
            for (uint64_t j = 0; j < 4096; j++) sample[j] = p->grad[ref_splitmix64((2000ull << 32) | j) % p->n];
            e = ref_rel_l2(sample, t->data, 4096);
            double sumsq = 0;
            for (size_t i = 0; i < p->n; i++) sumsq += (double)p->grad[i] * p->grad[i];
            snprintf(name, sizeof name, "grad_sumsq/%s", p->name);
            const geoloc_tensor_info *s = get(name);
            if (s) {
                double rs = ((const double *)s->data)[0];
                double es = fabs(sqrt(sumsq) - sqrt(rs)) / sqrt(rs);
                CHECK(es <= 2e-3, "%s: gradient norm %.9g vs %.9g", p->name, sqrt(sumsq), sqrt(rs));
            }
        }
        CHECK(e <= 2e-3, "%s: gradient relative error %.3g > 2e-3", p->name, e);
        if (e > worst) worst = e, worst_name = p->name;
    }
    printf("gradients: largest relative error %.3g (%s)\n", worst, worst_name);
}

/* The loss alone: tests/data/layers_ref.safetensors, torch.nn.CrossEntropyLoss
 * on 5 x 6 logits: loss and the logits' gradient, 1e-6. */
static void check_cross_entropy(const char *dir) {
    char path[1024];
    snprintf(path, sizeof path, "%s/layers_ref.safetensors", dir);
    geoloc_error err = {0};
    geoloc_safetensors *st = NULL;
    CHECK(geoloc_safetensors_open(path, &st, &err) == GEOLOC_OK, "%s", err.message);
    if (!st) return;
    const geoloc_safetensors *keep = ref;
    ref = st;
    const geoloc_tensor_info *logits = get("ce/logits"), *labels = get("ce/labels"), *loss = get("ce/loss");
    if (logits && labels && loss && logits->n_elements == 30 && labels->n_elements == 5) {
        int32_t lab[5];
        for (int i = 0; i < 5; i++) lab[i] = (int32_t)((const int64_t *)labels->data)[i];
        float d[30];
        double l = nn_cross_entropy(logits->data, lab, 5, 6, 1.0f, d);
        double r = ((const float *)loss->data)[0];
        CHECK(fabs(l - r) <= 1e-6 * fabs(r), "cross-entropy %.9g vs PyTorch %.9g", l, r);
        compare("cross-entropy gradient", d, "ce/dlogits", 30, 1e-6);
    } else {
        CHECK(0, "layers_ref.safetensors lacks the cross-entropy tensors");
    }
    ref = keep;
    geoloc_safetensors_close(st);
}

int main(int argc, char **argv) {
    char path[1024];
    snprintf(path, sizeof path, "%s/resnet18_ref.safetensors", argc > 2 ? argv[2] : "tests/data");
    geoloc_error err = {0};
    geoloc_safetensors *st = NULL;
    if (geoloc_safetensors_open(path, &st, &err) != GEOLOC_OK) {
        fprintf(stderr, "%s\n", err.message);
        return 1;
    }
    ref = st;
    geoloc_resnet_config cfg;
    geoloc_resnet_config_default(&cfg, 18, 10);
    geoloc_net *net = NULL;
    CHECK(geoloc_net_create(&cfg, &net, &err) == GEOLOC_OK, "create: %s", err.message);
    ref_fill_params(net);
    enum { N = 4, S = 64 };
    static float input[N * 3 * S * S];
    ref_fill(input, sizeof input / sizeof input[0], 1000, 0.0, 1.0);
    compare("input", input, "input", sizeof input / sizeof input[0], 0.0);
    int32_t labels[N] = {3, 7, 0, 9};
    const int32_t *label_sets[1] = {labels};

    geoloc_exec *train = NULL;
    CHECK(geoloc_exec_create(net, N, S, S, GEOLOC_NN_TRAIN, &train, &err) == GEOLOC_OK, "train exec: %s",
          err.message);
    if (train) {
        CHECK(geoloc_exec_forward(train, input, &err) == GEOLOC_OK, "forward: %s", err.message);
        compare("training logits", geoloc_exec_logits(train, 0), "logits_train", N * 10, 1e-4);
        compare("features", geoloc_exec_features(train), "features", N * 512, 1e-4);
        float loss = 0;
        CHECK(geoloc_exec_backward(train, label_sets, NULL, &loss, &err) == GEOLOC_OK, "backward: %s",
              err.message);
        const geoloc_tensor_info *rl = get("loss");
        if (rl) {
            double r = ((const float *)rl->data)[0];
            CHECK(fabs(loss - r) <= 1e-4 * fabs(r), "loss %.9g vs PyTorch %.9g", loss, r);
            printf("loss %.7f (PyTorch %.7f)\n", loss, r);
        }
        compare_gradients(net);
        for (size_t k = 0; k < geoloc_net_param_count(net); k++) {
            geoloc_param *p = geoloc_net_param(net, k);
            if (p->kind != GEOLOC_PARAM_RUNNING_MEAN && p->kind != GEOLOC_PARAM_RUNNING_VAR) continue;
            char name[128];
            snprintf(name, sizeof name, "running_after/%s", p->name);
            compare(p->name, p->data, name, p->n, 1e-5);
        }
        geoloc_exec_free(train);
    }
    geoloc_exec *infer = NULL;
    CHECK(geoloc_exec_create(net, N, S, S, GEOLOC_NN_INFER, &infer, &err) == GEOLOC_OK, "infer exec: %s",
          err.message);
    if (infer) {
        CHECK(geoloc_exec_forward(infer, input, &err) == GEOLOC_OK, "forward: %s", err.message);
        compare("eval logits (batch norm folded)", geoloc_exec_logits(infer, 0), "logits_eval", N * 10, 1e-4);
        geoloc_exec_free(infer);
    }
    geoloc_net_free(net);
    geoloc_safetensors_close(st);
    check_cross_entropy(argc > 2 ? argv[2] : "tests/data");
    TEST_END();
}
