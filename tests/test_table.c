/*
 * test_table.c — the storage engine through the public API: every type round-trips (NULLs, empty lists,
 * nested lists, structs, blobs), versions and time travel, stable row ids through compaction, updates and
 * restore, schema evolution without rewriting files, deletes, tags, cleanup, take by id and position.
 */
#include "testlib.h"

#include <stdint.h>
#include <sys/stat.h>

#define ALL_TYPES                                                                                              \
    "b bool, i8 int8, i16 int16, i32 int32, i64 int64 not null, u8 uint8, u16 uint16, u32 uint32, u64 uint64, " \
    "f32 float32, f64 float64, s string, blob binary, ts timestamp, tags list<string>, "                       \
    "boxes list<list<float32>>, emb fixed_size_list<float32, 4>, hash fixed_size_list<uint8, 8>, "            \
    "pos struct<x: float32, name: string>"

static fl_schema *parse(const char *text) {
    fl_schema *s = NULL;
    CHECK_OK(fl_schema_parse(text, &s, &tl_err));
    return s;
}

/* Row i of the all-types table: a deterministic function of i, with NULLs and empty lists sprinkled in. */
static void append_row(fl_batch *b, int64_t i) {
    fl_array *c = b->columns;
    (i % 5 == 0) ? fl_array_append_null(&c[0]) : fl_array_append_bool(&c[0], i % 2);
    fl_array_append_int(&c[1], (int8_t)(i * 7));
    fl_array_append_int(&c[2], (int16_t)(i * 300));
    (i % 3 == 0) ? fl_array_append_null(&c[3]) : fl_array_append_int(&c[3], (int32_t)(i * 100000 - 7));
    fl_array_append_int(&c[4], i * 1000000007LL);
    fl_array_append_uint(&c[5], (uint8_t)i);
    fl_array_append_uint(&c[6], (uint16_t)(i * 3));
    fl_array_append_uint(&c[7], (uint32_t)(i * 4000000));
    fl_array_append_uint(&c[8], UINT64_MAX - (uint64_t)i);
    fl_array_append_float(&c[9], (float)i / 4.0f);
    (i % 4 == 1) ? fl_array_append_null(&c[10]) : fl_array_append_float(&c[10], (double)i * 1.5e10);
    char text[64];
    snprintf(text, sizeof text, "row-%lld-\xc3\xa9", (long long)i);
    (i % 6 == 2) ? fl_array_append_null(&c[11]) : fl_array_append_string(&c[11], i % 7 == 0 ? "" : text);
    if (i % 8 == 3) fl_array_append_null(&c[12]);
    else {
        uint8_t blob[300];
        size_t n = (size_t)(i * 37 % 300);
        for (size_t k = 0; k < n; k++) blob[k] = (uint8_t)(i + k * 13);
        fl_array_append_bytes(&c[12], blob, n);
    }
    fl_array_append_int(&c[13], 1700000000000LL + i);
    /* tags: i % 3 strings, NULL list every 10th */
    if (i % 10 == 9) fl_array_append_null(&c[14]);
    else {
        for (int k = 0; k < i % 3; k++) {
            snprintf(text, sizeof text, "t%d", k);
            fl_array_append_string(&c[14].children[0], text);
        }
        fl_array_end_list(&c[14]);
    }
    /* boxes: list of i % 4 boxes of 4 floats; one inner NULL element when i % 11 == 0 */
    fl_array *boxes = &c[15], *box = &boxes->children[0];
    for (int k = 0; k < i % 4; k++) {
        for (int q = 0; q < 4; q++) fl_array_append_float(&box->children[0], (double)(i + k * 10 + q));
        fl_array_end_list(box);
    }
    if (i % 11 == 0) fl_array_append_null(box);
    fl_array_end_list(boxes);
    if (i % 9 == 4) fl_array_append_null(&c[16]);
    else {
        for (int q = 0; q < 4; q++) fl_array_append_float(&c[16].children[0], (double)i * 0.25 + q);
        fl_array_end_list(&c[16]);
    }
    for (int q = 0; q < 8; q++) fl_array_append_uint(&c[17].children[0], (uint8_t)(i * 8 + q));
    fl_array_end_list(&c[17]);
    if (i % 13 == 5) fl_array_append_null(&c[18]);
    else {
        fl_array_append_float(&c[18].children[0], (double)i);
        snprintf(text, sizeof text, "p%lld", (long long)i);
        fl_array_append_string(&c[18].children[1], text);
        fl_array_end_struct(&c[18]);
    }
}

static fl_batch *make_rows(const fl_schema *s, int64_t first, int64_t n) {
    fl_batch *b = fl_batch_new(s);
    for (int64_t i = first; i < first + n; i++) append_row(b, i);
    CHECK_OK(fl_batch_finish(b, &tl_err));
    return b;
}

/* Checks that row `r` of batch `got` equals row `i` as append_row makes it. */
static void check_row(const fl_batch *got, int64_t r, int64_t i) {
    fl_schema *s = parse(ALL_TYPES);
    fl_batch *want = make_rows(s, i, 1);
    for (int32_t c = 0; c < want->n_columns; c++) {
        const fl_array *g = fl_batch_column(got, want->schema->fields[c].name);
        if (!g) continue;
        fl_batch *one_g = fl_batch_new(s);
        /* Compare through the page encoder: equal encodings of one value mean equal values. */
        CHECK_OK(fl_array_append_from(&one_g->columns[c], g, r));
        const fl_array *w = &want->columns[c], *h = &one_g->columns[c];
        CHECK_EQ_INT(fl_array_is_null(h, 0), fl_array_is_null(w, 0));
        if (!fl_array_is_null(w, 0) && !fl_array_is_null(h, 0)) {
            switch (w->type) {
            case FL_TYPE_BOOL: CHECK_EQ_INT(fl_array_get_bool(h, 0), fl_array_get_bool(w, 0)); break;
            case FL_TYPE_FLOAT32:
            case FL_TYPE_FLOAT64: CHECK(fl_array_get_float(h, 0) == fl_array_get_float(w, 0)); break;
            case FL_TYPE_UINT64: CHECK(fl_array_get_uint(h, 0) == fl_array_get_uint(w, 0)); break;
            case FL_TYPE_STRING:
            case FL_TYPE_BINARY: {
                size_t n1, n2;
                const uint8_t *p1 = fl_array_get_bytes(h, 0, &n1), *p2 = fl_array_get_bytes(w, 0, &n2);
                CHECK_EQ_INT(n1, n2);
                CHECK(n1 == n2 && (n1 == 0 || memcmp(p1, p2, n1) == 0));
                break;
            }
            case FL_TYPE_LIST:
            case FL_TYPE_FIXED_SIZE_LIST:
            case FL_TYPE_STRUCT: {
                /* Nested values: compare child lengths and a flattened fingerprint of child values. */
                CHECK_EQ_INT(h->n_children, w->n_children);
                for (int32_t k = 0; k < w->n_children; k++) {
                    const fl_array *hc = &h->children[k], *wc = &w->children[k];
                    CHECK_EQ_INT(hc->length, wc->length);
                    CHECK_EQ_INT(hc->null_count, wc->null_count);
                    for (int64_t q = 0; q < wc->length && q < hc->length; q++) {
                        CHECK_EQ_INT(fl_array_is_null(hc, q), fl_array_is_null(wc, q));
                        if (wc->type == FL_TYPE_STRING) {
                            size_t n1, n2;
                            const uint8_t *p1 = fl_array_get_bytes(hc, q, &n1), *p2 = fl_array_get_bytes(wc, q, &n2);
                            CHECK(n1 == n2 && (n1 == 0 || memcmp(p1, p2, n1) == 0));
                        } else if (wc->type == FL_TYPE_LIST) {
                            int64_t a0, a1, b0, b1;
                            fl_array_get_list(hc, q, &a0, &a1);
                            fl_array_get_list(wc, q, &b0, &b1);
                            CHECK_EQ_INT(a1 - a0, b1 - b0);
                            for (int64_t z = 0; z < b1 - b0 && z < a1 - a0; z++)
                                CHECK(fl_array_get_float(&hc->children[0], a0 + z) == fl_array_get_float(&wc->children[0], b0 + z));
                        } else if (!fl_array_is_null(wc, q)) {
                            CHECK(fl_array_get_float(hc, q) == fl_array_get_float(wc, q));
                        }
                    }
                }
                break;
            }
            default: CHECK_EQ_INT(fl_array_get_int(h, 0), fl_array_get_int(w, 0));
            }
        }
        fl_batch_free(one_g);
    }
    fl_batch_free(want);
    fl_schema_free(s);
}

static fl_db *open_db(const char *tag) {
    fl_db *db = NULL;
    CHECK_OK(fl_db_open(tl_tmpdir(tag), FL_OPEN_CREATE, &db, &tl_err));
    return db;
}

static int64_t scan_count(fl_table *t, int64_t batch_size) {
    fl_scan_options o = {.batch_size = batch_size};
    fl_scan *sc;
    int64_t n = 0;
    CHECK_OK(fl_scan_open(t, &o, &sc, &tl_err));
    fl_batch *b;
    while (fl_scan_next(sc, &b, &tl_err) == FL_OK && b) {
        n += b->num_rows;
        fl_batch_free(b);
    }
    fl_scan_close(sc);
    return n;
}

static void test_schema_text(void) {
    fl_schema *s = parse(ALL_TYPES);
    char *text = fl_schema_format(s);
    CHECK_EQ_STR(text, "b bool, i8 int8, i16 int16, i32 int32, i64 int64 not null, u8 uint8, u16 uint16, u32 uint32, u64 uint64, "
                       "f32 float32, f64 float64, s string, blob binary, ts timestamp, tags list<string>, boxes list<list<float32>>, "
                       "emb fixed_size_list<float32, 4>, hash fixed_size_list<uint8, 8>, pos struct<x: float32, name: string>");
    free(text);
    fl_schema_free(s);
    fl_schema *bad = NULL;
    CHECK_EQ_INT(fl_schema_parse("a int32, b lst<int8>", &bad, &tl_err), FL_EINVAL);
    CHECK_EQ_STR(tl_err.message, "schema: unknown type 'lst' at position 12");
    CHECK_EQ_INT(fl_schema_parse("a int32, a int64", &bad, &tl_err), FL_EINVAL);
    CHECK_EQ_STR(tl_err.message, "schema: duplicate column name 'a'");
    CHECK_EQ_INT(fl_schema_parse("v fixed_size_list<float32>", &bad, &tl_err), FL_EINVAL);
    CHECK(bad == NULL);
}

static void test_round_trip_all_types(void) {
    fl_db *db = open_db("types");
    fl_schema *s = parse(ALL_TYPES);
    fl_table *t = NULL;
    CHECK_OK(fl_table_create(db, "all", s, &t, &tl_err));
    /* Three appends of different sizes, the second one spanning several pages and fragments. */
    int64_t sizes[3] = {1, 20000, 37};
    int64_t first = 0;
    fl_write_options wo = {.max_rows_per_fragment = 7000};
    for (int k = 0; k < 3; k++) {
        fl_batch *b = make_rows(s, first, sizes[k]);
        CHECK_OK(fl_table_append(t, b, &wo, &tl_err));
        fl_batch_free(b);
        first += sizes[k];
    }
    CHECK_EQ_INT(fl_table_version(t), 4);
    CHECK_EQ_INT(fl_table_count_rows(t), 20038);
    fl_table_close(t);
    /* Reopen and read everything back through a scan with odd batch sizes. */
    CHECK_OK(fl_table_open(db, "all", NULL, &t, &tl_err));
    fl_scan_options o = {.batch_size = 999, .with_row_ids = true};
    fl_scan *sc;
    CHECK_OK(fl_scan_open(t, &o, &sc, &tl_err));
    int64_t seen = 0;
    fl_batch *b;
    while (fl_scan_next(sc, &b, &tl_err) == FL_OK && b) {
        for (int64_t r = 0; r < b->num_rows; r++) {
            CHECK_EQ_INT(b->row_ids[r], seen + r);
            if ((seen + r) % 97 == 0 || seen + r < 50) check_row(b, r, seen + r);
        }
        seen += b->num_rows;
        fl_batch_free(b);
    }
    CHECK_EQ_INT(seen, 20038);
    fl_scan_close(sc);
    /* Take by id (random order, duplicates) and by position. */
    uint64_t ids[5] = {20037, 0, 12345, 7000, 12345};
    CHECK_OK(fl_table_take(t, ids, 5, NULL, 0, &b, &tl_err));
    CHECK_EQ_INT(b->num_rows, 5);
    for (int k = 0; k < 5; k++) {
        CHECK_EQ_INT(b->row_ids[k], ids[k]);
        check_row(b, k, (int64_t)ids[k]);
    }
    fl_batch_free(b);
    const char *cols[2] = {"blob", "i64"};
    CHECK_OK(fl_table_take_positions(t, ids, 4, cols, 2, &b, &tl_err));
    CHECK_EQ_INT(b->n_columns, 2);
    CHECK_EQ_STR(b->schema->fields[0].name, "blob");
    CHECK_EQ_INT(fl_array_get_int(&b->columns[1], 2), 12345 * 1000000007LL);
    fl_batch_free(b);
    uint64_t missing = 20038;
    CHECK_EQ_INT(fl_table_take(t, &missing, 1, NULL, 0, &b, &tl_err), FL_ENOTFOUND);
    CHECK_EQ_STR(tl_err.message, "table 'all': row id 20038 not found at version 4");
    /* Projection errors suggest a name. */
    const char *bad[1] = {"i6"};
    CHECK_EQ_INT(fl_table_take(t, ids, 1, bad, 1, &b, &tl_err), FL_ENOTFOUND);
    CHECK_EQ_STR(tl_err.message, "table 'all': column 'i6' not found (did you mean 'i64'?)");
    fl_table_close(t);
    fl_schema_free(s);
    fl_db_close(db);
}

static void test_append_validation(void) {
    fl_db *db = open_db("validate");
    fl_schema *s = parse("id int64 not null, name string");
    fl_table *t;
    CHECK_OK(fl_table_create(db, "t", s, &t, &tl_err));
    fl_batch *b = fl_batch_new(s);
    fl_array_append_null(&b->columns[0]);
    fl_array_append_string(&b->columns[1], "x");
    CHECK_OK(fl_batch_finish(b, &tl_err));
    CHECK_EQ_INT(fl_table_append(t, b, NULL, &tl_err), FL_ETYPE);
    CHECK_EQ_STR(tl_err.message, "table 't': column 'id' is not nullable but the batch has 1 NULLs");
    fl_batch_free(b);
    fl_schema *other = parse("id int32");
    b = fl_batch_new(other);
    fl_array_append_int(&b->columns[0], 1);
    CHECK_OK(fl_batch_finish(b, &tl_err));
    CHECK_EQ_INT(fl_table_append(t, b, NULL, &tl_err), FL_ETYPE);
    CHECK_EQ_STR(tl_err.message, "table 't': column 'id' is int64, the batch has int32");
    fl_batch_free(b);
    fl_schema_free(other);
    /* Overflowing appends are refused at the builder. */
    fl_schema *small = parse("v int8");
    b = fl_batch_new(small);
    CHECK_EQ_INT(fl_array_append_int(&b->columns[0], 128), FL_ETYPE);
    CHECK_EQ_INT(fl_array_append_int(&b->columns[0], -128), FL_OK);
    fl_batch_free(b);
    fl_schema_free(small);
    CHECK_EQ_INT(fl_table_version(t), 1);
    CHECK_EQ_INT(fl_table_create(db, "t", s, NULL, &tl_err), FL_EEXIST);
    CHECK_EQ_INT(fl_table_create(db, "../x", s, NULL, &tl_err), FL_EINVAL);
    fl_table_close(t);
    fl_schema_free(s);
    fl_db_close(db);
}

static fl_batch *id_rows(const fl_schema *s, int64_t first, int64_t n) {
    fl_batch *b = fl_batch_new(s);
    for (int64_t i = first; i < first + n; i++) {
        fl_array_append_int(&b->columns[0], i);
        char text[32];
        snprintf(text, sizeof text, "name%lld", (long long)i);
        fl_array_append_string(&b->columns[1], text);
    }
    fl_batch_finish(b, &tl_err);
    return b;
}

/* Reads column 0 (int64) of every live row with ids into arrays; returns the count. */
static int64_t read_ids(fl_table *t, int64_t *values, uint64_t *row_ids, int64_t cap) {
    fl_scan_options o = {.with_row_ids = true, .batch_size = 100};
    fl_scan *sc;
    int64_t n = 0;
    CHECK_OK(fl_scan_open(t, &o, &sc, &tl_err));
    fl_batch *b;
    while (fl_scan_next(sc, &b, &tl_err) == FL_OK && b) {
        for (int64_t r = 0; r < b->num_rows && n < cap; r++, n++) {
            values[n] = fl_array_get_int(&b->columns[0], r);
            row_ids[n] = b->row_ids[r];
        }
        fl_batch_free(b);
    }
    fl_scan_close(sc);
    return n;
}

static void test_versions_delete_compact_restore(void) {
    fl_db *db = open_db("versions");
    fl_schema *s = parse("id int64 not null, name string");
    fl_table *t;
    CHECK_OK(fl_table_create(db, "t", s, &t, &tl_err));
    for (int k = 0; k < 5; k++) { /* versions 2..6: ids 0..499 in 5 fragments */
        fl_batch *b = id_rows(s, k * 100, 100);
        CHECK_OK(fl_table_append(t, b, NULL, &tl_err));
        fl_batch_free(b);
    }
    uint64_t del[4] = {5, 150, 151, 499};
    CHECK_OK(fl_table_delete_rows(t, del, 4, &tl_err)); /* v7 */
    CHECK_EQ_INT(fl_table_count_rows(t), 496);
    CHECK_EQ_INT(fl_table_delete_rows(t, del, 1, &tl_err), FL_ENOTFOUND);
    CHECK_EQ_STR(tl_err.message, "table 't': row id 5 is deleted at version 7");
    CHECK_EQ_INT(scan_count(t, 33), 496);
    /* Compaction merges the five fragments into two of <= 300 rows; ids survive. */
    fl_compact_options co = {.target_rows_per_fragment = 300};
    fl_compact_stats st;
    CHECK_OK(fl_table_compact(t, &co, &st, &tl_err)); /* v8 */
    CHECK_EQ_INT(st.fragments_removed, 5);
    CHECK_EQ_INT(st.fragments_added, 2);
    CHECK_EQ_INT(st.deleted_rows_dropped, 4);
    CHECK_EQ_INT(fl_table_version(t), 8);
    int64_t vals[600];
    uint64_t rids[600];
    int64_t n = read_ids(t, vals, rids, 600);
    CHECK_EQ_INT(n, 496);
    int64_t expect = 0, bad = 0;
    for (int64_t i = 0; i < n; i++) {
        while (expect == 5 || expect == 150 || expect == 151 || expect == 499) expect++;
        if (vals[i] != expect || rids[i] != (uint64_t)expect) bad++;
        expect++;
    }
    CHECK_EQ_INT(bad, 0);
    /* Take by id after compaction finds the same rows; deleted ids stay gone. */
    uint64_t want[3] = {152, 0, 498};
    fl_batch *b;
    CHECK_OK(fl_table_take(t, want, 3, NULL, 0, &b, &tl_err));
    CHECK_EQ_INT(fl_array_get_int(&b->columns[0], 0), 152);
    CHECK_EQ_INT(fl_array_get_int(&b->columns[0], 2), 498);
    fl_batch_free(b);
    CHECK_EQ_INT(fl_table_take(t, del + 1, 1, NULL, 0, &b, &tl_err), FL_ENOTFOUND);
    /* Nothing to do: no commit. */
    CHECK_OK(fl_table_compact(t, &co, &st, &tl_err));
    CHECK_EQ_INT(st.fragments_added, 0);
    CHECK_EQ_INT(fl_table_version(t), 8);
    /* Time travel. */
    CHECK_OK(fl_table_checkout(t, 3, &tl_err));
    CHECK_EQ_INT(fl_table_count_rows(t), 200);
    CHECK_EQ_INT(scan_count(t, 7), 200);
    CHECK_OK(fl_table_checkout(t, 0, &tl_err));
    CHECK_EQ_INT(fl_table_version(t), 8);
    /* Restore to version 4 (300 rows) makes version 9; new rows continue the id sequence. */
    CHECK_OK(fl_table_restore(t, 4, &tl_err));
    CHECK_EQ_INT(fl_table_version(t), 9);
    CHECK_EQ_INT(fl_table_count_rows(t), 300);
    b = id_rows(s, 1000, 2);
    CHECK_OK(fl_table_append(t, b, NULL, &tl_err));
    fl_batch_free(b);
    n = read_ids(t, vals, rids, 600);
    CHECK_EQ_INT(n, 302);
    CHECK_EQ_INT(rids[299], 299);
    CHECK_EQ_INT(rids[300], 500);
    CHECK_EQ_INT(vals[301], 1001);
    /* Versions listing. */
    fl_version_info *vi;
    size_t nv;
    CHECK_OK(fl_table_list_versions(t, &vi, &nv, &tl_err));
    CHECK_EQ_INT(nv, 10);
    CHECK_EQ_STR(vi[0].operation, "create");
    CHECK_EQ_STR(vi[6].operation, "delete");
    CHECK_EQ_STR(vi[6].detail, "-4 rows");
    CHECK_EQ_STR(vi[7].operation, "compact");
    CHECK_EQ_STR(vi[8].operation, "restore");
    CHECK_EQ_INT(vi[8].num_rows, 300);
    CHECK_EQ_INT(vi[9].num_rows, 302);
    free(vi);
    /* Opening a version that does not exist. */
    fl_open_options oo = {.version = 42};
    fl_table *t2;
    CHECK_EQ_INT(fl_table_open(db, "t", &oo, &t2, &tl_err), FL_ENOTFOUND);
    CHECK_EQ_STR(tl_err.message, "table 't': version 42 not found");
    fl_table_close(t);
    fl_schema_free(s);
    fl_db_close(db);
}

static void test_schema_evolution(void) {
    const char *dir = tl_tmpdir("evolve");
    fl_db *db;
    CHECK_OK(fl_db_open(dir, FL_OPEN_CREATE, &db, &tl_err));
    fl_schema *s = parse("id int64 not null, name string");
    fl_table *t;
    CHECK_OK(fl_table_create(db, "t", s, &t, &tl_err));
    fl_write_options wo = {.max_rows_per_fragment = 40};
    fl_batch *b = id_rows(s, 0, 100); /* fragments of 40, 40, 20 */
    CHECK_OK(fl_table_append(t, b, &wo, &tl_err));
    fl_batch_free(b);
    CHECK_EQ_INT(tl_sh("cd '%s/t/data' && sha256sum * | sort > ../../before.sha", dir), 0);
    /* Add two columns: values for rows 3 and 45 (fragments 0 and 1), none for fragment 2. */
    fl_schema *add = parse("score float64, label string");
    fl_schema *vals = parse("score float64");
    b = fl_batch_new(vals);
    fl_array_append_float(&b->columns[0], 0.5);
    fl_array_append_float(&b->columns[0], 4.5);
    CHECK_OK(fl_batch_finish(b, &tl_err));
    uint64_t rows[2] = {45, 3};
    CHECK_OK(fl_batch_set_row_ids(b, rows, 2));
    CHECK_OK(fl_table_add_columns(t, add, b, &tl_err));
    fl_batch_free(b);
    CHECK_EQ_INT(fl_table_version(t), 3);
    /* Existing data files are byte-identical and still there. */
    CHECK_EQ_INT(tl_sh("cd '%s/t/data' && sha256sum $(cut -c67- ../../before.sha) | sort | cmp -s - ../../before.sha", dir), 0);
    const char *cols[3] = {"id", "score", "label"};
    uint64_t want[4] = {3, 45, 90, 0};
    CHECK_OK(fl_table_take(t, want, 4, cols, 3, &b, &tl_err));
    CHECK(fl_array_get_float(&b->columns[1], 0) == 4.5);
    CHECK(fl_array_get_float(&b->columns[1], 1) == 0.5);
    CHECK(fl_array_is_null(&b->columns[1], 2));
    CHECK(fl_array_is_null(&b->columns[1], 3));
    CHECK(fl_array_is_null(&b->columns[2], 0));
    fl_batch_free(b);
    /* Update: label for rows 90 and 0; id 0's score to 7. Row ids stay. */
    fl_schema *upd = parse("label string, score float64");
    b = fl_batch_new(upd);
    fl_array_append_string(&b->columns[0], "ninety");
    fl_array_append_null(&b->columns[1]);
    fl_array_append_string(&b->columns[0], "zero");
    fl_array_append_float(&b->columns[1], 7);
    CHECK_OK(fl_batch_finish(b, &tl_err));
    uint64_t urows[2] = {90, 0};
    CHECK_OK(fl_batch_set_row_ids(b, urows, 2));
    CHECK_OK(fl_table_update(t, b, &tl_err));
    fl_batch_free(b);
    CHECK_OK(fl_table_take(t, want, 4, cols, 3, &b, &tl_err));
    size_t n;
    const uint8_t *p = fl_array_get_bytes(&b->columns[2], 2, &n);
    CHECK(n == 6 && !memcmp(p, "ninety", 6));
    p = fl_array_get_bytes(&b->columns[2], 3, &n);
    CHECK(n == 4 && !memcmp(p, "zero", 4));
    CHECK(fl_array_get_float(&b->columns[1], 3) == 7);
    CHECK(fl_array_get_float(&b->columns[1], 0) == 4.5); /* untouched row keeps its value */
    CHECK_EQ_INT(fl_array_get_int(&b->columns[0], 2), 90);
    fl_batch_free(b);
    /* Rename and drop are metadata only. */
    CHECK_OK(fl_table_rename_column(t, "label", "caption", &tl_err));
    CHECK_EQ_INT(fl_table_rename_column(t, "nope", "x", &tl_err), FL_ENOTFOUND);
    CHECK_EQ_INT(fl_table_rename_column(t, "caption", "id", &tl_err), FL_EEXIST);
    const char *drop[1] = {"score"};
    CHECK_OK(fl_table_drop_columns(t, drop, 1, &tl_err));
    char *fmt = fl_schema_format(fl_table_schema(t));
    CHECK_EQ_STR(fmt, "id int64 not null, name string, caption string");
    free(fmt);
    const char *cap[1] = {"caption"};
    CHECK_OK(fl_table_take(t, urows, 2, cap, 1, &b, &tl_err));
    p = fl_array_get_bytes(&b->columns[0], 1, &n);
    CHECK(n == 4 && !memcmp(p, "zero", 4));
    fl_batch_free(b);
    /* A re-added column of the same name starts empty (new field id). */
    fl_schema *again = parse("score int32");
    CHECK_OK(fl_table_add_columns(t, again, NULL, &tl_err));
    const char *sc[1] = {"score"};
    CHECK_OK(fl_table_take(t, urows, 2, sc, 1, &b, &tl_err));
    CHECK_EQ_INT(b->columns[0].null_count, 2);
    fl_batch_free(b);
    /* Time travel still sees the old schema and values. */
    CHECK_OK(fl_table_checkout(t, 3, &tl_err));
    CHECK_OK(fl_table_take(t, want, 1, cols, 2, &b, &tl_err));
    CHECK(fl_array_get_float(&b->columns[1], 0) == 4.5);
    fl_batch_free(b);
    /* Table metadata. */
    CHECK_OK(fl_table_checkout(t, 0, &tl_err));
    const char *keys[2] = {"owner", "purpose"}, *values[2] = {"perception", "tests"};
    CHECK_OK(fl_table_set_metadata(t, keys, values, 2, &tl_err));
    CHECK_EQ_STR(fl_schema_get_metadata(fl_table_schema(t), "purpose"), "tests");
    fl_schema_free(again);
    fl_schema_free(upd);
    fl_schema_free(vals);
    fl_schema_free(add);
    fl_table_close(t);
    fl_schema_free(s);
    fl_db_close(db);
}

static void test_tags_and_cleanup(void) {
    const char *dir = tl_tmpdir("cleanup");
    fl_db *db;
    CHECK_OK(fl_db_open(dir, FL_OPEN_CREATE, &db, &tl_err));
    fl_schema *s = parse("id int64 not null, name string");
    fl_table *t;
    CHECK_OK(fl_table_create(db, "t", s, &t, &tl_err));
    for (int k = 0; k < 4; k++) {
        fl_batch *b = id_rows(s, k * 10, 10);
        CHECK_OK(fl_table_append(t, b, NULL, &tl_err));
        fl_batch_free(b);
    }
    CHECK_OK(fl_table_tag(t, "first-two", 3, &tl_err));
    CHECK_EQ_INT(fl_table_tag(t, "first-two", 4, &tl_err), FL_EEXIST);
    CHECK_EQ_INT(fl_table_tag(t, "bad/name", 4, &tl_err), FL_EINVAL);
    CHECK_EQ_INT(fl_table_tag(t, "later", 77, &tl_err), FL_ENOTFOUND);
    fl_open_options oo = {.tag = "first-two"};
    fl_table *t2;
    CHECK_OK(fl_table_open(db, "t", &oo, &t2, &tl_err));
    CHECK_EQ_INT(fl_table_version(t2), 3);
    CHECK_EQ_INT(fl_table_count_rows(t2), 20);
    fl_table_close(t2);
    /* Compact everything into one fragment (v6), plant an orphan file, then clean up. */
    CHECK_OK(fl_table_compact(t, NULL, NULL, &tl_err));
    CHECK_EQ_INT(fl_table_version(t), 6);
    CHECK_EQ_INT(tl_sh("echo junk > '%s/t/data/orphan.fld' && touch -d '2 hours ago' '%s/t/data/orphan.fld'", dir, dir), 0);
    CHECK_EQ_INT(tl_sh("echo fresh > '%s/t/data/inflight.fld'", dir), 0);
    /* With a 30-minute grace period: every version was superseded moments ago, so all stay (a writer may
     * still be committing on top of one); the 2-hour-old orphan goes, the fresh file stays. */
    fl_cleanup_options co = {.older_than_ms = -1, .keep_versions = 0, .grace_ms = 30 * 60000};
    fl_cleanup_stats st;
    CHECK_OK(fl_table_cleanup(t, &co, &st, &tl_err));
    CHECK_EQ_INT(st.versions_removed, 0);
    CHECK_EQ_INT(st.files_removed, 1);
    CHECK_EQ_INT(tl_sh("test ! -e '%s/t/data/orphan.fld' && test -e '%s/t/data/inflight.fld'", dir, dir), 0);
    /* Without a grace period (no other writer): versions 1,2,4,5 go; 3 (tagged) and 6 (latest) stay.
     * Files: the fragments of v4/v5 not in v3, and the unreferenced one. */
    co.grace_ms = 0;
    CHECK_OK(fl_table_cleanup(t, &co, &st, &tl_err));
    CHECK_EQ_INT(st.versions_removed, 4);
    CHECK_EQ_INT(st.files_removed, 3);
    CHECK_EQ_INT(tl_sh("test ! -e '%s/t/data/inflight.fld'", dir), 0);
    fl_version_info *vi;
    size_t nv;
    CHECK_OK(fl_table_list_versions(t, &vi, &nv, &tl_err));
    CHECK_EQ_INT(nv, 2);
    CHECK_EQ_INT(vi[0].version, 3);
    CHECK_EQ_INT(vi[1].version, 6);
    free(vi);
    CHECK_OK(fl_table_open(db, "t", &oo, &t2, &tl_err));
    CHECK_EQ_INT(scan_count(t2, 3), 20);
    fl_table_close(t2);
    CHECK_EQ_INT(scan_count(t, 3), 40);
    fl_tag_info *tags;
    size_t ntags;
    CHECK_OK(fl_table_list_tags(t, &tags, &ntags, &tl_err));
    CHECK_EQ_INT(ntags, 1);
    CHECK_EQ_STR(tags[0].name, "first-two");
    fl_tags_free(tags, ntags);
    /* Cleanup left a gap (3, then 6). A handle at 3 still finds 6 as the latest, even without the hint,
     * and a write based on 3 cannot be checked against the removed 4 and 5: a clear conflict. */
    CHECK_EQ_INT(tl_sh("rm -f '%s/t/_latest'", dir), 0);
    CHECK_OK(fl_table_open(db, "t", &oo, &t2, &tl_err));
    uint64_t latest = 0;
    CHECK_OK(fl_table_latest_version(t2, &latest, &tl_err));
    CHECK_EQ_INT(latest, 6);
    fl_batch *more = id_rows(s, 100, 1);
    CHECK_EQ_INT(fl_table_append(t2, more, NULL, &tl_err), FL_ECONFLICT);
    CHECK(strstr(tl_err.message, "version 4, committed after this handle's version 3, was cleaned up") != NULL);
    CHECK_OK(fl_table_checkout(t2, 0, &tl_err));
    CHECK_EQ_INT(fl_table_version(t2), 6);
    fl_batch_free(more);
    fl_table_close(t2);
    CHECK_OK(fl_table_untag(t, "first-two", &tl_err));
    CHECK_OK(fl_table_cleanup(t, &co, &st, &tl_err));
    CHECK_EQ_INT(st.versions_removed, 1);
    CHECK_EQ_INT(st.files_removed, 2);
    CHECK_EQ_INT(scan_count(t, 1000), 40);
    char **names;
    size_t nn;
    CHECK_OK(fl_db_list_tables(db, &names, &nn, &tl_err));
    CHECK_EQ_INT(nn, 1);
    CHECK_EQ_STR(names[0], "t");
    fl_strings_free(names, nn);
    fl_table_close(t);
    CHECK_OK(fl_table_drop(db, "t", &tl_err));
    CHECK_EQ_INT(fl_table_open(db, "t", NULL, &t, &tl_err), FL_ENOTFOUND);
    fl_schema_free(s);
    fl_db_close(db);
}

static void test_update_large_fragment(void) {
    fl_db *db = open_db("update-large");
    fl_schema *s = parse("id int64 not null, name string");
    fl_table *t;
    CHECK_OK(fl_table_create(db, "t", s, &t, &tl_err));
    fl_batch *b = id_rows(s, 0, 20000); /* one fragment, three chunks of the streaming rewrite */
    CHECK_OK(fl_table_append(t, b, NULL, &tl_err));
    fl_batch_free(b);
    fl_schema *upd = parse("name string");
    b = fl_batch_new(upd);
    uint64_t rows[5] = {19999, 8192, 5, 8191, 16384};
    for (int i = 0; i < 5; i++) {
        char text[32];
        snprintf(text, sizeof text, "new%llu", (unsigned long long)rows[i]);
        fl_array_append_string(&b->columns[0], text);
    }
    CHECK_OK(fl_batch_finish(b, &tl_err));
    CHECK_OK(fl_batch_set_row_ids(b, rows, 5));
    CHECK_OK(fl_table_update(t, b, &tl_err));
    fl_batch_free(b);
    fl_scan *sc;
    fl_scan_options so = {.batch_size = 3000};
    CHECK_OK(fl_scan_open(t, &so, &sc, &tl_err));
    int64_t r = 0, bad = 0;
    while (fl_scan_next(sc, &b, &tl_err) == FL_OK && b) {
        for (int64_t i = 0; i < b->num_rows; i++, r++) {
            char want[32];
            bool updated = r == 5 || r == 8191 || r == 8192 || r == 16384 || r == 19999;
            snprintf(want, sizeof want, updated ? "new%lld" : "name%lld", (long long)r);
            size_t n;
            const uint8_t *p = fl_array_get_bytes(&b->columns[1], i, &n);
            if (n != strlen(want) || memcmp(p, want, n) || fl_array_get_int(&b->columns[0], i) != r) bad++;
        }
        fl_batch_free(b);
    }
    fl_scan_close(sc);
    CHECK_EQ_INT(r, 20000);
    CHECK_EQ_INT(bad, 0);
    /* Duplicate ids in one update are refused; nothing is committed. */
    b = fl_batch_new(upd);
    fl_array_append_string(&b->columns[0], "x");
    fl_array_append_string(&b->columns[0], "y");
    CHECK_OK(fl_batch_finish(b, &tl_err));
    uint64_t dup[2] = {7, 7};
    CHECK_OK(fl_batch_set_row_ids(b, dup, 2));
    CHECK_EQ_INT(fl_table_update(t, b, &tl_err), FL_EINVAL);
    CHECK_EQ_STR(tl_err.message, "table 't': row id 7 appears twice in the batch");
    CHECK_EQ_INT(fl_table_version(t), 3);
    fl_batch_free(b);
    fl_schema_free(upd);
    fl_table_close(t);
    fl_schema_free(s);
    fl_db_close(db);
}

/* Found by fuzzing: arrays whose value buffers were never written (all lists empty, an empty blob). */
static void test_empty_values(void) {
    fl_db *db = open_db("empty-values");
    fl_schema *s = parse("l list<float32>, b binary, s string");
    fl_table *t;
    CHECK_OK(fl_table_create(db, "t", s, &t, &tl_err));
    fl_batch *b = fl_batch_new(s);
    for (int i = 0; i < 3; i++) {
        fl_array_end_list(&b->columns[0]);
        fl_array_append_bytes(&b->columns[1], "", 0);
        fl_array_append_string(&b->columns[2], "");
    }
    CHECK_OK(fl_batch_finish(b, &tl_err));
    CHECK_OK(fl_table_append(t, b, NULL, &tl_err));
    fl_batch_free(b);
    uint64_t ids[2] = {2, 0};
    CHECK_OK(fl_table_take(t, ids, 2, NULL, 0, &b, &tl_err));
    int64_t s0, s1;
    fl_array_get_list(&b->columns[0], 1, &s0, &s1);
    CHECK_EQ_INT(s1 - s0, 0);
    size_t n = 7;
    fl_array_get_bytes(&b->columns[1], 0, &n);
    CHECK_EQ_INT(n, 0);
    CHECK(!fl_array_is_null(&b->columns[1], 0));
    fl_batch_free(b);
    CHECK_EQ_INT(scan_count(t, 2), 3);
    fl_table_close(t);
    fl_schema_free(s);
    fl_db_close(db);
}

int main(void) {
    RUN(test_schema_text);
    RUN(test_round_trip_all_types);
    RUN(test_append_validation);
    RUN(test_versions_delete_compact_restore);
    RUN(test_schema_evolution);
    RUN(test_tags_and_cleanup);
    RUN(test_update_large_fragment);
    RUN(test_empty_values);
    return tl_finish("test_table");
}
