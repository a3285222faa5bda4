/* --album-by: parsing, then the albums through the library's grouping by
 * keys (geoloc_album_group) or by capture time (geoloc_album_group_time). */
#include "cli/cli_album_by.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "geoloc/album.h"

int cli_album_by_parse(const char *how, cli_album_by *out) {
    memset(out, 0, sizeof *out);
    if (!strcmp(how, "none")) return 0;
    if (!strcmp(how, "folder")) {
        out->kind = CLI_ALBUM_FOLDER;
        return 0;
    }
    if (!strncmp(how, "column:", 7) && how[7]) {
        out->kind = CLI_ALBUM_COLUMN;
        out->column = how + 7;
        return 0;
    }
    if (strncmp(how, "time:", 5)) return -1;
    char *end;
    out->kind = CLI_ALBUM_TIME;
    out->hours = strtod(how + 5, &end);
    if (end == how + 5 || !isfinite(out->hours) || out->hours < 0) return -1;
    if (!strcmp(end, ",folder")) out->time_folder = 1;
    else if (*end) return -1;
    return 0;
}

/* The last path component of path. */
static const char *file_name(const char *path) {
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}

/* The folder of path (to free): "." for a bare name, "/" for the root's files. */
static char *folder_of(const char *path) {
    const char *slash = strrchr(path, '/');
    return slash ? strndup(path, (size_t)(slash - path) + (slash == path)) : strdup(".");
}

void cli_album_ids_free(char **ids, size_t n_albums) {
    if (!ids) return;
    for (size_t j = 0; j < n_albums; j++) free(ids[j]);
    free(ids);
}

/* Albums by keys, order album by album in input order. */
static int group_by_keys(const char *const *keys, size_t n, size_t *album_of, size_t *order, size_t *n_albums,
                         geoloc_error *err) {
    if (geoloc_album_group(keys, n, album_of, n_albums, err) != GEOLOC_OK) return -1;
    size_t *next = calloc(*n_albums + 1, sizeof *next);
    if (!next) return -1;
    for (size_t i = 0; i < n; i++) next[album_of[i] + 1]++;
    for (size_t j = 0; j < *n_albums; j++) next[j + 1] += next[j];
    for (size_t i = 0; i < n; i++) order[next[album_of[i]]++] = i;
    free(next);
    return 0;
}

int cli_album_by_group(const char *cmd, const cli_album_by *by, size_t n, const char *const *paths,
                       const char *const *column_keys, const int64_t *seconds, const unsigned char *has_time,
                       size_t *album_of, size_t *order, size_t *n_albums, char ***ids) {
    *ids = NULL;
    *n_albums = 0;
    char **folders = calloc(n ? n : 1, sizeof *folders);
    const char **keys = calloc(n ? n : 1, sizeof *keys);
    geoloc_error err = {0};
    int failed = !folders || !keys;
    int want_folders = by->kind == CLI_ALBUM_FOLDER || (by->kind == CLI_ALBUM_TIME && by->time_folder);
    for (size_t i = 0; !failed && i < n; i++) {
        if (want_folders) failed = !(folders[i] = folder_of(paths[i]));
        keys[i] = by->kind == CLI_ALBUM_COLUMN ? column_keys[i] : folders[i];
    }
    size_t untimed = 0;
    if (!failed && by->kind == CLI_ALBUM_TIME)
        failed = geoloc_album_group_time(seconds, has_time, want_folders ? keys : NULL, n, by->hours, album_of,
                                         order, n_albums, &untimed, &err) != GEOLOC_OK;
    else if (!failed)
        failed = group_by_keys(keys, n, album_of, order, n_albums, &err) != 0;
    if (!failed && untimed)
        fprintf(stderr, "%s: %zu photo%s without a capture time: %s\n", cmd, untimed, untimed == 1 ? "" : "s",
                by->time_folder ? "albums by folder" : "each an album of its own");
    if (!failed) failed = !(*ids = calloc(*n_albums ? *n_albums : 1, sizeof **ids));
    size_t timed_albums = 0;
    for (size_t k = 0; !failed && k < n; k++) { /* each album named after its first photo in order */
        size_t i = order[k], j = album_of[i];
        if ((*ids)[j]) continue;
        char name[32];
        if (by->kind == CLI_ALBUM_TIME && has_time[i]) snprintf(name, sizeof name, "time-%zu", ++timed_albums);
        const char *id = by->kind == CLI_ALBUM_TIME && has_time[i] ? name : keys[i] ? keys[i] : file_name(paths[i]);
        failed = !((*ids)[j] = strdup(id));
    }
    if (failed) fprintf(stderr, "%s: %s\n", cmd, err.message[0] ? err.message : "out of memory");
    for (size_t i = 0; folders && i < n; i++) free(folders[i]);
    free(folders);
    free(keys);
    if (failed) {
        cli_album_ids_free(*ids, *n_albums);
        *ids = NULL;
    }
    return failed ? -1 : 0;
}
