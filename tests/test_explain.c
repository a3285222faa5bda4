/* Occlusion sensitivity (geoloc/explain.h) on a tiny model built in memory
 * (tiny_model.h: a random ResNet-18 on 64-pixel crops, 3 nested partitions):
 * - the patch grid: cell counts, clipped edge patches, a stride that does
 *   not divide the crop, written out by hand from the header's definition;
 * - the key check: every value of the grid equals the drop computed by brute
 *   force, geoloc_predict (center crop, batch 1) on an occluded copy the test
 *   paints itself (grey = the ImageNet mean rounded to 8 bits, at the patch
 *   the spec places), within 1e-5, for the answer's cell and for another cell
 *   chosen with opt.cell, hierarchically and with one partition; p_full
 *   equals the center-crop prediction of the original photo;
 * - bad options and a cell outside the answering partition refused, the
 *   result empty;
 * - the overlay PNG, decoded: of the documented size; at the centre of the
 *   cell of the largest drop the enlarged view blended with red, at the
 *   most negative drop's with blue, each at the documented opacity
 *   (0.75 |drop| / max_abs_drop); the view outside the crop dimmed to 45 %;
 *   the crop's box white; the legend bar blue at the left and red at the
 *   right; text in the legend's bottom line, left and right; a missing folder
 *   or a path that is a folder refused (E_IO naming the path) with nothing
 *   written and no temporary file left. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <dirent.h>
#include <string.h>
#include <sys/stat.h>

#include "geoloc/explain.h"
#include "test_util.h"
#include "tiny_model.h"

static geoloc_model *model;

static void check_spans(void) {
    int s, n;
    CHECK(geoloc_explain_grid_cells(224, 16) == 14, "224 / 16: 14 cells");
    CHECK(geoloc_explain_grid_cells(64, 7) == 10, "64 / 7: 10 cells, the last 1 pixel wide");
    CHECK(geoloc_explain_grid_cells(64, 64) == 1, "one cell");
    /* 224, patch 32, stride 16: cell 0 covers [0,16), patch [-8,24) clipped to [0,24) */
    geoloc_explain_patch_span(224, 32, 16, 0, &s, &n);
    CHECK(s == 0 && n == 24, "first patch clipped: %d+%d", s, n);
    geoloc_explain_patch_span(224, 32, 16, 5, &s, &n); /* [80,96): [72,104) */
    CHECK(s == 72 && n == 32, "inner patch: %d+%d", s, n);
    geoloc_explain_patch_span(224, 32, 16, 13, &s, &n); /* [208,224): [200,232) -> [200,224) */
    CHECK(s == 200 && n == 24, "last patch clipped: %d+%d", s, n);
    /* 64, patch 10, stride 7: cell 0 [0,7): floor(-3/2) = -2 -> [0,8); cell 4 [28,35): [26,36);
     * cell 9 [63,64): [58,68) -> [58,64) */
    geoloc_explain_patch_span(64, 10, 7, 0, &s, &n);
    CHECK(s == 0 && n == 8, "odd first patch: %d+%d", s, n);
    geoloc_explain_patch_span(64, 10, 7, 4, &s, &n);
    CHECK(s == 26 && n == 10, "odd inner patch: %d+%d", s, n);
    geoloc_explain_patch_span(64, 10, 7, 9, &s, &n);
    CHECK(s == 58 && n == 6, "narrow last cell: %d+%d", s, n);
    geoloc_explain_patch_span(64, 64, 64, 0, &s, &n);
    CHECK(s == 0 && n == 64, "one patch over everything: %d+%d", s, n);
}

/* A photo of w x h pixels with structure everywhere. */
static geoloc_image make_photo(int w, int h) {
    geoloc_image img = {.width = w, .height = h, .rgb = malloc((size_t)w * h * 3)};
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            uint8_t *p = img.rgb + ((size_t)y * w + x) * 3;
            p[0] = (uint8_t)(x * 255 / w);
            p[1] = (uint8_t)((x / 6 + y / 6) % 2 ? 220 : 30);
            p[2] = (uint8_t)(y * 255 / h ^ (x * 7));
        }
    return img;
}

/* The target's probability with a predictor of batch 1 on img (center crop). */
static float prob_of(geoloc_predictor *p, const geoloc_image *img, int cls) {
    geoloc_prediction pred;
    size_t n = geoloc_predictor_classes(p);
    float *dist = malloc(n * sizeof *dist);
    geoloc_error err = {0};
    CHECK(geoloc_predict(p, img, 1, &pred, &dist, &err) == GEOLOC_OK, "predict: %s", err.message);
    float v = dist[cls];
    free(dist);
    return v;
}

/* Compares r's grid with drops computed one occluded copy at a time. */
static void check_brute_force(const geoloc_explain_result *r, int partition, const char *what) {
    geoloc_predict_options po = geoloc_predict_options_default();
    po.crops = GEOLOC_CROPS_CENTER;
    po.partition = partition;
    po.batch = 1;
    geoloc_predictor *p = NULL;
    geoloc_error err = {0};
    CHECK(geoloc_predictor_create(model, &po, &p, &err) == GEOLOC_OK, "%s", err.message);
    if (!p) return;
    /* the ImageNet mean, 0.485 0.456 0.406, in 8 bits */
    const uint8_t grey[3] = {(uint8_t)lround(0.485 * 255), (uint8_t)lround(0.456 * 255), (uint8_t)lround(0.406 * 255)};
    size_t bytes = (size_t)r->view.width * r->view.height * 3;
    geoloc_image copy = {.width = r->view.width, .height = r->view.height, .rgb = malloc(bytes)};
    double worst = 0;
    for (int row = 0; row < r->rows; row++)
        for (int col = 0; col < r->cols; col++) {
            memcpy(copy.rgb, r->view.rgb, bytes);
            /* the patch of cell (row, col): centred on the cell, clipped to the crop */
            int lo_x = col * r->stride, hi_x = lo_x + r->stride < r->size ? lo_x + r->stride : r->size;
            int lo_y = row * r->stride, hi_y = lo_y + r->stride < r->size ? lo_y + r->stride : r->size;
            int x0 = (int)floor((lo_x + hi_x - r->patch) / 2.0), y0 = (int)floor((lo_y + hi_y - r->patch) / 2.0);
            for (int y = y0; y < y0 + r->patch; y++)
                for (int x = x0; x < x0 + r->patch; x++)
                    if (x >= 0 && y >= 0 && x < r->size && y < r->size)
                        memcpy(copy.rgb + ((size_t)(r->crop.y + y) * copy.width + (size_t)(r->crop.x + x)) * 3,
                               grey, 3);
            double want = (double)r->p_full - prob_of(p, &copy, r->target_class);
            double d = fabs(want - r->drop[row * r->cols + col]);
            if (d > worst) worst = d;
        }
    CHECK(worst <= 1e-5, "%s: grid vs brute force: largest difference %g", what, worst);
    CHECK(r->max_abs_drop > 1e-4, "%s: occlusion changes the probability (max |drop| %g)", what,
          (double)r->max_abs_drop);
    free(copy.rgb);
    geoloc_predictor_free(p);
}

/* p_full and the answer equal a center-crop prediction of the photo itself. */
static void check_full(const geoloc_explain_result *r, const geoloc_image *photo, int partition) {
    geoloc_predict_options po = geoloc_predict_options_default();
    po.crops = GEOLOC_CROPS_CENTER;
    po.partition = partition;
    geoloc_predictor *p = NULL;
    geoloc_error err = {0};
    CHECK(geoloc_predictor_create(model, &po, &p, &err) == GEOLOC_OK, "%s", err.message);
    if (!p) return;
    float full = prob_of(p, photo, r->target_class);
    CHECK(fabsf(full - r->p_full) <= 1e-5f, "p_full %g, center-crop prediction %g", (double)r->p_full, (double)full);
    geoloc_predictor_free(p);
}

static void check_grid(const geoloc_image *photo) {
    geoloc_explain_options o = geoloc_explain_options_default();
    o.patch = 10;
    o.stride = 7; /* 10 x 10 cells, the last one pixel wide */
    o.batch = 6;  /* 101 images: 17 batches, the last partial */
    geoloc_explain_result r;
    geoloc_error err = {0};
    CHECK(geoloc_explain(model, photo, &o, &r, &err) == GEOLOC_OK, "explain: %s", err.message);
    if (!r.drop) return;
    CHECK(r.rows == 10 && r.cols == 10 && r.size == 64, "grid %dx%d of %d", r.rows, r.cols, r.size);
    CHECK(r.images == 101 && r.batches == 17, "%zu images in %zu batches", r.images, r.batches);
    CHECK(r.partition == 2 && r.target_class == r.answer.top[0].cls && r.target == r.answer.top[0].cell,
          "hierarchical: the answer's cell of the finest partition is the target");
    /* 96x80 resized to a shorter side of 64 * 256 / 224 = 73: 87x73, center crop at (12, 4) */
    CHECK(r.view.width == 87 && r.view.height == 73 && r.crop.x == 12 && r.crop.y == 4, "view %dx%d crop at %d,%d",
          r.view.width, r.view.height, r.crop.x, r.crop.y);
    check_full(&r, photo, -1);
    check_brute_force(&r, -1, "answer's cell");
    int other = (r.target_class + 1) % (int)model->partitions[2]->n;
    geoloc_explain_free(&r);

    o.has_cell = 1;
    o.cell = model->partitions[2]->cell[other];
    CHECK(geoloc_explain(model, photo, &o, &r, &err) == GEOLOC_OK, "explain --cell: %s", err.message);
    if (!r.drop) return;
    CHECK(r.target_class == other && r.target == o.cell, "--cell selects class %d (got %d)", other, r.target_class);
    check_full(&r, photo, -1);
    check_brute_force(&r, -1, "another cell");
    geoloc_explain_free(&r);

    o = geoloc_explain_options_default(); /* defaults: patch 64 / 7 = 9, stride ceil(64 / 14) = 5: 13 x 13 */
    o.partition = 1;
    CHECK(geoloc_explain(model, photo, &o, &r, &err) == GEOLOC_OK, "explain partition 1: %s", err.message);
    if (!r.drop) return;
    CHECK(r.patch == 9 && r.stride == 5 && r.rows == 13 && r.cols == 13 && r.partition == 1,
          "defaults: patch %d stride %d grid %dx%d", r.patch, r.stride, r.rows, r.cols);
    check_full(&r, photo, 1);
    check_brute_force(&r, 1, "one partition");
    geoloc_explain_free(&r);
}

static void check_refusals(const geoloc_image *photo) {
    geoloc_explain_options o = geoloc_explain_options_default();
    geoloc_explain_result r;
    geoloc_error err = {0};
    o.has_cell = 1;
    o.cell = model->partitions[0]->cell[0]; /* the coarse root: not a cell of the finest partition */
    CHECK(geoloc_explain(model, photo, &o, &r, &err) == GEOLOC_E_ARG && strstr(err.message, "not a cell of partition fine"),
          "a cell of another partition refused: %s", err.message);
    CHECK(!r.drop && !r.view.rgb, "nothing kept after a refusal");
    o = geoloc_explain_options_default();
    o.patch = 65;
    CHECK(geoloc_explain(model, photo, &o, &r, &err) == GEOLOC_E_ARG && strstr(err.message, "patch 65"),
          "patch larger than the crop: %s", err.message);
    o = geoloc_explain_options_default();
    o.stride = -1;
    CHECK(geoloc_explain(model, photo, &o, &r, &err) == GEOLOC_E_ARG, "negative stride");
    o = geoloc_explain_options_default();
    o.partition = 3;
    CHECK(geoloc_explain(model, photo, &o, &r, &err) == GEOLOC_E_ARG, "partition out of range");
    geoloc_image empty = {0};
    CHECK(geoloc_explain(model, &empty, NULL, &r, &err) == GEOLOC_E_ARG, "a photo without pixels");
}

/* The opacity a of the blend out = ref + a (colour - ref) that fits out
 * best (least squares); *residual the largest channel's misfit. */
static double blend_alpha(const uint8_t *out, const uint8_t *ref, const uint8_t colour[3], double *residual) {
    double num = 0, den = 0;
    for (int c = 0; c < 3; c++) {
        num += (double)(out[c] - ref[c]) * (colour[c] - ref[c]);
        den += (double)(colour[c] - ref[c]) * (colour[c] - ref[c]);
    }
    double a = den > 0 ? num / den : 0;
    *residual = 0;
    for (int c = 0; c < 3; c++) *residual = fmax(*residual, fabs(out[c] - (ref[c] + a * (colour[c] - ref[c]))));
    return a;
}

/* At the centre of grid cell (row, col) of the overlay img (the view
 * enlarged k times into ref), the view blended with colour at opacity
 * 0.75 |drop| / max_abs_drop. */
static void check_shaded(const geoloc_explain_result *r, const geoloc_image *img, const geoloc_image *ref, double k,
                         int cell, const uint8_t colour[3], const char *what) {
    int row = cell / r->cols, col = cell % r->cols;
    int x = (int)((r->crop.x + col * r->stride + r->stride / 2.0) * k);
    int y = (int)((r->crop.y + row * r->stride + r->stride / 2.0) * k);
    size_t at = ((size_t)y * img->width + x) * 3;
    double residual, a = blend_alpha(img->rgb + at, ref->rgb + at, colour, &residual);
    double want = 0.75 * fabs(r->drop[cell]) / r->max_abs_drop;
    CHECK(fabs(a - want) < 0.03 && residual <= 3, "%s (drop %g) at %d,%d: %d,%d,%d over %d,%d,%d is opacity %.3f "
          "(misfit %.1f), want %.3f", what, (double)r->drop[cell], x, y, img->rgb[at], img->rgb[at + 1],
          img->rgb[at + 2], ref->rgb[at], ref->rgb[at + 1], ref->rgb[at + 2], a, residual, want);
}

/* Pixels with every channel above 200 in rows y0 .. y1 - 1, columns x0 .. x1 - 1. */
static int bright_pixels(const geoloc_image *img, int x0, int x1, int y0, int y1) {
    int n = 0;
    for (int y = y0; y < y1; y++)
        for (int x = x0; x < x1; x++) {
            const uint8_t *p = img->rgb + ((size_t)y * img->width + x) * 3;
            n += p[0] > 200 && p[1] > 200 && p[2] > 200;
        }
    return n;
}

/* The pixels of the overlay written at path (see the file's comment). */
static void check_overlay_pixels(const geoloc_explain_result *r, const geoloc_image *back) {
    const uint8_t red[3] = {215, 25, 28}, blue[3] = {44, 123, 230};
    double k = 512.0 / 73;
    geoloc_image ref = {0};
    geoloc_error err = {0};
    CHECK(geoloc_image_resize(&r->view, back->width, 512, &ref, &err) == GEOLOC_OK, "resize: %s", err.message);
    if (!ref.rgb) return;
    int hi = 0, lo = 0;
    for (int i = 1; i < r->rows * r->cols; i++) {
        if (r->drop[i] > r->drop[hi]) hi = i;
        if (r->drop[i] < r->drop[lo]) lo = i;
    }
    CHECK(r->drop[hi] > 0 && r->drop[lo] < -0.1f * r->max_abs_drop, "the grid has drops %g and rises %g",
          (double)r->drop[hi], (double)r->drop[lo]);
    check_shaded(r, back, &ref, k, hi, red, "the largest drop");
    check_shaded(r, back, &ref, k, lo, blue, "the largest rise");
    /* outside the crop (12 view pixels wide at the left): dimmed to 45 % */
    size_t out = ((size_t)256 * back->width + 20) * 3;
    int dim = 1;
    for (int c = 0; c < 3; c++) dim &= abs(back->rgb[out + c] - ref.rgb[out + c] * 45 / 100) <= 1;
    CHECK(dim, "outside the crop %d,%d,%d, the view %d,%d,%d dimmed", back->rgb[out], back->rgb[out + 1],
          back->rgb[out + 2], ref.rgb[out], ref.rgb[out + 1], ref.rgb[out + 2]);
    /* the crop's box: the 2 pixels left of the crop's first column */
    int bx = (int)lround(12 * k), box = 1;
    for (int x = bx - 2; x < bx; x++)
        for (int c = 0; c < 3; c++) box &= back->rgb[((size_t)256 * back->width + x) * 3 + c] == 255;
    CHECK(box, "the crop's box outlined in white at x = %d", bx - 2);
    /* the legend bar, 8 pixels below the photo: from 1/10 to 9/10 of the width */
    const uint8_t *left = back->rgb + ((size_t)(512 + 12) * back->width + back->width / 10 + 1) * 3;
    const uint8_t *right = back->rgb + ((size_t)(512 + 12) * back->width + back->width * 9 / 10 - 2) * 3;
    CHECK(left[2] > left[0] + 40 && right[0] > right[2] + 40, "legend: blue %d,%d,%d to red %d,%d,%d", left[0],
          left[1], left[2], right[0], right[1], right[2]);
    /* the bottom line's text: the cell at the left, what the colours mean at the right */
    int w = back->width, text_l = bright_pixels(back, 0, w / 3, 512 + 44, 576),
        text_r = bright_pixels(back, w / 2, w, 512 + 44, 576);
    CHECK(text_l > 50 && text_r > 100, "legend text: %d and %d bright pixels", text_l, text_r);
    geoloc_image_free(&ref);
}

/* The names in dir other than . and .., joined by spaces. */
static void list_dir(const char *dir, char *out, size_t size) {
    DIR *d = opendir(dir);
    struct dirent *e;
    out[0] = 0;
    while (d && (e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
            snprintf(out + strlen(out), size - strlen(out), "%s ", e->d_name);
    if (d) closedir(d);
}

static void check_png(const geoloc_image *photo) {
    geoloc_explain_options o = geoloc_explain_options_default();
    o.stride = 16;
    geoloc_explain_result r;
    geoloc_error err = {0};
    CHECK(geoloc_explain(model, photo, &o, &r, &err) == GEOLOC_OK, "explain: %s", err.message);
    if (!r.drop) return;
    char dir[] = "/tmp/geoloc_test_explain_XXXXXX", path[256], missing[256], folder[256], names[1024];
    test_make_temp_dir(dir);
    snprintf(path, sizeof path, "%s/overlay.png", dir);
    snprintf(missing, sizeof missing, "%s/no/overlay.png", dir);
    snprintf(folder, sizeof folder, "%s/folder", dir);
    CHECK(geoloc_explain_write_png(&r, path, &err) == GEOLOC_OK, "write: %s", err.message);
    geoloc_image back = {0};
    CHECK(geoloc_image_load(path, NULL, &back, &err) == GEOLOC_OK, "decode: %s", err.message);
    /* the view (87x73) enlarged to a shorter side of 512, and a 64-pixel legend below */
    int want_w = (int)lround(87 * 512.0 / 73);
    CHECK(back.width == want_w && back.height == 512 + 64, "overlay %dx%d, want %dx%d", back.width, back.height,
          want_w, 512 + 64);
    if (back.rgb && back.width == want_w && back.height == 512 + 64) check_overlay_pixels(&r, &back);
    geoloc_image_free(&back);
    CHECK(geoloc_explain_write_png(&r, missing, &err) == GEOLOC_E_IO && strstr(err.message, missing),
          "a missing folder: %s", err.message);
    CHECK(access(missing, F_OK) != 0, "nothing written in a missing folder");
    mkdir(folder, 0700);
    CHECK(geoloc_explain_write_png(&r, folder, &err) == GEOLOC_E_IO && strstr(err.message, folder),
          "a path that is a folder: %s", err.message);
    list_dir(dir, names, sizeof names);
    CHECK(strstr(names, "overlay.png ") && strstr(names, "folder ") && strlen(names) == strlen("overlay.png folder "),
          "no temporary file left: %s", names);
    geoloc_explain_free(&r);
    test_remove_tree(dir);
}

int main(void) {
    model = tiny_model_create();
    geoloc_image photo = make_photo(96, 80);
    check_spans();
    check_grid(&photo);
    check_refusals(&photo);
    check_png(&photo);
    geoloc_image_free(&photo);
    geoloc_model_free(model);
    TEST_END();
}
