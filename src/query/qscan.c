/*
 * qscan.c — the filtered scan (see qscan.h): reads the filter's and the output's columns batch by batch,
 * evaluates the filter vectorized and keeps the matching rows.
 */
#include "qscan.h"

#include <string.h>

struct fl_qscan {
    fl_table *table;
    const fl_expr *filter;
    fl_scan *scan;
    fl_schema *out_schema;      /* the output projection */
    int32_t *out_map;           /* output column i is scanned column out_map[i] */
    bool with_row_ids;
    int64_t *rows;              /* matching row indexes of the current batch */
    int64_t cap_rows;
    fl_qscan_stats stats;
};

static int oom(fl_error *err) { return fl_error_set(err, FL_ENOMEM, "out of memory"); }

static bool has_name(const char *const *names, size_t n, const char *name) {
    for (size_t i = 0; i < n; i++)
        if (strcmp(names[i], name) == 0) return true;
    return false;
}

int fl_qscan_open(fl_table *t, const fl_expr *filter, const char *const *columns, size_t n_columns, bool with_row_ids, int64_t batch_size,
                  fl_qscan **out, fl_error *err) {
    *out = NULL;
    const fl_schema *s = t->m->schema;
    fl_qscan *q = fl_calloc(1, sizeof *q);
    if (!q) return oom(err);
    q->table = t;
    q->filter = filter;
    q->with_row_ids = with_row_ids;
    q->stats.fragments = t->m->n_fragments;
    /* Output projection first (validated, with suggestions, by the scan), then the filter's extra columns. */
    size_t n_out = columns ? n_columns : (size_t)s->n_fields;
    size_t n_extra = filter ? (size_t)filter->n_columns : 0;
    const char **names = fl_calloc(n_out + n_extra + 1, sizeof *names);
    int rc = names ? FL_OK : oom(err);
    size_t n_names = 0;
    for (size_t i = 0; rc == FL_OK && i < n_out; i++) {
        const char *name = columns ? columns[i] : s->fields[i].name;
        if (!has_name(names, n_names, name)) names[n_names++] = name;
    }
    for (size_t i = 0; rc == FL_OK && i < n_extra; i++)
        if (!has_name(names, n_names, filter->columns[i])) names[n_names++] = filter->columns[i];
    if (rc == FL_OK) {
        fl_scan_options so = {.columns = names, .n_columns = n_names, .batch_size = batch_size, .with_row_ids = with_row_ids};
        rc = fl_scan_open(t, &so, &q->scan, err);
    }
    if (rc == FL_OK && !(q->out_schema = fl_calloc(1, sizeof *q->out_schema))) rc = oom(err);
    if (rc == FL_OK && !(q->out_map = fl_calloc(n_out + 1, sizeof *q->out_map))) rc = oom(err);
    for (size_t i = 0; rc == FL_OK && i < n_out; i++) {
        const char *name = columns ? columns[i] : s->fields[i].name;
        for (size_t k = 0; k < n_names; k++)
            if (strcmp(names[k], name) == 0) q->out_map[i] = (int32_t)k;
        if (fl_schema_append_field(q->out_schema, &s->fields[fl_schema_find(s, name)]) != FL_OK) rc = oom(err);
    }
    fl_free(names);
    if (rc != FL_OK) {
        fl_qscan_close(q);
        return rc;
    }
    *out = q;
    return FL_OK;
}

void fl_qscan_close(fl_qscan *q) {
    if (!q) return;
    fl_scan_close(q->scan);
    fl_schema_free(q->out_schema);
    fl_free(q->out_map);
    fl_free(q->rows);
    fl_free(q);
}

const fl_qscan_stats *fl_qscan_get_stats(const fl_qscan *q) { return &q->stats; }

/* Next scanned batch with its matching rows in q->rows[0..*n); *in = NULL at the end. */
static int next_matches(fl_qscan *q, fl_batch **in, int64_t *n, fl_error *err) {
    for (;;) {
        FL_RETURN_NOT_OK(fl_scan_next(q->scan, in, err));
        fl_batch *b = *in;
        if (!b) return FL_OK;
        q->stats.rows_read += (uint64_t)b->num_rows;
        if (!q->filter) {
            *n = b->num_rows;
            q->stats.rows_matched += (uint64_t)*n;
            return FL_OK;
        }
        if (b->num_rows > q->cap_rows) {
            int64_t *r = fl_realloc(q->rows, (size_t)b->num_rows * sizeof *r);
            if (!r) {
                fl_batch_free(b);
                *in = NULL;
                return oom(err);
            }
            q->rows = r;
            q->cap_rows = b->num_rows;
        }
        int rc = fl_expr_filter_rows(q->filter, b, q->rows, n, err);
        if (rc != FL_OK || *n == 0) {
            fl_batch_free(b);
            *in = NULL;
            if (rc != FL_OK) return rc;
            continue;
        }
        q->stats.rows_matched += (uint64_t)*n;
        return FL_OK;
    }
}

int fl_qscan_next(fl_qscan *q, fl_batch **out, fl_error *err) {
    *out = NULL;
    fl_batch *in;
    int64_t n;
    FL_RETURN_NOT_OK(next_matches(q, &in, &n, err));
    if (!in) return FL_OK;
    fl_batch *b = fl_batch_new_empty(q->out_schema);
    int rc = b ? FL_OK : oom(err);
    bool all = n == in->num_rows;
    for (int32_t c = 0; rc == FL_OK && c < q->out_schema->n_fields; c++) {
        fl_array *src = &in->columns[q->out_map[c]];
        if (all) {
            /* Every row matched and the column is used once: copy ranges cheaply either way. */
            if (fl_array_append_range(&b->columns[c], src, 0, n) != FL_OK) rc = oom(err);
            continue;
        }
        for (int64_t k = 0; rc == FL_OK && k < n;) {
            int64_t e = k + 1;
            while (e < n && q->rows[e] == q->rows[e - 1] + 1) e++;
            if (fl_array_append_range(&b->columns[c], src, q->rows[k], e - k) != FL_OK) rc = oom(err);
            k = e;
        }
    }
    if (rc == FL_OK && q->with_row_ids) {
        if (!(b->row_ids = fl_malloc((size_t)n * sizeof *b->row_ids))) rc = oom(err);
        for (int64_t k = 0; rc == FL_OK && k < n; k++) b->row_ids[k] = in->row_ids[all ? k : q->rows[k]];
    }
    fl_batch_free(in);
    if (rc != FL_OK) {
        fl_batch_free(b);
        return rc;
    }
    b->num_rows = n;
    *out = b;
    return FL_OK;
}

int fl_qscan_count(fl_qscan *q, int64_t *count, fl_error *err) {
    *count = 0;
    for (;;) {
        fl_batch *in;
        int64_t n;
        FL_RETURN_NOT_OK(next_matches(q, &in, &n, err));
        if (!in) return FL_OK;
        *count += n;
        fl_batch_free(in);
    }
}
