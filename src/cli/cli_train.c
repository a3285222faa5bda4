/* geoloc train: trains a geolocation model (Müller-Budack et al., ECCV 2018)
 * with geoloc_train (include/geoloc/train.h): reads the manifests and
 * partition files, turns the options into geoloc_train_options and shows
 * the progress (a bar on a terminal, plain lines otherwise). */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli_util.h"
#include "geoloc/train.h"

static const char USAGE[] =
    "usage: geoloc train --out MODEL (--images DIR | --shards DIR) [options] TRAIN.csv\n"
    "Trains a geolocation model (Mueller-Budack et al., ECCV 2018): a ResNet from\n"
    "ImageNet weights with one classification head per partition of the Earth\n"
    "(coarse to fine) and a scene head, validated after every epoch (three crops,\n"
    "hierarchical answer, accuracy at 1/25/200/750/2500 km and median error).\n"
    "\n"
    "data:\n"
    "  TRAIN.csv                manifest: IMG_ID, LAT, LON, [AUTHOR], [S3_Label ...]\n"
    "  --images DIR             photos at DIR/IMG_ID, or\n"
    "  --shards DIR             in packed shards (geoloc dataset pack), by IMG_ID\n"
    "  --val FILE               validation manifest, or\n"
    "  --val-fraction F         hold out a share F of TRAIN.csv, grouped by AUTHOR\n"
    "  --seed N                 split, order, augmentation, initialisation (1)\n"
    "  --skip-invalid           skip bad manifest rows (counted) instead of stopping\n"
    "partitions (one head each, coarse to fine):\n"
    "  --partitions A.csv,B.csv,...  given partition files, or\n"
    "  --tau-min N --tau-max A,B,... built on the training photos, written as\n"
    "                           MODEL.cells_N_A.csv ... (MODEL without .safetensors)\n"
    "  --scene S3|S16|S365|none scene head from the manifest's S3_Label, S16_Label or\n"
    "                           S365_Label (default: S3 when present); photos without\n"
    "                           a label are left out of that head's loss\n"
    "network:\n"
    "  --backbone FILE          ImageNet weights (default resnet50-imagenet.safetensors in\n"
    "                           models/, share/geoloc or $GEOLOC_DATA_DIR: run\n"
    "                           tools/fetch-backbone.sh); input normalisation from its\n"
    "                           geoloc.input metadata\n"
    "  --image-size N           crop side fed to the network (224)\n"
    "mode:\n"
    "  --mode heads|full        heads (default): backbone features computed once and\n"
    "                           cached, linear heads trained on them (seconds per epoch);\n"
    "                           full: fine-tune the whole network\n"
    "  --views N                heads: views per training photo: 3 = the three crops,\n"
    "                           6 = and their flips (default), more = and random\n"
    "                           resized crops from a fixed seed\n"
    "  --no-standardize         heads: train on raw features (default: standardised,\n"
    "                           folded into the saved heads)\n"
    "  --features FILE          features cache (MODEL.features.safetensors), reused when\n"
    "                           backbone, photos, views and image size match\n"
    "optimisation (defaults: the paper's recipe):\n"
    "  --epochs N               heads 30, full 15 (0: only the baselines, no model)\n"
    "  --lr X                   0.01\n"
    "  --lr-schedule S          per epoch: constant, step:N[:G], multistep:A,B[:G],\n"
    "                           exp:G, cosine:T[:MIN], +warmup:W[:F] (step:5:0.5)\n"
    "  --momentum X             0.9\n"
    "  --weight-decay X         1e-4\n"
    "  --nesterov               Nesterov momentum\n"
    "  --batch N                photos per step (full 128; heads: views, 256)\n"
    "  --micro-batch N          full: photos per network call, gradients accumulated (32)\n"
    "  --loss mean|sum          mean (default) or sum of the partitions' cross-entropies,\n"
    "                           plus the scene's\n"
    "  --freeze-backbone        full: update only the heads\n"
    "  --backbone-lr-scale X    full: the backbone's lr multiplier (1)\n"
    "outputs:\n"
    "  --out MODEL              the model file; next to it MODEL.log.csv (one line per\n"
    "                           epoch), MODEL.ckpt.safetensors (checkpoint)\n"
    "  --heads-only             leave the backbone out, name its file (default in heads mode)\n"
    "  --with-backbone          heads mode: store the backbone in the model file too\n"
    "  --checkpoint FILE        checkpoint file\n"
    "  --log FILE               CSV log file\n"
    "  --checkpoint-every N     also checkpoint every N steps (default: every epoch)\n"
    "  --log-every N            also log every N steps (full: 1, heads: 0 = epochs only)\n"
    "  --resume                 continue exactly where the checkpoint left off (an\n"
    "                           interrupted feature extraction continues at its last\n"
    "                           saved chunk with or without it)\n"
    "  --baselines              also report on the validation photos: the training\n"
    "                           photos' most populated cell, and the nearest training\n"
    "                           photo in backbone-feature space (1-NN, cosine)\n"
    "  --threads N              photo decoding threads (1; 0 = one per core)\n"
    "Network threads: OMP_NUM_THREADS (default: one per core).\n";

typedef struct progress {
    int tty;
    double last;        /* last bar or line printed */
    double last_line;   /* plain mode: last step line */
    int bar;            /* a bar is on the current line */
    size_t features_mark;
} progress;

static void fmt_time(double s, char *out, size_t size) {
    if (!(s >= 0) || !isfinite(s)) s = 0;
    long t = (long)(s + 0.5);
    if (t >= 3600) snprintf(out, size, "%ldh%02ldm", t / 3600, t / 60 % 60);
    else if (t >= 60) snprintf(out, size, "%ldm%02lds", t / 60, t % 60);
    else snprintf(out, size, "%lds", t);
}

static void fmt_summary(const geoloc_distance_summary *d, char *out, size_t size) {
    snprintf(out, size, "1km %5.1f%%  25km %5.1f%%  200km %5.1f%%  750km %5.1f%%  2500km %5.1f%%  median %.0f km (n=%zu)",
             100 * d->accuracy[0], 100 * d->accuracy[1], 100 * d->accuracy[2], 100 * d->accuracy[3],
             100 * d->accuracy[4], d->median_km, d->n);
}

static void clear_bar(progress *p) {
    if (p->bar) fprintf(stderr, "\r\033[K");
    p->bar = 0;
}

static void draw_bar(progress *p, const char *what, size_t done, size_t total, const char *tail) {
    char bar[31];
    int fill = total ? (int)(30.0 * (double)done / (double)total) : 0;
    for (int k = 0; k < 30; k++) bar[k] = k < fill ? '#' : '.';
    bar[30] = '\0';
    fprintf(stderr, "\r\033[K%s [%s] %zu/%zu %s", what, bar, done, total, tail);
    fflush(stderr);
    p->bar = 1;
}

static void on_event(void *ctx, const geoloc_train_event *ev) {
    progress *p = ctx;
    double now = cli_now_seconds();
    char eta[32], line[512], tail[200];
    switch (ev->kind) {
    case GEOLOC_TRAIN_EV_INFO:
    case GEOLOC_TRAIN_EV_WARNING:
        clear_bar(p);
        fprintf(stderr, "geoloc train: %s%s\n", ev->kind == GEOLOC_TRAIN_EV_WARNING ? "warning: " : "", ev->message);
        break;
    case GEOLOC_TRAIN_EV_FEATURES: {
        double rate = ev->elapsed_s > 0 ? (double)ev->done / ev->elapsed_s : 0;
        fmt_time(rate > 0 ? (double)(ev->total - ev->done) / rate : 0, eta, sizeof eta);
        if (p->tty) {
            if (now - p->last < 0.2 && ev->done < ev->total) break;
            snprintf(tail, sizeof tail, "photos  %.1f photos/s  ETA %s", rate, eta);
            draw_bar(p, "features", ev->done, ev->total, tail);
            if (ev->done == ev->total) clear_bar(p);
        } else if (ev->done * 10 / (ev->total ? ev->total : 1) != p->features_mark || ev->done == ev->total) {
            p->features_mark = ev->done * 10 / (ev->total ? ev->total : 1);
            fprintf(stderr, "geoloc train: features %zu/%zu photos, %.1f photos/s, ETA %s\n", ev->done, ev->total,
                    rate, eta);
        }
        p->last = now;
        break;
    }
    case GEOLOC_TRAIN_EV_STEP:
        fmt_time(ev->eta_s, eta, sizeof eta);
        snprintf(tail, sizeof tail, "steps  loss %.4f  lr %.3g  %.1f img/s  ETA %s", ev->loss, ev->lr,
                 ev->images_per_s, eta);
        if (p->tty) {
            if (now - p->last < 0.2 && ev->done < ev->total) break;
            snprintf(line, sizeof line, "epoch %d/%d", ev->epoch + 1, ev->epochs);
            draw_bar(p, line, ev->done, ev->total, tail);
            p->last = now;
        } else if (now - p->last_line >= 10) {
            fprintf(stderr, "geoloc train: epoch %d/%d step %zu/%zu (%ld): %s\n", ev->epoch + 1, ev->epochs,
                    ev->done, ev->total, ev->step, tail);
            p->last_line = now;
        }
        break;
    case GEOLOC_TRAIN_EV_EPOCH:
        clear_bar(p);
        fmt_time(ev->elapsed_s, eta, sizeof eta);
        if (ev->val) fmt_summary(ev->val, line, sizeof line);
        else snprintf(line, sizeof line, "no validation");
        printf("epoch %3d/%d  step %6ld  lr %-8.3g loss %.4f | %s | %.0f img/s, %s\n", ev->epoch + 1, ev->epochs,
               ev->step, ev->lr, ev->loss, line, ev->images_per_s, eta);
        fflush(stdout);
        break;
    case GEOLOC_TRAIN_EV_BASELINE:
        clear_bar(p);
        fmt_summary(ev->val, line, sizeof line);
        printf("baseline %-40s %s\n", ev->message, line);
        fflush(stdout);
        break;
    }
}

static int parse_double(const char *cmd, const char *opt, const char *text, double *out) {
    char *end;
    double v = strtod(text, &end);
    if (end == text || *end || !isfinite(v) || v < 0) {
        fprintf(stderr, "%s: %s: expected a non-negative number, got '%s'\n", cmd, opt, text);
        return -1;
    }
    *out = v;
    return 0;
}

static void on_skip(void *ctx, const char *message) {
    (void)ctx;
    fprintf(stderr, "geoloc train: skipped %s\n", message);
}

/* Reads the comma-separated partition files; names are their stems. */
static int read_partitions(const char *cmd, char *list, geoloc_partition **parts, char names[][64], size_t *n) {
    *n = 0;
    for (char *save = NULL, *f = strtok_r(list, ",", &save); f; f = strtok_r(NULL, ",", &save)) {
        if (*n == 6) {
            fprintf(stderr, "%s: --partitions: at most 6 files\n", cmd);
            return -1;
        }
        geoloc_error err = {0};
        if (geoloc_partition_read(f, &parts[*n], &err) != GEOLOC_OK) {
            fprintf(stderr, "%s: %s\n", cmd, err.message);
            return -1;
        }
        cli_stem(f, names[*n], 64);
        (*n)++;
    }
    return 0;
}

int cli_train(int argc, char **argv) {
    const char *cmd = "geoloc train";
    geoloc_train_mode mode = GEOLOC_TRAIN_HEADS;
    for (int k = 1; k + 1 < argc; k++)
        if (!strcmp(argv[k], "--mode")) {
            if (!strcmp(argv[k + 1], "full")) mode = GEOLOC_TRAIN_FULL;
            else if (strcmp(argv[k + 1], "heads")) {
                fprintf(stderr, "%s: --mode: heads or full, got '%s'\n", cmd, argv[k + 1]);
                return 2;
            }
        }
    geoloc_train_options o = geoloc_train_options_default(mode);
    const char *train_path = NULL, *val_path = NULL, *parts_arg = NULL;
    uint64_t tau_max[6];
    long tau_min = -1;
    int skip_invalid = 0;
    for (int k = 1; k < argc; k++) {
        const char *a = argv[k], *v = NULL;
        long n;
        if (cli_is_help(a)) {
            fputs(USAGE, stdout);
            return 0;
        }
        int flag = 1;
        if (!strcmp(a, "--skip-invalid")) skip_invalid = 1;
        else if (!strcmp(a, "--nesterov")) o.nesterov = 1;
        else if (!strcmp(a, "--freeze-backbone")) o.freeze_backbone = 1;
        else if (!strcmp(a, "--no-standardize")) o.standardize = 0;
        else if (!strcmp(a, "--heads-only")) o.heads_only = 1;
        else if (!strcmp(a, "--with-backbone")) o.heads_only = 0;
        else if (!strcmp(a, "--resume")) o.resume = 1;
        else if (!strcmp(a, "--baselines")) o.baselines = 1;
        else flag = 0;
        if (flag) continue;
        if (a[0] != '-' || !a[1]) {
            if (cli_single_argument(cmd, USAGE, "training manifest", a, &train_path)) return 2;
            continue;
        }
        if (!(v = cli_option_value(cmd, argc, argv, &k))) return 2;
        if (!strcmp(a, "--mode")) continue;
        else if (!strcmp(a, "--out")) o.out = v;
        else if (!strcmp(a, "--images")) o.images_dir = v;
        else if (!strcmp(a, "--shards")) o.shards_dir = v;
        else if (!strcmp(a, "--val")) val_path = v;
        else if (!strcmp(a, "--backbone")) o.backbone = v;
        else if (!strcmp(a, "--features")) o.features = v;
        else if (!strcmp(a, "--checkpoint")) o.checkpoint = v;
        else if (!strcmp(a, "--log")) o.log = v;
        else if (!strcmp(a, "--lr-schedule")) o.lr_schedule = v;
        else if (!strcmp(a, "--partitions")) parts_arg = v;
        else if (!strcmp(a, "--val-fraction")) {
            if (parse_double(cmd, a, v, &o.val_fraction)) return 2;
        } else if (!strcmp(a, "--lr")) {
            if (parse_double(cmd, a, v, &o.lr)) return 2;
        } else if (!strcmp(a, "--momentum")) {
            if (parse_double(cmd, a, v, &o.momentum)) return 2;
        } else if (!strcmp(a, "--weight-decay")) {
            if (parse_double(cmd, a, v, &o.weight_decay)) return 2;
        } else if (!strcmp(a, "--backbone-lr-scale")) {
            if (parse_double(cmd, a, v, &o.backbone_lr_scale)) return 2;
        } else if (!strcmp(a, "--tau-max")) {
            int m = cli_parse_uint_list(cmd, a, v, tau_max, 6);
            if (m < 0) return 2;
            o.tau_max = tau_max;
            o.n_tau = (size_t)m;
        } else if (!strcmp(a, "--loss")) {
            if (strcmp(v, "mean") && strcmp(v, "sum")) {
                fprintf(stderr, "%s: --loss: mean or sum, got '%s'\n", cmd, v);
                return 2;
            }
            o.loss_sum = !strcmp(v, "sum");
        } else if (!strcmp(a, "--scene")) {
            if (!strcmp(v, "S3")) o.scene = GEOLOC_SCENE_S3;
            else if (!strcmp(v, "S16")) o.scene = GEOLOC_SCENE_S16;
            else if (!strcmp(v, "S365")) o.scene = GEOLOC_SCENE_S365;
            else if (!strcmp(v, "none")) o.scene = GEOLOC_SCENE_NONE;
            else {
                fprintf(stderr, "%s: --scene: S3, S16, S365 or none, got '%s'\n", cmd, v);
                return 2;
            }
        } else {
            static const char *const ints[] = {"--seed", "--tau-min", "--image-size", "--views", "--epochs",
                                               "--batch", "--micro-batch", "--checkpoint-every", "--log-every",
                                               "--threads"};
            size_t which = 0, n_ints = sizeof ints / sizeof ints[0];
            while (which < n_ints && strcmp(a, ints[which])) which++;
            if (which == n_ints) {
                fprintf(stderr, "%s: unknown option %s\n%s", cmd, a, USAGE);
                return 2;
            }
            if (cli_parse_int(cmd, a, v, &n)) return 2;
            if (n > 1000000000L) {
                fprintf(stderr, "%s: %s: %ld is too large\n", cmd, a, n);
                return 2;
            }
            switch (which) {
            case 0: o.seed = (uint64_t)n; break;
            case 1: tau_min = n; break;
            case 2: o.image_size = (int)n; break;
            case 3: o.views = (int)n; break;
            case 4: o.epochs = (int)n; break;
            case 5: o.batch = (int)n; break;
            case 6: o.micro_batch = (int)n; break;
            case 7: o.checkpoint_every = n; break;
            case 8: o.log_every = n; break;
            default: o.loader_threads = (int)n; break;
            }
        }
    }
    if (!train_path || !o.out || (!o.images_dir == !o.shards_dir)) {
        fprintf(stderr, "%s: need TRAIN.csv, --out MODEL and one of --images DIR / --shards DIR\n%s", cmd, USAGE);
        return 2;
    }
    if (!parts_arg == (tau_min < 0 || o.n_tau == 0) || (parts_arg && (tau_min >= 0 || o.n_tau))) {
        fprintf(stderr, "%s: give the partitions: --partitions A.csv,B.csv,... or --tau-min N --tau-max A,B,...\n",
                cmd);
        return 2;
    }
    if (val_path && o.val_fraction > 0) {
        fprintf(stderr, "%s: --val and --val-fraction exclude each other\n", cmd);
        return 2;
    }
    const char *stop = getenv("GEOLOC_TRAIN_STOP_AFTER"); /* testing: stop as if killed */
    if (stop && *stop) o.stop_after = strtol(stop, NULL, 10);
    const char *stop_chunks = getenv("GEOLOC_TRAIN_STOP_AFTER_CHUNKS"); /* testing: the same, extracting */
    if (stop_chunks && *stop_chunks) o.stop_after_chunks = strtol(stop_chunks, NULL, 10);
    const char *chunk = getenv("GEOLOC_TRAIN_FEATURES_CHUNK"); /* testing: photos per features chunk */
    if (chunk && *chunk) o.features_chunk = (size_t)strtoul(chunk, NULL, 10);
    o.tau_min = tau_min < 0 ? 0 : (uint64_t)tau_min;

    geoloc_manifest *train = NULL, *val = NULL;
    geoloc_partition *parts[6] = {0};
    char names[6][64];
    const char *name_ptr[6];
    size_t n_parts = 0;
    char *parts_copy = parts_arg ? strdup(parts_arg) : NULL;
    geoloc_manifest_options mo = {.skip_invalid = skip_invalid, .on_skip = on_skip};
    geoloc_error err = {0};
    int rc = 1;
    if (parts_arg && (!parts_copy || read_partitions(cmd, parts_copy, parts, names, &n_parts))) goto done;
    for (size_t k = 0; k < n_parts; k++) name_ptr[k] = names[k];
    if (parts_arg) {
        o.partitions = (const geoloc_partition *const *)parts;
        o.partition_names = name_ptr;
        o.n_partitions = n_parts;
    }
    if (geoloc_manifest_read(train_path, &mo, &train, &err) != GEOLOC_OK ||
        (val_path && geoloc_manifest_read(val_path, &mo, &val, &err) != GEOLOC_OK)) {
        fprintf(stderr, "%s: %s\n", cmd, err.message);
        goto done;
    }
    o.train = train;
    o.val = val;
    const char *slash = strrchr(o.out, '/');
    if (slash && slash != o.out) {
        char parent[4096];
        snprintf(parent, sizeof parent, "%.*s", (int)(slash - o.out), o.out);
        if (cli_mkdir_p(cmd, parent)) goto done;
    }
    progress p = {.tty = isatty(STDERR_FILENO)};
    o.report = on_event;
    o.ctx = &p;
    geoloc_train_result res;
    geoloc_status s = geoloc_train(&o, &res, &err);
    clear_bar(&p);
    if (s != GEOLOC_OK) {
        fprintf(stderr, "%s: %s\n", cmd, err.message);
        goto done;
    }
    rc = 0;
    if (res.stopped) {
        if (res.steps || !stop_chunks)
            fprintf(stderr, "%s: stopped after step %s (GEOLOC_TRAIN_STOP_AFTER): continue with --resume\n", cmd,
                    stop);
        else
            fprintf(stderr, "%s: stopped after %s features chunks (GEOLOC_TRAIN_STOP_AFTER_CHUNKS): continue with "
                    "--resume\n", cmd, stop_chunks);
        goto done;
    }
    if (res.nothing_to_do) goto done;
    char line[512];
    if (mode == GEOLOC_TRAIN_HEADS)
        printf("features: %s%.1f s; training: %.1f s (%d epochs)\n", res.features_cached ? "cached, " : "",
               res.features_seconds, res.train_seconds, res.epochs_done);
    if (res.epochs_done && res.val.n) {
        fmt_summary(&res.val, line, sizeof line);
        printf("validation: %s\n", line);
    }
done:
    free(parts_copy);
    for (size_t k = 0; k < 6; k++) geoloc_partition_free(parts[k]);
    geoloc_manifest_free(train);
    geoloc_manifest_free(val);
    return rc;
}
