/* Full mode: the pieces of fine-tuning the whole network with the paper's
 * recipe (the step itself is in step.c).
 *
 * Each epoch has its own loader (random resized crops and flips, a new
 * order), seeded from (seed, epoch), so a run resumed at epoch e, data batch
 * b sees the same photos and crops as an uninterrupted one: the loader of
 * epoch e is started again and its first b micro-batches are read and
 * dropped (decoding is cheap next to training). A micro-batch with photos
 * that could not be read is filled up with copies of its first photo whose
 * labels are ignored.
 *
 * With several ranks each runs its slice of every micro-batch (the loader's
 * part): micro_batch / ranks photos per network call, the same photos and
 * crops one process would see. */
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "geoloc/dist.h"
#include "train/internal.h"


void train_full_free(train_full *F) {
    train_replicas_free(&F->rep);
    geoloc_loader_destroy(F->loader);
    geoloc_exec_free(F->train_ex);
    geoloc_exec_free(F->prefix_ex);
    geoloc_exec_free(F->infer_ex);
    geoloc_net_free(F->tail);
    geoloc_net_free(F->prefix);
    free(F->input);
    for (size_t h = 0; h < TRAIN_MAX_HEADS; h++) {
        free(F->lab[h]);
        free(F->probs[h]);
    }
    free(F->lat);
    free(F->lng);
    free(F->failed);
    free(F->val_flag);
    free(F->tmp);
}

/* Batch-norm sums of sync-bn: over the ranks. */
static geoloc_status sum_across_ranks(void *ctx, float *data, size_t n, geoloc_error *err) {
    (void)ctx;
    return geoloc_dist_sum_f32(data, n, err);
}

geoloc_status train_full_setup(train_full *F, train_run *r, const train_data *d, const train_model *m,
                               train_optim *opt, geoloc_error *err) {
    const geoloc_train_options *o = r->o;
    F->r = r;
    F->d = d;
    F->m = m;
    F->net = m->model->net;
    int ranks = geoloc_dist_size();
    if (o->micro_batch % ranks)
        return error_set(err, GEOLOC_E_ARG, "--micro-batch %d does not split evenly over %d ranks: give a multiple of %d",
                         o->micro_batch, ranks, ranks);
    F->local_batch = o->micro_batch / ranks;
    size_t np = geoloc_net_param_count(F->net), image = (size_t)3 * o->image_size * o->image_size;
    geoloc_sgd_config sc = {.momentum = o->momentum, .weight_decay = o->weight_decay, .nesterov = o->nesterov};
    geoloc_status s = geoloc_sgd_create(&sc, &opt->sgd, err);
    if (s != GEOLOC_OK) return s;
    F->input = malloc((size_t)F->local_batch * image * sizeof *F->input);
    if (!F->input) return error_set(err, GEOLOC_E_NOMEM, "out of memory");
    for (size_t h = 0; h < d->n_heads; h++)
        if (!(F->lab[h] = malloc((size_t)F->local_batch * sizeof *F->lab[h])))
            return error_set(err, GEOLOC_E_NOMEM, "out of memory");
    F->trained = F->net;
    if (o->tune_from) { /* the frozen layers in inference: their output maps are the tail's input */
        s = geoloc_net_split(F->net, o->tune_from, &F->prefix, &F->tail, err);
        if (s == GEOLOC_OK)
            s = geoloc_exec_create(F->prefix, F->local_batch, o->image_size, o->image_size, GEOLOC_NN_INFER,
                                   &F->prefix_ex, err);
        F->trained = F->tail;
    }
    /* every tensor is checkpointed; those of the trained layers are updated */
    for (size_t i = 0; i < np && s == GEOLOC_OK; i++) {
        geoloc_param *p = geoloc_net_param(F->net, i);
        s = train_optim_add_tensor(opt, p->name, p->data, p->grad, p->n, err);
        if (s == GEOLOC_OK && p->grad && geoloc_net_find_param(F->trained, p->name))
            s = geoloc_sgd_add(opt->sgd, p->data, p->grad, p->n, p->head < 0 ? 0 : 1, NULL, err);
    }
    if (s == GEOLOC_OK)
        s = geoloc_sgd_set_group(opt->sgd, 0, o->backbone_lr_scale, GEOLOC_SGD_INHERIT, o->freeze_backbone, err);
    int in_c, in_h = o->image_size, in_w = o->image_size; /* images, or the tail's input maps */
    if (s == GEOLOC_OK && F->prefix_ex) geoloc_exec_output_shape(F->prefix_ex, &in_c, &in_h, &in_w);
    if (s == GEOLOC_OK)
        s = geoloc_exec_create(F->trained, F->local_batch, in_h, in_w, GEOLOC_NN_TRAIN, &F->train_ex, err);
    if (s == GEOLOC_OK && o->sync_bn) /* one rank too: the same arithmetic as N */
        s = geoloc_exec_set_batch_sum(F->train_ex, sum_across_ranks, NULL, ranks, err);
    if (s == GEOLOC_OK) s = train_replicas_setup(&F->rep, F->trained, err);
    if (s != GEOLOC_OK || d->n_val == 0) return s;
    s = geoloc_exec_create(F->net, TRAIN_VAL_PHOTOS * 3, o->image_size, o->image_size, GEOLOC_NN_INFER, &F->infer_ex, err);
    F->val_flag = malloc(d->n_val * sizeof *F->val_flag);
    F->lat = malloc(d->n_val * sizeof *F->lat);
    F->lng = malloc(d->n_val * sizeof *F->lng);
    F->failed = malloc(d->n_val);
    int cmax = 0;
    for (size_t h = 0; h < d->n_heads; h++) {
        if (d->classes[h] > cmax) cmax = d->classes[h];
        if (!(F->probs[h] = malloc((size_t)d->classes[h] * sizeof(float))))
            s = error_set(err, GEOLOC_E_NOMEM, "out of memory");
    }
    F->tmp = malloc((size_t)cmax * sizeof *F->tmp);
    if (s == GEOLOC_OK && (!F->lat || !F->lng || !F->failed || !F->tmp || !F->val_flag))
        s = error_set(err, GEOLOC_E_NOMEM, "out of memory");
    return s;
}

static geoloc_loader_config epoch_loader(const train_full *F, int epoch) {
    const geoloc_train_options *o = F->r->o;
    geoloc_loader_config lc = geoloc_loader_config_default();
    lc.batch_size = (size_t)o->micro_batch;
    lc.threads = o->loader_threads;
    lc.seed = train_mix(o->seed * 0x9E3779B97F4A7C15ull + (uint64_t)epoch);
    lc.shuffle = 1;
    lc.drop_last = F->d->n_train >= lc.batch_size;
    lc.epochs = 1;
    lc.mode = GEOLOC_LOADER_TRAIN;
    lc.out_size = o->image_size;
    lc.norm = F->m->norm;
    lc.part = geoloc_dist_rank();
    lc.parts = geoloc_dist_size();
    return lc;
}

long train_full_micro_batches(const train_full *F) {
    geoloc_loader_config lc = epoch_loader(F, 0);
    return (long)geoloc_loader_batches_per_epoch(&lc, F->d->n_train);
}

geoloc_status train_full_epoch_begin(train_full *F, int epoch, long skip, geoloc_error *err) {
    F->sub = (train_subset){&F->d->base, F->d->base_index, F->d->train, F->d->n_train};
    F->src = train_subset_source(&F->sub);
    geoloc_loader_config lc = epoch_loader(F, epoch);
    geoloc_batch b;
    geoloc_status s = geoloc_loader_create(&lc, &F->src, &F->loader, err);
    for (long k = 0; s == GEOLOC_OK && k < skip; k++) s = geoloc_loader_next(F->loader, &b, err);
    return s;
}

geoloc_status train_full_next(train_full *F, geoloc_batch *b, geoloc_error *err) {
    geoloc_status s = geoloc_loader_next(F->loader, b, err);
    if (s == GEOLOC_E_EMPTY) return error_set(err, GEOLOC_E_EMPTY, "the loader ended early");
    for (size_t j = 0; s == GEOLOC_OK && j < b->n_failed; j++) train_warn(F->r, "skipped: %s", b->failed[j].message);
    return s;
}

void train_full_epoch_end(train_full *F) {
    geoloc_loader_destroy(F->loader);
    F->loader = NULL;
}

void train_full_labels(train_full *F, const geoloc_batch *b, int64_t *labelled) {
    const train_data *d = F->d;
    size_t m = (size_t)F->local_batch;
    for (size_t h = 0; h < d->n_heads; h++) {
        labelled[h] = 0;
        for (size_t i = 0; i < m; i++) {
            F->lab[h][i] = i < b->count ? d->label[h][d->train[b->indices[i]]] : -1;
            labelled[h] += F->lab[h][i] >= 0;
        }
    }
}

geoloc_status train_full_forward_backward(train_full *F, const geoloc_batch *b, const float *head_weight,
                                          float *losses, geoloc_error *err) {
    const geoloc_train_options *o = F->r->o;
    size_t m = (size_t)F->local_batch, image = (size_t)3 * o->image_size * o->image_size;
    const float *input = b->data;
    if (b->count == 0) { /* this rank's slice is empty: blank images, no labels */
        memset(F->input, 0, m * image * sizeof *F->input);
        input = F->input;
    } else if (b->count < m) { /* photos skipped: fill up with copies of the first, labels ignored */
        memcpy(F->input, b->data, b->count * image * sizeof *F->input);
        for (size_t i = b->count; i < m; i++) memcpy(F->input + i * image, b->data, image * sizeof *F->input);
        input = F->input;
    }
    geoloc_status s = GEOLOC_OK;
    if (F->prefix_ex) { /* --tune-from: the frozen layers' maps */
        s = geoloc_exec_forward(F->prefix_ex, input, err);
        input = geoloc_exec_features(F->prefix_ex);
    }
    if (s == GEOLOC_OK) s = geoloc_exec_forward(F->train_ex, input, err);
    if (s == GEOLOC_OK)
        s = geoloc_exec_backward(F->train_ex, (const int32_t *const *)F->lab, head_weight, losses, err);
    return s;
}
