/*
 * test_bdd_labels.c — the BDD100K label reader and writer (src/ingest/bdd_labels.c, json_stream.c): a det_20
 * fixture with every edge case checked field by field (missing/null labels and attributes, escapes and
 * unicode in names, unknown keys with nested values, lanes without box2d, unknown categories, bad and
 * degenerate boxes, every traffic light color, labels before the name), the older release with category
 * mapping, identical results whatever the read chunk size (down to 1 byte), malformed and wrong-shaped
 * inputs each with its exact message and byte offset, the limits, I/O errors, strict mode through the warn
 * callback, writer round trips with float32 exactness, and peak memory that does not grow with the file.
 *
 * Fixtures are written with single quotes for readability; json() turns them into double quotes.
 */
#include "testlib.h"

#include "common/common.h"
#include "ingest/bdd.h"

#include <math.h>
#include <stdint.h>

/* ---- helpers ---- */

/* A fixture in single-quote style as real JSON (caller frees). */
static char *json(const char *s) {
    char *out = strdup(s);
    for (char *p = out; *p; p++)
        if (*p == '\'') *p = '"';
    return out;
}

/* A byte source over memory, returning at most `chunk` bytes per call; fails after fail_at bytes if set. */
typedef struct mem_source {
    const char *data;
    size_t size, pos, chunk;
    size_t fail_at;             /* 0: never */
    int calls;
} mem_source;

static int64_t mem_read(void *ctx, void *buf, size_t size, const char **why) {
    mem_source *m = ctx;
    m->calls++;
    if (m->fail_at && m->pos >= m->fail_at) {
        *why = "disk on fire";
        return -1;
    }
    size_t n = m->size - m->pos;
    if (n > size) n = size;
    if (m->chunk && n > m->chunk) n = m->chunk;
    if (m->fail_at && n > m->fail_at - m->pos) n = m->fail_at - m->pos;
    memcpy(buf, m->data + m->pos, n);
    m->pos += n;
    return (int64_t)n;
}

/* Warnings collected one per line; stop_code returned from the stop_at-th warning on (1-based; 0: never). */
typedef struct warnings {
    char text[16384];
    int count;
    int stop_at, stop_code;
} warnings;

static int collect_warning(void *ctx, const char *message) {
    warnings *w = ctx;
    w->count++;
    size_t used = strlen(w->text);
    snprintf(w->text + used, sizeof w->text - used, "%s\n", message);
    return w->stop_at && w->count >= w->stop_at ? w->stop_code : FL_OK;
}

/* The outcome of reading a whole input. */
typedef struct parsed {
    fl_frame frames[64];
    uint64_t offsets[64];
    int n;
    int rc;                     /* of the call that ended the parse */
    fl_error err;
    warnings w;
} parsed;

static void parse(parsed *p, const char *text, size_t size, size_t chunk, int stop_at, int stop_code) {
    memset(p, 0, sizeof *p);
    p->w.stop_at = stop_at;
    p->w.stop_code = stop_code;
    mem_source src = {.data = text, .size = size, .chunk = chunk};
    fl_bdd_reader *r = NULL;
    p->rc = fl_bdd_reader_open("det.json", mem_read, &src, collect_warning, &p->w, &r, &p->err);
    CHECK_EQ_INT(p->rc, FL_OK);
    if (p->rc != FL_OK) return;
    for (;;) {
        bool got = false;
        fl_frame f = {0};
        p->rc = fl_bdd_reader_next(r, &f, &got, &p->err);
        if (p->rc != FL_OK || !got) {
            CHECK(!got && f.name == NULL && f.n_labels == 0);
            fl_frame_clear(&f);
            break;
        }
        if (p->n == 64) {
            fl_frame_clear(&f);
            CHECK(!"too many frames for the test");
            break;
        }
        p->offsets[p->n] = fl_bdd_reader_frame_offset(r);
        p->frames[p->n++] = f;
    }
    if (p->rc == FL_OK) {
        /* The end is sticky. */
        bool got = true;
        fl_frame f = {0};
        CHECK_EQ_INT(fl_bdd_reader_next(r, &f, &got, NULL), FL_OK);
        CHECK(!got);
    } else {
        /* So is an error, with the same code. */
        bool got = true;
        fl_frame f = {0};
        fl_error again = {0};
        CHECK_EQ_INT(fl_bdd_reader_next(r, &f, &got, &again), p->rc);
        CHECK(!got);
        CHECK_EQ_STR(again.message, "det.json: the reader stopped at an earlier error");
    }
    fl_bdd_reader_free(r);
}

static void parsed_free(parsed *p) {
    for (int i = 0; i < p->n; i++) fl_frame_clear(&p->frames[i]);
    p->n = 0;
}

static bool str_eq(const char *a, const char *b) { return (!a && !b) || (a && b && strcmp(a, b) == 0); }

static bool float_same(float a, float b) { return memcmp(&a, &b, sizeof a) == 0; }

static bool frame_eq(const fl_frame *a, const fl_frame *b) {
    if (!str_eq(a->name, b->name) || !str_eq(a->weather, b->weather) || !str_eq(a->scene, b->scene) ||
        !str_eq(a->timeofday, b->timeofday) || a->has_timestamp != b->has_timestamp || a->n_labels != b->n_labels)
        return false;
    if (a->has_timestamp && a->timestamp != b->timestamp) return false;
    for (size_t i = 0; i < a->n_labels; i++) {
        const fl_label *x = &a->labels[i], *y = &b->labels[i];
        if (!str_eq(x->category, y->category) || x->occluded != y->occluded || x->truncated != y->truncated ||
            !str_eq(x->traffic_light_color, y->traffic_light_color))
            return false;
        for (int k = 0; k < 4; k++)
            if (!float_same(x->box[k], y->box[k])) return false;
    }
    return true;
}

/* Same frames, same warnings, same outcome. */
static bool parsed_eq(const parsed *a, const parsed *b) {
    if (a->n != b->n || a->rc != b->rc || strcmp(a->err.message, b->err.message) != 0 || strcmp(a->w.text, b->w.text) != 0)
        return false;
    for (int i = 0; i < a->n; i++)
        if (!frame_eq(&a->frames[i], &b->frames[i]) || a->offsets[i] != b->offsets[i]) return false;
    return true;
}

#define CHECK_STR_OR_NULL(a, b)                                                                                \
    do {                                                                                                       \
        const char *x_ = (a), *y_ = (b);                                                                       \
        if (!str_eq(x_, y_)) {                                                                                 \
            fprintf(stderr, "  %s:%d: %s == %s%s%s, expected %s%s%s\n", __FILE__, __LINE__, #a, x_ ? "\"" : "",   \
                    x_ ? x_ : "NULL", x_ ? "\"" : "", y_ ? "\"" : "", y_ ? y_ : "NULL", y_ ? "\"" : "");       \
            tl_failures++;                                                                                     \
        }                                                                                                      \
    } while (0)

static void check_frame(const fl_frame *f, const char *name, const char *weather, const char *scene,
                        const char *timeofday, bool has_timestamp, int64_t timestamp, size_t n_labels) {
    CHECK_STR_OR_NULL(f->name, name);
    CHECK_STR_OR_NULL(f->weather, weather);
    CHECK_STR_OR_NULL(f->scene, scene);
    CHECK_STR_OR_NULL(f->timeofday, timeofday);
    CHECK_EQ_INT(f->has_timestamp, has_timestamp);
    if (has_timestamp) CHECK_EQ_INT(f->timestamp, timestamp);
    CHECK_EQ_INT(f->n_labels, n_labels);
}

static void check_label(const fl_frame *f, size_t i, const char *category, float x1, float y1, float x2, float y2,
                        bool occluded, bool truncated, const char *color) {
    if (i >= f->n_labels) {
        fprintf(stderr, "  label %zu of %s missing\n", i, f->name);
        tl_failures++;
        return;
    }
    const fl_label *l = &f->labels[i];
    CHECK_EQ_STR(l->category, category);
    float box[4] = {x1, y1, x2, y2};
    for (int k = 0; k < 4; k++)
        if (!float_same(l->box[k], box[k])) {
            fprintf(stderr, "  %s label %zu box[%d] = %.9g, expected %.9g\n", f->name, i, k, (double)l->box[k], (double)box[k]);
            tl_failures++;
        }
    CHECK_EQ_INT(l->occluded, occluded);
    CHECK_EQ_INT(l->truncated, truncated);
    CHECK_STR_OR_NULL(l->traffic_light_color, color);
}

/* Offset of the first occurrence of `needle` in text (at or after `from`), for expected messages. */
static size_t offset_of(const char *text, const char *needle, size_t from) {
    const char *p = strstr(text + from, needle);
    CHECK(p != NULL);
    return p ? (size_t)(p - text) : 0;
}

/* ---- the det_20 fixture ---- */

static const char det20_fixture[] =
    "[\n"
    "{'name': 'a.jpg', 'attributes': {'weather': 'clear', 'scene': 'highway', 'timeofday': 'night'}, 'timestamp': 10000,\n"
    " 'labels': [\n"
    "  {'id': '0', 'category': 'car', 'attributes': {'occluded': true, 'truncated': false, 'trafficLightColor': 'NA', 'crowd': false},\n"
    "   'box2d': {'x1': 1000.7, 'y1': 281.3, 'x2': 1040.1, 'y2': 326.7}},\n"
    "  {'id': '1', 'category': 'traffic light', 'attributes': {'occluded': false, 'truncated': true, 'trafficLightColor': 'G'},\n"
    "   'box2d': {'x1': 1, 'y1': 2, 'x2': 3, 'y2': 4}},\n"
    "  {'id': '2', 'category': 'traffic light', 'attributes': {'trafficLightColor': 'Y'}, 'box2d': {'y2': 4, 'x2': 3, 'y1': 2, 'x1': 1}},\n"
    "  {'id': '3', 'category': 'traffic light', 'attributes': {'trafficLightColor': 'R'}, 'box2d': {'x1': 0, 'y1': 0, 'x2': 0, 'y2': 0}},\n"
    "  {'id': '4', 'category': 'traffic light', 'attributes': {'trafficLightColor': 'green'},\n"
    "   'box2d': {'x1': -1.5e1, 'y1': 2E-1, 'x2': 1e+2, 'y2': 0.5}},\n"
    "  {'id': '5', 'category': 'traffic light', 'attributes': {'trafficLightColor': 'yellow'}, 'box2d': {'x1': 1, 'y1': 2, 'x2': 3, 'y2': 4}},\n"
    "  {'id': '6', 'category': 'traffic light', 'attributes': {'trafficLightColor': 'red', 'occluded': null},\n"
    "   'box2d': {'x1': 1, 'y1': 2, 'x2': 3, 'y2': 4}},\n"
    "  {'id': '7', 'category': 'traffic light', 'attributes': {'trafficLightColor': 'none'}, 'box2d': {'x1': 1, 'y1': 2, 'x2': 3, 'y2': 4}},\n"
    "  {'id': '8', 'category': 'traffic light', 'attributes': {'trafficLightColor': 'blue'}, 'box2d': {'x1': 1, 'y1': 2, 'x2': 3, 'y2': 4}},\n"
    "  {'id': '9', 'category': 'lane', 'attributes': {'laneDirection': 'parallel'},\n"
    "   'poly2d': [{'vertices': [[1.5, 2], [3, 4]], 'types': 'LL', 'closed': false}]},\n"
    "  {'id': '10', 'category': 'unicorn', 'box2d': {'x1': 1, 'y1': 2, 'x2': 3, 'y2': 4}},\n"
    "  {'id': '11', 'category': 'car', 'box2d': {'x1': 10, 'y1': 10, 'x2': 5, 'y2': 20}},\n"
    "  {'id': '12', 'category': 'car', 'box2d': {'x1': 1, 'y1': 2, 'x2': 3}},\n"
    "  {'id': '13', 'category': 'car', 'box2d': {'x1': '1', 'y1': 2, 'x2': 3, 'y2': 4}},\n"
    "  {'id': '14', 'category': 'car', 'box2d': {'x1': 1e39, 'y1': 2, 'x2': 3, 'y2': 4}},\n"
    "  {'category': 'bus', 'box2d': {'x1': 5, 'y1': 6, 'x2': 7, 'y2': 8}, 'attributes': {'truncated': true}},\n"
    "  {'category': 'bogus', 'box2d': {'x1': 1, 'y1': 2, 'x2': 3, 'y2': 4}},\n"
    "  {'id': 17, 'category': 'car', 'box2d': {'x1': 1, 'y1': 2, 'x2': 3, 'y2': 4}, 'attributes': {'occluded': 'yes'}},\n"
    "  {'id': '18', 'category': 'car', 'box2d': {'x1': 1, 'y1': 2, 'x2': 3, 'y2': 1}},\n"
    "  {'id': '19', 'category': 'truck', 'box2d': null}\n"
    " ]},\n"
    "{'name': 'b.jpg'},\n"
    "{'name': 'c.jpg', 'labels': null, 'attributes': null, 'timestamp': null},\n"
    "{'name': 'd\\u00e9\\uD83D\\uDE00 \\'q\\' \\\\ \xc3\xa9.jpg', 'labels': [], 'attributes': {'timeofday': 'dawn\\/dusk'}},\n"
    "{'unknown': {'a': [1, {'b': [true, false, null, -1.5e-3, 'x\\u0041', []]}, []], 'c': {}}, 'name': 'e.jpg',\n"
    " 'attributes': {'weather': 'rainy', 'extra': [1, {'k': 'v'}], 'scene': null}, 'timestamp': 1.5e3,\n"
    " 'labels': [{'category': 'person', 'box2d': {'x1': 1, 'y1': 2, 'x2': 3, 'y2': 4, 'z': [0]}}]},\n"
    "{'labels': [{'id': 'x', 'category': 'unicorn', 'box2d': {'x1': 1, 'y1': 2, 'x2': 3, 'y2': 4}}], 'name': 'f.jpg', 'timestamp': -5}\n"
    "]\n";

static void check_det20_frames(const parsed *p, const char *text) {
    CHECK_EQ_INT(p->rc, FL_OK);
    CHECK_EQ_INT(p->n, 6);
    if (p->n != 6) return;
    const fl_frame *f = &p->frames[0];
    check_frame(f, "a.jpg", "clear", "highway", "night", true, 10000, 10);
    check_label(f, 0, "car", 1000.7f, 281.3f, 1040.1f, 326.7f, true, false, NULL);
    check_label(f, 1, "traffic light", 1, 2, 3, 4, false, true, "green");
    check_label(f, 2, "traffic light", 1, 2, 3, 4, false, false, "yellow");
    check_label(f, 3, "traffic light", 0, 0, 0, 0, false, false, "red");
    check_label(f, 4, "traffic light", -15, 0.2f, 100, 0.5f, false, false, "green");
    check_label(f, 5, "traffic light", 1, 2, 3, 4, false, false, "yellow");
    check_label(f, 6, "traffic light", 1, 2, 3, 4, false, false, "red");
    check_label(f, 7, "traffic light", 1, 2, 3, 4, false, false, NULL);
    check_label(f, 8, "traffic light", 1, 2, 3, 4, false, false, NULL);
    check_label(f, 9, "bus", 5, 6, 7, 8, false, true, NULL);
    check_frame(&p->frames[1], "b.jpg", NULL, NULL, NULL, false, 0, 0);
    check_frame(&p->frames[2], "c.jpg", NULL, NULL, NULL, false, 0, 0);
    check_frame(&p->frames[3], "d\xc3\xa9\xf0\x9f\x98\x80 \"q\" \\ \xc3\xa9.jpg", NULL, NULL, "dawn/dusk", false, 0, 0);
    check_frame(&p->frames[4], "e.jpg", "rainy", NULL, NULL, true, 1500, 1);
    check_label(&p->frames[4], 0, "pedestrian", 1, 2, 3, 4, false, false, NULL);
    check_frame(&p->frames[5], "f.jpg", NULL, NULL, NULL, true, -5, 0);

    /* Each frame's offset is its '{'. */
    const char *starts[6] = {"{'name': 'a.jpg'", "{'name': 'b.jpg'", "{'name': 'c.jpg'", "{'name': 'd", "{'unknown'", "{'labels': [{'id': 'x'"};
    for (int i = 0; i < 6; i++) {
        char *needle = json(starts[i]);
        CHECK_EQ_INT(p->offsets[i], offset_of(text, needle, 0));
        free(needle);
    }

    /* The warnings, in order, each at the offending value. */
    char expected[4096], *e = expected;
    size_t room = sizeof expected;
#define EXPECT_WARNING(frame, needle, skip, from, reason)                                                      \
    do {                                                                                                       \
        char *n_ = json(needle);                                                                               \
        int w_ = snprintf(e, room, "det.json: byte %zu: frame '%s' %s\n", offset_of(text, n_, from) + (skip), frame, reason); \
        e += w_, room -= (size_t)w_;                                                                           \
        free(n_);                                                                                              \
    } while (0)
    EXPECT_WARNING("a.jpg", "'blue'", 0, 0, "label 8: unknown trafficLightColor 'blue' (kept without a color)");
    EXPECT_WARNING("a.jpg", "'unicorn'", 0, 0, "label 10: unknown category 'unicorn'");
    EXPECT_WARNING("a.jpg", "{'x1': 10, 'y1': 10", 0, 0, "label 11: degenerate box2d (x1 10, y1 10, x2 5, y2 20)");
    EXPECT_WARNING("a.jpg", "{'x1': 1, 'y1': 2, 'x2': 3}", 0, 0, "label 12: box2d has no y2");
    EXPECT_WARNING("a.jpg", "'x1': '1'", 6, 0, "label 13: box2d x1 is a string, not a number");
    EXPECT_WARNING("a.jpg", "1e39", 0, 0, "label 14: box2d x1 = 1e39 is not finite as a float");
    EXPECT_WARNING("a.jpg", "'bogus'", 0, 0, "label #16: unknown category 'bogus'");
    EXPECT_WARNING("a.jpg", "'yes'", 0, 0, "label 17: 'occluded' is a string, not a boolean");
    EXPECT_WARNING("a.jpg", "{'x1': 1, 'y1': 2, 'x2': 3, 'y2': 1}", 0, 0, "label 18: degenerate box2d (x1 1, y1 2, x2 3, y2 1)");
    EXPECT_WARNING("f.jpg", "'unicorn'", 0, offset_of(text, "\"labels\": [{\"id\": \"x\"", 0), "label x: unknown category 'unicorn'");
#undef EXPECT_WARNING
    CHECK_EQ_STR(p->w.text, expected);
    CHECK_EQ_INT(p->w.count, 10);
}

static void test_det20_fixture(void) {
    char *text = json(det20_fixture);
    parsed p;
    parse(&p, text, strlen(text), 0, 0, 0);
    check_det20_frames(&p, text);
    parsed_free(&p);
    free(text);
}

/* Chunk sizes 1, 2, 3, 7, 64 and 4096 give exactly the same frames, offsets and warnings. */
static void test_chunk_sizes(void) {
    static const char *const fixtures[] = {det20_fixture, "[{'name': 'a.jpg', 'timestamp': 01}]", "[{'name': 'a\\u00e9"};
    for (size_t k = 0; k < sizeof fixtures / sizeof fixtures[0]; k++) {
        char *text = json(fixtures[k]);
        static parsed whole, piece;
        parse(&whole, text, strlen(text), 0, 0, 0);
        if (k == 0) check_det20_frames(&whole, text);
        size_t chunks[] = {1, 2, 3, 7, 64, 4096};
        for (size_t c = 0; c < sizeof chunks / sizeof chunks[0]; c++) {
            parse(&piece, text, strlen(text), chunks[c], 0, 0);
            if (!parsed_eq(&whole, &piece)) {
                fprintf(stderr, "  fixture %zu with %zu-byte reads differs: %s / %s\n", k, chunks[c], piece.err.message, whole.err.message);
                tl_failures++;
            }
            parsed_free(&piece);
        }
        parsed_free(&whole);
        free(text);
    }
}

/* Labels of odd shapes: each problem is a warning (or, for a color, a label kept without one). */
static void test_label_shapes(void) {
    char *text = json(
        "[{'': 1, 'name': 'g.jpg', 'attributes': {'weather': 'a\\b\\f\\r\\n\\t\\'\\\\\\/z'}, 'labels': [\n"
        " {'id': {'x': 1}, 'category': 5, 'box2d': {'x1': 1, 'y1': 2, 'x2': 3, 'y2': 4}},\n"
        " {'id': '1', 'category': 'car', 'attributes': 5, 'box2d': {'x1': 1, 'y1': 2, 'x2': 3, 'y2': 4}},\n"
        " {'id': '2', 'category': 'car', 'attributes': null, 'box2d': {'x1': 1, 'y1': 2, 'x2': 3, 'y2': 4}},\n"
        " {'id': '3', 'category': 'car', 'attributes': {'trafficLightColor': 5}, 'box2d': {'x1': 1, 'y1': 2, 'x2': 3, 'y2': 4}},\n"
        " {'id': '4', 'category': 'car', 'attributes': {'trafficLightColor': null, 'occluded': true}, 'box2d': {'x1': 1, 'y1': 2, 'x2': 3, 'y2': 4}},\n"
        " {'id': '5', 'box2d': {'x1': 1, 'y1': 2, 'x2': 3, 'y2': 4}},\n"
        " {'id': '6', 'category': 'car', 'box2d': [1, 2, 3, 4]},\n"
        " {'id': '7', 'category': 'car', 'box2d': {'x1': null, 'y1': 2, 'x2': 3, 'y2': 4}},\n"
        " {'id': '8', 'category': 'car', 'attributes': {'truncated': 0}, 'box2d': {'x1': 1, 'y1': 2, 'x2': 3, 'y2': 4}},\n"
        " {'id': '9', 'category': 'car', 'attributes': {'trafficLightColor': 'gr\\u0000een'}, 'box2d': {'x1': 1, 'y1': 2, 'x2': 3, 'y2': 4}}\n"
        "]}]");
    parsed p;
    parse(&p, text, strlen(text), 0, 0, 0);
    CHECK_EQ_INT(p.rc, FL_OK);
    CHECK_EQ_INT(p.n, 1);
    if (p.n == 1) {
        const fl_frame *f = &p.frames[0];
        check_frame(f, "g.jpg", "a\b\f\r\n\t\"\\/z", NULL, NULL, false, 0, 4);
        check_label(f, 0, "car", 1, 2, 3, 4, false, false, NULL);
        check_label(f, 1, "car", 1, 2, 3, 4, false, false, NULL);
        check_label(f, 2, "car", 1, 2, 3, 4, true, false, NULL);
        check_label(f, 3, "car", 1, 2, 3, 4, false, false, NULL);
    }
    char expected[2048];
    snprintf(expected, sizeof expected,
             "det.json: byte %zu: frame 'g.jpg' label #0: category is a number, not a string\n"
             "det.json: byte %zu: frame 'g.jpg' label 1: attributes is a number, not an object\n"
             "det.json: byte %zu: frame 'g.jpg' label 3: trafficLightColor is a number, not a string (kept without a color)\n"
             "det.json: byte %zu: frame 'g.jpg' label 5: no category\n"
             "det.json: byte %zu: frame 'g.jpg' label 6: box2d is an array, not an object\n"
             "det.json: byte %zu: frame 'g.jpg' label 7: box2d x1 is null, not a number\n"
             "det.json: byte %zu: frame 'g.jpg' label 8: 'truncated' is a number, not a boolean\n"
             "det.json: byte %zu: frame 'g.jpg' label 9: unknown trafficLightColor 'gr?een' (kept without a color)\n",
             offset_of(text, "5, \"box2d\"", 0), offset_of(text, "5, \"box2d\"", offset_of(text, "\"id\": \"1\"", 0)),
             offset_of(text, "5}", 0), offset_of(text, "{\"id\": \"5\"", 0), offset_of(text, "[1, 2, 3, 4]", 0),
             offset_of(text, "null, \"y1\"", 0), offset_of(text, "0}", 0), offset_of(text, "\"gr", 0));
    CHECK_EQ_STR(p.w.text, expected);
    parsed_free(&p);
    free(text);
}

/* ---- the older release ---- */

static void test_old_release(void) {
    char *text = json(
        "[{'name': 'o1.jpg', 'attributes': {'weather': 'clear', 'scene': 'city street', 'timeofday': 'daytime'}, 'timestamp': 10000,\n"
        "  'labels': [\n"
        "   {'category': 'person', 'attributes': {'occluded': false, 'truncated': false, 'trafficLightColor': 'none'},\n"
        "    'manualShape': true, 'manualAttributes': true, 'box2d': {'x1': 1, 'y1': 2, 'x2': 3, 'y2': 4}, 'id': 0},\n"
        "   {'category': 'bike', 'attributes': {'occluded': true, 'truncated': false, 'trafficLightColor': 'none'},\n"
        "    'manualShape': true, 'manualAttributes': true, 'box2d': {'x1': 5, 'y1': 6, 'x2': 7, 'y2': 8}, 'id': 1},\n"
        "   {'category': 'motor', 'attributes': {'occluded': false, 'truncated': true, 'trafficLightColor': 'none'},\n"
        "    'box2d': {'x1': 9, 'y1': 10, 'x2': 11, 'y2': 12}, 'id': 2},\n"
        "   {'category': 'traffic light', 'attributes': {'occluded': false, 'truncated': false, 'trafficLightColor': 'green'},\n"
        "    'box2d': {'x1': 1, 'y1': 1, 'x2': 2, 'y2': 2}, 'id': 3},\n"
        "   {'category': 'rider', 'attributes': {}, 'box2d': {'x1': 1, 'y1': 1, 'x2': 2, 'y2': 2}, 'id': 4},\n"
        "   {'category': 'truck', 'box2d': {'x1': 1, 'y1': 1, 'x2': 2, 'y2': 2}, 'id': 5},\n"
        "   {'category': 'bus', 'box2d': {'x1': 1, 'y1': 1, 'x2': 2, 'y2': 2}, 'id': 6},\n"
        "   {'category': 'train', 'box2d': {'x1': 1, 'y1': 1, 'x2': 2, 'y2': 2}, 'id': 7},\n"
        "   {'category': 'traffic sign', 'box2d': {'x1': 1, 'y1': 1, 'x2': 2, 'y2': 2}, 'id': 8},\n"
        "   {'category': 'car', 'box2d': {'x1': 1, 'y1': 1, 'x2': 2, 'y2': 2}, 'id': 9},\n"
        "   {'category': 'drivable area', 'attributes': {'areaType': 'direct'}, 'manualShape': true, 'manualAttributes': true,\n"
        "    'poly2d': [{'vertices': [[1.5, 2.5], [3, 4], [5, 6]], 'types': 'LCC', 'closed': true}], 'id': 10},\n"
        "   {'category': 'lane', 'attributes': {'laneDirection': 'parallel', 'laneStyle': 'solid', 'laneType': 'road curb'},\n"
        "    'manualShape': true, 'manualAttributes': true, 'poly2d': [{'vertices': [[1, 2], [3, 4]], 'types': 'LL', 'closed': false}], 'id': 11}\n"
        "  ]},\n"
        " {'name': 'o2.jpg', 'attributes': {'weather': 'undefined', 'scene': 'residential', 'timeofday': 'dawn/dusk'}, 'timestamp': 10000,\n"
        "  'labels': [{'category': 'other person', 'box2d': {'x1': 1, 'y1': 1, 'x2': 2, 'y2': 2}, 'id': 12},\n"
        "             {'category': 'other vehicle', 'box2d': {'x1': 1, 'y1': 1, 'x2': 2, 'y2': 2}, 'id': 13},\n"
        "             {'category': 'trailer', 'box2d': {'x1': 1, 'y1': 1, 'x2': 2, 'y2': 2}, 'id': 14}]}]");
    parsed p;
    parse(&p, text, strlen(text), 0, 0, 0);
    CHECK_EQ_INT(p.rc, FL_OK);
    CHECK_EQ_INT(p.n, 2);
    CHECK_EQ_INT(p.w.count, 0);
    if (p.n == 2) {
        const fl_frame *f = &p.frames[0];
        check_frame(f, "o1.jpg", "clear", "city street", "daytime", true, 10000, 10);
        check_label(f, 0, "pedestrian", 1, 2, 3, 4, false, false, NULL);
        check_label(f, 1, "bicycle", 5, 6, 7, 8, true, false, NULL);
        check_label(f, 2, "motorcycle", 9, 10, 11, 12, false, true, NULL);
        check_label(f, 3, "traffic light", 1, 1, 2, 2, false, false, "green");
        check_label(f, 4, "rider", 1, 1, 2, 2, false, false, NULL);
        check_label(f, 5, "truck", 1, 1, 2, 2, false, false, NULL);
        check_label(f, 6, "bus", 1, 1, 2, 2, false, false, NULL);
        check_label(f, 7, "train", 1, 1, 2, 2, false, false, NULL);
        check_label(f, 8, "traffic sign", 1, 1, 2, 2, false, false, NULL);
        check_label(f, 9, "car", 1, 1, 2, 2, false, false, NULL);
        f = &p.frames[1];
        check_frame(f, "o2.jpg", "undefined", "residential", "dawn/dusk", true, 10000, 3);
        check_label(f, 0, "other person", 1, 1, 2, 2, false, false, NULL);
        check_label(f, 1, "other vehicle", 1, 1, 2, 2, false, false, NULL);
        check_label(f, 2, "trailer", 1, 1, 2, 2, false, false, NULL);
    }
    parsed_free(&p);
    free(text);
}

static void test_category_map(void) {
    static const char *const det20[] = {"pedestrian", "rider", "car", "truck", "bus", "train", "motorcycle", "bicycle",
                                        "traffic light", "traffic sign", "other person", "other vehicle", "trailer"};
    for (size_t i = 0; i < sizeof det20 / sizeof det20[0]; i++) CHECK_EQ_STR(fl_bdd_category(det20[i]), det20[i]);
    CHECK_EQ_STR(fl_bdd_category("person"), "pedestrian");
    CHECK_EQ_STR(fl_bdd_category("bike"), "bicycle");
    CHECK_EQ_STR(fl_bdd_category("motor"), "motorcycle");
    CHECK(fl_bdd_category("lane") == NULL);
    CHECK(fl_bdd_category("drivable area") == NULL);
    CHECK(fl_bdd_category("Car") == NULL);
    CHECK(fl_bdd_category("") == NULL);
    CHECK(fl_bdd_category(NULL) == NULL);
}

/* ---- timestamps ---- */

static void test_timestamps(void) {
    static const struct {
        const char *value;
        bool ok;
        int64_t expected;
    } cases[] = {
        {"0", true, 0}, {"-0", true, 0}, {"1.0e3", true, 1000}, {"0.5e1", true, 5}, {"10E-1", true, 1}, {"1500.000", true, 1500},
        {"9223372036854775807", true, INT64_MAX}, {"-9223372036854775808", true, INT64_MIN},
        {"922337203685477580.7e1", true, INT64_MAX}, {"0e99999999", true, 0}, {"1e18", true, 1000000000000000000LL},
        {"9223372036854775808", false, 0}, {"-9223372036854775809", false, 0}, {"1e19", false, 0}, {"1.5", false, 0},
        {"1e-3", false, 0}, {"1e999999999", false, 0}, {"0.1e1", true, 1}, {"12.34e1", false, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char text[128];
        snprintf(text, sizeof text, "[{\"name\": \"a.jpg\", \"timestamp\": %s}]", cases[i].value);
        parsed p;
        parse(&p, text, strlen(text), 0, 0, 0);
        if (cases[i].ok) {
            CHECK_EQ_INT(p.rc, FL_OK);
            CHECK_EQ_INT(p.n, 1);
            if (p.n == 1) {
                CHECK(p.frames[0].has_timestamp);
                if (p.frames[0].timestamp != cases[i].expected) {
                    fprintf(stderr, "  timestamp %s read as %lld\n", cases[i].value, (long long)p.frames[0].timestamp);
                    tl_failures++;
                }
            }
        } else {
            char expected[256];
            snprintf(expected, sizeof expected, "det.json: byte 32: 'timestamp' %s is not an integer in the int64 range", cases[i].value);
            CHECK_EQ_INT(p.rc, FL_EINVAL);
            CHECK_EQ_STR(p.err.message, expected);
        }
        parsed_free(&p);
    }
}

/* ---- errors ---- */

typedef struct error_case {
    const char *input;          /* single-quote style */
    int frames;                 /* delivered before the error */
    int code;
    const char *message;        /* after "det.json: " */
} error_case;

static void check_error(const char *text, size_t size, int frames, int code, const char *message) {
    char expected[FL_ERROR_MESSAGE_SIZE];
    snprintf(expected, sizeof expected, "det.json: %s", message);
    static parsed p, q;
    parse(&p, text, size, 0, 0, 0);
    CHECK_EQ_INT(p.n, frames);
    CHECK_EQ_INT(p.rc, code);
    if (strcmp(p.err.message, expected) != 0) {
        fprintf(stderr, "  input %.60s:\n    message  \"%s\"\n    expected \"%s\"\n", text, p.err.message, expected);
        tl_failures++;
    }
    parse(&q, text, size, 1, 0, 0);
    CHECK(parsed_eq(&p, &q));
    parsed_free(&p);
    parsed_free(&q);
}

static void test_malformed(void) {
    static const error_case cases[] = {
        /* truncated input */
        {"", 0, FL_ECORRUPT, "byte 0: expected '[' (a label file is a JSON array of frames), found end of input"},
        {"  \n", 0, FL_ECORRUPT, "byte 3: expected '[' (a label file is a JSON array of frames), found end of input"},
        {"[", 0, FL_ECORRUPT, "byte 1: expected a frame object, found end of input"},
        {"[{'name': 'a.jpg'", 0, FL_ECORRUPT, "byte 17: expected ',' or '}' after a value in a frame, found end of input"},
        {"[{'name': 'a.j", 0, FL_ECORRUPT, "byte 14: unterminated string"},
        {"[{'name': 'a.jpg'}", 1, FL_ECORRUPT, "byte 18: expected ',' or ']' after a frame, found end of input"},
        {"[{'name': 'a.jpg'},", 1, FL_ECORRUPT, "byte 19: expected a frame object, found end of input"},
        {"[{'name': 'a.jpg', 'labels': [{'box2d': {'x1': 1", 0, FL_ECORRUPT,
         "byte 48: expected ',' or '}' after a value in box2d, found end of input"},
        {"[{'name': 'a.jpg', 'x': tr", 0, FL_ECORRUPT, "byte 26: invalid literal: expected 'u' of 'true', found end of input"},
        {"[{'name': 'a\\u00", 0, FL_ECORRUPT, "byte 12: invalid \\u escape: expected 4 hex digits, found end of input"},
        {"[{'name': 'a\xc3", 0, FL_ECORRUPT, "byte 13: unterminated string"},
        /* missing separators */
        {"[{'name': 'a.jpg'} {'name': 'b.jpg'}]", 1, FL_ECORRUPT, "byte 19: expected ',' or ']' after a frame, found '{'"},
        {"[{'name': 'a.jpg' 'labels': []}]", 0, FL_ECORRUPT, "byte 18: expected ',' or '}' after a value in a frame, found '\"'"},
        {"[{'name' 'a.jpg'}]", 0, FL_ECORRUPT, "byte 9: expected ':' after a key in a frame, found '\"'"},
        {"[{'name': 'a.jpg',}]", 0, FL_ECORRUPT, "byte 18: expected a key after ',' in a frame, found '}'"},
        {"[{'name': 'a.jpg'},]", 1, FL_ECORRUPT, "byte 19: expected a frame object, found ']'"},
        {"[{name: 'a.jpg'}]", 0, FL_ECORRUPT, "byte 2: expected a key or '}' in a frame, found 'n'"},
        {"[{'name': 'a.jpg', 'labels': [{} {}]}]", 0, FL_ECORRUPT, "byte 33: expected ',' or ']' after a label, found '{'"},
        {"[{'name': 'a.jpg', 'x': [1 2]}]", 0, FL_ECORRUPT, "byte 27: expected ',' or ']' after a value in an array, found '2'"},
        {"[{'name': 'a.jpg', 'x': {'a' 1}}]", 0, FL_ECORRUPT, "byte 29: expected ':' after a key in an object, found '1'"},
        /* strings */
        {"[{'name': 'a\\qb.jpg'}]", 0, FL_ECORRUPT,
         "byte 12: invalid escape: expected one of \"\\/bfnrtu after '\\', found 'q'"},
        {"[{'name': 'a\\u12G4.jpg'}]", 0, FL_ECORRUPT, "byte 12: invalid \\u escape: expected 4 hex digits, found 'G'"},
        {"[{'name': '\\ud800x.jpg'}]", 0, FL_ECORRUPT, "byte 11: invalid escape: \\uD800 is a high surrogate without a low one"},
        {"[{'name': '\\ud800\\u0041.jpg'}]", 0, FL_ECORRUPT, "byte 11: invalid escape: \\uD800 is a high surrogate without a low one"},
        {"[{'name': '\\udc00.jpg'}]", 0, FL_ECORRUPT, "byte 11: invalid escape: \\uDC00 is a low surrogate without a high one"},
        {"[{'name': 'a\xc0\x80.jpg'}]", 0, FL_ECORRUPT, "byte 12: invalid UTF-8 in a string (byte 0xc0)"},
        {"[{'name': 'a\xed\xa0\x80.jpg'}]", 0, FL_ECORRUPT, "byte 12: invalid UTF-8 in a string (byte 0xed)"},
        {"[{'name': 'a\xf4\x90\x80\x80.jpg'}]", 0, FL_ECORRUPT, "byte 12: invalid UTF-8 in a string (byte 0xf4)"},
        {"[{'name': 'a\xe2\x82.jpg'}]", 0, FL_ECORRUPT, "byte 12: invalid UTF-8 in a string (byte 0xe2)"},
        {"[{'name': 'a\xff.jpg'}]", 0, FL_ECORRUPT, "byte 12: invalid UTF-8 in a string (byte 0xff)"},
        {"[{'name': 'a\tb'}]", 0, FL_ECORRUPT, "byte 12: control character 0x09 in a string (must be escaped)"},
        {"[{'name': 'a.jpg', 'x': 'a\nb'}]", 0, FL_ECORRUPT, "byte 26: control character 0x0a in a string (must be escaped)"},
        /* numbers and literals */
        {"[{'name': 'a.jpg', 'timestamp': 01}]", 0, FL_ECORRUPT, "byte 32: invalid number '01'"},
        {"[{'name': 'a.jpg', 'timestamp': -}]", 0, FL_ECORRUPT, "byte 32: invalid number '-'"},
        {"[{'name': 'a.jpg', 'x': 1.}]", 0, FL_ECORRUPT, "byte 24: invalid number '1.'"},
        {"[{'name': 'a.jpg', 'x': 1e}]", 0, FL_ECORRUPT, "byte 24: invalid number '1e'"},
        {"[{'name': 'a.jpg', 'x': 1e+-2}]", 0, FL_ECORRUPT, "byte 24: invalid number '1e+-2'"},
        {"[{'name': 'a.jpg', 'x': +1}]", 0, FL_ECORRUPT, "byte 24: expected a value, found '+'"},
        {"[{'name': 'a.jpg', 'x': .5}]", 0, FL_ECORRUPT, "byte 24: expected a value, found '.'"},
        {"[{'name': 'a.jpg', 'timestamp': .5}]", 0, FL_ECORRUPT, "byte 32: expected 'timestamp' to be a number or null, found '.'"},
        {"[{'name': 'a.jpg', 'x': 1x}]", 0, FL_ECORRUPT, "byte 25: expected ',' or '}' after a value in a frame, found 'x'"},
        {"[{'name': 'a.jpg', 'x': NaN}]", 0, FL_ECORRUPT, "byte 24: expected a value, found 'N'"},
        {"[tru]", 0, FL_ECORRUPT, "byte 4: invalid literal: expected 'e' of 'true', found ']'"},
        {"[{'name': 'a.jpg', 'x': nul}]", 0, FL_ECORRUPT, "byte 27: invalid literal: expected 'l' of 'null', found '}'"},
        /* after the array */
        {"[] x", 0, FL_ECORRUPT, "byte 3: expected the end of the input after the array of frames, found 'x'"},
        {"[]]", 0, FL_ECORRUPT, "byte 2: expected the end of the input after the array of frames, found ']'"},
        {"[{'name': 'a.jpg'}]\n\x01", 1, FL_ECORRUPT, "byte 20: expected the end of the input after the array of frames, found byte 0x01"},
        {"[][]", 0, FL_ECORRUPT, "byte 2: expected the end of the input after the array of frames, found '['"},
        /* wrong top level */
        {"{'name': 'a.jpg'}", 0, FL_EINVAL, "byte 0: expected '[' (a label file is a JSON array of frames), found an object"},
        {" 'x'", 0, FL_EINVAL, "byte 1: expected '[' (a label file is a JSON array of frames), found a string"},
        {"null", 0, FL_EINVAL, "byte 0: expected '[' (a label file is a JSON array of frames), found null"},
        {"x", 0, FL_ECORRUPT, "byte 0: expected '[' (a label file is a JSON array of frames), found 'x'"},
        {"\xef\xbb\xbf[]", 0, FL_ECORRUPT, "byte 0: expected '[' (a label file is a JSON array of frames), found byte 0xef"},
        /* wrong shapes */
        {"[1]", 0, FL_EINVAL, "byte 1: expected a frame object, found a number"},
        {"[[1, 2]]", 0, FL_EINVAL, "byte 1: expected a frame object, found an array"},
        {"[[1 2]]", 0, FL_ECORRUPT, "byte 4: expected ',' or ']' after a value in an array, found '2'"},
        {"[{'labels': []}]", 0, FL_EINVAL, "byte 1: frame has no \"name\""},
        {"[{'name': 'a.jpg'}, {}]", 1, FL_EINVAL, "byte 20: frame has no \"name\""},
        {"[{'name': ''}]", 0, FL_EINVAL, "byte 10: frame name is empty"},
        {"[{'name': 'a/b.jpg'}]", 0, FL_EINVAL, "byte 10: frame name 'a/b.jpg' contains '/'"},
        {"[{'name': 'a\\u0001.jpg'}]", 0, FL_EINVAL, "byte 10: frame name 'a?.jpg' contains a control character"},
        {"[{'name': 'a\\u0000.jpg'}]", 0, FL_EINVAL, "byte 10: frame name 'a?.jpg' contains a control character"},
        {"[{'name': 5}]", 0, FL_EINVAL, "byte 10: expected 'name' to be a string, found a number"},
        {"[{'name': null}]", 0, FL_EINVAL, "byte 10: expected 'name' to be a string, found null"},
        {"[{'name': 'a.jpg', 'name': 'b.jpg'}]", 0, FL_EINVAL, "byte 19: duplicate key 'name' in a frame"},
        {"[{'name': 'a.jpg', 'labels': {}}]", 0, FL_EINVAL, "byte 29: expected 'labels' to be an array or null, found an object"},
        {"[{'name': 'a.jpg', 'labels': 'x'}]", 0, FL_EINVAL, "byte 29: expected 'labels' to be an array or null, found a string"},
        {"[{'name': 'a.jpg', 'labels': [], 'labels': []}]", 0, FL_EINVAL, "byte 33: duplicate key 'labels' in a frame"},
        {"[{'name': 'a.jpg', 'labels': [1]}]", 0, FL_EINVAL, "byte 30: expected a label object, found a number"},
        {"[{'name': 'a.jpg', 'labels': [{}, ]}]", 0, FL_ECORRUPT, "byte 34: expected a label object, found ']'"},
        {"[{'name': 'a.jpg', 'labels': [{'category': 'car', 'category': 'bus'}]}]", 0, FL_EINVAL,
         "byte 50: duplicate key 'category' in a label"},
        {"[{'name': 'a.jpg', 'labels': [{'box2d': {'x1': 1, 'x1': 2}}]}]", 0, FL_EINVAL, "byte 50: duplicate key 'x1' in box2d"},
        {"[{'name': 'a.jpg', 'attributes': []}]", 0, FL_EINVAL, "byte 33: expected 'attributes' to be an object or null, found an array"},
        {"[{'name': 'a.jpg', 'attributes': {'weather': 1}}]", 0, FL_EINVAL,
         "byte 45: expected 'weather' to be a string or null, found a number"},
        {"[{'name': 'a.jpg', 'attributes': {'scene': 'a\\u0000b'}}]", 0, FL_EINVAL, "byte 43: 'scene' contains a NUL character"},
        {"[{'name': 'a.jpg', 'attributes': {'scene': 'x', 'scene': 'y'}}]", 0, FL_EINVAL,
         "byte 48: duplicate key 'scene' in a frame's attributes"},
        {"[{'name': 'a.jpg', 'timestamp': '10'}]", 0, FL_EINVAL, "byte 32: expected 'timestamp' to be a number or null, found a string"},
        {"[{'name': 'a.jpg', 'timestamp': true}]", 0, FL_EINVAL, "byte 32: expected 'timestamp' to be a number or null, found a boolean"},
        {"[{'name': 'a.jpg', 'timestamp': 1.5}]", 0, FL_EINVAL, "byte 32: 'timestamp' 1.5 is not an integer in the int64 range"},
        /* shape errors are reported only for valid JSON */
        {"[{'name': 'a.jpg', 'labels': {'a': }}]", 0, FL_ECORRUPT, "byte 35: expected a value, found '}'"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *text = json(cases[i].input);
        check_error(text, strlen(text), cases[i].frames, cases[i].code, cases[i].message);
        free(text);
    }
}

/* Nesting: 64 levels in all are fine, the 65th is refused. */
static void test_nesting(void) {
    char text[512];
    /* The array is level 1, the frame 2, so 62 brackets make 64. */
    int n = snprintf(text, sizeof text, "[{\"x\": ");
    for (int i = 0; i < 62; i++) text[n++] = '[';
    for (int i = 0; i < 62; i++) text[n++] = ']';
    n += snprintf(text + n, sizeof text - (size_t)n, ", \"name\": \"a.jpg\"}]");
    parsed p;
    parse(&p, text, (size_t)n, 0, 0, 0);
    CHECK_EQ_INT(p.rc, FL_OK);
    CHECK_EQ_INT(p.n, 1);
    parsed_free(&p);

    n = snprintf(text, sizeof text, "[{\"x\": ");
    for (int i = 0; i < 70; i++) text[n++] = '[';
    for (int i = 0; i < 70; i++) text[n++] = ']';
    n += snprintf(text + n, sizeof text - (size_t)n, ", \"name\": \"a.jpg\"}]");
    check_error(text, (size_t)n, 0, FL_EUNSUPPORTED, "byte 69: nesting deeper than 64 levels");

    /* Inside a label's attributes (level 5) objects nest too. */
    n = snprintf(text, sizeof text, "[{\"name\": \"a.jpg\", \"labels\": [{\"attributes\": {\"x\": ");
    int at = n;
    for (int i = 0; i < 60; i++) n += snprintf(text + n, sizeof text - (size_t)n, "{\"a\":");
    n += snprintf(text + n, sizeof text - (size_t)n, "1");
    for (int i = 0; i < 60; i++) text[n++] = '}';
    n += snprintf(text + n, sizeof text - (size_t)n, "}}]}]");
    char expected[64];
    snprintf(expected, sizeof expected, "byte %d: nesting deeper than 64 levels", at + 59 * 5);
    check_error(text, (size_t)n, 0, FL_EUNSUPPORTED, expected);
}

/* Strings up to 1 MiB, numbers up to 256 characters, 100000 labels per frame. */
static void test_limits(void) {
    size_t big = FL_JSON_MAX_STRING;
    char *text = malloc(big + 64);
    /* A name of exactly 1 MiB is fine; one byte more is not. */
    for (int extra = 0; extra <= 1; extra++) {
        size_t n = (size_t)sprintf(text, "[{\"name\": \"");
        memset(text + n, 'a', big + (size_t)extra);
        n += big + (size_t)extra;
        n += (size_t)sprintf(text + n, "\"}]");
        if (!extra) {
            parsed p;
            parse(&p, text, n, 0, 0, 0);
            CHECK_EQ_INT(p.rc, FL_OK);
            CHECK_EQ_INT(p.n, 1);
            if (p.n == 1) CHECK_EQ_INT(strlen(p.frames[0].name), big);
            parsed_free(&p);
        } else {
            check_error(text, n, 0, FL_EUNSUPPORTED, "byte 10: string longer than 1048576 bytes");
        }
    }
    /* The same for a skipped string; escapes count as their decoded bytes. */
    size_t n = (size_t)sprintf(text, "[{\"name\": \"a.jpg\", \"x\": \"");
    for (size_t i = 0; i < big / 2; i++) memcpy(text + n + 2 * i, "\xc3\xa9", 2);
    n += big;
    memcpy(text + n, "\\n\"}]", 5);
    check_error(text, n + 5, 0, FL_EUNSUPPORTED, "byte 24: string longer than 1048576 bytes");
    n = (size_t)sprintf(text, "[{\"name\": \"a.jpg\", \"x\": \"");
    memset(text + n, 'x', big + 1);
    memcpy(text + n + big + 1, "\"}]", 3);
    check_error(text, n + big + 4, 0, FL_EUNSUPPORTED, "byte 24: string longer than 1048576 bytes");
    free(text);

    char number[400];
    size_t k = (size_t)sprintf(number, "[{\"name\": \"a.jpg\", \"x\": 1");
    memset(number + k, '0', 255);
    strcpy(number + k + 255, "}]");
    parsed p;
    parse(&p, number, strlen(number), 0, 0, 0);
    CHECK_EQ_INT(p.rc, FL_OK);
    parsed_free(&p);
    strcpy(number + k + 255, "0}]");
    check_error(number, strlen(number), 0, FL_EUNSUPPORTED, "byte 24: number longer than 256 characters");

    /* 100000 labels (lanes: no box2d) are fine, one more is not. */
    size_t cap = 64 + 3 * (FL_BDD_MAX_LABELS + 1);
    char *many = malloc(cap);
    for (int extra = 0; extra <= 1; extra++) {
        size_t m = (size_t)sprintf(many, "[{\"name\": \"a.jpg\", \"labels\": [");
        for (int i = 0; i < FL_BDD_MAX_LABELS + extra; i++) memcpy(many + m, i ? ",{}" : "{}", i ? 3 : 2), m += i ? 3 : 2;
        memcpy(many + m, "]}]", 3);
        m += 3;
        if (!extra) {
            parse(&p, many, m, 0, 0, 0);
            CHECK_EQ_INT(p.rc, FL_OK);
            CHECK_EQ_INT(p.n, 1);
            parsed_free(&p);
        } else {
            char expected[64];
            snprintf(expected, sizeof expected, "byte %d: frame has more than 100000 labels", 30 + 2 + 3 * (FL_BDD_MAX_LABELS - 1) + 1);
            check_error(many, m, 0, FL_EUNSUPPORTED, expected);
        }
    }
    free(many);
}

/* The read function failing, or misbehaving. */
static int64_t too_much(void *ctx, void *buf, size_t size, const char **why) {
    (void)ctx, (void)buf, (void)why;
    return (int64_t)size + 1;
}

static void test_io_errors(void) {
    char *text = json("[{'name': 'a.jpg'}, {'name': 'b.jpg'}]");
    for (size_t chunk = 1; chunk <= 64; chunk *= 4) {
        mem_source src = {.data = text, .size = strlen(text), .chunk = chunk, .fail_at = 20};
        fl_bdd_reader *r = NULL;
        fl_error err = {0};
        CHECK_OK(fl_bdd_reader_open("det.json", mem_read, &src, NULL, NULL, &r, &tl_err));
        fl_frame f = {0};
        bool got = false;
        CHECK_OK(fl_bdd_reader_next(r, &f, &got, &tl_err));
        CHECK(got);
        CHECK_EQ_STR(f.name, "a.jpg");
        CHECK_EQ_INT(fl_bdd_reader_next(r, &f, &got, &err), FL_EIO);
        CHECK(!got && f.name == NULL);
        CHECK_EQ_STR(err.message, "det.json: byte 20: read failed: disk on fire");
        CHECK_EQ_INT(fl_bdd_reader_next(r, &f, &got, &err), FL_EIO);
        fl_bdd_reader_free(r);
    }
    free(text);

    fl_bdd_reader *r = NULL;
    fl_error err = {0};
    CHECK_OK(fl_bdd_reader_open("det.json", too_much, NULL, NULL, NULL, &r, &tl_err));
    fl_frame f = {0};
    bool got;
    CHECK_EQ_INT(fl_bdd_reader_next(r, &f, &got, &err), FL_EIO);
    CHECK_EQ_STR(err.message, "det.json: byte 0: read failed: the read function returned more bytes than asked for");
    fl_bdd_reader_free(r);

    CHECK_EQ_INT(fl_bdd_reader_open(NULL, mem_read, NULL, NULL, NULL, &r, &err), FL_EINVAL);
    CHECK(r == NULL);
    CHECK_EQ_INT(fl_bdd_reader_open("x", NULL, NULL, NULL, NULL, &r, &err), FL_EINVAL);
    CHECK_EQ_INT(fl_bdd_reader_next(NULL, &f, &got, &err), FL_EINVAL);
    fl_bdd_reader_free(NULL);
    CHECK_EQ_INT(fl_bdd_reader_frame_offset(NULL), 0);
}

/* Strict mode: the warn function stops the parse with its code and the warning as the message. */
static void test_strict(void) {
    char *text = json(det20_fixture);
    parsed p;
    parse(&p, text, strlen(text), 0, 1, FL_EINVAL);
    CHECK_EQ_INT(p.rc, FL_EINVAL);
    CHECK_EQ_INT(p.n, 0);
    CHECK_EQ_INT(p.w.count, 1);
    char expected[256];
    snprintf(expected, sizeof expected, "det.json: byte %zu: frame 'a.jpg' label 8: unknown trafficLightColor 'blue' (kept without a color)",
             offset_of(text, "\"blue\"", 0));
    CHECK_EQ_STR(p.err.message, expected);
    parsed_free(&p);

    /* Stopping at the last warning: a queued one, flushed when the name of the last frame is read. */
    parse(&p, text, strlen(text), 0, 10, FL_ECORRUPT);
    CHECK_EQ_INT(p.rc, FL_ECORRUPT);
    CHECK_EQ_INT(p.n, 5);
    CHECK(strstr(p.err.message, "frame 'f.jpg' label x: unknown category 'unicorn'") != NULL);
    parsed_free(&p);
    free(text);

    /* No warn function: problems are skipped silently. */
    text = json("[{'name': 'a.jpg', 'labels': [{'category': 'unicorn', 'box2d': {'x1': 1, 'y1': 2, 'x2': 3, 'y2': 4}}]}]");
    mem_source src = {.data = text, .size = strlen(text)};
    fl_bdd_reader *r = NULL;
    CHECK_OK(fl_bdd_reader_open("det.json", mem_read, &src, NULL, NULL, &r, &tl_err));
    fl_frame f = {0};
    bool got = false;
    CHECK_OK(fl_bdd_reader_next(r, &f, &got, &tl_err));
    CHECK(got);
    CHECK_EQ_INT(f.n_labels, 0);
    fl_frame_clear(&f);
    fl_bdd_reader_free(r);
    free(text);
}

/* Untrusted text in messages is cut and made printable. */
static void test_message_text(void) {
    char *text = json("[{'name': 'a.jpg', 'labels': [{'id': 'x\\ny', 'category': '"
                      "\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9"
                      "\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9"
                      "\\u00e9\\u00e9', 'box2d': {'x1': 1, 'y1': 2, 'x2': 3, 'y2': 4}}]}]");
    parsed p;
    parse(&p, text, strlen(text), 0, 0, 0);
    CHECK_EQ_INT(p.rc, FL_OK);
    char expected[512];
    /* 34 two-byte characters shown as 32 (64 bytes) and "...". */
    char cut[80] = "";
    for (int i = 0; i < 32; i++) strcat(cut, "\xc3\xa9");
    snprintf(expected, sizeof expected, "det.json: byte %zu: frame 'a.jpg' label x?y: unknown category '%s...'\n",
             offset_of(text, "\"category\": ", 0) + 12, cut);
    CHECK_EQ_STR(p.w.text, expected);
    parsed_free(&p);
    free(text);
}

/* ---- the writer ---- */

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;
static uint64_t rng(void) {
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

/* A random finite float: arbitrary bit patterns (subnormals, huge, negative zero) or plain pixel values. */
static float random_float(void) {
    for (;;) {
        float f;
        if (rng() % 2) {
            uint32_t bits = (uint32_t)rng();
            memcpy(&f, &bits, sizeof f);
        } else {
            f = (float)(rng() % 1000000) / 997.0f;
        }
        if (isfinite(f)) return f;
    }
}

static void test_writer_round_trip(void) {
    static const char *const cats[] = {"pedestrian", "rider", "car", "truck", "bus", "train", "motorcycle", "bicycle",
                                       "traffic light", "traffic sign", "other person", "other vehicle", "trailer"};
    static const char *const colors[] = {NULL, "green", "yellow", "red"};
    static const char *const names[] = {"b1c66a42-6f7d68ca.jpg", "q\"uote\\back\x7f.jpg", "\xc3\xa9\xf0\x9f\x98\x80.jpg", "x"};
    static const char *const texts[] = {NULL, "", "city street", "tab\there\nnew\x01line", "\xe6\x97\xa5\xe6\x9c\xac"};
    enum { N = 40 };
    fl_frame frames[N];
    fl_buf out;
    fl_buf_init(&out);
    fl_buf_append(&out, "[", 1);
    for (int i = 0; i < N; i++) {
        fl_frame *f = &frames[i];
        memset(f, 0, sizeof *f);
        char name[64];
        snprintf(name, sizeof name, "%d-%s", i, names[i % 4]);
        f->name = fl_strdup(name);
        const char *w = texts[rng() % 5], *s = texts[rng() % 5], *t = texts[rng() % 5];
        f->weather = w ? fl_strdup(w) : NULL;
        f->scene = s ? fl_strdup(s) : NULL;
        f->timeofday = t ? fl_strdup(t) : NULL;
        f->has_timestamp = i % 3 != 0;
        f->timestamp = i == 1 ? INT64_MIN : i == 2 ? INT64_MAX : (int64_t)rng();
        int n_labels = i % 5 == 0 ? 0 : (int)(rng() % 20);
        for (int k = 0; k < n_labels; k++) {
            float box[4] = {random_float(), random_float(), random_float(), random_float()};
            if (box[2] < box[0]) {
                float x = box[0];
                box[0] = box[2], box[2] = x;
            }
            if (box[3] < box[1]) {
                float y = box[1];
                box[1] = box[3], box[3] = y;
            }
            CHECK(fl_frame_add_label(f, cats[rng() % 13], box, rng() % 2, rng() % 2, colors[rng() % 4]));
        }
        if (i) fl_buf_append(&out, ",\n", 2);
        CHECK_OK(fl_bdd_write_frame(&out, f));
    }
    fl_buf_append(&out, "]", 1);

    static parsed p;
    parse(&p, (const char *)out.data, out.size, 0, 0, 0);
    CHECK_EQ_INT(p.rc, FL_OK);
    CHECK_EQ_INT(p.n, N);
    CHECK_EQ_INT(p.w.count, 0);
    for (int i = 0; i < N && i < p.n; i++) {
        if (!frame_eq(&frames[i], &p.frames[i])) {
            fprintf(stderr, "  frame %d differs after a round trip\n", i);
            tl_failures++;
        }
    }
    parsed_free(&p);
    for (int i = 0; i < N; i++) fl_frame_clear(&frames[i]);

    /* The shape and the shortest float text, on one frame. */
    fl_frame f = {0};
    f.name = fl_strdup("a.jpg");
    f.scene = fl_strdup("city street");
    f.has_timestamp = true;
    f.timestamp = 10000;
    float box[4] = {1000.7f, 281.3f, 1040.1f, 326.7f};
    CHECK(fl_frame_add_label(&f, "traffic light", box, true, false, "green"));
    float box2[4] = {-0.0f, 1e-45f, 3.4028235e38f, 3.4028235e38f};
    CHECK(fl_frame_add_label(&f, "car", box2, false, true, NULL));
    out.size = 0;
    CHECK_OK(fl_bdd_write_frame(&out, &f));
    fl_buf_put_u8(&out, 0);
    CHECK_EQ_STR((const char *)out.data,
                 "{\"name\":\"a.jpg\",\"attributes\":{\"scene\":\"city street\"},\"timestamp\":10000,\"labels\":["
                 "{\"id\":\"0\",\"category\":\"traffic light\",\"attributes\":{\"occluded\":true,\"truncated\":false,"
                 "\"trafficLightColor\":\"green\"},\"box2d\":{\"x1\":1000.7,\"y1\":281.3,\"x2\":1040.1,\"y2\":326.7}},"
                 "{\"id\":\"1\",\"category\":\"car\",\"attributes\":{\"occluded\":false,\"truncated\":true,"
                 "\"trafficLightColor\":\"NA\"},\"box2d\":{\"x1\":-0,\"y1\":1e-45,\"x2\":3.4028235e+38,\"y2\":3.4028235e+38}}]}");
    fl_frame_clear(&f);

    /* An older-release category is written under its det_20 name. */
    f.name = fl_strdup("a.jpg");
    CHECK(fl_frame_add_label(&f, "person", box, false, false, NULL));
    out.size = 0;
    CHECK_OK(fl_bdd_write_frame(&out, &f));
    fl_buf_put_u8(&out, 0);
    CHECK(strstr((const char *)out.data, "\"category\":\"pedestrian\"") != NULL);
    fl_frame_clear(&f);
    fl_buf_free(&out);
}

/* Frames the reader could not give back are refused, leaving the buffer as it was. */
static void test_writer_refuses(void) {
    fl_buf out;
    fl_buf_init(&out);
    fl_buf_append(&out, "[", 1);
    float good[4] = {1, 2, 3, 4};
    static const struct {
        const char *name, *category, *color, *weather;
        float box[4];
    } bad[] = {
        {NULL, "car", NULL, NULL, {1, 2, 3, 4}},       {"", "car", NULL, NULL, {1, 2, 3, 4}},
        {"a/b.jpg", "car", NULL, NULL, {1, 2, 3, 4}},  {"a\nb.jpg", "car", NULL, NULL, {1, 2, 3, 4}},
        {"a\xff.jpg", "car", NULL, NULL, {1, 2, 3, 4}}, {"a.jpg", "lane", NULL, NULL, {1, 2, 3, 4}},
        {"a.jpg", "car", "blue", NULL, {1, 2, 3, 4}},  {"a.jpg", "car", "G", NULL, {1, 2, 3, 4}},
        {"a.jpg", "car", NULL, "\xc0\x80", {1, 2, 3, 4}}, {"a.jpg", "car", NULL, NULL, {3, 2, 1, 4}},
        {"a.jpg", "car", NULL, NULL, {1, 4, 3, 2}},    {"a.jpg", "car", NULL, NULL, {1, 2, INFINITY, 4}},
        {"a.jpg", "car", NULL, NULL, {NAN, 2, 3, 4}},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        fl_frame f = {0};
        f.name = bad[i].name ? fl_strdup(bad[i].name) : NULL;
        f.weather = bad[i].weather ? fl_strdup(bad[i].weather) : NULL;
        CHECK(fl_frame_add_label(&f, "car", good, false, false, NULL));
        CHECK(fl_frame_add_label(&f, bad[i].category, bad[i].box, false, false, bad[i].color));
        if (fl_bdd_write_frame(&out, &f) != FL_EINVAL) {
            fprintf(stderr, "  bad frame %zu was written\n", i);
            tl_failures++;
        }
        CHECK_EQ_INT(out.size, 1);
        fl_frame_clear(&f);
    }
    CHECK_EQ_INT(fl_bdd_write_frame(&out, NULL), FL_EINVAL);
    fl_buf_free(&out);
}

/* ---- allocation failures ---- */

/* The det_20 fixture read (1-byte reads, so refills happen everywhere) and written back with the n-th
 * allocation failing, for every n until a run completes: each run ends in FL_OK with the full result or
 * FL_ENOMEM, and leaks nothing (ASan). */
static void test_allocation_failures(void) {
    char *text = json(det20_fixture);
    static parsed reference;
    parse(&reference, text, strlen(text), 0, 0, 0);
    int completed = 0, failures = 0;
    for (long n = 1; n < 100000 && !completed; n++) {
        mem_source src = {.data = text, .size = strlen(text), .chunk = 1};
        warnings w = {0};
        fl_error err = {0};
        fl_bdd_reader *r = NULL;
        fl_buf out;
        fl_buf_init(&out);
        int frames = 0, rc;
        fl_alloc_fail_after(n);
        rc = fl_bdd_reader_open("det.json", mem_read, &src, collect_warning, &w, &r, &err);
        for (bool got = true; rc == FL_OK && got;) {
            fl_frame f = {0};
            rc = fl_bdd_reader_next(r, &f, &got, &err);
            if (rc == FL_OK && got) {
                if (!frame_eq(&f, &reference.frames[frames])) {
                    fprintf(stderr, "  run %ld: frame %d differs\n", n, frames);
                    tl_failures++;
                }
                frames++;
                int wrc = fl_bdd_write_frame(&out, &f);
                if (wrc != FL_OK) rc = wrc;
            }
            fl_frame_clear(&f);
        }
        fl_alloc_fail_after(0);
        fl_bdd_reader_free(r);
        fl_buf_free(&out);
        if (rc == FL_OK) {
            completed = 1;
            CHECK_EQ_INT(frames, reference.n);
            CHECK_EQ_STR(w.text, reference.w.text);
        } else if (rc == FL_ENOMEM) {
            failures++;
        } else {
            fprintf(stderr, "  run %ld: code %d (%s)\n", n, rc, err.message);
            tl_failures++;
        }
    }
    CHECK(completed);
    CHECK(failures > 50);
    parsed_free(&reference);
    free(text);
}

/* ---- memory ---- */

/* Live and peak heap bytes, through the sanitizer allocator's hooks (present in the ASan build the C tests
 * run under). Without them the check is skipped. */
int __sanitizer_install_malloc_and_free_hooks(void (*malloc_hook)(const volatile void *, size_t),
                                              void (*free_hook)(const volatile void *)) __attribute__((weak));
size_t __sanitizer_get_allocated_size(const volatile void *p) __attribute__((weak));

static size_t heap_live, heap_peak;
static bool heap_tracking;

static void on_malloc(const volatile void *p, size_t size) {
    (void)p;
    if (!heap_tracking) return;
    heap_live += size;
    if (heap_live > heap_peak) heap_peak = heap_live;
}

static void on_free(const volatile void *p) {
    if (!heap_tracking || !p) return;
    size_t size = __sanitizer_get_allocated_size(p);
    heap_live = size <= heap_live ? heap_live - size : 0;
}

/* A generated det_20 file of n frames, produced on the fly (no allocation, nothing held). */
typedef struct gen_source {
    int frames, next;
    char chunk[4096];
    size_t len, pos;
    bool closed;
} gen_source;

static int64_t gen_read(void *ctx, void *buf, size_t size, const char **why) {
    (void)why;
    gen_source *g = ctx;
    if (g->pos == g->len) {
        g->pos = g->len = 0;
        if (g->next < g->frames) {
            int i = g->next++;
            int n = snprintf(g->chunk, sizeof g->chunk,
                             "%s{\"name\": \"%08x-%08x.jpg\", \"attributes\": {\"weather\": \"clear\", \"scene\": \"city street\","
                             " \"timeofday\": \"daytime\"}, \"timestamp\": 10000, \"labels\": [",
                             i ? ",\n" : "[\n", (unsigned)i * 2654435761u, (unsigned)i);
            for (int k = 0; k < 1 + i % 12; k++)
                n += snprintf(g->chunk + n, sizeof g->chunk - (size_t)n,
                              "%s{\"id\": \"%d\", \"category\": \"%s\", \"attributes\": {\"occluded\": false, \"truncated\": false,"
                              " \"trafficLightColor\": \"NA\"}, \"box2d\": {\"x1\": %d.5, \"y1\": 281.3, \"x2\": %d.25, \"y2\": 326.7}}",
                              k ? ", " : "", k, k % 3 ? "car" : "traffic sign", k, k + 40);
            n += snprintf(g->chunk + n, sizeof g->chunk - (size_t)n, "]}");
            g->len = (size_t)n;
        } else if (!g->closed) {
            g->closed = true;
            g->len = (size_t)snprintf(g->chunk, sizeof g->chunk, "%s]\n", g->frames ? "\n" : "[");
        } else {
            return 0;
        }
    }
    size_t n = g->len - g->pos;
    if (n > size) n = size;
    if (n > 1000) n = 1000; /* odd-sized reads, so refills fall everywhere */
    memcpy(buf, g->chunk + g->pos, n);
    g->pos += n;
    return (int64_t)n;
}

/* Reads n generated frames; returns the peak heap bytes above the level at the start (0 if untracked). */
static size_t peak_for(int frames) {
    gen_source g = {.frames = frames};
    fl_frame f = {0};
    heap_live = heap_peak = 0;
    heap_tracking = true;
    fl_bdd_reader *r = NULL;
    CHECK_OK(fl_bdd_reader_open("gen.json", gen_read, &g, NULL, NULL, &r, &tl_err));
    int count = 0;
    size_t labels = 0;
    for (;;) {
        bool got = false;
        int rc = fl_bdd_reader_next(r, &f, &got, &tl_err);
        CHECK_EQ_INT(rc, FL_OK);
        if (rc != FL_OK || !got) break;
        count++;
        labels += f.n_labels;
    }
    fl_frame_clear(&f);
    fl_bdd_reader_free(r);
    heap_tracking = false;
    CHECK_EQ_INT(count, frames);
    CHECK_EQ_INT(heap_live, 0); /* everything allocated was freed */
    size_t expected_labels = 0;
    for (int i = 0; i < frames; i++) expected_labels += 1 + (size_t)(i % 12);
    CHECK_EQ_INT(labels, expected_labels);
    return heap_peak;
}

static void test_memory_bounded(void) {
    if (!__sanitizer_install_malloc_and_free_hooks || !__sanitizer_get_allocated_size) {
        fprintf(stderr, "  (no sanitizer allocator hooks: peak memory not measured)\n");
        peak_for(5000);
        return;
    }
    __sanitizer_install_malloc_and_free_hooks(on_malloc, on_free);
    size_t small = peak_for(5000);
    size_t large = peak_for(50000);
    fprintf(stderr, "  peak heap: %zu bytes for 5k frames, %zu for 50k\n", small, large);
    CHECK(small > 64 * 1024);
    CHECK(large <= small);
    CHECK(large < 128 * 1024);
}

int main(void) {
    RUN(test_det20_fixture);
    RUN(test_chunk_sizes);
    RUN(test_label_shapes);
    RUN(test_old_release);
    RUN(test_category_map);
    RUN(test_timestamps);
    RUN(test_malformed);
    RUN(test_nesting);
    RUN(test_limits);
    RUN(test_io_errors);
    RUN(test_strict);
    RUN(test_message_text);
    RUN(test_writer_round_trip);
    RUN(test_writer_refuses);
    RUN(test_allocation_failures);
    RUN(test_memory_bounded);
    return tl_finish("test_bdd_labels");
}
