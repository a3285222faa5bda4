/* geoloc bench loader: photos per second through the batch loader (read,
 * decode, crop, resize, flip, normalise to NCHW float32) on a folder. */
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "cli/cli_options.h"
#include "cli/cli_util.h"
#include "geoloc/dataset.h"
#include "geoloc/loader.h"

typedef struct {
    long threads, limit, epochs, batch, size;
    int mode, no_dct, stages;
} loader_args;

static const char *const MODES[] = {"train", "eval", "five", "three", NULL};
static const geoloc_loader_mode MODE_VALUES[] = {GEOLOC_LOADER_TRAIN, GEOLOC_LOADER_EVAL_CENTER,
                                                 GEOLOC_LOADER_EVAL_FIVE, GEOLOC_LOADER_EVAL_THREE};

static const cli_option LOADER_OPTIONS[] = {
    CLI_OPTION("threads", 'j', CLI_INT, loader_args, threads, "N", "worker threads", .min = 1, .max = 256),
    CLI_OPTION("limit", 0, CLI_INT, loader_args, limit, "N", "use the first N photos only (0: all)", .min = 0,
               .max = 1e12),
    CLI_OPTION("mode", 0, CLI_ENUM, loader_args, mode, NULL,
               "train: random resized crop + flip; eval: resize 256 + center\ncrop; five, three: test crops",
               .choices = MODES),
    CLI_OPTION("epochs", 0, CLI_INT, loader_args, epochs, "N", "epochs to time", .min = 1, .max = 1000),
    CLI_OPTION("batch", 0, CLI_INT, loader_args, batch, "N", "batch size", .min = 1, .max = 1e6),
    CLI_OPTION("size", 0, CLI_INT, loader_args, size, "N", "output side", .min = 1, .max = 4096),
    CLI_OPTION("no-dct", 0, CLI_FLAG, loader_args, no_dct, NULL,
               "decode JPEGs at full size even when smaller would do"),
    CLI_OPTION("stages", 0, CLI_FLAG, loader_args, stages, NULL,
               "also time reading, decoding and transforming separately (one thread)"),
    CLI_END};

static const cli_spec LOADER_SPEC = {
    "geoloc bench loader", "DIR", 1, 1,
    "Runs the batch loader over the photos (.jpg .jpeg .png .webp) of DIR in name\n"
    "order and prints photos per second for each epoch. The first epoch also reads\n"
    "the files into the page cache; the best epoch is the steady-state figure.\n"
    "Target: >= 600 photos/s on one core (--threads 1) for 427x320 JPEGs in train\n"
    "mode (random resized crop + flip to 224x224, ImageNet normalisation).\n",
    LOADER_OPTIONS, NULL};

static double cpu_s(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + 1e-6 * (double)ru.ru_utime.tv_usec +
           (double)ru.ru_stime.tv_sec + 1e-6 * (double)ru.ru_stime.tv_usec;
}

/* Sorted photo names of dir (NULL on error, message printed). */
static char **list_photos(const char *cmd, const char *dir, size_t *n_out) {
    DIR *d = opendir(dir);
    if (!d) {
        fprintf(stderr, "%s: cannot open folder %s\n", cmd, dir);
        return NULL;
    }
    size_t n = 0, cap = 16;
    char **names = malloc(cap * sizeof *names);
    if (!names) {
        closedir(d);
        fprintf(stderr, "%s: out of memory\n", cmd);
        return NULL;
    }
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.' || !geoloc_is_photo_name(e->d_name)) continue;
        if (n == cap) {
            cap *= 2;
            char **t = realloc(names, cap * sizeof *t);
            if (!t) break;
            names = t;
        }
        if (!(names[n] = strdup(e->d_name))) break;
        n++;
    }
    closedir(d);
    qsort(names, n, sizeof *names, cli_compare_strings);
    *n_out = n;
    return names;
}

/* Single-threaded timing of each stage over the photos. */
static void time_stages(const geoloc_source *src, size_t n, const geoloc_loader_config *cfg) {
    double t_read = 0, t_decode = 0, t_transform = 0;
    size_t done = 0;
    geoloc_transformer *t = geoloc_transformer_create();
    float *out = malloc((size_t)3 * (size_t)cfg->out_size * (size_t)cfg->out_size * sizeof *out);
    geoloc_decode_options dopt = cfg->decode;
    /* as the loader does in train mode: every crop keeps the output's resolution */
    double r = cfg->rrc.ratio_min < 1 / cfg->rrc.ratio_max ? cfg->rrc.ratio_min : 1 / cfg->rrc.ratio_max;
    if (cfg->dct_scaling && dopt.min_shorter_side == 0)
        dopt.min_shorter_side = (int)ceil(cfg->out_size / sqrt(cfg->rrc.scale_min * (r < 1 ? r : 1))) + 1;
    for (size_t i = 0; i < n && t && out; i++) {
        const uint8_t *data;
        size_t size;
        const char *name;
        geoloc_error err;
        double t0 = cli_now_seconds();
        if (src->read(src->ctx, i, &data, &size, &name, &err) != GEOLOC_OK) continue;
        double t1 = cli_now_seconds();
        geoloc_image img = {0};
        geoloc_status st = geoloc_image_decode(data, size, name, &dopt, &img, &err);
        double t2 = cli_now_seconds();
        if (st == GEOLOC_OK) {
            geoloc_rng rng;
            geoloc_rng_seed(&rng, 0, 0, i);
            geoloc_resample_spec sp = {.resize_w = cfg->out_size, .resize_h = cfg->out_size,
                                       .window = {0, 0, cfg->out_size, cfg->out_size}};
            geoloc_random_resized_crop_rect(img.width, img.height, &cfg->rrc, &rng, &sp.crop);
            sp.flip = geoloc_rng_uniform(&rng) < 0.5;
            geoloc_transform_chw(t, &img, &sp, out, &err);
            done++;
        }
        double t3 = cli_now_seconds();
        t_read += t1 - t0;
        t_decode += t2 - t1;
        t_transform += t3 - t2;
        geoloc_image_free(&img);
        if (src->release) src->release(src->ctx, data, size);
    }
    if (done)
        printf("stages (one thread, %zu photos, train crops): read %.3f ms, decode %.3f ms, "
               "crop+resize+flip+normalise %.3f ms per photo\n", done, 1e3 * t_read / done,
               1e3 * t_decode / done, 1e3 * t_transform / done);
    free(out);
    geoloc_transformer_destroy(t);
}

int cli_bench_loader(int argc, char **argv) {
    const char *cmd = LOADER_SPEC.name;
    loader_args a = {.threads = 1, .epochs = 3, .batch = 32, .size = 224};
    int n_args;
    int parsed = cli_parse(&LOADER_SPEC, &a, argc, argv, &n_args);
    if (parsed != CLI_RUN) return parsed;
    const char *dir = argv[1], *mode = MODES[a.mode];
    long threads = a.threads, limit = a.limit, epochs = a.epochs, batch = a.batch, size = a.size;
    int no_dct = a.no_dct, stages = a.stages;
    geoloc_loader_config cfg = geoloc_loader_config_default();
    cfg.mode = MODE_VALUES[a.mode];
    cfg.threads = (int)threads;
    cfg.epochs = (unsigned)epochs;
    cfg.batch_size = (size_t)batch;
    cfg.out_size = (int)size;
    cfg.dct_scaling = !no_dct;
    cfg.seed = 1;

    size_t n = 0;
    char **names = list_photos(cmd, dir, &n);
    if (!names || n == 0) {
        if (names) fprintf(stderr, "%s: no photos in %s\n", cmd, dir);
        free(names);
        return 1;
    }
    size_t total = n;
    if (limit > 0 && (size_t)limit < n) n = (size_t)limit;
    geoloc_source src;
    geoloc_error err;
    int rc = 0;
    if (geoloc_source_files(dir, (const char *const *)names, n, &src, &err) != GEOLOC_OK) {
        fprintf(stderr, "%s: %s\n", cmd, err.message);
        rc = 1;
    }
    geoloc_loader *L = NULL;
    if (!rc && geoloc_loader_create(&cfg, &src, &L, &err) != GEOLOC_OK) {
        fprintf(stderr, "%s: %s\n", cmd, err.message);
        geoloc_source_close(&src);
        rc = 1;
    }
    if (!rc) {
        printf("photos: %zu of %zu in %s; mode %s, %dx%d, batch %zu, %d thread%s, DCT scaling %s\n", n,
               total, dir, mode, cfg.out_size, cfg.out_size, cfg.batch_size, cfg.threads,
               cfg.threads == 1 ? "" : "s", no_dct ? "off" : "on");
        double t0 = cli_now_seconds(), c0 = cpu_s(), best = 0, best_cpu = 0;
        size_t photos = 0, failed = 0;
        geoloc_batch b;
        while (geoloc_loader_next(L, &b, &err) == GEOLOC_OK) {
            photos += b.count;
            failed += b.n_failed;
            for (size_t i = 0; i < b.n_failed && failed <= 10; i++)
                fprintf(stderr, "skipped: %s\n", b.failed[i].message);
            if (b.last_in_epoch) {
                double t1 = cli_now_seconds(), c1 = cpu_s();
                double rate = (double)photos / (t1 - t0), per_cpu = (double)photos / (c1 - c0);
                printf("epoch %u: %zu photos (%zu skipped) in %.3f s: %.0f photos/s; %.2f cores busy, "
                       "%.0f photos per CPU second\n", b.epoch + 1, photos, failed, t1 - t0, rate,
                       (c1 - c0) / (t1 - t0), per_cpu);
                if (rate > best) best = rate;
                if (per_cpu > best_cpu) best_cpu = per_cpu;
                t0 = t1;
                c0 = c1;
                photos = failed = 0;
            }
        }
        printf("best: %.0f photos/s with %d thread%s (%.0f per thread); %.0f photos per CPU second\n",
               best, cfg.threads, cfg.threads == 1 ? "" : "s", best / cfg.threads, best_cpu);
        if (cfg.mode == GEOLOC_LOADER_TRAIN && cfg.threads == 1 && cfg.out_size == 224)
            printf("target >= 600 photos/s on one core: %s%s\n", best >= 600 ? "met" : "NOT met",
                   best < 600 && best_cpu >= 600 ? " (but met per CPU second: other processes took "
                                                   "part of the core)" : "");
        geoloc_loader_destroy(L);
        if (stages) time_stages(&src, n, &cfg);
        geoloc_source_close(&src);
    }
    for (size_t i = 0; i < total; i++) free(names[i]);
    free(names);
    return rc;
}
