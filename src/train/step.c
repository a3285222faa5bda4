/* One optimizer step of either mode, top to bottom: batch -> forward ->
 * loss -> backward -> divergence check -> SGD update -> bookkeeping. The
 * heads step trains the linear heads on a batch of cached feature samples
 * (heads.c); the full step accumulates batch / micro_batch micro-batches of
 * photos through the whole network (full.c), gradients scaled by one over
 * their number (an epoch's last step may have fewer). A non-finite loss or
 * gradient stops training before the update touches the weights. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/error.h"
#include "geoloc/dist.h"
#include "train/internal.h"

geoloc_status train_trainer_setup(train_trainer *T, train_run *r, const train_data *d, train_model *m,
                                  const train_features *f, const geoloc_lr_schedule *sched, geoloc_error *err) {
    const geoloc_train_options *o = r->o;
    geoloc_status s;
    T->opt.sched = *sched;
    T->mode = o->mode;
    T->r = r;
    T->d = d;
    if (T->mode == GEOLOC_TRAIN_HEADS) {
        if ((s = train_heads_setup(&T->heads, d, f, o, m->model, &T->opt, err)) != GEOLOC_OK) return s;
        T->epoch_batches = (long)((T->heads.n_samples + (size_t)o->batch - 1) / (size_t)o->batch);
        T->per_step = 1;
        train_info(r, "heads: %zu samples (%zu photos x %d views), batch %d, %d epochs", T->heads.n_samples,
                   T->heads.n_samples / (size_t)T->heads.views, T->heads.views, o->batch, o->epochs);
    } else {
        if ((s = train_full_setup(&T->full, r, d, m, &T->opt, err)) != GEOLOC_OK) return s;
        T->epoch_batches = train_full_micro_batches(&T->full);
        T->per_step = o->batch / o->micro_batch;
        train_info(r, "full: %zu training photos, batch %d of micro-batches %d, %d epochs", d->n_train, o->batch,
                   o->micro_batch, o->epochs);
    }
    return GEOLOC_OK;
}

geoloc_status train_epoch_begin(train_trainer *T, const train_state *st, geoloc_error *err) {
    if (T->mode == GEOLOC_TRAIN_HEADS) {
        train_heads_epoch_order(&T->heads, st->epoch);
        return GEOLOC_OK;
    }
    return train_full_epoch_begin(&T->full, st->epoch, st->batch_in_epoch, err);
}

void train_epoch_end(train_trainer *T) {
    if (T->mode == GEOLOC_TRAIN_FULL) train_full_epoch_end(&T->full);
}

/* The divergence error when the step's loss or a gradient is not finite (st: before the step). */
static geoloc_status check_step(train_trainer *T, const train_state *st, double total, geoloc_error *err) {
    char what[160];
    if (!isfinite(total)) {
        snprintf(what, sizeof what, "loss is %s", isnan(total) ? "nan" : "inf");
        return train_diverged(T->r, st->epoch + 1, st->step + 1, what, err);
    }
    for (size_t k = 0; k < T->opt.nt; k++) {
        const train_tensor *t = &T->opt.t[k];
        if (t->grad && train_first_nonfinite(t->grad, t->n) < t->n) {
            snprintf(what, sizeof what, "gradient of %.100s is not finite", t->name);
            return train_diverged(T->r, st->epoch + 1, st->step + 1, what, err);
        }
    }
    return GEOLOC_OK;
}

/* Heads mode: one batch of feature samples through every head. */
static geoloc_status heads_step(train_trainer *T, train_state *st, double lr, double *step_loss, double *total,
                                geoloc_error *err) {
    train_heads *H = &T->heads;
    const train_data *d = T->d;
    size_t B = (size_t)T->r->o->batch, first = (size_t)st->batch_in_epoch * B;
    size_t nb = H->n_samples - first < B ? H->n_samples - first : B;
    size_t *rows = H->order + first;
    train_heads_load_batch(H, rows, nb);                          /* batch */
    *total = 0;
    for (size_t h = 0; h < d->n_heads; h++) {                     /* forward, loss, backward */
        step_loss[h] = train_heads_forward_backward(H, h, rows, nb);
        *total += d->head_weight[h] * step_loss[h];
    }
    geoloc_status s = check_step(T, st, *total, err);            /* divergence */
    if (s != GEOLOC_OK) return s;
    geoloc_sgd_step(T->opt.sgd, lr, 1.0f);                        /* update */
    for (size_t h = 0; h < d->n_heads; h++) st->loss_sum[h] += step_loss[h]; /* bookkeeping */
    st->batch_in_epoch++;
    st->images += nb;
    T->r->run_images += nb;
    return GEOLOC_OK;
}

/* Full mode: per_step micro-batches accumulated into one update. With several ranks,
 * each runs its slice of every micro-batch; a head's loss is the mean over the labelled
 * photos of the whole micro-batch, so a rank weights its slice's mean by its share of
 * them (times the ranks, as the summed gradients are divided by the ranks). */
static geoloc_status full_step(train_trainer *T, train_state *st, double lr, double *step_loss, double *total,
                               geoloc_error *err) {
    train_full *F = &T->full;
    const train_data *d = T->d;
    const size_t nh = d->n_heads;
    const int ranks = F->rep.size ? F->rep.size : 1;
    geoloc_status s = GEOLOC_OK;
    long done = 0, forwards = 0;
    memset(step_loss, 0, nh * sizeof *step_loss);
    geoloc_net_zero_grad(F->trained);
    while (done < T->per_step && st->batch_in_epoch + done < T->epoch_batches) {
        geoloc_batch b;
        if ((s = train_full_next(F, &b, err)) != GEOLOC_OK) return s; /* batch */
        done++;
        int64_t mine[1 + TRAIN_MAX_HEADS], all[1 + TRAIN_MAX_HEADS]; /* photos, labelled per head */
        mine[0] = (int64_t)b.count;
        train_full_labels(F, &b, mine + 1);
        memcpy(all, mine, (1 + nh) * sizeof *all);
        if ((s = geoloc_dist_sum_i64(all, 1 + nh, err)) != GEOLOC_OK) return s;
        if (all[0] == 0) continue;
        float weight[TRAIN_MAX_HEADS], losses[TRAIN_MAX_HEADS];
        for (size_t h = 0; h < nh; h++)
            weight[h] = all[1 + h] ? (float)((double)d->head_weight[h] * ranks * (double)mine[1 + h] / (double)all[1 + h]) : 0;
        if ((s = train_full_forward_backward(F, &b, weight, losses, err)) != GEOLOC_OK) return s; /* forward..backward */
        for (size_t h = 0; h < nh; h++)
            step_loss[h] += all[1 + h] ? (double)losses[h] * (double)mine[1 + h] / (double)all[1 + h] : 0;
        forwards++;
        st->images += (uint64_t)all[0];
        T->r->run_images += (uint64_t)all[0];
    }
    if ((s = geoloc_dist_sum_f64(step_loss, nh, err)) != GEOLOC_OK) return s; /* the ranks' shares */
    if ((s = train_replicas_sum_grads(&F->rep, err)) != GEOLOC_OK) return s;
    *total = 0;
    for (size_t h = 0; h < nh; h++) {                             /* loss */
        step_loss[h] = forwards ? step_loss[h] / (double)forwards : 0;
        *total += d->head_weight[h] * step_loss[h];
    }
    if ((s = check_step(T, st, *total, err)) != GEOLOC_OK) return s; /* divergence */
    geoloc_sgd_step(T->opt.sgd, lr, 1.0f / (float)(done * ranks));  /* update */
    /* each rank's running statistics differ unless synchronised: rank 0's are kept, as DDP does */
    if (!T->r->o->sync_bn && (s = train_replicas_share(&T->opt, 1, err)) != GEOLOC_OK) return s;
    geoloc_exec_params_changed(F->train_ex);
    for (size_t h = 0; h < nh; h++) st->loss_sum[h] += step_loss[h]; /* bookkeeping */
    st->batch_in_epoch += done;
    return GEOLOC_OK;
}

geoloc_status train_step(train_trainer *T, train_state *st, double lr, double *step_loss, double *total,
                         geoloc_error *err) {
    geoloc_status s = T->mode == GEOLOC_TRAIN_HEADS ? heads_step(T, st, lr, step_loss, total, err)
                                                     : full_step(T, st, lr, step_loss, total, err);
    if (s != GEOLOC_OK) return s;
    st->loss_total += *total;
    st->loss_n++;
    st->step++;
    return GEOLOC_OK;
}

geoloc_status train_validate(train_trainer *T, geoloc_distance_summary *out, double *scene_acc, geoloc_error *err) {
    return T->mode == GEOLOC_TRAIN_HEADS ? train_validate_heads(&T->heads, out, scene_acc, err)
                                         : train_validate_full(&T->full, out, scene_acc, err);
}

void train_trainer_finish(train_trainer *T) {
    if (T->mode == GEOLOC_TRAIN_HEADS) train_heads_fold(&T->heads);
}

void train_trainer_free(train_trainer *T) {
    train_heads_free(&T->heads);
    train_full_free(&T->full);
    train_optim_free(&T->opt);
}
