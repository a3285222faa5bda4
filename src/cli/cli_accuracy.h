/* The accuracy report of geoloc evaluate (both modes: a predictions file, a
 * model on a manifest's photos). */
#ifndef GEOLOC_CLI_ACCURACY_H
#define GEOLOC_CLI_ACCURACY_H

#include "geoloc/calibration.h"
#include "geoloc/distance.h"

/* Prints the accuracy table and the median and mean errors. */
void cli_print_accuracy(const geoloc_distance_summary *s);

/* Prints "n": N, "accuracy": {...}, "median_km": M, "mean_km": X (no braces). */
void cli_print_accuracy_json(const geoloc_distance_summary *s);

/* Prints the confidence figures: radii's coverage and medians (when the model
 * is calibrated), GeoScore, the share answered and their accuracy. */
void cli_print_confidence(const geoloc_confidence_summary *s);

/* Prints , "radius_km": {"50": {"coverage", "median"}, "90": ...} or null,
 * "geoscore": {"mean", "median"}, "answered": {"share", "n", "accuracy", "median_km"}. */
void cli_print_confidence_json(const geoloc_confidence_summary *s);

#endif
