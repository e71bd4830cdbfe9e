/*
 * vector.c — exact nearest-neighbour search over a vector column (fl_vector_search; contract in
 * framelake.h): float vectors (fixed_size_list<float32, N>) by squared L2, cosine (1 − cos) or dot
 * (1 − x·y), the distances LanceDB reports, and binary hashes (fixed_size_list<uint8, N>) by Hamming
 * distance.
 *
 * Exact: one filtered scan of the version (the WHERE is a prefilter: only rows it keeps are candidates,
 * so k results come back whenever k rows match) reads just the vector column; a bounded max-heap keeps the
 * k best (distance, row id) pairs, ties broken by the smaller row id; the projection is then read for
 * those k rows only.
 *
 * With an ivf_pq/ivf_flat index (index/vindex.h): each index file serving some fragment is searched with
 * a filter admitting only live rows of the fragments it serves (and, with a prefilter, rows the WHERE
 * keeps — computed once as a sorted row id list); when a prefilter leaves fewer than k hits the search
 * probes twice as many partitions until it has k or has probed them all. Fragments the index does not
 * cover are scanned exactly. All hits meet in the same heap.
 */
#include "../batch/batch.h"
#include "../common/common.h"
#include "../index/hamidx.h"
#include "../index/ixfile.h"
#include "../index/vindex.h"
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

/* ---- one search ---- */

typedef struct vsearch {
    fl_table *t;
    const fl_vector_query *q;
    const fl_field *field;
    int col, metric;
    float *qf;
    uint8_t *qb;
    double qnorm;
    fl_expr *filter;
    heap hp;
    /* with an index */
    const fl_index_ref *index;
    int32_t *file_of;           /* per fragment: the index file serving it, or -1 */
    uint64_t *allowed;          /* rows the WHERE keeps, ascending (n_allowed), when there is a WHERE */
    size_t n_allowed;
    int32_t file;               /* the file being searched */
    bool prefilter;             /* the index admits only rows the WHERE keeps */
    fl_error *err;
} vsearch;

static bool contains(const uint64_t *ids, size_t n, uint64_t id) {
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (ids[mid] == id) return true;
        if (ids[mid] < id) lo = mid + 1;
        else hi = mid;
    }
    return false;
}

/* Exact search of the rows the filter keeps, in every fragment or (fragment >= 0) in one. */
static int scan_exact(vsearch *v, int64_t fragment) {
    fl_qscan *scan = NULL;
    const char *cols[] = {v->q->column};
    FL_RETURN_NOT_OK(fl_qscan_open(v->t, v->filter, cols, 1, true, 0, &scan, v->err));
    if (fragment >= 0) fl_qscan_set_range(scan, (uint32_t)fragment, 0, (int64_t)v->t->m->fragments[fragment].physical_rows);
    fl_batch *b = NULL;
    int rc;
    while ((rc = fl_qscan_next(scan, &b, v->err)) == FL_OK && b) {
        const fl_array *a = &b->columns[0];
        for (int64_t i = 0; i < b->num_rows; i++) {
            if (fl_array_is_null(a, i) || (v->q->like_row && b->row_ids[i] == v->q->row_id)) continue;
            hit x = {distance(v->metric, a, i, v->qf, v->qb, v->qnorm), b->row_ids[i]};
            if (isnan(x.d) || (v->q->has_range && (x.d < v->q->min_distance || x.d >= v->q->max_distance))) continue;
            offer(&v->hp, x);
        }
        fl_batch_free(b);
    }
    fl_qscan_close(scan);
    return rc;
}

/* Whether an indexed row may be a result: live, in a fragment the current file serves, not the query row,
 * and (prefilter) kept by the WHERE. */
static bool keep_row(void *ctx, uint64_t row) {
    vsearch *v = ctx;
    uint32_t fi;
    uint64_t off;
    if ((v->q->like_row && row == v->q->row_id) || !fl_table_locate(v->t, row, &fi, &off) || v->file_of[fi] != v->file) return false;
    const deletion_set *d;
    if (fl_table_deletions(v->t, fi, &d, NULL) != FL_OK || fl_deletion_contains(d, off)) return false;
    return !v->prefilter || contains(v->allowed, v->n_allowed, row);
}

/* Exact distances of indexed rows, read from the table (refine). */
static int refine_rows(void *ctx, const float *query, const uint64_t *rows, size_t n, double *dist, fl_error *err) {
    (void)query;
    vsearch *v = ctx;
    const char *cols[] = {v->q->column};
    fl_batch *b = NULL;
    FL_RETURN_NOT_OK(fl_table_take(v->t, rows, n, cols, 1, &b, err));
    for (size_t i = 0; i < n; i++)
        dist[i] = fl_array_is_null(&b->columns[0], (int64_t)i) ? NAN : distance(v->metric, &b->columns[0], (int64_t)i, v->qf, NULL, v->qnorm);
    fl_batch_free(b);
    return FL_OK;
}

static int search_file(vsearch *v, int32_t file) {
    fl_ixcache_ref ref;
    FL_RETURN_NOT_OK(fl_vindex_load(v->t, v->index->files[file], &ref, v->err));
    const fl_ivf *ivf = ref.obj;
    int rc = FL_OK;
    if (fl_ivf_dim(ivf) != (int)v->field->fixed_size || fl_ivf_metric(ivf) != v->metric)
        rc = fl_error_set(v->err, FL_ECORRUPT, "index '%s': file %s does not match its column (dimensions or metric)", v->index->name,
                          v->index->files[file]);
    int k = (int)v->hp.k, partitions = rc == FL_OK ? fl_ivf_partitions(ivf) : 0;
    int nprobes = v->q->nprobes > 0 ? v->q->nprobes : 20;
    fl_ivf_hit *hits = fl_malloc((size_t)k * sizeof *hits);
    if (rc == FL_OK && !hits) rc = fl_error_set(v->err, FL_ENOMEM, "out of memory");
    v->file = file;
    fl_ivf_filter keep = {keep_row, v};
    int n = 0;
    for (;;) {
        if (rc != FL_OK) break;
        rc = fl_ivf_search(ivf, v->qf, k, nprobes, v->q->refine_factor, &keep, v->q->refine_factor > 0 ? refine_rows : NULL, v, hits, &n, v->err);
        /* A prefilter returns k rows whenever k rows match: search wider until it does. */
        if (rc != FL_OK || n >= k || nprobes >= partitions || !v->prefilter) break;
        nprobes = nprobes * 2 < partitions ? nprobes * 2 : partitions;
    }
    for (int i = 0; rc == FL_OK && i < n; i++) {
        if (v->filter && !v->prefilter && !contains(v->allowed, v->n_allowed, hits[i].row_id)) continue;
        offer(&v->hp, (hit){hits[i].distance, hits[i].row_id});
    }
    fl_free(hits);
    fl_ixcache_release(&ref);
    return rc;
}

/* A hamming index file: nearest rows, or with a distance range every row inside it (the index finds all
 * rows within the range's upper end; the heap keeps the k nearest). Always prefiltered: the index is
 * exact, so admitting only rows the WHERE keeps costs nothing. */
static int search_ham_file(vsearch *v, int32_t file) {
    fl_ixcache_ref ref;
    FL_RETURN_NOT_OK(ham_load(v->t, v->index->files[file], &ref, v->err));
    const ham_index *h = ref.obj;
    uint64_t q = ham_value(v->qb);
    v->file = file;
    int rc = FL_OK;
    if (v->q->has_range) {
        ham_hit *hits = NULL;
        size_t n = 0, cap = 0;
        int radius = v->q->max_distance > 64 ? 64 : (int)ceil(v->q->max_distance) - 1;
        rc = ham_radius(h, q, radius, keep_row, v, &hits, &n, &cap, v->err);
        for (size_t i = 0; rc == FL_OK && i < n; i++)
            if (hits[i].distance >= v->q->min_distance && hits[i].distance < v->q->max_distance) offer(&v->hp, (hit){hits[i].distance, hits[i].row});
        fl_free(hits);
    } else {
        ham_hit *hits = fl_malloc(v->hp.k * sizeof *hits);
        int n = 0;
        rc = hits ? ham_nearest(h, q, (int)v->hp.k, 64, keep_row, v, hits, &n, v->err) : fl_error_set(v->err, FL_ENOMEM, "out of memory");
        for (int i = 0; rc == FL_OK && i < n; i++) offer(&v->hp, (hit){hits[i].distance, hits[i].row});
        fl_free(hits);
    }
    fl_ixcache_release(&ref);
    return rc;
}

/* The column's vector index for this metric (metric < 0: any, which then sets it), or NULL. */
static const fl_index_ref *pick_index(fl_table *t, int col, int *metric) {
    const fl_manifest *m = t->m;
    for (uint32_t i = 0; i < m->n_indexes; i++) {
        const fl_index_ref *x = &m->indexes[i];
        ix_kind kind = ix_kind_of(x->type);
        if ((!IX_VECTOR(kind) && kind != IX_HAMMING) || fl_index_field(t, x) != col) continue;
        int im = kind == IX_HAMMING ? FL_METRIC_HAMMING : fl_vindex_metric(x->params, x->n_params);
        if (*metric >= 0 && im != *metric) continue;
        *metric = im;
        return x;
    }
    return NULL;
}

static int search_indexed(vsearch *v) {
    const fl_manifest *m = v->t->m;
    if (!(v->file_of = fl_calloc((size_t)m->n_fragments + 1, sizeof *v->file_of))) return fl_error_set(v->err, FL_ENOMEM, "out of memory");
    int rc = fl_index_coverage(v->t, v->index, v->file_of, v->err);
    bool hamming = ix_kind_of(v->index->type) == IX_HAMMING;
    v->prefilter = v->filter && (!v->q->postfilter || hamming);
    if (rc == FL_OK && v->filter) rc = fl_qscan_row_ids(v->t, v->filter, &v->allowed, &v->n_allowed, v->err);
    for (uint32_t f = 0; rc == FL_OK && f < v->index->n_files; f++) {
        bool used = false;
        for (uint32_t i = 0; i < m->n_fragments && !used; i++) used = v->file_of[i] == (int32_t)f;
        if (used) rc = hamming ? search_ham_file(v, (int32_t)f) : search_file(v, (int32_t)f);
    }
    for (uint32_t i = 0; rc == FL_OK && i < m->n_fragments; i++)
        if (v->file_of[i] < 0) rc = scan_exact(v, i);
    return rc;
}

/* The result batch: the projection of the hits' rows, then _distance and _rowid. */
static int result_batch(vsearch *v, fl_batch **out) {
    fl_error *err = v->err;
    heap *hp = &v->hp;
    if (hp->n > 1) qsort(hp->h, hp->n, sizeof *hp->h, cmp_hit);
    uint64_t *ids = fl_malloc((hp->n ? hp->n : 1) * sizeof *ids);
    int rc = ids ? FL_OK : fl_error_set(err, FL_ENOMEM, "out of memory");
    for (size_t i = 0; ids && i < hp->n; i++) ids[i] = hp->h[i].id;
    fl_batch *rows = NULL, *res = NULL;
    fl_schema *extra = NULL, *all = NULL;
    if (rc == FL_OK) rc = fl_table_take(v->t, ids, hp->n, v->q->columns, v->q->n_columns, &rows, err);
    if (rc == FL_OK) rc = fl_schema_parse("_distance float32, _rowid uint64", &extra, err);
    if (rc == FL_OK && (!(all = fl_schema_copy(rows->schema)) || fl_schema_append_field(all, &extra->fields[0]) != FL_OK ||
                        fl_schema_append_field(all, &extra->fields[1]) != FL_OK || !(res = fl_batch_new(all))))
        rc = fl_error_set(err, FL_ENOMEM, "out of memory");
    for (int32_t col = 0; rc == FL_OK && col < rows->n_columns; col++)
        if (fl_array_append_range(&res->columns[col], &rows->columns[col], 0, rows->num_rows) != FL_OK) rc = fl_error_set(err, FL_ENOMEM, "out of memory");
    for (size_t i = 0; rc == FL_OK && i < hp->n; i++)
        if (fl_array_append_float(&res->columns[rows->n_columns], hp->h[i].d) != FL_OK ||
            fl_array_append_uint(&res->columns[rows->n_columns + 1], hp->h[i].id) != FL_OK)
            rc = fl_error_set(err, FL_ENOMEM, "out of memory");
    if (rc == FL_OK) rc = fl_batch_finish(res, err);
    if (rc == FL_OK && fl_batch_set_row_ids(res, ids, hp->n) != FL_OK) rc = fl_error_set(err, FL_ENOMEM, "out of memory");
    if (rc == FL_OK) *out = res;
    else fl_batch_free(res);
    fl_schema_free(extra);
    fl_schema_free(all);
    fl_batch_free(rows);
    fl_free(ids);
    return rc;
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
    if (q->nprobes < 0 || q->refine_factor < 0 || q->refine_factor > 1000)
        return fl_error_set(err, FL_EINVAL, "vector search: nprobes must be at least 1 and refine_factor within 1..1000");
    /* The index decides the metric when the query does not. */
    int metric = q->metric;
    /* ivf indexes answer nearest-neighbour queries; a hamming index (on 8-byte hashes) ranges too. */
    const fl_index_ref *index = !q->exact && (floats ? !q->has_range : f->fixed_size == 8 && metric <= FL_METRIC_HAMMING) ? pick_index(t, c, &metric) : NULL;
    if (metric < 0) metric = floats ? FL_METRIC_L2 : FL_METRIC_HAMMING;
    if (floats == (metric == FL_METRIC_HAMMING))
        return fl_error_set(err, FL_EINVAL, "vector search: metric %s does not apply to column '%s' (%s vectors)", fl_metric_name(metric), q->column,
                            floats ? "float" : "binary");
    int64_t k = q->k > 0 ? q->k : 10;
    if (k > 100000) return fl_error_set(err, FL_EINVAL, "vector search: limit %lld is above 100000", (long long)k);
    vsearch v = {.t = t, .q = q, .field = f, .col = c, .metric = metric, .index = index, .err = err, .hp = {.k = (size_t)k}};
    size_t dim = (size_t)f->fixed_size;
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
            if (floats) v.qf = copy;
            else v.qb = copy;
        }
        fl_batch_free(b);
    } else if (floats) {
        if (!q->vector || q->dim != dim)
            rc = fl_error_set(err, FL_EINVAL, "vector search: the query has %zu dimensions, column '%s' has %zu", q->vector ? q->dim : 0, q->column, dim);
        else if ((v.qf = fl_malloc(dim * sizeof *v.qf))) memcpy(v.qf, q->vector, dim * sizeof *v.qf);
        else rc = fl_error_set(err, FL_ENOMEM, "out of memory");
        for (size_t i = 0; rc == FL_OK && i < dim; i++)
            if (!isfinite(v.qf[i])) rc = fl_error_set(err, FL_EINVAL, "vector search: the query's value %zu is not a finite number", i);
    } else {
        if (!q->bits || q->n_bytes != dim)
            rc = fl_error_set(err, FL_EINVAL, "vector search: the query has %zu bytes, column '%s' holds %zu-byte hashes", q->bits ? q->n_bytes : 0,
                              q->column, dim);
        else if ((v.qb = fl_malloc(dim))) memcpy(v.qb, q->bits, dim);
        else rc = fl_error_set(err, FL_ENOMEM, "out of memory");
    }
    for (size_t i = 0; v.qf && i < dim; i++) v.qnorm += (double)v.qf[i] * v.qf[i];
    v.qnorm = sqrt(v.qnorm);
    if (rc == FL_OK && q->where) rc = fl_expr_compile_filter(q->where, s, &v.filter, err);
    if (rc == FL_OK && !(v.hp.h = fl_malloc((size_t)k * sizeof *v.hp.h))) rc = fl_error_set(err, FL_ENOMEM, "out of memory");
    if (rc == FL_OK) rc = index ? search_indexed(&v) : scan_exact(&v, -1);
    if (rc == FL_OK) rc = result_batch(&v, out);
    fl_free(v.hp.h);
    fl_free(v.allowed);
    fl_free(v.file_of);
    fl_expr_free(v.filter);
    fl_free(v.qf);
    fl_free(v.qb);
    return rc;
}
