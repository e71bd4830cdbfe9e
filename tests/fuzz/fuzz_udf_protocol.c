/*
 * fuzz_udf_protocol.c — libFuzzer target for the column decoder of the external UDF protocol
 * (src/compute/external.c, docs/UDF_PROTOCOL.md): the bytes a worker process sends back are untrusted.
 * The first input byte picks the declared output type, the rest is a RESULT column. Decoding must either
 * fail with FL_ECORRUPT or produce an array that validates against the declared type; no crash, leak,
 * huge allocation or undefined behaviour.
 *
 *   make fuzz && scripts/run-fuzz.sh long build-fuzz/fuzz_udf_protocol 600
 */
#include "batch/batch.h"
#include "compute/udf.h"

#include <stdio.h>
#include <stdlib.h>

static const char *TYPES[] = {"x int64",  "x string", "x list<list<float32>>", "x fixed_size_list<uint8, 8>", "x struct<a: int32, b: string>",
                              "x bool",   "x float32", "x uint8",              "x list<string>",              "x timestamp"};
#define N_TYPES (sizeof TYPES / sizeof *TYPES)
static fl_schema *schemas[N_TYPES];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (!schemas[0]) {
        for (size_t i = 0; i < N_TYPES; i++) {
            fl_error err = {0};
            if (fl_schema_parse(TYPES[i], &schemas[i], &err) != FL_OK) abort();
        }
    }
    if (size < 1 || size > (1 << 16)) return 0;
    const fl_field *field = &schemas[data[0] % N_TYPES]->fields[0];
    fl_array a;
    if (fl_array_init(&a, field) != FL_OK) return 0;
    fl_error err = {0};
    int rc = fl_udf_protocol_read_column(data + 1, size - 1, field, &a, &err);
    if (rc == FL_OK) {
        if (fl_array_validate(&a, field, &err) != FL_OK) {
            fprintf(stderr, "fuzz_udf_protocol: a decoded column does not validate: %s\n", err.message);
            abort();
        }
    } else if (rc != FL_ECORRUPT && rc != FL_ENOMEM) {
        fprintf(stderr, "fuzz_udf_protocol: unexpected error code %d: %s\n", rc, err.message);
        abort();
    }
    fl_array_clear(&a);
    return 0;
}
