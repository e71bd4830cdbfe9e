/*
 * compute.c — UDF columns from the command line: `framelake add-column … --udf`, `framelake backfill`
 * (one column or --all, with a progress bar) and `framelake udf list`.
 */
#include "commands.h"

#include "framelake.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int library_error(const fl_error *err, int rc) {
    fprintf(stderr, "framelake: error: %s\n", err->message[0] ? err->message : fl_strerror(rc));
    return 1;
}

/* --timeout DURATION (e.g. 30s, 500ms) into milliseconds; false after a usage message. */
static bool timeout_option(const args *a, int *ms) {
    const char *text = args_get(a, "timeout");
    *ms = 0;
    if (!text) return true;
    int64_t v;
    if (!parse_duration_ms(text, &v) || v <= 0 || v > 24 * 3600 * 1000LL) {
        fprintf(stderr, "framelake: --timeout wants a duration such as 30s or 500ms, not '%s'\n", text);
        return false;
    }
    *ms = (int)v;
    return true;
}

/* add-column DB TABLE NAME --udf SPEC [--inputs a,b] [--type T] [--param k=v]... */
int cmd_add_udf_column(const args *a) {
    const char *keys[ARGS_MAX], *values[ARGS_MAX];
    char *storage[ARGS_MAX];
    size_t n = 0;
    for (int i = 0; i < a->n_options; i++) {
        if (strcmp(a->names[i], "param") != 0) continue;
        const char *eq = strchr(a->values[i], '=');
        if (!eq || eq == a->values[i]) {
            fprintf(stderr, "framelake: --param wants key=value, not '%s'\n", a->values[i]);
            for (size_t k = 0; k < n; k++) free(storage[k]);
            return 2;
        }
        storage[n] = strndup(a->values[i], (size_t)(eq - a->values[i]));
        keys[n] = storage[n];
        values[n++] = eq + 1;
    }
    fl_udf_column_options o = {.inputs = args_get(a, "inputs"), .type = args_get(a, "type"), .param_keys = keys, .param_values = values,
                               .n_params = n, .where = args_get(a, "where")};
    int rc = timeout_option(a, &o.timeout_ms) ? 0 : 2;
    fl_db *db = NULL;
    fl_error err = {0};
    if (!rc && fl_db_open(a->positional[0], 0, &db, &err) != FL_OK) rc = library_error(&err, err.code);
    if (!rc && fl_table_add_udf_column(db, a->positional[1], a->positional[2], args_get(a, "udf"), &o, &err) != FL_OK)
        rc = library_error(&err, err.code);
    if (!rc) {
        fl_table *t;
        if (fl_table_open(db, a->positional[1], NULL, &t, &err) != FL_OK) rc = library_error(&err, err.code);
        else {
            const fl_schema *s = fl_table_schema(t);
            char *type = fl_field_type_format(&s->fields[fl_schema_find(s, a->positional[2])]);
            char key[300];
            snprintf(key, sizeof key, "udf.%s.inputs", a->positional[2]);
            const char *inputs = fl_schema_get_metadata(s, key);
            snprintf(key, sizeof key, "udf.%s.version", a->positional[2]);
            const char *version = fl_schema_get_metadata(s, key);
            snprintf(key, sizeof key, "udf.%s.name", a->positional[2]);
            const char *spec = fl_schema_get_metadata(s, key); /* as stored: a plugin's path made absolute */
            printf("added column '%s' %s = udf %s v%s(%s), values NULL until backfill: version %llu\n", a->positional[2], type ? type : "?",
                   spec ? spec : args_get(a, "udf"), version ? version : "?", inputs ? inputs : "", (unsigned long long)fl_table_version(t));
            free(type);
            fl_table_close(t);
        }
    }
    for (size_t k = 0; k < n; k++) free(storage[k]);
    fl_db_close(db);
    return rc;
}

const option_spec backfill_opts[] = {{"udf", true},         {"all", false},         {"where", true},     {"concurrency", true},
                                     {"checkpoint-size", true}, {"overwrite", false}, {"on-error", true}, {"timeout", true},
                                     {"quiet", false},      {NULL, false}};

typedef struct bar {
    const char *column;
    double start;
} bar;

static double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* "[#########.........] 4500/10000 rows  1234 rows/s  ETA 4.5s" on one rewritten line. */
static void progress(void *ctx, int64_t done, int64_t total) {
    bar *b = ctx;
    double elapsed = now_seconds() - b->start, rate = elapsed > 0 ? (double)done / elapsed : 0;
    int width = 24, filled = total > 0 ? (int)((double)done / (double)total * width) : width;
    char cells[32];
    for (int i = 0; i < width; i++) cells[i] = i < filled ? '#' : '.';
    cells[width] = '\0';
    fprintf(stderr, "\r\033[Kbackfill %s [%s] %lld/%lld rows  %.0f rows/s", b->column, cells, (long long)done, (long long)total, rate);
    if (rate > 0 && done < total) fprintf(stderr, "  ETA %.1fs", (double)(total - done) / rate);
    fflush(stderr);
}

static void summary(const char *column, const char *udf, const fl_backfill_report *r) {
    printf("backfilled '%s' with udf %s%s: %lld computed, %lld skipped, %lld failed, %lld checkpoints: version %llu (%.2f s, %.0f rows/s)\n",
           column, udf, r->stale ? " (stale: recomputed)" : "", (long long)r->computed, (long long)r->skipped, (long long)r->failed,
           (long long)r->checkpoints, (unsigned long long)r->version, r->seconds, r->seconds > 0 ? (double)r->computed / r->seconds : 0.0);
    fflush(stdout);
}

typedef struct all_ctx {
    fl_db *db;
    const char *table;
    bar *bar;
    int64_t computed, columns;
} all_ctx;

/* --all: the bar names the column; a summary line per column. */
static void on_column(void *ctx, const char *column, const fl_backfill_report *r) {
    all_ctx *c = ctx;
    if (c->bar) {
        c->bar->column = column;
        c->bar->start = now_seconds();
    }
    if (!r) return;
    if (c->bar) fputs("\r\033[K", stderr);
    /* the spec the column is computed by, for the summary */
    fl_table *t;
    fl_error err = {0};
    const char *spec = "?";
    char key[300];
    snprintf(key, sizeof key, "udf.%s.name", column);
    if (fl_table_open(c->db, c->table, NULL, &t, &err) == FL_OK) {
        const char *v = fl_schema_get_metadata(fl_table_schema(t), key);
        summary(column, v ? v : spec, r);
        fl_table_close(t);
    } else {
        summary(column, spec, r);
    }
    c->computed += r->computed;
    c->columns++;
}

int cmd_backfill(const args *a) {
    bool all = args_flag(a, "all");
    const char *column = a->n_positional > 2 ? a->positional[2] : NULL, *udf = args_get(a, "udf");
    if (all == (column != NULL)) {
        fprintf(stderr, "framelake backfill: name a COLUMN or pass --all\n");
        return 2;
    }
    if (all && udf) {
        fprintf(stderr, "framelake backfill: --udf names one column's UDF; --all uses each column's declared one\n");
        return 2;
    }
    fl_backfill_options o = {.overwrite = args_flag(a, "overwrite"), .where = args_get(a, "where")};
    uint64_t every = 0, concurrency = 0;
    if (!args_u64(a, "checkpoint-size", &every, NULL) || !args_u64(a, "concurrency", &concurrency, NULL)) return 2;
    if (concurrency > 1024) {
        fprintf(stderr, "framelake: --concurrency must be 1..1024\n");
        return 2;
    }
    o.checkpoint_rows = every > INT64_MAX ? INT64_MAX : (int64_t)every;
    o.concurrency = (int)concurrency;
    const char *on_error = args_get(a, "on-error");
    if (on_error && strcmp(on_error, "fail") != 0 && strcmp(on_error, "null") != 0) {
        fprintf(stderr, "framelake: --on-error must be fail or null, not '%s'\n", on_error);
        return 2;
    }
    o.on_error_null = on_error && !strcmp(on_error, "null");
    if (!timeout_option(a, &o.timeout_ms)) return 2;
    bar b = {.column = column, .start = now_seconds()};
    bool show = !args_flag(a, "quiet") && isatty(2);
    if (show) {
        o.on_progress = progress;
        o.on_progress_ctx = &b;
    }
    fl_error err = {0};
    fl_db *db;
    if (fl_db_open(a->positional[0], 0, &db, &err) != FL_OK) return library_error(&err, err.code);
    int rc;
    if (all) {
        all_ctx c = {.db = db, .table = a->positional[1], .bar = show ? &b : NULL};
        rc = fl_backfill_all(db, a->positional[1], &o, on_column, &c, &err);
        if (show) fputs("\r\033[K", stderr);
        if (rc == FL_OK) printf("backfilled %lld UDF column%s: %lld rows computed\n", (long long)c.columns, c.columns == 1 ? "" : "s", (long long)c.computed);
    } else {
        fl_backfill_report r;
        rc = fl_backfill(db, a->positional[1], column, udf, &o, &r, &err);
        if (show) fputs("\r\033[K", stderr);
        if (rc == FL_OK) {
            char key[300];
            snprintf(key, sizeof key, "udf.%s.name", column);
            fl_table *t;
            const char *spec = udf;
            if (!spec && fl_table_open(db, a->positional[1], NULL, &t, &err) == FL_OK) {
                const char *v = fl_schema_get_metadata(fl_table_schema(t), key);
                summary(column, v ? v : "?", &r);
                fl_table_close(t);
            } else {
                summary(column, spec ? spec : "?", &r);
            }
        } else if (r.checkpoints > 0) {
            library_error(&err, rc);
            fprintf(stderr, "framelake: %lld rows in %lld checkpoints were committed before the error (version %llu)\n", (long long)r.computed,
                    (long long)r.checkpoints, (unsigned long long)r.version);
            fl_db_close(db);
            return 1;
        }
    }
    fl_db_close(db);
    return rc == FL_OK ? 0 : library_error(&err, rc);
}

/* udf columns DB TABLE: the declared UDF columns with their definitions. */
static int udf_columns(const args *a) {
    if (a->n_positional != 3) {
        fprintf(stderr, "framelake udf columns: usage: framelake udf columns DB TABLE\n");
        return 2;
    }
    fl_error err = {0};
    fl_db *db;
    fl_table *t;
    if (fl_db_open(a->positional[1], 0, &db, &err) != FL_OK) return library_error(&err, err.code);
    if (fl_table_open(db, a->positional[2], NULL, &t, &err) != FL_OK) {
        fl_db_close(db);
        return library_error(&err, err.code);
    }
    const fl_schema *s = fl_table_schema(t);
    printf("%-22s %-28s %-8s %-34s %s\n", "column", "udf", "version", "inputs", "params");
    for (int32_t i = 0; i < s->n_fields; i++) {
        char key[300];
        const char *what[5] = {"name", "version", "inputs", "params", "where"}, *v[5];
        for (int k = 0; k < 5; k++) {
            snprintf(key, sizeof key, "udf.%s.%s", s->fields[i].name, what[k]);
            v[k] = fl_schema_get_metadata(s, key);
        }
        if (!v[0]) continue;
        /* a built-in whose version moved on since the column was computed */
        const char *stale = "";
        for (int u = 0; u < fl_udf_count(); u++) {
            const char *name;
            int version;
            fl_udf_info(u, &name, NULL, NULL, &version, NULL);
            if (!strcmp(name, v[0]) && v[1] && atoi(v[1]) != version) stale = " (stale)";
        }
        char params[512] = "";
        snprintf(params, sizeof params, "%s%s%s%s", v[3] ? v[3] : "", v[3] && v[3][0] && v[4] ? " " : "", v[4] ? "where " : "", v[4] ? v[4] : "");
        for (char *c = params; *c; c++)
            if (*c == '\n') *c = ' ';
        char version[32];
        snprintf(version, sizeof version, "%s%s", v[1] ? v[1] : "?", stale);
        if (params[0]) printf("%-22s %-28s %-8s %-34s %s\n", s->fields[i].name, v[0], version, v[2] ? v[2] : "", params);
        else printf("%-22s %-28s %-8s %s\n", s->fields[i].name, v[0], version, v[2] ? v[2] : "");
    }
    fl_table_close(t);
    fl_db_close(db);
    return 0;
}

int cmd_udf(const args *a) {
    if (!strcmp(a->positional[0], "columns")) return udf_columns(a);
    if (strcmp(a->positional[0], "list") != 0 || a->n_positional != 1) {
        fprintf(stderr, "framelake udf: usage: framelake udf list | framelake udf columns DB TABLE\n");
        return 2;
    }
    printf("%-22s %-8s %-26s %s\n", "name", "version", "output", "inputs");
    for (int i = 0; i < fl_udf_count(); i++) {
        const char *name, *inputs, *output, *description;
        int version;
        fl_udf_info(i, &name, &inputs, &output, &version, &description);
        printf("%-22s %-8d %-26s %s\n%-22s %s\n", name, version, output, inputs, "", description);
    }
    return 0;
}

/* dedup DB TABLE [--column dhash] [--threshold 10] [--report] | dedup inject DB TABLE --n N [--seed S] */
const option_spec dedup_opts[] = {{"column", true}, {"threshold", true}, {"report", false}, {"n", true}, {"seed", true}, {NULL, false}};

/* image_id (or the row id) of each of n rows, for the report. */
static char **image_ids(fl_db *db, const char *table, const uint64_t *ids, size_t n) {
    char **out = calloc(n ? n : 1, sizeof *out);
    fl_table *t;
    fl_error err = {0};
    if (!out || fl_table_open(db, table, NULL, &t, &err) != FL_OK) return out;
    const char *cols[] = {"image_id"};
    fl_batch *b = NULL;
    bool has = fl_schema_find(fl_table_schema(t), "image_id") >= 0;
    if (has && fl_table_take(t, ids, n, cols, 1, &b, &err) == FL_OK && b->columns[0].type == FL_TYPE_STRING)
        for (size_t i = 0; i < n; i++) {
            size_t len;
            const uint8_t *v = fl_array_is_null(&b->columns[0], (int64_t)i) ? NULL : fl_array_get_bytes(&b->columns[0], (int64_t)i, &len);
            if (v) out[i] = strndup((const char *)v, len);
        }
    fl_batch_free(b);
    fl_table_close(t);
    return out;
}

int cmd_dedup(const args *a) {
    bool inject = !strcmp(a->positional[0], "inject");
    if (a->n_positional != (inject ? 3 : 2)) {
        fprintf(stderr, "framelake dedup: usage: framelake dedup DB TABLE [--column dhash] [--threshold 10] [--report] | "
                        "framelake dedup inject DB TABLE --n N [--seed S]\n");
        return 2;
    }
    const char *dbp = a->positional[inject ? 1 : 0], *table = a->positional[inject ? 2 : 1];
    uint64_t n = 0, seed = 1, threshold = 10;
    bool have_n = false;
    if (!args_u64(a, "n", &n, &have_n) || !args_u64(a, "seed", &seed, NULL) || !args_u64(a, "threshold", &threshold, NULL)) return 2;
    if (inject && !have_n) {
        fprintf(stderr, "framelake dedup inject: --n N is required\n");
        return 2;
    }
    if (threshold > 64) {
        fprintf(stderr, "framelake dedup: --threshold must be 0..64 bits\n");
        return 2;
    }
    fl_error err = {0};
    fl_db *db;
    if (fl_db_open(dbp, 0, &db, &err) != FL_OK) return library_error(&err, err.code);
    int rc = 0;
    if (inject) {
        int64_t added = 0;
        if (fl_dedup_inject(db, table, n > INT64_MAX ? INT64_MAX : (int64_t)n, seed, &added, &err) != FL_OK) rc = library_error(&err, err.code);
        else printf("appended %lld exact copies of random rows (UDF columns NULL, new image_id)\n", (long long)added);
        fl_db_close(db);
        return rc;
    }
    fl_dedup_result r;
    if (fl_dedup_find(db, table, args_get(a, "column"), (int)threshold, &r, &err) != FL_OK) {
        fl_db_close(db);
        return library_error(&err, err.code);
    }
    printf("%lld frames with a hash: %lld duplicates in %lld groups, %lld kept (threshold %llu bits)\n", (long long)r.hashed,
           (long long)r.duplicates, (long long)r.groups, (long long)(r.hashed - r.duplicates), (unsigned long long)threshold);
    if (args_flag(a, "report") && r.duplicates) {
        /* groups in order of their kept frame: "kept: duplicates" */
        size_t m = (size_t)r.duplicates;
        char **dup_names = image_ids(db, table, r.duplicate_ids, m), **kept_names = image_ids(db, table, r.kept_ids, m);
        bool *done = calloc(m, sizeof *done);
        for (size_t i = 0; done && i < m; i++) {
            if (done[i]) continue;
            printf("kept %s (row %llu):", kept_names && kept_names[i] ? kept_names[i] : "?", (unsigned long long)r.kept_ids[i]);
            for (size_t j = i; j < m; j++) {
                if (done[j] || r.kept_ids[j] != r.kept_ids[i]) continue;
                done[j] = true;
                printf(" %s", dup_names && dup_names[j] ? dup_names[j] : "?");
            }
            printf("\n");
        }
        for (size_t i = 0; i < m; i++) {
            if (dup_names) free(dup_names[i]);
            if (kept_names) free(kept_names[i]);
        }
        free(dup_names);
        free(kept_names);
        free(done);
    }
    fl_dedup_result_free(&r);
    fl_db_close(db);
    return 0;
}
