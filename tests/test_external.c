/*
 * test_external.c — external-process UDFs (src/compute/external.c, docs/UDF_PROTOCOL.md) driven by the
 * Python workers in tests/workers: the handshake, values of every type round-tripping exactly (NULLs,
 * nested lists), parameters, a worker that crashes once (restarted, the batch retried) or always, one
 * that hangs (the timeout kills it) or is killed by a signal, wrong types, wrong lengths and garbage
 * rejected, a worker that refuses to start or exits before the handshake; stderr drained, passed on and
 * quoted in errors; a host running with stdin closed; no zombie processes and no descriptors left behind;
 * and a two-worker backfill through the CLI-facing API with an error on some rows.
 */
#include "testlib.h"

#include "batch/batch.h"
#include "common/common.h"
#include "compute/udf.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define PY "/usr/bin/python3 "
#define ECHO "exec:" PY "tests/workers/echo.py"
#define MIS "exec:" PY "tests/workers/misbehave.py "

static int open_fds(void) {
    DIR *d = opendir("/proc/self/fd");
    int n = 0;
    for (struct dirent *e; d && (e = readdir(d));) n += e->d_name[0] != '.';
    if (d) closedir(d);
    return n;
}

static bool no_children(void) {
    int status;
    pid_t r = waitpid(-1, &status, WNOHANG);
    return r == -1 && errno == ECHILD;
}

/* A batch of one column of `type` from JSON Lines `{"x": ...}` rows, with row ids 0..n-1. */
static fl_batch *rows_of(const char *type, const char *jsonl) {
    char text[200];
    snprintf(text, sizeof text, "x %s", type);
    fl_schema *s;
    CHECK_OK(fl_schema_parse(text, &s, &tl_err));
    fl_batch *b = NULL;
    CHECK_OK(fl_batch_from_jsonl(s, jsonl, strlen(jsonl), "test", &b, &tl_err));
    uint64_t ids[16];
    for (int i = 0; i < 16; i++) ids[i] = (uint64_t)i;
    if (b) CHECK_OK(fl_batch_set_row_ids(b, ids, (size_t)b->num_rows));
    fl_schema_free(s);
    return b;
}

/* Value i of a equals value j of b, recursively (type, nullness, numbers, bytes, children). */
static bool same_value(const fl_array *a, int64_t i, const fl_array *b, int64_t j) {
    if (a->type != b->type) return false;
    bool na = fl_array_is_null(a, i), nb = fl_array_is_null(b, j);
    if (na || nb) return na == nb;
    switch (a->type) {
    case FL_TYPE_BOOL: return fl_array_get_bool(a, i) == fl_array_get_bool(b, j);
    case FL_TYPE_FLOAT32:
    case FL_TYPE_FLOAT64: return fl_array_get_float(a, i) == fl_array_get_float(b, j);
    case FL_TYPE_STRING:
    case FL_TYPE_BINARY: {
        size_t la, lb;
        const uint8_t *pa = fl_array_get_bytes(a, i, &la), *pb = fl_array_get_bytes(b, j, &lb);
        return la == lb && (la == 0 || !memcmp(pa, pb, la));
    }
    case FL_TYPE_LIST:
    case FL_TYPE_FIXED_SIZE_LIST: {
        int64_t sa, ea, sb, eb;
        fl_array_get_list(a, i, &sa, &ea);
        fl_array_get_list(b, j, &sb, &eb);
        if (ea - sa != eb - sb) return false;
        for (int64_t k = 0; k < ea - sa; k++)
            if (!same_value(&a->children[0], sa + k, &b->children[0], sb + k)) return false;
        return true;
    }
    case FL_TYPE_STRUCT:
        for (int32_t c = 0; c < a->n_children; c++)
            if (!same_value(&a->children[c], i, &b->children[c], j)) return false;
        return true;
    case FL_TYPE_UINT8:
    case FL_TYPE_UINT16:
    case FL_TYPE_UINT32:
    case FL_TYPE_UINT64: return fl_array_get_uint(a, i) == fl_array_get_uint(b, j);
    default: return fl_array_get_int(a, i) == fl_array_get_int(b, j);
    }
}

static void roundtrip_type(const char *type, const char *jsonl) {
    char spec[300];
    snprintf(spec, sizeof spec, "exec:ECHO_TYPE='%s' " PY "tests/workers/echo.py", type);
    fl_udf_def *def = NULL;
    CHECK_OK(fl_udf_resolve(spec, NULL, &def, &tl_err));
    if (!def) return;
    CHECK_EQ_STR(def->name, "echo");
    CHECK_EQ_INT(def->version, 2);
    CHECK_EQ_STR(def->output_type, type);
    fl_batch *in = rows_of(type, jsonl);
    void *state = NULL;
    CHECK_OK(def->init(def, NULL, &state, &tl_err));
    fl_array *out = NULL;
    CHECK_OK(fl_udf_apply(def, state, in, &out, &tl_err));
    CHECK(out && out->length == in->num_rows);
    for (int64_t i = 0; out && i < in->num_rows; i++) {
        if (!same_value(&in->columns[0], i, out, i)) {
            printf("  %s: row %lld differs\n", type, (long long)i);
            CHECK(false);
        }
    }
    fl_udf_result_free(out);
    def->fini(state);
    fl_batch_free(in);
    fl_udf_release(def);
}

static void test_types(void) {
    int fds = open_fds();
    roundtrip_type("int64", "{\"x\": 1}\n{\"x\": null}\n{\"x\": -9007199254740993}\n");
    roundtrip_type("int8", "{\"x\": -128}\n{\"x\": 127}\n{\"x\": null}\n");
    roundtrip_type("uint32", "{\"x\": 4294967295}\n{\"x\": 0}\n");
    roundtrip_type("float32", "{\"x\": 1.5}\n{\"x\": null}\n{\"x\": -0.25}\n");
    roundtrip_type("float64", "{\"x\": 3.141592653589793}\n");
    roundtrip_type("bool", "{\"x\": true}\n{\"x\": false}\n{\"x\": null}\n{\"x\": true}\n");
    roundtrip_type("string", "{\"x\": \"night rainy scene\"}\n{\"x\": \"\"}\n{\"x\": null}\n{\"x\": \"caf\\u00e9\"}\n");
    roundtrip_type("timestamp", "{\"x\": 1700000000000}\n{\"x\": null}\n");
    roundtrip_type("list<string>", "{\"x\": [\"car\", \"rider\"]}\n{\"x\": []}\n{\"x\": null}\n{\"x\": [\"a\", null]}\n");
    roundtrip_type("list<list<float32>>", "{\"x\": [[1, 2, 3, 4], [5.5]]}\n{\"x\": null}\n{\"x\": [[]]}\n");
    roundtrip_type("fixed_size_list<uint8, 8>", "{\"x\": [1, 2, 3, 4, 5, 6, 7, 255]}\n{\"x\": null}\n");
    roundtrip_type("struct<a: int32, b: string>", "{\"x\": {\"a\": 1, \"b\": \"z\"}}\n{\"x\": null}\n");
    CHECK_EQ_INT(open_fds(), fds);
    CHECK(no_children());
}

/* Resolves spec, runs one batch of `rows` int64 rows (x = 10 * i) through init/apply/fini. */
static int call_spec(const char *spec, int timeout_ms, int rows, fl_error *err, fl_array **values) {
    fl_udf_context ctx = {.timeout_ms = timeout_ms};
    fl_udf_def *def = NULL;
    int rc = fl_udf_resolve(spec, &ctx, &def, err);
    if (rc != FL_OK) return rc;
    fl_buf rowsj;
    fl_buf_init(&rowsj);
    for (int i = 0; i < rows; i++) fl_buf_printf(&rowsj, "{\"x\": %d}\n", i * 10);
    fl_buf_append(&rowsj, "", 1);
    fl_batch *in = rows_of("int64", (char *)rowsj.data);
    void *state = NULL;
    rc = def->init(def, &ctx, &state, err);
    fl_array *out = NULL;
    if (rc == FL_OK) {
        rc = fl_udf_apply(def, state, in, &out, err);
        def->fini(state);
    }
    if (values) *values = out;
    else fl_udf_result_free(out);
    fl_batch_free(in);
    fl_buf_free(&rowsj);
    fl_udf_release(def);
    return rc;
}

static int call_misbehaving(const char *mode, int timeout_ms, int rows, fl_error *err, fl_array **values) {
    char spec[600];
    snprintf(spec, sizeof spec, MIS "%s", mode);
    return call_spec(spec, timeout_ms, rows, err, values);
}

static void test_failures(void) {
    int fds = open_fds();
    fl_error err = {0};
    /* crashes once on the batch with row id 5: restarted, retried, right values */
    char marker[600], mode[700];
    snprintf(marker, sizeof marker, "%s/crashed", tl_tmpdir("external"));
    snprintf(mode, sizeof mode, "crash_once %s", marker);
    fl_array *out = NULL;
    CHECK_OK(call_misbehaving(mode, 0, 8, &tl_err, &out));
    CHECK(access(marker, F_OK) == 0);
    for (int i = 0; out && i < 8; i++) CHECK_EQ_INT(fl_array_get_int(out, i), i * 10 + 1);
    fl_udf_result_free(out);
    /* crashes every time: the retry fails too */
    CHECK_EQ_INT(call_misbehaving("crash", 0, 3, &err, NULL), FL_EIO);
    CHECK_EQ_STR(err.message,
                 "udf misbehave: worker exec:/usr/bin/python3 tests/workers/misbehave.py crash closed its pipe (it exited with status 3); its stderr "
                 "ends: MemoryError: cannot allocate the tensor; failed again after a restart");
    CHECK_EQ_INT(call_misbehaving("oom_killed", 0, 3, &err, NULL), FL_EIO);
    CHECK_EQ_STR(err.message,
                 "udf misbehave: worker exec:/usr/bin/python3 tests/workers/misbehave.py oom_killed closed its pipe (it exited with status 137); its "
                 "stderr ends: Killed; failed again after a restart");
    /* the same without the shell in between (it reported the signal above) */
    CHECK_EQ_INT(call_spec("exec:exec " PY "tests/workers/misbehave.py oom_killed", 0, 3, &err, NULL), FL_EIO);
    CHECK_EQ_STR(err.message,
                 "udf misbehave: worker exec:exec /usr/bin/python3 tests/workers/misbehave.py oom_killed closed its pipe (it was killed by signal 9); "
                 "failed again after a restart");
    /* hangs: killed at the timeout, restarted, hangs again */
    CHECK_EQ_INT(call_misbehaving("hang", 300, 3, &err, NULL), FL_EIO);
    CHECK_EQ_STR(err.message,
                 "udf misbehave: worker exec:/usr/bin/python3 tests/workers/misbehave.py hang did not answer within 300 ms (killed); failed again "
                 "after a restart");
    /* the timeout of the context a state starts with, when resolving had none */
    fl_udf_def *hang = NULL;
    CHECK_OK(fl_udf_resolve(MIS "hang", NULL, &hang, &tl_err));
    fl_batch *three = rows_of("int64", "{\"x\": 1}\n{\"x\": 2}\n{\"x\": 3}\n");
    void *state = NULL;
    fl_array *none = NULL;
    if (hang) CHECK_OK(hang->init(hang, &(fl_udf_context){.timeout_ms = 250}, &state, &tl_err));
    if (state) {
        CHECK_EQ_INT(fl_udf_apply(hang, state, three, &none, &err), FL_EIO);
        CHECK_EQ_STR(err.message, "udf misbehave: worker exec:/usr/bin/python3 tests/workers/misbehave.py hang did not answer within 250 ms (killed); "
                                  "failed again after a restart");
        hang->fini(state);
    }
    fl_udf_result_free(none);
    fl_batch_free(three);
    fl_udf_release(hang);
    CHECK_EQ_INT(call_misbehaving("wrong_type", 0, 3, &err, NULL), FL_ETYPE);
    CHECK_EQ_STR(err.message,
                 "udf misbehave: worker exec:/usr/bin/python3 tests/workers/misbehave.py wrong_type: the result is not a int64 column: a column of "
                 "another type than declared");
    CHECK_EQ_INT(call_misbehaving("wrong_length", 0, 3, &err, NULL), FL_ETYPE);
    CHECK_EQ_STR(err.message, "udf misbehave: worker exec:/usr/bin/python3 tests/workers/misbehave.py wrong_length returned 2 values for 3 rows");
    CHECK(call_misbehaving("garbage", 0, 3, &err, NULL) != FL_OK);
    CHECK(strstr(err.message, "the result is not a int64 column") != NULL);
    CHECK_EQ_INT(call_misbehaving("fail_row", 0, 3, &err, NULL), FL_EINVAL);
    CHECK_EQ_STR(err.message, "udf misbehave: row 0: row id 0 is a multiple of 4");
    CHECK_EQ_INT(call_misbehaving("refuse", 0, 3, &err, NULL), FL_EINVAL);
    CHECK_EQ_STR(err.message,
                 "udf exec:/usr/bin/python3 tests/workers/misbehave.py refuse: the worker refused to start: RuntimeError: the model file is missing");
    CHECK_EQ_INT(call_misbehaving("silent", 0, 3, &err, NULL), FL_EIO);
    CHECK_EQ_STR(err.message,
                 "udf exec:/usr/bin/python3 tests/workers/misbehave.py silent: the worker closed its pipe during the handshake (it exited with status 0)");
    fl_udf_def *def = NULL;
    CHECK_EQ_INT(fl_udf_resolve("exec:/nonexistent/worker", NULL, &def, &err), FL_EIO);
    CHECK_EQ_STR(err.message, "udf exec:/nonexistent/worker: the worker closed its pipe during the handshake (it exited with status 127); its "
                              "stderr ends: sh: 1: /nonexistent/worker: not found");
    CHECK_EQ_INT(open_fds(), fds);
    CHECK(no_children());
}

/* Runs f with our stderr (fd 2) going to `path`; returns the number of bytes written there. */
static long with_stderr_to(const char *path, void (*f)(void)) {
    fflush(stderr);
    int saved = dup(2), fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    CHECK(saved >= 0 && fd >= 0);
    dup2(fd, 2);
    close(fd);
    f();
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    struct stat st;
    return stat(path, &st) == 0 ? (long)st.st_size : -1;
}

static void chatty_calls(void) {
    fl_array *out = NULL;
    fl_error err = {0};
    CHECK_OK(call_misbehaving("chatty", 5000, 4, &err, &out));
    for (int i = 0; out && i < 4; i++) CHECK_EQ_INT(fl_array_get_int(out, i), i * 10 + 1);
    fl_udf_result_free(out);
}

static void crash_calls(void) {
    fl_error err = {0};
    CHECK_EQ_INT(call_misbehaving("crash", 0, 2, &err, NULL), FL_EIO);
}

/* A worker's stderr: drained while the host waits (300 kB per batch would fill a pipe and hang a worker
 * nobody reads), forwarded byte for byte to ours, its last line quoted in errors; and a host running with
 * stdin closed (a daemon) still gives its workers the right descriptors. */
static void test_stderr(void) {
    int fds = open_fds();
    char path[600];
    snprintf(path, sizeof path, "%s/stderr", tl_tmpdir("external_stderr"));
    CHECK_EQ_INT(with_stderr_to(path, chatty_calls), 300000);
    FILE *f = fopen(path, "rb");
    char last[64] = "";
    if (f) {
        fseek(f, -(long)strlen("chatty: batch of 4 rows\n"), SEEK_END);
        if (!fgets(last, sizeof last, f)) last[0] = '\0';
        fclose(f);
    }
    CHECK_EQ_STR(last, "chatty: batch of 4 rows\n");
    /* two attempts, each one traceback forwarded */
    CHECK_EQ_INT(with_stderr_to(path, crash_calls), 2 * (long)strlen("Traceback (most recent call last):\nMemoryError: cannot allocate the tensor\n"));
    /* stdin closed: the worker's stdin pipe gets descriptor 0 in the host */
    int saved = dup(0);
    close(0);
    roundtrip_type("int32", "{\"x\": 7}\n{\"x\": null}\n");
    dup2(saved, 0);
    close(saved);
    CHECK_EQ_INT(open_fds(), fds);
    CHECK(no_children());
}

/* Declared, backfilled by three worker processes, parameters in every one; errors on some rows. */
static void test_backfill(void) {
    int fds = open_fds();
    fl_db *db;
    CHECK_OK(fl_db_open(tl_tmpdir("external_backfill"), FL_OPEN_CREATE, &db, &tl_err));
    fl_synthetic_options syn = {.n = 30, .width = 96, .height = 64};
    CHECK_OK(fl_ingest_synthetic(db, "bdd100k", &syn, NULL, NULL, &tl_err));
    const char *keys[] = {"scale"}, *values[] = {"3"};
    fl_udf_column_options o = {.inputs = "timestamp", .param_keys = keys, .param_values = values, .n_params = 1};
    CHECK_OK(fl_table_add_udf_column(db, "bdd100k", "ts3", ECHO, &o, &tl_err));
    fl_backfill_report r;
    CHECK_OK(fl_backfill(db, "bdd100k", "ts3", NULL, &(fl_backfill_options){.concurrency = 3, .checkpoint_rows = 6}, &r, &tl_err));
    CHECK_EQ_INT(r.computed, 30);
    fl_table *t;
    int64_t n = 0;
    CHECK_OK(fl_table_open(db, "bdd100k", NULL, &t, &tl_err));
    CHECK_OK(fl_table_count_where(t, "ts3 = 3 * timestamp AND timestamp > 0", &n, &tl_err));
    fl_table_close(t);
    CHECK_EQ_INT(n, 30);
    /* a worker failing some rows: --on-error null stores NULL for exactly those */
    CHECK_OK(fl_table_add_udf_column(db, "bdd100k", "w1", MIS "fail_row", &(fl_udf_column_options){.inputs = "timestamp"}, &tl_err));
    fl_error err = {0};
    CHECK_EQ_INT(fl_backfill(db, "bdd100k", "w1", NULL, NULL, &r, &err), FL_EINVAL);
    CHECK_EQ_STR(err.message, "backfill w1: row id 0: udf misbehave: row id 0 is a multiple of 4");
    CHECK_OK(fl_backfill(db, "bdd100k", "w1", NULL, &(fl_backfill_options){.on_error_null = true, .concurrency = 2}, &r, &tl_err));
    CHECK_EQ_INT(r.failed, 8); /* ids 0, 4, ..., 28 */
    CHECK_EQ_INT(r.computed, 30);
    fl_db_close(db);
    CHECK_EQ_INT(open_fds(), fds);
    CHECK(no_children());
}

int main(void) {
    if (access("/usr/bin/python3", X_OK) != 0) {
        printf("test_external: /usr/bin/python3 is missing\n");
        return 1;
    }
    RUN(test_types);
    RUN(test_failures);
    RUN(test_stderr);
    RUN(test_backfill);
    return tl_finish("test_external");
}
