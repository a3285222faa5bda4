/* geoloc dataset pack: resize a manifest's photos and pack them into shards. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli_dataset.h"
#include "cli/cli_util.h"
#include "cli/commands.h"
#include "geoloc/dataset.h"
#include "geoloc/io.h"

static const char PACK_USAGE[] =
    "usage: geoloc dataset pack MANIFEST --images DIR --out-dir SHARDS [options]\n"
    "\n"
    "Decodes every photo of MANIFEST (DIR/IMG_ID), resizes it so its shorter side\n"
    "is --shorter-side pixels (never enlarging), re-encodes it as JPEG and packs\n"
    "the results into SHARDS/shard-00000.bin, ... of about --shard-mb MiB each,\n"
    "with SHARDS/index.bin holding each photo's place, IMG_ID, LAT, LON, AUTHOR and\n"
    "scene labels. Photos that cannot be read are skipped and reported. Files are\n"
    "written under temporary names and renamed at the end, the index last.\n"
    "\n"
    "options:\n"
    "  --images DIR         folder the IMG_IDs are relative to (required)\n"
    "  --out-dir SHARDS     output folder, created if missing (required)\n"
    "  --shorter-side N     shorter side of the stored photos (default 320;\n"
    "                       0 = store the original files unchanged)\n"
    "  --quality Q          JPEG quality 1-100 (default 90)\n"
    "  --shard-mb N         shard size in MiB (default 256)\n"
    "  --threads N          encoder threads (default: one per core)\n"
    "  --report FILE        CSV of skipped photos: IMG_ID,reason\n"
    "  --skip-invalid       skip bad manifest rows instead of failing\n";

typedef struct {
    geoloc_atomic_file *report; /* or NULL */
    size_t shown;
} skip_ctx;

static void on_skip(void *ctx, const char *id, const char *message) {
    skip_ctx *s = ctx;
    if (s->shown++ < 10) {
        cli_progress_end();
        fprintf(stderr, "skipped %s: %s\n", id, message);
    }
    if (s->report) {
        geoloc_csv_write_field(s->report->fp, id);
        fputc(',', s->report->fp);
        geoloc_csv_write_field(s->report->fp, message);
        fputc('\n', s->report->fp);
    }
}

static void on_progress(void *ctx, size_t done, size_t total) {
    (void)ctx;
    cli_progress("pack", done, total);
}

int cli_dataset_pack(int argc, char **argv) {
    const char *cmd = "geoloc dataset pack", *input = NULL, *images = NULL, *out_dir = NULL,
               *report = NULL;
    long side = 320, quality = 90, shard_mb = 256, threads = 0;
    int skip_invalid = 0;
    for (int k = 1; k < argc; k++) {
        const char *a = argv[k], *v;
        if (cli_is_help(a)) {
            fputs(PACK_USAGE, stdout);
            return 0;
        } else if (!strcmp(a, "--skip-invalid")) {
            skip_invalid = 1;
        } else if (!strcmp(a, "--images") || !strcmp(a, "--out-dir") || !strcmp(a, "--report")) {
            if (!(v = cli_option_value(cmd, argc, argv, &k))) return 2;
            *(!strcmp(a, "--images") ? &images : !strcmp(a, "--out-dir") ? &out_dir : &report) = v;
        } else if (!strcmp(a, "--shorter-side") || !strcmp(a, "--quality") ||
                   !strcmp(a, "--shard-mb") || !strcmp(a, "--threads")) {
            if (!(v = cli_option_value(cmd, argc, argv, &k))) return 2;
            long *dst = !strcmp(a, "--shorter-side") ? &side
                        : !strcmp(a, "--quality")    ? &quality
                        : !strcmp(a, "--shard-mb")   ? &shard_mb
                                                     : &threads;
            if (cli_parse_int(cmd, a, v, dst) != 0) return 2;
        } else if (cli_single_argument(cmd, PACK_USAGE, "manifest", a, &input) != 0) {
            return 2;
        }
    }
    if (!input || !images || !out_dir) {
        fprintf(stderr, "%s: MANIFEST, --images and --out-dir are required\n%s", cmd, PACK_USAGE);
        return 2;
    }
    if (side > 65535 || quality < 1 || quality > 100 || shard_mb < 1 || shard_mb > 1 << 20 ||
        threads > 64) {
        fprintf(stderr, "%s: --shorter-side 0-65535, --quality 1-100, --shard-mb 1-1048576 and "
                "--threads 0-64 expected\n", cmd);
        return 2;
    }
    geoloc_manifest *m = cli_read_manifest(cmd, input, skip_invalid);
    if (!m) return 1;
    if (m->n == 0) {
        fprintf(stderr, "%s: %s: no photos\n", cmd, input);
        geoloc_manifest_free(m);
        return 1;
    }
    if (cli_mkdir_p(cmd, out_dir) != 0) {
        geoloc_manifest_free(m);
        return 1;
    }
    geoloc_error err;
    geoloc_atomic_file rep;
    skip_ctx sc = {NULL, 0};
    if (report) {
        if (geoloc_atomic_file_open(&rep, report, &err) != GEOLOC_OK) {
            fprintf(stderr, "%s: %s\n", cmd, err.message);
            geoloc_manifest_free(m);
            return 1;
        }
        fputs("IMG_ID,reason\n", rep.fp);
        sc.report = &rep;
    }
    geoloc_pack_options opt = {side == 0 ? -1 : (int)side, (int)quality,
                               (uint64_t)shard_mb << 20, (int)threads, on_skip, on_progress, &sc};
    geoloc_pack_stats s;
    double t0 = cli_seconds();
    geoloc_status st = geoloc_dataset_pack(m, images, out_dir, &opt, &s, &err);
    cli_progress_end();
    int rc = 0;
    if (st != GEOLOC_OK) {
        fprintf(stderr, "%s: %s\n", cmd, err.message);
        if (report) geoloc_atomic_file_abort(&rep);
        rc = 1;
    } else {
        if (report && geoloc_atomic_file_commit(&rep, &err) != GEOLOC_OK) {
            fprintf(stderr, "%s: %s\n", cmd, err.message);
            rc = 1;
        }
        fprintf(stderr, "%s: packed %zu photos into %u shards (%.1f MiB), skipped %zu, in %.2f s\n",
                cmd, s.n_packed, s.n_shards, (double)s.bytes / 1048576.0, s.n_skipped,
                cli_seconds() - t0);
    }
    geoloc_manifest_free(m);
    return rc;
}
