/* The training loop of both modes: the epochs from the start or from the
 * checkpoint, each a run of steps (step.c) followed by the validation; the
 * end-of-step bookkeeping (progress, log row, mid-epoch checkpoint, the
 * stop_after hook) and the end-of-epoch bookkeeping (log row, checkpoint)
 * are written here once. With several ranks every rank runs the loop (full
 * mode) and rank 0's weights are compared with the others' every check_every
 * steps and before each checkpoint. */
#include <string.h>

#include "core/error.h"
#include "geoloc/dist.h"
#include "train/internal.h"

/* Steps of an epoch of b data batches. */
static long steps_of(const train_trainer *T, long b) { return (b + T->per_step - 1) / T->per_step; }

/* After a step: progress report, a log row every log_every steps, a checkpoint every
 * checkpoint_every steps (mid-epoch: the epoch's end has its own); *stop at stop_after. */
static geoloc_status after_step(train_trainer *T, train_state *st, double lr, const double *step_loss, double total,
                                int *stop, geoloc_error *err) {
    train_run *r = T->r;
    const train_data *d = T->d;
    const geoloc_train_options *o = r->o;
    long steps = steps_of(T, T->epoch_batches), in_epoch = steps_of(T, st->batch_in_epoch);
    float hl[TRAIN_MAX_HEADS];
    for (size_t h = 0; h < d->n_heads; h++) hl[h] = (float)step_loss[h];
    geoloc_train_event ev = {.kind = GEOLOC_TRAIN_EV_STEP, .done = (size_t)in_epoch, .total = (size_t)steps,
                             .epoch = st->epoch, .epochs = o->epochs, .step = st->step, .lr = lr, .loss = total,
                             .n_heads = d->n_heads, .head_loss = hl, .elapsed_s = train_elapsed(r),
                             .images_per_s = train_images_per_s(r)};
    long done_here = st->step - r->step0;
    long remaining = (long)(o->epochs - st->epoch - 1) * steps + (steps - in_epoch);
    double run = train_now() - r->run_t0;
    ev.eta_s = done_here > 0 && remaining > 0 ? run / (double)done_here * (double)remaining : 0;
    train_report(r, &ev);
    geoloc_status s = GEOLOC_OK;
    if (o->log_every > 0 && st->step % o->log_every == 0)
        s = train_log_row(r, d, st, 0, lr, total, step_loss, NULL, NULL, &st->log_bytes, err);
    int mid_epoch = st->batch_in_epoch < T->epoch_batches;
    *stop = mid_epoch && o->stop_after > 0 && st->step >= o->stop_after;
    int ckpt = mid_epoch && (*stop || (o->checkpoint_every > 0 && st->step % o->checkpoint_every == 0));
    if (s == GEOLOC_OK && T->mode == GEOLOC_TRAIN_FULL && (ckpt || (o->check_every > 0 && st->step % o->check_every == 0)))
        s = train_replicas_check(&T->opt, st->step, err);
    if (s == GEOLOC_OK && ckpt) s = train_ckpt_write(r, d, &T->opt, st, err);
    return s;
}

/* Closes an epoch: report, log row with the validation, the epoch's sums reset, next
 * epoch, checkpoint; *stop when stop_after is reached before the last epoch. */
static geoloc_status end_epoch(train_trainer *T, train_state *st, double lr, const geoloc_distance_summary *val,
                               const double *scene_acc, int *stop, geoloc_error *err) {
    train_run *r = T->r;
    const train_data *d = T->d;
    double mean[TRAIN_MAX_HEADS];
    float hl[TRAIN_MAX_HEADS];
    for (size_t h = 0; h < d->n_heads; h++) {
        mean[h] = st->loss_n ? st->loss_sum[h] / (double)st->loss_n : 0;
        hl[h] = (float)mean[h];
    }
    double loss = st->loss_n ? st->loss_total / (double)st->loss_n : 0;
    geoloc_train_event ev = {.kind = GEOLOC_TRAIN_EV_EPOCH, .epoch = st->epoch, .epochs = r->o->epochs,
                             .step = st->step, .lr = lr, .loss = loss, .n_heads = d->n_heads, .head_loss = hl,
                             .elapsed_s = train_elapsed(r), .images_per_s = train_images_per_s(r), .val = val,
                             .scene_acc = scene_acc};
    train_report(r, &ev);
    geoloc_status s = train_log_row(r, d, st, 1, lr, loss, mean, val, scene_acc, &st->log_bytes, err);
    if (s != GEOLOC_OK) return s;
    if (val) st->val = *val;
    if (scene_acc) memcpy(r->res->scene_acc, scene_acc, sizeof r->res->scene_acc);
    st->epoch++;
    st->batch_in_epoch = 0;
    memset(st->loss_sum, 0, sizeof st->loss_sum);
    st->loss_total = 0;
    st->loss_n = 0;
    st->images = 0;
    if (T->mode == GEOLOC_TRAIN_FULL && (s = train_replicas_check(&T->opt, st->step, err)) != GEOLOC_OK) return s;
    if ((s = train_ckpt_write(r, d, &T->opt, st, err)) != GEOLOC_OK) return s;
    *stop = r->o->stop_after > 0 && st->step >= r->o->stop_after && st->epoch < r->o->epochs;
    return GEOLOC_OK;
}

geoloc_status train_loop(train_run *r, const train_data *d, train_model *m, const train_features *f,
                         const geoloc_lr_schedule *sched, geoloc_error *err) {
    const geoloc_train_options *o = r->o;
    train_trainer T;
    memset(&T, 0, sizeof T);
    train_state st;
    memset(&st, 0, sizeof st);
    geoloc_status s = train_trainer_setup(&T, r, d, m, f, sched, err);
    if (s == GEOLOC_OK && r->resume && geoloc_dist_rank() == 0) s = train_ckpt_read(r, d, &T.opt, &st, err);
    /* several ranks (full mode): every rank starts from rank 0's weights, resumed or not */
    if (T.mode == GEOLOC_TRAIN_FULL && (s = geoloc_dist_agree(s, err)) == GEOLOC_OK) {
        s = r->resume ? train_replicas_share_state(&T.opt, &st, err) : train_replicas_share(&T.opt, 0, err);
        if (s == GEOLOC_OK) geoloc_exec_params_changed(T.full.train_ex);
    }
    if (s == GEOLOC_OK) s = train_log_open(r, d, r->resume, st.log_bytes, &st.log_bytes, err);
    if (s != GEOLOC_OK) goto done;
    if (r->resume) train_info(r, "resumed from %s: epoch %d, step %ld", r->ckpt_path, st.epoch + 1, st.step);
    r->res->epochs_before = st.epoch;
    train_run_start(r, &st);
    int stop = 0;
    double step_loss[TRAIN_MAX_HEADS], total;
    while (st.epoch < o->epochs && !stop) {
        double lr = geoloc_lr_at(&T.opt.sched, st.epoch);
        s = train_epoch_begin(&T, &st, err);
        while (s == GEOLOC_OK && !stop && st.batch_in_epoch < T.epoch_batches)
            if ((s = train_step(&T, &st, lr, step_loss, &total, err)) == GEOLOC_OK)
                s = after_step(&T, &st, lr, step_loss, total, &stop, err);
        train_epoch_end(&T);
        if (s != GEOLOC_OK) goto done;
        if (stop) break;
        geoloc_distance_summary val, *pv = NULL;
        double scene_acc[GEOLOC_SCENE_LEVELS];
        if (d->n_val) {
            if ((s = train_validate(&T, &val, scene_acc, err)) != GEOLOC_OK) goto done;
            pv = &val;
        }
        if ((s = end_epoch(&T, &st, lr, pv, pv ? scene_acc : NULL, &stop, err)) != GEOLOC_OK) goto done;
    }
    r->res->steps = st.step;
    r->res->epochs_done = st.epoch;
    r->res->val = st.val;
    r->res->stopped = stop;
    if (T.mode == GEOLOC_TRAIN_FULL) {
        r->res->sum_seconds = T.full.rep.seconds;
        r->res->sum_bytes = (uint64_t)T.full.rep.floats * sizeof(float);
    }
    size_t calibration_photos = o->calibration_folds >= 2 ? d->n_train : d->n_val;
    if (!stop && T.mode == GEOLOC_TRAIN_HEADS && d->n_parts && calibration_photos >= TRAIN_CALIBRATION_MIN &&
        (s = train_calibrate_heads(r, &T, m, f, sched, err)) != GEOLOC_OK)
        goto done;
    if (!stop) train_trainer_finish(&T);
done:
    train_trainer_free(&T);
    return s;
}
