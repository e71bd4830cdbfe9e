/*
 * bdd_labels.c — BDD100K label JSON, read one frame at a time by recursive descent over json_stream.h, and
 * written back det_20-shaped (see bdd.h).
 *
 * The reader's states:
 *
 *     BEFORE_ARRAY ──'['──▶ IN_ARRAY ──frame──▶ IN_ARRAY ... ──']' + whitespace + end──▶ FINISHED
 *          └──────────────────────────┴── any error ──▶ FAILED (sticky)
 *
 * Nesting depths (for the 64-level limit): the array 1, a frame 2, its attributes and labels 3, a label 4,
 * a label's attributes and box2d 5; unknown values are skipped with the depth of the object holding them.
 *
 * Label warnings name the frame, but a frame's "name" may come after its "labels": warnings raised before
 * the name is known wait in a queue that is flushed as soon as the name has been read and checked.
 */
#include "bdd.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>

#define READ_BUFFER_SIZE (64 * 1024)
#define SHOWN_BYTES 64              /* of a name, id or value quoted in a message */

enum reader_state { BEFORE_ARRAY, IN_ARRAY, FINISHED, FAILED };

typedef struct pending_warning {
    uint64_t offset;
    char *text;                 /* owned: "label <id>: <reason>" */
} pending_warning;

struct fl_bdd_reader {
    fl_jstream js;
    char *what;                 /* owned copy; js.what points here */
    fl_bdd_warn_fn warn;
    void *warn_ctx;
    enum reader_state state;
    bool first_frame;           /* IN_ARRAY: no frame read yet */
    int failed_code;            /* FAILED: the code to repeat */
    uint64_t frame_offset;      /* '{' of the frame last returned (or being parsed) */
    pending_warning *pending;   /* warnings of the current frame waiting for its name */
    size_t n_pending, cap_pending;
};

/* ---- categories ---- */

static const char *const category_map[][2] = {
    /* det_20 */
    {"pedestrian", "pedestrian"}, {"rider", "rider"}, {"car", "car"}, {"truck", "truck"}, {"bus", "bus"},
    {"train", "train"}, {"motorcycle", "motorcycle"}, {"bicycle", "bicycle"}, {"traffic light", "traffic light"},
    {"traffic sign", "traffic sign"}, {"other person", "other person"}, {"other vehicle", "other vehicle"},
    {"trailer", "trailer"},
    /* the older release */
    {"person", "pedestrian"}, {"bike", "bicycle"}, {"motor", "motorcycle"},
};

const char *fl_bdd_category(const char *name) {
    if (!name) return NULL;
    for (size_t i = 0; i < sizeof category_map / sizeof category_map[0]; i++)
        if (strcmp(name, category_map[i][0]) == 0) return category_map[i][1];
    return NULL;
}

/* The stored traffic light color for a BDD value; *known = false for an unexpected value. */
static const char *traffic_light_color(const char *value, bool *known) {
    static const char *const map[][2] = {{"G", "green"}, {"green", "green"}, {"Y", "yellow"}, {"yellow", "yellow"},
                                         {"R", "red"},   {"red", "red"},     {"NA", NULL},      {"none", NULL}};
    *known = true;
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (strcmp(value, map[i][0]) == 0) return map[i][1];
    *known = false;
    return NULL;
}

/* ---- messages ---- */

/* Copies up to SHOWN_BYTES of s into out (cut at a UTF-8 boundary, "..." appended when cut), control
 * characters replaced by '?', so that untrusted text is safe to print. out needs SHOWN_BYTES + 4 bytes. */
static const char *shown(char *out, const char *s, size_t len) {
    size_t n = len;
    if (n > SHOWN_BYTES) {
        n = SHOWN_BYTES;
        while (n > 0 && ((uint8_t)s[n] & 0xC0) == 0x80) n--;
    }
    for (size_t i = 0; i < n; i++) out[i] = (uint8_t)s[i] < 0x20 ? '?' : s[i];
    if (n < len) memcpy(out + n, "...", 3), n += 3;
    out[n] = 0;
    return out;
}

/* The current string of the stream, shown. */
static const char *shown_str(char *out, const fl_jstream *js) { return shown(out, (const char *)js->str, js->str_len); }

/* Wrong-shape error for the value starting at the next byte: the value is validated first, so malformed
 * JSON is still reported as such. `expected` completes "expected ...". */
static int wrong_type(fl_bdd_reader *r, int depth, const char *expected, fl_error *err) {
    int c;
    FL_RETURN_NOT_OK(fl_js_peek(&r->js, &c, err));
    uint64_t at = fl_js_offset(&r->js);
    const char *kind = fl_js_kind(c);
    if (!kind) {
        char found[16];
        return fl_js_fail(&r->js, err, FL_ECORRUPT, at, "expected %s, found %s", expected, fl_js_describe(c, found));
    }
    FL_RETURN_NOT_OK(fl_js_skip(&r->js, depth, err));
    return fl_js_fail(&r->js, err, FL_EINVAL, at, "expected %s, found %s", expected, kind);
}

/* A key seen twice in one object would make the result depend on which copy wins. */
static int check_duplicate(fl_bdd_reader *r, unsigned *seen, unsigned bit, const char *ctx, fl_error *err) {
    if (*seen & bit) {
        char s[SHOWN_BYTES + 4];
        return fl_js_fail(&r->js, err, FL_EINVAL, r->js.key_offset, "duplicate key '%s' in %s", shown_str(s, &r->js), ctx);
    }
    *seen |= bit;
    return FL_OK;
}

static int emit_warning(fl_bdd_reader *r, const char *frame_name, uint64_t offset, const char *text, fl_error *err) {
    if (!r->warn) return FL_OK;
    char name[SHOWN_BYTES + 4];
    char *msg = fl_sprintf("%s: byte %llu: frame '%s' %s", r->what, (unsigned long long)offset,
                           shown(name, frame_name, strlen(frame_name)), text);
    if (!msg) return fl_error_set(err, FL_ENOMEM, "%s: out of memory", r->what);
    int rc = r->warn(r->warn_ctx, msg);
    if (rc != FL_OK) fl_error_set(err, rc, "%s", msg);
    fl_free(msg);
    return rc;
}

static void drop_pending(fl_bdd_reader *r) {
    for (size_t i = 0; i < r->n_pending; i++) fl_free(r->pending[i].text);
    r->n_pending = 0;
}

/* Reports a label problem now if the frame's name is known, else queues it. */
static int label_warning(fl_bdd_reader *r, const fl_frame *frame, uint64_t offset, const char *label, const char *reason,
                         fl_error *err) {
    if (!r->warn) return FL_OK;
    char *text = fl_sprintf("label %s: %s", label, reason);
    if (!text) return fl_error_set(err, FL_ENOMEM, "%s: out of memory", r->what);
    if (frame->name) {
        int rc = emit_warning(r, frame->name, offset, text, err);
        fl_free(text);
        return rc;
    }
    if (!fl_reserve((void **)&r->pending, &r->cap_pending, r->n_pending + 1, sizeof *r->pending, 8)) {
        fl_free(text);
        return fl_error_set(err, FL_ENOMEM, "%s: out of memory", r->what);
    }
    r->pending[r->n_pending++] = (pending_warning){offset, text};
    return FL_OK;
}

static int flush_pending(fl_bdd_reader *r, const fl_frame *frame, fl_error *err) {
    int rc = FL_OK;
    for (size_t i = 0; i < r->n_pending && rc == FL_OK; i++) rc = emit_warning(r, frame->name, r->pending[i].offset, r->pending[i].text, err);
    drop_pending(r);
    return rc;
}

/* ---- labels ---- */

/* What one label object holds, before it is judged. */
typedef struct label_parse {
    char id[SHOWN_BYTES + 4];   /* shown "id" value; "" when absent */
    const char *category;       /* det_20 name (static); NULL: absent or unknown */
    bool has_category;
    bool box_present;           /* "box2d" key with a non-null value */
    uint64_t box_offset;
    float box[4];
    unsigned coords_seen;       /* bit i: box[i] was given */
    bool occluded, truncated;
    const char *color;          /* static; NULL: none */
    char *color_warning;        /* owned: reason for a color that was dropped */
    uint64_t color_offset;
    char *problem;              /* owned: the first reason to skip the label */
    uint64_t problem_offset;
} label_parse;

/* Records the first problem of a label (later ones are not reported). */
static int label_problem(fl_bdd_reader *r, label_parse *lp, uint64_t offset, fl_error *err, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
static int label_problem(fl_bdd_reader *r, label_parse *lp, uint64_t offset, fl_error *err, const char *fmt, ...) {
    if (lp->problem) return FL_OK;
    char text[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    lp->problem = fl_strdup(text);
    lp->problem_offset = offset;
    return lp->problem ? FL_OK : fl_error_set(err, FL_ENOMEM, "%s: out of memory", r->what);
}

/* Reads a boolean attribute (null = false); anything else is a label problem. */
static int label_bool(fl_bdd_reader *r, label_parse *lp, const char *key, bool *out, fl_error *err) {
    int c;
    FL_RETURN_NOT_OK(fl_js_peek(&r->js, &c, err));
    uint64_t at = fl_js_offset(&r->js);
    if (c == 't' || c == 'f' || c == 'n') {
        int v;
        FL_RETURN_NOT_OK(fl_js_literal(&r->js, &v, err));
        *out = v == 1;
        return FL_OK;
    }
    const char *kind = fl_js_kind(c);
    FL_RETURN_NOT_OK(fl_js_skip(&r->js, 5, err));
    return label_problem(r, lp, at, err, "'%s' is %s, not a boolean", key, kind);
}

static int parse_label_attributes(fl_bdd_reader *r, label_parse *lp, fl_error *err) {
    fl_jstream *js = &r->js;
    fl_js_advance(js); /* '{' */
    bool first = true, more;
    unsigned seen = 0;
    for (;;) {
        FL_RETURN_NOT_OK(fl_js_object_next(js, &first, &more, "a label's attributes", err));
        if (!more) return FL_OK;
        const char *key = (const char *)js->str;
        if (js->str_len == 8 && strcmp(key, "occluded") == 0) {
            FL_RETURN_NOT_OK(check_duplicate(r, &seen, 1, "a label's attributes", err));
            FL_RETURN_NOT_OK(label_bool(r, lp, "occluded", &lp->occluded, err));
        } else if (js->str_len == 9 && strcmp(key, "truncated") == 0) {
            FL_RETURN_NOT_OK(check_duplicate(r, &seen, 2, "a label's attributes", err));
            FL_RETURN_NOT_OK(label_bool(r, lp, "truncated", &lp->truncated, err));
        } else if (js->str_len == 17 && strcmp(key, "trafficLightColor") == 0) {
            FL_RETURN_NOT_OK(check_duplicate(r, &seen, 4, "a label's attributes", err));
            int c;
            FL_RETURN_NOT_OK(fl_js_peek(js, &c, err));
            lp->color_offset = fl_js_offset(js);
            if (c == '"') {
                FL_RETURN_NOT_OK(fl_js_string(js, true, err));
                bool known = false;
                if (strlen((const char *)js->str) == js->str_len) lp->color = traffic_light_color((const char *)js->str, &known);
                if (!known) {
                    char s[SHOWN_BYTES + 4];
                    lp->color_warning = fl_sprintf("unknown trafficLightColor '%s' (kept without a color)", shown_str(s, js));
                    if (!lp->color_warning) return fl_error_set(err, FL_ENOMEM, "%s: out of memory", r->what);
                }
            } else {
                const char *kind = fl_js_kind(c);
                FL_RETURN_NOT_OK(fl_js_skip(js, 5, err));
                if (c != 'n') {
                    lp->color_warning = fl_sprintf("trafficLightColor is %s, not a string (kept without a color)", kind);
                    if (!lp->color_warning) return fl_error_set(err, FL_ENOMEM, "%s: out of memory", r->what);
                }
            }
        } else {
            FL_RETURN_NOT_OK(fl_js_skip(js, 5, err));
        }
    }
}

static int parse_box(fl_bdd_reader *r, label_parse *lp, fl_error *err) {
    static const char *const names[4] = {"x1", "y1", "x2", "y2"};
    fl_jstream *js = &r->js;
    fl_js_advance(js); /* '{' */
    bool first = true, more;
    for (;;) {
        FL_RETURN_NOT_OK(fl_js_object_next(js, &first, &more, "box2d", err));
        if (!more) return FL_OK;
        int which = -1;
        for (int i = 0; i < 4; i++)
            if (js->str_len == 2 && strcmp((const char *)js->str, names[i]) == 0) which = i;
        if (which < 0) {
            FL_RETURN_NOT_OK(fl_js_skip(js, 5, err));
            continue;
        }
        FL_RETURN_NOT_OK(check_duplicate(r, &lp->coords_seen, 1u << which, "box2d", err));
        int c;
        FL_RETURN_NOT_OK(fl_js_peek(js, &c, err));
        uint64_t at = fl_js_offset(js);
        if (c == '-' || (c >= '0' && c <= '9')) {
            FL_RETURN_NOT_OK(fl_js_number(js, err));
            lp->box[which] = fl_js_number_float(js);
            if (!isfinite(lp->box[which])) {
                char s[SHOWN_BYTES + 4];
                FL_RETURN_NOT_OK(label_problem(r, lp, at, err, "box2d %s = %s is not finite as a float", names[which],
                                               shown(s, js->num, js->num_len)));
            }
        } else {
            const char *kind = fl_js_kind(c);
            FL_RETURN_NOT_OK(fl_js_skip(js, 5, err));
            FL_RETURN_NOT_OK(label_problem(r, lp, at, err, "box2d %s is %s, not a number", names[which], kind));
        }
    }
}

/* Parses the label object at the next byte ('{' peeked) and adds it to frame, or reports why not. */
static int parse_label(fl_bdd_reader *r, fl_frame *frame, size_t index, fl_error *err) {
    fl_jstream *js = &r->js;
    label_parse lp = {.id = ""};
    uint64_t label_at = fl_js_offset(js);
    fl_js_advance(js); /* '{' */
    bool first = true, more;
    unsigned seen = 0;
    int rc = FL_OK;
    char s[SHOWN_BYTES + 4];
    for (;;) {
        FL_GOTO_NOT_OK(rc, fl_js_object_next(js, &first, &more, "a label", err), done);
        if (!more) break;
        const char *key = (const char *)js->str;
        size_t key_len = js->str_len;
        int c;
        if (key_len == 8 && strcmp(key, "category") == 0) {
            FL_GOTO_NOT_OK(rc, check_duplicate(r, &seen, 1, "a label", err), done);
            FL_GOTO_NOT_OK(rc, fl_js_peek(js, &c, err), done);
            uint64_t at = fl_js_offset(js);
            lp.has_category = true;
            if (c == '"') {
                FL_GOTO_NOT_OK(rc, fl_js_string(js, true, err), done);
                if (strlen((const char *)js->str) == js->str_len) lp.category = fl_bdd_category((const char *)js->str);
                if (!lp.category) FL_GOTO_NOT_OK(rc, label_problem(r, &lp, at, err, "unknown category '%s'", shown_str(s, js)), done);
            } else {
                const char *kind = fl_js_kind(c);
                FL_GOTO_NOT_OK(rc, fl_js_skip(js, 4, err), done);
                FL_GOTO_NOT_OK(rc, label_problem(r, &lp, at, err, "category is %s, not a string", kind), done);
            }
        } else if (key_len == 2 && strcmp(key, "id") == 0) {
            FL_GOTO_NOT_OK(rc, check_duplicate(r, &seen, 2, "a label", err), done);
            FL_GOTO_NOT_OK(rc, fl_js_peek(js, &c, err), done);
            if (c == '"') {
                FL_GOTO_NOT_OK(rc, fl_js_string(js, true, err), done);
                shown_str(lp.id, js);
            } else if (c == '-' || (c >= '0' && c <= '9')) {
                FL_GOTO_NOT_OK(rc, fl_js_number(js, err), done);
                shown(lp.id, js->num, js->num_len);
            } else {
                FL_GOTO_NOT_OK(rc, fl_js_skip(js, 4, err), done);
            }
        } else if (key_len == 10 && strcmp(key, "attributes") == 0) {
            FL_GOTO_NOT_OK(rc, check_duplicate(r, &seen, 4, "a label", err), done);
            FL_GOTO_NOT_OK(rc, fl_js_peek(js, &c, err), done);
            uint64_t at = fl_js_offset(js);
            if (c == '{') {
                FL_GOTO_NOT_OK(rc, parse_label_attributes(r, &lp, err), done);
            } else {
                const char *kind = fl_js_kind(c);
                FL_GOTO_NOT_OK(rc, fl_js_skip(js, 4, err), done);
                if (c != 'n') FL_GOTO_NOT_OK(rc, label_problem(r, &lp, at, err, "attributes is %s, not an object", kind), done);
            }
        } else if (key_len == 5 && strcmp(key, "box2d") == 0) {
            FL_GOTO_NOT_OK(rc, check_duplicate(r, &seen, 8, "a label", err), done);
            FL_GOTO_NOT_OK(rc, fl_js_peek(js, &c, err), done);
            lp.box_offset = fl_js_offset(js);
            lp.box_present = c != 'n';
            if (c == '{') {
                FL_GOTO_NOT_OK(rc, parse_box(r, &lp, err), done);
            } else {
                const char *kind = fl_js_kind(c);
                FL_GOTO_NOT_OK(rc, fl_js_skip(js, 4, err), done);
                if (c != 'n') FL_GOTO_NOT_OK(rc, label_problem(r, &lp, lp.box_offset, err, "box2d is %s, not an object", kind), done);
            }
        } else {
            FL_GOTO_NOT_OK(rc, fl_js_skip(js, 4, err), done);
        }
    }

    /* Judge the label. Without a box it is not a detection (lane, drivable area): skipped silently. */
    if (!lp.box_present) goto done;
    char label[SHOWN_BYTES + 24];
    if (lp.id[0]) snprintf(label, sizeof label, "%s", lp.id);
    else snprintf(label, sizeof label, "#%zu", index);
    if (!lp.has_category) FL_GOTO_NOT_OK(rc, label_problem(r, &lp, label_at, err, "no category"), done);
    for (int i = 0; i < 4 && !lp.problem; i++) {
        static const char *const names[4] = {"x1", "y1", "x2", "y2"};
        if (!(lp.coords_seen & (1u << i)))
            FL_GOTO_NOT_OK(rc, label_problem(r, &lp, lp.box_offset, err, "box2d has no %s", names[i]), done);
    }
    if (!lp.problem && (lp.box[2] < lp.box[0] || lp.box[3] < lp.box[1]))
        FL_GOTO_NOT_OK(rc, label_problem(r, &lp, lp.box_offset, err, "degenerate box2d (x1 %.9g, y1 %.9g, x2 %.9g, y2 %.9g)",
                                         (double)lp.box[0], (double)lp.box[1], (double)lp.box[2], (double)lp.box[3]),
                       done);
    if (lp.problem) {
        FL_GOTO_NOT_OK(rc, label_warning(r, frame, lp.problem_offset, label, lp.problem, err), done);
        goto done;
    }
    if (lp.color_warning) FL_GOTO_NOT_OK(rc, label_warning(r, frame, lp.color_offset, label, lp.color_warning, err), done);
    if (!fl_frame_add_label(frame, lp.category, lp.box, lp.occluded, lp.truncated, lp.color))
        rc = fl_error_set(err, FL_ENOMEM, "%s: out of memory", r->what);
done:
    fl_free(lp.problem);
    fl_free(lp.color_warning);
    return rc;
}

static int parse_labels(fl_bdd_reader *r, fl_frame *frame, fl_error *err) {
    fl_jstream *js = &r->js;
    fl_js_advance(js); /* '[' */
    bool first = true, more;
    for (size_t index = 0;; index++) {
        FL_RETURN_NOT_OK(fl_js_array_next(js, &first, &more, "a label", err));
        if (!more) return FL_OK;
        int c;
        FL_RETURN_NOT_OK(fl_js_peek(js, &c, err));
        if (index == FL_BDD_MAX_LABELS)
            return fl_js_fail(js, err, FL_EUNSUPPORTED, fl_js_offset(js), "frame has more than %d labels", FL_BDD_MAX_LABELS);
        if (c != '{') return wrong_type(r, 3, "a label object", err);
        FL_RETURN_NOT_OK(parse_label(r, frame, index, err));
    }
}

/* ---- frames ---- */

/* A frame attribute: a string (stored in *out) or null. */
static int parse_frame_string(fl_bdd_reader *r, const char *key, char **out, fl_error *err) {
    int c;
    FL_RETURN_NOT_OK(fl_js_peek(&r->js, &c, err));
    uint64_t at = fl_js_offset(&r->js);
    if (c == 'n') return fl_js_skip(&r->js, 3, err);
    if (c != '"') {
        char expected[64];
        snprintf(expected, sizeof expected, "'%s' to be a string or null", key);
        return wrong_type(r, 3, expected, err);
    }
    FL_RETURN_NOT_OK(fl_js_string(&r->js, true, err));
    if (strlen((const char *)r->js.str) != r->js.str_len)
        return fl_js_fail(&r->js, err, FL_EINVAL, at, "'%s' contains a NUL character", key);
    *out = fl_strndup((const char *)r->js.str, r->js.str_len);
    return *out ? FL_OK : fl_error_set(err, FL_ENOMEM, "%s: out of memory", r->what);
}

static int parse_frame_attributes(fl_bdd_reader *r, fl_frame *frame, fl_error *err) {
    static const char *const keys[3] = {"weather", "scene", "timeofday"};
    char **fields[3] = {&frame->weather, &frame->scene, &frame->timeofday};
    fl_jstream *js = &r->js;
    fl_js_advance(js); /* '{' */
    bool first = true, more;
    unsigned seen = 0;
    for (;;) {
        FL_RETURN_NOT_OK(fl_js_object_next(js, &first, &more, "a frame's attributes", err));
        if (!more) return FL_OK;
        int which = -1;
        for (int i = 0; i < 3; i++)
            if (strlen(keys[i]) == js->str_len && strcmp((const char *)js->str, keys[i]) == 0) which = i;
        if (which < 0) {
            FL_RETURN_NOT_OK(fl_js_skip(js, 3, err));
            continue;
        }
        FL_RETURN_NOT_OK(check_duplicate(r, &seen, 1u << which, "a frame's attributes", err));
        FL_RETURN_NOT_OK(parse_frame_string(r, keys[which], fields[which], err));
    }
}

/* Checks a frame name: a file name, not a path, printable. */
static int check_name(fl_bdd_reader *r, uint64_t at, fl_error *err) {
    const fl_jstream *js = &r->js;
    const char *name = (const char *)js->str;
    char s[SHOWN_BYTES + 4];
    if (js->str_len == 0) return fl_js_fail(&r->js, err, FL_EINVAL, at, "frame name is empty");
    if (strlen(name) != js->str_len || fl_has_control_char(name))
        return fl_js_fail(&r->js, err, FL_EINVAL, at, "frame name '%s' contains a control character", shown_str(s, js));
    if (strchr(name, '/'))
        return fl_js_fail(&r->js, err, FL_EINVAL, at, "frame name '%s' contains '/'", shown_str(s, js));
    return FL_OK;
}

/* Parses the frame object at the next byte ('{' peeked). */
static int parse_frame(fl_bdd_reader *r, fl_frame *frame, fl_error *err) {
    enum { NAME = 1, ATTRIBUTES = 2, TIMESTAMP = 4, LABELS = 8 };
    fl_jstream *js = &r->js;
    fl_js_advance(js); /* '{' */
    bool first = true, more;
    unsigned seen = 0;
    for (;;) {
        FL_RETURN_NOT_OK(fl_js_object_next(js, &first, &more, "a frame", err));
        if (!more) break;
        const char *key = (const char *)js->str;
        size_t key_len = js->str_len;
        int c;
        if (key_len == 4 && strcmp(key, "name") == 0) {
            FL_RETURN_NOT_OK(check_duplicate(r, &seen, NAME, "a frame", err));
            FL_RETURN_NOT_OK(fl_js_peek(js, &c, err));
            uint64_t at = fl_js_offset(js);
            if (c != '"') return wrong_type(r, 2, "'name' to be a string", err);
            FL_RETURN_NOT_OK(fl_js_string(js, true, err));
            FL_RETURN_NOT_OK(check_name(r, at, err));
            frame->name = fl_strndup((const char *)js->str, js->str_len);
            if (!frame->name) return fl_error_set(err, FL_ENOMEM, "%s: out of memory", r->what);
            FL_RETURN_NOT_OK(flush_pending(r, frame, err));
        } else if (key_len == 10 && strcmp(key, "attributes") == 0) {
            FL_RETURN_NOT_OK(check_duplicate(r, &seen, ATTRIBUTES, "a frame", err));
            FL_RETURN_NOT_OK(fl_js_peek(js, &c, err));
            if (c == '{') FL_RETURN_NOT_OK(parse_frame_attributes(r, frame, err));
            else if (c == 'n') FL_RETURN_NOT_OK(fl_js_skip(js, 2, err));
            else return wrong_type(r, 2, "'attributes' to be an object or null", err);
        } else if (key_len == 9 && strcmp(key, "timestamp") == 0) {
            FL_RETURN_NOT_OK(check_duplicate(r, &seen, TIMESTAMP, "a frame", err));
            FL_RETURN_NOT_OK(fl_js_peek(js, &c, err));
            uint64_t at = fl_js_offset(js);
            if (c == 'n') {
                FL_RETURN_NOT_OK(fl_js_skip(js, 2, err));
            } else if (c == '-' || (c >= '0' && c <= '9')) {
                FL_RETURN_NOT_OK(fl_js_number(js, err));
                if (!fl_js_number_int64(js, &frame->timestamp))
                    return fl_js_fail(js, err, FL_EINVAL, at, "'timestamp' %s is not an integer in the int64 range", js->num);
                frame->has_timestamp = true;
            } else {
                return wrong_type(r, 2, "'timestamp' to be a number or null", err);
            }
        } else if (key_len == 6 && strcmp(key, "labels") == 0) {
            FL_RETURN_NOT_OK(check_duplicate(r, &seen, LABELS, "a frame", err));
            FL_RETURN_NOT_OK(fl_js_peek(js, &c, err));
            if (c == '[') FL_RETURN_NOT_OK(parse_labels(r, frame, err));
            else if (c == 'n') FL_RETURN_NOT_OK(fl_js_skip(js, 2, err));
            else return wrong_type(r, 2, "'labels' to be an array or null", err);
        } else {
            FL_RETURN_NOT_OK(fl_js_skip(js, 2, err));
        }
    }
    if (!frame->name) return fl_js_fail(js, err, FL_EINVAL, r->frame_offset, "frame has no \"name\"");
    return FL_OK;
}

/* ---- the reader ---- */

int fl_bdd_reader_open(const char *what, fl_read_fn read, void *read_ctx, fl_bdd_warn_fn warn, void *warn_ctx,
                       fl_bdd_reader **out, fl_error *err) {
    if (out) *out = NULL;
    if (!what || !read || !out) return fl_error_set(err, FL_EINVAL, "fl_bdd_reader_open: NULL argument");
    fl_bdd_reader *r = fl_calloc(1, sizeof *r);
    if (!r) return fl_error_set(err, FL_ENOMEM, "%s: out of memory", what);
    r->what = fl_strdup(what);
    if (!r->what) {
        fl_free(r);
        return fl_error_set(err, FL_ENOMEM, "%s: out of memory", what);
    }
    int rc = fl_js_init(&r->js, r->what, read, read_ctx, READ_BUFFER_SIZE, err);
    if (rc != FL_OK) {
        fl_bdd_reader_free(r);
        return rc;
    }
    r->warn = warn;
    r->warn_ctx = warn_ctx;
    r->state = BEFORE_ARRAY;
    *out = r;
    return FL_OK;
}

void fl_bdd_reader_free(fl_bdd_reader *r) {
    if (!r) return;
    drop_pending(r);
    fl_free(r->pending);
    fl_js_free(&r->js);
    fl_free(r->what);
    fl_free(r);
}

uint64_t fl_bdd_reader_frame_offset(const fl_bdd_reader *r) { return r ? r->frame_offset : 0; }

/* One step of the array walk: a frame into *frame (*got = true) or the end (*got = false). */
static int next_frame(fl_bdd_reader *r, fl_frame *frame, bool *got, fl_error *err) {
    fl_jstream *js = &r->js;
    int c;
    char found[16];
    if (r->state == BEFORE_ARRAY) {
        FL_RETURN_NOT_OK(fl_js_peek(js, &c, err));
        if (c != '[') {
            const char *kind = fl_js_kind(c);
            return fl_js_fail(js, err, kind ? FL_EINVAL : FL_ECORRUPT, fl_js_offset(js),
                              "expected '[' (a label file is a JSON array of frames), found %s",
                              kind ? kind : fl_js_describe(c, found));
        }
        fl_js_advance(js);
        r->state = IN_ARRAY;
        r->first_frame = true;
    }
    bool more;
    FL_RETURN_NOT_OK(fl_js_array_next(js, &r->first_frame, &more, "a frame", err));
    if (!more) {
        FL_RETURN_NOT_OK(fl_js_peek(js, &c, err));
        if (c != FL_JSON_EOF)
            return fl_js_fail(js, err, FL_ECORRUPT, fl_js_offset(js), "expected the end of the input after the array of frames, found %s",
                              fl_js_describe(c, found));
        r->state = FINISHED;
        return FL_OK;
    }
    FL_RETURN_NOT_OK(fl_js_peek(js, &c, err));
    if (c != '{') return wrong_type(r, 1, "a frame object", err);
    r->frame_offset = fl_js_offset(js);
    FL_RETURN_NOT_OK(parse_frame(r, frame, err));
    *got = true;
    return FL_OK;
}

int fl_bdd_reader_next(fl_bdd_reader *r, fl_frame *frame, bool *got, fl_error *err) {
    if (got) *got = false;
    if (!r || !frame || !got) return fl_error_set(err, FL_EINVAL, "fl_bdd_reader_next: NULL argument");
    fl_frame_clear(frame);
    if (r->state == FINISHED) return FL_OK;
    if (r->state == FAILED)
        return fl_error_set(err, r->failed_code, "%s: the reader stopped at an earlier error", r->what);
    int rc = next_frame(r, frame, got, err);
    drop_pending(r);
    if (rc != FL_OK) {
        fl_frame_clear(frame);
        *got = false;
        r->state = FAILED;
        r->failed_code = rc;
    }
    return rc;
}

/* ---- the writer ---- */

/* true when s is valid UTF-8 (the reader's rules: no overlongs, surrogates or code points past U+10FFFF). */
static bool valid_utf8(const char *s) {
    const uint8_t *p = (const uint8_t *)s;
    while (*p) {
        uint8_t c = *p++;
        if (c < 0x80) continue;
        int n;
        uint8_t lo = 0x80, hi = 0xBF;
        if (c >= 0xC2 && c <= 0xDF) n = 1;
        else if (c >= 0xE0 && c <= 0xEF) n = 2, lo = c == 0xE0 ? 0xA0 : 0x80, hi = c == 0xED ? 0x9F : 0xBF;
        else if (c >= 0xF0 && c <= 0xF4) n = 3, lo = c == 0xF0 ? 0x90 : 0x80, hi = c == 0xF4 ? 0x8F : 0xBF;
        else return false;
        for (int i = 0; i < n; i++, p++) {
            if (*p < lo || *p > hi) return false;
            lo = 0x80, hi = 0xBF;
        }
    }
    return true;
}

static bool writable_string(const char *s) { return !s || (strlen(s) <= FL_JSON_MAX_STRING && valid_utf8(s)); }

/* The shortest decimal that strtof reads back as exactly v (v finite). A normal float carries more than 7
 * significant digits, so a decimal of 6 or fewer digits that reads back as v is v rounded to 6 digits,
 * which %.6g prints without its trailing zeros: the search can start at 6 (subnormals, with fewer digits,
 * search from 1). 9 digits always suffice. */
static void put_float(fl_buf *out, float v) {
    char text[32];
    for (int digits = fabsf(v) < FLT_MIN ? 1 : 6; digits <= 9; digits++) {
        snprintf(text, sizeof text, "%.*g", digits, (double)v);
        if (strtof(text, NULL) == v) break;
    }
    fl_buf_append(out, text, strlen(text));
}

static bool writable(const fl_frame *f) {
    if (!f || !f->name || !f->name[0] || strchr(f->name, '/') || fl_has_control_char(f->name)) return false;
    if (!writable_string(f->name) || !writable_string(f->weather) || !writable_string(f->scene) ||
        !writable_string(f->timeofday))
        return false;
    if (f->n_labels > FL_BDD_MAX_LABELS || (f->n_labels && !f->labels)) return false;
    for (size_t i = 0; i < f->n_labels; i++) {
        const fl_label *l = &f->labels[i];
        if (!l->category || !fl_bdd_category(l->category)) return false;
        const char *c = l->traffic_light_color;
        if (c && strcmp(c, "green") != 0 && strcmp(c, "yellow") != 0 && strcmp(c, "red") != 0) return false;
        for (int k = 0; k < 4; k++)
            if (!isfinite(l->box[k])) return false;
        if (l->box[2] < l->box[0] || l->box[3] < l->box[1]) return false;
    }
    return true;
}

int fl_bdd_write_frame(fl_buf *out, const fl_frame *f) {
    if (!out || !writable(f)) return FL_EINVAL;
    if (out->failed) return FL_ENOMEM;
    size_t start = out->size;
    fl_buf_append(out, "{\"name\":", 8);
    fl_json_string(out, f->name);
    if (f->weather || f->scene || f->timeofday) {
        static const char *const keys[3] = {"weather", "scene", "timeofday"};
        const char *values[3] = {f->weather, f->scene, f->timeofday};
        fl_buf_append(out, ",\"attributes\":{", 15);
        bool comma = false;
        for (int i = 0; i < 3; i++) {
            if (!values[i]) continue;
            fl_buf_printf(out, "%s\"%s\":", comma ? "," : "", keys[i]);
            fl_json_string(out, values[i]);
            comma = true;
        }
        fl_buf_put_u8(out, '}');
    }
    if (f->has_timestamp) fl_buf_printf(out, ",\"timestamp\":%lld", (long long)f->timestamp);
    if (f->n_labels) {
        fl_buf_append(out, ",\"labels\":[", 11);
        for (size_t i = 0; i < f->n_labels; i++) {
            const fl_label *l = &f->labels[i];
            fl_buf_printf(out, "%s{\"id\":\"%zu\",\"category\":", i ? "," : "", i);
            fl_json_string(out, fl_bdd_category(l->category));
            fl_buf_printf(out, ",\"attributes\":{\"occluded\":%s,\"truncated\":%s,\"trafficLightColor\":",
                          l->occluded ? "true" : "false", l->truncated ? "true" : "false");
            fl_json_string(out, l->traffic_light_color ? l->traffic_light_color : "NA");
            static const char *const coords[4] = {"},\"box2d\":{\"x1\":", ",\"y1\":", ",\"x2\":", ",\"y2\":"};
            for (int k = 0; k < 4; k++) {
                fl_buf_append(out, coords[k], strlen(coords[k]));
                put_float(out, l->box[k]);
            }
            fl_buf_append(out, "}}", 2);
        }
        fl_buf_put_u8(out, ']');
    }
    fl_buf_put_u8(out, '}');
    if (out->failed) {
        out->size = start;
        return FL_ENOMEM;
    }
    return FL_OK;
}
