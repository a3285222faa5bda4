/* The commands that split their photos across the ranks of a job (predict,
 * evaluate under mpirun): every rank stopping together when one cannot go
 * on, and checking that every rank has the same photos. Alone, no-ops. */
#ifndef GEOLOC_CLI_DIST_H
#define GEOLOC_CLI_DIST_H

#include <stddef.h>

/* Every rank passes its exit code so far (0: ready to go on) and, failing,
 * why (or NULL when it named its failure on stderr itself). Returns 0 on
 * every rank when all are ready, else on every rank the first failing
 * rank's code, after rank 0 printed "CMD: rank R of N: why; every rank
 * stops". Alone: rc. */
int cli_dist_agree(const char *cmd, int rc, const char *why);

/* 0 when every rank has the same strings[0..n) (compared as one block), else
 * rc_differ on every rank after rank 0 printed "CMD: WHAT differs between
 * ranks (rank R ...): HINT". Alone: 0. */
int cli_dist_same_strings(const char *cmd, const char *what, const char *const *strings, size_t n,
                          const char *hint, int rc_differ);

/* 0 when every rank lists the same photos paths[0..n) (and is ready: rc 0),
 * else as cli_dist_agree (1 on every rank, rank 0 naming a rank that
 * differs). */
int cli_dist_same_photos(const char *cmd, int rc, const char *const *paths, size_t n);

#endif
