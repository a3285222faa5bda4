/* Softmax and the softmax cross-entropy loss with class-index labels,
 * forward and backward in one pass: the loss of each head is the mean over
 * the labelled photos (label -1: ignored), as torch.nn.CrossEntropyLoss;
 * its gradient with respect to the logits is (softmax - one_hot) / count. */
#include <math.h>

#include "nn/loss.h"

void geoloc_softmax(const float *logits, size_t rows, size_t cols, float *probs) {
    for (size_t r = 0; r < rows; r++) {
        const float *x = logits + r * cols;
        float *p = probs + r * cols;
        float max = x[0];
        for (size_t j = 1; j < cols; j++) max = x[j] > max ? x[j] : max;
        double sum = 0.0;
        for (size_t j = 0; j < cols; j++) sum += p[j] = expf(x[j] - max);
        float inv = (float)(1.0 / sum);
        for (size_t j = 0; j < cols; j++) p[j] *= inv;
    }
}

double nn_cross_entropy(const float *logits, const int32_t *labels, size_t rows, size_t cols,
                        float weight, float *dlogits) {
    size_t count = 0;
    for (size_t r = 0; r < rows; r++) count += labels[r] >= 0;
    double loss = 0.0;
    for (size_t r = 0; r < rows; r++) {
        const float *x = logits + r * cols;
        float *d = dlogits + r * cols;
        if (labels[r] < 0) {
            for (size_t j = 0; j < cols; j++) d[j] = 0.0f;
            continue;
        }
        float max = x[0];
        for (size_t j = 1; j < cols; j++) max = x[j] > max ? x[j] : max;
        double sum = 0.0;
        for (size_t j = 0; j < cols; j++) sum += exp((double)(x[j] - max));
        double log_sum = log(sum);
        loss += log_sum - (double)(x[labels[r]] - max);
        float scale = weight / (float)count;
        for (size_t j = 0; j < cols; j++) d[j] = (float)(exp((double)(x[j] - max) - log_sum)) * scale;
        d[labels[r]] -= scale;
    }
    return count ? loss / (double)count : 0.0;
}
