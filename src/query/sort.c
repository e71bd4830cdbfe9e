/*
 * sort.c — ORDER BY: a full sort of every row, or, under a LIMIT, a top-k that keeps only the k best rows
 * seen so far in a bounded heap (select.h invariant 3).
 *
 * Invariants:
 *  1. Rows are ordered by the sort keys, then by arrival: equal keys keep their input order, so a top-k
 *     returns exactly the first k rows of the full sort.
 *  2. NULLs sort by the key's NULLS FIRST/LAST, independently of ASC/DESC (defaults: ASC NULLS LAST,
 *     DESC NULLS FIRST, as in PostgreSQL).
 *  3. The top-k buffer holds the heap's rows plus rows that lost their place since the last compaction;
 *     it is compacted to the heap's rows whenever those others outnumber them by 1024.
 *  4. The heap is a max-heap under the sort order: its root is the worst row kept, the one a better row
 *     replaces.
 */
#include "select.h"

#include <stdlib.h>

static int oom(fl_error *err) { return fl_error_set(err, FL_ENOMEM, "out of memory"); }

typedef struct sort_op {
    fl_op op;
    const fl_query *q;
    int64_t k;                  /* top-k size, or -1: full sort */
    fl_batch *buf;              /* buffered rows, every projected column */
    uint64_t *row_ids;          /* per buffered row, when the input has them */
    size_t cap_row_ids;
    int64_t *seq;               /* arrival number of each buffered row (invariant 1) */
    size_t cap_seq;
    int64_t next_seq;
    int64_t *heap;              /* top-k: buffered row indexes (invariant 4) */
    int64_t heap_n;
    size_t cap_heap;
    int64_t *order;             /* the final order of buffered rows */
    int64_t n_order;
    int64_t emitted;
    bool sorted;
} sort_op;

/* Sort order of row i of `a` against row j of `b` (both with the projected columns). */
static int compare_rows(const fl_query *q, const fl_batch *a, int64_t i, int64_t seq_a, const fl_batch *b, int64_t j, int64_t seq_b) {
    for (int32_t k = 0; k < q->n_sort; k++) {
        const fl_sort_key *key = &q->sort[k];
        const fl_array *x = &a->columns[key->column], *y = &b->columns[key->column];
        bool nx = fl_array_is_null(x, i), ny = fl_array_is_null(y, j);
        if (nx || ny) {
            if (nx && ny) continue;
            return (nx ? 1 : -1) * (key->nulls_first ? -1 : 1);
        }
        int c = fl_value_compare(x, i, y, j);
        if (c) return key->desc ? -c : c;
    }
    return (seq_a > seq_b) - (seq_a < seq_b);
}

static int compare_buffered(const void *pa, const void *pb, void *ctx) {
    const sort_op *s = ctx;
    int64_t i = *(const int64_t *)pa, j = *(const int64_t *)pb;
    return compare_rows(s->q, s->buf, i, s->seq[i], s->buf, j, s->seq[j]);
}

/* Appends rows [start, start+n) of `in` to the buffer with their arrival numbers. */
static int buffer_rows(sort_op *s, const fl_batch *in, int64_t start, int64_t n, fl_error *err) {
    int64_t base = s->buf->num_rows;
    size_t need = (size_t)(base + n);
    if (!fl_reserve((void **)&s->seq, &s->cap_seq, need, sizeof *s->seq, 1024)) return oom(err);
    if (in->row_ids && !fl_reserve((void **)&s->row_ids, &s->cap_row_ids, need, sizeof *s->row_ids, 1024)) return oom(err);
    for (int32_t c = 0; c < s->buf->n_columns; c++)
        if (fl_array_append_range(&s->buf->columns[c], &in->columns[c], start, n) != FL_OK) return oom(err);
    for (int64_t r = 0; r < n; r++) {
        s->seq[base + r] = s->next_seq + r;
        if (in->row_ids) s->row_ids[base + r] = in->row_ids[start + r];
    }
    s->buf->num_rows += n;
    return FL_OK;
}

/* ---- top-k ---- */

static int heap_cmp(const sort_op *s, int64_t a, int64_t b) { return compare_rows(s->q, s->buf, a, s->seq[a], s->buf, b, s->seq[b]); }

static void sift_up(sort_op *s, int64_t i) {
    while (i > 0) {
        int64_t p = (i - 1) / 2;
        if (heap_cmp(s, s->heap[i], s->heap[p]) <= 0) break;
        int64_t t = s->heap[i];
        s->heap[i] = s->heap[p], s->heap[p] = t;
        i = p;
    }
}

static void sift_down(sort_op *s, int64_t i) {
    for (;;) {
        int64_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < s->heap_n && heap_cmp(s, s->heap[l], s->heap[m]) > 0) m = l;
        if (r < s->heap_n && heap_cmp(s, s->heap[r], s->heap[m]) > 0) m = r;
        if (m == i) return;
        int64_t t = s->heap[i];
        s->heap[i] = s->heap[m], s->heap[m] = t;
        i = m;
    }
}

/* Invariant 3: keeps only the heap's rows in the buffer (heap entry i becomes buffered row i). */
static int compact(sort_op *s, fl_error *err) {
    size_t n = (size_t)(s->heap_n ? s->heap_n : 1);
    int64_t *seq = fl_malloc(n * sizeof *seq);
    uint64_t *ids = s->row_ids ? fl_malloc(n * sizeof *ids) : NULL;
    fl_batch *kept = NULL;
    int rc = seq && (!s->row_ids || ids) ? fl_batch_take_rows(s->buf, s->buf->schema, s->heap, s->heap_n, &kept, err) : oom(err);
    if (rc == FL_OK) {
        for (int64_t i = 0; i < s->heap_n; i++) {
            seq[i] = s->seq[s->heap[i]];
            if (ids) ids[i] = s->row_ids[s->heap[i]];
        }
        for (int64_t i = 0; i < s->heap_n; i++) {
            s->seq[i] = seq[i];
            if (ids) s->row_ids[i] = ids[i];
            s->heap[i] = i;
        }
        fl_batch_free(s->buf);
        s->buf = kept;
    }
    fl_free(seq);
    fl_free(ids);
    return rc;
}

static int topk_offer(sort_op *s, const fl_batch *in, fl_error *err) {
    for (int64_t r = 0; s->k > 0 && r < in->num_rows; r++, s->next_seq++) {
        if (s->heap_n == s->k) {
            int64_t top = s->heap[0];
            /* A new row never beats an equal one already kept: it arrived later (invariant 1). */
            if (compare_rows(s->q, in, r, s->next_seq, s->buf, top, s->seq[top]) >= 0) continue;
        }
        FL_RETURN_NOT_OK(buffer_rows(s, in, r, 1, err));
        int64_t row = s->buf->num_rows - 1;
        if (s->heap_n < s->k) {
            if (!fl_reserve((void **)&s->heap, &s->cap_heap, (size_t)s->heap_n + 1, sizeof *s->heap, 64)) return oom(err);
            s->heap[s->heap_n++] = row;
            sift_up(s, s->heap_n - 1);
        } else {
            s->heap[0] = row;
            sift_down(s, 0);
        }
        if (s->buf->num_rows - s->heap_n >= s->heap_n + 1024) FL_RETURN_NOT_OK(compact(s, err));
    }
    return FL_OK;
}

/* ---- pulling, ordering, emitting ---- */

static int consume(sort_op *s, fl_error *err) {
    for (;;) {
        fl_batch *in;
        FL_RETURN_NOT_OK(fl_op_next(s->op.child, &in, err));
        if (!in) return FL_OK;
        int rc;
        if (s->k >= 0) rc = topk_offer(s, in, err);
        else {
            rc = buffer_rows(s, in, 0, in->num_rows, err);
            s->next_seq += in->num_rows;
        }
        fl_batch_free(in);
        FL_RETURN_NOT_OK(rc);
    }
}

static int order_rows(sort_op *s, fl_error *err) {
    s->n_order = s->k >= 0 ? s->heap_n : s->buf->num_rows;
    if (!(s->order = fl_malloc((size_t)(s->n_order ? s->n_order : 1) * sizeof *s->order))) return oom(err);
    for (int64_t i = 0; i < s->n_order; i++) s->order[i] = s->k >= 0 ? s->heap[i] : i;
    qsort_r(s->order, (size_t)s->n_order, sizeof *s->order, compare_buffered, s);
    return FL_OK;
}

static int sort_next(fl_op *op, fl_batch **out, fl_error *err) {
    sort_op *s = (sort_op *)op;
    if (!s->sorted) {
        FL_RETURN_NOT_OK(consume(s, err));
        FL_RETURN_NOT_OK(order_rows(s, err));
        s->sorted = true;
    }
    int64_t n = s->n_order - s->emitted, size = s->q->batch_size > 0 ? s->q->batch_size : 8192;
    if (n <= 0) return FL_OK;
    if (n > size) n = size;
    fl_batch *b = fl_batch_new_empty(op->schema);
    int rc = b ? FL_OK : oom(err);
    const int64_t *rows = s->order + s->emitted;
    for (int32_t c = 0; rc == FL_OK && c < op->schema->n_fields; c++)
        for (int64_t i = 0; rc == FL_OK && i < n; i++)
            if (fl_array_append_from(&b->columns[c], &s->buf->columns[c], rows[i]) != FL_OK) rc = oom(err);
    if (rc == FL_OK && s->row_ids) {
        if (!(b->row_ids = fl_malloc((size_t)n * sizeof *b->row_ids))) rc = oom(err);
        for (int64_t i = 0; rc == FL_OK && i < n; i++) b->row_ids[i] = s->row_ids[rows[i]];
    }
    if (rc != FL_OK) {
        fl_batch_free(b);
        return rc;
    }
    b->num_rows = n;
    s->emitted += n;
    *out = b;
    return FL_OK;
}

static void sort_describe(const fl_op *op, fl_buf *b, bool analyze, int depth) {
    const sort_op *s = (const sort_op *)op;
    fl_plan_indent(b, depth);
    if (s->k >= 0) fl_buf_printf(b, "TopK %lld: ", (long long)s->k);
    else fl_buf_printf(b, "Sort ");
    for (int32_t i = 0; i < s->q->n_sort; i++) fl_buf_printf(b, "%s%s", i ? ", " : "", s->q->sort[i].text);
    if (analyze) fl_buf_printf(b, " (rows=%lld)", (long long)op->rows_out);
    fl_buf_put_u8(b, '\n');
}

static void sort_close(fl_op *op) {
    sort_op *s = (sort_op *)op;
    fl_batch_free(s->buf);
    fl_free(s->row_ids);
    fl_free(s->seq);
    fl_free(s->heap);
    fl_free(s->order);
}

int fl_op_sort(fl_op *child, const fl_query *q, int64_t k, fl_op **out, fl_error *err) {
    *out = NULL;
    sort_op *s = fl_calloc(1, sizeof *s);
    fl_schema *visible = fl_schema_new();
    int rc = s && visible ? FL_OK : FL_ENOMEM;
    for (int32_t i = 0; rc == FL_OK && i < q->n_out; i++) rc = fl_schema_append_field(visible, &child->schema->fields[i]);
    if (rc == FL_OK) {
        s->op.schema = visible;
        visible = NULL;
        s->buf = fl_batch_new_empty(child->schema);
        if (!s->buf) rc = FL_ENOMEM;
    }
    fl_schema_free(visible);
    if (s) {
        s->op.kind = "Sort";
        s->q = q;
        s->k = k;
        s->op.next = sort_next;
        s->op.describe = sort_describe;
        s->op.close = sort_close;
    }
    if (rc != FL_OK) {
        fl_op_free_all(s ? &s->op : NULL);
        return oom(err);
    }
    s->op.child = child;
    *out = &s->op;
    return FL_OK;
}
