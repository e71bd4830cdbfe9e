/*
 * view_bench.c — the framelake side of the materialized-view benchmark (bench/view.sh, bench/README.md
 * "Materialized views").
 *
 *     view_bench DIR ROWS APPEND BACKFILL DELETE REPS SEED LOAD_ROWS
 *
 * Generates ROWS rows of frame metadata from SEED (splitmix64; ~70% train, ~25% night, has_rider ~8% — a
 * "rider" label among the frame's annotations — is_duplicate 3%), appends them to table `frames` of database
 * DIR/db in commits of LOAD_ROWS rows and writes the same rows to DIR/source.jsonl for the LanceDB peer. Then
 * creates view `rider_train` (WHERE/SELECT below) and its twin `rider_train_full` with the same definition, and
 * runs three scenarios, REPS times each, every rep on a fresh change committed to the source:
 *
 *   append    APPEND new rows (one fl_table_append)
 *   backfill  has_rider recomputed for BACKFILL random live rows (one fl_table_update by row id: a new
 *             model's answer, true for 8%), so rows enter and leave the view
 *   delete    DELETE random live rows (one fl_table_delete_rows)
 *
 * then refreshes rider_train incrementally and rider_train_full with `full` (a rebuild), both to the same
 * source version, in alternating order, each timed around fl_view_refresh. Every change also goes to
 * DIR/ops.jsonl (the rows, or the image_ids touched) with the split the peer must then hold: its row count
 * and a checksum of its values.
 *
 * Wrong data fails the run (exit 1), checked on every rep: the view and the twin hold the same rows (count,
 * and a checksum over row id + values), equal to the rows an in-memory copy of the source says they must
 * hold and to fl_table_count_where on the source; the incremental refresh reports exactly the rows that
 * entered, left or changed. Timing never fails it.
 *
 * stdout: "setup<TAB>key<TAB>value" lines, then per rep
 *   rep scenario r incr_ms full_ms incr_rows_read full_rows_read added removed updated view_rows
 *       source_rows write_ms value_checksum noop_ms
 * (tab-separated; write_ms: the source change; value_checksum: the view's checksum without row ids, what the
 * peer's split must match; noop_ms: one more incremental refresh right after, with nothing to do — opening
 * the view and the source and comparing versions, the floor under every incremental refresh).
 */
#include "framelake.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define SOURCE "frames"
#define VIEW "rider_train"
#define TWIN "rider_train_full"
#define WHERE "has_rider AND split = 'train' AND NOT is_duplicate"
#define SELECT "image_id, timeofday, weather, num_annotations, ann_categories, person_bbox_area_pct"
#define SCHEMA                                                                                                   \
    "image_id string not null, split string, timeofday string, weather string, num_annotations int32, "       \
    "has_rider bool, is_duplicate bool, person_bbox_area_pct float32, ann_categories list<string>, timestamp int64"
#define MAX_LABELS 27           /* 3 + up to 24 annotations per frame */
#define T0_MS 1500000000000LL   /* timestamp of frame 0 */

/* ---- data ---- */

typedef struct rng {
    uint64_t state;
} rng;

/* splitmix64 */
static uint64_t rng_next(rng *r) {
    uint64_t z = (r->state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static uint32_t rng_below(rng *r, uint32_t k) { return (uint32_t)(rng_next(r) % k); }

typedef struct choice {
    const char *name;
    int weight;                 /* per mille */
} choice;

static const choice SPLITS[] = {{"train", 700}, {"val", 100}, {"test", 200}};
static const choice TIMES[] = {{"daytime", 640}, {"night", 250}, {"dawn/dusk", 100}, {"undefined", 10}};
static const choice WEATHERS[] = {{"clear", 530}, {"overcast", 125}, {"undefined", 115}, {"snowy", 80},
                                  {"rainy", 73},  {"partly cloudy", 70}, {"foggy", 7}};
/* BDD100K's detection categories with their rough frequencies per annotation (sum 743); "rider" at 4/743
 * gives ~8% of frames (15 annotations on average) a rider. */
static const char *const CATEGORIES[] = {"car",   "traffic sign", "traffic light", "pedestrian",   "truck", "bus",
                                         "bicycle", "rider",      "motorcycle",    "other person", "train"};
static const int CATEGORY_WEIGHTS[] = {400, 130, 100, 60, 30, 10, 5, 4, 2, 1, 1};
enum { CAT_PEDESTRIAN = 3, CAT_RIDER = 7, CAT_OTHER_PERSON = 9 };

static uint8_t pick(rng *r, const choice *c, size_t n) {
    int left = (int)rng_below(r, 1000);
    for (size_t i = 0; i < n; i++)
        if ((left -= c[i].weight) < 0) return (uint8_t)i;
    return (uint8_t)(n - 1);
}

/* One source row as generated, and where it lives in the table. */
typedef struct frame_row {
    char image_id[20];          /* "%08x-%08x": a hash of the index, then the index */
    uint8_t split, timeofday, weather;
    int32_t num_annotations;    /* = number of labels */
    uint8_t labels[MAX_LABELS]; /* indexes into CATEGORIES */
    bool has_rider, is_duplicate;
    float person_bbox_area_pct;
    int64_t timestamp;
    uint64_t row_id;            /* the table's row id (valid while live) */
    bool live;
} frame_row;

static void make_row(rng *r, int64_t index, frame_row *f) {
    memset(f, 0, sizeof *f);
    snprintf(f->image_id, sizeof f->image_id, "%08x-%08x", (unsigned)(((uint64_t)index * 2654435761u) & 0xffffffffu), (unsigned)index);
    f->num_annotations = 3 + (int32_t)rng_below(r, MAX_LABELS - 2);
    bool person = false;
    for (int32_t k = 0; k < f->num_annotations; k++) {
        int left = (int)rng_below(r, 743), c = 0;
        while ((left -= CATEGORY_WEIGHTS[c]) >= 0) c++;
        f->labels[k] = (uint8_t)c;
        f->has_rider |= c == CAT_RIDER;
        person |= c == CAT_PEDESTRIAN || c == CAT_OTHER_PERSON;
    }
    f->split = pick(r, SPLITS, sizeof SPLITS / sizeof *SPLITS);
    f->timeofday = pick(r, TIMES, sizeof TIMES / sizeof *TIMES);
    f->weather = pick(r, WEATHERS, sizeof WEATHERS / sizeof *WEATHERS);
    f->is_duplicate = rng_below(r, 1000) < 30;
    f->person_bbox_area_pct = person ? (float)rng_below(r, 10000) / 100.0f : 0.0f;
    f->timestamp = T0_MS + index * 1000 + (int64_t)rng_below(r, 1000);
}

/* The view's WHERE, on the generated values. */
static bool in_view(const frame_row *f) { return f->live && f->has_rider && f->split == 0 && !f->is_duplicate; }

/* ---- helpers ---- */

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

_Noreturn static void die(const char *what, const fl_error *err) {
    fprintf(stderr, "view_bench: %s%s%s\n", what, err ? ": " : "", err ? err->message : "");
    exit(1);
}

/* A wrong result: says what differs and fails the run. */
static void check(bool ok, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void check(bool ok, const char *fmt, ...) {
    if (ok) return;
    va_list ap;
    va_start(ap, fmt);
    fputs("view_bench: WRONG DATA: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(1);
}

static void *xcalloc(size_t n, size_t size) {
    void *p = calloc(n ? n : 1, size);
    if (!p) die("out of memory", NULL);
    return p;
}

/* ---- checksums: a sum of one FNV-1a 64 hash per row, so row order does not matter ----
 * A row's text: [row id US] image_id US timeofday US weather US num_annotations US label RS label ... US
 * the float32 bits of person_bbox_area_pct in hex (US = 0x1f, RS = 0x1e); lancedb_view.mjs builds the same. */

typedef struct row_text {
    char data[1024];
    size_t len;
} row_text;

static void put(row_text *t, const char *s, size_t n) {
    if (t->len + n > sizeof t->data) n = sizeof t->data - t->len;
    memcpy(t->data + t->len, s, n);
    t->len += n;
}

static void put_str(row_text *t, const char *s) { put(t, s, strlen(s)); }

static uint64_t fnv1a(const row_text *t) {
    uint64_t h = 0xcbf29ce484222325ULL;
    for (size_t i = 0; i < t->len; i++) {
        h ^= (uint8_t)t->data[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}

static void put_float_bits(row_text *t, float value) {
    uint32_t bits;
    char hex[16];
    memcpy(&bits, &value, sizeof bits);
    snprintf(hex, sizeof hex, "%08" PRIx32, bits);
    put_str(t, hex);
}

typedef struct checksum {
    int64_t rows;
    uint64_t with_ids;          /* over row id + values */
    uint64_t values;            /* over values only (what the peer can match: its row ids differ) */
} checksum;

/* Hashes the text after a row id prefix twice: with and without the prefix. */
static void add_row(checksum *c, uint64_t row_id, const row_text *values) {
    row_text t = {.len = 0};
    char id[32];
    snprintf(id, sizeof id, "%" PRIu64 "\x1f", row_id);
    put_str(&t, id);
    put(&t, values->data, values->len);
    c->rows++;
    c->with_ids += fnv1a(&t);
    c->values += fnv1a(values);
}

static void text_of_frame(const frame_row *f, row_text *t) {
    char num[16];
    t->len = 0;
    put_str(t, f->image_id);
    put_str(t, "\x1f");
    put_str(t, TIMES[f->timeofday].name);
    put_str(t, "\x1f");
    put_str(t, WEATHERS[f->weather].name);
    snprintf(num, sizeof num, "\x1f%" PRId32 "\x1f", f->num_annotations);
    put_str(t, num);
    for (int32_t k = 0; k < f->num_annotations; k++) {
        if (k) put_str(t, "\x1e");
        put_str(t, CATEGORIES[f->labels[k]]);
    }
    put_str(t, "\x1f");
    put_float_bits(t, f->person_bbox_area_pct);
}

/* What the view must hold, from the in-memory copy of the source. */
static checksum expected_checksum(const frame_row *rows, size_t n) {
    checksum c = {0};
    row_text t;
    for (size_t i = 0; i < n; i++) {
        if (!in_view(&rows[i])) continue;
        text_of_frame(&rows[i], &t);
        add_row(&c, rows[i].row_id, &t);
    }
    return c;
}

static void put_cell(row_text *t, const fl_array *a, int64_t i) {
    if (fl_array_is_null(a, i)) {
        put_str(t, "\\N");
        return;
    }
    size_t size;
    const uint8_t *bytes = fl_array_get_bytes(a, i, &size);
    put(t, (const char *)bytes, size);
}

static const fl_array *column(const fl_batch *b, const char *name) {
    const fl_array *a = fl_batch_column(b, name);
    if (!a) {
        fprintf(stderr, "view_bench: the view has no column '%s'\n", name);
        exit(1);
    }
    return a;
}

/* Everything a view holds, read back through fl_scan_open with row ids. */
static checksum view_checksum(fl_db *db, const char *name) {
    fl_error err = {0};
    fl_table *t;
    fl_scan *scan;
    if (fl_table_open(db, name, NULL, &t, &err) != FL_OK) die(name, &err);
    if (fl_scan_open(t, &(fl_scan_options){.with_row_ids = true}, &scan, &err) != FL_OK) die(name, &err);
    checksum c = {0};
    fl_batch *b;
    row_text t_row;
    char num[16];
    while (fl_scan_next(scan, &b, &err) == FL_OK && b) {
        const fl_array *id = column(b, "image_id"), *tod = column(b, "timeofday"), *weather = column(b, "weather");
        const fl_array *n_ann = column(b, "num_annotations"), *cats = column(b, "ann_categories");
        const fl_array *area = column(b, "person_bbox_area_pct");
        for (int64_t i = 0; i < b->num_rows; i++) {
            t_row.len = 0;
            put_cell(&t_row, id, i);
            put_str(&t_row, "\x1f");
            put_cell(&t_row, tod, i);
            put_str(&t_row, "\x1f");
            put_cell(&t_row, weather, i);
            if (fl_array_is_null(n_ann, i)) snprintf(num, sizeof num, "\x1f\\N\x1f");
            else snprintf(num, sizeof num, "\x1f%" PRId64 "\x1f", fl_array_get_int(n_ann, i));
            put_str(&t_row, num);
            if (fl_array_is_null(cats, i)) {
                put_str(&t_row, "\\N");
            } else {
                int64_t start, end;
                fl_array_get_list(cats, i, &start, &end);
                for (int64_t k = start; k < end; k++) {
                    if (k > start) put_str(&t_row, "\x1e");
                    put_cell(&t_row, &cats->children[0], k);
                }
            }
            put_str(&t_row, "\x1f");
            if (fl_array_is_null(area, i)) put_str(&t_row, "\\N");
            else put_float_bits(&t_row, (float)fl_array_get_float(area, i));
            add_row(&c, b->row_ids[i], &t_row);
        }
        fl_batch_free(b);
    }
    if (err.code != FL_OK) die(name, &err);
    fl_scan_close(scan);
    fl_table_close(t);
    return c;
}

/* ---- the source ---- */

typedef struct bench {
    fl_db *db;
    rng rng;
    frame_row *rows;            /* every row ever generated, index = frame index */
    size_t n_rows, cap_rows;
    FILE *ops;                  /* DIR/ops.jsonl */
} bench;

static void json_row(FILE *out, const frame_row *f) {
    fprintf(out, "{\"image_id\":\"%s\",\"split\":\"%s\",\"timeofday\":\"%s\",\"weather\":\"%s\",\"num_annotations\":%" PRId32
                 ",\"has_rider\":%s,\"is_duplicate\":%s,\"person_bbox_area_pct\":%.9g,\"ann_categories\":[",
            f->image_id, SPLITS[f->split].name, TIMES[f->timeofday].name, WEATHERS[f->weather].name, f->num_annotations,
            f->has_rider ? "true" : "false", f->is_duplicate ? "true" : "false", (double)f->person_bbox_area_pct);
    for (int32_t k = 0; k < f->num_annotations; k++) fprintf(out, "%s\"%s\"", k ? "," : "", CATEGORIES[f->labels[k]]);
    fprintf(out, "],\"timestamp\":%" PRId64 "}", f->timestamp);
}

static void append_to_batch(fl_batch *b, const frame_row *f) {
    fl_array *c = b->columns;
    bool ok = fl_array_append_string(&c[0], f->image_id) == FL_OK && fl_array_append_string(&c[1], SPLITS[f->split].name) == FL_OK &&
              fl_array_append_string(&c[2], TIMES[f->timeofday].name) == FL_OK &&
              fl_array_append_string(&c[3], WEATHERS[f->weather].name) == FL_OK && fl_array_append_int(&c[4], f->num_annotations) == FL_OK &&
              fl_array_append_bool(&c[5], f->has_rider) == FL_OK && fl_array_append_bool(&c[6], f->is_duplicate) == FL_OK &&
              fl_array_append_float(&c[7], f->person_bbox_area_pct) == FL_OK;
    for (int32_t k = 0; ok && k < f->num_annotations; k++) ok = fl_array_append_string(&c[8].children[0], CATEGORIES[f->labels[k]]) == FL_OK;
    ok = ok && fl_array_end_list(&c[8]) == FL_OK && fl_array_append_int(&c[9], f->timestamp) == FL_OK;
    if (!ok) die("building a batch: out of memory", NULL);
}

/* Generates n new rows, appends them to the source in commits of load_rows (one commit when load_rows is 0),
 * writes them to `jsonl` (one per line) or, with `ops_line`, into the current ops line. Returns the ms spent
 * in fl_table_append. */
static double append_rows(bench *bn, fl_table *src, size_t n, int64_t commit_rows, FILE *jsonl, bool ops_line) {
    fl_error err = {0};
    double write_ms = 0;
    if (bn->n_rows + n > bn->cap_rows) die("row capacity exceeded", NULL);
    size_t first = bn->n_rows;
    for (size_t done = 0; done < n;) {
        size_t chunk = commit_rows > 0 && (size_t)commit_rows < n - done ? (size_t)commit_rows : n - done;
        fl_batch *b = fl_batch_new(fl_table_schema(src));
        if (!b) die("out of memory", NULL);
        for (size_t i = 0; i < chunk; i++) {
            frame_row *f = &bn->rows[bn->n_rows];
            make_row(&bn->rng, (int64_t)bn->n_rows, f);
            append_to_batch(b, f);
            if (jsonl) {
                json_row(jsonl, f);
                fputc('\n', jsonl);
            }
            if (ops_line) {
                fputs(bn->n_rows > first ? "," : "", bn->ops);
                json_row(bn->ops, f);
            }
            bn->n_rows++;
        }
        if (fl_batch_finish(b, &err) != FL_OK) die("batch", &err);
        double t0 = now_ms();
        if (fl_table_append(src, b, NULL, &err) != FL_OK) die("append", &err);
        write_ms += now_ms() - t0;
        fl_batch_free(b);
        done += chunk;
    }
    return write_ms;
}

/* Reads the source's row ids (image_id column) into the in-memory copy: rows appended get theirs. */
static void map_row_ids(bench *bn, fl_table *src) {
    fl_error err = {0};
    fl_scan *scan;
    const char *cols[] = {"image_id"};
    if (fl_scan_open(src, &(fl_scan_options){.columns = cols, .n_columns = 1, .with_row_ids = true}, &scan, &err) != FL_OK) die("scan", &err);
    fl_batch *b;
    int64_t seen = 0;
    while (fl_scan_next(scan, &b, &err) == FL_OK && b) {
        for (int64_t i = 0; i < b->num_rows; i++) {
            size_t size;
            const uint8_t *bytes = fl_array_get_bytes(&b->columns[0], i, &size);
            char text[32];
            if (size < 10 || size >= sizeof text) die("unexpected image_id in the source", NULL);
            memcpy(text, bytes, size);
            text[size] = 0;
            size_t index = (size_t)strtoull(text + 9, NULL, 16);
            check(index < bn->n_rows && !strcmp(bn->rows[index].image_id, text) && bn->rows[index].live,
                  "source row %" PRIu64 " has image_id %s, which is not a live generated row", b->row_ids[i], text);
            bn->rows[index].row_id = b->row_ids[i];
            seen++;
        }
        fl_batch_free(b);
    }
    if (err.code != FL_OK) die("scan", &err);
    fl_scan_close(scan);
    int64_t live = 0;
    for (size_t i = 0; i < bn->n_rows; i++) live += bn->rows[i].live;
    check(seen == live, "the source has %" PRId64 " live rows, %" PRId64 " expected", seen, live);
}

/* k distinct live rows, uniformly at random (scattered over the table). Caller frees. */
static size_t *pick_live(bench *bn, size_t k) {
    size_t *live = xcalloc(bn->n_rows, sizeof *live), n = 0;
    for (size_t i = 0; i < bn->n_rows; i++)
        if (bn->rows[i].live) live[n++] = i;
    if (k > n) die("more rows to change than live rows", NULL);
    for (size_t i = 0; i < k; i++) {
        size_t j = i + (size_t)(rng_next(&bn->rng) % (n - i));
        size_t tmp = live[i];
        live[i] = live[j];
        live[j] = tmp;
    }
    return live;
}

static void ops_ids(FILE *out, const char *key, const frame_row *rows, const size_t *picks, size_t k, int only_value) {
    fprintf(out, ",\"%s\":[", key);
    bool first = true;
    for (size_t i = 0; i < k; i++) {
        if (only_value >= 0 && rows[picks[i]].has_rider != (only_value == 1)) continue;
        fprintf(out, "%s\"%s\"", first ? "" : ",", rows[picks[i]].image_id);
        first = false;
    }
    fputc(']', out);
}

/* has_rider recomputed for k random live rows (one update commit). Returns the ms in fl_table_update. */
static double backfill_rows(bench *bn, fl_table *src, size_t k) {
    fl_error err = {0};
    size_t *picks = pick_live(bn, k);
    fl_schema *s;
    if (fl_schema_parse("has_rider bool", &s, &err) != FL_OK) die("schema", &err);
    fl_batch *b = fl_batch_new(s);
    uint64_t *ids = xcalloc(k, sizeof *ids);
    if (!b) die("out of memory", NULL);
    for (size_t i = 0; i < k; i++) {
        frame_row *f = &bn->rows[picks[i]];
        f->has_rider = rng_below(&bn->rng, 1000) < 80;
        ids[i] = f->row_id;
        if (fl_array_append_bool(&b->columns[0], f->has_rider) != FL_OK) die("out of memory", NULL);
    }
    if (fl_batch_finish(b, &err) != FL_OK) die("batch", &err);
    if (fl_batch_set_row_ids(b, ids, k) != FL_OK) die("out of memory", NULL);
    double t0 = now_ms();
    if (fl_table_update(src, b, &err) != FL_OK) die("update", &err);
    double ms = now_ms() - t0;
    fputs(",\"op\":\"update\"", bn->ops);
    ops_ids(bn->ops, "ids", bn->rows, picks, k, -1);
    ops_ids(bn->ops, "true", bn->rows, picks, k, 1);
    fl_batch_free(b);
    fl_schema_free(s);
    free(ids);
    free(picks);
    return ms;
}

/* k random live rows deleted (one commit). Returns the ms in fl_table_delete_rows. */
static double delete_rows(bench *bn, fl_table *src, size_t k) {
    fl_error err = {0};
    size_t *picks = pick_live(bn, k);
    uint64_t *ids = xcalloc(k, sizeof *ids);
    for (size_t i = 0; i < k; i++) ids[i] = bn->rows[picks[i]].row_id;
    double t0 = now_ms();
    if (fl_table_delete_rows(src, ids, k, &err) != FL_OK) die("delete", &err);
    double ms = now_ms() - t0;
    for (size_t i = 0; i < k; i++) bn->rows[picks[i]].live = false;
    fputs(",\"op\":\"delete\"", bn->ops);
    ops_ids(bn->ops, "ids", bn->rows, picks, k, -1);
    free(ids);
    free(picks);
    return ms;
}

/* ---- refresh and checks ---- */

static double refresh(fl_db *db, const char *name, bool full, uint64_t source_version, fl_view_report *rep) {
    fl_error err = {0};
    fl_view_refresh_options o = {.full = full, .source_version = source_version};
    double t0 = now_ms();
    if (fl_view_refresh(db, name, &o, rep, &err) != FL_OK) die(name, &err);
    return now_ms() - t0;
}

/* Both views against each other, the in-memory copy and a count on the source. Returns the view's checksum. */
static checksum verify(bench *bn, uint64_t source_version, const char *when) {
    checksum v = view_checksum(bn->db, VIEW), twin = view_checksum(bn->db, TWIN), want = expected_checksum(bn->rows, bn->n_rows);
    fl_error err = {0};
    fl_table *src;
    int64_t matching;
    if (fl_table_open(bn->db, SOURCE, &(fl_open_options){.version = source_version}, &src, &err) != FL_OK ||
        fl_table_count_where(src, WHERE, &matching, &err) != FL_OK)
        die("count the source", &err);
    fl_table_close(src);
    check(v.rows == want.rows && twin.rows == want.rows && matching == want.rows,
          "%s: rows: view %" PRId64 ", rebuilt twin %" PRId64 ", source WHERE %" PRId64 ", expected %" PRId64, when, v.rows, twin.rows, matching,
          want.rows);
    check(v.with_ids == twin.with_ids, "%s: the view and its rebuilt twin hold different rows (same count %" PRId64 ")", when, v.rows);
    check(v.with_ids == want.with_ids, "%s: the views' rows differ from the source's (row ids or values; count %" PRId64 ")", when, v.rows);
    return v;
}

typedef struct membership {
    bool *in;                   /* per frame index: in the view */
    size_t n;
} membership;

static membership snapshot(const bench *bn) {
    membership m = {xcalloc(bn->cap_rows, sizeof *m.in), bn->n_rows};
    for (size_t i = 0; i < bn->n_rows; i++) m.in[i] = in_view(&bn->rows[i]);
    return m;
}

/* ---- main ---- */

static const char *const SCENARIOS[] = {"append", "backfill", "delete"};

int main(int argc, char **argv) {
    if (argc != 9) {
        fprintf(stderr, "usage: view_bench DIR ROWS APPEND BACKFILL DELETE REPS SEED LOAD_ROWS\n");
        return 2;
    }
    const char *dir = argv[1];
    int64_t n_rows = atoll(argv[2]), n_append = atoll(argv[3]), n_backfill = atoll(argv[4]), n_delete = atoll(argv[5]);
    int reps = atoi(argv[6]);
    uint64_t seed = strtoull(argv[7], NULL, 10);
    int64_t load_rows = atoll(argv[8]);
    if (n_rows < 1 || n_append < 1 || n_backfill < 1 || n_delete < 1 || reps < 1 || n_backfill > n_rows || n_delete * reps >= n_rows) {
        fprintf(stderr, "view_bench: need ROWS, APPEND, BACKFILL, DELETE, REPS >= 1, BACKFILL <= ROWS, DELETE x REPS < ROWS\n");
        return 2;
    }
    char path[4096];
    bench bn = {.rng = {seed * 0x9e3779b97f4a7c15ULL + 1}};
    bn.cap_rows = (size_t)(n_rows + n_append * reps);
    bn.rows = xcalloc(bn.cap_rows, sizeof *bn.rows);
    fl_error err = {0};

    snprintf(path, sizeof path, "%s/db", dir);
    if (fl_db_open(path, FL_OPEN_CREATE, &bn.db, &err) != FL_OK) die(path, &err);
    fl_schema *schema;
    fl_table *src;
    if (fl_schema_parse(SCHEMA, &schema, &err) != FL_OK || fl_table_create(bn.db, SOURCE, schema, &src, &err) != FL_OK) die(SOURCE, &err);
    fl_schema_free(schema);
    snprintf(path, sizeof path, "%s/source.jsonl", dir);
    FILE *jsonl = fopen(path, "w");
    if (!jsonl) die(path, NULL);
    snprintf(path, sizeof path, "%s/ops.jsonl", dir);
    if (!(bn.ops = fopen(path, "w"))) die(path, NULL);

    /* The source: ROWS rows in commits of LOAD_ROWS. */
    double t0 = now_ms();
    double write_ms = append_rows(&bn, src, (size_t)n_rows, load_rows, jsonl, false);
    double load_ms = now_ms() - t0;
    if (fclose(jsonl) != 0) die("source.jsonl", NULL);
    for (size_t i = 0; i < bn.n_rows; i++) bn.rows[i].live = true;
    map_row_ids(&bn, src);
    fl_table_stats stats;
    fl_table_get_stats(src, &stats);
    printf("setup\tsource_rows\t%" PRId64 "\n", fl_table_count_rows(src));
    printf("setup\tsource_fragments\t%" PRId64 "\n", stats.fragments);
    printf("setup\tload_ms\t%.1f\n", load_ms);
    printf("setup\tload_append_ms\t%.1f\n", write_ms);

    /* The view and its twin, built from the same source version. */
    fl_view_report rep;
    t0 = now_ms();
    if (fl_view_create(bn.db, VIEW, SOURCE, WHERE, SELECT, &rep, &err) != FL_OK) die(VIEW, &err);
    printf("setup\tcreate_ms\t%.2f\n", now_ms() - t0);
    printf("setup\tcreate_rows_read\t%" PRId64 "\n", rep.rows_read);
    t0 = now_ms();
    if (fl_view_create(bn.db, TWIN, SOURCE, WHERE, SELECT, &rep, &err) != FL_OK) die(TWIN, &err);
    printf("setup\ttwin_create_ms\t%.2f\n", now_ms() - t0);
    uint64_t sv = fl_table_version(src);
    checksum c = verify(&bn, sv, "after create");
    printf("setup\tview_rows\t%" PRId64 "\n", c.rows);
    fprintf(bn.ops, "{\"scenario\":\"create\",\"rep\":0,\"op\":\"none\",\"expect_rows\":%" PRId64 ",\"expect_sum\":\"%" PRIu64 "\"}\n", c.rows,
            c.values);
    fflush(stdout);

    for (int s = 0; s < 3; s++) {
        for (int r = 1; r <= reps; r++) {
            char when[64];
            snprintf(when, sizeof when, "%s rep %d", SCENARIOS[s], r);
            membership before = snapshot(&bn);
            fprintf(bn.ops, "{\"scenario\":\"%s\",\"rep\":%d", SCENARIOS[s], r);
            if (s == 0) {
                fputs(",\"op\":\"append\",\"rows\":[", bn.ops);
                write_ms = append_rows(&bn, src, (size_t)n_append, 0, NULL, true);
                fputc(']', bn.ops);
                for (size_t i = before.n; i < bn.n_rows; i++) bn.rows[i].live = true;
                map_row_ids(&bn, src);
            } else if (s == 1) {
                write_ms = backfill_rows(&bn, src, (size_t)n_backfill);
            } else {
                write_ms = delete_rows(&bn, src, (size_t)n_delete);
            }
            sv = fl_table_version(src);
            /* What must enter and leave (no change here touches a projected column: nothing is updated). */
            int64_t want_added = 0, want_removed = 0;
            for (size_t i = 0; i < bn.n_rows; i++) {
                bool was = i < before.n && before.in[i], is = in_view(&bn.rows[i]);
                want_added += is && !was;
                want_removed += was && !is;
            }
            free(before.in);

            /* Alternate which goes first, so neither always finds the other's pages in the cache. */
            fl_view_report ri, rf;
            double incr_ms, full_ms;
            if (r % 2) {
                incr_ms = refresh(bn.db, VIEW, false, sv, &ri);
                full_ms = refresh(bn.db, TWIN, true, sv, &rf);
            } else {
                full_ms = refresh(bn.db, TWIN, true, sv, &rf);
                incr_ms = refresh(bn.db, VIEW, false, sv, &ri);
            }
            /* Nothing left to do: what opening the view and the source costs (no commit). */
            fl_view_report rn;
            double noop_ms = refresh(bn.db, VIEW, false, sv, &rn);
            check(!rn.changed && rn.rows_read == 0, "%s: a second refresh to the same source version committed (read %" PRId64 " rows)", when,
                  rn.rows_read);
            check(!ri.full && rf.full && ri.source_version == sv && rf.source_version == sv,
                  "%s: refreshes reflect source versions %" PRIu64 " (incremental) and %" PRIu64 " (full), expected %" PRIu64, when,
                  ri.source_version, rf.source_version, sv);
            c = verify(&bn, sv, when);
            check(ri.added == want_added && ri.removed == want_removed && ri.updated == 0,
                  "%s: the incremental refresh reports +%" PRId64 " -%" PRId64 " ~%" PRId64 ", expected +%" PRId64 " -%" PRId64 " ~0", when,
                  ri.added, ri.removed, ri.updated, want_added, want_removed);
            check(rf.added == want_added && rf.removed == want_removed && ri.rows_after == c.rows && rf.rows_after == c.rows,
                  "%s: the rebuild reports +%" PRId64 " -%" PRId64 " (rows %" PRId64 " / %" PRId64 "), expected +%" PRId64 " -%" PRId64
                  " (rows %" PRId64 ")",
                  when, rf.added, rf.removed, ri.rows_after, rf.rows_after, want_added, want_removed, c.rows);
            fprintf(bn.ops, ",\"expect_rows\":%" PRId64 ",\"expect_sum\":\"%" PRIu64 "\"}\n", c.rows, c.values);
            printf("rep\t%s\t%d\t%.3f\t%.3f\t%" PRId64 "\t%" PRId64 "\t%" PRId64 "\t%" PRId64 "\t%" PRId64 "\t%" PRId64 "\t%" PRId64
                   "\t%.2f\t%" PRIu64 "\t%.3f\n",
                   SCENARIOS[s], r, incr_ms, full_ms, ri.rows_read, rf.rows_read, ri.added, ri.removed, ri.updated, c.rows,
                   fl_table_count_rows(src), write_ms, c.values, noop_ms);
            fflush(stdout);
        }
    }
    if (fclose(bn.ops) != 0) die("ops.jsonl", NULL);
    fl_table_close(src);
    fl_db_close(bn.db);
    free(bn.rows);
    return 0;
}
