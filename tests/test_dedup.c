/* Near-duplicates: the pHash of a picture and of its resized, brightened
 * copy differ in few bits and that of another picture in many; pairs are
 * found by embedding similarity or by hash, within one set and across two,
 * each scored both ways. */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "geoloc/dedup.h"
#include "geoloc/transform.h"
#include "test_util.h"

#define DIM 96

/* A w x h picture: a sum of waves (the pattern chooses their frequencies
 * and phases) of up to 4 cycles, so that every low DCT coefficient matters. */
static geoloc_image picture(int w, int h, int pattern, int brighten) {
    geoloc_image img = {.width = w, .height = h, .rgb = malloc((size_t)w * h * 3)};
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            double u = 2 * M_PI * x / w, v = 2 * M_PI * y / h, g = 128 + brighten;
            for (int i = 1; i <= 8; i++)
                g += 12 * sin((1 + (i * (3 + pattern)) % 4) * u / 2 + i * (1 + pattern)) *
                     cos((1 + (i * (5 + pattern)) % 4) * v / 2 + 0.7 * i);
            uint8_t c = (uint8_t)(g < 0 ? 0 : g > 255 ? 255 : g);
            uint8_t *p = img.rgb + 3 * ((size_t)y * w + x);
            p[0] = c, p[1] = (uint8_t)(c * 0.9), p[2] = (uint8_t)(c * 0.8);
        }
    return img;
}

static uint64_t rng = 0x9e3779b97f4a7c15ull;
static float uniform(void) {
    rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
    return (float)((double)(rng >> 11) / 9007199254740992.0 - 0.5);
}

static geoloc_index *random_index(size_t n, float *copy_of_row0) {
    geoloc_index *ix;
    geoloc_error err = {0};
    geoloc_index_create(DIM, GEOLOC_INDEX_F16, "b", &ix, &err);
    float v[DIM];
    for (size_t r = 0; r < n; r++) {
        for (int j = 0; j < DIM; j++) v[j] = uniform();
        if (r == 0 && copy_of_row0) memcpy(v, copy_of_row0, sizeof v);
        char id[24];
        snprintf(id, sizeof id, "p%zu", r);
        geoloc_index_add(ix, id, 0, 0, v, &err);
    }
    return ix;
}

int main(void) {
    geoloc_error err = {0};
    geoloc_image a = picture(400, 300, 0, 0), b = picture(400, 300, 0, 12), c = picture(400, 300, 1, 0), small;
    geoloc_image_resize(&b, 160, 120, &small, &err);
    uint64_t ha, hb, hc;
    CHECK(geoloc_phash(&a, &ha, &err) == GEOLOC_OK && geoloc_phash(&small, &hb, &err) == GEOLOC_OK &&
              geoloc_phash(&c, &hc, &err) == GEOLOC_OK, "%s", err.message);
    CHECK(geoloc_hamming64(ha, hb) <= 4, "resized and brightened copy: %d bits differ", geoloc_hamming64(ha, hb));
    CHECK(geoloc_hamming64(ha, hc) >= 16, "another picture: only %d bits differ", geoloc_hamming64(ha, hc));
    CHECK(__builtin_popcountll(ha) == 32, "the median splits the 64 coefficients in halves: %d bits set",
          __builtin_popcountll(ha));
    CHECK(geoloc_hamming64(0xffull, 0x0full) == 4, "hamming");
    geoloc_image_free(&a), geoloc_image_free(&b), geoloc_image_free(&c), geoloc_image_free(&small);

    /* within one set: rows 3 and 10 have almost the same embedding; rows 5 and 6 close hashes */
    geoloc_index *ix;
    geoloc_index_create(DIM, GEOLOC_INDEX_I8, "b", &ix, &err);
    float v[40][DIM];
    uint64_t h[40];
    for (int r = 0; r < 40; r++) {
        for (int j = 0; j < DIM; j++) v[r][j] = uniform();
        h[r] = (uint64_t)r * 0x9e3779b97f4a7c15ull; /* far apart */
    }
    for (int j = 0; j < DIM; j++) v[10][j] = v[3][j] + 0.01f * uniform();
    h[6] = h[5] ^ 0x101;
    for (int r = 0; r < 40; r++) {
        char id[16];
        snprintf(id, sizeof id, "p%d", r);
        geoloc_index_add(ix, id, 0, 0, v[r], &err);
    }
    int far = 1;
    for (int r = 0; r < 40; r++)
        for (int s = r + 1; s < 40; s++)
            if (!(r == 5 && s == 6) && geoloc_hamming64(h[r], h[s]) <= 4) far = 0;
    CHECK(far, "the test's hashes are not far apart");
    geoloc_dedup_options o = geoloc_dedup_options_default();
    geoloc_dedup_pair *p;
    size_t n;
    CHECK(geoloc_dedup_find(ix, h, NULL, NULL, &o, &p, &n, &err) == GEOLOC_OK, "%s", err.message);
    CHECK(n == 2 && p[0].a == 3 && p[0].b == 10 && p[0].similarity > 0.99f && p[0].hamming > 4 && p[1].a == 5 &&
              p[1].b == 6 && p[1].hamming == 2 && p[1].similarity < 0.5f,
          "within: %zu pairs, first (%zu, %zu)", n, n ? p[0].a : 0, n ? p[0].b : 0);
    free(p);
    o.max_hamming = -1; /* embeddings only */
    geoloc_dedup_find(ix, h, NULL, NULL, &o, &p, &n, &err);
    CHECK(n == 1 && p[0].a == 3, "embeddings only: %zu pairs", n);
    free(p);

    /* across two sets: set B's row 0 is set A's row 7 */
    geoloc_index *other = random_index(25, v[7]);
    o = geoloc_dedup_options_default();
    CHECK(geoloc_dedup_find(ix, NULL, other, NULL, &o, &p, &n, &err) == GEOLOC_OK, "%s", err.message);
    CHECK(n == 1 && p[0].a == 7 && p[0].b == 0 && p[0].hamming == -1, "across: %zu pairs", n);
    free(p);
    geoloc_index *alien;
    geoloc_index_create(DIM, GEOLOC_INDEX_I8, "another-backbone", &alien, &err);
    CHECK(geoloc_dedup_find(ix, NULL, alien, NULL, &o, &p, &n, &err) == GEOLOC_E_ARG, "another backbone accepted");
    geoloc_index_free(alien);
    geoloc_index_free(other);
    geoloc_index_free(ix);
    TEST_END();
}
