/* geoloc: git-style command line; each subcommand lives in its own file. */
#include <stdio.h>
#include <string.h>

#include "cli/commands.h"

typedef struct {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
} command;

static const command COMMANDS[] = {
    {"demo", cli_demo, "show the geo core at work (on the shared data when present)"},
    {"s2", cli_s2, "S2 cells: tokens of points, geometry of a cell"},
    {"cells", cli_cells, "build, read, relate and assign adaptive cell partitions"},
    {"predict", cli_predict, "where photos were taken (a geolocation model on their pixels)"},
    {"evaluate", cli_evaluate, "distance accuracy of a predictions CSV, or of a model on a manifest's photos"},
    {"model", cli_model, "geolocation model files: info, init"},
    {"bench", cli_bench, "benchmarks (cells, loader)"},
    {"photo", cli_photo, "what a photo file holds: size, orientation, GPS, times"},
    {"dataset", cli_dataset, "photo data sets: scan folders, split, pack shards, info"},
    {"weights", cli_weights, "neural-network weights: import the Keras ImageNet ResNet-50"},
    {"train", cli_train, "train a geolocation model (heads on cached features, or the whole network)"},
    {"classify-imagenet", cli_classify_imagenet, "top ImageNet classes of photos (checks the engine and imported weights)"},
};

static void usage(FILE *out) {
    fprintf(out, "usage: geoloc <command> [options]\n\ncommands:\n");
    for (size_t k = 0; k < sizeof COMMANDS / sizeof COMMANDS[0]; k++)
        fprintf(out, "  %-9s %s\n", COMMANDS[k].name, COMMANDS[k].summary);
    fprintf(out, "\nRun 'geoloc <command> --help' for a command's options.\n");
}

int main(int argc, char **argv) {
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(argv[1], "--version")) {
        printf("geoloc %s\n", GEOLOC_VERSION);
        return 0;
    }
    for (size_t k = 0; k < sizeof COMMANDS / sizeof COMMANDS[0]; k++)
        if (!strcmp(argv[1], COMMANDS[k].name)) return COMMANDS[k].run(argc - 1, argv + 1);
    fprintf(stderr, "geoloc: unknown command '%s'\n", argv[1]);
    usage(stderr);
    return 2;
}
