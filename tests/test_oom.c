/*
 * test_oom.c — allocation failure injection (the SQLite way): a scenario of writes and reads runs again
 * and again with the n-th library allocation failing, for every n until the scenario completes. Each run
 * must end in FL_OK or a clean error (no crash, no leak under ASan), and the table must afterwards open
 * at a consistent version whose scan agrees with its row count.
 */
#include "testlib.h"

#include "io/io.h"

#include <stdint.h>
#include <unistd.h>


static fl_schema *schema;

/* Returns the number of operations that succeeded. */
static int scenario(const char *dir) {
    fl_error err = {0};
    fl_db *db = NULL;
    fl_table *t = NULL;
    int ok = 0;
    if (fl_db_open(dir, FL_OPEN_CREATE, &db, &err)) return ok;
    ok++;
    if (fl_table_create(db, "t", schema, &t, &err) && fl_table_open(db, "t", NULL, &t, &err)) goto done;
    ok++;
    for (int k = 0; k < 2; k++) {
        fl_batch *b = fl_batch_new(schema);
        if (!b) goto done;
        for (int i = 0; i < 50; i++) {
            fl_array_append_int(&b->columns[0], k * 100 + i);
            fl_array_append_string(&b->columns[1], "abc");
            fl_array_append_string(&b->columns[2].children[0], "x");
            fl_array_end_list(&b->columns[2]);
            fl_array_append_bytes(&b->columns[3], "blob", 4);
        }
        int rc = fl_batch_finish(b, &err);
        if (!rc) rc = fl_table_append(t, b, NULL, &err);
        fl_batch_free(b);
        if (rc) goto done;
        ok++;
    }
    uint64_t del[2] = {3, 60};
    if (fl_table_delete_rows(t, del, 2, &err)) goto done;
    ok++;
    fl_schema *add = NULL;
    if (fl_schema_parse("extra float32", &add, &err)) goto done;
    int rc = fl_table_add_columns(t, add, NULL, &err);
    fl_schema_free(add);
    if (rc) goto done;
    ok++;
    fl_schema *upd = NULL;
    if (fl_schema_parse("name string", &upd, &err)) goto done;
    fl_batch *u = fl_batch_new(upd);
    fl_schema_free(upd);
    if (!u) goto done;
    uint64_t rows[2] = {99, 1};
    fl_array_append_string(&u->columns[0], "updated");
    fl_array_append_null(&u->columns[0]);
    rc = fl_batch_finish(u, &err);
    if (!rc) rc = fl_batch_set_row_ids(u, rows, 2);
    if (!rc) rc = fl_table_update(t, u, &err);
    fl_batch_free(u);
    if (rc) goto done;
    ok++;
    if (fl_table_compact(t, NULL, NULL, &err)) goto done;
    ok++;
    fl_scan *sc;
    if (fl_scan_open(t, NULL, &sc, &err)) goto done;
    fl_batch *b;
    while ((rc = fl_scan_next(sc, &b, &err)) == FL_OK && b) fl_batch_free(b);
    fl_scan_close(sc);
    if (rc) goto done;
    ok++;
    uint64_t ids[2] = {99, 0};
    if (fl_table_take(t, ids, 2, NULL, 0, &b, &err)) goto done;
    fl_batch_free(b);
    ok++;
    fl_cleanup_options co = {.older_than_ms = -1, .grace_ms = 0};
    if (fl_table_cleanup(t, &co, NULL, &err)) goto done;
    ok++;
    char *json;
    if (fl_table_info_json(t, &json, &err)) goto done;
    free(json);
    ok++;
    /* A materialized view, built, then refreshed after an update that moves rows in and out of it. */
    if (fl_view_create(db, "v", "t", "id % 2 = 0", "id, name, id * 2 AS twice", NULL, &err)) goto done;
    ok++;
    if (fl_table_update_where(t, "id = id + 1", "id < 10", NULL, &err)) goto done;
    if (fl_view_refresh(db, "v", NULL, NULL, &err)) goto done;
    ok++;
done:
    fl_table_close(t);
    fl_db_close(db);
    return ok;
}

static void check_consistent(const char *dir) {
    fl_db *db;
    fl_table *t;
    fl_error err = {0};
    if (fl_db_open(dir, 0, &db, &err)) return; /* the database directory was never created */
    int rc = fl_table_open(db, "t", NULL, &t, &err);
    if (rc == FL_ENOTFOUND) {
        fl_db_close(db);
        return;
    }
    CHECK_EQ_INT(rc, FL_OK);
    if (rc == FL_OK) {
        int64_t n = 0;
        fl_scan *sc;
        CHECK_OK(fl_scan_open(t, NULL, &sc, &tl_err));
        fl_batch *b;
        while (fl_scan_next(sc, &b, &tl_err) == FL_OK && b) {
            n += b->num_rows;
            fl_batch_free(b);
        }
        fl_scan_close(sc);
        CHECK_EQ_INT(n, fl_table_count_rows(t));
        fl_table_close(t);
    }
    /* The view, if it was built, holds exactly the source's matching rows at the version it names. */
    fl_view_info *v = NULL;
    if (fl_view_get(db, "v", &v, &err) == FL_OK && v->source_version) {
        fl_table *src, *view;
        fl_open_options at = {.version = v->source_version};
        int64_t want = -1;
        CHECK_OK(fl_table_open(db, "t", &at, &src, &tl_err));
        CHECK_OK(fl_table_count_where(src, "id % 2 = 0", &want, &tl_err));
        CHECK_OK(fl_table_open(db, "v", NULL, &view, &tl_err));
        CHECK_EQ_INT(fl_table_count_rows(view), want);
        fl_table_close(view);
        fl_table_close(src);
    }
    fl_view_info_free(v, 1);
    fl_db_close(db);
}

static void test_every_allocation_failure(void) {
    CHECK_OK(fl_schema_parse("id int64 not null, name string, tags list<string>, img binary", &schema, &tl_err));
    const char *dir = tl_tmpdir("oom");
    int full = scenario(dir);
    CHECK_EQ_INT(full, 14);
    long n;
    for (n = 1; n < 100000 && tl_failures == 0; n++) {
        fl_io_remove_tree(dir, NULL);
        fl_alloc_fail_after(n);
        int ok = scenario(dir);
        fl_alloc_fail_after(0);
        check_consistent(dir);
        if (ok == full) break;
    }
    fprintf(stderr, "  injected a failure at each of %ld allocation points\n", n - 1);
    CHECK(n > 100);
    fl_schema_free(schema);
}

int main(void) {
    /* Thousands of scenario runs, each with a dozen fsyncing commits: on tmpfs fsync costs nothing, and
     * durability is not what this test is about. */
    if (!getenv("TMPDIR") && access("/dev/shm", W_OK) == 0) setenv("TMPDIR", "/dev/shm", 1);
    RUN(test_every_allocation_failure);
    return tl_finish("test_oom");
}
