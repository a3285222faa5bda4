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

#include "cli/cli_dataset.h"
#include "cli/cli_options.h"
#include "cli/cli_util.h"
#include "geoloc/dist.h"
#include "geoloc/model.h"
#include "geoloc/train.h"

/* At most this many partitions (heads), coarse to fine. */
#define MAX_PARTITIONS 6

typedef struct {
    int mode, loss;
    const char *scene, *scene_weight, *scene_labels;
    double geo_weight;
    int isn, no_geo;
    const char *out, *images, *shards, *val, *backbone, *features, *checkpoint, *log, *lr_schedule;
    const char *val_fold;
    const char *exclude_near; /* --exclude-near PAIRS.csv */
    double val_fraction, lr, momentum, weight_decay, backbone_lr_scale;
    uint64_t seed;
    long image_size, views, calibration_folds, epochs, batch, micro_batch, checkpoint_every, log_every, threads;
    cli_list partitions, tau_min, tau_max;
    int skip_invalid, nesterov, freeze_backbone, no_standardize, heads_only, with_backbone, resume, baselines;
    int sync_bn;
    long check_every, tune_from;
} train_args;

static const char *const MODES[] = {"heads", "full", NULL};
static const char *const LOSSES[] = {"mean", "sum", NULL};

/* Integer options: non-negative, at most a billion. */
#define COUNT .min = 0, .max = 1e9
/* Number options: non-negative. */
#define AMOUNT .min = 0, .max = 1e300

static const cli_option TRAIN_OPTIONS[] = {
    CLI_OPTION("out", 'o', CLI_STRING, train_args, out, "MODEL",
               "the model file; next to it MODEL.log.csv (one line per\n"
               "epoch), MODEL.ckpt.safetensors (checkpoint)", .required = 1),
    CLI_OPTION("images", 0, CLI_STRING, train_args, images, "DIR", "photos at DIR/IMG_ID, or"),
    CLI_OPTION("shards", 0, CLI_STRING, train_args, shards, "DIR",
               "in packed shards (geoloc dataset pack), by IMG_ID"),
    CLI_OPTION("exclude-near", 0, CLI_STRING, train_args, exclude_near, "PAIRS.csv",
               "leave out the training photos named in the a_id column of\n"
               "`geoloc dataset dedup --index TRAIN.idx --index2 TEST.idx`'s\n"
               "pairs (near-duplicates of test photos)"),
    CLI_OPTION("val", 0, CLI_STRING, train_args, val, "FILE", "validation manifest, or"),
    CLI_OPTION("val-fraction", 0, CLI_DOUBLE, train_args, val_fraction, "F",
               "hold out a share F of TRAIN.csv, grouped by AUTHOR, or", .min = 0, .max = 1),
    CLI_OPTION("val-fold", 0, CLI_STRING, train_args, val_fold, "K/N",
               "hold out fold K (0..N-1) of N folds of TRAIN.csv grouped\n"
               "by AUTHOR, the largest groups spread first (cross-validation\n"
               "over every photographer)"),
    CLI_OPTION("seed", 0, CLI_UINT64, train_args, seed, "N",
               "split, order, augmentation, initialisation"),
    CLI_OPTION("skip-invalid", 0, CLI_FLAG, train_args, skip_invalid, NULL,
               "skip bad manifest rows (counted) instead of stopping"),
    CLI_OPTION("partitions", 0, CLI_STRINGS, train_args, partitions, "A.csv,B.csv,...",
               "partition files, one head each, coarse to fine, or", .max_items = MAX_PARTITIONS),
    CLI_OPTION("tau-min", 0, CLI_UINT64S, train_args, tau_min, "N",
               "with --tau-max: partitions built on the training photos,", COUNT, .max_items = 1),
    CLI_OPTION("tau-max", 0, CLI_UINT64S, train_args, tau_max, "A,B,...",
               "written as MODEL.cells_N_A.csv ... (MODEL without\n.safetensors)", .min = 1, .max = 1e15,
               .max_items = MAX_PARTITIONS),
    CLI_OPTION("scene", 0, CLI_STRING, train_args, scene, "LEVELS",
               "scene heads, one per level of S3,S16,S365 (any of them,\n"
               "from the manifest's S3_Label, S16_Label, S365_Label;\n"
               "photos without a label are left out of that head's\n"
               "loss), auto (S3 when present) or none"),
    CLI_OPTION("scene-weight", 0, CLI_STRING, train_args, scene_weight, "W",
               "loss weight of the scene heads: X for every level, or\n"
               "per level S3=X,S16=Y,S365=Z (others 1)"),
    CLI_OPTION("geo-weight", 0, CLI_DOUBLE, train_args, geo_weight, "X",
               "loss weight of the geo heads together", AMOUNT),
    CLI_OPTION("isn", 0, CLI_FLAG, train_args, isn, NULL,
               "Individual Scene Networks: per S3 scene and partition a\n"
               "geo head trained on that scene's photos alone (needs\n"
               "the S3 head); the paper's ISNs are separate fine-tuned\n"
               "networks: heads mode is where they are practical here\n"
               "(full mode shares one backbone between them)"),
    CLI_OPTION("scene-labels", 0, CLI_STRING, train_args, scene_labels, "helper:MODEL",
               "photos lacking a level's label get the most probable\n"
               "class (three crops) of a scene classifier (geoloc scene\n"
               "train) with that level"),
    CLI_OPTION("backbone", 0, CLI_STRING, train_args, backbone, "FILE",
               "ImageNet weights (default resnet50-imagenet.safetensors\n"
               "in models/, share/geoloc or $GEOLOC_DATA_DIR: run\n"
               "tools/fetch-backbone.sh); input normalisation from its\n"
               "geoloc.input metadata"),
    CLI_OPTION("image-size", 0, CLI_INT, train_args, image_size, "N", "crop side fed to the network", COUNT),
    CLI_OPTION("mode", 0, CLI_ENUM, train_args, mode, NULL,
               "heads: backbone features computed once and cached,\n"
               "linear heads trained on them (seconds per epoch);\n"
               "full: fine-tune the whole network (its defaults:\n"
               "geoloc train --mode full --help)", .choices = MODES),
    CLI_OPTION("views", 0, CLI_INT, train_args, views, "N",
               "heads: views per training photo: 3 = the three crops,\n"
               "6 = and their flips, more = and random resized crops\n"
               "from a fixed seed", COUNT),
    CLI_OPTION("no-standardize", 0, CLI_FLAG, train_args, no_standardize, NULL,
               "heads: train on raw features (default: standardised,\n"
               "folded into the saved heads)"),
    CLI_OPTION("calibration-folds", 0, CLI_INT, train_args, calibration_folds, "K",
               "heads: calibrate on out-of-fold answers of the training\n"
               "photos, K folds grouped by AUTHOR (0: on the validation\n"
               "photos)", .min = 0, .max = 100),
    CLI_OPTION("features", 0, CLI_STRING, train_args, features, "FILE",
               "features cache (MODEL.features.safetensors), reused when\n"
               "backbone, photos, views and image size match"),
    CLI_OPTION("epochs", 0, CLI_INT, train_args, epochs, "N", "0: only the baselines, no model", COUNT),
    CLI_OPTION("lr", 0, CLI_DOUBLE, train_args, lr, "X", "learning rate", AMOUNT),
    CLI_OPTION("lr-schedule", 0, CLI_STRING, train_args, lr_schedule, "S",
               "per epoch: constant, step:N[:G], multistep:A,B[:G],\n"
               "exp:G, cosine:T[:MIN], +warmup:W[:F]"),
    CLI_OPTION("momentum", 0, CLI_DOUBLE, train_args, momentum, "X", "SGD momentum", AMOUNT),
    CLI_OPTION("weight-decay", 0, CLI_DOUBLE, train_args, weight_decay, "X", "L2 weight decay", AMOUNT),
    CLI_OPTION("nesterov", 0, CLI_FLAG, train_args, nesterov, NULL, "Nesterov momentum"),
    CLI_OPTION("batch", 0, CLI_INT, train_args, batch, "N", "photos per step (heads: views)", COUNT),
    CLI_OPTION("micro-batch", 0, CLI_INT, train_args, micro_batch, "N",
               "full: photos per network call, gradients accumulated", COUNT),
    CLI_OPTION("loss", 0, CLI_ENUM, train_args, loss, NULL,
               "mean or sum of the partitions' cross-entropies, plus\nthe scene's", .choices = LOSSES),
    CLI_OPTION("freeze-backbone", 0, CLI_FLAG, train_args, freeze_backbone, NULL, "full: update only the heads"),
    CLI_OPTION("backbone-lr-scale", 0, CLI_DOUBLE, train_args, backbone_lr_scale, "X",
               "full: the backbone's lr multiplier", AMOUNT),
    CLI_OPTION("tune-from", 0, CLI_INT, train_args, tune_from, "K",
               "full: fine-tune ResNet layer K (1-4) onward and the\nheads; the layers before stay as the backbone\n"
               "has them (batch norm with its running statistics)\nand only run forward (0: the whole network)", .min = 0, .max = 4),
    CLI_OPTION("heads-only", 0, CLI_FLAG, train_args, heads_only, NULL,
               "leave the backbone out, name its file (default in\nheads mode)"),
    CLI_OPTION("with-backbone", 0, CLI_FLAG, train_args, with_backbone, NULL,
               "heads mode: store the backbone in the model file too"),
    CLI_OPTION("checkpoint", 0, CLI_STRING, train_args, checkpoint, "FILE", "checkpoint file"),
    CLI_OPTION("log", 0, CLI_STRING, train_args, log, "FILE", "CSV log file"),
    CLI_OPTION("checkpoint-every", 0, CLI_INT, train_args, checkpoint_every, "N",
               "also checkpoint every N steps (0: every epoch)", COUNT),
    CLI_OPTION("log-every", 0, CLI_INT, train_args, log_every, "N", "also log every N steps (0: epochs only)",
               COUNT),
    CLI_OPTION("resume", 0, CLI_FLAG, train_args, resume, NULL,
               "continue exactly where the checkpoint left off (an\n"
               "interrupted feature extraction continues at its last\n"
               "saved chunk with or without it)"),
    CLI_OPTION("baselines", 0, CLI_FLAG, train_args, baselines, NULL,
               "also report on the validation photos: the training\n"
               "photos' most populated cell, and the nearest training\n"
               "photo in backbone-feature space (1-NN, cosine)"),
    CLI_OPTION("sync-bn", 0, CLI_FLAG, train_args, sync_bn, NULL,
               "several ranks (mpirun), full: batch-norm statistics of\n"
               "the whole micro-batch, so N ranks compute what one does"),
    CLI_OPTION("check-every", 0, CLI_INT, train_args, check_every, "N",
               "several ranks: compare the ranks' weights every N steps\n(and at checkpoints; 0: at checkpoints only)",
               COUNT),
    CLI_OPTION("threads", 'j', CLI_INT, train_args, threads, "N", "photo decoding threads (0: one per core)",
               COUNT),
    CLI_END};

static const cli_spec TRAIN_SPEC = {
    "geoloc train", "TRAIN.csv", 1, 1,
    "Trains a geolocation model (Mueller-Budack et al., ECCV 2018): a ResNet from\n"
    "ImageNet weights with one classification head per partition of the Earth\n"
    "(coarse to fine) and a scene head, validated after every epoch (three crops,\n"
    "hierarchical answer, accuracy at 1/25/200/750/2500 km and median error).\n"
    "TRAIN.csv ('-': standard input) is a manifest: IMG_ID, LAT, LON, [AUTHOR],\n"
    "[S3_Label ...]. Give the photos (--images or --shards) and the partitions\n"
    "(--partitions, or --tau-min and --tau-max). Defaults: the paper's recipe;\n"
    "those shown are the --mode's.\n",
    TRAIN_OPTIONS,
    "Network threads: OMP_NUM_THREADS (default: one per core).\n"
    "Exit status: 0 on success, 1 on a failure, 2 on a usage error.\n"};

static const cli_spec SCENE_TRAIN_SPEC = {
    "geoloc scene train", "TRAIN.csv", 1, 1,
    "Trains a scene classifier (the helper network of Mueller-Budack et al.):\n"
    "the ResNet with one head per scene level of --scene (S3, S16, S365; from\n"
    "the manifest's S3_Label, S16_Label, S365_Label) and no geo heads,\n"
    "validated after every epoch by each level's accuracy (the share of\n"
    "validation photos whose most probable class is their label). Its model\n"
    "labels other photos for geoloc train --scene-labels helper:MODEL.\n"
    "Options as geoloc train's; partitions, --isn and --baselines do not apply.\n",
    TRAIN_OPTIONS,
    "Network threads: OMP_NUM_THREADS (default: one per core).\n"
    "Exit status: 0 on success, 1 on a failure, 2 on a usage error.\n"};

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

/* Appends the per-level scene accuracy (levels without a head left out). */
static void fmt_scenes(const double *acc, char *out, size_t size) {
    for (int l = 0; acc && l < GEOLOC_SCENE_LEVELS; l++) {
        size_t len = strlen(out);
        if (isfinite(acc[l]))
            snprintf(out + len, size - len, "  %s %.1f%%", geoloc_scene_level_name(l), 100 * acc[l]);
    }
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
        if (ev->val && ev->val->n) fmt_summary(ev->val, line, sizeof line);
        else snprintf(line, sizeof line, "%s", ev->val ? "scenes" : "no validation");
        fmt_scenes(ev->scene_acc, line, sizeof line);
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

static void on_skip(void *ctx, const char *message) {
    (void)ctx;
    fprintf(stderr, "geoloc train: skipped %s\n", message);
}

/* Reads the partition files; names are their stems. */
static int read_partitions(const char *cmd, const cli_list *files, geoloc_partition **parts, char names[][64]) {
    for (int k = 0; k < files->n; k++) {
        geoloc_error err = {0};
        if (geoloc_partition_read(files->str[k], &parts[k], &err) != GEOLOC_OK) {
            fprintf(stderr, "%s: %s\n", cmd, err.message);
            return -1;
        }
        cli_stem(files->str[k], names[k], 64);
    }
    return 0;
}

/* The mode of the last "--mode V" or "--mode=V" before "--" (heads when none
 * or another value): its defaults are the ones --help shows and the run
 * starts from; cli_parse then checks V. */
static geoloc_train_mode mode_given(int argc, char **argv) {
    geoloc_train_mode mode = GEOLOC_TRAIN_HEADS;
    for (int k = 1; k < argc && strcmp(argv[k], "--"); k++) {
        const char *v = !strncmp(argv[k], "--mode=", 7)                   ? argv[k] + 7
                        : !strcmp(argv[k], "--mode") && k + 1 < argc ? argv[k + 1]
                                                                          : NULL;
        if (v) mode = strcmp(v, "full") ? GEOLOC_TRAIN_HEADS : GEOLOC_TRAIN_FULL;
    }
    return mode;
}

/* The options' defaults: those of the library for `mode`. */
static train_args defaults_of(const geoloc_train_options *o) {
    return (train_args){.mode = o->mode, .lr_schedule = o->lr_schedule, .lr = o->lr, .momentum = o->momentum,
                        .weight_decay = o->weight_decay, .backbone_lr_scale = o->backbone_lr_scale,
                        .seed = o->seed, .image_size = o->image_size, .views = o->views,
                        .calibration_folds = o->calibration_folds, .epochs = o->epochs,
                        .batch = o->batch, .micro_batch = o->micro_batch, .log_every = o->log_every,
                        .threads = o->loader_threads, .check_every = o->check_every,
                        .geo_weight = o->geo_weight, .scene = "auto", .scene_weight = "1"};
}

/* --scene: auto, none or levels S3,S16,S365 (a geoloc_train_scene set); -2 when bad. */
static int scene_set(const char *text) {
    if (!text || !strcmp(text, "auto")) return GEOLOC_SCENE_AUTO;
    if (!strcmp(text, "none")) return GEOLOC_SCENE_NONE;
    int set = 0;
    char buf[64];
    snprintf(buf, sizeof buf, "%s", text);
    for (char *save = NULL, *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        int level = geoloc_scene_level_parse(t);
        if (level < 0 || (set & (1 << level))) return -2;
        set |= 1 << level;
    }
    return set ? set : -2;
}

/* --scene-weight: X, or LEVEL=X,... (others 1) into w[level]; -1 when bad. */
static int scene_weights(const char *text, double *w) {
    for (int l = 0; l < GEOLOC_SCENE_LEVELS; l++) w[l] = 1.0;
    if (!text) return 0;
    char *end;
    double all = strtod(text, &end);
    if (end != text && !*end) {
        if (!(all >= 0) || !isfinite(all)) return -1;
        for (int l = 0; l < GEOLOC_SCENE_LEVELS; l++) w[l] = all;
        return 0;
    }
    char buf[128];
    snprintf(buf, sizeof buf, "%s", text);
    for (char *save = NULL, *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(t, '=');
        if (!eq) return -1;
        *eq = '\0';
        int level = geoloc_scene_level_parse(t);
        double v = strtod(eq + 1, &end);
        if (level < 0 || end == eq + 1 || *end || !(v >= 0) || !isfinite(v)) return -1;
        w[level] = v;
    }
    return 0;
}

/* The parsed options into the library's. */
static void apply(const train_args *a, geoloc_train_options *o) {
    o->out = a->out;
    o->images_dir = a->images;
    o->shards_dir = a->shards;
    o->val_fraction = a->val_fraction;
    if (a->val_fold) sscanf(a->val_fold, "%d/%d", &o->val_fold, &o->val_folds);
    o->seed = a->seed;
    o->tau_min = a->tau_min.n ? a->tau_min.u64[0] : 0;
    o->tau_max = a->tau_max.u64;
    o->n_tau = (size_t)a->tau_max.n;
    o->scene = scene_set(a->scene);
    scene_weights(a->scene_weight, o->scene_weight);
    o->geo_weight = a->geo_weight;
    o->isn = a->isn;
    o->no_geo = a->no_geo;
    o->scene_labels = a->scene_labels ? a->scene_labels + strlen("helper:") : NULL;
    o->backbone = a->backbone;
    o->image_size = (int)a->image_size;
    o->views = (int)a->views;
    o->standardize = o->standardize && !a->no_standardize;
    o->calibration_folds = (int)a->calibration_folds;
    o->features = a->features;
    o->epochs = (int)a->epochs;
    o->lr = a->lr;
    o->lr_schedule = a->lr_schedule;
    o->momentum = a->momentum;
    o->weight_decay = a->weight_decay;
    o->nesterov = a->nesterov;
    o->batch = (int)a->batch;
    o->micro_batch = (int)a->micro_batch;
    o->loss_sum = a->loss == 1;
    o->freeze_backbone = a->freeze_backbone;
    o->backbone_lr_scale = a->backbone_lr_scale;
    o->tune_from = (int)a->tune_from;
    if (a->heads_only) o->heads_only = 1;
    if (a->with_backbone) o->heads_only = 0;
    o->checkpoint = a->checkpoint;
    o->log = a->log;
    o->checkpoint_every = a->checkpoint_every;
    o->log_every = a->log_every;
    o->resume = a->resume;
    o->baselines = a->baselines;
    o->loader_threads = (int)a->threads;
    o->sync_bn = a->sync_bn;
    o->check_every = a->check_every;
}

/* Checks between options; 0 or CLI_EXIT_USAGE after the message. */
static int check_args(const cli_spec *spec, const train_args *a, geoloc_train_mode mode) {
    if ((geoloc_train_mode)a->mode != mode) return cli_usage_error(spec, "--mode must be an option of its own");
    if (!a->images == !a->shards) return cli_usage_error(spec, "give one of --images DIR and --shards DIR");
    int built = a->tau_min.n || a->tau_max.n;
    int set = scene_set(a->scene);
    double w[GEOLOC_SCENE_LEVELS];
    if (set == -2) return cli_usage_error(spec, "--scene takes auto, none or levels among S3,S16,S365 (e.g. S3,S16)");
    if (scene_weights(a->scene_weight, w))
        return cli_usage_error(spec, "--scene-weight takes X or LEVEL=X,... (S3, S16, S365; X >= 0)");
    if (a->scene_labels && strncmp(a->scene_labels, "helper:", 7))
        return cli_usage_error(spec, "--scene-labels takes helper:MODEL (a scene classifier)");
    if (a->isn && !(set == GEOLOC_SCENE_AUTO || (set > 0 && (set & GEOLOC_SCENE_S3))))
        return cli_usage_error(spec, "--isn needs the S3 scene head (--scene S3,...)");
    if (a->no_geo) {
        if (a->partitions.n || built || a->isn || a->baselines)
            return cli_usage_error(spec, "a scene classifier takes no partitions, --isn or --baselines");
        if (set <= 0) return cli_usage_error(spec, "a scene classifier needs --scene LEVELS (e.g. S3,S16,S365)");
    } else if (!a->partitions.n == !built || (built && !(a->tau_min.n && a->tau_max.n)))
        return cli_usage_error(spec, "give the partitions: --partitions A.csv,B.csv,... or --tau-min N "
                                     "--tau-max A,B,...");
    if (a->val && a->val_fraction > 0) return cli_usage_error(spec, "--val and --val-fraction exclude each other");
    int k, n, end = 0;
    if (a->val_fold && (sscanf(a->val_fold, "%d/%d%n", &k, &n, &end) != 2 || a->val_fold[end] || n < 2 || k < 0 ||
                        k >= n))
        return cli_usage_error(spec, "--val-fold must be K/N with 0 <= K < N and N >= 2");
    if (a->val_fold && (a->val || a->val_fraction > 0))
        return cli_usage_error(spec, "--val-fold excludes --val and --val-fraction");
    if (a->heads_only && a->with_backbone)
        return cli_usage_error(spec, "--heads-only and --with-backbone exclude each other");
    return 0;
}

/* Refuses an output that is an input (or another output); 0 or CLI_EXIT_USAGE. */
static int check_files(const train_args *a, const char *train_path) {
    cli_file inputs[3 + MAX_PARTITIONS] = {{"TRAIN.csv", train_path}, {"--val", a->val}, {"--backbone", a->backbone}};
    for (int k = 0; k < a->partitions.n; k++) inputs[3 + k] = (cli_file){"--partitions", a->partitions.str[k]};
    cli_file outputs[4] = {{"--out", a->out}, {"--log", a->log}, {"--checkpoint", a->checkpoint},
                           {"--features", a->features}};
    return cli_check_outputs(TRAIN_SPEC.name, inputs, 3 + a->partitions.n, outputs, 4);
}

/* geoloc train, or (no_geo) geoloc scene train. */
static int run(int argc, char **argv, const cli_spec *spec, int no_geo) {
    const char *cmd = spec->name;
    geoloc_train_mode mode = mode_given(argc, argv);
    geoloc_train_options o = geoloc_train_options_default(mode);
    train_args a = defaults_of(&o);
    int n_args;
    int parsed = cli_parse(spec, &a, argc, argv, &n_args);
    if (parsed != CLI_RUN) return parsed;
    a.no_geo = no_geo;
    const char *train_path = argv[1], *val_path = a.val;
    if (check_args(spec, &a, mode) || check_files(&a, train_path)) return CLI_EXIT_USAGE;
    apply(&a, &o);
    const char *stop = getenv("GEOLOC_TRAIN_STOP_AFTER"); /* testing: stop as if killed */
    if (stop && *stop) o.stop_after = strtol(stop, NULL, 10);
    const char *stop_chunks = getenv("GEOLOC_TRAIN_STOP_AFTER_CHUNKS"); /* testing: the same, extracting */
    if (stop_chunks && *stop_chunks) o.stop_after_chunks = strtol(stop_chunks, NULL, 10);
    const char *chunk = getenv("GEOLOC_TRAIN_FEATURES_CHUNK"); /* testing: photos per features chunk */
    if (chunk && *chunk) o.features_chunk = (size_t)strtoul(chunk, NULL, 10);

    geoloc_manifest *train = NULL, *val = NULL;
    geoloc_partition *parts[MAX_PARTITIONS] = {0};
    char names[MAX_PARTITIONS][64];
    const char *name_ptr[MAX_PARTITIONS];
    size_t n_parts = (size_t)a.partitions.n;
    geoloc_manifest_options mo = {.skip_invalid = a.skip_invalid, .on_skip = on_skip};
    geoloc_error err = {0};
    int rc = 1;
    if (read_partitions(cmd, &a.partitions, parts, names)) goto done;
    for (size_t k = 0; k < n_parts; k++) name_ptr[k] = names[k];
    if (n_parts) {
        o.partitions = (const geoloc_partition *const *)parts;
        o.partition_names = name_ptr;
        o.n_partitions = n_parts;
    }
    if (geoloc_manifest_read(train_path, &mo, &train, &err) != GEOLOC_OK ||
        (val_path && geoloc_manifest_read(val_path, &mo, &val, &err) != GEOLOC_OK)) {
        fprintf(stderr, "%s: %s\n", cmd, err.message);
        goto done;
    }
    if (a.exclude_near && cli_exclude_near(cmd, a.exclude_near, &train) != 0) goto done;
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
    if (geoloc_dist_rank() != 0) goto done; /* several ranks: rank 0 reports */
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
    if (mode == GEOLOC_TRAIN_FULL) {
        printf("ranks: %d; training: %.1f s (%d epochs)", res.ranks, res.train_seconds, res.epochs_done);
        if (res.ranks > 1)
            printf("; gradient sums: %.2f s, %.1f MB per rank per step", res.sum_seconds, (double)res.sum_bytes / 1e6);
        printf("\n");
    }
    if (mode == GEOLOC_TRAIN_HEADS)
        printf("features: %s%.1f s; training: %.1f s (%d epochs)\n", res.features_cached ? "cached, " : "",
               res.features_seconds, res.train_seconds, res.epochs_done);
    line[0] = '\0';
    if (res.epochs_done && res.val.n) fmt_summary(&res.val, line, sizeof line);
    fmt_scenes(res.scene_acc, line, sizeof line);
    if (res.epochs_done && line[0]) printf("validation: %s\n", line + (line[0] == ' ' ? 2 : 0));
    for (int l = 0; l < GEOLOC_SCENE_LEVELS; l++)
        if (o.scene_labels && res.scene_labels_added[l])
            printf("scene labels %s: %zu from %s\n", geoloc_scene_level_name(l), res.scene_labels_added[l],
                   o.scene_labels);
done:
    for (size_t k = 0; k < MAX_PARTITIONS; k++) geoloc_partition_free(parts[k]);
    geoloc_manifest_free(train);
    geoloc_manifest_free(val);
    return rc;
}

int cli_train(int argc, char **argv) { return run(argc, argv, &TRAIN_SPEC, 0); }

int cli_scene_train(int argc, char **argv) { return run(argc, argv, &SCENE_TRAIN_SPEC, 1); }
