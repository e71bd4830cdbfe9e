/*
 * loader_bench.c — the C side of the data-loader benchmark (bench/loader.sh, bench/README.md "Data loader"):
 * the C loader's decoded images/s against the raw libjpeg-turbo decode rate of the same frames.
 *
 *     loader_bench DB TABLE BATCH SAMPLE REPS
 *
 * Reads every row's JPEG (column image_bytes of TABLE in database DB) into memory once, with one scan in
 * storage order, then measures REPS rounds of, in this order:
 *
 *   raw       tjDecompressHeader3 + tjDecompress2 (flags 0: the accurate integer IDCT and fancy upsampling,
 *             what the loader uses) of every frame from memory into a reused per-thread RGB buffer, at scale
 *             1/1 and 1/2, on 1 and 2 threads (the frames handed out from an atomic counter, 8 at a time)
 *   loader    fl_loader_open over all rows in storage order, batch BATCH, uint8 HWC, no shuffle, on 1 and 2
 *             threads, in four variants: `full` (the decoded size), `dct` (scale 1/2 and width x height =
 *             640 x 360: decoded at half size, no resize pass), `resize` (width x height = 512 x 288, no
 *             scale given: the loader decodes at 1/2, the smallest scale covering it, then resamples),
 *             `bilinear` (640 x 360 with an explicit scale 1/1: resampled from the full-size decode). Each is
 *             timed from fl_loader_open to the end-of-epoch NULL, after a warm-up loader over the first
 *             4 x threads batches.
 *
 * Rounds interleave the raw decode and the loader so that drift on a shared machine hits both alike; the
 * report takes medians over the rounds.
 *
 * Wrong data fails the run (exit 1): every timed epoch must deliver every row exactly once, in full batches
 * but the last, at the expected size, with nothing skipped; for SAMPLE rows (spread over the table, read by
 * a shuffled 2-thread loader) the `full` and `dct` pixels must equal a direct tjDecompress2 of the same bytes
 * at the same scale, and the `resize` and `bilinear` pixels must be within 1 of a reference bilinear resample
 * (half-pixel centers) of the 1/2 and the full-size decode. Timing never fails it.
 *
 * stdout, tab-separated:
 *   setup   key value
 *   raw     round scale(1|2) threads images seconds images_per_s
 *   loader  round variant threads images seconds images_per_s batches
 *   check   name value
 */
#include "framelake.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <turbojpeg.h>

#define IMAGE_COLUMN "image_bytes"
#define SMALL_W 640             /* the resized size of the `dct` and `bilinear` variants */
#define SMALL_H 360
#define ODD_W 512               /* the size of the `resize` variant: no DCT scale gives it */
#define ODD_H 288
#define RAW_CHUNK 8             /* frames a raw-decode thread claims at a time */
#define MAX_THREADS 2

/* ---- helpers ---- */

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

_Noreturn static void die(const char *what, const fl_error *err) {
    fprintf(stderr, "loader_bench: %s%s%s\n", what, err ? ": " : "", err ? err->message : "");
    exit(1);
}

/* A wrong result: says what differs and fails the run. */
static void check(bool ok, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void check(bool ok, const char *fmt, ...) {
    if (ok) return;
    va_list ap;
    va_start(ap, fmt);
    fputs("loader_bench: WRONG DATA: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(1);
}

static void *xmalloc(size_t size) {
    void *p = malloc(size ? size : 1);
    if (!p) die("out of memory", NULL);
    return p;
}

static void *xcalloc(size_t n, size_t size) {
    void *p = calloc(n ? n : 1, size);
    if (!p) die("out of memory", NULL);
    return p;
}

/* ---- the frames, in memory ---- */

typedef struct frames {
    size_t n;
    uint64_t *row_ids;          /* n, storage order */
    size_t *offsets;            /* n + 1 into bytes */
    uint8_t *bytes;             /* every JPEG, back to back */
    int width, height;          /* of frame 0 (every frame must have it) */
    uint64_t max_row_id;
} frames;

static void frames_load(fl_table *t, frames *f) {
    const char *cols[] = {IMAGE_COLUMN};
    fl_scan_options so = {.columns = cols, .n_columns = 1, .batch_size = 256, .with_row_ids = true};
    fl_scan *scan;
    fl_error err = {0};
    if (fl_scan_open(t, &so, &scan, &err) != FL_OK) die("scan", &err);
    size_t cap_rows = 1024, cap_bytes = (size_t)64 << 20;
    f->row_ids = xmalloc(cap_rows * sizeof *f->row_ids);
    f->offsets = xmalloc((cap_rows + 1) * sizeof *f->offsets);
    f->bytes = xmalloc(cap_bytes);
    f->offsets[0] = 0;
    for (;;) {
        fl_batch *b;
        if (fl_scan_next(scan, &b, &err) != FL_OK) die("scan", &err);
        if (!b) break;
        for (int64_t i = 0; i < b->num_rows; i++) {
            size_t size;
            check(!fl_array_is_null(&b->columns[0], i), "row id %" PRIu64 ": NULL image", b->row_ids[i]);
            const uint8_t *jpeg = fl_array_get_bytes(&b->columns[0], i, &size);
            if (f->n + 1 >= cap_rows) {
                cap_rows *= 2;
                if (!(f->row_ids = realloc(f->row_ids, cap_rows * sizeof *f->row_ids))) die("out of memory", NULL);
                if (!(f->offsets = realloc(f->offsets, (cap_rows + 1) * sizeof *f->offsets))) die("out of memory", NULL);
            }
            while (f->offsets[f->n] + size > cap_bytes) {
                cap_bytes *= 2;
                if (!(f->bytes = realloc(f->bytes, cap_bytes))) die("out of memory", NULL);
            }
            memcpy(f->bytes + f->offsets[f->n], jpeg, size);
            f->row_ids[f->n] = b->row_ids[i];
            if (b->row_ids[i] > f->max_row_id) f->max_row_id = b->row_ids[i];
            f->offsets[f->n + 1] = f->offsets[f->n] + size;
            f->n++;
        }
        fl_batch_free(b);
    }
    fl_scan_close(scan);
    check(f->n > 0, "table has no rows");
    tjhandle tj = tjInitDecompress();
    if (!tj) die("tjInitDecompress", NULL);
    for (size_t i = 0; i < f->n; i++) {
        int w, h, subsamp, cs;
        check(tjDecompressHeader3(tj, f->bytes + f->offsets[i], (unsigned long)(f->offsets[i + 1] - f->offsets[i]), &w, &h, &subsamp, &cs) == 0,
              "row id %" PRIu64 ": bad JPEG header: %s", f->row_ids[i], tjGetErrorStr2(tj));
        if (i == 0) f->width = w, f->height = h;
        check(w == f->width && h == f->height, "row id %" PRIu64 " is %dx%d, row 0 %dx%d", f->row_ids[i], w, h, f->width, f->height);
    }
    tjDestroy(tj);
}

/* Decodes frame i at scale 1/denom into out (its size in *w, *h); out must hold it. */
static void decode_frame(tjhandle tj, const frames *f, size_t i, int denom, uint8_t *out, int *w, int *h) {
    const uint8_t *jpeg = f->bytes + f->offsets[i];
    unsigned long size = (unsigned long)(f->offsets[i + 1] - f->offsets[i]);
    int ow, oh, subsamp, cs;
    check(tjDecompressHeader3(tj, jpeg, size, &ow, &oh, &subsamp, &cs) == 0, "row id %" PRIu64 ": header: %s", f->row_ids[i], tjGetErrorStr2(tj));
    tjscalingfactor sf = {1, denom};
    *w = TJSCALED(ow, sf);
    *h = TJSCALED(oh, sf);
    check(tjDecompress2(tj, jpeg, size, out, *w, 0, *h, TJPF_RGB, 0) == 0, "row id %" PRIu64 ": decode: %s", f->row_ids[i], tjGetErrorStr2(tj));
}

/* ---- raw decode ---- */

typedef struct raw_job {
    const frames *f;
    int denom;
    atomic_size_t next;
} raw_job;

static void *raw_thread(void *arg) {
    raw_job *job = arg;
    tjhandle tj = tjInitDecompress();
    if (!tj) die("tjInitDecompress", NULL);
    uint8_t *rgb = xmalloc((size_t)job->f->width * (size_t)job->f->height * 3);
    for (;;) {
        size_t from = atomic_fetch_add(&job->next, RAW_CHUNK);
        if (from >= job->f->n) break;
        size_t to = from + RAW_CHUNK < job->f->n ? from + RAW_CHUNK : job->f->n;
        for (size_t i = from; i < to; i++) {
            int w, h;
            decode_frame(tj, job->f, i, job->denom, rgb, &w, &h);
        }
    }
    free(rgb);
    tjDestroy(tj);
    return NULL;
}

/* Seconds to decode every frame at 1/denom on `threads` threads. */
static double raw_decode(const frames *f, int denom, int threads) {
    raw_job job = {.f = f, .denom = denom};
    atomic_init(&job.next, 0);
    pthread_t th[MAX_THREADS];
    double t0 = now_s();
    for (int i = 0; i < threads; i++)
        if (pthread_create(&th[i], NULL, raw_thread, &job) != 0) die("pthread_create", NULL);
    for (int i = 0; i < threads; i++) pthread_join(th[i], NULL);
    return now_s() - t0;
}

static void raw_pass(const frames *f, int round) {
    /* Warm-up: the decoder's tables and the first frames' pages. */
    frames head = *f;
    head.n = f->n < 64 ? f->n : 64;
    raw_decode(&head, 1, 1);
    for (int denom = 1; denom <= 2; denom++)
        for (int threads = 1; threads <= MAX_THREADS; threads++) {
            double s = raw_decode(f, denom, threads);
            printf("raw\t%d\t%d\t%d\t%zu\t%.3f\t%.1f\n", round, denom, threads, f->n, s, (double)f->n / s);
            fflush(stdout);
        }
}

/* ---- the loader ---- */

typedef struct variant {
    const char *name;
    int scale_denom;            /* 0: the loader's choice (none without a resize, else the smallest covering) */
    int width, height;          /* 0: the decoded size */
    int ref_denom;              /* the DCT scale its pixels come from */
    int tolerance;              /* largest |difference| allowed from the reference (the bilinear pass rounds) */
} variant;

static const variant VARIANTS[] = {
    {"full", 0, 0, 0, 1, 0},
    {"dct", 2, SMALL_W, SMALL_H, 2, 0},
    {"resize", 0, ODD_W, ODD_H, 2, 1},
    {"bilinear", 1, SMALL_W, SMALL_H, 1, 1},
};

static fl_loader_options loader_options(const variant *v, int64_t batch, int threads) {
    return (fl_loader_options){.image_column = IMAGE_COLUMN, .batch_size = batch, .threads = threads, .scale_num = v->scale_denom ? 1 : 0,
                               .scale_denom = v->scale_denom, .width = v->width, .height = v->height, .layout = FL_LAYOUT_HWC};
}

static void expected_size(const frames *f, const variant *v, int *w, int *h) {
    *w = v->width ? v->width : f->width;
    *h = v->height ? v->height : f->height;
}

/* One epoch of a loader over rows[0..n): checks every row comes exactly once (seen: scratch of
 * max_row_id + 1); returns the seconds from open to the end of the epoch, the batch count in *batches. */
static double loader_epoch(fl_table *t, const frames *f, const uint64_t *rows, size_t n, const variant *v, int64_t batch, int threads,
                           uint8_t *seen, int64_t *batches) {
    fl_loader_options o = loader_options(v, batch, threads);
    int ew, eh;
    expected_size(f, v, &ew, &eh);
    memset(seen, 0, f->max_row_id + 1);
    fl_error err = {0};
    fl_loader *l;
    double t0 = now_s();
    if (fl_loader_open(t, rows, n, &o, &l, &err) != FL_OK) die("fl_loader_open", &err);
    size_t got = 0;
    *batches = 0;
    for (;;) {
        fl_loader_batch *b;
        if (fl_loader_next(l, &b, &err) != FL_OK) die("fl_loader_next", &err);
        if (!b) break;
        check(b->skipped == 0, "%s: %" PRId64 " rows skipped", v->name, b->skipped);
        check(b->width == ew && b->height == eh, "%s: batch %" PRId64 " is %dx%d, expected %dx%d", v->name, b->index, b->width, b->height, ew, eh);
        check(b->n == batch || got + (size_t)b->n == n, "%s: batch %" PRId64 " has %" PRId64 " rows (not the last)", v->name, b->index, b->n);
        for (int64_t i = 0; i < b->n; i++) {
            check(b->row_ids[i] <= f->max_row_id && !seen[b->row_ids[i]], "%s: row id %" PRIu64 " delivered twice or unknown", v->name, b->row_ids[i]);
            seen[b->row_ids[i]] = 1;
        }
        got += (size_t)b->n;
        (*batches)++;
        fl_loader_batch_free(b);
    }
    double s = now_s() - t0;
    fl_loader_close(l);
    check(got == n, "%s, %d threads: %zu rows delivered in the epoch, %zu expected", v->name, threads, got, n);
    for (size_t i = 0; i < n; i++) check(seen[rows[i]], "%s: row id %" PRIu64 " not delivered", v->name, rows[i]);
    return s;
}

static void loader_runs(fl_table *t, const frames *f, int64_t batch, int round) {
    uint8_t *seen = xcalloc(f->max_row_id + 1, 1);
    for (size_t k = 0; k < sizeof VARIANTS / sizeof *VARIANTS; k++)
        for (int threads = 1; threads <= MAX_THREADS; threads++) {
            int64_t batches;
            size_t warm = (size_t)(4 * threads) * (size_t)batch;
            loader_epoch(t, f, f->row_ids, warm < f->n ? warm : f->n, &VARIANTS[k], batch, threads, seen, &batches);
            double s = loader_epoch(t, f, f->row_ids, f->n, &VARIANTS[k], batch, threads, seen, &batches);
            printf("loader\t%d\t%s\t%d\t%zu\t%.3f\t%.1f\t%" PRId64 "\n", round, VARIANTS[k].name, threads, f->n, s, (double)f->n / s, batches);
            fflush(stdout);
        }
    free(seen);
}

/* ---- pixel checks ---- */

/* The bilinear resample the loader documents (half-pixel centers, edges clamped), in double. */
static void reference_resize(const uint8_t *src, int sw, int sh, uint8_t *dst, int dw, int dh) {
    double fx = (double)sw / dw, fy = (double)sh / dh;
    for (int y = 0; y < dh; y++) {
        double sy = (y + 0.5) * fy - 0.5;
        if (sy < 0) sy = 0;
        int y0 = (int)sy, y1 = y0 + 1 < sh ? y0 + 1 : sh - 1;
        double wy = sy - y0;
        for (int x = 0; x < dw; x++) {
            double sx = (x + 0.5) * fx - 0.5;
            if (sx < 0) sx = 0;
            int x0 = (int)sx, x1 = x0 + 1 < sw ? x0 + 1 : sw - 1;
            double wx = sx - x0;
            for (int c = 0; c < 3; c++) {
                double top = src[((size_t)y0 * (size_t)sw + (size_t)x0) * 3 + (size_t)c] * (1 - wx) + src[((size_t)y0 * (size_t)sw + (size_t)x1) * 3 + (size_t)c] * wx;
                double bottom = src[((size_t)y1 * (size_t)sw + (size_t)x0) * 3 + (size_t)c] * (1 - wx) + src[((size_t)y1 * (size_t)sw + (size_t)x1) * 3 + (size_t)c] * wx;
                dst[((size_t)y * (size_t)dw + (size_t)x) * 3 + (size_t)c] = (uint8_t)(top * (1 - wy) + bottom * wy + 0.5);
            }
        }
    }
}

/* Every variant's pixels for `sample` rows spread over the table (a shuffled 2-thread loader) against a direct
 * decode of the same bytes. */
static void pixel_checks(fl_table *t, const frames *f, int64_t batch, size_t sample) {
    if (sample > f->n) sample = f->n;
    if (!sample) return;
    uint64_t *rows = xmalloc(sample * sizeof *rows);
    size_t *index_of = xmalloc((f->max_row_id + 1) * sizeof *index_of);
    for (size_t i = 0; i < f->n; i++) index_of[f->row_ids[i]] = i;
    for (size_t k = 0; k < sample; k++) rows[k] = f->row_ids[k * f->n / sample];
    size_t full_bytes = (size_t)f->width * (size_t)f->height * 3;
    uint8_t *ref = xmalloc(full_bytes), *small = xmalloc(full_bytes);
    tjhandle tj = tjInitDecompress();
    if (!tj) die("tjInitDecompress", NULL);
    for (size_t k = 0; k < sizeof VARIANTS / sizeof *VARIANTS; k++) {
        const variant *v = &VARIANTS[k];
        fl_loader_options o = loader_options(v, batch, 2);
        o.shuffle = true;
        o.seed = 7;
        fl_error err = {0};
        fl_loader *l;
        if (fl_loader_open(t, rows, sample, &o, &l, &err) != FL_OK) die("fl_loader_open", &err);
        size_t got = 0, differing = 0;
        int max_diff = 0;
        for (;;) {
            fl_loader_batch *b;
            if (fl_loader_next(l, &b, &err) != FL_OK) die("fl_loader_next", &err);
            if (!b) break;
            for (int64_t i = 0; i < b->n; i++) {
                size_t at = index_of[b->row_ids[i]];
                int w, h;
                decode_frame(tj, f, at, v->ref_denom, ref, &w, &h);
                const uint8_t *want = ref;
                if (v->width && (w != v->width || h != v->height)) {
                    reference_resize(ref, w, h, small, v->width, v->height);
                    want = small;
                    w = v->width;
                    h = v->height;
                }
                check(b->width == w && b->height == h, "%s: row id %" PRIu64 " is %dx%d, a direct decode %dx%d", v->name, b->row_ids[i], b->width, b->height, w,
                      h);
                const uint8_t *have = b->pixels + (size_t)i * (size_t)w * (size_t)h * 3;
                size_t bytes = (size_t)w * (size_t)h * 3;
                if (memcmp(have, want, bytes)) {
                    differing++;
                    for (size_t p = 0; p < bytes; p++) {
                        int d = abs((int)have[p] - (int)want[p]);
                        if (d > max_diff) max_diff = d;
                    }
                }
                got++;
            }
            fl_loader_batch_free(b);
        }
        fl_loader_close(l);
        check(got == sample, "%s: %zu of %zu sample rows delivered", v->name, got, sample);
        /* Decoding is deterministic: full and dct must be byte-identical; the bilinear pass may round differently. */
        check(max_diff <= v->tolerance, "%s: %zu of %zu sample images differ from a direct decode, by up to %d", v->name, differing, sample, max_diff);
        printf("check\tpixels_%s\t%zu images, %zu differ, max |diff| %d\n", v->name, sample, differing, max_diff);
    }
    tjDestroy(tj);
    free(ref);
    free(small);
    free(index_of);
    free(rows);
}

int main(int argc, char **argv) {
    if (argc != 6) {
        fprintf(stderr, "usage: loader_bench DB TABLE BATCH SAMPLE REPS\n");
        return 2;
    }
    int64_t batch = atoll(argv[3]);
    size_t sample = (size_t)atoll(argv[4]);
    int reps = atoi(argv[5]);
    if (batch <= 0 || reps <= 0) die("BATCH and REPS must be > 0", NULL);
    fl_error err = {0};
    fl_db *db;
    fl_table *t;
    if (fl_db_open(argv[1], 0, &db, &err) != FL_OK) die("open database", &err);
    if (fl_table_open(db, argv[2], NULL, &t, &err) != FL_OK) die("open table", &err);
    frames f = {0};
    double t0 = now_s();
    frames_load(t, &f);
    printf("setup\tframes\t%zu\n", f.n);
    printf("setup\tsize\t%dx%d\n", f.width, f.height);
    printf("setup\tjpeg_bytes\t%zu\n", f.offsets[f.n]);
    printf("setup\tread_s\t%.3f\n", now_s() - t0);
    printf("setup\tversion\t%" PRIu64 "\n", fl_table_version(t));
    fflush(stdout);
    pixel_checks(t, &f, batch, sample);
    for (int round = 1; round <= reps; round++) {
        raw_pass(&f, round);
        loader_runs(t, &f, batch, round);
    }
    fl_table_close(t);
    fl_db_close(db);
    free(f.row_ids);
    free(f.offsets);
    free(f.bytes);
    return 0;
}
