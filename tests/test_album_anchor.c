/* GPS anchors (geoloc_album_anchor) and geotagging (geoloc_geotag_place) on
 * the tiny model (tiny_model.h: partitions of 1, 2 and 3 cells around
 * Paris): the anchored distributions against the direct formula; an anchor
 * at a cell the model finds unlikely moves the answer there; anchors far
 * from every cell leave the model's answer (the floor); no anchors copy the
 * distributions; bad options; geotag's methods (anchor, album, single), album
 * sizes, anchor counts and answers against the album functions. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "geoloc/album.h"
#include "geoloc/distance.h"
#include "geoloc/geotag.h"
#include "test_util.h"
#include "tiny_model.h"

static geoloc_model *model;

/* Distributions favouring fine cell `best` (and its ancestors). */
static void make_probs(size_t best, float geo[3][3]) {
    geo[0][0] = 1;
    size_t parent = best < 2 ? 0 : 1; /* fine 0, 1 under middle 0; fine 2 under middle 1 */
    geo[1][parent] = 0.7f;
    geo[1][1 - parent] = 0.3f;
    for (size_t k = 0; k < 3; k++) geo[2][k] = k == best ? 0.6f : 0.2f;
}

static void test_anchor(void) {
    float geo[3][3] = {{0}}, out[3][3];
    make_probs(0, geo);
    const float *in[3] = {geo[0], geo[1], geo[2]};
    float *res[3] = {out[0], out[1], out[2]};
    const geoloc_partition *fine = model->partitions[2];
    geoloc_predict_options opt = geoloc_predict_options_default();
    geoloc_prediction alone, anchored;
    geoloc_error err = {0};
    CHECK(geoloc_album_answer_probs(model, in, NULL, GEOLOC_ALBUM_MEAN, 1, &opt, &alone, NULL, &err) == GEOLOC_OK, "%s", err.message);
    CHECK(alone.top[0].cls == 0, "the model's answer: fine cell %d", (int)alone.top[0].cls);

    /* an anchor at fine cell 2's location: the answer moves there */
    geoloc_anchor a = {fine->lat[2], fine->lng[2]};
    geoloc_anchor_options o = {300, 0.01};
    CHECK(geoloc_album_anchor(model, in, &a, 1, &o, res, &err) == GEOLOC_OK, "%s", err.message);
    for (size_t f = 0; f < 3; f++) { /* the direct formula */
        const geoloc_partition *p = model->partitions[f];
        double w[3], total = 0;
        for (size_t k = 0; k < p->n; k++)
            total += w[k] = geo[f][k] * (0.01 + exp(-geoloc_haversine_km(p->lat[k], p->lng[k], a.lat, a.lon) / 300));
        for (size_t k = 0; k < p->n; k++)
            CHECK(fabs(out[f][k] - w[k] / total) < 1e-6, "partition %zu cell %zu: %g, direct %g", f, k,
                  (double)out[f][k], w[k] / total);
    }
    const float *anch[3] = {out[0], out[1], out[2]};
    CHECK(geoloc_album_answer_probs(model, anch, NULL, GEOLOC_ALBUM_MEAN, 1, &opt, &anchored, NULL, &err) == GEOLOC_OK, "%s", err.message);
    CHECK(anchored.top[0].cls == 2 && geoloc_haversine_km(anchored.lat, anchored.lon, a.lat, a.lon) < 1,
          "anchored answer: cell %d at %.1f km from the anchor", (int)anchored.top[0].cls,
          geoloc_haversine_km(anchored.lat, anchored.lon, a.lat, a.lon));

    /* two anchors: their mean kernel */
    geoloc_anchor two[2] = {a, {fine->lat[1], fine->lng[1]}};
    CHECK(geoloc_album_anchor(model, in, two, 2, &o, res, &err) == GEOLOC_OK, "%s", err.message);
    double w2[3], t2 = 0;
    for (size_t k = 0; k < 3; k++) {
        double kde = 0;
        for (int j = 0; j < 2; j++)
            kde += exp(-geoloc_haversine_km(fine->lat[k], fine->lng[k], two[j].lat, two[j].lon) / 300);
        t2 += w2[k] = geo[2][k] * (0.01 + kde / 2);
    }
    for (size_t k = 0; k < 3; k++) CHECK(fabs(out[2][k] - w2[k] / t2) < 1e-6, "two anchors, cell %zu", k);

    /* anchors on the other side of the earth: only the floor, the model's answer kept */
    geoloc_anchor far[2] = {{-48.86, -177.65}, {-40, 175}};
    CHECK(geoloc_album_anchor(model, in, far, 2, &o, res, &err) == GEOLOC_OK, "%s", err.message);
    for (size_t f = 0; f < 3; f++)
        for (size_t k = 0; k < model->partitions[f]->n; k++)
            CHECK(fabs(out[f][k] - geo[f][k]) < 1e-5, "far anchors: partition %zu cell %zu %g vs %g", f, k,
                  (double)out[f][k], (double)geo[f][k]);
    CHECK(geoloc_album_answer_probs(model, anch, NULL, GEOLOC_ALBUM_MEAN, 1, &opt, &anchored, NULL, &err) == GEOLOC_OK &&
              anchored.top[0].cls == alone.top[0].cls && anchored.lat == alone.lat,
          "far anchors: the model's answer");

    /* no anchors: a copy; in place allowed */
    float copy[3][3];
    memcpy(copy, geo, sizeof copy);
    float *inplace[3] = {copy[0], copy[1], copy[2]};
    CHECK(geoloc_album_anchor(model, (const float *const *)inplace, &a, 0, NULL, inplace, &err) == GEOLOC_OK &&
              !memcmp(copy, geo, sizeof copy),
          "no anchors: unchanged");
    CHECK(geoloc_album_anchor(model, (const float *const *)inplace, &a, 1, NULL, inplace, &err) == GEOLOC_OK &&
              copy[2][2] > geo[2][2],
          "in place, default options");
    geoloc_anchor_options bad = {0, 0.01};
    CHECK(geoloc_album_anchor(model, in, &a, 1, &bad, res, &err) == GEOLOC_E_ARG, "a zero scale refused");
    bad = (geoloc_anchor_options){300, 0};
    CHECK(geoloc_album_anchor(model, in, &a, 1, &bad, res, &err) == GEOLOC_E_ARG, "a zero floor refused");
    geoloc_anchor nowhere = {NAN, 2};
    CHECK(geoloc_album_anchor(model, in, &nowhere, 1, &o, res, &err) == GEOLOC_E_RANGE, "a NaN anchor refused");
}

/* Stores photo i's distributions (one crop) favouring fine cell best. */
static void store(geoloc_album_probs *a, size_t i, size_t best) {
    float geo[3][3] = {{0}}, scene[3] = {0.2f, 0.3f, 0.5f};
    make_probs(best, geo);
    const float *rows[3] = {geo[0], geo[1], geo[2]};
    geoloc_error err = {0};
    CHECK(geoloc_album_probs_set(a, i, rows, scene, 1, &err) == GEOLOC_OK, "photo %zu: %s", i, err.message);
}

static void test_geotag(void) {
    /* album 0: photos 0, 1 to place (both favour cell 0), photo 2 an anchor at cell 2;
     * album 1: photos 3, 4 to place; album 2: photo 5 alone; photo 6 in album 2 unreadable */
    geoloc_album_probs *a = NULL;
    geoloc_error err = {0};
    CHECK(geoloc_album_probs_create(model, 7, &a, &err) == GEOLOC_OK, "%s", err.message);
    const size_t best[7] = {0, 0, 0, 1, 0, 2, 0};
    unsigned char predicted[7] = {1, 1, 0, 1, 1, 1, 0}, is_anchor[7] = {0, 0, 1, 0, 0, 0, 0};
    for (size_t i = 0; i < 7; i++)
        if (predicted[i]) store(a, i, best[i]);
    const geoloc_partition *fine = model->partitions[2];
    geoloc_anchor pos[7] = {{0, 0}, {0, 0}, {fine->lat[2] + 0.5, fine->lng[2]}}; /* 56 km from cell 2's centre */
    const size_t album_of[7] = {0, 0, 0, 1, 1, 2, 2};
    geoloc_geotag_options o = {GEOLOC_ALBUM_MEAN, {300, 0.01}, geoloc_predict_options_default(), 0};
    geoloc_geotag_result r[7];
    CHECK(geoloc_geotag_place(a, predicted, is_anchor, pos, album_of, 7, 3, &o, r, &err) == GEOLOC_OK, "%s",
          err.message);
    CHECK(r[0].placed && r[1].placed && !r[2].placed && r[3].placed && r[4].placed && r[5].placed && !r[6].placed,
          "placed: the photos without a position that were predicted");
    CHECK(r[0].method == GEOLOC_GEOTAG_ANCHOR && r[0].n_anchors == 1 && r[0].album_size == 2 &&
              r[0].answer.top[0].cls == 2 && r[1].answer.lat == r[0].answer.lat,
          "album 0: anchored to cell 2 (%d, method %s)", (int)r[0].answer.top[0].cls,
          geoloc_geotag_method_name(r[0].method));
    CHECK(!r[0].snapped && r[0].answer.lat == fine->lat[2] && r[0].answer.lon == fine->lng[2],
          "snap off: the cell's location");
    size_t members0[2] = {0, 1}, members1[2] = {3, 4};
    geoloc_prediction fused, photo;
    CHECK(geoloc_album_answer(a, members0, 2, GEOLOC_ALBUM_MEAN, &o.predict, &fused, NULL, &err) == GEOLOC_OK &&
              r[0].fused.lat == fused.lat && r[0].fused.top[0].cls == 0,
          "album 0 without anchors: the fusion");
    CHECK(geoloc_album_answer(a, members1, 2, GEOLOC_ALBUM_MEAN, &o.predict, &fused, NULL, &err) == GEOLOC_OK &&
              r[3].method == GEOLOC_GEOTAG_ALBUM && r[3].answer.lat == fused.lat && r[4].answer.lat == fused.lat &&
              r[3].n_anchors == 0 && r[3].album_size == 2,
          "album 1: the fusion");
    CHECK(geoloc_album_answer(a, &members1[0], 1, GEOLOC_ALBUM_MEAN, &o.predict, &photo, NULL, &err) == GEOLOC_OK &&
              r[3].photo.lat == photo.lat && r[3].photo.top[0].cls == 1,
          "photo 3 alone");
    CHECK(r[5].method == GEOLOC_GEOTAG_SINGLE && r[5].answer.top[0].cls == 2 && r[5].album_size == 1,
          "photo 5: alone");
    CHECK(!strcmp(geoloc_geotag_method_name(GEOLOC_GEOTAG_SINGLE), "single") &&
              geoloc_geotag_method_name((geoloc_geotag_method)7) == NULL,
          "method names");
    /* snapping: within 100 km the anchor's position; within 10 km none is near */
    o.snap_km = 100;
    CHECK(geoloc_geotag_place(a, predicted, is_anchor, pos, album_of, 7, 3, &o, r, &err) == GEOLOC_OK &&
              r[0].snapped && r[1].snapped && r[0].answer.lat == pos[2].lat && r[0].answer.lon == pos[2].lon &&
              r[0].answer.top[0].cls == 2 && !r[3].snapped && r[3].answer.lat == fused.lat,
          "snap 100 km: the anchor's position (%g, %g)", r[0].answer.lat, r[0].answer.lon);
    o.snap_km = 10;
    CHECK(geoloc_geotag_place(a, predicted, is_anchor, pos, album_of, 7, 3, &o, r, &err) == GEOLOC_OK &&
              !r[0].snapped && r[0].answer.lat == fine->lat[2],
          "snap 10 km: no anchor that near");
    size_t wrong[7] = {0, 0, 0, 1, 1, 2, 3};
    CHECK(geoloc_geotag_place(a, predicted, is_anchor, pos, wrong, 7, 3, &o, r, &err) == GEOLOC_E_ARG,
          "an album number out of range refused");
    geoloc_album_probs_free(a);
}

int main(void) {
    model = tiny_model_create();
    test_anchor();
    test_geotag();
    geoloc_model_free(model);
    TEST_END();
}
