/* geoloc: near-duplicate photos (PlaNet removes them between training and
 * test photos): a perceptual hash of each photo (64-bit DCT pHash of its
 * 32x32 grey image) and the cosine similarity of its backbone embedding
 * (a feature index, geoloc/retrieval.h). A pair is a near-duplicate when its
 * hashes differ in at most max_hamming bits or its embeddings' similarity is
 * at least min_similarity. */
#ifndef GEOLOC_DEDUP_H
#define GEOLOC_DEDUP_H

#include <stddef.h>
#include <stdint.h>

#include "geoloc/image.h"
#include "geoloc/retrieval.h"
#include "geoloc/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The pHash of an image: resized to 32 x 32 (antialiased), grey (BT.601
 * luma), 2-D DCT-II; bit 8 r + c (r, c = 0..7) is set when coefficient
 * (r + 1, c + 1) exceeds the median of those 64 (the DC row and column left
 * out). Similar pictures differ in few bits (geoloc_hamming64). */
geoloc_status geoloc_phash(const geoloc_image *img, uint64_t *out, geoloc_error *err);

/* The pHashes of the photo files paths[0..n) into out (decoded in parallel,
 * JPEGs reduced by DCT scaling); the first photo that cannot be read stops
 * it, named in err. */
geoloc_status geoloc_phash_files(const char *const *paths, size_t n, uint64_t *out, geoloc_error *err);

/* The number of bits in which a and b differ. */
int geoloc_hamming64(uint64_t a, uint64_t b);

/* What makes a pair. */
typedef struct geoloc_dedup_options {
    double min_similarity; /* embeddings' cosine at least this (default 0.92; > 1: not used) */
    int max_hamming;       /* hashes differing in at most this many bits (default 4; < 0: not used) */
    size_t k;              /* embedding candidates per photo (default 20) */
} geoloc_dedup_options;

/* The defaults above. */
geoloc_dedup_options geoloc_dedup_options_default(void);

/* One pair: photo a of the first set, b of the second (within one set: a < b). */
typedef struct geoloc_dedup_pair {
    size_t a, b;
    float similarity; /* of their embeddings */
    int hamming;      /* of their hashes; -1 without hashes */
} geoloc_dedup_pair;

/* The near-duplicate pairs between the photos of index a (hashes ha, or
 * NULL) and those of index b (hashes hb; b NULL: pairs within a), ordered by
 * a then b, into *pairs (malloc'd, to free) and *n. The indexes must have the
 * same backbone and width. */
geoloc_status geoloc_dedup_find(const geoloc_index *a, const uint64_t *ha, const geoloc_index *b,
                                const uint64_t *hb, const geoloc_dedup_options *opt, geoloc_dedup_pair **pairs,
                                size_t *n, geoloc_error *err);

#ifdef __cplusplus
}
#endif
#endif
