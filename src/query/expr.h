/*
 * expr.h — framelake's typed expression IR, its SQL front end (libpg_query) and its vectorized evaluator.
 *
 * A filter text is parsed by the PostgreSQL grammar (wrapped as "SELECT 1 FROM t WHERE <text>"), its
 * JSON parse tree is translated into fl_expr_node trees and bound against a schema: every column exists,
 * every function is in the registry, every operator's operand types fit. Evaluation then runs one node at
 * a time over whole fl_batch columns into fl_array results, never row by row through the tree.
 *
 * Invariants:
 *  1. Every node of a compiled expression has a resolved result type (node->type); evaluation never
 *     meets a type it was not bound for, so it has no type errors, only data errors (integer overflow).
 *  2. Node positions (pos) are 1-based byte positions in the user's text; 0 means "no position".
 *  3. Value types are canonical: integers evaluate to INT64 (unsigned columns are read as int64),
 *     floats to FLOAT64, timestamps to TIMESTAMP_MS, booleans to BOOL; strings, binaries and lists keep
 *     the column's layout. NULL literals have type FL_EXPR_T_NULL and evaluate to an all-NULL column.
 *  4. SQL three-valued logic: a comparison with a NULL operand is NULL; AND is false if either side is
 *     false, OR is true if either side is true, otherwise NULL wins; a filter keeps rows that are true.
 *  5. All nodes live in the compiled expression's arena and die with fl_expr_free.
 */
#ifndef FL_QUERY_EXPR_H
#define FL_QUERY_EXPR_H

#include "../batch/batch.h"
#include "json.h"

/* Result types of expressions. */
typedef enum fl_expr_type {
    FL_EXPR_T_NULL,             /* the NULL literal: fits every type */
    FL_EXPR_T_BOOL,
    FL_EXPR_T_INT,
    FL_EXPR_T_FLOAT,
    FL_EXPR_T_STRING,
    FL_EXPR_T_BINARY,
    FL_EXPR_T_TIMESTAMP,
    FL_EXPR_T_LIST,             /* element type in elem (a field of the schema, or of a list literal) */
    FL_EXPR_T_OTHER             /* structs, fixed-size lists: readable by column ref only */
} fl_expr_type;

typedef enum fl_expr_kind {
    FL_EXPR_COLUMN,             /* column: name */
    FL_EXPR_LITERAL,            /* lit_* by type */
    FL_EXPR_LIST_LITERAL,       /* ARRAY[...] of literals: args */
    FL_EXPR_UNARY,              /* op (NOT, NEG) args[0] */
    FL_EXPR_BINARY,             /* op args[0], args[1] */
    FL_EXPR_CALL,               /* fn(args...) */
    FL_EXPR_IN,                 /* args[0] IN (args[1..]); negated: NOT IN */
    FL_EXPR_BETWEEN,            /* args[0] BETWEEN args[1] AND args[2]; negated */
    FL_EXPR_LIKE,               /* args[0] LIKE args[1]; case_insensitive: ILIKE; negated */
    FL_EXPR_IS,                 /* args[0] IS [NOT] NULL/TRUE/FALSE/UNKNOWN: test, negated */
    FL_EXPR_CAST,               /* CAST(args[0] AS type) */
    FL_EXPR_ELEMENT             /* args[0][args[1]], 1-based; out of range is NULL */
} fl_expr_kind;

typedef enum fl_expr_op {
    FL_OP_EQ, FL_OP_NE, FL_OP_LT, FL_OP_LE, FL_OP_GT, FL_OP_GE,
    FL_OP_AND, FL_OP_OR,
    FL_OP_ADD, FL_OP_SUB, FL_OP_MUL, FL_OP_DIV, FL_OP_MOD,
    FL_OP_NOT, FL_OP_NEG
} fl_expr_op;

typedef enum fl_expr_test { FL_TEST_NULL, FL_TEST_TRUE, FL_TEST_FALSE } fl_expr_test;

struct fl_expr_function;

typedef struct fl_expr_node {
    fl_expr_kind kind;
    fl_expr_type type;                  /* result type (invariant 1) */
    const fl_field *elem;               /* FL_EXPR_T_LIST: element field */
    int32_t pos;                        /* 1-based position in the user's text (invariant 2) */
    fl_expr_op op;                      /* UNARY, BINARY */
    bool negated;                       /* IN, BETWEEN, LIKE, IS */
    bool case_insensitive;              /* LIKE */
    fl_expr_test test;                  /* IS */
    const char *name;                   /* COLUMN: column name; CALL: function name */
    const struct fl_expr_function *fn;  /* CALL */
    int32_t n_args;
    struct fl_expr_node **args;
    bool lit_bool;                      /* LITERAL values by type */
    int64_t lit_int;                    /* INT and TIMESTAMP */
    double lit_float;
    const char *lit_string;             /* STRING; COLUMN of an internal '$' column (select.h invariant 5):
                                           the text of what it stands for ("count(*)"), for names and plans */
} fl_expr_node;

/* A compiled expression: the root, the arena holding every node, the columns it reads. */
typedef struct fl_expr {
    fl_arena arena;
    fl_expr_node *root;
    const char **columns;               /* distinct column names the expression reads, in first-use order */
    int32_t n_columns;
    fl_schema *schema;                  /* copy of the schema it was bound against (nodes point into it) */
} fl_expr;

/*
 * Parses and binds a SQL filter (a boolean expression) against `schema`. Errors are FL_EINVAL with the
 * 1-based position in `text`: syntax errors, unknown columns and functions (with the closest name),
 * type mismatches, non-boolean filters. On success the caller frees *out with fl_expr_free.
 */
int fl_expr_compile_filter(const char *text, const fl_schema *schema, fl_expr **out, fl_error *err);
/* The same for an expression of any type (a computed column's definition). */
int fl_expr_compile_value(const char *text, const fl_schema *schema, fl_expr **out, fl_error *err);
void fl_expr_free(fl_expr *expr);

/* The operator with its operands swapped: a < b is b > a (=, <> and the others stay). */
fl_expr_op fl_expr_op_flip(fl_expr_op op);

/* Short name of a type for messages ("integer", "string", "list<string>"); static or arena storage. */
const char *fl_expr_type_name(fl_expr_type type);

/*
 * Evaluates `node` over every row of `batch` (which must hold the expression's columns by name) into
 * `out`, a fresh array the caller clears with fl_array_clear. Typed per invariant 3.
 */
int fl_expr_eval(const fl_expr_node *node, const fl_batch *batch, fl_array *out, fl_error *err);

/* Evaluates a boolean expression and writes the indexes of the rows where it is true into `rows` (room
 * for batch->num_rows entries), their count into *n. */
int fl_expr_filter_rows(const fl_expr *expr, const fl_batch *batch, int64_t *rows, int64_t *n, fl_error *err);

/* ---- storing results in columns (update.c) ---- */

/* The stored field (nullable, named `name`) for values of an expression: int64, float64, string, binary,
 * bool, timestamp, or the shape of the column or list it comes from. A constant NULL is an error. */
int fl_expr_field_for(const fl_expr_node *root, const fl_schema *schema, const char *name, fl_field *out, fl_error *err);
/* Appends value i of `v` (`value` evaluated; a one-value constant serves every i) to dst, converted to
 * `target`'s type; a value that does not fit is an error naming the column and row_id. */
int fl_expr_store(const fl_field *target, const fl_expr_node *value, const fl_array *v, int64_t i, uint64_t row_id, fl_array *dst, fl_error *err);

/* ---- the function registry ---- */

typedef struct fl_expr_function {
    const char *name;
    int min_args, max_args;             /* max_args -1: variadic */
    /* Checks argument types and sets node->type (and elem); returns FL_OK or a positioned FL_EINVAL. */
    int (*bind)(fl_expr_node *node, fl_error *err);
    /* Computes the result from evaluated arguments (each of num_rows values). */
    int (*eval)(const fl_expr_node *node, const fl_array *args, int64_t n, fl_array *out, fl_error *err);
    /* true: eval reads a one-value argument (a constant) as that value for every row; false: constant
     * arguments arrive expanded to n values. */
    bool broadcast;
} fl_expr_function;

/* Function by (lowercase) name, or NULL. */
const fl_expr_function *fl_expr_function_find(const char *name);
/* The i-th registered function (for suggestions), NULL past the end. */
const fl_expr_function *fl_expr_function_at(int i);

/* Levenshtein distance, used to suggest names. */
size_t fl_edit_distance(const char *a, const char *b);

#endif /* FL_QUERY_EXPR_H */
