/* geoloc classify-imagenet: the top ImageNet classes of photos with an
 * ImageNet network (e.g. the imported Keras ResNet-50), the check that the
 * engine and the imported weights compute what the original model does. */
#include <stdio.h>

#include "cli/cli_options.h"
#include "cli/cli_photos.h"
#include "cli/commands.h"
#include "geoloc/classify.h"

typedef struct {
    const char *weights;
    long top;
    int precision;
} classify_args;

static const cli_option CLASSIFY_OPTIONS[] = {
    CLI_OPTION("weights", 'w', CLI_STRING, classify_args, weights, "FILE",
               "ImageNet network (geoloc weights import-keras;\ntools/fetch-backbone.sh)", .required = 1),
    CLI_OPTION("top", 'k', CLI_INT, classify_args, top, "K", "classes printed per image", .min = 1, .max = 1000),
    CLI_OPTION("precision", 0, CLI_ENUM, classify_args, precision, NULL,
               "the network's arithmetic: float32, or int8 (needs\nweights made by geoloc weights quantize)",
               .choices = cli_precision_choices),
    CLI_END};

static const cli_spec CLASSIFY_SPEC = {
    "geoloc classify-imagenet", "IMAGE...", 1, -1,
    "Prints the K most probable classes of each image: central square crop, resize\n"
    "to 224x224, the normalisation the weights file names (geoloc.input: caffe_bgr\n"
    "for the Keras ResNet-50), then the network.\n",
    CLASSIFY_OPTIONS,
    "Exit status: 0 when every image was classified, 3 when some could not be,\n"
    "1 when none could be, 2 on a usage error.\n"};

/* Classifies one image and prints its top k; 0, or -1 with err set. */
static int classify(geoloc_classifier *c, const char *path, int k, geoloc_error *err) {
    geoloc_class_score top[1000]; /* --top is at most 1000 */
    size_t n;
    if (geoloc_classify_top(c, path, (size_t)k, top, &n, err) != GEOLOC_OK) return -1;
    printf("%s\n", path);
    for (size_t r = 0; r < n; r++)
        printf("  %zu. %4d %-40s %.4f\n", r + 1, top[r].index, top[r].name, (double)top[r].prob);
    return 0;
}

int cli_classify_imagenet(int argc, char **argv) {
    const char *cmd = CLASSIFY_SPEC.name;
    classify_args a = {.top = 5};
    int n_images;
    int parsed = cli_parse(&CLASSIFY_SPEC, &a, argc, argv, &n_images);
    if (parsed != CLI_RUN) return parsed;
    const char *weights = a.weights;
    geoloc_classifier *c;
    geoloc_error err = {0};
    geoloc_status s = geoloc_classifier_open(weights, &c, &err);
    if (s == GEOLOC_OK && geoloc_classifier_set_precision(c, (geoloc_precision)a.precision, &err) != GEOLOC_OK) {
        fprintf(stderr, "%s: %s: %s\n", cmd, weights, err.message);
        geoloc_classifier_free(c);
        return 1;
    }
    if (s != GEOLOC_OK) {
        fprintf(stderr, "%s: %s\n", cmd, err.message);
        if (s == GEOLOC_E_IO || s == GEOLOC_E_PARSE)
            fprintf(stderr, "%s: fetch and import the ImageNet weights with tools/fetch-backbone.sh\n", cmd);
        return 1;
    }
    int failed = 0;
    for (int k = 1; k <= n_images && !ferror(stdout); k++)
        if (classify(c, argv[k], (int)a.top, &err)) {
            fprintf(stderr, "%s: %s\n", cmd, err.message);
            failed++;
        }
    geoloc_classifier_free(c);
    if (failed) fprintf(stderr, "%s: %d of %d images could not be classified\n", cmd, failed, n_images);
    return failed == 0 ? CLI_EXIT_OK : failed < n_images ? CLI_EXIT_SKIPPED : CLI_EXIT_FAILURE;
}
