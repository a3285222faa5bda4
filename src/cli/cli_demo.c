/* geoloc demo: the geo core at work, on the shared reference data when it is
 * present (the published MP-16 partitions and the Im2GPS3k photos), on a few
 * built-in landmarks otherwise. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli_util.h"
#include "cli/commands.h"
#include "geoloc/distance.h"
#include "geoloc/partition.h"
#include "geoloc/points.h"

typedef struct {
    const char *name;
    double lat, lng;
} landmark;

/* Built-in fallback data: well-known places (coordinates in degrees). */
static const landmark LANDMARKS[] = {
    {"Eiffel Tower, Paris", 48.8584, 2.2945},       {"Louvre, Paris", 48.8606, 2.3376},
    {"Big Ben, London", 51.5007, -0.1246},          {"Colosseum, Rome", 41.8902, 12.4922},
    {"Brandenburg Gate, Berlin", 52.5163, 13.3777}, {"Statue of Liberty, New York", 40.6892, -74.0445},
    {"Golden Gate Bridge", 37.8199, -122.4783},     {"Sydney Opera House", -33.8568, 151.2153},
    {"Christ the Redeemer, Rio", -22.9519, -43.2105}, {"Mount Fuji", 35.3606, 138.7274},
    {"Table Mountain, Cape Town", -33.9628, 18.4098}, {"Machu Picchu", -13.1631, -72.5450},
};
#define N_LANDMARKS (sizeof LANDMARKS / sizeof LANDMARKS[0])

/* Prints the S2 cells holding a point, from continent to street scale. */
static void show_cell_hierarchy(const char *what, double lat, double lng) {
    static const struct { int level; const char *scale; } LEVELS[] = {
        {2, "continent"}, {5, "country"}, {8, "region"}, {11, "city"}, {14, "district"},
        {17, "street"}, {20, "building"}, {30, "leaf (1 cm)"}};
    printf("S2 cells of %s (%.6f, %.6f), continent to street:\n", what, lat, lng);
    for (size_t k = 0; k < sizeof LEVELS / sizeof LEVELS[0]; k++) {
        geoloc_cell c = geoloc_s2_from_latlng_level(lat, lng, LEVELS[k].level);
        char token[GEOLOC_S2_TOKEN_SIZE];
        double clat, clng, vlat, vlng;
        geoloc_s2_to_token(c, token);
        geoloc_s2_center(c, &clat, &clng);
        geoloc_s2_vertex(c, 0, &vlat, &vlng);
        printf("  level %2d %-12s %-16s center (%9.5f, %10.5f), %8.3f km to a corner\n",
               LEVELS[k].level, LEVELS[k].scale, token, clat, clng,
               geoloc_haversine_km(clat, clng, vlat, vlng));
    }
}

static void print_summary(const char *label, const geoloc_distance_summary *s) {
    printf("  %s (%zu photos):", label, s->n);
    for (int k = 0; k < GEOLOC_N_THRESHOLDS; k++)
        printf(" %s %.1f%%", geoloc_thresholds[k].key, 100 * s->accuracy[k]);
    printf(", median %.1f km\n", s->median_km);
}

/* Demo on the shared data: published partitions and Im2GPS3k photos. */
static int demo_shared(const char *data) {
    static const char *const NAMES[3] = {"cells_50_5000", "cells_50_2000", "cells_50_1000"};
    geoloc_partition *parts[3] = {0};
    geoloc_points *pts = NULL;
    geoloc_error err;
    char path[4200];
    int rc = 1;
    for (int k = 0; k < 3; k++) {
        snprintf(path, sizeof path, "%s/geoestimation/%s.csv", data, NAMES[k]);
        if (geoloc_partition_read(path, &parts[k], &err) != GEOLOC_OK) {
            fprintf(stderr, "geoloc demo: %s\n", err.message);
            goto done;
        }
    }
    snprintf(path, sizeof path, "%s/im2gps3k-dev/im2gps3k_dev.csv", data);
    geoloc_points_options opt = {.with_ids = 1};
    if (geoloc_points_read_csv(path, &opt, &pts, &err) != GEOLOC_OK) {
        fprintf(stderr, "geoloc demo: %s\n", err.message);
        goto done;
    }
    printf("Shared data: %s\n\n", data);
    show_cell_hierarchy(pts->id ? pts->id[0] : "the first photo", pts->lat[0], pts->lng[0]);

    printf("\nPublished MP-16 partitions (Mueller-Budack et al., ECCV 2018):\n");
    int32_t *anc = malloc(parts[2]->n * sizeof *anc);
    if (!anc) goto done;
    for (int k = 0; k < 3; k++) {
        printf("  %-14s %6zu cells from %llu photos", NAMES[k], parts[k]->n,
               (unsigned long long)parts[k]->num_images);
        if (k < 2)
            printf(", %zu fine cells without an ancestor here",
                   geoloc_partition_ancestors(parts[2], parts[k], anc));
        printf("\n");
    }
    free(anc);

    /* Class2GPS oracle: each photo predicted at its own fine cell's mean. */
    double *km = malloc(pts->n * sizeof *km);
    if (!km) goto done;
    size_t n = 0;
    for (size_t i = 0; i < pts->n; i++) {
        long c = geoloc_partition_find_latlng(parts[2], pts->lat[i], pts->lng[i]);
        if (c >= 0) km[n++] = geoloc_haversine_km(pts->lat[i], pts->lng[i], parts[2]->lat[c], parts[2]->lng[c]);
    }
    printf("\nIm2GPS3k dev photos: %zu, %zu inside a cell of cells_50_1000.\n", pts->n, n);
    printf("Best possible answer with that partition (each photo placed at its own cell's\n"
           "mean location, i.e. a perfect fine classifier with Class2GPS):\n");
    geoloc_distance_summary s;
    if (geoloc_distance_summarize(km, n, &s, &err) == GEOLOC_OK) print_summary("oracle", &s);
    free(km);

    geoloc_partition *own[3] = {0};
    const uint64_t tau_max[3] = {200, 100, 50};
    geoloc_partition_params params = {5, tau_max, 3, 2, 30, 0};
    if (geoloc_partitions_build(pts->lat, pts->lng, pts->n, &params, own, &err) != GEOLOC_OK) {
        fprintf(stderr, "geoloc demo: %s\n", err.message);
        goto done;
    }
    printf("\nPartitions built from these photos (tau_min 5, tau_max 200/100/50): %zu / %zu / %zu cells\n",
           own[0]->n, own[1]->n, own[2]->n);
    for (int k = 0; k < 3; k++) geoloc_partition_free(own[k]);
    rc = 0;
done:
    geoloc_points_free(pts);
    for (int k = 0; k < 3; k++) geoloc_partition_free(parts[k]);
    return rc;
}

/* Demo on the built-in landmarks. */
static int demo_builtin(void) {
    printf("Shared data not found (see README): using %zu built-in landmarks.\n\n", N_LANDMARKS);
    show_cell_hierarchy(LANDMARKS[0].name, LANDMARKS[0].lat, LANDMARKS[0].lng);
    printf("\nGreat-circle distances from %s:\n", LANDMARKS[0].name);
    for (size_t k = 1; k < N_LANDMARKS; k++)
        printf("  %-28s %9.1f km\n", LANDMARKS[k].name,
               geoloc_haversine_km(LANDMARKS[0].lat, LANDMARKS[0].lng, LANDMARKS[k].lat, LANDMARKS[k].lng));
    double lat[N_LANDMARKS], lng[N_LANDMARKS];
    for (size_t k = 0; k < N_LANDMARKS; k++) {
        lat[k] = LANDMARKS[k].lat;
        lng[k] = LANDMARKS[k].lng;
    }
    const uint64_t tau_max[1] = {1};
    geoloc_partition_params params = {0, tau_max, 1, 2, 30, 1};
    geoloc_partition *p;
    geoloc_error err;
    if (geoloc_partitions_build(lat, lng, N_LANDMARKS, &params, &p, &err) != GEOLOC_OK) {
        fprintf(stderr, "geoloc demo: %s\n", err.message);
        return 1;
    }
    printf("\nAdaptive partition with at most one landmark per cell: %zu cells\n", p->n);
    for (size_t c = 0; c < p->n; c++) {
        char token[GEOLOC_S2_TOKEN_SIZE];
        geoloc_s2_to_token(p->cell[c], token);
        long k = 0;
        while ((size_t)k < N_LANDMARKS && geoloc_partition_find_latlng(p, lat[k], lng[k]) != (long)c) k++;
        printf("  class %2zu  level %2d  %-10s %s\n", c, geoloc_s2_level(p->cell[c]), token,
               (size_t)k < N_LANDMARKS ? LANDMARKS[k].name : "?");
    }
    geoloc_partition_free(p);
    return 0;
}

static const cli_spec DEMO_SPEC = {
    "geoloc demo", NULL, 0, 0,
    "Shows the geo core at work: S2 cells of a photo from continent to street, the\n"
    "published MP-16 partitions and their hierarchy, an oracle accuracy on Im2GPS3k,\n"
    "partitions built from photos. Uses the shared data when present\n"
    "($GEOLOC_SHARED_DATA or ../shared/data), built-in landmarks otherwise.\n",
    NULL, NULL};

int cli_demo(int argc, char **argv) {
    int n_args;
    int parsed = cli_parse(&DEMO_SPEC, NULL, argc, argv, &n_args);
    if (parsed != CLI_RUN) return parsed;
    char data[4096];
    if (cli_find_shared_data(data, sizeof data) == 0) return demo_shared(data);
    return demo_builtin();
}
