/*
 * test_footage.c — footage sources into annotated tables: fl_ingest_bdd100k on a BDD100K fixture made here
 * (real JPEGs, det_20 labels with every edge case, the older per-image release, and the same data as zips
 * read in place), checked cell by cell; idempotent re-runs, split selection, limits, strict mode; and
 * fl_ingest_synthetic: determinism, continuation without id collisions, and the round trip through a
 * BDD100K-style export.
 */
#include "testlib.h"

#include "common/common.h"
#include "ingest/ingest.h"

#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <turbojpeg.h>
#include <unistd.h>
#include <zip.h>

/* ---- helpers ---- */

typedef struct notices {
    int count[6];
    char text[16384];
} notices;

static void collect(void *ctx, fl_ingest_outcome outcome, const char *path, const char *message) {
    notices *n = ctx;
    (void)path;
    n->count[outcome]++;
    size_t used = strlen(n->text);
    snprintf(n->text + used, sizeof n->text - used, "%d|%s\n", (int)outcome, message);
}

/* Every row of a table in one batch (a scan returns a batch per fragment at most). */
static fl_batch *read_table(fl_db *db, const char *name) {
    fl_table *t;
    fl_batch *all = NULL, *b = NULL;
    CHECK_OK(fl_table_open(db, name, NULL, &t, &tl_err));
    fl_scan_options so = {.batch_size = 1 << 20};
    fl_scan *scan;
    CHECK_OK(fl_scan_open(t, &so, &scan, &tl_err));
    all = fl_batch_new(fl_table_schema(t));
    while (fl_scan_next(scan, &b, &tl_err) == FL_OK && b) {
        for (int64_t r = 0; r < b->num_rows; r++)
            for (int32_t c = 0; c < b->n_columns; c++) CHECK_OK(fl_array_append_from(&all->columns[c], &b->columns[c], r));
        all->num_rows += b->num_rows;
        fl_batch_free(b);
    }
    fl_scan_close(scan);
    fl_table_close(t);
    return all;
}

/* A cell as text: lists in brackets, binary as its length and hash, NULL as "null". */
static void cell(const fl_array *a, int64_t i, fl_buf *out) {
    if (fl_array_is_null(a, i)) {
        fl_buf_printf(out, "null");
        return;
    }
    size_t n;
    const uint8_t *p;
    switch (a->type) {
    case FL_TYPE_BOOL: fl_buf_printf(out, "%s", fl_array_get_bool(a, i) ? "true" : "false"); break;
    case FL_TYPE_INT32:
    case FL_TYPE_INT64: fl_buf_printf(out, "%lld", (long long)fl_array_get_int(a, i)); break;
    case FL_TYPE_FLOAT32: fl_buf_printf(out, "%.9g", fl_array_get_float(a, i)); break;
    case FL_TYPE_STRING:
        p = fl_array_get_bytes(a, i, &n);
        fl_buf_printf(out, "'%.*s'", (int)n, (const char *)p);
        break;
    case FL_TYPE_BINARY:
        p = fl_array_get_bytes(a, i, &n);
        fl_buf_printf(out, "<%zu:%016llx>", n, (unsigned long long)fl_hash64(p, n));
        break;
    case FL_TYPE_LIST: {
        int64_t s, e;
        fl_array_get_list(a, i, &s, &e);
        fl_buf_printf(out, "[");
        for (int64_t k = s; k < e; k++) {
            if (k > s) fl_buf_printf(out, ",");
            cell(&a->children[0], k, out);
        }
        fl_buf_printf(out, "]");
        break;
    }
    default: fl_buf_printf(out, "?"); break;
    }
}

/* Row `row` as "col=value;..." over the named columns (NULL: all but `source`). */
static char *row_text(const fl_batch *b, int64_t row) {
    fl_buf out;
    fl_buf_init(&out);
    for (int32_t c = 0; c < b->n_columns; c++) {
        if (!strcmp(b->schema->fields[c].name, "source")) continue;
        fl_buf_printf(&out, "%s=", b->schema->fields[c].name);
        cell(&b->columns[c], row, &out);
        fl_buf_printf(&out, ";");
    }
    fl_buf_append(&out, "", 1);
    return (char *)out.data;
}

static void check_cell(const fl_batch *b, int64_t row, const char *column, const char *want) {
    fl_array *a = fl_batch_column(b, column);
    CHECK(a != NULL && row < b->num_rows);
    if (!a || row >= b->num_rows) return;
    fl_buf out;
    fl_buf_init(&out);
    cell(a, row, &out);
    fl_buf_append(&out, "", 1);
    CHECK_EQ_STR((const char *)out.data, want);
    fl_buf_free(&out);
}

/* Both tables hold the same rows in the same order, every column but `source` equal. */
static void check_same_rows(const fl_batch *x, const fl_batch *y) {
    CHECK_EQ_INT(x->num_rows, y->num_rows);
    for (int64_t r = 0; r < x->num_rows && r < y->num_rows; r++) {
        char *a = row_text(x, r), *b = row_text(y, r);
        CHECK_EQ_STR(a, b);
        fl_free(a);
        fl_free(b);
    }
}

static fl_db *open_db(const char *dir) {
    fl_db *db = NULL;
    CHECK_OK(fl_db_open(dir, FL_OPEN_CREATE, &db, &tl_err));
    return db;
}

/* ---- the BDD100K fixture ---- */

static const char DET_TRAIN[] =
    "[\n"
    " {\"name\": \"a.jpg\", \"attributes\": {\"weather\": \"clear\", \"scene\": \"city street\", \"timeofday\": \"night\"},"
    "  \"timestamp\": 10000, \"labels\": [\n"
    "   {\"id\": \"1\", \"category\": \"pedestrian\", \"attributes\": {\"occluded\": true, \"truncated\": false,"
    "    \"trafficLightColor\": \"NA\", \"crowd\": false}, \"box2d\": {\"x1\": 10.5, \"y1\": 20.25, \"x2\": 30, \"y2\": 60}},\n"
    "   {\"id\": \"2\", \"category\": \"traffic light\", \"attributes\": {\"occluded\": false, \"truncated\": true,"
    "    \"trafficLightColor\": \"G\"}, \"box2d\": {\"x1\": 1, \"y1\": 2, \"x2\": 3, \"y2\": 4}}]},\n"
    " {\"name\": \"b.jpg\", \"attributes\": {\"weather\": \"rainy\", \"scene\": \"highway\", \"timeofday\": \"daytime\"},"
    "  \"timestamp\": 20000, \"labels\": [\n"
    "   {\"id\": \"3\", \"category\": \"unicorn\", \"box2d\": {\"x1\": 1, \"y1\": 1, \"x2\": 2, \"y2\": 2}},\n"
    "   {\"id\": \"4\", \"category\": \"car\", \"box2d\": {\"x1\": 50, \"y1\": 10, \"x2\": 40, \"y2\": 20}},\n"
    "   {\"id\": \"5\", \"category\": \"car\", \"attributes\": {\"occluded\": false, \"truncated\": false},"
    "    \"box2d\": {\"x1\": 0, \"y1\": 0, \"x2\": 319, \"y2\": 179}},\n"
    "   {\"id\": \"6\", \"category\": \"lane\", \"poly2d\": [{\"vertices\": [[0, 0], [1, 1]], \"types\": \"LL\", \"closed\": false}]}]},\n"
    " {\"name\": \"c.jpg\", \"attributes\": {\"weather\": \"snowy\", \"scene\": \"residential\", \"timeofday\": \"dawn/dusk\"}},\n"
    " {\"name\": \"ghost.jpg\", \"attributes\": {\"weather\": \"clear\"}, \"labels\": []},\n"
    " {\"name\": \"broken.jpg\", \"labels\": []},\n"
    " {\"name\": \"notjpeg.jpg\", \"labels\": null}\n"
    "]\n";

static const char DET_VAL[] =
    "[{\"name\": \"v1.jpg\", \"attributes\": {\"weather\": \"foggy\", \"scene\": \"tunnel\", \"timeofday\": \"night\"}, \"labels\": null},\n"
    " {\"name\": \"v2.jpg\", \"attributes\": {\"weather\": \"overcast\", \"scene\": \"parking lot\", \"timeofday\": \"daytime\"},"
    "  \"timestamp\": 5, \"labels\": [{\"id\": \"9\", \"category\": \"rider\", \"box2d\": {\"x1\": 1.5, \"y1\": 2.5, \"x2\": 3.5, \"y2\": 4.5}}]}]";

/* The older per-image release: person/bike/motor, lanes and drivable areas without boxes. */
static const char OLD_TRAIN[] =
    "[{\"name\": \"a.jpg\", \"attributes\": {\"weather\": \"clear\", \"scene\": \"highway\", \"timeofday\": \"daytime\"}, \"timestamp\": 1,"
    "  \"labels\": [{\"category\": \"person\", \"attributes\": {\"occluded\": false, \"truncated\": false, \"trafficLightColor\": \"none\"},"
    "    \"manualShape\": true, \"manualAttributes\": true, \"box2d\": {\"x1\": 1, \"y1\": 1, \"x2\": 5, \"y2\": 9}, \"id\": 0},"
    "   {\"category\": \"bike\", \"box2d\": {\"x1\": 2, \"y1\": 2, \"x2\": 6, \"y2\": 6}, \"id\": 1},"
    "   {\"category\": \"motor\", \"box2d\": {\"x1\": 3, \"y1\": 3, \"x2\": 7, \"y2\": 7}, \"id\": 2},"
    "   {\"category\": \"traffic light\", \"attributes\": {\"trafficLightColor\": \"red\"}, \"box2d\": {\"x1\": 0, \"y1\": 0, \"x2\": 1, \"y2\": 1}, \"id\": 3},"
    "   {\"category\": \"drivable area\", \"attributes\": {\"areaType\": \"direct\"}, \"poly2d\": [{\"vertices\": [[0, 0]], \"types\": \"L\"}], \"id\": 4},"
    "   {\"category\": \"lane\", \"poly2d\": [], \"id\": 5}]}]";

typedef struct fixture {
    char root[512];             /* extracted layout */
    char zips[512];             /* the same as downloaded zips */
    char old[512];              /* the older label release */
} fixture;

typedef struct image_file {
    const char *split, *name;
    int width, height;          /* 0: not a JPEG, -1: a truncated JPEG */
} image_file;

static const image_file IMAGES[] = {
    {"train", "a.jpg", 64, 48},   {"train", "b.jpg", 320, 180}, {"train", "c.jpg", 33, 17},   {"train", "orphan.jpg", 16, 16},
    {"train", "broken.jpg", -1, -1}, {"train", "notjpeg.jpg", 0, 0}, {"val", "v1.jpg", 40, 30}, {"val", "v2.jpg", 41, 31},
    {"test", "t1.jpg", 50, 20},
};
#define N_IMAGES (sizeof IMAGES / sizeof *IMAGES)

static tl_blob image_bytes(const image_file *im) {
    if (im->width == 0) {
        tl_blob b = {malloc(9), 9};
        memcpy(b.data, "not a jpg", 9);
        return b;
    }
    tl_blob b = tl_jpeg(im->width > 0 ? im->width : 30, im->height > 0 ? im->height : 30, false, TJSAMP_420, 0);
    if (im->width < 0) b.size /= 2; /* cut short: no EOI */
    return b;
}

static void zip_put(zip_t *z, const char *name, const void *data, size_t size) {
    zip_source_t *src = zip_source_buffer(z, data, size, 0);
    CHECK(src != NULL);
    CHECK(zip_file_add(z, name, src, ZIP_FL_OVERWRITE) >= 0);
}

static void make_fixture(fixture *f, const char *tag) {
    const char *base = tl_tmpdir(tag);
    snprintf(f->root, sizeof f->root, "%s/bdd", base);
    snprintf(f->zips, sizeof f->zips, "%s/zips", base);
    snprintf(f->old, sizeof f->old, "%s/old", base);
    CHECK_EQ_INT(tl_sh("mkdir -p %s/images/100k/train %s/images/100k/val %s/images/100k/test %s/labels/det_20 %s %s/bdd100k/labels "
                       "%s/bdd100k/images/100k/train",
                       f->root, f->root, f->root, f->root, f->zips, f->old, f->old),
                 0);
    int code = 0;
    char path[1024];
    snprintf(path, sizeof path, "%s/bdd100k_images_100k.zip", f->zips);
    zip_t *images = zip_open(path, ZIP_CREATE | ZIP_TRUNCATE, &code);
    snprintf(path, sizeof path, "%s/bdd100k_det_20_labels_trainval.zip", f->zips);
    zip_t *labels = zip_open(path, ZIP_CREATE | ZIP_TRUNCATE, &code);
    CHECK(images && labels);
    tl_blob kept[N_IMAGES];
    for (size_t i = 0; i < N_IMAGES; i++) {
        kept[i] = image_bytes(&IMAGES[i]);
        snprintf(path, sizeof path, "%s/images/100k/%s/%s", f->root, IMAGES[i].split, IMAGES[i].name);
        tl_write_file(path, kept[i].data, kept[i].size);
        snprintf(path, sizeof path, "bdd100k/images/100k/%s/%s", IMAGES[i].split, IMAGES[i].name);
        zip_put(images, path, kept[i].data, kept[i].size);
        if (!strcmp(IMAGES[i].name, "a.jpg")) {
            snprintf(path, sizeof path, "%s/bdd100k/images/100k/train/a.jpg", f->old);
            tl_write_file(path, kept[i].data, kept[i].size);
        }
    }
    snprintf(path, sizeof path, "%s/labels/det_20/det_train.json", f->root);
    tl_write_file(path, DET_TRAIN, strlen(DET_TRAIN));
    snprintf(path, sizeof path, "%s/labels/det_20/det_val.json", f->root);
    tl_write_file(path, DET_VAL, strlen(DET_VAL));
    snprintf(path, sizeof path, "%s/bdd100k/labels/bdd100k_labels_images_train.json", f->old);
    tl_write_file(path, OLD_TRAIN, strlen(OLD_TRAIN));
    zip_put(labels, "bdd100k/labels/det_20/det_train.json", DET_TRAIN, strlen(DET_TRAIN));
    zip_put(labels, "bdd100k/labels/det_20/det_val.json", DET_VAL, strlen(DET_VAL));
    CHECK_EQ_INT(zip_close(images), 0);
    CHECK_EQ_INT(zip_close(labels), 0);
    for (size_t i = 0; i < N_IMAGES; i++) free(kept[i].data);
}

/* ---- BDD100K ---- */

static void check_bdd_report(const fl_ingest_report *r, int64_t added, int64_t skipped) {
    CHECK_EQ_INT(r->added, added);
    CHECK_EQ_INT(r->skipped, skipped);
    CHECK_EQ_INT(r->failed, 2);         /* broken.jpg, notjpeg.jpg */
    CHECK_EQ_INT(r->missing, 1);        /* ghost.jpg */
    CHECK_EQ_INT(r->labels_skipped, added ? 2 : 2); /* unicorn, the degenerate car (read again on a re-run) */
    CHECK_EQ_INT(r->unlabeled, added ? 1 : 0);      /* orphan.jpg */
}

static void test_bdd_folder(void) {
    fixture f;
    make_fixture(&f, "bdd_folder");
    char dir[600];
    snprintf(dir, sizeof dir, "%s/../db", f.root);
    fl_db *db = open_db(dir);
    notices seen = {0};
    fl_ingest_options o = {.on_file = collect, .on_file_ctx = &seen, .threads = 3};
    fl_ingest_report r;
    CHECK_OK(fl_ingest_bdd100k(db, "bdd100k", f.root, &o, &r, &tl_err));
    check_bdd_report(&r, 7, 0);
    CHECK_EQ_INT(r.version, 2);
    CHECK_EQ_INT(seen.count[FL_INGEST_LABEL_SKIPPED], 2);
    CHECK(strstr(seen.text, "unknown category 'unicorn'") != NULL);
    CHECK(strstr(seen.text, "det_train.json: byte ") != NULL);
    CHECK(strstr(seen.text, "4|") != NULL && strstr(seen.text, "frame 'ghost.jpg': no image ghost.jpg in images/100k/train/") != NULL);
    CHECK(strstr(seen.text, "broken.jpg: byte ") != NULL);
    CHECK(strstr(seen.text, "notjpeg.jpg: byte 0: not a JPEG (no SOI marker)") != NULL);

    fl_batch *b = read_table(db, "bdd100k");
    CHECK(b != NULL);
    if (!b) return;
    CHECK_EQ_INT(b->num_rows, 7);
    /* train in label order, then train images without a label entry, then val, then test */
    const char *ids[] = {"'a'", "'b'", "'c'", "'orphan'", "'v1'", "'v2'", "'t1'"};
    const char *splits[] = {"'train'", "'train'", "'train'", "'train'", "'val'", "'val'", "'test'"};
    const char *sizes[][2] = {{"64", "48"}, {"320", "180"}, {"33", "17"}, {"16", "16"}, {"40", "30"}, {"41", "31"}, {"50", "20"}};
    for (int i = 0; i < 7; i++) {
        check_cell(b, i, "image_id", ids[i]);
        check_cell(b, i, "split", splits[i]);
        check_cell(b, i, "width", sizes[i][0]);
        check_cell(b, i, "height", sizes[i][1]);
    }
    check_cell(b, 0, "weather", "'clear'");
    check_cell(b, 0, "scene", "'city street'");
    check_cell(b, 0, "timeofday", "'night'");
    check_cell(b, 0, "timestamp", "10000");
    check_cell(b, 0, "ann_categories", "['pedestrian','traffic light']");
    check_cell(b, 0, "ann_bboxes", "[[10.5,20.25,30,60],[1,2,3,4]]");
    check_cell(b, 0, "ann_occluded", "[true,false]");
    check_cell(b, 0, "ann_truncated", "[false,true]");
    check_cell(b, 0, "ann_traffic_light_colors", "[null,'green']");
    check_cell(b, 0, "num_annotations", "2");
    check_cell(b, 1, "ann_categories", "['car']"); /* unicorn and the degenerate car dropped, the lane has no box */
    check_cell(b, 1, "ann_bboxes", "[[0,0,319,179]]");
    check_cell(b, 1, "num_annotations", "1");
    check_cell(b, 2, "weather", "'snowy'");
    check_cell(b, 2, "timestamp", "null");
    check_cell(b, 2, "ann_categories", "[]");
    check_cell(b, 2, "num_annotations", "0");
    for (int i = 3; i < 7; i += 3) { /* orphan (no label entry) and t1 (test): no annotations, NULL attributes */
        check_cell(b, i, "weather", "null");
        check_cell(b, i, "timeofday", "null");
        check_cell(b, i, "ann_bboxes", "[]");
        check_cell(b, i, "num_annotations", "0");
    }
    check_cell(b, 4, "scene", "'tunnel'");
    check_cell(b, 4, "ann_categories", "[]");
    check_cell(b, 5, "ann_categories", "['rider']");
    check_cell(b, 5, "ann_bboxes", "[[1.5,2.5,3.5,4.5]]");
    check_cell(b, 5, "timestamp", "5");
    char want_source[700];
    snprintf(want_source, sizeof want_source, "'%s/images/100k/train/a.jpg'", f.root);
    check_cell(b, 0, "source", want_source);
    /* the image bytes are the files' bytes */
    tl_blob a = tl_jpeg(64, 48, false, TJSAMP_420, 0);
    char want[64];
    snprintf(want, sizeof want, "<%zu:%016llx>", a.size, (unsigned long long)fl_hash64(a.data, a.size));
    check_cell(b, 0, "image_bytes", want);
    free(a.data);

    /* again: nothing new (idempotent) */
    CHECK_OK(fl_ingest_bdd100k(db, "bdd100k", f.root, &o, &r, &tl_err));
    check_bdd_report(&r, 0, 7);
    CHECK_EQ_INT(r.version, 2);

    /* the zips, read in place, give the same rows */
    CHECK_OK(fl_ingest_bdd100k(db, "from_zips", f.zips, NULL, &r, &tl_err));
    check_bdd_report(&r, 7, 0);
    fl_batch *z = read_table(db, "from_zips");
    CHECK(z != NULL);
    if (z) {
        check_same_rows(b, z);
        snprintf(want_source, sizeof want_source, "'%s/bdd100k_images_100k.zip:bdd100k/images/100k/train/a.jpg'", f.zips);
        check_cell(z, 0, "source", want_source);
    }
    fl_batch_free(z);
    fl_batch_free(b);

    /* splits and limits */
    fl_ingest_options some = {.splits = "val,test"};
    CHECK_OK(fl_ingest_bdd100k(db, "some", f.root, &some, &r, &tl_err));
    CHECK_EQ_INT(r.added, 3);
    CHECK_EQ_INT(r.missing + r.failed, 0);
    fl_ingest_options limited = {.limit = 2, .threads = 1};
    CHECK_OK(fl_ingest_bdd100k(db, "limited", f.zips, &limited, &r, &tl_err));
    CHECK_EQ_INT(r.added, 2);
    CHECK_OK(fl_ingest_bdd100k(db, "limited", f.zips, &limited, &r, &tl_err)); /* continues: c, orphan */
    CHECK_EQ_INT(r.added, 2);
    CHECK_EQ_INT(r.skipped, 2);
    b = read_table(db, "limited");
    if (b) {
        CHECK_EQ_INT(b->num_rows, 4);
        check_cell(b, 3, "image_id", "'orphan'");
    }
    fl_batch_free(b);
    fl_ingest_options bad = {.splits = "train,dev"};
    fl_error err = {0};
    CHECK_EQ_INT(fl_ingest_bdd100k(db, "x", f.root, &bad, &r, &err), FL_EINVAL);
    CHECK_EQ_STR(err.message, "ingest bdd100k: unknown split 'dev' (expected train, val or test)");

    /* strict: the first problem ends the run before anything is committed */
    fl_ingest_options strict = {.strict = true};
    CHECK_EQ_INT(fl_ingest_bdd100k(db, "strict", f.root, &strict, &r, &err), FL_EINVAL);
    CHECK(strstr(err.message, "strict: ") == err.message);
    if (strstr(err.message, "strict: ") != err.message) printf("    message: %s\n", err.message);
    CHECK(strstr(err.message, "unknown category 'unicorn'") != NULL);
    fl_table *t;
    CHECK_EQ_INT(fl_table_open(db, "strict", NULL, &t, &err), FL_ENOTFOUND);
    fl_ingest_options strict_batches = {.strict = true, .commit_every = 1, .splits = "test"};
    CHECK_OK(fl_ingest_bdd100k(db, "strict_ok", f.root, &strict_batches, &r, &tl_err));
    CHECK_EQ_INT(r.added, 1);

    /* not a BDD100K root */
    CHECK_EQ_INT(fl_ingest_bdd100k(db, "x", dir, NULL, &r, &err), FL_ENOTFOUND);
    CHECK(strstr(err.message, "no BDD100K images or labels in") != NULL);
    fl_db_close(db);
}

static void test_bdd_old_release(void) {
    fixture f;
    make_fixture(&f, "bdd_old");
    char dir[600];
    snprintf(dir, sizeof dir, "%s/../db", f.old);
    fl_db *db = open_db(dir);
    fl_ingest_report r;
    CHECK_OK(fl_ingest_bdd100k(db, "old", f.old, NULL, &r, &tl_err));
    CHECK_EQ_INT(r.added, 1);
    CHECK_EQ_INT(r.labels_skipped, 0);
    fl_batch *b = read_table(db, "old");
    if (b) {
        check_cell(b, 0, "ann_categories", "['pedestrian','bicycle','motorcycle','traffic light']");
        check_cell(b, 0, "ann_traffic_light_colors", "[null,null,null,'red']");
        check_cell(b, 0, "scene", "'highway'");
        check_cell(b, 0, "num_annotations", "4");
    }
    fl_batch_free(b);
    fl_db_close(db);
}

/* ---- synthetic ---- */

static void test_synthetic(void) {
    const char *base = tl_tmpdir("synthetic");
    char dir1[600], dir2[600], out[600];
    snprintf(dir1, sizeof dir1, "%s/db1", base);
    snprintf(dir2, sizeof dir2, "%s/db2", base);
    snprintf(out, sizeof out, "%s/export", base);
    fl_db *db1 = open_db(dir1), *db2 = open_db(dir2);
    fl_synthetic_options syn = {.n = 24, .seed = 7, .width = 320, .height = 180, .split = FL_SYNTHETIC_MIXED};
    fl_ingest_report r;
    fl_ingest_options many = {.threads = 4}, one = {.threads = 1};
    CHECK_OK(fl_ingest_synthetic(db1, "bdd100k", &syn, &many, &r, &tl_err));
    CHECK_EQ_INT(r.added, 24);
    CHECK_OK(fl_ingest_synthetic(db2, "bdd100k", &syn, &one, &r, &tl_err));
    fl_batch *x = read_table(db1, "bdd100k"), *y = read_table(db2, "bdd100k");
    if (x && y) check_same_rows(x, y); /* same seed: the same rows, whatever the threads */
    if (x) {
        check_cell(x, 0, "image_id", "'synth-00000007-0000000'");
        check_cell(x, 23, "image_id", "'synth-00000007-0000023'");
        check_cell(x, 0, "width", "320");
        check_cell(x, 0, "height", "180");
        /* test-split frames carry no annotations; the others have their drawn objects */
        fl_array *split = fl_batch_column(x, "split"), *n = fl_batch_column(x, "num_annotations"), *w = fl_batch_column(x, "weather");
        int64_t annotated = 0;
        for (int64_t i = 0; i < x->num_rows; i++) {
            size_t len;
            const uint8_t *s = fl_array_get_bytes(split, i, &len);
            bool test = len == 4 && !memcmp(s, "test", 4);
            if (test) CHECK(fl_array_get_int(n, i) == 0 && fl_array_is_null(w, i));
            else CHECK(!fl_array_is_null(w, i));
            annotated += fl_array_get_int(n, i) > 0;
        }
        CHECK(annotated > 12);
    }
    fl_batch_free(y);

    /* new footage: the stream continues, no id collides */
    syn.n = 5;
    CHECK_OK(fl_ingest_synthetic(db1, "bdd100k", &syn, NULL, &r, &tl_err));
    CHECK_EQ_INT(r.added, 5);
    CHECK_EQ_INT(r.skipped, 0);
    y = read_table(db1, "bdd100k");
    if (y) {
        CHECK_EQ_INT(y->num_rows, 29);
        check_cell(y, 24, "image_id", "'synth-00000007-0000024'");
        check_cell(y, 28, "image_id", "'synth-00000007-0000028'");
    }
    fl_batch_free(y);

    /* the export, ingested as BDD100K, gives the same rows as the direct ingest (train/val in stream order per split) */
    syn.n = 24;
    CHECK_OK(fl_synthetic_export(out, &syn, 0, 2, &tl_err));
    fl_error err = {0};
    CHECK_EQ_INT(fl_synthetic_export(out, &syn, 0, 2, &err), FL_EEXIST);
    CHECK_OK(fl_ingest_bdd100k(db2, "exported", out, NULL, &r, &tl_err));
    CHECK_EQ_INT(r.added, 24);
    CHECK_EQ_INT(r.failed + r.missing + r.labels_skipped + r.unlabeled, 0);
    y = read_table(db2, "exported");
    if (x && y) {
        /* same multiset of rows: compare each exported row with the direct row of the same id */
        CHECK_EQ_INT(y->num_rows, 24);
        for (int64_t i = 0; i < y->num_rows; i++) {
            char *a = row_text(y, i);
            bool found = false;
            for (int64_t k = 0; k < x->num_rows && !found; k++) {
                char *b = row_text(x, k);
                found = !strcmp(a, b);
                fl_free(b);
            }
            CHECK(found);
            fl_free(a);
        }
    }
    fl_batch_free(x);
    fl_batch_free(y);

    syn.width = 5;
    CHECK_EQ_INT(fl_ingest_synthetic(db1, "bdd100k", &syn, NULL, &r, &err), FL_EINVAL);
    syn.width = 320;
    syn.n = -1;
    CHECK_EQ_INT(fl_ingest_synthetic(db1, "bdd100k", &syn, NULL, &r, &err), FL_EINVAL);
    CHECK_EQ_STR(err.message, "ingest synthetic: the frame count must not be negative (got -1)");
    fl_db_close(db1);
    fl_db_close(db2);
}

static void bdd_child(void *ctx) {
    const char *const *paths = ctx; /* source folder, database */
    fl_db *db;
    fl_ingest_options o = {.commit_every = 4, .threads = 2};
    if (fl_db_open(paths[1], FL_OPEN_CREATE, &db, NULL) == FL_OK) fl_ingest_bdd100k(db, "t", paths[0], &o, NULL, NULL);
}

/* kill -9 at random moments of committing BDD100K ingests, then one more run: every frame exactly once. */
static void test_bdd_killed_and_rerun(void) {
    const char *base = tl_tmpdir("bdd_kill");
    char src[600], dir[600];
    snprintf(src, sizeof src, "%s/src", base);
    snprintf(dir, sizeof dir, "%s/db", base);
    fl_synthetic_options syn = {.n = 60, .seed = 11, .width = 96, .height = 64, .split = FL_SYNTHETIC_MIXED};
    CHECK_OK(fl_synthetic_export(src, &syn, 0, 2, &tl_err));
    /* one undisturbed run into a scratch table gives the time scale of the kills */
    fl_db *probe = open_db(dir);
    fl_ingest_options po = {.commit_every = 4, .threads = 2};
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    CHECK_OK(fl_ingest_bdd100k(probe, "probe", src, &po, NULL, &tl_err));
    clock_gettime(CLOCK_MONOTONIC, &t1);
    fl_db_close(probe);
    uint64_t span_us = (uint64_t)((t1.tv_sec - t0.tv_sec) * 1000000 + (t1.tv_nsec - t0.tv_nsec) / 1000) + 1000;
    const char *paths[2] = {src, dir};
    int kills = tl_kill_rounds(10, span_us, 12345, bdd_child, NULL, (void *)paths);
    fl_db *db = open_db(dir);
    fl_ingest_report r;
    CHECK_OK(fl_ingest_bdd100k(db, "t", src, NULL, &r, &tl_err));
    fl_batch *b = read_table(db, "t");
    if (b) {
        CHECK_EQ_INT(b->num_rows, 60);
        bool seen[60] = {false};
        fl_array *ids = fl_batch_column(b, "image_id");
        for (int64_t i = 0; i < b->num_rows; i++) {
            size_t n;
            const char *id = (const char *)fl_array_get_bytes(ids, i, &n);
            int k = n > 7 ? atoi(id + n - 7) : -1;
            CHECK(k >= 0 && k < 60 && !seen[k]);
            if (k >= 0 && k < 60) seen[k] = true;
        }
    }
    printf("  %d kills; the final run added %lld frames\n", kills, (long long)r.added);
    fl_batch_free(b);
    fl_db_close(db);
}

int main(void) {
    RUN(test_bdd_folder);
    RUN(test_bdd_old_release);
    RUN(test_synthetic);
    RUN(test_bdd_killed_and_rerun);
    return tl_finish("test_footage");
}
