/*
 * test_backfill.c — UDF columns and the backfill executor: declaring columns (inputs, types, parameters),
 * incremental runs that compute only new rows even where the UDF gives NULL (UDF calls counted), --where,
 * stale versions, parallel workers giving the same column as one, row ids reaching the UDF, errors (fail
 * or NULL, nothing of a failed checkpoint committed), --all in dependency order, an append racing a
 * backfill, and kill -9 at random points with a bound on repeated UDF calls.
 */
#include "testlib.h"

#include "batch/batch.h"
#include "common/common.h"
#include "compute/udf.h"

#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

/* ---- test UDFs (registered in main) ---- */

static atomic_llong calls;          /* rows passed to the counting UDFs */
static const char *call_log;        /* when set: each call appends its row count here (survives kill -9) */

static void count_rows(int64_t n) {
    atomic_fetch_add(&calls, n);
    if (!call_log) return;
    int fd = open(call_log, O_WRONLY | O_APPEND | O_CREAT, 0644);
    if (fd < 0) return;
    char line[32];
    int k = snprintf(line, sizeof line, "%lld\n", (long long)n);
    if (write(fd, line, (size_t)k) != k) abort();
    close(fd);
}

/* t_ncat: number of categories; NULL for a frame without any (test frames have no annotations). */
static int ncat_call(void *state, const fl_batch *in, fl_array *out, fl_error *err) {
    (void)state, (void)err;
    count_rows(in->num_rows);
    for (int64_t i = 0; i < in->num_rows; i++) {
        int64_t s = 0, e = 0;
        if (!fl_array_is_null(&in->columns[0], i)) fl_array_get_list(&in->columns[0], i, &s, &e);
        FL_RETURN_NOT_OK(e > s ? fl_array_append_int(out, e - s) : fl_array_append_null(out));
    }
    return FL_OK;
}

/* t_rowid: the row's id, times the parameter "scale" (default 1) read once per worker by init. */
static int rowid_init(const fl_udf_def *def, const fl_udf_context *ctx, void **state, fl_error *err) {
    (void)def, (void)err;
    int64_t *scale = malloc(sizeof *scale);
    *scale = 1;
    for (size_t i = 0; ctx && i < ctx->n_params; i++)
        if (!strcmp(ctx->param_keys[i], "scale")) *scale = atoll(ctx->param_values[i]);
    *state = scale;
    return FL_OK;
}
static int rowid_call(void *state, const fl_batch *in, fl_array *out, fl_error *err) {
    (void)err;
    count_rows(in->num_rows);
    for (int64_t i = 0; i < in->num_rows; i++) FL_RETURN_NOT_OK(fl_array_append_int(out, (int64_t)in->row_ids[i] * *(int64_t *)state));
    return FL_OK;
}
static void rowid_fini(void *state) { free(state); }

/* t_picky: width + row id, but fails on rows whose id is 3 mod 7. */
static int picky_call(void *state, const fl_batch *in, fl_array *out, fl_error *err) {
    (void)state;
    count_rows(in->num_rows);
    for (int64_t i = 0; i < in->num_rows; i++) {
        if (in->row_ids[i] % 7 == 3) return fl_error_set(err, FL_EINVAL, "cannot handle this frame");
        FL_RETURN_NOT_OK(fl_array_append_int(out, fl_array_get_int(&in->columns[0], i) + (int64_t)in->row_ids[i]));
    }
    return FL_OK;
}

/* t_slow: like t_rowid, 2 ms per row (so that an append can race it). */
static int slow_call(void *state, const fl_batch *in, fl_array *out, fl_error *err) {
    usleep((useconds_t)(2000 * in->num_rows));
    return rowid_call(state, in, out, err);
}

/* t_popcount: set bits of an 8-byte hash (reads another UDF column: dhash). */
static int popcount_call(void *state, const fl_batch *in, fl_array *out, fl_error *err) {
    (void)state, (void)err;
    const fl_array *h = &in->columns[0];
    for (int64_t i = 0; i < in->num_rows; i++) {
        if (fl_array_is_null(h, i)) {
            FL_RETURN_NOT_OK(fl_array_append_null(out));
            continue;
        }
        int bits = 0;
        for (int k = 0; k < 8; k++) bits += __builtin_popcount((unsigned)fl_array_get_uint(&h->children[0], i * 8 + k));
        FL_RETURN_NOT_OK(fl_array_append_int(out, bits));
    }
    return FL_OK;
}

/* t_dhash: the built-in dhash, counted (the kill test). */
static int counted_dhash_call(void *state, const fl_batch *in, fl_array *out, fl_error *err) {
    count_rows(in->num_rows);
    return fl_udf_find("dhash")->call(state, in, out, err);
}

static const fl_udf_def T_NCAT = {.name = "t_ncat", .version = 1, .inputs = "ann_categories list<string>", .output_type = "int32",
                                  .description = "categories per frame", .call = ncat_call};
static const fl_udf_def T_ROWID = {.name = "t_rowid", .version = 1, .inputs = "w int32", .output_type = "int64", .description = "row id x scale",
                                   .init = rowid_init, .call = rowid_call, .fini = rowid_fini};
static const fl_udf_def T_PICKY = {.name = "t_picky", .version = 1, .inputs = "width int32", .output_type = "int64",
                                   .description = "fails on ids 3 mod 7", .call = picky_call};
static const fl_udf_def T_SLOW = {.name = "t_slow", .version = 1, .inputs = "w int32", .output_type = "int64", .description = "slow row id",
                                  .init = rowid_init, .call = slow_call, .fini = rowid_fini};
static const fl_udf_def T_POPCOUNT = {.name = "t_popcount", .version = 1, .inputs = "hash fixed_size_list<uint8, 8>", .output_type = "int32",
                                      .description = "bits set", .call = popcount_call};
static fl_udf_def T_DHASH; /* the built-in's descriptor under another name, counted */

static fl_db *footage(const char *tag, int n, int w, int h) {
    fl_db *db;
    CHECK_OK(fl_db_open(tl_tmpdir(tag), FL_OPEN_CREATE, &db, &tl_err));
    fl_synthetic_options syn = {.n = (uint64_t)n, .width = w, .height = h, .split = FL_SYNTHETIC_MIXED};
    CHECK_OK(fl_ingest_synthetic(db, "bdd100k", &syn, NULL, NULL, &tl_err));
    return db;
}

static void append_frames(fl_db *db, int n) {
    fl_synthetic_options syn = {.n = (uint64_t)n, .width = 96, .height = 64, .split = FL_SYNTHETIC_MIXED};
    CHECK_OK(fl_ingest_synthetic(db, "bdd100k", &syn, NULL, NULL, &tl_err));
}

static const char *meta(fl_db *db, const char *key, char *buf, size_t size) {
    fl_table *t;
    CHECK_OK(fl_table_open(db, "bdd100k", NULL, &t, &tl_err));
    const char *v = fl_schema_get_metadata(fl_table_schema(t), key);
    snprintf(buf, size, "%s", v ? v : "(none)");
    fl_table_close(t);
    return buf;
}

static int64_t count_where(fl_db *db, const char *where) {
    fl_table *t;
    int64_t n = -1;
    CHECK_OK(fl_table_open(db, "bdd100k", NULL, &t, &tl_err));
    CHECK_OK(fl_table_count_where(t, where, &n, &tl_err));
    fl_table_close(t);
    return n;
}


static void test_backfill(void) {
    const char *base = tl_tmpdir("backfill");
    fl_db *db;
    CHECK_OK(fl_db_open(base, FL_OPEN_CREATE, &db, &tl_err));
    fl_synthetic_options syn = {.n = 40, .width = 96, .height = 64};
    CHECK_OK(fl_ingest_synthetic(db, "bdd100k", &syn, NULL, NULL, &tl_err));
    fl_backfill_options o = {.checkpoint_rows = 7};
    fl_backfill_report r;
    CHECK_OK(fl_backfill(db, "bdd100k", "has_person", "has_person", &o, &r, &tl_err));
    CHECK(r.added && !r.stale);
    CHECK_EQ_INT(r.computed, 40);
    CHECK_EQ_INT(r.checkpoints, 6); /* 7 x 5 + 5 */
    /* the values are the UDF's on each row's categories */
    fl_table *t;
    CHECK_OK(fl_table_open(db, "bdd100k", NULL, &t, &tl_err));
    const char *cols[] = {"ann_categories", "has_person"};
    fl_scan_options so = {.columns = cols, .n_columns = 2};
    fl_scan *scan;
    CHECK_OK(fl_scan_open(t, &so, &scan, &tl_err));
    fl_batch *b;
    int persons = 0;
    while (fl_scan_next(scan, &b, &tl_err) == FL_OK && b) {
        for (int64_t i = 0; i < b->num_rows; i++) {
            int64_t st, en;
            fl_array_get_list(&b->columns[0], i, &st, &en);
            bool want = false;
            for (int64_t k = st; k < en; k++) {
                size_t n;
                const char *c = (const char *)fl_array_get_bytes(&b->columns[0].children[0], k, &n);
                want = want || (n == 10 && !memcmp(c, "pedestrian", 10)) || (n == 12 && !memcmp(c, "other person", 12));
            }
            CHECK(!fl_array_is_null(&b->columns[1], i) && fl_array_get_bool(&b->columns[1], i) == want);
            persons += want;
        }
        fl_batch_free(b);
    }
    fl_scan_close(scan);
    fl_table_close(t);
    CHECK(persons > 0 && persons < 40);

    /* new footage: only the new rows are computed */
    syn.n = 10;
    CHECK_OK(fl_ingest_synthetic(db, "bdd100k", &syn, NULL, NULL, &tl_err));
    CHECK_OK(fl_backfill(db, "bdd100k", "has_person", "has_person", &o, &r, &tl_err));
    CHECK_EQ_INT(r.computed, 10);
    CHECK_EQ_INT(r.skipped, 40);
    CHECK(!r.added);
    o.overwrite = true;
    CHECK_OK(fl_backfill(db, "bdd100k", "has_person", "has_person", &o, &r, &tl_err));
    CHECK_EQ_INT(r.computed, 50);
    /* a stored definition from another version of the UDF makes the column stale: every row recomputed */
    const char *key[] = {"udf.has_person.version"}, *value[] = {"0"};
    CHECK_OK(fl_table_open(db, "bdd100k", NULL, &t, &tl_err));
    CHECK_OK(fl_table_set_metadata(t, key, value, 1, &tl_err));
    fl_table_close(t);
    o.overwrite = false;
    CHECK_OK(fl_backfill(db, "bdd100k", "has_person", "has_person", &o, &r, &tl_err));
    CHECK(r.stale);
    CHECK_EQ_INT(r.computed, 50);
    CHECK_OK(fl_backfill(db, "bdd100k", "has_person", "has_person", &o, &r, &tl_err));
    CHECK(!r.stale);
    CHECK_EQ_INT(r.computed, 0);
    /* errors */
    fl_error err = {0};
    CHECK_EQ_INT(fl_backfill(db, "bdd100k", "x", "nope", NULL, &r, &err), FL_EINVAL);
    CHECK_EQ_STR(err.message, "backfill: unknown udf 'nope' (see framelake udf list; plugins are path.so:symbol, workers exec:command)");
    CHECK_EQ_INT(fl_backfill(db, "bdd100k", "has_person", "has_rider", NULL, &r, &err), FL_EINVAL);
    CHECK_EQ_STR(err.message, "backfill: column 'has_person' is computed by udf has_person, not has_rider");
    CHECK_EQ_INT(fl_backfill(db, "bdd100k", "split", "has_rider", NULL, &r, &err), FL_ETYPE);
    fl_db_close(db);
}


/* One value as text: NULL as "null", bools and integers as numbers, strings as is, lists as hex bytes. */
static void format_value(fl_buf *out, const fl_array *a, int64_t i) {
    if (fl_array_is_null(a, i)) fl_buf_printf(out, "null");
    else if (a->type == FL_TYPE_BOOL) fl_buf_printf(out, "%d", fl_array_get_bool(a, i));
    else if (a->type == FL_TYPE_STRING) {
        size_t n;
        const uint8_t *v = fl_array_get_bytes(a, i, &n);
        fl_buf_printf(out, "%.*s", (int)n, (const char *)v);
    } else if (a->type == FL_TYPE_LIST || a->type == FL_TYPE_FIXED_SIZE_LIST) {
        int64_t st, en;
        fl_array_get_list(a, i, &st, &en);
        for (int64_t k = st; k < en; k++) fl_buf_printf(out, "%02x", (unsigned)fl_array_get_uint(&a->children[0], k));
    } else {
        fl_buf_printf(out, "%lld", (long long)fl_array_get_int(a, i));
    }
}

/*
 * "value," (or "id:value," with ids) for every row in scan order: the stored values of `column` (f NULL),
 * or the values expected there, f(row id, width), NULL where null_at(row id) says.
 */
static char *listing(fl_db *db, const char *column, bool ids, int64_t (*f)(uint64_t id, int64_t width), bool (*null_at)(uint64_t id)) {
    fl_table *t;
    CHECK_OK(fl_table_open(db, "bdd100k", NULL, &t, &tl_err));
    const char *cols[] = {f ? "width" : column};
    fl_scan_options so = {.columns = cols, .n_columns = 1, .with_row_ids = true};
    fl_scan *scan;
    CHECK_OK(fl_scan_open(t, &so, &scan, &tl_err));
    fl_buf out;
    fl_buf_init(&out);
    fl_batch *b;
    while (fl_scan_next(scan, &b, &tl_err) == FL_OK && b) {
        for (int64_t i = 0; i < b->num_rows; i++) {
            uint64_t id = b->row_ids[i];
            if (ids) fl_buf_printf(&out, "%llu:", (unsigned long long)id);
            if (!f) format_value(&out, &b->columns[0], i);
            else if (null_at && null_at(id)) fl_buf_printf(&out, "null");
            else fl_buf_printf(&out, "%lld", (long long)f(id, fl_array_get_int(&b->columns[0], i)));
            fl_buf_printf(&out, ",");
        }
        fl_batch_free(b);
    }
    fl_scan_close(scan);
    fl_table_close(t);
    fl_buf_append(&out, "", 1);
    return (char *)out.data;
}

static char *column_text(fl_db *db, const char *name) { return listing(db, name, false, NULL, NULL); }
static char *column_with_ids(fl_db *db, const char *name) { return listing(db, name, true, NULL, NULL); }
static char *expected_by_id(fl_db *db, int64_t (*f)(uint64_t id, int64_t width), bool (*null_at)(uint64_t id)) {
    return listing(db, NULL, true, f, null_at);
}

static int64_t id_times_1000(uint64_t id, int64_t width) { return (void)width, (int64_t)id * 1000; }
static int64_t id_itself(uint64_t id, int64_t width) { return (void)width, (int64_t)id; }
static int64_t width_plus_id(uint64_t id, int64_t width) { return width + (int64_t)id; }
static bool id_3_mod_7(uint64_t id) { return id % 7 == 3; }

static void test_declare(void) {
    fl_db *db = footage("declare", 30, 96, 64);
    const char *keys[] = {"scale"}, *values[] = {"1000"};
    fl_udf_column_options o = {.inputs = "width", .param_keys = keys, .param_values = values, .n_params = 1};
    CHECK_OK(fl_table_add_udf_column(db, "bdd100k", "rid", "t_rowid", &o, &tl_err));
    char buf[200];
    CHECK_EQ_STR(meta(db, "udf.rid.name", buf, sizeof buf), "t_rowid");
    CHECK_EQ_STR(meta(db, "udf.rid.version", buf, sizeof buf), "1");
    CHECK_EQ_STR(meta(db, "udf.rid.inputs", buf, sizeof buf), "width");
    CHECK_EQ_STR(meta(db, "udf.rid.params", buf, sizeof buf), "scale=1000");
    CHECK_EQ_INT(count_where(db, "rid IS NULL"), 30);
    /* the stored definition drives the backfill: the parameter reaches init, row ids reach call */
    fl_backfill_report r;
    CHECK_OK(fl_backfill(db, "bdd100k", "rid", NULL, NULL, &r, &tl_err));
    CHECK_EQ_INT(r.computed, 30);
    CHECK(!r.added && !r.stale);
    char *got = column_with_ids(db, "rid"), *want = expected_by_id(db, id_times_1000, NULL);
    CHECK_EQ_STR(got, want);
    fl_free(got);
    fl_free(want);
    /* mistakes */
    fl_error err = {0};
    CHECK_EQ_INT(fl_table_add_udf_column(db, "bdd100k", "rid", "t_rowid", &o, &err), FL_EEXIST);
    CHECK_EQ_STR(err.message, "table 'bdd100k': column 'rid' already exists");
    o.inputs = "nope";
    CHECK_EQ_INT(fl_table_add_udf_column(db, "bdd100k", "r2", "t_rowid", &o, &err), FL_EINVAL);
    CHECK_EQ_STR(err.message, "udf t_rowid needs column 'nope', which the table lacks");
    o.inputs = "split";
    CHECK_EQ_INT(fl_table_add_udf_column(db, "bdd100k", "r2", "t_rowid", &o, &err), FL_ETYPE);
    CHECK_EQ_STR(err.message, "udf t_rowid input 1 ('w') must be int32; column 'split' is string");
    o.inputs = "width, height";
    CHECK_EQ_INT(fl_table_add_udf_column(db, "bdd100k", "r2", "t_rowid", &o, &err), FL_EINVAL);
    CHECK_EQ_STR(err.message, "udf t_rowid takes 1 input (w int32), not 2");
    o.inputs = "height";
    o.type = "float32";
    CHECK_EQ_INT(fl_table_add_udf_column(db, "bdd100k", "r2", "t_rowid", &o, &err), FL_ETYPE);
    CHECK_EQ_STR(err.message, "udf t_rowid returns int64, not float32");
    const char *bad_keys[] = {"a=b"};
    fl_udf_column_options bad = {.param_keys = bad_keys, .param_values = values, .n_params = 1};
    CHECK_EQ_INT(fl_table_add_udf_column(db, "bdd100k", "r2", "has_person", &bad, &err), FL_EINVAL);
    CHECK_EQ_INT(fl_table_add_udf_column(db, "bdd100k", "r2", "nope", NULL, &err), FL_EINVAL);
    CHECK_EQ_INT(fl_table_add_udf_column(db, "bdd100k", "r2", "has_person", &(fl_udf_column_options){.inputs = "scene"}, &err), FL_ETYPE);
    CHECK_EQ_INT(fl_backfill(db, "bdd100k", "split", NULL, NULL, &r, &err), FL_EINVAL);
    CHECK_EQ_STR(err.message, "backfill: column 'split' is not a UDF column (declare one with framelake add-column --udf)");
    CHECK_EQ_INT(fl_backfill(db, "bdd100k", "r3", NULL, NULL, &r, &err), FL_ENOTFOUND);
    CHECK_EQ_INT(fl_backfill(db, "bdd100k", "rid", NULL, &(fl_backfill_options){.where = "widht > 3"}, &r, &err), FL_EINVAL);
    CHECK(strstr(err.message, "widht") != NULL);
    /* an accepted --type, and nothing half-declared by the failures above */
    o.type = "int64";
    CHECK_OK(fl_table_add_udf_column(db, "bdd100k", "r2", "t_rowid", &o, &tl_err));
    CHECK_EQ_STR(meta(db, "udf.r2.inputs", buf, sizeof buf), "height");
    fl_table *t;
    CHECK_OK(fl_table_open(db, "bdd100k", NULL, &t, &tl_err));
    CHECK_EQ_INT(fl_schema_find(fl_table_schema(t), "r3"), -1);
    fl_table_close(t);
    fl_db_close(db);
}

/* New rows only, even where the UDF gave NULL; --where; stale versions; compaction keeps what is done. */
static void test_incremental(void) {
    fl_db *db = footage("incremental", 200, 96, 64);
    int64_t unlabeled = count_where(db, "coalesce(cardinality(ann_categories), 0) = 0");
    CHECK(unlabeled > 0 && unlabeled < 200);
    CHECK_OK(fl_table_add_udf_column(db, "bdd100k", "ncat", "t_ncat", NULL, &tl_err));
    fl_backfill_options o = {.checkpoint_rows = 8};
    fl_backfill_report r;
    calls = 0;
    CHECK_OK(fl_backfill(db, "bdd100k", "ncat", NULL, &o, &r, &tl_err));
    CHECK_EQ_INT(r.computed, 200);
    CHECK_EQ_INT(calls, 200);
    CHECK_EQ_INT(r.checkpoints, 25);
    CHECK_EQ_INT(count_where(db, "ncat IS NULL"), unlabeled);
    CHECK_EQ_INT(count_where(db, "ncat = cardinality(ann_categories)"), 200 - unlabeled);
    calls = 0;
    CHECK_OK(fl_backfill(db, "bdd100k", "ncat", NULL, &o, &r, &tl_err));
    CHECK_EQ_INT(r.computed, 0);
    CHECK_EQ_INT(r.skipped, 200);
    CHECK_EQ_INT(calls, 0); /* the NULLs the UDF gave are not recomputed */
    append_frames(db, 10);
    calls = 0;
    CHECK_OK(fl_backfill(db, "bdd100k", "ncat", "t_ncat", &o, &r, &tl_err));
    CHECK_EQ_INT(r.computed, 10);
    CHECK_EQ_INT(calls, 10);
    CHECK_EQ_INT(r.checkpoints, 2);
    /* compaction moves rows into new fragments; ids and what is done stay */
    fl_table *t;
    CHECK_OK(fl_table_open(db, "bdd100k", NULL, &t, &tl_err));
    CHECK_OK(fl_table_compact(t, NULL, NULL, &tl_err));
    fl_table_close(t);
    append_frames(db, 5);
    calls = 0;
    CHECK_OK(fl_backfill(db, "bdd100k", "ncat", NULL, &o, &r, &tl_err));
    CHECK_EQ_INT(r.computed, 5);
    CHECK_EQ_INT(calls, 5);
    CHECK_EQ_INT(count_where(db, "ncat = cardinality(ann_categories)"), 215 - count_where(db, "coalesce(cardinality(ann_categories), 0) = 0"));
    /* --where with --overwrite: exactly the rows it selects */
    int64_t train = count_where(db, "split = 'train'");
    CHECK(train > 0 && train < 215);
    o.where = "split = 'train'";
    o.overwrite = true;
    calls = 0;
    CHECK_OK(fl_backfill(db, "bdd100k", "ncat", NULL, &o, &r, &tl_err));
    CHECK_EQ_INT(r.computed, train);
    CHECK_EQ_INT(calls, train);
    CHECK_EQ_INT(r.skipped, 215 - train);
    /* --where without --overwrite on a complete column: nothing */
    o.overwrite = false;
    CHECK_OK(fl_backfill(db, "bdd100k", "ncat", NULL, &o, &r, &tl_err));
    CHECK_EQ_INT(r.computed, 0);
    /* another UDF version computed the column: stale, every row again, then the version is recorded */
    const char *key[] = {"udf.ncat.version"}, *value[] = {"0"};
    CHECK_OK(fl_table_open(db, "bdd100k", NULL, &t, &tl_err));
    CHECK_OK(fl_table_set_metadata(t, key, value, 1, &tl_err));
    fl_table_close(t);
    /* a --where run recomputes its rows but cannot declare the column current */
    o.where = "split = 'train'";
    CHECK_OK(fl_backfill(db, "bdd100k", "ncat", NULL, &o, &r, &tl_err));
    CHECK(r.stale);
    CHECK_EQ_INT(r.computed, train);
    char v0[16];
    CHECK_EQ_STR(meta(db, "udf.ncat.version", v0, sizeof v0), "0");
    o.where = NULL;
    calls = 0;
    CHECK_OK(fl_backfill(db, "bdd100k", "ncat", NULL, &o, &r, &tl_err));
    CHECK(r.stale);
    CHECK_EQ_INT(r.computed, 215);
    CHECK_EQ_INT(calls, 215);
    char buf[64];
    CHECK_EQ_STR(meta(db, "udf.ncat.version", buf, sizeof buf), "1");
    CHECK_OK(fl_backfill(db, "bdd100k", "ncat", NULL, &o, &r, &tl_err));
    CHECK(!r.stale);
    CHECK_EQ_INT(r.computed, 0);
    fl_db_close(db);
}

/* A standing filter: only its rows are ever computed, --all included; new rows outside it stay NULL. */
static void test_standing_where(void) {
    fl_db *db = footage("standing", 120, 96, 64);
    fl_error err = {0};
    CHECK_EQ_INT(fl_table_add_udf_column(db, "bdd100k", "n", "t_ncat", &(fl_udf_column_options){.where = "splt = 'train'"}, &err), FL_EINVAL);
    CHECK_EQ_STR(err.message, "column \"splt\" not found; did you mean \"split\"? (position 1)");
    CHECK_OK(fl_table_add_udf_column(db, "bdd100k", "n", "t_ncat", &(fl_udf_column_options){.where = "split = 'train'"}, &tl_err));
    char buf[64];
    CHECK_EQ_STR(meta(db, "udf.n.where", buf, sizeof buf), "split = 'train'");
    int64_t train = count_where(db, "split = 'train'");
    CHECK(train > 0 && train < 120);
    fl_backfill_report r;
    calls = 0;
    CHECK_OK(fl_backfill_all(db, "bdd100k", NULL, NULL, NULL, &tl_err));
    CHECK_EQ_INT(calls, train);
    CHECK_EQ_INT(count_where(db, "n IS NULL AND split <> 'train'"), 120 - train);
    calls = 0;
    CHECK_OK(fl_backfill(db, "bdd100k", "n", NULL, NULL, &r, &tl_err));
    CHECK_EQ_INT(calls, 0);
    append_frames(db, 40);
    int64_t new_train = count_where(db, "split = 'train'") - train;
    calls = 0;
    CHECK_OK(fl_backfill(db, "bdd100k", "n", NULL, NULL, &r, &tl_err));
    CHECK_EQ_INT(r.computed, new_train);
    CHECK_EQ_INT(calls, new_train);
    /* a run's --where narrows further */
    calls = 0;
    CHECK_OK(fl_backfill(db, "bdd100k", "n", NULL, &(fl_backfill_options){.overwrite = true, .where = "timeofday = 'night'"}, &r, &tl_err));
    CHECK_EQ_INT(r.computed, count_where(db, "split = 'train' AND timeofday = 'night'"));
    fl_db_close(db);
}

/* Two workers give the same column as one; the window is respected whatever the interleaving. */
static void test_parallel(void) {
    fl_db *db = footage("parallel", 120, 160, 96);
    fl_backfill_report r1, r2;
    CHECK_OK(fl_backfill(db, "bdd100k", "h1", "dhash", &(fl_backfill_options){.concurrency = 1}, &r1, &tl_err));
    CHECK_OK(fl_backfill(db, "bdd100k", "h2", "dhash", &(fl_backfill_options){.concurrency = 2, .checkpoint_rows = 16}, &r2, &tl_err));
    CHECK(r1.added && r2.added);
    CHECK_EQ_INT(r1.computed, 120);
    CHECK_EQ_INT(r2.computed, 120);
    CHECK(r2.checkpoints >= 8);
    char *a = column_text(db, "h1"), *b = column_text(db, "h2");
    CHECK_EQ_STR(a, b);
    fl_free(a);
    fl_free(b);
    CHECK_OK(fl_table_add_udf_column(db, "bdd100k", "rid", "t_rowid", &(fl_udf_column_options){.inputs = "width"}, &tl_err));
    CHECK_OK(fl_backfill(db, "bdd100k", "rid", NULL, &(fl_backfill_options){.concurrency = 3, .checkpoint_rows = 10}, &r2, &tl_err));
    a = column_with_ids(db, "rid");
    b = expected_by_id(db, id_itself, NULL);
    CHECK_EQ_STR(a, b);
    fl_free(a);
    fl_free(b);
    fl_db_close(db);
}

static void test_errors(void) {
    fl_db *db = footage("errors", 30, 96, 64);
    CHECK_OK(fl_table_add_udf_column(db, "bdd100k", "pk", "t_picky", NULL, &tl_err));
    fl_error err = {0};
    fl_backfill_report r;
    CHECK_EQ_INT(fl_backfill(db, "bdd100k", "pk", NULL, &(fl_backfill_options){.checkpoint_rows = 100}, &r, &err), FL_EINVAL);
    CHECK_EQ_STR(err.message, "backfill pk: row id 3: udf t_picky: cannot handle this frame");
    CHECK_EQ_INT(r.checkpoints, 0);
    CHECK_EQ_INT(count_where(db, "pk IS NOT NULL"), 0); /* nothing of the failed checkpoint */
    /* with checkpoints of 2 rows, the rows before the failing one are committed */
    CHECK_EQ_INT(fl_backfill(db, "bdd100k", "pk", NULL, &(fl_backfill_options){.checkpoint_rows = 2}, &r, &err), FL_EINVAL);
    CHECK_EQ_INT(r.checkpoints, 1);
    CHECK_EQ_INT(count_where(db, "pk IS NOT NULL"), 2);
    /* on_error_null: the failing rows get NULL and are counted; the rest are computed */
    CHECK_OK(fl_backfill(db, "bdd100k", "pk", NULL, &(fl_backfill_options){.on_error_null = true, .concurrency = 2}, &r, &tl_err));
    CHECK_EQ_INT(r.failed, 4); /* ids 3, 10, 17, 24 */
    CHECK_EQ_INT(r.computed, 28);
    char *a = column_with_ids(db, "pk"), *b = expected_by_id(db, width_plus_id, id_3_mod_7);
    CHECK_EQ_STR(a, b);
    fl_free(a);
    fl_free(b);
    calls = 0;
    CHECK_OK(fl_backfill(db, "bdd100k", "pk", NULL, NULL, &r, &tl_err));
    CHECK_EQ_INT(calls, 0); /* failed rows are done too, until --overwrite */
    fl_db_close(db);
}

static void record_column(void *ctx, const char *column, const fl_backfill_report *r) {
    if (!r) fl_buf_printf(ctx, "%s,", column);
}

static void test_all(void) {
    fl_db *db = footage("all", 20, 96, 64);
    fl_table *t;
    fl_schema *plain;
    CHECK_OK(fl_schema_parse("bits int32, a int32, b int32", &plain, &tl_err));
    CHECK_OK(fl_table_open(db, "bdd100k", NULL, &t, &tl_err));
    CHECK_OK(fl_table_add_columns(t, plain, NULL, &tl_err));
    fl_table_close(t);
    fl_schema_free(plain);
    CHECK_OK(fl_table_add_udf_column(db, "bdd100k", "h", "dhash", NULL, &tl_err));
    CHECK_OK(fl_table_add_udf_column(db, "bdd100k", "ncat", "t_ncat", NULL, &tl_err));
    /* "bits" comes first in the schema but reads "h": --all must compute h before it */
    const char *keys[] = {"udf.bits.name", "udf.bits.version", "udf.bits.inputs"}, *values[] = {"t_popcount", "1", "h"};
    CHECK_OK(fl_table_open(db, "bdd100k", NULL, &t, &tl_err));
    CHECK_OK(fl_table_set_metadata(t, keys, values, 3, &tl_err));
    fl_table_close(t);
    fl_buf order;
    fl_buf_init(&order);
    CHECK_OK(fl_backfill_all(db, "bdd100k", &(fl_backfill_options){.concurrency = 2}, record_column, &order, &tl_err));
    fl_buf_append(&order, "", 1);
    CHECK_EQ_STR((char *)order.data, "h,bits,ncat,");
    fl_buf_free(&order);
    CHECK_EQ_INT(count_where(db, "bits IS NULL OR h IS NULL"), 0);
    CHECK(count_where(db, "bits > 0") > 0);
    /* bits is popcount(h), row by row */
    CHECK_OK(fl_table_open(db, "bdd100k", NULL, &t, &tl_err));
    const char *cols[] = {"h", "bits"};
    fl_batch *batch;
    fl_scan *scan;
    CHECK_OK(fl_scan_open(t, &(fl_scan_options){.columns = cols, .n_columns = 2}, &scan, &tl_err));
    while (fl_scan_next(scan, &batch, &tl_err) == FL_OK && batch) {
        fl_array *o = NULL;
        CHECK_OK(fl_udf_apply(&T_POPCOUNT, NULL, &(fl_batch){.schema = batch->schema, .num_rows = batch->num_rows, .n_columns = 1,
                                                              .columns = batch->columns}, &o, &tl_err));
        for (int64_t i = 0; o && i < batch->num_rows; i++) CHECK_EQ_INT(fl_array_get_int(o, i), fl_array_get_int(&batch->columns[1], i));
        fl_udf_result_free(o);
        fl_batch_free(batch);
    }
    fl_scan_close(scan);
    fl_table_close(t);
    /* a cycle is refused before anything runs */
    const char *ck[] = {"udf.a.name", "udf.a.inputs", "udf.b.name", "udf.b.inputs"}, *cv[] = {"t_popcount", "b", "t_popcount", "a"};
    CHECK_OK(fl_table_open(db, "bdd100k", NULL, &t, &tl_err));
    CHECK_OK(fl_table_set_metadata(t, ck, cv, 4, &tl_err));
    fl_table_close(t);
    fl_error err = {0};
    CHECK_EQ_INT(fl_backfill_all(db, "bdd100k", NULL, NULL, NULL, &err), FL_EINVAL);
    CHECK_EQ_STR(err.message, "backfill: the UDF columns a, b read each other in a cycle");
    fl_db_close(db);
}

static void *append_later(void *db) {
    usleep(20000);
    append_frames(db, 10);
    return NULL;
}

/* Frames appended while a backfill runs survive its commits and stay NULL until the next backfill. */
static void test_append_race(void) {
    fl_db *db = footage("race", 30, 96, 64);
    CHECK_OK(fl_table_add_udf_column(db, "bdd100k", "s", "t_slow", &(fl_udf_column_options){.inputs = "width"}, &tl_err));
    pthread_t th;
    pthread_create(&th, NULL, append_later, db);
    fl_backfill_report r;
    CHECK_OK(fl_backfill(db, "bdd100k", "s", NULL, &(fl_backfill_options){.checkpoint_rows = 5}, &r, &tl_err));
    pthread_join(th, NULL);
    CHECK_EQ_INT(r.computed, 30);
    CHECK_EQ_INT(count_where(db, "s IS NULL"), 10);
    CHECK_EQ_INT(count_where(db, "true"), 40);
    calls = 0;
    CHECK_OK(fl_backfill(db, "bdd100k", "s", NULL, NULL, &r, &tl_err));
    CHECK_EQ_INT(r.computed, 10);
    CHECK_EQ_INT(calls, 10);
    char *a = column_with_ids(db, "s"), *b = expected_by_id(db, id_itself, NULL);
    CHECK_EQ_STR(a, b);
    fl_free(a);
    fl_free(b);
    fl_db_close(db);
}

static void backfill_child(void *ctx) {
    fl_db *db;
    fl_backfill_options o = {.checkpoint_rows = 5, .concurrency = 2};
    if (fl_db_open(ctx, 0, &db, NULL) == FL_OK) fl_backfill(db, "bdd100k", "dhash", "t_dhash", &o, NULL, NULL);
}

static int64_t logged_calls(const char *path) {
    FILE *f = fopen(path, "r");
    int64_t sum = 0;
    long long n;
    while (f && fscanf(f, "%lld", &n) == 1) sum += n;
    if (f) fclose(f);
    return sum;
}

/* kill -9 at random moments of a checkpointed two-worker backfill, then a re-run: the column equals a
 * clean run's, and all runs together called the UDF on at most rows + one checkpoint per kill. */
static void test_backfill_killed(void) {
    const char *base = tl_tmpdir("backfill_kill");
    char clean[600], killed[600], log[600];
    snprintf(clean, sizeof clean, "%s/clean", base);
    snprintf(killed, sizeof killed, "%s/killed", base);
    snprintf(log, sizeof log, "%s/calls.log", base);
    fl_synthetic_options syn = {.n = 80, .width = 160, .height = 96};
    fl_backfill_options o = {.checkpoint_rows = 5, .concurrency = 2};
    fl_db *db;
    struct timespec t0, t1;
    CHECK_OK(fl_db_open(clean, FL_OPEN_CREATE, &db, &tl_err));
    CHECK_OK(fl_ingest_synthetic(db, "bdd100k", &syn, NULL, NULL, &tl_err));
    clock_gettime(CLOCK_MONOTONIC, &t0);
    CHECK_OK(fl_backfill(db, "bdd100k", "dhash", "dhash", &o, NULL, &tl_err));
    clock_gettime(CLOCK_MONOTONIC, &t1);
    char *want = column_text(db, "dhash");
    fl_db_close(db);
    uint64_t span_us = (uint64_t)((t1.tv_sec - t0.tv_sec) * 1000000 + (t1.tv_nsec - t0.tv_nsec) / 1000) + 1000;

    CHECK_OK(fl_db_open(killed, FL_OPEN_CREATE, &db, &tl_err));
    CHECK_OK(fl_ingest_synthetic(db, "bdd100k", &syn, NULL, NULL, &tl_err));
    fl_db_close(db);
    call_log = log;
    int kills = tl_kill_rounds(30, span_us, 99, backfill_child, NULL, killed);
    CHECK_OK(fl_db_open(killed, 0, &db, &tl_err));
    fl_backfill_report r;
    CHECK_OK(fl_backfill(db, "bdd100k", "dhash", "t_dhash", &o, &r, &tl_err));
    call_log = NULL;
    CHECK(r.computed + r.skipped == 80);
    char *got = column_text(db, "dhash");
    CHECK_EQ_STR(got, want);
    int64_t total = logged_calls(log);
    CHECK(total >= 80);
    CHECK(total <= 80 + 5 * (int64_t)kills);
    printf("  %d kills; %lld UDF calls in all for 80 rows (bound %d); the final run computed %lld\n", kills, (long long)total, 80 + 5 * kills,
           (long long)r.computed);
    fl_free(got);
    fl_free(want);
    fl_db_close(db);
}

int main(void) {
    T_DHASH = *fl_udf_find("dhash");
    T_DHASH.name = "t_dhash";
    T_DHASH.call = counted_dhash_call;
    const fl_udf_def *mine[] = {&T_NCAT, &T_ROWID, &T_PICKY, &T_SLOW, &T_POPCOUNT, &T_DHASH};
    for (size_t i = 0; i < sizeof mine / sizeof *mine; i++) CHECK_OK(fl_udf_register(mine[i]));
    CHECK_EQ_INT(fl_udf_register(&T_NCAT), FL_EEXIST);
    RUN(test_backfill);
    RUN(test_declare);
    RUN(test_incremental);
    RUN(test_standing_where);
    RUN(test_parallel);
    RUN(test_errors);
    RUN(test_all);
    RUN(test_append_race);
    RUN(test_backfill_killed);
    return tl_finish("test_backfill");
}
