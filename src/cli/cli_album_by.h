/* The --album-by option of the commands that group photos into albums:
 * none, folder, column:NAME, time:HOURS and time:HOURS,folder, parsed and
 * turned into albums (album of each photo, the photos' order, album names). */
#ifndef GEOLOC_CLI_ALBUM_BY_H
#define GEOLOC_CLI_ALBUM_BY_H

#include <stddef.h>
#include <stdint.h>

typedef enum cli_album_kind {
    CLI_ALBUM_NONE = 0, /* every photo alone */
    CLI_ALBUM_FOLDER,   /* the photos of one folder */
    CLI_ALBUM_COLUMN,   /* one value of a manifest column */
    CLI_ALBUM_TIME      /* capture times less than HOURS apart */
} cli_album_kind;

typedef struct cli_album_by {
    cli_album_kind kind;
    const char *column; /* CLI_ALBUM_COLUMN: the column's name (points into the option's text) */
    double hours;       /* CLI_ALBUM_TIME: the largest gap inside an album */
    int time_folder;    /* CLI_ALBUM_TIME: photos without a time grouped by folder (else alone) */
} cli_album_by;

/* Parses HOW ("none", "folder", "column:NAME", "time:HOURS",
 * "time:HOURS,folder"); 0, or -1 when it is none of them. */
int cli_album_by_parse(const char *how, cli_album_by *out);

/* The albums of n photos: photo i's file paths[i] (its folder), its
 * manifest value column_keys[i] (CLI_ALBUM_COLUMN; NULL: alone) and capture
 * time (CLI_ALBUM_TIME: has_time[i], seconds[i]; the photos without one
 * counted in a notice on stderr). Fills album_of[i], order[0..n) (album by
 * album, in time order when known, else input order), *n_albums and
 * (*ids)[j] the name of album j (folder, column value, "time-N" numbered
 * chronologically, a lone photo's file name; free with cli_album_ids_free).
 * 0, or -1 after a message on stderr. */
int cli_album_by_group(const char *cmd, const cli_album_by *by, size_t n, const char *const *paths,
                       const char *const *column_keys, const int64_t *seconds, const unsigned char *has_time,
                       size_t *album_of, size_t *order, size_t *n_albums, char ***ids);

/* Releases album names (NULL allowed). */
void cli_album_ids_free(char **ids, size_t n_albums);

#endif
