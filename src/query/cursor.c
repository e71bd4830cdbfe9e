/*
 * cursor.c — the public query API (framelake.h, "Query"): fl_sql and fl_sql_explain translate a SELECT
 * statement, fl_table_query builds the same kind of query from options; all three run it through the one
 * planner and executor of select.h, and a cursor pulls its batches.
 *
 * Invariants:
 *  1. A cursor owns its query (and through it the table handle fl_sql opened) and its operators; closing
 *     it frees operators first, since they point into the query.
 *  2. A cursor that failed keeps failing: after an error next returns the same code without running the
 *     plan again.
 */
#include "select.h"

#include <ctype.h>

struct fl_cursor {
    fl_query *q;
    fl_op *root;
    int failed;                 /* invariant 2 */
    fl_error failure;
};

static int oom(fl_error *err) { return fl_error_set(err, FL_ENOMEM, "out of memory"); }

static int cursor_new(fl_query *q, fl_cursor **out, fl_error *err) {
    *out = NULL;
    fl_cursor *c = fl_calloc(1, sizeof *c);
    if (!c) {
        fl_query_free(q);
        return oom(err);
    }
    c->q = q;
    int rc = fl_plan_build(q, &c->root, err);
    if (rc != FL_OK) {
        fl_cursor_close(c);
        return rc;
    }
    *out = c;
    return FL_OK;
}

const fl_schema *fl_cursor_schema(const fl_cursor *c) { return c->root->schema; }

int fl_cursor_next(fl_cursor *c, fl_batch **out, fl_error *err) {
    *out = NULL;
    if (c->failed) {
        if (err) *err = c->failure;
        return c->failed;
    }
    fl_error local = {0};
    int rc = fl_op_next(c->root, out, &local);
    if (rc != FL_OK) {
        c->failed = rc;
        c->failure = local;
    }
    if (err) *err = local;
    return rc;
}

void fl_cursor_close(fl_cursor *c) {
    if (!c) return;
    fl_op_free_all(c->root);
    fl_query_free(c->q);
    fl_free(c);
}

int fl_sql(fl_db *db, const char *sql, const fl_sql_options *opts, fl_cursor **out, fl_error *err) {
    *out = NULL;
    if (!db) return fl_error_set(err, FL_EINVAL, "no database");
    fl_query *q;
    FL_RETURN_NOT_OK(fl_select_translate(db, sql, opts, &q, err));
    return cursor_new(q, out, err);
}

int fl_sql_explain(fl_db *db, const char *sql, const fl_sql_options *opts, bool analyze, char **text, fl_error *err) {
    *text = NULL;
    fl_cursor *c;
    FL_RETURN_NOT_OK(fl_sql(db, sql, opts, &c, err));
    int rc = FL_OK;
    int64_t rows = 0;
    while (analyze) {
        fl_batch *b;
        if ((rc = fl_cursor_next(c, &b, err)) != FL_OK || !b) break;
        rows += b->num_rows;
        fl_batch_free(b);
    }
    fl_buf buf;
    fl_buf_init(&buf);
    if (rc == FL_OK) {
        fl_plan_describe(c->root, &buf, analyze);
        if (analyze) fl_buf_printf(&buf, "result: %lld rows\n", (long long)rows);
        if (!(*text = fl_buf_take_string(&buf))) rc = oom(err);
    }
    fl_buf_free(&buf);
    fl_cursor_close(c);
    return rc;
}

/* ---- fl_table_query: the same executor, the query built from options ---- */

static bool blank(const char *s) {
    if (!s) return true;
    while (isspace((unsigned char)*s)) s++;
    return *s == 0;
}

/* The column's field, or the message the scan gives for an unknown projection name. */
static int find_column(fl_table *t, const char *name, const fl_field **out, fl_error *err) {
    const fl_schema *s = fl_table_schema(t);
    int k = fl_schema_find(s, name);
    if (k >= 0) {
        *out = &s->fields[k];
        return FL_OK;
    }
    const char *best = NULL;
    size_t best_score = 0;
    for (int32_t j = 0; j < s->n_fields; j++) {
        size_t score = 0;
        while (name[score] && name[score] == s->fields[j].name[score]) score++;
        if (score > best_score) best_score = score, best = s->fields[j].name;
    }
    if (best && best_score >= 2)
        return fl_error_set(err, FL_ENOTFOUND, "table '%s': column '%s' not found (did you mean '%s'?)", fl_table_name(t), name, best);
    return fl_error_set(err, FL_ENOTFOUND, "table '%s': column '%s' not found", fl_table_name(t), name);
}

static int add_column_ref(fl_query *q, const char *name, fl_error *err) {
    const fl_field *f = &q->input->fields[fl_schema_find(q->input, name)];
    fl_expr_node *n = fl_arena_alloc(&q->arena, sizeof *n);
    if (!n) return oom(err);
    n->kind = FL_EXPR_COLUMN;
    n->name = f->name;
    n->type = fl_expr_type_of_field(f);
    if (n->type == FL_EXPR_T_LIST) n->elem = &f->children[0];
    FL_RETURN_NOT_OK(fl_query_add_proj(q, n, f->name, err));
    q->n_out = q->n_proj;
    return FL_OK;
}

static int query_from_options(fl_table *t, const fl_query_options *o, fl_query *q, fl_error *err) {
    q->table = t;
    q->table_name = fl_table_name(t);
    if (!(q->input = fl_schema_copy(fl_table_schema(t)))) return oom(err);
    if (!blank(o->where)) {
        int rc = fl_expr_compile_filter(o->where, q->input, &q->where, err);
        if (rc != FL_OK) return fl_error_prefix(err, rc, "where");
    }
    for (size_t i = 0; o->columns && i < o->n_columns; i++) {
        const fl_field *f = NULL;
        if (!o->columns[i]) return fl_error_set(err, FL_EINVAL, "column %zu is NULL", i);
        FL_RETURN_NOT_OK(find_column(t, o->columns[i], &f, err));
        FL_RETURN_NOT_OK(add_column_ref(q, f->name, err));
    }
    for (int32_t i = 0; !o->columns && i < q->input->n_fields; i++) FL_RETURN_NOT_OK(add_column_ref(q, q->input->fields[i].name, err));
    if (o->offset < 0) return fl_error_set(err, FL_EINVAL, "offset must not be negative");
    q->offset = o->offset;
    q->has_limit = o->limit_set && o->limit >= 0;
    q->limit = q->has_limit ? o->limit : 0;
    q->with_row_ids = o->with_row_ids;
    q->batch_size = o->batch_size > 0 ? o->batch_size : 0;
    int rc = fl_select_finish_plain(q, blank(o->order_by) ? NULL : o->order_by, err);
    return rc == FL_OK ? FL_OK : fl_error_prefix(err, rc, "order_by");
}

int fl_table_query(fl_table *t, const fl_query_options *opts, fl_cursor **out, fl_error *err) {
    *out = NULL;
    fl_query_options none = {0};
    fl_query *q = fl_calloc(1, sizeof *q);
    if (!q) return oom(err);
    fl_arena_init(&q->arena);
    int rc = query_from_options(t, opts ? opts : &none, q, err);
    if (rc != FL_OK) {
        fl_query_free(q);
        return rc;
    }
    return cursor_new(q, out, err);
}
