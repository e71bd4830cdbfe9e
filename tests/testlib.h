/*
 * testlib.h — a minimal test harness: TEST(name) functions registered by RUN, CHECK macros that record
 * failures with file:line and keep going, and helpers for scratch directories.
 */
#ifndef FL_TESTLIB_H
#define FL_TESTLIB_H

#include "framelake.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern int tl_failures;     /* failed checks in the current test */
extern int tl_passed, tl_failed;

#define CHECK(cond)                                                                                            \
    do {                                                                                                       \
        if (!(cond)) {                                                                                         \
            fprintf(stderr, "  %s:%d: CHECK(%s) failed\n", __FILE__, __LINE__, #cond);                         \
            tl_failures++;                                                                                     \
        }                                                                                                      \
    } while (0)

#define CHECK_EQ_INT(a, b)                                                                                     \
    do {                                                                                                       \
        long long a_ = (long long)(a), b_ = (long long)(b);                                                    \
        if (a_ != b_) {                                                                                        \
            fprintf(stderr, "  %s:%d: %s == %lld, expected %s == %lld\n", __FILE__, __LINE__, #a, a_, #b, b_); \
            tl_failures++;                                                                                     \
        }                                                                                                      \
    } while (0)

#define CHECK_EQ_STR(a, b)                                                                                     \
    do {                                                                                                       \
        const char *a_ = (a), *b_ = (b);                                                                       \
        if (!a_ || !b_ || strcmp(a_, b_) != 0) {                                                               \
            fprintf(stderr, "  %s:%d: %s == \"%s\", expected \"%s\"\n", __FILE__, __LINE__, #a, a_ ? a_ : "(null)", \
                    b_ ? b_ : "(null)");                                                                       \
            tl_failures++;                                                                                     \
        }                                                                                                      \
    } while (0)

/* Checks an fl call returned FL_OK, printing the error otherwise. */
#define CHECK_OK(expr)                                                                                         \
    do {                                                                                                       \
        int rc_ = (expr);                                                                                      \
        if (rc_ != FL_OK) {                                                                                    \
            fprintf(stderr, "  %s:%d: %s returned %d (%s): %s\n", __FILE__, __LINE__, #expr, rc_, fl_strerror(rc_), \
                    tl_err.message);                                                                           \
            tl_failures++;                                                                                     \
        }                                                                                                      \
    } while (0)

/* A shared error report tests pass to fl calls. */
extern fl_error tl_err;

#define RUN(fn) tl_run(#fn, fn)
void tl_run(const char *name, void (*fn)(void));
/* Prints "N passed, N failed" and returns the exit status. */
int tl_finish(const char *suite);
/* A fresh empty directory under $TMPDIR; returned path lives until exit. */
const char *tl_tmpdir(const char *tag);
/* Runs a shell command; returns its exit status. */
int tl_sh(const char *fmt, ...);
/* Crash testing: runs child(ctx) in a forked process `rounds` times and SIGKILLs it after a pseudo-random
 * delay (seeded, so a run repeats) below max_us / 100, max_us / 10 or max_us in turn, so kills land both
 * early and late in the child's work; after(ctx), if not NULL, runs after each round. A child that ends on
 * its own must exit 0. Returns the number of rounds that ended by the kill. */
int tl_kill_rounds(int rounds, uint64_t max_us, uint64_t seed, void (*child)(void *ctx), void (*after)(void *ctx), void *ctx);
/* A xorshift64 step: deterministic pseudo-random numbers for property tests (state must not be 0). */
static inline uint64_t tl_rand(uint64_t *state) {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    return *state;
}
/* Writes a whole file (a CHECK fails if it cannot). */
void tl_write_file(const char *path, const void *data, size_t size);

/* Bytes owned by the caller (free(data)). */
typedef struct tl_blob {
    uint8_t *data;
    size_t size;
} tl_blob;
/* A real JPEG of width x height with a fixed pixel pattern, encoded by libturbojpeg: gray, or RGB with
 * the given TJSAMP_* subsampling; flags e.g. TJFLAG_PROGRESSIVE. */
tl_blob tl_jpeg(int width, int height, bool gray, int subsamp, int flags);

#endif
