/*
 * backfill.c — fl_backfill: compute a UDF column for the rows that lack it, in checkpointed commits (the
 * contract is in framelake.h; the UDFs in udf.h).
 *
 * A run goes: open a write handle, add the column if it is missing (its definition in the field's
 * metadata) → open a read handle at that version and scan the UDF's inputs, the column and row ids → for
 * each batch, take the rows to compute (NULL, or all when overwriting), run the UDF on them → collect
 * (row id, value) pairs and commit them every checkpoint_rows rows as a cell update of that column only.
 *
 * Invariants:
 *  1. The scan reads a fixed version through its own handle; commits go through the write handle, whose
 *     updates rebase over concurrent appends (new fragments), so appended rows survive and stay NULL.
 *  2. A checkpoint is one atomic commit; a kill loses at most the checkpoint being computed, and a re-run
 *     finds exactly the rows still NULL.
 */
#include "udf.h"

#include "../batch/batch.h"
#include "../common/common.h"

#include <stdlib.h>

#define DEFAULT_CHECKPOINT_ROWS 10000

/* The table-level metadata value of `key`, or NULL. */
static const char *table_meta(const fl_schema *schema, const char *key) {
    for (int32_t i = 0; i < schema->n_metadata; i++)
        if (!strcmp(schema->metadata[i].key, key)) return schema->metadata[i].value;
    return NULL;
}

typedef struct backfill {
    const fl_udf_def *def;
    void *state;
    const char *column;
    fl_backfill_options o;
    fl_backfill_report *rep;
    fl_error *err;
    fl_table *write;
    fl_schema *in_schema;       /* the UDF's inputs */
    fl_schema *out_schema;      /* "<column> <output type>" */
    fl_batch *pending;          /* computed values not yet committed */
    uint64_t *ids;
    size_t n_ids, cap_ids;
} backfill;

static int oom(backfill *b) { return fl_error_set(b->err, FL_ENOMEM, "backfill %s: out of memory", b->column); }

/* Records the column's definition in table metadata: udf.<column>.name, .version, .inputs (one commit). */
static int record_definition(backfill *b) {
    char version[16];
    snprintf(version, sizeof version, "%d", b->def->version);
    char *keys[3] = {fl_sprintf("udf.%s.name", b->column), fl_sprintf("udf.%s.version", b->column), fl_sprintf("udf.%s.inputs", b->column)};
    const char *values[3] = {b->def->name, version, b->def->inputs};
    int rc = keys[0] && keys[1] && keys[2] ? fl_table_set_metadata(b->write, (const char *const *)keys, values, 3, b->err) : oom(b);
    for (int i = 0; i < 3; i++) fl_free(keys[i]);
    return rc;
}

/* Adds the column with its definition, or checks the existing one; sets *stale when another version of the
 * UDF computed it. */
static int prepare_column(backfill *b, bool *stale) {
    const fl_schema *have = fl_table_schema(b->write);
    int k = fl_schema_find(have, b->column);
    char key[300], version[16];
    snprintf(version, sizeof version, "%d", b->def->version);
    if (k >= 0) {
        if (!fl_field_same_type(&have->fields[k], &b->out_schema->fields[0]))
            return fl_error_set(b->err, FL_ETYPE, "backfill: column '%s' exists with another type than udf %s's %s", b->column, b->def->name,
                                b->def->output_type);
        snprintf(key, sizeof key, "udf.%s.name", b->column);
        const char *name = table_meta(have, key);
        snprintf(key, sizeof key, "udf.%s.version", b->column);
        const char *v = table_meta(have, key);
        if (name && strcmp(name, b->def->name) != 0)
            return fl_error_set(b->err, FL_EINVAL, "backfill: column '%s' is computed by udf %s, not %s", b->column, name, b->def->name);
        *stale = v && strcmp(v, version) != 0;
        return name ? FL_OK : record_definition(b);
    }
    FL_RETURN_NOT_OK(fl_table_add_columns(b->write, b->out_schema, NULL, b->err));
    b->rep->added = true;
    return record_definition(b);
}

static int checkpoint(backfill *b) {
    if (b->n_ids == 0) return FL_OK;
    FL_RETURN_NOT_OK(fl_batch_finish(b->pending, b->err));
    if (fl_batch_set_row_ids(b->pending, b->ids, b->n_ids) != FL_OK) return oom(b);
    FL_RETURN_NOT_OK(fl_table_update(b->write, b->pending, b->err));
    b->rep->checkpoints++;
    b->rep->computed += (int64_t)b->n_ids;
    fl_batch_free(b->pending);
    b->n_ids = 0;
    return (b->pending = fl_batch_new(b->out_schema)) ? FL_OK : oom(b);
}

/* Runs the UDF on rows `rows` of the scanned batch into b->pending; on a failure finds the row (one row at
 * a time) and fails with its id, or (on_error_null) stores NULL for it. */
static int compute(backfill *b, const fl_batch *scanned, const int64_t *rows, int64_t n) {
    fl_batch *in = fl_batch_new(b->in_schema);
    if (!in) return oom(b);
    int rc = FL_OK;
    for (int32_t c = 0; c < b->in_schema->n_fields && rc == FL_OK; c++) {
        const fl_array *src = fl_batch_column(scanned, b->in_schema->fields[c].name);
        for (int64_t i = 0; i < n && rc == FL_OK; i++) rc = fl_array_append_from(&in->columns[c], src, rows[i]);
    }
    if (rc == FL_OK) rc = fl_batch_finish(in, b->err);
    fl_array *out = NULL;
    fl_error why = {0};
    if (rc == FL_OK) rc = fl_udf_apply(b->def, b->state, in, &out, &why);
    if (rc == FL_OK) {
        rc = fl_array_append_array(&b->pending->columns[0], out);
    } else if (rc != FL_ENOMEM) {
        rc = FL_OK; /* find the failing rows one by one */
        for (int64_t i = 0; i < n && rc == FL_OK; i++) {
            fl_batch *one = fl_batch_new(b->in_schema);
            if (!one) return oom(b);
            for (int32_t c = 0; c < b->in_schema->n_fields && rc == FL_OK; c++) rc = fl_array_append_from(&one->columns[c], &in->columns[c], i);
            if (rc == FL_OK) rc = fl_batch_finish(one, b->err);
            fl_array *v = NULL;
            fl_error row_err = {0};
            if (rc == FL_OK) {
                int urc = fl_udf_apply(b->def, b->state, one, &v, &row_err);
                uint64_t id = scanned->row_ids[rows[i]];
                if (urc == FL_OK) rc = fl_array_append_array(&b->pending->columns[0], v);
                else if (b->o.on_error_null) {
                    rc = fl_array_append_null(&b->pending->columns[0]);
                    b->rep->failed++;
                } else {
                    rc = fl_error_set(b->err, urc, "backfill %s: row id %llu: %s", b->column, (unsigned long long)id, row_err.message);
                }
            }
            fl_udf_result_free(v);
            fl_batch_free(one);
        }
    } else {
        rc = oom(b);
    }
    fl_udf_result_free(out);
    fl_batch_free(in);
    if (rc != FL_OK) return rc;
    if (!fl_reserve((void **)&b->ids, &b->cap_ids, b->n_ids + (size_t)n, sizeof *b->ids, 1024)) return oom(b);
    for (int64_t i = 0; i < n; i++) b->ids[b->n_ids++] = scanned->row_ids[rows[i]];
    int64_t every = b->o.checkpoint_rows > 0 ? b->o.checkpoint_rows : DEFAULT_CHECKPOINT_ROWS;
    return (int64_t)b->n_ids >= every ? checkpoint(b) : FL_OK;
}

static int scan_and_compute(backfill *b, fl_db *db, const char *table, bool all_rows) {
    fl_table *read;
    fl_open_options at = {.version = fl_table_version(b->write)};
    FL_RETURN_NOT_OK(fl_table_open(db, table, &at, &read, b->err));
    int32_t n_cols = b->in_schema->n_fields + 1;
    const char **cols = fl_calloc((size_t)n_cols, sizeof *cols);
    int64_t *rows = NULL;
    int rc = cols ? FL_OK : oom(b);
    for (int32_t c = 0; c < b->in_schema->n_fields && rc == FL_OK; c++) {
        const fl_field *want = &b->in_schema->fields[c];
        int k = fl_schema_find(fl_table_schema(read), want->name);
        if (k < 0) rc = fl_error_set(b->err, FL_EINVAL, "backfill %s: udf %s needs column '%s', which the table lacks", b->column, b->def->name, want->name);
        else if (!fl_field_same_type(&fl_table_schema(read)->fields[k], want))
            rc = fl_error_set(b->err, FL_ETYPE, "backfill %s: udf %s needs '%s' as %s", b->column, b->def->name, want->name, b->def->inputs);
        else cols[c] = want->name;
    }
    fl_scan *scan = NULL;
    if (rc == FL_OK) {
        cols[n_cols - 1] = b->column;
        fl_scan_options so = {.columns = cols, .n_columns = (size_t)n_cols, .with_row_ids = true, .batch_size = 1024};
        rc = fl_scan_open(read, &so, &scan, b->err);
    }
    int64_t total = fl_table_count_rows(read), done = 0;
    fl_batch *batch = NULL;
    while (rc == FL_OK && (rc = fl_scan_next(scan, &batch, b->err)) == FL_OK && batch) {
        const fl_array *target = fl_batch_column(batch, b->column);
        rows = fl_realloc(rows, (size_t)(batch->num_rows ? batch->num_rows : 1) * sizeof *rows);
        if (!rows) rc = oom(b);
        int64_t n = 0;
        for (int64_t i = 0; rc == FL_OK && i < batch->num_rows; i++) {
            if (all_rows || fl_array_is_null(target, i)) rows[n++] = i;
            else b->rep->skipped++;
        }
        /* in pieces that end exactly at checkpoint boundaries */
        int64_t every = b->o.checkpoint_rows > 0 ? b->o.checkpoint_rows : DEFAULT_CHECKPOINT_ROWS;
        for (int64_t at = 0; rc == FL_OK && at < n;) {
            int64_t room = every - (int64_t)b->n_ids, take = n - at < room ? n - at : room;
            rc = compute(b, batch, rows + at, take);
            at += take;
        }
        done += batch->num_rows;
        fl_batch_free(batch);
        if (rc == FL_OK && b->o.on_progress) b->o.on_progress(b->o.on_progress_ctx, done, total);
    }
    if (rc == FL_OK) rc = checkpoint(b);
    fl_scan_close(scan);
    fl_free(rows);
    fl_free(cols);
    fl_table_close(read);
    return rc;
}

int fl_backfill(fl_db *db, const char *table, const char *column, const char *udf, const fl_backfill_options *opts,
                fl_backfill_report *report, fl_error *err) {
    fl_backfill_report local;
    if (!report) report = &local;
    memset(report, 0, sizeof *report);
    if (!db || !table || !column || !udf) return fl_error_set(err, FL_EINVAL, "backfill: db, table, column and udf are required");
    backfill b = {.def = fl_udf_find(udf), .column = column, .rep = report, .err = err};
    if (opts) b.o = *opts;
    if (!b.def) return fl_error_set(err, FL_EINVAL, "backfill: unknown udf '%s' (see framelake udf list)", udf);
    if (!fl_valid_name(column)) return fl_error_set(err, FL_EINVAL, "backfill: invalid column name '%s'", column);
    if (b.o.checkpoint_rows < 0) return fl_error_set(err, FL_EINVAL, "backfill: checkpoint_rows must not be negative");
    char *out_text = fl_sprintf("\"%s\" %s", column, b.def->output_type);
    int rc = out_text ? fl_schema_parse(out_text, &b.out_schema, err) : oom(&b);
    fl_free(out_text);
    if (rc == FL_OK) rc = fl_schema_parse(b.def->inputs, &b.in_schema, err);
    if (rc == FL_OK && !(b.pending = fl_batch_new(b.out_schema))) rc = oom(&b);
    if (rc == FL_OK) rc = fl_table_open(db, table, NULL, &b.write, err);
    bool stale = false;
    if (rc == FL_OK) rc = prepare_column(&b, &stale);
    report->stale = stale;
    if (rc == FL_OK && b.def->init) rc = b.def->init(b.def, &(fl_udf_context){.db = db, .table = table}, &b.state, err);
    if (rc == FL_OK) rc = scan_and_compute(&b, db, table, b.o.overwrite || stale);
    if (rc == FL_OK && stale) rc = record_definition(&b); /* every row now has this version's value */
    if (b.state && b.def->fini) b.def->fini(b.state);
    if (b.write) report->version = fl_table_version(b.write);
    fl_table_close(b.write);
    fl_batch_free(b.pending);
    fl_schema_free(b.in_schema);
    fl_schema_free(b.out_schema);
    fl_free(b.ids);
    return rc;
}
