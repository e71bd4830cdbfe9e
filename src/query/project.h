/*
 * project.h — a projection: the select list of a materialized view ("image_id, width * height AS area, *"),
 * compiled once against a source schema and applied to batches of source rows.
 *
 * Invariants:
 *  1. A bare column keeps its stored field exactly (type, nullability, nested shape) under its name or
 *     alias, and its values are copied, never converted. Any other expression needs an alias and is stored
 *     as fl_expr_field_for says (int64, float64, string, ...).
 *  2. Output names are distinct; `*` stands for every source column, in schema order.
 *  3. p->exprs.columns lists every source column the projection reads (what a caller must put in the
 *     input batches).
 */
#ifndef FL_QUERY_PROJECT_H
#define FL_QUERY_PROJECT_H

#include "expr.h"

typedef struct fl_proj_item {
    const char *name;           /* output column name (arena) */
    fl_expr_node *value;        /* bound against the source schema */
    bool column;                /* a bare column: copied as stored (invariant 1) */
} fl_proj_item;

typedef struct fl_projection {
    fl_expr exprs;              /* arena, source schema copy, columns read (invariant 3) */
    fl_proj_item *items;
    int32_t n_items;
    fl_schema *schema;          /* the output schema, one field per item */
} fl_projection;

/* Compiles a select list (NULL or blank: "*") against `source`. Errors are FL_EINVAL with the 1-based
 * position in `text`. Caller frees *out with fl_projection_free. */
int fl_projection_compile(const char *text, const fl_schema *source, fl_projection **out, fl_error *err);
void fl_projection_free(fl_projection *p);
/* Appends every row of `in` (holding the columns the projection reads, by name; row_ids for messages),
 * projected, to `out`, a batch of p->schema (not yet finished). */
int fl_projection_eval(const fl_projection *p, const fl_batch *in, fl_batch *out, fl_error *err);

#endif /* FL_QUERY_PROJECT_H */
