/*
 * test_dml.c — queries on stored tables: the filtered scan (page pruning, deletions, several fragments,
 * rewritten columns) against a plain scan evaluated without any shortcut, count/delete by predicate with
 * time travel, and the CLI-facing error messages.
 */
#include "testlib.h"
#include "query/qscan.h"

#include <math.h>
#include <stdint.h>

static uint64_t rng = 0x243F6A8885A308D3ull;
static uint64_t next_rand(void) { return tl_rand(&rng); }
static int pick(int n) { return (int)(next_rand() % (uint64_t)n); }

#define SCHEMA "seq int64, a int32, x float64, f bool, u uint16, s string"

/* Rows [first, first+n): seq ascending (pages prune on it), a clustered by thousands, x with NULLs and
 * NaNs, f true in the first half of every 4000, u wrapping, s a few words. */
static fl_batch *make_rows(int64_t first, int64_t n) {
    fl_schema *s;
    CHECK_OK(fl_schema_parse(SCHEMA, &s, &tl_err));
    fl_batch *b = fl_batch_new(s);
    static const char *words[] = {"car", "bus", "person", "rider"};
    for (int64_t i = first; i < first + n; i++) {
        CHECK_OK(fl_array_append_int(&b->columns[0], i));
        CHECK_OK(fl_array_append_int(&b->columns[1], (i / 1000) * 10 + pick(5)));
        int r = pick(50);
        CHECK_OK(r == 0 ? fl_array_append_null(&b->columns[2]) : fl_array_append_float(&b->columns[2], r == 1 ? NAN : (double)(i % 5000) / 10.0));
        CHECK_OK(i % 977 == 0 ? fl_array_append_null(&b->columns[3]) : fl_array_append_bool(&b->columns[3], i % 4000 < 2000));
        CHECK_OK(fl_array_append_uint(&b->columns[4], (uint64_t)(i % 70000)));
        CHECK_OK(fl_array_append_string(&b->columns[5], words[pick(4)]));
    }
    CHECK_OK(fl_batch_finish(b, &tl_err));
    fl_schema_free(s);
    return b;
}

/* A fresh table "t" of make_rows(0, rows) in fragments of frag_rows rows (0: one fragment). */
static fl_table *rows_table(const char *tag, int64_t rows, int64_t frag_rows, fl_db **db) {
    fl_table *t = NULL;
    CHECK_OK(fl_db_open(tl_tmpdir(tag), FL_OPEN_CREATE, db, &tl_err));
    fl_batch *b = make_rows(0, rows);
    CHECK_OK(fl_table_create(*db, "t", b->schema, &t, &tl_err));
    fl_write_options wo = {.max_rows_per_fragment = frag_rows};
    CHECK_OK(fl_table_append(t, b, &wo, &tl_err));
    fl_batch_free(b);
    return t;
}

/* A random predicate over the table's columns, as SQL. */
static void random_pred(int depth, char *out, size_t size) {
    static const char *ops[] = {"=", "<>", "<", "<=", ">", ">="};
    char l[1024], r[1024];
    int kind = depth > 0 ? pick(10) : pick(7);
    switch (kind) {
    case 0: snprintf(out, size, "seq %s %d", ops[pick(6)], pick(26000)); break;
    case 1: snprintf(out, size, "%d %s a", pick(300), ops[pick(6)]); break;
    case 2: snprintf(out, size, "x %s %s", ops[pick(6)], pick(8) == 0 ? "'NaN'::float8" : pick(2) ? "250.5" : "17"); break;
    case 3: snprintf(out, size, "%s%sf%s", pick(2) ? "NOT " : "", "", pick(3) == 0 ? " IS NULL" : pick(2) ? " IS TRUE" : ""); break;
    case 4: snprintf(out, size, "seq %sBETWEEN %d AND %d", pick(2) ? "NOT " : "", pick(20000), pick(26000)); break;
    case 5: snprintf(out, size, "a %sIN (%d, %d, NULL)", pick(2) ? "NOT " : "", pick(250), pick(250)); break;
    case 6: snprintf(out, size, pick(2) ? "u > %d" : "s = 'rider' AND u < %d", pick(30000)); break;
    case 7:
        random_pred(depth - 1, l, sizeof l);
        snprintf(out, size, "NOT (%s)", l);
        break;
    default:
        random_pred(depth - 1, l, sizeof l);
        random_pred(depth - 1, r, sizeof r);
        snprintf(out, size, "(%s) %s (%s)", l, kind == 8 ? "AND" : "OR", r);
    }
}

/* Row ids where `sql` is true, by a plain scan of every column evaluated batch by batch (no pruning). */
static size_t reference_ids(fl_table *t, const char *sql, uint64_t *ids, size_t cap) {
    fl_expr *e;
    CHECK_OK(fl_expr_compile_filter(sql, fl_table_schema(t), &e, &tl_err));
    fl_scan_options so = {.with_row_ids = true, .batch_size = 3000};
    fl_scan *sc;
    CHECK_OK(fl_scan_open(t, &so, &sc, &tl_err));
    size_t n = 0;
    fl_batch *b;
    int64_t *rows = malloc(3000 * sizeof *rows);
    while (fl_scan_next(sc, &b, &tl_err) == FL_OK && b) {
        int64_t m;
        CHECK_OK(fl_expr_filter_rows(e, b, rows, &m, &tl_err));
        for (int64_t k = 0; k < m && n < cap; k++) ids[n++] = b->row_ids[rows[k]];
        fl_batch_free(b);
    }
    free(rows);
    fl_scan_close(sc);
    fl_expr_free(e);
    return n;
}

/* Row ids and stats of the filtered scan. */
static size_t qscan_ids(fl_table *t, const char *sql, uint64_t *ids, size_t cap, fl_qscan_stats *stats) {
    fl_expr *e;
    CHECK_OK(fl_expr_compile_filter(sql, fl_table_schema(t), &e, &tl_err));
    static const char *const cols[] = {"seq", "s"};
    fl_qscan *q;
    CHECK_OK(fl_qscan_open(t, e, cols, 2, true, 2500, &q, &tl_err));
    size_t n = 0;
    fl_batch *b;
    while (fl_qscan_next(q, &b, &tl_err) == FL_OK && b) {
        CHECK(b->num_rows > 0);
        for (int64_t k = 0; k < b->num_rows && n < cap; k++) {
            /* The projected columns belong to the same rows as the ids. */
            CHECK_EQ_INT(fl_array_get_int(&b->columns[0], k), (int64_t)b->row_ids[k]); /* seq == row id by construction */
            ids[n++] = b->row_ids[k];
        }
        fl_batch_free(b);
    }
    if (stats) *stats = *fl_qscan_get_stats(q);
    fl_qscan_close(q);
    fl_expr_free(e);
    return n;
}

#define CAP 40000
static uint64_t want[CAP], got[CAP];
static int used_index; /* predicates whose scan an index narrowed */

static void check_predicates(fl_table *t, int cases, uint64_t *pruned_pages) {
    int bad = 0;
    for (int c = 0; c < cases && bad < 5; c++) {
        char sql[4096];
        random_pred(3, sql, sizeof sql);
        size_t nw = reference_ids(t, sql, want, CAP);
        fl_qscan_stats st;
        size_t ng = qscan_ids(t, sql, got, CAP, &st);
        int64_t count;
        CHECK_OK(fl_table_count_where(t, sql, &count, &tl_err));
        bool same = nw == ng && (int64_t)nw == count && memcmp(want, got, nw * sizeof *want) == 0;
        if (!same) {
            fprintf(stderr, "  %s: reference %zu rows, qscan %zu, count %lld\n", sql, nw, ng, (long long)count);
            bad++;
        }
        *pruned_pages += st.pages_pruned;
        used_index += st.index_used != NULL;
    }
    CHECK_EQ_INT(bad, 0);
}

/* The filtered scan equals a plain scan on random predicates, across pruning, deletions, an appended
 * fragment and a rewritten column. */
static void test_qscan_property(void) {
    /* Counts of more than 500 rows to read split between threads (one per core), so every count below
     * compares the threaded count with the plain scan; qscan_ids stays single-threaded. */
    fl_count_parallel_rows = 500;
    fl_db *db;
    fl_table *t = rows_table("dml_prop", 24000, 10000, &db);
    uint64_t pruned = 0;
    check_predicates(t, 300, &pruned);
    CHECK(pruned > 0);
    CHECK_EQ_INT(used_index, 0);
    /* The same kind of predicates with indexes on some columns: identical results, indexes used. */
    CHECK_OK(fl_index_create(t, "a", "btree", NULL, &tl_err));
    CHECK_OK(fl_index_create(t, "f", "bitmap", NULL, &tl_err));
    CHECK_OK(fl_index_create(t, "s", "bitmap", NULL, &tl_err));
    CHECK_OK(fl_index_create(t, "x", "btree", NULL, &tl_err));
    check_predicates(t, 300, &pruned);
    CHECK(used_index > 50);

    /* Deletions inside pages that survive pruning, and one whole page range. */
    uint64_t del[3000];
    size_t nd = 0;
    for (uint64_t i = 0; i < 24000 && nd < 3000; i += 1 + (uint64_t)pick(20)) del[nd++] = i;
    CHECK_OK(fl_table_delete_rows(t, del, nd, &tl_err));
    /* A new fragment, then a rewritten column in the first one (new data file, new statistics). */
    fl_batch *b = make_rows(24000, 2000);
    CHECK_OK(fl_table_append(t, b, NULL, &tl_err));
    fl_batch_free(b);
    fl_schema *us;
    CHECK_OK(fl_schema_parse("a int32", &us, &tl_err));
    fl_batch *ub = fl_batch_new(us);
    uint64_t uids[500];
    size_t nu = 0;
    for (uint64_t i = 1; i < 10000 && nu < 500; i += 20) {
        bool deleted = false;
        for (size_t k = 0; k < nd; k++) deleted |= del[k] == i;
        if (deleted) continue;
        uids[nu++] = i;
        CHECK_OK(fl_array_append_int(&ub->columns[0], 999));
    }
    CHECK_OK(fl_batch_finish(ub, &tl_err));
    CHECK_OK(fl_batch_set_row_ids(ub, uids, nu));
    CHECK_OK(fl_table_update(t, ub, &tl_err));
    fl_batch_free(ub);
    fl_schema_free(us);
    int64_t n;
    CHECK_OK(fl_table_count_where(t, "a = 999", &n, &tl_err));
    CHECK_EQ_INT(n, (int64_t)nu);
    /* Indexes now cover only part of the table (the rewritten fragment and the new one are scanned). */
    used_index = 0;
    check_predicates(t, 300, &pruned);
    CHECK(used_index > 50);
    CHECK_OK(fl_index_update(t, "a_idx", &tl_err));
    check_predicates(t, 200, &pruned);
    fl_count_parallel_rows = 262144;
    fl_table_close(t);
    fl_db_close(db);
}

/* Statistics prune exactly the pages they should; the result stays exact. */
static void test_pruning(void) {
    fl_db *db;
    fl_table *t = rows_table("dml_prune", 32768, 0, &db);
    /* seq is int64: 8192 rows per page, so 4 pages; seq >= 30000 can only be in the last one. */
    fl_qscan_stats st;
    size_t n = qscan_ids(t, "seq >= 30000", got, CAP, &st);
    CHECK_EQ_INT((int64_t)n, 2768);
    CHECK_EQ_INT((int64_t)st.pages_pruned, 3);
    CHECK_EQ_INT((int64_t)st.rows_read, 8192);
    CHECK_EQ_INT((int64_t)got[0], 30000);
    /* Equality outside every page: nothing read at all, the fragment counts as pruned. */
    n = qscan_ids(t, "seq = -5 OR a > 100000", got, CAP, &st);
    CHECK_EQ_INT((int64_t)n, 0);
    CHECK_EQ_INT((int64_t)st.rows_read, 0);
    CHECK_EQ_INT((int64_t)st.fragments_pruned, 1);
    /* NaN sits above every number, so x > 1e9 cannot prune float pages. */
    int64_t c;
    CHECK_OK(fl_table_count_where(t, "x > 1e9", &c, &tl_err));
    int64_t nan_rows;
    CHECK_OK(fl_table_count_where(t, "x = 'NaN'::float8", &nan_rows, &tl_err));
    CHECK(nan_rows > 0);
    CHECK_EQ_INT(c, nan_rows);
    /* NOT of an unprunable predicate keeps every page. */
    n = qscan_ids(t, "NOT (s = 'car')", got, CAP, &st);
    CHECK_EQ_INT((int64_t)st.pages_pruned, 0);
    fl_table_close(t);
    fl_db_close(db);
}

/* delete --where: one commit, exact rows, time travel sees the rows before. */
static void test_delete_where(void) {
    fl_db *db;
    fl_table *t = rows_table("dml_delete", 5000, 0, &db);
    uint64_t v0 = fl_table_version(t);
    int64_t before, n, deleted;
    CHECK_OK(fl_table_count_where(t, "seq < 1000 OR f IS NULL", &before, &tl_err));
    CHECK_EQ_INT(before, 1000 + 4); /* f is NULL at 977*k: 0 (below 1000), 1954, 2931, 3908, 4885 */
    CHECK_OK(fl_table_delete_where(t, "seq < 1000 OR f IS NULL", &deleted, &tl_err));
    CHECK_EQ_INT(deleted, before);
    CHECK_EQ_INT((int64_t)fl_table_version(t), (int64_t)v0 + 1);
    CHECK_EQ_INT(fl_table_count_rows(t), 5000 - before);
    CHECK_OK(fl_table_count_where(t, "seq < 1000", &n, &tl_err));
    CHECK_EQ_INT(n, 0);
    /* Nothing matches: no commit. */
    CHECK_OK(fl_table_delete_where(t, "seq < 1000", &deleted, &tl_err));
    CHECK_EQ_INT(deleted, 0);
    CHECK_EQ_INT((int64_t)fl_table_version(t), (int64_t)v0 + 1);
    /* A bad predicate: error, nothing committed. */
    fl_error err = {0};
    CHECK_EQ_INT(fl_table_delete_where(t, "seqq < 3", &deleted, &err), FL_EINVAL);
    CHECK(strstr(err.message, "did you mean \"seq\"") != NULL);
    CHECK_EQ_INT(fl_table_delete_where(t, "  ", &deleted, &err), FL_EINVAL);
    CHECK_EQ_INT((int64_t)fl_table_version(t), (int64_t)v0 + 1);
    CHECK_OK(fl_table_checkout(t, v0, &tl_err));
    CHECK_OK(fl_table_count_where(t, "seq < 1000", &n, &tl_err));
    CHECK_EQ_INT(n, 1000);
    fl_table_close(t);
    fl_db_close(db);
}

/* update --set --where: expressions see the values before the update, row ids stay, one commit. */
static void test_update_where(void) {
    fl_db *db;
    fl_table *t = rows_table("dml_update", 3000, 1000, &db);
    uint64_t v0 = fl_table_version(t);
    int64_t n, c;
    /* seq < 10 → a = seq * 100 + a (old a), s = 'updated', u = NULL-free arithmetic; the rest untouched. */
    CHECK_OK(fl_table_update_where(t, "a = seq * 100, s = upper(s) || '!', x = NULL", "seq < 10 OR seq >= 2995", &n, &tl_err));
    CHECK_EQ_INT(n, 15);
    CHECK_EQ_INT((int64_t)fl_table_version(t), (int64_t)v0 + 1);
    CHECK_OK(fl_table_count_where(t, "a = seq * 100 AND x IS NULL AND ends_with(s, '!')", &c, &tl_err));
    CHECK_EQ_INT(c, 15);
    CHECK_OK(fl_table_count_where(t, "s IN ('CAR!', 'BUS!', 'PERSON!', 'RIDER!')", &c, &tl_err));
    CHECK_EQ_INT(c, 15);
    /* Row ids are kept: the row with id 2999 still has seq 2999 and now a = 299900. */
    static const char *const cols[] = {"seq", "a"};
    uint64_t id = 2999;
    fl_batch *row;
    CHECK_OK(fl_table_take(t, &id, 1, cols, 2, &row, &tl_err));
    CHECK_EQ_INT(fl_array_get_int(&row->columns[0], 0), 2999);
    CHECK_EQ_INT(fl_array_get_int(&row->columns[1], 0), 299900);
    fl_batch_free(row);
    /* Nothing matches: no commit. */
    CHECK_OK(fl_table_update_where(t, "a = 1", "seq < 0", &n, &tl_err));
    CHECK_EQ_INT(n, 0);
    CHECK_EQ_INT((int64_t)fl_table_version(t), (int64_t)v0 + 1);
    /* Errors, each with nothing committed. */
    fl_error err = {0};
    CHECK_EQ_INT(fl_table_update_where(t, "aa = 1", NULL, &n, &err), FL_EINVAL);
    CHECK_EQ_STR(err.message, "column \"aa\" not found; did you mean \"a\"? (position 1)");
    CHECK_EQ_INT(fl_table_update_where(t, "a = 'x'", NULL, &n, &err), FL_EINVAL);
    CHECK_EQ_STR(err.message, "cannot assign string to column \"a\" (int32) (position 5)");
    CHECK_EQ_INT(fl_table_update_where(t, "a = 1, a = 2", NULL, &n, &err), FL_EINVAL);
    CHECK_EQ_STR(err.message, "column \"a\" is assigned twice (position 8)");
    CHECK_EQ_INT(fl_table_update_where(t, "a = seq * 1000000", NULL, &n, &err), FL_EINVAL);
    CHECK_EQ_STR(err.message, "value 2148000000 does not fit column \"a\" (int32) at row 2148");
    CHECK_EQ_INT(fl_table_update_where(t, "a = 1 WHERE seq = 1", NULL, &n, &err), FL_EINVAL);
    CHECK(strstr(err.message, "use --where") != NULL);
    CHECK_EQ_INT((int64_t)fl_table_version(t), (int64_t)v0 + 1);
    /* Every row, with a column-to-column copy. */
    CHECK_OK(fl_table_update_where(t, "u = 65000, f = NOT f", "", &n, &tl_err));
    CHECK_EQ_INT(n, 3000);
    CHECK_OK(fl_table_count_where(t, "u = 65000", &c, &tl_err));
    CHECK_EQ_INT(c, 3000);
    /* Time travel: the version before sees the old values. */
    CHECK_OK(fl_table_checkout(t, v0, &tl_err));
    CHECK_OK(fl_table_count_where(t, "x IS NULL OR u = 65000", &c, &tl_err));
    int64_t nulls_before;
    CHECK_OK(fl_table_count_where(t, "x IS NULL", &nulls_before, &tl_err));
    CHECK_EQ_INT(c, nulls_before);
    fl_table_close(t);
    fl_db_close(db);
}

/* update --set with list literals for list columns (items converted to the element type, range-checked)
 * and time strings for timestamp columns (read as in filters). */
static void test_update_where_values(void) {
    fl_db *db;
    fl_table *t;
    CHECK_OK(fl_db_open(tl_tmpdir("dml_update_lists"), FL_OPEN_CREATE, &db, &tl_err));
    fl_schema *s;
    CHECK_OK(fl_schema_parse("id int64, cats list<string>, nums list<int32>, ts timestamp, g float32", &s, &tl_err));
    CHECK_OK(fl_table_create(db, "t", s, &t, &tl_err));
    fl_schema_free(s);
    static const char *rows = "{\"id\":0,\"cats\":[\"car\"],\"nums\":[1]}\n{\"id\":1,\"cats\":null,\"nums\":[]}\n";
    fl_batch *b;
    CHECK_OK(fl_batch_from_jsonl(fl_table_schema(t), rows, strlen(rows), "rows", &b, &tl_err));
    CHECK_OK(fl_table_append(t, b, NULL, &tl_err));
    fl_batch_free(b);
    int64_t n, c;
    CHECK_OK(fl_table_update_where(t, "cats = ['bus', 'rider'], nums = [7, NULL, -2]", "id = 1", &n, &tl_err));
    CHECK_EQ_INT(n, 1);
    CHECK_OK(fl_table_update_where(t, "cats = [], nums = ARRAY[5]", "id = 0", &n, &tl_err));
    CHECK_EQ_INT(n, 1);
    static const char *const cols[] = {"cats", "nums"};
    uint64_t ids[2] = {0, 1};
    fl_batch *got;
    CHECK_OK(fl_table_take(t, ids, 2, cols, 2, &got, &tl_err));
    int64_t st, en;
    fl_array_get_list(&got->columns[0], 0, &st, &en);
    CHECK_EQ_INT(en - st, 0);
    fl_array_get_list(&got->columns[0], 1, &st, &en);
    CHECK_EQ_INT(en - st, 2);
    size_t len;
    const uint8_t *item = fl_array_get_bytes(&got->columns[0].children[0], st + 1, &len);
    CHECK_EQ_INT((int64_t)len, 5);
    CHECK(!memcmp(item, "rider", 5));
    fl_array_get_list(&got->columns[1], 0, &st, &en);
    CHECK_EQ_INT(en - st, 1);
    CHECK_EQ_INT(fl_array_get_int(&got->columns[1].children[0], st), 5);
    fl_array_get_list(&got->columns[1], 1, &st, &en);
    CHECK_EQ_INT(en - st, 3);
    CHECK_EQ_INT(fl_array_get_int(&got->columns[1].children[0], st), 7);
    CHECK(fl_array_is_null(&got->columns[1].children[0], st + 1));
    CHECK_EQ_INT(fl_array_get_int(&got->columns[1].children[0], st + 2), -2);
    fl_batch_free(got);
    CHECK_OK(fl_table_count_where(t, "array_has_all(cats, ['bus', 'rider']) AND array_has(nums, -2)", &c, &tl_err));
    CHECK_EQ_INT(c, 1);
    /* Items that do not fit the element type are errors, nothing committed. */
    uint64_t v = fl_table_version(t);
    fl_error err = {0};
    CHECK_EQ_INT(fl_table_update_where(t, "nums = [1, 3000000000]", NULL, &n, &err), FL_EINVAL);
    CHECK_EQ_STR(err.message, "value 3000000000 does not fit column \"nums\" (list<int32>) at row 0");
    CHECK_EQ_INT(fl_table_update_where(t, "nums = ['a']", NULL, &n, &err), FL_EINVAL);
    CHECK_EQ_STR(err.message, "cannot assign list to column \"nums\" (list<int32>) (position 8)");
    CHECK_EQ_INT((int64_t)fl_table_version(t), (int64_t)v);
    /* A time string for a timestamp column, as a filter reads it. */
    CHECK_OK(fl_table_update_where(t, "ts = '1970-01-01 00:00:09'", "id = 0", &n, &tl_err));
    CHECK_EQ_INT(n, 1);
    CHECK_OK(fl_table_count_where(t, "ts = 9000 AND id = 0", &c, &tl_err));
    CHECK_EQ_INT(c, 1);
    CHECK_EQ_INT(fl_table_update_where(t, "id = 2, ts = 'soon'", NULL, &n, &err), FL_EINVAL);
    CHECK_EQ_STR(err.message, "'soon' is not a timestamp (expected RFC 3339, e.g. '2017-07-01 08:30:00' or '2017-07-01T08:30:00Z') (position 14)");
    /* A float32 column takes what it can hold; beyond its range is an error, not infinity. */
    CHECK_OK(fl_table_update_where(t, "g = 1.5", "id = 1", &n, &tl_err));
    CHECK_OK(fl_table_count_where(t, "g = 1.5", &c, &tl_err));
    CHECK_EQ_INT(c, 1);
    CHECK_EQ_INT(fl_table_update_where(t, "g = 1e300", "id = 1", &n, &err), FL_EINVAL);
    CHECK_EQ_STR(err.message, "value 1e+300 does not fit column \"g\" (float32) at row 1");
    fl_table_close(t);
    fl_db_close(db);
}

/* add-column --expr: one commit, values for every live row across fragments, types from the expression. */
static void test_add_expr_column(void) {
    fl_db *db;
    fl_table *t = rows_table("dml_expr", 3000, 1000, &db);
    uint64_t del[2] = {5, 1500};
    CHECK_OK(fl_table_delete_rows(t, del, 2, &tl_err));
    uint64_t v0 = fl_table_version(t);
    CHECK_OK(fl_table_add_expr_column(t, "seq10", "seq * 10 + a", &tl_err));
    CHECK_OK(fl_table_add_expr_column(t, "big", "seq >= 2000 AND NOT f", &tl_err));
    CHECK_OK(fl_table_add_expr_column(t, "tag", "upper(s) || '-' || CAST(seq % 3 AS text)", &tl_err));
    CHECK_OK(fl_table_add_expr_column(t, "half", "x / 2", &tl_err));
    CHECK_EQ_INT((int64_t)fl_table_version(t), (int64_t)v0 + 4);
    char *type = fl_schema_format(fl_table_schema(t));
    CHECK(type && strstr(type, "seq10 int64, big bool, tag string, half float64") != NULL);
    free(type);
    int64_t n;
    /* Every live row holds exactly its value (checked by filters against the source columns). */
    CHECK_OK(fl_table_count_where(t, "seq10 = seq * 10 + a", &n, &tl_err));
    CHECK_EQ_INT(n, 2998);
    CHECK_OK(fl_table_count_where(t, "(big = (seq >= 2000 AND NOT f)) OR (big IS NULL AND f IS NULL AND seq >= 2000)", &n, &tl_err));
    CHECK_EQ_INT(n, 2998);
    CHECK_OK(fl_table_count_where(t, "tag = upper(s) || '-' || CAST(seq % 3 AS text)", &n, &tl_err));
    CHECK_EQ_INT(n, 2998);
    CHECK_OK(fl_table_count_where(t, "half = x / 2 OR (half IS NULL AND x IS NULL) OR (x <> x)", &n, &tl_err));
    CHECK_EQ_INT(n, 2998);
    /* The definition is kept with the field. */
    const fl_schema *s = fl_table_schema(t);
    const fl_field *f = &s->fields[fl_schema_find(s, "seq10")];
    bool found = false;
    for (int32_t i = 0; i < f->n_metadata; i++) found |= !strcmp(f->metadata[i].key, "expr") && !strcmp(f->metadata[i].value, "seq * 10 + a");
    CHECK(found);
    /* Errors commit nothing. */
    fl_error err = {0};
    CHECK_EQ_INT(fl_table_add_expr_column(t, "seq10", "1", &err), FL_EEXIST);
    CHECK_EQ_INT(fl_table_add_expr_column(t, "z", "NULL", &err), FL_EINVAL);
    CHECK_EQ_INT(fl_table_add_expr_column(t, "z", "seqq + 1", &err), FL_EINVAL);
    CHECK_EQ_STR(err.message, "column \"seqq\" not found; did you mean \"seq\"? (position 1)");
    CHECK_EQ_INT(fl_table_add_expr_column(t, "z", "", &err), FL_EINVAL);
    CHECK_EQ_INT((int64_t)fl_table_version(t), (int64_t)v0 + 4);
    /* Time travel: the version before has no such column. */
    CHECK_OK(fl_table_checkout(t, v0, &tl_err));
    CHECK(fl_schema_find(fl_table_schema(t), "seq10") < 0);
    fl_table_close(t);
    fl_db_close(db);
}

int main(void) {
    RUN(test_add_expr_column);
    RUN(test_update_where);
    RUN(test_update_where_values);
    RUN(test_pruning);
    RUN(test_delete_where);
    RUN(test_qscan_property);
    return tl_finish("dml");
}
