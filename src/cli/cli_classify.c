/* geoloc classify-imagenet: the top ImageNet classes of photos with an
 * ImageNet network (e.g. the imported Keras ResNet-50), the check that the
 * engine and the imported weights compute what the original model does. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli_options.h"
#include "cli/commands.h"
#include "geoloc/image.h"
#include "geoloc/nn.h"
#include "geoloc/transform.h"

typedef struct {
    const char *weights;
    long top;
} classify_args;

static const cli_option CLASSIFY_OPTIONS[] = {
    CLI_OPTION("weights", 'w', CLI_STRING, classify_args, weights, "FILE",
               "ImageNet network (geoloc weights import-keras;\ntools/fetch-backbone.sh)", .required = 1),
    CLI_OPTION("top", 'k', CLI_INT, classify_args, top, "K", "classes printed per image", .min = 1, .max = 1000),
    CLI_END};

static const cli_spec CLASSIFY_SPEC = {
    "geoloc classify-imagenet", "IMAGE...", 1, -1,
    "Prints the K most probable classes of each image: central square crop, resize\n"
    "to 224x224, the normalisation the weights file names (geoloc.input: caffe_bgr\n"
    "for the Keras ResNet-50), then the network.\n",
    CLASSIFY_OPTIONS,
    "Exit status: 0 when every image was classified, 3 when some could not be,\n"
    "1 when none could be, 2 on a usage error.\n"};

typedef struct classifier {
    geoloc_safetensors *st;
    geoloc_net *net;
    geoloc_exec *ex;
    geoloc_transformer *tf;
    geoloc_norm norm;
    char **names; /* class names from geoloc.classes, or NULL */
    size_t n_names;
    float *input, *probs;
} classifier;

static void classifier_free(classifier *c) {
    geoloc_exec_free(c->ex);
    geoloc_net_free(c->net);
    geoloc_safetensors_close(c->st);
    geoloc_transformer_destroy(c->tf);
    if (c->names) free(c->names[0]);
    free(c->names);
    free(c->input);
    free(c->probs);
}

/* Splits the newline-separated class names of the metadata (NULL when absent). */
static void read_class_names(classifier *c) {
    const char *text = geoloc_safetensors_metadata_get(c->st, "geoloc.classes");
    if (!text) return;
    size_t n = 1;
    for (const char *p = text; *p; p++) n += *p == '\n';
    char *copy = strdup(text);
    c->names = copy ? malloc(n * sizeof *c->names) : NULL;
    if (!c->names) {
        free(copy);
        return;
    }
    c->n_names = 0;
    for (char *p = copy, *next; p; p = next) {
        next = strchr(p, '\n');
        if (next) *next++ = '\0';
        c->names[c->n_names++] = p;
    }
}

static int classifier_open(classifier *c, const char *path, geoloc_error *err) {
    geoloc_resnet_config cfg;
    if (geoloc_safetensors_open(path, &c->st, err) != GEOLOC_OK ||
        geoloc_resnet_config_from_weights(c->st, &cfg, err) != GEOLOC_OK)
        return -1;
    if (cfg.n_heads != 1) {
        snprintf(err->message, sizeof err->message, "%s: not a classifier with one head (fc.weight)", path);
        return -1;
    }
    if (geoloc_net_create(&cfg, &c->net, err) != GEOLOC_OK || geoloc_net_load(c->net, c->st, 0, err) != GEOLOC_OK ||
        geoloc_exec_create(c->net, 1, 224, 224, GEOLOC_NN_INFER, &c->ex, err) != GEOLOC_OK)
        return -1;
    const char *input = geoloc_safetensors_metadata_get(c->st, "geoloc.input");
    c->norm = input && !strcmp(input, "caffe_bgr") ? GEOLOC_NORM_CAFFE : GEOLOC_NORM_IMAGENET;
    read_class_names(c);
    c->tf = geoloc_transformer_create();
    c->input = malloc(3 * 224 * 224 * sizeof *c->input);
    c->probs = malloc((size_t)cfg.heads[0].classes * sizeof *c->probs);
    if (!c->tf || !c->input || !c->probs) {
        snprintf(err->message, sizeof err->message, "out of memory");
        return -1;
    }
    return 0;
}

/* Classifies one image and prints its top k; 0, or -1 with err set. */
static int classify(classifier *c, const char *path, int k, geoloc_error *err) {
    geoloc_image img = {0};
    geoloc_decode_options opt = {.min_shorter_side = 224};
    if (geoloc_image_load(path, &opt, &img, err) != GEOLOC_OK) return -1;
    int side = img.width < img.height ? img.width : img.height;
    geoloc_resample_spec spec = {.resize_w = 224, .resize_h = 224, .window = {0, 0, 224, 224}, .norm = c->norm};
    int rc = -1;
    if (geoloc_center_crop_rect(img.width, img.height, side, side, &spec.crop) == GEOLOC_OK &&
        geoloc_transform_chw(c->tf, &img, &spec, c->input, err) == GEOLOC_OK &&
        geoloc_exec_forward(c->ex, c->input, err) == GEOLOC_OK) {
        int classes = geoloc_net_config(c->net)->heads[0].classes;
        geoloc_softmax(geoloc_exec_logits(c->ex, 0), 1, (size_t)classes, c->probs);
        printf("%s\n", path);
        for (int r = 0; r < k && r < classes; r++) {
            int best = -1;
            for (int j = 0; j < classes; j++)
                if (c->probs[j] >= 0 && (best < 0 || c->probs[j] > c->probs[best])) best = j;
            printf("  %d. %4d %-40s %.4f\n", r + 1, best,
                   (size_t)best < c->n_names ? c->names[best] : "", (double)c->probs[best]);
            c->probs[best] = -1.0f;
        }
        rc = 0;
    }
    geoloc_image_free(&img);
    return rc;
}

int cli_classify_imagenet(int argc, char **argv) {
    const char *cmd = CLASSIFY_SPEC.name;
    classify_args a = {.top = 5};
    int n_images;
    int parsed = cli_parse(&CLASSIFY_SPEC, &a, argc, argv, &n_images);
    if (parsed != CLI_RUN) return parsed;
    const char *weights = a.weights;
    classifier c = {0};
    geoloc_error err = {0};
    if (classifier_open(&c, weights, &err)) {
        fprintf(stderr, "%s: %s\n", cmd, err.message);
        if (!c.st) fprintf(stderr, "%s: fetch and import the ImageNet weights with tools/fetch-backbone.sh\n", cmd);
        classifier_free(&c);
        return 1;
    }
    int failed = 0;
    for (int k = 1; k <= n_images && !ferror(stdout); k++)
        if (classify(&c, argv[k], (int)a.top, &err)) {
            fprintf(stderr, "%s: %s\n", cmd, err.message);
            failed++;
        }
    classifier_free(&c);
    if (failed) fprintf(stderr, "%s: %d of %d images could not be classified\n", cmd, failed, n_images);
    return failed == 0 ? CLI_EXIT_OK : failed < n_images ? CLI_EXIT_SKIPPED : CLI_EXIT_FAILURE;
}
