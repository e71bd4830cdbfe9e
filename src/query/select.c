/*
 * select.c — SELECT statements into fl_query: the text is prepared (a version suffix "t@7" blanked out,
 * an alias added after a FROM subquery that has none), parsed by libpg_query, and each clause translated
 * with the expression translator of parse.c, whose call hook turns aggregate calls into references to
 * aggregate results ("$aK") and unnest(...) into a reference to the exploded element ("$unnest").
 *
 * Invariants:
 *  1. Every refusal names a 1-based position in the user's text when the construct has one: unsupported
 *     statements and clauses, unknown tables, columns and functions, misplaced aggregates and unnest,
 *     ungrouped columns.
 *  2. In an aggregate query every select item, HAVING and ORDER BY expression is rewritten so that it
 *     reads only the aggregate's output: subtrees equal to a GROUP BY expression become "$gK", aggregate
 *     calls are "$aK" already, and any other column left is an error.
 *  3. Name resolution follows PostgreSQL: GROUP BY names prefer input columns, ORDER BY names prefer
 *     output columns; both accept 1-based ordinals of the select list.
 */
#include "select.h"

#include <ctype.h>
#include <errno.h>
#include <pg_query.h>
#include <stdlib.h>

#define SUBQUERY_ALIAS " AS _subquery"

typedef struct stmt_ctx {
    fl_db *db;
    const fl_sql_options *opts;
    char *sql;                  /* the parsed text (prepared) */
    int64_t version_at;         /* location of a blanked "@N" in sql, or -1 */
    uint64_t version;
    bool version_used;
    fl_xlate x;                 /* positions (user_start, inserts) and the error report */
    fl_query *q;                /* the query level being translated */
    bool allow_agg, allow_unnest, in_agg;
    const char *context;        /* clause being translated, for messages */
} stmt_ctx;

static int oom(fl_error *err) { return fl_error_set(err, FL_ENOMEM, "out of memory"); }

static int32_t loc_pos(const stmt_ctx *c, const fl_json *body) { return fl_xlate_pos(&c->x, fl_json_get_int(body, "location", -1)); }

void fl_query_free(fl_query *q) {
    if (!q) return;
    fl_query_free(q->sub);
    fl_expr_free(q->where);
    if (q->owns_table) fl_table_close(q->table);
    fl_schema_free(q->input);
    fl_schema_free(q->stage);
    fl_schema_free(q->agg_out);
    fl_schema_free(q->output);
    fl_arena_free(&q->arena);
    fl_free(q);
}

static fl_query *query_new(void) {
    fl_query *q = fl_calloc(1, sizeof *q);
    if (q) fl_arena_init(&q->arena);
    return q;
}

/* Makes room for one more of `size`-byte items in an arena array of capacity *cap (doubling, so the
 * arena holds O(n) bytes however many items come). */
static bool arena_grow(fl_arena *a, void **items, int32_t n, int32_t *cap, size_t size) {
    if (n < *cap) return true;
    int32_t want = *cap ? *cap * 2 : 8;
    void *grown = fl_arena_alloc(a, (size_t)want * size);
    if (!grown) return false;
    if (n) memcpy(grown, *items, (size_t)n * size);
    *items = grown;
    *cap = want;
    return true;
}

/* ---- preparing the text ---- */

/* Index just past a quoted run starting at s[i] (quote char q, doubled to escape), or past a comment. */
static size_t skip_quoted(const char *s, size_t i) {
    char q = s[i];
    if (q == '-' && s[i + 1] == '-') {
        while (s[i] && s[i] != '\n') i++;
        return i;
    }
    if (q == '/' && s[i + 1] == '*') {
        for (i += 2; s[i] && !(s[i] == '*' && s[i + 1] == '/'); i++) {}
        return s[i] ? i + 2 : i;
    }
    for (i++; s[i]; i++) {
        if (s[i] == q) {
            if (s[i + 1] == q) i++;
            else return i + 1;
        }
    }
    return i;
}

static bool starts_quoted(const char *s, size_t i) {
    return s[i] == '\'' || s[i] == '"' || (s[i] == '-' && s[i + 1] == '-') || (s[i] == '/' && s[i + 1] == '*');
}

static bool ident_char(char ch) { return isalnum((unsigned char)ch) || ch == '_' || ch == '"' || ch == '$'; }

/* Blanks a version suffix ("@7" or "@v7" after a name) out of c->sql, remembering it (invariant 1 of
 * translate.h: blanks keep positions). */
static int blank_version(stmt_ctx *c) {
    char *s = c->sql;
    size_t blank_end = 0;       /* a second suffix right after the first ("t@1@2") is refused too */
    for (size_t i = 0; s[i];) {
        if (starts_quoted(s, i)) {
            i = skip_quoted(s, i);
            continue;
        }
        size_t d = i + 1 + (s[i + 1] == 'v' || s[i + 1] == 'V');
        bool after_name = i > 0 && (ident_char(s[i - 1]) || (blank_end && i == blank_end));
        if (s[i] != '@' || !after_name || !isdigit((unsigned char)s[d])) {
            i++;
            continue;
        }
        if (c->version_at >= 0) return fl_xlate_error(&c->x, (int32_t)i + 1, "only one table version (@N) per statement");
        errno = 0;
        char *end;
        unsigned long long v = strtoull(s + d, &end, 10);
        if (errno || v == 0) return fl_xlate_error(&c->x, (int32_t)i + 1, "bad table version");
        c->version_at = (int64_t)i;
        c->version = v;
        memset(s + i, ' ', (size_t)(end - (s + i)));
        i = blank_end = (size_t)(end - s);
    }
    return FL_OK;
}

/* Location of the parenthesis closing the one at `open`, or -1. */
static int64_t closing_paren(const char *s, size_t open) {
    int depth = 0;
    for (size_t i = open; s[i];) {
        if (starts_quoted(s, i)) {
            i = skip_quoted(s, i);
            continue;
        }
        if (s[i] == '(') depth++;
        else if (s[i] == ')' && --depth == 0) return (int64_t)i;
        i++;
    }
    return -1;
}

/* PostgreSQL 15 wants an alias on every FROM subquery; later versions do not. Adds one after the
 * subquery the parser complained about (remembered so positions map back). FL_OK: parse again;
 * FL_EUNSUPPORTED: no place to add it; FL_ENOMEM. */
static int add_subquery_alias(stmt_ctx *c, int cursorpos) {
    if (c->x.n_inserts == FL_XLATE_MAX_INSERTS || cursorpos < 1) return FL_EUNSUPPORTED;
    int64_t close = closing_paren(c->sql, (size_t)cursorpos - 1);
    if (close < 0) return FL_EUNSUPPORTED;
    size_t len = strlen(c->sql), add = strlen(SUBQUERY_ALIAS);
    char *grown = fl_malloc(len + add + 1);
    if (!grown) return FL_ENOMEM;
    memcpy(grown, c->sql, (size_t)close + 1);
    memcpy(grown + close + 1, SUBQUERY_ALIAS, add);
    memcpy(grown + close + 1 + add, c->sql + close + 1, len - (size_t)close);
    fl_free(c->sql);
    c->sql = grown;
    if (!fl_xlate_insert(&c->x, close + 1, (int64_t)add)) return false;
    if (c->version_at > close) c->version_at += (int64_t)add;
    return FL_OK;
}

/* Parses the prepared text into a JSON DOM in `arena`. */
static int parse_sql(stmt_ctx *c, fl_arena *arena, fl_json **tree) {
    for (;;) {
        PgQueryParseResult pr = pg_query_parse(c->sql);
        if (!pr.error) {
            int rc = fl_json_parse(pr.parse_tree, strlen(pr.parse_tree), arena, tree, c->x.err);
            pg_query_free_parse_result(pr);
            /* libpg_query's own output only fails to load beyond the DOM's depth: the user's nesting. */
            if (rc != FL_OK && rc != FL_ENOMEM) rc = fl_error_set(c->x.err, FL_EINVAL, "statement nested too deeply (position 1)");
            return rc;
        }
        int added = strstr(pr.error->message, "subquery in FROM must have an alias") ? add_subquery_alias(c, pr.error->cursorpos) : FL_EUNSUPPORTED;
        if (added == FL_ENOMEM) {
            pg_query_free_parse_result(pr);
            return oom(c->x.err);
        }
        if (added != FL_OK) {
            int32_t pos = pr.error->cursorpos > 0 ? fl_xlate_pos(&c->x, pr.error->cursorpos - 1) : 0;
            int rc = fl_syntax_error(c->x.err, pr.error->message, pos > 0 ? pos : 1);
            pg_query_free_parse_result(pr);
            return rc;
        }
        pg_query_free_parse_result(pr);
    }
}

/* Position of the nth (from 1) keyword `kw` (a whole word outside quotes) in the user's text, or 1. */
static int32_t keyword_nth_pos(const stmt_ctx *c, const char *kw, int nth) {
    const char *s = c->sql;
    size_t n = strlen(kw);
    for (size_t i = 0; s[i];) {
        if (starts_quoted(s, i)) {
            i = skip_quoted(s, i);
            continue;
        }
        if (!strncasecmp(s + i, kw, n) && (i == 0 || !ident_char(s[i - 1])) && !ident_char(s[i + n]) && --nth == 0) {
            int32_t p = fl_xlate_pos(&c->x, (int64_t)i);
            return p > 0 ? p : 1;
        }
        i++;
    }
    return 1;
}

static int32_t keyword_pos(const stmt_ctx *c, const char *kw) { return keyword_nth_pos(c, kw, 1); }

/* ---- expressions: structural equality and the call hook ---- */

static bool node_equal(const fl_expr_node *a, const fl_expr_node *b) {
    if (a->kind != b->kind || a->type != b->type || a->op != b->op || a->negated != b->negated || a->case_insensitive != b->case_insensitive ||
        a->test != b->test || a->fn != b->fn || a->n_args != b->n_args)
        return false;
    if ((a->name || b->name) && (!a->name || !b->name || strcmp(a->name, b->name))) return false;
    if (a->kind == FL_EXPR_LITERAL) {
        if (a->lit_bool != b->lit_bool || a->lit_int != b->lit_int || memcmp(&a->lit_float, &b->lit_float, sizeof a->lit_float)) return false;
        if ((a->lit_string || b->lit_string) && (!a->lit_string || !b->lit_string || strcmp(a->lit_string, b->lit_string))) return false;
    }
    for (int32_t i = 0; i < a->n_args; i++)
        if (!node_equal(a->args[i], b->args[i])) return false;
    return true;
}

static const struct {
    const char *name;
    fl_agg_kind kind;
} aggregates[] = {{"count", FL_AGG_COUNT}, {"sum", FL_AGG_SUM}, {"avg", FL_AGG_AVG}, {"min", FL_AGG_MIN}, {"max", FL_AGG_MAX}};

/* A reference to an internal column ("$aK", "$unnest") standing for `text`. */
static fl_expr_node *internal_ref(stmt_ctx *c, const char *name, fl_expr_type type, const fl_field *elem, const char *text, int32_t pos) {
    fl_expr_node *n = fl_xlate_node(&c->x, FL_EXPR_COLUMN, pos, 0);
    if (!n) return NULL;
    n->name = fl_arena_strndup(c->x.arena, name, strlen(name));
    n->type = type;
    n->elem = elem;
    n->lit_string = text;
    return n->name ? n : NULL;
}

/* Translates with the given permissions, restoring the previous ones. */
static int translate_in(stmt_ctx *c, const fl_json *json, bool allow_agg, bool allow_unnest, bool in_agg, fl_expr_node **out) {
    bool a = c->allow_agg, u = c->allow_unnest, g = c->in_agg;
    c->allow_agg = allow_agg, c->allow_unnest = allow_unnest, c->in_agg = in_agg;
    c->x.context = c->context;
    int rc = fl_xlate_expr(&c->x, json, out);
    c->allow_agg = a, c->allow_unnest = u, c->in_agg = g;
    return rc;
}

static int agg_result_type(stmt_ctx *c, fl_agg_spec *s, const char *name, int32_t pos) {
    fl_expr_type t = s->arg ? s->arg->type : FL_EXPR_T_INT;
    bool numeric = t == FL_EXPR_T_INT || t == FL_EXPR_T_FLOAT || t == FL_EXPR_T_NULL;
    switch (s->kind) {
    case FL_AGG_COUNT_STAR:
    case FL_AGG_COUNT: s->type = FL_EXPR_T_INT; return FL_OK;
    case FL_AGG_SUM:
    case FL_AGG_AVG:
        if (!numeric) return fl_xlate_error(&c->x, pos, "%s expects a number, not %s", name, fl_expr_type_name(t));
        s->type = s->kind == FL_AGG_AVG || t == FL_EXPR_T_FLOAT ? FL_EXPR_T_FLOAT : FL_EXPR_T_INT;
        return FL_OK;
    default:
        if (t == FL_EXPR_T_LIST || t == FL_EXPR_T_OTHER)
            return fl_xlate_error(&c->x, pos, "%s cannot take %s values", name, fl_expr_type_name(t));
        s->type = t;
        return FL_OK;
    }
}

static const char *agg_text(stmt_ctx *c, const fl_agg_spec *s, const char *name) {
    if (s->kind == FL_AGG_COUNT_STAR) return "count(*)";
    fl_buf b;
    fl_buf_init(&b);
    fl_buf_printf(&b, "%s(%s", name, s->distinct ? "DISTINCT " : "");
    fl_expr_format(s->arg, &b);
    fl_buf_put_u8(&b, ')');
    const char *text = b.failed ? NULL : fl_arena_strndup(c->x.arena, (const char *)b.data, b.size);
    fl_buf_free(&b);
    return text;
}

static int translate_aggregate(stmt_ctx *c, const fl_json *body, int k, int32_t pos, fl_expr_node **out) {
    const char *name = aggregates[k].name;
    if (!c->allow_agg) return fl_xlate_error(&c->x, pos, "aggregate functions are not allowed in %s", c->context);
    if (c->in_agg) return fl_xlate_error(&c->x, pos, "aggregate function calls cannot be nested");
    if (fl_json_get(body, "agg_filter") || fl_json_get(body, "agg_order") || fl_json_get(body, "agg_within_group"))
        return fl_xlate_error(&c->x, pos, "FILTER, ORDER BY and WITHIN GROUP in aggregate calls are not supported");
    const fl_json *args = fl_json_get(body, "args");
    size_t n_args = args && args->kind == FL_JSON_ARRAY ? args->n : 0;
    fl_agg_spec s = {.kind = aggregates[k].kind, .distinct = fl_json_get(body, "agg_distinct") != NULL};
    if (fl_json_get(body, "agg_star")) {
        if (s.kind != FL_AGG_COUNT) return fl_xlate_error(&c->x, pos, "%s(*) is not valid; only count(*) is", name);
        s.kind = FL_AGG_COUNT_STAR;
    } else if (n_args != 1) return fl_xlate_error(&c->x, pos, "%s takes 1 argument, not %zu", name, n_args);
    else FL_RETURN_NOT_OK(translate_in(c, args->items[0], true, false, true, &s.arg));
    FL_RETURN_NOT_OK(agg_result_type(c, &s, name, pos));
    if (!(s.text = agg_text(c, &s, name))) return oom(c->x.err);
    fl_query *q = c->q;
    int32_t slot = -1;
    for (int32_t i = 0; i < q->n_aggs && slot < 0; i++)
        if (q->aggs[i].kind == s.kind && q->aggs[i].distinct == s.distinct && (!s.arg || node_equal(q->aggs[i].arg, s.arg))) slot = i;
    if (slot < 0) {
        if (q->n_aggs >= FL_SELECT_MAX_COLUMNS) return fl_xlate_error(&c->x, pos, "too many aggregates (at most %d)", FL_SELECT_MAX_COLUMNS);
        if (!arena_grow(&q->arena, (void **)&q->aggs, q->n_aggs, &q->cap_aggs, sizeof *q->aggs)) return oom(c->x.err);
        q->aggs[q->n_aggs] = s;
        slot = q->n_aggs++;
    }
    char ref[16];
    snprintf(ref, sizeof ref, "$a%d", (int)slot);
    return (*out = internal_ref(c, ref, s.type, NULL, s.text, pos)) ? FL_OK : oom(c->x.err);
}

static int translate_unnest(stmt_ctx *c, const fl_json *body, int32_t pos, fl_expr_node **out) {
    if (!c->allow_unnest) return fl_xlate_error(&c->x, pos, "unnest is only allowed in the select list%s", c->in_agg ? " (not inside an aggregate)" : "");
    const fl_json *args = fl_json_get(body, "args");
    size_t n_args = args && args->kind == FL_JSON_ARRAY ? args->n : 0;
    if (n_args != 1) return fl_xlate_error(&c->x, pos, "unnest takes 1 argument, not %zu", n_args);
    fl_expr_node *arg;
    FL_RETURN_NOT_OK(translate_in(c, args->items[0], false, false, false, &arg));
    if (arg->type != FL_EXPR_T_LIST) return fl_xlate_error(&c->x, arg->pos ? arg->pos : pos, "unnest expects a list, not %s", fl_expr_type_name(arg->type));
    fl_query *q = c->q;
    if (q->unnest_arg && !node_equal(q->unnest_arg, arg)) return fl_xlate_error(&c->x, pos, "only one unnest(...) per SELECT is supported");
    q->unnest_arg = arg;
    fl_buf b;
    fl_buf_init(&b);
    fl_buf_printf(&b, "unnest(");
    fl_expr_format(arg, &b);
    fl_buf_put_u8(&b, ')');
    const char *text = b.failed ? NULL : fl_arena_strndup(c->x.arena, (const char *)b.data, b.size);
    fl_buf_free(&b);
    const fl_field *elem = arg->elem;
    fl_expr_type t = fl_expr_type_of_field(elem);
    *out = text ? internal_ref(c, "$unnest", t, t == FL_EXPR_T_LIST ? &elem->children[0] : NULL, text, pos) : NULL;
    return *out ? FL_OK : oom(c->x.err);
}

static int unknown_function(stmt_ctx *c, const char *name, int32_t pos) {
    const char *names[80];
    size_t k = 0;
    for (const fl_expr_function *f; k < 64 && (f = fl_expr_function_at((int)k)); k++) names[k] = f->name;
    for (size_t i = 0; i < sizeof aggregates / sizeof aggregates[0]; i++) names[k++] = aggregates[i].name;
    names[k++] = "unnest";
    const char *best = fl_closest_name(name, names, k);
    if (best) return fl_xlate_error(&c->x, pos, "function \"%s\" not found; did you mean \"%s\"?", name, best);
    return fl_xlate_error(&c->x, pos, "function \"%s\" not found", name);
}

static int call_hook(fl_xlate *x, const fl_json *body, const char *name, int32_t pos, fl_expr_node **out, bool *handled) {
    stmt_ctx *c = x->ctx;
    *handled = true;
    if (fl_json_get(body, "over")) return fl_xlate_error(x, pos, "window functions are not supported");
    for (size_t k = 0; k < sizeof aggregates / sizeof aggregates[0]; k++)
        if (!strcmp(name, aggregates[k].name)) return translate_aggregate(c, body, (int)k, pos, out);
    if (!strcmp(name, "unnest")) return translate_unnest(c, body, pos, out);
    if (!fl_expr_function_find(name)) return unknown_function(c, name, pos);
    if (fl_json_get(body, "agg_star") || fl_json_get(body, "agg_distinct"))
        return fl_xlate_error(x, pos, "%s is not an aggregate function", name);
    *handled = false;
    return FL_OK;
}

/* ---- clauses ---- */

static const char *statement_name(const char *key) {
    static const struct {
        const char *key, *name;
    } names[] = {{"InsertStmt", "INSERT"}, {"UpdateStmt", "UPDATE"}, {"DeleteStmt", "DELETE"}, {"CreateStmt", "CREATE TABLE"},
                 {"CreateTableAsStmt", "CREATE TABLE AS"}, {"DropStmt", "DROP"}, {"IndexStmt", "CREATE INDEX"}, {"ViewStmt", "CREATE VIEW"},
                 {"AlterTableStmt", "ALTER TABLE"}, {"TruncateStmt", "TRUNCATE"}, {"ExplainStmt", "EXPLAIN"}, {"CopyStmt", "COPY"}};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (!strcmp(names[i].key, key)) return names[i].name;
    return key;
}

/* Refuses what the engine does not do, with the position of the clause (invariant 1). */
static int check_select_shape(stmt_ctx *c, const fl_json *sel) {
    const char *op = fl_json_get_string(sel, "op");
    if (op && strcmp(op, "SETOP_NONE")) {
        const char *kw = strstr(op, "UNION") ? "UNION" : strstr(op, "INTERSECT") ? "INTERSECT" : "EXCEPT";
        return fl_xlate_error(&c->x, keyword_pos(c, kw), "%s is not supported", kw);
    }
    if (fl_json_get(sel, "withClause")) return fl_xlate_error(&c->x, keyword_pos(c, "WITH"), "WITH (common table expressions) is not supported");
    if (fl_json_get(sel, "valuesLists")) return fl_xlate_error(&c->x, keyword_pos(c, "VALUES"), "VALUES is not supported");
    if (fl_json_get(sel, "intoClause")) return fl_xlate_error(&c->x, keyword_pos(c, "INTO"), "SELECT INTO is not supported");
    if (fl_json_get(sel, "windowClause")) return fl_xlate_error(&c->x, keyword_pos(c, "WINDOW"), "window functions are not supported");
    if (fl_json_get(sel, "lockingClause")) return fl_xlate_error(&c->x, keyword_pos(c, "FOR"), "FOR UPDATE/SHARE is not supported");
    const char *lim = fl_json_get_string(sel, "limitOption");
    if (lim && !strcmp(lim, "LIMIT_OPTION_WITH_TIES")) return fl_xlate_error(&c->x, keyword_pos(c, "TIES"), "FETCH ... WITH TIES is not supported");
    const fl_json *d = fl_json_get(sel, "distinctClause");
    if (d && d->kind == FL_JSON_ARRAY && d->n > 0 && d->items[0]->kind == FL_JSON_OBJECT && d->items[0]->n > 0)
        return fl_xlate_error(&c->x, keyword_pos(c, "ON"), "DISTINCT ON is not supported");
    return FL_OK;
}

static int translate_query(stmt_ctx *c, const fl_json *sel, int depth, fl_query **out);

/* The token end of a FROM name at `location` (a plain or "quoted" identifier). */
static int64_t name_end(const char *s, int64_t location) {
    size_t i = (size_t)location;
    if (s[i] == '"') return (int64_t)skip_quoted(s, i);
    while (s[i] && (isalnum((unsigned char)s[i]) || s[i] == '_' || s[i] == '$')) i++;
    return (int64_t)i;
}

static int table_not_found(stmt_ctx *c, const char *name, int32_t pos) {
    char **names = NULL;
    size_t n = 0;
    if (fl_db_list_tables(c->db, &names, &n, NULL) != FL_OK) n = 0;
    const char *best = fl_closest_name(name, (const char *const *)names, n);
    int rc = best ? fl_error_set(c->x.err, FL_ENOTFOUND, "table \"%s\" not found; did you mean \"%s\"? (position %d)", name, best, (int)pos)
                  : fl_error_set(c->x.err, FL_ENOTFOUND, "table \"%s\" not found (position %d)", name, (int)pos);
    fl_strings_free(names, n);
    return rc;
}

static int open_table(stmt_ctx *c, fl_query *q, const fl_json *rv) {
    const char *name = fl_json_get_string(rv, "relname");
    int32_t pos = loc_pos(c, rv);
    if (!name) return fl_xlate_error(&c->x, pos, "bad table reference");
    if (fl_json_get(rv, "schemaname") || fl_json_get(rv, "catalogname"))
        return fl_xlate_error(&c->x, pos, "schema-qualified table names are not supported");
    q->table_name = name;
    q->table_pos = pos;
    fl_open_options oo = {0};
    int64_t end = name_end(c->sql, fl_json_get_int(rv, "location", 0));
    if (c->version_at >= 0 && end == c->version_at) {
        if (c->opts && (c->opts->version_set || c->opts->tag))
            return fl_xlate_error(&c->x, pos, "the statement names version @%llu and the options name another", (unsigned long long)c->version);
        oo.version = c->version;
        c->version_used = true;
    } else if (c->opts) {
        if (c->opts->version_set && c->opts->tag) return fl_error_set(c->x.err, FL_EINVAL, "give a version or a tag, not both");
        if (c->opts->version_set && c->opts->version == 0) return fl_error_set(c->x.err, FL_EINVAL, "versions start at 1");
        oo.version = c->opts->version_set ? c->opts->version : 0;
        oo.tag = c->opts->tag;
    }
    q->version_set = oo.version != 0;
    q->version = oo.version;
    q->tag = oo.tag;
    int rc = fl_table_open(c->db, name, &oo, &q->table, c->x.err);
    if (rc == FL_ENOTFOUND) {
        /* A missing table (not a missing version or tag) gets the position and the closest name. */
        char **names = NULL;
        size_t n = 0;
        bool exists = true;
        if (fl_db_list_tables(c->db, &names, &n, NULL) == FL_OK) {
            exists = false;
            for (size_t i = 0; i < n; i++) exists |= !strcmp(names[i], name);
            fl_strings_free(names, n);
        }
        if (!exists) return table_not_found(c, name, pos);
    }
    FL_RETURN_NOT_OK(rc);
    q->owns_table = true;
    q->input = fl_schema_copy(fl_table_schema(q->table));
    return q->input ? FL_OK : oom(c->x.err);
}

static int translate_from(stmt_ctx *c, fl_query *q, const fl_json *sel, int depth) {
    const fl_json *from = fl_json_get(sel, "fromClause");
    if (!from || from->kind != FL_JSON_ARRAY || from->n == 0) return fl_xlate_error(&c->x, 1, "SELECT needs FROM with a table");
    if (from->n > 1) {
        const char *k;
        const fl_json *second = fl_json_single(from->items[1], &k);
        int32_t pos = second ? loc_pos(c, second) : 0;
        return fl_xlate_error(&c->x, pos > 0 ? pos : keyword_pos(c, "FROM"), "several tables in FROM are not supported (joins are not supported)");
    }
    const char *key;
    const fl_json *item = fl_json_single(from->items[0], &key);
    if (!item) return fl_xlate_error(&c->x, keyword_pos(c, "FROM"), "bad FROM clause");
    const fl_json *alias = fl_json_get(item, "alias");
    const char *alias_name = alias ? fl_json_get_string(alias, "aliasname") : NULL;
    if (!strcmp(key, "RangeVar")) {
        FL_RETURN_NOT_OK(open_table(c, q, item));
        c->x.qualifier = alias_name ? alias_name : q->table_name;
        c->x.qualifier2 = q->table_name;
        return FL_OK;
    }
    if (!strcmp(key, "JoinExpr")) return fl_xlate_error(&c->x, keyword_pos(c, "JOIN"), "joins are not supported");
    if (!strcmp(key, "RangeSubselect")) {
        if (depth > 0) return fl_xlate_error(&c->x, keyword_nth_pos(c, "FROM", depth + 1), "only one level of subquery in FROM is supported");
        const char *sk;
        const fl_json *inner = fl_json_single(fl_json_get(item, "subquery"), &sk);
        if (!inner || strcmp(sk, "SelectStmt")) return fl_xlate_error(&c->x, keyword_pos(c, "FROM"), "a FROM subquery must be a SELECT");
        fl_query *outer = c->q;
        int rc = translate_query(c, inner, depth + 1, &q->sub);
        c->q = outer;
        FL_RETURN_NOT_OK(rc);
        q->input = fl_schema_new();
        if (!q->input) return oom(c->x.err);
        for (int32_t i = 0; i < q->sub->n_out; i++)
            if (fl_schema_append_field(q->input, &q->sub->output->fields[i]) != FL_OK) return oom(c->x.err);
        c->x.qualifier = alias_name && strcmp(alias_name, "_subquery") ? alias_name : NULL;
        c->x.qualifier2 = NULL;
        return FL_OK;
    }
    if (!strcmp(key, "RangeFunction")) return fl_xlate_error(&c->x, keyword_pos(c, "FROM"), "functions in FROM are not supported");
    return fl_xlate_error(&c->x, keyword_pos(c, "FROM"), "unsupported FROM item (%s)", key);
}

static int translate_where(stmt_ctx *c, fl_query *q, const fl_json *where) {
    fl_expr *e = fl_calloc(1, sizeof *e);
    if (!e) return oom(c->x.err);
    fl_arena_init(&e->arena);
    q->where = e;
    if (!(e->schema = fl_schema_copy(q->input))) return oom(c->x.err);
    fl_xlate saved = c->x;
    c->x.arena = &e->arena;
    c->x.schema = e->schema;
    c->x.record = e;
    c->context = "WHERE";
    int rc = translate_in(c, where, false, false, false, &e->root);
    c->x.arena = saved.arena;
    c->x.schema = saved.schema;
    c->x.record = NULL;
    FL_RETURN_NOT_OK(rc);
    if (e->root->type != FL_EXPR_T_BOOL && e->root->type != FL_EXPR_T_NULL)
        return fl_xlate_error(&c->x, e->root->pos ? e->root->pos : 1, "WHERE must be boolean, not %s", fl_expr_type_name(e->root->type));
    return FL_OK;
}

int fl_query_add_proj(fl_query *q, fl_expr_node *node, const char *name, fl_error *err) {
    if (q->n_proj >= FL_SELECT_MAX_COLUMNS)
        return fl_error_set(err, FL_EINVAL, "too many columns (at most %d, sort keys included)", FL_SELECT_MAX_COLUMNS);
    int32_t cap = q->cap_proj;
    if (!arena_grow(&q->arena, (void **)&q->proj, q->n_proj, &cap, sizeof *q->proj) ||
        !arena_grow(&q->arena, (void **)&q->names, q->n_proj, &q->cap_proj, sizeof *q->names))
        return fl_error_set(err, FL_ENOMEM, "out of memory");
    q->proj[q->n_proj] = node;
    q->names[q->n_proj++] = name;
    return FL_OK;
}

static int add_proj(stmt_ctx *c, fl_query *q, fl_expr_node *node, const char *name) { return fl_query_add_proj(q, node, name, c->x.err); }

static const char *derived_name(fl_query *q, const fl_expr_node *n) {
    if (n->kind == FL_EXPR_COLUMN) return n->name[0] == '$' && n->lit_string ? n->lit_string : n->name;
    return fl_expr_text(&q->arena, n);
}

static int expand_star(stmt_ctx *c, fl_query *q, int32_t pos) {
    for (int32_t i = 0; i < q->input->n_fields; i++) {
        const fl_field *f = &q->input->fields[i];
        fl_expr_node *n = fl_xlate_node(&c->x, FL_EXPR_COLUMN, pos, 0);
        if (!n) return oom(c->x.err);
        n->name = f->name;
        n->type = fl_expr_type_of_field(f);
        if (n->type == FL_EXPR_T_LIST) n->elem = &f->children[0];
        FL_RETURN_NOT_OK(add_proj(c, q, n, f->name));
    }
    return FL_OK;
}

static bool is_star(const fl_json *val) {
    const fl_json *fields = fl_json_get(fl_json_get(val, "ColumnRef"), "fields");
    return fields && fields->kind == FL_JSON_ARRAY && fields->n >= 1 && fl_json_get(fields->items[fields->n - 1], "A_Star");
}

static int translate_targets(stmt_ctx *c, fl_query *q, const fl_json *sel) {
    const fl_json *targets = fl_json_get(sel, "targetList");
    if (!targets || targets->kind != FL_JSON_ARRAY || targets->n == 0) return fl_xlate_error(&c->x, 1, "SELECT needs a select list");
    c->context = "the select list";
    for (size_t i = 0; i < targets->n; i++) {
        const fl_json *rt = fl_json_get(targets->items[i], "ResTarget");
        const fl_json *val = fl_json_get(rt, "val");
        if (!val) return fl_xlate_error(&c->x, 1, "bad select list");
        if (is_star(val)) {
            FL_RETURN_NOT_OK(expand_star(c, q, loc_pos(c, rt)));
            continue;
        }
        fl_expr_node *n;
        FL_RETURN_NOT_OK(translate_in(c, val, true, true, false, &n));
        const char *alias = fl_json_get_string(rt, "name");
        const char *name = alias ? alias : derived_name(q, n);
        if (!name) return oom(c->x.err);
        FL_RETURN_NOT_OK(add_proj(c, q, n, name));
    }
    q->n_out = q->n_proj;
    return FL_OK;
}

/* An integer literal (an ordinal) or -1. */
static int64_t ordinal_of(const fl_json *json) {
    const fl_json *k = fl_json_get(json, "A_Const");
    const fl_json *iv = k ? fl_json_get(k, "ival") : NULL;
    return iv ? fl_json_get_int(iv, "ival", 0) : -1;
}

/* The single name of a bare column reference, or NULL. */
static const char *bare_name(const fl_json *json) {
    const fl_json *fields = fl_json_get(fl_json_get(json, "ColumnRef"), "fields");
    return fields && fields->kind == FL_JSON_ARRAY && fields->n == 1 ? fl_xlate_string(fields->items[0]) : NULL;
}

static bool contains_aggregate(const fl_expr_node *n) {
    if (n->kind == FL_EXPR_COLUMN) return n->name[0] == '$' && n->name[1] == 'a';
    for (int32_t i = 0; i < n->n_args; i++)
        if (contains_aggregate(n->args[i])) return true;
    return false;
}

static int translate_group_item(stmt_ctx *c, fl_query *q, const fl_json *item, fl_expr_node **out) {
    const char *key;
    const fl_json *body = fl_json_single(item, &key);
    int32_t pos = body ? loc_pos(c, body) : 0;
    if (body && (!strcmp(key, "GroupingSet") || !strcmp(key, "RowExpr")))
        return fl_xlate_error(&c->x, pos > 0 ? pos : keyword_pos(c, "GROUP"), "GROUPING SETS, ROLLUP and CUBE are not supported");
    int64_t ord = ordinal_of(item);
    const char *name = bare_name(item);
    if (ord >= 0) {
        if (ord < 1 || ord > q->n_out) return fl_xlate_error(&c->x, pos, "GROUP BY position %lld is not in the select list", (long long)ord);
        *out = q->proj[ord - 1];
        if (contains_aggregate(*out)) return fl_xlate_error(&c->x, pos, "GROUP BY position %lld refers to an aggregate", (long long)ord);
        return FL_OK;
    }
    if (name && fl_schema_find(q->input, name) < 0) {
        for (int32_t i = 0; i < q->n_out; i++)
            if (!strcmp(q->names[i], name)) {
                *out = q->proj[i];
                if (contains_aggregate(*out)) return fl_xlate_error(&c->x, pos, "GROUP BY \"%s\" refers to an aggregate", name);
                return FL_OK;
            }
    }
    c->context = "GROUP BY";
    return translate_in(c, item, false, false, false, out);
}

static int translate_group_by(stmt_ctx *c, fl_query *q, const fl_json *sel) {
    const fl_json *groups = fl_json_get(sel, "groupClause");
    if (!groups || groups->kind != FL_JSON_ARRAY) return FL_OK;
    q->groups = fl_arena_alloc(&q->arena, (groups->n + 1) * sizeof *q->groups);
    q->group_texts = fl_arena_alloc(&q->arena, (groups->n + 1) * sizeof *q->group_texts);
    if (!q->groups || !q->group_texts) return oom(c->x.err);
    for (size_t i = 0; i < groups->n; i++) {
        fl_expr_node *n;
        FL_RETURN_NOT_OK(translate_group_item(c, q, groups->items[i], &n));
        bool dup = false;
        for (int32_t k = 0; k < q->n_groups; k++) dup |= node_equal(q->groups[k], n);
        if (dup) continue;
        q->group_texts[q->n_groups] = derived_name(q, n);
        if (!q->group_texts[q->n_groups]) return oom(c->x.err);
        q->groups[q->n_groups++] = n;
    }
    return FL_OK;
}

/* Invariant 2: reads of the aggregate input become group key references, or errors. */
static int rewrite_grouped(stmt_ctx *c, fl_query *q, fl_expr_node **slot) {
    fl_expr_node *n = *slot;
    for (int32_t k = 0; k < q->n_groups; k++) {
        if (!node_equal(n, q->groups[k])) continue;
        char ref[16];
        snprintf(ref, sizeof ref, "$g%d", (int)k);
        *slot = internal_ref(c, ref, n->type, n->elem, q->group_texts[k], n->pos);
        return *slot ? FL_OK : oom(c->x.err);
    }
    if (n->kind == FL_EXPR_COLUMN && !(n->name[0] == '$' && n->name[1] == 'a')) {
        const char *shown = n->name[0] == '$' && n->lit_string ? n->lit_string : n->name;
        return fl_xlate_error(&c->x, n->pos, "column \"%s\" must appear in the GROUP BY clause or be used in an aggregate function", shown);
    }
    for (int32_t i = 0; i < n->n_args; i++) FL_RETURN_NOT_OK(rewrite_grouped(c, q, &n->args[i]));
    return FL_OK;
}

static int build_agg_schema(stmt_ctx *c, fl_query *q) {
    if (!(q->agg_out = fl_schema_new())) return oom(c->x.err);
    for (int32_t k = 0; k < q->n_groups + q->n_aggs; k++) {
        char name[16];
        snprintf(name, sizeof name, k < q->n_groups ? "$g%d" : "$a%d", (int)(k < q->n_groups ? k : k - q->n_groups));
        fl_field f;
        int rc;
        if (k < q->n_groups) rc = fl_node_field(q->groups[k], q->stage, name, &f);
        else {
            fl_expr_node tmp = {.kind = FL_EXPR_LITERAL, .type = q->aggs[k - q->n_groups].type};
            rc = fl_node_field(&tmp, q->stage, name, &f);
        }
        if (rc == FL_OK) rc = fl_schema_append_field(q->agg_out, &f);
        fl_field_clear(&f);
        if (rc != FL_OK) return oom(c->x.err);
    }
    return FL_OK;
}

/* The schema select items, groups and aggregates read: input columns, plus "$unnest" when exploding. */
static int build_stage(stmt_ctx *c, fl_query *q) {
    if (!(q->stage = fl_schema_copy(q->input))) return oom(c->x.err);
    if (!q->unnest_arg) return FL_OK;
    fl_field f;
    if (fl_field_copy_into(&f, q->unnest_arg->elem) != FL_OK) return oom(c->x.err);
    fl_free(f.name);
    f.name = fl_strdup("$unnest");
    f.nullable = true;
    int rc = f.name ? fl_schema_append_field(q->stage, &f) : FL_ENOMEM;
    fl_field_clear(&f);
    return rc == FL_OK ? FL_OK : oom(c->x.err);
}

/* ---- ORDER BY (shared with fl_table_query) ---- */

typedef struct order_item {
    fl_expr_node *node;         /* NULL when it names a projected column */
    int32_t column;
    bool desc, nulls_first;
    int32_t pos;
} order_item;

static int translate_sort_by(stmt_ctx *c, fl_query *q, const fl_json *item, order_item *o) {
    const fl_json *sb = fl_json_get(item, "SortBy");
    const fl_json *node = fl_json_get(sb, "node");
    if (!sb || !node) return fl_xlate_error(&c->x, 1, "bad ORDER BY item");
    const char *dir = fl_json_get_string(sb, "sortby_dir"), *nulls = fl_json_get_string(sb, "sortby_nulls");
    if (dir && !strcmp(dir, "SORTBY_USING")) return fl_xlate_error(&c->x, keyword_pos(c, "USING"), "ORDER BY ... USING is not supported");
    o->desc = dir && !strcmp(dir, "SORTBY_DESC");
    o->nulls_first = nulls && strcmp(nulls, "SORTBY_NULLS_DEFAULT") ? !strcmp(nulls, "SORTBY_NULLS_FIRST") : o->desc;
    o->column = -1;
    o->node = NULL;
    const char *k;
    const fl_json *body = fl_json_single(node, &k);
    o->pos = body ? loc_pos(c, body) : 0;
    int64_t ord = ordinal_of(node);
    if (ord >= 0) {
        if (ord < 1 || ord > q->n_out) return fl_xlate_error(&c->x, o->pos, "ORDER BY position %lld is not in the select list", (long long)ord);
        o->column = (int32_t)ord - 1;
        return FL_OK;
    }
    const char *name = bare_name(node);
    for (int32_t i = 0; name && i < q->n_out; i++)
        if (!strcmp(q->names[i], name)) {
            o->column = i;
            return FL_OK;
        }
    c->context = "ORDER BY";
    return translate_in(c, node, true, false, false, &o->node);
}

static int translate_order_list(stmt_ctx *c, fl_query *q, const fl_json *list, order_item **items, size_t *n) {
    *n = 0;
    if (!list || list->kind != FL_JSON_ARRAY) return FL_OK;
    if (!(*items = fl_arena_alloc(&q->arena, (list->n + 1) * sizeof **items))) return oom(c->x.err);
    for (size_t i = 0; i < list->n; i++) FL_RETURN_NOT_OK(translate_sort_by(c, q, list->items[i], &(*items)[i]));
    *n = list->n;
    return FL_OK;
}

/* Resolves ORDER BY items to projected columns, adding hidden ones for other expressions. */
static int finish_order(stmt_ctx *c, fl_query *q, order_item *items, size_t n) {
    if (!n) return FL_OK;
    if (!(q->sort = fl_arena_alloc(&q->arena, n * sizeof *q->sort))) return oom(c->x.err);
    for (size_t i = 0; i < n; i++) {
        order_item *o = &items[i];
        if (o->node) {
            if (q->aggregate) FL_RETURN_NOT_OK(rewrite_grouped(c, q, &o->node));
            for (int32_t k = 0; k < q->n_proj && o->column < 0; k++)
                if (node_equal(q->proj[k], o->node)) o->column = k;
            if (o->column < 0) {
                if (q->distinct)
                    return fl_xlate_error(&c->x, o->pos, "for SELECT DISTINCT, ORDER BY expressions must appear in the select list");
                char name[16];
                snprintf(name, sizeof name, "$s%d", (int)(q->n_proj - q->n_out));
                const char *stored = fl_arena_strndup(&q->arena, name, strlen(name));
                if (!stored) return oom(c->x.err);
                o->column = q->n_proj;
                FL_RETURN_NOT_OK(add_proj(c, q, o->node, stored));
            }
        }
        fl_sort_key *s = &q->sort[q->n_sort++];
        s->column = o->column;
        s->desc = o->desc;
        s->nulls_first = o->nulls_first;
        fl_buf b;
        fl_buf_init(&b);
        if (o->node) fl_expr_format(o->node, &b);
        else fl_format_ident(&b, q->names[o->column]);
        fl_buf_printf(&b, "%s%s", o->desc ? " DESC" : "", o->nulls_first != o->desc ? (o->nulls_first ? " NULLS FIRST" : " NULLS LAST") : "");
        s->text = b.failed ? NULL : fl_arena_strndup(&q->arena, (const char *)b.data, b.size);
        fl_buf_free(&b);
        if (!s->text) return oom(c->x.err);
    }
    return FL_OK;
}

/* The fields Project produces (visible then hidden). */
static int build_output(stmt_ctx *c, fl_query *q) {
    const fl_schema *in = q->aggregate ? q->agg_out : q->stage;
    if (!(q->output = fl_schema_new())) return oom(c->x.err);
    for (int32_t i = 0; i < q->n_proj; i++) {
        fl_field f;
        if (fl_node_field(q->proj[i], in, q->names[i], &f) != FL_OK) return oom(c->x.err);
        int rc = fl_schema_append_field(q->output, &f);
        fl_field_clear(&f);
        if (rc != FL_OK) return oom(c->x.err);
    }
    return FL_OK;
}

static bool name_taken(const fl_query *q, const char *name) {
    for (int32_t k = 0; k < q->n_out; k++)
        if (!strcmp(q->names[k], name)) return true;
    return false;
}

/* Output names must be distinct for an outer query to refer to them: the k-th repeat of a name becomes
 * "name_k" (counting on while that is taken too). */
static int unique_names(stmt_ctx *c, fl_query *q) {
    const char **original = fl_arena_alloc(&q->arena, ((size_t)q->n_out + 1) * sizeof *original);
    if (!original) return oom(c->x.err);
    memcpy(original, q->names, (size_t)q->n_out * sizeof *original);
    for (int32_t i = 1; i < q->n_out; i++) {
        int dup = 1;
        for (int32_t k = 0; k < i; k++) dup += !strcmp(original[k], original[i]);
        if (dup == 1) continue;
        for (;; dup++) {
            char *name = fl_sprintf("%s_%d", original[i], dup);
            if (!name) return oom(c->x.err);
            bool taken = name_taken(q, name);
            const char *stored = taken ? NULL : fl_arena_strndup(&q->arena, name, strlen(name));
            fl_free(name);
            if (taken) continue;
            if (!stored) return oom(c->x.err);
            q->names[i] = stored;
            break;
        }
    }
    return FL_OK;
}

static int limit_value(stmt_ctx *c, const fl_json *json, const char *what, bool *set, int64_t *out) {
    *set = false;
    if (!json) return FL_OK;
    fl_schema none = {0};
    const fl_schema *saved = c->x.schema;
    c->x.schema = &none;
    c->context = what;
    fl_expr_node *n;
    int rc = translate_in(c, json, false, false, false, &n);
    c->x.schema = saved;
    FL_RETURN_NOT_OK(rc);
    if (n->kind == FL_EXPR_LITERAL && n->type == FL_EXPR_T_NULL) return FL_OK;
    if (n->kind != FL_EXPR_LITERAL || n->type != FL_EXPR_T_INT) return fl_xlate_error(&c->x, n->pos, "%s must be an integer constant", what);
    if (n->lit_int < 0) return fl_xlate_error(&c->x, n->pos, "%s must not be negative", what);
    *set = true;
    *out = n->lit_int;
    return FL_OK;
}

static int translate_having(stmt_ctx *c, fl_query *q, const fl_json *sel) {
    const fl_json *having = fl_json_get(sel, "havingClause");
    if (!having) return FL_OK;
    c->context = "HAVING";
    FL_RETURN_NOT_OK(translate_in(c, having, true, false, false, &q->having));
    if (q->having->type != FL_EXPR_T_BOOL && q->having->type != FL_EXPR_T_NULL)
        return fl_xlate_error(&c->x, q->having->pos ? q->having->pos : 1, "HAVING must be boolean, not %s", fl_expr_type_name(q->having->type));
    return FL_OK;
}

static int translate_query_clauses(stmt_ctx *c, fl_query *q, const fl_json *sel, int depth) {
    FL_RETURN_NOT_OK(check_select_shape(c, sel));
    FL_RETURN_NOT_OK(translate_from(c, q, sel, depth));
    c->x.schema = q->input;
    c->x.arena = &q->arena;
    const fl_json *where = fl_json_get(sel, "whereClause");
    if (where) FL_RETURN_NOT_OK(translate_where(c, q, where));
    FL_RETURN_NOT_OK(translate_targets(c, q, sel));
    const fl_json *d = fl_json_get(sel, "distinctClause");
    q->distinct = d && d->kind == FL_JSON_ARRAY;
    FL_RETURN_NOT_OK(translate_group_by(c, q, sel));
    FL_RETURN_NOT_OK(translate_having(c, q, sel));
    order_item *order = NULL;
    size_t n_order = 0;
    FL_RETURN_NOT_OK(translate_order_list(c, q, fl_json_get(sel, "sortClause"), &order, &n_order));
    q->aggregate = q->n_groups > 0 || q->n_aggs > 0 || q->having;
    FL_RETURN_NOT_OK(build_stage(c, q));
    if (q->aggregate) {
        for (int32_t i = 0; i < q->n_out; i++) FL_RETURN_NOT_OK(rewrite_grouped(c, q, &q->proj[i]));
        if (q->having) FL_RETURN_NOT_OK(rewrite_grouped(c, q, &q->having));
        FL_RETURN_NOT_OK(build_agg_schema(c, q));
    }
    FL_RETURN_NOT_OK(unique_names(c, q));
    FL_RETURN_NOT_OK(finish_order(c, q, order, n_order));
    bool has_offset;
    FL_RETURN_NOT_OK(limit_value(c, fl_json_get(sel, "limitCount"), "LIMIT", &q->has_limit, &q->limit));
    FL_RETURN_NOT_OK(limit_value(c, fl_json_get(sel, "limitOffset"), "OFFSET", &has_offset, &q->offset));
    return build_output(c, q);
}

static int translate_query(stmt_ctx *c, const fl_json *sel, int depth, fl_query **out) {
    fl_query *q = query_new();
    if (!q) return oom(c->x.err);
    *out = q;
    c->q = q;
    return translate_query_clauses(c, q, sel, depth);
}

/* The one statement of the tree, which must be a SELECT. */
static int the_select(stmt_ctx *c, const fl_json *tree, const fl_json **sel) {
    const fl_json *stmts = fl_json_get(tree, "stmts");
    if (!stmts || stmts->kind != FL_JSON_ARRAY || stmts->n == 0) return fl_xlate_error(&c->x, 1, "empty statement");
    if (stmts->n > 1) {
        int32_t pos = fl_xlate_pos(&c->x, fl_json_get_int(stmts->items[1], "stmt_location", 0));
        return fl_xlate_error(&c->x, pos > 0 ? pos : 1, "one statement at a time");
    }
    const char *key;
    *sel = fl_json_single(fl_json_get(stmts->items[0], "stmt"), &key);
    if (!*sel) return fl_xlate_error(&c->x, 1, "empty statement");
    if (strcmp(key, "SelectStmt")) {
        int32_t pos = fl_xlate_pos(&c->x, fl_json_get_int(stmts->items[0], "stmt_location", 0));
        return fl_xlate_error(&c->x, pos > 0 ? pos : 1, "only SELECT statements are supported, not %s", statement_name(key));
    }
    return FL_OK;
}

static bool blank_text(const char *s) {
    while (*s && isspace((unsigned char)*s)) s++;
    return *s == 0;
}

int fl_select_translate(fl_db *db, const char *sql, const fl_sql_options *opts, fl_query **out, fl_error *err) {
    *out = NULL;
    if (!sql || blank_text(sql)) return fl_error_set(err, FL_EINVAL, "empty statement");
    stmt_ctx c = {.db = db, .opts = opts, .version_at = -1};
    c.x.err = err;
    c.x.call_hook = call_hook;
    c.x.ctx = &c;
    /* The top query's arena also holds the parse tree: nodes point to its string literals. */
    fl_query *q = query_new();
    if (!q || !(c.sql = fl_strdup(sql))) {
        fl_query_free(q);
        return oom(err);
    }
    fl_json *tree = NULL;
    const fl_json *sel = NULL;
    int rc = blank_version(&c);
    if (rc == FL_OK) rc = fl_xlate_bracket_arrays(&c.x, &c.sql);
    if (rc == FL_OK) rc = parse_sql(&c, &q->arena, &tree);
    c.x.sql = c.sql;
    if (rc == FL_OK) rc = the_select(&c, tree, &sel);
    if (rc == FL_OK) {
        c.q = q;
        rc = translate_query_clauses(&c, q, sel, 0);
    }
    if (rc == FL_OK && c.version_at >= 0 && !c.version_used)
        rc = fl_xlate_error(&c.x, fl_xlate_pos(&c.x, c.version_at), "a version (@N) must follow the table name in FROM");
    fl_free(c.sql);
    if (rc != FL_OK) {
        fl_query_free(q);
        return rc;
    }
    *out = q;
    return FL_OK;
}

/* ---- queries built from fl_query_options ---- */

#define ORDER_PREFIX "SELECT 1 FROM t ORDER BY "

static int order_by_text(stmt_ctx *c, fl_query *q, const char *text) {
    fl_error *err = c->x.err;
    if (!(c->sql = fl_sprintf("%s%s", ORDER_PREFIX, text))) return oom(err);
    c->x.sql = c->sql;
    fl_json *tree;
    const fl_json *sel = NULL;
    int rc = blank_text(text) ? fl_error_set(err, FL_EINVAL, "empty ORDER BY") : parse_sql(c, &q->arena, &tree);
    if (rc == FL_OK) rc = the_select(c, tree, &sel);
    for (size_t i = 0; rc == FL_OK && i < sel->n; i++) {
        const char *k = sel->keys[i];
        if (strcmp(k, "targetList") && strcmp(k, "fromClause") && strcmp(k, "sortClause") && strcmp(k, "limitOption") && strcmp(k, "op"))
            rc = fl_error_set(err, FL_EINVAL, "ORDER BY is a list of sort keys (found a %s clause)", k);
    }
    order_item *items = NULL;
    size_t n = 0;
    if (rc == FL_OK) rc = translate_order_list(c, q, fl_json_get(sel, "sortClause"), &items, &n);
    if (rc == FL_OK) rc = finish_order(c, q, items, n);
    fl_free(c->sql);
    c->sql = NULL;
    return rc;
}

int fl_select_finish_plain(fl_query *q, const char *order_by, fl_error *err) {
    stmt_ctx c = {.version_at = -1, .q = q};
    c.x.err = err;
    c.x.call_hook = call_hook;
    c.x.ctx = &c;
    c.x.user_start = (int64_t)strlen(ORDER_PREFIX);
    c.x.schema = q->input;
    c.x.arena = &q->arena;
    c.x.qualifier = q->table_name;
    if (order_by) FL_RETURN_NOT_OK(order_by_text(&c, q, order_by));
    if (q->n_aggs) return fl_error_set(err, FL_EINVAL, "aggregate functions are not allowed in ORDER BY here");
    FL_RETURN_NOT_OK(build_stage(&c, q));
    return build_output(&c, q);
}
