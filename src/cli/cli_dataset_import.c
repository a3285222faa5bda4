/* geoloc dataset import-msgpack: GeoEstimation's msgpack shards into a pack. */
#include <stdio.h>

#include "cli/cli_dataset.h"
#include "cli/cli_progress.h"
#include "cli/cli_util.h"
#include "cli/commands.h"
#include "geoloc/dataset.h"

typedef struct {
    const char *meta, *out_dir;
} import_args;

static const cli_option IMPORT_OPTIONS[] = {
    CLI_OPTION("meta", 0, CLI_STRING, import_args, meta, "M.csv",
               "GeoEstimation meta manifest (IMG_ID,AUTHOR,LAT,LON,...)", .required = 1),
    CLI_OPTION("out-dir", 'o', CLI_STRING, import_args, out_dir, "SHARDS", "output pack folder, created if missing",
               .required = 1),
    CLI_END};

static const cli_spec IMPORT_SPEC = {
    "geoloc dataset import-msgpack", "SHARD...", 1, -1,
    "Imports GeoEstimation's msgpack shards (concatenated msgpack maps with \"id\",\n"
    "the IMG_ID, and \"image\", the JPEG bytes; other keys ignored) into a pack in\n"
    "SHARDS as `geoloc dataset pack --shorter-side 0` writes it (photos stored\n"
    "unchanged), for `geoloc train --shards SHARDS`: records whose id is in the\n"
    "meta file, with its position, author and labels, each id once. Corrupt\n"
    "records are named (shard, record number, byte offset) and skipped; a shard\n"
    "whose end is cut off is reported and its rest skipped. Each SHARD becomes one\n"
    "shard file, recorded in SHARDS/import-state once complete: running the same\n"
    "command again skips the shards already imported and continues an interrupted\n"
    "import; index.bin is written last.\n",
    IMPORT_OPTIONS,
    "Exit status: 0 on success, 3 when some records were corrupt or a shard cut\n"
    "off, 1 on a failure, 2 on a usage error.\n"};

typedef struct {
    const char *cmd;
    cli_progress progress;
} import_ctx;

static void on_problem(void *ctx, const char *message) {
    import_ctx *c = ctx;
    cli_progress_clear(&c->progress);
    fprintf(stderr, "%s: %s\n", c->cmd, message);
}

static void on_progress(void *ctx, size_t done, size_t total) {
    cli_progress_callback(&((import_ctx *)ctx)->progress, done, total);
}

int cli_dataset_import(int argc, char **argv) {
    const char *cmd = IMPORT_SPEC.name;
    import_args a = {0};
    int n_args;
    int parsed = cli_parse(&IMPORT_SPEC, &a, argc, argv, &n_args);
    if (parsed != CLI_RUN) return parsed;
    geoloc_manifest *m = cli_read_manifest(cmd, a.meta, 0);
    if (!m) return 1;
    if (cli_mkdir_p(cmd, a.out_dir) != 0) {
        geoloc_manifest_free(m);
        return 1;
    }
    import_ctx c = {cmd, {0}};
    geoloc_msgpack_import_options opt = {on_problem, on_progress, &c};
    geoloc_msgpack_import_stats s;
    geoloc_error err;
    double t0 = cli_now_seconds();
    cli_progress_start(&c.progress, "import", "shards", (size_t)n_args);
    geoloc_status st = geoloc_dataset_import_msgpack((const char *const *)argv + 1, (size_t)n_args, m, a.out_dir,
                                                     &opt, &s, &err);
    cli_progress_clear(&c.progress);
    geoloc_manifest_free(m);
    if (st != GEOLOC_OK) {
        fprintf(stderr, "%s: %s\n", cmd, err.message);
        return 1;
    }
    fprintf(stderr, "%s: imported %zu, skipped %zu not in meta, %zu corrupt, %zu duplicates; %zu shards read "
            "(%zu cut off), %zu already imported; %s holds %llu photos in %u shards; %.2f s\n", cmd,
            s.n_imported, s.n_not_in_meta, s.n_corrupt, s.n_duplicates, s.n_shards_read, s.n_truncated,
            s.n_shards_done, a.out_dir, (unsigned long long)s.pack_photos, s.pack_shards, cli_now_seconds() - t0);
    return s.n_corrupt || s.n_truncated ? CLI_EXIT_SKIPPED : 0;
}
