/* geoloc: git-style command line; each command lives in its own file. */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "geoloc/dist.h"

#include "cli/cli_dist.h"
#include "cli/cli_options.h"
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
    {"scene", NULL, CLI_SCENE_COMMANDS, NULL},
    {"train", cli_train, NULL, "train a geolocation model (heads on cached features, or the whole network)"},
    {"serve", cli_serve, NULL, "the geolocation server: REST API, micro-batching, map page (docs/serve.md)"},
    {"classify-imagenet", cli_classify_imagenet, NULL, "top ImageNet classes of photos (checks the engine and imported weights)"},
    {NULL},
};

int main(int argc, char **argv) {
    /* a closed pipe (geoloc ... | head -1) ends the process quietly, as other tools */
    signal(SIGPIPE, SIG_DFL);
    if (argc == 2 && !strcmp(argv[1], "--version")) {
        printf("geoloc %s%s\n", GEOLOC_VERSION, geoloc_dist_available() ? " (MPI)" : "");
        return cli_finish_stdout(0);
    }
    geoloc_error err = {0};
    if (geoloc_dist_init(&argc, &argv, &err) != GEOLOC_OK) {
        fprintf(stderr, "geoloc: %s\n", err.message);
        return 1;
    }
    /* several ranks must run one command */
    int rc = cli_dist_same_strings("geoloc", "the command line", (const char *const *)argv + 1, (size_t)argc - 1,
                                   "start every rank with the same arguments", 2);
    if (rc == 0) rc = cli_dispatch("geoloc", COMMANDS, argc, argv);
    rc = cli_finish_stdout(rc);
    /* several ranks: a failure on one ends them all, so none waits for it in a collective call
       (done with some inputs skipped is no failure: every rank has finished its part) */
    if (rc != 0 && rc != CLI_EXIT_SKIPPED && geoloc_dist_size() > 1) {
        fflush(stderr);
        geoloc_dist_abort(rc);
    }
    geoloc_dist_finalize();
    return rc;
}
