/* A program built against an installed geoloc (tests/install.sh): only the
 * installed headers and `pkg-config --static geoloc`. It defines helpers of
 * its own named like the library's internal ones, which links only because
 * libgeoloc.a keeps those local. Prints the S2 token of a point and a
 * distance, writes a CSV file atomically and reads it back. */
#include <geoloc/array.h>
#include <geoloc/dataset.h>
#include <geoloc/distance.h>
#include <geoloc/exif.h>
#include <geoloc/image.h>
#include <geoloc/io.h>
#include <geoloc/keras.h>
#include <geoloc/loader.h>
#include <geoloc/model.h>
#include <geoloc/nn.h>
#include <geoloc/optim.h>
#include <geoloc/partition.h>
#include <geoloc/points.h>
#include <geoloc/s2.h>
#include <geoloc/safetensors.h>
#include <geoloc/source.h>
#include <geoloc/status.h>
#include <geoloc/train.h>
#include <geoloc/transform.h>
#include <stdio.h>
#include <string.h>

/* Same names as internal helpers of the library (src/io/csv.c,
 * src/core/array.c): a clash would be a multiple-definition link error. */
int csv_open(const char *path);
int array_grow(int n);
int csv_open(const char *path) { return (int)strlen(path); }
int array_grow(int n) { return 2 * n; }

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: install_use OUT.csv\n");
        return 2;
    }
    char token[GEOLOC_S2_TOKEN_SIZE];
    geoloc_s2_to_token(geoloc_s2_parent(geoloc_s2_from_latlng(48.8584, 2.2945), 13), token);
    printf("token %s\n", token);
    printf("paris-london %.3f km\n", geoloc_haversine_km(48.8566, 2.3522, 51.5074, -0.1278));
    geoloc_atomic_file f;
    geoloc_error err;
    if (geoloc_atomic_file_open(&f, argv[1], &err) != GEOLOC_OK) goto fail;
    fputs("name,lat\n", f.fp);
    geoloc_csv_write_field(f.fp, "Paris, France");
    fputs(",48.8566\n", f.fp);
    if (geoloc_atomic_file_commit(&f, &err) != GEOLOC_OK) goto fail;
    geoloc_csv_reader *r = geoloc_csv_open(argv[1], &err);
    if (!r) goto fail;
    geoloc_csv_field row[4];
    size_t n;
    int rows = 0;
    while (geoloc_csv_next_row(r, row, 4, &n, &err) == 1) rows++;
    printf("rows %d, last %.*s\n", rows, (int)row[0].len, row[0].p);
    geoloc_csv_close(r);
    printf("own helpers %d %d\n", csv_open("abc"), array_grow(21));
    return 0;
fail:
    fprintf(stderr, "install_use: %s\n", err.message);
    return 1;
}
