/*
 * fuzz_ivf.c — libFuzzer target for fl_ivf_read (src/index/ivf.c), the reader of IVF vector index files
 * (layout in src/index/ivf.h).
 *
 * Each input is read as given, then again with the header checksum and every section checksum
 * recomputed (the harness walks the sections by their length fields), so mutations get past the
 * checksums. Errors must be FL_ECORRUPT or FL_EUNSUPPORTED (FL_ENOMEM aside) with a message that names
 * the file. An accepted index must keep the reader's promises:
 *  - it writes back to exactly the input bytes (the format is canonical);
 *  - a search probing every partition returns at most k hits, ascending by (distance, row id), distinct
 *    row ids, finite distances (IVF_PQ also with a refine callback that drops some rows);
 *  - one more vector with an unused row id can be added, and the result round-trips.
 *
 *   make fuzz && scripts/run-fuzz.sh long build-fuzz/fuzz_ivf 600
 */
#include "index/ivf.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

static void fail(const char *what) {
    fprintf(stderr, "fuzz_ivf: %s\n", what);
    abort();
}

/* Exact-distance stand-in: a function of the row id; every third row is dropped (NaN). */
static int refine(void *ctx, const float *query, const uint64_t *ids, size_t n, double *d, fl_error *err) {
    (void)ctx, (void)query, (void)err;
    for (size_t i = 0; i < n; i++) d[i] = ids[i] % 3 == 0 ? NAN : (double)(ids[i] % 97);
    return FL_OK;
}

static void check_hits(const fl_ivf_hit *h, int n, int k) {
    if (n < 0 || n > k) fail("search returned more than k hits");
    for (int i = 0; i < n; i++) {
        if (h[i].distance != h[i].distance) fail("a hit has a NaN distance");
        if (i && (h[i].distance < h[i - 1].distance || (h[i].distance == h[i - 1].distance && h[i].row_id <= h[i - 1].row_id)))
            fail("hits are not ascending by (distance, row id)");
    }
}

static void read_one(const uint8_t *data, size_t size) {
    fl_ivf *ivf = NULL;
    fl_error err = {0};
    int rc = fl_ivf_read(data, size, "fuzz.ivf", &ivf, &err);
    if (rc != FL_OK) {
        if (ivf) fail("a failed read returned an index");
        if (rc != FL_ECORRUPT && rc != FL_EUNSUPPORTED && rc != FL_ENOMEM) fail("unexpected error code");
        if (rc != FL_ENOMEM && strncmp(err.message, "fuzz.ivf: byte ", 15) != 0) fail("error message does not name the file and byte");
        return;
    }
    fl_buf b;
    fl_buf_init(&b);
    if (fl_ivf_write(ivf, &b, &err) != FL_OK) fail("write of an accepted index failed");
    if (b.size != size || memcmp(b.data, data, size) != 0) fail("read -> write does not give the input bytes back");
    fl_buf_free(&b);

    int dim = fl_ivf_dim(ivf);
    if (dim <= 4096) {
        float *q = calloc((size_t)dim, sizeof *q);
        for (int t = 0; t < dim; t++) q[t] = (float)((int)data[(size_t)t % size] - 128) / 16.0f;
        int k = 1 + data[size - 1] % 16, n = -1;
        fl_ivf_hit hits[16];
        if (fl_ivf_search(ivf, q, k, fl_ivf_partitions(ivf), 0, NULL, NULL, NULL, hits, &n, &err) != FL_OK) fail("search failed");
        check_hits(hits, n, k);
        if ((uint64_t)n != (fl_ivf_count(ivf) < (uint64_t)k ? fl_ivf_count(ivf) : (uint64_t)k)) fail("search missed rows");
        if (fl_ivf_type(ivf) == FL_IVF_PQ) {
            if (fl_ivf_search(ivf, q, k, 1, 3, NULL, refine, NULL, hits, &n, &err) != FL_OK) fail("refined search failed");
            check_hits(hits, n, k);
        }
        /* one more row, under the highest id no list holds (a taken id is FL_EINVAL) */
        uint64_t id = UINT64_MAX;
        while ((rc = fl_ivf_add(ivf, q, &id, 1, &err)) == FL_EINVAL) id--;
        if (rc != FL_OK && rc != FL_ENOMEM) fail("add failed");
        if (rc == FL_OK && fl_ivf_count(ivf) == 0) fail("add did not count the row");
        fl_buf_init(&b);
        if (fl_ivf_write(ivf, &b, &err) != FL_OK) fail("write after add failed");
        fl_ivf *again = NULL;
        if (fl_ivf_read(b.data, b.size, "fuzz.ivf", &again, &err) != FL_OK) fail("an index after add does not read back");
        fl_ivf_free(again);
        fl_buf_free(&b);
        free(q);
    }
    fl_ivf_free(ivf);
}

/* Recomputes the header checksum and each section's checksum, walking sections by their length fields
 * up to the tail. */
static void fix_checksums(uint8_t *d, size_t size) {
    if (size < FL_IVF_HEADER_SIZE + FL_IVF_TAIL_SIZE) return;
    fl_store_u64(d + 32, fl_hash64(d, 32));
    size_t p = FL_IVF_HEADER_SIZE, end = size - FL_IVF_TAIL_SIZE;
    while (end - p >= 20) {
        uint64_t len = fl_load_u64(d + p + 4);
        if (len > end - p - 20) return;
        fl_store_u64(d + p + 12 + len, fl_hash64(d + p + 12, (size_t)len));
        p += 20 + (size_t)len;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    read_one(data, size);
    uint8_t *copy = malloc(size ? size : 1);
    if (!copy) return 0;
    memcpy(copy, data, size);
    fix_checksums(copy, size);
    if (memcmp(copy, data, size) != 0) read_one(copy, size);
    free(copy);
    return 0;
}
