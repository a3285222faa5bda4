/* geoloc predict's maps (--map, --map-dir, --map-extent) and GeoJSON output
 * (--format geojson): the glue between the answers and src/render/. */
#ifndef GEOLOC_CLI_PREDICT_MAP_H
#define GEOLOC_CLI_PREDICT_MAP_H

#include <stddef.h>

#include "geoloc/predict.h"
#include "geoloc/render.h"

/* The map options as given. */
typedef struct cli_map_args {
    const char *map;     /* --map OUT.png (one photo) */
    const char *map_dir; /* --map-dir DIR (one PNG per photo) */
    const char *extent;  /* --map-extent world|auto|SOUTH,WEST,NORTH,EAST (NULL: auto) */
} cli_map_args;

/* What the maps of a run need. */
typedef struct cli_maps {
    geoloc_map_extent extent;
    double box[4];
    char **paths;             /* the map of photo k (NULL: no maps) */
    size_t n;
    geoloc_borders *borders;  /* NULL: outlines not found (a warning said so) */
    double seconds;           /* time spent drawing and writing maps */
} cli_maps;

/* Checks the options against the photos (--map: one photo, its folder
 * exists; --map-dir: created when missing, one name per photo, PHOTO_STEM.map.png,
 * -2, -3... for repeats; no map is a photo or the model (NULL: not given);
 * the extent parses and is not empty) and loads the country outlines. 0, or
 * the exit code after a message (2: usage). */
int cli_maps_prepare(const char *cmd, const cli_map_args *args, char *const *photos, size_t n, const char *model,
                     cli_maps *m);

/* Draws and writes photo k's map; 0, or -1 after a message on stderr. */
int cli_maps_write(const char *cmd, cli_maps *m, const geoloc_model *model, const geoloc_photo_answer *a);

/* Releases what cli_maps_prepare made. */
void cli_maps_free(cli_maps *m);

/* Writes a photo's features (geoloc_geojson_photo) with cells of at least
 * min_prob; 0, or -1 after a message on stderr. */
int cli_geojson_write(const char *cmd, geoloc_json *w, const geoloc_model *model, const geoloc_photo_answer *a,
                      double min_prob);

#endif
