/* Lists of photo files from paths and folders: folders walked recursively in
 * sorted order, hidden entries left out, what cannot be taken reported. */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/error.h"
#include "geoloc/array.h"
#include "geoloc/dataset.h"

#define MAX_DEPTH 64 /* folders below the one given */

int geoloc_is_photo_name(const char *name) {
    const char *dot = strrchr(name, '.');
    if (!dot) return 0;
    char ext[8];
    size_t n = strlen(dot + 1);
    if (n == 0 || n >= sizeof ext) return 0;
    for (size_t i = 0; i < n; i++) ext[i] = (char)tolower((unsigned char)dot[1 + i]);
    ext[n] = '\0';
    static const char *const PHOTO_EXTENSIONS[] = {"jpg", "jpeg", "png", "webp", "heic", "heif", "hif", NULL};
    for (const char *const *e = PHOTO_EXTENSIONS; *e; e++)
        if (!strcmp(ext, *e)) return 1;
    return 0;
}

static int compare_strings(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* A walk in progress: the list it adds to and where it reports. */
typedef struct walker {
    geoloc_photo_paths *list;
    geoloc_walk_report_fn report;
    void *ctx;
    geoloc_error *err;
} walker;

static geoloc_status push(walker *w, geoloc_photo_paths *l, const char *path) {
    if (geoloc_array_grow((void **)&l->paths, &l->cap, l->n + 1, sizeof *l->paths) == 0 &&
        (l->paths[l->n] = strdup(path)) != NULL) {
        l->n++;
        return GEOLOC_OK;
    }
    return error_set(w->err, GEOLOC_E_NOMEM, "out of memory listing photos");
}

/* Reports an entry left out and counts it. */
static void skip(walker *w, const char *path, const char *why, int errnum) {
    if (w->report) w->report(w->ctx, path, why, errnum);
    w->list->skipped++;
}

/* Adds the photos under dir, sorted by name at every level. */
static geoloc_status walk(walker *w, const char *dir, int depth) {
    DIR *d = opendir(dir);
    if (!d) {
        skip(w, dir, "cannot open the folder", errno);
        return GEOLOC_OK;
    }
    geoloc_photo_paths names = {0};
    struct dirent *e;
    geoloc_status s = GEOLOC_OK;
    while (s == GEOLOC_OK && (e = readdir(d)))
        if (e->d_name[0] != '.') s = push(w, &names, e->d_name);
    closedir(d);
    if (names.n) qsort(names.paths, names.n, sizeof *names.paths, compare_strings);
    size_t len = strlen(dir);
    const char *sep = len && dir[len - 1] == '/' ? "" : "/";
    for (size_t k = 0; k < names.n && s == GEOLOC_OK; k++) {
        char *path = malloc(len + strlen(names.paths[k]) + 2);
        if (!path) {
            s = error_set(w->err, GEOLOC_E_NOMEM, "out of memory listing photos");
            break;
        }
        sprintf(path, "%s%s%s", dir, sep, names.paths[k]);
        int photo = geoloc_is_photo_name(names.paths[k]);
        struct stat ls, st;
        if (lstat(path, &ls) != 0) skip(w, path, "cannot inspect it", errno);
        else if (S_ISDIR(ls.st_mode) && depth < MAX_DEPTH) s = walk(w, path, depth + 1);
        else if (S_ISDIR(ls.st_mode)) skip(w, path, "folders nested too deep", 0);
        else if (stat(path, &st) != 0) skip(w, path, "cannot follow the link", errno);
        else if (S_ISDIR(st.st_mode)) skip(w, path, "a link to a folder (not followed)", 0);
        else if (photo && S_ISREG(st.st_mode)) s = push(w, w->list, path);
        else if (photo) skip(w, path, "not a regular file", 0);
        free(path);
    }
    geoloc_photo_paths_free(&names);
    return s;
}

geoloc_status geoloc_photo_paths_add(geoloc_photo_paths *l, const char *path, geoloc_walk_report_fn report,
                                     void *ctx, geoloc_error *err) {
    walker w = {l, report, ctx, err};
    struct stat st;
    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
        l->folders++;
        return walk(&w, path, 0);
    }
    return push(&w, l, path); /* a missing file is for its reader to report */
}

void geoloc_photo_paths_free(geoloc_photo_paths *l) {
    for (size_t k = 0; k < l->n; k++) free(l->paths[k]);
    free(l->paths);
    memset(l, 0, sizeof *l);
}
