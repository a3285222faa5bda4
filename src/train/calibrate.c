/* Calibration at the end of heads training (geoloc/calibration.h), on
 * answers of photos the heads that gave them never saw: the hierarchical
 * distribution from the cached features of their three crops, their truth
 * and their crops' mean raw features.
 *
 * Cross-fitting (calibration_folds K >= 2): the training photos are split
 * into K folds grouped by AUTHOR (geoloc_calibration_folds, by the seed);
 * for each fold, heads are trained from zero exactly as the final ones
 * (epochs, schedule, batches, seed) on the other folds and answer its
 * photos; the calibration is fitted on these out-of-fold answers of every
 * training photo, and the final heads stay as trained on all of them. The
 * validation photos, in neither, then measure it (coverage of the radii,
 * median radii, the answered share). With K 0, it is fitted on the
 * validation photos' answers from the final heads (split conformal). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "geoloc/album.h"
#include "geoloc/calibration.h"
#include "train/internal.h"

/* Held-out answers: rows of the finest partition's distribution, truth, mean
 * features, and for album fusion each row's per-partition probabilities and author. */
typedef struct answers {
    float *dist, *feat;
    double *lat, *lon;
    const char **author;
    geoloc_album_probs *probs;
    size_t n, classes;
    int dim;
} answers;

static void answers_free(answers *a) {
    free(a->dist);
    free(a->feat);
    free(a->lat);
    free(a->lon);
    free(a->author);
    geoloc_album_probs_free(a->probs);
}

static geoloc_status answers_alloc(answers *a, const geoloc_model *model, size_t rows, size_t classes, int dim,
                                   geoloc_error *err) {
    memset(a, 0, sizeof *a);
    a->classes = classes;
    a->dim = dim;
    a->dist = malloc(rows * classes * sizeof *a->dist);
    a->feat = malloc(rows * (size_t)dim * sizeof *a->feat);
    a->lat = malloc(rows * sizeof *a->lat);
    a->lon = malloc(rows * sizeof *a->lon);
    a->author = malloc((rows ? rows : 1) * sizeof *a->author);
    geoloc_status s = geoloc_album_probs_create(model, rows, &a->probs, err);
    if (s == GEOLOC_OK && rows && (!a->dist || !a->feat || !a->lat || !a->lon || !a->author))
        s = error_set(err, GEOLOC_E_NOMEM, "out of memory");
    if (s != GEOLOC_OK) answers_free(a);
    return s;
}

/* One table photo through the heads H: the answer (*pred; its distribution into dist
 * when not NULL), its crops' mean raw features into feat, and (album not NULL) its
 * heads' probabilities into album's photo `row`. */
static geoloc_status answer_photo(const train_heads *H, const geoloc_model *model, size_t k, float *buf,
                                  geoloc_prediction *pred, float *dist, float *feat, geoloc_album_probs *album,
                                  size_t row, geoloc_error *err) {
    const train_data *c = H->d;
    size_t total = 0;
    float *probs[TRAIN_MAX_HEADS];
    for (size_t h = 0; h < H->n_heads; total += (size_t)c->classes[h], h++) probs[h] = buf + total;
    train_heads_predict(H, k, buf + total + H->classes_max, probs, buf + total);
    const float *geo[TRAIN_MAX_PARTS];
    train_geo_probs(model, c, (const float *const *)probs, geo, buf + total + H->classes_max + H->dim);
    const float *x = H->f->feat + k * (size_t)H->f->views * (size_t)H->dim;
    for (int j = 0; j < H->dim; j++) /* the three crops' mean, as prediction averages them */
        feat[j] = (x[j] + x[H->dim + j] + x[2 * H->dim + j]) / 3.0f;
    int scene = -1; /* the first level's head: every level's probabilities follow it */
    for (int l = GEOLOC_SCENE_LEVELS - 1; l >= 0; l--)
        if (c->scene_head[l] >= 0) scene = c->scene_head[l];
    if (album) {
        geoloc_status s = geoloc_album_probs_set(album, row, geo, scene >= 0 ? probs[scene] : NULL, 1, err);
        if (s != GEOLOC_OK) return s;
    }
    return geoloc_answer_from_probs(model, geo, NULL, 1, -1, 1, pred, dist, err);
}

/* Scratch for answer_photo: every head's probabilities, the features, a head's logits,
 * the ISN mix. */
static float *answer_scratch(const train_heads *H) {
    size_t total = 0;
    for (size_t h = 0; h < H->n_heads; h++) total += (size_t)H->d->classes[h];
    return malloc((total + (size_t)H->classes_max + (size_t)H->dim + train_geo_mix_size(H->d)) * sizeof(float));
}

/* Appends the (uncalibrated) answers of H for the readable table photos rows[0..n). */
static geoloc_status add_answers(const train_heads *H, const geoloc_model *model, const size_t *rows, size_t n,
                                 answers *a, geoloc_error *err) {
    float *buf = answer_scratch(H);
    geoloc_status s = buf ? GEOLOC_OK : error_set(err, GEOLOC_E_NOMEM, "out of memory");
    for (size_t i = 0; s == GEOLOC_OK && i < n; i++) {
        size_t k = rows[i];
        if (!H->f->ok[k]) continue;
        geoloc_prediction pred;
        s = answer_photo(H, model, k, buf, &pred, a->dist + a->n * a->classes, a->feat + a->n * (size_t)a->dim,
                         a->probs, a->n, err);
        if (s != GEOLOC_OK) break;
        a->author[a->n] = H->d->row[k]->author;
        a->lat[a->n] = H->d->row[k]->lat;
        a->lon[a->n] = H->d->row[k]->lng;
        a->n++;
    }
    free(buf);
    return s;
}

/* Heads trained from zero on the training photos outside fold `held` (the final heads'
 * recipe), answering the photos of that fold into a. The model's heads are overwritten. */
static geoloc_status fold_answers(train_run *r, const train_data *d, train_model *m, const train_features *f,
                                  const geoloc_lr_schedule *sched, const int *fold, int held, answers *a,
                                  geoloc_error *err) {
    train_data fd = *d; /* the same table, partitions and labels; another training list */
    size_t *in = malloc(d->n_train * sizeof *in), *out = malloc(d->n_train * sizeof *out), n_out = 0;
    if (!in || !out) {
        free(in);
        free(out);
        return error_set(err, GEOLOC_E_NOMEM, "out of memory");
    }
    fd.train = in;
    fd.n_train = 0;
    fd.n_val = 0;
    for (size_t i = 0; i < d->n_train; i++) {
        if (fold[i] == held) out[n_out++] = d->train[i];
        else in[fd.n_train++] = d->train[i];
    }
    train_trainer T;
    memset(&T, 0, sizeof T);
    geoloc_status s = train_trainer_setup(&T, r, &fd, m, f, sched, err);
    for (size_t h = 0; s == GEOLOC_OK && h < T.heads.n_heads; h++) { /* heads start at zero */
        memset(T.heads.w[h], 0, (size_t)d->classes[h] * (size_t)T.heads.dim * sizeof(float));
        memset(T.heads.b[h], 0, (size_t)d->classes[h] * sizeof(float));
    }
    train_state st;
    memset(&st, 0, sizeof st);
    double step_loss[TRAIN_MAX_HEADS], total;
    for (; s == GEOLOC_OK && st.epoch < r->o->epochs; st.epoch++, st.batch_in_epoch = 0) {
        double lr = geoloc_lr_at(&T.opt.sched, st.epoch);
        s = train_epoch_begin(&T, &st, err);
        while (s == GEOLOC_OK && st.batch_in_epoch < T.epoch_batches) s = train_step(&T, &st, lr, step_loss, &total, err);
        train_epoch_end(&T);
    }
    if (s == GEOLOC_OK) s = add_answers(&T.heads, m->model, out, n_out, a, err);
    train_trainer_free(&T);
    free(in);
    free(out);
    return s;
}

/* The final heads' weights saved in (restore 0) or put back from (restore 1) keep. */
static geoloc_status keep_heads(const train_heads *H, float **keep, int restore, geoloc_error *err) {
    for (size_t h = 0; h < H->n_heads; h++) {
        size_t nw = (size_t)H->d->classes[h] * (size_t)H->dim, nb = (size_t)H->d->classes[h];
        if (!restore && !(keep[h] = malloc((nw + nb) * sizeof(float))))
            return error_set(err, GEOLOC_E_NOMEM, "out of memory");
        float *wb[2] = {H->w[h], H->b[h]}, *dst = keep[h];
        for (int i = 0; i < 2; dst += nw, i++) {
            size_t len = i ? nb : nw;
            if (restore) memcpy(wb[i], dst, len * sizeof(float));
            else memcpy(dst, wb[i], len * sizeof(float));
        }
    }
    return GEOLOC_OK;
}

/* The out-of-fold answers of every readable training photo. */
static geoloc_status cross_fit(train_run *r, const train_trainer *final, train_model *m, const train_features *f,
                               const geoloc_lr_schedule *sched, answers *a, geoloc_error *err) {
    const train_data *d = final->d;
    int K = r->o->calibration_folds, *fold = malloc(d->n_train * sizeof *fold);
    const char **author = malloc(d->n_train * sizeof *author);
    float *keep[TRAIN_MAX_HEADS] = {0};
    geoloc_status s = fold && author ? GEOLOC_OK : error_set(err, GEOLOC_E_NOMEM, "out of memory");
    for (size_t i = 0; s == GEOLOC_OK && i < d->n_train; i++) author[i] = d->row[d->train[i]]->author;
    if (s == GEOLOC_OK) s = geoloc_calibration_folds(author, d->n_train, K, r->o->seed, fold, err);
    int kept = s == GEOLOC_OK && (s = keep_heads(&final->heads, keep, 0, err)) == GEOLOC_OK;
    uint64_t images = r->run_images; /* the folds' steps are not the run's speed */
    for (int j = 0; s == GEOLOC_OK && j < K; j++) {
        train_info(r, "calibration: fold %d of %d (grouped by author)", j + 1, K);
        s = fold_answers(r, d, m, f, sched, fold, j, a, err);
    }
    r->run_images = images;
    if (kept) keep_heads(&final->heads, keep, 1, err);
    for (size_t h = 0; h < TRAIN_MAX_HEADS; h++) free(keep[h]);
    free(fold);
    free(author);
    return s;
}

/* The calibrated model on the validation photos: coverage, radii, answered share, and
 * the constant radius holding 90 % of them (the errors' 90th percentile). */
static geoloc_status report_validation(train_run *r, const train_heads *H, const geoloc_model *model,
                                       geoloc_error *err) {
    const train_data *d = H->d;
    const geoloc_calibration *cal = model->calibration;
    size_t n = 0;
    double *km = malloc(d->n_val * 3 * sizeof *km), *r50 = km + d->n_val, *r90 = r50 + d->n_val;
    unsigned char *unknown = malloc(d->n_val);
    float *buf = answer_scratch(H), *feat = malloc((size_t)H->dim * sizeof *feat);
    geoloc_status s = km && unknown && buf && feat ? GEOLOC_OK : error_set(err, GEOLOC_E_NOMEM, "out of memory");
    for (size_t i = 0; s == GEOLOC_OK && i < d->n_val; i++) {
        size_t k = d->val[i];
        if (!H->f->ok[k]) continue;
        geoloc_prediction p;
        if ((s = answer_photo(H, model, k, buf, &p, NULL, feat, NULL, 0, err)) != GEOLOC_OK) break;
        km[n] = geoloc_haversine_km(p.lat, p.lon, d->row[k]->lat, d->row[k]->lng);
        r50[n] = p.radius_km[0];
        r90[n] = p.radius_km[1];
        unknown[n++] = p.unknown || (cal->dim > 0 && geoloc_calibration_ood_score(cal, feat) > cal->ood_threshold);
    }
    geoloc_confidence_summary cs;
    if (s == GEOLOC_OK) s = geoloc_confidence_summarize(km, r50, r90, unknown, n, &cs, err);
    if (s == GEOLOC_OK) {
        train_info(r, "calibration on the %zu validation photos: the 50 %% radius holds the truth for %.2f %% "
                   "(median %.0f km), the 90 %% radius for %.2f %% (median %.0f km); answered %.2f %%; a constant "
                   "radius holding 90 %% of them: %.0f km", n, 100 * cs.coverage[0], cs.median_radius_km[0],
                   100 * cs.coverage[1], cs.median_radius_km[1], 100 * cs.answered_share,
                   cs.constant_radius90_km);
    }
    free(km);
    free(unknown);
    free(buf);
    free(feat);
    return s;
}

/* The calibration of album answers by method, fitted on a's answers grouped
 * by photographer (albums of at least 2 photos; photos without an author are
 * albums of their own and left out): out->photos stays 0 when fewer than 20
 * photos are in such albums. The model must be uncalibrated. */
static geoloc_status fit_album(train_run *r, const geoloc_model *model, const answers *a,
                               geoloc_album_method method, geoloc_album_calibration *out, geoloc_error *err) {
    size_t n = a->n, classes = a->classes, rows = 0;
    float *dist = malloc((n ? n : 1) * classes * sizeof *dist);
    double *lat = malloc((n ? n : 1) * sizeof *lat), *lon = malloc((n ? n : 1) * sizeof *lon);
    geoloc_album_set set = {0};
    geoloc_status s = dist && lat && lon ? geoloc_album_set_build(a->author, NULL, n, &set, err)
                                         : error_set(err, GEOLOC_E_NOMEM, "out of memory");
    geoloc_predict_options opt = geoloc_predict_options_default();
    opt.max_radius_km = 0;
    for (size_t j = 0; s == GEOLOC_OK && j < set.n_albums; j++) {
        const size_t *photos = set.rows + set.start[j], len = set.start[j + 1] - set.start[j];
        geoloc_prediction pred;
        if (len < 2) continue;
        if (method != GEOLOC_ALBUM_PRIOR) /* one answer for the album: its distribution for each photo */
            s = geoloc_album_answer(a->probs, photos, len, method, &opt, &pred, dist + rows * classes, err);
        for (size_t i = 0; s == GEOLOC_OK && i < len; i++, rows++) {
            if (method == GEOLOC_ALBUM_PRIOR)
                s = geoloc_album_answer_photo(a->probs, photos, len, photos[i], &opt, &pred, dist + rows * classes,
                                              err);
            else if (i > 0)
                memcpy(dist + rows * classes, dist + (rows - i) * classes, classes * sizeof *dist);
            lat[rows] = a->lat[photos[i]];
            lon[rows] = a->lon[photos[i]];
        }
    }
    geoloc_calibration *cal = NULL;
    geoloc_calibration_data cd = {.part = model->partitions[model->n_partitions - 1], .dist = dist, .lat = lat,
                                  .lon = lon, .n = rows, .classes = classes};
    if (s == GEOLOC_OK && rows >= 20 && (s = geoloc_calibration_fit(&cd, &cal, err)) == GEOLOC_OK) {
        *out = (geoloc_album_calibration){cal->temperature, cal->q50, cal->q90, cal->max_radius_km, cal->photos};
        train_info(r, "calibrated album answers (%s, %zu photos in albums by author): temperature %.3f, mass "
                   "quantiles %.3f (50 %%) and %.3f (90 %%), max radius %.0f km", geoloc_album_method_name(method),
                   rows, out->temperature, out->q50, out->q90, out->max_radius_km);
    }
    geoloc_calibration_free(cal);
    geoloc_album_set_free(&set);
    free(dist);
    free(lat);
    free(lon);
    return s;
}

geoloc_status train_calibrate_heads(train_run *r, const train_trainer *final, train_model *m,
                                    const train_features *f, const geoloc_lr_schedule *sched, geoloc_error *err) {
    const train_data *d = final->d;
    const train_heads *H = &final->heads;
    geoloc_model *model = m->model;
    size_t f_part = model->n_partitions - 1, classes = model->partitions[f_part]->n;
    int folds = r->o->calibration_folds >= 2;
    answers a;
    geoloc_status s = answers_alloc(&a, model, folds ? d->n_train : d->n_val, classes, H->dim, err);
    if (s != GEOLOC_OK) return s;
    geoloc_calibration_free(model->calibration);
    model->calibration = NULL; /* the answers fitted on are the uncalibrated ones */
    s = folds ? cross_fit(r, final, m, f, sched, &a, err) : add_answers(H, model, d->val, d->n_val, &a, err);
    geoloc_calibration *cal = NULL;
    geoloc_calibration_data cd = {.part = model->partitions[f_part], .dist = a.dist, .lat = a.lat, .lon = a.lon,
                                  .features = a.feat, .n = a.n, .classes = classes, .dim = H->dim};
    if (s == GEOLOC_OK) s = geoloc_calibration_fit(&cd, &cal, err);
    for (int method = 0; s == GEOLOC_OK && method < GEOLOC_CALIBRATION_ALBUM_METHODS; method++)
        s = fit_album(r, model, &a, (geoloc_album_method)method, &cal->album[method], err);
    if (s != GEOLOC_OK) geoloc_calibration_free(cal);
    answers_free(&a);
    if (s != GEOLOC_OK) return s;
    model->calibration = cal;
    train_info(r, "calibrated on %zu %s: temperature %.3f, mass quantiles %.3f (50 %%) and %.3f (90 %%), max "
               "radius %.0f km, feature distance threshold %.3f", cal->photos,
               folds ? "out-of-fold answers of the training photos" : "validation photos", cal->temperature,
               cal->q50, cal->q90, cal->max_radius_km, cal->ood_threshold);
    return folds && d->n_val > 0 ? report_validation(r, H, model, err) : GEOLOC_OK;
}
