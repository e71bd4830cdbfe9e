/*
 * test_sql.c — the SELECT engine through the public API (fl_sql, fl_sql_explain, fl_table_query, cursors):
 * every aggregate with NULLs and empty input, GROUP BY / HAVING / ORDER BY (directions, NULL placement,
 * ties) / LIMIT / OFFSET with exact rows, unnest and FROM subqueries, versions, every error class with its
 * exact message and position, streaming LIMIT reading only the first fragment, and a property test that
 * compares top-k against a reference sort over random data.
 */
#include "testlib.h"

#include "common/common.h"

#include <math.h>
#include <stdint.h>

/* ---- rendering results ---- */

static void render_value(char *out, size_t size, const fl_array *a, int64_t i) {
    size_t used = strlen(out);
    char *p = out + used;
    size_t room = size - used;
    if (fl_array_is_null(a, i)) {
        snprintf(p, room, "NULL");
        return;
    }
    switch (a->type) {
    case FL_TYPE_BOOL: snprintf(p, room, "%s", fl_array_get_bool(a, i) ? "true" : "false"); break;
    case FL_TYPE_FLOAT32:
    case FL_TYPE_FLOAT64: snprintf(p, room, "%.15g", fl_array_get_float(a, i)); break;
    case FL_TYPE_UINT8: case FL_TYPE_UINT16: case FL_TYPE_UINT32: case FL_TYPE_UINT64:
        snprintf(p, room, "%llu", (unsigned long long)fl_array_get_uint(a, i));
        break;
    case FL_TYPE_STRING:
    case FL_TYPE_BINARY: {
        size_t n;
        const uint8_t *s = fl_array_get_bytes(a, i, &n);
        snprintf(p, room, "%.*s", (int)n, (const char *)s);
        break;
    }
    case FL_TYPE_LIST: {
        int64_t s, e;
        fl_array_get_list(a, i, &s, &e);
        snprintf(p, room, "[");
        for (int64_t k = s; k < e; k++) {
            if (k > s) snprintf(out + strlen(out), size - strlen(out), ",");
            render_value(out, size, &a->children[0], k);
        }
        snprintf(out + strlen(out), size - strlen(out), "]");
        break;
    }
    default: snprintf(p, room, "%lld", (long long)fl_array_get_int(a, i)); break;
    }
}

/* Rows of a cursor as "v|v" lines joined by ';' (no header), or "error: ..." */
static char result[16384];
static const char *drain(fl_cursor *c, bool with_ids) {
    result[0] = 0;
    fl_batch *b;
    fl_error err = {0};
    int rows = 0;
    while (fl_cursor_next(c, &b, &err) == FL_OK && b) {
        for (int64_t r = 0; r < b->num_rows; r++, rows++) {
            if (rows) snprintf(result + strlen(result), sizeof result - strlen(result), ";");
            if (with_ids) snprintf(result + strlen(result), sizeof result - strlen(result), "#%llu:", (unsigned long long)b->row_ids[r]);
            for (int32_t col = 0; col < b->n_columns; col++) {
                if (col) snprintf(result + strlen(result), sizeof result - strlen(result), "|");
                render_value(result, sizeof result, &b->columns[col], r);
            }
        }
        fl_batch_free(b);
    }
    if (err.code) snprintf(result, sizeof result, "error: %s", err.message);
    return result;
}

static fl_db *db;
static char schema_text[1024];

static const char *sql_opts(const char *sql, const fl_sql_options *o) {
    fl_cursor *c;
    fl_error err = {0};
    schema_text[0] = 0;
    if (fl_sql(db, sql, o, &c, &err) != FL_OK) {
        snprintf(result, sizeof result, "error: %s", err.message);
        return result;
    }
    char *s = fl_schema_format(fl_cursor_schema(c));
    snprintf(schema_text, sizeof schema_text, "%s", s ? s : "?");
    free(s);
    drain(c, false);
    fl_cursor_close(c);
    return result;
}

static const char *sql(const char *text) { return sql_opts(text, NULL); }

#define Q(text, expected) CHECK_EQ_STR(sql(text), expected)

/* ---- the data ---- */

#define T_SCHEMA "id int64, g string, x int32, f float64, s string, ts timestamp, cats list<string>, b bool"

static const char *T_ROWS_1 =
    "{\"id\":0,\"g\":\"a\",\"x\":3,\"f\":1.5,\"s\":\"pear\",\"ts\":1000,\"cats\":[\"car\",\"person\"],\"b\":true}\n"
    "{\"id\":1,\"g\":\"b\",\"x\":1,\"f\":-2.0,\"s\":\"apple\",\"ts\":3000,\"cats\":[],\"b\":false}\n"
    "{\"id\":2,\"g\":\"a\",\"x\":null,\"f\":null,\"s\":null,\"ts\":null,\"cats\":null,\"b\":null}\n"
    "{\"id\":3,\"g\":null,\"x\":7,\"f\":0.5,\"s\":\"fig\",\"ts\":2000,\"cats\":[\"bus\"],\"b\":true}\n";
static const char *T_ROWS_2 =
    "{\"id\":4,\"g\":\"b\",\"x\":1,\"f\":4.0,\"s\":\"kiwi\",\"ts\":5000,\"cats\":[\"car\"],\"b\":false}\n"
    "{\"id\":5,\"g\":\"a\",\"x\":5,\"f\":null,\"s\":\"apple\",\"ts\":4000,\"cats\":[\"car\",\"car\",\"bus\"],\"b\":true}\n"
    "{\"id\":6,\"g\":\"c\",\"x\":-2,\"f\":2.0,\"s\":\"date\",\"ts\":null,\"cats\":[\"person\"],\"b\":null}\n";

static void append_jsonl(fl_table *t, const char *rows, int64_t per_fragment) {
    fl_batch *b;
    CHECK_OK(fl_batch_from_jsonl(fl_table_schema(t), rows, strlen(rows), "rows", &b, &tl_err));
    fl_write_options wo = {.max_rows_per_fragment = per_fragment};
    CHECK_OK(fl_table_append(t, b, &wo, &tl_err));
    fl_batch_free(b);
}

/* Table t: version 2 holds rows 0-3, version 3 adds rows 4-6 (a second fragment); tag "first" = 2. */
static void make_tables(void) {
    CHECK_OK(fl_db_open(tl_tmpdir("sql"), FL_OPEN_CREATE, &db, &tl_err));
    fl_schema *s;
    fl_table *t;
    CHECK_OK(fl_schema_parse(T_SCHEMA, &s, &tl_err));
    CHECK_OK(fl_table_create(db, "t", s, &t, &tl_err));
    fl_schema_free(s);
    append_jsonl(t, T_ROWS_1, 0);
    append_jsonl(t, T_ROWS_2, 0);
    CHECK_OK(fl_table_tag(t, "first", 2, &tl_err));
    fl_table_close(t);
}

/* ---- aggregates ---- */

static void test_aggregates(void) {
    Q("SELECT count(*), count(x), count(DISTINCT g), count(DISTINCT x), sum(x), sum(DISTINCT x), sum(f), avg(x), avg(f) FROM t",
      "7|6|3|5|15|14|6|2.5|1.2");
    CHECK_EQ_STR(schema_text, "\"count(*)\" int64, \"count(x)\" int64, \"count(DISTINCT g)\" int64, \"count(DISTINCT x)\" int64, "
                              "\"sum(x)\" int64, \"sum(DISTINCT x)\" int64, \"sum(f)\" float64, \"avg(x)\" float64, \"avg(f)\" float64");
    Q("SELECT min(x), max(x), min(f), max(f), min(s), max(s), min(ts), max(ts), min(b), max(b) FROM t", "-2|7|-2|4|apple|pear|1000|5000|false|true");
    CHECK_EQ_STR(schema_text, "\"min(x)\" int64, \"max(x)\" int64, \"min(f)\" float64, \"max(f)\" float64, \"min(s)\" string, "
                              "\"max(s)\" string, \"min(ts)\" timestamp, \"max(ts)\" timestamp, \"min(b)\" bool, \"max(b)\" bool");
    /* Empty input: one row; count is 0, everything else NULL. */
    Q("SELECT count(*), count(x), sum(x), sum(f), avg(x), min(s), max(ts) FROM t WHERE id > 100", "0|0|NULL|NULL|NULL|NULL|NULL");
    /* Only NULL values: the same. */
    Q("SELECT count(x), sum(x), min(x), avg(f) FROM t WHERE id = 2", "0|NULL|NULL|NULL");
    Q("SELECT count(NULL), sum(x + 1), max(upper(s)), min(length(s)) FROM t", "0|21|PEAR|3");
    Q("SELECT count(*) + 1 AS n, sum(x) * 2 FROM t WHERE g = 'a'", "4|16");
    Q("SELECT sum(x) FROM t WHERE x > 100", "NULL");
    /* The same aggregate twice is computed once and may be reused by HAVING and ORDER BY. */
    Q("SELECT count(*), count(*) FROM t", "7|7");
    Q("SELECT 1 + 2 AS k, count(*) FROM t", "3|7");
}

/* An error while rows are produced ends the cursor: the same error again on every later call. */
static void test_cursor_error_sticks(void) {
    fl_cursor *c;
    CHECK_OK(fl_sql(db, "SELECT x * 4611686018427387904 FROM t WHERE x > 2", NULL, &c, &tl_err));
    fl_batch *b = NULL;
    fl_error err = {0};
    CHECK_EQ_INT(fl_cursor_next(c, &b, &err), FL_EINVAL);
    CHECK_EQ_STR(err.message, "integer overflow (position 10)");
    CHECK(b == NULL);
    memset(&err, 0, sizeof err);
    CHECK_EQ_INT(fl_cursor_next(c, &b, &err), FL_EINVAL);
    CHECK_EQ_STR(err.message, "integer overflow (position 10)");
    CHECK(b == NULL);
    fl_cursor_close(c);
    fl_cursor_close(NULL);
}

static void test_aggregate_overflow(void) {
    Q("SELECT sum(x * 4611686018427387904) FROM t WHERE x > 2", "error: integer overflow (position 14)");
    Q("SELECT sum(x + 4611686018427387904) FROM t WHERE x > 2", "error: integer overflow in sum(x + 4611686018427387904)");
    Q("SELECT avg(x + 4611686018427387904) FROM t WHERE x > 2", "4.61168601842739e+18");
}

/* ---- GROUP BY, HAVING, ORDER BY, LIMIT, OFFSET ---- */

static void test_group_by(void) {
    Q("SELECT g, count(*), sum(x), max(s) FROM t GROUP BY g ORDER BY g", "a|3|8|pear;b|2|2|kiwi;c|1|-2|date;NULL|1|7|fig");
    Q("SELECT g, count(*) FROM t GROUP BY g ORDER BY g DESC", "NULL|1;c|1;b|2;a|3");
    Q("SELECT g, count(*) FROM t GROUP BY g ORDER BY g NULLS FIRST", "NULL|1;a|3;b|2;c|1");
    Q("SELECT g, count(*) FROM t GROUP BY g ORDER BY g DESC NULLS LAST", "c|1;b|2;a|3;NULL|1");
    Q("SELECT g, count(*) FROM t GROUP BY g HAVING count(*) > 1 ORDER BY g", "a|3;b|2");
    Q("SELECT g FROM t GROUP BY g HAVING max(x) >= 5 ORDER BY 1", "a;NULL");
    Q("SELECT g AS grp, count(*) AS n FROM t GROUP BY 1 ORDER BY n DESC, grp", "a|3;b|2;c|1;NULL|1");
    Q("SELECT g AS grp, count(*) AS n FROM t GROUP BY grp ORDER BY n DESC, grp", "a|3;b|2;c|1;NULL|1");
    Q("SELECT x % 2 AS parity, count(*) FROM t GROUP BY x % 2 ORDER BY 1", "0|1;1|5;NULL|1");
    Q("SELECT upper(g), count(*) FROM t WHERE g IS NOT NULL GROUP BY upper(g) ORDER BY 1", "A|3;B|2;C|1");
    Q("SELECT g, b, count(*) FROM t GROUP BY g, b ORDER BY g, b", "a|true|2;a|NULL|1;b|false|2;c|NULL|1;NULL|true|1");
    /* Ties keep the order groups first appeared in (a, b, NULL, c). */
    Q("SELECT g, count(*) FROM t GROUP BY g ORDER BY count(*) DESC", "a|3;b|2;NULL|1;c|1");
    Q("SELECT g, count(*) FROM t GROUP BY g ORDER BY count(*) DESC LIMIT 2 OFFSET 1", "b|2;NULL|1");
    Q("SELECT g, count(*) FROM t WHERE id > 100 GROUP BY g", "");
    Q("SELECT count(*) FROM t HAVING count(*) > 100", "");
    Q("SELECT count(*) FROM t HAVING count(*) > 1", "7");
    Q("SELECT DISTINCT g FROM t ORDER BY g", "a;b;c;NULL");
    Q("SELECT DISTINCT b, g FROM t WHERE g = 'a' ORDER BY 1", "true|a;NULL|a");
    Q("SELECT DISTINCT s, upper(s) AS u FROM t WHERE id <> 2 ORDER BY upper(s) DESC", "pear|PEAR;kiwi|KIWI;fig|FIG;date|DATE;apple|APPLE");
    /* Lists group and count distinct by value; NULL and [] are different values. */
    Q("SELECT cats, count(*) FROM t GROUP BY cats ORDER BY 1", "[]|1;[bus]|1;[car]|1;[car,car,bus]|1;[car,person]|1;[person]|1;NULL|1");
    Q("SELECT count(DISTINCT cats), count(DISTINCT cats[1]) FROM t", "6|3");
}

static void test_order_by(void) {
    Q("SELECT id FROM t ORDER BY f DESC, id", "2;5;4;6;0;3;1");
    Q("SELECT id FROM t ORDER BY f NULLS FIRST LIMIT 3", "2;5;1");
    Q("SELECT id FROM t ORDER BY f", "1;3;0;6;4;2;5");
    Q("SELECT id, s FROM t ORDER BY s, id", "1|apple;5|apple;6|date;3|fig;4|kiwi;0|pear;2|NULL");
    Q("SELECT id FROM t ORDER BY b", "1;4;0;3;5;2;6");
    Q("SELECT id FROM t ORDER BY b DESC", "2;6;0;3;5;1;4");
    Q("SELECT id FROM t ORDER BY ts DESC NULLS LAST LIMIT 4", "4;5;1;3");
    Q("SELECT id, x * 10 AS y FROM t ORDER BY y DESC LIMIT 2", "2|NULL;3|70");
    Q("SELECT id FROM t ORDER BY x * -1, id", "3;5;0;1;4;6;2");
    Q("SELECT id AS k FROM t ORDER BY 1 DESC LIMIT 2", "6;5");
    Q("SELECT id FROM t ORDER BY cats[1], id", "3;0;4;5;6;1;2");
    Q("SELECT id FROM t LIMIT 3 OFFSET 2", "2;3;4");
    Q("SELECT id FROM t OFFSET 5", "5;6");
    Q("SELECT id FROM t LIMIT 0", "");
    Q("SELECT id FROM t LIMIT 2 OFFSET 10", "");
    Q("SELECT id FROM t LIMIT ALL", "0;1;2;3;4;5;6");
    Q("SELECT id FROM t ORDER BY id DESC LIMIT 100 OFFSET 5", "1;0");
}

static void test_projection(void) {
    Q("SELECT * FROM t WHERE id = 3", "3|NULL|7|0.5|fig|2000|[bus]|true");
    CHECK_EQ_STR(schema_text, T_SCHEMA);
    Q("SELECT id, x * 2 + 1 AS y, upper(s) FROM t WHERE id < 2", "0|7|PEAR;1|3|APPLE");
    CHECK_EQ_STR(schema_text, "id int64, y int64, \"upper(s)\" string");
    Q("SELECT t.id FROM t WHERE t.x = 7", "3");
    Q("SELECT q.id FROM t AS q WHERE q.x = 7", "3");
    Q("SELECT id, id FROM t WHERE id = 1", "1|1");
    CHECK_EQ_STR(schema_text, "id int64, id_2 int64");
    Q("SELECT id, NULL AS nothing, 'x' AS lit, 1.5 AS f2, cats[2] FROM t WHERE id = 0", "0|NULL|x|1.5|person");
    Q("SELECT id FROM \"t\" WHERE s LIKE 'a%' ORDER BY id", "1;5");
    /* A bracket list right after a keyword is a list literal (a keyword is never a subscripted column). */
    Q("SELECT ['a', 'b'] AS l FROM t WHERE id = 0", "[a,b]");
    Q("SELECT DISTINCT ['x'] FROM t", "[x]");
    Q("SELECT id FROM t WHERE id = 0 AND array_has(cats, 'car') AND cats[1] = 'car'", "0");
    Q("SELECT unnest(['p', 'q']) AS v FROM t WHERE id = 1", "p;q");
    Q("SELECT ['a'] AS l, zz FROM t", "error: column \"zz\" not found (position 20)");
}

static void test_unnest(void) {
    Q("SELECT id, unnest(cats) AS c FROM t", "0|car;0|person;3|bus;4|car;5|car;5|car;5|bus;6|person");
    Q("SELECT c, count(*) FROM (SELECT unnest(cats) AS c FROM t) GROUP BY c ORDER BY 2 DESC, c", "car|4;bus|2;person|2");
    Q("SELECT c, count(*) AS n FROM (SELECT unnest(cats) AS c FROM t) AS u WHERE c <> 'bus' GROUP BY c ORDER BY n DESC", "car|4;person|2");
    Q("SELECT unnest(cats) AS c, count(*) FROM t GROUP BY c ORDER BY c", "bus|2;car|4;person|2");
    Q("SELECT upper(unnest(cats)) FROM t WHERE id = 5", "CAR;CAR;BUS");
    Q("SELECT unnest(cats) FROM t WHERE id IN (1, 2)", "");
    Q("SELECT count(*) FROM (SELECT unnest(cats) AS c FROM t WHERE g = 'a') AS u", "5");
    Q("SELECT n FROM (SELECT g, count(*) AS n FROM t GROUP BY g) AS q WHERE g = 'b'", "2");
    Q("SELECT * FROM (SELECT id, s FROM t ORDER BY s DESC LIMIT 2) AS q ORDER BY id", "0|pear;2|NULL");
}

static void test_versions(void) {
    Q("SELECT count(*) FROM t@2", "4");
    Q("SELECT count(*) FROM t@v2", "4");
    Q("SELECT count(*) FROM t", "7");
    Q("SELECT max(id) FROM (SELECT id FROM t@2) AS q", "3");
    fl_sql_options v2 = {.version = 2, .version_set = true}, tag = {.tag = "first"}, both = {.version = 2, .version_set = true, .tag = "first"};
    CHECK_EQ_STR(sql_opts("SELECT count(*) FROM t", &v2), "4");
    CHECK_EQ_STR(sql_opts("SELECT count(*) FROM t", &tag), "4");
    CHECK_EQ_STR(sql_opts("SELECT count(*) FROM t", &both), "error: give a version or a tag, not both");
    CHECK_EQ_STR(sql_opts("SELECT count(*) FROM t@3", &v2), "error: the statement names version @3 and the options name another (position 22)");
    Q("SELECT count(*) FROM t@99", "error: table 't': version 99 not found");
    Q("SELECT count(*) FROM t WHERE x@2 = 1", "error: a version (@N) must follow the table name in FROM (position 31)");
    Q("SELECT s FROM t WHERE s = 'a@1' AND id = 0", "");
}

/* ---- errors: each class, exact message and position ---- */

static void test_errors(void) {
    Q("", "error: empty statement");
    Q("INSERT INTO t VALUES (1)", "error: only SELECT statements are supported, not INSERT (position 1)");
    Q("UPDATE t SET x = 1", "error: only SELECT statements are supported, not UPDATE (position 1)");
    Q("DELETE FROM t", "error: only SELECT statements are supported, not DELETE (position 1)");
    Q("CREATE TABLE u (a int)", "error: only SELECT statements are supported, not CREATE TABLE (position 1)");
    Q("SELECT id FROM t; SELECT 1", "error: one statement at a time (position 18)");
    Q("SELECT * FROM t JOIN t AS u ON true", "error: joins are not supported (position 17)");
    Q("SELECT * FROM t, t AS u", "error: several tables in FROM are not supported (joins are not supported) (position 18)");
    Q("SELECT row_number() OVER () FROM t", "error: window functions are not supported (position 8)");
    Q("WITH q AS (SELECT 1) SELECT * FROM q", "error: WITH (common table expressions) is not supported (position 1)");
    Q("SELECT id FROM t UNION SELECT id FROM t", "error: UNION is not supported (position 18)");
    Q("SELECT 1", "error: SELECT needs FROM with a table (position 1)");
    Q("SELECT id FROM (SELECT id FROM (SELECT id FROM t) a) b", "error: only one level of subquery in FROM is supported (position 27)");
    Q("SELECT DISTINCT ON (g) g FROM t", "error: DISTINCT ON is not supported (position 17)");
    Q("SELECT idd FROM t", "error: column \"idd\" not found; did you mean \"id\"? (position 8)");
    Q("SELECT id FROM tt", "error: table \"tt\" not found; did you mean \"t\"? (position 16)");
    Q("SELECT id FROM nothing_here", "error: table \"nothing_here\" not found (position 16)");
    Q("SELECT lowr(s) FROM t", "error: function \"lowr\" not found; did you mean \"lower\"? (position 8)");
    Q("SELECT cout(*) FROM t", "error: function \"cout\" not found; did you mean \"count\"? (position 8)");
    Q("SELECT s + 1 FROM t", "error: operator + cannot take string and integer (position 10)");
    Q("SELECT id FROM t WHERE s > 3", "error: cannot compare string with integer (position 26)");
    Q("SELECT id FROM t WHERE s", "error: WHERE must be boolean, not string (position 24)");
    Q("SELECT id FROM t WHERE count(*) > 1", "error: aggregate functions are not allowed in WHERE (position 24)");
    Q("SELECT id FROM t GROUP BY count(*)", "error: aggregate functions are not allowed in GROUP BY (position 27)");
    Q("SELECT g, x FROM t GROUP BY g", "error: column \"x\" must appear in the GROUP BY clause or be used in an aggregate function (position 11)");
    Q("SELECT x, count(*) FROM t", "error: column \"x\" must appear in the GROUP BY clause or be used in an aggregate function (position 8)");
    Q("SELECT g FROM t GROUP BY g ORDER BY x", "error: column \"x\" must appear in the GROUP BY clause or be used in an aggregate function (position 37)");
    Q("SELECT sum(s) FROM t", "error: sum expects a number, not string (position 8)");
    Q("SELECT min(cats) FROM t", "error: min cannot take list values (position 8)");
    Q("SELECT count(sum(x)) FROM t", "error: aggregate function calls cannot be nested (position 14)");
    Q("SELECT sum(*) FROM t", "error: sum(*) is not valid; only count(*) is (position 8)");
    Q("SELECT unnest(cats) FROM t WHERE unnest(cats) = 'car'", "error: unnest is only allowed in the select list (position 34)");
    Q("SELECT unnest(s) FROM t", "error: unnest expects a list, not string (position 15)");
    Q("SELECT unnest(cats), unnest(ARRAY['x']) FROM t", "error: only one unnest(...) per SELECT is supported (position 22)");
    Q("SELECT DISTINCT g FROM t ORDER BY x", "error: for SELECT DISTINCT, ORDER BY expressions must appear in the select list (position 35)");
    Q("SELECT id FROM t ORDER BY 9", "error: ORDER BY position 9 is not in the select list (position 27)");
    Q("SELECT id FROM t GROUP BY 0", "error: GROUP BY position 0 is not in the select list (position 27)");
    Q("SELECT count(*) FROM t GROUP BY 1", "error: GROUP BY position 1 refers to an aggregate (position 33)");
    Q("SELECT id FROM t LIMIT -1", "error: LIMIT must not be negative (position 24)");
    Q("SELECT id FROM t LIMIT 1.5", "error: LIMIT must be an integer constant (position 24)");
    Q("SELECT id FROM t OFFSET id", "error: column \"id\" not found (position 25)");
    Q("SELECT id FROM t WHERE id = = 1", "error: syntax error at or near \"=\" (position 29)");
    Q("SELECT id FROM t WHERE s = 'abc", "error: unterminated quoted string at or near \"'abc\" (position 28)");
    Q("SELECT id FROM t WHERE id IN (SELECT id FROM t)", "error: subqueries are not supported in WHERE (position 27)");
    Q("SELECT x.id FROM t", "error: unknown table \"x\" in column reference (position 8)");
    Q("SELECT id FROM t@1@2", "error: only one table version (@N) per statement (position 19)");
    Q("SELECT id FROM (SELECT id FROM t WHERE id = = 2)", "error: syntax error at or near \"=\" (position 45)");
    Q("SELECT c FROM (SELECT unnest(cats) AS c FROM t) WHERE nope = 1", "error: column \"nope\" not found (position 55)");
    /* As in PostgreSQL, at most 1664 columns (hidden sort keys included). */
    static char wide[20000];
    snprintf(wide, sizeof wide, "SELECT id");
    for (int i = 1; i < 1664; i++) snprintf(wide + strlen(wide), sizeof wide - strlen(wide), ", id");
    snprintf(wide + strlen(wide), sizeof wide - strlen(wide), " FROM t WHERE id = 1");
    sql(wide);
    CHECK(strncmp(result, "1|1|1", 5) == 0 && strncmp(schema_text, "id int64, id_2 int64, id_3 int64", 32) == 0);
    snprintf(strstr(wide, " FROM t"), 40, ", id FROM t");
    Q(wide, "error: too many columns (at most 1664, sort keys included)");
}

/* ---- explain and streaming ---- */

static const char *explain(const char *text, bool analyze) {
    char *plan = NULL;
    fl_error err = {0};
    if (fl_sql_explain(db, text, NULL, analyze, &plan, &err) != FL_OK) snprintf(result, sizeof result, "error: %s", err.message);
    else snprintf(result, sizeof result, "%s", plan);
    free(plan);
    return result;
}

static void test_explain(void) {
    CHECK_EQ_STR(explain("SELECT g, count(*) AS n FROM t WHERE x > 0 GROUP BY g HAVING count(*) > 1 ORDER BY n DESC LIMIT 2", false),
                 "Limit 2\n"
                 "  TopK 2: n DESC\n"
                 "    Project g, count(*) AS n\n"
                 "      Filter count(*) > 1\n"
                 "        HashAggregate count(*) group by g\n"
                 "          Filter x > 0 (in the scan)\n"
                 "            Scan t@v3 columns=[g]\n");
    CHECK_EQ_STR(explain("SELECT c, count(*) FROM (SELECT unnest(cats) AS c FROM t@2) GROUP BY c ORDER BY 2 DESC", false),
                 "Sort \"count(*)\" DESC\n"
                 "  Project c, count(*)\n"
                 "    HashAggregate count(*) group by c\n"
                 "      Project unnest(cats) AS c\n"
                 "        Unnest cats\n"
                 "          Scan t@v2 columns=[cats]\n");
    CHECK_EQ_STR(explain("SELECT DISTINCT s FROM t ORDER BY s LIMIT 3 OFFSET 1", true),
                 "Limit 3 offset 1 (rows=3)\n"
                 "  TopK 4: s (rows=4)\n"
                 "    Distinct (rows=6)\n"
                 "      Project s (rows=7)\n"
                 "        Scan t@v3 columns=[s] (rows=7)\n"
                 "          fragments: 2, pruned 0; pages: 0, pruned 0; index: none; rows read 7, matched 7\n"
                 "result: 3 rows\n");
    CHECK_EQ_STR(explain("SELECT count(*) FROM t WHERE g = 'a'", false),
                 "Project count(*)\n"
                 "  Aggregate count(*)\n"
                 "    Filter g = 'a' (in the scan)\n"
                 "      Scan t@v3 columns=[]\n");
    CHECK_EQ_STR(explain("SELECT nope FROM t", false), "error: column \"nope\" not found (position 8)");
}

/* The "rows read N" counter of an EXPLAIN ANALYZE text, or -1. */
static long long rows_read(const char *plan) {
    const char *p = strstr(plan, "rows read ");
    return p ? atoll(p + 10) : -1;
}

static void test_streaming_limit(void) {
    fl_schema *s;
    fl_table *t;
    CHECK_OK(fl_schema_parse("id int64, v string", &s, &tl_err));
    CHECK_OK(fl_table_create(db, "big", s, &t, &tl_err));
    fl_schema_free(s);
    fl_batch *b = fl_batch_new(fl_table_schema(t));
    for (int i = 0; i < 10000; i++) {
        char v[16];
        snprintf(v, sizeof v, "v%05d", i);
        CHECK_OK(fl_array_append_int(&b->columns[0], i));
        CHECK_OK(fl_array_append_string(&b->columns[1], v));
    }
    CHECK_OK(fl_batch_finish(b, &tl_err));
    fl_write_options wo = {.max_rows_per_fragment = 1000};
    CHECK_OK(fl_table_append(t, b, &wo, &tl_err));
    fl_batch_free(b);
    fl_table_close(t);
    /* Ten fragments of 1000 rows: a plain LIMIT reads what it returns, from the first fragment. */
    const char *plan = explain("SELECT id, v FROM big LIMIT 5", true);
    CHECK(strstr(plan, "fragments: 10,") != NULL);
    CHECK_EQ_INT(rows_read(plan), 5);
    CHECK(strstr(plan, "result: 5 rows") != NULL);
    CHECK_EQ_INT(rows_read(explain("SELECT id FROM big LIMIT 2000 OFFSET 500", true)), 3000); /* batches end at fragments */
    Q("SELECT id FROM big LIMIT 3 OFFSET 998", "998;999;1000");
    plan = explain("SELECT id FROM big WHERE id >= 2500 LIMIT 10", true);
    CHECK(rows_read(plan) > 0 && rows_read(plan) <= 3000);
    Q("SELECT id, v FROM big WHERE id >= 2500 LIMIT 3", "2500|v02500;2501|v02501;2502|v02502");
    /* A top-k or an aggregate has to read everything. */
    CHECK_EQ_INT(rows_read(explain("SELECT id FROM big ORDER BY v DESC LIMIT 1", true)), 10000);
    Q("SELECT id FROM big ORDER BY v DESC LIMIT 2", "9999;9998");
    Q("SELECT id FROM big ORDER BY id DESC LIMIT 3 OFFSET 2", "9997;9996;9995");
    Q("SELECT count(*), sum(id), min(v), max(v) FROM big", "10000|49995000|v00000|v09999");
    Q("SELECT id % 3 AS k, count(*) FROM big GROUP BY k ORDER BY k", "0|3334;1|3333;2|3333");
    /* The cursor streams too: the first batch arrives before the table is read. */
    fl_cursor *c;
    CHECK_OK(fl_sql(db, "SELECT id FROM big", NULL, &c, &tl_err));
    fl_batch *first = NULL;
    CHECK_OK(fl_cursor_next(c, &first, &tl_err));
    CHECK(first && first->num_rows == 1000);
    fl_batch_free(first);
    fl_cursor_close(c);
}

/* ---- fl_table_query ---- */

static const char *table_query(const fl_query_options *o) {
    fl_table *t;
    CHECK_OK(fl_table_open(db, "t", NULL, &t, &tl_err));
    fl_cursor *c;
    fl_error err = {0};
    if (fl_table_query(t, o, &c, &err) != FL_OK) snprintf(result, sizeof result, "error: %s", err.message);
    else {
        char *s = fl_schema_format(fl_cursor_schema(c));
        snprintf(schema_text, sizeof schema_text, "%s", s);
        free(s);
        drain(c, o->with_row_ids);
        fl_cursor_close(c);
    }
    fl_table_close(t);
    return result;
}

static void test_table_query(void) {
    const char *id_s[] = {"id", "s"}, *id_only[] = {"id"}, *x_col[] = {"x"}, *bad[] = {"widht"};
    fl_query_options o = {.where = "x > 0", .columns = id_s, .n_columns = 2, .order_by = "s DESC NULLS LAST, id", .limit = 3, .limit_set = true,
                          .with_row_ids = true};
    CHECK_EQ_STR(table_query(&o), "#0:0|pear;#4:4|kiwi;#3:3|fig");
    CHECK_EQ_STR(schema_text, "id int64, s string");
    fl_query_options hidden = {.columns = id_only, .n_columns = 1, .order_by = "ts DESC"};
    CHECK_EQ_STR(table_query(&hidden), "2;6;4;5;1;3;0");
    CHECK_EQ_STR(schema_text, "id int64");
    fl_query_options typed = {.columns = x_col, .n_columns = 1, .where = "id < 2"};
    CHECK_EQ_STR(table_query(&typed), "3;1");
    CHECK_EQ_STR(schema_text, "x int32");
    fl_query_options window = {.columns = id_only, .n_columns = 1, .offset = 5};
    CHECK_EQ_STR(table_query(&window), "5;6");
    fl_query_options all = {.where = "id = 6"};
    CHECK_EQ_STR(table_query(&all), "6|c|-2|2|date|NULL|[person]|NULL");
    fl_query_options none = {.limit = 0, .limit_set = true};
    CHECK_EQ_STR(table_query(&none), "");
    fl_query_options expr_order = {.columns = id_only, .n_columns = 1, .order_by = "x * -1 NULLS FIRST, id", .limit = 3, .limit_set = true};
    CHECK_EQ_STR(table_query(&expr_order), "2;3;5");
    fl_query_options e1 = {.where = "idd = 1"};
    CHECK_EQ_STR(table_query(&e1), "error: where: column \"idd\" not found; did you mean \"id\"? (position 1)");
    fl_query_options e2 = {.order_by = "id, nope DESC"};
    CHECK_EQ_STR(table_query(&e2), "error: order_by: column \"nope\" not found (position 5)");
    fl_query_options e3 = {.columns = bad, .n_columns = 1};
    CHECK_EQ_STR(table_query(&e3), "error: table 't': column 'widht' not found");
    fl_query_options e4 = {.order_by = "id LIMIT 3"};
    CHECK_EQ_STR(table_query(&e4), "error: order_by: ORDER BY is a list of sort keys (found a limitCount clause)");
    fl_query_options e5 = {.order_by = "count(*)"};
    CHECK_EQ_STR(table_query(&e5), "error: order_by: aggregate functions are not allowed in ORDER BY here");
}

/* ---- property: top-k equals a reference sort + window ---- */

#define R_ROWS 3000
typedef struct rrow {
    int64_t id;
    bool a_null, b_null, s_null;
    int64_t a;
    double b;
    char s[4];
} rrow;
static rrow rrows[R_ROWS];
static uint64_t rng = 0x2545F4914F6CDD1Dull;
static uint64_t next_rand(void) { return tl_rand(&rng); }
static int pick(int n) { return (int)(next_rand() % (uint64_t)n); }

typedef struct rkey {
    int column;                 /* 0 a, 1 b, 2 s, 3 id */
    bool desc, nulls_first;
} rkey;
static rkey rkeys[4];
static int n_rkeys;

static int ref_compare(const void *pa, const void *pb) {
    const rrow *x = pa, *y = pb;
    for (int k = 0; k < n_rkeys; k++) {
        const rkey *key = &rkeys[k];
        bool nx = key->column == 0 ? x->a_null : key->column == 1 ? x->b_null : key->column == 2 ? x->s_null : false;
        bool ny = key->column == 0 ? y->a_null : key->column == 1 ? y->b_null : key->column == 2 ? y->s_null : false;
        if (nx || ny) {
            if (nx && ny) continue;
            return (nx ? 1 : -1) * (key->nulls_first ? -1 : 1);
        }
        int c = key->column == 0 ? (x->a > y->a) - (x->a < y->a)
                : key->column == 1 ? (x->b > y->b) - (x->b < y->b)
                : key->column == 2 ? strcmp(x->s, y->s)
                                   : (x->id > y->id) - (x->id < y->id);
        if (c) return key->desc ? -c : c;
    }
    return (x->id > y->id) - (x->id < y->id); /* ties keep storage order */
}

static void make_random_table(void) {
    fl_schema *s;
    fl_table *t;
    CHECK_OK(fl_schema_parse("id int64, a int32, b float64, s string", &s, &tl_err));
    CHECK_OK(fl_table_create(db, "r", s, &t, &tl_err));
    fl_schema_free(s);
    static const char *words[] = {"ab", "b", "ba", "c", "a", "cc"};
    for (int part = 0; part < 3; part++) {
        fl_batch *b = fl_batch_new(fl_table_schema(t));
        for (int i = part * (R_ROWS / 3); i < (part + 1) * (R_ROWS / 3); i++) {
            rrow *r = &rrows[i];
            r->id = i;
            r->a_null = pick(8) == 0, r->b_null = pick(8) == 0, r->s_null = pick(8) == 0;
            r->a = pick(40) - 20;
            r->b = (double)(pick(1000) - 500) / 8.0;
            snprintf(r->s, sizeof r->s, "%s", words[pick(6)]);
            CHECK_OK(fl_array_append_int(&b->columns[0], i));
            CHECK_OK(r->a_null ? fl_array_append_null(&b->columns[1]) : fl_array_append_int(&b->columns[1], r->a));
            CHECK_OK(r->b_null ? fl_array_append_null(&b->columns[2]) : fl_array_append_float(&b->columns[2], r->b));
            CHECK_OK(r->s_null ? fl_array_append_null(&b->columns[3]) : fl_array_append_string(&b->columns[3], r->s));
        }
        CHECK_OK(fl_batch_finish(b, &tl_err));
        CHECK_OK(fl_table_append(t, b, NULL, &tl_err));
        fl_batch_free(b);
    }
    fl_table_close(t);
}

static void test_topk_property(void) {
    make_random_table();
    static rrow sorted[R_ROWS];
    static const char *names[] = {"a", "b", "s", "id"};
    int mismatches = 0;
    for (int c = 0; c < 300 && mismatches < 3; c++) {
        n_rkeys = 1 + pick(3);
        char text[512];
        snprintf(text, sizeof text, "SELECT id FROM r ORDER BY ");
        for (int k = 0; k < n_rkeys; k++) {
            rkey *key = &rkeys[k];
            key->column = c % 50 == 0 && k == 0 ? 3 : pick(3);
            key->desc = pick(2);
            int nulls = pick(3); /* default, FIRST, LAST */
            key->nulls_first = nulls == 0 ? key->desc : nulls == 1;
            snprintf(text + strlen(text), sizeof text - strlen(text), "%s%s%s%s", k ? ", " : "", names[key->column], key->desc ? " DESC" : "",
                     nulls == 0 ? "" : nulls == 1 ? " NULLS FIRST" : " NULLS LAST");
        }
        bool limited = c % 5 != 4;
        int64_t limit = c % 37 == 0 ? 2000 : pick(60), offset = pick(4) == 0 ? pick(40) : 0;
        if (limited) snprintf(text + strlen(text), sizeof text - strlen(text), " LIMIT %lld", (long long)limit);
        if (offset) snprintf(text + strlen(text), sizeof text - strlen(text), " OFFSET %lld", (long long)offset);
        memcpy(sorted, rrows, sizeof sorted);
        qsort(sorted, R_ROWS, sizeof sorted[0], ref_compare);
        static char want[65536];
        want[0] = 0;
        int64_t end = limited && offset + limit < R_ROWS ? offset + limit : R_ROWS;
        for (int64_t i = offset; i < end; i++) snprintf(want + strlen(want), sizeof want - strlen(want), "%s%lld", i > offset ? ";" : "", (long long)sorted[i].id);
        const char *got = sql(text);
        if (strcmp(got, want) != 0) {
            fprintf(stderr, "  %s\n    got  %.200s\n    want %.200s\n", text, got, want);
            mismatches++;
        }
    }
    CHECK_EQ_INT(mismatches, 0);
    /* Every row beats the kept ones: the top-k buffer is compacted many times. */
    char want[256] = "";
    for (int i = 0; i < 5; i++) snprintf(want + strlen(want), sizeof want - strlen(want), "%s%d", i ? ";" : "", R_ROWS - 1 - i);
    Q("SELECT id FROM r ORDER BY id DESC LIMIT 5", want);
}

/* ---- allocation failures: every query ends in its result or a clean error, never a crash or a leak ---- */

static void test_allocation_failures(void) {
    static const char *queries[] = {
        "SELECT g, count(*), count(DISTINCT x), sum(x), avg(f), min(s), max(ts) FROM t WHERE id > 0 GROUP BY g HAVING count(*) > 0 ORDER BY 2 DESC, g LIMIT 3",
        "SELECT c, count(*) FROM (SELECT unnest(cats) AS c FROM t) GROUP BY c ORDER BY 2 DESC",
        "SELECT DISTINCT s, upper(g) AS u FROM t ORDER BY s DESC",
        "SELECT id, s FROM t@2 WHERE s LIKE '%p%' ORDER BY f NULLS FIRST LIMIT 2 OFFSET 1",
        "SELECT nope FROM t",
    };
    for (size_t k = 0; k < sizeof queries / sizeof queries[0]; k++) {
        char want[4096];
        snprintf(want, sizeof want, "%s", sql(queries[k]));
        int n;
        for (n = 1; n < 20000; n++) {
            fl_alloc_fail_after(n);
            fl_cursor *c = NULL;
            fl_error err = {0};
            int rc = fl_sql(db, queries[k], NULL, &c, &err);
            const char *got = rc == FL_OK ? drain(c, false) : NULL;
            fl_cursor_close(c);
            fl_alloc_fail_after(0);
            if (rc != FL_OK) {
                CHECK(err.code == rc);
                /* Lower layers sometimes report a failed allocation under another code (a manifest read
                 * says "corrupt: ... out of memory"): the message tells. */
                if (rc == FL_ENOMEM || strstr(err.message, "out of memory")) continue;
                break; /* the query's own error: it got past every allocation */
            }
            if (strstr(got, "out of memory")) continue;
            CHECK_EQ_STR(got, want);
            break;
        }
        CHECK(n < 20000);
        if (getenv("FL_TEST_VERBOSE")) fprintf(stderr, "  query %zu: %d allocation points\n", k, n);
    }
}

int main(void) {
    make_tables();
    RUN(test_aggregates);
    RUN(test_aggregate_overflow);
    RUN(test_cursor_error_sticks);
    RUN(test_group_by);
    RUN(test_order_by);
    RUN(test_projection);
    RUN(test_unnest);
    RUN(test_versions);
    RUN(test_errors);
    RUN(test_explain);
    RUN(test_streaming_limit);
    RUN(test_table_query);
    RUN(test_topk_property);
    RUN(test_allocation_failures);
    fl_db_close(db);
    return tl_finish("sql");
}
