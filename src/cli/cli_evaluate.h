/* geoloc evaluate's model mode (a model on a manifest's photos), run by
 * geoloc evaluate (a predictions file) when --model or --meta is given. */
#ifndef GEOLOC_CLI_EVALUATE_H
#define GEOLOC_CLI_EVALUATE_H

#include <stdio.h>

/* Prints the help of the model mode (generated from its option table). */
void cli_evaluate_model_help(FILE *out);

/* geoloc evaluate [--model M] --meta CSV --images DIR ...: predicts the photos. */
int cli_evaluate_model(int argc, char **argv);

#endif
