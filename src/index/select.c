/*
 * select.c — the planner: which indexes answer which parts of a filter, and the candidate rows they give.
 *
 * Three passes over the bound filter tree:
 *   1. capability (no I/O): each node is NONE (no index helps), SUPERSET (the candidates include every row
 *      where it is true) or EXACT (the index gives exactly its TRUE rows and its NULL rows);
 *   2. marking: the indexes of the leaves that contribute to the root's answer are "used"; the domain is
 *      the set of fragments every used index covers (index.h invariant 1);
 *   3. evaluation: leaves read their index files (only the blocks their keys need) and keep the rows that
 *      lie in the domain, are served by the file that was read, and are not deleted; inner nodes combine
 *      sorted row sets under SQL three-valued logic:
 *
 *        AND  T = Ta ∩ Tb                    N = ((Ta ∪ Na) ∩ (Tb ∪ Nb)) − T        one side NONE: SUPERSET
 *        OR   T = Ta ∪ Tb                    N = (Na ∪ Nb) − T                      one side NONE: NONE
 *        NOT  T = U − Ta − Na                N = Na                                 needs EXACT
 *
 *      where U is every live row of the domain. A NOT, IS FALSE or IS NOT TRUE over a SUPERSET is NONE.
 *      N is computed only where a NOT or IS above needs it, so a plain conjunction never reads NULL sets.
 */
#include "index.h"
#include "ixfile.h"

#include <math.h>
#include <stdlib.h>

enum { CAP_NONE = 0, CAP_SUPERSET = 1, CAP_EXACT = 2 };

typedef enum leaf_kind { L_CMP, L_IN, L_BETWEEN, L_LIKE, L_IS_NULL, L_BOOL_COLUMN, L_HAS, L_HAS_ANY, L_HAS_ALL } leaf_kind;

typedef struct view {
    const fl_index_ref *ref;
    ix_kind kind;
    int field;                  /* schema index of the indexed column */
    int32_t *file_of;           /* per fragment: serving file or -1 */
    ix_file **files;            /* opened on first use */
    bool used;
} view;

typedef struct planner {
    fl_table *t;
    fl_error *err;
    view *views;
    uint32_t n_views;
    bool *domain;               /* per fragment */
    ix_rows universe;
    bool have_universe;
} planner;

typedef struct result {
    int cap;
    ix_rows t;                  /* rows where TRUE (a superset unless EXACT) */
    ix_rows n;                  /* EXACT: rows where NULL */
} result;

static int oom(fl_error *err) { return fl_error_set(err, FL_ENOMEM, "out of memory"); }

static void result_free(result *r) {
    ix_rows_free(&r->t);
    ix_rows_free(&r->n);
    r->cap = CAP_NONE;
}

/* ---- recognising leaves ---- */

/* A literal (or the negation of one) as a key; false for NULL and other nodes. */
static bool literal_key(const fl_expr_node *n, ix_key *k) {
    memset(k, 0, sizeof *k);
    bool neg = false;
    if (n->kind == FL_EXPR_UNARY && n->op == FL_OP_NEG) {
        neg = true;
        n = n->args[0];
    }
    if (n->kind != FL_EXPR_LITERAL) return false;
    switch (n->type) {
    case FL_EXPR_T_INT:
    case FL_EXPR_T_TIMESTAMP:
        if (neg && n->lit_int == INT64_MIN) return false;
        k->type = IX_KEY_INT;
        k->i = neg ? -n->lit_int : n->lit_int;
        return true;
    case FL_EXPR_T_FLOAT:
        if (isnan(n->lit_float)) return false;
        k->type = IX_KEY_FLOAT;
        k->f = neg ? -n->lit_float : n->lit_float;
        return true;
    case FL_EXPR_T_BOOL:
        if (neg) return false;
        k->type = IX_KEY_INT;
        k->i = n->lit_bool;
        return true;
    case FL_EXPR_T_STRING:
        if (neg) return false;
        k->type = IX_KEY_STRING;
        k->s = (const uint8_t *)n->lit_string;
        k->len = strlen(n->lit_string);
        return true;
    default: return false;
    }
}

static bool is_null_literal(const fl_expr_node *n) { return n->kind == FL_EXPR_LITERAL && n->type == FL_EXPR_T_NULL; }

/* Whether a key can be compared with an index's stored keys the way the evaluator compares them. */
static bool key_fits(ix_key_type stored, const ix_key *k) {
    if (stored == IX_KEY_STRING) return k->type == IX_KEY_STRING;
    return k->type != IX_KEY_STRING;
}

static bool kind_serves(ix_kind kind, leaf_kind leaf) {
    switch (leaf) {
    case L_CMP:
    case L_IN:
    case L_BETWEEN:
    case L_LIKE: return kind == IX_BTREE || kind == IX_BITMAP;
    case L_BOOL_COLUMN: return kind == IX_BITMAP;
    case L_IS_NULL: return true;
    default: return kind == IX_LABEL_LIST;
    }
}

static ix_key_type stored_key_type(const fl_table *t, const view *v) {
    fl_type_id ty = t->m->schema->fields[v->field].type;
    if (v->kind == IX_LABEL_LIST || ty == FL_TYPE_STRING) return IX_KEY_STRING;
    return fl_type_is_float(ty) ? IX_KEY_FLOAT : IX_KEY_INT;
}

/* The view answering `leaf` on column `name` (bitmaps first for equality, btrees first for ranges), or -1. */
static int pick_view(const planner *p, const char *name, leaf_kind leaf, bool range) {
    int best = -1;
    for (uint32_t i = 0; i < p->n_views; i++) {
        const view *v = &p->views[i];
        if (strcmp(p->t->m->schema->fields[v->field].name, name) || !kind_serves(v->kind, leaf)) continue;
        if (best < 0) best = (int)i;
        if ((range && v->kind == IX_BTREE) || (!range && v->kind == IX_BITMAP)) return (int)i;
    }
    return best;
}

/* Checks that every literal of a leaf fits the view's keys. */
static bool literals_fit(const planner *p, int vi, const fl_expr_node *const *lits, int n, bool allow_null) {
    ix_key_type st = stored_key_type(p->t, &p->views[vi]);
    for (int i = 0; i < n; i++) {
        ix_key k;
        if (is_null_literal(lits[i])) {
            if (!allow_null) return false;
            continue;
        }
        if (!literal_key(lits[i], &k) || !key_fits(st, &k)) return false;
    }
    return true;
}

static fl_expr_op flip(fl_expr_op op) {
    switch (op) {
    case FL_OP_LT: return FL_OP_GT;
    case FL_OP_LE: return FL_OP_GE;
    case FL_OP_GT: return FL_OP_LT;
    case FL_OP_GE: return FL_OP_LE;
    default: return op;
    }
}

typedef struct leaf {
    leaf_kind kind;
    int view;
    fl_expr_op op;              /* L_CMP: column op key */
    const fl_expr_node *lit;    /* L_CMP: the literal */
    int cap;                    /* CAP_EXACT, or CAP_SUPERSET (a LIKE pattern with wildcards inside) */
} leaf;

static bool is_column(const fl_expr_node *n) { return n->kind == FL_EXPR_COLUMN; }

enum { LIKE_EQUAL, LIKE_PREFIX, LIKE_OTHER };

/* The shape of a LIKE pattern (the evaluator's syntax: % any run, _ one character, \x a literal x): no
 * wildcard at all (LIKE_EQUAL), a literal prefix then only %s (LIKE_PREFIX), or anything else. The literal
 * prefix (unescaped) goes to buf (when not NULL; room for strlen(pattern) bytes), its length to *len. */
static int like_shape(const char *pattern, char *buf, size_t *len) {
    size_t n = 0, i = 0, pl = strlen(pattern);
    while (i < pl && pattern[i] != '%' && pattern[i] != '_') {
        char c = pattern[i];
        if (c == '\\' && i + 1 < pl) c = pattern[++i];
        if (buf) buf[n] = c;
        n++;
        i++;
    }
    *len = n;
    if (i == pl) return LIKE_EQUAL;
    while (i < pl && pattern[i] == '%') i++;
    return i == pl ? LIKE_PREFIX : LIKE_OTHER;
}

/* Recognises a node an index answers by itself. */
static bool as_leaf(const planner *p, const fl_expr_node *n, leaf *out) {
    memset(out, 0, sizeof *out);
    out->view = -1;
    out->cap = CAP_EXACT;
    if (n->kind == FL_EXPR_BINARY && n->op <= FL_OP_GE) {
        const fl_expr_node *col = n->args[0], *lit = n->args[1];
        fl_expr_op op = n->op;
        if (!is_column(col)) {
            col = n->args[1];
            lit = n->args[0];
            op = flip(op);
        }
        if (!is_column(col)) return false;
        out->kind = L_CMP;
        out->op = op;
        out->lit = lit;
        out->view = pick_view(p, col->name, L_CMP, op != FL_OP_EQ && op != FL_OP_NE);
        return out->view >= 0 && literals_fit(p, out->view, &lit, 1, false);
    }
    if (n->kind == FL_EXPR_IN && n->n_args >= 2 && is_column(n->args[0])) {
        out->kind = L_IN;
        out->view = pick_view(p, n->args[0]->name, L_IN, false);
        return out->view >= 0 && literals_fit(p, out->view, (const fl_expr_node *const *)n->args + 1, n->n_args - 1, true);
    }
    if (n->kind == FL_EXPR_BETWEEN && n->n_args == 3 && is_column(n->args[0])) {
        out->kind = L_BETWEEN;
        out->view = pick_view(p, n->args[0]->name, L_BETWEEN, true);
        return out->view >= 0 && literals_fit(p, out->view, (const fl_expr_node *const *)n->args + 1, 2, false);
    }
    if (n->kind == FL_EXPR_LIKE && !n->case_insensitive && is_column(n->args[0]) && n->args[1]->kind == FL_EXPR_LITERAL &&
        n->args[1]->type == FL_EXPR_T_STRING) {
        /* The literal prefix of the pattern bounds a key range; the rest decides exactness. */
        size_t prefix;
        int shape = like_shape(n->args[1]->lit_string, NULL, &prefix);
        out->kind = L_LIKE;
        out->cap = shape == LIKE_OTHER ? CAP_SUPERSET : CAP_EXACT;
        if ((shape == LIKE_OTHER && (prefix == 0 || n->negated)) || (shape == LIKE_PREFIX && prefix == 0)) return false;
        out->view = pick_view(p, n->args[0]->name, L_LIKE, true);
        return out->view >= 0 && stored_key_type(p->t, &p->views[out->view]) == IX_KEY_STRING;
    }
    if (n->kind == FL_EXPR_IS && n->test == FL_TEST_NULL && is_column(n->args[0])) {
        out->kind = L_IS_NULL;
        out->view = pick_view(p, n->args[0]->name, L_IS_NULL, false);
        return out->view >= 0;
    }
    if (is_column(n) && n->type == FL_EXPR_T_BOOL) {
        out->kind = L_BOOL_COLUMN;
        out->view = pick_view(p, n->name, L_BOOL_COLUMN, false);
        return out->view >= 0;
    }
    if (n->kind == FL_EXPR_CALL && n->n_args == 2 && n->name && is_column(n->args[0])) {
        const fl_expr_node *arg = n->args[1];
        if (!strcmp(n->name, "array_has") || !strcmp(n->name, "array_contains")) {
            out->kind = L_HAS;
            out->view = pick_view(p, n->args[0]->name, L_HAS, false);
            return out->view >= 0 && literals_fit(p, out->view, &arg, 1, false);
        }
        bool any = !strcmp(n->name, "array_has_any");
        if ((any || !strcmp(n->name, "array_has_all")) && arg->kind == FL_EXPR_LIST_LITERAL) {
            out->kind = any ? L_HAS_ANY : L_HAS_ALL;
            out->view = pick_view(p, n->args[0]->name, out->kind, false);
            return out->view >= 0 && literals_fit(p, out->view, (const fl_expr_node *const *)arg->args, arg->n_args, true);
        }
    }
    return false;
}

/* ---- pass 1 and 2: capability and marking ---- */

static int capability(const planner *p, const fl_expr_node *n) {
    leaf l;
    if (as_leaf(p, n, &l)) return l.cap;
    if (n->kind == FL_EXPR_BINARY && (n->op == FL_OP_AND || n->op == FL_OP_OR)) {
        int a = capability(p, n->args[0]), b = capability(p, n->args[1]);
        if (n->op == FL_OP_OR) return a < b ? a : b;
        if (a == CAP_NONE && b == CAP_NONE) return CAP_NONE;
        return a == CAP_EXACT && b == CAP_EXACT ? CAP_EXACT : CAP_SUPERSET;
    }
    if (n->kind == FL_EXPR_UNARY && n->op == FL_OP_NOT) return capability(p, n->args[0]) == CAP_EXACT ? CAP_EXACT : CAP_NONE;
    if (n->kind == FL_EXPR_IS && n->args[0]->type == FL_EXPR_T_BOOL) {
        int c = capability(p, n->args[0]);
        if (c == CAP_EXACT) return CAP_EXACT;
        return c == CAP_SUPERSET && n->test == FL_TEST_TRUE && !n->negated ? CAP_SUPERSET : CAP_NONE;
    }
    return CAP_NONE;
}

static void mark(planner *p, const fl_expr_node *n) {
    leaf l;
    if (as_leaf(p, n, &l)) {
        p->views[l.view].used = true;
        return;
    }
    if (capability(p, n) == CAP_NONE) return;
    for (int32_t i = 0; i < n->n_args; i++) mark(p, n->args[i]);
}

/* ---- pass 3: evaluation ---- */

static int open_file(planner *p, view *v, uint32_t file, ix_file **out) {
    if (!v->files[file]) {
        char *path = fl_table_path(p->t, v->ref->files[file]);
        if (!path) return oom(p->err);
        int rc = ix_file_open(path, &v->files[file], p->err);
        fl_free(path);
        FL_RETURN_NOT_OK(rc);
        ix_kind want = v->kind;
        if (ix_file_kind(v->files[file]) != want || ix_file_key_type(v->files[file]) != stored_key_type(p->t, v))
            return fl_error_set(p->err, FL_ECORRUPT, "%s/%s: byte 0: the file is not a %s index on column '%s'", p->t->dir, v->ref->files[file],
                                v->ref->type, p->t->m->schema->fields[v->field].name);
    }
    *out = v->files[file];
    return FL_OK;
}

/* Keeps the rows of `raw` (any order) that belong to a domain fragment served by `file` of v and are not
 * deleted; the result is sorted and unique. */
static int restrict_rows(planner *p, const view *v, uint32_t file, ix_rows *raw) {
    if (!ix_rows_sort_unique(raw)) return oom(p->err);
    const fl_table *t = p->t;
    size_t e = 0, k = 0;
    for (size_t i = 0; i < raw->n; i++) {
        uint64_t id = raw->ids[i];
        while (e < t->n_rids && id >= t->rids[e].start + t->rids[e].count) e++;
        if (e == t->n_rids) break;
        const rid_entry *r = &t->rids[e];
        if (id < r->start) continue;
        uint32_t fi = r->fragment;
        if (!p->domain[fi] || v->file_of[fi] != (int32_t)file) continue;
        const deletion_set *d;
        FL_RETURN_NOT_OK(fl_table_deletions(p->t, fi, &d, p->err));
        if (d->n && fl_deletion_contains(d, r->offset + (id - r->start))) continue;
        raw->ids[k++] = id;
    }
    raw->n = k;
    return FL_OK;
}

/* Rows of v in [lo, hi] (or special set `set` >= 0) over the domain, sorted, unioned into *out. */
static int lookup(planner *p, int vi, int set, const ix_key *lo, bool lo_incl, const ix_key *hi, bool hi_incl, ix_rows *out) {
    view *v = &p->views[vi];
    for (uint32_t f = 0; f < v->ref->n_files; f++) {
        bool serves = false;
        for (uint32_t i = 0; i < p->t->m->n_fragments && !serves; i++) serves = p->domain[i] && v->file_of[i] == (int32_t)f;
        if (!serves) continue;
        ix_file *file = NULL;
        FL_RETURN_NOT_OK(open_file(p, v, f, &file));
        ix_rows raw = {0}, merged;
        int rc = set >= 0 ? ix_file_read_set(file, set, &raw, p->err) : ix_file_range(file, lo, lo_incl, hi, hi_incl, &raw, p->err);
        if (rc == FL_OK) rc = restrict_rows(p, v, f, &raw);
        if (rc == FL_OK && !ix_rows_union(out, &raw, &merged)) rc = oom(p->err);
        ix_rows_free(&raw);
        FL_RETURN_NOT_OK(rc);
        ix_rows_move(out, &merged);
    }
    return FL_OK;
}

static int lookup_key(planner *p, int vi, const ix_key *k, ix_rows *out) { return lookup(p, vi, -1, k, true, k, true, out); }

/* Every live row of the domain, sorted. */
static int universe(planner *p, const ix_rows **out) {
    if (!p->have_universe) {
        const fl_manifest *m = p->t->m;
        size_t total = 0;
        for (uint32_t fi = 0; fi < m->n_fragments; fi++)
            if (p->domain[fi]) total += m->fragments[fi].physical_rows - m->fragments[fi].deleted_rows;
        ix_rows *u = &p->universe;
        if (!(u->ids = fl_malloc((total ? total : 1) * sizeof *u->ids))) return oom(p->err);
        u->cap = total ? total : 1;
        for (uint32_t fi = 0; fi < m->n_fragments; fi++) {
            if (!p->domain[fi]) continue;
            const fl_fragment *f = &m->fragments[fi];
            const deletion_set *d;
            FL_RETURN_NOT_OK(fl_table_deletions(p->t, fi, &d, p->err));
            uint64_t off = 0, next_del = 0;
            for (uint32_t r = 0; r < f->n_runs; r++)
                for (uint64_t k = 0; k < f->runs[r].count; k++, off++) {
                    /* Deletion offsets are sorted: walk them alongside. */
                    if (next_del < d->n && d->offsets[next_del] == off) {
                        next_del++;
                        continue;
                    }
                    if (u->n < u->cap) u->ids[u->n++] = f->runs[r].start + k;
                }
        }
        if (!ix_rows_sort_unique(u)) return oom(p->err);
        p->have_universe = true;
    }
    *out = &p->universe;
    return FL_OK;
}

/* dst = a − b − c (sorted sets). */
static int minus2(planner *p, const ix_rows *a, const ix_rows *b, const ix_rows *c, ix_rows *dst) {
    memset(dst, 0, sizeof *dst);
    if (a->n && !(dst->ids = fl_malloc(a->n * sizeof *dst->ids))) return oom(p->err);
    dst->cap = a->n;
    size_t j = 0, k = 0;
    for (size_t i = 0; i < a->n; i++) {
        uint64_t x = a->ids[i];
        while (j < b->n && b->ids[j] < x) j++;
        while (k < c->n && c->ids[k] < x) k++;
        if ((j < b->n && b->ids[j] == x) || (k < c->n && c->ids[k] == x)) continue;
        dst->ids[dst->n++] = x;
    }
    return FL_OK;
}

/* The rows of a comparison `column op key`; NaN rows compare equal to everything in the evaluator. */
static int eval_cmp(planner *p, int vi, fl_expr_op op, const ix_key *k, ix_rows *out) {
    switch (op) {
    case FL_OP_EQ: FL_RETURN_NOT_OK(lookup_key(p, vi, k, out)); break;
    case FL_OP_LT: return lookup(p, vi, -1, NULL, false, k, false, out);
    case FL_OP_GT: return lookup(p, vi, -1, k, false, NULL, false, out);
    case FL_OP_LE: FL_RETURN_NOT_OK(lookup(p, vi, -1, NULL, false, k, true, out)); break;
    case FL_OP_GE: FL_RETURN_NOT_OK(lookup(p, vi, -1, k, true, NULL, false, out)); break;
    default: return FL_OK;
    }
    return lookup(p, vi, IX_SET_NAN, NULL, false, NULL, false, out);
}

static int eval_leaf(planner *p, const fl_expr_node *n, const leaf *l, bool need_n, result *r) {
    int vi = l->view;
    ix_key k, k2;
    r->cap = CAP_EXACT;
    switch (l->kind) {
    case L_CMP:
        literal_key(l->lit, &k);
        if (need_n || l->op == FL_OP_NE) FL_RETURN_NOT_OK(lookup(p, vi, IX_SET_NULL, NULL, false, NULL, false, &r->n));
        if (l->op == FL_OP_NE) {
            /* Usually most rows: the complement of the equal (and NaN) rows is cheaper than two ranges. */
            const ix_rows *u;
            ix_rows eq = {0};
            int rc = eval_cmp(p, vi, FL_OP_EQ, &k, &eq);
            if (rc == FL_OK) rc = universe(p, &u);
            if (rc == FL_OK) rc = minus2(p, u, &eq, &r->n, &r->t);
            ix_rows_free(&eq);
            return rc;
        }
        return eval_cmp(p, vi, l->op, &k, &r->t);
    case L_BETWEEN:
    case L_IN: {
        bool has_null = false, any = false;
        if (l->kind == L_BETWEEN) {
            literal_key(n->args[1], &k);
            literal_key(n->args[2], &k2);
            FL_RETURN_NOT_OK(lookup(p, vi, -1, &k, true, &k2, true, &r->t));
            any = true; /* NaN >= lo and NaN <= hi are both true in the evaluator, whatever lo and hi */
        } else {
            for (int32_t i = 1; i < n->n_args; i++) {
                if (is_null_literal(n->args[i])) {
                    has_null = true;
                    continue;
                }
                literal_key(n->args[i], &k);
                FL_RETURN_NOT_OK(lookup_key(p, vi, &k, &r->t));
                any = true;
            }
        }
        if (any) FL_RETURN_NOT_OK(lookup(p, vi, IX_SET_NAN, NULL, false, NULL, false, &r->t));
        if (!need_n && !n->negated) return FL_OK;
        FL_RETURN_NOT_OK(lookup(p, vi, IX_SET_NULL, NULL, false, NULL, false, &r->n));
        if (has_null) {
            /* x IN (.., NULL) is NULL wherever it is not true. */
            const ix_rows *u;
            FL_RETURN_NOT_OK(universe(p, &u));
            ix_rows rest;
            if (!ix_rows_minus(u, &r->t, &rest)) return oom(p->err);
            ix_rows_move(&r->n, &rest);
        }
        if (n->negated) {
            const ix_rows *u;
            ix_rows neg;
            FL_RETURN_NOT_OK(universe(p, &u));
            FL_RETURN_NOT_OK(minus2(p, u, &r->t, &r->n, &neg));
            ix_rows_move(&r->t, &neg);
        }
        return FL_OK;
    }
    case L_LIKE: {
        const char *pattern = n->args[1]->lit_string;
        char *buf = fl_malloc(strlen(pattern) + 2);
        if (!buf) return oom(p->err);
        size_t len;
        int shape = like_shape(pattern, buf, &len), rc;
        ix_key lo = {.type = IX_KEY_STRING, .s = (const uint8_t *)buf, .len = len};
        r->cap = l->cap;
        if (shape == LIKE_EQUAL) rc = lookup_key(p, vi, &lo, &r->t);
        else {
            /* Keys starting with the prefix: [prefix, the prefix with its last non-0xFF byte incremented). */
            char *up = fl_malloc(len + 1);
            size_t ul = len;
            if (up) memcpy(up, buf, len);
            while (up && ul > 0 && (uint8_t)up[ul - 1] == 0xFF) ul--;
            if (up && ul > 0) up[ul - 1] = (char)((uint8_t)up[ul - 1] + 1);
            ix_key hi = {.type = IX_KEY_STRING, .s = (const uint8_t *)up, .len = ul};
            rc = up ? lookup(p, vi, -1, &lo, true, ul ? &hi : NULL, false, &r->t) : oom(p->err);
            fl_free(up);
        }
        fl_free(buf);
        FL_RETURN_NOT_OK(rc);
        if (!need_n && !n->negated) return FL_OK;
        FL_RETURN_NOT_OK(lookup(p, vi, IX_SET_NULL, NULL, false, NULL, false, &r->n));
        if (n->negated) {
            const ix_rows *u;
            ix_rows neg;
            FL_RETURN_NOT_OK(universe(p, &u));
            FL_RETURN_NOT_OK(minus2(p, u, &r->t, &r->n, &neg));
            ix_rows_move(&r->t, &neg);
        }
        return FL_OK;
    }
    case L_IS_NULL: {
        FL_RETURN_NOT_OK(lookup(p, vi, IX_SET_NULL, NULL, false, NULL, false, &r->t));
        if (n->negated) {
            const ix_rows *u;
            ix_rows rest;
            FL_RETURN_NOT_OK(universe(p, &u));
            if (!ix_rows_minus(u, &r->t, &rest)) return oom(p->err);
            ix_rows_move(&r->t, &rest);
        }
        return FL_OK;
    }
    case L_BOOL_COLUMN:
        k = (ix_key){.type = IX_KEY_INT, .i = 1};
        FL_RETURN_NOT_OK(lookup_key(p, vi, &k, &r->t));
        return need_n ? lookup(p, vi, IX_SET_NULL, NULL, false, NULL, false, &r->n) : FL_OK;
    case L_HAS:
        literal_key(n->args[1], &k);
        FL_RETURN_NOT_OK(lookup_key(p, vi, &k, &r->t));
        return need_n ? lookup(p, vi, IX_SET_NULL, NULL, false, NULL, false, &r->n) : FL_OK;
    case L_HAS_ANY:
    case L_HAS_ALL: {
        const fl_expr_node *list = n->args[1];
        bool all = l->kind == L_HAS_ALL, first = true, empty_result = false;
        if (need_n || (all && list->n_args == 0)) FL_RETURN_NOT_OK(lookup(p, vi, IX_SET_NULL, NULL, false, NULL, false, &r->n));
        for (int32_t i = 0; i < list->n_args && !empty_result; i++) {
            if (is_null_literal(list->args[i])) {
                /* A NULL needle is found in no list: ANY ignores it, ALL fails everywhere. */
                if (all) empty_result = true;
                continue;
            }
            literal_key(list->args[i], &k);
            ix_rows one = {0}, merged;
            int rc = lookup_key(p, vi, &k, &one);
            bool ok = rc != FL_OK || (all && !first ? ix_rows_intersect(&r->t, &one, &merged) : ix_rows_union(&r->t, &one, &merged));
            ix_rows_free(&one);
            FL_RETURN_NOT_OK(rc);
            if (!ok) return oom(p->err);
            ix_rows_move(&r->t, &merged);
            first = false;
        }
        if (empty_result) ix_rows_free(&r->t);
        else if (all && first) {
            /* array_has_all(col, []) is true for every non-NULL list. */
            const ix_rows *u;
            FL_RETURN_NOT_OK(universe(p, &u));
            if (!ix_rows_minus(u, &r->n, &r->t)) return oom(p->err);
        }
        return FL_OK;
    }
    }
    return FL_OK;
}

/* Evaluates n; its NULL rows (r->n) are computed only when need_n (a NOT or IS above needs them). */
static int eval(planner *p, const fl_expr_node *n, bool need_n, result *r) {
    memset(r, 0, sizeof *r);
    int cap = capability(p, n);
    if (cap == CAP_NONE) return FL_OK;
    leaf l;
    if (as_leaf(p, n, &l)) {
        int rc = eval_leaf(p, n, &l, need_n, r);
        if (rc != FL_OK) result_free(r);
        return rc;
    }
    const ix_rows *u;
    if (n->kind == FL_EXPR_BINARY) {
        result a, b;
        int rc = eval(p, n->args[0], need_n, &a);
        if (rc == FL_OK) rc = eval(p, n->args[1], need_n, &b);
        else memset(&b, 0, sizeof b);
        bool ok = true;
        if (rc == FL_OK && n->op == FL_OP_AND && (a.cap == CAP_NONE || b.cap == CAP_NONE)) {
            ix_rows_move(&r->t, a.cap != CAP_NONE ? &a.t : &b.t);
        } else if (rc == FL_OK && n->op == FL_OP_AND) {
            ok = ix_rows_intersect(&a.t, &b.t, &r->t);
            if (ok && cap == CAP_EXACT && need_n) {
                ix_rows ta, tb, both;
                ok = ix_rows_union(&a.t, &a.n, &ta);
                if (ok && !ix_rows_union(&b.t, &b.n, &tb)) {
                    ix_rows_free(&ta);
                    ok = false;
                }
                if (ok) {
                    ok = ix_rows_intersect(&ta, &tb, &both) && ix_rows_minus(&both, &r->t, &r->n);
                    ix_rows_free(&both);
                    ix_rows_free(&ta);
                    ix_rows_free(&tb);
                }
            }
        } else if (rc == FL_OK) {
            ok = ix_rows_union(&a.t, &b.t, &r->t);
            if (ok && cap == CAP_EXACT && need_n) {
                ix_rows nn;
                ok = ix_rows_union(&a.n, &b.n, &nn) && ix_rows_minus(&nn, &r->t, &r->n);
                ix_rows_free(&nn);
            }
        }
        result_free(&a);
        result_free(&b);
        if (rc == FL_OK && !ok) rc = oom(p->err);
        if (rc != FL_OK) {
            result_free(r);
            return rc;
        }
        r->cap = cap;
        return FL_OK;
    }
    result c;
    bool child_n = n->kind == FL_EXPR_UNARY || n->test != FL_TEST_TRUE || n->negated;
    FL_RETURN_NOT_OK(eval(p, n->args[0], child_n, &c));
    int rc = FL_OK;
    if (n->kind == FL_EXPR_UNARY) { /* NOT */
        rc = universe(p, &u);
        if (rc == FL_OK) rc = minus2(p, u, &c.t, &c.n, &r->t);
        if (rc == FL_OK) ix_rows_move(&r->n, &c.n);
    } else { /* IS [NOT] TRUE / FALSE / NULL over a boolean expression */
        ix_rows hit = {0};
        if (n->test == FL_TEST_TRUE) ix_rows_move(&hit, &c.t);
        else if (n->test == FL_TEST_NULL) ix_rows_move(&hit, &c.n);
        else {
            rc = universe(p, &u);
            if (rc == FL_OK) rc = minus2(p, u, &c.t, &c.n, &hit);
        }
        if (rc == FL_OK && n->negated) {
            rc = universe(p, &u);
            if (rc == FL_OK && !ix_rows_minus(u, &hit, &r->t)) rc = oom(p->err);
            ix_rows_free(&hit);
        } else {
            ix_rows_move(&r->t, &hit);
        }
    }
    result_free(&c);
    if (rc != FL_OK) {
        result_free(r);
        return rc;
    }
    r->cap = cap;
    return FL_OK;
}

/* ---- entry point ---- */

void fl_index_selection_clear(fl_index_selection *s) {
    fl_free(s->offsets);
    fl_free(s->offset_start);
    fl_free(s->fragments);
    fl_free(s->covered);
    fl_free(s->row_ids);
    fl_strings_free(s->used, s->n_used);
    memset(s, 0, sizeof *s);
}

static int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

int fl_index_selection_group(const fl_table *t, fl_index_selection *s, fl_error *err) {
    if (s->offsets || !s->applies) return FL_OK;
    uint32_t nf = t->m->n_fragments;
    int32_t *slot = fl_malloc((nf + 1) * sizeof *slot);
    uint32_t *frag = fl_malloc((s->n_rows + 1) * sizeof *frag);
    uint64_t *off = fl_malloc((s->n_rows + 1) * sizeof *off);
    s->offsets = fl_malloc((s->n_rows + 1) * sizeof *s->offsets);
    s->offset_start = fl_calloc((size_t)s->n_fragments + 1, sizeof *s->offset_start);
    int rc = slot && frag && off && s->offsets && s->offset_start ? FL_OK : oom(err);
    for (uint32_t i = 0; rc == FL_OK && i < nf; i++) slot[i] = -1;
    for (uint32_t i = 0; rc == FL_OK && i < s->n_fragments; i++) slot[s->fragments[i]] = (int32_t)i;
    size_t e = 0;
    for (uint64_t i = 0; rc == FL_OK && i < s->n_rows; i++) {
        uint64_t id = s->row_ids[i];
        while (e < t->n_rids && id >= t->rids[e].start + t->rids[e].count) e++;
        if (e == t->n_rids || id < t->rids[e].start || slot[t->rids[e].fragment] < 0) {
            rc = fl_error_set(err, FL_EINVAL, "index selection: row id %llu is outside its fragments", (unsigned long long)id);
            break;
        }
        frag[i] = t->rids[e].fragment;
        off[i] = t->rids[e].offset + (id - t->rids[e].start);
        s->offset_start[slot[frag[i]] + 1]++;
    }
    for (uint32_t i = 0; rc == FL_OK && i < s->n_fragments; i++) s->offset_start[i + 1] += s->offset_start[i];
    if (rc == FL_OK) {
        uint64_t *fill = fl_malloc(((size_t)s->n_fragments + 1) * sizeof *fill);
        if (!fill) rc = oom(err);
        for (uint32_t i = 0; rc == FL_OK && i < s->n_fragments; i++) fill[i] = s->offset_start[i];
        for (uint64_t i = 0; rc == FL_OK && i < s->n_rows; i++) s->offsets[fill[slot[frag[i]]]++] = off[i];
        /* Runs of a compacted fragment need not ascend with the row ids. */
        for (uint32_t i = 0; rc == FL_OK && i < s->n_fragments; i++) {
            uint64_t a = s->offset_start[i], b = s->offset_start[i + 1];
            bool sorted = true;
            for (uint64_t k = a + 1; k < b && sorted; k++) sorted = s->offsets[k] > s->offsets[k - 1];
            if (!sorted) qsort(s->offsets + a, (size_t)(b - a), sizeof *s->offsets, cmp_u64);
        }
        fl_free(fill);
    }
    fl_free(slot);
    fl_free(frag);
    fl_free(off);
    if (rc != FL_OK) {
        fl_free(s->offsets);
        fl_free(s->offset_start);
        s->offsets = NULL;
        s->offset_start = NULL;
    }
    return rc;
}

static void planner_free(planner *p) {
    for (uint32_t i = 0; i < p->n_views; i++) {
        view *v = &p->views[i];
        for (uint32_t f = 0; v->files && f < v->ref->n_files; f++) ix_file_close(v->files[f]);
        fl_free(v->files);
        fl_free(v->file_of);
    }
    fl_free(p->views);
    fl_free(p->domain);
    ix_rows_free(&p->universe);
}

/* The version's indexes that cover at least one fragment. */
static int load_views(planner *p) {
    const fl_manifest *m = p->t->m;
    p->views = fl_calloc((size_t)m->n_indexes + 1, sizeof *p->views);
    if (!p->views) return oom(p->err);
    for (uint32_t i = 0; i < m->n_indexes; i++) {
        const fl_index_ref *x = &m->indexes[i];
        view *v = &p->views[p->n_views];
        v->ref = x;
        v->kind = ix_kind_of(x->type);
        v->field = fl_index_field(p->t, x);
        if (!v->kind || v->field < 0) continue;
        v->file_of = fl_calloc((size_t)m->n_fragments + 1, sizeof *v->file_of);
        v->files = fl_calloc((size_t)x->n_files + 1, sizeof *v->files);
        if (!v->file_of || !v->files) {
            p->n_views++;
            return oom(p->err);
        }
        p->n_views++;
        FL_RETURN_NOT_OK(fl_index_coverage(p->t, x, v->file_of, p->err));
        bool any = false;
        for (uint32_t f = 0; f < m->n_fragments && !any; f++) any = v->file_of[f] >= 0;
        if (!any) {
            fl_free(v->file_of);
            fl_free(v->files);
            memset(v, 0, sizeof *v);
            p->n_views--;
        }
    }
    return FL_OK;
}

int fl_index_select(fl_table *t, const fl_expr_node *filter, fl_index_selection *out, fl_error *err) {
    memset(out, 0, sizeof *out);
    if (!filter || t->m->n_indexes == 0 || t->m->n_fragments == 0) return FL_OK;
    planner p = {.t = t, .err = err};
    const fl_manifest *m = t->m;
    int rc = load_views(&p);
    if (rc == FL_OK && (p.n_views == 0 || capability(&p, filter) == CAP_NONE)) goto done;
    if (rc != FL_OK) goto done;
    mark(&p, filter);
    if (!(p.domain = fl_calloc(m->n_fragments, sizeof *p.domain))) {
        rc = oom(err);
        goto done;
    }
    uint32_t n_domain = 0;
    for (uint32_t f = 0; f < m->n_fragments; f++) {
        bool in = true;
        for (uint32_t i = 0; i < p.n_views && in; i++) in = !p.views[i].used || p.views[i].file_of[f] >= 0;
        p.domain[f] = in;
        n_domain += in;
    }
    if (n_domain == 0) goto done;
    result r;
    FL_GOTO_NOT_OK(rc, eval(&p, filter, false, &r), done);
    out->applies = true;
    out->exact = r.cap == CAP_EXACT;
    out->n_rows = r.t.n;
    out->row_ids = r.t.ids;
    memset(&r.t, 0, sizeof r.t);
    result_free(&r);
    out->fragments = fl_calloc(n_domain, sizeof *out->fragments);
    out->covered = fl_calloc(m->n_fragments, sizeof *out->covered);
    uint32_t n_used = 0;
    for (uint32_t i = 0; i < p.n_views; i++) n_used += p.views[i].used;
    out->used = fl_calloc(n_used + 1, sizeof *out->used);
    if (!out->fragments || !out->covered || !out->used) {
        rc = oom(err);
        goto done;
    }
    for (uint32_t f = 0; f < m->n_fragments; f++)
        if (p.domain[f]) {
            out->fragments[out->n_fragments++] = f;
            out->covered[f] = true;
        }
    for (uint32_t i = 0; rc == FL_OK && i < p.n_views; i++) {
        if (!p.views[i].used) continue;
        if (!(out->used[out->n_used] = fl_strdup(p.views[i].ref->name))) {
            rc = oom(err);
            goto done;
        }
        out->n_used++;
    }
done:
    planner_free(&p);
    if (rc != FL_OK) fl_index_selection_clear(out);
    return rc;
}
