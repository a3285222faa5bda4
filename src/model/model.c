/* Geolocation models in memory: creation from partitions and a backbone
 * configuration, the hierarchy between the partitions, extra metadata, and
 * where model and backbone files are found. Files: model_io.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/error.h"
#include "geo/partition_internal.h"
#include "model/model_internal.h"

geoloc_model *model_alloc(void) {
    geoloc_model *m = calloc(1, sizeof *m);
    if (!m) return NULL;
    m->norm = GEOLOC_NORM_IMAGENET;
    m->image_size = 224;
    return m;
}

void geoloc_model_free(geoloc_model *m) {
    if (!m) return;
    geoloc_net_free(m->net);
    for (size_t f = 0; f < GEOLOC_MODEL_MAX_PARTITIONS; f++) {
        geoloc_partition_free(m->partitions[f]);
        for (size_t c = 0; c < GEOLOC_MODEL_MAX_PARTITIONS; c++) free(m->ancestor[f][c]);
    }
    for (size_t s = 0; m->scene_names && s < m->n_scenes; s++) free(m->scene_names[s]);
    free(m->scene_names);
    for (size_t k = 0; k < m->n_meta; k++) {
        free(m->meta_keys[k]);
        free(m->meta_values[k]);
    }
    free(m->meta_keys);
    free(m->meta_values);
    geoloc_calibration_free(m->calibration);
    free(m);
}

int model_feature_dim(int depth) {
    switch (depth) {
    case 18:
    case 34: return 512;
    case 50:
    case 101:
    case 152: return 2048;
    default: return 0;
    }
}

static const char *const RESERVED[] = {
    "geoloc.format",     "geoloc.arch",   "geoloc.stride_in_bottleneck", "geoloc.bn_eps",
    "geoloc.conv_bias",  "geoloc.heads",  "geoloc.partitions",           "geoloc.scenes",
    "geoloc.input",      "geoloc.image_size", "geoloc.backbone",         "geoloc.num_images",
    "geoloc.scenes.S3",  "geoloc.scenes.S16", "geoloc.scenes.S365",     "geoloc.isn",
    MODEL_TUNED_KEY,
    GEOLOC_ST_CHECKSUM_KEY, MODEL_CALIBRATION_KEY};

int model_reserved_key(const char *key) {
    for (size_t k = 0; k < sizeof RESERVED / sizeof RESERVED[0]; k++)
        if (!strcmp(key, RESERVED[k])) return 1;
    return 0;
}

int model_check_name(const char *name, char forbidden) {
    size_t n = strlen(name);
    if (n == 0 || n > 63) return -1;
    for (size_t k = 0; k < n; k++)
        if ((unsigned char)name[k] < 0x20 || name[k] == 0x7f || (forbidden && name[k] == forbidden))
            return -1;
    return 0;
}

const char *geoloc_model_input_name(geoloc_norm norm) {
    return norm == GEOLOC_NORM_CAFFE ? "caffe_bgr" : norm == GEOLOC_NORM_NONE ? "none" : "imagenet";
}

const char *model_norm_name(geoloc_norm norm) { return geoloc_model_input_name(norm); }

int model_norm_parse(const char *text, geoloc_norm *out) {
    if (!strcmp(text, "imagenet")) *out = GEOLOC_NORM_IMAGENET;
    else if (!strcmp(text, "caffe_bgr")) *out = GEOLOC_NORM_CAFFE;
    else if (!strcmp(text, "none")) *out = GEOLOC_NORM_NONE;
    else return -1;
    return 0;
}

geoloc_status model_compute_hierarchy(geoloc_model *m, geoloc_error *err) {
    for (size_t f = 1; f < m->n_partitions; f++)
        for (size_t c = 0; c < f; c++) {
            size_t n = m->partitions[f]->n;
            free(m->ancestor[f][c]);
            m->ancestor[f][c] = malloc((n ? n : 1) * sizeof(int32_t));
            if (!m->ancestor[f][c]) return error_set(err, GEOLOC_E_NOMEM, "out of memory");
            geoloc_partition_ancestors(m->partitions[f], m->partitions[c], m->ancestor[f][c]);
        }
    return GEOLOC_OK;
}

static const char *const LEVEL_NAMES[GEOLOC_SCENE_LEVELS] = {"S3", "S16", "S365"};

const char *geoloc_scene_level_name(int level) {
    return level >= 0 && level < GEOLOC_SCENE_LEVELS ? LEVEL_NAMES[level] : NULL;
}

int geoloc_scene_level_parse(const char *name) {
    for (int l = 0; name && l < GEOLOC_SCENE_LEVELS; l++)
        if (!strcasecmp(name, LEVEL_NAMES[l])) return l;
    return -1;
}

void model_head_name(const geoloc_model *m, geoloc_head_role role, size_t k, char *out, size_t size) {
    if (role == GEOLOC_HEAD_GEO) snprintf(out, size, "geo%zu", k);
    else if (role == GEOLOC_HEAD_SCENE && m->scene_legacy) snprintf(out, size, "%s", MODEL_SCENE_HEAD);
    else if (role == GEOLOC_HEAD_SCENE) snprintf(out, size, "%s_%s", MODEL_SCENE_HEAD, LEVEL_NAMES[k % 3]);
    else snprintf(out, size, "isn%zu_geo%zu", k / m->n_partitions, k % m->n_partitions);
}

void model_set_heads(geoloc_model *m, const geoloc_resnet_config *base) {
    m->config = *base;
    m->config.n_heads = 0;
    for (size_t f = 0; f < m->n_partitions; f++) {
        geoloc_head_config *h = &m->config.heads[m->config.n_heads++];
        memset(h, 0, sizeof *h);
        model_head_name(m, GEOLOC_HEAD_GEO, f, h->name, sizeof h->name);
        h->classes = (int)m->partitions[f]->n;
    }
    for (size_t l = 0; l < GEOLOC_SCENE_LEVELS; l++) {
        if (!m->scene_classes[l]) continue;
        geoloc_head_config *h = &m->config.heads[m->config.n_heads++];
        memset(h, 0, sizeof *h);
        model_head_name(m, GEOLOC_HEAD_SCENE, l, h->name, sizeof h->name);
        h->classes = (int)m->scene_classes[l];
    }
    for (size_t k = 0; k < m->n_isn * m->n_partitions; k++) {
        geoloc_head_config *h = &m->config.heads[m->config.n_heads++];
        memset(h, 0, sizeof *h);
        model_head_name(m, GEOLOC_HEAD_ISN, k, h->name, sizeof h->name);
        h->classes = (int)m->partitions[k % m->n_partitions]->n;
    }
}

size_t model_head_count(size_t n_partitions, const size_t *scene_classes, size_t n_isn) {
    size_t n = n_partitions * (1 + n_isn);
    for (size_t l = 0; l < GEOLOC_SCENE_LEVELS; l++) n += scene_classes[l] > 0;
    return n;
}

geoloc_status model_set_scenes(geoloc_model *m, const geoloc_scene_heads *sc, geoloc_error *err) {
    size_t total = 0;
    for (size_t l = 0; l < GEOLOC_SCENE_LEVELS; l++) {
        if (sc->n[l] > 100000 || (sc->n[l] && !sc->names[l]))
            return error_set(err, GEOLOC_E_ARG, "model: %zu %s scene classes without names", sc->n[l], LEVEL_NAMES[l]);
        for (size_t s = 0; s < sc->n[l]; s++)
            if (!sc->names[l][s] || model_check_name(sc->names[l][s], 0) != 0)
                return error_set(err, GEOLOC_E_ARG, "model: %s scene %zu: a name of 1-63 characters "
                                 "without control characters is needed", LEVEL_NAMES[l], s);
        total += sc->n[l];
    }
    if (sc->isn && sc->n[GEOLOC_SCENE_LEVEL_S3] < 2)
        return error_set(err, GEOLOC_E_ARG, "model: Individual Scene Networks need an S3 scene head");
    if (sc->isn && m->n_partitions == 0)
        return error_set(err, GEOLOC_E_ARG, "model: Individual Scene Networks need partitions");
    if (total && !(m->scene_names = calloc(total, sizeof *m->scene_names))) /* NULLs free fine */
        return error_set(err, GEOLOC_E_NOMEM, "out of memory");
    m->n_scenes = total;
    for (size_t l = 0, at = 0; l < GEOLOC_SCENE_LEVELS; at += sc->n[l], l++) {
        m->scene_offset[l] = at;
        m->scene_classes[l] = sc->n[l];
        for (size_t s = 0; s < sc->n[l]; s++)
            if (!(m->scene_names[at + s] = strdup(sc->names[l][s])))
                return error_set(err, GEOLOC_E_NOMEM, "out of memory");
    }
    m->n_isn = sc->isn ? sc->n[GEOLOC_SCENE_LEVEL_S3] : 0;
    if (model_head_count(m->n_partitions, m->scene_classes, m->n_isn) > GEOLOC_NN_MAX_HEADS)
        return error_set(err, GEOLOC_E_ARG, "model: more than %d heads", GEOLOC_NN_MAX_HEADS);
    return GEOLOC_OK;
}

const char *geoloc_model_scene_name(const geoloc_model *m, int level, int k) {
    if (level < 0 || level >= GEOLOC_SCENE_LEVELS || k < 0 || (size_t)k >= m->scene_classes[level]) return NULL;
    return m->scene_names[m->scene_offset[level] + (size_t)k];
}

/* A copy of a partition with its lookup index; NULL when out of memory. */
static geoloc_partition *partition_copy(const geoloc_partition *p) {
    geoloc_partition *q = partition_alloc(p->n);
    if (!q) return NULL;
    memcpy(q->cell, p->cell, p->n * sizeof *q->cell);
    memcpy(q->count, p->count, p->n * sizeof *q->count);
    memcpy(q->lat, p->lat, p->n * sizeof *q->lat);
    memcpy(q->lng, p->lng, p->n * sizeof *q->lng);
    q->num_images = p->num_images;
    if (partition_index(q) != 0) {
        geoloc_partition_free(q);
        return NULL;
    }
    return q;
}

geoloc_status geoloc_model_create(const geoloc_resnet_config *backbone,
                                  const geoloc_partition *const *partitions,
                                  const char *const *partition_names, size_t n_partitions,
                                  const geoloc_scene_heads *scenes,
                                  uint64_t seed, geoloc_model **out, geoloc_error *err) {
    *out = NULL;
    geoloc_scene_heads none = {0};
    if (!scenes) scenes = &none;
    size_t n_scene_levels = 0;
    for (size_t l = 0; l < GEOLOC_SCENE_LEVELS; l++) n_scene_levels += scenes->n[l] > 0;
    if (!backbone || (n_partitions && (!partitions || !partition_names)))
        return error_set(err, GEOLOC_E_ARG, "model: NULL backbone or partitions");
    if ((n_partitions < 1 && n_scene_levels == 0) || n_partitions > GEOLOC_MODEL_MAX_PARTITIONS)
        return error_set(err, GEOLOC_E_ARG, "model: %zu partitions: 1 to %d expected (0 for a scene "
                         "classifier)", n_partitions, GEOLOC_MODEL_MAX_PARTITIONS);
    if (!model_feature_dim(backbone->depth))
        return error_set(err, GEOLOC_E_ARG, "model: ResNet depth %d: expected 18, 34, 50, 101 or 152",
                         backbone->depth);
    for (size_t f = 0; f < n_partitions; f++) {
        if (!partitions[f] || partitions[f]->n < 1 || partitions[f]->n > 100000000)
            return error_set(err, GEOLOC_E_ARG, "model: partition %zu is empty", f);
        if (!partition_names[f] || model_check_name(partition_names[f], ',') != 0)
            return error_set(err, GEOLOC_E_ARG, "model: partition %zu: a name of 1-63 characters "
                             "without commas or control characters is needed", f);
        for (size_t g = 0; g < f; g++)
            if (!strcmp(partition_names[f], partition_names[g]))
                return error_set(err, GEOLOC_E_ARG, "model: partition name \"%s\" given twice",
                                 partition_names[f]);
    }
    geoloc_model *m = model_alloc();
    if (!m) return error_set(err, GEOLOC_E_NOMEM, "out of memory");
    geoloc_status st = GEOLOC_OK;
    m->n_partitions = n_partitions;
    for (size_t f = 0; f < n_partitions && st == GEOLOC_OK; f++) {
        snprintf(m->partition_names[f], sizeof m->partition_names[f], "%s", partition_names[f]);
        if (!(m->partitions[f] = partition_copy(partitions[f])))
            st = error_set(err, GEOLOC_E_NOMEM, "out of memory");
    }
    if (st == GEOLOC_OK) st = model_set_scenes(m, scenes, err);
    if (st == GEOLOC_OK) st = model_compute_hierarchy(m, err);
    if (st == GEOLOC_OK) {
        model_set_heads(m, backbone);
        st = geoloc_net_create(&m->config, &m->net, err);
    }
    if (st != GEOLOC_OK) {
        geoloc_model_free(m);
        return st;
    }
    if (seed != 0) geoloc_net_init_random(m->net, seed);
    *out = m;
    return GEOLOC_OK;
}

const char *geoloc_model_get_meta(const geoloc_model *m, const char *key) {
    for (size_t k = 0; k < m->n_meta; k++)
        if (!strcmp(m->meta_keys[k], key)) return m->meta_values[k];
    return NULL;
}

geoloc_status geoloc_model_set_meta(geoloc_model *m, const char *key, const char *value,
                                    geoloc_error *err) {
    if (!key || !value || !key[0])
        return error_set(err, GEOLOC_E_ARG, "model metadata: a key and a value are needed");
    if (model_reserved_key(key))
        return error_set(err, GEOLOC_E_ARG, "model metadata: %s is written by the model format itself",
                         key);
    char *v = strdup(value);
    if (!v) return error_set(err, GEOLOC_E_NOMEM, "out of memory");
    for (size_t k = 0; k < m->n_meta; k++)
        if (!strcmp(m->meta_keys[k], key)) {
            free(m->meta_values[k]);
            m->meta_values[k] = v;
            return GEOLOC_OK;
        }
    char *kc = strdup(key);
    char **keys = realloc(m->meta_keys, (m->n_meta + 1) * sizeof *keys);
    if (keys) m->meta_keys = keys;
    char **values = keys ? realloc(m->meta_values, (m->n_meta + 1) * sizeof *values) : NULL;
    if (values) m->meta_values = values;
    if (!kc || !keys || !values) {
        free(kc);
        free(v);
        return error_set(err, GEOLOC_E_NOMEM, "out of memory");
    }
    m->meta_keys[m->n_meta] = kc;
    m->meta_values[m->n_meta++] = v;
    return GEOLOC_OK;
}

/* ---- finding files ------------------------------------------------------------ */

/* The folder of the running executable (no trailing slash); 0, or -1. */
static int exe_dir(char *out, size_t size) {
    char exe[4096];
    ssize_t len = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (len <= 0) return -1;
    exe[len] = '\0';
    char *slash = strrchr(exe, '/');
    if (!slash) return -1;
    *slash = '\0';
    return snprintf(out, size, "%s", exe) < (int)size ? 0 : -1;
}

/* The i-th folder searched (0: $GEOLOC_DATA_DIR, 1: share/geoloc, 2: models);
 * 0, or -1 when it does not apply (unset variable, unknown executable). */
static int search_dir(int i, char *out, size_t size) {
    if (i == 0) {
        const char *env = getenv("GEOLOC_DATA_DIR");
        if (!env || !*env) return -1;
        return snprintf(out, size, "%s", env) < (int)size ? 0 : -1;
    }
    char dir[4096];
    if (exe_dir(dir, sizeof dir) != 0) return -1;
    int n = snprintf(out, size, "%s/../%s", dir, i == 1 ? "share/geoloc" : "models");
    return n > 0 && n < (int)size ? 0 : -1;
}

int geoloc_model_find_data(const char *name, char *out, size_t size) {
    return model_find_data_in(NULL, name, out, size);
}

int model_find_data_in(const char *folder, const char *name, char *out, size_t size) {
    if (!name || !*name || strchr(name, '/') || (folder && (!*folder || strchr(folder, '/')))) {
        if (size) out[0] = '\0';
        return -1;
    }
    for (int i = 0; i < 3; i++) {
        char dir[4096];
        if (search_dir(i, dir, sizeof dir) != 0) continue;
        int n = folder ? snprintf(out, size, "%s/%s/%s", dir, folder, name) : snprintf(out, size, "%s/%s", dir, name);
        struct stat st;
        if (n > 0 && (size_t)n < size && stat(out, &st) == 0 && S_ISREG(st.st_mode)) return 0;
    }
    if (size) out[0] = '\0';
    return -1;
}

void model_search_text(char *out, size_t size) {
    char dirs[3][4096 + 32];
    for (int i = 0; i < 3; i++)
        if (search_dir(i, dirs[i], sizeof dirs[i]) != 0)
            snprintf(dirs[i], sizeof dirs[i], "%s", i == 0 ? "$GEOLOC_DATA_DIR (unset)"
                                                            : "<executable>/../(unknown)");
        else if (i == 0)
            snprintf(dirs[0], sizeof dirs[0], "$GEOLOC_DATA_DIR (%s)", getenv("GEOLOC_DATA_DIR"));
    snprintf(out, size, "%s, %s and %s", dirs[0], dirs[1], dirs[2]);
}

int geoloc_model_resolve(const char *path, char *out, size_t size, geoloc_error *err) {
    const char *env = getenv("GEOLOC_MODEL");
    const char *given = path && *path ? path : env && *env ? env : NULL;
    if (given) {
        if (snprintf(out, size, "%s", given) >= (int)size) {
            error_set(err, GEOLOC_E_ARG, "model path too long: %s", given);
            return -1;
        }
        return 0;
    }
    if (geoloc_model_find_data(MODEL_DEFAULT_FILE, out, size) == 0) return 0;
    char searched[3 * 4200];
    model_search_text(searched, sizeof searched);
    error_set(err, GEOLOC_E_IO, "no model: none given, $GEOLOC_MODEL unset, and no default model "
              MODEL_DEFAULT_FILE " in %s; ./setup.sh installs the default model", searched);
    return -1;
}
