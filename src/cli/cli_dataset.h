/* Helpers shared by the `geoloc dataset` subcommands. */
#ifndef GEOLOC_CLI_DATASET_H
#define GEOLOC_CLI_DATASET_H

#include <stddef.h>

#include "geoloc/dataset.h"

/* Reads a manifest, printing skipped rows (first 10) and errors on stderr
 * prefixed with cmd; NULL after printing the error. */
geoloc_manifest *cli_read_manifest(const char *cmd, const char *path, int skip_invalid);

#endif
