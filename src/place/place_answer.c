/* A place as answers show it: its name ("Paris, France") and its JSON
 * object (include/geoloc/place.h). */
#include <stdio.h>

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
