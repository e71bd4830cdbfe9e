/*
 * ixfile.h — index files (_indexes/<32 hex>.idx): the bytes of one scalar index over some fragments, and
 * the sorted row id vectors every lookup produces. docs/FORMAT.md §18 specifies the layout.
 *
 * A file is a header, blocks, a footer and a fixed 32-byte tail. Blocks are btree pages (sorted (key,
 * row id) entries) or postings (the sorted row ids of one key, delta-varint coded). The footer is the top
 * level: the special row sets (NULL, NaN, empty list) and one entry per page (its first and last key) or
 * per distinct key, each pointing at its block with an XXH3 checksum.
 *
 * Invariants:
 *  1. A reader validates before it trusts: the tail (magic, format, footer range), the footer (checksum,
 *     counts against remaining bytes, block ranges inside the body, keys strictly ordered), and every block
 *     when it is read (checksum, entry count, ordering, keys inside the page's bounds). Any failure is
 *     FL_ECORRUPT naming the file and the byte offset.
 *  2. A lookup reads the tail, the footer and only the blocks whose keys can match: O(log pages + result).
 *  3. Key order is the evaluator's comparison order (query/eval.c): integers and timestamps as int64,
 *     floats as double with NaN kept out of the order (in the NaN set), strings by bytes then length; an
 *     integer compared with a float literal compares as double, as the evaluator does.
 */
#ifndef FL_INDEX_IXFILE_H
#define FL_INDEX_IXFILE_H

#include "../io/io.h"

#define FL_IX_MAGIC "FLI1"
#define FL_IX_TAIL_MAGIC "FLIT"
#define FL_IX_FORMAT 1
#define FL_IX_TAIL_SIZE 32
#define FL_IX_PAGE_ENTRIES 4096     /* btree entries per page (writer) */
#define FL_IX_PAGE_BYTES 65536      /* btree page target size (writer) */
#define FL_IX_MAX_KEY 1048576       /* longest string key, bytes */

typedef enum ix_kind { IX_BTREE = 1, IX_BITMAP = 2, IX_LABEL_LIST = 3, IX_FTS = 4, IX_IVF_PQ = 5, IX_IVF_FLAT = 6, IX_HAMMING = 7 } ix_kind;
/* The kind of an index entry's type name (index.h: "btree", "bitmap", "label_list", "fts", "ivf_pq",
 * "ivf_flat", "hamming"), or 0 (build.c). Only the first three are ix files answering filters; fts files
 * are fts.h's, ivf files vindex.h's, hamming files hamidx.h's. */
#define IX_SCALAR(kind) ((kind) >= IX_BTREE && (kind) <= IX_LABEL_LIST)
#define IX_VECTOR(kind) ((kind) == IX_IVF_PQ || (kind) == IX_IVF_FLAT)
ix_kind ix_kind_of(const char *type);
typedef enum ix_key_type { IX_KEY_INT = 1, IX_KEY_FLOAT = 2, IX_KEY_STRING = 3 } ix_key_type;
enum { IX_SET_NULL = 0, IX_SET_NAN = 1, IX_SET_EMPTY = 2, IX_N_SETS = 3 };

typedef struct ix_key {
    ix_key_type type;
    int64_t i;                  /* IX_KEY_INT (booleans are 0/1) */
    double f;                   /* IX_KEY_FLOAT, never NaN */
    const uint8_t *s;           /* IX_KEY_STRING: bytes (not owned) */
    size_t len;
} ix_key;

/* -1/0/1 order of two keys (invariant 3); mixed INT/FLOAT compare as double, STRING only with STRING. */
int ix_key_cmp(const ix_key *a, const ix_key *b);

/* ---- row id vectors ---- */

typedef struct ix_rows {
    uint64_t *ids;
    size_t n, cap;
} ix_rows;

void ix_rows_free(ix_rows *r);
bool ix_rows_push(ix_rows *r, uint64_t id);
bool ix_rows_append(ix_rows *r, const uint64_t *ids, size_t n);
/* Sorts ascending and removes duplicates (radix sort; a sorted input costs one pass). */
bool ix_rows_sort_unique(ix_rows *r);
/* Set operations on sorted unique vectors into a fresh *out (which the caller frees). */
bool ix_rows_union(const ix_rows *a, const ix_rows *b, ix_rows *out);
bool ix_rows_intersect(const ix_rows *a, const ix_rows *b, ix_rows *out);
bool ix_rows_minus(const ix_rows *a, const ix_rows *b, ix_rows *out);
/* Moves src into dst (dst's old contents are freed). */
void ix_rows_move(ix_rows *dst, ix_rows *src);

/* ---- writing ---- */

/* Everything one file holds, in memory.
 * Btree: n_entries (key, row id) pairs sorted by key then row id; each key is sort_keys[i], the
 * order-preserving encoding of ix_sortable (numbers), or for strings a rank into the sorted, distinct
 * dictionary dict[0..n_dict).
 * Postings: n_entries distinct keys[] in ascending order, each with its sorted unique row ids. */
typedef struct ix_build {
    ix_kind kind;
    ix_key_type key_type;
    uint64_t rows_indexed;      /* physical rows read (informative) */
    ix_rows sets[IX_N_SETS];    /* sorted unique */
    size_t n_entries;
    uint64_t *sort_keys;        /* btree */
    uint64_t *row_ids;          /* btree */
    ix_key *dict;               /* btree on strings */
    size_t n_dict;
    ix_key *keys;               /* bitmap, label_list */
    ix_rows *postings;          /* bitmap, label_list */
} ix_build;

/* An unsigned encoding of an INT or FLOAT key whose order is the keys' order, and back. */
uint64_t ix_sortable(const ix_key *k);
void ix_unsortable(uint64_t v, ix_key_type type, ix_key *out);

/* Writes b to a new file at `path` (exclusive create) and syncs it; *size receives its length. */
int ix_file_write(const char *path, const ix_build *b, uint64_t *size, fl_error *err);

/* ---- reading ---- */

typedef struct ix_file ix_file;

/* Opens and validates the tail and footer (invariant 1). Caller closes with ix_file_close. */
int ix_file_open(const char *path, ix_file **out, fl_error *err);
void ix_file_close(ix_file *f);
ix_kind ix_file_kind(const ix_file *f);
ix_key_type ix_file_key_type(const ix_file *f);
/* Appends the rows of special set `which` (IX_SET_*), sorted. */
int ix_file_read_set(ix_file *f, int which, ix_rows *out, fl_error *err);
/* Appends the rows whose key k satisfies lo <(=) k <(=) hi (NULL bound: unbounded), in no particular order. */
int ix_file_range(ix_file *f, const ix_key *lo, bool lo_inclusive, const ix_key *hi, bool hi_inclusive, ix_rows *out, fl_error *err);
/* Reads and validates every block; *entries receives the number of (key, row) pairs (tests, fuzzing). */
int ix_file_check(ix_file *f, uint64_t *entries, fl_error *err);

#endif /* FL_INDEX_IXFILE_H */
