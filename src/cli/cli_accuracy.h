/* The accuracy report of geoloc evaluate (both modes: a predictions file, a
 * model on a manifest's photos). */
#ifndef GEOLOC_CLI_ACCURACY_H
#define GEOLOC_CLI_ACCURACY_H

#include <stddef.h>

#include "geoloc/calibration.h"
#include "geoloc/distance.h"
#include "geoloc/place.h"

/* Country accuracy: of the photos whose truth lies in a country (`counted`),
 * those answered in that country (`same`); no place file: known 0. */
typedef struct cli_country {
    int known;
    size_t same, counted;
} cli_country;

/* Adds one photo (answer lat, lon; truth t_lat, t_lon) to c (db NULL: none). */
void cli_country_add(cli_country *c, const geoloc_place_db *db, double lat, double lon, double t_lat, double t_lon);

/* Prints the country accuracy line (or that there is no place file). */
void cli_print_country(const cli_country *c);

/* Prints , "country": {"accuracy", "n"} or null. */
void cli_print_country_json(const cli_country *c);

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
