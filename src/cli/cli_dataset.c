/* geoloc dataset: scan a photo folder, split a manifest by photographer,
 * describe a manifest or a pack (pack itself: cli_dataset_pack.c). */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli_dataset.h"
#include "cli/cli_util.h"
#include "cli/commands.h"
#include "geoloc/dataset.h"

/* ---- shared helpers ------------------------------------------------------------ */

static void print_skip(void *ctx, const char *message) {
    size_t *shown = ctx;
    if ((*shown)++ < 10) fprintf(stderr, "skipped: %s\n", message);
}

geoloc_manifest *cli_read_manifest(const char *cmd, const char *path, int skip_invalid) {
    size_t shown = 0;
    geoloc_manifest_options opt = {skip_invalid, print_skip, &shown};
    geoloc_manifest *m;
    geoloc_error err;
    if (geoloc_manifest_read(path, &opt, &m, &err) != GEOLOC_OK) {
        fprintf(stderr, "%s: %s\n", cmd, err.message);
        return NULL;
    }
    if (m->n_skipped)
        fprintf(stderr, "%s: %s: skipped %zu invalid rows%s\n", cmd, path, m->n_skipped,
                m->n_skipped > 10 ? " (first 10 shown)" : "");
    return m;
}

static int progress_shown;

void cli_progress(void *ctx, size_t done, size_t total) {
    if (!isatty(STDERR_FILENO)) return;
    if (total) fprintf(stderr, "\r%s: %zu/%zu", (const char *)ctx, done, total);
    else fprintf(stderr, "\r%s: %zu found", (const char *)ctx, done);
    progress_shown = 1;
}

void cli_progress_end(void) {
    if (progress_shown) fputs("\r\033[K", stderr);
    progress_shown = 0;
}

double cli_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* ---- scan ------------------------------------------------------------------------ */

static const char SCAN_USAGE[] =
    "usage: geoloc dataset scan DIR --out photos.csv [--report skipped.csv] [--threads N]\n"
    "\n"
    "Walks the folder tree DIR (following symbolic links; loops and folders or files\n"
    "reached twice are reported, not followed), reads the EXIF GPS position of every\n"
    "photo (JPEG, PNG, WebP; for JPEGs only the file's head) and writes the photos\n"
    "that have one as a manifest: IMG_ID (path relative to DIR), LAT, LON, sorted by\n"
    "path. Every other file goes to the report with its reason: no_gps, not_image,\n"
    "unreadable, permission_denied, symlink_loop, broken_link, duplicate,\n"
    "not_regular_file. Outputs are written atomically; a summary goes to stderr.\n"
    "\n"
    "options:\n"
    "  --out FILE      the manifest (required)\n"
    "  --report FILE   CSV of skipped files: path,reason,detail\n"
    "  --threads N     reader threads (default: two per core)\n";

static int dataset_scan(int argc, char **argv) {
    const char *cmd = "geoloc dataset scan", *dir = NULL, *out = NULL, *report = NULL;
    long threads = 0;
    for (int k = 1; k < argc; k++) {
        const char *a = argv[k];
        if (cli_is_help(a)) {
            fputs(SCAN_USAGE, stdout);
            return 0;
        } else if (!strcmp(a, "--out") || !strcmp(a, "--report")) {
            const char *v = cli_option_value(cmd, argc, argv, &k);
            if (!v) return 2;
            *(!strcmp(a, "--out") ? &out : &report) = v;
        } else if (!strcmp(a, "--threads")) {
            const char *v = cli_option_value(cmd, argc, argv, &k);
            if (!v || cli_parse_int(cmd, a, v, &threads) != 0) return 2;
        } else if (cli_single_argument(cmd, SCAN_USAGE, "folder", a, &dir) != 0) {
            return 2;
        }
    }
    if (!dir || !out) {
        fprintf(stderr, "%s: DIR and --out are required\n%s", cmd, SCAN_USAGE);
        return 2;
    }
    double t0 = cli_seconds();
    geoloc_scan_options opt = {(int)threads, cli_progress, "scan"};
    geoloc_scan_result *r;
    geoloc_error err;
    geoloc_status st = geoloc_dataset_scan(dir, &opt, &r, &err);
    cli_progress_end();
    if (st != GEOLOC_OK) {
        fprintf(stderr, "%s: %s\n", cmd, err.message);
        return 1;
    }
    int rc = 0;
    if (geoloc_manifest_write(r->photos, out, &err) != GEOLOC_OK ||
        (report && geoloc_scan_write_report(r, report, &err) != GEOLOC_OK)) {
        fprintf(stderr, "%s: %s\n", cmd, err.message);
        rc = 1;
    } else {
        char counts[512] = "";
        size_t used = 0;
        for (int k = 0; k < GEOLOC_SCAN_N_REASONS && used < sizeof counts; k++)
            if (r->count[k])
                used += (size_t)snprintf(counts + used, sizeof counts - used, "%s%zu %s",
                                         used ? ", " : " (", r->count[k],
                                         geoloc_scan_reason_name((geoloc_scan_reason)k));
        fprintf(stderr, "%s: %zu files, %zu photos with GPS, %zu skipped%s%s in %.2f s\n", cmd,
                r->n_files, r->photos->n, r->n_skipped, counts, used ? ")" : "",
                cli_seconds() - t0);
        if (r->photos->n == 0) fprintf(stderr, "%s: warning: no photo in %s has a GPS position\n", cmd, dir);
    }
    geoloc_scan_result_free(r);
    return rc;
}

/* ---- split ------------------------------------------------------------------------ */

static const char SPLIT_USAGE[] =
    "usage: geoloc dataset split MANIFEST --val-fraction F --seed S --out-train T.csv\n"
    "                            --out-val V.csv [--group-column NAME] [--skip-invalid]\n"
    "\n"
    "Splits the photos of MANIFEST into training and validation sets so that no\n"
    "photographer (AUTHOR, or the column given by --group-column) has photos in\n"
    "both; a row with an empty group value is a group of its own. The validation\n"
    "share is as close to F as whole groups allow; the split depends only on the\n"
    "seed and the rows (not their order). Both outputs keep every column.\n"
    "\n"
    "options:\n"
    "  --val-fraction F    share of photos for validation, 0 < F < 1 (default 0.2)\n"
    "  --seed S            non-negative integer (default 0)\n"
    "  --out-train FILE    training manifest (required)\n"
    "  --out-val FILE      validation manifest (required)\n"
    "  --group-column NAME group by this column instead of AUTHOR\n"
    "  --skip-invalid      skip and count bad rows instead of failing\n";

static int dataset_split(int argc, char **argv) {
    const char *cmd = "geoloc dataset split", *input = NULL, *train = NULL, *val = NULL;
    geoloc_split_options opt = {0.2, 0, NULL};
    int skip_invalid = 0;
    for (int k = 1; k < argc; k++) {
        const char *a = argv[k], *v;
        if (cli_is_help(a)) {
            fputs(SPLIT_USAGE, stdout);
            return 0;
        } else if (!strcmp(a, "--skip-invalid")) {
            skip_invalid = 1;
        } else if (!strcmp(a, "--out-train") || !strcmp(a, "--out-val") ||
                   !strcmp(a, "--group-column")) {
            if (!(v = cli_option_value(cmd, argc, argv, &k))) return 2;
            *(!strcmp(a, "--out-train") ? &train : !strcmp(a, "--out-val") ? &val
                                                                          : &opt.group_column) = v;
        } else if (!strcmp(a, "--val-fraction")) {
            if (!(v = cli_option_value(cmd, argc, argv, &k))) return 2;
            char *end;
            opt.val_fraction = strtod(v, &end);
            if (end == v || *end || !(opt.val_fraction > 0 && opt.val_fraction < 1)) {
                fprintf(stderr, "%s: --val-fraction: expected a number in (0, 1), got '%s'\n", cmd, v);
                return 2;
            }
        } else if (!strcmp(a, "--seed")) {
            if (!(v = cli_option_value(cmd, argc, argv, &k))) return 2;
            char *end;
            errno = 0;
            opt.seed = strtoull(v, &end, 10);
            if (errno || end == v || *end || *v == '-') {
                fprintf(stderr, "%s: --seed: expected a non-negative integer, got '%s'\n", cmd, v);
                return 2;
            }
        } else if (cli_single_argument(cmd, SPLIT_USAGE, "manifest", a, &input) != 0) {
            return 2;
        }
    }
    if (!input || !train || !val) {
        fprintf(stderr, "%s: MANIFEST, --out-train and --out-val are required\n%s", cmd,
                SPLIT_USAGE);
        return 2;
    }
    geoloc_manifest *m = cli_read_manifest(cmd, input, skip_invalid);
    if (!m) return 1;
    int rc = 0;
    uint8_t *is_val = malloc(m->n ? m->n : 1);
    size_t *rows = malloc((m->n ? m->n : 1) * sizeof *rows);
    geoloc_split_stats s;
    geoloc_error err;
    if (!is_val || !rows) {
        fprintf(stderr, "%s: out of memory\n", cmd);
        rc = 1;
    } else if (m->n == 0) {
        fprintf(stderr, "%s: %s: no photos\n", cmd, input);
        rc = 1;
    } else if (geoloc_dataset_split(m, &opt, is_val, &s, &err) != GEOLOC_OK) {
        fprintf(stderr, "%s: %s: %s\n", cmd, input, err.message);
        rc = 1;
    } else {
        if (!opt.group_column && !(m->columns & GEOLOC_COL_AUTHOR))
            fprintf(stderr, "%s: warning: %s has no AUTHOR column: every photo is a group of its "
                    "own\n", cmd, input);
        for (int side = 0; side < 2 && rc == 0; side++) {
            size_t n = 0;
            for (size_t k = 0; k < m->n; k++)
                if (is_val[k] == side) rows[n++] = k;
            if (geoloc_manifest_write_rows(m, rows, n, side ? val : train, &err) != GEOLOC_OK) {
                fprintf(stderr, "%s: %s\n", cmd, err.message);
                rc = 1;
            }
        }
        if (rc == 0)
            fprintf(stderr, "%s: train %zu photos (%zu groups), validation %zu photos (%zu groups), "
                    "validation share %.4f (asked %.4f)\n", cmd, s.n_train, s.groups_train,
                    s.n_val, s.groups_val, (double)s.n_val / (double)m->n, opt.val_fraction);
    }
    free(is_val);
    free(rows);
    geoloc_manifest_free(m);
    return rc;
}

/* ---- info --------------------------------------------------------------------------- */

static const char INFO_USAGE[] =
    "usage: geoloc dataset info SHARDS_DIR|MANIFEST [--verify]\n"
    "\n"
    "Describes a pack (a folder with index.bin) or a manifest CSV. --verify reads\n"
    "every photo of a pack and checks its CRC-32C.\n";

static int info_pack(const char *cmd, const char *dir, int verify) {
    geoloc_shard_index *x;
    geoloc_error err;
    if (geoloc_shard_index_open(dir, &x, &err) != GEOLOC_OK) {
        fprintf(stderr, "%s: %s\n", cmd, err.message);
        return 1;
    }
    geoloc_shard_info in;
    geoloc_shard_index_info(x, &in);
    geoloc_shard_index_close(x);
    printf("pack:          %s (format version %u, set id %016" PRIx64 ")\n", dir, in.version,
           in.set_id);
    printf("photos:        %" PRIu64 "\n", in.n_photos);
    printf("shards:        %u, %.1f MiB (%.1f KiB per photo)\n", in.n_shards,
           (double)in.bytes / 1048576.0, in.n_photos ? (double)in.bytes / 1024.0 / (double)in.n_photos : 0);
    if (in.shorter_side < 0) printf("photos stored: original files\n");
    else printf("photos stored: JPEG quality %d, shorter side %d px\n", in.quality, in.shorter_side);
    printf("columns:       IMG_ID,LAT,LON%s%s%s%s\n", in.columns & GEOLOC_COL_AUTHOR ? ",AUTHOR" : "",
           in.columns & GEOLOC_COL_S3 ? ",S3_Label" : "", in.columns & GEOLOC_COL_S16 ? ",S16_Label" : "",
           in.columns & GEOLOC_COL_S365 ? ",S365_Label" : "");
    if (!verify) return 0;
    geoloc_source src;
    if (geoloc_source_shards(dir, 1, &src, &err) != GEOLOC_OK) {
        fprintf(stderr, "%s: %s\n", cmd, err.message);
        return 1;
    }
    size_t bad = 0;
    for (size_t k = 0; k < src.n; k++) {
        const uint8_t *data;
        size_t size;
        const char *name;
        if (src.read(src.ctx, k, &data, &size, &name, &err) != GEOLOC_OK) {
            if (bad++ < 10) fprintf(stderr, "%s: %s\n", cmd, err.message);
        } else if (src.release) {
            src.release(src.ctx, data, size);
        }
    }
    geoloc_source_close(&src);
    printf("verified:      %zu photos, %zu with a bad checksum\n", (size_t)in.n_photos, bad);
    return bad ? 1 : 0;
}

static int info_manifest(const char *cmd, const char *path) {
    geoloc_manifest *m = cli_read_manifest(cmd, path, 0);
    if (!m) return 1;
    printf("manifest:  %s\n", path);
    printf("photos:    %zu\n", m->n);
    printf("columns:   IMG_ID,LAT,LON");
    static const char *const names[] = {"AUTHOR", "S3_Label", "S16_Label", "S365_Label",
                                        "Prob_indoor", "Prob_natural", "Prob_urban"};
    for (int k = 0; k < 7; k++)
        if (m->columns & (1u << k)) printf(",%s", names[k]);
    for (size_t j = 0; j < m->n_extra; j++) printf(",%s", m->extra_name[j]);
    printf("\n");
    if (m->n) {
        double la0 = 90, la1 = -90, lo0 = 180, lo1 = -180;
        const char **authors = malloc(m->n * sizeof *authors);
        size_t n_auth = 0, no_author = 0, distinct = 0;
        for (size_t k = 0; k < m->n; k++) {
            const geoloc_manifest_row *r = &m->row[k];
            la0 = fmin(la0, r->lat), la1 = fmax(la1, r->lat);
            lo0 = fmin(lo0, r->lng), lo1 = fmax(lo1, r->lng);
            if (*r->author && authors) authors[n_auth++] = r->author;
            else if (!*r->author) no_author++;
        }
        printf("latitude:  %.6f .. %.6f\nlongitude: %.6f .. %.6f\n", la0, la1, lo0, lo1);
        if ((m->columns & GEOLOC_COL_AUTHOR) && authors) {
            qsort(authors, n_auth, sizeof *authors, cli_compare_strings);
            for (size_t k = 0; k < n_auth; k++) distinct += k == 0 || strcmp(authors[k], authors[k - 1]);
            printf("authors:   %zu (%zu photos without one)\n", distinct, no_author);
        }
        free(authors);
    }
    geoloc_manifest_free(m);
    return 0;
}

static int dataset_info(int argc, char **argv) {
    const char *cmd = "geoloc dataset info", *target = NULL;
    int verify = 0;
    for (int k = 1; k < argc; k++) {
        if (cli_is_help(argv[k])) {
            fputs(INFO_USAGE, stdout);
            return 0;
        } else if (!strcmp(argv[k], "--verify")) {
            verify = 1;
        } else if (argv[k][0] == '-' && argv[k][1]) {
            fprintf(stderr, "%s: unknown option %s\n%s", cmd, argv[k], INFO_USAGE);
            return 2;
        } else {
            target = argv[k];
        }
    }
    if (!target) {
        fprintf(stderr, "%s: give a pack folder or a manifest\n%s", cmd, INFO_USAGE);
        return 2;
    }
    char index[4200];
    snprintf(index, sizeof index, "%s/index.bin", target);
    if (access(index, F_OK) == 0) return info_pack(cmd, target, verify);
    return info_manifest(cmd, target);
}

/* ---- dispatch ------------------------------------------------------------------------ */

static const char DATASET_USAGE[] =
    "usage: geoloc dataset <scan|split|pack|info> [options]\n"
    "\n"
    "  scan    find the photos with an EXIF GPS position in a folder tree (manifest)\n"
    "  split   train/validation split grouped by photographer\n"
    "  pack    resize and pack a manifest's photos into shards\n"
    "  info    describe a pack or a manifest\n"
    "\n"
    "Run 'geoloc dataset <command> --help' for its options.\n";

int cli_dataset(int argc, char **argv) {
    if (argc < 2) {
        fputs(DATASET_USAGE, stderr);
        return 2;
    }
    if (cli_is_help(argv[1])) {
        fputs(DATASET_USAGE, stdout);
        return 0;
    }
    if (!strcmp(argv[1], "scan")) return dataset_scan(argc - 1, argv + 1);
    if (!strcmp(argv[1], "split")) return dataset_split(argc - 1, argv + 1);
    if (!strcmp(argv[1], "pack")) return cli_dataset_pack(argc - 1, argv + 1);
    if (!strcmp(argv[1], "info")) return dataset_info(argc - 1, argv + 1);
    fprintf(stderr, "geoloc dataset: unknown command '%s'\n%s", argv[1], DATASET_USAGE);
    return 2;
}
