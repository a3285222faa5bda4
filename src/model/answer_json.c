/* One photo's answer as JSON, schema 1 (docs/answer-schema.md describes
 * every field): the one place that writes it, with an album's "photo" and
 * "album" fields when the answer is an album's. */
#include "geoloc/album.h"
#include "geoloc/distance.h"
#include "geoloc/place.h"
#include "geoloc/predict.h"
#include "geoloc/s2.h"

/* Writes "cell": TOKEN, "level": L of an S2 cell. */
static void cell_fields(geoloc_json *w, geoloc_cell cell) {
    char tok[GEOLOC_S2_TOKEN_SIZE];
    geoloc_s2_to_token(cell, tok);
    geoloc_json_key(w, "cell");
    geoloc_json_string(w, tok);
    geoloc_json_key(w, "level");
    geoloc_json_int(w, geoloc_s2_level(cell));
}

static void guess(geoloc_json *w, const geoloc_cell_guess *g) {
    geoloc_json_object_begin(w);
    cell_fields(w, g->cell);
    geoloc_json_key(w, "class");
    geoloc_json_int(w, g->cls);
    geoloc_json_key(w, "lat");
    geoloc_json_double(w, g->lat);
    geoloc_json_key(w, "lon");
    geoloc_json_double(w, g->lon);
    geoloc_json_key(w, "prob");
    geoloc_json_float(w, g->prob);
    geoloc_json_object_end(w);
}

static void distribution(geoloc_json *w, const geoloc_partition *part, const float *d) {
    char tok[GEOLOC_S2_TOKEN_SIZE];
    geoloc_json_key(w, "distribution");
    geoloc_json_array_begin(w);
    for (size_t k = 0; k < part->n; k++) {
        geoloc_s2_to_token(part->cell[k], tok);
        geoloc_json_object_begin(w);
        geoloc_json_key(w, "cell");
        geoloc_json_string(w, tok);
        geoloc_json_key(w, "p");
        geoloc_json_float(w, d[k]);
        geoloc_json_object_end(w);
    }
    geoloc_json_array_end(w);
}

/* "scene": {"S3": {"name", "prob"}, ...} for the levels the model has, or null. */
static void scene_fields(geoloc_json *w, const geoloc_model *m, const geoloc_prediction *p) {
    int any = 0;
    for (int l = 0; l < GEOLOC_SCENE_LEVELS; l++) any |= p->scene[l] >= 0;
    if (!any) {
        geoloc_json_null(w);
        return;
    }
    geoloc_json_object_begin(w);
    for (int l = 0; l < GEOLOC_SCENE_LEVELS; l++) {
        if (p->scene[l] < 0) continue;
        geoloc_json_key(w, geoloc_scene_level_name(l));
        geoloc_json_object_begin(w);
        geoloc_json_key(w, "name");
        geoloc_json_string(w, geoloc_model_scene_name(m, l, p->scene[l]));
        geoloc_json_key(w, "prob");
        geoloc_json_float(w, p->scene_prob[l]);
        geoloc_json_object_end(w);
    }
    geoloc_json_object_end(w);
}

/* The answer's own fields: "lat" ... "scene". */
static void answer_fields(geoloc_json *w, const geoloc_model *m, const geoloc_prediction *p,
                          const struct geoloc_place *place) {
    geoloc_json_key(w, "lat");
    geoloc_json_double(w, p->lat);
    geoloc_json_key(w, "lon");
    geoloc_json_double(w, p->lon);
    cell_fields(w, p->top[0].cell);
    geoloc_json_key(w, "prob");
    geoloc_json_float(w, p->top[0].prob);
    geoloc_json_key(w, "partition");
    geoloc_json_string(w, m->partition_names[p->partition]);
    geoloc_json_key(w, "place");
    geoloc_place_write_json(w, place);
    geoloc_json_key(w, "radius_km");
    if (p->calibrated) {
        geoloc_json_object_begin(w);
        geoloc_json_key(w, "50");
        geoloc_json_double(w, p->radius_km[0]);
        geoloc_json_key(w, "90");
        geoloc_json_double(w, p->radius_km[1]);
        geoloc_json_object_end(w);
    } else {
        geoloc_json_null(w);
    }
    geoloc_json_key(w, "unknown");
    geoloc_json_bool(w, p->calibrated && p->unknown);
    geoloc_json_key(w, "top");
    geoloc_json_array_begin(w);
    for (int k = 0; k < p->n_top; k++) guess(w, &p->top[k]);
    geoloc_json_array_end(w);
    geoloc_json_key(w, "scene");
    scene_fields(w, m, p);
}

/* "photo": {the photo-alone answer}, "album": {"id", "size", "method"}. */
static void album_fields(geoloc_json *w, const geoloc_model *m, const geoloc_album_info *album) {
    geoloc_json_key(w, "photo");
    geoloc_json_object_begin(w);
    answer_fields(w, m, album->photo, album->photo_place);
    geoloc_json_object_end(w);
    geoloc_json_key(w, "album");
    geoloc_json_object_begin(w);
    geoloc_json_key(w, "id");
    geoloc_json_string(w, album->id);
    geoloc_json_key(w, "size");
    geoloc_json_int(w, (int64_t)album->size);
    geoloc_json_key(w, "method");
    geoloc_json_string(w, album->method_name ? album->method_name : geoloc_album_method_name(album->method));
    geoloc_json_object_end(w);
}

geoloc_status geoloc_answer_write_json(geoloc_json *w, const geoloc_model *m, const geoloc_photo_answer *a) {
    return geoloc_album_answer_write_json(w, m, a, NULL);
}

geoloc_status geoloc_album_answer_write_json(geoloc_json *w, const geoloc_model *m, const geoloc_photo_answer *a,
                                             const geoloc_album_info *album) {
    geoloc_json_object_begin(w);
    geoloc_json_key(w, "schema");
    geoloc_json_int(w, GEOLOC_ANSWER_SCHEMA);
    geoloc_json_key(w, "file");
    geoloc_json_string(w, a->name);
    const geoloc_prediction *p = a->pred;
    if (!p) {
        geoloc_json_key(w, "error");
        geoloc_json_string(w, a->error ? a->error : "unreadable");
        geoloc_json_object_end(w);
        return w->err.status;
    }
    answer_fields(w, m, p, a->place);
    geoloc_json_key(w, "exif");
    if (a->meta && a->meta->has_gps) {
        geoloc_json_object_begin(w);
        geoloc_json_key(w, "lat");
        geoloc_json_double(w, a->meta->lat);
        geoloc_json_key(w, "lon");
        geoloc_json_double(w, a->meta->lng);
        geoloc_json_key(w, "distance_km");
        geoloc_json_double(w, geoloc_haversine_km(a->meta->lat, a->meta->lng, p->lat, p->lon));
        geoloc_json_object_end(w);
    } else {
        geoloc_json_null(w);
    }
    if (a->n_warnings > 0) { /* damaged but decodable: answered, with what the decoder said */
        geoloc_json_key(w, "warnings");
        geoloc_json_array_begin(w);
        for (int k = 0; k < a->n_warnings && k < GEOLOC_IMAGE_MAX_WARNINGS; k++)
            if (a->warnings[k][0]) geoloc_json_string(w, a->warnings[k]);
        geoloc_json_array_end(w);
    }
    if (album) album_fields(w, m, album);
    if (a->distribution) distribution(w, m->partitions[p->partition], a->distribution);
    geoloc_json_object_end(w);
    return w->err.status;
}
