/*
 * main.c — the framelake command line. Thin by design: it parses arguments, calls include/framelake.h
 * and prints. Exit codes: 0 success, 1 an error reported by the library (one line on stderr), 2 usage.
 */
#include "args.h"
#include "commands.h"
#include "output.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define EXIT_USER 1
#define EXIT_USAGE 2

typedef struct command {
    const char *name;
    const char *usage;
    const char *summary;
    const option_spec *options;
    int min_args, max_args;     /* positional arguments after the command name */
    int (*run)(const args *a);
} command;

static int fail(const fl_error *err) {
    fprintf(stderr, "framelake: error: %s\n", err->message[0] ? err->message : fl_strerror(err->code));
    return EXIT_USER;
}

static int usage_error(const char *fmt, const char *arg) {
    fputs("framelake: ", stderr);
    fprintf(stderr, fmt, arg);
    fputc('\n', stderr);
    return EXIT_USAGE;
}

/* Opens DB (positional 0) and, when name is given, table `name` at --version/--tag. */
static int open_table(const args *a, bool create_db, fl_db **db, fl_table **t, bool versioned) {
    fl_error err = {0};
    *t = NULL;
    *db = NULL;
    fl_open_options oo = {0};
    if (versioned && a->n_positional >= 2) {
        bool has_version;
        if (!args_u64(a, "version", &oo.version, &has_version)) return EXIT_USAGE;
        if (has_version && oo.version == 0) return usage_error("--version must be at least 1%s", "");
        oo.tag = args_get(a, "tag");
        if (oo.tag && has_version) return usage_error("give --version or --tag, not both%s", "");
    }
    if (fl_db_open(a->positional[0], create_db ? FL_OPEN_CREATE : 0, db, &err) != FL_OK) return fail(&err);
    if (a->n_positional < 2) return 0;
    if (fl_table_open(*db, a->positional[1], &oo, t, &err) != FL_OK) {
        /* Callers return at once on failure: nothing stays open. */
        fl_db_close(*db);
        *db = NULL;
        return fail(&err);
    }
    return 0;
}

static void close_all(fl_db *db, fl_table *t) {
    fl_table_close(t);
    fl_db_close(db);
}

bool parse_format(const args *a, output_options *o) {
    const char *f = args_get(a, "format");
    memset(o, 0, sizeof *o);
    o->format = OUTPUT_TABLE;
    if (!f || !strcmp(f, "table")) o->format = OUTPUT_TABLE;
    else if (!strcmp(f, "jsonl") || !strcmp(f, "json")) o->format = OUTPUT_JSONL;
    else if (!strcmp(f, "csv")) o->format = OUTPUT_CSV;
    else {
        usage_error("--format must be table, jsonl or csv, not '%s'", f);
        return false;
    }
    const char *blob = args_get(a, "blob");
    if (blob && strcmp(blob, "base64") && strcmp(blob, "summary")) {
        usage_error("--blob must be base64 or summary, not '%s'", blob);
        return false;
    }
    o->blob_base64 = blob && !strcmp(blob, "base64");
    o->with_row_id = args_flag(a, "with-row-id");
    return true;
}

/* Parses "1,5,9" into a new array. */
static bool parse_ids(const char *text, uint64_t **out, size_t *n) {
    size_t cap = 16, count = 0;
    uint64_t *ids = malloc(cap * sizeof *ids);
    const char *p = text;
    while (ids && *p) {
        char *end;
        errno = 0;
        if (*p < '0' || *p > '9') break;
        unsigned long long v = strtoull(p, &end, 10);
        if (errno) break;
        if (count == cap) {
            uint64_t *grown = realloc(ids, (cap *= 2) * sizeof *ids);
            if (!grown) break;
            ids = grown;
        }
        ids[count++] = v;
        p = end;
        if (*p == ',') p++;
        else if (*p) break;
    }
    if (!ids || *p || count == 0) {
        free(ids);
        return false;
    }
    *out = ids;
    *n = count;
    return true;
}

/* --select a,b into a list (pointing into a copy kept in *storage). */
static int parse_select(const args *a, char **storage, const char **cols, size_t *n) {
    const char *sel = args_get(a, "select");
    *storage = NULL;
    *n = 0;
    if (!sel) return 0;
    *storage = strdup(sel);
    int k = split_list(*storage, cols, ARGS_MAX * 8);
    if (k <= 0) return usage_error("--select needs column names, got '%s'", sel);
    *n = (size_t)k;
    return 0;
}

/* ---- commands ---- */

static int cmd_tables(const args *a) {
    fl_db *db;
    fl_table *t;
    fl_error err = {0};
    int rc = open_table(a, false, &db, &t, false);
    if (rc) return rc;
    char **names;
    size_t n;
    if (fl_db_list_tables(db, &names, &n, &err) != FL_OK) rc = fail(&err);
    else {
        for (size_t i = 0; i < n; i++) puts(names[i]);
        fl_strings_free(names, n);
    }
    fl_db_close(db);
    return rc;
}

static const option_spec create_opts[] = {{"schema", true}, {NULL, false}};
static int cmd_create(const args *a) {
    const char *text = args_get(a, "schema");
    if (!text) return usage_error("create needs --schema \"name type, ...\"%s", "");
    fl_error err = {0};
    fl_schema *s;
    if (fl_schema_parse(text, &s, &err) != FL_OK) return fail(&err);
    fl_db *db;
    int rc = FL_OK;
    if (fl_db_open(a->positional[0], FL_OPEN_CREATE, &db, &err) != FL_OK) rc = fail(&err);
    else {
        if (fl_table_create(db, a->positional[1], s, NULL, &err) != FL_OK) rc = fail(&err);
        else printf("created table '%s' (version 1)\n", a->positional[1]);
        fl_db_close(db);
    }
    fl_schema_free(s);
    return rc;
}

static char *read_all(const char *path, size_t *size, fl_error *err) {
    FILE *f = strcmp(path, "-") ? fopen(path, "rb") : stdin;
    if (!f) {
        snprintf(err->message, sizeof err->message, "cannot open %s: %s", path, strerror(errno));
        err->code = FL_EIO;
        return NULL;
    }
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    size_t got;
    while (buf && (got = fread(buf + n, 1, cap - n, f)) > 0) {
        n += got;
        if (n == cap) {
            char *grown = realloc(buf, cap *= 2);
            if (!grown) {
                free(buf);
                buf = NULL;
            }
            buf = grown;
        }
    }
    if (f != stdin) fclose(f);
    if (!buf) {
        snprintf(err->message, sizeof err->message, "out of memory reading %s", path);
        err->code = FL_ENOMEM;
        return NULL;
    }
    *size = n;
    return buf;
}

static const option_spec append_opts[] = {{"max-rows-per-fragment", true}, {NULL, false}};
static int cmd_append(const args *a) {
    fl_db *db;
    fl_table *t;
    fl_error err = {0};
    uint64_t max_rows = 0;
    if (!args_u64(a, "max-rows-per-fragment", &max_rows, NULL)) return EXIT_USAGE;
    int rc = open_table(a, false, &db, &t, false);
    if (rc) return rc;
    size_t size;
    char *text = read_all(a->positional[2], &size, &err);
    fl_batch *b = NULL;
    if (!text || fl_batch_from_jsonl(fl_table_schema(t), text, size, a->positional[2], &b, &err) != FL_OK) rc = fail(&err);
    else {
        fl_write_options wo = {.max_rows_per_fragment = (int64_t)max_rows};
        if (fl_table_append(t, b, &wo, &err) != FL_OK) rc = fail(&err);
        else printf("appended %lld rows: version %llu, %lld rows\n", (long long)b->num_rows, (unsigned long long)fl_table_version(t),
                    (long long)fl_table_count_rows(t));
    }
    free(text);
    fl_batch_free(b);
    close_all(db, t);
    return rc;
}

static const option_spec versioned_opts[] = {{"version", true}, {"tag", true}, {NULL, false}};
static const option_spec count_opts[] = {{"version", true}, {"tag", true}, {"where", true}, {NULL, false}};
static int cmd_count(const args *a) {
    fl_db *db;
    fl_table *t;
    fl_error err = {0};
    int rc = open_table(a, false, &db, &t, true);
    if (rc) return rc;
    int64_t n;
    if (fl_table_count_where(t, args_get(a, "where"), &n, &err) != FL_OK) rc = fail(&err);
    else printf("%lld\n", (long long)n);
    close_all(db, t);
    return rc;
}

static const option_spec info_opts[] = {{"version", true}, {"tag", true}, {"json", false}, {NULL, false}};
static int cmd_info(const args *a) {
    fl_db *db;
    fl_table *t;
    fl_error err = {0};
    int rc = open_table(a, false, &db, &t, true);
    if (rc) return rc;
    char *json;
    if (args_flag(a, "json")) {
        if (fl_table_info_json(t, &json, &err) != FL_OK) rc = fail(&err);
        else {
            puts(json);
            free(json);
        }
    } else {
        const fl_schema *s = fl_table_schema(t);
        printf("table:    %s\nversion:  %llu\nrows:     %lld\ncolumns:\n", fl_table_name(t), (unsigned long long)fl_table_version(t),
               (long long)fl_table_count_rows(t));
        for (int32_t i = 0; i < s->n_fields; i++) {
            char *type = fl_field_type_format(&s->fields[i]);
            printf("  %-24s %s%s\n", s->fields[i].name, type ? type : "?", s->fields[i].nullable ? "" : " not null");
            free(type);
        }
        fl_table_stats st;
        fl_table_get_stats(t, &st);
        printf("fragments: %lld\ndata files: %lld (%lld bytes)\ndeleted rows: %lld in %lld deletion files\n", (long long)st.fragments,
               (long long)st.data_files, (long long)st.data_bytes, (long long)st.deleted_rows, (long long)st.deletion_files);
    }
    close_all(db, t);
    return rc;
}

static const option_spec take_opts[] = {{"version", true}, {"tag", true}, {"select", true}, {"row-ids", true}, {"positions", true},
                                        {"format", true},  {"blob", true}, {NULL, false}};
static int cmd_take(const args *a) {
    output_options o;
    if (!parse_format(a, &o)) return EXIT_USAGE;
    o.with_row_id = true;
    const char *ids_text = args_get(a, "row-ids"), *pos_text = args_get(a, "positions");
    if (!ids_text == !pos_text) return usage_error("take needs exactly one of --row-ids or --positions%s", "");
    uint64_t *ids;
    size_t n;
    if (!parse_ids(ids_text ? ids_text : pos_text, &ids, &n)) return usage_error("expected comma-separated integers, got '%s'", ids_text ? ids_text : pos_text);
    char *storage;
    const char *cols[ARGS_MAX * 8];
    size_t n_cols;
    int rc = parse_select(a, &storage, cols, &n_cols);
    fl_db *db = NULL;
    fl_table *t = NULL;
    fl_error err = {0};
    if (!rc) rc = open_table(a, false, &db, &t, true);
    if (!rc) {
        fl_batch *b;
        int got = ids_text ? fl_table_take(t, ids, n, storage ? cols : NULL, n_cols, &b, &err)
                           : fl_table_take_positions(t, ids, n, storage ? cols : NULL, n_cols, &b, &err);
        if (got != FL_OK) rc = fail(&err);
        else {
            output *out = output_new(stdout, &o);
            output_batch(out, b);
            output_finish(out);
            fl_batch_free(b);
        }
    }
    free(ids);
    free(storage);
    close_all(db, t);
    return rc;
}

static const option_spec delete_opts[] = {{"row-ids", true}, {"where", true}, {NULL, false}};
static int cmd_delete(const args *a) {
    const char *text = args_get(a, "row-ids"), *where = args_get(a, "where");
    uint64_t *ids = NULL;
    size_t n = 0;
    if (!text == !where) return usage_error("delete needs exactly one of --where SQL or --row-ids 1,2,3%s", "");
    if (text && !parse_ids(text, &ids, &n)) return usage_error("expected comma-separated integers, got '%s'", text);
    fl_db *db;
    fl_table *t;
    fl_error err = {0};
    int rc = open_table(a, false, &db, &t, false);
    if (!rc) {
        int64_t deleted = (int64_t)n;
        int lib = where ? fl_table_delete_where(t, where, &deleted, &err) : fl_table_delete_rows(t, ids, n, &err);
        if (lib != FL_OK) rc = fail(&err);
        else printf("deleted %lld rows: version %llu, %lld rows\n", (long long)deleted, (unsigned long long)fl_table_version(t),
                    (long long)fl_table_count_rows(t));
    }
    free(ids);
    close_all(db, t);
    return rc;
}

static const option_spec update_opts[] = {{"set", true}, {"where", true}, {NULL, false}};
static int cmd_update(const args *a) {
    const char *set = args_get(a, "set");
    if (!set) return usage_error("update needs --set \"col = expr, ...\"%s", "");
    fl_db *db;
    fl_table *t;
    fl_error err = {0};
    int rc = open_table(a, false, &db, &t, false);
    if (rc) return rc;
    int64_t n;
    if (fl_table_update_where(t, set, args_get(a, "where"), &n, &err) != FL_OK) rc = fail(&err);
    else printf("updated %lld rows: version %llu\n", (long long)n, (unsigned long long)fl_table_version(t));
    close_all(db, t);
    return rc;
}

static const option_spec format_opts[] = {{"format", true}, {NULL, false}};
static int cmd_versions(const args *a) {
    output_options o;
    if (!parse_format(a, &o)) return EXIT_USAGE;
    fl_db *db;
    fl_table *t;
    fl_error err = {0};
    int rc = open_table(a, false, &db, &t, false);
    if (rc) return rc;
    fl_version_info *v;
    size_t n;
    fl_tag_info *tags = NULL;
    size_t n_tags = 0;
    if (fl_table_list_versions(t, &v, &n, &err) != FL_OK || fl_table_list_tags(t, &tags, &n_tags, &err) != FL_OK) {
        close_all(db, t);
        return fail(&err);
    }
    if (o.format == OUTPUT_TABLE) printf("%-8s %-24s %-14s %-12s %-10s %s\n", "version", "timestamp", "operation", "rows", "tags", "detail");
    if (o.format == OUTPUT_CSV) puts("version,timestamp_ms,operation,rows,tags,detail");
    for (size_t i = 0; i < n; i++) {
        char when[32], tagbuf[128] = "";
        time_t secs = (time_t)(v[i].timestamp_ms / 1000);
        struct tm tm;
        gmtime_r(&secs, &tm);
        strftime(when, sizeof when, "%Y-%m-%d %H:%M:%SZ", &tm);
        for (size_t k = 0; k < n_tags; k++)
            if (tags[k].version == v[i].version)
                snprintf(tagbuf + strlen(tagbuf), sizeof tagbuf - strlen(tagbuf), "%s%s", tagbuf[0] ? "," : "", tags[k].name);
        if (o.format == OUTPUT_JSONL) {
            printf("{\"version\":%llu,\"timestamp_ms\":%lld,\"operation\":\"%s\",\"rows\":%lld,\"tags\":[", (unsigned long long)v[i].version,
                   (long long)v[i].timestamp_ms, v[i].operation, (long long)v[i].num_rows);
            int first = 1;
            for (size_t k = 0; k < n_tags; k++)
                if (tags[k].version == v[i].version) printf("%s\"%s\"", first ? "" : ",", tags[k].name), first = 0;
            printf("],\"detail\":\"");
            for (const char *p = v[i].detail; *p; p++) printf(*p == '"' || *p == '\\' ? "\\%c" : "%c", *p);
            printf("\"}\n");
        } else if (o.format == OUTPUT_CSV) {
            printf("%llu,%lld,%s,%lld,%s,\"%s\"\n", (unsigned long long)v[i].version, (long long)v[i].timestamp_ms, v[i].operation,
                   (long long)v[i].num_rows, tagbuf, v[i].detail);
        } else {
            printf("%-8llu %-24s %-14s %-12lld %-10s %s\n", (unsigned long long)v[i].version, when, v[i].operation, (long long)v[i].num_rows,
                   tagbuf, v[i].detail);
        }
    }
    free(v);
    fl_tags_free(tags, n_tags);
    close_all(db, t);
    return 0;
}

static const option_spec tag_opts[] = {{"delete", false}, {"list", false}, {NULL, false}};
static int cmd_tag(const args *a) {
    fl_db *db;
    fl_table *t;
    fl_error err = {0};
    bool list = args_flag(a, "list"), del = args_flag(a, "delete");
    if (!list && a->n_positional < 3) return usage_error("tag needs a NAME (or --list)%s", "");
    uint64_t version = 0;
    if (a->n_positional == 4) {
        char *end;
        version = strtoull(a->positional[3], &end, 10);
        if (*end || !version) return usage_error("VERSION must be a positive integer, got '%s'", a->positional[3]);
    }
    int rc = open_table(a, false, &db, &t, false);
    if (rc) return rc;
    if (list) {
        fl_tag_info *tags;
        size_t n;
        if (fl_table_list_tags(t, &tags, &n, &err) != FL_OK) rc = fail(&err);
        else {
            for (size_t i = 0; i < n; i++) printf("%s\t%llu\n", tags[i].name, (unsigned long long)tags[i].version);
            fl_tags_free(tags, n);
        }
    } else if (del) {
        if (fl_table_untag(t, a->positional[2], &err) != FL_OK) rc = fail(&err);
        else printf("deleted tag '%s'\n", a->positional[2]);
    } else {
        if (!version) version = fl_table_version(t);
        if (fl_table_tag(t, a->positional[2], version, &err) != FL_OK) rc = fail(&err);
        else printf("tagged version %llu as '%s'\n", (unsigned long long)version, a->positional[2]);
    }
    close_all(db, t);
    return rc;
}

static int cmd_restore(const args *a) {
    char *end;
    uint64_t version = strtoull(a->positional[2], &end, 10);
    if (*end || !version) return usage_error("VERSION must be a positive integer, got '%s'", a->positional[2]);
    fl_db *db;
    fl_table *t;
    fl_error err = {0};
    int rc = open_table(a, false, &db, &t, false);
    if (rc) return rc;
    if (fl_table_restore(t, version, &err) != FL_OK) rc = fail(&err);
    else printf("restored version %llu as version %llu (%lld rows)\n", (unsigned long long)version, (unsigned long long)fl_table_version(t),
                (long long)fl_table_count_rows(t));
    close_all(db, t);
    return rc;
}

static const option_spec compact_opts[] = {{"target-rows", true}, {NULL, false}};
static int cmd_compact(const args *a) {
    uint64_t target = 0;
    if (!args_u64(a, "target-rows", &target, NULL)) return EXIT_USAGE;
    fl_db *db;
    fl_table *t;
    fl_error err = {0};
    int rc = open_table(a, false, &db, &t, false);
    if (rc) return rc;
    fl_compact_options co = {.target_rows_per_fragment = (int64_t)target};
    fl_compact_stats st;
    if (fl_table_compact(t, &co, &st, &err) != FL_OK) rc = fail(&err);
    else if (st.fragments_added == 0) puts("nothing to compact");
    else printf("compacted %lld fragments into %lld (%lld rows rewritten, %lld deleted rows dropped): version %llu\n",
                (long long)st.fragments_removed, (long long)st.fragments_added, (long long)st.rows_rewritten, (long long)st.deleted_rows_dropped,
                (unsigned long long)fl_table_version(t));
    close_all(db, t);
    return rc;
}

static const option_spec cleanup_opts[] = {{"keep-versions", true}, {"older-than", true}, {"grace", true}, {NULL, false}};
static int cmd_cleanup(const args *a) {
    fl_cleanup_options co = {.older_than_ms = -1, .grace_ms = -1};
    uint64_t keep = 0;
    bool has_keep;
    if (!args_u64(a, "keep-versions", &keep, &has_keep)) return EXIT_USAGE;
    co.keep_versions = (int64_t)keep;
    const char *older = args_get(a, "older-than"), *grace = args_get(a, "grace");
    if (older && !parse_duration_ms(older, &co.older_than_ms)) return usage_error("--older-than expects a duration like 7d, 12h, 30m, 45s, got '%s'", older);
    if (grace && !parse_duration_ms(grace, &co.grace_ms)) return usage_error("--grace expects a duration like 1h, 10m, 0s, got '%s'", grace);
    if (!older && !has_keep) co.older_than_ms = 7 * 86400000LL; /* default: keep a week of history */
    fl_db *db;
    fl_table *t;
    fl_error err = {0};
    int rc = open_table(a, false, &db, &t, false);
    if (rc) return rc;
    fl_cleanup_stats st;
    if (fl_table_cleanup(t, &co, &st, &err) != FL_OK) rc = fail(&err);
    else printf("removed %lld versions and %lld files (%lld bytes)\n", (long long)st.versions_removed, (long long)st.files_removed,
                (long long)st.bytes_removed);
    close_all(db, t);
    return rc;
}

static int cmd_drop_column(const args *a) {
    char *copy = strdup(a->positional[2]);
    const char *names[ARGS_MAX * 8];
    int n = split_list(copy, names, ARGS_MAX * 8);
    if (n <= 0) {
        free(copy);
        return usage_error("drop-column needs column names, got '%s'", a->positional[2]);
    }
    for (int i = 3; i < a->n_positional && n < ARGS_MAX * 8; i++) names[n++] = a->positional[i];
    fl_db *db;
    fl_table *t;
    fl_error err = {0};
    int rc = open_table(a, false, &db, &t, false);
    if (!rc) {
        if (fl_table_drop_columns(t, names, (size_t)n, &err) != FL_OK) rc = fail(&err);
        else printf("dropped %d column%s: version %llu\n", n, n == 1 ? "" : "s", (unsigned long long)fl_table_version(t));
    }
    free(copy);
    close_all(db, t);
    return rc;
}

static int cmd_rename_column(const args *a) {
    fl_db *db;
    fl_table *t;
    fl_error err = {0};
    int rc = open_table(a, false, &db, &t, false);
    if (rc) return rc;
    if (fl_table_rename_column(t, a->positional[2], a->positional[3], &err) != FL_OK) rc = fail(&err);
    else printf("renamed '%s' to '%s': version %llu\n", a->positional[2], a->positional[3], (unsigned long long)fl_table_version(t));
    close_all(db, t);
    return rc;
}

/* add-column NAME --expr SQL: a computed column, values for every row in one commit. */
static int add_expr_column(const args *a, const char *expr) {
    fl_db *db;
    fl_table *t;
    fl_error err = {0};
    int rc = open_table(a, false, &db, &t, false);
    if (rc) return rc;
    if (fl_table_add_expr_column(t, a->positional[2], expr, &err) != FL_OK) rc = fail(&err);
    else {
        const fl_schema *s = fl_table_schema(t);
        char *type = fl_field_type_format(&s->fields[fl_schema_find(s, a->positional[2])]);
        printf("added column '%s' %s = %s: version %llu, %lld rows\n", a->positional[2], type ? type : "?", expr,
               (unsigned long long)fl_table_version(t), (long long)fl_table_count_rows(t));
        free(type);
    }
    close_all(db, t);
    return rc;
}

static const option_spec add_column_opts[] = {{"type", true},    {"expr", true},  {"udf", true},   {"inputs", true},
                                              {"param", true},   {"timeout", true}, {"where", true}, {NULL, false}};
static int cmd_add_column(const args *a) {
    const char *type = args_get(a, "type"), *expr = args_get(a, "expr"), *udf = args_get(a, "udf");
    if (!udf && (args_get(a, "inputs") || args_get(a, "param") || args_get(a, "timeout") || args_get(a, "where")))
        return usage_error("add-column: --inputs, --param, --timeout and --where go with --udf%s", "");
    if (udf && expr) return usage_error("add-column needs one of --type T, --expr SQL or --udf SPEC%s", "");
    if (udf) return cmd_add_udf_column(a);
    if (!type == !expr) return usage_error("add-column needs exactly one of --type T, --expr SQL or --udf SPEC%s", "");
    if (expr) return add_expr_column(a, expr);
    char *text = malloc(strlen(a->positional[2]) + strlen(type) + 8);
    sprintf(text, "\"%s\" %s", a->positional[2], type);
    fl_error err = {0};
    fl_schema *s;
    if (fl_schema_parse(text, &s, &err) != FL_OK) {
        free(text);
        return fail(&err);
    }
    free(text);
    fl_db *db;
    fl_table *t;
    int rc = open_table(a, false, &db, &t, false);
    if (!rc) {
        if (fl_table_add_columns(t, s, NULL, &err) != FL_OK) rc = fail(&err);
        else printf("added column '%s' %s: version %llu\n", a->positional[2], type, (unsigned long long)fl_table_version(t));
    }
    fl_schema_free(s);
    close_all(db, t);
    return rc;
}

static int cmd_schema(const args *a) {
    fl_db *db;
    fl_table *t;
    int rc = open_table(a, false, &db, &t, true);
    if (rc) return rc;
    char *text = fl_schema_format(fl_table_schema(t));
    puts(text ? text : "");
    free(text);
    close_all(db, t);
    return 0;
}

static int cmd_drop_table(const args *a) {
    fl_db *db;
    fl_error err = {0};
    if (fl_db_open(a->positional[0], 0, &db, &err) != FL_OK) return fail(&err);
    int rc = 0;
    if (fl_table_drop(db, a->positional[1], &err) != FL_OK) rc = fail(&err);
    else printf("dropped table '%s'\n", a->positional[1]);
    fl_db_close(db);
    return rc;
}

static int cmd_help(const args *a);
static int cmd_version(const args *a) {
    (void)a;
    printf("framelake %s\n", fl_version());
    return 0;
}

static const command commands[] = {
    {"tables", "framelake tables DB", "list the tables of a database", NULL, 1, 1, cmd_tables},
    {"create", "framelake create DB TABLE --schema \"name type [not null], ...\"", "create a table (version 1)", create_opts, 2, 2, cmd_create},
    {"append", "framelake append DB TABLE FILE.jsonl|- [--max-rows-per-fragment N]", "append JSON Lines rows (one commit)", append_opts, 3, 3,
     cmd_append},
    {"import", "framelake import DB TABLE FILE.jsonl|- [--schema FILE] [--ignore-unknown] [--commit-every N] [--dry-run]",
     "import JSON Lines, inferring the schema ({\"$file\": path} loads a file)", import_opts, 3, 3, cmd_import},
    {"info", "framelake info DB TABLE [--version N|--tag T] [--json]", "schema, fragments, files and sizes", info_opts, 2, 2, cmd_info},
    {"schema", "framelake schema DB TABLE [--version N|--tag T]", "print the schema in the syntax create accepts", versioned_opts, 2, 2, cmd_schema},
    {"count", "framelake count DB TABLE [--where SQL] [--version N|--tag T]", "print the number of rows (matching SQL)", count_opts, 2, 2, cmd_count},
    {"query",
     "framelake query DB TABLE [--select a,b] [--where SQL] [--order-by \"col [DESC], ...\"] [--limit N] [--offset N] [--version N|--tag T] "
     "[--format table|jsonl|csv] [--with-row-id] [--blob base64]",
     "print rows (filtered, ordered)", query_opts, 2, 2, cmd_query},
    {"sql", "framelake sql DB \"SELECT ...\"|- [--format table|jsonl|csv] [--version N|--tag T] [--blob base64]",
     "run a SELECT statement (docs/SQL.md; - reads it from stdin)", sql_opts, 2, 2, cmd_sql},
    {"explain", "framelake explain DB \"SELECT ...\"|- [--analyze] [--version N|--tag T]", "print the plan of a SELECT (--analyze: run it, with counters)",
     explain_opts, 2, 2, cmd_explain},
    {"take", "framelake take DB TABLE (--row-ids 1,5,9 | --positions 0,1) [--select a,b] [--version N|--tag T] [--format F] [--blob base64]",
     "print rows by stable row id or position", take_opts, 2, 2, cmd_take},
    {"update", "framelake update DB TABLE --set \"col = expr, ...\" [--where SQL]", "set columns on the rows matching SQL (one commit, row ids kept)",
     update_opts, 2, 2, cmd_update},
    {"delete", "framelake delete DB TABLE --where SQL | --row-ids 1,5,9", "delete the rows matching SQL, or by stable row id", delete_opts, 2, 2, cmd_delete},
    {"versions", "framelake versions DB TABLE [--format table|jsonl|csv]", "list versions with time, operation and rows", format_opts, 2, 2,
     cmd_versions},
    {"tag", "framelake tag DB TABLE NAME [VERSION] | --delete NAME | --list", "name a version (default: the latest)", tag_opts, 2, 4, cmd_tag},
    {"restore", "framelake restore DB TABLE VERSION", "make a new version equal to an old one", NULL, 3, 3, cmd_restore},
    {"compact", "framelake compact DB TABLE [--target-rows N]", "merge small fragments and drop deleted rows", compact_opts, 2, 2, cmd_compact},
    {"cleanup", "framelake cleanup DB TABLE [--keep-versions N] [--older-than 7d] [--grace 1h]",
     "delete old versions (not tagged, not latest) and unreferenced files", cleanup_opts, 2, 2, cmd_cleanup},
    {"add-column",
     "framelake add-column DB TABLE NAME (--type T | --expr SQL | --udf SPEC [--inputs a,b] [--type T] [--param k=v]... [--where SQL])",
     "add a nullable column (no data rewritten), one computed from a SQL expression, or a UDF column (values by backfill)", add_column_opts, 3,
     3, cmd_add_column},
    {"drop-column", "framelake drop-column DB TABLE NAME[,NAME...]", "remove columns (metadata only)", NULL, 3, 8, cmd_drop_column},
    {"rename-column", "framelake rename-column DB TABLE FROM TO", "rename a column (metadata only)", NULL, 4, 4, cmd_rename_column},
    {"ingest",
     "framelake ingest images DB TABLE DIR [--recursive] [--split S] | bdd100k DB --root DIR [--splits train,val,test] [--limit N] | "
     "synthetic DB --n N [--seed S] [--split train|val|mixed] [--size WxH]; all: [--table T] [--mode skip-existing|append|overwrite] "
     "[--strict] [--commit-every N] [--threads N] [--quiet]",
     "ingest footage: a JPEG folder, BDD100K (folders or zips) or synthetic frames (idempotent)", ingest_opts, 1, 4, cmd_ingest},
    {"synthesize", "framelake synthesize DIR --n N [--seed S] [--split train|val|mixed] [--size WxH] [--first I] [--threads N]",
     "write synthetic footage as a BDD100K folder (images + det_20 labels)", synthesize_opts, 1, 1, cmd_synthesize},
    {"backfill",
     "framelake backfill DB TABLE (COLUMN [--udf SPEC] | --all) [--where SQL] [--concurrency N] [--checkpoint-size N] [--overwrite] "
     "[--on-error fail|null] [--timeout 60s] [--quiet]",
     "compute UDF columns for the rows that lack them (parallel, checkpointed, resumable)", backfill_opts, 2, 3, cmd_backfill},
    {"search",
     "framelake search vector DB TABLE --column C (--vector \"[...]\" | --vector-file F | --like-row ROWID) [--metric l2|cosine|dot|hamming] "
     "[--where SQL] [--prefilter|--postfilter] [--nprobes 20] [--refine-factor R] [--exact] [--limit 10] [--select cols] "
     "[--distance-range LO,HI] [--format table|jsonl|csv] | framelake search fts DB TABLE \"QUERY\" [--column C] "
     "[--where SQL] [--limit 10] [--select cols] [--k1 1.2] [--b 0.75] [--format table|jsonl|csv] | framelake search hybrid DB TABLE --text "
     "\"QUERY\" --column C (--vector \"[...]\" | --like-row ROWID) [--text-column T] [--metric M] [--where SQL] [--rerank rrf|linear] "
     "[--weight 0.7] [--candidates N] [--limit 10] [--select cols] [--format table|jsonl|csv]",
     "nearest neighbours of a vector or of a row's value (image to image), BM25 full-text search, or both fused; all prefiltered by SQL",
     search_opts, 3, 4, cmd_search},
    {"dedup", "framelake dedup DB TABLE [--column dhash] [--threshold 10] [--report] | dedup inject DB TABLE --n N [--seed S]",
     "near-duplicate frames by dhash (a smaller row id within the threshold keeps its frame), or inject exact copies to validate", dedup_opts,
     2, 3, cmd_dedup},
    {"udf", "framelake udf list | framelake udf columns DB TABLE", "list the built-in UDFs, or a table's UDF columns and their definitions", NULL,
     1, 3, cmd_udf},
    {"index", INDEX_USAGE, "create, extend, list or drop indexes (btree, bitmap, label_list, fts, ivf_pq, ivf_flat, hamming)", index_opts, 3, 4,
     cmd_index},
    {"view", VIEW_USAGE, "materialized views: a query on a table kept up to date by incremental refresh", view_opts, 2, 3, cmd_view},
    {"permutation", PERMUTATION_USAGE, "ordered, split row lists of a table or view for training (seeded, reproducible)", permutation_opts, 2, 3,
     cmd_permutation},
    {"drop-table", "framelake drop-table DB TABLE", "delete a table and all its versions", NULL, 2, 2, cmd_drop_table},
    {"help", "framelake help [COMMAND]", "show help", NULL, 0, 1, cmd_help},
    {"version", "framelake --version", "print the version", NULL, 0, 0, cmd_version},
};
#define N_COMMANDS (sizeof commands / sizeof commands[0])

static const command *find_command(const char *name) {
    for (size_t i = 0; i < N_COMMANDS; i++)
        if (!strcmp(commands[i].name, name)) return &commands[i];
    return NULL;
}

static void print_overview(FILE *f) {
    fprintf(f, "framelake %s: an embedded multimodal lakehouse for ML data curation\n\nusage: framelake COMMAND DB [ARGS...]\n\ncommands:\n",
            fl_version());
    for (size_t i = 0; i < N_COMMANDS; i++) fprintf(f, "  %-14s %s\n", commands[i].name, commands[i].summary);
    fprintf(f, "\n'framelake help COMMAND' shows a command's arguments. Exit codes: 0 ok, 1 error, 2 usage.\n");
}

static int cmd_help(const args *a) {
    if (a->n_positional == 0) {
        print_overview(stdout);
        return 0;
    }
    const command *c = find_command(a->positional[0]);
    if (!c) return usage_error("no command '%s' (see 'framelake help')", a->positional[0]);
    printf("%s\n\n  %s\n", c->usage, c->summary);
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        print_overview(stderr);
        return EXIT_USAGE;
    }
    if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "-V")) return cmd_version(NULL);
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        print_overview(stdout);
        return 0;
    }
    const command *c = find_command(argv[1]);
    if (!c) return usage_error("no command '%s' (see 'framelake help')", argv[1]);
    args a;
    if (!args_parse(argc - 2, argv + 2, c->options, &a, c->name)) return EXIT_USAGE;
    if (a.n_positional < c->min_args || a.n_positional > c->max_args) {
        fprintf(stderr, "framelake %s: expected %d%s argument%s\nusage: %s\n", c->name, c->min_args,
                c->max_args > c->min_args ? " or more" : "", c->min_args == 1 ? "" : "s", c->usage);
        return EXIT_USAGE;
    }
    return c->run(&a);
}
