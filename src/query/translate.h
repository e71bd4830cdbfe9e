/*
 * translate.h — the inside of the SQL front end, shared by the expression translator (parse.c) and the
 * statement translator (select.c): one translation context (fl_xlate) that turns libpg_query JSON nodes
 * into typed IR nodes bound against a schema, and the mapping from parse-tree locations back to
 * positions in the user's text.
 *
 * Invariants:
 *  1. The parsed text is the user's text, possibly behind a fixed prefix (user_start bytes) and with a
 *     few insertions (an alias after a FROM subquery); fl_xlate_pos undoes both, so every reported
 *     position is a 1-based byte position in what the user wrote. Characters the front end blanks out
 *     (a version suffix "@7") keep their width, so they need no mapping.
 *  2. Nodes are allocated in x->arena and point into x->schema (list element fields); both must outlive
 *     the nodes.
 *  3. The call hook sees every function call before the registry does; it either handles the call
 *     (aggregates, unnest, window calls) or leaves it to the registry.
 */
#ifndef FL_QUERY_TRANSLATE_H
#define FL_QUERY_TRANSLATE_H

#include "expr.h"

#define FL_XLATE_MAX_INSERTS 32

typedef struct fl_xlate fl_xlate;

/* Handles a FuncCall node (body) at `pos`; sets *handled when it did (then its return code counts). */
typedef int (*fl_xlate_call_hook)(fl_xlate *x, const fl_json *body, const char *name, int32_t pos, fl_expr_node **out,
                                  bool *handled);

struct fl_xlate {
    fl_arena *arena;                    /* nodes live here (invariant 2) */
    const fl_schema *schema;            /* columns resolve against it */
    const char *qualifier;              /* "t" in t.col (table name or alias); NULL: none accepted */
    const char *qualifier2;             /* a second accepted qualifier (the table name when aliased) */
    const char *sql;                    /* the parsed text */
    int64_t user_start;                 /* location in sql where the user's text begins */
    int n_inserts;
    int64_t insert_at[FL_XLATE_MAX_INSERTS];  /* parsed-text locations of inserted text, ascending */
    int64_t insert_len[FL_XLATE_MAX_INSERTS];
    fl_expr *record;                    /* optional: columns read are recorded in record->columns */
    fl_xlate_call_hook call_hook;       /* optional (invariant 3) */
    void *ctx;                          /* for the hook */
    const char *context;                /* "WHERE", "GROUP BY", ... for messages of the hook; may be NULL */
    fl_error *err;
};

/* Records that `len` bytes were inserted into the parsed text at location `at` (recorded insertions at or
 * after it move along); false when the table of insertions is full. */
bool fl_xlate_insert(fl_xlate *x, int64_t at, int64_t len);
/* Rewrites list literals written the LanceDB/DataFusion way, ['a', 'b'], into the PostgreSQL form
 * ARRAY['a', 'b'] in *sql (reallocated) from x->user_start on, recording the insertions. A '[' counts as a
 * list literal unless it follows a name (other than a keyword such as SELECT), ')', ']' or a quoted item
 * (then it is element access). */
int fl_xlate_bracket_arrays(fl_xlate *x, char **sql);

/* Parses `prefix` followed by the user's `text` with the PostgreSQL grammar (after fl_xlate_bracket_arrays)
 * into a JSON tree in x->arena. Sets x->sql (the parsed text, returned in *sql: the caller frees it with
 * fl_free once done with positions) and x->user_start; syntax errors are FL_EINVAL positioned in `text`. */
int fl_xlate_parse(fl_xlate *x, const char *prefix, const char *text, char **sql, fl_json **tree);
/* Translates one expression node (any {"Kind": {...}} of the parse tree) into a bound IR tree. */
int fl_xlate_expr(fl_xlate *x, const fl_json *json, fl_expr_node **out);
/* Turns a string literal node into a timestamp literal in place, as comparisons with a timestamp read it
 * (RFC 3339, a date alone, no zone meaning UTC); a positioned error when it is not a time. */
int fl_xlate_fold_time(fl_xlate *x, fl_expr_node *literal);
/* The user's 1-based position of a parse-tree location (0: none). */
int32_t fl_xlate_pos(const fl_xlate *x, int64_t location);
/* FL_EINVAL for a parser error message at 1-based position `pos`: messages that quote the rest of the
 * text ("at or near ...") are shortened so that the position always survives. */
int fl_syntax_error(fl_error *err, const char *message, int32_t pos);
/* FL_EINVAL with "<message> (position N)" (no suffix when pos is 0). */
int fl_xlate_error(fl_xlate *x, int32_t pos, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* A new node in the arena (args allocated, zeroed); NULL on OOM. */
fl_expr_node *fl_xlate_node(fl_xlate *x, fl_expr_kind kind, int32_t pos, int32_t n_args);
/* The text of a {"String": {"sval": ...}} node, or NULL. */
const char *fl_xlate_string(const fl_json *json);

/* The IR type of values of a field. */
fl_expr_type fl_expr_type_of_field(const fl_field *field);
/* The candidate closest to `name` when close enough to be a plausible typo, or NULL. */
const char *fl_closest_name(const char *name, const char *const *candidates, size_t n);

#endif /* FL_QUERY_TRANSLATE_H */
