/*
 * fts.h — the full-text side of the index layer: the analyzer that turns text into terms (analyze.c), and
 * the inverted index files of an `fts` index (ftsfile.c; docs/FORMAT.md §19 specifies the layout). The
 * query side (BM25 ranking, phrases, freshness) is src/search/fts.c.
 *
 * One analyzer serves the index build and every query on the column, so a term means the same thing in
 * both: the settings are the index entry's parameters (stem, stopwords), or the defaults without an index.
 *
 * Invariants:
 *  1. Tokens are maximal runs of ASCII letters and digits and bytes >= 0x80 (UTF-8 words stay whole),
 *     ASCII-lowercased, then dropped when they are stop words, then stemmed. A token's position is its
 *     index among all the runs of the text, stop words included, so a phrase with a stop word in the middle
 *     still needs the gap. Terms are at most FTS_MAX_TERM bytes (longer runs are cut there).
 *  2. An index file holds every document — physical row whose value has at least one term — of the
 *     fragments it was built from (deleted ones too), with
 *     per fragment the count of non-NULL documents and their total length, so a query can take the corpus
 *     statistics of a covered fragment from the file and correct them only for deletions.
 *  3. A reader validates before it trusts: tail, footer checksum, counts against bytes, terms strictly
 *     ascending, every block's checksum, row ids strictly ascending inside a posting list, term
 *     frequencies ≥ 1, positions strictly ascending. Any failure is FL_ECORRUPT naming the file and byte.
 */
#ifndef FL_INDEX_FTS_H
#define FL_INDEX_FTS_H

#include "../common/common.h"
#include "../io/io.h"
#include "cache.h"

#define FTS_MAX_TERM 64

/* ---- analyzer ---- */

typedef struct fts_analyzer {
    bool stopwords;             /* drop English stop words */
    struct sb_stemmer *stemmer; /* NULL: no stemming */
    char stem[16];              /* "none" or the Snowball algorithm name */
} fts_analyzer;

/* stem: NULL/"none" or "english"; stopwords: NULL/"none" or "english". FL_EINVAL names a bad value. */
int fts_analyzer_init(fts_analyzer *a, const char *stem, const char *stopwords, fl_error *err);
void fts_analyzer_free(fts_analyzer *a);

/* The terms of one text: bytes back to back in `bytes`, term i at [off[i], off[i] + len[i]). */
typedef struct fts_tokens {
    fl_buf bytes;
    uint32_t *off, *len, *pos;
    size_t n, cap;
} fts_tokens;

void fts_tokens_free(fts_tokens *t);
/* Replaces t's contents with the terms of text[0..n) (invariant 1). false: out of memory. */
bool fts_analyze(fts_analyzer *a, const uint8_t *text, size_t n, fts_tokens *t);
/* Positions between the values of consecutive columns of a document, so no phrase spans two of them. */
#define FTS_FIELD_GAP 100
/* The document of row i of an index over several string columns (arrays cols[0..n)): the terms of each
 * non-NULL value in column order, each value's positions starting FTS_FIELD_GAP after the previous value's
 * last. *any receives whether some value was not NULL. false: out of memory. */
bool fts_analyze_row(fts_analyzer *a, const struct fl_array *cols, int n, int64_t i, fts_tokens *t, bool *any);

/* ---- index files ---- */

#define FTS_MAGIC "FLF1"
#define FTS_TAIL_MAGIC "FLFT"
#define FTS_FORMAT 1
#define FTS_TAIL_SIZE 32

/* Per fragment of a file (invariant 2). */
typedef struct fts_fragment_stats {
    uint64_t fragment_id;
    uint64_t docs;              /* non-NULL values */
    uint64_t total_len;         /* their terms */
} fts_fragment_stats;

/* One document of a posting list. */
typedef struct fts_posting {
    uint64_t row;
    uint32_t tf;
    uint32_t len;               /* the document's length in terms */
    uint32_t first_pos;         /* with positions: index into the positions array of the decoded list */
} fts_posting;

/* A decoded posting list. */
typedef struct fts_list {
    fts_posting *p;
    size_t n, cap;
    uint32_t *pos;              /* with positions: each posting's tf positions, ascending */
    size_t n_pos, cap_pos;
} fts_list;

void fts_list_free(fts_list *l);
bool fts_list_push(fts_list *l, uint64_t row, uint32_t tf, uint32_t len, const uint32_t *pos, bool with_pos);

/* Writing: an in-memory builder fed document by document, in ascending row id order per fragment. */
typedef struct fts_writer fts_writer;

int fts_writer_new(bool positions, fts_writer **out, fl_error *err);
void fts_writer_free(fts_writer *w);
/* Starts the next fragment (documents that follow belong to it). */
int fts_writer_fragment(fts_writer *w, uint64_t fragment_id, fl_error *err);
/* Adds the document of `row` (row ids strictly ascending within the file). */
int fts_writer_add(fts_writer *w, uint64_t row, const fts_tokens *doc, fl_error *err);
/* Writes the file to `path` (exclusive create), syncs it, *size its length. */
int fts_writer_finish(fts_writer *w, const char *path, uint64_t *size, fl_error *err);

typedef struct fts_file fts_file;

int fts_file_open(const char *path, fts_file **out, fl_error *err);
/* The opened file through the process-wide cache of decoded index files (cache.h): queries do not reopen
 * the file or re-parse its dictionary. Release with fl_ixcache_release; ref->obj is the fts_file. */
int fts_file_cached(const char *path, fl_ixcache_ref *ref, fl_error *err);
void fts_file_close(fts_file *f);
bool fts_file_positions(const fts_file *f);
size_t fts_file_n_fragments(const fts_file *f);
const fts_fragment_stats *fts_file_fragment(const fts_file *f, size_t i);
/* Appends the posting list of `term` (nothing when absent). */
int fts_file_lookup(fts_file *f, const char *term, size_t len, fts_list *out, fl_error *err);
/* The documents of the file: every (row, length) of a non-NULL value, ascending by row. */
int fts_file_docs(fts_file *f, uint64_t **rows, uint32_t **lens, size_t *n, fl_error *err);
/* Reads and validates every block; *terms receives the dictionary size (tests, fuzzing). */
int fts_file_check(fts_file *f, uint64_t *terms, fl_error *err);

#endif /* FL_INDEX_FTS_H */
