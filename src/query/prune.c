/*
 * prune.c — abstract evaluation of filters over page statistics (see prune.h).
 */
#include "prune.h"

#include <math.h>
#include <string.h>

void fl_col_range_from_page(fl_col_range *r, fl_type_id type, const fl_page_stats *st, int64_t rows) {
    memset(r, 0, sizeof *r);
    r->type = type;
    if (!fl_type_is_scalar(type)) return;
    r->known = true;
    r->has_nulls = st->null_count > 0;
    r->all_null = rows > 0 && st->null_count >= (uint64_t)rows;
    r->has_minmax = st->has_minmax;
    r->min = st->min;
    r->max = st->max;
}

static int column_index(const fl_expr *f, const char *name) {
    for (int32_t i = 0; i < f->n_columns; i++)
        if (strcmp(f->columns[i], name) == 0) return i;
    return -1;
}

/* A column reference with a known range, or NULL. */
static const fl_col_range *range_of(const fl_expr *f, const fl_expr_node *n, const fl_col_range *ranges) {
    if (n->kind != FL_EXPR_COLUMN) return NULL;
    int i = column_index(f, n->name);
    return i >= 0 && ranges[i].known ? &ranges[i] : NULL;
}

static bool is_unsigned(fl_type_id t) { return t >= FL_TYPE_UINT8 && t <= FL_TYPE_UINT64; }

/* A number literal as the evaluator compares it: exactly as int64, or as a double. */
typedef struct number {
    bool is_int;
    int64_t i;
    double d;
} number;

static bool literal_number(const fl_expr_node *n, number *out) {
    if (n->kind != FL_EXPR_LITERAL) return false;
    if (n->type == FL_EXPR_T_INT || n->type == FL_EXPR_T_TIMESTAMP) *out = (number){true, n->lit_int, (double)n->lit_int};
    else if (n->type == FL_EXPR_T_FLOAT) *out = (number){false, 0, n->lit_float};
    else if (n->type == FL_EXPR_T_BOOL) *out = (number){true, n->lit_bool, n->lit_bool};
    else return false;
    return true;
}

/* Which of "below", "equal", "above" the literal some non-NULL value of the range can be (bits 1, 2, 4),
 * or 0 when the range cannot be modelled. */
enum { BELOW = 1, EQUAL = 2, ABOVE = 4 };
static int relations(const fl_col_range *r, const number *lit) {
    if (!r->has_minmax) {
        /* Every non-NULL value is NaN (floats), or there is none: NaN sits above every number. */
        return fl_type_is_float(r->type) ? (isnan(lit->d) && !lit->is_int ? EQUAL : ABOVE) : 0;
    }
    /* Unsigned columns evaluate as int64: only model ranges that fit. */
    if (is_unsigned(r->type) && r->max > (uint64_t)INT64_MAX) return 0;
    int rel = 0;
    if (fl_type_is_float(r->type) || !lit->is_int) {
        double lo, hi;
        if (fl_type_is_float(r->type)) {
            memcpy(&lo, &r->min, 8);
            memcpy(&hi, &r->max, 8);
        } else if (is_unsigned(r->type)) {
            lo = (double)r->min, hi = (double)r->max;
        } else {
            lo = (double)(int64_t)r->min, hi = (double)(int64_t)r->max;
        }
        double x = lit->d;
        if (isnan(x)) return fl_type_is_float(r->type) ? BELOW | EQUAL : BELOW;
        if (lo < x) rel |= BELOW;
        if (lo <= x && x <= hi) rel |= EQUAL;
        if (hi > x) rel |= ABOVE;
        if (fl_type_is_float(r->type)) rel |= ABOVE; /* a NaN may hide in the range */
        return rel;
    }
    int64_t lo = (int64_t)r->min, hi = (int64_t)r->max, x = lit->i;
    if (lo < x) rel |= BELOW;
    if (lo <= x && x <= hi) rel |= EQUAL;
    if (hi > x) rel |= ABOVE;
    return rel;
}

static bool satisfies(fl_expr_op op, int rel) {
    switch (op) {
    case FL_OP_EQ: return rel == EQUAL;
    case FL_OP_NE: return rel != EQUAL;
    case FL_OP_LT: return rel == BELOW;
    case FL_OP_LE: return rel != ABOVE;
    case FL_OP_GT: return rel == ABOVE;
    case FL_OP_GE: return rel != BELOW;
    default: return false;
    }
}

/* Outcomes of `column op literal` (either order). */
static int compare_outcomes(const fl_expr *f, fl_expr_op op, const fl_expr_node *a, const fl_expr_node *b, const fl_col_range *ranges) {
    const fl_col_range *r = range_of(f, a, ranges);
    const fl_expr_node *lit = b;
    if (!r) {
        r = range_of(f, b, ranges);
        lit = a;
        op = fl_expr_op_flip(op);
    }
    if (!r) return FL_PV_ALL;
    if (lit->kind == FL_EXPR_LITERAL && lit->type == FL_EXPR_T_NULL) return FL_PV_NULL;
    number x;
    if (!literal_number(lit, &x)) return FL_PV_ALL;
    if (r->all_null) return FL_PV_NULL;
    int rel = relations(r, &x);
    if (!rel) return FL_PV_ALL;
    int out = r->has_nulls ? FL_PV_NULL : 0;
    for (int bit = BELOW; bit <= ABOVE; bit <<= 1)
        if (rel & bit) out |= satisfies(op, bit) ? FL_PV_TRUE : FL_PV_FALSE;
    return out;
}

/* Three-valued AND/OR/NOT over outcome sets: every pair of possible inputs. */
static int value_bit(int v) { return v == 1 ? FL_PV_TRUE : v == 0 ? FL_PV_FALSE : FL_PV_NULL; }
static int combine(bool is_and, int a, int b) {
    int out = 0;
    static const int vals[3] = {1, 0, -1}; /* true, false, null */
    for (int i = 0; i < 3; i++) {
        if (!(a & value_bit(vals[i]))) continue;
        for (int j = 0; j < 3; j++) {
            if (!(b & value_bit(vals[j]))) continue;
            int x = vals[i], y = vals[j], r;
            if (is_and) r = (x == 0 || y == 0) ? 0 : (x == 1 && y == 1) ? 1 : -1;
            else r = (x == 1 || y == 1) ? 1 : (x == 0 && y == 0) ? 0 : -1;
            out |= value_bit(r);
        }
    }
    return out;
}
static int negate(int a) { return (a & FL_PV_NULL) | (a & FL_PV_TRUE ? FL_PV_FALSE : 0) | (a & FL_PV_FALSE ? FL_PV_TRUE : 0); }

/* Outcomes of "node IS NULL" from nullness alone. */
static int null_outcomes(const fl_expr *f, const fl_expr_node *n, const fl_col_range *ranges) {
    const fl_col_range *r = range_of(f, n, ranges);
    if (r) return (r->has_nulls ? FL_PV_TRUE : 0) | (r->all_null ? 0 : FL_PV_FALSE);
    if (n->type == FL_EXPR_T_BOOL) {
        int v = fl_prune_outcomes(f, n, ranges);
        return (v & FL_PV_NULL ? FL_PV_TRUE : 0) | (v & (FL_PV_TRUE | FL_PV_FALSE) ? FL_PV_FALSE : 0);
    }
    return FL_PV_TRUE | FL_PV_FALSE;
}

int fl_prune_outcomes(const fl_expr *f, const fl_expr_node *n, const fl_col_range *ranges) {
    switch (n->kind) {
    case FL_EXPR_LITERAL:
        if (n->type == FL_EXPR_T_NULL) return FL_PV_NULL;
        if (n->type == FL_EXPR_T_BOOL) return n->lit_bool ? FL_PV_TRUE : FL_PV_FALSE;
        return FL_PV_ALL;
    case FL_EXPR_COLUMN: {
        const fl_col_range *r = range_of(f, n, ranges);
        if (!r || n->type != FL_EXPR_T_BOOL) return FL_PV_ALL;
        if (r->all_null) return FL_PV_NULL;
        if (!r->has_minmax) return FL_PV_ALL;
        int out = r->has_nulls ? FL_PV_NULL : 0;
        if ((int64_t)r->max >= 1) out |= FL_PV_TRUE;
        if ((int64_t)r->min <= 0) out |= FL_PV_FALSE;
        return out;
    }
    case FL_EXPR_UNARY:
        if (n->op == FL_OP_NOT) return negate(fl_prune_outcomes(f, n->args[0], ranges));
        return FL_PV_ALL;
    case FL_EXPR_BINARY:
        if (n->op == FL_OP_AND || n->op == FL_OP_OR)
            return combine(n->op == FL_OP_AND, fl_prune_outcomes(f, n->args[0], ranges), fl_prune_outcomes(f, n->args[1], ranges));
        if (n->op >= FL_OP_EQ && n->op <= FL_OP_GE) return compare_outcomes(f, n->op, n->args[0], n->args[1], ranges);
        return FL_PV_ALL;
    case FL_EXPR_IN: {
        /* x IN (a, b, …) is x = a OR x = b OR …; NOT IN negates that. */
        int out = FL_PV_FALSE;
        for (int32_t i = 1; i < n->n_args; i++) {
            int eq = compare_outcomes(f, FL_OP_EQ, n->args[0], n->args[i], ranges);
            out = i == 1 ? eq : combine(false, out, eq);
        }
        return n->negated ? negate(out) : out;
    }
    case FL_EXPR_BETWEEN: {
        int lo = compare_outcomes(f, FL_OP_GE, n->args[0], n->args[1], ranges);
        int hi = compare_outcomes(f, FL_OP_LE, n->args[0], n->args[2], ranges);
        int out = combine(true, lo, hi);
        return n->negated ? negate(out) : out;
    }
    case FL_EXPR_IS: {
        int out;
        if (n->test == FL_TEST_NULL) {
            out = null_outcomes(f, n->args[0], ranges);
        } else {
            int v = fl_prune_outcomes(f, n->args[0], ranges);
            int hit = n->test == FL_TEST_TRUE ? FL_PV_TRUE : FL_PV_FALSE;
            out = (v & hit ? FL_PV_TRUE : 0) | (v & ~hit ? FL_PV_FALSE : 0);
        }
        return n->negated ? negate(out) : out;
    }
    default:
        return FL_PV_ALL;
    }
}

/* True when some node compares a column with a literal, tests it for NULL, or uses a bool column bare. */
static bool useful(const fl_expr_node *n) {
    switch (n->kind) {
    case FL_EXPR_COLUMN: return n->type == FL_EXPR_T_BOOL;
    case FL_EXPR_BINARY:
        if (n->op >= FL_OP_EQ && n->op <= FL_OP_GE)
            return (n->args[0]->kind == FL_EXPR_COLUMN && n->args[1]->kind == FL_EXPR_LITERAL) ||
                   (n->args[1]->kind == FL_EXPR_COLUMN && n->args[0]->kind == FL_EXPR_LITERAL);
        if (n->op == FL_OP_AND || n->op == FL_OP_OR) return useful(n->args[0]) || useful(n->args[1]);
        return false;
    case FL_EXPR_UNARY: return n->op == FL_OP_NOT && useful(n->args[0]);
    case FL_EXPR_IN:
    case FL_EXPR_BETWEEN:
    case FL_EXPR_IS: return n->args[0]->kind == FL_EXPR_COLUMN || useful(n->args[0]);
    default: return false;
    }
}

bool fl_prune_useful(const fl_expr *f) { return f && f->root && useful(f->root); }
