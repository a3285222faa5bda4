/* geoloc predict's maps and GeoJSON: options checked before any work, one
 * PNG per photo drawn by src/render/, the features of each photo. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli/cli_predict_map.h"
#include "cli/cli_util.h"

#define MAP_WIDTH 1200
#define MAP_HEIGHT 640
#define THUMB_MIN_SIDE 256 /* photos are decoded at a reduced scale down to this for the thumbnail */

/* Parses world, auto or SOUTH,WEST,NORTH,EAST; 0, or 2 after a message. */
static int parse_extent(const char *cmd, const char *s, cli_maps *m) {
    if (!s || !strcmp(s, "auto")) m->extent = GEOLOC_MAP_AUTO;
    else if (!strcmp(s, "world")) m->extent = GEOLOC_MAP_WORLD;
    else {
        char end;
        if (sscanf(s, "%lf,%lf,%lf,%lf%c", &m->box[0], &m->box[1], &m->box[2], &m->box[3], &end) != 4) {
            fprintf(stderr, "%s: --map-extent %s: give world, auto or SOUTH,WEST,NORTH,EAST in degrees\n", cmd, s);
            return 2;
        }
        m->extent = GEOLOC_MAP_BOX;
    }
    geoloc_map_view v;
    geoloc_error err = {0};
    if (m->extent == GEOLOC_MAP_BOX &&
        geoloc_map_view_fit(NULL, m->extent, m->box, MAP_WIDTH, MAP_HEIGHT, &v, &err) != GEOLOC_OK) {
        const char *why = strstr(err.message, ": map extent"); /* without the source position */
        fprintf(stderr, "%s: --map-extent%s\n", cmd, why ? why + 12 : err.message);
        return 2;
    }
    return 0;
}

/* The folder of path exists; 0, or 1 after a message. */
static int folder_exists(const char *cmd, const char *path) {
    const char *slash = strrchr(path, '/');
    if (!slash) return 0;
    char dir[4096];
    snprintf(dir, sizeof dir, "%.*s", (int)(slash == path ? 1 : slash - path), path);
    struct stat st;
    if (stat(dir, &st) == 0 && S_ISDIR(st.st_mode)) return 0;
    fprintf(stderr, "%s: --map %s: the folder %s does not exist\n", cmd, path, dir);
    return 1;
}

/* DIR/STEM.map.png, DIR/STEM-2.map.png, ...: the first not given to an
 * earlier photo. NULL when out of memory. */
static char *map_name(const char *dir, const char *photo, char *const *taken, size_t n_taken) {
    char stem[1024];
    cli_stem(photo, stem, sizeof stem);
    size_t size = strlen(dir) + strlen(stem) + 32;
    char *out = malloc(size);
    for (int k = 1; out; k++) {
        char num[16] = "";
        if (k > 1) snprintf(num, sizeof num, "-%d", k);
        snprintf(out, size, "%s/%s%s.map.png", dir, stem, num);
        size_t i = 0;
        while (i < n_taken && strcmp(taken[i], out) != 0) i++;
        if (i == n_taken) break;
    }
    return out;
}

/* The map names of every photo; 0, or the exit code after a message. */
static int name_maps(const char *cmd, const cli_map_args *args, char *const *photos, size_t n, const char *model,
                     cli_maps *m) {
    if (!(m->paths = calloc(n, sizeof *m->paths))) return 1;
    m->n = n;
    for (size_t k = 0; k < n; k++) {
        m->paths[k] = args->map ? strdup(args->map) : map_name(args->map_dir, photos[k], m->paths, k);
        if (!m->paths[k]) {
            fprintf(stderr, "%s: out of memory\n", cmd);
            return 1;
        }
    }
    cli_file *in = malloc((n + 1) * sizeof *in), *out = malloc(n * sizeof *out);
    int rc = in && out ? 0 : 1;
    for (size_t k = 0; !rc && k < n; k++) {
        in[k] = (cli_file){"photo", photos[k]};
        out[k] = (cli_file){args->map ? "--map" : "--map-dir map", m->paths[k]};
    }
    if (!rc) in[n] = (cli_file){"--model", model};
    if (!rc) rc = cli_check_outputs(cmd, in, (int)n + 1, out, (int)n);
    free(in);
    free(out);
    return rc;
}

int cli_maps_prepare(const char *cmd, const cli_map_args *args, char *const *photos, size_t n, const char *model,
                     cli_maps *m) {
    memset(m, 0, sizeof *m);
    if (!args->map && !args->map_dir) return 0;
    if (args->map && args->map_dir) {
        fprintf(stderr, "%s: --map and --map-dir: give one of them\n", cmd);
        return 2;
    }
    if (args->map && n != 1) {
        fprintf(stderr, "%s: --map draws one photo's map (%zu photos given): use --map-dir DIR\n", cmd, n);
        return 2;
    }
    int rc = parse_extent(cmd, args->extent, m);
    if (!rc && args->map) rc = folder_exists(cmd, args->map);
    if (!rc && args->map_dir && cli_mkdir_p(cmd, args->map_dir) != 0) rc = 1;
    if (!rc) rc = name_maps(cmd, args, photos, n, model, m);
    geoloc_error err = {0};
    if (!rc && geoloc_borders_load(NULL, &m->borders, &err) != GEOLOC_OK)
        fprintf(stderr, "%s: warning: maps drawn without country borders: %s\n", cmd, err.message);
    return rc;
}

/* The answering partition's distribution of an answer, as the renderers see it. */
static int map_answer(const geoloc_model *model, const geoloc_photo_answer *a, geoloc_map_answer *out) {
    if (!a->pred || !a->distribution) return -1;
    geoloc_map_answer_init(out, a->name, model->partitions[a->pred->partition], a->distribution, a->pred);
    out->place = a->place;
    return 0;
}

int cli_maps_write(const char *cmd, cli_maps *m, const geoloc_model *model, const geoloc_photo_answer *a) {
    geoloc_map_answer ans;
    if (!m->paths || a->index >= m->n || map_answer(model, a, &ans) != 0) return 0;
    double t0 = cli_now_seconds();
    geoloc_error err = {0};
    geoloc_image thumb = {0};
    geoloc_decode_options dec = {.min_shorter_side = THUMB_MIN_SIDE};
    int have_thumb = geoloc_image_load(a->name, &dec, &thumb, &err) == GEOLOC_OK;
    geoloc_map_options opt = {.borders = m->borders, .thumbnail = have_thumb ? &thumb : NULL};
    geoloc_status s = geoloc_map_view_fit(&ans, m->extent, m->box, MAP_WIDTH, MAP_HEIGHT, &opt.view, &err);
    if (!s) s = geoloc_map_write_png(&ans, &opt, m->paths[a->index], &err);
    geoloc_image_free(&thumb);
    m->seconds += cli_now_seconds() - t0;
    if (!s) return 0;
    fprintf(stderr, "%s: %s: map not written: %s\n", cmd, a->name, err.message);
    return -1;
}

void cli_maps_free(cli_maps *m) {
    for (size_t k = 0; m->paths && k < m->n; k++) free(m->paths[k]);
    free(m->paths);
    geoloc_borders_free(m->borders);
    memset(m, 0, sizeof *m);
}

int cli_geojson_write(const char *cmd, geoloc_json *w, const geoloc_model *model, const geoloc_photo_answer *a,
                      double min_prob) {
    geoloc_map_answer ans;
    if (map_answer(model, a, &ans) != 0) return 0;
    geoloc_geojson_options opt = {.min_prob = min_prob};
    geoloc_error err = {0};
    if (geoloc_geojson_photo(w, &ans, &opt, &err) == GEOLOC_OK) return 0;
    if (err.status != GEOLOC_E_IO) fprintf(stderr, "%s: %s: %s\n", cmd, a->name, err.message);
    return -1;
}
