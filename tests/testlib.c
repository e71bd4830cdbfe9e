/* testlib.c — see testlib.h. */
#include "testlib.h"

#include <stdarg.h>
#include <sys/wait.h>
#include <unistd.h>

int tl_failures, tl_passed, tl_failed;
fl_error tl_err;

void tl_run(const char *name, void (*fn)(void)) {
    tl_failures = 0;
    memset(&tl_err, 0, sizeof tl_err);
    fn();
    if (tl_failures) {
        tl_failed++;
        fprintf(stderr, "FAIL %s\n", name);
    } else {
        tl_passed++;
        fprintf(stderr, "ok   %s\n", name);
    }
}

int tl_finish(const char *suite) {
    printf("%s: %d passed, %d failed\n", suite, tl_passed, tl_failed);
    return tl_failed ? 1 : 0;
}

const char *tl_tmpdir(const char *tag) {
    const char *base = getenv("TMPDIR");
    static char paths[64][512];
    static int used;
    if (used == 64) abort();
    char *p = paths[used++];
    snprintf(p, 512, "%s/fltest-%s-%d-%d", base ? base : "/tmp", tag, (int)getpid(), used);
    tl_sh("rm -rf '%s' && mkdir -p '%s'", p, p);
    return p;
}

int tl_sh(const char *fmt, ...) {
    char cmd[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    int st = system(cmd);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}
