/* ImageNet classification of photos with a one-head ResNet weights file
 * (the imported Keras ResNet-50): central square crop, resize to 224x224,
 * the file's normalisation, forward, softmax, top k. */
#include "geoloc/classify.h"

#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "geoloc/nn.h"
#include "geoloc/transform.h"

#define SIDE 224

struct geoloc_classifier {
    geoloc_safetensors *st;
    geoloc_net *net;
    geoloc_exec *ex;
    geoloc_transformer *tf;
    geoloc_norm norm;
    size_t classes;
    char **names;   /* n_names class names from geoloc.classes, or NULL */
    size_t n_names;
    float *input;   /* 3 x SIDE x SIDE */
    float *probs;   /* classes */
};

void geoloc_classifier_free(geoloc_classifier *c) {
    if (!c) return;
    geoloc_exec_free(c->ex);
    geoloc_net_free(c->net);
    geoloc_safetensors_close(c->st);
    geoloc_transformer_destroy(c->tf);
    if (c->names) free(c->names[0]);
    free(c->names);
    free(c->input);
    free(c->probs);
    free(c);
}

/* Splits the newline-separated class names of the metadata (none when absent); -1 out of memory. */
static int read_class_names(geoloc_classifier *c) {
    const char *text = geoloc_safetensors_metadata_get(c->st, "geoloc.classes");
    if (!text) return 0;
    size_t n = 1;
    for (const char *p = text; *p; p++) n += *p == '\n';
    char *copy = strdup(text);
    c->names = copy ? malloc(n * sizeof *c->names) : NULL;
    if (!c->names) {
        free(copy);
        return -1;
    }
    for (char *p = copy, *next; p; p = next) {
        next = strchr(p, '\n');
        if (next) *next++ = '\0';
        c->names[c->n_names++] = p;
    }
    return 0;
}

/* Fills an allocated classifier from the weights file at path. */
static geoloc_status classifier_load(geoloc_classifier *c, const char *path, geoloc_error *err) {
    geoloc_resnet_config cfg;
    geoloc_status s = geoloc_safetensors_open(path, &c->st, err);
    if (s == GEOLOC_OK) s = geoloc_resnet_config_from_weights(c->st, &cfg, err);
    if (s != GEOLOC_OK) return s;
    if (cfg.n_heads != 1)
        return error_set(err, GEOLOC_E_ARG, "%s: not a classifier with one head (fc.weight)", path);
    if ((s = geoloc_net_create(&cfg, &c->net, err)) != GEOLOC_OK ||
        (s = geoloc_net_load(c->net, c->st, 0, err)) != GEOLOC_OK ||
        (s = geoloc_exec_create(c->net, 1, SIDE, SIDE, GEOLOC_NN_INFER, &c->ex, err)) != GEOLOC_OK)
        return s;
    const char *input = geoloc_safetensors_metadata_get(c->st, "geoloc.input");
    c->norm = input && !strcmp(input, "caffe_bgr") ? GEOLOC_NORM_CAFFE : GEOLOC_NORM_IMAGENET;
    c->classes = (size_t)cfg.heads[0].classes;
    c->tf = geoloc_transformer_create();
    c->input = malloc(3 * SIDE * SIDE * sizeof *c->input);
    c->probs = malloc(c->classes * sizeof *c->probs);
    if (!c->tf || !c->input || !c->probs || read_class_names(c) != 0)
        return error_set(err, GEOLOC_E_NOMEM, "%s: out of memory for the classifier", path);
    return GEOLOC_OK;
}

geoloc_status geoloc_classifier_open(const char *path, geoloc_classifier **out, geoloc_error *err) {
    if (!path || !out) return error_set(err, GEOLOC_E_ARG, "classifier: missing argument");
    *out = NULL;
    geoloc_classifier *c = calloc(1, sizeof *c);
    if (!c) return error_set(err, GEOLOC_E_NOMEM, "%s: out of memory for the classifier", path);
    geoloc_status s = classifier_load(c, path, err);
    if (s != GEOLOC_OK) {
        geoloc_classifier_free(c);
        return s;
    }
    *out = c;
    return GEOLOC_OK;
}

geoloc_status geoloc_classifier_set_precision(geoloc_classifier *c, geoloc_precision p, geoloc_error *err) {
    geoloc_exec *ex = NULL;
    geoloc_status s = geoloc_exec_create(c->net, 1, SIDE, SIDE, geoloc_precision_mode(p), &ex, err);
    if (s != GEOLOC_OK) return s;
    geoloc_exec_free(c->ex);
    c->ex = ex;
    return GEOLOC_OK;
}

geoloc_status geoloc_classifier_save(const geoloc_classifier *c, const char *path, const char *calibration,
                                     geoloc_error *err) {
    size_t n = geoloc_safetensors_metadata_count(c->st), k = 0;
    const char **keys = malloc((n + 1) * sizeof *keys), **values = malloc((n + 1) * sizeof *values);
    if (!keys || !values) {
        free(keys);
        free(values);
        return error_set(err, GEOLOC_E_NOMEM, "%s: out of memory", path);
    }
    for (size_t i = 0; i < n; i++) { /* the checksum is the writer's; an old calibration text goes */
        geoloc_safetensors_metadata_entry(c->st, i, &keys[k], &values[k]);
        k += strcmp(keys[k], GEOLOC_ST_CHECKSUM_KEY) != 0 && strcmp(keys[k], GEOLOC_INT8_CALIBRATION_KEY) != 0;
    }
    if (calibration) keys[k] = GEOLOC_INT8_CALIBRATION_KEY, values[k++] = calibration;
    geoloc_status s = geoloc_net_save(c->net, path, keys, values, k, err);
    free(keys);
    free(values);
    return s;
}

size_t geoloc_classifier_classes(const geoloc_classifier *c) { return c->classes; }

geoloc_status geoloc_classify_image_top(geoloc_classifier *c, const geoloc_image *img, size_t k,
                                        geoloc_class_score *top, size_t *n_top, geoloc_error *err) {
    if (!c || !img || !n_top || (k && !top)) return error_set(err, GEOLOC_E_ARG, "classify: missing argument");
    *n_top = 0;
    int side = img->width < img->height ? img->width : img->height;
    geoloc_resample_spec spec = {.resize_w = SIDE, .resize_h = SIDE, .window = {0, 0, SIDE, SIDE}, .norm = c->norm};
    geoloc_status s = geoloc_center_crop_rect(img->width, img->height, side, side, &spec.crop);
    if (s != GEOLOC_OK) return error_set(err, s, "classify: empty image (%dx%d)", img->width, img->height);
    if ((s = geoloc_transform_chw(c->tf, img, &spec, c->input, err)) != GEOLOC_OK ||
        (s = geoloc_exec_forward(c->ex, c->input, err)) != GEOLOC_OK)
        return s;
    geoloc_softmax(geoloc_exec_logits(c->ex, 0), 1, c->classes, c->probs);
    size_t n = k < c->classes ? k : c->classes;
    for (size_t r = 0; r < n; r++) { /* selection: k is small; taken classes are marked -1 */
        size_t best = 0;
        for (size_t j = 1; j < c->classes; j++)
            if (c->probs[j] > c->probs[best]) best = j;
        top[r] = (geoloc_class_score){(int)best, c->probs[best], best < c->n_names ? c->names[best] : ""};
        c->probs[best] = -1.0f;
    }
    *n_top = n;
    return GEOLOC_OK;
}

geoloc_status geoloc_classify_top(geoloc_classifier *c, const char *path, size_t k, geoloc_class_score *top,
                                  size_t *n_top, geoloc_error *err) {
    if (!path) return error_set(err, GEOLOC_E_ARG, "classify: missing argument");
    geoloc_image img = {0};
    geoloc_decode_options opt = {.min_shorter_side = SIDE};
    geoloc_status s = geoloc_image_load(path, &opt, &img, err);
    if (s == GEOLOC_OK) s = geoloc_classify_image_top(c, &img, k, top, n_top, err);
    geoloc_image_free(&img);
    return s;
}
