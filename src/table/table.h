/*
 * table.h — manifests, versions, the commit protocol and the table handle.
 *
 * A table directory holds:
 *   _versions/<version, 20 digits>.manifest   one immutable manifest per version (the commit point)
 *   _latest                                   hint: a recent version number (never trusted for correctness)
 *   _tags/<name>.tag                          tag -> version
 *   data/<random>.fld                         data files (format/)
 *   _deletions/<random>.del                   deletion files: sorted row offsets deleted from a fragment
 *
 * Invariants:
 *  1. Manifest N+1 is created only by fl_io_put_if_absent, after every file it references is durable, so a
 *     crash at any instant leaves the newest manifest complete and all its files present.
 *  2. Row ids are never reused: next_row_id only grows (restore keeps the newest counter).
 *  3. Within a fragment, for each field id the last data file listing it holds its values; a fragment with
 *     no file for a field reads NULL.
 *  4. Every manifest records which fragments its operation touched and whether it changed the schema; a
 *     writer that lost the race rebases only if its own touched set is disjoint from the winners'.
 */
#ifndef FL_TABLE_H
#define FL_TABLE_H

#include "../format/format.h"

#define FL_MANIFEST_MAGIC "FLM1"
#define FL_MANIFEST_FORMAT 2         /* written; format 1 (no row versions, table id or restore mark) is still read */
#define FL_DELETION_MAGIC "FLX1"
#define FL_TAG_MAGIC "FLT1"
#define FL_MAX_FIELD_ID (1 << 24)   /* field ids ever assigned per table (readers reject more) */
/* A commit attempt (finding the latest version .. creating the next manifest) that takes longer than this
 * starts over. Cleanup's default grace period (FL_DEFAULT_GRACE_MS) is far longer, so a version a writer
 * believes to be the latest cannot have been superseded and removed in the meantime. */
#define FL_COMMIT_ATTEMPT_MS 60000
/* Table metadata of materialized views (src/view): every key starts with the prefix, which only the view
 * layer may set; a table with FL_VIEW_SOURCE_KEY refuses direct writes. */
#define FL_VIEW_KEY_PREFIX "view."
#define FL_VIEW_SOURCE_KEY "view.source"
#define FL_DEFAULT_GRACE_MS 3600000

typedef struct fl_file_ref {
    char *path;                 /* relative to the table directory: "data/<hex>.fld" */
    uint64_t size;              /* exact file size */
    uint64_t created_version;
    uint32_t n_field_ids;
    int32_t *field_ids;
} fl_file_ref;

typedef struct fl_row_run {
    uint64_t start;             /* first row id */
    uint64_t count;             /* consecutive ids start .. start+count-1 */
} fl_row_run;

/* Row versions: for each physical row of a fragment, the version that last wrote one of its values, as runs
 * in physical order. */
typedef struct fl_version_run {
    uint64_t count;
    uint64_t version;
} fl_version_run;

typedef struct fl_fragment {
    uint64_t id;
    uint64_t physical_rows;     /* rows in the data files, deleted ones included */
    uint64_t created_version;
    uint32_t n_runs;
    fl_row_run *runs;           /* row ids of physical rows in order; total count == physical_rows */
    uint32_t n_files;
    fl_file_ref *files;
    char *deletion_path;        /* NULL: no deletions */
    uint64_t deleted_rows;
    uint64_t deletion_version;
    uint32_t n_vruns;
    fl_version_run *vruns;      /* row versions, total count == physical_rows; 0 runs: every row was last
                                   written at fl_fragment_base_version (an append, or a format-1 fragment) */
} fl_fragment;

typedef struct fl_index_ref {
    char *name;
    char *type;
    uint32_t n_field_ids;
    int32_t *field_ids;
    uint32_t n_files;
    char **files;               /* relative paths */
    uint32_t n_fragment_ids;
    uint64_t *fragment_ids;     /* fragments the index covers */
    uint64_t created_version;
    int32_t n_params;
    fl_kv *params;              /* FL_INDEX_COVERAGE_KEY: which file serves each covered fragment (below) */
} fl_index_ref;

/* Parameter of an index entry saying, for each fragment_ids[i], which of its files holds the fragment's
 * rows and which version of the indexed column they were read from: "<file>:<version>,..." in
 * fragment_ids order. <version> is the created_version of the fragment's data file holding the column
 * (0: no file held it, the column read NULL). A fragment whose column file has another version now was
 * rewritten after the index was built, and is not covered. */
#define FL_INDEX_COVERAGE_KEY "coverage"

typedef struct fl_manifest {
    uint64_t version;
    uint64_t read_version;      /* version the operation was based on */
    int64_t timestamp_ms;
    char *operation;
    char *detail;
    uint64_t next_row_id;
    uint64_t next_fragment_id;
    int32_t next_field_id;
    int64_t num_rows;           /* live rows */
    fl_schema *schema;          /* field ids set; table metadata in schema->metadata */
    uint32_t n_fragments;
    fl_fragment *fragments;
    uint32_t n_indexes;
    fl_index_ref *indexes;
    uint32_t n_touched;
    uint64_t *touched;          /* fragment ids this version's operation modified or removed */
    bool schema_changed;
    bool restore;               /* the operation replaced the whole state */
    uint64_t table_id;          /* random, fixed at creation (0: a format-1 table, unknown) */
    uint64_t restored_at;       /* the newest version whose operation was a restore (0: none) */
} fl_manifest;

/* ---- manifest.c ---- */
void fl_manifest_free(fl_manifest *m);
fl_manifest *fl_manifest_copy(const fl_manifest *m);
int fl_fragment_copy_into(fl_fragment *dst, const fl_fragment *src);
void fl_fragment_clear(fl_fragment *f);
/* Encodes into a new buffer (with trailing checksum). */
int fl_manifest_encode(const fl_manifest *m, fl_buf *out, fl_error *err);
/* Decodes and validates; `what` names the file in errors. */
int fl_manifest_decode(const uint8_t *data, size_t size, const char *what, fl_manifest **out, fl_error *err);
/* The version every row of f was last written at when f records no row versions: the newest of its own
 * and its files' created_version (an upper bound for format-1 fragments). */
uint64_t fl_fragment_base_version(const fl_fragment *f);
/* Sets the row versions of f's physical rows at the sorted, distinct `offsets` (all rows when offsets is
 * NULL) to `version`, keeping the others. */
int fl_fragment_mark_rows(fl_fragment *f, const uint32_t *offsets, uint64_t n, uint64_t version);
/* Appends `count` rows of version `version` to a run list being built by this function from empty (its
 * capacity is implied by the count: never pass a list decoded from a manifest). */
int fl_version_runs_push(fl_version_run **runs, uint32_t *n, uint64_t count, uint64_t version);
/* Walks a fragment's row versions in physical order, one run at a time. */
typedef struct fl_vrun_cursor {
    const fl_fragment *f;
    uint32_t run;
    uint64_t offset;            /* first physical row of the current run */
} fl_vrun_cursor;
/* The next run of rows [*offset, *offset + *count) written at *version; false at the end. */
bool fl_vrun_next(fl_vrun_cursor *c, uint64_t *offset, uint64_t *count, uint64_t *version);
/* Recomputes num_rows from the fragments. */
void fl_manifest_count_rows(fl_manifest *m);

void fl_index_ref_clear(fl_index_ref *x);
int fl_index_ref_copy_into(fl_index_ref *dst, const fl_index_ref *src);
/* Version of the data that field_id reads in fragment f: created_version of the file holding it, 0 if none. */
uint64_t fl_fragment_column_version(const fl_fragment *f, int32_t field_id);
/* The version an index entry records for fragment f: the newest of its fields' column versions (a rewrite
 * of any of them gives a newer one, so it uncovers the fragment). */
uint64_t fl_index_fragment_version(const fl_fragment *f, const fl_index_ref *x);
/* Reads the coverage parameter into file[n_fragment_ids] and version[n_fragment_ids] (FL_ECORRUPT if it is
 * malformed or names a file the entry does not list); writes it back from such arrays. */
int fl_index_coverage_get(const fl_index_ref *x, uint32_t *file, uint64_t *version, fl_error *err);
int fl_index_coverage_set(fl_index_ref *x, const uint32_t *file, const uint64_t *version);
/* Brings the index entries of m that carry a coverage parameter in line with its fragments and schema:
 * coverage of fragments that are gone or whose indexed column was rewritten is dropped (and files no
 * entry uses any more), entries on a dropped column are removed. Every commit applies it, so a manifest
 * never claims stale coverage. Entries without the parameter are left as they are. */
int fl_manifest_prune_indexes(fl_manifest *m);

/* Fragment index by fragment id, in O(log n) (a sorted copy of the ids). */
typedef struct fl_fragment_lookup {
    struct id_slot *slots;
    uint32_t n;
} fl_fragment_lookup;
int fl_fragment_lookup_init(const fl_manifest *m, fl_fragment_lookup *out);
/* Index into m->fragments of fragment `id`, or -1. */
int fl_fragment_lookup_find(const fl_fragment_lookup *l, uint64_t id);
void fl_fragment_lookup_free(fl_fragment_lookup *l);

/* Deletion files: sorted unique offsets. */
int fl_deletion_encode(const uint32_t *offsets, uint64_t n, fl_buf *out);
int fl_deletion_decode(const uint8_t *data, size_t size, uint64_t physical_rows, const char *what, uint32_t **offsets,
                       uint64_t *n, fl_error *err);

/* ---- table.c ---- */

typedef struct df_cache_entry {
    char *path;
    fl_datafile *df;
    uint64_t last_use;
} df_cache_entry;

typedef struct rid_entry {
    uint64_t start, count;      /* row id run */
    uint32_t fragment;          /* index into manifest fragments */
    uint64_t offset;            /* physical offset of `start` within the fragment */
} rid_entry;

typedef struct deletion_set {
    bool loaded;
    uint32_t *offsets;
    uint64_t n;
} deletion_set;

#define FL_DF_CACHE_SIZE 64

struct fl_db {
    char *path;
};

struct fl_table {
    fl_db *db;
    char *name;
    char *dir;
    fl_manifest *m;
    rid_entry *rids;            /* sorted by start */
    size_t n_rids;
    uint64_t *live_prefix;      /* n_fragments + 1: live rows before fragment i */
    deletion_set *deletions;    /* per fragment, lazily loaded */
    df_cache_entry cache[FL_DF_CACHE_SIZE];
    uint64_t cache_clock;
    /* State a higher layer keeps with the handle (the index layer's cache of decoded postings), released
     * by its destructor when the handle closes. Its content must depend only on immutable files. */
    void *ext;
    void (*ext_free)(void *ext);
};

/* fl_table_update with the version's detail text chosen by the caller ("backfill dhash: 500 rows"; NULL:
 * the default "N rows x M columns"), for higher layers whose updates have a name. */
int fl_table_update_described(fl_table *t, const fl_batch *b, const char *detail, fl_error *err);
/* The same, recorded in the manifest as operation `operation` (a static string, "backfill"; NULL: "update"). */
int fl_table_update_as(fl_table *t, const fl_batch *b, const char *operation, const char *detail, fl_error *err);

/* Path of a table-relative file, in a new string. */
char *fl_table_path(const fl_table *t, const char *rel);
/* Opens (or finds in the cache) a data file of the current version. */
int fl_table_datafile(fl_table *t, const fl_file_ref *ref, fl_datafile **out, fl_error *err);
/* Loads (once) the deletion set of fragment index i. */
int fl_table_deletions(fl_table *t, uint32_t fragment, const deletion_set **out, fl_error *err);
/* Finds (fragment index, offset) of a row id; false if the id is not in this version. */
bool fl_table_locate(const fl_table *t, uint64_t row_id, uint32_t *fragment, uint64_t *offset);
/* Walks a fragment's row ids in physical order, one step per row (O(1) amortized, unlike
 * fl_fragment_row_id's search over the runs). */
typedef struct fl_rid_cursor {
    const fl_fragment *f;
    uint32_t run;
    uint64_t in_run;
} fl_rid_cursor;

static inline uint64_t fl_rid_next(fl_rid_cursor *c) {
    while (c->in_run >= c->f->runs[c->run].count) {
        c->run++;
        c->in_run = 0;
    }
    return c->f->runs[c->run].start + c->in_run++;
}

/* Row ids of physical offsets visited in ascending order (repeats allowed), stepping over whole runs:
 * O(runs + lookups) for a fragment, where fl_fragment_row_id is O(runs) per lookup. */
typedef struct fl_id_walker {
    const fl_fragment *f;
    uint32_t run;
    uint64_t run_off;           /* physical offset of runs[run] */
} fl_id_walker;

static inline uint64_t fl_id_at(fl_id_walker *w, uint64_t off) {
    while (off >= w->run_off + w->f->runs[w->run].count) w->run_off += w->f->runs[w->run++].count;
    return w->f->runs[w->run].start + (off - w->run_off);
}

/* Row id of physical row `offset` in fragment f. */
uint64_t fl_fragment_row_id(const fl_fragment *f, uint64_t offset);
/* The file of fragment f that holds field_id (the last one listing it), or NULL. */
const fl_file_ref *fl_fragment_file_for(const fl_fragment *f, int32_t field_id);
/* Appends rows [start, start+count) of field `field` of fragment f to dst (NULLs if no file holds it). */
int fl_table_read_column(fl_table *t, uint32_t fragment, const fl_field *field, int64_t start, int64_t count, fl_array *dst,
                         fl_error *err);
/* Loads manifest `version` of the table. */
int fl_table_load_manifest(fl_table *t, uint64_t version, fl_manifest **out, fl_error *err);
bool fl_deletion_contains(const deletion_set *d, uint64_t offset);

/* A materialized view's rows and columns come from its definition and refreshes (src/view), never from
 * direct writes: FL_EINVAL naming `what` for a view, FL_OK otherwise. */
int fl_table_check_writable(const fl_table *t, const char *what, fl_error *err);

/* ---- ops.c: a materialized view's refresh, prepared piece by piece and committed as one version ---- */
typedef struct fl_refresh fl_refresh;
/* Starts a refresh of the handle's version (a view). */
int fl_refresh_begin(fl_table *t, int64_t max_rows_per_fragment, fl_refresh **out, fl_error *err);
/* Drops every fragment of the version (a full rebuild); instead of fl_refresh_remove. */
int fl_refresh_remove_all(fl_refresh *r, fl_error *err);
/* Deletes rows by id: each must be live at the handle's version, and named once. */
int fl_refresh_remove(fl_refresh *r, const uint64_t *ids, size_t n, fl_error *err);
/* Adds rows: b has exactly the table's columns in order and row_ids set; each id must not be live after the
 * removals (the commit checks it). Data files are written as rows arrive. */
int fl_refresh_add(fl_refresh *r, const fl_batch *b, fl_error *err);
/* Commits everything with the metadata keys set (value NULL: removed) as one "refresh" version described
 * by `detail`; fails with FL_ECONFLICT when any other refresh, restore or schema change committed since the
 * handle's version. Consumes r whatever happens; files of a failed commit are removed. */
int fl_refresh_commit(fl_refresh *r, const char *const *keys, const char *const *values, size_t n, const char *detail, fl_error *err);
/* Abandons a refresh, removing the files it wrote. */
void fl_refresh_abort(fl_refresh *r);

#endif /* FL_TABLE_H */
