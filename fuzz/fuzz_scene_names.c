/* libFuzzer target: the scene names reader (geoloc_scene_names_parse) at every
 * level. Names it accepts must be as many as the level's classes, each 1-63
 * characters without control characters; a refusal must say why. */
#include <string.h>

#include "fuzz_util.h"
#include "geoloc/model.h"
#include "geoloc/scene.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size) {
    for (int level = 0; level < GEOLOC_SCENE_LEVELS; level++) {
        char **names;
        geoloc_error err = {0};
        if (geoloc_scene_names_parse((const char *)data, size, "fuzz", level, &names, &err) == GEOLOC_OK) {
            for (size_t k = 0; k < geoloc_scene_level_classes(level); k++) {
                size_t n = strlen(names[k]);
                REQUIRE(n >= 1 && n <= 63);
                for (size_t j = 0; j < n; j++) REQUIRE((unsigned char)names[k][j] >= 0x20 && names[k][j] != 0x7f);
            }
            geoloc_scene_names_free(names, level);
        } else {
            REQUIRE(err.message[0] != '\0');
        }
    }
    return 0;
}
