/* geoloc model calibrate (cli_model_calibrate.c). */
#ifndef GEOLOC_CLI_CALIBRATE_H
#define GEOLOC_CLI_CALIBRATE_H

/* Runs `geoloc model calibrate`; the exit status. */
int cli_model_calibrate(int argc, char **argv);

#endif
