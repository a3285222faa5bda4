/* geoloc: retrieval over a feature index (PlaNet's and Vo et al.'s
 * nearest-neighbour geolocation). An index holds the L2-normalised pooled
 * backbone embeddings of a photo collection (float16, or int8 with one scale
 * per vector), each with its photo id and coordinates, and names the
 * backbone that made them, so that a query from another backbone is refused.
 * Search is an exact scan (AVX2/FMA dot products, two OpenMP threads, a
 * top-k heap). Answers: the kernel-density mode of the k neighbours'
 * coordinates (knn), or the classifier's cell with the density mode of the
 * neighbours inside it (hybrid).
 *
 * The file (docs in src/model/retrieval_index.c) ends with a CRC-32C of all
 * that precedes it: a truncated or altered file is refused by name. */
#ifndef GEOLOC_RETRIEVAL_H
#define GEOLOC_RETRIEVAL_H

#include <stddef.h>

#include "geoloc/model.h"
#include "geoloc/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* How the vectors are stored. */
typedef enum geoloc_index_precision {
    GEOLOC_INDEX_F16 = 0, /* IEEE half floats */
    GEOLOC_INDEX_I8 = 1   /* int8 (x / max|x| * 127, rounded) with one scale per vector
                             making the stored vector a unit vector */
} geoloc_index_precision;

typedef struct geoloc_index geoloc_index;

/* An empty index of dim-wide vectors (1 to 65536) made by `backbone` (an
 * identity string of 1-255 characters, geoloc_index_backbone_of). */
geoloc_status geoloc_index_create(int dim, geoloc_index_precision precision, const char *backbone,
                                  geoloc_index **out, geoloc_error *err);

/* Adds a photo: id (1-4095 characters), coordinates, and its embedding (dim
 * values, L2-normalised here; an all-zero or non-finite vector is refused). */
geoloc_status geoloc_index_add(geoloc_index *ix, const char *id, double lat, double lon, const float *vec,
                               geoloc_error *err);

/* Writes the index atomically (geoloc_atomic_file_open). */
geoloc_status geoloc_index_save(const geoloc_index *ix, const char *path, geoloc_error *err);

/* Reads an index file; its checksum, sizes and fields are verified and a
 * failure names the file. */
geoloc_status geoloc_index_load(const char *path, geoloc_index **out, geoloc_error *err);

/* The same from a file image in memory (copied; name is used in messages). */
geoloc_status geoloc_index_load_buffer(const void *data, size_t size, const char *name, geoloc_index **out,
                                       geoloc_error *err);

/* Releases an index (NULL allowed). */
void geoloc_index_free(geoloc_index *ix);

/* The number of photos in the index. */
size_t geoloc_index_count(const geoloc_index *ix);
/* The width of its vectors. */
int geoloc_index_dim(const geoloc_index *ix);
/* How its vectors are stored. */
geoloc_index_precision geoloc_index_precision_of(const geoloc_index *ix);
/* The identity of the backbone that made it. */
const char *geoloc_index_backbone(const geoloc_index *ix);

/* Photo i's id. */
const char *geoloc_index_id(const geoloc_index *ix, size_t i);
/* Photo i's coordinates in degrees. */
void geoloc_index_coords(const geoloc_index *ix, size_t i, double *lat, double *lon);

/* The identity of a model's backbone as an index records it: "<arch>:<name>"
 * with the backbone file's name (heads-only models) or "embedded:<model file
 * base name>" when the model file holds its own backbone. */
void geoloc_index_backbone_of(const geoloc_model *m, const char *model_path, char *out, size_t size);

/* GEOLOC_OK when the index was made by `backbone`, else E_ARG naming both. */
geoloc_status geoloc_index_check_backbone(const geoloc_index *ix, const char *backbone, const char *name,
                                          geoloc_error *err);

/* One neighbour: its row, cosine similarity and coordinates. */
typedef struct geoloc_neighbour {
    size_t row;
    float sim;
    double lat, lon;
} geoloc_neighbour;

/* The k most similar photos to query (dim values, normalised here), most
 * similar first, into out[0..*n_out) (*n_out = min(k, photos left)); the
 * rows whose id is exclude_id (NULL: none) are never returned, so a photo
 * that is in the index is not its own neighbour. */
geoloc_status geoloc_index_search(const geoloc_index *ix, const float *query, size_t k, const char *exclude_id,
                                  geoloc_neighbour *out, size_t *n_out, geoloc_error *err);

/* The same for n queries (rows of dim values) at once, each with k results
 * in out[q * k ..] and its count in n_out[q]; queries run in parallel. */
geoloc_status geoloc_index_search_batch(const geoloc_index *ix, const float *queries, size_t n, size_t k,
                                        geoloc_neighbour *out, size_t *n_out, geoloc_error *err);

/* ---- answers ------------------------------------------------------------------ */

/* How a prediction is answered. */
typedef enum geoloc_answer_kind {
    GEOLOC_ANSWER_CLASS = 0, /* the classifier alone */
    GEOLOC_ANSWER_KNN,       /* the density mode of the k nearest neighbours */
    GEOLOC_ANSWER_HYBRID     /* the classifier's cell, the neighbours' mode inside it */
} geoloc_answer_kind;

/* The knn kernel: neighbour j weighs exp(sim_j / tau_sim); the density at a
 * point is sum_j w_j exp(-(d_j / bandwidth_km)^2 / 2), d_j the great-circle
 * distance to neighbour j. */
typedef struct geoloc_knn_kernel {
    double tau_sim;      /* default 0.05 */
    double bandwidth_km; /* default 25 */
} geoloc_knn_kernel;

/* The defaults above. */
geoloc_knn_kernel geoloc_knn_kernel_default(void);

/* The neighbour coordinate of highest kernel density among nb[0..n) whose
 * `inside` flag is set (inside NULL: all); its index, or -1 when none. */
int geoloc_knn_mode(const geoloc_neighbour *nb, size_t n, const unsigned char *inside, geoloc_knn_kernel kernel);

/* Answers pred again by `kind` from the neighbours nb[0..n) (none: the
 * classifier's answer is kept): knn moves (lat, lon) to the density mode of
 * all of them; hybrid to the mode of those inside the classifier's answering
 * cell (pred->top[0].cell: the finest partition's cell for a hierarchical
 * answer), keeping the classifier's point when none falls inside. The top
 * cells are left as they are. Returns 1 when retrieval gave the point, 0
 * when the classifier's was kept. */
int geoloc_answer_retrieval(geoloc_answer_kind kind, const geoloc_neighbour *nb, size_t n, geoloc_knn_kernel kernel,
                            geoloc_prediction *pred);

#ifdef __cplusplus
}
#endif
#endif
