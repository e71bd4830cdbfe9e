/*
 * prune.h — deciding from page statistics that a filter cannot be true on a range of rows.
 *
 * The filter is evaluated abstractly: every column is replaced by what its statistics say about the rows
 * of the range (NULLs present, all NULL, min/max of the rest), and every node yields the set of outcomes it
 * could have there (TRUE, FALSE, NULL). A range whose filter cannot yield TRUE is skipped. The analysis
 * is sound (it may keep ranges without matches, never drops one with a match): anything it does not model
 * (functions, arithmetic, strings, lists) yields every outcome.
 *
 * Float statistics leave NaN out of min/max, and NaN compares above every number (eval.c), so a float
 * range always also admits "a value above max".
 */
#ifndef FL_QUERY_PRUNE_H
#define FL_QUERY_PRUNE_H

#include "expr.h"
#include "../format/format.h"

enum { FL_PV_TRUE = 1, FL_PV_FALSE = 2, FL_PV_NULL = 4, FL_PV_ALL = 7 };

/* What statistics say about one column over a range of rows. */
typedef struct fl_col_range {
    bool known;                 /* false: nothing is known (no statistics for this type) */
    bool all_null;
    bool has_nulls;
    bool has_minmax;            /* min/max of the non-NULL (non-NaN) values are set */
    fl_type_id type;            /* the stored type, which says how min/max are encoded (fl_page_stats) */
    uint64_t min, max;
} fl_col_range;

/* True when the filter's tree has at least one node the analysis can decide from statistics, so that
 * reading statistics is worth it. */
bool fl_prune_useful(const fl_expr *filter);

/* Possible outcomes (FL_PV_* bits) of boolean node `node`, given ranges[i] for filter->columns[i]. */
int fl_prune_outcomes(const fl_expr *filter, const fl_expr_node *node, const fl_col_range *ranges);

/* The range of a column described by one page's statistics over `rows` rows. */
void fl_col_range_from_page(fl_col_range *r, fl_type_id type, const fl_page_stats *stats, int64_t rows);

#endif /* FL_QUERY_PRUNE_H */
