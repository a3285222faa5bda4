/* geoloc: an LSTM layer on oneDNN's RNN primitives (PlaNet's LSTM over the
 * photos of an album). The description (sizes and parameters, plain float
 * arrays in PyTorch's nn.LSTM layouts) is kept apart from its execution
 * (oneDNN primitives built for one sequence length and batch, forward for
 * inference or training, backward).
 *
 * Parameters, per direction d (0 forward, 1 backward when bidirectional),
 * gates in PyTorch's order i, f, g, o (oneDNN's i, f, c~, o: the same):
 *     w_layer [dirs][4 hidden][input]    PyTorch weight_ih_l0(_reverse)
 *     w_iter  [dirs][4 hidden][hidden]   PyTorch weight_hh_l0(_reverse)
 *     bias    [dirs][4 hidden]           PyTorch bias_ih + bias_hh (oneDNN
 *                                        has one bias per gate: the two are
 *                                        folded; the gradient of each
 *                                        PyTorch bias equals this one's)
 * Sequences are time-major: x [steps][batch][input], y [steps][batch][dirs *
 * hidden] (bidirectional: the forward direction's hidden state then the
 * backward one's, as PyTorch). Initial hidden and cell states are zero; all
 * sequences of a batch have the same length (no padding). */
#ifndef GEOLOC_LSTM_H
#define GEOLOC_LSTM_H

#include <stddef.h>
#include <stdint.h>

#include "geoloc/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* An LSTM layer's description: sizes, parameters and their gradients. */
typedef struct geoloc_lstm {
    int input, hidden, dirs;          /* dirs: 1 or 2 (bidirectional, outputs concatenated) */
    float *w_layer, *w_iter, *bias;   /* parameters (layouts above) */
    float *g_layer, *g_iter, *g_bias; /* their gradients, same layouts (backward adds to them) */
} geoloc_lstm;

/* A layer of `input` inputs and `hidden` units per direction, parameters and gradients zero. */
geoloc_status geoloc_lstm_create(int input, int hidden, int bidirectional, geoloc_lstm **out, geoloc_error *err);

/* Releases a layer (NULL allowed). */
void geoloc_lstm_free(geoloc_lstm *l);

/* Number of floats of w_layer, w_iter and bias (sizes[0..2]). */
void geoloc_lstm_param_sizes(const geoloc_lstm *l, size_t sizes[3]);

/* PyTorch's initialisation from seed: every parameter (the folded bias drawn once) uniform in +-1/sqrt(hidden). */
void geoloc_lstm_init_random(geoloc_lstm *l, uint64_t seed);

/* Sets direction d's parameters from PyTorch's tensors (biases folded: b_ih + b_hh). */
void geoloc_lstm_set_torch(geoloc_lstm *l, int d, const float *w_ih, const float *w_hh, const float *b_ih,
                           const float *b_hh);

/* Sets every gradient to zero. */
void geoloc_lstm_zero_grad(geoloc_lstm *l);

/* An execution of a layer for sequences of `steps` steps in batches of `batch`. */
typedef struct geoloc_lstm_exec geoloc_lstm_exec;

/* Builds the primitives (training: forward keeping its workspace, and backward); l must outlive it. */
geoloc_status geoloc_lstm_exec_create(geoloc_lstm *l, int steps, int batch, int training, geoloc_lstm_exec **out,
                                      geoloc_error *err);

/* Releases an execution (NULL allowed). */
void geoloc_lstm_exec_free(geoloc_lstm_exec *e);

/* Forward with the layer's current parameters: x [steps][batch][input] -> y [steps][batch][dirs * hidden]. */
geoloc_status geoloc_lstm_forward(geoloc_lstm_exec *e, const float *x, float *y, geoloc_error *err);

/* Backward of the last forward (training executions): from dy (y's gradient), adds the
 * parameters' gradients to the layer's and writes x's gradient to dx (NULL: not wanted). */
geoloc_status geoloc_lstm_backward(geoloc_lstm_exec *e, const float *dy, float *dx, geoloc_error *err);

#ifdef __cplusplus
}
#endif
#endif
