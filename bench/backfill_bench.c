/*
 * backfill_bench.c — the dhash kernels of the backfill benchmark (bench/backfill.sh, bench/README.md
 * "Backfill").
 *
 *     backfill_bench kernels DB TABLE OUTDIR REPS
 *
 * Reads the image_bytes column of TABLE once into memory through the public scan API, writes the frames to
 * OUTDIR/frames.bin for the PIL peer (bench/dhash_pil.py; untimed), then times, on one thread, every
 * variant below over all frames, REPS times in a rotated order, and prints "key<TAB>value" lines:
 *
 *   a        framelake's dhash path (dhash v2): fl_decode_gray_scaled (the JPEG's luma at DCT scale 1/8 for
 *            1280x720) + fl_dhash_gray
 *   a_gray   the same scaled luma decode + the bench's own area hash (a cross-check of the kernel's cost)
 *   b        full-resolution RGB decode (tjDecompress2) + the bench's area average of the whole image to
 *            9x8 + the bit rule
 *   b_gray   full-resolution decode to gray + the same area hash
 *   c        full-resolution RGB decode alone (the physical reference)
 *   c_gray   full-resolution gray decode alone
 *
 * Every decode uses TJFLAG_FASTDCT, as fl_decode_gray_scaled does, so a/c isolates the DCT scaling. Each
 * variant's frames/s is the median over REPS (best printed too). The hashes of a, a_gray and b go to
 * OUTDIR/hash_{a,a_gray,b}.bin (8 bytes per frame, in frame order) and the bits where a and b differ are
 * summarised. frames.bin is a sequence of [uint32 little-endian size][JPEG bytes].
 */
#define _POSIX_C_SOURCE 200809L /* clock_gettime */
#include "framelake.h"

#include "common/common.h"
#include "compute/udf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <turbojpeg.h>

#define OUT_W 9
#define OUT_H 8

typedef struct frames {
    uint8_t *bytes;   /* all JPEGs back to back; owned */
    size_t *offsets;  /* n + 1 entries; owned */
    size_t n;
} frames;

static double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what, const fl_error *err) {
    fprintf(stderr, "backfill_bench: %s%s%s\n", what, err ? ": " : "", err ? err->message : "");
    exit(1);
}

static void *xrealloc(void *p, size_t size) {
    void *q = realloc(p, size);
    if (!q) die("out of memory", NULL);
    return q;
}

/* Reads every non-NULL image_bytes value of the table into memory (the only read of the database). */
static void load_frames(const char *db_path, const char *table_name, frames *f) {
    fl_error err = {0};
    fl_db *db;
    fl_table *t;
    fl_scan *scan;
    if (fl_db_open(db_path, 0, &db, &err) != FL_OK) die("open the database", &err);
    if (fl_table_open(db, table_name, NULL, &t, &err) != FL_OK) die("open the table", &err);
    const char *cols[] = {"image_bytes"};
    if (fl_scan_open(t, &(fl_scan_options){.columns = cols, .n_columns = 1, .batch_size = 256}, &scan, &err) != FL_OK)
        die("scan image_bytes", &err);
    size_t cap_bytes = 0, cap_offsets = 0, size = 0;
    memset(f, 0, sizeof *f);
    fl_batch *b;
    while (fl_scan_next(scan, &b, &err) == FL_OK && b) {
        const fl_array *images = &b->columns[0];
        for (int64_t i = 0; i < b->num_rows; i++) {
            if (fl_array_is_null(images, i)) continue;
            size_t n;
            const uint8_t *jpeg = fl_array_get_bytes(images, i, &n);
            if (size + n > cap_bytes) f->bytes = xrealloc(f->bytes, cap_bytes = 2 * (size + n));
            if (f->n + 2 > cap_offsets) f->offsets = xrealloc(f->offsets, (cap_offsets = 2 * (f->n + 2)) * sizeof *f->offsets);
            memcpy(f->bytes + size, jpeg, n);
            f->offsets[f->n++] = size;
            size += n;
        }
        fl_batch_free(b);
    }
    if (err.code != FL_OK) die("scan image_bytes", &err);
    if (f->n == 0) die("the table has no images", NULL);
    f->offsets[f->n] = size;
    fl_scan_close(scan);
    fl_table_close(t);
    fl_db_close(db);
}

static FILE *open_out(const char *dir, const char *name, char *path, size_t cap) {
    snprintf(path, cap, "%s/%s", dir, name);
    FILE *fp = fopen(path, "wb");
    if (!fp) {
        fprintf(stderr, "backfill_bench: cannot write %s\n", path);
        exit(1);
    }
    return fp;
}

static void close_out(FILE *fp, const char *path, bool ok) {
    if (fclose(fp) != 0 || !ok) {
        fprintf(stderr, "backfill_bench: cannot write %s\n", path);
        exit(1);
    }
}

static void write_file(const char *dir, const char *name, const void *data, size_t size) {
    char path[4096];
    FILE *fp = open_out(dir, name, path, sizeof path);
    close_out(fp, path, fwrite(data, 1, size, fp) == size);
}

static void export_frames(const char *dir, const frames *f) {
    char path[4096];
    FILE *fp = open_out(dir, "frames.bin", path, sizeof path);
    bool ok = true;
    for (size_t i = 0; i < f->n && ok; i++) {
        uint32_t n = (uint32_t)(f->offsets[i + 1] - f->offsets[i]);
        uint8_t le[4] = {(uint8_t)n, (uint8_t)(n >> 8), (uint8_t)(n >> 16), (uint8_t)(n >> 24)};
        ok = fwrite(le, 1, 4, fp) == 4 && fwrite(f->bytes + f->offsets[i], 1, n, fp) == n;
    }
    close_out(fp, path, ok);
}

/*
 * The area average of a w x h image (gray pixels, or RGB weighted into 1000 x luma) into 9 x 8 cells, and
 * the dhash bit rule, in exact integer arithmetic like fl_dhash_rgb: in coordinates scaled by the output
 * size, pixel x spans [9x, 9x + 9) and cell c spans [cw, cw + w), so every overlap is an integer and all
 * cells have the same area. As w >= 9, a cell is a run of fully covered pixels (weight 9) plus at most one
 * partly covered pixel at each end; luma is linear, so a row's run is summed per channel first and weighted
 * once (the inner loop is a plain sum the compiler vectorises). Rows work the same way with 8.
 */
typedef struct axis_span {
    int first, end;       /* fully covered pixels [first, end) */
    int lo_px, lo_w;      /* partly covered pixel before them and its overlap (lo_w 0: none) */
    int hi_px, hi_w;      /* … after them */
} axis_span;

typedef struct area_plan {
    int w, h;
    axis_span cols[OUT_W];
    int *row_cell;        /* h entries: first cell row of pixel row y */
    int32_t *row_w0;      /* overlap with row_cell[y]; 8 - row_w0 goes to row_cell[y] + 1 */
} area_plan;

static void area_plan_init(area_plan *p, int w, int h) {
    if (w < OUT_W || h < OUT_H) die("an image is smaller than 9x8", NULL);
    p->w = w, p->h = h;
    for (int c = 0; c < OUT_W; c++) {
        int64_t lo = (int64_t)c * w, hi = lo + w; /* the cell, in scaled units */
        axis_span *s = &p->cols[c];
        s->first = (int)((lo + OUT_W - 1) / OUT_W);
        s->end = (int)(hi / OUT_W);
        s->lo_px = (int)(lo / OUT_W), s->lo_w = (int)(lo % OUT_W ? (int64_t)OUT_W * (s->lo_px + 1) - lo : 0);
        s->hi_px = (int)(hi / OUT_W), s->hi_w = (int)(hi - (int64_t)OUT_W * s->hi_px);
    }
    p->row_cell = xrealloc(NULL, (size_t)h * sizeof *p->row_cell);
    p->row_w0 = xrealloc(NULL, (size_t)h * sizeof *p->row_w0);
    for (int y = 0; y < h; y++) {
        int64_t lo = (int64_t)y * OUT_H, r = lo / h, edge = (r + 1) * h;
        p->row_cell[y] = (int)r;
        p->row_w0[y] = (int32_t)((lo + OUT_H < edge ? lo + OUT_H : edge) - lo);
    }
}

static void area_plan_free(area_plan *p) {
    free(p->row_cell);
    free(p->row_w0);
}

static inline int64_t luma(const uint8_t *px, int channels) {
    return channels == 3 ? 299 * px[0] + 587 * px[1] + 114 * px[2] : px[0];
}

static void area_hash(const area_plan *p, const uint8_t *pixels, int channels, uint8_t hash[8]) {
    int64_t cells[OUT_H + 1][OUT_W]; /* a spare row takes the zero-weight overlaps of the last rows */
    memset(cells, 0, sizeof cells);
    for (int y = 0; y < p->h; y++) {
        const uint8_t *row = pixels + (size_t)y * p->w * channels;
        int r = p->row_cell[y];
        int64_t w0 = p->row_w0[y], w1 = OUT_H - w0;
        for (int c = 0; c < OUT_W; c++) {
            const axis_span *s = &p->cols[c];
            int64_t v;
            if (channels == 3) {
                uint32_t sr = 0, sg = 0, sb = 0;
                for (int x = s->first; x < s->end; x++) sr += row[3 * x], sg += row[3 * x + 1], sb += row[3 * x + 2];
                v = OUT_W * (299 * (int64_t)sr + 587 * (int64_t)sg + 114 * (int64_t)sb);
            } else {
                uint32_t sum = 0;
                for (int x = s->first; x < s->end; x++) sum += row[x];
                v = OUT_W * (int64_t)sum;
            }
            if (s->lo_w) v += s->lo_w * luma(row + (size_t)s->lo_px * channels, channels);
            if (s->hi_w) v += s->hi_w * luma(row + (size_t)s->hi_px * channels, channels);
            cells[r][c] += v * w0;
            cells[r + 1][c] += v * w1;
        }
    }
    for (int r = 0; r < OUT_H; r++) {
        hash[r] = 0;
        for (int c = 0; c < 8; c++)
            if (cells[r][c] > cells[r][c + 1]) hash[r] |= (uint8_t)(0x80u >> c);
    }
}

/* ---- the variants: each runs over every frame and leaves the hashes in `hashes` (when it hashes) ---- */

enum { V_A, V_A_GRAY, V_B, V_B_GRAY, V_C, V_C_GRAY, N_VARIANTS };
static const char *const VARIANT_KEYS[N_VARIANTS] = {"a", "a_gray", "b", "b_gray", "c", "c_gray"};

typedef struct runner {
    tjhandle tj;
    const frames *f;
    uint8_t *pixels;       /* full-resolution buffer, reused */
    size_t cap_pixels;
    area_plan full, scaled;
    uint8_t *hashes[N_VARIANTS]; /* 8 bytes per frame, or NULL */
    volatile uint32_t sink;      /* keeps the decode-only variants from being optimised away */
} runner;

static void decode(runner *r, size_t i, int w, int h, int format) {
    const uint8_t *jpeg = r->f->bytes + r->f->offsets[i];
    unsigned long size = (unsigned long)(r->f->offsets[i + 1] - r->f->offsets[i]);
    size_t need = (size_t)w * h * tjPixelSize[format];
    if (need > r->cap_pixels) r->pixels = xrealloc(r->pixels, r->cap_pixels = need);
    if (tjDecompress2(r->tj, jpeg, size, r->pixels, w, 0, h, format, TJFLAG_FASTDCT) != 0 && tjGetErrorCode(r->tj) == TJERR_FATAL) {
        fprintf(stderr, "backfill_bench: frame %zu: %s\n", i, tjGetErrorStr2(r->tj));
        exit(1);
    }
}

static void header(runner *r, size_t i, int *w, int *h) {
    int subsamp, colorspace;
    if (tjDecompressHeader3(r->tj, r->f->bytes + r->f->offsets[i], (unsigned long)(r->f->offsets[i + 1] - r->f->offsets[i]), w, h,
                            &subsamp, &colorspace) != 0) {
        fprintf(stderr, "backfill_bench: frame %zu: %s\n", i, tjGetErrorStr2(r->tj));
        exit(1);
    }
}

static void run_variant(runner *r, int v) {
    for (size_t i = 0; i < r->f->n; i++) {
        uint8_t *hash = r->hashes[v] ? r->hashes[v] + 8 * i : NULL;
        int w, h;
        if (v == V_A) {
            uint8_t *gray;
            fl_error err = {0};
            if (fl_decode_gray_scaled(r->tj, r->f->bytes + r->f->offsets[i], r->f->offsets[i + 1] - r->f->offsets[i], OUT_W, OUT_H, &gray, &w,
                                      &h, &err) != FL_OK)
                die("fl_decode_gray_scaled", &err);
            fl_dhash_gray(gray, w, h, hash);
            fl_free(gray);
            continue;
        }
        header(r, i, &w, &h);
        if (v == V_A_GRAY) {
            tjscalingfactor eighth = {1, 8};
            int sw = TJSCALED(w, eighth), sh = TJSCALED(h, eighth);
            if (sw != r->scaled.w || sh != r->scaled.h) area_plan_free(&r->scaled), area_plan_init(&r->scaled, sw, sh);
            decode(r, i, sw, sh, TJPF_GRAY);
            area_hash(&r->scaled, r->pixels, 1, hash);
            continue;
        }
        bool gray = v == V_B_GRAY || v == V_C_GRAY;
        decode(r, i, w, h, gray ? TJPF_GRAY : TJPF_RGB);
        if (v == V_B || v == V_B_GRAY) {
            if (w != r->full.w || h != r->full.h) area_plan_free(&r->full), area_plan_init(&r->full, w, h);
            area_hash(&r->full, r->pixels, gray ? 1 : 3, hash);
        } else {
            r->sink += r->pixels[(size_t)(h / 2) * w * (gray ? 1 : 3)];
        }
    }
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static int bits_differ(const uint8_t *x, const uint8_t *y) {
    int n = 0;
    for (int k = 0; k < 8; k++) n += __builtin_popcount((unsigned)(x[k] ^ y[k]));
    return n;
}

static void compare(const char *key, const uint8_t *x, const uint8_t *y, size_t n) {
    long total = 0;
    int max = 0;
    size_t same = 0;
    for (size_t i = 0; i < n; i++) {
        int d = bits_differ(x + 8 * i, y + 8 * i);
        total += d;
        if (d > max) max = d;
        same += d == 0;
    }
    printf("bits_%s_mean\t%.3f\nbits_%s_max\t%d\nbits_%s_equal\t%zu\n", key, (double)total / n, key, max, key, same);
}

int main(int argc, char **argv) {
    if (argc != 6 || strcmp(argv[1], "kernels") != 0) {
        fprintf(stderr, "usage: backfill_bench kernels DB TABLE OUTDIR REPS\n");
        return 2;
    }
    const char *outdir = argv[4];
    int reps = atoi(argv[5]);
    if (reps < 1) reps = 1;
    frames f;
    double t0 = now_seconds();
    load_frames(argv[2], argv[3], &f);
    printf("frames\t%zu\njpeg_bytes\t%zu\nload_seconds\t%.3f\n", f.n, f.offsets[f.n], now_seconds() - t0);
    export_frames(outdir, &f);

    runner r = {.f = &f};
    if (!(r.tj = tjInitDecompress())) die("tjInitDecompress", NULL);
    for (int v = V_A; v <= V_B_GRAY; v++) r.hashes[v] = xrealloc(NULL, 8 * f.n);
    /* warm-up: one untimed pass of a over a few frames (code and caches), then the timed rounds */
    frames head = f;
    head.n = f.n < 16 ? f.n : 16;
    r.f = &head;
    run_variant(&r, V_A);
    run_variant(&r, V_C);
    r.f = &f;

    /* the bench's full-resolution area hash must equal framelake's own kernel run at full resolution
     * (fl_dhash_rgb is slow there, so a sample of frames, untimed) */
    size_t checked = f.n < 32 ? f.n : 32;
    for (size_t i = 0; i < checked; i++) {
        int w, h;
        uint8_t mine[8], theirs[8];
        header(&r, i, &w, &h);
        decode(&r, i, w, h, TJPF_RGB);
        if (w != r.full.w || h != r.full.h) area_plan_free(&r.full), area_plan_init(&r.full, w, h);
        area_hash(&r.full, r.pixels, 3, mine);
        fl_dhash_rgb(r.pixels, w, h, theirs);
        if (memcmp(mine, theirs, 8) != 0) {
            fprintf(stderr, "backfill_bench: frame %zu: the full-resolution area hash differs from fl_dhash_rgb\n", i);
            return 1;
        }
    }
    printf("checked_full_hash_frames\t%zu\n", checked);

    double *secs = xrealloc(NULL, (size_t)reps * N_VARIANTS * sizeof *secs);
    for (int rep = 0; rep < reps; rep++) {
        for (int k = 0; k < N_VARIANTS; k++) {
            int v = (k + rep) % N_VARIANTS; /* rotate the order between rounds */
            if (rep % 2) v = N_VARIANTS - 1 - v;
            double a = now_seconds();
            run_variant(&r, v);
            secs[v * reps + rep] = now_seconds() - a;
        }
        fprintf(stderr, "== kernels: round %d/%d done\n", rep + 1, reps);
    }
    for (int v = 0; v < N_VARIANTS; v++) {
        double *s = secs + v * reps;
        qsort(s, (size_t)reps, sizeof *s, cmp_double);
        double median = reps % 2 ? s[reps / 2] : (s[reps / 2 - 1] + s[reps / 2]) / 2;
        printf("fps_%s\t%.1f\nfps_%s_best\t%.1f\n", VARIANT_KEYS[v], f.n / median, VARIANT_KEYS[v], f.n / s[0]);
    }
    compare("a_b", r.hashes[V_A], r.hashes[V_B], f.n);
    compare("a_agray", r.hashes[V_A], r.hashes[V_A_GRAY], f.n);
    compare("b_bgray", r.hashes[V_B], r.hashes[V_B_GRAY], f.n);
    write_file(outdir, "hash_a.bin", r.hashes[V_A], 8 * f.n);
    write_file(outdir, "hash_a_gray.bin", r.hashes[V_A_GRAY], 8 * f.n);
    write_file(outdir, "hash_b.bin", r.hashes[V_B], 8 * f.n);

    for (int v = 0; v < N_VARIANTS; v++) free(r.hashes[v]);
    free(secs);
    free(r.pixels);
    area_plan_free(&r.full);
    area_plan_free(&r.scaled);
    tjDestroy(r.tj);
    free(f.bytes);
    free(f.offsets);
    return 0;
}
