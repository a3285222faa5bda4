/* Softmax cross-entropy with class-index labels. Internal API. */
#ifndef GEOLOC_NN_LOSS_H
#define GEOLOC_NN_LOSS_H

#include <stddef.h>
#include <stdint.h>

#include "geoloc/nn.h"

/* Mean cross-entropy of rows x cols logits over rows with labels >= 0 (-1: ignored);
 * writes its gradient times weight into dlogits. */
double nn_cross_entropy(const float *logits, const int32_t *labels, size_t rows, size_t cols,
                        float weight, float *dlogits);

#endif
