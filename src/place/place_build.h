/* The place file's builder: its inputs held in memory, and the growing
 * arrays it writes. Internal API. */
#ifndef GEOLOC_PLACE_BUILD_H
#define GEOLOC_PLACE_BUILD_H

#include <stddef.h>

#include "place/place_format.h"

/* A growing array of fixed-size records. */
typedef struct place_vec {
    void *data;
    size_t n, cap, size;
} place_vec;

/* Appends one record (copied from `rec`); returns a pointer to it or NULL (out of memory). */
void *place_vec_push(place_vec *v, const void *rec);
void place_vec_free(place_vec *v);

/* What the builder reads: countries with their outline edges, cities, names. */
typedef struct place_input {
    place_vec countries; /* place_country */
    place_vec edges;     /* place_edge */
    place_vec cities;    /* place_city */
    place_vec strings;   /* char */
} place_input;

/* Reads the countries file (lines "C\tCODE\tNAME", then "R\tlon lat lon lat ..."
 * rings, each closed implicitly) and the cities CSV (header then
 * name,country,admin1,population,lat,lon) into `in`. */
geoloc_status place_input_read(const char *countries, const char *cities, place_input *in,
                               geoloc_error *err);

void place_input_free(place_input *in);

#endif
