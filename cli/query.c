/*
 * query.c — reading with the query engine: `framelake query` (a table's rows, filtered with --where and
 * ordered with --order-by, through fl_table_query), `framelake sql` (one SELECT statement through fl_sql;
 * "-" reads it from standard input) and `framelake explain` (its plan, with counters after running it when
 * --analyze).
 */
#include "commands.h"

#include "framelake.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EXIT_USER 1
#define EXIT_USAGE 2
#define MAX_SELECT (ARGS_MAX * 8)

const option_spec query_opts[] = {{"version", true}, {"tag", true},  {"select", true},      {"where", true},      {"order-by", true},
                                  {"limit", true},   {"offset", true}, {"format", true},    {"blob", true},       {"batch-size", true},
                                  {"with-row-id", false}, {NULL, false}};
const option_spec sql_opts[] = {{"version", true}, {"tag", true}, {"format", true}, {"blob", true}, {NULL, false}};
const option_spec explain_opts[] = {{"version", true}, {"tag", true}, {"analyze", false}, {NULL, false}};

static int fail(const fl_error *err) {
    fprintf(stderr, "framelake: error: %s\n", err->message[0] ? err->message : fl_strerror(err->code));
    return EXIT_USER;
}

static int usage(const char *message) {
    fprintf(stderr, "framelake: %s\n", message);
    return EXIT_USAGE;
}

/* --version N / --tag T; false (after a usage message) when malformed or both given. */
static bool parse_version(const args *a, uint64_t *version, bool *has_version, const char **tag) {
    if (!args_u64(a, "version", version, has_version)) return false;
    if (*has_version && *version == 0) return usage("--version must be at least 1"), false;
    *tag = args_get(a, "tag");
    if (*tag && *has_version) return usage("give --version or --tag, not both"), false;
    return true;
}

/* Prints every batch of a cursor; returns the exit code. */
static int print_cursor(fl_cursor *c, const output_options *o) {
    fl_error err = {0};
    output *out = output_new(stdout, o);
    fl_batch *b;
    int got;
    while ((got = fl_cursor_next(c, &b, &err)) == FL_OK && b) {
        output_batch(out, b);
        fl_batch_free(b);
    }
    if (got == FL_OK && o->format != OUTPUT_JSONL) {
        /* A result without rows still shows its columns. */
        fl_batch *empty = fl_batch_new(fl_cursor_schema(c));
        if (empty) output_batch(out, empty);
        fl_batch_free(empty);
    }
    output_finish(out);
    return got == FL_OK ? 0 : fail(&err);
}

int cmd_query(const args *a) {
    output_options o;
    if (!parse_format(a, &o)) return EXIT_USAGE;
    uint64_t limit = 0, offset = 0, batch = 0, version = 0;
    bool has_limit, has_version;
    const char *tag;
    if (!args_u64(a, "limit", &limit, &has_limit) || !args_u64(a, "offset", &offset, NULL) || !args_u64(a, "batch-size", &batch, NULL) ||
        !parse_version(a, &version, &has_version, &tag))
        return EXIT_USAGE;
    if (limit > INT64_MAX || offset > INT64_MAX || batch > INT64_MAX) return usage("--limit, --offset and --batch-size must fit 63 bits");
    const char *cols[MAX_SELECT];
    char *storage = NULL;
    int n_cols = 0;
    const char *sel = args_get(a, "select");
    if (sel) {
        storage = strdup(sel);
        n_cols = storage ? split_list(storage, cols, MAX_SELECT) : -1;
        if (n_cols <= 0) {
            free(storage);
            fprintf(stderr, "framelake: --select needs column names, got '%s'\n", sel);
            return EXIT_USAGE;
        }
    }
    fl_error err = {0};
    fl_db *db = NULL;
    fl_table *t = NULL;
    fl_open_options oo = {.version = version, .tag = tag};
    int rc = 0;
    if (fl_db_open(a->positional[0], 0, &db, &err) != FL_OK || fl_table_open(db, a->positional[1], &oo, &t, &err) != FL_OK) rc = fail(&err);
    fl_query_options qo = {.where = args_get(a, "where"), .columns = sel ? cols : NULL, .n_columns = (size_t)n_cols,
                           .order_by = args_get(a, "order-by"), .offset = (int64_t)offset, .limit = (int64_t)limit, .limit_set = has_limit,
                           .with_row_ids = o.with_row_id, .batch_size = (int64_t)batch};
    fl_cursor *c = NULL;
    if (!rc && fl_table_query(t, &qo, &c, &err) != FL_OK) rc = fail(&err);
    if (!rc) rc = print_cursor(c, &o);
    fl_cursor_close(c);
    free(storage);
    fl_table_close(t);
    fl_db_close(db);
    return rc;
}

/* The statement: the argument, or standard input when it is "-". Caller frees *owned. */
static const char *statement(const args *a, char **owned) {
    *owned = NULL;
    if (strcmp(a->positional[1], "-") != 0) return a->positional[1];
    size_t size = 0, cap = 0;
    char *text = NULL;
    for (;;) {
        if (size + 4096 + 1 > cap) {
            char *grown = realloc(text, cap = cap ? cap * 2 : 8192);
            if (!grown) {
                free(text);
                return NULL;
            }
            text = grown;
        }
        size_t got = fread(text + size, 1, cap - size - 1, stdin);
        size += got;
        if (got == 0) break;
    }
    text[size] = 0;
    return *owned = text;
}

/* Opens the database and fills the SQL options from --version/--tag. */
static int sql_setup(const args *a, fl_db **db, fl_sql_options *so) {
    uint64_t version = 0;
    bool has_version;
    const char *tag;
    *db = NULL;
    if (!parse_version(a, &version, &has_version, &tag)) return EXIT_USAGE;
    *so = (fl_sql_options){.version = version, .version_set = has_version, .tag = tag};
    fl_error err = {0};
    if (fl_db_open(a->positional[0], 0, db, &err) != FL_OK) return fail(&err);
    return 0;
}

int cmd_sql(const args *a) {
    output_options o;
    if (!parse_format(a, &o)) return EXIT_USAGE;
    fl_db *db;
    fl_sql_options so;
    int rc = sql_setup(a, &db, &so);
    if (rc) return rc;
    fl_error err = {0};
    fl_cursor *c = NULL;
    char *owned;
    const char *text = statement(a, &owned);
    if (!text) rc = usage("cannot read the statement from standard input");
    else if (fl_sql(db, text, &so, &c, &err) != FL_OK) rc = fail(&err);
    else rc = print_cursor(c, &o);
    fl_cursor_close(c);
    free(owned);
    fl_db_close(db);
    return rc;
}

int cmd_explain(const args *a) {
    fl_db *db;
    fl_sql_options so;
    int rc = sql_setup(a, &db, &so);
    if (rc) return rc;
    fl_error err = {0};
    char *text = NULL, *owned;
    const char *sql = statement(a, &owned);
    if (!sql) rc = usage("cannot read the statement from standard input");
    else if (fl_sql_explain(db, sql, &so, args_flag(a, "analyze"), &text, &err) != FL_OK) rc = fail(&err);
    else fputs(text, stdout);
    free(text);
    free(owned);
    fl_db_close(db);
    return rc;
}
