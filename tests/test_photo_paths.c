/* geoloc_photo_paths_add and geoloc_is_photo_name on a folder tree built
 * here: photos of every extension in any case (.heic included), hidden files
 * and folders, a file that is not a photo, a link to a photo, a broken link,
 * a link to a folder, a fifo named .jpg, folders nested past the depth limit
 * and an unreadable folder (that part skipped when running as root, who can
 * read it anyway). Checks the paths and their order, each reported entry
 * with its reason and errno, the counts, and files given directly. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "geoloc/dataset.h"
#include "test_util.h"

#define DEEP 65 /* folders d/d/...: the 65th is one below the walk's limit */

static char root[] = "/tmp/test_photo_paths_XXXXXX";

static void touch(const char *rel) {
    char p[8192];
    snprintf(p, sizeof p, "%s/%s", root, rel);
    FILE *f = fopen(p, "wb");
    if (f) {
        fputs("not really a photo", f);
        fclose(f);
    }
}

static void make_dir(const char *rel, mode_t mode) {
    char p[2048];
    snprintf(p, sizeof p, "%s/%s", root, rel);
    mkdir(p, mode);
}

/* Reports kept as "PATH|WHY|ERRNO" lines. */
typedef struct reports {
    char text[8192];
    int n;
} reports;

static void record(void *ctx, const char *path, const char *why, int errnum) {
    reports *r = ctx;
    size_t len = strlen(r->text);
    snprintf(r->text + len, sizeof r->text - len, "%s|%s|%d\n", path, why, errnum);
    r->n++;
}

static void check_names(void) {
    static const char *const yes[] = {"a.jpg", "a.JPG", "b.jpeg", "c.png", "d.WebP", "e.heic", "f.HEIF",
                                      "g.hif", "x.tar.jpeg", ".hidden.jpg"};
    static const char *const no[] = {"jpg", "a.", "a.txt", "a.heics", "a.jpg.txt", "a.jpegjpeg", "a_jpg", ""};
    for (size_t k = 0; k < sizeof yes / sizeof *yes; k++)
        CHECK(geoloc_is_photo_name(yes[k]) == 1, "%s is a photo name", yes[k]);
    for (size_t k = 0; k < sizeof no / sizeof *no; k++)
        CHECK(geoloc_is_photo_name(no[k]) == 0, "'%s' is not a photo name", no[k]);
}

int main(void) {
    check_names();
    if (!mkdtemp(root)) {
        perror("mkdtemp");
        return 1;
    }
    int as_root = geteuid() == 0;
    touch("b.jpg");
    touch("a.HEIC");
    touch("z.jpeg");
    touch("notes.txt");
    touch(".hidden.jpg");
    make_dir(".hidden", 0755);
    touch(".hidden/x.jpg");
    make_dir("sub", 0755);
    touch("sub/d.png");
    touch("sub/c.webp");
    make_dir("empty", 0755);
    make_dir("locked", 0755);
    touch("locked/in.jpg");
    char p[4096], q[4096];
    snprintf(p, sizeof p, "%s/fifo.jpg", root);
    CHECK(mkfifo(p, 0644) == 0, "mkfifo %s", p);
    snprintf(p, sizeof p, "%s/fifo.txt", root);
    CHECK(mkfifo(p, 0644) == 0, "mkfifo %s", p);
    snprintf(p, sizeof p, "%s/link.jpg", root);
    CHECK(symlink("b.jpg", p) == 0, "symlink %s", p);
    snprintf(p, sizeof p, "%s/broken.jpg", root);
    CHECK(symlink("nothing.jpg", p) == 0, "symlink %s", p);
    snprintf(p, sizeof p, "%s/dirlink", root);
    CHECK(symlink("sub", p) == 0, "symlink %s", p);
    /* d/d/.../d: a photo in the 64th folder below root, another in the 65th */
    char deep[1024] = "";
    for (int k = 1; k <= DEEP; k++) {
        strcat(deep, k > 1 ? "/d" : "d");
        make_dir(deep, 0755);
        if (k == DEEP - 1) snprintf(q, sizeof q, "%s/p.jpg", deep), touch(q);
    }
    snprintf(q, sizeof q, "%s/q.jpg", deep);
    touch(q);
    snprintf(p, sizeof p, "%s/locked", root);
    chmod(p, 0);

    geoloc_photo_paths l = {0};
    reports r = {{0}, 0};
    geoloc_error err = {0};
    snprintf(p, sizeof p, "%s/", root); /* a trailing '/' gives no "//" */
    CHECK(geoloc_photo_paths_add(&l, p, record, &r, &err) == GEOLOC_OK, "%s", err.message);

    char deep64[1024];
    snprintf(deep64, sizeof deep64, "%.*s", (DEEP - 1) * 2 - 1, deep);
    /* root reads the locked folder */
    const char *want_rel[] = {"a.HEIC", "b.jpg", NULL, "link.jpg", "locked/in.jpg", "sub/c.webp", "sub/d.png",
                              "z.jpeg"};
    size_t n_want = sizeof want_rel / sizeof *want_rel;
    if (!as_root) memmove(want_rel + 4, want_rel + 5, 3 * sizeof *want_rel), n_want--;
    CHECK(l.n == n_want, "%zu photos, expected %zu", l.n, n_want);
    for (size_t k = 0; k < n_want && k < l.n; k++) {
        if (want_rel[k]) snprintf(q, sizeof q, "%s/%s", root, want_rel[k]);
        else snprintf(q, sizeof q, "%s/%s/p.jpg", root, deep64);
        CHECK(!strcmp(l.paths[k], q), "photo %zu: %s, expected %s", k, l.paths[k], q);
    }
    CHECK(l.folders == 1, "%zu folders", l.folders);

    char want[8192];
    int len = snprintf(want, sizeof want, "%s/broken.jpg|cannot follow the link|%d\n", root, ENOENT);
    len += snprintf(want + len, sizeof want - len, "%s/%s|folders nested too deep|0\n", root, deep);
    len += snprintf(want + len, sizeof want - len, "%s/dirlink|a link to a folder (not followed)|0\n", root);
    len += snprintf(want + len, sizeof want - len, "%s/fifo.jpg|not a regular file|0\n", root);
    if (!as_root) snprintf(want + len, sizeof want - len, "%s/locked|cannot open the folder|%d\n", root, EACCES);
    else printf("SKIP (part): running as root, the unreadable folder is readable\n");
    CHECK(!strcmp(r.text, want), "reports:\n%s\nexpected:\n%s", r.text, want);
    CHECK(l.skipped == (size_t)r.n && r.n == (as_root ? 4 : 5), "%zu skipped, %d reported", l.skipped, r.n);

    /* files are taken as given, whatever their name; an empty folder adds nothing */
    size_t n = l.n, skipped = l.skipped;
    snprintf(p, sizeof p, "%s/notes.txt", root);
    CHECK(geoloc_photo_paths_add(&l, p, record, &r, &err) == GEOLOC_OK, "%s", err.message);
    CHECK(geoloc_photo_paths_add(&l, "/nonexistent/x.jpg", NULL, NULL, &err) == GEOLOC_OK, "%s", err.message);
    snprintf(q, sizeof q, "%s/empty", root);
    CHECK(geoloc_photo_paths_add(&l, q, record, &r, &err) == GEOLOC_OK, "%s", err.message);
    CHECK(l.n == n + 2 && !strcmp(l.paths[n], p) && !strcmp(l.paths[n + 1], "/nonexistent/x.jpg"),
          "%zu paths after two files", l.n);
    CHECK(l.skipped == skipped && l.folders == 2, "%zu skipped, %zu folders", l.skipped, l.folders);

    geoloc_photo_paths_free(&l);
    CHECK(l.paths == NULL && l.n == 0 && l.folders == 0, "freed list is empty");
    snprintf(p, sizeof p, "chmod -R u+rwx '%s' && rm -rf '%s'", root, root);
    if (system(p) != 0) fprintf(stderr, "could not remove %s\n", root);
    TEST_END();
}
