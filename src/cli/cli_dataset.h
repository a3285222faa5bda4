/* Helpers shared by the `geoloc dataset` subcommands. */
#ifndef GEOLOC_CLI_DATASET_H
#define GEOLOC_CLI_DATASET_H

#include <stddef.h>

#include "geoloc/dataset.h"

/* Reads a manifest, printing skipped rows (first 10) and errors on stderr
 * prefixed with cmd; NULL after printing the error. */
geoloc_manifest *cli_read_manifest(const char *cmd, const char *path, int skip_invalid);

/* Progress callback printing "\r<label>: done/total" on a terminal (ctx is
 * the label); does nothing when stderr is not a terminal. */
void cli_progress(void *ctx, size_t done, size_t total);

/* Ends a progress line (if one was printed). */
void cli_progress_end(void);

/* Seconds since an arbitrary start (monotonic). */
double cli_seconds(void);

#endif
