/* geoloc evaluate: shared by its two modes (a predictions file; a model on a
 * manifest's photos). */
#ifndef GEOLOC_CLI_EVALUATE_H
#define GEOLOC_CLI_EVALUATE_H

#include <stdio.h>

#include "geoloc/distance.h"

/* Prints the accuracy table and the median and mean errors. */
void cli_print_accuracy(const geoloc_distance_summary *s);

/* Prints "n": N, "accuracy": {...}, "median_km": M, "mean_km": X (no braces). */
void cli_print_accuracy_json(const geoloc_distance_summary *s);

/* Flushes standard output; 0, or 1 after "CMD: cannot write the output: WHY"
 * on stderr (disk full, I/O error). */
int cli_check_stdout(const char *cmd);

/* Prints the help of the model mode (generated from its option table). */
void cli_evaluate_model_help(FILE *out);

/* geoloc evaluate [--model M] --meta CSV --images DIR ...: predicts the photos. */
int cli_evaluate_model(int argc, char **argv);

#endif
