/*
 * test_format.c — properties of the storage layout seen through the internal headers: the cost of taking
 * one blob from a 100k-row table (reads counted by the io layer), page statistics, compression of
 * compressible pages, blob bytes stored verbatim, and Arrow export of a batch.
 */
#include "testlib.h"

#include "format/format.h"
#include "table/table.h"

#include <stdint.h>

static void test_blob_take_costs_three_reads(void) {
    const char *dir = tl_tmpdir("access");
    fl_db *db;
    fl_schema *s;
    fl_table *t;
    CHECK_OK(fl_db_open(dir, FL_OPEN_CREATE, &db, &tl_err));
    CHECK_OK(fl_schema_parse("id int64 not null, label string, image_bytes binary", &s, &tl_err));
    CHECK_OK(fl_table_create(db, "frames", s, &t, &tl_err));
    fl_batch *b = fl_batch_new(s);
    uint8_t blob[512];
    for (int64_t i = 0; i < 100000; i++) {
        char text[32];
        snprintf(text, sizeof text, "label-%lld", (long long)(i % 100));
        for (size_t k = 0; k < sizeof blob; k++) blob[k] = (uint8_t)(i * 31 + k);
        fl_array_append_int(&b->columns[0], i);
        fl_array_append_string(&b->columns[1], text);
        fl_array_append_bytes(&b->columns[2], blob, 100 + (size_t)(i % 400));
    }
    CHECK_OK(fl_batch_finish(b, &tl_err));
    CHECK_OK(fl_table_append(t, b, NULL, &tl_err));
    fl_batch_free(b);
    fl_table_close(t);
    /* A fresh handle (manifest loaded), then one image by row id. */
    CHECK_OK(fl_table_open(db, "frames", NULL, &t, &tl_err));
    fl_io_counters before, after;
    fl_io_get_counters(&before);
    uint64_t id = 77777;
    const char *cols[1] = {"image_bytes"};
    CHECK_OK(fl_table_take(t, &id, 1, cols, 1, &b, &tl_err));
    fl_io_get_counters(&after);
    size_t n;
    const uint8_t *p = fl_array_get_bytes(&b->columns[0], 0, &n);
    CHECK_EQ_INT(n, 100 + 77777 % 400);
    CHECK_EQ_INT(p[5], (uint8_t)(77777 * 31 + 5));
    /* Footer (one read of the file's end), the blob's index page, the blob itself. */
    CHECK_EQ_INT(after.reads - before.reads, 3);
    CHECK(after.bytes_read - before.bytes_read <= 65536 + FL_BLOB_INDEX_ROWS * 24 + n);
    fl_batch_free(b);
    /* The next image from the same file: index page and blob only. */
    fl_io_get_counters(&before);
    id = 5;
    CHECK_OK(fl_table_take(t, &id, 1, cols, 1, &b, &tl_err));
    fl_io_get_counters(&after);
    CHECK_EQ_INT(after.reads - before.reads, 2);
    fl_batch_free(b);
    fl_table_close(t);
    fl_schema_free(s);
    fl_db_close(db);
}

/* Writes every row of a finished batch (field ids set) as one data file; returns its size. */
static uint64_t write_batch_file(const char *path, const fl_batch *b) {
    const fl_array *cols[16];
    for (int32_t c = 0; c < b->n_columns && c < 16; c++) cols[c] = &b->columns[c];
    fl_datafile_writer *w;
    uint64_t size = 0;
    CHECK_OK(fl_datafile_writer_open(path, b->schema->fields, b->n_columns, &w, &tl_err));
    CHECK_OK(fl_datafile_writer_write(w, cols, 0, b->num_rows, &tl_err));
    CHECK_OK(fl_datafile_writer_finish(w, &size, &tl_err));
    return size;
}

static void test_page_statistics_and_compression(void) {
    const char *dir = tl_tmpdir("stats");
    char path[600];
    snprintf(path, sizeof path, "%s/f.fld", dir);
    fl_schema *s;
    CHECK_OK(fl_schema_parse("a int32, b float64, c string, d uint64, e bool", &s, &tl_err));
    for (int32_t i = 0; i < s->n_fields; i++) s->fields[i].id = i;
    fl_batch *b = fl_batch_new(s);
    for (int i = 0; i < 20000; i++) {
        (i % 100 == 7) ? fl_array_append_null(&b->columns[0]) : fl_array_append_int(&b->columns[0], i - 5000);
        fl_array_append_float(&b->columns[1], i == 3 ? 0.0 / 0.0 : i * 0.5);
        fl_array_append_string(&b->columns[2], "the same text compresses well");
        fl_array_append_uint(&b->columns[3], UINT64_MAX - (uint64_t)i);
        fl_array_append_bool(&b->columns[4], i >= 19000);
    }
    CHECK_OK(fl_batch_finish(b, &tl_err));
    uint64_t size = write_batch_file(path, b);
    /* 20000 rows of int32 + float64 + 30-byte strings + uint64 would be ~1 MB raw; zstd shrinks it. */
    CHECK(size < 400000);
    fl_datafile *df;
    CHECK_OK(fl_datafile_open(path, size, &df, &tl_err));
    CHECK_EQ_INT(fl_datafile_num_rows(df), 20000);
    /* int32 pages hold 8192 rows (the row cap): [0, 8192), [8192, 16384), [16384, 20000). */
    CHECK_EQ_INT(fl_datafile_page_count(df, 0), 3);
    int64_t first, rows;
    fl_page_stats st;
    fl_datafile_page_info(df, 0, 1, &first, &rows, &st);
    CHECK_EQ_INT(first, 8192);
    CHECK_EQ_INT(rows, 8192);
    CHECK_EQ_INT(st.null_count, 82); /* i % 100 == 7 within [8192, 16384) */
    CHECK(st.has_minmax);
    CHECK_EQ_INT((int64_t)st.min, 8192 - 5000);
    CHECK_EQ_INT((int64_t)st.max, 16383 - 5000);
    fl_datafile_page_info(df, 1, 0, &first, &rows, &st); /* float64: NaN ignored */
    double dmin, dmax;
    memcpy(&dmin, &st.min, 8);
    memcpy(&dmax, &st.max, 8);
    CHECK(dmin == 0.0 && dmax == (rows - 1) * 0.5);
    fl_datafile_page_info(df, 3, 0, &first, &rows, &st); /* uint64 compares unsigned */
    CHECK(st.max == UINT64_MAX && st.min == UINT64_MAX - (uint64_t)(rows - 1));
    CHECK_EQ_INT(fl_datafile_page_count(df, 4), 3); /* bool: true only from row 19000 on */
    fl_datafile_page_info(df, 4, 1, &first, &rows, &st);
    CHECK_EQ_INT(st.min, 0);
    CHECK_EQ_INT(st.max, 0);
    fl_datafile_page_info(df, 4, 2, &first, &rows, &st);
    CHECK_EQ_INT(st.min, 0);
    CHECK_EQ_INT(st.max, 1);
    /* Reading a range that spans pages returns exactly the values written. */
    fl_array a;
    fl_array_init(&a, &s->fields[0]);
    CHECK_OK(fl_datafile_read_range(df, 0, 8000, 300, &a, &tl_err));
    CHECK_EQ_INT(a.length, 300);
    CHECK_EQ_INT(fl_array_get_int(&a, 299), 8299 - 5000);
    CHECK(fl_array_is_null(&a, 7)); /* row 8007 */
    fl_array_clear(&a);
    /* Reads that go on page after page (a scan reuses the current page's slot) mixed with jumps back to pages
     * read before (kept in other slots, or decoded again): every value is the one written. */
    static const int64_t reads[][2] = {{0, 10}, {8190, 10}, {16384, 10}, {5, 3}, {8195, 2}, {16390, 5}, {100, 1}, {8192, 8192}, {0, 20000}};
    for (size_t k = 0; k < sizeof reads / sizeof reads[0]; k++) {
        fl_array_init(&a, &s->fields[0]);
        CHECK_OK(fl_datafile_read_range(df, 0, reads[k][0], reads[k][1], &a, &tl_err));
        int bad = 0;
        for (int64_t i = 0; i < a.length; i++) {
            int64_t row = reads[k][0] + i;
            bad += row % 100 == 7 ? !fl_array_is_null(&a, i) : fl_array_is_null(&a, i) || fl_array_get_int(&a, i) != row - 5000;
        }
        CHECK_EQ_INT(a.length, reads[k][1]);
        CHECK_EQ_INT(bad, 0);
        fl_array_clear(&a);
    }
    fl_datafile_close(df);
    fl_batch_free(b);
    fl_schema_free(s);
}

static void test_blobs_stored_verbatim(void) {
    const char *dir = tl_tmpdir("verbatim");
    char path[600];
    snprintf(path, sizeof path, "%s/f.fld", dir);
    fl_schema *s;
    CHECK_OK(fl_schema_parse("img binary", &s, &tl_err));
    s->fields[0].id = 0;
    fl_batch *b = fl_batch_new(s);
    static const char jpeg[] = "\xff\xd8\xff\xe0 exactly these bytes \xff\xd9";
    fl_array_append_bytes(&b->columns[0], jpeg, sizeof jpeg - 1);
    CHECK_OK(fl_batch_finish(b, &tl_err));
    write_batch_file(path, b);
    /* The blob sits right after the 8-byte header, byte for byte. */
    FILE *f = fopen(path, "rb");
    char head[8 + sizeof jpeg];
    CHECK(f && fread(head, 1, sizeof head - 1, f) == sizeof head - 1);
    if (f) fclose(f);
    CHECK(memcmp(head, "FLD1", 4) == 0);
    CHECK(memcmp(head + 8, jpeg, sizeof jpeg - 1) == 0);
    fl_batch_free(b);
    fl_schema_free(s);
}

static void test_arrow_export(void) {
    fl_schema *s;
    CHECK_OK(fl_schema_parse("id int64 not null, name string, boxes list<list<float32>>, emb fixed_size_list<float32, 2>, "
                             "pos struct<x: int16, ok: bool>, img binary, ts timestamp",
                             &s, &tl_err));
    fl_batch *b = fl_batch_new(s);
    for (int i = 0; i < 3; i++) {
        fl_array *c = b->columns;
        fl_array_append_int(&c[0], i);
        i == 1 ? fl_array_append_null(&c[1]) : fl_array_append_string(&c[1], "abc");
        for (int k = 0; k < i; k++) {
            for (int q = 0; q < 4; q++) fl_array_append_float(&c[2].children[0].children[0], q);
            fl_array_end_list(&c[2].children[0]);
        }
        fl_array_end_list(&c[2]);
        fl_array_append_float(&c[3].children[0], i);
        fl_array_append_float(&c[3].children[0], -i);
        fl_array_end_list(&c[3]);
        fl_array_append_int(&c[4].children[0], i);
        fl_array_append_bool(&c[4].children[1], i == 2);
        fl_array_end_struct(&c[4]);
        fl_array_append_bytes(&c[5], "\x01\x02", 2);
        fl_array_append_int(&c[6], 1000 * i);
    }
    CHECK_OK(fl_batch_finish(b, &tl_err));
    struct ArrowSchema as;
    struct ArrowArray aa;
    CHECK_OK(fl_batch_export_arrow(b, &as, &aa, &tl_err));
    CHECK_EQ_STR(as.format, "+s");
    CHECK_EQ_INT(as.n_children, 7);
    CHECK_EQ_STR(as.children[0]->format, "l");
    CHECK_EQ_INT(as.children[0]->flags, 0);
    CHECK_EQ_STR(as.children[1]->format, "U");
    CHECK_EQ_INT(as.children[1]->flags, ARROW_FLAG_NULLABLE);
    CHECK_EQ_STR(as.children[2]->format, "+L");
    CHECK_EQ_STR(as.children[2]->children[0]->format, "+L");
    CHECK_EQ_STR(as.children[2]->children[0]->children[0]->format, "f");
    CHECK_EQ_STR(as.children[3]->format, "+w:2");
    CHECK_EQ_STR(as.children[4]->format, "+s");
    CHECK_EQ_STR(as.children[4]->children[1]->name, "ok");
    CHECK_EQ_STR(as.children[5]->format, "Z");
    CHECK_EQ_STR(as.children[6]->format, "tsm:");
    CHECK_EQ_INT(aa.length, 3);
    CHECK_EQ_INT(aa.n_children, 7);
    struct ArrowArray *name = aa.children[1];
    CHECK_EQ_INT(name->null_count, 1);
    CHECK_EQ_INT(name->n_buffers, 3);
    CHECK_EQ_INT(((const int64_t *)name->buffers[1])[3], 6);
    CHECK(memcmp((const char *)name->buffers[2] + 3, "abc", 3) == 0);
    struct ArrowArray *boxes = aa.children[2];
    CHECK_EQ_INT(((const int64_t *)boxes->buffers[1])[3], 3); /* 0 + 1 + 2 inner lists */
    CHECK_EQ_INT(boxes->children[0]->children[0]->length, 12);
    CHECK_EQ_INT(aa.children[3]->children[0]->length, 6);
    /* A consumer may move a child out before releasing the parent. */
    struct ArrowArray moved = *aa.children[5];
    aa.children[5]->release = NULL;
    aa.release(&aa);
    CHECK(aa.release == NULL);
    CHECK_EQ_INT(((const int64_t *)moved.buffers[1])[3], 6);
    moved.release(&moved);
    as.release(&as);
    fl_schema_free(s);
}

int main(void) {
    RUN(test_blob_take_costs_three_reads);
    RUN(test_page_statistics_and_compression);
    RUN(test_blobs_stored_verbatim);
    RUN(test_arrow_export);
    return tl_finish("test_format");
}
