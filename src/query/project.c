/*
 * project.c — compiling a select list into a projection and applying it to batches (project.h).
 *
 * The list is parsed by the PostgreSQL grammar as "SELECT <text>" and each target translated with the
 * shared translator against the source schema, so errors carry positions in the user's text.
 */
#include "project.h"
#include "translate.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>


void fl_projection_free(fl_projection *p) {
    if (!p) return;
    fl_arena_free(&p->exprs.arena);
    fl_free(p->exprs.columns);
    fl_schema_free(p->exprs.schema);
    fl_schema_free(p->schema);
    fl_free(p->items);
    fl_free(p);
}

/* Adds a source column to the columns read, once. */
static int record(fl_projection *p, const char *name) {
    fl_expr *e = &p->exprs;
    for (int32_t i = 0; i < e->n_columns; i++)
        if (!strcmp(e->columns[i], name)) return FL_OK;
    size_t cap = (size_t)e->n_columns;
    if (!fl_reserve((void **)&e->columns, &cap, cap + 1, sizeof *e->columns, 8)) return FL_ENOMEM;
    e->columns[e->n_columns++] = name;
    return FL_OK;
}

/* Adds an output column; names must be distinct (invariant 2). */
static int add_item(fl_projection *p, fl_xlate *x, const char *name, fl_expr_node *value, int32_t pos) {
    for (int32_t i = 0; i < p->n_items; i++)
        if (!strcmp(p->items[i].name, name)) return fl_xlate_error(x, pos, "column \"%s\" appears twice in the select list", name);
    size_t cap = (size_t)p->n_items;
    if (!fl_reserve((void **)&p->items, &cap, cap + 1, sizeof *p->items, 8)) return fl_error_set(x->err, FL_ENOMEM, "out of memory");
    fl_field f;
    int rc;
    int k = value->kind == FL_EXPR_COLUMN ? fl_schema_find(p->exprs.schema, value->name) : -1;
    if (k >= 0) {
        rc = fl_field_copy_into(&f, &p->exprs.schema->fields[k]) == FL_OK ? FL_OK : fl_error_set(x->err, FL_ENOMEM, "out of memory");
        if (rc == FL_OK) {
            fl_free(f.name);
            if (!(f.name = fl_strdup(name))) rc = fl_error_set(x->err, FL_ENOMEM, "out of memory");
        }
    } else {
        fl_error why = {0};
        rc = fl_expr_field_for(value, p->exprs.schema, name, &f, &why);
        if (rc == FL_EINVAL) rc = fl_xlate_error(x, value->pos ? value->pos : pos, "%s", why.message);
        else if (rc != FL_OK) rc = fl_error_set(x->err, rc, "%s", why.message);
    }
    if (rc != FL_OK) {
        fl_field_clear(&f);
        return rc;
    }
    rc = fl_schema_append_field(p->schema, &f) == FL_OK ? FL_OK : fl_error_set(x->err, FL_ENOMEM, "out of memory");
    fl_field_clear(&f);
    if (rc == FL_OK) p->items[p->n_items++] = (fl_proj_item){name, value, k >= 0};
    return rc;
}

int fl_projection_compile(const char *text, const fl_schema *source, fl_projection **out, fl_error *err) {
    *out = NULL;
    if (fl_blank(text)) text = "*";
    fl_projection *p = fl_calloc(1, sizeof *p);
    if (!p) return fl_error_set(err, FL_ENOMEM, "out of memory");
    fl_arena_init(&p->exprs.arena);
    p->exprs.schema = fl_schema_copy(source);
    p->schema = fl_calloc(1, sizeof *p->schema);
    if (!p->exprs.schema || !p->schema) {
        fl_projection_free(p);
        return fl_error_set(err, FL_ENOMEM, "out of memory");
    }
    fl_xlate x = {.arena = &p->exprs.arena, .schema = p->exprs.schema, .record = &p->exprs, .err = err};
    char *sql;
    fl_json *tree;
    int rc = fl_xlate_parse(&x, "SELECT ", text, &sql, &tree);
    const fl_json *sel = NULL, *targets = NULL;
    if (rc == FL_OK) {
        const fl_json *stmts = fl_json_get(tree, "stmts");
        const char *key = NULL;
        if (stmts && stmts->kind == FL_JSON_ARRAY && stmts->n == 1) sel = fl_json_single(fl_json_get(stmts->items[0], "stmt"), &key);
        if (!sel || !key || strcmp(key, "SelectStmt")) rc = fl_error_set(err, FL_EINVAL, "the select list is columns and expressions, comma-separated (no ';')");
        for (size_t i = 0; rc == FL_OK && i < sel->n; i++)
            if (strcmp(sel->keys[i], "targetList") && strcmp(sel->keys[i], "limitOption") && strcmp(sel->keys[i], "op"))
                rc = fl_error_set(err, FL_EINVAL, "the select list is columns and expressions only (found %s; the view's WHERE is separate)", sel->keys[i]);
        if (rc == FL_OK) targets = fl_json_get(sel, "targetList");
        if (rc == FL_OK && (!targets || targets->kind != FL_JSON_ARRAY || !targets->n)) rc = fl_error_set(err, FL_EINVAL, "the select list is empty");
    }
    for (size_t i = 0; rc == FL_OK && i < targets->n; i++) {
        const fl_json *rt = fl_json_get(targets->items[i], "ResTarget");
        const fl_json *val = rt ? fl_json_get(rt, "val") : NULL;
        int32_t pos = rt ? fl_xlate_pos(&x, fl_json_get_int(rt, "location", -1)) : 0;
        if (!val) {
            rc = fl_xlate_error(&x, pos, "bad select list");
            break;
        }
        const fl_json *fields = fl_json_get(fl_json_get(val, "ColumnRef"), "fields");
        if (fields && fields->kind == FL_JSON_ARRAY && fields->n == 1 && fl_json_get(fields->items[0], "A_Star")) {
            for (int32_t k = 0; rc == FL_OK && k < p->exprs.schema->n_fields; k++) {
                const fl_field *f = &p->exprs.schema->fields[k];
                fl_expr_node *n = fl_xlate_node(&x, FL_EXPR_COLUMN, pos, 0);
                if (!n || record(p, f->name) != FL_OK) {
                    rc = fl_error_set(err, FL_ENOMEM, "out of memory");
                    break;
                }
                n->name = f->name;
                n->type = fl_expr_type_of_field(f);
                if (n->type == FL_EXPR_T_LIST) n->elem = &f->children[0];
                rc = add_item(p, &x, f->name, n, pos);
            }
            continue;
        }
        fl_expr_node *value;
        if ((rc = fl_xlate_expr(&x, val, &value)) != FL_OK) break;
        const char *name = fl_json_get_string(rt, "name");
        if (!name && value->kind == FL_EXPR_COLUMN) name = value->name;
        if (!name) {
            rc = fl_xlate_error(&x, pos, "an expression in the select list needs a name: write it as `expression AS name`");
            break;
        }
        rc = add_item(p, &x, name, value, pos);
    }
    fl_free(sql);
    if (rc != FL_OK) {
        fl_projection_free(p);
        return rc;
    }
    *out = p;
    return FL_OK;
}

int fl_projection_eval(const fl_projection *p, const fl_batch *in, fl_batch *out, fl_error *err) {
    int rc = FL_OK;
    for (int32_t i = 0; i < p->n_items && rc == FL_OK; i++) {
        const fl_proj_item *it = &p->items[i];
        fl_array *dst = &out->columns[i];
        if (it->column) {
            const fl_array *src = fl_batch_column(in, it->value->name);
            if (!src) return fl_error_set(err, FL_EINVAL, "projection: the input lacks column \"%s\"", it->value->name);
            if (fl_array_append_range(dst, src, 0, in->num_rows) != FL_OK) rc = fl_error_set(err, FL_ENOMEM, "out of memory");
            continue;
        }
        fl_array v;
        memset(&v, 0, sizeof v);
        rc = fl_expr_eval(it->value, in, &v, err);
        for (int64_t r = 0; rc == FL_OK && r < in->num_rows; r++)
            rc = fl_expr_store(&p->schema->fields[i], it->value, &v, r, in->row_ids ? in->row_ids[r] : (uint64_t)r, dst, err);
        fl_array_clear(&v);
    }
    return rc;
}
