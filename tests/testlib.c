/* testlib.c — see testlib.h. */
#include "testlib.h"

#include <stdarg.h>
#include <stdint.h>
#include <turbojpeg.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>
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

void tl_write_file(const char *path, const void *data, size_t size) {
    FILE *f = fopen(path, "wb");
    CHECK(f != NULL);
    if (!f) return;
    CHECK(fwrite(data, 1, size, f) == size);
    fclose(f);
}

tl_blob tl_jpeg(int width, int height, bool gray, int subsamp, int flags) {
    int channels = gray ? 1 : 3;
    uint8_t *pixels = malloc((size_t)width * height * channels);
    for (int i = 0; i < width * height * channels; i++) pixels[i] = (uint8_t)(i * 7 + i / 13);
    tjhandle tj = tjInitCompress();
    unsigned char *jpeg = NULL;
    unsigned long size = 0;
    tl_blob out = {0};
    if (tj && tjCompress2(tj, pixels, width, 0, height, gray ? TJPF_GRAY : TJPF_RGB, &jpeg, &size, gray ? TJSAMP_GRAY : subsamp, 80,
                          flags) == 0) {
        out.data = malloc(size);
        memcpy(out.data, jpeg, size);
        out.size = size;
    }
    CHECK(out.data != NULL);
    tjFree(jpeg);
    tjDestroy(tj);
    free(pixels);
    return out;
}

int tl_kill_rounds(int rounds, uint64_t max_us, uint64_t seed, void (*child)(void *ctx), void (*after)(void *ctx), void *ctx) {
    uint64_t state = seed * 0x9E3779B97F4A7C15ULL + 1;
    int kills = 0;
    for (int round = 0; round < rounds; round++) {
        fflush(NULL);
        pid_t pid = fork();
        if (pid == 0) {
            child(ctx);
            _exit(0);
        }
        state = state * 6364136223846793005ULL + 1442695040888963407ULL;
        uint64_t scale = round % 3 == 0 ? max_us / 100 : round % 3 == 1 ? max_us / 10 : max_us;
        uint64_t us = (state >> 33) % (scale + 1);
        struct timespec ts = {(time_t)(us / 1000000), (long)(us % 1000000) * 1000L};
        nanosleep(&ts, NULL);
        kill(pid, SIGKILL);
        int status;
        waitpid(pid, &status, 0);
        kills += WIFSIGNALED(status);
        CHECK(WIFSIGNALED(status) || (WIFEXITED(status) && WEXITSTATUS(status) == 0));
        if (after) after(ctx);
    }
    return kills;
}
