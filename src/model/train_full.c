/* Full mode: fine-tuning the whole network with the paper's recipe.
 *
 * Each epoch has its own loader (random resized crops and flips, a new
 * order), seeded from (seed, epoch), so a run resumed at epoch e, data batch
 * b sees the same photos and crops as an uninterrupted one: the loader of
 * epoch e is started again and its first b micro-batches are read and
 * dropped (decoding is cheap next to training). An optimizer step
 * accumulates batch / micro_batch micro-batches (gradients scaled by one over
 * their number; an epoch's last step may have fewer); a micro-batch with
 * photos that could not be read is filled up with copies of its first photo
 * whose labels are ignored. Validation after every epoch: the three crops of
 * every validation photo through the network in inference mode, the crops'
 * probabilities averaged, the hierarchical answer. */
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "geoloc/loader.h"
#include "model/train_internal.h"

#define VAL_PHOTOS 8 /* validation photos per network call (x 3 crops) */

typedef struct full {
    train_ctx *c;
    geoloc_net *net;
    geoloc_exec *train_ex, *infer_ex;
    geoloc_sgd *opt;
    train_tensor *t;
    size_t nt;
    float *input;
    int32_t *lab[TRAIN_MAX_HEADS];
    /* validation */
    double *lat, *lng;
    uint8_t *failed;
    float *probs[TRAIN_MAX_HEADS], *tmp;
} full;

static void full_free(full *F) {
    geoloc_exec_free(F->train_ex);
    geoloc_exec_free(F->infer_ex);
    geoloc_sgd_free(F->opt);
    free(F->t);
    free(F->input);
    for (size_t h = 0; h < TRAIN_MAX_HEADS; h++) {
        free(F->lab[h]);
        free(F->probs[h]);
    }
    free(F->lat);
    free(F->lng);
    free(F->failed);
    free(F->tmp);
}

static geoloc_status setup(full *F, train_ctx *c, geoloc_error *err) {
    const geoloc_train_options *o = c->o;
    F->c = c;
    F->net = c->model->net;
    size_t np = geoloc_net_param_count(F->net), image = (size_t)3 * o->image_size * o->image_size;
    geoloc_sgd_config sc = {.momentum = o->momentum, .weight_decay = o->weight_decay, .nesterov = o->nesterov};
    geoloc_status s = geoloc_sgd_create(&sc, &F->opt, err);
    if (s != GEOLOC_OK) return s;
    F->t = malloc(np * sizeof *F->t);
    F->input = malloc((size_t)o->micro_batch * image * sizeof *F->input);
    if (!F->t || !F->input) return error_set(err, GEOLOC_E_NOMEM, "out of memory");
    for (size_t h = 0; h < c->n_heads; h++)
        if (!(F->lab[h] = malloc((size_t)o->micro_batch * sizeof *F->lab[h])))
            return error_set(err, GEOLOC_E_NOMEM, "out of memory");
    for (size_t i = 0; i < np && s == GEOLOC_OK; i++) {
        geoloc_param *p = geoloc_net_param(F->net, i);
        F->t[F->nt++] = (train_tensor){p->name, p->data, p->n};
        if (p->grad) s = geoloc_sgd_add(F->opt, p->data, p->grad, p->n, p->head < 0 ? 0 : 1, NULL, err);
    }
    if (s == GEOLOC_OK)
        s = geoloc_sgd_set_group(F->opt, 0, o->backbone_lr_scale, GEOLOC_SGD_INHERIT, o->freeze_backbone, err);
    if (s == GEOLOC_OK)
        s = geoloc_exec_create(F->net, o->micro_batch, o->image_size, o->image_size, GEOLOC_NN_TRAIN, &F->train_ex,
                               err);
    if (s != GEOLOC_OK || c->n_val == 0) return s;
    s = geoloc_exec_create(F->net, VAL_PHOTOS * 3, o->image_size, o->image_size, GEOLOC_NN_INFER, &F->infer_ex, err);
    F->lat = malloc(c->n_val * sizeof *F->lat);
    F->lng = malloc(c->n_val * sizeof *F->lng);
    F->failed = malloc(c->n_val);
    int cmax = 0;
    for (size_t h = 0; h < c->n_heads; h++) {
        if (c->classes[h] > cmax) cmax = c->classes[h];
        if (!(F->probs[h] = malloc((size_t)c->classes[h] * sizeof(float)))) s = error_set(err, GEOLOC_E_NOMEM, "out of memory");
    }
    F->tmp = malloc((size_t)cmax * sizeof *F->tmp);
    if (s == GEOLOC_OK && (!F->lat || !F->lng || !F->failed || !F->tmp)) s = error_set(err, GEOLOC_E_NOMEM, "out of memory");
    return s;
}

/* ---- validation ---- */

static void answer_photo(void *ctx, size_t k, int view0, int views, const geoloc_exec *ex, int first) {
    full *F = ctx;
    const train_ctx *c = F->c;
    (void)view0;
    for (size_t h = 0; h < c->n_heads; h++) {
        int C = c->classes[h];
        memset(F->probs[h], 0, (size_t)C * sizeof(float));
        for (int v = 0; v < views; v++) {
            geoloc_softmax(geoloc_exec_logits(ex, h) + (size_t)(first + v) * C, 1, (size_t)C, F->tmp);
            for (int j = 0; j < C; j++) F->probs[h][j] += F->tmp[j] / (float)views;
        }
    }
    train_answer(c, (const float *const *)F->probs, &F->lat[k], &F->lng[k]);
}

static geoloc_status validate(full *F, geoloc_distance_summary *out, geoloc_error *err) {
    train_ctx *c = F->c;
    memset(F->failed, 0, c->n_val);
    geoloc_exec_params_changed(F->infer_ex);
    uint64_t images = c->run_images;
    geoloc_status s = train_run_three(c, F->infer_ex, VAL_PHOTOS, 3, c->val, c->n_val, answer_photo, F, F->failed,
                                      NULL, 0, err);
    c->run_images = images; /* images/s counts training images */
    if (s != GEOLOC_OK) return s;
    return train_val_summary(c, F->lat, F->lng, F->failed, out, err);
}

/* ---- training ---- */

/* One micro-batch: forward and backward (gradients added); losses per head. */
static geoloc_status micro_step(full *F, const geoloc_batch *b, float *losses, geoloc_error *err) {
    train_ctx *c = F->c;
    size_t m = (size_t)c->o->micro_batch, image = (size_t)3 * c->o->image_size * c->o->image_size;
    const float *input = b->data;
    if (b->count < m) { /* photos skipped: fill up with copies of the first, labels ignored */
        memcpy(F->input, b->data, b->count * image * sizeof *F->input);
        for (size_t i = b->count; i < m; i++) memcpy(F->input + i * image, b->data, image * sizeof *F->input);
        input = F->input;
    }
    for (size_t h = 0; h < c->n_heads; h++)
        for (size_t i = 0; i < m; i++) F->lab[h][i] = i < b->count ? c->label[h][c->train[b->indices[i]]] : -1;
    geoloc_status s = geoloc_exec_forward(F->train_ex, input, err);
    if (s == GEOLOC_OK)
        s = geoloc_exec_backward(F->train_ex, (const int32_t *const *)F->lab, c->head_weight, losses, err);
    return s;
}

static geoloc_loader_config epoch_loader(const train_ctx *c, int epoch) {
    geoloc_loader_config lc = geoloc_loader_config_default();
    lc.batch_size = (size_t)c->o->micro_batch;
    lc.threads = c->o->loader_threads;
    lc.seed = train_mix(c->o->seed * 0x9E3779B97F4A7C15ull + (uint64_t)epoch);
    lc.shuffle = 1;
    lc.drop_last = c->n_train >= lc.batch_size;
    lc.epochs = 1;
    lc.mode = GEOLOC_LOADER_TRAIN;
    lc.out_size = c->o->image_size;
    lc.norm = c->norm;
    return lc;
}

/* The rest of the current epoch from st->batch_in_epoch; 1 in *stopped at stop_after. */
static geoloc_status run_epoch(full *F, train_state *st, double lr, int *stopped, geoloc_error *err) {
    train_ctx *c = F->c;
    const geoloc_train_options *o = c->o;
    train_subset sub = {&c->base, c->base_index, c->train, c->n_train};
    geoloc_source src = train_subset_source(&sub);
    geoloc_loader_config lc = epoch_loader(c, st->epoch);
    long per_step = o->batch / o->micro_batch, micro = (long)geoloc_loader_batches_per_epoch(&lc, c->n_train);
    long steps = (micro + per_step - 1) / per_step;
    geoloc_loader *L = NULL;
    geoloc_batch b;
    geoloc_status s = geoloc_loader_create(&lc, &src, &L, err);
    for (long k = 0; s == GEOLOC_OK && k < st->batch_in_epoch; k++) s = geoloc_loader_next(L, &b, err);
    *stopped = 0;
    while (s == GEOLOC_OK && st->batch_in_epoch < micro) {
        geoloc_net_zero_grad(F->net);
        double step_loss[TRAIN_MAX_HEADS] = {0}, total = 0;
        long done = 0, forwards = 0;
        while (done < per_step && st->batch_in_epoch < micro) {
            if ((s = geoloc_loader_next(L, &b, err)) != GEOLOC_OK) break;
            for (size_t j = 0; j < b.n_failed; j++) train_warn(c, "skipped: %s", b.failed[j].message);
            done++;
            st->batch_in_epoch++;
            if (b.count == 0) continue;
            float losses[TRAIN_MAX_HEADS];
            if ((s = micro_step(F, &b, losses, err)) != GEOLOC_OK) break;
            for (size_t h = 0; h < c->n_heads; h++) step_loss[h] += losses[h];
            forwards++;
            st->images += b.count;
            c->run_images += b.count;
        }
        if (s != GEOLOC_OK) break;
        geoloc_sgd_step(F->opt, lr, 1.0f / (float)done);
        geoloc_exec_params_changed(F->train_ex);
        for (size_t h = 0; h < c->n_heads; h++) {
            step_loss[h] = forwards ? step_loss[h] / (double)forwards : 0;
            st->loss_sum[h] += step_loss[h];
            total += c->head_weight[h] * step_loss[h];
        }
        st->loss_total += total;
        st->loss_n++;
        st->step++;
        long in_epoch = (st->batch_in_epoch + per_step - 1) / per_step;
        if ((s = train_after_step(c, st, lr, step_loss, total, steps, in_epoch, err)) != GEOLOC_OK) break;
        int stop = o->stop_after > 0 && st->step >= o->stop_after;
        if (st->batch_in_epoch < micro && (stop || (o->checkpoint_every > 0 && st->step % o->checkpoint_every == 0)))
            s = train_ckpt_write(c, F->t, F->nt, F->opt, st, err);
        if (stop && st->batch_in_epoch < micro) {
            *stopped = 1;
            break;
        }
    }
    geoloc_loader_destroy(L);
    if (s == GEOLOC_E_EMPTY)
        s = error_set(err, GEOLOC_E_EMPTY, "epoch %d: the loader ended early", st->epoch + 1);
    return s;
}

geoloc_status train_full_run(train_ctx *c, geoloc_error *err) {
    full F;
    memset(&F, 0, sizeof F);
    train_state st;
    memset(&st, 0, sizeof st);
    geoloc_lr_schedule sched;
    geoloc_status s = setup(&F, c, err);
    if (s == GEOLOC_OK) s = train_schedule(c, &sched, err);
    if (s == GEOLOC_OK && c->o->resume) {
        s = train_ckpt_read(c, F.t, F.nt, F.opt, &st, err);
        geoloc_exec_params_changed(F.train_ex);
    }
    if (s == GEOLOC_OK) s = train_log_open(c, c->o->resume, st.log_bytes, &st.log_bytes, err);
    if (s != GEOLOC_OK) goto done;
    if (c->o->resume) train_info(c, "resumed from %s: epoch %d, step %ld", c->ckpt_path, st.epoch + 1, st.step);
    train_info(c, "full: %zu training photos, batch %d of micro-batches %d, %d epochs", c->n_train, c->o->batch,
               c->o->micro_batch, c->o->epochs);
    train_run_start(c, &st);
    while (st.epoch < c->o->epochs) {
        double lr = geoloc_lr_at(&sched, st.epoch);
        int stopped;
        if ((s = run_epoch(&F, &st, lr, &stopped, err)) != GEOLOC_OK) goto done;
        if (stopped) {
            c->res->stopped = 1;
            goto done;
        }
        geoloc_distance_summary val, *pv = NULL;
        if (c->n_val) {
            if ((s = validate(&F, &val, err)) != GEOLOC_OK) goto done;
            pv = &val;
        }
        int stop;
        if ((s = train_end_epoch(c, &st, lr, pv, F.t, F.nt, F.opt, &stop, err)) != GEOLOC_OK || stop) goto done;
    }
    c->res->steps = st.step;
    c->res->epochs_done = st.epoch;
done:
    full_free(&F);
    return s;
}
