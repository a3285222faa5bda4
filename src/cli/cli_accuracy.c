/* The accuracy report of geoloc evaluate (both modes): text table and JSON. */
#include "cli/cli_accuracy.h"

#include <stdio.h>

void cli_print_accuracy(const geoloc_distance_summary *s) {
    printf("accuracy (share of photos within the distance):\n");
    for (int t = 0; t < GEOLOC_N_THRESHOLDS; t++) {
        char label[48];
        snprintf(label, sizeof label, "%s (%g km)", geoloc_thresholds[t].name,
                 geoloc_thresholds[t].km);
        printf("  %-20s %6.2f %%\n", label, 100.0 * s->accuracy[t]);
    }
    printf("median error: %.2f km\n", s->median_km);
    printf("mean error:   %.2f km\n", s->mean_km);
}

void cli_print_accuracy_json(const geoloc_distance_summary *s) {
    printf("\"n\": %zu, \"accuracy\": {", s->n);
    for (int t = 0; t < GEOLOC_N_THRESHOLDS; t++)
        printf("%s\"%s\": %.10g", t ? ", " : "", geoloc_thresholds[t].key, s->accuracy[t]);
    printf("}, \"median_km\": %.6f, \"mean_km\": %.6f", s->median_km, s->mean_km);
}
