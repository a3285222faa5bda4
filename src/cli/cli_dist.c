/* Ranks of a job agreeing before they split photos (cli_dist.h). */
#include "cli/cli_dist.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "geoloc/dist.h"

int cli_dist_agree(const char *cmd, int rc, const char *why) {
    if (geoloc_dist_size() == 1) return rc;
    geoloc_error err = {0};
    if (rc != 0) snprintf(err.message, sizeof err.message, "%s", why ? why : "failed (its message above)");
    /* the code rides in the status: 2 (usage) as E_ARG, any other failure as E_IO */
    geoloc_status s = geoloc_dist_agree(rc == 0 ? GEOLOC_OK : rc == 2 ? GEOLOC_E_ARG : GEOLOC_E_IO, &err);
    if (s == GEOLOC_OK) return 0;
    if (geoloc_dist_rank() == 0)
        fprintf(stderr, "%s: %s (of %d ranks); every rank stops\n", cmd, err.message, geoloc_dist_size());
    fflush(stderr);
    geoloc_dist_barrier(&err); /* rank 0 has spoken before any rank ends the job */
    return s == GEOLOC_E_ARG ? 2 : 1;
}

int cli_dist_same_strings(const char *cmd, const char *what, const char *const *strings, size_t n,
                          const char *hint, int rc_differ) {
    if (geoloc_dist_size() == 1) return 0;
    size_t bytes = sizeof n;
    for (size_t k = 0; k < n; k++) bytes += strlen(strings[k]) + 1;
    char *all = malloc(bytes), *p = all;
    for (size_t k = 0; all && k < n; k++) p += sprintf(p, "%s", strings[k]) + 1;
    if (all) memcpy(p, &n, sizeof n);
    int rc = cli_dist_agree(cmd, !all, "out of memory");
    if (rc != 0) {
        free(all);
        return rc;
    }
    geoloc_error err = {0};
    geoloc_status s = geoloc_dist_check_same(all, bytes, what, &err);
    free(all);
    if (s == GEOLOC_OK) return 0;
    if (geoloc_dist_rank() == 0) fprintf(stderr, "%s: %s: %s\n", cmd, err.message, hint);
    fflush(stderr);
    geoloc_dist_barrier(&err); /* rank 0 has spoken before any rank ends the job */
    return rc_differ;
}

int cli_dist_same_photos(const char *cmd, int rc, const char *const *paths, size_t n) {
    if ((rc = cli_dist_agree(cmd, rc, NULL)) != 0) return rc;
    return cli_dist_same_strings(cmd, "the list of photos", paths, n, "give every rank the same photos", 1);
}
