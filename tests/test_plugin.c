/*
 * test_plugin.c — C plugin UDFs (include/framelake_udf.h): the example plugin's exact values against a
 * reference computed here, its parameter, two states on two threads, a backfill through it end to end,
 * plugins that break the rules one way each (tests/plugins/bad_plugins.c) giving exact errors, and
 * plugins that exercise the host table, parameters, the error buffer and unloading
 * (tests/plugins/host_plugins.c).
 */
#include "testlib.h"

#include "batch/batch.h"
#include "common/common.h"
#include "compute/udf.h"
#include "framelake_udf.h"

#include <dlfcn.h>
#include <pthread.h>
#include <turbojpeg.h>

#ifndef FL_BUILD_DIR
#define FL_BUILD_DIR "build"
#endif
#define EXAMPLE FL_BUILD_DIR "/plugins/saturation.so:fl_saturation"
#define BAD FL_BUILD_DIR "/tests/plugins/bad_plugins.so"
#define HOSTP FL_BUILD_DIR "/tests/plugins/host_plugins.so"

/* The reference: decode at the smallest DCT scale leaving >= 64 pixels on the short side, then the mean
 * of (max - min) / max over pixels with max >= min_value. */
static double reference_saturation(const uint8_t *jpeg, size_t size, int min_value) {
    tjhandle tj = tjInitDecompress();
    int w, h, ss, cs;
    CHECK(tjDecompressHeader3(tj, jpeg, (unsigned long)size, &w, &h, &ss, &cs) == 0);
    int n;
    tjscalingfactor *f = tjGetScalingFactors(&n);
    int sw = w, sh = h;
    for (int i = 0; i < n; i++) {
        int cw = TJSCALED(w, f[i]), ch = TJSCALED(h, f[i]);
        if ((cw < ch ? cw : ch) >= 64 && cw * ch < sw * sh) sw = cw, sh = ch;
    }
    uint8_t *rgb = malloc((size_t)sw * sh * 3);
    CHECK(tjDecompress2(tj, jpeg, (unsigned long)size, rgb, sw, 0, sh, TJPF_RGB, 0) == 0);
    double sum = 0;
    long counted = 0;
    for (int p = 0; p < sw * sh; p++) {
        int r = rgb[3 * p], g = rgb[3 * p + 1], b = rgb[3 * p + 2];
        int mx = r > g ? (r > b ? r : b) : (g > b ? g : b), mn = r < g ? (r < b ? r : b) : (g < b ? g : b);
        if (mx < min_value || mx == 0) continue;
        sum += (double)(mx - mn) / mx;
        counted++;
    }
    free(rgb);
    tjDestroy(tj);
    return counted ? sum / counted : 0.0;
}

static fl_batch *image_batch(const tl_blob *images, int n) {
    fl_schema *s;
    CHECK_OK(fl_schema_parse("image_bytes binary", &s, &tl_err));
    fl_batch *b = fl_batch_new(s);
    for (int i = 0; i < n; i++) {
        if (images[i].data) CHECK_OK(fl_array_append_bytes(&b->columns[0], images[i].data, images[i].size));
        else CHECK_OK(fl_array_append_null(&b->columns[0]));
    }
    CHECK_OK(fl_batch_finish(b, &tl_err));
    uint64_t ids[8] = {0, 1, 2, 3, 4, 5, 6, 7};
    CHECK_OK(fl_batch_set_row_ids(b, ids, (size_t)n));
    fl_schema_free(s);
    return b;
}

static void test_example_values(void) {
    fl_udf_def *def;
    CHECK_OK(fl_udf_resolve(EXAMPLE, NULL, &def, &tl_err));
    CHECK_EQ_STR(def->name, "saturation");
    CHECK_EQ_STR(def->output_type, "float32");
    CHECK_EQ_STR(def->inputs, "image_bytes binary");
    CHECK_EQ_INT(def->version, 1);
    tl_blob images[4] = {tl_jpeg(320, 180, false, TJSAMP_420, 0), tl_jpeg(1280, 720, false, TJSAMP_444, 0), {0}, tl_jpeg(200, 100, true, 0, 0)};
    fl_batch *in = image_batch(images, 4);
    for (int min_value = 16; min_value <= 200; min_value += 184) {
        char v[16];
        snprintf(v, sizeof v, "%d", min_value);
        const char *keys[] = {"min_value"}, *values[] = {v};
        fl_udf_context ctx = {.param_keys = keys, .param_values = values, .n_params = 1};
        void *state = NULL;
        CHECK_OK(def->init(def, &ctx, &state, &tl_err));
        fl_array *out = NULL;
        CHECK_OK(fl_udf_apply(def, state, in, &out, &tl_err));
        CHECK_EQ_INT(out->length, 4);
        for (int i = 0; i < 4; i++) {
            if (!images[i].data) {
                CHECK(fl_array_is_null(out, i));
                continue;
            }
            float want = (float)reference_saturation(images[i].data, images[i].size, min_value);
            CHECK(fl_array_get_float(out, i) == want);
        }
        CHECK(fl_array_get_float(out, 0) > 0.05);        /* colourful test pattern */
        CHECK(fl_array_get_float(out, 3) == 0.0f);       /* a gray JPEG has no saturation */
        fl_udf_result_free(out);
        def->fini(state);
    }
    /* a bad parameter fails init with the plugin's message; bytes that are not a JPEG fail the row */
    const char *keys[] = {"min_value"}, *values[] = {"bright"};
    fl_udf_context ctx = {.param_keys = keys, .param_values = values, .n_params = 1};
    void *state = NULL;
    fl_error err = {0};
    CHECK_EQ_INT(def->init(def, &ctx, &state, &err), FL_EINVAL);
    CHECK_EQ_STR(err.message, "udf saturation: init failed: min_value must be an integer 0..255, not 'bright'");
    CHECK_OK(def->init(def, NULL, &state, &tl_err));
    tl_blob junk = {(uint8_t *)fl_strdup("not a jpeg"), 10};
    fl_batch *bad = image_batch(&junk, 1);
    fl_array *out = NULL;
    CHECK_EQ_INT(fl_udf_apply(def, state, bad, &out, &err), FL_EINVAL);
    CHECK(strncmp(err.message, "udf saturation: cannot read the JPEG header", 43) == 0);
    def->fini(state);
    fl_batch_free(bad);
    fl_free(junk.data);
    fl_batch_free(in);
    for (int i = 0; i < 4; i++) free(images[i].data);
    fl_udf_release(def);
}

typedef struct thread_job {
    fl_udf_def *def;
    fl_batch *in;
    float values[2];
} thread_job;

static void *run_twice(void *arg) {
    thread_job *j = arg;
    void *state = NULL;
    if (j->def->init(j->def, NULL, &state, NULL) != FL_OK) return NULL;
    for (int round = 0; round < 20; round++) {
        fl_array *out = NULL;
        if (fl_udf_apply(j->def, state, j->in, &out, NULL) == FL_OK) {
            j->values[0] = (float)fl_array_get_float(out, 0);
            j->values[1] = (float)fl_array_get_float(out, 1);
        }
        fl_udf_result_free(out);
    }
    j->def->fini(state);
    return NULL;
}

/* Two states on two threads at once give the same values as one. */
static void test_threads(void) {
    fl_udf_def *def;
    CHECK_OK(fl_udf_resolve(EXAMPLE, NULL, &def, &tl_err));
    tl_blob images[2] = {tl_jpeg(640, 360, false, TJSAMP_420, 0), tl_jpeg(256, 256, false, TJSAMP_422, 0)};
    fl_batch *in = image_batch(images, 2);
    thread_job jobs[2] = {{.def = def, .in = in}, {.def = def, .in = in}};
    pthread_t th[2];
    for (int i = 0; i < 2; i++) pthread_create(&th[i], NULL, run_twice, &jobs[i]);
    for (int i = 0; i < 2; i++) pthread_join(th[i], NULL);
    for (int k = 0; k < 2; k++) {
        float want = (float)reference_saturation(images[k].data, images[k].size, 16);
        CHECK(jobs[0].values[k] == want && jobs[1].values[k] == want);
    }
    fl_batch_free(in);
    for (int i = 0; i < 2; i++) free(images[i].data);
    fl_udf_release(def);
}

/* add-column --udf with the plugin, a two-worker backfill: every row equals the reference. */
static void test_backfill_through_plugin(void) {
    fl_db *db;
    CHECK_OK(fl_db_open(tl_tmpdir("plugin"), FL_OPEN_CREATE, &db, &tl_err));
    fl_synthetic_options syn = {.n = 40, .width = 320, .height = 180};
    CHECK_OK(fl_ingest_synthetic(db, "bdd100k", &syn, NULL, NULL, &tl_err));
    const char *keys[] = {"min_value"}, *values[] = {"40"};
    fl_udf_column_options o = {.param_keys = keys, .param_values = values, .n_params = 1};
    CHECK_OK(fl_table_add_udf_column(db, "bdd100k", "sat", EXAMPLE, &o, &tl_err));
    fl_backfill_report r;
    CHECK_OK(fl_backfill(db, "bdd100k", "sat", NULL, &(fl_backfill_options){.concurrency = 2, .checkpoint_rows = 8}, &r, &tl_err));
    CHECK_EQ_INT(r.computed, 40);
    fl_table *t;
    CHECK_OK(fl_table_open(db, "bdd100k", NULL, &t, &tl_err));
    /* the stored spec names the plugin by an absolute path */
    const char *spec = fl_schema_get_metadata(fl_table_schema(t), "udf.sat.name");
    CHECK(spec && spec[0] == '/' && strstr(spec, "/plugins/saturation.so:fl_saturation"));
    const char *cols[] = {"image_bytes", "sat"};
    fl_scan *scan;
    fl_batch *b;
    int checked = 0;
    CHECK_OK(fl_scan_open(t, &(fl_scan_options){.columns = cols, .n_columns = 2}, &scan, &tl_err));
    while (fl_scan_next(scan, &b, &tl_err) == FL_OK && b) {
        for (int64_t i = 0; i < b->num_rows; i++) {
            size_t n;
            const uint8_t *jpeg = fl_array_get_bytes(&b->columns[0], i, &n);
            CHECK(fl_array_get_float(&b->columns[1], i) == (float)reference_saturation(jpeg, n, 40));
            checked++;
        }
        fl_batch_free(b);
    }
    CHECK_EQ_INT(checked, 40);
    fl_scan_close(scan);
    fl_table_close(t);
    fl_db_close(db);
}

/* Resolving BAD:symbol fails with `code` and exactly "udf BAD:symbol: " + message. */
static void expect_resolve_error(const char *symbol, int code, const char *message) {
    char spec[256], want[FL_ERROR_MESSAGE_SIZE];
    snprintf(spec, sizeof spec, "%s:%s", BAD, symbol);
    snprintf(want, sizeof want, "udf %s: %s", spec, message);
    fl_udf_def *def = NULL;
    fl_error err = {0};
    CHECK_EQ_INT(fl_udf_resolve(spec, NULL, &def, &err), code);
    CHECK(def == NULL);
    CHECK_EQ_STR(err.message, want);
}

/* Runs a bad plugin's call on a two-row batch through fl_udf_apply; returns its error. */
static int apply_bad(const char *symbol, fl_error *err) {
    char spec[512];
    snprintf(spec, sizeof spec, "%s:%s", BAD, symbol);
    fl_udf_def *def = NULL;
    CHECK_OK(fl_udf_resolve(spec, NULL, &def, &tl_err));
    if (!def) return FL_OK;
    fl_schema *s;
    CHECK_OK(fl_schema_parse("x int32", &s, &tl_err));
    fl_batch *in = fl_batch_new(s);
    CHECK_OK(fl_array_append_int(&in->columns[0], 5));
    CHECK_OK(fl_array_append_int(&in->columns[0], 6));
    CHECK_OK(fl_batch_finish(in, &tl_err));
    void *state = NULL;
    int rc = def->init(def, NULL, &state, err);
    fl_array *out = NULL;
    if (rc == FL_OK) {
        rc = fl_udf_apply(def, state, in, &out, err);
        def->fini(state);
    }
    fl_udf_result_free(out);
    fl_batch_free(in);
    fl_schema_free(s);
    fl_udf_release(def);
    return rc;
}

static void test_bad_plugins(void) {
    expect_resolve_error("bad_abi", FL_EUNSUPPORTED, "plugin ABI version 7, this framelake speaks 1");
    char want[FL_ERROR_MESSAGE_SIZE];
    snprintf(want, sizeof want, "descriptor of 16 bytes, smaller than the %zu of ABI 1", sizeof(fl_udf_plugin));
    expect_resolve_error("bad_size", FL_EINVAL, want);
    expect_resolve_error("bad_type", FL_EINVAL, "output type 'floaty' does not parse: schema: unknown type 'floaty' at position 3");
    expect_resolve_error("bad_inputs", FL_EINVAL, "inputs 'x inty' do not parse: schema: unknown type 'inty' at position 3");
    expect_resolve_error("no_call", FL_EINVAL, "the descriptor lacks a name, inputs, output_type or call");
    /* missing symbols and files: dlerror's text (glibc's wording) */
    expect_resolve_error("missing_symbol", FL_ENOTFOUND, "no such symbol in the plugin: " BAD ": undefined symbol: missing_symbol");
    fl_udf_def *def = NULL;
    fl_error err = {0};
    CHECK_EQ_INT(fl_udf_resolve(FL_BUILD_DIR "/tests/plugins/absent.so:x", NULL, &def, &err), FL_ENOTFOUND);
    CHECK_EQ_STR(err.message, "udf " FL_BUILD_DIR "/tests/plugins/absent.so:x: cannot load the plugin: " FL_BUILD_DIR
                              "/tests/plugins/absent.so: cannot open shared object file: No such file or directory");
    CHECK_EQ_INT(fl_udf_resolve("tests/plugins/bad_plugins.c:echo", NULL, &def, &err), FL_ENOTFOUND);
    CHECK_EQ_STR(err.message, "udf tests/plugins/bad_plugins.c:echo: cannot load the plugin: tests/plugins/bad_plugins.c: invalid ELF header");
    CHECK(def == NULL);
    CHECK_EQ_INT(apply_bad("short_result", &err), FL_ETYPE);
    CHECK_EQ_STR(err.message, "udf short_result: returned 1 values for 2 rows");
    CHECK_EQ_INT(apply_bad("wrong_result", &err), FL_EINVAL);
    CHECK_EQ_STR(err.message, "udf wrong_result: failed (no message)");
    CHECK_EQ_INT(apply_bad("refusing", &err), FL_EINVAL);
    CHECK_EQ_STR(err.message, "udf refusing: no good: this plugin refuses every batch");
    CHECK_EQ_INT(apply_bad("init_fails", &err), FL_EINVAL);
    CHECK_EQ_STR(err.message, "udf init_fails: init failed: the model file is missing");
    CHECK_OK(apply_bad("echo", &err));
}

/* Parameters stored with the column reach the plugin's init in every worker. */
static void test_params(void) {
    fl_db *db;
    CHECK_OK(fl_db_open(tl_tmpdir("plugin_params"), FL_OPEN_CREATE, &db, &tl_err));
    fl_synthetic_options syn = {.n = 12, .width = 96, .height = 64};
    CHECK_OK(fl_ingest_synthetic(db, "bdd100k", &syn, NULL, NULL, &tl_err));
    const char *keys[] = {"add"}, *values[] = {"1000"};
    fl_udf_column_options o = {.inputs = "width", .param_keys = keys, .param_values = values, .n_params = 1};
    CHECK_OK(fl_table_add_udf_column(db, "bdd100k", "w1000", BAD ":echo", &o, &tl_err));
    CHECK_OK(fl_backfill(db, "bdd100k", "w1000", NULL, &(fl_backfill_options){.concurrency = 3, .checkpoint_rows = 4}, NULL, &tl_err));
    fl_table *t;
    int64_t n = 0;
    CHECK_OK(fl_table_open(db, "bdd100k", NULL, &t, &tl_err));
    CHECK_OK(fl_table_count_where(t, "w1000 = width + 1000", &n, &tl_err));
    CHECK_EQ_INT(n, 12);
    fl_table_close(t);
    /* a plugin whose call fails: the backfill stops with the row id and commits nothing */
    fl_error err = {0};
    CHECK_OK(fl_table_add_udf_column(db, "bdd100k", "nope", BAD ":refusing", &(fl_udf_column_options){.inputs = "width"}, &tl_err));
    CHECK_EQ_INT(fl_backfill(db, "bdd100k", "nope", NULL, NULL, NULL, &err), FL_EINVAL);
    CHECK_EQ_STR(err.message, "backfill nope: row id 0: udf refusing: no good: this plugin refuses every batch");
    fl_db_close(db);
}

/* Resolves HOSTP:symbol, runs init (with ctx) and one call on `in`; the result in *out (or the error). */
static int run_host_plugin(const char *symbol, const fl_udf_context *ctx, const fl_batch *in, fl_array **out, fl_error *err) {
    char spec[512];
    snprintf(spec, sizeof spec, "%s:%s", HOSTP, symbol);
    fl_udf_def *def = NULL;
    *out = NULL;
    CHECK_OK(fl_udf_resolve(spec, ctx, &def, &tl_err));
    if (!def) return FL_EINVAL;
    void *state = NULL;
    int rc = def->init(def, ctx, &state, err);
    if (rc == FL_OK) {
        rc = fl_udf_apply(def, state, in, out, err);
        def->fini(state);
    }
    fl_udf_release(def);
    return rc;
}

static fl_batch *int_batch(int n) {
    fl_schema *s;
    CHECK_OK(fl_schema_parse("x int32", &s, &tl_err));
    fl_batch *b = fl_batch_new(s);
    for (int i = 0; i < n; i++) CHECK_OK(fl_array_append_int(&b->columns[0], i));
    CHECK_OK(fl_batch_finish(b, &tl_err));
    fl_schema_free(s);
    return b;
}

/* Every host function, on a list in / list out and a three-input struct out plugin. */
static void test_host_functions(void) {
    fl_schema *s;
    CHECK_OK(fl_schema_parse("tags list<string>", &s, &tl_err));
    fl_batch *in = fl_batch_new(s);
    fl_array *tags = &in->columns[0];
    CHECK_OK(fl_array_append_bytes(&tags->children[0], "ab", 2)); /* ["ab", "", NULL, "xyz"] */
    CHECK_OK(fl_array_append_bytes(&tags->children[0], "", 0));
    CHECK_OK(fl_array_append_null(&tags->children[0]));
    CHECK_OK(fl_array_append_bytes(&tags->children[0], "xyz", 3));
    CHECK_OK(fl_array_end_list(tags));
    CHECK_OK(fl_array_append_null(tags));                          /* NULL */
    CHECK_OK(fl_array_end_list(tags));                             /* [] */
    CHECK_OK(fl_batch_finish(in, &tl_err));
    fl_schema_free(s);
    fl_array *out;
    CHECK_OK(run_host_plugin("lengths", NULL, in, &out, &tl_err));
    CHECK_EQ_INT(out->length, 3);
    int64_t start, end;
    fl_array_get_list(out, 0, &start, &end);
    CHECK_EQ_INT(end - start, 4);
    CHECK_EQ_INT(fl_array_get_int(&out->children[0], start), 2);
    CHECK_EQ_INT(fl_array_get_int(&out->children[0], start + 1), 0);
    CHECK(fl_array_is_null(&out->children[0], start + 2));
    CHECK_EQ_INT(fl_array_get_int(&out->children[0], start + 3), 3);
    CHECK(fl_array_is_null(out, 1));
    CHECK(!fl_array_is_null(out, 2));
    fl_array_get_list(out, 2, &start, &end);
    CHECK_EQ_INT(end - start, 0);
    fl_udf_result_free(out);
    fl_batch_free(in);

    CHECK_OK(fl_schema_parse("a uint16, f float64, b bool", &s, &tl_err));
    in = fl_batch_new(s);
    fl_schema_free(s);
    CHECK_OK(fl_array_append_uint(&in->columns[0], 3));
    CHECK_OK(fl_array_append_float(&in->columns[1], 0.5));
    CHECK_OK(fl_array_append_bool(&in->columns[2], true));
    CHECK_OK(fl_array_append_uint(&in->columns[0], 65535));
    CHECK_OK(fl_array_append_float(&in->columns[1], -1.25));
    CHECK_OK(fl_array_append_bool(&in->columns[2], false));
    CHECK_OK(fl_array_append_null(&in->columns[0]));
    CHECK_OK(fl_array_append_float(&in->columns[1], 2));
    CHECK_OK(fl_array_append_bool(&in->columns[2], true));
    CHECK_OK(fl_batch_finish(in, &tl_err));
    CHECK_OK(run_host_plugin("mix", NULL, in, &out, &tl_err));
    CHECK_EQ_INT(out->length, 3);
    CHECK(fl_array_get_float(&out->children[0], 0) == 3.5);
    CHECK_EQ_INT(fl_array_get_uint(&out->children[1], 0), 6);
    CHECK(!fl_array_get_bool(&out->children[2], 0));
    CHECK(fl_array_get_float(&out->children[0], 1) == 65533.75);
    CHECK_EQ_INT(fl_array_get_uint(&out->children[1], 1), 131070);
    CHECK(fl_array_get_bool(&out->children[2], 1));
    CHECK(!fl_array_is_null(out, 0) && !fl_array_is_null(out, 1) && fl_array_is_null(out, 2));
    fl_udf_result_free(out);
    fl_batch_free(in);
}

/* Parameters reach init in the order given, empty values included; no context means no parameters. */
static void test_params_order(void) {
    const char *keys[] = {"model", "threshold", "empty"}, *values[] = {"/models/det.onnx", "0.5", ""};
    fl_udf_context ctx = {.param_keys = keys, .param_values = values, .n_params = 3, .worker = 1};
    fl_batch *in = int_batch(2);
    fl_array *out;
    CHECK_OK(run_host_plugin("params", &ctx, in, &out, &tl_err));
    size_t n;
    for (int i = 0; i < 2; i++) {
        const uint8_t *text = fl_array_get_bytes(out, i, &n);
        CHECK_EQ_INT((int64_t)n, 44);
        CHECK(memcmp(text, "model=/models/det.onnx;threshold=0.5;empty=;", n) == 0);
    }
    fl_udf_result_free(out);
    CHECK_OK(run_host_plugin("params", NULL, in, &out, &tl_err));
    fl_array_get_bytes(out, 1, &n);
    CHECK_EQ_INT((int64_t)n, 0);
    fl_udf_result_free(out);
    fl_batch_free(in);
}

/* The error buffer: 512 bytes, empty on entry; a message without NUL is cut, never overrun; a failure
 * without a message says so. */
static void test_error_buffer(void) {
    fl_batch *in = int_batch(1);
    fl_array *out;
    fl_error err = {0};
    CHECK_EQ_INT(run_host_plugin("probe", NULL, in, &out, &err), FL_EINVAL);
    CHECK_EQ_STR(err.message, "udf probe: error_size 512, error ''");
    CHECK_EQ_INT(run_host_plugin("long_message", NULL, in, &out, &err), FL_EINVAL);
    char want[FL_ERROR_MESSAGE_SIZE];
    int at = snprintf(want, sizeof want, "udf long_message: ");
    memset(want + at, 'x', sizeof want - 1 - (size_t)at);
    want[sizeof want - 1] = '\0';
    CHECK_EQ_STR(err.message, want);
    CHECK_EQ_INT(run_host_plugin("silent", NULL, in, &out, &err), FL_EINVAL);
    CHECK_EQ_STR(err.message, "udf silent: init failed: (no message)");
    /* a descriptor larger than ABI 1's (members a later header appends) loads */
    CHECK_EQ_INT(run_host_plugin("bigger", NULL, in, &out, &err), FL_EINVAL);
    CHECK_EQ_STR(err.message, "udf bigger: error_size 512, error ''");
    CHECK(out == NULL);
    fl_batch_free(in);
}

/* Each resolve holds the object open; the last release unloads it. */
static void test_load_and_release(void) {
    CHECK(dlopen(HOSTP, RTLD_NOW | RTLD_NOLOAD) == NULL);
    fl_udf_def *a, *b;
    CHECK_OK(fl_udf_resolve(HOSTP ":params", NULL, &a, &tl_err));
    CHECK_OK(fl_udf_resolve(HOSTP ":mix", NULL, &b, &tl_err));
    fl_udf_release(a);
    void *still = dlopen(HOSTP, RTLD_NOW | RTLD_NOLOAD);
    CHECK(still != NULL);
    if (still) dlclose(still);
    CHECK_EQ_STR(b->output_type, "struct<sum: float64, twice: uint64, not_b: bool>");
    fl_udf_release(b);
    CHECK(dlopen(HOSTP, RTLD_NOW | RTLD_NOLOAD) == NULL);
}

int main(void) {
    RUN(test_example_values);
    RUN(test_threads);
    RUN(test_backfill_through_plugin);
    RUN(test_bad_plugins);
    RUN(test_params);
    RUN(test_host_functions);
    RUN(test_params_order);
    RUN(test_error_buffer);
    RUN(test_load_and_release);
    return tl_finish("test_plugin");
}
