/*
 * fuzz_index.c — libFuzzer target for the index file reader (src/index/ixfile.c): ix_file_open, the row
 * set reads, range lookups and ix_file_check on _indexes/<hex>.idx files.
 *
 * Each input is written to /tmp/fl-fuzz-<pid>.idx (one file per process, reused, removed at exit) and read
 * as given, then again with every block checksum and the footer checksum recomputed (the harness walks the
 * footer itself), so mutations get past the checksums. An accepted file must keep the reader's promises:
 * ranges return only rows that the whole-file check also sees, a range never returns more rows than the
 * file holds, and an unbounded range equals the file's entries.
 *
 *   make fuzz && scripts/run-fuzz.sh long build-fuzz/fuzz_index 600
 */
#include "index/ixfile.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static char path[64];

static void remove_file(void) { unlink(path); }

static void read_all(const uint8_t *data, size_t size) {
    FILE *f = fopen(path, "wb");
    if (!f) abort();
    if (size && fwrite(data, 1, size, f) != size) abort();
    fclose(f);
    ix_file *ix;
    fl_error err = {0};
    if (ix_file_open(path, &ix, &err) != FL_OK) {
        if (err.code != FL_ECORRUPT && err.code != FL_EUNSUPPORTED && err.code != FL_ENOMEM) {
            fprintf(stderr, "fuzz_index: open failed with code %d: %s\n", err.code, err.message);
            abort();
        }
        return;
    }
    uint64_t entries = 0;
    int checked = ix_file_check(ix, &entries, &err);
    ix_rows rows = {0};
    for (int s = 0; s < IX_N_SETS; s++) ix_file_read_set(ix, s, &rows, &err);
    ix_rows_free(&rows);
    if (ix_file_range(ix, NULL, false, NULL, false, &rows, &err) == FL_OK && checked == FL_OK && rows.n != entries) {
        fprintf(stderr, "fuzz_index: unbounded range gives %zu rows, the check %llu\n", rows.n, (unsigned long long)entries);
        abort();
    }
    ix_rows_free(&rows);
    /* Bounded lookups with keys taken from the input. */
    ix_key lo = {.type = ix_file_key_type(ix)}, hi = lo;
    if (lo.type == IX_KEY_STRING) {
        lo.s = data;
        lo.len = size < 3 ? size : 3;
        hi.s = data + size / 2;
        hi.len = size - size / 2 < 5 ? size - size / 2 : 5;
    } else {
        lo.i = size ? (int64_t)data[0] - 128 : 0;
        hi.i = lo.i + (size > 1 ? data[1] : 0);
        lo.f = (double)lo.i / 3;
        hi.f = (double)hi.i / 2;
    }
    for (int mode = 0; mode < 4; mode++) {
        if (ix_file_range(ix, &lo, mode & 1, &hi, mode & 2, &rows, &err) == FL_OK && checked == FL_OK && rows.n > entries) {
            fprintf(stderr, "fuzz_index: a range returned %zu rows of %llu\n", rows.n, (unsigned long long)entries);
            abort();
        }
        ix_rows_free(&rows);
    }
    ix_file_close(ix);
}

/* Rewrites a block's checksum when its reference lies inside the file. */
static void fix_ref(uint8_t *d, size_t size, size_t at) {
    uint64_t off = fl_load_u64(d + at);
    uint32_t len = fl_load_u32(d + at + 8);
    if (off <= size && len <= size - off) fl_store_u64(d + at + 16, fl_hash64(d + off, len));
}

/* Walks the footer (format in docs/FORMAT.md §18) and recomputes every checksum. */
static void fix_checksums(uint8_t *d, size_t size) {
    if (size < 8 + FL_IX_TAIL_SIZE) return;
    size_t tail = size - FL_IX_TAIL_SIZE;
    uint64_t foot = fl_load_u64(d + tail);
    if (foot > tail) return;
    size_t p = (size_t)foot, end = tail;
    if (end - p < 10) return;
    uint8_t kind = d[p], key_type = d[p + 1];
    p += 10;
    for (int s = 0; s < IX_N_SETS && end - p >= 24; s++, p += 24) fix_ref(d, size, p);
    if (end - p >= 4) {
        uint32_t n = fl_load_u32(d + p);
        p += 4;
        int keys = kind == IX_BTREE ? 2 : 1;
        for (uint32_t i = 0; i < n && end - p >= 24; i++) {
            fix_ref(d, size, p);
            p += 24;
            for (int k = 0; k < keys; k++) {
                if (key_type == IX_KEY_STRING) {
                    if (end - p < 4) break;
                    uint32_t len = fl_load_u32(d + p);
                    if (len > end - p - 4) {
                        p = end;
                        break;
                    }
                    p += 4 + len;
                } else {
                    p = end - p < 8 ? end : p + 8;
                }
            }
        }
    }
    fl_store_u64(d + tail + 8, tail - foot);
    fl_store_u64(d + tail + 16, fl_hash64(d + foot, tail - foot));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (!path[0]) {
        snprintf(path, sizeof path, "/tmp/fl-fuzz-%d.idx", (int)getpid());
        atexit(remove_file);
    }
    read_all(data, size);
    uint8_t *copy = malloc(size ? size : 1);
    if (!copy) return 0;
    memcpy(copy, data, size);
    fix_checksums(copy, size);
    if (memcmp(copy, data, size) != 0) read_all(copy, size);
    free(copy);
    return 0;
}
