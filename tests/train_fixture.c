/* Writes a ResNet with random (torch-initialised) weights as a backbone file for
 * the training tests: train_fixture OUT.safetensors [DEPTH [SEED]]. */
#include <stdio.h>
#include <stdlib.h>

#include "geoloc/nn.h"

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: train_fixture OUT.safetensors [DEPTH [SEED]]\n");
        return 2;
    }
    int depth = argc > 2 ? atoi(argv[2]) : 18;
    unsigned long long seed = argc > 3 ? strtoull(argv[3], NULL, 10) : 3;
    geoloc_resnet_config cfg;
    geoloc_resnet_config_default(&cfg, depth, 10);
    geoloc_net *net = NULL;
    geoloc_error err = {0};
    if (geoloc_net_create(&cfg, &net, &err) == GEOLOC_OK) {
        geoloc_net_init_random(net, seed);
        geoloc_net_save(net, argv[1], NULL, NULL, 0, &err);
    }
    geoloc_net_free(net);
    if (err.status != GEOLOC_OK) fprintf(stderr, "train_fixture: %s\n", err.message);
    return err.status == GEOLOC_OK ? 0 : 1;
}
