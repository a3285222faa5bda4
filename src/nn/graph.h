/* The description of a network (no execution state): a list of layer nodes
 * in execution order over numbered values, and the named parameters they
 * use. Value 0 is the input image batch. Internal API. */
#ifndef GEOLOC_NN_GRAPH_H
#define GEOLOC_NN_GRAPH_H

#include "geoloc/nn.h"

typedef enum nn_op {
    NN_CONV,    /* in[0] -> out; params: weight [, bias] */
    NN_BN,      /* in[0] -> out; params: weight, bias, running_mean, running_var */
    NN_RELU,    /* in[0] -> out */
    NN_MAXPOOL, /* in[0] -> out */
    NN_ADD,     /* in[0] + in[1] -> out */
    NN_GAP      /* global average pool: in[0] -> out (channels x 1 x 1) */
} nn_op;

typedef struct nn_node {
    nn_op op;
    int in[2];
    int out;
    int kernel, stride, pad; /* conv, maxpool */
    int param;               /* first parameter index (conv weight, bn weight) */
    int has_bias;            /* conv: the parameter after the weight is its bias */
} nn_node;

struct geoloc_net {
    geoloc_resnet_config cfg;
    nn_node *nodes;
    size_t n_nodes, cap_nodes;
    int *value_channels; /* channels of each value */
    int n_values;
    size_t cap_values;
    int feature_value;   /* output of the global average pool */
    geoloc_param *params;
    size_t n_params, cap_params;
    int head_param[GEOLOC_NN_MAX_HEADS]; /* index of <head>.weight; its bias follows */
    float *int8_range;   /* per node (NULL: none): a convolution's largest |output| in calibration */
    geoloc_net *shares;  /* a part of a split: the network whose parameter arrays it uses */
};

/* Number of convolution nodes (the length of the int8 ranges in a weights file). */
size_t net_conv_count(const geoloc_net *net);

/* Appends a parameter (data zeroed, gradient allocated when trained; a part of a split
 * uses the whole network's arrays of that name); its index or -1. */
int net_add_param(geoloc_net *net, const char *name, geoloc_param_kind kind, int head,
                  size_t ndim, const uint64_t *shape);

/* Appends a node producing a new value of `channels` channels; the value or -1. */
int net_add_node(geoloc_net *net, const nn_node *node, int channels);

/* A network of cfg (checked by the caller), using the parameter arrays of `shares` when
 * not NULL (a part of a split). */
geoloc_status net_build(const geoloc_resnet_config *cfg, geoloc_net *shares, geoloc_net **out, geoloc_error *err);

/* Builds the ResNet layers and parameters of net->cfg (called by geoloc_net_create). */
geoloc_status resnet_build(geoloc_net *net, geoloc_error *err);

#endif
