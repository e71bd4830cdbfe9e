/*
 * test_golden.c — pins on-disk format 1: reads the table committed under tests/golden/v1 (written once by
 * `test_golden --generate DIR` with the format-1 writer) and checks every value, version and tag. A
 * change that stops this build from reading format-1 tables fails here.
 *
 * The golden table "frames" has versions:
 *   1 create, 2 append rows 0-4, 3 append rows 5-7 (tagged "release"), 4 delete row id 2,
 *   5 add column label (value for row id 6 only), 6 rename score -> quality
 */
#include "testlib.h"

#include <stdint.h>

#define SCHEMA "id int64 not null, name string, score float32, tags list<string>, img binary, " \
               "emb fixed_size_list<float32, 2>, ts timestamp, pos struct<x: int16, ok: bool>"

static void append_golden_row(fl_batch *b, int i) {
    fl_array *c = b->columns;
    char text[32];
    fl_array_append_int(&c[0], 100 + i);
    snprintf(text, sizeof text, "frame-%02d", i);
    i == 3 ? fl_array_append_null(&c[1]) : fl_array_append_string(&c[1], text);
    fl_array_append_float(&c[2], i * 0.5);
    for (int k = 0; k < i % 3; k++) fl_array_append_string(&c[3].children[0], k ? "car" : "pedestrian");
    fl_array_end_list(&c[3]);
    uint8_t img[8] = {0xFF, 0xD8, 0xFF, (uint8_t)i, 1, 2, 3, 4};
    i == 4 ? fl_array_append_null(&c[4]) : fl_array_append_bytes(&c[4], img, (size_t)(4 + i % 5));
    fl_array_append_float(&c[5].children[0], i);
    fl_array_append_float(&c[5].children[0], -i);
    fl_array_end_list(&c[5]);
    fl_array_append_int(&c[6], 1700000000000LL + i * 1000);
    fl_array_append_int(&c[7].children[0], (int16_t)(i * -7));
    fl_array_append_bool(&c[7].children[1], i % 2);
    fl_array_end_struct(&c[7]);
}

static int generate(const char *dir) {
    fl_error err = {0};
    fl_db *db;
    fl_schema *s;
    fl_table *t;
    if (fl_db_open(dir, FL_OPEN_CREATE, &db, &err) || fl_schema_parse(SCHEMA, &s, &err) || fl_table_create(db, "frames", s, &t, &err)) goto fail;
    for (int part = 0; part < 2; part++) {
        fl_batch *b = fl_batch_new(s);
        for (int i = part ? 5 : 0; i < (part ? 8 : 5); i++) append_golden_row(b, i);
        if (fl_batch_finish(b, &err) || fl_table_append(t, b, NULL, &err)) goto fail;
        fl_batch_free(b);
    }
    if (fl_table_tag(t, "release", 3, &err)) goto fail;
    uint64_t del = 2;
    if (fl_table_delete_rows(t, &del, 1, &err)) goto fail;
    fl_schema *add, *vals;
    if (fl_schema_parse("label string", &add, &err) || fl_schema_parse("label string", &vals, &err)) goto fail;
    fl_batch *b = fl_batch_new(vals);
    fl_array_append_string(&b->columns[0], "rider");
    uint64_t row = 6;
    if (fl_batch_finish(b, &err) || fl_batch_set_row_ids(b, &row, 1) || fl_table_add_columns(t, add, b, &err)) goto fail;
    if (fl_table_rename_column(t, "score", "quality", &err)) goto fail;
    printf("generated %s/frames at version %llu\n", dir, (unsigned long long)fl_table_version(t));
    return 0;
fail:
    fprintf(stderr, "generate: %s\n", err.message);
    return 1;
}

static const char *golden_dir(void) {
    const char *d = getenv("FL_GOLDEN_DIR");
    return d ? d : "tests/golden/v1";
}

static void test_read_golden_latest(void) {
    fl_db *db;
    fl_table *t;
    CHECK_OK(fl_db_open(golden_dir(), 0, &db, &tl_err));
    CHECK_OK(fl_table_open(db, "frames", NULL, &t, &tl_err));
    if (tl_failures) return;
    CHECK_EQ_INT(fl_table_version(t), 6);
    CHECK_EQ_INT(fl_table_count_rows(t), 7);
    char *schema = fl_schema_format(fl_table_schema(t));
    CHECK_EQ_STR(schema, "id int64 not null, name string, quality float32, tags list<string>, img binary, "
                         "emb fixed_size_list<float32, 2>, ts timestamp, pos struct<x: int16, ok: bool>, label string");
    free(schema);
    fl_scan_options so = {.with_row_ids = true};
    fl_scan *sc;
    CHECK_OK(fl_scan_open(t, &so, &sc, &tl_err));
    fl_batch *b;
    int64_t seen = 0;
    static const int ids[7] = {0, 1, 3, 4, 5, 6, 7};
    while (fl_scan_next(sc, &b, &tl_err) == FL_OK && b) {
        for (int64_t r = 0; r < b->num_rows; r++, seen++) {
            int i = ids[seen];
            fl_array *c = b->columns;
            CHECK_EQ_INT(b->row_ids[r], i);
            CHECK_EQ_INT(fl_array_get_int(&c[0], r), 100 + i);
            size_t n;
            const uint8_t *p;
            if (i == 3) CHECK(fl_array_is_null(&c[1], r));
            else {
                char text[32];
                snprintf(text, sizeof text, "frame-%02d", i);
                p = fl_array_get_bytes(&c[1], r, &n);
                CHECK(n == 8 && !memcmp(p, text, 8));
            }
            CHECK(fl_array_get_float(&c[2], r) == i * 0.5);
            int64_t s0, s1;
            fl_array_get_list(&c[3], r, &s0, &s1);
            CHECK_EQ_INT(s1 - s0, i % 3);
            if (i % 3 == 2) {
                p = fl_array_get_bytes(&c[3].children[0], s0 + 1, &n);
                CHECK(n == 3 && !memcmp(p, "car", 3));
            }
            if (i == 4) CHECK(fl_array_is_null(&c[4], r));
            else {
                p = fl_array_get_bytes(&c[4], r, &n);
                CHECK_EQ_INT(n, 4 + i % 5);
                CHECK(p[0] == 0xFF && p[3] == (uint8_t)i);
            }
            fl_array_get_list(&c[5], r, &s0, &s1);
            CHECK(fl_array_get_float(&c[5].children[0], s0 + 1) == -i);
            CHECK_EQ_INT(fl_array_get_int(&c[6], r), 1700000000000LL + i * 1000);
            CHECK_EQ_INT(fl_array_get_int(&c[7].children[0], r), i * -7);
            CHECK_EQ_INT(fl_array_get_bool(&c[7].children[1], r), i % 2);
            if (i == 6) {
                p = fl_array_get_bytes(&c[8], r, &n);
                CHECK(n == 5 && !memcmp(p, "rider", 5));
            } else {
                CHECK(fl_array_is_null(&c[8], r));
            }
        }
        fl_batch_free(b);
    }
    fl_scan_close(sc);
    CHECK_EQ_INT(seen, 7);
    fl_table_stats st;
    fl_table_get_stats(t, &st);
    CHECK_EQ_INT(st.fragments, 2);
    CHECK_EQ_INT(st.data_files, 3);
    CHECK_EQ_INT(st.deleted_rows, 1);
    fl_table_close(t);
    fl_db_close(db);
}

static void test_read_golden_history(void) {
    fl_db *db;
    fl_table *t;
    CHECK_OK(fl_db_open(golden_dir(), 0, &db, &tl_err));
    fl_open_options oo = {.tag = "release"};
    CHECK_OK(fl_table_open(db, "frames", &oo, &t, &tl_err));
    if (tl_failures) return;
    CHECK_EQ_INT(fl_table_version(t), 3);
    CHECK_EQ_INT(fl_table_count_rows(t), 8);
    uint64_t id = 2;
    fl_batch *b;
    const char *cols[2] = {"score", "name"};
    CHECK_OK(fl_table_take(t, &id, 1, cols, 2, &b, &tl_err));
    CHECK(fl_array_get_float(&b->columns[0], 0) == 1.0);
    fl_batch_free(b);
    fl_version_info *v;
    size_t n;
    CHECK_OK(fl_table_list_versions(t, &v, &n, &tl_err));
    CHECK_EQ_INT(n, 6);
    static const char *ops[6] = {"create", "append", "append", "delete", "add_columns", "rename_column"};
    static const int64_t rows[6] = {0, 5, 8, 7, 7, 7};
    for (size_t i = 0; i < n && i < 6; i++) {
        CHECK_EQ_STR(v[i].operation, ops[i]);
        CHECK_EQ_INT(v[i].num_rows, rows[i]);
    }
    CHECK_EQ_STR(v[5].detail, "score -> quality");
    free(v);
    fl_table_close(t);
    fl_db_close(db);
}

int main(int argc, char **argv) {
    if (argc == 3 && !strcmp(argv[1], "--generate")) return generate(argv[2]);
    RUN(test_read_golden_latest);
    RUN(test_read_golden_history);
    return tl_finish("test_golden");
}
