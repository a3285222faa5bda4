/* The batch loader over a temporary folder of generated JPEGs and PNGs (plus
 * a truncated JPEG, refused by strict decoding, and a text file named .jpg):
 * the same batches with 1 and 3 threads, every photo once per epoch, a new
 * order each epoch, unreadable files skipped and reported by name, eval crops equal to the transforms
 * called directly, and clean shutdown in any state. */
#include <dirent.h>
#include <math.h>
#include <png.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "geoloc/loader.h"
#include "geoloc/transform.h"
#include "image_fixtures.h"
#include "test_util.h"

#define N_GOOD 21
#define N_FILES (N_GOOD + 2)
#define OUT 24

static char dir[4096];
static char *names[N_FILES];
static int bad_truncated = -1, bad_text = -1; /* their indices in names[] */

/* Writes the test folder: photos of assorted sizes and kinds. */
static int make_folder(void) {
    const char *tmp = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    snprintf(dir, sizeof dir, "%s/geoloc-test-loader-XXXXXX", tmp);
    if (!mkdtemp(dir)) return -1;
    static const int sizes[][2] = {{40, 30}, {30, 40}, {64, 48}, {33, 33}, {100, 20}, {25, 26}, {48, 64}};
    int k = 0;
    for (int i = 0; i < N_GOOD; i++) {
        int w = sizes[i % 7][0] + i, h = sizes[i % 7][1] + i / 3;
        uint8_t *px = malloc((size_t)w * h * 3);
        if (!px) return -1;
        fx_pattern(px, w, h);
        for (int p = 0; p < w * h * 3; p++) px[p] = (uint8_t)(px[p] + i * 37);
        fx_buf buf = {0};
        char name[64], path[4200];
        int rc;
        if (i % 3 == 2) {
            snprintf(name, sizeof name, "p%02d.png", i);
            fx_png_opts o = {.color_type = PNG_COLOR_TYPE_RGB, .bit_depth = 8};
            rc = fx_png(px, w, h, &o, &buf);
        } else {
            snprintf(name, sizeof name, "p%02d.jpg", i);
            fx_jpeg_opts o = {.quality = 92, .progressive = i % 4 == 1};
            rc = fx_jpeg(px, w, h, &o, &buf);
        }
        snprintf(path, sizeof path, "%s/%s", dir, name);
        if (rc || fx_write_file(path, buf.data, buf.size)) return -1;
        if (i == 4) { /* a truncated copy of this JPEG */
            bad_truncated = k + 1;
            snprintf(path, sizeof path, "%s/p04_truncated.jpg", dir);
            if (fx_write_file(path, buf.data, buf.size / 2)) return -1;
        }
        fx_free(&buf);
        free(px);
        names[k++] = strdup(name);
        if (i == 4) names[k++] = strdup("p04_truncated.jpg");
        if (i == 11) {
            const char *text = "this is not a photo\n";
            bad_text = k;
            snprintf(path, sizeof path, "%s/p11_notes.jpg", dir);
            if (fx_write_file(path, text, strlen(text))) return -1;
            names[k++] = strdup("p11_notes.jpg");
        }
    }
    return k == N_FILES ? 0 : -1;
}

static void remove_folder(void) {
    char path[4200];
    for (int i = 0; i < N_FILES; i++) {
        if (!names[i]) continue;
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        unlink(path);
        free(names[i]);
    }
    rmdir(dir);
}

/* Every batch of a run, copied. */
typedef struct run {
    size_t n_batches;
    size_t count[256], n_failed[256], number[256];
    unsigned epoch[256];
    size_t *indices[256], *failed_index[256];
    float *data[256];
    char failed_msg[256][2][512];
    int crops;
    size_t flips, photos;
    float lo, hi; /* range of the values */
} run;

static void run_free(run *r) {
    for (size_t b = 0; b < r->n_batches; b++) {
        free(r->indices[b]);
        free(r->failed_index[b]);
        free(r->data[b]);
    }
}

static int collect(const geoloc_loader_config *cfg, const geoloc_source *src, run *r) {
    memset(r, 0, sizeof *r);
    r->lo = INFINITY;
    r->hi = -INFINITY;
    geoloc_loader *L;
    geoloc_error err;
    if (geoloc_loader_create(cfg, src, &L, &err) != GEOLOC_OK) {
        fprintf(stderr, "loader: %s\n", err.message);
        return -1;
    }
    geoloc_batch b;
    geoloc_status st;
    while ((st = geoloc_loader_next(L, &b, &err)) == GEOLOC_OK && r->n_batches < 256) {
        size_t k = r->n_batches++;
        size_t floats = b.count * (size_t)b.crops * 3 * (size_t)b.height * (size_t)b.width;
        r->crops = b.crops;
        r->count[k] = b.count;
        r->n_failed[k] = b.n_failed;
        r->epoch[k] = b.epoch;
        r->number[k] = b.number;
        r->indices[k] = malloc((b.count + 1) * sizeof(size_t));
        r->failed_index[k] = malloc((b.n_failed + 1) * sizeof(size_t));
        r->data[k] = malloc((floats + 1) * sizeof(float));
        memcpy(r->indices[k], b.indices, b.count * sizeof(size_t));
        memcpy(r->data[k], b.data, floats * sizeof(float));
        for (size_t i = 0; i < b.count; i++) r->flips += b.flipped[i];
        r->photos += b.count;
        for (size_t i = 0; i < floats; i++) {
            float v = b.data[i];
            if (!(v >= r->lo)) r->lo = v; /* NaN lands here too */
            if (!(v <= r->hi)) r->hi = v;
        }
        for (size_t i = 0; i < b.n_failed; i++) {
            r->failed_index[k][i] = b.failed[i].index;
            if (i < 2) snprintf(r->failed_msg[k][i], 512, "%s", b.failed[i].message);
            CHECK(b.failed[i].status != GEOLOC_OK, "failure with status ok");
        }
    }
    CHECK(st == GEOLOC_E_EMPTY, "loader ends with E_EMPTY (got %d)", (int)st);
    CHECK(geoloc_loader_next(L, &b, &err) == GEOLOC_E_EMPTY, "and stays ended");
    geoloc_loader_destroy(L);
    return 0;
}

static int same_runs(const run *a, const run *b) {
    if (a->n_batches != b->n_batches) return 0;
    for (size_t k = 0; k < a->n_batches; k++) {
        if (a->count[k] != b->count[k] || a->n_failed[k] != b->n_failed[k] || a->epoch[k] != b->epoch[k])
            return 0;
        size_t floats = a->count[k] * (size_t)a->crops * 3 * OUT * OUT;
        if (memcmp(a->indices[k], b->indices[k], a->count[k] * sizeof(size_t)) ||
            memcmp(a->data[k], b->data[k], floats * sizeof(float)) ||
            memcmp(a->failed_index[k], b->failed_index[k], a->n_failed[k] * sizeof(size_t)))
            return 0;
    }
    return 1;
}

/* Data-parallel parts: the parts' batches, in part order, are the whole run's batches
 * (photos, data, failures), also when a short batch leaves a part empty. */
static void check_parts(geoloc_loader_config cfg, const geoloc_source *src, const run *whole, int parts) {
    static run part[8];
    cfg.parts = parts;
    for (int p = 0; p < parts; p++) {
        cfg.part = p;
        cfg.threads = 1 + p % 2;
        CHECK(collect(&cfg, src, &part[p]) == 0, "part %d of %d", p, parts);
        CHECK(part[p].n_batches == whole->n_batches, "part %d of %d: %zu batches, the whole run %zu", p, parts,
              part[p].n_batches, whole->n_batches);
    }
    size_t image = (size_t)whole->crops * 3 * OUT * OUT, empty = 0;
    for (size_t k = 0; k < whole->n_batches; k++) {
        size_t at = 0, failed = 0;
        for (int p = 0; p < parts; p++) {
            const run *r = &part[p];
            empty += r->count[k] + r->n_failed[k] == 0;
            int same = at + r->count[k] <= whole->count[k] && r->number[k] == whole->number[k] &&
                       !memcmp(r->indices[k], whole->indices[k] + at, r->count[k] * sizeof(size_t)) &&
                       !memcmp(r->data[k], whole->data[k] + at * image, r->count[k] * image * sizeof(float));
            CHECK(same, "batch %zu, part %d of %d: not the whole batch's photos %zu..", k, p, parts, at);
            at += r->count[k];
            failed += r->n_failed[k];
        }
        CHECK(at == whole->count[k] && failed == whole->n_failed[k], "batch %zu: parts hold %zu photos + %zu failed, "
              "the whole batch %zu + %zu", k, at, failed, whole->count[k], whole->n_failed[k]);
    }
    if (parts > (int)cfg.batch_size) CHECK(empty > 0, "%d parts of batches of %zu: no empty part", parts, cfg.batch_size);
    for (int p = 0; p < parts; p++) run_free(&part[p]);
}

static void check_epochs(const run *r, unsigned epochs, const char *what) {
    size_t order[8][N_FILES];
    for (unsigned e = 0; e < epochs; e++) {
        int seen[N_FILES] = {0};
        size_t n = 0;
        for (size_t k = 0; k < r->n_batches; k++) {
            if (r->epoch[k] != e) continue;
            for (size_t i = 0; i < r->count[k]; i++) {
                seen[r->indices[k][i]]++;
                order[e][n++] = r->indices[k][i];
            }
            for (size_t i = 0; i < r->n_failed[k]; i++) {
                size_t f = r->failed_index[k][i];
                seen[f]++;
                CHECK((int)f == bad_truncated || (int)f == bad_text, "%s: photo %zu (%s) failed: %s",
                      what, f, names[f], i < 2 ? r->failed_msg[k][i] : "");
                const char *msg = i < 2 ? r->failed_msg[k][i] : NULL;
                if (msg) CHECK(strstr(msg, names[f]) != NULL, "%s: message names the file: %s", what, msg);
            }
        }
        int once = 1;
        for (int i = 0; i < N_FILES; i++) once &= seen[i] == 1;
        CHECK(once, "%s: epoch %u covers every photo exactly once", what, e);
        CHECK(n == N_GOOD, "%s: epoch %u delivers %zu photos, want %d", what, e, n, N_GOOD);
    }
    for (unsigned e = 1; e < epochs; e++)
        CHECK(memcmp(order[0], order[e], N_GOOD * sizeof(size_t)) != 0, "%s: epoch %u has a new order", what, e);
}

/* An eval center-crop batch equals decode (DCT-scaled for min_side > 0, as
 * the loader does) + geoloc_transform_chw called here. */
static void check_eval_direct(const run *r, int min_side) {
    geoloc_decode_options opt = {.min_shorter_side = min_side};
    geoloc_transformer *t = geoloc_transformer_create();
    float *want = malloc(3 * OUT * OUT * sizeof(float));
    int bad = 0, checked = 0;
    for (size_t k = 0; k < r->n_batches; k++) {
        for (size_t i = 0; i < r->count[k]; i++) {
            char path[4200];
            snprintf(path, sizeof path, "%s/%s", dir, names[r->indices[k][i]]);
            geoloc_image img = {0};
            geoloc_error err;
            if (geoloc_image_load(path, &opt, &img, &err) != GEOLOC_OK) {
                bad++;
                continue;
            }
            geoloc_resample_spec sp = {.crop = {0, 0, img.width, img.height}};
            geoloc_resize_shorter_size(img.width, img.height, OUT * 256 / 224, &sp.resize_w, &sp.resize_h);
            geoloc_center_crop_rect(sp.resize_w, sp.resize_h, OUT, OUT, &sp.window);
            geoloc_transform_chw(t, &img, &sp, want, &err);
            bad += memcmp(want, r->data[k] + i * 3 * OUT * OUT, 3 * OUT * OUT * sizeof(float)) != 0;
            checked++;
            geoloc_image_free(&img);
        }
    }
    CHECK(bad == 0 && checked == N_GOOD, "eval batches equal the direct transform (%d of %d differ, "
          "min side %d)", bad, checked, min_side);
    free(want);
    geoloc_transformer_destroy(t);
}

static int cmp_name(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* The loader on the first photos of the shared Im2GPS3k set (when present):
 * the same batches with 1 and 2 threads, plausible values, nothing skipped. */
static void test_shared_photos(const char *shared) {
    char root[4096];
    snprintf(root, sizeof root, "%s/im2gps3k-dev/images", shared ? shared : "");
    DIR *d = shared ? opendir(root) : NULL;
    if (!d) {
        printf("shared photos not found at %s: skipping that part\n", root);
        return;
    }
    char *files[4096];
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d)) && n < 4096)
        if (strstr(e->d_name, ".jpg")) files[n++] = strdup(e->d_name);
    closedir(d);
    qsort(files, n, sizeof *files, cmp_name);
    if (n > 48) {
        for (size_t i = 48; i < n; i++) free(files[i]);
        n = 48;
    }
    geoloc_source src;
    geoloc_error err;
    if (n && geoloc_source_files(root, (const char *const *)files, n, &src, &err) == GEOLOC_OK) {
        geoloc_loader_config cfg = geoloc_loader_config_default();
        cfg.decode.strict = 1; /* the half-cut JPEG is skipped, not rendered with grey */
        cfg.batch_size = 16;
        cfg.out_size = OUT; /* small output: 427x320 photos shrink a lot (wide filters) */
        cfg.epochs = 2;
        static run a, b;
        cfg.threads = 1;
        CHECK(collect(&cfg, &src, &a) == 0, "shared photos, 1 thread");
        cfg.threads = 2;
        CHECK(collect(&cfg, &src, &b) == 0, "shared photos, 2 threads");
        CHECK(same_runs(&a, &b), "shared photos: the same batches with 1 and 2 threads");
        CHECK(a.photos == 2 * n, "shared photos: %zu of %zu delivered", a.photos, 2 * n);
        CHECK(a.lo >= -2.1180f && a.hi <= 2.6401f, "shared photos: values %g..%g", a.lo, a.hi);
        run_free(&a);
        run_free(&b);
        geoloc_source_close(&src);
    } else {
        CHECK(0, "source over %s: %s", root, n ? err.message : "no photos");
    }
    for (size_t i = 0; i < n; i++) free(files[i]);
}

int main(int argc, char **argv) {
    test_shared_photos(argc > 1 ? argv[1] : NULL);
    if (make_folder() != 0) {
        fprintf(stderr, "cannot write the test folder %s\n", dir);
        remove_folder();
        return 1;
    }
    geoloc_source src;
    geoloc_error err;
    if (geoloc_source_files(dir, (const char *const *)names, N_FILES, &src, &err) != GEOLOC_OK) {
        fprintf(stderr, "source: %s\n", err.message);
        remove_folder();
        return 1;
    }
    geoloc_loader_config cfg = geoloc_loader_config_default();
    cfg.decode.strict = 1; /* the half-cut JPEG is skipped, not rendered with grey */
    cfg.batch_size = 4;
    cfg.out_size = OUT;
    cfg.seed = 11;
    cfg.epochs = 3;
    static run r1, r3, r1b, rs;

    /* train: 1 thread vs 3 threads, twice the same */
    cfg.threads = 1;
    CHECK(collect(&cfg, &src, &r1) == 0, "train, 1 thread");
    cfg.threads = 3;
    cfg.prefetch = 4;
    CHECK(collect(&cfg, &src, &r3) == 0, "train, 3 threads");
    CHECK(same_runs(&r1, &r3), "train: the same batches with 1 and 3 threads");
    check_parts(cfg, &src, &r1, 3);
    check_parts(cfg, &src, &r1, 5);
    cfg.part = 1;
    cfg.parts = 1;
    CHECK(geoloc_loader_create(&cfg, &src, &(geoloc_loader *){NULL}, &err) == GEOLOC_E_ARG, "part 1 of 1 refused");
    cfg.part = 0;
    CHECK(r1.n_batches == 3 * ((N_FILES + 3) / 4), "%zu batches", r1.n_batches);
    check_epochs(&r1, 3, "train");
    CHECK(r1.flips > r1.photos / 4 && r1.flips < r1.photos * 3 / 4, "train: %zu of %zu photos flipped",
          r1.flips, r1.photos);
    /* ImageNet normalisation of 0..255 spans (0 - 0.485) / 0.229 .. (1 - 0.406) / 0.225 */
    CHECK(r1.lo >= -2.1180f && r1.hi <= 2.6401f && r1.hi > 1.0f && r1.lo < -1.0f, "train values %g..%g",
          r1.lo, r1.hi);
    cfg.threads = 2;
    cfg.prefetch = 0;
    CHECK(collect(&cfg, &src, &r1b) == 0, "train, 2 threads, no prefetch");
    CHECK(same_runs(&r1, &r1b), "train: the same batches without prefetch");
    run_free(&r1b);
    cfg.seed = 12;
    CHECK(collect(&cfg, &src, &r1b) == 0, "train, other seed");
    CHECK(!same_runs(&r1, &r1b), "train: another seed gives other batches");
    run_free(&r1b);
    run_free(&r3);

    /* eval center: source order without shuffle, equal to the direct transform */
    cfg.seed = 11;
    cfg.mode = GEOLOC_LOADER_EVAL_CENTER;
    cfg.shuffle = 0;
    cfg.epochs = 1;
    cfg.threads = 3;
    CHECK(collect(&cfg, &src, &rs) == 0, "eval");
    size_t expect = 0;
    int in_order = 1;
    for (size_t k = 0; k < rs.n_batches; k++)
        for (size_t i = 0; i < rs.count[k]; i++) {
            while ((int)expect == bad_truncated || (int)expect == bad_text) expect++;
            in_order &= rs.indices[k][i] == expect++;
        }
    CHECK(in_order, "eval without shuffle: source order");
    check_eval_direct(&rs, OUT * 256 / 224); /* the loader lets JPEGs decode at 1/2 ... */
    run_free(&rs);
    cfg.dct_scaling = 0;
    CHECK(collect(&cfg, &src, &rs) == 0, "eval, full decode");
    check_eval_direct(&rs, 0);
    run_free(&rs);
    cfg.dct_scaling = 1;

    /* five and three crops: thread-independent, crops per photo */
    for (int m = 0; m < 2; m++) {
        cfg.mode = m == 0 ? GEOLOC_LOADER_EVAL_FIVE : GEOLOC_LOADER_EVAL_THREE;
        cfg.threads = 1;
        CHECK(collect(&cfg, &src, &r1b) == 0, "multi-crop");
        cfg.threads = 3;
        CHECK(collect(&cfg, &src, &r3) == 0, "multi-crop, 3 threads");
        CHECK(r1b.crops == (m == 0 ? 5 : 3), "crops per photo %d", r1b.crops);
        CHECK(same_runs(&r1b, &r3), "mode %d: the same batches with 1 and 3 threads", (int)cfg.mode);
        run_free(&r1b);
        run_free(&r3);
    }

    /* drop_last, endless epochs and early destroy */
    cfg.mode = GEOLOC_LOADER_TRAIN;
    cfg.shuffle = 1;
    cfg.drop_last = 1;
    CHECK(geoloc_loader_batches_per_epoch(&cfg, N_FILES) == N_FILES / 4, "batches with drop_last");
    cfg.epochs = 0;
    geoloc_loader *L;
    CHECK(geoloc_loader_create(&cfg, &src, &L, &err) == GEOLOC_OK, "endless loader: %s", err.message);
    geoloc_batch b;
    int got = 0, epochs_seen = 0;
    for (int i = 0; i < 4 * (N_FILES / 4) + 1; i++) {
        if (geoloc_loader_next(L, &b, &err) != GEOLOC_OK) break;
        got++;
        epochs_seen = (int)b.epoch + 1;
    }
    CHECK(got == 4 * (N_FILES / 4) + 1 && epochs_seen == 5, "endless: %d batches, %d epochs", got, epochs_seen);
    geoloc_loader_destroy(L); /* with workers busy or waiting */
    CHECK(geoloc_loader_create(&cfg, &src, &L, &err) == GEOLOC_OK, "loader");
    geoloc_loader_destroy(L); /* before any batch */

    /* bad configurations, empty source */
    geoloc_loader_config bad = cfg;
    bad.batch_size = 0;
    CHECK(geoloc_loader_create(&bad, &src, &L, &err) == GEOLOC_E_ARG, "batch size 0");
    bad = cfg;
    bad.rrc.scale_min = 0;
    CHECK(geoloc_loader_create(&bad, &src, &L, &err) == GEOLOC_E_ARG, "scale 0");
    bad = cfg;
    bad.mode = (geoloc_loader_mode)9;
    CHECK(geoloc_loader_create(&bad, &src, &L, &err) == GEOLOC_E_ARG, "mode");
    bad = cfg;
    bad.batch_size = N_FILES + 1;
    CHECK(geoloc_loader_create(&bad, &src, &L, &err) == GEOLOC_E_EMPTY, "drop_last, no full batch");
    geoloc_source empty = src;
    empty.n = 0;
    CHECK(geoloc_loader_create(&cfg, &empty, &L, &err) == GEOLOC_E_EMPTY, "empty source");

    run_free(&r1);
    geoloc_source_close(&src);
    remove_folder();
    TEST_END();
}
