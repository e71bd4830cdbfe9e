/*
 * fuzz_manifest.c — libFuzzer target for fl_manifest_decode (src/table/manifest.c), the reader of
 * _versions/<N>.manifest files.
 *
 * Each input is decoded twice: once as given (exercising the magic and checksum checks) and once with the
 * trailing xxh3 checksum recomputed, so that mutations reach the structural decoder instead of dying at
 * the checksum. A manifest that decodes must survive encode -> decode -> encode with identical bytes.
 *
 *   make fuzz && scripts/run-fuzz.sh long build-fuzz/fuzz_manifest 600
 *   build-fuzz/fuzz_manifest -max_total_time=600 tests/fuzz/corpus/fuzz_manifest   (mutates the corpus dir)
 */
#include "table/table.h"

#include <stdio.h>
#include <stdlib.h>

static void check_round_trip(const fl_manifest *m) {
    fl_error err = {0};
    fl_buf first, second;
    if (fl_manifest_encode(m, &first, &err) != FL_OK) {
        fprintf(stderr, "fuzz_manifest: encode of a decoded manifest failed: %s\n", err.message);
        abort();
    }
    fl_manifest *again = NULL;
    if (fl_manifest_decode(first.data, first.size, "re-encoded", &again, &err) != FL_OK) {
        fprintf(stderr, "fuzz_manifest: re-encoded manifest does not decode: %s\n", err.message);
        abort();
    }
    if (fl_manifest_encode(again, &second, &err) != FL_OK) {
        fprintf(stderr, "fuzz_manifest: second encode failed: %s\n", err.message);
        abort();
    }
    if (first.size != second.size || memcmp(first.data, second.data, first.size) != 0) {
        fprintf(stderr, "fuzz_manifest: encode(decode(encode(m))) differs from encode(m) (%zu vs %zu bytes)\n",
                first.size, second.size);
        abort();
    }
    /* A copy must encode to the same bytes too (fl_manifest_copy is used by every commit). */
    fl_manifest *copy = fl_manifest_copy(again);
    if (copy) {
        fl_buf third;
        if (fl_manifest_encode(copy, &third, &err) != FL_OK || third.size != first.size ||
            memcmp(third.data, first.data, first.size) != 0) {
            fprintf(stderr, "fuzz_manifest: fl_manifest_copy changed the manifest\n");
            abort();
        }
        fl_buf_free(&third);
        fl_manifest_free(copy);
    }
    fl_manifest_free(again);
    fl_buf_free(&first);
    fl_buf_free(&second);
}

static void decode_one(const uint8_t *data, size_t size) {
    fl_manifest *m = NULL;
    fl_error err = {0};
    int rc = fl_manifest_decode(data, size, "fuzz", &m, &err);
    if (rc == FL_OK) {
        if (!m) abort();
        check_round_trip(m);
        fl_manifest_free(m);
    } else if (m || err.code != rc || !err.message[0]) {
        /* Failures must leave *out NULL and describe themselves. */
        fprintf(stderr, "fuzz_manifest: failed decode left out=%p code=%d/%d message='%s'\n", (void *)m, rc, err.code,
                err.message);
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    decode_one(data, size);
    if (size >= 16) {
        uint8_t *copy = malloc(size);
        if (!copy) return 0;
        memcpy(copy, data, size);
        fl_store_u64(copy + size - 8, fl_hash64(copy, size - 8));
        if (memcmp(copy, data, size) != 0) decode_one(copy, size);
        free(copy);
    }
    return 0;
}
