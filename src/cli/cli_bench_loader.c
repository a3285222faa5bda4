/* geoloc bench loader: photos per second through the batch loader (read,
 * decode, crop, resize, flip, normalise to NCHW float32) on a folder. */
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "cli/cli_photos.h"
#include "cli/cli_util.h"
#include "geoloc/loader.h"

static const char LOADER_USAGE[] =
    "usage: geoloc bench loader DIR [--threads N] [--limit N] [--mode MODE] [options]\n"
    "\n"
    "Runs the batch loader over the photos (.jpg .jpeg .png .webp) of DIR in name\n"
    "order and prints photos per second for each epoch. The first epoch also reads\n"
    "the files into the page cache; the best epoch is the steady-state figure.\n"
    "Target: >= 600 photos/s on one core (--threads 1) for 427x320 JPEGs in train\n"
    "mode (random resized crop + flip to 224x224, ImageNet normalisation).\n"
    "\n"
    "options:\n"
    "  --threads N   worker threads (default 1)\n"
    "  --limit N     use the first N photos only\n"
    "  --mode M      train (default), eval (resize 256 + center crop), five, three\n"
    "  --epochs N    epochs to time (default 3)\n"
    "  --batch N     batch size (default 32)\n"
    "  --size N      output side (default 224)\n"
    "  --no-dct      decode JPEGs at full size even when smaller would do\n"
    "  --stages      also time reading, decoding and transforming separately (one thread)\n";

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
        if (e->d_name[0] == '.' || !cli_is_photo_name(e->d_name)) continue;
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
    const char *cmd = "geoloc bench loader", *dir = NULL, *mode = "train";
    long threads = 1, limit = 0, epochs = 3, batch = 32, size = 224;
    int no_dct = 0, stages = 0;
    for (int k = 1; k < argc; k++) {
        const char *a = argv[k], *v;
        long *target = NULL;
        if (cli_is_help(a)) {
            fputs(LOADER_USAGE, stdout);
            return 0;
        } else if (!strcmp(a, "--threads")) {
            target = &threads;
        } else if (!strcmp(a, "--limit")) {
            target = &limit;
        } else if (!strcmp(a, "--epochs")) {
            target = &epochs;
        } else if (!strcmp(a, "--batch")) {
            target = &batch;
        } else if (!strcmp(a, "--size")) {
            target = &size;
        } else if (!strcmp(a, "--mode")) {
            if (!(mode = cli_option_value(cmd, argc, argv, &k))) return 2;
        } else if (!strcmp(a, "--no-dct")) {
            no_dct = 1;
        } else if (!strcmp(a, "--stages")) {
            stages = 1;
        } else if (a[0] != '-' && !dir) {
            dir = a;
        } else {
            fprintf(stderr, "%s: unexpected argument %s\n%s", cmd, a, LOADER_USAGE);
            return 2;
        }
        if (target && (!(v = cli_option_value(cmd, argc, argv, &k)) || cli_parse_int(cmd, a, v, target)))
            return 2;
    }
    if (!dir) {
        fprintf(stderr, "%s: missing DIR\n%s", cmd, LOADER_USAGE);
        return 2;
    }
    geoloc_loader_config cfg = geoloc_loader_config_default();
    if (!strcmp(mode, "train")) cfg.mode = GEOLOC_LOADER_TRAIN;
    else if (!strcmp(mode, "eval")) cfg.mode = GEOLOC_LOADER_EVAL_CENTER;
    else if (!strcmp(mode, "five")) cfg.mode = GEOLOC_LOADER_EVAL_FIVE;
    else if (!strcmp(mode, "three")) cfg.mode = GEOLOC_LOADER_EVAL_THREE;
    else {
        fprintf(stderr, "%s: --mode must be train, eval, five or three\n", cmd);
        return 2;
    }
    if (threads < 1 || threads > 256 || epochs < 1 || epochs > 1000 || batch < 1 || size < 1 || size > 4096) {
        fprintf(stderr, "%s: --threads 1-256, --epochs 1-1000, --batch >= 1, --size 1-4096\n", cmd);
        return 2;
    }
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
