/* The Places365 scene names of a level from share/geoloc/scenes/<LEVEL>.txt:
 * one name a line, line i = class i, checked as model files check names. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "geoloc/model.h"
#include "geoloc/scene.h"
#include "io/mapped_file.h"
#include "model/model_internal.h"

size_t geoloc_scene_level_classes(int level) {
    static const size_t classes[GEOLOC_SCENE_LEVELS] = {3, 16, 365};
    return level >= 0 && level < GEOLOC_SCENE_LEVELS ? classes[level] : 0;
}

int geoloc_scene_level_of_classes(size_t n) {
    for (int l = GEOLOC_SCENE_LEVEL_S16; l < GEOLOC_SCENE_LEVELS; l++)
        if (n == geoloc_scene_level_classes(l)) return l;
    return GEOLOC_SCENE_LEVEL_S3;
}

void geoloc_scene_names_free(char **names, int level) {
    for (size_t k = 0; names && k < geoloc_scene_level_classes(level); k++) free(names[k]);
    free(names);
}

geoloc_status geoloc_scene_names_parse(const char *data, size_t size, const char *name, int level,
                                       char ***names, geoloc_error *err) {
    size_t n = geoloc_scene_level_classes(level);
    *names = NULL;
    if (!n) return error_set(err, GEOLOC_E_ARG, "unknown scene level %d", level);
    char **out = calloc(n, sizeof *out);
    if (!out) return error_set(err, GEOLOC_E_NOMEM, "out of memory");
    size_t at = 0, line = 0;
    geoloc_status s = GEOLOC_OK;
    while (at < size && s == GEOLOC_OK) {
        const char *p = data + at, *nl = memchr(p, '\n', size - at);
        size_t len = nl ? (size_t)(nl - p) : size - at;
        at += len + (nl != NULL);
        if (len && p[len - 1] == '\r') len--;
        if (line >= n) {
            s = error_set(err, GEOLOC_E_PARSE, "%s:%zu: more than the %zu %s scene names", name, line + 1, n,
                          geoloc_scene_level_name(level));
            break;
        }
        char text[64];
        if (len == 0 || len >= sizeof text || memchr(p, '\0', len)) {
            s = error_set(err, GEOLOC_E_PARSE, "%s:%zu: a scene name of 1-63 characters is needed (found %zu)",
                          name, line + 1, len);
            break;
        }
        memcpy(text, p, len);
        text[len] = '\0';
        if (model_check_name(text, 0) != 0)
            s = error_set(err, GEOLOC_E_PARSE, "%s:%zu: the scene name holds a control character", name, line + 1);
        else if (!(out[line++] = strdup(text)))
            s = error_set(err, GEOLOC_E_NOMEM, "out of memory");
    }
    if (s == GEOLOC_OK && line < n)
        s = error_set(err, GEOLOC_E_PARSE, "%s:%zu: %zu %s scene names expected, the file ends after %zu", name,
                      line + 1, n, geoloc_scene_level_name(level), line);
    if (s != GEOLOC_OK) {
        geoloc_scene_names_free(out, level);
        return s;
    }
    *names = out;
    return GEOLOC_OK;
}

geoloc_status geoloc_scene_names_load(int level, char ***names, geoloc_error *err) {
    *names = NULL;
    const char *lv = geoloc_scene_level_name(level);
    if (!lv) return error_set(err, GEOLOC_E_ARG, "unknown scene level %d", level);
    char file[16], path[4200];
    snprintf(file, sizeof file, "%s.txt", lv);
    if (model_find_data_in("scenes", file, path, sizeof path) != 0) {
        char where[3 * 4200];
        model_search_text(where, sizeof where);
        return error_set(err, GEOLOC_E_IO, "the %s scene names: scenes/%s not found in %s", lv, file, where);
    }
    const void *data;
    size_t size;
    geoloc_status s = mapped_file_open(path, &data, &size, err);
    if (s != GEOLOC_OK) return s;
    s = geoloc_scene_names_parse(data, size, path, level, names, err);
    mapped_file_close(data, size);
    return s;
}
