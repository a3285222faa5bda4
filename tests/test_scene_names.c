/* The scene names of a level (geoloc_scene_names_parse / _load): the
 * installed files of share/geoloc/scenes load (line i = class i), and bad
 * files are refused with messages naming the file and the line. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "geoloc/model.h"
#include "geoloc/scene.h"
#include "test_util.h"

/* Parses text as level's names: the status, and the message in err. */
static geoloc_status parse(const char *text, int level, geoloc_error *err) {
    char **names = NULL;
    geoloc_status s = geoloc_scene_names_parse(text, strlen(text), "x.txt", level, &names, err);
    CHECK((s == GEOLOC_OK) == (names != NULL), "names given exactly on success");
    geoloc_scene_names_free(names, level);
    return s;
}

int main(int argc, char **argv) {
    geoloc_error err = {0};
    char **names = NULL;
    /* the files of share/geoloc (tests/data/../../share/geoloc) */
    char share[1024];
    snprintf(share, sizeof share, "%s/../../share/geoloc", argc > 2 ? argv[2] : "tests/data");
    setenv("GEOLOC_DATA_DIR", share, 1);
    CHECK(geoloc_scene_names_load(GEOLOC_SCENE_LEVEL_S16, &names, &err) == GEOLOC_OK, "S16: %s", err.message);
    if (names)
        CHECK(!strcmp(names[0], "indoor: shopping and dining") &&
                  !strcmp(names[15], "urban: commercial buildings, shops, markets, cities, and towns"),
              "S16 names: %s ... %s", names[0], names[15]);
    geoloc_scene_names_free(names, GEOLOC_SCENE_LEVEL_S16);
    CHECK(geoloc_scene_names_load(GEOLOC_SCENE_LEVEL_S365, &names, &err) == GEOLOC_OK, "S365: %s", err.message);
    if (names) CHECK(!strcmp(names[0], "airfield"), "S365 class 0: %s", names[0]);
    geoloc_scene_names_free(names, GEOLOC_SCENE_LEVEL_S365);
    CHECK(geoloc_scene_level_classes(GEOLOC_SCENE_LEVEL_S3) == 3 && geoloc_scene_level_classes(3) == 0, "classes");
    /* good texts: a final newline or none, CRLF */
    CHECK(parse("indoor\nnatural\nurban\n", 0, &err) == GEOLOC_OK, "%s", err.message);
    CHECK(parse("indoor\r\nnatural\r\nurban", 0, &err) == GEOLOC_OK, "%s", err.message);
    /* bad ones, each named by file and line */
    CHECK(parse("indoor\nnatural\n", 0, &err) == GEOLOC_E_PARSE && strstr(err.message, "x.txt:3:") &&
              strstr(err.message, "3 S3 scene names expected"), "too few: %s", err.message);
    CHECK(parse("a\nb\nc\nd\n", 0, &err) == GEOLOC_E_PARSE && strstr(err.message, "x.txt:4:"), "too many: %s",
          err.message);
    CHECK(parse("a\n\nc\n", 0, &err) == GEOLOC_E_PARSE && strstr(err.message, "x.txt:2:"), "empty line: %s",
          err.message);
    CHECK(parse("a\nb\tc\nc\n", 0, &err) == GEOLOC_E_PARSE && strstr(err.message, "x.txt:2:") &&
              strstr(err.message, "control"), "control character: %s", err.message);
    char longer[200];
    memset(longer, 'x', 64);
    snprintf(longer + 64, sizeof longer - 64, "\nb\nc\n");
    CHECK(parse(longer, 0, &err) == GEOLOC_E_PARSE && strstr(err.message, "x.txt:1:"), "64 characters: %s",
          err.message);
    CHECK(parse("", 0, &err) == GEOLOC_E_PARSE && strstr(err.message, "x.txt:1:"), "empty file: %s", err.message);
    CHECK(parse("a\nb\nc\n", 7, &err) == GEOLOC_E_ARG, "unknown level: %s", err.message);
    /* not found: says where it looked */
    setenv("GEOLOC_DATA_DIR", "/nonexistent", 1);
    CHECK(geoloc_scene_names_load(GEOLOC_SCENE_LEVEL_S16, &names, &err) == GEOLOC_E_IO &&
              strstr(err.message, "scenes/S16.txt") && strstr(err.message, "/nonexistent"),
          "missing: %s", err.message);
    TEST_END();
}
