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
