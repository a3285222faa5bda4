/* Transforms against torchvision / PIL reference values (tests/data/
 * transform_ref.txt, written by tools/gen_transform_ref.py on synthetic
 * images), plus properties of the random resized crop and the generator.
 *
 * Exact: resize-shorter sizes, center / five / three crop rectangles,
 * random-resized-crop rectangles for given uniform draws, normalised values
 * (float32 bits), flips, and the fused path against the same steps done one
 * by one. Within 1 (8-bit levels): the antialiased resize against torchvision
 * F.resize(uint8 tensor, antialias=True) (float arithmetic, rounded once);
 * within 2 against PIL's resize (which rounds to 8 bits between its passes). */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "geoloc/image.h"
#include "geoloc/transform.h"
#include "test_util.h"

#define MAX_TOK 20000

static void img_release(geoloc_image *im) {
    free(im->rgb); /* the transforms allocate with malloc, as geoloc_image_free frees */
    im->rgb = NULL;
}

static int hex_decode(const char *hex, uint8_t *out, size_t n) {
    if (strlen(hex) != 2 * n) return -1;
    for (size_t i = 0; i < n; i++) {
        unsigned v;
        if (sscanf(hex + 2 * i, "%2x", &v) != 1) return -1;
        out[i] = (uint8_t)v;
    }
    return 0;
}

/* ---- reference file ---- */

typedef struct named_image {
    char name[8];
    geoloc_image img;
} named_image;

static named_image images[16];
static int n_images;

static const geoloc_image *find_image(const char *name) {
    for (int i = 0; i < n_images; i++)
        if (!strcmp(images[i].name, name)) return &images[i].img;
    return NULL;
}

typedef struct draws {
    const double *u;
    int n, used;
} draws;

static double next_draw(void *ctx) {
    draws *d = ctx;
    return d->used < d->n ? d->u[d->used++] : 0.5;
}

static int max_diff(const uint8_t *a, const uint8_t *b, size_t n, size_t *n_diff) {
    int m = 0;
    *n_diff = 0;
    for (size_t i = 0; i < n; i++) {
        int d = abs((int)a[i] - (int)b[i]);
        if (d) ++*n_diff;
        if (d > m) m = d;
    }
    return m;
}

static int resize_cases, resize_exact_px, resize_px, pil_worst, tv_worst;

static void check_line(char **tok, int nt, uint8_t *buf, size_t bufsize, double *u) {
    const char *kind = tok[0];
    geoloc_error err;
    if (!strcmp(kind, "size")) {
        int w = atoi(tok[1]), h = atoi(tok[2]), s = atoi(tok[3]), ow, oh;
        CHECK(geoloc_resize_shorter_size(w, h, s, &ow, &oh) == GEOLOC_OK && ow == atoi(tok[4]) &&
                  oh == atoi(tok[5]),
              "resize shorter %dx%d to %d: %dx%d, want %sx%s", w, h, s, ow, oh, tok[4], tok[5]);
    } else if (!strcmp(kind, "center") || !strcmp(kind, "five") || !strcmp(kind, "three")) {
        int w = atoi(tok[1]), h = atoi(tok[2]);
        geoloc_rect r[5];
        int n, base;
        geoloc_status st;
        if (!strcmp(kind, "center")) {
            st = geoloc_center_crop_rect(w, h, atoi(tok[3]), atoi(tok[4]), r), n = 1, base = 5;
        } else if (!strcmp(kind, "five")) {
            st = geoloc_five_crop_rects(w, h, atoi(tok[3]), atoi(tok[4]), r), n = 5, base = 5;
        } else {
            st = geoloc_three_crop_rects(w, h, r), n = 3, base = 3;
        }
        CHECK(st == GEOLOC_OK && nt == base + 4 * n, "%s %dx%d: status %d", kind, w, h, (int)st);
        for (int k = 0; k < n && st == GEOLOC_OK; k++) {
            char **e = tok + base + 4 * k;
            CHECK(r[k].x == atoi(e[0]) && r[k].y == atoi(e[1]) && r[k].width == atoi(e[2]) &&
                      r[k].height == atoi(e[3]),
                  "%s %dx%d crop %d: %d,%d %dx%d, want %s,%s %sx%s", kind, w, h, k, r[k].x, r[k].y,
                  r[k].width, r[k].height, e[0], e[1], e[2], e[3]);
        }
    } else if (!strcmp(kind, "rrc")) {
        int w = atoi(tok[1]), h = atoi(tok[2]), n = atoi(tok[7]);
        geoloc_rrc_params p = {atof(tok[3]), atof(tok[4]), atof(tok[5]), atof(tok[6])};
        for (int k = 0; k < n; k++) u[k] = strtod(tok[8 + k], NULL);
        draws d = {u, n, 0};
        geoloc_rect r;
        char **e = tok + 8 + n;
        geoloc_status st = geoloc_random_resized_crop_rect_with(w, h, &p, next_draw, &d, &r);
        CHECK(st == GEOLOC_OK && d.used == n && r.x == atoi(e[0]) && r.y == atoi(e[1]) &&
                  r.width == atoi(e[2]) && r.height == atoi(e[3]),
              "rrc %dx%d (draws %d of %d): %d,%d %dx%d, want %s,%s %sx%s", w, h, d.used, n, r.x,
              r.y, r.width, r.height, e[0], e[1], e[2], e[3]);
    } else if (!strcmp(kind, "norm")) {
        geoloc_norm norm = !strcmp(tok[1], "imagenet") ? GEOLOC_NORM_IMAGENET : GEOLOC_NORM_CAFFE;
        int plane = atoi(tok[2]), bad = 0;
        for (int v = 0; v < 256; v++) {
            uint32_t want = (uint32_t)strtoul(tok[3 + v], NULL, 16), got;
            float f = geoloc_norm_value(norm, plane, v);
            memcpy(&got, &f, 4);
            if (got != want && bad++ < 3)
                fprintf(stderr, "norm %s plane %d v %d: %08x want %08x\n", tok[1], plane, v, got, want);
        }
        CHECK(bad == 0, "norm %s plane %d: %d values differ", tok[1], plane, bad);
    } else if (!strcmp(kind, "image")) {
        if (n_images >= 16) return;
        named_image *ni = &images[n_images++];
        snprintf(ni->name, sizeof ni->name, "%s", tok[1]);
        ni->img.width = atoi(tok[2]);
        ni->img.height = atoi(tok[3]);
        size_t n = (size_t)ni->img.width * (size_t)ni->img.height * 3;
        ni->img.rgb = malloc(n);
        CHECK(ni->img.rgb && hex_decode(tok[4], ni->img.rgb, n) == 0, "image %s", tok[1]);
    } else if (!strcmp(kind, "resize") || !strcmp(kind, "pil")) {
        const geoloc_image *src = find_image(tok[1]);
        int ow = atoi(tok[2]), oh = atoi(tok[3]);
        size_t n = (size_t)ow * (size_t)oh * 3, nd;
        CHECK(src && n <= bufsize && hex_decode(tok[4], buf, n) == 0, "%s %s", kind, tok[1]);
        if (!src || n > bufsize) return;
        geoloc_image out = {0};
        geoloc_status st = geoloc_image_resize(src, ow, oh, &out, &err);
        CHECK(st == GEOLOC_OK, "resize %s to %dx%d: %s", tok[1], ow, oh, err.message);
        if (st != GEOLOC_OK) return;
        int m = max_diff(out.rgb, buf, n, &nd);
        if (!strcmp(kind, "resize")) {
            resize_cases++;
            resize_px += (int)n;
            resize_exact_px += (int)(n - nd);
            if (m > tv_worst) tv_worst = m;
            CHECK(m <= 1, "resize %s %dx%d -> %dx%d: max difference %d from torchvision", tok[1],
                  src->width, src->height, ow, oh, m);
            CHECK(nd * 20 <= n, "resize %s -> %dx%d: %zu of %zu values differ from torchvision",
                  tok[1], ow, oh, nd, n);
        } else {
            if (m > pil_worst) pil_worst = m;
            CHECK(m <= 2, "resize %s %dx%d -> %dx%d: max difference %d from PIL", tok[1],
                  src->width, src->height, ow, oh, m);
        }
        img_release(&out);
    } else if (!strcmp(kind, "fused")) {
        const geoloc_image *src = find_image(tok[1]);
        geoloc_resample_spec sp = {
            .crop = {atoi(tok[2]), atoi(tok[3]), atoi(tok[4]), atoi(tok[5])},
            .resize_w = atoi(tok[6]),
            .resize_h = atoi(tok[7]),
            .window = {atoi(tok[8]), atoi(tok[9]), atoi(tok[10]), atoi(tok[11])},
            .flip = atoi(tok[12]),
        };
        size_t n = (size_t)sp.window.width * (size_t)sp.window.height * 3, nd;
        CHECK(src && n <= bufsize && hex_decode(tok[13], buf, n) == 0, "fused %s", tok[1]);
        if (!src || n > bufsize) return;
        geoloc_transformer *t = geoloc_transformer_create();
        geoloc_image out = {0};
        CHECK(geoloc_transform_image(t, src, &sp, &out, &err) == GEOLOC_OK, "fused: %s", err.message);
        int m = max_diff(out.rgb, buf, n, &nd);
        CHECK(m <= 1, "fused %s crop %dx%d+%d+%d resize %dx%d window %dx%d+%d+%d flip %d: max "
              "difference %d from torchvision", tok[1], sp.crop.width, sp.crop.height, sp.crop.x,
              sp.crop.y, sp.resize_w, sp.resize_h, sp.window.width, sp.window.height, sp.window.x,
              sp.window.y, sp.flip, m);
        /* the same steps one by one: crop, resize, crop the window, flip, normalise */
        geoloc_image c = {0}, r = {0}, w = {0};
        CHECK(geoloc_image_crop(src, sp.crop, &c, &err) == GEOLOC_OK, "crop: %s", err.message);
        CHECK(geoloc_image_resize(&c, sp.resize_w, sp.resize_h, &r, &err) == GEOLOC_OK, "resize");
        CHECK(geoloc_image_crop(&r, sp.window, &w, &err) == GEOLOC_OK, "window: %s", err.message);
        if (sp.flip) geoloc_image_flip(&w);
        CHECK(w.rgb && !memcmp(w.rgb, out.rgb, n), "fused %s != crop+resize+window+flip", tok[1]);
        size_t hw = n / 3;
        float *a = malloc(n * sizeof *a), *b = malloc(n * sizeof *b);
        for (int norm = 0; norm < 3 && a && b && w.rgb; norm++) {
            sp.norm = (geoloc_norm)norm;
            CHECK(geoloc_transform_chw(t, src, &sp, a, &err) == GEOLOC_OK, "chw: %s", err.message);
            CHECK(geoloc_image_normalize(&w, (geoloc_norm)norm, b) == GEOLOC_OK, "normalize");
            CHECK(!memcmp(a, b, n * sizeof *a), "fused chw %s norm %d != step by step", tok[1], norm);
            /* plane order: RGB, BGR for caffe */
            int ch0 = norm == GEOLOC_NORM_CAFFE ? 2 : 0;
            CHECK(a[0] == geoloc_norm_value((geoloc_norm)norm, 0, w.rgb[ch0]) &&
                      a[hw] == geoloc_norm_value((geoloc_norm)norm, 1, w.rgb[1]),
                  "fused chw planes, norm %d", norm);
        }
        free(a);
        free(b);
        img_release(&c);
        img_release(&r);
        img_release(&w);
        img_release(&out);
        geoloc_transformer_destroy(t);
    }
}

static void test_reference_file(const char *path) {
    FILE *f = fopen(path, "r");
    CHECK(f != NULL, "cannot open %s", path);
    if (!f) return;
    char *line = NULL, **tok = malloc(MAX_TOK * sizeof *tok);
    size_t cap = 0, bufsize = 1 << 20;
    uint8_t *buf = malloc(bufsize);
    double *u = malloc(MAX_TOK * sizeof *u);
    int counts[8] = {0};
    const char *kinds[8] = {"size", "center", "five", "three", "rrc", "norm", "resize", "fused"};
    while (getline(&line, &cap, f) > 0) {
        if (line[0] == '#') continue;
        int nt = 0;
        for (char *s = strtok(line, " \n"); s && nt < MAX_TOK; s = strtok(NULL, " \n")) tok[nt++] = s;
        if (nt == 0) continue;
        for (int k = 0; k < 8; k++) counts[k] += !strcmp(tok[0], kinds[k]);
        check_line(tok, nt, buf, bufsize, u);
    }
    for (int k = 0; k < 8; k++) CHECK(counts[k] > 0, "no %s lines in %s", kinds[k], path);
    printf("reference: %d resizes, %.1f%% of values equal to torchvision, max difference %d "
           "(torchvision) / %d (PIL)\n", resize_cases, 100.0 * resize_exact_px / (resize_px ? resize_px : 1),
           tv_worst, pil_worst);
    free(line);
    free(tok);
    free(buf);
    free(u);
    fclose(f);
    for (int i = 0; i < n_images; i++) img_release(&images[i].img);
}

/* ---- properties ---- */

static void test_flip(void) {
    geoloc_image im = {.width = 5, .height = 3, .rgb = malloc(45)};
    for (int i = 0; i < 45; i++) im.rgb[i] = (uint8_t)(i * 7);
    uint8_t orig[45];
    memcpy(orig, im.rgb, 45);
    geoloc_image_flip(&im);
    int ok = 1;
    for (int y = 0; y < 3; y++)
        for (int x = 0; x < 5; x++)
            for (int c = 0; c < 3; c++)
                ok &= im.rgb[(y * 5 + x) * 3 + c] == orig[(y * 5 + 4 - x) * 3 + c];
    CHECK(ok, "flip mirrors columns");
    geoloc_image_flip(&im);
    CHECK(!memcmp(im.rgb, orig, 45), "flip twice is the identity");
    img_release(&im);
}

static void test_errors(void) {
    uint8_t px[12] = {0};
    geoloc_image im = {.width = 2, .height = 2, .rgb = px}, out = {0};
    geoloc_error err;
    geoloc_rect r;
    CHECK(geoloc_image_crop(&im, (geoloc_rect){1, 1, 2, 1}, &out, &err) == GEOLOC_E_ARG, "crop outside");
    CHECK(geoloc_image_resize(&im, 0, 3, &out, &err) == GEOLOC_E_ARG, "resize to 0");
    CHECK(geoloc_center_crop_rect(3, 3, 4, 1, &r) == GEOLOC_E_ARG, "center crop too big");
    geoloc_rrc_params bad = {0.9, 0.5, 0.75, 1.33};
    geoloc_rng rng;
    geoloc_rng_seed(&rng, 1, 2, 3);
    CHECK(geoloc_random_resized_crop_rect(10, 10, &bad, &rng, &r) == GEOLOC_E_ARG, "bad scale range");
    geoloc_transformer *t = geoloc_transformer_create();
    geoloc_resample_spec sp = {.crop = {0, 0, 2, 2}, .resize_w = 4, .resize_h = 4,
                               .window = {1, 1, 4, 4}};
    float f[48];
    CHECK(geoloc_transform_chw(t, &im, &sp, f, &err) == GEOLOC_E_ARG, "window outside");
    geoloc_transformer_destroy(t);
}

static void test_rng(void) {
    geoloc_rng a, b, c;
    geoloc_rng_seed(&a, 42, 1, 7);
    geoloc_rng_seed(&b, 42, 1, 7);
    geoloc_rng_seed(&c, 42, 7, 1);
    int same = 1, differ = 0;
    double sum = 0, sum2 = 0;
    int n = 200000, below[10] = {0};
    for (int i = 0; i < n; i++) {
        uint64_t x = geoloc_rng_next(&a), y = geoloc_rng_next(&b), z = geoloc_rng_next(&c);
        same &= x == y;
        differ += x != z;
        double u = geoloc_rng_uniform(&a);
        geoloc_rng_uniform(&b);
        sum += u;
        sum2 += u * u;
        below[geoloc_rng_below(&a, 10)]++;
        geoloc_rng_below(&b, 10);
    }
    CHECK(same, "same seed, same sequence");
    CHECK(differ == n, "swapped streams give another sequence");
    double mean = sum / n, var = sum2 / n - mean * mean;
    CHECK(fabs(mean - 0.5) < 0.005 && fabs(var - 1.0 / 12) < 0.002, "uniform mean %g var %g", mean, var);
    for (int k = 0; k < 10; k++)
        CHECK(abs(below[k] - n / 10) < n / 100, "rng_below(10): %d draws of %d", below[k], k);
}

typedef struct counted_rng {
    geoloc_rng rng;
    int used;
} counted_rng;

static double counted_uniform(void *ctx) {
    counted_rng *c = ctx;
    c->used++;
    return geoloc_rng_uniform(&c->rng);
}

static void test_rrc_properties(void) {
    const int sizes[][2] = {{427, 320}, {320, 427}, {224, 224}, {640, 480}, {300, 180}};
    const geoloc_rrc_params params[] = {geoloc_rrc_default(), {0.08, 1.0, 0.75, 4.0 / 3.0},
                                        {0.7, 1.0, 0.75, 4.0 / 3.0}};
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        for (size_t q = 0; q < sizeof params / sizeof params[0]; q++) {
            int W = sizes[s][0], H = sizes[s][1], n = 20000, bad = 0, fallback = 0;
            const geoloc_rrc_params *p = &params[q];
            double sx = 0, sy = 0, quart[4] = {0};
            int movable = 0;
            for (int i = 0; i < n; i++) {
                geoloc_rng rng, rng2;
                geoloc_rng_seed(&rng, 7, (uint64_t)s * 10 + q, (uint64_t)i);
                rng2 = rng;
                counted_rng cr = {rng, 0};
                geoloc_rect r, r2;
                geoloc_random_resized_crop_rect_with(W, H, p, counted_uniform, &cr, &r);
                geoloc_random_resized_crop_rect(W, H, p, &rng2, &r2);
                if (memcmp(&r, &r2, sizeof r)) bad++;
                if (r.x < 0 || r.y < 0 || r.width < 1 || r.height < 1 || r.x + r.width > W ||
                    r.y + r.height > H) {
                    bad++;
                    continue;
                }
                /* the true w, h are within 0.5 of the rounded ones */
                double amin = (r.width - 0.5) * (r.height - 0.5), amax = (r.width + 0.5) * (r.height + 0.5);
                double rmin = (r.width - 0.5) / (r.height + 0.5), rmax = (r.width + 0.5) / (r.height - 0.5);
                int in_range = amax >= p->scale_min * W * H - 1e-9 && amin <= p->scale_max * W * H + 1e-9 &&
                               rmax >= p->ratio_min && rmin <= p->ratio_max;
                if (cr.used == 20) { /* ten failed tries (central fallback) or success at the 9th */
                    fallback++;
                    if (!in_range && (r.x != (W - r.width) / 2 || r.y != (H - r.height) / 2)) bad++;
                    continue; /* not in the statistics */
                }
                if (!in_range) bad++;
                sx += r.x + r.width / 2.0;
                sy += r.y + r.height / 2.0;
                if (W - r.width + 1 >= 40) { /* enough positions for quarters */
                    double f = (r.x + 0.5) / (W - r.width + 1);
                    quart[(int)(f * 4)]++;
                    movable++;
                }
            }
            CHECK(bad == 0, "rrc %dx%d params %zu: %d bad rectangles", W, H, q, bad);
            int acc = n - fallback;
            CHECK(acc > n / 10, "rrc %dx%d params %zu: %d fallbacks", W, H, q, fallback);
            CHECK(fabs(sx / acc - W / 2.0) < 0.02 * W && fabs(sy / acc - H / 2.0) < 0.02 * H,
                  "rrc %dx%d: mean center %.1f,%.1f", W, H, sx / acc, sy / acc);
            for (int k = 0; k < 4 && movable > 1000; k++)
                CHECK(fabs(quart[k] / movable - 0.25) < 0.03, "rrc %dx%d: left offsets quarter %d: %.3f",
                      W, H, k, quart[k] / movable);
        }
    }
    /* a panorama never fits the ratio range: the central fallback, ratio clamped */
    geoloc_rng rng0;
    geoloc_rng_seed(&rng0, 1, 2, 3);
    geoloc_rect fb;
    geoloc_rrc_params dp = geoloc_rrc_default();
    CHECK(geoloc_random_resized_crop_rect(1000, 200, &dp, &rng0, &fb) == GEOLOC_OK && fb.x == 366 &&
              fb.y == 0 && fb.width == 267 && fb.height == 200,
          "fallback %d,%d %dx%d", fb.x, fb.y, fb.width, fb.height);
    /* ratio statistics on a square image with a symmetric range: log-ratio mean ~ 0 */
    double slr = 0;
    int n = 20000;
    geoloc_rrc_params p = {0.08, 0.5, 0.75, 4.0 / 3.0};
    for (int i = 0; i < n; i++) {
        geoloc_rng rng;
        geoloc_rng_seed(&rng, 3, 0, (uint64_t)i);
        geoloc_rect r;
        geoloc_random_resized_crop_rect(500, 500, &p, &rng, &r);
        slr += log((double)r.width / r.height);
    }
    CHECK(fabs(slr / n) < 0.01, "mean log ratio %g", slr / n);
}

/* Random specs (tiny and huge scale factors, windows, flips): the fused path
 * equals crop + resize + window crop + flip + normalise done one by one. */
static void test_fused_random(void) {
    geoloc_rng rng;
    geoloc_rng_seed(&rng, 99, 0, 0);
    geoloc_transformer *t = geoloc_transformer_create();
    int bad = 0, cases = 400;
    for (int c = 0; c < cases; c++) {
        int W = 1 + (int)geoloc_rng_below(&rng, c % 10 == 0 ? 1200 : 70);
        int H = 1 + (int)geoloc_rng_below(&rng, c % 10 == 5 ? 1200 : 70);
        geoloc_image src = {.width = W, .height = H, .rgb = malloc((size_t)W * H * 3)};
        for (size_t i = 0; i < (size_t)W * H * 3; i++) src.rgb[i] = (uint8_t)geoloc_rng_next(&rng);
        geoloc_resample_spec sp;
        sp.crop.width = 1 + (int)geoloc_rng_below(&rng, (uint64_t)W);
        sp.crop.height = 1 + (int)geoloc_rng_below(&rng, (uint64_t)H);
        sp.crop.x = (int)geoloc_rng_below(&rng, (uint64_t)(W - sp.crop.width + 1));
        sp.crop.y = (int)geoloc_rng_below(&rng, (uint64_t)(H - sp.crop.height + 1));
        sp.resize_w = 1 + (int)geoloc_rng_below(&rng, 90);
        sp.resize_h = 1 + (int)geoloc_rng_below(&rng, 90);
        sp.window.width = 1 + (int)geoloc_rng_below(&rng, (uint64_t)sp.resize_w);
        sp.window.height = 1 + (int)geoloc_rng_below(&rng, (uint64_t)sp.resize_h);
        sp.window.x = (int)geoloc_rng_below(&rng, (uint64_t)(sp.resize_w - sp.window.width + 1));
        sp.window.y = (int)geoloc_rng_below(&rng, (uint64_t)(sp.resize_h - sp.window.height + 1));
        sp.flip = (int)geoloc_rng_below(&rng, 2);
        sp.norm = (geoloc_norm)geoloc_rng_below(&rng, 3);
        size_t n = (size_t)sp.window.width * sp.window.height * 3;
        float *a = malloc(n * sizeof *a), *b = malloc(n * sizeof *b);
        geoloc_image cr = {0}, rs = {0}, wn = {0};
        geoloc_error err;
        int ok = geoloc_transform_chw(t, &src, &sp, a, &err) == GEOLOC_OK &&
                 geoloc_image_crop(&src, sp.crop, &cr, &err) == GEOLOC_OK &&
                 geoloc_image_resize(&cr, sp.resize_w, sp.resize_h, &rs, &err) == GEOLOC_OK &&
                 geoloc_image_crop(&rs, sp.window, &wn, &err) == GEOLOC_OK;
        if (ok) {
            if (sp.flip) geoloc_image_flip(&wn);
            ok = geoloc_image_normalize(&wn, sp.norm, b) == GEOLOC_OK && !memcmp(a, b, n * sizeof *a);
        }
        if (!ok && bad++ < 5)
            fprintf(stderr, "fused %dx%d crop %dx%d+%d+%d resize %dx%d window %dx%d+%d+%d flip %d norm %d "
                    "differs from the steps\n", W, H, sp.crop.width, sp.crop.height, sp.crop.x, sp.crop.y,
                    sp.resize_w, sp.resize_h, sp.window.width, sp.window.height, sp.window.x, sp.window.y,
                    sp.flip, (int)sp.norm);
        free(a);
        free(b);
        img_release(&cr);
        img_release(&rs);
        img_release(&wn);
        img_release(&src);
    }
    CHECK(bad == 0, "fused path: %d of %d random specs differ from the steps", bad, cases);
    geoloc_transformer_destroy(t);
}

int main(int argc, char **argv) {
    const char *data = argc > 2 ? argv[2] : "tests/data";
    char path[4096];
    snprintf(path, sizeof path, "%s/transform_ref.txt", data);
    test_reference_file(path);
    test_flip();
    test_errors();
    test_rng();
    test_rrc_properties();
    test_fused_random();
    TEST_END();
}
