/*
 * describe.c — expressions back to SQL text: output column names ("count(*)", "lower(weather)") and the
 * lines of EXPLAIN. The text reads back as the same expression (operands that are themselves operations
 * are parenthesized, strings and identifiers quoted), though not necessarily as the user spelled it.
 */
#include "select.h"

#include <ctype.h>
#include <stdlib.h>

static bool plain_ident(const char *s) {
    if (!(*s == '_' || (*s >= 'a' && *s <= 'z'))) return false;
    for (; *s; s++)
        if (!(*s == '_' || (*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9'))) return false;
    return true;
}

void fl_format_ident(fl_buf *b, const char *name) {
    if (plain_ident(name)) {
        fl_buf_append(b, name, strlen(name));
        return;
    }
    fl_buf_put_u8(b, '"');
    for (const char *p = name; *p; p++) {
        if (*p == '"') fl_buf_put_u8(b, '"');
        fl_buf_put_u8(b, (uint8_t)*p);
    }
    fl_buf_put_u8(b, '"');
}

static void format_string(fl_buf *b, const char *s) {
    fl_buf_put_u8(b, '\'');
    for (; *s; s++) {
        if (*s == '\'') fl_buf_put_u8(b, '\'');
        fl_buf_put_u8(b, (uint8_t)*s);
    }
    fl_buf_put_u8(b, '\'');
}

static void format_literal(const fl_expr_node *n, fl_buf *b) {
    switch (n->type) {
    case FL_EXPR_T_NULL: fl_buf_printf(b, "NULL"); break;
    case FL_EXPR_T_BOOL: fl_buf_printf(b, "%s", n->lit_bool ? "true" : "false"); break;
    case FL_EXPR_T_INT:
    case FL_EXPR_T_TIMESTAMP: fl_buf_printf(b, "%lld", (long long)n->lit_int); break;
    case FL_EXPR_T_FLOAT: {
        char tmp[40];
        for (int prec = 1; prec <= 17; prec++) {
            snprintf(tmp, sizeof tmp, "%.*g", prec, n->lit_float);
            if (strtod(tmp, NULL) == n->lit_float) break;
        }
        /* Keep it a float literal when it reads like an integer. */
        fl_buf_printf(b, "%s%s", tmp, strpbrk(tmp, ".eEni") ? "" : ".0");
        break;
    }
    case FL_EXPR_T_STRING: format_string(b, n->lit_string ? n->lit_string : ""); break;
    default: fl_buf_printf(b, "?"); break;
    }
}

/* An operand: operations other than calls, columns and literals get parentheses. */
static void format_operand(const fl_expr_node *n, fl_buf *b) {
    bool paren = n->kind == FL_EXPR_BINARY || n->kind == FL_EXPR_IN || n->kind == FL_EXPR_BETWEEN || n->kind == FL_EXPR_LIKE ||
                 n->kind == FL_EXPR_IS || (n->kind == FL_EXPR_UNARY && n->op == FL_OP_NOT);
    if (paren) fl_buf_put_u8(b, '(');
    fl_expr_format(n, b);
    if (paren) fl_buf_put_u8(b, ')');
}

static void format_args(const fl_expr_node *n, int32_t first, fl_buf *b) {
    for (int32_t i = first; i < n->n_args; i++) {
        if (i > first) fl_buf_printf(b, ", ");
        fl_expr_format(n->args[i], b);
    }
}

static const char *op_text(fl_expr_op op) {
    static const char *const ops[] = {"=", "<>", "<", "<=", ">", ">=", "AND", "OR", "+", "-", "*", "/", "%", "NOT", "-"};
    return (size_t)op < sizeof ops / sizeof ops[0] ? ops[op] : "?";
}

void fl_expr_format(const fl_expr_node *n, fl_buf *b) {
    switch (n->kind) {
    case FL_EXPR_COLUMN:
        if (n->name[0] == '$' && n->lit_string) fl_buf_printf(b, "%s", n->lit_string);
        else fl_format_ident(b, n->name);
        break;
    case FL_EXPR_LITERAL: format_literal(n, b); break;
    case FL_EXPR_LIST_LITERAL:
        fl_buf_printf(b, "ARRAY[");
        format_args(n, 0, b);
        fl_buf_put_u8(b, ']');
        break;
    case FL_EXPR_UNARY:
        fl_buf_printf(b, "%s", n->op == FL_OP_NOT ? "NOT " : "-");
        format_operand(n->args[0], b);
        break;
    case FL_EXPR_BINARY:
        format_operand(n->args[0], b);
        fl_buf_printf(b, " %s ", op_text(n->op));
        format_operand(n->args[1], b);
        break;
    case FL_EXPR_CALL:
        fl_buf_printf(b, "%s(", n->name);
        format_args(n, 0, b);
        fl_buf_put_u8(b, ')');
        break;
    case FL_EXPR_IN:
        format_operand(n->args[0], b);
        fl_buf_printf(b, " %sIN (", n->negated ? "NOT " : "");
        format_args(n, 1, b);
        fl_buf_put_u8(b, ')');
        break;
    case FL_EXPR_BETWEEN:
        format_operand(n->args[0], b);
        fl_buf_printf(b, " %sBETWEEN ", n->negated ? "NOT " : "");
        format_operand(n->args[1], b);
        fl_buf_printf(b, " AND ");
        format_operand(n->args[2], b);
        break;
    case FL_EXPR_LIKE:
        format_operand(n->args[0], b);
        fl_buf_printf(b, " %s%s ", n->negated ? "NOT " : "", n->case_insensitive ? "ILIKE" : "LIKE");
        format_operand(n->args[1], b);
        break;
    case FL_EXPR_IS:
        format_operand(n->args[0], b);
        fl_buf_printf(b, " IS %s%s", n->negated ? "NOT " : "", n->test == FL_TEST_NULL ? "NULL" : n->test == FL_TEST_TRUE ? "TRUE" : "FALSE");
        break;
    case FL_EXPR_CAST: {
        static const char *const names[] = {"null", "boolean", "bigint", "double", "text", "bytea", "timestamp", "list", "struct"};
        fl_buf_printf(b, "CAST(");
        fl_expr_format(n->args[0], b);
        fl_buf_printf(b, " AS %s)", names[n->type]);
        break;
    }
    case FL_EXPR_ELEMENT:
        format_operand(n->args[0], b);
        fl_buf_put_u8(b, '[');
        fl_expr_format(n->args[1], b);
        fl_buf_put_u8(b, ']');
        break;
    }
}

const char *fl_expr_text(fl_arena *arena, const fl_expr_node *node) {
    fl_buf b;
    fl_buf_init(&b);
    fl_expr_format(node, &b);
    const char *text = b.failed ? NULL : fl_arena_strndup(arena, (const char *)b.data, b.size);
    fl_buf_free(&b);
    return text;
}

void fl_plan_indent(fl_buf *b, int depth) {
    for (int i = 0; i < depth; i++) fl_buf_printf(b, "  ");
}

void fl_plan_describe(const fl_op *op, fl_buf *b, bool analyze) {
    int depth = 0;
    for (const fl_op *o = op; o; o = o->child, depth++) o->describe(o, b, analyze, depth);
}
