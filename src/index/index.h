/*
 * index.h — scalar indexes: building them (build.c: fl_index_create/update/drop/list in framelake.h) and
 * the planner interface the filtered scan calls (select.c).
 *
 * An index is a manifest entry (fl_index_ref, table.h) naming one column by field id, its files in
 * _indexes/ (ixfile.h) and the fragments it covers, with the version of the column data each covered
 * fragment was indexed from (FL_INDEX_COVERAGE_KEY). Building or extending one is one OP_INDEX commit.
 *
 * Invariants:
 *  1. An index never changes a query's result: it only narrows the candidate rows inside the fragments it
 *     covers. A fragment is covered when it is listed in the entry and its column data still has the
 *     version recorded there (an update or backfill that rewrote the column uncovers it; compaction
 *     replaces fragments, which the entry then no longer lists).
 *  2. Deleted rows are never candidates: the index files hold every physical row at build time, and the
 *     planner removes the rows the version's deletion files name.
 *  3. A selection's candidates are a superset of the live rows where the filter is true in the selection's
 *     fragments; with `exact` they are exactly those rows (SQL three-valued logic, expr.h invariant 4).
 */
#ifndef FL_INDEX_INDEX_H
#define FL_INDEX_INDEX_H

#include "../query/expr.h"
#include "../table/table.h"

/* What the indexes say about a filter on the handle's version. */
typedef struct fl_index_selection {
    bool applies;               /* false: no index helps this filter; every other field is empty */
    bool exact;                 /* row_ids are exactly the matching live rows of `fragments` */
    uint32_t n_fragments;
    uint32_t *fragments;        /* ascending indexes into t->m->fragments where row_ids are valid */
    bool *covered;              /* t->m->n_fragments flags: covered[i] iff i is in fragments */
    uint64_t n_rows;
    uint64_t *row_ids;          /* ascending, unique: candidate stable row ids inside those fragments */
    uint64_t *offsets;          /* after fl_index_selection_group (NULL before): the same candidates as
                                   physical offsets, grouped by fragment: those of fragments[i] are
                                   offsets[offset_start[i] .. offset_start[i + 1]), ascending (a scan
                                   reads exactly these rows of the fragment) */
    uint64_t *offset_start;     /* n_fragments + 1 entries, with offsets */
    uint32_t n_used;
    char **used;                /* names of the indexes used, for EXPLAIN */
} fl_index_selection;

/*
 * How the filtered scan uses a selection: fragments with covered[i] false are scanned as without indexes.
 * In the covered ones only the candidates can match: a count with `exact` adds n_rows and reads nothing;
 * otherwise fl_index_selection_group gives each covered fragment's candidate offsets, and the scan reads
 * and re-evaluates just those rows (dropping the fragments without candidates entirely).
 *
 * Decides which indexes apply to `filter` (a bound boolean expression of the table's schema, or NULL) and
 * computes the candidates. On FL_OK *out is filled (out->applies says whether anything applied); the caller
 * releases it with fl_index_selection_clear. Errors: FL_ECORRUPT for a damaged index file (naming the file
 * and byte), FL_ENOMEM. The selection lives independently of the handle but describes its current version.
 */
int fl_index_select(fl_table *t, const fl_expr_node *filter, fl_index_selection *out, fl_error *err);
/* The same without the candidate list: row_ids stays NULL and n_rows is the number of candidates (all a
 * count needs when the selection is exact). fl_index_selection_group does not apply to it. */
int fl_index_select_count(fl_table *t, const fl_expr_node *filter, fl_index_selection *out, fl_error *err);
void fl_index_selection_clear(fl_index_selection *s);
/* Fills s->offsets and s->offset_start (one pass over the candidates; a count does not need it). `t` must
 * be at the version the selection was made on. */
int fl_index_selection_group(const fl_table *t, fl_index_selection *s, fl_error *err);

/* Kind names as stored in fl_index_ref.type. */
#define FL_INDEX_BTREE "btree"
#define FL_INDEX_BITMAP "bitmap"
#define FL_INDEX_LABEL_LIST "label_list"
#define FL_INDEX_FTS "fts"
#define FL_INDEX_IVF_PQ "ivf_pq"
#define FL_INDEX_IVF_FLAT "ivf_flat"
#define FL_INDEX_HAMMING "hamming"

/* Columns one index may cover (fts indexes over several string columns; every other kind covers one). */
#define FL_INDEX_MAX_FIELDS 8

/* Index of the schema field an index entry is on (its first, for an fts index over several), or -1 when
 * one of its fields was dropped. */
int fl_index_field(const fl_table *t, const fl_index_ref *x);
/* Per fragment of the handle's version: the file index (into x->files) serving it, or -1 when x does not
 * cover it (invariant 1). `file_of` has t->m->n_fragments entries. */
int fl_index_coverage(const fl_table *t, const fl_index_ref *x, int32_t *file_of, fl_error *err);

#endif /* FL_INDEX_INDEX_H */
