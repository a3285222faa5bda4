/* geoloc predict: where photos were taken, from their pixels alone. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli_album_by.h"
#include "cli/cli_dataset.h"
#include "cli/cli_dist.h"
#include "cli/cli_options.h"
#include "cli/cli_photos.h"
#include "cli/cli_predict_album.h"
#include "cli/cli_predict_map.h"
#include "cli/cli_progress.h"
#include "cli/cli_retrieval.h"
#include "cli/cli_util.h"
#include "cli/commands.h"
#include "geoloc/album.h"
#include "geoloc/array.h"
#include "geoloc/dist.h"
#include "geoloc/io.h"
#include "geoloc/distance.h"

#define CMD "geoloc predict"

enum { FMT_TEXT, FMT_CSV, FMT_JSON, FMT_GEOJSON };


typedef struct out_ctx {
    int format, top, distribution, journal;  /* journal: flush every row (--out with csv) */
    const geoloc_model *m;
    size_t answer;     /* the answering partition */
    FILE *out;
    geoloc_json json;
    cli_progress progress;
    size_t done;
    cli_maps maps;     /* --map, --map-dir */
    const cli_runner *runner; /* its place file names the answers' places */
    uint32_t min_population; /* the city named: the nearest of at least this many inhabitants */
    double min_prob;   /* geojson: cells below are left out */
    int map_failed;    /* a map or a photo's features could not be written */
    int write_errno;   /* the output could not be written (0: fine) */
    int albums;        /* --album / --album-by: answers are albums' */
    const geoloc_album_info *album; /* the album of the answer being written */
    cli_retrieval *retrieval; /* --answer knn|hybrid (NULL: class) */
} out_ctx;

static void token_of(geoloc_cell cell, char *out) { geoloc_s2_to_token(cell, out); }

static void print_text(out_ctx *o, const geoloc_photo_answer *a) {
    const geoloc_prediction *p = a->pred;
    char tok[GEOLOC_S2_TOKEN_SIZE], place[512] = "";
    token_of(p->top[0].cell, tok);
    int unknown = p->calibrated && p->unknown;
    if (a->place && geoloc_place_name(a->place, place, sizeof place - 2) > 0) strcat(place, "  ");
    fprintf(o->out, "%s: %s%s%.6f, %.6f  cell %s (level %d) p=%.4f%s", a->name, unknown ? "unknown (best guess: " : "",
            place, p->lat, p->lon, tok, geoloc_s2_level(p->top[0].cell), (double)p->top[0].prob, unknown ? ")" : "");
    if (p->calibrated)
        fprintf(o->out, "  radius 50%%: %.0f km, 90%%: %.0f km", p->radius_km[0], p->radius_km[1]);
    for (int k = 1; k < p->n_top; k++) {
        token_of(p->top[k].cell, tok);
        fprintf(o->out, "%s%s (%.6f, %.6f) %.4f", k == 1 ? "  top: " : ", ", tok, p->top[k].lat, p->top[k].lon,
                (double)p->top[k].prob);
    }
    for (int l = 0, first = 1; l < GEOLOC_SCENE_LEVELS; l++)
        if (p->scene[l] >= 0) {
            if (!first) fprintf(o->out, "; %s:", geoloc_scene_level_name(l));
            fprintf(o->out, "%s %s %.2f", first ? "  scene:" : "", geoloc_model_scene_name(o->m, l, p->scene[l]),
                    (double)p->scene_prob[l]);
            first = 0;
        }
    if (o->album)
        fprintf(o->out, "  album: %s (%zu photo%s, %s; the photo alone: %.6f, %.6f p=%.4f)", o->album->id,
                o->album->size, o->album->size == 1 ? "" : "s", o->album->method_name,
                o->album->photo->lat, o->album->photo->lon, (double)o->album->photo->top[0].prob);
    if (a->meta->has_gps)
        fprintf(o->out, "  EXIF GPS: %.6f, %.6f, %.1f km from the prediction", a->meta->lat, a->meta->lng,
                geoloc_haversine_km(a->meta->lat, a->meta->lng, p->lat, p->lon));
    fputc('\n', o->out);
}

static void print_csv_header(const out_ctx *o, FILE *out) {
    fprintf(out, "file,lat,lon,cell,level,prob,partition,scene,scene_prob,exif_lat,exif_lon,exif_km,"
            "country_code,country,city,city_km");
    for (int k = 2; k <= o->top; k++) fprintf(out, ",top%d_cell,top%d_lat,top%d_lon,top%d_prob", k, k, k, k);
    if (o->distribution) {
        const geoloc_partition *p = o->m->partitions[o->answer];
        char tok[GEOLOC_S2_TOKEN_SIZE];
        for (size_t k = 0; k < p->n; k++) {
            token_of(p->cell[k], tok);
            fprintf(out, ",p_%s", tok);
        }
    }
    if (o->albums) fputs(",album,album_size,album_method,photo_lat,photo_lon,photo_prob", out);
    fputc('\n', out);
}

static void print_csv(out_ctx *o, const geoloc_photo_answer *a) {
    const geoloc_prediction *p = a->pred;
    FILE *out = o->out;
    char tok[GEOLOC_S2_TOKEN_SIZE];
    geoloc_csv_write_field(out, a->name);
    token_of(p->top[0].cell, tok);
    fprintf(out, ",%.6f,%.6f,%s,%d,%.6g,", p->lat, p->lon, tok, geoloc_s2_level(p->top[0].cell),
            (double)p->top[0].prob);
    geoloc_csv_write_field(out, o->m->partition_names[p->partition]);
    fputc(',', out);
    int level = 0; /* the coarsest level the model has */
    while (level + 1 < GEOLOC_SCENE_LEVELS && p->scene[level] < 0) level++;
    if (p->scene[level] >= 0) {
        geoloc_csv_write_field(out, geoloc_model_scene_name(o->m, level, p->scene[level]));
        fprintf(out, ",%.4f", (double)p->scene_prob[level]);
    } else {
        fputc(',', out);
    }
    if (a->meta->has_gps)
        fprintf(out, ",%.6f,%.6f,%.3f", a->meta->lat, a->meta->lng,
                geoloc_haversine_km(a->meta->lat, a->meta->lng, p->lat, p->lon));
    else
        fputs(",,,", out);
    const geoloc_place *pl = a->place;
    fprintf(out, ",%s,", pl ? pl->country_code : "");
    geoloc_csv_write_field(out, pl ? pl->country : "");
    fputc(',', out);
    geoloc_csv_write_field(out, pl ? pl->city : "");
    if (pl && pl->city[0]) fprintf(out, ",%.1f", pl->city_km);
    else fputc(',', out);
    for (int k = 1; k < o->top; k++) {
        if (k >= p->n_top) {
            fputs(",,,,", out);
            continue;
        }
        token_of(p->top[k].cell, tok);
        fprintf(out, ",%s,%.6f,%.6f,%.6g", tok, p->top[k].lat, p->top[k].lon, (double)p->top[k].prob);
    }
    size_t n = o->m->partitions[p->partition]->n;
    for (size_t k = 0; a->distribution && k < n; k++) fprintf(out, ",%.6g", (double)a->distribution[k]);
    if (o->album) {
        fputc(',', out);
        geoloc_csv_write_field(out, o->album->id);
        fprintf(out, ",%zu,%s,%.6f,%.6f,%.6g", o->album->size, o->album->method_name,
                o->album->photo->lat, o->album->photo->lon, (double)o->album->photo->top[0].prob);
    }
    fputc('\n', out);
}

/* Writes one answer (album: its album, or NULL) to the out_ctx ctx; 1 (stop)
 * when the output cannot be written (a cli_album_write_fn). */
static int write_answer(void *ctx, const geoloc_photo_answer *a, geoloc_album_info *album) {
    out_ctx *o = ctx;
    if (!a->pred) {
        cli_progress_clear(&o->progress);
        fprintf(stderr, CMD ": %s (skipped)\n", a->error);
    }
    for (int k = 0; a->pred && k < a->n_warnings && k < GEOLOC_IMAGE_MAX_WARNINGS; k++)
        if (a->warnings[k][0]) { /* damaged but decoded: answered, and said so */
            cli_progress_clear(&o->progress);
            fprintf(stderr, CMD ": %s: warning: %s (answered from what could be decoded)\n", a->name, a->warnings[k]);
        }
    geoloc_place place;
    geoloc_photo_answer drawn = *a; /* with its place; the distribution, asked for by maps, */
    if (a->pred) drawn.place = cli_runner_place(o->runner, a->pred->lat, a->pred->lon, o->min_population, &place);
    geoloc_photo_answer shown = drawn; /* printed only when asked for */
    if (!o->distribution) shown.distribution = NULL;
    geoloc_place photo_place;
    if (album && a->pred)
        album->photo_place = cli_runner_place(o->runner, album->photo->lat, album->photo->lon, o->min_population,
                                              &photo_place);
    o->album = a->pred ? album : NULL;
    if (o->format == FMT_JSON) geoloc_album_answer_write_json(&o->json, o->m, &shown, o->album);
    else if (o->format == FMT_GEOJSON && cli_geojson_write(CMD, &o->json, o->m, &drawn, o->min_prob) != 0)
        o->map_failed = 1;
    else if (a->pred && o->format == FMT_CSV) print_csv(o, &shown);
    else if (a->pred && o->format == FMT_TEXT) print_text(o, &shown);
    if (cli_maps_write(CMD, &o->maps, o->m, &drawn) != 0) o->map_failed = 1;
    if ((o->journal && fflush(o->out) != 0) || ferror(o->out)) {
        o->write_errno = errno ? errno : EIO;
        return 1;
    }
    if (!o->albums) cli_progress_update(&o->progress, ++o->done); /* albums: counted as predicted */
    return 0;
}

/* Writes each answer as it comes. */
static int on_answer(void *ctx, const geoloc_photo_answer *a) {
    out_ctx *o = ctx;
    geoloc_photo_answer b; /* --answer knn|hybrid: moved by the photo's neighbours */
    return cli_retrieval_apply(CMD, o->retrieval, a, NULL, &b) != 0 || write_answer(o, &b, NULL);
}

typedef struct args {
    cli_prediction_args pred;
    const char *out;
    int format, distribution, resume;
    long top, min_population;
    double min_prob;
    cli_map_args maps;
    geoloc_photo_paths photos;
    int album, album_method;      /* --album; --album-method: a geoloc_album_method or CLI_ALBUM_METHOD_LSTM */
    const char *album_by, *meta;  /* --album-by folder|column:NAME, --meta CSV */
    const char *album_lstm;       /* --album-lstm FILE */
    int answer;                   /* --answer: a geoloc_answer_kind */
    const char *index;            /* --index FILE */
    long k;                       /* --k K */
} args;

static const char *const FORMATS[] = {"text", "csv", "json", "geojson", NULL};
static const char *const ALBUM_METHODS[] = {"mean", "logsum", "prior", "lstm", NULL}; /* cli_predict_album.h's values */

static const cli_option OPTIONS[] = {
    CLI_PREDICTION_OPTIONS(args, pred),
    CLI_ISN_OPTION(args, pred, cli_isn_choices, ""),
    CLI_OPTION("format", 0, CLI_ENUM, args, format, NULL,
               "text: one line per photo; csv: a header, one row per\n"
               "photo; json: one document {\"schema\": 1, \"model\", ...,\n"
               "\"predictions\": [...]} (docs/answer-schema.md); geojson:\n"
               "one RFC 7946 FeatureCollection of every photo's answer\n"
               "(Point), radii and cells (Polygons, most probable first),\n"
               "each with a \"photo\" and a \"kind\" property",
               .choices = FORMATS),
    CLI_OPTION("top", 0, CLI_INT, args, top, "K", "cells reported per photo", .min = 1, .max = GEOLOC_MODEL_MAX_TOP),
    CLI_OPTION("distribution", 0, CLI_FLAG, args, distribution, NULL,
               "also write the whole distribution over the answering\n"
               "partition's cells (csv: a column p_<cell> per cell; json:\n"
               "a list of {\"cell\": TOKEN, \"p\": P}); not with --format text"),
    CLI_OPTION("min-population", 0, CLI_INT, args, min_population, "N",
               "the place names the nearest city of at least N\ninhabitants (default 15000)", .min = 0,
               .max = 4e9),
    CLI_OPTION("min-prob", 0, CLI_DOUBLE, args, min_prob, "P",
               "geojson: leave out the cells less probable than P", .min = 0, .max = 1),
    CLI_OPTION("map", 0, CLI_STRING, args, maps.map, "OUT.png",
               "draw the photo's probability map (one photo): borders,\n"
               "cells shaded on a log scale, the answer, its thumbnail"),
    CLI_OPTION("map-dir", 0, CLI_STRING, args, maps.map_dir, "DIR",
               "draw each photo's map as DIR/STEM.map.png (created when\n"
               "missing; STEM-2.map.png, ... when photos share a name)"),
    CLI_OPTION("map-extent", 0, CLI_STRING, args, maps.extent, "E",
               "what the maps show: auto (where the probability is,\n"
               "default), world, or SOUTH,WEST,NORTH,EAST in degrees"),
    CLI_OPTION("out", 0, CLI_STRING, args, out, "FILE",
               "write the output to FILE (whole or not at all: it appears\n"
               "when the run ends) instead of standard output; csv keeps\n"
               "the rows done so far in FILE.partial while it runs"),
    CLI_OPTION("resume", 0, CLI_FLAG, args, resume, NULL,
               "with --out FILE and --format csv: keep the rows of an\n"
               "interrupted run (FILE.partial, else FILE), predict only the\n"
               "photos they lack; the result is that of one uninterrupted run"),
    CLI_OPTION("album", 0, CLI_FLAG, args, album, NULL,
               "the photos given are one album: each is answered with the\n"
               "album's fused answer (its own answer beside it)"),
    CLI_OPTION("album-by", 0, CLI_STRING, args, album_by, "HOW",
               "albums of the photos of one folder (folder), or of one\n"
               "value of a --meta column (column:NAME, e.g. column:AUTHOR;\n"
               "photos matched by file name to IMG_ID; a photo not listed\n"
               "or with an empty value is an album of its own), or of EXIF\n"
               "capture times (time:HOURS: split where the gap exceeds\n"
               "HOURS; photos without a time alone, or ,folder: by folder)"),
    CLI_OPTION("meta", 0, CLI_STRING, args, meta, "CSV", "the manifest of --album-by column:NAME"),
    CLI_OPTION("album-method", 0, CLI_ENUM, args, album_method, NULL,
               "how an album's photos are fused, at every partition: mean\n"
               "(the average of their distributions) or logsum (their\n"
               "normalised geometric mean, probabilities floored at 1e-6);\n"
               "prior: each photo's distribution times the average of its\n"
               "album's others; lstm: each photo by the album LSTM of\n"
               "--album-lstm reading its album in order (time order with\n"
               "time:, else as given)",
               .choices = ALBUM_METHODS),
    CLI_OPTION("album-lstm", 0, CLI_STRING, args, album_lstm, "FILE",
               "the album LSTM (geoloc album train) of --album-method lstm"),
    CLI_RETRIEVAL_OPTIONS(args, answer, index, k),
    CLI_END};

static const cli_spec SPEC = {
    CMD, "IMAGE|FOLDER...", 1, -1,
    "Predicts where each photo was taken from its pixels: the photo's crops go\n"
    "through the model, their probabilities over the S2 cells are averaged, and\n"
    "the answer is the most probable cell's mean training-photo location\n"
    "(Müller-Budack et al., ECCV 2018). Folders are walked (.jpg, .jpeg, .png,\n"
    ".webp, .heic, .heif, .hif; sorted by path). The photo's own EXIF GPS position\n"
    "is never used to predict; when it has one it is printed beside the\n"
    "prediction with the distance between them.\n",
    OPTIONS,
    "text: FILE: PLACE  LAT, LON  cell TOKEN (level L) p=P  top: TOKEN (LAT, LON) P, ...\n"
    "      scene: NAME P (the coarsest scene level; then \"; S16: NAME P\" ...)\n"
    "      EXIF GPS: LAT, LON, D km from the prediction\n"
    "      albums: the album's answer, then  album: ID (N photos, METHOD; the photo\n"
    "      alone: LAT, LON p=P)\n"
    "csv:  file,lat,lon,cell,level,prob,partition,scene,scene_prob,exif_lat,exif_lon,\n"
    "      exif_km,country_code,country,city,city_km, then top<r>_cell,top<r>_lat,top<r>_lon,top<r>_prob for r = 2..K\n"
    "      (albums: last album,album_size,album_method,photo_lat,photo_lon,photo_prob)\n"
    "\n"
    "Photos that cannot be read, folders that cannot be opened and entries of\n"
    "folders that are not photo files are named on stderr (json: an \"error\" entry\n"
    "for photos) and skipped; a summary line on stderr counts them (and gives\n"
    "photos/s). On a terminal, folders show progress with an ETA. Exit status: 0\n"
    "when every photo was answered, 3 when some were skipped, 1 when none could be\n"
    "(or the model cannot be loaded, or the output cannot be written), 2 on a usage\n"
    "error.\n"};

/* Parses the options and lists the photos; CLI_RUN, or the exit code (usage
 * error, --help, out of memory). */
static int parse_args(int argc, char **argv, args *a) {
    a->pred = cli_prediction_args_default();
    a->top = geoloc_predict_options_default().top_k;
    a->min_population = 15000;
    int n;
    int rc = cli_parse(&SPEC, a, argc, argv, &n);
    if (rc != CLI_RUN) return rc;
    if (a->distribution && (a->format == FMT_TEXT || a->format == FMT_GEOJSON))
        return cli_usage_error(&SPEC, "--distribution needs --format csv or json");
    if (a->min_prob > 0 && a->format != FMT_GEOJSON) return cli_usage_error(&SPEC, "--min-prob needs --format geojson");
    if (a->maps.extent && !a->maps.map && !a->maps.map_dir)
        return cli_usage_error(&SPEC, "--map-extent needs --map or --map-dir");
    if (a->resume && (a->maps.map || a->maps.map_dir))
        return cli_usage_error(&SPEC, "--resume does not draw maps: run --map-dir separately");
    if (a->resume && (!a->out || !strcmp(a->out, "-") || a->format != FMT_CSV))
        return cli_usage_error(&SPEC, "--resume needs --out FILE and --format csv");
    if (a->album && a->album_by) return cli_usage_error(&SPEC, "--album and --album-by: give one of them");
    int by_column = a->album_by && !strncmp(a->album_by, "column:", 7);
    cli_album_by by;
    if (a->album_by && (cli_album_by_parse(a->album_by, &by) != 0 || by.kind == CLI_ALBUM_NONE))
        return cli_usage_error(&SPEC, "--album-by %s: folder or column:NAME (or time:HOURS[,folder])", a->album_by);
    if (by_column != (a->meta != NULL))
        return cli_usage_error(&SPEC, by_column ? "--album-by column:NAME needs --meta CSV"
                                                : "--meta needs --album-by column:NAME");
    if (a->resume && (a->album || a->album_by)) return cli_usage_error(&SPEC, "--resume does not answer albums");
    if (a->answer && (a->album || a->album_by)) return cli_usage_error(&SPEC, "--answer knn|hybrid: not with albums");
    if ((a->album_method == CLI_ALBUM_METHOD_LSTM) != (a->album_lstm != NULL))
        return cli_usage_error(&SPEC, a->album_lstm ? "--album-lstm needs --album-method lstm"
                                                    : "--album-method lstm needs --album-lstm FILE");
    if (a->album_lstm && (a->distribution || a->format == FMT_GEOJSON || a->maps.map || a->maps.map_dir))
        return cli_usage_error(&SPEC, "--album-method lstm gives no distribution: not with --distribution, "
                               "--format geojson, --map or --map-dir");
    for (int k = 1; k <= n; k++)
        if (cli_photo_paths_add(CMD, &a->photos, argv[k]) != 0) return CLI_EXIT_FAILURE;
    if (!a->out) return CLI_RUN;
    /* the output is none of the photos, nor the model */
    cli_file *inputs = malloc((a->photos.n + 3) * sizeof *inputs);
    if (!inputs) {
        fprintf(stderr, CMD ": out of memory\n");
        return CLI_EXIT_FAILURE;
    }
    for (size_t k = 0; k < a->photos.n; k++) inputs[k] = (cli_file){"photo", a->photos.paths[k]};
    inputs[a->photos.n] = (cli_file){"--model", a->pred.model};
    inputs[a->photos.n + 1] = (cli_file){"--meta", a->meta};
    inputs[a->photos.n + 2] = (cli_file){"--album-lstm", a->album_lstm};
    cli_file outs[2] = {{"--out", a->out}, {"--map", a->maps.map}};
    rc = cli_check_outputs(CMD, inputs, (int)a->photos.n + 3, outs, 2);
    free(inputs);
    return rc != 0 ? rc : CLI_RUN;
}

/* ---- --out and --resume ---------------------------------------------------------- */

/* Where the output goes: standard output, or FILE written atomically (csv: via
 * the journal FILE.partial, flushed at every row). */
typedef struct dest {
    geoloc_atomic_file file;
    int opened;
    char *journal_path;
    FILE *journal;
    size_t resumed;        /* rows kept from an interrupted run */
    char **done;           /* their photos, sorted */
} dest;

/* The rows of an interrupted run (FILE.partial, else FILE): kept when the
 * header is the one this run writes; their photos go to d->done. 0, or 2 after
 * a message (another header: other options). Writes the kept bytes to out. */
static int resume_rows(dest *d, const char *out_path, const char *header, FILE *out) {
    const char *from = access(d->journal_path, F_OK) == 0 ? d->journal_path : out_path;
    geoloc_error err = {0};
    geoloc_csv_reader *r = access(from, F_OK) == 0 ? geoloc_csv_open(from, &err) : NULL;
    if (!r) return 0; /* nothing to resume */
    size_t size, hlen = strlen(header), kept = 0;
    const char *data = geoloc_csv_data(r, &size);
    if (size < hlen || memcmp(data, header, hlen) != 0) {
        fprintf(stderr, CMD ": --resume: %s was written with other options (its header differs); "
                "run without --resume to start again\n", from);
        geoloc_csv_close(r);
        return 2;
    }
    geoloc_csv_field f[1];
    size_t n, cap = 0;
    int rc = geoloc_csv_next_row(r, f, 1, &n, &err); /* the header */
    while (rc == 1 && (rc = geoloc_csv_next_row(r, f, 1, &n, &err)) == 1) {
        size_t end = geoloc_csv_offset(r);
        if (end == 0 || data[end - 1] != '\n' || f[0].len == 0) break; /* a row cut short */
        char *name = strndup(f[0].p, f[0].len);
        if (!name || geoloc_array_grow((void **)&d->done, &cap, d->resumed + 1, sizeof *d->done)) {
            free(name);
            break;
        }
        d->done[d->resumed++] = name;
        kept = end;
    }
    fwrite(data, 1, kept ? kept : hlen, out);
    geoloc_csv_close(r);
    if (d->resumed) qsort(d->done, d->resumed, sizeof *d->done, cli_compare_strings);
    return 0;
}

/* Opens the destination; 0, or the exit code after a message. */
static int dest_open(dest *d, const args *a, const char *header, FILE **out) {
    memset(d, 0, sizeof *d);
    *out = stdout;
    if (!a->out) return 0;
    geoloc_error err = {0};
    if (geoloc_atomic_file_open(&d->file, a->out, &err) != GEOLOC_OK) {
        fprintf(stderr, CMD ": %s\n", err.message);
        return 1;
    }
    d->opened = 1;
    *out = d->file.fp;
    if (a->format != FMT_CSV || !strcmp(a->out, "-")) return 0;
    size_t len = strlen(a->out) + sizeof ".partial";
    if (!(d->journal_path = malloc(len))) return 1;
    snprintf(d->journal_path, len, "%s.partial", a->out);
    char *kept = NULL;
    size_t kept_size = 0;
    FILE *mem = a->resume ? open_memstream(&kept, &kept_size) : NULL;
    int rc = mem ? resume_rows(d, a->out, header, mem) : 0;
    if (mem) fclose(mem);
    if (rc == 0 && !(d->journal = fopen(d->journal_path, "w"))) {
        fprintf(stderr, CMD ": cannot write %s: %s\n", d->journal_path, strerror(errno));
        rc = 1;
    }
    if (rc == 0 && kept_size) fwrite(kept, 1, kept_size, d->journal);
    else if (rc == 0) fputs(header, d->journal);
    free(kept);
    *out = d->journal;
    return rc;
}

/* 1 when a photo already has its row. */
static int dest_has(const dest *d, const char *path) {
    return d->resumed && bsearch(&path, d->done, d->resumed, sizeof *d->done, cli_compare_strings);
}

/* Commits (ok) or abandons the destination; 0, or 1 after a message. */
static int dest_close(dest *d, int ok) {
    int rc = 0;
    geoloc_error err = {0};
    if (d->journal) { /* the journal becomes the file */
        ok = ok && fflush(d->journal) == 0 && !ferror(d->journal);
        rewind(d->journal);
        FILE *in = ok ? fopen(d->journal_path, "r") : NULL;
        char buf[65536];
        size_t got;
        while (in && (got = fread(buf, 1, sizeof buf, in)) > 0) fwrite(buf, 1, got, d->file.fp);
        ok = in && !ferror(in);
        if (in) fclose(in);
        fclose(d->journal);
    }
    if (d->opened && ok && geoloc_atomic_file_commit(&d->file, &err) != GEOLOC_OK) {
        fprintf(stderr, CMD ": %s\n", err.message);
        rc = 1;
    } else if (d->opened && !ok) {
        geoloc_atomic_file_abort(&d->file);
        rc = 1;
    }
    if (d->journal && rc == 0) unlink(d->journal_path); /* kept after a failure, for --resume */
    free(d->journal_path);
    for (size_t k = 0; k < d->resumed; k++) free(d->done[k]);
    free(d->done);
    return rc;
}

/* ---- the command ----------------------------------------------------------------- */

static void json_begin(out_ctx *o, const cli_runner *c) {
    geoloc_json *w = &o->json;
    geoloc_json_init(w, o->out, 2);
    geoloc_json_object_begin(w);
    geoloc_json_key(w, "schema");
    geoloc_json_int(w, GEOLOC_ANSWER_SCHEMA);
    geoloc_json_key(w, "model");
    geoloc_json_string(w, c->path);
    geoloc_json_key(w, "partition");
    geoloc_json_string(w, c->opt.partition < 0 ? "hierarchical" : c->model->partition_names[c->opt.partition]);
    geoloc_json_key(w, "crops");
    geoloc_json_string(w, cli_crops_name(c->opt.crops));
    geoloc_json_key(w, "precision");
    geoloc_json_string(w, geoloc_precision_name(c->opt.precision));
    geoloc_json_key(w, "predictions");
    geoloc_json_array_begin(w);
}

static int json_end(out_ctx *o, const geoloc_batch_stats *st) {
    geoloc_json *w = &o->json;
    geoloc_json_array_end(w);
    geoloc_json_key(w, "predicted");
    geoloc_json_int(w, (int64_t)st->predicted);
    geoloc_json_key(w, "skipped");
    geoloc_json_int(w, (int64_t)st->failed);
    geoloc_json_object_end(w);
    geoloc_error err = {0};
    if (geoloc_json_finish(w, &err) == GEOLOC_OK) return 0;
    if (err.status != GEOLOC_E_IO) fprintf(stderr, CMD ": %s\n", err.message);
    return -1;
}

static int geojson_end(out_ctx *o) {
    geoloc_geojson_end(&o->json);
    geoloc_error err = {0};
    if (geoloc_json_finish(&o->json, &err) == GEOLOC_OK) return 0;
    if (err.status != GEOLOC_E_IO) fprintf(stderr, CMD ": %s\n", err.message);
    return -1;
}

/* The final line on stderr: photos predicted, kept by --resume, skipped, speed. */
static void print_summary(const geoloc_batch_stats *st, size_t resumed, size_t left_out, double seconds,
                          double load_seconds) {
    char kept[64] = "";
    if (resumed) snprintf(kept, sizeof kept, " (+%zu already in the output)", resumed);
    fprintf(stderr, CMD ": %zu photo%s predicted%s, %zu skipped (%zu unreadable, %zu left out of folders); "
            "%.2f photos/s (model loaded in %.2f s)\n", st->predicted, st->predicted == 1 ? "" : "s", kept,
            st->failed + left_out, st->failed, left_out, seconds > 0 ? (double)st->predicted / seconds : 0.0,
            load_seconds);
}

/* The photos still to predict (all, or those --resume found no row for). */
static char **todo_list(const args *a, const dest *d, size_t *n) {
    char **todo = malloc((a->photos.n ? a->photos.n : 1) * sizeof *todo);
    *n = 0;
    for (size_t k = 0; todo && k < a->photos.n; k++)
        if (!dest_has(d, a->photos.paths[k])) todo[(*n)++] = a->photos.paths[k];
    return todo;
}

/* The manifest of --album-by column:NAME and its rows' keys; 0, or the exit
 * code after a message (1: unreadable, 2: no such column). */
static int read_album_meta(const args *a, geoloc_manifest **meta, const char ***row_keys) {
    *meta = NULL;
    *row_keys = NULL;
    if (!a->meta) return 0;
    if (!(*meta = cli_read_manifest(CMD, a->meta, 0))) return 1;
    geoloc_error err = {0};
    if (!(*row_keys = malloc(((*meta)->n ? (*meta)->n : 1) * sizeof **row_keys))) {
        fprintf(stderr, CMD ": out of memory\n");
        return 1;
    }
    if (geoloc_album_manifest_keys(*meta, a->album_by + 7, *row_keys, &err) != GEOLOC_OK)
        return cli_usage_error(&SPEC, "--album-by %s: %s: %s", a->album_by, a->meta, err.message);
    return 0;
}

/* Releases what cli_predict opened before predicting. */
static void release(args *a, cli_runner *c, cli_maps *maps, cli_retrieval *retrieval, geoloc_album_lstm *lstm,
                    const char **row_keys, geoloc_manifest *meta) {
    cli_retrieval_close(retrieval);
    geoloc_album_lstm_free(lstm);
    cli_runner_close(c);
    cli_maps_free(maps);
    geoloc_photo_paths_free(&a->photos);
    free(row_keys);
    geoloc_manifest_free(meta);
}

int cli_predict(int argc, char **argv) {
    args a = {0};
    int rc = parse_args(argc, argv, &a);
    if (rc != CLI_RUN && rc != CLI_EXIT_FAILURE) { /* --help, usage: the same on every rank */
        geoloc_photo_paths_free(&a.photos);
        return rc;
    }
    /* several ranks split the photos; --resume, albums, maps and --answer knn|hybrid run on rank 0 alone */
    int split = !a.resume && !a.album && !a.album_by && !a.answer && !a.maps.map && !a.maps.map_dir;
    int root = geoloc_dist_rank() == 0;
    if (!split && !root) {
        geoloc_photo_paths_free(&a.photos);
        return 0;
    }
    if (rc == CLI_RUN && a.photos.n == 0) {
        fprintf(stderr, CMD ": no photos to predict%s\n", a.photos.skipped ? " (everything was skipped)" : "");
        rc = CLI_EXIT_FAILURE;
    }
    rc = rc == CLI_RUN ? 0 : CLI_EXIT_FAILURE;
    if (split) rc = cli_dist_same_photos(CMD, rc, (const char *const *)a.photos.paths, rc ? 0 : a.photos.n);
    if (rc != 0) {
        geoloc_photo_paths_free(&a.photos);
        return rc;
    }
    geoloc_manifest *meta;
    const char **row_keys;
    cli_maps maps = {0};
    cli_runner c = {0};
    cli_retrieval *retrieval = NULL;
    geoloc_album_lstm *lstm = NULL;
    if ((rc = read_album_meta(&a, &meta, &row_keys)) == 0 &&
        (rc = cli_maps_prepare(CMD, &a.maps, a.photos.paths, a.photos.n, a.pred.model, &maps)) == 0 &&
        (rc = cli_runner_open(CMD, &a.pred, (int)a.top, a.photos.n, &c)) == 0 &&
        (rc = cli_retrieval_open(CMD, a.answer, a.index, a.k, &c, &retrieval)) == 0)
        rc = cli_predict_album_open_lstm(CMD, a.album_lstm, &c, &lstm);
    if (split) rc = cli_dist_agree(CMD, rc, NULL);
    if (rc != 0) {
        release(&a, &c, &maps, retrieval, lstm, row_keys, meta);
        return rc;
    }
    out_ctx o = {.format = a.format, .top = (int)a.top, .distribution = a.distribution, .m = c.model,
                 .maps = maps, .min_prob = a.min_prob, .runner = &c, .min_population = (uint32_t)a.min_population,
                 .answer = c.opt.partition < 0 ? c.model->n_partitions - 1 : (size_t)c.opt.partition,
                 .albums = a.album || a.album_by, .retrieval = retrieval};
    int want_distribution = a.distribution || a.format == FMT_GEOJSON || o.maps.paths;
    if (!root) { /* rank 0 writes every answer: the others predict their parts */
        geoloc_batch_stats st;
        rc = cli_predict_paths(CMD, &c, (const char *const *)a.photos.paths, a.photos.n, want_distribution, 1,
                               on_answer, &o, &st) != 0;
        release(&a, &c, &o.maps, retrieval, lstm, row_keys, meta);
        return rc;
    }
    char *header = NULL;
    size_t header_size = 0;
    FILE *mem = open_memstream(&header, &header_size);
    if (mem) {
        print_csv_header(&o, mem);
        fclose(mem);
    }
    dest d = {0};
    rc = !header ? 1 : dest_open(&d, &a, header, &o.out);
    o.journal = d.journal != NULL;
    size_t n = 0;
    char **todo = rc == 0 ? todo_list(&a, &d, &n) : NULL;
    geoloc_batch_stats st = {0};
    double seconds = 0;
    int quiet = 0; /* standard output's reader left */
    if (rc == 0 && todo) {
        if (a.format == FMT_CSV && !o.journal) fputs(header, o.out);
        if (a.format == FMT_JSON) json_begin(&o, &c);
        if (a.format == FMT_GEOJSON) {
            geoloc_json_init(&o.json, o.out, 2);
            geoloc_geojson_begin(&o.json);
        }
        if (a.photos.folders) cli_progress_start(&o.progress, "predict", "photos", n);
        double t0 = cli_now_seconds();
        errno = 0;
        cli_predict_album_args albums = {a.album, a.album_by, a.meta, meta, row_keys, a.album_method, lstm,
                                         o.answer, &o.progress, &o.done, write_answer, &o};
        int failed = o.albums ? cli_predict_albums(CMD, &albums, &c, todo, n, &st)
                              : cli_predict_paths(CMD, &c, (const char *const *)todo, n, want_distribution, split,
                                                  on_answer, &o, &st);
        seconds = cli_now_seconds() - t0;
        cli_progress_clear(&o.progress);
        if (!o.write_errno && a.format == FMT_JSON && json_end(&o, &st) != 0) /* valid JSON even after a failure */
            o.write_errno = errno ? errno : EIO;
        if (!o.write_errno && a.format == FMT_GEOJSON && geojson_end(&o) != 0) o.write_errno = errno ? errno : EIO;
        failed = failed || o.map_failed;
        if (!failed && !o.write_errno && (fflush(o.out) != 0 || ferror(o.out))) o.write_errno = errno ? errno : EIO;
        int closed_pipe = o.write_errno == EPIPE && !a.out; /* the reader is gone: nothing to say */
        if (o.write_errno && !closed_pipe)
            fprintf(stderr, CMD ": cannot write the output%s%s: %s\n", a.out ? " to " : "", a.out ? a.out : "",
                    strerror(o.write_errno));
        rc = failed || (o.write_errno && !closed_pipe) ? 1 : 0;
        if (closed_pipe) quiet = 1;
    } else if (rc == 0) {
        fprintf(stderr, CMD ": out of memory\n");
        rc = 1;
    }
    if (a.out && dest_close(&d, rc == 0) != 0 && rc == 0) rc = 1;
    if (rc == 0 && o.maps.paths)
        fprintf(stderr, CMD ": %zu map%s drawn in %.2f s\n", st.predicted, st.predicted == 1 ? "" : "s", o.maps.seconds);
    size_t skipped = a.photos.skipped + st.failed;
    if (quiet) rc = 0;
    else if (rc == 0 && (skipped || a.photos.folders || a.photos.n > 1))
        print_summary(&st, d.resumed, a.photos.skipped, seconds, c.load_seconds);
    if (rc == 0 && !quiet && st.predicted + d.resumed == 0) rc = 1;
    else if (rc == 0 && !quiet && skipped) rc = 3;
    free(todo);
    free(header);
    release(&a, &c, &o.maps, retrieval, lstm, row_keys, meta);
    return rc;
}
