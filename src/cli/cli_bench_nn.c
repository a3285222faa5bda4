/* geoloc bench nn: images per second of the CNN engine, inference or a full
 * training step (forward, loss, backward, SGD with momentum), on random
 * weights and inputs of the given shape. bench/nn.sh runs PyTorch on the same
 * shapes and prints the ratio. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "cli/cli_options.h"
#include "cli/cli_util.h"
#include "cli/commands.h"
#include "geoloc/nn.h"
#include "geoloc/optim.h"

typedef struct {
    const char *arch;
    int mode, precision;
    long batch, classes, size, iters, warmup;
} nn_args;

static const char *const MODES[] = {"infer", "train", NULL};
static const char *const PRECISIONS[] = {"f32", "int8", NULL};

static const cli_option NN_OPTIONS[] = {
    CLI_OPTION("arch", 0, CLI_STRING, nn_args, arch, "resnetN", "ResNet-18/34/50/101/152"),
    CLI_OPTION("mode", 0, CLI_ENUM, nn_args, mode, NULL, "inference, or a full training step", .choices = MODES),
    CLI_OPTION("precision", 0, CLI_ENUM, nn_args, precision, NULL,
               "inference arithmetic; int8 is calibrated on the benchmark's input first", .choices = PRECISIONS),
    CLI_OPTION("batch", 0, CLI_INT, nn_args, batch, "N", "images per batch", .min = 1, .max = 4096),
    CLI_OPTION("classes", 0, CLI_INT, nn_args, classes, "N", "classes of the head", .min = 1, .max = 1e6),
    CLI_OPTION("size", 0, CLI_INT, nn_args, size, "N", "image side", .min = 32, .max = 4096),
    CLI_OPTION("iters", 0, CLI_INT, nn_args, iters, "N", "timed batches", .min = 1, .max = 1e6),
    CLI_OPTION("warmup", 0, CLI_INT, nn_args, warmup, "N", "untimed batches first", .min = 0, .max = 1e6),
    CLI_END};

static const cli_spec NN_SPEC = {
    "geoloc bench nn", NULL, 0, 0,
    "Times the CNN engine on random weights and images: inference, or a training\n"
    "step (forward, softmax cross-entropy, backward, SGD lr 0.01 momentum 0.9\n"
    "weight decay 1e-4). Prints the median over --iters timed batches:\n"
    "  bench nn: impl=geoloc arch=... mode=... batch=... images/s=... ms/batch=... peak_rss_mib=...\n"
    "Threads: OMP_NUM_THREADS (default: one per core).\n",
    NN_OPTIONS, NULL};

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
    for (long it = 0; it < warmup + iters; it++) {
        double t0 = cli_now_seconds();
        if (geoloc_exec_forward(ex, input, &err) != GEOLOC_OK) goto fail;
        if (train) {
            geoloc_net_zero_grad(net);
            if (geoloc_exec_backward(ex, label_sets, NULL, NULL, &err) != GEOLOC_OK) goto fail;
            geoloc_sgd_step(opt, 0.01, 1.0f);
            geoloc_exec_params_changed(ex);
        }
        if (it >= warmup) times[it - warmup] = cli_now_seconds() - t0;
    }
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
