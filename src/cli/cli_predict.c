/* geoloc predict: where photos were taken, from their pixels alone. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli_photos.h"
#include "cli/cli_util.h"
#include "cli/commands.h"
#include "geoloc/distance.h"
#include "geoloc/io.h"

#define CMD "geoloc predict"

static const char USAGE[] =
    "usage: geoloc predict [--model FILE] [--format text|csv|json] [--top K]\n"
    "                      [--crops three|five|center] [--partition NAME|hierarchical]\n"
    "                      [--distribution] [--batch N] IMAGE|FOLDER...\n"
    "\n"
    "Predicts where each photo was taken from its pixels: the photo's crops go\n"
    "through the model, their probabilities over the S2 cells are averaged, and\n"
    "the answer is the most probable cell's mean training-photo location\n"
    "(Müller-Budack et al., ECCV 2018). Folders are walked (.jpg, .jpeg, .png,\n"
    ".webp; sorted by path). The photo's own EXIF GPS position is never used to\n"
    "predict; when it has one it is printed beside the prediction with the\n"
    "distance between them.\n"
    "\n"
    "options:\n"
    "  --model FILE     the model (default: $GEOLOC_MODEL, else geoloc-default.safetensors\n"
    "                   in $GEOLOC_DATA_DIR, <bin>/../share/geoloc or <bin>/../models)\n"
    "  --format F       text (default: one line per photo), csv (a header, one row per\n"
    "                   photo) or json (one document: {\"model\", ..., \"predictions\": [...]})\n"
    "  --top K          cells reported per photo (default 5, at most 64)\n"
    "  --crops C        three squares along the longer side (default, the paper's),\n"
    "                   five (corners and center) or center\n"
    "  --partition P    answer with one partition (its name or number) instead of the\n"
    "                   hierarchical combination of all of them (default)\n"
    "  --distribution   also write the whole distribution over the answering\n"
    "                   partition's cells (csv: a column p_<cell> per cell; json: an\n"
    "                   array); not with --format text\n"
    "  --batch N        photos per network call (default 8)\n"
    "  -h, --help       show this help\n"
    "\n"
    "text: FILE: LAT, LON  cell TOKEN (level L) p=P  top: TOKEN P, ...  scene: NAME P\n"
    "      EXIF GPS: LAT, LON, D km from the prediction\n"
    "csv:  file,lat,lon,cell,level,prob,partition,scene,scene_prob,exif_lat,exif_lon,\n"
    "      exif_km, then top<r>_cell,top<r>_lat,top<r>_lon,top<r>_prob for r = 2..K\n"
    "\n"
    "Photos that cannot be read are reported on stderr (json: an \"error\" entry)\n"
    "and skipped; a summary line on stderr counts them (and gives images/s for\n"
    "folders). Exit status: 0 when at least one photo was predicted, 1 when none\n"
    "could be (or the model cannot be loaded), 2 on a usage error.\n";

enum { FMT_TEXT, FMT_CSV, FMT_JSON };

typedef struct out_ctx {
    int format, top, distribution;
    const geoloc_model *m;
    size_t answer;  /* the answering partition */
    size_t predicted, failed, written;
} out_ctx;

static void token_of(geoloc_cell cell, char *out) { geoloc_s2_to_token(cell, out); }

static void print_text(out_ctx *o, const cli_photo_result *r) {
    const geoloc_prediction *p = r->pred;
    char tok[GEOLOC_S2_TOKEN_SIZE];
    token_of(p->top[0].cell, tok);
    printf("%s: %.6f, %.6f  cell %s (level %d) p=%.4f", r->path, p->lat, p->lon, tok,
           geoloc_s2_level(p->top[0].cell), (double)p->top[0].prob);
    for (int k = 1; k < p->n_top; k++) {
        token_of(p->top[k].cell, tok);
        printf("%s%s %.4f", k == 1 ? "  top: " : ", ", tok, (double)p->top[k].prob);
    }
    if (p->scene >= 0) printf("  scene: %s %.2f", o->m->scene_names[p->scene], (double)p->scene_prob);
    if (r->meta->has_gps)
        printf("  EXIF GPS: %.6f, %.6f, %.1f km from the prediction", r->meta->lat, r->meta->lng,
               geoloc_haversine_km(r->meta->lat, r->meta->lng, p->lat, p->lon));
    putchar('\n');
}

static void print_csv_header(const out_ctx *o) {
    printf("file,lat,lon,cell,level,prob,partition,scene,scene_prob,exif_lat,exif_lon,exif_km");
    for (int k = 2; k <= o->top; k++) printf(",top%d_cell,top%d_lat,top%d_lon,top%d_prob", k, k, k, k);
    if (o->distribution) {
        const geoloc_partition *p = o->m->partitions[o->answer];
        char tok[GEOLOC_S2_TOKEN_SIZE];
        for (size_t k = 0; k < p->n; k++) {
            token_of(p->cell[k], tok);
            printf(",p_%s", tok);
        }
    }
    putchar('\n');
}

static void print_csv(out_ctx *o, const cli_photo_result *r) {
    const geoloc_prediction *p = r->pred;
    char tok[GEOLOC_S2_TOKEN_SIZE];
    geoloc_csv_write_field(stdout, r->path);
    token_of(p->top[0].cell, tok);
    printf(",%.6f,%.6f,%s,%d,%.6g,", p->lat, p->lon, tok, geoloc_s2_level(p->top[0].cell), (double)p->top[0].prob);
    geoloc_csv_write_field(stdout, o->m->partition_names[p->partition]);
    putchar(',');
    if (p->scene >= 0) {
        geoloc_csv_write_field(stdout, o->m->scene_names[p->scene]);
        printf(",%.4f", (double)p->scene_prob);
    } else {
        putchar(',');
    }
    if (r->meta->has_gps)
        printf(",%.6f,%.6f,%.3f", r->meta->lat, r->meta->lng,
               geoloc_haversine_km(r->meta->lat, r->meta->lng, p->lat, p->lon));
    else
        printf(",,,");
    for (int k = 1; k < o->top; k++) {
        if (k >= p->n_top) {
            printf(",,,,");
            continue;
        }
        token_of(p->top[k].cell, tok);
        printf(",%s,%.6f,%.6f,%.6g", tok, p->top[k].lat, p->top[k].lon, (double)p->top[k].prob);
    }
    size_t n = o->m->partitions[p->partition]->n;
    for (size_t k = 0; r->distribution && k < n; k++) printf(",%.6g", (double)r->distribution[k]);
    putchar('\n');
}

static void print_json(out_ctx *o, const cli_photo_result *r) {
    printf("%s\n  {\"file\": ", o->written ? "," : "");
    cli_json_string(stdout, r->path);
    if (!r->pred) {
        printf(", \"error\": ");
        cli_json_string(stdout, r->error);
        putchar('}');
        return;
    }
    const geoloc_prediction *p = r->pred;
    char tok[GEOLOC_S2_TOKEN_SIZE];
    token_of(p->top[0].cell, tok);
    printf(", \"lat\": %.6f, \"lon\": %.6f, \"cell\": \"%s\", \"level\": %d, \"prob\": %.6g, \"partition\": ",
           p->lat, p->lon, tok, geoloc_s2_level(p->top[0].cell), (double)p->top[0].prob);
    cli_json_string(stdout, o->m->partition_names[p->partition]);
    printf(", \"top\": [");
    for (int k = 0; k < p->n_top; k++) {
        token_of(p->top[k].cell, tok);
        printf("%s{\"cell\": \"%s\", \"level\": %d, \"class\": %d, \"lat\": %.6f, \"lon\": %.6f, \"prob\": %.6g}",
               k ? ", " : "", tok, geoloc_s2_level(p->top[k].cell), p->top[k].cls, p->top[k].lat, p->top[k].lon,
               (double)p->top[k].prob);
    }
    printf("], \"scene\": ");
    if (p->scene >= 0) {
        cli_json_string(stdout, o->m->scene_names[p->scene]);
        printf(", \"scene_prob\": %.4f", (double)p->scene_prob);
    } else {
        printf("null, \"scene_prob\": null");
    }
    if (r->meta->has_gps)
        printf(", \"exif\": {\"lat\": %.6f, \"lon\": %.6f, \"distance_km\": %.3f}", r->meta->lat, r->meta->lng,
               geoloc_haversine_km(r->meta->lat, r->meta->lng, p->lat, p->lon));
    else
        printf(", \"exif\": null");
    if (r->distribution) {
        size_t n = o->m->partitions[p->partition]->n;
        printf(", \"distribution\": [");
        for (size_t k = 0; k < n; k++) printf("%s%.6g", k ? ", " : "", (double)r->distribution[k]);
        putchar(']');
    }
    putchar('}');
}

static void on_result(void *ctx, const cli_photo_result *r) {
    out_ctx *o = ctx;
    if (r->pred) o->predicted++;
    else {
        o->failed++;
        fprintf(stderr, CMD ": %s (skipped)\n", r->error);
    }
    if (o->format == FMT_JSON) print_json(o, r);
    else if (r->pred && o->format == FMT_CSV) print_csv(o, r);
    else if (r->pred) print_text(o, r);
    o->written++;
}

/* Parses the options into the arguments; 0, or the exit code of a usage error / --help. */
typedef struct args {
    const char *model, *partition;
    int format, distribution, help;
    geoloc_predict_options opt;
    cli_photo_list photos;
} args;

static int parse_args(int argc, char **argv, args *a) {
    a->opt = geoloc_predict_options_default();
    int options_done = 0;
    for (int k = 1; k < argc; k++) {
        const char *s = argv[k], *v;
        long n;
        if (options_done || s[0] != '-' || !s[1]) {
            if (cli_photo_list_add(CMD, &a->photos, s) != 0) return 1;
        } else if (!strcmp(s, "--")) {
            options_done = 1;
        } else if (cli_is_help(s)) {
            a->help = 1;
            return 0;
        } else if (!strcmp(s, "--distribution")) {
            a->distribution = 1;
        } else if (cli_is_prediction_option(s) || !strcmp(s, "--format") || !strcmp(s, "--top")) {
            if (!(v = cli_option_value(CMD, argc, argv, &k))) return 2;
            if (cli_is_prediction_option(s)) {
                if (cli_set_prediction_option(CMD, s, v, &a->model, &a->partition, &a->opt) != 0) return 2;
            } else if (!strcmp(s, "--format")) {
                a->format = !strcmp(v, "text") ? FMT_TEXT : !strcmp(v, "csv") ? FMT_CSV : !strcmp(v, "json") ? FMT_JSON : -1;
                if (a->format < 0) {
                    fprintf(stderr, CMD ": --format %s: expected text, csv or json\n", v);
                    return 2;
                }
            } else {
                if (cli_parse_int(CMD, s, v, &n) != 0) return 2;
                if (n < 1 || n > GEOLOC_MODEL_MAX_TOP) {
                    fprintf(stderr, CMD ": --top %ld: expected 1 to %d\n", n, GEOLOC_MODEL_MAX_TOP);
                    return 2;
                }
                a->opt.top_k = (int)n;
            }
        } else {
            fprintf(stderr, CMD ": unknown option %s\n%s", s, USAGE);
            return 2;
        }
    }
    if (a->distribution && a->format == FMT_TEXT) {
        fprintf(stderr, CMD ": --distribution needs --format csv or json\n");
        return 2;
    }
    return 0;
}

int cli_predict(int argc, char **argv) {
    args a = {0};
    int rc = parse_args(argc, argv, &a);
    if (rc != 0 || a.help) {
        if (a.help) fputs(USAGE, stdout);
        cli_photo_list_free(&a.photos);
        return rc;
    }
    if (argc < 2 || (a.photos.n == 0 && a.photos.folders == 0)) {
        fprintf(stderr, CMD ": no photos given\n%s", USAGE);
        cli_photo_list_free(&a.photos);
        return 2;
    }
    if (a.photos.n == 0) {
        fprintf(stderr, CMD ": no photos to predict\n");
        cli_photo_list_free(&a.photos);
        return 1;
    }
    cli_runner c;
    if ((rc = cli_runner_open(CMD, a.model, a.partition, &a.opt, a.photos.n, &c)) != 0) {
        cli_runner_close(&c);
        cli_photo_list_free(&a.photos);
        return rc;
    }
    out_ctx o = {a.format, a.opt.top_k, a.distribution, c.model,
                 c.opt.partition < 0 ? c.model->n_partitions - 1 : (size_t)c.opt.partition, 0, 0, 0};
    if (a.format == FMT_CSV) print_csv_header(&o);
    if (a.format == FMT_JSON) {
        printf("{\"model\": ");
        cli_json_string(stdout, c.path);
        printf(", \"partition\": ");
        cli_json_string(stdout, c.opt.partition < 0 ? "hierarchical" : c.model->partition_names[c.opt.partition]);
        printf(", \"crops\": \"%s\", \"predictions\": [", cli_crops_name(c.opt.crops));
    }
    double t0 = cli_now_seconds();
    long failed = cli_predict_files(CMD, &c, (const char *const *)a.photos.paths, a.photos.n, a.distribution,
                                    on_result, &o);
    double seconds = cli_now_seconds() - t0;
    if (a.format == FMT_JSON) printf("\n], \"predicted\": %zu, \"skipped\": %zu}\n", o.predicted, o.failed);
    if (failed >= 0 && (o.failed || a.photos.folders || a.photos.n > 1))
        fprintf(stderr, CMD ": %zu photo%s predicted, %zu skipped (unreadable); %.1f images/s (model loaded in "
                "%.2f s)\n", o.predicted, o.predicted == 1 ? "" : "s", o.failed,
                seconds > 0 ? (double)o.predicted / seconds : 0.0, c.load_seconds);
    cli_runner_close(&c);
    cli_photo_list_free(&a.photos);
    if (fflush(stdout) != 0 || ferror(stdout)) {
        fprintf(stderr, CMD ": cannot write the output\n");
        return 1;
    }
    return failed < 0 || o.predicted == 0 ? 1 : 0;
}
