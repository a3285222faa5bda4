/* geoloc model calibrate (cli_model_calibrate.c), model quantize and weights quantize (cli_quantize.c). */
#ifndef GEOLOC_CLI_CALIBRATE_H
#define GEOLOC_CLI_CALIBRATE_H

/* Runs `geoloc model calibrate`; the exit status. */
int cli_model_calibrate(int argc, char **argv);

/* Runs `geoloc model quantize`; the exit status. */
int cli_model_quantize(int argc, char **argv);

/* Runs `geoloc weights quantize`; the exit status. */
int cli_weights_quantize(int argc, char **argv);

#endif
