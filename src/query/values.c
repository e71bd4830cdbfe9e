/*
 * values.c — what the SELECT operators share below the expression level: the field and the column of an
 * evaluated node, copying rows between batches, and comparing, hashing and de-duplicating row values.
 *
 * Invariants:
 *  1. fl_value_compare is a total order on the non-NULL values of one array type: integers by value
 *     (unsigned 64-bit included), floats by value with -0 == 0 and every NaN equal and above all numbers,
 *     strings and binaries bytewise, lists lexicographically with NULL elements last.
 *  2. fl_value_hash agrees with it: values that compare equal hash equal (floats that are integral hash as
 *     the integer would, so 1.0 and 1 agree should a caller ever mix them).
 *  3. A rowset never moves a stored row: index i names the same tuple for the set's whole life.
 */
#include "select.h"

#include <math.h>

static int oom(fl_error *err) { return fl_error_set(err, FL_ENOMEM, "out of memory"); }

/* ---- fields and evaluation ---- */

static fl_type_id array_type_of(fl_expr_type t) {
    switch (t) {
    case FL_EXPR_T_INT: return FL_TYPE_INT64;
    case FL_EXPR_T_FLOAT: return FL_TYPE_FLOAT64;
    case FL_EXPR_T_STRING: return FL_TYPE_STRING;
    case FL_EXPR_T_BINARY: return FL_TYPE_BINARY;
    case FL_EXPR_T_TIMESTAMP: return FL_TYPE_TIMESTAMP_MS;
    case FL_EXPR_T_LIST: return FL_TYPE_LIST;
    default: return FL_TYPE_BOOL; /* booleans, and the all-NULL column of a NULL literal */
    }
}

int fl_node_field(const fl_expr_node *node, const fl_schema *input, const char *name, fl_field *out) {
    memset(out, 0, sizeof *out);
    int rc = FL_OK;
    int k = node->kind == FL_EXPR_COLUMN ? fl_schema_find(input, node->name) : -1;
    if (k >= 0) rc = fl_field_copy_into(out, &input->fields[k]);
    else if (node->kind == FL_EXPR_ELEMENT && node->type == FL_EXPR_T_OTHER) rc = fl_field_copy_into(out, node->args[0]->elem);
    else {
        out->type = array_type_of(node->type);
        if (out->type == FL_TYPE_LIST) {
            out->n_children = 1;
            out->children = fl_calloc(1, sizeof *out->children);
            rc = out->children ? fl_field_copy_into(&out->children[0], node->elem) : FL_ENOMEM;
        }
    }
    if (rc == FL_OK) {
        fl_free(out->name);
        out->name = fl_strdup(name);
        out->nullable = true;
        out->id = -1;
        if (!out->name) rc = FL_ENOMEM;
    }
    if (rc != FL_OK) fl_field_clear(out);
    return rc;
}

int fl_node_eval(const fl_expr_node *node, const fl_batch *batch, fl_array *out, fl_error *err) {
    if (node->kind == FL_EXPR_COLUMN) {
        int k = fl_schema_find(batch->schema, node->name);
        if (k < 0) return fl_error_set(err, FL_EINVAL, "column \"%s\" is missing from the batch", node->name);
        if (fl_array_init(out, &batch->schema->fields[k]) != FL_OK) return oom(err);
        if (fl_array_append_range(out, &batch->columns[k], 0, batch->num_rows) != FL_OK) {
            fl_array_clear(out);
            return oom(err);
        }
        return FL_OK;
    }
    return fl_expr_eval(node, batch, out, err);
}

int fl_batch_take_rows(const fl_batch *in, const fl_schema *schema, const int64_t *rows, int64_t n, fl_batch **out, fl_error *err) {
    *out = NULL;
    fl_batch *b = fl_batch_new_empty(schema);
    if (!b) return oom(err);
    int rc = FL_OK;
    for (int32_t c = 0; rc == FL_OK && c < schema->n_fields; c++) {
        /* Consecutive rows move as one range: a selective filter still copies runs cheaply. */
        for (int64_t k = 0; rc == FL_OK && k < n;) {
            int64_t e = k + 1;
            while (e < n && rows[e] == rows[e - 1] + 1) e++;
            if (fl_array_append_range(&b->columns[c], &in->columns[c], rows[k], e - k) != FL_OK) rc = oom(err);
            k = e;
        }
    }
    if (rc == FL_OK && in->row_ids) {
        if (!(b->row_ids = fl_malloc((size_t)(n ? n : 1) * sizeof *b->row_ids))) rc = oom(err);
        for (int64_t k = 0; rc == FL_OK && k < n; k++) b->row_ids[k] = in->row_ids[rows[k]];
    }
    if (rc != FL_OK) {
        fl_batch_free(b);
        return rc;
    }
    b->num_rows = n;
    *out = b;
    return FL_OK;
}

int fl_batch_slice(const fl_batch *in, const fl_schema *schema, int64_t start, int64_t n, fl_batch **out, fl_error *err) {
    *out = NULL;
    fl_batch *b = fl_batch_new_empty(schema);
    if (!b) return oom(err);
    int rc = FL_OK;
    for (int32_t c = 0; rc == FL_OK && c < schema->n_fields; c++)
        if (fl_array_append_range(&b->columns[c], &in->columns[c], start, n) != FL_OK) rc = oom(err);
    if (rc == FL_OK && in->row_ids) {
        if (!(b->row_ids = fl_malloc((size_t)(n ? n : 1) * sizeof *b->row_ids))) rc = oom(err);
        else memcpy(b->row_ids, in->row_ids + start, (size_t)n * sizeof *b->row_ids);
    }
    if (rc != FL_OK) {
        fl_batch_free(b);
        return rc;
    }
    b->num_rows = n;
    *out = b;
    return FL_OK;
}

/* ---- comparing and hashing (invariants 1 and 2) ---- */

static int cmp_double(double x, double y) {
    bool nx = isnan(x), ny = isnan(y);
    if (nx || ny) return nx && ny ? 0 : nx ? 1 : -1;
    return (x > y) - (x < y);
}

static int cmp_bytes(const uint8_t *pa, size_t la, const uint8_t *pb, size_t lb) {
    size_t m = la < lb ? la : lb;
    int c = m ? memcmp(pa, pb, m) : 0;
    if (c) return c < 0 ? -1 : 1;
    return (la > lb) - (la < lb);
}

int fl_value_compare(const fl_array *a, int64_t i, const fl_array *b, int64_t j) {
    fl_type_id t = a->type;
    if (fl_type_is_float(t) || fl_type_is_float(b->type)) return cmp_double(fl_array_get_float(a, i), fl_array_get_float(b, j));
    if (t == FL_TYPE_UINT64) {
        uint64_t x = fl_array_get_uint(a, i), y = fl_array_get_uint(b, j);
        return (x > y) - (x < y);
    }
    if (fl_type_is_integer(t) || t == FL_TYPE_TIMESTAMP_MS) {
        int64_t x = fl_type_is_signed(t) || t == FL_TYPE_TIMESTAMP_MS ? fl_array_get_int(a, i) : (int64_t)fl_array_get_uint(a, i);
        int64_t y = fl_type_is_signed(b->type) || b->type == FL_TYPE_TIMESTAMP_MS ? fl_array_get_int(b, j) : (int64_t)fl_array_get_uint(b, j);
        return (x > y) - (x < y);
    }
    switch (t) {
    case FL_TYPE_BOOL: return (int)fl_array_get_bool(a, i) - (int)fl_array_get_bool(b, j);
    case FL_TYPE_STRING:
    case FL_TYPE_BINARY: {
        size_t la, lb;
        const uint8_t *pa = fl_array_get_bytes(a, i, &la), *pb = fl_array_get_bytes(b, j, &lb);
        return cmp_bytes(pa, la, pb, lb);
    }
    case FL_TYPE_LIST:
    case FL_TYPE_FIXED_SIZE_LIST: {
        int64_t sa, ea, sb, eb;
        fl_array_get_list(a, i, &sa, &ea);
        fl_array_get_list(b, j, &sb, &eb);
        for (; sa < ea && sb < eb; sa++, sb++) {
            bool na = fl_array_is_null(&a->children[0], sa), nb = fl_array_is_null(&b->children[0], sb);
            int c = na || nb ? (int)na - (int)nb : fl_value_compare(&a->children[0], sa, &b->children[0], sb);
            if (c) return c;
        }
        return (ea - sa > eb - sb) - (ea - sa < eb - sb);
    }
    case FL_TYPE_STRUCT:
        for (int32_t k = 0; k < a->n_children; k++) {
            bool na = fl_array_is_null(&a->children[k], i), nb = fl_array_is_null(&b->children[k], j);
            int c = na || nb ? (int)na - (int)nb : fl_value_compare(&a->children[k], i, &b->children[k], j);
            if (c) return c;
        }
        return 0;
    default: return 0;
    }
}

static uint64_t mix(uint64_t h, uint64_t v) {
    h ^= v + 0x9E3779B97F4A7C15ull + (h << 6) + (h >> 2);
    return h * 0xff51afd7ed558ccdull;
}

uint64_t fl_value_hash(const fl_array *a, int64_t i) {
    if (fl_array_is_null(a, i)) return 0x5bd1e995u;
    fl_type_id t = a->type;
    if (fl_type_is_float(t)) {
        double d = fl_array_get_float(a, i);
        if (isnan(d)) return 0x7ff8;
        if (d == floor(d) && fabs(d) < 9.2e18) return mix(1, (uint64_t)(int64_t)d);
        uint64_t bits;
        memcpy(&bits, &d, sizeof bits);
        return mix(2, bits);
    }
    if (t == FL_TYPE_UINT64) return mix(1, fl_array_get_uint(a, i));
    if (fl_type_is_integer(t) || t == FL_TYPE_TIMESTAMP_MS)
        return mix(1, fl_type_is_signed(t) || t == FL_TYPE_TIMESTAMP_MS ? (uint64_t)fl_array_get_int(a, i) : fl_array_get_uint(a, i));
    switch (t) {
    case FL_TYPE_BOOL: return mix(3, fl_array_get_bool(a, i));
    case FL_TYPE_STRING:
    case FL_TYPE_BINARY: {
        size_t n;
        const uint8_t *p = fl_array_get_bytes(a, i, &n);
        return mix(4, fl_hash64(p, n));
    }
    case FL_TYPE_LIST:
    case FL_TYPE_FIXED_SIZE_LIST: {
        int64_t s, e;
        fl_array_get_list(a, i, &s, &e);
        uint64_t h = mix(5, (uint64_t)(e - s));
        for (int64_t k = s; k < e; k++) h = mix(h, fl_value_hash(&a->children[0], k));
        return h;
    }
    case FL_TYPE_STRUCT: {
        uint64_t h = 6;
        for (int32_t k = 0; k < a->n_children; k++) h = mix(h, fl_value_hash(&a->children[k], i));
        return h;
    }
    default: return 7;
    }
}

bool fl_value_equal(const fl_array *a, int64_t i, const fl_array *b, int64_t j) {
    bool na = fl_array_is_null(a, i), nb = fl_array_is_null(b, j);
    if (na || nb) return na && nb;
    return fl_value_compare(a, i, b, j) == 0;
}

/* ---- row sets ---- */

int fl_rowset_init(fl_rowset *s, const fl_field *fields, int32_t n_cols) {
    memset(s, 0, sizeof *s);
    s->cols = fl_calloc((size_t)n_cols + 1, sizeof *s->cols);
    if (!s->cols) return FL_ENOMEM;
    s->n_cols = n_cols;
    for (int32_t c = 0; c < n_cols; c++)
        if (fl_array_init(&s->cols[c], &fields[c]) != FL_OK) {
            fl_rowset_clear(s);
            return FL_ENOMEM;
        }
    s->n_slots = 64;
    s->slots = fl_calloc(s->n_slots, sizeof *s->slots);
    if (!s->slots) {
        fl_rowset_clear(s);
        return FL_ENOMEM;
    }
    return FL_OK;
}

void fl_rowset_clear(fl_rowset *s) {
    for (int32_t c = 0; s->cols && c < s->n_cols; c++) fl_array_clear(&s->cols[c]);
    fl_free(s->cols);
    fl_free(s->hashes);
    fl_free(s->slots);
    memset(s, 0, sizeof *s);
}

static int grow_slots(fl_rowset *s) {
    uint64_t n = s->n_slots * 2;
    int64_t *slots = fl_calloc(n, sizeof *slots);
    if (!slots) return FL_ENOMEM;
    for (int64_t r = 0; r < s->n_rows; r++) {
        uint64_t k = s->hashes[r] & (n - 1);
        while (slots[k]) k = (k + 1) & (n - 1);
        slots[k] = r + 1;
    }
    fl_free(s->slots);
    s->slots = slots;
    s->n_slots = n;
    return FL_OK;
}

static bool row_matches(const fl_rowset *s, int64_t stored, const fl_array *const *cols, int64_t row) {
    for (int32_t c = 0; c < s->n_cols; c++)
        if (!fl_value_equal(&s->cols[c], stored, cols[c], row)) return false;
    return true;
}

int fl_rowset_insert(fl_rowset *s, const fl_array *const *cols, int64_t row, int64_t *index, bool *added) {
    uint64_t h = 0x243F6A8885A308D3ull;
    for (int32_t c = 0; c < s->n_cols; c++) h = mix(h, fl_value_hash(cols[c], row));
    uint64_t k = h & (s->n_slots - 1);
    for (; s->slots[k]; k = (k + 1) & (s->n_slots - 1)) {
        int64_t r = s->slots[k] - 1;
        if (s->hashes[r] == h && row_matches(s, r, cols, row)) {
            *index = r;
            *added = false;
            return FL_OK;
        }
    }
    if (!fl_reserve((void **)&s->hashes, &s->cap_hashes, (size_t)s->n_rows + 1, sizeof *s->hashes, 64)) return FL_ENOMEM;
    for (int32_t c = 0; c < s->n_cols; c++)
        if (fl_array_append_from(&s->cols[c], cols[c], row) != FL_OK) return FL_ENOMEM;
    s->hashes[s->n_rows] = h;
    s->slots[k] = s->n_rows + 1;
    *index = s->n_rows++;
    *added = true;
    if ((uint64_t)s->n_rows * 2 > s->n_slots) return grow_slots(s);
    return FL_OK;
}
