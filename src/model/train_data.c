/* Training data: the photo table (training manifest, then the validation
 * manifest), the author-grouped split, the check that every photo is there
 * before anything is computed, the photos' source (folder or shards), the
 * partitions and every photo's class in each of them. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/error.h"
#include "model/train_internal.h"

/* ---- a source over some photos of the table ---- */

static geoloc_status subset_read(void *ctx, size_t index, const uint8_t **data, size_t *size,
                                 const char **name, geoloc_error *err) {
    const train_subset *s = ctx;
    size_t k = s->list[index];
    size_t b = s->base_index ? s->base_index[k] : k;
    return s->base->read(s->base->ctx, b, data, size, name, err);
}

static void subset_release(void *ctx, const uint8_t *data, size_t size) {
    const train_subset *s = ctx;
    if (s->base->release) s->base->release(s->base->ctx, data, size);
}

geoloc_source train_subset_source(train_subset *s) {
    geoloc_source src = {.n = s->n, .read = subset_read, .release = subset_release, .ctx = s};
    return src;
}

/* ---- the photo table and the split ---- */

static geoloc_status build_table(train_ctx *c, geoloc_error *err) {
    const geoloc_train_options *o = c->o;
    size_t nt = o->train->n, nv = o->val ? o->val->n : 0;
    if (nt == 0) return error_set(err, GEOLOC_E_EMPTY, "the training manifest has no photos");
    if (o->val && nv == 0) return error_set(err, GEOLOC_E_EMPTY, "the validation manifest has no photos");
    c->n = nt + nv;
    c->row = malloc(c->n * sizeof *c->row);
    c->train = malloc(c->n * sizeof *c->train);
    c->val = malloc(c->n * sizeof *c->val);
    if (!c->row || !c->train || !c->val) return error_set(err, GEOLOC_E_NOMEM, "out of memory");
    for (size_t k = 0; k < nt; k++) c->row[k] = &o->train->row[k];
    for (size_t k = 0; k < nv; k++) c->row[nt + k] = &o->val->row[k];
    if (o->val) {
        for (size_t k = 0; k < nt; k++) c->train[k] = k;
        for (size_t k = 0; k < nv; k++) c->val[k] = nt + k;
        c->n_train = nt;
        c->n_val = nv;
    } else if (o->val_fraction > 0) {
        if (!(o->val_fraction < 1))
            return error_set(err, GEOLOC_E_ARG, "validation fraction %g is not in (0, 1)", o->val_fraction);
        uint8_t *is_val = malloc(nt);
        if (!is_val) return error_set(err, GEOLOC_E_NOMEM, "out of memory");
        geoloc_split_options so = {.val_fraction = o->val_fraction, .seed = o->seed};
        geoloc_split_stats stats;
        geoloc_status s = geoloc_dataset_split(o->train, &so, is_val, &stats, err);
        if (s == GEOLOC_OK) {
            for (size_t k = 0; k < nt; k++) {
                if (is_val[k]) c->val[c->n_val++] = k;
                else c->train[c->n_train++] = k;
            }
            if (!(o->train->columns & GEOLOC_COL_AUTHOR))
                train_warn(c, "the training manifest has no AUTHOR column: photos split one by one");
            train_info(c, "split by author (seed %" PRIu64 "): %zu training photos of %zu groups, "
                       "%zu validation photos of %zu groups", o->seed, stats.n_train,
                       stats.groups_train, stats.n_val, stats.groups_val);
        }
        free(is_val);
        if (s != GEOLOC_OK) return s;
        if (c->n_train == 0 || c->n_val == 0)
            return error_set(err, GEOLOC_E_EMPTY,
                             "the split of %zu photos left %zu for training and %zu for validation",
                             nt, c->n_train, c->n_val);
    } else {
        for (size_t k = 0; k < nt; k++) c->train[k] = k;
        c->n_train = nt;
        train_info(c, "no validation photos: nothing is evaluated");
    }
    uint64_t h = 0x6a09e667f3bcc908ull;
    for (size_t k = 0; k < c->n; k++) h = train_hash_bytes(h, c->row[k]->id, strlen(c->row[k]->id) + 1);
    c->photos_hash = h;
    return GEOLOC_OK;
}

/* ---- where the photos are ---- */

static geoloc_status check_files(train_ctx *c, geoloc_error *err) {
    size_t missing = 0;
    char first[3][128] = {{0}};
    char path[TRAIN_PATH * 2];
    for (size_t k = 0; k < c->n; k++) {
        struct stat sb;
        snprintf(path, sizeof path, "%s/%s", c->o->images_dir, c->row[k]->id);
        if (stat(path, &sb) == 0 && S_ISREG(sb.st_mode)) continue;
        if (missing < 3) snprintf(first[missing], sizeof first[0], "%s", c->row[k]->id);
        missing++;
    }
    if (missing)
        return error_set(err, GEOLOC_E_IO, "%zu of the %zu photos are missing under %s: %s%s%s%s%s%s",
                         missing, c->n, c->o->images_dir, first[0], missing > 1 ? ", " : "", first[1],
                         missing > 2 ? ", " : "", first[2], missing > 3 ? ", ..." : "");
    const char **ids = malloc(c->n * sizeof *ids);
    if (!ids) return error_set(err, GEOLOC_E_NOMEM, "out of memory");
    for (size_t k = 0; k < c->n; k++) ids[k] = c->row[k]->id;
    geoloc_status s = geoloc_source_files(c->o->images_dir, ids, c->n, &c->base, err);
    free(ids);
    if (s == GEOLOC_OK) c->has_base = 1;
    return s;
}

typedef struct {
    const char *id;
    size_t index;
} id_entry;

static int cmp_id(const void *a, const void *b) {
    return strcmp(((const id_entry *)a)->id, ((const id_entry *)b)->id);
}

static geoloc_status map_shards(train_ctx *c, geoloc_error *err) {
    geoloc_shard_index *index = NULL;
    geoloc_status s = geoloc_shard_index_open(c->o->shards_dir, &index, err);
    if (s != GEOLOC_OK) return s;
    geoloc_shard_info info;
    geoloc_shard_index_info(index, &info);
    id_entry *e = malloc((info.n_photos ? info.n_photos : 1) * sizeof *e);
    c->base_index = malloc(c->n * sizeof *c->base_index);
    if (!e || !c->base_index) {
        free(e);
        geoloc_shard_index_close(index);
        return error_set(err, GEOLOC_E_NOMEM, "out of memory");
    }
    for (size_t k = 0; k < info.n_photos; k++) {
        geoloc_shard_entry en;
        geoloc_shard_index_entry(index, k, &en);
        e[k].id = en.id;
        e[k].index = k;
    }
    qsort(e, info.n_photos, sizeof *e, cmp_id);
    size_t missing = 0;
    const char *first = NULL;
    for (size_t k = 0; k < c->n; k++) {
        id_entry key = {c->row[k]->id, 0};
        const id_entry *hit = info.n_photos ? bsearch(&key, e, info.n_photos, sizeof *e, cmp_id) : NULL;
        if (hit) {
            c->base_index[k] = hit->index;
        } else {
            if (!missing) first = c->row[k]->id;
            missing++;
        }
    }
    if (missing)
        s = error_set(err, GEOLOC_E_IO, "%zu of the %zu photos are not in the shards of %s (first: %s)",
                      missing, c->n, c->o->shards_dir, first);
    free(e);
    geoloc_shard_index_close(index);
    if (s != GEOLOC_OK) return s;
    s = geoloc_source_shards(c->o->shards_dir, 0, &c->base, err);
    if (s == GEOLOC_OK) c->has_base = 1;
    return s;
}

geoloc_status train_data_setup(train_ctx *c, geoloc_error *err) {
    const geoloc_train_options *o = c->o;
    if (!o->train) return error_set(err, GEOLOC_E_ARG, "no training manifest");
    if (!o->images_dir == !o->shards_dir)
        return error_set(err, GEOLOC_E_ARG, "give the photos' folder or their shards (one of them)");
    geoloc_status s = build_table(c, err);
    if (s != GEOLOC_OK) return s;
    return o->images_dir ? check_files(c, err) : map_shards(c, err);
}

/* ---- partitions and labels ---- */

static geoloc_status build_partitions(train_ctx *c, geoloc_error *err) {
    const geoloc_train_options *o = c->o;
    if (o->n_tau == 0 || o->n_tau > TRAIN_MAX_PARTS)
        return error_set(err, GEOLOC_E_ARG, "give 1 to %d partitions (tau-max values or files)", TRAIN_MAX_PARTS);
    for (size_t k = 0; k < o->n_tau; k++)
        if (o->tau_max[k] <= o->tau_min)
            return error_set(err, GEOLOC_E_ARG, "tau-max %" PRIu64 " must be larger than tau-min %" PRIu64,
                             o->tau_max[k], o->tau_min);
    double *lat = malloc(c->n_train * sizeof *lat), *lng = malloc(c->n_train * sizeof *lng);
    if (!lat || !lng) {
        free(lat);
        free(lng);
        return error_set(err, GEOLOC_E_NOMEM, "out of memory");
    }
    for (size_t k = 0; k < c->n_train; k++) {
        lat[k] = c->row[c->train[k]]->lat;
        lng[k] = c->row[c->train[k]]->lng;
    }
    geoloc_partition_params pp = {o->tau_min, o->tau_max, o->n_tau, 2, 30, 0};
    geoloc_status s = geoloc_partitions_build(lat, lng, c->n_train, &pp, c->owned, err);
    free(lat);
    free(lng);
    if (s != GEOLOC_OK) return s;
    c->n_parts = o->n_tau;
    for (size_t k = 0; k < o->n_tau; k++) {
        c->part[k] = c->owned[k];
        snprintf(c->part_name[k], sizeof c->part_name[k], "cells_%" PRIu64 "_%" PRIu64, o->tau_min, o->tau_max[k]);
        if (c->part[k]->n == 0)
            return error_set(err, GEOLOC_E_EMPTY,
                             "partition %s has no cell: no S2 cell holds more than %" PRIu64
                             " of the %zu training photos (lower --tau-min)",
                             c->part_name[k], o->tau_min, c->n_train);
    }
    return GEOLOC_OK;
}

static geoloc_status setup_scene(train_ctx *c, geoloc_error *err) {
    static const unsigned col[3] = {GEOLOC_COL_S3, GEOLOC_COL_S16, GEOLOC_COL_S365};
    static const char *const name[3] = {"S3_Label", "S16_Label", "S365_Label"};
    static const int classes[3] = {3, 16, 365};
    int kind = c->o->scene;
    if (kind == GEOLOC_SCENE_AUTO) kind = (c->o->train->columns & GEOLOC_COL_S3) ? GEOLOC_SCENE_S3 : GEOLOC_SCENE_NONE;
    c->scene_kind = GEOLOC_SCENE_NONE;
    if (kind == GEOLOC_SCENE_NONE) return GEOLOC_OK;
    if (kind < 0 || kind > 2) return error_set(err, GEOLOC_E_ARG, "bad scene kind %d", kind);
    if (!(c->o->train->columns & col[kind]))
        return error_set(err, GEOLOC_E_ARG, "scene head: the training manifest has no %s column", name[kind]);
    size_t h = c->n_parts, labelled = 0;
    c->label[h] = malloc(c->n * sizeof *c->label[h]);
    if (!c->label[h]) return error_set(err, GEOLOC_E_NOMEM, "out of memory");
    for (size_t k = 0; k < c->n; k++) c->label[h][k] = c->row[k]->label[kind];
    for (size_t k = 0; k < c->n_train; k++) labelled += c->label[h][c->train[k]] >= 0;
    if (labelled == 0) {
        free(c->label[h]);
        c->label[h] = NULL;
        if (c->o->scene != GEOLOC_SCENE_AUTO)
            return error_set(err, GEOLOC_E_EMPTY, "scene head: no training photo has a %s", name[kind]);
        train_warn(c, "no training photo has a %s: no scene head", name[kind]);
        return GEOLOC_OK;
    }
    c->scene_kind = kind;
    c->classes[h] = classes[kind];
    c->head_weight[h] = 1.0f;
    c->n_heads = h + 1;
    train_info(c, "scene head: %s, %zu of %zu training photos labelled", name[kind], labelled, c->n_train);
    return GEOLOC_OK;
}

geoloc_status train_labels_setup(train_ctx *c, geoloc_error *err) {
    const geoloc_train_options *o = c->o;
    geoloc_status s;
    if (o->partitions) {
        if (o->n_partitions == 0 || o->n_partitions > TRAIN_MAX_PARTS)
            return error_set(err, GEOLOC_E_ARG, "give 1 to %d partitions", TRAIN_MAX_PARTS);
        c->n_parts = o->n_partitions;
        for (size_t k = 0; k < c->n_parts; k++) {
            c->part[k] = o->partitions[k];
            snprintf(c->part_name[k], sizeof c->part_name[k], "%s",
                     o->partition_names && o->partition_names[k] ? o->partition_names[k] : "cells");
            if (c->part[k]->n == 0) return error_set(err, GEOLOC_E_EMPTY, "partition %s has no cell", c->part_name[k]);
        }
    } else if ((s = build_partitions(c, err)) != GEOLOC_OK) {
        return s;
    }
    c->n_heads = c->n_parts;
    for (size_t p = 0; p < c->n_parts; p++) {
        const geoloc_partition *part = c->part[p];
        c->classes[p] = (int)part->n;
        c->head_weight[p] = o->loss_sum ? 1.0f : (float)(1.0 / (double)c->n_parts);
        if (!(c->label[p] = malloc(c->n * sizeof *c->label[p]))) return error_set(err, GEOLOC_E_NOMEM, "out of memory");
        size_t in_train = 0, in_val = 0;
        for (size_t k = 0; k < c->n; k++)
            c->label[p][k] = (int32_t)geoloc_partition_find_latlng(part, c->row[k]->lat, c->row[k]->lng);
        for (size_t k = 0; k < c->n_train; k++) in_train += c->label[p][c->train[k]] >= 0;
        for (size_t k = 0; k < c->n_val; k++) in_val += c->label[p][c->val[k]] >= 0;
        if (in_train == 0)
            return error_set(err, GEOLOC_E_RANGE,
                             "none of the %zu training photos lies in a cell of partition %s "
                             "(%zu cells): wrong partition file, or LAT/LON swapped?",
                             c->n_train, c->part_name[p], part->n);
        if (c->n_val && in_val == 0)
            train_warn(c, "none of the %zu validation photos lies in a cell of partition %s",
                       c->n_val, c->part_name[p]);
        train_info(c, "partition %s: %zu classes; %zu of %zu training photos and %zu of %zu validation "
                   "photos in a cell", c->part_name[p], part->n, in_train, c->n_train, in_val, c->n_val);
    }
    if (c->n_parts > 1) {
        const geoloc_partition *fine = c->part[c->n_parts - 1];
        for (size_t p = 0; p + 1 < c->n_parts; p++) {
            if (!(c->anc[p] = malloc(fine->n * sizeof *c->anc[p]))) return error_set(err, GEOLOC_E_NOMEM, "out of memory");
            size_t orphans = geoloc_partition_ancestors(fine, c->part[p], c->anc[p]);
            if (orphans)
                train_warn(c, "%zu cells of %s lie in no cell of %s", orphans, c->part_name[c->n_parts - 1],
                           c->part_name[p]);
        }
    }
    if ((s = setup_scene(c, err)) != GEOLOC_OK) return s;
    /* identity of the data for checkpoints: photos, split, labels, partitions */
    uint64_t h = c->photos_hash;
    h = train_hash_bytes(h, c->train, c->n_train * sizeof *c->train);
    h = train_hash_bytes(h, c->val, c->n_val * sizeof *c->val);
    for (size_t k = 0; k < c->n_heads; k++) h = train_hash_bytes(h, c->label[k], c->n * sizeof *c->label[k]);
    for (size_t p = 0; p < c->n_parts; p++) {
        h = train_hash_bytes(h, c->part[p]->cell, c->part[p]->n * sizeof *c->part[p]->cell);
        h = train_hash_bytes(h, c->part[p]->lat, c->part[p]->n * sizeof *c->part[p]->lat);
        h = train_hash_bytes(h, c->part[p]->lng, c->part[p]->n * sizeof *c->part[p]->lng);
    }
    c->data_hash = h;
    return GEOLOC_OK;
}

void train_data_free(train_ctx *c) {
    if (c->has_base) geoloc_source_close(&c->base);
    free(c->base_index);
    free(c->row);
    free(c->train);
    free(c->val);
    for (size_t k = 0; k < TRAIN_MAX_PARTS; k++) {
        geoloc_partition_free(c->owned[k]);
        free(c->anc[k]);
    }
    for (size_t k = 0; k < TRAIN_MAX_HEADS; k++) free(c->label[k]);
}
