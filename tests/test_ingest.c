/*
 * test_ingest.c — the ingest layer: the JPEG header reader (real JPEGs from libturbojpeg, hand-made marker
 * streams, every truncation of a valid file) and fl_ingest_images on a folder of real JPEGs of several sizes
 * plus a truncated file, a non-JPEG, hidden and non-JPEG names, a nested folder and a duplicate name,
 * checked cell by cell; idempotent re-runs, recursion, strict mode, commit batching, overwrite and append
 * modes, schema checks of an existing table.
 */
#include "testlib.h"

#include "common/common.h"
#include "ingest/ingest.h"

#include <signal.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <turbojpeg.h>
#include <unistd.h>

/* ---- helpers ---- */

static tl_blob read_whole(const char *path) {
    tl_blob b = {0};
    FILE *f = fopen(path, "rb");
    if (!f) return b;
    fseek(f, 0, SEEK_END);
    b.size = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    b.data = malloc(b.size ? b.size : 1);
    if (fread(b.data, 1, b.size, f) != b.size) b.size = 0;
    fclose(f);
    return b;
}

/* Collects the on_file notices as "outcome|message" lines. */
typedef struct notices {
    int count;
    char text[8192];
} notices;

static void collect(void *ctx, fl_ingest_outcome outcome, const char *path, const char *message) {
    notices *n = ctx;
    CHECK(strstr(message, path) == message); /* every message starts with the file it is about */
    n->count++;
    size_t used = strlen(n->text);
    snprintf(n->text + used, sizeof n->text - used, "%d|%s\n", (int)outcome, message);
}

/* Every row of the table (in storage order) with row ids, in one batch; caller frees. */
static fl_batch *read_table(fl_db *db, const char *name) {
    fl_table *t = NULL;
    CHECK_OK(fl_table_open(db, name, NULL, &t, &tl_err));
    if (!t) return NULL;
    int64_t n = fl_table_count_rows(t);
    uint64_t *positions = malloc((size_t)(n + 1) * sizeof *positions);
    for (int64_t i = 0; i < n; i++) positions[i] = (uint64_t)i;
    fl_batch *b = NULL;
    CHECK_OK(fl_table_take_positions(t, positions, (size_t)n, NULL, 0, &b, &tl_err));
    free(positions);
    fl_table_close(t);
    return b;
}

static uint64_t latest_version(fl_db *db, const char *name) {
    fl_table *t = NULL;
    if (fl_table_open(db, name, NULL, &t, &tl_err) != FL_OK) return 0;
    uint64_t v = fl_table_version(t);
    fl_table_close(t);
    return v;
}

static bool table_exists(fl_db *db, const char *name) {
    fl_table *t = NULL;
    fl_error e = {0};
    int rc = fl_table_open(db, name, NULL, &t, &e);
    fl_table_close(t);
    return rc == FL_OK;
}

/* Checks row `row` of b against an image file: id, split, exact bytes, size, source. */
static void check_row(const fl_batch *b, int64_t row, const char *image_id, const char *split, const char *path, int32_t width,
                      int32_t height) {
    if (!b || row >= b->num_rows) {
        CHECK(!"row missing");
        return;
    }
    size_t n;
    const uint8_t *p = fl_array_get_bytes(fl_batch_column(b, "image_id"), row, &n);
    char id[256];
    snprintf(id, sizeof id, "%.*s", (int)n, (const char *)p);
    CHECK_EQ_STR(id, image_id);
    const fl_array *split_col = fl_batch_column(b, "split");
    if (!split) CHECK(fl_array_is_null(split_col, row));
    else {
        p = fl_array_get_bytes(split_col, row, &n);
        CHECK(n == strlen(split) && !memcmp(p, split, n));
    }
    tl_blob file = read_whole(path);
    p = fl_array_get_bytes(fl_batch_column(b, "image_bytes"), row, &n);
    CHECK_EQ_INT(n, file.size);
    CHECK(file.size > 0 && n == file.size && !memcmp(p, file.data, n));
    free(file.data);
    CHECK_EQ_INT(fl_array_get_int(fl_batch_column(b, "width"), row), width);
    CHECK_EQ_INT(fl_array_get_int(fl_batch_column(b, "height"), row), height);
    p = fl_array_get_bytes(fl_batch_column(b, "source"), row, &n);
    char source[1024];
    snprintf(source, sizeof source, "%.*s", (int)n, (const char *)p);
    CHECK_EQ_STR(source, path);
}

/* ---- the JPEG header reader ---- */

static void check_info(const uint8_t *data, size_t size, int want_rc, int32_t want_w, int32_t want_h, int want_c, const char *want_msg) {
    fl_error err = {0};
    int32_t w = -1, h = -1;
    int c = -1;
    int rc = fl_jpeg_info(data, size, "t.jpg", &w, &h, &c, &err);
    CHECK_EQ_INT(rc, want_rc);
    if (want_rc == FL_OK) {
        CHECK_EQ_INT(w, want_w);
        CHECK_EQ_INT(h, want_h);
        CHECK_EQ_INT(c, want_c);
    } else {
        CHECK_EQ_INT(w, -1); /* outputs untouched on failure */
        if (want_msg) CHECK_EQ_STR(err.message, want_msg);
    }
}

static void test_jpeg_real_files(void) {
    struct {
        int w, h;
        bool gray;
        int subsamp, flags, components;
    } cases[] = {
        {1280, 720, false, TJSAMP_420, 0, 3},
        {640, 480, false, TJSAMP_444, 0, 3},
        {33, 17, false, TJSAMP_422, 0, 3},
        {1, 1, true, TJSAMP_GRAY, 0, 1},
        {200, 150, false, TJSAMP_420, TJFLAG_PROGRESSIVE, 3},
        {65, 9, true, TJSAMP_GRAY, TJFLAG_PROGRESSIVE, 1},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        tl_blob j = tl_jpeg(cases[k].w, cases[k].h, cases[k].gray, cases[k].subsamp, cases[k].flags);
        check_info(j.data, j.size, FL_OK, cases[k].w, cases[k].h, cases[k].components, NULL);
        /* Every truncation fails cleanly, with a message naming the input and a byte offset. Each prefix is
         * a heap copy of exactly that size, so ASan would catch a read past its end. */
        int clean = 0, tried = 0;
        /* Every byte through the headers (the first 2 KB), then ~500 cuts spread over the scan data. */
        size_t stride = j.size / 500 + 1;
        for (size_t n = 0; n < j.size; n += n < 2048 ? 1 : stride) {
            uint8_t *prefix = malloc(n ? n : 1);
            memcpy(prefix, j.data, n);
            fl_error err = {0};
            int32_t w = -1;
            int rc = fl_jpeg_info(n ? prefix : NULL, n, "cut.jpg", &w, NULL, NULL, &err);
            tried++;
            if (rc != FL_OK && err.code == rc && !strncmp(err.message, "cut.jpg: byte ", 14) && w == -1) clean++;
            free(prefix);
        }
        CHECK_EQ_INT(clean, tried);
        free(j.data);
    }
}

/* Hand-made marker streams: SOI, optional extra segments, SOF0 (1 component), SOS, 2 bytes of scan, EOI. */
#define SOI 0xFF, 0xD8
#define SOF0(h, w) 0xFF, 0xC0, 0x00, 0x0B, 0x08, (h) >> 8, (h)&0xFF, (w) >> 8, (w)&0xFF, 0x01, 0x01, 0x11, 0x00
#define SOS 0xFF, 0xDA, 0x00, 0x08, 0x01, 0x01, 0x00, 0x00, 0x3F, 0x00, 0x12, 0x34
#define EOI 0xFF, 0xD9
#define INFO(want_rc, w, h, c, msg, ...)                                                                             \
    do {                                                                                                       \
        const uint8_t bytes_[] = {__VA_ARGS__};                                                                \
        check_info(bytes_, sizeof bytes_, want_rc, w, h, c, msg);                                              \
    } while (0)

static void test_jpeg_marker_streams(void) {
    INFO(FL_OK, 300, 200, 1, NULL, SOI, SOF0(200, 300), SOS, EOI);
    /* fill bytes before markers, a comment, an APP0, restart markers and a DRI */
    INFO(FL_OK, 7, 5, 1, NULL, SOI, 0xFF, 0xFF, 0xFF, 0xFE, 0x00, 0x05, 'h', 'i', '!', 0xFF, 0xE0, 0x00, 0x02, 0xFF, 0xD0, 0xFF, 0xDD, 0x00,
         0x04, 0x00, 0x10, SOF0(5, 7), SOS, EOI);
    /* DHT (0xC4), JPG (0xC8) and DAC (0xCC) are in the SOF range but are not frame headers */
    INFO(FL_OK, 9, 8, 1, NULL, SOI, 0xFF, 0xC4, 0x00, 0x0B, 0x08, 0x11, 0x11, 0x22, 0x22, 0x01, 0x01, 0x11, 0x00, 0xFF, 0xCC, 0x00, 0x04,
         0x00, 0x00, SOF0(8, 9), SOS, EOI);
    /* progressive (SOF2) and lossless (SOF3) frames; only the first frame header counts */
    INFO(FL_OK, 4, 3, 1, NULL, SOI, 0xFF, 0xC2, 0x00, 0x0B, 0x08, 0x00, 0x03, 0x00, 0x04, 0x01, 0x01, 0x11, 0x00, SOF0(9, 9), SOS, EOI);
    /* bytes after EOI (e.g. the video of a motion photo) are allowed */
    INFO(FL_OK, 2, 2, 1, NULL, SOI, SOF0(2, 2), SOS, EOI, 0x00, 0x00, 0x00, 0x18, 'f', 't', 'y', 'p');

    check_info(NULL, 0, FL_EINVAL, 0, 0, 0, "t.jpg: byte 0: not a JPEG (no SOI marker)");
    INFO(FL_EINVAL, 0, 0, 0, "t.jpg: byte 0: not a JPEG (no SOI marker)", 0x89, 'P', 'N', 'G', 0x0D, 0x0A);
    INFO(FL_EINVAL, 0, 0, 0, "t.jpg: byte 0: not a JPEG (no SOI marker)", 0xFF);
    INFO(FL_ECORRUPT, 0, 0, 0, "t.jpg: byte 2: truncated before the frame header", SOI);
    INFO(FL_ECORRUPT, 0, 0, 0, "t.jpg: byte 2: no frame header before SOS", SOI, SOS, EOI);
    INFO(FL_ECORRUPT, 0, 0, 0, "t.jpg: byte 2: end of image (EOI) before the frame header", SOI, EOI);
    INFO(FL_ECORRUPT, 0, 0, 0, "t.jpg: byte 15: end of image (EOI) before the first scan (SOS)", SOI, SOF0(2, 2), EOI);
    INFO(FL_ECORRUPT, 0, 0, 0, "t.jpg: byte 2: truncated segment (marker 0xFFE0 declares 256 bytes, 4 remain)", SOI, 0xFF, 0xE0, 0x01,
         0x00, 0x00, 0x00);
    INFO(FL_ECORRUPT, 0, 0, 0, "t.jpg: byte 4: truncated segment length of marker 0xFFE1", SOI, 0xFF, 0xE1, 0x00);
    INFO(FL_ECORRUPT, 0, 0, 0, "t.jpg: byte 4: segment length 1 of marker 0xFFFE is less than 2", SOI, 0xFF, 0xFE, 0x00, 0x01, 0x00);
    INFO(FL_ECORRUPT, 0, 0, 0, "t.jpg: byte 2: expected a marker (0xFF), found 0x12", SOI, 0x12, SOF0(2, 2), SOS, EOI);
    INFO(FL_ECORRUPT, 0, 0, 0, "t.jpg: byte 2: invalid marker 0xFF00 outside scan data", SOI, 0xFF, 0x00, SOF0(2, 2), SOS, EOI);
    INFO(FL_ECORRUPT, 0, 0, 0, "t.jpg: byte 2: truncated: fill bytes without a marker code", SOI, 0xFF, 0xFF, 0xFF);
    INFO(FL_ECORRUPT, 0, 0, 0, "t.jpg: byte 2: unexpected second SOI marker", SOI, SOI, SOF0(2, 2), SOS, EOI);
    INFO(FL_ECORRUPT, 0, 0, 0, "t.jpg: byte 27: truncated: no EOI marker after the scan data", SOI, SOF0(2, 2), SOS);
    INFO(FL_ECORRUPT, 0, 0, 0, "t.jpg: byte 9: frame header has width 0", SOI, SOF0(2, 0), SOS, EOI);
    INFO(FL_EUNSUPPORTED, 0, 0, 0, "t.jpg: byte 7: frame header has height 0 (a height in a DNL marker is not supported)", SOI, SOF0(0, 2),
         SOS, EOI);
    INFO(FL_ECORRUPT, 0, 0, 0, "t.jpg: byte 4: frame header length 11 does not match its 3 components", SOI, 0xFF, 0xC0, 0x00, 0x0B, 0x08,
         0x00, 0x02, 0x00, 0x02, 0x03, 0x01, 0x11, 0x00, SOS, EOI);
    INFO(FL_ECORRUPT, 0, 0, 0, "t.jpg: byte 11: frame header has no components", SOI, 0xFF, 0xC0, 0x00, 0x08, 0x08, 0x00, 0x02, 0x00, 0x02,
         0x00, SOS, EOI);
    INFO(FL_ECORRUPT, 0, 0, 0, "t.jpg: byte 4: frame header too short (5 bytes)", SOI, 0xFF, 0xC1, 0x00, 0x05, 0x08, 0x00, 0x02, SOS, EOI);
}

/* ---- folder ingest ---- */

typedef struct fixture {
    char dir[512];
    char path_a[600], path_b[600], path_c[600], path_d[600], path_sub_a[600], path_trunc[600], path_text[600];
} fixture;

/*
 * dir/a.jpg 1280x720 · dir/b.jpeg 640x480 · dir/C.JPG 200x150 progressive · dir/bad_trunc.jpg (the first
 * half of a 640x480) · dir/notjpeg.jpg (text) · dir/readme.txt · dir/.hidden.jpg · dir/sub/a.jpg 16x16
 * (same image_id as dir/a.jpg) · dir/sub/d.jpg 100x50 gray.
 */
static void make_fixture(fixture *f, const char *tag) {
    snprintf(f->dir, sizeof f->dir, "%s/images", tl_tmpdir(tag));
    CHECK_EQ_INT(tl_sh("mkdir -p '%s/sub'", f->dir), 0);
    snprintf(f->path_a, sizeof f->path_a, "%s/a.jpg", f->dir);
    snprintf(f->path_b, sizeof f->path_b, "%s/b.jpeg", f->dir);
    snprintf(f->path_c, sizeof f->path_c, "%s/C.JPG", f->dir);
    snprintf(f->path_d, sizeof f->path_d, "%s/sub/d.jpg", f->dir);
    snprintf(f->path_sub_a, sizeof f->path_sub_a, "%s/sub/a.jpg", f->dir);
    snprintf(f->path_trunc, sizeof f->path_trunc, "%s/bad_trunc.jpg", f->dir);
    snprintf(f->path_text, sizeof f->path_text, "%s/notjpeg.jpg", f->dir);
    tl_blob j = tl_jpeg(1280, 720, false, TJSAMP_420, 0);
    tl_write_file(f->path_a, j.data, j.size);
    free(j.data);
    j = tl_jpeg(640, 480, false, TJSAMP_444, 0);
    tl_write_file(f->path_b, j.data, j.size);
    tl_write_file(f->path_trunc, j.data, j.size / 2);
    free(j.data);
    j = tl_jpeg(200, 150, false, TJSAMP_420, TJFLAG_PROGRESSIVE);
    tl_write_file(f->path_c, j.data, j.size);
    free(j.data);
    j = tl_jpeg(16, 16, false, TJSAMP_444, 0);
    tl_write_file(f->path_sub_a, j.data, j.size);
    free(j.data);
    j = tl_jpeg(100, 50, true, TJSAMP_GRAY, 0);
    tl_write_file(f->path_d, j.data, j.size);
    free(j.data);
    tl_write_file(f->path_text, "not an image\n", 13);
    char path[600];
    snprintf(path, sizeof path, "%s/readme.txt", f->dir);
    tl_write_file(path, "hello\n", 6);
    snprintf(path, sizeof path, "%s/.hidden.jpg", f->dir);
    tl_write_file(path, "junk", 4);
}

static fl_db *open_db(const char *tag) {
    char path[600];
    snprintf(path, sizeof path, "%s/db", tl_tmpdir(tag));
    fl_db *db = NULL;
    CHECK_OK(fl_db_open(path, FL_OPEN_CREATE, &db, &tl_err));
    return db;
}

static void test_ingest_folder(void) {
    fixture f;
    make_fixture(&f, "ingest");
    fl_db *db = open_db("ingest-db");
    notices seen = {0};
    fl_ingest_options o = {.split = "train", .on_file = collect, .on_file_ctx = &seen};
    fl_ingest_report r;
    CHECK_OK(fl_ingest_images(db, "frames", f.dir, &o, &r, &tl_err));
    CHECK_EQ_INT(r.added, 3);
    CHECK_EQ_INT(r.skipped, 0);
    CHECK_EQ_INT(r.duplicates, 0);
    CHECK_EQ_INT(r.failed, 2);
    CHECK_EQ_INT(r.commits, 2); /* create + one append */
    CHECK_EQ_INT(r.version, 2);
    tl_blob trunc = read_whole(f.path_trunc);
    char want[2048];
    snprintf(want, sizeof want, "3|%s: truncated: no EOI marker after the scan data\n3|%s: byte 0: not a JPEG (no SOI marker)\n",
             f.path_trunc, f.path_text);
    /* the truncated file's message carries the byte offset of its end */
    snprintf(want, sizeof want, "3|%s: byte %zu: truncated: no EOI marker after the scan data\n3|%s: byte 0: not a JPEG (no SOI marker)\n",
             f.path_trunc, trunc.size, f.path_text);
    free(trunc.data);
    CHECK_EQ_STR(seen.text, want);

    /* Byte order of names: "C.JPG" < "a.jpg" < "b.jpeg". */
    fl_batch *b = read_table(db, "frames");
    CHECK(b && b->num_rows == 3);
    check_row(b, 0, "C", "train", f.path_c, 200, 150);
    check_row(b, 1, "a", "train", f.path_a, 1280, 720);
    check_row(b, 2, "b", "train", f.path_b, 640, 480);
    char *schema = b ? fl_schema_format(b->schema) : NULL;
    CHECK_EQ_STR(schema, "image_id string not null, split string, image_bytes binary, width int32, height int32, source string");
    free(schema);
    fl_batch_free(b);

    /* Idempotent: a re-run adds nothing and commits nothing. */
    memset(&seen, 0, sizeof seen);
    CHECK_OK(fl_ingest_images(db, "frames", f.dir, &o, &r, &tl_err));
    CHECK_EQ_INT(r.added, 0);
    CHECK_EQ_INT(r.skipped, 3);
    CHECK_EQ_INT(r.failed, 2);
    CHECK_EQ_INT(r.commits, 0);
    CHECK_EQ_INT(r.version, 2);
    CHECK(strstr(seen.text, "1|") != NULL && strstr(seen.text, "a.jpg: image_id 'a' is already in table 'frames'") != NULL);
    CHECK_EQ_INT(latest_version(db, "frames"), 2);

    /* Recursive: sub/d.jpg is new; sub/a.jpg has an image_id the table holds. */
    o.recursive = true;
    o.split = NULL;
    CHECK_OK(fl_ingest_images(db, "frames", f.dir, &o, &r, &tl_err));
    CHECK_EQ_INT(r.added, 1);
    CHECK_EQ_INT(r.skipped, 4);
    CHECK_EQ_INT(r.version, 3);
    b = read_table(db, "frames");
    CHECK(b && b->num_rows == 4);
    check_row(b, 3, "d", NULL, f.path_d, 100, 50);
    fl_batch_free(b);

    /* A fresh table, recursive: sub/a.jpg duplicates a.jpg (taken first in walk order). */
    memset(&seen, 0, sizeof seen);
    CHECK_OK(fl_ingest_images(db, "fresh", f.dir, &o, &r, &tl_err));
    CHECK_EQ_INT(r.added, 4);
    CHECK_EQ_INT(r.duplicates, 1);
    CHECK_EQ_INT(r.failed, 2);
    snprintf(want, sizeof want, "2|%s: duplicate image_id 'a' (already taken from %s)\n", f.path_sub_a, f.path_a);
    CHECK(strstr(seen.text, want) != NULL);
    b = read_table(db, "fresh");
    CHECK(b && b->num_rows == 4);
    check_row(b, 1, "a", NULL, f.path_a, 1280, 720);
    check_row(b, 3, "d", NULL, f.path_d, 100, 50);
    fl_batch_free(b);
    fl_db_close(db);
}

static void test_ingest_strict_and_batches(void) {
    fixture f;
    make_fixture(&f, "strict");
    fl_db *db = open_db("strict-db");
    fl_ingest_report r;
    fl_error err = {0};
    /* Strict: the first problem ends the run and nothing is created, whether or not it would batch. */
    for (int every = 0; every <= 1; every++) {
        fl_ingest_options o = {.strict = true, .commit_every = every};
        CHECK_EQ_INT(fl_ingest_images(db, "s", f.dir, &o, &r, &err), FL_ECORRUPT);
        char want[1024];
        tl_blob trunc = read_whole(f.path_trunc);
        snprintf(want, sizeof want, "strict: %s: byte %zu: truncated: no EOI marker after the scan data", f.path_trunc, trunc.size);
        free(trunc.data);
        CHECK_EQ_STR(err.message, want);
        CHECK_EQ_INT(r.added, 0);
        CHECK_EQ_INT(r.commits, 0);
        CHECK(!table_exists(db, "s"));
    }
    /* Strict with commit_every on a clean folder: the pre-check finds nothing, then one commit per row. */
    CHECK_EQ_INT(tl_sh("rm '%s' '%s'", f.path_trunc, f.path_text), 0);
    fl_ingest_options o = {.strict = true, .commit_every = 1};
    CHECK_OK(fl_ingest_images(db, "s", f.dir, &o, &r, &tl_err));
    CHECK_EQ_INT(r.added, 3);
    CHECK_EQ_INT(r.commits, 4);
    CHECK_EQ_INT(r.version, 4);
    /* Strict: a duplicate inside the folder is a problem too (found by the pre-check: nothing committed). */
    o.recursive = true;
    CHECK_EQ_INT(fl_ingest_images(db, "s2", f.dir, &o, &r, &err), FL_EINVAL);
    CHECK(strstr(err.message, "strict: ") == err.message && strstr(err.message, "duplicate image_id 'a'") != NULL);
    CHECK(!table_exists(db, "s2"));
    /* commit_every 2 over 4 new images: two appends; a byte budget of 1 forces one commit per image. */
    fl_ingest_options batched = {.recursive = true, .commit_every = 2};
    CHECK_OK(fl_ingest_images(db, "b2", f.dir, &batched, &r, &tl_err));
    CHECK_EQ_INT(r.added, 4);
    CHECK_EQ_INT(r.commits, 3);
    fl_ingest_options tiny = {.max_batch_bytes = 1};
    CHECK_OK(fl_ingest_images(db, "b1", f.dir, &tiny, &r, &tl_err));
    CHECK_EQ_INT(r.added, 3);
    CHECK_EQ_INT(r.commits, 4);
    fl_batch *b = read_table(db, "b1");
    CHECK(b && b->num_rows == 3);
    check_row(b, 2, "b", NULL, f.path_b, 640, 480);
    fl_batch_free(b);
    fl_db_close(db);
}

static void test_ingest_modes(void) {
    fixture f;
    make_fixture(&f, "modes");
    fl_db *db = open_db("modes-db");
    fl_ingest_report r;
    CHECK_OK(fl_ingest_images(db, "m", f.dir, NULL, &r, &tl_err));
    CHECK_EQ_INT(r.added, 3);
    /* Append mode adds the same images again. */
    fl_ingest_options o = {.mode = FL_INGEST_APPEND};
    CHECK_OK(fl_ingest_images(db, "m", f.dir, &o, &r, &tl_err));
    CHECK_EQ_INT(r.added, 3);
    CHECK_EQ_INT(r.skipped, 0);
    fl_batch *b = read_table(db, "m");
    CHECK(b && b->num_rows == 6);
    fl_batch_free(b);
    /* Overwrite: a.jpg changes; every row with a re-ingested image_id (both copies) is replaced. */
    tl_blob j = tl_jpeg(320, 240, false, TJSAMP_420, 0);
    tl_write_file(f.path_a, j.data, j.size);
    free(j.data);
    o.mode = FL_INGEST_OVERWRITE;
    o.split = "val";
    CHECK_OK(fl_ingest_images(db, "m", f.dir, &o, &r, &tl_err));
    CHECK_EQ_INT(r.added, 3);
    CHECK_EQ_INT(r.commits, 2); /* append, then delete the 6 replaced rows */
    b = read_table(db, "m");
    CHECK(b && b->num_rows == 3);
    check_row(b, 0, "C", "val", f.path_c, 200, 150);
    check_row(b, 1, "a", "val", f.path_a, 320, 240);
    check_row(b, 2, "b", "val", f.path_b, 640, 480);
    if (b) CHECK_EQ_INT(b->row_ids[0], 6); /* new row ids; the old ones are gone */
    fl_batch_free(b);
    /* Unknown mode. */
    o.mode = 7;
    CHECK_EQ_INT(fl_ingest_images(db, "m", f.dir, &o, &r, &tl_err), FL_EINVAL);
    fl_db_close(db);
}

static void test_ingest_existing_tables(void) {
    fixture f;
    make_fixture(&f, "schemas");
    fl_db *db = open_db("schemas-db");
    fl_error err = {0};
    fl_ingest_report r;
    fl_schema *s = NULL;
    /* Extra nullable columns are filled NULL. */
    CHECK_OK(fl_schema_parse("weather string, image_id string not null, split string, image_bytes binary, width int32, height int32, "
                             "source string, num_annotations int32",
                             &s, &tl_err));
    CHECK_OK(fl_table_create(db, "wide", s, NULL, &tl_err));
    fl_schema_free(s);
    CHECK_OK(fl_ingest_images(db, "wide", f.dir, NULL, &r, &tl_err));
    CHECK_EQ_INT(r.added, 3);
    fl_batch *b = read_table(db, "wide");
    CHECK(b && b->num_rows == 3);
    if (b) CHECK(fl_array_is_null(fl_batch_column(b, "weather"), 0) && fl_array_is_null(fl_batch_column(b, "num_annotations"), 2));
    check_row(b, 1, "a", NULL, f.path_a, 1280, 720);
    fl_batch_free(b);
    /* A wrong type, a missing column, a not-null column ingest cannot fill. */
    CHECK_OK(fl_schema_parse("image_id string not null, split string, image_bytes binary, width int64, height int32, source string", &s,
                             &tl_err));
    CHECK_OK(fl_table_create(db, "wrongtype", s, NULL, &tl_err));
    fl_schema_free(s);
    CHECK_EQ_INT(fl_ingest_images(db, "wrongtype", f.dir, NULL, &r, &err), FL_ETYPE);
    CHECK_EQ_STR(err.message, "table 'wrongtype': column 'width' is int64, ingest images needs int32");
    CHECK_OK(fl_schema_parse("image_id string not null, image_bytes binary", &s, &tl_err));
    CHECK_OK(fl_table_create(db, "narrow", s, NULL, &tl_err));
    fl_schema_free(s);
    CHECK_EQ_INT(fl_ingest_images(db, "narrow", f.dir, NULL, &r, &err), FL_EINVAL);
    CHECK(strstr(err.message, "table 'narrow' has no column 'split'") == err.message);
    CHECK_OK(fl_schema_parse("image_id string not null, split string, image_bytes binary, width int32, height int32, source string, "
                             "weather string not null",
                             &s, &tl_err));
    CHECK_OK(fl_table_create(db, "notnull", s, NULL, &tl_err));
    fl_schema_free(s);
    CHECK_EQ_INT(fl_ingest_images(db, "notnull", f.dir, NULL, &r, &err), FL_EINVAL);
    CHECK_EQ_STR(err.message, "table 'notnull': column 'weather' is not null, and ingest images cannot fill it");
    CHECK_EQ_INT(latest_version(db, "notnull"), 1);
    /* An empty folder still creates the table; a missing folder is an error and creates nothing. */
    char empty[600];
    snprintf(empty, sizeof empty, "%s/empty", tl_tmpdir("schemas-empty"));
    CHECK_EQ_INT(tl_sh("mkdir -p '%s'", empty), 0);
    CHECK_OK(fl_ingest_images(db, "nothing", empty, NULL, &r, &tl_err));
    CHECK_EQ_INT(r.added, 0);
    CHECK_EQ_INT(r.version, 1);
    CHECK(table_exists(db, "nothing"));
    char missing[700];
    snprintf(missing, sizeof missing, "%s/nope", empty);
    CHECK_EQ_INT(fl_ingest_images(db, "missing", missing, NULL, &r, &err), FL_ENOTFOUND);
    CHECK(strstr(err.message, "ingest images: cannot read directory ") == err.message);
    CHECK(!table_exists(db, "missing"));
    fl_db_close(db);
}

/* Every allocation of a run failing in turn: a clean error (or success), never a crash or leak (ASan). */
static void test_ingest_allocation_failures(void) {
    fixture f;
    make_fixture(&f, "oom");
    CHECK_EQ_INT(tl_sh("rm '%s'", f.path_text), 0);
    fl_db *db = open_db("oom-db");
    int attempts = 0, failed_cleanly = 0;
    for (long n = 1; n < 100000; n++) {
        char name[32];
        snprintf(name, sizeof name, "t%ld", n);
        fl_error err = {0};
        fl_ingest_report r;
        fl_ingest_options o = {.split = "train"};
        fl_alloc_fail_after(n);
        int rc = fl_ingest_images(db, name, f.dir, &o, &r, &err);
        fl_alloc_fail_after(0);
        attempts++;
        if (rc == FL_OK) break;
        if (err.code == rc && err.message[0]) failed_cleanly++;
        else fprintf(stderr, "  n=%ld: rc %d, err.code %d, message \"%s\"\n", n, rc, err.code, err.message);
    }
    CHECK(attempts > 10);
    CHECK_EQ_INT(failed_cleanly, attempts - 1);
    fl_db_close(db);
}

/* Counts each frame-NNN image_id of the table; returns the number of ids seen more than once. */
static int count_frames(fl_db *db, int *seen, int n) {
    memset(seen, 0, (size_t)n * sizeof *seen);
    if (!table_exists(db, "t")) return 0;
    fl_batch *b = read_table(db, "t");
    int dups = 0;
    const fl_array *ids = b ? fl_batch_column(b, "image_id") : NULL;
    for (int64_t r = 0; ids && r < b->num_rows; r++) {
        size_t len;
        const uint8_t *p = fl_array_get_bytes(ids, r, &len);
        int k = -1; /* ids are "frame-NNN"; the bytes are not NUL-terminated */
        if (len == 9 && !memcmp(p, "frame-", 6)) k = (p[6] - '0') * 100 + (p[7] - '0') * 10 + (p[8] - '0');
        CHECK(k >= 0 && k < n);
        if (k >= 0 && k < n && seen[k]++) dups++;
    }
    fl_batch_free(b);
    return dups;
}

/* kill -9 at random moments of an ingest that commits every 7 rows, then re-runs: every frame ends up
 * exactly once, and no state in between ever holds a frame twice. */
typedef struct kill_ctx {
    fl_db *db;
    const char *dbdir, *folder;
    int *seen, n;
} kill_ctx;

static void ingest_child(void *ctx) {
    kill_ctx *k = ctx;
    fl_db *cdb;
    fl_error e = {0};
    fl_ingest_options o = {.commit_every = 7};
    if (fl_db_open(k->dbdir, 0, &cdb, &e) || fl_ingest_images(cdb, "t", k->folder, &o, NULL, &e)) _exit(3);
}

/* After each kill: the table opens and holds no frame twice. */
static void check_frames_once(void *ctx) {
    kill_ctx *k = ctx;
    CHECK_EQ_INT(count_frames(k->db, k->seen, k->n), 0);
}

static void test_ingest_killed_and_rerun(void) {
    const char *dir = tl_tmpdir("ingest-kill");
    char folder[600], dbdir[600];
    snprintf(folder, sizeof folder, "%s/frames", dir);
    snprintf(dbdir, sizeof dbdir, "%s/db", dir);
    mkdir(folder, 0755);
    enum { N = 300 };
    tl_blob jpg = tl_jpeg(160, 120, false, TJSAMP_420, 0);
    for (int i = 0; i < N; i++) {
        char path[700];
        snprintf(path, sizeof path, "%s/frame-%03d.jpg", folder, i);
        tl_write_file(path, jpg.data, jpg.size);
    }
    free(jpg.data);
    fl_db *db = NULL;
    CHECK_OK(fl_db_open(dbdir, FL_OPEN_CREATE, &db, &tl_err));
    static int seen[N];
    kill_ctx k = {.db = db, .dbdir = dbdir, .folder = folder, .seen = seen, .n = N};
    int kills = tl_kill_rounds(25, 300000, (uint64_t)time(NULL), ingest_child, check_frames_once, &k);
    fl_ingest_options o = {.commit_every = 7};
    fl_ingest_report r;
    CHECK_OK(fl_ingest_images(db, "t", folder, &o, &r, &tl_err));
    CHECK_EQ_INT(count_frames(db, seen, N), 0);
    int missing = 0;
    for (int i = 0; i < N; i++) missing += seen[i] != 1;
    CHECK_EQ_INT(missing, 0);
    fprintf(stderr, "  %d kills; the final run added %lld frames\n", kills, (long long)r.added);
    CHECK(kills > 0);
    fl_db_close(db);
}

int main(void) {
    RUN(test_jpeg_real_files);
    RUN(test_jpeg_marker_streams);
    RUN(test_ingest_folder);
    RUN(test_ingest_strict_and_batches);
    RUN(test_ingest_modes);
    RUN(test_ingest_existing_tables);
    RUN(test_ingest_allocation_failures);
    RUN(test_ingest_killed_and_rerun);
    return tl_finish("test_ingest");
}
