/* geoloc predict's albums (--album, --album-by, --album-method, --album-lstm):
 * every photo is predicted and kept, then each is answered with its album's
 * answer (fused, or the album LSTM's), in the photos' order. */
#ifndef GEOLOC_CLI_PREDICT_ALBUM_H
#define GEOLOC_CLI_PREDICT_ALBUM_H

#include <stddef.h>

#include "cli/cli_photos.h"
#include "cli/cli_progress.h"
#include "geoloc/album.h"
#include "geoloc/album_lstm.h"

/* --album-method lstm: the value after the geoloc_album_method ones. */
#define CLI_ALBUM_METHOD_LSTM (GEOLOC_ALBUM_PRIOR + 1)

/* Writes one answer with its album; 1 (stop) when the output cannot be written. */
typedef int (*cli_album_write_fn)(void *ctx, const geoloc_photo_answer *a, geoloc_album_info *album);

/* How the albums are made and answered, and where the answers go. */
typedef struct cli_predict_album_args {
    int album;                        /* --album: the photos are one album */
    const char *album_by;             /* --album-by HOW (NULL: --album) */
    const char *meta;                 /* --meta CSV (named in a notice) */
    const geoloc_manifest *manifest;  /* its rows (NULL: no --meta) */
    const char *const *row_keys;      /* their album keys (geoloc_album_manifest_keys) */
    int method;                       /* a geoloc_album_method, or CLI_ALBUM_METHOD_LSTM */
    geoloc_album_lstm *lstm;          /* CLI_ALBUM_METHOD_LSTM: the album LSTM of --album-lstm */
    size_t answer;                    /* the answering partition */
    cli_progress *progress;           /* updated as photos are predicted */
    size_t *done;                     /* photos predicted so far */
    cli_album_write_fn write;
    void *ctx;
} cli_predict_album_args;

/* Loads the album LSTM of path (NULL: none, *out NULL) for c's model; 0, or
 * after a message 2 (made for another model) or 1 (unreadable). */
int cli_predict_album_open_lstm(const char *cmd, const char *path, const cli_runner *c, geoloc_album_lstm **out);

/* Predicts paths[0..n), then writes each photo's album answer in the photos'
 * order; 0, or 1 after a message. */
int cli_predict_albums(const char *cmd, const cli_predict_album_args *a, cli_runner *c, char **paths, size_t n,
                       geoloc_batch_stats *st);

#endif
