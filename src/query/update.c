/*
 * update.c — fl_table_update_where: "col = expr, …" on the rows a filter selects, as one commit.
 *
 * The assignments are parsed by the PostgreSQL grammar as the SET list of "UPDATE t SET <text>", each
 * value translated with the shared translator (translate.h) against the table's schema, so errors carry
 * positions in the user's SET text. Execution is one filtered scan (qscan.h) that reads the columns the
 * filter and the expressions need, evaluates every expression over each batch of matching rows (values
 * before the update), converts the results to the target columns' types and gathers them into one batch
 * keyed by row id for fl_table_update, which rewrites only those columns of the touched fragments.
 *
 * Invariants:
 *  1. Nothing is committed unless every value of every matching row converted: a type, range or
 *     not-null violation is an error naming the column and the row id.
 *  2. Row ids are preserved (fl_table_update's contract).
 */
#include "qscan.h"
#include "translate.h"

#include <ctype.h>
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define SET_PREFIX "UPDATE t SET "

typedef struct assignment {
    const fl_field *target;     /* the table's field */
    fl_expr_node *value;        /* over the table's schema */
    int32_t pos;                /* of the column name in the SET text */
} assignment;

typedef struct update_plan {
    fl_expr exprs;              /* arena of the value nodes; columns they read (record) */
    assignment *set;
    int32_t n_set;
} update_plan;

static void plan_clear(update_plan *p) {
    fl_arena_free(&p->exprs.arena);
    fl_free(p->exprs.columns);
    fl_schema_free(p->exprs.schema);
    fl_free(p->set);
}

/* Whether a value of IR type `from` may be stored in `target`. Lists and structs: only a column of the
 * very same type (checked by the caller through its field). */
static bool assignable(fl_expr_type from, const fl_field *target) {
    if (from == FL_EXPR_T_NULL) return true;
    fl_type_id t = target->type;
    if (fl_type_is_integer(t)) return from == FL_EXPR_T_INT;
    if (fl_type_is_float(t)) return from == FL_EXPR_T_INT || from == FL_EXPR_T_FLOAT;
    if (t == FL_TYPE_TIMESTAMP_MS) return from == FL_EXPR_T_TIMESTAMP || from == FL_EXPR_T_INT;
    if (t == FL_TYPE_BOOL) return from == FL_EXPR_T_BOOL;
    if (t == FL_TYPE_STRING) return from == FL_EXPR_T_STRING;
    if (t == FL_TYPE_BINARY) return from == FL_EXPR_T_BINARY || from == FL_EXPR_T_STRING;
    return false;
}

static bool same_field_type(const fl_field *a, const fl_field *b) {
    char *x = fl_field_type_format(a), *y = fl_field_type_format(b);
    bool same = x && y && !strcmp(x, y);
    free(x);
    free(y);
    return same;
}

/* Appends a batch's row ids to a growing list. */
static int append_ids(uint64_t **ids, size_t *n, size_t *cap, const fl_batch *b, fl_error *err) {
    if (!fl_reserve((void **)ids, cap, *n + (size_t)b->num_rows, sizeof **ids, 1024)) return fl_error_set(err, FL_ENOMEM, "out of memory");
    memcpy(*ids + *n, b->row_ids, (size_t)b->num_rows * sizeof **ids);
    *n += (size_t)b->num_rows;
    return FL_OK;
}

/* Parses and binds the SET list. */
static int compile_set(fl_table *t, const char *text, update_plan *p, fl_error *err) {
    const fl_schema *s = t->m->schema;
    memset(p, 0, sizeof *p);
    fl_arena_init(&p->exprs.arena);
    if (!(p->exprs.schema = fl_schema_copy(s))) return fl_error_set(err, FL_ENOMEM, "out of memory");
    fl_xlate x = {.arena = &p->exprs.arena, .schema = p->exprs.schema, .record = &p->exprs, .err = err};
    char *sql;
    fl_json *tree;
    int rc = fl_xlate_parse(&x, SET_PREFIX, text, &sql, &tree);
    const fl_json *upd = NULL, *targets = NULL;
    if (rc == FL_OK) {
        const fl_json *stmts = fl_json_get(tree, "stmts");
        const char *key = NULL;
        if (stmts && stmts->kind == FL_JSON_ARRAY && stmts->n == 1) upd = fl_json_single(fl_json_get(stmts->items[0], "stmt"), &key);
        if (!upd || !key || strcmp(key, "UpdateStmt")) rc = fl_error_set(err, FL_EINVAL, "--set is a list of column = expression (no ';')");
        for (size_t i = 0; rc == FL_OK && i < upd->n; i++)
            if (strcmp(upd->keys[i], "relation") && strcmp(upd->keys[i], "targetList"))
                rc = fl_error_set(err, FL_EINVAL, "--set is a list of column = expression (found %s; use --where for conditions)", upd->keys[i]);
        if (rc == FL_OK) targets = fl_json_get(upd, "targetList");
        if (rc == FL_OK && (!targets || targets->kind != FL_JSON_ARRAY || !targets->n)) rc = fl_error_set(err, FL_EINVAL, "--set is empty");
    }
    if (rc == FL_OK && !(p->set = fl_calloc(targets->n, sizeof *p->set))) rc = fl_error_set(err, FL_ENOMEM, "out of memory");
    for (size_t i = 0; rc == FL_OK && i < targets->n; i++) {
        const fl_json *res = fl_json_get(targets->items[i], "ResTarget");
        const char *name = res ? fl_json_get_string(res, "name") : NULL;
        int32_t pos = res ? fl_xlate_pos(&x, fl_json_get_int(res, "location", -1)) : 0;
        if (!name || fl_json_get(res, "indirection")) {
            rc = fl_xlate_error(&x, pos, "expected column = expression");
            break;
        }
        int k = fl_schema_find(p->exprs.schema, name);
        if (k < 0) {
            const char **names = fl_calloc((size_t)s->n_fields + 1, sizeof *names);
            if (!names) {
                rc = fl_error_set(err, FL_ENOMEM, "out of memory");
                break;
            }
            for (int32_t j = 0; j < s->n_fields; j++) names[j] = s->fields[j].name;
            const char *best = fl_closest_name(name, names, (size_t)s->n_fields);
            rc = best ? fl_xlate_error(&x, pos, "column \"%s\" not found; did you mean \"%s\"?", name, best)
                      : fl_xlate_error(&x, pos, "column \"%s\" not found", name);
            fl_free(names);
            break;
        }
        for (int32_t j = 0; j < p->n_set; j++)
            if (!strcmp(p->set[j].target->name, name)) rc = fl_xlate_error(&x, pos, "column \"%s\" is assigned twice", name);
        if (rc != FL_OK) break;
        assignment *a = &p->set[p->n_set];
        a->target = &p->exprs.schema->fields[k];
        a->pos = pos;
        const fl_json *val = fl_json_get(res, "val");
        if (!val) {
            rc = fl_xlate_error(&x, pos, "expected column = expression");
            break;
        }
        if ((rc = fl_xlate_expr(&x, val, &a->value)) != FL_OK) break;
        /* A time string for a timestamp column reads as in a filter's comparison. */
        if (a->target->type == FL_TYPE_TIMESTAMP_MS && a->value->kind == FL_EXPR_LITERAL && a->value->type == FL_EXPR_T_STRING &&
            (rc = fl_xlate_fold_time(&x, a->value)) != FL_OK)
            break;
        bool ok = assignable(a->value->type, a->target);
        if (!ok && a->value->kind == FL_EXPR_LIST_LITERAL && a->target->type == FL_TYPE_LIST) {
            /* A list literal fits a list column whose element type takes every item. */
            ok = true;
            for (int32_t j = 0; ok && j < a->value->n_args; j++) ok = assignable(a->value->args[j]->type, &a->target->children[0]);
        }
        if (!ok && a->value->kind == FL_EXPR_COLUMN) {
            int src = fl_schema_find(p->exprs.schema, a->value->name);
            ok = src >= 0 && same_field_type(&p->exprs.schema->fields[src], a->target);
        }
        if (!ok) {
            char *type = fl_field_type_format(a->target);
            rc = fl_xlate_error(&x, a->value->pos ? a->value->pos : pos, "cannot assign %s to column \"%s\" (%s)", fl_expr_type_name(a->value->type),
                                name, type ? type : "?");
            free(type);
            break;
        }
        p->n_set++;
    }
    fl_free(sql);
    return rc;
}

/* Appends value `at` of an evaluated array (canonical, expr.h invariant 3) to dst, typed like f: the target
 * column itself, or its element type for the items of a list literal. Errors name the column. */
static int store_value(const fl_field *column, const fl_field *f, const fl_array *v, int64_t at, uint64_t row_id, fl_array *dst, fl_error *err) {
    if (v->validity && !fl_bit_get(v->validity, at)) {
        if (!f->nullable) return fl_error_set(err, FL_EINVAL, "column \"%s\" is not nullable: row %llu would be NULL", column->name, (unsigned long long)row_id);
        return fl_array_append_null(dst) == FL_OK ? FL_OK : fl_error_set(err, FL_ENOMEM, "out of memory");
    }
    int rc;
    fl_type_id t = f->type;
    if (fl_type_is_integer(t)) {
        int64_t x = ((const int64_t *)v->values)[at];
        bool fits;
        switch (t) {
        case FL_TYPE_INT8: fits = x >= INT8_MIN && x <= INT8_MAX; break;
        case FL_TYPE_INT16: fits = x >= INT16_MIN && x <= INT16_MAX; break;
        case FL_TYPE_INT32: fits = x >= INT32_MIN && x <= INT32_MAX; break;
        case FL_TYPE_UINT8: fits = x >= 0 && x <= UINT8_MAX; break;
        case FL_TYPE_UINT16: fits = x >= 0 && x <= UINT16_MAX; break;
        case FL_TYPE_UINT32: fits = x >= 0 && x <= (int64_t)UINT32_MAX; break;
        case FL_TYPE_UINT64: fits = x >= 0; break;
        default: fits = true; break;
        }
        if (!fits) {
            char *type = fl_field_type_format(column);
            rc = fl_error_set(err, FL_EINVAL, "value %lld does not fit column \"%s\" (%s) at row %llu", (long long)x, column->name, type ? type : "?",
                              (unsigned long long)row_id);
            free(type);
            return rc;
        }
        rc = fl_type_is_signed(t) ? fl_array_append_int(dst, x) : fl_array_append_uint(dst, (uint64_t)x);
    } else if (fl_type_is_float(t)) {
        double x = v->type == FL_TYPE_FLOAT64 ? ((const double *)v->values)[at] : (double)((const int64_t *)v->values)[at];
        if (t == FL_TYPE_FLOAT32 && isfinite(x) && fabs(x) > FLT_MAX) {
            char *type = fl_field_type_format(column);
            rc = fl_error_set(err, FL_EINVAL, "value %g does not fit column \"%s\" (%s) at row %llu", x, column->name, type ? type : "?",
                              (unsigned long long)row_id);
            free(type);
            return rc;
        }
        rc = fl_array_append_float(dst, x);
    } else if (t == FL_TYPE_TIMESTAMP_MS) {
        rc = fl_array_append_int(dst, ((const int64_t *)v->values)[at]);
    } else if (t == FL_TYPE_BOOL && v->type == FL_TYPE_BOOL) {
        rc = fl_array_append_bool(dst, fl_bit_get(v->values, at));
    } else if ((t == FL_TYPE_STRING || t == FL_TYPE_BINARY) && (v->type == FL_TYPE_STRING || v->type == FL_TYPE_BINARY)) {
        size_t n = (size_t)(v->offsets[at + 1] - v->offsets[at]);
        rc = fl_array_append_bytes(dst, (const uint8_t *)v->values + v->offsets[at], n);
    } else {
        rc = fl_array_append_from(dst, v, at); /* same-typed column (checked at bind) */
    }
    return rc == FL_OK ? FL_OK : fl_error_set(err, FL_ENOMEM, "out of memory");
}

int fl_expr_store(const fl_field *target, const fl_expr_node *value, const fl_array *v, int64_t i, uint64_t row_id, fl_array *dst, fl_error *err) {
    int64_t at = v->length == 1 ? 0 : i;
    if (value->kind != FL_EXPR_LIST_LITERAL) return store_value(target, target, v, at, row_id, dst, err);
    /* A list literal holds canonical items (int64, float64, …): each is converted to the element type. */
    int64_t s, e;
    fl_array_get_list(v, at, &s, &e);
    for (int64_t k = s; k < e; k++)
        FL_RETURN_NOT_OK(store_value(target, &target->children[0], &v->children[0], k, row_id, &dst->children[0], err));
    return fl_array_end_list(dst) == FL_OK ? FL_OK : fl_error_set(err, FL_ENOMEM, "out of memory");
}

/* Appends row i of an assignment's evaluated value (a constant: its one value) to the target column. */
static int store(const assignment *a, const fl_array *v, int64_t i, uint64_t row_id, fl_array *dst, fl_error *err) {
    return fl_expr_store(a->target, a->value, v, i, row_id, dst, err);
}

int fl_table_update_where(fl_table *t, const char *set, const char *where, int64_t *updated, fl_error *err) {
    if (updated) *updated = 0;
    FL_RETURN_NOT_OK(fl_table_check_writable(t, "update", err));
    if (!set) return fl_error_set(err, FL_EINVAL, "--set is empty");
    update_plan p;
    int rc = compile_set(t, set, &p, err);
    fl_expr *filter = NULL;
    bool all = !where;
    if (where) {
        all = true;
        for (const char *c = where; *c; c++) all &= isspace((unsigned char)*c) != 0;
    }
    if (rc == FL_OK && !all) rc = fl_expr_compile_filter(where, t->m->schema, &filter, err);
    /* The update batch: one column per assignment, row ids of the matching rows. */
    fl_schema *us = NULL;
    fl_batch *ub = NULL;
    uint64_t *ids = NULL;
    size_t n_ids = 0, cap_ids = 0;
    if (rc == FL_OK && !(us = fl_calloc(1, sizeof *us))) rc = fl_error_set(err, FL_ENOMEM, "out of memory");
    for (int32_t i = 0; rc == FL_OK && i < p.n_set; i++)
        if (fl_schema_append_field(us, p.set[i].target) != FL_OK) rc = fl_error_set(err, FL_ENOMEM, "out of memory");
    if (rc == FL_OK && !(ub = fl_batch_new_empty(us))) rc = fl_error_set(err, FL_ENOMEM, "out of memory");
    fl_qscan *q = NULL;
    static const char *const none[1] = {NULL};
    if (rc == FL_OK)
        rc = fl_qscan_open(t, filter, p.exprs.n_columns ? p.exprs.columns : none, (size_t)p.exprs.n_columns, true, 0, &q, err);
    fl_array *vals = rc == FL_OK ? fl_calloc((size_t)p.n_set + 1, sizeof *vals) : NULL;
    if (rc == FL_OK && !vals) rc = fl_error_set(err, FL_ENOMEM, "out of memory");
    while (rc == FL_OK) {
        fl_batch *b;
        if ((rc = fl_qscan_next(q, &b, err)) != FL_OK || !b) break;
        for (int32_t k = 0; rc == FL_OK && k < p.n_set; k++) rc = fl_expr_eval(p.set[k].value, b, &vals[k], err);
        for (int32_t k = 0; rc == FL_OK && k < p.n_set; k++)
            for (int64_t i = 0; rc == FL_OK && i < b->num_rows; i++) rc = store(&p.set[k], &vals[k], i, b->row_ids[i], &ub->columns[k], err);
        if (rc == FL_OK) rc = append_ids(&ids, &n_ids, &cap_ids, b, err);
        for (int32_t k = 0; k < p.n_set; k++) fl_array_clear(&vals[k]);
        fl_batch_free(b);
    }
    fl_qscan_close(q);
    if (rc == FL_OK && n_ids) {
        rc = fl_batch_finish(ub, err);
        if (rc == FL_OK) rc = fl_batch_set_row_ids(ub, ids, n_ids) == FL_OK ? FL_OK : fl_error_set(err, FL_ENOMEM, "out of memory");
        if (rc == FL_OK) rc = fl_table_update(t, ub, err);
    }
    if (rc == FL_OK && updated) *updated = (int64_t)n_ids;
    fl_free(vals);
    fl_free(ids);
    fl_batch_free(ub);
    fl_schema_free(us);
    fl_expr_free(filter);
    plan_clear(&p);
    return rc;
}

/* ---- computed columns ---- */

int fl_expr_field_for(const fl_expr_node *root, const fl_schema *schema, const char *name, fl_field *out, fl_error *err) {
    memset(out, 0, sizeof *out);
    switch (root->type) {
    case FL_EXPR_T_BOOL: out->type = FL_TYPE_BOOL; break;
    case FL_EXPR_T_INT: out->type = FL_TYPE_INT64; break;
    case FL_EXPR_T_FLOAT: out->type = FL_TYPE_FLOAT64; break;
    case FL_EXPR_T_STRING: out->type = FL_TYPE_STRING; break;
    case FL_EXPR_T_BINARY: out->type = FL_TYPE_BINARY; break;
    case FL_EXPR_T_TIMESTAMP: out->type = FL_TYPE_TIMESTAMP_MS; break;
    case FL_EXPR_T_LIST:
    case FL_EXPR_T_OTHER: {
        /* Lists and nested values keep the shape of where they come from: a column, or a list's items. */
        if (root->kind == FL_EXPR_COLUMN) {
            int k = fl_schema_find(schema, root->name);
            if (k < 0) return fl_error_set(err, FL_EINVAL, "column \"%s\" not found", root->name);
            if (fl_field_copy_into(out, &schema->fields[k]) != FL_OK) return fl_error_set(err, FL_ENOMEM, "out of memory");
            fl_free(out->name);
            out->name = NULL;
            break;
        }
        if (root->type != FL_EXPR_T_LIST || !root->elem) return fl_error_set(err, FL_EINVAL, "cannot store the value of this expression in a column");
        if (!(out->children = fl_calloc(1, sizeof *out->children))) return fl_error_set(err, FL_ENOMEM, "out of memory");
        out->type = FL_TYPE_LIST;
        out->n_children = 1;
        if (fl_field_copy_into(&out->children[0], root->elem) != FL_OK) return fl_error_set(err, FL_ENOMEM, "out of memory");
        break;
    }
    default:
        return fl_error_set(err, FL_EINVAL, "the expression is the constant NULL: CAST it to give the column a type (CAST(NULL AS int))");
    }
    out->nullable = true;
    if (!(out->name = fl_strdup(name))) return fl_error_set(err, FL_ENOMEM, "out of memory");
    return FL_OK;
}

int fl_table_add_expr_column(fl_table *t, const char *name, const char *expr, fl_error *err) {
    FL_RETURN_NOT_OK(fl_table_check_writable(t, "adding columns", err));
    if (!name || !*name) return fl_error_set(err, FL_EINVAL, "add-column: the column needs a name");
    if (fl_schema_find(t->m->schema, name) >= 0) return fl_error_set(err, FL_EEXIST, "table '%s': column '%s' already exists", t->name, name);
    fl_expr *e;
    FL_RETURN_NOT_OK(fl_expr_compile_value(expr ? expr : "", t->m->schema, &e, err));
    fl_schema *cs = fl_calloc(1, sizeof *cs);
    fl_field f = {0};
    int rc = cs ? fl_expr_field_for(e->root, e->schema, name, &f, err) : fl_error_set(err, FL_ENOMEM, "out of memory");
    if (rc == FL_OK && (fl_field_set_metadata(&f, "expr", expr) != FL_OK || fl_schema_append_field(cs, &f) != FL_OK))
        rc = fl_error_set(err, FL_ENOMEM, "out of memory");
    fl_field_clear(&f);
    /* Every live row's value, in storage order, keyed by row id. */
    fl_batch *vb = rc == FL_OK ? fl_batch_new_empty(cs) : NULL;
    if (rc == FL_OK && !vb) rc = fl_error_set(err, FL_ENOMEM, "out of memory");
    uint64_t *ids = NULL;
    size_t n_ids = 0, cap_ids = 0;
    fl_qscan *q = NULL;
    static const char *const none[1] = {NULL};
    if (rc == FL_OK) rc = fl_qscan_open(t, NULL, e->n_columns ? e->columns : none, (size_t)e->n_columns, true, 0, &q, err);
    assignment a = {.target = rc == FL_OK ? &cs->fields[0] : NULL, .value = e->root};
    while (rc == FL_OK) {
        fl_batch *b;
        if ((rc = fl_qscan_next(q, &b, err)) != FL_OK || !b) break;
        fl_array v;
        memset(&v, 0, sizeof v);
        rc = fl_expr_eval(e->root, b, &v, err);
        for (int64_t i = 0; rc == FL_OK && i < b->num_rows; i++) rc = store(&a, &v, i, b->row_ids[i], &vb->columns[0], err);
        if (rc == FL_OK) rc = append_ids(&ids, &n_ids, &cap_ids, b, err);
        fl_array_clear(&v);
        fl_batch_free(b);
    }
    fl_qscan_close(q);
    if (rc == FL_OK) rc = fl_batch_finish(vb, err);
    if (rc == FL_OK && n_ids) rc = fl_batch_set_row_ids(vb, ids, n_ids) == FL_OK ? FL_OK : fl_error_set(err, FL_ENOMEM, "out of memory");
    if (rc == FL_OK) rc = fl_table_add_columns(t, cs, n_ids ? vb : NULL, err);
    fl_free(ids);
    fl_batch_free(vb);
    fl_schema_free(cs);
    fl_expr_free(e);
    return rc;
}
