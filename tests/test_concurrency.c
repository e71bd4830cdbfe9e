/*
 * test_concurrency.c — several processes committing to one table at once.
 *
 *  1. 4 processes x 50 appends: 200 commits, every row present once, versions 2..201 all appends.
 *  2. Appends racing column additions commute: all succeed.
 *  3. Updates of disjoint fragments commute; deletes racing on the same fragment: one wins, the other
 *     gets FL_ECONFLICT and changes nothing.
 */
#include "testlib.h"

#include <sys/wait.h>
#include <unistd.h>

static fl_table *open_t(const char *dir, fl_db **db) {
    fl_error err = {0};
    fl_table *t = NULL;
    if (fl_db_open(dir, 0, db, &err) || fl_table_open(*db, "t", NULL, &t, &err)) {
        fprintf(stderr, "open: %s\n", err.message);
        _exit(10);
    }
    return t;
}

static void make_table(const char *dir, const char *schema) {
    fl_db *db;
    fl_schema *s;
    CHECK_OK(fl_db_open(dir, FL_OPEN_CREATE, &db, &tl_err));
    CHECK_OK(fl_schema_parse(schema, &s, &tl_err));
    CHECK_OK(fl_table_create(db, "t", s, NULL, &tl_err));
    fl_schema_free(s);
    fl_db_close(db);
}

static void appender(const char *dir, int proc, int n_appends) {
    fl_db *db;
    fl_table *t = open_t(dir, &db);
    fl_error err = {0};
    for (int i = 0; i < n_appends; i++) {
        fl_batch *b = fl_batch_new(fl_table_schema(t));
        for (int r = 0; r < 3; r++) {
            fl_array_append_int(&b->columns[0], proc * 100000 + i * 10 + r);
            fl_array_append_int(&b->columns[1], proc);
        }
        for (int32_t c = 2; c < b->n_columns; c++)
            while (b->columns[c].length < 3) fl_array_append_null(&b->columns[c]);
        fl_batch_finish(b, &err);
        if (fl_table_append(t, b, NULL, &err)) {
            fprintf(stderr, "append in process %d: %s\n", proc, err.message);
            _exit(11);
        }
        fl_batch_free(b);
    }
    fl_table_close(t);
    fl_db_close(db);
    _exit(0);
}

static int wait_all(int n) {
    int failures = 0;
    for (int i = 0; i < n; i++) {
        int status;
        wait(&status);
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) failures++;
    }
    return failures;
}

static void test_four_appenders(void) {
    const char *dir = tl_tmpdir("conc");
    make_table(dir, "k int64 not null, proc int32");
    for (int p = 0; p < 4; p++)
        if (fork() == 0) appender(dir, p, 50);
    CHECK_EQ_INT(wait_all(4), 0);
    fl_db *db;
    fl_table *t;
    CHECK_OK(fl_db_open(dir, 0, &db, &tl_err));
    CHECK_OK(fl_table_open(db, "t", NULL, &t, &tl_err));
    CHECK_EQ_INT(fl_table_version(t), 201);
    CHECK_EQ_INT(fl_table_count_rows(t), 600);
    static unsigned char seen[4][50][3];
    memset(seen, 0, sizeof seen);
    fl_scan *sc;
    CHECK_OK(fl_scan_open(t, NULL, &sc, &tl_err));
    fl_batch *b;
    int64_t rows = 0, dup = 0, bad = 0;
    while (fl_scan_next(sc, &b, &tl_err) == FL_OK && b) {
        for (int64_t r = 0; r < b->num_rows; r++, rows++) {
            int64_t k = fl_array_get_int(&b->columns[0], r);
            int p = (int)(k / 100000), i = (int)(k % 100000 / 10), q = (int)(k % 10);
            if (p < 0 || p > 3 || i >= 50 || q >= 3 || fl_array_get_int(&b->columns[1], r) != p) bad++;
            else if (seen[p][i][q]++) dup++;
        }
        fl_batch_free(b);
    }
    fl_scan_close(sc);
    CHECK_EQ_INT(rows, 600);
    CHECK_EQ_INT(dup, 0);
    CHECK_EQ_INT(bad, 0);
    fl_version_info *v;
    size_t n;
    CHECK_OK(fl_table_list_versions(t, &v, &n, &tl_err));
    CHECK_EQ_INT(n, 201);
    int appends = 0;
    for (size_t i = 0; i < n; i++) appends += !strcmp(v[i].operation, "append");
    CHECK_EQ_INT(appends, 200);
    free(v);
    fl_table_close(t);
    fl_db_close(db);
}

static void test_append_races_add_column(void) {
    const char *dir = tl_tmpdir("conc-add");
    make_table(dir, "k int64 not null, proc int32");
    for (int p = 0; p < 2; p++)
        if (fork() == 0) appender(dir, p, 30);
    if (fork() == 0) {
        fl_db *db;
        fl_table *t = open_t(dir, &db);
        fl_error err = {0};
        for (int c = 0; c < 10; c++) {
            char text[32];
            snprintf(text, sizeof text, "feature%d float32", c);
            fl_schema *s;
            fl_schema_parse(text, &s, &err);
            if (fl_table_add_columns(t, s, NULL, &err)) {
                fprintf(stderr, "add column: %s\n", err.message);
                _exit(12);
            }
            fl_schema_free(s);
        }
        _exit(0);
    }
    CHECK_EQ_INT(wait_all(3), 0);
    fl_db *db;
    fl_table *t;
    CHECK_OK(fl_db_open(dir, 0, &db, &tl_err));
    CHECK_OK(fl_table_open(db, "t", NULL, &t, &tl_err));
    CHECK_EQ_INT(fl_table_version(t), 71);
    CHECK_EQ_INT(fl_table_count_rows(t), 180);
    CHECK_EQ_INT(fl_table_schema(t)->n_fields, 12);
    fl_table_close(t);
    fl_db_close(db);
}

static void test_disjoint_updates_and_conflicting_deletes(void) {
    const char *dir = tl_tmpdir("conc-upd");
    make_table(dir, "k int64 not null, proc int32");
    fl_db *db;
    fl_table *t;
    CHECK_OK(fl_db_open(dir, 0, &db, &tl_err));
    CHECK_OK(fl_table_open(db, "t", NULL, &t, &tl_err));
    fl_batch *b = fl_batch_new(fl_table_schema(t));
    for (int r = 0; r < 200; r++) {
        fl_array_append_int(&b->columns[0], r);
        fl_array_append_int(&b->columns[1], 0);
    }
    CHECK_OK(fl_batch_finish(b, &tl_err));
    fl_write_options wo = {.max_rows_per_fragment = 100}; /* fragments: rows 0-99, 100-199 */
    CHECK_OK(fl_table_append(t, b, &wo, &tl_err));
    fl_batch_free(b);
    /* Two handles based on the same version: updates of different fragments both land. */
    fl_table *t2;
    CHECK_OK(fl_table_open(db, "t", NULL, &t2, &tl_err));
    fl_schema *s;
    CHECK_OK(fl_schema_parse("proc int32", &s, &tl_err));
    fl_table *handles[2] = {t, t2};
    for (int h = 0; h < 2; h++) {
        b = fl_batch_new(s);
        fl_array_append_int(&b->columns[0], 7 + h);
        CHECK_OK(fl_batch_finish(b, &tl_err));
        uint64_t id = h == 0 ? 5 : 150;
        CHECK_OK(fl_batch_set_row_ids(b, &id, 1));
        CHECK_OK(fl_table_update(handles[h], b, &tl_err));
        fl_batch_free(b);
    }
    CHECK_EQ_INT(fl_table_version(t2), 4);
    uint64_t ids[2] = {5, 150};
    const char *cols[1] = {"proc"};
    CHECK_OK(fl_table_take(t2, ids, 2, cols, 1, &b, &tl_err));
    CHECK_EQ_INT(fl_array_get_int(&b->columns[0], 0), 7);
    CHECK_EQ_INT(fl_array_get_int(&b->columns[0], 1), 8);
    fl_batch_free(b);
    /* Now both handles sit at different versions; t is at 3. Deleting in fragment 0 from t2 (v5) and
     * then from t (based on v3, which must see that v4 and v5 touched fragment 0) conflicts. */
    uint64_t d1 = 10, d2 = 11;
    CHECK_OK(fl_table_delete_rows(t2, &d1, 1, &tl_err));
    CHECK_EQ_INT(fl_table_delete_rows(t, &d2, 1, &tl_err), FL_ECONFLICT);
    CHECK(strstr(tl_err.message, "fragment") != NULL);
    CHECK_EQ_INT(fl_table_version(t), 3);
    CHECK_OK(fl_table_checkout(t, 0, &tl_err));
    CHECK_EQ_INT(fl_table_version(t), 5);
    CHECK_EQ_INT(fl_table_count_rows(t), 199);
    CHECK_OK(fl_table_delete_rows(t, &d2, 1, &tl_err)); /* retried on the latest version it succeeds */
    CHECK_EQ_INT(fl_table_count_rows(t), 198);
    fl_schema_free(s);
    fl_table_close(t);
    fl_table_close(t2);
    fl_db_close(db);
}

int main(void) {
    RUN(test_four_appenders);
    RUN(test_append_races_add_column);
    RUN(test_disjoint_updates_and_conflicting_deletes);
    return tl_finish("test_concurrency");
}
