/* The CSV log.
 *
 * The log gets one line per epoch (and per log_every steps), appended and
 * fsynced; a resume cuts it back to its size at the checkpoint, so a run
 * interrupted and resumed leaves the same lines as an uninterrupted one. */
#include <errno.h>
#include <math.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/error.h"
#include "geoloc/dist.h"
#include "train/internal.h"

static geoloc_status write_all(train_run *r, const char *text, geoloc_error *err) {
    size_t len = strlen(text), done = 0;
    while (done < len) {
        ssize_t w = write(r->log_fd, text + done, len - done);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return error_set(err, GEOLOC_E_IO, "%s: write failed: %s", r->log_path, strerror(errno));
        done += (size_t)w;
    }
    if (fsync(r->log_fd) != 0)
        return error_set(err, GEOLOC_E_IO, "%s: fsync failed: %s", r->log_path, strerror(errno));
    return GEOLOC_OK;
}

geoloc_status train_log_open(train_run *r, const train_data *d, int resume, uint64_t keep_bytes,
                             uint64_t *size, geoloc_error *err) {
    if (geoloc_dist_rank() != 0) { /* rank 0 alone keeps the log */
        *size = keep_bytes;
        return GEOLOC_OK;
    }
    struct stat sb;
    int keep = resume && stat(r->log_path, &sb) == 0 && (uint64_t)sb.st_size >= keep_bytes && keep_bytes > 0;
    r->log_fd = open(r->log_path, O_WRONLY | O_CREAT | O_CLOEXEC | (keep ? 0 : O_TRUNC), 0644);
    if (r->log_fd < 0) return error_set(err, GEOLOC_E_IO, "%s: cannot open: %s", r->log_path, strerror(errno));
    if (keep) {
        if (ftruncate(r->log_fd, (off_t)keep_bytes) != 0 || lseek(r->log_fd, 0, SEEK_END) < 0)
            return error_set(err, GEOLOC_E_IO, "%s: cannot cut back: %s", r->log_path, strerror(errno));
        *size = keep_bytes;
        return GEOLOC_OK;
    }
    if (resume) train_warn(r, "%s: missing or shorter than at the checkpoint: started again", r->log_path);
    char header[2048] = "kind,epoch,step,lr,loss";
    for (size_t h = 0; h < d->n_heads; h++) {
        size_t len = strlen(header);
        snprintf(header + len, sizeof header - len, ",loss_%s", train_head_name(d, h));
    }
    size_t len = strlen(header);
    snprintf(header + len, sizeof header - len,
             ",val_n,acc_1km,acc_25km,acc_200km,acc_750km,acc_2500km,median_km");
    for (int l = 0; l < GEOLOC_SCENE_LEVELS; l++) { /* scene accuracy per level */
        len = strlen(header);
        if (d->scene_head[l] >= 0) snprintf(header + len, sizeof header - len, ",acc_%s", geoloc_scene_level_name(l));
    }
    len = strlen(header);
    snprintf(header + len, sizeof header - len, ",images_per_s,elapsed_s\n");
    *size = strlen(header);
    return write_all(r, header, err);
}

geoloc_status train_log_row(train_run *r, const train_data *d, const train_state *s, int epoch_row, double lr,
                            double loss, const double *head_loss, const geoloc_distance_summary *val,
                            const double *scene_acc, uint64_t *size, geoloc_error *err) {
    if (r->log_fd < 0) return GEOLOC_OK;
    char line[2048];
    int n = snprintf(line, sizeof line, "%s,%d,%ld,%.6g,%.6f", epoch_row ? "epoch" : "step", s->epoch + 1, s->step,
                     lr, loss);
    for (size_t h = 0; h < d->n_heads; h++) n += snprintf(line + n, sizeof line - (size_t)n, ",%.6f", head_loss[h]);
    if (val && val->n)
        n += snprintf(line + n, sizeof line - (size_t)n, ",%zu,%.4f,%.4f,%.4f,%.4f,%.4f,%.1f", val->n,
                      val->accuracy[0], val->accuracy[1], val->accuracy[2], val->accuracy[3], val->accuracy[4],
                      val->median_km);
    else if (val) /* a scene classifier: validation photos, no distances */
        n += snprintf(line + n, sizeof line - (size_t)n, ",%zu,,,,,,", d->n_val);
    else
        n += snprintf(line + n, sizeof line - (size_t)n, ",,,,,,,");
    for (int l = 0; l < GEOLOC_SCENE_LEVELS; l++) {
        if (d->scene_head[l] < 0) continue;
        if (scene_acc && isfinite(scene_acc[l])) n += snprintf(line + n, sizeof line - (size_t)n, ",%.4f", scene_acc[l]);
        else n += snprintf(line + n, sizeof line - (size_t)n, ",");
    }
    snprintf(line + n, sizeof line - (size_t)n, ",%.2f,%.1f\n", train_images_per_s(r), train_elapsed(r));
    geoloc_status st = write_all(r, line, err);
    if (st != GEOLOC_OK) return st;
    off_t end = lseek(r->log_fd, 0, SEEK_END);
    if (end >= 0) *size = (uint64_t)end;
    return GEOLOC_OK;
}

void train_log_close(train_run *r) {
    if (r->log_fd >= 0) close(r->log_fd);
    r->log_fd = -1;
}
