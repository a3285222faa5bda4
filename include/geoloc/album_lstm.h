/* geoloc: PlaNet's LSTM over the photos of an album (Weyand et al. 2016,
 * section on photo sequences), made to work on little data. Each photo's
 * pooled backbone features are standardised and read in order by an LSTM
 * (geoloc/lstm.h, unidirectional or bidirectional); the logits of photo t
 * over the cells of every partition of a geolocation model are
 *
 *     logits_t = heads(x_t) + W_out h_t + b_out
 *
 * where heads are the geo model's own heads on the raw features (frozen) and
 * W_out, b_out start at zero: the untrained LSTM gives exactly the
 * single-photo answer, and training learns only what the album adds. The loss
 * is the sum over partitions of each photo's cross-entropy of its true cell.
 * A file holds the LSTM, the output layer and the standardisation, and names
 * the geo model's partitions (a mismatch is refused on load). */
#ifndef GEOLOC_ALBUM_LSTM_H
#define GEOLOC_ALBUM_LSTM_H

#include <stddef.h>
#include <stdint.h>

#include "geoloc/album.h"
#include "geoloc/model.h"
#include "geoloc/status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define GEOLOC_ALBUM_LSTM_FORMAT "geoloc-album-lstm-1" /* metadata geoloc.format of its files */

typedef struct geoloc_album_lstm geoloc_album_lstm;

/* A new album LSTM for geo model m (which must outlive it and have its heads loaded):
 * `hidden` units per direction, LSTM weights drawn from seed, output layer zero,
 * standardisation the identity. */
geoloc_status geoloc_album_lstm_create(const geoloc_model *m, int hidden, int bidirectional, uint64_t seed,
                                       geoloc_album_lstm **out, geoloc_error *err);

/* Releases an album LSTM (NULL allowed). */
void geoloc_album_lstm_free(geoloc_album_lstm *a);

/* Writes the album LSTM atomically (safetensors, with the geo model's partition names and sizes). */
geoloc_status geoloc_album_lstm_save(const geoloc_album_lstm *a, const char *path, geoloc_error *err);

/* Reads an album LSTM for geo model m; refuses a file made for other partitions or features,
 * and any metadata, tensor shape or value out of place (not finite, above 1e6 in magnitude,
 * an inverse deviation not positive), with a message naming the file and the field. */
geoloc_status geoloc_album_lstm_load(const char *path, const geoloc_model *m, geoloc_album_lstm **out,
                                     geoloc_error *err);

/* Reads an album LSTM file's image in memory (name is used in messages), with the same checks. */
geoloc_status geoloc_album_lstm_load_buffer(const void *data, size_t size, const char *name, const geoloc_model *m,
                                            geoloc_album_lstm **out, geoloc_error *err);

/* Hidden units per direction. */
int geoloc_album_lstm_hidden(const geoloc_album_lstm *a);

/* Whether the LSTM reads the album both ways. */
int geoloc_album_lstm_bidirectional(const geoloc_album_lstm *a);

/* The per-photo probabilities of an album of n photos (features: n rows of the
 * backbone's feature width, in album order): probs[f] receives n rows of partition
 * f's cell probabilities for every partition of the model, so that photo i's rows
 * (probs[f] + i * cells of f) go to geoloc_album_probs_set as one crop. */
geoloc_status geoloc_album_lstm_probs(geoloc_album_lstm *a, const float *features, size_t n, float *const *probs,
                                      geoloc_error *err);

/* The single-photo probabilities (the geo model's heads alone, no LSTM) of n photos,
 * laid out as geoloc_album_lstm_probs's. */
geoloc_status geoloc_album_lstm_single_probs(const geoloc_album_lstm *a, const float *features, size_t n,
                                             float *const *probs, geoloc_error *err);

/* The album LSTM's answer of every photo of the albums (features: one row per
 * photo of the table; each album's rows in reading order): out[r] for each
 * table row r the albums list (others untouched), through
 * geoloc_answer_from_probs with opt's partition and top_k (radii, when the
 * geo model is calibrated, from its single-photo calibration; unknown also
 * above opt's max_radius_km when not 0). */
geoloc_status geoloc_album_lstm_answers(geoloc_album_lstm *a, const float *features, const geoloc_album_set *albums,
                                        const geoloc_predict_options *opt, geoloc_prediction *out,
                                        geoloc_error *err);

/* Each photo's distance (km) to its true position (lat, lng) of the hierarchical
 * answer (geoloc_answer_from_probs) of the geo model's heads alone (km_single) and of
 * the album LSTM reading each whole album (km_album): index i of the outputs is photo
 * albums->rows[i]; either output may be NULL. */
geoloc_status geoloc_album_lstm_errors(geoloc_album_lstm *a, const float *features, const double *lat,
                                       const double *lng, const geoloc_album_set *albums, double *km_single,
                                       double *km_album, geoloc_error *err);

/* For comparison: each photo's distance (km) of its album's answer fused from the
 * single-photo probabilities by method (geoloc_album_answer, hierarchical), laid out
 * as geoloc_album_lstm_errors's. */
geoloc_status geoloc_album_lstm_fusion_errors(const geoloc_album_lstm *a, const float *features, const double *lat,
                                              const double *lng, const geoloc_album_set *albums, int method,
                                              double *km, geoloc_error *err);

/* Reads a features cache (geoloc train --features: "features" F32 [photos, views,
 * width], "ok" U8 [photos]) of `photos` photos made for model m's backbone: *features
 * receives each photo's features averaged over its first min(3, views) views (the
 * three crops of prediction), *ok whether the photo was read (both malloc'd). */
geoloc_status geoloc_album_lstm_read_features(const char *path, const geoloc_album_lstm *a, size_t photos,
                                              float **features, uint8_t **ok, geoloc_error *err);

/* Training options; start from geoloc_album_lstm_train_defaults(). */
typedef struct geoloc_album_lstm_train_options {
    int epochs;              /* passes (default 5) */
    size_t albums_per_epoch; /* random sub-albums drawn per epoch (default 2000) */
    int max_len;             /* longest sub-album (default 8; at least 2) */
    int batch;               /* sub-albums of equal length per step (default 8) */
    double lr;               /* SGD learning rate (default 0.02), cosine-annealed to 0 */
    double momentum;         /* default 0.9 */
    double weight_decay;     /* default 1e-4 */
    double head_dropout;     /* share of training photos whose heads' logits are hidden (zero), so
                                the LSTM learns to place a photo from its album (default 0.5) */
    uint64_t seed;
    /* called after each epoch with its mean loss per photo (summed over partitions) */
    void (*on_epoch)(void *ctx, int epoch, double loss);
    void *ctx;
} geoloc_album_lstm_train_options;

/* The default training options. */
geoloc_album_lstm_train_options geoloc_album_lstm_train_defaults(void);

/* Trains on albums of the feature table (features: rows x the feature width;
 * lat/lng: each row's true position, classed into every partition; a row
 * outside a partition's cells is not counted in that partition's loss). Sets
 * the standardisation from the albums' photos first. Each step draws a length L
 * in [2, max_len] and `batch` albums of at least L photos (by size), each cut
 * to a random subsequence of L photos in album order. *final_loss (NULL
 * allowed) receives the last epoch's mean loss. */
geoloc_status geoloc_album_lstm_train(geoloc_album_lstm *a, const float *features, size_t rows, const double *lat,
                                      const double *lng, const geoloc_album_set *albums,
                                      const geoloc_album_lstm_train_options *opt, double *final_loss,
                                      geoloc_error *err);

/* Mean loss per photo (summed over partitions) of whole albums, each read at once. */
geoloc_status geoloc_album_lstm_loss(geoloc_album_lstm *a, const float *features, const double *lat,
                                     const double *lng, const geoloc_album_set *albums, double *loss,
                                     geoloc_error *err);

#ifdef __cplusplus
}
#endif
#endif
