/* Answers from neighbours: the kernel-density mode of their coordinates
 * (k-NN), and the hybrid of PlaNet and Vo et al. (the classifier's cell,
 * the neighbours' mode inside it). */
#include <math.h>
#include <stdlib.h>

#include "geoloc/distance.h"
#include "geoloc/retrieval.h"
#include "geoloc/s2.h"

geoloc_knn_kernel geoloc_knn_kernel_default(void) { return (geoloc_knn_kernel){0.05, 25.0}; }

int geoloc_knn_mode(const geoloc_neighbour *nb, size_t n, const unsigned char *inside, geoloc_knn_kernel kernel) {
    int best = -1;
    double best_density = -1;
    float top = -INFINITY; /* weights relative to the best similarity: no overflow */
    for (size_t j = 0; j < n; j++)
        if ((!inside || inside[j]) && nb[j].sim > top) top = nb[j].sim;
    for (size_t i = 0; i < n; i++) {
        if (inside && !inside[i]) continue;
        double density = 0;
        for (size_t j = 0; j < n; j++) {
            if (inside && !inside[j]) continue;
            double d = geoloc_haversine_km(nb[i].lat, nb[i].lon, nb[j].lat, nb[j].lon) / kernel.bandwidth_km;
            density += exp(((double)nb[j].sim - top) / kernel.tau_sim) * exp(-0.5 * d * d);
        }
        if (density > best_density) {
            best_density = density;
            best = (int)i;
        }
    }
    return best;
}

int geoloc_answer_retrieval(geoloc_answer_kind kind, const geoloc_neighbour *nb, size_t n, geoloc_knn_kernel kernel,
                            geoloc_prediction *pred) {
    if (kind == GEOLOC_ANSWER_CLASS || n == 0) return 0;
    unsigned char *inside = NULL;
    if (kind == GEOLOC_ANSWER_HYBRID) {
        if (!(inside = malloc(n))) return 0; /* out of memory: the classifier's answer stands */
        geoloc_cell cell = pred->top[0].cell;
        size_t hits = 0;
        for (size_t j = 0; j < n; j++)
            hits += inside[j] = (unsigned char)geoloc_s2_contains(cell, geoloc_s2_from_latlng(nb[j].lat, nb[j].lon));
        if (hits == 0) {
            free(inside);
            return 0;
        }
    }
    int best = geoloc_knn_mode(nb, n, inside, kernel);
    free(inside);
    if (best < 0) return 0;
    pred->lat = nb[best].lat;
    pred->lon = nb[best].lon;
    return 1;
}
