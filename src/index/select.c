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
 *      row sets under SQL three-valued logic. Sets are bitsets over the row id space (one bit per id below
 *      next_row_id: 125 KB for a million rows), so every combination is a pass of word operations and
 *      each leaf costs its postings; the root's TRUE set becomes the sorted candidate ids at the end:
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

/* A set of row ids as a bitset over [0, 64 * n_words); w NULL is the empty set. */
typedef struct bits {
    uint64_t *w;
} bits;

/* Row id spaces above this many ids are not planned with bitsets (the scan answers instead). */
#define MAX_BITSET_IDS (UINT64_C(1) << 32)

typedef struct planner {
    fl_table *t;
    fl_error *err;
    view *views;
    uint32_t n_views;
    bool *domain;               /* per fragment */
    size_t n_words;             /* of every bitset */
    bits universe;              /* live rows of the domain */
    bool have_universe;
    bits **served;              /* per view, per file: live domain rows that file serves (lazily) */
} planner;

typedef struct result {
    int cap;
    bits t;                     /* rows where TRUE (a superset unless EXACT) */
    bits n;                     /* EXACT: rows where NULL */
} result;

static int oom(fl_error *err) { return fl_error_set(err, FL_ENOMEM, "out of memory"); }

static void bits_free(bits *b) {
    fl_free(b->w);
    b->w = NULL;
}

static void bits_move(bits *dst, bits *src) {
    bits_free(dst);
    *dst = *src;
    src->w = NULL;
}

/* A zeroed set (allocated, so that it can be written). */
static int bits_new(planner *p, bits *b) {
    if (!(b->w = fl_calloc(p->n_words ? p->n_words : 1, sizeof *b->w))) return oom(p->err);
    return FL_OK;
}

static inline void bit_on(bits *b, uint64_t id) { b->w[id >> 6] |= UINT64_C(1) << (id & 63); }

/* Sets bits [lo, hi). */
static void bits_set_range(bits *b, uint64_t lo, uint64_t hi) {
    while (lo < hi && (lo & 63)) bit_on(b, lo++);
    for (; lo + 64 <= hi; lo += 64) b->w[lo >> 6] = ~UINT64_C(0);
    while (lo < hi) bit_on(b, lo++);
}

/* dst = a op (b [op2 c]) word by word; NULL operands are empty sets. */
enum { B_AND, B_OR, B_ANDNOT };
static int bits_op(planner *p, int op, const bits *a, const bits *b, bits *dst) {
    bits out = {0};
    FL_RETURN_NOT_OK(bits_new(p, &out));
    const uint64_t *x = a->w, *y = b->w;
    for (size_t i = 0; i < p->n_words; i++) {
        uint64_t u = x ? x[i] : 0, v = y ? y[i] : 0;
        out.w[i] = op == B_AND ? u & v : op == B_OR ? u | v : u & ~v;
    }
    bits_move(dst, &out);
    return FL_OK;
}

/* dst = a − b − c. */
static int bits_minus2(planner *p, const bits *a, const bits *b, const bits *c, bits *dst) {
    bits out = {0};
    FL_RETURN_NOT_OK(bits_new(p, &out));
    for (size_t i = 0; i < p->n_words; i++) out.w[i] = (a->w ? a->w[i] : 0) & ~(b->w ? b->w[i] : 0) & ~(c->w ? c->w[i] : 0);
    bits_move(dst, &out);
    return FL_OK;
}

static void result_free(result *r) {
    bits_free(&r->t);
    bits_free(&r->n);
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
            op = fl_expr_op_flip(op);
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

/* Sets the live rows of fragment fi in b. */
static int add_live_rows(planner *p, uint32_t fi, bits *b) {
    const fl_fragment *f = &p->t->m->fragments[fi];
    const deletion_set *d;
    FL_RETURN_NOT_OK(fl_table_deletions(p->t, fi, &d, p->err));
    uint64_t off = 0, next_del = 0;
    for (uint32_t r = 0; r < f->n_runs; r++) {
        const fl_row_run *run = &f->runs[r];
        bits_set_range(b, run->start, run->start + run->count);
        /* Deletion offsets are sorted: clear the ones inside this run. */
        for (; next_del < d->n && d->offsets[next_del] < off + run->count; next_del++) {
            uint64_t id = run->start + (d->offsets[next_del] - off);
            b->w[id >> 6] &= ~(UINT64_C(1) << (id & 63));
        }
        off += run->count;
    }
    return FL_OK;
}

/* Every live row of the domain. */
static int universe(planner *p, const bits **out) {
    if (!p->have_universe) {
        FL_RETURN_NOT_OK(bits_new(p, &p->universe));
        for (uint32_t fi = 0; fi < p->t->m->n_fragments; fi++)
            if (p->domain[fi]) FL_RETURN_NOT_OK(add_live_rows(p, fi, &p->universe));
        p->have_universe = true;
    }
    *out = &p->universe;
    return FL_OK;
}

/* The live domain rows that file `file` of view vi serves. */
static int served(planner *p, int vi, uint32_t file, const bits **out) {
    view *v = &p->views[vi];
    if (!p->served[vi] && !(p->served[vi] = fl_calloc((size_t)v->ref->n_files + 1, sizeof **p->served))) return oom(p->err);
    bits *b = &p->served[vi][file];
    if (!b->w) {
        FL_RETURN_NOT_OK(bits_new(p, b));
        for (uint32_t fi = 0; fi < p->t->m->n_fragments; fi++)
            if (p->domain[fi] && v->file_of[fi] == (int32_t)file) FL_RETURN_NOT_OK(add_live_rows(p, fi, b));
    }
    *out = b;
    return FL_OK;
}

/*
 * The postings cache: what an index file answered for a set or key range, as a bitset over the row ids
 * it names, kept with the table handle (fl_table.ext) so that a repeated query or a query sharing a
 * predicate decodes nothing. Index files never change once written, so an entry stays true for every
 * version that still references its file; the domain and deletions of the current version are applied
 * afterwards (the served mask). Entries are evicted oldest first beyond POSTINGS_CACHE_BYTES.
 */
#define POSTINGS_CACHE_BYTES (UINT64_C(64) << 20)

typedef struct postings_entry {
    char *key;                  /* file path, then the set or range */
    uint64_t *w;
    size_t n_words;
} postings_entry;

typedef struct postings_cache {
    postings_entry *entries;    /* oldest first */
    size_t n, cap;
    uint64_t bytes;
} postings_cache;

static void postings_cache_free(void *ext) {
    postings_cache *c = ext;
    for (size_t i = 0; i < c->n; i++) {
        fl_free(c->entries[i].key);
        fl_free(c->entries[i].w);
    }
    fl_free(c->entries);
    fl_free(c);
}

/* Appends a key's identity to the cache key text. */
static void key_text(fl_buf *b, const ix_key *k, bool incl) {
    if (!k) {
        fl_buf_append(b, "|-", 2);
        return;
    }
    char tmp[64];
    int n = k->type == IX_KEY_INT ? snprintf(tmp, sizeof tmp, "|%c i%lld", incl ? '[' : '(', (long long)k->i)
            : k->type == IX_KEY_FLOAT ? snprintf(tmp, sizeof tmp, "|%c f%.17g", incl ? '[' : '(', k->f)
                                      : snprintf(tmp, sizeof tmp, "|%c s%zu:", incl ? '[' : '(', k->len);
    fl_buf_append(b, tmp, (size_t)n);
    if (k->type == IX_KEY_STRING && k->len) fl_buf_append(b, k->s, k->len);
}

/* The rows file `f` of view v names for a set or range, from the cache or decoded (and cached). */
static int raw_postings(planner *p, view *v, uint32_t f, int set, const ix_key *lo, bool lo_incl, const ix_key *hi, bool hi_incl,
                        const postings_entry **out) {
    fl_table *t = p->t;
    if (!t->ext) {
        if (!(t->ext = fl_calloc(1, sizeof(postings_cache)))) return oom(p->err);
        t->ext_free = postings_cache_free;
    }
    postings_cache *c = t->ext;
    fl_buf key = {0};
    const char *path = v->ref->files[f];
    fl_buf_append(&key, path, strlen(path));
    char tmp[32];
    int n = snprintf(tmp, sizeof tmp, "|set%d", set);
    fl_buf_append(&key, tmp, (size_t)n);
    key_text(&key, lo, lo_incl);
    key_text(&key, hi, hi_incl);
    fl_buf_append(&key, "", 1);
    if (key.failed) {
        fl_buf_free(&key);
        return oom(p->err);
    }
    for (size_t i = c->n; i-- > 0;)
        if (!strcmp(c->entries[i].key, (const char *)key.data)) {
            fl_buf_free(&key);
            *out = &c->entries[i];
            return FL_OK;
        }
    ix_file *file = NULL;
    int rc = open_file(p, v, f, &file);
    ix_rows raw = {0};
    if (rc == FL_OK) rc = set >= 0 ? ix_file_read_set(file, set, &raw, p->err) : ix_file_range(file, lo, lo_incl, hi, hi_incl, &raw, p->err);
    postings_entry e = {.key = (char *)key.data, .n_words = p->n_words};
    if (rc == FL_OK && !(e.w = fl_calloc(e.n_words ? e.n_words : 1, sizeof *e.w))) rc = oom(p->err);
    /* Ids beyond the current id space cannot be rows of this version. */
    for (size_t i = 0; rc == FL_OK && i < raw.n; i++)
        if ((raw.ids[i] >> 6) < e.n_words) e.w[raw.ids[i] >> 6] |= UINT64_C(1) << (raw.ids[i] & 63);
    ix_rows_free(&raw);
    if (rc == FL_OK && c->n == c->cap && !fl_reserve((void **)&c->entries, &c->cap, c->n + 1, sizeof *c->entries, 16)) rc = oom(p->err);
    if (rc != FL_OK) {
        fl_free(e.key);
        fl_free(e.w);
        return rc;
    }
    uint64_t size = e.n_words * 8 + strlen(e.key);
    while (c->n && c->bytes + size > POSTINGS_CACHE_BYTES) {
        c->bytes -= c->entries[0].n_words * 8 + strlen(c->entries[0].key);
        fl_free(c->entries[0].key);
        fl_free(c->entries[0].w);
        memmove(c->entries, c->entries + 1, --c->n * sizeof *c->entries);
    }
    c->entries[c->n++] = e;
    c->bytes += size;
    *out = &c->entries[c->n - 1];
    return FL_OK;
}

/* Rows of v in [lo, hi] (or special set `set` >= 0) that its files serve in the domain, added to *out. */
static int lookup(planner *p, int vi, int set, const ix_key *lo, bool lo_incl, const ix_key *hi, bool hi_incl, bits *out) {
    view *v = &p->views[vi];
    if (!out->w) FL_RETURN_NOT_OK(bits_new(p, out));
    for (uint32_t f = 0; f < v->ref->n_files; f++) {
        bool serves = false;
        for (uint32_t i = 0; i < p->t->m->n_fragments && !serves; i++) serves = p->domain[i] && v->file_of[i] == (int32_t)f;
        if (!serves) continue;
        const bits *mask = NULL;
        const postings_entry *raw = NULL;
        FL_RETURN_NOT_OK(served(p, vi, f, &mask));
        FL_RETURN_NOT_OK(raw_postings(p, v, f, set, lo, lo_incl, hi, hi_incl, &raw));
        size_t words = raw->n_words < p->n_words ? raw->n_words : p->n_words;
        for (size_t i = 0; i < words; i++) out->w[i] |= raw->w[i] & mask->w[i];
    }
    return FL_OK;
}

static int lookup_key(planner *p, int vi, const ix_key *k, bits *out) { return lookup(p, vi, -1, k, true, k, true, out); }

/* The rows of a comparison `column op key` (key not NaN). NaN sorts above every number in the evaluator
 * (eval.c), so NaN rows satisfy >, >= and <> and nothing else. */
static int eval_cmp(planner *p, int vi, fl_expr_op op, const ix_key *k, bits *out) {
    switch (op) {
    case FL_OP_EQ: return lookup_key(p, vi, k, out);
    case FL_OP_LT: return lookup(p, vi, -1, NULL, false, k, false, out);
    case FL_OP_LE: return lookup(p, vi, -1, NULL, false, k, true, out);
    case FL_OP_GT: FL_RETURN_NOT_OK(lookup(p, vi, -1, k, false, NULL, false, out)); break;
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
            /* Usually most rows: the complement of the equal rows and the NULL rows (NaN <> k holds). */
            const bits *u;
            bits eq = {0};
            int rc = eval_cmp(p, vi, FL_OP_EQ, &k, &eq);
            if (rc == FL_OK) rc = universe(p, &u);
            if (rc == FL_OK) rc = bits_minus2(p, u, &eq, &r->n, &r->t);
            bits_free(&eq);
            return rc;
        }
        return eval_cmp(p, vi, l->op, &k, &r->t);
    case L_BETWEEN:
    case L_IN: {
        bool has_null = false;
        /* NaN rows: above hi, and equal to no number, so neither BETWEEN nor IN holds for them. */
        if (l->kind == L_BETWEEN) {
            literal_key(n->args[1], &k);
            literal_key(n->args[2], &k2);
            FL_RETURN_NOT_OK(lookup(p, vi, -1, &k, true, &k2, true, &r->t));
        } else {
            for (int32_t i = 1; i < n->n_args; i++) {
                if (is_null_literal(n->args[i])) {
                    has_null = true;
                    continue;
                }
                literal_key(n->args[i], &k);
                FL_RETURN_NOT_OK(lookup_key(p, vi, &k, &r->t));
            }
        }
        if (!need_n && !n->negated) return FL_OK;
        FL_RETURN_NOT_OK(lookup(p, vi, IX_SET_NULL, NULL, false, NULL, false, &r->n));
        const bits *u;
        if (has_null) {
            /* x IN (.., NULL) is NULL wherever it is not true. */
            FL_RETURN_NOT_OK(universe(p, &u));
            FL_RETURN_NOT_OK(bits_op(p, B_ANDNOT, u, &r->t, &r->n));
        }
        if (n->negated) {
            FL_RETURN_NOT_OK(universe(p, &u));
            FL_RETURN_NOT_OK(bits_minus2(p, u, &r->t, &r->n, &r->t));
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
            const bits *u;
            FL_RETURN_NOT_OK(universe(p, &u));
            FL_RETURN_NOT_OK(bits_minus2(p, u, &r->t, &r->n, &r->t));
        }
        return FL_OK;
    }
    case L_IS_NULL: {
        FL_RETURN_NOT_OK(lookup(p, vi, IX_SET_NULL, NULL, false, NULL, false, &r->t));
        if (n->negated) {
            const bits *u;
            FL_RETURN_NOT_OK(universe(p, &u));
            FL_RETURN_NOT_OK(bits_op(p, B_ANDNOT, u, &r->t, &r->t));
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
            if (!all) {
                /* ANY: every needle's rows go into the one set. */
                FL_RETURN_NOT_OK(lookup_key(p, vi, &k, &r->t));
            } else {
                bits one = {0};
                int rc = lookup_key(p, vi, &k, &one);
                if (rc == FL_OK) {
                    if (first) bits_move(&r->t, &one);
                    else rc = bits_op(p, B_AND, &r->t, &one, &r->t);
                }
                bits_free(&one);
                FL_RETURN_NOT_OK(rc);
            }
            first = false;
        }
        if (empty_result) bits_free(&r->t);
        else if (all && first) {
            /* array_has_all(col, []) is true for every non-NULL list. */
            const bits *u;
            FL_RETURN_NOT_OK(universe(p, &u));
            FL_RETURN_NOT_OK(bits_op(p, B_ANDNOT, u, &r->n, &r->t));
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
    const bits *u;
    if (n->kind == FL_EXPR_BINARY && n->op == FL_OP_AND) {
        /* A lower and an upper bound on one btree column (ts >= a AND ts < b): one range read, instead of
         * two half-open ranges that each read to an end of the index. */
        leaf la, lb;
        if (as_leaf(p, n->args[0], &la) && as_leaf(p, n->args[1], &lb) && la.kind == L_CMP && lb.kind == L_CMP && la.view == lb.view) {
            bool la_low = la.op == FL_OP_GT || la.op == FL_OP_GE, lb_low = lb.op == FL_OP_GT || lb.op == FL_OP_GE;
            bool la_high = la.op == FL_OP_LT || la.op == FL_OP_LE, lb_high = lb.op == FL_OP_LT || lb.op == FL_OP_LE;
            if ((la_low && lb_high) || (la_high && lb_low)) {
                const leaf *lo = la_low ? &la : &lb, *hi = la_low ? &lb : &la;
                ix_key klo, khi;
                literal_key(lo->lit, &klo);
                literal_key(hi->lit, &khi);
                /* NaN rows pass the lower bound but not the upper one, so the range is the whole answer;
                 * NULL rows are NULL on both sides. */
                int rc = lookup(p, la.view, -1, &klo, lo->op == FL_OP_GE, &khi, hi->op == FL_OP_LE, &r->t);
                if (rc == FL_OK && need_n) rc = lookup(p, la.view, IX_SET_NULL, NULL, false, NULL, false, &r->n);
                if (rc != FL_OK) {
                    result_free(r);
                    return rc;
                }
                r->cap = CAP_EXACT;
                return FL_OK;
            }
        }
    }
    if (n->kind == FL_EXPR_BINARY) {
        result a, b;
        int rc = eval(p, n->args[0], need_n, &a);
        if (rc == FL_OK) rc = eval(p, n->args[1], need_n, &b);
        else memset(&b, 0, sizeof b);
        if (rc == FL_OK && n->op == FL_OP_AND && (a.cap == CAP_NONE || b.cap == CAP_NONE)) {
            bits_move(&r->t, a.cap != CAP_NONE ? &a.t : &b.t);
        } else if (rc == FL_OK && n->op == FL_OP_AND) {
            rc = bits_op(p, B_AND, &a.t, &b.t, &r->t);
            if (rc == FL_OK && cap == CAP_EXACT && need_n) {
                /* NULL where both sides are TRUE or NULL, but not both TRUE. */
                bits ta = {0}, tb = {0};
                rc = bits_op(p, B_OR, &a.t, &a.n, &ta);
                if (rc == FL_OK) rc = bits_op(p, B_OR, &b.t, &b.n, &tb);
                if (rc == FL_OK) rc = bits_op(p, B_AND, &ta, &tb, &r->n);
                if (rc == FL_OK) rc = bits_op(p, B_ANDNOT, &r->n, &r->t, &r->n);
                bits_free(&ta);
                bits_free(&tb);
            }
        } else if (rc == FL_OK) {
            rc = bits_op(p, B_OR, &a.t, &b.t, &r->t);
            if (rc == FL_OK && cap == CAP_EXACT && need_n) {
                rc = bits_op(p, B_OR, &a.n, &b.n, &r->n);
                if (rc == FL_OK) rc = bits_op(p, B_ANDNOT, &r->n, &r->t, &r->n);
            }
        }
        result_free(&a);
        result_free(&b);
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
    int rc = universe(p, &u);
    if (n->kind == FL_EXPR_UNARY) { /* NOT */
        if (rc == FL_OK) rc = bits_minus2(p, u, &c.t, &c.n, &r->t);
        if (rc == FL_OK) bits_move(&r->n, &c.n);
    } else { /* IS [NOT] TRUE / FALSE / NULL over a boolean expression */
        bits hit = {0};
        if (rc != FL_OK) {
        } else if (n->test == FL_TEST_TRUE) bits_move(&hit, &c.t);
        else if (n->test == FL_TEST_NULL) bits_move(&hit, &c.n);
        else rc = bits_minus2(p, u, &c.t, &c.n, &hit);
        if (rc == FL_OK && n->negated) rc = bits_op(p, B_ANDNOT, u, &hit, &r->t);
        else bits_move(&r->t, &hit);
        bits_free(&hit);
    }
    result_free(&c);
    if (rc != FL_OK) {
        result_free(r);
        return rc;
    }
    r->cap = cap;
    return FL_OK;
}

/* The ids of a set in ascending order (ids NULL: only their number). */
static int bits_to_ids(planner *p, const bits *b, uint64_t **ids, uint64_t *n) {
    if (ids) *ids = NULL;
    *n = 0;
    if (!b->w) return FL_OK;
    uint64_t count = 0;
    for (size_t i = 0; i < p->n_words; i++) count += (uint64_t)__builtin_popcountll(b->w[i]);
    if (!ids) {
        *n = count;
        return FL_OK;
    }
    if (!(*ids = fl_malloc((count ? count : 1) * sizeof **ids))) return oom(p->err);
    uint64_t k = 0;
    for (size_t i = 0; i < p->n_words; i++)
        for (uint64_t w = b->w[i]; w; w &= w - 1) (*ids)[k++] = ((uint64_t)i << 6) + (uint64_t)__builtin_ctzll(w);
    *n = k;
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
    for (uint32_t i = 0; p->served && i < p->n_views; i++) {
        for (uint32_t f = 0; p->served[i] && f < p->views[i].ref->n_files; f++) bits_free(&p->served[i][f]);
        fl_free(p->served[i]);
    }
    fl_free(p->served);
    fl_free(p->views);
    fl_free(p->domain);
    bits_free(&p->universe);
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
        if (!IX_SCALAR(v->kind) || v->field < 0) continue; /* full-text and vector indexes answer no filter */
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

static int select_rows(fl_table *t, const fl_expr_node *filter, bool want_ids, fl_index_selection *out, fl_error *err);

int fl_index_select(fl_table *t, const fl_expr_node *filter, fl_index_selection *out, fl_error *err) {
    return select_rows(t, filter, true, out, err);
}

int fl_index_select_count(fl_table *t, const fl_expr_node *filter, fl_index_selection *out, fl_error *err) {
    return select_rows(t, filter, false, out, err);
}

static int select_rows(fl_table *t, const fl_expr_node *filter, bool want_ids, fl_index_selection *out, fl_error *err) {
    memset(out, 0, sizeof *out);
    if (!filter || t->m->n_indexes == 0 || t->m->n_fragments == 0 || t->m->next_row_id > MAX_BITSET_IDS) return FL_OK;
    planner p = {.t = t, .err = err, .n_words = (size_t)((t->m->next_row_id + 63) / 64)};
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
    if (!(p.served = fl_calloc((size_t)p.n_views + 1, sizeof *p.served))) {
        rc = oom(err);
        goto done;
    }
    result r;
    FL_GOTO_NOT_OK(rc, eval(&p, filter, false, &r), done);
    rc = bits_to_ids(&p, &r.t, want_ids ? &out->row_ids : NULL, &out->n_rows);
    out->applies = rc == FL_OK;
    out->exact = r.cap == CAP_EXACT;
    result_free(&r);
    if (rc != FL_OK) goto done;
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
