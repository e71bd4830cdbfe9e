/*
 * aggregate.c — hash aggregation and DISTINCT rows (select.h).
 *
 * Per input batch the group keys and aggregate arguments are evaluated as whole columns; then one pass
 * over the rows finds each row's group in a rowset of keys (new keys open a group) and folds the argument
 * values into per-group state arrays. The result (keys, then aggregates) is built once the input ends.
 *
 * Invariants:
 *  1. Without GROUP BY there is exactly one group, even over no rows: count is 0, the others NULL.
 *  2. NULL arguments are skipped by every aggregate but count(*); a group whose values were all NULL
 *     gets NULL from sum, avg, min and max.
 *  3. sum of integers is exact or fails with an overflow error; avg of integers sums in 128 bits.
 *  4. count(DISTINCT x) and friends see a (group, value) pair once: a rowset of pairs per aggregate.
 */
#include "select.h"

static int oom(fl_error *err) { return fl_error_set(err, FL_ENOMEM, "out of memory"); }

typedef struct agg_state {
    int64_t *count;             /* count; values folded into sum/avg/min/max so far */
    int64_t *ival;              /* sum of integers; min/max of integers, timestamps, booleans */
    double *fval;               /* sum/avg of floats; min/max of floats */
    __int128 *wide;             /* avg of integers */
    uint8_t **bytes;            /* min/max of strings and binaries (owned copies) */
    size_t *len;
    fl_rowset seen;             /* DISTINCT: (group, value) pairs (invariant 4) */
    bool has_seen;
} agg_state;

typedef struct agg_op {
    fl_op op;
    const fl_query *q;
    fl_rowset groups;           /* group keys; stored row i is group i */
    int64_t n_groups, cap_groups;
    agg_state *states;          /* one per aggregate */
    int64_t *group_of;          /* group of each row of the current batch */
    int64_t cap_rows;
    fl_batch *result;
    int64_t emitted;
} agg_op;

/* ---- state ---- */

static bool grow(void **p, size_t elem, int64_t old_cap, int64_t cap) {
    void *n = fl_realloc(*p, (size_t)cap * elem);
    if (!n) return false;
    memset((uint8_t *)n + (size_t)old_cap * elem, 0, (size_t)(cap - old_cap) * elem);
    *p = n;
    return true;
}

static int ensure_groups(agg_op *a, int64_t n) {
    if (n > a->cap_groups) {
        int64_t cap = a->cap_groups ? a->cap_groups : 64;
        while (cap < n) cap *= 2;
        for (int32_t k = 0; k < a->q->n_aggs; k++) {
            agg_state *s = &a->states[k];
            if (!grow((void **)&s->count, sizeof *s->count, a->cap_groups, cap) || !grow((void **)&s->ival, sizeof *s->ival, a->cap_groups, cap) ||
                !grow((void **)&s->fval, sizeof *s->fval, a->cap_groups, cap) || !grow((void **)&s->wide, sizeof *s->wide, a->cap_groups, cap) ||
                !grow((void **)&s->bytes, sizeof *s->bytes, a->cap_groups, cap) || !grow((void **)&s->len, sizeof *s->len, a->cap_groups, cap))
                return FL_ENOMEM;
        }
        a->cap_groups = cap;
    }
    if (n > a->n_groups) a->n_groups = n;
    return FL_OK;
}

static void state_clear(agg_state *s, int64_t n_groups) {
    for (int64_t g = 0; s->bytes && g < n_groups; g++) fl_free(s->bytes[g]);
    fl_free(s->count);
    fl_free(s->ival);
    fl_free(s->fval);
    fl_free(s->wide);
    fl_free(s->bytes);
    fl_free(s->len);
    if (s->has_seen) fl_rowset_clear(&s->seen);
}

/* ---- folding values ---- */

static int fold_min_max(agg_state *s, const fl_agg_spec *spec, const fl_array *v, int64_t r, int64_t g) {
    bool first = s->count[g] == 0, is_min = spec->kind == FL_AGG_MIN;
    s->count[g] = 1;
    switch (v->type) {
    case FL_TYPE_FLOAT64: {
        double x = fl_array_get_float(v, r);
        fl_array cur = {.type = FL_TYPE_FLOAT64, .length = 1, .values = &s->fval[g]};
        if (first || (fl_value_compare(v, r, &cur, 0) < 0) == is_min) s->fval[g] = x;
        return FL_OK;
    }
    case FL_TYPE_STRING:
    case FL_TYPE_BINARY: {
        size_t n;
        const uint8_t *p = fl_array_get_bytes(v, r, &n);
        size_t m = n < s->len[g] ? n : s->len[g];
        int c = first ? 0 : m ? memcmp(p, s->bytes[g], m) : 0;
        if (!c && !first) c = (n > s->len[g]) - (n < s->len[g]);
        if (!first && (c == 0 || (c < 0) != is_min)) return FL_OK;
        uint8_t *copy = fl_malloc(n ? n : 1);
        if (!copy) return FL_ENOMEM;
        if (n) memcpy(copy, p, n);
        fl_free(s->bytes[g]);
        s->bytes[g] = copy;
        s->len[g] = n;
        return FL_OK;
    }
    case FL_TYPE_BOOL: {
        int64_t x = fl_array_get_bool(v, r);
        if (first || (x < s->ival[g]) == is_min) s->ival[g] = x;
        return FL_OK;
    }
    default: {
        int64_t x = fl_array_get_int(v, r);
        if (first || (x != s->ival[g] && (x < s->ival[g]) == is_min)) s->ival[g] = x;
        return FL_OK;
    }
    }
}

static int fold_value(agg_state *s, const fl_agg_spec *spec, const fl_array *v, int64_t r, int64_t g, fl_error *err) {
    switch (spec->kind) {
    case FL_AGG_COUNT_STAR:
    case FL_AGG_COUNT: s->count[g]++; return FL_OK;
    case FL_AGG_SUM:
        s->count[g]++;
        if (v->type == FL_TYPE_FLOAT64) s->fval[g] += fl_array_get_float(v, r);
        else if (__builtin_add_overflow(s->ival[g], fl_array_get_int(v, r), &s->ival[g]))
            return fl_error_set(err, FL_EINVAL, "integer overflow in %s", spec->text);
        return FL_OK;
    case FL_AGG_AVG:
        s->count[g]++;
        if (v->type == FL_TYPE_FLOAT64) s->fval[g] += fl_array_get_float(v, r);
        else s->wide[g] += fl_array_get_int(v, r);
        return FL_OK;
    default: return fold_min_max(s, spec, v, r, g) == FL_OK ? FL_OK : oom(err);
    }
}

/* Whether (group, value) is new for a DISTINCT aggregate (invariant 4). */
static int first_sighting(agg_state *s, const fl_array *groups, const fl_array *v, int64_t r, bool *fresh) {
    const fl_array *cols[2] = {groups, v};
    int64_t index;
    return fl_rowset_insert(&s->seen, cols, r, &index, fresh);
}

static int fold_aggregate(agg_op *a, int32_t k, const fl_batch *in, fl_error *err) {
    const fl_agg_spec *spec = &a->q->aggs[k];
    agg_state *s = &a->states[k];
    int64_t n = in->num_rows;
    if (spec->kind == FL_AGG_COUNT_STAR) {
        for (int64_t r = 0; r < n; r++) s->count[a->group_of[r]]++;
        return FL_OK;
    }
    fl_array v, gcol = {0};
    FL_RETURN_NOT_OK(fl_expr_eval(spec->arg, in, &v, err));
    int rc = FL_OK;
    if (spec->distinct) {
        /* The group of each row as a column, so pairs hash and compare like any row. */
        fl_field f = {.type = FL_TYPE_INT64};
        rc = fl_array_init(&gcol, &f) == FL_OK ? FL_OK : oom(err);
        for (int64_t r = 0; rc == FL_OK && r < n; r++)
            if (fl_array_append_int(&gcol, a->group_of[r]) != FL_OK) rc = oom(err);
    }
    for (int64_t r = 0; rc == FL_OK && r < n; r++) {
        if (fl_array_is_null(&v, r) || spec->arg->type == FL_EXPR_T_NULL) continue;
        bool fresh = true;
        if (spec->distinct && first_sighting(s, &gcol, &v, r, &fresh) != FL_OK) rc = oom(err);
        if (rc == FL_OK && fresh) rc = fold_value(s, spec, &v, r, a->group_of[r], err);
    }
    fl_array_clear(&gcol);
    fl_array_clear(&v);
    return rc;
}

/* Finds (or opens) the group of every row of `in`. */
static int assign_groups(agg_op *a, const fl_batch *in, fl_error *err) {
    const fl_query *q = a->q;
    if (in->num_rows > a->cap_rows) {
        int64_t *g = fl_realloc(a->group_of, (size_t)in->num_rows * sizeof *g);
        if (!g) return oom(err);
        a->group_of = g;
        a->cap_rows = in->num_rows;
    }
    if (q->n_groups == 0) {
        memset(a->group_of, 0, (size_t)in->num_rows * sizeof *a->group_of);
        return FL_OK;
    }
    fl_array *keys = fl_calloc((size_t)q->n_groups, sizeof *keys);
    const fl_array **ptrs = fl_calloc((size_t)q->n_groups, sizeof *ptrs);
    int rc = keys && ptrs ? FL_OK : oom(err);
    int32_t done = 0;
    for (; rc == FL_OK && done < q->n_groups; done++) {
        rc = fl_node_eval(q->groups[done], in, &keys[done], err);
        ptrs[done] = &keys[done];
        if (rc == FL_OK && keys[done].type != a->groups.cols[done].type) {
            rc = fl_error_set(err, FL_EINVAL, "GROUP BY %s: evaluated %s, expected %s", q->group_texts[done], fl_type_name(keys[done].type),
                              fl_type_name(a->groups.cols[done].type));
            fl_array_clear(&keys[done]);
        }
        if (rc != FL_OK) break;
    }
    for (int64_t r = 0; rc == FL_OK && r < in->num_rows; r++) {
        bool added;
        if (fl_rowset_insert(&a->groups, ptrs, r, &a->group_of[r], &added) != FL_OK || (added && ensure_groups(a, a->group_of[r] + 1) != FL_OK))
            rc = oom(err);
    }
    for (int32_t k = 0; k < done; k++) fl_array_clear(&keys[k]);
    fl_free(keys);
    fl_free(ptrs);
    return rc;
}

static int consume(agg_op *a, fl_error *err) {
    for (;;) {
        fl_batch *in;
        FL_RETURN_NOT_OK(fl_op_next(a->op.child, &in, err));
        if (!in) return FL_OK;
        int rc = assign_groups(a, in, err);
        for (int32_t k = 0; rc == FL_OK && k < a->q->n_aggs; k++) rc = fold_aggregate(a, k, in, err);
        fl_batch_free(in);
        FL_RETURN_NOT_OK(rc);
    }
}

/* ---- the result ---- */

static int append_result(const agg_state *s, const fl_agg_spec *spec, int64_t g, fl_array *dst) {
    if (spec->kind == FL_AGG_COUNT || spec->kind == FL_AGG_COUNT_STAR) return fl_array_append_int(dst, s->count[g]);
    if (s->count[g] == 0 || spec->type == FL_EXPR_T_NULL) return fl_array_append_null(dst);
    bool ints = spec->arg->type == FL_EXPR_T_INT;
    switch (spec->kind) {
    case FL_AGG_SUM: return ints ? fl_array_append_int(dst, s->ival[g]) : fl_array_append_float(dst, s->fval[g]);
    case FL_AGG_AVG:
        return fl_array_append_float(dst, ints ? (double)((long double)s->wide[g] / (long double)s->count[g]) : s->fval[g] / (double)s->count[g]);
    default: break;
    }
    switch (dst->type) {
    case FL_TYPE_FLOAT64: return fl_array_append_float(dst, s->fval[g]);
    case FL_TYPE_STRING:
    case FL_TYPE_BINARY: return fl_array_append_bytes(dst, s->bytes[g], s->len[g]);
    case FL_TYPE_BOOL: return fl_array_append_bool(dst, s->ival[g] != 0);
    default: return fl_array_append_int(dst, s->ival[g]);
    }
}

static int build_result(agg_op *a, fl_error *err) {
    const fl_query *q = a->q;
    fl_batch *b = fl_batch_new_empty(a->op.schema);
    if (!b) return oom(err);
    for (int32_t k = 0; k < q->n_groups; k++) {
        fl_array_clear(&b->columns[k]);
        b->columns[k] = a->groups.cols[k];           /* the stored keys are the key columns */
        memset(&a->groups.cols[k], 0, sizeof a->groups.cols[k]);
    }
    for (int32_t k = 0; k < q->n_aggs; k++)
        for (int64_t g = 0; g < a->n_groups; g++)
            if (append_result(&a->states[k], &q->aggs[k], g, &b->columns[q->n_groups + k]) != FL_OK) {
                fl_batch_free(b);
                return oom(err);
            }
    b->num_rows = a->n_groups;
    a->result = b;
    return FL_OK;
}

static int agg_next(fl_op *op, fl_batch **out, fl_error *err) {
    agg_op *a = (agg_op *)op;
    if (!a->result) {
        FL_RETURN_NOT_OK(consume(a, err));
        FL_RETURN_NOT_OK(build_result(a, err));
    }
    int64_t n = a->result->num_rows - a->emitted, size = a->q->batch_size > 0 ? a->q->batch_size : 8192;
    if (n <= 0) return FL_OK;
    if (n > size) n = size;
    FL_RETURN_NOT_OK(fl_batch_slice(a->result, op->schema, a->emitted, n, out, err));
    a->emitted += n;
    return FL_OK;
}

static void agg_describe(const fl_op *op, fl_buf *b, bool analyze, int depth) {
    const fl_query *q = ((const agg_op *)op)->q;
    fl_plan_indent(b, depth);
    fl_buf_printf(b, "%s", q->n_groups ? "HashAggregate" : "Aggregate");
    for (int32_t i = 0; i < q->n_aggs; i++) fl_buf_printf(b, "%s%s", i ? ", " : " ", q->aggs[i].text);
    if (q->n_groups) {
        fl_buf_printf(b, " group by ");
        for (int32_t i = 0; i < q->n_groups; i++) {
            if (i) fl_buf_printf(b, ", ");
            fl_expr_format(q->groups[i], b);
        }
    }
    if (analyze) fl_buf_printf(b, " (rows=%lld)", (long long)op->rows_out);
    fl_buf_put_u8(b, '\n');
}

static void agg_close(fl_op *op) {
    agg_op *a = (agg_op *)op;
    for (int32_t k = 0; a->states && k < a->q->n_aggs; k++) state_clear(&a->states[k], a->n_groups);
    fl_free(a->states);
    fl_rowset_clear(&a->groups);
    fl_free(a->group_of);
    fl_batch_free(a->result);
}

static int agg_init(agg_op *a, fl_error *err) {
    const fl_query *q = a->q;
    if (fl_rowset_init(&a->groups, q->agg_out->fields, q->n_groups) != FL_OK) return oom(err);
    if (!(a->states = fl_calloc((size_t)q->n_aggs + 1, sizeof *a->states))) return oom(err);
    for (int32_t k = 0; k < q->n_aggs; k++) {
        if (!q->aggs[k].distinct) continue;
        fl_field pair[2] = {{.type = FL_TYPE_INT64}, {0}};
        fl_expr_node tmp = *q->aggs[k].arg;
        tmp.kind = FL_EXPR_LITERAL; /* its evaluated (canonical) field, never a stored column's */
        if (fl_node_field(&tmp, q->stage, "v", &pair[1]) != FL_OK) return oom(err);
        int rc = fl_rowset_init(&a->states[k].seen, pair, 2);
        fl_field_clear(&pair[1]);
        if (rc != FL_OK) return oom(err);
        a->states[k].has_seen = true;
    }
    /* Invariant 1: without GROUP BY the one group exists before any row. */
    if (q->n_groups == 0 && ensure_groups(a, 1) != FL_OK) return oom(err);
    return FL_OK;
}

int fl_op_aggregate(fl_op *child, const fl_query *q, fl_op **out, fl_error *err) {
    *out = NULL;
    agg_op *a = fl_calloc(1, sizeof *a);
    if (!a || !(a->op.schema = fl_schema_copy(q->agg_out))) {
        fl_free(a);
        return oom(err);
    }
    a->op.kind = "Aggregate";
    a->q = q;
    a->op.next = agg_next;
    a->op.describe = agg_describe;
    a->op.close = agg_close;
    int rc = agg_init(a, err);
    if (rc != FL_OK) {
        fl_op_free_all(&a->op);
        return rc;
    }
    a->op.child = child;
    *out = &a->op;
    return FL_OK;
}

/* ---- Distinct: the first occurrence of each row (of the first n columns) ---- */

typedef struct distinct_op {
    fl_op op;
    int32_t n_columns;
    fl_rowset seen;
    int64_t *rows;
    int64_t cap_rows;
} distinct_op;

static int distinct_next(fl_op *op, fl_batch **out, fl_error *err) {
    distinct_op *d = (distinct_op *)op;
    const fl_array *cols[FL_SELECT_MAX_COLUMNS];
    if (d->n_columns > (int32_t)(sizeof cols / sizeof cols[0])) return fl_error_set(err, FL_EINVAL, "too many columns for DISTINCT");
    for (;;) {
        fl_batch *in;
        FL_RETURN_NOT_OK(fl_op_next(op->child, &in, err));
        if (!in) return FL_OK;
        if (in->num_rows > d->cap_rows) {
            int64_t *r = fl_realloc(d->rows, (size_t)in->num_rows * sizeof *r);
            if (!r) {
                fl_batch_free(in);
                return oom(err);
            }
            d->rows = r;
            d->cap_rows = in->num_rows;
        }
        for (int32_t c = 0; c < d->n_columns; c++) cols[c] = &in->columns[c];
        int64_t n = 0;
        int rc = FL_OK;
        for (int64_t r = 0; rc == FL_OK && r < in->num_rows; r++) {
            int64_t index;
            bool added;
            if (fl_rowset_insert(&d->seen, cols, r, &index, &added) != FL_OK) rc = oom(err);
            else if (added) d->rows[n++] = r;
        }
        if (rc == FL_OK && n > 0) rc = fl_batch_take_rows(in, op->schema, d->rows, n, out, err);
        fl_batch_free(in);
        if (rc != FL_OK || *out) return rc;
    }
}

static void distinct_describe(const fl_op *op, fl_buf *b, bool analyze, int depth) {
    fl_plan_indent(b, depth);
    fl_buf_printf(b, "Distinct");
    if (analyze) fl_buf_printf(b, " (rows=%lld)", (long long)op->rows_out);
    fl_buf_put_u8(b, '\n');
}

static void distinct_close(fl_op *op) {
    distinct_op *d = (distinct_op *)op;
    fl_rowset_clear(&d->seen);
    fl_free(d->rows);
}

int fl_op_distinct(fl_op *child, int32_t n_columns, fl_op **out, fl_error *err) {
    *out = NULL;
    distinct_op *d = fl_calloc(1, sizeof *d);
    if (!d || !(d->op.schema = fl_schema_copy(child->schema))) {
        fl_free(d);
        return oom(err);
    }
    d->op.kind = "Distinct";
    d->n_columns = n_columns;
    d->op.next = distinct_next;
    d->op.describe = distinct_describe;
    d->op.close = distinct_close;
    if (fl_rowset_init(&d->seen, child->schema->fields, n_columns) != FL_OK) {
        fl_op_free_all(&d->op);
        return oom(err);
    }
    d->op.child = child;
    *out = &d->op;
    return FL_OK;
}
