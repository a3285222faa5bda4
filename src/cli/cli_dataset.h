/* Helpers shared by the `geoloc dataset` subcommands. */
#ifndef GEOLOC_CLI_DATASET_H
#define GEOLOC_CLI_DATASET_H

#include <stddef.h>

#include "geoloc/dataset.h"

/* Reads a manifest, printing skipped rows (first 10) and errors on stderr
 * prefixed with cmd; NULL after printing the error. */
geoloc_manifest *cli_read_manifest(const char *cmd, const char *path, int skip_invalid);

/* Progress callback (ctx: the label) printing, \r-updated at most five times
 * a second, "label: done/total (P%), R/s, ETA m:ss" (or "label: N found" when
 * total is 0) when stderr is a terminal; nothing otherwise. The rate and ETA
 * count from the first call after cli_progress_end (one line per process). */
void cli_progress(void *ctx, size_t done, size_t total);

/* Clears the progress line (if one was printed) and ends its timing. */
void cli_progress_end(void);

#endif
