/* geoloc_same_file: the check that refuses an output equal to an input, by path
 * and by device and inode (hard links, symbolic links, other spellings). */
#include <stdio.h>
#include <unistd.h>

#include "geoloc/io.h"
#include "test_util.h"

static char dir[] = "/tmp/geoloc_test_same_file_XXXXXX";

int main(void) {
    test_make_temp_dir(dir);
    char a[256], b[256], hard[256], sym[256], dotted[256], missing[256];
    snprintf(a, sizeof a, "%s/a.csv", dir);
    snprintf(b, sizeof b, "%s/b.csv", dir);
    snprintf(hard, sizeof hard, "%s/hard.csv", dir);
    snprintf(sym, sizeof sym, "%s/sym.csv", dir);
    snprintf(dotted, sizeof dotted, "%s/./a.csv", dir);
    snprintf(missing, sizeof missing, "%s/missing.csv", dir);
    test_write_text(a, "x\n");
    test_write_text(b, "x\n");
    CHECK(link(a, hard) == 0 && symlink(a, sym) == 0, "links made");
    CHECK(geoloc_same_file(a, a) == 1, "the same path");
    CHECK(geoloc_same_file(a, dotted) == 1, "another spelling of the path");
    CHECK(geoloc_same_file(a, hard) == 1 && geoloc_same_file(hard, a) == 1, "a hard link");
    CHECK(geoloc_same_file(sym, a) == 1, "a symbolic link");
    CHECK(geoloc_same_file(a, b) == 0, "two files with the same contents are not the same file");
    CHECK(geoloc_same_file(a, missing) == 0 && geoloc_same_file(missing, missing) == 1, "a missing file: by path only");
    CHECK(geoloc_same_file("-", "-") == 0 && geoloc_same_file(a, NULL) == 0, "standard output is never an input");
    test_remove_tree(dir);
    TEST_END();
}
