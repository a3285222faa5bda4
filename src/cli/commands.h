/* The CLI's commands: each run function takes the arguments after its own
 * name (argv[0] is the command's name) and returns the process exit code
 * (cli_options.h). Commands with subcommands are tables for cli_dispatch. */
#ifndef GEOLOC_CLI_COMMANDS_H
#define GEOLOC_CLI_COMMANDS_H

#include "cli/cli_options.h"

extern const cli_command CLI_S2_COMMANDS[];
extern const cli_command CLI_CELLS_COMMANDS[];
extern const cli_command CLI_PHOTO_COMMANDS[];
extern const cli_command CLI_DATASET_COMMANDS[];
extern const cli_command CLI_BENCH_COMMANDS[];
extern const cli_command CLI_MODEL_COMMANDS[];
extern const cli_command CLI_WEIGHTS_COMMANDS[];
extern const cli_command CLI_INDEX_COMMANDS[];
extern const cli_command CLI_ALBUM_COMMANDS[];
extern const cli_command CLI_SCENE_COMMANDS[];

int cli_cells_sample(int argc, char **argv);
int cli_dataset_pack(int argc, char **argv);
int cli_dataset_import(int argc, char **argv);
int cli_dataset_dedup(int argc, char **argv);
int cli_bench_loader(int argc, char **argv);
int cli_bench_nn(int argc, char **argv);
int cli_bench_index(int argc, char **argv);
int cli_evaluate(int argc, char **argv);
int cli_demo(int argc, char **argv);
int cli_classify_imagenet(int argc, char **argv);
int cli_predict(int argc, char **argv);
int cli_geotag(int argc, char **argv);
int cli_explain(int argc, char **argv);
int cli_train(int argc, char **argv);
int cli_scene_train(int argc, char **argv);
int cli_serve(int argc, char **argv);
int cli_place(int argc, char **argv);

#endif
