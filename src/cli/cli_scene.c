/* geoloc scene: scene classifiers (the helper network of Mueller-Budack et
 * al.): `geoloc scene train` trains one with geoloc_train and no partitions
 * (cli_train.c holds the options shared with geoloc train). */
#include "cli/commands.h"

const cli_command CLI_SCENE_COMMANDS[] = {
    {"train", cli_scene_train, NULL,
     "train a scene classifier (S3, S16, S365 heads, no geo heads): labels photos for geoloc train --scene-labels"},
    {NULL}};
