/* geoloc: the CNN engine. A network is a description (a ResNet: its layers
 * and named parameters, plain float arrays in torchvision's layouts) kept
 * apart from its execution (oneDNN primitives built for one batch shape,
 * with every activation and workspace allocated once). Training computes
 * gradients into the parameters' gradient arrays; the optimizer
 * (geoloc/optim.h) updates the parameters. */
#ifndef GEOLOC_NN_H
#define GEOLOC_NN_H

#include <stddef.h>
#include <stdint.h>

#include "geoloc/safetensors.h"
#include "geoloc/status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define GEOLOC_NN_MAX_HEADS 32
#define GEOLOC_NN_HEAD_NAME 48

/* One classification head: a fully connected layer on the pooled features. */
typedef struct geoloc_head_config {
    char name[GEOLOC_NN_HEAD_NAME]; /* parameter prefix: "fc" -> fc.weight, fc.bias */
    int classes;
} geoloc_head_config;

/* Everything that defines a ResNet's shapes and arithmetic. */
typedef struct geoloc_resnet_config {
    int depth;             /* 18, 34, 50, 101 or 152 */
    int stride_on_conv1;   /* bottleneck stride on the first 1x1 conv (Keras, v1) instead of the 3x3 (torchvision v1.5) */
    int conv_bias;         /* convolutions carry biases (Keras) */
    float bn_eps;          /* 1e-5 (torchvision) or 1e-3 (Keras) */
    float bn_momentum;     /* running-statistics update factor, 0.1 as torch */
    size_t n_heads;
    geoloc_head_config heads[GEOLOC_NN_MAX_HEADS];
    int tail_from;         /* 0: from the image; 1..4: a tail, from ResNet layer tail_from's input map on */
    int prefix_to;         /* 0: through the heads; 1..4: a prefix, the stem and the layers before layer
                            * prefix_to, whose output is that layer's input map (no pooling, no heads) */
} geoloc_resnet_config;

/* Fills cfg with torchvision's ResNet-<depth> and one head "fc" of `classes` classes. */
void geoloc_resnet_config_default(geoloc_resnet_config *cfg, int depth, int classes);

/* Reads the architecture from a weights file's metadata (geoloc.arch, geoloc.bn_eps, ...)
 * and its heads from the tensors named <head>.weight after the backbone. */
geoloc_status geoloc_resnet_config_from_weights(const geoloc_safetensors *st,
                                                geoloc_resnet_config *cfg, geoloc_error *err);

/* Parameter kinds: trained ones have a gradient; running statistics do not. */
typedef enum geoloc_param_kind {
    GEOLOC_PARAM_WEIGHT,       /* conv / fc weight */
    GEOLOC_PARAM_BIAS,         /* conv / fc bias */
    GEOLOC_PARAM_BN_WEIGHT,    /* batch-norm gamma */
    GEOLOC_PARAM_BN_BIAS,      /* batch-norm beta */
    GEOLOC_PARAM_RUNNING_MEAN,
    GEOLOC_PARAM_RUNNING_VAR
} geoloc_param_kind;

/* One named parameter: n floats at data, gradient at grad (NULL for running statistics). */
typedef struct geoloc_param {
    char name[64];            /* torchvision state_dict name, e.g. layer1.0.conv1.weight */
    geoloc_param_kind kind;
    int head;                 /* index of the head it belongs to, -1 for the backbone */
    size_t ndim;
    uint64_t shape[4];
    size_t n;
    float *data;
    float *grad;
} geoloc_param;

typedef struct geoloc_net geoloc_net;

/* Builds the description of a ResNet with zeroed parameters (running variances 1). */
geoloc_status geoloc_net_create(const geoloc_resnet_config *cfg, geoloc_net **out,
                                geoloc_error *err);

/* Splits net at ResNet layer `layer` (1..4) into two networks that share its parameters
 * (no copies): the prefix (the stem and the layers before, its output the map that layer
 * reads, from geoloc_exec_features) and the tail (that layer on and the heads, its input
 * that map). Fine-tuning the last layers trains the tail on the frozen prefix's maps.
 * Free both before net. */
geoloc_status geoloc_net_split(geoloc_net *net, int layer, geoloc_net **prefix, geoloc_net **tail,
                               geoloc_error *err);

/* Releases a network (NULL allowed). */
void geoloc_net_free(geoloc_net *net);

/* The configuration the network was built from. */
const geoloc_resnet_config *geoloc_net_config(const geoloc_net *net);

/* Initialises every parameter as torchvision does (Kaiming-normal convs, BN 1/0,
 * uniform fc), from a seed. */
void geoloc_net_init_random(geoloc_net *net, uint64_t seed);

/* Number of parameters (tensors), in state_dict order. */
size_t geoloc_net_param_count(const geoloc_net *net);

/* Parameter i. */
geoloc_param *geoloc_net_param(geoloc_net *net, size_t i);

/* The parameter called name, or NULL. */
geoloc_param *geoloc_net_find_param(geoloc_net *net, const char *name);

/* Zeroes every gradient. */
void geoloc_net_zero_grad(geoloc_net *net);

/* Copies every parameter from st (names and shapes must match; a missing head is an
 * error unless skip_heads). */
geoloc_status geoloc_net_load(geoloc_net *net, const geoloc_safetensors *st, int skip_heads,
                              geoloc_error *err);

/* Writes every parameter with the architecture metadata plus n_extra extra pairs,
 * atomically. */
geoloc_status geoloc_net_save(const geoloc_net *net, const char *path,
                              const char *const *extra_keys, const char *const *extra_values,
                              size_t n_extra, geoloc_error *err);

/* Whether the network carries int8 calibration (one activation range per convolution). */
int geoloc_net_has_int8_ranges(const geoloc_net *net);

/* Forgets the int8 calibration (a GEOLOC_NN_CALIBRATE execution starts a new one). */
void geoloc_net_clear_int8_ranges(geoloc_net *net);

/* ---- execution ---------------------------------------------------------------- */

typedef enum geoloc_nn_mode {
    GEOLOC_NN_INFER,      /* running statistics, batch norm folded into the convolutions */
    GEOLOC_NN_TRAIN,      /* batch statistics, activations kept for backward */
    GEOLOC_NN_INFER_INT8, /* as INFER, with u8/s8 convolutions after the stem (needs int8 ranges) */
    GEOLOC_NN_CALIBRATE   /* as INFER, recording every convolution output's range into the net */
} geoloc_nn_mode;

typedef struct geoloc_exec geoloc_exec;

/* The arithmetic of inference, as users choose it. */
typedef enum geoloc_precision {
    GEOLOC_PRECISION_F32,      /* float32 */
    GEOLOC_PRECISION_INT8,     /* u8/s8 convolutions after the stem (needs a calibrated network) */
    GEOLOC_PRECISION_CALIBRATE /* float32, recording every convolution output's range for int8 */
} geoloc_precision;

/* The metadata key describing a file's int8 ranges (which photos, how). */
#define GEOLOC_INT8_CALIBRATION_KEY "geoloc.int8.calibration"

/* The execution mode of an inference precision. */
geoloc_nn_mode geoloc_precision_mode(geoloc_precision p);

/* "f32", "int8" or "calibrate". */
const char *geoloc_precision_name(geoloc_precision p);

/* Builds the primitives and allocates every buffer for batch x 3 x height x width images
 * (a tail: batch x C x height x width maps of its first layer's input).
 * GEOLOC_NN_INFER_INT8 quantises the weights (per output channel) as they are now. */
geoloc_status geoloc_exec_create(geoloc_net *net, int batch, int height, int width,
                                 geoloc_nn_mode mode, geoloc_exec **out, geoloc_error *err);

/* Releases an execution (NULL allowed). */
void geoloc_exec_free(geoloc_exec *ex);

/* Must be called after the parameters changed (optimizer step, load): weights are
 * re-laid-out (and re-folded) before the next forward. */
void geoloc_exec_params_changed(geoloc_exec *ex);

/* Runs the network on input (batch x 3 x height x width floats, NCHW). In training
 * mode it also updates the running statistics. */
geoloc_status geoloc_exec_forward(geoloc_exec *ex, const float *input, geoloc_error *err);

/* Logits of head h after forward: batch x classes, row-major. */
const float *geoloc_exec_logits(const geoloc_exec *ex, size_t head);

/* Pooled backbone features after forward: batch x feature_dim, row-major (a prefix: its
 * output maps, each C x H x W in NCHW order). */
const float *geoloc_exec_features(const geoloc_exec *ex);

/* Width of the pooled features (512 for ResNet-18/34, 2048 for deeper ones; a prefix: C*H*W). */
int geoloc_exec_feature_dim(const geoloc_exec *ex);

/* The shape of one image's output: channels x 1 x 1 pooled features, or a prefix's map. */
void geoloc_exec_output_shape(const geoloc_exec *ex, int *channels, int *height, int *width);

/* Training only, after forward: softmax cross-entropy of every head (labels[h][i]
 * in [0, classes) or -1 to ignore, loss averaged over the labelled photos, times
 * head_weights[h] or 1 when NULL), then backward through the whole network. Gradients
 * are added to the parameters' grad arrays (zero them first, or accumulate).
 * losses[h] receives each head's mean loss when losses is not NULL. */
geoloc_status geoloc_exec_backward(geoloc_exec *ex, const int32_t *const *labels,
                                   const float *head_weights, float *losses,
                                   geoloc_error *err);

/* Sums n floats in place over every replica of a data-parallel job (data = the
 * sum of every replica's data); every replica calls it in the same order. */
typedef geoloc_status (*geoloc_exec_sum_fn)(void *ctx, float *data, size_t n, geoloc_error *err);

/* Training only: synchronised batch norm. Batch statistics and the batch-norm
 * backward become those of the whole batch of `replicas` executions of equal batch
 * (one fn call per batch norm in forward and one in backward); parameter gradients
 * stay this replica's own. fn NULL returns to per-replica statistics. Re-plans the
 * execution (call it once, before running). */
geoloc_status geoloc_exec_set_batch_sum(geoloc_exec *ex, geoloc_exec_sum_fn fn, void *ctx, int replicas,
                                        geoloc_error *err);

/* Bytes held by the execution (activations, workspaces, laid-out weights). */
size_t geoloc_exec_bytes(const geoloc_exec *ex);

/* Profiling: on clears the per-call totals and times every later call; off stops. */
geoloc_status geoloc_exec_set_profile(geoloc_exec *ex, int on, geoloc_error *err);

/* One call of an execution's lists (a oneDNN primitive or a C step) and its time. */
typedef struct geoloc_exec_call_time {
    const char *list; /* "prepare", "forward" or "backward" */
    int node;         /* graph node it was planned for (-1: the input or the heads) */
    const char *kind; /* oneDNN primitive kind ("convolution", "reorder", ...) or "step" */
    const char *what; /* propagation kind (forward_training, backward_weights, ...), a
                       * reorder's role (weights, weight gradient, gradient, activation)
                       * or a C step's name */
    const char *impl; /* oneDNN implementation (jit_1x1:avx512_core, ...) or "c" */
    char shape[96];   /* source (or gradient) dims, then weights dims: "32x64x56x56 256x64x1x1" */
    double seconds;   /* summed over the profiled runs of its list */
    long runs;        /* profiled runs of its list */
} geoloc_exec_call_time;

/* Number of calls in the execution's lists (prepare, then forward, then backward). */
size_t geoloc_exec_call_count(const geoloc_exec *ex);

/* Call i (< geoloc_exec_call_count) and its profiled time into *out. */
geoloc_status geoloc_exec_call_profile(const geoloc_exec *ex, size_t i, geoloc_exec_call_time *out,
                                       geoloc_error *err);

/* Softmax of each row of logits (rows x cols) into probs. */
void geoloc_softmax(const float *logits, size_t rows, size_t cols, float *probs);

#ifdef __cplusplus
}
#endif
#endif
