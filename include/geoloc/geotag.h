/* geoloc: geotagging a photo library: the photos without a position placed
 * from their album (album fusion, weighed by the album's photos that carry a
 * position: anchors, geoloc/album.h), and XMP sidecars that carry the
 * answers (exif:GPSLatitude/GPSLongitude, radius and method in a geoloc:
 * namespace) beside the photos, which are never modified. */
#ifndef GEOLOC_GEOTAG_H
#define GEOLOC_GEOTAG_H

#include <stddef.h>

#include "geoloc/album.h"
#include "geoloc/model.h"
#include "geoloc/predict.h"
#include "geoloc/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* How a photo was placed. */
typedef enum geoloc_geotag_method {
    GEOLOC_GEOTAG_ANCHOR = 0, /* its album's fused answer weighed by the album's anchors */
    GEOLOC_GEOTAG_ALBUM,      /* its album's fused answer (no anchor in the album) */
    GEOLOC_GEOTAG_SINGLE      /* the photo alone (the only photo to place of an album without anchors) */
} geoloc_geotag_method;

/* "anchor", "album", "single" (NULL for another value). */
const char *geoloc_geotag_method_name(geoloc_geotag_method method);

/* How photos are placed. */
typedef struct geoloc_geotag_options {
    geoloc_album_method fusion;   /* how an album's photos are fused */
    geoloc_anchor_options anchor; /* the anchors' prior */
    geoloc_predict_options predict; /* partition (-1: hierarchical), top_k, max_radius_km */
    double snap_km;               /* an anchored answer within snap_km of an anchor takes the nearest
                                     anchor's position (the cell says where, the anchor the point); 0: off */
} geoloc_geotag_options;

/* The default snap distance (km) of anchored answers. */
#define GEOLOC_GEOTAG_SNAP_KM 300.0

/* One photo's placement. */
typedef struct geoloc_geotag_result {
    int placed;                   /* 1: a photo without a position, answered */
    geoloc_geotag_method method;
    geoloc_prediction answer;     /* the answer given (by method) */
    int snapped;                  /* ANCHOR: the answer was moved to an anchor's position */
    geoloc_prediction fused;      /* its album's fusion without anchors */
    geoloc_prediction photo;      /* the photo alone */
    size_t album_size;            /* photos of its album answered by the model */
    size_t n_anchors;             /* photos of its album with a position */
} geoloc_geotag_result;

/* Places n photos (n: a's photos) in n_albums albums (photo i in album_of[i]):
 * photo i is an anchor when is_anchor[i] (its position anchors[i]), to place
 * when not an anchor and its probabilities are stored in a (predicted[i]);
 * other photos (unreadable) are left out. Each album's photos to place are
 * fused (o->fusion); with anchors in the album the fused distributions are
 * weighed by their prior (geoloc_album_anchor) and answered (then moved to
 * the nearest anchor when within o->snap_km): method ANCHOR; else ALBUM for two or more photos to place, SINGLE for one. out[i] is
 * filled for every photo (placed 0 for the others). */
geoloc_status geoloc_geotag_place(const geoloc_album_probs *a, const unsigned char *predicted,
                                  const unsigned char *is_anchor, const geoloc_anchor *anchors,
                                  const size_t *album_of, size_t n, size_t n_albums, const geoloc_geotag_options *o,
                                  geoloc_geotag_result *out, geoloc_error *err);

/* ---- XMP sidecars ---------------------------------------------------------------- */

/* What a sidecar says about a photo. */
typedef struct geoloc_xmp_gps {
    double lat, lon;        /* degrees */
    double radius_km[2];    /* 50 % and 90 % radii; <= 0 or NaN: not written */
    const char *method;     /* geoloc:method (NULL: not written) */
} geoloc_xmp_gps;

/* The sidecar path of photo `photo` into out[size]: "DIR/IMG.xmp" (the
 * extension replaced, Adobe's naming) or, full, "DIR/IMG.jpg.xmp"
 * (darktable's). -1 when it does not fit or the photo has no file name. */
int geoloc_xmp_sidecar_path(const char *photo, int full, char *out, size_t size);

/* An XMP GPSCoordinate ("DDD,MM.mmmmmmk": whole degrees, decimal minutes,
 * k = N/S for a latitude, E/W for a longitude) into out[32]. */
void geoloc_xmp_coordinate(double degrees, int latitude, char out[32]);

/* Writes an XMP sidecar (x:xmpmeta / rdf:RDF / rdf:Description with
 * exif:GPSVersionID, exif:GPSLatitude, exif:GPSLongitude, exif:GPSMapDatum
 * and the geoloc: radius and method) to path, atomically. An existing file
 * is E_IO "PATH: exists" unless overwrite. */
geoloc_status geoloc_xmp_write(const char *path, const geoloc_xmp_gps *g, int overwrite, geoloc_error *err);

#ifdef __cplusplus
}
#endif
#endif
