/* Training data: the photo table (training manifest, then the validation
 * manifest), the author-grouped split, the check that every photo is there
 * before anything is computed, the photos' source (folder or shards), the
 * partitions and every photo's class in each of them. */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/error.h"
#include "geoloc/calibration.h"
#include "geoloc/scene.h"
#include "train/internal.h"

/* ---- identities ---- */

uint64_t train_mix(uint64_t x) {
    x += 0x9E3779B97F4A7C15ull;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    return x ^ (x >> 31);
}

uint64_t train_hash_bytes(uint64_t h, const void *data, size_t n) {
    const unsigned char *p = data;
    size_t k = 0;
    for (; k + 8 <= n; k += 8) {
        uint64_t w;
        memcpy(&w, p + k, 8);
        h = (h ^ w) * 0x100000001B3ull;
        h ^= h >> 29;
    }
    for (; k < n; k++) h = (h ^ p[k]) * 0x100000001B3ull;
    return train_mix(h ^ n);
}

/* ---- heads by role ---- */

int train_head(const train_data *d, train_head_role role, size_t k) {
    if (role == TRAIN_HEAD_GEO) return k < d->n_parts ? (int)k : -1;
    if (role == TRAIN_HEAD_SCENE) return k < GEOLOC_SCENE_LEVELS ? d->scene_head[k] : -1;
    if (k >= d->n_isn * d->n_parts) return -1;
    return (int)(d->n_heads - d->n_isn * d->n_parts + k); /* the ISN heads come last */
}

const char *train_head_name(const train_data *d, size_t h) {
    return h < d->n_parts ? d->part_name[h] : d->head_name[h];
}

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

static geoloc_status build_table(train_data *d, const train_run *r, geoloc_error *err) {
    const geoloc_train_options *o = r->o;
    size_t nt = o->train->n, nv = o->val ? o->val->n : 0;
    if (nt == 0) return error_set(err, GEOLOC_E_EMPTY, "the training manifest has no photos");
    if (o->val && nv == 0) return error_set(err, GEOLOC_E_EMPTY, "the validation manifest has no photos");
    d->n = nt + nv;
    d->row = malloc(d->n * sizeof *d->row);
    d->train = malloc(d->n * sizeof *d->train);
    d->val = malloc(d->n * sizeof *d->val);
    if (!d->row || !d->train || !d->val) return error_set(err, GEOLOC_E_NOMEM, "out of memory");
    for (size_t k = 0; k < nt; k++) d->row[k] = &o->train->row[k];
    for (size_t k = 0; k < nv; k++) d->row[nt + k] = &o->val->row[k];
    if (o->val) {
        for (size_t k = 0; k < nt; k++) d->train[k] = k;
        for (size_t k = 0; k < nv; k++) d->val[k] = nt + k;
        d->n_train = nt;
        d->n_val = nv;
    } else if (o->val_folds >= 2 || o->val_fraction > 0) {
        if (o->val_folds < 2 && !(o->val_fraction < 1))
            return error_set(err, GEOLOC_E_ARG, "validation fraction %g is not in (0, 1)", o->val_fraction);
        uint8_t *is_val = malloc(nt);
        if (!is_val) return error_set(err, GEOLOC_E_NOMEM, "out of memory");
        geoloc_status s = GEOLOC_OK;
        if (o->val_folds >= 2)
            s = geoloc_calibration_fold_rows(o->train, NULL, o->val_fold, o->val_folds, o->seed, is_val, err);
        geoloc_split_options so = {.val_fraction = o->val_fraction, .seed = o->seed};
        geoloc_split_stats stats;
        if (s == GEOLOC_OK && o->val_folds < 2) s = geoloc_dataset_split(o->train, &so, is_val, &stats, err);
        if (s == GEOLOC_OK) {
            for (size_t k = 0; k < nt; k++) {
                if (is_val[k]) d->val[d->n_val++] = k;
                else d->train[d->n_train++] = k;
            }
            if (!(o->train->columns & GEOLOC_COL_AUTHOR))
                train_warn(r, "the training manifest has no AUTHOR column: photos split one by one");
            if (o->val_folds >= 2)
                train_info(r, "validation: fold %d of %d author-grouped folds (seed %" PRIu64 "): %zu training "
                           "photos, %zu validation photos", o->val_fold, o->val_folds, o->seed, d->n_train,
                           d->n_val);
            else
                train_info(r, "split by author (seed %" PRIu64 "): %zu training photos of %zu groups, "
                           "%zu validation photos of %zu groups", o->seed, stats.n_train,
                           stats.groups_train, stats.n_val, stats.groups_val);
        }
        free(is_val);
        if (s != GEOLOC_OK) return s;
        if (d->n_train == 0 || d->n_val == 0)
            return error_set(err, GEOLOC_E_EMPTY,
                             "the split of %zu photos left %zu for training and %zu for validation",
                             nt, d->n_train, d->n_val);
    } else {
        for (size_t k = 0; k < nt; k++) d->train[k] = k;
        d->n_train = nt;
        train_info(r, "no validation photos: nothing is evaluated");
    }
    uint64_t h = 0x6a09e667f3bcc908ull;
    for (size_t k = 0; k < d->n; k++) h = train_hash_bytes(h, d->row[k]->id, strlen(d->row[k]->id) + 1);
    d->photos_hash = h;
    return GEOLOC_OK;
}

/* ---- where the photos are ---- */

static geoloc_status check_files(train_data *d, const train_run *r, geoloc_error *err) {
    size_t missing = 0;
    char first[3][128] = {{0}};
    char path[TRAIN_PATH * 2];
    for (size_t k = 0; k < d->n; k++) {
        struct stat sb;
        snprintf(path, sizeof path, "%s/%s", r->o->images_dir, d->row[k]->id);
        if (stat(path, &sb) == 0 && S_ISREG(sb.st_mode)) continue;
        if (missing < 3) snprintf(first[missing], sizeof first[0], "%s", d->row[k]->id);
        missing++;
    }
    if (missing)
        return error_set(err, GEOLOC_E_IO, "%zu of the %zu photos are missing under %s: %s%s%s%s%s%s",
                         missing, d->n, r->o->images_dir, first[0], missing > 1 ? ", " : "", first[1],
                         missing > 2 ? ", " : "", first[2], missing > 3 ? ", ..." : "");
    const char **ids = malloc(d->n * sizeof *ids);
    if (!ids) return error_set(err, GEOLOC_E_NOMEM, "out of memory");
    for (size_t k = 0; k < d->n; k++) ids[k] = d->row[k]->id;
    geoloc_status s = geoloc_source_files(r->o->images_dir, ids, d->n, &d->base, err);
    free(ids);
    if (s == GEOLOC_OK) d->has_base = 1;
    return s;
}

typedef struct {
    const char *id;
    size_t index;
} id_entry;

static int cmp_id(const void *a, const void *b) {
    return strcmp(((const id_entry *)a)->id, ((const id_entry *)b)->id);
}

static geoloc_status map_shards(train_data *d, const train_run *r, geoloc_error *err) {
    geoloc_shard_index *index = NULL;
    geoloc_status s = geoloc_shard_index_open(r->o->shards_dir, &index, err);
    if (s != GEOLOC_OK) return s;
    geoloc_shard_info info;
    geoloc_shard_index_info(index, &info);
    id_entry *e = malloc((info.n_photos ? info.n_photos : 1) * sizeof *e);
    d->base_index = malloc(d->n * sizeof *d->base_index);
    if (!e || !d->base_index) {
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
    for (size_t k = 0; k < d->n; k++) {
        id_entry key = {d->row[k]->id, 0};
        const id_entry *hit = info.n_photos ? bsearch(&key, e, info.n_photos, sizeof *e, cmp_id) : NULL;
        if (hit) {
            d->base_index[k] = hit->index;
        } else {
            if (!missing) first = d->row[k]->id;
            missing++;
        }
    }
    if (missing)
        s = error_set(err, GEOLOC_E_IO, "%zu of the %zu photos are not in the shards of %s (first: %s)",
                      missing, d->n, r->o->shards_dir, first);
    free(e);
    geoloc_shard_index_close(index);
    if (s != GEOLOC_OK) return s;
    s = geoloc_source_shards(r->o->shards_dir, 0, &d->base, err);
    if (s == GEOLOC_OK) d->has_base = 1;
    return s;
}

geoloc_status train_data_setup(train_data *d, const train_run *r, geoloc_error *err) {
    const geoloc_train_options *o = r->o;
    if (!o->train) return error_set(err, GEOLOC_E_ARG, "no training manifest");
    if (!o->images_dir == !o->shards_dir)
        return error_set(err, GEOLOC_E_ARG, "give the photos' folder or their shards (one of them)");
    geoloc_status s = build_table(d, r, err);
    if (s != GEOLOC_OK) return s;
    return o->images_dir ? check_files(d, r, err) : map_shards(d, r, err);
}

/* ---- partitions and labels ---- */

static geoloc_status build_partitions(train_data *d, const train_run *r, geoloc_error *err) {
    const geoloc_train_options *o = r->o;
    if (o->n_tau == 0 || o->n_tau > TRAIN_MAX_PARTS)
        return error_set(err, GEOLOC_E_ARG, "give 1 to %d partitions (tau-max values or files)", TRAIN_MAX_PARTS);
    for (size_t k = 0; k < o->n_tau; k++)
        if (o->tau_max[k] <= o->tau_min)
            return error_set(err, GEOLOC_E_ARG, "tau-max %" PRIu64 " must be larger than tau-min %" PRIu64,
                             o->tau_max[k], o->tau_min);
    double *lat = malloc(d->n_train * sizeof *lat), *lng = malloc(d->n_train * sizeof *lng);
    if (!lat || !lng) {
        free(lat);
        free(lng);
        return error_set(err, GEOLOC_E_NOMEM, "out of memory");
    }
    for (size_t k = 0; k < d->n_train; k++) {
        lat[k] = d->row[d->train[k]]->lat;
        lng[k] = d->row[d->train[k]]->lng;
    }
    geoloc_partition_params pp = {o->tau_min, o->tau_max, o->n_tau, 2, 30, 0};
    geoloc_status s = geoloc_partitions_build(lat, lng, d->n_train, &pp, d->owned, err);
    free(lat);
    free(lng);
    if (s != GEOLOC_OK) return s;
    d->n_parts = o->n_tau;
    for (size_t k = 0; k < o->n_tau; k++) {
        d->part[k] = d->owned[k];
        snprintf(d->part_name[k], sizeof d->part_name[k], "cells_%" PRIu64 "_%" PRIu64, o->tau_min, o->tau_max[k]);
        if (d->part[k]->n == 0)
            return error_set(err, GEOLOC_E_EMPTY,
                             "partition %s has no cell: no S2 cell holds more than %" PRIu64
                             " of the %zu training photos (lower --tau-min)",
                             d->part_name[k], o->tau_min, d->n_train);
    }
    return GEOLOC_OK;
}

int train_scene_set(const geoloc_train_options *o) {
    if (o->scene != GEOLOC_SCENE_AUTO) return o->scene;
    return (o->train->columns & GEOLOC_COL_S3) ? GEOLOC_SCENE_S3 : GEOLOC_SCENE_NONE;
}

/* One head per scene level asked for (the set, or S3 when AUTO finds the column), after
 * the geo heads; labels completed by the scene classifier's (d->scene_label) when given. */
static geoloc_status setup_scene(train_data *d, train_run *r, geoloc_error *err) {
    static const unsigned col[GEOLOC_SCENE_LEVELS] = {GEOLOC_COL_S3, GEOLOC_COL_S16, GEOLOC_COL_S365};
    static const char *const name[GEOLOC_SCENE_LEVELS] = {"S3_Label", "S16_Label", "S365_Label"};
    const geoloc_train_options *o = r->o;
    int set = train_scene_set(o);
    if (set < 0 || set > (GEOLOC_SCENE_S3 | GEOLOC_SCENE_S16 | GEOLOC_SCENE_S365))
        return error_set(err, GEOLOC_E_ARG, "bad scene level set %d", o->scene);
    for (int l = 0; l < GEOLOC_SCENE_LEVELS; l++) {
        d->scene_head[l] = -1;
        if (!(set & (1 << l))) continue;
        if (!(o->train->columns & col[l]) && !o->scene_labels)
            return error_set(err, GEOLOC_E_ARG, "scene head %s: the training manifest has no %s column "
                             "(give --scene-labels helper:MODEL to label the photos)",
                             geoloc_scene_level_name(l), name[l]);
        if (!(o->scene_weight[l] >= 0) || !isfinite(o->scene_weight[l]))
            return error_set(err, GEOLOC_E_ARG, "scene weight of %s: a finite number >= 0 is needed",
                             geoloc_scene_level_name(l));
        size_t h = d->n_heads, labelled = 0;
        if (h >= TRAIN_MAX_HEADS) return error_set(err, GEOLOC_E_ARG, "more than %d heads", TRAIN_MAX_HEADS);
        if (!(d->label[h] = malloc(d->n * sizeof *d->label[h]))) return error_set(err, GEOLOC_E_NOMEM, "out of memory");
        d->n_heads++; /* label[h] is freed with the data from here on */
        for (size_t k = 0; k < d->n; k++) d->label[h][k] = d->scene_label[l] ? d->scene_label[l][k] : d->row[k]->label[l];
        for (size_t k = 0; k < d->n_train; k++) labelled += d->label[h][d->train[k]] >= 0;
        if (labelled == 0) {
            if (o->scene != GEOLOC_SCENE_AUTO)
                return error_set(err, GEOLOC_E_EMPTY, "scene head %s: no training photo has a %s",
                                 geoloc_scene_level_name(l), name[l]);
            free(d->label[h]);
            d->label[h] = NULL;
            d->n_heads--;
            train_warn(r, "no training photo has a %s: no scene head", name[l]);
            continue;
        }
        d->scene_head[l] = (int)h;
        d->classes[h] = (int)geoloc_scene_level_classes(l);
        d->head_weight[h] = (float)o->scene_weight[l];
        snprintf(d->head_name[h], sizeof d->head_name[h], "scene_%s", geoloc_scene_level_name(l));
        train_info(r, "scene head %s: %zu of %zu training photos labelled%s", geoloc_scene_level_name(l), labelled,
                   d->n_train, o->scene_labels ? " (with the scene classifier's)" : "");
    }
    return GEOLOC_OK;
}

/* Individual Scene Networks: per S3 scene s and partition f a head with partition f's
 * labels of the photos whose S3 label is s (-1 for the others). */
static geoloc_status setup_isn(train_data *d, const train_run *r, geoloc_error *err) {
    if (!r->o->isn) return GEOLOC_OK;
    int s3 = d->scene_head[GEOLOC_SCENE_LEVEL_S3];
    if (s3 < 0) return error_set(err, GEOLOC_E_ARG, "Individual Scene Networks need the S3 scene head (--scene S3)");
    if (d->n_parts == 0) return error_set(err, GEOLOC_E_ARG, "Individual Scene Networks need partitions");
    size_t n_isn = (size_t)d->classes[s3];
    if (d->n_heads + n_isn * d->n_parts > TRAIN_MAX_HEADS)
        return error_set(err, GEOLOC_E_ARG, "Individual Scene Networks: more than %d heads", TRAIN_MAX_HEADS);
    for (size_t sc = 0; sc < n_isn; sc++) {
        size_t photos = 0;
        for (size_t k = 0; k < d->n_train; k++) photos += d->label[s3][d->train[k]] == (int32_t)sc;
        if (photos == 0)
            train_warn(r, "ISN of S3 scene %zu (%s): no training photo", sc, geoloc_s3_label_name((int)sc));
        for (size_t f = 0; f < d->n_parts; f++) {
            size_t h = d->n_heads;
            if (!(d->label[h] = malloc(d->n * sizeof *d->label[h]))) return error_set(err, GEOLOC_E_NOMEM, "out of memory");
            d->n_heads++;
            for (size_t k = 0; k < d->n; k++) d->label[h][k] = d->label[s3][k] == (int32_t)sc ? d->label[f][k] : -1;
            d->classes[h] = d->classes[f];
            d->head_weight[h] = d->head_weight[f];
            snprintf(d->head_name[h], sizeof d->head_name[h], "isn%zu_geo%zu", sc, f);
        }
        train_info(r, "ISN of S3 scene %zu (%s): %zu training photos", sc, geoloc_s3_label_name((int)sc), photos);
    }
    d->n_isn = n_isn;
    return GEOLOC_OK;
}

geoloc_status train_labels_setup(train_data *d, train_run *r, geoloc_error *err) {
    const geoloc_train_options *o = r->o;
    geoloc_status s;
    if (!(o->geo_weight >= 0) || !isfinite(o->geo_weight))
        return error_set(err, GEOLOC_E_ARG, "geo weight: a finite number >= 0 is needed");
    if (o->no_geo) {
        if (o->partitions || o->n_tau || o->isn || o->baselines)
            return error_set(err, GEOLOC_E_ARG, "a scene classifier (no geo heads) takes no partitions, ISNs "
                             "or baselines");
        if (o->scene == GEOLOC_SCENE_NONE || o->scene == GEOLOC_SCENE_AUTO)
            return error_set(err, GEOLOC_E_ARG, "a scene classifier needs scene levels (S3, S16, S365)");
    } else if (o->partitions) {
        if (o->n_partitions == 0 || o->n_partitions > TRAIN_MAX_PARTS)
            return error_set(err, GEOLOC_E_ARG, "give 1 to %d partitions", TRAIN_MAX_PARTS);
        d->n_parts = o->n_partitions;
        for (size_t k = 0; k < d->n_parts; k++) {
            d->part[k] = o->partitions[k];
            snprintf(d->part_name[k], sizeof d->part_name[k], "%s",
                     o->partition_names && o->partition_names[k] ? o->partition_names[k] : "cells");
            if (d->part[k]->n == 0) return error_set(err, GEOLOC_E_EMPTY, "partition %s has no cell", d->part_name[k]);
        }
    } else if ((s = build_partitions(d, r, err)) != GEOLOC_OK) {
        return s;
    }
    d->n_heads = d->n_parts;
    for (size_t p = 0; p < d->n_parts; p++) {
        const geoloc_partition *part = d->part[p];
        d->classes[p] = (int)part->n;
        d->head_weight[p] = (float)(o->geo_weight * (o->loss_sum ? 1.0 : 1.0 / (double)d->n_parts));
        if (!(d->label[p] = malloc(d->n * sizeof *d->label[p]))) return error_set(err, GEOLOC_E_NOMEM, "out of memory");
        size_t in_train = 0, in_val = 0;
        for (size_t k = 0; k < d->n; k++)
            d->label[p][k] = (int32_t)geoloc_partition_find_latlng(part, d->row[k]->lat, d->row[k]->lng);
        for (size_t k = 0; k < d->n_train; k++) in_train += d->label[p][d->train[k]] >= 0;
        for (size_t k = 0; k < d->n_val; k++) in_val += d->label[p][d->val[k]] >= 0;
        if (in_train == 0)
            return error_set(err, GEOLOC_E_RANGE,
                             "none of the %zu training photos lies in a cell of partition %s "
                             "(%zu cells): wrong partition file, or LAT/LON swapped?",
                             d->n_train, d->part_name[p], part->n);
        if (d->n_val && in_val == 0)
            train_warn(r, "none of the %zu validation photos lies in a cell of partition %s",
                       d->n_val, d->part_name[p]);
        train_info(r, "partition %s: %zu classes; %zu of %zu training photos and %zu of %zu validation "
                   "photos in a cell", d->part_name[p], part->n, in_train, d->n_train, in_val, d->n_val);
    }
    if (d->n_parts > 1) { /* the hierarchy itself is the model's (geoloc_model_create) */
        const geoloc_partition *fine = d->part[d->n_parts - 1];
        int32_t *anc = malloc(fine->n * sizeof *anc);
        if (!anc) return error_set(err, GEOLOC_E_NOMEM, "out of memory");
        for (size_t p = 0; p + 1 < d->n_parts; p++) {
            size_t orphans = geoloc_partition_ancestors(fine, d->part[p], anc);
            if (orphans)
                train_warn(r, "%zu cells of %s lie in no cell of %s", orphans, d->part_name[d->n_parts - 1],
                           d->part_name[p]);
        }
        free(anc);
    }
    if ((s = setup_scene(d, r, err)) != GEOLOC_OK || (s = setup_isn(d, r, err)) != GEOLOC_OK) return s;
    /* identity of the data for checkpoints: photos, split, labels, partitions */
    uint64_t h = d->photos_hash;
    h = train_hash_bytes(h, d->train, d->n_train * sizeof *d->train);
    h = train_hash_bytes(h, d->val, d->n_val * sizeof *d->val);
    for (size_t k = 0; k < d->n_heads; k++) h = train_hash_bytes(h, d->label[k], d->n * sizeof *d->label[k]);
    for (size_t p = 0; p < d->n_parts; p++) {
        h = train_hash_bytes(h, d->part[p]->cell, d->part[p]->n * sizeof *d->part[p]->cell);
        h = train_hash_bytes(h, d->part[p]->lat, d->part[p]->n * sizeof *d->part[p]->lat);
        h = train_hash_bytes(h, d->part[p]->lng, d->part[p]->n * sizeof *d->part[p]->lng);
    }
    d->data_hash = h;
    return GEOLOC_OK;
}

void train_data_free(train_data *d) {
    if (d->has_base) geoloc_source_close(&d->base);
    free(d->base_index);
    free(d->row);
    free(d->train);
    free(d->val);
    for (size_t k = 0; k < TRAIN_MAX_PARTS; k++) geoloc_partition_free(d->owned[k]);
    for (size_t k = 0; k < TRAIN_MAX_HEADS; k++) free(d->label[k]);
    for (size_t l = 0; l < GEOLOC_SCENE_LEVELS; l++) free(d->scene_label[l]);
}
