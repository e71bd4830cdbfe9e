/*
 * parse.c — the SQL front end: libpg_query parses the filter (wrapped as a SELECT), the JSON parse tree is
 * read with json.c and translated node by node into the IR of expr.h, binding columns, functions and types
 * bottom-up so that every error names the position of the construct at fault. The translator itself
 * (fl_xlate, translate.h) also serves whole statements: select.c calls it for every clause, with a call
 * hook for aggregates and unnest and a position map for its prepared text.
 *
 * Invariants:
 *  1. The wrapped statement must be exactly one plain SELECT whose only extra is the WHERE clause; text
 *     that closes the expression early ("x = 1; DROP ...", "x ORDER BY y") is refused.
 *  2. Numeric literals are re-read from the source text at their location: libpg_query's JSON drops
 *     negative integer values, and big integers arrive as float text.
 */
#include "translate.h"
#include "../batch/jsonl.h"

#include <ctype.h>
#include <errno.h>
#include <pg_query.h>
#include <stdlib.h>
#include <strings.h>

#define PREFIX "SELECT 1 FROM t WHERE "
#define PREFIX_LEN ((int)sizeof PREFIX - 1)

typedef fl_xlate translator;

int32_t fl_xlate_pos(const fl_xlate *x, int64_t location) {
    if (location < x->user_start) return 0;
    int64_t shift = 0;
    for (int i = 0; i < x->n_inserts; i++) {
        if (location >= x->insert_at[i] + x->insert_len[i]) shift += x->insert_len[i];
        else if (location >= x->insert_at[i]) shift += location - x->insert_at[i]; /* inside inserted text: its start */
    }
    return (int32_t)(location - shift - x->user_start + 1);
}

int fl_syntax_error(fl_error *err, const char *message, int32_t pos) {
    size_t len = strlen(message);
    if (len <= 160) return fl_error_set(err, FL_EINVAL, "%s (position %d)", message, (int)pos);
    /* Keep the start of the quoted text, end on a character boundary and close the quote. */
    size_t keep = 150;
    while (keep > 0 && ((unsigned char)message[keep] & 0xC0) == 0x80) keep--;
    return fl_error_set(err, FL_EINVAL, "%.*s...\" (position %d)", (int)keep, message, (int)pos);
}

bool fl_xlate_insert(fl_xlate *x, int64_t at, int64_t len) {
    if (x->n_inserts == FL_XLATE_MAX_INSERTS) return false;
    int k = x->n_inserts++;
    while (k > 0 && x->insert_at[k - 1] >= at) {
        x->insert_at[k] = x->insert_at[k - 1] + len;
        x->insert_len[k] = x->insert_len[k - 1];
        k--;
    }
    x->insert_at[k] = at;
    x->insert_len[k] = len;
    return true;
}

/* Past the quoted item (string, E'' or $$ string, quoted name, comment) starting at s[i], or i when none
 * starts there. */
static size_t past_quoted(const char *s, size_t i) {
    if (s[i] == '-' && s[i + 1] == '-') {
        while (s[i] && s[i] != '\n') i++;
        return i;
    }
    if (s[i] == '/' && s[i + 1] == '*') {
        for (i += 2; s[i] && !(s[i] == '*' && s[i + 1] == '/'); i++) {}
        return s[i] ? i + 2 : i;
    }
    bool after_name = i > 0 && (isalnum((unsigned char)s[i - 1]) || s[i - 1] == '_' || s[i - 1] == '$');
    if (s[i] == '$' && !after_name) {
        /* $tag$...$tag$ (tag possibly empty): ends at the same delimiter, nothing inside is special. */
        size_t t = i + 1;
        while (isalpha((unsigned char)s[t]) || s[t] == '_' || (t > i + 1 && isdigit((unsigned char)s[t]))) t++;
        if (s[t] != '$') return i;
        size_t tag = t + 1 - i;
        const char *end = strchr(s + t + 1, '$');
        while (end && strncmp(end, s + i, tag)) end = strchr(end + 1, '$');
        return end ? (size_t)(end - s) + tag : strlen(s);
    }
    /* E'...' (not the end of a name): a backslash escapes the next character, a quote too. */
    bool escapes = (s[i] == 'E' || s[i] == 'e') && s[i + 1] == '\'' && !after_name;
    if (escapes) i++;
    if (s[i] != '\'' && s[i] != '"') return i;
    char q = s[i];
    for (i++; s[i]; i++) {
        if (escapes && s[i] == '\\' && s[i + 1]) {
            i++;
            continue;
        }
        if (s[i] != q) continue;
        if (s[i + 1] != q) return i + 1;
        i++;
    }
    return i;
}

/* Whether the word ending at s[end] (inclusive) is a reserved keyword that an expression may follow: a
 * '[' after it opens a list literal, as no unquoted column can be named so. */
static bool keyword_before(const char *s, size_t start, size_t end) {
    static const char *const words[] = {"SELECT", "DISTINCT", "WHERE", "AND", "OR", "NOT", "HAVING", "WHEN", "THEN", "ELSE", "CASE"};
    size_t b = end + 1;
    while (b > start && (isalnum((unsigned char)s[b - 1]) || s[b - 1] == '_')) b--;
    if (b > start && (s[b - 1] == '.' || s[b - 1] == '$')) return false;
    for (size_t k = 0; k < sizeof words / sizeof words[0]; k++)
        if (strlen(words[k]) == end + 1 - b && !strncasecmp(s + b, words[k], end + 1 - b)) return true;
    return false;
}

int fl_xlate_bracket_arrays(fl_xlate *x, char **sql) {
    static const char word[] = "ARRAY";
    const int64_t wl = (int64_t)sizeof word - 1;
    char prev = 0;                 /* the last significant character before s[i] */
    size_t prev_at = 0;            /* its index, when it ends a word */
    for (size_t i = (size_t)x->user_start; (*sql)[i];) {
        char *s = *sql;
        size_t after = past_quoted(s, i);
        if (after != i) {
            prev = s[i] == '-' || s[i] == '/' ? prev : '"';
            i = after;
            continue;
        }
        char ch = s[i];
        bool word_before = isalnum((unsigned char)prev) || prev == '_';
        if (ch == '[' && (word_before ? keyword_before(s, (size_t)x->user_start, prev_at)
                                      : !(prev == ')' || prev == ']' || prev == '"' || prev == '$'))) {
            size_t len = strlen(s);
            char *grown = fl_malloc(len + (size_t)wl + 1);
            if (!grown) return fl_error_set(x->err, FL_ENOMEM, "out of memory");
            memcpy(grown, s, i);
            memcpy(grown + i, word, (size_t)wl);
            memcpy(grown + i + (size_t)wl, s + i, len - i + 1);
            if (!fl_xlate_insert(x, (int64_t)i, wl)) {
                fl_free(grown);
                return fl_xlate_error(x, fl_xlate_pos(x, (int64_t)i), "too many list literals");
            }
            fl_free(*sql);
            *sql = grown;
            i += (size_t)wl;
        }
        if (!isspace((unsigned char)ch)) prev = ch, prev_at = i;
        i++;
    }
    return FL_OK;
}

static int32_t user_pos(const translator *t, int64_t location) { return fl_xlate_pos(t, location); }

static int vterr(translator *t, int32_t pos, const char *fmt, va_list ap) {
    char msg[FL_ERROR_MESSAGE_SIZE];
    vsnprintf(msg, sizeof msg, fmt, ap);
    if (pos > 0) return fl_error_set(t->err, FL_EINVAL, "%s (position %d)", msg, (int)pos);
    return fl_error_set(t->err, FL_EINVAL, "%s", msg);
}

static int terr(translator *t, int32_t pos, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int terr(translator *t, int32_t pos, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int rc = vterr(t, pos, fmt, ap);
    va_end(ap);
    return rc;
}

int fl_xlate_error(fl_xlate *x, int32_t pos, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int rc = vterr(x, pos, fmt, ap);
    va_end(ap);
    return rc;
}

static int oom(translator *t) { return fl_error_set(t->err, FL_ENOMEM, "out of memory"); }

const char *fl_expr_type_name(fl_expr_type type) {
    switch (type) {
    case FL_EXPR_T_NULL: return "null";
    case FL_EXPR_T_BOOL: return "boolean";
    case FL_EXPR_T_INT: return "integer";
    case FL_EXPR_T_FLOAT: return "float";
    case FL_EXPR_T_STRING: return "string";
    case FL_EXPR_T_BINARY: return "binary";
    case FL_EXPR_T_TIMESTAMP: return "timestamp";
    case FL_EXPR_T_LIST: return "list";
    case FL_EXPR_T_OTHER: break;
    }
    return "struct";
}

size_t fl_edit_distance(const char *a, const char *b) {
    size_t la = strlen(a), lb = strlen(b);
    if (la > 256 || lb > 256) return la > lb ? la : lb;
    size_t row[257];
    for (size_t j = 0; j <= lb; j++) row[j] = j;
    for (size_t i = 1; i <= la; i++) {
        size_t diag = row[0];
        row[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t up = row[j];
            size_t best = diag + (a[i - 1] != b[j - 1]);
            if (up + 1 < best) best = up + 1;
            if (row[j - 1] + 1 < best) best = row[j - 1] + 1;
            row[j] = best;
            diag = up;
        }
    }
    return row[lb];
}

/* The candidate closest to `name`, if close enough to be a plausible typo. */
const char *fl_closest_name(const char *name, const char *const *candidates, size_t n) {
    const char *best = NULL;
    size_t best_d = (size_t)-1;
    for (size_t i = 0; i < n; i++) {
        size_t d = fl_edit_distance(name, candidates[i]);
        if (d < best_d) best_d = d, best = candidates[i];
    }
    size_t len = strlen(name);
    return best && (best_d <= 2 || best_d * 3 <= len) && best_d < len ? best : NULL;
}

fl_expr_type fl_expr_type_of_field(const fl_field *f) {
    switch (f->type) {
    case FL_TYPE_BOOL: return FL_EXPR_T_BOOL;
    case FL_TYPE_INT8: case FL_TYPE_INT16: case FL_TYPE_INT32: case FL_TYPE_INT64:
    case FL_TYPE_UINT8: case FL_TYPE_UINT16: case FL_TYPE_UINT32: case FL_TYPE_UINT64: return FL_EXPR_T_INT;
    case FL_TYPE_FLOAT32: case FL_TYPE_FLOAT64: return FL_EXPR_T_FLOAT;
    case FL_TYPE_STRING: return FL_EXPR_T_STRING;
    case FL_TYPE_BINARY: return FL_EXPR_T_BINARY;
    case FL_TYPE_TIMESTAMP_MS: return FL_EXPR_T_TIMESTAMP;
    case FL_TYPE_LIST: return FL_EXPR_T_LIST;
    default: return FL_EXPR_T_OTHER;
    }
}

fl_expr_node *fl_xlate_node(fl_xlate *t, fl_expr_kind kind, int32_t pos, int32_t n_args) {
    fl_expr_node *n = fl_arena_alloc(t->arena, sizeof *n);
    if (!n) return NULL;
    n->kind = kind;
    n->pos = pos;
    n->n_args = n_args;
    if (n_args && !(n->args = fl_arena_alloc(t->arena, (size_t)n_args * sizeof *n->args))) return NULL;
    return n;
}

static int32_t node_pos(const translator *t, const fl_json *body) { return user_pos(t, fl_json_get_int(body, "location", -1)); }

static bool is_numeric(fl_expr_type a) { return a == FL_EXPR_T_INT || a == FL_EXPR_T_FLOAT; }

/* Whether values of the two types can be compared (and so tested for equality, IN, BETWEEN). */
static bool comparable(fl_expr_type a, fl_expr_type b) {
    if (a == FL_EXPR_T_NULL || b == FL_EXPR_T_NULL) return a != FL_EXPR_T_LIST && b != FL_EXPR_T_LIST && a != FL_EXPR_T_OTHER && b != FL_EXPR_T_OTHER;
    if (is_numeric(a) && is_numeric(b)) return true;
    if ((a == FL_EXPR_T_TIMESTAMP && b == FL_EXPR_T_INT) || (a == FL_EXPR_T_INT && b == FL_EXPR_T_TIMESTAMP)) return true;
    return a == b && a != FL_EXPR_T_LIST && a != FL_EXPR_T_OTHER;
}

/* A time literal: RFC 3339, without a zone meaning UTC, or a date alone (midnight UTC). */
static bool parse_time_text(const char *text, int64_t *ms) {
    size_t n = strlen(text);
    if (fl_parse_rfc3339(text, n, ms)) return true;
    char buf[64];
    if (n == 10 && snprintf(buf, sizeof buf, "%s 00:00:00Z", text) < (int)sizeof buf) return fl_parse_rfc3339(buf, strlen(buf), ms);
    if (n < 40 && snprintf(buf, sizeof buf, "%sZ", text) < (int)sizeof buf) return fl_parse_rfc3339(buf, strlen(buf), ms);
    return false;
}

/* Turns a string literal into a timestamp literal in place; a positioned error when it is not a time. */
static int fold_time_literal(translator *t, fl_expr_node *n) {
    int64_t ms;
    if (!parse_time_text(n->lit_string, &ms))
        return terr(t, n->pos, "'%s' is not a timestamp (expected RFC 3339, e.g. '2017-07-01 08:30:00' or '2017-07-01T08:30:00Z')", n->lit_string);
    n->type = FL_EXPR_T_TIMESTAMP;
    n->lit_int = ms;
    n->lit_string = NULL;
    return FL_OK;
}

int fl_xlate_fold_time(fl_xlate *x, fl_expr_node *literal) { return fold_time_literal(x, literal); }

static bool is_string_literal(const fl_expr_node *n) { return n->kind == FL_EXPR_LITERAL && n->type == FL_EXPR_T_STRING; }

/* Checks that a and b compare; a string literal against a timestamp is read as a time first. */
static int check_comparable(translator *t, fl_expr_node *a, fl_expr_node *b, int32_t pos) {
    if (a->type == FL_EXPR_T_TIMESTAMP && is_string_literal(b)) FL_RETURN_NOT_OK(fold_time_literal(t, b));
    if (b->type == FL_EXPR_T_TIMESTAMP && is_string_literal(a)) FL_RETURN_NOT_OK(fold_time_literal(t, a));
    if (comparable(a->type, b->type)) return FL_OK;
    return terr(t, pos, "cannot compare %s with %s", fl_expr_type_name(a->type), fl_expr_type_name(b->type));
}

static int check_bool(translator *t, const fl_expr_node *a, const char *what, int32_t pos) {
    if (a->type == FL_EXPR_T_BOOL || a->type == FL_EXPR_T_NULL) return FL_OK;
    return terr(t, a->pos ? a->pos : pos, "%s expects a boolean, not %s", what, fl_expr_type_name(a->type));
}

static int translate(translator *t, const fl_json *json, fl_expr_node **out);

/* Re-reads a numeric literal at `location` of the wrapped text (invariant 2). */
static int number_literal(translator *t, int64_t location, fl_expr_node *n) {
    if (location < 0 || location >= (int64_t)strlen(t->sql)) return terr(t, n->pos, "numeric literal without a location");
    const char *p = t->sql + location;
    bool neg = false;
    while (*p == '-' || *p == '+' || *p == '(' || isspace((unsigned char)*p)) {
        if (*p == '-') neg = !neg;
        p++;
    }
    const char *s = p;
    while (isdigit((unsigned char)*p)) p++;
    bool integral = *p != '.' && *p != 'e' && *p != 'E';
    errno = 0;
    char *end;
    if (integral) {
        unsigned long long v = strtoull(s, &end, 10);
        if (!errno && end != s && (v <= (unsigned long long)INT64_MAX || (neg && v == (unsigned long long)INT64_MAX + 1))) {
            n->type = FL_EXPR_T_INT;
            n->lit_int = neg ? (v == (unsigned long long)INT64_MAX + 1 ? INT64_MIN : -(int64_t)v) : (int64_t)v;
            return FL_OK;
        }
    }
    errno = 0;
    double d = strtod(s, &end);
    if (end == s) return terr(t, n->pos, "bad numeric literal");
    n->type = FL_EXPR_T_FLOAT;
    n->lit_float = neg ? -d : d;
    return FL_OK;
}

static int translate_const(translator *t, const fl_json *body, int32_t pos, fl_expr_node **out) {
    fl_expr_node *n = fl_xlate_node(t, FL_EXPR_LITERAL, pos, 0);
    if (!n) return oom(t);
    *out = n;
    const fl_json *v;
    if ((v = fl_json_get(body, "isnull")) && v->kind == FL_JSON_BOOL && v->boolean) {
        n->type = FL_EXPR_T_NULL;
        return FL_OK;
    }
    if (fl_json_get(body, "ival") || fl_json_get(body, "fval")) return number_literal(t, fl_json_get_int(body, "location", -1), n);
    if ((v = fl_json_get(body, "sval"))) {
        const char *s = fl_json_get_string(v, "sval");
        n->type = FL_EXPR_T_STRING;
        n->lit_string = s ? s : "";
        return FL_OK;
    }
    if ((v = fl_json_get(body, "boolval"))) {
        const fl_json *b = fl_json_get(v, "boolval");
        n->type = FL_EXPR_T_BOOL;
        n->lit_bool = b && b->kind == FL_JSON_BOOL && b->boolean;
        return FL_OK;
    }
    return terr(t, pos, "unsupported literal");
}

/* The text of a {"String": {"sval": ...}} node, or NULL. */
const char *fl_xlate_string(const fl_json *j) {
    const char *key;
    const fl_json *body = fl_json_single(j, &key);
    return body && !strcmp(key, "String") ? fl_json_get_string(body, "sval") : NULL;
}

/* Adds a column name to the recorder's list once. */
static int record_column(translator *t, const char *name) {
    fl_expr *e = t->record;
    if (!e) return FL_OK;
    for (int32_t i = 0; i < e->n_columns; i++)
        if (!strcmp(e->columns[i], name)) return FL_OK;
    size_t cap = (size_t)e->n_columns;
    if (!fl_reserve((void **)&e->columns, &cap, cap + 1, sizeof *e->columns, 4)) return oom(t);
    e->columns[e->n_columns++] = name;
    return FL_OK;
}

static bool accepted_qualifier(const translator *t, const char *q) {
    return (t->qualifier && !strcmp(t->qualifier, q)) || (t->qualifier2 && !strcmp(t->qualifier2, q));
}

static int translate_column(translator *t, const fl_json *body, int32_t pos, fl_expr_node **out) {
    const fl_json *fields = fl_json_get(body, "fields");
    if (!fields || fields->kind != FL_JSON_ARRAY || fields->n == 0) return terr(t, pos, "bad column reference");
    const char *name = fields->n >= 1 ? fl_xlate_string(fields->items[fields->n - 1]) : NULL;
    if (fields->n == 2 && name && fl_xlate_string(fields->items[0])) {
        const char *q = fl_xlate_string(fields->items[0]);
        if (!accepted_qualifier(t, q)) return terr(t, pos, "unknown table \"%s\" in column reference", q);
    } else if (fields->n != 1 || !name)
        return terr(t, pos, "only plain column names are supported here (no '*' or nested fields)");
    const fl_schema *s = t->schema;
    int k = fl_schema_find(s, name);
    if (k < 0) {
        const char **names = fl_arena_alloc(t->arena, ((size_t)s->n_fields + 1) * sizeof *names);
        if (!names) return oom(t);
        size_t n_names = 0;
        for (int32_t i = 0; i < s->n_fields; i++)
            if (s->fields[i].name[0] != '$') names[n_names++] = s->fields[i].name;
        const char *best = fl_closest_name(name, names, n_names);
        if (best) return terr(t, pos, "column \"%s\" not found; did you mean \"%s\"?", name, best);
        return terr(t, pos, "column \"%s\" not found", name);
    }
    fl_expr_node *n = fl_xlate_node(t, FL_EXPR_COLUMN, pos, 0);
    if (!n) return oom(t);
    const fl_field *f = &s->fields[k];
    n->name = f->name;
    n->type = fl_expr_type_of_field(f);
    if (n->type == FL_EXPR_T_LIST) n->elem = &f->children[0];
    FL_RETURN_NOT_OK(record_column(t, f->name));
    *out = n;
    return FL_OK;
}

/* Result type of arithmetic, or an error. */
static int bind_arith(translator *t, fl_expr_node *n, const char *opname) {
    fl_expr_type a = n->args[0]->type, b = n->args[1]->type;
    if ((is_numeric(a) || a == FL_EXPR_T_NULL) && (is_numeric(b) || b == FL_EXPR_T_NULL)) {
        n->type = a == FL_EXPR_T_FLOAT || b == FL_EXPR_T_FLOAT ? FL_EXPR_T_FLOAT : FL_EXPR_T_INT;
        return FL_OK;
    }
    if (a == FL_EXPR_T_TIMESTAMP && (b == FL_EXPR_T_INT || b == FL_EXPR_T_NULL) && (n->op == FL_OP_ADD || n->op == FL_OP_SUB)) {
        n->type = FL_EXPR_T_TIMESTAMP;
        return FL_OK;
    }
    if (a == FL_EXPR_T_TIMESTAMP && b == FL_EXPR_T_TIMESTAMP && n->op == FL_OP_SUB) {
        n->type = FL_EXPR_T_INT;
        return FL_OK;
    }
    return terr(t, n->pos, "operator %s cannot take %s and %s", opname, fl_expr_type_name(a), fl_expr_type_name(b));
}

static int translate_binary(translator *t, fl_expr_op op, const char *opname, fl_expr_node *l, fl_expr_node *r, int32_t pos,
                            fl_expr_node **out) {
    fl_expr_node *n = fl_xlate_node(t, FL_EXPR_BINARY, pos, 2);
    if (!n) return oom(t);
    n->op = op;
    n->args[0] = l;
    n->args[1] = r;
    *out = n;
    if (op <= FL_OP_GE) {
        n->type = FL_EXPR_T_BOOL;
        return check_comparable(t, l, r, pos);
    }
    if (op == FL_OP_AND || op == FL_OP_OR) {
        n->type = FL_EXPR_T_BOOL;
        FL_RETURN_NOT_OK(check_bool(t, l, opname, pos));
        return check_bool(t, r, opname, pos);
    }
    return bind_arith(t, n, opname);
}

static int translate_list_items(translator *t, const fl_json *list, fl_expr_node *n, int first) {
    for (size_t i = 0; i < list->n; i++) FL_RETURN_NOT_OK(translate(t, list->items[i], &n->args[first + (int32_t)i]));
    return FL_OK;
}

static int translate_a_expr(translator *t, const fl_json *body, int32_t pos, fl_expr_node **out) {
    const char *kind = fl_json_get_string(body, "kind");
    const fl_json *name = fl_json_get(body, "name");
    const char *opname = name && name->kind == FL_JSON_ARRAY && name->n == 1 ? fl_xlate_string(name->items[0]) : NULL;
    const fl_json *lj = fl_json_get(body, "lexpr"), *rj = fl_json_get(body, "rexpr");
    if (!kind || !opname || !rj) return terr(t, pos, "unsupported operator");
    fl_expr_node *l = NULL, *r = NULL;
    const char *list_key;
    const fl_json *list = fl_json_single(rj, &list_key);
    if (list && !strcmp(list_key, "List")) {
        /* IN and BETWEEN carry their values as {"List": {"items": [...]}}. */
        rj = fl_json_get(list, "items");
        if (!rj) return terr(t, pos, "empty list");
    }
    if (!strcmp(kind, "AEXPR_OP")) {
        static const struct { const char *name; fl_expr_op op; } ops[] = {
            {"=", FL_OP_EQ}, {"<>", FL_OP_NE}, {"!=", FL_OP_NE}, {"<", FL_OP_LT}, {"<=", FL_OP_LE}, {">", FL_OP_GT}, {">=", FL_OP_GE},
            {"+", FL_OP_ADD}, {"-", FL_OP_SUB}, {"*", FL_OP_MUL}, {"/", FL_OP_DIV}, {"%", FL_OP_MOD}};
        int k = -1;
        for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++)
            if (!strcmp(ops[i].name, opname)) k = (int)i;
        if (k < 0 && !strcmp(opname, "||") && lj) {
            /* String concatenation: the registry's strict "||" (NULL if either side is NULL). */
            fl_expr_node *n = fl_xlate_node(t, FL_EXPR_CALL, pos, 2);
            if (!n) return oom(t);
            n->fn = fl_expr_function_find("||");
            n->name = n->fn->name;
            FL_RETURN_NOT_OK(translate(t, lj, &n->args[0]));
            FL_RETURN_NOT_OK(translate(t, rj, &n->args[1]));
            FL_RETURN_NOT_OK(n->fn->bind(n, t->err));
            *out = n;
            return FL_OK;
        }
        if (k < 0) return terr(t, pos, "unsupported operator %s", opname);
        FL_RETURN_NOT_OK(translate(t, rj, &r));
        if (!lj) {
            if (ops[k].op != FL_OP_SUB && ops[k].op != FL_OP_ADD) return terr(t, pos, "unsupported prefix operator %s", opname);
            if (!is_numeric(r->type) && r->type != FL_EXPR_T_NULL)
                return terr(t, pos, "operator %s cannot take %s", opname, fl_expr_type_name(r->type));
            if (ops[k].op == FL_OP_ADD) return *out = r, FL_OK;
            fl_expr_node *n = fl_xlate_node(t, FL_EXPR_UNARY, pos, 1);
            if (!n) return oom(t);
            n->op = FL_OP_NEG;
            n->args[0] = r;
            n->type = r->type == FL_EXPR_T_NULL ? FL_EXPR_T_INT : r->type;
            *out = n;
            return FL_OK;
        }
        FL_RETURN_NOT_OK(translate(t, lj, &l));
        return translate_binary(t, ops[k].op, opname, l, r, pos, out);
    }
    if (!lj) return terr(t, pos, "unsupported operator");
    FL_RETURN_NOT_OK(translate(t, lj, &l));
    if (!strcmp(kind, "AEXPR_IN")) {
        if (rj->kind != FL_JSON_ARRAY || rj->n == 0) return terr(t, pos, "IN expects a list of values");
        fl_expr_node *n = fl_xlate_node(t, FL_EXPR_IN, pos, (int32_t)rj->n + 1);
        if (!n) return oom(t);
        n->args[0] = l;
        n->negated = !strcmp(opname, "<>");
        n->type = FL_EXPR_T_BOOL;
        FL_RETURN_NOT_OK(translate_list_items(t, rj, n, 1));
        for (int32_t i = 1; i < n->n_args; i++) FL_RETURN_NOT_OK(check_comparable(t, l, n->args[i], n->args[i]->pos ? n->args[i]->pos : pos));
        *out = n;
        return FL_OK;
    }
    if (!strcmp(kind, "AEXPR_BETWEEN") || !strcmp(kind, "AEXPR_NOT_BETWEEN")) {
        if (rj->kind != FL_JSON_ARRAY || rj->n != 2) return terr(t, pos, "BETWEEN expects two bounds");
        fl_expr_node *n = fl_xlate_node(t, FL_EXPR_BETWEEN, pos, 3);
        if (!n) return oom(t);
        n->args[0] = l;
        n->negated = !strcmp(kind, "AEXPR_NOT_BETWEEN");
        n->type = FL_EXPR_T_BOOL;
        FL_RETURN_NOT_OK(translate_list_items(t, rj, n, 1));
        FL_RETURN_NOT_OK(check_comparable(t, l, n->args[1], pos));
        FL_RETURN_NOT_OK(check_comparable(t, l, n->args[2], pos));
        *out = n;
        return FL_OK;
    }
    if (!strcmp(kind, "AEXPR_LIKE") || !strcmp(kind, "AEXPR_ILIKE")) {
        const char *key;
        const fl_json *fb = fl_json_single(rj, &key);
        if (fb && !strcmp(key, "FuncCall")) return terr(t, pos, "LIKE ... ESCAPE is not supported (the escape character is '\\')");
        fl_expr_node *n = fl_xlate_node(t, FL_EXPR_LIKE, pos, 2);
        if (!n) return oom(t);
        n->args[0] = l;
        n->negated = opname[0] == '!';
        n->case_insensitive = !strcmp(kind, "AEXPR_ILIKE");
        n->type = FL_EXPR_T_BOOL;
        FL_RETURN_NOT_OK(translate(t, rj, &n->args[1]));
        for (int i = 0; i < 2; i++)
            if (n->args[i]->type != FL_EXPR_T_STRING && n->args[i]->type != FL_EXPR_T_NULL)
                return terr(t, pos, "%s expects strings, not %s", n->case_insensitive ? "ILIKE" : "LIKE", fl_expr_type_name(n->args[i]->type));
        *out = n;
        return FL_OK;
    }
    return terr(t, pos, "unsupported operator %s", opname);
}

static int translate_bool_expr(translator *t, const fl_json *body, int32_t pos, fl_expr_node **out) {
    const char *op = fl_json_get_string(body, "boolop");
    const fl_json *args = fl_json_get(body, "args");
    if (!op || !args || args->kind != FL_JSON_ARRAY || args->n == 0) return terr(t, pos, "bad boolean expression");
    if (!strcmp(op, "NOT_EXPR")) {
        fl_expr_node *n = fl_xlate_node(t, FL_EXPR_UNARY, pos, 1);
        if (!n) return oom(t);
        n->op = FL_OP_NOT;
        n->type = FL_EXPR_T_BOOL;
        FL_RETURN_NOT_OK(translate(t, args->items[0], &n->args[0]));
        FL_RETURN_NOT_OK(check_bool(t, n->args[0], "NOT", pos));
        *out = n;
        return FL_OK;
    }
    bool is_and = !strcmp(op, "AND_EXPR");
    fl_expr_node *acc;
    FL_RETURN_NOT_OK(translate(t, args->items[0], &acc));
    FL_RETURN_NOT_OK(check_bool(t, acc, is_and ? "AND" : "OR", pos));
    for (size_t i = 1; i < args->n; i++) {
        fl_expr_node *r;
        FL_RETURN_NOT_OK(translate(t, args->items[i], &r));
        FL_RETURN_NOT_OK(translate_binary(t, is_and ? FL_OP_AND : FL_OP_OR, is_and ? "AND" : "OR", acc, r, pos, &acc));
    }
    *out = acc;
    return FL_OK;
}

static int translate_test(translator *t, const fl_json *body, bool null_test, int32_t pos, fl_expr_node **out) {
    const char *what = fl_json_get_string(body, null_test ? "nulltesttype" : "booltesttype");
    const fl_json *arg = fl_json_get(body, "arg");
    if (!what || !arg) return terr(t, pos, "bad IS test");
    fl_expr_node *n = fl_xlate_node(t, FL_EXPR_IS, pos, 1);
    if (!n) return oom(t);
    n->type = FL_EXPR_T_BOOL;
    FL_RETURN_NOT_OK(translate(t, arg, &n->args[0]));
    n->negated = strstr(what, "_NOT_") != NULL;
    if (null_test || strstr(what, "UNKNOWN")) n->test = FL_TEST_NULL;
    else n->test = strstr(what, "TRUE") ? FL_TEST_TRUE : FL_TEST_FALSE;
    if (n->test != FL_TEST_NULL) FL_RETURN_NOT_OK(check_bool(t, n->args[0], "IS TRUE/FALSE", pos));
    *out = n;
    return FL_OK;
}

static int translate_func(translator *t, const fl_json *body, int32_t pos, fl_expr_node **out) {
    const fl_json *names = fl_json_get(body, "funcname");
    const char *name = fl_json_get(body, "coalescetype") || !names ? "coalesce" : NULL;
    if (!name && (names->kind != FL_JSON_ARRAY || names->n == 0)) return terr(t, pos, "bad function call");
    if (!name) name = fl_xlate_string(names->items[names->n - 1]);
    if (!name) return terr(t, pos, "bad function call");
    if (t->call_hook) {
        bool handled = false;
        int rc = t->call_hook(t, body, name, pos, out, &handled);
        if (handled || rc != FL_OK) return rc;
    }
    if (fl_json_get(body, "agg_star") || fl_json_get(body, "agg_distinct") || fl_json_get(body, "over") || fl_json_get(body, "agg_order") ||
        fl_json_get(body, "agg_filter"))
        return terr(t, pos, "aggregate and window calls are not allowed in a filter");
    const fl_expr_function *fn = fl_expr_function_find(name);
    if (!fn) {
        const char *names_list[64];
        size_t k = 0;
        for (const fl_expr_function *f; k < 64 && (f = fl_expr_function_at((int)k)); k++) names_list[k] = f->name;
        const char *best = fl_closest_name(name, names_list, k);
        if (best) return terr(t, pos, "function \"%s\" not found; did you mean \"%s\"?", name, best);
        return terr(t, pos, "function \"%s\" not found", name);
    }
    const fl_json *args = fl_json_get(body, "args");
    size_t n_args = args && args->kind == FL_JSON_ARRAY ? args->n : 0;
    if ((int)n_args < fn->min_args || (fn->max_args >= 0 && (int)n_args > fn->max_args)) {
        if (fn->min_args == fn->max_args) return terr(t, pos, "%s takes %d argument%s, not %zu", fn->name, fn->min_args, fn->min_args == 1 ? "" : "s", n_args);
        return terr(t, pos, "%s takes at least %d arguments, not %zu", fn->name, fn->min_args, n_args);
    }
    fl_expr_node *n = fl_xlate_node(t, FL_EXPR_CALL, pos, (int32_t)n_args);
    if (!n) return oom(t);
    n->fn = fn;
    n->name = fn->name;
    if (n_args) FL_RETURN_NOT_OK(translate_list_items(t, args, n, 0));
    FL_RETURN_NOT_OK(fn->bind(n, t->err));
    *out = n;
    return FL_OK;
}

static int translate_cast(translator *t, const fl_json *body, int32_t pos, fl_expr_node **out) {
    const fl_json *tn = fl_json_get(body, "typeName"), *names = fl_json_get(tn, "names");
    if (!names || names->kind != FL_JSON_ARRAY || names->n == 0 || fl_json_get(tn, "arrayBounds")) return terr(t, pos, "unsupported type in CAST");
    const char *type = fl_xlate_string(names->items[names->n - 1]);
    if (pos == 0) pos = user_pos(t, fl_json_get_int(tn, "location", -1));
    static const struct { const char *name; fl_expr_type type; } types[] = {
        {"int2", FL_EXPR_T_INT}, {"int4", FL_EXPR_T_INT}, {"int8", FL_EXPR_T_INT}, {"float4", FL_EXPR_T_FLOAT}, {"float8", FL_EXPR_T_FLOAT},
        {"numeric", FL_EXPR_T_FLOAT}, {"text", FL_EXPR_T_STRING}, {"varchar", FL_EXPR_T_STRING}, {"bpchar", FL_EXPR_T_STRING},
        {"bool", FL_EXPR_T_BOOL}, {"bigint", FL_EXPR_T_INT}, {"integer", FL_EXPR_T_INT}, {"double", FL_EXPR_T_FLOAT},
        {"string", FL_EXPR_T_STRING}, {"float", FL_EXPR_T_FLOAT}, {"timestamp", FL_EXPR_T_TIMESTAMP}, {"timestamptz", FL_EXPR_T_TIMESTAMP},
        {"date", FL_EXPR_T_TIMESTAMP}};
    int k = -1;
    for (size_t i = 0; type && i < sizeof types / sizeof types[0]; i++)
        if (!strcmp(types[i].name, type)) k = (int)i;
    if (k < 0) return terr(t, pos, "CAST to %s is not supported (integer, float, string, boolean, timestamp)", type ? type : "?");
    fl_expr_node *n = fl_xlate_node(t, FL_EXPR_CAST, pos, 1);
    if (!n) return oom(t);
    n->type = types[k].type;
    FL_RETURN_NOT_OK(translate(t, fl_json_get(body, "arg"), &n->args[0]));
    fl_expr_type from = n->args[0]->type;
    if (n->type == FL_EXPR_T_TIMESTAMP && !strcmp(type, "date")) {
        /* DATE '2017-07-01': the day's midnight (UTC), folded now; there is no per-row truncation. */
        if (!is_string_literal(n->args[0]) && from != FL_EXPR_T_NULL)
            return terr(t, pos, "cannot cast %s to date (only constants)", fl_expr_type_name(from));
        if (from == FL_EXPR_T_NULL) return *out = n->args[0], FL_OK;
        FL_RETURN_NOT_OK(fold_time_literal(t, n->args[0]));
        const int64_t day = 86400000;
        n->args[0]->lit_int -= ((n->args[0]->lit_int % day) + day) % day;
        n->args[0]->pos = n->args[0]->pos ? n->args[0]->pos : pos;
        *out = n->args[0];
        return FL_OK;
    }
    if (n->type == FL_EXPR_T_TIMESTAMP) {
        /* TIMESTAMP '2017-07-01 08:00:00' (a constant, folded now), integer milliseconds, or a timestamp. */
        if (is_string_literal(n->args[0])) {
            FL_RETURN_NOT_OK(fold_time_literal(t, n->args[0]));
            n->args[0]->pos = n->args[0]->pos ? n->args[0]->pos : pos;
            *out = n->args[0];
            return FL_OK;
        }
        if (from == FL_EXPR_T_TIMESTAMP || from == FL_EXPR_T_NULL) {
            *out = n->args[0];
            if (from == FL_EXPR_T_NULL) n->args[0]->type = FL_EXPR_T_NULL;
            return FL_OK;
        }
        if (from != FL_EXPR_T_INT) return terr(t, pos, "cannot cast %s to timestamp (only constants, integer milliseconds)", fl_expr_type_name(from));
        *out = n;
        return FL_OK;
    }
    bool ok = from == FL_EXPR_T_NULL || from == n->type || (is_numeric(from) && is_numeric(n->type)) || n->type == FL_EXPR_T_STRING ||
              (from == FL_EXPR_T_STRING && n->type != FL_EXPR_T_BINARY) || (from == FL_EXPR_T_TIMESTAMP && n->type == FL_EXPR_T_INT) ||
              (from == FL_EXPR_T_BOOL && n->type == FL_EXPR_T_INT);
    if (from == FL_EXPR_T_LIST || from == FL_EXPR_T_OTHER || from == FL_EXPR_T_BINARY) ok = false;
    if (!ok) return terr(t, pos, "cannot cast %s to %s", fl_expr_type_name(from), fl_expr_type_name(n->type));
    *out = n;
    return FL_OK;
}

static int translate_indirection(translator *t, const fl_json *body, int32_t pos, fl_expr_node **out) {
    const fl_json *ind = fl_json_get(body, "indirection");
    fl_expr_node *base;
    FL_RETURN_NOT_OK(translate(t, fl_json_get(body, "arg"), &base));
    if (!pos) pos = base->pos;
    for (size_t i = 0; ind && ind->kind == FL_JSON_ARRAY && i < ind->n; i++) {
        const char *key;
        const fl_json *idx = fl_json_single(ind->items[i], &key);
        if (!idx || strcmp(key, "A_Indices") || fl_json_get(idx, "is_slice") || !fl_json_get(idx, "uidx"))
            return terr(t, pos, "only list element access [i] is supported");
        if (base->type != FL_EXPR_T_LIST) return terr(t, pos, "cannot index %s with [ ]", fl_expr_type_name(base->type));
        fl_expr_node *n = fl_xlate_node(t, FL_EXPR_ELEMENT, pos, 2);
        if (!n) return oom(t);
        n->args[0] = base;
        FL_RETURN_NOT_OK(translate(t, fl_json_get(idx, "uidx"), &n->args[1]));
        if (n->args[1]->type != FL_EXPR_T_INT && n->args[1]->type != FL_EXPR_T_NULL)
            return terr(t, n->args[1]->pos, "list index must be an integer, not %s", fl_expr_type_name(n->args[1]->type));
        n->type = fl_expr_type_of_field(base->elem);
        if (n->type == FL_EXPR_T_LIST) n->elem = &base->elem->children[0];
        base = n;
    }
    *out = base;
    return FL_OK;
}

static int translate_array(translator *t, const fl_json *body, int32_t pos, fl_expr_node **out) {
    const fl_json *els = fl_json_get(body, "elements");
    size_t n_items = els && els->kind == FL_JSON_ARRAY ? els->n : 0;
    fl_expr_node *n = fl_xlate_node(t, FL_EXPR_LIST_LITERAL, pos, (int32_t)n_items);
    if (!n) return oom(t);
    n->type = FL_EXPR_T_LIST;
    if (n_items) FL_RETURN_NOT_OK(translate_list_items(t, els, n, 0));
    fl_expr_type et = FL_EXPR_T_NULL;
    for (int32_t i = 0; i < n->n_args; i++) {
        fl_expr_node *a = n->args[i];
        if (a->kind != FL_EXPR_LITERAL) return terr(t, a->pos ? a->pos : pos, "ARRAY[...] may hold only literals");
        if (a->type == FL_EXPR_T_NULL) continue;
        if (et == FL_EXPR_T_NULL || (et == FL_EXPR_T_INT && a->type == FL_EXPR_T_FLOAT)) et = a->type;
        else if (!(et == a->type || (et == FL_EXPR_T_FLOAT && a->type == FL_EXPR_T_INT)))
            return terr(t, a->pos ? a->pos : pos, "ARRAY[...] mixes %s and %s", fl_expr_type_name(et), fl_expr_type_name(a->type));
    }
    fl_field *elem = fl_arena_alloc(t->arena, sizeof *elem);
    if (!elem) return oom(t);
    elem->type = et == FL_EXPR_T_INT ? FL_TYPE_INT64 : et == FL_EXPR_T_FLOAT ? FL_TYPE_FLOAT64 : et == FL_EXPR_T_BOOL ? FL_TYPE_BOOL
                 : et == FL_EXPR_T_TIMESTAMP ? FL_TYPE_TIMESTAMP_MS : FL_TYPE_STRING;
    elem->nullable = true;
    elem->id = -1;
    n->elem = elem;
    *out = n;
    return FL_OK;
}

int fl_xlate_expr(fl_xlate *t, const fl_json *json, fl_expr_node **out) { return translate(t, json, out); }

static int translate(translator *t, const fl_json *json, fl_expr_node **out) {
    const char *key;
    const fl_json *body = fl_json_single(json, &key);
    if (!body) return terr(t, 0, "unexpected parse tree shape");
    int32_t pos = node_pos(t, body);
    if (!strcmp(key, "ColumnRef")) return translate_column(t, body, pos, out);
    if (!strcmp(key, "A_Const")) return translate_const(t, body, pos, out);
    if (!strcmp(key, "A_Expr")) return translate_a_expr(t, body, pos, out);
    if (!strcmp(key, "BoolExpr")) return translate_bool_expr(t, body, pos, out);
    if (!strcmp(key, "NullTest")) return translate_test(t, body, true, pos, out);
    if (!strcmp(key, "BooleanTest")) return translate_test(t, body, false, pos, out);
    if (!strcmp(key, "FuncCall") || !strcmp(key, "CoalesceExpr")) return translate_func(t, body, pos, out);
    if (!strcmp(key, "TypeCast")) return translate_cast(t, body, pos, out);
    if (!strcmp(key, "A_Indirection")) return translate_indirection(t, body, pos, out);
    if (!strcmp(key, "A_ArrayExpr")) return translate_array(t, body, pos, out);
    if (!strcmp(key, "SubLink")) return terr(t, pos, "subqueries are not supported in %s", t->context ? t->context : "a filter");
    return terr(t, pos, "unsupported expression (%s)", key);
}

/* The WHERE clause of the one plain SELECT (invariant 1), or an error. */
static int where_clause(translator *t, const fl_json *tree, const fl_json **out) {
    const fl_json *stmts = fl_json_get(tree, "stmts");
    if (!stmts || stmts->kind != FL_JSON_ARRAY || stmts->n != 1) return terr(t, 0, "a filter is one expression (no ';')");
    const char *key;
    const fl_json *sel = fl_json_single(fl_json_get(stmts->items[0], "stmt"), &key);
    if (!sel || strcmp(key, "SelectStmt")) return terr(t, 0, "a filter is one expression");
    for (size_t i = 0; i < sel->n; i++) {
        const char *k = sel->keys[i];
        if (strcmp(k, "targetList") && strcmp(k, "fromClause") && strcmp(k, "whereClause") && strcmp(k, "limitOption") && strcmp(k, "op"))
            return terr(t, 0, "a filter is one expression (found a %s clause after it)", k);
    }
    const char *op = fl_json_get_string(sel, "op"), *lim = fl_json_get_string(sel, "limitOption");
    if ((op && strcmp(op, "SETOP_NONE")) || (lim && strcmp(lim, "LIMIT_OPTION_DEFAULT"))) return terr(t, 0, "a filter is one expression");
    if (!(*out = fl_json_get(sel, "whereClause"))) return terr(t, 0, "empty filter");
    return FL_OK;
}

/* Compiles one expression (parsed as the WHERE clause of a fixed prefix); a filter must be boolean. */
static int compile_expression(const char *text, const fl_schema *schema, bool filter, fl_expr **out, fl_error *err);

int fl_expr_compile_filter(const char *text, const fl_schema *schema, fl_expr **out, fl_error *err) {
    return compile_expression(text, schema, true, out, err);
}

int fl_expr_compile_value(const char *text, const fl_schema *schema, fl_expr **out, fl_error *err) {
    return compile_expression(text, schema, false, out, err);
}

int fl_xlate_parse(fl_xlate *x, const char *prefix, const char *text, char **sql_out, fl_json **tree) {
    size_t plen = strlen(prefix), len = strlen(text);
    char *sql = fl_malloc(plen + len + 1);
    *sql_out = NULL;
    *tree = NULL;
    if (!sql) return fl_error_set(x->err, FL_ENOMEM, "out of memory");
    memcpy(sql, prefix, plen);
    memcpy(sql + plen, text, len + 1);
    x->sql = sql;
    x->user_start = (int64_t)plen;
    int rc = fl_xlate_bracket_arrays(x, &sql);
    x->sql = *sql_out = sql;
    PgQueryParseResult pr = {0};
    if (rc == FL_OK) pr = pg_query_parse(sql);
    if (pr.error) {
        int cursor = pr.error->cursorpos > 0 ? fl_xlate_pos(x, pr.error->cursorpos - 1) : 1;
        if (cursor < 1) cursor = 1;
        if (cursor > (int)len + 1) cursor = (int)len + 1;
        rc = fl_syntax_error(x->err, pr.error->message, cursor);
    }
    if (rc == FL_OK) rc = fl_json_parse(pr.parse_tree, strlen(pr.parse_tree), x->arena, tree, x->err);
    /* The parse tree is libpg_query's own output, so the only way it fails to load is a depth beyond the
     * DOM's limit: the user's expression nests too deeply. */
    if (rc != FL_OK && rc != FL_ENOMEM && rc != FL_EINVAL) rc = fl_error_set(x->err, FL_EINVAL, "expression nested too deeply (position 1)");
    if (pr.parse_tree || pr.error) pg_query_free_parse_result(pr);
    return rc;
}

static int compile_expression(const char *text, const fl_schema *schema, bool filter, fl_expr **out, fl_error *err) {
    *out = NULL;
    fl_expr *e = fl_calloc(1, sizeof *e);
    if (!e) return fl_error_set(err, FL_ENOMEM, "out of memory");
    fl_arena_init(&e->arena);
    translator t = {.arena = &e->arena, .record = e, .err = err};
    int rc = FL_OK;
    char *sql = NULL;
    bool blank = true;
    for (const char *p = text; *p; p++) blank &= isspace((unsigned char)*p) != 0;
    if (blank) rc = fl_error_set(err, FL_EINVAL, filter ? "empty filter" : "empty expression");
    else if (!(e->schema = fl_schema_copy(schema))) rc = fl_error_set(err, FL_ENOMEM, "out of memory");
    t.schema = e->schema;
    fl_json *tree = NULL;
    const fl_json *where = NULL;
    if (rc == FL_OK) rc = fl_xlate_parse(&t, PREFIX, text, &sql, &tree);
    if (rc == FL_OK) rc = where_clause(&t, tree, &where);
    if (rc == FL_OK) rc = translate(&t, where, &e->root);
    if (rc == FL_OK && filter && e->root->type != FL_EXPR_T_BOOL && e->root->type != FL_EXPR_T_NULL)
        rc = terr(&t, e->root->pos ? e->root->pos : 1, "a filter must be boolean, not %s", fl_expr_type_name(e->root->type));
    fl_free(sql);
    if (rc != FL_OK) {
        fl_expr_free(e);
        return rc;
    }
    *out = e;
    return FL_OK;
}

void fl_expr_free(fl_expr *e) {
    if (!e) return;
    fl_arena_free(&e->arena);
    fl_free(e->columns);
    fl_schema_free(e->schema);
    fl_free(e);
}
