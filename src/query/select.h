/*
 * select.h — the SELECT engine: a translated query (fl_query, built by select.c from SQL or by cursor.c from
 * fl_query_options), the operators that execute it (exec.c, aggregate.c, sort.c), the row-value helpers they
 * share (values.c) and the text of expressions and plans (describe.c).
 *
 * A query runs as a pull pipeline of operators, each stage a function of the one below:
 *
 *     Limit ← Sort | TopK ← Distinct ← Project ← [Filter HAVING ← Aggregate] ← [Unnest] ← Scan (WHERE pushed)
 *                                                                                        | Filter ← subquery
 *
 * Invariants:
 *  1. Every operator produces batches of its output schema (op->schema, fixed before the first batch);
 *     a batch never has zero rows; the end is *out == NULL, after which next keeps returning NULL.
 *  2. Expressions are evaluated by fl_expr_eval over whole batches; operators loop over rows only to move
 *     values (hashing, comparing, copying), never through an expression tree.
 *  3. Only Aggregate, Distinct and Sort hold state that grows with the input (groups, distinct rows, all
 *     rows); TopK holds at most k + one batch of rows; every other operator holds at most one batch.
 *  4. Limit stops pulling as soon as it has its rows, so a streaming plan reads only what it returns.
 *  5. Internal columns are named with a leading '$' ("$g0" group key, "$a0" aggregate, "$unnest",
 *     "$s0" hidden sort key), which no table column can be (table names are [A-Za-z0-9_.-]).
 */
#ifndef FL_QUERY_SELECT_H
#define FL_QUERY_SELECT_H

#include "qscan.h"
#include "translate.h"

/* Projected columns (visible and hidden) and aggregates a query may have, as in PostgreSQL's 1664 target
 * entries: bounds the work a hostile statement can ask for. */
#define FL_SELECT_MAX_COLUMNS 1664

/* ---- the translated query ---- */

typedef enum fl_agg_kind { FL_AGG_COUNT_STAR, FL_AGG_COUNT, FL_AGG_SUM, FL_AGG_AVG, FL_AGG_MIN, FL_AGG_MAX } fl_agg_kind;

typedef struct fl_agg_spec {
    fl_agg_kind kind;
    bool distinct;              /* count(DISTINCT x): each value counts once per group */
    fl_expr_node *arg;          /* over the aggregate's input; NULL for count(*) */
    fl_expr_type type;          /* result type */
    const char *text;           /* "count(*)", "sum(x)": names and plans */
} fl_agg_spec;

typedef struct fl_sort_key {
    int32_t column;             /* projected column (visible or hidden) */
    bool desc;
    bool nulls_first;
    const char *text;           /* for plans */
} fl_sort_key;

typedef struct fl_query {
    fl_arena arena;             /* nodes, names and texts of this query level */
    /* source: a table (by name for SQL, or a handle) or a subquery */
    const char *table_name;
    fl_table *table;            /* the handle used (owned when owns_table) */
    bool owns_table;
    bool version_set;
    uint64_t version;
    const char *tag;
    int32_t table_pos;          /* position of the table name in the text, for messages */
    struct fl_query *sub;       /* FROM (subquery); owned */
    fl_schema *input;           /* schema of source rows (copy); nodes point into it */
    fl_expr *where;             /* over input: pushed into the scan (table) or a Filter (subquery) */
    /* unnest(list) in the select list: rows explode before grouping and projection */
    fl_expr_node *unnest_arg;
    fl_schema *stage;           /* input columns plus "$unnest": what groups, aggregates and select items read */
    /* aggregation */
    bool aggregate;
    int32_t n_groups;
    fl_expr_node **groups;      /* over `stage` */
    const char **group_texts;
    int32_t n_aggs, cap_aggs;
    fl_agg_spec *aggs;
    fl_expr_node *having;       /* over the aggregate output ($gK, $aK) */
    fl_schema *agg_out;         /* the aggregate's output: "$gK" keys then "$aK" results */
    /* projection */
    int32_t n_out;              /* visible columns */
    int32_t n_proj;             /* visible plus hidden sort keys */
    int32_t cap_proj;
    fl_expr_node **proj;
    const char **names;         /* output names (hidden: "$sK") */
    fl_schema *output;          /* n_proj fields: what Project produces (the cursor shows the first n_out) */
    bool distinct;
    int32_t n_sort;
    fl_sort_key *sort;
    bool has_limit;
    int64_t limit, offset;
    bool with_row_ids;
    int64_t batch_size;
} fl_query;

/* Frees a query, its subquery and the table it owns. NULL is a no-op. */
void fl_query_free(fl_query *q);
/* Appends a projected column (the name is kept, not copied); FL_EINVAL past FL_SELECT_MAX_COLUMNS. */
int fl_query_add_proj(fl_query *q, fl_expr_node *node, const char *name, fl_error *err);

/* Translates one SELECT statement (select.c). `opts` may be NULL. The FROM table is opened from `db`
 * (at @N, or the version/tag of opts) and owned by the query. Caller frees *out with fl_query_free. */
int fl_select_translate(fl_db *db, const char *sql, const fl_sql_options *opts, fl_query **out, fl_error *err);
/* Completes a query whose source, filter and projection (bare columns) are set: translates the ORDER BY
 * list `order_by` ("a DESC, b"; may be NULL) — keys naming output columns use them, others become hidden
 * columns — and builds the stage and output schemas (select.c). */
int fl_select_finish_plain(fl_query *q, const char *order_by, fl_error *err);

/* ---- operators ---- */

typedef struct fl_op fl_op;
struct fl_op {
    const char *kind;                   /* "Scan", "Project", ... */
    fl_schema *schema;                  /* output schema (invariant 1); owned */
    fl_op *child;                       /* input operator, or NULL for a source */
    int64_t rows_out;                   /* rows produced so far */
    bool done;
    int (*next)(fl_op *op, fl_batch **out, fl_error *err);
    void (*describe)(const fl_op *op, fl_buf *b, bool analyze, int depth); /* its line(s), indented */
    void (*close)(fl_op *op);           /* frees what the operator holds (not the child) */
};

/* Builds the operator pipeline of a query (and its subquery). Caller frees with fl_op_free_all. */
int fl_plan_build(fl_query *q, fl_op **out, fl_error *err);
/* Next batch of an operator: calls op->next, counts rows, enforces invariant 1. */
int fl_op_next(fl_op *op, fl_batch **out, fl_error *err);
/* Frees an operator and everything below it. */
void fl_op_free_all(fl_op *op);
/* The plan as indented text, one operator per line (after running it, with counters when analyze). */
void fl_plan_describe(const fl_op *op, fl_buf *b, bool analyze);
/* Appends the "  " indentation of a plan line. */
void fl_plan_indent(fl_buf *b, int depth);

/* Operators (exec.c): the source scan with the pushed-down filter, a filter, unnest, projection, limit. */
int fl_op_scan(fl_query *q, const char *const *columns, size_t n_columns, int64_t batch_size, fl_op **out, fl_error *err);
int fl_op_filter(fl_op *child, const fl_expr_node *pred, const char *label, fl_op **out, fl_error *err);
int fl_op_unnest(fl_op *child, const fl_query *q, fl_op **out, fl_error *err);
int fl_op_project(fl_op *child, const fl_query *q, fl_op **out, fl_error *err);
int fl_op_limit(fl_op *child, const fl_query *q, fl_op **out, fl_error *err);
/* aggregate.c: hash aggregation (and the distinct-rows operator, which shares its hash table). */
int fl_op_aggregate(fl_op *child, const fl_query *q, fl_op **out, fl_error *err);
int fl_op_distinct(fl_op *child, int32_t n_columns, fl_op **out, fl_error *err);
/* sort.c: a full sort, or a top-k (bounded heap of k rows) when k >= 0. Output drops hidden columns. */
int fl_op_sort(fl_op *child, const fl_query *q, int64_t k, fl_op **out, fl_error *err);

/* ---- batches and row values (values.c) ---- */

/* The field a node's evaluated column has (bare columns keep their input field, renamed). */
int fl_node_field(const fl_expr_node *node, const fl_schema *input, const char *name, fl_field *out);
/* Evaluates a node; bare columns are copied as stored (keeping their type), others canonical. */
int fl_node_eval(const fl_expr_node *node, const fl_batch *batch, fl_array *out, fl_error *err);
/* A new batch of `schema` holding rows[0..n) of `in` (all columns, and row ids when present). */
int fl_batch_take_rows(const fl_batch *in, const fl_schema *schema, const int64_t *rows, int64_t n, fl_batch **out, fl_error *err);
/* A new batch with rows [start, start+n) of the first n_columns columns of `in`. */
int fl_batch_slice(const fl_batch *in, const fl_schema *schema, int64_t start, int64_t n, fl_batch **out, fl_error *err);

/* Total order of two non-NULL values of arrays of the same type (numbers by value, strings and binaries by
 * bytes, booleans false < true, lists lexicographically; NaN above every number). */
int fl_value_compare(const fl_array *a, int64_t i, const fl_array *b, int64_t j);
/* Hash of a value (NULL included) consistent with fl_value_compare == 0. */
uint64_t fl_value_hash(const fl_array *a, int64_t i);
/* Equality for grouping: NULL equals NULL. */
bool fl_value_equal(const fl_array *a, int64_t i, const fl_array *b, int64_t j);

/* A hash set of rows (tuples of n_cols values); stored rows are kept in arrays that the caller may take. */
typedef struct fl_rowset {
    int32_t n_cols;
    fl_array *cols;             /* stored rows, one array per column */
    int64_t n_rows;
    uint64_t *hashes;           /* per stored row */
    size_t cap_hashes;
    int64_t *slots;             /* open addressing: stored row + 1, 0 = empty */
    uint64_t n_slots;           /* a power of two, at least twice n_rows */
} fl_rowset;

int fl_rowset_init(fl_rowset *s, const fl_field *fields, int32_t n_cols);
void fl_rowset_clear(fl_rowset *s);
/* Finds row `row` of the arrays `cols` (n_cols of them) or adds it: its stored index in *index, *added
 * when it is new. */
int fl_rowset_insert(fl_rowset *s, const fl_array *const *cols, int64_t row, int64_t *index, bool *added);

/* ---- text (describe.c) ---- */

/* SQL text of an expression ("lower(weather) = 'rainy'"); internal columns print as what they stand for. */
void fl_expr_format(const fl_expr_node *node, fl_buf *b);
/* The same in a new arena string; NULL on OOM. */
const char *fl_expr_text(fl_arena *arena, const fl_expr_node *node);
/* An identifier, double-quoted when it is not a plain lower-case name. */
void fl_format_ident(fl_buf *b, const char *name);

#endif /* FL_QUERY_SELECT_H */
