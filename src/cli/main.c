/* geoloc: git-style command line; each command lives in its own file. */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli_util.h"
#include "cli/commands.h"

static const cli_command COMMANDS[] = {
    {"demo", cli_demo, NULL, "show the geo core at work (on the shared data when present)"},
    {"s2", NULL, CLI_S2_COMMANDS, NULL},
    {"cells", NULL, CLI_CELLS_COMMANDS, NULL},
    {"predict", cli_predict, NULL, "where photos were taken (a geolocation model on their pixels)"},
    {"geotag", cli_geotag, NULL, "place the photos of a library that lack GPS (albums, GPS anchors; XMP sidecars)"},
    {"explain", cli_explain, NULL, "which parts of a photo its answer rests on (occlusion sensitivity map)"},
    {"evaluate", cli_evaluate, NULL, "distance accuracy of a predictions CSV, or of a model on a manifest's photos"},
    {"place", cli_place, NULL, "country and nearest city of coordinates, offline (also: place build, place bench)"},
    {"model", NULL, CLI_MODEL_COMMANDS, NULL},
    {"bench", NULL, CLI_BENCH_COMMANDS, NULL},
    {"photo", NULL, CLI_PHOTO_COMMANDS, NULL},
    {"dataset", NULL, CLI_DATASET_COMMANDS, NULL},
    {"index", NULL, CLI_INDEX_COMMANDS, NULL},
    {"weights", NULL, CLI_WEIGHTS_COMMANDS, NULL},
    {"album", NULL, CLI_ALBUM_COMMANDS, NULL},
    {"train", cli_train, NULL, "train a geolocation model (heads on cached features, or the whole network)"},
    {"serve", cli_serve, NULL, "the geolocation server: REST API, micro-batching, map page (docs/serve.md)"},
    {"classify-imagenet", cli_classify_imagenet, NULL, "top ImageNet classes of photos (checks the engine and imported weights)"},
    {NULL},
};

int main(int argc, char **argv) {
    /* a closed pipe (geoloc ... | head -1) ends the process quietly, as other tools */
    signal(SIGPIPE, SIG_DFL);
    if (argc == 2 && !strcmp(argv[1], "--version")) {
        printf("geoloc %s\n", GEOLOC_VERSION);
        return cli_finish_stdout(0);
    }
    return cli_finish_stdout(cli_dispatch("geoloc", COMMANDS, argc, argv));
}
