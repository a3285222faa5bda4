/* geoloc model: what a model file holds (info) and a new, untrained model
 * from partitions and a backbone (init: the starting point of training, and
 * a model for tests). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli/cli_calibrate.h"
#include "cli/cli_photos.h"
#include "cli/cli_util.h"
#include "cli/commands.h"
#include "geoloc/album.h"
#include "geoloc/calibration.h"
#include "geoloc/model.h"
#include "geoloc/scene.h"

typedef struct {
    int json;
} info_args;

static const cli_option INFO_OPTIONS[] = {
    CLI_OPTION("json", 0, CLI_FLAG, info_args, json, NULL, "one JSON object"),
    CLI_END};

static const cli_spec INFO_SPEC = {
    "geoloc model info", "FILE", 1, 1,
    "Checks a model file (format version, partitions, hierarchy, heads; not the\n"
    "backbone weights) and prints what it holds: architecture, input preprocessing,\n"
    "each partition (classes, training photos, cell levels), scene classes, the\n"
    "backbone file it names (and where it was found), the fine-tuned stages the file\n"
    "carries over it (and their dtype) and extra metadata such as a training summary.\n",
    INFO_OPTIONS, "Exit status: 0, or 1 when the file is not a valid model.\n"};

typedef struct init_args {
    cli_list cells, names, scenes;
    const char *arch, *backbone;
    int heads_only, isn;
    long seed, image_size;
} init_args;

static const cli_option INIT_OPTIONS[] = {
    CLI_OPTION("cells", 'c', CLI_STRINGS, init_args, cells, "LIST",
               "partition files, coarse to fine (none: a scene classifier,\nwhich needs --scenes)",
               .max_items = GEOLOC_MODEL_MAX_PARTITIONS),
    CLI_OPTION("names", 0, CLI_STRINGS, init_args, names, "LIST",
               "partition names (default: the files' names without .csv)",
               .max_items = GEOLOC_MODEL_MAX_PARTITIONS),
    CLI_OPTION("arch", 0, CLI_STRING, init_args, arch, "resnetN",
               "a randomly initialised ResNet-18/34/50/101/152 backbone"),
    CLI_OPTION("backbone", 0, CLI_STRING, init_args, backbone, "FILE",
               "backbone weights (e.g. models/resnet50-imagenet.safetensors);\n"
               "its architecture and input preprocessing are used"),
    CLI_OPTION("heads-only", 0, CLI_FLAG, init_args, heads_only, NULL,
               "do not copy the backbone into OUT: OUT names FILE's base name,\n"
               "found at load time in $GEOLOC_DATA_DIR, <bin>/../share/geoloc\n"
               "or <bin>/../models"),
    CLI_OPTION("scenes", 0, CLI_STRINGS, init_args, scenes, "LIST", "scene class names (a scene head); default none",
               .max_items = CLI_LIST_MAX),
    CLI_OPTION("isn", 0, CLI_FLAG, init_args, isn, NULL,
               "Individual Scene Networks: a set of geo heads per S3 scene\n(needs --cells and 3 --scenes)"),
    CLI_OPTION("seed", 0, CLI_INT, init_args, seed, "N", "initialisation seed", .min = 1, .max = 1e18),
    CLI_OPTION("image-size", 0, CLI_INT, init_args, image_size, "N", "crop side fed to the network", .min = 32,
               .max = 4096),
    CLI_END};

static const cli_spec INIT_SPEC = {
    "geoloc model init", "OUT.safetensors", 1, 1,
    "Writes an untrained model: one head per partition file (published format, coarse\n"
    "to fine, e.g. geoloc cells build) and an optional scene head, on a ResNet\n"
    "backbone (--arch or --backbone). Heads start from torch's initialisation (seed);\n"
    "its predictions mean nothing until it is trained.\n",
    INIT_OPTIONS, NULL};

/* ---- info ---------------------------------------------------------------------- */

static void level_range(const geoloc_partition *p, int *lo, int *hi) {
    *lo = 30, *hi = 0;
    for (size_t k = 0; k < p->n; k++) {
        int l = geoloc_s2_level(p->cell[k]);
        *lo = l < *lo ? l : *lo;
        *hi = l > *hi ? l : *hi;
    }
}

static size_t orphans(const geoloc_model *m, size_t f, size_t c) {
    size_t n = 0;
    for (size_t k = 0; k < m->partitions[f]->n; k++) n += m->ancestor[f][c][k] < 0;
    return n;
}

/* The file's format: fine-tuned stages need the newer one. */
static const char *model_format(const geoloc_model *m) {
    return m->tuned_from ? GEOLOC_MODEL_FORMAT_TUNED : GEOLOC_MODEL_FORMAT;
}

static void print_info_json(const char *path, const geoloc_model *m, const char *backbone_path) {
    const geoloc_resnet_config *c = &m->config;
    printf("{\"file\": ");
    cli_json_string(stdout, path);
    printf(", \"format\": \"%s\", \"arch\": \"resnet%d\", \"stride_in_bottleneck\": \"%s\", \"conv_bias\": %s, "
           "\"bn_eps\": %g, \"input\": \"%s\", \"image_size\": %d, \"partitions\": [",
           model_format(m), c->depth, c->stride_on_conv1 ? "conv1" : "conv2", c->conv_bias ? "true" : "false",
           (double)c->bn_eps, geoloc_model_input_name(m->norm), m->image_size);
    for (size_t f = 0; f < m->n_partitions; f++) {
        int lo, hi;
        level_range(m->partitions[f], &lo, &hi);
        printf("%s{\"name\": ", f ? ", " : "");
        cli_json_string(stdout, m->partition_names[f]);
        printf(", \"classes\": %zu, \"num_images\": %llu, \"level_min\": %d, \"level_max\": %d}", m->partitions[f]->n,
               (unsigned long long)m->partitions[f]->num_images, lo, hi);
    }
    printf("], \"scenes\": {");
    for (int l = 0, first = 1; l < GEOLOC_SCENE_LEVELS; l++) {
        if (!m->scene_classes[l]) continue;
        printf("%s\"%s\": [", first ? "" : ", ", geoloc_scene_level_name(l));
        for (size_t s = 0; s < m->scene_classes[l]; s++) {
            if (s) printf(", ");
            cli_json_string(stdout, m->scene_names[m->scene_offset[l] + s]);
        }
        printf("]");
        first = 0;
    }
    printf("}, \"isn\": %s, \"backbone\": ", m->n_isn ? "true" : "false");
    if (m->backbone[0]) {
        cli_json_string(stdout, m->backbone);
        printf(", \"backbone_path\": ");
        if (backbone_path) cli_json_string(stdout, backbone_path);
        else printf("null");
    } else {
        printf("null");
    }
    printf(", \"tuned\": ");
    if (m->tuned_from) {
        printf("{\"stages\": [");
        for (int k = m->tuned_from; k <= 4; k++) printf("%s\"layer%d\"", k > m->tuned_from ? ", " : "", k);
        printf("], \"dtype\": \"%s\"}", geoloc_dtype_name(m->tuned_dtype));
    } else {
        printf("null");
    }
    printf(", \"metadata\": {");
    for (size_t k = 0; k < m->n_meta; k++) {
        if (k) printf(", ");
        cli_json_string(stdout, m->meta_keys[k]);
        printf(": ");
        cli_json_string(stdout, m->meta_values[k]);
    }
    printf("}}\n");
}

/* Whether the weights file at path carried a data checksum (verified as it was read). */
static void print_checksum(const char *path) {
    geoloc_safetensors *st = NULL;
    geoloc_error err = {0};
    if (geoloc_safetensors_open(path, &st, &err) != GEOLOC_OK) printf("checksum:    %s\n", err.message);
    else if (geoloc_safetensors_has_checksum(st)) printf("checksum:    %s: data verified (CRC-32C)\n", path);
    else printf("checksum:    %s: written before checksums; not verified\n", path);
    geoloc_safetensors_close(st);
}

static void print_info(const char *path, const geoloc_model *m, const char *backbone_path) {
    const geoloc_resnet_config *c = &m->config;
    printf("model:       %s (%s)\n", path, model_format(m));
    print_checksum(path);
    printf("network:     ResNet-%d (stride on %s, conv bias %s, batch-norm eps %g)\n", c->depth,
           c->stride_on_conv1 ? "conv1" : "conv2", c->conv_bias ? "yes" : "no", (double)c->bn_eps);
    printf("input:       %s, %dx%d crops\n", geoloc_model_input_name(m->norm), m->image_size, m->image_size);
    if (m->n_partitions) printf("partitions:  %zu, coarse to fine\n", m->n_partitions);
    else printf("partitions:  none: a scene classifier (geoloc scene label)\n");
    for (size_t f = 0; f < m->n_partitions; f++) {
        int lo, hi;
        level_range(m->partitions[f], &lo, &hi);
        printf("  %zu %-20s %7zu cells, levels %d-%d, %llu training photos\n", f, m->partition_names[f],
               m->partitions[f]->n, lo, hi, (unsigned long long)m->partitions[f]->num_images);
    }
    size_t holes = 0;
    for (size_t f = 1; f < m->n_partitions; f++)
        for (size_t p = 0; p < f; p++) holes += orphans(m, f, p);
    if (m->n_partitions) printf("hierarchy:   %s\n", m->n_partitions < 2 ? "(one partition)"
                                : holes ? "incomplete: some cells lie in no coarser cell (no hierarchical prediction)"
                                        : "complete");
    printf("scenes:      %s\n", m->n_scenes ? "" : "(none)");
    for (int l = 0; l < GEOLOC_SCENE_LEVELS; l++) {
        if (!m->scene_classes[l]) continue;
        printf("  %-5s %zu classes: ", geoloc_scene_level_name(l), m->scene_classes[l]);
        for (size_t s = 0; s < m->scene_classes[l] && s < 8; s++)
            printf("%s%s", s ? "; " : "", m->scene_names[m->scene_offset[l] + s]);
        printf("%s\n", m->scene_classes[l] > 8 ? ", ..." : "");
    }
    if (m->n_isn) printf("ISNs:        one set of geo heads per S3 scene (%zu)\n", m->n_isn);
    if (m->backbone[0])
        printf("backbone:    %s (%s)\n", m->backbone,
               backbone_path ? backbone_path : "NOT FOUND: tools/fetch-backbone.sh (run by ./setup.sh) fetches it");
    else
        printf("backbone:    in the file\n");
    if (m->tuned_from) {
        printf("fine-tuned:  ");
        for (int k = m->tuned_from; k <= 4; k++) printf("%slayer%d", k > m->tuned_from ? ", " : "", k);
        printf(" in the file (%s), over the backbone file's\n", geoloc_dtype_name(m->tuned_dtype));
    }
    if (backbone_path) print_checksum(backbone_path);
    const geoloc_calibration *cal = m->calibration;
    if (cal)
        printf("calibration: %zu photos: temperature %.4g, radii at mass %.4g (50 %%) and %.4g (90 %%), unknown above "
               "%.0f km (50 %% radius) or feature distance %.3f\n", cal->photos, cal->temperature, cal->q50, cal->q90,
               cal->max_radius_km, cal->ood_threshold);
    for (int k = 0; cal && k < GEOLOC_CALIBRATION_ALBUM_METHODS; k++)
        if (cal->album[k].photos)
            printf("  albums (%s): %zu photos in albums by photographer: temperature %.4g, radii at mass %.4g (50 %%) "
                   "and %.4g (90 %%), unknown above %.0f km\n", geoloc_album_method_name((geoloc_album_method)k),
                   cal->album[k].photos, cal->album[k].temperature, cal->album[k].q50, cal->album[k].q90,
                   cal->album[k].max_radius_km);
    if (!cal)
        printf("calibration: none (no radii, never unknown: geoloc model calibrate)\n");
    for (size_t k = 0; k < m->n_meta; k++) printf("%-12s %s\n", m->meta_keys[k], m->meta_values[k]);
}

static int model_info(int argc, char **argv) {
    const char *cmd = INFO_SPEC.name;
    info_args a = {0};
    int n_args;
    int parsed = cli_parse(&INFO_SPEC, &a, argc, argv, &n_args);
    if (parsed != CLI_RUN) return parsed;
    const char *path = argv[1];
    int json = a.json;
    geoloc_model *m = NULL;
    geoloc_error err = {0};
    if (geoloc_model_read_info(path, &m, &err) != GEOLOC_OK) {
        fprintf(stderr, "%s: %s\n", cmd, err.message);
        return 1;
    }
    char found[4096];
    const char *backbone_path =
        m->backbone[0] && geoloc_model_find_data(m->backbone, found, sizeof found) == 0 ? found : NULL;
    if (json) print_info_json(path, m, backbone_path);
    else print_info(path, m, backbone_path);
    geoloc_model_free(m);
    return 0;
}

/* ---- init ------------------------------------------------------------------------ */

/* The backbone's configuration (and weights into net later) from --arch or --backbone. */
static int backbone_config(const char *cmd, const init_args *a, geoloc_safetensors **st,
                           geoloc_resnet_config *cfg, geoloc_norm *norm) {
    geoloc_error err = {0};
    *norm = GEOLOC_NORM_IMAGENET;
    if (a->arch) {
        int depth = 0;
        if (sscanf(a->arch, "resnet%d", &depth) != 1) depth = 0;
        geoloc_resnet_config_default(cfg, depth, 1);
        return 0;
    }
    if (geoloc_safetensors_open(a->backbone, st, &err) != GEOLOC_OK ||
        geoloc_resnet_config_from_weights(*st, cfg, &err) != GEOLOC_OK) {
        fprintf(stderr, "%s: %s: %s\n", cmd, a->backbone, err.message);
        return 1;
    }
    const char *input = geoloc_safetensors_metadata_get(*st, "geoloc.input");
    if (input && !strcmp(input, "caffe_bgr")) *norm = GEOLOC_NORM_CAFFE;
    return 0;
}

static int model_init(int argc, char **argv) {
    const char *cmd = INIT_SPEC.name;
    init_args a = {.seed = 1, .image_size = 224};
    int n_args;
    int parsed = cli_parse(&INIT_SPEC, &a, argc, argv, &n_args);
    if (parsed != CLI_RUN) return parsed;
    const char *out = argv[1];
    if (!a.arch == !a.backbone || (a.heads_only && !a.backbone))
        return cli_usage_error(&INIT_SPEC, "needs either --arch or --backbone (--heads-only needs --backbone)");
    int n = a.cells.n, n_scenes = a.scenes.n;
    if (n == 0 && n_scenes == 0)
        return cli_usage_error(&INIT_SPEC, "needs --cells, or --scenes for a scene classifier");
    if (a.names.n && a.names.n != n)
        return cli_usage_error(&INIT_SPEC, "--names: as many names as --cells files (%d)", n);
    const char *const *files = a.cells.str;
    const char *names[GEOLOC_MODEL_MAX_PARTITIONS];
    char stems[GEOLOC_MODEL_MAX_PARTITIONS][64];
    cli_file inputs[GEOLOC_MODEL_MAX_PARTITIONS + 1] = {{"--backbone", a.backbone}}, output = {"OUT", out};
    for (int f = 0; f < n; f++) inputs[f + 1] = (cli_file){"--cells", files[f]};
    if (cli_check_outputs(cmd, inputs, n + 1, &output, 1) != 0) return CLI_EXIT_USAGE;
    geoloc_partition *parts[GEOLOC_MODEL_MAX_PARTITIONS] = {0};
    geoloc_safetensors *st = NULL;
    geoloc_model *m = NULL;
    geoloc_resnet_config cfg;
    geoloc_norm norm;
    geoloc_error err = {0};
    int rc = backbone_config(cmd, &a, &st, &cfg, &norm);
    for (int f = 0; rc == 0 && f < n; f++) {
        if (a.names.n) {
            names[f] = a.names.str[f];
        } else {
            cli_stem(files[f], stems[f], sizeof stems[f]);
            names[f] = stems[f];
        }
        if (geoloc_partition_read(files[f], &parts[f], &err) != GEOLOC_OK) {
            fprintf(stderr, "%s: %s\n", cmd, err.message);
            rc = 1;
        }
    }
    /* the whole network torch-initialised from the seed, then the pretrained backbone over it */
    geoloc_scene_heads scenes = {0};
    int level = geoloc_scene_level_of_classes((size_t)n_scenes);
    scenes.names[level] = a.scenes.str;
    scenes.n[level] = (size_t)n_scenes;
    scenes.isn = a.isn;
    if (rc == 0 && geoloc_model_create(&cfg, (const geoloc_partition *const *)parts, names, (size_t)n, &scenes,
                                       (uint64_t)a.seed, &m, &err) != GEOLOC_OK) {
        fprintf(stderr, "%s: %s\n", cmd, err.message);
        rc = 1;
    }
    if (rc == 0) {
        m->norm = norm;
        m->image_size = (int)a.image_size;
        if (st && geoloc_net_load(m->net, st, 1, &err) != GEOLOC_OK) {
            fprintf(stderr, "%s: %s\n", cmd, err.message);
            rc = 1;
        }
    }
    char base[256] = "";
    if (rc == 0 && a.heads_only) {
        const char *slash = strrchr(a.backbone, '/');
        snprintf(base, sizeof base, "%s", slash ? slash + 1 : a.backbone);
    }
    if (rc == 0 && geoloc_model_save(m, out, a.heads_only, a.heads_only ? base : NULL, &err) != GEOLOC_OK) {
        fprintf(stderr, "%s: %s\n", cmd, err.message);
        rc = 1;
    }
    if (rc == 0) {
        char found[4096];
        printf("%s: ResNet-%d, %d partition%s, %d scene classes%s\n", out, cfg.depth, n, n == 1 ? "" : "s",
               n_scenes, a.heads_only ? ", heads only" : "");
        if (a.heads_only && geoloc_model_find_data(base, found, sizeof found) != 0)
            fprintf(stderr, "%s: warning: %s is not where the model will look for it ($GEOLOC_DATA_DIR, "
                    "<bin>/../share/geoloc, <bin>/../models)\n", cmd, base);
    }
    geoloc_model_free(m);
    geoloc_safetensors_close(st);
    for (int f = 0; f < n; f++) geoloc_partition_free(parts[f]);
    return rc;
}

/* ---- upgrade --------------------------------------------------------------------- */

typedef struct upgrade_args {
    const char *out;
} upgrade_args;

static const cli_option UPGRADE_OPTIONS[] = {
    CLI_OPTION("out", 'o', CLI_STRING, upgrade_args, out, "FILE", "the rewritten model", .required = 1),
    CLI_END};

static const cli_spec UPGRADE_SPEC = {
    "geoloc model upgrade", "FILE", 1, 1,
    "Rewrites a model file in the current format: the same tensors, partitions,\n"
    "hierarchy and metadata, with a CRC-32C of the data that every later load\n"
    "verifies (files written before checksums load unverified, with a notice).\n"
    "A heads-only model keeps naming its backbone file (which must be found).\n",
    UPGRADE_OPTIONS, "Exit status: 0, 1 when the file cannot be read or written, 2 on a usage error.\n"};

static int model_upgrade(int argc, char **argv) {
    const char *cmd = UPGRADE_SPEC.name;
    upgrade_args a = {0};
    int n_args;
    int parsed = cli_parse(&UPGRADE_SPEC, &a, argc, argv, &n_args);
    if (parsed != CLI_RUN) return parsed;
    cli_file in = {"model", argv[1]}, out = {"--out", a.out};
    if (cli_check_outputs(cmd, &in, 1, &out, 1) != 0) return CLI_EXIT_USAGE;
    geoloc_model *m = NULL;
    geoloc_error err = {0};
    int rc = 0;
    if (geoloc_model_load(argv[1], &m, &err) != GEOLOC_OK ||
        geoloc_model_save(m, a.out, m->backbone[0] != 0, m->backbone[0] ? m->backbone : NULL, &err) != GEOLOC_OK) {
        fprintf(stderr, "%s: %s\n", cmd, err.message);
        rc = 1;
    } else {
        printf("%s: %s rewritten with a data checksum\n", a.out, argv[1]);
    }
    geoloc_model_free(m);
    return rc;
}

const cli_command CLI_MODEL_COMMANDS[] = {
    {"info", model_info, NULL, "architecture, partitions, scenes, backbone and training metadata of a model file"},
    {"init", model_init, NULL, "a new, untrained model from partition files and a backbone"},
    {"upgrade", model_upgrade, NULL, "rewrite a model file in the current format (data checksum added)"},
    {"calibrate", cli_model_calibrate, NULL, "fit a model's confidence radii and abstention on a manifest (new file)"},
    {"quantize", cli_model_quantize, NULL, "int8 ranges of a model's convolutions from calibration photos (new file)"},
    {NULL}};
