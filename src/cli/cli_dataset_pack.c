/* geoloc dataset pack: resize a manifest's photos and pack them into shards. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli_dataset.h"
#include "cli/cli_progress.h"
#include "cli/cli_util.h"
#include "cli/commands.h"
#include "geoloc/dataset.h"
#include "geoloc/io.h"

typedef struct {
    const char *images, *out_dir, *report;
    long side, quality, shard_mb, threads;
    int skip_invalid;
} pack_args;

static const cli_option PACK_OPTIONS[] = {
    CLI_OPTION("images", 0, CLI_STRING, pack_args, images, "DIR", "folder the IMG_IDs are relative to",
               .required = 1),
    CLI_OPTION("out-dir", 'o', CLI_STRING, pack_args, out_dir, "SHARDS", "output folder, created if missing",
               .required = 1),
    CLI_OPTION("shorter-side", 0, CLI_INT, pack_args, side, "N",
               "shorter side of the stored photos\n(0: store the original files unchanged)", .min = 0,
               .max = 65535),
    CLI_OPTION("quality", 0, CLI_INT, pack_args, quality, "Q", "JPEG quality", .min = 1, .max = 100),
    CLI_OPTION("shard-mb", 0, CLI_INT, pack_args, shard_mb, "N", "shard size in MiB", .min = 1, .max = 1 << 20),
    CLI_OPTION("threads", 'j', CLI_INT, pack_args, threads, "N", "encoder threads (0: one per core)", .min = 0,
               .max = 64),
    CLI_OPTION("report", 0, CLI_STRING, pack_args, report, "FILE", "CSV of skipped photos: IMG_ID,reason"),
    CLI_OPTION("skip-invalid", 0, CLI_FLAG, pack_args, skip_invalid, NULL,
               "skip bad manifest rows instead of failing"),
    CLI_END};

static const cli_spec PACK_SPEC = {
    "geoloc dataset pack", "MANIFEST", 1, 1,
    "Decodes every photo of MANIFEST (DIR/IMG_ID), resizes it so its shorter side\n"
    "is --shorter-side pixels (never enlarging), re-encodes it as JPEG and packs\n"
    "the results into SHARDS/shard-00000.bin, ... of about --shard-mb MiB each,\n"
    "with SHARDS/index.bin holding each photo's place, IMG_ID, LAT, LON, AUTHOR and\n"
    "scene labels. Photos that cannot be read are skipped and reported. Files are\n"
    "written under temporary names and renamed at the end, the index last. On a\n"
    "terminal, progress and the time left are shown on stderr.\n",
    PACK_OPTIONS,
    "Exit status: 0 on success, 3 when some photos were skipped, 1 on a failure,\n"
    "2 on a usage error.\n"};

typedef struct {
    geoloc_atomic_file *report; /* or NULL */
    size_t shown;
    cli_progress progress;
} skip_ctx;

static void on_skip(void *ctx, const char *id, const char *message) {
    skip_ctx *s = ctx;
    if (s->shown++ < 10) {
        cli_progress_clear(&s->progress);
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
    cli_progress_callback(&((skip_ctx *)ctx)->progress, done, total);
}

int cli_dataset_pack(int argc, char **argv) {
    const char *cmd = PACK_SPEC.name;
    pack_args a = {.side = 320, .quality = 90, .shard_mb = 256};
    int n_args;
    int parsed = cli_parse(&PACK_SPEC, &a, argc, argv, &n_args);
    if (parsed != CLI_RUN) return parsed;
    const char *input = argv[1], *images = a.images, *out_dir = a.out_dir, *report = a.report;
    int skip_invalid = a.skip_invalid;
    cli_file in = {"MANIFEST", input}, out = {"--report", report};
    if (cli_check_outputs(cmd, &in, 1, &out, 1) != 0) return CLI_EXIT_USAGE;
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
    skip_ctx sc = {.report = NULL};
    if (report) {
        if (geoloc_atomic_file_open(&rep, report, &err) != GEOLOC_OK) {
            fprintf(stderr, "%s: %s\n", cmd, err.message);
            geoloc_manifest_free(m);
            return 1;
        }
        fputs("IMG_ID,reason\n", rep.fp);
        sc.report = &rep;
    }
    geoloc_pack_options opt = {a.side == 0 ? -1 : (int)a.side, (int)a.quality, (uint64_t)a.shard_mb << 20,
                               (int)a.threads, on_skip, on_progress, &sc};
    geoloc_pack_stats s;
    double t0 = cli_now_seconds();
    cli_progress_start(&sc.progress, "pack", NULL, m->n);
    geoloc_status st = geoloc_dataset_pack(m, images, out_dir, &opt, &s, &err);
    cli_progress_clear(&sc.progress);
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
                cli_now_seconds() - t0);
        if (rc == 0 && s.n_skipped) rc = CLI_EXIT_SKIPPED;
    }
    geoloc_manifest_free(m);
    return rc;
}
