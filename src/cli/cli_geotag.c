/* geoloc geotag: places the photos of a library that have no position, from
 * their albums and the album photos that have one (anchors): a CSV of the
 * answers, and with --write xmp an XMP sidecar beside each placed photo. The
 * work is the library's (geoloc/geotag.h); this file reads the options, the
 * photos and their positions, and writes the results. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli_album_by.h"
#include "cli/cli_options.h"
#include "cli/cli_photos.h"
#include "cli/cli_util.h"
#include "cli/commands.h"
#include "geoloc/exif.h"
#include "geoloc/geotag.h"
#include "geoloc/io.h"

#define CMD "geoloc geotag"

typedef struct args {
    cli_prediction_args pred;
    const char *meta, *images, *album_by, *out, *write;
    int album_method, xmp_full, overwrite_xmp;
    double anchor_scale, anchor_floor, anchor_snap;
} args;

static const char *const ALBUM_METHODS[] = {"mean", "logsum", NULL}; /* geoloc_album_method order */
static const char *const XMP_NAMES[] = {"base", "full", NULL};

static const cli_option OPTIONS[] = {
    CLI_PREDICTION_OPTIONS(args, pred),
    CLI_OPTION("meta", 0, CLI_STRING, args, meta, "CSV",
               "the photos as a manifest (IMG_ID, LAT, LON, ...): rows\n"
               "with an empty LAT and LON are placed, the others anchor\n"
               "their albums (needs --images)"),
    CLI_OPTION("images", 0, CLI_STRING, args, images, "DIR", "the folder of --meta's IMG_IDs"),
    CLI_OPTION("album-by", 0, CLI_STRING, args, album_by, "HOW",
               "albums: folder (default for folders), column:NAME (a --meta\n"
               "column), time:HOURS (capture times, split at gaps over\n"
               "HOURS: EXIF, or --meta's DATETIME), time:HOURS,folder\n"
               "(photos without a time by folder), none (default with\n"
               "--meta: every photo alone)"),
    CLI_OPTION("album-method", 0, CLI_ENUM, args, album_method, NULL,
               "how an album's photos are fused: mean or logsum", .choices = ALBUM_METHODS),
    CLI_OPTION("anchor-scale", 0, CLI_DOUBLE, args, anchor_scale, "KM",
               "an anchor's reach: cells weighed by exp(-d/KM) (default 300)", .min = 1, .max = 20000),
    CLI_OPTION("anchor-floor", 0, CLI_DOUBLE, args, anchor_floor, "W",
               "the weight of cells far from every anchor (default 0.01;\n"
               "larger: the model overrules anchors more easily)", .min = 1e-9, .max = 1e6),
    CLI_OPTION("anchor-snap", 0, CLI_DOUBLE, args, anchor_snap, "KM",
               "an anchored answer within KM of an anchor takes the\n"
               "nearest anchor's position (default 300; 0: never)", .min = 0, .max = 20000),
    CLI_OPTION("out", 0, CLI_STRING, args, out, "FILE",
               "write the CSV to FILE (whole or not at all) instead of\nstandard output"),
    CLI_OPTION("write", 0, CLI_STRING, args, write, "xmp",
               "write an XMP sidecar beside each placed photo (default: a\n"
               "dry run saying what would be written)"),
    CLI_OPTION("xmp-name", 0, CLI_ENUM, args, xmp_full, NULL,
               "sidecar names: base (IMG.xmp, Adobe's) or full (IMG.jpg.xmp,\ndarktable's)",
               .choices = XMP_NAMES),
    CLI_OPTION("overwrite-xmp", 0, CLI_FLAG, args, overwrite_xmp, NULL,
               "replace existing sidecars (default: keep them, say so)"),
    CLI_END};

static const cli_spec SPEC = {
    CMD, "[FOLDER|PHOTO...]", 0, -1,
    "Places the photos of a library that have no position. Photos with an EXIF\n"
    "GPS position (or, with --meta, rows with LAT/LON) are anchors: in their\n"
    "album, cells near them are favoured (a kernel of --anchor-scale around each,\n"
    "times the album's fused model distribution, at every partition). Photos of\n"
    "an album without anchors get the album's fused answer; a photo alone its own.\n"
    "Photos are never modified.\n",
    OPTIONS,
    "csv: id,lat,lon,radius50_km,radius90_km,method,album,album_size,anchors,\n"
    "     fused_lat,fused_lon,photo_lat,photo_lon,snapped\n"
    "     (method: anchor, album or single; radii empty for an uncalibrated model;\n"
    "     snapped 1: the answer is an anchor's position;\n"
    "     fused: the album's answer without anchors; photo: the photo alone)\n"
    "\n"
    "Exit status: 0 when every photo without a position was placed, 3 when some\n"
    "could not be read, 1 on a failure (nothing placed, an output or sidecar that\n"
    "cannot be written), 2 on a usage error.\n"};

/* The photos: their files, names, positions and times. */
typedef struct library {
    size_t n;
    char **paths;                /* the file of each (NULL: an anchor of --meta, no file needed) */
    const char **ids;            /* the name in the CSV: the path, or --meta's IMG_ID */
    const char **column_keys;    /* --album-by column:NAME values */
    unsigned char *is_anchor, *has_time;
    geoloc_anchor *pos;
    int64_t *seconds;
    geoloc_manifest *meta;
    geoloc_photo_paths files;
} library;

static void library_free(library *l) {
    for (size_t i = 0; l->meta && l->paths && i < l->n; i++) free(l->paths[i]);
    if (l->meta) free(l->paths);
    free(l->ids);
    free(l->column_keys);
    free(l->is_anchor);
    free(l->has_time);
    free(l->pos);
    free(l->seconds);
    geoloc_manifest_free(l->meta);
    geoloc_photo_paths_free(&l->files);
}

static int library_alloc(library *l, size_t n) {
    l->n = n;
    size_t k = n ? n : 1;
    l->ids = calloc(k, sizeof *l->ids);
    l->column_keys = calloc(k, sizeof *l->column_keys);
    l->is_anchor = calloc(k, 1);
    l->has_time = calloc(k, 1);
    l->pos = calloc(k, sizeof *l->pos);
    l->seconds = calloc(k, sizeof *l->seconds);
    if (l->ids && l->column_keys && l->is_anchor && l->has_time && l->pos && l->seconds) return 0;
    fprintf(stderr, CMD ": out of memory\n");
    return -1;
}

/* The photos of folders and files: EXIF GPS marks the anchors. */
static int read_folders(char **names, int n_names, library *l) {
    for (int k = 0; k < n_names; k++)
        if (cli_photo_paths_add(CMD, &l->files, names[k]) != 0) return 1;
    if (library_alloc(l, l->files.n) != 0) return 1;
    l->paths = l->files.paths;
    for (size_t i = 0; i < l->n; i++) {
        geoloc_photo_meta m;
        geoloc_error err = {0};
        l->ids[i] = l->paths[i];
        if (geoloc_photo_meta_load(l->paths[i], &m, &err) != GEOLOC_OK) continue; /* named when predicted */
        l->is_anchor[i] = (unsigned char)m.has_gps;
        l->pos[i] = (geoloc_anchor){m.lat, m.lng};
        l->has_time[i] = (unsigned char)m.has_time;
        l->seconds[i] = m.time;
    }
    return 0;
}

/* The photos of --meta: rows with LAT/LON are anchors; the others' files are
 * IMAGES/IMG_ID. 0, or the exit code after a message. */
static int read_manifest(const args *a, const cli_album_by *by, library *l) {
    geoloc_manifest_options mo = {.blank_position = 1};
    geoloc_error err = {0};
    if (geoloc_manifest_read(a->meta, &mo, &l->meta, &err) != GEOLOC_OK) {
        fprintf(stderr, CMD ": %s\n", err.message);
        return 1;
    }
    const geoloc_manifest *m = l->meta;
    if (library_alloc(l, m->n) != 0 || !(l->paths = calloc(m->n ? m->n : 1, sizeof *l->paths))) return 1;
    if (by->kind == CLI_ALBUM_COLUMN && geoloc_album_manifest_keys(m, by->column, l->column_keys, &err) != GEOLOC_OK)
        return cli_usage_error(&SPEC, "--album-by %s: %s: %s", a->album_by, a->meta, err.message);
    if (by->kind == CLI_ALBUM_TIME && geoloc_album_manifest_times(m, l->seconds, l->has_time, &err) < 0)
        return cli_usage_error(&SPEC, "--album-by %s: %s: %s", a->album_by, a->meta, err.message);
    for (size_t i = 0; i < m->n; i++) {
        l->ids[i] = m->row[i].id;
        l->is_anchor[i] = !isnan(m->row[i].lat);
        l->pos[i] = (geoloc_anchor){m->row[i].lat, m->row[i].lng};
        size_t size = strlen(a->images) + strlen(m->row[i].id) + 2;
        if (!(l->paths[i] = malloc(size))) {
            fprintf(stderr, CMD ": out of memory\n");
            return 1;
        }
        snprintf(l->paths[i], size, "%s/%s", a->images, m->row[i].id);
    }
    return 0;
}

/* Predicting the photos to place: their probabilities kept by photo. */
typedef struct predict_ctx {
    const cli_runner *c;
    geoloc_album_probs *probs;
    const size_t *photo;         /* the photo of each prediction input */
    unsigned char *predicted;
    size_t unreadable;
    int failed;
} predict_ctx;

static int on_photo(void *ctx, const geoloc_photo_answer *a) {
    predict_ctx *p = ctx;
    if (!a->pred) {
        fprintf(stderr, CMD ": %s: %s\n", a->name, a->error ? a->error : "unreadable");
        p->unreadable++;
        return 0;
    }
    const float *geo[GEOLOC_MODEL_MAX_PARTITIONS], *scene;
    int crops = geoloc_predictor_probs(p->c->pred, a->run_index, geo, &scene);
    geoloc_error err = {0};
    size_t i = p->photo[a->index];
    if (geoloc_album_probs_set(p->probs, i, geo, scene, (size_t)crops, &err) != GEOLOC_OK) {
        fprintf(stderr, CMD ": %s: %s\n", a->name, err.message);
        return p->failed = 1;
    }
    p->predicted[i] = 1;
    return 0;
}

/* A number, or nothing when not positive (an uncalibrated radius). */
static void write_radius(FILE *fp, double km) {
    if (km > 0) fprintf(fp, "%.1f", km);
}

/* The CSV of the placed photos into a->out (atomically) or standard output. */
static int write_csv(const args *a, const library *l, const geoloc_geotag_result *r, const size_t *album_of,
                     char *const *album_ids) {
    geoloc_atomic_file f;
    geoloc_error err = {0};
    if (geoloc_atomic_file_open(&f, a->out ? a->out : "-", &err) != GEOLOC_OK) {
        fprintf(stderr, CMD ": %s\n", err.message);
        return 1;
    }
    fputs("id,lat,lon,radius50_km,radius90_km,method,album,album_size,anchors,fused_lat,fused_lon,photo_lat,"
          "photo_lon,snapped\n",
          f.fp);
    for (size_t i = 0; i < l->n; i++) {
        if (!r[i].placed) continue;
        const geoloc_prediction *p = &r[i].answer;
        geoloc_csv_write_field(f.fp, l->ids[i]);
        fprintf(f.fp, ",%.6f,%.6f,", p->lat, p->lon);
        write_radius(f.fp, p->calibrated ? p->radius_km[0] : 0);
        fputc(',', f.fp);
        write_radius(f.fp, p->calibrated ? p->radius_km[1] : 0);
        fprintf(f.fp, ",%s,", geoloc_geotag_method_name(r[i].method));
        geoloc_csv_write_field(f.fp, album_ids[album_of[i]]);
        fprintf(f.fp, ",%zu,%zu,%.6f,%.6f,%.6f,%.6f,%d\n", r[i].album_size, r[i].n_anchors, r[i].fused.lat,
                r[i].fused.lon, r[i].photo.lat, r[i].photo.lon, r[i].snapped);
    }
    if (geoloc_atomic_file_commit(&f, &err) != GEOLOC_OK) {
        fprintf(stderr, CMD ": %s\n", err.message);
        return 1;
    }
    return 0;
}

/* The sidecars: every target checked first (an unwritable folder stops
 * everything before a file is written), existing ones kept unless
 * --overwrite-xmp; without --write only what would be done. 0 or 1. */
static int write_sidecars(const args *a, const library *l, const geoloc_geotag_result *r) {
    size_t todo = 0, kept = 0, written = 0;
    unsigned char *write = calloc(l->n ? l->n : 1, 1); /* the sidecars to write */
    char path[4096], folder[4096];
    int rc = !write;
    if (rc) fprintf(stderr, CMD ": out of memory\n");
    for (size_t i = 0; !rc && i < l->n; i++) {
        if (!r[i].placed) continue;
        if (geoloc_xmp_sidecar_path(l->paths[i], a->xmp_full, path, sizeof path) != 0) {
            fprintf(stderr, CMD ": %s: no sidecar name for it\n", l->paths[i]);
            rc = 1;
            break;
        }
        if (access(path, F_OK) == 0 && !a->overwrite_xmp) {
            fprintf(stderr, CMD ": %s exists: kept (--overwrite-xmp replaces it)\n", path);
            kept++;
            continue;
        }
        const char *slash = strrchr(path, '/');
        snprintf(folder, sizeof folder, "%.*s", slash ? (int)(slash - path) + (slash == path) : 1, slash ? path : ".");
        if (a->write && access(folder, W_OK) != 0) {
            fprintf(stderr, CMD ": cannot write %s: %s (no sidecar written)\n", path, strerror(errno));
            rc = 1;
        }
        write[i] = 1;
        todo++;
    }
    for (size_t i = 0; !rc && a->write && i < l->n; i++) {
        if (!write[i]) continue;
        const geoloc_prediction *p = &r[i].answer;
        geoloc_xmp_gps g = {p->lat, p->lon, {p->calibrated ? p->radius_km[0] : 0, p->calibrated ? p->radius_km[1] : 0},
                            geoloc_geotag_method_name(r[i].method)};
        geoloc_error err = {0};
        geoloc_xmp_sidecar_path(l->paths[i], a->xmp_full, path, sizeof path);
        if (geoloc_xmp_write(path, &g, a->overwrite_xmp, &err) != GEOLOC_OK) {
            fprintf(stderr, CMD ": %s (%zu sidecar%s written before it)\n", err.message, written,
                    written == 1 ? "" : "s");
            rc = 1;
        } else {
            written++;
        }
    }
    if (!rc && a->write)
        fprintf(stderr, CMD ": %zu XMP sidecar%s written%s\n", written, written == 1 ? "" : "s",
                kept ? ", existing ones kept" : "");
    else if (!rc)
        fprintf(stderr, CMD ": dry run: %zu XMP sidecar%s would be written (%s naming%s); --write xmp writes them\n",
                todo, todo == 1 ? "" : "s", a->xmp_full ? "IMG.jpg.xmp" : "IMG.xmp",
                kept ? ", existing ones kept" : "");
    free(write);
    return rc;
}

/* Predicts the photos to place and places them; 0, 1 or 3. */
static int geotag(const args *a, const cli_album_by *by, library *l) {
    size_t n = l->n, n_albums = 0, n_todo = 0, *album_of = malloc((n ? n : 1) * sizeof *album_of);
    size_t *order = malloc((n ? n : 1) * sizeof *order), *photo = malloc((n ? n : 1) * sizeof *photo);
    const char **todo = malloc((n ? n : 1) * sizeof *todo);
    unsigned char *predicted = calloc(n ? n : 1, 1);
    geoloc_geotag_result *res = calloc(n ? n : 1, sizeof *res);
    char **album_ids = NULL;
    cli_runner c = {0};
    if (!album_of || !order || !photo || !todo || !predicted || !res) {
        fprintf(stderr, CMD ": out of memory\n");
        return 1;
    }
    int rc = cli_album_by_group(CMD, by, n, (const char *const *)l->paths, l->column_keys, l->seconds, l->has_time,
                                album_of, order, &n_albums, &album_ids) != 0;
    for (size_t i = 0; i < n; i++)
        if (!l->is_anchor[i]) {
            photo[n_todo] = i;
            todo[n_todo++] = l->paths[i];
        }
    if (!rc && n_todo == 0) {
        fprintf(stderr, CMD ": every photo has a position: nothing to place\n");
        rc = 1;
    }
    if (!rc) rc = cli_runner_open(CMD, &a->pred, 1, n_todo, &c);
    predict_ctx p = {&c, NULL, photo, predicted, 0, 0};
    geoloc_error err = {0};
    geoloc_batch_stats st = {0};
    double t0 = cli_now_seconds();
    if (!rc && geoloc_album_probs_create(c.model, n, &p.probs, &err) != GEOLOC_OK) {
        fprintf(stderr, CMD ": %s\n", err.message);
        rc = 1;
    }
    if (!rc) rc = cli_predict_paths(CMD, &c, todo, n_todo, 0, 0, on_photo, &p, &st) != 0 || p.failed;
    if (!rc && p.unreadable == n_todo) {
        fprintf(stderr, CMD ": none of the %zu photos to place could be read\n", n_todo);
        rc = 1;
    }
    geoloc_geotag_options o = {(geoloc_album_method)a->album_method, {a->anchor_scale, a->anchor_floor}, c.opt,
                               a->anchor_snap};
    if (!rc && geoloc_geotag_place(p.probs, predicted, l->is_anchor, l->pos, album_of, n, n_albums, &o, res, &err) !=
                   GEOLOC_OK) {
        fprintf(stderr, CMD ": %s\n", err.message);
        rc = 1;
    }
    if (!rc) rc = write_csv(a, l, res, album_of, album_ids);
    if (!rc) rc = write_sidecars(a, l, res);
    if (!rc) {
        size_t how[3] = {0}, anchors = 0;
        for (size_t i = 0; i < n; i++) {
            if (res[i].placed) how[res[i].method]++;
            anchors += l->is_anchor[i];
        }
        fprintf(stderr,
                CMD ": %zu photos in %zu albums: %zu anchors, %zu placed (anchor %zu, album %zu, single %zu), %zu "
                    "unreadable; %.1f s\n",
                n, n_albums, anchors, how[0] + how[1] + how[2], how[0], how[1], how[2], p.unreadable,
                cli_now_seconds() - t0);
        if (p.unreadable) rc = CLI_EXIT_SKIPPED;
    }
    geoloc_album_probs_free(p.probs);
    cli_runner_close(&c);
    cli_album_ids_free(album_ids, n_albums);
    free(album_of);
    free(order);
    free(photo);
    free(todo);
    free(predicted);
    free(res);
    return rc;
}

int cli_geotag(int argc, char **argv) {
    args a = {.pred = cli_prediction_args_default(), .anchor_scale = GEOLOC_ANCHOR_SCALE_KM,
              .anchor_floor = GEOLOC_ANCHOR_FLOOR, .anchor_snap = GEOLOC_GEOTAG_SNAP_KM};
    int n, rc = cli_parse(&SPEC, &a, argc, argv, &n);
    if (rc != CLI_RUN) return rc;
    if (!a.meta != !a.images) return cli_usage_error(&SPEC, "--meta and --images go together");
    if (a.meta && n > 0) return cli_usage_error(&SPEC, "--meta takes no folders (its photos are in --images)");
    if (!a.meta && n == 0) return cli_usage_error(&SPEC, "give folders or photos, or --meta CSV --images DIR");
    if (a.write && strcmp(a.write, "xmp")) return cli_usage_error(&SPEC, "--write %s: only xmp", a.write);
    cli_album_by by;
    const char *how = a.album_by ? a.album_by : a.meta ? "none" : "folder";
    if (cli_album_by_parse(how, &by) != 0)
        return cli_usage_error(&SPEC, "--album-by %s: folder, column:NAME, time:HOURS[,folder] or none", how);
    if (by.kind == CLI_ALBUM_COLUMN && !a.meta) return cli_usage_error(&SPEC, "--album-by column:NAME needs --meta");
    if (a.meta && !a.album_by) fprintf(stderr, CMD ": no --album-by: every photo alone, anchors unused\n");
    library l = {0};
    rc = a.meta ? read_manifest(&a, &by, &l) : read_folders(argv + 1, n, &l);
    if (rc == 0) rc = geotag(&a, &by, &l);
    library_free(&l);
    return rc;
}
