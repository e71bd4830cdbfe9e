/*
 * fuzz_deletion.c — libFuzzer target for fl_deletion_decode (src/table/manifest.c), the reader of
 * _deletions/<hex>.del files.
 *
 * Input layout: u32 little-endian physical row count of the fragment, then the deletion file bytes. The
 * file is decoded as given and again with its trailing xxh3 checksum recomputed, so mutations get past
 * the checksum. Decoded offsets must be strictly increasing and below the row count, and must encode
 * back to the same file.
 *
 *   make fuzz && scripts/run-fuzz.sh long build-fuzz/fuzz_deletion 600
 */
#include "table/table.h"

#include <stdio.h>
#include <stdlib.h>

static void decode_one(const uint8_t *data, size_t size, uint64_t physical_rows) {
    uint32_t *offsets = NULL;
    uint64_t n = 0;
    fl_error err = {0};
    int rc = fl_deletion_decode(data, size, physical_rows, "fuzz", &offsets, &n, &err);
    if (rc != FL_OK) {
        if (offsets || n) {
            fprintf(stderr, "fuzz_deletion: failed decode returned offsets\n");
            abort();
        }
        return;
    }
    for (uint64_t i = 0; i < n; i++) {
        if (offsets[i] >= physical_rows || (i && offsets[i] <= offsets[i - 1])) {
            fprintf(stderr, "fuzz_deletion: offset %llu = %u violates the deletion file invariants\n",
                    (unsigned long long)i, offsets[i]);
            abort();
        }
    }
    fl_buf b;
    if (fl_deletion_encode(offsets, n, &b) == FL_OK) {
        if (b.size != size || memcmp(b.data, data, size) != 0) {
            fprintf(stderr, "fuzz_deletion: re-encoding gives %zu bytes, input had %zu\n", b.size, size);
            abort();
        }
    }
    fl_buf_free(&b);
    fl_free(offsets);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 4) return 0;
    uint64_t physical_rows = fl_load_u32(data);
    data += 4;
    size -= 4;
    decode_one(data, size, physical_rows);
    if (size >= 24) {
        uint8_t *copy = malloc(size);
        if (!copy) return 0;
        memcpy(copy, data, size);
        fl_store_u64(copy + size - 8, fl_hash64(copy, size - 8));
        if (memcmp(copy, data, size) != 0) decode_one(copy, size, physical_rows);
        free(copy);
    }
    return 0;
}
