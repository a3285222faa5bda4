/* geoloc demo: placeholder until the demo is written. */
#include <stdio.h>

#include "cli/commands.h"

int cli_demo(int argc, char **argv) {
    (void)argc;
    (void)argv;
    printf("geoloc demo\n");
    return 0;
}
