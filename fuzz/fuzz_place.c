/* libFuzzer target: the place file reader (place_db_check, the checks of
 * geoloc_place_open). Whatever it accepts must be safe to look up in: a grid
 * of coordinates over the whole sphere, its answers' names NUL-terminated
 * inside the string table. */
#include <stdlib.h>
#include <string.h>

#include "place/place_internal.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size) {
    /* a private copy, 8-byte aligned as a mapping is */
    uint64_t *copy = malloc(size ? (size + 7) / 8 * 8 : 8);
    if (!copy) return 0;
    memcpy(copy, data, size);
    geoloc_place_db db;
    geoloc_error err;
    err.message[0] = '\0';
    if (place_db_check(copy, size, "fuzz-place", &db, &err) == GEOLOC_OK) {
        for (int lat = -90; lat <= 90; lat += 15)
            for (int lon = -180; lon <= 180; lon += 20) {
                geoloc_place p;
                if (geoloc_place_lookup(&db, lat, lon, (uint32_t)(lat + 90) * 100, &p, &err) != GEOLOC_OK) abort();
                if (strlen(p.country) >= db.n_strings || strlen(p.city) >= db.n_strings ||
                    strlen(p.country_code) > 2)
                    abort();
            }
        place_db_release(&db);
    } else if (err.message[0] == '\0') {
        abort();
    }
    free(copy);
    return 0;
}
