/* The atomic writer (src/io/atomic_file.c) and its writer lock
 * (src/io/file_lock.c) under failure. The test is linked with
 * -Wl,--wrap=fflush,fsync,fclose,rename,mkstemp,fdopen,flock (the calls of
 * the library's objects go through the __wrap_ functions below), so each
 * step of writing a file can be made to fail with a chosen errno; a real
 * write failure comes from RLIMIT_FSIZE (EFBIG). After every failure: the
 * error names the file and the cause, the target keeps its previous
 * content, no temporary file is left, the lock is released (the sidecar is
 * gone and the next writer gets it). The lock itself: a second writer from
 * another process gets GEOLOC_E_BUSY while the first holds it, and the lock
 * is free again after commit, abort and kill -9 of the holder. */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "io/atomic_file.h"
#include "test_util.h"

/* ---- injected failures ---------------------------------------------------- */

enum { F_FFLUSH, F_FSYNC, F_FCLOSE, F_RENAME, F_MKSTEMP, F_FDOPEN, F_FLOCK, N_FAULTS };

/* fault[k]: the armed call fails (0: none) on its fail_at-th call since arming */
static struct {
    int calls, fail_at;
} fault[N_FAULTS];
static int fault_errno;

static void arm(int which, int nth, int err) {
    memset(fault, 0, sizeof fault);
    fault[which].fail_at = nth;
    fault_errno = err;
}

static void disarm(void) { memset(fault, 0, sizeof fault); }

/* 1 when this call of `which` is the one to fail (errno is then set). */
static int failing(int which) {
    if (!fault[which].fail_at || ++fault[which].calls != fault[which].fail_at) return 0;
    errno = fault_errno;
    return 1;
}

int __real_fflush(FILE *f);
int __real_fsync(int fd);
int __real_fclose(FILE *f);
int __real_rename(const char *from, const char *to);
int __real_mkstemp(char *tmpl);
FILE *__real_fdopen(int fd, const char *mode);
int __real_flock(int fd, int op);
int __wrap_fflush(FILE *f);
int __wrap_fsync(int fd);
int __wrap_fclose(FILE *f);
int __wrap_rename(const char *from, const char *to);
int __wrap_mkstemp(char *tmpl);
FILE *__wrap_fdopen(int fd, const char *mode);
int __wrap_flock(int fd, int op);

int __wrap_fflush(FILE *f) { return failing(F_FFLUSH) ? EOF : __real_fflush(f); }
int __wrap_fsync(int fd) { return failing(F_FSYNC) ? -1 : __real_fsync(fd); }
int __wrap_rename(const char *from, const char *to) {
    return failing(F_RENAME) ? -1 : __real_rename(from, to);
}
int __wrap_mkstemp(char *tmpl) { return failing(F_MKSTEMP) ? -1 : __real_mkstemp(tmpl); }
FILE *__wrap_fdopen(int fd, const char *mode) {
    return failing(F_FDOPEN) ? NULL : __real_fdopen(fd, mode);
}
int __wrap_flock(int fd, int op) { return failing(F_FLOCK) ? -1 : __real_flock(fd, op); }
/* a failing close still releases the stream (as fclose does on error) */
int __wrap_fclose(FILE *f) {
    if (!failing(F_FCLOSE)) return __real_fclose(f);
    int e = errno;
    __real_fclose(f);
    errno = e;
    return EOF;
}

/* ---- helpers ---------------------------------------------------------------- */

static char dir[] = "/tmp/geoloc_test_atomic_XXXXXX";
static char target[128];

/* The names in dir other than the target, space separated ("" when none). */
static const char *leftovers(void) {
    static char names[1024];
    names[0] = '\0';
    DIR *d = opendir(dir);
    struct dirent *e;
    while (d && (e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..") || !strcmp(e->d_name, "out.csv"))
            continue;
        strncat(names, e->d_name, sizeof names - strlen(names) - 2);
        strcat(names, " ");
    }
    if (d) closedir(d);
    return names;
}

/* 1 when the target holds exactly `text`. */
static int target_is(const char *text) {
    size_t n;
    char *got = test_read_text(target, &n);
    int same = got && n == strlen(text) && !memcmp(got, text, n);
    free(got);
    return same;
}

/* Writes `text` to the target with the atomic writer; the status. */
static geoloc_status write_target(const char *text, geoloc_error *err) {
    atomic_file f;
    geoloc_status s = atomic_file_open(&f, target, err);
    if (s != GEOLOC_OK) return s;
    fputs(text, f.fp);
    return atomic_file_commit(&f, err);
}

/* After a failure: nothing left behind, the old content kept, the lock free
 * (the next writer gets it and replaces the content). A sidecar whose flock
 * failed stays (unlinking it could break another holder's lock) but holds
 * no lock: the next writer still gets it. */
static void check_clean_after(const char *what, const char *old, int sidecar_may_stay) {
    CHECK(target_is(old), "%s: the target changed", what);
    const char *left = leftovers();
    CHECK(!left[0] || (sidecar_may_stay && !strcmp(left, ".out.csv.lock ")), "%s: left behind: %s",
          what, left);
    geoloc_error err;
    CHECK(write_target("next\n", &err) == GEOLOC_OK && target_is("next\n"),
          "%s: the next writer: %s", what, err.message);
    CHECK(write_target(old, &err) == GEOLOC_OK, "restore: %s", err.message);
}

/* The error names the target and `cause`. */
static void check_error(const char *what, geoloc_status s, const geoloc_error *err, const char *cause) {
    CHECK(s == GEOLOC_E_IO && strstr(err->message, target) && strstr(err->message, cause),
          "%s: status %d, message '%s' (want the file and '%s')", what, (int)s,
          s == GEOLOC_OK ? "" : err->message, cause);
}

/* ---- the writer under failure -------------------------------------------------- */

/* One injected failure of commit's steps (flush, fsync, close, rename). */
static void test_commit_failures(void) {
    static const struct {
        int which, err;
        const char *name;
    } cases[] = {
        {F_FFLUSH, ENOSPC, "flush (disk full)"},
        {F_FSYNC, EIO, "fsync"},
        {F_FCLOSE, EIO, "close"},
        {F_RENAME, EXDEV, "rename"},
    };
    const char *old = "IMG_ID,LAT,LON\nold,1,2\n";
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        geoloc_error err;
        CHECK(write_target(old, &err) == GEOLOC_OK, "setup: %s", err.message);
        atomic_file f;
        geoloc_status s = atomic_file_open(&f, target, &err);
        CHECK(s == GEOLOC_OK, "open: %s", err.message);
        if (s != GEOLOC_OK) continue;
        fputs("IMG_ID,LAT,LON\nnew,3,4\n", f.fp);
        arm(cases[k].which, 1, cases[k].err);
        s = atomic_file_commit(&f, &err);
        disarm();
        check_error(cases[k].name, s, &err, strerror(cases[k].err));
        CHECK(f.fp == NULL && f.tmp_path == NULL && f.lock.fd < 0, "%s: writer not reset", cases[k].name);
        check_clean_after(cases[k].name, old, 0);
    }
}

/* A real write error: the file size limit makes write(2) fail with EFBIG
 * part way through a file larger than the stdio buffer. */
static void test_write_failure(void) {
    const char *old = "old\n";
    geoloc_error err;
    CHECK(write_target(old, &err) == GEOLOC_OK, "setup: %s", err.message);
    struct rlimit saved, small;
    getrlimit(RLIMIT_FSIZE, &saved);
    small = saved;
    small.rlim_cur = 4096;
    signal(SIGXFSZ, SIG_IGN);
    atomic_file f;
    geoloc_status s = atomic_file_open(&f, target, &err);
    CHECK(s == GEOLOC_OK, "open: %s", err.message);
    if (s != GEOLOC_OK) return;
    CHECK(setrlimit(RLIMIT_FSIZE, &small) == 0, "setrlimit");
    for (int k = 0; k < 10000; k++) fprintf(f.fp, "row%d,%d.5,%d.25\n", k, k % 90, k % 180);
    s = atomic_file_commit(&f, &err);
    setrlimit(RLIMIT_FSIZE, &saved);
    signal(SIGXFSZ, SIG_DFL);
    check_error("write beyond the size limit", s, &err, strerror(EFBIG));
    check_clean_after("write beyond the size limit", old, 0);
}

/* Failures while opening: the temporary file cannot be created or opened,
 * the lock cannot be taken or its sidecar created. */
static void test_open_failures(void) {
    static const struct {
        int which, err;
        const char *name, *cause;
    } cases[] = {
        {F_MKSTEMP, EACCES, "mkstemp", "cannot create temporary file"},
        {F_FDOPEN, ENOMEM, "fdopen", "cannot open"},
        {F_FLOCK, ENOLCK, "flock", "cannot lock"},
    };
    const char *old = "old\n";
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        geoloc_error err;
        CHECK(write_target(old, &err) == GEOLOC_OK, "setup: %s", err.message);
        atomic_file f;
        arm(cases[k].which, 1, cases[k].err);
        geoloc_status s = atomic_file_open(&f, target, &err);
        disarm();
        check_error(cases[k].name, s, &err, cases[k].cause);
        check_error(cases[k].name, s, &err, strerror(cases[k].err));
        if (s == GEOLOC_OK) atomic_file_abort(&f);
        check_clean_after(cases[k].name, old, cases[k].which == F_FLOCK);
    }
    /* no folder to put the lock sidecar in */
    char missing[160];
    snprintf(missing, sizeof missing, "%s/no/such/dir/out.csv", dir);
    atomic_file f;
    geoloc_error err;
    geoloc_status s = atomic_file_open(&f, missing, &err);
    CHECK(s == GEOLOC_E_IO && strstr(err.message, missing) && strstr(err.message, "lock file"),
          "missing folder: '%s'", s == GEOLOC_OK ? "opened" : err.message);
    if (s == GEOLOC_OK) atomic_file_abort(&f);
}

/* "-" is standard output, written directly; a failed flush is reported. */
static void test_stdout(void) {
    atomic_file f;
    geoloc_error err;
    CHECK(atomic_file_open(&f, "-", &err) == GEOLOC_OK && f.fp == stdout && !f.tmp_path,
          "stdout open");
    arm(F_FFLUSH, 1, EIO);
    geoloc_status s = atomic_file_commit(&f, &err);
    disarm();
    CHECK(s == GEOLOC_E_IO && strstr(err.message, "standard output") && strstr(err.message, strerror(EIO)),
          "stdout flush failure: '%s'", s == GEOLOC_OK ? "ok" : err.message);
}

/* ---- the writer lock between processes ------------------------------------------ */

/* In a child process: tries to write `text` to the target; the child's exit
 * code is 0 for GEOLOC_OK, 2 for GEOLOC_E_BUSY with a message naming the
 * target, 1 otherwise. */
static int child_write(const char *text) {
    pid_t pid = fork();
    if (pid == 0) {
        geoloc_error err;
        geoloc_status s = write_target(text, &err);
        if (s == GEOLOC_E_BUSY) _exit(strstr(err.message, target) ? 2 : 1);
        _exit(s == GEOLOC_OK ? 0 : 1);
    }
    int status = 0;
    if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status)) return -1;
    return WEXITSTATUS(status);
}

static void test_lock(void) {
    geoloc_error err;
    CHECK(write_target("v1\n", &err) == GEOLOC_OK, "setup: %s", err.message);
    /* held by this process: the child is refused, then served after commit */
    atomic_file f;
    CHECK(atomic_file_open(&f, target, &err) == GEOLOC_OK, "open: %s", err.message);
    fputs("v2\n", f.fp);
    CHECK(child_write("child\n") == 2, "a second writer while the first holds the lock: not BUSY");
    CHECK(atomic_file_commit(&f, &err) == GEOLOC_OK && target_is("v2\n"), "commit: %s", err.message);
    CHECK(child_write("child\n") == 0 && target_is("child\n"), "the lock after commit");
    /* the same after abort */
    CHECK(atomic_file_open(&f, target, &err) == GEOLOC_OK, "open: %s", err.message);
    CHECK(child_write("child2\n") == 2, "second writer: not BUSY");
    atomic_file_abort(&f);
    CHECK(child_write("child3\n") == 0 && target_is("child3\n"), "the lock after abort");
    CHECK(!leftovers()[0], "left behind: %s", leftovers());

    /* a holder killed with SIGKILL: its lock goes with it */
    int ready[2];
    CHECK(pipe(ready) == 0, "pipe");
    pid_t pid = fork();
    if (pid == 0) {
        atomic_file g;
        geoloc_error e;
        if (atomic_file_open(&g, target, &e) != GEOLOC_OK) _exit(1);
        fputs("never\n", g.fp);
        if (write(ready[1], "1", 1) != 1) _exit(1);
        for (;;) pause();
    }
    char c = 0;
    CHECK(read(ready[0], &c, 1) == 1 && c == '1', "the holder did not start");
    atomic_file h;
    geoloc_status s = atomic_file_open(&h, target, &err);
    CHECK(s == GEOLOC_E_BUSY, "while a live process holds it: %d", (int)s);
    if (s == GEOLOC_OK) atomic_file_abort(&h);
    kill(pid, SIGKILL);
    int status;
    waitpid(pid, &status, 0);
    close(ready[0]);
    close(ready[1]);
    s = atomic_file_open(&h, target, &err);
    CHECK(s == GEOLOC_OK, "after kill -9 of the holder: %s", err.message);
    if (s == GEOLOC_OK) {
        fputs("after\n", h.fp);
        CHECK(atomic_file_commit(&h, &err) == GEOLOC_OK && target_is("after\n"), "commit: %s",
              err.message);
    }
}

int main(void) {
    test_make_temp_dir(dir);
    snprintf(target, sizeof target, "%s/out.csv", dir);
    test_commit_failures();
    test_write_failure();
    test_open_failures();
    test_stdout();
    test_lock();
    test_remove_tree(dir);
    TEST_END();
}
