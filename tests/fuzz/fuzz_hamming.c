/*
 * fuzz_hamming.c — libFuzzer target for ham_read (src/index/hamidx.c), the reader of `hamming` index
 * files (docs/FORMAT.md §21), and the searches of what it accepts.
 *
 * Each input is read as given, then again with the header, entries and band checksums recomputed (the
 * harness walks the sections by their counts), so mutations get past the checksums. Errors must be
 * FL_ECORRUPT or FL_EUNSUPPORTED (FL_ENOMEM aside). An accepted index must keep its promises: a radius
 * query returns each row at most once, every one within the radius, and exactly the rows a brute force
 * over the file's entries finds; a nearest query returns at most k rows in (distance, row) order.
 *
 *   make fuzz && scripts/run-fuzz.sh long build-fuzz/fuzz_hamming 600
 */
#include "index/hamidx.h"

#include <stdio.h>
#include <stdlib.h>

static void fail(const char *what) {
    fprintf(stderr, "fuzz_hamming: %s\n", what);
    abort();
}

static int cmp_row(const void *a, const void *b) {
    uint64_t x = ((const ham_hit *)a)->row, y = ((const ham_hit *)b)->row;
    return x < y ? -1 : x > y;
}

static void read_all(const uint8_t *data, size_t size) {
    ham_index *h = NULL;
    fl_error err = {0};
    if (ham_read(data, size, "fuzz", &h, &err) != FL_OK) {
        if (err.code != FL_ECORRUPT && err.code != FL_EUNSUPPORTED && err.code != FL_ENOMEM) fail("unexpected error code");
        return;
    }
    uint64_t q = size >= 8 ? fl_load_u64(data + size - 8) : 0x0123456789abcdefu;
    int radius = size ? data[0] % 24 : 5;
    ham_hit *hits = NULL;
    size_t n = 0, cap = 0;
    if (ham_radius(h, q, radius, NULL, NULL, &hits, &n, &cap, &err) == FL_OK) {
        if (n) qsort(hits, n, sizeof *hits, cmp_row);
        for (size_t i = 0; i < n; i++) {
            if (hits[i].distance > radius || (i && hits[i].row == hits[i - 1].row)) fail("a radius hit outside the radius, or twice");
        }
        /* brute force over the whole-file scan (radius 64 visits every entry) */
        ham_hit *all = NULL;
        size_t na = 0, ca = 0;
        if (ham_radius(h, q, 64, NULL, NULL, &all, &na, &ca, &err) == FL_OK) {
            if (na != ham_count(h)) fail("radius 64 misses entries");
            size_t within = 0;
            for (size_t i = 0; i < na; i++) within += all[i].distance <= radius;
            if (within != n) fail("radius query disagrees with the brute force");
        }
        fl_free(all);
    }
    fl_free(hits);
    ham_hit out[8];
    int got = 0;
    if (ham_nearest(h, q, 8, 64, NULL, NULL, out, &got, &err) == FL_OK) {
        if (got > 8) fail("too many nearest hits");
        for (int i = 1; i < got; i++)
            if (out[i].distance < out[i - 1].distance || (out[i].distance == out[i - 1].distance && out[i].row <= out[i - 1].row))
                fail("nearest hits out of order");
    }
    ham_free(h);
}

/* Recomputes the checksums the layout puts after each section (FORMAT.md §21). */
static void fix_checksums(uint8_t *d, size_t size) {
    if (size < 24 + 16) return;
    fl_store_u64(d + 16, fl_hash64(d, 16));
    size_t end = size - 16;
    uint64_t n = fl_load_u64(d + 8);
    if (n > (end - 24) / 16) return;
    size_t at = 24;
    if (end - at < 16 * n + 8) return;
    fl_store_u64(d + at + 16 * n, fl_hash64(d + at, 16 * n));
    at += 16 * n + 8;
    for (int b = 0; b < 4 && end - at >= 4; b++) {
        uint64_t m = fl_load_u32(d + at);
        if (m > 65536 || end - at - 4 < 6 * m + 4 * n + 8) return;
        size_t len = 4 + 6 * (size_t)m + 4 * (size_t)n;
        fl_store_u64(d + at + len, fl_hash64(d + at, len));
        at += len + 8;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    read_all(data, size);
    uint8_t *copy = malloc(size ? size : 1);
    if (!copy) return 0;
    memcpy(copy, data, size);
    fix_checksums(copy, size);
    if (memcmp(copy, data, size) != 0) read_all(copy, size);
    free(copy);
    return 0;
}
