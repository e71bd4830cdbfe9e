/*
 * output.h — printing batches for the CLI in table, JSON Lines or CSV form.
 */
#ifndef FL_CLI_OUTPUT_H
#define FL_CLI_OUTPUT_H

#include "framelake.h"

#include <stdio.h>

typedef enum output_format { OUTPUT_TABLE, OUTPUT_JSONL, OUTPUT_CSV } output_format;

typedef struct output_options {
    output_format format;
    bool blob_base64;           /* print blobs as base64 instead of "<N bytes hex...>" */
    bool with_row_id;           /* prepend the stable row id as _rowid */
} output_options;

typedef struct output output;

/* Starts printing to f. Batches are printed as they come (table format waits for output_finish). */
output *output_new(FILE *f, const output_options *o);
void output_batch(output *out, const fl_batch *b);
/* Flushes (table format prints here) and frees. */
void output_finish(output *out);

#endif
