/* Building a network's description: appending parameters (allocated, with a
 * gradient when trained) and layer nodes. The architecture (resnet.c) calls
 * these; nothing here knows which network is built. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/array.h"
#include "nn/graph.h"

int net_add_param(geoloc_net *net, const char *name, geoloc_param_kind kind, int head,
                  size_t ndim, const uint64_t *shape) {
    if (array_grow((void **)&net->params, &net->cap_params, net->n_params + 1, sizeof *net->params)) return -1;
    geoloc_param *p = &net->params[net->n_params];
    memset(p, 0, sizeof *p);
    snprintf(p->name, sizeof p->name, "%s", name);
    p->kind = kind;
    p->head = head;
    p->ndim = ndim;
    p->n = 1;
    for (size_t k = 0; k < ndim; k++) p->shape[k] = shape[k], p->n *= shape[k];
    if (net->shares) {
        const geoloc_param *whole = NULL;
        for (size_t i = 0; i < net->shares->n_params && !whole; i++)
            if (!strcmp(net->shares->params[i].name, name)) whole = &net->shares->params[i];
        if (!whole || whole->n != p->n) return -1;
        p->data = whole->data;
        p->grad = whole->grad;
        return (int)net->n_params++;
    }
    size_t bytes = (p->n * sizeof(float) + 63) / 64 * 64;
    int trained = kind != GEOLOC_PARAM_RUNNING_MEAN && kind != GEOLOC_PARAM_RUNNING_VAR;
    p->data = aligned_alloc(64, bytes);
    /* calloc: the zero pages of an unused gradient (inference) cost neither time nor memory */
    p->grad = trained ? calloc(1, bytes) : NULL;
    if (!p->data || (trained && !p->grad)) {
        free(p->data);
        free(p->grad);
        return -1;
    }
    float fill = kind == GEOLOC_PARAM_RUNNING_VAR ? 1.0f : 0.0f;
    for (size_t i = 0; i < p->n; i++) p->data[i] = fill;
    return (int)net->n_params++;
}

int net_add_node(geoloc_net *net, const nn_node *node, int channels) {
    if (array_grow((void **)&net->nodes, &net->cap_nodes, net->n_nodes + 1, sizeof *net->nodes) ||
        array_grow((void **)&net->value_channels, &net->cap_values, (size_t)net->n_values + 1,
                   sizeof *net->value_channels))
        return -1;
    nn_node *nd = &net->nodes[net->n_nodes++];
    *nd = *node;
    nd->out = net->n_values++;
    net->value_channels[nd->out] = channels;
    return nd->out;
}
