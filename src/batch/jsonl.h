/*
 * jsonl.h — JSON Lines inside the batch layer: a row-at-a-time parser against a schema (the engine of
 * fl_batch_from_jsonl and of the importer), schema inference (fl_jsonl_infer_schema in framelake.h) and
 * schemas written as JSON.
 *
 * Invariants:
 *  1. The parser never reads outside [text, text + size) and reports every problem as
 *     "<source>: line <L>, column <C>: <what>" (1-based line, 1-based byte column).
 *  2. A row is appended to every column of the batch or the call fails; after a failure the batch may hold
 *     a half-appended row and must be discarded.
 *  3. The batch layer never touches files: {"$file": ...} values are handed to a callback.
 */
#ifndef FL_BATCH_JSONL_H
#define FL_BATCH_JSONL_H

#include "batch.h"

/*
 * Called for a {"$file": "path"} value of a binary column. It appends exactly one value to `array` and
 * returns FL_OK, or returns an error code with the reason in `why` (the parser adds source, line and
 * column). `path` is the decoded string, NUL-terminated (a path holding a NUL byte is refused before).
 */
typedef int (*fl_jsonl_file_fn)(void *ctx, const char *path, fl_array *array, char *why, size_t why_size);

typedef struct fl_jsonl_options {
    bool ignore_unknown;        /* keys that name no field are skipped instead of an error */
    const char *unknown_what;   /* names the schema in the unknown-key error ("table 'frames'"); NULL: plain */
    bool check_nullable;        /* a NULL (written or missing) in a not-null field is an error at its line */
    bool text_timestamps;       /* timestamp fields also take RFC 3339 strings ("2024-05-01T12:00:00.250Z") */
    fl_jsonl_file_fn file_ref;  /* non-NULL: binary fields also take {"$file": "path"} */
    void *file_ref_ctx;
} fl_jsonl_options;

/* Parser state over one text; initialise with fl_jsonl_cursor_init, release with fl_jsonl_cursor_free. */
typedef struct fl_jsonl_cursor {
    const char *s;              /* the text (not owned) */
    size_t n, pos;              /* its size and the read position */
    size_t line_start;          /* offset of the current line's first byte */
    int64_t line;               /* 1-based line of pos */
    bool multiline;             /* whitespace includes newlines (a JSON document rather than JSON Lines) */
    const char *source;         /* for messages (not owned) */
    const fl_jsonl_options *o;  /* never NULL after init (not owned) */
    fl_error *err;              /* of the running call */
    fl_buf scratch;             /* decoded string bytes */
} fl_jsonl_cursor;

/* `opts` may be NULL (plain fl_batch_from_jsonl behaviour); it must outlive the cursor. */
void fl_jsonl_cursor_init(fl_jsonl_cursor *c, const char *text, size_t size, const char *source, const fl_jsonl_options *opts);
void fl_jsonl_cursor_free(fl_jsonl_cursor *c);
/* Parses the next non-blank line as one row of `batch` (its columns grow by one; the batch is not
 * finished). *got is false, and nothing is appended, when no line is left. */
int fl_jsonl_next_row(fl_jsonl_cursor *c, fl_batch *batch, bool *got, fl_error *err);

/* Parses a schema written as JSON: {"fields": [{"name": "x", "type": "list<float32>", "nullable": true},
 * ...]} or the output of fl_table_info_json (its "schema" array; other keys are ignored). */
int fl_schema_from_json(const char *text, size_t size, const char *source, fl_schema **out, fl_error *err);

/* RFC 3339 date-time ("2024-05-01T12:00:00Z", "2024-05-01 12:00:00.25+02:00") into milliseconds since the
 * epoch (UTC; fractions below a millisecond are dropped, rounding toward earlier times). A time zone is
 * required. False when the text is not one. */
bool fl_parse_rfc3339(const char *s, size_t n, int64_t *ms);

#endif /* FL_BATCH_JSONL_H */
