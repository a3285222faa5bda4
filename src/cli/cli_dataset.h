/* Helpers shared by the `geoloc dataset` subcommands. */
#ifndef GEOLOC_CLI_DATASET_H
#define GEOLOC_CLI_DATASET_H

#include <stddef.h>

#include "geoloc/dataset.h"

/* Reads a manifest, printing skipped rows (first 10) and errors on stderr
 * prefixed with cmd; NULL after printing the error. */
geoloc_manifest *cli_read_manifest(const char *cmd, const char *path, int skip_invalid);

/* geoloc train --exclude-near: drops from *train (replaced) the rows named in
 * the a_id column of a pairs file of `geoloc dataset dedup` (training set
 * first, test set second) and says how many on stderr; 0, or 1 after a
 * message (src/cli/cli_dataset_dedup.c). */
int cli_exclude_near(const char *cmd, const char *pairs_path, geoloc_manifest **train);

#endif
