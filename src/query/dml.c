/*
 * dml.c — the table-level query entry points: count, delete and update by SQL predicate. Each compiles
 * its text against the handle's schema and drives a filtered scan (qscan.h); writes are one commit each.
 */
#include "qscan.h"

#include <string.h>

static bool blank(const char *s) {
    if (!s) return true;
    while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r') s++;
    return *s == '\0';
}

/* Compiles `where` for the table, or leaves *out NULL when it is blank. */
static int compile_where(fl_table *t, const char *where, fl_expr **out, fl_error *err) {
    *out = NULL;
    if (blank(where)) return FL_OK;
    return fl_expr_compile_filter(where, t->m->schema, out, err);
}

int fl_table_count_where(fl_table *t, const char *where, int64_t *count, fl_error *err) {
    *count = 0;
    fl_expr *e;
    FL_RETURN_NOT_OK(compile_where(t, where, &e, err));
    if (!e) {
        *count = fl_table_count_rows(t);
        return FL_OK;
    }
    static const char *const none[1] = {NULL};
    fl_qscan *q;
    int rc = fl_qscan_open(t, e, none, 0, false, 0, &q, err);
    if (rc == FL_OK) rc = fl_qscan_count(q, count, err);
    fl_qscan_close(q);
    fl_expr_free(e);
    return rc;
}

/* Stable ids of the live rows where `e` is true, in storage order. */
static int matching_ids(fl_table *t, const fl_expr *e, uint64_t **ids, size_t *n, fl_error *err) {
    *ids = NULL;
    *n = 0;
    static const char *const none[1] = {NULL};
    fl_qscan *q;
    FL_RETURN_NOT_OK(fl_qscan_open(t, e, none, 0, true, 0, &q, err));
    size_t cap = 0;
    int rc = FL_OK;
    for (;;) {
        fl_batch *b;
        if ((rc = fl_qscan_next(q, &b, err)) != FL_OK || !b) break;
        if (*n + (size_t)b->num_rows > cap) {
            size_t c = cap ? cap : 1024;
            while (c < *n + (size_t)b->num_rows) c *= 2;
            uint64_t *p = fl_realloc(*ids, c * sizeof *p);
            if (!p) rc = fl_error_set(err, FL_ENOMEM, "out of memory");
            else *ids = p, cap = c;
        }
        if (rc == FL_OK) memcpy(*ids + *n, b->row_ids, (size_t)b->num_rows * sizeof **ids), *n += (size_t)b->num_rows;
        fl_batch_free(b);
        if (rc != FL_OK) break;
    }
    fl_qscan_close(q);
    if (rc != FL_OK) {
        fl_free(*ids);
        *ids = NULL;
        *n = 0;
    }
    return rc;
}

int fl_table_delete_where(fl_table *t, const char *where, int64_t *deleted, fl_error *err) {
    if (deleted) *deleted = 0;
    if (blank(where)) return fl_error_set(err, FL_EINVAL, "delete needs a WHERE condition (use \"true\" to delete every row)");
    fl_expr *e;
    FL_RETURN_NOT_OK(compile_where(t, where, &e, err));
    uint64_t *ids;
    size_t n;
    int rc = matching_ids(t, e, &ids, &n, err);
    fl_expr_free(e);
    if (rc == FL_OK && n) rc = fl_table_delete_rows(t, ids, n, err);
    fl_free(ids);
    if (rc == FL_OK && deleted) *deleted = (int64_t)n;
    return rc;
}
