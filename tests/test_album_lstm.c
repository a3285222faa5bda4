/* The album LSTM on a synthetic set where only the album tells where most
 * photos are: the tiny model's heads are zeroed (single photo: uniform over
 * the cells), each album is in one fine cell, and one photo in three carries
 * its cell in its features, the others noise. Checks: untrained, the album
 * answer equals the single-photo answer; training divides the loss by a clear
 * factor and beats the untrained LSTM on whole albums; the bidirectional LSTM
 * places the uninformative photos (the album's information reaches them); a
 * saved file reads back to the same answers and is refused for a model with
 * other partitions; albums built from keys. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "geoloc/album_lstm.h"
#include "geoloc/safetensors.h"
#include "geoloc/transform.h"
#include "test_util.h"
#include "tiny_model.h"

enum { ALBUMS = 24, PER = 6, DIM = 512 };

static float features[ALBUMS * PER * DIM];
static double lat[ALBUMS * PER], lng[ALBUMS * PER];
static size_t start[ALBUMS + 1], rows[ALBUMS * PER];

static void make_data(const geoloc_model *m) {
    geoloc_rng rng;
    geoloc_rng_seed(&rng, 7, 0, 0);
    const geoloc_partition *fine = m->partitions[2];
    for (size_t j = 0; j < ALBUMS; j++) {
        size_t cell = j % fine->n;
        start[j + 1] = (j + 1) * PER;
        for (size_t t = 0; t < PER; t++) {
            size_t r = j * PER + t;
            rows[r] = r;
            lat[r] = fine->lat[cell], lng[r] = fine->lng[cell];
            float *f = features + r * DIM;
            for (size_t d = 0; d < DIM; d++) f[d] = (float)(geoloc_rng_uniform(&rng) * 2 - 1);
            if ((t + j) % 3 == 0) f[cell] += 4.0f; /* the informative photo */
        }
    }
}

static void zero_heads(geoloc_model *m) {
    for (size_t i = 0; i < geoloc_net_param_count(m->net); i++) {
        geoloc_param *p = geoloc_net_param(m->net, i);
        if (p->head >= 0) memset(p->data, 0, p->n * sizeof(float));
    }
}

/* Probabilities of one album (rows j*PER ..) into per-partition buffers. */
static void album_probs(geoloc_album_lstm *a, size_t j, int single, float buf[3][PER * 3]) {
    geoloc_error err;
    memset(buf, 0, sizeof(float) * 3 * PER * 3); /* partitions of 1 and 2 cells fill less */
    float *probs[3] = {buf[0], buf[1], buf[2]};
    geoloc_status s = single ? geoloc_album_lstm_single_probs(a, features + j * PER * DIM, PER, probs, &err)
                             : geoloc_album_lstm_probs(a, features + j * PER * DIM, PER, probs, &err);
    CHECK(s == GEOLOC_OK, "%s", err.message);
}

/* Mean probability of the true fine cell over the uninformative photos. */
static double uninformative_truth(geoloc_album_lstm *a, const geoloc_model *m) {
    double sum = 0;
    int n = 0;
    for (size_t j = 0; j < ALBUMS; j++) {
        float buf[3][PER * 3];
        album_probs(a, j, 0, buf);
        size_t cell = j % m->partitions[2]->n;
        for (size_t t = 0; t < PER; t++)
            if ((t + j) % 3 != 0) sum += buf[2][t * 3 + cell], n++;
    }
    return sum / n;
}

static double train(geoloc_album_lstm *a, const geoloc_album_set *set, double *first) {
    geoloc_album_lstm_train_options o = geoloc_album_lstm_train_defaults();
    o.epochs = 1, o.albums_per_epoch = 8, o.max_len = PER, o.lr = 0.05;
    geoloc_error err;
    CHECK(geoloc_album_lstm_train(a, features, ALBUMS * PER, lat, lng, set, &o, first, &err) == GEOLOC_OK, "%s",
          err.message);
    o.epochs = 6, o.albums_per_epoch = 120;
    double last = NAN;
    CHECK(geoloc_album_lstm_train(a, features, ALBUMS * PER, lat, lng, set, &o, &last, &err) == GEOLOC_OK, "%s",
          err.message);
    return last;
}

/* A features cache of the set's photos (3 views: the features, plus and minus 1) reads back
 * as the mean of its views; a cache of another width is refused. */
static void check_read_features(const geoloc_album_lstm *a) {
    enum { N = ALBUMS * PER };
    static float views[N * 3 * DIM];
    for (size_t i = 0; i < N; i++)
        for (size_t v = 0; v < 3; v++)
            for (size_t d = 0; d < DIM; d++) views[(i * 3 + v) * DIM + d] = features[i * DIM + d] + (float)v - 1.0f;
    uint8_t ok[N] = {0};
    ok[3] = 1;
    uint64_t fshape[3] = {N, 3, DIM}, oshape[1] = {N}, bad[3] = {N, 6, DIM / 2};
    geoloc_tensor_desc t[2] = {{"features", GEOLOC_DTYPE_F32, 3, fshape, views}, {"ok", GEOLOC_DTYPE_U8, 1, oshape, ok}};
    const char *path = test_temp_file("album_cache");
    geoloc_error err;
    float *f = NULL;
    uint8_t *o = NULL;
    CHECK(geoloc_safetensors_write(path, t, 2, NULL, NULL, 0, &err) == GEOLOC_OK, "%s", err.message);
    CHECK(geoloc_album_lstm_read_features(path, a, N, &f, &o, &err) == GEOLOC_OK, "%s", err.message);
    if (f && o) {
        double worst = 0;
        for (size_t k = 0; k < (size_t)N * DIM; k++) worst = fmax(worst, fabs(f[k] - features[k]));
        CHECK(worst < 1e-5 && o[3] == 1 && o[4] == 0, "features: the mean of the views (off by %g), ok kept", worst);
    }
    free(f);
    free(o);
    t[0].shape = bad;
    CHECK(geoloc_safetensors_write(path, t, 2, NULL, NULL, 0, &err) == GEOLOC_OK, "%s", err.message);
    CHECK(geoloc_album_lstm_read_features(path, a, N, &f, &o, &err) == GEOLOC_E_ARG && !f, "another width refused");
    unlink(path);
}

/* A copy at out of the album LSTM file at in with metadata key set to value (key NULL:
 * none) and value k of tensor name set to v (name NULL: none); the checksum is redone. */
static void rewrite(const char *in, const char *out, const char *key, const char *value, const char *name,
                    size_t k, float v) {
    geoloc_safetensors *st = NULL;
    geoloc_error err;
    CHECK(geoloc_safetensors_open(in, &st, &err) == GEOLOC_OK, "%s", err.message);
    if (!st) return;
    size_t n = geoloc_safetensors_count(st), n_meta = geoloc_safetensors_metadata_count(st);
    geoloc_tensor_desc t[16];
    const char *keys[16], *values[16];
    float *changed = NULL;
    for (size_t i = 0; i < n && i < 16; i++) {
        const geoloc_tensor_info *ti = geoloc_safetensors_tensor(st, i);
        t[i] = (geoloc_tensor_desc){ti->name, ti->dtype, ti->ndim, ti->shape, ti->data};
        if (name && strcmp(ti->name, name) == 0 && k < ti->n_elements && (changed = malloc(ti->n_bytes))) {
            memcpy(changed, ti->data, ti->n_bytes);
            changed[k] = v;
            t[i].data = changed;
        }
    }
    for (size_t i = 0; i < n_meta && i < 16; i++) {
        geoloc_safetensors_metadata_entry(st, i, &keys[i], &values[i]);
        if (key && strcmp(keys[i], key) == 0) values[i] = value;
    }
    CHECK(n <= 16 && n_meta <= 16 && (!name || changed), "rewrite %s", in);
    CHECK(geoloc_safetensors_write(out, t, n, keys, values, n_meta, &err) == GEOLOC_OK, "%s", err.message);
    free(changed);
    geoloc_safetensors_close(st);
}

/* geoloc_album_lstm_load_buffer refuses the file at path with a message naming the field. */
static void check_refused(const char *path, const geoloc_model *m, const char *field, const char *what) {
    size_t size = 0;
    void *data = test_read_file(path, &size);
    geoloc_album_lstm *b = NULL;
    geoloc_error err = {0};
    geoloc_status s = geoloc_album_lstm_load_buffer(data, size, "bad.safetensors", m, &b, &err);
    CHECK(s != GEOLOC_OK && !b, "%s: refused", what);
    CHECK(strstr(err.message, "bad.safetensors") && strstr(err.message, field), "%s: the message names the file "
          "and %s: %s", what, field, err.message);
    geoloc_album_lstm_free(b);
    free(data);
}

/* The file at path (saved from a) read from memory: the same answers; a file naming another size
 * of a partition, a truncated file and a NaN in the standardisation are refused. */
static void check_buffer(geoloc_album_lstm *a, const geoloc_model *m, const char *path) {
    size_t size = 0;
    unsigned char *data = test_read_file(path, &size);
    geoloc_album_lstm *b = NULL;
    geoloc_error err;
    CHECK(geoloc_album_lstm_load_buffer(data, size, "mem", m, &b, &err) == GEOLOC_OK, "%s", err.message);
    if (b) {
        float p1[3][PER * 3], p2[3][PER * 3];
        for (size_t j = 0; j < ALBUMS; j += 5) {
            album_probs(a, j, 0, p1);
            album_probs(b, j, 0, p2);
            CHECK(memcmp(p1, p2, sizeof p1) == 0, "read from memory: the same probabilities (album %zu)", j);
        }
    }
    geoloc_album_lstm_free(b);
    b = NULL;
    CHECK(geoloc_album_lstm_load_buffer(data, size - 7, "cut.safetensors", m, &b, &err) != GEOLOC_OK && !b,
          "a truncated file refused");
    CHECK(strstr(err.message, "cut.safetensors") && strstr(err.message, "standardise.inv_std"),
          "truncated: the message names the file and the cut tensor: %s", err.message);
    free(data);
    char bad[128];
    snprintf(bad, sizeof bad, "%s", test_temp_file("album_lstm_bad"));
    rewrite(path, bad, "geoloc.partitions", "coarse:1,middle:2,fine:4", NULL, 0, 0);
    check_refused(bad, m, "geoloc.partitions", "another size of partition fine");
    rewrite(path, bad, NULL, NULL, "standardise.mean", 5, NAN);
    check_refused(bad, m, "standardise.mean", "a NaN in the standardisation");
    rewrite(path, bad, "geoloc.hidden", "16x", NULL, 0, 0);
    check_refused(bad, m, "geoloc.hidden", "a hidden size that is not a number");
    rewrite(path, bad, "geoloc.hidden", "8", NULL, 0, 0);
    check_refused(bad, m, "lstm.weight_layer", "another hidden size than the tensors'");
    rewrite(path, bad, "geoloc.directions", "3", NULL, 0, 0);
    check_refused(bad, m, "geoloc.directions", "three directions");
    unlink(bad);
}

/* Mean error (km) over the set's photos of the single photo and of the album LSTM. */
static void check_errors(geoloc_album_lstm *a, const geoloc_album_set *set) {
    static double single[ALBUMS * PER], album[ALBUMS * PER];
    geoloc_error err;
    CHECK(geoloc_album_lstm_errors(a, features, lat, lng, set, single, album, &err) == GEOLOC_OK, "%s", err.message);
    double ms = 0, ma = 0;
    for (size_t i = 0; i < ALBUMS * PER; i++) ms += single[i], ma += album[i];
    printf("mean error: single photo %.0f km, album lstm %.0f km\n", ms / (ALBUMS * PER), ma / (ALBUMS * PER));
    CHECK(ma < 0.5 * ms, "the album LSTM's answers (%.0f km) beat the single photo's (%.0f km)", ma, ms);
}

static void check_keys(void) {
    const char *keys[5] = {"a", "b", NULL, "a", "b"};
    uint8_t use[5] = {1, 1, 1, 1, 0};
    geoloc_album_set s;
    geoloc_error err;
    CHECK(geoloc_album_set_build(keys, use, 5, &s, &err) == GEOLOC_OK, "%s", err.message);
    CHECK(s.n_albums == 3 && s.start[1] == 2 && s.start[2] == 3 && s.start[3] == 4, "albums a, b, (null)");
    CHECK(s.rows[0] == 0 && s.rows[1] == 3 && s.rows[2] == 1 && s.rows[3] == 2, "rows in order");
    geoloc_album_set_free(&s);
}

/* With GEOLOC_ALBUM_LSTM_SEED=PATH: also writes there the fuzz seed
 * (fuzz/seeds/fuzz_album_lstm), a small album LSTM file for the tiny model. */
int main(void) {
    geoloc_model *m = tiny_model_create();
    zero_heads(m);
    make_data(m);
    geoloc_album_set set = {ALBUMS, start, rows};
    geoloc_error err;
    check_keys();

    /* untrained: exactly the single photo */
    geoloc_album_lstm *a = NULL;
    CHECK(geoloc_album_lstm_create(m, 16, 0, 3, &a, &err) == GEOLOC_OK, "%s", err.message);
    if (!a) return 1;
    float p1[3][PER * 3], p2[3][PER * 3];
    album_probs(a, 0, 0, p1);
    album_probs(a, 0, 1, p2);
    CHECK(memcmp(p1, p2, sizeof p1) == 0, "the untrained LSTM answers as the single photo");
    double untrained = 0, trained = 0, first = 0;
    CHECK(geoloc_album_lstm_loss(a, features, lat, lng, &set, &untrained, &err) == GEOLOC_OK, "%s", err.message);
    CHECK(fabs(untrained - (log(2) + log(3))) < 1e-4, "untrained loss %.6f is log 2 + log 3", untrained);

    /* training learns */
    double last = train(a, &set, &first);
    printf("loss %.4f -> %.4f\n", first, last);
    CHECK(last < 0.6 * first, "training loss %.4f -> %.4f: not divided by a clear factor", first, last);
    CHECK(geoloc_album_lstm_loss(a, features, lat, lng, &set, &trained, &err) == GEOLOC_OK, "%s", err.message);
    CHECK(trained < 0.7 * untrained, "trained loss on whole albums %.4f vs untrained %.4f", trained, untrained);

    /* saved and read back: the same answers; another model's partitions refused */
    char path[128]; /* test_temp_file's buffer is reused by check_buffer */
    snprintf(path, sizeof path, "%s", test_temp_file("album_lstm"));
    CHECK(geoloc_album_lstm_save(a, path, &err) == GEOLOC_OK, "%s", err.message);
    geoloc_album_lstm *b = NULL;
    CHECK(geoloc_album_lstm_load(path, m, &b, &err) == GEOLOC_OK, "%s", err.message);
    if (b) {
        album_probs(a, 3, 0, p1);
        album_probs(b, 3, 0, p2);
        CHECK(memcmp(p1, p2, sizeof p1) == 0, "read back: the same probabilities");
        CHECK(geoloc_album_lstm_hidden(b) == 16 && !geoloc_album_lstm_bidirectional(b), "read back: the shape");
    }
    geoloc_album_lstm_free(b);
    b = NULL;
    check_buffer(a, m, path);
    const char *names[2] = {"coarse", "middle"};
    geoloc_resnet_config cfg = *geoloc_net_config(m->net);
    cfg.n_heads = 0;
    geoloc_model *m2 = NULL;
    CHECK(geoloc_model_create(&cfg, (const geoloc_partition *const *)m->partitions, names, 2, NULL, 5, &m2,
                              &err) == GEOLOC_OK, "%s", err.message);
    if (m2) {
        CHECK(geoloc_album_lstm_load(path, m2, &b, &err) == GEOLOC_E_ARG && !b, "other partitions refused");
        CHECK(strstr(err.message, "partitions") != NULL, "the message names the partitions: %s", err.message);
    }
    geoloc_model_free(m2);
    unlink(path);
    geoloc_album_lstm_free(a);

    /* bidirectional: the album's information reaches every photo */
    CHECK(geoloc_album_lstm_create(m, 16, 1, 3, &a, &err) == GEOLOC_OK, "%s", err.message);
    if (a) {
        double before = uninformative_truth(a, m);
        train(a, &set, &first);
        double after = uninformative_truth(a, m);
        printf("BLSTM: uninformative photos' truth %.3f -> %.3f\n", before, after);
        CHECK(fabs(before - 1.0 / 3) < 1e-4 && after > 0.6, "BLSTM: uninformative photos' truth %.3f -> %.3f",
              before, after);
        check_errors(a, &set);
        check_read_features(a);
    }
    geoloc_album_lstm_free(a);
    const char *seed = getenv("GEOLOC_ALBUM_LSTM_SEED");
    if (seed) {
        CHECK(geoloc_album_lstm_create(m, 1, 0, 5, &a, &err) == GEOLOC_OK, "%s", err.message);
        CHECK(a && geoloc_album_lstm_save(a, seed, &err) == GEOLOC_OK, "seed %s: %s", seed, err.message);
        geoloc_album_lstm_free(a);
    }
    geoloc_model_free(m);
    TEST_END();
}
