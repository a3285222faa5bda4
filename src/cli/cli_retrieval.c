/* Retrieval answers for predict and evaluate --model. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli_retrieval.h"

const char *const cli_answer_choices[] = {"class", "knn", "hybrid", NULL};

int cli_retrieval_open(const char *cmd, int answer, const char *index_path, long k, const cli_runner *c,
                       cli_retrieval **out) {
    *out = NULL;
    if (answer != GEOLOC_ANSWER_CLASS && !index_path) {
        fprintf(stderr, "%s: --answer %s needs --index FILE\n", cmd, cli_answer_choices[answer]);
        return 2;
    }
    if (answer == GEOLOC_ANSWER_CLASS && (index_path || k)) {
        fprintf(stderr, "%s: --index and --k need --answer knn or hybrid\n", cmd);
        return 2;
    }
    if (answer == GEOLOC_ANSWER_CLASS) return 0;
    cli_retrieval *r = calloc(1, sizeof *r);
    int dim = geoloc_predictor_feature_dim(c->pred);
    geoloc_error err = {0};
    char backbone[512];
    geoloc_index_backbone_of(c->model, c->path, backbone, sizeof backbone);
    if (!r || geoloc_index_load(index_path, &r->index, &err) != GEOLOC_OK ||
        geoloc_index_check_backbone(r->index, backbone, index_path, &err) != GEOLOC_OK) {
        fprintf(stderr, "%s: %s\n", cmd, r ? err.message : "out of memory");
        cli_retrieval_close(r);
        return 1;
    }
    if (geoloc_index_dim(r->index) != dim) {
        fprintf(stderr, "%s: %s: vectors of width %d, the model's features have %d\n", cmd, index_path,
                geoloc_index_dim(r->index), dim);
        cli_retrieval_close(r);
        return 1;
    }
    r->kind = (geoloc_answer_kind)answer;
    r->k = k ? (size_t)k : 50;
    r->pred = c->pred;
    r->features = malloc((size_t)dim * sizeof *r->features);
    r->nb = malloc(r->k * sizeof *r->nb);
    if (!r->features || !r->nb) {
        fprintf(stderr, "%s: out of memory\n", cmd);
        cli_retrieval_close(r);
        return 1;
    }
    *out = r;
    return 0;
}

int cli_retrieval_neighbours(const char *cmd, cli_retrieval *r, const geoloc_photo_answer *a, const char *self,
                             size_t *n) {
    geoloc_predictor_features(r->pred, a->run_index, r->features);
    const char *slash = strrchr(a->name, '/'); /* the index holds IMG_IDs: by default the file name */
    if (!self) self = slash ? slash + 1 : a->name;
    geoloc_error err = {0};
    if (geoloc_index_search(r->index, r->features, r->k, self, r->nb, n, &err) != GEOLOC_OK) {
        fprintf(stderr, "%s: %s: %s\n", cmd, a->name, err.message);
        return -1;
    }
    return 0;
}

int cli_retrieval_apply(const char *cmd, cli_retrieval *r, const geoloc_photo_answer *a, const char *self,
                        geoloc_photo_answer *b) {
    *b = *a;
    if (!r || !a->pred) return 0;
    size_t n = 0;
    if (cli_retrieval_neighbours(cmd, r, a, self, &n) != 0) return -1;
    r->moved = *a->pred;
    r->moved_count += (size_t)geoloc_answer_retrieval(r->kind, r->nb, n, geoloc_knn_kernel_default(), &r->moved);
    b->pred = &r->moved;
    return 0;
}

void cli_retrieval_close(cli_retrieval *r) {
    if (!r) return;
    geoloc_index_free(r->index);
    free(r->features);
    free(r->nb);
    free(r);
}
