/* Writing shard packs (format in src/dataset/shard.c): the shard files and
 * the index records, either as one whole pack (geoloc dataset pack) or as
 * parts committed one at a time and assembled into the index afterwards
 * (geoloc dataset import-msgpack, resumable). Internal API. */
#ifndef GEOLOC_DATASET_SHARD_WRITER_H
#define GEOLOC_DATASET_SHARD_WRITER_H

#include <stdint.h>
#include <stdio.h>

#include "dataset/shard_encode.h"
#include "geoloc/dataset.h"

#define SHARD_PATH_BYTES 4200
/* A part file: an index file (same header, records, table, text) whose
 * magic is PART_MAGIC and whose reserved header field holds the number of
 * its first shard; the records name the shards by their pack-wide numbers. */
#define PART_MAGIC "GEOLOCPT"

/* What a writer writes: the pack's set id, its first shard's number, the
 * size beyond which a new shard starts, the GEOLOC_COL_* columns kept, the
 * stored photos' shorter side (-1: files stored unchanged) and quality. */
typedef struct shard_writer_params {
    uint64_t set_id;
    uint32_t first_shard;
    uint64_t limit;
    unsigned columns;
    int side, quality;
} shard_writer_params;

typedef struct shard_writer {
    char dir[SHARD_PATH_BYTES - 100]; /* short enough for any file name in it */
    shard_writer_params p;
    FILE *shard;             /* current shard, or NULL */
    uint64_t shard_size, shard_count;
    char **tmp;              /* temporary name of each shard */
    uint64_t *bytes, *count; /* per shard */
    uint32_t n_shards, cap;
    FILE *index, *text;      /* temporary index (records) and text files */
    char index_tmp[SHARD_PATH_BYTES], text_tmp[SHARD_PATH_BYTES];
    uint64_t n_photos, text_size, photo_bytes;
} shard_writer;

/* A header read back from a part file (shard_part_read). */
typedef struct shard_part {
    uint64_t set_id, n_photos, text_size;
    uint32_t first_shard, n_shards;
    unsigned columns;
    int side, quality;
} shard_part;

/* A new random set id (never 0). */
uint64_t shard_new_set_id(void);

/* Starts writing into dir (temporary files only until a commit). */
geoloc_status shard_writer_open(shard_writer *w, const char *dir, const shard_writer_params *p,
                                geoloc_error *err);

/* Appends one photo: its bytes to the current shard, its record to the index. */
geoloc_status shard_writer_add(shard_writer *w, const geoloc_manifest_row *row, const shard_photo *p,
                               geoloc_error *err);

/* Renames the shards into place and writes dir/index.bin last; shard files
 * of an older, larger pack beyond the new count are removed. */
geoloc_status shard_writer_commit(shard_writer *w, geoloc_error *err);

/* Renames the shards into place, then writes their records as the part
 * file part_path (atomically: temporary name, fsync, rename). */
geoloc_status shard_writer_commit_part(shard_writer *w, const char *part_path, geoloc_error *err);

/* Removes what was not committed and frees the writer (also after a commit). */
void shard_writer_abort(shard_writer *w);

/* Reads and checks a part file's header (its size included); with text
 * non-NULL, also its text area (malloc'd, p->text_size bytes). */
geoloc_status shard_part_read(const char *path, shard_part *p, char **text, geoloc_error *err);

/* Writes dir/index.bin (atomically) from the part files parts[0..n), given
 * in shard order: one set id, columns and photo kind, shards numbered from 0
 * without gaps. */
geoloc_status shard_index_assemble(const char *dir, char *const *parts, size_t n, geoloc_error *err);

#endif
