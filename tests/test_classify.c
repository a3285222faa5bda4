/* geoloc_classify_top with the imported Keras ResNet-50 on the shared
 * imagenet-check photos: the top-1 class and top-1/top-2 probabilities of
 * expected.csv (the Keras model's own answers, within 0.03), the ranking,
 * a full distribution summing to 1, the same answer from a decoded image as
 * from its file, and the errors; in int8, calibrated on dev photos, the same top-1. Needs the weights of tools/fetch-backbone.sh
 * ($GEOLOC_BACKBONE or models/) and the shared data; skips without them. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "geoloc/classify.h"
#include "test_util.h"

/* Splits a CSV line (with "quoted, fields") in place into up to max fields. */
static int split_csv(char *line, char **field, int max) {
    int n = 0;
    char *w = line;
    for (char *p = line; n < max;) {
        field[n++] = w;
        int quoted = *p == '"';
        if (quoted) p++;
        while (*p && (quoted ? *p != '"' : (*p != ',' && *p != '\n' && *p != '\r'))) *w++ = *p++;
        if (quoted && *p == '"') p++;
        char separator = *p++; /* read before the terminator may overwrite it */
        *w++ = '\0';
        if (separator != ',') break;
    }
    return n;
}

/* Checks one photo of expected.csv: top-1 index and probability, top-2 probability. */
static void check_photo(geoloc_classifier *c, const char *dir, char **f) {
    char path[8400];
    snprintf(path, sizeof path, "%s/%s", dir, f[0]);
    geoloc_class_score top[5];
    size_t n = 0;
    geoloc_error err;
    CHECK(geoloc_classify_top(c, path, 5, top, &n, &err) == GEOLOC_OK && n == 5, "%s: %s", f[0], err.message);
    if (n != 5) return;
    CHECK(top[0].index == atoi(f[1]), "%s: top-1 class %d, Keras %s", f[0], top[0].index, f[1]);
    CHECK(fabs(top[0].prob - atof(f[3])) <= 0.03, "%s: top-1 p=%.4f, Keras %s", f[0], top[0].prob, f[3]);
    CHECK(fabs(top[1].prob - atof(f[5])) <= 0.03, "%s: top-2 p=%.4f, Keras %s", f[0], top[1].prob, f[5]);
    int ranked = 1;
    for (size_t r = 1; r < n; r++) ranked &= top[r].prob <= top[r - 1].prob && top[r].index != top[r - 1].index;
    CHECK(ranked, "%s: top-5 not in decreasing probability", f[0]);
    CHECK(top[0].name && top[0].name[0], "%s: the top class has no name", f[0]);

    /* the same answer from the decoded image */
    geoloc_image img = {0};
    geoloc_decode_options opt = {.min_shorter_side = 224};
    geoloc_class_score again[5];
    size_t m = 0;
    CHECK(geoloc_image_load(path, &opt, &img, &err) == GEOLOC_OK &&
              geoloc_classify_image_top(c, &img, 5, again, &m, &err) == GEOLOC_OK,
          "%s: %s", f[0], err.message);
    int same = m == n;
    for (size_t r = 0; same && r < n; r++) same = again[r].index == top[r].index && again[r].prob == top[r].prob;
    CHECK(same, "%s: the decoded image is classified differently", f[0]);
    geoloc_image_free(&img);
}

/* Every class of a synthetic image: probabilities summing to 1, each once. */
static void check_full_distribution(geoloc_classifier *c) {
    size_t classes = geoloc_classifier_classes(c);
    CHECK(classes == 1000, "%zu classes", classes);
    geoloc_image img = {.width = 300, .height = 200, .rgb = malloc(300 * 200 * 3)};
    for (size_t k = 0; k < 300 * 200 * 3; k++) img.rgb[k] = (uint8_t)(k * 7 % 251);
    geoloc_class_score *all = malloc((classes + 5) * sizeof *all);
    char *seen = calloc(classes, 1);
    size_t n = 0;
    geoloc_error err;
    CHECK(geoloc_classify_image_top(c, &img, classes + 5, all, &n, &err) == GEOLOC_OK && n == classes,
          "k > classes: %zu answers", n);
    double sum = 0;
    int once = 1;
    for (size_t r = 0; r < n; r++) {
        sum += all[r].prob;
        once &= all[r].index >= 0 && (size_t)all[r].index < classes && !seen[all[r].index];
        if (once) seen[all[r].index] = 1;
    }
    CHECK(fabs(sum - 1) < 1e-3 && once, "sum of the probabilities %.6f, each class once: %d", sum, once);
    geoloc_image empty = {0};
    CHECK(geoloc_classify_image_top(c, &empty, 1, all, &n, &err) != GEOLOC_OK && n == 0, "an empty image is refused");
    free(all);
    free(seen);
    free(img.rgb);
}

/* int8: calibrated on dev photos (not the check photos), then the Keras model's top-1
 * class of every check photo, with its probability within 0.1 of Keras's. */
static void check_int8(geoloc_classifier *c, const char *data, const char *dir, char **names, char **top1,
                       char **prob, int photos) {
    geoloc_error err;
    geoloc_class_score top[1];
    size_t n = 0;
    CHECK(geoloc_classifier_set_precision(c, GEOLOC_PRECISION_INT8, &err) == GEOLOC_E_ARG, "int8 before calibration");
    CHECK(geoloc_classifier_set_precision(c, GEOLOC_PRECISION_CALIBRATE, &err) == GEOLOC_OK, "%s", err.message);
    char list[4300], path[8600];
    snprintf(list, sizeof list, "%s/im2gps3k-dev/im2gps3k_dev.csv", data);
    size_t size;
    char *text = test_read_text(list, &size);
    int calibrated = 0;
    for (char *line = text, *next; line && *line && calibrated < 48; line = next) {
        next = strchr(line, '\n');
        if (next) *next++ = '\0';
        char *comma = strchr(line, ',');
        if (!comma || line == text) continue;
        *comma = '\0';
        snprintf(path, sizeof path, "%s/im2gps3k-dev/images/%s", data, line);
        if (geoloc_classify_top(c, path, 1, top, &n, &err) == GEOLOC_OK) calibrated++;
    }
    free(text);
    CHECK(calibrated == 48, "%d dev photos calibrated", calibrated);
    CHECK(geoloc_classifier_set_precision(c, GEOLOC_PRECISION_INT8, &err) == GEOLOC_OK, "%s", err.message);
    for (int i = 0; i < photos; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        CHECK(geoloc_classify_top(c, path, 1, top, &n, &err) == GEOLOC_OK, "%s: %s", names[i], err.message);
        CHECK(top[0].index == atoi(top1[i]) && fabs(top[0].prob - atof(prob[i])) <= 0.1,
              "int8 %s: class %d p=%.3f, Keras %s p=%s", names[i], top[0].index, top[0].prob, top1[i], prob[i]);
    }
}

int main(int argc, char **argv) {
    geoloc_classifier *c = NULL;
    geoloc_error err;
    CHECK(geoloc_classifier_open("/nonexistent/w.safetensors", &c, &err) == GEOLOC_E_IO && c == NULL &&
              strstr(err.message, "/nonexistent/w.safetensors"),
          "missing weights file: %s", err.message);
    char weights[4200], dir[4200], csv_path[4300];
    const char *env = getenv("GEOLOC_BACKBONE");
    if (env) snprintf(weights, sizeof weights, "%s", env);
    else snprintf(weights, sizeof weights, "%s/../../models/resnet50-imagenet.safetensors", argc > 2 ? argv[2] : "tests/data");
    snprintf(dir, sizeof dir, "%s/imagenet-check", argc > 1 ? argv[1] : "../shared/data");
    snprintf(csv_path, sizeof csv_path, "%s/expected.csv", dir);
    if (access(weights, R_OK) != 0 || access(csv_path, R_OK) != 0) {
        printf("SKIP: needs %s (tools/fetch-backbone.sh) and %s (shared data)\n", weights, csv_path);
        return 77;
    }
    CHECK(geoloc_classifier_open(weights, &c, &err) == GEOLOC_OK, "%s", err.message);
    if (!c) TEST_END();
    size_t size;
    char *text = test_read_text(csv_path, &size);
    int photos = 0;
    char *names[64], *top1[64], *prob[64];
    for (char *line = text, *next; line && *line && photos < 64; line = next) {
        next = strchr(line, '\n');
        if (next) *next++ = '\0';
        char *f[6];
        if (split_csv(line, f, 6) == 6 && strcmp(f[0], "image") != 0) {
            check_photo(c, dir, f);
            names[photos] = f[0], top1[photos] = f[1], prob[photos] = f[3];
            photos++;
        }
    }
    CHECK(photos >= 5, "%d photos in expected.csv", photos);
    check_full_distribution(c);
    check_int8(c, argc > 1 ? argv[1] : "../shared/data", dir, names, top1, prob, photos);
    free(text);
    geoloc_classifier_free(c);
    TEST_END();
}
