/* Retrieval answers for the commands that predict (predict, evaluate
 * --model): the --answer, --index and --k options, the index loaded and
 * checked against the model's backbone, and each photo's answer moved by its
 * neighbours (geoloc/retrieval.h). Internal to the CLI. */
#ifndef GEOLOC_CLI_RETRIEVAL_H
#define GEOLOC_CLI_RETRIEVAL_H

#include "cli/cli_photos.h"
#include "geoloc/retrieval.h"

/* The --answer values in geoloc_answer_kind order, NULL-terminated. */
extern const char *const cli_answer_choices[];

/* The option-table rows of --answer, --index and --k for an argument struct
 * TYPE with members ANSWER (int), INDEX (const char *) and K (long). */
#define CLI_RETRIEVAL_OPTIONS(type_, answer_, index_, k_)                                                   \
    CLI_OPTION("answer", 0, CLI_ENUM, type_, answer_, NULL,                                                \
               "class: the classifier's answer; knn: the kernel-density\n"                                 \
               "mode of the --k nearest photos of --index; hybrid: the\n"                                  \
               "classifier's cell, the neighbours' mode inside it",                                        \
               .choices = cli_answer_choices),                                                             \
    CLI_OPTION("index", 0, CLI_STRING, type_, index_, "FILE",                                              \
               "the feature index of --answer knn|hybrid (geoloc index\n"                                  \
               "build); a photo in it is never its own neighbour"),                                        \
    CLI_OPTION("k", 0, CLI_INT, type_, k_, "K", "neighbours of --answer knn|hybrid (default 50)", .min = 1,  \
               .max = 4096)

/* What answers with retrieval need. */
typedef struct cli_retrieval {
    geoloc_index *index;
    geoloc_answer_kind kind;
    size_t k;
    const geoloc_predictor *pred;
    float *features;            /* one photo's */
    geoloc_neighbour *nb;       /* k */
    geoloc_prediction moved;    /* the last answer moved */
    size_t moved_count;         /* answers whose point retrieval gave */
} cli_retrieval;

/* Checks the options (an --answer other than class needs --index, --index
 * needs it), loads the index and checks its backbone against c's model;
 * *out stays NULL for --answer class. 0, or after a message 1 (the index
 * cannot be read or is of another backbone) or 2 (usage). */
int cli_retrieval_open(const char *cmd, int answer, const char *index_path, long k, const cli_runner *c,
                       cli_retrieval **out);

/* The neighbours of a's photo into r->nb[0..*n), leaving out the index's
 * photos of id `self` (NULL: the file name of a->name); a must have a
 * prediction. 0, or -1 after a message (the search failed). */
int cli_retrieval_neighbours(const char *cmd, cli_retrieval *r, const geoloc_photo_answer *a, const char *self,
                             size_t *n);

/* *b = *a with the answer moved by the photo's neighbours, leaving out the
 * index's photos of id `self` (NULL: the file name of a->name); a photo
 * without a prediction, or r NULL: unchanged. b->pred points into r until
 * the next call. 0, or -1 after a message (the search failed). */
int cli_retrieval_apply(const char *cmd, cli_retrieval *r, const geoloc_photo_answer *a, const char *self,
                        geoloc_photo_answer *b);

/* Releases what cli_retrieval_open made (NULL allowed). */
void cli_retrieval_close(cli_retrieval *r);

#endif
