/*
 * exec.c — the streaming operators of the SELECT engine and the planner that stacks them (select.h):
 * the source scan (the WHERE runs inside fl_qscan), a filter, unnest, projection and limit.
 *
 * Invariants:
 *  1. Each of these operators holds at most one batch (select.h invariant 3) and pulls from its child only
 *     when asked (invariant 4); Limit never pulls once its window is full.
 *  2. The scan reads exactly the source columns the plan's expressions name (the filter's own columns are
 *     the scan's business), so a query over two columns of a wide table reads two columns.
 *  3. Project evaluates every select item once per batch and checks the column it gets against the
 *     output schema fixed at translation; a mismatch is an error, never a malformed batch.
 *  4. Operator constructors take their child only on success (see the planner below).
 */
#include "select.h"

static int oom(fl_error *err) { return fl_error_set(err, FL_ENOMEM, "out of memory"); }

int fl_op_next(fl_op *op, fl_batch **out, fl_error *err) {
    *out = NULL;
    if (op->done) return FL_OK;
    for (;;) {
        int rc = op->next(op, out, err);
        if (rc != FL_OK) {
            fl_batch_free(*out);
            *out = NULL;
            return rc;
        }
        if (!*out) {
            op->done = true;
            return FL_OK;
        }
        if ((*out)->num_rows > 0) break;
        fl_batch_free(*out);
        *out = NULL;
    }
    op->rows_out += (*out)->num_rows;
    return FL_OK;
}

void fl_op_free_all(fl_op *op) {
    while (op) {
        fl_op *child = op->child;
        if (op->close) op->close(op);
        fl_schema_free(op->schema);
        fl_free(op);
        op = child;
    }
}

/* A zeroed operator of `size` bytes (a struct starting with fl_op) with a copy of `schema`. */
static void *op_new(size_t size, const char *kind, const fl_schema *schema, fl_op *child) {
    fl_op *op = fl_calloc(1, size);
    if (!op) return NULL;
    op->kind = kind;
    op->child = child;
    if (!(op->schema = fl_schema_copy(schema))) {
        fl_free(op);
        return NULL;
    }
    return op;
}

static void analyze_suffix(const fl_op *op, fl_buf *b, bool analyze) {
    if (analyze) fl_buf_printf(b, " (rows=%lld)", (long long)op->rows_out);
    fl_buf_put_u8(b, '\n');
}

/* ---- Scan: the filtered scan of the table, WHERE pushed down ---- */

typedef struct scan_op {
    fl_op op;
    fl_qscan *scan;
    const fl_query *q;
} scan_op;

static int scan_next(fl_op *op, fl_batch **out, fl_error *err) { return fl_qscan_next(((scan_op *)op)->scan, out, err); }

static void scan_describe(const fl_op *op, fl_buf *b, bool analyze, int depth) {
    const scan_op *s = (const scan_op *)op;
    const fl_query *q = s->q;
    if (q->where) {
        fl_plan_indent(b, depth++);
        fl_buf_printf(b, "Filter ");
        fl_expr_format(q->where->root, b);
        fl_buf_printf(b, " (in the scan)\n");
    }
    fl_plan_indent(b, depth);
    fl_buf_printf(b, "Scan ");
    fl_format_ident(b, fl_table_name(q->table));
    fl_buf_printf(b, "@v%llu columns=[", (unsigned long long)fl_table_version(q->table));
    for (int32_t i = 0; i < op->schema->n_fields; i++) {
        if (i) fl_buf_printf(b, ", ");
        fl_format_ident(b, op->schema->fields[i].name);
    }
    fl_buf_put_u8(b, ']');
    analyze_suffix(op, b, analyze);
    if (!analyze) return;
    const fl_qscan_stats *st = fl_qscan_get_stats(s->scan);
    fl_plan_indent(b, depth + 1);
    fl_buf_printf(b, "fragments: %u, pruned %u; pages: %llu, pruned %llu; index: %s; rows read %llu, matched %llu\n", st->fragments,
                  st->fragments_pruned, (unsigned long long)st->pages, (unsigned long long)st->pages_pruned,
                  st->index_used ? st->index_used : "none", (unsigned long long)st->rows_read, (unsigned long long)st->rows_matched);
}

static void scan_close(fl_op *op) { fl_qscan_close(((scan_op *)op)->scan); }

int fl_op_scan(fl_query *q, const char *const *columns, size_t n_columns, int64_t batch_size, fl_op **out, fl_error *err) {
    *out = NULL;
    fl_schema *proj = fl_schema_new();
    int rc = proj ? FL_OK : oom(err);
    for (size_t i = 0; rc == FL_OK && i < n_columns; i++)
        if (fl_schema_append_field(proj, &q->input->fields[fl_schema_find(q->input, columns[i])]) != FL_OK) rc = oom(err);
    scan_op *s = rc == FL_OK ? op_new(sizeof *s, "Scan", proj, NULL) : NULL;
    fl_schema_free(proj);
    if (!s) return rc != FL_OK ? rc : oom(err);
    s->q = q;
    s->op.next = scan_next;
    s->op.describe = scan_describe;
    s->op.close = scan_close;
    static const char *const none[1] = {NULL};
    rc = fl_qscan_open(q->table, q->where, n_columns ? columns : none, n_columns, q->with_row_ids, batch_size, &s->scan, err);
    if (rc != FL_OK) {
        fl_op_free_all(&s->op);
        return rc;
    }
    *out = &s->op;
    return FL_OK;
}

/* ---- Filter: keeps the rows where a predicate is true ---- */

typedef struct filter_op {
    fl_op op;
    fl_expr pred;               /* only root is used */
    const char *label;
    int64_t *rows;
    int64_t cap_rows;
} filter_op;

static int filter_next(fl_op *op, fl_batch **out, fl_error *err) {
    filter_op *f = (filter_op *)op;
    for (;;) {
        fl_batch *in;
        FL_RETURN_NOT_OK(fl_op_next(op->child, &in, err));
        if (!in) return FL_OK;
        if (in->num_rows > f->cap_rows) {
            int64_t *r = fl_realloc(f->rows, (size_t)in->num_rows * sizeof *r);
            if (!r) {
                fl_batch_free(in);
                return oom(err);
            }
            f->rows = r;
            f->cap_rows = in->num_rows;
        }
        int64_t n;
        int rc = fl_expr_filter_rows(&f->pred, in, f->rows, &n, err);
        if (rc == FL_OK && n == in->num_rows) {
            *out = in;
            return FL_OK;
        }
        if (rc == FL_OK && n > 0) rc = fl_batch_take_rows(in, op->schema, f->rows, n, out, err);
        fl_batch_free(in);
        if (rc != FL_OK || *out) return rc;
    }
}

static void filter_describe(const fl_op *op, fl_buf *b, bool analyze, int depth) {
    const filter_op *f = (const filter_op *)op;
    fl_plan_indent(b, depth);
    fl_buf_printf(b, "%s ", f->label);
    fl_expr_format(f->pred.root, b);
    analyze_suffix(op, b, analyze);
}

static void filter_close(fl_op *op) { fl_free(((filter_op *)op)->rows); }

int fl_op_filter(fl_op *child, const fl_expr_node *pred, const char *label, fl_op **out, fl_error *err) {
    filter_op *f = op_new(sizeof *f, "Filter", child->schema, child);
    *out = (fl_op *)f;
    if (!f) return oom(err);
    f->pred.root = (fl_expr_node *)pred;
    f->label = label;
    f->op.next = filter_next;
    f->op.describe = filter_describe;
    f->op.close = filter_close;
    return FL_OK;
}

/* ---- Unnest: one row per list element (no row for an empty or NULL list) ---- */

typedef struct unnest_op {
    fl_op op;
    const fl_query *q;
} unnest_op;

/* Appends row i of `in` n times and the n elements [start, start+n) of the list's values. */
static int explode_row(fl_batch *b, const fl_batch *in, int64_t i, const fl_array *elems, int64_t start, int64_t n) {
    int32_t last = b->n_columns - 1;
    for (int32_t c = 0; c < last; c++)
        for (int64_t k = 0; k < n; k++)
            if (fl_array_append_range(&b->columns[c], &in->columns[c], i, 1) != FL_OK) return FL_ENOMEM;
    return fl_array_append_range(&b->columns[last], elems, start, n) == FL_OK ? FL_OK : FL_ENOMEM;
}

static int unnest_next(fl_op *op, fl_batch **out, fl_error *err) {
    unnest_op *u = (unnest_op *)op;
    fl_batch *in;
    FL_RETURN_NOT_OK(fl_op_next(op->child, &in, err));
    if (!in) return FL_OK;
    fl_array list;
    int rc = fl_expr_eval(u->q->unnest_arg, in, &list, err);
    if (rc != FL_OK) {
        fl_batch_free(in);
        return rc;
    }
    fl_batch *b = fl_batch_new_empty(op->schema);
    if (!b) rc = oom(err);
    int64_t rows = 0;
    for (int64_t i = 0; rc == FL_OK && i < in->num_rows; i++) {
        if (fl_array_is_null(&list, i)) continue;
        int64_t s, e;
        fl_array_get_list(&list, i, &s, &e);
        if (e > s && explode_row(b, in, i, &list.children[0], s, e - s) != FL_OK) rc = oom(err);
        rows += e - s;
    }
    fl_array_clear(&list);
    fl_batch_free(in);
    if (rc != FL_OK) {
        fl_batch_free(b);
        return rc;
    }
    b->num_rows = rows;
    *out = b;
    return FL_OK;
}

static void unnest_describe(const fl_op *op, fl_buf *b, bool analyze, int depth) {
    fl_plan_indent(b, depth);
    fl_buf_printf(b, "Unnest ");
    fl_expr_format(((const unnest_op *)op)->q->unnest_arg, b);
    analyze_suffix(op, b, analyze);
}

int fl_op_unnest(fl_op *child, const fl_query *q, fl_op **out, fl_error *err) {
    /* The child's columns, then "$unnest" (the stage schema lists it last). */
    fl_schema *s = fl_schema_copy(child->schema);
    int rc = s ? fl_schema_append_field(s, &q->stage->fields[q->stage->n_fields - 1]) : FL_ENOMEM;
    unnest_op *u = rc == FL_OK ? op_new(sizeof *u, "Unnest", s, child) : NULL;
    fl_schema_free(s);
    if (!u) {
        *out = NULL;
        return oom(err);
    }
    u->q = q;
    u->op.next = unnest_next;
    u->op.describe = unnest_describe;
    *out = &u->op;
    return FL_OK;
}

/* ---- Project: evaluates the select list (and hidden sort keys) ---- */

typedef struct project_op {
    fl_op op;
    const fl_query *q;
    bool *moves;                /* per projected column: a bare column read by nothing else, moved not copied */
} project_op;

static int count_refs(const fl_expr_node *n, const char *name) {
    if (n->kind == FL_EXPR_COLUMN) return !strcmp(n->name, name);
    int refs = 0;
    for (int32_t i = 0; i < n->n_args; i++) refs += count_refs(n->args[i], name);
    return refs;
}

/* Evaluates projected column i into b (moving a bare column out of `in` when marked). */
static int project_column(const project_op *p, int32_t i, fl_batch *in, fl_batch *b, fl_error *err) {
    const fl_query *q = p->q;
    fl_array v;
    int k = p->moves[i] ? fl_schema_find(in->schema, q->proj[i]->name) : -1;
    if (k >= 0) {
        v = in->columns[k];
        memset(&in->columns[k], 0, sizeof in->columns[k]);
    } else FL_RETURN_NOT_OK(fl_node_eval(q->proj[i], in, &v, err));
    if (v.type != b->columns[i].type || v.length != in->num_rows) {
        int rc = fl_error_set(err, FL_EINVAL, "column \"%s\": evaluated %s, expected %s", q->names[i], fl_type_name(v.type),
                              fl_type_name(b->columns[i].type));
        fl_array_clear(&v);
        return rc;
    }
    fl_array_clear(&b->columns[i]);
    b->columns[i] = v;
    return FL_OK;
}

static int project_next(fl_op *op, fl_batch **out, fl_error *err) {
    project_op *p = (project_op *)op;
    const fl_query *q = p->q;
    fl_batch *in;
    FL_RETURN_NOT_OK(fl_op_next(op->child, &in, err));
    if (!in) return FL_OK;
    fl_batch *b = fl_batch_new_empty(op->schema);
    int rc = b ? FL_OK : oom(err);
    /* Computed columns first, while every input column is still in place; then the moves. */
    for (int pass = 0; pass < 2; pass++)
        for (int32_t i = 0; rc == FL_OK && i < q->n_proj; i++)
            if (p->moves[i] == (pass == 1)) rc = project_column(p, i, in, b, err);
    if (rc == FL_OK) {
        b->num_rows = in->num_rows;
        b->row_ids = in->row_ids;
        in->row_ids = NULL;
        *out = b;
    } else fl_batch_free(b);
    fl_batch_free(in);
    return rc;
}

static void project_describe(const fl_op *op, fl_buf *b, bool analyze, int depth) {
    const fl_query *q = ((const project_op *)op)->q;
    fl_plan_indent(b, depth);
    fl_buf_printf(b, "Project ");
    for (int32_t i = 0; i < q->n_proj; i++) {
        if (i) fl_buf_printf(b, ", ");
        fl_expr_format(q->proj[i], b);
        const fl_expr_node *n = q->proj[i];
        const char *shown = n->kind == FL_EXPR_COLUMN ? (n->name[0] == '$' && n->lit_string ? n->lit_string : n->name) : NULL;
        if (!shown || strcmp(shown, q->names[i])) {
            fl_buf_printf(b, " AS ");
            if (i >= q->n_out) fl_buf_printf(b, "%s", q->names[i]);
            else fl_format_ident(b, q->names[i]);
        }
    }
    analyze_suffix(op, b, analyze);
}

static void project_close(fl_op *op) { fl_free(((project_op *)op)->moves); }

int fl_op_project(fl_op *child, const fl_query *q, fl_op **out, fl_error *err) {
    *out = NULL;
    project_op *p = op_new(sizeof *p, "Project", q->output, child);
    if (!p) return oom(err);
    p->q = q;
    p->op.next = project_next;
    p->op.describe = project_describe;
    p->op.close = project_close;
    if (!(p->moves = fl_calloc((size_t)q->n_proj + 1, sizeof *p->moves))) {
        p->op.child = NULL;
        fl_op_free_all(&p->op);
        return oom(err);
    }
    /* A column selected as it is and read by no other item moves into the output (blobs are not copied). */
    for (int32_t i = 0; i < q->n_proj; i++) {
        const fl_expr_node *n = q->proj[i];
        if (n->kind != FL_EXPR_COLUMN) continue;
        int refs = 0;
        for (int32_t k = 0; k < q->n_proj; k++) refs += count_refs(q->proj[k], n->name);
        p->moves[i] = refs == 1;
    }
    *out = &p->op;
    return FL_OK;
}

/* ---- Limit: OFFSET and LIMIT; stops pulling once done (invariant 4) ---- */

typedef struct limit_op {
    fl_op op;
    const fl_query *q;
    int64_t to_skip;
    int64_t to_take;            /* -1: no limit */
} limit_op;

static int limit_next(fl_op *op, fl_batch **out, fl_error *err) {
    limit_op *l = (limit_op *)op;
    while (l->to_take != 0) {
        fl_batch *in;
        FL_RETURN_NOT_OK(fl_op_next(op->child, &in, err));
        if (!in) return FL_OK;
        if (l->to_skip >= in->num_rows) {
            l->to_skip -= in->num_rows;
            fl_batch_free(in);
            continue;
        }
        int64_t start = l->to_skip, n = in->num_rows - start;
        l->to_skip = 0;
        if (l->to_take >= 0 && n > l->to_take) n = l->to_take;
        if (l->to_take >= 0) l->to_take -= n;
        if (start == 0 && n == in->num_rows) {
            *out = in;
            return FL_OK;
        }
        int rc = fl_batch_slice(in, op->schema, start, n, out, err);
        fl_batch_free(in);
        return rc;
    }
    return FL_OK;
}

static void limit_describe(const fl_op *op, fl_buf *b, bool analyze, int depth) {
    const fl_query *q = ((const limit_op *)op)->q;
    fl_plan_indent(b, depth);
    if (q->has_limit) fl_buf_printf(b, "Limit %lld", (long long)q->limit);
    else fl_buf_printf(b, "Offset");
    if (q->offset) fl_buf_printf(b, "%s%lld", q->has_limit ? " offset " : " ", (long long)q->offset);
    analyze_suffix(op, b, analyze);
}

int fl_op_limit(fl_op *child, const fl_query *q, fl_op **out, fl_error *err) {
    limit_op *l = op_new(sizeof *l, "Limit", child->schema, child);
    if (!(*out = (fl_op *)l)) return oom(err);
    l->q = q;
    l->to_skip = q->offset;
    l->to_take = q->has_limit ? q->limit : -1;
    l->op.next = limit_next;
    l->op.describe = limit_describe;
    return FL_OK;
}

/* ---- the planner ----
 * Operator constructors take the child only on success: on failure *out is NULL and the caller still owns
 * (and frees) the stack below. */

static int add_column(const char ***names, size_t *n, size_t *cap, const char *name) {
    if (name[0] == '$') return FL_OK;
    for (size_t i = 0; i < *n; i++)
        if (!strcmp((*names)[i], name)) return FL_OK;
    if (!fl_reserve((void **)names, cap, *n + 1, sizeof **names, 8)) return FL_ENOMEM;
    (*names)[(*n)++] = name;
    return FL_OK;
}

static int collect_columns(const fl_expr_node *n, const char ***names, size_t *count, size_t *cap) {
    if (!n) return FL_OK;
    if (n->kind == FL_EXPR_COLUMN) return add_column(names, count, cap, n->name);
    for (int32_t i = 0; i < n->n_args; i++) FL_RETURN_NOT_OK(collect_columns(n->args[i], names, count, cap));
    return FL_OK;
}

/* The source columns the rest of the plan reads (the scan reads the filter's own columns itself). */
static int needed_columns(const fl_query *q, const char ***names, size_t *n) {
    size_t cap = 0;
    *names = NULL;
    *n = 0;
    int rc = collect_columns(q->unnest_arg, names, n, &cap);
    for (int32_t i = 0; rc == FL_OK && i < q->n_groups; i++) rc = collect_columns(q->groups[i], names, n, &cap);
    for (int32_t i = 0; rc == FL_OK && i < q->n_aggs; i++) rc = collect_columns(q->aggs[i].arg, names, n, &cap);
    for (int32_t i = 0; rc == FL_OK && !q->aggregate && i < q->n_proj; i++) rc = collect_columns(q->proj[i], names, n, &cap);
    return rc;
}

/* Rows per scan batch. A plan that only streams rows to a LIMIT asks for no more than it can return
 * (at least 256 per batch when a filter may drop most of them), so `SELECT image_bytes FROM t LIMIT 5`
 * reads five blobs, not a batch of them. */
static int64_t scan_batch_size(const fl_query *q) {
    int64_t size = q->batch_size > 0 ? q->batch_size : 8192;
    bool streaming = q->has_limit && !q->aggregate && !q->n_sort && !q->distinct && !q->unnest_arg;
    if (!streaming || q->limit > INT64_MAX - q->offset) return size;
    int64_t want = q->limit + q->offset;
    if (q->where && want < 256) want = 256;
    if (want < 1) want = 1;
    return want < size ? want : size;
}

static int plan_source(fl_query *q, fl_op **out, fl_error *err) {
    if (q->sub) {
        FL_RETURN_NOT_OK(fl_plan_build(q->sub, out, err));
        return q->where ? fl_op_filter(*out, q->where->root, "Filter", out, err) : FL_OK;
    }
    const char **names;
    size_t n;
    if (needed_columns(q, &names, &n) != FL_OK) {
        fl_free(names);
        return oom(err);
    }
    int rc = fl_op_scan(q, names, n, scan_batch_size(q), out, err);
    fl_free(names);
    return rc;
}

int fl_plan_build(fl_query *q, fl_op **out, fl_error *err) {
    fl_op *top = NULL;
    *out = NULL;
    int rc = plan_source(q, &top, err);
    if (rc != FL_OK) return rc;
    fl_op *next = NULL;
#define PUSH(call)                                                                                             \
    do {                                                                                                       \
        rc = (call);                                                                                           \
        if (rc != FL_OK) {                                                                                     \
            fl_op_free_all(top);                                                                               \
            return rc;                                                                                         \
        }                                                                                                      \
        top = next;                                                                                            \
        next = NULL;                                                                                           \
    } while (0)
    if (q->unnest_arg) PUSH(fl_op_unnest(top, q, &next, err));
    if (q->aggregate) PUSH(fl_op_aggregate(top, q, &next, err));
    if (q->having) PUSH(fl_op_filter(top, q->having, "Filter", &next, err));
    PUSH(fl_op_project(top, q, &next, err));
    if (q->distinct) PUSH(fl_op_distinct(top, q->n_out, &next, err));
    if (q->n_sort) {
        int64_t k = -1;
        if (q->has_limit && q->limit <= INT64_MAX - q->offset) k = q->limit + q->offset;
        PUSH(fl_op_sort(top, q, k, &next, err));
    }
    if (q->has_limit || q->offset) PUSH(fl_op_limit(top, q, &next, err));
#undef PUSH
    *out = top;
    return FL_OK;
}
