/*
 * test_corruption.c — damaged files give clear errors (file and byte offset), never a crash or wrong
 * data, and older versions stay readable.
 */
#include "testlib.h"

#include <stdint.h>
#include <sys/stat.h>

static const char *build_table(void) {
    const char *dir = tl_tmpdir("corrupt");
    fl_db *db;
    fl_schema *s;
    fl_table *t;
    CHECK_OK(fl_db_open(dir, FL_OPEN_CREATE, &db, &tl_err));
    CHECK_OK(fl_schema_parse("id int64 not null, name string, img binary", &s, &tl_err));
    CHECK_OK(fl_table_create(db, "t", s, &t, &tl_err));
    for (int v = 0; v < 2; v++) { /* versions 2 and 3, one fragment each */
        fl_batch *b = fl_batch_new(s);
        for (int i = 0; i < 1000; i++) {
            char text[32], img[64];
            snprintf(text, sizeof text, "frame-%d-%d", v, i);
            memset(img, 'a' + i % 26, sizeof img);
            fl_array_append_int(&b->columns[0], v * 1000 + i);
            fl_array_append_string(&b->columns[1], text);
            fl_array_append_bytes(&b->columns[2], img, sizeof img);
        }
        CHECK_OK(fl_batch_finish(b, &tl_err));
        CHECK_OK(fl_table_append(t, b, NULL, &tl_err));
        fl_batch_free(b);
    }
    uint64_t del = 3;
    CHECK_OK(fl_table_delete_rows(t, &del, 1, &tl_err)); /* version 4 */
    fl_table_close(t);
    fl_schema_free(s);
    fl_db_close(db);
    return dir;
}

/* Path of the data file created by version `v` (newest fragment first in manifest order). */
static void data_file_of(const char *dir, int fragment, char *out, size_t cap) {
    fl_db *db;
    fl_table *t;
    fl_open_options oo = {.version = 3};
    CHECK_OK(fl_db_open(dir, 0, &db, &tl_err));
    CHECK_OK(fl_table_open(db, "t", &oo, &t, &tl_err));
    char *json;
    CHECK_OK(fl_table_info_json(t, &json, &tl_err));
    const char *p = json;
    for (int i = 0; i <= fragment; i++) p = strstr(p + 1, "\"path\":\"data/");
    snprintf(out, cap, "%s/t/%.*s", dir, 41, p + 8);
    free(json);
    fl_table_close(t);
    fl_db_close(db);
}

static int open_scan_all(const char *dir, uint64_t version, int64_t *rows) {
    fl_db *db;
    fl_table *t;
    fl_open_options oo = {.version = version};
    *rows = 0;
    CHECK_OK(fl_db_open(dir, 0, &db, &tl_err));
    int rc = fl_table_open(db, "t", &oo, &t, &tl_err);
    if (rc == FL_OK) {
        fl_scan *sc;
        rc = fl_scan_open(t, NULL, &sc, &tl_err);
        fl_batch *b;
        while (rc == FL_OK && (rc = fl_scan_next(sc, &b, &tl_err)) == FL_OK && b) {
            *rows += b->num_rows;
            fl_batch_free(b);
        }
        if (sc) fl_scan_close(sc);
        fl_table_close(t);
    }
    fl_db_close(db);
    return rc;
}

static void flip_byte(const char *path, long offset) {
    FILE *f = fopen(path, "r+b");
    CHECK(f != NULL);
    if (!f) return;
    if (offset < 0) {
        fseek(f, 0, SEEK_END);
        offset += ftell(f);
    }
    fseek(f, offset, SEEK_SET);
    int c = fgetc(f);
    fseek(f, offset, SEEK_SET);
    fputc(c ^ 0x10, f);
    fclose(f);
}

static void test_manifest_truncated_and_flipped(void) {
    const char *dir = build_table();
    char path[512];
    snprintf(path, sizeof path, "%s/t/_versions/00000000000000000004.manifest", dir);
    struct stat st;
    stat(path, &st);
    CHECK_EQ_INT(tl_sh("cp '%s' '%s.orig' && truncate -s %lld '%s'", path, path, (long long)st.st_size - 20, path), 0);
    int64_t rows;
    CHECK_EQ_INT(open_scan_all(dir, 0, &rows), FL_ECORRUPT);
    char want[700];
    snprintf(want, sizeof want, "%s: byte %lld: manifest checksum mismatch (file truncated or damaged)", path, (long long)st.st_size - 28);
    CHECK_EQ_STR(tl_err.message, want);
    /* The previous version still opens, with all its rows. */
    CHECK_OK(open_scan_all(dir, 3, &rows));
    CHECK_EQ_INT(rows, 2000);
    /* A single flipped bit in the middle is caught too. */
    CHECK_EQ_INT(tl_sh("cp '%s.orig' '%s'", path, path), 0);
    flip_byte(path, 40);
    CHECK_EQ_INT(open_scan_all(dir, 4, &rows), FL_ECORRUPT);
    CHECK(strstr(tl_err.message, "manifest checksum mismatch") != NULL);
    /* Garbage instead of a manifest. */
    CHECK_EQ_INT(tl_sh("printf 'hello' > '%s'", path), 0);
    CHECK_EQ_INT(open_scan_all(dir, 4, &rows), FL_ECORRUPT);
    snprintf(want, sizeof want, "%s: byte 0: not a framelake manifest (bad magic or 5 bytes)", path);
    CHECK_EQ_STR(tl_err.message, want);
    CHECK_EQ_INT(tl_sh("cp '%s.orig' '%s'", path, path), 0);
    CHECK_OK(open_scan_all(dir, 4, &rows));
    CHECK_EQ_INT(rows, 1999);
}

static void test_data_page_and_blob_damage(void) {
    const char *dir = build_table();
    char path[512];
    data_file_of(dir, 1, path, sizeof path); /* the fragment appended at version 3 */
    CHECK_EQ_INT(tl_sh("cp '%s' '%s.orig'", path, path), 0);
    /* Layout of this file: header (8 bytes), the 1000 blobs of 64 bytes, 3 full blob index pages (256 rows
     * of 24 bytes), then at finish the page of id (byte 82440), the page of name and the last index page. */
    int64_t rows;
    char want[700];
    flip_byte(path, 82440 + 3);
    CHECK_EQ_INT(open_scan_all(dir, 3, &rows), FL_ECORRUPT);
    snprintf(want, sizeof want, "%s: byte 82440: checksum mismatch in page 0 of column 'id'", path);
    CHECK_EQ_STR(tl_err.message, want);
    /* Version 2 does not reference that file and reads fine. */
    CHECK_OK(open_scan_all(dir, 2, &rows));
    CHECK_EQ_INT(rows, 1000);
    /* Truncation is caught before any page is read. */
    CHECK_EQ_INT(tl_sh("cp '%s.orig' '%s' && truncate -s 100 '%s'", path, path, path), 0);
    CHECK_EQ_INT(open_scan_all(dir, 3, &rows), FL_ECORRUPT);
    CHECK(strstr(tl_err.message, "size is 100 bytes, the manifest says") != NULL);
    CHECK(strstr(tl_err.message, path) != NULL);
    /* A missing file. */
    CHECK_EQ_INT(tl_sh("rm '%s'", path), 0);
    CHECK_EQ_INT(open_scan_all(dir, 3, &rows), FL_ECORRUPT);
    CHECK(strstr(tl_err.message, "data file of version 3 is missing") != NULL);
    /* A damaged blob: only that row fails; the others are still taken. */
    CHECK_EQ_INT(tl_sh("cp '%s.orig' '%s'", path, path), 0);
    fl_db *db;
    fl_table *t;
    CHECK_OK(fl_db_open(dir, 0, &db, &tl_err));
    CHECK_OK(fl_table_open(db, "t", NULL, &t, &tl_err));
    const char *cols[1] = {"img"};
    uint64_t first_blob_row = 1000; /* row id of the first row of the fragment of version 3 */
    fl_batch *b;
    CHECK_OK(fl_table_take(t, &first_blob_row, 1, cols, 1, &b, &tl_err));
    fl_batch_free(b);
    fl_table_close(t);
    flip_byte(path, 8 + 5);
    CHECK_OK(fl_table_open(db, "t", NULL, &t, &tl_err));
    CHECK_EQ_INT(fl_table_take(t, &first_blob_row, 1, cols, 1, &b, &tl_err), FL_ECORRUPT);
    snprintf(want, sizeof want, "%s: byte 8: checksum mismatch in blob of row 0, column 'img'", path);
    CHECK_EQ_STR(tl_err.message, want);
    uint64_t other = 1001;
    CHECK_OK(fl_table_take(t, &other, 1, cols, 1, &b, &tl_err));
    fl_batch_free(b);
    fl_table_close(t);
    fl_db_close(db);
}

static void test_deletion_file_damage(void) {
    const char *dir = build_table();
    CHECK_EQ_INT(tl_sh("for f in '%s'/t/_deletions/*.del; do printf 'X' | dd of=\"$f\" bs=1 seek=17 conv=notrunc 2>/dev/null; done", dir), 0);
    int64_t rows;
    CHECK_EQ_INT(open_scan_all(dir, 4, &rows), FL_ECORRUPT);
    CHECK(strstr(tl_err.message, "deletion file checksum mismatch") != NULL);
    CHECK_OK(open_scan_all(dir, 3, &rows));
    CHECK_EQ_INT(rows, 2000);
}

static void test_hint_damage_is_harmless(void) {
    const char *dir = build_table();
    int64_t rows;
    /* The _latest hint is only a hint: a stale, garbage or missing one still finds version 4. */
    CHECK_EQ_INT(tl_sh("echo 2 > '%s/t/_latest'", dir), 0);
    CHECK_OK(open_scan_all(dir, 0, &rows));
    CHECK_EQ_INT(rows, 1999);
    CHECK_EQ_INT(tl_sh("echo garbage > '%s/t/_latest'", dir), 0);
    CHECK_OK(open_scan_all(dir, 0, &rows));
    CHECK_EQ_INT(rows, 1999);
    CHECK_EQ_INT(tl_sh("echo 99 > '%s/t/_latest'", dir), 0);
    CHECK_OK(open_scan_all(dir, 0, &rows));
    CHECK_EQ_INT(rows, 1999);
    CHECK_EQ_INT(tl_sh("rm '%s/t/_latest'", dir), 0);
    CHECK_OK(open_scan_all(dir, 0, &rows));
    CHECK_EQ_INT(rows, 1999);
}

int main(void) {
    RUN(test_manifest_truncated_and_flipped);
    RUN(test_data_page_and_blob_damage);
    RUN(test_deletion_file_damage);
    RUN(test_hint_damage_is_harmless);
    return tl_finish("test_corruption");
}
