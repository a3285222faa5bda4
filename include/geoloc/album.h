/* geoloc: photo albums geolocated together (PlaNet, Weyand et al. 2016,
 * section on photo sequences). The photos of an album keep their heads'
 * probabilities for every partition (crops averaged); the album's answer fuses
 * them partition by partition, by averaging (MEAN) or by the product of
 * experts (LOGSUM: the mean of the photos' log-probabilities, exponentiated
 * and normalised: the normalised geometric mean, which ranks the cells as the
 * product does and is as sharp as one photo before the album calibration
 * tempers it), then goes through the same hierarchical answer as a
 * single photo (geoloc_answer_from_probs: hierarchy, top-k, Class2GPS, the
 * model's calibration). Grouping photos into albums (all, by folder, by a
 * manifest column) is a list of keys: photos with equal keys share an album. */
#ifndef GEOLOC_ALBUM_H
#define GEOLOC_ALBUM_H

#include <stddef.h>
#include <stdint.h>

#include "geoloc/dataset.h"
#include "geoloc/json.h"
#include "geoloc/model.h"
#include "geoloc/predict.h"
#include "geoloc/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* How an album's photo distributions are fused. */
typedef enum geoloc_album_method {
    GEOLOC_ALBUM_MEAN = 0, /* the average of the photos' distributions */
    GEOLOC_ALBUM_LOGSUM,   /* mean of log(max(p, GEOLOC_ALBUM_LOG_FLOOR)), exponentiated and normalised */
    GEOLOC_ALBUM_PRIOR     /* per photo: its own distribution times its album's others' average, normalised
                              (geoloc_album_answer_photo): the album says where, the photo picks */
} geoloc_album_method;

/* The floor of a probability under LOGSUM: a cell one photo gives 0 (or an
 * underflow) is not ruled out by that photo alone. */
#define GEOLOC_ALBUM_LOG_FLOOR 1e-6

/* The name of a method: "mean", "logsum" or "prior" (NULL for another value). */
const char *geoloc_album_method_name(geoloc_album_method method);

/* The method a name gives ("mean", "logsum", "prior"), or -1. */
int geoloc_album_method_parse(const char *name);

/* The stored probabilities of n photos: per partition (every partition of the
 * model) and for the scene head, each photo's crops averaged. */
typedef struct geoloc_album_probs geoloc_album_probs;

/* Room for the probabilities of n_photos photos of model m (m must outlive it). */
geoloc_status geoloc_album_probs_create(const geoloc_model *m, size_t n_photos, geoloc_album_probs **out,
                                        geoloc_error *err);

/* Stores photo `photo`'s heads' softmax outputs, as geoloc_predictor_probs
 * gives them: geo[f] n_crops rows of partition f's probabilities for every
 * partition, scene n_crops rows of the scene head's (NULL: none); the crops are
 * averaged. A value that is not a finite number in [0, 1] is GEOLOC_E_RANGE. */
geoloc_status geoloc_album_probs_set(geoloc_album_probs *a, size_t photo, const float *const *geo,
                                     const float *scene, size_t n_crops, geoloc_error *err);

/* The answer of the album made of the stored photos photos[0..n) (n >= 1,
 * each set): every partition's distributions (and the scene's) fused by
 * method, then answered as one photo by geoloc_answer_from_probs with opt's
 * partition (-1 hierarchical) and top_k; a calibrated answer is unknown when
 * its 50 % radius exceeds opt's max_radius_km (0: the model's). The feature
 * test of geoloc_predict is not applied (ood_score 0). distribution (NULL:
 * not wanted) receives the answering partition's scores. The order of the
 * photos does not change the answer (up to rounding). */
geoloc_status geoloc_album_answer(const geoloc_album_probs *a, const size_t *photos, size_t n,
                                  geoloc_album_method method, const geoloc_predict_options *opt,
                                  geoloc_prediction *out, float *distribution, geoloc_error *err);

/* Photo `photo`'s answer within the album photos[0..n) (photo one of them;
 * n >= 1, each set) by GEOLOC_ALBUM_PRIOR: at every partition (and for the
 * scene) the photo's distribution times the average of the album's other
 * photos (the album as the prior, the photo as the evidence), normalised, answered as geoloc_album_answer answers (with the
 * model's album calibration of PRIOR for 2 or more photos, when it has one).
 * A photo of an album of one answers as itself. */
geoloc_status geoloc_album_answer_photo(const geoloc_album_probs *a, const size_t *photos, size_t n, size_t photo,
                                        const geoloc_predict_options *opt, geoloc_prediction *out,
                                        float *distribution, geoloc_error *err);

/* Answers n_albums albums at once (method MEAN or LOGSUM): stored photo i belongs to album
 * album_of[i] (i below the photos stored; photos never set are left out);
 * out[j] (and distributions[j] when distributions is not NULL) receives album
 * j's answer as geoloc_album_answer gives it, size[j] its photos (0: no
 * answer, out[j] zeroed). */
geoloc_status geoloc_album_answer_all(const geoloc_album_probs *a, const size_t *album_of, size_t n_albums,
                                      geoloc_album_method method, const geoloc_predict_options *opt,
                                      geoloc_prediction *out, size_t *size, float *const *distributions,
                                      geoloc_error *err);

/* Releases stored probabilities (NULL allowed). */
void geoloc_album_probs_free(geoloc_album_probs *a);

/* Groups n photos by key: album_of[i] receives the album of photo i, albums
 * numbered in the order of their first photo; *n_albums their count. Equal
 * keys (byte for byte) share an album; a NULL key is an album of its own. */
geoloc_status geoloc_album_group(const char *const *keys, size_t n, size_t *album_of, size_t *n_albums,
                                 geoloc_error *err);

/* Albums as lists of photos: album j is rows[start[j] .. start[j + 1]) (rows of the
 * feature table, in album order). */
typedef struct geoloc_album_set {
    size_t n_albums;
    const size_t *start; /* n_albums + 1 offsets */
    const size_t *rows;
} geoloc_album_set;

/* The albums of the photos with use[i] set (use NULL: all): photos with equal keys
 * (byte for byte; a NULL key: an album of its own) in index order, albums in the
 * order of their first photo. Free with geoloc_album_set_free. */
geoloc_status geoloc_album_set_build(const char *const *keys, const uint8_t *use, size_t n, geoloc_album_set *out,
                                     geoloc_error *err);

/* Releases what geoloc_album_set_build allocated. */
void geoloc_album_set_free(geoloc_album_set *s);

/* The album keys of a manifest's rows: keys[k] receives row k's value of the
 * column named `column` (case-insensitive: AUTHOR or an extra column; owned
 * by the manifest), NULL when empty (the photo is an album of its own).
 * E_ARG naming the column when the manifest has none of that name. */
geoloc_status geoloc_album_manifest_keys(const geoloc_manifest *m, const char *column, const char **keys,
                                         geoloc_error *err);

/* Which album an answer belongs to, and the photo's own answer beside it. */
typedef struct geoloc_album_info {
    const char *id;                   /* the album's key (folder, column value, "all") */
    size_t size;                      /* photos answered in it */
    geoloc_album_method method;
    const geoloc_prediction *photo;   /* the photo alone */
    const struct geoloc_place *photo_place; /* its place (NULL: unknown) */
    const char *method_name;          /* the method as written, when not a fusion ("lstm"); NULL: method's */
} geoloc_album_info;

/* Writes an album answer as geoloc_answer_write_json does (a->pred: the
 * album's answer, a->place its place), plus "photo": {the photo-alone answer's
 * fields} and "album": {"id", "size", "method"} (docs/answer-schema.md);
 * album NULL: exactly geoloc_answer_write_json. Returns w's status. */
geoloc_status geoloc_album_answer_write_json(geoloc_json *w, const geoloc_model *m, const geoloc_photo_answer *a,
                                             const geoloc_album_info *album);

/* ---- fused distributions ------------------------------------------------------ */

/* Floats of one photo's stored probabilities: every partition's, then the scene's. */
size_t geoloc_album_width(const geoloc_album_probs *a);

/* The model whose probabilities a stores. */
const geoloc_model *geoloc_album_probs_model(const geoloc_album_probs *a);

/* The fused distributions of the album photos[0..n) (n >= 1, each set), as
 * geoloc_album_answer fuses them: fused (geoloc_album_width floats) receives
 * them, geo[f] points to partition f's (every partition) and *scene to the
 * scene head's (NULL without one). */
geoloc_status geoloc_album_fuse(const geoloc_album_probs *a, const size_t *photos, size_t n,
                                geoloc_album_method method, float *fused, const float **geo, const float **scene,
                                geoloc_error *err);

/* The answer of distributions fused by method from n_photos photos (geo[f]
 * for every partition of m, scene or NULL), as geoloc_album_answer gives it
 * after fusing (with the model's album calibration of the method for 2 or
 * more photos, when it has one). */
geoloc_status geoloc_album_answer_probs(const geoloc_model *m, const float *const *geo, const float *scene,
                                        geoloc_album_method method, size_t n_photos,
                                        const geoloc_predict_options *opt, geoloc_prediction *out,
                                        float *distribution, geoloc_error *err);

/* ---- photos with a known position as anchors ----------------------------------- */

/* A photo of the album whose position is known (EXIF GPS, a manifest's LAT/LON). */
typedef struct geoloc_anchor {
    double lat, lon; /* degrees */
} geoloc_anchor;

/* How anchors weigh on the cells: cell k of a partition (its Class2GPS
 * location c_k) gets the prior w_k = floor + (1/A) sum over the A anchors of
 * exp(-d(c_k, anchor) / scale_km), d the great-circle distance. */
typedef struct geoloc_anchor_options {
    double scale_km; /* the kernel's length (> 0) */
    double floor;    /* the prior far from every anchor (> 0): the CNN can still overrule it */
} geoloc_anchor_options;

#define GEOLOC_ANCHOR_SCALE_KM 300.0
#define GEOLOC_ANCHOR_FLOOR 0.01

/* The defaults: GEOLOC_ANCHOR_SCALE_KM, GEOLOC_ANCHOR_FLOOR. */
geoloc_anchor_options geoloc_anchor_options_default(void);

/* The anchored distributions of an album: for every partition f of m,
 * out[f][k] = geo[f][k] w_k / sum_j geo[f][j] w_j (w: the prior of the
 * n_anchors anchors, opt NULL: the defaults); n_anchors 0 copies geo. A
 * partition whose product sums to 0 keeps geo's values. out[f] and geo[f]
 * may be the same array. Answer them with geoloc_album_answer_probs. */
geoloc_status geoloc_album_anchor(const geoloc_model *m, const float *const *geo, const geoloc_anchor *anchors,
                                  size_t n_anchors, const geoloc_anchor_options *opt, float *const *out,
                                  geoloc_error *err);

/* ---- albums by capture time ----------------------------------------------------- */

/* Groups n photos by capture time: the photos with a time (has_time[i],
 * seconds[i] as geoloc_datetime_parse gives them) sorted by time (ties:
 * input order) and split where the gap between consecutive ones exceeds
 * gap_hours (>= 0). A photo without a time is an album of its own, or, when
 * fallback_keys is not NULL, shares an album with the other photos without a
 * time of an equal fallback key (NULL key: alone). Albums are numbered
 * chronologically, then the untimed ones in the order of their first photo
 * in the input; album_of[i] receives photo i's album; order[0..n) receives
 * the photos album by album (album 0's first), a timed album's in time
 * order, an untimed album's in input order; *n_albums their count,
 * *n_untimed the photos without a time (NULL: not wanted). */
geoloc_status geoloc_album_group_time(const int64_t *seconds, const unsigned char *has_time,
                                      const char *const *fallback_keys, size_t n, double gap_hours,
                                      size_t *album_of, size_t *order, size_t *n_albums, size_t *n_untimed,
                                      geoloc_error *err);

/* The capture times of a manifest's rows from its DATETIME column (EXIF or
 * ISO 8601 text, geoloc_datetime_parse): has_time[k] 0 where empty or not a
 * date-time. The number of rows with a time, or -1 (E_ARG) when the
 * manifest has no DATETIME column. */
long geoloc_album_manifest_times(const geoloc_manifest *m, int64_t *seconds, unsigned char *has_time,
                                 geoloc_error *err);

#ifdef __cplusplus
}
#endif
#endif
