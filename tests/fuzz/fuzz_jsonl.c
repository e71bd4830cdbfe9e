/*
 * fuzz_jsonl.c — libFuzzer target for the JSON Lines readers (src/batch/jsonl.c), the untrusted input of
 * `framelake import` and `append`:
 *   1. fl_jsonl_infer_schema on the input. A schema it infers must format to text that parses back to the
 *      same text, and every line must then parse against it with the importer's options ($file values,
 *      RFC 3339 timestamps, not-null checks) into a batch that finishes: inference and loading agree.
 *   2. fl_batch_from_jsonl with that schema (plain options): any result, no crash or leak.
 *   3. fl_schema_from_json on the input: a schema it accepts must round-trip through the text syntax.
 *
 *   make fuzz && scripts/run-fuzz.sh long build-fuzz/fuzz_jsonl 600
 */
#include "batch/jsonl.h"

#include <stdio.h>
#include <stdlib.h>

/* Stands in for the file system: a $file value becomes the bytes of its path. */
static int fake_file(void *ctx, const char *path, fl_array *array, char *why, size_t why_size) {
    (void)ctx;
    (void)why;
    (void)why_size;
    return fl_array_append_bytes(array, path, strlen(path));
}

static void check_text_round_trip(const fl_schema *s, const char *origin) {
    char *text = fl_schema_format(s);
    if (!text) abort();
    fl_schema *again = NULL;
    fl_error err = {0};
    if (fl_schema_parse(text, &again, &err) != FL_OK) {
        fprintf(stderr, "fuzz_jsonl: %s schema \"%s\" does not parse: %s\n", origin, text, err.message);
        abort();
    }
    char *text2 = fl_schema_format(again);
    if (!text2 || strcmp(text, text2)) {
        fprintf(stderr, "fuzz_jsonl: %s schema not stable: \"%s\" vs \"%s\"\n", origin, text, text2 ? text2 : "(null)");
        abort();
    }
    free(text);
    free(text2);
    fl_schema_free(again);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *text = (const char *)data;
    fl_error err = {0};
    fl_schema *s = NULL;
    if (fl_jsonl_infer_schema(text, size, "fuzz", &s, &err) == FL_OK) {
        check_text_round_trip(s, "inferred");
        fl_jsonl_options o = {.check_nullable = true, .text_timestamps = true, .file_ref = fake_file};
        fl_batch *b = fl_batch_new(s);
        if (!b) abort();
        fl_jsonl_cursor c;
        fl_jsonl_cursor_init(&c, text, size, "fuzz", &o);
        bool got = true;
        int rc = FL_OK;
        while (rc == FL_OK && got) rc = fl_jsonl_next_row(&c, b, &got, &err);
        if (rc == FL_OK) rc = fl_batch_finish(b, &err);
        if (rc != FL_OK) {
            fprintf(stderr, "fuzz_jsonl: rows do not load with their inferred schema: %s\n", err.message);
            abort();
        }
        fl_jsonl_cursor_free(&c);
        fl_batch_free(b);
        fl_batch *plain = NULL;
        if (fl_batch_from_jsonl(s, text, size, "fuzz", &plain, &err) == FL_OK && !plain) abort();
        fl_batch_free(plain);
        fl_schema_free(s);
    }
    fl_schema *js = NULL;
    if (fl_schema_from_json(text, size, "fuzz", &js, &err) == FL_OK) check_text_round_trip(js, "JSON");
    fl_schema_free(js);
    return 0;
}
