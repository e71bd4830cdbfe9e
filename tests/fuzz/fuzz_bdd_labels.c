/*
 * fuzz_bdd_labels.c — libFuzzer target for the BDD100K label reader (src/ingest/bdd_labels.c) and the
 * streaming JSON tokenizer under it (src/ingest/json_stream.c).
 *
 * Input: a label file (a JSON array of frames). It is read twice in lockstep: once through a source that
 * returns chunks of pseudo-random sizes (1 to 16 bytes mostly, sometimes up to 70000; the sizes follow from
 * a hash of the input), once in a single chunk. Both reads must return the same frames, frame offsets and
 * warnings and end the same way (the same code and message). Every returned frame must satisfy the reader's
 * promises (a valid name, det_20 categories, known colors, finite non-degenerate boxes, an offset pointing at
 * a '{' after the previous one), and fl_bdd_write_frame must accept it and give JSON that reads back as an
 * identical frame without warnings. Some inputs (a hash bit) run in strict mode: the warn function stops the
 * parse at the first warning, which must end it with that code.
 *
 *   make build-fuzz/fuzz_bdd_labels && scripts/run-fuzz.sh long build-fuzz/fuzz_bdd_labels 600
 */
#include "common/common.h"
#include "ingest/bdd.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#define FAIL(...)                                                                                              \
    do {                                                                                                       \
        fprintf(stderr, "fuzz_bdd_labels: " __VA_ARGS__);                                                      \
        fprintf(stderr, "\n");                                                                                 \
        abort();                                                                                               \
    } while (0)

typedef struct source {
    const uint8_t *data;
    size_t size, pos;
    uint64_t rng;               /* 0: one chunk */
} source;

static int64_t source_read(void *ctx, void *buf, size_t size, const char **why) {
    (void)why;
    source *s = ctx;
    size_t n = s->size - s->pos;
    if (s->rng) {
        s->rng ^= s->rng << 13;
        s->rng ^= s->rng >> 7;
        s->rng ^= s->rng << 17;
        size_t chunk = s->rng % 4 == 0 ? 1 + (size_t)(s->rng >> 8) % 70000 : 1 + (size_t)(s->rng >> 8) % 16;
        if (n > chunk) n = chunk;
    }
    if (n > size) n = size;
    memcpy(buf, s->data + s->pos, n);
    s->pos += n;
    return (int64_t)n;
}

typedef struct warn_log {
    fl_buf text;                /* every warning, one per line */
    int count;
    bool strict;
} warn_log;

static int on_warning(void *ctx, const char *message) {
    warn_log *w = ctx;
    if (strncmp(message, "fuzz.json: byte ", 16) != 0) FAIL("warning without its place: %s", message);
    w->count++;
    fl_buf_printf(&w->text, "%s\n", message);
    return w->strict ? FL_EINVAL : FL_OK;
}

static bool str_eq(const char *a, const char *b) { return (!a && !b) || (a && b && strcmp(a, b) == 0); }

static bool frame_eq(const fl_frame *a, const fl_frame *b) {
    if (!str_eq(a->name, b->name) || !str_eq(a->weather, b->weather) || !str_eq(a->scene, b->scene) ||
        !str_eq(a->timeofday, b->timeofday) || a->has_timestamp != b->has_timestamp || a->n_labels != b->n_labels)
        return false;
    if (a->has_timestamp && a->timestamp != b->timestamp) return false;
    for (size_t i = 0; i < a->n_labels; i++) {
        const fl_label *x = &a->labels[i], *y = &b->labels[i];
        if (!str_eq(x->category, y->category) || x->occluded != y->occluded || x->truncated != y->truncated ||
            !str_eq(x->traffic_light_color, y->traffic_light_color) || memcmp(x->box, y->box, sizeof x->box) != 0)
            return false;
    }
    return true;
}

/* The reader's promises about a frame it returned. */
static void check_frame(const fl_frame *f) {
    if (!f->name || !f->name[0] || strchr(f->name, '/') || fl_has_control_char(f->name)) FAIL("bad frame name");
    for (size_t i = 0; i < f->n_labels; i++) {
        const fl_label *l = &f->labels[i];
        const char *det20 = fl_bdd_category(l->category);
        if (!det20 || strcmp(det20, l->category) != 0) FAIL("label category '%s' is not a det_20 name", l->category);
        const char *c = l->traffic_light_color;
        if (c && strcmp(c, "green") && strcmp(c, "yellow") && strcmp(c, "red")) FAIL("traffic light color '%s'", c);
        for (int k = 0; k < 4; k++)
            if (!isfinite(l->box[k])) FAIL("non-finite box");
        if (l->box[2] < l->box[0] || l->box[3] < l->box[1]) FAIL("degenerate box");
    }
}

/* Writes the frame, reads it back, and compares. */
static void check_round_trip(const fl_frame *f) {
    fl_buf out;
    fl_buf_init(&out);
    fl_buf_put_u8(&out, '[');
    int rc = fl_bdd_write_frame(&out, f);
    if (rc != FL_OK) FAIL("the writer refused an accepted frame (%d)", rc);
    fl_buf_put_u8(&out, ']');
    source src = {.data = out.data, .size = out.size};
    warn_log w = {.strict = false};
    fl_buf_init(&w.text);
    fl_bdd_reader *r = NULL;
    fl_error err = {0};
    if (fl_bdd_reader_open("fuzz.json", source_read, &src, on_warning, &w, &r, &err) != FL_OK) FAIL("open: %s", err.message);
    fl_frame back = {0}, end = {0};
    bool got = false, more = true;
    rc = fl_bdd_reader_next(r, &back, &got, &err);
    if (rc != FL_OK || !got) FAIL("written frame does not read back: %s\n%.*s", err.message, (int)out.size, (const char *)out.data);
    if (!frame_eq(f, &back)) FAIL("written frame reads back different:\n%.*s", (int)out.size, (const char *)out.data);
    if (fl_bdd_reader_next(r, &end, &more, &err) != FL_OK || more) FAIL("written frame not alone: %s", err.message);
    if (w.count) FAIL("written frame gives warnings: %.*s", (int)w.text.size, (const char *)w.text.data);
    fl_frame_clear(&back);
    fl_bdd_reader_free(r);
    fl_buf_free(&w.text);
    fl_buf_free(&out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    uint64_t hash = fl_hash64(data, size);
    source chunked = {.data = data, .size = size, .rng = hash | 1}, whole = {.data = data, .size = size};
    warn_log wa = {.strict = (hash >> 63) != 0}, wb = {.strict = wa.strict};
    fl_buf_init(&wa.text);
    fl_buf_init(&wb.text);
    fl_bdd_reader *a = NULL, *b = NULL;
    fl_error ea = {0}, eb = {0};
    if (fl_bdd_reader_open("fuzz.json", source_read, &chunked, on_warning, &wa, &a, &ea) != FL_OK ||
        fl_bdd_reader_open("fuzz.json", source_read, &whole, on_warning, &wb, &b, &eb) != FL_OK)
        FAIL("open failed");
    uint64_t last_offset = 0;
    for (int n = 0;; n++) {
        fl_frame fa = {0}, fb = {0};
        bool got_a = false, got_b = false;
        int ra = fl_bdd_reader_next(a, &fa, &got_a, &ea);
        int rb = fl_bdd_reader_next(b, &fb, &got_b, &eb);
        if (ra != rb || got_a != got_b || strcmp(ea.message, eb.message) != 0 || wa.count != wb.count ||
            wa.text.size != wb.text.size || (wa.text.size && memcmp(wa.text.data, wb.text.data, wa.text.size) != 0))
            FAIL("chunked and whole reads differ at frame %d: %d \"%s\" / %d \"%s\"", n, ra, ea.message, rb, eb.message);
        if (ra != FL_OK) {
            if (ra != FL_ECORRUPT && ra != FL_EINVAL && ra != FL_EUNSUPPORTED) FAIL("unexpected code %d: %s", ra, ea.message);
            if (strncmp(ea.message, "fuzz.json: byte ", 16) != 0) FAIL("error without its place: %s", ea.message);
            if (wa.strict && wa.count && ra != FL_EINVAL) FAIL("strict warning did not stop the parse");
            if (fa.name || fa.n_labels) FAIL("failed call left a frame");
            break;
        }
        if (!got_a) {
            if (wa.strict && wa.count) FAIL("strict warning did not stop the parse");
            break;
        }
        if (!frame_eq(&fa, &fb)) FAIL("chunked and whole reads give different frames at %d", n);
        uint64_t offset = fl_bdd_reader_frame_offset(a);
        if (offset != fl_bdd_reader_frame_offset(b) || offset >= size || data[offset] != '{' || (n && offset <= last_offset))
            FAIL("frame %d offset %llu is not its '{'", n, (unsigned long long)offset);
        last_offset = offset;
        check_frame(&fa);
        check_round_trip(&fa);
        fl_frame_clear(&fa);
        fl_frame_clear(&fb);
    }
    fl_bdd_reader_free(a);
    fl_bdd_reader_free(b);
    fl_buf_free(&wa.text);
    fl_buf_free(&wb.text);
    return 0;
}
