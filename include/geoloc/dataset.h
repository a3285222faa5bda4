/* geoloc: photo data sets: CSV manifests (compatible with the GeoEstimation
 * meta files), photo files listed from paths and folders, scanning a folder
 * of photos for their EXIF GPS positions, train/validation splits grouped by
 * photographer, and packed shards that hold millions of resized photos in a
 * few large files. */
#ifndef GEOLOC_DATASET_H
#define GEOLOC_DATASET_H

#include <stddef.h>
#include <stdint.h>

#include "geoloc/source.h"
#include "geoloc/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- manifests ------------------------------------------------------------ */

/* Optional manifest columns (bits of geoloc_manifest.columns). */
enum {
    GEOLOC_COL_AUTHOR = 1u << 0,       /* AUTHOR */
    GEOLOC_COL_S3 = 1u << 1,           /* S3_Label (0 indoor, 1 natural, 2 urban) */
    GEOLOC_COL_S16 = 1u << 2,          /* S16_Label (0..15) */
    GEOLOC_COL_S365 = 1u << 3,         /* S365_Label (Places365 class 0..364) */
    GEOLOC_COL_PROB_INDOOR = 1u << 4,  /* Prob_indoor */
    GEOLOC_COL_PROB_NATURAL = 1u << 5, /* Prob_natural */
    GEOLOC_COL_PROB_URBAN = 1u << 6    /* Prob_urban */
};

/* One photo of a manifest. Strings are owned by the manifest. */
typedef struct geoloc_manifest_row {
    const char *id;     /* IMG_ID: path relative to the image root */
    double lat, lng;    /* degrees */
    const char *author; /* AUTHOR, "" when absent or empty */
    int32_t label[3];   /* S3_Label, S16_Label, S365_Label; -1 when absent */
    double prob[3];     /* Prob_indoor, Prob_natural, Prob_urban; NaN when absent */
    long line;          /* line in the source file (0 for rows added in memory) */
} geoloc_manifest_row;

/* A photo list: IMG_ID, LAT, LON, the optional columns above, and any other
 * columns kept verbatim as text ("extra" columns, written back after the
 * known ones). */
typedef struct geoloc_manifest {
    size_t n;
    geoloc_manifest_row *row;
    unsigned columns;        /* GEOLOC_COL_* bits of the columns present */
    size_t n_extra;          /* other columns */
    char **extra_name;       /* their header names */
    const char **extra;      /* n * n_extra values, row k at extra[k * n_extra] */
    size_t n_skipped;        /* invalid rows skipped (skip_invalid) */
    void *internal;          /* storage (owned) */
} geoloc_manifest;

/* How to read a manifest. Zero-initialised = strict. */
typedef struct geoloc_manifest_options {
    int skip_invalid; /* skip and count bad rows instead of failing */
    /* Called with a "file:line: field: reason" message per skipped row. */
    void (*on_skip)(void *ctx, const char *message);
    void *ctx;
    int blank_position; /* a row whose LAT and LON are both empty is kept, with NaN for both */
} geoloc_manifest_options;

/* The name of an S3_Label value as GeoEstimation defines them (0 indoor,
 * 1 natural, 2 urban), or NULL outside 0..2. */
const char *geoloc_s3_label_name(int label);

/* Reads a manifest CSV: columns found by name (case-insensitive): IMG_ID
 * (or id/image_id/photo_id), LAT (lat/latitude), LON (lon/lng/longitude),
 * optional AUTHOR, S3_Label, S16_Label, S365_Label, Prob_indoor,
 * Prob_natural, Prob_urban; other columns are kept as text. Every row must
 * have the header's number of fields; IMG_ID must be a relative path without
 * ".." parts; labels and probabilities may be empty (absent) or in range.
 * A bad row fails the read with "file:line: FIELD: reason" unless
 * skip_invalid. A header-only file gives an empty manifest. */
geoloc_status geoloc_manifest_read(const char *path, const geoloc_manifest_options *opt,
                                   geoloc_manifest **out, geoloc_error *err);

/* Same as geoloc_manifest_read over bytes in memory; `name` is used in messages. */
geoloc_status geoloc_manifest_read_buffer(const char *data, size_t size, const char *name,
                                          const geoloc_manifest_options *opt,
                                          geoloc_manifest **out, geoloc_error *err);

/* New empty manifest with the given GEOLOC_COL_* columns and extra column names. */
geoloc_status geoloc_manifest_new(unsigned columns, const char *const *extra_names,
                                  size_t n_extra, geoloc_manifest **out, geoloc_error *err);

/* Appends a copy of row (and its n_extra extra values, or NULL for empty ones). */
geoloc_status geoloc_manifest_append(geoloc_manifest *m, const geoloc_manifest_row *row,
                                     const char *const *extra, geoloc_error *err);

/* Writes the manifest atomically ("-" = standard output): header IMG_ID,
 * [AUTHOR,] LAT, LON, then the optional and extra columns present; numbers
 * in the shortest form that reads back exactly; LF line ends. */
geoloc_status geoloc_manifest_write(const geoloc_manifest *m, const char *path, geoloc_error *err);

/* Writes only rows rows[0..n) (in that order) of the manifest, atomically. */
geoloc_status geoloc_manifest_write_rows(const geoloc_manifest *m, const size_t *rows, size_t n,
                                         const char *path, geoloc_error *err);

/* Index of the extra column named `name` (case-insensitive), or -1. */
long geoloc_manifest_extra_column(const geoloc_manifest *m, const char *name);

/* What `geoloc dataset info` says about a manifest. */
typedef struct geoloc_manifest_stats {
    size_t n;                          /* photos */
    double lat_min, lat_max;           /* bounding box in degrees (all 0 when n == 0) */
    double lng_min, lng_max;
    size_t n_authors;                  /* distinct non-empty AUTHOR values */
    size_t n_without_author;           /* photos with an empty or absent AUTHOR */
    size_t n_scene[3];                 /* photos per S3_Label: indoor, natural, urban */
    size_t n_without_scene;            /* photos without an S3_Label */
} geoloc_manifest_stats;

/* Fills *out with the summary of m (one pass, plus a sort of the authors). */
geoloc_status geoloc_manifest_summarize(const geoloc_manifest *m, geoloc_manifest_stats *out,
                                        geoloc_error *err);

/* Releases a manifest (NULL is fine). */
void geoloc_manifest_free(geoloc_manifest *m);

/* ---- photo files from paths and folders ------------------------------------ */

/* Photo paths in the order added; folders contribute their photos walked
 * recursively (sorted by name at every level, hidden entries left out, at
 * most 64 folders deep). Paths are owned by the list. */
typedef struct geoloc_photo_paths {
    char **paths;
    size_t n, cap;
    size_t folders;  /* folders walked */
    size_t skipped;  /* entries reported and left out */
} geoloc_photo_paths;

/* Called for each entry a walk leaves out: its path, why ("cannot open the
 * folder", "cannot inspect it", "folders nested too deep", "cannot follow
 * the link", "a link to a folder (not followed)", "not a regular file") and
 * the errno behind it (0 when none). */
typedef void (*geoloc_walk_report_fn)(void *ctx, const char *path, const char *why, int errnum);

/* 1 when a file name ends in .jpg, .jpeg, .png, .webp, .heic, .heif or .hif (any case). */
int geoloc_is_photo_name(const char *name);

/* Adds a folder's photo files (geoloc_is_photo_name, regular files or links
 * to them), or path itself when it is not a folder (whatever its name; a
 * missing file is left to its reader). Folders that cannot be opened,
 * entries that cannot be inspected, links to folders, folders too deep and
 * photo names that are not regular files go to report (may be NULL) and
 * are counted in l->skipped. Fails only when memory runs out. */
geoloc_status geoloc_photo_paths_add(geoloc_photo_paths *l, const char *path, geoloc_walk_report_fn report,
                                     void *ctx, geoloc_error *err);

/* Releases the list's paths and empties it. */
void geoloc_photo_paths_free(geoloc_photo_paths *l);

/* ---- scanning a folder ----------------------------------------------------- */

/* Why a file of a scanned folder is not in the manifest. */
typedef enum geoloc_scan_reason {
    GEOLOC_SCAN_NO_GPS = 0,      /* an image without a valid EXIF GPS position */
    GEOLOC_SCAN_NOT_IMAGE,       /* empty, or not JPEG/PNG/WebP bytes */
    GEOLOC_SCAN_UNREADABLE,      /* an image whose header cannot be read, or an I/O error */
    GEOLOC_SCAN_PERMISSION,      /* permission denied (file or folder) */
    GEOLOC_SCAN_SYMLINK_LOOP,    /* a link back to a folder being scanned, or a link cycle */
    GEOLOC_SCAN_BROKEN_LINK,     /* a symbolic link to nothing */
    GEOLOC_SCAN_DUPLICATE,       /* the same file or folder reached again through a link */
    GEOLOC_SCAN_SPECIAL,         /* not a regular file (fifo, socket, device) */
    GEOLOC_SCAN_N_REASONS
} geoloc_scan_reason;

/* One skipped path (relative to the root; folders end with '/'). */
typedef struct geoloc_scan_skip {
    const char *path;
    geoloc_scan_reason reason;
    const char *detail;  /* human-readable detail */
} geoloc_scan_skip;

/* What a scan found: photos with GPS (IMG_ID, LAT, LON; sorted by path) and
 * the skipped files (sorted by path) with counts per reason. */
typedef struct geoloc_scan_result {
    geoloc_manifest *photos;
    size_t n_files;                          /* files examined */
    size_t n_skipped;
    geoloc_scan_skip *skipped;
    size_t count[GEOLOC_SCAN_N_REASONS];     /* skipped files per reason */
    void *internal;
} geoloc_scan_result;

/* Scan options. Zero-initialised = defaults. */
typedef struct geoloc_scan_options {
    int threads; /* readers; 0 = one per core */
    /* Called now and then from the calling thread: files read so far and the
     * total (0 while the folders are still being listed). May be NULL. */
    void (*progress)(void *ctx, size_t done, size_t total);
    void *ctx;
} geoloc_scan_options;

/* Short name of a skip reason ("no_gps", "not_image", ...). */
const char *geoloc_scan_reason_name(geoloc_scan_reason reason);

/* Walks the folder tree under root (following symbolic links; loops and
 * folders reached twice are reported, not followed), reads each file's
 * head for its EXIF GPS position and returns the photos that have one. Fails
 * only when root itself cannot be read or memory runs out. */
geoloc_status geoloc_dataset_scan(const char *root, const geoloc_scan_options *opt,
                                  geoloc_scan_result **out, geoloc_error *err);

/* Writes the skipped files as CSV (path,reason,detail), atomically. */
geoloc_status geoloc_scan_write_report(const geoloc_scan_result *result, const char *path,
                                       geoloc_error *err);

/* Releases a scan result (NULL is fine). */
void geoloc_scan_result_free(geoloc_scan_result *result);

/* ---- train/validation split ------------------------------------------------ */

/* Split options. */
typedef struct geoloc_split_options {
    double val_fraction;      /* share of photos for validation, in (0, 1) */
    uint64_t seed;
    const char *group_column; /* NULL = AUTHOR; or the name of an extra column */
} geoloc_split_options;

/* Sizes of the two sides of a split. */
typedef struct geoloc_split_stats {
    size_t n_train, n_val;           /* photos */
    size_t groups_train, groups_val; /* groups (photographers) */
} geoloc_split_stats;

/* Assigns each photo to train (is_val[k] = 0) or validation (1) so that no
 * group (equal non-empty group column; a row with an empty one is a group of
 * its own, keyed by its IMG_ID) is on both sides, the validation share is
 * close to val_fraction, and the result depends only on the seed and the
 * rows' contents (not on their order). */
geoloc_status geoloc_dataset_split(const geoloc_manifest *m, const geoloc_split_options *opt,
                                   uint8_t *is_val, geoloc_split_stats *stats, geoloc_error *err);

/* ---- shards ----------------------------------------------------------------- */

/* Packing options. Zero-initialised = defaults. */
typedef struct geoloc_pack_options {
    int shorter_side;       /* resize so the shorter side is this (never enlarge);
                               default 320; -1 = store the files' bytes unchanged */
    int quality;            /* JPEG quality of the re-encoded photos (default 90) */
    uint64_t shard_bytes;   /* start a new shard beyond this size (default 256 MiB) */
    int threads;            /* 0 = one per core */
    /* Called (in manifest order) for each photo left out: its IMG_ID and why. */
    void (*on_skip)(void *ctx, const char *id, const char *message);
    /* Called now and then: photos done and total. */
    void (*progress)(void *ctx, size_t done, size_t total);
    void *ctx;
} geoloc_pack_options;

/* What a pack wrote. */
typedef struct geoloc_pack_stats {
    size_t n_packed, n_skipped;
    uint32_t n_shards;
    uint64_t bytes;  /* photo bytes in the shards */
} geoloc_pack_stats;

/* Packs the manifest's photos (image_root/IMG_ID) into out_dir: shard files
 * shard-00000.bin, ... and index.bin (format: src/dataset/shard.c). Photos
 * that cannot be read or decoded are skipped and reported. Shards are
 * written under temporary names and renamed when all are complete, the index
 * last, so a failed pack leaves a previous pack in out_dir intact. */
geoloc_status geoloc_dataset_pack(const geoloc_manifest *m, const char *image_root,
                                  const char *out_dir, const geoloc_pack_options *opt,
                                  geoloc_pack_stats *stats, geoloc_error *err);

/* A shard index (index.bin), validated when opened. */
typedef struct geoloc_shard_index geoloc_shard_index;

/* Summary of a shard index. */
typedef struct geoloc_shard_info {
    uint32_t version;
    uint64_t n_photos;
    uint32_t n_shards;
    uint64_t set_id;      /* random id shared by the index and its shards */
    unsigned columns;     /* GEOLOC_COL_AUTHOR/S3/S16/S365 present */
    int shorter_side;     /* -1 when the original files were stored */
    int quality;
    uint64_t bytes;       /* total shard bytes */
} geoloc_shard_info;

/* One packed photo. */
typedef struct geoloc_shard_entry {
    const char *id, *author; /* author "" when absent */
    double lat, lng;
    int32_t label[3];        /* S3, S16, S365; -1 when absent */
    uint32_t shard;
    uint64_t offset;         /* in the shard file */
    uint32_t size;           /* encoded bytes */
    uint32_t crc32c;         /* CRC-32C of the encoded bytes */
    int width, height;       /* decoded size (EXIF orientation applied) */
} geoloc_shard_entry;

/* Opens and validates dir/index.bin (every field bounds-checked). */
geoloc_status geoloc_shard_index_open(const char *dir, geoloc_shard_index **out,
                                      geoloc_error *err);

/* Validates an index held in memory (the bytes must outlive the index). */
geoloc_status geoloc_shard_index_from_buffer(const uint8_t *data, size_t size, const char *name,
                                             geoloc_shard_index **out, geoloc_error *err);

/* Summary of an open index. */
void geoloc_shard_index_info(const geoloc_shard_index *index, geoloc_shard_info *out);

/* Photo k (< n_photos) of an open index. */
void geoloc_shard_index_entry(const geoloc_shard_index *index, size_t k,
                              geoloc_shard_entry *out);

/* Releases an index (NULL is fine). */
void geoloc_shard_index_close(geoloc_shard_index *index);

/* Source over packed shards in dir (the index and every shard file are
 * validated and memory-mapped; reads return pointers into the maps). With
 * verify_checksums, each read checks the photo's CRC-32C. */
geoloc_status geoloc_source_shards(const char *dir, int verify_checksums, geoloc_source *out,
                                   geoloc_error *err);

/* ---- importing GeoEstimation's msgpack shards ------------------------------------ */

/* Import options. Zero-initialised = defaults. */
typedef struct geoloc_msgpack_import_options {
    /* Called for each corrupt record ("SHARD: record N at byte B: why") and
     * each shard whose end is cut off or not msgpack; may be NULL. */
    void (*on_problem)(void *ctx, const char *message);
    /* Called after each input shard: shards done and total; may be NULL. */
    void (*progress)(void *ctx, size_t done, size_t total);
    void *ctx;
} geoloc_msgpack_import_options;

/* What an import did (this run) and what the pack holds afterwards. */
typedef struct geoloc_msgpack_import_stats {
    size_t n_imported;      /* photos added */
    size_t n_not_in_meta;   /* records whose id is not in the meta manifest */
    size_t n_corrupt;       /* records that are not a map with an id and a photo */
    size_t n_duplicates;    /* records whose id was already imported */
    size_t n_truncated;     /* shards whose end was cut off or not msgpack (the rest skipped) */
    size_t n_shards_read;   /* input shards read now */
    size_t n_shards_done;   /* input shards found already imported (skipped) */
    uint64_t pack_photos;   /* photos in out_dir's pack */
    uint32_t pack_shards;   /* its shard files */
} geoloc_msgpack_import_stats;

/* Imports GeoEstimation's msgpack shards (concatenated msgpack maps with
 * "id", the IMG_ID, and "image", the photo's bytes; other keys ignored)
 * into a pack in out_dir as `geoloc dataset pack --shorter-side 0` writes
 * it (the photos' bytes unchanged): records whose id is in meta, with its
 * position and labels; each id once. Each input shard becomes one shard
 * file plus a part file in out_dir/import-state (written atomically when the
 * input is done), and index.bin is assembled from all the parts at the end,
 * so running the same import again skips the shards already imported and
 * continues an interrupted one. Locked against a second importer of out_dir. */
geoloc_status geoloc_dataset_import_msgpack(const char *const *shards, size_t n_shards,
                                            const geoloc_manifest *meta, const char *out_dir,
                                            const geoloc_msgpack_import_options *opt,
                                            geoloc_msgpack_import_stats *stats, geoloc_error *err);

#ifdef __cplusplus
}
#endif
#endif
