/*
 * fuzz_filter.c — libFuzzer target for the filter translator and the vectorized evaluator (src/query), the
 * untrusted input of every --where (fuzz_sql covers whole statements):
 *   1. fl_expr_compile_filter on the input against a schema with every column kind. An error must be
 *      FL_EINVAL (or FL_ENOMEM) and, when it names a position, the position lies within the text (1 to
 *      length + 1).
 *   2. A filter that compiles is evaluated over a small batch with NULLs, NaN, empty lists and extreme
 *      integers: any result or a data error, no crash, leak or undefined behaviour; the matching rows are
 *      increasing and in range.
 *   3. The same text as a view's select list (fl_projection_compile): errors as in 1; a list that compiles
 *      is evaluated over the batch, and the projected batch must pass fl_batch_finish (every column as
 *      long as the input, of its declared type).
 *
 *   make fuzz && scripts/run-fuzz.sh long build-fuzz/fuzz_filter 600
 */
#include "query/expr.h"
#include "query/project.h"

#include <stdio.h>
#include <stdlib.h>

#define SCHEMA "id int64, a int32, u uint64, x float64, s string, f bool, ts timestamp, cats list<string>, nums list<int32>, " \
               "img binary, h fixed_size_list<uint8, 8>"

static const char *ROWS =
    "{\"id\":0,\"a\":1,\"u\":18446744073709551615,\"x\":1.5,\"s\":\"car\",\"f\":true,\"ts\":1000,\"cats\":[\"car\",\"person\"],\"nums\":[1,2],"
    "\"img\":\"AAEC\",\"h\":[1,2,3,4,5,6,7,8]}\n"
    "{\"id\":9223372036854775807,\"a\":-2147483648,\"u\":0,\"x\":-0.0,\"s\":\"\",\"f\":false,\"ts\":-1,\"cats\":[],\"nums\":[],\"img\":\"\","
    "\"h\":[0,0,0,0,0,0,0,0]}\n"
    "{\"id\":null,\"a\":null,\"u\":null,\"x\":null,\"s\":null,\"f\":null,\"ts\":null,\"cats\":null,\"nums\":null,\"img\":null,\"h\":null}\n"
    "{\"id\":-9223372036854775808,\"a\":2147483647,\"u\":5,\"x\":1e308,\"s\":\"%_\\\\\",\"f\":true,\"ts\":9223372036854775807,"
    "\"cats\":[null,\"rider\"],\"nums\":[null,-7],\"img\":\"/w==\",\"h\":[255,255,255,255,255,255,255,255]}\n";

static fl_schema *schema;
static fl_batch *batch;

static void setup(void) {
    fl_error err = {0};
    if (fl_schema_parse(SCHEMA, &schema, &err) != FL_OK || fl_batch_from_jsonl(schema, ROWS, strlen(ROWS), "rows", &batch, &err) != FL_OK) {
        fprintf(stderr, "fuzz_filter: setup: %s\n", err.message);
        abort();
    }
    /* A NaN the JSON reader cannot express. */
    ((double *)batch->columns[3].values)[1] = __builtin_nan("");
}

/* An error must be FL_EINVAL or FL_ENOMEM, and a position it names must lie within the text. */
static void check_error(int rc, const fl_error *err, size_t len) {
    if (rc == FL_OK) return;
    if (rc != FL_EINVAL && rc != FL_ENOMEM) {
        fprintf(stderr, "fuzz_filter: unexpected error code %d: %s\n", rc, err->message);
        abort();
    }
    /* The position is the message's last "(position N)": the text itself may contain that string. */
    const char *p = NULL;
    for (const char *q = strstr(err->message, "(position "); q; q = strstr(q + 1, "(position ")) p = q;
    if (p) {
        long pos = strtol(p + 10, NULL, 10);
        if (pos < 1 || (size_t)pos > len + 1) {
            fprintf(stderr, "fuzz_filter: position %ld outside a text of %zu bytes: %s\n", pos, len, err->message);
            abort();
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (!schema) setup();
    if (size > 4096) return 0;
    char *text = malloc(size + 1);
    if (!text) return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    size_t len = strlen(text);
    fl_expr *e = NULL;
    fl_error err = {0};
    int rc = fl_expr_compile_filter(text, schema, &e, &err);
    check_error(rc, &err, len);
    if (rc == FL_OK) {
        int64_t rows[8], n = -1;
        if (fl_expr_filter_rows(e, batch, rows, &n, &err) == FL_OK) {
            if (n < 0 || n > batch->num_rows) abort();
            for (int64_t i = 0; i < n; i++)
                if (rows[i] < 0 || rows[i] >= batch->num_rows || (i && rows[i] <= rows[i - 1])) abort();
        }
        fl_expr_free(e);
    }
    fl_projection *p = NULL;
    fl_error perr = {0};
    rc = fl_projection_compile(text, schema, &p, &perr);
    check_error(rc, &perr, len);
    if (rc == FL_OK) {
        fl_batch *out = fl_batch_new(p->schema);
        if (out && fl_projection_eval(p, batch, out, &perr) == FL_OK && fl_batch_finish(out, &perr) != FL_OK) {
            fprintf(stderr, "fuzz_filter: projected batch is inconsistent: %s\n", perr.message);
            abort();
        }
        fl_batch_free(out);
        fl_projection_free(p);
    }
    free(text);
    return 0;
}
