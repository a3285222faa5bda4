/* The accuracy report of geoloc evaluate (both modes): text table and JSON. */
#include "cli/cli_accuracy.h"

#include <math.h>
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

void cli_print_confidence(const geoloc_confidence_summary *s) {
    if (s->n_radius)
        printf("radius 50 %%:  truth inside for %.2f %% of %zu photos, median %.1f km\n"
               "radius 90 %%:  truth inside for %.2f %%, median %.1f km\n",
               100.0 * s->coverage[0], s->n_radius, s->median_radius_km[0], 100.0 * s->coverage[1],
               s->median_radius_km[1]);
    else
        printf("radii:        none (the model is not calibrated: geoloc model calibrate)\n");
    printf("GeoScore:     mean %.1f, median %.1f\n", s->geoscore_mean, s->geoscore_median);
    printf("answered:     %.2f %% (%zu of %zu; the others unknown)", 100.0 * s->answered_share, s->n_answered, s->n);
    if (s->n_answered) {
        printf("; their accuracy:");
        for (int t = 0; t < GEOLOC_N_THRESHOLDS; t++)
            printf(" %s %.2f %%", geoloc_thresholds[t].key, 100.0 * s->answered.accuracy[t]);
        printf(", median %.2f km", s->answered.median_km);
    }
    putchar('\n');
}

/* A number, or null when it is not finite. */
static void json_number(double v) {
    if (isfinite(v)) printf("%.10g", v);
    else printf("null");
}

void cli_print_confidence_json(const geoloc_confidence_summary *s) {
    printf(", \"radius_km\": ");
    if (s->n_radius) {
        for (int k = 0; k < 2; k++) {
            printf("%s\"%s\": {\"coverage\": ", k ? ", " : "{", k ? "90" : "50");
            json_number(s->coverage[k]);
            printf(", \"median\": ");
            json_number(s->median_radius_km[k]);
            putchar('}');
        }
        putchar('}');
    } else {
        printf("null");
    }
    printf(", \"geoscore\": {\"mean\": ");
    json_number(s->geoscore_mean);
    printf(", \"median\": ");
    json_number(s->geoscore_median);
    printf("}, \"answered\": {\"share\": ");
    json_number(s->answered_share);
    printf(", ");
    cli_print_accuracy_json(&s->answered);
    putchar('}');
}

void cli_country_add(cli_country *c, const geoloc_place_db *db, double lat, double lon, double t_lat, double t_lon) {
    if (!db) return;
    c->known = 1;
    int same = geoloc_place_same_country(db, lat, lon, t_lat, t_lon);
    c->counted += same >= 0;
    c->same += same == 1;
}

void cli_print_country(const cli_country *c) {
    if (!c->known)
        printf("country:      no place file (tools/fetch-places.sh makes it)\n");
    else
        printf("country:      %.2f %% answered in the true country (%zu photos whose truth lies in one)\n",
               c->counted ? 100.0 * (double)c->same / (double)c->counted : 0.0, c->counted);
}

void cli_print_country_json(const cli_country *c) {
    printf(", \"country\": ");
    if (!c->known) {
        printf("null");
        return;
    }
    printf("{\"accuracy\": ");
    json_number(c->counted ? (double)c->same / (double)c->counted : NAN);
    printf(", \"n\": %zu}", c->counted);
}
