/*
 * functions.c — the function registry: each entry binds (checks argument types, sets the result type)
 * and evaluates over whole columns. Arguments arrive canonical (expr.h invariant 3); a NULL argument
 * makes the result NULL unless the function says otherwise (coalesce).
 */
#include "expr.h"

#include <math.h>
#include <regex.h>
#include <stdlib.h>

static int bad_arg(const fl_expr_node *n, int i, const char *want, fl_error *err) {
    const fl_expr_node *a = n->args[i];
    return fl_error_set(err, FL_EINVAL, "%s: argument %d must be %s, not %s (position %d)", n->name, i + 1, want, fl_expr_type_name(a->type),
                        (int)(a->pos ? a->pos : n->pos));
}

static bool arg_is(const fl_expr_node *n, int i, fl_expr_type t) { return n->args[i]->type == t || n->args[i]->type == FL_EXPR_T_NULL; }

/* Row i of an argument; a one-value argument is a broadcast constant (functions marked broadcast). */
static inline int64_t ix(const fl_array *a, int64_t i) { return a->length == 1 ? 0 : i; }
static inline bool isnull(const fl_array *a, int64_t i) { return a->validity && !fl_bit_get(a->validity, ix(a, i)); }

static int oom(fl_error *err) { return fl_error_set(err, FL_ENOMEM, "out of memory"); }

/* n zeroed values of a fixed-width type (BOOL: bits), all valid. */
static int new_fixed(fl_array *a, fl_type_id type, int64_t n) {
    fl_field f = {0};
    f.type = type;
    if (fl_array_init(a, &f) != FL_OK) return FL_ENOMEM;
    int64_t bytes = type == FL_TYPE_BOOL ? (n + 7) / 8 : n * 8;
    fl_free(a->values); /* fl_array_init's initial buffer */
    if (!(a->values = fl_calloc(1, (size_t)(bytes ? bytes : 8)))) return FL_ENOMEM;
    a->cap_values = bytes ? bytes : 8;
    a->length = n;
    return FL_OK;
}

/* Marks row i NULL in an array built by new_fixed. */
static int set_null(fl_array *a, int64_t i) {
    if (!a->validity) {
        a->validity = fl_malloc((size_t)((a->length + 7) / 8 + 1));
        if (!a->validity) return FL_ENOMEM;
        memset(a->validity, 0xFF, (size_t)((a->length + 7) / 8 + 1));
        a->cap_validity = (a->length + 7) / 8 + 1;
    }
    if (fl_bit_get(a->validity, i)) a->null_count++;
    fl_bit_set(a->validity, i, false);
    return FL_OK;
}

/* ---- strings ---- */

static int bind_str_to_str(fl_expr_node *n, fl_error *err) {
    if (!arg_is(n, 0, FL_EXPR_T_STRING)) return bad_arg(n, 0, "a string", err);
    n->type = FL_EXPR_T_STRING;
    return FL_OK;
}

static int eval_case(const fl_expr_node *n, const fl_array *args, int64_t rows, fl_array *out, fl_error *err) {
    bool upper = n->name[0] == 'u';
    fl_field f = {0};
    f.type = FL_TYPE_STRING;
    if (fl_array_init(out, &f) != FL_OK) return oom(err);
    for (int64_t i = 0; i < rows; i++) {
        if (isnull(&args[0], i)) {
            if (fl_array_append_null(out) != FL_OK) return oom(err);
            continue;
        }
        size_t len;
        const uint8_t *s = fl_array_get_bytes(&args[0], i, &len);
        uint8_t *dst;
        if (fl_array_append_uninit(out, len, &dst) != FL_OK) return oom(err);
        /* ASCII letters only: byte-wise case mapping never breaks UTF-8 sequences. */
        for (size_t k = 0; k < len; k++) {
            uint8_t c = s[k];
            dst[k] = upper ? (c >= 'a' && c <= 'z' ? (uint8_t)(c - 32) : c) : (c >= 'A' && c <= 'Z' ? (uint8_t)(c + 32) : c);
        }
    }
    return FL_OK;
}

static int bind_length(fl_expr_node *n, fl_error *err) {
    if (!arg_is(n, 0, FL_EXPR_T_STRING)) return bad_arg(n, 0, "a string", err);
    n->type = FL_EXPR_T_INT;
    return FL_OK;
}

static int eval_length(const fl_expr_node *n, const fl_array *args, int64_t rows, fl_array *out, fl_error *err) {
    (void)n;
    if (new_fixed(out, FL_TYPE_INT64, rows) != FL_OK) return oom(err);
    for (int64_t i = 0; i < rows; i++) {
        if (isnull(&args[0], i)) {
            if (set_null(out, i) != FL_OK) return oom(err);
            continue;
        }
        size_t len;
        const uint8_t *s = fl_array_get_bytes(&args[0], i, &len);
        int64_t chars = 0;
        for (size_t k = 0; k < len; k++) chars += (s[k] & 0xC0) != 0x80;
        ((int64_t *)out->values)[i] = chars;
    }
    return FL_OK;
}

static int bind_str_pred(fl_expr_node *n, fl_error *err) {
    for (int i = 0; i < 2; i++)
        if (!arg_is(n, i, FL_EXPR_T_STRING)) return bad_arg(n, i, "a string", err);
    n->type = FL_EXPR_T_BOOL;
    return FL_OK;
}

static int eval_str_pred(const fl_expr_node *n, const fl_array *args, int64_t rows, fl_array *out, fl_error *err) {
    int mode = n->name[0] == 's' ? 0 : n->name[0] == 'e' ? 1 : 2; /* starts_with, ends_with, contains */
    if (new_fixed(out, FL_TYPE_BOOL, rows) != FL_OK) return oom(err);
    for (int64_t i = 0; i < rows; i++) {
        if (isnull(&args[0], i) || isnull(&args[1], i)) {
            if (set_null(out, i) != FL_OK) return oom(err);
            continue;
        }
        size_t sl, pl;
        const uint8_t *s = fl_array_get_bytes(&args[0], ix(&args[0], i), &sl), *p = fl_array_get_bytes(&args[1], ix(&args[1], i), &pl);
        bool r = false;
        if (pl == 0) r = true;
        else if (pl <= sl) {
            if (mode == 0) r = !memcmp(s, p, pl);
            else if (mode == 1) r = !memcmp(s + sl - pl, p, pl);
            else
                for (size_t k = 0; !r && k + pl <= sl; k++) r = !memcmp(s + k, p, pl);
        }
        fl_bit_set(out->values, i, r);
    }
    return FL_OK;
}

static int bind_strpos(fl_expr_node *n, fl_error *err) {
    for (int i = 0; i < 2; i++)
        if (!arg_is(n, i, FL_EXPR_T_STRING)) return bad_arg(n, i, "a string", err);
    n->type = FL_EXPR_T_INT;
    return FL_OK;
}

/* strpos(s, sub): 1-based character position of the first occurrence, 0 when absent (PostgreSQL). */
static int eval_strpos(const fl_expr_node *n, const fl_array *args, int64_t rows, fl_array *out, fl_error *err) {
    (void)n;
    if (new_fixed(out, FL_TYPE_INT64, rows) != FL_OK) return oom(err);
    for (int64_t i = 0; i < rows; i++) {
        if (isnull(&args[0], i) || isnull(&args[1], i)) {
            if (set_null(out, i) != FL_OK) return oom(err);
            continue;
        }
        size_t sl, pl;
        const uint8_t *s = fl_array_get_bytes(&args[0], ix(&args[0], i), &sl), *p = fl_array_get_bytes(&args[1], ix(&args[1], i), &pl);
        int64_t pos = 0, chars = 0;
        for (size_t k = 0; k + pl <= sl; k++) {
            if ((s[k] & 0xC0) != 0x80) chars++;
            if (!pl || !memcmp(s + k, p, pl)) {
                pos = pl ? chars : 1;
                break;
            }
        }
        ((int64_t *)out->values)[i] = pos;
    }
    return FL_OK;
}

static int bind_regexp(fl_expr_node *n, fl_error *err) {
    for (int i = 0; i < n->n_args; i++)
        if (!arg_is(n, i, FL_EXPR_T_STRING)) return bad_arg(n, i, "a string", err);
    n->type = FL_EXPR_T_BOOL;
    return FL_OK;
}

/* A compiled POSIX extended regular expression, reused while the pattern and flags stay the same. */
typedef struct regex_cache {
    bool ready;
    regex_t re;
    char *pattern;
    bool icase;
} regex_cache;

/*
 * Patterns the C library compiles in bounded time and memory. glibc's regcomp copies the subtree of every
 * repetition, so stacked repetitions ("a+++…", "(x{9}){9}{9}") grow exponentially: a filter must not be
 * able to exhaust memory. Refused: repetition of a repetition, more than REGEX_MAX_BOUNDS {m,n} bounds,
 * more than REGEX_MAX_BYTES bytes.
 */
#define REGEX_MAX_BYTES 1024
#define REGEX_MAX_BOUNDS 8
static bool regex_tame(const char *p) {
    if (strlen(p) > REGEX_MAX_BYTES) return false;
    int bounds = 0;
    bool after_repeat = false;      /* the previous item was a repetition operator */
    for (size_t i = 0; p[i]; i++) {
        char ch = p[i];
        if (ch == '\\' && p[i + 1]) {
            i++;
            after_repeat = false;
            continue;
        }
        if (ch == '[') {
            /* A bracket expression is one item: skip to its closing ']' (a leading ']' is literal). */
            size_t j = i + 1;
            if (p[j] == '^') j++;
            if (p[j] == ']') j++;
            while (p[j] && p[j] != ']') j++;
            i = p[j] ? j : i;
            after_repeat = false;
            continue;
        }
        bool repeat = ch == '*' || ch == '+' || ch == '?' || ch == '{';
        if (repeat && after_repeat) return false;
        if (ch == '{') {
            if (++bounds > REGEX_MAX_BOUNDS) return false;
            while (p[i] && p[i] != '}') i++;
            if (!p[i]) return true; /* regcomp reports the unclosed bound */
        }
        /* A repeated group counts as a repetition too: "(a+)+" is refused like "a++". */
        after_repeat = repeat || (ch == ')' && i > 0 && (p[i - 1] == '*' || p[i - 1] == '+' || p[i - 1] == '?' || p[i - 1] == '}'));
    }
    return true;
}

static int regex_prepare(regex_cache *c, const fl_expr_node *n, const uint8_t *p, size_t pl, bool icase, fl_error *err) {
    if (c->ready && c->icase == icase && strlen(c->pattern) == pl && !memcmp(c->pattern, p, pl)) return FL_OK;
    if (c->ready) regfree(&c->re);
    fl_free(c->pattern);
    c->ready = false;
    if (!(c->pattern = fl_malloc(pl + 1))) return oom(err);
    memcpy(c->pattern, p, pl);
    c->pattern[pl] = '\0';
    if (memchr(p, '\0', pl)) return fl_error_set(err, FL_EINVAL, "%s: the pattern contains a NUL byte (position %d)", n->name, (int)n->args[1]->pos);
    if (!regex_tame(c->pattern))
        return fl_error_set(err, FL_EINVAL, "%s: the pattern is too complex (at most %d bytes, %d bounded repetitions, no repetition of a repetition) (position %d)",
                            n->name, REGEX_MAX_BYTES, REGEX_MAX_BOUNDS, (int)(n->args[1]->pos ? n->args[1]->pos : n->pos));
    int rc = regcomp(&c->re, c->pattern, REG_EXTENDED | REG_NOSUB | (icase ? REG_ICASE : 0));
    if (rc != 0) {
        char why[128];
        regerror(rc, &c->re, why, sizeof why);
        return fl_error_set(err, FL_EINVAL, "%s: invalid regular expression '%s': %s (position %d)", n->name, c->pattern, why,
                            (int)(n->args[1]->pos ? n->args[1]->pos : n->pos));
    }
    c->ready = true;
    c->icase = icase;
    return FL_OK;
}

/*
 * regexp_match / regexp_like (s, pattern [, flags]): true when the POSIX extended pattern matches part of
 * s; flags "i" ignores case. Returns a boolean, as LanceDB's filters coerce regexp_match to one.
 */
static int eval_regexp(const fl_expr_node *n, const fl_array *args, int64_t rows, fl_array *out, fl_error *err) {
    if (new_fixed(out, FL_TYPE_BOOL, rows) != FL_OK) return oom(err);
    regex_cache cache = {0};
    int rc = FL_OK;
    char *subject = NULL;
    size_t cap = 0;
    for (int64_t i = 0; rc == FL_OK && i < rows; i++) {
        bool null = isnull(&args[0], i) || isnull(&args[1], i) || (n->n_args > 2 && isnull(&args[2], i));
        if (null) {
            if (set_null(out, i) != FL_OK) rc = oom(err);
            continue;
        }
        size_t sl, pl, fl = 0;
        const uint8_t *s = fl_array_get_bytes(&args[0], ix(&args[0], i), &sl), *p = fl_array_get_bytes(&args[1], ix(&args[1], i), &pl), *f = NULL;
        if (n->n_args > 2) f = fl_array_get_bytes(&args[2], ix(&args[2], i), &fl);
        bool icase = false;
        for (size_t k = 0; k < fl && rc == FL_OK; k++) {
            if (f[k] == 'i') icase = true;
            else if (f[k] != 'c') rc = fl_error_set(err, FL_EINVAL, "%s: unknown flag '%c' (position %d)", n->name, f[k], (int)n->args[2]->pos);
        }
        if (rc == FL_OK) rc = regex_prepare(&cache, n, p, pl, icase, err);
        if (rc != FL_OK) break;
        if (sl + 1 > cap) {
            char *b = fl_realloc(subject, sl + 1);
            if (!b) {
                rc = oom(err);
                break;
            }
            subject = b, cap = sl + 1;
        }
        memcpy(subject, s, sl);
        subject[sl] = '\0';
        fl_bit_set(out->values, i, regexec(&cache.re, subject, 0, NULL, 0) == 0);
    }
    if (cache.ready) regfree(&cache.re);
    fl_free(cache.pattern);
    fl_free(subject);
    return rc;
}

static int bind_concat(fl_expr_node *n, fl_error *err) {
    for (int i = 0; i < n->n_args; i++)
        if (!arg_is(n, i, FL_EXPR_T_STRING)) return bad_arg(n, i, "a string", err);
    n->type = FL_EXPR_T_STRING;
    return FL_OK;
}

/* a || b is NULL when either is NULL (SQL); concat(a, b, …) skips NULL arguments (PostgreSQL, DataFusion). */
static int eval_concat(const fl_expr_node *n, const fl_array *args, int64_t rows, fl_array *out, fl_error *err) {
    bool strict = n->name[0] == '|';
    fl_field f = {0};
    f.type = FL_TYPE_STRING;
    if (fl_array_init(out, &f) != FL_OK) return oom(err);
    for (int64_t i = 0; i < rows; i++) {
        size_t total = 0;
        bool null = false;
        for (int k = 0; k < n->n_args; k++) {
            if (n->args[k]->type == FL_EXPR_T_NULL || isnull(&args[k], i)) {
                null = true;
                continue;
            }
            size_t l;
            fl_array_get_bytes(&args[k], ix(&args[k], i), &l);
            total += l;
        }
        if (null && strict) {
            if (fl_array_append_null(out) != FL_OK) return oom(err);
            continue;
        }
        uint8_t *dst;
        if (fl_array_append_uninit(out, total, &dst) != FL_OK) return oom(err);
        for (int k = 0; k < n->n_args; k++) {
            if (n->args[k]->type == FL_EXPR_T_NULL || isnull(&args[k], i)) continue;
            size_t l;
            const uint8_t *p = fl_array_get_bytes(&args[k], ix(&args[k], i), &l);
            if (l) memcpy(dst, p, l);
            dst += l;
        }
    }
    return FL_OK;
}

/* ---- lists ---- */

static bool elem_equal(const fl_array *a, int64_t i, const fl_array *b, int64_t j) {
    if (fl_array_is_null(a, i) || fl_array_is_null(b, j)) return false;
    fl_type_id ta = a->type, tb = b->type;
    bool ia = fl_type_is_integer(ta) || ta == FL_TYPE_TIMESTAMP_MS, ib = fl_type_is_integer(tb) || tb == FL_TYPE_TIMESTAMP_MS;
    if (ia && ib) {
        bool ua = fl_type_is_integer(ta) && !fl_type_is_signed(ta), ub = fl_type_is_integer(tb) && !fl_type_is_signed(tb);
        if (ua != ub) {
            /* A negative signed value never equals an unsigned one. */
            int64_t s = ua ? fl_array_get_int(b, j) : fl_array_get_int(a, i);
            if (s < 0) return false;
        }
        uint64_t x = ua ? fl_array_get_uint(a, i) : (uint64_t)fl_array_get_int(a, i);
        uint64_t y = ub ? fl_array_get_uint(b, j) : (uint64_t)fl_array_get_int(b, j);
        return x == y;
    }
    if ((ia || fl_type_is_float(ta)) && (ib || fl_type_is_float(tb))) return fl_array_get_float(a, i) == fl_array_get_float(b, j);
    if ((ta == FL_TYPE_STRING || ta == FL_TYPE_BINARY) && ta == tb) {
        size_t la, lb;
        const uint8_t *pa = fl_array_get_bytes(a, i, &la), *pb = fl_array_get_bytes(b, j, &lb);
        return la == lb && (la == 0 || !memcmp(pa, pb, la));
    }
    if (ta == FL_TYPE_BOOL && tb == FL_TYPE_BOOL) return fl_array_get_bool(a, i) == fl_array_get_bool(b, j);
    return false;
}

static fl_expr_type elem_type(const fl_field *f) {
    if (!f) return FL_EXPR_T_NULL;
    if (f->type == FL_TYPE_BOOL) return FL_EXPR_T_BOOL;
    if (fl_type_is_integer(f->type)) return FL_EXPR_T_INT;
    if (fl_type_is_float(f->type)) return FL_EXPR_T_FLOAT;
    if (f->type == FL_TYPE_STRING) return FL_EXPR_T_STRING;
    if (f->type == FL_TYPE_BINARY) return FL_EXPR_T_BINARY;
    if (f->type == FL_TYPE_TIMESTAMP_MS) return FL_EXPR_T_TIMESTAMP;
    return FL_EXPR_T_OTHER;
}

static bool same_kind(fl_expr_type a, fl_expr_type b) {
    bool na = a == FL_EXPR_T_INT || a == FL_EXPR_T_FLOAT, nb = b == FL_EXPR_T_INT || b == FL_EXPR_T_FLOAT;
    return a == FL_EXPR_T_NULL || b == FL_EXPR_T_NULL || a == b || (na && nb) || (a == FL_EXPR_T_TIMESTAMP && b == FL_EXPR_T_INT);
}

static int bind_array_has(fl_expr_node *n, fl_error *err) {
    if (!arg_is(n, 0, FL_EXPR_T_LIST)) return bad_arg(n, 0, "a list", err);
    fl_expr_type et = elem_type(n->args[0]->elem), nt = n->args[1]->type;
    if (nt == FL_EXPR_T_LIST || nt == FL_EXPR_T_OTHER || et == FL_EXPR_T_OTHER || !same_kind(et, nt))
        return fl_error_set(err, FL_EINVAL, "%s: cannot look for %s in a list of %s (position %d)", n->name, fl_expr_type_name(nt),
                            fl_expr_type_name(et), (int)(n->args[1]->pos ? n->args[1]->pos : n->pos));
    n->type = FL_EXPR_T_BOOL;
    return FL_OK;
}

static int eval_array_has(const fl_expr_node *n, const fl_array *args, int64_t rows, fl_array *out, fl_error *err) {
    (void)n;
    if (new_fixed(out, FL_TYPE_BOOL, rows) != FL_OK) return oom(err);
    for (int64_t i = 0; i < rows; i++) {
        if (isnull(&args[0], i) || isnull(&args[1], i)) {
            if (set_null(out, i) != FL_OK) return oom(err);
            continue;
        }
        int64_t s, e;
        fl_array_get_list(&args[0], ix(&args[0], i), &s, &e);
        const fl_array *items = &args[0].children[0], *needle = &args[1];
        int64_t at = ix(needle, i);
        bool r = false;
        if (items->type == FL_TYPE_STRING && needle->type == FL_TYPE_STRING) {
            /* Strings, the common case (labels): lengths first, then bytes. */
            size_t nl;
            const uint8_t *nb = fl_array_get_bytes(needle, at, &nl);
            const uint8_t *ivalid = items->validity && items->null_count ? items->validity : NULL;
            for (int64_t k = s; !r && k < e; k++) {
                int64_t len = items->offsets[k + 1] - items->offsets[k];
                const uint8_t *item = (const uint8_t *)items->values + items->offsets[k];
                r = (!ivalid || fl_bit_get(ivalid, k)) && len == (int64_t)nl && (nl == 0 || (item[0] == nb[0] && !memcmp(item, nb, nl)));
            }
        } else {
            for (int64_t k = s; !r && k < e; k++) r = elem_equal(items, k, needle, at);
        }
        fl_bit_set(out->values, i, r);
    }
    return FL_OK;
}

static int bind_array_has_any(fl_expr_node *n, fl_error *err) {
    for (int i = 0; i < 2; i++)
        if (!arg_is(n, i, FL_EXPR_T_LIST)) return bad_arg(n, i, "a list", err);
    fl_expr_type a = elem_type(n->args[0]->elem), b = elem_type(n->args[1]->elem);
    if (n->args[1]->kind == FL_EXPR_LIST_LITERAL && n->args[1]->n_args == 0) b = FL_EXPR_T_NULL;
    if (a == FL_EXPR_T_OTHER || b == FL_EXPR_T_OTHER || !(same_kind(a, b) || same_kind(b, a)))
        return fl_error_set(err, FL_EINVAL, "%s: cannot compare a list of %s with a list of %s (position %d)", n->name, fl_expr_type_name(a),
                            fl_expr_type_name(b), (int)n->pos);
    n->type = FL_EXPR_T_BOOL;
    return FL_OK;
}

/*
 * array_has_any/array_has_all of a string list column against one constant list of at most 64 strings
 * (the common case: labels): the needles are taken apart once, and each row's items are walked once,
 * marking which needles they match. Returns false when the shape does not fit.
 */
static bool has_any_constant_strings(bool all, const fl_array *args, int64_t rows, fl_array *out, int *rc) {
    const fl_array *list = &args[0], *nlist = &args[1];
    /* A NULL argument arrives as an all-NULL column without children: the general path takes it. */
    if (rows <= 1 || nlist->length != 1 || list->length != rows || list->type != FL_TYPE_LIST || nlist->type != FL_TYPE_LIST) return false;
    const fl_array *items = &list->children[0], *needles = &nlist->children[0];
    if (items->type != FL_TYPE_STRING || needles->type != FL_TYPE_STRING) return false;
    *rc = FL_OK;
    if (isnull(nlist, 0)) {
        for (int64_t i = 0; i < rows; i++)
            if (set_null(out, i) != FL_OK) return *rc = FL_ENOMEM, true;
        return true;
    }
    int64_t ns, ne;
    fl_array_get_list(nlist, 0, &ns, &ne);
    if (ne - ns > 64) return false;
    int32_t k = 0;
    bool null_needle = false;
    const uint8_t *nb[64];
    int64_t nl[64];
    for (int64_t j = ns; j < ne; j++) {
        if (fl_array_is_null(needles, j)) {
            null_needle = true; /* never found */
            continue;
        }
        nl[k] = needles->offsets[j + 1] - needles->offsets[j];
        nb[k++] = (const uint8_t *)needles->values + needles->offsets[j];
    }
    uint64_t want = k == 64 ? ~0ull : (1ull << k) - 1;
    const int64_t *off = items->offsets, *loff = list->offsets;
    const uint8_t *data = items->values, *ivalid = items->validity && items->null_count ? items->validity : NULL;
    for (int64_t i = 0; i < rows; i++) {
        if (isnull(list, i)) {
            if (set_null(out, i) != FL_OK) return *rc = FL_ENOMEM, true;
            continue;
        }
        uint64_t seen = 0;
        for (int64_t m = loff[i]; m < loff[i + 1]; m++) {
            if (ivalid && !fl_bit_get(ivalid, m)) continue;
            int64_t len = off[m + 1] - off[m];
            const uint8_t *item = data + off[m];
            for (int32_t j = 0; j < k; j++)
                if (nl[j] == len && (len == 0 || (item[0] == nb[j][0] && !memcmp(item, nb[j], (size_t)len)))) seen |= 1ull << j;
            if (!all && seen) break;
        }
        bool r = all ? !null_needle && seen == want : seen != 0;
        if (r) fl_bit_set(out->values, i, true);
    }
    return true;
}

static int eval_array_has_any(const fl_expr_node *n, const fl_array *args, int64_t rows, fl_array *out, fl_error *err) {
    bool all = !strcmp(n->name, "array_has_all");
    if (new_fixed(out, FL_TYPE_BOOL, rows) != FL_OK) return oom(err);
    int fast_rc;
    if (has_any_constant_strings(all, args, rows, out, &fast_rc)) return fast_rc == FL_OK ? FL_OK : oom(err);
    for (int64_t i = 0; i < rows; i++) {
        if (isnull(&args[0], i) || isnull(&args[1], i)) {
            if (set_null(out, i) != FL_OK) return oom(err);
            continue;
        }
        int64_t s, e, ns, ne;
        fl_array_get_list(&args[0], ix(&args[0], i), &s, &e);
        fl_array_get_list(&args[1], ix(&args[1], i), &ns, &ne);
        const fl_array *items = &args[0].children[0], *needles = &args[1].children[0];
        bool strings = items->type == FL_TYPE_STRING && needles->type == FL_TYPE_STRING;
        bool r = all;
        for (int64_t k = ns; k < ne && r == all; k++) {
            bool found = false;
            if (strings) {
                /* A NULL needle is never found (so array_has_all with one is false). */
                if (fl_array_is_null(needles, k)) {
                    r = false;
                    continue;
                }
                int64_t nl = needles->offsets[k + 1] - needles->offsets[k];
                const uint8_t *nb = (const uint8_t *)needles->values + needles->offsets[k];
                for (int64_t m = s; !found && m < e; m++)
                    found = !fl_array_is_null(items, m) && items->offsets[m + 1] - items->offsets[m] == nl &&
                            (nl == 0 || !memcmp((const uint8_t *)items->values + items->offsets[m], nb, (size_t)nl));
            } else {
                for (int64_t m = s; !found && m < e; m++) found = elem_equal(items, m, needles, k);
            }
            r = found;
        }
        fl_bit_set(out->values, i, r);
    }
    return FL_OK;
}

static int bind_array_length(fl_expr_node *n, fl_error *err) {
    if (!arg_is(n, 0, FL_EXPR_T_LIST)) return bad_arg(n, 0, "a list", err);
    n->type = FL_EXPR_T_INT;
    return FL_OK;
}

static int eval_array_length(const fl_expr_node *n, const fl_array *args, int64_t rows, fl_array *out, fl_error *err) {
    (void)n;
    if (new_fixed(out, FL_TYPE_INT64, rows) != FL_OK) return oom(err);
    for (int64_t i = 0; i < rows; i++) {
        if (isnull(&args[0], i)) {
            if (set_null(out, i) != FL_OK) return oom(err);
            continue;
        }
        int64_t s, e;
        fl_array_get_list(&args[0], i, &s, &e);
        ((int64_t *)out->values)[i] = e - s;
    }
    return FL_OK;
}

/* ---- general ---- */

static int bind_coalesce(fl_expr_node *n, fl_error *err) {
    fl_expr_type t = FL_EXPR_T_NULL;
    for (int32_t i = 0; i < n->n_args; i++) {
        fl_expr_type a = n->args[i]->type;
        if (a == FL_EXPR_T_LIST || a == FL_EXPR_T_OTHER || a == FL_EXPR_T_BINARY) return bad_arg(n, i, "a scalar", err);
        if (a == FL_EXPR_T_NULL) continue;
        if (t == FL_EXPR_T_NULL) t = a;
        else if (t == FL_EXPR_T_INT && a == FL_EXPR_T_FLOAT) t = a;
        else if (!(t == a || (t == FL_EXPR_T_FLOAT && a == FL_EXPR_T_INT)))
            return fl_error_set(err, FL_EINVAL, "coalesce: cannot mix %s and %s (position %d)", fl_expr_type_name(t), fl_expr_type_name(a),
                                (int)(n->args[i]->pos ? n->args[i]->pos : n->pos));
    }
    n->type = t;
    return FL_OK;
}

static int eval_coalesce(const fl_expr_node *n, const fl_array *args, int64_t rows, fl_array *out, fl_error *err) {
    fl_field f = {0};
    f.type = n->type == FL_EXPR_T_STRING ? FL_TYPE_STRING : n->type == FL_EXPR_T_FLOAT ? FL_TYPE_FLOAT64
             : n->type == FL_EXPR_T_INT ? FL_TYPE_INT64 : n->type == FL_EXPR_T_TIMESTAMP ? FL_TYPE_TIMESTAMP_MS : FL_TYPE_BOOL;
    if (fl_array_init(out, &f) != FL_OK) return oom(err);
    for (int64_t i = 0; i < rows; i++) {
        int rc = FL_OK;
        int32_t k = 0;
        while (k < n->n_args && (n->args[k]->type == FL_EXPR_T_NULL || isnull(&args[k], i))) k++;
        if (k == n->n_args) rc = fl_array_append_null(out);
        else if (f.type == FL_TYPE_STRING) {
            size_t len;
            const uint8_t *s = fl_array_get_bytes(&args[k], i, &len);
            rc = fl_array_append_bytes(out, s, len);
        } else if (f.type == FL_TYPE_FLOAT64) rc = fl_array_append_float(out, fl_array_get_float(&args[k], i));
        else if (f.type == FL_TYPE_BOOL) rc = fl_array_append_bool(out, fl_array_get_bool(&args[k], i));
        else rc = fl_array_append_int(out, fl_array_get_int(&args[k], i));
        if (rc != FL_OK) return oom(err);
    }
    return FL_OK;
}

static int bind_abs(fl_expr_node *n, fl_error *err) {
    fl_expr_type a = n->args[0]->type;
    if (a != FL_EXPR_T_INT && a != FL_EXPR_T_FLOAT && a != FL_EXPR_T_NULL) return bad_arg(n, 0, "a number", err);
    n->type = a == FL_EXPR_T_FLOAT ? FL_EXPR_T_FLOAT : FL_EXPR_T_INT;
    return FL_OK;
}

static int eval_abs(const fl_expr_node *n, const fl_array *args, int64_t rows, fl_array *out, fl_error *err) {
    bool is_float = n->type == FL_EXPR_T_FLOAT;
    if (new_fixed(out, is_float ? FL_TYPE_FLOAT64 : FL_TYPE_INT64, rows) != FL_OK) return oom(err);
    for (int64_t i = 0; i < rows; i++) {
        if (n->args[0]->type == FL_EXPR_T_NULL || isnull(&args[0], i)) {
            if (set_null(out, i) != FL_OK) return oom(err);
        } else if (is_float) {
            double d = ((const double *)args[0].values)[i];
            ((double *)out->values)[i] = d < 0 ? -d : d;
        } else {
            int64_t v = ((const int64_t *)args[0].values)[i];
            if (v == INT64_MIN) return fl_error_set(err, FL_EINVAL, "integer overflow in abs (position %d)", (int)n->pos);
            ((int64_t *)out->values)[i] = v < 0 ? -v : v;
        }
    }
    return FL_OK;
}

static int bind_round(fl_expr_node *n, fl_error *err) {
    fl_expr_type a = n->args[0]->type;
    if (a != FL_EXPR_T_INT && a != FL_EXPR_T_FLOAT && a != FL_EXPR_T_NULL) return bad_arg(n, 0, "a number", err);
    if (n->n_args > 1 && !arg_is(n, 1, FL_EXPR_T_INT)) return bad_arg(n, 1, "an integer", err);
    n->type = a == FL_EXPR_T_INT ? FL_EXPR_T_INT : FL_EXPR_T_FLOAT;
    return FL_OK;
}

/* round(x [, digits]): half away from zero; integers stay integers (negative digits round to tens…). */
static int eval_round(const fl_expr_node *n, const fl_array *args, int64_t rows, fl_array *out, fl_error *err) {
    bool is_float = n->type == FL_EXPR_T_FLOAT;
    if (new_fixed(out, is_float ? FL_TYPE_FLOAT64 : FL_TYPE_INT64, rows) != FL_OK) return oom(err);
    for (int64_t i = 0; i < rows; i++) {
        bool null = n->args[0]->type == FL_EXPR_T_NULL || isnull(&args[0], i) ||
                    (n->n_args > 1 && (n->args[1]->type == FL_EXPR_T_NULL || isnull(&args[1], i)));
        if (null) {
            if (set_null(out, i) != FL_OK) return oom(err);
            continue;
        }
        int64_t digits = n->n_args > 1 ? ((const int64_t *)args[1].values)[i] : 0;
        if (digits > 18) digits = 18;
        if (digits < -18) digits = -18;
        if (is_float) {
            double x = ((const double *)args[0].values)[i], scale = pow(10.0, (double)(digits < 0 ? -digits : digits));
            double r = digits >= 0 ? round(x * scale) / scale : round(x / scale) * scale;
            ((double *)out->values)[i] = isfinite(r) ? r : x;
            continue;
        }
        int64_t v = ((const int64_t *)args[0].values)[i];
        if (digits < 0) {
            int64_t unit = 1;
            for (int64_t k = 0; k < -digits; k++) unit *= 10;
            int64_t q = v / unit, rem = v % unit;
            if (rem >= unit - rem) q++;
            else if (-rem >= unit + rem) q--;
            if (q > INT64_MAX / unit || q < INT64_MIN / unit) return fl_error_set(err, FL_EINVAL, "integer overflow in round (position %d)", (int)n->pos);
            v = q * unit;
        }
        ((int64_t *)out->values)[i] = v;
    }
    return FL_OK;
}

static const fl_expr_function registry[] = {
    {"lower", 1, 1, bind_str_to_str, eval_case, false},
    {"upper", 1, 1, bind_str_to_str, eval_case, false},
    {"length", 1, 1, bind_length, eval_length, false},
    {"starts_with", 2, 2, bind_str_pred, eval_str_pred, true},
    {"ends_with", 2, 2, bind_str_pred, eval_str_pred, true},
    {"contains", 2, 2, bind_str_pred, eval_str_pred, true},
    {"array_has", 2, 2, bind_array_has, eval_array_has, true},
    {"array_contains", 2, 2, bind_array_has, eval_array_has, true},
    {"array_has_any", 2, 2, bind_array_has_any, eval_array_has_any, true},
    {"array_has_all", 2, 2, bind_array_has_any, eval_array_has_any, true},
    {"array_length", 1, 1, bind_array_length, eval_array_length, false},
    {"cardinality", 1, 1, bind_array_length, eval_array_length, false},
    {"coalesce", 1, -1, bind_coalesce, eval_coalesce, false},
    {"abs", 1, 1, bind_abs, eval_abs, false},
    {"char_length", 1, 1, bind_length, eval_length, false},
    {"character_length", 1, 1, bind_length, eval_length, false},
    {"strpos", 2, 2, bind_strpos, eval_strpos, true},
    {"regexp_match", 2, 3, bind_regexp, eval_regexp, true},
    {"regexp_like", 2, 3, bind_regexp, eval_regexp, true},
    {"round", 1, 2, bind_round, eval_round, false},
    {"concat", 1, -1, bind_concat, eval_concat, true},
    {"||", 2, 2, bind_concat, eval_concat, true},
};

const fl_expr_function *fl_expr_function_find(const char *name) {
    for (size_t i = 0; i < sizeof registry / sizeof registry[0]; i++)
        if (!strcmp(registry[i].name, name)) return &registry[i];
    return NULL;
}

const fl_expr_function *fl_expr_function_at(int i) {
    return i >= 0 && (size_t)i < sizeof registry / sizeof registry[0] ? &registry[i] : NULL;
}
