/*
 * test_udf.c — the UDF contract and the built-in C UDFs: exact values of the annotation UDFs on hand-made
 * rows; dhash against plain reference implementations written here (exact at the same DCT scale, within a
 * documented number of bits of full-resolution area averaging); brightness against the full decode;
 * white balance on uniform colours; fl_udf_apply rejecting wrong output and naming bad rows. The executor
 * that runs UDFs over tables is tested in test_backfill.c.
 */
#include "testlib.h"

#include "batch/batch.h"

#include "common/common.h"
#include "compute/udf.h"
#include "ingest/synth.h"

#include <math.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include <turbojpeg.h>
#include <unistd.h>

/* The UDF's input columns, taken from rows given as JSON Lines over all the columns the tests use. */
static const char *ALL_COLUMNS = "ann_categories list<string>, ann_bboxes list<list<float32>>, width int32, height int32, "
                                 "timeofday string, weather string, scene string, x int32";

static fl_batch *inputs(const fl_udf_def *def, const char *jsonl) {
    fl_schema *all = NULL, *want = NULL;
    fl_batch *rows = NULL, *b = NULL;
    CHECK_OK(fl_schema_parse(ALL_COLUMNS, &all, &tl_err));
    CHECK_OK(fl_schema_parse(def->inputs, &want, &tl_err));
    if (all && want) CHECK_OK(fl_batch_from_jsonl(all, jsonl, strlen(jsonl), "test", &rows, &tl_err));
    if (rows && (b = fl_batch_new(want)) != NULL) {
        for (int32_t i = 0; i < want->n_fields; i++)
            CHECK_OK(fl_array_append_range(&b->columns[i], fl_batch_column(rows, want->fields[i].name), 0, rows->num_rows));
        CHECK_OK(fl_batch_finish(b, &tl_err));
    }
    fl_batch_free(rows);
    fl_schema_free(all);
    fl_schema_free(want);
    return b;
}

static fl_array *run(const char *name, const fl_batch *in) {
    const fl_udf_def *def = fl_udf_find(name);
    CHECK(def != NULL);
    void *state = NULL;
    if (def->init) CHECK_OK(def->init(def, NULL, &state, &tl_err));
    fl_array *out = NULL;
    CHECK_OK(fl_udf_apply(def, state, in, &out, &tl_err));
    if (def->fini) def->fini(state);
    return out;
}

static void test_annotation_udfs(void) {
    const char *rows = "{\"ann_categories\": [\"car\", \"pedestrian\", \"rider\"], \"ann_bboxes\": [[0, 0, 10, 10], [10, 10, 30, 50], [0, 0, 5, 5]],"
                       " \"width\": 100, \"height\": 50, \"timeofday\": \"night\", \"weather\": \"rainy\", \"scene\": \"city street\"}\n"
                       "{\"ann_categories\": [\"other person\", \"pedestrian\"], \"ann_bboxes\": [[0, 0, 50, 50], [0, 0, 10, 10]],"
                       " \"width\": 100, \"height\": 100, \"timeofday\": \"daytime\", \"weather\": \"clear\", \"scene\": \"highway\"}\n"
                       "{\"ann_categories\": [], \"ann_bboxes\": [], \"width\": 64, \"height\": 64, \"timeofday\": \"night\", \"weather\": null,"
                       " \"scene\": \"tunnel\"}\n"
                       "{\"ann_categories\": null, \"ann_bboxes\": null, \"width\": 10, \"height\": 10}\n"
                       "{\"ann_categories\": [\"pedestrian\"], \"ann_bboxes\": [[0, 0, 1, 1]], \"width\": null, \"height\": 10}\n";
    const char *names[] = {"has_person", "has_rider", "person_bbox_area_pct", "scene_description"};
    const char *want[][5] = {
        {"1", "1", "0", "null", "1"},
        {"1", "0", "0", "null", "0"},
        {"16", "25", "0", "0", "null"},
        {"night rainy scene on a city street", "daytime clear scene on a highway", "null", "null", "null"},
    };
    for (int u = 0; u < 4; u++) {
        fl_batch *in = inputs(fl_udf_find(names[u]), rows);
        if (!in) continue;
        fl_array *out = run(names[u], in);
        CHECK(out && out->length == 5);
        for (int64_t i = 0; out && i < 5; i++) {
            char got[128];
            if (fl_array_is_null(out, i)) snprintf(got, sizeof got, "null");
            else if (u < 2) snprintf(got, sizeof got, "%d", fl_array_get_bool(out, i));
            else if (u == 2) snprintf(got, sizeof got, "%g", fl_array_get_float(out, i));
            else {
                size_t n;
                const uint8_t *s = fl_array_get_bytes(out, i, &n);
                snprintf(got, sizeof got, "%.*s", (int)n, (const char *)s);
            }
            CHECK_EQ_STR(got, want[u][i]);
        }
        fl_udf_result_free(out);
        fl_batch_free(in);
    }
    size_t n;
    const fl_udf_def *const *all = fl_udf_builtins(&n);
    CHECK_EQ_INT(n, 9);
    CHECK_EQ_STR(all[6]->name, "dhash");
    CHECK_EQ_STR(all[7]->name, "is_duplicate"); /* the UDFs that read other rows come last (tests/test_dedup.c) */
    CHECK(fl_udf_find("is_duplicate") == all[7] && fl_udf_find("duplicate_of") == all[8]);
    CHECK(fl_udf_find("nope") == NULL);
}

/* ---- images ---- */

typedef struct image {
    uint8_t *jpeg;
    size_t size;
} image;

static image solid_jpeg(int w, int h, uint8_t r, uint8_t g, uint8_t b) {
    uint8_t *px = malloc((size_t)w * h * 3);
    for (int i = 0; i < w * h; i++) px[3 * i] = r, px[3 * i + 1] = g, px[3 * i + 2] = b;
    tjhandle tj = tjInitCompress();
    unsigned char *out = NULL;
    unsigned long size = 0;
    CHECK(tjCompress2(tj, px, w, 0, h, TJPF_RGB, &out, &size, TJSAMP_444, 95, 0) == 0);
    image im = {malloc(size), size};
    memcpy(im.jpeg, out, size);
    tjFree(out);
    tjDestroy(tj);
    free(px);
    return im;
}

/* A plain reference: decode at scale num/denom, then for each of the 9x8 cells the exact mean of 1000 x luma
 * over the area it covers, as a fraction (partially covered pixels weighted by the covered area, computed
 * on a grid 9 x 8 times finer, where every boundary is an integer); cells compared by cross-multiplying. */
static void reference_dhash(const image *im, int num, int denom, bool gray, uint8_t hash[8]) {
    tjhandle tj = tjInitDecompress();
    int w, h, ss, cs;
    CHECK(tjDecompressHeader3(tj, im->jpeg, im->size, &w, &h, &ss, &cs) == 0);
    tjscalingfactor f = {num, denom};
    int sw = TJSCALED(w, f), sh = TJSCALED(h, f);
    int bpp = gray ? 1 : 3;
    uint8_t *px = malloc((size_t)sw * sh * bpp);
    CHECK(tjDecompress2(tj, im->jpeg, im->size, px, sw, 0, sh, gray ? TJPF_GRAY : TJPF_RGB, TJFLAG_FASTDCT) == 0);
    long long sum[8][9], area[8][9];
    for (int r = 0; r < 8; r++)
        for (int c = 0; c < 9; c++) {
            sum[r][c] = area[r][c] = 0;
            for (int y = r * sh / 8; y < sh && y * 8 < (r + 1) * sh; y++) {
                long long oy = (long long)(y * 8 + 8 < (r + 1) * sh ? y * 8 + 8 : (r + 1) * sh) - (y * 8 > r * sh ? y * 8 : r * sh);
                for (int x = c * sw / 9; x < sw && x * 9 < (c + 1) * sw; x++) {
                    long long ox = (long long)(x * 9 + 9 < (c + 1) * sw ? x * 9 + 9 : (c + 1) * sw) - (x * 9 > c * sw ? x * 9 : c * sw);
                    const uint8_t *p = px + bpp * ((size_t)y * sw + x);
                    sum[r][c] += ox * oy * (gray ? 1000 * p[0] : 299 * p[0] + 587 * p[1] + 114 * p[2]);
                    area[r][c] += ox * oy;
                }
            }
        }
    for (int r = 0; r < 8; r++) {
        hash[r] = 0;
        for (int c = 0; c < 8; c++)
            if (sum[r][c] * area[r][c + 1] > sum[r][c + 1] * area[r][c]) hash[r] |= (uint8_t)(0x80u >> c);
    }
    free(px);
    tjDestroy(tj);
}

static int differing_bits(const uint8_t *a, const uint8_t *b) {
    int n = 0;
    for (int k = 0; k < 8; k++) n += __builtin_popcount((unsigned)(a[k] ^ b[k]));
    return n;
}

static void test_image_udfs(void) {
    enum { N = 12 };
    image frames[N];
    fl_synth_options so = {.seed = 3, .split_mode = FL_SYNTH_MIXED};
    fl_synth *s;
    CHECK_OK(fl_synth_new(&so, &s, &tl_err));
    fl_schema *schema;
    CHECK_OK(fl_schema_parse("image_bytes binary", &schema, &tl_err));
    fl_batch *in = fl_batch_new(schema);
    for (int i = 0; i < N; i++) {
        fl_frame f = {0};
        const char *split;
        const uint8_t *jpeg;
        size_t size;
        CHECK_OK(fl_synth_render(s, (uint64_t)i * 5, &f, &split, &jpeg, &size, &tl_err)); /* frames of different clips */
        frames[i] = (image){malloc(size), size};
        memcpy(frames[i].jpeg, jpeg, size);
        CHECK_OK(fl_array_append_bytes(&in->columns[0], jpeg, size));
        fl_frame_clear(&f);
    }
    fl_synth_free(s);
    CHECK_OK(fl_array_append_null(&in->columns[0]));
    CHECK_OK(fl_batch_finish(in, &tl_err));

    fl_array *hashes = run("dhash", in);
    fl_array *light = run("brightness", in);
    CHECK(hashes && light && fl_array_is_null(hashes, N) && fl_array_is_null(light, N));
    int total_full = 0, worst_full = 0;
    tjhandle tj = tjInitDecompress();
    for (int i = 0; hashes && light && i < N; i++) {
        int64_t st, en;
        fl_array_get_list(hashes, i, &st, &en);
        CHECK_EQ_INT(en - st, 8);
        uint8_t got[8], scaled[8], full[8];
        for (int k = 0; k < 8; k++) got[k] = (uint8_t)fl_array_get_uint(&hashes->children[0], st + k);
        reference_dhash(&frames[i], 1, 8, true, scaled);
        reference_dhash(&frames[i], 1, 1, false, full);
        CHECK_EQ_INT(differing_bits(got, scaled), 0); /* 1280x720 decodes at 1/8 luma: exactly the scaled reference */
        int d = differing_bits(got, full);
        total_full += d;
        if (d > worst_full) worst_full = d;
        /* brightness: the 1/8 decode's mean luma is the full decode's within a fraction of a level */
        uint8_t *px = malloc(1280 * 720 * 3);
        CHECK(tjDecompress2(tj, frames[i].jpeg, frames[i].size, px, 1280, 0, 720, TJPF_RGB, 0) == 0);
        double sum = 0;
        for (int p = 0; p < 1280 * 720; p++) sum += 0.299 * px[3 * p] + 0.587 * px[3 * p + 1] + 0.114 * px[3 * p + 2];
        double mean = sum / (1280.0 * 720.0), got_light = fl_array_get_float(light, i);
        CHECK(fabs(got_light - mean) < 1.0);
        free(px);
    }
    tjDestroy(tj);
    /* the documented tolerance against full-resolution area averaging (docs/COMPUTE.md) */
    CHECK(worst_full <= 6);
    printf("  dhash vs full-resolution area averaging: %.2f bits differ on average, %d at most (%d frames)\n", (double)total_full / N,
           worst_full, N);
    fl_udf_result_free(hashes);
    fl_udf_result_free(light);
    fl_batch_free(in);

    /* white balance of uniform colours: neutral gray is D65 (about 6500 K), warm lower, cool higher */
    in = fl_batch_new(schema);
    image solid[3] = {solid_jpeg(64, 64, 128, 128, 128), solid_jpeg(64, 64, 220, 160, 100), solid_jpeg(64, 64, 110, 150, 230)};
    for (int i = 0; i < 3; i++) CHECK_OK(fl_array_append_bytes(&in->columns[0], solid[i].jpeg, solid[i].size));
    static const uint8_t not_jpeg[] = "not a jpeg";
    CHECK_OK(fl_batch_finish(in, &tl_err));
    fl_array *wb = run("white_balance", in);
    if (wb) {
        double gray = fl_array_get_float(wb, 0), warm = fl_array_get_float(wb, 1), cool = fl_array_get_float(wb, 2);
        CHECK(fabs(gray - 6504) < 60);
        CHECK(warm < 4000);
        CHECK(cool > 9000);
        printf("  white balance: gray %.0f K, warm %.0f K, cool %.0f K\n", gray, warm, cool);
    }
    fl_udf_result_free(wb);
    /* a row that is not a JPEG: the error names the UDF and the row */
    CHECK_OK(fl_array_append_bytes(&in->columns[0], not_jpeg, sizeof not_jpeg - 1));
    CHECK_OK(fl_batch_finish(in, &tl_err));
    const fl_udf_def *dh = fl_udf_find("dhash");
    void *state;
    CHECK_OK(dh->init(dh, NULL, &state, &tl_err));
    fl_array *out;
    fl_error err = {0};
    CHECK_EQ_INT(fl_udf_apply(dh, state, in, &out, &err), FL_ECORRUPT);
    CHECK(out == NULL);
    CHECK(strstr(err.message, "udf dhash: row 3: cannot read the JPEG header") == err.message);
    dh->fini(state);
    for (int i = 0; i < 3; i++) free(solid[i].jpeg);
    for (int i = 0; i < N; i++) free(frames[i].jpeg);
    fl_batch_free(in);
    fl_schema_free(schema);
}

/* ---- the contract is enforced ---- */

static int short_call(void *state, const fl_batch *in, fl_array *out, fl_error *err) {
    (void)state, (void)in, (void)err;
    return fl_array_append_bool(out, true);
}

static void test_apply_checks(void) {
    fl_udf_def bad = {.name = "short", .version = 1, .inputs = "x int32", .output_type = "bool", .description = "returns one value whatever the batch", .call = short_call};
    fl_batch *in = inputs(&bad, "{\"x\": 1}\n{\"x\": 2}\n");
    fl_array *out = NULL;
    fl_error err = {0};
    CHECK_EQ_INT(fl_udf_apply(&bad, NULL, in, &out, &err), FL_ETYPE);
    CHECK_EQ_STR(err.message, "udf short: returned 1 values for 2 rows");
    CHECK(out == NULL);
    fl_batch_free(in);
    in = inputs(&bad, "{\"x\": 1}\n");
    CHECK_OK(fl_udf_apply(&bad, NULL, in, &out, &tl_err));
    CHECK(out && out->length == 1 && fl_array_get_bool(out, 0));
    fl_udf_result_free(out);
    fl_batch_free(in);
}

/* ---- backfill ---- */

/* Column `name` of every row, as text ("1,0,null,..." or the dhash bytes), in scan order. */
int main(void) {
    RUN(test_annotation_udfs);
    RUN(test_image_udfs);
    RUN(test_apply_checks);
    return tl_finish("test_udf");
}
