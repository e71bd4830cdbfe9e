/*
 * vector.c — exact nearest-neighbour search over a vector column (fl_vector_search; contract in
 * framelake.h): float vectors (fixed_size_list<float32, N>) by squared L2, cosine (1 − cos) or dot
 * (1 − x·y), the distances LanceDB reports, and binary hashes (fixed_size_list<uint8, N>) by Hamming
 * distance.
 *
 * One filtered scan of the version (the WHERE is a prefilter: only rows it keeps are candidates, so k
 * results come back whenever k rows match) reads just the vector column; a bounded max-heap keeps the k
 * best (distance, row id) pairs, ties broken by the smaller row id; the projection is then read for those
 * k rows only.
 */
#include "../batch/batch.h"
#include "../common/common.h"
#include "../query/expr.h"
#include "../query/qscan.h"

#include <math.h>
#include <stdlib.h>

typedef struct hit {
    double d;
    uint64_t id;
} hit;

static bool worse(const hit *a, const hit *b) { return a->d > b->d || (a->d == b->d && a->id > b->id); }

/* A max-heap of the k best hits (the worst on top). */
typedef struct heap {
    hit *h;
    size_t n, k;
} heap;

static void sift_down(heap *p, size_t i) {
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < p->n && worse(&p->h[l], &p->h[m])) m = l;
        if (r < p->n && worse(&p->h[r], &p->h[m])) m = r;
        if (m == i) return;
        hit t = p->h[i];
        p->h[i] = p->h[m];
        p->h[m] = t;
        i = m;
    }
}

static void offer(heap *p, hit x) {
    if (p->n < p->k) {
        size_t i = p->n++;
        p->h[i] = x;
        while (i > 0 && worse(&p->h[i], &p->h[(i - 1) / 2])) {
            hit t = p->h[i];
            p->h[i] = p->h[(i - 1) / 2];
            p->h[(i - 1) / 2] = t;
            i = (i - 1) / 2;
        }
    } else if (worse(&p->h[0], &x)) {
        p->h[0] = x;
        sift_down(p, 0);
    }
}

static int cmp_hit(const void *a, const void *b) {
    const hit *x = a, *y = b;
    return worse(x, y) ? 1 : worse(y, x) ? -1 : 0;
}

const char *fl_metric_name(int metric) {
    static const char *names[] = {"l2", "cosine", "dot", "hamming"};
    return metric >= 0 && metric < 4 ? names[metric] : "?";
}

int fl_metric_parse(const char *text, int *metric) {
    for (int m = 0; m < 4; m++)
        if (!strcmp(text, fl_metric_name(m))) return *metric = m, FL_OK;
    return FL_EINVAL;
}

/* Distance between the query and value i of the fixed-size-list column. */
static double distance(int metric, const fl_array *a, int64_t i, const float *qf, const uint8_t *qb, double qnorm) {
    int32_t n = a->fixed_size;
    if (metric == FL_METRIC_HAMMING) {
        const uint8_t *v = (const uint8_t *)a->children[0].values + (size_t)i * n;
        int bits = 0;
        for (int32_t k = 0; k < n; k++) bits += __builtin_popcount((unsigned)(v[k] ^ qb[k]));
        return bits;
    }
    const float *v = (const float *)a->children[0].values + (size_t)i * n;
    double s = 0, vv = 0;
    switch (metric) {
    case FL_METRIC_L2:
        for (int32_t k = 0; k < n; k++) {
            double d = (double)v[k] - qf[k];
            s += d * d;
        }
        return s;
    case FL_METRIC_DOT:
        for (int32_t k = 0; k < n; k++) s += (double)v[k] * qf[k];
        return 1.0 - s;
    default: /* cosine */
        for (int32_t k = 0; k < n; k++) s += (double)v[k] * qf[k], vv += (double)v[k] * v[k];
        return vv == 0 || qnorm == 0 ? 1.0 : 1.0 - s / (sqrt(vv) * qnorm);
    }
}

int fl_vector_search(fl_table *t, const fl_vector_query *q, fl_batch **out, fl_error *err) {
    *out = NULL;
    if (!q || !q->column) return fl_error_set(err, FL_EINVAL, "vector search: a column is required");
    const fl_schema *s = fl_table_schema(t);
    int c = fl_schema_find(s, q->column);
    if (c < 0) return fl_error_set(err, FL_ENOTFOUND, "vector search: column '%s' not found", q->column);
    const fl_field *f = &s->fields[c];
    bool floats = f->type == FL_TYPE_FIXED_SIZE_LIST && f->children[0].type == FL_TYPE_FLOAT32;
    bool bytes = f->type == FL_TYPE_FIXED_SIZE_LIST && f->children[0].type == FL_TYPE_UINT8;
    if (!floats && !bytes)
        return fl_error_set(err, FL_ETYPE, "vector search: column '%s' is not a vector (fixed_size_list<float32, N> or fixed_size_list<uint8, N>)",
                            q->column);
    int metric = q->metric >= 0 ? q->metric : floats ? FL_METRIC_L2 : FL_METRIC_HAMMING;
    if (floats == (metric == FL_METRIC_HAMMING))
        return fl_error_set(err, FL_EINVAL, "vector search: metric %s does not apply to column '%s' (%s vectors)", fl_metric_name(metric), q->column,
                            floats ? "float" : "binary");
    int64_t k = q->k > 0 ? q->k : 10;
    if (k > 100000) return fl_error_set(err, FL_EINVAL, "vector search: limit %lld is above 100000", (long long)k);
    size_t dim = (size_t)f->fixed_size;
    float *qf = NULL;
    uint8_t *qb = NULL;
    int rc = FL_OK;
    if (q->like_row) {
        /* the query is that row's value */
        const char *cols[] = {q->column};
        fl_batch *b = NULL;
        rc = fl_table_take(t, &q->row_id, 1, cols, 1, &b, err);
        if (rc == FL_OK && fl_array_is_null(&b->columns[0], 0))
            rc = fl_error_set(err, FL_EINVAL, "vector search: row %llu has no value in '%s'", (unsigned long long)q->row_id, q->column);
        if (rc == FL_OK) {
            size_t bytes_n = dim * (floats ? sizeof(float) : 1);
            void *copy = fl_malloc(bytes_n ? bytes_n : 1);
            if (!copy) rc = fl_error_set(err, FL_ENOMEM, "out of memory");
            else memcpy(copy, b->columns[0].children[0].values, bytes_n);
            if (floats) qf = copy;
            else qb = copy;
        }
        fl_batch_free(b);
    } else if (floats) {
        if (!q->vector || q->dim != dim)
            rc = fl_error_set(err, FL_EINVAL, "vector search: the query has %zu dimensions, column '%s' has %zu", q->vector ? q->dim : 0, q->column, dim);
        else if ((qf = fl_malloc(dim * sizeof *qf))) memcpy(qf, q->vector, dim * sizeof *qf);
        else rc = fl_error_set(err, FL_ENOMEM, "out of memory");
    } else {
        if (!q->bits || q->n_bytes != dim)
            rc = fl_error_set(err, FL_EINVAL, "vector search: the query has %zu bytes, column '%s' holds %zu-byte hashes", q->bits ? q->n_bytes : 0,
                              q->column, dim);
        else if ((qb = fl_malloc(dim))) memcpy(qb, q->bits, dim);
        else rc = fl_error_set(err, FL_ENOMEM, "out of memory");
    }
    double qnorm = 0;
    for (size_t i = 0; qf && i < dim; i++) qnorm += (double)qf[i] * qf[i];
    qnorm = sqrt(qnorm);
    fl_expr *filter = NULL;
    if (rc == FL_OK && q->where) rc = fl_expr_compile_filter(q->where, s, &filter, err);
    heap hp = {.k = (size_t)k};
    if (rc == FL_OK && !(hp.h = fl_malloc((size_t)k * sizeof *hp.h))) rc = fl_error_set(err, FL_ENOMEM, "out of memory");
    fl_qscan *scan = NULL;
    const char *cols[] = {q->column};
    if (rc == FL_OK) rc = fl_qscan_open(t, filter, cols, 1, true, 0, &scan, err);
    fl_batch *b = NULL;
    while (rc == FL_OK && (rc = fl_qscan_next(scan, &b, err)) == FL_OK && b) {
        const fl_array *a = &b->columns[0];
        for (int64_t i = 0; i < b->num_rows; i++) {
            if (fl_array_is_null(a, i) || (q->like_row && b->row_ids[i] == q->row_id)) continue;
            hit x = {distance(metric, a, i, qf, qb, qnorm), b->row_ids[i]};
            if (q->has_range && (x.d < q->min_distance || x.d >= q->max_distance)) continue;
            offer(&hp, x);
        }
        fl_batch_free(b);
    }
    fl_qscan_close(scan);
    /* the k best in order, with the projection read for them only */
    if (rc == FL_OK) {
        if (hp.n > 1) qsort(hp.h, hp.n, sizeof *hp.h, cmp_hit);
        uint64_t *ids = fl_malloc((hp.n ? hp.n : 1) * sizeof *ids);
        if (!ids) rc = fl_error_set(err, FL_ENOMEM, "out of memory");
        for (size_t i = 0; ids && i < hp.n; i++) ids[i] = hp.h[i].id;
        fl_batch *rows = NULL;
        if (rc == FL_OK) rc = fl_table_take(t, ids, hp.n, q->columns, q->n_columns, &rows, err);
        /* + _distance float32 + _rowid uint64 */
        fl_schema *extra = NULL;
        if (rc == FL_OK) rc = fl_schema_parse("_distance float32, _rowid uint64", &extra, err);
        fl_schema *all = rc == FL_OK ? fl_schema_copy(rows->schema) : NULL;
        if (rc == FL_OK && (!all || fl_schema_append_field(all, &extra->fields[0]) != FL_OK || fl_schema_append_field(all, &extra->fields[1]) != FL_OK))
            rc = fl_error_set(err, FL_ENOMEM, "out of memory");
        fl_batch *res = rc == FL_OK ? fl_batch_new(all) : NULL;
        if (rc == FL_OK && !res) rc = fl_error_set(err, FL_ENOMEM, "out of memory");
        for (int32_t col = 0; rc == FL_OK && col < rows->n_columns; col++)
            if (fl_array_append_range(&res->columns[col], &rows->columns[col], 0, rows->num_rows) != FL_OK) rc = FL_ENOMEM;
        for (size_t i = 0; rc == FL_OK && i < hp.n; i++) {
            if (fl_array_append_float(&res->columns[rows->n_columns], hp.h[i].d) != FL_OK ||
                fl_array_append_uint(&res->columns[rows->n_columns + 1], hp.h[i].id) != FL_OK)
                rc = FL_ENOMEM;
        }
        if (rc == FL_ENOMEM) fl_error_set(err, rc, "out of memory");
        if (rc == FL_OK) rc = fl_batch_finish(res, err);
        if (rc == FL_OK && fl_batch_set_row_ids(res, ids, hp.n) != FL_OK) rc = fl_error_set(err, FL_ENOMEM, "out of memory");
        if (rc == FL_OK) *out = res;
        else fl_batch_free(res);
        fl_schema_free(extra);
        fl_schema_free(all);
        fl_batch_free(rows);
        fl_free(ids);
    }
    fl_free(hp.h);
    fl_expr_free(filter);
    fl_free(qf);
    fl_free(qb);
    return rc;
}
