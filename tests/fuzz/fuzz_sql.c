/*
 * fuzz_sql.c — libFuzzer target for the SQL entry points (src/query): the input, as NUL-terminated text, is
 *   1. run as a statement with fl_sql (every batch pulled) and explained with fl_sql_explain (analyze on),
 *   2. used as the WHERE text and as the ORDER BY text of fl_table_query,
 * against a small database built once per process (one table with every scalar type, a list column, NULLs,
 * two fragments and two versions). Any statement must end in rows or in an error whose code the report
 * repeats and whose message is not empty: no crash, leak, hang or unbounded allocation.
 *
 *   make fuzz && scripts/run-fuzz.sh long build-fuzz/fuzz_sql 600
 *   (run-fuzz.sh passes -dict=tests/fuzz/fuzz_sql.dict: SQL keywords, the table's columns, functions)
 */
#include "framelake.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static fl_db *db;
static char dir[64];

static void remove_db(void) {
    fl_db_close(db);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) fprintf(stderr, "fuzz_sql: could not remove %s\n", dir);
}

static void die(const char *what, const fl_error *err) {
    fprintf(stderr, "fuzz_sql: %s: %s\n", what, err->message);
    abort();
}

static void setup(void) {
    snprintf(dir, sizeof dir, "/tmp/fl-fuzz-sql-%d", (int)getpid());
    fl_error err = {0};
    fl_schema *s;
    fl_table *t;
    if (fl_db_open(dir, FL_OPEN_CREATE, &db, &err) ||
        fl_schema_parse("id int64, g string, x int32, f float64, s string, ts timestamp, cats list<string>, b bool, u uint8", &s, &err) ||
        fl_table_create(db, "t", s, &t, &err))
        die("setup", &err);
    atexit(remove_db);
    static const char *rows[2] = {
        "{\"id\":0,\"g\":\"a\",\"x\":3,\"f\":1.5,\"s\":\"pear\",\"ts\":1000,\"cats\":[\"car\",\"person\"],\"b\":true,\"u\":7}\n"
        "{\"id\":1,\"g\":\"b\",\"x\":1,\"f\":-2.0,\"s\":\"apple\",\"ts\":3000,\"cats\":[],\"b\":false,\"u\":0}\n"
        "{\"id\":2,\"g\":\"a\",\"x\":null,\"f\":null,\"s\":null,\"ts\":null,\"cats\":null,\"b\":null,\"u\":null}\n",
        "{\"id\":3,\"g\":null,\"x\":-7,\"f\":0.5,\"s\":\"fig\",\"ts\":2000,\"cats\":[\"bus\",null],\"b\":true,\"u\":255}\n"
        "{\"id\":4,\"g\":\"b\",\"x\":1,\"f\":4.0,\"s\":\"\",\"ts\":5000,\"cats\":[\"car\"],\"b\":false,\"u\":3}\n"};
    for (int i = 0; i < 2; i++) {
        fl_batch *b;
        if (fl_batch_from_jsonl(s, rows[i], strlen(rows[i]), "rows", &b, &err) || fl_table_append(t, b, NULL, &err)) die("setup", &err);
        fl_batch_free(b);
    }
    fl_schema_free(s);
    fl_table_close(t);
}

static void check_error(int rc, const fl_error *err, const char *text) {
    if (rc == FL_OK) return;
    if (err->code != rc || !err->message[0]) {
        fprintf(stderr, "fuzz_sql: code %d reported as %d (\"%s\") for: %s\n", rc, err->code, err->message, text);
        abort();
    }
}

static void drain(fl_cursor *c, const char *text) {
    fl_batch *b;
    fl_error err = {0};
    int rc;
    int64_t batches = 0;
    while ((rc = fl_cursor_next(c, &b, &err)) == FL_OK && b) {
        if (b->num_rows <= 0 || b->n_columns != fl_cursor_schema(c)->n_fields) {
            fprintf(stderr, "fuzz_sql: bad batch (%lld rows) for: %s\n", (long long)b->num_rows, text);
            abort();
        }
        fl_batch_free(b);
        batches++;
    }
    check_error(rc, &err, text);
}

static void run_sql(const char *text) {
    fl_cursor *c = NULL;
    fl_error err = {0};
    int rc = fl_sql(db, text, NULL, &c, &err);
    check_error(rc, &err, text);
    if (rc == FL_OK) drain(c, text);
    fl_cursor_close(c);
    char *plan = NULL;
    rc = fl_sql_explain(db, text, NULL, true, &plan, &err);
    check_error(rc, &err, text);
    free(plan);
}

static void run_table_query(const char *text) {
    fl_table *t;
    fl_error err = {0};
    if (fl_table_open(db, "t", NULL, &t, &err)) die("open", &err);
    fl_query_options where = {.where = text, .limit = 3, .limit_set = true}, order = {.order_by = text, .with_row_ids = true};
    for (int k = 0; k < 2; k++) {
        fl_cursor *c = NULL;
        int rc = fl_table_query(t, k ? &order : &where, &c, &err);
        check_error(rc, &err, text);
        if (rc == FL_OK) drain(c, text);
        fl_cursor_close(c);
    }
    fl_table_close(t);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (!db) setup();
    if (size > 4096) return 0;
    char *text = malloc(size + 1);
    if (!text) return 0;
    memcpy(text, data, size);
    text[size] = 0;
    run_sql(text);
    run_table_query(text);
    free(text);
    return 0;
}
