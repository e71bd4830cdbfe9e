/*
 * fuzz_page.c — libFuzzer target for fl_page_decode (src/format/page.c), the decoder of raw (already
 * decompressed and checksum-verified) page bytes inside data files.
 *
 * Input layout: u8 type selector (index into fuzz_page_types below, modulo its size) | u16 little-endian value
 * count | page bytes. A page that decodes must be a valid array (fl_array_validate), and its re-encoding
 * must decode again and re-encode to identical bytes. Statistics and array copies are computed on the
 * decoded values too, since the writer and the reader run them on the same arrays.
 *
 *   make fuzz && scripts/run-fuzz.sh long build-fuzz/fuzz_page 600
 */
#include "format/format.h"

#include <stdio.h>
#include <stdlib.h>

#include "page_types.h"

static fl_schema *schemas[FUZZ_PAGE_N_TYPES];

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc;
    (void)argv;
    for (size_t i = 0; i < FUZZ_PAGE_N_TYPES; i++) {
        fl_error err = {0};
        if (fl_schema_parse(fuzz_page_types[i], &schemas[i], &err) != FL_OK) {
            fprintf(stderr, "fuzz_page: cannot parse '%s': %s\n", fuzz_page_types[i], err.message);
            abort();
        }
    }
    return 0;
}

static void check_decoded(const fl_array *a, const fl_field *field, int64_t count) {
    fl_error err = {0};
    if (a->length != count || fl_array_validate(a, field, &err) != FL_OK) {
        fprintf(stderr, "fuzz_page: decoded page is not a valid array of %lld values: %s\n", (long long)count, err.message);
        abort();
    }
    fl_buf first, second;
    fl_buf_init(&first);
    fl_buf_init(&second);
    fl_page_encode(&first, a, 0, a->length);
    if (first.failed) abort();
    fl_array b;
    if (fl_page_decode(first.data, first.size, field, count, &b, "re-encoded", 0, &err) != FL_OK) {
        fprintf(stderr, "fuzz_page: re-encoded page does not decode: %s\n", err.message);
        abort();
    }
    fl_page_encode(&second, &b, 0, b.length);
    if (first.size != second.size || memcmp(first.data, second.data, first.size) != 0) {
        fprintf(stderr, "fuzz_page: page encoding not stable (%zu vs %zu bytes)\n", first.size, second.size);
        abort();
    }
    /* Same statistics from both decodings. */
    fl_page_stats s1, s2;
    fl_page_compute_stats(a, 0, a->length, &s1);
    fl_page_compute_stats(&b, 0, b.length, &s2);
    if (s1.null_count != s2.null_count || s1.has_minmax != s2.has_minmax ||
        (s1.has_minmax && (s1.min != s2.min || s1.max != s2.max)))
        abort();
    /* Copy the second half into a fresh array the way the reader serves a range, then encode that range of
     * the original: both must give the same bytes. */
    int64_t half = count / 2;
    fl_array c;
    if (fl_array_init(&c, field) == FL_OK) {
        if (fl_array_append_range(&c, a, half, count - half) == FL_OK) {
            if (fl_array_validate(&c, field, &err) != FL_OK) {
                fprintf(stderr, "fuzz_page: appended range is invalid: %s\n", err.message);
                abort();
            }
            fl_buf x, y;
            fl_buf_init(&x);
            fl_buf_init(&y);
            fl_page_encode(&x, a, half, count - half);
            fl_page_encode(&y, &c, 0, c.length);
            if (x.size != y.size || memcmp(x.data, y.data, x.size) != 0) {
                fprintf(stderr, "fuzz_page: encoding rows [%lld, %lld) differs from encoding their copy\n", (long long)half,
                        (long long)count);
                abort();
            }
            fl_buf_free(&x);
            fl_buf_free(&y);
        }
        fl_array_clear(&c);
    }
    fl_array_clear(&b);
    fl_buf_free(&first);
    fl_buf_free(&second);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 3) return 0;
    const fl_field *field = &schemas[data[0] % FUZZ_PAGE_N_TYPES]->fields[0];
    int64_t count = (int64_t)data[1] | (int64_t)data[2] << 8;
    data += 3;
    size -= 3;
    fl_array a;
    fl_error err = {0};
    int rc = fl_page_decode(data, size, field, count, &a, "fuzz", 4096, &err);
    if (rc != FL_OK) {
        if (err.code != rc || !err.message[0] || a.length || a.values || a.offsets || a.validity || a.children) {
            fprintf(stderr, "fuzz_page: failed decode: rc %d, err %d '%s', array not cleared\n", rc, err.code, err.message);
            abort();
        }
        return 0;
    }
    check_decoded(&a, field, count);
    fl_array_clear(&a);
    return 0;
}
