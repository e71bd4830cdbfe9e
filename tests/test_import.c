/*
 * test_import.c — JSON Lines import: schema inference of every type (nested lists and structs, NULLs,
 * empty arrays, uint64, timestamps, $file), conflicts and bad names with exact messages, given schemas in
 * text and JSON, {"$file": path} with relative, absolute and missing paths, appending into an existing
 * table with type checks, atomicity (a bad last line commits nothing), bounded batches, dry runs, and the
 * unchanged behaviour of fl_batch_from_jsonl.
 */
#include "testlib.h"

#include "batch/jsonl.h"

#include <stdint.h>

/* ---- helpers ---- */

static void write_text(const char *path, const char *text) {
    FILE *f = fopen(path, "wb");
    CHECK(f != NULL);
    if (!f) return;
    fputs(text, f);
    fclose(f);
}

static char *path_in(const char *dir, const char *name) {
    static char buf[8][1024];
    static int next;
    char *p = buf[next++ % 8];
    snprintf(p, sizeof buf[0], "%s/%s", dir, name);
    return p;
}

/* The inferred schema in text syntax (caller frees), or NULL with tl_err set. */
static char *infer(const char *text) {
    fl_schema *s = NULL;
    if (fl_jsonl_infer_schema(text, strlen(text), "rows.jsonl", &s, &tl_err) != FL_OK) return NULL;
    char *out = fl_schema_format(s);
    fl_schema_free(s);
    return out;
}

static void check_inferred(const char *text, const char *want) {
    char *got = infer(text);
    if (!got) fprintf(stderr, "  inference failed: %s\n", tl_err.message);
    CHECK_EQ_STR(got, want);
    free(got);
}

static void check_infer_error(const char *text, int code, const char *want) {
    fl_error err = {0};
    fl_schema *s = NULL;
    int rc = fl_jsonl_infer_schema(text, strlen(text), "rows.jsonl", &s, &err);
    CHECK_EQ_INT(rc, code);
    CHECK(s == NULL);
    CHECK_EQ_STR(err.message, want);
    fl_schema_free(s);
}

/* Every row of the table's latest version, in scan order, in one batch (caller frees). */
static fl_batch *read_all(fl_db *db, const char *name) {
    fl_table *t = NULL;
    fl_batch *b = NULL;
    CHECK_OK(fl_table_open(db, name, NULL, &t, &tl_err));
    if (!t) return NULL;
    size_t n = (size_t)fl_table_count_rows(t);
    uint64_t *positions = malloc((n ? n : 1) * sizeof *positions);
    for (size_t i = 0; i < n; i++) positions[i] = i;
    CHECK_OK(fl_table_take_positions(t, positions, n, NULL, 0, &b, &tl_err));
    free(positions);
    fl_table_close(t);
    return b;
}

static uint64_t table_version(fl_db *db, const char *name) {
    fl_table *t = NULL;
    if (fl_table_open(db, name, NULL, &t, NULL) != FL_OK) return 0;
    uint64_t v = fl_table_version(t);
    fl_table_close(t);
    return v;
}

static bool table_exists(fl_db *db, const char *name) { return table_version(db, name) != 0; }

static void check_string(const fl_array *a, int64_t i, const char *want) {
    size_t n = 0;
    const uint8_t *p = fl_array_get_bytes(a, i, &n);
    CHECK(!fl_array_is_null(a, i));
    CHECK(n == strlen(want) && !memcmp(p, want, n));
}

/* ---- inference ---- */

static void test_infer_scalars(void) {
    check_inferred("{\"id\": \"a\", \"n\": 1, \"x\": 1, \"ok\": true, \"nothing\": null, \"ts\": \"2024-05-01T12:00:00Z\", \"when\": \"2024-05-01\"}\n"
                   "\n"
                   "{\"id\": \"b\", \"n\": -7, \"x\": 2.5, \"ok\": false, \"nothing\": null, \"ts\": \"2024-05-01 14:00:00.125+02:00\", \"when\": \"2024-05-02T00:00:00Z\"}\r\n"
                   "{\"late\": 3e2, \"id\": null}\n",
                   "id string, n int64, x float64, ok bool, nothing string, ts timestamp, when string, late float64");
    /* uint64 when an integer exceeds int64 and none is negative; exact extremes stay int64 */
    check_inferred("{\"h\": 18446744073709551615, \"i\": 9223372036854775807, \"j\": -9223372036854775808}\n{\"h\": 1, \"i\": 0, \"j\": 0}",
                   "h uint64, i int64, j int64");
    /* a big integer next to a fraction: float64 (approximate by nature) */
    check_inferred("{\"f\": 18446744073709551616}\n{\"f\": 0.5}", "f float64");
    /* every value of the column must be a timestamp for it to become one */
    check_inferred("{\"t\": \"2024-05-01T12:00:00Z\"}\n{\"t\": \"yesterday\"}", "t string");
}

static void test_infer_nested(void) {
    check_inferred("{\"cats\": [], \"boxes\": [[1, 2, 3, 4]], \"emb\": [0.5, 1, 2], \"pos\": {\"x\": 1}, \"anns\": [{\"c\": \"car\"}], \"e\": []}\n"
                   "{\"cats\": [\"car\", null], \"boxes\": [[], null, [5.5, 6, 7, 8]], \"emb\": null, \"pos\": {\"y\": \"u\", \"x\": 2.5}, "
                   "\"anns\": [{\"c\": \"bus\", \"b\": [1, 2]}, null], \"e\": [null]}\n"
                   "{\"pos\": {\"deep\": {\"z\": [true]}}}\n",
                   "cats list<string>, boxes list<list<float64>>, emb list<float64>, pos struct<x: float64, y: string, deep: struct<z: list<bool>>>, "
                   "anns list<struct<c: string, b: list<int64>>>, e list<string>");
    /* $file is binary; {} decides nothing about members */
    check_inferred("{\"img\": {\"$file\": \"a.jpg\"}, \"meta\": {}}\n{\"img\": null, \"meta\": {\"k\": 1}}\n{\"img\": { \"$file\" : \"/b.jpg\" }}",
                   "img binary, meta struct<k: int64>");
    /* empty objects on every line still make a row each */
    check_inferred("{}\n{\"a\": 1}\n{}", "a int64");
}

static void test_infer_errors(void) {
    /* the brief's example: line 9, column 14 */
    check_infer_error("{\"width\": \"wide\"}\n{}\n{\"width\": \"640\"}\n{}\n{}\n{}\n{}\n{}\n{\"a\": 1, \"width\": 14}\n", FL_ETYPE,
                      "rows.jsonl: line 9, column 19: field 'width' is a number here but a string on line 1");
    check_infer_error("{}\n{}\n{\"id\": \"x\", \"width\": \"w\"}\n{}\n{}\n{}\n{}\n{}\n{\"id\": \"y\", \"width\": 640}", FL_ETYPE,
                      "rows.jsonl: line 9, column 22: field 'width' is a number here but a string on line 3");
    check_infer_error("{\"pos\": {\"x\": 1}}\n{\"pos\": {\"x\": \"1\"}}", FL_ETYPE,
                      "rows.jsonl: line 2, column 15: field 'pos.x' is a string here but a number on line 1");
    check_infer_error("{\"cats\": [\"a\"]}\n{\"cats\": [[\"b\"]]}", FL_ETYPE,
                      "rows.jsonl: line 2, column 11: field 'cats[]' is an array here but a string on line 1");
    check_infer_error("{\"b\": [{\"v\": [1]}]}\n{\"b\": [{\"v\": [false]}]}", FL_ETYPE,
                      "rows.jsonl: line 2, column 15: field 'b[].v[]' is a boolean here but a number on line 1");
    check_infer_error("{\"img\": \"AAAA\"}\n{\"img\": {\"$file\": \"a.jpg\"}}", FL_ETYPE,
                      "rows.jsonl: line 2, column 9: field 'img' is a $file reference here but a string on line 1");
    check_infer_error("{\"img\": {\"$file\": \"a.jpg\"}}\n{\"img\": {\"path\": \"a.jpg\"}}", FL_ETYPE,
                      "rows.jsonl: line 2, column 9: field 'img' is an object here but a $file reference on line 1");
    check_infer_error("{\"img\": {\"$file\": \"a.jpg\", \"size\": 3}}", FL_EINVAL,
                      "rows.jsonl: line 1, column 26: an object with \"$file\" must have no other keys");
    check_infer_error("{\"img\": {\"size\": 3, \"$file\": \"a.jpg\"}}", FL_EINVAL,
                      "rows.jsonl: line 1, column 21: an object with \"$file\" must have no other keys");
    check_infer_error("{\"img\": {\"$file\": 7}}", FL_EINVAL, "rows.jsonl: line 1, column 19: \"$file\" expects a path string");
    check_infer_error("{\"$file\": \"a.jpg\"}", FL_EINVAL, "rows.jsonl: line 1, column 2: a line must be an object of columns, not a $file reference");
    check_infer_error("{\"ok\": 1}\n{\"has person\": true}", FL_EINVAL,
                      "rows.jsonl: line 2, column 2: 'has person' is not a valid column name (use 1 to 128 letters, digits, '_', '-', '.'; not "
                      "starting with '.')");
    check_infer_error("{\"pos\": {\".x\": 1}}", FL_EINVAL,
                      "rows.jsonl: line 1, column 10: '.x' is not a valid column name (use 1 to 128 letters, digits, '_', '-', '.'; not "
                      "starting with '.')");
    check_infer_error("{\"a\": 1, \"a\": 2}", FL_EINVAL, "rows.jsonl: line 1, column 10: key 'a' appears twice");
    check_infer_error("{\"h\": 18446744073709551615}\n{\"h\": -1}", FL_ETYPE,
                      "rows.jsonl: line 2, column 7: field 'h': negative integer, but line 1 has one above the int64 range; no integer type "
                      "holds both (give a schema with float64 to store them approximately)");
    check_infer_error("{\"h\": -1}\n{\"h\": 18446744073709551615}", FL_ETYPE,
                      "rows.jsonl: line 2, column 7: field 'h': integer above the int64 range, but line 1 has a negative one; no integer type "
                      "holds both (give a schema with float64 to store them approximately)");
    check_infer_error("{\"h\": 1}\n{\"h\": 18446744073709551616}", FL_ETYPE,
                      "rows.jsonl: line 2, column 7: field 'h': integer outside the range of int64 and uint64 (give a schema with float64 to "
                      "store it approximately)");
    check_infer_error("{\"m\": {}}\n{\"m\": null}", FL_ETYPE,
                      "rows.jsonl: line 1: field 'm' is an empty object on every line; a struct needs at least one member");
    check_infer_error("", FL_EINVAL, "rows.jsonl: no rows to infer a schema from");
    check_infer_error("\n  \n", FL_EINVAL, "rows.jsonl: no rows to infer a schema from");
    check_infer_error("{}\n{}", FL_EINVAL, "rows.jsonl: every line is an empty object; no columns to infer");
    check_infer_error("{\"a\": 1}\n[1, 2]", FL_EINVAL, "rows.jsonl: line 2, column 1: expected '{'");
    check_infer_error("{\"a\": 1} {\"a\": 2}", FL_EINVAL, "rows.jsonl: line 1, column 10: expected the end of the line after the object");
    check_infer_error("{\"a\": tru}", FL_EINVAL, "rows.jsonl: line 1, column 7: expected a value");
    check_infer_error("{\"a\": \"x\n\"}", FL_EINVAL, "rows.jsonl: line 1, column 10: unterminated string");
    check_infer_error("{\"a\": \"x\ty\"}", FL_EINVAL, "rows.jsonl: line 1, column 9: control character in a string");
    check_infer_error("{\"a\": 1.2.3}", FL_EINVAL, "rows.jsonl: line 1, column 7: invalid number '1.2.3'");
    check_infer_error("{\"a\": -}", FL_EINVAL, "rows.jsonl: line 1, column 7: invalid number '-'");
    check_infer_error("{\"a\": 12-3}", FL_EINVAL, "rows.jsonl: line 1, column 7: invalid number '12-3'");
    char deep[200] = "{\"a\": ";
    for (int i = 0; i < 20; i++) strcat(deep, "[");
    check_infer_error(deep, FL_EINVAL, "rows.jsonl: line 1, column 23: nesting too deep");
}

static void test_rfc3339(void) {
    int64_t ms = 0;
    CHECK(fl_parse_rfc3339("1970-01-01T00:00:00Z", 20, &ms) && ms == 0);
    CHECK(fl_parse_rfc3339("2024-02-29T23:59:59.999Z", 24, &ms) && ms == 1709251199999LL);
    CHECK(fl_parse_rfc3339("2024-05-01t12:00:00.1234567-01:30", 33, &ms) && ms == 1714564800000LL + 5400000 + 123);
    CHECK(fl_parse_rfc3339("1969-12-31T23:59:59.5Z", 22, &ms) && ms == -500);
    CHECK(!fl_parse_rfc3339("2023-02-29T00:00:00Z", 20, &ms));   /* not a leap year */
    CHECK(!fl_parse_rfc3339("2024-05-01T12:00:00", 19, &ms));    /* no zone */
    CHECK(!fl_parse_rfc3339("2024-05-01T24:00:00Z", 20, &ms));
    CHECK(!fl_parse_rfc3339("2024-5-01T12:00:00Z", 19, &ms));
    CHECK(!fl_parse_rfc3339("2024-05-01T12:00:00.Z", 21, &ms));
    CHECK(!fl_parse_rfc3339("2024-05-01T12:00:00Zx", 21, &ms));
    CHECK(!fl_parse_rfc3339("2024-05-01T12:00:00+0200", 24, &ms));
}

/* ---- import into a new table ---- */

static void test_import_new_table_with_files(void) {
    const char *dir = tl_tmpdir("import-new");
    tl_sh("mkdir -p %s/data/img %s/elsewhere", dir, dir);
    write_text(path_in(dir, "data/img/a.jpg"), "AAA-bytes");
    write_text(path_in(dir, "elsewhere/b.bin"), "");
    char abs_b[1024];
    snprintf(abs_b, sizeof abs_b, "%s/elsewhere/b.bin", dir);
    char rows[4096];
    snprintf(rows, sizeof rows,
             "{\"image_id\": \"a\", \"img\": {\"$file\": \"img/a.jpg\"}, \"width\": 1280, \"h\": 18446744073709551615, \"ts\": \"2024-05-01T12:00:00.250Z\", "
             "\"boxes\": [[1, 2.5]], \"pos\": {\"x\": 1}}\n"
             "{\"image_id\": \"b\", \"img\": {\"$file\": \"%s\"}, \"width\": null, \"h\": 3, \"ts\": null, \"boxes\": [], \"pos\": {\"y\": [true]}}\n"
             "{\"image_id\": \"c\", \"img\": null}\n",
             abs_b);
    write_text(path_in(dir, "data/rows.jsonl"), rows);
    fl_db *db = NULL;
    CHECK_OK(fl_db_open(path_in(dir, "db"), FL_OPEN_CREATE, &db, &tl_err));
    fl_ingest_report r;
    CHECK_OK(fl_import_jsonl(db, "frames", path_in(dir, "data/rows.jsonl"), NULL, &r, &tl_err));
    CHECK_EQ_INT(r.added, 3);
    CHECK_EQ_INT(r.bytes_added, 9);
    CHECK_EQ_INT(r.commits, 2); /* create + append */
    CHECK_EQ_INT(r.version, 2);
    fl_table *t = NULL;
    CHECK_OK(fl_table_open(db, "frames", NULL, &t, &tl_err));
    char *schema = t ? fl_schema_format(fl_table_schema(t)) : NULL;
    CHECK_EQ_STR(schema, "image_id string, img binary, width int64, h uint64, ts timestamp, boxes list<list<float64>>, pos struct<x: int64, y: list<bool>>");
    free(schema);
    fl_table_close(t);
    fl_batch *b = read_all(db, "frames");
    CHECK(b && b->num_rows == 3);
    if (b && b->num_rows == 3) {
        fl_array *img = fl_batch_column(b, "img");
        check_string(img, 0, "AAA-bytes");
        check_string(img, 1, "");
        CHECK(fl_array_is_null(img, 2));
        CHECK_EQ_INT(fl_array_get_uint(fl_batch_column(b, "h"), 0), UINT64_MAX);
        CHECK_EQ_INT(fl_array_get_int(fl_batch_column(b, "ts"), 0), 1714564800250LL);
        CHECK(fl_array_is_null(fl_batch_column(b, "width"), 1));
        fl_array *boxes = fl_batch_column(b, "boxes");
        int64_t s, e;
        fl_array_get_list(boxes, 0, &s, &e);
        CHECK_EQ_INT(e - s, 1);
        int64_t s2, e2;
        fl_array_get_list(&boxes->children[0], s, &s2, &e2);
        CHECK(e2 - s2 == 2 && fl_array_get_float(&boxes->children[0].children[0], s2 + 1) == 2.5);
        fl_array_get_list(boxes, 1, &s, &e);
        CHECK_EQ_INT(e - s, 0);
        CHECK(fl_array_is_null(boxes, 2));
        fl_array *pos = fl_batch_column(b, "pos");
        CHECK(fl_array_is_null(&pos->children[1], 0));
        CHECK(fl_array_is_null(&pos->children[0], 1));
        CHECK(fl_array_is_null(pos, 2));
    }
    fl_batch_free(b);
    fl_db_close(db);
}

static void test_missing_file_commits_nothing(void) {
    const char *dir = tl_tmpdir("import-missing");
    write_text(path_in(dir, "a.bin"), "x");
    write_text(path_in(dir, "rows.jsonl"), "{\"id\": 1, \"img\": {\"$file\": \"a.bin\"}}\n{\"id\": 2,  \"img\": {\"$file\": \"sub/nope.bin\"}}\n");
    fl_db *db = NULL;
    CHECK_OK(fl_db_open(path_in(dir, "db"), FL_OPEN_CREATE, &db, &tl_err));
    fl_error err = {0};
    CHECK_EQ_INT(fl_import_jsonl(db, "t", path_in(dir, "rows.jsonl"), NULL, NULL, &err), FL_ENOTFOUND);
    char want[2048];
    snprintf(want, sizeof want,
             "%s/rows.jsonl: line 2, column 19: column 'img': cannot read $file 'sub/nope.bin' (%s/sub/nope.bin): No such file or directory", dir,
             dir);
    CHECK_EQ_STR(err.message, want);
    CHECK(!table_exists(db, "t"));
    /* a directory is not a file; an absolute path is shown as written */
    char rows[2048];
    snprintf(rows, sizeof rows, "{\"img\": {\"$file\": \"%s\"}}\n", dir);
    write_text(path_in(dir, "dir.jsonl"), rows);
    CHECK_EQ_INT(fl_import_jsonl(db, "t", path_in(dir, "dir.jsonl"), NULL, NULL, &err), FL_EINVAL);
    snprintf(want, sizeof want, "%s/dir.jsonl: line 1, column 9: column 'img': $file '%s' is not a regular file", dir, dir);
    CHECK_EQ_STR(err.message, want);
    write_text(path_in(dir, "empty.jsonl"), "{\"img\": {\"$file\": \"\"}}\n");
    CHECK_EQ_INT(fl_import_jsonl(db, "t", path_in(dir, "empty.jsonl"), NULL, NULL, &err), FL_EINVAL);
    snprintf(want, sizeof want, "%s/empty.jsonl: line 1, column 9: column 'img': empty \"$file\" path", dir);
    CHECK_EQ_STR(err.message, want);
    CHECK(!table_exists(db, "t"));
    /* base_dir overrides the file's directory; text imports resolve against it too */
    fl_import_options o = {.base_dir = dir};
    const char *text = "{\"img\": {\"$file\": \"a.bin\"}}";
    fl_ingest_report r;
    CHECK_OK(fl_import_jsonl_text(db, "t", text, strlen(text), "mem", &o, &r, &tl_err));
    CHECK_EQ_INT(r.added, 1);
    CHECK_EQ_INT(r.bytes_added, 1);
    CHECK_EQ_INT(fl_import_jsonl(db, "t", path_in(dir, "nope.jsonl"), NULL, NULL, &err), FL_ENOTFOUND);
    snprintf(want, sizeof want, "import: %s/nope.jsonl does not exist", dir);
    CHECK_EQ_STR(err.message, want);
    fl_db_close(db);
}

/* ---- given schemas ---- */

static void test_given_schema(void) {
    const char *dir = tl_tmpdir("import-schema");
    fl_schema *text_schema = NULL, *json_schema = NULL;
    CHECK_OK(fl_schema_parse_any("  image_id string not null, width int32, ts timestamp, img binary\n", "s.txt", &text_schema, &tl_err));
    const char *json = "{\n  \"fields\": [\n    {\"name\": \"image_id\", \"type\": \"string\", \"nullable\": false},\n"
                       "    {\"name\": \"width\", \"type\": \"int32\"},\n    {\"name\": \"ts\", \"type\": \"timestamp\", \"id\": 7, \"metadata\": {}},\n"
                       "    {\"type\": \"binary\", \"name\": \"img\", \"nullable\": true}\n  ]\n}\n";
    CHECK_OK(fl_schema_parse_any(json, "s.json", &json_schema, &tl_err));
    char *a = text_schema ? fl_schema_format(text_schema) : NULL, *b = json_schema ? fl_schema_format(json_schema) : NULL;
    CHECK_EQ_STR(a, "image_id string not null, width int32, ts timestamp, img binary");
    CHECK_EQ_STR(b, a);
    free(a);
    free(b);

    write_text(path_in(dir, "x.bin"), "xyz");
    fl_db *db = NULL;
    CHECK_OK(fl_db_open(path_in(dir, "db"), FL_OPEN_CREATE, &db, &tl_err));
    fl_import_options o = {.schema = json_schema, .base_dir = dir};
    fl_error err = {0};
    /* a missing not-null value, an unknown key, a value that does not fit: each names its line and column */
    const char *missing = "{\"image_id\": \"a\"}\n{\"width\": 3}\n";
    CHECK_EQ_INT(fl_import_jsonl_text(db, "s", missing, strlen(missing), "rows.jsonl", &o, NULL, &err), FL_EINVAL);
    CHECK_EQ_STR(err.message, "rows.jsonl: line 2, column 1: column 'image_id' is not null, but this object has no value for it");
    const char *null_id = "{\"image_id\": null}";
    CHECK_EQ_INT(fl_import_jsonl_text(db, "s", null_id, strlen(null_id), "rows.jsonl", &o, NULL, &err), FL_EINVAL);
    CHECK_EQ_STR(err.message, "rows.jsonl: line 1, column 14: column 'image_id' is not null, but the value is null");
    const char *unknown = "{\"image_id\": \"a\", \"height\": 3}";
    CHECK_EQ_INT(fl_import_jsonl_text(db, "s", unknown, strlen(unknown), "rows.jsonl", &o, NULL, &err), FL_EINVAL);
    CHECK_EQ_STR(err.message, "rows.jsonl: line 1, column 19: key 'height' is not a column of the given schema");
    const char *big = "{\"image_id\": \"a\", \"width\": 3000000000}";
    CHECK_EQ_INT(fl_import_jsonl_text(db, "s", big, strlen(big), "rows.jsonl", &o, NULL, &err), FL_EINVAL);
    CHECK_EQ_STR(err.message, "rows.jsonl: line 1, column 28: value 3000000000 out of range for column 'width' (int32)");
    const char *bad_ts = "{\"image_id\": \"a\", \"ts\": \"May 1st\"}";
    CHECK_EQ_INT(fl_import_jsonl_text(db, "s", bad_ts, strlen(bad_ts), "rows.jsonl", &o, NULL, &err), FL_EINVAL);
    CHECK_EQ_STR(err.message, "rows.jsonl: line 1, column 25: column 'ts' (timestamp) expects integer milliseconds or an RFC 3339 time like "
                              "\"2024-05-01T12:00:00Z\", not \"May 1st\"");
    const char *bad_img = "{\"image_id\": \"a\", \"img\": {\"path\": \"x.bin\"}}";
    CHECK_EQ_INT(fl_import_jsonl_text(db, "s", bad_img, strlen(bad_img), "rows.jsonl", &o, NULL, &err), FL_EINVAL);
    CHECK_EQ_STR(err.message, "rows.jsonl: line 1, column 26: column 'img' (binary) expects base64 text or {\"$file\": \"path\"}");
    CHECK(!table_exists(db, "s"));

    /* ignore_unknown skips unknown keys of any shape; timestamps as text or ms; binary as $file or base64 */
    o.ignore_unknown = true;
    const char *rows = "{\"image_id\": \"a\", \"extra\": {\"deep\": [1, {\"x\": null}]}, \"width\": 7, \"ts\": \"2024-05-01T12:00:00Z\", "
                       "\"img\": {\"$file\": \"x.bin\"}}\n"
                       "{\"more\": \"x\", \"image_id\": \"b\", \"ts\": 5, \"img\": \"AAE=\"}\n";
    fl_ingest_report r;
    CHECK_OK(fl_import_jsonl_text(db, "s", rows, strlen(rows), "rows.jsonl", &o, &r, &tl_err));
    CHECK_EQ_INT(r.added, 2);
    CHECK_EQ_INT(r.bytes_added, 3);
    fl_batch *batch = read_all(db, "s");
    CHECK(batch && batch->num_rows == 2);
    if (batch && batch->num_rows == 2) {
        char *s = fl_schema_format(batch->schema);
        CHECK_EQ_STR(s, "image_id string not null, width int32, ts timestamp, img binary");
        free(s);
        CHECK_EQ_INT(fl_array_get_int(fl_batch_column(batch, "ts"), 0), 1714564800000LL);
        CHECK_EQ_INT(fl_array_get_int(fl_batch_column(batch, "ts"), 1), 5);
        check_string(fl_batch_column(batch, "img"), 0, "xyz");
        size_t n = 0;
        const uint8_t *p = fl_array_get_bytes(fl_batch_column(batch, "img"), 1, &n);
        CHECK(n == 2 && p[0] == 0 && p[1] == 1);
    }
    fl_batch_free(batch);

    /* an existing table with a given schema: the columns must be the table's, with its types */
    fl_schema *other = NULL;
    CHECK_OK(fl_schema_parse("image_id string, width int64", &other, &tl_err));
    o.schema = other;
    CHECK_EQ_INT(fl_import_jsonl_text(db, "s", rows, strlen(rows), "rows.jsonl", &o, NULL, &err), FL_ETYPE);
    CHECK_EQ_STR(err.message, "table 's': column 'width' is int32, but the given schema says int64");
    fl_schema_free(other);
    CHECK_OK(fl_schema_parse("width int32", &other, &tl_err));
    o.schema = other;
    CHECK_EQ_INT(fl_import_jsonl_text(db, "s", rows, strlen(rows), "rows.jsonl", &o, NULL, &err), FL_EINVAL);
    CHECK_EQ_STR(err.message, "table 's': column 'image_id' is not null, but the given schema does not list it");
    fl_schema_free(other);
    CHECK_OK(fl_schema_parse("image_id string, height int32", &other, &tl_err));
    o.schema = other;
    CHECK_EQ_INT(fl_import_jsonl_text(db, "s", rows, strlen(rows), "rows.jsonl", &o, NULL, &err), FL_EINVAL);
    CHECK_EQ_STR(err.message, "table 's' has no column 'height' (the given schema has it)");
    fl_schema_free(other);
    CHECK_EQ_INT(table_version(db, "s"), 2);

    /* schema documents that are wrong */
    fl_schema *bad = NULL;
    CHECK_EQ_INT(fl_schema_parse_any("{\"fields\": [{\"name\": \"w\", \"type\": \"in32\"}]}", "s.json", &bad, &err), FL_EINVAL);
    CHECK_EQ_STR(err.message, "s.json: line 1, column 13: field 'w': invalid type 'in32' (unknown type 'in32')");
    CHECK_EQ_INT(fl_schema_parse_any("{\"fields\": [\n {\"name\": \"w\"}]}", "s.json", &bad, &err), FL_EINVAL);
    CHECK_EQ_STR(err.message, "s.json: line 2, column 2: a field needs \"name\" and \"type\"");
    CHECK_EQ_INT(fl_schema_parse_any("{\"fields\": [{\"name\": \"w\", \"type\": \"int8\"}, {\"name\": \"w\", \"type\": \"int8\"}]}", "s.json", &bad, &err),
                 FL_EINVAL);
    CHECK_EQ_STR(err.message, "s.json: line 1, column 44: duplicate column name 'w'");
    CHECK_EQ_INT(fl_schema_parse_any("{\"columns\": []}", "s.json", &bad, &err), FL_EINVAL);
    CHECK_EQ_STR(err.message, "s.json: a JSON schema needs a \"fields\" array");
    CHECK_EQ_INT(fl_schema_parse_any("{\"fields\": []}", "s.json", &bad, &err), FL_EINVAL);
    CHECK_EQ_STR(err.message, "s.json: the schema has no fields");
    CHECK_EQ_INT(fl_schema_parse_any("{\"fields\": [{\"name\": \"w\", \"type\": \"int8\", \"nullable\": 1}]}", "s.json", &bad, &err), FL_EINVAL);
    CHECK_EQ_STR(err.message, "s.json: line 1, column 55: \"nullable\" expects true or false");
    CHECK_EQ_INT(fl_schema_parse_any("a strin", "s.txt", &bad, &err), FL_EINVAL);
    CHECK_EQ_STR(err.message, "s.txt: schema: unknown type 'strin' at position 3");
    CHECK(bad == NULL);

    /* the output of fl_table_info_json is a schema document too */
    fl_table *t = NULL;
    char *info = NULL;
    CHECK_OK(fl_table_open(db, "s", NULL, &t, &tl_err));
    if (t) CHECK_OK(fl_table_info_json(t, &info, &tl_err));
    fl_schema *round = NULL;
    if (info) CHECK_OK(fl_schema_parse_any(info, "info.json", &round, &tl_err));
    char *c = round ? fl_schema_format(round) : NULL;
    CHECK_EQ_STR(c, "image_id string not null, width int32, ts timestamp, img binary");
    free(c);
    free(info);
    fl_schema_free(round);
    fl_table_close(t);
    fl_schema_free(text_schema);
    fl_schema_free(json_schema);
    fl_db_close(db);
}

/* ---- appending into an existing table ---- */

static void test_append_existing(void) {
    const char *dir = tl_tmpdir("import-existing");
    fl_db *db = NULL;
    CHECK_OK(fl_db_open(path_in(dir, "db"), FL_OPEN_CREATE, &db, &tl_err));
    fl_schema *s = NULL;
    CHECK_OK(fl_schema_parse("image_id string not null, width int32, score float32, tags list<string>, u8 uint8, ts timestamp", &s, &tl_err));
    CHECK_OK(fl_table_create(db, "frames", s, NULL, &tl_err));
    fl_schema_free(s);
    fl_error err = {0};
    fl_ingest_report r;
    /* the inferred types (int64, list<string>) go into int32/uint8/float32 columns when the values fit */
    const char *ok = "{\"image_id\": \"a\", \"width\": 1280, \"score\": 1, \"u8\": 255, \"ts\": \"2024-05-01T12:00:00Z\"}\n"
                     "{\"image_id\": \"b\", \"tags\": [\"x\"], \"score\": 0.5, \"ts\": 1000}\n";
    CHECK_OK(fl_import_jsonl_text(db, "frames", ok, strlen(ok), "rows.jsonl", NULL, &r, &tl_err));
    CHECK_EQ_INT(r.added, 2);
    CHECK_EQ_INT(r.commits, 1);
    CHECK_EQ_INT(r.version, 2);
    const char *too_big = "{\"image_id\": \"c\", \"width\": 1}\n{\"image_id\": \"d\", \"width\": 2147483648}\n";
    CHECK_EQ_INT(fl_import_jsonl_text(db, "frames", too_big, strlen(too_big), "rows.jsonl", NULL, NULL, &err), FL_EINVAL);
    CHECK_EQ_STR(err.message, "rows.jsonl: line 2, column 28: value 2147483648 out of range for column 'width' (int32)");
    const char *negative = "{\"image_id\": \"c\", \"u8\": -1}";
    CHECK_EQ_INT(fl_import_jsonl_text(db, "frames", negative, strlen(negative), "rows.jsonl", NULL, NULL, &err), FL_EINVAL);
    CHECK_EQ_STR(err.message, "rows.jsonl: line 1, column 25: value -1 out of range for column 'u8' (uint8)");
    const char *wrong_kind = "{\"image_id\": \"c\", \"width\": \"640\"}";
    CHECK_EQ_INT(fl_import_jsonl_text(db, "frames", wrong_kind, strlen(wrong_kind), "rows.jsonl", NULL, NULL, &err), FL_EINVAL);
    CHECK_EQ_STR(err.message, "rows.jsonl: line 1, column 28: column 'width' (int32) expects an integer");
    const char *fraction = "{\"image_id\": \"c\", \"width\": 1.5}";
    CHECK_EQ_INT(fl_import_jsonl_text(db, "frames", fraction, strlen(fraction), "rows.jsonl", NULL, NULL, &err), FL_EINVAL);
    CHECK_EQ_STR(err.message, "rows.jsonl: line 1, column 28: column 'width' (int32) expects an integer");
    const char *list_kind = "{\"image_id\": \"c\", \"tags\": \"car\"}";
    CHECK_EQ_INT(fl_import_jsonl_text(db, "frames", list_kind, strlen(list_kind), "rows.jsonl", NULL, NULL, &err), FL_EINVAL);
    CHECK_EQ_STR(err.message, "rows.jsonl: line 1, column 27: column 'tags' (list) expects an array");
    const char *file_into_string = "{\"image_id\": {\"$file\": \"a.jpg\"}}";
    CHECK_EQ_INT(fl_import_jsonl_text(db, "frames", file_into_string, strlen(file_into_string), "rows.jsonl", NULL, NULL, &err), FL_EINVAL);
    CHECK_EQ_STR(err.message, "rows.jsonl: line 1, column 14: column 'image_id' (string) expects a string");
    const char *unknown = "{\"image_id\": \"c\", \"weather\": \"rain\"}";
    CHECK_EQ_INT(fl_import_jsonl_text(db, "frames", unknown, strlen(unknown), "rows.jsonl", NULL, NULL, &err), FL_EINVAL);
    CHECK_EQ_STR(err.message, "rows.jsonl: line 1, column 19: key 'weather' is not a column of table 'frames'");
    const char *no_id = "{\"width\": 3}";
    CHECK_EQ_INT(fl_import_jsonl_text(db, "frames", no_id, strlen(no_id), "rows.jsonl", NULL, NULL, &err), FL_EINVAL);
    CHECK_EQ_STR(err.message, "rows.jsonl: line 1, column 1: column 'image_id' is not null, but this object has no value for it");
    CHECK_EQ_INT(table_version(db, "frames"), 2);
    /* an empty input into an existing table: nothing happens */
    CHECK_OK(fl_import_jsonl_text(db, "frames", "\n", 1, "rows.jsonl", NULL, &r, &tl_err));
    CHECK_EQ_INT(r.added, 0);
    CHECK_EQ_INT(r.commits, 0);
    CHECK_EQ_INT(r.version, 2);
    fl_batch *b = read_all(db, "frames");
    CHECK(b && b->num_rows == 2);
    if (b && b->num_rows == 2) {
        CHECK_EQ_INT(fl_array_get_int(fl_batch_column(b, "width"), 0), 1280);
        CHECK_EQ_INT(fl_array_get_uint(fl_batch_column(b, "u8"), 0), 255);
        CHECK(fl_array_get_float(fl_batch_column(b, "score"), 1) == 0.5);
        CHECK_EQ_INT(fl_array_get_int(fl_batch_column(b, "ts"), 0), 1714564800000LL);
        CHECK(fl_array_is_null(fl_batch_column(b, "tags"), 0));
    }
    fl_batch_free(b);
    fl_db_close(db);
}

/* ---- atomicity and batching ---- */

static char *numbered_rows(int n, const char *last) {
    size_t cap = (size_t)n * 80 + 256;
    char *text = malloc(cap);
    size_t used = 0;
    for (int i = 1; i < n; i++) used += (size_t)snprintf(text + used, cap - used, "{\"id\": %d, \"name\": \"row-%d\"}\n", i, i);
    snprintf(text + used, cap - used, "%s\n", last);
    return text;
}

static void test_atomicity(void) {
    const char *dir = tl_tmpdir("import-atomic");
    fl_db *db = NULL;
    CHECK_OK(fl_db_open(path_in(dir, "db"), FL_OPEN_CREATE, &db, &tl_err));
    fl_error err = {0};
    /* bad line 1000 of 1000: the new table is not even created, with or without commit_every */
    char *text = numbered_rows(1000, "{\"id\": 1000, \"name\": 5}");
    fl_import_options every = {.commit_every = 100};
    fl_ingest_report r;
    CHECK_EQ_INT(fl_import_jsonl_text(db, "t", text, strlen(text), "rows.jsonl", NULL, &r, &err), FL_ETYPE);
    CHECK_EQ_STR(err.message, "rows.jsonl: line 1000, column 22: field 'name' is a number here but a string on line 1");
    CHECK_EQ_INT(fl_import_jsonl_text(db, "t", text, strlen(text), "rows.jsonl", &every, &r, &err), FL_ETYPE);
    CHECK_EQ_INT(r.added, 0);
    CHECK(!table_exists(db, "t"));
    free(text);
    /* a good file, in batches of 100: 1 create + 10 appends */
    text = numbered_rows(1000, "{\"id\": 1000, \"name\": \"row-1000\"}");
    CHECK_OK(fl_import_jsonl_text(db, "t", text, strlen(text), "rows.jsonl", &every, &r, &tl_err));
    CHECK_EQ_INT(r.added, 1000);
    CHECK_EQ_INT(r.commits, 11);
    CHECK_EQ_INT(r.version, 11);
    free(text);
    /* into the existing table: bad line 1000 (type, unknown key, missing file) leaves it at version 11 */
    const char *bad_last[] = {"{\"id\": 1000, \"name\": 5}", "{\"id\": 1000, \"nmae\": \"x\"}", "{\"id\": 1000.5}"};
    const char *want[] = {"rows.jsonl: line 1000, column 22: column 'name' (string) expects a string",
                          "rows.jsonl: line 1000, column 14: key 'nmae' is not a column of table 't'",
                          "rows.jsonl: line 1000, column 8: column 'id' (int64) expects an integer"};
    for (int k = 0; k < 3; k++) {
        text = numbered_rows(1000, bad_last[k]);
        CHECK_EQ_INT(fl_import_jsonl_text(db, "t", text, strlen(text), "rows.jsonl", &every, &r, &err), FL_EINVAL);
        CHECK_EQ_STR(err.message, want[k]);
        CHECK_EQ_INT(r.added, 0);
        CHECK_EQ_INT(r.version, 11);
        CHECK_EQ_INT(table_version(db, "t"), 11);
        free(text);
    }
    fl_table *t = NULL;
    CHECK_OK(fl_table_open(db, "t", NULL, &t, &tl_err));
    if (t) CHECK_EQ_INT(fl_table_count_rows(t), 1000);
    fl_table_close(t);
    fl_db_close(db);
}

static void test_file_batches(void) {
    const char *dir = tl_tmpdir("import-batches");
    char big[4097];
    memset(big, 'q', 4096);
    big[4096] = 0;
    fl_buf rows;
    fl_buf_init(&rows);
    for (int i = 0; i < 10; i++) {
        char name[32];
        snprintf(name, sizeof name, "f%d.bin", i);
        big[0] = (char)('0' + i);
        write_text(path_in(dir, name), big);
        fl_buf_printf(&rows, "{\"i\": %d, \"blob\": {\"$file\": \"%s\"}}\n", i, name);
    }
    fl_buf_put_u8(&rows, 0);
    write_text(path_in(dir, "rows.jsonl"), (const char *)rows.data);
    fl_db *db = NULL;
    CHECK_OK(fl_db_open(path_in(dir, "db"), FL_OPEN_CREATE, &db, &tl_err));
    /* 10 files of 4 KiB with a 10000-byte bound: a commit after every third file */
    fl_import_options o = {.max_batch_bytes = 10000};
    fl_ingest_report r;
    CHECK_OK(fl_import_jsonl(db, "blobs", path_in(dir, "rows.jsonl"), &o, &r, &tl_err));
    CHECK_EQ_INT(r.added, 10);
    CHECK_EQ_INT(r.bytes_added, 40960);
    CHECK_EQ_INT(r.commits, 1 + 4);
    fl_batch *b = read_all(db, "blobs");
    CHECK(b && b->num_rows == 10);
    for (int64_t i = 0; b && i < b->num_rows; i++) {
        size_t n = 0;
        const uint8_t *p = fl_array_get_bytes(fl_batch_column(b, "blob"), i, &n);
        CHECK(n == 4096 && p[0] == '0' + i && p[4095] == 'q');
        CHECK_EQ_INT(fl_array_get_int(fl_batch_column(b, "i"), i), i);
    }
    fl_batch_free(b);
    /* a missing file on the last line is found before the first of the several commits */
    rows.size--; /* the NUL */
    fl_buf_printf(&rows, "{\"i\": 10, \"blob\": {\"$file\": \"gone.bin\"}}\n");
    fl_buf_put_u8(&rows, 0);
    write_text(path_in(dir, "rows2.jsonl"), (const char *)rows.data);
    fl_error err = {0};
    CHECK_EQ_INT(fl_import_jsonl(db, "blobs2", path_in(dir, "rows2.jsonl"), &o, &r, &err), FL_ENOTFOUND);
    CHECK(strstr(err.message, "rows2.jsonl: line 11, column 19: column 'blob': cannot read $file 'gone.bin'") != NULL);
    CHECK(!table_exists(db, "blobs2"));
    /* dry run: everything checked, nothing written; no database needed */
    fl_import_options dry = {.dry_run = true};
    CHECK_OK(fl_import_jsonl(NULL, "blobs3", path_in(dir, "rows.jsonl"), &dry, &r, &tl_err));
    CHECK_EQ_INT(r.added, 10);
    CHECK_EQ_INT(r.bytes_added, 40960);
    CHECK_EQ_INT(r.commits, 0);
    CHECK_EQ_INT(fl_import_jsonl(NULL, "blobs3", path_in(dir, "rows2.jsonl"), &dry, &r, &err), FL_ENOTFOUND);
    CHECK_OK(fl_import_jsonl(db, "blobs", path_in(dir, "rows.jsonl"), &dry, &r, &tl_err));
    CHECK_EQ_INT(r.version, 5);
    CHECK_EQ_INT(table_version(db, "blobs"), 5);
    CHECK_EQ_INT(fl_import_jsonl(NULL, "blobs", path_in(dir, "rows.jsonl"), NULL, &r, &err), FL_EINVAL);
    CHECK_EQ_STR(err.message, "import: a database is required (unless dry_run)");
    CHECK_EQ_INT(fl_import_jsonl(db, "bad name", path_in(dir, "rows.jsonl"), NULL, &r, &err), FL_EINVAL);
    CHECK_EQ_STR(err.message, "import: invalid table name 'bad name' (use letters, digits, '_', '-', '.')");
    fl_buf_free(&rows);
    fl_db_close(db);
}

/* A given schema and no rows: the table is created empty. No schema and no rows: an error. */
static void test_empty_input(void) {
    const char *dir = tl_tmpdir("import-empty");
    fl_db *db = NULL;
    CHECK_OK(fl_db_open(path_in(dir, "db"), FL_OPEN_CREATE, &db, &tl_err));
    fl_error err = {0};
    CHECK_EQ_INT(fl_import_jsonl_text(db, "e", "", 0, "rows.jsonl", NULL, NULL, &err), FL_EINVAL);
    CHECK_EQ_STR(err.message, "rows.jsonl: no rows to infer a schema from");
    fl_schema *s = NULL;
    CHECK_OK(fl_schema_parse("a int8", &s, &tl_err));
    fl_import_options o = {.schema = s};
    fl_ingest_report r;
    CHECK_OK(fl_import_jsonl_text(db, "e", "", 0, "rows.jsonl", &o, &r, &tl_err));
    CHECK_EQ_INT(r.added, 0);
    CHECK_EQ_INT(r.commits, 1);
    CHECK_EQ_INT(r.version, 1);
    fl_schema_free(s);
    fl_db_close(db);
}

/* fl_batch_from_jsonl keeps its plain behaviour: no $file, no text timestamps, unknown keys are errors. */
static void test_batch_from_jsonl_unchanged(void) {
    fl_schema *s = NULL;
    CHECK_OK(fl_schema_parse("id string not null, img binary, ts timestamp", &s, &tl_err));
    fl_batch *b = NULL;
    fl_error err = {0};
    const char *ok = "{\"id\": \"a\", \"img\": \"AAE=\", \"ts\": 5}\n\n{\"ts\": null}\n";
    CHECK_OK(fl_batch_from_jsonl(s, ok, strlen(ok), "in", &b, &tl_err));
    CHECK(b && b->num_rows == 2 && fl_array_is_null(&b->columns[0], 1)); /* nullability is the table's business here */
    fl_batch_free(b);
    const char *file = "{\"img\": {\"$file\": \"a\"}}";
    CHECK_EQ_INT(fl_batch_from_jsonl(s, file, strlen(file), "in", &b, &err), FL_EINVAL);
    CHECK_EQ_STR(err.message, "in: line 1, column 9: column 'img' (binary) expects base64 text");
    const char *ts = "{\"ts\": \"2024-05-01T12:00:00Z\"}";
    CHECK_EQ_INT(fl_batch_from_jsonl(s, ts, strlen(ts), "in", &b, &err), FL_EINVAL);
    CHECK_EQ_STR(err.message, "in: line 1, column 8: column 'ts' (timestamp) expects integer milliseconds");
    const char *unknown = "{\"nope\": 1}";
    CHECK_EQ_INT(fl_batch_from_jsonl(s, unknown, strlen(unknown), "in", &b, &err), FL_EINVAL);
    CHECK_EQ_STR(err.message, "in: line 1, column 2: unknown column 'nope'");
    CHECK(b == NULL);
    fl_schema_free(s);
}

/* Allocation failures (the test_oom way): the n-th allocation fails, for every n until the import completes.
 * Each run ends in FL_OK or a clean FL_ENOMEM, and leaves either no table or one holding what it committed. */
static void test_allocation_failures(void) {
    const char *dir = tl_tmpdir("import-oom");
    write_text(path_in(dir, "a.bin"), "abc");
    const char *text = "{\"id\": \"a\", \"n\": 1, \"tags\": [\"x\"], \"pos\": {\"x\": 1.5}, \"img\": {\"$file\": \"a.bin\"}, \"ts\": \"2024-05-01T12:00:00Z\"}\n"
                       "{\"id\": \"b\", \"n\": null, \"tags\": [], \"pos\": {\"y\": true}, \"img\": null}\n"
                       "{\"id\": \"c\", \"n\": 3, \"extra\": [[1.5]]}\n";
    const char *json = "{\"fields\": [{\"name\": \"a\", \"type\": \"list<int8>\"}, {\"name\": \"b\", \"type\": \"string\", \"nullable\": false}]}";
    fl_db *db = NULL;
    CHECK_OK(fl_db_open(path_in(dir, "db"), FL_OPEN_CREATE, &db, &tl_err));
    fl_import_options o = {.commit_every = 2, .base_dir = dir};
    int failures = 0;
    bool done = false;
    for (long n = 1; n < 100000 && !done && tl_failures == 0; n++) {
        fl_error err = {0};
        fl_ingest_report r;
        fl_schema *s = NULL, *js = NULL;
        fl_alloc_fail_after(n);
        int rc_infer = fl_jsonl_infer_schema(text, strlen(text), "rows.jsonl", &s, &err);
        int rc_json = fl_schema_parse_any(json, "s.json", &js, &err);
        int rc = fl_import_jsonl_text(db, "t", text, strlen(text), "rows.jsonl", &o, &r, &err);
        fl_alloc_fail_after(0);
        CHECK(rc_infer == FL_OK || rc_infer == FL_ENOMEM);
        CHECK(rc_json == FL_OK || rc_json == FL_ENOMEM);
        CHECK((rc_infer == FL_OK) == (s != NULL));
        CHECK((rc_json == FL_OK) == (js != NULL));
        fl_schema_free(s);
        fl_schema_free(js);
        if (rc != FL_OK) {
            failures++;
            if (rc != FL_ENOMEM) fprintf(stderr, "  allocation %ld: %d %s\n", n, rc, err.message);
            CHECK_EQ_INT(rc, FL_ENOMEM);
            CHECK(err.message[0] != 0);
        }
        fl_table *t = NULL;
        if (fl_table_open(db, "t", NULL, &t, NULL) == FL_OK) {
            CHECK_EQ_INT(fl_table_count_rows(t), r.added);
            fl_table_close(t);
            CHECK_OK(fl_table_drop(db, "t", &tl_err));
        } else {
            CHECK_EQ_INT(r.added, 0);
        }
        done = rc == FL_OK && rc_infer == FL_OK && rc_json == FL_OK;
        if (done) CHECK_EQ_INT(r.added, 3);
    }
    CHECK(done);
    CHECK(failures > 50);
    fl_db_close(db);
}

/* A UTF-8 byte order mark before the first line is skipped; a $file path with a NUL byte is refused. */
static void test_bom_and_nul(void) {
    check_inferred("\xEF\xBB\xBF{\"a\": 1}\n", "a int64");
    check_infer_error("\xEF\xBB\xBF{\"a\": x}", FL_EINVAL, "rows.jsonl: line 1, column 7: expected a value");
    check_infer_error("{\"img\": {\"$file\": \"a\\u0000b\"}}", FL_EINVAL, "rows.jsonl: line 1, column 19: \"$file\" path contains a NUL byte");
    fl_schema *s = NULL;
    CHECK_OK(fl_schema_parse("img binary", &s, &tl_err));
    fl_import_options o = {.schema = s, .dry_run = true};
    const char *text = "\xEF\xBB\xBF{\"img\": {\"$file\": \"a\\u0000b\"}}";
    fl_error err = {0};
    CHECK_EQ_INT(fl_import_jsonl_text(NULL, "t", text, strlen(text), "rows.jsonl", &o, NULL, &err), FL_EINVAL);
    CHECK_EQ_STR(err.message, "rows.jsonl: line 1, column 19: \"$file\" path contains a NUL byte");
    fl_schema_free(s);
}

int main(void) {
    RUN(test_infer_scalars);
    RUN(test_infer_nested);
    RUN(test_infer_errors);
    RUN(test_rfc3339);
    RUN(test_import_new_table_with_files);
    RUN(test_missing_file_commits_nothing);
    RUN(test_given_schema);
    RUN(test_append_existing);
    RUN(test_atomicity);
    RUN(test_file_batches);
    RUN(test_empty_input);
    RUN(test_batch_from_jsonl_unchanged);
    RUN(test_allocation_failures);
    RUN(test_bom_and_nul);
    return tl_finish("test_import");
}
