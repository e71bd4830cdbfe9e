/*
 * qscan.h — the filtered scan every query runs on: one table version, an optional compiled filter, the
 * columns the caller needs. It yields batches holding only the rows where the filter is true, projected to
 * the requested columns, in storage order.
 *
 * Below the interface the scan reads the union of the filter's and the caller's columns, skips pages and
 * fragments whose statistics exclude the filter, narrows the candidate rows with the table's scalar indexes
 * where they cover the filter, and re-checks every candidate with the vectorized evaluator, so the result
 * never depends on which of those shortcuts applied. fl_qscan_plan describes which ones did.
 *
 * Invariants:
 *  1. A batch never has zero rows; the end is *out == NULL.
 *  2. The result equals "every live row of the version where the filter evaluates to true" for any
 *     combination of statistics and indexes (tested property-style in tests/test_query.c).
 */
#ifndef FL_QUERY_QSCAN_H
#define FL_QUERY_QSCAN_H

#include "../table/table.h"
#include "expr.h"

typedef struct fl_qscan fl_qscan;

typedef struct fl_qscan_stats {
    uint32_t fragments;         /* fragments in the version */
    uint32_t fragments_pruned;  /* skipped whole by statistics or indexes */
    uint64_t pages;             /* pages of the filter's columns considered */
    uint64_t pages_pruned;      /* skipped by statistics */
    uint64_t rows_read;         /* rows whose filter columns were read and evaluated */
    uint64_t rows_matched;
    const char *index_used;     /* names of the indexes that narrowed the candidates ("a_idx, b_idx"), or NULL */
} fl_qscan_stats;

/*
 * Opens a filtered scan of the handle's version. `filter` (NULL: every row) must have been compiled
 * against the table's schema and outlives the scan. `columns` (n names; NULL and 0: every column) is the
 * output projection. with_row_ids fills batch->row_ids. batch_size 0: 8192.
 */
int fl_qscan_open(fl_table *table, const fl_expr *filter, const char *const *columns, size_t n_columns, bool with_row_ids,
                  int64_t batch_size, fl_qscan **out, fl_error *err);
/* Next batch of matching rows (caller frees with fl_batch_free), or *out = NULL at the end. */
int fl_qscan_next(fl_qscan *scan, fl_batch **out, fl_error *err);
/* The row ids of every live row `filter` keeps (NULL: every row), ascending, in a new array (*n of them;
 * caller frees *ids with fl_free). Reads only the filter's columns (and uses the indexes like any scan). */
int fl_qscan_row_ids(fl_table *table, const fl_expr *filter, uint64_t **ids, size_t *n, fl_error *err);
/* Counts the matching rows to the end without materializing the output columns. */
int fl_qscan_count(fl_qscan *scan, int64_t *count, fl_error *err);
/*
 * Makes the scan read only every parts-th window of the fragments it scans (windows part, part + parts,
 * …), so that `parts` scans of the same version on separate handles split the work between threads. Set
 * before the first batch; applies to scanned fragments, not to ones the indexes answer (check
 * fl_qscan_uses_index first: index answers are not worth splitting).
 */
void fl_qscan_set_partition(fl_qscan *scan, uint32_t part, uint32_t parts);
/*
 * Restricts the scan to physical rows [lo, hi) of fragment index `fragment` of the version (a unit of
 * work that one worker takes; the backfill executor cuts a table into such ranges). Set before the first
 * batch.
 */
void fl_qscan_set_range(fl_qscan *scan, uint32_t fragment, int64_t lo, int64_t hi);
/* Rows the scan will read in fragments the indexes do not answer, after pruning by statistics (reads
 * page statistics only). Call before the first batch. */
int fl_qscan_estimate(fl_qscan *scan, uint64_t *rows, fl_error *err);
/* Rows from which fl_table_count_where splits a scan between threads (tests lower it). */
extern int64_t fl_count_parallel_rows;
/* Whether the indexes answer part of this scan (asks them if the scan has not yet). */
int fl_qscan_uses_index(fl_qscan *scan, bool *uses, fl_error *err);
/* What the scan did so far (complete after the end was reached). */
const fl_qscan_stats *fl_qscan_get_stats(const fl_qscan *scan);
void fl_qscan_close(fl_qscan *scan);

#endif /* FL_QUERY_QSCAN_H */
