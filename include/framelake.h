/*
 * framelake.h — the public C API of libframelake, an embedded multimodal lakehouse.
 *
 * A database is a directory holding named tables. A table is a sequence of immutable versions; every write
 * (append, delete, update, add/drop/rename column, compact, restore) is one atomic commit creating version N+1.
 * Rows carry stable 64-bit row ids assigned at append time that survive compaction, updates and restore.
 *
 * Conventions used by every call below:
 *  - A fallible call returns an int code: FL_OK (0) or one of FL_E*. Codes are stable and never renumbered.
 *    When `err` is not NULL it receives the code and a message that says what failed and where.
 *  - "Caller frees" means the result was allocated by the library and must be released with the named
 *    function. Freeing or closing NULL is always a no-op.
 *  - Handles (fl_db, fl_table, fl_scan) are not thread-safe: use one handle from one thread at a time.
 *    Different handles, in one process or many, may read and write the same table concurrently; the
 *    commit protocol serialises writers (optimistic concurrency with rebase, see fl_table_append).
 *  - Strings are NUL-terminated UTF-8.
 */
#ifndef FRAMELAKE_H
#define FRAMELAKE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define FL_VERSION_MAJOR 0
#define FL_VERSION_MINOR 1
#define FL_VERSION_PATCH 0
#define FL_VERSION_STRING "0.1.0"
#define FL_VERSION_NUMBER (FL_VERSION_MAJOR * 10000 + FL_VERSION_MINOR * 100 + FL_VERSION_PATCH)

/* Returns FL_VERSION_STRING of the library actually linked (compare with the header's macro). */
const char *fl_version(void);
/* Returns FL_VERSION_NUMBER of the linked library. */
int fl_version_number(void);

/* ---------------------------------------------------------------------------------------------------------
 * Errors
 * ------------------------------------------------------------------------------------------------------- */

enum {
    FL_OK = 0,
    FL_EINVAL = 1,       /* bad argument or bad user input (schema text, JSON, names) */
    FL_EIO = 2,          /* the operating system refused a read or write */
    FL_ECORRUPT = 3,     /* a file on disk failed validation (checksum, bounds, structure) */
    FL_ENOTFOUND = 4,    /* table, version, tag, column or row id does not exist */
    FL_EEXIST = 5,       /* table, tag or column already exists */
    FL_ECONFLICT = 6,    /* a concurrent commit made this one impossible; nothing was written */
    FL_ENOMEM = 7,       /* allocation failed */
    FL_ETYPE = 8,        /* a value does not fit the column's type */
    FL_EUNSUPPORTED = 9  /* valid request that this build or format version cannot serve */
};

#define FL_ERROR_MESSAGE_SIZE 512

/* Caller-owned error report; may live on the stack. */
typedef struct fl_error {
    int code;                              /* FL_OK or FL_E* */
    char message[FL_ERROR_MESSAGE_SIZE];   /* what and where; "" when code is FL_OK */
} fl_error;

/* Short static name of an error code ("corrupt", "not found", ...). Never NULL. */
const char *fl_strerror(int code);

/* ---------------------------------------------------------------------------------------------------------
 * Types and schemas
 * ------------------------------------------------------------------------------------------------------- */

typedef enum fl_type_id {
    FL_TYPE_BOOL = 1,
    FL_TYPE_INT8 = 2,
    FL_TYPE_INT16 = 3,
    FL_TYPE_INT32 = 4,
    FL_TYPE_INT64 = 5,
    FL_TYPE_UINT8 = 6,
    FL_TYPE_UINT16 = 7,
    FL_TYPE_UINT32 = 8,
    FL_TYPE_UINT64 = 9,
    FL_TYPE_FLOAT32 = 10,
    FL_TYPE_FLOAT64 = 11,
    FL_TYPE_STRING = 12,          /* UTF-8 text */
    FL_TYPE_BINARY = 13,          /* opaque bytes; a top-level binary column is stored as blobs */
    FL_TYPE_TIMESTAMP_MS = 14,    /* int64 milliseconds since the Unix epoch, UTC */
    FL_TYPE_LIST = 15,            /* variable-length list of children[0] */
    FL_TYPE_FIXED_SIZE_LIST = 16, /* exactly fixed_size values of children[0] (float32 or uint8 etc.) */
    FL_TYPE_STRUCT = 17           /* named children */
} fl_type_id;

typedef struct fl_kv {
    char *key;   /* owned by the enclosing schema */
    char *value; /* owned by the enclosing schema */
} fl_kv;

typedef struct fl_field {
    char *name;                 /* column or child name; owned */
    fl_type_id type;
    bool nullable;              /* false: appending a NULL is an FL_ETYPE error */
    int32_t fixed_size;         /* FL_TYPE_FIXED_SIZE_LIST: values per entry; otherwise 0 */
    int32_t id;                 /* stable id assigned by the table (files refer to fields by id); -1 if unset */
    int32_t n_children;         /* LIST and FIXED_SIZE_LIST: 1; STRUCT: >= 1; others: 0 */
    struct fl_field *children;  /* owned array of n_children */
    int32_t n_metadata;
    fl_kv *metadata;            /* free-form key/value pairs; owned */
} fl_field;

typedef struct fl_schema {
    int32_t n_fields;
    fl_field *fields;           /* owned array of n_fields top-level columns */
    int32_t n_metadata;
    fl_kv *metadata;            /* table-level key/value pairs; owned */
} fl_schema;

/*
 * Parses a schema from text: comma-separated `name type [not null]` entries, for example
 *   "image_id string not null, image_bytes binary, width int32, ann_bboxes list<list<float32>>,
 *    emb fixed_size_list<float32, 512>, pos struct<x: float32, y: float32>, ts timestamp"
 * Type names: bool, int8..int64, uint8..uint64, float32 (float), float64 (double), string (utf8), binary
 * (blob), timestamp (timestamp_ms), list<T>, fixed_size_list<T, N>, struct<name: T, ...>. Names may be
 * "double quoted". On success *out is a new schema the caller frees with fl_schema_free.
 */
int fl_schema_parse(const char *text, fl_schema **out, fl_error *err);
/* Formats a schema in the syntax fl_schema_parse accepts. Caller frees the string with free(). */
char *fl_schema_format(const fl_schema *schema);
/* Formats one type ("list<float32>"). Caller frees with free(). */
char *fl_field_type_format(const fl_field *field);
/* Deep copy; caller frees with fl_schema_free. Returns NULL on allocation failure. */
fl_schema *fl_schema_copy(const fl_schema *schema);
void fl_schema_free(fl_schema *schema);
/* Index of the top-level field named `name`, or -1. */
int fl_schema_find(const fl_schema *schema, const char *name);
/* Sets (or replaces) a metadata key on a field or schema. Returns FL_OK or FL_ENOMEM. */
int fl_field_set_metadata(fl_field *field, const char *key, const char *value);
int fl_schema_set_metadata(fl_schema *schema, const char *key, const char *value);
/* Value of a metadata key, or NULL. The pointer lives as long as the field. */
const char *fl_field_get_metadata(const fl_field *field, const char *key);
const char *fl_schema_get_metadata(const fl_schema *schema, const char *key);

/* ---------------------------------------------------------------------------------------------------------
 * Arrays and batches: the one unit of data that moves between every layer
 *
 * An fl_array is a column of `length` values laid out like Arrow (offset 0): an optional validity bitmap
 * (bit i set = value i present, LSB first; NULL means no nulls), fixed-width `values`, or `offsets`
 * (length + 1 int64 entries) into `values` bytes (STRING, BINARY) or into children[0] (LIST). A
 * FIXED_SIZE_LIST has children[0] of length * fixed_size; a STRUCT has one child per field, each of
 * `length`. BOOL values are a bitmap. All buffers are owned by the array.
 * ------------------------------------------------------------------------------------------------------- */

typedef struct fl_array {
    fl_type_id type;
    int32_t fixed_size;         /* FIXED_SIZE_LIST only */
    int64_t length;
    int64_t null_count;
    uint8_t *validity;          /* NULL when null_count == 0 */
    void *values;               /* fixed-width values, BOOL bitmap, or STRING/BINARY bytes */
    int64_t *offsets;           /* STRING, BINARY, LIST: length + 1 entries, offsets[0] == 0 */
    int32_t n_children;
    struct fl_array *children;
    /* private: capacities of the buffers above, used by the append functions */
    int64_t cap_values;         /* bytes */
    int64_t cap_offsets;        /* entries */
    int64_t cap_validity;       /* bytes */
} fl_array;

typedef struct fl_batch {
    fl_schema *schema;          /* owned; field i describes columns[i] */
    int64_t num_rows;
    int32_t n_columns;
    fl_array *columns;          /* owned array of n_columns */
    uint64_t *row_ids;          /* optional (NULL): stable row id of each row; owned */
} fl_batch;

/* New empty batch whose columns follow `schema` (copied). Caller frees with fl_batch_free. NULL on OOM. */
fl_batch *fl_batch_new(const fl_schema *schema);
void fl_batch_free(fl_batch *batch);
/* Checks that every column has the same length and the types match the schema, then sets num_rows. */
int fl_batch_finish(fl_batch *batch, fl_error *err);
/* Column by name, or NULL. */
fl_array *fl_batch_column(const fl_batch *batch, const char *name);
/* Copies n ids into batch->row_ids (n must equal the row count when the batch is used). */
int fl_batch_set_row_ids(fl_batch *batch, const uint64_t *row_ids, size_t n);

/*
 * Append one value to an array. Integer appends are range-checked against the array's type (FL_ETYPE on
 * overflow); fl_array_append_int also serves TIMESTAMP_MS. For LIST append the elements to children[0]
 * and then call fl_array_end_list; FIXED_SIZE_LIST likewise (exactly fixed_size elements); STRUCT: append
 * one value to each child, then fl_array_end_struct. fl_array_append_null works for every type (for
 * LIST/FSL/STRUCT it also pads children as needed).
 */
int fl_array_append_null(fl_array *array);
int fl_array_append_bool(fl_array *array, bool value);
int fl_array_append_int(fl_array *array, int64_t value);
int fl_array_append_uint(fl_array *array, uint64_t value);
int fl_array_append_float(fl_array *array, double value);
int fl_array_append_bytes(fl_array *array, const void *data, size_t size);
int fl_array_append_string(fl_array *array, const char *text);
int fl_array_end_list(fl_array *array);
int fl_array_end_struct(fl_array *array);
/* Appends value `index` of `src` (same type) to `dst`, recursively. */
int fl_array_append_from(fl_array *dst, const fl_array *src, int64_t index);

/* Reading values. The index must be < length; the getters do not check the type beyond what they say. */
bool fl_array_is_null(const fl_array *array, int64_t index);
bool fl_array_get_bool(const fl_array *array, int64_t index);
int64_t fl_array_get_int(const fl_array *array, int64_t index);     /* any signed int type, timestamp */
uint64_t fl_array_get_uint(const fl_array *array, int64_t index);   /* any unsigned int type */
double fl_array_get_float(const fl_array *array, int64_t index);    /* float32/64, or any integer */
/* STRING/BINARY: pointer into the array's buffer (valid while the array lives) and its size. */
const uint8_t *fl_array_get_bytes(const fl_array *array, int64_t index, size_t *size);
/* LIST: the element range [*start, *end) in children[0]; FIXED_SIZE_LIST likewise. */
void fl_array_get_list(const fl_array *array, int64_t index, int64_t *start, int64_t *end);

/* Arrow C Data Interface (https://arrow.apache.org/docs/format/CDataInterface.html). */
#ifndef ARROW_C_DATA_INTERFACE
#define ARROW_C_DATA_INTERFACE
#define ARROW_FLAG_DICTIONARY_ORDERED 1
#define ARROW_FLAG_NULLABLE 2
#define ARROW_FLAG_MAP_KEYS_SORTED 4
struct ArrowSchema {
    const char *format;
    const char *name;
    const char *metadata;
    int64_t flags;
    int64_t n_children;
    struct ArrowSchema **children;
    struct ArrowSchema *dictionary;
    void (*release)(struct ArrowSchema *);
    void *private_data;
};
struct ArrowArray {
    int64_t length;
    int64_t null_count;
    int64_t offset;
    int64_t n_buffers;
    int64_t n_children;
    const void **buffers;
    struct ArrowArray **children;
    struct ArrowArray *dictionary;
    void (*release)(struct ArrowArray *);
    void *private_data;
};
#endif

/*
 * Exports a finished batch as an Arrow struct array (one child per column) without copying buffers.
 * The batch is consumed: on success and on failure the caller must not use or free it again. The caller
 * owns the two exported structures and calls their release callbacks. STRING/BINARY/LIST export as
 * Arrow large types (U, Z, +L); TIMESTAMP_MS as tsm:.
 */
int fl_batch_export_arrow(fl_batch *batch, struct ArrowSchema *out_schema, struct ArrowArray *out_array,
                          fl_error *err);

/* ---------------------------------------------------------------------------------------------------------
 * Databases and tables
 * ------------------------------------------------------------------------------------------------------- */

typedef struct fl_db fl_db;
typedef struct fl_table fl_table;
typedef struct fl_scan fl_scan;

#define FL_OPEN_CREATE 1  /* create the database directory if absent */

/* Opens a database directory. Caller closes with fl_db_close (after closing its tables). */
int fl_db_open(const char *path, int flags, fl_db **out, fl_error *err);
void fl_db_close(fl_db *db);
/* Names of the tables, sorted. Caller frees with fl_strings_free(names, n). */
int fl_db_list_tables(fl_db *db, char ***names, size_t *n, fl_error *err);
void fl_strings_free(char **strings, size_t n);

/* Creates table `name` (letters, digits, '_', '-', '.'; not starting with '.') at version 1. The handle
 * returned in *out (may be NULL if unwanted) is closed with fl_table_close. FL_EEXIST if it exists. */
int fl_table_create(fl_db *db, const char *name, const fl_schema *schema, fl_table **out, fl_error *err);
/* Deletes a table directory and everything in it. */
int fl_table_drop(fl_db *db, const char *name, fl_error *err);

typedef struct fl_open_options {
    uint64_t version;           /* 0: latest */
    const char *tag;            /* non-NULL: open the version this tag names (version must be 0) */
} fl_open_options;

/* Opens a table at the latest version, or as `opts` says (opts may be NULL). */
int fl_table_open(fl_db *db, const char *name, const fl_open_options *opts, fl_table **out, fl_error *err);
/* Releases the handle; the fl_db must outlive its tables. */
void fl_table_close(fl_table *table);
/* Moves the handle to `version` (0: the latest committed version). */
int fl_table_checkout(fl_table *table, uint64_t version, fl_error *err);
/* Version the handle reads. */
uint64_t fl_table_version(const fl_table *table);
/* The latest committed version on storage (reads it; does not move the handle). */
int fl_table_latest_version(fl_table *table, uint64_t *out, fl_error *err);
/* Schema of the handle's version; owned by the handle, valid until its next checkout or write. */
const fl_schema *fl_table_schema(const fl_table *table);
const char *fl_table_name(const fl_table *table);
/* Live (not deleted) rows at the handle's version. Reads only the manifest. */
int64_t fl_table_count_rows(const fl_table *table);

/*
 * Writes. Each call is one atomic commit on top of the handle's version: new files are written and
 * synced, then manifest N+1 is created with create-if-absent. If another writer committed first, the
 * commit is rebased when the operations commute (append/append, append/add column, writes to disjoint
 * fragments) and fails with FL_ECONFLICT otherwise, leaving no trace but unreferenced files that
 * fl_table_cleanup removes. On success the handle moves to the new version.
 */

typedef struct fl_write_options {
    int64_t max_rows_per_fragment;  /* 0: 1048576 */
} fl_write_options;

/* Appends the rows of a finished batch (its columns are matched to the table's by name; missing nullable
 * columns are NULL). New rows get consecutive row ids. An empty batch commits nothing. `opts` may be NULL. */
int fl_table_append(fl_table *table, const fl_batch *batch, const fl_write_options *opts, fl_error *err);
/* Deletes rows by stable id. Unknown or already-deleted ids are FL_ENOTFOUND (nothing is committed). */
int fl_table_delete_rows(fl_table *table, const uint64_t *row_ids, size_t n, fl_error *err);
/* Replaces cell values: batch->row_ids names the rows, its columns (by name) the new values. Row ids
 * keep their identity; only the named columns of the touched fragments are rewritten. */
int fl_table_update(fl_table *table, const fl_batch *batch, fl_error *err);
/*
 * Adds columns (all nullable) without rewriting existing data files. With `values` NULL the new columns
 * read as NULL; otherwise `values` (with row_ids) supplies values for some rows, written as new files of
 * the fragments they belong to, in the same commit. Table-level metadata entries of `columns` are set on
 * the table in that commit too (how a column is computed is declared atomically with the column).
 */
int fl_table_add_columns(fl_table *table, const fl_schema *columns, const fl_batch *values, fl_error *err);
int fl_table_drop_columns(fl_table *table, const char *const *names, size_t n, fl_error *err);
int fl_table_rename_column(fl_table *table, const char *from, const char *to, fl_error *err);
/* Sets table-level metadata keys (value NULL removes the key) in one commit. */
int fl_table_set_metadata(fl_table *table, const char *const *keys, const char *const *values, size_t n,
                          fl_error *err);

typedef struct fl_compact_options {
    int64_t target_rows_per_fragment;   /* 0: 1048576 */
    double max_deleted_fraction;        /* fragments with more deleted rows than this are rewritten; 0: 0.1 */
} fl_compact_options;
typedef struct fl_compact_stats {
    int64_t fragments_removed;
    int64_t fragments_added;
    int64_t rows_rewritten;
    int64_t deleted_rows_dropped;
} fl_compact_stats;
/* Merges small fragments and drops deleted rows, keeping every row id. No commit if nothing to do
 * (stats all zero). `opts` and `stats` may be NULL. */
int fl_table_compact(fl_table *table, const fl_compact_options *opts, fl_compact_stats *stats, fl_error *err);

/* Makes a new version whose rows, schema and metadata equal those of `version`. */
int fl_table_restore(fl_table *table, uint64_t version, fl_error *err);

typedef struct fl_cleanup_options {
    int64_t older_than_ms;      /* versions committed less than this long ago are kept (-1: age keeps nothing) */
    int64_t keep_versions;      /* always keep the newest N versions (0: only the latest) */
    int64_t grace_ms;           /* kept: unreferenced files younger than this and versions superseded less than
                                   this long ago, because commits in flight may still need them; -1: 1 hour.
                                   0 is safe only while no other process writes the table. */
} fl_cleanup_options;
typedef struct fl_cleanup_stats {
    int64_t versions_removed;
    int64_t files_removed;
    int64_t bytes_removed;
} fl_cleanup_stats;
/* Deletes old manifests (never the latest, never a tagged one, never one superseded within the grace period)
 * and every file no kept version references. */
int fl_table_cleanup(fl_table *table, const fl_cleanup_options *opts, fl_cleanup_stats *stats, fl_error *err);

/* Tags name a version (letters, digits, '_', '-', '.'). FL_EEXIST if the tag exists. */
int fl_table_tag(fl_table *table, const char *name, uint64_t version, fl_error *err);
int fl_table_untag(fl_table *table, const char *name, fl_error *err);
typedef struct fl_tag_info {
    char *name;
    uint64_t version;
} fl_tag_info;
/* Caller frees with fl_tags_free. Sorted by name. */
int fl_table_list_tags(fl_table *table, fl_tag_info **tags, size_t *n, fl_error *err);
void fl_tags_free(fl_tag_info *tags, size_t n);

typedef struct fl_version_info {
    uint64_t version;
    int64_t timestamp_ms;
    char operation[32];         /* "create", "append", "delete", "update", ... */
    char detail[128];           /* short human description ("+1000 rows") */
    int64_t num_rows;           /* live rows at that version */
} fl_version_info;
/* Every version still on storage, ascending. Caller frees *versions with free(). */
int fl_table_list_versions(fl_table *table, fl_version_info **versions, size_t *n, fl_error *err);

typedef struct fl_table_stats {
    int64_t fragments;
    int64_t data_files;
    int64_t data_bytes;         /* sum of the data files' sizes */
    int64_t deleted_rows;       /* rows deleted but not yet compacted away */
    int64_t deletion_files;
} fl_table_stats;
/* Totals of the handle's version, from the manifest alone. */
void fl_table_get_stats(const fl_table *table, fl_table_stats *stats);

/* Describes the handle's version as JSON: name, version, rows, schema, fragments with their files and
 * sizes, deletion files, indexes. Caller frees *json with free(). */
int fl_table_info_json(fl_table *table, char **json, fl_error *err);

/* ---------------------------------------------------------------------------------------------------------
 * Reading
 * ------------------------------------------------------------------------------------------------------- */

typedef struct fl_scan_options {
    const char *const *columns; /* projection by name; NULL: every column */
    size_t n_columns;
    int64_t batch_size;         /* rows per batch; 0: 8192 */
    int64_t offset;             /* skip this many live rows */
    int64_t limit;              /* with limit_set: at most this many rows (negative: no limit) */
    bool limit_set;             /* false: no limit (so a zeroed struct means "everything", and 0 is expressible) */
    bool with_row_ids;          /* fill fl_batch.row_ids */
} fl_scan_options;

/* Starts a scan of the handle's version in storage order. `opts` may be NULL. The table handle must
 * outlive the scan and must not be checked out or written while the scan is open. */
int fl_scan_open(fl_table *table, const fl_scan_options *opts, fl_scan **out, fl_error *err);
/* Next batch (caller frees with fl_batch_free), or *out = NULL at the end. */
int fl_scan_next(fl_scan *scan, fl_batch **out, fl_error *err);
void fl_scan_close(fl_scan *scan);

/* Rows by stable id, in the order given (duplicates allowed). Unknown or deleted ids: FL_ENOTFOUND.
 * `columns` as in fl_scan_options. The batch has row_ids filled. Caller frees with fl_batch_free. */
int fl_table_take(fl_table *table, const uint64_t *row_ids, size_t n, const char *const *columns,
                  size_t n_columns, fl_batch **out, fl_error *err);
/* Rows by position among live rows in scan order (0-based). */
int fl_table_take_positions(fl_table *table, const uint64_t *positions, size_t n, const char *const *columns,
                            size_t n_columns, fl_batch **out, fl_error *err);

/* ---------------------------------------------------------------------------------------------------------
 * JSON rows (used by the CLI's append and query; issue-level importers build on it)
 * ------------------------------------------------------------------------------------------------------- */

/* Parses JSON Lines text (one object per line) into a batch following `schema`. Binary values are base64
 * strings; timestamps are integers (ms). Errors name the line and byte column. Caller frees *out. */
int fl_batch_from_jsonl(const fl_schema *schema, const char *text, size_t size, const char *source_name,
                        fl_batch **out, fl_error *err);

/* ---------------------------------------------------------------------------------------------------------
 * Query: SQL filters, SELECT statements, scalar indexes, update and delete by predicate (src/query,
 * src/index). Filters use the dialect of docs/SQL.md; errors are FL_EINVAL with the 1-based position in the
 * text ("position 12: column \"has_persn\" not found; did you mean \"has_person\"?").
 * ------------------------------------------------------------------------------------------------------- */

/* Number of live rows of the handle's version where `where` (a SQL boolean expression; NULL or "": every
 * row) is true. */
int fl_table_count_where(fl_table *table, const char *where, int64_t *count, fl_error *err);

/* Deletes the rows where `where` is true, as one commit (no commit when nothing matches). *deleted (may
 * be NULL) receives the count. */
int fl_table_delete_where(fl_table *table, const char *where, int64_t *deleted, fl_error *err);

/* Sets columns on the rows where `where` (NULL: every row) is true, as one commit that preserves row ids.
 * `set` is "col = expr, col2 = expr2"; the expressions are evaluated on the row's values before the
 * update. *updated (may be NULL) receives the count. */
int fl_table_update_where(fl_table *table, const char *set, const char *where, int64_t *updated, fl_error *err);

/* Adds column `name` computed from a SQL expression over the row's other columns (`array_has_any(
 * ann_categories, ['pedestrian', 'other person'])`, `width * height`), values for every live row, in one
 * commit that rewrites no existing data file. The column's type follows the expression (integers
 * int64, floats float64, strings, booleans, timestamps, lists); the definition is kept in the field's
 * metadata ("expr"). A constant NULL must be CAST to give it a type. */
int fl_table_add_expr_column(fl_table *table, const char *name, const char *expr, fl_error *err);

/* A stream of result batches (rows of a query or a SQL statement). Single-threaded like every handle. */
typedef struct fl_cursor fl_cursor;

typedef struct fl_query_options {
    const char *where;          /* SQL boolean expression; NULL or "": every row */
    const char *const *columns; /* output columns by name, in this order; NULL: every column */
    size_t n_columns;
    const char *order_by;       /* "col [ASC|DESC] [NULLS FIRST|LAST], ..." (expressions allowed); NULL: storage order */
    int64_t offset;             /* rows to skip (after ordering); must not be negative */
    int64_t limit;              /* with limit_set: at most this many rows (negative: no limit) */
    bool limit_set;
    bool with_row_ids;          /* fill fl_batch.row_ids */
    int64_t batch_size;         /* 0: 8192 */
} fl_query_options;

/*
 * Rows of the handle's version matching opts->where, projected to opts->columns (which keep their stored
 * types), ordered by opts->order_by (ties keep storage order), then windowed by offset and limit. `opts`
 * may be NULL (every row and column). Errors in the texts are FL_EINVAL naming the option and the position
 * in its text ("where: column \"idd\" not found; did you mean \"id\"? (position 1)"); unknown output
 * columns are FL_ENOTFOUND. The cursor streams: without order_by it reads the table only as far as the
 * caller pulls. The handle must outlive the cursor and must not be checked out or written while it is
 * open. On success the caller closes *out with fl_cursor_close.
 */
int fl_table_query(fl_table *table, const fl_query_options *opts, fl_cursor **out, fl_error *err);

typedef struct fl_sql_options {
    uint64_t version;           /* with version_set: read this version of the FROM table */
    bool version_set;
    const char *tag;            /* or this tag's version */
} fl_sql_options;

/*
 * Runs one SELECT statement (docs/SQL.md) on one table of `db`: "FROM t", "FROM t@7" (version 7), or one
 * subquery in FROM. `opts` (may be NULL) chooses the version otherwise; naming one both ways is an error.
 * Refused statements and clauses, unknown tables, columns and functions, type errors and misplaced
 * aggregates are FL_EINVAL (FL_ENOTFOUND for tables and versions) with the 1-based position in `sql`. The
 * cursor owns the table handle it opened; `db` must outlive it. On success the caller closes *out with
 * fl_cursor_close.
 */
int fl_sql(fl_db *db, const char *sql, const fl_sql_options *opts, fl_cursor **out, fl_error *err);
/* The plan of a SELECT statement as indented text, one operator per line; with `analyze` the statement runs
 * first and each line gets its row count, the scan its counters (fragments and pages pruned, index used,
 * rows read and matched). Caller frees *text with free(). */
int fl_sql_explain(fl_db *db, const char *sql, const fl_sql_options *opts, bool analyze, char **text, fl_error *err);

/* The schema of the cursor's batches (owned by the cursor, valid until fl_cursor_close). */
const fl_schema *fl_cursor_schema(const fl_cursor *cursor);
/* Next batch (never empty; caller frees with fl_batch_free), or *out = NULL at the end. An error while
 * producing rows (integer overflow) ends the cursor: this call and every later one return it. */
int fl_cursor_next(fl_cursor *cursor, fl_batch **out, fl_error *err);
/* Frees the cursor, its plan and what it owns; NULL is a no-op. */
void fl_cursor_close(fl_cursor *cursor);

/* Scalar indexes. Types: "btree" (equality and ranges on numbers, strings, timestamps), "bitmap" (few
 * distinct values: strings, integers, booleans), "label_list" (array_has/array_has_any/array_has_all on
 * list<string>). Building one is a commit; it covers the fragments of that version, and rows in newer or
 * rewritten fragments are found by scanning, so query results never depend on indexes. */
typedef struct fl_index_info {
    char *name;
    char *type;
    char *column;
    uint64_t created_version;
    uint32_t fragments_covered;
    uint32_t fragments_total;   /* fragments of the handle's version */
} fl_index_info;

/* Builds an index on `column`; `name` NULL: "<column>_idx". FL_EEXIST if the name is taken. Types:
 * btree, bitmap, label_list, and fts (full-text, on a string column; used by fl_fts_search). */
int fl_index_create(fl_table *table, const char *column, const char *type, const char *name, fl_error *err);
/* The same with parameters. fts: stem (english|none), stopwords (english|none), positions (true|false,
 * needed for phrases to be answered from the index); the defaults are none, none, false. Other kinds take
 * none. */
int fl_index_create_with(fl_table *table, const char *column, const char *type, const char *name, const fl_kv *params, size_t n_params,
                         fl_error *err);
/* Extends an index to the fragments added or rewritten since it was built (one commit; none if current). */
int fl_index_update(fl_table *table, const char *name, fl_error *err);
int fl_index_drop(fl_table *table, const char *name, fl_error *err);
int fl_index_list(fl_table *table, fl_index_info **indexes, size_t *n, fl_error *err);
void fl_index_info_free(fl_index_info *indexes, size_t n);

/* ---------------------------------------------------------------------------------------------------------
 * Ingest: footage into a table (JPEG folders, BDD100K folders and zips, synthetic fleet footage)
 * ------------------------------------------------------------------------------------------------------- */

/* fl_ingest_options.mode: what to do with a frame whose image_id the table already holds. */
enum {
    FL_INGEST_SKIP_EXISTING = 0, /* leave the table's row, skip the frame (default) */
    FL_INGEST_APPEND = 1,        /* add the frame anyway (the table may then hold the id twice) */
    FL_INGEST_OVERWRITE = 2      /* add the frame and delete the table's rows with that id */
};

/* What happened to an input that was not added as given; passed to fl_ingest_options.on_file. */
typedef enum fl_ingest_outcome {
    FL_INGEST_SKIPPED_EXISTING = 1, /* its image_id is already in the table (skip-existing mode) */
    FL_INGEST_DUPLICATE = 2,        /* an earlier input of this run had the same image_id */
    FL_INGEST_FAILED = 3,           /* unreadable, not a JPEG, or a broken JPEG header: not added */
    FL_INGEST_MISSING = 4,          /* a label entry whose image does not exist: not added */
    FL_INGEST_LABEL_SKIPPED = 5     /* one annotation was dropped (unknown category, degenerate box, ...);
                                       the frame itself is added */
} fl_ingest_outcome;

/* Called once per input not added as given. `message` names the file and the reason ("dir/a.jpg: byte 0:
 * not a JPEG (no SOI marker)"); both strings are valid only during the call. */
typedef void (*fl_ingest_file_fn)(void *ctx, fl_ingest_outcome outcome, const char *path, const char *message);

typedef struct fl_ingest_progress {
    int64_t done;               /* inputs taken so far (added, skipped or failed) */
    int64_t total;              /* inputs expected in all, or -1 when not known in advance */
    int64_t added, bytes_added; /* rows and image bytes added so far (committed or pending) */
    bool finished;              /* the last call of a run */
} fl_ingest_progress;
/* Called from the thread that called the ingest function, after every input and once at the end. */
typedef void (*fl_ingest_progress_fn)(void *ctx, const fl_ingest_progress *progress);

typedef struct fl_ingest_options {
    int mode;                   /* FL_INGEST_SKIP_EXISTING (0), FL_INGEST_APPEND or FL_INGEST_OVERWRITE */
    bool strict;                /* any failed, missing or duplicate input, or skipped label, is an error,
                                   reported before anything is committed (the table is not even created) */
    int64_t commit_every;       /* > 0: commit after every N added rows; 0: one commit per run (see below) */
    int64_t max_batch_bytes;    /* image bytes held in memory before a commit is forced; 0: 256 MiB */
    int threads;                /* worker threads reading/checking/rendering frames; 0: one per core */
    int64_t limit;              /* > 0: add at most this many rows (existing ids skipped do not count), so
                                   repeated runs with a limit continue where the last one stopped */
    /* image folders (fl_ingest_images) */
    const char *split;          /* value of the split column of every added row; NULL: NULL */
    bool recursive;             /* descend into subdirectories */
    /* BDD100K (fl_ingest_bdd100k) */
    const char *splits;         /* comma-separated subset of "train,val,test"; NULL: all three */
    fl_ingest_file_fn on_file;  /* optional: told about every input not added as given */
    void *on_file_ctx;
    fl_ingest_progress_fn on_progress; /* optional */
    void *on_progress_ctx;
} fl_ingest_options;

typedef struct fl_ingest_report {
    int64_t added;              /* rows committed */
    int64_t skipped;            /* inputs whose image_id was already in the table (skip-existing mode) */
    int64_t duplicates;         /* inputs whose image_id an earlier input of this run had */
    int64_t failed;             /* unreadable or broken images */
    int64_t missing;            /* label entries whose image does not exist */
    int64_t labels_skipped;     /* annotations dropped (the frame was added) */
    int64_t unlabeled;          /* BDD100K: images of a labelled split without a label entry (added with
                                   NULL attributes and empty annotations) */
    int64_t bytes_added;        /* image bytes committed */
    int64_t commits;            /* versions this run created (appends, overwrite deletes, table creation) */
    uint64_t version;           /* the table's version when the run ended */
} fl_ingest_report;

/*
 * Commits (every ingest function): rows are appended in one commit at the end, unless commit_every rows
 * or max_batch_bytes of image bytes accumulate first, in which case each such batch is its own commit (so
 * memory is bounded by the batch, and a huge run makes several versions). A run that dies leaves the table
 * at its last completed commit; running it again in skip-existing mode finishes the job without
 * duplicates. Overwrite mode appends a batch first and then deletes the replaced rows (two commits per
 * batch): readers may briefly see both, but never neither. Existing image_ids are found by scanning the
 * image_id column once; their set is held in memory. A missing table is created with the source's columns;
 * an existing one must have at least those columns with those types, and its other columns must be
 * nullable (they are filled NULL). Problems are counted in the report, told to on_file and skipped; with
 * `strict` the first one ends the run with its error before anything is committed (a run that would
 * commit more than once checks every input first). `opts` and `report` may be NULL. On error the report
 * still holds what was committed.
 */

/*
 * Ingests every file of `dir` ending in .jpg or .jpeg (any case; names starting with '.' are ignored),
 * one row per image:
 *   image_id string not null   the file name without its extension (the key)
 *   split string               opts->split
 *   image_bytes binary         the file's bytes exactly as on disk
 *   width int32, height int32  from the JPEG frame header (never assumed)
 *   source string              the file's path (`dir` + "/" + relative path)
 * Files are taken in byte order of their names (a subdirectory's files where its name sorts), so runs are
 * deterministic; the first file with a given image_id wins and later ones count as duplicates.
 */
int fl_ingest_images(fl_db *db, const char *table, const char *dir, const fl_ingest_options *opts,
                     fl_ingest_report *report, fl_error *err);

/* The columns of an annotated footage table (BDD100K and synthetic ingest), in the schema text syntax. */
#define FL_FOOTAGE_SCHEMA                                                                                         \
    "image_id string not null, split string, image_bytes binary, width int32, height int32, weather string, "     \
    "scene string, timeofday string, timestamp int64, ann_categories list<string>, "                              \
    "ann_bboxes list<list<float32>>, ann_occluded list<bool>, ann_truncated list<bool>, "                         \
    "ann_traffic_light_colors list<string>, num_annotations int32, source string"

/*
 * Ingests a BDD100K download (docs/INGEST.md) into a table with FL_FOOTAGE_SCHEMA. `root` is either the
 * extracted layout (images/100k/{train,val,test}/NAME.jpg, labels/det_20/det_{train,val}.json, or the older
 * bdd100k_labels_images_{train,val}.json under labels/) or a directory holding the downloaded zips
 * (bdd100k_images_100k.zip, bdd100k_det_20_labels_trainval.zip or bdd100k_labels_release.zip), whose
 * members are read in place. Per split: the label file's frames in file order (streamed: memory does not
 * grow with its size), then that split's images without a label entry in name order (counted as
 * unlabeled). Test-split frames have no labels: empty lists, NULL attributes. Categories are stored in
 * det_20 naming (person→pedestrian, bike→bicycle, motor→motorcycle).
 */
int fl_ingest_bdd100k(fl_db *db, const char *table, const char *root, const fl_ingest_options *opts,
                      fl_ingest_report *report, fl_error *err);

/* fl_synthetic_options.split */
enum { FL_SYNTHETIC_TRAIN = 0, FL_SYNTHETIC_VAL = 1, FL_SYNTHETIC_MIXED = 2 };

typedef struct fl_synthetic_options {
    int64_t n;                  /* frames to add */
    uint64_t seed;
    int32_t width, height;      /* 0: 1280x720 */
    int split;                  /* FL_SYNTHETIC_TRAIN, _VAL or _MIXED (whole clips: ~70% train, 20% val, 10% test) */
    int quality;                /* JPEG quality; 0: 85 */
} fl_synthetic_options;

/*
 * Renders `syn->n` synthetic dashcam frames (docs/SYNTHETIC.md) into a table with FL_FOOTAGE_SCHEMA. The
 * frames of a seed form one endless deterministic stream; a run continues it after the highest frame
 * index of that seed already in the table, so running again appends new, non-colliding image_ids ("new
 * footage arrives"), and the same seed into an empty table always gives the same rows. Test-split frames
 * are stored without annotations, as in BDD100K.
 */
int fl_ingest_synthetic(fl_db *db, const char *table, const fl_synthetic_options *syn, const fl_ingest_options *opts,
                        fl_ingest_report *report, fl_error *err);

/*
 * Writes frames [first, first + syn->n) of the synthetic stream as an extracted BDD100K folder under
 * `dir`: images/100k/<split>/<image_id>.jpg and labels/det_20/det_{train,val}.json (test frames have no
 * label entry). The folder must not exist yet. Used by tests and benchmarks of fl_ingest_bdd100k.
 */
int fl_synthetic_export(const char *dir, const fl_synthetic_options *syn, uint64_t first, int threads, fl_error *err);

/* ---------------------------------------------------------------------------------------------------------
 * Compute: UDF columns and backfill (docs/COMPUTE.md)
 * ------------------------------------------------------------------------------------------------------- */

/* The built-in UDFs: count, and the i-th one's name, default input columns with types ("ann_categories
 * list<string>"), output type, version and description. Returns false when i is out of range. */
int fl_udf_count(void);
bool fl_udf_info(int i, const char **name, const char **inputs, const char **output_type, int *version,
                 const char **description);

/*
 * A UDF is named by a spec: a built-in ("dhash"), a C plugin ("path/lib.so:symbol", docs/PLUGINS.md) or an
 * external worker process ("exec:python3 worker.py", docs/UDF_PROTOCOL.md).
 */
typedef struct fl_udf_column_options {
    const char *inputs;         /* the table columns fed to the UDF, comma-separated, one per declared input
                                   in order; NULL: the UDF's own input names */
    const char *type;           /* the output type the caller expects ("float32"); NULL: the UDF's. A type
                                   other than the UDF's is an error */
    const char *const *param_keys; /* --param k=v, passed to the UDF's init (a model path, a threshold) */
    const char *const *param_values;
    size_t n_params;
    int timeout_ms;             /* external workers: handshake timeout; 0: 60000 */
    const char *where;          /* a standing SQL filter: only rows where it holds are ever computed (a
                                   detector for frames without labels: "split = 'test'"); NULL: every row */
} fl_udf_column_options;

/*
 * Declares `column` of `table` as computed by `udf`: checks that the input columns exist with the types the
 * UDF declares, then adds the column (nullable, every value NULL, no data rewritten) and its definition —
 * table metadata udf.<column>.name (the spec), .version, .inputs, .params, .where — in one commit. Values come
 * from fl_backfill. `opts` may be NULL.
 */
int fl_table_add_udf_column(fl_db *db, const char *table, const char *column, const char *udf,
                            const fl_udf_column_options *opts, fl_error *err);

typedef struct fl_backfill_options {
    int64_t checkpoint_rows;    /* at most this many computed rows are uncommitted at any time; each commit
                                   is one atomic version updating only this column; 0: 10000 */
    bool overwrite;             /* recompute every row, not only the NULL ones */
    bool on_error_null;         /* a row the UDF fails on gets NULL and is counted; false: the backfill stops
                                   with the row id, and nothing of the unfinished checkpoint is committed */
    const char *where;          /* SQL filter: only rows where it is true are computed (NULL: every row) */
    int concurrency;            /* workers: threads, each with its own UDF state (one process each for
                                   external workers); 0: 1 */
    int timeout_ms;             /* external workers: a batch taking longer is a hang; 0: 60000 */
    /* Optional, from the calling thread, at most every 200 ms and at the end: rows computed so far of the
     * rows to compute. */
    void (*on_progress)(void *ctx, int64_t done, int64_t total);
    void *on_progress_ctx;
} fl_backfill_options;

typedef struct fl_backfill_report {
    int64_t computed;           /* rows the UDF computed (and committed) */
    int64_t skipped;            /* live rows not computed: they had a value, or --where excluded them */
    int64_t failed;             /* rows set NULL because the UDF failed on them (on_error_null) */
    int64_t checkpoints;        /* update commits */
    bool added;                 /* the column was created by this call */
    bool stale;                 /* the column was computed by another version of the UDF: all rows recomputed */
    uint64_t version;           /* the table's version at the end */
    double seconds;             /* wall time */
} fl_backfill_report;

/*
 * Computes `column` of `table` for the rows where it is NULL (all rows with overwrite, or when the UDF's
 * version differs from the one that computed the column: stale) and `where` holds. `udf` NULL: the
 * column's declared definition (fl_table_add_udf_column); otherwise a spec that must match the declared
 * one — a missing column is first declared with the UDF's defaults. Values are committed as cell updates of
 * that column only, at most checkpoint_rows rows at risk at any time, so a killed backfill keeps its
 * committed checkpoints and running it again computes only what is still NULL. Rows appended while it
 * runs stay NULL until the next backfill. `opts` and `report` may be NULL.
 */
int fl_backfill(fl_db *db, const char *table, const char *column, const char *udf, const fl_backfill_options *opts,
                fl_backfill_report *report, fl_error *err);

/*
 * Backfills every UDF column of the table in dependency order (a column whose inputs include another UDF
 * column comes after it), each as fl_backfill(..., NULL, opts, ...). on_column (optional) is called before
 * each column (report NULL) and after it. Stops at the first error, which names the column.
 */
int fl_backfill_all(fl_db *db, const char *table, const fl_backfill_options *opts,
                    void (*on_column)(void *ctx, const char *column, const fl_backfill_report *report), void *ctx,
                    fl_error *err);

/* ---------------------------------------------------------------------------------------------------------
 * Vector search (docs/SEARCH.md)
 * ------------------------------------------------------------------------------------------------------- */

enum { FL_METRIC_L2 = 0, FL_METRIC_COSINE = 1, FL_METRIC_DOT = 2, FL_METRIC_HAMMING = 3 };

typedef struct fl_vector_query {
    const char *column;         /* fixed_size_list<float32, N> (l2, cosine, dot) or fixed_size_list<uint8, N> (hamming) */
    const float *vector;        /* a float query of dim values */
    size_t dim;
    const uint8_t *bits;        /* a binary query of n_bytes bytes */
    size_t n_bytes;
    bool like_row;              /* the query is row `row_id`'s value (image-to-image); that row is left out */
    uint64_t row_id;
    int metric;                 /* FL_METRIC_*; -1: l2 for floats, hamming for bytes */
    const char *where;          /* prefilter: only rows where it holds are candidates (k results whenever k match) */
    int64_t k;                  /* results; 0: 10 */
    bool has_range;             /* keep only min_distance <= distance < max_distance */
    double min_distance, max_distance;
    const char *const *columns; /* projection (NULL: every column), then _distance float32 and _rowid uint64 */
    size_t n_columns;
    /* With an ivf_pq or ivf_flat index on the column (of the query's metric): */
    bool exact;                 /* ignore the index: exact search of every row */
    bool postfilter;            /* apply `where` to the index's k results (may return fewer than k) instead of
                                   before (prefilter, the default: k results whenever k rows match) */
    int nprobes;                /* partitions searched; 0: 20 (more are searched when a prefilter leaves fewer than k) */
    int refine_factor;          /* ivf_pq: re-rank the k × refine_factor best estimates by exact distance; 0: none */
} fl_vector_query;

/*
 * k-nearest-neighbour search over the handle's version. Distances: l2 = squared Euclidean, cosine =
 * 1 − cos, dot = 1 − x·y (LanceDB's), hamming = differing bits. Exact unless the column has a vector
 * index of the query's metric (no metric given: the index's) and neither `exact` nor a distance range is
 * asked for: then the fragments the index covers are searched through it (ivf_pq distances are estimates
 * unless refined) and the others exactly, merged. Results ascending by distance, ties by row id; the
 * batch has row_ids set. Caller frees *out.
 */
int fl_vector_search(fl_table *table, const fl_vector_query *query, fl_batch **out, fl_error *err);
/* "l2", "cosine", "dot", "hamming" and back. */
const char *fl_metric_name(int metric);
int fl_metric_parse(const char *text, int *metric);

/* Full-text search by BM25 over a string column (docs/SEARCH.md). */
typedef struct fl_fts_query {
    const char *column;         /* a string column; NULL: the one column with an fts index */
    const char *text;           /* terms, "quoted phrases", +required, -excluded */
    const char *where;          /* prefilter: only rows where it holds are results (statistics use every row) */
    int64_t k;                  /* results; 0: 10 */
    double k1;                  /* BM25 term saturation; 0: 1.2 */
    double b;                   /* BM25 length normalization (0..1) when b_set; otherwise 0.75 */
    bool b_set;
    const char *const *columns; /* projection (NULL: every column), then _score float32 and _rowid uint64 */
    size_t n_columns;
} fl_fts_query;

/* The k best-scoring rows of the handle's version, descending by score, ties by row id. The column's fts
 * index (fl_index_create_with, type "fts") answers the fragments it covers and sets the analyzer (stemming,
 * stop words); every other fragment is analyzed at query time, and the corpus statistics cover every live
 * row, so the result is the same whether or not the index is up to date. Caller frees *out. */
int fl_fts_search(fl_table *table, const fl_fts_query *query, fl_batch **out, fl_error *err);

/* Hybrid search: one full-text and one vector search under the same WHERE, fused (docs/SEARCH.md). */
#define FL_RERANK_RRF 0         /* reciprocal rank fusion: sum of 1 / (rrf_k + rank) over the halves */
#define FL_RERANK_LINEAR 1      /* weight * normalized vector closeness + (1 - weight) * normalized BM25 */

typedef struct fl_hybrid_query {
    fl_fts_query text;          /* column (or NULL) and text; its k, where and columns are ignored */
    fl_vector_query vector;     /* column and query vector (or like_row), metric; its k, where and columns are ignored */
    const char *where;          /* prefilter of both halves */
    int64_t k;                  /* results; 0: 10 */
    int64_t candidates;         /* rows asked of each half; 0: max(k, 50) */
    int rerank;                 /* FL_RERANK_* */
    double rrf_k;               /* 0: 60 */
    double weight;              /* linear: the vector half's weight (0..1) when weight_set; otherwise 0.7 */
    bool weight_set;
    const char *const *columns; /* projection (NULL: every column), then _score, _distance (NULL when that half
                                   did not return the row), _relevance_score float32 and _rowid uint64 */
    size_t n_columns;
} fl_hybrid_query;

/* The k most relevant rows, by relevance descending, ties by row id. Caller frees *out. */
int fl_hybrid_search(fl_table *table, const fl_hybrid_query *query, fl_batch **out, fl_error *err);

/* ---------------------------------------------------------------------------------------------------------
 * Near duplicates (docs/SEARCH.md)
 *
 * A frame is a duplicate when another frame with a smaller row id has a 64-bit hash (dhash) within
 * `threshold` bits; the UDF columns is_duplicate and duplicate_of compute the same rule incrementally.
 * ------------------------------------------------------------------------------------------------------- */

typedef struct fl_dedup_result {
    int64_t hashed;             /* rows with a non-NULL hash */
    int64_t duplicates;         /* rows that are duplicates */
    int64_t groups;             /* distinct kept frames with at least one duplicate */
    uint64_t *duplicate_ids;    /* duplicates rows, ascending */
    uint64_t *kept_ids;         /* for each duplicate, the kept frame (smallest id) of its group */
    size_t cap;                 /* private */
} fl_dedup_result;

/* Finds the duplicates of the latest version by the hash column (NULL: "dhash"). Free with
 * fl_dedup_result_free. */
int fl_dedup_find(fl_db *db, const char *table, const char *column, int threshold, fl_dedup_result *out, fl_error *err);
void fl_dedup_result_free(fl_dedup_result *result);
/* Appends n exact copies of random live rows (seeded) for validating dedup: the stored columns copied, UDF
 * columns left NULL, image_id (when a string column of that name exists) made unique. *added may be NULL. */
int fl_dedup_inject(fl_db *db, const char *table, int64_t n, uint64_t seed, int64_t *added, fl_error *err);

/* ---------------------------------------------------------------------------------------------------------
 * Materialized views (docs/VIEWS.md)
 *
 * A view is a table whose rows are the rows of a source table (or view) where a SQL filter holds, projected
 * to a select list, with the source rows' ids as its row ids. It is read like any table (count, query, sql,
 * search, index, time travel, tags) and changes only by refresh: each refresh is one atomic commit that
 * brings it to a source version, applying only what changed since the version it reflects (appended,
 * updated, deleted rows, found from row versions and deletion files), or rebuilding it with `full`. The
 * result always equals a rebuild. Direct writes to a view are refused.
 * ------------------------------------------------------------------------------------------------------- */

typedef struct fl_view_refresh_options {
    bool full;                  /* rebuild from the source instead of applying its changes */
    uint64_t source_version;    /* refresh to this source version; 0: the latest */
    int64_t max_rows_per_fragment; /* of the view's new fragments; 0: 1048576 */
} fl_view_refresh_options;

typedef struct fl_view_report {
    bool changed;               /* a version of the view was committed */
    bool full;                  /* it was a rebuild */
    int64_t added;              /* rows that entered the view */
    int64_t removed;            /* rows that left it */
    int64_t updated;            /* rows that stayed with new values */
    int64_t rows_before, rows_after;
    int64_t rows_read;          /* source rows whose columns were read */
    uint64_t version;           /* the view's version at the end */
    uint64_t source_version_before; /* the source version the view reflected before (0: never refreshed) */
    uint64_t source_version;    /* the source version it reflects now */
    int attempts;               /* > 1: a concurrent refresh committed first and the work was redone */
    double seconds;
} fl_view_report;

/* Creates view `name` of `source`: rows where `where` holds (NULL or "": every row), columns from `select`
 * (NULL or "": "*"; a list of columns and `expression AS name`), then builds it from the source's latest
 * version. Errors in the texts are FL_EINVAL with the position. `report` (may be NULL) describes the build. */
int fl_view_create(fl_db *db, const char *name, const char *source, const char *where, const char *select, fl_view_report *report,
                   fl_error *err);
/* Brings a view up to a source version (opts may be NULL). Nothing is committed when it already reflects
 * that version. A source that was restored past the view's version, recreated, or whose needed columns were
 * dropped or replaced is an error naming the reason; a rebuild (`full`) recovers when the definition still
 * compiles. A refresh that loses the race to a concurrent one starts over from the winner's version. */
int fl_view_refresh(fl_db *db, const char *name, const fl_view_refresh_options *opts, fl_view_report *report, fl_error *err);
/* Refreshes every view of the database, sources before the views defined on them. on_view (optional) is
 * called after each with its report or error. Returns the first error after trying every view. */
int fl_view_refresh_all(fl_db *db, const fl_view_refresh_options *opts,
                        void (*on_view)(void *ctx, const char *name, const fl_view_report *report, const fl_error *err), void *ctx,
                        fl_error *err);

typedef struct fl_view_info {
    char *name;
    char *source;
    char *where;                /* "" when every row */
    char *select;               /* as given, with `*` expanded to the source's columns at creation */
    uint64_t version;           /* the view's latest version */
    int64_t rows;
    uint64_t source_version;    /* the source version it reflects (0: never refreshed) */
    uint64_t source_latest;     /* the source's latest version (0: the source is missing) */
    bool stale;                 /* source_latest != source_version */
} fl_view_info;

/* The views of the database, sorted by name. Caller frees with fl_view_info_free. */
int fl_view_list(fl_db *db, fl_view_info **views, size_t *n, fl_error *err);
/* One view (FL_EINVAL when the table is not a view). Free with fl_view_info_free(info, 1). */
int fl_view_get(fl_db *db, const char *name, fl_view_info **info, fl_error *err);
void fl_view_info_free(fl_view_info *views, size_t n);
/* Whether the handle's table is a materialized view. */
bool fl_table_is_view(const fl_table *table);

/* ---------------------------------------------------------------------------------------------------------
 * Permutations: the rows a training run reads, in order, split (docs/PYTHON.md)
 *
 * A permutation is an ordered list of row ids of one version of a table or view, each in a named split:
 * the live rows a filter keeps, assigned to splits by a rule, in a seeded order. Saved as a table of its own
 * (row_id uint64, split_id int32, in order; the source, its version, the split names and the spec in its
 * metadata) it is versioned like any table, so a split is reproducible from its name and version.
 * ------------------------------------------------------------------------------------------------------- */

enum {
    FL_SPLIT_NONE = 0,          /* one split, "all" */
    FL_SPLIT_RANDOM = 1,        /* seeded random assignment by ratios or counts */
    FL_SPLIT_HASH = 2,          /* by the XXH3 hash of a column's value against ratios: a row keeps its split
                                   however the table grows (the same value always lands in the same split) */
    FL_SPLIT_SEQUENTIAL = 3,    /* in row id order, cut by ratios or counts */
    FL_SPLIT_CALCULATED = 4     /* a SQL expression gives each row its split: a 0-based number or a name */
};

typedef struct fl_permutation_spec {
    const char *filter;         /* SQL: only rows where it holds (NULL: every row) */
    int split;                  /* FL_SPLIT_* */
    const double *ratios;       /* n_parts fractions (sum <= 1: rows past the sum are left out), or */
    const int64_t *counts;      /* n_parts row counts (random, sequential; sum <= rows) */
    size_t n_parts;
    const char *const *split_names; /* names of the splits (default split0, split1, ...; required for calculated) */
    size_t n_split_names;
    uint64_t seed;              /* random splits */
    const char *hash_column;    /* hash splits */
    const char *split_expr;     /* calculated splits */
    bool shuffle;               /* order rows randomly (otherwise by row id) */
    uint64_t shuffle_seed;
    int64_t clump_size;         /* shuffle clumps of this many consecutive rows (locality); 0 or 1: rows */
    const char *const *columns; /* the columns a reader should load (recorded, not checked at read time) */
    size_t n_columns;
} fl_permutation_spec;

typedef struct fl_permutation {
    char *source;               /* table or view name */
    uint64_t source_version;    /* the version the row ids are of */
    size_t n;
    uint64_t *row_ids;          /* n, in permutation order */
    int32_t *split_ids;         /* n: index into split_names */
    size_t n_splits;
    char **split_names;
    size_t n_columns;
    char **columns;
    char *spec;                 /* how it was made, for people (the CLI's arguments); may be NULL */
} fl_permutation;

/* Builds a permutation of the handle's version. The same version, spec and seeds always give the same
 * list. Errors name the bad part (filter position, unknown column, ratios over 1). Free with
 * fl_permutation_free. */
int fl_permutation_build(fl_table *table, const fl_permutation_spec *spec, fl_permutation **out, fl_error *err);
/* The row ids of one split (NULL: all rows) in permutation order, in a new array the caller frees with free(). */
int fl_permutation_split_rows(const fl_permutation *p, const char *split, uint64_t **row_ids, size_t *n, fl_error *err);
/* Saves as table `name` (FL_EEXIST if it exists). */
int fl_permutation_save(fl_db *db, const char *name, const fl_permutation *p, fl_error *err);
/* Loads a saved permutation (opts: its version or tag; may be NULL). */
int fl_permutation_load(fl_db *db, const char *name, const fl_open_options *opts, fl_permutation **out, fl_error *err);
void fl_permutation_free(fl_permutation *p);

/* ---------------------------------------------------------------------------------------------------------
 * The data loader: batches of decoded images, boxes and labels for training (docs/PYTHON.md)
 *
 * Reads the given rows of one table version in batches: each batch's rows are read in storage order (for
 * locality), their JPEGs decoded with libjpeg-turbo (optionally DCT-scaled, then resized), and delivered in
 * the requested order. `threads` workers each prepare whole batches, up to `prefetch` ahead of the
 * consumer; the content and order of every batch depend only on the rows, the options and the epoch.
 * ------------------------------------------------------------------------------------------------------- */

typedef struct fl_loader fl_loader;

enum { FL_LAYOUT_HWC = 0, FL_LAYOUT_CHW = 1 };

typedef struct fl_loader_options {
    const char *image_column;   /* JPEG bytes; NULL: "image_bytes"; "": no images */
    const char *const *columns; /* other columns returned with each batch (NULL: none) */
    size_t n_columns;
    const char *boxes_column;   /* list<list<float32>> of [x1, y1, x2, y2] in pixels (NULL: no boxes) */
    const char *labels_column;  /* list<string>, one label per box (with boxes_column) */
    const char *const *categories; /* label i + 1 is categories[i] (0 is left for the background); boxes
                                      whose label is not listed are dropped. Required with labels_column */
    size_t n_categories;
    int64_t batch_size;         /* rows per batch; 0: 8 */
    int threads;                /* decoding workers; 0: one per core */
    int prefetch;               /* batches prepared ahead; 0: 2 x threads */
    bool shuffle;               /* each epoch's order: the rows shuffled with seed + epoch (else as given) */
    uint64_t seed;
    int rank, world_size;       /* data-parallel shard: positions p with p % world_size == rank of the epoch's
                                   order. Shards are disjoint and cover every row; every shard has the same
                                   number of batches (a shard's last batch may be short). world_size 0: 1 */
    int64_t start_epoch, start_batch; /* resume: the first batch returned */
    int scale_num, scale_denom; /* libjpeg-turbo DCT scaling while decoding (1/2, 1/4, 1/8 ...). 0: with a
                                   width and height, the smallest of 1/8, 1/4, 1/2 whose decode still covers
                                   them, else 1/1 (per image); without, 1/1 */
    int width, height;          /* resize (bilinear, after the DCT scaling) to width x height; 0: the decoded
                                   size (every image of a batch must then have the same size) */
    int layout;                 /* FL_LAYOUT_HWC (default) or FL_LAYOUT_CHW */
    bool normalize;             /* float32 (x / 255 - mean) / std per channel instead of uint8 */
    float mean[3], std[3];      /* std 0: 1 */
    bool skip_corrupt;          /* skip rows whose image does not decode (counted) instead of failing */
    void *images_out;           /* fl_loader_read / fl_loader_decode only (with a width and height the size is
                                   known in advance): the images go here (n x 3 x H x W values of the batch's
                                   type; an error when they need more than images_out_bytes)
                                   instead of a buffer of the batch's own, e.g. shared memory to hand to
                                   another process without a copy; the batch's pixels or tensor point into
                                   it and freeing the batch leaves it alone */
    size_t images_out_bytes;
} fl_loader_options;

typedef struct fl_loader_batch {
    int64_t epoch, index;       /* this is batch `index` of `epoch` (of this shard) */
    int64_t n;                  /* rows delivered (skipped corrupt ones are not) */
    uint64_t *row_ids;          /* n */
    int32_t height, width;      /* of every image (0 without images) */
    uint8_t *pixels;            /* n x H x W x 3 (HWC) or n x 3 x H x W (CHW) RGB, without normalize */
    float *tensor;              /* the same in float32, with normalize */
    int64_t *box_offsets;       /* n + 1: the boxes of row i are [box_offsets[i], box_offsets[i + 1]) */
    float *boxes;               /* x1, y1, x2, y2 per box, in the delivered image's pixels */
    int64_t *labels;            /* one per box */
    fl_batch *columns;          /* the other columns, n rows (NULL when none were asked for, or no rows) */
    int64_t skipped;            /* rows of this batch whose image did not decode */
    void *pool;                 /* private: where the image buffer returns when the batch is freed */
    size_t buffer_bytes;        /* private */
} fl_loader_batch;

/* Starts a loader over `row_ids` (n of them, live rows of the handle's version; the order used without
 * shuffle). The handle must outlive the loader and must not be checked out or written meanwhile (workers read
 * through their own handles of the same version). */
int fl_loader_open(fl_table *table, const uint64_t *row_ids, size_t n, const fl_loader_options *opts, fl_loader **out, fl_error *err);
/* Builds one batch of exactly these rows, in this order, in the calling thread (a map-style dataset's
 * random access): the options as for a loader; threads, prefetch, shuffling, sharding and resuming do not
 * apply. Caller frees *out with fl_loader_batch_free. */
int fl_loader_read(fl_table *table, const uint64_t *row_ids, size_t n, const fl_loader_options *opts, fl_loader_batch **out, fl_error *err);
/* Decodes JPEGs given in memory (jpegs[i] of sizes[i] bytes; NULL counts as an image that does not decode)
 * as the loader decodes a table's images, into one batch whose row ids are 0..n-1: the image options of
 * opts apply (scale, size, layout, normalize, skip_corrupt); boxes, labels and other columns do not. For
 * inference on frames outside a table. Caller frees *out with fl_loader_batch_free. */
int fl_loader_decode(const uint8_t *const *jpegs, const size_t *sizes, size_t n, const fl_loader_options *opts, fl_loader_batch **out, fl_error *err);
/* Batches per epoch of this shard. */
int64_t fl_loader_batches_per_epoch(const fl_loader *loader);
/* The next batch (caller frees with fl_loader_batch_free), or *out = NULL at the end of an epoch; the call
 * after that starts the next epoch. A failed row ends the loader with its error. */
int fl_loader_next(fl_loader *loader, fl_loader_batch **out, fl_error *err);
void fl_loader_batch_free(fl_loader_batch *batch);
/* Stops the workers and frees the loader. */
void fl_loader_close(fl_loader *loader);

/* ---------------------------------------------------------------------------------------------------------
 * Import: JSON Lines into a table
 *
 * One JSON object per line (blank lines are skipped); keys are column names. How to bring metadata in:
 * `{"$file": "path"}` as a value of a binary column loads that file's bytes (a relative path resolves
 * against the directory of the JSON Lines file).
 * ------------------------------------------------------------------------------------------------------- */

/*
 * Infers a schema from every line of JSON Lines text (not just a sample). Columns appear in the order their
 * keys first appear; every column is nullable.
 *   - integers → int64; if some integer exceeds INT64_MAX (and fits uint64) and the field has no negative
 *     ones → uint64; a field with both, or with an integer beyond uint64, is an error (give a schema with
 *     float64), so that no integer is ever rounded silently
 *   - any number with a fraction or an exponent makes the field float64 (mixed int/float → float64)
 *   - true/false → bool; strings → string, or timestamp (ms, UTC) when every string of the field is an RFC
 *     3339 date-time with a zone ("2024-05-01T12:00:00.250Z", "2024-05-01 14:00:00+02:00"; a time without
 *     a zone stays a string)
 *   - arrays → list<element type unified over every element of every line>; fixed-size numeric arrays are
 *     still lists; objects → struct with the union of their keys (a missing key is NULL)
 *   - {"$file": "path"} → binary; an object holding "$file" and other keys is an error
 *   - null, [] and {} decide nothing; a field that is NULL (or an empty array's element) everywhere → string;
 *     a field that is {} everywhere is an error (a struct needs a member)
 * Two kinds for one field is an error naming both places, e.g. "rows.jsonl: line 9, column 14: field
 * 'width' is a number here but a string on line 3" (nested fields are named "pos.x", list elements
 * "cats[]"). Keys must be valid names (letters, digits, '_', '-', '.'; 1..128; not starting with '.').
 * Empty input is an error. `source_name` names the text in messages (NULL: "input"). Caller frees *out
 * with fl_schema_free.
 */
int fl_jsonl_infer_schema(const char *text, size_t size, const char *source_name, fl_schema **out, fl_error *err);

/* Parses a schema written either in the text syntax of fl_schema_parse or as JSON: {"fields": [{"name":
 * "width", "type": "int32", "nullable": true}, ...]} ("nullable" defaults to true; the output of
 * fl_table_info_json is accepted too). A first non-space character '{' means JSON. Caller frees *out. */
int fl_schema_parse_any(const char *text, const char *source_name, fl_schema **out, fl_error *err);

typedef struct fl_import_options {
    const fl_schema *schema;    /* NULL: the existing table's schema, or else inferred from the data.
                                   Given and the table exists: its columns must exist in the table with the
                                   same types, and only they are filled */
    bool ignore_unknown;        /* keys that are not columns are skipped; false: an error with line/column */
    int64_t commit_every;       /* > 0: commit after every N rows; 0: one commit for the whole input */
    int64_t max_batch_bytes;    /* $file bytes held in memory before a commit is forced; 0: 256 MiB */
    const char *base_dir;       /* relative $file paths resolve against it; NULL: the directory of `path`
                                   (fl_import_jsonl_text, or path "-": the current directory) */
    bool dry_run;               /* check everything (every line, every $file), commit nothing; the report
                                   then counts what would have been added. `db` may be NULL: the rows are
                                   checked against the given or inferred schema only */
} fl_import_options;

/*
 * Imports JSON Lines rows into `table`. `path` is a file, or "-" for standard input (read once into
 * memory). A missing table is created with the schema; an existing one takes the rows if they fit its
 * columns: each value is checked against the column's type (an integer into an int32 column must fit it),
 * timestamp columns take integer milliseconds or RFC 3339 strings, binary columns base64 text or $file.
 * A key that is not a column, a NULL or missing value of a not-null column, and a $file that cannot be
 * read (or is not a regular file, or exceeds 1 GiB) are errors naming source, line and column.
 *
 * Atomic: every line is parsed and checked, and every $file opened, before anything is written; a bad
 * line anywhere leaves the database untouched (a missing table is not even created). The rows then go in
 * one commit, unless commit_every rows or max_batch_bytes of $file bytes accumulate first, in which case
 * each such batch is its own commit (memory stays bounded; a $file that changes between the check and the
 * load can then fail a later batch after earlier ones committed — the report says what was). The JSON text
 * itself is held in memory. Creating the table is one more commit. `opts` and `report` may be NULL; the
 * report's added, bytes_added ($file bytes), commits and version are filled (the other counters stay 0).
 */
int fl_import_jsonl(fl_db *db, const char *table, const char *path, const fl_import_options *opts,
                    fl_ingest_report *report, fl_error *err);
/* The same for text already in memory; `source_name` names it in messages (NULL: "input"). */
int fl_import_jsonl_text(fl_db *db, const char *table, const char *text, size_t size, const char *source_name,
                         const fl_import_options *opts, fl_ingest_report *report, fl_error *err);

#ifdef __cplusplus
}
#endif
#endif /* FRAMELAKE_H */
