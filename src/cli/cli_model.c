/* geoloc model: what a model file holds (info) and a new, untrained model
 * from partitions and a backbone (init: the starting point of training, and
 * a model for tests). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli/cli_photos.h"
#include "cli/cli_util.h"
#include "cli/commands.h"
#include "geoloc/model.h"

static const char MODEL_USAGE[] =
    "usage: geoloc model <command> [options]\n"
    "\n"
    "commands:\n"
    "  info FILE [--json]   architecture, partitions, scenes, backbone and training\n"
    "                       metadata of a model file\n"
    "  init [options] OUT   a new, untrained model from partition files and a backbone\n"
    "\n"
    "Run 'geoloc model <command> --help' for a command's options.\n";

static const char INFO_USAGE[] =
    "usage: geoloc model info FILE [--json]\n"
    "\n"
    "Checks a model file (format version, partitions, hierarchy, heads; not the\n"
    "backbone weights) and prints what it holds: architecture, input preprocessing,\n"
    "each partition (classes, training photos, cell levels), scene classes, the\n"
    "backbone file it names (and where it was found) and extra metadata such as a\n"
    "training summary. Exit status: 0, or 1 when the file is not a valid model.\n";

static const char INIT_USAGE[] =
    "usage: geoloc model init --cells A.csv,B.csv,... (--arch resnetN | --backbone FILE [--heads-only])\n"
    "                         [--names a,b,...] [--scenes indoor,natural,urban] [--seed N]\n"
    "                         [--image-size N] OUT.safetensors\n"
    "\n"
    "Writes an untrained model: one head per partition file (published format, coarse\n"
    "to fine, e.g. geoloc cells build) and an optional scene head, on a ResNet\n"
    "backbone. Heads start from torch's initialisation (seed); its predictions mean\n"
    "nothing until it is trained.\n"
    "\n"
    "options:\n"
    "  --cells LIST      partition files, coarse to fine (at most 6)\n"
    "  --names LIST      partition names (default: the files' names without .csv)\n"
    "  --arch resnetN    a randomly initialised ResNet-18/34/50/101/152 backbone\n"
    "  --backbone FILE   backbone weights (e.g. models/resnet50-imagenet.safetensors);\n"
    "                    its architecture and input preprocessing are used\n"
    "  --heads-only      do not copy the backbone into OUT: OUT names FILE's base name,\n"
    "                    found at load time in $GEOLOC_DATA_DIR, <bin>/../share/geoloc\n"
    "                    or <bin>/../models\n"
    "  --scenes LIST     scene class names (a scene head); default none\n"
    "  --seed N          initialisation seed (default 1, at least 1)\n"
    "  --image-size N    crop side fed to the network (default 224)\n";

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

static void print_info_json(const char *path, const geoloc_model *m, const char *backbone_path) {
    const geoloc_resnet_config *c = &m->config;
    printf("{\"file\": ");
    cli_json_string(stdout, path);
    printf(", \"format\": \"%s\", \"arch\": \"resnet%d\", \"stride_in_bottleneck\": \"%s\", \"conv_bias\": %s, "
           "\"bn_eps\": %g, \"input\": \"%s\", \"image_size\": %d, \"partitions\": [",
           GEOLOC_MODEL_FORMAT, c->depth, c->stride_on_conv1 ? "conv1" : "conv2", c->conv_bias ? "true" : "false",
           (double)c->bn_eps, geoloc_model_input_name(m->norm), m->image_size);
    for (size_t f = 0; f < m->n_partitions; f++) {
        int lo, hi;
        level_range(m->partitions[f], &lo, &hi);
        printf("%s{\"name\": ", f ? ", " : "");
        cli_json_string(stdout, m->partition_names[f]);
        printf(", \"classes\": %zu, \"num_images\": %llu, \"level_min\": %d, \"level_max\": %d}", m->partitions[f]->n,
               (unsigned long long)m->partitions[f]->num_images, lo, hi);
    }
    printf("], \"scenes\": [");
    for (size_t s = 0; s < m->n_scenes; s++) {
        if (s) printf(", ");
        cli_json_string(stdout, m->scene_names[s]);
    }
    printf("], \"backbone\": ");
    if (m->backbone[0]) {
        cli_json_string(stdout, m->backbone);
        printf(", \"backbone_path\": ");
        if (backbone_path) cli_json_string(stdout, backbone_path);
        else printf("null");
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
    printf("model:       %s (%s)\n", path, GEOLOC_MODEL_FORMAT);
    print_checksum(path);
    printf("network:     ResNet-%d (stride on %s, conv bias %s, batch-norm eps %g)\n", c->depth,
           c->stride_on_conv1 ? "conv1" : "conv2", c->conv_bias ? "yes" : "no", (double)c->bn_eps);
    printf("input:       %s, %dx%d crops\n", geoloc_model_input_name(m->norm), m->image_size, m->image_size);
    printf("partitions:  %zu, coarse to fine\n", m->n_partitions);
    for (size_t f = 0; f < m->n_partitions; f++) {
        int lo, hi;
        level_range(m->partitions[f], &lo, &hi);
        printf("  %zu %-20s %7zu cells, levels %d-%d, %llu training photos\n", f, m->partition_names[f],
               m->partitions[f]->n, lo, hi, (unsigned long long)m->partitions[f]->num_images);
    }
    size_t holes = 0;
    for (size_t f = 1; f < m->n_partitions; f++)
        for (size_t p = 0; p < f; p++) holes += orphans(m, f, p);
    printf("hierarchy:   %s\n", m->n_partitions < 2 ? "(one partition)"
                                : holes ? "incomplete: some cells lie in no coarser cell (no hierarchical prediction)"
                                        : "complete");
    printf("scenes:      ");
    for (size_t s = 0; s < m->n_scenes; s++) printf("%s%s", s ? ", " : "", m->scene_names[s]);
    printf("%s\n", m->n_scenes ? "" : "(none)");
    if (m->backbone[0])
        printf("backbone:    %s (%s)\n", m->backbone,
               backbone_path ? backbone_path : "NOT FOUND: tools/fetch-backbone.sh (run by ./setup.sh) fetches it");
    else
        printf("backbone:    in the file\n");
    if (backbone_path) print_checksum(backbone_path);
    for (size_t k = 0; k < m->n_meta; k++) printf("%-12s %s\n", m->meta_keys[k], m->meta_values[k]);
}

static int model_info(int argc, char **argv) {
    const char *cmd = "geoloc model info", *path = NULL;
    int json = 0;
    for (int k = 1; k < argc; k++) {
        if (cli_is_help(argv[k])) {
            fputs(INFO_USAGE, stdout);
            return 0;
        } else if (!strcmp(argv[k], "--json")) {
            json = 1;
        } else if (cli_single_argument(cmd, INFO_USAGE, "model file", argv[k], &path) != 0) {
            return 2;
        }
    }
    if (!path) {
        fprintf(stderr, "%s: no model file given\n%s", cmd, INFO_USAGE);
        return 2;
    }
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

/* Splits a comma-separated list in place into at most max items; the count or -1. */
static int split_list(char *text, char **items, int max) {
    int n = 0;
    for (char *p = text, *next; p; p = next) {
        next = strchr(p, ',');
        if (next) *next++ = '\0';
        if (n == max || !*p) return -1;
        items[n++] = p;
    }
    return n;
}

typedef struct init_args {
    char *cells, *names, *scenes;
    const char *arch, *backbone, *out;
    int heads_only;
    long seed, image_size;
} init_args;

static int parse_init(const char *cmd, int argc, char **argv, init_args *a) {
    a->seed = 1, a->image_size = 224;
    for (int k = 1; k < argc; k++) {
        const char *s = argv[k];
        char *v;
        if (cli_is_help(s)) {
            fputs(INIT_USAGE, stdout);
            return -1;
        } else if (!strcmp(s, "--heads-only")) {
            a->heads_only = 1;
        } else if (s[0] != '-' || !s[1]) {
            if (cli_single_argument(cmd, INIT_USAGE, "output file", s, &a->out) != 0) return 2;
        } else if (!(v = (char *)cli_option_value(cmd, argc, argv, &k))) {
            return 2;
        } else if (!strcmp(s, "--cells")) {
            a->cells = v;
        } else if (!strcmp(s, "--names")) {
            a->names = v;
        } else if (!strcmp(s, "--scenes")) {
            a->scenes = v;
        } else if (!strcmp(s, "--arch")) {
            a->arch = v;
        } else if (!strcmp(s, "--backbone")) {
            a->backbone = v;
        } else if (!strcmp(s, "--seed") || !strcmp(s, "--image-size")) {
            if (cli_parse_int(cmd, s, v, !strcmp(s, "--seed") ? &a->seed : &a->image_size) != 0) return 2;
        } else {
            fprintf(stderr, "%s: unknown option %s\n%s", cmd, s, INIT_USAGE);
            return 2;
        }
    }
    if (a->seed < 1) {
        fprintf(stderr, "%s: --seed must be at least 1\n", cmd);
        return 2;
    }
    if (!a->cells || !a->out || (!a->arch == !a->backbone) || (a->heads_only && !a->backbone)) {
        fprintf(stderr, "%s: needs --cells, OUT and either --arch or --backbone (--heads-only needs "
                "--backbone)\n%s", cmd, INIT_USAGE);
        return 2;
    }
    return 0;
}

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
    const char *cmd = "geoloc model init";
    init_args a = {0};
    int rc = parse_init(cmd, argc, argv, &a);
    if (rc) return rc < 0 ? 0 : rc;
    char *files[GEOLOC_MODEL_MAX_PARTITIONS], *names[GEOLOC_MODEL_MAX_PARTITIONS], *scenes[256];
    char stems[GEOLOC_MODEL_MAX_PARTITIONS][64];
    int n = split_list(a.cells, files, GEOLOC_MODEL_MAX_PARTITIONS);
    int n_names = a.names ? split_list(a.names, names, GEOLOC_MODEL_MAX_PARTITIONS) : n;
    int n_scenes = a.scenes ? split_list(a.scenes, scenes, 256) : 0;
    if (n < 1 || n_names != n || n_scenes < 0) {
        fprintf(stderr, "%s: --cells: 1 to %d files, --names as many names, --scenes at most 256 names "
                "(comma-separated, none empty)\n", cmd, GEOLOC_MODEL_MAX_PARTITIONS);
        return 2;
    }
    geoloc_partition *parts[GEOLOC_MODEL_MAX_PARTITIONS] = {0};
    geoloc_safetensors *st = NULL;
    geoloc_model *m = NULL;
    geoloc_resnet_config cfg;
    geoloc_norm norm;
    geoloc_error err = {0};
    rc = backbone_config(cmd, &a, &st, &cfg, &norm);
    for (int f = 0; rc == 0 && f < n; f++) {
        if (!a.names) {
            cli_stem(files[f], stems[f], sizeof stems[f]);
            names[f] = stems[f];
        }
        if (geoloc_partition_read(files[f], &parts[f], &err) != GEOLOC_OK) {
            fprintf(stderr, "%s: %s\n", cmd, err.message);
            rc = 1;
        }
    }
    /* the whole network torch-initialised from the seed, then the pretrained backbone over it */
    if (rc == 0 && geoloc_model_create(&cfg, (const geoloc_partition *const *)parts, (const char *const *)names,
                                       (size_t)n, (const char *const *)scenes, (size_t)n_scenes,
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
    if (rc == 0 && geoloc_model_save(m, a.out, a.heads_only, a.heads_only ? base : NULL, &err) != GEOLOC_OK) {
        fprintf(stderr, "%s: %s\n", cmd, err.message);
        rc = 1;
    }
    if (rc == 0) {
        char found[4096];
        printf("%s: ResNet-%d, %d partition%s, %d scene classes%s\n", a.out, cfg.depth, n, n == 1 ? "" : "s",
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

int cli_model(int argc, char **argv) {
    if (argc < 2) {
        fputs(MODEL_USAGE, stderr);
        return 2;
    }
    if (cli_is_help(argv[1])) {
        fputs(MODEL_USAGE, stdout);
        return 0;
    }
    if (!strcmp(argv[1], "info")) return model_info(argc - 1, argv + 1);
    if (!strcmp(argv[1], "init")) return model_init(argc - 1, argv + 1);
    fprintf(stderr, "geoloc model: unknown command '%s'\n%s", argv[1], MODEL_USAGE);
    return 2;
}
