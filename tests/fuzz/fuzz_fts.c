/*
 * fuzz_fts.c — libFuzzer target for the full-text index file reader (src/index/ftsfile.c): fts_file_open,
 * term lookups, the documents block and fts_file_check on `fts` index files (docs/FORMAT.md §19).
 *
 * Each input is written to /tmp/fl-fuzz-<pid>.fts (one file per process, reused, removed at exit) and
 * read as given, then again with every block checksum and the footer checksum recomputed (the harness
 * walks the footer itself), so mutations get past the checksums. An accepted file must keep the reader's
 * promises: documents and posting lists strictly ascending by row, every term frequency between 1 and
 * the document's length.
 *
 *   make fuzz && scripts/run-fuzz.sh long build-fuzz/fuzz_fts 600
 */
#include "index/fts.h"

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
    fts_file *ff;
    fl_error err = {0};
    if (fts_file_open(path, &ff, &err) != FL_OK) {
        if (err.code != FL_ECORRUPT && err.code != FL_ENOMEM) {
            fprintf(stderr, "fuzz_fts: open failed with code %d: %s\n", err.code, err.message);
            abort();
        }
        return;
    }
    uint64_t terms = 0;
    fts_file_check(ff, &terms, &err);
    uint64_t *rows = NULL;
    uint32_t *lens = NULL;
    size_t n_docs = 0;
    bool docs_ok = fts_file_docs(ff, &rows, &lens, &n_docs, &err) == FL_OK;
    for (size_t i = 1; docs_ok && i < n_docs; i++)
        if (rows[i] <= rows[i - 1]) {
            fprintf(stderr, "fuzz_fts: documents out of order\n");
            abort();
        }
    /* Lookups of terms taken from the input (and of a short common prefix). */
    for (size_t at = 0; at + 1 < size && at < 64; at += 7) {
        size_t len = 1 + data[at] % 8;
        if (len > size - at - 1) len = size - at - 1;
        fts_list l = {0};
        if (fts_file_lookup(ff, (const char *)data + at + 1, len, &l, &err) == FL_OK) {
            for (size_t i = 0; i < l.n; i++) {
                if ((i && l.p[i].row <= l.p[i - 1].row) || l.p[i].tf == 0 || l.p[i].tf > l.p[i].len) {
                    fprintf(stderr, "fuzz_fts: a posting list broke its order or counts\n");
                    abort();
                }
            }
        }
        fts_list_free(&l);
    }
    fl_free(rows);
    fl_free(lens);
    fts_file_close(ff);
}

/* Walks the footer (docs/FORMAT.md §19) and recomputes every checksum it can reach. */
static void fix_checksums(uint8_t *d, size_t size) {
    if (size < 8 + FTS_TAIL_SIZE) return;
    size_t tail = size - FTS_TAIL_SIZE;
    uint64_t foot = fl_load_u64(d + tail);
    if (foot > tail) return;
    size_t p = (size_t)foot, end = tail;
    if (end - p < 8) return;
    uint32_t n_frags = fl_load_u32(d + p + 4);
    p += 8;
    if (n_frags > (end - p) / 24) return;
    p += (size_t)n_frags * 24;
    if (end - p < 32) return;
    uint64_t off = fl_load_u64(d + p), len = fl_load_u64(d + p + 8);
    if (off <= size && len <= size - off) fl_store_u64(d + p + 24, fl_hash64(d + off, (size_t)len));
    p += 32;
    if (end - p >= 4) {
        uint32_t n = fl_load_u32(d + p);
        p += 4;
        for (uint32_t i = 0; i < n && end - p >= 1; i++) {
            size_t tl = d[p];
            if (end - p < 1 + tl + 28) break;
            p += 1 + tl;
            off = fl_load_u64(d + p);
            len = fl_load_u64(d + p + 8);
            if (off <= size && len <= size - off) fl_store_u64(d + p + 20, fl_hash64(d + off, (size_t)len));
            p += 28;
        }
    }
    fl_store_u64(d + tail + 8, tail - foot);
    fl_store_u64(d + tail + 16, fl_hash64(d + foot, tail - foot));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (!path[0]) {
        snprintf(path, sizeof path, "/tmp/fl-fuzz-%d.fts", (int)getpid());
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
