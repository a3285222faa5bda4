/* geoloc bench nn: images per second of the CNN engine, inference or a full
 * training step (forward, loss, backward, SGD with momentum), on random
 * weights and inputs of the given shape. bench/nn.sh runs PyTorch on the same
 * shapes and prints the ratio. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "cli/cli_options.h"
#include "cli/cli_photos.h"
#include "cli/cli_util.h"
#include "cli/commands.h"
#include "geoloc/nn.h"
#include "geoloc/optim.h"

typedef struct {
    const char *arch;
    int mode, precision;
    long batch, classes, size, iters, warmup;
    int profile;
} nn_args;

static const char *const MODES[] = {"infer", "train", NULL};

static const cli_option NN_OPTIONS[] = {
    CLI_OPTION("arch", 0, CLI_STRING, nn_args, arch, "resnetN", "ResNet-18/34/50/101/152"),
    CLI_OPTION("mode", 0, CLI_ENUM, nn_args, mode, NULL, "inference, or a full training step", .choices = MODES),
    CLI_OPTION("precision", 0, CLI_ENUM, nn_args, precision, NULL,
               "inference arithmetic; int8 is calibrated on the benchmark's input first", .choices = cli_precision_choices),
    CLI_OPTION("batch", 0, CLI_INT, nn_args, batch, "N", "images per batch", .min = 1, .max = 4096),
    CLI_OPTION("classes", 0, CLI_INT, nn_args, classes, "N", "classes of the head", .min = 1, .max = 1e6),
    CLI_OPTION("size", 0, CLI_INT, nn_args, size, "N", "image side", .min = 32, .max = 4096),
    CLI_OPTION("iters", 0, CLI_INT, nn_args, iters, "N", "timed batches", .min = 1, .max = 1e6),
    CLI_OPTION("warmup", 0, CLI_INT, nn_args, warmup, "N", "untimed batches first", .min = 0, .max = 1e6),
    CLI_OPTION("profile", 0, CLI_FLAG, nn_args, profile, NULL, "time every call of the timed batches"),
    CLI_END};

static const cli_spec NN_SPEC = {
    "geoloc bench nn", NULL, 0, 0,
    "Times the CNN engine on random weights and images: inference, or a training\n"
    "step (forward, softmax cross-entropy, backward, SGD lr 0.01 momentum 0.9\n"
    "weight decay 1e-4). Prints the median over --iters timed batches:\n"
    "  bench nn: impl=geoloc arch=... mode=... batch=... images/s=... ms/batch=... peak_rss_mib=...\n"
    "With --profile, every call of the timed batches is timed too (mean ms per batch):\n"
    "  profile: <category> ms=... share=...   (categories, the convolutions by implementation)\n"
    "  call: <list> node=<k> <kind> <propagation or role> <impl> <dims> ms=...   (every call)\n"
    "'remainder' is the batch's wall time minus every timed part.\n"
    "Threads: OMP_NUM_THREADS (default: one per core).\n",
    NN_OPTIONS, NULL};

typedef struct {
    char name[96];
    double seconds;
} category;

/* Adds seconds to category name (up to cap categories). */
static void add_to(category *cats, size_t *n, size_t cap, const char *name, double seconds) {
    size_t i = 0;
    while (i < *n && strcmp(cats[i].name, name) != 0) i++;
    if (i == *n) {
        if (*n == cap) return;
        snprintf(cats[(*n)++].name, sizeof cats->name, "%s", name);
    }
    cats[i].seconds += seconds;
}

/* Prints the profile of the timed batches: categories, then every call. zero and sgd
 * are the bench's own steps; wall the summed wall time of `batches` batches. */
static int print_profile(const geoloc_exec *ex, long batches, double wall, double zero, double sgd,
                         geoloc_error *err) {
    category cats[64];
    size_t n = 0, calls = geoloc_exec_call_count(ex);
    double conv = 0.0, timed = zero + sgd;
    for (size_t i = 0; i < calls; i++) {
        geoloc_exec_call_time t;
        if (geoloc_exec_call_profile(ex, i, &t, err) != GEOLOC_OK) return 1;
        int recompute = strcmp(t.list, "backward") == 0 && strncmp(t.what, "forward", 7) == 0;
        char name[96];
        if (strcmp(t.kind, "convolution") == 0) {
            snprintf(name, sizeof name, "convolution %s%s %s", t.what, recompute ? " (recompute)" : "", t.impl);
            conv += t.seconds;
        } else {
            snprintf(name, sizeof name, "%s %s%s", t.kind, t.what, recompute ? " (recompute)" : "");
        }
        add_to(cats, &n, sizeof cats / sizeof *cats, name, t.seconds);
        timed += t.seconds;
        printf("call: %-8s node=%-3d %s %s %s %s ms=%.3f\n", t.list, t.node, t.kind, t.what, t.impl, t.shape,
               t.seconds * 1e3 / (double)batches);
    }
    if (zero > 0) add_to(cats, &n, sizeof cats / sizeof *cats, "bench zero_grad", zero);
    if (sgd > 0) add_to(cats, &n, sizeof cats / sizeof *cats, "bench sgd_step", sgd);
    add_to(cats, &n, sizeof cats / sizeof *cats, "remainder", wall - timed);
    for (size_t i = 0; i < n; i++)
        printf("profile: %-56s ms=%8.2f share=%5.2f%%\n", cats[i].name, cats[i].seconds * 1e3 / (double)batches,
               100.0 * cats[i].seconds / wall);
    printf("profile: batches=%ld ms/batch=%.1f convolutions_ms=%.1f outside_convolutions_ms=%.1f share=%.2f%%\n",
           batches, wall * 1e3 / (double)batches, conv * 1e3 / (double)batches, (wall - conv) * 1e3 / (double)batches,
           100.0 * (wall - conv) / wall);
    return 0;
}

int cli_bench_nn(int argc, char **argv) {
    const char *cmd = NN_SPEC.name;
    nn_args a = {.arch = "resnet50", .batch = 32, .classes = 1000, .size = 224, .iters = 5, .warmup = 2};
    int n_args;
    int parsed = cli_parse(&NN_SPEC, &a, argc, argv, &n_args);
    if (parsed != CLI_RUN) return parsed;
    const char *arch = a.arch, *mode = MODES[a.mode];
    long batch = a.batch, classes = a.classes, size = a.size, iters = a.iters, warmup = a.warmup;
    int depth = 0, train = a.mode == 1, int8 = a.precision == 1;
    if (train && int8) return cli_usage_error(&NN_SPEC, "--precision int8 is for --mode infer");
    if (sscanf(arch, "resnet%d", &depth) != 1)
        return cli_usage_error(&NN_SPEC, "--arch must be resnetN, not '%s'", arch);
    geoloc_error err = {0};
    geoloc_resnet_config cfg;
    geoloc_resnet_config_default(&cfg, depth, (int)classes);
    geoloc_net *net = NULL;
    geoloc_exec *ex = NULL;
    geoloc_sgd *opt = NULL;
    float *input = NULL;
    int32_t *labels = NULL;
    double *times = malloc((size_t)iters * sizeof *times);
    int rc = 1;
    if (geoloc_net_create(&cfg, &net, &err) != GEOLOC_OK) goto fail;
    geoloc_net_init_random(net, 1);
    size_t n_in = (size_t)batch * 3 * (size_t)size * (size_t)size;
    input = malloc(n_in * sizeof *input);
    labels = malloc((size_t)batch * sizeof *labels);
    if (!input || !labels || !times) {
        fprintf(stderr, "%s: out of memory\n", cmd);
        goto done;
    }
    uint64_t s = 42;
    for (size_t i = 0; i < n_in; i++) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        input[i] = (float)((double)(s >> 11) * 0x1p-53 * 2.0 - 1.0);
    }
    for (long i = 0; i < batch; i++) labels[i] = (int32_t)((i * 7919) % classes);
    if (int8) { /* calibrated on the input itself: the time does not depend on the ranges */
        if (geoloc_exec_create(net, (int)batch, (int)size, (int)size, GEOLOC_NN_CALIBRATE, &ex, &err) != GEOLOC_OK ||
            geoloc_exec_forward(ex, input, &err) != GEOLOC_OK)
            goto fail;
        geoloc_exec_free(ex);
        ex = NULL;
    }
    if (geoloc_exec_create(net, (int)batch, (int)size, (int)size,
                           train ? GEOLOC_NN_TRAIN : int8 ? GEOLOC_NN_INFER_INT8 : GEOLOC_NN_INFER, &ex, &err) != GEOLOC_OK)
        goto fail;
    if (train) {
        geoloc_sgd_config sc = {.momentum = 0.9, .weight_decay = 1e-4};
        if (geoloc_sgd_create(&sc, &opt, &err) != GEOLOC_OK) goto fail;
        for (size_t i = 0; i < geoloc_net_param_count(net); i++) {
            geoloc_param *p = geoloc_net_param(net, i);
            if (p->grad && geoloc_sgd_add(opt, p->data, p->grad, p->n, 0, NULL, &err) != GEOLOC_OK) goto fail;
        }
    }
    const int32_t *label_sets[1] = {labels};
    double wall = 0.0, zero = 0.0, sgd = 0.0;
    for (long it = 0; it < warmup + iters; it++) {
        if (a.profile && it == warmup && geoloc_exec_set_profile(ex, 1, &err) != GEOLOC_OK) goto fail;
        double t0 = cli_now_seconds();
        if (geoloc_exec_forward(ex, input, &err) != GEOLOC_OK) goto fail;
        if (train) {
            double t1 = cli_now_seconds();
            geoloc_net_zero_grad(net);
            double t2 = cli_now_seconds();
            if (geoloc_exec_backward(ex, label_sets, NULL, NULL, &err) != GEOLOC_OK) goto fail;
            double t3 = cli_now_seconds();
            geoloc_sgd_step(opt, 0.01, 1.0f);
            geoloc_exec_params_changed(ex);
            if (it >= warmup) zero += t2 - t1, sgd += cli_now_seconds() - t3;
        }
        if (it >= warmup) wall += times[it - warmup] = cli_now_seconds() - t0;
    }
    if (a.profile && print_profile(ex, iters, wall, zero, sgd, &err)) goto fail;
    qsort(times, (size_t)iters, sizeof *times, cli_compare_doubles);
    double median = iters % 2 ? times[iters / 2] : 0.5 * (times[iters / 2 - 1] + times[iters / 2]);
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("bench nn: impl=geoloc%s arch=%s mode=%s batch=%ld images/s=%.2f ms/batch=%.1f peak_rss_mib=%.0f\n", int8 ? "-int8" : "", arch,
           mode, batch, (double)batch / median, median * 1e3, (double)ru.ru_maxrss / 1024.0);
    rc = 0;
    goto done;
fail:
    fprintf(stderr, "%s: %s\n", cmd, err.message);
done:
    geoloc_sgd_free(opt);
    geoloc_exec_free(ex);
    geoloc_net_free(net);
    free(input);
    free(labels);
    free(times);
    return rc;
}
