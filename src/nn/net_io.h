/* The architecture metadata of weights files (geoloc.arch, ...), shared by
 * network weights files and model files. Internal API. */
#ifndef GEOLOC_NN_NET_IO_H
#define GEOLOC_NN_NET_IO_H

#include "geoloc/nn.h"

#define NET_ARCH_KEYS 5
#define NET_INT8_RANGE_TENSOR "geoloc.int8_range" /* F32 [convolutions]: the int8 calibration */

/* The keys geoloc.arch, geoloc.stride_in_bottleneck, geoloc.bn_eps,
 * geoloc.conv_bias and geoloc.heads and their values (pointing into the struct). */
typedef struct net_arch_meta {
    char arch[32], eps[32], heads[GEOLOC_NN_MAX_HEADS * (GEOLOC_NN_HEAD_NAME + 16)];
    const char *keys[NET_ARCH_KEYS], *values[NET_ARCH_KEYS];
} net_arch_meta;

/* Fills out with the architecture metadata of c. */
void net_arch_metadata(const geoloc_resnet_config *c, net_arch_meta *out);

/* geoloc_resnet_config_from_weights with `file` naming the file in messages. */
geoloc_status net_config_from_metadata(const geoloc_safetensors *st, const char *file,
                                      geoloc_resnet_config *cfg, geoloc_error *err);

/* The network's int8 ranges in convolution order, a new array of *n floats (free it);
 * NULL without ranges (*n 0) or out of memory (*n not 0). */
float *net_int8_ranges(const geoloc_net *net, uint64_t *n);

/* Sets the network's int8 ranges from st's NET_INT8_RANGE_TENSOR when it has one (file
 * names st in messages): one positive finite number per convolution. */
geoloc_status net_int8_ranges_load(geoloc_net *net, const geoloc_safetensors *st, const char *file,
                                   geoloc_error *err);

#endif
