/*
 * eval.c — vectorized evaluation of the IR: each node is computed for a whole batch at once, from its
 * children's result columns into a new column (expr.h, invariants 3 and 4).
 *
 * Invariants:
 *  1. A qval either borrows a column of the batch (canonical types are read in place) or owns its array;
 *     qval_clear frees only what it owns.
 *  2. Every result array has exactly num_rows values; validity is NULL when nothing is NULL.
 */
#include "expr.h"

#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <strings.h>

typedef struct qval {
    fl_array own;               /* owned result, when a == &own */
    const fl_array *a;          /* what to read */
} qval;

static void qval_clear(qval *v) {
    fl_array_clear(&v->own);
    v->a = NULL;
}

static int oom(fl_error *err) { return fl_error_set(err, FL_ENOMEM, "out of memory"); }

/*
 * Constants are evaluated once, as one-value arrays, and broadcast: every accessor below reads value 0 of
 * a one-value array whatever row it is asked for (a real column of one value is only ever asked for row
 * 0, so the rule is safe). Operators therefore take constants without copying them per row; functions
 * that do not declare broadcast support get them expanded (expand_to).
 */
static inline int64_t at(const fl_array *a, int64_t i) { return a->length == 1 ? 0 : i; }
static inline bool is_null(const fl_array *a, int64_t i) { return a->validity && !fl_bit_get(a->validity, at(a, i)); }
static inline int64_t get_i(const fl_array *a, int64_t i) { return ((const int64_t *)a->values)[at(a, i)]; }
static inline double get_f(const fl_array *a, int64_t i) {
    i = at(a, i);
    return a->type == FL_TYPE_FLOAT64 ? ((const double *)a->values)[i] : (double)((const int64_t *)a->values)[i];
}
static inline bool get_b(const fl_array *a, int64_t i) { return fl_bit_get(a->values, at(a, i)); }
static inline const uint8_t *get_s(const fl_array *a, int64_t i, int64_t *len) {
    i = at(a, i);
    *len = a->offsets[i + 1] - a->offsets[i];
    return (const uint8_t *)a->values + a->offsets[i];
}

/* A fixed-width (or BOOL) array of n values, all valid, values zeroed. */
static int alloc_fixed(fl_array *a, fl_type_id type, int64_t n) {
    memset(a, 0, sizeof *a);
    a->type = type;
    int64_t bytes = type == FL_TYPE_BOOL ? (n + 7) / 8 : n * 8;
    a->values = fl_calloc(1, (size_t)(bytes ? bytes : 8));
    a->validity = fl_malloc((size_t)((n + 7) / 8 + 1));
    if (!a->values || !a->validity) {
        fl_array_clear(a);
        return FL_ENOMEM;
    }
    memset(a->validity, 0xFF, (size_t)((n + 7) / 8 + 1));
    a->cap_values = bytes ? bytes : 8;
    a->cap_validity = (n + 7) / 8 + 1;
    a->length = n;
    return FL_OK;
}

/* Counts NULLs; drops the bitmap when there are none (invariant 2). */
static void finish(fl_array *a) {
    int64_t nulls = 0, full = a->length / 8;
    for (int64_t k = 0; k < full; k++) nulls += 8 - __builtin_popcount(a->validity[k]);
    for (int64_t i = full * 8; i < a->length; i++) nulls += !fl_bit_get(a->validity, i);
    a->null_count = nulls;
    if (!nulls) {
        fl_free(a->validity);
        a->validity = NULL;
        a->cap_validity = 0;
    }
}

static int init_like(fl_array *a, fl_type_id type) {
    fl_field f = {0};
    f.type = type;
    return fl_array_init(a, &f) == FL_OK ? FL_OK : FL_ENOMEM;
}

/* Reads any column into its canonical form (expr.h invariant 3), borrowing when it already is. */
static int canonical(const fl_array *col, qval *v, fl_error *err) {
    memset(v, 0, sizeof *v);
    fl_type_id t = col->type;
    if (t == FL_TYPE_INT64 || t == FL_TYPE_FLOAT64 || !(fl_type_is_integer(t) || t == FL_TYPE_FLOAT32)) {
        v->a = col;
        return FL_OK;
    }
    bool is_float = t == FL_TYPE_FLOAT32;
    int64_t n = col->length;
    if (alloc_fixed(&v->own, is_float ? FL_TYPE_FLOAT64 : FL_TYPE_INT64, n) != FL_OK) return oom(err);
    int64_t *iv = v->own.values;
    double *fv = v->own.values;
    switch (t) {
    case FL_TYPE_FLOAT32: for (int64_t i = 0; i < n; i++) fv[i] = ((const float *)col->values)[i]; break;
    case FL_TYPE_INT8: for (int64_t i = 0; i < n; i++) iv[i] = ((const int8_t *)col->values)[i]; break;
    case FL_TYPE_INT16: for (int64_t i = 0; i < n; i++) iv[i] = ((const int16_t *)col->values)[i]; break;
    case FL_TYPE_INT32: for (int64_t i = 0; i < n; i++) iv[i] = ((const int32_t *)col->values)[i]; break;
    case FL_TYPE_UINT8: for (int64_t i = 0; i < n; i++) iv[i] = ((const uint8_t *)col->values)[i]; break;
    case FL_TYPE_UINT16: for (int64_t i = 0; i < n; i++) iv[i] = ((const uint16_t *)col->values)[i]; break;
    case FL_TYPE_UINT32: for (int64_t i = 0; i < n; i++) iv[i] = ((const uint32_t *)col->values)[i]; break;
    default: for (int64_t i = 0; i < n; i++) iv[i] = (int64_t)((const uint64_t *)col->values)[i]; break;
    }
    if (col->validity && col->null_count) memcpy(v->own.validity, col->validity, (size_t)((n + 7) / 8));
    finish(&v->own);
    v->a = &v->own;
    return FL_OK;
}

static int literal(const fl_expr_node *n, int64_t rows, fl_array *out) {
    switch (n->type) {
    case FL_EXPR_T_STRING: {
        if (init_like(out, FL_TYPE_STRING) != FL_OK) return FL_ENOMEM;
        size_t len = strlen(n->lit_string);
        if (fl_array_reserve_values(out, (int64_t)len * rows) != FL_OK) return FL_ENOMEM;
        for (int64_t i = 0; i < rows; i++)
            if (fl_array_append_bytes(out, n->lit_string, len) != FL_OK) return FL_ENOMEM;
        return FL_OK;
    }
    case FL_EXPR_T_INT:
    case FL_EXPR_T_TIMESTAMP:
        if (alloc_fixed(out, n->type == FL_EXPR_T_INT ? FL_TYPE_INT64 : FL_TYPE_TIMESTAMP_MS, rows) != FL_OK) return FL_ENOMEM;
        for (int64_t i = 0; i < rows; i++) ((int64_t *)out->values)[i] = n->lit_int;
        break;
    case FL_EXPR_T_FLOAT:
        if (alloc_fixed(out, FL_TYPE_FLOAT64, rows) != FL_OK) return FL_ENOMEM;
        for (int64_t i = 0; i < rows; i++) ((double *)out->values)[i] = n->lit_float;
        break;
    case FL_EXPR_T_BOOL:
        if (alloc_fixed(out, FL_TYPE_BOOL, rows) != FL_OK) return FL_ENOMEM;
        memset(out->values, n->lit_bool ? 0xFF : 0, (size_t)((rows + 7) / 8));
        break;
    default: /* NULL: an all-NULL column (BOOL layout; never read as values) */
        if (alloc_fixed(out, FL_TYPE_BOOL, rows) != FL_OK) return FL_ENOMEM;
        memset(out->validity, 0, (size_t)((rows + 7) / 8 + 1));
        break;
    }
    finish(out);
    return FL_OK;
}

/* -1/0/1 comparison of two non-NULL canonical values. */
static int compare_at(const fl_array *a, const fl_array *b, int64_t i) {
    fl_type_id ta = a->type, tb = b->type;
    bool ia = ta == FL_TYPE_INT64 || ta == FL_TYPE_TIMESTAMP_MS, ib = tb == FL_TYPE_INT64 || tb == FL_TYPE_TIMESTAMP_MS;
    if (ia && ib) {
        int64_t x = get_i(a, i), y = get_i(b, i);
        return (x > y) - (x < y);
    }
    if ((ia || ta == FL_TYPE_FLOAT64) && (ib || tb == FL_TYPE_FLOAT64)) {
        double x = get_f(a, i), y = get_f(b, i);
        /* NaN equals NaN and sorts above every number, as in PostgreSQL and DataFusion. */
        if (isnan(x) || isnan(y)) return isnan(x) && isnan(y) ? 0 : isnan(x) ? 1 : -1;
        return (x > y) - (x < y);
    }
    if (ta == FL_TYPE_BOOL) return (int)get_b(a, i) - (int)get_b(b, i);
    int64_t la, lb;
    const uint8_t *pa = get_s(a, i, &la), *pb = get_s(b, i, &lb);
    int64_t m = la < lb ? la : lb;
    int c = m ? memcmp(pa, pb, (size_t)m) : 0;
    if (c) return c < 0 ? -1 : 1;
    return (la > lb) - (la < lb);
}

/* out's validity = the AND of a's and b's (constants broadcast). out comes from alloc_fixed (all valid). */
static void and_validity(fl_array *out, const fl_array *a, const fl_array *b, int64_t n) {
    size_t bytes = (size_t)((n + 7) / 8);
    const fl_array *in[2] = {a, b};
    for (int k = 0; k < 2; k++) {
        const fl_array *x = in[k];
        if (!x->validity || !x->null_count) continue;
        if (x->length == 1 && n != 1) {
            memset(out->validity, 0, bytes); /* a NULL constant */
            return;
        }
        for (size_t j = 0; j < bytes; j++) out->validity[j] &= x->validity[j];
    }
}

static bool op_holds(fl_expr_op op, int c) {
    switch (op) {
    case FL_OP_EQ: return c == 0;
    case FL_OP_NE: return c != 0;
    case FL_OP_LT: return c < 0;
    case FL_OP_LE: return c <= 0;
    case FL_OP_GT: return c > 0;
    default: return c >= 0;
    }
}

/* Writes bit i of a BOOL result: the loops below build whole bytes. */
#define BITLOOP(n, out, EXPR)                                                                                          \
    do {                                                                                                               \
        uint8_t *bits_ = (out)->values;                                                                                \
        for (int64_t base_ = 0; base_ < (n); base_ += 8) {                                                             \
            uint8_t byte_ = 0;                                                                                         \
            int64_t end_ = (n) - base_ < 8 ? (n) - base_ : 8;                                                          \
            for (int64_t j_ = 0; j_ < end_; j_++) {                                                                    \
                int64_t i = base_ + j_;                                                                                \
                byte_ |= (uint8_t)((EXPR) ? 1u : 0u) << j_;                                                            \
            }                                                                                                          \
            bits_[base_ >> 3] = byte_;                                                                                 \
        }                                                                                                              \
    } while (0)

/* -1/0/1 byte-wise comparison of two strings. */
static inline int bytes_cmp(const uint8_t *x, int64_t xl, const uint8_t *y, int64_t yl) {
    int64_t m = xl < yl ? xl : yl;
    int c = m ? memcmp(x, y, (size_t)m) : 0;
    return c ? (c < 0 ? -1 : 1) : (xl > yl) - (xl < yl);
}

static inline bool in_ints(int64_t x, const int64_t *ival, int32_t k) {
    for (int32_t j = 0; j < k; j++)
        if (x == ival[j]) return true;
    return false;
}

/* Whether the string equals one of k constants (length and first byte before the bytes). */
static inline bool in_strings(const uint8_t *x, int64_t xl, const uint8_t *const *sval, const int64_t *slen, int32_t k) {
    for (int32_t j = 0; j < k; j++)
        if (slen[j] == xl && (xl == 0 || (x[0] == sval[j][0] && !memcmp(x, sval[j], (size_t)xl)))) return true;
    return false;
}

/* Column against a constant (b of one value, non-NULL): the filters' common case, in tight loops. */
static bool compare_scalar(fl_expr_op op, const fl_array *a, const fl_array *b, int64_t n, fl_array *out) {
    fl_type_id ta = a->type, tb = b->type;
    bool ia = ta == FL_TYPE_INT64 || ta == FL_TYPE_TIMESTAMP_MS, ib = tb == FL_TYPE_INT64 || tb == FL_TYPE_TIMESTAMP_MS;
    if (ia && ib) {
        const int64_t *x = a->values, y = get_i(b, 0);
        switch (op) {
        case FL_OP_EQ: BITLOOP(n, out, x[i] == y); break;
        case FL_OP_NE: BITLOOP(n, out, x[i] != y); break;
        case FL_OP_LT: BITLOOP(n, out, x[i] < y); break;
        case FL_OP_LE: BITLOOP(n, out, x[i] <= y); break;
        case FL_OP_GT: BITLOOP(n, out, x[i] > y); break;
        default: BITLOOP(n, out, x[i] >= y); break;
        }
        return true;
    }
    if (ta == FL_TYPE_FLOAT64 && (ib || tb == FL_TYPE_FLOAT64)) {
        const double *x = a->values;
        double y = get_f(b, 0);
        if (isnan(y)) return false;
        /* NaN in the column: above every number (compare_at), which these forms give as written. */
        switch (op) {
        case FL_OP_EQ: BITLOOP(n, out, x[i] == y); break;
        case FL_OP_NE: BITLOOP(n, out, !(x[i] == y)); break;
        case FL_OP_LT: BITLOOP(n, out, x[i] < y); break;
        case FL_OP_LE: BITLOOP(n, out, x[i] <= y); break;
        case FL_OP_GT: BITLOOP(n, out, !(x[i] <= y)); break;
        default: BITLOOP(n, out, !(x[i] < y)); break;
        }
        return true;
    }
    if (ta == FL_TYPE_STRING && tb == FL_TYPE_STRING) {
        int64_t yl;
        const uint8_t *y = get_s(b, 0, &yl);
        const int64_t *off = a->offsets;
        const uint8_t *data = a->values;
        if (op == FL_OP_EQ || op == FL_OP_NE) {
            bool eq = op == FL_OP_EQ;
            BITLOOP(n, out, in_strings(data + off[i], off[i + 1] - off[i], &y, &yl, 1) == eq);
            return true;
        }
        BITLOOP(n, out, op_holds(op, bytes_cmp(data + off[i], off[i + 1] - off[i], y, yl)));
        return true;
    }
    return false;
}

/*
 * x IN (constants) over a string or integer column in one pass: TRUE where x equals one of them, NULL
 * where x is NULL or (no match and a constant is NULL), FALSE otherwise. Returns false when the shape does
 * not fit (the caller takes the general path); *rc reports allocation failure.
 */
static bool in_constants(const fl_expr_node *node, const qval *args, int64_t n, fl_array *out, int *rc) {
    *rc = FL_OK;
    const fl_array *x = args[0].a;
    bool ints = x->type == FL_TYPE_INT64 || x->type == FL_TYPE_TIMESTAMP_MS, strings = x->type == FL_TYPE_STRING;
    int32_t m = node->n_args - 1;
    if (n <= 1 || x->length != n || (!ints && !strings) || m > 64) return false;
    int64_t ival[64], slen[64];
    const uint8_t *sval[64];
    int32_t k = 0;
    bool has_null = false;
    for (int32_t i = 1; i <= m; i++) {
        const fl_array *c = args[i].a;
        if (c->length != 1) return false;
        if (is_null(c, 0)) {
            has_null = true;
            continue;
        }
        if (ints && (c->type == FL_TYPE_INT64 || c->type == FL_TYPE_TIMESTAMP_MS)) ival[k++] = get_i(c, 0);
        else if (strings && c->type == FL_TYPE_STRING) {
            sval[k] = get_s(c, 0, &slen[k]);
            k++;
        } else return false;
    }
    if (alloc_fixed(out, FL_TYPE_BOOL, n) != FL_OK) {
        *rc = FL_ENOMEM;
        return true;
    }
    if (ints) {
        const int64_t *xv = x->values;
        BITLOOP(n, out, in_ints(xv[i], ival, k));
    } else {
        const int64_t *off = x->offsets;
        const uint8_t *data = x->values;
        BITLOOP(n, out, in_strings(data + off[i], off[i + 1] - off[i], sval, slen, k));
    }
    size_t bytes = (size_t)((n + 7) / 8);
    const uint8_t *hits = out->values;
    for (size_t j = 0; j < bytes; j++) {
        uint8_t valid = x->validity && x->null_count ? x->validity[j] : 0xFF;
        out->validity[j] = has_null ? (uint8_t)(valid & hits[j]) : valid;
    }
    finish(out);
    return true;
}

fl_expr_op fl_expr_op_flip(fl_expr_op op) {
    return op == FL_OP_LT ? FL_OP_GT : op == FL_OP_GT ? FL_OP_LT : op == FL_OP_LE ? FL_OP_GE : op == FL_OP_GE ? FL_OP_LE : op;
}

static int compare(fl_expr_op op, const fl_array *a, const fl_array *b, int64_t n, fl_array *out) {
    if (alloc_fixed(out, FL_TYPE_BOOL, n) != FL_OK) return FL_ENOMEM;
    and_validity(out, a, b, n);
    bool a_const = a->length == 1 && n != 1, b_const = b->length == 1 && n != 1;
    bool done = false;
    if (b_const && !a_const && !is_null(b, 0)) done = compare_scalar(op, a, b, n, out);
    else if (a_const && !b_const && !is_null(a, 0)) done = compare_scalar(fl_expr_op_flip(op), b, a, n, out);
    if (!done) BITLOOP(n, out, !is_null(a, i) && !is_null(b, i) && op_holds(op, compare_at(a, b, i)));
    finish(out);
    return FL_OK;
}

/* Three-valued AND/OR of two BOOL (or all-NULL) columns, a byte (8 rows) at a time: with T = valid &
 * value and F = valid & ~value per side, AND is T = Ta & Tb, F = Fa | Fb; OR is T = Ta | Tb, F = Fa & Fb. */
static int logic(bool is_and, const fl_array *a, const fl_array *b, int64_t n, fl_array *out) {
    if (alloc_fixed(out, FL_TYPE_BOOL, n) != FL_OK) return FL_ENOMEM;
    int64_t bytes = (n + 7) / 8;
    const fl_array *in[2] = {a, b};
    uint8_t *ov = out->values, *oval = out->validity;
    for (int64_t j = 0; j < bytes; j++) {
        uint8_t t[2], f[2];
        for (int k = 0; k < 2; k++) {
            const fl_array *x = in[k];
            uint8_t valid, value;
            if (x->length == 1 && n != 1) {
                valid = is_null(x, 0) ? 0 : 0xFF;
                value = x->values && get_b(x, 0) ? 0xFF : 0;
            } else {
                valid = x->validity && x->null_count ? x->validity[j] : 0xFF;
                value = ((const uint8_t *)x->values)[j];
            }
            t[k] = valid & value;
            f[k] = valid & (uint8_t)~value;
        }
        uint8_t tt = is_and ? t[0] & t[1] : t[0] | t[1], ff = is_and ? f[0] | f[1] : f[0] & f[1];
        ov[j] = tt;
        oval[j] = tt | ff;
    }
    finish(out);
    return FL_OK;
}

/* NOT in place on an owned BOOL column. */
static void negate(fl_array *a) {
    uint8_t *v = a->values;
    for (int64_t i = 0; i < (a->length + 7) / 8; i++) v[i] = (uint8_t)~v[i];
}

static int arith(const fl_expr_node *node, const fl_array *a, const fl_array *b, int64_t n, fl_array *out, fl_error *err) {
    bool as_float = node->type == FL_EXPR_T_FLOAT;
    fl_type_id rt = as_float ? FL_TYPE_FLOAT64 : node->type == FL_EXPR_T_TIMESTAMP ? FL_TYPE_TIMESTAMP_MS : FL_TYPE_INT64;
    if (alloc_fixed(out, rt, n) != FL_OK) return oom(err);
    for (int64_t i = 0; i < n; i++) {
        if (is_null(a, i) || is_null(b, i)) {
            fl_bit_set(out->validity, i, false);
            continue;
        }
        if (as_float) {
            double x = get_f(a, i), y = get_f(b, i), r = 0;
            switch (node->op) {
            case FL_OP_ADD: r = x + y; break;
            case FL_OP_SUB: r = x - y; break;
            case FL_OP_MUL: r = x * y; break;
            case FL_OP_DIV:
            case FL_OP_MOD:
                if (y == 0) {
                    fl_bit_set(out->validity, i, false);
                    continue;
                }
                r = node->op == FL_OP_DIV ? x / y : fmod(x, y);
                break;
            default: break;
            }
            ((double *)out->values)[i] = r;
            continue;
        }
        int64_t x = get_i(a, i), y = get_i(b, i), r = 0;
        bool overflow = false;
        switch (node->op) {
        case FL_OP_ADD: overflow = __builtin_add_overflow(x, y, &r); break;
        case FL_OP_SUB: overflow = __builtin_sub_overflow(x, y, &r); break;
        case FL_OP_MUL: overflow = __builtin_mul_overflow(x, y, &r); break;
        case FL_OP_DIV:
        case FL_OP_MOD:
            if (y == 0) {
                fl_bit_set(out->validity, i, false);
                continue;
            }
            if (x == INT64_MIN && y == -1) {
                overflow = node->op == FL_OP_DIV;
                r = 0;
            } else r = node->op == FL_OP_DIV ? x / y : x % y;
            break;
        default: break;
        }
        if (overflow) {
            fl_array_clear(out);
            return fl_error_set(err, FL_EINVAL, "integer overflow (position %d)", (int)node->pos);
        }
        ((int64_t *)out->values)[i] = r;
    }
    finish(out);
    return FL_OK;
}

/* SQL LIKE: '%' any run, '_' one character (UTF-8 aware), '\' escapes the next character. */
static bool like_match(const uint8_t *s, int64_t sl, const uint8_t *p, int64_t pl, bool ci) {
    int64_t si = 0, pi = 0, star_p = -1, star_s = 0;
    while (si < sl) {
        if (pi < pl && p[pi] == '%') {
            star_p = ++pi;
            star_s = si;
            continue;
        }
        if (pi < pl) {
            if (p[pi] == '_') {
                si++;
                while (si < sl && (s[si] & 0xC0) == 0x80) si++;
                pi++;
                continue;
            }
            uint8_t pc = p[pi];
            int64_t step = 1;
            if (pc == '\\' && pi + 1 < pl) pc = p[pi + 1], step = 2;
            uint8_t sc = s[si];
            if (ci && pc < 0x80 && sc < 0x80) pc = (uint8_t)tolower(pc), sc = (uint8_t)tolower(sc);
            if (pc == sc) {
                si++;
                pi += step;
                continue;
            }
        }
        if (star_p < 0) return false;
        pi = star_p;
        si = ++star_s;
    }
    while (pi < pl && p[pi] == '%') pi++;
    return pi == pl;
}

static int eval_node(const fl_expr_node *node, const fl_batch *batch, qval *v, fl_error *err);

/* Replaces a one-value (constant) argument by n copies of its value. */
static int expand(const fl_expr_node *node, qval *v, int64_t n, fl_error *err) {
    fl_field f = {0};
    f.type = v->a->type;
    if (f.type == FL_TYPE_LIST) {
        if (!node->elem) return fl_error_set(err, FL_EINVAL, "cannot expand a list without an element type");
        f.n_children = 1;
        f.children = (fl_field *)node->elem;
    }
    fl_array big;
    if (fl_array_init(&big, &f) != FL_OK) return oom(err);
    for (int64_t i = 0; i < n; i++)
        if (fl_array_append_from(&big, v->a, 0) != FL_OK) {
            fl_array_clear(&big);
            return oom(err);
        }
    qval_clear(v);
    v->own = big;
    v->a = &v->own;
    return FL_OK;
}

/* Evaluates every argument of a node. */
static int eval_args(const fl_expr_node *node, const fl_batch *batch, qval *vals, fl_error *err) {
    for (int32_t i = 0; i < node->n_args; i++) {
        int rc = eval_node(node->args[i], batch, &vals[i], err);
        if (rc != FL_OK) {
            for (int32_t j = 0; j < i; j++) qval_clear(&vals[j]);
            return rc;
        }
    }
    return FL_OK;
}

static int eval_cast(const fl_expr_node *node, const fl_array *a, int64_t n, fl_array *out, fl_error *err) {
    fl_expr_type to = node->type;
    if (to == FL_EXPR_T_STRING) {
        if (init_like(out, FL_TYPE_STRING) != FL_OK) return oom(err);
        for (int64_t i = 0; i < n; i++) {
            char buf[64];
            int rc;
            if (is_null(a, i)) rc = fl_array_append_null(out);
            else if (a->type == FL_TYPE_STRING) {
                int64_t len;
                const uint8_t *s = get_s(a, i, &len);
                rc = fl_array_append_bytes(out, s, (size_t)len);
            } else {
                if (a->type == FL_TYPE_BOOL) snprintf(buf, sizeof buf, "%s", get_b(a, i) ? "true" : "false");
                else if (a->type == FL_TYPE_FLOAT64) snprintf(buf, sizeof buf, "%.17g", get_f(a, i));
                else snprintf(buf, sizeof buf, "%lld", (long long)get_i(a, i));
                rc = fl_array_append_string(out, buf);
            }
            if (rc != FL_OK) return oom(err);
        }
        return FL_OK;
    }
    fl_type_id rt = to == FL_EXPR_T_INT ? FL_TYPE_INT64 : to == FL_EXPR_T_TIMESTAMP ? FL_TYPE_TIMESTAMP_MS : to == FL_EXPR_T_FLOAT ? FL_TYPE_FLOAT64 : FL_TYPE_BOOL;
    if (alloc_fixed(out, rt, n) != FL_OK) return oom(err);
    for (int64_t i = 0; i < n; i++) {
        if (is_null(a, i)) {
            fl_bit_set(out->validity, i, false);
            continue;
        }
        double d = 0;
        int64_t k = 0;
        bool is_int = false;
        if (a->type == FL_TYPE_STRING) {
            int64_t len;
            const uint8_t *s = get_s(a, i, &len);
            char buf[128];
            if (len >= (int64_t)sizeof buf) len = sizeof buf - 1;
            memcpy(buf, s, (size_t)len);
            buf[len] = 0;
            char *end;
            if (rt == FL_TYPE_BOOL) {
                /* PostgreSQL's spellings, in any case. */
                bool t = !strcasecmp(buf, "true") || !strcasecmp(buf, "t") || !strcasecmp(buf, "yes") || !strcasecmp(buf, "y") ||
                         !strcasecmp(buf, "on") || !strcmp(buf, "1");
                if (!t && strcasecmp(buf, "false") && strcasecmp(buf, "f") && strcasecmp(buf, "no") && strcasecmp(buf, "n") &&
                    strcasecmp(buf, "off") && strcmp(buf, "0")) {
                    fl_array_clear(out);
                    return fl_error_set(err, FL_EINVAL, "cannot cast '%s' to boolean (position %d)", buf, (int)node->pos);
                }
                fl_bit_set(out->values, i, t);
                continue;
            }
            d = strtod(buf, &end);
            if (end == buf || *end) {
                fl_array_clear(out);
                return fl_error_set(err, FL_EINVAL, "cannot cast '%s' to %s (position %d)", buf, fl_expr_type_name(to), (int)node->pos);
            }
        } else if (a->type == FL_TYPE_FLOAT64) d = get_f(a, i);
        else if (a->type == FL_TYPE_BOOL) k = get_b(a, i), is_int = true, d = (double)k;
        else k = get_i(a, i), is_int = true, d = (double)k;
        if (rt == FL_TYPE_FLOAT64) ((double *)out->values)[i] = d;
        else if (rt == FL_TYPE_BOOL) fl_bit_set(out->values, i, d != 0);
        else if (is_int) ((int64_t *)out->values)[i] = k; /* integers and integer milliseconds (timestamps) */
        else if (!(d >= -9223372036854775808.0 && d < 9223372036854775808.0)) {
            fl_array_clear(out);
            return fl_error_set(err, FL_EINVAL, "value out of integer range in CAST (position %d)", (int)node->pos);
        } else ((int64_t *)out->values)[i] = (int64_t)d; /* toward zero, as Arrow/DataFusion casts */
    }
    finish(out);
    return FL_OK;
}

static int eval_element(const fl_expr_node *node, const fl_array *list, const fl_array *idx, int64_t n, qval *v, fl_error *err) {
    fl_array raw;
    if (fl_array_init(&raw, node->args[0]->elem) != FL_OK) return oom(err);
    int rc = FL_OK;
    for (int64_t i = 0; rc == FL_OK && i < n; i++) {
        int64_t s, e;
        if (!is_null(list, i) && !is_null(idx, i)) {
            fl_array_get_list(list, i, &s, &e);
            int64_t k = get_i(idx, i);
            if (k >= 1 && k <= e - s) {
                rc = fl_array_append_from(&raw, &list->children[0], s + k - 1);
                continue;
            }
        }
        rc = fl_array_append_null(&raw);
    }
    if (rc != FL_OK) {
        fl_array_clear(&raw);
        return oom(err);
    }
    qval c;
    rc = canonical(&raw, &c, err);
    if (rc == FL_OK && c.a == &raw) {
        v->own = raw;               /* already canonical: keep it */
        v->a = &v->own;
        return FL_OK;
    }
    fl_array_clear(&raw);
    if (rc != FL_OK) return rc;
    *v = c;
    v->a = &v->own;
    return FL_OK;
}

static int eval_list_literal(const fl_expr_node *node, int64_t n, fl_array *out, fl_error *err) {
    fl_field lf = {0};
    lf.type = FL_TYPE_LIST;
    lf.n_children = 1;
    lf.children = (fl_field *)node->elem;
    if (fl_array_init(out, &lf) != FL_OK) return oom(err);
    fl_array *c = &out->children[0];
    for (int64_t i = 0; i < n; i++) {
        for (int32_t k = 0; k < node->n_args; k++) {
            const fl_expr_node *a = node->args[k];
            int rc = a->type == FL_EXPR_T_NULL ? fl_array_append_null(c)
                     : c->type == FL_TYPE_STRING ? fl_array_append_string(c, a->lit_string)
                     : c->type == FL_TYPE_BOOL ? fl_array_append_bool(c, a->lit_bool)
                     : c->type == FL_TYPE_FLOAT64 ? fl_array_append_float(c, a->type == FL_EXPR_T_INT ? (double)a->lit_int : a->lit_float)
                                                  : fl_array_append_int(c, a->lit_int);
            if (rc != FL_OK) return oom(err);
        }
        if (fl_array_end_list(out) != FL_OK) return oom(err);
    }
    return FL_OK;
}

static int eval_node(const fl_expr_node *node, const fl_batch *batch, qval *v, fl_error *err) {
    memset(v, 0, sizeof *v);
    int64_t n = batch->num_rows;
    if (node->kind == FL_EXPR_COLUMN) {
        const fl_array *col = fl_batch_column(batch, node->name);
        if (!col) return fl_error_set(err, FL_EINVAL, "column \"%s\" is missing from the batch", node->name);
        return canonical(col, v, err);
    }
    v->a = &v->own;
    /* Constants: one value, broadcast (see at()). */
    if (node->kind == FL_EXPR_LITERAL) return literal(node, 1, &v->own) == FL_OK ? FL_OK : oom(err);
    if (node->kind == FL_EXPR_LIST_LITERAL) return eval_list_literal(node, 1, &v->own, err);
    qval args_small[4], *args = node->n_args <= 4 ? args_small : fl_calloc((size_t)node->n_args, sizeof *args);
    if (!args) return oom(err);
    int rc = eval_args(node, batch, args, err);
    if (rc != FL_OK) {
        if (args != args_small) fl_free(args);
        return rc;
    }
    /* Element access and functions without broadcast support read constants row by row: expand them. */
    bool expand_args = node->kind == FL_EXPR_ELEMENT || (node->kind == FL_EXPR_CALL && !node->fn->broadcast);
    for (int32_t k = 0; rc == FL_OK && expand_args && k < node->n_args; k++)
        if (args[k].a->length == 1 && n != 1) rc = expand(node->args[k], &args[k], n, err);
    if (rc != FL_OK) {
        for (int32_t k = 0; k < node->n_args; k++) qval_clear(&args[k]);
        if (args != args_small) fl_free(args);
        return rc;
    }
    const fl_array *a0 = args[0].a, *a1 = node->n_args > 1 ? args[1].a : NULL;
    switch (node->kind) {
    case FL_EXPR_UNARY:
        if (node->op == FL_OP_NOT) {
            if (alloc_fixed(&v->own, FL_TYPE_BOOL, n) != FL_OK) {
                rc = oom(err);
                break;
            }
            for (int64_t i = 0; i < n; i++)
                if (is_null(a0, i)) fl_bit_set(v->own.validity, i, false);
                else fl_bit_set(v->own.values, i, !get_b(a0, i));
            finish(&v->own);
        } else {
            if (alloc_fixed(&v->own, node->type == FL_EXPR_T_FLOAT ? FL_TYPE_FLOAT64 : FL_TYPE_INT64, n) != FL_OK) {
                rc = oom(err);
                break;
            }
            for (int64_t i = 0; i < n && rc == FL_OK; i++) {
                if (is_null(a0, i)) fl_bit_set(v->own.validity, i, false);
                else if (node->type == FL_EXPR_T_FLOAT) ((double *)v->own.values)[i] = -get_f(a0, i);
                else if (get_i(a0, i) == INT64_MIN) rc = fl_error_set(err, FL_EINVAL, "integer overflow (position %d)", (int)node->pos);
                else ((int64_t *)v->own.values)[i] = -get_i(a0, i);
            }
            finish(&v->own);
        }
        break;
    case FL_EXPR_BINARY:
        if (node->op <= FL_OP_GE) rc = compare(node->op, a0, a1, n, &v->own) == FL_OK ? FL_OK : oom(err);
        else if (node->op == FL_OP_AND || node->op == FL_OP_OR) rc = logic(node->op == FL_OP_AND, a0, a1, n, &v->own) == FL_OK ? FL_OK : oom(err);
        else rc = arith(node, a0, a1, n, &v->own, err);
        break;
    case FL_EXPR_IN:
        if (in_constants(node, args, n, &v->own, &rc)) {
            if (rc != FL_OK) rc = oom(err);
            else if (node->negated) negate(&v->own);
            break;
        }
        /* x IN (a, b) is x = a OR x = b under three-valued logic. */
        if (alloc_fixed(&v->own, FL_TYPE_BOOL, n) != FL_OK) rc = oom(err);
        for (int32_t k = 1; rc == FL_OK && k < node->n_args; k++) {
            fl_array eq, acc;
            if (compare(FL_OP_EQ, a0, args[k].a, n, &eq) != FL_OK) {
                rc = oom(err);
                break;
            }
            rc = logic(false, &v->own, &eq, n, &acc) == FL_OK ? FL_OK : oom(err);
            fl_array_clear(&eq);
            if (rc != FL_OK) break;
            fl_array_clear(&v->own);
            v->own = acc;
        }
        if (rc == FL_OK && node->negated) negate(&v->own);
        break;
    case FL_EXPR_BETWEEN: {
        fl_array ge, le;
        memset(&ge, 0, sizeof ge);
        memset(&le, 0, sizeof le);
        if (compare(FL_OP_GE, a0, a1, n, &ge) != FL_OK || compare(FL_OP_LE, a0, args[2].a, n, &le) != FL_OK ||
            logic(true, &ge, &le, n, &v->own) != FL_OK)
            rc = oom(err);
        fl_array_clear(&ge);
        fl_array_clear(&le);
        if (rc == FL_OK && node->negated) negate(&v->own);
        break;
    }
    case FL_EXPR_LIKE:
        if (alloc_fixed(&v->own, FL_TYPE_BOOL, n) != FL_OK) {
            rc = oom(err);
            break;
        }
        for (int64_t i = 0; i < n; i++) {
            if (is_null(a0, i) || is_null(a1, i)) {
                fl_bit_set(v->own.validity, i, false);
                continue;
            }
            int64_t sl, pl;
            const uint8_t *s = get_s(a0, i, &sl), *p = get_s(a1, i, &pl);
            fl_bit_set(v->own.values, i, like_match(s, sl, p, pl, node->case_insensitive) != node->negated);
        }
        finish(&v->own);
        break;
    case FL_EXPR_IS:
        if (alloc_fixed(&v->own, FL_TYPE_BOOL, n) != FL_OK) {
            rc = oom(err);
            break;
        }
        for (int64_t i = 0; i < n; i++) {
            bool r = node->test == FL_TEST_NULL ? is_null(a0, i) : !is_null(a0, i) && get_b(a0, i) == (node->test == FL_TEST_TRUE);
            fl_bit_set(v->own.values, i, r != node->negated);
        }
        finish(&v->own);
        break;
    case FL_EXPR_CAST: rc = eval_cast(node, a0, n, &v->own, err); break;
    case FL_EXPR_ELEMENT: rc = eval_element(node, a0, a1, n, v, err); break;
    case FL_EXPR_CALL: {
        fl_array *arrs = fl_calloc((size_t)node->n_args + 1, sizeof *arrs);
        if (!arrs) {
            rc = oom(err);
            break;
        }
        for (int32_t k = 0; k < node->n_args; k++) arrs[k] = *args[k].a;  /* shallow views, not owned */
        rc = node->fn->eval(node, arrs, n, &v->own, err);
        fl_free(arrs);
        break;
    }
    default: rc = fl_error_set(err, FL_EINVAL, "cannot evaluate this expression"); break;
    }
    for (int32_t k = 0; k < node->n_args; k++) qval_clear(&args[k]);
    if (args != args_small) fl_free(args);
    if (rc != FL_OK) qval_clear(v);
    return rc;
}

int fl_expr_eval(const fl_expr_node *node, const fl_batch *batch, fl_array *out, fl_error *err) {
    qval v;
    FL_RETURN_NOT_OK(eval_node(node, batch, &v, err));
    if (v.a->length == 1 && batch->num_rows != 1) {
        int rc = expand(node, &v, batch->num_rows, err);
        if (rc != FL_OK) {
            qval_clear(&v);
            return rc;
        }
    }
    if (v.a == &v.own) {
        *out = v.own;
        return FL_OK;
    }
    fl_field f = {0};
    f.type = v.a->type;
    memset(out, 0, sizeof *out);
    if (v.a->type == FL_TYPE_LIST || v.a->type == FL_TYPE_STRUCT || v.a->type == FL_TYPE_FIXED_SIZE_LIST) {
        /* Borrowed nested column: copy through its schema field. */
        int k = fl_schema_find(batch->schema, node->name);
        if (k < 0 || fl_array_init(out, &batch->schema->fields[k]) != FL_OK) return oom(err);
    } else if (fl_array_init(out, &f) != FL_OK) return oom(err);
    if (fl_array_append_range(out, v.a, 0, v.a->length) != FL_OK) {
        fl_array_clear(out);
        return oom(err);
    }
    return FL_OK;
}

int fl_expr_filter_rows(const fl_expr *expr, const fl_batch *batch, int64_t *rows, int64_t *n, fl_error *err) {
    qval v;
    *n = 0;
    FL_RETURN_NOT_OK(eval_node(expr->root, batch, &v, err));
    const fl_array *a = v.a;
    int64_t k = 0, rows_n = batch->num_rows;
    if (a->type == FL_TYPE_BOOL && a->length == 1 && rows_n != 1) {
        /* A constant filter: every row or none. */
        if (!is_null(a, 0) && get_b(a, 0))
            for (int64_t i = 0; i < rows_n; i++) rows[k++] = i;
    } else if (a->type == FL_TYPE_BOOL) {
        const uint8_t *val = a->values, *valid = a->validity && a->null_count ? a->validity : NULL;
        for (int64_t j = 0; j * 8 < rows_n; j++) {
            unsigned bits = val[j] & (valid ? valid[j] : 0xFF);
            if (rows_n - j * 8 < 8) bits &= (1u << (rows_n - j * 8)) - 1;
            while (bits) {
                rows[k++] = j * 8 + __builtin_ctz(bits);
                bits &= bits - 1;
            }
        }
    }
    *n = k;
    qval_clear(&v);
    return FL_OK;
}
