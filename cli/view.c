/*
 * view.c — `framelake view create|refresh|list|show`: materialized views (include/framelake.h,
 * "Materialized views"; docs/VIEWS.md).
 */
#include "commands.h"

#include "framelake.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const option_spec view_opts[] = {{"from", true}, {"where", true}, {"select", true}, {"all", false}, {"full", false},
                                 {"source-version", true}, {"format", true}, {NULL, false}};

static int fail(const fl_error *err) {
    fprintf(stderr, "framelake: error: %s\n", err->message[0] ? err->message : fl_strerror(err->code));
    return 1;
}

static int usage(const char *msg) {
    fprintf(stderr, "framelake view: %s\nusage: %s\n", msg, VIEW_USAGE);
    return 2;
}

/* "bdd100k_rider_train: +115 −3 rows (7 updated), 3590 → 3702, version 2 (source v17)" */
static void print_report(const char *name, const fl_view_report *r) {
    if (!r->changed) {
        printf("%s: up to date with source v%llu (version %llu, %lld rows)\n", name, (unsigned long long)r->source_version,
               (unsigned long long)r->version, (long long)r->rows_after);
        return;
    }
    printf("%s: %s+%lld \u2212%lld rows (%lld updated), %lld \u2192 %lld, version %llu (source v%llu", name, r->full ? "rebuilt: " : "",
           (long long)r->added, (long long)r->removed, (long long)r->updated, (long long)r->rows_before, (long long)r->rows_after,
           (unsigned long long)r->version, (unsigned long long)r->source_version);
    if (r->source_version_before) printf(", was v%llu", (unsigned long long)r->source_version_before);
    printf("); read %lld source rows in %.3f s", (long long)r->rows_read, r->seconds);
    if (r->attempts > 1) printf(" after %d attempts", r->attempts);
    putchar('\n');
}

static void on_view(void *ctx, const char *name, const fl_view_report *report, const fl_error *err) {
    (void)ctx;
    if (report) print_report(name, report);
    else fprintf(stderr, "framelake: error: %s: %s\n", name, err->message[0] ? err->message : fl_strerror(err->code));
    fflush(stdout);
}

/* The views as a batch, printed like query results. */
static int print_views(const fl_view_info *v, size_t n, const output_options *o) {
    fl_schema *s;
    fl_error err = {0};
    if (fl_schema_parse("name string, source string, rows int64, version uint64, source_version uint64, source_latest uint64, "
                        "stale bool, where string, select string",
                        &s, &err) != FL_OK)
        return fail(&err);
    fl_batch *b = fl_batch_new(s);
    fl_schema_free(s);
    if (!b) return fail(&(fl_error){FL_ENOMEM, "out of memory"});
    for (size_t i = 0; i < n; i++) {
        fl_array *c = b->columns;
        fl_array_append_string(&c[0], v[i].name);
        fl_array_append_string(&c[1], v[i].source);
        fl_array_append_int(&c[2], v[i].rows);
        fl_array_append_uint(&c[3], v[i].version);
        fl_array_append_uint(&c[4], v[i].source_version);
        fl_array_append_uint(&c[5], v[i].source_latest);
        fl_array_append_bool(&c[6], v[i].stale);
        fl_array_append_string(&c[7], v[i].where);
        fl_array_append_string(&c[8], v[i].select);
    }
    if (fl_batch_finish(b, &err) != FL_OK) {
        fl_batch_free(b);
        return fail(&err);
    }
    output *out = output_new(stdout, o);
    if (n) output_batch(out, b);
    output_finish(out);
    fl_batch_free(b);
    return 0;
}

static void show_view(const fl_view_info *v) {
    printf("view:           %s\n", v->name);
    printf("source:         %s\n", v->source);
    printf("where:          %s\n", v->where[0] ? v->where : "(every row)");
    printf("select:         %s\n", v->select);
    printf("rows:           %lld\n", (long long)v->rows);
    printf("version:        %llu\n", (unsigned long long)v->version);
    printf("source version: %llu%s\n", (unsigned long long)v->source_version, v->source_version ? "" : " (never built)");
    if (v->source_latest) printf("source latest:  %llu%s\n", (unsigned long long)v->source_latest, v->stale ? " (stale: run view refresh)" : "");
    else printf("source latest:  (source table missing)\n");
}

int cmd_view(const args *a) {
    const char *sub = a->positional[0];
    bool create = !strcmp(sub, "create"), refresh = !strcmp(sub, "refresh"), list = !strcmp(sub, "list"), show = !strcmp(sub, "show");
    if (!create && !refresh && !list && !show) {
        fprintf(stderr, "framelake view: unknown subcommand '%s' (available: create, refresh, list, show)\n", sub);
        return 2;
    }
    bool all = args_flag(a, "all"), full = args_flag(a, "full");
    const char *from = args_get(a, "from"), *where = args_get(a, "where"), *select = args_get(a, "select");
    uint64_t source_version = 0;
    bool has_sv = false;
    if (!args_u64(a, "source-version", &source_version, &has_sv)) return 2;
    if (create && (a->n_positional != 3 || !from)) return usage("create needs DB NAME --from SOURCE");
    if (!create && (from || where || select)) return usage("--from, --where and --select go with create");
    if (refresh && (all ? a->n_positional != 2 : a->n_positional != 3)) return usage("refresh needs DB NAME, or DB --all");
    if (!refresh && (all || full || has_sv)) return usage("--all, --full and --source-version go with refresh");
    if (all && has_sv) return usage("--source-version names a version of one view's source; it does not go with --all");
    if (has_sv && source_version == 0) return usage("--source-version must be at least 1");
    if (list && a->n_positional != 2) return usage("list needs DB");
    if (show && a->n_positional != 3) return usage("show needs DB NAME");
    output_options o = {0};
    if (!parse_format(a, &o)) return 2;
    if (args_get(a, "format") && !list) return usage("--format goes with list");
    fl_error err = {0};
    fl_db *db;
    if (fl_db_open(a->positional[1], 0, &db, &err) != FL_OK) return fail(&err);
    int rc = 0;
    fl_view_refresh_options ro = {.full = full, .source_version = source_version};
    fl_view_report rep;
    if (create) {
        if (fl_view_create(db, a->positional[2], from, where, select, &rep, &err) != FL_OK) rc = fail(&err);
        else print_report(a->positional[2], &rep);
    } else if (refresh && all) {
        if (fl_view_refresh_all(db, &ro, on_view, NULL, &err) != FL_OK) rc = 1;
    } else if (refresh) {
        if (fl_view_refresh(db, a->positional[2], &ro, &rep, &err) != FL_OK) rc = fail(&err);
        else print_report(a->positional[2], &rep);
    } else if (list) {
        fl_view_info *v;
        size_t n;
        if (fl_view_list(db, &v, &n, &err) != FL_OK) rc = fail(&err);
        else {
            rc = print_views(v, n, &o);
            fl_view_info_free(v, n);
        }
    } else {
        fl_view_info *v;
        if (fl_view_get(db, a->positional[2], &v, &err) != FL_OK) rc = fail(&err);
        else {
            show_view(v);
            fl_view_info_free(v, 1);
        }
    }
    fl_db_close(db);
    return rc;
}
