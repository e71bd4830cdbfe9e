/*
 * backfill.c — UDF columns: declaring them (fl_table_add_udf_column) and computing them with the parallel,
 * checkpointed backfill executor (fl_backfill, fl_backfill_all). The contract is in framelake.h, the
 * UDF kinds in udf.h.
 *
 * A column's definition is table metadata: udf.<col>.name (the spec: "dhash", "lib.so:sym", "exec:…"),
 * .version (the UDF version whose values the column holds), .inputs (the table columns fed to the UDF,
 * one per declared input, comma-separated) and .params ("k=v" lines).
 *
 * The executor, for one column:
 *
 *   calling thread (committer)               worker threads (concurrency; each its own handle at version V,
 *                                            its own UDF state, its own compiled filter)
 *   plan units: (fragment, rows [lo, hi))    claim the next unit → filtered scan of it ("col" IS NULL AND
 *                                            where) → per batch: acquire credits → UDF → deposit
 *   commit deposits as one update of the     (row ids, values)
 *   column when the window is full or the
 *   work is done; report progress
 *
 * Invariants:
 *  1. Every worker reads the same version V; commits go through the write handle, whose updates rebase
 *     over concurrent appends (new fragments), so appended rows survive and stay NULL.
 *  2. The window: rows computed or being computed and not yet committed (in flight + deposited +
 *     committing) never exceed checkpoint_rows, so a kill loses at most one checkpoint's worth of UDF calls
 *     and a re-run finds exactly the rows still NULL.
 *  3. A unit's result does not depend on which worker ran it or when (the UDF contract), so the plan may
 *     be cut anyhow; a unit (table version, fragment, row range) is what a distributed driver would hand to
 *     another machine, with run_unit's deposits shipped back to the committer.
 *  4. After an error nothing more is committed: the unfinished checkpoint is dropped whole.
 */
#include "udf.h"

#include "../batch/batch.h"
#include "../common/common.h"
#include "../query/expr.h"
#include "../query/qscan.h"
#include "../table/table.h"

#include <pthread.h>
#include <stdlib.h>
#include <time.h>

#define DEFAULT_CHECKPOINT_ROWS 10000
#define MAX_UNIT_ROWS 65536
#define BATCH_ROWS 1024       /* rows per UDF call */
#define BATCH_ROWS_BLOBS 64   /* … when an input is a binary column (images) */
#define PROGRESS_MS 200

static double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- definitions in table metadata ---- */

/* The value of udf.<column>.<what>, or NULL. */
static const char *def_meta(const fl_schema *s, const char *column, const char *what) {
    char *key = fl_sprintf("udf.%s.%s", column, what);
    const char *v = key ? fl_schema_get_metadata(s, key) : NULL;
    fl_free(key);
    return v;
}

typedef struct name_list {
    char **v;
    size_t n;
} name_list;

static void names_clear(name_list *l) {
    fl_strings_free(l->v, l->n);
    l->v = NULL;
    l->n = 0;
}

static int names_push(name_list *l, const char *s, size_t len) {
    char **grown = fl_realloc(l->v, (l->n + 1) * sizeof *grown);
    if (!grown) return FL_ENOMEM;
    l->v = grown;
    if (!(l->v[l->n] = fl_strndup(s, len))) return FL_ENOMEM;
    l->n++;
    return FL_OK;
}

/* Comma-separated names ("a, b"); also reads the typed form older tables stored ("a list<string>, b int32"). */
static int names_parse(const char *text, name_list *out, fl_error *err) {
    memset(out, 0, sizeof *out);
    fl_schema *typed = NULL;
    fl_error ignore = {0};
    if (strchr(text, ' ') && fl_schema_parse(text, &typed, &ignore) == FL_OK) {
        int rc = FL_OK;
        for (int32_t i = 0; i < typed->n_fields && rc == FL_OK; i++) rc = names_push(out, typed->fields[i].name, strlen(typed->fields[i].name));
        fl_schema_free(typed);
        return rc == FL_OK ? FL_OK : fl_error_set(err, FL_ENOMEM, "out of memory");
    }
    for (const char *p = text; *p;) {
        while (*p == ' ' || *p == ',') p++;
        if (!*p) break;
        const char *e = p;
        while (*e && *e != ',') e++;
        const char *t = e;
        while (t > p && t[-1] == ' ') t--;
        if (names_push(out, p, (size_t)(t - p)) != FL_OK) return fl_error_set(err, FL_ENOMEM, "out of memory");
        p = e;
    }
    return FL_OK;
}

/* "k=v" lines into keys/values (pointers into *storage, which the caller frees). */
typedef struct param_list {
    char *storage;
    const char **keys, **values;
    size_t n;
} param_list;

static void params_clear(param_list *p) {
    fl_free(p->storage);
    fl_free(p->keys);
    fl_free(p->values);
    memset(p, 0, sizeof *p);
}

static int params_parse(const char *text, param_list *out, fl_error *err) {
    memset(out, 0, sizeof *out);
    if (!text || !*text) return FL_OK;
    size_t lines = 1;
    for (const char *c = text; *c; c++) lines += *c == '\n';
    out->storage = fl_strdup(text);
    out->keys = fl_calloc(lines, sizeof *out->keys);
    out->values = fl_calloc(lines, sizeof *out->values);
    if (!out->storage || !out->keys || !out->values) {
        params_clear(out);
        return fl_error_set(err, FL_ENOMEM, "out of memory");
    }
    for (char *line = out->storage; line && *line;) {
        char *next = strchr(line, '\n');
        if (next) *next++ = '\0';
        char *eq = strchr(line, '=');
        if (!eq) {
            params_clear(out);
            return fl_error_set(err, FL_ECORRUPT, "udf parameters: line without '=' in table metadata");
        }
        *eq = '\0';
        out->keys[out->n] = line;
        out->values[out->n++] = eq + 1;
        line = next;
    }
    return FL_OK;
}

/* Checks --param keys and values and formats them as the metadata text (*out, fl_free). */
static int params_format(const char *const *keys, const char *const *values, size_t n, char **out, fl_error *err) {
    fl_buf b;
    fl_buf_init(&b);
    for (size_t i = 0; i < n; i++) {
        if (!keys[i] || !*keys[i] || strpbrk(keys[i], "=\n") || !values[i] || strchr(values[i], '\n')) {
            fl_buf_free(&b);
            return fl_error_set(err, FL_EINVAL, "udf parameter %zu: want key=value, a key without '=' or newline and a value without newline", i + 1);
        }
        fl_buf_printf(&b, "%s%s=%s", i ? "\n" : "", keys[i], values[i]);
    }
    fl_buf_append(&b, "", 1);
    if (b.failed) {
        fl_buf_free(&b);
        return fl_error_set(err, FL_ENOMEM, "out of memory");
    }
    *out = (char *)b.data;
    return FL_OK;
}

/* The UDF's declared inputs and its output as the field "<column> <type>". */
static int signature(const fl_udf_def *def, const char *column, fl_schema **in, fl_schema **out, fl_error *err) {
    *in = *out = NULL;
    fl_error why = {0};
    if (!def->inputs || fl_schema_parse(def->inputs, in, &why) != FL_OK)
        return fl_error_set(err, FL_EINVAL, "udf %s declares inputs '%s' that do not parse: %s", def->name, def->inputs ? def->inputs : "",
                            why.message);
    char *text = fl_sprintf("\"%s\" %s", column, def->output_type ? def->output_type : "");
    int rc = text ? fl_schema_parse(text, out, &why) : FL_ENOMEM;
    fl_free(text);
    if (rc == FL_OK) return FL_OK;
    fl_schema_free(*in);
    *in = NULL;
    if (rc == FL_ENOMEM) return fl_error_set(err, rc, "out of memory");
    return fl_error_set(err, FL_EINVAL, "udf %s declares output type '%s' that does not parse: %s", def->name, def->output_type, why.message);
}

/* The table columns `names` exist with the types of the UDF's declared inputs, one per input. */
static int check_inputs(const fl_schema *table, const fl_udf_def *def, const fl_schema *in, const name_list *names, fl_error *err) {
    if (names->n != (size_t)in->n_fields)
        return fl_error_set(err, FL_EINVAL, "udf %s takes %d input%s (%s), not %zu", def->name, in->n_fields, in->n_fields == 1 ? "" : "s", def->inputs,
                            names->n);
    for (size_t i = 0; i < names->n; i++) {
        int k = fl_schema_find(table, names->v[i]);
        if (k < 0) return fl_error_set(err, FL_EINVAL, "udf %s needs column '%s', which the table lacks", def->name, names->v[i]);
        if (!fl_field_same_type(&table->fields[k], &in->fields[i])) {
            char *have = fl_field_type_format(&table->fields[k]), *want = fl_field_type_format(&in->fields[i]);
            int rc = fl_error_set(err, FL_ETYPE, "udf %s input %zu ('%s') must be %s; column '%s' is %s", def->name, i + 1, in->fields[i].name,
                                  want ? want : "?", names->v[i], have ? have : "?");
            free(have);
            free(want);
            return rc;
        }
    }
    return FL_OK;
}

/* The metadata entries of a definition, added to `schema` (the column's one-field schema or a scratch one). */
static int definition_entries(fl_schema *schema, const char *column, const char *spec, int version, const name_list *inputs, const char *params,
                              const char *where) {
    char v[16];
    snprintf(v, sizeof v, "%d", version);
    fl_buf joined;
    fl_buf_init(&joined);
    for (size_t i = 0; i < inputs->n; i++) fl_buf_printf(&joined, "%s%s", i ? ", " : "", inputs->v[i]);
    fl_buf_append(&joined, "", 1);
    const char *what[5] = {"name", "version", "inputs", "params", "where"};
    const char *value[5] = {spec, v, (const char *)joined.data, params ? params : "", where};
    int rc = joined.failed ? FL_ENOMEM : FL_OK;
    for (int i = 0; i < (where ? 5 : 4) && rc == FL_OK; i++) {
        char *key = fl_sprintf("udf.%s.%s", column, what[i]);
        rc = key ? fl_schema_set_metadata(schema, key, value[i]) : FL_ENOMEM;
        fl_free(key);
    }
    fl_buf_free(&joined);
    return rc;
}

/* Commits `schema`'s table-level metadata entries (a definition) on t. */
static int commit_entries(fl_table *t, const fl_schema *schema, fl_error *err) {
    const char **keys = fl_calloc((size_t)schema->n_metadata + 1, sizeof *keys);
    const char **values = fl_calloc((size_t)schema->n_metadata + 1, sizeof *values);
    int rc = keys && values ? FL_OK : fl_error_set(err, FL_ENOMEM, "out of memory");
    for (int32_t i = 0; i < schema->n_metadata && rc == FL_OK; i++) {
        keys[i] = schema->metadata[i].key;
        values[i] = schema->metadata[i].value;
    }
    if (rc == FL_OK) rc = fl_table_set_metadata(t, keys, values, (size_t)schema->n_metadata, err);
    fl_free(keys);
    fl_free(values);
    return rc;
}

typedef struct declare_args {
    const char *column, *spec;
    const fl_udf_column_options *o;
    bool adopt;                 /* the column exists without a definition: record one for it */
} declare_args;

/* Resolves the UDF, checks inputs and output type against t's schema, and adds the column with its
 * definition in one commit (or, adopting an existing column, records the definition). */
static int declare(fl_table *t, const declare_args *a, fl_error *err) {
    fl_udf_column_options none = {0};
    const fl_udf_column_options *o = a->o ? a->o : &none;
    char *params = NULL;
    FL_RETURN_NOT_OK(params_format(o->param_keys, o->param_values, o->n_params, &params, err));
    fl_udf_context ctx = {.param_keys = o->param_keys, .param_values = o->param_values, .n_params = o->n_params, .timeout_ms = o->timeout_ms};
    fl_udf_def *def = NULL;
    fl_schema *in = NULL, *out = NULL, *want = NULL;
    name_list names = {0};
    int rc = fl_udf_resolve(a->spec, &ctx, &def, err);
    if (rc == FL_OK) rc = signature(def, a->column, &in, &out, err);
    if (rc == FL_OK) {
        if (o->inputs) rc = names_parse(o->inputs, &names, err);
        else
            for (int32_t i = 0; i < in->n_fields && rc == FL_OK; i++)
                if (names_push(&names, in->fields[i].name, strlen(in->fields[i].name)) != FL_OK) rc = fl_error_set(err, FL_ENOMEM, "out of memory");
    }
    const fl_schema *have = fl_table_schema(t);
    if (rc == FL_OK) rc = check_inputs(have, def, in, &names, err);
    if (rc == FL_OK && o->type) {
        char *text = fl_sprintf("x %s", o->type);
        rc = text ? fl_schema_parse(text, &want, err) : fl_error_set(err, FL_ENOMEM, "out of memory");
        fl_free(text);
        if (rc == FL_OK && !fl_field_same_type(&want->fields[0], &out->fields[0]))
            rc = fl_error_set(err, FL_ETYPE, "udf %s returns %s, not %s", def->name, def->output_type, o->type);
    }
    if (rc == FL_OK && a->adopt) {
        int k = fl_schema_find(have, a->column);
        if (!fl_field_same_type(&have->fields[k], &out->fields[0]))
            rc = fl_error_set(err, FL_ETYPE, "column '%s' exists with another type than udf %s's %s", a->column, def->name, def->output_type);
    }
    if (rc == FL_OK && o->where) {
        /* the column's standing filter must compile against the table now */
        fl_expr *check = NULL;
        rc = fl_expr_compile_filter(o->where, have, &check, err);
        fl_expr_free(check);
    }
    char *spec = rc == FL_OK ? fl_udf_canonical_spec(a->spec) : NULL;
    if (rc == FL_OK && (!spec || definition_entries(out, a->column, spec, def->version, &names, params, o->where) != FL_OK))
        rc = fl_error_set(err, FL_ENOMEM, "out of memory");
    fl_free(spec);
    if (rc == FL_OK) rc = a->adopt ? commit_entries(t, out, err) : fl_table_add_columns(t, out, NULL, err);
    names_clear(&names);
    fl_schema_free(in);
    fl_schema_free(out);
    fl_schema_free(want);
    fl_udf_release(def);
    fl_free(params);
    return rc;
}

int fl_table_add_udf_column(fl_db *db, const char *table, const char *column, const char *udf, const fl_udf_column_options *opts,
                            fl_error *err) {
    if (!db || !table || !column || !udf) return fl_error_set(err, FL_EINVAL, "add udf column: db, table, column and udf are required");
    if (!fl_valid_name(column)) return fl_error_set(err, FL_EINVAL, "add udf column: invalid column name '%s'", column);
    fl_table *t;
    FL_RETURN_NOT_OK(fl_table_open(db, table, NULL, &t, err));
    int rc = FL_OK;
    if (fl_schema_find(fl_table_schema(t), column) >= 0) rc = fl_error_set(err, FL_EEXIST, "table '%s': column '%s' already exists", table, column);
    if (rc == FL_OK) rc = declare(t, &(declare_args){.column = column, .spec = udf, .o = opts}, err);
    fl_table_close(t);
    return rc;
}

/* ---- the executor ---- */

typedef struct unit {
    uint32_t fragment;
    int64_t lo, hi;             /* physical rows of the fragment */
} unit;

typedef struct executor {
    fl_db *db;
    const char *table, *column;
    uint64_t version;           /* V: what every worker reads */
    const fl_udf_def *def;
    fl_udf_context ctx;
    const fl_schema *in_schema; /* the UDF's declared inputs */
    const fl_schema *out_schema;
    const char **scan_cols;     /* the table columns mapped to the inputs */
    size_t n_scan_cols;
    const char *filter;         /* NULL: every row */
    uint64_t below;             /* rows with smaller ids were computed by an earlier complete run */
    fl_backfill_options o;
    int64_t window, batch_rows;
    unit *units;
    size_t n_units, next_unit;
    fl_table *write;
    fl_backfill_report *rep;
    /* shared, under mu */
    pthread_mutex_t mu;
    pthread_cond_t wake_committer, wake_workers;
    int64_t inflight, deposited, committing; /* the window's three parts */
    int64_t computed;           /* rows deposited so far (progress) */
    int64_t failed;
    int running, blocked;
    fl_batch *pending;
    uint64_t *ids;
    size_t n_ids, cap_ids;
    bool abort;
    int rc;
    fl_error err;               /* the first error */
} executor;

/* Records the first error and stops everyone. Called with mu held. */
static void fail_locked(executor *x, int rc, const fl_error *err) {
    if (x->rc == FL_OK) {
        x->rc = rc;
        x->err = *err;
        if (!x->err.message[0]) fl_error_set(&x->err, rc, "backfill %s: %s", x->column, fl_strerror(rc));
    }
    x->abort = true;
    pthread_cond_broadcast(&x->wake_workers);
    pthread_cond_signal(&x->wake_committer);
}

static bool claim(executor *x, unit *u) {
    pthread_mutex_lock(&x->mu);
    bool ok = !x->abort && x->next_unit < x->n_units;
    if (ok) *u = x->units[x->next_unit++];
    pthread_mutex_unlock(&x->mu);
    return ok;
}

/* Waits until k more rows fit the window (or nothing else is at risk); false when the run stops. */
static bool acquire(executor *x, int64_t k) {
    pthread_mutex_lock(&x->mu);
    for (;;) {
        int64_t used = x->inflight + x->deposited + x->committing;
        if (x->abort || used + k <= x->window || used == 0) break;
        x->blocked++;
        pthread_cond_signal(&x->wake_committer);
        pthread_cond_wait(&x->wake_workers, &x->mu);
        x->blocked--;
    }
    bool ok = !x->abort;
    if (ok) x->inflight += k;
    pthread_mutex_unlock(&x->mu);
    return ok;
}

/* Hands a batch's values (one per row id) to the committer; moves `values` out. */
static int deposit(executor *x, const uint64_t *ids, int64_t n, fl_array *values, int64_t failed) {
    pthread_mutex_lock(&x->mu);
    int rc = FL_OK;
    if (!x->abort) {
        if (!fl_reserve((void **)&x->ids, &x->cap_ids, x->n_ids + (size_t)n, sizeof *x->ids, 1024) ||
            fl_array_append_array(&x->pending->columns[0], values) != FL_OK) {
            fl_error e = {0};
            fl_error_set(&e, FL_ENOMEM, "backfill %s: out of memory", x->column);
            fail_locked(x, FL_ENOMEM, &e);
            rc = FL_ENOMEM;
        } else {
            memcpy(x->ids + x->n_ids, ids, (size_t)n * sizeof *ids);
            x->n_ids += (size_t)n;
            x->inflight -= n;
            x->deposited += n;
            x->computed += n;
            x->failed += failed;
            pthread_cond_signal(&x->wake_committer);
        }
    }
    pthread_mutex_unlock(&x->mu);
    return rc;
}

/* Moves array src into dst (an empty array of the same type), leaving src empty. */
static void move_array(fl_array *dst, fl_array *src) {
    fl_array_clear(dst);
    *dst = *src;
    memset(src, 0, sizeof *src);
    src->type = dst->type;
    src->fixed_size = dst->fixed_size;
}

/* The UDF on one row (the isolation path after a batch failed). */
static int apply_row(executor *x, void *state, const fl_batch *in, int64_t i, fl_array **out, fl_error *err) {
    fl_batch *one = fl_batch_new(x->in_schema);
    if (!one) return fl_error_set(err, FL_ENOMEM, "out of memory");
    int rc = FL_OK;
    for (int32_t c = 0; c < in->n_columns && rc == FL_OK; c++) rc = fl_array_append_from(&one->columns[c], &in->columns[c], i);
    if (rc == FL_OK) rc = fl_batch_finish(one, err);
    if (rc == FL_OK && fl_batch_set_row_ids(one, &in->row_ids[i], 1) != FL_OK) rc = FL_ENOMEM;
    if (rc == FL_OK) rc = fl_udf_apply(x->def, state, one, out, err);
    else if (rc == FL_ENOMEM) fl_error_set(err, rc, "out of memory");
    fl_batch_free(one);
    return rc;
}

/*
 * Runs the UDF on a scanned batch (the mapped input columns, row ids) and deposits the values. A failing
 * batch is retried row by row to find the failing rows: each is an error naming its row id, or NULL
 * (on_error_null).
 */
static int compute_batch(executor *x, void *state, fl_batch *scanned, fl_error *err) {
    fl_batch *in = fl_batch_new(x->in_schema);
    if (!in) return fl_error_set(err, FL_ENOMEM, "out of memory");
    int rc = FL_OK;
    /* the scanned columns become the UDF's inputs (moved; a column feeding two inputs is copied) */
    for (int32_t c = 0; c < in->n_columns && rc == FL_OK; c++) {
        int32_t first = c;
        for (int32_t d = 0; d < c && first == c; d++)
            if (!strcmp(x->scan_cols[d], x->scan_cols[c])) first = d;
        if (first == c) move_array(&in->columns[c], fl_batch_column(scanned, x->scan_cols[c]));
        else if (fl_array_append_range(&in->columns[c], &in->columns[first], 0, in->columns[first].length) != FL_OK) rc = FL_ENOMEM;
    }
    if (rc == FL_OK) rc = fl_batch_finish(in, err);
    if (rc == FL_OK && fl_batch_set_row_ids(in, scanned->row_ids, (size_t)scanned->num_rows) != FL_OK) rc = FL_ENOMEM;
    if (rc == FL_ENOMEM) fl_error_set(err, rc, "out of memory");
    fl_array *out = NULL;
    int64_t failed = 0;
    fl_error why = {0};
    if (rc == FL_OK && (rc = fl_udf_apply(x->def, state, in, &out, &why)) != FL_OK && rc != FL_ENOMEM) {
        /* find the failing rows one at a time */
        out = fl_calloc(1, sizeof *out);
        rc = out && fl_array_init(out, &x->out_schema->fields[0]) == FL_OK ? FL_OK : fl_error_set(err, FL_ENOMEM, "out of memory");
        for (int64_t i = 0; i < in->num_rows && rc == FL_OK; i++) {
            fl_array *v = NULL;
            fl_error row_err = {0};
            int urc = apply_row(x, state, in, i, &v, &row_err);
            if (urc == FL_OK) rc = fl_array_append_array(out, v);
            else if (urc == FL_ENOMEM) rc = fl_error_set(err, urc, "%s", row_err.message);
            else if (x->o.on_error_null) {
                rc = fl_array_append_null(out);
                failed++;
            } else {
                rc = fl_error_set(err, urc, "backfill %s: row id %llu: %s", x->column, (unsigned long long)in->row_ids[i], row_err.message);
            }
            fl_udf_result_free(v);
        }
    } else if (rc != FL_OK && why.message[0]) {
        *err = why;
    }
    if (rc == FL_OK) rc = deposit(x, in->row_ids, in->num_rows, out, failed);
    fl_udf_result_free(out);
    fl_batch_free(in);
    return rc;
}

/* One unit: the rows of fragment u->fragment in [lo, hi) the filter selects, batch by batch. */
static int run_unit(executor *x, fl_table *t, const fl_expr *filter, void *state, const unit *u, fl_error *err) {
    fl_qscan *q;
    FL_RETURN_NOT_OK(fl_qscan_open(t, filter, x->scan_cols, x->n_scan_cols, true, x->batch_rows, &q, err));
    fl_qscan_set_range(q, u->fragment, u->lo, u->hi);
    fl_batch *b = NULL;
    int rc;
    while ((rc = fl_qscan_next(q, &b, err)) == FL_OK && b) {
        if (!acquire(x, b->num_rows)) {
            fl_batch_free(b);
            break; /* the run stopped */
        }
        rc = compute_batch(x, state, b, err);
        fl_batch_free(b);
        if (rc != FL_OK) break;
    }
    fl_qscan_close(q);
    return rc;
}

typedef struct worker {
    executor *x;
    int index;
    pthread_t thread;
    bool started;
} worker;

static void *worker_main(void *arg) {
    worker *w = arg;
    executor *x = w->x;
    fl_error err = {0};
    void *state = NULL;
    fl_table *t = NULL;
    fl_expr *filter = NULL;
    fl_udf_context ctx = x->ctx;
    ctx.worker = w->index;
    int rc = x->def->init ? x->def->init(x->def, &ctx, &state, &err) : FL_OK;
    bool initialised = rc == FL_OK;
    if (!initialised) {
        fl_error inner = err;
        fl_error_set(&err, rc, "backfill %s: %s", x->column, inner.message);
    }
    if (rc == FL_OK) rc = fl_table_open(x->db, x->table, &(fl_open_options){.version = x->version}, &t, &err);
    if (rc == FL_OK && x->filter) rc = fl_expr_compile_filter(x->filter, fl_table_schema(t), &filter, &err);
    unit u;
    while (rc == FL_OK && claim(x, &u)) rc = run_unit(x, t, filter, state, &u, &err);
    if (initialised && x->def->fini) x->def->fini(state);
    fl_expr_free(filter);
    fl_table_close(t);
    pthread_mutex_lock(&x->mu);
    if (rc != FL_OK) fail_locked(x, rc, &err);
    x->running--;
    pthread_cond_signal(&x->wake_committer);
    pthread_mutex_unlock(&x->mu);
    return NULL;
}

/* Commits the deposited values (taken out of the shared state by the caller) as one update. */
static int commit_checkpoint(executor *x, fl_batch *values, const uint64_t *ids, size_t n, fl_error *err) {
    FL_RETURN_NOT_OK(fl_batch_finish(values, err));
    if (fl_batch_set_row_ids(values, ids, n) != FL_OK) return fl_error_set(err, FL_ENOMEM, "out of memory");
    char detail[128];
    snprintf(detail, sizeof detail, "%s: %zu rows", x->column, n);
    return fl_table_update_as(x->write, values, "backfill", detail, err);
}

static void progress(executor *x, int64_t total, double *last) {
    if (!x->o.on_progress) return;
    double t = now_seconds();
    if (t - *last < PROGRESS_MS / 1000.0) return;
    *last = t;
    int64_t done = x->computed;
    pthread_mutex_unlock(&x->mu);
    x->o.on_progress(x->o.on_progress_ctx, done, total);
    pthread_mutex_lock(&x->mu);
}

/* The committer loop, on the calling thread, until the workers are done or the run failed. */
static void commit_loop(executor *x, int64_t total) {
    double last = 0;
    pthread_mutex_lock(&x->mu);
    for (;;) {
        if (x->abort) break;
        bool done = x->running == 0;
        if (x->deposited > 0 && (x->deposited >= x->window || x->blocked > 0 || done)) {
            fl_batch *values = x->pending, *fresh = fl_batch_new(x->out_schema);
            uint64_t *ids = x->ids;
            size_t n = x->n_ids;
            if (!fresh) {
                fl_error e = {0};
                fl_error_set(&e, FL_ENOMEM, "backfill %s: out of memory", x->column);
                fail_locked(x, FL_ENOMEM, &e);
                break;
            }
            x->pending = fresh;
            x->ids = NULL;
            x->n_ids = x->cap_ids = 0;
            x->committing = x->deposited;
            x->deposited = 0;
            pthread_mutex_unlock(&x->mu);
            fl_error e = {0};
            int rc = commit_checkpoint(x, values, ids, n, &e);
            fl_batch_free(values);
            fl_free(ids);
            pthread_mutex_lock(&x->mu);
            if (rc != FL_OK) {
                fail_locked(x, rc, &e);
                break;
            }
            x->rep->checkpoints++;
            x->rep->computed += x->committing;
            x->committing = 0;
            pthread_cond_broadcast(&x->wake_workers);
            continue;
        }
        if (done) break;
        progress(x, total, &last);
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_nsec += PROGRESS_MS * 1000000L;
        if (until.tv_nsec >= 1000000000L) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&x->wake_committer, &x->mu, &until);
    }
    x->abort = true; /* wake and stop whoever still waits */
    pthread_cond_broadcast(&x->wake_workers);
    pthread_mutex_unlock(&x->mu);
}

static int push_unit(executor *x, size_t *cap, unit u) {
    if (!fl_reserve((void **)&x->units, cap, x->n_units + 1, sizeof *x->units, 64)) return FL_ENOMEM;
    x->units[x->n_units++] = u;
    return FL_OK;
}

/*
 * Cuts version V's fragments into units of at most `rows` physical rows, leaving out rows whose id is
 * below `below` (computed by an earlier complete run, even where the UDF gave NULL): a fragment's row id
 * runs map its physical rows to ids in order, so the rows to leave out are whole offset ranges.
 */
static int plan_units(executor *x, fl_table *t, int64_t rows, uint64_t below, fl_error *err) {
    const fl_manifest *m = t->m;
    size_t cap = 0;
    for (uint32_t f = 0; f < m->n_fragments; f++) {
        const fl_fragment *fr = &m->fragments[f];
        if (fr->deleted_rows >= fr->physical_rows) continue;
        int64_t off = 0, open_lo = -1, open_hi = -1;
        for (uint32_t r = 0; r <= fr->n_runs; r++) {
            int64_t lo = -1, hi = -1;
            if (r < fr->n_runs) {
                const fl_row_run *run = &fr->runs[r];
                if (run->start + run->count > below) {
                    lo = off + (int64_t)(below > run->start ? below - run->start : 0);
                    hi = off + (int64_t)run->count;
                }
                off += (int64_t)run->count;
            }
            if (lo >= 0 && lo == open_hi) { /* continues the open range */
                open_hi = hi;
                continue;
            }
            for (int64_t u = open_lo; open_lo >= 0 && u < open_hi; u += rows)
                if (push_unit(x, &cap, (unit){f, u, u + rows < open_hi ? u + rows : open_hi}) != FL_OK) return fl_error_set(err, FL_ENOMEM, "out of memory");
            open_lo = lo;
            open_hi = hi;
        }
    }
    return FL_OK;
}

/* Rows of the planned units the filter selects. */
static int count_selected(executor *x, fl_table *t, int64_t *n, fl_error *err) {
    *n = 0;
    fl_expr *filter = NULL;
    if (x->filter) FL_RETURN_NOT_OK(fl_expr_compile_filter(x->filter, fl_table_schema(t), &filter, err));
    int rc = FL_OK;
    for (size_t i = 0; i < x->n_units && rc == FL_OK; i++) {
        fl_qscan *q = NULL;
        int64_t c = 0;
        rc = fl_qscan_open(t, filter, NULL, 0, false, 0, &q, err);
        if (rc == FL_OK) {
            fl_qscan_set_range(q, x->units[i].fragment, x->units[i].lo, x->units[i].hi);
            rc = fl_qscan_count(q, &c, err);
        }
        *n += c;
        fl_qscan_close(q);
    }
    fl_expr_free(filter);
    return rc;
}

/* Computes the rows `filter_text` selects at the write handle's version with x->def. */
static int execute(executor *x, fl_error *err) {
    fl_table *read;
    FL_RETURN_NOT_OK(fl_table_open(x->db, x->table, &(fl_open_options){.version = x->version}, &read, err));
    int64_t total = 0, live = fl_table_count_rows(read);
    int concurrency = x->o.concurrency > 0 ? x->o.concurrency : 1;
    /* units of a quarter of a worker's share of the window, so that uneven fragments still balance */
    int64_t unit_rows = x->window / (4 * (int64_t)concurrency);
    if (unit_rows < 1) unit_rows = 1;
    if (unit_rows > MAX_UNIT_ROWS) unit_rows = MAX_UNIT_ROWS;
    int rc = plan_units(x, read, unit_rows, x->below, err);
    if (rc == FL_OK) rc = count_selected(x, read, &total, err);
    x->rep->skipped = live - total;
    fl_table_close(read);
    if (rc != FL_OK || total == 0) return rc;
    if (concurrency > (int)x->n_units) concurrency = (int)x->n_units;
    if (!(x->pending = fl_batch_new(x->out_schema))) return fl_error_set(err, FL_ENOMEM, "out of memory");
    worker *w = fl_calloc((size_t)concurrency, sizeof *w);
    if (!w) return fl_error_set(err, FL_ENOMEM, "out of memory");
    pthread_mutex_init(&x->mu, NULL);
    pthread_cond_init(&x->wake_committer, NULL);
    pthread_cond_init(&x->wake_workers, NULL);
    for (int i = 0; i < concurrency; i++) {
        w[i] = (worker){.x = x, .index = i};
        pthread_mutex_lock(&x->mu);
        x->running++;
        pthread_mutex_unlock(&x->mu);
        if (pthread_create(&w[i].thread, NULL, worker_main, &w[i]) != 0) {
            fl_error e = {0};
            fl_error_set(&e, FL_EIO, "backfill %s: cannot start a worker thread", x->column);
            pthread_mutex_lock(&x->mu);
            x->running--;
            fail_locked(x, FL_EIO, &e);
            pthread_mutex_unlock(&x->mu);
            break;
        }
        w[i].started = true;
    }
    commit_loop(x, total);
    for (int i = 0; i < concurrency; i++)
        if (w[i].started) pthread_join(w[i].thread, NULL);
    if (x->rc == FL_OK && x->o.on_progress) x->o.on_progress(x->o.on_progress_ctx, x->computed, total);
    x->rep->failed = x->failed;
    pthread_cond_destroy(&x->wake_workers);
    pthread_cond_destroy(&x->wake_committer);
    pthread_mutex_destroy(&x->mu);
    fl_free(w);
    if (x->rc != FL_OK) *err = x->err;
    return x->rc;
}

/* ---- fl_backfill ---- */

int fl_backfill(fl_db *db, const char *table, const char *column, const char *udf, const fl_backfill_options *opts,
                fl_backfill_report *report, fl_error *err) {
    fl_backfill_report local;
    if (!report) report = &local;
    memset(report, 0, sizeof *report);
    double t0 = now_seconds();
    if (!db || !table || !column) return fl_error_set(err, FL_EINVAL, "backfill: db, table and column are required");
    if (!fl_valid_name(column)) return fl_error_set(err, FL_EINVAL, "backfill: invalid column name '%s'", column);
    fl_backfill_options o = {0};
    if (opts) o = *opts;
    if (o.checkpoint_rows < 0) return fl_error_set(err, FL_EINVAL, "backfill: checkpoint_rows must not be negative");
    if (o.concurrency < 0 || o.concurrency > 1024) return fl_error_set(err, FL_EINVAL, "backfill: concurrency must be 1..1024");
    fl_table *w;
    FL_RETURN_NOT_OK(fl_table_open(db, table, NULL, &w, err));
    int rc = FL_OK;
    const fl_schema *s = fl_table_schema(w);
    int k = fl_schema_find(s, column);
    const char *stored = k >= 0 ? def_meta(s, column, "name") : NULL;
    if (k < 0 && !udf)
        rc = fl_error_set(err, FL_ENOTFOUND, "backfill: column '%s' not found (declare it with framelake add-column --udf, or name a udf)", column);
    else if (k >= 0 && !stored && !udf)
        rc = fl_error_set(err, FL_EINVAL, "backfill: column '%s' is not a UDF column (declare one with framelake add-column --udf)", column);
    else if (stored && udf && strcmp(stored, udf) != 0)
        rc = fl_error_set(err, FL_EINVAL, "backfill: column '%s' is computed by udf %s, not %s", column, stored, udf);
    else if (!stored) {
        rc = declare(w, &(declare_args){.column = column, .spec = udf, .adopt = k >= 0}, err);
        if (rc != FL_OK && strncmp(err->message, "backfill", 8) != 0) {
            fl_error inner = *err;
            fl_error_set(err, rc, "backfill: %s", inner.message);
        }
        report->added = rc == FL_OK && k < 0;
    }
    /* the definition, as committed */
    s = fl_table_schema(w);
    name_list names = {0};
    param_list params = {0};
    fl_udf_def *def = NULL;
    fl_schema *in = NULL, *out = NULL;
    char *filter = NULL;
    const char *spec = def_meta(s, column, "name"), *version = def_meta(s, column, "version"), *inputs = def_meta(s, column, "inputs");
    if (rc == FL_OK) rc = names_parse(inputs ? inputs : "", &names, err);
    if (rc == FL_OK) rc = params_parse(def_meta(s, column, "params"), &params, err);
    executor x = {.db = db, .table = table, .column = column, .o = o, .write = w, .rep = report};
    x.ctx = (fl_udf_context){.db = db, .table = table, .version = fl_table_version(w), .param_keys = params.keys, .param_values = params.values,
                             .n_params = params.n, .timeout_ms = o.timeout_ms};
    if (rc == FL_OK) {
        /* the declaration is all this needs: every worker sets up its own (a model loads per worker) */
        fl_udf_context declare = x.ctx;
        declare.declare_only = true;
        rc = fl_udf_resolve(spec, &declare, &def, err);
        if (rc != FL_OK) {
            fl_error inner = *err;
            fl_error_set(err, rc, "backfill %s: %s", column, inner.message);
        }
    }
    if (rc == FL_OK) rc = signature(def, column, &in, &out, err);
    if (rc == FL_OK) rc = check_inputs(s, def, in, &names, err);
    if (rc == FL_OK && !fl_field_same_type(&s->fields[fl_schema_find(s, column)], &out->fields[0]))
        rc = fl_error_set(err, FL_ETYPE, "backfill: column '%s' exists with another type than udf %s's %s", column, def->name, def->output_type);
    bool stale = false;
    uint64_t next_row_id = w->m->next_row_id;
    if (rc == FL_OK) {
        char v[16];
        snprintf(v, sizeof v, "%d", def->version);
        stale = version && strcmp(version, v) != 0;
        report->stale = stale;
        bool all_rows = o.overwrite || stale;
        const char *below = def_meta(s, column, "done_below");
        x.below = all_rows || !below ? 0 : strtoull(below, NULL, 10);
        /* rows to compute: NULL (unless all), the column's standing filter, this run's --where */
        const char *standing = def_meta(s, column, "where");
        fl_buf f;
        fl_buf_init(&f);
        if (!all_rows) fl_buf_printf(&f, "\"%s\" IS NULL", column);
        if (standing) fl_buf_printf(&f, "%s(%s)", f.size ? " AND " : "", standing);
        if (o.where) fl_buf_printf(&f, "%s(%s)", f.size ? " AND " : "", o.where);
        fl_buf_append(&f, "", 1);
        if (f.failed) rc = fl_error_set(err, FL_ENOMEM, "out of memory");
        else if (f.size > 1) filter = (char *)f.data;
        if (!filter) fl_buf_free(&f);
        const char *check_text[2] = {standing, o.where};
        for (int i = 0; i < 2 && rc == FL_OK; i++) {
            if (!check_text[i]) continue;
            /* a bad filter fails here, with its position in its own text, before any worker starts */
            fl_expr *check = NULL;
            rc = fl_expr_compile_filter(check_text[i], s, &check, err);
            fl_expr_free(check);
        }
    }
    if (rc == FL_OK) {
        x.def = def;
        x.in_schema = in;
        x.out_schema = out;
        x.scan_cols = (const char **)names.v;
        x.n_scan_cols = names.n;
        x.ctx.input_columns = (const char *const *)names.v;
        x.ctx.n_input_columns = names.n;
        x.filter = filter;
        x.version = fl_table_version(w);
        x.window = o.checkpoint_rows > 0 ? o.checkpoint_rows : DEFAULT_CHECKPOINT_ROWS;
        x.batch_rows = BATCH_ROWS;
        for (int32_t i = 0; i < in->n_fields; i++)
            if (in->fields[i].type == FL_TYPE_BINARY) x.batch_rows = BATCH_ROWS_BLOBS;
        if (x.batch_rows > x.window) x.batch_rows = x.window;
        rc = execute(&x, err);
    }
    if (rc == FL_OK) {
        /* Every row below V's next row id now holds this version's value (or the NULL the UDF gave it);
         * record that, so that the next run leaves those rows out even where they are NULL. */
        char v[16], below[24];
        snprintf(v, sizeof v, "%d", def->version);
        snprintf(below, sizeof below, "%llu", (unsigned long long)next_row_id);
        char *kv = fl_sprintf("udf.%s.version", column), *kb = fl_sprintf("udf.%s.done_below", column);
        const char *keys[2], *values[2];
        size_t n = 0;
        if (stale && !o.where) keys[n] = kv, values[n++] = v; /* a --where run recomputed only some rows */
        if (!o.where && x.below != next_row_id) keys[n] = kb, values[n++] = below;
        rc = kv && kb ? fl_table_set_metadata(w, keys, values, n, err) : fl_error_set(err, FL_ENOMEM, "out of memory");
        fl_free(kv);
        fl_free(kb);
    }
    report->version = fl_table_version(w);
    report->seconds = now_seconds() - t0;
    fl_free(filter);
    fl_batch_free(x.pending);
    fl_free(x.ids);
    fl_free(x.units);
    fl_schema_free(in);
    fl_schema_free(out);
    fl_udf_release(def);
    names_clear(&names);
    params_clear(&params);
    fl_table_close(w);
    return rc;
}

/* ---- fl_backfill_all ---- */

int fl_backfill_all(fl_db *db, const char *table, const fl_backfill_options *opts,
                    void (*on_column)(void *ctx, const char *column, const fl_backfill_report *report), void *ctx, fl_error *err) {
    if (!db || !table) return fl_error_set(err, FL_EINVAL, "backfill: db and table are required");
    fl_table *t;
    FL_RETURN_NOT_OK(fl_table_open(db, table, NULL, &t, err));
    const fl_schema *s = fl_table_schema(t);
    int32_t n = s->n_fields;
    /* the UDF columns and, for each, which UDF columns it reads */
    bool *is_udf = fl_calloc((size_t)n + 1, sizeof *is_udf);
    bool *done = fl_calloc((size_t)n + 1, sizeof *done);
    name_list *deps = fl_calloc((size_t)n + 1, sizeof *deps);
    char **order = fl_calloc((size_t)n + 1, sizeof *order);
    int rc = is_udf && done && deps && order ? FL_OK : fl_error_set(err, FL_ENOMEM, "out of memory");
    int32_t n_udf = 0, n_order = 0;
    for (int32_t i = 0; i < n && rc == FL_OK; i++) {
        const char *inputs = def_meta(s, s->fields[i].name, "inputs");
        if (!def_meta(s, s->fields[i].name, "name")) continue;
        is_udf[i] = true;
        n_udf++;
        rc = names_parse(inputs ? inputs : "", &deps[i], err);
    }
    /* dependency order: repeatedly take the first column (schema order) whose UDF inputs are done */
    while (rc == FL_OK && n_order < n_udf) {
        int32_t pick = -1;
        for (int32_t i = 0; i < n && pick < 0; i++) {
            if (!is_udf[i] || done[i]) continue;
            bool ready = true;
            for (size_t d = 0; d < deps[i].n && ready; d++) {
                int j = fl_schema_find(s, deps[i].v[d]);
                ready = j < 0 || j == i || !is_udf[j] || done[j];
            }
            if (ready) pick = i;
        }
        if (pick < 0) {
            fl_buf cycle;
            fl_buf_init(&cycle);
            for (int32_t i = 0; i < n; i++)
                if (is_udf[i] && !done[i]) fl_buf_printf(&cycle, "%s%s", cycle.size ? ", " : "", s->fields[i].name);
            fl_buf_append(&cycle, "", 1);
            rc = fl_error_set(err, FL_EINVAL, "backfill: the UDF columns %s read each other in a cycle", cycle.failed ? "?" : (char *)cycle.data);
            fl_buf_free(&cycle);
            break;
        }
        done[pick] = true;
        if (!(order[n_order++] = fl_strdup(s->fields[pick].name))) rc = fl_error_set(err, FL_ENOMEM, "out of memory");
    }
    fl_table_close(t);
    for (int32_t i = 0; i < n_order && rc == FL_OK; i++) {
        fl_backfill_report r;
        if (on_column) on_column(ctx, order[i], NULL);
        rc = fl_backfill(db, table, order[i], NULL, opts, &r, err);
        if (rc == FL_OK && on_column) on_column(ctx, order[i], &r);
        else if (rc != FL_OK && !strstr(err->message, order[i])) {
            fl_error inner = *err;
            fl_error_set(err, rc, "backfill %s: %s", order[i], inner.message);
        }
    }
    for (int32_t i = 0; i < n && deps; i++) names_clear(&deps[i]);
    fl_strings_free(order, (size_t)n_order);
    fl_free(is_udf);
    fl_free(done);
    fl_free(deps);
    return rc;
}
