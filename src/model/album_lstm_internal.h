/* The album LSTM's parts shared by its description and use (album_lstm.c)
 * and its training (album_lstm_train.c). Internal API. */
#ifndef GEOLOC_MODEL_ALBUM_LSTM_INTERNAL_H
#define GEOLOC_MODEL_ALBUM_LSTM_INTERNAL_H

#include "geoloc/album_lstm.h"
#include "geoloc/lstm.h"

/* Executions kept per sequence length (index: length). */
typedef struct alstm_execs {
    geoloc_lstm_exec **by_len;
    size_t n;
    int batch, training;
} alstm_execs;

struct geoloc_album_lstm {
    const geoloc_model *m;
    geoloc_lstm *lstm;
    int dim;                                     /* feature width */
    size_t n_parts;
    size_t classes[GEOLOC_MODEL_MAX_PARTITIONS];
    size_t offset[GEOLOC_MODEL_MAX_PARTITIONS + 1]; /* partition f's logits: [offset[f], offset[f + 1]) */
    const float *head_w[GEOLOC_MODEL_MAX_PARTITIONS], *head_b[GEOLOC_MODEL_MAX_PARTITIONS];
    float *mean, *inv;                           /* standardisation: (x - mean) * inv */
    float *w_out, *b_out;                        /* [C][dirs * hidden], [C] */
    float *g_w_out, *g_b_out;
    alstm_execs infer, train;
};

/* All partitions' logits: offset[n_parts]. */
static inline size_t alstm_classes(const geoloc_album_lstm *a) { return a->offset[a->n_parts]; }

/* Width of the LSTM's output (dirs * hidden). */
static inline int alstm_out_width(const geoloc_album_lstm *a) { return a->lstm->dirs * a->lstm->hidden; }

/* The execution for sequences of len steps from cache c (built on first use; an
 * inference cache keeps only the last length). */
geoloc_status alstm_exec(geoloc_album_lstm *a, alstm_execs *c, size_t len, geoloc_lstm_exec **out, geoloc_error *err);

/* Releases a cache's executions. */
void alstm_execs_clear(alstm_execs *c);

/* The geo model's heads on raw features f: logits of every partition into out (C values). */
void alstm_head_logits(const geoloc_album_lstm *a, const float *f, float *out);

/* Standardised features f into x (dim values). */
void alstm_standardise(const geoloc_album_lstm *a, const float *f, float *x);

/* The album logits of n = steps * batch photos: logits (n x C) hold the heads' logits on
 * entry and receive heads + W_out h + b_out; h (n x out width) the LSTM outputs of x
 * (n x dim, standardised, time-major). */
geoloc_status alstm_forward(geoloc_album_lstm *a, geoloc_lstm_exec *e, const float *x, size_t n, float *h,
                            float *logits, geoloc_error *err);

/* Softmax of each partition's logits of one photo, in place. Returns the summed
 * cross-entropy of labels (label[f] < 0: left out of partition f) and, when grad is not
 * NULL, writes (probabilities - one-hot) * scale there (zero for left-out partitions). */
double alstm_softmax_loss(const geoloc_album_lstm *a, float *logits, const long *label, float scale, float *grad);

/* Each row's class in every partition (-1: outside its cells): labels[r * n_parts + f]. */
geoloc_status alstm_labels(const geoloc_album_lstm *a, const double *lat, const double *lng, size_t rows,
                           long **labels, geoloc_error *err);

#endif
