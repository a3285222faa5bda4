/* The accuracy report of geoloc evaluate (both modes: a predictions file, a
 * model on a manifest's photos). */
#ifndef GEOLOC_CLI_ACCURACY_H
#define GEOLOC_CLI_ACCURACY_H

#include "geoloc/distance.h"

/* Prints the accuracy table and the median and mean errors. */
void cli_print_accuracy(const geoloc_distance_summary *s);

/* Prints "n": N, "accuracy": {...}, "median_km": M, "mean_km": X (no braces). */
void cli_print_accuracy_json(const geoloc_distance_summary *s);

#endif
