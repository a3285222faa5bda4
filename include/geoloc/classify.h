/* geoloc: the ImageNet classes of photos with an ImageNet network (e.g. the
 * imported Keras ResNet-50 of geoloc_keras_import): central square crop,
 * resize to 224x224, the normalisation the weights file names, forward pass
 * and softmax. The check that the engine and imported weights compute what
 * the original model does. */
#ifndef GEOLOC_CLASSIFY_H
#define GEOLOC_CLASSIFY_H

#include <stddef.h>

#include "geoloc/image.h"
#include "geoloc/nn.h"
#include "geoloc/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* An opened classifier: network, its execution, class names. One thread at a time. */
typedef struct geoloc_classifier geoloc_classifier;

/* One class of an answer. */
typedef struct geoloc_class_score {
    int index;         /* class index, 0..classes-1 */
    float prob;        /* softmax probability */
    const char *name;  /* name from the file's geoloc.classes, "" without; owned by the classifier */
} geoloc_class_score;

/* Opens the one-head ResNet weights file at path (geoloc.input "caffe_bgr"
 * selects Caffe BGR normalisation, anything else torchvision's ImageNet one;
 * geoloc.classes, newline-separated, names the classes). A file that cannot
 * be opened gives GEOLOC_E_IO; one with other than one head GEOLOC_E_ARG. */
geoloc_status geoloc_classifier_open(const char *path, geoloc_classifier **out, geoloc_error *err);

/* Runs the classifier in precision p from now: int8 needs a weights file with int8 ranges
 * (geoloc model quantize) or a calibration run first (GEOLOC_PRECISION_CALIBRATE). */
geoloc_status geoloc_classifier_set_precision(geoloc_classifier *c, geoloc_precision p, geoloc_error *err);

/* Writes the classifier's weights file again, atomically, with its int8 ranges (after a
 * calibration run): the same tensors and metadata, calibration (when not NULL) as the
 * metadata geoloc.int8.calibration. */
geoloc_status geoloc_classifier_save(const geoloc_classifier *c, const char *path, const char *calibration,
                                     geoloc_error *err);

/* Number of classes of the network (1000 for ImageNet). */
size_t geoloc_classifier_classes(const geoloc_classifier *c);

/* The k most probable classes of an RGB image, most probable first (ties:
 * lower index first); *n_top = min(k, classes) entries are written to top. */
geoloc_status geoloc_classify_image_top(geoloc_classifier *c, const geoloc_image *img, size_t k,
                                        geoloc_class_score *top, size_t *n_top, geoloc_error *err);

/* geoloc_classify_image_top on the photo file at path (decoded, EXIF-oriented). */
geoloc_status geoloc_classify_top(geoloc_classifier *c, const char *path, size_t k,
                                  geoloc_class_score *top, size_t *n_top, geoloc_error *err);

/* Releases a classifier (NULL is fine). */
void geoloc_classifier_free(geoloc_classifier *c);

#ifdef __cplusplus
}
#endif
#endif
