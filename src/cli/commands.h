/* The CLI's subcommands: each takes the arguments after its own name
 * (argv[0] is the subcommand name) and returns the process exit code. */
#ifndef GEOLOC_CLI_COMMANDS_H
#define GEOLOC_CLI_COMMANDS_H

int cli_s2(int argc, char **argv);
int cli_cells(int argc, char **argv);
int cli_cells_sample(int argc, char **argv);
int cli_evaluate(int argc, char **argv);
int cli_bench(int argc, char **argv);
int cli_demo(int argc, char **argv);
int cli_photo(int argc, char **argv);
int cli_dataset(int argc, char **argv);
int cli_dataset_pack(int argc, char **argv);
int cli_classify_imagenet(int argc, char **argv);
int cli_weights(int argc, char **argv);
int cli_predict(int argc, char **argv);
int cli_model(int argc, char **argv);
int cli_train(int argc, char **argv);

#endif
