/* geoloc: the Places365 scene classes' names of each level (S3, S16, S365),
 * one name a line in share/geoloc/scenes/<LEVEL>.txt (line i = class i). */
#ifndef GEOLOC_SCENE_H
#define GEOLOC_SCENE_H

#include <stddef.h>

#include "geoloc/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The number of classes of a scene level (geoloc_scene_level): 3, 16 or 365; 0 for another. */
size_t geoloc_scene_level_classes(int level);

/* The level of a single scene head of n classes: S16 for 16, S365 for 365, S3
 * for any other size (as format-1 model files and `geoloc model init --scenes`
 * place a scene head). */
int geoloc_scene_level_of_classes(size_t n);

/* Parses a level's names from a file image (name is used in messages): exactly
 * the level's number of lines, each a name of 1-63 characters without control
 * characters (a final newline and "\r\n" line ends allowed); errors name the
 * file and the line. *names receives the strings (geoloc_scene_names_free). */
geoloc_status geoloc_scene_names_parse(const char *data, size_t size, const char *name, int level,
                                       char ***names, geoloc_error *err);

/* Loads a level's names from scenes/<LEVEL>.txt found as the other data files
 * (geoloc_model_find_data's folders: $GEOLOC_DATA_DIR, <executable
 * dir>/../share/geoloc, ../models); err says where it looked when not found. */
geoloc_status geoloc_scene_names_load(int level, char ***names, geoloc_error *err);

/* Releases names returned for a level (NULL allowed). */
void geoloc_scene_names_free(char **names, int level);

#ifdef __cplusplus
}
#endif
#endif
