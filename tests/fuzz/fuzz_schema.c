/*
 * fuzz_schema.c — libFuzzer target for both schema readers (src/batch/schema.c):
 *   1. fl_schema_parse on the input as NUL-terminated text ("id int64 not null, v list<float32>, ...").
 *      A schema that parses must format to text that parses again and formats to the identical string,
 *      and must survive the binary encoding unchanged.
 *   2. fl_schema_decode on the raw input bytes (the binary field encoding stored in manifests and data
 *      file footers). A decoded schema must re-encode to bytes that decode and re-encode identically.
 *
 *   make fuzz && scripts/run-fuzz.sh long build-fuzz/fuzz_schema 600
 *   (run-fuzz.sh passes -dict=tests/fuzz/fuzz_schema.dict, the type and keyword tokens of the text syntax)
 */
#include "batch/batch.h"

#include <stdio.h>
#include <stdlib.h>

/* Binary encode of s; decoding it must succeed, consume every byte and encode to the same bytes. */
static void check_binary_round_trip(const fl_schema *s, const char *origin) {
    fl_buf first, second;
    fl_buf_init(&first);
    fl_buf_init(&second);
    fl_schema_encode(&first, s);
    if (first.failed) abort();
    fl_error err = {0};
    fl_reader r;
    fl_reader_init(&r, first.data, first.size, 0, "re-encoded", &err);
    fl_schema *again = NULL;
    if (!fl_schema_decode(&r, &again) || r.pos != r.size) {
        fprintf(stderr, "fuzz_schema: %s schema does not decode from its own encoding: %s\n", origin,
                again ? "trailing bytes" : err.message);
        abort();
    }
    fl_schema_encode(&second, again);
    if (first.size != second.size || memcmp(first.data, second.data, first.size) != 0) {
        fprintf(stderr, "fuzz_schema: %s schema: binary encoding not stable (%zu vs %zu bytes)\n", origin, first.size,
                second.size);
        abort();
    }
    fl_schema_free(again);
    fl_buf_free(&first);
    fl_buf_free(&second);
}

static void fuzz_text(const uint8_t *data, size_t size) {
    char *text = malloc(size + 1);
    if (!text) return;
    memcpy(text, data, size);
    text[size] = 0;
    fl_schema *s = NULL;
    fl_error err = {0};
    if (fl_schema_parse(text, &s, &err) != FL_OK) {
        if (s || !err.message[0]) abort();
        free(text);
        return;
    }
    char *formatted = fl_schema_format(s);
    if (!formatted) abort();
    fl_schema *again = NULL;
    if (fl_schema_parse(formatted, &again, &err) != FL_OK) {
        fprintf(stderr, "fuzz_schema: formatted schema does not parse: %s\n  text: %s\n", err.message, formatted);
        abort();
    }
    char *formatted2 = fl_schema_format(again);
    if (!formatted2 || strcmp(formatted, formatted2) != 0) {
        fprintf(stderr, "fuzz_schema: format is not stable:\n  1: %s\n  2: %s\n", formatted,
                formatted2 ? formatted2 : "(null)");
        abort();
    }
    for (int32_t i = 0; i < s->n_fields; i++) {
        if (!fl_field_same_type(&s->fields[i], &again->fields[i])) {
            fprintf(stderr, "fuzz_schema: column %d changed type through format/parse\n", i);
            abort();
        }
        if (fl_schema_find(again, s->fields[i].name) != i) abort();
        char *type = fl_field_type_format(&s->fields[i]);
        if (!type) abort();
        free(type);
    }
    fl_schema *copy = fl_schema_copy(s);
    if (!copy) abort();
    char *formatted3 = fl_schema_format(copy);
    if (!formatted3 || strcmp(formatted, formatted3) != 0) abort();
    check_binary_round_trip(s, "parsed");
    free(formatted3);
    fl_schema_free(copy);
    free(formatted2);
    fl_schema_free(again);
    free(formatted);
    fl_schema_free(s);
    free(text);
}

static void fuzz_binary(const uint8_t *data, size_t size) {
    fl_error err = {0};
    fl_reader r;
    fl_reader_init(&r, data, size, 0, "fuzz", &err);
    fl_schema *s = NULL;
    if (!fl_schema_decode(&r, &s)) {
        if (s || !r.failed || !err.message[0]) abort();
        return;
    }
    if (!s || r.pos > r.size) abort();
    check_binary_round_trip(s, "decoded");
    /* Names from the binary encoding can be anything; formatting them must still be safe. */
    char *text = fl_schema_format(s);
    if (!text) abort();
    free(text);
    fl_schema *copy = fl_schema_copy(s);
    if (!copy) abort();
    fl_schema_free(copy);
    fl_schema_free(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fuzz_text(data, size);
    fuzz_binary(data, size);
    return 0;
}
