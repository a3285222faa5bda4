/* Tests of offline place names (geoloc_place_*).
 * argv[1]: shared data folder, argv[2]: tests/data.
 *
 * - a small hand-made place file built by geoloc_place_build: a square
 *   country with a hole holding an enclave country, a country cut at the
 *   antimeridian, the coast rule (10 km off: that country; 40 km off: none),
 *   the nearest city with and without a population floor, bad coordinates,
 *   the country test of evaluate (same, other, no code, truth at sea);
 * - how answers name a place ("Paris, France", a far city, at sea, cut);
 * - the checks of the reader: wrong magic, other version, truncation, every
 *   single-byte change of the header (refused or read safely), a missing
 *   file named with tools/fetch-places.sh;
 * - the real file models/places.bin (tools/fetch-places.sh; skipped with a
 *   message when absent): Paris, Null Island, the sea 10 km and 50 km off
 *   Portugal, mid-ocean, Fiji and Chukotka on both sides of the antimeridian,
 *   the poles, Lesotho inside South Africa, San Marino inside Italy, Kosovo
 *   (no ISO code), each checked against a plain ray casting on the same
 *   world-atlas outlines by tools/place_ref.py (shapely), which the
 *   place_reference test runs at scale. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "geoloc/place.h"
#include "place/place_format.h"
#include "test_util.h"

static const char COUNTRIES[] =
    "C\tAA\tSquareland\n"
    "R\t0 0 10 0 10 10 0 10\n"
    "R\t4 4 6 4 6 6 4 6\n" /* the hole of Enclavia */
    "C\tBB\tEnclavia\n"
    "R\t4 4 6 4 6 6 4 6\n"
    "C\tCC\tDatelinia\n" /* cut at the antimeridian, as Natural Earth draws Fiji */
    "R\t178 -20 180 -20 180 -16 178 -16\n"
    "R\t-180 -20 -178 -20 -178 -16 -180 -16\n"
    "C\t\tNo Code Land\n"
    "R\t20 20 22 20 22 22 20 22\n";

static const char CITIES[] =
    "name,country,admin1,population,lat,lon\n"
    "Hamlet,AA,01,1200,2.0,2.0\n"
    "Bigtown,AA,01,500000,8.0,8.0\n"
    "\"Comma, Town\",BB,02,20000,5.0,5.0\n"
    "Eastend,CC,,30000,-18.0,179.5\n"
    "Westend,CC,,30000,-18.0,-179.0\n";

static geoloc_place_db *build_small(char *path) {
    char dir[128];
    snprintf(dir, sizeof dir, "%s", test_temp_file("place"));
    unlink(dir);
    char countries[4200], cities[4200];
    snprintf(countries, sizeof countries, "%s.countries.txt", dir);
    snprintf(cities, sizeof cities, "%s.cities.csv", dir);
    snprintf(path, 4200, "%s.bin", dir);
    test_write_text(countries, COUNTRIES);
    test_write_text(cities, CITIES);
    geoloc_error err = {0};
    CHECK(geoloc_place_build(countries, cities, path, &err) == GEOLOC_OK, "build: %s", err.message);
    unlink(countries);
    unlink(cities);
    geoloc_place_db *db = NULL;
    CHECK(geoloc_place_open(path, &db, &err) == GEOLOC_OK, "open: %s", err.message);
    return db;
}

static geoloc_place look(const geoloc_place_db *db, double lat, double lon, uint32_t min_pop) {
    geoloc_place p;
    geoloc_error err = {0};
    CHECK(geoloc_place_lookup(db, lat, lon, min_pop, &p, &err) == GEOLOC_OK, "%g,%g: %s", lat, lon, err.message);
    return p;
}

static void expect_country(const geoloc_place_db *db, double lat, double lon, const char *code,
                           const char *name, int in_country) {
    geoloc_place p = look(db, lat, lon, 0);
    CHECK(!strcmp(p.country_code, code) && !strcmp(p.country, name) && p.in_country == in_country,
          "%g,%g: got '%s' '%s' in=%d, want '%s' '%s' in=%d", lat, lon, p.country_code, p.country,
          p.in_country, code, name, in_country);
    CHECK(!strcmp(p.region, ""), "region is always empty");
}

static void test_small(geoloc_place_db *db) {
    expect_country(db, 1, 1, "AA", "Squareland", 1);
    expect_country(db, 9.99, 0.01, "AA", "Squareland", 1);
    expect_country(db, 5, 5, "BB", "Enclavia", 1);            /* in the hole: the enclave, not both */
    expect_country(db, 4.01, 5.5, "BB", "Enclavia", 1);
    expect_country(db, 3.99, 5.5, "AA", "Squareland", 1);
    expect_country(db, -18, 179, "CC", "Datelinia", 1);       /* both sides of the antimeridian */
    expect_country(db, -18, -179, "CC", "Datelinia", 1);
    expect_country(db, -18, 180, "CC", "Datelinia", 1);
    expect_country(db, -18, -180, "CC", "Datelinia", 1);
    expect_country(db, 21, 21, "", "No Code Land", 1);        /* a feature without ISO code */
    /* the coast rule: 1 degree of latitude is 111.2 km */
    expect_country(db, -10.0 / 111.2, 5, "AA", "Squareland", 0);
    expect_country(db, -40.0 / 111.2, 5, "", "", 0);
    expect_country(db, -18, -178.0 + 20.0 / 111.2 / cos(18 * M_PI / 180), "CC", "Datelinia", 0); /* 20 km */
    expect_country(db, -18, -177.5, "", "", 0);                /* 0.5 degree east of its edge: 53 km */
    expect_country(db, 50, 50, "", "", 0);
    expect_country(db, 90, 0, "", "", 0);
    expect_country(db, -90, 0, "", "", 0);
    /* the nearest city, with a floor */
    geoloc_place p = look(db, 2.1, 2.1, 0);
    CHECK(!strcmp(p.city, "Hamlet") && p.city_population == 1200 && !strcmp(p.city_country, "AA"), "hamlet: %s", p.city);
    CHECK(fabs(p.city_km - 15.7) < 0.2, "hamlet km %g", p.city_km);
    p = look(db, 2.1, 2.1, 15000);
    CHECK(!strcmp(p.city, "Comma, Town") && p.city_population == 20000, "floor 15000: %s", p.city);
    p = look(db, 2.1, 2.1, 100000);
    CHECK(!strcmp(p.city, "Bigtown"), "floor 100000: %s", p.city);
    p = look(db, 2.1, 2.1, 1000000);
    CHECK(!strcmp(p.city, "") && p.city_km == -1, "no city that big: %s", p.city);
    p = look(db, -18, -179.9, 0); /* across the antimeridian: Eastend is 44 km away, Westend 95 km */
    CHECK(!strcmp(p.city, "Eastend"), "nearest across the antimeridian: %s", p.city);
    /* bad coordinates */
    const double bad[][2] = {{NAN, 0}, {0, NAN}, {90.0001, 0}, {-91, 0}, {0, 180.5}, {0, -181}, {INFINITY, 0}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        geoloc_error err = {0};
        CHECK(geoloc_place_lookup(db, bad[i][0], bad[i][1], 0, &p, &err) == GEOLOC_E_RANGE &&
              strstr(err.message, "out of range"), "bad %g,%g: %s", bad[i][0], bad[i][1], err.message);
    }
    /* the country test of evaluate */
    CHECK(geoloc_place_same_country(db, 2, 2, 8, 8) == 1, "same country");
    CHECK(geoloc_place_same_country(db, 5, 5, 2, 2) == 0, "the enclave is another country");
    CHECK(geoloc_place_same_country(db, 21, 21, 20.5, 20.5) == 1, "no code: compared by name");
    CHECK(geoloc_place_same_country(db, 2, 2, 21, 21) == 0, "a coded country is not the uncoded one");
    CHECK(geoloc_place_same_country(db, 2, 2, 50, 50) == -1, "truth at sea: not counted");
    CHECK(geoloc_place_same_country(db, NAN, 2, 2, 2) == -1, "NaN: not counted");
    uint32_t nc, ncity;
    geoloc_place_counts(db, &nc, &ncity);
    CHECK(nc == 4 && ncity == 5, "counts %u %u", nc, ncity);
}

/* How answers name a place. */
static void test_names(void) {
    char name[64];
    geoloc_place p = {.country_code = "FR", .country = "France", .region = "", .city = "Paris", .city_km = 1.9};
    CHECK(geoloc_place_name(&p, name, sizeof name) == 13 && !strcmp(name, "Paris, France"), "%s", name);
    p.city_km = 120.4;
    geoloc_place_name(&p, name, sizeof name);
    CHECK(!strcmp(name, "120 km from Paris, France"), "a far city: %s", name);
    p.country = "";
    geoloc_place_name(&p, name, sizeof name);
    CHECK(!strcmp(name, "120 km from Paris"), "at sea: %s", name);
    p.city = "", p.country = "France";
    geoloc_place_name(&p, name, sizeof name);
    CHECK(!strcmp(name, "France"), "no city: %s", name);
    p.country = "";
    CHECK(geoloc_place_name(&p, name, sizeof name) == 0 && !name[0], "nothing known: '%s'", name);
    p.country = "France", p.city = "Paris", p.city_km = 1;
    CHECK(geoloc_place_name(&p, name, 6) == 13 && !strcmp(name, "Paris"), "cut to the buffer: %s", name);
}

/* Writes `size` bytes of data to a temporary file and opens it. */
static geoloc_status open_bytes(const void *data, size_t size, geoloc_error *err) {
    const char *path = test_temp_file("place_damaged");
    FILE *fp = fopen(path, "wb");
    fwrite(data, 1, size, fp);
    fclose(fp);
    geoloc_place_db *db = NULL;
    geoloc_status st = geoloc_place_open(path, &db, err);
    if (st == GEOLOC_OK) { /* read safely: a look-up must not crash */
        geoloc_place p;
        geoloc_place_lookup(db, 5, 5, 0, &p, err);
        geoloc_place_lookup(db, -18, 180, 0, &p, err);
    }
    geoloc_place_close(db);
    unlink(path);
    return st;
}

static void test_damaged(const char *good) {
    size_t size;
    unsigned char *data = test_read_file(good, &size);
    geoloc_error err = {0};
    CHECK(open_bytes(data, size, &err) == GEOLOC_OK, "the good file reopens: %s", err.message);
    unsigned char *copy = malloc(size);
    memcpy(copy, data, size);
    copy[0] = 'X';
    CHECK(open_bytes(copy, size, &err) == GEOLOC_E_PARSE && strstr(err.message, "not a place file"), "magic: %s", err.message);
    memcpy(copy, data, size);
    copy[8] = 2;
    CHECK(open_bytes(copy, size, &err) == GEOLOC_E_PARSE && strstr(err.message, "version 2") &&
          strstr(err.message, "tools/fetch-places.sh"), "version: %s", err.message);
    CHECK(open_bytes(data, size - 1, &err) == GEOLOC_E_PARSE && strstr(err.message, "damaged"), "truncated: %s", err.message);
    CHECK(open_bytes(data, 10, &err) == GEOLOC_E_PARSE, "too short: %s", err.message);
    /* any byte of the header changed: refused, or read without harm (the
     * sanitizer run); only a few (a section count lowered within bounds) pass */
    int refused = 0;
    for (size_t i = 0; i < sizeof(place_header); i++) {
        memcpy(copy, data, size);
        copy[i] ^= 0x5a;
        refused += open_bytes(copy, size, &err) != GEOLOC_OK;
    }
    CHECK(refused >= (int)sizeof(place_header) - 8, "%d of %zu header changes refused", refused, sizeof(place_header));
    /* a cell part pointing past the edge list */
    place_header h;
    memcpy(&h, data, sizeof h);
    memcpy(copy, data, size);
    place_part *part = (place_part *)(copy + h.sections[PLACE_PARTS].offset);
    part->edge_count = 1000000;
    CHECK(open_bytes(copy, size, &err) == GEOLOC_E_PARSE && strstr(err.message, "cell part"), "part: %s", err.message);
    free(copy);
    free(data);
    setenv("GEOLOC_DATA_DIR", "/nonexistent-geoloc-data", 1);
    geoloc_place_db *db = NULL;
    CHECK(geoloc_place_open("/nonexistent-geoloc-data/places.bin", &db, &err) == GEOLOC_E_IO &&
          strstr(err.message, "tools/fetch-places.sh"), "missing file: %s", err.message);
}

/* Points checked against a plain ray casting of the same outlines. */
static void test_real(const geoloc_place_db *db) {
    static const struct { double lat, lon; const char *code, *country; int in; } K[] = {
        {48.8566, 2.3522, "FR", "France", 1},
        {0, 0, "", "", 0},                        /* Null Island: open sea */
        {38.7, -9.615, "PT", "Portugal", 0},      /* 10 km off Cabo da Roca */
        {38.7, -10.08, "", "", 0},                /* 50 km off */
        {-30, -140, "", "", 0},                   /* the middle of the Pacific */
        {-17.8, 178.0, "FJ", "Fiji", 1},          /* Viti Levu, east longitude */
        {-16.8, -179.95, "FJ", "Fiji", 1},        /* Taveuni, west longitude */
        {65.0, 179.5, "RU", "Russia", 1},         /* Chukotka, both sides */
        {67.0, -178, "RU", "Russia", 1},
        {90, 0, "", "", 0},                       /* the North Pole: sea ice */
        {-90, 0, "AQ", "Antarctica", 1},
        {-29.5, 28.2, "LS", "Lesotho", 1},        /* an enclave ... */
        {-29.0, 26.0, "ZA", "South Africa", 1},   /* ... and its surrounding country */
        {43.94, 12.45, "SM", "San Marino", 1},
        {42.6, 21.0, "", "Kosovo", 1},            /* Natural Earth feature without ISO code */
    };
    for (size_t i = 0; i < sizeof K / sizeof K[0]; i++) expect_country(db, K[i].lat, K[i].lon, K[i].code, K[i].country, K[i].in);
    geoloc_place p = look(db, 48.8566, 2.3522, 15000);
    CHECK(!strcmp(p.city, "Paris") && p.city_km < 2 && p.city_population > 2000000, "Paris: %s %g", p.city, p.city_km);
    p = look(db, 48.80, 2.13, 15000); /* Versailles (85,000 inhabitants) */
    CHECK(!strcmp(p.city, "Versailles") && p.city_population >= 15000, "Versailles: %s", p.city);
    p = look(db, 48.80, 2.13, 1000000);
    CHECK(!strcmp(p.city, "Paris"), "Versailles, floor 1M: %s", p.city);
}

int main(int argc, char **argv) {
    const char *test_data = argc > 2 ? argv[2] : "tests/data";
    char small[4200];
    geoloc_place_db *db = build_small(small);
    if (db) test_small(db);
    geoloc_place_close(db);
    test_names();
    test_damaged(small);
    unlink(small);
    char real[4200];
    snprintf(real, sizeof real, "%s/../../models/places.bin", test_data);
    if (access(real, R_OK) != 0) {
        if (test_failed) TEST_END();
        printf("%d passed; skipping the real place file: %s absent (run tools/fetch-places.sh)\n", test_passed, real);
        return 77;
    }
    geoloc_error err = {0};
    CHECK(geoloc_place_open(real, &db, &err) == GEOLOC_OK, "%s", err.message);
    if (db) test_real(db);
    geoloc_place_close(db);
    TEST_END();
}
