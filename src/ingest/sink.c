/*
 * sink.c — items into committed rows (the contract is in sink.h and framelake.h's Ingest section).
 *
 * Invariants:
 *  1. Nothing is committed, and a missing table is not created, before the first batch is complete; so in
 *     strict mode a problem found in the first batch leaves the database untouched, and a strict run that
 *     will commit more than once makes a checking pass over every input first.
 *  2. An image_id is added at most once per run: `seen` holds the ids taken.
 *  3. In overwrite mode the replaced rows are deleted only after the batch that replaces them is committed.
 */
#include "sink.h"

#include "../batch/batch.h"
#include "../common/common.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>

#define DEFAULT_MAX_BATCH_BYTES ((int64_t)256 << 20)

/* The columns every source fills first, in this order; annotated sources fill the rest of
 * FL_FOOTAGE_SCHEMA, source is always last. */
enum { COL_IMAGE_ID, COL_SPLIT, COL_IMAGE_BYTES, COL_WIDTH, COL_HEIGHT };
enum { COL_WEATHER = 5, COL_SCENE, COL_TIMEOFDAY, COL_TIMESTAMP, COL_CATEGORIES, COL_BBOXES, COL_OCCLUDED, COL_TRUNCATED,
       COL_LIGHT_COLORS, COL_NUM_ANNOTATIONS, COL_SOURCE_ANNOTATED };

/* ---- a string multimap: image_id -> int64 (a row id, or the index of an input) ---- */

typedef struct id_entry {
    char *key;                  /* owned */
    char *note;                 /* owned, may be NULL: where the seen set's id came from */
    int64_t value;
    int64_t next;               /* next entry in the same bucket, or -1 */
} id_entry;

typedef struct id_map {
    id_entry *entries;
    size_t n, cap;
    int64_t *heads;             /* bucket -> first entry, or -1; n_heads is a power of two */
    size_t n_heads;
} id_map;

static void map_free(id_map *m) {
    for (size_t i = 0; i < m->n; i++) {
        fl_free(m->entries[i].key);
        fl_free(m->entries[i].note);
    }
    fl_free(m->entries);
    fl_free(m->heads);
    memset(m, 0, sizeof *m);
}

static size_t map_bucket(const id_map *m, const char *key, size_t len) { return (size_t)fl_hash64(key, len) & (m->n_heads - 1); }

static bool map_rehash(id_map *m, size_t n_heads) {
    int64_t *heads = fl_malloc(n_heads * sizeof *heads);
    if (!heads) return false;
    for (size_t i = 0; i < n_heads; i++) heads[i] = -1;
    fl_free(m->heads);
    m->heads = heads;
    m->n_heads = n_heads;
    for (size_t i = 0; i < m->n; i++) {
        size_t b = map_bucket(m, m->entries[i].key, strlen(m->entries[i].key));
        m->entries[i].next = heads[b];
        heads[b] = (int64_t)i;
    }
    return true;
}

/* Adds key (the first len bytes) -> value, with a copy of `note` (may be NULL); duplicates are kept.
 * False on OOM. */
static bool map_add(id_map *m, const char *key, size_t len, int64_t value, const char *note) {
    if (!fl_reserve((void **)&m->entries, &m->cap, m->n + 1, sizeof *m->entries, 1024)) return false;
    if (m->n + 1 > m->n_heads / 4 * 3 && !map_rehash(m, m->n_heads ? m->n_heads * 2 : 2048)) return false;
    char *copy = fl_strndup(key, len);
    char *note_copy = note ? fl_strdup(note) : NULL;
    if (!copy || (note && !note_copy)) {
        fl_free(copy);
        fl_free(note_copy);
        return false;
    }
    size_t b = map_bucket(m, copy, len);
    m->entries[m->n] = (id_entry){.key = copy, .note = note_copy, .value = value, .next = m->heads[b]};
    m->heads[b] = (int64_t)m->n++;
    return true;
}

/* The next entry for key after entry `after` (-1: the first), or -1. */
static int64_t map_find(const id_map *m, const char *key, int64_t after) {
    if (m->n == 0) return -1;
    int64_t i = after < 0 ? m->heads[map_bucket(m, key, strlen(key))] : m->entries[after].next;
    for (; i >= 0; i = m->entries[i].next)
        if (!strcmp(m->entries[i].key, key)) return i;
    return -1;
}

/* ---- the sink ---- */

struct fl_sink {
    fl_db *db;
    const char *table_name;
    const char *what;           /* "ingest images" */
    const char *schema_text;
    fl_table *table;            /* NULL until it exists (created at the first commit) */
    fl_ingest_options o;
    fl_ingest_report *rep;
    fl_error *err;
    fl_schema *schema;
    bool annotated;
    int source_col;
    id_map existing;            /* image_ids in the table -> row id (row ids only in overwrite mode) */
    id_map seen;                /* image_ids taken by this run -> the input's position in the run */
    int64_t taken;              /* inputs taken (for progress and `seen` values) */
    int64_t total;              /* for progress; -1 unknown */
    bool checking;              /* the strict pre-check pass: nothing is appended or counted */
    fl_batch *batch;            /* the pending rows */
    int64_t batch_rows, batch_bytes, pending_added;
    uint64_t *replaced;         /* overwrite mode: row ids the pending batch replaces */
    size_t n_replaced, cap_replaced;
};

static int oom(fl_sink *s) { return fl_error_set(s->err, FL_ENOMEM, "%s: out of memory", s->what); }

static int vnotice(fl_sink *s, fl_ingest_outcome outcome, int code, const char *path, const char *fmt, va_list ap) {
    char message[FL_ERROR_MESSAGE_SIZE];
    vsnprintf(message, sizeof message, fmt, ap);
    bool problem = outcome != FL_INGEST_SKIPPED_EXISTING;
    if (problem && s->o.strict) return fl_error_set(s->err, code ? code : FL_EINVAL, "strict: %s", message);
    if (s->checking) return FL_OK;
    switch (outcome) {
    case FL_INGEST_SKIPPED_EXISTING: s->rep->skipped++; break;
    case FL_INGEST_DUPLICATE: s->rep->duplicates++; break;
    case FL_INGEST_MISSING: s->rep->missing++; break;
    case FL_INGEST_LABEL_SKIPPED: s->rep->labels_skipped++; break;
    default: s->rep->failed++; break;
    }
    if (s->o.on_file) s->o.on_file(s->o.on_file_ctx, outcome, path, message);
    return FL_OK;
}

int fl_sink_notice(fl_sink *s, fl_ingest_outcome outcome, int code, const char *path, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int rc = vnotice(s, outcome, code, path, fmt, ap);
    va_end(ap);
    return rc;
}

/* An existing table must have the source's columns with its types, and nothing else that is not null. */
static int check_table_schema(fl_sink *s, const fl_schema *have) {
    for (int32_t i = 0; i < s->schema->n_fields; i++) {
        const fl_field *want = &s->schema->fields[i];
        int k = fl_schema_find(have, want->name);
        if (k < 0)
            return fl_error_set(s->err, FL_EINVAL, "table '%s' has no column '%s' (%s needs %s)", s->table_name, want->name, s->what,
                                s->schema_text);
        if (!fl_field_same_type(&have->fields[k], want)) {
            char *type = fl_field_type_format(&have->fields[k]);
            char *need = fl_field_type_format(want);
            int rc = fl_error_set(s->err, FL_ETYPE, "table '%s': column '%s' is %s, %s needs %s", s->table_name, want->name,
                                  type ? type : "?", s->what, need ? need : "?");
            free(type);
            free(need);
            return rc;
        }
    }
    for (int32_t i = 0; i < have->n_fields; i++)
        if (!have->fields[i].nullable && fl_schema_find(s->schema, have->fields[i].name) < 0)
            return fl_error_set(s->err, FL_EINVAL, "table '%s': column '%s' is not null, and %s cannot fill it", s->table_name,
                                have->fields[i].name, s->what);
    return FL_OK;
}

/* Scans the image_id column once into s->existing. */
static int load_existing_ids(fl_sink *s) {
    const char *columns[] = {"image_id"};
    fl_scan_options so = {.columns = columns, .n_columns = 1, .with_row_ids = s->o.mode == FL_INGEST_OVERWRITE};
    fl_scan *scan;
    FL_RETURN_NOT_OK(fl_scan_open(s->table, &so, &scan, s->err));
    fl_batch *b = NULL;
    int rc;
    while ((rc = fl_scan_next(scan, &b, s->err)) == FL_OK && b) {
        const fl_array *ids = &b->columns[0];
        for (int64_t i = 0; i < b->num_rows && rc == FL_OK; i++) {
            if (fl_array_is_null(ids, i)) continue;
            size_t len;
            const uint8_t *id = fl_array_get_bytes(ids, i, &len);
            if (!map_add(&s->existing, (const char *)id, len, b->row_ids ? (int64_t)b->row_ids[i] : 0, NULL)) rc = oom(s);
        }
        fl_batch_free(b);
        if (rc != FL_OK) break;
    }
    fl_scan_close(scan);
    return rc;
}

int fl_sink_open(fl_db *db, const char *table, const char *what, const char *schema_text, bool annotated, bool need_ids,
                 const fl_ingest_options *opts, fl_ingest_report *report, fl_error *err, fl_sink **out) {
    *out = NULL;
    fl_sink *s = fl_calloc(1, sizeof *s);
    if (!s) return fl_error_set(err, FL_ENOMEM, "%s: out of memory", what);
    *s = (fl_sink){.db = db, .table_name = table, .what = what, .schema_text = schema_text, .rep = report, .err = err,
                   .annotated = annotated, .total = -1};
    if (opts) s->o = *opts;
    *out = s;
    if (s->o.mode < FL_INGEST_SKIP_EXISTING || s->o.mode > FL_INGEST_OVERWRITE)
        return fl_error_set(err, FL_EINVAL, "%s: unknown mode %d", what, s->o.mode);
    if (s->o.commit_every < 0 || s->o.max_batch_bytes < 0 || s->o.limit < 0 || s->o.threads < 0)
        return fl_error_set(err, FL_EINVAL, "%s: commit_every, max_batch_bytes, limit and threads must not be negative", what);
    if (!fl_valid_name(table)) return fl_error_set(err, FL_EINVAL, "%s: invalid table name '%s'", what, table);
    FL_RETURN_NOT_OK(fl_schema_parse(schema_text, &s->schema, err));
    s->source_col = s->schema->n_fields - 1;
    if (!(s->batch = fl_batch_new(s->schema))) return oom(s);
    fl_error open_err = {0};
    int rc = fl_table_open(db, table, NULL, &s->table, &open_err);
    if (rc == FL_ENOTFOUND) return FL_OK; /* created by the first commit */
    if (rc != FL_OK) {
        if (err) *err = open_err;
        return rc;
    }
    FL_RETURN_NOT_OK(check_table_schema(s, fl_table_schema(s->table)));
    return s->o.mode == FL_INGEST_APPEND && !need_ids ? FL_OK : load_existing_ids(s);
}

bool fl_sink_exists(const fl_sink *s, const char *image_id) { return map_find(&s->existing, image_id, -1) >= 0; }

int64_t fl_sink_max_numbered(const fl_sink *s, const char *prefix) {
    size_t plen = strlen(prefix);
    int64_t best = -1;
    for (size_t i = 0; i < s->existing.n; i++) {
        const char *key = s->existing.entries[i].key;
        if (strncmp(key, prefix, plen) != 0 || !key[plen]) continue;
        char *end;
        errno = 0;
        long long v = strtoll(key + plen, &end, 10);
        if (*end == 0 && errno == 0 && v > best && key[plen] >= '0' && key[plen] <= '9') best = v;
    }
    return best;
}

bool fl_sink_full(const fl_sink *s) { return s->o.limit > 0 && s->pending_added + s->rep->added >= s->o.limit && !s->checking; }

static int create_table(fl_sink *s) {
    int rc = fl_table_create(s->db, s->table_name, s->schema, &s->table, s->err);
    if (rc == FL_OK) {
        s->rep->commits++;
        return FL_OK;
    }
    if (rc != FL_EEXIST) return rc;
    /* Another writer created it since we looked: use theirs if it fits (its rows were not checked for
     * existing ids, which only matters if that writer also ingests the same frames). */
    FL_RETURN_NOT_OK(fl_table_open(s->db, s->table_name, NULL, &s->table, s->err));
    return check_table_schema(s, fl_table_schema(s->table));
}

/* Commits the pending batch (and in overwrite mode deletes the rows it replaces). */
static int flush(fl_sink *s) {
    if (s->batch_rows == 0) return FL_OK;
    FL_RETURN_NOT_OK(fl_batch_finish(s->batch, s->err));
    if (!s->table) FL_RETURN_NOT_OK(create_table(s));
    FL_RETURN_NOT_OK(fl_table_append(s->table, s->batch, NULL, s->err));
    s->rep->commits++;
    s->rep->added += s->batch_rows;
    s->rep->bytes_added += s->batch_bytes;
    s->pending_added = 0;
    if (s->n_replaced > 0) {
        FL_RETURN_NOT_OK(fl_table_delete_rows(s->table, s->replaced, s->n_replaced, s->err));
        s->rep->commits++;
        s->n_replaced = 0;
    }
    fl_batch_free(s->batch);
    s->batch = fl_batch_new(s->schema);
    s->batch_rows = s->batch_bytes = 0;
    return s->batch ? FL_OK : oom(s);
}

static int append_string_or_null(fl_array *a, const char *v) { return v ? fl_array_append_string(a, v) : fl_array_append_null(a); }

/* The annotation columns of one row. */
static int append_annotations(fl_sink *s, const fl_ingest_item *item) {
    fl_array *c = s->batch->columns;
    const fl_frame *f = &item->frame;
    bool labeled = item->labeled;
    int rc = append_string_or_null(&c[COL_WEATHER], labeled ? f->weather : NULL);
    if (rc == FL_OK) rc = append_string_or_null(&c[COL_SCENE], labeled ? f->scene : NULL);
    if (rc == FL_OK) rc = append_string_or_null(&c[COL_TIMEOFDAY], labeled ? f->timeofday : NULL);
    if (rc == FL_OK) rc = labeled && f->has_timestamp ? fl_array_append_int(&c[COL_TIMESTAMP], f->timestamp) : fl_array_append_null(&c[COL_TIMESTAMP]);
    size_t n = labeled ? f->n_labels : 0;
    for (size_t i = 0; i < n && rc == FL_OK; i++) {
        const fl_label *l = &f->labels[i];
        rc = fl_array_append_string(&c[COL_CATEGORIES].children[0], l->category);
        fl_array *box = &c[COL_BBOXES].children[0];
        for (int k = 0; k < 4 && rc == FL_OK; k++) rc = fl_array_append_float(&box->children[0], l->box[k]);
        if (rc == FL_OK) rc = fl_array_end_list(box);
        if (rc == FL_OK) rc = fl_array_append_bool(&c[COL_OCCLUDED].children[0], l->occluded);
        if (rc == FL_OK) rc = fl_array_append_bool(&c[COL_TRUNCATED].children[0], l->truncated);
        if (rc == FL_OK) rc = append_string_or_null(&c[COL_LIGHT_COLORS].children[0], l->traffic_light_color);
    }
    for (int col = COL_CATEGORIES; col <= COL_LIGHT_COLORS && rc == FL_OK; col++) rc = fl_array_end_list(&c[col]);
    if (rc == FL_OK) rc = fl_array_append_int(&c[COL_NUM_ANNOTATIONS], (int64_t)n);
    return rc;
}

static int append_row(fl_sink *s, const fl_ingest_item *item) {
    fl_array *c = s->batch->columns;
    int rc = fl_array_append_string(&c[COL_IMAGE_ID], item->image_id);
    if (rc == FL_OK) rc = append_string_or_null(&c[COL_SPLIT], item->split);
    if (rc == FL_OK) rc = fl_array_append_bytes(&c[COL_IMAGE_BYTES], item->bytes, item->size);
    if (rc == FL_OK) rc = fl_array_append_int(&c[COL_WIDTH], item->width);
    if (rc == FL_OK) rc = fl_array_append_int(&c[COL_HEIGHT], item->height);
    if (rc == FL_OK && s->annotated) rc = append_annotations(s, item);
    if (rc == FL_OK) rc = append_string_or_null(&c[s->source_col], item->source);
    return rc == FL_OK ? FL_OK : oom(s);
}

/* Overwrite mode: remembers the table's rows with this image_id for deletion after the batch commits. */
static int collect_replaced(fl_sink *s, const char *image_id) {
    for (int64_t e = map_find(&s->existing, image_id, -1); e >= 0; e = map_find(&s->existing, image_id, e)) {
        if (!fl_reserve((void **)&s->replaced, &s->cap_replaced, s->n_replaced + 1, sizeof *s->replaced, 256)) return oom(s);
        s->replaced[s->n_replaced++] = (uint64_t)s->existing.entries[e].value;
    }
    return FL_OK;
}

static int64_t max_batch_bytes(const fl_sink *s) { return s->o.max_batch_bytes > 0 ? s->o.max_batch_bytes : DEFAULT_MAX_BATCH_BYTES; }

static bool batch_full(const fl_sink *s) {
    return (s->o.commit_every > 0 && s->batch_rows >= s->o.commit_every) || s->batch_bytes >= max_batch_bytes(s);
}

static void progress(fl_sink *s, bool finished) {
    if (!s->o.on_progress || s->checking) return;
    fl_ingest_progress p = {.done = s->taken, .total = s->total, .added = s->rep->added + s->pending_added,
                            .bytes_added = s->rep->bytes_added + s->batch_bytes, .finished = finished};
    s->o.on_progress(s->o.on_progress_ctx, &p);
}

static int take(fl_sink *s, fl_ingest_item *item) {
    const char *where = item->source ? item->source : item->image_id;
    if (item->outcome == FL_INGEST_SKIPPED_EXISTING ||
        (s->o.mode == FL_INGEST_SKIP_EXISTING && map_find(&s->existing, item->image_id, -1) >= 0))
        return fl_sink_notice(s, FL_INGEST_SKIPPED_EXISTING, FL_OK, where, "%s: image_id '%s' is already in table '%s'", where,
                              item->image_id, s->table_name);
    int64_t first = map_find(&s->seen, item->image_id, -1);
    if (first >= 0)
        return fl_sink_notice(s, FL_INGEST_DUPLICATE, FL_EINVAL, where, "%s: duplicate image_id '%s' (already taken from %s)", where,
                              item->image_id, s->seen.entries[first].note ? s->seen.entries[first].note : "an earlier input");
    if (item->outcome != 0) return fl_sink_notice(s, (fl_ingest_outcome)item->outcome, item->code, where, "%s", item->message);
    if (!map_add(&s->seen, item->image_id, strlen(item->image_id), s->taken, item->source)) return oom(s);
    if (s->checking) return FL_OK;
    FL_RETURN_NOT_OK(append_row(s, item));
    if (s->o.mode == FL_INGEST_OVERWRITE) FL_RETURN_NOT_OK(collect_replaced(s, item->image_id));
    s->batch_rows++;
    s->pending_added++;
    if (item->no_label_entry) s->rep->unlabeled++;
    s->batch_bytes += (int64_t)item->size;
    return batch_full(s) ? flush(s) : FL_OK;
}

int fl_sink_take(fl_sink *s, fl_ingest_item *item) {
    int rc = take(s, item);
    s->taken++;
    if (rc == FL_OK) progress(s, false);
    return rc;
}

/* Commits what is pending and creates the table if nothing did; fills report->version. */
static int finish(fl_sink *s) {
    int rc = flush(s);
    if (rc == FL_OK && !s->table) rc = create_table(s); /* an empty source still leaves the table behind */
    if (s->table) s->rep->version = fl_table_version(s->table);
    if (rc == FL_OK) progress(s, true);
    return rc;
}

int fl_sink_run(fl_sink *s, int64_t inputs, int64_t total_bytes, int (*pass)(void *ctx), void *ctx) {
    s->total = inputs;
    bool several_commits = total_bytes >= max_batch_bytes(s) || (s->o.commit_every > 0 && inputs > s->o.commit_every);
    if (s->o.strict && several_commits) {
        s->checking = true;
        int rc = pass(ctx);
        s->checking = false;
        s->taken = 0;
        map_free(&s->seen);
        FL_RETURN_NOT_OK(rc);
    }
    FL_RETURN_NOT_OK(pass(ctx));
    return finish(s);
}

void fl_sink_free(fl_sink *s) {
    if (!s) return;
    if (s->table) s->rep->version = fl_table_version(s->table);
    fl_table_close(s->table);
    fl_batch_free(s->batch);
    fl_schema_free(s->schema);
    map_free(&s->existing);
    map_free(&s->seen);
    fl_free(s->replaced);
    fl_free(s);
}

static int run_loop(fl_pipeline *p, fl_sink *s, fl_next_task_fn next_task, void *ctx, fl_error *err) {
    int rc = FL_OK;
    bool more = true;
    for (;;) {
        fl_ingest_item *slot;
        while (more && rc == FL_OK && !fl_sink_full(s) && (slot = fl_pipeline_slot(p)) != NULL) {
            more = next_task(ctx, slot, &rc);
            if (more && rc == FL_OK) rc = fl_pipeline_submit(p, err);
        }
        if (rc != FL_OK) return rc;
        fl_ingest_item *item;
        FL_RETURN_NOT_OK(fl_pipeline_next(p, &item, err));
        if (!item) return FL_OK;
        if (fl_sink_full(s)) continue; /* produced past the limit: dropped */
        FL_RETURN_NOT_OK(fl_sink_take(s, item));
    }
}

int fl_ingest_run(const fl_pipeline_def *def, fl_sink *s, fl_next_task_fn next_task, void *ctx, fl_error *err) {
    fl_pipeline *p;
    int rc = fl_pipeline_start(def, &p, err);
    if (rc == FL_OK) rc = run_loop(p, s, next_task, ctx, err);
    fl_pipeline_free(p);
    return rc;
}
