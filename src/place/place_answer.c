/* A place as answers show it: its name ("Paris, France") and its JSON
 * object; and the country test of evaluate (include/geoloc/place.h). */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "geoloc/place.h"

size_t geoloc_place_name(const geoloc_place *p, char *out, size_t size) {
    const char *city = p->city ? p->city : "", *country = p->country ? p->country : "";
    int n;
    if (*city && p->city_km > GEOLOC_PLACE_NEAR_KM)
        n = snprintf(out, size, "%.0f km from %s%s%s", p->city_km, city, *country ? ", " : "", country);
    else if (*city)
        n = snprintf(out, size, "%s%s%s", city, *country ? ", " : "", country);
    else
        n = snprintf(out, size, "%s", country);
    return n < 0 ? 0 : (size_t)n;
}

void geoloc_place_write_json(geoloc_json *w, const geoloc_place *p) {
    if (!p) {
        geoloc_json_null(w);
        return;
    }
    char name[512];
    geoloc_place_name(p, name, sizeof name);
    geoloc_json_object_begin(w);
    geoloc_json_key(w, "name");
    geoloc_json_string(w, name);
    geoloc_json_key(w, "country_code");
    geoloc_json_string(w, p->country_code);
    geoloc_json_key(w, "country");
    geoloc_json_string(w, p->country ? p->country : "");
    geoloc_json_key(w, "region");
    geoloc_json_string(w, p->region ? p->region : "");
    geoloc_json_key(w, "city");
    geoloc_json_string(w, p->city ? p->city : "");
    geoloc_json_key(w, "city_km");
    if (p->city && *p->city) geoloc_json_double(w, p->city_km);
    else geoloc_json_null(w);
    geoloc_json_object_end(w);
}

int geoloc_place_same_country(const geoloc_place_db *db, double lat, double lon, double t_lat, double t_lon) {
    geoloc_place a, t;
    geoloc_error err = {0};
    if (geoloc_place_lookup(db, t_lat, t_lon, UINT32_MAX, &t, &err) != GEOLOC_OK || !t.country[0]) return -1;
    if (geoloc_place_lookup(db, lat, lon, UINT32_MAX, &a, &err) != GEOLOC_OK) return -1;
    if (t.country_code[0]) return strcmp(a.country_code, t.country_code) == 0;
    return strcmp(a.country, t.country) == 0 && !a.country_code[0];
}
